//! Regression tests for what an adversarial review of the binary found (issue 10, "beyond the
//! list"): each test is named for the way accord misled its user.

mod common;

use common::{
    acme_with_attestations, attest_args, flip_first_hex_digit, force_append_version, fork_evidence, json,
    public, read_json, recover_args, registration, rotation, s, signed, sk, tick, verify_args,
    verify_proof_args, write_json, World,
};

fn state(w: &World) -> std::path::PathBuf {
    w.path("st")
}

#[test]
fn a_damaged_consistency_path_is_refused_but_never_called_a_fork() {
    let (w, vkey, _) = acme_with_attestations(4);
    let c = w.consistency(2, "c.json", &["--json"]);
    let mut v = read_json(&c);
    v["path"][0] = serde_json::Value::String(flip_first_hex_digit(v["path"][0].as_str().unwrap()));
    let d = w.path("damaged.json");
    write_json(&d, &v);
    let e = w.fails(1, &verify_proof_args(&d, &vkey, &state(&w), &[]));
    assert!(
        e.contains("not evidence of a fork") && !e.contains("FORK:"),
        "{e}"
    );
    assert_eq!(
        fork_evidence(&state(&w)),
        0,
        "a damaged path was kept as fork evidence"
    );
    // The honest ledger still verifies with that state.
    w.ok(&verify_args(&vkey, &state(&w), &[]));
}

#[test]
fn remembered_checkpoints_belong_to_a_ledger_key_not_to_an_origin() {
    let (w, vkey, _) = acme_with_attestations(1);
    // Another ledger that happens to use the same origin, verified with its own key.
    let other = World::new();
    let other_vkey = other.init();
    assert_ne!(vkey, other_vkey);
    let ob = other.register("beta", "Beta");
    other.attest(&ob, &["no-backdoors"], "x");
    other.attest(&ob, &["no-backdoors"], "y");
    other.ok(&verify_args(&other_vkey, &state(&w), &[]));
    // The genuine ledger, untouched, still verifies against what it remembered.
    w.ok(&verify_args(&vkey, &state(&w), &[]));
    w.ok(&verify_args(&vkey, &state(&w), &[]));
    let f = w.export("l.export");
    w.ok(&verify_args(&vkey, &state(&w), &["--file", f.to_str().unwrap()]));
}

#[test]
fn a_remembered_empty_tree_does_not_block_bundles() {
    let w = World::new();
    let vkey = w.init();
    w.ok(&verify_args(&vkey, &state(&w), &[]));
    let a = w.register("acme", "Acme");
    w.attest(&a, &["no-backdoors"], "Acme Cloud");
    let p = w.prove(1, "p.proof", &[]);
    let o = w.ok(&verify_proof_args(&p, &vkey, &state(&w), &[]));
    assert!(o.starts_with("OK: entry 1"), "{o}");
}

