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
    assert!(
        e.contains(&format!("entry {i}")) && e.contains("committed recovery key"),
        "{e}"
    );
}

/// Acme registered with a recovery key and two genuine pledges (entries 1 and 2); then a thief
/// with Acme's key withdrew one (3) and superseded the other (4) and revoked Acme's key (5);
/// then Acme recovered with a compromise time before the thief's statements (6). Returns the
/// world and the time just before the recovery.
fn stolen_key_then_recovery() -> (World, String) {
    use common::{now_rfc3339, tick};
    let (w, a, rec) = acme_with_recovery(); // 0
    let ap = a.to_str().unwrap();
    w.attest(&a, &["no-backdoors"], "Acme Cloud"); // 1
    w.attest(&a, &["patch-all-customers"], "Acme Mail"); // 2
    tick();
    let since = now_rfc3339();
    tick();
    // The thief, holding Acme's key.
    w.ok(&["withdraw", "--key", ap, "--entry", "1", "--reason", "no longer"]); // 3
    w.ok(&[
        "attest",
        "--key",
        ap,
        "--norm",
        "patch-all-customers",
        "--scope",
        "nothing",
        "--supersedes",
        "2",
    ]); // 4
    w.ok(&["key", "revoke", "--key", ap, "--reason", "thief locks Acme out"]); // 5
    tick();
    let before_recovery = now_rfc3339();
    tick();
    let n1 = w.key("acme-new");
    let next = w.key("acme-rec-2");
    w.ok(&[
        "key",
        "recover",
        "--recovery-key",
        rec.to_str().unwrap(),
        "--new",
        n1.with_extension("pub").to_str().unwrap(),
        "--next-recovery-key",
        next.with_extension("pub").to_str().unwrap(),
        "--compromised-since",
        &since,
        "--reason",
        "key stolen",
    ]); // 6
    (w, before_recovery)
}

#[test]
fn statements_made_untrusted_by_a_recovery_have_no_effect() {
    use common::{json, states};
    let (w, before_recovery) = stolen_key_then_recovery();
    // Now: both genuine pledges are live again; the thief's statements are untrusted.
    assert_eq!(
        states(&w, &[]),
        vec![(1, "live".into()), (2, "live".into()), (4, "untrusted".into())]
    );
    let live: Vec<u64> = json(&w, &["status", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["index"].as_u64().unwrap())
        .collect();
    assert_eq!(live, vec![1, 2]);
    // Before the recovery, the ledger said what the thief made it say.
    let then = states(&w, &["--at", &before_recovery]);
    assert_eq!(
        then,
        vec![
            (1, "withdrawn".into()),
            (2, "superseded".into()),
            (4, "untrusted".into())
        ]
    );
    // verify agrees, and checks the derived tables (live, ended, untrusted, keys) that the
    // custodian's append path wrote against its own replay.
    let v = json(&w, &["verify", "--json"]);
    assert_eq!(v["untrusted"], serde_json::json!([3, 4, 5]));
    assert_eq!(v["live_attestations"], 2);
    // The revocation was void: the recovery ended Acme's first key, not the thief's revocation.
    let h = json(&w, &["history", "--org", "Acme", "--json"]);
    let rec = h.as_array().unwrap().iter().find(|e| e["index"] == 6).unwrap();
    assert_eq!(rec["key_change"]["ends"].as_array().unwrap().len(), 1, "{rec}");
    // A genuine withdrawal of a pledge the thief had withdrawn is accepted now.
    let k = w.path("keys/acme-new.key");
    w.ok(&[
        "withdraw",
        "--key",
        k.to_str().unwrap(),
        "--entry",
        "1",
        "--reason",
        "retired",
    ]);
    w.ok(&["verify"]);
}

#[test]
fn verify_file_lists_untrusted_entries_from_the_one_read_of_a_pipe() {
    let (w, _) = stolen_key_then_recovery();
    let vkey = w.ok(&["ledger-key"]).trim().to_string();
    let f = w.path("l.export");
    w.ok(&["export", "--out", f.to_str().unwrap()]);
    let bytes = std::fs::read(&f).unwrap();
    // Through standard input: one read, and the untrusted entries are listed from it.
    let o = w
        .cmd()
        .args(["verify", "--file", "-", "--ledger-key", &vkey, "--json"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["untrusted"], serde_json::json!([3, 4, 5]));
}

/// Rewrites an export file with entry `index` replaced by what `f` makes of it.
fn rewrite_export(path: &std::path::Path, index: u64, f: impl Fn(&mut accord::entry::Entry)) {
    let bytes = std::fs::read(path).unwrap();
    let mut r = std::io::Cursor::new(&bytes);
    let h = accord::export::read_header(&mut r).unwrap();
    let header_end = r.position() as usize;
    let mut out = bytes[..header_end].to_vec();
    accord::export::for_each_entry(&mut r, h.size, |i, mut b| {
        if i == index {
            let mut e = accord::entry::Entry::decode(&b).unwrap();
            f(&mut e);
            b = e.encode().unwrap();
        }
        let n = b.len();
        out.extend_from_slice(&[0x59, (n >> 8) as u8, n as u8]);
        out.extend_from_slice(&b);
        Ok(())
    })
    .unwrap();
    std::fs::write(path, out).unwrap();
}

#[test]
fn verify_file_names_the_first_bad_entry_whatever_the_state_remembers() {
    let w = World::new();
    let vkey = w.init();
    let a = w.register("acme", "Acme"); // 0
    for i in 1..24 {
        w.attest(&a, &["no-backdoors"], &format!("product {i}"));
    }
    // The state remembers the checkpoint of size 24.
    let state = w.path("st");
    w.ok(&[
        "verify",
        "--ledger-key",
        &vkey,
        "--state",
        state.to_str().unwrap(),
    ]);
    for i in 24..30 {
        w.attest(&a, &["no-backdoors"], &format!("product {i}"));
    }
    let f = w.path("l.export");
    w.ok(&["export", "--out", f.to_str().unwrap()]);
    for damaged in [22u64, 23, 24] {
        let g = w.path(&format!("bad-{damaged}.export"));
        std::fs::copy(&f, &g).unwrap();
        rewrite_export(&g, damaged, |e| e.prev = [7; 32]);
        for st in [Some(&state), None] {
            let mut args = vec!["verify", "--file", g.to_str().unwrap(), "--ledger-key", &vkey];
            let other = w.path("empty-state");
            args.extend(["--state", st.unwrap_or(&other).to_str().unwrap()]);
            let e = w.fails(1, &args);
            assert!(e.contains(&format!("entry {damaged}:")), "{damaged} {st:?}: {e}");
            assert!(!e.contains("missing"), "{damaged} {st:?}: {e}");
        }
    }
}
