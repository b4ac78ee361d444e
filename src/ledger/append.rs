//! Appending: statements checked by the rules and their signatures on all cores, written with
//! their Merkle hashes and a new signed checkpoint in one durable transaction.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::invalid;
use super::{Appended, Ledger, LedgerError, META_ORIGIN, META_VKEY};
use crate::checkpoint::{Checkpoint, LedgerKey, SignedCheckpoint};
use crate::entry::{Entry, ENTRY_VERSION, GENESIS_PREV};
use crate::merkle::Frontier;
use crate::norms::Catalogue;
use crate::rules::state::Changes;
use crate::rules::{check_rules, Rejection};
use crate::statement::StatementId;
use crate::statement::{Statement, StatementError};
use crate::store::{StoreError, WriteTables};
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
            let Tip {
                origin,
                size,
                mut frontier,
                mut prev,
                last_time,
            } = Tip::read(t, key)?;
            // Log times never decrease, even if the clock steps back.
            let logged_at = now.max(last_time);
            let last_time = logged_at;
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
                    let mut changes = Changes::default();
                    let mut chunk = Vec::with_capacity(APPEND_CHECK_CHUNK);
                    for (i, st) in sts.iter().enumerate() {
                        let index = size + i as u64;
                        let key = check_rules(st, &origin, logged_at, ENTRY_VERSION, &*t, catalogue)?
                            .map_err(|r| LedgerError::Rejected {
                                position: i + 1,
                                rejection: r,
                            })?;
                        crate::rules::state::apply_tracked(&mut *t, &mut changes, index, logged_at, st)?;
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
                    let state = update_state_map(t, &changes)?;
                    let mut out = Vec::with_capacity(sts.len());
                    for (i, st) in sts.iter().enumerate() {
                        let index = size + i as u64;
                        let state = (i + 1 == sts.len()).then_some(state);
                        put_entry(t, &mut frontier, &mut prev, index, last_time, st, state)?.map_err(
                            |r| LedgerError::Rejected {
                                position: i + 1,
                                rejection: r,
                            },
                        )?;
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
            sign_checkpoint(t, key, &frontier)?;
            Ok(out)
        })
    }

    /// Appends statements as one group commit: each is judged on its own, in order, by the
    /// rules and its signature (against the ledger as it stands with the group's earlier
    /// statements applied); those accepted are written in one durable transaction under one new
    /// signed checkpoint, and a refused one takes no other with it. A statement already in the
    /// ledger, or given earlier in the group, is [`Outcome::AlreadyIn`] (a client may resubmit
    /// safely). Returns only after the transaction is durable; nothing is acknowledged before.
    ///
    /// # Errors
    /// Storage and key errors (then nothing of the group is written).
    pub fn append_each(
        &self,
        statements: &[Vec<u8>],
        key: &LedgerKey,
        now: Seconds,
        catalogue: &Catalogue,
    ) -> Result<Vec<Outcome>, LedgerError> {
        let decoded: Vec<Result<Statement, StatementError>> =
            statements.par_iter().map(|b| Statement::decode(b)).collect();
        self.store.write(|t| {
            let Tip {
                origin,
                size,
                mut frontier,
                mut prev,
                last_time,
            } = Tip::read(t, key)?;
            let logged_at = now.max(last_time);
            let mut out = Vec::with_capacity(decoded.len());
            let mut in_group: HashMap<StatementId, u64> = HashMap::new();
            let mut changes = Changes::default();
            // Accepted statements, written at the end: the last carries the state root.
            let mut accepted: Vec<Statement> = Vec::new();
            let mut group_prev = prev;
            for d in decoded {
                let st = match d {
                    Ok(st) => st,
                    Err(e) => {
                        out.push(Outcome::Refused(e.into()));
                        continue;
                    }
                };
                let id = st.id();
                if let Some(&index) = in_group.get(&id) {
                    out.push(Outcome::AlreadyIn { index, id });
                    continue;
                }
                if let Some(index) = crate::rules::Registry::statement(&*t, &id)? {
                    out.push(Outcome::AlreadyIn { index, id });
                    continue;
                }
                let index = size + accepted.len() as u64;
                let key = match check_rules(&st, &origin, logged_at, ENTRY_VERSION, &*t, catalogue)? {
                    Ok(k) => k,
                    Err(r) => {
                        out.push(Outcome::Refused(r));
                        continue;
                    }
                };
                // Checked before anything of it is applied: a bad signature refuses this
                // statement alone.
                if let Err(e) = st.verify_signature(&key) {
                    out.push(Outcome::Refused(e.into()));
                    continue;
                }
                if let Err(r) = fits(index, logged_at, &st) {
                    out.push(Outcome::Refused(r));
                    continue;
                }
                // Stored at once (without a state root; the last is written again with it
                // below), since the rules read earlier entries of the group by index.
                let mut entry = Entry::new(index, group_prev, logged_at, st.bytes().to_vec());
                entry.state = None;
                let bytes = entry
                    .encode()
                    .map_err(|e| StoreError::Damaged(format!("entry {index} does not encode: {e}")))?;
                group_prev = crate::merkle::leaf_hash(&bytes);
                t.put_entry(index, &bytes)?;
                crate::rules::state::apply_tracked(&mut *t, &mut changes, index, logged_at, &st)?;
                in_group.insert(id, index);
                out.push(Outcome::Appended(Appended {
                    index,
                    id,
                    kind: st.kind(),
                    org: st.iss.clone(),
                }));
                accepted.push(st);
            }
            if !accepted.is_empty() {
                let state = update_state_map(t, &changes)?;
                for (i, st) in accepted.iter().enumerate() {
                    let index = size + i as u64;
                    let state = (i + 1 == accepted.len()).then_some(state);
                    put_entry(t, &mut frontier, &mut prev, index, logged_at, st, state)?.map_err(|r| {
                        LedgerError::Rejected {
                            position: i + 1,
                            rejection: r,
                        }
                    })?;
                }
                sign_checkpoint(t, key, &frontier)?;
            }
            Ok(out)
        })
    }
}

