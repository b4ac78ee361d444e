//! Building or extending a read-only mirror from an export, from one read of it.

use super::invalid;
use super::{ImportReport, Ledger, LedgerError, META_KEY_FILE, META_MIRROR, META_ORIGIN, META_VKEY};
use crate::checkpoint::{SignedCheckpoint, VerifierKey};

use crate::merkle::Frontier;
use crate::norms::Catalogue;
use crate::replay::Progress;
use crate::rules::apply;
use crate::store::Store;
use crate::verdict::{decode_entry_statement, Location};

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
                |batch| -> Result<(), LedgerError> {
                    // Entries that passed the rules; the transaction commits only if every
                    // signature and the checkpoint verify too.
                    for (i, bytes) in batch.iter() {
                        if i < from {
                            continue;
                        }
                        let (e, st) = decode_entry_statement(i, bytes)?;
                        apply(&mut *t, i, e.logged_at, &st)?;
                        t.put_entry(i, bytes)?;
                        for (hi, h) in frontier.push(crate::merkle::leaf_hash(bytes)) {
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
}
