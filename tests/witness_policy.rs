//! Issue 16, verifiers that require witnesses: `--witness-policy FILE [--max-age DURATION]` on
//! `verify` (a published log, a ledger database, an export) and `verify-proof`, through the real
//! binary. Cosignatures are made here with `accord::cosignature::CosignerKey`, over the exact
//! checkpoint text the log signed (or, to be refused, over another).

mod common;

use std::path::{Path, PathBuf};

use accord::cosignature::CosignerKey;
use base64::Engine as _;
use common::{s, World};

/// Witnesses w1 and w2 (named in the policy by these short names).
struct Witnesses {
    w1: CosignerKey,
    w2: CosignerKey,
}

fn witnesses() -> Witnesses {
    Witnesses {
        w1: CosignerKey::generate("witness.example/w1").unwrap(),
        w2: CosignerKey::generate("witness.example/w2").unwrap(),
    }
}

fn now() -> u64 {
    u64::try_from(accord::clock::now()).unwrap()
}

/// Writes a policy for the log of `vkey` naming w1 and w2, ending with `quorum` lines; returns
/// its path.
fn policy(w: &World, ws: &Witnesses, vkey: &str, quorum: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let p = w.path(&format!(
        "policy-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(
        &p,
        format!(
            "# the log\nlog {vkey}\nwitness w1 {} https://w1.example/\nwitness w2 {}\n{quorum}",
            ws.w1.verifier(),
            ws.w2.verifier()
        ),
    )
    .unwrap();
    p
}

const BOTH: &str = "group both all w1 w2\nquorum both\n";
const EITHER: &str = "group either any w1 w2\nquorum either\n";

/// The note text of a signed checkpoint note (what a cosignature signs).
fn text_of(note: &str) -> String {
    format!("{}\n", note.split_once("\n\n").unwrap().0)
}

/// `note` with the cosignatures of `by` (key, timestamp) over its own text appended.
fn cosigned(note: &str, by: &[(&CosignerKey, u64)]) -> String {
    let text = text_of(note);
    let mut n = note.to_string();
    for (k, t) in by {
        n.push_str(&k.cosign(text.as_bytes(), *t).unwrap());
    }
    n
}

/// A cosignature line of `k` whose signature has one bit flipped.
fn forged_line(k: &CosignerKey, text: &str, t: u64) -> String {
    let line = k.cosign(text.as_bytes(), t).unwrap();
    let (head, b64) = line.trim_end().rsplit_once(' ').unwrap();
    let mut raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    format!(
        "{head} {}\n",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A ledger with Acme registered and one attestation, published into `pub`: (world, vkey,
/// published directory, its checkpoint note).
fn published() -> (World, String, PathBuf, String) {
    let (w, vkey, _) = common::acme_with_attestations(1);
    let dir = w.path("pub");
    w.ok(&["publish", &s(&dir)]);
    let note = std::fs::read_to_string(dir.join("checkpoint")).unwrap();
    (w, vkey, dir, note)
}

fn verify_dir<'a>(dir: &'a Path, vkey: &'a str, state: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "verify",
        dir.to_str().unwrap(),
        "--ledger-key",
        vkey,
        "--state",
        state,
    ];
    a.extend_from_slice(extra);
    a
}

fn set_checkpoint(dir: &Path, note: &str) {
    std::fs::write(dir.join("checkpoint"), note).unwrap();
}

#[test]
fn a_published_log_is_trusted_only_with_its_quorum() {
    let (w, vkey, dir, note) = published();
    let ws = witnesses();
    let both = policy(&w, &ws, &vkey, BOTH);
    let p = s(&both);
    let state = w.path_str("state-a");
    // No cosignature at all: everything verified, exit 3, never 0.
    let e = w.not_established(&verify_dir(&dir, &vkey, &state, &["--witness-policy", &p]));
    assert!(e.contains("checkpoint 2 is not witnessed"), "{e}");
    assert!(e.contains("2 of [w1, w2]"), "{e}");
    let o = w.run(&verify_dir(&dir, &vkey, &state, &["--witness-policy", &p]));
    assert!(o.stdout.starts_with("VALID: "), "{}", o.stdout);
    // One of two: still not witnessed, and the one that cosigned is named.
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now())]));
    let e = w.not_established(&verify_dir(&dir, &vkey, &state, &["--witness-policy", &p]));
    assert!(
        e.contains("not witnessed") && e.contains("cosigned by: w1 (valid"),
        "{e}"
    );
    // Both: the quorum is met, exit 0.
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now()), (&ws.w2, now())]));
    let out = w.ok(&verify_dir(&dir, &vkey, &state, &["--witness-policy", &p]));
    assert!(
        out.starts_with("OK: ") && out.contains("witnessed: checkpoint 2 meets the quorum 2 of [w1, w2]"),
        "{out}"
    );
    // The JSON says the same.
    let j: serde_json::Value = serde_json::from_str(&w.ok(&verify_dir(
        &dir,
        &vkey,
        &state,
        &["--witness-policy", &p, "--json"],
    )))
    .unwrap();
    assert_eq!(j["witnesses"]["quorum_met"], true, "{j}");
    assert_eq!(j["witnesses"]["checkpoint_size"], 2);
    assert_eq!(j["witnesses"]["not_yet_witnessed"], 0);
    assert_eq!(j["witnesses"]["witnesses"][1]["status"], "cosigned");
    common::check_schema("verify.schema.json", &serde_json::to_string(&j).unwrap());
    // Without a policy, cosignature lines change nothing.
    w.ok(&verify_dir(&dir, &vkey, &state, &[]));
}

