//! Issue 16: `accord witness` through the real binary: every status code of C2SP tlog-witness
//! (main text of 2026-07-06) in the spec's order, malformed and hostile requests, split views,
//! SIGKILL under load never leading to two inconsistent checkpoints of one log cosigned, and
//! cosignatures that verify with accord's own cosignature verifier.

mod common;
mod publog;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord::checkpoint::{Checkpoint, LedgerKey, Origin};
use accord::cosignature::CosignerVerifier;
use accord::merkle::{consistency_proof, leaf_hash, stored_hashes, tree_root, Hash};
use accord::witness::AddCheckpoint;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{s, xorshift, World};
use publog::{connect, read_response, Resp};

/// The stored hashes of a tree of `n` leaves; another `salt` gives another history.
fn tree(n: u64, salt: &str) -> Vec<Hash> {
    stored_hashes((0..n).map(|i| leaf_hash(format!("{salt}{i}").as_bytes())))
}

/// Two histories that agree on their first `common` leaves.
fn fork(n: u64, common: u64) -> Vec<Hash> {
    stored_hashes((0..n).map(|i| {
        let leaf = if i < common {
            format!("a{i}")
        } else {
            format!("b{i}")
        };
        leaf_hash(leaf.as_bytes())
    }))
}

fn checkpoint(lk: &LedgerKey, t: &[Hash], size: u64) -> (Vec<u8>, Vec<u8>) {
    let cp = Checkpoint {
        origin: lk.origin().clone(),
        size,
        root: tree_root(size, &t.to_vec()).unwrap(),
    };
    (cp.to_text().into_bytes(), lk.sign(&cp).unwrap().note)
}

/// The request body for `old` → `size` of tree `t` signed by `lk`.
fn request(lk: &LedgerKey, t: &[Hash], old: u64, size: u64) -> Vec<u8> {
    let proof = if old == 0 || old >= size {
        vec![]
    } else {
        consistency_proof(old, size, &t.to_vec()).unwrap()
    };
    AddCheckpoint {
        old,
        proof,
        note: checkpoint(lk, t, size).1,
    }
    .to_bytes()
}

/// `accord witness serve` with its state in the world's `wstate`, on any port.
struct Witnessd;

impl Witnessd {
    fn start(w: &World, key: &str, logs: &[String], extra: &[&str]) -> publog::Witnessd {
        publog::Witnessd::start(w, key, &w.path("wstate"), logs, "127.0.0.1:0", extra)
    }
}

fn post(addr: SocketAddr, body: &[u8]) -> Resp {
    try_post(addr, body).expect("no answer")
}

fn try_post(addr: SocketAddr, body: &[u8]) -> Option<Resp> {
    let mut c = std::net::TcpStream::connect(addr).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let head = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).ok()?;
    c.write_all(body).ok()?;
    read_response(&mut std::io::BufReader::new(c), false).ok()
}

/// A witness key made with the binary; (key file, vkey).
fn witness_key(w: &World, name: &str) -> (String, CosignerVerifier) {
    let file = w.path_str(&format!("{}.key", name.replace('/', "_")));
    let vkey = w.ok(&["witness", "key", "generate", "--name", name, "--out", &file]);
    let vkey = vkey.trim();
    assert!(vkey.split('+').nth(2).unwrap().starts_with('B'), "{vkey}");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    (file, CosignerVerifier::parse(vkey).unwrap())
}

fn log_key(origin: &str) -> LedgerKey {
    LedgerKey::generate(&Origin::new(origin).unwrap())
}

/// Checks that a 200's body is one cosignature line by `v` over the checkpoint `size` of `t`,
/// with accord's own verifier.
fn cosigned(r: &Resp, v: &CosignerVerifier, lk: &LedgerKey, t: &[Hash], size: u64) {
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert_eq!(text.lines().count(), 1);
    let (body, note) = checkpoint(lk, t, size);
    let ts = v.verify_line(&body, &text).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(ts > 0 && ts <= now + 1 && ts + 120 > now);
    let mut full = note.clone();
    full.extend_from_slice(text.as_bytes());
    assert_eq!(v.verify_note(&full).unwrap(), ts);
}

