//! Cost benchmarks of issue 3 (see docs/PERFORMANCE.md), measured side by side in one run:
//!
//! * a. the raw `verify_strict` rate of ed25519-dalek on all cores (rayon), over the ledger's
//!   own (key, Sig_structure, signature) triples;
//! * b. `Ledger::verify` entries per second on the same ledger, and b/a;
//! * c. bulk append of pre-signed statements (group-committed, `BATCH` per call), and c/a;
//! * d. `export::verify_export` over a file written by `Ledger::export`, and d/a;
//! * e. proof generation at n = N (criterion benchmarks, plus a mean in the table);
//! * f. peak RSS of the release binary's `accord verify` and `accord verify --file`.
//! * g. with `ACCORD_BENCH_PUBLISH=1` only: `accord publish` of the whole ledger to a new
//!   directory (C2SP tiles), then of `ACCORD_BENCH_PUBLISH_MORE` (1,000) entries appended on top,
//!   in `ACCORD_BENCH_PUBLISH_ROUNDS` (3) rounds: time, files and bytes, beside an export of the
//!   same ledger written in the same run. When moto_server is installed (tests/moto/install.sh;
//!   `ACCORD_MOTO_SERVER`), the same publications to a bucket of a moto server on loopback,
//!   side by side with the directory's in each round. The published directory and its ledger
//!   are kept for `scripts/bench-serve.sh`.
//!
//! The ledger of N entries (`ACCORD_BENCH_ENTRIES`, default 1,000,000) is built once by bulk
//! append and cached under `target/accord-bench/`. Without `--bench` on the command line
//! (`cargo test --benches`) everything runs once on a tiny ledger, so tests stay quick.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accord::checkpoint::{LedgerKey, VerifierKey};
use accord::entry::Entry;
use accord::export;
use accord::ledger::{Ledger, LedgerError};
use accord::merkle;
use accord::norms::Catalogue;
use accord::statement::{Body, Statement};
use criterion::{black_box, Criterion};
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;

#[path = "support/generator.rs"]
mod generator;
#[path = "../tests/moto/server.rs"]
mod moto_server;
use generator::{build_ledger, Orgs, Res, BATCH};

const ORIGIN: &str = "bench.example/ledger";
/// The smaller ledger size at which peak RSS is also reported.
const RSS_SMALL: u64 = 100_000;

struct Config {
    /// Full measurement (`cargo bench`), or a quick smoke run (`cargo test --benches`).
    heavy: bool,
    entries: u64,
    orgs: u64,
    reps: usize,
    append_sample: u64,
    proof_samples: u64,
    root: PathBuf,
}

impl Config {
    fn from_env() -> Res<Config> {
        let args: Vec<String> = std::env::args().collect();
        let has = |f: &str| args.iter().any(|a| a == f);
        let heavy = has("--bench") && !has("--test") && !has("--list");
        let env_u64 = |name: &str, default: u64| -> Res<u64> {
            match std::env::var(name) {
                Ok(v) => Ok(v.replace('_', "").parse()?),
                Err(_) => Ok(default),
            }
        };
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
        let root = target.join("accord-bench");
        if heavy {
            let entries = env_u64("ACCORD_BENCH_ENTRIES", 1_000_000)?;
            let orgs = env_u64("ACCORD_BENCH_ORGS", 300)?.clamp(1, entries.max(1));
            Ok(Config {
                heavy,
                entries,
                orgs,
                reps: env_u64("ACCORD_BENCH_REPS", 3)?.max(1) as usize,
                append_sample: env_u64("ACCORD_BENCH_APPEND", 100_000)?.clamp(1, entries.max(1)),
                proof_samples: 2_000,
                root,
            })
        } else {
            Ok(Config {
                heavy,
                entries: 300,
                orgs: 20,
                reps: 1,
                append_sample: 100,
                proof_samples: 20,
                root: root.join("test-mode"),
            })
        }
    }
}

/// A cached ledger of `entries` entries.
struct Cached {
    dir: PathBuf,
    entries: u64,
    key: LedgerKey,
    /// Entries per second of the build, if it was built in this run.
    built_rate: Option<f64>,
}

