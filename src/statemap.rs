//! The state map: an authenticated map from 32-byte keys to byte values, whose root the ledger
//! commits inside its entries (docs/FORMAT.md section 18, DESIGN decision 19), with proofs of
//! presence and of absence in O(log n) hashes.
//!
//! It is a binary sparse Merkle tree over the 256 bits of the key (most significant bit first)
//! in its *compressed* canonical form: a subtree that holds no key is empty (hash: 32 zero
//! bytes), a subtree that holds exactly one key is that key's leaf, and a subtree that holds
//! two or more is a node over its two halves.
//!
//! ```text
//! leaf hash = SHA-256(0x02 ‖ key ‖ SHA-256(value))
//! node hash = SHA-256(0x03 ‖ left ‖ right)
//! empty     = 32 zero bytes
//! ```
//!
//! The tree's shape depends only on the set of keys, never on the order they were put in, so
//! every implementation that holds the same map computes the same root. A key's leaf sits at
//! the first depth at which no other key shares its prefix, about log2(n) for n keys.
//!
//! Storage is abstracted by [`MapStore`] (positions to nodes, keys to values): memory for a
//! verifier's replay ([`MemMapStore`]), redb tables for the custodian. Updates are batched:
//! [`update`] changes the shape for every key of a batch, then rehashes each node on their
//! paths once, deepest first, so a batch of k changes costs about k·log2(n/k) + k hashes.

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

/// A 32-byte hash or key.
pub type Hash = [u8; 32];

/// Changes to a map: each key with its new value, or `None` to remove it.
pub type Updates = Vec<(Hash, Option<Vec<u8>>)>;

/// The hash of an empty subtree, and the root of the empty map.
pub const EMPTY: Hash = [0u8; 32];

/// Deepest position a leaf can take: two keys that share 255 bits part at depth 256.
pub const MAX_DEPTH: u16 = 256;

/// Largest value a proof may carry (bytes). Values are small CBOR maps; the largest, an
/// organisation's, grows by one 50-byte key record per key event.
pub const MAX_VALUE_LEN: usize = 65_536;

/// SHA-256(0x02 ‖ key ‖ SHA-256(value)).
pub fn leaf_hash(key: &Hash, value: &[u8]) -> Hash {
    leaf_hash_of(key, &Sha256::digest(value).into())
}

/// SHA-256(0x02 ‖ key ‖ value_hash).
pub fn leaf_hash_of(key: &Hash, value_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x02]);
    h.update(key);
    h.update(value_hash);
    h.finalize().into()
}

/// SHA-256(0x03 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x03]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Bit `i` of `key`, most significant bit of byte 0 first.
pub fn bit(key: &Hash, i: u16) -> bool {
    let i = usize::from(i);
    key[i / 8] & (0x80 >> (i % 8)) != 0
}

/// A position in the tree: a depth and the first `depth` bits of the keys beneath it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    /// 0 (the root) to [`MAX_DEPTH`].
    pub depth: u16,
    /// The path's bits, those beyond `depth` zero.
    pub prefix: Hash,
}

impl Pos {
    /// The root.
    pub const ROOT: Pos = Pos {
        depth: 0,
        prefix: EMPTY,
    };

    /// The position at `depth` on the path of `key`.
    pub fn of(key: &Hash, depth: u16) -> Pos {
        let mut prefix = EMPTY;
        let full = usize::from(depth / 8);
        prefix[..full].copy_from_slice(&key[..full]);
        if !depth.is_multiple_of(8) {
            let mask = 0xffu8 << (8 - depth % 8);
            prefix[full] = key[full] & mask;
        }
        Pos { depth, prefix }
    }

    /// The child on side `right`.
    pub fn child(&self, right: bool) -> Pos {
        let mut prefix = self.prefix;
        if right {
            let i = usize::from(self.depth);
            prefix[i / 8] |= 0x80 >> (i % 8);
        }
        Pos {
            depth: self.depth + 1,
            prefix,
        }
    }

    /// The parent (the root's is itself).
    pub fn parent(&self) -> Pos {
        if self.depth == 0 {
            return *self;
        }
        Pos::of(&self.prefix, self.depth - 1)
    }

    /// The other child of the parent.
    pub fn sibling(&self) -> Pos {
        let d = self.depth - 1;
        let right = bit(&self.prefix, d);
        self.parent().child(!right)
    }

