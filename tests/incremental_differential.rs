//! Differential property test (issue 15): a verification resumed from the remembered replay
//! state ([`Snapshot`]) at any split point of a random ledger gives the same verdict, the same
//! first bad entry and the same final state as a full verification.
//!
//! Random histories over a few organisations (registrations with recovery keys, attestations,
//! supersessions, withdrawals, rotations, revocations, recoveries whose compromise time reaches
//! back before earlier entries) are appended to an in-memory ledger, one statement or a group
//! per append (a signed checkpoint per append); statements the ledger refuses are simply not in
//! it. At every split point with a checkpoint (a sample of them in long ledgers), the states
//! remembered from the ledger and from an export of its first entries resume:
//!
//! - the ledger verified in place, and its export (read from entry 0, or from the split point
//!   only): the same [`VerifyReport`] and the same final state (the snapshot's bytes: one
//!   state, one encoding) as a full verification of the same data;
//! - an export damaged at or after the split (a byte flipped, or an entry replaced by one the
//!   rules refuse for what happened before the split, under a freshly signed checkpoint): the
//!   same verdict and the same first bad place;
//! - an export damaged before the split: refused, never accepted;
//! - the ledger itself, with a refused statement forced onto its end and an entry altered in
//!   place: the same verdict and first bad place from a split at or before the damage, a
//!   failure from a split after it.
//!
//! And every snapshot decodes to itself, is refused under another ledger key, and refused with
//! any sampled byte changed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use accord::checkpoint::{Checkpoint, LedgerKey, Origin, VerifierKey};
use accord::entry::{Entry, GENESIS_PREV, MIN_ENTRY_VERSION};
use accord::export::{self, ExportHeader, Resume};
use accord::keys::SecretKey;
use accord::ledger::{Ledger, LedgerError, Location, Outcome, Registry};
use accord::merkle::{leaf_hash, Frontier};
use accord::norms::Catalogue;
use accord::replay::{Snapshot, VerifyReport};
use accord::statement::{
    self, Acceptance, Body, Payload, Recovery, Revocation, Rotation, Statement, StatementId, Withdrawal,
};
use accord::store::{ReadTables, Store, StoreError};
use accord::verdict::VerifyError;
use common::{attestation, registration, xorshift};
use proptest::prelude::*;

const ORIGIN: &str = "differential.example/ledger";
/// Organisations `org0` to `org3`; all but the last commit to a recovery key.
const ORGS: u8 = 4;
/// The log time of the first append; each append is `STEP` seconds after the one before.
const T0: i64 = 1_700_000_000;
const STEP: i64 = 10;
/// At most this many split points are checked per ledger (the first, the last, and a random
/// sample between them); shorter ledgers are checked at every split point.
const MAX_SPLITS: usize = 16;

// ---------------------------------------------------------------------------------------------
// Random histories.

/// One statement to try. The numbers choose among what the history holds when it is built:
/// mostly something the rules accept (a key still in use, a live attestation of the same
/// organisation, the current recovery key), sometimes anything.
#[derive(Debug, Clone)]
enum Op {
    Register {
        org: u8,
        recovery: bool,
    },
    Attest {
        org: u8,
        key: u8,
        supersede: Option<u8>,
    },
    Withdraw {
        org: u8,
        key: u8,
        target: u8,
    },
    Rotate {
        org: u8,
        key: u8,
    },
    Revoke {
        org: u8,
        key: u8,
        target: u8,
    },
    Recover {
        org: u8,
        right_key: bool,
        since: Option<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let org = 0..ORGS;
    prop_oneof![
        1 => (org.clone(), any::<bool>()).prop_map(|(org, recovery)| Op::Register { org, recovery }),
        5 => (org.clone(), any::<u8>(), proptest::option::weighted(0.4, any::<u8>()))
            .prop_map(|(org, key, supersede)| Op::Attest { org, key, supersede }),
        3 => (org.clone(), any::<u8>(), any::<u8>()).prop_map(|(org, key, target)| Op::Withdraw { org, key, target }),
        2 => (org.clone(), any::<u8>()).prop_map(|(org, key)| Op::Rotate { org, key }),
        1 => (org.clone(), any::<u8>(), any::<u8>()).prop_map(|(org, key, target)| Op::Revoke { org, key, target }),
        2 => (org, any::<bool>(), proptest::option::weighted(0.8, any::<u8>()))
            .prop_map(|(org, right_key, since)| Op::Recover { org, right_key, since }),
    ]
}

/// A history: every organisation registers (one append each), then random statements, each
/// appended alone or in a group with the ones before it (`true`: joins the previous append).
/// And a seed for the damage done to it.
fn history() -> impl Strategy<Value = (Vec<(Op, bool)>, u64)> {
    (
        proptest::collection::vec((op(), proptest::bool::weighted(0.25)), 10..60),
        any::<u64>(),
    )
        .prop_map(|(mut ops, seed)| {
            let mut h: Vec<(Op, bool)> = (0..ORGS)
                .map(|org| {
                    let recovery = org + 1 < ORGS;
                    (Op::Register { org, recovery }, false)
                })
                .collect();
            h.append(&mut ops);
            (h, seed)
        })
}

fn secret(seed: u64) -> SecretKey {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8] = 0x5c;
    SecretKey::from_seed(&s)
}

