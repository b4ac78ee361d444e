//! Verifying a ledger in place: the replay of every entry, every signed checkpoint, and every
//! derived table compared with what the replay rebuilt.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use super::invalid;
use super::{Ledger, LedgerError, META_ORIGIN};
use crate::checkpoint::VerifierKey;
use crate::merkle;
use crate::norms::Catalogue;
use crate::replay::{Batch, Progress, Replay, ReplayTotals, Snapshot, VerifyReport, VERIFY_BATCH};
use crate::rules::IndexChain;
use crate::store::{DerivedRow, ReadTables, StoreError};
use crate::verdict::Location;

impl Ledger {
    /// Replays and verifies the whole ledger against `vkey` (see `accord verify --help` and
    /// `docs/FORMAT.md`): entries, chain, signatures, rules, Merkle tree, every signed
    /// checkpoint, and every derived table.
    ///
    /// # Errors
    /// [`LedgerError::Invalid`] naming the first bad entry, checkpoint or table; storage errors.
    pub fn verify(
        &self,
        vkey: &VerifierKey,
        catalogue: &Catalogue,
        progress: Option<Progress<'_>>,
    ) -> Result<VerifyReport, LedgerError> {
        self.verify_from(vkey, catalogue, None, progress)
            .map(|(report, _)| report)
    }

