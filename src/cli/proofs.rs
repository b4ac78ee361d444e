//! Audit commands: prove, verify-proof, consistency, export, import, verify --file.

use std::io::{BufReader, BufWriter, IsTerminal as _, Read as _};
use std::path::Path;

use anyhow::{anyhow, Context as _};
use serde::Serialize;

use accord::checkpoint::VerifierKey;
use accord::keyfile;
use accord::ledger::{Ledger, LedgerError};
use accord::norms::Catalogue;
use accord::proofs::{BundleError, ProofFile, MAX_PROOF_FILE};
use accord::state::{StateDir, StateError};
use accord::statement::Body;

use super::commands::{open_ro, out, out_json, seen_text};
use super::display::{shown, shown_join};
use super::fail::{self, Fail};
use super::ProofFormat;

type Res<T = ()> = Result<T, Fail>;

fn vkey(s: &str) -> Res<VerifierKey> {
    VerifierKey::parse(s.trim()).map_err(|e| Fail::usage(e).context("--ledger-key"))
}

fn state_dir(state: Option<&Path>) -> StateDir {
    StateDir::new(state.map(Path::to_path_buf).unwrap_or_else(StateDir::default_dir))
}

fn state_fail(e: StateError) -> Fail {
    match e {
        StateError::Io { .. } | StateError::NotPrivate { .. } => Fail::usage(e),
        other => Fail::invalid(other).context("verification FAILED"),
    }
}

/// Reads an entry file given with `--entry` (at most one entry's bytes).
fn read_entry_file(path: &Path) -> Res<Vec<u8>> {
    use std::io::Read as _;
    let mut r = open_input(path, "entry file")?;
    let mut v = Vec::new();
    r.by_ref()
        .take(accord::entry::MAX_ENTRY_LEN as u64 + 1)
        .read_to_end(&mut v)
        .with_context(|| format!("reading {}", input_name(path)))
        .map_err(Fail::usage)?;
    if v.len() > accord::entry::MAX_ENTRY_LEN {
        return Err(Fail::usage(anyhow!(
            "{}: larger than an entry ({} bytes at most)",
            input_name(path),
            accord::entry::MAX_ENTRY_LEN
        )));
    }
    Ok(v)
}

fn write_out(path: &Path, bytes: &[u8]) -> Res {
    keyfile::write_new_file(path, bytes, 0o644).map_err(Fail::usage)
}

pub(super) fn prove(
    dir: &Path,
    index: u64,
    out_file: &Path,
    at_size: Option<u64>,
    since: Option<u64>,
    format: ProofFormat,
) -> Res {
    let l = open_ro(dir)?;
    let b = l.prove(index, at_size, since).map_err(|e| fail::ledger(e, 1))?;
    let size = b.tree_size;
    let file = ProofFile::Bundle(b);
    let bytes = match format {
        ProofFormat::Cbor => file.to_cbor().map_err(Fail::invalid)?,
        ProofFormat::Json => file.to_json().map_err(Fail::invalid)?.into_bytes(),
        ProofFormat::TlogProof => match &file {
            ProofFile::Bundle(b) => b.to_tlog_proof().to_text().into_bytes(),
            ProofFile::Consistency(_) => Vec::new(),
        },
    };
    write_out(out_file, &bytes)?;
    out(&format!(
        "wrote a proof of entry {index} at checkpoint size {size} to {}\ncheck it with: accord verify-proof {} --ledger-key {}\n",
        out_file.display(),
        out_file.display(),
        l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?
    ));
    Ok(())
}

pub(super) fn consistency(dir: &Path, from: u64, to: Option<u64>, out_file: &Path, json: bool) -> Res {
    let l = open_ro(dir)?;
    let c = l.consistency(from, to).map_err(|e| fail::ledger(e, 1))?;
    let file = ProofFile::Consistency(c);
    let bytes = if json {
        file.to_json().map_err(Fail::invalid)?.into_bytes()
    } else {
        file.to_cbor().map_err(Fail::invalid)?
    };
    write_out(out_file, &bytes)?;
    out(&format!(
        "wrote a consistency proof from size {from} to {}\n",
        out_file.display()
    ));
    Ok(())
}

