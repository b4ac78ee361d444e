//! The name rules of docs/FORMAT.md §4.1 computed twice and compared byte for byte: by
//! accord (src/names.rs: Rust, the `unicode-normalization` crate and the pinned data file) and
//! by the independent verifier (tests/independent/accord_verify.py: Python's own `unicodedata`
//! for NFC and NFD, and the same pinned file read on its own).
//!
//! accord writes a JSON file with, for every code point assigned in Unicode 14.0.0 taken as a
//! one-character name, for the hard names of issue 10 and for pseudo-random strings, the
//! comparison key or the rule that refuses the name, and the NFC, NFD and NFKC forms of every
//! assigned code point that they change; `accord_verify.py names-compare` recomputes all of it.
//!
//! Needs `python3` (3.11 in CI) on PATH. Without it the test prints why and passes, unless
//! `ACCORD_REQUIRE_ALL=1`, where it fails.

use std::process::Command;

use accord::names;
use unicode_normalization::UnicodeNormalization as _;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/accord_verify.py");

/// Runs the verifier with `args`, or `None` if python3 cannot be started and that is allowed.
fn python(args: &[&str]) -> Option<(i32, String, String)> {
    match Command::new("python3").arg(SCRIPT).args(args).output() {
        Ok(o) => Some((
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )),
        Err(e) => {
            if std::env::var("ACCORD_REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("cannot run `python3` ({e}) and ACCORD_REQUIRE_ALL=1");
            }
            println!(
                "SKIPPED: cannot run `python3` ({e}): the Python side of the §4.1 name rules \
                 was not compared (set ACCORD_REQUIRE_ALL=1 to make this a failure)"
            );
            None
        }
    }
}

/// A small deterministic generator (xorshift64*), so every run compares the same strings.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Names that have tripped, or could trip, an implementation.
fn hard_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "Contoso Ltd",
        "Contoso\u{200B} Ltd",
        "Cont\u{200D}oso Ltd",
        "Contoso\u{2060} Ltd",
        "\u{FEFF}Contoso Ltd",
        "Con\u{AD}toso Ltd",
        "Contoso L\u{34F}td",
        "Contoso\u{180E} Ltd",
        "Contoso Ltd\u{E0020}",
        "Contoso\u{3164}Ltd",
        "Contoso\u{A0}Ltd",
        "Contoso\u{3000}Ltd",
        "Contoso  Ltd",
        "\u{FF23}\u{FF4F}\u{FF4E}\u{FF54}\u{FF4F}\u{FF53}\u{FF4F} \u{FF2C}\u{FF54}\u{FF44}",
        "\u{421}ontoso Ltd",
        "C0NTOSO LTD",
        "\u{A4DA}\u{A4F3}\u{A4E0}\u{A4D4}\u{A4F3}\u{A4E2}\u{A4F3} \u{A4E1}\u{A4D4}\u{A4D3}",
        "Contoso\u{2800}Ltd",
        " Contoso",
        "Contoso ",
        "",
        "Acme",
        "Acne",
        "rnicrosoft",
        "ΣΊΣΥΦΟΣ ΑΕ",
        "ὈΔΥΣΣΕΎΣ",
        "İstanbul Holding",
        "ǅemal d.o.o.",
        "Straße GmbH",
        "ﬁnance ﬂow",
        "㍿ 株式会社",
        "\u{FDFA}",
        "e\u{301}\u{301}\u{323}",
        "\u{1100}\u{1161}\u{11A8}",
        "\u{AC00}\u{11A8}",
        "\u{CB94}",
        "%‰‱",
        "⏨ 10",
        "A\u{378}",
        "A\u{1FAF7}",
        "A\u{E000}",
        "A\u{0}",
        "A\tB",
        "A\u{600}1",
        "A\u{E0080}",
        "Société Générale",
        "日本電気株式会社",
        "أرامكو السعودية",
        "אל על",
        "טבע",
        "Газпром",
        "इन्फोसिस",
        "می\u{200C}خواهم",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Mathematical alphanumerics, circled and parenthesised letters.
    v.push("𝐂𝐨𝐧𝐭𝐨𝐬𝐨 𝕷𝖙𝖉".into());
    v.push("Ⓒⓞⓝⓣⓞⓢⓞ ⑴⒧".into());
    v
}

