//! Proofs and copies: `prove`, `consistency`, `export`, `import`.

use std::io::BufWriter;
use std::path::Path;

use anyhow::{anyhow, Context as _};

use accord::ledger::{Ledger, LedgerError};
use accord::norms::Catalogue;
use accord::proofs::ProofFile;

use super::context::*;
use super::fail::{self, Fail};
use super::terminal::Progress;

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
    let bar = Progress::start("exporting", true);
    let h = l.export_with_progress(&mut w, Some(&|d, t| bar.update(d, t)));
    drop(bar);
    let h = h.map_err(|e| {
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

pub(super) fn import(dir: &Path, file: &Path, key: &str) -> Res {
    let vkey = vkey(key)?;
    let mut input = open_input(file, "export file")?;
    let bar = Progress::start("importing", true);
    let r = Ledger::import(
        dir,
        &mut input,
        &vkey,
        Catalogue::embedded(),
        Some(&|d, t| bar.update(d, t)),
    );
    drop(bar);
    let r = r.map_err(|e| {
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