    /// 34 bytes: the depth (big-endian) then the prefix; sorts by depth, then by prefix.
    pub fn to_bytes(&self) -> [u8; 34] {
        let mut b = [0u8; 34];
        b[..2].copy_from_slice(&self.depth.to_be_bytes());
        b[2..].copy_from_slice(&self.prefix);
        b
    }

    /// The inverse of [`Pos::to_bytes`].
    pub fn from_bytes(b: &[u8; 34]) -> Pos {
        let mut prefix = EMPTY;
        prefix.copy_from_slice(&b[2..]);
        Pos {
            depth: u16::from_be_bytes([b[0], b[1]]),
            prefix,
        }
    }
}

/// What a position holds (an empty position holds nothing and is not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// Two or more keys beneath: the node's hash.
    Inner(Hash),
    /// Exactly one key beneath: the key and its leaf hash.
    Leaf {
        /// The key.
        key: Hash,
        /// Its leaf hash.
        hash: Hash,
    },
}

impl Node {
    /// The subtree's hash.
    pub fn hash(&self) -> Hash {
        match self {
            Node::Inner(h) | Node::Leaf { hash: h, .. } => *h,
        }
    }

    /// 33 bytes (0x03 ‖ hash) or 65 (0x02 ‖ key ‖ leaf hash).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Node::Inner(h) => [&[0x03][..], h].concat(),
            Node::Leaf { key, hash } => [&[0x02][..], key, hash].concat(),
        }
    }

    /// The inverse of [`Node::to_bytes`]; `None` for bytes it never writes.
    pub fn from_bytes(b: &[u8]) -> Option<Node> {
        match (b.first(), b.len()) {
            (Some(0x03), 33) => Some(Node::Inner(b[1..].try_into().ok()?)),
            (Some(0x02), 65) => Some(Node::Leaf {
                key: b[1..33].try_into().ok()?,
                hash: b[33..].try_into().ok()?,
            }),
            _ => None,
        }
    }
}

/// Where a map keeps its nodes and values.
pub trait MapStore {
    /// Storage failure.
    type Error;
    /// The node at a position, if any.
    ///
    /// # Errors
    /// Storage failures.
    fn node(&self, pos: &Pos) -> Result<Option<Node>, Self::Error>;
    /// Puts (`Some`) or removes (`None`) the node at a position.
    ///
    /// # Errors
    /// Storage failures.
    fn set_node(&mut self, pos: &Pos, node: Option<Node>) -> Result<(), Self::Error>;
    /// The value of a key, if present.
    ///
    /// # Errors
    /// Storage failures.
    fn value(&self, key: &Hash) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Puts (`Some`) or removes (`None`) a key's value.
    ///
    /// # Errors
    /// Storage failures.
    fn set_value(&mut self, key: &Hash, value: Option<&[u8]>) -> Result<(), Self::Error>;
}

/// A map held in memory.
#[derive(Debug, Default, Clone)]
pub struct MemMapStore {
    nodes: HashMap<Pos, Node>,
    values: HashMap<Hash, Box<[u8]>>,
}

impl MemMapStore {
    /// Keys in the map.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Every key and value, in key order (for saving a replay's state).
    pub fn entries(&self) -> Vec<(Hash, &[u8])> {
        let mut v: Vec<(Hash, &[u8])> = self.values.iter().map(|(k, v)| (*k, &v[..])).collect();
        v.sort_unstable_by_key(|(k, _)| *k);
        v
    }
}

impl MapStore for MemMapStore {
    type Error = std::convert::Infallible;
    fn node(&self, pos: &Pos) -> Result<Option<Node>, Self::Error> {
        Ok(self.nodes.get(pos).copied())
    }
    fn set_node(&mut self, pos: &Pos, node: Option<Node>) -> Result<(), Self::Error> {
        match node {
            Some(n) => self.nodes.insert(*pos, n),
            None => self.nodes.remove(pos),
        };
        Ok(())
    }
    fn value(&self, key: &Hash) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.values.get(key).map(|v| v.to_vec()))
    }
    fn set_value(&mut self, key: &Hash, value: Option<&[u8]>) -> Result<(), Self::Error> {
        match value {
            Some(v) => self.values.insert(*key, v.into()),
            None => self.values.remove(key),
        };
        Ok(())
    }
}