impl Cached {
    fn ledger_dir(&self) -> PathBuf {
        self.dir.join("ledger")
    }
    fn export_file(&self) -> PathBuf {
        self.dir.join("ledger.export")
    }
    fn vkey(&self) -> VerifierKey {
        self.key.verifier_key()
    }
}

/// Builds (once) or reuses the cached ledger of `entries` entries and its export file.
fn ensure_ledger(root: &Path, entries: u64, orgs: u64) -> Res<Cached> {
    let dir = root.join(format!("ledger-{entries}-o{orgs}"));
    let skey = dir.join("ledger.skey");
    if dir.join("complete").exists() {
        let key = LedgerKey::from_skey(&std::fs::read_to_string(&skey)?)?;
        return Ok(Cached {
            dir,
            entries,
            key,
            built_rate: None,
        });
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!(
        "accord-bench: building a ledger of {entries} entries ({orgs} organisations) in {}",
        dir.display()
    );
    let (key, appending) = build_ledger(&dir.join("ledger"), &skey, ORIGIN, entries, orgs, |done| {
        if done.is_multiple_of(100_000) {
            eprintln!("accord-bench:   {done}/{entries}");
        }
    })?;
    let cached = Cached {
        dir,
        entries,
        key,
        built_rate: None,
    };
    let ledger = Ledger::open(&cached.ledger_dir())?;
    let mut w = BufWriter::new(std::fs::File::create(cached.export_file())?);
    ledger.export(&mut w)?;
    drop(w);
    drop(ledger);
    let rate = entries as f64 / appending.as_secs_f64();
    std::fs::write(
        cached.dir.join("build.txt"),
        format!("bulk append while building: {rate:.0} entries/s\n"),
    )?;
    std::fs::write(cached.dir.join("complete"), b"")?;
    Ok(Cached {
        built_rate: Some(rate),
        ..cached
    })
}

/// The ledger's signatures as raw (key, message, signature) triples for ed25519-dalek.
struct Triples {
    keys: Vec<VerifyingKey>,
    items: Vec<(u32, Vec<u8>, Signature)>,
}

fn load_triples(c: &Cached) -> Res<Triples> {
    let ledger = Ledger::open_read_only(&c.ledger_dir())?;
    let mut keys = Vec::new();
    let mut by_kid: HashMap<[u8; 32], u32> = HashMap::new();
    let mut items = Vec::with_capacity(c.entries as usize);
    ledger.store().read(|r| {
        r.for_each_entry(0, |_, b| -> Res<bool> {
            let st = Statement::decode(&Entry::decode(b)?.statement)?;
            let k = match &st.payload.body {
                Body::Registration(reg) => {
                    let idx = keys.len() as u32;
                    keys.push(VerifyingKey::from_bytes(&reg.public_key.to_bytes())?);
                    by_kid.insert(st.kid, idx);
                    idx
                }
                _ => *by_kid.get(&st.kid).ok_or("unregistered key in bench ledger")?,
            };
            items.push((k, st.to_be_signed(), Signature::from_bytes(&st.signature)));
            Ok(true)
        })
    })?;
    Ok(Triples { keys, items })
}

fn raw_verify(t: &Triples) -> Res<Duration> {
    let start = Instant::now();
    let ok = t
        .items
        .par_iter()
        .filter(|(k, m, s)| t.keys[*k as usize].verify_strict(m, s).is_ok())
        .count();
    let d = start.elapsed();
    if ok != t.items.len() {
        return Err(format!(
            "{} of {} raw signatures failed",
            t.items.len() - ok,
            t.items.len()
        )
        .into());
    }
    Ok(d)
}

fn ledger_verify(c: &Cached) -> Res<Duration> {
    let ledger = Ledger::open_read_only(&c.ledger_dir())?;
    let start = Instant::now();
    let report = ledger.verify(&c.vkey(), Catalogue::embedded(), None)?;
    let d = start.elapsed();
    if report.entries != c.entries {
        return Err(format!("verified {} entries, expected {}", report.entries, c.entries).into());
    }
    Ok(d)
}

fn export_verify(c: &Cached) -> Res<Duration> {
    let mut f = BufReader::new(std::fs::File::open(c.export_file())?);
    let start = Instant::now();
    let (report, _, _) = export::verify_export(&mut f, &c.vkey(), Catalogue::embedded(), None, None)?;
    let d = start.elapsed();
    if report.entries != c.entries {
        return Err(format!("export held {} entries, expected {}", report.entries, c.entries).into());
    }
    Ok(d)
}

fn copy_dir(from: &Path, to: &Path) -> Res<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()))?;
        } else {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Appends `sample` fresh pre-signed attestations to a copy of the ledger, `BATCH` per call;
/// returns the time spent in `Ledger::append` only.
fn bulk_append(c: &Cached, orgs: u64, sample: u64) -> Res<Duration> {
    let copy = c.dir.with_file_name(format!(
        "{}-append",
        c.dir.file_name().and_then(|n| n.to_str()).unwrap_or("ledger")
    ));
    if copy.exists() {
        std::fs::remove_dir_all(&copy)?;
    }
    copy_dir(&c.ledger_dir(), &copy)?;
    let res = (|| -> Res<Duration> {
        let ledger = Ledger::open(&copy)?;
        let cat = Catalogue::embedded();
        let o = Orgs::new(orgs, ORIGIN)?;
        // Numbered past the cached ledger's attestations; every statement has a fresh nonce.
        let first = c.entries;
        let batches: Vec<Vec<Vec<u8>>> = (0..sample.div_ceil(BATCH))
            .map(|b| o.attestations(first + b * BATCH, first + ((b + 1) * BATCH).min(sample), cat))
            .collect::<Res<_>>()?;
        let start = Instant::now();
        for b in &batches {
            ledger.append(b, &c.key, accord::clock::now(), cat)?;
        }
        let d = start.elapsed();
        if ledger.size()? != c.entries + sample {
            return Err("append sample: wrong final size".into());
        }
        Ok(d)
    })();
    std::fs::remove_dir_all(&copy)?;
    res
}

/// One publication: time, files (objects) and bytes written.
#[derive(Clone, Copy)]
struct Published {
    time: Duration,
    files: u64,
    bytes: u64,
}

/// What `publish_bench` measured.
struct PublishFigures {
    full: Published,
    /// The same to a bucket of the moto server, if it is installed.
    s3_full: Option<Published>,
    export: Duration,
    export_bytes: u64,
    more: u64,
    /// Per round: `more` entries appended, published to the directory and to the bucket.
    rounds: Vec<(Published, Option<Published>)>,
}

/// Where `publish_bench` keeps the published directory and the ledger it came from.
fn published_dirs(c: &Cached) -> (PathBuf, PathBuf) {
    let name = c.dir.file_name().and_then(|n| n.to_str()).unwrap_or("ledger");
    (
        c.dir.with_file_name(format!("{name}-published-ledger")),
        c.dir.with_file_name(format!("{name}-public")),
    )
}

/// A moto server on loopback for the S3 figures (the tests' S3 server, tests/moto/), killed
/// when dropped.
struct Moto {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    _log: tempfile::TempDir,
}

impl Moto {
    /// None when moto_server is not installed.
    fn start() -> Res<Option<Moto>> {
        let Some(program) = moto_server::program() else {
            return Ok(None);
        };
        let log = tempfile::tempdir()?;
        let (child, addr, _) = moto_server::start(&program, log.path(), false)?;
        Ok(Some(Moto {
            child,
            addr,
            _log: log,
        }))
    }

    /// A new bucket and the target of its prefix `log`.
    fn target(&self, bucket: &str) -> Res<accord::bucket::BucketTarget> {
        moto_server::create_bucket(self.addr, bucket)?;
        let endpoint = format!("http://{}", self.addr);
        let conn = accord::bucket::Connection::from_lookup(|k| match k {
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("bench".into()),
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            _ => None,
        })?;
        let url = accord::bucket::BucketUrl::parse(&format!("s3://{bucket}/log"))?;
        Ok(accord::bucket::BucketTarget::new(
            url,
            &conn,
            &Default::default(),
        )?)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes `ledger` to `target`, timed; the sizes must be `from` to `to`.
fn timed_publish(
    ledger: &Ledger,
    target: &dyn accord::publish::Target,
    (from, to): (u64, u64),
) -> Res<Published> {
    let t = Instant::now();
    let r = accord::publish::publish(ledger, target, Default::default(), None)?;
    let time = t.elapsed();
    if (r.from, r.to) != (from, to) {
        return Err(format!(
            "publish to {}: sizes {} to {}, not {from} to {to}",
            target.label(),
            r.from,
            r.to
        )
        .into());
    }
    Ok(Published {
        time,
        files: r.files,
        bytes: r.bytes,
    })
}

/// g. Publishes a copy of the ledger to a new directory (and, when moto is installed, to a
/// bucket of a moto server on loopback), then in `rounds` rounds appends `more` entries and
/// publishes them to both, in alternating order; an export of the same ledger, synced, is the
/// reference.
fn publish_bench(c: &Cached, orgs: u64, more: u64, rounds: u64) -> Res<PublishFigures> {
    let (ledger_dir, public) = published_dirs(c);
    for d in [&ledger_dir, &public] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
    }
    copy_dir(&c.ledger_dir(), &ledger_dir)?;
    let ledger = Ledger::open(&ledger_dir)?;
    // One target for every publication, as `serve --publish` uses it.
    let dir = accord::publish::DirTarget::new(&public);

    let export_file = ledger_dir.with_extension("export");
    let t = Instant::now();
    let mut w = BufWriter::new(std::fs::File::create(&export_file)?);
    ledger.export(&mut w)?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    let export = t.elapsed();
    let export_bytes = f.metadata()?.len();
    std::fs::remove_file(&export_file)?;

    let full = timed_publish(&ledger, &dir, (0, c.entries))?;
    let moto = Moto::start()?;
    let bucket = match &moto {
        Some(m) => Some(m.target("bench")?),
        None => {
            eprintln!("accord-bench: no moto_server (tests/moto/install.sh): no S3 figures");
            None
        }
    };
    let s3_full = match &bucket {
        Some(b) => Some(timed_publish(&ledger, b, (0, c.entries))?),
        None => None,
    };

    let cat = Catalogue::embedded();
    let mut figures = Vec::new();
    for round in 0..rounds {
        let from = c.entries + round * more;
        let batch = Orgs::new(orgs, ORIGIN)?.attestations(from, from + more, cat)?;
        ledger.append(&batch, &c.key, accord::clock::now(), cat)?;
        let sizes = (from, from + more);
        let s3 = |b: &accord::bucket::BucketTarget| timed_publish(&ledger, b, sizes);
        // Alternating which goes first, so that neither always meets a warmer page cache.
        let (d, s) = if round % 2 == 0 {
            let d = timed_publish(&ledger, &dir, sizes)?;
            (d, bucket.as_ref().map(s3).transpose()?)
        } else {
            let s = bucket.as_ref().map(s3).transpose()?;
            (timed_publish(&ledger, &dir, sizes)?, s)
        };
        figures.push((d, s));
    }
    Ok(PublishFigures {
        full,
        s3_full,
        export,
        export_bytes,
        more,
        rounds: figures,
    })
}

fn print_publish(c: &Cached, p: &PublishFigures) {
    let (ledger_dir, public) = published_dirs(c);
    let n = p.rounds.len();
    println!(
        "accord publish figures: {} entries, then {n} rounds of {} more; kept: {} (from {})",
        c.entries,
        p.more,
        public.display(),
        ledger_dir.display()
    );
    println!("| measure | time | files | bytes | ratio |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| export of the same ledger to one file (synced), the reference | {:.2} s | 1 | {} | 1.00 |",
        p.export.as_secs_f64(),
        p.export_bytes
    );
    println!(
        "| g. publish of the {}-entry ledger to a new directory | {:.2} s | {} | {} | {:.2} (time, to the export) |",
        c.entries,
        p.full.time.as_secs_f64(),
        p.full.files,
        p.full.bytes,
        p.full.time.as_secs_f64() / p.export.as_secs_f64()
    );
    if let Some(s) = p.s3_full {
        println!(
            "| g-s3. the same to a new bucket prefix (moto on loopback) | {:.2} s | {} | {} | {:.2} (time, to g) |",
            s.time.as_secs_f64(),
            s.files,
            s.bytes,
            s.time.as_secs_f64() / p.full.time.as_secs_f64()
        );
    }
    let dir = median(p.rounds.iter().map(|r| r.0.time).collect());
    let first = p.rounds[0];
    println!(
        "| g'. publish of {} entries appended on top, to the directory (median of {n}) | {:.3} s | {} | {} | |",
        p.more,
        dir.as_secs_f64(),
        first.0.files,
        first.0.bytes
    );
    if let Some(s3) = p.rounds.iter().map(|r| r.1).collect::<Option<Vec<_>>>() {
        let f = s3[0];
        let s3 = median(s3.iter().map(|s| s.time).collect());
        println!(
            "| g'-s3. the same {} entries to the bucket (median of {n}) | {:.3} s | {} | {} | {:.2} (time, to g') |",
            p.more,
            s3.as_secs_f64(),
            f.files,
            f.bytes,
            s3.as_secs_f64() / dir.as_secs_f64()
        );
    }
    for (k, (d, s)) in p.rounds.iter().enumerate() {
        let s3 = s.map_or(String::new(), |s| {
            format!(
                "; bucket {:.3} s, {} objects, {} bytes",
                s.time.as_secs_f64(),
                s.files,
                s.bytes
            )
        });
        println!(
            "round {}: directory {:.3} s, {} files, {} bytes{s3}",
            k + 1,
            d.time.as_secs_f64(),
            d.files,
            d.bytes
        );
    }
}

/// Mean time per call of `f` over `n` calls, given a pseudo-random u64.
fn mean_time(n: u64, mut f: impl FnMut(u64) -> Res<()>) -> Res<Duration> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let start = Instant::now();
    for _ in 0..n {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        f(x >> 11)?;
    }
    Ok(start.elapsed() / n as u32)
}

struct ProofTimes {
    inclusion: Duration,
    consistency: Duration,
    bundle: Duration,
    consistency_file: Duration,
}

/// Signed checkpoint sizes of the cached ledger (one per commit).
fn checkpoint_sizes(c: &Cached, orgs: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (1..c.entries.saturating_sub(orgs).div_ceil(BATCH) + 1)
        .map(|b| (orgs + b * BATCH).min(c.entries))
        .collect();
    v.insert(0, orgs);
    v
}

fn proof_times(c: &Cached, orgs: u64, samples: u64) -> Res<ProofTimes> {
    let ledger = Ledger::open_read_only(&c.ledger_dir())?;
    let n = c.entries;
    let sizes = checkpoint_sizes(c, orgs);
    let inclusion = mean_time(samples, |x| {
        black_box(
            ledger
                .store()
                .read(|r| -> Result<_, LedgerError> { Ok(merkle::inclusion_proof(x % n, n, r)?) })?,
        );
        Ok(())
    })?;
    let consistency = mean_time(samples, |x| {
        black_box(
            ledger
                .store()
                .read(|r| -> Result<_, LedgerError> { Ok(merkle::consistency_proof(1 + x % n, n, r)?) })?,
        );
        Ok(())
    })?;
    let bundle = mean_time(samples, |x| {
        black_box(ledger.prove(x % n, None, None)?);
        Ok(())
    })?;
    let consistency_file = mean_time(samples, |x| {
        black_box(ledger.consistency(sizes[(x % sizes.len() as u64) as usize], None)?);
        Ok(())
    })?;
    Ok(ProofTimes {
        inclusion,
        consistency,
        bundle,
        consistency_file,
    })
}

/// Criterion benchmarks of proof generation at n = N.
fn criterion_proofs(crit: &mut Criterion, c: &Cached, orgs: u64) -> Res<()> {
    let ledger = Ledger::open_read_only(&c.ledger_dir())?;
    let n = c.entries;
    let sizes = checkpoint_sizes(c, orgs);
    let mut g = crit.benchmark_group(format!("proofs_n{n}"));
    let mut x: u64 = 1;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 11
    };
    g.bench_function("inclusion_proof", |b| {
        b.iter(|| {
            let i = next() % n;
            ledger
                .store()
                .read(|r| -> Result<_, LedgerError> { Ok(merkle::inclusion_proof(i, n, r)?) })
                .unwrap()
        })
    });
    g.bench_function("consistency_proof", |b| {
        b.iter(|| {
            let m = 1 + next() % n;
            ledger
                .store()
                .read(|r| -> Result<_, LedgerError> { Ok(merkle::consistency_proof(m, n, r)?) })
                .unwrap()
        })
    });
    g.bench_function("Ledger::prove", |b| {
        b.iter(|| ledger.prove(next() % n, None, None).unwrap())
    });
    g.bench_function("Ledger::consistency", |b| {
        b.iter(|| {
            ledger
                .consistency(sizes[(next() % sizes.len() as u64) as usize], None)
                .unwrap()
        })
    });
    g.finish();
    Ok(())
}

