//! Regression tests for what an adversarial review of the binary found (issue 10, "beyond the
//! list"): each test is named for the way accord misled its user.

mod common;

use common::{json, tick, World};

fn state(w: &World) -> String {
    w.path("st").to_str().unwrap().to_string()
}

/// A ledger with Acme registered and `n` attestations: (world, vkey, Acme's key).
fn ledger(n: usize) -> (World, String, std::path::PathBuf) {
    let w = World::new();
    let vkey = w.init();
    let a = w.register("acme", "Acme");
    for i in 0..n {
        w.attest(&a, &["no-backdoors"], &format!("product {i}"));
    }
    (w, vkey, a)
}

#[test]
fn a_damaged_consistency_path_is_refused_but_never_called_a_fork() {
    let (w, vkey, _) = ledger(4);
    let c = w.path("c.json");
    w.ok(&[
        "consistency",
        "--from",
        "2",
        "--json",
        "--out",
        c.to_str().unwrap(),
    ]);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&c).unwrap()).unwrap();
    let h = v["path"][0].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]);
    v["path"][0] = serde_json::Value::String(flipped);
    let d = w.path("damaged.json");
    std::fs::write(&d, serde_json::to_string(&v).unwrap()).unwrap();
    let e = w.fails(
        1,
        &[
            "verify-proof",
            d.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--state",
            &state(&w),
        ],
    );
    assert!(
        e.contains("not evidence of a fork") && !e.contains("FORK:"),
        "{e}"
    );
    let forks = std::fs::read_dir(w.path("st"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("fork-")
            })
            .count()
        })
        .unwrap_or(0);
    assert_eq!(forks, 0, "a damaged path was kept as fork evidence");
    // The honest ledger still verifies with that state.
    w.ok(&["verify", "--ledger-key", &vkey, "--state", &state(&w)]);
}

#[test]
fn remembered_checkpoints_belong_to_a_ledger_key_not_to_an_origin() {
    let (w, vkey, _) = ledger(1);
    // Another ledger that happens to use the same origin, verified with its own key.
    let other = World::new();
    let other_vkey = other.init();
    assert_ne!(vkey, other_vkey);
    let ob = other.register("beta", "Beta");
    other.attest(&ob, &["no-backdoors"], "x");
    other.attest(&ob, &["no-backdoors"], "y");
    other.ok(&["verify", "--ledger-key", &other_vkey, "--state", &state(&w)]);
    // The genuine ledger, untouched, still verifies against what it remembered.
    w.ok(&["verify", "--ledger-key", &vkey, "--state", &state(&w)]);
    w.ok(&["verify", "--ledger-key", &vkey, "--state", &state(&w)]);
    let f = w.path("l.export");
    w.ok(&["export", "--out", f.to_str().unwrap()]);
    w.ok(&[
        "verify",
        "--file",
        f.to_str().unwrap(),
        "--ledger-key",
        &vkey,
        "--state",
        &state(&w),
    ]);
}

#[test]
fn a_remembered_empty_tree_does_not_block_bundles() {
    let w = World::new();
    let vkey = w.init();
    w.ok(&["verify", "--ledger-key", &vkey, "--state", &state(&w)]);
    let a = w.register("acme", "Acme");
    w.attest(&a, &["no-backdoors"], "Acme Cloud");
    let p = w.path("p.proof");
    w.ok(&["prove", "1", "--out", p.to_str().unwrap()]);
    let o = w.ok(&[
        "verify-proof",
        p.to_str().unwrap(),
        "--ledger-key",
        &vkey,
        "--state",
        &state(&w),
    ]);
    assert!(o.starts_with("OK: entry 1"), "{o}");
}

