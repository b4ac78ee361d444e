//! The ledger's storage: one redb file, written in ACID transactions (DESIGN "Storage").
//!
//! This is the only module that talks to the database. Tables:
//!
//! | table | key → value | what |
//! | --- | --- | --- |
//! | `meta` | text → bytes | format tag, origin, ledger verifier key, ledger key file, size |
//! | `entries` | index → entry bytes | the leaves, the only primary data |
//! | `hashes` | stored-hash index → 32 bytes | Merkle hashes in the tlog layout (derived) |
//! | `checkpoints` | tree size → signed note | every checkpoint the ledger signed |
//! | `statement_ids` | statement id → index | duplicate detection, lookup by id (derived) |
//! | `keys` | kid → public key ‖ registration index ‖ org | registered keys (derived) |
//! | `orgs` | normalised name → registration index | registered organisations (derived) |
//! | `live` | statement id → index | attestations not withdrawn or superseded (derived) |
//! | `recovery` | normalised name → SHA-256 of the recovery key | current recovery commitments (derived) |
//! | `used_recovery` | commitment → name | recovery keys already used (derived) |
//! | `org_entries`, `norm_entries` | (name, index) → () | list filters (derived) |
//! | `ended` | attestation index → (index that ended it, statement id) | attestations withdrawn or superseded (derived) |
//! | `untrusted` | entry index → recovery index | entries a recovery made untrusted (derived) |
//! | `name_keys` | name comparison key → (registration index, name as registered) | look-alike names (derived) |
//!
//! Every derived table is rebuilt in memory and compared by `accord verify`. Every write
//! transaction uses two-phase commit and quick repair, with redb's default immediate
//! durability (fsync before `commit` returns).

use std::path::{Path, PathBuf};

use redb::{
    ReadOnlyTable, ReadableDatabase, ReadableTable as _, ReadableTableMetadata as _, TableDefinition,
};

use crate::keys::PublicKey;
use crate::proof::{Hash, HashStore, ProofError};
pub use crate::rules::KeyRecord;
use crate::rules::{HistoryItem, OrgRecord, RecoveryMark, Registry};
use crate::statement::{Body, Kind, StatementId};
use crate::time::Seconds;
use crate::verdict::{decode_entry_statement, invalid, Location, VerifyError};

/// A store failure under the rules' registry interface: [`VerifyError::Read`], which the
/// ledger takes back as this [`StoreError`].
impl From<StoreError> for VerifyError {
    fn from(e: StoreError) -> Self {
        VerifyError::Read(Box::new(e))
    }
}

/// File name of the database inside the ledger directory.
pub const DB_FILE: &str = "ledger.redb";
/// The `meta` table's format tag. Format 2 added the `ended`, `untrusted` and `name_keys` tables; a ledger
/// of format 1 ([`OLD_FORMAT_TAG`]) is opened only to be upgraded ([`Store::upgrade`]).
pub const FORMAT_TAG: &[u8] = b"accord-ledger/2";
/// The format tag of ledgers written before the `ended` and `untrusted` tables.
pub const OLD_FORMAT_TAG: &[u8] = b"accord-ledger/1";

/// The page cache redb may fill when a ledger is opened read-only (`verify`, `list`, `status`,
/// `prove`). redb's default is 1 GiB, which a verify of a large ledger (it reads every page
/// once) would fill: its memory would then grow with the ledger instead of staying bounded by
/// what the replay must remember. 64 MiB holds the hot upper levels of every B-tree.
pub const CACHE_BYTES: usize = 64 << 20;

/// The page cache of a ledger opened for appending: appends insert statement ids at random
/// places in a B-tree that grows with the ledger, so a larger cache keeps group commits fast
/// at millions of entries. Pages are cached only as they are touched.
pub const WRITE_CACHE_BYTES: usize = 512 << 20;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
pub(crate) const HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("hashes");
pub(crate) const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");
pub(crate) const STATEMENT_IDS: TableDefinition<[u8; 32], u64> = TableDefinition::new("statement_ids");
pub(crate) const KEYS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("keys");
pub(crate) const ORGS: TableDefinition<&str, u64> = TableDefinition::new("orgs");
pub(crate) const LIVE: TableDefinition<[u8; 32], u64> = TableDefinition::new("live");
pub(crate) const RECOVERY: TableDefinition<&str, [u8; 32]> = TableDefinition::new("recovery");
pub(crate) const USED_RECOVERY: TableDefinition<[u8; 32], &str> = TableDefinition::new("used_recovery");
pub(crate) const ORG_ENTRIES: TableDefinition<(&str, u64), ()> = TableDefinition::new("org_entries");
pub(crate) const NORM_ENTRIES: TableDefinition<(&str, u64), ()> = TableDefinition::new("norm_entries");
pub(crate) const ENDED: TableDefinition<u64, (u64, [u8; 32])> = TableDefinition::new("ended");
pub(crate) const UNTRUSTED: TableDefinition<u64, u64> = TableDefinition::new("untrusted");
pub(crate) const NAME_KEYS: TableDefinition<&str, (u64, &str)> = TableDefinition::new("name_keys");

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No ledger at that place.
    #[error("no ledger at {0} (create one with `accord init --origin NAME`, or pass --ledger DIR)")]
    NotFound(PathBuf),
    /// A ledger is already there.
    #[error("a ledger already exists at {0}")]
    Exists(PathBuf),
    /// Another process holds the ledger.
    #[error("the ledger at {0} is in use by another accord process; try again when it has finished")]
    InUse(PathBuf),
    /// The file is not an accord ledger or is damaged.
    #[error("store damaged: {0}")]
    Damaged(String),
    /// I/O or database failure.
    #[error("storage error: {0}")]
    Io(String),
    /// The ledger was opened read-only.
    #[error("the ledger is open read-only")]
    ReadOnly,
    /// The file was left by a writer that stopped mid-commit (a crash) and must be repaired
    /// (to its last committed state) before a read-only open can read it.
    #[error("the ledger at {0} was left by a writer that stopped before it finished (a crash) and needs a repair to its last committed state, which needs write access to it")]
    NeedsRepair(PathBuf),
    /// The ledger was written by an older accord and must be upgraded before use.
    #[error("the ledger at {0} was written by an older accord (store format 1); run `accord upgrade` once to rebuild its derived tables (entries and checkpoints are not changed)")]
    NeedsUpgrade(PathBuf),
}

