//! Regression tests for the trust repairs of issue 10: each test is named for the way accord
//! could be made to say something false, and goes through the real binary where the fault was
//! seen there.

mod common;

use accord::keys::{self, SecretKey};
use accord::statement::{self, Acceptance, Body, Payload, Registration, Rotation};
use common::{force_append, World};

const ORIGIN: &str = "test.example/ledger";

fn payload(body: Body) -> Payload {
    Payload {
        origin: ORIGIN.into(),
        iat: accord::time::now(),
        nonce: statement::random_nonce(),
        body,
    }
}

fn sk(path: &std::path::Path) -> SecretKey {
    keys::read_secret_key(path).unwrap()
}

/// A ledger where Acme registered with a recovery key: (world, Acme's key, its recovery key).
fn acme_with_recovery() -> (World, std::path::PathBuf, std::path::PathBuf) {
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
    (w, a, rec)
}

/// A rotation by `old` to `new`, with the acceptance signed by `new`.
fn rotation(old: &SecretKey, new: &SecretKey) -> statement::Statement {
    let acceptance = statement::sign(
        &payload(Body::Acceptance(Acceptance {
            public_key: new.public(),
            replaces: old.public().kid(),
        })),
        "acme",
        new,
    )
    .unwrap();
    statement::sign(
        &payload(Body::Rotation(Rotation {
            acceptance: Box::new(acceptance),
        })),
        "acme",
        old,
    )
    .unwrap()
}

#[test]
fn rotating_to_the_committed_recovery_key_is_refused() {
    let (w, a, rec) = acme_with_recovery();
    let cp = w.checkpoint();
    let o = w.run(&[
        "key",
        "rotate",
        "--key",
        a.to_str().unwrap(),
        "--new",
        rec.to_str().unwrap(),
    ]);
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("committed recovery key"), "{}", o.stderr);
    w.unchanged(&cp);
    // The same rotation signed offline and given to `append` is refused by the ledger rule.
    let st = rotation(&sk(&a), &sk(&rec));
    let f = w.path("rot.cose");
    std::fs::write(&f, st.bytes()).unwrap();
    let e = w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains("committed recovery key"), "{e}");
    w.unchanged(&cp);
}

#[test]
fn a_forced_rotation_to_the_recovery_key_fails_verify() {
    let (w, a, rec) = acme_with_recovery();
    let i = force_append(&w, rotation(&sk(&a), &sk(&rec)).bytes());
    let e = w.fails(1, &["verify"]);
    assert!(e.contains(&format!("entry {i}")), "{e}");
    assert!(e.contains("committed recovery key"), "{e}");
}

#[test]
fn a_registration_committing_to_its_own_key_as_recovery_is_refused() {
    let w = World::new();
    w.init();
    let a = sk(&w.key("acme"));
    let reg = statement::sign(
        &payload(Body::Registration(Registration {
            name: "Acme".into(),
            public_key: a.public(),
            domain: None,
            contact: None,
            recovery: Some(a.public().kid()),
        })),
        "acme",
        &a,
    )
    .unwrap();
    let cp = w.checkpoint();
    let f = w.path("reg.cose");
    std::fs::write(&f, reg.bytes()).unwrap();
    let e = w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains("committed recovery key"), "{e}");
    w.unchanged(&cp);
    let i = force_append(&w, reg.bytes());
    let e = w.fails(1, &["verify"]);
    assert!(e.contains(&format!("entry {i}")) && e.contains("committed recovery key"), "{e}");
}
