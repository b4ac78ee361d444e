//! Proofs and copies: `prove`, `consistency`, `export`, `import`.

use std::path::Path;

use accord::ledger::{Ledger, LedgerError};
use accord::norms::Catalogue;
use accord::proofs::ProofFile;
use accord::report::{self, NotInForce};

use super::context::*;
use super::fail::{self, Fail};
use super::terminal::Progress;
use super::witnessed::{self, WitnessArgs};

pub(super) fn prove(
    dir: &Path,
    index: u64,
    out_file: &Path,
    at_size: Option<u64>,
    since: Option<u64>,
    format: ProofFormat,
    force: bool,
) -> Res {
    let l = open_ro(dir)?;
    let b = l.prove(index, at_size, since).map_err(no_checkpoint)?;
    let size = b.tree_size;
    let latest = l.size().map_err(|e| fail::ledger(e, 1))?;
    if at_size.is_none() && size < latest {
        super::terminal::note!(
            "note: at the newest checkpoint the ledger stores witnesses' cosignatures for (size {size}; the latest is {latest}): --at-size {latest} proves it at the latest, not yet cosigned"
        );
    }
    let file = ProofFile::Bundle(b);
    let bytes = match format {
        ProofFormat::Cbor => file.to_cbor().map_err(Fail::invalid)?,
        ProofFormat::Json => file.to_json().map_err(Fail::invalid)?.into_bytes(),
        ProofFormat::TlogProof => match &file {
            ProofFile::Bundle(b) => b.to_tlog_proof().to_text().into_bytes(),
            ProofFile::Consistency(_) => Vec::new(),
        },
    };
    // A proof of an entry no longer in force proves that it was pledged, not that it holds:
    // say so before anyone passes the proof on as if it did (issue 12).
    let now = accord::clock::now();
    for why in read(&l, |r| report::not_in_force(r, index, now))? {
        let why = match why {
            NotInForce::Withdrawn { by } => format!("was withdrawn by entry {by}"),
            NotInForce::Superseded { by } => format!("was superseded by entry {by}"),
            NotInForce::Untrusted { by } => format!(
                "is untrusted (the recovery at entry {by} reports its key compromised when it was logged)"
            ),
            NotInForce::Expired { at } => format!("expired at {at}"),
        };
        super::terminal::say!(
            "warning: entry {index} {why}: a proof of it proves it was pledged, not that it is in force"
        );
    }
    write_out(out_file, &bytes, force, format == ProofFormat::Cbor)?;
    let vkey = l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?;
    report_line(
        out_file,
        &format!(
            "wrote a proof of entry {index} at checkpoint size {size} to {}\ncheck it with: {}\n",
            output_name(out_file),
            check_command("verify-proof", out_file, &vkey)
        ),
    );
    Ok(())
}

/// A ledger error from proving; one naming a size with no checkpoint says where to find those
/// that have one.
fn no_checkpoint(e: LedgerError) -> Fail {
    let hint = matches!(e, LedgerError::NoCheckpoint { .. });
    let f = fail::ledger(e, 1);
    if hint {
        f.hint("accord checkpoints lists the checkpoints this ledger holds")
    } else {
        f
    }
}

/// The command that checks a file just written (`accord verify-proof FILE --ledger-key VKEY`),
/// reading it from standard input when it went to standard output.
fn check_command(command: &str, out_file: &Path, vkey: &str) -> String {
    let quoted = |s: &str| {
        if !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./+=:@,".contains(&b))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    if is_stdout(out_file) {
        format!("accord {command} - --ledger-key {} < FILE", quoted(vkey))
    } else {
        format!(
            "accord {command} {} --ledger-key {}",
            quoted(&output_name(out_file)),
            quoted(vkey)
        )
    }
}

