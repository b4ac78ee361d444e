//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>, docs/FORMAT.md section 13): the tile layout
//! of the Merkle tree, the paths of hash tiles and entry bundles, their contents, and which
//! tiles a tree of a given size has. Pure: the bytes come from a [`HashStore`] and from the
//! caller's entries.
//!
//! A tile at level `L` holds up to 256 hashes of the tree at height `8·L`: hash `i` of tile `N`
//! is the root of the subtree over leaves `(N·256 + i)·256^L ..` of `256^L` leaves ("Merkle
//! Tree Hash of a full tile at the level below"). A tile with fewer than 256 hashes is
//! *partial*; its width is part of its path, so every file is immutable. An entry bundle holds
//! the entries of a level-0 tile, each prefixed by its length as a big-endian `u16`.

use crate::merkle::{stored_hash_index, Hash, HashStore, ProofError};

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Where a published log's description lives, beside the tiles: origin, verifier key and
/// format version, for clients to start from (never as a trust root: a verifier takes the
/// ledger key from its user).
pub const LOG_INFO_PATH: &str = "accord/log.json";
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;
/// Bytes of a full hash tile.
pub const FULL_TILE_BYTES: usize = 256 * 32;
/// The highest tile level a tree of up to 2^64 leaves has (8 · 7 = 56 < 64 ≤ 8 · 8).
pub const MAX_TILE_LEVEL: u8 = 7;
/// Most bytes an entry bundle can hold: 256 entries of at most 65,535 bytes, with their heads.
pub const MAX_BUNDLE_BYTES: usize = 256 * (2 + 65_535);

/// What is wrong with a tile path or a tile's contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A path that is not a tile path of the C2SP layout.
    #[error("not a tile path: {0}")]
    BadPath(String),
    /// A tile that a tree of that size does not have.
    #[error("tile {path} is not part of a tree of {size} entries")]
    NotInTree {
        /// The tile's path.
        path: String,
        /// The tree size.
        size: u64,
    },
    /// Contents of the wrong length or shape.
    #[error("{0}")]
    BadContents(String),
    /// Reading stored hashes failed.
    #[error("{0}")]
    Hashes(#[from] ProofError),
}

/// Hash tiles or entry bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// A hash tile at this level (0 to [`MAX_TILE_LEVEL`]).
    Hashes(u8),
    /// An entry bundle (the entries of a level-0 tile).
    Entries,
}

/// One tile: its kind, its index `N` at its level, and its width (1 to 256; 256 is full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Hashes at a level, or entries.
    pub kind: TileKind,
    /// Its index at its level.
    pub n: u64,
    /// How many hashes or entries it holds (256 for a full tile).
    pub width: u16,
}

/// `N` as C2SP encodes it: zero-padded 3-digit elements, all but the last prefixed with `x`.
fn encode_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

/// 256^l, or `None` past u64.
fn pow256(l: u8) -> Option<u64> {
    1u64.checked_shl(8 * u32::from(l))
}

