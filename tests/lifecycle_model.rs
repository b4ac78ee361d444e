//! Property test: random histories of valid and invalid lifecycle operations, appended to a
//! real ledger and run through a simple model written here. Every append is accepted exactly
//! when the model accepts it, the ledger verifies, and `status` equals the model's live set.

mod common;

use std::collections::{BTreeSet, HashMap};

use accord::checkpoint::{LedgerKey, Origin};
use accord::keys::SecretKey;
use accord::ledger::{Ledger, LedgerError};
use accord::norms::Catalogue;
use accord::statement::{self, Acceptance, Body, Payload, Recovery, Revocation, Rotation, Withdrawal};
use common::{attestation, payload_at, registration};
use proptest::prelude::*;

const ORIGIN: &str = "model.example/ledger";

#[derive(Debug, Clone)]
enum Op {
    Register { org: u8, with_recovery: bool },
    Attest { org: u8, key: u8, supersede: Option<u8> },
    Withdraw { org: u8, key: u8, target: u8 },
    Rotate { org: u8, key: u8 },
    Revoke { org: u8, key: u8, target: u8 },
    Recover { org: u8, right_key: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, any::<bool>()).prop_map(|(org, with_recovery)| Op::Register { org, with_recovery }),
        (0u8..3, 0u8..6, proptest::option::of(0u8..8)).prop_map(|(org, key, supersede)| Op::Attest {
            org,
            key,
            supersede
        }),
        (0u8..3, 0u8..6, 0u8..8).prop_map(|(org, key, target)| Op::Withdraw { org, key, target }),
        (0u8..3, 0u8..6).prop_map(|(org, key)| Op::Rotate { org, key }),
        (0u8..3, 0u8..6, 0u8..6).prop_map(|(org, key, target)| Op::Revoke { org, key, target }),
        (0u8..3, any::<bool>()).prop_map(|(org, right_key)| Op::Recover { org, right_key }),
    ]
}

/// The model: what the rules say, written as plainly as possible.
#[derive(Default)]
struct Model {
    /// org -> keys in install order: (key seed, current?)
    keys: HashMap<u8, Vec<(u64, bool)>>,
    /// org -> current recovery seed
    recovery: HashMap<u8, Option<u64>>,
    /// attestations: (org, statement id, live?)
    atts: Vec<(u8, [u8; 32], bool)>,
}

fn key(seed: u64) -> SecretKey {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8] = 0xa5;
    SecretKey::from_seed(&s)
}

fn name(org: u8) -> String {
    format!("org{org}")
}

