//! The promise of docs/FORMAT.md, tested: an independent verifier written in pure Python from
//! FORMAT.md and schemas/ alone (tests/independent/accord_verify.py) accepts what accord
//! produces (exports, CBOR and JSON proof bundles, consistency proofs, checkpoints) and
//! refuses tampered copies. Needs `python3` (3.11 in CI) on PATH; fails loudly without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{flip_first_hex_digit, read_json, write_json, World};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/accord_verify.py");

/// One lifecycle ledger, built once for all tests of this file, with the files made from it.
struct Fixture {
    /// The world the ledger and its files are in (relative paths below are in its directory).
    w: World,
    dir: PathBuf,
    vkey: String,
}

struct Py {
    code: i32,
    stdout: String,
    stderr: String,
}

fn python(args: &[&str]) -> Py {
    let o = match Command::new("python3").arg(SCRIPT).args(args).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run `python3` ({e}): the independent-verifier test needs Python 3.11 or later \
             on PATH (standard library only); install it rather than skipping this test"
        ),
    };
    Py {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn verify(sub: &str, file: &Path, vkey: &str) -> Py {
    python(&[sub, file.to_str().unwrap(), "--ledger-key", vkey])
}

fn assert_valid(sub: &str, file: &Path, vkey: &str) -> Py {
    let r = verify(sub, file, vkey);
    assert_eq!(
        r.code,
        0,
        "independent verifier refused genuine {}:\n{}{}",
        file.display(),
        r.stdout,
        r.stderr
    );
    r
}

fn assert_invalid(sub: &str, file: &Path, vkey: &str, expect: &str) {
    let r = verify(sub, file, vkey);
    assert_eq!(
        r.code,
        1,
        "independent verifier did not refuse tampered {}:\n{}{}",
        file.display(),
        r.stdout,
        r.stderr
    );
    assert!(r.stderr.contains(expect), "expected {expect:?} in: {}", r.stderr);
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let w = World::new();
        let dir = w.tmp.path().to_path_buf();
        let vkey = w
            .ok(&[
                "init",
                "--origin",
                "indep.example/ledger",
                "--key-file",
                "ledger.key",
            ])
            .trim()
            .to_string();
        for k in ["acme", "acme-rec", "acme2", "acme3", "acme-rec2", "beta"] {
            w.ok(&["key", "generate", k, "--dir", "keys"]);
        }
        let steps: &[&[&str]] = &[
            // 0, 1
            &[
                "register",
                "--key",
                "keys/acme.key",
                "--org",
                "Acme Corp",
                "--domain",
                "acme.example",
                "--contact",
                "security@acme.example",
                "--recovery-key",
                "keys/acme-rec.pub",
            ],
            &["register", "--key", "keys/beta.key", "--org", "Beta Straße GmbH"],
            // 2, 3
            &[
                "attest",
                "--key",
                "keys/acme.key",
                "--norm",
                "no-backdoors",
                "--norm",
                "patch-all-customers",
                "--scope",
                "Acme Cloud",
                "--expires",
                "2099-12-31",
            ],
            &[
                "attest",
                "--key",
                "keys/beta.key",
                "--norm",
                "no-offensive-aid",
                "--scope",
                "Beta",
                "--note",
                "two\nlines",
            ],
            // 4: rotation, 5: superseding attestation by the new key, 6: withdrawal
            &[
                "key",
                "rotate",
                "--key",
                "keys/acme.key",
                "--new",
                "keys/acme2.key",
            ],
            &[
                "attest",
                "--key",
                "keys/acme2.key",
                "--norm",
                "no-backdoors",
                "--scope",
                "Acme Cloud",
                "--supersedes",
                "2",
            ],
            &[
                "withdraw",
                "--key",
                "keys/beta.key",
                "--entry",
                "3",
                "--reason",
                "sold",
            ],
            // 7: recovery with a compromise time (entries 2, 4, 5 become untrusted; the registration never does), 8, 9
            &[
                "key",
                "recover",
                "--recovery-key",
                "keys/acme-rec.key",
                "--new",
                "keys/acme3.pub",
                "--next-recovery-key",
                "keys/acme-rec2.pub",
                "--compromised-since",
                "2020-01-01",
                "--reason",
                "stolen",
            ],
            &[
                "attest",
                "--key",
                "keys/acme3.key",
                "--norm",
                "coordinated-disclosure",
                "--scope",
                "Acme Mail",
            ],
            &["key", "revoke", "--key", "keys/beta.key", "--reason", "retired"],
        ];
        for s in steps {
            w.ok(s);
        }
        w.ok(&["export", "--out", "ledger.export"]);
        let files: &[&[&str]] = &[
            &["prove", "5", "--out", "p5.proof"],
            &["prove", "5", "--json", "--out", "p5.json"],
            &["prove", "4", "--since", "2", "--out", "p4.proof"],
            &["prove", "7", "--out", "p7.proof"],
            &["prove", "0", "--json", "--out", "p0.json"],
            &["prove", "6", "--out", "p6.proof"],
            &["consistency", "--from", "3", "--out", "c3.proof"],
            &["consistency", "--from", "3", "--json", "--out", "c3.json"],
            &["prove", "5", "--format", "tlog-proof", "--out", "p5.tlog"],
        ];
        for args in files {
            w.ok(args);
        }
        std::fs::write(dir.join("checkpoint.note"), w.ok(&["checkpoint"])).unwrap();
        Fixture { w, dir, vkey }
    })
}