/// What became of one statement of a group commit ([`Ledger::append_each`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written, durable, under the new checkpoint.
    Appended(Appended),
    /// Already in the ledger (or earlier in the same group) at this index: nothing written.
    AlreadyIn {
        /// Where it is.
        index: u64,
        /// Its statement id.
        id: StatementId,
    },
    /// Refused by the rules, its signature or its encoding; nothing of it written.
    Refused(Rejection),
}

/// The end of the ledger as an append finds it, checked against the last signed checkpoint.
struct Tip {
    origin: String,
    size: u64,
    frontier: Frontier,
    /// The leaf hash of the last entry (the next entry's `prev`).
    prev: crate::merkle::Hash,
    last_time: Seconds,
}

impl Tip {
    fn read(t: &WriteTables<'_>, key: &LedgerKey) -> Result<Tip, LedgerError> {
        let origin = String::from_utf8(t.meta(META_ORIGIN)?.unwrap_or_default())
            .map_err(|_| StoreError::Damaged("origin not UTF-8".into()))?;
        let recorded = String::from_utf8(t.meta(META_VKEY)?.unwrap_or_default())
            .map_err(|_| StoreError::Damaged("vkey not UTF-8".into()))?;
        let given = key.verifier_key().to_string();
        if given != recorded {
            return Err(LedgerError::WrongLedgerKey { given, recorded });
        }
        let size = t.entry_count()?;
        let frontier = Frontier::from_store(size, t)?;
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
        let (prev, last_time) = if size == 0 {
            (GENESIS_PREV, Seconds::MIN)
        } else {
            let b = t
                .entry(size - 1)?
                .ok_or_else(|| StoreError::Damaged(format!("entry {} missing", size - 1)))?;
            let e = Entry::decode(&b).map_err(|e| invalid(Location::Entry(size - 1), entry_problem(&e)))?;
            (crate::merkle::leaf_hash(&b), e.logged_at)
        };
        Ok(Tip {
            origin,
            size,
            frontier,
            prev,
            last_time,
        })
    }
}

/// Whether `st` fits in an entry (at most 65,535 bytes, FORMAT.md section 5) wherever it
/// falls in a commit, the state root included.
fn fits(index: u64, logged_at: Seconds, st: &Statement) -> Result<(), Rejection> {
    let mut entry = Entry::new(index, GENESIS_PREV, logged_at, st.bytes().to_vec());
    entry.state = Some([0; 32]);
    entry
        .encode()
        .map(|_| ())
        .map_err(|e| Rejection::Statement(StatementError::Invalid(e.to_string())))
}

/// Brings the stored state map up to date with the rules' effects in `changes`; returns its
/// root, which the commit's last entry carries.
pub(crate) fn update_state_map(
    t: &mut WriteTables<'_>,
    changes: &Changes,
) -> Result<crate::statemap::Hash, LedgerError> {
    let updates = changes.updates(&*t, &*t)?;
    Ok(crate::statemap::update(t, &updates)?)
}

/// Writes `st` as entry `index` after `prev`, with its Merkle hashes, and the state root when
/// it is the last of its commit; the inner error is an entry that cannot be encoded (nothing
/// written then).
fn put_entry(
    t: &mut WriteTables<'_>,
    frontier: &mut Frontier,
    prev: &mut crate::merkle::Hash,
    index: u64,
    logged_at: Seconds,
    st: &Statement,
    state: Option<crate::statemap::Hash>,
) -> Result<Result<(), Rejection>, LedgerError> {
    let mut entry = Entry::new(index, *prev, logged_at, st.bytes().to_vec());
    entry.state = state;
    let bytes = match entry.encode() {
        Ok(b) => b,
        Err(e) => return Ok(Err(Rejection::Statement(StatementError::Invalid(e.to_string())))),
    };
    *prev = crate::merkle::leaf_hash(&bytes);
    t.put_entry(index, &bytes)?;
    for (hi, h) in frontier.push(*prev) {
        t.put_hash(hi, &h)?;
    }
    Ok(Ok(()))
}

/// Signs and stores the checkpoint of the tree `frontier` holds.
fn sign_checkpoint(t: &mut WriteTables<'_>, key: &LedgerKey, frontier: &Frontier) -> Result<(), LedgerError> {
    let cp = key.sign(&Checkpoint {
        origin: key.origin().clone(),
        size: frontier.size(),
        root: frontier.root(),
    })?;
    t.put_checkpoint(frontier.size(), &cp.note)?;
    Ok(())
}