#[test]
fn every_status_code_in_the_specs_order() {
    let w = World::new();
    let (key, v) = witness_key(&w, "witness.example/w1");
    let lk = log_key("example.org/log");
    let lb = log_key("example.org/other");
    let logs = [lk.verifier_key().to_string(), lb.verifier_key().to_string()];
    let wd = Witnessd::start(&w, &key, &logs, &[]);
    let a = tree(40, "a");

    // 200: the first checkpoint, from old 0 without a proof.
    cosigned(&post(wd.addr, &request(&lk, &a, 0, 5)), &v, &lk, &a, 5);

    // 404: an origin not followed.
    let stranger = log_key("example.org/stranger");
    assert_eq!(post(wd.addr, &request(&stranger, &a, 5, 8)).status, 404);

    // 403: signed by another key of the same origin only; or a trusted key's line that fails.
    let impostor = log_key("example.org/log");
    assert_eq!(post(wd.addr, &request(&impostor, &a, 5, 8)).status, 403);
    let good = request(&lk, &a, 5, 8);
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 6] = if bad[n - 6] == b'A' { b'B' } else { b'A' };
    assert_eq!(post(wd.addr, &bad).status, 403);
    // A trusted line that verifies and another of the same key that does not: still 403.
    let mut two = good.clone();
    let (_, note) = checkpoint(&lk, &a, 8);
    let line = note.rsplit(|&b| b == b'\n').nth(1).unwrap().to_vec();
    let mut broken = line.clone();
    let m = broken.len();
    broken[m - 3] = if broken[m - 3] == b'A' { b'B' } else { b'A' };
    two.extend_from_slice(&broken);
    two.push(b'\n');
    assert_eq!(post(wd.addr, &two).status, 403);

    // 400: old above the checkpoint's size.
    assert_eq!(post(wd.addr, &request(&lk, &a, 9, 8)).status, 400);

    // 409: old is not the size cosigned (5), with the size in the body.
    let r = post(wd.addr, &request(&lk, &a, 3, 8));
    assert_eq!(r.status, 409);
    assert_eq!(r.header("content-type"), Some("text/x.tlog.size"));
    assert_eq!(r.text(), "5\n");
    // The bootstrap: old 0 asks the size.
    assert_eq!(post(wd.addr, &request(&lk, &a, 0, 8)).text(), "5\n");

    // 422: a proof that fails.
    let mut req = AddCheckpoint::parse(&good).unwrap();
    req.proof[0][0] ^= 1;
    assert_eq!(post(wd.addr, &req.to_bytes()).status, 422);
    // 422: a proof with old 0 (on a log never cosigned).
    let mut req = AddCheckpoint::parse(&request(&lb, &a, 0, 8)).unwrap();
    req.proof = vec![[0; 32]];
    assert_eq!(post(wd.addr, &req.to_bytes()).status, 422);
    // 422: a checkpoint of size 0 with another root than the empty tree's.
    let zero = lb
        .sign(&Checkpoint {
            origin: lb.origin().clone(),
            size: 0,
            root: [9; 32],
        })
        .unwrap();
    let req = AddCheckpoint {
        old: 0,
        proof: vec![],
        note: zero.note,
    };
    assert_eq!(post(wd.addr, &req.to_bytes()).status, 422);

    // 200: the extension with its proof; the same checkpoint again is cosigned again.
    cosigned(&post(wd.addr, &good), &v, &lk, &a, 8);
    cosigned(&post(wd.addr, &request(&lk, &a, 8, 8)), &v, &lk, &a, 8);

    // Nothing refused changed the state.
    let st: serde_json::Value =
        serde_json::from_str(&w.ok(&["witness", "status", "--state", &w.path_str("wstate"), "--json"]))
            .unwrap();
    let logs = st["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{st}");
    assert_eq!(logs[0]["origin"], "example.org/log");
    assert_eq!(logs[0]["size"], 8);
    assert_eq!(logs[0]["root"], STANDARD.encode(tree_root(8, &a).unwrap()));
    // The stored checkpoint carries the log's signature and the witness's cosignature.
    let stored = logs[0]["checkpoint"].as_str().unwrap();
    v.verify_note(stored.as_bytes()).unwrap();
    let text = w.ok(&["witness", "status", "--state", &w.path_str("wstate")]);
    assert!(text.contains("example.org/log  size 8"), "{text}");
}

