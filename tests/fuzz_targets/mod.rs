//! Fuzz targets: one check per decoder of untrusted bytes. Each must never panic, and where a
//! decoder accepts its input, encoding the result again must give the same bytes.
//! Used by tests/fuzz.rs (corpus replay in CI, and the mutation fuzzer of scripts/fuzz.sh).

use accord::checkpoint::{Checkpoint, VerifierKey};
use accord::entry::Entry;
use accord::keys::{PublicKey, SecretKey};
use accord::proofs::ProofFile;
use accord::statement::{Payload, Statement};

/// A fixed verifier key for the note target (notes by other keys are simply refused).
pub const NOTE_VKEY: &str =
    "demo.accord.example/pledges+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// A target: its name and its check.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub fn targets() -> Vec<Target> {
    vec![
        ("statement", statement),
        ("payload", payload),
        ("entry", entry),
        ("checkpoint", checkpoint),
        ("vkey", vkey),
        ("proof", proof),
        ("export", export),
        ("keyfile", keyfile),
    ]
}

fn statement(b: &[u8]) {
    if let Ok(s) = Statement::decode(b) {
        assert_eq!(s.bytes(), b);
        let v = accord::codec::decode(b, 1 << 20).expect("a decoded statement is canonical CBOR");
        assert_eq!(
            accord::codec::encode(&v).unwrap(),
            b,
            "statement re-encodes differently"
        );
    }
}

fn payload(b: &[u8]) {
    if let Ok(p) = Payload::decode(b) {
        assert_eq!(
            p.encode().expect("a decoded payload encodes"),
            b,
            "payload re-encodes differently"
        );
    }
}

fn entry(b: &[u8]) {
    if let Ok(e) = Entry::decode(b) {
        assert_eq!(e.encode().unwrap(), b, "entry re-encodes differently");
    }
}

fn checkpoint(b: &[u8]) {
    if let Ok(c) = Checkpoint::parse_text(b) {
        assert_eq!(
            c.to_text().as_bytes(),
            b,
            "checkpoint body re-encodes differently"
        );
    }
    if let Ok(k) = VerifierKey::parse(NOTE_VKEY) {
        let _ = accord::checkpoint::SignedCheckpoint::open(b, &k);
    }
    let _ = accord::checkpoint::verify_note(b, &VerifierKey::parse(NOTE_VKEY).unwrap_or_else(|_| demo_key()));
}

fn demo_key() -> VerifierKey {
    accord::checkpoint::LedgerKey::from_skey(
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    )
    .unwrap()
    .verifier_key()
}

fn vkey(b: &[u8]) {
    if let Ok(s) = std::str::from_utf8(b) {
        if let Ok(k) = VerifierKey::parse(s) {
            assert_eq!(k.to_string(), s, "vkey prints differently");
        }
    }
}

fn proof(b: &[u8]) {
    if let Ok(p) = ProofFile::parse(b) {
        if b.first() != Some(&b'{') {
            assert_eq!(p.to_cbor().unwrap(), b, "proof file re-encodes differently");
        }
        let k = demo_key();
        match &p {
            ProofFile::Bundle(x) => {
                let _ = x.verify(&k, accord::norms::Catalogue::embedded());
            }
            ProofFile::Consistency(x) => {
                let _ = x.verify(&k);
            }
        }
    }
}

fn export(b: &[u8]) {
    let mut r = b;
    if let Ok(h) = accord::export::read_header(&mut r) {
        let _ = accord::export::for_each_entry(&mut r, h.size.min(1_000), |_, e| {
            let _ = Entry::decode(&e);
            Ok::<_, accord::verdict::VerifyError>(())
        });
    }
    let _ = accord::export::verify_export(
        &mut &b[..],
        &demo_key(),
        accord::norms::Catalogue::embedded(),
        None,
        None,
    );
}

fn keyfile(b: &[u8]) {
    if let Ok(s) = std::str::from_utf8(b) {
        if let Ok(k) = SecretKey::from_file_text(s, "fuzz") {
            let t = k.to_file_text();
            assert!(
                t.as_str() == s || t.trim_end() == s,
                "secret key prints differently"
            );
        }
        if let Ok(k) = PublicKey::from_file_text(s, "fuzz") {
            let t = k.to_file_text();
            assert!(
                t == s || t.trim_end() == s || s.starts_with("ssh-ed25519 "),
                "public key prints differently"
            );
        }
    }
}