/// The map's root.
///
/// # Errors
/// Storage failures.
pub fn root<S: MapStore>(s: &S) -> Result<Hash, S::Error> {
    Ok(s.node(&Pos::ROOT)?.map_or(EMPTY, |n| n.hash()))
}

fn hash_at<S: MapStore>(s: &S, pos: &Pos) -> Result<Hash, S::Error> {
    Ok(s.node(pos)?.map_or(EMPTY, |n| n.hash()))
}

/// Sets (`Some`) or removes (`None`) the values of `changes`, then rehashes; returns the new
/// root. A key given twice takes its last value.
///
/// # Errors
/// Storage failures.
pub fn update<S: MapStore>(s: &mut S, changes: &[(Hash, Option<Vec<u8>>)]) -> Result<Hash, S::Error> {
    let mut dirty: BTreeSet<Pos> = BTreeSet::new();
    for (key, value) in changes {
        match value {
            Some(v) => {
                s.set_value(key, Some(v))?;
                insert(s, key, leaf_hash(key, v), &mut dirty)?;
            }
            None => {
                if s.value(key)?.is_some() {
                    s.set_value(key, None)?;
                    remove(s, key, &mut dirty)?;
                }
            }
        }
    }
    // Deepest first: a node's children are final before it is hashed.
    for pos in dirty.iter().rev() {
        if let Some(Node::Inner(_)) = s.node(pos)? {
            let h = node_hash(&hash_at(s, &pos.child(false))?, &hash_at(s, &pos.child(true))?);
            s.set_node(pos, Some(Node::Inner(h)))?;
        }
    }
    root(s)
}

/// Marks every position above `pos` (not `pos` itself) for rehashing.
fn mark_above(pos: &Pos, dirty: &mut BTreeSet<Pos>) {
    let mut p = *pos;
    while p.depth > 0 {
        p = p.parent();
        if !dirty.insert(p) {
            // Its ancestors are marked already.
            break;
        }
    }
}

fn insert<S: MapStore>(s: &mut S, key: &Hash, hash: Hash, dirty: &mut BTreeSet<Pos>) -> Result<(), S::Error> {
    let mut pos = Pos::ROOT;
    loop {
        match s.node(&pos)? {
            None => {
                s.set_node(&pos, Some(Node::Leaf { key: *key, hash }))?;
                mark_above(&pos, dirty);
                return Ok(());
            }
            Some(Node::Leaf { key: other, .. }) if other == *key => {
                s.set_node(&pos, Some(Node::Leaf { key: *key, hash }))?;
                mark_above(&pos, dirty);
                return Ok(());
            }
            Some(Node::Leaf {
                key: other,
                hash: other_hash,
            }) => {
                // Push the other key down to where the two part; inner nodes above it.
                let mut d = pos.depth;
                while bit(key, d) == bit(&other, d) {
                    s.set_node(&Pos::of(key, d), Some(Node::Inner(EMPTY)))?;
                    dirty.insert(Pos::of(key, d));
                    d += 1;
                }
                s.set_node(&Pos::of(key, d), Some(Node::Inner(EMPTY)))?;
                dirty.insert(Pos::of(key, d));
                s.set_node(
                    &Pos::of(&other, d + 1),
                    Some(Node::Leaf {
                        key: other,
                        hash: other_hash,
                    }),
                )?;
                s.set_node(&Pos::of(key, d + 1), Some(Node::Leaf { key: *key, hash }))?;
                mark_above(&pos, dirty);
                return Ok(());
            }
            Some(Node::Inner(_)) => pos = pos.child(bit(key, pos.depth)),
        }
    }
}

fn remove<S: MapStore>(s: &mut S, key: &Hash, dirty: &mut BTreeSet<Pos>) -> Result<(), S::Error> {
    let mut pos = Pos::ROOT;
    loop {
        match s.node(&pos)? {
            None => return Ok(()),
            Some(Node::Leaf { key: k, .. }) if k != *key => return Ok(()),
            Some(Node::Leaf { .. }) => break,
            Some(Node::Inner(_)) => pos = pos.child(bit(key, pos.depth)),
        }
    }
    s.set_node(&pos, None)?;
    // Collapse upward while a node holds fewer than two keys.
    let mut cur = pos;
    while cur.depth > 0 {
        let sib = cur.sibling();
        let here = s.node(&cur)?;
        let there = s.node(&sib)?;
        let leaves: Vec<Node> = [here, there].into_iter().flatten().collect();
        if leaves.iter().any(|n| matches!(n, Node::Inner(_))) || leaves.len() >= 2 {
            break;
        }
        let parent = cur.parent();
        s.set_node(&cur, None)?;
        s.set_node(&sib, None)?;
        s.set_node(&parent, leaves.first().copied())?;
        cur = parent;
    }
    mark_above(&cur, dirty);
    Ok(())
}

