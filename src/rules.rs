//! The ledger's rules: what each statement kind requires of the ledger so far
//! ([`check_rules`]), and the one place that records an accepted statement's effects
//! ([`apply`]) on a [`Registry`], whether that is the custodian's derived tables or the
//! verifier's in-memory replay. docs/FORMAT.md section 7 states the same rules in prose.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::keys::PublicKey;
use crate::norms::Catalogue;
use crate::statement::{Body, Kind, Statement, StatementError, StatementId};
use crate::verdict::{invalid, Location, VerifyError};

use crate::time::Seconds;

/// How far a statement's issued-at time may lie after the time it is logged (clock skew).
pub const MAX_FUTURE_SKEW: Seconds = 600;

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
    #[error("organisation {org:?} is already registered (entry {index}); names are compared after NFC normalisation and lower-casing")]
    NameTaken {
        /// Normalised name.
        org: String,
        /// Its registration entry.
        index: u64,
    },
    /// A version-2 registration whose name breaks a refusal rule of FORMAT.md section 4.1.
    #[error("organisation name refused: {0}")]
    NameRefused(#[from] crate::names::NameError),
    /// A version-2 registration whose name looks like one registered before (equal
    /// comparison keys, FORMAT.md section 4.1).
    #[error("organisation name looks like {existing:?}, registered at entry {index}; a name that looks like a registered one is refused")]
    LooksLike {
        /// The name as registered before.
        existing: String,
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
    /// A revocation of a key that has already ended.
    #[error("key {kid} already stopped speaking for the organisation at entry {index}; there is nothing left to revoke")]
    TargetEnded {
        /// Hex key id of the target.
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
    /// A signing key that is the organisation's committed recovery key (rules version 2): the
    /// holder of one key would hold both, and could recover, install keys of their own and
    /// mark the whole history compromised.
    #[error("{what} is the organisation's committed recovery key; the signing key and the recovery key must be different keys (keep the recovery key offline)")]
    RecoveryKeyAsSigningKey {
        /// Which key: "the key being registered", "the new key".
        what: &'static str,
    },
    /// Issued more than [`MAX_FUTURE_SKEW`] after it was logged.
    #[error("issued at {iat}, after it was logged ({logged})")]
    IssuedInFuture {
        /// RFC 3339.
        iat: String,
        /// RFC 3339.
        logged: String,
    },
}

/// A registered key as the `keys` table records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The raw public key.
    pub public_key: [u8; 32],
    /// Index of the registration entry.
    pub registration: u64,
    /// The organisation (normalised).
    pub org: String,
    /// When the key stopped speaking for the organisation: (entry index, log time).
    pub ended: Option<(u64, i64)>,
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

/// One statement of an organisation's history, as a later recovery needs it: a recovery whose
/// compromise mark covers it makes it untrusted and voids what it did (docs/FORMAT.md
/// section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryItem {
    /// Its entry index.
    pub index: u64,
    /// When it was logged.
    pub logged_at: Seconds,
    /// The key id in its protected header.
    pub kid: [u8; 32],
    /// For a withdrawal or a superseding attestation: the index of the attestation it ended.
    pub ends: Option<u64>,
}

/// What rules need to know about the ledger so far, and the primitive updates that record an
/// accepted statement. [`apply`] is the one place that decides those updates.
pub trait Registry {
    /// A registered key (ended or not).
    ///
    /// # Errors
    /// Storage failures.
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError>;
    /// An organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, VerifyError>;
    /// Index of a statement already in the ledger.
    ///
    /// # Errors
    /// Storage failures.
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, VerifyError>;
    /// A live (not withdrawn, not superseded) attestation: its index and organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, VerifyError>;
    /// The organisation and kind of the statement at `index` (for error messages).
    ///
    /// # Errors
    /// Storage failures.
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, VerifyError>;
    /// The organisation that already used the recovery key with this commitment.
    ///
    /// # Errors
    /// Storage failures.
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, VerifyError>;
    /// The registration that recorded a name comparison key (FORMAT.md section 4.1): its
    /// index and the name as registered.
    ///
    /// # Errors
    /// Storage failures.
    fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, VerifyError>;
    /// Records a name comparison key for the registration at `index` of `name`.
    ///
    /// # Errors
    /// Storage failures.
    fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), VerifyError>;
    /// Every key ever registered to an organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, VerifyError>;
    /// The key of `rec` (registered under `kid`), ready to verify with. Decompressing an
    /// Ed25519 point costs a field exponentiation, so a registry that lives for a whole
    /// replay keeps the keys it has decompressed.
    ///
    /// # Errors
    /// [`VerifyError::Invalid`] at the keys table if the stored bytes are not a valid key.
    fn verifying_key(&self, kid: &[u8; 32], rec: &KeyRecord) -> Result<PublicKey, VerifyError> {
        let _ = kid;
        PublicKey::from_bytes(&rec.public_key).map_err(|e| invalid(Location::Table("keys"), e.to_string()))
    }

    /// Records a statement at an index, under its organisation, with what a later recovery
    /// needs to know of it ([`HistoryItem`]).
    ///
    /// # Errors
    /// Storage failures.
    fn put_statement(&mut self, id: &StatementId, org: &str, item: &HistoryItem) -> Result<(), VerifyError>;
    /// The statements of `org` logged after `since` at indexes below `before`, in index order:
    /// what a recovery with compromise time `since` at index `before` may make untrusted.
    ///
    /// # Errors
    /// Storage failures.
    fn history_since(&self, org: &str, since: Seconds, before: u64) -> Result<Vec<HistoryItem>, VerifyError>;
    /// For an attestation that stopped being live: its statement id and the entry that ended
    /// it (a withdrawal or a superseding attestation).
    ///
    /// # Errors
    /// Storage failures.
    fn ended(&self, index: u64) -> Result<Option<(StatementId, u64)>, VerifyError>;
    /// Makes the attestation at `index` live again: the statement that ended it was made
    /// untrusted by a recovery, and an untrusted statement has no effect.
    ///
    /// # Errors
    /// Storage failures.
    fn relive(&mut self, index: u64, id: &StatementId, org: &str) -> Result<(), VerifyError>;
    /// The recovery that made the entry at `index` untrusted, if one did.
    ///
    /// # Errors
    /// Storage failures.
    fn untrusted(&self, index: u64) -> Result<Option<u64>, VerifyError>;
    /// Records that the recovery at `recovery` made the entry at `index` untrusted.
    ///
    /// # Errors
    /// Storage failures.
    fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), VerifyError>;
    /// Stores a key record.
    ///
    /// # Errors
    /// Storage failures.
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError>;
    /// Stores an organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), VerifyError>;
    /// Marks a recovery commitment used.
    ///
    /// # Errors
    /// Storage failures.
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), VerifyError>;
    /// Marks an attestation live, indexed under its norms; `expires` is its expiry, if any.
    ///
    /// # Errors
    /// Storage failures.
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        org: &str,
        norms: &[&str],
        expires: Option<Seconds>,
    ) -> Result<(), VerifyError>;
    /// Ends an attestation's liveness; `by` is the index of the statement that ends it.
    ///
    /// # Errors
    /// Storage failures.
    fn remove_live(&mut self, id: &StatementId, org: &str, by: u64) -> Result<(), VerifyError>;
    /// Records a recovery that set a compromise time.
    ///
    /// # Errors
    /// Storage failures.
    fn put_mark(&mut self, mark: RecoveryMark) -> Result<(), VerifyError>;
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
) -> Result<(), VerifyError> {
    let id = st.id();
    let target = |reg: &mut dyn RegistryDyn, t: Option<&StatementId>| -> Result<Option<u64>, VerifyError> {
        match t {
            Some(t) => reg.statement_dyn(t),
            None => Ok(None),
        }
    };
    let ends = match &st.payload.body {
        Body::Attestation(a) => target(&mut Dyn(reg), a.supersedes.as_ref())?,
        Body::Withdrawal(w) => target(&mut Dyn(reg), Some(&w.target))?,
        _ => None,
    };
    reg.put_statement(
        &id,
        &st.iss,
        &HistoryItem {
            index,
            logged_at,
            kid: st.kid,
            ends,
        },
    )?;
    let new_key = |k: &PublicKey| KeyRecord {
        public_key: k.to_bytes(),
        registration: index,
        org: st.iss.clone(),
        ended: None,
    };
    let end = |reg: &mut dyn RegistryDyn, kid: &[u8; 32]| -> Result<(), VerifyError> {
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
            // The name's comparison key, recorded unless an earlier registration holds it (a
            // version-2 registration whose key is taken was refused; a version-1 one is not,
            // and the first registration of a key wins). Keys of both versions are computed
            // alike; a name a version-1 entry may hold that has none is not recorded.
            if let Some(key) = crate::names::comparison_key_v1(&r.name) {
                if reg.name_key(&key)?.is_none() {
                    reg.put_name_key(&key, index, &r.name)?;
                }
            }
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
                reg.remove_live(t, &st.iss, index)?;
            }
            let norms: Vec<&str> = a.norms.iter().map(|n| n.id.as_str()).collect();
            reg.put_live(&id, index, &st.iss, &norms, a.expires)?;
        }
        Body::Withdrawal(w) => reg.remove_live(&w.target, &st.iss, index)?,
        Body::Acceptance(_) => {}
        Body::Rotation(r) => {
            end(&mut Dyn(reg), &st.kid)?;
            if let Some(k) = r.new_key() {
                reg.put_key(&k.kid(), &new_key(k))?;
            }
        }
        Body::Revocation(r) => end(&mut Dyn(reg), &r.target)?,
        Body::Recovery(r) => {
            let mut keys = reg.keys_of(&st.iss)?;
            if let Some(since) = r.compromised_since {
                let kids: HashSet<[u8; 32]> = keys
                    .iter()
                    .filter(|(_, k)| k.ended.is_none_or(|(_, t)| t > since))
                    .map(|(kid, _)| *kid)
                    .collect();
                void_untrusted(reg, &st.iss, index, since, &kids, &mut keys)?;
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

/// The effects of a compromise mark (docs/FORMAT.md section 7): every statement of `org`
/// logged after `since`, before the recovery at `recovery`, and signed by one of `kids` becomes
/// untrusted, and what it did is void. An attestation it withdrew or superseded is live again
/// (if nothing since ended it again); a key it ended (a rotation's signing key, a revoked key)
/// no longer counts as ended there, so the recovery ends it with the others. `keys` is the
/// organisation's keys, updated in place to match the registry.
fn void_untrusted(
    reg: &mut impl Registry,
    org: &str,
    recovery: u64,
    since: Seconds,
    kids: &HashSet<[u8; 32]>,
    keys: &mut [([u8; 32], KeyRecord)],
) -> Result<(), VerifyError> {
    // The organisation's registration is never made untrusted: its recovery commitment is what
    // authorises this recovery.
    let registration = reg.org(org)?.map(|o| o.registration);
    let covered: Vec<HistoryItem> = reg
        .history_since(org, since, recovery)?
        .into_iter()
        .filter(|h| kids.contains(&h.kid) && Some(h.index) != registration)
        .collect();
    for h in &covered {
        if reg.untrusted(h.index)?.is_none() {
            reg.put_untrusted(h.index, recovery)?;
        }
    }
    for h in &covered {
        if let Some(t) = h.ends {
            if let Some((tid, by)) = reg.ended(t)? {
                if by == h.index {
                    reg.relive(t, &tid, org)?;
                }
            }
        }
    }
    for (kid, k) in keys.iter_mut() {
        if let Some((i, _)) = k.ended {
            if covered.iter().any(|h| h.index == i) {
                k.ended = None;
                reg.put_key(kid, k)?;
            }
        }
    }
    Ok(())
}

/// Object-safe slice of [`Registry`] used inside [`apply`].
trait RegistryDyn {
    fn key_dyn(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError>;
    fn put_key_dyn(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError>;
    fn statement_dyn(&self, id: &StatementId) -> Result<Option<u64>, VerifyError>;
}

struct Dyn<'a, R: Registry + ?Sized>(&'a mut R);

impl<R: Registry + ?Sized> RegistryDyn for Dyn<'_, R> {
    fn key_dyn(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError> {
        self.0.key(kid)
    }
    fn put_key_dyn(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError> {
        self.0.put_key(kid, rec)
    }
    fn statement_dyn(&self, id: &StatementId) -> Result<Option<u64>, VerifyError> {
        self.0.statement(id)
    }
}

/// Checks the ledger rules for a statement logged at `logged_at` in an entry of `version`
/// (the rules version, docs/FORMAT.md section 5) and returns the key that must have signed
/// it. The signature itself is checked by the caller (in parallel).
///
/// # Errors
/// [`Rejection`] for a rule broken; [`VerifyError`] for storage failures.
pub fn check_rules(
    st: &Statement,
    origin: &str,
    logged_at: Seconds,
    version: u64,
    reg: &impl Registry,
    catalogue: &Catalogue,
) -> Result<Result<PublicKey, Rejection>, VerifyError> {
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
    let key_free = |k: &PublicKey| -> Result<Option<Rejection>, VerifyError> {
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
            if version >= 2 && r.recovery == Some(r.public_key.kid()) {
                return Ok(Err(Rejection::RecoveryKeyAsSigningKey {
                    what: "the key being registered",
                }));
            }
            if version >= 2 {
                let key = match crate::names::comparison_key(&r.name) {
                    Ok(k) => k,
                    Err(e) => return Ok(Err(Rejection::NameRefused(e))),
                };
                if let Some((index, existing)) = reg.name_key(&key)? {
                    return Ok(Err(Rejection::LooksLike { existing, index }));
                }
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
            // Whatever committed to it again, a recovery key used once is spent.
            if reg.used_recovery(&presented)?.is_some() {
                return Ok(Err(Rejection::RecoveryKeyUsed));
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
    let key = reg.verifying_key(&st.kid, &rec)?;
    let live_target = |target: &StatementId, what: &'static str| -> Result<Option<Rejection>, VerifyError> {
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
                let Some((_, text_hash)) = catalogue.get_with_hash(n.id.as_str()) else {
                    return Ok(Err(Rejection::UnknownNorm(n.id.to_string())));
                };
                if text_hash != n.text_hash {
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
                if version >= 2 && reg.org(&st.iss)?.and_then(|o| o.recovery) == Some(k.kid()) {
                    return Ok(Err(Rejection::RecoveryKeyAsSigningKey { what: "the new key" }));
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
                return Ok(Err(Rejection::TargetEnded {
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
    pub(crate) keys: HashMap<[u8; 32], KeyRecord>,
    pub(crate) orgs: HashMap<String, OrgRecord>,
    pub(crate) ids: HashMap<StatementId, u64>,
    /// Live attestations: (index, organisation), the name shared through `names`.
    pub(crate) live: HashMap<StatementId, (u64, Arc<str>)>,
    /// Attestations that stopped being live, by index: (organisation, statement id, index of
    /// the statement that ended it).
    pub(crate) ended: HashMap<u64, (Arc<str>, StatementId, u64)>,
    /// Entries made untrusted by a recovery: index → the recovery's index.
    pub(crate) untrusted: BTreeMap<u64, u64>,
    /// Name comparison keys → (registration index, name as registered).
    pub(crate) name_keys: HashMap<String, (u64, String)>,
    /// Expiry of the attestations that have one, by index.
    pub(crate) expiry: HashMap<u64, Seconds>,
    /// Every statement put, in index order, compactly: what a recovery needs
    /// ([`HistoryItem`]).
    history: Vec<CompactItem>,
    /// Key ids that signed statements, numbered for `history`.
    kid_list: Vec<[u8; 32]>,
    kid_ids: HashMap<[u8; 32], u32>,
    /// Organisations, numbered for `history`.
    org_ids: HashMap<Arc<str>, u32>,
    /// One copy of each organisation name that `live` and `ended` refer to.
    names: HashSet<Arc<str>>,
    pub(crate) used: HashMap<[u8; 32], String>,
    pub(crate) marks: Vec<RecoveryMark>,
    pub(crate) norm_rows: u64,
    /// Decompressed keys by kid, so a replay decompresses each key once.
    pub(crate) verifying: HashMap<[u8; 32], PublicKey>,
    /// Per organisation, the digest of the ascending indexes of its entries (see
    /// [`IndexChain`]): what the `org_entries` table must hold for it.
    pub(crate) org_chains: HashMap<String, IndexChain>,
    /// Per norm, the digest of the ascending indexes of attestations naming it.
    pub(crate) norm_chains: HashMap<String, IndexChain>,
}

/// A [`HistoryItem`] in 32 bytes: the key id and organisation by number.
#[derive(Debug, Clone, Copy)]
struct CompactItem {
    index: u64,
    logged_at: Seconds,
    /// Index of the attestation it ended, or `u64::MAX`.
    ends: u64,
    kid: u32,
    org: u32,
}

/// A running SHA-256 digest of an ascending list of entry indexes: the hash of their
/// concatenation, each as 8 bytes big-endian (fixed width, so one digest means one list).
///
/// `verify` compares the `org_entries` and `norm_entries` tables with the replay through
/// these: the replay keeps one digest per organisation and per norm (memory bounded by
/// organisations and norms, not entries), a sequential scan of each table computes the same
/// digests from its rows, and equal digests mean equal lists (SHA-256 being collision
/// resistant). One scan replaces a B-tree lookup per entry, and hashing the list as one
/// stream costs one SHA-256 block per 8 indexes.
#[derive(Debug, Clone, Default)]
pub struct IndexChain(sha2::Sha256);

impl IndexChain {
    /// Appends `index` to the list.
    pub fn push(&mut self, index: u64) {
        use sha2::Digest;
        self.0.update(index.to_be_bytes());
    }

    /// The digest of the list so far.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest;
        self.0.clone().finalize().into()
    }

    /// Appends `index` to the chain kept under `name` (a new, empty one if there is none).
    pub fn push_under(chains: &mut HashMap<String, IndexChain>, name: &str, index: u64) {
        match chains.get_mut(name) {
            Some(c) => c.push(index),
            None => chains.entry(name.to_string()).or_default().push(index),
        }
    }
}

impl Registry for MemRegistry {
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError> {
        Ok(self.keys.get(kid).cloned())
    }
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, VerifyError> {
        Ok(self.orgs.get(org).cloned())
    }
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, VerifyError> {
        Ok(self.ids.get(id).copied())
    }
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, VerifyError> {
        Ok(self.live.get(id).map(|(i, org)| (*i, org.to_string())))
    }
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, VerifyError> {
        Ok(self
            .ended
            .get(&index)
            .map(|(org, _, _)| (org.to_string(), Kind::Attestation)))
    }
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, VerifyError> {
        Ok(self.used.get(commitment).cloned())
    }
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, VerifyError> {
        Ok(self
            .keys
            .iter()
            .filter(|(_, k)| k.org == org)
            .map(|(i, k)| (*i, k.clone()))
            .collect())
    }
    fn put_statement(&mut self, id: &StatementId, org: &str, item: &HistoryItem) -> Result<(), VerifyError> {
        self.ids.insert(*id, item.index);
        IndexChain::push_under(&mut self.org_chains, org, item.index);
        let kid = match self.kid_ids.get(&item.kid) {
            Some(&k) => k,
            None => {
                let k = u32::try_from(self.kid_list.len()).map_err(|_| too_many("keys"))?;
                self.kid_list.push(item.kid);
                self.kid_ids.insert(item.kid, k);
                k
            }
        };
        let org = match self.org_ids.get(org) {
            Some(&o) => o,
            None => {
                let o = u32::try_from(self.org_ids.len()).map_err(|_| too_many("organisations"))?;
                let name = self.name(org);
                self.org_ids.insert(name, o);
                o
            }
        };
        self.history.push(CompactItem {
            index: item.index,
            logged_at: item.logged_at,
            ends: item.ends.unwrap_or(u64::MAX),
            kid,
            org,
        });
        Ok(())
    }
    fn history_since(&self, org: &str, since: Seconds, before: u64) -> Result<Vec<HistoryItem>, VerifyError> {
        let Some(&o) = self.org_ids.get(org) else {
            return Ok(Vec::new());
        };
        let end = self.history.partition_point(|h| h.index < before);
        let mut out: Vec<HistoryItem> = self.history[..end]
            .iter()
            .rev()
            // Log times never decrease along the chain: stop at the first one not after `since`.
            .take_while(|h| h.logged_at > since)
            .filter(|h| h.org == o)
            .map(|h| HistoryItem {
                index: h.index,
                logged_at: h.logged_at,
                kid: self.kid_list[h.kid as usize],
                ends: (h.ends != u64::MAX).then_some(h.ends),
            })
            .collect();
        out.reverse();
        Ok(out)
    }
    fn ended(&self, index: u64) -> Result<Option<(StatementId, u64)>, VerifyError> {
        Ok(self.ended.get(&index).map(|(_, id, by)| (*id, *by)))
    }
    fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, VerifyError> {
        Ok(self.name_keys.get(key).cloned())
    }
    fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), VerifyError> {
        self.name_keys.insert(key.to_string(), (index, name.to_string()));
        Ok(())
    }
    fn relive(&mut self, index: u64, id: &StatementId, org: &str) -> Result<(), VerifyError> {
        self.ended.remove(&index);
        let org = self.name(org);
        self.live.insert(*id, (index, org));
        Ok(())
    }
    fn untrusted(&self, index: u64) -> Result<Option<u64>, VerifyError> {
        Ok(self.untrusted.get(&index).copied())
    }
    fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), VerifyError> {
        self.untrusted.insert(index, recovery);
        Ok(())
    }
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError> {
        if !self.verifying.contains_key(kid) {
            // A key that does not decompress is left out, and reported by `verifying_key`.
            if let Ok(k) = PublicKey::from_bytes(&rec.public_key) {
                self.verifying.insert(*kid, k);
            }
        }
        self.keys.insert(*kid, rec.clone());
        Ok(())
    }
    fn verifying_key(&self, kid: &[u8; 32], rec: &KeyRecord) -> Result<PublicKey, VerifyError> {
        match self.verifying.get(kid) {
            Some(k) if k.to_bytes() == rec.public_key => Ok(*k),
            _ => PublicKey::from_bytes(&rec.public_key)
                .map_err(|e| invalid(Location::Table("keys"), e.to_string())),
        }
    }
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), VerifyError> {
        self.orgs.insert(org.to_string(), rec.clone());
        Ok(())
    }
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), VerifyError> {
        self.used.insert(*commitment, org.to_string());
        Ok(())
    }
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        org: &str,
        norms: &[&str],
        expires: Option<Seconds>,
    ) -> Result<(), VerifyError> {
        let org = self.name(org);
        self.live.insert(*id, (index, org));
        if let Some(x) = expires {
            self.expiry.insert(index, x);
        }
        self.norm_rows += norms.len() as u64;
        for n in norms {
            IndexChain::push_under(&mut self.norm_chains, n, index);
        }
        Ok(())
    }
    fn remove_live(&mut self, id: &StatementId, org: &str, by: u64) -> Result<(), VerifyError> {
        if let Some((i, _)) = self.live.remove(id) {
            let org = self.name(org);
            self.ended.insert(i, (org, *id, by));
        }
        Ok(())
    }
    fn put_mark(&mut self, mark: RecoveryMark) -> Result<(), VerifyError> {
        self.marks.push(mark);
        Ok(())
    }
}

/// A registry that outgrew the 32-bit numbering of keys or organisations.
fn too_many(what: &str) -> VerifyError {
    invalid(Location::Ledger, format!("more than 2^32 {what}"))
}

impl MemRegistry {
    /// Entries made untrusted by a recovery, with the recovery's index, in index order.
    pub fn untrusted_entries(&self) -> &BTreeMap<u64, u64> {
        &self.untrusted
    }

    /// The shared copy of an organisation name.
    fn name(&mut self, org: &str) -> Arc<str> {
        match self.names.get(org) {
            Some(n) => Arc::clone(n),
            None => {
                let n: Arc<str> = Arc::from(org);
                self.names.insert(Arc::clone(&n));
                n
            }
        }
    }

    /// Number of registered organisations.
    pub fn org_count(&self) -> usize {
        self.orgs.len()
    }
    /// Number of live attestations (expired ones included, untrusted ones left out).
    pub fn live_count(&self) -> usize {
        self.live
            .values()
            .filter(|(i, _)| !self.untrusted.contains_key(i))
            .count()
    }
    /// The expiry times of the attestations [`MemRegistry::live_count`] counts that have one.
    pub fn live_expiries(&self) -> Vec<Seconds> {
        self.live
            .values()
            .filter(|(i, _)| !self.untrusted.contains_key(i))
            .filter_map(|(i, _)| self.expiry.get(i).copied())
            .collect()
    }
    /// Recoveries that set a compromise time.
    pub fn marks(&self) -> &[RecoveryMark] {
        &self.marks
    }
}