fn io<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Io(e.to_string())
}

/// Converts a redb storage error: corruption is "damaged", the rest is I/O.
fn storage(e: redb::StorageError) -> StoreError {
    match e {
        redb::StorageError::Corrupted(m) => StoreError::Damaged(m),
        other => StoreError::Io(other.to_string()),
    }
}

impl From<redb::StorageError> for StoreError {
    fn from(e: redb::StorageError) -> Self {
        storage(e)
    }
}
impl From<redb::TableError> for StoreError {
    fn from(e: redb::TableError) -> Self {
        match e {
            redb::TableError::Storage(s) => storage(s),
            redb::TableError::TableDoesNotExist(t) => StoreError::Damaged(format!("table {t} is missing")),
            other => StoreError::Damaged(other.to_string()),
        }
    }
}
impl From<redb::TransactionError> for StoreError {
    fn from(e: redb::TransactionError) -> Self {
        match e {
            redb::TransactionError::Storage(s) => storage(s),
            other => io(other),
        }
    }
}
impl From<redb::CommitError> for StoreError {
    fn from(e: redb::CommitError) -> Self {
        match e {
            redb::CommitError::Storage(s) => storage(s),
            other => io(other),
        }
    }
}

enum Db {
    Rw(redb::Database),
    Ro(redb::ReadOnlyDatabase),
}

/// An open ledger database.
pub struct Store {
    db: Db,
    path: PathBuf,
}

fn open_err(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
            StoreError::InUse(path.to_path_buf())
        }
        redb::DatabaseError::RepairAborted => StoreError::NeedsRepair(path.to_path_buf()),
        redb::DatabaseError::Storage(s) => storage(s),
        other => StoreError::Damaged(other.to_string()),
    }
}

