//! Issue 13: `accord publish DIR` writes the ledger as C2SP tlog-tiles, incrementally and
//! crash-safely, and `accord verify DIR` / `accord mirror DIR` read it back, through the real
//! binary. Every tile is checked against the tree computed here from the entries alone (RFC 9162
//! hashing, the C2SP layout written out again in `publog`).

mod common;
mod publog;

use std::collections::BTreeMap;
use std::path::Path;

use common::{json, s, World};
use publog::*;

/// `publish DEST --json`, which must succeed; its report.
fn publish(w: &World, dest: &Path) -> serde_json::Value {
    json(w, &["publish", &s(dest), "--json"])
}

/// What a published directory must hold for the sizes `published` (in order, the last being
/// the checkpoint's): the tiles of every one of those trees (partial tiles of earlier sizes
/// stay), the start files and the checkpoint.
fn check_published(w: &World, vkey: &str, dest: &Path, published: &[usize]) {
    let all = entries(w);
    let size = *published.last().unwrap();
    let mut want: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for &p in published {
        want.extend(expected_tiles(&all, p));
    }
    let got = files(dest);
    let tiles: Vec<&String> = got.keys().filter(|k| k.starts_with("tile/")).collect();
    assert_eq!(
        tiles,
        want.keys().collect::<Vec<_>>(),
        "the tiles of trees of sizes {published:?}, and nothing else"
    );
    for (path, bytes) in &want {
        assert!(!bytes.is_empty(), "{path}: empty tiles must not exist");
        assert_eq!(&got[path], bytes, "{path}");
    }
    let others: Vec<&String> = got.keys().filter(|k| !k.starts_with("tile/")).collect();
    assert_eq!(
        others,
        ["accord/log.json", "accord/norms-v1.json", "checkpoint"],
        "no temporary or stray files"
    );
    // The checkpoint: signed by the ledger key, of the ledger's size, its root the MTH of the
    // entries computed here.
    let note = &got["checkpoint"];
    let key = accord::checkpoint::VerifierKey::parse(vkey).unwrap();
    let cp = accord::checkpoint::SignedCheckpoint::open(note, &key).unwrap();
    assert_eq!(cp.checkpoint.size, size as u64);
    let leaves: Vec<Hash> = all[..size].iter().map(|e| leaf(e)).collect();
    assert_eq!(cp.checkpoint.root, mth(&leaves), "checkpoint root at size {size}");
    // The start files.
    let info: serde_json::Value = serde_json::from_slice(&got["accord/log.json"]).unwrap();
    assert_eq!(info["origin"], common::ORIGIN);
    assert_eq!(info["vkey"], vkey);
    assert_eq!(info["format"], "accord-log/1");
    let catalogue = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/norms-v1.json")).unwrap();
    assert_eq!(got["accord/norms-v1.json"], catalogue);
}

/// Inode and modification time of every file under `dir`.
fn stamps(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt as _;
    files(dir)
        .into_keys()
        .map(|k| {
            let m = std::fs::metadata(dir.join(&k)).unwrap();
            let v = (m.ino(), m.modified().unwrap());
            (k, v)
        })
        .collect()
}

#[test]
fn publish_writes_the_tiles_of_the_spec_and_then_only_what_is_new() {
    let (w, vkey, key) = ledger_of(1);
    let dest = w.path("pub");
    let r = publish(&w, &dest);
    assert_eq!((r["from"].as_u64(), r["to"].as_u64()), (Some(0), Some(1)));
    check_published(&w, &vkey, &dest, &[1]);
    let mut published = vec![1usize];
    // Across the tile boundaries: a partial tile of 255, a full one, a full one and a new
    // partial level-1 tile, two full tiles and partial tiles at two levels.
    for size in [255u64, 256, 257, 600] {
        let before = stamps(&dest);
        append_attestations(
            &w,
            &key,
            size - *published.last().unwrap() as u64,
            &format!("to {size}"),
        );
        let r = publish(&w, &dest);
        assert_eq!(r["to"].as_u64(), Some(size), "{r}");
        let new_tiles = expected_tiles(&entries(&w), size as usize)
            .into_keys()
            .filter(|k| !before.contains_key(k))
            .count() as u64;
        // The new tiles and the checkpoint; the start files are unchanged, so not rewritten.
        assert_eq!(r["files"].as_u64(), Some(new_tiles + 1), "size {size}: {r}");
        published.push(size as usize);
        check_published(&w, &vkey, &dest, &published);
        let after = stamps(&dest);
        for (path, stamp) in &before {
            if path != "checkpoint" {
                assert_eq!(
                    &after[path], stamp,
                    "{path} was rewritten by the publish of size {size}"
                );
            }
        }
    }
    // Nothing new: nothing written at all.
    let before = stamps(&dest);
    let r = publish(&w, &dest);
    assert_eq!(r["files"].as_u64(), Some(0), "{r}");
    assert_eq!(stamps(&dest), before);
    let out = w.ok(&["publish", &s(&dest)]);
    assert!(out.contains("nothing to write"), "{out}");
    // And it verifies, with the ledger key from the user.
    let out = w.ok(&[
        "verify",
        &s(&dest),
        "--ledger-key",
        &vkey,
        "--state",
        &w.path_str("st"),
    ]);
    assert!(out.contains("OK") && out.contains("600 entries"), "{out}");
}
