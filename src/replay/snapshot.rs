//! The whole state of a replay at a verified checkpoint, saved so that a later verification
//! replays only the entries after it (`accord verify` with a state directory; FORMAT.md §11).
//!
//! A snapshot holds everything the rules need to judge the next entry — every statement id,
//! organisations, keys with their validity, compromise marks, spent recovery keys, live and
//! ended attestations, name comparison keys, the index digests of every organisation and norm,
//! the history a later recovery needs — and the tree's right edge, the last leaf hash, log
//! time and rules version, and the signed checkpoint it was verified at.
//!
//! It is trusted local data: whoever can write it can make a verifier accept anything after
//! it. What [`Snapshot::decode`] checks is that it is undamaged (a SHA-256 of its bytes) and
//! consistent with itself (its checkpoint verifies with the ledger key, and the tree edge it
//! keeps has that checkpoint's size and root; its counts agree): a damaged or inconsistent
//! snapshot is refused, never trusted in part.

use sha2::Digest as _;

use crate::checkpoint::{SignedCheckpoint, VerifierKey};
use crate::codec::wire::{Dec, Enc, WireError};
use crate::merkle::{Frontier, Hash};
use crate::rules::MemRegistry;
use crate::statemap::MemMapStore;
use crate::time::Seconds;

/// The first bytes of a snapshot file.
pub const SNAPSHOT_MAGIC: &[u8] = b"accord replay state\n";
/// The version of the encoding after the magic.
pub const SNAPSHOT_VERSION: u32 = 2;

/// Why a snapshot is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot, or one of another version.
    #[error("not an accord replay state (version {SNAPSHOT_VERSION})")]
    NotASnapshot,
    /// Its digest does not match its bytes.
    #[error("damaged: its SHA-256 does not match its contents")]
    Damaged,
    /// It decodes, but does not agree with itself or with the ledger key.
    #[error("inconsistent: {0}")]
    Inconsistent(String),
}

impl From<WireError> for SnapshotError {
    fn from(e: WireError) -> Self {
        SnapshotError::Inconsistent(e.0)
    }
}

/// The state of a replay at its latest verified checkpoint (see the module documentation).
pub struct Snapshot {
    pub(crate) origin: String,
    pub(crate) checkpoint: SignedCheckpoint,
    pub(crate) frontier: Frontier,
    pub(crate) prev: Hash,
    pub(crate) last_time: Seconds,
    pub(crate) last_version: u64,
    pub(crate) by_kind: [u64; 6],
    /// Signed checkpoints the verification that made it checked. A verification resumed from
    /// it counts those it checks itself, as a full one of the same data would.
    pub(crate) checkpoints: u64,
    pub(crate) tile_roots: Vec<Hash>,
    pub(crate) registry: MemRegistry,
    /// The state map (FORMAT.md section 18) at the checkpoint.
    pub(crate) map: MemMapStore,
    /// Whether the last entry carried a state root.
    pub(crate) last_state: bool,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("origin", &self.origin)
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// Entries covered.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The roots of the tree's full 256-entry tiles, in order: what the hash tiles of level 1
    /// hold.
    pub fn tile_roots(&self) -> &[Hash] {
        &self.tile_roots
    }