impl Store {
    /// Path of the database file in a ledger directory.
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_FILE)
    }

    /// Creates a new, empty database in `dir` (created if needed); refuses an existing one.
    ///
    /// # Errors
    /// [`StoreError::Exists`], [`StoreError::Io`].
    pub fn create(dir: &Path) -> Result<Store, StoreError> {
        let path = Self::db_path(dir);
        if path.exists() {
            return Err(StoreError::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let db = redb::Builder::new()
            .set_cache_size(WRITE_CACHE_BYTES)
            .create(&path)
            .map_err(|e| open_err(dir, e))?;
        let store = Store {
            db: Db::Rw(db),
            path: dir.to_path_buf(),
        };
        store.write(|t| {
            t.meta.insert("format", FORMAT_TAG)?;
            Ok::<_, StoreError>(())
        })?;
        Ok(store)
    }

    /// Creates a new, empty database in a private staging file inside `dir` (created if
    /// needed), for a ledger that must appear whole or not at all (a mirror's first import):
    /// fill it, then [`Store::publish_staged`] moves it into place. Returns the store and the
    /// staging file's path.
    ///
    /// # Errors
    /// [`StoreError::Exists`] if `dir` already holds a ledger, [`StoreError::Io`].
    pub fn create_staged(dir: &Path) -> Result<(Store, PathBuf), StoreError> {
        if Self::db_path(dir).exists() {
            return Err(StoreError::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let path = dir.join(format!(".{DB_FILE}.staging-{}", hex::encode(nonce)));
        // create_new: never follows or reuses a file someone planted under that name.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        let db = match redb::Builder::new()
            .set_cache_size(WRITE_CACHE_BYTES)
            .create(&path)
        {
            Ok(db) => db,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(open_err(dir, e));
            }
        };
        let store = Store {
            db: Db::Rw(db),
            path: dir.to_path_buf(),
        };
        if let Err(e) = store.write(|t| {
            t.meta.insert("format", FORMAT_TAG)?;
            Ok::<_, StoreError>(())
        }) {
            drop(store);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok((store, path))
    }

    /// Moves a store made by [`Store::create_staged`] into place as the ledger of its
    /// directory, atomically and without replacing a ledger that appeared meanwhile (a hard
    /// link, which fails if the name exists, then the staging name is removed); the directory
    /// is synced so the new name is durable.
    ///
    /// # Errors
    /// [`StoreError::Exists`], [`StoreError::Io`]; the staging file is removed either way.
    pub fn publish_staged(self, staged: &Path) -> Result<(), StoreError> {
        let dir = self.path.clone();
        drop(self);
        let target = Self::db_path(&dir);
        let linked = std::fs::hard_link(staged, &target);
        let _ = std::fs::remove_file(staged);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(StoreError::Exists(dir)),
            Err(e) => return Err(io(e)),
        }
        if let Ok(d) = std::fs::File::open(&dir) {
            d.sync_all().map_err(io)?;
        }
        Ok(())
    }

    /// Opens an existing ledger for writing (one process at a time).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::InUse`], [`StoreError::Damaged`].
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = Self::db_path(dir);
        if !path.is_file() {
            return Err(StoreError::NotFound(dir.to_path_buf()));
        }
        let db = contain(|| {
            redb::Builder::new()
                .set_cache_size(WRITE_CACHE_BYTES)
                .open(&path)
                .map_err(|e| open_err(dir, e))
        })?;
        let s = Store {
            db: Db::Rw(db),
            path: dir.to_path_buf(),
        };
        s.check_format()?;
        Ok(s)
    }

    /// Opens an existing ledger for writing whatever its store format, for `accord upgrade`;
    /// also says whether it is of the old format and needs [`Store::rebuild_derived`].
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_any_format(dir: &Path) -> Result<(Store, bool), StoreError> {
        match Store::open(dir) {
            Ok(s) => Ok((s, false)),
            Err(StoreError::NeedsUpgrade(_)) => {
                let path = Self::db_path(dir);
                let db = contain(|| {
                    redb::Builder::new()
                        .set_cache_size(WRITE_CACHE_BYTES)
                        .open(&path)
                        .map_err(|e| open_err(dir, e))
                })?;
                Ok((
                    Store {
                        db: Db::Rw(db),
                        path: dir.to_path_buf(),
                    },
                    true,
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Rebuilds every derived table except the Merkle hashes in one durable transaction: the
    /// tables are emptied, `f` re-applies every entry, and the current format tag is set. If
    /// `f` fails nothing changes.
    ///
    /// # Errors
    /// What `f` returns, or a [`StoreError`].
    pub fn rebuild_derived<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut WriteTables<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let Db::Rw(db) = &self.db else {
            return Err(StoreError::ReadOnly.into());
        };
        contain(|| {
            let mut txn = db.begin_write().map_err(StoreError::from)?;
            txn.set_two_phase_commit(true);
            txn.set_quick_repair(true);
            macro_rules! clear {
                ($($t:expr),*) => {
                    $( txn.delete_table($t).map_err(StoreError::from)?; )*
                };
            }
            clear!(
                STATEMENT_IDS,
                KEYS,
                ORGS,
                LIVE,
                RECOVERY,
                USED_RECOVERY,
                ORG_ENTRIES,
                NORM_ENTRIES,
                ENDED,
                UNTRUSTED
            );
            let out = {
                let mut tables = WriteTables::open(&txn)?;
                let out = f(&mut tables)?;
                tables
                    .meta
                    .insert("format", FORMAT_TAG)
                    .map_err(StoreError::from)?;
                out
            };
            txn.commit().map_err(StoreError::from)?;
            Ok(out)
        })
    }

    /// Opens an existing ledger read-only (works on read-only files and directories).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_read_only(dir: &Path) -> Result<Store, StoreError> {
        let path = Self::db_path(dir);
        if !path.is_file() {
            return Err(StoreError::NotFound(dir.to_path_buf()));
        }
        let open = || {
            contain(|| {
                redb::Builder::new()
                    .set_cache_size(CACHE_BYTES)
                    .open_read_only(&path)
                    .map_err(|e| open_err(dir, e))
            })
        };
        let db = match open() {
            // A writer was killed mid-commit: the file holds its last committed state, but
            // redb will not read it without a repair, which a read-only open cannot do. Repair
            // under the writer's lock (the repair only rolls back to the last commit and
            // rebuilds redb's allocator state; it changes no committed data), then read.
            Err(StoreError::NeedsRepair(_)) => {
                drop(Store::open(dir).map_err(|e| match e {
                    StoreError::Io(_) => StoreError::NeedsRepair(dir.to_path_buf()),
                    other => other,
                })?);
                open()?
            }
            other => other?,
        };
        let s = Store {
            db: Db::Ro(db),
            path: dir.to_path_buf(),
        };
        s.check_format()?;
        Ok(s)
    }

    /// Opens (or creates, when empty) a database on any redb storage backend: for tests that
    /// simulate power cuts, full disks or failing writes. `label` names it in messages.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn with_backend(backend: impl redb::StorageBackend, label: &Path) -> Result<Store, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(backend)
            .map_err(|e| open_err(label, e))?;
        let store = Store {
            db: Db::Rw(db),
            path: label.to_path_buf(),
        };
        let fresh = store.write(|t| {
            let fresh = t.meta("format")?.is_none();
            if fresh {
                t.meta.insert("format", FORMAT_TAG)?;
            }
            Ok::<_, StoreError>(fresh)
        })?;
        if !fresh {
            store.check_format()?;
        }
        Ok(store)
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    fn format_tag(&self) -> Result<Option<Vec<u8>>, StoreError> {
        contain(|| {
            let read = |txn: redb::ReadTransaction| -> Result<Option<Vec<u8>>, StoreError> {
                let meta = txn.open_table(META)?;
                Ok(meta.get("format")?.map(|g| g.value().to_vec()))
            };
            match &self.db {
                Db::Rw(db) => read(db.begin_read()?),
                Db::Ro(db) => read(db.begin_read()?),
            }
        })
    }

    fn check_format(&self) -> Result<(), StoreError> {
        let tag = self.format_tag()?;
        match tag {
            Some(t) if t == FORMAT_TAG => Ok(()),
            Some(t) if t == OLD_FORMAT_TAG => Err(StoreError::NeedsUpgrade(self.path.clone())),
            Some(_) => Err(StoreError::Damaged(
                "not an accord ledger of a known format".into(),
            )),
            None => Err(StoreError::Damaged("format tag missing".into())),
        }
    }

    /// Runs `f` in a read transaction.
    ///
    /// # Errors
    /// What `f` returns, or a [`StoreError`].
    pub fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&ReadTables) -> Result<T, E>) -> Result<T, E> {
        contain(|| {
            let txn = match &self.db {
                Db::Rw(db) => db.begin_read().map_err(StoreError::from)?,
                Db::Ro(db) => db.begin_read().map_err(StoreError::from)?,
            };
            let tables = ReadTables::open(&txn)?;
            f(&tables)
        })
    }

    /// Runs `f` in one write transaction and commits durably (fsync) if `f` succeeds; if `f`
    /// fails nothing is written.
    ///
    /// # Errors
    /// What `f` returns, or a [`StoreError`] (including [`StoreError::ReadOnly`]).
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut WriteTables<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let Db::Rw(db) = &self.db else {
            return Err(StoreError::ReadOnly.into());
        };
        contain(|| {
            let mut txn = db.begin_write().map_err(StoreError::from)?;
            txn.set_two_phase_commit(true);
            txn.set_quick_repair(true);
            let out = {
                let mut tables = WriteTables::open(&txn)?;
                f(&mut tables)?
            };
            txn.commit().map_err(StoreError::from)?;
            Ok(out)
        })
    }
}

/// Runs storage work, turning a panic inside the storage engine (redb can panic on some damaged
/// files) into [`StoreError::Damaged`] instead of a crash.
pub(crate) fn contain<T, E: From<StoreError>>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(StoreError::Damaged(format!("the storage engine failed on this file ({msg})")).into())
        }
    }
}

