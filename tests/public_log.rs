//! Issue 13: `accord publish DIR` writes the ledger as C2SP tlog-tiles, incrementally and
//! crash-safely, and `accord verify DIR` / `accord mirror DIR` read it back, through the real
//! binary. Every tile is checked against the tree computed here from the entries alone (RFC 9162
//! hashing, the C2SP layout written out again in `publog`).

mod common;
mod publog;

use std::collections::BTreeMap;
use std::path::Path;

use common::{json, s, verify_args, World};
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
        [
            ".publishing/lock",
            "accord/log.json",
            "accord/norms-v1.json",
            "checkpoint"
        ],
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
    let out = w.ok(&verify_args(&vkey, &w.path_str("st"), &[&s(&dest)]));
    assert!(out.contains("OK") && out.contains("600 entries"), "{out}");
}

/// A copy of the world's ledger directory at `name`: the same ledger, key and origin, which
/// can then grow apart from the original (a fork, signed by the same key).
fn copy_ledger(w: &World, name: &str) -> std::path::PathBuf {
    let to = w.path(name);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(w.ledger()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

#[test]
fn publish_refuses_another_log_a_fork_and_a_rollback_and_leaves_the_directory_alone() {
    let (w, _, key) = ledger_of(3);
    let forked = copy_ledger(&w, "fork");
    let behind = copy_ledger(&w, "behind");
    append_attestations(&w, &key, 2, "main");
    append_attestations_to(&w, &forked, &key, 3, "fork");
    let dest = w.path("pub");
    publish(&w, &dest);
    let mut held = (files(&dest), stamps(&dest));
    let untouched = |held: &(BTreeMap<_, _>, BTreeMap<_, _>), what: &str| {
        let now = (files(&dest), stamps(&dest));
        let changed: Vec<&String> = held
            .1
            .keys()
            .chain(now.1.keys())
            .filter(|k| held.0.get(*k) != now.0.get(*k) || held.1.get(*k) != now.1.get(*k))
            .collect();
        assert!(changed.is_empty(), "{what}: the directory changed: {changed:?}");
    };
    // The fork (size 6, same key, another history from entry 3 on): its tree at size 5 is not
    // the published one.
    let e = w.fails(1, &["--ledger", &s(&forked), "publish", &s(&dest)]);
    assert!(e.contains("FORK") && e.contains("size 5"), "{e}");
    untouched(&held, "a fork");
    // A copy of the ledger at size 3: behind what was published.
    let e = w.fails(1, &["--ledger", &s(&behind), "publish", &s(&dest)]);
    assert!(e.contains("size 5") && e.contains("does not extend"), "{e}");
    untouched(&held, "a ledger behind");
    // Another ledger (another origin and key).
    let other = World::new();
    other.ok(&["init", "--origin", "other.example/ledger"]);
    let e = other.fails(1, &["publish", &s(&dest)]);
    assert!(e.contains("another log"), "{e}");
    untouched(&held, "another ledger");
    // The published checkpoint with its signature altered: not this ledger's either.
    let cp = dest.join("checkpoint");
    let good = std::fs::read(&cp).unwrap();
    let mut bad = good.clone();
    let at = bad.len() - 10;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&cp, &bad).unwrap();
    let e = w.fails(1, &["publish", &s(&dest)]);
    assert!(e.contains("another log"), "{e}");
    assert_eq!(std::fs::read(&cp).unwrap(), bad, "the evidence is kept");
    std::fs::write(&cp, &good).unwrap();
    held = (files(&dest), stamps(&dest));
    // While another publication holds the directory: exit 2, saying so, nothing written.
    append_attestations(&w, &key, 1, "more");
    let lock = std::fs::File::open(dest.join(".publishing/lock")).unwrap();
    lock.lock().unwrap();
    let e = w.fails(2, &["publish", &s(&dest)]);
    assert!(e.contains("another accord publish is writing"), "{e}");
    untouched(&held, "a publication at work");
    drop(lock);
    // The original, grown, still extends it.
    assert_eq!(publish(&w, &dest)["to"].as_u64(), Some(6));
}

/// Kills `accord publish` with SIGKILL at random moments while it takes a directory from an
/// old published state to a new one: after every kill the directory's checkpoint is the old
/// one or the new one and every tile of its tree is there and right (and `accord verify DIR`
/// agrees); a rerun finishes the job. Kill points are spread over the time a whole publication
/// takes here (`common::KillMoments`, as for tests/sigkill.rs).
#[cfg(unix)]
#[test]
fn publish_killed_at_any_moment_leaves_the_old_or_the_new_state_and_a_rerun_finishes() {
    let kills: usize = std::env::var("ACCORD_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let (old, new) = (300usize, 2600usize);
    let (w, vkey, key) = ledger_of(old as u64);
    let snapshot = w.path("old");
    publish(&w, &snapshot);
    append_attestations(&w, &key, (new - old) as u64, "new");
    let all = entries(&w);
    let dest = w.path("pub");
    let restore = || {
        let _ = std::fs::remove_dir_all(&dest);
        for (path, bytes) in files(&snapshot) {
            let f = dest.join(&path);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, bytes).unwrap();
        }
    };
    restore();
    // The time one whole publication takes.
    let t0 = std::time::Instant::now();
    publish(&w, &dest);
    let baseline = (t0.elapsed().as_micros() as u64).max(1_000);
    restore();
    let mut moments = common::KillMoments::new(baseline, 0x9e37_79b9_7f4a_7c15);
    let (mut killed, mut finished, mut attempts, mut midway) = (0, 0, 0, 0);
    while killed < kills && attempts < 4 * kills {
        attempts += 1;
        let mut child = w
            .std_cmd()
            .args(["publish", &s(&dest)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let (status, was_killed) = moments.kill(&mut child);
        if was_killed {
            killed += 1;
        } else {
            assert!(status.success(), "publish failed after an earlier kill: {status}");
            finished += 1;
        }
        let (size, mid) = check_killed_publication(&files(&dest), &all, (old, new), attempts);
        midway += usize::from(mid);
        // A fresh state each time: the directory goes back to the old state on purpose.
        let state = w.path_str(&format!("state-{attempts}"));
        let out = w.ok(&verify_args(&vkey, &state, &[&s(&dest)]));
        assert!(out.contains(&format!("{size} entries")), "{out}");
        if size == new {
            // Start again from the old state, so that every kill interrupts a publication.
            restore();
        }
    }
    assert!(
        killed >= kills,
        "only {killed} of {attempts} publications were still running when killed"
    );
    // A rerun over whatever the last kill left finishes the job.
    publish(&w, &dest);
    check_published(&w, &vkey, &dest, &[old, new]);
    eprintln!(
        "attempts {attempts}, killed {killed} ({midway} with new tiles written but not the checkpoint), finished {finished}, baseline {baseline} us"
    );
}

/// `mirror LOCATION --ledger-key VKEY` into the ledger `mirror`.
fn mirror_args<'a>(mirror: &'a str, location: &'a str, vkey: &'a str) -> Vec<&'a str> {
    vec!["--ledger", mirror, "mirror", location, "--ledger-key", vkey]
}

#[test]
fn verify_and_mirror_a_published_directory_remembering_its_checkpoint() {
    let (w, vkey, key) = ledger_of(300);
    let early = w.path("early");
    publish(&w, &early);
    append_attestations(&w, &key, 10, "later");
    let dest = w.path("pub");
    publish(&w, &dest);
    let state = w.path("state");
    let out = w.ok(&verify_args(&vkey, &s(&state), &[&s(&dest)]));
    assert!(out.starts_with("OK:") && out.contains("310 entries"), "{out}");
    let j = w.ok(&verify_args(&vkey, &s(&state), &[&s(&dest), "--json"]));
    common::check_schema("verify.schema.json", &j);
    let j: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(
        (j["entries"].as_u64(), j["remembered_size"].as_u64()),
        (Some(310), Some(310))
    );
    // The checkpoint is remembered: the earlier publication is now a rollback.
    assert!(std::fs::read_dir(&state).unwrap().count() > 0);
    let e = w.fails(1, &verify_args(&vkey, &s(&state), &[&s(&early)]));
    assert!(e.contains("ROLLBACK") && e.contains("310"), "{e}");
    // The key comes from the user.
    let e = w.fails(2, &["verify", &s(&dest), "--state", &s(&state)]);
    assert!(e.contains("--ledger-key"), "{e}");
    // A mirror built from the earlier publication, then extended from the later one.
    let m = w.path_str("mirror");
    let out = w.ok(&mirror_args(&m, &s(&early), &vkey));
    assert!(out.contains("now 300 entries (was 0)"), "{out}");
    let out = w.ok(&mirror_args(&m, &s(&dest), &vkey));
    assert!(out.contains("now 310 entries (was 300)"), "{out}");
    w.ok(&[
        "--ledger",
        &m,
        "verify",
        "--ledger-key",
        &vkey,
        "--state",
        &w.path_str("st2"),
    ]);
    assert_eq!(
        w.ok(&["--ledger", &m, "list", "--json"]),
        w.ok(&["list", "--json"]),
        "the mirror holds the same entries"
    );
    // Mirroring the earlier one again: the mirror is ahead of it; nothing changes.
    let cp = w.ok(&["--ledger", &m, "checkpoint"]);
    w.run(&mirror_args(&m, &s(&early), &vkey));
    assert_eq!(w.ok(&["--ledger", &m, "checkpoint"]), cp);
}

/// A published directory of 600 entries (full tiles, and partial tiles at two levels), to
/// alter; and a clean copy of it to restore from.
struct Tampered {
    w: World,
    vkey: String,
    dest: std::path::PathBuf,
    clean: BTreeMap<String, Vec<u8>>,
    /// A copy of the ledger that forked from it at entry 599: the same size, another root,
    /// signed by the same key.
    fork: std::path::PathBuf,
}

impl Tampered {
    fn new() -> Tampered {
        let (w, vkey, key) = ledger_of(599);
        let fork = copy_ledger(&w, "fork");
        append_attestations(&w, &key, 1, "main");
        append_attestations_to(&w, &fork, &key, 1, "fork");
        let dest = w.path("pub");
        publish(&w, &dest);
        let clean = files(&dest);
        Tampered {
            w,
            vkey,
            dest,
            clean,
            fork,
        }
    }

    /// Alters the file `path` with `f`, requires `verify DIR` to exit `code` with every one of
    /// `wants` in its message, and `mirror DIR` into a new mirror to fail likewise and leave
    /// no mirror; then restores the directory.
    fn check(&self, path: &str, f: impl FnOnce(&mut Vec<u8>), code: i32, wants: &[&str]) {
        let file = self.dest.join(path);
        let mut bytes = std::fs::read(&file).unwrap_or_default();
        f(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();
        self.expect(code, wants);
        self.restore();
    }

    fn expect(&self, code: i32, wants: &[&str]) {
        let state = self.w.path("tamper-state");
        let e = self
            .w
            .fails(code, &verify_args(&self.vkey, &s(&state), &[&s(&self.dest)]));
        for want in wants {
            assert!(e.contains(want), "expected {want:?} in: {e}");
        }
        assert!(
            !state.exists() || std::fs::read_dir(&state).unwrap().count() == 0,
            "state written: {e}"
        );
        let m = self.w.path("tamper-mirror");
        let e = self
            .w
            .fails(code, &mirror_args(&s(&m), &s(&self.dest), &self.vkey));
        for want in wants {
            assert!(e.contains(want), "mirror: expected {want:?} in: {e}");
        }
        assert!(
            !m.join(accord::store::DB_FILE).exists(),
            "a mirror was made from bad data: {e}"
        );
    }

    fn restore(&self) {
        let _ = std::fs::remove_dir_all(&self.dest);
        for (path, bytes) in &self.clean {
            let f = self.dest.join(path);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, bytes).unwrap();
        }
    }
}

fn flip(at: usize) -> impl FnOnce(&mut Vec<u8>) {
    move |b: &mut Vec<u8>| b[at] ^= 0x40
}

#[test]
fn a_tampered_directory_fails_naming_the_tile_or_entry_and_commits_nothing() {
    let t = Tampered::new();
    // An entry altered inside a full bundle: its leaf hash is not the level-0 tile's.
    t.check("tile/entries/001", flip(300), 1, &["tile/0/001", "entry 256"]);
    // A length prefix altered: the bundle no longer frames its entries.
    t.check("tile/entries/000", flip(0), 1, &["tile/entries/000"]);
    // A partial bundle missing its last entry.
    let last = |b: &mut Vec<u8>| {
        let all = accord::tiles::decode_bundle(b, 88).unwrap();
        *b = accord::tiles::encode_bundle(all[..87].iter().copied()).unwrap();
    };
    t.check(
        "tile/entries/002.p/88",
        last,
        1,
        &["tile/entries/002.p/88", "87 of 88"],
    );
    // Hash tiles altered at level 0 and level 1.
    t.check("tile/0/000", flip(32 * 7), 1, &["tile/0/000", "hash 7"]);
    t.check("tile/1/000.p/2", flip(33), 1, &["tile/1/000.p/2", "hash 1"]);
    t.check(
        "tile/0/002.p/88",
        |b| b.truncate(32 * 87),
        1,
        &["tile/0/002.p/88"],
    );
    // A checkpoint signed by another key (another ledger of the same origin).
    let other = World::new();
    other.init();
    let foreign = other.checkpoint();
    t.check("checkpoint", |b| *b = foreign.into_bytes(), 1, &["checkpoint"]);
    // A checkpoint signed by the ledger key whose root is not that of these tiles (the fork's,
    // of the same size).
    let forked = t.w.ok(&["--ledger", &s(&t.fork), "checkpoint"]);
    t.check("checkpoint", |b| *b = forked.into_bytes(), 1, &["root"]);
    // A missing bundle: the host does not have it (not a verdict on the log).
    let gone = t.dest.join("tile/entries/001");
    std::fs::remove_file(&gone).unwrap();
    t.expect(2, &["tile/entries/001", "not found"]);
    t.restore();
}