fn read_proof_file(path: &Path) -> Res<Vec<u8>> {
    let f = std::fs::File::open(path)
        .with_context(|| format!("proof file {}", path.display()))
        .map_err(Fail::usage)?;
    let mut buf = Vec::new();
    f.take(MAX_PROOF_FILE as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Fail::usage)?;
    if buf.len() > MAX_PROOF_FILE {
        return Err(Fail::invalid(anyhow!(
            "{}: larger than the {MAX_PROOF_FILE}-byte limit for proof files; not read further",
            path.display()
        )));
    }
    Ok(buf)
}

/// What every bundle relies on, said in text and JSON (issue 10, finding 3).
const RELIES_ON_CUSTODIAN: &str = "a bundle relies on the custodian to have enforced the ledger's rules that it cannot show: one registration per name (and no look-alike of one) and one organisation per key; whoever holds the ledger key could sign a tree holding a second registration of this name. To check them, verify the full ledger (accord verify) or an export (accord verify --file), or watch the ledger for the organisation's name";

const CANNOT_PROVE: &str = "a bundle cannot prove that nothing later withdrew or superseded this entry, or (by a recovery after its checkpoint) made it untrusted, nor that its key history is complete (anyone who passes a bundle on can leave an item out, a recovery among them): check the full ledger (accord verify) or an export (accord verify --file)";

