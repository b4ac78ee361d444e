//! Issue 16, the log's side: `accord publish --witness-policy` collecting cosignatures from real
//! `accord witness serve` processes (and from hostile fake ones), through the real binary.

mod common;
mod publog;

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use accord::checkpoint::{Checkpoint, LedgerKey, SignedCheckpoint, VerifierKey};
use accord::cosignature::CosignerVerifier;
use accord::merkle::{leaf_hash, stored_hashes, tree_root, Hash};
use accord::witness::AddCheckpoint;
use common::{acme_with_attestations, ledger_key_file, s, World};
use publog::Witnessd;
use serde_json::Value;

/// `accord witness serve` with key file `key`, state directory `state`, following the log of
/// `vkey`, on `listen` (`127.0.0.1:0` for any port).
fn witnessd(w: &World, key: &str, state: &str, vkey: &str, listen: &str) -> Witnessd {
    Witnessd::start(w, key, &w.path(state), &[vkey.to_string()], listen, &[])
}

/// A witness key made with the binary: (key file, verifier).
fn witness_key(w: &World, name: &str) -> (String, CosignerVerifier) {
    let file = w.path_str(&format!("{name}.key"));
    let vkey = w.ok(&["witness", "key", "generate", "--name", name, "--out", &file]);
    (file, CosignerVerifier::parse(vkey.trim()).unwrap())
}

/// Writes a policy naming `witnesses` (name, verifier, URL) with the quorum line `quorum`
/// (after a group `g` of `threshold` of them all).
fn policy(w: &World, vkey: &str, witnesses: &[(&str, &CosignerVerifier, &str)], threshold: &str) -> String {
    let mut p = format!("log {vkey}\n");
    for (name, v, url) in witnesses {
        p.push_str(&format!("witness {name} {v} {url}\n"));
    }
    let names: Vec<&str> = witnesses.iter().map(|(n, _, _)| *n).collect();
    p.push_str(&format!("group g {threshold} {}\nquorum g\n", names.join(" ")));
    let path = w.path_str("policy.txt");
    std::fs::write(&path, p).unwrap();
    path
}

/// Two live witnesses `w1` and `w2` of the log of `vkey` and a policy naming both with the
/// group threshold `threshold`.
struct Two {
    k1: String,
    k2: String,
    v1: CosignerVerifier,
    v2: CosignerVerifier,
    w1: Witnessd,
    w2: Witnessd,
    policy: String,
}

fn two_witnesses(w: &World, vkey: &str, threshold: &str) -> Two {
    let (k1, v1) = witness_key(w, "w1.example");
    let (k2, v2) = witness_key(w, "w2.example");
    let w1 = witnessd(w, &k1, "ws1", vkey, "127.0.0.1:0");
    let w2 = witnessd(w, &k2, "ws2", vkey, "127.0.0.1:0");
    let policy = policy(
        w,
        vkey,
        &[("w1", &v1, &w1.url()), ("w2", &v2, &w2.url())],
        threshold,
    );
    Two {
        k1,
        k2,
        v1,
        v2,
        w1,
        w2,
        policy,
    }
}

/// `publish DEST --witness-policy POLICY --json` (plus `extra`): exit code, JSON, stderr.
fn publish(w: &World, dest: &str, policy: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["publish", dest, "--witness-policy", policy, "--json"];
    args.extend_from_slice(extra);
    let o = w.run(&args);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    let v: Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", o.stdout, o.stderr));
    (o.code, v, o.stderr)
}

/// The status of witness `name` in a publish's JSON.
fn status<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["witnessing"]["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no witness {name} in {v}"))
}

fn published(dest: &str) -> Option<Vec<u8>> {
    std::fs::read(Path::new(dest).join("checkpoint")).ok()
}

fn size_of(note: &[u8], vkey: &str) -> u64 {
    SignedCheckpoint::open(note, &VerifierKey::parse(vkey).unwrap())
        .unwrap()
        .checkpoint
        .size
}

fn stored_cosigned(w: &World) -> Vec<(u64, Vec<u8>)> {
    accord::store::Store::open_read_only(&w.ledger())
        .unwrap()
        .cosigned()
        .unwrap()
}

