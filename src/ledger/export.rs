//! Writing a ledger as an export file (the format is in [`crate::export`]).

use super::{Ledger, LedgerError};
use crate::export::{write_entry, write_header, ExportHeader};
use crate::replay::Progress;
use crate::store::StoreError;
use crate::verdict::Location;

/// How often, in entries, an export reports its progress.
const PROGRESS_EVERY: u64 = 1024;

impl Ledger {
    /// Writes the ledger, up to its latest signed checkpoint, as an export file. The checkpoint
    /// carries its cosignatures when a cosigned note of that size is stored.
    ///
    /// # Errors
    /// Storage and I/O errors.
    pub fn export(&self, w: &mut impl std::io::Write) -> Result<ExportHeader, LedgerError> {
        self.export_with_progress(w, None)
    }

    /// [`Ledger::export`], telling `progress` how many entries are written (now and then, and
    /// once at the end).
    ///
    /// # Errors
    /// Storage and I/O errors.
    pub fn export_with_progress(
        &self,
        w: &mut impl std::io::Write,
        progress: Option<Progress<'_>>,
    ) -> Result<ExportHeader, LedgerError> {
        self.export_at(w, None, progress)
    }

    /// [`Ledger::export_with_progress`] up to the checkpoint `at` gives (its tree size and its
    /// note, which the caller took from [`Ledger::own_cosigned`]: a cosigned note of the
    /// ledger's own checkpoint of that size), or, with `None`, the latest.
    ///
    /// # Errors
    /// Storage and I/O errors.
    pub fn export_at(
        &self,
        w: &mut impl std::io::Write,
        at: Option<(u64, Vec<u8>)>,
        progress: Option<Progress<'_>>,
    ) -> Result<ExportHeader, LedgerError> {
        let cosigned = if at.is_none() {
            self.own_cosigned()?
        } else {
            Vec::new()
        };
        self.store().read(|r| {
            let origin = String::from_utf8(r.meta(super::META_ORIGIN)?.unwrap_or_default())
                .map_err(|_| StoreError::Damaged("origin".into()))?;
            let (size, checkpoint) = match at {
                Some(at) => at,
                None => {
                    let (size, checkpoint) = r
                        .latest_checkpoint()?
                        .ok_or_else(|| StoreError::Damaged("no checkpoint".into()))?;
                    // With its cosignatures, when the ledger stores them for this checkpoint.
                    let checkpoint = cosigned
                        .into_iter()
                        .find(|(s, _)| *s == size)
                        .map_or(checkpoint, |(_, note)| note);
                    (size, checkpoint)
                }
            };
            let header = ExportHeader {
                origin,
                size,
                checkpoint,
            };
            write_header(w, &header)?;
            if let Some(p) = progress {
                p(0, size);
            }
            let mut n = 0u64;
            r.for_each_entry(0, |i, b| -> Result<bool, LedgerError> {
                if i >= size {
                    return Ok(false);
                }
                if i != n {
                    return Err(LedgerError::Invalid {
                        at: Location::Entry(n),
                        problem: "missing".into(),
                    });
                }
                write_entry(w, b)?;
                n += 1;
                if let Some(p) = progress.filter(|_| n.is_multiple_of(PROGRESS_EVERY)) {
                    p(n, size);
                }
                Ok(true)
            })?;
            if n != size {
                return Err(LedgerError::Invalid {
                    at: Location::Entry(n),
                    problem: "missing".into(),
                });
            }
            w.flush()
                .map_err(|e| LedgerError::Store(StoreError::Io(e.to_string())))?;
            if let Some(p) = progress {
                p(size, size);
            }
            Ok(header)
        })
    }
}