pub(super) fn verify_proof(
    path: &Path,
    key: &str,
    entry: Option<&Path>,
    state: Option<&Path>,
    json: bool,
) -> Res {
    let vkey = vkey(key)?;
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
        let seen = match sd.observe(&vkey, &r.checkpoint, None) {
            Ok(s) => seen_text(&s),
            Err(StateError::NeedConsistency { remembered, .. }) => format!(
                "newer than the checkpoint of size {remembered} verified before, and a tlog-proof carries no consistency proof from it; state unchanged"
            ),
            Err(e) => return Err(state_fail(e)),
        };
        let cp = &r.checkpoint.checkpoint;
        let not_checked = "a tlog-proof carries neither the signatory's key nor the registration: the statement's signature and its key's binding to the organisation are NOT checked (use an accord bundle: accord prove N --out FILE)";
        if json {
            return out_json(&serde_json::json!({
                "ok": true, "type": "tlog-proof", "origin": cp.origin.to_string(),
                "leaf_index": r.entry.index, "tree_size": cp.size, "root": hex::encode(cp.root),
                "kind": r.statement.kind().to_string(), "org": r.statement.iss,
                "statement_id": hex::encode(r.statement.id()),
                "logged_at": accord::time::format(r.entry.logged_at),
                "remembered": seen,
                "proves": [format!("entry {} is included in the tree of size {} signed by the ledger key", r.entry.index, cp.size)],
                "does_not_prove": [not_checked, CANNOT_PROVE],
            }));
        }
        out(&format!(
            "OK: entry {} ({} by {:?}) is included in ledger {} at checkpoint size {} (root {})\ncheckpoint: {}\nnot checked: {}\n",
            r.entry.index,
            r.statement.kind(),
            shown(&r.statement.iss),
            cp.origin,
            cp.size,
            hex::encode(cp.root),
            seen,
            not_checked
        ));
        return Ok(());
    }
    let file = ProofFile::parse(&bytes).map_err(bad)?;
    match file {
        ProofFile::Bundle(b) => {
            let r = b.verify(&vkey, Catalogue::embedded()).map_err(bad)?;
            let seen = sd
                .observe(&vkey, &r.checkpoint, r.consistent_from.as_ref())
                .map_err(state_fail)?;
            let st = &r.statement;
            let cp = &r.checkpoint.checkpoint;
            let what = match &st.payload.body {
                Body::Attestation(a) => format!(
                    "attests {} for {}",
                    a.norms
                        .iter()
                        .map(|n| n.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    shown_join(&a.scope, "; ")
                ),
                Body::Registration(reg) => format!("registers {:?}", shown(&reg.name)),
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
                        st.iss,
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
                struct J {
                    ok: bool,
                    r#type: &'static str,
                    origin: String,
                    leaf_index: u64,
                    tree_size: u64,
                    root: String,
                    kind: String,
                    org: String,
                    statement_id: String,
                    logged_at: String,
                    registration_index: u64,
                    key_history_entries: usize,
                    consistent_from: Option<u64>,
                    untrusted: bool,
                    untrusted_by: Option<U>,
                    remembered: String,
                    proves: Vec<String>,
                    does_not_prove: Vec<&'static str>,
                    relies_on_custodian: &'static str,
                }
                return out_json(&J {
                    ok: true,
                    r#type: "inclusion",
                    origin: cp.origin.to_string(),
                    leaf_index: r.index,
                    tree_size: cp.size,
                    root: hex::encode(cp.root),
                    kind: st.kind().to_string(),
                    org: st.iss.clone(),
                    statement_id: hex::encode(st.id()),
                    logged_at: accord::time::format(r.logged_at),
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
                    proves: vec![
                        format!(
                            "entry {} is included in the tree of size {} signed by the ledger key",
                            r.index, cp.size
                        ),
                        format!(
                            "its statement is signed by a key that spoke for {:?} when it was logged, according to the registration (entry {}) and the {} key-history entries the bundle holds",
                            st.iss, r.registration_index, r.key_history_len
                        ),
                    ],
                    does_not_prove: vec![CANNOT_PROVE],
                    relies_on_custodian: RELIES_ON_CUSTODIAN,
                });
            }
            out(&format!(
                "OK: entry {} ({} by {:?}) is included in ledger {} at checkpoint size {} (root {})\n\
                 signed by a key that spoke for {:?} when it was logged (registration at entry {}, {} key-history entries checked); logged at {}\n{}\ncheckpoint: {}\nnote: {}\nnote: {}\n",
                r.index,
                st.kind(),
                st.iss,
                cp.origin,
                cp.size,
                hex::encode(cp.root),
                st.iss,
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
            Ok(())
        }
        ProofFile::Consistency(c) => {
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
            let seen = match sd.observe(&vkey, &new, Some(&old)) {
                Ok(s) => seen_text(&s),
                Err(StateError::NeedConsistency { remembered, .. }) => format!(
                    "not chained to the checkpoint of size {remembered} verified before; state unchanged"
                ),
                Err(e) => return Err(state_fail(e)),
            };
            if json {
                return out_json(&serde_json::json!({
                    "ok": true, "type": "consistency", "origin": new.checkpoint.origin.to_string(),
                    "from_size": old.checkpoint.size, "to_size": new.checkpoint.size,
                    "from_root": hex::encode(old.checkpoint.root), "to_root": hex::encode(new.checkpoint.root),
                    "remembered": seen,
                }));
            }
            out(&format!(
                "OK: the ledger {} of size {} extends its earlier tree of size {} (nothing rewritten)\ncheckpoint: {}\n",
                new.checkpoint.origin, new.checkpoint.size, old.checkpoint.size, seen
            ));
            Ok(())
        }
    }
}

pub(super) fn export(dir: &Path, out_file: &Path) -> Res {
    let l = open_ro(dir)?;
    let tmp = out_file.with_extension("partial");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))
        .map_err(Fail::usage)?;
    if out_file.exists() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Fail::usage(anyhow!(
            "{} already exists; accord never overwrites it",
            out_file.display()
        )));
    }
    let mut w = BufWriter::new(f);
    let h = l.export(&mut w).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail::ledger(e, 1)
    })?;
    let f = w
        .into_inner()
        .map_err(|e| Fail::usage(anyhow!("writing {}: {e}", tmp.display())))?;
    f.sync_all().map_err(Fail::usage)?;
    std::fs::rename(&tmp, out_file).map_err(Fail::usage)?;
    out(&format!(
        "exported {} entries of {} (checkpoint size {}) to {}\n",
        h.size,
        h.origin,
        h.size,
        out_file.display()
    ));
    Ok(())
}

