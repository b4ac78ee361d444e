//! Issue 12, what a first-time signatory tripped over, through the real binary: external
//! signers (HSM, cloud KMS, offline machine) for every statement kind, with keys and detached
//! signatures made by `openssl` as a real external signer; public keys in PEM and DER; entry
//! indexes in `sign`; key-id prefixes; a ledger key that moved; one exit code for a refused
//! statement; expiry dates; comma-separated norms and domains in capitals; entry ranges as
//! people write them.
//!
//! The openssl tests need `openssl` (1.1.1 or later, for `pkeyutl -rawin`) on PATH. Without it
//! they print why and pass, unless `ACCORD_REQUIRE_ALL=1`, where they fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{attest_args, json, public, s, sk, withdraw_args, World, ORIGIN};

// ---------------------------------------------------------------------------------------------
// openssl as the external signer.

/// Whether openssl can be run; if not, says so (or fails under ACCORD_REQUIRE_ALL=1).
fn openssl_here() -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => true,
        other => {
            let why = match other {
                Ok(o) => format!("exit {:?}", o.status.code()),
                Err(e) => e.to_string(),
            };
            if std::env::var("ACCORD_REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("cannot run `openssl` ({why}) and ACCORD_REQUIRE_ALL=1");
            }
            println!(
                "SKIPPED: cannot run `openssl` ({why}): external signing was not tested with a real \
                 external signer (set ACCORD_REQUIRE_ALL=1 to make this a failure)"
            );
            false
        }
    }
}

