//! The CLI end to end: the demo story, and every bad input of the core issue with its exit code,
//! its message, and an untouched ledger.

mod common;

use common::{attest_args, json, register_args, s, withdraw_args, World};

#[test]
fn demo_runs_the_whole_story() {
    let w = World::new();
    let dir = w.path("demo");
    let out = w.ok(&["demo", "--dir", dir.to_str().unwrap()]);
    for step in [
        "$ accord",
        " init ",
        " register ",
        " attest ",
        " withdraw ",
        " verify ",
        " status",
    ] {
        assert!(out.contains(step), "demo output lacks {step:?}:\n{out}");
    }
    assert!(
        out.contains("OK: ledger demo.accord.example/pledges verified: 7 entries"),
        "{out}"
    );
    // Status after the withdrawal: contoso and northwind live, fabrikam's withdrawn one left out.
    assert!(out.contains("contoso ltd"), "{out}");
    let status_part = out.split("# Who attests what now?").nth(1).unwrap();
    assert!(
        !status_part
            .split("# Who pledges")
            .next()
            .unwrap()
            .contains("fabrikam"),
        "{status_part}"
    );
    // Everything stayed inside the demo dir.
    assert!(dir.join("ledger/ledger.redb").is_file());
    assert!(dir.join("keys/contoso.key").is_file());
    assert!(!w.path("config").exists(), "demo wrote outside its dir");
    // A second demo in the same dir refuses rather than mixing ledgers.
    w.fails(2, &["demo", "--dir", dir.to_str().unwrap()]);
}

