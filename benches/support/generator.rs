//! The synthetic ledger generator shared by the benchmarks (`benches/ledger.rs`) and the
//! interop suites' ledgers (`examples/interop_ledger.rs`, run by `tests/interop/run.sh`):
//! organisations with deterministic keys register, then attest in turn, signed in parallel and
//! appended through the library in batches of [`BATCH`] (one transaction and one checkpoint
//! each), which is thousands of times faster than one `accord attest` per entry.
//!
//! Included with `#[path]` by both targets, so that the generator exists once.

use std::path::Path;
use std::time::{Duration, Instant};

use accord::checkpoint::{LedgerKey, Origin};
use accord::keys::SecretKey;
use accord::ledger::Ledger;
use accord::norms::Catalogue;
use accord::statement::{self, Attestation, Body, NormRef, Payload, Registration};
use rayon::prelude::*;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Statements per `Ledger::append` call (one transaction, one checkpoint).
pub const BATCH: u64 = 10_000;

/// Deterministic key of organisation `i` (`salt` 0) or of its recovery key (`salt` 1).
pub fn org_key(i: u64, salt: u8) -> SecretKey {
    let mut seed = [0xacu8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    seed[8] = salt;
    SecretKey::from_seed(&seed)
}

pub fn org_name(i: u64) -> String {
    format!("Bench Org {i:04}")
}

/// The signing material of every organisation.
pub struct Orgs {
    keys: Vec<SecretKey>,
    iss: Vec<String>,
    /// The ledger's origin, which every statement names.
    origin: String,
}

impl Orgs {
    /// The first `n` organisations, signing for the ledger of `origin`.
    pub fn new(n: u64, origin: &str) -> Res<Orgs> {
        let mut keys = Vec::new();
        let mut iss = Vec::new();
        for i in 0..n {
            keys.push(org_key(i, 0));
            iss.push(statement::normalise_org(&org_name(i))?);
        }
        Ok(Orgs {
            keys,
            iss,
            origin: origin.to_string(),
        })
    }

    /// The registration of organisation `i`.
    pub fn registration(&self, i: u64) -> Res<Vec<u8>> {
        let key = &self.keys[i as usize];
        let body = Body::Registration(Registration {
            name: org_name(i),
            public_key: key.public(),
            domain: Some(format!("org{i}.example")),
            contact: Some(format!("security@org{i}.example")),
            recovery: Some(org_key(i, 1).public().kid()),
        });
        self.sign(i, body)
    }

    /// Attestation number `j`, by organisation `j mod orgs`, of one to three norms.
    fn attestation(&self, j: u64, cat: &Catalogue) -> Res<Vec<u8>> {
        let offered: Vec<_> = cat.norms().iter().filter(|n| !n.deprecated).collect();
        let mut norms: Vec<NormRef> = (0..1 + j % 3)
            .map(|t| {
                let n = offered[((j / 3 + t * 5) % offered.len() as u64) as usize];
                NormRef {
                    id: n.id.clone(),
                    text_hash: n.text_hash(),
                }
            })
            .collect();
        norms.sort_by(|a, b| a.id.cmp(&b.id));
        norms.dedup_by(|a, b| a.id == b.id);
        let body = Body::Attestation(Attestation {
            catalogue: cat.version,
            norms,
            scope: vec![format!("Product {}", j % 1_000)],
            expires: None,
            note: None,
            supersedes: None,
        });
        self.sign(j % self.keys.len() as u64, body)
    }

    fn sign(&self, org: u64, body: Body) -> Res<Vec<u8>> {
        let payload = Payload {
            origin: self.origin.clone(),
            iat: accord::clock::now(),
            nonce: statement::random_nonce(),
            body,
        };
        let i = org as usize;
        Ok(statement::sign(&payload, &self.iss[i], &self.keys[i])?.into_bytes())
    }

    /// Attestations `from..to`, signed in parallel.
    pub fn attestations(&self, from: u64, to: u64, cat: &Catalogue) -> Res<Vec<Vec<u8>>> {
        (from..to)
            .into_par_iter()
            .map(|j| self.attestation(j, cat))
            .collect()
    }
}

/// Creates a ledger in `ledger_dir` with a new ledger key of `origin` (its secret written to
/// `key_file`, mode 0600), and fills it with exactly `entries` entries: `orgs` registrations
/// (fewer if `entries` is smaller), then attestations by each organisation in turn, appended
/// [`BATCH`] per transaction. `progress` is called with the size after each batch. Returns the
/// ledger key and the time spent in `Ledger::append`.
pub fn build_ledger(
    ledger_dir: &Path,
    key_file: &Path,
    origin: &str,
    entries: u64,
    orgs: u64,
    mut progress: impl FnMut(u64),
) -> Res<(LedgerKey, Duration)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let orgs = orgs.clamp(1, entries.max(1));
    let key = LedgerKey::generate(&Origin::new(origin)?);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(key_file)?
        .write_all(key.to_skey().as_bytes())?;
    let ledger = Ledger::init(ledger_dir, &key, key_file)?;
    let cat = Catalogue::embedded();
    let o = Orgs::new(orgs, origin)?;
    let mut appending = Duration::ZERO;
    if entries == 0 {
        return Ok((key, appending));
    }
    let regs: Vec<Vec<u8>> = (0..orgs).map(|i| o.registration(i)).collect::<Res<_>>()?;
    let t = Instant::now();
    ledger.append(&regs, &key, accord::clock::now(), cat)?;
    appending += t.elapsed();
    let mut done = orgs;
    progress(done);
    while done < entries {
        let to = (done + BATCH).min(entries);
        let batch = o.attestations(done - orgs, to - orgs, cat)?;
        let t = Instant::now();
        ledger.append(&batch, &key, accord::clock::now(), cat)?;
        appending += t.elapsed();
        done = to;
        progress(done);
    }
    Ok((key, appending))
}
