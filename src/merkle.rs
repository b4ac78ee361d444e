//! The Merkle tree of RFC 9162 §2.1 over ledger entries: hashing, the stored-hash layout of
//! Go's `sumdb/tlog` (via the `tlog_tiles` crate), incremental building, and inclusion and
//! consistency proofs.
//!
//! Proof generation uses `tlog_tiles` over a [`HashStore`], reading O(log n) stored hashes.
//! Proof verification follows the numbered steps of RFC 9162 §2.1.3.2 and §2.1.4.2 directly.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27,
    0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Longest proof accepted from outside: an inclusion proof in a tree of up to 2^64 leaves has
/// at most 64 hashes and a consistency proof at most 2·64; anything longer is refused before
/// any hashing.
pub const MAX_PROOF_LEN: usize = 128;

/// Proof errors.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// Leaf index not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Sizes in the wrong order, or a zero first size.
    #[error("cannot prove consistency from size {old} to size {new}")]
    SizeOrder {
        /// First size.
        old: u64,
        /// Second size.
        new: u64,
    },
    /// Proof too long to be genuine.
    #[error("proof has {len} hashes, more than the {max} any proof can need")]
    ProofTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Proof of the wrong length for its sizes.
    #[error("proof has {got} hashes where {expected} are needed")]
    WrongProofLength {
        /// Needed.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// The proof does not lead to the root given.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    /// A stored hash is missing.
    #[error("stored hash {index} is missing")]
    MissingHash {
        /// Stored-hash index.
        index: u64,
    },
    /// The hash store failed.
    #[error("hash store: {0}")]
    Store(String),
}

/// Leaf hash: SHA-256(0x00 ‖ leaf) (RFC 9162 §2.1.1).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// Interior node hash: SHA-256(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Stored-hash index of the node at `level` covering leaves `n·2^level ..` (tlog layout).
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    tlog_tiles::tlog::stored_hash_index(level, n)
}

/// Number of stored hashes of a tree of `size` leaves.
pub fn stored_hash_count(size: u64) -> u64 {
    tlog_tiles::tlog::stored_hash_count(size)
}

/// Storage of stored hashes, by stored-hash index.
pub trait HashStore {
    /// The hashes at `indexes`, in the same order.
    ///
    /// # Errors
    /// [`ProofError::MissingHash`] or [`ProofError::Store`].
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError>;
}

impl HashStore for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i).copied())
                    .ok_or(ProofError::MissingHash { index: i })
            })
            .collect()
    }
}

/// Adapts a [`HashStore`] to `tlog_tiles`' reader, keeping the first error.
struct Reader<'a, S: HashStore + ?Sized> {
    store: &'a S,
    error: std::cell::RefCell<Option<ProofError>>,
}

impl<S: HashStore + ?Sized> tlog_tiles::tlog::HashReader for Reader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::tlog::Hash>, tlog_tiles::tlog::Error> {
        match self.store.read_hashes(indexes) {
            Ok(v) if v.len() == indexes.len() => Ok(v.into_iter().map(tlog_tiles::tlog::Hash).collect()),
            Ok(_) => {
                *self.error.borrow_mut() = Some(ProofError::Store("wrong number of hashes".into()));
                Err(tlog_tiles::tlog::Error::IndexesNotInTree)
            }
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                Err(tlog_tiles::tlog::Error::IndexesNotInTree)
            }
        }
    }
}

fn with_reader<S: HashStore + ?Sized, T>(
    store: &S,
    f: impl FnOnce(&Reader<'_, S>) -> Result<T, tlog_tiles::tlog::Error>,
) -> Result<T, ProofError> {
    let r = Reader {
        store,
        error: std::cell::RefCell::new(None),
    };
    f(&r).map_err(|e| {
        r.error
            .borrow_mut()
            .take()
            .unwrap_or(ProofError::Store(e.to_string()))
    })
}

/// The root of the tree of `size` leaves, from stored hashes (at most 1 + log₂ n reads).
///
/// # Errors
/// Store errors.
pub fn tree_root(size: u64, store: &(impl HashStore + ?Sized)) -> Result<Hash, ProofError> {
    with_reader(store, |r| tlog_tiles::tlog::tree_hash(size, r)).map(|h| h.0)
}

/// Inclusion proof (RFC 9162 §2.1.3.1) of leaf `index` in the tree of `size`, leaf to root.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`], store errors.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    store: &(impl HashStore + ?Sized),
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let p = with_reader(store, |r| tlog_tiles::tlog::prove_record(size, index, r))?;
    // tlog lists the path root-side last, as RFC 9162 does (leaf to root).
    Ok(p.into_iter().map(|h| h.0).collect())
}

/// Consistency proof (RFC 9162 §2.1.4.1) between sizes `old` ≤ `new`, `old` ≥ 1.
///
/// # Errors
/// [`ProofError::SizeOrder`], store errors.
pub fn consistency_proof(
    old: u64,
    new: u64,
    store: &(impl HashStore + ?Sized),
) -> Result<Vec<Hash>, ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    let p = with_reader(store, |r| tlog_tiles::tlog::prove_tree(new, old, r))?;
    Ok(p.into_iter().map(|h| h.0).collect())
}

