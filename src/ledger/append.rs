//! Appending: statements checked by the rules and their signatures on all cores, written with
//! their Merkle hashes and a new signed checkpoint in one durable transaction.

use std::collections::HashSet;

use rayon::prelude::*;

use super::invalid;
use super::{Appended, Ledger, LedgerError, META_ORIGIN, META_VKEY};
use crate::checkpoint::{Checkpoint, LedgerKey, SignedCheckpoint};
use crate::entry::{Entry, ENTRY_VERSION, GENESIS_PREV};
use crate::merkle::Frontier;
use crate::norms::Catalogue;
use crate::rules::{apply, check_rules, Rejection};
use crate::statement::{Statement, StatementError};
use crate::store::StoreError;
use crate::time::Seconds;
use crate::verdict::{entry_problem, Location};

/// Statements per chunk handed to the signature checker during an append.
const APPEND_CHECK_CHUNK: usize = 256;

impl Ledger {
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
                (crate::merkle::leaf_hash(&b), e.logged_at)
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
                        prev = crate::merkle::leaf_hash(&bytes);
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
}
