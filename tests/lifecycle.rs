//! The signatory lifecycle through the binary: recovery keys, rotation, revocation, recovery
//! after a stolen key with a compromise time in the past, supersedes, status at several dates,
//! history, and an HSM-style detached signature.

mod common;

use common::{
    attest_args, json, live, now_rfc3339, public, read_json, recover_args, revoke_args, s, sk, states, tick,
    World,
};

#[test]
fn whole_lifecycle() {
    let w = World::new();
    w.init();
    let k1 = w.key("acme-1");
    let k2 = w.key("acme-2");
    let k3 = w.key("acme-3");
    let rec1 = w.key("acme-recovery-1");
    let rec2 = w.key("acme-recovery-2");

    // 0: registration committing to a recovery key.
    w.register_with_recovery(&k1, "Acme Corp", &rec1);
    // 1: attestation by k1.
    w.attest(&k1, &["no-backdoors"], "Acme Cloud");
    tick();
    let t_before_rotation = now_rfc3339();
    tick();
    // 2: rotation k1 -> k2.
    w.rotate(&k1, &k2);
    // k1 no longer speaks for Acme: refused by the ledger's rules, exit 1 (issue 12).
    let e = w.fails(1, &attest_args(&k1, &["patch-all-customers"], "X"));
    assert!(e.contains("stopped speaking"), "{e}");
    // 3: k2 attests, superseding entry 1.
    let mut superseding = attest_args(&k2, &["no-backdoors", "patch-all-customers"], "Acme Cloud");
    superseding.extend(["--supersedes", "1"]);
    w.ok(&superseding);
    assert_eq!(
        states(&w, &[]),
        vec![(1, "superseded".into()), (3, "live".into())]
    );
    // At a time before the rotation, entry 1 was live and entry 3 did not exist yet.
    assert_eq!(
        states(&w, &["--at", &t_before_rotation]),
        vec![(1, "live".into())]
    );
    tick();
    let t_clean = now_rfc3339();
    tick();

    // The thief steals k2: 4: attestation by the thief, 5: rotation to the thief's key k3.
    w.attest(&k2, &["no-offensive-aid"], "Thief Cloud");
    w.rotate(&k2, &k3);
    // 6: thief attests with k3.
    w.attest(&k3, &["no-hack-back"], "Thief Mail");
    // A recovery with the wrong recovery key is refused (by the rules: exit 1).
    let e = w.fails(
        1,
        &recover_args(&s(&rec2), &public(&k1), &public(&rec1), None, "x"),
    );
    assert!(e.contains("no organisation"), "{e}");
    // 7: recovery with the committed key, compromise since t_clean: ends k3, installs a new key.
    let k4 = w.key("acme-4");
    w.recover(&rec1, &k4, &rec2, Some(&t_clean), "signing key stolen");
    // A recovery key works once.
    let e = w.fails(
        1,
        &recover_args(&s(&rec1), &public(&k1), &public(&rec2), None, "again"),
    );
    assert!(e.contains("no organisation") || e.contains("already used"), "{e}");
    // The thief's key no longer works; the new one does (8).
    let e = w.fails(1, &attest_args(&k3, &["no-backdoors"], "X"));
    assert!(e.contains("stopped speaking"), "{e}");
    w.attest(&k4, &["secure-development"], "Acme Cloud");

    // verify: exit 0, lists 4, 5, 6 as untrusted.
    let v = json(&w, &["verify", "--json"]);
    assert_eq!(v["untrusted"], serde_json::json!([4, 5, 6]), "{v}");
    assert_eq!(v["rotations"], 2);
    assert_eq!(v["recoveries"], 1);
    // status leaves untrusted ones out; --all flags them.
    assert_eq!(live(&w), vec![3, 8]);
    let all = states(&w, &[]);
    assert!(
        all.contains(&(4, "untrusted".into())) && all.contains(&(6, "untrusted".into())),
        "{all:?}"
    );
    // Each live attestation shows the key that signed it.
    let st = json(&w, &["status", "--json", "--org", "ACME CORP"]);
    assert_eq!(st[0]["kid"].as_str().unwrap().len(), 64);
    // history: the whole story, untrusted flagged.
    let h = json(&w, &["history", "--org", "acme corp", "--json"]);
    let kinds: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "registration",
            "attestation",
            "rotation",
            "attestation",
            "attestation",
            "rotation",
            "attestation",
            "recovery",
            "attestation"
        ]
    );
    assert_eq!(h[0]["registration"]["recovery_key_committed"], true);
    assert_eq!(h[5]["untrusted"], true);
    assert_eq!(h[2]["untrusted"], false);
    let text = w.ok(&["history", "--org", "acme corp"]);
    assert!(text.contains("UNTRUSTED"), "{text}");
    // An offline bundle for the attestation by the recovered-in key carries the key history.
    let vkey = w.ledger_key();
    let f = w.prove(8, "p8.json", &["--json"]);
    let b = read_json(&f);
    assert_eq!(b["key_history"].as_array().unwrap().len(), 3);
    let out = w.ok(&["verify-proof", f.to_str().unwrap(), "--ledger-key", &vkey]);
    assert!(out.contains("3 key-history entries checked"), "{out}");
}

