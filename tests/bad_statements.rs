//! Statement files that must be refused by `accord append`: exit 1, a message naming the file
//! and the problem, and the ledger exactly as it was.

mod common;

use accord::codec::{self, Value};
use accord::keys::SecretKey;
use accord::statement::{self, Body, Unsigned};
use common::{attest_args, attestation, payload, payload_at, signed, sk, World};

/// The pledge every statement of this file makes: `no-backdoors` for "Acme Cloud".
fn acme_cloud() -> Body {
    attestation("Acme Cloud", None)
}

struct Setup {
    w: World,
    acme: SecretKey,
    cp: String,
}

fn setup() -> Setup {
    let w = World::new();
    w.init();
    let path = w.register("acme", "Acme Corp");
    let acme = sk(&path);
    let cp = w.checkpoint();
    Setup { w, acme, cp }
}

/// Appending `bytes` fails with exit 1 and a message containing `what`; nothing changes.
fn refused(s: &Setup, name: &str, bytes: &[u8], what: &str) {
    let f = s.w.path(name);
    std::fs::write(&f, bytes).unwrap();
    let e = s.w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains(name), "{name}: message does not name the file: {e}");
    assert!(
        e.to_lowercase().contains(&what.to_lowercase()),
        "{name}: expected {what:?} in: {e}"
    );
    s.w.unchanged(&s.cp);
}

fn good(s: &Setup) -> Vec<u8> {
    signed(acme_cloud(), "acme corp", &s.acme).into_bytes()
}

fn parts(bytes: &[u8]) -> Vec<Value> {
    match codec::decode(bytes, 100_000).unwrap() {
        Value::Tag(18, inner) => match *inner {
            Value::Array(a) => a,
            _ => panic!(),
        },
        _ => panic!(),
    }
}

#[test]
fn truncated() {
    let s = setup();
    let g = good(&s);
    refused(&s, "truncated.cose", &g[..g.len() - 10], "");
}

#[test]
fn not_cbor() {
    let s = setup();
    refused(&s, "text.cose", b"this is not a statement\n", "");
    refused(&s, "empty.cose", b"", "");
}

#[test]
fn not_canonical() {
    let s = setup();
    let g = good(&s);
    assert_eq!(g[0], 0xd2, "tag 18 in one byte");
    // The same tag in a two-byte head: same value, non-canonical bytes.
    let mut b = vec![0xd8, 0x12];
    b.extend_from_slice(&g[1..]);
    refused(&s, "noncanonical.cose", &b, "canonical");
}

#[test]
fn untagged() {
    let s = setup();
    let g = good(&s);
    refused(&s, "untagged.cose", &g[1..], "untagged");
}

#[test]
fn non_empty_unprotected_header() {
    let s = setup();
    let mut p = parts(&good(&s));
    p[1] = codec::map([(4i64.into(), codec::bytes(vec![1, 2, 3]))]);
    let b = codec::encode(&Value::Tag(18, Box::new(Value::Array(p)))).unwrap();
    refused(&s, "unprotected.cose", &b, "unprotected header");
}

#[test]
fn signed_by_another_key() {
    let s = setup();
    let other = SecretKey::generate();
    // Claims acme's key id, but the signature is another key's.
    let u = Unsigned::new(&payload(acme_cloud()), "acme corp", &s.acme.public().kid()).unwrap();
    let st = u.assemble(&other.sign(&u.to_be_signed())).unwrap();
    refused(&s, "otherkey.cose", st.bytes(), "signature does not verify");
    // Its own key id: not registered.
    let st = signed(acme_cloud(), "acme corp", &other);
    refused(&s, "unregistered.cose", st.bytes(), "no registration");
}

#[test]
fn bad_signature() {
    let s = setup();
    let mut g = good(&s);
    let n = g.len();
    g[n - 1] ^= 0x01;
    refused(&s, "badsig.cose", &g, "signature does not verify");
}

#[test]
fn another_origin() {
    let s = setup();
    let elsewhere = payload_at("elsewhere.example/ledger", accord::clock::now(), acme_cloud());
    let st = statement::sign(&elsewhere, "acme corp", &s.acme).unwrap();
    refused(&s, "origin.cose", st.bytes(), "not this ledger");
}

#[test]
fn already_in_the_ledger() {
    let mut s = setup();
    let g = good(&s);
    let f = s.w.path("once.cose");
    std::fs::write(&f, &g).unwrap();
    s.w.ok(&["append", f.to_str().unwrap()]);
    s.cp = s.w.checkpoint();
    refused(&s, "twice.cose", &g, "already in the ledger");
}

#[test]
fn oversized_file_is_not_read_whole() {
    let s = setup();
    let f = s.w.path("huge.cose");
    let file = std::fs::File::create(&f).unwrap();
    file.set_len(1 << 30).unwrap(); // sparse 1 GiB
    let e = s.w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains("limit"), "{e}");
    s.w.unchanged(&s.cp);
}

#[test]
fn one_bad_file_among_good_ones_appends_nothing() {
    let s = setup();
    let a = s.w.path("a.cose");
    std::fs::write(&a, good(&s)).unwrap();
    let b = s.w.path("b.cose");
    let mut g = good(&s);
    let n = g.len();
    g[n - 1] ^= 0x80;
    std::fs::write(&b, &g).unwrap();
    let e =
        s.w.fails(1, &["append", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(e.contains("b.cose") && e.contains("nothing was appended"), "{e}");
    s.w.unchanged(&s.cp);
}

/// A statement whose payload bytes are `good`'s with `from` replaced by `to` (same length),
/// signed again by acme: well-formed and validly signed, so only the content rules can refuse it.
fn edited(s: &Setup, from: &[u8], to: &[u8]) -> Vec<u8> {
    let p = parts(&good(s));
    let (Value::Bytes(protected), Value::Bytes(payload)) = (&p[0], &p[2]) else {
        panic!("COSE_Sign1 parts");
    };
    let at = payload
        .windows(from.len())
        .position(|w| w == from)
        .expect("text to edit");
    let mut payload = payload.clone();
    payload[at..at + to.len()].copy_from_slice(to);
    let tbs = codec::encode(&Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.clone()),
        Value::Bytes(vec![]),
        Value::Bytes(payload.clone()),
    ]))
    .unwrap();
    let sig = s.acme.sign(&tbs);
    codec::encode(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected.clone()),
            Value::Map(vec![]),
            Value::Bytes(payload),
            Value::Bytes(sig.to_vec()),
        ])),
    ))
    .unwrap()
}

#[test]
fn a_line_break_in_a_scope_is_refused() {
    // A scope with a line break could pose as a row of `accord status` (found by the
    // independent verifier): only `note` and `reason` may hold line feeds.
    let s = setup();
    let control = edited(&s, b"Acme Cloud", b"Acme-Cloud");
    let st = accord::statement::Statement::decode(&control).expect("the edit itself is sound");
    assert!(st.verify_signature(&s.acme.public()).is_ok());
    for (name, to) in [("lf.cose", b"Acme\nCloud"), ("cr.cose", b"Acme\rCloud")] {
        refused(&s, name, &edited(&s, b"Acme Cloud", to), "line breaks");
    }
    // And from the command line, before anything is signed.
    let scope = "X\n     9  evil corp   live   no-backdoors  for Everything";
    let e =
        s.w.fails(2, &attest_args(&s.w.key_file("acme"), &["no-backdoors"], scope));
    assert!(e.contains("line breaks"), "{e}");
    s.w.unchanged(&s.cp);
}
