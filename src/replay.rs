//! Replaying a ledger: the streaming, parallel verifier shared by the database and export-file
//! paths ([`Replay`]), the comparison of derived tables with the replay, and the second pass
//! that lists untrusted entries.

use rayon::prelude::*;

use crate::checkpoint::{SignedCheckpoint, VerifierKey};
use crate::entry::{Entry, GENESIS_PREV};
use crate::keys::PublicKey;
use crate::ledger::{decode_entry_statement, invalid, LedgerError, Location, VerifyReport};
use crate::norms::Catalogue;
use crate::proof::{self, Frontier, Hash};
use crate::rules::{apply, check_rules, IndexChain, MemRegistry, RecoveryMark};
use crate::statement::{Body, Statement};
use crate::store::{DerivedRow, ReadTables};
use crate::time::Seconds;

/// Lists the entries that recoveries made untrusted, in a second pass over the entries (only
/// when some recovery set a compromise time). `scan` feeds every entry to its callback.
///
/// # Errors
/// What `scan` returns.
pub fn untrusted_entries(
    marks: &[RecoveryMark],
    scan: impl FnOnce(&mut dyn FnMut(u64, Seconds, &Statement)) -> Result<(), LedgerError>,
) -> Result<Vec<u64>, LedgerError> {
    let mut out = Vec::new();
    if marks.is_empty() {
        return Ok(out);
    }
    scan(&mut |i, t, st| {
        if marks.iter().any(|m| m.covers(&st.iss, &st.kid, i, t)) {
            out.push(i);
        }
    })?;
    Ok(out)
}

/// Point checks of one replayed entry against the store's derived tables: the Merkle hashes it
/// completes. (`statement_ids`, `org_entries` and `norm_entries` are compared whole by
/// [`check_derived_tables`], by one sequential scan each instead of a lookup per entry.)
pub(crate) fn check_derived_entry(
    r: &ReadTables,
    index: u64,
    stored: &[(u64, Hash)],
) -> Result<(), LedgerError> {
    for (hi, h) in stored {
        if r.hash(*hi)?.as_ref() != Some(h) {
            return Err(invalid(
                Location::Entry(index),
                format!("stored Merkle hash {hi} differs from the hash of the entry as replayed (entry altered, or table hashes damaged)"),
            ));
        }
    }
    Ok(())
}

/// Compares `org_entries` (`norms` false) or `norm_entries` with the replay's digests: one
/// sequential scan, computing each name's [`IndexChain`] from its rows (which come in
/// ascending index order within a name).
fn check_index_table(
    r: &ReadTables,
    norms: bool,
    want: &std::collections::HashMap<String, IndexChain>,
) -> Result<(), LedgerError> {
    let table = if norms { "norm_entries" } else { "org_entries" };
    let mut names = 0usize;
    let mut current: Option<(String, IndexChain)> = None;
    let mut close = |done: Option<(String, IndexChain)>| -> Result<(), LedgerError> {
        if let Some((name, chain)) = done {
            names += 1;
            if want.get(&name) != Some(&chain) {
                return Err(invalid(
                    Location::Table(table),
                    format!("the rows under {name:?} differ from the entries the replay gives it"),
                ));
            }
        }
        Ok(())
    };
    r.for_each_index_row(norms, |name, index| -> Result<(), LedgerError> {
        match &mut current {
            Some((n, chain)) if n == name => chain.push(index),
            _ => {
                let mut chain = IndexChain::default();
                chain.push(index);
                close(current.replace((name.to_string(), chain)))?;
            }
        }
        Ok(())
    })?;
    close(current.take())?;
    if names != want.len() {
        return Err(invalid(
            Location::Table(table),
            format!("rows for {names} names where the replay gives {}", want.len()),
        ));
    }
    Ok(())
}

