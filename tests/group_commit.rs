//! Group commit (`Ledger::append_each`, issue 14): statements that share one transaction and
//! one checkpoint are each judged on their own; a refused one takes no other with it, a
//! resubmitted one gets its existing index, and what is written verifies.

mod common;

use accord::checkpoint::{LedgerKey, Origin};
use accord::keys::SecretKey;
use accord::ledger::{Ledger, Outcome, Rejection};
use accord::norms::Catalogue;
use common::{attestation, registration, signed, ORIGIN};

fn checkpoints(l: &Ledger) -> usize {
    l.store().read(accord::report::checkpoints).unwrap().len()
}

fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

#[test]
fn a_group_commits_what_is_valid_and_refuses_the_rest_each_alone() {
    let dir = tempfile::tempdir().unwrap();
    let lk = LedgerKey::generate(&Origin::new(ORIGIN).unwrap());
    let l = Ledger::init(&dir.path().join("l"), &lk, &dir.path().join("k")).unwrap();
    let cat = Catalogue::embedded();
    let (acme, beta, stranger) = (key(1), key(2), key(3));
    let reg_acme = signed(registration("Acme", acme.public(), None), "acme", &acme);
    let first = l
        .append_each(&[reg_acme.bytes().to_vec()], &lk, accord::clock::now(), cat)
        .unwrap();
    assert!(matches!(&first[..], [Outcome::Appended(a)] if a.index == 0));

    let good = signed(attestation("Cloud", None), "acme", &acme);
    let mut forged = signed(attestation("Mail", None), "acme", &acme).bytes().to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 1; // the signature's last byte
    let by_stranger = signed(attestation("X", None), "acme", &stranger);
    let reg_beta = signed(registration("Beta", beta.public(), None), "beta", &beta);
    let beta_pledge = signed(attestation("Beta stuff", None), "beta", &beta);
    let group = vec![
        good.bytes().to_vec(),
        forged,
        reg_acme.bytes().to_vec(), // already in the ledger
        b"not a statement".to_vec(),
        by_stranger.bytes().to_vec(),
        reg_beta.bytes().to_vec(),
        beta_pledge.bytes().to_vec(), // depends on the registration before it in the group
        good.bytes().to_vec(),        // again, in the same group
    ];
    let before = checkpoints(&l);
    let out = l.append_each(&group, &lk, accord::clock::now(), cat).unwrap();
    assert_eq!(out.len(), group.len());
    assert!(matches!(&out[0], Outcome::Appended(a) if a.index == 1 && a.id == good.id()));
    assert!(matches!(&out[1], Outcome::Refused(_)), "{:?}", out[1]);
    assert!(matches!(&out[2], Outcome::AlreadyIn { index: 0, id } if *id == reg_acme.id()));
    assert!(
        matches!(&out[3], Outcome::Refused(Rejection::Statement(_))),
        "{:?}",
        out[3]
    );
    assert!(matches!(&out[4], Outcome::Refused(_)), "{:?}", out[4]);
    assert!(matches!(&out[5], Outcome::Appended(a) if a.index == 2));
    assert!(matches!(&out[6], Outcome::Appended(a) if a.index == 3 && a.org == "beta"));
    assert!(matches!(&out[7], Outcome::AlreadyIn { index: 1, .. }));
    // One transaction, one checkpoint, and the ledger verifies.
    assert_eq!(l.size().unwrap(), 4);
    assert_eq!(checkpoints(&l), before + 1);
    l.verify(&lk.verifier_key(), cat, None).unwrap();

    // A group with nothing valid signs no checkpoint.
    let out = l
        .append_each(
            &[by_stranger.bytes().to_vec(), good.bytes().to_vec()],
            &lk,
            accord::clock::now(),
            cat,
        )
        .unwrap();
    assert!(matches!(&out[0], Outcome::Refused(_)));
    assert!(matches!(&out[1], Outcome::AlreadyIn { index: 1, .. }));
    assert_eq!(l.size().unwrap(), 4);
    assert_eq!(checkpoints(&l), before + 1);
}

// `serve --publish` publishes after every commit through one target: the second publication
// found the target's own lock taken (a second handle on the lock file) and failed "busy".
#[test]
fn one_target_publishes_after_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let lk = LedgerKey::generate(&Origin::new(ORIGIN).unwrap());
    let l = Ledger::init(&dir.path().join("l"), &lk, &dir.path().join("k")).unwrap();
    let cat = Catalogue::embedded();
    let acme = key(1);
    let reg = signed(registration("Acme", acme.public(), None), "acme", &acme);
    let target = accord::publish::DirTarget::new(dir.path().join("public"));
    let mut statements = vec![reg.bytes().to_vec()];
    for i in 0..3 {
        let out = l
            .append_each(&statements, &lk, accord::clock::now(), cat)
            .unwrap();
        assert!(matches!(out[0], Outcome::Appended(_)));
        let r = accord::publish::publish(&l, &target, Default::default(), None).unwrap();
        assert_eq!(r.to, i + 1);
        statements = vec![signed(attestation(&format!("p{i}"), None), "acme", &acme)
            .bytes()
            .to_vec()];
    }
}
