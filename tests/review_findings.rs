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