fn evidence_files(w: &World) -> Vec<PathBuf> {
    match std::fs::read_dir(w.ledger().join("witness-evidence")) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn two_of_two_cosign_one_down_holds_the_checkpoint_back_until_it_returns() {
    let (w, vkey, acme) = acme_with_attestations(2);
    let Two {
        k2,
        v1,
        v2,
        w1: _w1,
        mut w2,
        policy: p,
        ..
    } = two_witnesses(&w, &vkey, "all");
    let dest = w.path_str("pub");
    // Nothing cosigned yet: export --witness-policy has nothing witnessed to write (exit 3).
    let early = w.path("early.export");
    let o = w.run(&["export", "--out", &s(&early), "--witness-policy", &p]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(o.stderr.contains("no checkpoint of this ledger"), "{}", o.stderr);
    assert!(!early.exists(), "nothing is written");

    let (code, v, err) = publish(&w, &dest, &p, &[]);
    assert_eq!(code, 0, "{v}\n{err}");
    assert_eq!(v["witnessing"]["quorum_met"], true);
    let note = published(&dest).unwrap();
    assert_eq!(size_of(&note, &vkey), 3);
    // Both cosignatures are on the published checkpoint and verify over it.
    v1.verify_note(&note).unwrap();
    v2.verify_note(&note).unwrap();
    assert_eq!(stored_cosigned(&w), vec![(3, note.clone())]);
    // The published log verifies as before, and as witnessed under the same policy: the
    // collecting side and the verifying side (FORMAT §16, §17) agree, on the published log
    // and on the ledger whose stored cosigned checkpoint it is.
    w.ok(&["verify", &dest, "--ledger-key", &vkey]);
    let wstate = w.path_str("wpstate");
    w.ok(&[
        "verify",
        &dest,
        "--ledger-key",
        &vkey,
        "--witness-policy",
        &p,
        "--state",
        &wstate,
    ]);
    w.ok(&["verify", "--witness-policy", &p]);
    // The checkpoint the verifier remembers is kept with its cosignatures: evidence of what the
    // witnesses vouched for, should the log later show another history.
    let remembered: Vec<Vec<u8>> = std::fs::read_dir(&wstate)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoint-")
        })
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(
        remembered,
        vec![note.clone()],
        "the remembered checkpoint is the cosigned note"
    );
    // A second publish has nothing to do and keeps the cosigned checkpoint.
    let (code, v, err) = publish(&w, &dest, &p, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["witnessing"]["quorum_met"], true);
    assert_eq!(v["witnessing"]["witnesses"], serde_json::json!([]));
    assert_eq!(published(&dest).unwrap(), note);

    // w2 down: the new checkpoint is not published, exit 3, w2 named as behind.
    w.attest(&acme, &["no-backdoors"], "product 9");
    let addr2 = w2.addr;
    w2.kill();
    let (code, v, err) = publish(&w, &dest, &p, &[]);
    assert_eq!(code, 3, "{v}\n{err}");
    assert_eq!(v["witnessing"]["quorum_met"], false);
    assert_eq!(v["to"], 3);
    assert_eq!(status(&v, "w1")["status"], "cosigned");
    assert_eq!(status(&v, "w2")["status"], "down");
    assert!(err.contains("w2") && err.contains("behind"), "{err}");
    assert_eq!(
        published(&dest).unwrap(),
        note,
        "the checkpoint moved without its quorum"
    );
    // `status` says how far behind each witness is.
    let o = w.run(&["status"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("witness w2.example: last known to have cosigned size 3; the ledger is at size 4 (1 entry behind)"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("witness w1.example: last known to have cosigned size 4"),
        "{}",
        o.stderr
    );
    // Tiles of the new size may be there; the published checkpoint is still the old one, and
    // still witnessed; the ledger's newest entry is not yet witnessed (exit 3, never 0).
    w.ok(&["verify", &dest, "--ledger-key", &vkey]);
    w.ok(&["verify", &dest, "--ledger-key", &vkey, "--witness-policy", &p]);
    let o = w.run(&["verify", "--witness-policy", &p]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    assert!(
        format!("{}{}", o.stdout, o.stderr).contains("not yet witnessed"),
        "{}\n{}",
        o.stdout,
        o.stderr
    );
    // export --witness-policy writes the ledger up to its newest witnessed checkpoint (3), which
    // verifies as witnessed; a plain export goes to the newest checkpoint (4), not witnessed.
    let witnessed_export = w.path_str("witnessed.export");
    w.ok(&["export", "--out", &witnessed_export, "--witness-policy", &p]);
    let out = w.ok(&[
        "verify",
        "--file",
        &witnessed_export,
        "--ledger-key",
        &vkey,
        "--witness-policy",
        &p,
        "--state",
        &w.path_str("st-e1"),
    ]);
    assert!(out.contains("3 entries"), "{out}");
    let plain_export = w.path_str("plain.export");
    w.ok(&["export", "--out", &plain_export]);
    let o = w.run(&[
        "verify",
        "--file",
        &plain_export,
        "--ledger-key",
        &vkey,
        "--witness-policy",
        &p,
        "--state",
        &w.path_str("st-e2"),
    ]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);

    // Back (its state kept): the next publish advances.
    let _w2 = witnessd(&w, &k2, "ws2", &vkey, &addr2.to_string());
    let (code, v, err) = publish(&w, &dest, &p, &[]);
    assert_eq!(code, 0, "{v}\n{err}");
    let note = published(&dest).unwrap();
    assert_eq!(size_of(&note, &vkey), 4);
    v1.verify_note(&note).unwrap();
    v2.verify_note(&note).unwrap();
    assert_eq!(stored_cosigned(&w).last().unwrap(), &(4, note));
    assert!(evidence_files(&w).is_empty());
}

#[test]
fn a_witness_that_lost_its_state_and_one_we_forgot_both_cosign() {
    let (w, vkey, acme) = acme_with_attestations(1);
    let Two {
        k1,
        v1,
        v2,
        mut w1,
        w2: _w2,
        policy: p,
        ..
    } = two_witnesses(&w, &vkey, "all");
    let dest = w.path_str("pub");
    assert_eq!(publish(&w, &dest, &p, &[]).0, 0);

    // w1 restarted with an empty state: accord starts from the size it remembers (2), w1
    // answers 409 with 0, accord retries from 0.
    w.attest(&acme, &["no-backdoors"], "product 7");
    let addr1 = w1.addr;
    w1.kill();
    let _w1 = witnessd(&w, &k1, "ws1-empty", &vkey, &addr1.to_string());
    let (code, v, err) = publish(&w, &dest, &p, &[]);
    assert_eq!(code, 0, "{v}\n{err}");
    assert_eq!(status(&v, "w1")["status"], "cosigned");
    assert_eq!(status(&v, "w1")["size_known"], 3);
    let sizes = std::fs::read_to_string(w.ledger().join("witness-sizes")).unwrap();
    assert!(sizes.contains(&format!("{v1} 3")), "{sizes}");

    // The remembered sizes lost: both witnesses hold size 3, are asked from 0, answer 409 with
    // 3, and cosign the proof from 3.
    std::fs::remove_file(w.ledger().join("witness-sizes")).unwrap();
    w.attest(&acme, &["no-backdoors"], "product 8");
    let (code, v, err) = publish(&w, &dest, &p, &[]);
    assert_eq!(code, 0, "{v}\n{err}");
    let note = published(&dest).unwrap();
    assert_eq!(size_of(&note, &vkey), 4);
    v1.verify_note(&note).unwrap();
    v2.verify_note(&note).unwrap();
}

/// The stored hashes of a tree of `n` leaves of another history than the ledger's.
fn other_tree(n: u64) -> Vec<Hash> {
    stored_hashes((0..n).map(|i| leaf_hash(format!("other {i}").as_bytes())))
}

/// Shows a witness at `addr` a checkpoint of size `size` of another tree, signed with the
/// ledger's own key (what a custodian showing split views does), and requires it cosigned.
fn show_other_view(w: &World, addr: SocketAddr, size: u64) {
    let lk = LedgerKey::from_skey(&std::fs::read_to_string(ledger_key_file(w)).unwrap()).unwrap();
    let t = other_tree(size);
    let note = lk
        .sign(&Checkpoint {
            origin: lk.origin().clone(),
            size,
            root: tree_root(size, &t).unwrap(),
        })
        .unwrap()
        .note;
    let body = AddCheckpoint {
        old: 0,
        proof: vec![],
        note,
    }
    .to_bytes();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(
        c,
        "POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    c.write_all(&body).unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_split_view_and_a_larger_size_are_kept_as_evidence_and_never_published() {
    let (w, vkey, _) = acme_with_attestations(2);
    let t = two_witnesses(&w, &vkey, "any");
    // w1 was shown B: the same size as the ledger (3), another root. w2 was shown a checkpoint
    // of size 10, larger than the ledger's.
    show_other_view(&w, t.w1.addr, 3);
    show_other_view(&w, t.w2.addr, 10);
    let p = t.policy.clone();
    let dest = w.path_str("pub");
    let (code, v, err) = publish(&w, &dest, &p, &[]);
    assert_eq!(code, 1, "{v}\n{err}");
    assert_eq!(status(&v, "w1")["status"], "evidence");
    assert_eq!(status(&v, "w2")["status"], "evidence");
    assert!(err.contains("EVIDENCE") && err.contains("split view"), "{err}");
    assert!(err.contains("larger than the log's own 3"), "{err}");
    assert!(published(&dest).is_none(), "published without a quorum");
    assert!(stored_cosigned(&w).is_empty());
    let files = evidence_files(&w);
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() > 0);
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        assert!(text.starts_with("accord-witness-evidence/1\n"), "{text}");
        assert!(text.contains("status: 409"), "{text}");
        if text.contains("witness: w1") {
            // Asked from 0, told 3, proved from 3: 422.
            assert!(
                text.contains("status: 422") && text.contains("exchanges: 2"),
                "{text}"
            );
        } else {
            assert!(
                text.contains("exchanges: 1") && text.contains("response: 3 bytes\n10\n"),
                "{text}"
            );
        }
        // Each path is named in the JSON.
        assert!(v.to_string().contains(&s(f)), "{v}");
    }
    // Never retried away: a second publish finds the same and keeps new evidence.
    let (code, _, _) = publish(&w, &dest, &p, &[]);
    assert_eq!(code, 1);
    assert_eq!(evidence_files(&w).len(), 4);
}

/// A fake witness on loopback: each connection is handed to `serve`.
fn fake_witness(serve: impl Fn(std::net::TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let serve = std::sync::Arc::clone(&serve);
            std::thread::spawn(move || serve(c));
        }
    });
    addr
}

