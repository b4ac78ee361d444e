//! The witness's state (`accord witness serve --state DIR`): one small redb file, separate from
//! any ledger, holding per log origin the latest checkpoint the witness cosigned.
//!
//! | table | key → value | what |
//! | --- | --- | --- |
//! | `witness_meta` | text → bytes | format tag |
//! | `cosigned` | origin → (size, root, time, note) | the latest cosigned checkpoint, with the cosignature |
//!
//! Each `add-checkpoint` is one write transaction (two-phase commit, immediate durability:
//! fsync before `commit` returns): the stored size is read, checked and replaced inside it, and
//! the answer is sent only after it committed. redb has one writer at a time, so two requests
//! for one log never both pass a check against the same stored size.

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{contain, StoreError};
use crate::witness::{Cosigned, CosignedState, WitnessError};

/// File name of the witness database inside its state directory.
pub const WITNESS_DB_FILE: &str = "witness.redb";
/// The format tag of the witness database.
pub const WITNESS_FORMAT_TAG: &[u8] = b"accord-witness/1";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("witness_meta");
/// (size, root, cosignature time, checkpoint with the cosignature).
type CosignedRow<'a> = (u64, [u8; 32], u64, &'a [u8]);
const COSIGNED: TableDefinition<&str, CosignedRow<'static>> = TableDefinition::new("cosigned");

/// The witness's open database: one writer at a time (redb locks the file), and readers
/// (`accord witness status`) beside it.
pub struct WitnessDb {
    db: Db,
    path: PathBuf,
}

enum Db {
    Rw(redb::Database),
    Ro(redb::ReadOnlyDatabase),
}

fn builder() -> redb::Builder {
    let mut b = redb::Builder::new();
    b.set_concurrency_mode(redb::ConcurrencyMode::SingleWriter);
    b.set_cache_size(16 << 20);
    b
}

fn open_err(dir: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
            StoreError::Io(format!(
                "the witness state at {} is in use by another accord witness",
                dir.display()
            ))
        }
        redb::DatabaseError::Storage(s) => StoreError::from(s),
        other => StoreError::Io(other.to_string()),
    }
}

impl std::fmt::Debug for WitnessDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WitnessDb({})", self.path.display())
    }
}

impl WitnessDb {
    /// The path of the witness database in `dir`.
    pub fn file(dir: &Path) -> PathBuf {
        dir.join(WITNESS_DB_FILE)
    }

    /// Opens the witness database in `dir` (a directory the caller made private), creating it
    /// when absent.
    ///
    /// # Errors
    /// [`StoreError::InUse`] when another witness holds it, [`StoreError::Damaged`] for a file
    /// that is not a witness database, [`StoreError::Io`].
    pub fn open(dir: &Path) -> Result<WitnessDb, StoreError> {
        let path = dir.join(WITNESS_DB_FILE);
        let db = contain(|| builder().create(&path).map_err(|e| open_err(dir, e)))?;
        contain(|| {
            let mut txn = db.begin_write()?;
            txn.set_two_phase_commit(true);
            txn.set_quick_repair(true);
            {
                let mut meta = txn.open_table(META)?;
                let tag = meta.get("format")?.map(|g| g.value().to_vec());
                match tag {
                    None => {
                        meta.insert("format", WITNESS_FORMAT_TAG)?;
                    }
                    Some(t) if t == WITNESS_FORMAT_TAG => {}
                    Some(_) => {
                        return Err(StoreError::Damaged(format!(
                            "{} is not an accord witness database",
                            path.display()
                        )))
                    }
                }
                txn.open_table(COSIGNED)?;
            }
            txn.commit()?;
            Ok(())
        })?;
        Ok(WitnessDb { db: Db::Rw(db), path })
    }

    /// Opens the witness database in `dir` to read it, while a witness may be writing it. A
    /// database left by a killed witness that needs redb's repair is repaired first when no
    /// witness holds it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none, [`StoreError`].
    pub fn open_read_only(dir: &Path) -> Result<WitnessDb, StoreError> {
        let path = dir.join(WITNESS_DB_FILE);
        if !path.is_file() {
            return Err(StoreError::NotFound(dir.to_path_buf()));
        }
        let open = || contain(|| builder().open_read_only(&path).map_err(|e| open_err(dir, e)));
        let db = match open() {
            Ok(db) => db,
            Err(_) => {
                drop(WitnessDb::open(dir)?);
                open()?
            }
        };
        Ok(WitnessDb { db: Db::Ro(db), path })
    }

    /// Every log's latest cosigned checkpoint, by origin.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn list(&self) -> Result<Vec<(String, Cosigned)>, StoreError> {
        contain(|| {
            let txn = match &self.db {
                Db::Rw(db) => db.begin_read()?,
                Db::Ro(db) => db.begin_read()?,
            };
            let t = txn.open_table(COSIGNED)?;
            let mut out = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                let (size, root, time, note) = v.value();
                out.push((
                    k.value().to_string(),
                    Cosigned {
                        size,
                        root,
                        time,
                        note: note.to_vec(),
                    },
                ));
            }
            Ok(out)
        })
    }
}

impl CosignedState for WitnessDb {
    fn advance(
        &self,
        origin: &str,
        decide: &mut dyn FnMut(Option<&Cosigned>) -> Result<Cosigned, WitnessError>,
    ) -> Result<(), WitnessError> {
        let state = |e: StoreError| WitnessError::State(e.to_string());
        let Db::Rw(db) = &self.db else {
            return Err(state(StoreError::ReadOnly));
        };
        contain(|| {
            let mut txn = db.begin_write().map_err(|e| state(e.into()))?;
            txn.set_two_phase_commit(true);
            txn.set_quick_repair(true);
            {
                let mut t = txn.open_table(COSIGNED).map_err(|e| state(e.into()))?;
                let stored = t.get(origin).map_err(|e| state(e.into()))?.map(|g| {
                    let (size, root, time, note) = g.value();
                    Cosigned {
                        size,
                        root,
                        time,
                        note: note.to_vec(),
                    }
                });
                // A refusal drops the transaction: nothing is written.
                let new = decide(stored.as_ref())?;
                t.insert(origin, (new.size, new.root, new.time, new.note.as_slice()))
                    .map_err(|e| state(e.into()))?;
            }
            txn.commit().map_err(|e| state(e.into()))?;
            Ok(())
        })
    }
}

impl From<StoreError> for WitnessError {
    fn from(e: StoreError) -> Self {
        WitnessError::State(e.to_string())
    }
}