/// Whole-table comparison of the derived tables with the replayed registry.
pub(crate) fn check_derived_tables(
    r: &ReadTables,
    reg: &ReplayTotals,
    entries: u64,
) -> Result<(), LedgerError> {
    let (hashes, ids, org_rows, norm_rows) = r.derived_counts()?;
    let want = [
        ("hashes", hashes, proof::stored_hash_count(entries)),
        ("statement_ids", ids, entries),
        ("org_entries", org_rows, entries),
        ("norm_entries", norm_rows, reg.registry.norm_rows),
    ];
    for (name, got, expected) in want {
        if got != expected {
            return Err(invalid(
                Location::Table(name),
                format!("{got} rows where the replay gives {expected}"),
            ));
        }
    }
    check_index_table(r, false, &reg.registry.org_chains)?;
    check_index_table(r, true, &reg.registry.norm_chains)?;
    let (mut keys, mut orgs, mut live, mut recovery, mut used) = (0usize, 0usize, 0usize, 0usize, 0usize);
    r.for_each_derived(|row| -> Result<(), LedgerError> {
        match row {
            DerivedRow::StatementId(id, idx) => {
                // With the row count equal to the entry count, every row matching a distinct
                // replayed id means the table is exactly the replay's.
                if reg.registry.ids.get(&id) != Some(&idx) {
                    return Err(invalid(
                        Location::Table("statement_ids"),
                        format!(
                            "row {} (entry {idx}) differs from the replay: id missing or pointing elsewhere",
                            hex::encode(id)
                        ),
                    ));
                }
            }
            DerivedRow::Key(kid, rec) => {
                keys += 1;
                if reg.registry.keys.get(&kid) != Some(&rec) {
                    return Err(invalid(
                        Location::Table("keys"),
                        format!("row {} differs from the replay", hex::encode(kid)),
                    ));
                }
            }
            DerivedRow::Org(name, idx) => {
                orgs += 1;
                if reg.registry.orgs.get(&name).map(|o| o.registration) != Some(idx) {
                    return Err(invalid(
                        Location::Table("orgs"),
                        format!("row {name:?} differs from the replay"),
                    ));
                }
            }
            DerivedRow::Recovery(name, c) => {
                recovery += 1;
                if reg.registry.orgs.get(&name).and_then(|o| o.recovery) != Some(c) {
                    return Err(invalid(
                        Location::Table("recovery"),
                        format!("row {name:?} differs from the replay"),
                    ));
                }
            }
            DerivedRow::UsedRecovery(c, name) => {
                used += 1;
                if reg.registry.used.get(&c) != Some(&name) {
                    return Err(invalid(
                        Location::Table("used_recovery"),
                        format!("row {} differs from the replay", hex::encode(c)),
                    ));
                }
            }
            DerivedRow::Live(id, idx) => {
                live += 1;
                if reg.registry.live.get(&id).map(|x| x.0) != Some(idx) {
                    return Err(invalid(
                        Location::Table("live"),
                        format!("row {} differs from the replay", hex::encode(id)),
                    ));
                }
            }
        }
        Ok(())
    })?;
    for (name, got, want) in [
        ("keys", keys, reg.registry.keys.len()),
        ("orgs", orgs, reg.registry.orgs.len()),
        ("live", live, reg.registry.live.len()),
        (
            "recovery",
            recovery,
            reg.registry
                .orgs
                .values()
                .filter(|o| o.recovery.is_some())
                .count(),
        ),
        ("used_recovery", used, reg.registry.used.len()),
    ] {
        if got != want {
            return Err(invalid(
                Location::Table(name),
                format!("{got} rows where the replay gives {want}"),
            ));
        }
    }
    Ok(())
}

/// One entry after phase 2 of a replay: the key to check its signature with, the statement,
/// and the stored hashes it adds to the tree.
type Stepped = (PublicKey, Statement, Vec<(u64, Hash)>);

/// An entry and its statement, strictly decoded, or why not.
type Decoded = Result<(Entry, Statement), LedgerError>;

/// What a replay leaves besides the report.
pub struct ReplayTotals {
    /// The rebuilt registry.
    pub registry: MemRegistry,
}

/// Checks one replayed entry against derived tables: (index, the stored hashes it adds).
pub type DerivedCheck<'a> = dyn Fn(u64, &[(u64, Hash)]) -> Result<(), LedgerError> + Sync + 'a;

/// An entry whose signature and derived rows are still to be checked: its index, its
/// statement, the key that must have signed it, and the stored hashes it adds to the tree.
type Pending = (u64, Statement, PublicKey, Vec<(u64, Hash)>);

/// A streaming replay of entries in index order: the verifier's state machine, shared by the
/// database and export-file verifiers.
///
/// Each batch goes through three phases: strict decoding (parallel), the ledger rules in index
/// order (serial: chain, times, registry, tree), and the signatures and derived-table checks
/// (parallel). The third phase of one batch runs at the same time as the first two of the next,
/// so the serial phase does not leave cores idle. Whatever the overlap, the error reported is
/// the one at the lowest index: pending checks are completed before any later error is
/// returned.
pub struct Replay<'c> {
    state: ReplayState<'c>,
    derived: Option<Box<DerivedCheck<'c>>>,
    pending: Vec<Pending>,
}

