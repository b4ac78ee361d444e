//! Replaying a ledger: the streaming, parallel verifier shared by the database and export-file
//! paths ([`Replay`]), and the comparison of derived tables with the replay. The replay itself
//! lists the entries that recoveries made untrusted (no second pass over the input).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::checkpoint::{SignedCheckpoint, VerifierKey};
use crate::entry::{Entry, EntryRef, GENESIS_PREV};
use crate::keys::PublicKey;
use crate::ledger::{decode_entry_statement, invalid, LedgerError, Location, VerifyReport};
use crate::norms::Catalogue;
use crate::proof::{self, Frontier, Hash};
use crate::rules::{apply, check_rules, IndexChain, MemRegistry};
use crate::statement::{Body, Statement};
use crate::store::{DerivedRow, ReadTables};
use crate::time::Seconds;

/// What `org_entries` (`norms` false) or `norm_entries` holds, as one [`IndexChain`] per
/// name: one sequential scan (rows come in ascending index order within a name), which
/// `verify` runs while the replay works, to be compared with the replay's chains by
/// [`check_derived_tables`].
///
/// A damaged or forged table cannot make it hold more than the replay would: `norm_entries`
/// may only name norms of `catalogue`, and `org_entries` may hold at most `entries` rows (one
/// per entry), so memory stays bounded by norms and entries. It stops as soon as `stop` is set
/// (the replay failed, so nothing it would find can be reported).
///
/// # Errors
/// [`LedgerError::Store`]; [`LedgerError::Invalid`] for a table that breaks those bounds, whose
/// rows of one name are not together, or when stopped.
pub(crate) fn index_chains(
    r: &ReadTables,
    norms: bool,
    catalogue: &Catalogue,
    entries: u64,
    stop: &AtomicBool,
) -> StoredChains {
    let table = if norms { "norm_entries" } else { "org_entries" };
    // Files a finished name's chain; a name seen before means its rows are not together.
    let close = |chains: &mut BTreeMap<String, IndexChain>, (name, chain)| match chains.insert(name, chain) {
        None => Ok(()),
        Some(_) => Err(invalid(
            Location::Table(table),
            "the rows of one name are not together (table order damaged)",
        )),
    };
    let mut chains = BTreeMap::new();
    let mut current: Option<(String, IndexChain)> = None;
    let mut rows = 0u64;
    r.for_each_index_row(norms, |name, index| -> Result<(), LedgerError> {
        rows += 1;
        if stop.load(Ordering::Relaxed) {
            return Err(invalid(Location::Table(table), "scan stopped: the replay failed"));
        }
        match &mut current {
            Some((n, chain)) if n == name => chain.push(index),
            _ => {
                if norms && catalogue.get(name).is_none() {
                    return Err(invalid(
                        Location::Table(table),
                        format!("rows under {name:?}, which is not a norm of the catalogue"),
                    ));
                }
                if !norms && rows > entries {
                    return Err(invalid(
                        Location::Table(table),
                        format!("more rows than the {entries} entries of the ledger"),
                    ));
                }
                let mut chain = IndexChain::default();
                chain.push(index);
                if let Some(done) = current.replace((name.to_string(), chain)) {
                    close(&mut chains, done)?;
                }
            }
        }
        Ok(())
    })?;
    if let Some(done) = current {
        close(&mut chains, done)?;
    }
    Ok(chains)
}

/// What [`index_chains`] found in one table.
pub(crate) type StoredChains = Result<BTreeMap<String, IndexChain>, LedgerError>;

/// Compares the chains of `org_entries` or `norm_entries` (`table`) with the replay's.
fn compare_chains(
    table: &'static str,
    stored: &BTreeMap<String, IndexChain>,
    want: &HashMap<String, IndexChain>,
) -> Result<(), LedgerError> {
    for (name, chain) in stored {
        if want.get(name).map(IndexChain::digest) != Some(chain.digest()) {
            return Err(invalid(
                Location::Table(table),
                format!("the rows under {name:?} differ from the entries the replay gives it"),
            ));
        }
    }
    if stored.len() != want.len() {
        return Err(invalid(
            Location::Table(table),
            format!(
                "rows for {} names where the replay gives {}",
                stored.len(),
                want.len()
            ),
        ));
    }
    Ok(())
}

/// Whole-table comparison of the derived tables with the replayed registry.
///
/// `chains` is what [`index_chains`] found in `org_entries` and `norm_entries`. The scans of
/// `statement_ids` and of the registry tables run in parallel; errors are reported in a fixed
/// order whatever finishes first.
pub(crate) fn check_derived_tables(
    r: &ReadTables,
    reg: &ReplayTotals,
    entries: u64,
    chains: (StoredChains, StoredChains),
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
    compare_chains("org_entries", &chains.0?, &reg.registry.org_chains)?;
    compare_chains("norm_entries", &chains.1?, &reg.registry.norm_chains)?;
    let (ids, rest) = rayon::join(|| check_statement_ids(r, reg), || check_registry_tables(r, reg));
    ids?;
    rest
}

