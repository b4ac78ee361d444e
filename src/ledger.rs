//! The ledger: creating it, appending signed statements, replaying and verifying it.
//!
//! Appending and verifying share one set of rules ([`check_rules`]) applied to one registry
//! interface ([`Registry`]): the append path reads the store's derived tables, the verify path
//! rebuilds them in memory from the entries alone and then compares them with the store.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::bundle::{Bundle, Consistency, ConsistencyProof, Included};
use crate::checkpoint::{Checkpoint, CheckpointError, LedgerKey, SignedCheckpoint, VerifierKey};
use crate::entry::{Entry, EntryError, GENESIS_PREV};
use crate::keys::PublicKey;
use crate::norms::Catalogue;
use crate::proof::{self, Frontier, Hash};
use crate::statement::{Body, Kind, Statement, StatementError, StatementId};
use crate::store::{DerivedRow, KeyRecord, ReadTables, Store, StoreError, WriteTables};
use crate::time::Seconds;

/// How far a statement's issued-at time may lie after the time it is logged (clock skew).
pub const MAX_FUTURE_SKEW: Seconds = 600;
/// Entries checked per parallel batch by [`Ledger::verify`].
pub const VERIFY_BATCH: usize = 4_096;

/// Why a statement is refused (at append) or an entry is invalid (at verify).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The statement does not decode or is out of bounds.
    #[error("{0}")]
    Statement(#[from] StatementError),
    /// Made for another ledger.
    #[error("statement is for ledger {found:?}, not this ledger ({expected:?})")]
    WrongOrigin {
        /// This ledger's origin.
        expected: String,
        /// The statement's.
        found: String,
    },
    /// Already in the ledger.
    #[error("statement is already in the ledger at entry {index}")]
    Duplicate {
        /// Where it is.
        index: u64,
    },
    /// The same statement twice in one batch.
    #[error("the same statement is given twice")]
    DuplicateInBatch,
    /// The organisation name is registered already.
    #[error("organisation {org:?} is already registered (entry {index}); names are compared after NFC normalisation and case folding")]
    NameTaken {
        /// Normalised name.
        org: String,
        /// Its registration entry.
        index: u64,
    },
    /// The key is registered to an organisation already.
    #[error("this key is already registered to {org:?}; each key speaks for one organisation")]
    KeyInUse {
        /// The organisation.
        org: String,
    },
    /// Signed by a key no registration binds.
    #[error("signed by key {kid}, which no registration in this ledger binds to an organisation (register first with `accord register`)")]
    UnregisteredKey {
        /// Hex key id.
        kid: String,
    },
    /// `iss` is not the organisation the key is registered to.
    #[error("statement claims to speak for {iss:?}, but its key is registered to {org:?}")]
    IssuerMismatch {
        /// The claimed issuer.
        iss: String,
        /// The key's organisation.
        org: String,
    },
    /// Catalogue version not known to this accord.
    #[error("norms catalogue version {0} is unknown to this accord")]
    UnknownCatalogue(u64),
    /// Norm not in the catalogue.
    #[error("norm {0:?} is not in the catalogue")]
    UnknownNorm(String),
    /// The signed hash of a norm's text is not the catalogue's.
    #[error("norm {0:?}: the signed text hash differs from the catalogue's")]
    NormTextMismatch(String),
    /// A withdrawal of a statement that is not in the ledger.
    #[error("no entry has statement id {0}")]
    NoSuchStatement(String),
    /// A withdrawal or supersede of something other than a live attestation.
    #[error("entry {index} is not an attestation that can be {what} ({why})")]
    NotWithdrawable {
        /// The target entry.
        index: u64,
        /// Why not.
        why: &'static str,
        /// "withdrawn" or "superseded".
        what: &'static str,
    },
    /// A withdrawal or supersede of another organisation's attestation.
    #[error("entry {index} belongs to {owner:?}; an organisation may withdraw or supersede only its own attestations")]
    OtherOrganisation {
        /// The target entry.
        index: u64,
        /// Its organisation.
        owner: String,
    },
    /// An acceptance appended on its own.
    #[error("an acceptance is only valid nested inside a rotation")]
    NestedOnly,
    /// A statement by a key that no longer speaks for the organisation.
    #[error("signed by key {kid}, which stopped speaking for the organisation at entry {index} (rotated away, revoked or recovered)")]
    KeyEnded {
        /// Hex key id.
        kid: String,
        /// The entry that ended it.
        index: u64,
    },
    /// A recovery for an organisation that is not registered.
    #[error("organisation {0:?} is not registered")]
    UnknownOrg(String),
    /// A recovery for an organisation that committed to no recovery key.
    #[error("{0:?} registered without a recovery key; it cannot be recovered (register with --recovery-key next time)")]
    NoRecoveryKey(String),
    /// A recovery key that does not match the commitment.
    #[error("the recovery key does not match the one the organisation committed to")]
    RecoveryKeyMismatch,
    /// A recovery key used before.
    #[error("this recovery key was already used; a recovery key works once")]
    RecoveryKeyUsed,
    /// A revocation of a key that does not exist.
    #[error("no key {0} is registered")]
    NoSuchKey(String),
    /// A revocation of another organisation's key.
    #[error("key {kid} belongs to {org:?}")]
    KeyOfAnotherOrg {
        /// Hex key id.
        kid: String,
        /// Its organisation.
        org: String,
    },
    /// A revocation of a newer key by an older one.
    #[error("a key may revoke itself or an older key of its organisation, not a newer one")]
    RevokeNewer,
    /// Issued more than [`MAX_FUTURE_SKEW`] after it was logged.
    #[error("issued at {iat}, after it was logged ({logged})")]
    IssuedInFuture {
        /// RFC 3339.
        iat: String,
        /// RFC 3339.
        logged: String,
    },
}

/// Where verification found a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An entry, by index.
    Entry(u64),
    /// A signed checkpoint, by tree size.
    Checkpoint(u64),
    /// A derived table.
    Table(&'static str),
    /// The ledger as a whole.
    Ledger,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Entry(i) => write!(f, "entry {i}"),
            Location::Checkpoint(s) => write!(f, "checkpoint of size {s}"),
            Location::Table(t) => write!(f, "table {t}"),
            Location::Ledger => write!(f, "ledger"),
        }
    }
}

/// Ledger errors.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Storage failure, including "in use" and "not found".
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A statement was refused; nothing was appended.
    #[error("statement {position}: {rejection}")]
    Rejected {
        /// 1-based position in the batch given.
        position: usize,
        /// Why.
        rejection: Rejection,
    },
    /// Verification failed: the data is invalid.
    #[error("{at}: {problem}")]
    Invalid {
        /// The first bad place.
        at: Location,
        /// What is wrong.
        problem: String,
    },
    /// Problem with the ledger's key or a checkpoint.
    #[error("{0}")]
    Checkpoint(#[from] CheckpointError),
    /// No checkpoint was signed at that size.
    #[error("no signed checkpoint of size {size}{}", nearest_text(*below, *above))]
    NoCheckpoint {
        /// The size asked for.
        size: u64,
        /// The nearest smaller size with one.
        below: Option<u64>,
        /// The nearest larger size with one.
        above: Option<u64>,
    },
    /// An argument that does not fit this ledger.
    #[error("{0}")]
    BadArgument(String),
    /// The ledger key given does not belong to this ledger.
    #[error("the ledger key {given} is not this ledger's ({recorded})")]
    WrongLedgerKey {
        /// The key given.
        given: String,
        /// The key recorded at init.
        recorded: String,
    },
}