/// Verifies an inclusion proof, following RFC 9162 §2.1.3.2.
///
/// # Errors
/// [`ProofError`] naming why the proof fails.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::ProofTooLong {
            len: proof.len(),
            max: MAX_PROOF_LEN,
        });
    }
    // 1. If leaf_index >= tree_size, fail.
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // 2. fn = leaf_index, sn = tree_size - 1.
    let (mut f_n, mut s_n) = (index, size - 1);
    // 3. r = hash.
    let mut r = *leaf;
    // 4. For each value p in the inclusion_path array:
    for p in proof {
        // a. If sn is 0, the proof is too long: fail.
        if s_n == 0 {
            return Err(ProofError::WrongProofLength {
                expected: inclusion_len(index, size),
                got: proof.len(),
            });
        }
        // b. If LSB(fn) is set, or if fn is equal to sn:
        if f_n & 1 == 1 || f_n == s_n {
            // i. r = HASH(0x01 || p || r)
            r = node_hash(p, &r);
            // ii. If LSB(fn) is not set, right-shift both fn and sn equally until either
            //     LSB(fn) is set or fn is 0.
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            // Otherwise: r = HASH(0x01 || r || p)
            r = node_hash(&r, p);
        }
        // c. Finally, right-shift both fn and sn one time.
        f_n >>= 1;
        s_n >>= 1;
    }
    // 5. Compare sn to 0 and r against the root_hash.
    if s_n != 0 {
        return Err(ProofError::WrongProofLength {
            expected: inclusion_len(index, size),
            got: proof.len(),
        });
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

fn inclusion_len(index: u64, size: u64) -> usize {
    let (mut f_n, mut s_n, mut n) = (index, size.saturating_sub(1), 0);
    while s_n != 0 {
        if f_n & 1 == 0 && f_n != s_n {
            // sibling on the right
        } else if f_n & 1 == 0 {
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        }
        f_n >>= 1;
        s_n >>= 1;
        n += 1;
    }
    n
}

/// Verifies a consistency proof between (`old`, `old_root`) and (`new`, `new_root`), following
/// RFC 9162 §2.1.4.2. `old` must be at least 1.
///
/// # Errors
/// [`ProofError`] naming why the proof fails.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::ProofTooLong {
            len: proof.len(),
            max: MAX_PROOF_LEN,
        });
    }
    if old == 0 || old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // 1. If consistency_path is an empty array, stop and fail.
    if proof.is_empty() {
        return Err(ProofError::WrongProofLength { expected: 1, got: 0 });
    }
    // 2. If first is an exact power of 2, prepend first_hash to the consistency_path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    // 3. fn = first - 1, sn = second - 1.
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    // 4. If LSB(fn) is set, right-shift both fn and sn until LSB(fn) is not set.
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // 5. fr and sr are the first value in the consistency_path array.
    let (mut fr, mut sr) = (path[0], path[0]);
    // 6. For each subsequent value c in the consistency_path array:
    for c in &path[1..] {
        // a. If sn is 0, stop the iteration and fail the proof verification.
        if s_n == 0 {
            return Err(ProofError::WrongProofLength {
                expected: path.len() - 1,
                got: proof.len(),
            });
        }
        // b. If LSB(fn) is set, or if fn is equal to sn:
        if f_n & 1 == 1 || f_n == s_n {
            // i. fr = HASH(0x01 || c || fr); sr = HASH(0x01 || c || sr)
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // ii. If LSB(fn) is not set, right-shift both until LSB(fn) is set or fn is 0.
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            // Otherwise: sr = HASH(0x01 || sr || c)
            sr = node_hash(&sr, c);
        }
        // c. Finally, right-shift both fn and sn one time.
        f_n >>= 1;
        s_n >>= 1;
    }
    // 7. Check that fr is first_hash, sr is second_hash, and sn is 0.
    if s_n != 0 {
        return Err(ProofError::WrongProofLength {
            expected: path.len(),
            got: proof.len(),
        });
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Incremental tree builder over leaf hashes, with O(log n) memory: the roots of the complete
/// subtrees along the right edge.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// (level, hash) of complete subtrees, largest first.
    stack: Vec<(u8, Hash)>,
}

