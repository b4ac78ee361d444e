//! Issue 14: `accord publish s3://BUCKET/PREFIX` against a real S3 server (moto in server mode,
//! on loopback, reached over HTTP; `tests/moto/`): the objects are the tiles of the spec with
//! their Content-Type and Cache-Control, `accord verify URL` reads them back, an incremental
//! publication PUTs only what is new, the refusals of a directory hold for a bucket, a killed
//! publication leaves the old or the new state, racing publications cannot roll the checkpoint
//! back (conditional PUT), a missing bucket, wrong credentials or a server that is down
//! exit 2 with a message that says so, and `serve --writable --publish s3://...` publishes to the
//! bucket after its commits. Without moto_server each test says SKIPPED and passes, unless
//! ACCORD_REQUIRE_ALL=1.

mod common;
mod moto;
mod publog;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use accord::publish::{FileKind, PublishError, Target};
use common::{s, verify_args, Out, World};
use moto::Moto;
use publog::*;

const BUCKET: &str = "pledges";

/// accord in `w`, with the environment that reaches `moto` and `extra` on top.
fn accord(w: &World, moto: &Moto, extra: &[(&str, &str)]) -> std::process::Command {
    let mut c = w.std_cmd();
    for (k, v) in moto.env() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    for (k, v) in extra {
        c.env(k, v);
    }
    c
}

