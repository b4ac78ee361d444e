//! Tamper suite for audit files: every byte of a CBOR bundle, a consistency proof and an export,
//! every significant character of a JSON bundle and of a checkpoint note, changed in turn, is
//! refused, never with a panic; a seeded sample goes through the binary for exit code 1.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use accord::checkpoint::{SignedCheckpoint, VerifierKey};
use accord::norms::Catalogue;
use accord::proofs::ProofFile;
use common::{verify_args, verify_proof_args, xorshift, World};

struct Fixture {
    w: World,
    vkey: String,
    bundle: Vec<u8>,
    json: Vec<u8>,
    consistency: Vec<u8>,
    export: Vec<u8>,
    note: Vec<u8>,
}

fn fixture() -> Fixture {
    let w = World::new();
    let vkey = w.init();
    let a = w.register("acme", "Acme Corp");
    let a2 = w.key("acme2");
    w.attest(&a, &["no-backdoors"], "Acme Cloud");
    w.rotate(&a, &a2);
    w.attest(&a2, &["patch-all-customers"], "Acme Mail");
    let bundle = w.prove(3, "b.cbor", &["--since", "2"]);
    let json = w.prove(3, "b.json", &["--json"]);
    let consistency = w.consistency(2, "c.cbor", &[]);
    let export = w.export("x.export");
    let note = w.ok(&["checkpoint"]).into_bytes();
    Fixture {
        bundle: std::fs::read(bundle).unwrap(),
        json: std::fs::read(json).unwrap(),
        consistency: std::fs::read(consistency).unwrap(),
        export: std::fs::read(export).unwrap(),
        note,
        vkey,
        w,
    }
}

/// Library-level verdict on a proof file: Ok(()) if it verifies.
fn check_proof(bytes: &[u8], vkey: &VerifierKey) -> Result<(), String> {
    let file = ProofFile::parse(bytes).map_err(|e| e.to_string())?;
    match file {
        ProofFile::Bundle(b) => b
            .verify(vkey, Catalogue::embedded())
            .map(|_| ())
            .map_err(|e| e.to_string()),
        ProofFile::Consistency(c) => c.verify(vkey).map(|_| ()).map_err(|e| e.to_string()),
    }
}

fn check_export(bytes: &[u8], vkey: &VerifierKey) -> Result<(), String> {
    accord::export::verify_export(&mut &bytes[..], vkey, Catalogue::embedded(), None, None)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Runs `check` on every mutation; each must fail and none may panic.
fn all_fail(name: &str, original: &[u8], positions: &[usize], check: &dyn Fn(&[u8]) -> Result<(), String>) {
    assert!(check(original).is_ok(), "{name}: the original does not verify");
    for &i in positions {
        for m in [0x01u8, 0x80, 0xff] {
            let mut b = original.to_vec();
            b[i] ^= m;
            let r = catch_unwind(AssertUnwindSafe(|| check(&b)));
            match r {
                Err(_) => panic!("{name}: panic with byte {i} ^ {m:#x}"),
                Ok(Ok(())) => panic!("{name}: byte {i} ^ {m:#x} still verifies"),
                Ok(Err(_)) => {}
            }
        }
    }
    // Truncations too.
    for cut in [0, 1, original.len() / 2, original.len() - 1] {
        assert!(
            check(&original[..cut]).is_err(),
            "{name}: truncated to {cut} verifies"
        );
    }
}

fn sample(len: usize, n: usize, seed: u64) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    let mut x = seed;
    (0..n).map(|_| (xorshift(&mut x) % len as u64) as usize).collect()
}

#[test]
fn every_byte_of_cbor_proofs_and_exports() {
    let fx = fixture();
    let vk = VerifierKey::parse(&fx.vkey).unwrap();
    let all = |b: &[u8]| (0..b.len()).collect::<Vec<_>>();
    all_fail("CBOR bundle", &fx.bundle, &all(&fx.bundle), &|b| {
        check_proof(b, &vk)
    });
    all_fail(
        "consistency proof",
        &fx.consistency,
        &all(&fx.consistency),
        &|b| check_proof(b, &vk),
    );
    all_fail("export", &fx.export, &sample(fx.export.len(), 2_000, 7), &|b| {
        check_export(b, &vk)
    });
}

