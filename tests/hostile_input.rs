//! Hostile input limits (docs/FORMAT.md section 12): each refused with a clear error, reading
//! no more than the stated limit.

mod common;

use std::io::Read;

use accord::bundle::{ProofFile, MAX_PROOF_FILE};
use accord::checkpoint::{LedgerKey, Origin, SignedCheckpoint};
use accord::codec::{self, CodecError};
use common::World;

/// A reader that counts the bytes taken from it and can produce "infinite" input.
struct Counting {
    read: u64,
    limit: u64,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.limit - self.read) as usize;
        buf[..n].fill(b'{');
        self.read += n as u64;
        Ok(n)
    }
}

#[test]
fn a_1_gib_statement_file_is_refused_reading_no_more_than_the_limit() {
    let w = World::new();
    w.init();
    let f = w.path("huge.cose");
    std::fs::File::create(&f).unwrap().set_len(1 << 30).unwrap();
    let e = w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains("65000-byte statement limit"), "{e}");
    // The CLI reads through take(limit + 1): the same bound, shown on a counting reader.
    let mut r = Counting {
        read: 0,
        limit: 1 << 30,
    };
    let mut buf = Vec::new();
    (&mut r)
        .take(accord::statement::MAX_STATEMENT_LEN as u64 + 1)
        .read_to_end(&mut buf)
        .unwrap();
    assert_eq!(r.read, accord::statement::MAX_STATEMENT_LEN as u64 + 1);
}

#[test]
fn a_bundle_with_a_million_element_path_is_refused() {
    // As JSON: refused by size before parsing.
    let mut j = String::from("{\"format\":\"accord-proof/1\",\"type\":\"inclusion\",\"inclusion_path\":[");
    for i in 0..1_000_000 {
        if i > 0 {
            j.push(',');
        }
        j.push_str("\"0000000000000000000000000000000000000000000000000000000000000000\"");
    }
    j.push_str("]}");
    let e = ProofFile::parse(j.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("larger than"), "{e}");
    // A path just under the file limit but over 128 hashes: refused by count.
    let v = codec::map([
        ("v".into(), codec::uint(1)),
        ("type".into(), codec::text("consistency")),
        ("old_checkpoint".into(), codec::bytes(vec![])),
        ("new_checkpoint".into(), codec::bytes(vec![])),
        (
            "path".into(),
            codec::Value::Array(vec![codec::bytes(vec![0u8; 32]); 129]),
        ),
    ]);
    let b = codec::encode(&v).unwrap();
    assert!(b.len() < MAX_PROOF_FILE);
    let e = ProofFile::parse(&b).unwrap_err().to_string();
    assert!(e.contains("more than the 128"), "{e}");
    // Through the binary: the file is not read beyond the limit.
    let w = World::new();
    let f = w.path("big.json");
    std::fs::write(&f, j).unwrap();
    let vkey = LedgerKey::generate(&Origin::new("x.example/l").unwrap())
        .verifier_key()
        .to_string();
    let e = w.fails(1, &["verify-proof", f.to_str().unwrap(), "--ledger-key", &vkey]);
    assert!(e.contains("limit for proof files"), "{e}");
}

#[test]
fn cbor_nested_10000_deep_is_refused_without_overflow() {
    let mut b = vec![0x81u8; 10_000];
    b.push(0);
    assert_eq!(
        codec::decode(&b, 1 << 20),
        Err(CodecError::TooDeep {
            max: codec::MAX_DEPTH
        })
    );
    // Also inside a statement file given to append.
    let w = World::new();
    w.init();
    let f = w.path("deep.cose");
    std::fs::write(&f, &b).unwrap();
    let e = w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains("nested deeper"), "{e}");
}

#[test]
fn a_checkpoint_with_10000_signature_lines_is_refused() {
    let k = LedgerKey::generate(&Origin::new("x.example/l").unwrap());
    let cp = k
        .sign(&accord::checkpoint::Checkpoint {
            origin: k.origin().clone(),
            size: 0,
            root: accord::proof::EMPTY_ROOT,
        })
        .unwrap();
    let mut note = cp.note.clone();
    let line = format!("— other.example {}\n", "A".repeat(96));
    for _ in 0..10_000 {
        note.extend_from_slice(line.as_bytes());
    }
    let e = SignedCheckpoint::open(&note, &k.verifier_key())
        .unwrap_err()
        .to_string();
    assert!(e.contains("larger than"), "{e}");
}

#[test]
fn a_1_mb_norm_id_is_refused() {
    let w = World::new();
    w.init();
    let k = w.register("acme", "Acme");
    // Linux caps one argument at 128 KiB, so the binary gets 60 KB; the library gets 1 MB.
    let huge = "a".repeat(1_000_000);
    let e = accord::norms::NormId::new(&huge).unwrap_err().to_string();
    assert!(e.len() < 500, "{e}");
    let id = "a".repeat(60_000);
    let e = w.fails(
        2,
        &[
            "attest",
            "--key",
            k.to_str().unwrap(),
            "--norm",
            &id,
            "--scope",
            "X",
        ],
    );
    assert!(e.contains("invalid norm id"), "{e}");
    assert!(
        e.len() < 2_000,
        "the error echoes the whole id ({} bytes)",
        e.len()
    );
}