fn nearest_text(below: Option<u64>, above: Option<u64>) -> String {
    match (below, above) {
        (Some(b), Some(a)) => {
            format!(" (checkpoints are kept per commit; the nearest sizes with one are {b} and {a})")
        }
        (Some(b), None) => format!(" (the largest size with one is {b})"),
        (None, Some(a)) => format!(" (the smallest size with one is {a})"),
        (None, None) => String::new(),
    }
}

impl From<proof::ProofError> for LedgerError {
    fn from(e: proof::ProofError) -> Self {
        LedgerError::Invalid {
            at: Location::Table("hashes"),
            problem: e.to_string(),
        }
    }
}

fn invalid(at: Location, problem: impl Into<String>) -> LedgerError {
    LedgerError::Invalid {
        at,
        problem: problem.into(),
    }
}

/// An organisation as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRecord {
    /// Index of its registration.
    pub registration: u64,
    /// Its current recovery commitment.
    pub recovery: Option<[u8; 32]>,
}

/// A recovery that set a compromise time: statements by `kids` of `org` logged after `since`
/// and before the recovery (`index`) are untrusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryMark {
    /// The organisation.
    pub org: String,
    /// Index of the recovery entry.
    pub index: u64,
    /// The compromise time.
    pub since: Seconds,
    /// Keys of the organisation that spoke for it at some time after `since`.
    pub kids: HashSet<[u8; 32]>,
}

impl RecoveryMark {
    /// Whether an entry of `org`, signed by `kid`, at `index`, logged at `logged_at`, is made
    /// untrusted by this recovery.
    pub fn covers(&self, org: &str, kid: &[u8; 32], index: u64, logged_at: Seconds) -> bool {
        self.org == org && index < self.index && logged_at > self.since && self.kids.contains(kid)
    }
}

/// What rules need to know about the ledger so far, and the primitive updates that record an
/// accepted statement. [`apply`] is the one place that decides those updates.
pub trait Registry {
    /// A registered key (ended or not).
    ///
    /// # Errors
    /// Storage failures.
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, LedgerError>;
    /// An organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, LedgerError>;
    /// Index of a statement already in the ledger.
    ///
    /// # Errors
    /// Storage failures.
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, LedgerError>;
    /// A live (not withdrawn, not superseded) attestation: its index and organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, LedgerError>;
    /// The organisation and kind of the statement at `index` (for error messages).
    ///
    /// # Errors
    /// Storage failures.
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, LedgerError>;
    /// The organisation that already used the recovery key with this commitment.
    ///
    /// # Errors
    /// Storage failures.
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, LedgerError>;
    /// Every key ever registered to an organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, LedgerError>;

    /// Records a statement id at an index, under its organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn put_statement(&mut self, id: &StatementId, index: u64, org: &str) -> Result<(), LedgerError>;
    /// Stores a key record.
    ///
    /// # Errors
    /// Storage failures.
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), LedgerError>;
    /// Stores an organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), LedgerError>;
    /// Marks a recovery commitment used.
    ///
    /// # Errors
    /// Storage failures.
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), LedgerError>;
    /// Marks an attestation live, indexed under its norms.
    ///
    /// # Errors
    /// Storage failures.
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        org: &str,
        norms: &[&str],
    ) -> Result<(), LedgerError>;
    /// Ends an attestation's liveness.
    ///
    /// # Errors
    /// Storage failures.
    fn remove_live(&mut self, id: &StatementId, org: &str, kind: Kind) -> Result<(), LedgerError>;
    /// Records a recovery that set a compromise time.
    ///
    /// # Errors
    /// Storage failures.
    fn put_mark(&mut self, mark: RecoveryMark) -> Result<(), LedgerError>;
}

/// Records the effects of a statement accepted at `index`, logged at `logged_at`.
///
/// # Errors
/// Storage failures.
pub fn apply(
    reg: &mut impl Registry,
    index: u64,
    logged_at: Seconds,
    st: &Statement,
) -> Result<(), LedgerError> {
    let id = st.id();
    reg.put_statement(&id, index, &st.iss)?;
    let new_key = |k: &PublicKey| KeyRecord {
        public_key: k.to_bytes(),
        registration: index,
        org: st.iss.clone(),
        ended: None,
    };
    let end = |reg: &mut dyn RegistryDyn, kid: &[u8; 32]| -> Result<(), LedgerError> {
        if let Some(mut rec) = reg.key_dyn(kid)? {
            if rec.ended.is_none() {
                rec.ended = Some((index, logged_at));
                reg.put_key_dyn(kid, &rec)?;
            }
        }
        Ok(())
    };
    match &st.payload.body {
        Body::Registration(r) => {
            reg.put_key(&st.kid, &new_key(&r.public_key))?;
            reg.put_org(
                &st.iss,
                &OrgRecord {
                    registration: index,
                    recovery: r.recovery,
                },
            )?;
        }
        Body::Attestation(a) => {
            if let Some(t) = &a.supersedes {
                reg.remove_live(t, &st.iss, Kind::Attestation)?;
            }
            let norms: Vec<&str> = a.norms.iter().map(|n| n.id.as_str()).collect();
            reg.put_live(&id, index, &st.iss, &norms)?;
        }
        Body::Withdrawal(w) => reg.remove_live(&w.target, &st.iss, Kind::Attestation)?,
        Body::Acceptance(_) => {}
        Body::Rotation(r) => {
            end(&mut Dyn(reg), &st.kid)?;
            if let Some(k) = r.new_key() {
                reg.put_key(&k.kid(), &new_key(k))?;
            }
        }
        Body::Revocation(r) => end(&mut Dyn(reg), &r.target)?,
        Body::Recovery(r) => {
            let keys = reg.keys_of(&st.iss)?;
            if let Some(since) = r.compromised_since {
                let kids = keys
                    .iter()
                    .filter(|(_, k)| k.ended.is_none_or(|(_, t)| t > since))
                    .map(|(kid, _)| *kid)
                    .collect();
                reg.put_mark(RecoveryMark {
                    org: st.iss.clone(),
                    index,
                    since,
                    kids,
                })?;
            }
            for (kid, k) in keys {
                if k.ended.is_none() {
                    end(&mut Dyn(reg), &kid)?;
                }
            }
            reg.put_key(&r.new_key.kid(), &new_key(&r.new_key))?;
            let org = reg.org(&st.iss)?.map(|o| o.registration).unwrap_or(index);
            reg.put_used_recovery(&r.recovery_key.kid(), &st.iss)?;
            reg.put_org(
                &st.iss,
                &OrgRecord {
                    registration: org,
                    recovery: Some(r.next_recovery),
                },
            )?;
        }
    }
    Ok(())
}

/// Object-safe slice of [`Registry`] used inside [`apply`].
trait RegistryDyn {
    fn key_dyn(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, LedgerError>;
    fn put_key_dyn(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), LedgerError>;
}

struct Dyn<'a, R: Registry + ?Sized>(&'a mut R);

impl<R: Registry + ?Sized> RegistryDyn for Dyn<'_, R> {
    fn key_dyn(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, LedgerError> {
        self.0.key(kid)
    }
    fn put_key_dyn(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), LedgerError> {
        self.0.put_key(kid, rec)
    }
}

