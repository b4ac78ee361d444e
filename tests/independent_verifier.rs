//! The promise of docs/FORMAT.md, tested: an independent verifier written in pure Python from
//! FORMAT.md and schemas/ alone (tests/independent/accord_verify.py) accepts what accord
//! produces (exports, CBOR and JSON proof bundles, consistency proofs, checkpoints, the
//! remembered replay state of `verify`) and refuses tampered copies. Needs `python3` (3.11 in
//! CI) on PATH; fails loudly without it.

mod common;
mod publog;

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
    let r = verify("state", &f.dir.join("missing.state"), &f.vkey);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// The replay state (FORMAT.md §11.1) that `verify --state DIR` left in `dir`.
fn replay_state(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with("replay-") && n.ends_with(".state")
        })
        .collect();
    assert_eq!(found.len(), 1, "one replay state in {}: {found:?}", dir.display());
    found.into_iter().next().unwrap()
}

/// `accord_verify.py state STATE --ledger-key VKEY [--export EXPORT]`.
fn check_state(state: &Path, vkey: &str, export: Option<&Path>) -> Py {
    let mut args = vec!["state", state.to_str().unwrap(), "--ledger-key", vkey];
    if let Some(e) = export {
        args.extend(["--export", e.to_str().unwrap()]);
    }
    python(&args)
}

/// Where the state's count of checkpoints verified is: the one field that is not derived
/// from the entries, so that no export can contradict it (§11.1 item 2).
fn checkpoints_field(buf: &[u8]) -> std::ops::Range<usize> {
    let u64_at = |p: usize| u64::from_le_bytes(buf[p..p + 8].try_into().unwrap()) as usize;
    let mut p = 20 + 4; // magic, version
    p += 8 + u64_at(p); // origin
    p += 8 + u64_at(p); // checkpoint note
    p += 8; // tree size
    p += 8 + 33 * u64_at(p); // right edge
    p += 32 + 8 + 8 + 6 * 8; // last leaf, log time, rules version, counts by kind
    p..p + 8
}

/// The state with one byte flipped at `at` and, if `rehash`, its digest made to match again
/// (what a forger would do; the digest only detects damage).
fn altered(state: &[u8], at: usize, rehash: bool) -> Vec<u8> {
    use sha2::Digest as _;
    let mut b = state.to_vec();
    b[at] ^= 0x01;
    if rehash {
        let n = b.len() - 32;
        let d = sha2::Sha256::digest(&b[..n]);
        b[n..].copy_from_slice(&d);
    }
    b
}

#[test]
fn replay_state_agrees_with_an_independent_replay() {
    let f = fixture();
    let export = f.dir.join("ledger.export");
    // The state of the ledger verified in place, and that of its export.
    for (dir, file) in [("rstate-ledger", None), ("rstate-export", Some("ledger.export"))] {
        let mut args = vec!["verify", "--ledger-key", &f.vkey, "--state", dir];
        if let Some(file) = file {
            args.extend(["--file", file]);
        }
        f.w.ok(&args);
        let state = replay_state(&f.dir.join(dir));
        let r = check_state(&state, &f.vkey, Some(&export));
        assert_eq!(r.code, 0, "{dir}: {}{}", r.stdout, r.stderr);
        let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(j["ok"], true, "{dir}: {j}");
        assert_eq!(j["differences"], serde_json::json!([]), "{dir}");
        assert_eq!(j["entries"], 10, "{dir}");
        assert_eq!(j["untrusted"], serde_json::json!([2, 4, 5]), "{dir}");
        assert_eq!(j["organisations"], 2, "{dir}");
        assert_eq!(j["compromise_marks"], 1, "{dir}");
        assert_eq!(j["root"], j["export"]["root"], "{dir}");
        // Without the export: the checks that need no ledger (digest, exact decoding, tree
        // edge against the signed checkpoint).
        let r = check_state(&state, &f.vkey, None);
        assert_eq!(r.code, 0, "{dir}: {}{}", r.stdout, r.stderr);
    }
}