impl Tile {
    /// Whether it holds all 256 hashes or entries.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Its path below the log's prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hashes(l) => l.to_string(),
            TileKind::Entries => "entries".to_string(),
        };
        let mut p = format!("tile/{level}/{}", encode_index(self.n));
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parses a tile path strictly (C2SP tlog-tiles "Merkle Tree" and "Log Entries"): a
    /// decimal level 0 to 63 without leading zeros, or `entries`; `N` as 3-digit elements, all
    /// but the last starting with `x`, no element beyond the first being empty; an optional
    /// `.p/<W>` with W 1 to 255 without leading zeros. Levels above [`MAX_TILE_LEVEL`] parse but
    /// belong to no tree of u64 size.
    ///
    /// # Errors
    /// [`TileError::BadPath`].
    pub fn parse(path: &str) -> Result<Tile, TileError> {
        let bad = || TileError::BadPath(path.chars().take(80).collect());
        if path.len() > 128 {
            return Err(bad());
        }
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (level, rest) = rest.split_once('/').ok_or_else(bad)?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let ok = !level.is_empty()
                && level.len() <= 2
                && level.bytes().all(|b| b.is_ascii_digit())
                && (level == "0" || !level.starts_with('0'));
            if !ok {
                return Err(bad());
            }
            let l: u8 = level.parse().map_err(|_| bad())?;
            if l > 63 {
                return Err(bad());
            }
            TileKind::Hashes(l)
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let ok = !w.is_empty()
                    && w.len() <= 3
                    && w.bytes().all(|b| b.is_ascii_digit())
                    && !w.starts_with('0');
                if !ok {
                    return Err(bad());
                }
                let w: u16 = w.parse().map_err(|_| bad())?;
                if w == 0 || u64::from(w) >= TILE_WIDTH {
                    return Err(bad());
                }
                (i, w)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let parts: Vec<&str> = index.split('/').collect();
        let mut n: u64 = 0;
        for (k, part) in parts.iter().enumerate() {
            let digits = if k + 1 < parts.len() {
                part.strip_prefix('x').ok_or_else(bad)?
            } else {
                part
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let d: u64 = digits.parse().map_err(|_| bad())?;
            n = n
                .checked_mul(1000)
                .and_then(|n| n.checked_add(d))
                .ok_or_else(bad)?;
        }
        // One spelling per index: no leading x000 element.
        if parts.len() > 1 && parts[0] == "x000" {
            return Err(bad());
        }
        let t = Tile { kind, n, width };
        if t.path() != path {
            return Err(bad());
        }
        Ok(t)
    }

    /// The level of the tree whose hashes this tile holds in units of tiles (entries: 0).
    fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes(l) => l,
            TileKind::Entries => 0,
        }
    }

    /// Whether a tree of `size` entries has computed everything in this tile: its last hash
    /// covers leaves below `size`. A live log can serve every such tile, partial or full; a
    /// published log holds the partial tiles of the sizes it published.
    pub fn within(&self, size: u64) -> bool {
        let Some(unit) = pow256(self.level()) else {
            return false;
        };
        let end = self
            .n
            .checked_mul(TILE_WIDTH)
            .and_then(|x| x.checked_add(u64::from(self.width)))
            .and_then(|x| x.checked_mul(unit));
        self.level() <= MAX_TILE_LEVEL && end.is_some_and(|e| e <= size)
    }

    /// The leaf indexes an entry bundle holds (`N·256 ..`), or the leaf range a hash tile
    /// covers.
    pub fn leaves(&self) -> std::ops::Range<u64> {
        let unit = pow256(self.level()).unwrap_or(u64::MAX);
        let start = self.n.saturating_mul(TILE_WIDTH).saturating_mul(unit);
        let end = self
            .n
            .saturating_mul(TILE_WIDTH)
            .saturating_add(u64::from(self.width))
            .saturating_mul(unit);
        start..end
    }

    /// The stored-hash indexes (the `merkle` layout) of a hash tile's hashes, in order.
    pub fn hash_indexes(&self) -> Vec<u64> {
        let height = TILE_HEIGHT * self.level();
        (0..u64::from(self.width))
            .map(|i| stored_hash_index(height, self.n * TILE_WIDTH + i))
            .collect()
    }
}

/// Every tile a tree of `size` entries has (C2SP: "the partial tile at level l for a tree of
/// size s has floor(s / 256^l) mod 256 entries; empty tiles MUST NOT be served"): the full
/// tiles at every level, the partial one at each level where there is one, and the entry
/// bundles, in path order within each kind.
pub fn tiles_for(size: u64) -> Vec<Tile> {
    new_tiles(0, size)
}

/// The tiles a tree of `new` entries has that one of `old` did not have (`old ≤ new`): the full
/// tiles completed since, and the partial tiles of `new`. What a publisher writes when the log
/// grows from `old` to `new`.
pub fn new_tiles(old: u64, new: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    for level in 0..=MAX_TILE_LEVEL {
        let Some(unit) = pow256(level) else { break };
        let hashes_new = new / unit;
        let hashes_old = old.min(new) / unit;
        if hashes_new == 0 {
            break;
        }
        let full_new = hashes_new / TILE_WIDTH;
        let full_old = hashes_old / TILE_WIDTH;
        let partial_new = (hashes_new % TILE_WIDTH) as u16;
        let partial_old = (hashes_old % TILE_WIDTH) as u16;
        let kinds: &[TileKind] = if level == 0 {
            &[TileKind::Hashes(0), TileKind::Entries]
        } else {
            &[TileKind::Hashes(level)]
        };
        for &kind in kinds {
            for n in full_old..full_new {
                out.push(Tile {
                    kind,
                    n,
                    width: TILE_WIDTH as u16,
                });
            }
            if partial_new > 0 && (full_new != full_old || partial_new != partial_old) {
                out.push(Tile {
                    kind,
                    n: full_new,
                    width: partial_new,
                });
            }
        }
    }
    out
}