/// The serial part of a replay.
struct ReplayState<'c> {
    origin: String,
    catalogue: &'c Catalogue,
    vkey: VerifierKey,
    registry: MemRegistry,
    frontier: Frontier,
    prev: Hash,
    last_time: Seconds,
    by_kind: [u64; 6],
    checkpoints: u64,
    latest: Option<SignedCheckpoint>,
}

/// Phase 3: verify_strict every signature, then the derived rows; the first failure in index
/// order is returned.
fn check_pending(pending: &[Pending], derived: Option<&DerivedCheck<'_>>) -> Result<(), LedgerError> {
    let checked: Vec<Result<(), LedgerError>> = pending
        .par_iter()
        .map(|(index, st, k, stored)| {
            if st.verify_signature(k).is_err() {
                return Err(invalid(
                    Location::Entry(*index),
                    "signature does not verify with the organisation's key",
                ));
            }
            match derived {
                Some(d) => d(*index, stored),
                None => Ok(()),
            }
        })
        .collect();
    checked.into_iter().find_map(Result::err).map_or(Ok(()), Err)
}

impl<'c> Replay<'c> {
    /// A replay of a ledger with this origin, checked against `vkey`.
    pub fn new(origin: String, catalogue: &'c Catalogue, vkey: VerifierKey) -> Self {
        Replay {
            state: ReplayState {
                origin,
                catalogue,
                vkey,
                registry: MemRegistry::default(),
                frontier: Frontier::new(),
                prev: GENESIS_PREV,
                last_time: Seconds::MIN,
                by_kind: [0; 6],
                checkpoints: 0,
                latest: None,
            },
            derived: None,
            pending: Vec::new(),
        }
    }

    /// Also checks every accepted entry with `derived` (in parallel, in phase 3).
    #[must_use]
    pub fn with_derived_check(mut self, derived: Box<DerivedCheck<'c>>) -> Self {
        self.derived = Some(derived);
        self
    }

    /// Entries replayed so far (the last batch's signatures may still be pending).
    pub fn size(&self) -> u64 {
        self.state.frontier.size()
    }

    /// The Merkle root of the entries replayed so far.
    pub fn root(&self) -> Hash {
        self.state.frontier.root()
    }

    /// Completes the checks still pending for the entries fed so far (signatures and
    /// derived rows), so that an error found among them is reported before a later one.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] naming the first bad entry.
    pub fn settle(&mut self) -> Result<(), LedgerError> {
        self.drain()
    }

    /// Completes the pending checks.
    fn drain(&mut self) -> Result<(), LedgerError> {
        let pending = std::mem::take(&mut self.pending);
        check_pending(&pending, self.derived.as_deref())
    }

    /// Checks a signed checkpoint of the current size against the replayed tree.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] at [`Location::Checkpoint`], or at an earlier entry whose
    /// pending signature check fails.
    pub fn check_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<(), LedgerError> {
        match self.state.check_checkpoint(size, note) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.drain()?;
                Err(e)
            }
        }
    }

    /// Replays a batch of (stored key, entry bytes) in index order.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] naming the first bad entry.
    pub fn feed(&mut self, batch: &[(u64, Vec<u8>)]) -> Result<(), LedgerError> {
        let previous = std::mem::take(&mut self.pending);
        let derived = self.derived.as_deref();
        let state = &mut self.state;
        let (earlier, (accepted, failed)) =
            rayon::join(|| check_pending(&previous, derived), || state.advance(batch));
        earlier?;
        if let Some(e) = failed {
            // Entries before the failure are checked now, so a lower index wins.
            check_pending(&accepted, derived)?;
            return Err(e);
        }
        self.pending = accepted;
        Ok(())
    }

    /// Ends the replay: pending checks complete, and the latest checkpoint must cover every
    /// entry.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`].
    pub fn finish(mut self) -> Result<(VerifyReport, ReplayTotals), LedgerError> {
        self.drain()?;
        self.state.finish()
    }
}