/// A payload for this file's [`ORIGIN`], issued now.
fn payload(body: Body) -> Payload {
    payload_at(ORIGIN, accord::clock::now(), body)
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let lk = LedgerKey::generate(&Origin::new(ORIGIN).unwrap());
    let ledger = Ledger::init(&dir.path().join("l"), &lk, &dir.path().join("k")).unwrap();
    let mut m = Model::default();
    let mut next_seed = 1000u64;
    let mut fresh = || {
        next_seed += 1;
        next_seed
    };
    for op in ops {
        // Build the statement and the model's verdict.
        let (st, accept): (Option<statement::Statement>, bool) = match op {
            Op::Register { org, with_recovery } => {
                let k = fresh();
                let rec = if with_recovery { Some(fresh()) } else { None };
                let body = registration(&name(org), key(k).public(), rec.map(|r| key(r).public().kid()));
                let ok = !m.keys.contains_key(&org);
                let st = statement::sign(&payload(body), &name(org), &key(k)).unwrap();
                if ok {
                    m.keys.insert(org, vec![(k, true)]);
                    m.recovery.insert(org, rec);
                }
                (Some(st), ok)
            }
            Op::Attest {
                org,
                key: ki,
                supersede,
            } => {
                let Some(ks) = m.keys.get(&org) else { continue };
                let (seed, current) = ks[ki as usize % ks.len()];
                let target = supersede.and_then(|t| m.atts.get(t as usize % m.atts.len().max(1)).cloned());
                let sup_ok = target.as_ref().is_none_or(|(o, _, live)| *o == org && *live);
                let ok = current && sup_ok;
                let st = statement::sign(
                    &payload(attestation("S", target.as_ref().map(|t| t.1))),
                    &name(org),
                    &key(seed),
                )
                .unwrap();
                if ok {
                    if let Some((_, id, _)) = &target {
                        for a in m.atts.iter_mut().filter(|a| a.1 == *id) {
                            a.2 = false;
                        }
                    }
                    m.atts.push((org, st.id(), true));
                }
                (Some(st), ok)
            }
            Op::Withdraw { org, key: ki, target } => {
                let (Some(ks), false) = (m.keys.get(&org), m.atts.is_empty()) else {
                    continue;
                };
                let (seed, current) = ks[ki as usize % ks.len()];
                let t = m.atts[target as usize % m.atts.len()];
                let ok = current && t.0 == org && t.2;
                let body = Body::Withdrawal(Withdrawal {
                    target: t.1,
                    reason: "r".into(),
                });
                let st = statement::sign(&payload(body), &name(org), &key(seed)).unwrap();
                if ok {
                    for a in m.atts.iter_mut().filter(|a| a.1 == t.1) {
                        a.2 = false;
                    }
                }
                (Some(st), ok)
            }
            Op::Rotate { org, key: ki } => {
                let Some(ks) = m.keys.get(&org) else { continue };
                let idx = ki as usize % ks.len();
                let (seed, current) = ks[idx];
                let new = fresh();
                let acc = statement::sign(
                    &payload(Body::Acceptance(Acceptance {
                        public_key: key(new).public(),
                        replaces: key(seed).public().kid(),
                    })),
                    &name(org),
                    &key(new),
                )
                .unwrap();
                let st = statement::sign(
                    &payload(Body::Rotation(Rotation {
                        acceptance: Box::new(acc),
                    })),
                    &name(org),
                    &key(seed),
                )
                .unwrap();
                if current {
                    let ks = m.keys.get_mut(&org).unwrap();
                    ks[idx].1 = false;
                    ks.push((new, true));
                }
                (Some(st), current)
            }
            Op::Revoke { org, key: ki, target } => {
                let Some(ks) = m.keys.get(&org) else { continue };
                let i = ki as usize % ks.len();
                let j = target as usize % ks.len();
                let (seed, current) = ks[i];
                let (tseed, tcurrent) = ks[j];
                let ok = current && tcurrent && j <= i;
                let body = Body::Revocation(Revocation {
                    target: key(tseed).public().kid(),
                    reason: "r".into(),
                });
                let st = statement::sign(&payload(body), &name(org), &key(seed)).unwrap();
                if ok {
                    m.keys.get_mut(&org).unwrap()[j].1 = false;
                }
                (Some(st), ok)
            }
            Op::Recover { org, right_key } => {
                let Some(rec) = m.recovery.get(&org).copied() else {
                    continue;
                };
                let rseed = match (rec, right_key) {
                    (Some(r), true) => r,
                    _ => fresh(),
                };
                let new = fresh();
                let next = fresh();
                let body = Body::Recovery(Recovery {
                    recovery_key: key(rseed).public(),
                    new_key: key(new).public(),
                    next_recovery: key(next).public().kid(),
                    compromised_since: None,
                    reason: "r".into(),
                });
                let st = statement::sign(&payload(body), &name(org), &key(rseed)).unwrap();
                let ok = rec == Some(rseed);
                if ok {
                    let ks = m.keys.get_mut(&org).unwrap();
                    for k in ks.iter_mut() {
                        k.1 = false;
                    }
                    ks.push((new, true));
                    m.recovery.insert(org, Some(next));
                }
                (Some(st), ok)
            }
        };
        let Some(st) = st else { continue };
        let r = ledger.append(
            &[st.bytes().to_vec()],
            &lk,
            accord::clock::now(),
            Catalogue::embedded(),
        );
        COUNTS[usize::from(accept)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match (&r, accept) {
            (Ok(_), true) | (Err(LedgerError::Rejected { .. }), false) => {}
            _ => prop_assert!(false, "op {op:?}: model says {accept}, ledger says {r:?}"),
        }
    }
    let report = ledger.verify(&lk.verifier_key(), Catalogue::embedded(), None);
    prop_assert!(report.is_ok(), "verify: {:?}", report.err());
    let live: BTreeSet<String> = ledger
        .store()
        .read(|r| accord::report::attestation_status(r, accord::clock::now()))
        .unwrap()
        .into_iter()
        .filter(|a| a.state == "live")
        .map(|a| a.statement_id)
        .collect();
    let want: BTreeSet<String> = m.atts.iter().filter(|a| a.2).map(|a| hex::encode(a.1)).collect();
    prop_assert_eq!(live, want);
    Ok(())
}

/// Appends the model accepted and refused, over all cases (so the test can show it exercised
/// both).
static COUNTS: [std::sync::atomic::AtomicUsize; 2] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

/// Histories start by registering every organisation, so later operations have something to
/// act on (unregistered organisations are still exercised by re-registration attempts).
fn history() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..60).prop_map(|mut v| {
        let mut h: Vec<Op> = (0..3)
            .map(|org| Op::Register {
                org,
                with_recovery: org != 2,
            })
            .collect();
        h.append(&mut v);
        h
    })
}

#[test]
fn the_model_test_exercises_both_verdicts() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 8,
        ..ProptestConfig::default()
    });
    runner.run(&history(), run).unwrap();
    let (refused, accepted) = (
        COUNTS[0].load(std::sync::atomic::Ordering::Relaxed),
        COUNTS[1].load(std::sync::atomic::Ordering::Relaxed),
    );
    assert!(
        refused > 20 && accepted > 40,
        "refused {refused}, accepted {accepted}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_histories_match_the_model(ops in history()) {
        run(ops)?;
    }
}
