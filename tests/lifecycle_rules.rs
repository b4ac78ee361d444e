//! `accord verify` exits 1, naming the entry, for every lifecycle entry the custodian should
//! have refused (forced into the ledger with a correct tree and a re-signed checkpoint).

mod common;

use accord::keyfile;
use accord::keys::SecretKey;
use accord::norms::Catalogue;
use accord::statement::{self, Attestation, Body, NormRef, Payload, Recovery, Revocation, Withdrawal};
use common::{force_append, World};

const ORIGIN: &str = "test.example/ledger";

fn payload(body: Body) -> Payload {
    Payload {
        origin: ORIGIN.into(),
        iat: accord::clock::now(),
        nonce: statement::random_nonce(),
        body,
    }
}

fn attestation(supersedes: Option<[u8; 32]>) -> Body {
    let n = Catalogue::embedded().get("no-backdoors").unwrap();
    Body::Attestation(Attestation {
        catalogue: 1,
        norms: vec![NormRef {
            id: n.id.clone(),
            text_hash: n.text_hash(),
        }],
        scope: vec!["X".into()],
        expires: None,
        note: None,
        supersedes,
    })
}

fn sk(path: &std::path::Path) -> SecretKey {
    keyfile::read_secret_key(path).unwrap()
}

fn id_of(w: &World, index: u64) -> [u8; 32] {
    let v: serde_json::Value = serde_json::from_str(&w.ok(&["show", &index.to_string(), "--json"])).unwrap();
    hex::decode(v["statement_id"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn verify_names(w: &World, index: u64, what: &str) {
    let e = w.fails(1, &["verify"]);
    assert!(e.contains(&format!("entry {index}")), "{e}");
    assert!(e.contains(what), "expected {what:?}: {e}");
}

fn setup() -> (World, std::path::PathBuf, std::path::PathBuf) {
    let w = World::new();
    w.init();
    let rec = w.key("acme-rec");
    let a = w.key("acme");
    w.ok(&[
        "register",
        "--key",
        a.to_str().unwrap(),
        "--org",
        "Acme",
        "--recovery-key",
        rec.with_extension("pub").to_str().unwrap(),
    ]);
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1
    (w, a, rec)
}

/// A genuine recovery of Acme with `rec`, installing a new key and a new recovery key.
fn recover_once(w: &World, rec: &std::path::Path) {
    let n1 = w.key("n1");
    let next = w.key("next-rec");
    w.ok(&[
        "key",
        "recover",
        "--recovery-key",
        rec.to_str().unwrap(),
        "--new",
        n1.with_extension("pub").to_str().unwrap(),
        "--next-recovery-key",
        next.with_extension("pub").to_str().unwrap(),
        "--reason",
        "lost",
    ]);
}

#[test]
fn statement_by_a_rotated_away_key() {
    let (w, a, _) = setup();
    let a2 = w.key("acme2");
    w.ok(&[
        "key",
        "rotate",
        "--key",
        a.to_str().unwrap(),
        "--new",
        a2.to_str().unwrap(),
    ]); // 2
    let st = statement::sign(&payload(attestation(None)), "acme", &sk(&a)).unwrap();
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "stopped speaking");
    // An offline bundle for that entry carries the rotation in its key history and fails too.
    let vkey = w.ok(&["ledger-key"]).trim().to_string();
    let f = w.path("bad.proof");
    w.ok(&["prove", &i.to_string(), "--out", f.to_str().unwrap()]);
    let e = w.fails(
        1,
        &[
            "verify-proof",
            f.to_str().unwrap(),
            "--ledger-key",
            &vkey,
            "--state",
            w.path("st").to_str().unwrap(),
        ],
    );
    assert!(e.contains("did not speak"), "{e}");
    // While a bundle for the entry by the new key (index 2 is the rotation itself) verifies.
    let g = w.path("rot.proof");
    w.ok(&["prove", "2", "--out", g.to_str().unwrap()]);
    let out = w.ok(&[
        "verify-proof",
        g.to_str().unwrap(),
        "--ledger-key",
        &vkey,
        "--state",
        w.path("st").to_str().unwrap(),
    ]);
    assert!(out.contains("1 key-history entries checked"), "{out}");
}

#[test]
fn statement_by_a_revoked_key() {
    let (w, a, _) = setup();
    w.ok(&["key", "revoke", "--key", a.to_str().unwrap(), "--reason", "lost"]);
    let st = statement::sign(&payload(attestation(None)), "acme", &sk(&a)).unwrap();
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "stopped speaking");
}

#[test]
fn revocation_signed_by_another_organisations_key() {
    let (w, a, _) = setup();
    let b = w.register("beta", "Beta");
    let target = sk(&a).public().kid();
    let st = statement::sign(
        &payload(Body::Revocation(Revocation {
            target,
            reason: "x".into(),
        })),
        "acme",
        &sk(&b),
    )
    .unwrap();
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "registered to \"beta\"");
}