/// Tables opened in a read transaction.
pub struct ReadTables {
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
    entries: ReadOnlyTable<u64, &'static [u8]>,
    hashes: ReadOnlyTable<u64, [u8; 32]>,
    checkpoints: ReadOnlyTable<u64, &'static [u8]>,
    statement_ids: ReadOnlyTable<[u8; 32], u64>,
    keys: ReadOnlyTable<[u8; 32], &'static [u8]>,
    orgs: ReadOnlyTable<&'static str, u64>,
    live: ReadOnlyTable<[u8; 32], u64>,
    recovery: ReadOnlyTable<&'static str, [u8; 32]>,
    used_recovery: ReadOnlyTable<[u8; 32], &'static str>,
    org_entries: ReadOnlyTable<(&'static str, u64), ()>,
    norm_entries: ReadOnlyTable<(&'static str, u64), ()>,
    ended: ReadOnlyTable<u64, (u64, [u8; 32])>,
    untrusted: ReadOnlyTable<u64, u64>,
    name_keys: ReadOnlyTable<&'static str, (u64, &'static str)>,
}

impl KeyRecord {
    /// Table encoding: key ‖ install index ‖ ended flag ‖ end index ‖ end time ‖ org UTF-8
    /// (integers big-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(57 + self.org.len());
        v.extend_from_slice(&self.public_key);
        v.extend_from_slice(&self.registration.to_be_bytes());
        let (flag, i, t) = match self.ended {
            Some((i, t)) => (1u8, i, t),
            None => (0, 0, 0),
        };
        v.push(flag);
        v.extend_from_slice(&i.to_be_bytes());
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(self.org.as_bytes());
        v
    }
    /// Table decoding.
    ///
    /// # Errors
    /// [`StoreError::Damaged`].
    pub fn from_bytes(b: &[u8]) -> Result<KeyRecord, StoreError> {
        let bad = || StoreError::Damaged("keys table: malformed record".into());
        if b.len() < 57 {
            return Err(bad());
        }
        let (key, rest) = b.split_at(32);
        let (idx, rest) = rest.split_at(8);
        let (flag, rest) = rest.split_at(1);
        let (end_i, rest) = rest.split_at(8);
        let (end_t, org) = rest.split_at(8);
        let ended = match flag[0] {
            0 => None,
            1 => Some((
                u64::from_be_bytes(end_i.try_into().map_err(|_| bad())?),
                i64::from_be_bytes(end_t.try_into().map_err(|_| bad())?),
            )),
            _ => return Err(bad()),
        };
        Ok(KeyRecord {
            public_key: key.try_into().map_err(|_| bad())?,
            registration: u64::from_be_bytes(idx.try_into().map_err(|_| bad())?),
            org: std::str::from_utf8(org).map_err(|_| bad())?.to_string(),
            ended,
        })
    }
}

