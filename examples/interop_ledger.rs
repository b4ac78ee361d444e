//! Builds the ledgers that the interop suites (`tests/interop/run.sh`) publish, serve and hand
//! to independent tlog-tiles clients: ledgers of exact sizes, filled through the library by the
//! benchmarks' generator (`benches/support/generator.rs`), because appending 70,000 statements
//! one `accord attest` at a time would take far too long.
//!
//! ```text
//! cargo run --release --example interop_ledger -- DIR SIZE...
//! ```
//!
//! For each SIZE it writes `DIR/SIZE/ledger` (an accord ledger of exactly SIZE entries),
//! `DIR/SIZE/ledger.skey` (its ledger key, mode 0600) and `DIR/SIZE/vkey` (the public key, the
//! trust root a verifier is given). `DIR/SIZE` must not exist yet.

use std::path::PathBuf;
use std::time::Instant;

#[path = "../benches/support/generator.rs"]
mod generator;
use generator::{build_ledger, Res};

/// Organisations per ledger (fewer for a ledger smaller than that).
const ORGS: u64 = 16;

fn main() -> Res<()> {
    let mut args = std::env::args_os().skip(1);
    let usage = "usage: interop_ledger DIR SIZE...";
    let root = PathBuf::from(args.next().ok_or(usage)?);
    let sizes: Vec<u64> = args
        .map(|a| {
            a.to_str()
                .and_then(|s| s.replace('_', "").parse().ok())
                .ok_or(usage)
        })
        .collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        return Err(usage.into());
    }
    for size in sizes {
        let dir = root.join(size.to_string());
        if dir.exists() {
            return Err(format!("{} exists already", dir.display()).into());
        }
        std::fs::create_dir_all(&dir)?;
        let origin = format!("interop.example/ledger-{size}");
        let start = Instant::now();
        let (key, _) = build_ledger(
            &dir.join("ledger"),
            &dir.join("ledger.skey"),
            &origin,
            size,
            ORGS,
            |_| {},
        )?;
        let vkey = key.verifier_key().to_string();
        std::fs::write(dir.join("vkey"), format!("{vkey}\n"))?;
        eprintln!(
            "interop_ledger: {size} entries in {:.1}s: {}",
            start.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    Ok(())
}