#[test]
fn verify_counts_as_in_force_only_pledges_not_expired() {
    let (w, vkey, a) = ledger(0);
    tick();
    let soon = accord::time::format(accord::clock::now() + 2);
    w.ok(&[
        "attest",
        "--key",
        a.to_str().unwrap(),
        "--norm",
        "no-backdoors",
        "--scope",
        "Cloud",
        "--expires",
        &soon,
    ]);
    w.attest(&a, &["no-backdoors"], "Mail");
    let v = json(
        &w,
        &["verify", "--ledger-key", &vkey, "--json", "--state", &state(&w)],
    );
    assert_eq!(v["live_attestations"], 2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let v = json(
        &w,
        &["verify", "--ledger-key", &vkey, "--json", "--state", &state(&w)],
    );
    assert_eq!(v["live_attestations"], 1, "{v}");
    let live = json(&w, &["status", "--json"]);
    assert_eq!(live.as_array().unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn a_state_directory_inside_a_world_writable_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let (w, vkey, _) = ledger(1);
    let open = w.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let st = open.join("st");
    let e = w.fails(
        2,
        &["verify", "--ledger-key", &vkey, "--state", st.to_str().unwrap()],
    );
    assert!(e.contains("anyone can write") && e.contains("sticky"), "{e}");
    // With the sticky bit (as /tmp has), it is accepted.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    w.ok(&["verify", "--ledger-key", &vkey, "--state", st.to_str().unwrap()]);
}

#[test]
fn a_file_name_cannot_paint_a_line_on_the_terminal() {
    let (w, vkey, _) = ledger(1);
    let name = "x\r\u{1b}[2KOK: entry 3 is included\u{1b}[8m";
    let f = w.path(name);
    std::fs::write(&f, b"\x84\x01").unwrap();
    let e = w.fails(
        1,
        &[
            "verify-proof",
            f.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--state",
            &state(&w),
        ],
    );
    assert!(!e.contains('\r') && !e.contains('\u{1b}'), "{e:?}");
    assert!(e.contains("\\r") && e.contains("\\u{1b}"), "{e:?}");
}

#[test]
fn error_messages_say_each_cause_once() {
    let (w, vkey, _) = ledger(1);
    let e = w.fails(2, &["verify-proof", "no-such.proof", "--ledger-key", &vkey]);
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    let f = w.path("short.proof");
    std::fs::write(&f, b"\x84\x01").unwrap();
    let e = w.fails(
        1,
        &[
            "verify-proof",
            f.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--state",
            &state(&w),
        ],
    );
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
    w.ok(&[
        "register",
        "--key",
        a.to_str().unwrap(),
        "--org",
        "Acme",
        "--recovery-key",
        rec.with_extension("pub").to_str().unwrap(),
    ]); // 0, logged after `since`
    w.attest(&a, &["no-backdoors"], "thief's"); // 1
    let n = w.key("acme-new");
    let next = w.key("acme-rec-2");
    w.ok(&[
        "key",
        "recover",
        "--recovery-key",
        rec.to_str().unwrap(),
        "--new",
        n.with_extension("pub").to_str().unwrap(),
        "--next-recovery-key",
        next.with_extension("pub").to_str().unwrap(),
        "--compromised-since",
        &since,
        "--reason",
        "stolen",
    ]); // 2
    let v = json(
        &w,
        &["verify", "--ledger-key", &vkey, "--json", "--state", &state(&w)],
    );
    assert_eq!(v["untrusted"], serde_json::json!([1]), "{v}");
    let p = w.path("reg.proof");
    w.ok(&["prove", "0", "--out", p.to_str().unwrap()]);
    let j = json(
        &w,
        &[
            "verify-proof",
            p.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--json",
            "--state",
            &state(&w),
        ],
    );
    assert_eq!(j["untrusted"], false, "{j}");
}

// ---------------------------------------------------------------------------------------------
// A second review: the Python verifier held against FORMAT.md alone, and the binary against both.

const ORIGIN: &str = "test.example/ledger";

fn sk(w: &World, name: &str) -> accord::keys::SecretKey {
    accord::keyfile::read_secret_key(&w.path(&format!("keys/{name}.key"))).unwrap()
}

fn signed(body: accord::statement::Body, iss: &str, key: &accord::keys::SecretKey) -> Vec<u8> {
    let p = accord::statement::Payload {
        origin: ORIGIN.into(),
        iat: accord::clock::now(),
        nonce: accord::statement::random_nonce(),
        body,
    };
    accord::statement::sign(&p, iss, key).unwrap().into_bytes()
}

fn recovery(w: &World, rec: &str, new: &str, next: &str, since: Option<i64>) -> Vec<u8> {
    use accord::statement::{Body, Recovery};
    let r = sk(w, rec);
    signed(
        Body::Recovery(Recovery {
            recovery_key: r.public(),
            new_key: sk(w, new).public(),
            next_recovery: sk(w, next).public().kid(),
            compromised_since: since,
            reason: "test".into(),
        }),
        "cyan ltd",
        &r,
    )
}

#[test]
fn a_recovery_committing_to_an_installed_signing_key_is_refused() {
    let w = World::new();
    w.init();
    for k in ["c0", "c1", "cr0"] {
        w.key(k);
    }
    w.ok(&[
        "register",
        "--key",
        w.path("keys/c0.key").to_str().unwrap(),
        "--org",
        "Cyan Ltd",
        "--recovery-key",
        w.path("keys/cr0.pub").to_str().unwrap(),
    ]);
    let cp = w.checkpoint();
    // The next recovery key would be Cyan's own (installed) signing key: two keys in one.
    let e = w.fails(
        2,
        &[
            "key",
            "recover",
            "--recovery-key",
            w.path("keys/cr0.key").to_str().unwrap(),
            "--new",
            w.path("keys/c1.pub").to_str().unwrap(),
            "--next-recovery-key",
            w.path("keys/c0.pub").to_str().unwrap(),
            "--reason",
            "lost",
        ],
    );
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
    use accord::statement::{Body, Registration};
    let c0 = sk(&w, "c0");
    let reg = signed(
        Body::Registration(Registration {
            name: "Cyan Ltd".into(),
            public_key: c0.public(),
            domain: None,
            contact: None,
            recovery: Some(sk(&w, "cr0").public().kid()),
        }),
        "cyan ltd",
        &c0,
    );
    common::force_append_version(&w, &reg, 1); // 0
    tick();
    let since = accord::clock::now();
    tick();
    common::force_append_version(&w, &recovery(&w, "cr0", "c1", "c0", None), 1); // 1
    common::force_append_version(&w, &recovery(&w, "c0", "c2", "cr2", None), 1); // 2
    common::force_append_version(&w, &recovery(&w, "cr2", "c3", "cr3", Some(since)), 1); // 3
    let v = json(
        &w,
        &["verify", "--ledger-key", &vkey, "--json", "--state", &state(&w)],
    );
    assert_eq!(v["untrusted"], serde_json::json!([]), "{v}");
    let p = w.path("r.proof");
    w.ok(&["prove", "2", "--out", p.to_str().unwrap()]);
    let j = json(
        &w,
        &[
            "verify-proof",
            p.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--json",
            "--state",
            &state(&w),
        ],
    );
    assert_eq!(j["untrusted"], false, "{j}");
}

#[test]
fn two_signed_checkpoints_of_one_size_with_different_roots_are_kept_as_fork_evidence() {
    let (w, vkey, _) = ledger(2);
    let c = w.path("c.json");
    w.ok(&[
        "consistency",
        "--from",
        "2",
        "--json",
        "--out",
        c.to_str().unwrap(),
    ]);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&c).unwrap()).unwrap();
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
    std::fs::write(&f, serde_json::to_string(&v).unwrap()).unwrap();
    let e = w.fails(
        1,
        &[
            "verify-proof",
            f.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--state",
            &state(&w),
        ],
    );
    assert!(e.contains("FORK") && e.contains("same size 3"), "{e}");
    let forks = std::fs::read_dir(w.path("st"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("fork-")
        })
        .count();
    assert_eq!(forks, 2);
}