fn kid(seed: u64) -> [u8; 32] {
    secret(seed).public().kid()
}

fn org_name(org: u8) -> String {
    format!("org{org}")
}

/// What a statement does to the test's book if the ledger accepts it.
enum Effect {
    Nothing,
    Registered {
        org: u8,
        key: u64,
        recovery: Option<u64>,
    },
    Installed {
        org: u8,
        key: u64,
    },
    Attested {
        org: u8,
        id: StatementId,
        supersedes: bool,
    },
    Recovered {
        org: u8,
        key: u64,
        next: u64,
    },
}

/// What the test knows of the history it built: which keys and recovery keys it handed to
/// each organisation, the attestations accepted, the log time of every entry. Whether a key
/// still speaks or an attestation is still live is asked of the ledger.
struct Book {
    keys: Vec<Vec<u64>>,
    recovery: Vec<Vec<u64>>,
    atts: Vec<(u8, StatementId)>,
    times: Vec<i64>,
    seed: u64,
    nonce: u64,
    supersessions: usize,
}

impl Book {
    fn new() -> Book {
        Book {
            keys: vec![Vec::new(); usize::from(ORGS)],
            recovery: vec![Vec::new(); usize::from(ORGS)],
            atts: Vec::new(),
            times: Vec::new(),
            seed: 0,
            nonce: 0,
            supersessions: 0,
        }
    }

    fn fresh(&mut self) -> u64 {
        self.seed += 1;
        self.seed
    }

    /// `body` issued at `iat` by `org`, signed with the key of `seed` (nonces count up, so a
    /// failing case repeats exactly).
    fn sign(&mut self, org: u8, seed: u64, body: Body, iat: i64) -> Statement {
        self.nonce += 1;
        let mut nonce = [0u8; statement::NONCE_LEN];
        nonce[..8].copy_from_slice(&self.nonce.to_le_bytes());
        let payload = Payload {
            origin: ORIGIN.into(),
            iat,
            nonce,
            body,
        };
        statement::sign(&payload, &org_name(org), &secret(seed)).unwrap()
    }

    /// A key of `org`: mostly one that still speaks for it, sometimes any it ever had.
    fn pick_key(&self, r: &ReadTables, org: u8, pick: u8) -> Option<u64> {
        let all = &self.keys[usize::from(org)];
        if all.is_empty() {
            return None;
        }
        let speaking: Vec<u64> = all
            .iter()
            .copied()
            .filter(|&s| {
                Registry::key(r, &kid(s))
                    .unwrap()
                    .is_some_and(|k| k.ended.is_none())
            })
            .collect();
        Some(if pick < 200 && !speaking.is_empty() {
            speaking[usize::from(pick) % speaking.len()]
        } else {
            all[usize::from(pick) % all.len()]
        })
    }

    /// An attestation: mostly a live one of `org`, sometimes any.
    fn pick_attestation(&self, r: &ReadTables, org: u8, pick: u8) -> Option<StatementId> {
        if self.atts.is_empty() {
            return None;
        }
        let own_live: Vec<StatementId> = self
            .atts
            .iter()
            .filter(|(o, id)| *o == org && Registry::live(r, id).unwrap().is_some())
            .map(|(_, id)| *id)
            .collect();
        Some(if pick < 200 && !own_live.is_empty() {
            own_live[usize::from(pick) % own_live.len()]
        } else {
            self.atts[usize::from(pick) % self.atts.len()].1
        })
    }

    /// A compromise time chosen by `pick` among the log times so far: an entry's time (that
    /// entry itself not covered) or the second before it (covered).
    fn since(&self, pick: u8) -> i64 {
        if self.times.is_empty() {
            return T0 - 1;
        }
        self.times[usize::from(pick) % self.times.len()] - i64::from(pick % 2)
    }

