//! What every command shares: opening ledgers (waiting for another process to finish), loading
//! keys, state directories, inputs (`-` is standard input) and output.

use std::io::{BufReader, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use serde::Serialize;

use accord::checkpoint::{LedgerKey, VerifierKey};
use accord::keyfile;
use accord::keys::SecretKey;
use accord::ledger::{Ledger, LedgerError};
use accord::report::{self};
use accord::state::{Seen, StateDir, StateError};
use accord::store::ReadTables;

use super::fail::{self, Fail};
use super::terminal::note;

pub(super) type Res<T = ()> = Result<T, Fail>;

/// Writes to stdout; a closed pipe is not a failure (the reader has what it wanted).
pub(super) fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

pub(super) fn out_json<T: Serialize>(v: &T) -> Res {
    let s = serde_json::to_string_pretty(v).map_err(Fail::usage)?;
    out(&format!("{s}\n"));
    Ok(())
}

pub(super) fn config_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("accord");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".config/accord");
    }
    PathBuf::from(".accord-config")
}

/// How long a command waits for another accord process to release the ledger before it
/// reports "in use" (ACCORD_LOCK_WAIT seconds, default 10; 0 fails at once).
pub(super) fn lock_wait() -> std::time::Duration {
    let secs = std::env::var("ACCORD_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(10);
    std::time::Duration::from_secs(secs.min(3600))
}

/// Opens a ledger, waiting its turn while another process holds it.
pub(super) fn open_waiting(dir: &Path, open: impl Fn(&Path) -> Result<Ledger, LedgerError>) -> Res<Ledger> {
    let deadline = std::time::Instant::now() + lock_wait();
    let mut told = false;
    loop {
        match open(dir) {
            Err(LedgerError::Store(accord::store::StoreError::InUse(_)))
                if std::time::Instant::now() < deadline =>
            {
                if !told {
                    note!("waiting for another accord process to release the ledger...");
                    told = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            r => return r.map_err(|e| fail::ledger(e, 2)),
        }
    }
}

pub(super) fn open_rw(dir: &Path) -> Res<Ledger> {
    open_waiting(dir, Ledger::open)
}

pub(super) fn open_ro(dir: &Path) -> Res<Ledger> {
    open_waiting(dir, Ledger::open_read_only)
}

pub(super) fn read<T>(l: &Ledger, f: impl FnOnce(&ReadTables) -> Result<T, LedgerError>) -> Res<T> {
    l.store().read(f).map_err(|e| fail::ledger(e, 1))
}

pub(super) fn load_public_key(path: &Path, what: &str) -> Res<accord::keys::PublicKey> {
    keyfile::read_public_key(path).map_err(|e| Fail::usage(e).context(what.to_string()))
}

pub(super) fn load_signing_key(path: &Path) -> Res<SecretKey> {
    let ask = || -> Option<keyfile::Passphrase> {
        if let Ok(p) = std::env::var("ACCORD_PASSPHRASE") {
            return Some(keyfile::Passphrase::from(p));
        }
        if !std::io::stdin().is_terminal() {
            return None;
        }
        rpassword::prompt_password(format!("passphrase for {}: ", path.display()))
            .ok()
            .map(keyfile::Passphrase::from)
    };
    keyfile::read_secret_key_with(path, &ask).map_err(|e| Fail::usage(e).context("--key"))
}

/// A new passphrase: ACCORD_PASSPHRASE, or asked twice at the terminal.
pub(super) fn new_passphrase() -> Res<keyfile::Passphrase> {
    if let Ok(p) = std::env::var("ACCORD_PASSPHRASE") {
        if p.is_empty() {
            return Err(Fail::usage(anyhow!("ACCORD_PASSPHRASE is empty")));
        }
        return Ok(keyfile::Passphrase::from(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Fail::usage(anyhow!(
            "--encrypt needs a passphrase: run in a terminal or set ACCORD_PASSPHRASE"
        )));
    }
    let a = zeroize::Zeroizing::new(rpassword::prompt_password("new passphrase: ").map_err(Fail::usage)?);
    let b = zeroize::Zeroizing::new(rpassword::prompt_password("again: ").map_err(Fail::usage)?);
    if a.is_empty() || *a != *b {
        return Err(Fail::usage(anyhow!("the passphrases are empty or differ")));
    }
    Ok(keyfile::Passphrase::from(a.to_string()))
}

pub(super) fn load_ledger_key(l: &Ledger) -> Res<LedgerKey> {
    if l.is_mirror().map_err(|e| fail::ledger(e, 1))? {
        return Err(Fail::usage(anyhow!(
            "this ledger is a read-only mirror made by `accord import`; append at the custodian's ledger"
        )));
    }
    let path = PathBuf::from(l.key_file().map_err(|e| fail::ledger(e, 1))?);
    let mut text = zeroize::Zeroizing::new(String::new());
    let f = std::fs::File::open(&path)
        .with_context(|| format!("the ledger's secret key {}", path.display()))
        .map_err(|e| {
            Fail::usage(e).hint("appending needs the key made by `accord init`; only the custodian holds it")
        })?;
    f.take(4096)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Fail::usage)?;
    keyfile::check_private_mode(&path).map_err(Fail::usage)?;
    LedgerKey::from_skey(&text)
        .with_context(|| format!("the ledger's secret key {}", path.display()))
        .map_err(Fail::usage)
}

pub(super) fn org_of_key(l: &Ledger, sk: &SecretKey) -> Res<String> {
    let kid = sk.public().kid();
    match read(l, |r| Ok(r.key(&kid)?))? {
        Some(rec) => Ok(rec.org),
        None => Err(Fail::usage(anyhow!(
            "key {} is not registered in this ledger",
            hex::encode(kid)
        ))
        .hint("register the organisation first: accord register --key FILE --org NAME")),
    }
}

/// Index or hex statement id → entry index.
pub(super) fn resolve_entry(l: &Ledger, s: &str) -> Res<u64> {
    if let Ok(i) = s.parse::<u64>() {
        let size = l.size().map_err(|e| fail::ledger(e, 1))?;
        if i >= size {
            return Err(Fail::usage(anyhow!(
                "no entry {i}: the ledger has {size} entries (0..{size})"
            )));
        }
        return Ok(i);
    }
    let id = parse_id(s)?;
    read(l, |r| Ok(r.statement_index(&id)?))?
        .ok_or_else(|| Fail::usage(anyhow!("no entry has statement id {s}")))
}

pub(super) fn parse_id(s: &str) -> Res<[u8; 32]> {
    let bad = || {
        Fail::usage(anyhow!(
            "{s:?} is neither an entry index nor a 64-hex-digit statement id"
        ))
    };
    if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    let v = hex::decode(s).map_err(|_| bad())?;
    v.try_into().map_err(|_| bad())
}

pub(super) fn entry_statement_id(l: &Ledger, index: u64) -> Res<[u8; 32]> {
    read(l, |r| {
        let b = r.entry(index)?.unwrap_or_default();
        Ok(report::decode_stored(index, &b)?.1.id())
    })
}

pub(super) fn unicode_nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    s.nfc().collect()
}

pub(super) fn seen_text(s: &Seen) -> String {
    match s {
        Seen::Older { remembered } => format!(
            "older than the checkpoint of size {remembered} verified before (not checked against it; state unchanged)"
        ),
        Seen::First => "first checkpoint remembered for this origin".into(),
        Seen::Same => "same checkpoint as last verified".into(),
        Seen::Extends { from } => format!("consistent with the checkpoint of size {from} verified before"),
    }
}

pub(super) fn vkey(s: &str) -> Res<VerifierKey> {
    VerifierKey::parse(s.trim()).map_err(|e| Fail::usage(e).context("--ledger-key"))
}

pub(super) fn state_dir(state: Option<&Path>) -> StateDir {
    StateDir::new(state.map(Path::to_path_buf).unwrap_or_else(StateDir::default_dir))
}

pub(super) fn state_fail(e: StateError) -> Fail {
    match e {
        StateError::Io { .. } | StateError::NotPrivate { .. } => Fail::usage(e),
        other => Fail::invalid(other).context("verification FAILED"),
    }
}

pub(super) fn write_out(path: &Path, bytes: &[u8]) -> Res {
    keyfile::write_new_file(path, bytes, 0o644).map_err(Fail::usage)
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