/// `statement_ids` against the replay's ids.
fn check_statement_ids(r: &ReadTables, reg: &ReplayTotals) -> Result<(), LedgerError> {
    r.for_each_statement_id(|id, idx| -> Result<(), LedgerError> {
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
        Ok(())
    })
}

/// The registry tables against the replayed registry, row by row and by count.
fn check_registry_tables(r: &ReadTables, reg: &ReplayTotals) -> Result<(), LedgerError> {
    let (mut keys, mut orgs, mut live, mut recovery, mut used) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut ended, mut untrusted, mut name_keys) = (0usize, 0usize, 0usize);
    r.for_each_registry_row(|row| -> Result<(), LedgerError> {
        match row {
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
            DerivedRow::Ended(idx, by, id) => {
                ended += 1;
                if reg.registry.ended.get(&idx).map(|(_, i, b)| (*i, *b)) != Some((id, by)) {
                    return Err(invalid(
                        Location::Table("ended"),
                        format!("row for entry {idx} differs from the replay"),
                    ));
                }
            }
            DerivedRow::NameKey(key, idx, name) => {
                name_keys += 1;
                if reg.registry.name_keys.get(&key) != Some(&(idx, name)) {
                    return Err(invalid(
                        Location::Table("name_keys"),
                        format!("row for the registration at entry {idx} differs from the replay"),
                    ));
                }
            }
            DerivedRow::Untrusted(idx, by) => {
                untrusted += 1;
                if reg.registry.untrusted.get(&idx) != Some(&by) {
                    return Err(invalid(
                        Location::Table("untrusted"),
                        format!("row for entry {idx} differs from the replay"),
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
        ("ended", ended, reg.registry.ended.len()),
        ("untrusted", untrusted, reg.registry.untrusted.len()),
        ("name_keys", name_keys, reg.registry.name_keys.len()),
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

/// An entry and its statement, strictly decoded, or why not.
type Decoded<'a> = Result<(EntryRef<'a>, Statement), LedgerError>;

/// Compares the stored hashes an entry completes (`computed`, in rising stored-hash index
/// order) with the database's next rows; says what differs.
fn compare_stored(computed: &[(u64, Hash)], rows: &mut std::slice::Iter<'_, (u64, Hash)>) -> Option<String> {
    for (hi, h) in computed {
        match rows.next() {
            Some((i, stored)) if i == hi => {
                if stored != h {
                    return Some(format!("stored Merkle hash {hi} differs from the hash of the entry as replayed (entry altered, or table hashes damaged)"));
                }
            }
            _ => return Some(format!("stored Merkle hash {hi} is missing from table hashes")),
        }
    }
    None
}

/// What a replay leaves besides the report.
pub struct ReplayTotals {
    /// The rebuilt registry.
    pub registry: MemRegistry,
}

/// One entry after phase 2 of a replay: the key to check its signature with, the statement,
/// and the stored hashes it adds to the tree.
type Stepped = (PublicKey, Statement, Vec<(u64, Hash)>);

/// An entry whose signature is still to be checked: its index, its statement, the key that
/// must have signed it, and what is wrong with the stored hashes it completes, if anything
/// (reported only if the signature verifies: an altered entry is named for its signature).
type Pending = (u64, Statement, PublicKey, Option<String>);

/// Entries to replay, in index order, each with the key it is stored under, and, when they
/// come from a database, the stored Merkle hashes it holds for them: the rows with
/// stored-hash indexes from `stored_hash_count(first index)` to
/// `stored_hash_count(last index + 1)`, which the replay compares with the hashes it computes.
///
/// The entry bytes sit back to back in one buffer, so a batch costs a few allocations, not
/// one per entry.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    /// Per entry: (stored key, start, end) in `bytes`.
    entries: Vec<(u64, usize, usize)>,
    /// The stored hashes these entries complete, as (stored-hash index, hash) rows.
    pub stored: Option<Vec<(u64, Hash)>>,
}

impl Batch {
    /// An empty batch with room for `entries` entries.
    pub fn with_capacity(entries: usize) -> Self {
        Batch {
            bytes: Vec::with_capacity(entries * 512),
            entries: Vec::with_capacity(entries),
            stored: None,
        }
    }

    /// Adds the entry stored under `key`.
    pub fn push(&mut self, key: u64, entry: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(entry);
        self.entries.push((key, start, self.bytes.len()));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes the entries and stored hashes, keeping the buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.stored = None;
    }

    /// The `i`-th entry: (stored key, bytes).
    fn get(&self, i: usize) -> (u64, &[u8]) {
        let (k, start, end) = self.entries[i];
        (k, &self.bytes[start..end])
    }

    /// The entries, in order, as (stored key, bytes).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.entries
            .iter()
            .map(|&(k, start, end)| (k, &self.bytes[start..end]))
    }
}

/// A streaming replay of entries in index order: the verifier's state machine, shared by the
/// database and export-file verifiers.
///
/// Each batch goes through three phases: strict decoding (parallel), the ledger rules in index
/// order (serial: chain, times, registry, tree, stored hashes), and the signatures
/// (parallel). The third phase of one batch runs at the same time as the first two of the next,
/// so the serial phase does not leave cores idle. Whatever the overlap, the error reported is
/// the one at the lowest index: pending checks are completed before any later error is
/// returned.
pub struct Replay<'c> {
    state: ReplayState<'c>,
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
    /// The version of the last entry: the next may not be lower.
    last_version: u64,
    by_kind: [u64; 6],
    checkpoints: u64,
    latest: Option<SignedCheckpoint>,
}

/// Most signatures one task of phase 3 checks: small enough that, when the batch ends, no core
/// waits long for another to finish its last task (a task takes at most ~16 × 40 µs).
const SIGNATURE_CHUNK: usize = 16;

/// Most entries one task of phase 1 decodes.
const DECODE_CHUNK: usize = 64;

/// Phase 3: verify_strict every signature; the first failure in index order is returned.
fn check_pending(pending: &[Pending]) -> Result<(), LedgerError> {
    let bad = pending
        .par_iter()
        .with_max_len(SIGNATURE_CHUNK)
        .filter(|(_, st, k, stored)| stored.is_some() || st.verify_signature(k).is_err())
        .map(|(index, _, _, _)| *index)
        .min();
    let Some(index) = bad else {
        return Ok(());
    };
    // Rare: the one failing entry is checked again to name its problem.
    let problem = pending
        .iter()
        .find(|p| p.0 == index)
        .and_then(|(_, st, k, stored)| match st.verify_signature(k) {
            Ok(()) => stored.clone(),
            Err(_) => None,
        })
        .unwrap_or_else(|| "signature does not verify with the organisation's key".into());
    Err(invalid(Location::Entry(index), problem))
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
                last_version: crate::entry::MIN_ENTRY_VERSION,
                by_kind: [0; 6],
                checkpoints: 0,
                latest: None,
            },
            pending: Vec::new(),
        }
    }

    /// Entries replayed so far (the last batch's signatures may still be pending).
    pub fn size(&self) -> u64 {
        self.state.frontier.size()
    }

    /// The Merkle root of the entries replayed so far.
    pub fn root(&self) -> Hash {
        self.state.frontier.root()
    }

    /// Completes the signature checks still pending for the entries fed so far, so that an error found among them is reported before a later one.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] naming the first bad entry.
    pub fn settle(&mut self) -> Result<(), LedgerError> {
        self.drain()
    }

    /// Completes the pending checks.
    fn drain(&mut self) -> Result<(), LedgerError> {
        let pending = std::mem::take(&mut self.pending);
        check_pending(&pending)
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

    /// Replays a batch in index order.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] naming the first bad entry.
    pub fn feed(&mut self, batch: &Batch) -> Result<(), LedgerError> {
        let previous = std::mem::take(&mut self.pending);
        let state = &mut self.state;
        let (earlier, (accepted, failed)) = rayon::join(|| check_pending(&previous), || state.advance(batch));
        earlier?;
        if let Some(e) = failed {
            // Entries before the failure are checked now, so a lower index wins.
            check_pending(&accepted)?;
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
    fn advance(&mut self, batch: &Batch) -> (Vec<Pending>, Option<LedgerError>) {
        // Phase 1 (parallel): strict decoding of entries and statements, and leaf hashes.
        let decoded: Vec<(u64, Decoded<'_>, Hash)> = (0..batch.len())
            .into_par_iter()
            .with_max_len(DECODE_CHUNK)
            .map(|i| {
                let (k, b) = batch.get(i);
                (k, decode_entry_statement(k, b), Entry::leaf_hash(b))
            })
            .collect();
        // Phase 2 (in order): chain, times, rules, tree, stored hashes.
        let mut accepted = Vec::with_capacity(batch.len());
        let mut rows = batch.stored.as_deref().map(<[_]>::iter);
        for (key, d, leaf) in decoded {
            let expected = self.size();
            match self.step(expected, key, leaf, d) {
                Ok((k, st, stored)) => {
                    let problem = rows.as_mut().and_then(|rows| compare_stored(&stored, rows));
                    accepted.push((expected, st, k, problem));
                }
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
        decoded: Decoded<'_>,
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
        if e.version < self.last_version {
            return Err(invalid(
                at,
                format!(
                    "entry version {} after an entry of version {} (the rules version never decreases along the chain)",
                    e.version, self.last_version
                ),
            ));
        }
        let k = check_rules(
            &st,
            &self.origin,
            e.logged_at,
            e.version,
            &self.registry,
            self.catalogue,
        )?
        .map_err(|r| invalid(at.clone(), r.to_string()))?;
        apply(&mut self.registry, expected, e.logged_at, &st)?;
        let stored = self.frontier.push(leaf);
        self.prev = leaf;
        self.last_time = e.logged_at;
        self.last_version = e.version;
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
            live_expiries: self.registry.live_expiries(),
            by_kind: self.by_kind,
            untrusted: self.registry.untrusted.keys().copied().collect(),
        };
        Ok((
            report,
            ReplayTotals {
                registry: self.registry,
            },
        ))
    }
}
