//! `verify-proof` applies to a bundle what docs/FORMAT.md sections 7 and 8 ask of it:
//! every key-history item, before or after the entry, is a key change of the organisation;
//! every statement a bundle holds respects the ledger's log time bound; and an entry a
//! recovery in the bundle's own key history made untrusted is reported as such.
//!
//! Bundles with wrong content are built from genuine ones (JSON form, altered), or proved from
//! ledgers into which `force_append` put what the custodian should have refused: the
//! checkpoints stay genuinely signed by the ledger key either way.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use accord::keys::SecretKey;
use accord::norms::Catalogue;
use accord::rules::MAX_FUTURE_SKEW;
use accord::statement;
use common::{
    acme_with_recovery, attestation, check_schema, flip_first_hex_digit, force_append, payload_at, read_json,
    registration, rotation, schema, sk, verify_proof_args, Out, World, ORIGIN,
};
use serde_json::{json, Value};

/// `prove INDEX --json` (optionally at a checkpoint size), parsed.
fn prove(w: &World, index: u64, at_size: Option<u64>) -> Value {
    let name = format!(
        "p{index}-{}.json",
        at_size.map_or("latest".into(), |n| n.to_string())
    );
    let _ = std::fs::remove_file(w.path(&name));
    let n = at_size.map(|n| n.to_string());
    let mut extra = vec!["--json"];
    if let Some(n) = &n {
        extra.extend(["--at-size", n]);
    }
    read_json(&w.prove(index, &name, &extra))
}

/// Writes a (possibly altered) JSON bundle to a file.
fn write(w: &World, name: &str, b: &Value) -> PathBuf {
    let f = w.path(name);
    std::fs::write(&f, serde_json::to_string_pretty(b).unwrap()).unwrap();
    f
}

