//! RFC 9162 proof verification against the public transparency-dev/merkle vectors, the roots
//! of the 8-leaf reference tree, and property tests over trees of every size 1..=300.

use std::path::{Path, PathBuf};

use accord::merkle::{self, Frontier, Hash};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

fn vectors(kind: &str) -> Vec<(PathBuf, serde_json::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/rfc9162")
        .join(kind);
    let mut v = Vec::new();
    files(&dir, &mut v);
    v.sort();
    v.into_iter()
        .map(|p| {
            let j = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p, j)
        })
        .collect()
}

/// A hash as accord reads one: exactly 32 bytes, or refused before any proof is checked (some
/// vectors carry empty or short "hashes" that a verifier must reject).
fn h(v: &serde_json::Value) -> Result<Hash, String> {
    let b = STANDARD.decode(v.as_str().unwrap()).unwrap();
    b.try_into()
        .map_err(|b: Vec<u8>| format!("hash of {} bytes refused", b.len()))
}

/// Roots in consistency vectors are compared as opaque values (transparency-dev compares them
/// with bytes.Equal when the sizes are equal): a root that is not 32 bytes is mapped to the
/// SHA-256 of its bytes, which keeps equal roots equal and can match no real tree root.
fn opaque_root(v: &serde_json::Value) -> Hash {
    let b = STANDARD.decode(v.as_str().unwrap()).unwrap();
    match <[u8; 32]>::try_from(b.as_slice()) {
        Ok(h) => h,
        Err(_) => {
            use sha2::Digest as _;
            sha2::Sha256::digest(&b).into()
        }
    }
}

fn hashes(v: &serde_json::Value) -> Result<Vec<Hash>, String> {
    match v.as_array() {
        None => Ok(vec![]),
        Some(a) => a.iter().map(h).collect(),
    }
}

/// Runs `check` on every vector of `kind` (more than 40 of them, some valid and some not): each
/// must fail exactly when it says `wantErr`.
fn run_vectors(kind: &str, check: impl Fn(&serde_json::Value) -> Result<(), String>) {
    let all = vectors(kind);
    assert!(all.len() > 40, "only {} {kind} vectors found", all.len());
    let (mut ok, mut bad) = (0, 0);
    for (p, j) in &all {
        let r = check(j);
        if j["wantErr"].as_bool().unwrap() {
            assert!(r.is_err(), "{} accepted", p.display());
            bad += 1;
        } else {
            assert!(r.is_ok(), "{} rejected: {r:?}", p.display());
            ok += 1;
        }
    }
    assert!(ok > 0 && bad > 0);
}

#[test]
fn inclusion_vectors() {
    run_vectors("inclusion", |j| {
        merkle::verify_inclusion(
            j["leafIdx"].as_u64().unwrap(),
            j["treeSize"].as_u64().unwrap(),
            &h(&j["leafHash"])?,
            &hashes(&j["proof"])?,
            &h(&j["root"])?,
        )
        .map_err(|e| e.to_string())
    });
}

#[test]
fn consistency_vectors() {
    run_vectors("consistency", |j| {
        merkle::verify_consistency(
            j["size1"].as_u64().unwrap(),
            j["size2"].as_u64().unwrap(),
            &opaque_root(&j["root1"]),
            &opaque_root(&j["root2"]),
            &hashes(&j["proof"])?,
        )
        .map_err(|e| e.to_string())
    });
}

#[test]
fn reference_tree_roots() {
    let leaves: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
        ],
    ];
    let want = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let mut f = Frontier::new();
    let mut store: Vec<Hash> = Vec::new();
    assert_eq!(hex::encode(f.root()), want[0]);
    for (i, leaf) in leaves.iter().enumerate() {
        for (_, h) in f.push(merkle::leaf_hash(leaf)) {
            store.push(h);
        }
        assert_eq!(hex::encode(f.root()), want[i + 1], "size {}", i + 1);
        assert_eq!(
            hex::encode(merkle::tree_root(i as u64 + 1, &store).unwrap()),
            want[i + 1]
        );
    }
}

fn tree(n: u64) -> (Vec<Hash>, Vec<Hash>) {
    let mut f = Frontier::new();
    let mut store = Vec::new();
    let mut roots = vec![merkle::EMPTY_ROOT];
    for i in 0..n {
        for (_, h) in f.push(merkle::leaf_hash(&i.to_le_bytes())) {
            store.push(h);
        }
        roots.push(f.root());
    }
    (store, roots)
}

#[test]
fn every_leaf_of_every_tree_up_to_300_proves_and_alterations_fail() {
    let (store, roots) = tree(301);
    for n in 1..=300u64 {
        let root = roots[n as usize];
        for i in 0..n {
            let leaf = merkle::leaf_hash(&i.to_le_bytes());
            let p = merkle::inclusion_proof(i, n, &store).unwrap();
            merkle::verify_inclusion(i, n, &leaf, &p, &root).unwrap();
            // Altered index, size (with that size's own root) or path hash: refused. Sampled
            // for the path (every 7th leaf) to keep the test quick.
            if n > 1 {
                assert!(merkle::verify_inclusion((i + 1) % n, n, &leaf, &p, &root).is_err());
            }
            assert!(merkle::verify_inclusion(i, n + 1, &leaf, &p, &roots[n as usize + 1]).is_err());
            if i % 7 == 0 {
                for k in 0..p.len() {
                    let mut q = p.clone();
                    q[k][(k * 5) % 32] ^= 0x10;
                    assert!(
                        merkle::verify_inclusion(i, n, &leaf, &q, &root).is_err(),
                        "n={n} i={i} k={k}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_pair_of_sizes_up_to_300_is_consistent_and_alterations_fail() {
    let (store, roots) = tree(300);
    for n in 1..=300u64 {
        for m in 1..=n {
            let p = merkle::consistency_proof(m, n, &store).unwrap();
            let (rm, rn) = (roots[m as usize], roots[n as usize]);
            merkle::verify_consistency(m, n, &rm, &rn, &p).unwrap();
            if m < n && (m + n) % 5 == 0 {
                assert!(merkle::verify_consistency(m, n, &rn, &rm, &p).is_err());
                assert!(
                    merkle::verify_consistency(m + 1, n, &roots[m as usize + 1], &rn, &p).is_err()
                        || m + 1 == n
                );
                for k in 0..p.len() {
                    let mut q = p.clone();
                    q[k][k % 32] ^= 1;
                    assert!(
                        merkle::verify_consistency(m, n, &rm, &rn, &q).is_err(),
                        "m={m} n={n} k={k}"
                    );
                }
            }
        }
    }
}