/// What a proof shows is at a key's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The key is present with this value.
    Value(Vec<u8>),
    /// Absent: the path ends in an empty subtree.
    Empty,
    /// Absent: the path ends in the leaf of another key (with its value's SHA-256), the only
    /// key of that subtree.
    Other {
        /// The other key.
        key: Hash,
        /// SHA-256 of its value.
        value_hash: Hash,
    },
}

/// A proof of what is at a key's place: the sibling hashes from the root down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapProof {
    /// Siblings, root first; their number is the depth at which the path ends.
    pub siblings: Vec<Hash>,
    /// What is there.
    pub found: Found,
}

/// Proves what is at `key`'s place.
///
/// # Errors
/// Storage failures.
pub fn prove<S: MapStore>(s: &S, key: &Hash) -> Result<MapProof, S::Error> {
    let mut pos = Pos::ROOT;
    let mut siblings = Vec::new();
    loop {
        match s.node(&pos)? {
            None => {
                return Ok(MapProof {
                    siblings,
                    found: Found::Empty,
                })
            }
            Some(Node::Leaf { key: k, .. }) => {
                let value = s.value(&k)?.unwrap_or_default();
                let found = if k == *key {
                    Found::Value(value)
                } else {
                    Found::Other {
                        key: k,
                        value_hash: Sha256::digest(&value).into(),
                    }
                };
                return Ok(MapProof { siblings, found });
            }
            Some(Node::Inner(_)) => {
                let right = bit(key, pos.depth);
                siblings.push(hash_at(s, &pos.child(!right))?);
                pos = pos.child(right);
            }
        }
    }
}

/// Why a map proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapProofError {
    /// More siblings than a key has bits.
    #[error("map proof has {0} siblings; at most 256")]
    TooDeep(usize),
    /// The other leaf is the key itself, or is not on the key's path.
    #[error("map proof of absence names a leaf that is the key itself or is not on its path")]
    BadOther,
    /// The value is larger than any the map holds.
    #[error("map proof value of {0} bytes; at most 65,536")]
    ValueTooLarge(usize),
    /// The hashes do not lead to the root.
    #[error("map proof does not lead to the committed state root")]
    RootMismatch,
}

