//! A ledger of store format 1 (without the `ended`, `untrusted` and `name_keys` tables)
//! is refused by every command until `accord upgrade` rebuilds its derived tables; then it
//! verifies and reads as if it had been written by this accord.

mod common;

use common::{attest_args, World};

/// Turns the ledger back into store format 1: drops the tables format 2 added and sets the old
/// format tag; its entries, hashes and checkpoints stay as they are.
fn downgrade(w: &World) {
    let db = redb::Database::open(w.ledger().join("ledger.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    let ended: redb::TableDefinition<u64, (u64, [u8; 32])> = redb::TableDefinition::new("ended");
    let untrusted: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("untrusted");
    assert!(txn.delete_table(ended).unwrap());
    assert!(txn.delete_table(untrusted).unwrap());
    let name_keys: redb::TableDefinition<&str, (u64, &str)> = redb::TableDefinition::new("name_keys");
    assert!(txn.delete_table(name_keys).unwrap());
    {
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let mut m = txn.open_table(meta).unwrap();
        m.insert("format", b"accord-ledger/1".as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn a_format_1_ledger_is_refused_until_upgraded_then_verifies() {
    let w = World::new();
    w.init();
    let a = w.register("acme", "Acme");
    w.attest(&a, &["no-backdoors"], "Acme Cloud");
    w.withdraw(&a, "1", "retired");
    let cp = w.checkpoint();
    let before = w.ok(&["status", "--all", "--json"]);
    downgrade(&w);
    let attest = attest_args(&a, &["no-backdoors"], "x");
    for args in [&["verify"][..], &["status"], &["list"], &attest] {
        let e = w.fails(2, args);
        assert!(e.contains("accord upgrade"), "{args:?}: {e}");
    }
    let o = w.ok(&["upgrade"]);
    assert!(o.contains("3 entries"), "{o}");
    assert_eq!(w.checkpoint(), cp);
    w.ok(&["verify"]);
    assert_eq!(w.ok(&["status", "--all", "--json"]), before);
    assert!(w.ok(&["upgrade"]).contains("already up to date"));
}
