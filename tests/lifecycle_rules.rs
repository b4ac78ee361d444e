//! `accord verify` exits 1, naming the entry, for every lifecycle entry the custodian should
//! have refused (forced into the ledger with a correct tree and a re-signed checkpoint).

mod common;

use accord::keys::SecretKey;
use accord::statement::{self, Body, Recovery, Revocation, Withdrawal};
use common::{
    acme_with_recovery, attestation, force_append, payload, public, register_args, registration, s, signed,
    sk, verify_names, verify_proof_args, World,
};

fn id_of(w: &World, index: u64) -> [u8; 32] {
    let v = common::json(w, &["show", &index.to_string(), "--json"]);
    hex::decode(v["statement_id"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// [`acme_with_recovery`], then an attestation by Acme (entry 1).
fn setup() -> (World, std::path::PathBuf, std::path::PathBuf) {
    let (w, a, rec) = acme_with_recovery();
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1
    (w, a, rec)
}

/// A genuine recovery of Acme with `rec`, installing a new key and a new recovery key.
fn recover_once(w: &World, rec: &std::path::Path) {
    let n1 = w.key("n1");
    let next = w.key("next-rec");
    w.recover(rec, &n1, &next, None, "lost");
}

#[test]
fn statement_by_a_rotated_away_key() {
    let (w, a, _) = setup();
    let a2 = w.key("acme2");
    w.rotate(&a, &a2); // 2
    let st = signed(attestation("X", None), "acme", &sk(&a));
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "stopped speaking");
    // An offline bundle for that entry carries the rotation in its key history and fails too.
    let vkey = w.ledger_key();
    let state = w.path("st");
    let f = w.prove(i, "bad.proof", &[]);
    let e = w.fails(1, &verify_proof_args(&f, &vkey, &state, &[]));
    assert!(e.contains("did not speak"), "{e}");
    // While a bundle for the entry by the new key (index 2 is the rotation itself) verifies.
    let g = w.prove(2, "rot.proof", &[]);
    let out = w.ok(&verify_proof_args(&g, &vkey, &state, &[]));
    assert!(out.contains("1 key-history entries checked"), "{out}");
}

#[test]
fn statement_by_a_revoked_key() {
    let (w, a, _) = setup();
    w.ok(&["key", "revoke", "--key", a.to_str().unwrap(), "--reason", "lost"]);
    let st = signed(attestation("X", None), "acme", &sk(&a));
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "stopped speaking");
}

#[test]
fn revocation_signed_by_another_organisations_key() {
    let (w, a, _) = setup();
    let b = w.register("beta", "Beta");
    let target = sk(&a).public().kid();
    let st = signed(
        Body::Revocation(Revocation {
            target,
            reason: "x".into(),
        }),
        "acme",
        &sk(&b),
    );
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
    let st = signed(body, "acme", &wrong);
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "does not match");
}

/// A second recovery of `iss` with the recovery key `rec` (spent by [`recover_once`]).
fn recovery_again(iss: &str, rec: &std::path::Path) -> statement::Statement {
    let body = Body::Recovery(Recovery {
        recovery_key: sk(rec).public(),
        new_key: SecretKey::generate().public(),
        next_recovery: [2; 32],
        compromised_since: None,
        reason: "again".into(),
    });
    signed(body, iss, &sk(rec))
}

#[test]
fn recovery_key_used_twice() {
    let (w, _, rec) = setup();
    recover_once(&w, &rec);
    let st = recovery_again("acme", &rec);
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
    let e = w.fails(2, &register_args(&s(&b), "Beta", Some(&public(&rec))));
    assert!(e.contains("already used"), "{e}");
    let reg = registration("Beta", sk(&b).public(), Some(sk(&rec).public().kid()));
    let st = signed(reg, "beta", &sk(&b));
    assert_eq!(force_append(&w, st.bytes()), 3);
    w.ok(&["verify"]);
    let st = recovery_again("beta", &rec);
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
    let st = signed(
        Body::Withdrawal(Withdrawal {
            target,
            reason: "x".into(),
        }),
        "beta",
        &sk(&b),
    );
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "belongs to \"acme\"");

    let (w, _, _) = setup();
    let b = w.register("beta", "Beta");
    let target = id_of(&w, 1);
    let st = signed(attestation("X", Some(target)), "beta", &sk(&b));
    let i = force_append(&w, st.bytes());
    verify_names(&w, i, "belongs to \"acme\"");
}

#[test]
fn forced_valid_entry_verifies() {
    // The helper itself is honest: a valid statement forced in verifies.
    let (w, a, _) = setup();
    let st = signed(attestation("X", None), "acme", &sk(&a));
    force_append(&w, st.bytes());
    w.ok(&["verify"]);
}
