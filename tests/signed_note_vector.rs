//! The public example of Go's sumdb/note: signing reproduces it byte for byte, and verifying
//! with its vkey accepts it (Ed25519 is deterministic).

use accord::checkpoint::{verify_note, LedgerKey, VerifierKey};

fn vector() -> (String, String, Vec<u8>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/signed-note/go-sumdb-note.txt"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_string()
    };
    let note = text
        .split("-----BEGIN NOTE-----\n")
        .nth(1)
        .unwrap()
        .split("-----END NOTE-----")
        .next()
        .unwrap();
    (field("vkey: "), field("skey: "), note.as_bytes().to_vec())
}

#[test]
fn signs_the_go_example_byte_for_byte() {
    let (vkey, skey, note) = vector();
    let key = LedgerKey::from_skey(&skey).unwrap();
    assert_eq!(key.verifier_key().to_string(), vkey);
    let body_end = note.windows(2).position(|w| w == b"\n\n").unwrap() + 1;
    let signed = key.sign_note_text(&note[..body_end]).unwrap();
    assert_eq!(String::from_utf8_lossy(&signed), String::from_utf8_lossy(&note));
}

#[test]
fn verifies_the_go_example_and_refuses_changes() {
    let (vkey, _, note) = vector();
    let vk = VerifierKey::parse(&vkey).unwrap();
    let text = verify_note(&note, &vk).unwrap();
    assert!(text.starts_with(b"If you think cryptography"));
    let mut bad = note.clone();
    bad[3] ^= 1;
    assert!(verify_note(&bad, &vk).is_err());
}
