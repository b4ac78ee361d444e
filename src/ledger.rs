//! The ledger: creating it, appending signed statements, replaying and verifying it.
//!
//! Appending and verifying share one set of rules ([`check_rules`], in [`crate::rules`])
//! applied to one registry interface ([`Registry`]): the append path reads the store's derived
//! tables, the verify path ([`crate::replay`]) rebuilds them in memory from the entries alone
//! and then compares them with the store.

use std::collections::HashSet;

use rayon::prelude::*;

use crate::bundle::{Bundle, Consistency, ConsistencyProof, Included};
use crate::checkpoint::{Checkpoint, CheckpointError, LedgerKey, SignedCheckpoint, VerifierKey};
use crate::entry::{Entry, EntryError, EntryRef, ENTRY_VERSION, GENESIS_PREV};
use crate::norms::Catalogue;
use crate::proof::{self, Frontier};
use crate::replay::{check_derived_tables, index_chains};
pub use crate::replay::{Batch, Replay, ReplayTotals};
pub use crate::rules::{
    apply, check_rules, MemRegistry, OrgRecord, RecoveryMark, Registry, Rejection, MAX_FUTURE_SKEW,
};
use crate::statement::{Body, Kind, Statement, StatementError, StatementId};
use crate::store::{ReadTables, Store, StoreError};
use crate::time::Seconds;

/// Entries checked per parallel batch by [`Ledger::verify`].
pub const VERIFY_BATCH: usize = 4_096;

/// Statements per chunk handed to the signature checker during an append.
const APPEND_CHECK_CHUNK: usize = 256;

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

pub(crate) fn invalid(at: Location, problem: impl Into<String>) -> LedgerError {
    LedgerError::Invalid {
        at,
        problem: problem.into(),
    }
}

pub(crate) fn decode_entry_statement(
    index: u64,
    bytes: &[u8],
) -> Result<(EntryRef<'_>, Statement), LedgerError> {
    let e = EntryRef::decode(bytes).map_err(|e| invalid(Location::Entry(index), entry_problem(&e)))?;
    let st = Statement::decode(e.statement)
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
    /// Attestations not withdrawn or superseded and not untrusted (expired ones included; see
    /// [`VerifyReport::live_at`]).
    pub live_attestations: u64,
    /// The expiry times of those that have one.
    pub live_expiries: Vec<crate::time::Seconds>,
    /// Counts by kind: registrations, attestations, withdrawals, rotations, revocations,
    /// recoveries.
    pub by_kind: [u64; 6],
    /// Entries that a later recovery made untrusted (valid history, not to be relied on).
    pub untrusted: Vec<u64>,
}

impl VerifyReport {
    /// The attestations in force at `t`: live, not untrusted, not expired by `t`.
    pub fn live_at(&self, t: crate::time::Seconds) -> u64 {
        let expired = self.live_expiries.iter().filter(|&&x| x <= t).count() as u64;
        self.live_attestations - expired
    }
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