#[test]
fn demo_never_prints_secret_keys() {
    let w = World::new();
    let dir = w.path("demo");
    let out = w.run(&["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0);
    let all = format!("{}{}", out.stdout, out.stderr);
    for entry in std::fs::read_dir(dir.join("keys")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "key") {
            let text = std::fs::read_to_string(&p).unwrap();
            let secret = text.trim().split(':').nth(1).unwrap();
            assert!(!all.contains(secret), "secret of {} printed", p.display());
        }
    }
    let lk = std::fs::read_to_string(dir.join("custodian/ledger.key")).unwrap();
    // PRIVATE+KEY+<name>+<id>+<base64>: the base64 itself may contain '+'.
    let secret = lk.trim().splitn(5, '+').nth(4).unwrap();
    assert!(secret.len() >= 44, "{secret}");
    assert!(!all.contains(secret), "ledger secret printed");
}

#[test]
fn init_prints_vkey_and_keeps_the_key_outside_the_ledger() {
    let w = World::new();
    let vkey = w.init();
    assert!(vkey.starts_with("test.example/ledger+"), "{vkey}");
    let key = w.path("config/accord/ledgers/test.example_ledger.key");
    assert!(key.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(!key.starts_with(w.ledger()));
    assert_eq!(w.ledger_key(), vkey);
    let cp = w.checkpoint();
    assert!(
        cp.starts_with(
            "test.example/ledger\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— test.example/ledger "
        ),
        "{cp}"
    );
    // A second init is refused, and the first ledger is untouched.
    w.fails(2, &["init", "--origin", "test.example/ledger"]);
    w.unchanged(&cp);
}

#[test]
fn full_cycle_list_show_status_json() {
    let w = World::new();
    let vkey = w.init();
    let acme = w.register("acme", "Acme Corp");
    let out = w.attest(&acme, &["no-backdoors", "patch-all-customers"], "Acme Cloud");
    assert!(out.contains("index 1"), "{out}");
    let list = json(&w, &["list", "--json"]);
    let arr = list.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    for (i, e) in arr.iter().enumerate() {
        assert_eq!(e["index"], i as u64);
        assert_eq!(e["org"], "acme corp");
        assert_eq!(e["statement_id"].as_str().unwrap().len(), 64);
        assert!(e["logged_at"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(arr[0]["kind"], "registration");
    assert_eq!(arr[1]["kind"], "attestation");
    let status = json(&w, &["status", "--json"]);
    let s = status.as_array().unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["index"], 1);
    assert_eq!(
        s[0]["norms"],
        serde_json::json!(["no-backdoors", "patch-all-customers"])
    );
    assert_eq!(s[0]["scope"], serde_json::json!(["Acme Cloud"]));
    assert!(s[0]["expires"].is_null());
    let id = arr[1]["statement_id"].as_str().unwrap();
    let shown = json(&w, &["show", id, "--json"]);
    assert_eq!(shown["index"], 1);
    w.withdraw(&acme, id, "retired");
    assert_eq!(w.ok(&["status", "--json"]).trim(), "[]");
    let all = json(&w, &["status", "--all", "--json"]);
    assert_eq!(all[0]["state"], "withdrawn");
    let v = json(&w, &["verify", "--ledger-key", &vkey, "--json"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["entries"], 3);
    assert_eq!(v["ledger_key_source"], "argument");
    // Filters.
    assert_eq!(
        w.ok(&["list", "--norm", "no-backdoors", "--json"])
            .matches("\"index\"")
            .count(),
        1
    );
    assert_eq!(
        w.ok(&["list", "--org", "ACME CORP", "--json"])
            .matches("\"index\"")
            .count(),
        3
    );
}

#[test]
fn verify_says_which_key_it_used() {
    let w = World::new();
    w.init();
    let o = w.run(&["verify"]);
    assert_eq!(o.code, 0);
    assert!(o.stderr.contains("recorded at init"), "{}", o.stderr);
}

#[test]
fn verify_with_another_ledgers_key_fails() {
    let w = World::new();
    w.init();
    let other = World::new();
    let vkey = other.init();
    let e = w.fails(1, &["verify", "--ledger-key", &vkey]);
    assert!(e.contains("checkpoint"), "{e}");
}

#[test]
fn sign_then_append_many_all_or_none() {
    let w = World::new();
    w.init();
    let acme = w.register("acme", "Acme Corp");
    let k = acme.to_str().unwrap();
    let f1 = w.path("a.cose");
    let f2 = w.path("b.cose");
    w.ok(&[
        "sign",
        "--key",
        k,
        "--org",
        "Acme Corp",
        "--norm",
        "no-backdoors",
        "--scope",
        "X",
        "--out",
        f1.to_str().unwrap(),
    ]);
    w.ok(&[
        "sign",
        "--key",
        k,
        "--org",
        "acme corp",
        "--origin",
        "test.example/ledger",
        "--norm",
        "patch-all-customers",
        "--scope",
        "Y",
        "--out",
        f2.to_str().unwrap(),
    ]);
    let cp = w.checkpoint();
    // The same file twice: refused whole.
    let e = w.fails(1, &["append", f1.to_str().unwrap(), f1.to_str().unwrap()]);
    assert!(e.contains("twice"), "{e}");
    w.unchanged(&cp);
    let out = w.ok(&["append", f1.to_str().unwrap(), f2.to_str().unwrap()]);
    assert!(out.contains("index 1") && out.contains("index 2"), "{out}");
    // Appending again: already in the ledger.
    let e = w.fails(1, &["append", f2.to_str().unwrap()]);
    assert!(e.contains("already in the ledger at entry 2"), "{e}");
    let cp = w.checkpoint();
    assert!(cp.starts_with("test.example/ledger\n3\n"), "{cp}");
}

// ---- bad input: each a clear error, the documented exit code, the ledger unchanged ----

fn world_with_acme() -> (World, std::path::PathBuf, String) {
    let w = World::new();
    w.init();
    let acme = w.register("acme", "Acme Corp");
    w.attest(&acme, &["no-backdoors"], "Acme Cloud");
    let cp = w.checkpoint();
    (w, acme, cp)
}

#[test]
fn unknown_norm_is_a_usage_error() {
    let (w, acme, cp) = world_with_acme();
    let e = w.fails(2, &attest_args(&acme, &["no-backdoor"], "X"));
    assert!(e.contains("no-backdoor"), "{e}");
    assert!(e.contains("no-backdoors"), "no suggestion: {e}");
    w.unchanged(&cp);
}

#[test]
fn empty_scope_is_a_usage_error() {
    let (w, acme, cp) = world_with_acme();
    let e = w.fails(2, &attest_args(&acme, &["no-backdoors"], ""));
    assert!(e.contains("scope"), "{e}");
    w.unchanged(&cp);
}

#[test]
fn expiry_before_issue_is_a_usage_error() {
    let (w, acme, cp) = world_with_acme();
    let expiring = |expires| {
        let mut a = attest_args(&acme, &["no-backdoors"], "X");
        a.extend(["--expires", expires]);
        a
    };
    let e = w.fails(2, &expiring("2001-01-01"));
    assert!(e.contains("not after the issue time"), "{e}");
    let e = w.fails(2, &expiring("next week"));
    assert!(e.contains("invalid date"), "{e}");
    w.unchanged(&cp);
}

#[test]
fn bad_key_files_are_refused() {
    let (w, acme, cp) = world_with_acme();
    let attest = |key: &std::path::Path| w.fails(2, &attest_args(key, &["no-backdoors"], "X"));
    let e = attest(&w.path("missing.key"));
    assert!(e.contains("missing.key"), "{e}");
    let text = std::fs::read_to_string(&acme).unwrap();
    let trunc = w.path("trunc.key");
    std::fs::write(&trunc, &text[..20]).unwrap();
    set_mode(&trunc, 0o600);
    let e = attest(&trunc);
    assert!(e.contains("trunc.key"), "{e}");
    let e = attest(&acme.with_extension("pub"));
    assert!(e.contains("public key file"), "{e}");
    let open = w.path("open.key");
    std::fs::write(&open, &text).unwrap();
    set_mode(&open, 0o644);
    let e = attest(&open);
    assert!(e.contains("readable by group or others"), "{e}");
    w.unchanged(&cp);
}

fn set_mode(p: &std::path::Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (p, mode);
}

#[test]
fn unregistered_key_is_refused() {
    let (w, _acme, cp) = world_with_acme();
    let stranger = w.key("stranger");
    // Refused as the ledger's rules refuse a statement file it signed (issue 12): exit 1.
    let e = w.fails(1, &attest_args(&stranger, &["no-backdoors"], "X"));
    assert!(e.contains("not registered"), "{e}");
    w.unchanged(&cp);
}

#[test]
fn second_registration_of_a_name_is_refused_after_normalisation() {
    let (w, _acme, cp) = world_with_acme();
    let k = w.key("acme2");
    for name in ["Acme Corp", "ACME CORP", "acme corp"] {
        let e = w.fails(1, &["register", "--key", k.to_str().unwrap(), "--org", name]);
        assert!(e.contains("already registered"), "{e}");
    }
    // NFC: "é" precomposed vs combining.
    let k3 = w.key("cafe");
    w.ok(&["register", "--key", k3.to_str().unwrap(), "--org", "Caf\u{e9} SA"]);
    let cp2 = w.checkpoint();
    let k4 = w.key("cafe2");
    let e = w.fails(1, &register_args(&s(&k4), "CAFE\u{301} sa", None));
    assert!(e.contains("already registered"), "{e}");
    assert_ne!(cp, cp2);
    w.unchanged(&cp2);
}

#[test]
fn withdrawals_of_others_or_of_nothing_are_refused() {
    let (w, acme, _) = world_with_acme();
    let beta = w.register("beta", "Beta GmbH");
    let cp = w.checkpoint();
    // Refused by the ledger's rules: 1; an entry that does not resolve: 2 (issue 12).
    let e = w.fails(1, &withdraw_args(&beta, "1", "x"));
    assert!(e.contains("belongs to \"acme corp\""), "{e}");
    let e = w.fails(2, &withdraw_args(&acme, "99", "x"));
    assert!(e.contains("no entry 99"), "{e}");
    let e = w.fails(2, &withdraw_args(&acme, &"ab".repeat(32), "x"));
    assert!(e.contains("no entry has statement id"), "{e}");
    let e = w.fails(1, &withdraw_args(&acme, "0", "x"));
    assert!(e.contains("registration"), "{e}");
    w.unchanged(&cp);
}

#[test]
fn missing_or_uninitialised_ledger() {
    let w = World::new();
    let k = w.key("acme");
    let e = w.fails(2, &["verify"]);
    assert!(e.contains("no ledger at"), "{e}");
    let e = w.fails(2, &["register", "--key", k.to_str().unwrap(), "--org", "Acme"]);
    assert!(e.contains("no ledger at"), "{e}");
    let f = w.path("x.cose");
    std::fs::write(&f, b"whatever").unwrap();
    let e = w.fails(2, &["append", f.to_str().unwrap()]);
    assert!(e.contains("no ledger at"), "{e}");
    assert!(!w.ledger().join("ledger.redb").exists());
}

#[test]
fn ledger_in_use_is_exit_2() {
    let (w, acme, cp) = world_with_acme();
    let attest = attest_args(&acme, &["no-backdoors"], "X");
    let held = accord::store::Store::open(&w.ledger()).unwrap();
    let o = w
        .cmd()
        .env("ACCORD_LOCK_WAIT", "1")
        .args(attest)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("waiting for another accord process") && e.contains("in use"),
        "{e}"
    );
    drop(held);
    w.unchanged(&cp);
    // A process that waits its turn gets it when the holder finishes.
    let held = accord::store::Store::open(&w.ledger()).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(700));
        drop(held);
    });
    w.attest(&acme, &["no-backdoors"], "Waited");
    release.join().unwrap();
}

#[test]
fn help_teaches_and_lists_exit_codes() {
    let w = World::new();
    let h = w.ok(&["--help"]);
    assert!(h.contains("Exit codes"), "{h}");
    for c in [
        "init", "register", "attest", "sign", "append", "withdraw", "verify", "status", "demo",
    ] {
        assert!(h.contains(c), "{c} missing from help");
    }
    let e = w.run(&["attest"]);
    assert_eq!(e.code, 2);
}

#[test]
fn text_from_statements_cannot_forge_terminal_output() {
    // A note may hold line feeds, and any text may hold bidirectional controls: shown on a
    // terminal, they are escaped so they cannot forge a line or reorder what is read. JSON
    // carries them exactly.
    let w = World::new();
    w.init();
    let k = w.register("acme", "Acme Corp");
    let note = "line one\n     9  evil corp   live\u{202e}gnp.exe";
    let mut with_note = attest_args(&k, &["no-backdoors"], "Cloud");
    with_note.extend(["--note", note]);
    w.ok(&with_note);
    let shown = w.ok(&["show", "1"]);
    assert!(
        shown.contains("line one\\n     9  evil corp   live\\u{202e}gnp.exe"),
        "{shown}"
    );
    assert!(!shown.contains('\u{202e}'), "{shown}");
    assert!(!shown.lines().any(|l| l.starts_with("     9")), "{shown}");
    let shown = json(&w, &["show", "1", "--json"]);
    assert_eq!(shown["attestation"]["note"], note);
}