/// Reads a request's head and its body (by Content-Length).
fn read_request(c: &mut std::net::TcpStream) {
    let mut r = std::io::BufReader::new(c);
    let mut len = 0;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
}

#[test]
fn a_silent_witness_times_out_and_a_garbage_cosignature_is_not_counted() {
    use base64::Engine as _;
    let (w, vkey, _) = acme_with_attestations(1);
    let (k1, v1) = witness_key(&w, "w1.example");
    let (_, v2) = witness_key(&w, "slow.example");
    let (_, v3) = witness_key(&w, "garbage.example");
    let w1 = witnessd(&w, &k1, "ws1", &vkey, "127.0.0.1:0");
    // Accepts, reads, never answers.
    let slow = fake_witness(|mut c| {
        read_request(&mut c);
        std::thread::sleep(Duration::from_secs(60));
        drop(c);
    });
    // Answers 200 with a line of its name and key id, a recent timestamp, and a signature of
    // zeros.
    let mut sig = v3.key_id().to_be_bytes().to_vec();
    sig.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    sig.extend_from_slice(&[0; 64]);
    let line = format!(
        "\u{2014} garbage.example {}\n",
        base64::engine::general_purpose::STANDARD.encode(sig)
    );
    let garbage = fake_witness(move |mut c| {
        read_request(&mut c);
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{line}",
            line.len()
        );
    });
    // Answers 200 with a body of 1 MiB (cut off at 64 KiB).
    let (_, v4) = witness_key(&w, "huge.example");
    let huge = fake_witness(|mut c| {
        read_request(&mut c);
        let body = vec![b'a'; 1 << 20];
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
        );
        let _ = c.write_all(&body);
    });
    // Two of the four: the live one and the garbage one would make it, if garbage counted.
    let p = policy(
        &w,
        &vkey,
        &[
            ("w1", &v1, &w1.url()),
            ("slow", &v2, &format!("http://{slow}")),
            ("garbage", &v3, &format!("http://{garbage}/")),
            ("huge", &v4, &format!("http://{huge}")),
        ],
        "2",
    );
    let dest = w.path_str("pub");
    let t = Instant::now();
    let (code, v, err) = publish(&w, &dest, &p, &["--witness-timeout", "2"]);
    let took = t.elapsed();
    assert_eq!(code, 3, "{v}\n{err}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let says = |name: &str, want: &str, error: &str| {
        let got = status(&v, name);
        assert_eq!(got["status"], want, "{v}");
        assert!(got["error"].as_str().unwrap_or("").contains(error), "{v}");
    };
    says("w1", "cosigned", "");
    says("slow", "down", "timed out");
    says("garbage", "bad-cosignature", "does not verify");
    says("huge", "down", "larger than 65536 bytes");
    assert!(published(&dest).is_none());
    assert!(stored_cosigned(&w).is_empty());
    assert!(err.contains("slow") && err.contains("garbage"), "{err}");
}