/// `verify-proof FILE --ledger-key VKEY` with a fresh state directory, so that no remembered
/// checkpoint bears on the verdict.
fn verify_proof(w: &World, f: &Path, extra: &[&str]) -> Out {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let vk = w.ledger_key();
    let st = w.path(&format!(
        "verifier-state-{}",
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    w.run(&verify_proof_args(f, &vk, &st, extra))
}

fn verify_proof_ok(w: &World, f: &Path, extra: &[&str]) -> String {
    let o = verify_proof(w, f, extra);
    assert_eq!(
        o.code,
        0,
        "verify-proof {}: {}{}",
        f.display(),
        o.stdout,
        o.stderr
    );
    o.stdout
}

/// Requires `verify-proof` to refuse the bundle (exit 1) with a message holding every `what`.
fn refused(w: &World, f: &Path, what: &[&str]) -> String {
    let o = verify_proof(w, f, &[]);
    assert_eq!(
        o.code,
        1,
        "verify-proof {} should refuse it:\n{}{}",
        f.display(),
        o.stdout,
        o.stderr
    );
    assert!(o.stderr.contains("verification FAILED"), "{}", o.stderr);
    for x in what {
        assert!(o.stderr.contains(x), "expected {x:?} in: {}", o.stderr);
    }
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    o.stderr
}

/// The key-history item form of the entry a bundle proves (same checkpoint, same proof).
fn as_item(b: &Value) -> Value {
    json!({
        "leaf_index": b["leaf_index"],
        "inclusion_path": b["inclusion_path"],
        "entry": b["entry"],
    })
}

/// An issued-at time the ledger rules refuse for a statement logged now (or a little later).
fn too_late() -> i64 {
    accord::clock::now() + 10 * MAX_FUTURE_SKEW
}

// ---------------------------------------------------------------------------------------------
// 1. Key-history items at or after the entry are key changes of the organisation.

/// 0: Acme registers, 1 and 2: attestations, 3: withdrawal of 2, 4: rotation.
fn acme_ledger() -> (World, PathBuf) {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme");
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1
    w.attest(&a, &["secure-development"], "Acme Mail"); // 2
    w.withdraw(&a, "2", "sold"); // 3
    let a2 = w.key("acme2");
    w.rotate(&a, &a2); // 4
    (w, a2)
}

#[test]
fn key_history_items_after_the_entry_must_be_key_changes() {
    let (w, _) = acme_ledger();
    // The genuine bundle of entry 1 holds the rotation after it, and verifies.
    let b1 = prove(&w, 1, None);
    assert_eq!(b1["key_history"].as_array().unwrap().len(), 1);
    assert_eq!(b1["key_history"][0]["leaf_index"], 4);
    verify_proof_ok(&w, &write(&w, "genuine.json", &b1), &[]);
    // An attestation (2) or a withdrawal (3) of the organisation, genuinely in the tree, slipped
    // into the key history after the entry, before the rotation or after it.
    for (j, kind) in [(2u64, "attestation"), (3, "withdrawal")] {
        let item = as_item(&prove(&w, j, None));
        let mut b = b1.clone();
        b["key_history"] = json!([item, b1["key_history"][0]]);
        let f = write(&w, &format!("{kind}-before-rotation.json"), &b);
        refused(
            &w,
            &f,
            &[
                &format!("key_history: item 0 (entry {j})"),
                kind,
                "not a rotation, revocation or recovery",
            ],
        );
        // Alone after the entry, with the rotation left out.
        let mut b = b1.clone();
        b["key_history"] = json!([item]);
        refused(
            &w,
            &write(&w, &format!("{kind}-alone.json"), &b),
            &[&format!("key_history: item 0 (entry {j})"), kind],
        );
    }
    // In CBOR too: the same altered bundle, converted with the library.
    let item = as_item(&prove(&w, 2, None));
    let mut b = b1.clone();
    b["key_history"] = json!([item, b1["key_history"][0]]);
    let file = accord::proofs::ProofFile::from_json(&serde_json::to_string(&b).unwrap()).unwrap();
    let f = w.path("attestation-after.proof");
    std::fs::write(&f, file.to_cbor().unwrap()).unwrap();
    refused(&w, &f, &["key_history: item 0 (entry 2)", "attestation"]);
    // The library says the same.
    let vk = accord::checkpoint::VerifierKey::parse(&w.ledger_key()).unwrap();
    let accord::proofs::ProofFile::Bundle(bundle) = file else {
        panic!("not a bundle")
    };
    let e = bundle.verify(&vk, Catalogue::embedded()).unwrap_err();
    assert!(e.to_string().contains("item 0 (entry 2)"), "{e}");
}

#[test]
fn the_entry_itself_in_key_history_must_be_a_key_change() {
    let (w, _) = acme_ledger();
    // Entry 1, an attestation, listed in its own key history (same bytes, same proof).
    let b1 = prove(&w, 1, None);
    let mut b = b1.clone();
    b["key_history"] = json!([as_item(&b1), b1["key_history"][0]]);
    refused(
        &w,
        &write(&w, "self.json", &b),
        &["key_history: item 0 (entry 1)", "attestation"],
    );
    // While the rotation (4) proved with itself in its key history verifies.
    let b4 = prove(&w, 4, None);
    assert_eq!(b4["key_history"], json!([as_item(&b4)]));
    let out = verify_proof_ok(&w, &write(&w, "rotation.json", &b4), &[]);
    assert!(out.starts_with("OK: entry 4 (rotation"), "{out}");
}

#[test]
fn every_key_history_item_is_named_when_it_fails() {
    let (w, a2) = acme_ledger();
    // 5: a second rotation, so the bundle of entry 1 holds two items after the entry.
    let a3 = w.key("acme3");
    w.rotate(&a2, &a3);
    let b1 = prove(&w, 1, None);
    assert_eq!(b1["key_history"].as_array().unwrap().len(), 2);
    verify_proof_ok(&w, &write(&w, "genuine.json", &b1), &[]);
    // The second item replaced by the withdrawal (3): out of order, named by its position.
    let mut b = b1.clone();
    b["key_history"][1] = as_item(&prove(&w, 3, None));
    refused(
        &w,
        &write(&w, "order.json", &b),
        &["key_history: item 1 (entry 3)", "strictly increasing"],
    );
    // The second item's inclusion proof altered.
    let mut b = b1.clone();
    let h = b["key_history"][1]["inclusion_path"][0].as_str().unwrap();
    b["key_history"][1]["inclusion_path"][0] = json!(flip_first_hex_digit(h));
    refused(
        &w,
        &write(&w, "path.json", &b),
        &["key_history: item 1 (entry 5)", "inclusion proof"],
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The log time bound: iat ≤ logged_at + MAX_FUTURE_SKEW for every statement a bundle holds.

#[test]
fn entry_issued_too_long_after_it_was_logged_is_refused() {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme");
    // Within the bound: accepted by the ledger rules and by the bundle.
    let ok = statement::sign(
        &payload_at(
            ORIGIN,
            accord::clock::now() + MAX_FUTURE_SKEW - 60,
            attestation("Acme Cloud", None),
        ),
        "acme",
        &sk(&a),
    )
    .unwrap();
    let i = force_append(&w, ok.bytes());
    w.ok(&["verify"]);
    verify_proof_ok(&w, &write(&w, "ok.json", &prove(&w, i, None)), &[]);
    // Beyond it: `verify` refuses the ledger, `verify-proof` the bundle.
    let late = statement::sign(
        &payload_at(ORIGIN, too_late(), attestation("Acme Cloud", None)),
        "acme",
        &sk(&a),
    )
    .unwrap();
    let j = force_append(&w, late.bytes());
    common::verify_fails(&w, &[&format!("entry {j}")]);
    let f = w.path("late.proof");
    w.ok(&["prove", &j.to_string(), "--out", f.to_str().unwrap()]);
    refused(&w, &f, &["entry: issued at", "after it was logged"]);
}

#[test]
fn registration_issued_too_long_after_it_was_logged_is_refused() {
    let w = World::new();
    w.init();
    let a = w.key("acme");
    let reg = statement::sign(
        &payload_at(ORIGIN, too_late(), registration("Acme", sk(&a).public(), None)),
        "acme",
        &sk(&a),
    )
    .unwrap();
    assert_eq!(force_append(&w, reg.bytes()), 0);
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1
    let f = write(&w, "p1.json", &prove(&w, 1, None));
    refused(&w, &f, &["registration: issued at", "after it was logged"]);
}

#[test]
fn key_history_item_issued_too_long_after_it_was_logged_is_refused() {
    // Before the entry: 0 registration, 1 rotation issued too late, 2 attestation by the new key.
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme");
    let a2 = w.key("acme2");
    let i = force_append(&w, rotation("acme", &sk(&a), &sk(&a2), too_late()).bytes());
    assert_eq!(i, 1);
    w.attest(&a2, &["no-backdoors"], "Acme Cloud"); // 2
    refused(
        &w,
        &write(&w, "before.json", &prove(&w, 2, None)),
        &[
            "key_history: item 0 (entry 1)",
            "issued at",
            "after it was logged",
        ],
    );

    // After the entry: 0 registration, 1 attestation, 2 rotation issued too late.
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme");
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1
    let b1 = prove(&w, 1, None);
    verify_proof_ok(&w, &write(&w, "before-rotation.json", &b1), &[]);
    let i = force_append(
        &w,
        rotation("acme", &sk(&a), &SecretKey::generate(), too_late()).bytes(),
    );
    assert_eq!(i, 2);
    refused(
        &w,
        &write(&w, "after.json", &prove(&w, 1, None)),
        &[
            "key_history: item 0 (entry 2)",
            "issued at",
            "after it was logged",
        ],
    );
    // Proved with the rotation itself (the entry is then in its own key history): both fail.
    refused(
        &w,
        &write(&w, "itself.json", &prove(&w, 2, None)),
        &["entry: issued at"],
    );
}

// ---------------------------------------------------------------------------------------------
// 3. An entry a recovery in the bundle's key history made untrusted is reported as such.

fn verify_proof_json(w: &World, f: &Path) -> Value {
    let out = verify_proof_ok(w, f, &["--json"]);
    check_schema("verify-proof.schema.json", &out);
    serde_json::from_str(&out).unwrap()
}

#[test]
fn bundles_report_what_verify_reports_as_untrusted() {
    let (w, a, rec) = acme_with_recovery(); // 0
    let rec2 = w.key("acme-rec2");
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1
    let a2 = w.key("acme2");
    w.rotate(&a, &a2); // 2 (void: after the compromise)
    w.attest(&a2, &["no-backdoors"], "Thief Cloud"); // 3, by the key the void rotation installed
    let b = w.register("beta", "Beta"); // 4: another organisation
    w.attest(&b, &["no-backdoors"], "Beta Cloud"); // 5
    let before_recovery = 6;
    let a3 = w.key("acme3");
    w.recover(&rec, &a3, &rec2, Some("2020-01-01"), "key stolen"); // 6
    w.attest(&a3, &["no-backdoors"], "Acme Cloud"); // 7
    let v = common::json(&w, &["verify", "--json"]);
    let untrusted: Vec<u64> = v["untrusted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    // The registration (0) is never untrusted: its commitment authorises the recovery.
    assert_eq!(untrusted, [1, 2, 3]);
    for i in 0..8u64 {
        let f = write(&w, &format!("b{i}.json"), &prove(&w, i, None));
        let j = verify_proof_json(&w, &f);
        assert_eq!(j["ok"], true);
        let expected = untrusted.contains(&i);
        assert_eq!(j["untrusted"], expected, "entry {i}: {j}");
        if expected {
            assert_eq!(j["untrusted_by"]["recovery_index"], 6, "{j}");
            assert_eq!(
                j["untrusted_by"]["compromised_since"], "2020-01-01T00:00:00Z",
                "{j}"
            );
            let m = j["untrusted_by"]["message"].as_str().unwrap();
            assert!(m.contains("recovery at entry 6"), "{m}");
            let human = verify_proof_ok(&w, &f, &[]);
            assert!(human.starts_with(&format!("OK: entry {i} ")), "{human}");
            assert!(
                human.contains(&format!(
                    "UNTRUSTED: entry {i} is untrusted according to the recovery at entry 6"
                )),
                "{human}"
            );
        } else {
            assert_eq!(j["untrusted_by"], Value::Null, "entry {i}: {j}");
            assert!(!verify_proof_ok(&w, &f, &[]).contains("UNTRUSTED"));
        }
    }
    // Proved at a checkpoint before the recovery, the bundle cannot know: not reported.
    for i in 0..before_recovery {
        let f = write(
            &w,
            &format!("early{i}.json"),
            &prove(&w, i, Some(before_recovery)),
        );
        let j = verify_proof_json(&w, &f);
        assert_eq!(j["untrusted"], false, "entry {i}: {j}");
    }
}

#[test]
fn untrusted_follows_the_compromise_time() {
    fn after(t: i64) {
        while accord::clock::now() <= t {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let (w, a, rec) = acme_with_recovery(); // 0
    let rec2 = w.key("acme-rec2");
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1, logged at or before t
    let t = accord::clock::now();
    after(t);
    w.attest(&a, &["secure-development"], "Thief Cloud"); // 2, logged after t
    let a2 = w.key("acme2");
    w.recover(&rec, &a2, &rec2, Some(&accord::time::format(t)), "key stolen"); // 3
    let v = common::json(&w, &["verify", "--json"]);
    assert_eq!(v["untrusted"], json!([2]), "{v}");
    for (i, expected) in [(0u64, false), (1, false), (2, true), (3, false)] {
        let j = verify_proof_json(&w, &write(&w, &format!("b{i}.json"), &prove(&w, i, None)));
        assert_eq!(j["untrusted"], expected, "entry {i}: {j}");
    }
    // The CBOR bundle and the library report the same.
    let f = w.path("b2.proof");
    w.ok(&["prove", "2", "--out", f.to_str().unwrap()]);
    assert!(verify_proof_ok(&w, &f, &[]).contains("UNTRUSTED: entry 2"));
    let accord::proofs::ProofFile::Bundle(b) =
        accord::proofs::ProofFile::parse(&std::fs::read(&f).unwrap()).unwrap()
    else {
        panic!("not a bundle")
    };
    let vk = accord::checkpoint::VerifierKey::parse(&w.ledger_key()).unwrap();
    let r = b.verify(&vk, Catalogue::embedded()).unwrap();
    assert_eq!(
        r.untrusted_by,
        Some(accord::proofs::UntrustedBy {
            recovery_index: 3,
            compromised_since: t
        })
    );
}

#[test]
fn verify_proof_json_matches_its_schema() {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme");
    w.attest(&a, &["no-backdoors"], "Acme Cloud");
    w.attest(&a, &["secure-development"], "Acme Mail");
    let b = write(&w, "b.json", &prove(&w, 1, None));
    let j = verify_proof_json(&w, &b);
    assert_eq!(j["untrusted"], false);
    let c = w.consistency(2, "c.json", &["--json"]);
    check_schema("verify-proof.schema.json", &verify_proof_ok(&w, &c, &["--json"]));
    // The schema is not vacuous.
    let v = schema("verify-proof.schema.json");
    let mut bad = j.clone();
    bad.as_object_mut().unwrap().remove("untrusted");
    assert!(!v.is_valid(&bad));
    let mut bad = j.clone();
    bad["untrusted_by"] = json!({"recovery_index": "x"});
    assert!(!v.is_valid(&bad));
    assert!(!v.is_valid(&json!({"ok": true})));
}