macro_rules! table_readers {
    () => {
        /// A `meta` value.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.meta.get(key)?.map(|g| g.value().to_vec()))
        }
        /// Number of entries.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn entry_count(&self) -> Result<u64, StoreError> {
            Ok(self.entries.len()?)
        }
        /// The bytes of entry `index`.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.entries.get(index)?.map(|g| g.value().to_vec()))
        }
        /// Entries `from..to` in index order, each as (index, bytes), fed to `f`; stops early
        /// when `f` returns false.
        ///
        /// # Errors
        /// [`StoreError`] or what `f` returns.
        pub fn for_each_entry<E: From<StoreError>>(
            &self,
            from: u64,
            mut f: impl FnMut(u64, &[u8]) -> Result<bool, E>,
        ) -> Result<(), E> {
            for item in self.entries.range(from..).map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                if !f(k.value(), v.value())? {
                    break;
                }
            }
            Ok(())
        }
        /// The signed checkpoint of tree size `size`, if one was signed.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.checkpoints.get(size)?.map(|g| g.value().to_vec()))
        }
        /// The newest checkpoint: (size, note).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
            Ok(self
                .checkpoints
                .last()?
                .map(|(k, v)| (k.value(), v.value().to_vec())))
        }
        /// Every checkpoint size, ascending.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn checkpoint_sizes(&self) -> Result<Vec<u64>, StoreError> {
            let mut out = Vec::new();
            for item in self.checkpoints.iter()? {
                out.push(item?.0.value());
            }
            Ok(out)
        }
        /// Index of the statement with this id.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn statement_index(&self, id: &[u8; 32]) -> Result<Option<u64>, StoreError> {
            Ok(self.statement_ids.get(id)?.map(|g| g.value()))
        }
        /// A registered key.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
            match self.keys.get(kid)? {
                Some(g) => Ok(Some(KeyRecord::from_bytes(g.value())?)),
                None => Ok(None),
            }
        }
        /// Registration index of an organisation (normalised name).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn org(&self, org: &str) -> Result<Option<u64>, StoreError> {
            Ok(self.orgs.get(org)?.map(|g| g.value()))
        }
        /// Index of a live (not withdrawn) attestation.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn live(&self, id: &[u8; 32]) -> Result<Option<u64>, StoreError> {
            Ok(self.live.get(id)?.map(|g| g.value()))
        }
        /// The current recovery commitment of an organisation.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn recovery(&self, org: &str) -> Result<Option<[u8; 32]>, StoreError> {
            Ok(self.recovery.get(org)?.map(|g| g.value()))
        }
        /// The organisation whose recovery key with this commitment was already used.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, StoreError> {
            Ok(self
                .used_recovery
                .get(commitment)?
                .map(|g| g.value().to_string()))
        }
        /// Every key ever registered to an organisation (a scan of the keys table; used only
        /// by recoveries, which are rare).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, StoreError> {
            let mut out = Vec::new();
            for item in self.keys.iter()? {
                let (k, v) = item?;
                let rec = KeyRecord::from_bytes(v.value())?;
                if rec.org == org {
                    out.push((k.value(), rec));
                }
            }
            Ok(out)
        }
        /// Indexes of an organisation's entries, ascending.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn org_entries(&self, org: &str) -> Result<Vec<u64>, StoreError> {
            let mut out = Vec::new();
            for item in self.org_entries.range((org, 0)..=(org, u64::MAX))? {
                out.push(item?.0.value().1);
            }
            Ok(out)
        }
        /// Indexes of entries naming a norm, ascending.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn norm_entries(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
            let mut out = Vec::new();
            for item in self.norm_entries.range((norm, 0)..=(norm, u64::MAX))? {
                out.push(item?.0.value().1);
            }
            Ok(out)
        }
        /// Feeds every row of `org_entries` (with `norms` false) or `norm_entries` (true) to
        /// `f`, in key order: by name, then ascending index.
        ///
        /// # Errors
        /// [`StoreError`] or what `f` returns.
        pub fn for_each_index_row<E: From<StoreError>>(
            &self,
            norms: bool,
            mut f: impl FnMut(&str, u64) -> Result<(), E>,
        ) -> Result<(), E> {
            let table = if norms {
                &self.norm_entries
            } else {
                &self.org_entries
            };
            for item in table.iter().map_err(StoreError::from)? {
                let (k, _) = item.map_err(StoreError::from)?;
                let (name, index) = k.value();
                f(name, index)?;
            }
            Ok(())
        }
        /// For an attestation that stopped being live: (index of the statement that ended it,
        /// its statement id).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn ended(&self, index: u64) -> Result<Option<(u64, [u8; 32])>, StoreError> {
            Ok(self.ended.get(index)?.map(|g| g.value()))
        }
        /// The recovery that made entry `index` untrusted, if one did.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn untrusted(&self, index: u64) -> Result<Option<u64>, StoreError> {
            Ok(self.untrusted.get(index)?.map(|g| g.value()))
        }
        /// The registration that recorded a name comparison key: (index, name as registered).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, StoreError> {
            Ok(self.name_keys.get(key)?.map(|g| {
                let (i, n) = g.value();
                (i, n.to_string())
            }))
        }
        /// Every untrusted entry as (index, recovery index), in index order.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn untrusted_entries(&self) -> Result<Vec<(u64, u64)>, StoreError> {
            let mut out = Vec::new();
            for item in self.untrusted.iter()? {
                let (k, v) = item?;
                out.push((k.value(), v.value()));
            }
            Ok(out)
        }
        /// Whether `org_entries` holds (org, index).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn has_org_entry(&self, org: &str, index: u64) -> Result<bool, StoreError> {
            Ok(self.org_entries.get((org, index))?.is_some())
        }
        /// Whether `norm_entries` holds (norm, index).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn has_norm_entry(&self, norm: &str, index: u64) -> Result<bool, StoreError> {
            Ok(self.norm_entries.get((norm, index))?.is_some())
        }
        /// The stored hash at a stored-hash index.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn hash(&self, index: u64) -> Result<Option<[u8; 32]>, StoreError> {
            Ok(self.hashes.get(index)?.map(|g| g.value()))
        }
        /// Row counts of the tables verify compares by count:
        /// (hashes, statement_ids, org_entries, norm_entries).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn derived_counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
            Ok((
                self.hashes.len()?,
                self.statement_ids.len()?,
                self.org_entries.len()?,
                self.norm_entries.len()?,
            ))
        }
        /// The stored hashes with indexes in `range`, in index order, as (index, hash): the
        /// rows there are, so a missing row shows as a gap.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn hashes_in(&self, range: std::ops::Range<u64>) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
            let mut out = Vec::with_capacity(
                usize::try_from(range.end.saturating_sub(range.start))
                    .unwrap_or(0)
                    .min(1 << 16),
            );
            for item in self.hashes.range(range)? {
                let (k, v) = item?;
                out.push((k.value(), v.value()));
            }
            Ok(out)
        }
        /// Feeds every row of `statement_ids` to `f` as (id, index), in id order.
        ///
        /// # Errors
        /// [`StoreError`] or what `f` returns.
        pub fn for_each_statement_id<E: From<StoreError>>(
            &self,
            mut f: impl FnMut([u8; 32], u64) -> Result<(), E>,
        ) -> Result<(), E> {
            for item in self.statement_ids.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(k.value(), v.value())?;
            }
            Ok(())
        }
        /// Feeds every row of the registry tables (`keys`, `orgs`, `live`, `recovery`,
        /// `used_recovery`, `ended`, `untrusted`, `name_keys`) to `f`; used by `verify` to compare them with the replay.
        ///
        /// # Errors
        /// [`StoreError`] or what `f` returns.
        pub fn for_each_registry_row<E: From<StoreError>>(
            &self,
            mut f: impl FnMut(DerivedRow) -> Result<(), E>,
        ) -> Result<(), E> {
            for item in self.keys.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Key(
                    k.value(),
                    KeyRecord::from_bytes(v.value())?,
                ))?;
            }
            for item in self.orgs.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Org(k.value().to_string(), v.value()))?;
            }
            for item in self.live.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Live(k.value(), v.value()))?;
            }
            for item in self.recovery.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Recovery(k.value().to_string(), v.value()))?;
            }
            for item in self.used_recovery.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::UsedRecovery(k.value(), v.value().to_string()))?;
            }
            for item in self.ended.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                let (by, id) = v.value();
                f(DerivedRow::Ended(k.value(), by, id))?;
            }
            for item in self.untrusted.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Untrusted(k.value(), v.value()))?;
            }
            for item in self.name_keys.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                let (i, n) = v.value();
                f(DerivedRow::NameKey(k.value().to_string(), i, n.to_string()))?;
            }
            Ok(())
        }
    };
}

