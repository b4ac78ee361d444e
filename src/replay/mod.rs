//! Replaying a ledger: the streaming, parallel verifier ([`Replay`]) shared by the database,
//! export-file and bundle paths. It is a pure function of the entries it is fed: it reads no
//! file and knows no store. It lists the entries that recoveries made untrusted itself, so
//! nothing needs a second pass over its input.

use rayon::prelude::*;

pub mod snapshot;
pub use snapshot::{Snapshot, SnapshotError};

use crate::checkpoint::{SignedCheckpoint, VerifierKey};
use crate::entry::{EntryRef, GENESIS_PREV, STATE_VERSION};
use crate::keys::PublicKey;
use crate::merkle::{Frontier, Hash};
use crate::norms::Catalogue;
use crate::rules::state::Changes;
use crate::rules::{check_rules, MemRegistry};
use crate::statemap::MemMapStore;
use crate::statement::{Body, Statement};
use crate::time::Seconds;
use crate::time::Seconds as Time;
use crate::verdict::{decode_entry_statement, invalid, Location, VerifyError};

/// Entries checked per parallel batch by a replay that reads a store or a stream.
pub const VERIFY_BATCH: usize = 4_096;

/// Entries whose changes to the state map a replay gathers before it updates the map, when
/// no state root asks for it sooner (a ledger of versions 1 and 2 commits none).
const MAP_FLUSH: usize = 4_096;

/// Progress callback: (entries done, entries in all).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The signed checkpoint the replay matched (the latest).
    pub checkpoint: SignedCheckpoint,
    /// Entries replayed.
    pub entries: u64,
    /// Signed checkpoints checked (by a resumed verification too, as many as a full one of the
    /// same data checks).
    pub checkpoints: u64,
    /// Registered organisations.
    pub organisations: u64,
    /// Attestations not withdrawn or superseded and not untrusted (expired ones included; see
    /// [`VerifyReport::live_at`]).
    pub live_attestations: u64,
    /// For each of those: (its log time, its expiry or `Seconds::MAX`).
    pub live_times: Vec<(Time, Time)>,
    /// Counts by kind: registrations, attestations, withdrawals, rotations, revocations,
    /// recoveries.
    pub by_kind: [u64; 6],
    /// Entries that a later recovery made untrusted (valid history, not to be relied on).
    pub untrusted: Vec<u64>,
}

impl VerifyReport {
    /// The attestations in force at `t` (docs/FORMAT.md section 7, "live at time t"): live, not
    /// untrusted, logged at or before `t` and not expired by `t`.
    pub fn live_at(&self, t: Time) -> u64 {
        self.live_times.iter().filter(|&&(l, x)| l <= t && t < x).count() as u64
    }
}

/// An entry and its statement, strictly decoded, or why not.
type Decoded<'a> = Result<(EntryRef<'a>, Statement), VerifyError>;

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
    /// The rebuilt state map.
    pub map: MemMapStore,
    /// Its root.
    pub state_root: Hash,
    rest: Rest,
}

/// The rest of a finished replay's state: with the registry, a [`Snapshot`].
struct Rest {
    origin: String,
    checkpoint: SignedCheckpoint,
    frontier: Frontier,
    prev: Hash,
    last_time: Seconds,
    last_version: u64,
    by_kind: [u64; 6],
    checkpoints: u64,
    tile_roots: Vec<Hash>,
    last_state: bool,
}

impl ReplayTotals {
    /// The whole state of the finished replay, to resume from later ([`Replay::resume`]).
    pub fn into_snapshot(self) -> Snapshot {
        let r = self.rest;
        Snapshot {
            origin: r.origin,
            checkpoint: r.checkpoint,
            frontier: r.frontier,
            prev: r.prev,
            last_time: r.last_time,
            last_version: r.last_version,
            by_kind: r.by_kind,
            checkpoints: r.checkpoints,
            tile_roots: r.tile_roots,
            registry: self.registry,
            map: self.map,
            last_state: r.last_state,
        }
    }
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
    /// The root of every full 256-entry tile of the tree so far (what the hash tiles of level
    /// 1 must hold): kept so that a reader resumed later can check the upper tiles.
    tile_roots: Vec<Hash>,
    /// The state map (docs/FORMAT.md section 18) as of the last flush, and what the entries
    /// since then changed.
    map: MemMapStore,
    changes: Changes,
    /// Whether the last entry carried a state root.
    last_state: bool,
    /// Resumed from a snapshot and fed from entry 0: the entries before the snapshot, being
    /// hashed and chained (not judged again) until their tree is the snapshot's.
    catch_up: Option<CatchUp>,
}