/// Peak RSS (KiB) and wall time of one child `accord` run.
fn child_peak_rss(args: &[&std::ffi::OsStr]) -> Res<(u64, Duration)> {
    let exe = env!("CARGO_BIN_EXE_accord");
    let time = Path::new("/usr/bin/time");
    let start = Instant::now();
    if time.exists() {
        let out = Command::new(time)
            .arg("-v")
            .arg(exe)
            .args(args)
            .stdout(Stdio::null())
            .output()?;
        let d = start.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("accord {args:?} failed: {err}").into());
        }
        let kib = err
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .ok_or("no maximum RSS in /usr/bin/time -v output")?
            .trim()
            .parse()?;
        return Ok((kib, d));
    }
    // No /usr/bin/time: poll VmHWM (the high-water mark) until the child exits.
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut hwm = 0u64;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            if let Some(v) = s.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                hwm = hwm.max(v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
            }
        }
        if let Some(st) = child.try_wait()? {
            break st;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        return Err(format!("accord {args:?} failed").into());
    }
    Ok((hwm, start.elapsed()))
}

struct Rss {
    entries: u64,
    ledger_kib: u64,
    ledger_time: Duration,
    file_kib: u64,
    file_time: Duration,
}

fn rss(c: &Cached) -> Res<Rss> {
    let state = tempfile::tempdir()?;
    let vkey = c.vkey().to_string();
    let ledger_dir = c.ledger_dir();
    let export_file = c.export_file();
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let (ledger_kib, ledger_time) = child_peak_rss(&[
        os("--ledger"),
        ledger_dir.as_os_str(),
        os("verify"),
        os("--ledger-key"),
        vkey.as_ref(),
        os("--state"),
        state.path().join("a").as_os_str(),
    ])?;
    let (file_kib, file_time) = child_peak_rss(&[
        os("verify"),
        os("--file"),
        export_file.as_os_str(),
        os("--ledger-key"),
        vkey.as_ref(),
        os("--state"),
        state.path().join("b").as_os_str(),
    ])?;
    Ok(Rss {
        entries: c.entries,
        ledger_kib,
        ledger_time,
        file_kib,
        file_time,
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Issue 15's benchmark: a verification resumed from the state remembered at N entries, after
/// `more` entries were appended, against a full verification of the same N + `more` entries,
/// interleaved, for the ledger in place and for its export; plus the size of the remembered
/// state and the time to save and load it.
fn incremental_bench(c: &Cached, orgs: u64, more: u64, reps: usize) -> Res<()> {
    let dir = c.dir.join("incremental-ledger");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    copy_dir(&c.ledger_dir(), &dir)?;
    let ledger = Ledger::open(&dir)?;
    let vkey = c.vkey();
    let cat = Catalogue::embedded();
    eprintln!(
        "accord-bench: full verify of {} entries for the remembered state",
        c.entries
    );
    let (_, snap) = ledger.verify_from(&vkey, cat, None, None)?;
    let t = Instant::now();
    let bytes = snap.encode();
    let save = t.elapsed();
    let t = Instant::now();
    drop(accord::replay::Snapshot::decode(&bytes, &vkey)?);
    let load = t.elapsed();
    let batch = Orgs::new(orgs, ORIGIN)?.attestations(c.entries, c.entries + more, cat)?;
    ledger.append(&batch, &c.key, accord::clock::now(), cat)?;
    let export_file = dir.with_extension("export");
    {
        let mut w = BufWriter::new(std::fs::File::create(&export_file)?);
        ledger.export(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    let (mut full, mut inc, mut efull, mut einc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        eprintln!("accord-bench: round {}/{reps}", rep + 1);
        let t = Instant::now();
        ledger.verify_from(&vkey, cat, None, None)?;
        full.push(t.elapsed());
        let s = accord::replay::Snapshot::decode(&bytes, &vkey)?;
        let t = Instant::now();
        ledger.verify_from(&vkey, cat, Some(s), None)?;
        inc.push(t.elapsed());
        let t = Instant::now();
        export::verify_export(
            &mut std::io::BufReader::new(std::fs::File::open(&export_file)?),
            &vkey,
            cat,
            None,
            None,
        )?;
        efull.push(t.elapsed());
        let s = accord::replay::Snapshot::decode(&bytes, &vkey)?;
        let t = Instant::now();
        export::verify_export_from(
            &mut std::io::BufReader::new(std::fs::File::open(&export_file)?),
            &vkey,
            cat,
            None,
            Some(export::Resume {
                snapshot: s,
                first: 0,
            }),
            None,
        )?;
        einc.push(t.elapsed());
    }
    std::fs::remove_file(&export_file)?;
    let (full, inc, efull, einc) = (median(full), median(inc), median(efull), median(einc));
    println!(
        "\nincremental verification: {} entries remembered, {more} new; median of {reps} interleaved rounds; {} cores",
        c.entries,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| measure | time | ratio to the full verification |");
    println!("| --- | ---: | ---: |");
    println!(
        "| ledger: full verify of all {} entries | {:.2} s | 1.00 |",
        c.entries + more,
        full.as_secs_f64()
    );
    println!(
        "| ledger: resumed from the state at {} (loading it excluded) | {:.2} s | {:.3} |",
        c.entries,
        inc.as_secs_f64(),
        inc.as_secs_f64() / full.as_secs_f64()
    );
    println!("| export: full verify | {:.2} s | 1.00 |", efull.as_secs_f64());
    println!(
        "| export: resumed | {:.2} s | {:.3} |",
        einc.as_secs_f64(),
        einc.as_secs_f64() / efull.as_secs_f64()
    );
    println!(
        "| the remembered state: {} bytes ({:.0} per entry); encoded in {:.2} s, loaded and checked in {:.2} s | | |",
        bytes.len(),
        bytes.len() as f64 / c.entries as f64,
        save.as_secs_f64(),
        load.as_secs_f64()
    );
    Ok(())
}

fn main() -> Res<()> {
    let mut crit = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let cfg = Config::from_env()?;
    std::fs::create_dir_all(&cfg.root)?;
    let c = ensure_ledger(&cfg.root, cfg.entries, cfg.orgs)?;
    if std::env::var_os("ACCORD_BENCH_PUBLISH").is_some() {
        let more = std::env::var("ACCORD_BENCH_PUBLISH_MORE").map_or(Ok(1000), |v| v.parse())?;
        let rounds = std::env::var("ACCORD_BENCH_PUBLISH_ROUNDS")
            .map_or(Ok(3), |v| v.parse::<u64>())?
            .max(1);
        eprintln!(
            "accord-bench: publish of {} entries, then {rounds} rounds of {more} more",
            c.entries
        );
        let p = publish_bench(&c, cfg.orgs, more, rounds)?;
        print_publish(&c, &p);
        return Ok(());
    }
    if std::env::var_os("ACCORD_BENCH_INCREMENTAL").is_some() {
        let more = std::env::var("ACCORD_BENCH_INCREMENTAL_MORE").map_or(Ok(1000), |v| v.parse())?;
        let reps = cfg.reps.max(1);
        return incremental_bench(&c, cfg.orgs, more, reps);
    }
    let n = c.entries as f64;
    let load_before = loadavg();

    eprintln!("accord-bench: loading {} signatures for the raw rate", c.entries);
    let triples = load_triples(&c)?;
    let (mut raw, mut ver, mut exp) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so that drift on the machine affects every figure alike.
    for rep in 0..cfg.reps {
        eprintln!("accord-bench: round {}/{}", rep + 1, cfg.reps);
        raw.push(raw_verify(&triples)?);
        ver.push(ledger_verify(&c)?);
        exp.push(export_verify(&c)?);
    }
    drop(triples);
    let raw_rate = n / median(raw).as_secs_f64();
    let ver_rate = n / median(ver).as_secs_f64();
    let exp_rate = n / median(exp).as_secs_f64();
    if std::env::var_os("ACCORD_BENCH_VERIFY_ONLY").is_some() {
        // A quick side-by-side run while working on verify: rounds a, b and d only.
        println!("| measure | rate | ratio to raw verify_strict |");
        println!("| --- | ---: | ---: |");
        println!("| a. raw ed25519-dalek verify_strict, all cores | {raw_rate:.0} sig/s | 1.00 |");
        println!(
            "| b. Ledger::verify | {ver_rate:.0} entries/s | {:.2} |",
            ver_rate / raw_rate
        );
        println!(
            "| d. export::verify_export | {exp_rate:.0} entries/s | {:.2} |",
            exp_rate / raw_rate
        );
        return Ok(());
    }

    eprintln!(
        "accord-bench: bulk append of {} pre-signed attestations",
        cfg.append_sample
    );
    let app = bulk_append(&c, cfg.orgs, cfg.append_sample)?;
    let app_rate = cfg.append_sample as f64 / app.as_secs_f64();

    eprintln!("accord-bench: proof generation");
    let pt = proof_times(&c, cfg.orgs, cfg.proof_samples)?;

    let mut rss_rows = Vec::new();
    let mut rss_sizes = vec![cfg.entries];
    if cfg.heavy && cfg.entries > RSS_SMALL {
        rss_sizes.insert(0, RSS_SMALL);
    }
    for size in rss_sizes {
        let small;
        let cc = if size == c.entries {
            &c
        } else {
            small = ensure_ledger(&cfg.root, size, cfg.orgs.min(size))?;
            &small
        };
        eprintln!("accord-bench: peak RSS of accord verify at {size} entries");
        rss_rows.push(rss(cc)?);
    }

    criterion_proofs(&mut crit, &c, cfg.orgs)?;
    crit.final_summary();

    let threads = rayon::current_num_threads();
    println!();
    println!(
        "machine: {} ({} cores); load average before the measurements {load_before}, after {}",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    println!(
        "accord cost figures: {} entries ({} organisations), {threads} rayon threads, median of {} rounds{}",
        c.entries,
        cfg.orgs,
        cfg.reps,
        if cfg.heavy {
            ""
        } else {
            " (TEST MODE: tiny ledger, figures meaningless)"
        }
    );
    println!("| measure | rate | ratio to raw verify_strict |");
    println!("| --- | ---: | ---: |");
    println!("| a. raw ed25519-dalek verify_strict, all cores | {raw_rate:.0} sig/s | 1.00 |");
    println!(
        "| b. Ledger::verify | {ver_rate:.0} entries/s | {:.2} (target >= 0.8) |",
        ver_rate / raw_rate
    );
    println!(
        "| c. bulk append of pre-signed statements ({} per call, {} appended to the {}-entry ledger) | {app_rate:.0} entries/s | {:.2} |",
        BATCH,
        cfg.append_sample,
        c.entries,
        app_rate / raw_rate
    );
    if let Some(r) = c.built_rate {
        println!(
            "| c'. bulk append while building this ledger (0 to {} entries) | {r:.0} entries/s | {:.2} |",
            c.entries,
            r / raw_rate
        );
    }
    println!(
        "| d. export::verify_export | {exp_rate:.0} entries/s | {:.2} |",
        exp_rate / raw_rate
    );
    println!();
    println!(
        "| proof generation at n = {} (mean of {} random ones) | time per proof |",
        c.entries, cfg.proof_samples
    );
    println!("| --- | ---: |");
    println!("| e. merkle::inclusion_proof | {:.1} µs |", micros(pt.inclusion));
    println!(
        "| e. merkle::consistency_proof | {:.1} µs |",
        micros(pt.consistency)
    );
    println!(
        "| e. Ledger::prove (whole bundle) | {:.1} µs |",
        micros(pt.bundle)
    );
    println!(
        "| e. Ledger::consistency (proof file) | {:.1} µs |",
        micros(pt.consistency_file)
    );
    println!();
    println!("| f. peak RSS of the accord binary | entries | RSS | wall time |");
    println!("| --- | ---: | ---: | ---: |");
    for r in &rss_rows {
        println!(
            "| accord verify | {} | {:.1} MiB | {:.1} s |",
            r.entries,
            r.ledger_kib as f64 / 1024.0,
            r.ledger_time.as_secs_f64()
        );
        println!(
            "| accord verify --file EXPORT | {} | {:.1} MiB | {:.1} s |",
            r.entries,
            r.file_kib as f64 / 1024.0,
            r.file_time.as_secs_f64()
        );
    }
    Ok(())
}

/// The 1-minute load average (other processes competing for the cores skew every figure).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