/// The bytes of a hash tile: its hashes, read from `store`, concatenated (32 bytes each).
///
/// # Errors
/// [`TileError::Hashes`] when the store lacks one (the tile is beyond the tree), or for an
/// entry bundle (its bytes are the entries').
pub fn hash_tile_bytes(tile: &Tile, store: &(impl HashStore + ?Sized)) -> Result<Vec<u8>, TileError> {
    if tile.kind == TileKind::Entries {
        return Err(TileError::BadContents(
            "an entry bundle holds entries, not hashes".into(),
        ));
    }
    let hashes = store.read_hashes(&tile.hash_indexes())?;
    Ok(hashes.concat())
}

/// Encodes an entry bundle: each entry as its big-endian `u16` length and its bytes.
///
/// # Errors
/// [`TileError::BadContents`] for an entry longer than 65,535 bytes or more than 256 entries.
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for (k, e) in entries.into_iter().enumerate() {
        if k as u64 >= TILE_WIDTH {
            return Err(TileError::BadContents("more than 256 entries in a bundle".into()));
        }
        let len = u16::try_from(e.len()).map_err(|_| {
            TileError::BadContents(format!("entry {k} of the bundle is longer than 65,535 bytes"))
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Decodes an entry bundle that must hold exactly `width` entries, with nothing after them.
///
/// # Errors
/// [`TileError::BadContents`] naming what is wrong.
pub fn decode_bundle(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>, TileError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(TileError::BadContents(
            "entry bundle larger than 256 entries can be".into(),
        ));
    }
    let mut out = Vec::with_capacity(usize::from(width));
    let mut rest = bytes;
    for k in 0..width {
        let [a, b, tail @ ..] = rest else {
            return Err(TileError::BadContents(format!(
                "entry bundle ends after {k} of {width} entries"
            )));
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if tail.len() < len {
            return Err(TileError::BadContents(format!(
                "entry {k} of the bundle is truncated"
            )));
        }
        out.push(&tail[..len]);
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(TileError::BadContents(format!(
            "{} bytes after the {width} entries of the bundle",
            rest.len()
        )));
    }
    Ok(out)
}

/// Splits a hash tile's bytes into its `width` hashes.
///
/// # Errors
/// [`TileError::BadContents`] when the length is not 32 · width.
pub fn decode_hash_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>, TileError> {
    if bytes.len() != 32 * usize::from(width) {
        return Err(TileError::BadContents(format!(
            "hash tile of {} bytes where {width} hashes need {}",
            bytes.len(),
            32 * usize::from(width)
        )));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| <Hash>::try_from(c).expect("chunks of 32"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_the_spec_writes_them() {
        let t = |kind, n, width| Tile { kind, n, width };
        assert_eq!(t(TileKind::Hashes(0), 0, 256).path(), "tile/0/000");
        assert_eq!(
            t(TileKind::Hashes(0), 1234067, 256).path(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(t(TileKind::Hashes(0), 1234, 5).path(), "tile/0/x001/234.p/5");
        assert_eq!(t(TileKind::Entries, 3, 232).path(), "tile/entries/003.p/232");
        assert_eq!(t(TileKind::Hashes(2), 1000, 256).path(), "tile/2/x001/000");
        for p in [
            "tile/0/000",
            "tile/0/x001/x234/067",
            "tile/0/x001/234.p/5",
            "tile/entries/003.p/232",
            "tile/63/999",
            "tile/0/x016/x777/216",
        ] {
            assert_eq!(Tile::parse(p).unwrap().path(), p, "{p}");
        }
        for bad in [
            "tile/00/000",
            "tile/0/0",
            "tile/0/1234",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x1/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/05",
            "tile/64/000",
            "tile/0/000/",
            "tile/entries/000.p/",
            "tile//000",
            "tile/0/../000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "checkpoint",
        ] {
            assert!(Tile::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_spec_example_of_a_tree_of_70000() {
        let tiles = tiles_for(70_000);
        let count = |kind, full: bool| {
            tiles
                .iter()
                .filter(|t| t.kind == kind && t.is_full() == full)
                .count()
        };
        assert_eq!(count(TileKind::Hashes(0), true), 273);
        assert_eq!(count(TileKind::Entries, true), 273);
        let partial = |kind| {
            tiles
                .iter()
                .find(|t| t.kind == kind && !t.is_full())
                .map(|t| t.width)
        };
        assert_eq!(partial(TileKind::Hashes(0)), Some(112));
        assert_eq!(count(TileKind::Hashes(1), true), 1);
        assert_eq!(partial(TileKind::Hashes(1)), Some(17));
        assert_eq!(partial(TileKind::Hashes(2)), Some(1));
        assert_eq!(tiles.len(), 273 * 2 + 2 + 1 + 1 + 1);
        // "A tree of size 256 will be represented by a full level 0 tile and a partial level 1
        // tile of width 1."
        let t256 = tiles_for(256);
        assert!(t256.contains(&Tile {
            kind: TileKind::Hashes(1),
            n: 0,
            width: 1
        }));
        assert_eq!(t256.len(), 3);
        assert!(tiles_for(0).is_empty());
    }

    #[test]
    fn new_tiles_are_what_tiles_for_adds() {
        for (a, b) in [
            (0, 1),
            (1, 2),
            (255, 256),
            (256, 257),
            (200, 70_000),
            (65_535, 65_537),
            (5, 5),
        ] {
            let before: std::collections::BTreeSet<_> = tiles_for(a).into_iter().collect();
            let after: std::collections::BTreeSet<_> = tiles_for(b).into_iter().collect();
            let added: std::collections::BTreeSet<_> = new_tiles(a, b).into_iter().collect();
            let want: std::collections::BTreeSet<_> = after.difference(&before).copied().collect();
            assert_eq!(added, want, "{a} -> {b}");
            for t in &added {
                assert!(t.within(b), "{t:?} within {b}");
            }
        }
    }

    #[test]
    fn bundles_round_trip_and_refuse_bad_framing() {
        let entries: Vec<Vec<u8>> = vec![vec![1, 2, 3], vec![], vec![9; 300]];
        let b = encode_bundle(entries.iter().map(Vec::as_slice)).unwrap();
        let d = decode_bundle(&b, 3).unwrap();
        assert_eq!(d, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(decode_bundle(&b, 4).is_err());
        assert!(decode_bundle(&b, 2).is_err());
        assert!(decode_bundle(&b[..b.len() - 1], 3).is_err());
        assert!(encode_bundle([vec![0u8; 65_536].as_slice()]).is_err());
    }

    #[test]
    fn hash_tiles_hold_subtree_roots() {
        use crate::merkle::{leaf_hash, Frontier};
        let mut f = Frontier::new();
        let mut stored: Vec<Hash> = Vec::new();
        let leaves: Vec<Hash> = (0..600u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for l in &leaves {
            for (i, h) in f.push(*l) {
                let i = i as usize;
                if stored.len() <= i {
                    stored.resize(i + 1, [0; 32]);
                }
                stored[i] = h;
            }
        }
        let t0 = Tile {
            kind: TileKind::Hashes(0),
            n: 2,
            width: 88,
        };
        let b = hash_tile_bytes(&t0, &stored).unwrap();
        assert_eq!(decode_hash_tile(&b, 88).unwrap(), leaves[512..600].to_vec());
        // Level 1, hash 1: the root of leaves 256..512.
        let t1 = Tile {
            kind: TileKind::Hashes(1),
            n: 0,
            width: 2,
        };
        let h = decode_hash_tile(&hash_tile_bytes(&t1, &stored).unwrap(), 2).unwrap();
        let mut g = Frontier::new();
        for l in &leaves[256..512] {
            g.push(*l);
        }
        assert_eq!(h[1], g.root());
    }
}
