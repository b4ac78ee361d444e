//! Power cuts and full disks, on a simulated disk under the real ledger code.
//!
//! `SimDisk` is a redb storage backend that keeps two images: what the program has written
//! (volatile, like the page cache) and what has reached the platter (durable, updated only by
//! `sync_data`). A power cut throws away every write not followed by a sync and stops the
//! "machine"; the ledger is then reopened from the durable image. SIGKILL tests (tests/crash.rs)
//! keep the page cache and so test atomicity; these test durability.

mod common;

use std::sync::{Arc, Mutex};

use accord::checkpoint::{LedgerKey, Origin};
use accord::keys::SecretKey;
use accord::ledger::Ledger;
use accord::norms::Catalogue;
use accord::statement::{self, Body};
use accord::store::Store;
use common::{attestation, payload_at, registration, xorshift};

const ORIGIN: &str = "sim.example/ledger";

#[derive(Debug, Default)]
struct Disk {
    volatile: Vec<u8>,
    durable: Vec<u8>,
    /// Operations left before the power is cut (None: never).
    ops_left: Option<u64>,
    /// Bytes that may still be written before the disk is full (None: unlimited).
    space_left: Option<u64>,
    /// `sync_data` fails with ENOSPC (a file system that allocates late reports a full disk
    /// when the data is flushed).
    sync_full: bool,
    dead: bool,
    syncs: u64,
}

#[derive(Debug, Clone, Default)]
struct SimDisk(Arc<Mutex<Disk>>);

fn io(msg: &str) -> std::io::Error {
    std::io::Error::other(msg.to_string())
}

impl SimDisk {
    fn from_image(image: Vec<u8>) -> SimDisk {
        SimDisk(Arc::new(Mutex::new(Disk {
            volatile: image.clone(),
            durable: image,
            ..Disk::default()
        })))
    }
    fn tick(d: &mut Disk) -> Result<(), std::io::Error> {
        if d.dead {
            return Err(io("power is off"));
        }
        if let Some(n) = d.ops_left.as_mut() {
            if *n == 0 {
                d.dead = true;
                return Err(io("power cut"));
            }
            *n -= 1;
        }
        Ok(())
    }
    fn durable_image(&self) -> Vec<u8> {
        self.0.lock().unwrap().durable.clone()
    }
}

impl redb::StorageBackend for SimDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        let d = self.0.lock().unwrap();
        if d.dead {
            return Err(io("power is off"));
        }
        Ok(d.volatile.len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let d = self.0.lock().unwrap();
        if d.dead {
            return Err(io("power is off"));
        }
        let start = offset as usize;
        let end = start + out.len();
        if end > d.volatile.len() {
            return Err(io("read past end"));
        }
        out.copy_from_slice(&d.volatile[start..end]);
        Ok(())
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let mut d = self.0.lock().unwrap();
        SimDisk::tick(&mut d)?;
        if let Some(space) = d.space_left {
            if len > d.volatile.len() as u64 + space {
                return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
            }
        }
        d.volatile.resize(len as usize, 0);
        Ok(())
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        let mut d = self.0.lock().unwrap();
        SimDisk::tick(&mut d)?;
        if d.sync_full {
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        d.durable = d.volatile.clone();
        d.syncs += 1;
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut d = self.0.lock().unwrap();
        SimDisk::tick(&mut d)?;
        if let Some(space) = d.space_left.as_mut() {
            if (data.len() as u64) > *space {
                return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
            }
            *space -= data.len() as u64;
        }
        let start = offset as usize;
        let end = start + data.len();
        if end > d.volatile.len() {
            d.volatile.resize(end, 0);
        }
        d.volatile[start..end].copy_from_slice(data);
        Ok(())
    }
}

struct Org {
    key: SecretKey,
    iss: String,
}

impl Org {
    /// `body` signed by the organisation, for this file's [`ORIGIN`], issued now.
    fn sign(&self, body: Body) -> Vec<u8> {
        let p = payload_at(ORIGIN, accord::clock::now(), body);
        statement::sign(&p, &self.iss, &self.key).unwrap().into_bytes()
    }

    fn registration(&self) -> Vec<u8> {
        self.sign(registration(&self.iss, self.key.public(), None))
    }

    /// Its attestation number `n` (scope "product N").
    fn attestation(&self, n: u64) -> Vec<u8> {
        self.sign(attestation(&format!("product {n}"), None))
    }
}

fn label() -> std::path::PathBuf {
    std::path::PathBuf::from("simdisk")
}

/// Appends one statement, logged now, as the custodian does.
fn append(ledger: &Ledger, key: &LedgerKey, statement: &[u8]) -> Result<(), accord::ledger::LedgerError> {
    ledger
        .append(
            &[statement.to_vec()],
            key,
            accord::clock::now(),
            Catalogue::embedded(),
        )
        .map(|_| ())
}

/// A new ledger key, the organisation `acme` with the key of seed `[seed; 32]`, and the durable
/// image of a fresh simulated disk holding an initialised ledger with its registration.
fn fresh(seed: u8) -> (LedgerKey, Org, Vec<u8>) {
    let key = LedgerKey::generate(&Origin::new(ORIGIN).unwrap());
    let org = Org {
        key: SecretKey::from_seed(&[seed; 32]),
        iss: "acme".into(),
    };
    let disk = SimDisk::default();
    let store = Store::with_backend(disk.clone(), &label()).unwrap();
    let ledger = Ledger::init_store(store, &key, &label()).unwrap();
    let reg = org.registration();
    append(&ledger, &key, &reg).unwrap();
    drop(ledger);
    let image = disk.durable_image();
    (key, org, image)
}