/// Checks the ledger rules for a statement logged at `logged_at` and returns the key that must
/// have signed it. The signature itself is checked by the caller (in parallel).
///
/// # Errors
/// [`Rejection`] for a rule broken; [`LedgerError`] for storage failures.
pub fn check_rules(
    st: &Statement,
    origin: &str,
    logged_at: Seconds,
    reg: &impl Registry,
    catalogue: &Catalogue,
) -> Result<Result<PublicKey, Rejection>, LedgerError> {
    let p = &st.payload;
    if p.origin != origin {
        return Ok(Err(Rejection::WrongOrigin {
            expected: origin.to_string(),
            found: p.origin.clone(),
        }));
    }
    if p.iat > logged_at.saturating_add(MAX_FUTURE_SKEW) {
        return Ok(Err(Rejection::IssuedInFuture {
            iat: crate::time::format(p.iat),
            logged: crate::time::format(logged_at),
        }));
    }
    if let Some(index) = reg.statement(&st.id())? {
        return Ok(Err(Rejection::Duplicate { index }));
    }
    let key_free = |k: &PublicKey| -> Result<Option<Rejection>, LedgerError> {
        Ok(reg.key(&k.kid())?.map(|rec| Rejection::KeyInUse { org: rec.org }))
    };
    match &p.body {
        Body::Registration(r) => {
            if let Some(o) = reg.org(&st.iss)? {
                return Ok(Err(Rejection::NameTaken {
                    org: st.iss.clone(),
                    index: o.registration,
                }));
            }
            if let Some(e) = key_free(&r.public_key)? {
                return Ok(Err(e));
            }
            return Ok(Ok(r.public_key));
        }
        Body::Acceptance(_) => return Ok(Err(Rejection::NestedOnly)),
        Body::Recovery(r) => {
            let Some(org) = reg.org(&st.iss)? else {
                return Ok(Err(Rejection::UnknownOrg(st.iss.clone())));
            };
            let presented = r.recovery_key.kid();
            match org.recovery {
                None => return Ok(Err(Rejection::NoRecoveryKey(st.iss.clone()))),
                Some(c) if c != presented => {
                    return Ok(Err(if reg.used_recovery(&presented)?.is_some() {
                        Rejection::RecoveryKeyUsed
                    } else {
                        Rejection::RecoveryKeyMismatch
                    }));
                }
                Some(_) => {}
            }
            if let Some(e) = key_free(&r.new_key)? {
                return Ok(Err(e));
            }
            if r.compromised_since.is_some_and(|t| t > logged_at) {
                return Ok(Err(Rejection::Statement(StatementError::Invalid(
                    "compromised_since is after the time the recovery is logged".into(),
                ))));
            }
            return Ok(Ok(r.recovery_key));
        }
        _ => {}
    }
    let Some(rec) = reg.key(&st.kid)? else {
        return Ok(Err(Rejection::UnregisteredKey {
            kid: hex::encode(st.kid),
        }));
    };
    if rec.org != st.iss {
        return Ok(Err(Rejection::IssuerMismatch {
            iss: st.iss.clone(),
            org: rec.org,
        }));
    }
    if let Some((index, _)) = rec.ended {
        return Ok(Err(Rejection::KeyEnded {
            kid: hex::encode(st.kid),
            index,
        }));
    }
    let key = PublicKey::from_bytes(&rec.public_key)
        .map_err(|e| invalid(Location::Table("keys"), e.to_string()))?;
    let live_target = |target: &StatementId, what: &'static str| -> Result<Option<Rejection>, LedgerError> {
        match reg.live(target)? {
            Some((index, owner)) if owner != st.iss => {
                Ok(Some(Rejection::OtherOrganisation { index, owner }))
            }
            Some(_) => Ok(None),
            None => {
                let Some(index) = reg.statement(target)? else {
                    return Ok(Some(Rejection::NoSuchStatement(hex::encode(target))));
                };
                let why = match reg.owner(index)? {
                    Some((owner, _)) if owner != st.iss => {
                        return Ok(Some(Rejection::OtherOrganisation { index, owner }));
                    }
                    Some((_, Kind::Attestation)) => "it was already withdrawn or superseded",
                    Some((_, k)) => match k {
                        Kind::Registration => "it is a registration",
                        Kind::Withdrawal => "it is a withdrawal",
                        _ => "it is not an attestation",
                    },
                    None => "it is missing",
                };
                Ok(Some(Rejection::NotWithdrawable { index, why, what }))
            }
        }
    };
    match &p.body {
        Body::Attestation(a) => {
            if a.catalogue != catalogue.version {
                return Ok(Err(Rejection::UnknownCatalogue(a.catalogue)));
            }
            for n in &a.norms {
                let Some(norm) = catalogue.get(n.id.as_str()) else {
                    return Ok(Err(Rejection::UnknownNorm(n.id.to_string())));
                };
                if norm.text_hash() != n.text_hash {
                    return Ok(Err(Rejection::NormTextMismatch(n.id.to_string())));
                }
            }
            if let Some(t) = &a.supersedes {
                if let Some(e) = live_target(t, "superseded")? {
                    return Ok(Err(e));
                }
            }
        }
        Body::Withdrawal(w) => {
            if let Some(e) = live_target(&w.target, "withdrawn")? {
                return Ok(Err(e));
            }
        }
        Body::Rotation(r) => {
            if let Some(k) = r.new_key() {
                if let Some(e) = key_free(k)? {
                    return Ok(Err(e));
                }
            }
        }
        Body::Revocation(r) => {
            let Some(target) = reg.key(&r.target)? else {
                return Ok(Err(Rejection::NoSuchKey(hex::encode(r.target))));
            };
            if target.org != st.iss {
                return Ok(Err(Rejection::KeyOfAnotherOrg {
                    kid: hex::encode(r.target),
                    org: target.org,
                }));
            }
            if let Some((index, _)) = target.ended {
                return Ok(Err(Rejection::KeyEnded {
                    kid: hex::encode(r.target),
                    index,
                }));
            }
            if r.target != st.kid && target.registration >= rec.registration {
                return Ok(Err(Rejection::RevokeNewer));
            }
        }
        // Handled above.
        Body::Registration(_) | Body::Acceptance(_) | Body::Recovery(_) => {}
    }
    Ok(Ok(key))
}

/// The registry rebuilt in memory by a replay: bounded by organisations, keys, live
/// attestations and one 32-byte id per statement.
#[derive(Default)]
pub struct MemRegistry {
    keys: HashMap<[u8; 32], KeyRecord>,
    orgs: HashMap<String, OrgRecord>,
    ids: HashMap<StatementId, u64>,
    live: HashMap<StatementId, (u64, String)>,
    ended: HashMap<u64, (String, Kind)>,
    used: HashMap<[u8; 32], String>,
    marks: Vec<RecoveryMark>,
    norm_rows: u64,
}

impl Registry for MemRegistry {
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, LedgerError> {
        Ok(self.keys.get(kid).cloned())
    }
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, LedgerError> {
        Ok(self.orgs.get(org).cloned())
    }
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, LedgerError> {
        Ok(self.ids.get(id).copied())
    }
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, LedgerError> {
        Ok(self.live.get(id).cloned())
    }
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, LedgerError> {
        Ok(self.ended.get(&index).cloned())
    }
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, LedgerError> {
        Ok(self.used.get(commitment).cloned())
    }
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, LedgerError> {
        Ok(self
            .keys
            .iter()
            .filter(|(_, k)| k.org == org)
            .map(|(i, k)| (*i, k.clone()))
            .collect())
    }
    fn put_statement(&mut self, id: &StatementId, index: u64, _org: &str) -> Result<(), LedgerError> {
        self.ids.insert(*id, index);
        Ok(())
    }
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), LedgerError> {
        self.keys.insert(*kid, rec.clone());
        Ok(())
    }
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), LedgerError> {
        self.orgs.insert(org.to_string(), rec.clone());
        Ok(())
    }
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), LedgerError> {
        self.used.insert(*commitment, org.to_string());
        Ok(())
    }
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        org: &str,
        norms: &[&str],
    ) -> Result<(), LedgerError> {
        self.live.insert(*id, (index, org.to_string()));
        self.norm_rows += norms.len() as u64;
        Ok(())
    }
    fn remove_live(&mut self, id: &StatementId, org: &str, kind: Kind) -> Result<(), LedgerError> {
        if let Some((i, _)) = self.live.remove(id) {
            // Only attestations that stopped being live need their owner kept, for messages.
            self.ended.insert(i, (org.to_string(), kind));
        }
        Ok(())
    }
    fn put_mark(&mut self, mark: RecoveryMark) -> Result<(), LedgerError> {
        self.marks.push(mark);
        Ok(())
    }
}

