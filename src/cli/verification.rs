//! Verification: `verify` (a ledger in place or an export file) and `verify-proof`.

use std::path::Path;

use anyhow::anyhow;
use serde::Serialize;

use accord::checkpoint::VerifierKey;
use accord::norms::Catalogue;
use accord::proofs::{BundleError, ProofFile, MAX_PROOF_FILE};
use accord::state::{Seen, Source, StateDir};
use accord::statement::Body;

use super::context::*;
use super::display::{quoted, shown, shown_join};
use super::fail::{self, Fail};
use super::terminal::{note, Progress};
use super::witnessed::{self, WitnessArgs};

pub(super) fn verify(
    dir: &Path,
    vkey: Option<&str>,
    state: Option<&Path>,
    full: bool,
    witness: &WitnessArgs,
    json: bool,
) -> Res {
    let l = open_ro(dir)?;
    let (vkey, recorded) = match vkey {
        Some(v) => (
            VerifierKey::parse(v.trim()).map_err(|e| Fail::usage(e).context("--ledger-key"))?,
            false,
        ),
        None => {
            let v = l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?;
            (
                VerifierKey::parse(&v)
                    .map_err(|e| Fail::invalid(e).context("the ledger key recorded at init"))?,
                true,
            )
        }
    };
    if recorded {
        note!(
            "note: checking against the ledger key recorded at init ({vkey}); pass --ledger-key with a key you obtained independently"
        );
    }
    let required = witness.requirement(&vkey)?;
    let state_dir = StateDir::new(state.map(Path::to_path_buf).unwrap_or_else(StateDir::default_dir));
    let size = l.size().map_err(|e| fail::ledger(e, 1))?;
    let resume = resume_state(&state_dir, &vkey, size, full)?;
    let mut from = resume.as_ref().map(|s| s.size());
    let bar = Progress::start("verifying", !json);
    let mut res = l.verify_from(
        &vkey,
        Catalogue::embedded(),
        resume,
        Some(&|d, t| bar.update(d, t)),
    );
    if let (Err(e), Some(m)) = (&res, from) {
        // The verdict is a full verification's, whatever the remembered state holds.
        note!(
            "note: resuming from the remembered replay state of size {m} failed ({e}); verifying everything"
        );
        from = None;
        res = l.verify_from(&vkey, Catalogue::embedded(), None, Some(&|d, t| bar.update(d, t)));
    }
    drop(bar);
    let (report, snapshot) = res.map_err(|e| fail::ledger(e, 1).context("verification FAILED"))?;
    let seen = read(&l, |r| {
        Ok(
            state_dir.check_and_remember(&vkey, &report.checkpoint, Source::Live, |size| {
                accord::merkle::tree_root(size, r).ok()
            }),
        )
    })?
    .map_err(state_fail)?;
    state_dir
        .save_replay_state(&vkey, &snapshot)
        .map_err(state_fail)?;
    // The trusted checkpoint is the newest stored cosigned one that is this ledger's own and
    // meets the quorum; the entries after it are not yet witnessed.
    let witnessing = required
        .map(|r| l.witnessing(&r, &vkey, report.entries, witnessed::now()))
        .transpose()
        .map_err(|e| fail::ledger(e, 1).context(format!("{}: verification REFUSED", dir.display())))?;
    let what = format!("ledger {}", dir.display());
    let cp = &report.checkpoint.checkpoint;
    if json {
        #[derive(Serialize)]
        struct J {
            ok: bool,
            origin: String,
            entries: u64,
            root: String,
            checkpoints: u64,
            organisations: u64,
            registrations: u64,
            attestations: u64,
            withdrawals: u64,
            live_attestations: u64,
            rotations: u64,
            revocations: u64,
            recoveries: u64,
            untrusted: Vec<u64>,
            ledger_key: String,
            ledger_key_source: &'static str,
            remembered: String,
            remembered_size: Option<u64>,
            older_than_remembered: bool,
            incremental_from: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            witnesses: Option<serde_json::Value>,
        }
        out_json(&J {
            ok: true,
            origin: cp.origin.to_string(),
            entries: report.entries,
            root: hex::encode(cp.root),
            checkpoints: report.checkpoints,
            organisations: report.organisations,
            registrations: report.by_kind[0],
            attestations: report.by_kind[1],
            withdrawals: report.by_kind[2],
            live_attestations: report.live_at(accord::clock::now()),
            rotations: report.by_kind[3],
            revocations: report.by_kind[4],
            recoveries: report.by_kind[5],
            untrusted: report.untrusted.clone(),
            ledger_key: vkey.to_string(),
            ledger_key_source: if recorded { "recorded-at-init" } else { "argument" },
            remembered: seen_text(&seen),
            remembered_size: remembered_size(&seen, cp.size),
            // A ledger in place older than the remembered checkpoint is a rollback (exit 1).
            older_than_remembered: false,
            incremental_from: from,
            witnesses: witnessing.as_ref().map(witnessed::json),
        })?;
        return witnessed::exit(witnessing.as_ref(), &what);
    }
    out(&format!(
        "{}: ledger {} verified: {} entries ({}), {} signed checkpoints; {} organisations, {} pledges in force\nroot {} at size {}\n{}\n{}",
        witnessed::verdict(witnessing.as_ref()),
        cp.origin,
        report.entries,
        kinds_summary(&report.by_kind),
        report.checkpoints,
        report.organisations,
        report.live_at(accord::clock::now()),
        hex::encode(cp.root),
        cp.size,
        seen_text(&seen),
        incremental_text(from, "their chain links, stored hashes and tree were checked again, and every derived table was compared whole")
    ));
    print_untrusted(&report.untrusted);
    witnessed::print(witnessing.as_ref());
    witnessed::exit(witnessing.as_ref(), &what)
}

