//! Issue 14's write benchmark (docs/PERFORMANCE.md), side by side in one run: the single-append
//! rate of `accord attest` (a new process per pledge, as a signatory runs it) against the total
//! throughput of CLIENTS concurrent clients, each submitting one statement at a time to
//! `accord serve --writable` (group commit). Every acknowledged statement is durable: the
//! server answers after the commit; the ledger is verified at the end.
//!
//!   cargo build --release && cargo run --release --example submit_bench [CLIENTS] [PER_CLIENT] [ROUNDS]
//!
//! Defaults: 32 clients, 50 statements each, 3 rounds (medians reported); the attest baseline
//! runs 40 pledges per round. Prints a table; nothing here is a test.

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accord::keys::SecretKey;
use accord::norms::Catalogue;
use accord::statement::{self, Attestation, Body, NormRef, Payload};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const ORIGIN: &str = "bench.example/submit";

fn accord_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/release/examples/submit_bench -> target/release/accord
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("accord"))
        .expect("target dir")
}

fn accord(dir: &Path, args: &[&str]) -> Res<String> {
    let o = Command::new(accord_bin())
        .args(args)
        .env("ACCORD_LEDGER", dir.join("ledger"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .current_dir(dir)
        .output()?;
    if !o.status.success() {
        return Err(format!("accord {args:?}: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(String::from_utf8(o.stdout)?)
}

fn pledge(key: &SecretKey, scope: &str) -> Res<Vec<u8>> {
    let cat = Catalogue::embedded();
    let n = cat.get("no-backdoors").ok_or("catalogue")?;
    let body = Body::Attestation(Attestation {
        catalogue: cat.version,
        norms: vec![NormRef {
            id: n.id.clone(),
            text_hash: n.text_hash(),
        }],
        scope: vec![scope.into()],
        expires: None,
        note: None,
        supersedes: None,
    });
    let p = Payload {
        origin: ORIGIN.into(),
        iat: accord::clock::now(),
        nonce: statement::random_nonce(),
        body,
    };
    Ok(statement::sign(&p, "acme", key)?.bytes().to_vec())
}

/// POSTs one statement; its HTTP status.
fn post(addr: SocketAddr, body: &[u8]) -> Res<u16> {
    let mut c = std::net::TcpStream::connect(addr)?;
    c.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        c,
        "POST /entries HTTP/1.1\r\nHost: b\r\nConnection: close\r\nContent-Type: application/cose\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    c.write_all(body)?;
    let mut r = std::io::BufReader::new(c);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line.split_whitespace().nth(1).ok_or("no status")?.parse()?;
    let mut rest = Vec::new();
    r.read_to_end(&mut rest)?;
    Ok(status)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Res<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let clients = *args.first().unwrap_or(&32) as usize;
    let per_client = *args.get(1).unwrap_or(&50) as usize;
    let rounds = *args.get(2).unwrap_or(&3) as usize;
    let attests = 40;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    accord(
        dir,
        &[
            "init",
            "--origin",
            ORIGIN,
            "--key-file",
            &dir.join("ledger.key").display().to_string(),
        ],
    )?;
    accord(dir, &["key", "generate", "acme", "--dir", "keys"])?;
    accord(dir, &["register", "--key", "keys/acme.key", "--org", "Acme"])?;
    let key = accord::keyfile::read_secret_key(&dir.join("keys/acme.key"))?;
    let (mut single, mut group) = (Vec::new(), Vec::new());
    let mut n = 0u64;
    for round in 0..rounds {
        // a. `accord attest`, one process per pledge, back to back.
        let t = Instant::now();
        for i in 0..attests {
            accord(
                dir,
                &[
                    "attest",
                    "--key",
                    "keys/acme.key",
                    "--norm",
                    "no-backdoors",
                    "--scope",
                    &format!("a{round}-{i}"),
                ],
            )?;
        }
        single.push(attests as f64 / t.elapsed().as_secs_f64());
        // b. CLIENTS clients against `accord serve --writable`, one statement at a time each.
        let statements: Vec<Vec<Vec<u8>>> = (0..clients)
            .map(|c| {
                (0..per_client)
                    .map(|i| pledge(&key, &format!("s{round}-{c}-{i}")))
                    .collect()
            })
            .collect::<Res<_>>()?;
        let mut server = Command::new(accord_bin())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--writable",
                "--submit-rate",
                "1000000",
            ])
            .args(["--max-connections-per-client", "0"])
            .env("ACCORD_LEDGER", dir.join("ledger"))
            .stderr(Stdio::piped())
            .spawn()?;
        let mut lines = std::io::BufReader::new(server.stderr.take().ok_or("stderr")?);
        let mut line = String::new();
        let addr: SocketAddr = loop {
            line.clear();
            if lines.read_line(&mut line)? == 0 {
                return Err("serve did not start".into());
            }
            if let Some(rest) = line.split(" at http://").nth(1) {
                break rest.split('/').next().ok_or("address")?.parse()?;
            }
        };
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        let t = Instant::now();
        let threads: Vec<_> = statements
            .into_iter()
            .map(|mine| {
                std::thread::spawn(move || -> Result<u64, String> {
                    let mut ok = 0;
                    for st in mine {
                        match post(addr, &st).map_err(|e| e.to_string())? {
                            201 => ok += 1,
                            s => return Err(format!("status {s}")),
                        }
                    }
                    Ok(ok)
                })
            })
            .collect();
        let mut acknowledged = 0;
        for t in threads {
            acknowledged += t.join().map_err(|_| "client thread panicked")??;
        }
        let elapsed = t.elapsed();
        // SIGTERM: the server finishes what it holds and exits.
        Command::new("kill").arg(server.id().to_string()).status()?;
        server.wait()?;
        n += acknowledged;
        group.push(acknowledged as f64 / elapsed.as_secs_f64());
        eprintln!(
            "round {}: attest {:.1}/s, serve {:.1}/s",
            round + 1,
            single[round],
            group[round]
        );
    }
    let vkey = accord(dir, &["ledger-key"])?;
    accord(dir, &["verify", "--ledger-key", vkey.trim()])?;
    let checkpoints: serde_json::Value = serde_json::from_str(&accord(dir, &["checkpoints", "--json"])?)?;
    let (a, b) = (median(single), median(group));
    println!(
        "submit figures: {clients} clients x {per_client} statements per round against accord serve --writable, \
         {attests} accord attest processes per round, median of {rounds} interleaved rounds, {} cores; \
         {n} statements acknowledged, the ledger verified, {} checkpoints for {} entries",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        checkpoints.as_array().map_or(0, Vec::len),
        accord(dir, &["list", "--json"]).ok().and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()).and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0),
    );
    println!("| measure | statements/s | ratio to accord attest |");
    println!("| --- | ---: | ---: |");
    println!("| a. `accord attest`, one process per pledge, back to back | {a:.1} | 1.00 |");
    println!("| b. {clients} clients, one statement at a time each, to `accord serve --writable` | {b:.1} | {:.1} (target >= 10) |", b / a);
    Ok(())
}
