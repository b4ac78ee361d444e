//! Signature checks run beside other work: the replay overlaps the checks of one batch with the
//! decoding and rules of the next (src/replay.rs), and an append checks signatures on other
//! threads while it applies the rules and writes entries (src/ledger.rs). These tests hold both
//! to their promise: the error reported is the one at the lowest index whatever the batch
//! boundaries, a genuine ledger replays cleanly, and a refused append writes nothing.

mod common;

use accord::checkpoint::{LedgerKey, Origin};
use accord::entry::Entry;
use accord::keys::SecretKey;
use accord::ledger::{Ledger, LedgerError, Location};
use accord::norms::Catalogue;
use accord::replay::{Batch, Replay};
use accord::statement::{self, Body};
use common::{attestation, payload_at, registration};

const ORIGIN: &str = "order.example/ledger";
const ENTRIES: u64 = 12;

/// Entries as the store yields them: (index, entry bytes).
type Entries = Vec<(u64, Vec<u8>)>;

/// An empty ledger, its key, and `n` statements for it: a registration, then attestations.
fn fresh(n: u64) -> (tempfile::TempDir, Ledger, LedgerKey, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate(&Origin::new(ORIGIN).unwrap());
    let skey = dir.path().join("ledger.skey");
    std::fs::write(&skey, key.to_skey().as_bytes()).unwrap();
    let ledger = Ledger::init(&dir.path().join("ledger"), &key, &skey).unwrap();
    let org = SecretKey::from_seed(&[7; 32]);
    let iss = statement::normalise_org("Order Test Co").unwrap();
    let sign = |body: Body| {
        let payload = payload_at(ORIGIN, accord::clock::now(), body);
        statement::sign(&payload, &iss, &org).unwrap().into_bytes()
    };
    let mut statements = vec![sign(registration("Order Test Co", org.public(), None))];
    for j in 1..n {
        statements.push(sign(attestation(&format!("Product {j}"), None)));
    }
    (dir, ledger, key, statements)
}

/// A ledger of one registration and `ENTRIES - 1` attestations: its entries (key, bytes), its
/// latest checkpoint note and the ledger key.
fn ledger() -> (Entries, Vec<u8>, LedgerKey) {
    let (_dir, ledger, key, statements) = fresh(ENTRIES);
    let cat = Catalogue::embedded();
    ledger
        .append(&statements, &key, accord::clock::now(), cat)
        .unwrap();
    let mut entries = Vec::new();
    let mut note = Vec::new();
    ledger
        .store()
        .read(|r| -> Result<(), LedgerError> {
            r.for_each_entry(0, |k, b| -> Result<bool, LedgerError> {
                entries.push((k, b.to_vec()));
                Ok(true)
            })?;
            note = r.checkpoint(ENTRIES)?.expect("a checkpoint of the whole ledger");
            Ok(())
        })
        .unwrap();
    (entries, note, key)
}

/// Replays `entries` in batches of `batch`, then checks the checkpoint and finishes.
fn replay(
    entries: &[(u64, Vec<u8>)],
    note: &[u8],
    key: &LedgerKey,
    batch: usize,
) -> Result<u64, LedgerError> {
    let mut r = Replay::new(ORIGIN.into(), Catalogue::embedded(), key.verifier_key());
    for chunk in entries.chunks(batch) {
        let mut b = Batch::with_capacity(chunk.len());
        for (k, e) in chunk {
            b.push(*k, e);
        }
        r.feed(&b)?;
    }
    r.check_checkpoint(entries.len() as u64, note)?;
    let (report, _) = r.finish()?;
    Ok(report.entries)
}

/// Changes the last byte of entry `i`'s signature and re-encodes the entry: the entry still
/// decodes, its signature fails, and the next entry's chain link no longer matches.
fn break_signature(entries: &mut [(u64, Vec<u8>)], i: usize) {
    let mut e = Entry::decode(&entries[i].1).unwrap();
    *e.statement.last_mut().unwrap() ^= 1;
    entries[i].1 = e.encode().unwrap();
}

fn location(e: LedgerError) -> (Location, String) {
    match e {
        LedgerError::Invalid { at, problem } => (at, problem),
        other => panic!("expected an invalid-data error, got {other}"),
    }
}