impl MemRegistry {
    /// Number of registered organisations.
    pub fn org_count(&self) -> usize {
        self.orgs.len()
    }
    /// Number of live attestations (expired ones included).
    pub fn live_count(&self) -> usize {
        self.live.len()
    }
    /// Recoveries that set a compromise time.
    pub fn marks(&self) -> &[RecoveryMark] {
        &self.marks
    }
}

impl Registry for WriteTables<'_> {
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, LedgerError> {
        Ok(WriteTables::key(self, kid)?)
    }
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, LedgerError> {
        Ok(WriteTables::org(self, org)?.map(|registration| OrgRecord {
            registration,
            recovery: WriteTables::recovery(self, org).ok().flatten(),
        }))
    }
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, LedgerError> {
        Ok(self.statement_index(id)?)
    }
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, LedgerError> {
        match WriteTables::live(self, id)? {
            Some(index) => Ok(self.owner(index)?.map(|(org, _)| (index, org))),
            None => Ok(None),
        }
    }
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, LedgerError> {
        let Some(bytes) = self.entry(index)? else {
            return Ok(None);
        };
        let st = decode_entry_statement(index, &bytes)?.1;
        Ok(Some((st.iss.clone(), st.kind())))
    }
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, LedgerError> {
        Ok(WriteTables::used_recovery(self, commitment)?)
    }
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, LedgerError> {
        Ok(WriteTables::keys_of(self, org)?)
    }
    fn put_statement(&mut self, id: &StatementId, index: u64, org: &str) -> Result<(), LedgerError> {
        self.put_statement_id(id, index)?;
        self.put_org_entry(org, index)?;
        Ok(())
    }
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), LedgerError> {
        Ok(WriteTables::put_key(self, kid, rec)?)
    }
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), LedgerError> {
        WriteTables::put_org(self, org, rec.registration)?;
        if let Some(c) = &rec.recovery {
            WriteTables::put_recovery(self, org, c)?;
        }
        Ok(())
    }
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), LedgerError> {
        Ok(WriteTables::put_used_recovery(self, commitment, org)?)
    }
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        _org: &str,
        norms: &[&str],
    ) -> Result<(), LedgerError> {
        WriteTables::put_live(self, id, index)?;
        for n in norms {
            self.put_norm_entry(n, index)?;
        }
        Ok(())
    }
    fn remove_live(&mut self, id: &StatementId, _org: &str, _kind: Kind) -> Result<(), LedgerError> {
        Ok(WriteTables::remove_live(self, id)?)
    }
    fn put_mark(&mut self, _mark: RecoveryMark) -> Result<(), LedgerError> {
        // Compromise marks are derived again by every reader that needs them (status, history,
        // verify) from the entries; nothing is stored.
        Ok(())
    }
}

fn decode_entry_statement(index: u64, bytes: &[u8]) -> Result<(Entry, Statement), LedgerError> {
    let e = Entry::decode(bytes).map_err(|e| invalid(Location::Entry(index), entry_problem(&e)))?;
    let st = Statement::decode(&e.statement)
        .map_err(|e| invalid(Location::Entry(index), format!("statement: {e}")))?;
    Ok((e, st))
}

fn entry_problem(e: &EntryError) -> String {
    format!("malformed entry: {e}")
}

/// One statement appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Its entry index.
    pub index: u64,
    /// Its statement id.
    pub id: StatementId,
    /// Its kind.
    pub kind: Kind,
    /// Its organisation.
    pub org: String,
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The signed checkpoint the replay matched (the latest).
    pub checkpoint: SignedCheckpoint,
    /// Entries replayed.
    pub entries: u64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
    /// Registered organisations.
    pub organisations: u64,
    /// Attestations not withdrawn (expired ones included).
    pub live_attestations: u64,
    /// Counts by kind: registrations, attestations, withdrawals, rotations, revocations,
    /// recoveries.
    pub by_kind: [u64; 6],
    /// Entries that a later recovery made untrusted (valid history, not to be relied on).
    pub untrusted: Vec<u64>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Entries the mirror held before.
    pub from: u64,
    /// The verification of the export.
    pub report: VerifyReport,
}

/// Progress callback: (entries done, entries in all).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// An open ledger.
pub struct Ledger {
    store: Store,
}

/// Meta key: the ledger's origin.
pub const META_ORIGIN: &str = "origin";
/// Meta key: the ledger's verifier key recorded at init.
pub const META_VKEY: &str = "vkey";
/// Meta key: present on a read-only mirror made by `accord import`.
pub const META_MIRROR: &str = "mirror";
/// Meta key: where the ledger's secret key file was written at init.
pub const META_KEY_FILE: &str = "key_file";

impl Ledger {
    /// Creates a ledger in `dir` for `key`'s origin, with an empty signed checkpoint.
    ///
    /// # Errors
    /// [`LedgerError`].
    pub fn init(
        dir: &std::path::Path,
        key: &LedgerKey,
        key_file: &std::path::Path,
    ) -> Result<Ledger, LedgerError> {
        Ledger::init_store(Store::create(dir)?, key, key_file)
    }

    /// Initialises a ledger in an empty store (see [`Store::with_backend`]).
    ///
    /// # Errors
    /// [`LedgerError`].
    pub fn init_store(
        store: Store,
        key: &LedgerKey,
        key_file: &std::path::Path,
    ) -> Result<Ledger, LedgerError> {
        if store.read(|r| r.latest_checkpoint())?.is_some() {
            return Err(StoreError::Exists(store.dir().to_path_buf()).into());
        }
        let cp = key.sign(&Checkpoint {
            origin: key.origin().clone(),
            size: 0,
            root: proof::EMPTY_ROOT,
        })?;
        store.write(|t| {
            t.set_meta(META_ORIGIN, key.origin().as_str().as_bytes())?;
            t.set_meta(META_VKEY, key.verifier_key().to_string().as_bytes())?;
            t.set_meta(META_KEY_FILE, key_file.to_string_lossy().as_bytes())?;
            t.put_checkpoint(0, &cp.note)?;
            Ok::<_, LedgerError>(())
        })?;
        Ok(Ledger { store })
    }

    /// A ledger over an already opened store.
    pub fn from_store(store: Store) -> Ledger {
        Ledger { store }
    }

