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

use redb::{ReadableDatabase, TableDefinition};

mod registry;
mod tables;
pub mod witness;

pub use crate::rules::KeyRecord;
pub use tables::{DerivedRow, ReadTables, WriteTables};

/// File name of the database inside the ledger directory.
pub const DB_FILE: &str = "ledger.redb";
/// The `meta` table's format tag. Format 2 added the `ended`, `untrusted` and `name_keys`
/// tables, format 3 the state map's (`state_nodes`, `state_values`); a ledger of an older
/// format ([`OLD_FORMAT_TAGS`]) is opened only to be upgraded
/// ([`crate::ledger::Ledger::upgrade`]).
pub const FORMAT_TAG: &[u8] = b"accord-ledger/3";
/// The format tags of ledgers written before the `ended` and `untrusted` tables (1) and before
/// the state map (2).
pub const OLD_FORMAT_TAGS: [&[u8]; 2] = [b"accord-ledger/1", b"accord-ledger/2"];

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
/// The state map's nodes by position (docs/FORMAT.md section 18; [`crate::statemap`]).
pub(crate) const STATE_NODES: TableDefinition<[u8; 34], &[u8]> = TableDefinition::new("state_nodes");
/// The state map's values by key.
pub(crate) const STATE_VALUES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("state_values");
/// Cosigned checkpoints (issue 16): tree size → the checkpoint's note with the log's signature
/// and the witnesses' cosignature lines. Created by the first write; a ledger without it has
/// none. Not part of the hash chain: a cosignature is evidence about a checkpoint, checked
/// against the witness policy of whoever reads it.
pub(crate) const COSIGNED: TableDefinition<u64, &[u8]> = TableDefinition::new("cosigned");

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No ledger at that place.
    #[error("no ledger at {0} (create one with `accord init --origin NAME`, or pass --ledger DIR)")]
    NotFound(PathBuf),
    /// A ledger is already there.
    #[error("a ledger already exists at {0}")]
    Exists(PathBuf),
    /// Another process holds the ledger: its directory, and who holds it as far as the
    /// holder recorded it (` (pid 1234: accord attest)`, or nothing).
    #[error("the ledger at {0} is in use by another accord process{1}; try again when it has finished")]
    InUse(PathBuf, String),
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
    #[error("the ledger at {0} was written by an older accord (store format 1 or 2); run `accord upgrade` once to rebuild its derived tables and its state map (entries and checkpoints are not changed)")]
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
            StoreError::InUse(path.to_path_buf(), holder(path))
        }
        redb::DatabaseError::RepairAborted => StoreError::NeedsRepair(path.to_path_buf()),
        redb::DatabaseError::Storage(s) => storage(s),
        other => StoreError::Damaged(other.to_string()),
    }
}

/// The file in a ledger directory where the process that opened the ledger for writing last
/// recorded its process id, so that a command kept waiting can say who holds the ledger.
const HOLDER_FILE: &str = "holder";

/// Records this process as the ledger's writer (best effort: it only improves a message).
fn record_holder(dir: &Path) {
    let _ = std::fs::write(dir.join(HOLDER_FILE), format!("{}\n", std::process::id()));
}

/// Who holds the ledger in `dir`, as ` (pid N: PROGRAM ARGS)` (the program's name and its
/// first five arguments, from /proc where there is one), or nothing when no live holder is recorded.
fn holder(dir: &Path) -> String {
    let Some(pid) = std::fs::read_to_string(dir.join(HOLDER_FILE))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return String::new();
    };
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let words: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|w| !w.is_empty())
                .take(6)
                .enumerate()
                .map(|(k, w)| {
                    let w = String::from_utf8_lossy(w);
                    let w = if k == 0 {
                        w.rsplit('/').next().unwrap_or_default()
                    } else {
                        &w
                    };
                    w.chars().take(40).collect()
                })
                .collect();
            format!(" (pid {pid}: {})", words.join(" "))
        }
        // Not running any more (a stale record), or no /proc to ask.
        Err(_) if Path::new("/proc/self").exists() => String::new(),
        Err(_) => format!(" (pid {pid})"),
    }
}

impl Store {
    /// Every open of a ledger uses redb's `SingleWriter` concurrency mode (docs/ARCHITECTURE.md,
    /// "Processes sharing a ledger"): one writing process at a time and any number of reading
    /// processes, which follow the writer's commits; so `accord serve` reads while `accord attest`
    /// appends. Every process must open in the same mode.
    fn builder() -> redb::Builder {
        let mut b = redb::Builder::new();
        b.set_concurrency_mode(redb::ConcurrencyMode::SingleWriter);
        b
    }

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
        let db = Self::builder()
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
        let db = match Self::builder().set_cache_size(WRITE_CACHE_BYTES).create(&path) {
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
            Self::builder()
                .set_cache_size(WRITE_CACHE_BYTES)
                .open(&path)
                .map_err(|e| open_err(dir, e))
        })?;
        record_holder(dir);
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
                    Self::builder()
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
                UNTRUSTED,
                NAME_KEYS,
                STATE_NODES,
                STATE_VALUES
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
                Self::builder()
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
            Some(t) if OLD_FORMAT_TAGS.contains(&&t[..]) => Err(StoreError::NeedsUpgrade(self.path.clone())),
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

impl Store {
    /// Stores (or replaces) the cosigned note of the checkpoint of `size`, durably. The caller
    /// has checked that its text is the stored checkpoint's and its cosignatures verify.
    ///
    /// # Errors
    /// [`StoreError`] (including [`StoreError::ReadOnly`]).
    pub fn put_cosigned(&self, size: u64, note: &[u8]) -> Result<(), StoreError> {
        let Db::Rw(db) = &self.db else {
            return Err(StoreError::ReadOnly);
        };
        contain(|| {
            let mut txn = db.begin_write()?;
            txn.set_two_phase_commit(true);
            txn.set_quick_repair(true);
            txn.open_table(COSIGNED)?.insert(size, note)?;
            txn.commit()?;
            Ok(())
        })
    }

    /// Every stored cosigned checkpoint note, by tree size, smallest first (empty for a ledger
    /// that never stored one).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn cosigned(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        use redb::ReadableTable as _;
        contain(|| {
            let txn = match &self.db {
                Db::Rw(db) => db.begin_read()?,
                Db::Ro(db) => db.begin_read()?,
            };
            let table = match txn.open_table(COSIGNED) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let mut out = Vec::new();
            for item in table.iter()? {
                let (k, v) = item?;
                out.push((k.value(), v.value().to_vec()));
            }
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

#[cfg(test)]
mod tests;
