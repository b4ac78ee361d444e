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

/// How long one request to a host may take: ACCORD_HTTP_TIMEOUT seconds (default 30).
pub(super) fn http_timeout() -> std::time::Duration {
    std::env::var("ACCORD_HTTP_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(accord::remote::REQUEST_TIMEOUT, |s| {
            std::time::Duration::from_secs(s.min(3600))
        })
}

/// Opens a ledger, waiting its turn while another process holds it; not while `accord serve`
/// does, which holds it for as long as it runs (the error then says to go through it).
pub(super) fn open_waiting(dir: &Path, open: impl Fn(&Path) -> Result<Ledger, LedgerError>) -> Res<Ledger> {
    let deadline = std::time::Instant::now() + lock_wait();
    let mut told = false;
    loop {
        match open(dir) {
            Err(LedgerError::Store(accord::store::StoreError::InUse(_, who)))
                if std::time::Instant::now() < deadline && !fail::held_by_server(&who) =>
            {
                if !told {
                    note!("waiting for another accord process{who} to release the ledger...");
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

/// A key file that may hold a public or a secret key (`--new`).
pub(super) enum AnyKey {
    /// A public key file.
    Public(accord::keys::PublicKey),
    /// A secret key file (its key can sign here).
    Secret(SecretKey),
}

impl AnyKey {
    pub(super) fn public(&self) -> accord::keys::PublicKey {
        match self {
            AnyKey::Public(k) => *k,
            AnyKey::Secret(k) => k.public(),
        }
    }
}

/// Reads a key file that may be public (any form [`load_public_key`] reads) or secret.
pub(super) fn load_any_key(path: &Path, what: &str) -> Res<AnyKey> {
    let public_err = match keyfile::read_public_key(path) {
        Ok(k) => return Ok(AnyKey::Public(k)),
        Err(e) => e,
    };
    match load_secret_key(path, what) {
        Ok(k) => Ok(AnyKey::Secret(k)),
        // Neither form: say what is wrong with it as a public key.
        Err(f)
            if matches!(
                f.error.downcast_ref::<accord::keys::KeyError>(),
                Some(accord::keys::KeyError::Format { .. })
            ) =>
        {
            Err(Fail::usage(public_err).context(what.to_string()))
        }
        Err(f) => Err(f),
    }
}

pub(super) fn load_signing_key(path: &Path) -> Res<SecretKey> {
    load_secret_key(path, "--key")
}

/// Reads the secret key file given to option `what` (asking for its passphrase if encrypted).
pub(super) fn load_secret_key(path: &Path, what: &str) -> Res<SecretKey> {
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
    keyfile::read_secret_key_with(path, &ask).map_err(|e| Fail::usage(e).context(what.to_string()))
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

/// `--ledger-key-file`: where the ledger's secret key is, for the commands that append.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LedgerKeyFile {
    /// The ledger's secret key file, if it is no longer where `accord init` wrote it (by
    /// default the path init recorded in the ledger is used).
    #[arg(long = "ledger-key-file", env = "ACCORD_LEDGER_KEY_FILE", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

const LEDGER_KEY_HINT: &str =
    "if the key moved, give its place with --ledger-key-file FILE (or ACCORD_LEDGER_KEY_FILE=FILE); \
     appending needs the key made by `accord init`, which only the custodian holds";

/// The ledger's secret key, to sign the checkpoint of an append: from `--ledger-key-file`
/// when given, else from where `accord init` wrote it; it must be this ledger's key.
pub(super) fn load_ledger_key(l: &Ledger, given: &LedgerKeyFile) -> Res<LedgerKey> {
    if l.is_mirror().map_err(|e| fail::ledger(e, 1))? {
        return Err(Fail::usage(anyhow!(
            "this ledger is a read-only mirror made by `accord import`; append at the custodian's ledger"
        )));
    }
    let (path, what) = match &given.file {
        Some(p) => (p.clone(), "--ledger-key-file"),
        None => (
            PathBuf::from(l.key_file().map_err(|e| fail::ledger(e, 1))?),
            "the ledger's secret key",
        ),
    };
    let mut text = zeroize::Zeroizing::new(String::new());
    let f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && given.file.is_none() => {
            return Err(Fail::usage(anyhow!(
                "the ledger's secret key is not at {}, where `accord init` wrote it",
                path.display()
            ))
            .hint(LEDGER_KEY_HINT));
        }
        Err(e) => {
            return Err(
                Fail::usage(anyhow::Error::new(e).context(format!("{what} {}", path.display())))
                    .hint(LEDGER_KEY_HINT),
            )
        }
    };
    f.take(4096)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Fail::usage)?;
    keyfile::check_private_mode(&path).map_err(Fail::usage)?;
    let key = LedgerKey::from_skey(&text)
        .with_context(|| format!("{what} {}", path.display()))
        .map_err(Fail::usage)?;
    let recorded = l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?;
    let vkey = key.verifier_key().to_string();
    if vkey != recorded {
        return Err(Fail::usage(anyhow!(
            "{what} {} is the key of ledger {vkey}, not of this one ({recorded})",
            path.display()
        ))
        .hint(LEDGER_KEY_HINT));
    }
    Ok(key)
}

/// "entries 0 to 4", "entry 0 only", "no entries": a ledger's entries as people write them.
pub(super) fn entries_text(size: u64) -> String {
    match size {
        0 => "no entries".into(),
        1 => "1 entry (entry 0 only)".into(),
        n => format!("{n} entries (0 to {})", n - 1),
    }
}

/// Index or hex statement id → entry index.
pub(super) fn resolve_entry(l: &Ledger, s: &str) -> Res<u64> {
    if let Ok(i) = s.parse::<u64>() {
        let size = l.size().map_err(|e| fail::ledger(e, 1))?;
        if i >= size {
            return Err(Fail::usage(anyhow!(
                "no entry {i}: the ledger has {}",
                entries_text(size)
            )));
        }
        return Ok(i);
    }
    let id = parse_id(s)?;
    read(l, |r| Ok(r.statement_index(&id)?))?
        .ok_or_else(|| Fail::usage(anyhow!("no entry has statement id {s}")))
}

/// Whether `s` is written as an entry index (decimal digits) rather than a statement id.
pub(super) fn is_index(s: &str) -> bool {
    !s.is_empty() && s.len() < 64 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The ledger at `dir` read-only, or `None` when there is no ledger there.
pub(super) fn open_ro_if_any(dir: &Path) -> Res<Option<Ledger>> {
    match open_ro(dir) {
        Ok(l) => Ok(Some(l)),
        Err(f)
            if matches!(
                f.error.downcast_ref::<LedgerError>(),
                Some(LedgerError::Store(accord::store::StoreError::NotFound(_)))
            ) =>
        {
            Ok(None)
        }
        Err(f) => Err(f),
    }
}

/// The shortest key-id prefix accepted (accord prints 16 hex digits).
pub(super) const MIN_KID_PREFIX: usize = 16;

/// A key id, or a prefix of one (at least [`MIN_KID_PREFIX`] hex digits), checked; returned in
/// lower case.
pub(super) fn kid_prefix(flag: &str, s: &str) -> Res<String> {
    let p = s.to_ascii_lowercase();
    if p.len() > 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Fail::usage(anyhow!(
            "{flag} {:?} is not a key id (hex digits, as accord prints them)",
            super::display::shown(s)
        )));
    }
    if p.len() < MIN_KID_PREFIX {
        return Err(Fail::usage(anyhow!(
            "{flag} {p}: give at least {MIN_KID_PREFIX} hex digits of the key id (accord prints 16)"
        )));
    }
    Ok(p)
}

/// Resolves a key-id prefix among `candidates` (the organisation's keys): exactly one must
/// start with it.
pub(super) fn resolve_kid(flag: &str, prefix: &str, org: &str, candidates: &[[u8; 32]]) -> Res<[u8; 32]> {
    let mut found: Vec<[u8; 32]> = candidates
        .iter()
        .copied()
        .filter(|k| hex::encode(k).starts_with(prefix))
        .collect();
    found.sort();
    found.dedup();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Fail::usage(anyhow!(
            "{flag} {prefix}: no key of {:?} has a key id starting so",
            super::display::shown(org)
        ))
        .hint(format!(
            "`accord history --org {:?}` lists its keys",
            super::display::shown(org)
        ))),
        many => Err(Fail::usage(anyhow!(
            "{flag} {prefix} is ambiguous: {} keys of {:?} start so ({}); give more digits",
            many.len(),
            super::display::shown(org),
            many.iter().map(hex::encode).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Every key id the ledger ever bound to `org` (current and ended).
pub(super) fn keys_of_org(l: &Ledger, org: &str) -> Res<Vec<[u8; 32]>> {
    Ok(read(l, |r| Ok(r.keys_of(org)?))?
        .into_iter()
        .map(|(kid, _)| kid)
        .collect())
}

/// `--domain` as the format wants it: DNS names are case-insensitive, so it is lower-cased
/// (ASCII only: anything else is refused by the format's rules anyway).
pub(super) fn domain_arg(d: &str) -> String {
    d.to_ascii_lowercase()
}

/// `--contact` with its domain (after the last `@`) lower-cased; the local part is kept.
pub(super) fn contact_arg(c: &str) -> String {
    match c.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => c.to_string(),
    }
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

pub(super) fn unicode_nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    s.nfc().collect()
}

pub(super) fn seen_text(s: &Seen) -> String {
    match s {
        Seen::Older { remembered } => older_text(*remembered),
        Seen::First => {
            "first checkpoint remembered for this ledger key (nothing earlier to compare with)".into()
        }
        Seen::Same => "same checkpoint as last verified".into(),
        Seen::Extends { from } => format!("consistent with the checkpoint of size {from} verified before"),
        Seen::Unlinked { remembered } => unlinked_text(*remembered),
    }
}

/// What a file newer than the remembered checkpoint, with no consistency proof from it, is.
fn unlinked_text(remembered: u64) -> String {
    format!(
        "valid, but newer than the checkpoint of size {remembered} remembered and not linked to it (no consistency proof from size {remembered}); not checked against it, and the remembered checkpoint stays"
    )
}

/// What a file older than the remembered checkpoint is: a snapshot, valid, not checked.
pub(super) fn older_text(remembered: u64) -> String {
    format!(
        "valid, but older than the checkpoint of size {remembered} remembered; consistency not checked (a snapshot taken earlier is not proof of a rollback; the remembered checkpoint stays)"
    )
}

/// The size of the checkpoint remembered before this run, as `seen` tells it (`current` is
/// the size just verified).
pub(super) fn remembered_size(seen: &Seen, current: u64) -> Option<u64> {
    match seen {
        Seen::First => None,
        Seen::Same => Some(current),
        Seen::Extends { from } => Some(*from),
        Seen::Older { remembered } | Seen::Unlinked { remembered } => Some(*remembered),
    }
}

/// Whether `seen` leaves trust not established: a file older than the remembered
/// checkpoint, or newer and not linked to it.
pub(super) fn not_established(seen: &Seen) -> bool {
    matches!(seen, Seen::Older { .. } | Seen::Unlinked { .. })
}

/// Exit 3 for a file older than the remembered checkpoint, or newer without a consistency
/// proof from it (its report is printed already); `Ok` otherwise.
pub(super) fn older_exit(seen: &Seen, what: &str) -> Res {
    match seen {
        Seen::Older { remembered } => Err(Fail::not_established(anyhow!(
            "{what}: valid, but older than the checkpoint of size {remembered} remembered; consistency not checked"
        ))
        .hint("an older snapshot is not proof of a rollback; exit 3 means the data is valid but trust is not established: check the newest file, or the ledger itself")),
        Seen::Unlinked { remembered } => Err(Fail::not_established(anyhow!(
            "{what}: valid, but newer than the checkpoint of size {remembered} remembered and not linked to it; state unchanged"
        ))
        .hint(format!("exit 3 means the data is valid but trust is not established: ask the custodian for a proof from size {remembered} (`accord prove N --since {remembered}` or `accord consistency --from {remembered}`), or verify the ledger or an export"))),
        _ => Ok(()),
    }
}

pub(super) fn vkey(s: &str) -> Res<VerifierKey> {
    VerifierKey::parse(s.trim()).map_err(|e| Fail::usage(e).context("--ledger-key"))
}

pub(super) fn state_dir(state: Option<&Path>) -> StateDir {
    StateDir::new(state.map(Path::to_path_buf).unwrap_or_else(StateDir::default_dir))
}

/// The replay state to resume a verification from, if one is remembered and usable for a
/// source of `size` entries (none with `--full`, or for a source smaller than it: that one is
/// verified whole, and judged against the remembered checkpoint as always).
pub(super) fn resume_state(
    sd: &StateDir,
    vkey: &accord::checkpoint::VerifierKey,
    size: u64,
    full: bool,
) -> Res<Option<accord::replay::Snapshot>> {
    if full {
        return Ok(None);
    }
    let remembered = sd.remembered(vkey).map_err(state_fail)?;
    Ok(sd
        .replay_state(vkey, remembered.as_ref())
        .map_err(state_fail)?
        .filter(|s| s.size() <= size))
}

/// What an incremental verification says of itself, for people.
pub(super) fn incremental_text(from: Option<u64>, what_before: &str) -> String {
    match from {
        Some(m) => format!(
            "incremental: the rules and signatures of entries 0 to {} were checked by an earlier run (remembered replay state); {what_before}; every later entry was judged in full (--full checks everything again)\n",
            m.saturating_sub(1)
        ),
        None => String::new(),
    }
}

pub(super) fn state_fail(e: StateError) -> Fail {
    match e {
        StateError::Io { .. } | StateError::NotPrivate { .. } | StateError::BadReplayState { .. } => {
            Fail::usage(e)
        }
        other => Fail::invalid(other).context("verification FAILED"),
    }
}

/// Whether an output path is `-`: standard output.
pub(super) fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How an output path is named in messages: `-` is standard output.
pub(super) fn output_name(path: &Path) -> String {
    if is_stdout(path) {
        "standard output".into()
    } else {
        super::display::shown(&path.display().to_string()).into_owned()
    }
}

/// Where the report of a command that writes a file goes: standard error when the file itself
/// goes to standard output, else standard output.
pub(super) fn report_line(out_path: &Path, text: &str) {
    if is_stdout(out_path) {
        super::terminal::write_stderr(format_args!("{text}"));
    } else {
        out(text);
    }
}

/// Writes `bytes` to `path` ([`write_out_with`]).
pub(super) fn write_out(path: &Path, bytes: &[u8], force: bool, binary: bool) -> Res {
    write_out_with(path, force, binary, |w| {
        w.write_all(bytes).map_err(|e| Fail::usage(e).context("writing"))
    })
}

/// `--force` replaces only a file accord writes as output: an export, a proof bundle, a
/// consistency file, a tlog-proof, a signed statement or to-be-signed bytes, recognised by its
/// contents. Anything else (the ledger's
/// database, a secret key, a file of another program) is refused, naming what it looks like:
/// a mistyped --out must not destroy what cannot be made again.
fn replaceable(path: &Path) -> Res {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(accord::proofs::MAX_PROOF_FILE as u64 + 1)
                .read_to_end(&mut head)
        })
        .with_context(|| format!("reading {} before replacing it", output_name(path)))
        .map_err(Fail::usage)?;
    let ours = head.starts_with(accord::export::EXPORT_MAGIC)
        || accord::proofs::tlog::TlogProof::looks_like(&head)
        || accord::proofs::ProofFile::parse(&head).is_ok()
        || accord::statement::Statement::decode(&head).is_ok()
        || accord::statement::Unsigned::from_to_be_signed(&head).is_ok();
    if ours {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(64)]);
    let looks = if head.starts_with(b"redb") {
        "a redb database (a ledger's own file?)"
    } else if text.starts_with(accord::keys::SECRET_PREFIX)
        || text.starts_with(accord::keys::AGE_ARMOR_BEGIN)
        || text.starts_with("PRIVATE+KEY+")
        || text.contains("PRIVATE KEY-----")
    {
        "a SECRET key"
    } else if head.is_empty() {
        "an empty file"
    } else {
        "not a file accord writes"
    };
    Err(Fail::usage(anyhow!(
        "{} exists and is {looks}; --force replaces only a file accord wrote (an export, a proof, a statement, bytes to sign)",
        output_name(path)
    ))
    .hint("choose another --out, or remove the file yourself if you really mean to replace it"))
}

/// Writes an output file with `write`: to standard output for `-` (refused for `binary` data
/// when standard output is a terminal); else to a new file in the same directory, synced, then
/// moved into place and the directory synced, so that a reader never sees half a file. An
/// existing file is replaced (atomically, by a rename) only with `force`; without it, it is
/// refused with a hint. A failure leaves no file behind.
pub(super) fn write_out_with<T>(
    path: &Path,
    force: bool,
    binary: bool,
    write: impl FnOnce(&mut dyn std::io::Write) -> Res<T>,
) -> Res<T> {
    if is_stdout(path) {
        let stdout = std::io::stdout();
        if binary && stdout.is_terminal() {
            return Err(Fail::usage(anyhow!(
                "refusing to write binary data to a terminal"
            ))
            .hint("redirect standard output to a file or a pipe (accord ... --out - > FILE), or give --out FILE"));
        }
        let mut w = std::io::BufWriter::new(stdout.lock());
        let t = write(&mut w)?;
        match w.flush() {
            // A closed pipe is not a failure: the reader has what it wanted.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(Fail::usage(e).context("writing to standard output"))
            }
            _ => {}
        }
        return Ok(t);
    }
    let exists = || {
        Fail::usage(anyhow!(
            "{} already exists; accord does not overwrite it without --force",
            output_name(path)
        ))
        .hint("add --force to replace it (atomically: readers see the old file or the new one), or choose another name")
    };
    match path.symlink_metadata() {
        Ok(_) if !force => return Err(exists()),
        Ok(m) if m.is_file() => replaceable(path)?,
        _ => {}
    }
    let name = path
        .file_name()
        .ok_or_else(|| Fail::usage(anyhow!("--out {}: not a file name", output_name(path))))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut nonce = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let tmp = dir.join(format!(
        ".{}.{}.partial",
        name.to_string_lossy(),
        hex::encode(nonce)
    ));
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o644);
    }
    let f = o
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))
        .map_err(Fail::usage)?;
    let cleanup = |e: Fail| {
        let _ = std::fs::remove_file(&tmp);
        e
    };
    let mut w = std::io::BufWriter::new(f);
    let t = write(&mut w).map_err(cleanup)?;
    let f = w
        .into_inner()
        .map_err(|e| cleanup(Fail::usage(anyhow!("writing {}: {}", tmp.display(), e.error()))))?;
    f.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))
        .map_err(|e| cleanup(Fail::usage(e)))?;
    drop(f);
    if force {
        std::fs::rename(&tmp, path)
            .with_context(|| format!("replacing {}", output_name(path)))
            .map_err(|e| cleanup(Fail::usage(e)))?;
    } else {
        // A hard link never replaces a file that appeared meanwhile; where links are not
        // supported, check once more and rename.
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => {
                let _ = std::fs::remove_file(&tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(cleanup(exists())),
            Err(_) => {
                if path.symlink_metadata().is_ok() {
                    return Err(cleanup(exists()));
                }
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("writing {}", output_name(path)))
                    .map_err(|e| cleanup(Fail::usage(e)))?;
            }
        }
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        // Persist the new name; not every platform can sync a directory.
        let _ = d.sync_all();
    }
    Ok(t)
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

