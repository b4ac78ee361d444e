//! Building or extending a read-only mirror from an export, from one read of it.

use super::invalid;
use super::{ImportReport, Ledger, LedgerError, META_KEY_FILE, META_MIRROR, META_ORIGIN, META_VKEY};
use crate::checkpoint::{SignedCheckpoint, VerifierKey};

use crate::merkle::{Frontier, Hash};
use crate::norms::Catalogue;
use crate::replay::Progress;
use crate::store::{Store, StoreError};
use crate::verdict::{decode_entry_statement, Location, VerifyError};

/// What an import reads, as its messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    /// An export file (`accord import`).
    Export,
    /// A published log read as an export stream (`accord mirror URL|DIR`).
    PublishedLog,
}

impl std::fmt::Display for ImportSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImportSource::Export => "the export",
            ImportSource::PublishedLog => "the published log",
        })
    }
}

/// Why an import with a check before commit stopped: the import's own failure, or the check's.
enum Stop<E> {
    Ledger(LedgerError),
    Check(E),
}

impl<E> From<StoreError> for Stop<E> {
    fn from(e: StoreError) -> Self {
        Stop::Ledger(e.into())
    }
}

impl<E> From<LedgerError> for Stop<E> {
    fn from(e: LedgerError) -> Self {
        Stop::Ledger(e)
    }
}

impl<E> From<VerifyError> for Stop<E> {
    fn from(e: VerifyError) -> Self {
        Stop::Ledger(e.into())
    }
}

impl Ledger {
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
        Ledger::import_checked(
            dir,
            input,
            ImportSource::Export,
            vkey,
            catalogue,
            progress,
            |_, _| Ok::<(), LedgerError>(()),
        )
    }

    /// [`Ledger::import`] from `source`, with one more check before anything is committed:
    /// once the whole input has verified, `before_commit` is given the verified checkpoint and
    /// the root of the verified tree at any size up to it (`None` beyond), and the mirror is
    /// committed only if it returns `Ok`. `accord mirror` compares the checkpoint there with
    /// the one it remembers (a rollback or a fork stops the mirror before it changes).
    ///
    /// # Errors
    /// As [`Ledger::import`], and what `before_commit` returns (the mirror unchanged).
    pub fn import_checked<E: From<LedgerError>>(
        dir: &std::path::Path,
        input: &mut impl std::io::Read,
        source: ImportSource,
        vkey: &VerifierKey,
        catalogue: &Catalogue,
        progress: Option<Progress<'_>>,
        before_commit: impl FnOnce(&SignedCheckpoint, &dyn Fn(u64) -> Option<Hash>) -> Result<(), E>,
    ) -> Result<ImportReport, E> {
        let header = crate::export::read_header(input).map_err(LedgerError::from)?;
        let verified = crate::export::open_header(&header, vkey).map_err(LedgerError::from)?;
        let existing = if Store::db_path(dir).exists() {
            Some(Ledger::open(dir)?)
        } else {
            None
        };
        let mirror = match &existing {
            Some(l) => {
                if !l.is_mirror()? {
                    return Err(LedgerError::BadArgument(format!(
                        "{} holds a custodian's ledger, not a mirror; mirror or import into another --ledger DIR",
                        dir.display()
                    ))
                    .into());
                }
                let recorded = l.recorded_vkey()?;
                if recorded != vkey.to_string() {
                    return Err(LedgerError::BadArgument(format!(
                        "the mirror at {} was made with another ledger key ({recorded}); mirror or import this ledger ({vkey}) into another --ledger DIR",
                        dir.display()
                    ))
                    .into());
                }
                let (m, note) = l.latest_checkpoint()?;
                Some((m, SignedCheckpoint::open(&note, vkey).map_err(LedgerError::from)?))
            }
            None => None,
        };
        let from = mirror.as_ref().map_or(0, |(m, _)| *m);
        if header.size < from {
            return Err(invalid(
                Location::Ledger,
                format!(
                    "ROLLBACK: {source} holds {} entries but the mirror already has {from}",
                    header.size
                ),
            )
            .into());
        }
        let dir_existed = dir.exists();
        let (ledger, staged) = match existing {
            Some(l) => (l, None),
            None => {
                let (store, path) = Store::create_staged(dir).map_err(LedgerError::from)?;
                (Ledger { store }, Some(path))
            }
        };
        let result = ledger.store.write(|t| -> Result<_, Stop<E>> {
            if staged.is_some() {
                t.set_meta(META_ORIGIN, vkey.name().as_bytes())?;
                t.set_meta(META_VKEY, vkey.to_string().as_bytes())?;
                t.set_meta(META_KEY_FILE, b"")?;
                t.set_meta(META_MIRROR, b"1")?;
            }
            let mut frontier = Frontier::from_store(from, &*t).map_err(LedgerError::from)?;
            let (report, _, root_at) = crate::export::verify_export_entries(
                input,
                &header,
                vkey,
                catalogue,
                Some(from),
                None,
                progress,
                |batch| -> Result<(), LedgerError> {
                    // Entries that passed the rules; the transaction commits only if every
                    // signature and the checkpoint verify too.
                    // The state map follows the derived tables (the replay checks the roots
                    // the entries commit; the map kept here is what the mirror's verify and
                    // proofs read).
                    let mut changes = crate::rules::state::Changes::default();
                    for (i, bytes) in batch.iter() {
                        if i < from {
                            continue;
                        }
                        let (e, st) = decode_entry_statement(i, bytes)?;
                        crate::rules::state::apply_tracked(&mut *t, &mut changes, i, e.logged_at, &st)?;
                        t.put_entry(i, bytes)?;
                        for (hi, h) in frontier.push(crate::merkle::leaf_hash(bytes)) {
                            t.put_hash(hi, &h)?;
                        }
                    }
                    super::append::update_state_map(t, &changes)?;
                    Ok(())
                },
            )?;
            if let Some((m, mine)) = &mirror {
                if root_at != Some(mine.checkpoint.root) {
                    return Err(invalid(
                        Location::Checkpoint(*m),
                        format!(
                            "FORK: {source}'s tree at the mirror's size has another root than the mirror"
                        ),
                    )
                    .into());
                }
            }
            // Everything verified; the tree is the one in the transaction (the mirror's hashes
            // and those of the verified entries after them).
            let tables = &*t;
            let root_of = |size: u64| {
                (size <= header.size)
                    .then(|| crate::merkle::tree_root(size, tables).ok())
                    .flatten()
            };
            before_commit(&verified, &root_of).map_err(Stop::Check)?;
            if header.size > from || mirror.is_none() {
                t.put_checkpoint(header.size, &header.checkpoint)?;
            }
            Ok(report)
        });
        let result = result.map_err(|e| match e {
            Stop::Ledger(e) => E::from(e),
            Stop::Check(e) => e,
        });
        match (result, staged) {
            (Ok(report), Some(path)) => {
                ledger.store.publish_staged(&path).map_err(LedgerError::from)?;
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
}