/// Reopens the ledger from a durable image, verifies it and returns its entries' statements.
fn reopen_and_verify(image: Vec<u8>, key: &LedgerKey) -> Result<Vec<Vec<u8>>, String> {
    let store = Store::with_backend(SimDisk::from_image(image), &label()).map_err(|e| e.to_string())?;
    let ledger = Ledger::from_store(store);
    ledger
        .verify(&key.verifier_key(), Catalogue::embedded(), None)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    ledger
        .store()
        .read(|r| {
            r.for_each_entry(0, |_, b| -> Result<bool, accord::store::StoreError> {
                out.push(accord::entry::Entry::decode(b).unwrap().statement);
                Ok(true)
            })
        })
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn power_cuts_lose_nothing_acknowledged() {
    let (key, org, base) = fresh(7);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = |n: u64| xorshift(&mut seed) % n;
    let (mut cuts, mut acknowledged_total, mut lost) = (0, 0, 0);
    for round in 0..300u64 {
        let disk = SimDisk::from_image(base.clone());
        let store = Store::with_backend(disk.clone(), &label()).unwrap();
        let ledger = Ledger::from_store(store);
        // Cut the power after a random number of backend operations.
        disk.0.lock().unwrap().ops_left = Some(rnd(400));
        let mut acknowledged = Vec::new();
        for n in 0..8 {
            let st = org.attestation(round * 100 + n);
            match append(&ledger, &key, &st) {
                Ok(_) => acknowledged.push(st),
                Err(_) => break,
            }
        }
        drop(ledger);
        cuts += 1;
        acknowledged_total += acknowledged.len();
        let statements = reopen_and_verify(disk.durable_image(), &key)
            .unwrap_or_else(|e| panic!("round {round}: after the cut the ledger does not verify: {e}"));
        for a in &acknowledged {
            if !statements.contains(a) {
                lost += 1;
            }
        }
    }
    assert_eq!(lost, 0, "{lost} acknowledged appends lost over {cuts} power cuts");
    assert!(
        acknowledged_total > 20,
        "too few appends acknowledged ({acknowledged_total}) to mean anything"
    );
    println!("power cuts: {cuts}, acknowledged appends: {acknowledged_total}, lost: {lost}");
}

#[test]
fn a_full_disk_fails_cleanly_and_keeps_every_earlier_entry() {
    let (key, org, base) = fresh(8);
    let disk = SimDisk::from_image(base);
    let ledger = Ledger::from_store(Store::with_backend(disk.clone(), &label()).unwrap());
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        let st = org.attestation(n);
        append(&ledger, &key, &st).unwrap();
        acknowledged.push(st);
    }
    // The disk fills up.
    disk.0.lock().unwrap().space_left = Some(2_000);
    let mut failed = false;
    for n in 5..200 {
        let st = org.attestation(n);
        match append(&ledger, &key, &st) {
            Ok(_) => acknowledged.push(st),
            Err(e) => {
                assert!(
                    e.to_string().contains("storage") || e.to_string().contains("28"),
                    "{e}"
                );
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the disk never filled");
    drop(ledger);
    let statements = reopen_and_verify(disk.durable_image(), &key).unwrap();
    for a in &acknowledged {
        assert!(statements.contains(a), "an acknowledged entry was lost");
    }
}

/// What a writable server's sequencer does when the disk fills: the failed commit is answered
/// "nothing was written", and once the ledger cannot even be read any more (redb refuses
/// everything after an I/O error until it is opened again) it stops and says why, instead of
/// refusing every later statement while looking alive (review 14, finding 2).
#[test]
fn a_sequencer_whose_storage_fails_stops_and_says_why() {
    use accord::sequencer::{Sequencer, SubmitError};
    let (key, org, base) = fresh(9);
    let disk = SimDisk::from_image(base);
    let ledger = Arc::new(Ledger::from_store(
        Store::with_backend(disk.clone(), &label()).unwrap(),
    ));
    let (told, why) = std::sync::mpsc::channel::<String>();
    let seq = Sequencer::start(
        Arc::clone(&ledger),
        LedgerKey::from_skey(&key.to_skey()).unwrap(),
        Catalogue::embedded(),
        16,
        None,
        Some(Box::new(move |w| {
            let _ = told.send(w);
        })),
    );
    let submit = |st: Vec<u8>| {
        let (tx, rx) = std::sync::mpsc::channel();
        seq.submit(
            st,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap()
    };
    let mut acknowledged = Vec::new();
    for n in 0..3 {
        let st = org.attestation(n);
        assert!(submit(st.clone()).is_ok());
        acknowledged.push(st);
    }
    disk.0.lock().unwrap().sync_full = true;
    let mut failed = None;
    for n in 3..200 {
        let st = org.attestation(n);
        match submit(st.clone()) {
            Ok(_) => acknowledged.push(st),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    assert!(
        matches!(failed, Some(SubmitError::Commit(_))),
        "the disk never filled: {failed:?}"
    );
    let reason = why
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the sequencer did not say it stopped");
    assert!(!reason.is_empty());
    // Stopped: later submissions are answered so at once.
    assert!(matches!(submit(org.attestation(500)), Err(SubmitError::Stopped)));
    drop(seq);
    drop(ledger);
    let statements = reopen_and_verify(disk.durable_image(), &key).unwrap();
    for a in &acknowledged {
        assert!(statements.contains(a), "an acknowledged entry was lost");
    }
}