#[test]
fn a_genuine_ledger_replays_whatever_the_batch_size() {
    let (entries, note, key) = ledger();
    for batch in [1, 2, 5, ENTRIES as usize] {
        assert_eq!(
            replay(&entries, &note, &key, batch).unwrap(),
            ENTRIES,
            "batch {batch}"
        );
    }
}

#[test]
fn the_lowest_bad_index_is_reported_whatever_the_batch_size() {
    let (mut entries, note, key) = ledger();
    break_signature(&mut entries, 4);
    for batch in [1, 2, 3, 4, 5, 6, ENTRIES as usize] {
        // Entry 4's signature fails (checked in the overlapped phase) and entry 5's chain link
        // fails (found in the serial phase, possibly earlier in time): entry 4 must win.
        let (at, problem) = location(replay(&entries, &note, &key, batch).unwrap_err());
        assert_eq!(at, Location::Entry(4), "batch {batch}: {problem}");
        assert!(problem.contains("signature"), "batch {batch}: {problem}");
    }
}

#[test]
fn a_bad_signature_in_the_last_batch_is_found_before_the_checkpoint_passes() {
    let (mut entries, note, key) = ledger();
    let last = entries.len() - 1;
    break_signature(&mut entries, last);
    for batch in [1, 3, ENTRIES as usize] {
        // The altered leaf changes the root, so the checkpoint fails too; the entry, being
        // pending when the checkpoint is compared, must still be the error reported.
        let (at, problem) = location(replay(&entries, &note, &key, batch).unwrap_err());
        assert_eq!(at, Location::Entry(last as u64), "batch {batch}: {problem}");
    }
}

#[test]
fn an_append_with_bad_signatures_in_several_check_chunks_names_the_first_and_writes_nothing() {
    // 700 statements span three chunks of the append's signature checker (256 each).
    let (_dir, ledger, key, mut statements) = fresh(700);
    for i in [650, 300, 520] {
        *statements[i].last_mut().unwrap() ^= 1;
    }
    let before = ledger.size().unwrap();
    let e = ledger
        .append(&statements, &key, accord::clock::now(), Catalogue::embedded())
        .unwrap_err();
    match e {
        LedgerError::Rejected { position, rejection } => {
            assert_eq!(position, 301, "{rejection}");
            assert!(rejection.to_string().contains("signature"), "{rejection}");
        }
        other => panic!("expected a rejection, got {other}"),
    }
    assert_eq!(ledger.size().unwrap(), before, "a refused append wrote entries");
    // The same statements with the signatures restored go in whole.
    for i in [650, 300, 520] {
        *statements[i].last_mut().unwrap() ^= 1;
    }
    let done = ledger
        .append(&statements, &key, accord::clock::now(), Catalogue::embedded())
        .unwrap();
    assert_eq!(done.len(), 700);
    assert_eq!(ledger.size().unwrap(), before + 700);
    ledger
        .verify(&key.verifier_key(), Catalogue::embedded(), None)
        .unwrap();
}

/// A database ledger whose batches end both at `VERIFY_BATCH` and at checkpoint sizes: one
/// registration, then attestations appended so that checkpoints fall at 1, 4,200 and 4,300
/// (verify's batches are then [0, 1), [1, 4097), [4097, 4200), [4200, 4300)).
struct Db {
    dir: tempfile::TempDir,
    key: LedgerKey,
}

const DB_ENTRIES: usize = 4_300;

fn db() -> Db {
    assert_eq!(
        accord::ledger::VERIFY_BATCH,
        4_096,
        "the batch edges below assume it"
    );
    let (dir, ledger, key, statements) = fresh(DB_ENTRIES as u64);
    for r in [0..1, 1..4_200, 4_200..DB_ENTRIES] {
        ledger
            .append(&statements[r], &key, accord::clock::now(), Catalogue::embedded())
            .unwrap();
    }
    Db { dir, key }
}