    /// The statement for `op` against the ledger as `r` shows it, issued at `now`.
    fn build(&mut self, r: &ReadTables, op: &Op, now: i64) -> Option<(Statement, Effect)> {
        Some(match *op {
            Op::Register { org, recovery } => {
                let key = self.fresh();
                let recovery = recovery.then(|| self.fresh());
                let body = registration(&org_name(org), secret(key).public(), recovery.map(kid));
                let st = self.sign(org, key, body, now);
                (st, Effect::Registered { org, key, recovery })
            }
            Op::Attest { org, key, supersede } => {
                let seed = self.pick_key(r, org, key)?;
                let target = match supersede {
                    Some(p) => Some(self.pick_attestation(r, org, p)?),
                    None => None,
                };
                let scope = format!("product {}", self.nonce);
                let st = self.sign(org, seed, attestation(&scope, target), now);
                let id = st.id();
                let supersedes = target.is_some();
                (st, Effect::Attested { org, id, supersedes })
            }
            Op::Withdraw { org, key, target } => {
                let seed = self.pick_key(r, org, key)?;
                let target = self.pick_attestation(r, org, target)?;
                let body = Body::Withdrawal(Withdrawal {
                    target,
                    reason: "withdrawn".into(),
                });
                (self.sign(org, seed, body, now), Effect::Nothing)
            }
            Op::Rotate { org, key } => {
                let old = self.pick_key(r, org, key)?;
                let new = self.fresh();
                let acceptance = self.sign(
                    org,
                    new,
                    Body::Acceptance(Acceptance {
                        public_key: secret(new).public(),
                        replaces: kid(old),
                    }),
                    now,
                );
                let body = Body::Rotation(Rotation {
                    acceptance: Box::new(acceptance),
                });
                (
                    self.sign(org, old, body, now),
                    Effect::Installed { org, key: new },
                )
            }
            Op::Revoke { org, key, target } => {
                let seed = self.pick_key(r, org, key)?;
                let keys = &self.keys[usize::from(org)];
                let target = keys[usize::from(target) % keys.len()];
                let body = Body::Revocation(Revocation {
                    target: kid(target),
                    reason: "revoked".into(),
                });
                (self.sign(org, seed, body, now), Effect::Nothing)
            }
            Op::Recover {
                org,
                right_key,
                since,
            } => {
                let current = Registry::org(r, &org_name(org)).unwrap().and_then(|o| o.recovery);
                let recs = &self.recovery[usize::from(org)];
                let chosen = if right_key {
                    recs.iter().copied().find(|&s| Some(kid(s)) == current)
                } else {
                    // A recovery key spent already, if there is one.
                    recs.iter().copied().find(|&s| Some(kid(s)) != current)
                };
                let rseed = match chosen {
                    Some(s) => s,
                    None => self.fresh(),
                };
                let (new, next) = (self.fresh(), self.fresh());
                let compromised_since = since.map(|p| self.since(p));
                let body = Body::Recovery(Recovery {
                    recovery_key: secret(rseed).public(),
                    new_key: secret(new).public(),
                    next_recovery: kid(next),
                    compromised_since,
                    reason: "recovered".into(),
                });
                let st = self.sign(org, rseed, body, now);
                (st, Effect::Recovered { org, key: new, next })
            }
        })
    }

    /// Records what an accepted statement did, logged at `now`.
    fn accepted(&mut self, effect: Effect, now: i64) {
        self.times.push(now);
        match effect {
            Effect::Nothing => {}
            Effect::Registered { org, key, recovery } => {
                self.keys[usize::from(org)].push(key);
                self.recovery[usize::from(org)].extend(recovery);
            }
            Effect::Installed { org, key } => self.keys[usize::from(org)].push(key),
            Effect::Attested { org, id, supersedes } => {
                self.atts.push((org, id));
                self.supersessions += usize::from(supersedes);
            }
            Effect::Recovered { org, key, next } => {
                self.keys[usize::from(org)].push(key);
                self.recovery[usize::from(org)].push(next);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Verdicts, made comparable.

/// A verification's outcome: the report and the encoded final state, or the first bad place
/// and what is wrong there.
type Verdict = Result<(VerifyReport, Vec<u8>), (Location, String)>;

fn ledger_verdict(r: Result<(VerifyReport, Snapshot), LedgerError>) -> Verdict {
    match r {
        Ok((report, snap)) => Ok((report, snap.encode())),
        Err(LedgerError::Invalid { at, problem }) => Err((at, problem)),
        Err(e) => panic!("verify failed for another reason than invalid data: {e}"),
    }
}

fn export_verdict(bytes: &[u8], vkey: &VerifierKey, resume: Option<Resume>) -> Verdict {
    let r = export::verify_export_from(&mut &bytes[..], vkey, Catalogue::embedded(), None, resume, None);
    match r {
        Ok((report, totals, _)) => Ok((report, totals.into_snapshot().encode())),
        Err(VerifyError::Invalid { at, problem }) => Err((at, problem)),
        Err(e) => panic!("export verification failed for another reason than invalid data: {e}"),
    }
}

/// The report of a verdict that must have passed.
fn passed(v: &Verdict, what: &str) -> Result<VerifyReport, TestCaseError> {
    match v {
        Ok((report, _)) => Ok(report.clone()),
        Err((at, problem)) => Err(TestCaseError::fail(format!("{what}: {at}: {problem}"))),
    }
}

/// `got` (resumed) must be `want` (full): the same report and the same state bytes, or the
/// same first bad place with the same problem.
fn same(got: &Verdict, want: &Verdict, what: &str) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok((r1, s1)), Ok((r2, s2))) => {
            prop_assert!(
                r1 == r2,
                "{}: reports differ:\n{}\n{}",
                what,
                summary(r1),
                summary(r2)
            );
            if s1 != s2 {
                let at = s1.iter().zip(s2).position(|(a, b)| a != b);
                prop_assert!(
                    false,
                    "{}: final states differ ({} and {} bytes, first difference at {:?})",
                    what,
                    s1.len(),
                    s2.len(),
                    at
                );
            }
        }
        (Err(e1), Err(e2)) => prop_assert_eq!(e1, e2, "{}: first bad place differs", what),
        (Ok(_), Err((at, p))) => {
            prop_assert!(false, "{}: resumed passed, full failed at {}: {}", what, at, p)
        }
        (Err((at, p)), Ok(_)) => {
            prop_assert!(false, "{}: resumed failed at {}: {}, full passed", what, at, p)
        }
    }
    Ok(())
}

/// A report without the checkpoint's note, to read in a failure message.
fn summary(r: &VerifyReport) -> String {
    format!(
        "checkpoint of size {} (note of {} bytes), {} entries, {} checkpoints, {} organisations, {} live {:?}, by kind {:?}, untrusted {:?}",
        r.checkpoint.checkpoint.size,
        r.checkpoint.note.len(),
        r.entries,
        r.checkpoints,
        r.organisations,
        r.live_attestations,
        r.live_times,
        r.by_kind,
        r.untrusted
    )
}

/// A resumed verification of data that is not what the snapshot was made from must fail.
fn refused(got: &Verdict, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        got.is_err(),
        "{}: resumed verification accepted damaged data",
        what
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exports.

/// An export of `entries` under the signed note `note` of `size` entries, written from entry
/// `first` on (a stream that starts later, for [`Resume::first`]); and where each entry
/// written lies in the bytes (its length head included).
fn export_of(
    note: &[u8],
    size: u64,
    entries: &[Vec<u8>],
    first: usize,
) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut out = Vec::new();
    export::write_header(
        &mut out,
        &ExportHeader {
            origin: ORIGIN.into(),
            size,
            checkpoint: note.to_vec(),
        },
    )
    .unwrap();
    let mut at = Vec::new();
    for e in &entries[first..] {
        let start = out.len();
        export::write_entry(&mut out, e).unwrap();
        at.push(start..out.len());
    }
    (out, at)
}

/// A note signed by the ledger key for the tree of `entries`.
fn sign_tree(lk: &LedgerKey, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Frontier::new();
    for e in entries {
        f.push(leaf_hash(e));
    }
    lk.sign(&Checkpoint {
        origin: lk.origin().clone(),
        size: entries.len() as u64,
        root: f.root(),
    })
    .unwrap()
    .note
}

/// `bytes` with one bit flipped, chosen by `rnd`, in the range `at` (an entry of an export,
/// its length head included).
fn flip_in(bytes: &[u8], at: &std::ops::Range<usize>, rnd: u64) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let i = at.start + (rnd as usize % at.len());
    b[i] ^= 1 << ((rnd >> 32) % 8);
    b
}