    /// Opens a ledger for appending.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn open(dir: &std::path::Path) -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            store: Store::open(dir)?,
        })
    }

    /// Opens a ledger read-only.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn open_read_only(dir: &std::path::Path) -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            store: Store::open_read_only(dir)?,
        })
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn meta_text(r: &ReadTables, key: &str) -> Result<String, LedgerError> {
        let v = r
            .meta(key)?
            .ok_or_else(|| StoreError::Damaged(format!("meta {key} missing")))?;
        String::from_utf8(v).map_err(|_| StoreError::Damaged(format!("meta {key} not UTF-8")).into())
    }

    /// The ledger's origin.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn origin(&self) -> Result<String, LedgerError> {
        self.store.read(|r| Self::meta_text(r, META_ORIGIN))
    }

    /// The verifier key recorded at init (text form).
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn recorded_vkey(&self) -> Result<String, LedgerError> {
        self.store.read(|r| Self::meta_text(r, META_VKEY))
    }

    /// Where init wrote the ledger's secret key.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn key_file(&self) -> Result<String, LedgerError> {
        self.store.read(|r| Self::meta_text(r, META_KEY_FILE))
    }

    /// Number of entries.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn size(&self) -> Result<u64, LedgerError> {
        Ok(self.store.read(|r| r.entry_count())?)
    }

    /// The latest signed checkpoint note.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn latest_checkpoint(&self) -> Result<(u64, Vec<u8>), LedgerError> {
        self.store.read(|r| {
            r.latest_checkpoint()?
                .ok_or_else(|| StoreError::Damaged("no checkpoint".into()).into())
        })
    }

    /// Appends statements in one transaction, all or none, and signs a checkpoint of the new
    /// size; returns only after the transaction is durable.
    ///
    /// # Errors
    /// [`LedgerError::Rejected`] naming the first refused statement (nothing is written),
    /// or storage and key errors.
    pub fn append(
        &self,
        statements: &[Vec<u8>],
        key: &LedgerKey,
        now: Seconds,
        catalogue: &Catalogue,
    ) -> Result<Vec<Appended>, LedgerError> {
        // Decode and check bounds in parallel before taking the write lock.
        let decoded: Vec<Result<Statement, StatementError>> =
            statements.par_iter().map(|b| Statement::decode(b)).collect();
        let mut sts = Vec::with_capacity(decoded.len());
        for (i, d) in decoded.into_iter().enumerate() {
            sts.push(d.map_err(|e| LedgerError::Rejected {
                position: i + 1,
                rejection: e.into(),
            })?);
        }
        let mut seen = HashSet::new();
        for (i, st) in sts.iter().enumerate() {
            if !seen.insert(st.id()) {
                return Err(LedgerError::Rejected {
                    position: i + 1,
                    rejection: Rejection::DuplicateInBatch,
                });
            }
        }
        self.store.write(|t| {
            let origin = String::from_utf8(t.meta(META_ORIGIN)?.unwrap_or_default())
                .map_err(|_| StoreError::Damaged("origin not UTF-8".into()))?;
            let recorded = String::from_utf8(t.meta(META_VKEY)?.unwrap_or_default())
                .map_err(|_| StoreError::Damaged("vkey not UTF-8".into()))?;
            let given = key.verifier_key().to_string();
            if given != recorded {
                return Err(LedgerError::WrongLedgerKey { given, recorded });
            }
            let size = t.entry_count()?;
            let mut frontier = Frontier::from_store(size, &*t)?;
            // Never sign a checkpoint that does not extend the last one signed (DESIGN 5).
            let (last_size, last_note) = t
                .latest_checkpoint()?
                .ok_or_else(|| StoreError::Damaged("no checkpoint".into()))?;
            let last = SignedCheckpoint::open(&last_note, &key.verifier_key())?;
            if last_size != size || last.checkpoint.root != frontier.root() {
                return Err(invalid(
                    Location::Checkpoint(last_size),
                    "stored tree does not match the last signed checkpoint; refusing to append (run `accord verify`)",
                ));
            }
            let (mut prev, mut last_time) = if size == 0 {
                (GENESIS_PREV, Seconds::MIN)
            } else {
                let b = t
                    .entry(size - 1)?
                    .ok_or_else(|| StoreError::Damaged(format!("entry {} missing", size - 1)))?;
                let e = Entry::decode(&b)
                    .map_err(|e| invalid(Location::Entry(size - 1), entry_problem(&e)))?;
                (Entry::leaf_hash(&b), e.logged_at)
            };
            // Log times never decrease, even if the clock steps back.
            let logged_at = now.max(last_time);
            last_time = logged_at;
            let mut keys = Vec::with_capacity(sts.len());
            let mut out = Vec::with_capacity(sts.len());
            for (i, st) in sts.iter().enumerate() {
                let index = size + i as u64;
                let key = check_rules(st, &origin, logged_at, &*t, catalogue)?.map_err(|r| {
                    LedgerError::Rejected {
                        position: i + 1,
                        rejection: r,
                    }
                })?;
                apply(&mut *t, index, logged_at, st)?;
                keys.push(key);
            }
            // The custodian checks every signature (in parallel) before anything is stored.
            let bad = sts
                .par_iter()
                .zip(keys.par_iter())
                .position_first(|(st, k)| st.verify_signature(k).is_err());
            if let Some(i) = bad {
                let rejection = sts[i]
                    .verify_signature(&keys[i])
                    .err()
                    .map(Rejection::from)
                    .unwrap_or(Rejection::DuplicateInBatch);
                return Err(LedgerError::Rejected {
                    position: i + 1,
                    rejection,
                });
            }
            for (i, st) in sts.iter().enumerate() {
                let index = size + i as u64;
                let entry = Entry {
                    index,
                    prev,
                    logged_at: last_time,
                    statement: st.bytes.clone(),
                };
                let bytes = entry.encode().map_err(|e| LedgerError::Rejected {
                    position: i + 1,
                    rejection: Rejection::Statement(StatementError::Invalid(e.to_string())),
                })?;
                prev = Entry::leaf_hash(&bytes);
                t.put_entry(index, &bytes)?;
                for (hi, h) in frontier.push(prev) {
                    t.put_hash(hi, &h)?;
                }
                out.push(Appended {
                    index,
                    id: st.id(),
                    kind: st.kind(),
                    org: st.iss.clone(),
                });
            }
            let new_size = frontier.size();
            let cp = key.sign(&Checkpoint {
                origin: key.origin().clone(),
                size: new_size,
                root: frontier.root(),
            })?;
            t.put_checkpoint(new_size, &cp.note)?;
            Ok(out)
        })
    }

    /// Whether this ledger is a read-only mirror made by `accord import`.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn is_mirror(&self) -> Result<bool, LedgerError> {
        Ok(self.store.read(|r| r.meta(META_MIRROR))?.is_some())
    }

    fn checkpoint_at(r: &ReadTables, size: Option<u64>) -> Result<(u64, Vec<u8>), LedgerError> {
        match size {
            None => r
                .latest_checkpoint()?
                .ok_or_else(|| StoreError::Damaged("no checkpoint".into()).into()),
            Some(s) => match r.checkpoint(s)? {
                Some(n) => Ok((s, n)),
                None => {
                    let sizes = r.checkpoint_sizes()?;
                    let below = sizes.iter().copied().filter(|&x| x < s).max();
                    let above = sizes.iter().copied().filter(|&x| x > s).min();
                    Err(LedgerError::NoCheckpoint {
                        size: s,
                        below,
                        above,
                    })
                }
            },
        }
    }

    /// An audit bundle for entry `index` against the checkpoint of size `at_size` (default:
    /// the latest), optionally with a consistency proof from the checkpoint of size `since`.
    ///
    /// # Errors
    /// [`LedgerError::NoCheckpoint`], [`LedgerError::BadArgument`], storage errors.
    pub fn prove(&self, index: u64, at_size: Option<u64>, since: Option<u64>) -> Result<Bundle, LedgerError> {
        self.store.read(|r| {
            let (size, note) = Self::checkpoint_at(r, at_size)?;
            if index >= size {
                return Err(LedgerError::BadArgument(format!(
                    "entry {index} is not in the checkpoint of size {size}"
                )));
            }
            let bytes = r
                .entry(index)?
                .ok_or_else(|| StoreError::Damaged(format!("entry {index} missing")))?;
            let (_, st) = decode_entry_statement(index, &bytes)?;
            let key = match &st.payload.body {
                Body::Registration(r) => r.public_key.to_bytes(),
                Body::Recovery(r) => r.recovery_key.to_bytes(),
                _ => {
                    r.key(&st.kid)?
                        .ok_or_else(|| {
                            invalid(
                                Location::Table("keys"),
                                format!("entry {index}'s key is not registered"),
                            )
                        })?
                        .public_key
                }
            };
            let reg_index = r
                .org(&st.iss)?
                .ok_or_else(|| invalid(Location::Table("orgs"), format!("{:?} is not registered", st.iss)))?;
            let reg_bytes = r
                .entry(reg_index)?
                .ok_or_else(|| StoreError::Damaged(format!("entry {reg_index} missing")))?;
            let mut key_history = Vec::new();
            for i in r.org_entries(&st.iss)? {
                if i >= size {
                    break;
                }
                let b = r
                    .entry(i)?
                    .ok_or_else(|| StoreError::Damaged(format!("entry {i} missing")))?;
                let (_, h) = decode_entry_statement(i, &b)?;
                if matches!(h.kind(), Kind::Rotation | Kind::Revocation | Kind::Recovery) {
                    key_history.push(Included {
                        leaf_index: i,
                        path: proof::inclusion_proof(i, size, r)?,
                        entry: b,
                    });
                }
            }
            let consistency = match since {
                None => None,
                Some(from) => {
                    if from == 0 || from > size {
                        return Err(LedgerError::BadArgument(format!(
                            "--since {from} must be between 1 and the proof's size {size}"
                        )));
                    }
                    let (_, from_note) = Self::checkpoint_at(r, Some(from))?;
                    Some(Consistency {
                        from_checkpoint: from_note,
                        path: proof::consistency_proof(from, size, r)?,
                    })
                }
            };
            Ok(Bundle {
                checkpoint: note,
                tree_size: size,
                entry: Included {
                    leaf_index: index,
                    path: proof::inclusion_proof(index, size, r)?,
                    entry: bytes,
                },
                signatory_key: key,
                registration: Included {
                    leaf_index: reg_index,
                    path: proof::inclusion_proof(reg_index, size, r)?,
                    entry: reg_bytes,
                },
                key_history,
                consistency,
            })
        })
    }

    /// A consistency proof between the signed checkpoints of sizes `from` and `to` (default:
    /// the latest).
    ///
    /// # Errors
    /// [`LedgerError::NoCheckpoint`], [`LedgerError::BadArgument`], storage errors.
    pub fn consistency(&self, from: u64, to: Option<u64>) -> Result<ConsistencyProof, LedgerError> {
        self.store.read(|r| {
            let (to_size, new) = Self::checkpoint_at(r, to)?;
            if from == 0 || from > to_size {
                return Err(LedgerError::BadArgument(format!(
                    "--from {from} must be between 1 and {to_size}"
                )));
            }
            let (_, old) = Self::checkpoint_at(r, Some(from))?;
            Ok(ConsistencyProof {
                old,
                new,
                path: proof::consistency_proof(from, to_size, r)?,
            })
        })
    }

    /// Builds or extends a read-only mirror in `dir` from an export file, after verifying the
    /// whole export against `vkey`. An existing mirror is extended only if the export is
    /// consistent with it (its first entries are the mirror's).
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] for an invalid or inconsistent export, storage errors.
    pub fn import(
        dir: &std::path::Path,
        file: &std::path::Path,
        vkey: &VerifierKey,
        catalogue: &Catalogue,
        progress: Option<Progress<'_>>,
    ) -> Result<ImportReport, LedgerError> {
        let open = || -> Result<std::io::BufReader<std::fs::File>, LedgerError> {
            std::fs::File::open(file)
                .map(std::io::BufReader::new)
                .map_err(|e| LedgerError::BadArgument(format!("{}: {e}", file.display())))
        };
        let existing = if Store::db_path(dir).exists() {
            Some(Ledger::open(dir)?)
        } else {
            None
        };
        let mirror_size = match &existing {
            Some(l) => {
                if !l.is_mirror()? {
                    return Err(LedgerError::BadArgument(format!(
                        "{} holds a custodian's ledger, not a mirror; import into another --ledger DIR",
                        dir.display()
                    )));
                }
                if l.recorded_vkey()? != vkey.to_string() {
                    return Err(LedgerError::BadArgument(
                        "the mirror was made with another ledger key".into(),
                    ));
                }
                Some(l.latest_checkpoint()?)
            }
            None => None,
        };
        let (report, _, root_at) = crate::export::verify_export(
            &mut open()?,
            vkey,
            catalogue,
            mirror_size.as_ref().map(|(s, _)| *s),
            progress,
        )?;
        let new_size = report.entries;
        let from = match &mirror_size {
            Some((m, note)) => {
                let mine = SignedCheckpoint::open(note, vkey)?;
                if new_size < *m {
                    return Err(invalid(
                        Location::Ledger,
                        format!(
                            "ROLLBACK: the export holds {new_size} entries but the mirror already has {m}"
                        ),
                    ));
                }
                if root_at != Some(mine.checkpoint.root) {
                    return Err(invalid(
                        Location::Checkpoint(*m),
                        "FORK: the export's tree at the mirror's size has another root than the mirror",
                    ));
                }
                *m
            }
            None => 0,
        };
        let ledger = match existing {
            Some(l) => l,
            None => {
                let store = Store::create(dir)?;
                store.write(|t| {
                    t.set_meta(META_ORIGIN, vkey.name().as_bytes())?;
                    t.set_meta(META_VKEY, vkey.to_string().as_bytes())?;
                    t.set_meta(META_KEY_FILE, b"")?;
                    t.set_meta(META_MIRROR, b"1")?;
                    Ok::<_, LedgerError>(())
                })?;
                Ledger { store }
            }
        };
        if new_size > from || mirror_size.is_none() {
            let mut f = open()?;
            let header = crate::export::read_header(&mut f)?;
            ledger.store.write(|t| {
                let mut frontier = Frontier::from_store(from, &*t)?;
                crate::export::for_each_entry(&mut f, header.size, |i, bytes| {
                    if i < from {
                        return Ok(());
                    }
                    let (e, st) = decode_entry_statement(i, &bytes)?;
                    apply(&mut *t, i, e.logged_at, &st)?;
                    t.put_entry(i, &bytes)?;
                    for (hi, h) in frontier.push(Entry::leaf_hash(&bytes)) {
                        t.put_hash(hi, &h)?;
                    }
                    Ok(())
                })?;
                t.put_checkpoint(header.size, &header.checkpoint)?;
                Ok::<_, LedgerError>(())
            })?;
        }
        Ok(ImportReport { from, report })
    }

    /// Replays and verifies the whole ledger against `vkey` (see `accord verify --help` and
    /// `docs/FORMAT.md`): entries, chain, signatures, rules, Merkle tree, every signed
    /// checkpoint, and every derived table.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] naming the first bad entry, checkpoint or table; storage errors.
    pub fn verify(
        &self,
        vkey: &VerifierKey,
        catalogue: &Catalogue,
        progress: Option<Progress<'_>>,
    ) -> Result<VerifyReport, LedgerError> {
        self.store.read(|r| {
            let origin = Self::meta_text(r, META_ORIGIN)?;
            if origin != vkey.name() {
                return Err(invalid(
                    Location::Ledger,
                    format!(
                        "ledger origin {origin:?} does not match the ledger key's name {:?}",
                        vkey.name()
                    ),
                ));
            }
            let total = r.entry_count()?;
            let sizes = r.checkpoint_sizes()?;
            let mut replay = Replay::new(origin, catalogue, vkey.clone());
            let mut ci = 0usize;
            // Checks every signed checkpoint whose size the replay has reached.
            let check_cps = |replay: &mut Replay<'_>, ci: &mut usize| -> Result<(), LedgerError> {
                while let Some(&s) = sizes.get(*ci) {
                    if s > replay.size() {
                        break;
                    }
                    *ci += 1;
                    let note = r
                        .checkpoint(s)?
                        .ok_or_else(|| StoreError::Damaged(format!("checkpoint {s} vanished")))?;
                    replay.check_checkpoint(s, &note)?;
                }
                Ok(())
            };
            check_cps(&mut replay, &mut ci)?;
            let mut batch: Vec<(u64, Vec<u8>)> = Vec::with_capacity(VERIFY_BATCH);
            let flush = |batch: &mut Vec<(u64, Vec<u8>)>,
                         replay: &mut Replay<'_>,
                         ci: &mut usize|
             -> Result<(), LedgerError> {
                replay.feed(batch, |index, stored, st| {
                    check_derived_entry(r, index, stored, st)
                })?;
                batch.clear();
                check_cps(replay, ci)?;
                if let Some(p) = progress {
                    p(replay.size(), total);
                }
                Ok(())
            };
            r.for_each_entry(0, |k, v| -> Result<bool, LedgerError> {
                batch.push((k, v.to_vec()));
                // A batch ends at VERIFY_BATCH entries and at every checkpoint size, so each
                // signed root is compared with the tree of exactly its size.
                let at_cp = sizes.get(ci).is_some_and(|&s| s == k.saturating_add(1));
                if batch.len() == VERIFY_BATCH || at_cp {
                    flush(&mut batch, &mut replay, &mut ci)?;
                }
                Ok(true)
            })?;
            flush(&mut batch, &mut replay, &mut ci)?;
            if ci != sizes.len() {
                return Err(invalid(
                    Location::Checkpoint(sizes[ci]),
                    format!(
                        "signed for {} entries but the ledger holds {}",
                        sizes[ci],
                        replay.size()
                    ),
                ));
            }
            if replay.size() != total {
                return Err(invalid(Location::Ledger, "entry count changed during verify"));
            }
            let (mut report, totals) = replay.finish()?;
            check_derived_tables(r, &totals, report.entries)?;
            report.untrusted = untrusted_entries(totals.registry.marks(), |f| {
                r.for_each_entry(0, |i, b| -> Result<bool, LedgerError> {
                    let (e, st) = decode_entry_statement(i, b)?;
                    f(i, e.logged_at, &st);
                    Ok(true)
                })
            })?;
            Ok(report)
        })
    }
}