impl Db {
    /// A copy of the ledger directory, to damage.
    fn copy(&self) -> tempfile::TempDir {
        let to = tempfile::tempdir().unwrap();
        let (from, dest) = (self.dir.path().join("ledger"), to.path().join("ledger"));
        std::fs::create_dir(&dest).unwrap();
        for f in std::fs::read_dir(&from).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dest.join(f.file_name())).unwrap();
        }
        to
    }

    fn damage(
        &self,
        f: impl FnOnce(&mut accord::store::WriteTables<'_>) -> Result<(), accord::store::StoreError>,
    ) -> tempfile::TempDir {
        let d = self.copy();
        accord::store::Store::open(&d.path().join("ledger"))
            .unwrap()
            .write(f)
            .unwrap();
        d
    }

    fn verify(&self, d: &tempfile::TempDir) -> Result<u64, LedgerError> {
        Ledger::open_read_only(&d.path().join("ledger"))
            .unwrap()
            .verify(&self.key.verifier_key(), Catalogue::embedded(), None)
            .map(|r| r.entries)
    }
}

/// Entry `i` with one bit of its signature flipped, re-encoded.
fn bad_signature(d: &tempfile::TempDir, i: u64) -> Vec<u8> {
    let s = accord::store::Store::open_read_only(&d.path().join("ledger")).unwrap();
    let mut e = Entry::decode(&s.read(|r| r.entry(i)).unwrap().unwrap()).unwrap();
    *e.statement.last_mut().unwrap() ^= 1;
    e.encode().unwrap()
}

/// The entry whose replay adds stored hash `h` (tlog layout: entry n adds the stored hashes
/// from `stored_hash_count(n)` to `stored_hash_count(n + 1)`).
fn owner(h: u64) -> u64 {
    use accord::merkle::stored_hash_count as count;
    (0..).find(|&n| count(n + 1) > h).unwrap()
}

#[test]
fn stored_hash_damage_at_batch_and_checkpoint_edges_names_its_entry() {
    use accord::merkle::stored_hash_count as count;
    let db = db();
    assert_eq!(db.verify(&db.copy()).unwrap(), DB_ENTRIES as u64);
    // The first and last hashes of the batches on both sides of each edge.
    let mut hashes = vec![0, 1, count(DB_ENTRIES as u64) - 1];
    for edge in [1, 4_097, 4_200] {
        hashes.extend([count(edge) - 1, count(edge), count(edge) + 1]);
    }
    for h in hashes {
        let want = Location::Entry(owner(h));
        let d = db.damage(|t| t.put_hash(h, &[9; 32]));
        let (at, problem) = location(db.verify(&d).unwrap_err());
        assert_eq!(at, want, "hash {h} altered: {problem}");
        assert!(
            problem.contains(&format!("stored Merkle hash {h} differs")),
            "{problem}"
        );
        // Moved past the end: the row count stays right, the row is missing where it belongs.
        let past = count(DB_ENTRIES as u64) + 5;
        let d = db.damage(|t| t.remove_hash(h).and_then(|()| t.put_hash(past, &[0; 32])));
        let (at, problem) = location(db.verify(&d).unwrap_err());
        assert_eq!(at, want, "hash {h} moved: {problem}");
        assert!(
            problem.contains(&format!("stored Merkle hash {h} is missing")),
            "{problem}"
        );
    }
}

#[test]
fn in_a_database_the_lowest_bad_index_wins_across_batch_edges() {
    use accord::merkle::stored_hash_count as count;
    let db = db();
    // (bad signature at s, altered stored hash of entry h): the lower index is reported, with
    // the signature named when it is the signature's entry.
    for (s, h) in [
        (2_000, 2_100),
        (2_100, 2_000),
        (4_096, 4_098),
        (4_199, 4_201),
        (4_201, 4_199),
    ] {
        let bytes = bad_signature(&db.dir, s);
        let d = db.damage(|t| {
            t.put_entry(s, &bytes)?;
            t.put_hash(count(h), &[1; 32])
        });
        let (at, problem) = location(db.verify(&d).unwrap_err());
        assert_eq!(
            at,
            Location::Entry(s.min(h)),
            "signature {s}, hash {h}: {problem}"
        );
        let want = if s < h { "signature" } else { "stored Merkle hash" };
        assert!(problem.contains(want), "signature {s}, hash {h}: {problem}");
    }
    // A missing entry, after an entry whose stored hash was altered.
    let d = db.damage(|t| {
        t.remove_entry(3_000)?;
        t.put_hash(count(2_999), &[1; 32])
    });
    assert_eq!(location(db.verify(&d).unwrap_err()).0, Location::Entry(2_999));
    let d = db.damage(|t| t.remove_entry(3_000));
    let (at, problem) = location(db.verify(&d).unwrap_err());
    assert_eq!(at, Location::Entry(3_000), "{problem}");
}