/// One row of a derived table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedRow {
    /// `keys`: kid → record.
    Key([u8; 32], KeyRecord),
    /// `orgs`: name → registration index.
    Org(String, u64),
    /// `live`: attestation id → index.
    Live([u8; 32], u64),
    /// `recovery`: name → commitment.
    Recovery(String, [u8; 32]),
    /// `used_recovery`: commitment → name.
    UsedRecovery([u8; 32], String),
    /// `ended`: attestation index → (index that ended it, its statement id).
    Ended(u64, u64, [u8; 32]),
    /// `untrusted`: entry index → recovery index.
    Untrusted(u64, u64),
    /// `name_keys`: comparison key → (registration index, name as registered).
    NameKey(String, u64, String),
}

impl ReadTables {
    fn open(txn: &redb::ReadTransaction) -> Result<Self, StoreError> {
        Ok(ReadTables {
            meta: txn.open_table(META)?,
            entries: txn.open_table(ENTRIES)?,
            hashes: txn.open_table(HASHES)?,
            checkpoints: txn.open_table(CHECKPOINTS)?,
            statement_ids: txn.open_table(STATEMENT_IDS)?,
            keys: txn.open_table(KEYS)?,
            orgs: txn.open_table(ORGS)?,
            live: txn.open_table(LIVE)?,
            recovery: txn.open_table(RECOVERY)?,
            used_recovery: txn.open_table(USED_RECOVERY)?,
            org_entries: txn.open_table(ORG_ENTRIES)?,
            norm_entries: txn.open_table(NORM_ENTRIES)?,
            ended: txn.open_table(ENDED)?,
            untrusted: txn.open_table(UNTRUSTED)?,
            name_keys: txn.open_table(NAME_KEYS)?,
        })
    }
    table_readers!();
}

/// Tables opened in a write transaction.
pub struct WriteTables<'t> {
    pub(crate) meta: redb::Table<'t, &'static str, &'static [u8]>,
    pub(crate) entries: redb::Table<'t, u64, &'static [u8]>,
    pub(crate) hashes: redb::Table<'t, u64, [u8; 32]>,
    pub(crate) checkpoints: redb::Table<'t, u64, &'static [u8]>,
    pub(crate) statement_ids: redb::Table<'t, [u8; 32], u64>,
    pub(crate) keys: redb::Table<'t, [u8; 32], &'static [u8]>,
    pub(crate) orgs: redb::Table<'t, &'static str, u64>,
    pub(crate) live: redb::Table<'t, [u8; 32], u64>,
    pub(crate) recovery: redb::Table<'t, &'static str, [u8; 32]>,
    pub(crate) used_recovery: redb::Table<'t, [u8; 32], &'static str>,
    pub(crate) org_entries: redb::Table<'t, (&'static str, u64), ()>,
    pub(crate) norm_entries: redb::Table<'t, (&'static str, u64), ()>,
    pub(crate) ended: redb::Table<'t, u64, (u64, [u8; 32])>,
    pub(crate) untrusted: redb::Table<'t, u64, u64>,
    pub(crate) name_keys: redb::Table<'t, &'static str, (u64, &'static str)>,
    /// Keys decompressed during this transaction, by kid (see `Registry::verifying_key`).
    pub(crate) verifying: std::cell::RefCell<std::collections::HashMap<[u8; 32], crate::keys::PublicKey>>,
}