/// (start, length) of the definite CBOR byte string whose head is at `pos`.
fn bstr_at(buf: &[u8], pos: usize) -> (usize, usize) {
    let ib = buf[pos];
    assert_eq!(ib >> 5, 2, "not a byte string at {pos}");
    match ib & 0x1f {
        n @ 0..=23 => (pos + 1, n as usize),
        24 => (pos + 2, buf[pos + 1] as usize),
        25 => (pos + 3, u16::from_be_bytes([buf[pos + 1], buf[pos + 2]]) as usize),
        26 => (
            pos + 5,
            u32::from_be_bytes(buf[pos + 1..pos + 5].try_into().unwrap()) as usize,
        ),
        other => panic!("unexpected length head {other}"),
    }
}

/// Where entry `i` of an export file is: (start of its length head, range of its bytes).
fn export_entry(buf: &[u8], i: usize) -> (usize, std::ops::Range<usize>) {
    let magic = b"accord-export/1\n";
    assert!(buf.starts_with(magic));
    let (s, n) = bstr_at(buf, magic.len()); // the header
    let mut pos = s + n;
    for _ in 0..i {
        let (s, n) = bstr_at(buf, pos);
        pos = s + n;
    }
    let (s, n) = bstr_at(buf, pos);
    (pos, s..s + n)
}