    /// Upgrades a ledger written by an older accord (store format 1): rebuilds every derived
    /// table by applying each entry again, in one durable transaction. Returns the number of
    /// entries applied, or `None` when the ledger is already of the current format.
    ///
    /// # Errors
    /// [`LedgerError::Store`]; [`LedgerError::Invalid`] for an entry that does not decode.
    pub fn upgrade(dir: &std::path::Path) -> Result<Option<u64>, LedgerError> {
        let (store, old) = Store::open_any_format(dir)?;
        if !old {
            return Ok(None);
        }
        let n = store.rebuild_derived(|t| {
            let size = t.entry_count()?;
            let mut next = 0u64;
            while next < size {
                let mut chunk = Vec::with_capacity(1024);
                t.for_each_entry(next, |i, b| -> Result<bool, StoreError> {
                    chunk.push((i, b.to_vec()));
                    Ok(chunk.len() < 1024)
                })?;
                if chunk.is_empty() {
                    break;
                }
                for (i, b) in &chunk {
                    if *i != next {
                        return Err(invalid(Location::Entry(next), "missing"));
                    }
                    let (e, st) = decode_entry_statement(*i, b)?;
                    apply(&mut *t, *i, e.logged_at, &st)?;
                    next += 1;
                }
            }
            Ok::<_, LedgerError>(next)
        })?;
        Ok(Some(n))
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
            // The custodian checks every signature before anything is committed. A checker
            // thread verifies them on all cores as the rules hand out keys, while this thread
            // applies the rules and writes the entries; any failure aborts the transaction.
            let (tx, rx) = std::sync::mpsc::channel::<Vec<(usize, crate::keys::PublicKey)>>();
            let sts = &sts;
            let (written, first_bad) = std::thread::scope(|s| {
                let checker = s.spawn(move || {
                    // The first bad signature by position, with why it failed.
                    let mut first_bad: Option<(usize, StatementError)> = None;
                    for chunk in rx {
                        let bad = chunk
                            .par_iter()
                            .filter_map(|(i, k)| sts[*i].verify_signature(k).err().map(|e| (*i, e)))
                            .min_by_key(|(i, _)| *i);
                        if let Some((i, e)) = bad {
                            if first_bad.as_ref().is_none_or(|(b, _)| i < *b) {
                                first_bad = Some((i, e));
                            }
                        }
                    }
                    first_bad
                });
                let written = (|| -> Result<Vec<Appended>, LedgerError> {
                    // Dropped on every return, which ends the checker's loop.
                    let tx = tx;
                    let mut chunk = Vec::with_capacity(APPEND_CHECK_CHUNK);
                    for (i, st) in sts.iter().enumerate() {
                        let index = size + i as u64;
                        let key = check_rules(st, &origin, logged_at, ENTRY_VERSION, &*t, catalogue)?.map_err(|r| {
                            LedgerError::Rejected {
                                position: i + 1,
                                rejection: r,
                            }
                        })?;
                        apply(&mut *t, index, logged_at, st)?;
                        chunk.push((i, key));
                        if chunk.len() == APPEND_CHECK_CHUNK {
                            let _ = tx.send(std::mem::replace(
                                &mut chunk,
                                Vec::with_capacity(APPEND_CHECK_CHUNK),
                            ));
                        }
                    }
                    let _ = tx.send(chunk);
                    drop(tx);
                    let mut out = Vec::with_capacity(sts.len());
                    for (i, st) in sts.iter().enumerate() {
                        let index = size + i as u64;
                        let entry = Entry::new(index, prev, last_time, st.bytes().to_vec());
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
                    Ok(out)
                })();
                let first_bad = checker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (written, first_bad)
            });
            // A rule broken comes first (as the rules run in order); then the first bad signature.
            let out = written?;
            if let Some((i, e)) = first_bad {
                return Err(LedgerError::Rejected {
                    position: i + 1,
                    rejection: Rejection::from(e),
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

    /// Builds or extends a read-only mirror in `dir` from an export read from `input`, in one
    /// pass: the entries are verified as they stream in and written to the mirror in the same
    /// write transaction, which commits only after the whole export has verified (signatures,
    /// rules, tree and checkpoint). So the mirror receives exactly the bytes that were
    /// verified, whatever `input` is (a file, a pipe, a network file that changes), and a
    /// failed import leaves it exactly as it was. A new mirror is built in a staging file and
    /// moved into place only when complete. An existing mirror is extended only if the
    /// export's tree at the mirror's size has the mirror's root.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] for an invalid or inconsistent export (a smaller one is a
    /// rollback), [`LedgerError::BadArgument`] for a `dir` that is not a mirror of this ledger,
    /// storage errors.
    pub fn import(
        dir: &std::path::Path,
        input: &mut impl std::io::Read,
        vkey: &VerifierKey,
        catalogue: &Catalogue,
        progress: Option<Progress<'_>>,
    ) -> Result<ImportReport, LedgerError> {
        let header = crate::export::read_header(input)?;
        crate::export::open_header(&header, vkey)?;
        let existing = if Store::db_path(dir).exists() {
            Some(Ledger::open(dir)?)
        } else {
            None
        };
        let mirror = match &existing {
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
                let (m, note) = l.latest_checkpoint()?;
                Some((m, SignedCheckpoint::open(&note, vkey)?))
            }
            None => None,
        };
        let from = mirror.as_ref().map_or(0, |(m, _)| *m);
        if header.size < from {
            return Err(invalid(
                Location::Ledger,
                format!(
                    "ROLLBACK: the export holds {} entries but the mirror already has {from}",
                    header.size
                ),
            ));
        }
        let dir_existed = dir.exists();
        let (ledger, staged) = match existing {
            Some(l) => (l, None),
            None => {
                let (store, path) = Store::create_staged(dir)?;
                (Ledger { store }, Some(path))
            }
        };
        let result = ledger.store.write(|t| {
            if staged.is_some() {
                t.set_meta(META_ORIGIN, vkey.name().as_bytes())?;
                t.set_meta(META_VKEY, vkey.to_string().as_bytes())?;
                t.set_meta(META_KEY_FILE, b"")?;
                t.set_meta(META_MIRROR, b"1")?;
            }
            let mut frontier = Frontier::from_store(from, &*t)?;
            let (report, _, root_at) = crate::export::verify_export_entries(
                input,
                &header,
                vkey,
                catalogue,
                Some(from),
                progress,
                |batch| {
                    // Entries that passed the rules; the transaction commits only if every
                    // signature and the checkpoint verify too.
                    for (i, bytes) in batch.iter() {
                        if i < from {
                            continue;
                        }
                        let (e, st) = decode_entry_statement(i, bytes)?;
                        apply(&mut *t, i, e.logged_at, &st)?;
                        t.put_entry(i, bytes)?;
                        for (hi, h) in frontier.push(Entry::leaf_hash(bytes)) {
                            t.put_hash(hi, &h)?;
                        }
                    }
                    Ok(())
                },
            )?;
            if let Some((m, mine)) = &mirror {
                if root_at != Some(mine.checkpoint.root) {
                    return Err(invalid(
                        Location::Checkpoint(*m),
                        "FORK: the export's tree at the mirror's size has another root than the mirror",
                    ));
                }
            }
            if header.size > from || mirror.is_none() {
                t.put_checkpoint(header.size, &header.checkpoint)?;
            }
            Ok::<_, LedgerError>(report)
        });
        match (result, staged) {
            (Ok(report), Some(path)) => {
                ledger.store.publish_staged(&path)?;
                Ok(ImportReport { from, report })
            }
            (Ok(report), None) => Ok(ImportReport { from, report }),
            (Err(e), Some(path)) => {
                drop(ledger);
                let _ = std::fs::remove_file(&path);
                if !dir_existed {
                    // Only removes the directory if it is still empty.
                    let _ = std::fs::remove_dir(dir);
                }
                Err(e)
            }
            (Err(e), None) => Err(e),
        }
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
            // A reader thread fills the next batch, with the stored hashes it should complete,
            // while the replay works on this one. A batch ends at VERIFY_BATCH entries and at
            // every checkpoint size, so each signed root is compared with the tree of exactly
            // its size. A scanner thread reads the index tables meanwhile.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
            let sizes_ref = &sizes;
            let stop = std::sync::atomic::AtomicBool::new(false);
            let (replayed, read, chains) = std::thread::scope(|s| {
                let scanner = s.spawn(|| {
                    let scan =
                        |norms| crate::store::contain(|| index_chains(r, norms, catalogue, total, &stop));
                    (scan(false), scan(true))
                });
                let reader = s.spawn(move || {
                    crate::store::contain(|| -> Result<(), LedgerError> {
                        let mut batch = Batch::with_capacity(VERIFY_BATCH);
                        let mut next = 0usize;
                        // Entries sent so far: where the next batch should start if none is missing.
                        let mut sent = 0u64;
                        let mut send = |mut batch: Batch| -> Result<bool, LedgerError> {
                            let len = batch.len() as u64;
                            let range = proof::stored_hash_count(sent)..proof::stored_hash_count(sent + len);
                            sent += len;
                            batch.stored = Some(r.hashes_in(range)?);
                            // A closed channel means the replay stopped at an error.
                            Ok(tx.send(batch).is_ok())
                        };
                        r.for_each_entry(0, |k, v| -> Result<bool, LedgerError> {
                            batch.push(k, v);
                            let end = k.saturating_add(1);
                            while sizes_ref.get(next).is_some_and(|&s| s < end) {
                                next += 1;
                            }
                            if batch.len() == VERIFY_BATCH || sizes_ref.get(next) == Some(&end) {
                                return send(std::mem::replace(
                                    &mut batch,
                                    Batch::with_capacity(VERIFY_BATCH),
                                ));
                            }
                            Ok(true)
                        })?;
                        if !batch.is_empty() {
                            send(batch)?;
                        }
                        Ok(())
                    })
                });
                let mut replayed = Ok(());
                for batch in &rx {
                    let step = replay.feed(&batch).and_then(|()| check_cps(&mut replay, &mut ci));
                    if let Err(e) = step {
                        replayed = Err(e);
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    if let Some(p) = progress {
                        p(replay.size(), total);
                    }
                }
                drop(rx);
                let read = reader.join().unwrap_or_else(|_| {
                    Err(StoreError::Damaged("the entry reader stopped unexpectedly".into()).into())
                });
                let chains = scanner.join().unwrap_or_else(|_| {
                    let e = || {
                        Err(StoreError::Damaged("the index table scanner stopped unexpectedly".into()).into())
                    };
                    (e(), e())
                });
                (replayed, read, chains)
            });
            // An error of the replay is at a lower index than anything the reader had not sent.
            replayed?;
            if read.is_err() {
                // A read that failed stopped the batches; the signatures of the last batch sent
                // are still pending, and a bad one among them is the lower index.
                replay.settle()?;
            }
            read?;
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
            let (report, totals) = replay.finish()?;
            check_derived_tables(r, &totals, report.entries, chains)?;
            Ok(report)
        })
    }
}