#[test]
fn a_split_view_is_refused_by_a_two_of_two_policy() {
    // The custodian keeps two histories under one key (a copy of the ledger, each extended
    // differently) and shows A only to w1 and B only to w2: each cosigns its own.
    let (w, vkey, a) = common::acme_with_attestations(1);
    let fork = w.path("fork");
    copy_dir(&w.ledger(), &fork);
    w.attest(&a, &["no-backdoors"], "only in A");
    let mut args = common::attest_args(&a, &["no-backdoors"], "only in B");
    args.splice(0..0, ["--ledger", fork.to_str().unwrap()]);
    w.ok(&args);
    let (da, db) = (w.path("pub-a"), w.path("pub-b"));
    w.ok(&["publish", &s(&da)]);
    w.ok(&["--ledger", &s(&fork), "publish", &s(&db)]);
    let (na, nb) = (
        std::fs::read_to_string(da.join("checkpoint")).unwrap(),
        std::fs::read_to_string(db.join("checkpoint")).unwrap(),
    );
    assert_ne!(na, nb, "two views of size 3");
    let ws = witnesses();
    set_checkpoint(&da, &cosigned(&na, &[(&ws.w1, now())]));
    set_checkpoint(&db, &cosigned(&nb, &[(&ws.w2, now())]));
    let both = s(&policy(&w, &ws, &vkey, BOTH));
    for (dir, state, by) in [(&da, "state-a", "w1"), (&db, "state-b", "w2")] {
        let st = w.path_str(state);
        let e = w.not_established(&verify_dir(dir, &vkey, &st, &["--witness-policy", &both]));
        assert!(e.contains("checkpoint 3 is not witnessed"), "{e}");
        assert!(e.contains(&format!("cosigned by: {by} (valid")), "{e}");
    }
    // A verifier that saw A, shown B: a fork (exit 1), witnessed or not.
    let e = w.fails(
        1,
        &verify_dir(&db, &vkey, &w.path_str("state-a"), &["--witness-policy", &both]),
    );
    assert!(e.to_lowercase().contains("fork"), "{e}");
    // A weaker policy (either witness) is fooled by the split view: that is what the quorum
    // of two is for.
    let either = s(&policy(&w, &ws, &vkey, EITHER));
    w.ok(&verify_dir(
        &da,
        &vkey,
        &w.path_str("state-c"),
        &["--witness-policy", &either],
    ));
    w.ok(&verify_dir(
        &db,
        &vkey,
        &w.path_str("state-d"),
        &["--witness-policy", &either],
    ));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_forged_or_misplaced_cosignature_is_refused() {
    let (w, vkey, dir, note) = published();
    let ws = witnesses();
    let either = s(&policy(&w, &ws, &vkey, EITHER));
    let state = w.path_str("state");
    let text = text_of(&note);
    // w1's line with one bit flipped, beside a valid one of w2: refused, naming w1, although
    // the quorum (either) would be met by w2 alone.
    let mut n = cosigned(&note, &[(&ws.w2, now())]);
    n.push_str(&forged_line(&ws.w1, &text, now()));
    set_checkpoint(&dir, &n);
    let e = w.fails(
        1,
        &verify_dir(&dir, &vkey, &state, &["--witness-policy", &either]),
    );
    assert!(e.contains("\"w1\"") && e.contains("does not verify"), "{e}");
    // Without a policy, the forged line is not judged (nobody asked for witnesses).
    w.ok(&verify_dir(&dir, &vkey, &state, &[]));
    // A cosignature of w1 made over another checkpoint (size 1) does not count for this one:
    // the line claims w1 and does not verify over checkpoint 2, so it is refused.
    w.ok(&["verify"]);
    let other = "test.example/ledger\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let mut n = note.clone();
    n.push_str(&ws.w1.cosign(other.as_bytes(), now()).unwrap());
    set_checkpoint(&dir, &n);
    let e = w.fails(
        1,
        &verify_dir(&dir, &vkey, &state, &["--witness-policy", &either]),
    );
    assert!(e.contains("\"w1\""), "{e}");
}

#[test]
fn max_age_counts_only_fresh_cosignatures() {
    let (w, vkey, dir, note) = published();
    let ws = witnesses();
    let both = s(&policy(&w, &ws, &vkey, BOTH));
    let state = w.path_str("state");
    let old = now() - 7200;
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, old), (&ws.w2, old)]));
    // Without --max-age, an old quorum is a quorum.
    w.ok(&verify_dir(&dir, &vkey, &state, &["--witness-policy", &both]));
    let e = w.not_established(&verify_dir(
        &dir,
        &vkey,
        &state,
        &["--witness-policy", &both, "--max-age", "1h"],
    ));
    assert!(e.contains("witnessed, but not within --max-age 1h"), "{e}");
    assert!(e.contains("w1 (stale") && e.contains("w2 (stale"), "{e}");
    // One fresh witness cannot refresh a stale quorum.
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now()), (&ws.w2, old)]));
    let e = w.not_established(&verify_dir(
        &dir,
        &vkey,
        &state,
        &["--witness-policy", &both, "--max-age", "1h"],
    ));
    assert!(e.contains("w1 (fresh") && e.contains("w2 (stale"), "{e}");
    let j: serde_json::Value = serde_json::from_str(
        &w.run(&verify_dir(
            &dir,
            &vkey,
            &state,
            &["--witness-policy", &both, "--max-age", "1h", "--json"],
        ))
        .stdout,
    )
    .unwrap();
    assert_eq!(j["witnesses"]["quorum_met"], false, "{j}");
    assert_eq!(j["witnesses"]["witnesses"][1]["status"], "stale");
    assert_eq!(j["witnesses"]["not_yet_witnessed"], 2);
    // A cosignature from an hour in the future is not fresh either (300 s of skew only).
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now()), (&ws.w2, now() + 3600)]));
    w.not_established(&verify_dir(
        &dir,
        &vkey,
        &state,
        &["--witness-policy", &both, "--max-age", "1d"],
    ));
    // Both fresh: exit 0.
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now()), (&ws.w2, now() - 60)]));
    w.ok(&verify_dir(
        &dir,
        &vkey,
        &state,
        &["--witness-policy", &both, "--max-age", "1h"],
    ));
}