/// `POST /entries` of a statement.
fn submit(addr: SocketAddr, statement: &[u8]) -> u16 {
    let mut raw = format!(
        "POST /entries HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/cose\r\nContent-Length: {}\r\n\r\n",
        statement.len()
    )
    .into_bytes();
    raw.extend_from_slice(statement);
    publog::exchange(addr, &raw).status
}

/// Waits (bounded) until `f` holds.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_serves_only_witnessed_checkpoints_and_publishes_them() {
    let w = World::new();
    let vkey = w.init();
    let acme = w.register("acme", "Acme");
    let (k1, v1) = witness_key(&w, "w1.example");
    let (k2, v2) = witness_key(&w, "w2.example");
    let w1 = witnessd(&w, &k1, "ws1", &vkey, "127.0.0.1:0");
    // w2's address, not yet listened on.
    let addr2 = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let p = policy(
        &w,
        &vkey,
        &[("w1", &v1, &w1.url()), ("w2", &v2, &format!("http://{addr2}"))],
        "all",
    );
    let public = w.path_str("public");
    let mut srv = publog::Served::start(
        &w,
        &[
            "--writable",
            "--witness-policy",
            &p,
            "--witness-timeout",
            "2",
            "--publish",
            &public,
        ],
    );
    // The first collection, at start, misses w2: nothing witnessed to serve yet.
    let sizes = w.ledger().join("witness-sizes");
    wait_for("the first collection", || sizes.exists());
    let r = publog::get(srv.addr, "/checkpoint");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(published(&public).is_none());

    // w2 up; the next commit is collected, served and published with both cosignatures.
    let _w2 = witnessd(&w, &k2, "ws2", &vkey, &addr2.to_string());
    let st = common::signed(common::attestation("Cloud", None), "acme", &common::sk(&acme));
    assert_eq!(submit(srv.addr, st.bytes()), 201);
    wait_for("a witnessed checkpoint of size 2", || {
        let r = publog::get(srv.addr, "/checkpoint");
        r.status == 200 && size_of(&r.content(), &vkey) == 2
    });
    let note = publog::get(srv.addr, "/checkpoint").content();
    v1.verify_note(&note).unwrap();
    v2.verify_note(&note).unwrap();
    assert_eq!(stored_cosigned(&w), vec![(2, note.clone())]);
    wait_for("the cosigned checkpoint published", || {
        published(&public) == Some(note.clone())
    });
    w.ok(&["verify", &public, "--ledger-key", &vkey]);
    // Its log said which witness was behind, and then that the quorum was met.
    srv.kill();
    wait_for("the server's log", || {
        srv.stderr.lock().unwrap().contains("now served at /checkpoint")
    });
    let log = srv.stderr.lock().unwrap().clone();
    assert!(log.contains("witness behind: w2 (http://"), "{log}");
}