#[test]
fn genuine_export_verifies_and_agrees_with_accord() {
    let f = fixture();
    let export = f.dir.join("ledger.export");
    let r = python(&[
        "export",
        export.to_str().unwrap(),
        "--ledger-key",
        &f.vkey,
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let mine: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let theirs = common::json(
        &f.w,
        &[
            "verify",
            "--file",
            "ledger.export",
            "--ledger-key",
            &f.vkey,
            "--json",
            "--state",
            "vstate",
        ],
    );
    for field in [
        "origin",
        "entries",
        "root",
        "organisations",
        "registrations",
        "attestations",
        "withdrawals",
        "live_attestations",
        "rotations",
        "revocations",
        "recoveries",
        "untrusted",
    ] {
        assert_eq!(
            mine[field], theirs[field],
            "{field}: python {mine} vs accord {theirs}"
        );
    }
    assert_eq!(mine["entries"], 10);
    // The registration (0) is never untrusted (FORMAT.md section 7).
    assert_eq!(mine["untrusted"], serde_json::json!([2, 4, 5]));
}

#[test]
fn genuine_proofs_and_checkpoint_verify() {
    let f = fixture();
    for p in [
        "p5.proof", "p5.json", "p4.proof", "p7.proof", "p0.json", "p6.proof", "c3.proof", "c3.json",
        "p5.tlog",
    ] {
        let r = assert_valid("proof", &f.dir.join(p), &f.vkey);
        assert!(r.stdout.starts_with("OK: "), "{p}: {}", r.stdout);
    }
    // Entry 4, a rotation signed by a key a later recovery reported compromised.
    let r = verify("proof", &f.dir.join("p4.proof"), &f.vkey);
    assert!(r.stderr.contains("UNTRUSTED"), "{}", r.stderr);
    assert_valid("checkpoint", &f.dir.join("checkpoint.note"), &f.vkey);
    // A tlog-proof whose extra data is another entry's bytes is refused.
    let t = std::fs::read_to_string(f.dir.join("p5.tlog")).unwrap();
    let mut lines: Vec<String> = t.split('\n').map(String::from).collect();
    {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut e = b64.decode(lines[1].strip_prefix("extra ").unwrap()).unwrap();
        let n = e.len();
        e[n - 1] ^= 1;
        lines[1] = format!("extra {}", b64.encode(e));
    }
    let bad = f.dir.join("p5-bad.tlog");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    assert_invalid("proof", &bad, &f.vkey, "inclusion proof");
}

#[test]
fn tampered_export_is_refused() {
    let f = fixture();
    let buf = std::fs::read(f.dir.join("ledger.export")).unwrap();

    // One byte of entry 2's signature: its statement is the entry's last field, and the
    // COSE signature the statement's last element.
    let mut sig = buf.clone();
    let (_, e2) = export_entry(&buf, 2);
    sig[e2.end - 10] ^= 0x01;
    let p = f.dir.join("sig.export");
    std::fs::write(&p, &sig).unwrap();
    assert_invalid("export", &p, &f.vkey, "entry 2: signature does not verify");

    // The root in the header's signed checkpoint.
    let note = std::fs::read_to_string(f.dir.join("checkpoint.note")).unwrap();
    let root_line = note.lines().nth(2).unwrap().as_bytes();
    let at = buf.windows(root_line.len()).position(|w| w == root_line).unwrap();
    let mut root = buf.clone();
    root[at] = if root[at] == b'A' { b'B' } else { b'A' };
    let p = f.dir.join("root.export");
    std::fs::write(&p, &root).unwrap();
    assert_invalid("export", &p, &f.vkey, "signature does not verify");

    // A whole entry left out: entry 5 now stands at index 4.
    let (head4, _) = export_entry(&buf, 4);
    let (head5, _) = export_entry(&buf, 5);
    let mut cut = buf[..head4].to_vec();
    cut.extend_from_slice(&buf[head5..]);
    let p = f.dir.join("cut.export");
    std::fs::write(&p, &cut).unwrap();
    assert_invalid("export", &p, &f.vkey, "entry 4:");
}

#[test]
fn tampered_checkpoint_and_proofs_are_refused() {
    let f = fixture();
    let vkey = &f.vkey;

    // Checkpoint note with another root (still canonical base64).
    let note = std::fs::read_to_string(f.dir.join("checkpoint.note")).unwrap();
    let mut lines: Vec<String> = note.split('\n').map(str::to_string).collect();
    let first = lines[2].remove(0);
    lines[2].insert(0, if first == 'A' { 'B' } else { 'A' });
    let p = f.dir.join("root.note");
    std::fs::write(&p, lines.join("\n")).unwrap();
    assert_invalid("checkpoint", &p, vkey, "signature does not verify");

    // JSON bundle with an altered inclusion-path hash.
    let mut b = read_json(&f.dir.join("p5.json"));
    let h = b["inclusion_path"][0].as_str().unwrap().to_string();
    b["inclusion_path"][0] = serde_json::Value::String(flip_first_hex_digit(&h));
    let p = f.dir.join("path.json");
    std::fs::write(&p, serde_json::to_string_pretty(&b).unwrap()).unwrap();
    assert_invalid("proof", &p, vkey, "inclusion proof does not verify");

    // The same hash altered inside the CBOR bundle of the same entry.
    let hash = hex::decode(&h).unwrap();
    let mut cbor = std::fs::read(f.dir.join("p5.proof")).unwrap();
    let at = cbor
        .windows(32)
        .position(|w| w == hash.as_slice())
        .expect("path hash in bundle");
    cbor[at + 31] ^= 0x80;
    let p = f.dir.join("path.proof");
    std::fs::write(&p, &cbor).unwrap();
    assert_invalid("proof", &p, vkey, "inclusion proof does not verify");

    // A consistency proof with one path hash altered.
    let mut c = read_json(&f.dir.join("c3.json"));
    let h = c["path"][1].as_str().unwrap().to_string();
    c["path"][1] = serde_json::Value::String(format!(
        "{}{}",
        &h[..63],
        if h.ends_with('f') { '0' } else { 'f' }
    ));
    let p = f.dir.join("c3bad.json");
    write_json(&p, &c);
    assert_invalid("proof", &p, vkey, "consistency proof from size 3");
}

#[test]
fn usage_errors_exit_2() {
    let f = fixture();
    let export = f.dir.join("ledger.export");
    let r = verify("export", &export, "not-a-vkey");
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = verify("export", &f.dir.join("missing.export"), &f.vkey);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = python(&["export"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