    /// [`Ledger::verify`], resumed from the state of an earlier verification of this ledger
    /// (`resume`, a [`Snapshot`]) when there is one: the entries before it are read again,
    /// hashed and chained, their stored hashes compared, and their tree must be the
    /// snapshot's, but their rules and signatures are not checked again; every entry after it
    /// is judged in full, and every derived table is compared whole, as without a snapshot.
    /// Returns the state at the end, to resume from next time.
    ///
    /// # Errors
    /// As [`Ledger::verify`]; [`LedgerError::Invalid`] when the entries before the snapshot's
    /// size are not those it was made from, or when the ledger holds fewer.
    pub fn verify_from(
        &self,
        vkey: &VerifierKey,
        catalogue: &Catalogue,
        resume: Option<Snapshot>,
        progress: Option<Progress<'_>>,
    ) -> Result<(VerifyReport, Snapshot), LedgerError> {
        self.store.read(|r| {
            let origin = Self::meta_text(r, META_ORIGIN)?;
            if origin != vkey.name() {
                return Err(invalid(
                    Location::Ledger,
                    format!(
                        "ledger origin {origin:?} does not match the ledger key's name {:?}",
                        vkey.name()
                    ),
                ));
            }
            let total = r.entry_count()?;
            let sizes = r.checkpoint_sizes()?;
            let mut replay = match resume {
                Some(snap) => Replay::resume(snap, catalogue, vkey.clone(), true),
                None => Replay::new(origin, catalogue, vkey.clone()),
            };
            let mut ci = 0usize;
            // Checks every signed checkpoint whose size the replay has reached.
            let check_cps = |replay: &mut Replay<'_>, ci: &mut usize| -> Result<(), LedgerError> {
                while let Some(&s) = sizes.get(*ci) {
                    if s > replay.size() {
                        break;
                    }
                    *ci += 1;
                    let note = r
                        .checkpoint(s)?
                        .ok_or_else(|| StoreError::Damaged(format!("checkpoint {s} vanished")))?;
                    replay.check_checkpoint(s, &note)?;
                }
                Ok(())
            };
            check_cps(&mut replay, &mut ci)?;
            // A reader thread fills the next batch, with the stored hashes it should complete,
            // while the replay works on this one. A batch ends at VERIFY_BATCH entries and at
            // every checkpoint size, so each signed root is compared with the tree of exactly
            // its size. A scanner thread reads the index tables meanwhile.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
            let sizes_ref = &sizes;
            let stop = std::sync::atomic::AtomicBool::new(false);
            let (replayed, read, chains) = std::thread::scope(|s| {
                let scanner = s.spawn(|| {
                    let scan =
                        |norms| crate::store::contain(|| index_chains(r, norms, catalogue, total, &stop));
                    (scan(false), scan(true))
                });
                let reader = s.spawn(move || {
                    crate::store::contain(|| -> Result<(), LedgerError> {
                        let mut batch = Batch::with_capacity(VERIFY_BATCH);
                        let mut next = 0usize;
                        // Entries sent so far: where the next batch should start if none is missing.
                        let mut sent = 0u64;
                        let mut send = |mut batch: Batch| -> Result<bool, LedgerError> {
                            let len = batch.len() as u64;
                            let range =
                                merkle::stored_hash_count(sent)..merkle::stored_hash_count(sent + len);
                            sent += len;
                            batch.stored = Some(r.hashes_in(range)?);
                            // A closed channel means the replay stopped at an error.
                            Ok(tx.send(batch).is_ok())
                        };
                        r.for_each_entry(0, |k, v| -> Result<bool, LedgerError> {
                            batch.push(k, v);
                            let end = k.saturating_add(1);
                            while sizes_ref.get(next).is_some_and(|&s| s < end) {
                                next += 1;
                            }
                            if batch.len() == VERIFY_BATCH || sizes_ref.get(next) == Some(&end) {
                                return send(std::mem::replace(
                                    &mut batch,
                                    Batch::with_capacity(VERIFY_BATCH),
                                ));
                            }
                            Ok(true)
                        })?;
                        if !batch.is_empty() {
                            send(batch)?;
                        }
                        Ok(())
                    })
                });
                let mut replayed = Ok(());
                for batch in &rx {
                    let step = replay
                        .feed(&batch)
                        .map_err(LedgerError::from)
                        .and_then(|()| check_cps(&mut replay, &mut ci));
                    if let Err(e) = step {
                        replayed = Err(e);
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    if let Some(p) = progress {
                        p(replay.size(), total);
                    }
                }
                drop(rx);
                let read = reader.join().unwrap_or_else(|_| {
                    Err(StoreError::Damaged("the entry reader stopped unexpectedly".into()).into())
                });
                let chains = scanner.join().unwrap_or_else(|_| {
                    let e = || {
                        Err(StoreError::Damaged("the index table scanner stopped unexpectedly".into()).into())
                    };
                    (e(), e())
                });
                (replayed, read, chains)
            });
            // An error of the replay is at a lower index than anything the reader had not sent.
            replayed?;
            if read.is_err() {
                // A read that failed stopped the batches; the signatures of the last batch sent
                // are still pending, and a bad one among them is the lower index.
                replay.settle()?;
            }
            read?;
            if ci != sizes.len() {
                return Err(invalid(
                    Location::Checkpoint(sizes[ci]),
                    format!(
                        "signed for {} entries but the ledger holds {}",
                        sizes[ci],
                        replay.size()
                    ),
                ));
            }
            if replay.size() != total {
                return Err(invalid(Location::Ledger, "entry count changed during verify"));
            }
            let (report, totals) = replay.finish()?;
            check_derived_tables(r, &totals, report.entries, chains)?;
            Ok((report, totals.into_snapshot()))
        })
    }
}

/// What `org_entries` (`norms` false) or `norm_entries` holds, as one [`IndexChain`] per
/// name: one sequential scan (rows come in ascending index order within a name), which
/// `verify` runs while the replay works, to be compared with the replay's chains by
/// [`check_derived_tables`].
///
/// A damaged or forged table cannot make it hold more than the replay would: `norm_entries`
/// may only name norms of `catalogue`, and `org_entries` may hold at most `entries` rows (one
/// per entry), so memory stays bounded by norms and entries. It stops as soon as `stop` is set
/// (the replay failed, so nothing it would find can be reported).
///
/// # Errors
/// [`LedgerError::Store`]; [`LedgerError::Invalid`] for a table that breaks those bounds, whose
/// rows of one name are not together, or when stopped.
pub(crate) fn index_chains(
    r: &ReadTables,
    norms: bool,
    catalogue: &Catalogue,
    entries: u64,
    stop: &AtomicBool,
) -> StoredChains {
    let table = if norms { "norm_entries" } else { "org_entries" };
    // Files a finished name's chain; a name seen before means its rows are not together.
    let close = |chains: &mut BTreeMap<String, IndexChain>, (name, chain)| match chains.insert(name, chain) {
        None => Ok(()),
        Some(_) => Err(invalid(
            Location::Table(table),
            "the rows of one name are not together (table order damaged)",
        )),
    };
    let mut chains = BTreeMap::new();
    let mut current: Option<(String, IndexChain)> = None;
    let mut rows = 0u64;
    r.for_each_index_row(norms, |name, index| -> Result<(), LedgerError> {
        rows += 1;
        if stop.load(Ordering::Relaxed) {
            return Err(invalid(Location::Table(table), "scan stopped: the replay failed"));
        }
        match &mut current {
            Some((n, chain)) if n == name => chain.push(index),
            _ => {
                if norms && catalogue.get(name).is_none() {
                    return Err(invalid(
                        Location::Table(table),
                        format!("rows under {name:?}, which is not a norm of the catalogue"),
                    ));
                }
                if !norms && rows > entries {
                    return Err(invalid(
                        Location::Table(table),
                        format!("more rows than the {entries} entries of the ledger"),
                    ));
                }
                let mut chain = IndexChain::default();
                chain.push(index);
                if let Some(done) = current.replace((name.to_string(), chain)) {
                    close(&mut chains, done)?;
                }
            }
        }
        Ok(())
    })?;
    if let Some(done) = current {
        close(&mut chains, done)?;
    }
    Ok(chains)
}

