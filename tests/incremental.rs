//! Incremental verification (issue 15): `verify` with a state directory remembers the whole
//! replay state at the checkpoint it verified, and the next run judges only the entries after
//! it; the remembered state is trusted local data, checked on load, never trusted in part.

mod common;
mod publog;

use common::*;
use publog::{append_attestations, ledger_of};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap()
}

#[test]
fn a_second_verify_resumes_from_the_remembered_state_and_agrees_with_a_full_one() {
    let (w, vkey, key) = ledger_of(40);
    let st = w.path_str("st");
    let first = json(&w.ok(&["verify", "--ledger-key", &vkey, "--state", &st, "--json"]));
    assert_eq!(first["incremental_from"], serde_json::Value::Null);
    append_attestations(&w, &key, 25, "later");
    let o = w.run(&["verify", "--ledger-key", &vkey, "--state", &st, "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("failed"), "{}", o.stderr);
    let second = json(&o.stdout);
    assert_eq!(second["incremental_from"], 40, "{second}");
    let full = json(&w.ok(&[
        "verify",
        "--ledger-key",
        &vkey,
        "--state",
        &st,
        "--json",
        "--full",
    ]));
    assert_eq!(full["incremental_from"], serde_json::Value::Null);
    // The same verdict and the same facts, whichever way.
    for k in [
        "entries",
        "root",
        "checkpoints",
        "organisations",
        "attestations",
        "live_attestations",
        "untrusted",
    ] {
        assert_eq!(second[k], full[k], "{k}");
    }
    // Human output says what was not checked again.
    let text = w.ok(&["verify", "--ledger-key", &vkey, "--state", &st]);
    assert!(
        text.contains("incremental: the rules and signatures of entries 0 to 64"),
        "{text}"
    );
    // An export file resumes from the same state.
    let export = w.export("all.export");
    let f = json(&w.ok(&[
        "verify",
        "--file",
        &s(&export),
        "--ledger-key",
        &vkey,
        "--state",
        &st,
        "--json",
    ]));
    assert_eq!(f["incremental_from"], 65, "{f}");
    assert_eq!(f["root"], full["root"]);
}

#[test]
fn a_damaged_or_foreign_replay_state_is_refused_with_exit_2_and_full_starts_over() {
    let (w, vkey, key) = ledger_of(10);
    let st = w.path("st");
    w.ok(&["verify", "--ledger-key", &vkey, "--state", &s(&st)]);
    let file = std::fs::read_dir(&st)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("replay-"))
        .expect("a replay state was written");
    let good = std::fs::read(&file).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0);
    append_attestations(&w, &key, 3, "more");
    // One byte changed anywhere: refused, never trusted in part.
    for at in [good.len() / 3, good.len() / 2, good.len() - 40] {
        let mut bad = good.clone();
        bad[at] ^= 1;
        std::fs::write(&file, &bad).unwrap();
        let err = w.fails(2, &["verify", "--ledger-key", &vkey, "--state", &s(&st)]);
        assert!(err.contains("replay state") && err.contains("--full"), "{err}");
    }
    // Cut short.
    std::fs::write(&file, &good[..good.len() - 1]).unwrap();
    w.fails(2, &["verify", "--ledger-key", &vkey, "--state", &s(&st)]);
    // A symbolic link in its place (to a good copy elsewhere) is not followed (review 15, F4).
    let elsewhere = w.path("elsewhere.state");
    std::fs::write(&elsewhere, &good).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    let err = w.fails(2, &["verify", "--ledger-key", &vkey, "--state", &s(&st)]);
    assert!(err.contains("symbolic link") || err.contains("symlink"), "{err}");
    std::fs::remove_file(&file).unwrap();
    // --full starts over and replaces it.
    let out = json(&w.ok(&[
        "verify",
        "--ledger-key",
        &vkey,
        "--state",
        &s(&st),
        "--full",
        "--json",
    ]));
    assert_eq!(out["entries"], 13);
    let out = json(&w.ok(&["verify", "--ledger-key", &vkey, "--state", &s(&st), "--json"]));
    assert_eq!(out["incremental_from"], 13);
}

