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
    // Beside the lock, publish remembers the sizes of the full bundles it published (private,
    // under .publishing/, never served) once there is one.
    let others: Vec<&String> = got
        .keys()
        .filter(|k| !k.starts_with("tile/") && *k != ".publishing/bundle-sizes")
        .collect();
    assert_eq!(got.contains_key(".publishing/bundle-sizes"), size >= 256);
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
            if path != "checkpoint" && path != ".publishing/bundle-sizes" {
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

/// Whether this process runs as root (then a test can give a directory to another user).
#[cfg(unix)]
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Review 13, F1: another user who could write `DIR/.publishing` (planted with mode 777 in a
/// shared sticky directory) swapped every temporary file before publish renamed it into place,
/// and publish exited 0 with the attacker's bytes in every file; holding the lock in a planted
/// `.publishing/lock` blocked every publication. Now publish refuses (exit 2, saying why and
/// what to do) a directory, or a `.publishing`, that others can write or that is not the
/// user's own, before it writes anything; it makes `.publishing` with mode 0700.
#[cfg(unix)]
#[test]
fn publish_refuses_a_directory_or_staging_directory_that_others_can_change() {
    let (w, vkey, _) = ledger_of(300);
    // A new directory: made 0755 at most, its .publishing 0700.
    let dest = w.path("pub");
    publish(&w, &dest);
    assert_eq!(mode_of(&dest.join(".publishing")), 0o700);
    assert_eq!(mode_of(&dest) & 0o022, 0);
    assert_eq!(mode_of(&dest.join("tile")) & 0o022, 0);
    // A shared directory anyone can write (mode 1777, as /tmp): refused, nothing written.
    let shared = w.path("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let e = w.fails(2, &["publish", &s(&shared)]);
    assert!(
        e.contains("writable by other users (mode 1777)") && e.contains("hint: run `chmod 755"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(&shared).unwrap().count(),
        0,
        "something was written"
    );
    // A private directory with a .publishing others can write (planted, mode 777).
    let planted = w.path("planted");
    std::fs::create_dir_all(planted.join(".publishing")).unwrap();
    chmod(&planted.join(".publishing"), 0o777);
    let e = w.fails(2, &["publish", &s(&planted)]);
    assert!(
        e.contains(".publishing: it is writable by other users (mode 777)")
            && e.contains("publish FAILED (nothing written)"),
        "{e}"
    );
    assert_eq!(files(&planted).len(), 0, "something was written");
    // A group-writable directory of the layout inside an otherwise private one.
    chmod(&dest.join("tile"), 0o775);
    let e = w.fails(2, &["publish", &s(&dest)]);
    assert!(
        e.contains("tile: it is writable by other users (mode 775)"),
        "{e}"
    );
    chmod(&dest.join("tile"), 0o755);
    w.ok(&verify_args(&vkey, &w.path_str("st"), &[&s(&dest)]));
    if is_root() {
        // A .publishing of another user (nobody), holding its lock: refused as another user's,
        // not waited for.
        let theirs = w.path("theirs");
        std::fs::create_dir_all(theirs.join(".publishing")).unwrap();
        chmod(&theirs.join(".publishing"), 0o755);
        std::fs::write(theirs.join(".publishing/lock"), b"").unwrap();
        std::os::unix::fs::chown(theirs.join(".publishing"), Some(65534), Some(65534)).unwrap();
        let lock = std::fs::File::open(theirs.join(".publishing/lock")).unwrap();
        lock.lock().unwrap();
        let e = w.fails(2, &["publish", &s(&theirs)]);
        assert!(e.contains("belongs to another user (uid 65534"), "{e}");
        assert!(e.contains("hint: use a directory of your own"), "{e}");
        // And a whole directory of another user.
        let other = w.path("other");
        std::fs::create_dir(&other).unwrap();
        std::os::unix::fs::chown(&other, Some(65534), Some(65534)).unwrap();
        let e = w.fails(2, &["publish", &s(&other)]);
        assert!(e.contains("belongs to another user"), "{e}");
    }
}

/// Review 13, F2: a symbolic link inside DIR (`tile`, `accord`, `.publishing`, the checkpoint,
/// `accord/log.json`) made publish write outside DIR, and a dangling one at
/// `.publishing/lock` created its target. Now publish never follows a link at or below DIR
/// (DIR itself may be one: the user named it): exit 2 naming the link, nothing written
/// through it.
#[cfg(unix)]
#[test]
fn publish_never_follows_a_symbolic_link_inside_the_directory() {
    let (w, vkey, key) = ledger_of(300);
    let outside = w.path("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim"), b"victim\n").unwrap();
    let victim_dir = outside.join("dir");
    std::fs::create_dir(&victim_dir).unwrap();
    let untouched = || {
        let f = files(&outside);
        assert_eq!(f.len(), 1, "{:?}", f.keys());
        assert_eq!(f["victim"], b"victim\n");
    };
    let cases: [(&str, &str, std::path::PathBuf); 5] = [
        ("tile", "tile", victim_dir.clone()),
        ("accord", "accord", victim_dir.clone()),
        (".publishing", ".publishing", victim_dir.clone()),
        ("checkpoint", "checkpoint", outside.join("victim")),
        (".publishing/lock", "lock", outside.join("created-by-publish")),
    ];
    for (i, (at, named, to)) in cases.iter().enumerate() {
        let dest = w.path(&format!("sym{i}"));
        let link = dest.join(at);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(to, &link).unwrap();
        let e = w.fails(2, &["publish", &s(&dest)]);
        assert!(
            e.contains(named) && e.contains("is a symbolic link") && e.contains("hint: "),
            "{at}: {e}"
        );
        untouched();
    }
    // accord/log.json a link in a directory published before, then published on top.
    let dest = w.path("sym-log");
    publish(&w, &dest);
    std::fs::remove_file(dest.join("accord/log.json")).unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), dest.join("accord/log.json")).unwrap();
    append_attestations(&w, &key, 1, "more");
    let e = w.fails(2, &["publish", &s(&dest)]);
    assert!(e.contains("log.json") && e.contains("symbolic link"), "{e}");
    untouched();
    // A link to a tile of the tree, found when the tiles are checked.
    let dest = w.path("sym-tile-file");
    publish(&w, &dest);
    std::fs::rename(dest.join("tile/0/000"), outside.join("t")).unwrap();
    std::os::unix::fs::symlink(outside.join("t"), dest.join("tile/0/000")).unwrap();
    let e = w.fails(2, &["publish", &s(&dest)]);
    assert!(e.contains("tile/0/000") && e.contains("symbolic link"), "{e}");
    std::fs::remove_file(outside.join("t")).unwrap();
    untouched();
    // DIR itself may be a link: the user named it.
    let real = w.path("real");
    std::fs::create_dir(&real).unwrap();
    let named = w.path("named");
    std::os::unix::fs::symlink(&real, &named).unwrap();
    publish(&w, &named);
    w.ok(&verify_args(&vkey, &w.path_str("st"), &[&s(&real)]));
}

/// Review 13, F5: publish trusted the tiles already in DIR: a deleted, truncated or corrupted
/// tile of the published tree was never repaired ("nothing to write"), and a publication on
/// top installed a new checkpoint over missing or corrupt tiles. Now every tile the new
/// checkpoint needs is checked to be there with its exact size (a stat each), and rewritten
/// from the ledger if not, before the checkpoint is replaced, at the same size too; `--repair`
/// also compares the contents of every file, older partial tiles included.
#[test]
fn publish_rewrites_missing_or_cut_tiles_and_repair_rewrites_altered_ones() {
    let (w, vkey, key) = ledger_of(600);
    let dest = w.path("pub");
    publish(&w, &dest);
    append_attestations(&w, &key, 10, "more");
    publish(&w, &dest);
    let clean = files(&dest);
    let verifies = |what: &str| {
        let out = w.ok(&verify_args(
            &vkey,
            &w.path_str(&format!("st-{what}")),
            &[&s(&dest)],
        ));
        assert!(out.contains("610 entries"), "{what}: {out}");
    };
    let damage = || {
        std::fs::remove_file(dest.join("tile/0/000")).unwrap();
        std::fs::write(dest.join("tile/1/000.p/2"), b"").unwrap();
        let b = dest.join("tile/entries/001");
        let mut bytes = std::fs::read(&b).unwrap();
        bytes.truncate(bytes.len() - 1);
        std::fs::write(&b, bytes).unwrap();
    };
    // The same size again: the three are found and rewritten; not "nothing to write".
    damage();
    let r = publish(&w, &dest);
    assert_eq!(
        (r["repaired"].as_u64(), r["files"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    assert!(files(&dest) == clean, "not repaired");
    verifies("same size");
    let out = w.ok(&["publish", &s(&dest)]);
    assert!(out.contains("nothing to write"), "{out}");
    // Publishing on top of damaged tiles: they are rewritten before the new checkpoint.
    damage();
    append_attestations(&w, &key, 5, "on top");
    let out = w.ok(&["publish", &s(&dest)]);
    assert!(out.contains("repaired 3 of the"), "{out}");
    let out = w.ok(&verify_args(&vkey, &w.path_str("st-on-top"), &[&s(&dest)]));
    assert!(out.contains("615 entries"), "{out}");
    // A byte altered, size kept (a full bundle, an older partial tile of an earlier
    // publication, a start file): only --repair reads contents, and it puts them right.
    let clean = files(&dest);
    let alter = |path: &str| {
        let f = dest.join(path);
        let mut b = std::fs::read(&f).unwrap();
        b[5] ^= 1;
        std::fs::write(&f, b).unwrap();
    };
    for path in ["tile/entries/000", "tile/0/002.p/88", "accord/norms-v1.json"] {
        alter(path);
    }
    let r = publish(&w, &dest);
    assert_eq!(
        r["repaired"].as_u64(),
        Some(0),
        "size unchanged, contents not read: {r}"
    );
    let before = stamps(&dest);
    let r = json(&w, &["publish", &s(&dest), "--repair", "--json"]);
    let after = stamps(&dest);
    let changed: Vec<&String> = after.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
    assert_eq!(r["repaired"].as_u64(), Some(2), "two tiles: {r} {changed:?}");
    let now = files(&dest);
    // (The record of bundle sizes under .publishing/ is rebuilt by a repair.)
    let wrong: Vec<&String> = clean
        .keys()
        .chain(now.keys())
        .filter(|k| clean.get(*k) != now.get(*k) && !k.starts_with(".publishing/"))
        .collect();
    assert!(
        wrong.is_empty(),
        "all three put right (the start file as always): {wrong:?}"
    );
    let out = w.ok(&["publish", &s(&dest), "--repair"]);
    assert!(
        out.contains("nothing to write: every file compared with the ledger"),
        "{out}"
    );
}

/// Review 13, F6: a directory of another log that had its `accord/log.json` (naming another
/// key) but no checkpoint was taken over, its tiles mixed with this ledger's. Now a directory
/// without a checkpoint is written only if its `accord/log.json` names this ledger (a first
/// publication of it, killed before the checkpoint), or if it holds nothing of the layout
/// (`tile/`, `accord/`); anything else is refused (exit 1) and left alone.
#[test]
fn publish_refuses_a_directory_of_another_log_without_a_checkpoint() {
    let (w, vkey, _) = ledger_of(300);
    let other = World::new();
    other.ok(&["init", "--origin", "other.example/ledger"]);
    let theirs = other.path("pub");
    other.ok(&["publish", &s(&theirs)]);
    std::fs::remove_file(theirs.join("checkpoint")).unwrap();
    let before = (files(&theirs), stamps(&theirs));
    let e = w.fails(1, &["publish", &s(&theirs)]);
    assert!(
        e.contains("accord/log.json names another log (other.example/ledger+"),
        "{e}"
    );
    assert_eq!((files(&theirs), stamps(&theirs)), before, "the directory changed");
    // Tiles without a description: not known to be this log's.
    let bare = w.path("bare");
    std::fs::create_dir_all(bare.join("tile/0/000.p")).unwrap();
    std::fs::write(bare.join("tile/0/000.p/1"), [7u8; 32]).unwrap();
    let e = w.fails(1, &["publish", &s(&bare)]);
    assert!(e.contains("holds tile/0/000.p/1"), "{e}");
    // A description that is not JSON.
    let junk = w.path("junk");
    std::fs::create_dir_all(junk.join("accord")).unwrap();
    std::fs::write(junk.join("accord/log.json"), b"not json").unwrap();
    let e = w.fails(1, &["publish", &s(&junk)]);
    assert!(e.contains("not the description of this ledger"), "{e}");
    // Files outside the layout are no log's: left alone, and the log published beside them.
    let site = w.path("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), b"<p>pledges</p>").unwrap();
    publish(&w, &site);
    assert_eq!(std::fs::read(site.join("index.html")).unwrap(), b"<p>pledges</p>");
    // This ledger's own first publication, killed after its description and some tiles but
    // before the checkpoint: finished.
    let mine = w.path("mine");
    publish(&w, &mine);
    std::fs::remove_file(mine.join("checkpoint")).unwrap();
    std::fs::remove_file(mine.join("tile/entries/001.p/44")).unwrap();
    publish(&w, &mine);
    w.ok(&verify_args(&vkey, &w.path_str("st"), &[&s(&mine)]));
}

/// `mirror LOCATION --ledger-key VKEY --state STATE` into the ledger `mirror`.
fn mirror_with_state<'a>(mirror: &'a str, location: &'a str, vkey: &'a str, state: &'a str) -> Vec<&'a str> {
    let mut a = mirror_args(mirror, location, vkey);
    a.extend(["--state", state]);
    a
}

/// Review 13, F4: `mirror` ignored the remembered checkpoints: after `verify` remembered one
/// tree, a host could feed a new mirror a fork of the same size or an older tree, and mirror
/// committed it (exit 0), remembering nothing. Now mirror checks and remembers exactly as
/// `verify URL|DIR` does (a smaller published log is a rollback, the same size with another
/// root a fork, exit 1, evidence kept), before anything is committed to the mirror.
#[test]
fn mirror_checks_and_remembers_checkpoints_as_verify_does() {
    let (w, vkey, key) = ledger_of(300);
    let older = w.path("older");
    publish(&w, &older);
    let forked = copy_ledger(&w, "fork");
    append_attestations(&w, &key, 2, "main");
    append_attestations_to(&w, &forked, &key, 2, "fork");
    let main = w.path("main");
    publish(&w, &main);
    let fork = w.path("forkpub");
    w.ok(&["--ledger", &s(&forked), "publish", &s(&fork)]);
    let state = w.path_str("st");
    w.ok(&verify_args(&vkey, &state, &[&s(&main)]));
    let remembered = files(&w.path("st"));
    // The fork, into a new mirror: a FORK, kept as evidence, no mirror made.
    let m = w.path_str("m");
    let e = w.fails(1, &mirror_with_state(&m, &s(&fork), &vkey, &state));
    assert!(e.contains("FORK") && e.contains("the mirror is unchanged"), "{e}");
    assert_eq!(common::fork_evidence(&w.path("st")), 2, "{e}");
    assert!(
        !w.path("m").join(accord::store::DB_FILE).exists(),
        "a mirror was made"
    );
    // The older tree: a ROLLBACK.
    let e = w.fails(1, &mirror_with_state(&m, &s(&older), &vkey, &state));
    assert!(e.contains("ROLLBACK") && e.contains("302"), "{e}");
    assert!(
        !w.path("m").join(accord::store::DB_FILE).exists(),
        "a mirror was made"
    );
    let checkpoint_files = |d: &BTreeMap<String, Vec<u8>>| -> Vec<(String, Vec<u8>)> {
        d.iter()
            .filter(|(k, _)| k.starts_with("checkpoint-"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(
        checkpoint_files(&files(&w.path("st"))),
        checkpoint_files(&remembered),
        "the remembered checkpoint changed"
    );
    // The genuine log: mirrored, the same checkpoint as verified.
    let out = w.ok(&mirror_with_state(&m, &s(&main), &vkey, &state));
    assert!(
        out.contains("now 302 entries") && out.contains("same checkpoint as last verified"),
        "{out}"
    );
    // A fresh state: the mirror remembers what it verified, and verify then knows it.
    let fresh = w.path_str("fresh");
    let m2 = w.path_str("m2");
    let out = w.ok(&mirror_with_state(&m2, &s(&older), &vkey, &fresh));
    assert!(out.contains("first checkpoint remembered"), "{out}");
    let out = w.ok(&mirror_with_state(&m2, &s(&main), &vkey, &fresh));
    assert!(
        out.contains("consistent with the checkpoint of size 300"),
        "{out}"
    );
    let e = w.fails(1, &verify_args(&vkey, &fresh, &[&s(&older)]));
    assert!(e.contains("ROLLBACK"), "{e}");
    // The default state directory is the one verify uses.
    let m3 = w.path_str("m3");
    w.ok(&mirror_args(&m3, &s(&main), &vkey));
    let e = w.fails(1, &["verify", &s(&fork), "--ledger-key", &vkey]);
    assert!(e.contains("FORK"), "{e}");
}

/// Review 13, F11: mirror's messages spoke of "the export", and a mirror directory that could
/// not take the log (a custodian's ledger, a mirror of another key) printed "verification
/// FAILED" but exited 2. The published log is named as such, and a refusal of the mirror
/// directory says that it cannot mirror there (exit 2), not that the log failed.
#[test]
fn mirror_messages_name_the_published_log_and_agree_with_the_exit_code() {
    let (w, vkey, key) = ledger_of(3);
    let early = w.path("early");
    publish(&w, &early);
    append_attestations(&w, &key, 2, "more");
    let dest = w.path("pub");
    publish(&w, &dest);
    let m = w.path_str("m");
    w.ok(&mirror_with_state(&m, &s(&dest), &vkey, &w.path_str("st1")));
    let e = w.fails(1, &mirror_with_state(&m, &s(&early), &vkey, &w.path_str("st2")));
    assert!(
        e.contains("ROLLBACK: the published log holds 3 entries but the mirror already has 5"),
        "{e}"
    );
    assert!(!e.contains("export"), "{e}");
    // Into the custodian's own ledger.
    let e = w.fails(
        2,
        &mirror_with_state(&s(&w.ledger()), &s(&dest), &vkey, &w.path_str("st3")),
    );
    assert!(
        e.contains("cannot mirror") && e.contains("a custodian's ledger"),
        "{e}"
    );
    assert!(!e.contains("FAILED"), "{e}");
    // Into a mirror of another ledger.
    let other = World::new();
    let other_key = other.init();
    let theirs = other.path("pub");
    other.ok(&["publish", &s(&theirs)]);
    let e = w.fails(
        2,
        &mirror_with_state(&m, &s(&theirs), &other_key, &w.path_str("st4")),
    );
    assert!(
        e.contains("cannot mirror") && e.contains("made with another ledger key") && !e.contains("FAILED"),
        "{e}"
    );
}

/// Review 13, F8: when a partial tile was missing, the verifier read the full tile instead and
/// used its first W items, never looking at the rest: a host could serve full tiles with a
/// forged tail and "every entry bundle ... verified". A published log serves the partial
/// tiles of its checkpoint, and accord reads nothing else: a missing one is exit 2, naming it.
#[test]
fn a_missing_partial_tile_is_not_read_from_the_full_tile() {
    let t = Tampered::new();
    // 600 entries: bundle 2 is partial (88). Replace the partial files with full ones whose
    // first 88 items are genuine and the rest forged.
    let all = entries(&t.w);
    let mut forged: Vec<Vec<u8>> = all[512..600].to_vec();
    forged.extend((0..168).map(|i| format!("FORGED {i}").into_bytes()));
    let bundle: Vec<u8> = forged
        .iter()
        .flat_map(|e| [(e.len() as u16).to_be_bytes().to_vec(), e.clone()].concat())
        .collect();
    let hashes: Vec<u8> = forged.iter().flat_map(|e| leaf(e)).collect();
    for (partial, full, bytes) in [
        ("tile/entries/002.p/88", "tile/entries/002", &bundle),
        ("tile/0/002.p/88", "tile/0/002", &hashes),
    ] {
        std::fs::remove_file(t.dest.join(partial)).unwrap();
        std::fs::write(t.dest.join(full), bytes).unwrap();
    }
    t.expect(
        2,
        &[
            "tile/entries/002.p/88",
            "not found",
            "does not read the full tile",
        ],
    );
    t.restore();
}

/// Review 13, F10: a FIFO planted in a published directory (as a bundle or the checkpoint)
/// made `verify DIR` and `mirror DIR` wait for ever. Files are opened without blocking and
/// read only if they are regular files (nor through a symbolic link): exit 2, at once.
#[cfg(unix)]
#[test]
fn a_fifo_or_symlink_in_a_published_directory_is_refused_at_once() {
    let t = Tampered::new();
    for path in ["tile/entries/001", "checkpoint"] {
        let f = t.dest.join(path);
        std::fs::remove_file(&f).unwrap();
        let ok = std::process::Command::new("mkfifo")
            .arg(&f)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo");
        let started = std::time::Instant::now();
        let state = t.w.path_str("fifo-state");
        for args in [
            verify_args(&t.vkey, &state, &[&s(&t.dest)]),
            mirror_args(&t.w.path_str("fifo-mirror"), t.dest.to_str().unwrap(), &t.vkey),
        ] {
            let o =
                t.w.cmd()
                    .args(&args)
                    .timeout(std::time::Duration::from_secs(30))
                    .output()
                    .unwrap();
            let e = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
            assert!(e.contains(path) && e.contains("not a regular file"), "{e}");
        }
        assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
        t.restore();
    }
    // A symbolic link where a file should be: not followed.
    let f = t.dest.join("tile/0/000");
    let outside = t.w.path("outside-tile");
    std::fs::rename(&f, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &f).unwrap();
    t.expect(2, &["tile/0/000", "symbolic link"]);
    t.restore();
}