/// Reads a whole input file (`-`: standard input) of at most `max` bytes, the limit for a
/// `what`; a larger one is refused with `too_big` (exit 1 for data, 2 for an argument) without
/// reading further. Every input accord reads whole goes through here, so none is unbounded.
pub(super) fn read_input(
    path: &Path,
    what: &str,
    max: usize,
    too_big: fn(anyhow::Error) -> Fail,
) -> Res<Vec<u8>> {
    let f = open_input(path, what)?;
    let mut buf = Vec::new();
    f.take(max as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {}", input_name(path)))
        .map_err(Fail::usage)?;
    if buf.len() > max {
        return Err(too_big(anyhow!(
            "{}: larger than {max} bytes, the limit for a {what}; not read further",
            input_name(path)
        )));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_prefixes_resolve_to_one_key_or_say_why_not() {
        let mut a = [0u8; 32];
        a[0] = 0xab;
        let mut b = a;
        b[9] = 1; // shares its first 18 hex digits with `a`
        let c = [0x11u8; 32];
        let keys = [a, b, c];
        assert_eq!(
            resolve_kid("--target", &hex::encode(c)[..16], "acme", &keys).unwrap(),
            c
        );
        assert_eq!(
            resolve_kid("--target", &hex::encode(b)[..20], "acme", &keys).unwrap(),
            b
        );
        let e = resolve_kid("--target", &hex::encode(a)[..16], "acme", &keys).unwrap_err();
        let m = e.message();
        assert!(
            m.contains("ambiguous") && m.contains(&hex::encode(a)) && m.contains(&hex::encode(b)),
            "{m}"
        );
        let e = resolve_kid("--target", "2222222222222222", "acme", &keys).unwrap_err();
        assert!(e.message().contains("no key of \"acme\""), "{}", e.message());
        // The same key listed twice (the signing key is always a candidate) is one key.
        assert_eq!(
            resolve_kid("--target", &hex::encode(c)[..16], "acme", &[c, c]).unwrap(),
            c
        );
        assert!(kid_prefix("--target", &"a".repeat(15)).is_err());
        assert!(kid_prefix("--target", &"a".repeat(65)).is_err());
        assert!(kid_prefix("--target", "abcdefabcdefabcg").is_err());
        assert_eq!(kid_prefix("--target", &"AB".repeat(8)).unwrap(), "ab".repeat(8));
    }

    #[test]
    fn entry_ranges_read_as_people_write_them() {
        assert_eq!(entries_text(0), "no entries");
        assert_eq!(entries_text(1), "1 entry (entry 0 only)");
        assert_eq!(entries_text(31), "31 entries (0 to 30)");
    }

    #[test]
    fn domains_are_lower_cased() {
        assert_eq!(domain_arg("ACME.Example"), "acme.example");
        assert_eq!(contact_arg("Security@ACME.example"), "Security@acme.example");
        assert_eq!(contact_arg("no-at-sign"), "no-at-sign");
    }
}

/// The connection limits `accord serve` and `accord witness serve` share (flattened into each).
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Connections served at once; more wait in the listen queue until one closes.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_connections: u32,
    /// Connections one client address may hold at once; more are closed at once, so that one
    /// client cannot take them all. 0: no limit (behind a reverse proxy, where every client has
    /// the proxy's address; let the proxy limit them).
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_connections_per_client: u32,
    /// Seconds a client has to send a request's headers (on a new connection, or on an idle
    /// kept-alive one) before it is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_timeout: u64,
}

impl ConnectionArgs {
    /// The server's limits with these, the others at their defaults.
    pub fn limits(&self) -> accord::serve::Limits {
        accord::serve::Limits {
            connections: self.max_connections as usize,
            per_client: self.max_connections_per_client as usize,
            header_time: std::time::Duration::from_secs(self.header_timeout),
            ..Default::default()
        }
    }
}