#[test]
fn entries_rewritten_before_the_remembered_state_are_found_as_a_full_verify_finds_them() {
    let (w, vkey, key) = ledger_of(12);
    let st = w.path_str("st");
    w.ok(&["verify", "--ledger-key", &vkey, "--state", &st]);
    append_attestations(&w, &key, 5, "more");
    let export = w.export("all.export");
    let mut bytes = std::fs::read(&export).unwrap();
    // Flip a byte inside an early entry (past the header): the file no longer holds the
    // entries verified before; the verdict is the whole file's.
    let at = bytes.len() / 4;
    bytes[at] ^= 0x20;
    let bad = w.path("bad.export");
    std::fs::write(&bad, &bytes).unwrap();
    let resumed = w.fails(
        1,
        &[
            "verify",
            "--file",
            &s(&bad),
            "--ledger-key",
            &vkey,
            "--state",
            &st,
        ],
    );
    let full = w.fails(
        1,
        &[
            "verify",
            "--file",
            &s(&bad),
            "--ledger-key",
            &vkey,
            "--state",
            &w.path_str("st2"),
        ],
    );
    let verdict = |e: &str| e.lines().find(|l| l.contains("FAILED")).unwrap_or("").to_string();
    assert_eq!(verdict(&resumed), verdict(&full), "{resumed}\n---\n{full}");
}

#[test]
fn a_published_log_is_verified_incrementally_from_a_directory_and_over_http() {
    let (w, vkey, key) = ledger_of(300);
    let public = w.path("public");
    w.ok(&["publish", &s(&public)]);
    let st = w.path_str("st");
    let v = |loc: &str, extra: &[&str]| {
        let mut a = vec!["verify", loc, "--ledger-key", &vkey, "--state", &st, "--json"];
        a.extend_from_slice(extra);
        json(&w.ok(&a))
    };
    let first = v(&s(&public), &[]);
    assert_eq!(first["incremental_from"], serde_json::Value::Null);
    // Nothing new: resumed, nothing fetched but the last partial bundle.
    assert_eq!(v(&s(&public), &[])["incremental_from"], 300);
    append_attestations(&w, &key, 270, "later");
    w.ok(&["publish", &s(&public)]);
    let second = v(&s(&public), &[]);
    assert_eq!(second["incremental_from"], 300, "{second}");
    assert_eq!(second["entries"], 570);
    let full = v(&s(&public), &["--full"]);
    for k in [
        "entries",
        "root",
        "organisations",
        "attestations",
        "live_attestations",
        "untrusted",
    ] {
        assert_eq!(second[k], full[k], "{k}");
    }
    // Over HTTP, from the state the directory left (the same log, the same key).
    append_attestations(&w, &key, 5, "http");
    let srv = publog::Served::start(&w, &[]);
    let over = v(&srv.url(), &[]);
    assert_eq!(over["incremental_from"], 570, "{over}");
    assert_eq!(over["entries"], 575);
    // A host that rewrote an entry bundle of the new part: the verdict is the full one's.
    append_attestations(&w, &key, 300, "more");
    w.ok(&["publish", &s(&public)]);
    // A host that changed a hash tile above level 0 (one no new bundle is under): found by a
    // resumed run too (review 15, F1), from the tile roots the state keeps.
    let upper = public.join("tile/1/000.p/3");
    let good = std::fs::read(&upper).unwrap();
    let mut bad = good.clone();
    bad[3] ^= 1;
    std::fs::write(&upper, &bad).unwrap();
    let o = w.run(&[
        "verify",
        &s(&public),
        "--ledger-key",
        &vkey,
        "--state",
        &st,
        "--json",
    ]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr
            .contains("resuming from the remembered replay state of size 575 failed")
            && o.stderr.contains("tile/1/000.p/3"),
        "{}",
        o.stderr
    );
    std::fs::write(&upper, &good).unwrap();
    let bundle = public.join("tile/entries/002");
    let mut b = std::fs::read(&bundle).unwrap();
    let at = b.len() / 2;
    b[at] ^= 1;
    std::fs::write(&bundle, &b).unwrap();
    let resumed = w.fails(1, &["verify", &s(&public), "--ledger-key", &vkey, "--state", &st]);
    assert!(resumed.contains("FAILED"), "{resumed}");
}