/// What [`index_chains`] found in one table.
pub(crate) type StoredChains = Result<BTreeMap<String, IndexChain>, LedgerError>;

/// Compares the chains of `org_entries` or `norm_entries` (`table`) with the replay's.
fn compare_chains(
    table: &'static str,
    stored: &BTreeMap<String, IndexChain>,
    want: &HashMap<String, IndexChain>,
) -> Result<(), LedgerError> {
    for (name, chain) in stored {
        if want.get(name).map(IndexChain::digest) != Some(chain.digest()) {
            return Err(invalid(
                Location::Table(table),
                format!("the rows under {name:?} differ from the entries the replay gives it"),
            ));
        }
    }
    if stored.len() != want.len() {
        return Err(invalid(
            Location::Table(table),
            format!(
                "rows for {} names where the replay gives {}",
                stored.len(),
                want.len()
            ),
        ));
    }
    Ok(())
}

/// Whole-table comparison of the derived tables with the replayed registry.
///
/// `chains` is what [`index_chains`] found in `org_entries` and `norm_entries`. The scans of
/// `statement_ids` and of the registry tables run in parallel; errors are reported in a fixed
/// order whatever finishes first.
pub(crate) fn check_derived_tables(
    r: &ReadTables,
    reg: &ReplayTotals,
    entries: u64,
    chains: (StoredChains, StoredChains),
) -> Result<(), LedgerError> {
    let (hashes, ids, org_rows, norm_rows) = r.derived_counts()?;
    let want = [
        ("hashes", hashes, merkle::stored_hash_count(entries)),
        ("statement_ids", ids, entries),
        ("org_entries", org_rows, entries),
        ("norm_entries", norm_rows, reg.registry.norm_rows),
    ];
    for (name, got, expected) in want {
        if got != expected {
            return Err(invalid(
                Location::Table(name),
                format!("{got} rows where the replay gives {expected}"),
            ));
        }
    }
    // The state map the next append builds on: its stored root must be the replay's. (Only the
    // root is compared here: a node or value damaged below it makes the next append commit a
    // wrong root, which every verifier then refuses, naming that entry.)
    let stored = crate::statemap::root(r)?;
    if stored != reg.state_root {
        return Err(invalid(
            Location::Table("state_nodes"),
            format!(
                "stored state map root {} differs from the replay's {}",
                hex::encode(stored),
                hex::encode(reg.state_root)
            ),
        ));
    }
    compare_chains("org_entries", &chains.0?, &reg.registry.org_chains)?;
    compare_chains("norm_entries", &chains.1?, &reg.registry.norm_chains)?;
    let (ids, rest) = rayon::join(|| check_statement_ids(r, reg), || check_registry_tables(r, reg));
    ids?;
    rest
}

