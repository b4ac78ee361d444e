//! Fuzzing without a nightly toolchain: every file of fuzz/corpus/<target>/ and
//! fuzz/crashes/<target>/ is replayed through its target on every `cargo test`; the mutation
//! fuzzer (bit flips, byte changes, truncation, insertion, splicing of corpus files) runs a few
//! hundred inputs per target here and for as long as asked with scripts/fuzz.sh. A failing
//! input is saved under fuzz/crashes/<target>/ so it becomes a regression test.

mod fuzz_targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target)
}

fn files(kind: &str, target: &str) -> Vec<Vec<u8>> {
    let mut v: Vec<_> = std::fs::read_dir(dir(kind, target))
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_else(|_| Vec::new());
    v.sort();
    v.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn corpus_and_crashes_replay_without_panic() {
    let mut n = 0;
    for (name, check) in fuzz_targets::targets() {
        let corpus = files("corpus", name);
        assert!(!corpus.is_empty(), "no seed corpus for {name}");
        for input in corpus.iter().chain(files("crashes", name).iter()) {
            check(input);
            n += 1;
        }
    }
    assert!(n >= 8);
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = [0x00, 0xff, 0x7f, 0x80, 0x17, 0x18, 0x1b, 0x5f, 0x9f, 0xbf, 0xf9][rng.below(11)];
            }
            2 if !b.is_empty() => b.truncate(rng.below(b.len())),
            3 => {
                let i = rng.below(b.len() + 1);
                b.insert(i, rng.next() as u8);
            }
            4 if !other.is_empty() => {
                let i = rng.below(b.len() + 1);
                let j = rng.below(other.len());
                b.splice(
                    i..i,
                    other[j..(j + 1 + rng.below(32)).min(other.len())].iter().copied(),
                );
            }
            5 if b.len() > 1 => {
                let i = rng.below(b.len() - 1);
                b.remove(i);
            }
            _ => {
                let i = rng.below(b.len() + 1);
                let n = rng.below(64);
                b.splice(i..i, std::iter::repeat_n(rng.next() as u8, n));
            }
        }
    }
    b
}

/// Runs the mutation fuzzer on one target for `iters` inputs; saves and reports the first
/// input that panics.
fn fuzz(name: &str, check: fn(&[u8]), iters: usize, seed: u64) {
    let corpus = files("corpus", name);
    let mut rng = Rng(seed | 1);
    for _ in 0..iters {
        let a = &corpus[rng.below(corpus.len())];
        let b = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, a, b);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            let d = dir("crashes", name);
            std::fs::create_dir_all(&d).unwrap();
            let path = d.join(format!("crash-{:016x}", rng.next()));
            std::fs::write(&path, &input).unwrap();
            panic!("{name}: an input panicked; saved as {}", path.display());
        }
    }
}

#[test]
fn a_short_mutation_run_per_target() {
    let iters: usize = std::env::var("FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    for (i, (name, check)) in fuzz_targets::targets().into_iter().enumerate() {
        fuzz(name, check, iters, 0x5eed + i as u64);
    }
}

/// scripts/fuzz.sh: FUZZ_SECONDS per target (default 60), seeded from the clock.
#[test]
#[ignore]
fn fuzz_for_a_while() {
    let secs: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    for (name, check) in fuzz_targets::targets() {
        let start = std::time::Instant::now();
        let mut runs = 0usize;
        while start.elapsed().as_secs() < secs {
            fuzz(
                name,
                check,
                1_000,
                start.elapsed().as_nanos() as u64 ^ runs as u64,
            );
            runs += 1_000;
        }
        eprintln!("{name}: {runs} inputs in {secs} s, no panic");
    }
}

/// Writes the seed corpus from a fresh demo ledger: `cargo test --test fuzz -- --ignored make_corpus`.
#[test]
#[ignore]
fn make_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = assert_cmd::cargo::cargo_bin("accord");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(&exe)
            .env("XDG_STATE_HOME", tmp.path().join("st"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    let d = tmp.path().join("demo");
    run(&["demo", "--dir", d.to_str().unwrap()]);
    let l = d.join("ledger");
    let ls = l.to_str().unwrap();
    let f = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    run(&[
        "--ledger",
        ls,
        "prove",
        "3",
        "--since",
        "2",
        "--out",
        &f("b.cbor"),
    ]);
    run(&["--ledger", ls, "prove", "6", "--json", "--out", &f("b.json")]);
    run(&[
        "--ledger",
        ls,
        "consistency",
        "--from",
        "3",
        "--out",
        &f("c.cbor"),
    ]);
    run(&["--ledger", ls, "export", "--out", &f("x.export")]);
    let note = run(&["--ledger", ls, "checkpoint"]);
    let vkey = run(&["--ledger", ls, "ledger-key"]);
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let p = dir("corpus", target);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join(name), bytes).unwrap();
    };
    let store = accord::store::Store::open_read_only(&l).unwrap();
    store
        .read(|r| {
            r.for_each_entry(0, |i, b| -> Result<bool, accord::store::StoreError> {
                put("entry", &format!("entry-{i}"), b);
                let e = accord::entry::Entry::decode(b).unwrap();
                put("statement", &format!("statement-{i}"), &e.statement);
                let s = accord::statement::Statement::decode(&e.statement).unwrap();
                put("payload", &format!("payload-{i}"), s.payload_bytes());
                Ok(true)
            })
        })
        .unwrap();
    put("checkpoint", "note", &note);
    let text_end = note.windows(2).position(|w| w == b"\n\n").unwrap() + 1;
    put("checkpoint", "body", &note[..text_end]);
    put("vkey", "vkey", vkey.trim_ascii_end());
    put("proof", "bundle.cbor", &std::fs::read(f("b.cbor")).unwrap());
    put("proof", "bundle.json", &std::fs::read(f("b.json")).unwrap());
    put("proof", "consistency.cbor", &std::fs::read(f("c.cbor")).unwrap());
    put("export", "demo.export", &std::fs::read(f("x.export")).unwrap());
    put(
        "keyfile",
        "public",
        &std::fs::read(d.join("keys/contoso.pub")).unwrap(),
    );
    // A throwaway secret key made for the corpus only (never used anywhere).
    put(
        "keyfile",
        "secret",
        accord::keys::SecretKey::from_seed(&[0x42; 32])
            .to_file_text()
            .as_bytes(),
    );
}