#[test]
fn split_views_are_refused() {
    let w = World::new();
    let (key, v) = witness_key(&w, "witness.example/w2");
    let lk = log_key("example.org/log");
    let wd = Witnessd::start(&w, &key, &[lk.verifier_key().to_string()], &[]);
    let a = fork(30, 10);
    let b = fork(30, 12);
    cosigned(&post(wd.addr, &request(&lk, &a, 0, 15)), &v, &lk, &a, 15);
    // B of the same size with another root.
    let r = post(wd.addr, &request(&lk, &b, 15, 15));
    assert_eq!(r.status, 422, "{}", r.text());
    // An extension of B, with B's own (valid within B) proof from 15: not consistent with A.
    assert_eq!(post(wd.addr, &request(&lk, &b, 15, 25)).status, 422);
    // A checkpoint of B below the stored size is a 409 (old 10 is not 15), never a cosignature.
    assert_eq!(post(wd.addr, &request(&lk, &b, 10, 12)).status, 409);
    // A still extends.
    cosigned(&post(wd.addr, &request(&lk, &a, 15, 25)), &v, &lk, &a, 25);
}

#[test]
fn malformed_and_hostile_requests() {
    let w = World::new();
    let (key, _) = witness_key(&w, "witness.example/w3");
    let lk = log_key("example.org/log");
    let wd = Witnessd::start(
        &w,
        &key,
        &[lk.verifier_key().to_string()],
        &["--request-timeout", "2"],
    );
    let a = tree(100, "a");
    assert_eq!(post(wd.addr, &request(&lk, &a, 0, 50)).status, 200);
    let good = request(&lk, &a, 50, 90);
    let (_, note) = checkpoint(&lk, &a, 90);
    let h = format!("{}\n", STANDARD.encode([7u8; 32]));
    let with = |head: &str| {
        let mut b = head.as_bytes().to_vec();
        b.extend_from_slice(&note);
        b
    };
    // A bad old line: leading zero, negative, missing, a second space.
    for head in [
        "old 050\n\n",
        "old -1\n\n",
        "\n",
        "old  50\n\n",
        "old 50 \n\n",
        "OLD 50\n\n",
    ] {
        assert_eq!(post(wd.addr, &with(head)).status, 400, "{head:?}");
    }
    // 64 proof lines.
    assert_eq!(
        post(wd.addr, &with(&format!("old 50\n{}\n", h.repeat(64)))).status,
        400
    );
    // A truncated proof line, a proof line of 31 bytes, no blank line at all.
    let cut = &h[..20];
    assert_eq!(post(wd.addr, &with(&format!("old 50\n{cut}\n\n"))).status, 400);
    let short = format!("{}\n", STANDARD.encode([7u8; 31]));
    assert_eq!(post(wd.addr, &with(&format!("old 50\n{short}\n"))).status, 400);
    assert_eq!(post(wd.addr, format!("old 50\n{cut}").as_bytes()).status, 400);
    // A note with no signature at all, and one signed by nobody trusted.
    let mut unsigned = b"old 50\n\n".to_vec();
    unsigned.extend_from_slice(checkpoint(&lk, &a, 90).0.as_slice());
    assert_eq!(
        post(wd.addr, &unsigned).status,
        403,
        "no signature line: not signed by a trusted key"
    );
    let nobody = log_key("example.org/log");
    assert_eq!(post(wd.addr, &request(&nobody, &a, 50, 90)).status, 403);
    // An oversized body: refused, from its Content-Length.
    let big = vec![b'a'; 64 * 1024];
    assert_eq!(post(wd.addr, &big).status, 413);
    // A body that never ends: the connection is answered (408) or closed within the request
    // time, and the witness keeps serving.
    let mut c = connect(wd.addr);
    c.write_all(b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: 5000\r\n\r\nold 50\n")
        .unwrap();
    let t = std::time::Instant::now();
    let r = read_response(&mut std::io::BufReader::new(c), false);
    assert!(t.elapsed() < Duration::from_secs(8), "held for {:?}", t.elapsed());
    if let Ok(r) = r {
        assert_eq!(r.status, 408);
    }
    // Another method, another path.
    let mut c = connect(wd.addr);
    c.write_all(b"GET /add-checkpoint HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_response(&mut std::io::BufReader::new(c), false)
            .unwrap()
            .status,
        405
    );
    // After all that, the good request still works.
    assert_eq!(post(wd.addr, &good).status, 200);
}

#[test]
fn a_witness_with_a_bad_key_or_log_does_not_start() {
    let w = World::new();
    let lk = log_key("example.org/log");
    let (key, v) = witness_key(&w, "witness.example/w4");
    // A cosignature vkey is not a log key.
    let e = w.fails(
        2,
        &[
            "witness",
            "serve",
            "--key",
            &key,
            "--log",
            &v.to_string(),
            "--state",
            &w.path_str("s"),
        ],
    );
    assert!(e.contains("--log"), "{e}");
    // A ledger's secret key cannot cosign.
    let lkfile = w.path("ledger.key");
    std::fs::write(&lkfile, lk.to_skey().as_bytes()).unwrap();
    std::fs::set_permissions(&lkfile, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let e = w.fails(
        2,
        &[
            "witness",
            "serve",
            "--key",
            &s(&lkfile),
            "--log",
            &lk.verifier_key().to_string(),
            "--state",
            &w.path_str("s"),
        ],
    );
    assert!(e.contains("witness key"), "{e}");
    // The key file is never overwritten.
    w.fails(2, &["witness", "key", "generate", "--name", "x", "--out", &key]);
    // No state yet: status says so.
    w.fails(2, &["witness", "status", "--state", &w.path_str("nothing")]);
}

/// Review 16: a witness whose state went missing (renamed away by another user, a typo, an
/// unmounted volume) must not start afresh and cosign a second history; its state may not sit
/// where another user can rename it, nor be a link to elsewhere.
#[test]
fn a_witness_never_starts_afresh_or_from_a_state_others_control() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new();
    let lk = log_key("example.org/log");
    let (key, _) = witness_key(&w, "witness.example/w5");
    let logv = lk.verifier_key().to_string();
    let serve = |state: &str, init: bool| {
        let mut a = vec![
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--key",
            &key,
            "--log",
            &logv,
            "--state",
            state,
        ];
        if init {
            a.push("--init");
        }
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |v: Vec<String>| w.fails(2, &v.iter().map(String::as_str).collect::<Vec<_>>());
    // No state and no --init: refused, and --init is named.
    let e = run(serve(&w.path_str("missing"), false));
    assert!(e.contains("no witness state") && e.contains("--init"), "{e}");
    assert!(
        !w.path("missing").exists(),
        "nothing may be created without --init"
    );
    // A state made once: --init again is refused.
    let wd = Witnessd::start(&w, &key, std::slice::from_ref(&logv), &[]);
    drop(wd);
    let e = run(serve(&w.path_str("wstate"), true));
    assert!(e.contains("already"), "{e}");
    // A state inside a directory anyone can write (no sticky bit): refused.
    let open = w.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = run(serve(&format!("{}/state", open.display()), true));
    assert!(e.contains("anyone can write"), "{e}");
    assert!(!open.join("state").exists());
    let e = w.fails(
        2,
        &[
            "witness",
            "status",
            "--state",
            &format!("{}/state", open.display()),
        ],
    );
    assert!(e.contains("anyone can write"), "{e}");
    // Its database a symbolic link to a file elsewhere: refused, the target untouched.
    let linked = w.path("linked");
    std::fs::create_dir(&linked).unwrap();
    std::fs::set_permissions(&linked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let target = w.path("elsewhere.redb");
    std::os::unix::fs::symlink(&target, linked.join("witness.redb")).unwrap();
    let e = run(serve(&w.path_str("linked"), false));
    assert!(e.contains("symbolic link"), "{e}");
    assert!(!target.exists(), "a link must never be followed");
    // A database file others can write: refused.
    std::fs::set_permissions(
        w.path("wstate").join("witness.redb"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let e = run(serve(&w.path_str("wstate"), false));
    assert!(e.contains("writable by other users"), "{e}");
}

/// SIGKILL while clients push two forks of one log: whatever was answered 200 before each kill,
/// the cosigned checkpoints of the log are all consistent with one another (one history).
#[test]
fn a_witness_killed_under_load_never_cosigns_two_histories() {
    let w = World::new();
    let (key, v) = witness_key(&w, "witness.example/crash");
    let lk = Arc::new(log_key("example.org/log"));
    let logs = [lk.verifier_key().to_string()];
    let common = 8u64;
    let n = 400u64;
    let a = Arc::new(fork(n, common));
    let b = Arc::new(fork(n, common + 1));
    // (history, size) of every 200.
    let cosigned: Arc<Mutex<Vec<(u8, u64, String)>>> = Arc::default();
    let mut seed = 0x00de_c0de_u64;
    let rounds = 6;
    let mut size_seen = 0;
    for round in 0..rounds {
        let mut wd = Witnessd::start(&w, &key, &logs, &[]);
        let addr = wd.addr;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads: Vec<_> = (0..6u8)
            .map(|t| {
                let (lk, tree, out, stop) = (
                    Arc::clone(&lk),
                    Arc::clone(if t % 2 == 0 { &a } else { &b }),
                    Arc::clone(&cosigned),
                    Arc::clone(&stop),
                );
                let mut rng = seed ^ u64::from(t) ^ (round << 8);
                std::thread::spawn(move || {
                    let mut old = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let size = (old + 1 + xorshift(&mut rng) % 3).min(n);
                        let Some(r) = try_post(addr, &request(&lk, &tree, old, size)) else {
                            break;
                        };
                        match r.status {
                            200 => {
                                out.lock().unwrap().push((t % 2, size, r.text()));
                                old = size;
                            }
                            409 => old = r.text().trim().parse().unwrap(),
                            // The other history got there first: start over from what it says.
                            422 => old = 0,
                            s => panic!("unexpected status {s}: {}", r.text()),
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + xorshift(&mut seed) % 300));
        wd.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        // What the state says after the kill is one of the cosigned checkpoints, or a newer
        // one whose answer the kill cut off; never smaller than an answered one.
        let st: serde_json::Value =
            serde_json::from_str(&w.ok(&["witness", "status", "--state", &w.path_str("wstate"), "--json"]))
                .unwrap();
        if let Some(l) = st["logs"].as_array().unwrap().first() {
            let size = l["size"].as_u64().unwrap();
            let answered = cosigned.lock().unwrap().iter().map(|c| c.1).max().unwrap_or(0);
            assert!(
                size >= answered,
                "round {round}: state {size} below answered {answered}"
            );
            size_seen = size;
        }
    }
    let all = cosigned.lock().unwrap();
    assert!(
        all.len() > 10,
        "only {} cosignatures: the test tested nothing",
        all.len()
    );
    assert!(size_seen > 0);
    // One history: beyond the common prefix, only one fork was ever cosigned.
    let forks: std::collections::BTreeSet<u8> = all.iter().filter(|c| c.1 > common).map(|c| c.0).collect();
    assert!(forks.len() <= 1, "both histories cosigned: {forks:?}");
    for (h, size, line) in all.iter() {
        let t = if *h == 0 { &a } else { &b };
        let (body, _) = checkpoint(&lk, t, *size);
        v.verify_line(&body, line).unwrap();
    }
    eprintln!("{} cosignatures over {rounds} kills", all.len());
}