impl<'t> WriteTables<'t> {
    fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(WriteTables {
            meta: txn.open_table(META)?,
            entries: txn.open_table(ENTRIES)?,
            hashes: txn.open_table(HASHES)?,
            checkpoints: txn.open_table(CHECKPOINTS)?,
            statement_ids: txn.open_table(STATEMENT_IDS)?,
            keys: txn.open_table(KEYS)?,
            orgs: txn.open_table(ORGS)?,
            live: txn.open_table(LIVE)?,
            recovery: txn.open_table(RECOVERY)?,
            used_recovery: txn.open_table(USED_RECOVERY)?,
            org_entries: txn.open_table(ORG_ENTRIES)?,
            norm_entries: txn.open_table(NORM_ENTRIES)?,
            ended: txn.open_table(ENDED)?,
            untrusted: txn.open_table(UNTRUSTED)?,
            name_keys: txn.open_table(NAME_KEYS)?,
            verifying: Default::default(),
        })
    }
    table_readers!();

    /// Sets a `meta` value.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.meta.insert(key, value)?;
        Ok(())
    }
    /// Stores entry bytes.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_entry(&mut self, index: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.entries.insert(index, bytes)?;
        Ok(())
    }
    /// Removes an entry (raw access, for tests that simulate tampering; the ledger never
    /// deletes).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_entry(&mut self, index: u64) -> Result<(), StoreError> {
        self.entries.remove(index)?;
        Ok(())
    }
    /// Stores a Merkle hash.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_hash(&mut self, index: u64, hash: &Hash) -> Result<(), StoreError> {
        self.hashes.insert(index, *hash)?;
        Ok(())
    }
    /// Removes the Merkle hash at stored-hash index `index`. accord never does this; tests use
    /// it to damage the `hashes` table the way a tampered store might.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_hash(&mut self, index: u64) -> Result<(), StoreError> {
        self.hashes.remove(index)?;
        Ok(())
    }
    /// Stores a signed checkpoint.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<(), StoreError> {
        self.checkpoints.insert(size, note)?;
        Ok(())
    }
    /// Records a statement id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_statement_id(&mut self, id: &[u8; 32], index: u64) -> Result<(), StoreError> {
        self.statement_ids.insert(id, index)?;
        Ok(())
    }
    /// Records a registered key.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), StoreError> {
        self.keys.insert(kid, rec.to_bytes().as_slice())?;
        Ok(())
    }
    /// Records a registered organisation.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_org(&mut self, org: &str, index: u64) -> Result<(), StoreError> {
        self.orgs.insert(org, index)?;
        Ok(())
    }
    /// Marks an attestation live.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_live(&mut self, id: &[u8; 32], index: u64) -> Result<(), StoreError> {
        self.live.insert(id, index)?;
        Ok(())
    }
    /// Removes an attestation from the live set (it was withdrawn).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_live(&mut self, id: &[u8; 32]) -> Result<(), StoreError> {
        self.live.remove(id)?;
        Ok(())
    }
    /// Records that the attestation at `index`, with statement id `id`, was ended by the
    /// statement at `by`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_ended(&mut self, index: u64, by: u64, id: &[u8; 32]) -> Result<(), StoreError> {
        self.ended.insert(index, (by, *id))?;
        Ok(())
    }
    /// Forgets that the attestation at `index` was ended (a recovery voided what ended it).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_ended(&mut self, index: u64) -> Result<(), StoreError> {
        self.ended.remove(index)?;
        Ok(())
    }
    /// Records a name comparison key for the registration at `index` of `name`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), StoreError> {
        self.name_keys.insert(key, (index, name))?;
        Ok(())
    }
    /// Records that the recovery at `recovery` made entry `index` untrusted.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), StoreError> {
        self.untrusted.insert(index, recovery)?;
        Ok(())
    }
    /// Sets an organisation's recovery commitment.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_recovery(&mut self, org: &str, commitment: &[u8; 32]) -> Result<(), StoreError> {
        self.recovery.insert(org, commitment)?;
        Ok(())
    }
    /// Records a recovery commitment as used.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), StoreError> {
        self.used_recovery.insert(commitment, org)?;
        Ok(())
    }
    /// Indexes an entry under its organisation.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_org_entry(&mut self, org: &str, index: u64) -> Result<(), StoreError> {
        self.org_entries.insert((org, index), ())?;
        Ok(())
    }
    /// Removes (org, index) from `org_entries` or, with `norms`, (norm, index) from
    /// `norm_entries`. accord never does this; tests use it to alter a derived table the way a
    /// damaged or tampered store might.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_index_row(&mut self, norms: bool, name: &str, index: u64) -> Result<(), StoreError> {
        if norms {
            self.norm_entries.remove((name, index))?;
        } else {
            self.org_entries.remove((name, index))?;
        }
        Ok(())
    }
    /// Indexes an entry under a norm.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_norm_entry(&mut self, norm: &str, index: u64) -> Result<(), StoreError> {
        self.norm_entries.insert((norm, index), ())?;
        Ok(())
    }
}

fn read_hashes_from(
    table: &impl redb::ReadableTable<u64, [u8; 32]>,
    indexes: &[u64],
) -> Result<Vec<Hash>, ProofError> {
    let mut out = Vec::with_capacity(indexes.len());
    for &i in indexes {
        let g = table
            .get(i)
            .map_err(|e| ProofError::Store(e.to_string()))?
            .ok_or(ProofError::MissingHash { index: i })?;
        out.push(g.value());
    }
    Ok(out)
}

impl HashStore for ReadTables {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        read_hashes_from(&self.hashes, indexes)
    }
}