/// Runs accord with `args` (see [`accord`]); no panic, and never the secret key in its output.
fn run(w: &World, moto: &Moto, extra: &[(&str, &str)], args: &[&str]) -> Out {
    let o = accord(w, moto, extra).args(args).output().unwrap();
    let out = Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(!out.stderr.contains("panicked"), "panic: {}", out.stderr);
    assert!(
        !out.stdout.contains(moto::SECRET) && !out.stderr.contains(moto::SECRET),
        "the secret key was printed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    out
}

/// `publish s3://BUCKET/PREFIX --s3-acl public-read --json` of the ledger at `ledger` (the
/// world's when None), which must succeed; its report.
fn publish(w: &World, moto: &Moto, ledger: Option<&Path>, prefix: &str) -> serde_json::Value {
    let dest = format!("s3://{BUCKET}/{prefix}");
    let ledger = s(ledger.unwrap_or(&w.ledger()));
    let args = [
        "--ledger",
        &ledger,
        "publish",
        &dest,
        "--s3-acl",
        "public-read",
        "--json",
    ];
    let o = run(w, moto, &[], &args);
    assert_eq!(o.code, 0, "publish {dest}:\n{}\n{}", o.stdout, o.stderr);
    serde_json::from_str(&o.stdout).unwrap()
}

/// Runs and requires exit `code` and an error line; returns stderr.
fn fails(w: &World, moto: &Moto, code: i32, extra: &[(&str, &str)], args: &[&str]) -> String {
    let o = run(w, moto, extra, args);
    assert_eq!(o.code, code, "accord {args:?}:\n{}\n{}", o.stdout, o.stderr);
    assert!(o.stderr.starts_with("error: "), "{}", o.stderr);
    o.stderr
}

/// A copy of the ledger directory `from` at `name` in the world (same key and origin, free to
/// grow apart).
fn copy_ledger(w: &World, from: &Path, name: &str) -> PathBuf {
    let to = w.path(name);
    let ok = std::process::Command::new("cp")
        .args(["-r", &s(from), &s(&to)])
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -r {} {name}", from.display());
    to
}

/// What a published prefix must hold for the sizes `published` (the last is the checkpoint's):
/// the tiles of each of those trees and nothing else, the start files, the checkpoint of the
/// last size.
fn check_published(w: &World, moto: &Moto, prefix: &str, published: &[usize]) {
    let all = entries(w);
    let mut want: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for &p in published {
        want.extend(expected_tiles(&all, p));
    }
    let got = moto.files(BUCKET, prefix);
    let tiles: BTreeMap<&String, &Vec<u8>> = got.iter().filter(|(k, _)| k.starts_with("tile/")).collect();
    assert_eq!(tiles, want.iter().collect(), "the tiles of {published:?}");
    // `.publishing/` holds the publisher's own record (the bundle lengths it wrote, so that the
    // next publication need not read every bundle back), not part of the log.
    let others: Vec<&String> = got
        .keys()
        .filter(|k| !k.starts_with("tile/") && !k.starts_with(".publishing/"))
        .collect();
    assert_eq!(others, ["accord/log.json", "accord/norms-v1.json", "checkpoint"]);
    assert_eq!(note_size(&got["checkpoint"]), *published.last().unwrap() as u64);
}

/// The keys below `prefix/` of the PUTs moto served from the `from`th on, in order.
fn puts_since(moto: &Moto, prefix: &str, from: usize) -> Vec<String> {
    let below = format!("/{BUCKET}/{prefix}/");
    moto.puts(BUCKET, prefix)[from..]
        .iter()
        .map(|r| {
            r.split_whitespace()
                .nth(1)
                .unwrap()
                .trim_start_matches(&below)
                .to_string()
        })
        // The publisher's own record, written after the checkpoint; not part of the log.
        .filter(|p| !p.starts_with(".publishing/"))
        .collect()
}

#[test]
fn publish_to_a_bucket_then_verify_it_over_http_and_publish_only_what_is_new() {
    let (w, vkey, key) = ledger_of(1);
    let Some(moto) = Moto::start(w.tmp.path(), false) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let r = publish(&w, &moto, None, "log");
    assert_eq!((r["from"].as_u64(), r["to"].as_u64()), (Some(0), Some(1)), "{r}");
    assert_eq!(r["target"], "s3://pledges/log");
    check_published(&w, &moto, "log", &[1]);
    // Every object carries the spec's Content-Type and Cache-Control (FORMAT.md 13.1).
    for path in [
        "checkpoint",
        "tile/0/000.p/1",
        "tile/entries/000.p/1",
        "accord/log.json",
        "accord/norms-v1.json",
    ] {
        let got = moto.get(BUCKET, &format!("log/{path}"));
        assert_eq!(got.status, 200, "{path}");
        let kind = FileKind::of(path);
        assert_eq!(got.header("content-type"), Some(kind.content_type()), "{path}");
        assert_eq!(got.header("cache-control"), Some(kind.cache_control()), "{path}");
    }
    // Across tile boundaries, as for a directory: each publication PUTs exactly the new tiles
    // and then the checkpoint (the start files are unchanged, so not rewritten), nothing else.
    let mut published = vec![1usize];
    for size in [255u64, 256, 257, 600] {
        let before = moto.list(BUCKET, "log");
        let puts = moto.puts(BUCKET, "log").len();
        let last = *published.last().unwrap() as u64;
        append_attestations(&w, &key, size - last, &format!("to {size}"));
        let r = publish(&w, &moto, None, "log");
        assert_eq!(r["to"].as_u64(), Some(size), "{r}");
        let mut want: Vec<String> = expected_tiles(&entries(&w), size as usize)
            .into_keys()
            .filter(|k| !before.contains_key(k))
            .collect();
        want.push("checkpoint".into());
        let sent = puts_since(&moto, "log", puts);
        assert_eq!(
            sent.last().map(String::as_str),
            Some("checkpoint"),
            "the checkpoint last"
        );
        let mut sorted = sent.clone();
        sorted.sort();
        want.sort();
        assert_eq!(sorted, want, "size {size}: the PUTs");
        assert_eq!(r["files"].as_u64(), Some(want.len() as u64), "{r}");
        published.push(size as usize);
        check_published(&w, &moto, "log", &published);
    }
    // Nothing new: no PUT at all.
    let puts = moto.puts(BUCKET, "log").len();
    let r = publish(&w, &moto, None, "log");
    assert_eq!(r["files"].as_u64(), Some(0), "{r}");
    assert_eq!(puts_since(&moto, "log", puts), Vec::<String>::new());
    // Anyone verifies it over HTTP with the ledger key alone.
    let url = moto.url(BUCKET, "log");
    let out = w.ok(&verify_args(&vkey, &w.path_str("st"), &[&url]));
    assert!(out.contains("OK") && out.contains("600 entries"), "{out}");
    // The report for people names the bucket and how to check it.
    append_attestations(&w, &key, 1, "one more");
    let o = run(&w, &moto, &[], &["publish", "s3://pledges/log/"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("published the ledger to s3://pledges/log up to size 601 (was 600)"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("accord verify https://"), "{}", o.stdout);
    // Without --s3-acl no ACL is sent: what it wrote stays private (anonymous GET refused).
    assert_eq!(moto.get(BUCKET, "log/checkpoint").status, 403);
    assert_eq!(moto.get(BUCKET, "log/tile/0/002.p/89").status, 403);
    assert_eq!(
        moto.get(BUCKET, "log/tile/0/002.p/88").status,
        200,
        "public-read before"
    );
    // ACCORD_S3_ACL is --s3-acl.
    append_attestations(&w, &key, 1, "and another");
    let acl = [("ACCORD_S3_ACL", "public-read")];
    let o = run(&w, &moto, &acl, &["publish", "s3://pledges/log"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(moto.get(BUCKET, "log/checkpoint").status, 200);
}

#[test]
fn publish_refuses_a_bucket_of_another_log_a_fork_or_a_ledger_behind_and_leaves_it_alone() {
    let (w, _, key) = ledger_of(3);
    let Some(moto) = Moto::start(w.tmp.path(), false) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let forked = copy_ledger(&w, &w.ledger(), "fork");
    let behind = copy_ledger(&w, &w.ledger(), "behind");
    append_attestations(&w, &key, 2, "main");
    append_attestations_to(&w, &forked, &key, 3, "fork");
    publish(&w, &moto, None, "log");
    let held = moto.list(BUCKET, "log");
    let puts = moto.puts(BUCKET, "log").len();
    let untouched = |what: &str, puts: usize| {
        assert_eq!(moto.list(BUCKET, "log"), held, "{what}: the objects changed");
        assert_eq!(puts_since(&moto, "log", puts), Vec::<String>::new(), "{what}");
    };
    let dest = "s3://pledges/log";
    let e = fails(&w, &moto, 1, &[], &["--ledger", &s(&forked), "publish", dest]);
    assert!(e.contains("FORK") && e.contains("size 5"), "{e}");
    untouched("a fork", puts);
    let e = fails(&w, &moto, 1, &[], &["--ledger", &s(&behind), "publish", dest]);
    assert!(e.contains("size 5") && e.contains("does not extend"), "{e}");
    untouched("a ledger behind", puts);
    let other = World::new();
    other.ok(&["init", "--origin", "other.example/ledger"]);
    let e = fails(&other, &moto, 1, &[], &["publish", dest]);
    assert!(e.contains("another log"), "{e}");
    untouched("another ledger", puts);
    // A checkpoint altered in the bucket: not this ledger's either, and kept as evidence.
    let good = moto.get(BUCKET, "log/checkpoint").body;
    let mut bad = good.clone();
    let at = bad.len() - 10;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let put = moto.request(
        "PUT",
        "/pledges/log/checkpoint",
        &["x-amz-acl: public-read"],
        &bad,
    );
    assert_eq!(put.status, 200);
    let puts = moto.puts(BUCKET, "log").len();
    let e = fails(&w, &moto, 1, &[], &["publish", dest]);
    assert!(e.contains("another log"), "{e}");
    assert_eq!(
        moto.get(BUCKET, "log/checkpoint").body,
        bad,
        "the evidence is kept"
    );
    assert_eq!(puts_since(&moto, "log", puts), Vec::<String>::new());
}

/// A target that lets another publication run to its end right after this one has read the
/// checkpoint: the race that would roll the checkpoint back without the conditional PUT.
struct Overtaken<'a> {
    inner: Box<dyn Target>,
    overtake: Box<dyn Fn() + 'a>,
}

impl Target for Overtaken<'_> {
    fn label(&self) -> String {
        self.inner.label()
    }
    fn begin(&self) -> Result<(), PublishError> {
        self.inner.begin()
    }
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, PublishError> {
        let got = self.inner.get(path, max);
        if path == "checkpoint" {
            (self.overtake)();
        }
        got
    }
    fn size(&self, path: &str) -> Result<Option<u64>, PublishError> {
        self.inner.size(path)
    }
    fn list(&self, under: &str) -> Result<Vec<String>, PublishError> {
        self.inner.list(under)
    }
    fn put(&self, path: &str, bytes: &[u8], kind: FileKind) -> Result<(), PublishError> {
        self.inner.put(path, bytes, kind)
    }
    fn sync(&self) -> Result<(), PublishError> {
        self.inner.sync()
    }
}

#[test]
fn racing_publications_cannot_roll_the_checkpoint_back() {
    let (w, _, key) = ledger_of(100);
    let Some(moto) = Moto::start(w.tmp.path(), false) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let base = copy_ledger(&w, &w.ledger(), "base");
    append_attestations(&w, &key, 200, "small");
    let small = copy_ledger(&w, &w.ledger(), "small");
    append_attestations(&w, &key, 900, "more");
    let conn = accord::bucket::Connection::from_lookup(moto.lookup()).unwrap();
    let small_ledger = accord::ledger::Ledger::open_read_only(&small).unwrap();
    // The small ledger (300) reads the checkpoint, then the whole one (1200) publishes, then
    // the small one would replace 1200 by 300: refused (Busy, exit 2 in the CLI), 1200 stays.
    // Once over a checkpoint of 100 (If-Match) and once on an empty prefix (If-None-Match: *).
    for (prefix, there) in [("a", true), ("b", false)] {
        if there {
            publish(&w, &moto, Some(&base), prefix);
        }
        let url = accord::bucket::BucketUrl::parse(&format!("s3://{BUCKET}/{prefix}")).unwrap();
        let inner = accord::bucket::BucketTarget::new(url, &conn, &Default::default()).unwrap();
        let target = Overtaken {
            inner: Box::new(inner),
            overtake: Box::new(|| {
                publish(&w, &moto, None, prefix);
            }),
        };
        let e = accord::publish::publish(&small_ledger, &target, Default::default(), None).unwrap_err();
        assert!(matches!(e, PublishError::Busy { .. }), "{prefix}: {e}");
        assert!(e.to_string().contains("nothing was rolled back"), "{e}");
        let cp = moto.get(BUCKET, &format!("{prefix}/checkpoint")).body;
        assert_eq!(note_size(&cp), 1200, "{prefix}");
    }
    drop(small_ledger);
    // Two processes at once, a few rounds: whatever the order, the checkpoint ends at the
    // size of a publication that succeeded, and the larger whenever it succeeded.
    let mut busy = 0;
    for round in 0..5 {
        let prefix = format!("r{round}");
        publish(&w, &moto, Some(&base), &prefix);
        let dest = format!("s3://{BUCKET}/{prefix}");
        let spawn = |ledger: &Path| {
            accord(&w, &moto, &[])
                .args([
                    "--ledger",
                    &s(ledger),
                    "publish",
                    &dest,
                    "--s3-acl",
                    "public-read",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(&small), spawn(&w.ledger()));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let size = note_size(&moto.get(BUCKET, &format!("{prefix}/checkpoint")).body);
        for o in [&a, &b] {
            let e = String::from_utf8_lossy(&o.stderr);
            match o.status.code() {
                Some(0) => {}
                Some(2) => {
                    assert!(e.contains("another accord publish"), "{e}");
                    busy += 1;
                }
                other => panic!("exit {other:?}: {e}"),
            }
        }
        if b.status.success() {
            assert_eq!(size, 1200, "round {round}");
        }
        assert!(size == 1200 || size == 300, "round {round}: {size}");
    }
    eprintln!("5 rounds of two racing publications, {busy} refused by the conditional checkpoint");
}

/// SIGKILL at random moments (`common::KillMoments`, as tests/sigkill.rs and the directory's
/// test in tests/public_log.rs) while `publish` takes a bucket from an old published state to a
/// new one: after every kill the checkpoint is the old or the new one and every tile of its
/// tree is there with the right bytes (and `accord verify URL` agrees); a rerun finishes.
#[cfg(unix)]
#[test]
fn publish_to_a_bucket_killed_at_any_moment_leaves_the_old_or_the_new_state_and_a_rerun_finishes() {
    let kills: usize = std::env::var("ACCORD_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let (old, new) = (300usize, 2600usize);
    let (w, vkey, key) = ledger_of(old as u64);
    let Some(moto) = Moto::start(w.tmp.path(), false) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let old_ledger = copy_ledger(&w, &w.ledger(), "old");
    append_attestations(&w, &key, (new - old) as u64, "new");
    let all = entries(&w);
    // Each run from the old state starts on a new prefix holding the old publication.
    let mut fresh = 0;
    let mut restore = || {
        fresh += 1;
        let prefix = format!("p{fresh}");
        publish(&w, &moto, Some(&old_ledger), &prefix);
        prefix
    };
    let mut prefix = restore();
    let t0 = Instant::now();
    publish(&w, &moto, None, &prefix);
    let baseline = (t0.elapsed().as_micros() as u64).max(1_000);
    prefix = restore();
    let mut moments = common::KillMoments::new(baseline, 0x2545_f491_4f6c_dd1d);
    let (mut killed, mut finished, mut attempts, mut midway) = (0, 0, 0, 0);
    while killed < kills && attempts < 4 * kills {
        attempts += 1;
        let mut child = accord(&w, &moto, &[])
            .args([
                "publish",
                &format!("s3://{BUCKET}/{prefix}"),
                "--s3-acl",
                "public-read",
            ])
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
        let got = moto.files(BUCKET, &prefix);
        let (size, mid) = check_killed_publication(&got, &all, (old, new), attempts);
        midway += usize::from(mid);
        let state = w.path_str(&format!("state-{attempts}"));
        let out = w.ok(&verify_args(&vkey, &state, &[&moto.url(BUCKET, &prefix)]));
        assert!(out.contains(&format!("{size} entries")), "{out}");
        if size == new {
            prefix = restore();
        }
    }
    assert!(
        killed >= kills,
        "only {killed} of {attempts} publications were still running when killed"
    );
    publish(&w, &moto, None, &prefix);
    check_published(&w, &moto, &prefix, &[old, new]);
    eprintln!(
        "attempts {attempts}, killed {killed} ({midway} with new tiles written but not the checkpoint), finished {finished}, baseline {baseline} us"
    );
}

#[test]
fn a_missing_bucket_wrong_credentials_or_a_server_down_exit_2_saying_so() {
    let (w, _, _) = ledger_of(3);
    let Some(moto) = Moto::start(w.tmp.path(), false) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let quick = |extra: &[(&str, &str)], args: &[&str], wants: &[&str]| {
        let t = Instant::now();
        let e = fails(&w, &moto, 2, extra, args);
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "took {:?}: {e}",
            t.elapsed()
        );
        for want in wants {
            assert!(e.contains(want), "{want:?} not in {e}");
        }
        assert!(
            !e.contains("<?xml"),
            "the store's XML is reduced to its code: {e}"
        );
    };
    let nobucket = [
        "s3://nosuchbucket/log",
        "the bucket does not exist",
        "NoSuchBucket",
    ];
    quick(&[], &["publish", nobucket[0]], &nobucket);
    // A server that is down: a port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = format!("http://{closed}");
    let env = [("AWS_ENDPOINT_URL", down.as_str())];
    quick(
        &env,
        &["publish", "s3://pledges/log"],
        &["could not be reached", &down],
    );
    // Wrong credentials: a second moto that checks them (it knows none).
    let strict = Moto::start(w.tmp.path(), true).unwrap();
    let endpoint = strict.endpoint();
    let env = [("AWS_ENDPOINT_URL", endpoint.as_str())];
    let wants = ["refused the credentials", "InvalidAccessKeyId"];
    quick(&env, &["publish", "s3://pledges/log"], &wants);
    // Refused before any request: missing credentials, an endpoint that would carry them in
    // clear text, a URL accord does not publish to, names S3 or accord would refuse.
    let o = accord(&w, &moto, &[])
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["publish", "s3://pledges/log"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("AWS_SECRET_ACCESS_KEY is not set"), "{e}");
    let env = [("AWS_ENDPOINT_URL", "http://s3.example.net")];
    quick(&env, &["publish", "s3://pledges/log"], &["unencrypted"]);
    quick(
        &[],
        &["publish", "gs://pledges/log"],
        &["gs:// is not a destination"],
    );
    quick(&[], &["publish", "s3://Pledges/log"], &["not a bucket name"]);
    quick(&[], &["publish", "s3://pledges/../x"], &["not a prefix"]);
    assert_eq!(
        moto.puts(BUCKET, "log"),
        Vec::<String>::new(),
        "nothing was written"
    );
}

/// Waits (bounded) until the checkpoint under `prefix` is of `size`.
fn wait_published(moto: &Moto, prefix: &str, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = moto.get(BUCKET, &format!("{prefix}/checkpoint"));
        let got = (r.status == 200).then(|| note_size(&r.body));
        if got == Some(size) {
            return;
        }
        assert!(Instant::now() < deadline, "published size {got:?}, not {size}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `accord serve --writable --publish s3://BUCKET/PREFIX`: the server publishes to the bucket
/// when it starts and after its commits, through the same target as `accord publish`; a
/// destination it cannot reach is refused before it listens.
#[test]
fn a_writing_server_publishes_to_a_bucket_after_its_commits() {
    let (w, vkey, key) = ledger_of(3);
    let Some(moto) = Moto::start(w.tmp.path(), false) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let dest = format!("s3://{BUCKET}/served");
    let args = ["--writable", "--publish", &dest, "--s3-acl", "public-read"];
    let srv = Served::start_with(accord(&w, &moto, &[]), &args);
    wait_published(&moto, "served", 3);
    let secret = common::sk(&key);
    for i in 0..4 {
        let body = common::signed(common::attestation(&format!("served {i}"), None), "acme", &secret);
        let body = body.bytes();
        let mut raw = format!(
            "POST /entries HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/cose\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        let r = exchange(srv.addr, &raw);
        assert_eq!(r.status, 201, "{}", r.text());
    }
    wait_published(&moto, "served", 7);
    let url = moto.url(BUCKET, "served");
    let out = w.ok(&verify_args(&vkey, &w.path_str("st-served"), &[&url]));
    assert!(out.contains("OK") && out.contains("7 entries"), "{out}");
    let said = srv.stderr.lock().unwrap().clone();
    assert!(!said.contains(moto::SECRET), "the secret key was printed: {said}");
    assert!(!said.contains("publishing failed"), "{said}");
    drop(srv);
    // Missing credentials: refused before the server starts.
    let o = accord(&w, &moto, &[])
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--writable",
            "--publish",
            &dest,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("AWS_SECRET_ACCESS_KEY is not set"), "{e}");
    assert!(!e.contains("serving ledger"), "{e}");
}
