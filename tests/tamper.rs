//! Tampering with the stored ledger, through the raw store API: `accord verify` exits 1 and
//! names the entry, table or checkpoint; remembered checkpoints catch rollbacks and forks.

mod common;

use accord::entry::Entry;
use accord::store::Store;
use common::{attest_args, fork_evidence, verify_fails, World};

/// A ledger with 5 entries: 2 registrations, 3 attestations.
fn five() -> World {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme Corp");
    w.register("beta", "Beta GmbH");
    w.attest(&a, &["no-backdoors"], "One");
    w.attest(&a, &["patch-all-customers"], "Two");
    w.attest(&a, &["no-offensive-aid"], "Three");
    w
}

fn raw<T>(
    w: &World,
    f: impl FnOnce(&mut accord::store::WriteTables<'_>) -> Result<T, accord::store::StoreError>,
) -> T {
    let s = Store::open(&w.ledger()).unwrap();
    s.write(f).unwrap()
}

fn entry(w: &World, i: u64) -> Entry {
    let s = Store::open_read_only(&w.ledger()).unwrap();
    let b = s.read(|r| r.entry(i)).unwrap().unwrap();
    Entry::decode(&b).unwrap()
}

fn put(w: &World, i: u64, e: &Entry) {
    let b = e.encode().unwrap();
    raw(w, |t| t.put_entry(i, &b));
}

#[test]
fn untouched_ledger_verifies() {
    let w = five();
    let out = w.ok(&["verify"]);
    assert!(out.contains("5 entries"), "{out}");
}

#[test]
fn altered_payload_byte() {
    let w = five();
    let mut e = entry(&w, 2);
    let pos = e.statement.windows(3).position(|x| x == b"One").unwrap();
    e.statement[pos] = b'X';
    put(&w, 2, &e);
    verify_fails(&w, &["entry 2"]);
}

#[test]
fn altered_signature_byte() {
    let w = five();
    let mut e = entry(&w, 3);
    let n = e.statement.len();
    e.statement[n - 1] ^= 1;
    put(&w, 3, &e);
    verify_fails(&w, &["entry 3", "signature"]);
}

#[test]
fn altered_chain_link() {
    let w = five();
    let mut e = entry(&w, 2);
    e.prev[0] ^= 1;
    put(&w, 2, &e);
    verify_fails(&w, &["entry 2", "chain"]);
}

#[test]
fn altered_index() {
    let w = five();
    let mut e = entry(&w, 2);
    e.index = 7;
    put(&w, 2, &e);
    verify_fails(&w, &["entry 2", "index"]);
}

#[test]
fn altered_time() {
    let w = five();
    let mut e = entry(&w, 2);
    e.logged_at -= 10_000_000;
    put(&w, 2, &e);
    verify_fails(&w, &["entry 2"]);
    // A later time, still in order: the tree no longer matches.
    let w = five();
    let mut e = entry(&w, 4);
    e.logged_at += 1;
    put(&w, 4, &e);
    verify_fails(&w, &["entry 4"]);
}

#[test]
fn raw_byte_flip_in_every_entry() {
    let w = five();
    for i in 0..5u64 {
        let s = Store::open_read_only(&w.ledger()).unwrap();
        let orig = s.read(|r| r.entry(i)).unwrap().unwrap();
        drop(s);
        for pos in [0, orig.len() / 3, orig.len() / 2, orig.len() - 1] {
            let mut b = orig.clone();
            b[pos] ^= 0x40;
            raw(&w, |t| t.put_entry(i, &b));
            verify_fails(&w, &[&format!("entry {i}")]);
        }
        raw(&w, |t| t.put_entry(i, &orig));
    }
    w.ok(&["verify"]);
}

#[test]
fn reordered_entries() {
    let w = five();
    let (a, b) = (entry(&w, 2), entry(&w, 3));
    put(&w, 2, &b);
    put(&w, 3, &a);
    verify_fails(&w, &["entry 2"]);
}

#[test]
fn dropped_last_entries() {
    let w = five();
    raw(&w, |t| {
        t.remove_entry(4)?;
        t.remove_entry(3)
    });
    verify_fails(&w, &["checkpoint of size 4"]);
}

#[test]
fn altered_derived_tables_are_found() {
    // Stored hashes are compared with the replayed tree as the entries stream past: in the
    // tlog layout entry 2 adds stored hash 3 (its leaf) and entry 3 adds 4 (its leaf), 5 (the
    // node over entries 2-3) and 6 (over 0-3); each damage names its entry.
    let w = five();
    raw(&w, |t| t.put_hash(3, &[7; 32]));
    verify_fails(&w, &["entry 2", "stored Merkle hash 3 differs"]);
    // A row missing, then the same row moved past the end (the row count unchanged).
    let w = five();
    raw(&w, |t| t.remove_hash(3));
    verify_fails(&w, &["entry 2", "stored Merkle hash 3 is missing"]);
    let w = five();
    raw(&w, |t| t.remove_hash(5).and_then(|()| t.put_hash(1000, &[0; 32])));
    verify_fails(&w, &["entry 3", "stored Merkle hash 5 is missing"]);
    // An extra row past the end: every entry checks, the count does not.
    let w = five();
    raw(&w, |t| t.put_hash(1000, &[0; 32]));
    verify_fails(&w, &["hashes", "rows where the replay gives"]);
    let w = five();
    raw(&w, |t| t.put_org_entry("mallory", 1));
    verify_fails(&w, &["org_entries"]);
    let w = five();
    raw(&w, |t| {
        t.remove_live(&[0; 32]).and_then(|_| t.put_live(&[9; 32], 2))
    });
    verify_fails(&w, &["live"]);
    // The statement_ids table is compared whole with the replay (not entry by entry): a row
    // pointing elsewhere, and an extra row, are both found.
    let w = five();
    let id2 = accord::statement::Statement::decode(&entry(&w, 2).statement)
        .unwrap()
        .id();
    raw(&w, |t| t.put_statement_id(&id2, 3));
    verify_fails(&w, &["statement_ids", "entry 3"]);
    let w = five();
    raw(&w, |t| t.put_statement_id(&[5; 32], 1));
    verify_fails(&w, &["statement_ids"]);
    // Same row counts: a row moved past the last entry, and a live row moved from a live
    // attestation to an entry that is not one (with that entry's true id).
    // (Each world signs with fresh nonces, so ids are read from the world being damaged.)
    let id_of = |w: &World, i| {
        accord::statement::Statement::decode(&entry(w, i).statement)
            .unwrap()
            .id()
    };
    let w = five();
    let id2 = id_of(&w, 2);
    raw(&w, |t| t.put_statement_id(&id2, 1000));
    verify_fails(&w, &["statement_ids", "(entry 1000) differs from the replay"]);
    let w = five();
    let (id0, id2) = (id_of(&w, 0), id_of(&w, 2));
    raw(&w, |t| t.remove_live(&id2).and_then(|()| t.put_live(&id0, 0)));
    verify_fails(&w, &["live", "differs from the replay"]);
    let w = five();
    let id2 = id_of(&w, 2);
    raw(&w, |t| t.remove_live(&id2).and_then(|()| t.put_live(&id2, 3)));
    verify_fails(&w, &["live", "differs from the replay"]);
    let w = five();
    raw(&w, |t| t.put_norm_entry("no-backdoors", 3));
    verify_fails(&w, &["norm_entries"]);
    // Same row counts, other contents: org_entries and norm_entries are compared through one
    // digest per name, so a row moved to another index or another name is found.
    let w = five();
    raw(&w, |t| {
        t.remove_index_row(false, "acme corp", 2)?;
        t.put_org_entry("acme corp", 1)
    });
    verify_fails(&w, &["org_entries", "acme corp"]);
    let w = five();
    raw(&w, |t| {
        t.remove_index_row(false, "beta gmbh", 1)?;
        t.put_org_entry("acme corp", 1)
    });
    verify_fails(&w, &["org_entries"]);
    let w = five();
    raw(&w, |t| {
        t.remove_index_row(true, "no-backdoors", 2)?;
        t.put_norm_entry("no-backdoors", 3)
    });
    verify_fails(&w, &["norm_entries", "no-backdoors"]);
    let w = five();
    raw(&w, |t| {
        t.remove_index_row(true, "no-backdoors", 2)?;
        t.put_norm_entry("no-such-norm", 2)
    });
    verify_fails(
        &w,
        &[
            "norm_entries",
            "\"no-such-norm\", which is not a norm of the catalogue",
        ],
    );
}

#[test]
fn altered_checkpoint_is_found() {
    let w = five();
    raw(&w, |t| {
        let (size, note) = t.latest_checkpoint()?.unwrap();
        let mut n = note.clone();
        let p = n.iter().position(|&b| b == b'\n').unwrap() + 1;
        n[p] = b'9';
        t.put_checkpoint(size, &n)
    });
    verify_fails(&w, &["checkpoint of size 5"]);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn rollback_is_reported() {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme Corp");
    let snapshot = w.path("snapshot");
    copy_dir(&w.ledger(), &snapshot);
    w.attest(&a, &["no-backdoors"], "One");
    w.ok(&["verify"]);
    std::fs::remove_dir_all(w.ledger()).unwrap();
    copy_dir(&snapshot, &w.ledger());
    let e = verify_fails(&w, &["ROLLBACK"]);
    assert!(e.contains("2 entries") || e.contains("1 entries"), "{e}");
}

#[test]
fn fork_is_reported_and_evidence_kept() {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme Corp");
    let fork = w.path("fork");
    copy_dir(&w.ledger(), &fork);
    w.attest(&a, &["no-backdoors"], "One");
    w.ok(&["verify"]);
    // The same custodian key signs a different entry at the same size in the copy.
    let o = w
        .cmd()
        .env("ACCORD_LEDGER", &fork)
        .args(attest_args(&a, &["no-backdoors"], "Other"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = w
        .cmd()
        .env("ACCORD_LEDGER", &fork)
        .arg("verify")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("FORK"), "{err}");
    assert_eq!(fork_evidence(&w.path("state/accord")), 2);
    // Meeting the same fork again (a monitor run from cron) keeps no second copy of the same
    // evidence: the state directory does not grow at every run (review 15, F2).
    for _ in 0..3 {
        let o = w
            .cmd()
            .env("ACCORD_LEDGER", &fork)
            .arg("verify")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
    }
    assert_eq!(fork_evidence(&w.path("state/accord")), 2);
}