    /// The signed checkpoint it was verified at.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The encoded snapshot: magic, version, body, and the SHA-256 of everything before it.
    /// One state has one encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.buf.extend_from_slice(SNAPSHOT_MAGIC);
        e.u32(SNAPSHOT_VERSION);
        e.str(&self.origin);
        e.bytes(&self.checkpoint.note);
        e.u64(self.frontier.size());
        e.len(self.frontier.parts().len());
        for (l, h) in self.frontier.parts() {
            e.u8(*l);
            e.h32(h);
        }
        e.h32(&self.prev);
        e.i64(self.last_time);
        e.u64(self.last_version);
        for k in self.by_kind {
            e.u64(k);
        }
        e.u64(self.checkpoints);
        e.len(self.tile_roots.len());
        for r in &self.tile_roots {
            e.h32(r);
        }
        self.registry.encode(&mut e);
        e.u8(u8::from(self.last_state));
        let values = self.map.entries();
        e.u64(values.len() as u64);
        for (k, v) in values {
            e.h32(&k);
            e.bytes(v);
        }
        let digest: [u8; 32] = sha2::Sha256::digest(&e.buf).into();
        e.h32(&digest);
        e.buf
    }

    /// Reads a snapshot back and checks it: undamaged, its checkpoint signed by `vkey`, its
    /// tree edge of that checkpoint's size and root, its counts in agreement.
    ///
    /// # Errors
    /// [`SnapshotError`].
    pub fn decode(bytes: &[u8], vkey: &VerifierKey) -> Result<Snapshot, SnapshotError> {
        let body = bytes
            .strip_prefix(SNAPSHOT_MAGIC)
            .ok_or(SnapshotError::NotASnapshot)?;
        if body.len() < 4 + 32 || body[..4] != SNAPSHOT_VERSION.to_le_bytes() {
            return Err(SnapshotError::NotASnapshot);
        }
        let (signed, digest) = bytes.split_at(bytes.len() - 32);
        if sha2::Sha256::digest(signed).as_slice() != digest {
            return Err(SnapshotError::Damaged);
        }
        let mut d = Dec::new(&signed[SNAPSHOT_MAGIC.len() + 4..]);
        let origin = d.str()?;
        let note = d.bytes()?.to_vec();
        let size = d.u64()?;
        let mut stack = Vec::new();
        for _ in 0..d.len(33)? {
            let l = d.u8()?;
            stack.push((l, d.h32()?));
        }
        let frontier = Frontier::from_parts(size, stack).ok_or_else(|| {
            SnapshotError::Inconsistent(format!("the tree edge is not that of {size} entries"))
        })?;
        let prev = d.h32()?;
        let last_time = d.i64()?;
        let last_version = d.u64()?;
        let mut by_kind = [0u64; 6];
        for k in &mut by_kind {
            *k = d.u64()?;
        }
        let checkpoints = d.u64()?;
        let mut tile_roots = Vec::new();
        for _ in 0..d.len(32)? {
            tile_roots.push(d.h32()?);
        }
        if tile_roots.len() as u64 != size / crate::tiles::TILE_WIDTH {
            return Err(SnapshotError::Inconsistent(format!(
                "{} tile roots for {size} entries",
                tile_roots.len()
            )));
        }
        // Each complete subtree of 256 entries or more on the tree's edge is the tree of the
        // tile roots it covers.
        let mut start = 0u64;
        for &(level, root) in frontier.parts() {
            let width = 1u64 << level;
            if level >= 8 {
                let tiles = &tile_roots[(start >> 8) as usize..((start + width) >> 8) as usize];
                if perfect_root(tiles) != root {
                    return Err(SnapshotError::Inconsistent(
                        "its tile roots are not those of its tree".into(),
                    ));
                }
            }
            start += width;
        }
        let registry = MemRegistry::decode(&mut d)?;
        let last_state = match d.u8()? {
            0 => false,
            1 => true,
            _ => return Err(SnapshotError::Inconsistent("state flag".into())),
        };
        // The map's values; its nodes are rebuilt from them (its shape depends only on them).
        let n = d.u64()?;
        let mut changes = Vec::new();
        for _ in 0..n {
            let k = d.h32()?;
            let v = d.bytes()?;
            if v.len() > crate::statemap::MAX_VALUE_LEN {
                return Err(SnapshotError::Inconsistent(
                    "a state map value is too large".into(),
                ));
            }
            changes.push((k, Some(v.to_vec())));
        }
        if changes.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(SnapshotError::Inconsistent("state map keys out of order".into()));
        }
        let mut map = MemMapStore::default();
        match crate::statemap::update(&mut map, &changes) {
            Ok(_) => {}
            Err(e) => match e {},
        }
        d.end()?;
        let checkpoint = SignedCheckpoint::open(&note, vkey)
            .map_err(|e| SnapshotError::Inconsistent(format!("its checkpoint: {e}")))?;
        let c = &checkpoint.checkpoint;
        if c.origin.as_str() != origin {
            return Err(SnapshotError::Inconsistent(format!(
                "its checkpoint is of {}, not {origin}",
                c.origin
            )));
        }
        if c.size != size || c.root != frontier.root() {
            return Err(SnapshotError::Inconsistent(format!(
                "its tree ({size} entries) is not that of its checkpoint ({} entries)",
                c.size
            )));
        }
        let statements: u64 = by_kind.iter().sum();
        if statements != size || registry.ids.len() as u64 != size {
            return Err(SnapshotError::Inconsistent(format!(
                "it counts {statements} statements and {} ids for {size} entries",
                registry.ids.len()
            )));
        }
        if size == 0 || checkpoints == 0 {
            return Err(SnapshotError::Inconsistent("no entries or no checkpoint".into()));
        }
        Ok(Snapshot {
            origin,
            checkpoint,
            frontier,
            prev,
            last_time,
            last_version,
            by_kind,
            checkpoints,
            tile_roots,
            registry,
            map,
            last_state,
        })
    }
}

/// The root of a perfect tree (a power of two of leaves) whose leaves are the given hashes.
fn perfect_root(level: &[Hash]) -> Hash {
    let mut v = level.to_vec();
    while v.len() > 1 {
        v = v
            .chunks(2)
            .map(|p| crate::merkle::node_hash(&p[0], &p[1]))
            .collect();
    }
    v.first().copied().unwrap_or_default()
}
