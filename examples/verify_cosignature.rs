//! Checks a cosigned checkpoint with accord's own verifiers, for the witness part of the interop
//! suites (`tests/interop/run.sh witness`): cosignatures made by foreign witnesses (torchwood's
//! `CosignatureSigner`, litewitness) must verify with accord's, and tampered ones must not.
//!
//! ```text
//! cargo run --example verify_cosignature -- LOG_VKEY WITNESS_VKEY FILE
//! ```
//!
//! FILE is a signed checkpoint with cosignature lines appended. The log's signature is checked
//! with `SignedCheckpoint::open` (every line of the ledger key must verify, the origin must be
//! the key's name), the witness's with `CosignerVerifier::verify_note` (every line of the
//! witness key must verify, and there must be one). Prints `OK ...` and exits 0, or
//! `REJECTED: <reason>` and exits 1; 2 for a usage error.

use accord::checkpoint::{SignedCheckpoint, VerifierKey};
use accord::cosignature::CosignerVerifier;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [log, witness, file] = args.as_slice() else {
        eprintln!("usage: verify_cosignature LOG_VKEY WITNESS_VKEY FILE");
        std::process::exit(2);
    };
    let usage_error = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("verify_cosignature: {what}: {e}");
        std::process::exit(2)
    };
    let log = VerifierKey::parse(log).unwrap_or_else(|e| usage_error("log vkey", &e));
    let witness = CosignerVerifier::parse(witness).unwrap_or_else(|e| usage_error("witness vkey", &e));
    let note = std::fs::read(file).unwrap_or_else(|e| usage_error(file, &e));
    let cp = match SignedCheckpoint::open(&note, &log) {
        Ok(cp) => cp.checkpoint,
        Err(e) => {
            println!("REJECTED: the log's signature: {e}");
            std::process::exit(1);
        }
    };
    match witness.verify_note(&note) {
        Ok(t) => println!(
            "OK accord: {} size {} root {} cosigned by {} at time {t}",
            cp.origin,
            cp.size,
            STANDARD.encode(cp.root),
            witness.name()
        ),
        Err(e) => {
            println!("REJECTED: the cosignature: {e}");
            std::process::exit(1);
        }
    }
}