#[test]
fn unusable_policies_and_options_exit_2() {
    let (w, vkey, dir, note) = published();
    let ws = witnesses();
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now()), (&ws.w2, now())]));
    let state = w.path_str("state");
    // A policy for another log.
    let other = World::new();
    let other_vkey = other.init();
    let p = s(&policy(&w, &ws, &other_vkey, BOTH));
    let e = w.fails(2, &verify_dir(&dir, &vkey, &state, &["--witness-policy", &p]));
    assert!(
        e.contains("not the ledger key") && e.contains("a policy is for one log"),
        "{e}"
    );
    // Errors name the line.
    let bad = w.path("bad-policy");
    std::fs::write(&bad, format!("witness w1 {}\nquorum w9\n", ws.w1.verifier())).unwrap();
    let e = w.fails(
        2,
        &verify_dir(&dir, &vkey, &state, &["--witness-policy", &s(&bad)]),
    );
    assert!(e.contains("line 2") && e.contains("w9"), "{e}");
    std::fs::write(&bad, "witness w1 not-a-key\nquorum w1\n").unwrap();
    let e = w.fails(
        2,
        &verify_dir(&dir, &vkey, &state, &["--witness-policy", &s(&bad)]),
    );
    assert!(e.contains("line 1"), "{e}");
    // A missing file, a bad duration, --max-age alone.
    let e = w.fails(
        2,
        &verify_dir(&dir, &vkey, &state, &["--witness-policy", &w.path_str("nope")]),
    );
    assert!(e.contains("nope"), "{e}");
    let good = s(&policy(&w, &ws, &vkey, BOTH));
    let o = w.run(&verify_dir(
        &dir,
        &vkey,
        &state,
        &["--witness-policy", &good, "--max-age", "1y"],
    ));
    assert_eq!(o.code, 2, "{}", o.stderr);
    let o = w.run(&verify_dir(&dir, &vkey, &state, &["--max-age", "1h"]));
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--witness-policy"), "{}", o.stderr);
}