fn openssl(args: &[&str]) {
    let o = Command::new("openssl").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A key held by "an HSM": its secret stays in an openssl PEM file accord never reads; accord
/// gets its public key as PEM (`openssl pkey -pubout`) and as DER (`-outform DER`).
struct Hsm {
    secret: PathBuf,
    pem: PathBuf,
    der: PathBuf,
}

impl Hsm {
    fn new(w: &World, name: &str) -> Hsm {
        let secret = w.path(&format!("{name}.secret.pem"));
        let pem = w.path(&format!("{name}.pem"));
        let der = w.path(&format!("{name}.der"));
        openssl(&["genpkey", "-algorithm", "ed25519", "-out", &s(&secret)]);
        openssl(&["pkey", "-in", &s(&secret), "-pubout", "-out", &s(&pem)]);
        openssl(&[
            "pkey",
            "-in",
            &s(&secret),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            &s(&der),
        ]);
        Hsm { secret, pem, der }
    }

    fn kid(&self) -> String {
        hex::encode(accord::keyfile::read_public_key(&self.pem).unwrap().kid())
    }

    /// Signs the to-be-signed file `tbs` as an HSM would: pure Ed25519 over its bytes.
    fn sign(&self, tbs: &Path) -> PathBuf {
        let sig = tbs.with_extension("sig");
        openssl(&[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            &s(&self.secret),
            "-in",
            &s(tbs),
            "-out",
            &s(&sig),
        ]);
        assert_eq!(std::fs::metadata(&sig).unwrap().len(), 64);
        sig
    }
}

/// The two steps of external signing: `sign ARGS --public-key PUB --emit-tbs NAME.tbs`, the
/// signature by `signer`, then `sign --tbs --signature --public-key SIGNER.pem --out
/// NAME.cose`; returns the statement file and what the first step printed.
fn external(w: &World, args: &[&str], public_key: &Path, signer: &Hsm, name: &str) -> (PathBuf, String) {
    let tbs = w.path(&format!("{name}.tbs"));
    let mut a = vec!["sign"];
    a.extend_from_slice(args);
    let (pk, t) = (s(public_key), s(&tbs));
    a.extend(["--public-key", &pk, "--emit-tbs", &t]);
    let said = w.ok(&a);
    let sig = signer.sign(&tbs);
    let out = w.path(&format!("{name}.cose"));
    w.ok(&[
        "sign",
        "--tbs",
        &t,
        "--signature",
        &s(&sig),
        "--public-key",
        &s(&signer.pem),
        "--out",
        &s(&out),
    ]);
    (out, said)
}

/// `append FILE`; returns what it printed.
fn append(w: &World, f: &Path) -> String {
    w.ok(&["append", &s(f)])
}

#[test]
fn every_statement_kind_is_signed_by_an_external_signer() {
    if !openssl_here() {
        return;
    }
    let w = World::new();
    let vkey = w.init();
    let acme = Hsm::new(&w, "acme");
    let rec = Hsm::new(&w, "rec");
    let acme2 = Hsm::new(&w, "acme2");
    let rec2 = Hsm::new(&w, "rec2");
    let rec3 = Hsm::new(&w, "rec3");
    let org = ["--org", "Acme Corp"];

    // Registration (entry 0), committing to a recovery key given in DER.
    let (f, said) = external(
        &w,
        &[&org[..], &["--register", "--recovery-key", &s(&rec.der)]].concat(),
        &acme.pem,
        &acme,
        "register",
    );
    assert!(said.contains(&acme.kid()[..16]), "{said}");
    assert!(append(&w, &f).contains("index 0"));

    // Attestations (1, 2), the second superseding the first by entry index; a withdrawal (3)
    // by entry index; the public key given in DER for once.
    let attest = [
        &org[..],
        &[
            "--norm",
            "no-backdoors,patch-all-customers",
            "--scope",
            "Acme Mail",
        ],
    ]
    .concat();
    let (f, _) = external(&w, &attest, &acme.pem, &acme, "attest");
    assert!(append(&w, &f).contains("index 1"));
    let renew = [
        &org[..],
        &[
            "--norm",
            "no-backdoors",
            "--scope",
            "Acme Mail",
            "--supersedes",
            "1",
        ],
    ]
    .concat();
    let (f, _) = external(&w, &renew, &acme.der, &acme, "renew");
    assert!(append(&w, &f).contains("index 2"));
    let (f, _) = external(
        &w,
        &[&org[..], &["--withdraw", "2", "--reason", "retired"]].concat(),
        &acme.pem,
        &acme,
        "withdraw",
    );
    assert!(append(&w, &f).contains("withdrawal"));

    // Rotation (4) from one external key to another: the new key's acceptance first, then the
    // rotation that carries it.
    let (acceptance, said) = external(
        &w,
        &[&org[..], &["--rotate", "--new", &s(&acme2.pem)]].concat(),
        &acme.pem,
        &acme2,
        "accept",
    );
    assert!(
        said.contains(&acme2.kid()[..16]) && said.contains("--acceptance"),
        "{said}"
    );
    let (f, _) = external(
        &w,
        &["--rotate", "--acceptance", &s(&acceptance)],
        &acme.pem,
        &acme,
        "rotate",
    );
    assert!(append(&w, &f).contains("rotation"));

    // Revocation (5) of the new key by itself, named by 16 hex digits of its key id.
    let (f, _) = external(
        &w,
        &[
            &org[..],
            &[
                "--revoke",
                "--target",
                &acme2.kid()[..16],
                "--reason",
                "HSM decommissioned",
            ],
        ]
        .concat(),
        &acme2.pem,
        &acme2,
        "revoke",
    );
    assert!(append(&w, &f).contains("revocation"));

    // Recovery (6) by the recovery key kept "offline", installing a key made by accord and
    // committing to the next recovery key (PEM).
    let k3 = w.key("acme3");
    let (f, _) = external(
        &w,
        &[
            &org[..],
            &[
                "--recover",
                "--new",
                &public(&k3),
                "--next-recovery-key",
                &s(&rec2.pem),
                "--reason",
                "keys lost",
            ],
        ]
        .concat(),
        &rec.pem,
        &rec,
        "recover",
    );
    assert!(append(&w, &f).contains("recovery"));

    // The installed key speaks for Acme; the second recovery key recovers once more, offline
    // (no ledger: --origin given), with a secret new key signing nothing.
    w.attest(&k3, &["no-backdoors"], "Acme Cloud");
    let k4 = w.key("acme4");
    let (f, _) = external(
        &w,
        &[
            &org[..],
            &[
                "--ledger",
                &w.path_str("nowhere"),
                "--origin",
                ORIGIN,
                "--recover",
                "--new",
                &s(&k4),
                "--next-recovery-key",
                &s(&rec3.der),
                "--compromised-since",
                "2020-01-01",
                "--reason",
                "stolen",
            ],
        ]
        .concat(),
        &rec2.der,
        &rec2,
        "recover2",
    );
    append(&w, &f);
    w.attest(&k4, &["no-backdoors"], "Acme Cloud");

    assert_eq!(
        common::kinds(&w),
        [
            "registration",
            "attestation",
            "attestation",
            "withdrawal",
            "rotation",
            "revocation",
            "recovery",
            "attestation",
            "recovery",
            "attestation"
        ]
    );
    let v = json(&w, &["verify", "--ledger-key", &vkey, "--json"]);
    assert_eq!(v["ok"], true);
}

#[test]
fn a_rotation_by_an_external_old_key_to_a_new_key_here_is_one_round() {
    if !openssl_here() {
        return;
    }
    let w = World::new();
    w.init();
    let old = Hsm::new(&w, "old");
    let (f, _) = external(&w, &["--org", "Acme", "--register"], &old.pem, &old, "register");
    append(&w, &f);
    let new = w.key("new");
    let (f, said) = external(
        &w,
        &["--org", "Acme", "--rotate", "--new", &s(&new)],
        &old.pem,
        &old,
        "rotate",
    );
    assert!(said.contains("a rotation, signed by the current key"), "{said}");
    append(&w, &f);
    w.attest(&new, &["no-backdoors"], "X");
    w.ok(&["verify"]);
}

#[test]
fn external_signing_refuses_what_cannot_be_right() {
    if !openssl_here() {
        return;
    }
    let w = World::new();
    w.init();
    let a = Hsm::new(&w, "a");
    let b = Hsm::new(&w, "b");
    let new = Hsm::new(&w, "new");
    // A rotation to a key held elsewhere cannot be signed in one go.
    let e = w.fails(
        2,
        &[
            "sign",
            "--org",
            "Acme",
            "--rotate",
            "--new",
            &s(&new.pem),
            "--key",
            &s(&w.key("k")),
            "--out",
            "r.cose",
        ],
    );
    assert!(e.contains("acceptance") && e.contains("--emit-tbs"), "{e}");
    // An acceptance that replaces another key than the one signing the rotation.
    let (acc, _) = external(
        &w,
        &["--org", "Acme", "--rotate", "--new", &s(&new.pem)],
        &a.pem,
        &new,
        "acc",
    );
    let tbs = w.path("rot.tbs");
    let e = w.fails(
        2,
        &[
            "sign",
            "--rotate",
            "--acceptance",
            &s(&acc),
            "--public-key",
            &s(&b.pem),
            "--emit-tbs",
            &s(&tbs),
        ],
    );
    assert!(e.contains("replaces key") && e.contains(&a.kid()[..16]), "{e}");
    assert!(!tbs.exists());
    // A signature by the wrong key is refused when the statement is assembled.
    let t = w.path("att.tbs");
    w.ok(&[
        "sign",
        "--org",
        "Acme",
        "--norm",
        "no-backdoors",
        "--scope",
        "X",
        "--public-key",
        &s(&a.pem),
        "--emit-tbs",
        &s(&t),
    ]);
    let sig = b.sign(&t);
    let e = w.fails(
        1,
        &[
            "sign",
            "--tbs",
            &s(&t),
            "--signature",
            &s(&sig),
            "--public-key",
            &s(&a.pem),
            "--out",
            "x.cose",
        ],
    );
    assert!(e.contains("does not verify"), "{e}");
    // Kinds are one at a time.
    let o = w.run(&[
        "sign",
        "--org",
        "Acme",
        "--revoke",
        "--recover",
        "--reason",
        "x",
        "--key",
        "k",
        "--out",
        "x",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}

// ---------------------------------------------------------------------------------------------
// Public keys as other tools write them.

#[test]
fn pem_and_der_public_keys_are_read_wherever_a_signatory_key_is() {
    let w = World::new();
    w.init();
    let rec = w.key("rec");
    let rec_pk = sk(&rec).public();
    let rec_pem = w.path("rec.pem");
    std::fs::write(&rec_pem, rec_pk.to_pem()).unwrap();
    let a = w.key("acme");
    w.ok(&[
        "register",
        "--key",
        &s(&a),
        "--org",
        "Acme",
        "--recovery-key",
        &s(&rec_pem),
    ]);
    let new = w.key("new");
    let new_der = w.path("new.der");
    std::fs::write(&new_der, sk(&new).public().to_spki_der()).unwrap();
    let next = w.key("next");
    let next_pem = w.path("next.pem");
    std::fs::write(&next_pem, sk(&next).public().to_pem().replace('\n', "\r\n")).unwrap();
    w.ok(&[
        "key",
        "recover",
        "--recovery-key",
        &s(&rec),
        "--new",
        &s(&new_der),
        "--next-recovery-key",
        &s(&next_pem),
        "--reason",
        "lost",
    ]);
    w.attest(&new, &["no-backdoors"], "X");

    // Strict: two keys in one PEM, a secret key, a DER of another algorithm.
    let two = w.path("two.pem");
    std::fs::write(&two, format!("{}{}", rec_pk.to_pem(), rec_pk.to_pem())).unwrap();
    let e = w.fails(
        2,
        &[
            "register",
            "--key",
            &s(&w.key("b")),
            "--org",
            "B",
            "--recovery-key",
            &s(&two),
        ],
    );
    assert!(e.contains("more than one"), "{e}");
    let secret = w.path("secret.pem");
    std::fs::write(
        &secret,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = w.fails(
        2,
        &[
            "register",
            "--key",
            &s(&w.key("c")),
            "--org",
            "C",
            "--recovery-key",
            &s(&secret),
        ],
    );
    assert!(e.contains("SECRET"), "{e}");
    let x25519 = w.path("x.der");
    let mut der = rec_pk.to_spki_der();
    der[8] = 0x6e;
    std::fs::write(&x25519, der).unwrap();
    let e = w.fails(
        2,
        &[
            "register",
            "--key",
            &s(&w.key("d")),
            "--org",
            "D",
            "--recovery-key",
            &s(&x25519),
        ],
    );
    assert!(e.contains("SubjectPublicKeyInfo"), "{e}");

    for help in [&["sign", "--help"][..], &["key", "recover", "--help"]] {
        let h = w.ok(help);
        assert!(h.contains("PEM") && h.contains("DER"), "{h}");
    }
}

// ---------------------------------------------------------------------------------------------
// Entry indexes in `sign`.

#[test]
fn sign_takes_an_entry_index_or_a_statement_id() {
    let (w, _, a) = common::acme_with_attestations(2);
    let k = s(&a);
    let id2 = json(&w, &["show", "2", "--json"])["statement_id"]
        .as_str()
        .unwrap()
        .to_string();
    // With the ledger at hand: an index.
    let f = w.path("sup.cose");
    w.ok(&[
        "sign",
        "--key",
        &k,
        "--org",
        "Acme",
        "--norm",
        "no-backdoors",
        "--scope",
        "product 0",
        "--supersedes",
        "1",
        "--out",
        &s(&f),
    ]);
    append(&w, &f);
    let f = w.path("wd.cose");
    w.ok(&[
        "sign",
        "--key",
        &k,
        "--org",
        "Acme",
        "--withdraw",
        "2",
        "--reason",
        "done",
        "--out",
        &s(&f),
    ]);
    let shown = json(
        &w,
        &["show", &append(&w, &f).lines().last().unwrap()[14..], "--json"],
    );
    assert_eq!(shown["kind"], "withdrawal");
    assert_eq!(w.ok(&["status", "--json"]).matches("\"index\"").count(), 1);

    // An index beyond the ledger, written as people write ranges.
    let e = w.fails(
        2,
        &[
            "sign",
            "--key",
            &k,
            "--org",
            "Acme",
            "--withdraw",
            "99",
            "--reason",
            "x",
            "--out",
            "x.cose",
        ],
    );
    assert!(
        e.contains("no entry 99") && e.contains("5 entries (0 to 4)"),
        "{e}"
    );
    assert!(!e.contains(".."), "{e}");

    // Offline: an index cannot be resolved, and the message says so; an id still works.
    let nowhere = w.path_str("nowhere");
    let offline = |target: &str| {
        w.run(&[
            "sign",
            "--ledger",
            &nowhere,
            "--origin",
            ORIGIN,
            "--key",
            &k,
            "--org",
            "Acme",
            "--withdraw",
            target,
            "--reason",
            "x",
            "--out",
            &w.path_str(&format!("off-{}.cose", target.len())),
        ])
    };
    let o = offline("2");
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("entry index") && o.stderr.contains("no ledger"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("hint: give the statement id"), "{}", o.stderr);
    assert_eq!(offline(&id2).code, 0);

    // A ledger of another origin is not used to resolve an index.
    let e = w.fails(
        2,
        &[
            "sign",
            "--origin",
            "other.example/x",
            "--key",
            &k,
            "--org",
            "Acme",
            "--supersedes",
            "1",
            "--norm",
            "no-backdoors",
            "--scope",
            "Y",
            "--out",
            "y.cose",
        ],
    );
    assert!(e.contains("not \"other.example/x\""), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Key-id prefixes.

#[test]
fn key_revoke_takes_a_key_id_prefix() {
    let w = World::new();
    w.init();
    let k1 = w.register("k1", "Acme");
    let k2 = w.key("k2");
    w.rotate(&k1, &k2);
    let other = w.register("other", "Other");
    let kid2 = hex::encode(sk(&k2).public().kid());
    let kid_other = hex::encode(sk(&other).public().kid());
    let cp = w.checkpoint();
    // Too short, not hex, another organisation's key, unknown: refused with the reason.
    let e = w.fails(2, &common::revoke_args(&k2, Some(&kid2[..15]), "x"));
    assert!(e.contains("at least 16 hex digits"), "{e}");
    let e = w.fails(2, &common::revoke_args(&k2, Some("not-a-key-id-at-all"), "x"));
    assert!(e.contains("not a key id"), "{e}");
    let e = w.fails(2, &common::revoke_args(&k2, Some(&kid_other[..16]), "x"));
    assert!(e.contains("no key of \"acme\""), "{e}");
    w.unchanged(&cp);
    // The 16 digits accord prints (in capitals, too) name the key.
    let o = w.run(&common::revoke_args(
        &k2,
        Some(&kid2[..16].to_uppercase()),
        "laptop lost",
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains(&kid2), "{}", o.stderr);
    let h = w.ok(&["key", "revoke", "--help"]);
    assert!(h.contains("16 hex digits"), "{h}");
}

// ---------------------------------------------------------------------------------------------
// A ledger key that moved.

#[test]
fn appends_can_point_at_a_ledger_key_that_moved() {
    let w = World::new();
    w.init();
    let recorded = common::ledger_key_file(&w);
    let moved = w.path("vault/ledger.key");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&recorded, &moved).unwrap();
    let a = w.key("acme");
    let a_file = s(&a);
    let reg = common::register_args(&a_file, "Acme", None);
    let e = w.fails(2, &reg);
    assert!(e.contains(&recorded) && e.contains("--ledger-key-file"), "{e}");
    assert!(e.contains("ACCORD_LEDGER_KEY_FILE"), "{e}");

    // The option, then the environment, for each command that appends.
    let m = s(&moved);
    w.ok(&[&reg[..], &["--ledger-key-file", &m]].concat());
    let env_ok = |args: &[&str]| {
        let o = w
            .cmd()
            .env("ACCORD_LEDGER_KEY_FILE", &moved)
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    env_ok(&attest_args(&a, &["no-backdoors"], "X"));
    env_ok(&withdraw_args(&a, "1", "x"));
    let f = w.path("att.cose");
    w.ok(&[
        "sign",
        "--key",
        &s(&a),
        "--org",
        "Acme",
        "--norm",
        "no-backdoors",
        "--scope",
        "Y",
        "--out",
        &s(&f),
    ]);
    env_ok(&["append", &s(&f)]);
    let b = w.key("b");
    w.ok(&[
        "key",
        "rotate",
        "--key",
        &s(&a),
        "--new",
        &s(&b),
        "--ledger-key-file",
        &m,
    ]);
    env_ok(&common::revoke_args(&b, None, "x"));

    let (w2, _, rec) = common::acme_with_recovery();
    let recorded2 = common::ledger_key_file(&w2);
    let moved2 = w2.path("ledger.key.moved");
    std::fs::rename(&recorded2, &moved2).unwrap();
    let (n, next) = (w2.key("n"), w2.key("next"));
    let (rec_file, n_pub, next_pub) = (s(&rec), public(&n), public(&next));
    let rec_args = common::recover_args(&rec_file, &n_pub, &next_pub, None, "lost");
    let e = w2.fails(2, &rec_args);
    assert!(e.contains("--ledger-key-file"), "{e}");
    w2.ok(&[&rec_args[..], &["--ledger-key-file", &s(&moved2)]].concat());

    // Another ledger's key is named as such.
    let e = w2.fails(
        2,
        &[
            &attest_args(&n, &["no-backdoors"], "X")[..],
            &["--ledger-key-file", &m],
        ]
        .concat(),
    );
    assert!(e.contains("not of this one"), "{e}");
    let h = w.ok(&["attest", "--help"]);
    assert!(
        h.contains("--ledger-key-file") && h.contains("ACCORD_LEDGER_KEY_FILE"),
        "{h}"
    );
    // A custodian's ACCORD_LEDGER_KEY_FILE does not leak into the demo's own ledger.
    let o = w
        .cmd()
        .env("ACCORD_LEDGER_KEY_FILE", &moved)
        .args(["demo", "--dir", &w.path_str("demo")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

// ---------------------------------------------------------------------------------------------
// One exit code for a refused statement.

#[test]
fn a_refused_statement_exits_1_however_it_was_made() {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme");
    let b = w.register("beta", "Beta");
    w.attest(&a, &["no-backdoors"], "X");
    let cp = w.checkpoint();
    // Beta withdrawing Acme's attestation: from arguments, and from a file.
    let e = w.fails(1, &withdraw_args(&b, "2", "x"));
    assert!(e.contains("belongs to \"acme\""), "{e}");
    assert!(!e.contains("statement 1"), "{e}");
    let f = w.path("wd.cose");
    let sign_wd = |target: &str| {
        vec![
            "sign".to_string(),
            "--key".into(),
            s(&b),
            "--org".into(),
            "Beta".into(),
            "--withdraw".into(),
            target.into(),
            "--reason".into(),
            "x".into(),
            "--out".into(),
            s(&f),
        ]
    };
    // By index, with the ledger at hand, `sign` refuses it itself, as the rules would.
    let args = sign_wd("2");
    let e = w.fails(1, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("only its own attestations"), "{e}");
    // By statement id (as offline), it is signed, and `append` refuses it.
    let id = json(&w, &["show", "2", "--json"])["statement_id"]
        .as_str()
        .unwrap()
        .to_string();
    let args = sign_wd(&id);
    w.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let e = w.fails(1, &["append", &s(&f)]);
    assert!(e.contains("belongs to \"acme\"") && e.contains("wd.cose"), "{e}");
    assert!(!e.contains("statement 1"), "{e}");
    // Several files: the position is named.
    let ok = w.path("ok.cose");
    w.ok(&[
        "sign",
        "--key",
        &s(&a),
        "--org",
        "Acme",
        "--norm",
        "no-backdoors",
        "--scope",
        "Y",
        "--out",
        &s(&ok),
    ]);
    let e = w.fails(1, &["append", &s(&ok), &s(&f)]);
    assert!(
        e.contains("wd.cose (statement 2 of 2; nothing was appended)"),
        "{e}"
    );
    // A key the ledger does not know: the same refusal from `attest` as from a file.
    let stranger = w.key("stranger");
    let e = w.fails(1, &attest_args(&stranger, &["no-backdoors"], "X"));
    assert!(e.contains("not registered"), "{e}");
    let f = w.path("stranger.cose");
    w.ok(&[
        "sign",
        "--key",
        &s(&stranger),
        "--org",
        "Acme",
        "--norm",
        "no-backdoors",
        "--scope",
        "X",
        "--out",
        &s(&f),
    ]);
    w.fails(1, &["append", &s(&f)]);
    // Usage errors and invalid arguments stay 2.
    w.fails(2, &attest_args(&a, &["no-such-norm"], "X"));
    w.fails(2, &["append", &w.path_str("missing.cose")]);
    w.unchanged(&cp);
    assert!(w
        .ok(&["--help"])
        .contains("a\n     statement the ledger's rules refuse"));
}

// ---------------------------------------------------------------------------------------------
// Expiry, norms, domains.

#[test]
fn a_date_alone_expires_at_the_end_of_that_day() {
    let (w, _, a) = common::acme_with_attestations(0);
    let today = &common::now_rfc3339()[..10];
    let o = w.run(
        &[
            &attest_args(&a, &["no-backdoors"], "X")[..],
            &["--expires", today],
        ]
        .concat(),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let end = accord::time::format(accord::time::parse_date(today).unwrap() + 86_400);
    assert!(
        o.stderr
            .contains(&format!("expires at {end}, the end of {today} (UTC)")),
        "{}",
        o.stderr
    );
    let shown = json(&w, &["show", "1", "--json"]);
    assert_eq!(shown["attestation"]["expires"], end.as_str());
    assert_eq!(common::live(&w), [1]);
    // An RFC 3339 time stays exact; yesterday is refused.
    w.ok(&[
        &attest_args(&a, &["no-backdoors"], "Y")[..],
        &["--expires", "2099-06-30T12:00:00Z"],
    ]
    .concat());
    assert_eq!(
        json(&w, &["show", "2", "--json"])["attestation"]["expires"],
        "2099-06-30T12:00:00Z"
    );
    let yesterday = &accord::time::format(accord::clock::now() - 86_400)[..10];
    let e = w.fails(
        2,
        &[
            &attest_args(&a, &["no-backdoors"], "Z")[..],
            &["--expires", yesterday],
        ]
        .concat(),
    );
    assert!(e.contains("the end of") && e.contains("not after"), "{e}");
    let h = w.ok(&["attest", "--help"]);
    assert!(h.contains("2028-01-01T00:00:00Z, the end of that day"), "{h}");
    assert!(w.ok(&["sign", "--help"]).contains("END of that day"));
}

#[test]
fn norms_take_commas_and_domains_capitals() {
    let w = World::new();
    w.init();
    let a = w.key("acme");
    w.ok(&[
        "register",
        "--key",
        &s(&a),
        "--org",
        "Acme",
        "--domain",
        "ACME.Example",
        "--contact",
        "Security@ACME.example",
    ]);
    let orgs = w.ok(&["orgs", "--json"]);
    assert!(orgs.contains("\"acme.example\""), "{orgs}");
    let reg = json(&w, &["show", "0", "--json"]);
    assert!(reg.to_string().contains("Security@acme.example"), "{reg}");
    w.ok(&[
        "attest",
        "--key",
        &s(&a),
        "--norm",
        "no-backdoors,patch-all-customers",
        "--norm",
        "no-offensive-aid",
        "--scope",
        "X",
    ]);
    let st = json(&w, &["status", "--json"]);
    assert_eq!(
        st[0]["norms"],
        serde_json::json!(["no-backdoors", "no-offensive-aid", "patch-all-customers"])
    );
    let e = w.fails(
        2,
        &[
            "attest",
            "--key",
            &s(&a),
            "--norm",
            "no-backdoors,nope",
            "--scope",
            "X",
        ],
    );
    assert!(e.contains("nope"), "{e}");
}