/// `note` with a witness's cosignature added: the same checkpoint, other bytes.
fn cosigned(note: &[u8]) -> Vec<u8> {
    let text_len = note.windows(2).position(|w| w == b"\n\n").unwrap() + 1;
    let witness = LedgerKey::generate(&Origin::new("witness.example/w").unwrap());
    let theirs = witness.sign_note_text(&note[..text_len]).unwrap();
    [note, &theirs[text_len + 1..]].concat()
}

// ---------------------------------------------------------------------------------------------
// Damage.

/// An entry for index `k` (after `entries[..k]`) holding something the rules may refuse for
/// what happened before it, chosen by `rnd`: a statement logged before, a statement signed
/// by any key an organisation ever had, a withdrawal of any attestation, a second
/// registration of a name, a recovery with any recovery key the organisation had; or, for `k` below `entries.len()`, entry `k` itself
/// with its log time before the entry before it, its rules version lower, or a wrong chain
/// link. Statements are issued at `time`.
fn forged_entry(
    book: &mut Book,
    r: &ReadTables,
    entries: &[Vec<u8>],
    k: usize,
    time: i64,
    rnd: u64,
) -> Vec<u8> {
    let prev = if k == 0 {
        GENESIS_PREV
    } else {
        leaf_hash(&entries[k - 1])
    };
    let pick = (rnd >> 8) as u8;
    let org = (rnd >> 16) as u8 % ORGS;
    let statement: Vec<u8> = match rnd % 8 {
        0 if k > 0 => {
            Entry::decode(&entries[(rnd >> 24) as usize % k])
                .unwrap()
                .statement
        }
        1 | 2 if !book.keys[usize::from(org)].is_empty() => {
            let keys = &book.keys[usize::from(org)];
            let seed = keys[usize::from(pick) % keys.len()];
            let body = if rnd % 8 == 2 && !book.atts.is_empty() {
                Body::Withdrawal(Withdrawal {
                    target: book.atts[(rnd >> 24) as usize % book.atts.len()].1,
                    reason: "again".into(),
                })
            } else {
                attestation("forged", None)
            };
            book.sign(org, seed, body, time).into_bytes()
        }
        3 => {
            let key = book.fresh();
            let body = registration(&org_name(org), secret(key).public(), None);
            book.sign(org, key, body, time).into_bytes()
        }
        4 if !book.recovery[usize::from(org)].is_empty() => {
            let recs = &book.recovery[usize::from(org)];
            let rseed = recs[usize::from(pick) % recs.len()];
            let (new, next) = (book.fresh(), book.fresh());
            let body = Body::Recovery(Recovery {
                recovery_key: secret(rseed).public(),
                new_key: secret(new).public(),
                next_recovery: kid(next),
                compromised_since: None,
                reason: "again".into(),
            });
            book.sign(org, rseed, body, time).into_bytes()
        }
        n @ 5..=7 if k < entries.len() && k > 0 => {
            let mut e = Entry::decode(&entries[k]).unwrap();
            match n {
                5 => e.logged_at = Entry::decode(&entries[k - 1]).unwrap().logged_at - 1,
                6 => {
                    e.version = MIN_ENTRY_VERSION;
                    e.state = None;
                }
                _ => e.prev[(rnd >> 24) as usize % 32] ^= 1,
            }
            return e.encode().unwrap();
        }
        _ => {
            // A fresh attestation by a key that speaks now: refused only for its chain link.
            let seed = book
                .pick_key(r, org, 0)
                .or_else(|| book.keys.iter().flatten().next().copied());
            let st = book.sign(org, seed.unwrap_or(1), attestation("forged", None), time);
            let mut e = Entry::new(k as u64, prev, time, st.into_bytes());
            e.version = 2;
            e.prev[0] ^= 0x80;
            return e.encode().unwrap();
        }
    };
    // Version 2: these ledgers test the rules and the chain; a version-3 entry would also have
    // to carry the state map's root, which a forged entry here does not compute.
    let mut e = Entry::new(k as u64, prev, time, statement);
    e.version = 2;
    e.encode().unwrap()
}