/// Every kind with its count, as people write it: "5 registrations, 1 rotation, ...".
pub(super) fn kinds_summary(by_kind: &[u64; 6]) -> String {
    let names = [
        ("registration", "registrations"),
        ("attestation", "attestations"),
        ("withdrawal", "withdrawals"),
        ("rotation", "rotations"),
        ("revocation", "revocations"),
        ("recovery", "recoveries"),
    ];
    by_kind
        .iter()
        .zip(names)
        .map(|(&n, (one, many))| format!("{n} {}", if n == 1 { one } else { many }))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn print_untrusted(untrusted: &[u64]) {
    if !untrusted.is_empty() {
        out(&format!(
            "UNTRUSTED: {} entries signed by keys later reported compromised (valid history, not to be relied on): {}\n",
            untrusted.len(),
            untrusted.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
}

/// Reads a proof file (`-`: standard input), at most [`MAX_PROOF_FILE`] bytes.
pub(super) fn read_proof_file(path: &Path) -> Res<Vec<u8>> {
    read_input(path, "proof file", MAX_PROOF_FILE, Fail::invalid)
}

/// Reads an entry file given with `--entry` (at most one entry's bytes).
pub(super) fn read_entry_file(path: &Path) -> Res<Vec<u8>> {
    read_input(path, "entry file", accord::entry::MAX_ENTRY_LEN, Fail::usage)
}

/// What every bundle relies on, said in text and JSON (issue 10, finding 3).
pub(super) const RELIES_ON_CUSTODIAN: &str = "a bundle relies on the custodian to have enforced the ledger's rules that it cannot show: one registration per name (and no look-alike of one) and one organisation per key; whoever holds the ledger key could sign a tree holding a second registration of this name. To check them, verify the full ledger (accord verify) or an export (accord verify --file), or watch the ledger for the organisation's name";

pub(super) const CANNOT_PROVE: &str = "a bundle cannot prove that nothing later withdrew or superseded this entry, or (by a recovery after its checkpoint) made it untrusted, nor that its key history is complete (anyone who passes a bundle on can leave an item out, a recovery among them): check the full ledger (accord verify) or an export (accord verify --file)";

pub(super) fn verify_proof(
    path: &Path,
    key: &str,
    entry: Option<&Path>,
    state: Option<&Path>,
    witness: &WitnessArgs,
    json: bool,
) -> Res {
    let vkey = vkey(key)?;
    let required = witness.requirement(&vkey)?;
    // The proof's (newest) checkpoint judged by the policy, if one was given: a forged
    // cosignature of a policy witness is refused (exit 1).
    let judge = |cp: &accord::checkpoint::SignedCheckpoint| {
        required
            .as_ref()
            .map(|r| r.single(&cp.note, cp.checkpoint.size, witnessed::now()))
            .transpose()
            .map_err(|e| witnessed::refused(e, &input_name(path)))
    };
    if path.as_os_str() == "-" && entry.is_some_and(|e| e.as_os_str() == "-") {
        return Err(Fail::usage(anyhow!(
            "the proof and --entry cannot both be read from standard input"
        ))
        .hint("give one of them as a file"));
    }
    let bytes = read_proof_file(path)?;
    let bad = |e: BundleError| Fail::invalid(e).context(format!("{}: verification FAILED", input_name(path)));
    let sd = state_dir(state);
    if accord::proofs::tlog::TlogProof::looks_like(&bytes) {
        let p = accord::proofs::tlog::TlogProof::parse(&bytes).map_err(bad)?;
        let entry = match entry {
            Some(f) => Some(read_entry_file(f)?),
            None => None,
        };
        let r = p.verify(&vkey, entry.as_deref()).map_err(bad)?;
        let cp = &r.checkpoint.checkpoint;
        let witnessing = judge(&r.checkpoint)?;
        let observed = sd.observe(&vkey, &r.checkpoint, None).map_err(state_fail)?;
        let (seen, remembered) = (seen_text(&observed), remembered_size(&observed, cp.size));
        let older = matches!(observed, Seen::Older { .. });
        let trusted = !not_established(&observed) && witnessed::verdict(witnessing.as_ref()) == "OK";
        let done = || {
            older_exit(&observed, &input_name(path))
                .and_then(|()| witnessed::exit(witnessing.as_ref(), &input_name(path)))
        };
        // A tlog-proof carries no registration: the name as registered is known only when the
        // entry is the registration itself.
        let org_name = match &r.statement.payload.body {
            Body::Registration(reg) => Some(reg.name.clone()),
            _ => None,
        };
        let not_checked = "a tlog-proof carries neither the signatory's key nor the registration: the statement's signature and its key's binding to the organisation are NOT checked (use an accord bundle: accord prove N --out FILE)";
        if json {
            return out_json(&serde_json::json!({
                "ok": true, "type": "tlog-proof", "origin": cp.origin.to_string(),
                "leaf_index": r.entry.index, "tree_size": cp.size, "root": hex::encode(cp.root),
                "kind": r.statement.kind().to_string(), "org": r.statement.iss,
                "org_name": org_name,
                "statement_id": hex::encode(r.statement.id()),
                "logged_at": accord::time::format(r.entry.logged_at),
                "remembered": seen,
                "remembered_size": remembered,
                "older_than_remembered": older,
                "trust_established": trusted,
                "witnesses": witnessing.as_ref().map(witnessed::json),
                "proves": [format!("entry {} is included in the tree of size {} signed by the ledger key", r.entry.index, cp.size)],
                "does_not_prove": [not_checked, CANNOT_PROVE],
            }))
            .and_then(|()| done());
        }
        out(&format!(
            "{}: entry {} ({} by {}) is included in ledger {} at checkpoint size {} (root {})\ncheckpoint: {}\nnot checked: {}\n",
            if trusted { "OK" } else { "VALID" },
            r.entry.index,
            r.statement.kind(),
            match &org_name {
                Some(n) => shown(n).into_owned(),
                None => format!("{}, as normalised: a tlog-proof does not carry the registration", quoted(&r.statement.iss)),
            },
            cp.origin,
            cp.size,
            hex::encode(cp.root),
            seen,
            not_checked
        ));
        witnessed::print(witnessing.as_ref());
        return done();
    }
    let file = ProofFile::parse(&bytes).map_err(bad)?;
    match file {
        ProofFile::Bundle(b) => {
            let r = b.verify(&vkey, Catalogue::embedded()).map_err(bad)?;
            let witnessing = judge(&r.checkpoint)?;
            let seen = sd
                .observe(&vkey, &r.checkpoint, r.consistent_from.as_ref())
                .map_err(state_fail)?;
            let older = matches!(seen, Seen::Older { .. });
            let trusted = !not_established(&seen) && witnessed::verdict(witnessing.as_ref()) == "OK";
            let done = || {
                older_exit(&seen, &input_name(path))
                    .and_then(|()| witnessed::exit(witnessing.as_ref(), &input_name(path)))
            };
            let st = &r.statement;
            let cp = &r.checkpoint.checkpoint;
            // The organisation by the name its registration (in the bundle) gives, with its
            // domain, self-asserted (issue 12).
            let name = shown(&r.org_name).into_owned();
            let named = format!(
                "{name} ({})",
                match &r.domain {
                    Some(d) => format!("{}, self-asserted", shown(d)),
                    None => "self-asserted".into(),
                }
            );
            let attestation = match &st.payload.body {
                Body::Attestation(a) => Some(a),
                _ => None,
            };
            let norms: Option<Vec<String>> =
                attestation.map(|a| a.norms.iter().map(|n| n.id.to_string()).collect());
            let what = match &st.payload.body {
                Body::Attestation(a) => format!(
                    "attests {} for {}{}",
                    norms.as_deref().unwrap_or_default().join(", "),
                    shown_join(&a.scope, "; "),
                    a.expires
                        .map(|x| format!(" until {}", accord::time::format(x)))
                        .unwrap_or_default()
                ),
                Body::Registration(reg) => format!("registers {}", quoted(&reg.name)),
                Body::Withdrawal(w) => format!(
                    "withdraws statement {}: {}",
                    hex::encode(w.target),
                    shown(&w.reason)
                ),
                Body::Rotation(_) => "rotates the organisation's key".to_string(),
                Body::Revocation(r) => format!("revokes key {}: {}", hex::encode(r.target), shown(&r.reason)),
                Body::Recovery(r) => format!("recovers the organisation: {}", shown(&r.reason)),
                Body::Acceptance(_) => "accepts a key".to_string(),
            };
            // A recovery in the bundle's own key history made the entry untrusted: the bundle is
            // authentic (exit 0), but the entry is not to be relied on.
            let untrusted = r.untrusted_by.map(|u| {
                (
                    u,
                    format!(
                        "entry {} is untrusted according to the recovery at entry {} in the bundle's key history: that recovery reports the keys of {:?} compromised since {}, and the entry was signed by one of them after that (valid history, not to be relied on)",
                        r.index,
                        u.recovery_index,
                        r.org_name,
                        accord::time::format(u.compromised_since)
                    ),
                )
            });
            if json {
                #[derive(Serialize)]
                struct U {
                    recovery_index: u64,
                    compromised_since: String,
                    message: String,
                }
                #[derive(Serialize)]
                struct J<'a> {
                    ok: bool,
                    r#type: &'static str,
                    origin: String,
                    leaf_index: u64,
                    tree_size: u64,
                    root: String,
                    kind: String,
                    org: String,
                    org_name: &'a str,
                    domain: Option<&'a str>,
                    statement_id: String,
                    logged_at: String,
                    summary: String,
                    norms: Option<Vec<String>>,
                    scope: Option<&'a [String]>,
                    expires: Option<String>,
                    registration_index: u64,
                    key_history_entries: usize,
                    consistent_from: Option<u64>,
                    untrusted: bool,
                    untrusted_by: Option<U>,
                    remembered: String,
                    remembered_size: Option<u64>,
                    older_than_remembered: bool,
                    trust_established: bool,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    witnesses: Option<serde_json::Value>,
                    proves: Vec<String>,
                    does_not_prove: Vec<&'static str>,
                    relies_on_custodian: &'static str,
                }
                out_json(&J {
                    ok: true,
                    r#type: "inclusion",
                    origin: cp.origin.to_string(),
                    leaf_index: r.index,
                    tree_size: cp.size,
                    root: hex::encode(cp.root),
                    kind: st.kind().to_string(),
                    org: st.iss.clone(),
                    org_name: &r.org_name,
                    domain: r.domain.as_deref(),
                    statement_id: hex::encode(st.id()),
                    logged_at: accord::time::format(r.logged_at),
                    summary: what.clone(),
                    norms: norms.clone(),
                    scope: attestation.map(|a| a.scope.as_slice()),
                    expires: attestation.and_then(|a| a.expires).map(accord::time::format),
                    registration_index: r.registration_index,
                    key_history_entries: r.key_history_len,
                    consistent_from: r.consistent_from.as_ref().map(|c| c.checkpoint.size),
                    untrusted: untrusted.is_some(),
                    untrusted_by: untrusted.map(|(u, message)| U {
                        recovery_index: u.recovery_index,
                        compromised_since: accord::time::format(u.compromised_since),
                        message,
                    }),
                    remembered: seen_text(&seen),
                    remembered_size: remembered_size(&seen, cp.size),
                    older_than_remembered: older,
                    trust_established: trusted,
                    witnesses: witnessing.as_ref().map(witnessed::json),
                    proves: vec![
                        format!(
                            "entry {} is included in the tree of size {} signed by the ledger key",
                            r.index, cp.size
                        ),
                        format!(
                            "its statement is signed by a key that spoke for {:?} when it was logged, according to the registration (entry {}) and the {} key-history entries the bundle holds",
                            r.org_name, r.registration_index, r.key_history_len
                        ),
                    ],
                    does_not_prove: vec![CANNOT_PROVE],
                    relies_on_custodian: RELIES_ON_CUSTODIAN,
                })?;
                return done();
            }
            out(&format!(
                "{}: entry {} ({} by {name}) is included in ledger {} at checkpoint size {} (root {})\n\
                 signed by a key that spoke for {named} when it was logged (registration at entry {}, {} key-history entries checked); logged at {}\n{}\ncheckpoint: {}\nnote: {}\nnote: {}\n",
                if trusted { "OK" } else { "VALID" },
                r.index,
                st.kind(),
                cp.origin,
                cp.size,
                hex::encode(cp.root),
                r.registration_index,
                r.key_history_len,
                accord::time::format(r.logged_at),
                what,
                seen_text(&seen),
                CANNOT_PROVE,
                RELIES_ON_CUSTODIAN
            ));
            if let Some((_, message)) = &untrusted {
                out(&format!("UNTRUSTED: {message}\n"));
            }
            witnessed::print(witnessing.as_ref());
            done()
        }
        ProofFile::Consistency(c) => {
            // Two checkpoints signed by the ledger key, of one size, with different roots: no
            // path can join them, whatever the file says. That is evidence of a fork, kept.
            if let (Ok(o), Ok(n)) = (
                accord::checkpoint::SignedCheckpoint::open(&c.old, &vkey),
                accord::checkpoint::SignedCheckpoint::open(&c.new, &vkey),
            ) {
                if o.checkpoint.size == n.checkpoint.size && o.checkpoint.root != n.checkpoint.root {
                    let kept = sd
                        .keep_evidence(&c.old, &c.new, &vkey, o.checkpoint.size)
                        .map_err(state_fail)?;
                    return Err(Fail::invalid(anyhow!(
                        "FORK: two checkpoints signed by the ledger key have the same size {} and different roots; both kept as evidence in {}",
                        o.checkpoint.size,
                        kept.display()
                    ))
                    .context(format!("{}: verification FAILED", input_name(path))));
                }
            }
            // A path that does not verify proves nothing about the two checkpoints: the path is
            // not signed, so anyone can damage it. It is refused, never kept as fork evidence
            // (FORMAT.md section 9).
            let (old, new) = c.verify(&vkey).map_err(|e| match e {
                BundleError::Proof { .. } => Fail::invalid(anyhow!(
                    "{e}: the two checkpoints are signed by the ledger key, but this path does not lead from one to the other. The file may be damaged (the path is not signed), so it is not evidence of a fork either; ask for a fresh proof (accord consistency --from N)"
                ))
                .context(format!("{}: verification FAILED", input_name(path))),
                other => bad(other),
            })?;
            let witnessing = judge(&new)?;
            let observed = sd.observe(&vkey, &new, Some(&old)).map_err(state_fail)?;
            let (seen, remembered) = (
                seen_text(&observed),
                remembered_size(&observed, new.checkpoint.size),
            );
            let older = matches!(observed, Seen::Older { .. });
            let trusted = !not_established(&observed) && witnessed::verdict(witnessing.as_ref()) == "OK";
            let done = || {
                older_exit(&observed, &input_name(path))
                    .and_then(|()| witnessed::exit(witnessing.as_ref(), &input_name(path)))
            };
            if json {
                out_json(&serde_json::json!({
                    "ok": true, "type": "consistency", "origin": new.checkpoint.origin.to_string(),
                    "from_size": old.checkpoint.size, "to_size": new.checkpoint.size,
                    "from_root": hex::encode(old.checkpoint.root), "to_root": hex::encode(new.checkpoint.root),
                    "remembered": seen,
                    "remembered_size": remembered,
                    "older_than_remembered": older,
                    "trust_established": trusted,
                    "witnesses": witnessing.as_ref().map(witnessed::json),
                }))?;
                return done();
            }
            out(&format!(
                "{}: the ledger {} of size {} extends its earlier tree of size {} (nothing rewritten)\ncheckpoint: {}\n",
                if trusted { "OK" } else { "VALID" },
                new.checkpoint.origin, new.checkpoint.size, old.checkpoint.size, seen
            ));
            witnessed::print(witnessing.as_ref());
            done()
        }
    }
}

pub(super) fn verify_file(
    path: &Path,
    key: &str,
    state: Option<&Path>,
    full: bool,
    witness: &WitnessArgs,
    json: bool,
) -> Res {
    let vkey = vkey(key)?;
    let required = witness.requirement(&vkey)?;
    let sd = state_dir(state);
    let remembered = sd.remembered(&vkey).map_err(state_fail)?;
    let mut input = open_input(path, "export file")?;
    let bar = Progress::start("verifying", !json);
    // One pass over the input, whatever it is (a file, a pipe, standard input): everything
    // reported, the untrusted entries included, comes from the bytes that were verified. A
    // remembered replay state is used when the file is at least as large; were the resumed
    // verification to fail, the file is verified whole from a copy taken in the same pass.
    let header = accord::export::read_header(&mut input).map_err(|e| {
        fail::ledger(e.into(), 1).context(format!("{}: verification FAILED", input_name(path)))
    })?;
    let resume = resume_state(&sd, &vkey, header.size, full)?;
    let mut from = resume.as_ref().map(|s| s.size());
    let mut copy: Option<Vec<u8>> = from.map(|_| Vec::new());
    let copied;
    let verified = {
        let mut tee = Tee {
            inner: &mut input,
            copy: copy.as_mut(),
        };
        let v = accord::export::verify_export_entries(
            &mut tee,
            &header,
            &vkey,
            Catalogue::embedded(),
            remembered.as_ref().map(|r| r.checkpoint.size),
            resume.map(|snapshot| accord::export::Resume { snapshot, first: 0 }),
            Some(&|d, t| bar.update(d, t)),
            |_| Ok::<(), accord::verdict::VerifyError>(()),
        );
        copied = tee.copy.is_some();
        v
    };
    if !copied {
        copy = None;
    }
    let verified = match (verified, copy) {
        (Err(e), None) if from.is_some() => {
            note!("note: this verdict comes from resuming the remembered replay state of size {}; --full verifies the whole file", from.unwrap_or_default());
            Err(e)
        }
        (Err(e), Some(mut bytes)) => {
            note!("note: resuming from the remembered replay state failed ({e}); verifying the whole file");
            from = None;
            // What was read, then the rest of the input: the same bytes, read once.
            std::io::Read::read_to_end(&mut input, &mut bytes)
                .map_err(|e| Fail::usage(e).context(input_name(path)))?;
            accord::export::verify_export_entries(
                &mut &bytes[..],
                &header,
                &vkey,
                Catalogue::embedded(),
                remembered.as_ref().map(|r| r.checkpoint.size),
                None,
                Some(&|d, t| bar.update(d, t)),
                |_| Ok::<(), accord::verdict::VerifyError>(()),
            )
        }
        (v, _) => v,
    };
    let (report, totals, root_at) = verified.map_err(|e| {
        fail::ledger(e.into(), 1).context(format!("{}: verification FAILED", input_name(path)))
    })?;
    drop(bar);
    // The export's checkpoint carries the cosignatures it was written with (if any).
    let witnessing = required
        .map(|r| {
            r.single(
                &report.checkpoint.note,
                report.checkpoint.checkpoint.size,
                witnessed::now(),
            )
        })
        .transpose()
        .map_err(|e| witnessed::refused(e, &input_name(path)))?;
    let seen = sd
        .check_and_remember(&vkey, &report.checkpoint, Source::File, |s| {
            if Some(s) == remembered.as_ref().map(|r| r.checkpoint.size) {
                root_at
            } else {
                None
            }
        })
        .map_err(state_fail)?;
    // Kept only for a file that is the newest verified (an older snapshot-file is not).
    if !matches!(seen, Seen::Older { .. }) {
        sd.save_replay_state(&vkey, &totals.into_snapshot())
            .map_err(state_fail)?;
    }
    let cp = &report.checkpoint.checkpoint;
    if json {
        out_json(&serde_json::json!({
            "ok": true, "origin": cp.origin.to_string(), "entries": report.entries, "root": hex::encode(cp.root),
            "organisations": report.organisations, "registrations": report.by_kind[0],
            "attestations": report.by_kind[1], "withdrawals": report.by_kind[2],
            "live_attestations": report.live_at(accord::clock::now()), "remembered": seen_text(&seen),
            "remembered_size": remembered_size(&seen, cp.size),
            "older_than_remembered": matches!(seen, Seen::Older { .. }),
            "rotations": report.by_kind[3], "revocations": report.by_kind[4], "recoveries": report.by_kind[5],
            "untrusted": report.untrusted, "incremental_from": from,
            "witnesses": witnessing.as_ref().map(witnessed::json),
        }))?;
        return older_exit(&seen, &input_name(path))
            .and_then(|()| witnessed::exit(witnessing.as_ref(), &input_name(path)));
    }
    out(&format!(
        "{}: export {} of ledger {} verified: {} entries ({}); {} organisations, {} pledges in force\nroot {} matches the signed checkpoint of size {}\n{}\n",
        if matches!(seen, Seen::Older { .. }) { "VALID" } else { witnessed::verdict(witnessing.as_ref()) },
        input_name(path),
        cp.origin,
        report.entries,
        kinds_summary(&report.by_kind),
        report.organisations,
        report.live_at(accord::clock::now()),
        hex::encode(cp.root),
        cp.size,
        seen_text(&seen)
    ));
    out(&incremental_text(
        from,
        "their chain links and tree were checked again",
    ));
    print_untrusted(&report.untrusted);
    witnessed::print(witnessing.as_ref());
    older_exit(&seen, &input_name(path))
        .and_then(|()| witnessed::exit(witnessing.as_ref(), &input_name(path)))
}

/// Most bytes of an export kept in memory while a resumed verification reads it, so that
/// the whole file can be verified from the same read if the resumed one fails. A larger file
/// is not copied: a failure then says so, and `--full` verifies it whole.
const TEE_LIMIT: usize = 256 << 20;

/// Reads through `inner`, keeping a copy of what was read (up to [`TEE_LIMIT`]; beyond it the
/// copy is dropped) when `copy` is given.
struct Tee<'a, R> {
    inner: &'a mut R,
    copy: Option<&'a mut Vec<u8>>,
}

impl<R: std::io::Read> std::io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = self.copy.as_mut() {
            if c.len() + n > TEE_LIMIT {
                c.clear();
                c.shrink_to_fit();
                self.copy = None;
            } else {
                c.extend_from_slice(&buf[..n]);
            }
        }
        Ok(n)
    }
}