impl ReplayState<'_> {
    fn size(&self) -> u64 {
        self.frontier.size()
    }

    fn root(&self) -> Hash {
        self.frontier.root()
    }

    fn check_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<(), LedgerError> {
        let at = Location::Checkpoint(size);
        let cp = SignedCheckpoint::open(note, &self.vkey).map_err(|e| invalid(at.clone(), e.to_string()))?;
        if cp.checkpoint.size != size {
            return Err(invalid(at, format!("note says size {}", cp.checkpoint.size)));
        }
        if size != self.size() {
            return Err(invalid(at, format!("ledger holds {} entries here", self.size())));
        }
        if cp.checkpoint.root != self.root() {
            return Err(invalid(
                at,
                "signed root does not match the root rebuilt from the entries (entries altered, reordered or removed)",
            ));
        }
        self.checkpoints += 1;
        self.latest = Some(cp);
        Ok(())
    }

    /// Phases 1 and 2 of a batch: the entries accepted, and the first error if one stopped it.
    fn advance(&mut self, batch: &[(u64, Vec<u8>)]) -> (Vec<Pending>, Option<LedgerError>) {
        // Phase 1 (parallel): strict decoding of entries and statements, and leaf hashes.
        let decoded: Vec<(Decoded, Hash)> = batch
            .par_iter()
            .map(|(k, b)| (decode_entry_statement(*k, b), Entry::leaf_hash(b)))
            .collect();
        // Phase 2 (in order): chain, times, rules, tree.
        let mut accepted = Vec::with_capacity(batch.len());
        for ((key, _), (d, leaf)) in batch.iter().zip(decoded) {
            let expected = self.size();
            match self.step(expected, *key, leaf, d) {
                Ok((k, st, stored)) => accepted.push((expected, st, k, stored)),
                Err(e) => return (accepted, Some(e)),
            }
        }
        (accepted, None)
    }

    /// Phase 2 for one entry.
    fn step(
        &mut self,
        expected: u64,
        key: u64,
        leaf: Hash,
        decoded: Result<(Entry, Statement), LedgerError>,
    ) -> Result<Stepped, LedgerError> {
        if key != expected {
            return Err(invalid(
                Location::Entry(expected),
                format!("missing: the next stored entry is {key}"),
            ));
        }
        let (e, st) = decoded?;
        let at = Location::Entry(expected);
        if e.index != expected {
            return Err(invalid(
                at,
                format!("entry says index {}, stored at {expected}", e.index),
            ));
        }
        if e.prev != self.prev {
            return Err(invalid(
                at,
                format!(
                    "chain link (prev) is not the leaf hash of entry {} (one of the two was altered)",
                    expected.wrapping_sub(1)
                ),
            ));
        }
        if e.logged_at < self.last_time {
            return Err(invalid(at, "log time is earlier than the entry before"));
        }
        let k = check_rules(&st, &self.origin, e.logged_at, &self.registry, self.catalogue)?
            .map_err(|r| invalid(at.clone(), r.to_string()))?;
        apply(&mut self.registry, expected, e.logged_at, &st)?;
        let stored = self.frontier.push(leaf);
        self.prev = leaf;
        self.last_time = e.logged_at;
        match &st.payload.body {
            Body::Registration(_) => self.by_kind[0] += 1,
            Body::Attestation(_) => self.by_kind[1] += 1,
            Body::Withdrawal(_) => self.by_kind[2] += 1,
            Body::Rotation(_) => self.by_kind[3] += 1,
            Body::Revocation(_) => self.by_kind[4] += 1,
            Body::Recovery(_) => self.by_kind[5] += 1,
            Body::Acceptance(_) => {}
        }
        Ok((k, st, stored))
    }

    fn finish(self) -> Result<(VerifyReport, ReplayTotals), LedgerError> {
        let Some(latest) = self.latest else {
            return Err(invalid(Location::Ledger, "no signed checkpoint"));
        };
        if latest.checkpoint.size != self.frontier.size() {
            return Err(invalid(
                Location::Checkpoint(latest.checkpoint.size),
                format!(
                    "the latest signed checkpoint covers {} entries but the ledger holds {} (entries added without a checkpoint)",
                    latest.checkpoint.size,
                    self.frontier.size()
                ),
            ));
        }
        let report = VerifyReport {
            checkpoint: latest,
            entries: self.frontier.size(),
            checkpoints: self.checkpoints,
            organisations: self.registry.org_count() as u64,
            live_attestations: self.registry.live_count() as u64,
            by_kind: self.by_kind,
            untrusted: Vec::new(),
        };
        Ok((
            report,
            ReplayTotals {
                registry: self.registry,
            },
        ))
    }
}