impl HashStore for WriteTables<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        read_hashes_from(&self.hashes, indexes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_open_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("l");
        let s = Store::create(&d).unwrap();
        assert!(matches!(Store::create(&d), Err(StoreError::Exists(_))));
        assert!(matches!(Store::open(&d), Err(StoreError::InUse(_))));
        drop(s);
        let s = Store::open(&d).unwrap();
        s.write(|t| t.put_entry(0, b"x")).unwrap();
        assert_eq!(s.read(|r| r.entry(0)).unwrap(), Some(b"x".to_vec()));
        drop(s);
        let ro = Store::open_read_only(&d).unwrap();
        assert!(matches!(
            ro.write(|t| t.put_entry(1, b"y")),
            Err(StoreError::ReadOnly)
        ));
        assert!(matches!(
            Store::open(&dir.path().join("none")),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::create(dir.path()).unwrap();
        let r: Result<(), StoreError> = s.write(|t| {
            t.put_entry(0, b"x")?;
            Err(StoreError::Io("injected".into()))
        });
        assert!(r.is_err());
        assert_eq!(s.read(|r| r.entry_count()).unwrap(), 0);
    }

    #[test]
    fn key_records_round_trip() {
        let mut k = KeyRecord {
            public_key: [3; 32],
            registration: 42,
            org: "acme".into(),
            ended: None,
        };
        assert_eq!(KeyRecord::from_bytes(&k.to_bytes()).unwrap(), k);
        k.ended = Some((50, -7));
        assert_eq!(KeyRecord::from_bytes(&k.to_bytes()).unwrap(), k);
        assert!(KeyRecord::from_bytes(&[0; 39]).is_err());
    }
}

/// The custodian's derived tables as the rules' registry: what the append path checks against
/// and updates.
impl Registry for WriteTables<'_> {
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError> {
        Ok(WriteTables::key(self, kid)?)
    }
    fn verifying_key(&self, kid: &[u8; 32], rec: &KeyRecord) -> Result<PublicKey, VerifyError> {
        if let Some(k) = self.verifying.borrow().get(kid) {
            if k.to_bytes() == rec.public_key {
                return Ok(*k);
            }
        }
        let k = PublicKey::from_bytes(&rec.public_key)
            .map_err(|e| invalid(Location::Table("keys"), e.to_string()))?;
        self.verifying.borrow_mut().insert(*kid, k);
        Ok(k)
    }
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, VerifyError> {
        match WriteTables::org(self, org)? {
            Some(registration) => Ok(Some(OrgRecord {
                registration,
                recovery: WriteTables::recovery(self, org)?,
            })),
            None => Ok(None),
        }
    }
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, VerifyError> {
        Ok(self.statement_index(id)?)
    }
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, VerifyError> {
        match WriteTables::live(self, id)? {
            Some(index) => Ok(self.owner(index)?.map(|(org, _)| (index, org))),
            None => Ok(None),
        }
    }
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, VerifyError> {
        let Some(bytes) = self.entry(index)? else {
            return Ok(None);
        };
        let st = decode_entry_statement(index, &bytes)?.1;
        Ok(Some((st.iss.clone(), st.kind())))
    }
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, VerifyError> {
        Ok(WriteTables::used_recovery(self, commitment)?)
    }
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, VerifyError> {
        Ok(WriteTables::keys_of(self, org)?)
    }
    fn put_statement(&mut self, id: &StatementId, org: &str, item: &HistoryItem) -> Result<(), VerifyError> {
        self.put_statement_id(id, item.index)?;
        self.put_org_entry(org, item.index)?;
        Ok(())
    }
    fn history_since(&self, org: &str, since: Seconds, before: u64) -> Result<Vec<HistoryItem>, VerifyError> {
        // Read back from the entries (recoveries are rare): the organisation's entries below
        // `before`, newest first, until one was logged at or before `since` (log times never
        // decrease along the chain).
        let mut out = Vec::new();
        for index in self.org_entries(org)?.into_iter().rev() {
            if index >= before {
                continue;
            }
            let bytes = self
                .entry(index)?
                .ok_or_else(|| crate::store::StoreError::Damaged(format!("entry {index} missing")))?;
            let (e, st) = decode_entry_statement(index, &bytes)?;
            if e.logged_at <= since {
                break;
            }
            let ends = match &st.payload.body {
                Body::Attestation(a) => match &a.supersedes {
                    Some(t) => self.statement_index(t)?,
                    None => None,
                },
                Body::Withdrawal(w) => self.statement_index(&w.target)?,
                _ => None,
            };
            out.push(HistoryItem {
                index,
                logged_at: e.logged_at,
                kid: st.kid,
                ends,
            });
        }
        out.reverse();
        Ok(out)
    }
    fn ended(&self, index: u64) -> Result<Option<(StatementId, u64)>, VerifyError> {
        Ok(WriteTables::ended(self, index)?.map(|(by, id)| (id, by)))
    }
    fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, VerifyError> {
        Ok(WriteTables::name_key(self, key)?)
    }
    fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), VerifyError> {
        Ok(WriteTables::put_name_key(self, key, index, name)?)
    }
    fn relive(&mut self, index: u64, id: &StatementId, _org: &str) -> Result<(), VerifyError> {
        self.remove_ended(index)?;
        WriteTables::put_live(self, id, index)?;
        Ok(())
    }
    fn untrusted(&self, index: u64) -> Result<Option<u64>, VerifyError> {
        Ok(WriteTables::untrusted(self, index)?)
    }
    fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), VerifyError> {
        Ok(WriteTables::put_untrusted(self, index, recovery)?)
    }
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError> {
        Ok(WriteTables::put_key(self, kid, rec)?)
    }
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), VerifyError> {
        WriteTables::put_org(self, org, rec.registration)?;
        if let Some(c) = &rec.recovery {
            WriteTables::put_recovery(self, org, c)?;
        }
        Ok(())
    }
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), VerifyError> {
        Ok(WriteTables::put_used_recovery(self, commitment, org)?)
    }
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        _org: &str,
        norms: &[&str],
        _expires: Option<Seconds>,
    ) -> Result<(), VerifyError> {
        WriteTables::put_live(self, id, index)?;
        for n in norms {
            self.put_norm_entry(n, index)?;
        }
        Ok(())
    }
    fn remove_live(&mut self, id: &StatementId, _org: &str, by: u64) -> Result<(), VerifyError> {
        if let Some(index) = WriteTables::live(self, id)? {
            WriteTables::remove_live(self, id)?;
            self.put_ended(index, by, id)?;
        }
        Ok(())
    }
    fn put_mark(&mut self, _mark: RecoveryMark) -> Result<(), VerifyError> {
        // Compromise marks are derived again by every reader that needs them (status, history,
        // verify) from the entries; nothing is stored.
        Ok(())
    }
}