/// Appends `entry` (for index `size`) as a dishonest custodian could: no rules, but derived
/// tables, hashes and a signed checkpoint as an append writes them.
fn force_append(ledger: &Ledger, lk: &LedgerKey, entry: &[u8]) {
    ledger
        .store()
        .write(|t| {
            let size = t.entry_count()?;
            let mut f = Frontier::from_store(size, &*t).map_err(|e| StoreError::Io(e.to_string()))?;
            t.put_entry(size, entry)?;
            let e = Entry::decode(entry).unwrap();
            if let Ok(st) = Statement::decode(&e.statement) {
                accord::ledger::apply(&mut *t, size, e.logged_at, &st).unwrap();
            }
            for (i, h) in f.push(leaf_hash(entry)) {
                t.put_hash(i, &h)?;
            }
            let note = lk
                .sign(&Checkpoint {
                    origin: lk.origin().clone(),
                    size: size + 1,
                    root: f.root(),
                })
                .unwrap()
                .note;
            t.put_checkpoint(size + 1, &note)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Snapshots.

/// The round trip and the refusals of [`Snapshot::decode`].
fn check_snapshot_bytes(bytes: &[u8], vkey: &VerifierKey, rnd: &mut u64) -> Result<(), TestCaseError> {
    let snap = Snapshot::decode(bytes, vkey).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    let again = snap.encode();
    prop_assert!(
        again == bytes,
        "decoded and encoded again, a snapshot changed ({} and {} bytes, first difference at {:?})",
        bytes.len(),
        again.len(),
        bytes.iter().zip(&again).position(|(a, b)| a != b)
    );
    // Another ledger key of the same origin, and one of another origin: refused.
    for origin in [ORIGIN, "another.example/ledger"] {
        let other = LedgerKey::generate(&Origin::new(origin).unwrap()).verifier_key();
        prop_assert!(
            Snapshot::decode(bytes, &other).is_err(),
            "accepted under another key"
        );
    }
    // Any byte changed, or the last cut off: refused.
    let mut positions: BTreeSet<usize> =
        [0, 20, 24, bytes.len() / 2, bytes.len() - 33, bytes.len() - 1].into();
    for _ in 0..10 {
        positions.insert(xorshift(rnd) as usize % bytes.len());
    }
    for i in positions {
        let mut bad = bytes.to_vec();
        bad[i] ^= 1 << (xorshift(rnd) % 8);
        prop_assert!(
            Snapshot::decode(&bad, vkey).is_err(),
            "byte {} changed, still accepted",
            i
        );
    }
    prop_assert!(Snapshot::decode(&bytes[..bytes.len() - 1], vkey).is_err());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The test.

/// What the runs exercised, over all cases, so the test can show it did.
#[derive(Default)]
struct Counts {
    entries: AtomicUsize,
    splits: AtomicUsize,
    /// Splits after which a recovery made an entry before the split untrusted.
    reached_back: AtomicUsize,
    withdrawals: AtomicUsize,
    supersessions: AtomicUsize,
    rotations: AtomicUsize,
    revocations: AtomicUsize,
    recoveries: AtomicUsize,
    /// Forged entries at or after a split that the full verification refused at that entry.
    forged_refused: AtomicUsize,
    forged_accepted: AtomicUsize,
    groups: AtomicUsize,
}

static COUNTS: Counts = Counts {
    entries: AtomicUsize::new(0),
    splits: AtomicUsize::new(0),
    reached_back: AtomicUsize::new(0),
    withdrawals: AtomicUsize::new(0),
    supersessions: AtomicUsize::new(0),
    rotations: AtomicUsize::new(0),
    revocations: AtomicUsize::new(0),
    recoveries: AtomicUsize::new(0),
    forged_refused: AtomicUsize::new(0),
    forged_accepted: AtomicUsize::new(0),
    groups: AtomicUsize::new(0),
};

fn count(c: &AtomicUsize, n: u64) {
    c.fetch_add(n as usize, Relaxed);
}

/// A ledger built from a history, with what the checks at each split point share.
struct Case {
    ledger: Ledger,
    lk: LedgerKey,
    vk: VerifierKey,
    book: Book,
    /// The log time of an append after the last one.
    next_time: i64,
    /// The entries, and the signed note of each checkpoint by size.
    entries: Vec<Vec<u8>>,
    notes: BTreeMap<u64, Vec<u8>>,
    /// The state a full verification left at each checkpoint size: of the ledger as it was,
    /// and of an export of its first entries.
    ledger_states: BTreeMap<u64, Vec<u8>>,
    export_states: BTreeMap<u64, Vec<u8>>,
    /// The whole ledger's export, and where each entry lies in it.
    export: Vec<u8>,
    entry_at: Vec<std::ops::Range<usize>>,
    full_ledger: Verdict,
    full_export: Verdict,
}

/// Appends `history` to a new in-memory ledger, remembering the state of a full verification
/// after every append; verifies the whole ledger and its export.
fn build(history: Vec<(Op, bool)>) -> Result<Case, TestCaseError> {
    let cat = Catalogue::embedded();
    let lk = LedgerKey::generate(&Origin::new(ORIGIN).unwrap());
    let vk = lk.verifier_key();
    let store = Store::with_backend(redb::backends::InMemoryBackend::new(), Path::new("memory")).unwrap();
    let ledger = Ledger::init_store(store, &lk, Path::new("memory.skey")).unwrap();
    let mut groups: Vec<Vec<Op>> = Vec::new();
    for (op, join) in history {
        match groups.last_mut() {
            Some(g) if join => g.push(op),
            _ => groups.push(vec![op]),
        }
    }
    let mut book = Book::new();
    let mut ledger_states: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for (g, ops) in groups.iter().enumerate() {
        let now = T0 + STEP * g as i64;
        let built: Vec<(Statement, Effect)> = ledger
            .store()
            .read(|r| Ok::<_, StoreError>(ops.iter().filter_map(|op| book.build(r, op, now)).collect()))
            .unwrap();
        if built.is_empty() {
            continue;
        }
        let before = ledger.size().unwrap();
        let bytes: Vec<Vec<u8>> = built.iter().map(|(st, _)| st.bytes().to_vec()).collect();
        let accepted: Vec<bool> = if bytes.len() == 1 {
            match ledger.append(&bytes, &lk, now, cat) {
                Ok(_) => vec![true],
                Err(LedgerError::Rejected { .. }) => vec![false],
                Err(e) => panic!("append: {e}"),
            }
        } else {
            let outcomes = ledger.append_each(&bytes, &lk, now, cat).unwrap();
            outcomes
                .iter()
                .map(|o| matches!(o, Outcome::Appended(_)))
                .collect()
        };
        for ((_, effect), ok) in built.into_iter().zip(accepted) {
            if ok {
                book.accepted(effect, now);
            }
        }
        let size = ledger.size().unwrap();
        if size > before {
            count(&COUNTS.groups, u64::from(size - before > 1));
            let v = ledger_verdict(ledger.verify_from(&vk, cat, None, None));
            passed(&v, &format!("the ledger of {size} entries"))?;
            ledger_states.insert(size, v.unwrap().1);
        }
    }
    let n = ledger.size().unwrap();
    let (entries, notes) = ledger
        .store()
        .read(|r| {
            let mut entries = Vec::new();
            r.for_each_entry(0, |_, b| {
                entries.push(b.to_vec());
                Ok::<_, StoreError>(true)
            })?;
            let mut notes = BTreeMap::new();
            for s in r.checkpoint_sizes()? {
                notes.insert(s, r.checkpoint(s)?.unwrap());
            }
            Ok::<_, StoreError>((entries, notes))
        })
        .unwrap();
    prop_assert_eq!(entries.len() as u64, n);
    // A checkpoint per append that wrote something, and a state remembered at each.
    let sizes: Vec<u64> = notes.keys().copied().filter(|&s| s > 0).collect();
    prop_assert_eq!(&sizes, &ledger_states.keys().copied().collect::<Vec<_>>());

    // Full verifications.
    let full_ledger = ledger_verdict(ledger.verify_from(&vk, cat, None, None));
    let report = passed(&full_ledger, "full verify of the ledger")?;
    let (export, entry_at) = export_of(&notes[&n], n, &entries, 0);
    let mut written = Vec::new();
    ledger.export(&mut written).unwrap();
    prop_assert!(written == export, "the test's export differs from the ledger's");
    let full_export = export_verdict(&export, &vk, None);
    let export_report = passed(&full_export, "full verify of the export")?;
    // The export holds one checkpoint; otherwise the two say the same.
    let same_facts = VerifyReport {
        checkpoints: report.checkpoints,
        ..export_report
    };
    prop_assert!(
        same_facts == report,
        "the ledger and its export say different things:\n{}\n{}",
        summary(&same_facts),
        summary(&report)
    );
    for (c, k) in [
        (&COUNTS.withdrawals, 2),
        (&COUNTS.rotations, 3),
        (&COUNTS.revocations, 4),
        (&COUNTS.recoveries, 5),
    ] {
        count(c, report.by_kind[k]);
    }
    count(&COUNTS.entries, n);
    count(&COUNTS.supersessions, book.supersessions as u64);

    // The state remembered from an export of the first m entries, at every split point m;
    // and whether a recovery after m made an entry before it untrusted.
    let mut export_states: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for &m in &sizes {
        let (prefix, _) = export_of(&notes[&m], m, &entries[..m as usize], 0);
        let v = export_verdict(&prefix, &vk, None);
        let before_m: Vec<u64> = report.untrusted.iter().copied().filter(|&u| u < m).collect();
        let then = passed(&v, &format!("export of the first {m} entries"))?.untrusted;
        count(&COUNTS.reached_back, u64::from(before_m != then));
        export_states.insert(m, v.unwrap().1);
    }
    Ok(Case {
        ledger,
        lk,
        vk,
        book,
        next_time: T0 + STEP * groups.len() as i64,
        entries,
        notes,
        ledger_states,
        export_states,
        export,
        entry_at,
        full_ledger,
        full_export,
    })
}

impl Case {
    fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The state remembered from the ledger at `m` entries.
    fn ledger_state(&self, m: u64) -> Snapshot {
        Snapshot::decode(&self.ledger_states[&m], &self.vk).unwrap()
    }

    /// The state remembered from an export of the first `m` entries.
    fn export_state(&self, m: u64) -> Snapshot {
        Snapshot::decode(&self.export_states[&m], &self.vk).unwrap()
    }

    /// Both states remembered at `m`.
    fn states(&self, m: u64) -> [Snapshot; 2] {
        [self.ledger_state(m), self.export_state(m)]
    }

    /// The export `bytes` verified from both states at `m`, read from entry 0.
    fn resumed_exports(&self, bytes: &[u8], m: u64) -> [Verdict; 2] {
        self.states(m)
            .map(|snapshot| export_verdict(bytes, &self.vk, Some(Resume { snapshot, first: 0 })))
    }

    /// The ledger verified in place from both states at `m`.
    fn resumed_ledger(&self, m: u64) -> [Verdict; 2] {
        self.states(m).map(|state| {
            ledger_verdict(
                self.ledger
                    .verify_from(&self.vk, Catalogue::embedded(), Some(state), None),
            )
        })
    }

    /// A stream of the entries of `list` from `m` on, under `note`, verified from the state
    /// remembered from an export at `m`.
    fn resumed_stream(&self, note: &[u8], list: &[Vec<u8>], m: u64) -> Verdict {
        let (tail, _) = export_of(note, list.len() as u64, list, m as usize);
        let snapshot = self.export_state(m);
        export_verdict(&tail, &self.vk, Some(Resume { snapshot, first: m }))
    }

    /// An entry for index `k` that the rules may refuse ([`forged_entry`]), issued at `time`.
    fn forge(&mut self, k: usize, time: i64, rnd: u64) -> Vec<u8> {
        let (book, entries) = (&mut self.book, &self.entries);
        self.ledger
            .store()
            .read(|t| Ok::<_, StoreError>(forged_entry(book, t, entries, k, time, rnd)))
            .unwrap()
    }

    /// Everything checked at the split point `m`.
    fn check_split(&mut self, m: u64, rnd: &mut u64) -> Result<(), TestCaseError> {
        count(&COUNTS.splits, 1);
        let n = self.size();
        let vk = self.vk.clone();
        let at = |what: &str| format!("split {m} of {n}: {what}");
        check_snapshot_bytes(&self.ledger_states[&m], &vk, rnd)?;
        check_snapshot_bytes(&self.export_states[&m], &vk, rnd)?;

        // The ledger in place, and its export read whole or from the split point on.
        for v in self.resumed_ledger(m) {
            same(&v, &self.full_ledger, &at("the ledger"))?;
        }
        for v in self.resumed_exports(&self.export, m) {
            same(&v, &self.full_export, &at("its export"))?;
        }
        let v = self.resumed_stream(&self.notes[&n], &self.entries, m);
        same(&v, &self.full_export, &at("its export from the split on"))?;
        // The same export under its checkpoint cosigned by a witness since.
        let note = cosigned(&self.notes[&n]);
        let (bytes, _) = export_of(&note, n, &self.entries, 0);
        let full = export_verdict(&bytes, &vk, None);
        prop_assert!(passed(&full, "cosigned export")?.checkpoint.note == note);
        for v in self.resumed_exports(&bytes, m) {
            same(&v, &full, &at("its export, the checkpoint cosigned since"))?;
        }

        // Damage at or after the split: the same verdict, the same first bad place.
        let mu = m as usize;
        if m < n {
            let k = mu + xorshift(rnd) as usize % (n - m) as usize;
            let flip = xorshift(rnd);
            let bad = flip_in(&self.export, &self.entry_at[k], flip);
            let full = export_verdict(&bad, &vk, None);
            prop_assert!(
                full.is_err(),
                "{}",
                at(&format!("a byte flipped in entry {k} passed"))
            );
            let what = at(&format!("a byte flipped in entry {k}"));
            for v in self.resumed_exports(&bad, m) {
                same(&v, &full, &what)?;
            }
            let (tail, tail_at) = export_of(&self.notes[&n], n, &self.entries, mu);
            let bad_tail = flip_in(&tail, &tail_at[k - mu], flip);
            let snapshot = self.export_state(m);
            let v = export_verdict(&bad_tail, &vk, Some(Resume { snapshot, first: m }));
            same(&v, &full, &what)?;
        }
        let k = mu + xorshift(rnd) as usize % (n - m + 1) as usize;
        let time = self.book.times.get(k).copied().unwrap_or(self.next_time);
        let mut list = self.entries[..k].to_vec();
        list.push(self.forge(k, time, xorshift(rnd)));
        let note = sign_tree(&self.lk, &list);
        let (bad, _) = export_of(&note, list.len() as u64, &list, 0);
        let full = export_verdict(&bad, &vk, None);
        match &full {
            Err((Location::Entry(i), _)) if *i == k as u64 => count(&COUNTS.forged_refused, 1),
            Ok(_) => count(&COUNTS.forged_accepted, 1),
            Err((l, p)) => prop_assert!(false, "{}", at(&format!("forged entry {k}: refused at {l}: {p}"))),
        }
        let what = at(&format!("entry {k} forged"));
        for v in self.resumed_exports(&bad, m) {
            same(&v, &full, &what)?;
        }
        same(&self.resumed_stream(&note, &list, m), &full, &what)?;

        // Damage before the split: a resumed verification refuses the file.
        let k = xorshift(rnd) as usize % mu;
        let bad = flip_in(&self.export, &self.entry_at[k], xorshift(rnd));
        prop_assert!(export_verdict(&bad, &vk, None).is_err());
        for v in self.resumed_exports(&bad, m) {
            refused(&v, &at(&format!("a byte flipped in entry {k}, before the split")))?;
        }
        // The last entry before the split replaced, the tree signed again.
        let mut list = self.entries[..mu - 1].to_vec();
        list.push(self.forge(mu - 1, self.book.times[mu - 1], xorshift(rnd)));
        let (bad, _) = export_of(&sign_tree(&self.lk, &list), m, &list, 0);
        for v in self.resumed_exports(&bad, m) {
            refused(&v, &at(&format!("entry {} forged, before the split", mu - 1)))?;
        }
        Ok(())
    }

    /// The ledger changed in place after the checks at `splits`: its latest checkpoint
    /// cosigned (the same checkpoint), a statement forced onto its end, an entry altered.
    fn check_in_place(&mut self, splits: &[u64], rnd: &mut u64) -> Result<(), TestCaseError> {
        let n = self.size();
        let verify_full =
            |c: &Case| ledger_verdict(c.ledger.verify_from(&c.vk, Catalogue::embedded(), None, None));
        let note = cosigned(&self.notes[&n]);
        self.ledger.store().write(|t| t.put_checkpoint(n, &note)).unwrap();
        let full = verify_full(self);
        prop_assert!(passed(&full, "cosigned ledger")?.checkpoint.note == note);
        for &m in splits {
            for v in self.resumed_ledger(m) {
                same(
                    &v,
                    &full,
                    &format!("split {m} of {n}: the latest checkpoint cosigned since"),
                )?;
            }
        }

        let forged = self.forge(n as usize, self.next_time, xorshift(rnd));
        force_append(&self.ledger, &self.lk, &forged);
        let full = verify_full(self);
        for &m in splits {
            for v in self.resumed_ledger(m) {
                same(
                    &v,
                    &full,
                    &format!("split {m} of {n}: a statement forced onto the ledger"),
                )?;
            }
        }

        let k = xorshift(rnd) % n;
        let mut altered = self.entries[k as usize].clone();
        let i = xorshift(rnd) as usize % altered.len();
        altered[i] ^= 1 << (xorshift(rnd) % 8);
        self.ledger.store().write(|t| t.put_entry(k, &altered)).unwrap();
        let full = verify_full(self);
        prop_assert!(
            full.is_err(),
            "entry {} altered in place, and the ledger verifies",
            k
        );
        for &m in splits {
            let what = format!("split {m} of {n}: entry {k} altered in place");
            for v in self.resumed_ledger(m) {
                if m <= k {
                    same(&v, &full, &what)?;
                } else {
                    refused(&v, &what)?;
                }
            }
        }
        Ok(())
    }
}

fn run(history: Vec<(Op, bool)>, seed: u64) -> Result<(), TestCaseError> {
    let mut case = build(history)?;
    let mut rnd = seed | 1;
    // The split points checked: every checkpoint size, or the first, the last and a sample
    // between them.
    let mut splits: Vec<u64> = case.ledger_states.keys().copied().collect();
    while splits.len() > MAX_SPLITS {
        let i = 1 + xorshift(&mut rnd) as usize % (splits.len() - 2);
        splits.remove(i);
    }
    for &m in &splits {
        case.check_split(m, &mut rnd)?;
    }
    case.check_in_place(&splits, &mut rnd)
}

#[test]
fn resumed_verification_agrees_with_a_full_one_at_every_split_point() {
    let started = std::time::Instant::now();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 16,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    });
    runner.run(&history(), |(h, seed)| run(h, seed)).unwrap();
    let c = |a: &AtomicUsize| a.load(Relaxed);
    let report = format!(
        "{} entries, {} splits, {} reaching back, withdrawals {}, supersessions {}, rotations {}, revocations {}, recoveries {}, groups {}, forged refused {} accepted {}, {:?}",
        c(&COUNTS.entries),
        c(&COUNTS.splits),
        c(&COUNTS.reached_back),
        c(&COUNTS.withdrawals),
        c(&COUNTS.supersessions),
        c(&COUNTS.rotations),
        c(&COUNTS.revocations),
        c(&COUNTS.recoveries),
        c(&COUNTS.groups),
        c(&COUNTS.forged_refused),
        c(&COUNTS.forged_accepted),
        started.elapsed()
    );
    eprintln!("{report}");
    // The runs exercised what the test is about.
    assert!(c(&COUNTS.splits) >= 100, "{report}");
    assert!(c(&COUNTS.reached_back) >= 8, "{report}");
    for k in [
        &COUNTS.withdrawals,
        &COUNTS.supersessions,
        &COUNTS.rotations,
        &COUNTS.revocations,
        &COUNTS.recoveries,
        &COUNTS.groups,
    ] {
        assert!(c(k) >= 5, "{report}");
    }
    assert!(c(&COUNTS.forged_refused) >= 80, "{report}");
}