#[test]
fn verify_counts_as_in_force_only_pledges_not_expired() {
    let (w, vkey, a) = acme_with_attestations(0);
    tick();
    let soon = accord::time::format(accord::clock::now() + 2);
    let mut expiring = attest_args(&a, &["no-backdoors"], "Cloud");
    expiring.extend(["--expires", &soon]);
    w.ok(&expiring);
    w.attest(&a, &["no-backdoors"], "Mail");
    let v = json(&w, &verify_args(&vkey, &state(&w), &["--json"]));
    assert_eq!(v["live_attestations"], 2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let v = json(&w, &verify_args(&vkey, &state(&w), &["--json"]));
    assert_eq!(v["live_attestations"], 1, "{v}");
    let live = json(&w, &["status", "--json"]);
    assert_eq!(live.as_array().unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn a_state_directory_inside_a_world_writable_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let (w, vkey, _) = acme_with_attestations(1);
    let open = w.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let st = open.join("st");
    let e = w.fails(2, &verify_args(&vkey, &st, &[]));
    assert!(e.contains("anyone can write") && e.contains("sticky"), "{e}");
    // With the sticky bit (as /tmp has), it is accepted.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    w.ok(&verify_args(&vkey, &st, &[]));
}

#[test]
fn a_file_name_cannot_paint_a_line_on_the_terminal() {
    let (w, vkey, _) = acme_with_attestations(1);
    let name = "x\r\u{1b}[2KOK: entry 3 is included\u{1b}[8m";
    let f = w.path(name);
    std::fs::write(&f, b"\x84\x01").unwrap();
    let e = w.fails(1, &verify_proof_args(&f, &vkey, &state(&w), &[]));
    assert!(!e.contains('\r') && !e.contains('\u{1b}'), "{e:?}");
    assert!(e.contains("\\r") && e.contains("\\u{1b}"), "{e:?}");
}

#[test]
fn error_messages_say_each_cause_once() {
    let (w, vkey, _) = acme_with_attestations(1);
    let e = w.fails(2, &["verify-proof", "no-such.proof", "--ledger-key", &vkey]);
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    let f = w.path("short.proof");
    std::fs::write(&f, b"\x84\x01").unwrap();
    let e = w.fails(1, &verify_proof_args(&f, &vkey, &state(&w), &[]));
    assert_eq!(e.matches("input ends inside an item").count(), 1, "{e}");
}

#[test]
fn a_registration_is_never_made_untrusted_by_its_own_recovery() {
    let w = World::new();
    let vkey = w.init();
    let rec = w.key("acme-rec");
    let a = w.key("acme");
    let since = common::now_rfc3339();
    tick();
    w.register_with_recovery(&a, "Acme", &rec); // 0, logged after `since`
    w.attest(&a, &["no-backdoors"], "thief's"); // 1
    let n = w.key("acme-new");
    let next = w.key("acme-rec-2");
    w.recover(&rec, &n, &next, Some(&since), "stolen"); // 2
    let v = json(&w, &verify_args(&vkey, &state(&w), &["--json"]));
    assert_eq!(v["untrusted"], serde_json::json!([1]), "{v}");
    let p = w.prove(0, "reg.proof", &[]);
    let j = json(&w, &verify_proof_args(&p, &vkey, &state(&w), &["--json"]));
    assert_eq!(j["untrusted"], false, "{j}");
}

// ---------------------------------------------------------------------------------------------
// A second review: the Python verifier held against FORMAT.md alone, and the binary against both.

/// The secret key [`World::key`] made for `name`.
fn key(w: &World, name: &str) -> accord::keys::SecretKey {
    sk(&w.key_file(name))
}

fn recovery(w: &World, rec: &str, new: &str, next: &str, since: Option<i64>) -> Vec<u8> {
    use accord::statement::{Body, Recovery};
    let r = key(w, rec);
    signed(
        Body::Recovery(Recovery {
            recovery_key: r.public(),
            new_key: key(w, new).public(),
            next_recovery: key(w, next).public().kid(),
            compromised_since: since,
            reason: "test".into(),
        }),
        "cyan ltd",
        &r,
    )
    .into_bytes()
}

#[test]
fn a_recovery_committing_to_an_installed_signing_key_is_refused() {
    let w = World::new();
    w.init();
    for k in ["c0", "c1", "cr0"] {
        w.key(k);
    }
    w.register_with_recovery(&w.key_file("c0"), "Cyan Ltd", &w.key_file("cr0"));
    let cp = w.checkpoint();
    // The next recovery key would be Cyan's own (installed) signing key: two keys in one.
    let (rec, new, next) = (
        s(&w.key_file("cr0")),
        public(&w.key_file("c1")),
        public(&w.key_file("c0")),
    );
    let e = w.fails(1, &recover_args(&rec, &new, &next, None, "lost"));
    assert!(e.contains("already installed as a signing key"), "{e}");
    w.unchanged(&cp);
}

#[test]
fn a_recovery_is_never_made_untrusted() {
    // Under rules version 1 (written before the commitment rules), Cyan's first recovery
    // committed to its old signing key c0, whose recovery then installed c2; a third recovery
    // reports a compromise from before both. The recoveries stay trusted.
    let w = World::new();
    let vkey = w.init();
    for k in ["c0", "c1", "c2", "c3", "cr0", "cr2", "cr3"] {
        w.key(k);
    }
    let c0 = key(&w, "c0");
    let reg = signed(
        registration("Cyan Ltd", c0.public(), Some(key(&w, "cr0").public().kid())),
        "cyan ltd",
        &c0,
    );
    force_append_version(&w, reg.bytes(), 1); // 0
    tick();
    let since = accord::clock::now();
    tick();
    force_append_version(&w, &recovery(&w, "cr0", "c1", "c0", None), 1); // 1
    force_append_version(&w, &recovery(&w, "c0", "c2", "cr2", None), 1); // 2
    force_append_version(&w, &recovery(&w, "cr2", "c3", "cr3", Some(since)), 1); // 3
    let v = json(&w, &verify_args(&vkey, &state(&w), &["--json"]));
    assert_eq!(v["untrusted"], serde_json::json!([]), "{v}");
    let p = w.prove(2, "r.proof", &[]);
    let j = json(&w, &verify_proof_args(&p, &vkey, &state(&w), &["--json"]));
    assert_eq!(j["untrusted"], false, "{j}");
}

#[test]
fn two_signed_checkpoints_of_one_size_with_different_roots_are_kept_as_fork_evidence() {
    let (w, vkey, _) = acme_with_attestations(2);
    let c = w.consistency(2, "c.json", &["--json"]);
    let mut v = read_json(&c);
    // The custodian's key signs another tree of the same size.
    let key_file = common::ledger_key_file(&w);
    let key = accord::checkpoint::LedgerKey::from_skey(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    let other = key
        .sign(&accord::checkpoint::Checkpoint {
            origin: key.origin().clone(),
            size: 3,
            root: [7; 32],
        })
        .unwrap();
    v["old_checkpoint"] = serde_json::Value::String(String::from_utf8(other.note).unwrap());
    v["path"] = serde_json::json!([]);
    let f = w.path("fork.json");
    write_json(&f, &v);
    let e = w.fails(1, &verify_proof_args(&f, &vkey, &state(&w), &[]));
    assert!(e.contains("FORK") && e.contains("same size 3"), "{e}");
    assert_eq!(fork_evidence(&state(&w)), 2);
}

#[test]
fn a_tlog_proof_refuses_an_entry_that_differs_from_its_extra_line() {
    let (w, vkey, _) = acme_with_attestations(2);
    let p = w.prove(2, "p.tlog", &["--format", "tlog-proof"]);
    let q = w.prove(1, "q.tlog", &["--format", "tlog-proof"]);
    let other = std::fs::read_to_string(&q).unwrap();
    use base64::Engine as _;
    let b64 = other.lines().nth(1).unwrap().strip_prefix("extra ").unwrap();
    let e1 = w.path("entry1.bin");
    std::fs::write(
        &e1,
        base64::engine::general_purpose::STANDARD.decode(b64).unwrap(),
    )
    .unwrap();
    let e = w.fails(
        1,
        &verify_proof_args(&p, &vkey, &state(&w), &["--entry", e1.to_str().unwrap()]),
    );
    assert!(e.contains("differs from the one in its extra line"), "{e}");
}

#[test]
fn a_bundle_whose_entries_step_back_a_rules_version_is_refused() {
    let (w, vkey, a) = acme_with_attestations(0);
    w.attest(&a, &["no-backdoors"], "x"); // 1, version 2
                                          // A version-1 rotation after it (the ledger itself fails verify; its bundle must too).
    let a2 = w.key("acme2");
    let rot = rotation("acme", &sk(&a), &sk(&a2), accord::clock::now());
    force_append_version(&w, rot.bytes(), 1); // 2
    let p = w.prove(1, "b.proof", &[]);
    let e = w.fails(1, &verify_proof_args(&p, &vkey, &state(&w), &[]));
    assert!(e.contains("never decreases"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Issue 12's adversarial review: a file newer than the remembered checkpoint, and not linked to
// it by a consistency proof, said "OK" and exited 0 (a consistency file from an older size, a
// tlog-proof); a bundle in the same place exited 1 as if it were invalid. Each is valid in
// itself, trust is not established: exit 3, the state unchanged.

#[test]
fn a_newer_file_not_linked_to_the_remembered_checkpoint_is_valid_but_not_trusted() {
    let (w, vkey, _) = acme_with_attestations(9); // sizes 1 to 10
    let st = state(&w);
    // Remember the checkpoint of size 8.
    let c5_8 = w.consistency(5, "c5_8.json", &["--to", "8", "--json"]);
    w.ok(&verify_proof_args(&c5_8, &vkey, &st, &[]));
    // A consistency proof from 5 to 10 proves nothing about the tree at 8.
    let c5_10 = w.consistency(5, "c5_10.json", &["--json"]);
    let e = w.not_established(&verify_proof_args(&c5_10, &vkey, &st, &[]));
    assert!(
        e.contains("not linked") && e.contains("consistency --from 8"),
        "{e}"
    );
    let o = w.run(&verify_proof_args(&c5_10, &vkey, &st, &["--json"]));
    assert_eq!(o.code, 3, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["trust_established"], false, "{v}");
    assert_eq!(v["older_than_remembered"], false, "{v}");
    assert_eq!(v["remembered_size"], 8, "{v}");
    // A tlog-proof carries no consistency proof at all.
    let t = w.path("p.tlog");
    w.ok(&["prove", "1", "--format", "tlog-proof", "--out", &s(&t)]);
    let e = w.not_established(&verify_proof_args(&t, &vkey, &st, &[]));
    assert!(e.contains("not linked"), "{e}");
    // The state still holds size 8: a proof from 8 links it, and moves it.
    let c8_10 = w.consistency(8, "c8_10.json", &["--json"]);
    let out = w.ok(&verify_proof_args(&c8_10, &vkey, &st, &[]));
    assert!(
        out.starts_with("OK:") && out.contains("consistent with the checkpoint of size 8"),
        "{out}"
    );
    let v = json(&w, &verify_proof_args(&c5_10, &vkey, &st, &["--json"]));
    assert_eq!(v["trust_established"], true, "{v}");
}

// `--force` replaced the ledger's own database and secret key files (data loss: the ledger
// could never sign again). It replaces only a file accord writes as output.
#[test]
fn force_replaces_only_files_accord_wrote() {
    use std::os::unix::fs::PermissionsExt as _;
    let (w, vkey, acme) = acme_with_attestations(1);
    let db = w.ledger().join("ledger.redb");
    let ledger_key = std::path::PathBuf::from(common::ledger_key_file(&w));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let before_key = std::fs::read(&ledger_key).unwrap();
    for (target, looks) in [
        (&db, "redb database"),
        (&ledger_key, "SECRET key"),
        (&acme, "SECRET key"),
    ] {
        let t = s(target);
        for args in [
            vec!["export", "--out", &t, "--force"],
            vec!["prove", "0", "--out", &t, "--force"],
            vec!["consistency", "--from", "1", "--out", &t, "--force"],
        ] {
            let e = w.fails(2, &args);
            assert!(
                e.contains(looks) && e.contains("--force replaces only a file accord wrote"),
                "{e}"
            );
        }
    }
    assert_eq!(std::fs::read(&ledger_key).unwrap(), before_key);
    assert_eq!(mode(&ledger_key), 0o600);
    assert_eq!(mode(&acme), 0o600);
    w.ok(&verify_args(&vkey, &state(&w), &[]));
    w.attest(&acme, &["no-backdoors"], "still signs");
    // Another program's file is refused too; a file accord wrote is replaced.
    let notes = w.path("notes.txt");
    std::fs::write(&notes, "my notes\n").unwrap();
    let e = w.fails(2, &["export", "--out", &s(&notes), "--force"]);
    assert!(e.contains("not a file accord writes"), "{e}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    let out = w.path("out");
    w.ok(&["prove", "0", "--out", &s(&out)]);
    w.ok(&["export", "--out", &s(&out), "--force"]);
    w.ok(&["consistency", "--from", "1", "--out", &s(&out), "--force"]);
    w.ok(&[
        "prove",
        "1",
        "--format",
        "tlog-proof",
        "--out",
        &s(&out),
        "--force",
    ]);
    w.ok(&["prove", "1", "--format", "json", "--out", &s(&out), "--force"]);
    w.ok(&["export", "--out", &s(&out), "--force"]);
    w.ok(&[
        "verify",
        "--file",
        &s(&out),
        "--ledger-key",
        &vkey,
        "--state",
        &s(&state(&w)),
    ]);
}

// With standard error a closed pipe, accord panicked in `eprintln!` and exited 101, even after
// `register` had committed its entry (a script would retry it). What it says on standard error
// never changes its exit code.
#[test]
fn a_closed_standard_error_changes_no_exit_code() {
    let (w, vkey, _) = acme_with_attestations(1);
    let closed_stderr = |args: &[&str]| -> i32 {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = w
            .std_cmd()
            .args(args)
            .stderr(writer)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        o.code().unwrap_or(-1)
    };
    let st = s(&state(&w));
    assert_eq!(
        closed_stderr(&["verify", "--ledger-key", &vkey, "--state", &st]),
        0
    );
    let old = w.export("old.export");
    let b = w.register("beta", "Beta"); // notes on standard error, on a terminal or not
    let k = w.key("gamma");
    let reg = ["register", "--key", &s(&k), "--org", "Gamma"];
    assert_eq!(closed_stderr(&reg), 0);
    assert_eq!(
        json(&w, &["orgs", "--json"]).as_array().unwrap().len(),
        3,
        "registered once"
    );
    w.attest(&b, &["no-backdoors"], "x");
    assert_eq!(
        closed_stderr(&["verify", "--ledger-key", &vkey, "--state", &st]),
        0
    );
    let old_file = s(&old);
    let verify_old = [
        "verify",
        "--file",
        &old_file,
        "--ledger-key",
        &vkey,
        "--state",
        &st,
    ];
    assert_eq!(closed_stderr(&verify_old), 3);
    // An error is still an error.
    assert_eq!(closed_stderr(&["show", "99"]), 2);
}

// `sign --out -` wrote a file named `-`, and `append -` read that file, not standard input: a
// pipe appended a stale statement. `-` is standard output and input there as everywhere.
#[test]
fn sign_to_standard_output_pipes_into_append() {
    let (w, _, acme) = acme_with_attestations(0);
    std::fs::write(w.path("-"), b"a stale file named -").unwrap();
    let sign = |scope: &str| {
        let o = w
            .std_cmd()
            .args([
                "sign",
                "--key",
                &s(&acme),
                "--org",
                "acme",
                "--norm",
                "no-backdoors",
            ])
            .args(["--scope", scope, "--origin", common::ORIGIN, "--out", "-"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("standard output"),
            "the report goes to standard error"
        );
        o.stdout
    };
    for scope in ["FIRST", "SECOND"] {
        let statement = sign(scope);
        let mut c = w.std_cmd();
        c.args(["append", "-"]).stdin(std::process::Stdio::piped());
        c.stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), &statement).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "append - failed");
    }
    let list = w.ok(&["list"]);
    assert!(list.contains("FIRST") && list.contains("SECOND"), "{list}");
    assert_eq!(std::fs::read(w.path("-")).unwrap(), b"a stale file named -");
}

// `sign --withdraw N` / `--supersedes N` with the ledger at hand signed against another
// organisation's entry or a registration, which `append` then refused: refused at once.
#[test]
fn sign_by_index_names_only_the_signers_own_attestations() {
    let (w, _, acme) = acme_with_attestations(1); // 0 registration, 1 attestation
    let beta = w.register("beta", "Beta"); // 2
    let sign = |extra: &[&str]| {
        let mut a = vec!["sign", "--org", "beta", "--origin", common::ORIGIN, "--key"];
        let k = s(&beta);
        a.push(&k);
        a.extend_from_slice(extra);
        let out = w.path_str("x.cose");
        a.extend(["--out", &out]);
        w.fails(1, &a)
    };
    let e = sign(&["--withdraw", "1", "--reason", "r"]);
    assert!(e.contains("entry 1 belongs to \"acme\", not \"beta\""), "{e}");
    let e = sign(&["--norm", "no-backdoors", "--scope", "s", "--supersedes", "1"]);
    assert!(e.contains("only its own attestations"), "{e}");
    let e = sign(&["--withdraw", "2", "--reason", "r"]);
    assert!(e.contains("entry 2 is a registration"), "{e}");
    assert!(!w.path("x.cose").exists());
    // Its own attestation is fine.
    w.attest(&beta, &["no-backdoors"], "mine"); // 3
    let k = s(&beta);
    let out = w.path_str("ok.cose");
    let o = common::ORIGIN;
    w.ok(&[
        "sign",
        "--org",
        "beta",
        "--origin",
        o,
        "--key",
        &k,
        "--withdraw",
        "3",
        "--reason",
        "r",
        "--out",
        &out,
    ]);
    w.ok(&["append", &out]);
    let _ = acme;
}