pub(super) fn consistency(
    dir: &Path,
    from: u64,
    to: Option<u64>,
    out_file: &Path,
    json: bool,
    force: bool,
) -> Res {
    let l = open_ro(dir)?;
    let c = l.consistency(from, to).map_err(no_checkpoint)?;
    let vkey = l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?;
    let to_size = accord::checkpoint::VerifierKey::parse(&vkey)
        .and_then(|k| accord::checkpoint::SignedCheckpoint::open(&c.new, &k))
        .map_err(|e| {
            Fail::invalid(e).context(format!(
                "the ledger's checkpoint of size {}",
                to.map_or("latest".into(), |t| t.to_string())
            ))
        })?
        .checkpoint
        .size;
    let file = ProofFile::Consistency(c);
    let bytes = if json {
        file.to_json().map_err(Fail::invalid)?.into_bytes()
    } else {
        file.to_cbor().map_err(Fail::invalid)?
    };
    write_out(out_file, &bytes, force, !json)?;
    report_line(
        out_file,
        &format!(
            "wrote a consistency proof from checkpoint size {from} to size {to_size} to {}\ncheck it with: {}\n",
            output_name(out_file),
            check_command("verify-proof", out_file, &vkey)
        ),
    );
    Ok(())
}

pub(super) fn export(dir: &Path, out_file: &Path, force: bool, witness: &WitnessArgs) -> Res {
    let l = open_ro(dir)?;
    // With a policy: up to the newest checkpoint whose stored cosignatures meet its quorum
    // (FORMAT §16), so that the export verifies as witnessed under that policy.
    let at = match witness.witness_policy {
        None => None,
        Some(_) => {
            let vkey = vkey(&l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?)?;
            let Some(required) = witness.requirement(&vkey)? else {
                return Ok(());
            };
            let now = witnessed::now();
            let newest = l
                .own_cosigned()
                .map_err(|e| fail::ledger(e, 1))?
                .into_iter()
                .rev()
                .find(|(size, note)| required.judge(note, *size, now).is_ok_and(|j| j.quorum_met));
            match newest {
                Some(at) => Some(at),
                None => {
                    return Err(Fail::not_established(anyhow::anyhow!(
                        "no checkpoint of this ledger has stored cosignatures that meet the quorum {} of {}",
                        required.policy.describe_quorum(),
                        input_name(witness.witness_policy.as_deref().unwrap_or(Path::new("-")))
                    ))
                    .context("export: nothing written")
                    .hint("publish with --witness-policy (or run serve --witness-policy) so that witnesses cosign a checkpoint first"))
                }
            }
        }
    };
    let bar = Progress::start("exporting", true);
    let h = write_out_with(out_file, force, true, |w| {
        let mut w = w;
        l.export_at(&mut w, at.clone(), Some(&|d, t| bar.update(d, t)))
            .map_err(|e| fail::ledger(e, 1))
    });
    drop(bar);
    let h = h?;
    let vkey = l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?;
    let check = check_command("verify --file", out_file, &vkey);
    report_line(
        out_file,
        &format!(
            "exported {} entries of {} (checkpoint size {}) to {}\ncheck it with: {check}\n",
            h.size,
            h.origin,
            h.size,
            output_name(out_file)
        ),
    );
    Ok(())
}

pub(super) fn import(dir: &Path, file: &Path, key: &str, witness: &WitnessArgs) -> Res {
    let vkey = vkey(key)?;
    let required = witness.requirement(&vkey)?;
    let mut input = open_input(file, "export file")?;
    let bar = Progress::start("importing", true);
    let mut witnessing = None;
    // Verified data is committed whether or not it is witnessed (the command then exits 3); a
    // forged cosignature of a policy witness on the export's checkpoint stops the import.
    let r = Ledger::import_checked(
        dir,
        &mut input,
        accord::ledger::ImportSource::Export,
        &vkey,
        Catalogue::embedded(),
        Some(&|d, t| bar.update(d, t)),
        |verified, _| {
            witnessing = required
                .as_ref()
                .map(|r| r.single(&verified.note, verified.checkpoint.size, witnessed::now()))
                .transpose()?;
            Ok::<(), LedgerError>(())
        },
    );
    drop(bar);
    let r = r.map_err(|e| {
        let code = match &e {
            LedgerError::BadArgument(_) | LedgerError::Witness(_) => 2,
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
    witnessed::keep_in_mirror(dir, witnessing.as_ref(), &r.report.checkpoint.note);
    witnessed::print(witnessing.as_ref());
    witnessed::exit(witnessing.as_ref(), &input_name(file))
}

/// Proof bundle formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofFormat {
    /// Deterministic CBOR (the default).
    Cbor,
    /// JSON.
    Json,
    /// C2SP tlog-proof text (leaves out the entry and the registration).
    TlogProof,
}
