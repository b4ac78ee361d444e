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
const COSIGNED: TableDefinition<&str, (u64, [u8; 32], u64, &[u8])> = TableDefinition::new("cosigned");

/// The witness's open database (one process at a time: redb locks the file).
pub struct WitnessDb {
    db: redb::Database,
    path: PathBuf,
}

impl std::fmt::Debug for WitnessDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WitnessDb({})", self.path.display())
    }
}

impl WitnessDb {
    /// Opens the witness database in `dir` (a directory the caller made private), creating it
    /// when absent.
    ///
    /// # Errors
    /// [`StoreError::InUse`] when another witness holds it, [`StoreError::Damaged`] for a file
    /// that is not a witness database, [`StoreError::Io`].
    pub fn open(dir: &Path) -> Result<WitnessDb, StoreError> {
        let path = dir.join(WITNESS_DB_FILE);
        let db = contain(|| {
            redb::Builder::new()
                .set_cache_size(16 << 20)
                .create(&path)
                .map_err(|e| match e {
                    redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
                        StoreError::InUse(dir.to_path_buf(), String::new())
                    }
                    redb::DatabaseError::Storage(s) => StoreError::from(s),
                    other => StoreError::Io(other.to_string()),
                })
        })?;
        let w = WitnessDb { db, path };
        contain(|| {
            let mut txn = w.db.begin_write()?;
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
                            w.path.display()
                        )))
                    }
                }
                txn.open_table(COSIGNED)?;
            }
            txn.commit()?;
            Ok(())
        })?;
        Ok(w)
    }

    /// Every log's latest cosigned checkpoint, by origin.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn list(&self) -> Result<Vec<(String, Cosigned)>, StoreError> {
        contain(|| {
            let txn = self.db.begin_read()?;
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
        contain(|| {
            let mut txn = self.db.begin_write().map_err(|e| state(e.into()))?;
            txn.set_two_phase_commit(true);
            txn.set_quick_repair(true);
            {
                let mut t = txn.open_table(COSIGNED).map_err(|e| state(e.into()))?;
                let stored = t
                    .get(origin)
                    .map_err(|e| state(e.into()))?
                    .map(|g| {
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