/// Review 16b, F1: `publish --witness-policy` waiting for a witness that never answers must not
/// hold the ledger: an append made meanwhile is taken at once (FORMAT §17: a witness that is
/// down never blocks an append).
#[test]
fn appends_never_wait_for_a_publish_collecting_from_a_silent_witness() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (w, vkey, acme) = acme_with_attestations(1);
    let (_, v) = witness_key(&w, "slow.example");
    let asked = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&asked);
    let slow = fake_witness(move |mut c| {
        read_request(&mut c);
        flag.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(30));
        drop(c);
    });
    let p = policy(&w, &vkey, &[("slow", &v, &format!("http://{slow}"))], "1");
    let dest = w.path_str("pub");
    let mut publishing = w
        .std_cmd()
        .args([
            "publish",
            &dest,
            "--witness-policy",
            &p,
            "--witness-timeout",
            "20",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the witness to be asked", || asked.load(Ordering::SeqCst));
    // The publish is now waiting for the witness; an append must not wait for it (a ledger
    // held by another process is waited for up to 10 s, then refused: either would fail here).
    let t = Instant::now();
    w.attest(&acme, &["no-backdoors"], "made while publish waits");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the append waited {:?} for the publish",
        t.elapsed()
    );
    let _ = publishing.kill();
    let _ = publishing.wait();
}