impl MapProof {
    /// Checks the proof for `key` against `root`; returns the value if the key is present,
    /// `None` if the proof shows it absent.
    ///
    /// # Errors
    /// [`MapProofError`] when it proves nothing about `key` under `root`.
    pub fn verify(&self, root: &Hash, key: &Hash) -> Result<Option<&[u8]>, MapProofError> {
        let depth = self.siblings.len();
        if depth > usize::from(MAX_DEPTH) {
            return Err(MapProofError::TooDeep(depth));
        }
        let mut h = match &self.found {
            Found::Value(v) => {
                if v.len() > MAX_VALUE_LEN {
                    return Err(MapProofError::ValueTooLarge(v.len()));
                }
                leaf_hash(key, v)
            }
            Found::Empty => EMPTY,
            Found::Other {
                key: other,
                value_hash,
            } => {
                let d = depth as u16;
                if other == key || Pos::of(other, d) != Pos::of(key, d) {
                    return Err(MapProofError::BadOther);
                }
                leaf_hash_of(other, value_hash)
            }
        };
        for (i, sib) in self.siblings.iter().enumerate().rev() {
            h = if bit(key, i as u16) {
                node_hash(sib, &h)
            } else {
                node_hash(&h, sib)
            };
        }
        if h != *root {
            return Err(MapProofError::RootMismatch);
        }
        Ok(match &self.found {
            Found::Value(v) => Some(v),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The root computed from the definition: recursively over the sorted keys.
    fn naive_root(kv: &[(Hash, Vec<u8>)], depth: u16) -> Hash {
        match kv.len() {
            0 => EMPTY,
            1 => leaf_hash(&kv[0].0, &kv[0].1),
            _ => {
                let split = kv.partition_point(|(k, _)| !bit(k, depth));
                node_hash(
                    &naive_root(&kv[..split], depth + 1),
                    &naive_root(&kv[split..], depth + 1),
                )
            }
        }
    }

    fn key(i: u32) -> Hash {
        Sha256::digest(i.to_be_bytes()).into()
    }

    fn check(s: &MemMapStore, model: &std::collections::BTreeMap<Hash, Vec<u8>>) {
        let kv: Vec<(Hash, Vec<u8>)> = model.iter().map(|(k, v)| (*k, v.clone())).collect();
        let r = root(s).unwrap();
        assert_eq!(r, naive_root(&kv, 0));
        // Every node stored is reachable and holds what the definition says: no stale node
        // lingers after a removal.
        let reachable = count_nodes(s, &Pos::ROOT);
        assert_eq!(reachable, s.nodes.len(), "unreachable nodes left behind");
        for i in 0..40u32 {
            let k = key(i);
            let p = prove(s, &k).unwrap();
            let got = p.verify(&r, &k).unwrap();
            assert_eq!(got, model.get(&k).map(|v| &v[..]));
        }
    }

    fn count_nodes(s: &MemMapStore, p: &Pos) -> usize {
        match s.nodes.get(p) {
            None => 0,
            Some(Node::Leaf { .. }) => 1,
            Some(Node::Inner(_)) => 1 + count_nodes(s, &p.child(false)) + count_nodes(s, &p.child(true)),
        }
    }

    proptest! {
        #[test]
        fn batched_updates_match_the_definition(
            batches in proptest::collection::vec(
                proptest::collection::vec((0u32..40, proptest::option::of(0u8..4)), 0..12), 1..8)
        ) {
            let mut s = MemMapStore::default();
            let mut model = std::collections::BTreeMap::new();
            for batch in batches {
                let changes: Vec<(Hash, Option<Vec<u8>>)> =
                    batch.iter().map(|(k, v)| (key(*k), v.map(|v| vec![v; usize::from(v) + 1]))).collect();
                for (k, v) in &changes {
                    match v {
                        Some(v) => { model.insert(*k, v.clone()); }
                        None => { model.remove(k); }
                    }
                }
                update(&mut s, &changes).unwrap();
                check(&s, &model);
            }
        }
    }

    #[test]
    fn keys_that_share_255_bits_part_at_the_last_depth() {
        let a = [0u8; 32];
        let mut b = [0u8; 32];
        b[31] = 1;
        let mut s = MemMapStore::default();
        let r = update(&mut s, &[(a, Some(vec![1])), (b, Some(vec![2]))]).unwrap();
        let p = prove(&s, &b).unwrap();
        assert_eq!(p.siblings.len(), 256);
        assert_eq!(p.verify(&r, &b).unwrap(), Some(&[2u8][..]));
        let r = update(&mut s, &[(a, None)]).unwrap();
        assert_eq!(r, leaf_hash(&b, &[2]));
        assert_eq!(s.nodes.len(), 1);
    }

    #[test]
    fn a_proof_is_refused_when_any_part_changes() {
        let mut s = MemMapStore::default();
        let changes: Vec<(Hash, Option<Vec<u8>>)> = (0..50).map(|i| (key(i), Some(vec![i as u8]))).collect();
        let r = update(&mut s, &changes).unwrap();
        let k = key(7);
        let good = prove(&s, &k).unwrap();
        assert!(good.verify(&r, &k).is_ok());
        for i in 0..good.siblings.len() {
            let mut bad = good.clone();
            bad.siblings[i][0] ^= 1;
            assert!(bad.verify(&r, &k).is_err());
        }
        let mut bad = good.clone();
        bad.found = Found::Value(vec![99]);
        assert!(bad.verify(&r, &k).is_err());
        let mut bad = good.clone();
        bad.siblings.pop();
        assert!(bad.verify(&r, &k).is_err());
        // Presence claimed as absence.
        let mut bad = good.clone();
        bad.found = Found::Empty;
        assert!(bad.verify(&r, &k).is_err());
        // An absent key's proof does not verify for a present one.
        let absent = key(1000);
        let p = prove(&s, &absent).unwrap();
        assert_eq!(p.verify(&r, &absent).unwrap(), None);
        assert!(p.verify(&r, &k).is_err());
    }
}