/// Lists the entries that recoveries made untrusted, in a second pass over the entries (only
/// when some recovery set a compromise time). `scan` feeds every entry to its callback.
///
/// # Errors
/// What `scan` returns.
pub fn untrusted_entries(
    marks: &[RecoveryMark],
    scan: impl FnOnce(&mut dyn FnMut(u64, Seconds, &Statement)) -> Result<(), LedgerError>,
) -> Result<Vec<u64>, LedgerError> {
    let mut out = Vec::new();
    if marks.is_empty() {
        return Ok(out);
    }
    scan(&mut |i, t, st| {
        if marks.iter().any(|m| m.covers(&st.iss, &st.kid, i, t)) {
            out.push(i);
        }
    })?;
    Ok(out)
}

/// Point checks of one replayed entry against the store's derived tables.
fn check_derived_entry(
    r: &ReadTables,
    index: u64,
    stored: &[(u64, Hash)],
    st: &Statement,
) -> Result<(), LedgerError> {
    for (hi, h) in stored {
        if r.hash(*hi)?.as_ref() != Some(h) {
            return Err(invalid(
                Location::Entry(index),
                format!("stored Merkle hash {hi} differs from the hash of the entry as replayed (entry altered, or table hashes damaged)"),
            ));
        }
    }
    if r.statement_index(&st.id())? != Some(index) {
        return Err(invalid(
            Location::Table("statement_ids"),
            format!("entry {index}'s statement id is missing or points elsewhere"),
        ));
    }
    if !r.has_org_entry(&st.iss, index)? {
        return Err(invalid(
            Location::Table("org_entries"),
            format!("entry {index} is not indexed under its organisation"),
        ));
    }
    if let Body::Attestation(a) = &st.payload.body {
        for n in &a.norms {
            if !r.has_norm_entry(n.id.as_str(), index)? {
                return Err(invalid(
                    Location::Table("norm_entries"),
                    format!("entry {index} is not indexed under norm {}", n.id),
                ));
            }
        }
    }
    Ok(())
}

