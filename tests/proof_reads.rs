//! Proof generation reads O(log n) stored hashes: at n = 1,000,000, inclusion and consistency
//! proofs read at most 2·⌈log₂ n⌉ + 2 hashes through the store's hash reader.

use std::cell::Cell;

use accord::merkle::{self, Frontier, Hash, HashStore, ProofError};

struct Counting<'a> {
    inner: &'a Vec<Hash>,
    reads: Cell<usize>,
}

impl HashStore for Counting<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        self.reads.set(self.reads.get() + indexes.len());
        self.inner.read_hashes(indexes)
    }
}

#[test]
fn proofs_at_one_million_read_logarithmically_many_hashes() {
    const N: u64 = 1_000_000;
    let mut f = Frontier::new();
    let mut store: Vec<Hash> = Vec::with_capacity(2 * N as usize);
    for i in 0..N {
        // Synthetic leaf hashes: the tree shape, not the content, decides the reads.
        let mut leaf = [0u8; 32];
        leaf[..8].copy_from_slice(&i.to_le_bytes());
        for (_, h) in f.push(leaf) {
            store.push(h);
        }
    }
    let bound = 2 * (64 - (N - 1).leading_zeros()) as usize + 2; // 2·⌈log₂ n⌉ + 2
    let c = Counting {
        inner: &store,
        reads: Cell::new(0),
    };
    let root = f.root();
    for index in [0, 1, 12_345, 524_287, 524_288, 999_998, N - 1] {
        c.reads.set(0);
        let p = merkle::inclusion_proof(index, N, &c).unwrap();
        assert!(
            c.reads.get() <= bound,
            "inclusion {index}: {} reads > {bound}",
            c.reads.get()
        );
        let mut leaf = [0u8; 32];
        leaf[..8].copy_from_slice(&index.to_le_bytes());
        merkle::verify_inclusion(index, N, &leaf, &p, &root).unwrap();
    }
    for old in [1, 2, 1000, 1 << 19, 500_000, 999_999] {
        c.reads.set(0);
        let p = merkle::consistency_proof(old, N, &c).unwrap();
        assert!(
            c.reads.get() <= bound,
            "consistency {old}: {} reads > {bound}",
            c.reads.get()
        );
        let old_root = merkle::tree_root(old, &store).unwrap();
        merkle::verify_consistency(old, N, &old_root, &root, &p).unwrap();
    }
}