fn progress_fn(json: bool) -> impl Fn(u64, u64) + Sync {
    let show = !json && std::io::stderr().is_terminal();
    move |d, t| {
        if show {
            eprint!("\rverifying: {d}/{t} entries");
        }
    }
}

/// How an input path is named in messages: `-` is standard input.
pub(super) fn input_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "standard input".into()
    } else {
        super::display::shown(&path.display().to_string()).into_owned()
    }
}

/// Opens an input file, or standard input for `-`, buffered; read once, front to back.
pub(super) fn open_input(path: &Path, what: &str) -> Res<Box<dyn std::io::Read>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(path)
        .with_context(|| format!("{what} {}", path.display()))
        .map_err(Fail::usage)?;
    Ok(Box::new(BufReader::new(f)))
}

pub(super) fn verify_file(path: &Path, key: &str, state: Option<&Path>, json: bool) -> Res {
    let vkey = vkey(key)?;
    let sd = state_dir(state);
    let remembered = sd.remembered(&vkey).map_err(state_fail)?;
    let mut input = open_input(path, "export file")?;
    let p = progress_fn(json);
    // One pass over the input, whatever it is (a file, a pipe, standard input): everything
    // reported, the untrusted entries included, comes from the bytes that were verified.
    let (report, _totals, root_at) = accord::export::verify_export(
        &mut input,
        &vkey,
        Catalogue::embedded(),
        remembered.as_ref().map(|r| r.checkpoint.size),
        Some(&p),
    )
    .map_err(|e| fail::ledger(e.into(), 1).context(format!("{}: verification FAILED", input_name(path))))?;
    let seen = sd
        .check_and_remember(&vkey, &report.checkpoint, |s| {
            if Some(s) == remembered.as_ref().map(|r| r.checkpoint.size) {
                root_at
            } else {
                None
            }
        })
        .map_err(state_fail)?;
    let cp = &report.checkpoint.checkpoint;
    if json {
        return out_json(&serde_json::json!({
            "ok": true, "origin": cp.origin.to_string(), "entries": report.entries, "root": hex::encode(cp.root),
            "organisations": report.organisations, "registrations": report.by_kind[0],
            "attestations": report.by_kind[1], "withdrawals": report.by_kind[2],
            "live_attestations": report.live_at(accord::clock::now()), "remembered": seen_text(&seen),
            "rotations": report.by_kind[3], "revocations": report.by_kind[4], "recoveries": report.by_kind[5],
            "untrusted": report.untrusted,
        }));
    }
    out(&format!(
        "OK: export {} of ledger {} verified: {} entries ({}); {} organisations, {} pledges in force\nroot {} matches the signed checkpoint of size {}\n{}\n",
        input_name(path),
        cp.origin,
        report.entries,
        super::commands::kinds_summary(&report.by_kind),
        report.organisations,
        report.live_at(accord::clock::now()),
        hex::encode(cp.root),
        cp.size,
        seen_text(&seen)
    ));
    super::commands::print_untrusted(&report.untrusted);
    Ok(())
}

pub(super) fn import(dir: &Path, file: &Path, key: &str) -> Res {
    let vkey = vkey(key)?;
    let p = progress_fn(false);
    let mut input = open_input(file, "export file")?;
    let r = Ledger::import(dir, &mut input, &vkey, Catalogue::embedded(), Some(&p)).map_err(|e| {
        let code = match &e {
            LedgerError::BadArgument(_) => 2,
            _ => 1,
        };
        fail::ledger(e, code).context(format!(
            "import of {} FAILED (the mirror is unchanged)",
            input_name(file)
        ))
    })?;
    out(&format!(
        "imported {} into the read-only mirror at {}: now {} entries (was {})\n",
        input_name(file),
        dir.display(),
        r.report.entries,
        r.from
    ));
    Ok(())
}