/// Pseudo-random strings mixing the characters where NFC, case folding and confusables
/// interact: combining marks, Hangul jamo, Greek sigma, spaces and invisible characters.
fn random_names(rng: &mut Rng, count: usize) -> Vec<String> {
    let pools: [&[(u32, u32)]; 6] = [
        &[(0x20, 0x7E), (0xC0, 0x17F)],
        &[
            (0x300, 0x36F),
            (0x1AB0, 0x1ABE),
            (0x20D0, 0x20F0),
            (0x591, 0x5C7),
            (0x64B, 0x65F),
        ],
        &[(0x1100, 0x11FF), (0xAC00, 0xAC40), (0x3131, 0x318E)],
        &[
            (0x370, 0x3FF),
            (0x400, 0x4FF),
            (0x1F00, 0x1FFF),
            (0x13A0, 0x13F5),
            (0xA4D0, 0xA4FF),
        ],
        &[
            (0xA0, 0xBF),
            (0x2000, 0x206F),
            (0x3000, 0x303F),
            (0xFE00, 0xFE0F),
            (0xFF00, 0xFFEF),
        ],
        &[
            (0x1D400, 0x1D7FF),
            (0x2100, 0x218F),
            (0x2460, 0x24FF),
            (0x3300, 0x33FF),
            (0xFB00, 0xFDFF),
        ],
    ];
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let len = 1 + rng.below(8);
        let mut s = String::new();
        for _ in 0..len {
            let c = if rng.below(10) == 0 {
                // Anywhere at all.
                char::from_u32(rng.below(0x110000) as u32)
            } else {
                let pool = pools[rng.below(pools.len())];
                let (a, b) = pool[rng.below(pool.len())];
                char::from_u32(a + rng.below((b - a + 1) as usize) as u32)
            };
            if let Some(c) = c {
                s.push(c);
            }
        }
        out.push(s);
    }
    out
}

fn case(name: &str) -> serde_json::Value {
    let (key, rule, cp, pos) = match names::comparison_key(name) {
        Ok(k) => (Some(k), None, None, None),
        Err(e) => (None, Some(e.rule()), e.code_point().map(u32::from), e.position()),
    };
    serde_json::json!([name, key, rule, cp, pos, names::comparison_key_v1(name)])
}

#[test]
fn python_computes_the_same_keys_and_refusals_byte_for_byte() {
    let Some((code, out, err)) = python(&["names-selftest"]) else {
        return;
    };
    assert_eq!(code, 0, "the verifier's own name self-test failed:\n{out}{err}");

    let mut cases = Vec::new();
    let mut normalisation = Vec::new();
    // Every code point assigned in 14.0.0 as a one-character name, private use aside (a few
    // of those, and of the unassigned, are in the samples below).
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        if names::is_unassigned_or_private_use(c) {
            continue;
        }
        let s = c.to_string();
        cases.push(case(&s));
        let forms: [String; 3] = [s.nfc().collect(), s.nfd().collect(), s.nfkc().collect()];
        if forms.iter().any(|f| *f != s) {
            normalisation.push(serde_json::json!([u32::from(c), forms[0], forms[1], forms[2]]));
        }
    }
    for c in [
        '\u{E000}',
        '\u{F8FF}',
        '\u{F0000}',
        '\u{10FFFD}',
        '\u{378}',
        '\u{FFFF}',
        '\u{1FAF7}',
        '\u{10FFFF}',
    ] {
        cases.push(case(&c.to_string()));
    }
    for name in hard_names() {
        cases.push(case(&name));
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for name in random_names(&mut rng, 20_000) {
        cases.push(case(&name));
    }
    let n = cases.len();
    let doc = serde_json::json!({
        "unicode": names::UNICODE_VERSION,
        "data_sha256": names::DATA_SHA256,
        "cases": cases,
        "normalisation": normalisation,
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("names.json");
    std::fs::write(&file, serde_json::to_vec(&doc).expect("JSON")).expect("write names.json");

    let Some((code, out, err)) = python(&["names-compare", file.to_str().expect("UTF-8 path")]) else {
        return;
    };
    println!("{out}");
    assert_eq!(
        code, 0,
        "Python disagrees with accord on the §4.1 name rules ({n} names):\n{out}{err}"
    );
    assert!(out.contains(&format!("{n} names")), "{out}");
}