/// Stores `note` as the cosigned checkpoint of `size` in the world's ledger.
fn store_cosigned(w: &World, size: u64, note: &str) {
    let l = accord::ledger::Ledger::open(&w.ledger()).unwrap();
    l.store().put_cosigned(size, note.as_bytes()).unwrap();
}

#[test]
fn a_ledger_is_trusted_up_to_its_newest_witnessed_checkpoint() {
    let (w, vkey, a) = common::acme_with_attestations(1);
    let ws = witnesses();
    let both = s(&policy(&w, &ws, &vkey, BOTH));
    // No cosigned checkpoint at all: every entry is not yet witnessed.
    let e = w.not_established(&["verify", "--ledger-key", &vkey, "--witness-policy", &both]);
    assert!(e.contains("all 2 entries are not yet witnessed"), "{e}");
    let n2 = w.checkpoint();
    store_cosigned(&w, 2, &cosigned(&n2, &[(&ws.w1, now()), (&ws.w2, now())]));
    w.ok(&["verify", "--ledger-key", &vkey, "--witness-policy", &both]);
    // Three entries appended after the witnessed checkpoint.
    for i in 0..3 {
        w.attest(&a, &["no-backdoors"], &format!("later {i}"));
    }
    let e = w.not_established(&["verify", "--ledger-key", &vkey, "--witness-policy", &both]);
    assert!(
        e.contains("3 entries after it (of 5) are not yet witnessed"),
        "{e}"
    );
    let j: serde_json::Value = serde_json::from_str(
        &w.run(&[
            "verify",
            "--ledger-key",
            &vkey,
            "--witness-policy",
            &both,
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(j["witnesses"]["checkpoint_size"], 2, "{j}");
    assert_eq!(j["witnesses"]["quorum_met"], true);
    assert_eq!(j["witnesses"]["not_yet_witnessed"], 3);
    common::check_schema("verify.schema.json", &serde_json::to_string(&j).unwrap());
    // A note stored for size 5 that is another checkpoint's (size 2's text, cosigned by both)
    // is not the ledger's checkpoint of size 5: it does not count.
    store_cosigned(&w, 5, &cosigned(&n2, &[(&ws.w1, now()), (&ws.w2, now())]));
    let e = w.not_established(&["verify", "--ledger-key", &vkey, "--witness-policy", &both]);
    assert!(e.contains("3 entries after it"), "{e}");
    // The real checkpoint of size 5, cosigned by one witness only: still the one of size 2.
    let n5 = w.checkpoint();
    store_cosigned(&w, 5, &cosigned(&n5, &[(&ws.w1, now())]));
    let e = w.not_established(&["verify", "--ledger-key", &vkey, "--witness-policy", &both]);
    assert!(
        e.contains("checkpoint 2 meets the quorum") && e.contains("3 entries after it"),
        "{e}"
    );
    // Both: every entry is witnessed.
    store_cosigned(&w, 5, &cosigned(&n5, &[(&ws.w1, now()), (&ws.w2, now())]));
    let out = w.ok(&["verify", "--ledger-key", &vkey, "--witness-policy", &both]);
    assert!(out.contains("witnessed: checkpoint 5 meets the quorum"), "{out}");
    // With --max-age 1h, cosignatures two hours old are a quorum no longer, at any size.
    let old = now() - 7200;
    store_cosigned(&w, 2, &cosigned(&n2, &[(&ws.w1, old), (&ws.w2, old)]));
    store_cosigned(&w, 5, &cosigned(&n5, &[(&ws.w1, now()), (&ws.w2, old)]));
    let e = w.not_established(&[
        "verify",
        "--ledger-key",
        &vkey,
        "--witness-policy",
        &both,
        "--max-age",
        "1h",
    ]);
    assert!(
        e.contains("checkpoint 5 is witnessed, but not within --max-age 1h")
            && e.contains("5 entries are not yet witnessed"),
        "{e}"
    );
    // A forged line on the newest stored note: refused, naming the witness.
    let mut forged = cosigned(&n5, &[(&ws.w2, now())]);
    forged.push_str(&forged_line(&ws.w1, &text_of(&n5), now()));
    store_cosigned(&w, 5, &forged);
    let e = w.fails(1, &["verify", "--ledger-key", &vkey, "--witness-policy", &both]);
    assert!(e.contains("\"w1\""), "{e}");
}

/// `verify-proof FILE --ledger-key VKEY --state STATE --witness-policy POLICY EXTRA...`.
fn proof_args<'a>(
    file: &'a Path,
    vkey: &'a str,
    state: &'a Path,
    policy: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut e = vec!["--witness-policy", policy];
    e.extend_from_slice(extra);
    common::verify_proof_args(file, vkey, state, &e)
}

/// `verify --file FILE --ledger-key VKEY --state STATE EXTRA...`.
fn verify_file<'a>(vkey: &'a str, state: &'a str, file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = common::verify_args(vkey, state, &["--file", file]);
    a.extend_from_slice(extra);
    a
}

#[test]
fn exports_and_bundles_carry_the_cosigned_checkpoint() {
    let (w, vkey, _) = common::acme_with_attestations(1);
    let ws = witnesses();
    let both = s(&policy(&w, &ws, &vkey, BOTH));
    let state = w.path_str("state");
    // Before any cosignature: the export and the bundle are valid, not witnessed.
    let plain = w.export("plain.export");
    let plain = s(&plain);
    let e = w.not_established(&verify_file(&vkey, &state, &plain, &["--witness-policy", &both]));
    assert!(e.contains("checkpoint 2 is not witnessed"), "{e}");
    let n2 = w.checkpoint();
    store_cosigned(&w, 2, &cosigned(&n2, &[(&ws.w1, now()), (&ws.w2, now())]));
    let f = w.export("cosigned.export");
    let f = s(&f);
    w.ok(&verify_file(&vkey, &state, &f, &["--witness-policy", &both]));
    // An export without a policy still verifies as before (the cosignatures are extra lines).
    w.ok(&verify_file(&vkey, &state, &f, &[]));
    let b = w.prove(1, "p.bundle", &[]);
    let out = w.ok(&proof_args(&b, &vkey, &w.path("state"), &both, &[]));
    assert!(out.contains("witnessed: checkpoint 2"), "{out}");
    let j = w.ok(&proof_args(&b, &vkey, &w.path("state"), &both, &["--json"]));
    common::check_schema("verify-proof.schema.json", &j);
    // Cosignatures two hours old: a quorum, but not within --max-age 1h.
    let old = now() - 7200;
    store_cosigned(&w, 2, &cosigned(&n2, &[(&ws.w1, old), (&ws.w2, old)]));
    let b_old = w.prove(1, "old.bundle", &[]);
    w.ok(&proof_args(&b_old, &vkey, &w.path("state"), &both, &[]));
    let e = w.not_established(&proof_args(
        &b_old,
        &vkey,
        &w.path("state"),
        &both,
        &["--max-age", "1h"],
    ));
    assert!(e.contains("not within --max-age 1h"), "{e}");
    // The ledger grows; prove still writes the newest witnessed checkpoint holding the entry.
    let a = w.key_file("acme");
    w.attest(&a, &["no-backdoors"], "later");
    let o = w.run(&["prove", "1", "--out", &w.path_str("p2.bundle")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("size 2; the latest is 3"), "{}", o.stderr);
    let b = w.path("p2.bundle");
    let out = w.ok(&proof_args(&b, &vkey, &w.path("state-2"), &both, &[]));
    assert!(out.contains("checkpoint size 2"), "{out}");
    // A C2SP tlog-proof carries the same checkpoint, cosignature lines included.
    let t = w.prove(1, "p2.tlog", &["--format", "tlog-proof"]);
    let tlog = std::fs::read_to_string(&t).unwrap();
    assert!(tlog.contains("\u{2014} witness.example/w2 "), "{tlog}");
    w.ok(&proof_args(&t, &vkey, &w.path("state-2"), &both, &[]));
    // A consistency file carries the checkpoints as signed: its newer one is not witnessed.
    let c = w.consistency(1, "c.proof", &[]);
    let e = w.not_established(&proof_args(&c, &vkey, &w.path("state-4"), &both, &[]));
    assert!(e.contains("checkpoint 3 is not witnessed"), "{e}");
    // An entry after it: proved at the latest checkpoint, which is not witnessed.
    let b = w.prove(2, "p3.bundle", &[]);
    w.not_established(&proof_args(&b, &vkey, &w.path("state-3"), &both, &[]));
}

#[test]
fn mirror_import_and_watch_judge_the_checkpoint_they_take() {
    let (w, vkey, dir, note) = published();
    let ws = witnesses();
    let both = s(&policy(&w, &ws, &vkey, BOTH));
    let d = s(&dir);
    // A forged line: nothing is mirrored.
    let mut forged = cosigned(&note, &[(&ws.w2, now())]);
    forged.push_str(&forged_line(&ws.w1, &text_of(&note), now()));
    set_checkpoint(&dir, &forged);
    let m = w.path("mirror");
    let mirror = |state: &str| {
        vec![
            "--ledger".to_string(),
            s(&m),
            "mirror".into(),
            d.clone(),
            "--ledger-key".into(),
            vkey.clone(),
            "--state".into(),
            w.path_str(state),
            "--witness-policy".into(),
            both.clone(),
        ]
    };
    let args = mirror("state-m");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let e = w.fails(1, &args);
    assert!(e.contains("\"w1\"") && e.contains("unchanged"), "{e}");
    assert!(!m.exists(), "nothing mirrored");
    // Not witnessed (w1 only): mirrored all the same, since it verified, and exit 3.
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now())]));
    let e = w.not_established(&args);
    assert!(e.contains("not witnessed"), "{e}");
    let mirrored = w.ok(&["--ledger", &s(&m), "verify", "--ledger-key", &vkey]);
    assert!(mirrored.contains("2 entries"), "{mirrored}");
    // Witnessed: exit 0, and the mirror keeps the cosignatures for verify to judge again.
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now()), (&ws.w2, now())]));
    w.ok(&args);
    w.ok(&[
        "--ledger",
        &s(&m),
        "verify",
        "--ledger-key",
        &vkey,
        "--witness-policy",
        &both,
    ]);

    // import: an export without cosignatures is imported, and exit 3.
    let f = w.export("plain.export");
    let m2 = w.path("mirror-2");
    let e = w.not_established(&[
        "--ledger",
        &s(&m2),
        "import",
        &s(&f),
        "--ledger-key",
        &vkey,
        "--witness-policy",
        &both,
    ]);
    assert!(e.contains("checkpoint 2 is not witnessed"), "{e}");
    w.ok(&["--ledger", &s(&m2), "verify", "--ledger-key", &vkey]);

    // watch: the findings, then a summary with `witnesses`, and exit 3 when not witnessed.
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w2, now())]));
    let state_w = w.path_str("state-w");
    let watch = |extra: &[&str]| {
        let mut a = vec!["watch", &d, "--ledger-key", &vkey, "--org", "Acme"];
        a.extend(["--state", &state_w, "--witness-policy", &both]);
        w.run(&[a.as_slice(), extra].concat())
    };
    let o = watch(&["--json"]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    let summaries: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("\"type\":\"summary\""))
        .collect();
    assert_eq!(summaries.len(), 1, "{}", o.stdout);
    let j: serde_json::Value = serde_json::from_str(summaries[0]).unwrap();
    assert_eq!(j["witnesses"]["quorum_met"], false, "{j}");
    assert_eq!(j["witnesses"]["witnesses"][1]["status"], "cosigned");
    common::check_schema("watch.schema.json", summaries[0]);
    assert!(
        o.stdout.lines().count() > 1,
        "the findings are reported: {}",
        o.stdout
    );
    set_checkpoint(&dir, &cosigned(&note, &[(&ws.w1, now()), (&ws.w2, now())]));
    let o = watch(&[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}