/// `statement_ids` against the replay's ids.
fn check_statement_ids(r: &ReadTables, reg: &ReplayTotals) -> Result<(), LedgerError> {
    r.for_each_statement_id(|id, idx| -> Result<(), LedgerError> {
        // With the row count equal to the entry count, every row matching a distinct
        // replayed id means the table is exactly the replay's.
        if reg.registry.ids.get(&id) != Some(&idx) {
            return Err(invalid(
                Location::Table("statement_ids"),
                format!(
                    "row {} (entry {idx}) differs from the replay: id missing or pointing elsewhere",
                    hex::encode(id)
                ),
            ));
        }
        Ok(())
    })
}

/// The registry tables against the replayed registry, row by row and by count.
fn check_registry_tables(r: &ReadTables, reg: &ReplayTotals) -> Result<(), LedgerError> {
    let (mut keys, mut orgs, mut live, mut recovery, mut used) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut ended, mut untrusted, mut name_keys) = (0usize, 0usize, 0usize);
    r.for_each_registry_row(|row| -> Result<(), LedgerError> {
        match row {
            DerivedRow::Key(kid, rec) => {
                keys += 1;
                if reg.registry.keys.get(&kid) != Some(&rec) {
                    return Err(invalid(
                        Location::Table("keys"),
                        format!("row {} differs from the replay", hex::encode(kid)),
                    ));
                }
            }
            DerivedRow::Org(name, idx) => {
                orgs += 1;
                if reg.registry.orgs.get(&name).map(|o| o.registration) != Some(idx) {
                    return Err(invalid(
                        Location::Table("orgs"),
                        format!("row {name:?} differs from the replay"),
                    ));
                }
            }
            DerivedRow::Recovery(name, c) => {
                recovery += 1;
                if reg.registry.orgs.get(&name).and_then(|o| o.recovery) != Some(c) {
                    return Err(invalid(
                        Location::Table("recovery"),
                        format!("row {name:?} differs from the replay"),
                    ));
                }
            }
            DerivedRow::UsedRecovery(c, name) => {
                used += 1;
                if reg.registry.used.get(&c) != Some(&name) {
                    return Err(invalid(
                        Location::Table("used_recovery"),
                        format!("row {} differs from the replay", hex::encode(c)),
                    ));
                }
            }
            DerivedRow::Ended(idx, by, id) => {
                ended += 1;
                if reg.registry.ended.get(&idx).map(|(_, i, b)| (*i, *b)) != Some((id, by)) {
                    return Err(invalid(
                        Location::Table("ended"),
                        format!("row for entry {idx} differs from the replay"),
                    ));
                }
            }
            DerivedRow::NameKey(key, idx, name) => {
                name_keys += 1;
                if reg.registry.name_keys.get(&key) != Some(&(idx, name)) {
                    return Err(invalid(
                        Location::Table("name_keys"),
                        format!("row for the registration at entry {idx} differs from the replay"),
                    ));
                }
            }
            DerivedRow::Untrusted(idx, by) => {
                untrusted += 1;
                if reg.registry.untrusted.get(&idx) != Some(&by) {
                    return Err(invalid(
                        Location::Table("untrusted"),
                        format!("row for entry {idx} differs from the replay"),
                    ));
                }
            }
            DerivedRow::Live(id, idx) => {
                live += 1;
                if reg.registry.live.get(&id).map(|x| x.0) != Some(idx) {
                    return Err(invalid(
                        Location::Table("live"),
                        format!("row {} differs from the replay", hex::encode(id)),
                    ));
                }
            }
        }
        Ok(())
    })?;
    for (name, got, want) in [
        ("keys", keys, reg.registry.keys.len()),
        ("orgs", orgs, reg.registry.orgs.len()),
        ("live", live, reg.registry.live.len()),
        (
            "recovery",
            recovery,
            reg.registry
                .orgs
                .values()
                .filter(|o| o.recovery.is_some())
                .count(),
        ),
        ("used_recovery", used, reg.registry.used.len()),
        ("ended", ended, reg.registry.ended.len()),
        ("untrusted", untrusted, reg.registry.untrusted.len()),
        ("name_keys", name_keys, reg.registry.name_keys.len()),
    ] {
        if got != want {
            return Err(invalid(
                Location::Table(name),
                format!("{got} rows where the replay gives {want}"),
            ));
        }
    }
    Ok(())
}