/// Every significant character of the JSON bundle: characters outside strings other than
/// white space, and every character inside strings, changed to another of its class.
#[test]
fn every_significant_character_of_a_json_bundle() {
    let fx = fixture();
    let vk = VerifierKey::parse(&fx.vkey).unwrap();
    let text = String::from_utf8(fx.json.clone()).unwrap();
    assert!(check_proof(text.as_bytes(), &vk).is_ok());
    let bytes = text.as_bytes();
    let mut in_str = false;
    let mut escaped = false;
    let mut tested = 0;
    for i in 0..bytes.len() {
        let c = bytes[i];
        if in_str {
            if escaped {
                escaped = false;
                continue;
            }
            if c == b'\\' {
                escaped = true;
                continue;
            }
            if c == b'"' {
                in_str = false;
                continue;
            }
        } else if c == b'"' {
            in_str = true;
            continue;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        let replacement = match c {
            b'0'..=b'8' => c + 1,
            b'9' => b'0',
            b'a'..=b'y' | b'A'..=b'Y' => c + 1,
            b'z' => b'a',
            b'Z' => b'A',
            b'+' => b'/',
            b'/' => b'+',
            b'=' => b'A',
            b'\n' => continue, // the "\n" escapes of the note are covered by the note test
            _ => b'#',
        };
        let mut m = bytes.to_vec();
        m[i] = replacement;
        let r = catch_unwind(AssertUnwindSafe(|| check_proof(&m, &vk)));
        assert!(
            matches!(r, Ok(Err(_))),
            "char {i} ({:?} -> {:?}) not refused: {r:?}",
            c as char,
            replacement as char
        );
        tested += 1;
    }
    assert!(tested > 1000, "only {tested} characters tested");
    // Uppercase hex, unknown field, missing field, duplicate field.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let h = v["inclusion_path"][0].as_str().unwrap();
    let upper = text.replacen(h, &h.to_uppercase(), 1);
    assert!(check_proof(upper.as_bytes(), &vk).is_err());
    let mut extra = v.clone();
    extra["extra"] = serde_json::json!(1);
    assert!(check_proof(extra.to_string().as_bytes(), &vk).is_err());
    let mut missing = v.clone();
    missing.as_object_mut().unwrap().remove("signatory_key");
    assert!(check_proof(missing.to_string().as_bytes(), &vk).is_err());
    let dup = text.replacen("\"tree_size\"", "\"tree_size\": 1,\n  \"tree_size\"", 1);
    assert!(check_proof(dup.as_bytes(), &vk).is_err());
}

#[test]
fn every_character_of_a_checkpoint_note() {
    let fx = fixture();
    let vk = VerifierKey::parse(&fx.vkey).unwrap();
    SignedCheckpoint::open(&fx.note, &vk).unwrap();
    for i in 0..fx.note.len() {
        let mut n = fx.note.clone();
        n[i] ^= 0x01;
        assert!(
            SignedCheckpoint::open(&n, &vk).is_err(),
            "note byte {i} changed still opens"
        );
    }
    // C2SP: a signature line from an unknown key may be added and is ignored.
    let mut with_witness = fx.note.clone();
    with_witness.extend_from_slice("— witness.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".as_bytes());
    SignedCheckpoint::open(&with_witness, &vk).unwrap();
}

#[test]
fn a_sample_through_the_binary_exits_1_naming_the_failure() {
    let fx = fixture();
    let st = fx.w.path("state");
    for (k, i) in sample(fx.bundle.len(), 40, 99).into_iter().enumerate() {
        let mut b = fx.bundle.clone();
        b[i] ^= 0x04;
        let f = fx.w.path(&format!("t{k}.cbor"));
        std::fs::write(&f, &b).unwrap();
        let e = fx.w.fails(1, &verify_proof_args(&f, &fx.vkey, &st, &[]));
        assert!(e.contains("verification FAILED"), "{e}");
    }
    for (k, i) in sample(fx.export.len(), 20, 5).into_iter().enumerate() {
        let mut b = fx.export.clone();
        b[i] ^= 0x04;
        let f = fx.w.path(&format!("t{k}.export"));
        std::fs::write(&f, &b).unwrap();
        let e =
            fx.w.fails(1, &verify_args(&fx.vkey, &st, &["--file", f.to_str().unwrap()]));
        assert!(e.contains("verification FAILED"), "{e}");
    }
}

#[test]
fn checkpoints_of_another_key_or_origin_are_refused_by_name() {
    let fx = fixture();
    let other = World::new();
    let ovkey = other.init();
    let e = check_proof(&fx.bundle, &VerifierKey::parse(&ovkey).unwrap()).unwrap_err();
    assert!(
        e.contains("checkpoint") && e.contains("not signed by the ledger key"),
        "{e}"
    );
    // Same key bytes under another origin name: a different vkey, refused.
    let k = accord::checkpoint::LedgerKey::generate(
        &accord::checkpoint::Origin::new("elsewhere.example/x").unwrap(),
    );
    let e = check_proof(&fx.bundle, &k.verifier_key()).unwrap_err();
    assert!(e.contains("checkpoint"), "{e}");
}

#[test]
fn a_damaged_length_head_in_an_export_names_the_damaged_entry() {
    // Found by the independent verifier: a shortened length head of entry i surfaced as a
    // framing error at entry i + 1. Entries read before a framing error are checked first.
    let fx = fixture();
    let vkey = VerifierKey::parse(&fx.vkey).unwrap();
    let store = accord::store::Store::open_read_only(&fx.w.ledger()).unwrap();
    for i in 1..4u64 {
        let entry = store.read(|r| r.entry(i)).unwrap().unwrap();
        let at = fx
            .export
            .windows(entry.len())
            .position(|w| w == entry.as_slice())
            .expect("entry bytes in the export");
        // Entries are 256..65535 bytes here: a three-byte head 0x59 hi lo.
        assert_eq!(fx.export[at - 3], 0x59);
        for delta in [-1i32, 1] {
            let mut x = fx.export.clone();
            let len = u16::from_be_bytes([x[at - 2], x[at - 1]]) as i32 + delta;
            x[at - 2..at].copy_from_slice(&(len as u16).to_be_bytes());
            let e = check_export(&x, &vkey).unwrap_err();
            assert!(
                e.contains(&format!("entry {i}")),
                "entry {i}, length {delta:+}: {e}"
            );
        }
    }
}
