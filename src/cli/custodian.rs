//! The custodian's own commands: creating a ledger and its key, upgrading its store.

use std::path::Path;

use anyhow::anyhow;

use accord::checkpoint::{LedgerKey, Origin};
use accord::keyfile;
use accord::ledger::Ledger;

use super::context::*;
use super::fail::{self, Fail};
use super::terminal::note;

pub(super) fn init(dir: &Path, origin: &str, key_file: Option<&Path>) -> Res {
    let origin = Origin::new(origin).map_err(|e| Fail::usage(e).context("--origin"))?;
    if accord::store::Store::db_path(dir).exists() {
        return Err(Fail::usage(anyhow!(
            "a ledger already exists at {}",
            dir.display()
        )));
    }
    let key_file = match key_file {
        Some(p) => p.to_path_buf(),
        None => {
            let safe: String = origin
                .as_str()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            config_dir().join("ledgers").join(format!("{safe}.key"))
        }
    };
    // DESIGN decision 5: the ledger key lives outside the ledger's data, so that a copy of the
    // data cannot sign.
    let inside = match (std::path::absolute(&key_file), std::path::absolute(dir)) {
        (Ok(k), Ok(d)) => k.starts_with(&d),
        _ => false,
    };
    if inside {
        return Err(Fail::usage(anyhow!(
            "--key-file {} is inside the ledger directory {}; the ledger key must live outside the ledger's data, so that a copy of the data cannot sign",
            key_file.display(),
            dir.display()
        )));
    }
    if let Some(parent) = key_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        keyfile::create_private_dir(parent).map_err(Fail::usage)?;
    }
    let key = LedgerKey::generate(&origin);
    keyfile::write_new_file(&key_file, key.to_skey().as_bytes(), 0o600).map_err(Fail::usage)?;
    let abs = std::fs::canonicalize(&key_file).unwrap_or(key_file.clone());
    Ledger::init(dir, &key, &abs).map_err(|e| fail::ledger(e, 2))?;
    note!("created ledger {} at {}", origin, dir.display());
    note!(
        "ledger secret key: {} (mode 0600; keep it outside the ledger's data)",
        abs.display()
    );
    note!("ledger public key (publish it; verifiers check against it):");
    out(&format!("{}\n", key.verifier_key()));
    Ok(())
}

/// `accord upgrade`.
pub(super) fn upgrade(dir: &Path) -> Res {
    let n = Ledger::upgrade(dir).map_err(|e| fail::ledger(e, 1))?;
    match n {
        Some(n) => out(&format!(
            "upgraded the ledger at {}: derived tables rebuilt from its {n} entries; run `accord verify` to check them\n",
            dir.display()
        )),
        None => out(&format!("the ledger at {} is already up to date\n", dir.display())),
    }
    Ok(())
}