#[test]
fn recovery_with_a_key_that_does_not_match() {
    let (w, _, _) = setup();
    let wrong = SecretKey::generate();
    let body = Body::Recovery(Recovery {
        recovery_key: wrong.public(),
        new_key: SecretKey::generate().public(),
        next_recovery: [1; 32],
        compromised_since: None,
        reason: "x".into(),
    });
    let st = statement::sign(&payload(body), "acme", &wrong).unwrap();
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "does not match");
}

#[test]
fn recovery_key_used_twice() {
    let (w, _, rec) = setup();
    recover_once(&w, &rec);
    let body = Body::Recovery(Recovery {
        recovery_key: sk(&rec).public(),
        new_key: SecretKey::generate().public(),
        next_recovery: [2; 32],
        compromised_since: None,
        reason: "again".into(),
    });
    let st = statement::sign(&payload(body), "acme", &sk(&rec)).unwrap();
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "already used");
}

#[test]
fn a_spent_recovery_key_committed_to_again_still_cannot_recover() {
    // Found by the independent verifier: the rule compared only the current commitment, so a
    // spent recovery key that something committed to again worked a second time.
    let (w, _, rec) = setup();
    recover_once(&w, &rec); // 2
                            // Another organisation registers committing to the spent key (3; the CLI refuses that,
                            // so it is forced in: the ledger rules allow the commitment), then tries it (4).
    let b = w.key("beta");
    let e = w.fails(
        2,
        &[
            "register",
            "--key",
            b.to_str().unwrap(),
            "--org",
            "Beta",
            "--recovery-key",
            rec.with_extension("pub").to_str().unwrap(),
        ],
    );
    assert!(e.contains("already used"), "{e}");
    let reg = Body::Registration(accord::statement::Registration {
        name: "Beta".into(),
        public_key: sk(&b).public(),
        domain: None,
        contact: None,
        recovery: Some(sk(&rec).public().kid()),
    });
    let st = statement::sign(&payload(reg), "beta", &sk(&b)).unwrap();
    assert_eq!(force_append(&w, st.bytes()), 3);
    w.ok(&["verify"]);
    let body = Body::Recovery(Recovery {
        recovery_key: sk(&rec).public(),
        new_key: SecretKey::generate().public(),
        next_recovery: [2; 32],
        compromised_since: None,
        reason: "again".into(),
    });
    let st = statement::sign(&payload(body), "beta", &sk(&rec)).unwrap();
    let i = force_append(&w, st.bytes());
    assert_eq!(i, 4);
    verify_names(&w, i, "already used");
}

#[test]
fn a_recovery_cannot_commit_to_its_own_key_or_the_new_signing_key() {
    let rec = SecretKey::generate();
    let new = SecretKey::generate();
    for (next, what) in [
        (rec.public().kid(), "works once"),
        (new.public().kid(), "new signing key"),
    ] {
        let body = Body::Recovery(Recovery {
            recovery_key: rec.public(),
            new_key: new.public(),
            next_recovery: next,
            compromised_since: None,
            reason: "lost".into(),
        });
        let e = statement::sign(&payload(body), "acme", &rec)
            .unwrap_err()
            .to_string();
        assert!(e.contains(what), "expected {what:?}: {e}");
    }
}

#[test]
fn withdrawal_and_supersede_of_another_organisations_entry() {
    let (w, _, _) = setup();
    let b = w.register("beta", "Beta");
    let target = id_of(&w, 1);
    let st = statement::sign(
        &payload(Body::Withdrawal(Withdrawal {
            target,
            reason: "x".into(),
        })),
        "beta",
        &sk(&b),
    )
    .unwrap();
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "belongs to \"acme\"");

    let (w, _, _) = setup();
    let b = w.register("beta", "Beta");
    let target = id_of(&w, 1);
    let st = statement::sign(&payload(attestation(Some(target))), "beta", &sk(&b)).unwrap();
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "belongs to \"acme\"");
}

#[test]
fn forced_valid_entry_verifies() {
    // The helper itself is honest: a valid statement forced in verifies.
    let (w, a, _) = setup();
    let st = statement::sign(&payload(attestation(None)), "acme", &sk(&a)).unwrap();
    force_append(&w, st.bytes());
    w.ok(&["verify"]);
}
