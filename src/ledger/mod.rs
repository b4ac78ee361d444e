//! The ledger: the facade that ties the formats, the rules, the tree and the store together.
//!
//! Appending and verifying share one set of rules ([`check_rules`], in [`crate::rules`])
//! applied to one registry interface ([`Registry`]): the append path (`append`) reads the
//! store's derived tables, the verify path (`verify`, on [`crate::replay`]) rebuilds them in
//! memory from the entries alone and then compares them with the store. `import` builds a
//! mirror from an export; `prove` gathers proofs and exports.

mod append;
mod export;
mod import;
mod prove;
mod verify;
mod witnessed;

pub use append::Outcome;
pub use import::ImportSource;

use crate::checkpoint::{Checkpoint, CheckpointError, LedgerKey};
use crate::merkle;
pub use crate::replay::{Batch, Progress, Replay, ReplayTotals, VerifyReport, VERIFY_BATCH};
pub use crate::rules::{
    apply, check_rules, MemRegistry, OrgRecord, RecoveryMark, Registry, Rejection, MAX_FUTURE_SKEW,
};
use crate::statement::{Kind, StatementId};
use crate::store::{ReadTables, Store, StoreError};
pub use crate::verdict::Location;
use crate::verdict::{decode_entry_statement, VerifyError};

/// A verdict of invalid data at `at`, as a ledger error.
fn invalid(at: Location, problem: impl Into<String>) -> LedgerError {
    crate::verdict::invalid(at, problem).into()
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
    /// A witness policy refused a checkpoint (a forged cosignature of one of its witnesses).
    #[error(transparent)]
    Witness(#[from] crate::policy::PolicyError),
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

impl From<VerifyError> for LedgerError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Invalid { at, problem } => LedgerError::Invalid { at, problem },
            // What failed to read came from the store (or a stream) below: take its error back.
            VerifyError::Read(b) => match b.downcast::<StoreError>() {
                Ok(s) => LedgerError::Store(*s),
                Err(b) => match b.downcast::<LedgerError>() {
                    Ok(l) => *l,
                    Err(b) => LedgerError::Store(StoreError::Io(b.to_string())),
                },
            },
        }
    }
}

impl From<merkle::ProofError> for LedgerError {
    fn from(e: merkle::ProofError) -> Self {
        LedgerError::Invalid {
            at: Location::Table("hashes"),
            problem: e.to_string(),
        }
    }
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

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Entries the mirror held before.
    pub from: u64,
    /// The verification of the export.
    pub report: VerifyReport,
}

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
            root: merkle::EMPTY_ROOT,
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

    /// Upgrades a ledger written by an older accord (store format 1 or 2): rebuilds every
    /// derived table and the state map by applying each entry again, in one durable
    /// transaction. The entries are not changed: those written before version 3 carry no state
    /// root, and the next append commits the state of the whole ledger. Returns the number of
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
                let mut changes = crate::rules::state::Changes::default();
                for (i, b) in &chunk {
                    if *i != next {
                        return Err(invalid(Location::Entry(next), "missing"));
                    }
                    let (e, st) = decode_entry_statement(*i, b)?;
                    crate::rules::state::apply_tracked(&mut *t, &mut changes, *i, e.logged_at, &st)?;
                    next += 1;
                }
                append::update_state_map(t, &changes)?;
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
}