#[test]
fn revocation_rules() {
    let w = World::new();
    w.init();
    let a1 = w.register("a1", "Acme");
    let a2 = w.key("a2");
    w.rotate(&a1, &a2);
    // An ended key cannot revoke anything.
    let kid2 = json(&w, &["history", "--org", "acme", "--json"])[1]["key_change"]["installs"]
        .as_str()
        .unwrap()
        .to_string();
    let e = w.fails(1, &revoke_args(&a1, Some(&kid2), "x"));
    assert!(e.contains("stopped speaking"), "{e}");
    // Another organisation's key cannot be revoked.
    let b = w.register("b", "Beta");
    let e = w.fails(1, &revoke_args(&b, Some(&kid2), "x"));
    assert!(e.contains("belongs to"), "{e}");
    // The current key cannot revoke the key it replaced: that one has already ended, and the
    // message says so (it once blamed the target for signing).
    let kid1 = json(&w, &["history", "--org", "acme", "--json"])[0]["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let e = w.fails(1, &revoke_args(&a2, Some(&kid1), "x"));
    assert!(e.contains("nothing left to revoke"), "{e}");
    assert!(!e.contains("signed by key"), "{e}");
    // A key revokes itself; afterwards it cannot sign.
    w.ok(&revoke_args(&a2, None, "retired"));
    let e = w.fails(1, &attest_args(&a2, &["no-backdoors"], "X"));
    assert!(e.contains("stopped speaking"), "{e}");
    // Without a recovery key the organisation cannot be recovered; register, status and
    // history say so.
    let c = w.key("c");
    let o = w.run(&["register", "--key", &s(&c), "--org", "Gamma"]);
    assert!(o.stderr.contains("WITHOUT a recovery key"), "{}", o.stderr);
    w.attest(&c, &["no-backdoors"], "G");
    let st = json(&w, &["status", "--json", "--org", "gamma"]);
    assert_eq!(st[0]["recovery_key_committed"], false);
    assert!(w.ok(&["status", "--org", "gamma"]).contains("no recovery key"));
    assert!(w.ok(&["history", "--org", "gamma"]).contains("[no recovery key]"));
    w.ok(&["verify"]);
}

#[test]
fn hsm_detached_signature() {
    let w = World::new();
    w.init();
    let k = w.register("acme", "Acme Corp");
    let pubf = k.with_extension("pub");
    let tbs = w.path("att.tbs");
    w.ok(&[
        "sign",
        "--public-key",
        pubf.to_str().unwrap(),
        "--org",
        "Acme Corp",
        "--norm",
        "no-backdoors",
        "--scope",
        "Acme HSM",
        "--emit-tbs",
        tbs.to_str().unwrap(),
    ]);
    // The "HSM": sign the exact bytes with the secret key, outside accord.
    let sig = sk(&k).sign(&std::fs::read(&tbs).unwrap());
    let sigf = w.path("att.sig");
    std::fs::write(&sigf, hex::encode(sig)).unwrap();
    let st = w.path("att.cose");
    w.ok(&[
        "sign",
        "--tbs",
        tbs.to_str().unwrap(),
        "--signature",
        sigf.to_str().unwrap(),
        "--public-key",
        pubf.to_str().unwrap(),
        "--out",
        st.to_str().unwrap(),
    ]);
    w.ok(&["append", st.to_str().unwrap()]);
    assert_eq!(json(&w, &["status", "--json"])[0]["scope"][0], "Acme HSM");
    // A wrong signature is refused before anything is written.
    let bad = w.path("bad.sig");
    let mut s2 = sig;
    s2[0] ^= 1;
    std::fs::write(&bad, s2).unwrap();
    let e = w.fails(
        1,
        &[
            "sign",
            "--tbs",
            tbs.to_str().unwrap(),
            "--signature",
            bad.to_str().unwrap(),
            "--public-key",
            pubf.to_str().unwrap(),
            "--out",
            w.path("x.cose").to_str().unwrap(),
        ],
    );
    assert!(e.contains("does not verify"), "{e}");
    assert!(!w.path("x.cose").exists());
}

#[test]
fn openssh_public_keys_register_recovery_keys() {
    let w = World::new();
    w.init();
    let k = w.key("acme");
    let rec = accord::keys::SecretKey::generate();
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(&rec.public().to_bytes());
    use base64::Engine as _;
    let line = format!(
        "ssh-ed25519 {} recovery@acme\n",
        base64::engine::general_purpose::STANDARD.encode(&blob)
    );
    let f = w.path("rec_ed25519.pub");
    std::fs::write(&f, line).unwrap();
    w.ok(&[
        "register",
        "--key",
        k.to_str().unwrap(),
        "--org",
        "Acme",
        "--recovery-key",
        f.to_str().unwrap(),
    ]);
    assert_eq!(
        json(&w, &["show", "0", "--json"])["registration"]["recovery_key_committed"],
        true
    );
    // --ledger-key never takes an OpenSSH key.
    let e = w.fails(
        2,
        &["verify", "--ledger-key", &std::fs::read_to_string(&f).unwrap()],
    );
    assert!(e.contains("ledger key"), "{e}");
}

#[test]
fn encrypted_secret_keys_with_a_passphrase() {
    let w = World::new();
    w.init();
    let dir = w.path("keys");
    let o = w
        .cmd()
        .env("ACCORD_PASSPHRASE", "a long passphrase for tests")
        .args([
            "key",
            "generate",
            "enc",
            "--dir",
            dir.to_str().unwrap(),
            "--encrypt",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let key = dir.join("enc.key");
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    // Without the passphrase (no terminal, no ACCORD_PASSPHRASE): a clear error, exit 2.
    let e = w.fails(2, &["register", "--key", key.to_str().unwrap(), "--org", "Enc"]);
    assert!(e.contains("encrypted"), "{e}");
    // Wrong passphrase.
    let o = w
        .cmd()
        .env("ACCORD_PASSPHRASE", "wrong")
        .args(["register", "--key", key.to_str().unwrap(), "--org", "Enc"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot decrypt"));
    // Right passphrase.
    let o = w
        .cmd()
        .env("ACCORD_PASSPHRASE", "a long passphrase for tests")
        .args(["register", "--key", key.to_str().unwrap(), "--org", "Enc"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    w.ok(&["verify"]);
}
