//! The state map committed inside the log (FORMAT.md section 18, issue 17): an honest ledger's
//! roots verify, and a custodian that commits a wrong root — altered, stale, or none under a
//! checkpoint — is caught by `verify` of the ledger and of its export, naming the entry.

mod common;

use accord::statement;
use common::*;

/// A ledger with two organisations, a pledge, a supersession and a withdrawal, appended
/// honestly; returns it with Acme's key.
fn honest() -> (World, std::path::PathBuf) {
    let w = World::new();
    let vkey = w.init();
    std::fs::write(w.path("vkey"), vkey).unwrap();
    let a = w.register("acme", "Acme");
    let b = w.register("beta", "Beta Industries");
    w.attest(&a, &["no-backdoors"], "Acme Cloud");
    w.attest(&b, &["no-backdoors"], "Beta Mail");
    w.ok(&["verify"]);
    (w, a)
}

fn acme_pledge(a: &std::path::Path) -> Vec<u8> {
    statement::sign(&payload(attestation("Acme Edge", None)), "acme", &sk(a))
        .unwrap()
        .into_bytes()
}

fn export_fails(w: &World, index: u64, what: &str) {
    let f = w.path("ledger.export");
    let _ = std::fs::remove_file(&f);
    w.ok(&["export", "--out", f.to_str().unwrap()]);
    let vkey = std::fs::read_to_string(w.path("vkey")).unwrap();
    let e = w.fails(
        1,
        &[
            "verify",
            "--ledger-key",
            vkey.trim(),
            "--file",
            f.to_str().unwrap(),
        ],
    );
    assert!(e.contains(&format!("entry {index}")) && e.contains(what), "{e}");
}

#[test]
fn an_honest_custodians_roots_verify_in_the_ledger_and_its_export() {
    let (w, a) = honest();
    let i = force_append(&w, &acme_pledge(&a));
    w.ok(&["verify"]);
    let f = w.path("ok.export");
    w.ok(&["export", "--out", f.to_str().unwrap()]);
    let vkey = std::fs::read_to_string(w.path("vkey")).unwrap();
    w.ok(&[
        "verify",
        "--ledger-key",
        vkey.trim(),
        "--file",
        f.to_str().unwrap(),
    ]);
    assert!(i > 3);
}

#[test]
fn an_altered_root_is_caught_naming_its_entry() {
    let (w, a) = honest();
    let i = force_append_state(&w, &acme_pledge(&a), 3, |mut r| {
        r[7] ^= 1;
        Some(r)
    });
    verify_names(&w, i, "state root");
    export_fails(&w, i, "state root");
}

#[test]
fn a_stale_root_is_caught_naming_its_entry() {
    let (w, a) = honest();
    // The root before this entry: the pledge it adds is left out of the committed state.
    let stale = {
        let l = accord::ledger::Ledger::open_read_only(&w.ledger()).unwrap();
        let size = l.size().unwrap();
        let b = l.store().read(|r| r.entry(size - 1)).unwrap().unwrap();
        accord::entry::Entry::decode(&b).unwrap().state.unwrap()
    };
    let i = force_append_state(&w, &acme_pledge(&a), 3, |_| Some(stale));
    verify_names(&w, i, "state root");
    export_fails(&w, i, "state root");
}

#[test]
fn a_checkpoint_over_an_entry_without_a_root_is_refused() {
    let (w, a) = honest();
    let i = force_append_state(&w, &acme_pledge(&a), 3, |_| None);
    verify_names(&w, i, "carries no state root");
    export_fails(&w, i, "no state root");
}

#[test]
fn a_hidden_second_registration_of_a_name_is_caught() {
    // A custodian registers a look-alike of "Acme" under its own key (breaking the name rule)
    // and commits the state as if the name map were unchanged: verify refuses the entry (by the
    // name rule first; the map would refuse it too).
    let (w, _) = honest();
    let k = w.key("mallory");
    let reg = statement::sign(
        &payload(registration("ACME", sk(&k).public(), None)),
        "acme",
        &sk(&k),
    )
    .unwrap();
    let stale = {
        let l = accord::ledger::Ledger::open_read_only(&w.ledger()).unwrap();
        let size = l.size().unwrap();
        let b = l.store().read(|r| r.entry(size - 1)).unwrap().unwrap();
        accord::entry::Entry::decode(&b).unwrap().state.unwrap()
    };
    let i = force_append_state(&w, reg.bytes(), 3, |_| Some(stale));
    verify_fails(&w, &[&format!("entry {i}")]);
}

#[test]
fn entries_of_versions_1_and_2_carry_no_root_and_the_next_commit_covers_them() {
    let w = World::new();
    w.init();
    let a = w.key("acme");
    let reg = statement::sign(
        &payload(registration("Acme", sk(&a).public(), None)),
        "acme",
        &sk(&a),
    )
    .unwrap();
    force_append_version(&w, reg.bytes(), 2);
    w.ok(&["verify"]);
    // Written by accord now: version 3 with the root of the whole state, the old entry included.
    w.attest(&a, &["no-backdoors"], "Acme Cloud");
    w.ok(&["verify"]);
}