/// The entries before a snapshot, fed again (a ledger or an export read from its start): each
/// one's place, chain link and stored hashes are checked and its leaf hashed; the rules and
/// signatures were checked when the snapshot was made. At the snapshot's size their tree must
/// be the snapshot's: otherwise those entries are not the ones verified then.
struct CatchUp {
    frontier: Frontier,
    prev: Hash,
    until: u64,
    root: Hash,
}

/// Most signatures one task of phase 3 checks: small enough that, when the batch ends, no core
/// waits long for another to finish its last task (a task takes at most ~16 × 40 µs).
const SIGNATURE_CHUNK: usize = 16;

/// Most entries one task of phase 1 decodes.
const DECODE_CHUNK: usize = 64;

/// An entry's place in the chain: the index it states is the one it is stored at, and its
/// link is the leaf hash of the entry before.
fn check_place(expected: u64, index: u64, prev: &Hash, want_prev: &Hash) -> Result<(), VerifyError> {
    let at = Location::Entry(expected);
    if index != expected {
        return Err(invalid(
            at,
            format!("entry says index {index}, stored at {expected}"),
        ));
    }
    if prev != want_prev {
        return Err(invalid(
            at,
            format!(
                "chain link (prev) is not the leaf hash of entry {} (one of the two was altered)",
                expected.wrapping_sub(1)
            ),
        ));
    }
    Ok(())
}