/// The stored hashes (the layout of [`stored_hash_index`]) of the tree of these leaf hashes, in
/// a vector that is a [`HashStore`]: a tree in memory, for tests and tools.
pub fn stored_hashes(leaves: impl IntoIterator<Item = Hash>) -> Vec<Hash> {
    let mut f = Frontier::new();
    let mut stored = Vec::new();
    for leaf in leaves {
        for (idx, h) in f.push(leaf) {
            let idx = usize::try_from(idx).unwrap_or(usize::MAX);
            if stored.len() <= idx {
                stored.resize(idx.saturating_add(1), [0; 32]);
            }
            stored[idx] = h;
        }
    }
    stored
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Frontier::default()
    }

    /// The roots of the complete subtrees along the right edge, largest first, with their
    /// levels (a subtree of level `l` has `2^l` leaves).
    pub fn parts(&self) -> &[(u8, Hash)] {
        &self.stack
    }

    /// A frontier from its parts ([`Frontier::parts`]); `None` unless the levels strictly
    /// decrease (each subtree smaller than the one before), as they do in a tree of `size`
    /// leaves: the levels are the bits of `size`.
    pub fn from_parts(size: u64, stack: Vec<(u8, Hash)>) -> Option<Self> {
        let mut bits = 0u64;
        let mut last = u8::MAX;
        for &(l, _) in &stack {
            if l >= 64 || (last != u8::MAX && l >= last) {
                return None;
            }
            last = l;
            bits |= 1u64 << l;
        }
        (bits == size).then_some(Frontier { size, stack })
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its stored hashes, reading one
    /// hash per complete subtree on the right edge.
    ///
    /// # Errors
    /// Store errors.
    pub fn from_store(size: u64, store: &(impl HashStore + ?Sized)) -> Result<Self, ProofError> {
        let mut indexes = Vec::new();
        let mut levels = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            let width = 1u64 << level;
            if size - start >= width {
                indexes.push(stored_hash_index(level, start >> level));
                levels.push(level);
                start += width;
            }
        }
        let hashes = store.read_hashes(&indexes)?;
        if hashes.len() != indexes.len() {
            return Err(ProofError::Store("wrong number of hashes".into()));
        }
        Ok(Frontier {
            size,
            stack: levels.into_iter().zip(hashes).collect(),
        })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds a leaf hash; returns the stored hashes it creates, (stored index, hash), in
    /// increasing index order: the leaf's own, then each parent it completes.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u64, Hash)> {
        let n = self.size;
        let mut out = vec![(stored_hash_index(0, n), leaf)];
        let mut cur = (0u8, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != cur.0 {
                break;
            }
            self.stack.pop();
            let h = node_hash(&left, &cur.1);
            let level = level + 1;
            out.push((stored_hash_index(level, n >> level), h));
            cur = (level, h);
        }
        self.stack.push(cur);
        self.size += 1;
        out
    }

    /// The RFC 9162 root of the current tree ([`EMPTY_ROOT`] when empty).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(&(_, mut h)) = it.next() else {
            return EMPTY_ROOT;
        };
        for (_, left) in it {
            h = node_hash(left, &h);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(n: u64) -> (Vec<Hash>, Frontier) {
        let mut store = Vec::new();
        let mut f = Frontier::new();
        for i in 0..n {
            for (idx, h) in f.push(leaf_hash(&i.to_be_bytes())) {
                assert_eq!(idx as usize, store.len(), "stored hashes come in index order");
                store.push(h);
            }
        }
        (store, f)
    }

    #[test]
    fn frontier_matches_tlog_and_reloads() {
        for n in 0..70u64 {
            let (store, f) = build(n);
            assert_eq!(store.len() as u64, stored_hash_count(n));
            assert_eq!(f.root(), tree_root(n, &store).unwrap(), "size {n}");
            let g = Frontier::from_store(n, &store).unwrap();
            assert_eq!(g.root(), f.root());
            let (mut a, mut b) = (f.clone(), g);
            assert_eq!(a.push([7; 32]), b.push([7; 32]));
            assert_eq!(a.root(), b.root());
        }
    }

    #[test]
    fn proofs_round_trip_and_fail_when_altered() {
        let (big, _) = build(41);
        for n in 1..40u64 {
            let (store, f) = build(n);
            let root = f.root();
            // The size is bound to the root by the signed checkpoint: a proof checked against
            // another size must fail against that size's root.
            let next_root = tree_root(n + 1, &big).unwrap();
            for i in 0..n {
                let p = inclusion_proof(i, n, &store).unwrap();
                let leaf = leaf_hash(&i.to_be_bytes());
                verify_inclusion(i, n, &leaf, &p, &root).unwrap();
                assert!(verify_inclusion(i, n + 1, &leaf, &p, &next_root).is_err());
                if n > 1 {
                    assert!(verify_inclusion((i + 1) % n, n, &leaf, &p, &root).is_err());
                }
                for j in 0..p.len() {
                    let mut q = p.clone();
                    q[j][0] ^= 1;
                    assert!(verify_inclusion(i, n, &leaf, &q, &root).is_err());
                }
            }
            for m in 1..=n {
                let old = tree_root(m, &store).unwrap();
                let p = consistency_proof(m, n, &store).unwrap();
                verify_consistency(m, n, &old, &root, &p).unwrap();
                for j in 0..p.len() {
                    let mut q = p.clone();
                    q[j][31] ^= 1;
                    assert!(verify_consistency(m, n, &old, &root, &q).is_err());
                }
            }
        }
    }

    #[test]
    fn refuses_overlong_proofs_before_hashing() {
        let p = vec![[0u8; 32]; MAX_PROOF_LEN + 1];
        assert!(matches!(
            verify_inclusion(0, 2, &[0; 32], &p, &[0; 32]),
            Err(ProofError::ProofTooLong { .. })
        ));
        assert!(matches!(
            verify_consistency(1, 2, &[0; 32], &[0; 32], &p),
            Err(ProofError::ProofTooLong { .. })
        ));
    }
}