/// Whole-table comparison of the derived tables with the replayed registry.
fn check_derived_tables(r: &ReadTables, reg: &ReplayTotals, entries: u64) -> Result<(), LedgerError> {
    let (hashes, ids, org_rows, norm_rows) = r.derived_counts()?;
    let want = [
        ("hashes", hashes, proof::stored_hash_count(entries)),
        ("statement_ids", ids, entries),
        ("org_entries", org_rows, entries),
        ("norm_entries", norm_rows, reg.registry.norm_rows),
    ];
    for (name, got, expected) in want {
        if got != expected {
            return Err(invalid(
                Location::Table(name),
                format!("{got} rows where the replay gives {expected}"),
            ));
        }
    }
    let (mut keys, mut orgs, mut live, mut recovery, mut used) = (0usize, 0usize, 0usize, 0usize, 0usize);
    r.for_each_derived(|row| -> Result<(), LedgerError> {
        match row {
            DerivedRow::StatementId(..) => {}
            DerivedRow::Key(kid, rec) => {
                keys += 1;
                if reg.registry.keys.get(&kid) != Some(&rec) {
                    return Err(invalid(
                        Location::Table("keys"),
                        format!("row {} differs from the replay", hex::encode(kid)),
                    ));
                }
            }
            DerivedRow::Org(name, idx) => {
                orgs += 1;
                if reg.registry.orgs.get(&name).map(|o| o.registration) != Some(idx) {
                    return Err(invalid(
                        Location::Table("orgs"),
                        format!("row {name:?} differs from the replay"),
                    ));
                }
            }
            DerivedRow::Recovery(name, c) => {
                recovery += 1;
                if reg.registry.orgs.get(&name).and_then(|o| o.recovery) != Some(c) {
                    return Err(invalid(
                        Location::Table("recovery"),
                        format!("row {name:?} differs from the replay"),
                    ));
                }
            }
            DerivedRow::UsedRecovery(c, name) => {
                used += 1;
                if reg.registry.used.get(&c) != Some(&name) {
                    return Err(invalid(
                        Location::Table("used_recovery"),
                        format!("row {} differs from the replay", hex::encode(c)),
                    ));
                }
            }
            DerivedRow::Live(id, idx) => {
                live += 1;
                if reg.registry.live.get(&id).map(|x| x.0) != Some(idx) {
                    return Err(invalid(
                        Location::Table("live"),
                        format!("row {} differs from the replay", hex::encode(id)),
                    ));
                }
            }
        }
        Ok(())
    })?;
    for (name, got, want) in [
        ("keys", keys, reg.registry.keys.len()),
        ("orgs", orgs, reg.registry.orgs.len()),
        ("live", live, reg.registry.live.len()),
        (
            "recovery",
            recovery,
            reg.registry
                .orgs
                .values()
                .filter(|o| o.recovery.is_some())
                .count(),
        ),
        ("used_recovery", used, reg.registry.used.len()),
    ] {
        if got != want {
            return Err(invalid(
                Location::Table(name),
                format!("{got} rows where the replay gives {want}"),
            ));
        }
    }
    Ok(())
}