#[test]
fn a_tlog_proof_refuses_an_entry_that_differs_from_its_extra_line() {
    let (w, vkey, _) = ledger(2);
    let p = w.path("p.tlog");
    w.ok(&[
        "prove",
        "2",
        "--format",
        "tlog-proof",
        "--out",
        p.to_str().unwrap(),
    ]);
    let q = w.path("q.tlog");
    w.ok(&[
        "prove",
        "1",
        "--format",
        "tlog-proof",
        "--out",
        q.to_str().unwrap(),
    ]);
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
        &[
            "verify-proof",
            p.to_str().unwrap(),
            "--entry",
            e1.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--state",
            &state(&w),
        ],
    );
    assert!(e.contains("differs from the one in its extra line"), "{e}");
}

#[test]
fn a_bundle_whose_entries_step_back_a_rules_version_is_refused() {
    let (w, vkey, a) = ledger(0);
    w.attest(&a, &["no-backdoors"], "x"); // 1, version 2
                                          // A version-1 rotation after it (the ledger itself fails verify; its bundle must too).
    let a2 = w.key("acme2");
    use accord::statement::{Acceptance, Body, Rotation};
    let old = accord::keyfile::read_secret_key(&a).unwrap();
    let new = accord::keyfile::read_secret_key(&a2).unwrap();
    let acc = {
        let p = accord::statement::Payload {
            origin: ORIGIN.into(),
            iat: accord::clock::now(),
            nonce: accord::statement::random_nonce(),
            body: Body::Acceptance(Acceptance {
                public_key: new.public(),
                replaces: old.public().kid(),
            }),
        };
        accord::statement::sign(&p, "acme", &new).unwrap()
    };
    let rot = signed(
        Body::Rotation(Rotation {
            acceptance: Box::new(acc),
        }),
        "acme",
        &old,
    );
    common::force_append_version(&w, &rot, 1); // 2
    let p = w.path("b.proof");
    w.ok(&["prove", "1", "--out", p.to_str().unwrap()]);
    let e = w.fails(
        1,
        &[
            "verify-proof",
            p.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--state",
            &state(&w),
        ],
    );
    assert!(e.contains("never decreases"), "{e}");
}