/// Phase 3: verify_strict every signature; the first failure in index order is returned.
fn check_pending(pending: &[Pending]) -> Result<(), VerifyError> {
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
                tile_roots: Vec::new(),
                map: MemMapStore::default(),
                changes: Changes::default(),
                last_state: false,
                catch_up: None,
            },
            pending: Vec::new(),
        }
    }

    /// A replay that continues from `snapshot` (made by an earlier replay of the same ledger,
    /// [`ReplayTotals::into_snapshot`]). With `from_start`, the entries fed begin at 0 again
    /// (a ledger or an export read whole): those before the snapshot's size are hashed and
    /// chained, their stored hashes compared, and their tree must be the snapshot's, but they
    /// are not judged again. Without it, the first entry fed must be the snapshot's size.
    pub fn resume(snapshot: Snapshot, catalogue: &'c Catalogue, vkey: VerifierKey, from_start: bool) -> Self {
        let size = snapshot.size();
        let catch_up = (from_start && size > 0).then(|| CatchUp {
            frontier: Frontier::new(),
            prev: GENESIS_PREV,
            until: size,
            root: snapshot.frontier.root(),
        });
        Replay {
            state: ReplayState {
                origin: snapshot.origin,
                catalogue,
                vkey,
                registry: snapshot.registry,
                frontier: snapshot.frontier,
                prev: snapshot.prev,
                last_time: snapshot.last_time,
                last_version: snapshot.last_version,
                by_kind: snapshot.by_kind,
                // The checkpoints this replay checks, as a full one counts them: fed from the
                // start, it checks those before the snapshot again (a ledger's, against the
                // entries read again), and the latest is the latest it checked; a stream that
                // starts later has the snapshot's as the latest so far.
                checkpoints: 0,
                latest: (!from_start).then_some(snapshot.checkpoint),
                tile_roots: snapshot.tile_roots,
                map: snapshot.map,
                changes: Changes::default(),
                last_state: snapshot.last_state,
                catch_up,
            },
            pending: Vec::new(),
        }
    }

    /// Entries replayed so far (the last batch's signatures may still be pending).
    pub fn size(&self) -> u64 {
        self.state.size()
    }

    /// The Merkle root of the entries replayed so far.
    pub fn root(&self) -> Hash {
        self.state.root()
    }

    /// Completes the signature checks still pending for the entries fed so far, so that an error found among them is reported before a later one.
    ///
    /// # Errors
    /// [`VerifyError::Invalid`] naming the first bad entry.
    pub fn settle(&mut self) -> Result<(), VerifyError> {
        self.drain()
    }

    /// Completes the pending checks.
    fn drain(&mut self) -> Result<(), VerifyError> {
        let pending = std::mem::take(&mut self.pending);
        check_pending(&pending)
    }

    /// Checks a signed checkpoint of the current size against the replayed tree.
    ///
    /// # Errors
    /// [`VerifyError::Invalid`] at [`Location::Checkpoint`], or at an earlier entry whose
    /// pending signature check fails.
    pub fn check_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<(), VerifyError> {
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
    /// [`VerifyError::Invalid`] naming the first bad entry.
    pub fn feed(&mut self, batch: &Batch) -> Result<(), VerifyError> {
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
    /// [`VerifyError::Invalid`].
    pub fn finish(mut self) -> Result<(VerifyReport, ReplayTotals), VerifyError> {
        self.drain()?;
        self.state.finish()
    }
}

impl ReplayState<'_> {
    fn size(&self) -> u64 {
        match &self.catch_up {
            Some(c) => c.frontier.size(),
            None => self.frontier.size(),
        }
    }

    fn root(&self) -> Hash {
        match &self.catch_up {
            Some(c) => c.frontier.root(),
            None => self.frontier.root(),
        }
    }

    /// One entry before the snapshot, fed again ([`CatchUp`]).
    fn catch_up_step(
        c: &mut CatchUp,
        key: u64,
        bytes: &[u8],
        leaf: Hash,
        rows: Option<&mut std::slice::Iter<'_, (u64, Hash)>>,
    ) -> Result<(), VerifyError> {
        let expected = c.frontier.size();
        let at = Location::Entry(expected);
        if key != expected {
            return Err(invalid(at, format!("missing: the next stored entry is {key}")));
        }
        let e =
            EntryRef::decode(bytes).map_err(|e| invalid(at.clone(), crate::verdict::entry_problem(&e)))?;
        check_place(expected, e.index, &e.prev, &c.prev)?;
        let stored = c.frontier.push(leaf);
        c.prev = leaf;
        if let Some(problem) = rows.and_then(|rows| compare_stored(&stored, rows)) {
            return Err(invalid(at, problem));
        }
        Ok(())
    }

    /// The entries before the snapshot are all in: their tree must be the snapshot's.
    fn end_catch_up(&mut self) -> Result<(), VerifyError> {
        let Some(c) = self.catch_up.take() else {
            return Ok(());
        };
        if c.frontier.root() != c.root || c.prev != self.prev {
            return Err(invalid(
                Location::Checkpoint(c.until),
                format!(
                    "the first {} entries are not those verified before (the remembered state was made from another history): run verify with --full",
                    c.until
                ),
            ));
        }
        Ok(())
    }

    fn check_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<(), VerifyError> {
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
        // Every checkpoint commits to the state at its size through its last entry (version 3
        // on, FORMAT.md section 5).
        if self.catch_up.is_none() && size > 0 && self.last_version >= STATE_VERSION && !self.last_state {
            return Err(invalid(
                Location::Entry(size - 1),
                format!("carries no state root, but it is the last entry under the checkpoint of size {size} (version 3 entries commit the state map under every checkpoint)"),
            ));
        }
        self.checkpoints += 1;
        self.latest = Some(cp);
        Ok(())
    }

    /// Phases 1 and 2 of a batch: the entries accepted, and the first error if one stopped it.
    fn advance(&mut self, batch: &Batch) -> (Vec<Pending>, Option<VerifyError>) {
        let mut rows = batch.stored.as_deref().map(<[_]>::iter);
        // Entries before a snapshot resumed from the start: hashed (in parallel) and chained.
        let mut start = 0;
        if let Some(c) = &mut self.catch_up {
            let n = usize::try_from(c.until - c.frontier.size())
                .unwrap_or(usize::MAX)
                .min(batch.len());
            let leaves: Vec<Hash> = (0..n)
                .into_par_iter()
                .with_max_len(DECODE_CHUNK)
                .map(|i| crate::merkle::leaf_hash(batch.get(i).1))
                .collect();
            for (i, leaf) in leaves.into_iter().enumerate() {
                let (k, b) = batch.get(i);
                if let Err(e) = Self::catch_up_step(c, k, b, leaf, rows.as_mut()) {
                    return (Vec::new(), Some(e));
                }
            }
            start = n;
            if c.frontier.size() == c.until {
                if let Err(e) = self.end_catch_up() {
                    return (Vec::new(), Some(e));
                }
            }
        }
        // Phase 1 (parallel): strict decoding of entries and statements, and leaf hashes.
        let decoded: Vec<(u64, Decoded<'_>, Hash)> = (start..batch.len())
            .into_par_iter()
            .with_max_len(DECODE_CHUNK)
            .map(|i| {
                let (k, b) = batch.get(i);
                (k, decode_entry_statement(k, b), crate::merkle::leaf_hash(b))
            })
            .collect();
        // Phase 2 (in order): chain, times, rules, tree, stored hashes.
        let mut accepted = Vec::with_capacity(batch.len());
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
    ) -> Result<Stepped, VerifyError> {
        if key != expected {
            return Err(invalid(
                Location::Entry(expected),
                format!("missing: the next stored entry is {key}"),
            ));
        }
        let (e, st) = decoded?;
        check_place(expected, e.index, &e.prev, &self.prev)?;
        let at = Location::Entry(expected);
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
        crate::rules::state::apply_tracked(
            &mut self.registry,
            &mut self.changes,
            expected,
            e.logged_at,
            &st,
        )?;
        if let Some(committed) = e.state {
            let rebuilt = self.flush_map()?;
            if rebuilt != committed {
                // An entry whose statement was altered also changes the map (its id): name the
                // bad signature, the cause, rather than the root it leads to.
                if st.verify_signature(&k).is_err() {
                    return Err(invalid(
                        at,
                        "signature does not verify with the organisation's key",
                    ));
                }
                return Err(invalid(
                    at,
                    format!(
                        "committed state root {} differs from the state map rebuilt from the entries ({}): the custodian's state map is wrong here",
                        hex::encode(committed),
                        hex::encode(rebuilt)
                    ),
                ));
            }
        } else if self.changes.len() >= MAP_FLUSH {
            self.flush_map()?;
        }
        self.last_state = e.state.is_some();
        let stored = self.frontier.push(leaf);
        if self.frontier.size().is_multiple_of(crate::tiles::TILE_WIDTH) {
            // The push completed a 256-leaf subtree: its root is the node of level 8.
            if let Some(&(_, root)) = stored.get(8) {
                self.tile_roots.push(root);
            }
        }
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

    /// Brings the state map up to date with the entries applied; returns its root.
    fn flush_map(&mut self) -> Result<Hash, VerifyError> {
        let changes = std::mem::take(&mut self.changes);
        let updates = changes.updates(&self.registry, &self.map)?;
        Ok(match crate::statemap::update(&mut self.map, &updates) {
            Ok(r) => r,
            Err(e) => match e {},
        })
    }

    fn finish(mut self) -> Result<(VerifyReport, ReplayTotals), VerifyError> {
        let state_root = self.flush_map()?;
        if let Some(c) = &self.catch_up {
            return Err(invalid(
                Location::Ledger,
                format!(
                    "holds {} entries, fewer than the {} of the remembered state",
                    c.frontier.size(),
                    c.until
                ),
            ));
        }
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
            checkpoint: latest.clone(),
            entries: self.frontier.size(),
            checkpoints: self.checkpoints,
            organisations: self.registry.org_count() as u64,
            live_attestations: self.registry.live_count() as u64,
            live_times: self.registry.live_times(),
            by_kind: self.by_kind,
            untrusted: self.registry.untrusted.keys().copied().collect(),
        };
        Ok((
            report,
            ReplayTotals {
                registry: self.registry,
                map: self.map,
                state_root,
                rest: Rest {
                    origin: self.origin,
                    checkpoint: latest,
                    frontier: self.frontier,
                    prev: self.prev,
                    last_time: self.last_time,
                    last_version: self.last_version,
                    by_kind: self.by_kind,
                    checkpoints: self.checkpoints,
                    tile_roots: self.tile_roots,
                    last_state: self.last_state,
                },
            },
        ))
    }
}