/// One entry after phase 2 of a replay: the key to check its signature with, the statement,
/// and the stored hashes it adds to the tree.
type Stepped = (PublicKey, Statement, Vec<(u64, Hash)>);

/// What a replay leaves besides the report.
pub struct ReplayTotals {
    /// The rebuilt registry.
    pub registry: MemRegistry,
}

/// A streaming replay of entries in index order: the verifier's state machine, shared by the
/// database and export-file verifiers.
pub struct Replay<'c> {
    origin: String,
    catalogue: &'c Catalogue,
    vkey: VerifierKey,
    registry: MemRegistry,
    frontier: Frontier,
    prev: Hash,
    last_time: Seconds,
    by_kind: [u64; 6],
    checkpoints: u64,
    latest: Option<SignedCheckpoint>,
}

impl<'c> Replay<'c> {
    /// A replay of a ledger with this origin, checked against `vkey`.
    pub fn new(origin: String, catalogue: &'c Catalogue, vkey: VerifierKey) -> Self {
        Replay {
            origin,
            catalogue,
            vkey,
            registry: MemRegistry::default(),
            frontier: Frontier::new(),
            prev: GENESIS_PREV,
            last_time: Seconds::MIN,
            by_kind: [0; 6],
            checkpoints: 0,
            latest: None,
        }
    }

    /// Entries replayed so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The Merkle root of the entries replayed so far.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Checks a signed checkpoint of the current size against the replayed tree.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] at [`Location::Checkpoint`].
    pub fn check_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<(), LedgerError> {
        let at = Location::Checkpoint(size);
        let cp = SignedCheckpoint::open(note, &self.vkey).map_err(|e| invalid(at.clone(), e.to_string()))?;
        if cp.checkpoint.size != size {
            return Err(invalid(at, format!("note says size {}", cp.checkpoint.size)));
        }
        if size != self.size() {
            return Err(invalid(at, format!("ledger holds {} entries here", self.size())));
        }
        if cp.checkpoint.root != self.root() {
            return Err(invalid(
                at,
                "signed root does not match the root rebuilt from the entries (entries altered, reordered or removed)",
            ));
        }
        self.checkpoints += 1;
        self.latest = Some(cp);
        Ok(())
    }

    /// Replays a batch of (stored key, entry bytes) in index order. `derived` is called for
    /// each accepted entry with its stored hashes and statement.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] naming the first bad entry.
    pub fn feed(
        &mut self,
        batch: &[(u64, Vec<u8>)],
        mut derived: impl FnMut(u64, &[(u64, Hash)], &Statement) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        // Phase 1 (parallel): strict decoding of entries and statements.
        let decoded: Vec<Result<(Entry, Statement), LedgerError>> = batch
            .par_iter()
            .map(|(k, b)| decode_entry_statement(*k, b))
            .collect();
        // Phase 2 (in order): chain, times, rules, tree; collect keys to check signatures with.
        let mut accepted = Vec::with_capacity(batch.len());
        let mut first_err = None;
        for ((key, bytes), d) in batch.iter().zip(decoded) {
            let expected = self.size();
            match self.step(expected, *key, bytes, d) {
                Ok((k, st, stored)) => accepted.push((expected, st, k, stored)),
                Err(e) => {
                    first_err = Some(e);
                    break;
                }
            }
        }
        // Phase 3 (parallel): verify_strict every signature accepted so far.
        let bad = accepted
            .par_iter()
            .position_first(|(_, st, k, _)| st.verify_signature(k).is_err());
        let end = bad.unwrap_or(accepted.len());
        // Phase 4 (in order): the derived tables agree with every valid entry before the first
        // bad one.
        for (index, st, _, stored) in &accepted[..end] {
            derived(*index, stored, st)?;
        }
        if let Some(i) = bad {
            return Err(invalid(
                Location::Entry(accepted[i].0),
                "signature does not verify with the organisation's key",
            ));
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Phase 2 for one entry.
    fn step(
        &mut self,
        expected: u64,
        key: u64,
        bytes: &[u8],
        decoded: Result<(Entry, Statement), LedgerError>,
    ) -> Result<Stepped, LedgerError> {
        if key != expected {
            return Err(invalid(
                Location::Entry(expected),
                format!("missing: the next stored entry is {key}"),
            ));
        }
        let (e, st) = decoded?;
        let at = Location::Entry(expected);
        if e.index != expected {
            return Err(invalid(
                at,
                format!("entry says index {}, stored at {expected}", e.index),
            ));
        }
        if e.prev != self.prev {
            return Err(invalid(
                at,
                format!(
                    "chain link (prev) is not the leaf hash of entry {} (one of the two was altered)",
                    expected.wrapping_sub(1)
                ),
            ));
        }
        if e.logged_at < self.last_time {
            return Err(invalid(at, "log time is earlier than the entry before"));
        }
        let k = check_rules(&st, &self.origin, e.logged_at, &self.registry, self.catalogue)?
            .map_err(|r| invalid(at.clone(), r.to_string()))?;
        apply(&mut self.registry, expected, e.logged_at, &st)?;
        let leaf = Entry::leaf_hash(bytes);
        let stored = self.frontier.push(leaf);
        self.prev = leaf;
        self.last_time = e.logged_at;
        match &st.payload.body {
            Body::Registration(_) => self.by_kind[0] += 1,
            Body::Attestation(_) => self.by_kind[1] += 1,
            Body::Withdrawal(_) => self.by_kind[2] += 1,
            Body::Rotation(_) => self.by_kind[3] += 1,
            Body::Revocation(_) => self.by_kind[4] += 1,
            Body::Recovery(_) => self.by_kind[5] += 1,
            Body::Acceptance(_) => {}
        }
        Ok((k, st, stored))
    }

    /// Ends the replay: the latest checkpoint must cover every entry.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`].
    pub fn finish(self) -> Result<(VerifyReport, ReplayTotals), LedgerError> {
        let Some(latest) = self.latest else {
            return Err(invalid(Location::Ledger, "no signed checkpoint"));
        };
        if latest.checkpoint.size != self.frontier.size() {
            return Err(invalid(
                Location::Checkpoint(latest.checkpoint.size),
                format!(
                    "the latest signed checkpoint covers {} entries but the ledger holds {} (entries added without a checkpoint)",
                    latest.checkpoint.size,
                    self.frontier.size()
                ),
            ));
        }
        let report = VerifyReport {
            checkpoint: latest,
            entries: self.frontier.size(),
            checkpoints: self.checkpoints,
            organisations: self.registry.org_count() as u64,
            live_attestations: self.registry.live_count() as u64,
            by_kind: self.by_kind,
            untrusted: Vec::new(),
        };
        Ok((
            report,
            ReplayTotals {
                registry: self.registry,
            },
        ))
    }
}