#[test]
fn altered_replay_states_are_refused() {
    let f = fixture();
    let export = f.dir.join("ledger.export");
    f.w.ok(&["verify", "--ledger-key", &f.vkey, "--state", "rstate-alter"]);
    let state = replay_state(&f.dir.join("rstate-alter"));
    let buf = std::fs::read(&state).unwrap();
    let body = buf.len() - 32;

    // One byte flipped: the trailing SHA-256 no longer matches.
    let p = f.dir.join("flipped.state");
    std::fs::write(&p, altered(&buf, body / 2, false)).unwrap();
    let r = check_state(&p, &f.vkey, Some(&export));
    assert_eq!(r.code, 1, "flipped state accepted:\n{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("trailing SHA-256 does not match"),
        "{}",
        r.stderr
    );

    // A byte flipped and the digest recomputed, across the file: the decoding, the checkpoint
    // or the comparison with the replay of the export refuses each.
    let skip = checkpoints_field(&buf);
    for k in 1..16 {
        let mut at = body * k / 16;
        if skip.contains(&at) {
            at = skip.end;
        }
        let p = f.dir.join(format!("forged-{at}.state"));
        std::fs::write(&p, altered(&buf, at, true)).unwrap();
        let r = check_state(&p, &f.vkey, Some(&export));
        assert_eq!(
            r.code,
            1,
            "state with byte {at} of {} altered (digest recomputed) accepted:\n{}{}",
            buf.len(),
            r.stdout,
            r.stderr
        );
        assert!(r.stderr.contains("INVALID: "), "{}", r.stderr);
    }
}

#[test]
fn another_ledgers_replay_state_is_refused() {
    let f = fixture();
    // Another ledger of the same origin under another key: one organisation with more
    // entries than one SHA-256 block of indexes holds (8), so that its index digest is saved
    // mid-stream.
    let w = World::new();
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
    assert_ne!(vkey, f.vkey);
    w.ok(&["key", "generate", "gamma", "--dir", "keys"]);
    w.ok(&["register", "--key", "keys/gamma.key", "--org", "Gamma"]);
    for i in 0..9 {
        let scope = format!("Gamma {i}");
        w.ok(&[
            "attest",
            "--key",
            "keys/gamma.key",
            "--norm",
            "no-backdoors",
            "--scope",
            &scope,
        ]);
    }
    w.ok(&["export", "--out", "other.export"]);
    w.ok(&["verify", "--ledger-key", &vkey, "--state", "rstate"]);
    let state = replay_state(&w.path("rstate"));
    let r = check_state(&state, &vkey, Some(&w.path("other.export")));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // With this ledger's key and export: refused, under its own name (named for another
    // key) and under any other (its checkpoint is not signed by this ledger's key).
    let r = check_state(&state, &f.vkey, Some(&f.dir.join("ledger.export")));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("named for another ledger key"), "{}", r.stderr);
    let p = f.dir.join("other.state");
    std::fs::copy(&state, &p).unwrap();
    let r = check_state(&p, &f.vkey, Some(&f.dir.join("ledger.export")));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("no signature by the ledger key"),
        "{}",
        r.stderr
    );
}

/// A state of more than 512 entries: its tile roots and the edge's subtrees of level 8 and
/// more are checked by the independent reader, and agree with its own replay of the export;
/// a tile root changed (digest recomputed) is refused.
#[test]
fn a_replay_state_with_tile_roots_agrees_with_an_independent_replay() {
    let (w, vkey, key) = publog::ledger_of(600);
    publog::append_attestations(&w, &key, 170, "more");
    w.ok(&["export", "--out", "big.export"]);
    w.ok(&["verify", "--ledger-key", &vkey, "--state", "rstate"]);
    let state = replay_state(&w.path("rstate"));
    let r = check_state(&state, &vkey, Some(&w.path("big.export")));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The three tile roots sit just before the registry: find the first one by its value (the
    // root of the first 256 entries, from the export's own level-8 subtree) and change it.
    let bytes = std::fs::read(&state).unwrap();
    let entries = publog::entries(&w);
    let leaves: Vec<_> = entries[..256].iter().map(|e| publog::leaf(e)).collect();
    let first = publog::mth(&leaves);
    let at = bytes
        .windows(32)
        .position(|win| win == first)
        .expect("the first tile root is in the state");
    let bad = w.path("bad.state");
    std::fs::write(&bad, altered(&bytes, at, true)).unwrap();
    let r = check_state(&bad, &vkey, Some(&w.path("big.export")));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    // accord itself refuses it too (exit 2, never trusted in part).
    std::fs::copy(&bad, &state).unwrap();
    let err = w.fails(2, &["verify", "--ledger-key", &vkey, "--state", "rstate"]);
    assert!(err.contains("replay state"), "{err}");
}
