//! One function per command: read arguments, call the library, print.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use serde::Serialize;

use accord::checkpoint::{LedgerKey, Origin, VerifierKey};
use accord::keyfile;
use accord::keys::SecretKey;
use accord::ledger::{Appended, Ledger, LedgerError};
use accord::norms::Catalogue;
use accord::report::{self, EntryView};
use accord::state::{Seen, StateDir, StateError};
use accord::statement::{self, Attestation, Body, NormRef, Payload, Registration, Withdrawal};
use accord::store::ReadTables;
use accord::time;

use super::display::{shown, shown_join};
use super::fail::{self, Fail};
use super::{AttestArgs, Cli, Command, KeyCommand};

type Res<T = ()> = Result<T, Fail>;

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

fn config_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("accord");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".config/accord");
    }
    PathBuf::from(".accord-config")
}

pub(super) fn run(cli: &Cli) -> Res {
    let dir = &cli.ledger;
    match &cli.command {
        Command::Init { origin, key_file } => init(dir, origin, key_file.as_deref()),
        Command::Key(KeyCommand::Generate {
            name,
            dir: kdir,
            encrypt,
        }) => key_generate(name, kdir.as_deref(), *encrypt),
        Command::Register {
            key,
            org,
            domain,
            contact,
            recovery_key,
        } => register(
            dir,
            key,
            org,
            domain.clone(),
            contact.clone(),
            recovery_key.as_deref(),
        ),
        Command::Key(KeyCommand::Rotate { key, new }) => super::lifecycle::rotate(dir, key, new),
        Command::Key(KeyCommand::Revoke { key, target, reason }) => {
            super::lifecycle::revoke(dir, key, target.as_deref(), reason)
        }
        Command::Key(KeyCommand::Recover {
            recovery_key,
            new,
            next_recovery_key,
            compromised_since,
            reason,
        }) => super::lifecycle::recover(
            dir,
            recovery_key,
            new,
            next_recovery_key,
            compromised_since.as_deref(),
            reason,
        ),
        Command::History { org, json } => super::lifecycle::history(dir, org, *json),
        Command::Norms { json } => norms(*json),
        Command::Attest { key, body } => attest(dir, key, body),
        Command::Sign { .. } => sign(dir, &cli.command),
        Command::Append { files, json } => append(dir, files, *json),
        Command::Withdraw { key, entry, reason } => withdraw(dir, key, entry, reason),
        Command::Verify {
            ledger_key,
            file: Some(f),
            state,
            json,
        } => super::proofs::verify_file(
            f,
            ledger_key.as_deref().unwrap_or_default(),
            state.as_deref(),
            *json,
        ),
        Command::Verify {
            ledger_key,
            file: None,
            state,
            json,
        } => verify(dir, ledger_key.as_deref(), state.as_deref(), *json),
        Command::Prove {
            entry,
            out,
            at_size,
            since,
            format,
            json,
        } => {
            let index = resolve_entry(&open_ro(dir)?, entry)?;
            let format = if *json { super::ProofFormat::Json } else { *format };
            super::proofs::prove(dir, index, out, *at_size, *since, format)
        }
        Command::VerifyProof {
            file,
            ledger_key,
            entry,
            state,
            json,
        } => super::proofs::verify_proof(file, ledger_key, entry.as_deref(), state.as_deref(), *json),
        Command::Consistency { from, to, out, json } => {
            super::proofs::consistency(dir, *from, *to, out, *json)
        }
        Command::Export { out } => super::proofs::export(dir, out),
        Command::Import { file, ledger_key } => super::proofs::import(dir, file, ledger_key),
        Command::Upgrade => {
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
        Command::Checkpoint => {
            let l = open_ro(dir)?;
            let (_, note) = l.latest_checkpoint().map_err(|e| fail::ledger(e, 1))?;
            out(&String::from_utf8_lossy(&note));
            Ok(())
        }
        Command::LedgerKey => {
            let l = open_ro(dir)?;
            out(&format!(
                "{}\n",
                l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?
            ));
            Ok(())
        }
        Command::List { org, norm, json } => list(dir, org.as_deref(), norm.as_deref(), *json),
        Command::Show { entry, json } => show(dir, entry, *json),
        Command::Status {
            norm,
            org,
            at,
            all,
            json,
        } => status(dir, norm.as_deref(), org.as_deref(), at.as_deref(), *all, *json),
        Command::Demo { dir: ddir } => super::demo::run(ddir.as_deref()),
    }
}

/// How long a command waits for another accord process to release the ledger before it
/// reports "in use" (ACCORD_LOCK_WAIT seconds, default 10; 0 fails at once).
fn lock_wait() -> std::time::Duration {
    let secs = std::env::var("ACCORD_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(10);
    std::time::Duration::from_secs(secs.min(3600))
}

/// Opens a ledger, waiting its turn while another process holds it.
fn open_waiting(dir: &Path, open: impl Fn(&Path) -> Result<Ledger, LedgerError>) -> Res<Ledger> {
    let deadline = std::time::Instant::now() + lock_wait();
    let mut told = false;
    loop {
        match open(dir) {
            Err(LedgerError::Store(accord::store::StoreError::InUse(_)))
                if std::time::Instant::now() < deadline =>
            {
                if !told {
                    eprintln!("waiting for another accord process to release the ledger...");
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

fn init(dir: &Path, origin: &str, key_file: Option<&Path>) -> Res {
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
    eprintln!("created ledger {} at {}", origin, dir.display());
    eprintln!(
        "ledger secret key: {} (mode 0600; keep it outside the ledger's data)",
        abs.display()
    );
    eprintln!("ledger public key (publish it; verifiers check against it):");
    out(&format!("{}\n", key.verifier_key()));
    Ok(())
}

fn key_generate(name: &str, dir: Option<&Path>, encrypt: bool) -> Res {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config_dir().join("keys"));
    let pass = if encrypt { Some(new_passphrase()?) } else { None };
    let files = keyfile::generate_key_files_with(&dir, name, pass).map_err(Fail::usage)?;
    out(&format!(
        "secret key: {} (mode 0600, never printed)\npublic key: {}\nkey id:     {}\n",
        files.secret.display(),
        files.public.display(),
        hex::encode(files.public_key.kid())
    ));
    Ok(())
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
fn new_passphrase() -> Res<keyfile::Passphrase> {
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

fn load_ledger_key(l: &Ledger) -> Res<LedgerKey> {
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

fn print_appended(a: &[Appended], json: bool) -> Res {
    if json {
        #[derive(Serialize)]
        struct J<'a> {
            index: u64,
            kind: String,
            org: &'a str,
            statement_id: String,
        }
        let v: Vec<J<'_>> = a
            .iter()
            .map(|x| J {
                index: x.index,
                kind: x.kind.to_string(),
                org: &x.org,
                statement_id: hex::encode(x.id),
            })
            .collect();
        return out_json(&v);
    }
    for x in a {
        out(&format!(
            "appended {} of {:?} at index {}\nstatement id: {}\n",
            x.kind,
            shown(&x.org),
            x.index,
            hex::encode(x.id)
        ));
    }
    Ok(())
}

/// Signs and appends one statement built from the user's arguments (refusals exit 2).
pub(super) fn sign_and_append(l: &Ledger, key: &SecretKey, iss: &str, body: Body) -> Res {
    let origin = l.origin().map_err(|e| fail::ledger(e, 1))?;
    let payload = Payload {
        origin,
        iat: accord::clock::now(),
        nonce: statement::random_nonce(),
        body,
    };
    let st = statement::sign(&payload, iss, key).map_err(Fail::usage)?;
    let lkey = load_ledger_key(l)?;
    let done = l
        .append(
            &[st.into_bytes()],
            &lkey,
            accord::clock::now(),
            Catalogue::embedded(),
        )
        .map_err(|e| fail::ledger(e, 2))?;
    print_appended(&done, false)
}

fn register(
    dir: &Path,
    key: &Path,
    org: &str,
    domain: Option<String>,
    contact: Option<String>,
    recovery_key: Option<&Path>,
) -> Res {
    let sk = load_signing_key(key)?;
    let recovery = match recovery_key {
        Some(p) => Some(load_public_key(p, "--recovery-key")?.kid()),
        None => None,
    };
    if recovery == Some(sk.public().kid()) {
        return Err(Fail::usage(anyhow!(
            "the recovery key must not be the signing key"
        )));
    }
    let iss = statement::normalise_org(org).map_err(|e| Fail::usage(e).context("--org"))?;
    let name: String = unicode_nfc(org);
    let l = open_rw(dir)?;
    if let Some(c) = &recovery {
        // A spent recovery key can never recover anything (the ledger rules refuse its second
        // use), so committing to it would leave the organisation without a recovery.
        if let Some(by) = read(&l, |r| Ok(r.used_recovery(c)?))? {
            return Err(Fail::usage(anyhow!(
                "--recovery-key: this recovery key was already used (by {:?}); a recovery key works once, so choose a fresh one",
                shown(&by)
            )));
        }
    }
    let committed = recovery.is_some();
    let body = Body::Registration(Registration {
        name,
        public_key: sk.public(),
        domain,
        contact,
        recovery,
    });
    sign_and_append(&l, &sk, &iss, body)?;
    eprintln!("note: the registration is self-asserted; nothing in this version proves the name or domain");
    if !committed {
        eprintln!(
            "note: registered WITHOUT a recovery key: if this key is lost or stolen the organisation cannot be recovered (use --recovery-key FILE.pub)"
        );
    }
    Ok(())
}

pub(super) fn unicode_nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    s.nfc().collect()
}

fn norm_refs(cat: &Catalogue, ids: &[String]) -> Res<Vec<NormRef>> {
    let mut refs = Vec::new();
    for id in ids {
        let n = cat.resolve(id).map_err(|e| {
            let f = Fail::usage(e);
            f.hint("`accord norms` lists the catalogue")
        })?;
        refs.push(NormRef {
            id: n.id.clone(),
            text_hash: n.text_hash(),
        });
    }
    refs.sort_by(|a, b| a.id.cmp(&b.id));
    refs.dedup_by(|a, b| a.id == b.id);
    Ok(refs)
}

fn attestation_body(a: &AttestArgs, supersedes: Option<[u8; 32]>) -> Res<Body> {
    let cat = Catalogue::embedded();
    let norms = norm_refs(cat, &a.norm)?;
    let expires = match &a.expires {
        Some(d) => {
            let t = time::parse_date(d).map_err(|e| Fail::usage(e).context("--expires"))?;
            if t <= accord::clock::now() {
                return Err(Fail::usage(anyhow!(
                    "--expires {} is not after the issue time (now)",
                    time::format(t)
                )));
            }
            Some(t)
        }
        None => None,
    };
    Ok(Body::Attestation(Attestation {
        catalogue: cat.version,
        norms,
        scope: a.scope.clone(),
        expires,
        note: a.note.clone(),
        supersedes,
    }))
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

fn attest(dir: &Path, key: &Path, a: &AttestArgs) -> Res {
    let sk = load_signing_key(key)?;
    let l = open_rw(dir)?;
    let supersedes = match &a.supersedes {
        Some(e) => Some(entry_statement_id(&l, resolve_entry(&l, e)?)?),
        None => None,
    };
    let body = attestation_body(a, supersedes)?;
    let org = org_of_key(&l, &sk)?;
    sign_and_append(&l, &sk, &org, body)
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

fn withdraw(dir: &Path, key: &Path, entry: &str, reason: &str) -> Res {
    let sk = load_signing_key(key)?;
    let l = open_rw(dir)?;
    let index = resolve_entry(&l, entry)?;
    let target = read(&l, |r| {
        let b = r.entry(index)?.unwrap_or_default();
        Ok(report::decode_stored(index, &b)?.1.id())
    })?;
    let org = org_of_key(&l, &sk)?;
    sign_and_append(
        &l,
        &sk,
        &org,
        Body::Withdrawal(Withdrawal {
            target,
            reason: reason.to_string(),
        }),
    )
}

fn sign(dir: &Path, cmd: &Command) -> Res {
    let Command::Sign {
        key,
        public_key,
        org,
        origin,
        register,
        domain,
        contact,
        recovery_key,
        withdraw,
        reason,
        norm,
        scope,
        expires,
        note,
        supersedes,
        emit_tbs,
        signature,
        tbs,
        out: out_file,
    } = cmd
    else {
        return Err(Fail::usage(anyhow!("internal: not a sign command")));
    };
    // Second step of detached signing: TBS + signature -> statement.
    if let (Some(sig), Some(tbs), Some(pk)) = (signature, tbs, public_key) {
        let out_file = out_file
            .as_ref()
            .ok_or_else(|| Fail::usage(anyhow!("--out FILE is required")))?;
        let pk = load_public_key(pk, "--public-key")?;
        let tbs_bytes = std::fs::read(tbs)
            .with_context(|| format!("to-be-signed file {}", tbs.display()))
            .map_err(Fail::usage)?;
        let unsigned = statement::Unsigned::from_to_be_signed(&tbs_bytes)
            .map_err(|e| Fail::invalid(e).context(format!("{}", tbs.display())))?;
        let sig = read_signature_file(sig)?;
        let st = unsigned
            .assemble(&sig)
            .map_err(|e| Fail::invalid(e).context("assembling the statement"))?;
        st.verify_signature(&pk).map_err(|e| {
            Fail::invalid(e).context("the detached signature does not verify with --public-key")
        })?;
        keyfile::write_new_file(out_file, st.bytes(), 0o644).map_err(Fail::usage)?;
        out(&format!(
            "assembled {} for {:?} -> {}\nstatement id: {}\n",
            st.kind(),
            st.iss,
            out_file.display(),
            hex::encode(st.id())
        ));
        return Ok(());
    }
    let org = org
        .as_ref()
        .ok_or_else(|| Fail::usage(anyhow!("--org NAME is required")))?;
    let (sk, pk) = match (key, public_key) {
        (Some(k), _) => {
            let sk = load_signing_key(k)?;
            let pk = sk.public();
            (Some(sk), pk)
        }
        (None, Some(p)) if emit_tbs.is_some() => (None, load_public_key(p, "--public-key")?),
        _ => {
            return Err(Fail::usage(anyhow!(
                "give --key FILE (or --public-key FILE.pub with --emit-tbs for a key held in an HSM or KMS)"
            )))
        }
    };
    let iss = statement::normalise_org(org).map_err(|e| Fail::usage(e).context("--org"))?;
    let origin = match origin {
        Some(o) => Origin::new(o)
            .map_err(|e| Fail::usage(e).context("--origin"))?
            .as_str()
            .to_string(),
        None => open_ro(dir)
            .map_err(|f| f.hint("give --origin ORIGIN when no ledger is at hand"))?
            .origin()
            .map_err(|e| fail::ledger(e, 1))?,
    };
    let body = if *register {
        Body::Registration(Registration {
            name: unicode_nfc(org),
            public_key: pk,
            domain: domain.clone(),
            contact: contact.clone(),
            recovery: match recovery_key {
                Some(p) => Some(load_public_key(p, "--recovery-key")?.kid()),
                None => None,
            },
        })
    } else if let Some(id) = withdraw {
        Body::Withdrawal(Withdrawal {
            target: parse_id(id)?,
            reason: reason.clone().unwrap_or_default(),
        })
    } else {
        if norm.is_empty() || scope.is_empty() {
            return Err(Fail::usage(anyhow!(
                "an attestation needs --norm and --scope (or use --register or --withdraw)"
            )));
        }
        let sup = match supersedes {
            Some(id) => Some(parse_id(id)?),
            None => None,
        };
        attestation_body(
            &AttestArgs {
                norm: norm.clone(),
                scope: scope.clone(),
                expires: expires.clone(),
                note: note.clone(),
                supersedes: None,
            },
            sup,
        )?
    };
    let payload = Payload {
        origin,
        iat: accord::clock::now(),
        nonce: statement::random_nonce(),
        body,
    };
    let unsigned = statement::Unsigned::new(&payload, &iss, &pk.kid()).map_err(Fail::usage)?;
    if let Some(tbs_path) = emit_tbs {
        keyfile::write_new_file(tbs_path, &unsigned.to_be_signed(), 0o644).map_err(Fail::usage)?;
        out(&format!(
            "wrote the bytes to sign (COSE Sig_structure) to {}\nsign them with Ed25519 in your HSM or KMS, then run:\n  accord sign --tbs {} --signature SIGFILE --public-key FILE.pub --out STATEMENT\n",
            tbs_path.display(),
            tbs_path.display()
        ));
        return Ok(());
    }
    let Some(sk) = sk else {
        return Err(Fail::usage(anyhow!("--key FILE is required to sign here")));
    };
    let out_file = out_file
        .as_ref()
        .ok_or_else(|| Fail::usage(anyhow!("--out FILE is required")))?;
    let st = unsigned
        .assemble(&sk.sign(&unsigned.to_be_signed()))
        .map_err(Fail::usage)?;
    keyfile::write_new_file(out_file, st.bytes(), 0o644).map_err(Fail::usage)?;
    out(&format!(
        "signed {} for {:?} -> {}\nstatement id: {}\n",
        st.kind(),
        iss,
        out_file.display(),
        hex::encode(st.id())
    ));
    Ok(())
}

/// A detached Ed25519 signature: 64 raw bytes, or one line of base64 or hex.
fn read_signature_file(path: &Path) -> Res<[u8; 64]> {
    let b = std::fs::read(path)
        .with_context(|| format!("signature file {}", path.display()))
        .map_err(Fail::usage)?;
    if let Ok(sig) = <[u8; 64]>::try_from(b.as_slice()) {
        return Ok(sig);
    }
    let text = std::str::from_utf8(&b).unwrap_or("").trim();
    use base64::Engine as _;
    // 128 hex digits are also valid base64 (of 96 bytes), so try hex first.
    let decoded = [
        hex::decode(text).ok(),
        base64::engine::general_purpose::STANDARD.decode(text).ok(),
    ];
    decoded
        .into_iter()
        .flatten()
        .find_map(|v| <[u8; 64]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| {
            Fail::invalid(anyhow!(
                "{}: not an Ed25519 signature (expected 64 raw bytes, or base64 or hex of them)",
                path.display()
            ))
        })
}

fn read_statement_file(path: &Path) -> Res<Vec<u8>> {
    let f = std::fs::File::open(path)
        .with_context(|| format!("statement file {}", path.display()))
        .map_err(Fail::usage)?;
    let mut buf = Vec::new();
    let limit = statement::MAX_STATEMENT_LEN as u64;
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Fail::usage)?;
    if buf.len() as u64 > limit {
        return Err(Fail::invalid(anyhow!(
            "{}: larger than the {limit}-byte statement limit; not read further",
            path.display()
        )));
    }
    Ok(buf)
}

fn append(dir: &Path, files: &[PathBuf], json: bool) -> Res {
    let mut sts = Vec::with_capacity(files.len());
    for f in files {
        sts.push(read_statement_file(f)?);
    }
    let l = open_rw(dir)?;
    let lkey = load_ledger_key(&l)?;
    let done = l
        .append(&sts, &lkey, accord::clock::now(), Catalogue::embedded())
        .map_err(|e| {
            let name = match &e {
                LedgerError::Rejected { position, .. } => files
                    .get(position.saturating_sub(1))
                    .map(|p| p.display().to_string()),
                _ => None,
            };
            let f = fail::ledger(e, 1);
            match name {
                Some(n) => f.context(format!("{n} (nothing was appended)")),
                None => f,
            }
        })?;
    print_appended(&done, json)
}

fn verify(dir: &Path, vkey: Option<&str>, state: Option<&Path>, json: bool) -> Res {
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
        eprintln!(
            "note: checking against the ledger key recorded at init ({vkey}); pass --ledger-key with a key you obtained independently"
        );
    }
    let show_progress = !json && std::io::stderr().is_terminal();
    let progress = |done: u64, total: u64| {
        if show_progress {
            eprint!("\rverifying: {done}/{total} entries");
        }
    };
    let res = l.verify(&vkey, Catalogue::embedded(), Some(&progress));
    if show_progress {
        eprintln!();
    }
    let report = res.map_err(|e| fail::ledger(e, 1).context("verification FAILED"))?;
    let state_dir = StateDir::new(state.map(Path::to_path_buf).unwrap_or_else(StateDir::default_dir));
    let seen = read(&l, |r| {
        Ok(state_dir.check_and_remember(&vkey, &report.checkpoint, |size| {
            accord::merkle::tree_root(size, r).ok()
        }))
    })?
    .map_err(|e| match e {
        StateError::Io { .. } | StateError::NotPrivate { .. } => Fail::usage(e),
        other => Fail::invalid(other).context("verification FAILED"),
    })?;
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
        }
        return out_json(&J {
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
        });
    }
    out(&format!(
        "OK: ledger {} verified: {} entries ({}), {} signed checkpoints; {} organisations, {} pledges in force\nroot {} at size {}\n{}\n",
        cp.origin,
        report.entries,
        kinds_summary(&report.by_kind),
        report.checkpoints,
        report.organisations,
        report.live_at(accord::clock::now()),
        hex::encode(cp.root),
        cp.size,
        seen_text(&seen)
    ));
    print_untrusted(&report.untrusted);
    Ok(())
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

fn list(dir: &Path, org: Option<&str>, norm: Option<&str>, json: bool) -> Res {
    let l = open_ro(dir)?;
    let org = match org {
        Some(o) => Some(statement::normalise_org(o).map_err(|e| Fail::usage(e).context("--org"))?),
        None => None,
    };
    if let Some(n) = norm {
        Catalogue::embedded().resolve(n).map_err(Fail::usage)?;
    }
    let views = read(&l, |r| {
        let indexes: Option<Vec<u64>> = match (&org, norm) {
            (Some(o), Some(n)) => {
                let a = r.org_entries(o)?;
                let b: std::collections::HashSet<u64> = r.norm_entries(n)?.into_iter().collect();
                Some(a.into_iter().filter(|i| b.contains(i)).collect())
            }
            (Some(o), None) => Some(r.org_entries(o)?),
            (None, Some(n)) => Some(r.norm_entries(n)?),
            (None, None) => None,
        };
        let mut v = Vec::new();
        match indexes {
            Some(ix) => {
                for i in ix {
                    let b = r.entry(i)?.unwrap_or_default();
                    v.push(report::entry_view(r, i, &b)?);
                }
            }
            None => r.for_each_entry(0, |i, b| -> Result<bool, LedgerError> {
                v.push(report::entry_view(r, i, b)?);
                Ok(true)
            })?,
        }
        Ok(v)
    })?;
    if json {
        return out_json(&views);
    }
    let mut s = String::new();
    for v in &views {
        s.push_str(&entry_line(v));
        s.push('\n');
    }
    if views.is_empty() {
        eprintln!("no entries");
    }
    out(&s);
    Ok(())
}

pub(super) fn entry_line(v: &EntryView) -> String {
    let what = if let Some(r) = &v.registration {
        format!(
            "registers {:?}{}{}",
            shown(&r.name),
            r.domain
                .as_ref()
                .map(|d| format!(" ({d}, self-asserted)"))
                .unwrap_or_else(|| " (self-asserted)".into()),
            if r.recovery_key_committed {
                ""
            } else {
                " [no recovery key]"
            }
        )
    } else if let Some(a) = &v.attestation {
        format!(
            "{} for {}{}{}",
            a.norms.join(", "),
            shown_join(&a.scope, "; "),
            a.expires
                .as_ref()
                .map(|e| format!(" until {e}"))
                .unwrap_or_default(),
            a.supersedes
                .as_ref()
                .map(|s| format!(" (supersedes {})", &s[..16]))
                .unwrap_or_default()
        )
    } else if let Some(w) = &v.withdrawal {
        format!(
            "withdraws {}: {}",
            w.target_index
                .map(|i| format!("entry {i}"))
                .unwrap_or_else(|| w.target[..16].to_string()),
            shown(&w.reason)
        )
    } else if let Some(k) = &v.key_change {
        format!(
            "ends key {}{}{}{}",
            k.ends.iter().map(|x| &x[..16]).collect::<Vec<_>>().join(", "),
            k.installs
                .as_ref()
                .map(|x| format!("; installs key {}", &x[..16]))
                .unwrap_or_default(),
            k.compromised_since
                .as_ref()
                .map(|t| format!("; compromised since {t}"))
                .unwrap_or_default(),
            k.reason
                .as_ref()
                .map(|r| format!(": {}", shown(r)))
                .unwrap_or_default()
        )
    } else {
        String::new()
    };
    format!(
        "{:>6}  {}  {:<12}  {:<20}  {}{}",
        v.index,
        v.logged_at,
        v.kind,
        shown(&v.org),
        untrusted_mark(v),
        what
    )
}

/// "UNTRUSTED (recovery at entry N) " for an entry a recovery made untrusted, else nothing:
/// every human view of an entry says so (issue 12).
pub(super) fn untrusted_mark(v: &EntryView) -> String {
    match v.untrusted_by {
        Some(r) => format!("UNTRUSTED (recovery at entry {r}) "),
        None => String::new(),
    }
}

fn show(dir: &Path, entry: &str, json: bool) -> Res {
    let l = open_ro(dir)?;
    let index = resolve_entry(&l, entry)?;
    let v = read(&l, |r| {
        let b = r.entry(index)?.unwrap_or_default();
        report::entry_view(r, index, &b)
    })?;
    if json {
        return out_json(&v);
    }
    let mut s = String::new();
    if let Some(r) = v.untrusted_by {
        s.push_str(&format!(
            "UNTRUSTED (recovery at entry {r}): signed by a key the organisation reported compromised at that time; valid history, not to be relied on\n"
        ));
    }
    s += &format!(
        "entry {}\n  kind:         {}\n  organisation: {}\n  statement id: {}\n  key id:       {}\n  issued at:    {}\n  logged at:    {}\n",
        v.index,
        v.kind,
        shown(&v.org),
        v.statement_id,
        v.kid,
        v.issued_at,
        v.logged_at
    );
    if let Some(r) = &v.registration {
        s.push_str(&format!("  name:         {}\n  domain:       {}\n  contact:      {}\n  (self-asserted: nothing proves this name or domain)\n",
            shown(&r.name), shown(r.domain.as_deref().unwrap_or("-")), shown(r.contact.as_deref().unwrap_or("-"))));
    }
    if let Some(a) = &v.attestation {
        s.push_str(&format!(
            "  norms:        {}\n  scope:        {}\n  expires:      {}\n  catalogue:    v{}\n",
            a.norms.join(", "),
            shown_join(&a.scope, "; "),
            a.expires.as_deref().unwrap_or("never"),
            a.catalogue
        ));
        if let Some(n) = &a.note {
            s.push_str(&format!("  note:         {}\n", shown(n)));
        }
    }
    if let Some(w) = &v.withdrawal {
        s.push_str(&format!(
            "  withdraws:    {}{}\n  reason:       {}\n",
            w.target,
            w.target_index
                .map(|i| format!(" (entry {i})"))
                .unwrap_or_default(),
            shown(&w.reason)
        ));
    }
    out(&s);
    Ok(())
}

fn status(dir: &Path, norm: Option<&str>, org: Option<&str>, at: Option<&str>, all: bool, json: bool) -> Res {
    if let Some(n) = norm {
        Catalogue::embedded().resolve(n).map_err(Fail::usage)?;
    }
    let org = match org {
        Some(o) => Some(statement::normalise_org(o).map_err(|e| Fail::usage(e).context("--org"))?),
        None => None,
    };
    let at = match at {
        Some(d) => time::parse_date(d).map_err(|e| Fail::usage(e).context("--at"))?,
        None => accord::clock::now(),
    };
    let l = open_ro(dir)?;
    let mut rows = read(&l, |r| report::attestation_status(r, at))?;
    rows.retain(|a| {
        (all || a.state == "live")
            && norm.is_none_or(|n| a.norms.iter().any(|x| x == n))
            && org.as_ref().is_none_or(|o| &a.org == o)
    });
    if json {
        return out_json(&rows);
    }
    if rows.is_empty() {
        eprintln!(
            "no {}attestations at {}",
            if all { "" } else { "live " },
            time::format(at)
        );
        return Ok(());
    }
    let mut s = String::new();
    for a in &rows {
        s.push_str(&format!(
            "{:>6}  {:<20}  {:<10}  {}  for {}{}  [key {}{}]\n",
            a.index,
            shown(&a.org),
            a.state,
            a.norms.join(", "),
            shown_join(&a.scope, "; "),
            a.expires
                .as_ref()
                .map(|e| format!(" (until {e})"))
                .unwrap_or_default(),
            &a.kid[..16],
            if a.recovery_key_committed {
                ""
            } else {
                "; no recovery key"
            }
        ));
    }
    out(&s);
    Ok(())
}

fn norms(json: bool) -> Res {
    let cat = Catalogue::embedded();
    if json {
        #[derive(Serialize)]
        struct N<'a> {
            id: &'a str,
            title: &'a str,
            text: &'a str,
            text_sha256: String,
            maps_to: &'a [String],
            deprecated: bool,
        }
        #[derive(Serialize)]
        struct C<'a> {
            version: u64,
            norms: Vec<N<'a>>,
        }
        let v = C {
            version: cat.version,
            norms: cat
                .norms()
                .iter()
                .map(|n| N {
                    id: n.id.as_str(),
                    title: &n.title,
                    text: &n.text,
                    text_sha256: hex::encode(n.text_hash()),
                    maps_to: &n.maps_to,
                    deprecated: n.deprecated,
                })
                .collect(),
        };
        return out_json(&v);
    }
    let mut s = format!("norms catalogue v{}\n\n", cat.version);
    for n in cat.norms() {
        s.push_str(&format!(
            "{}{}\n    {}\n    maps to: {}\n",
            n.id,
            if n.deprecated { " (deprecated)" } else { "" },
            n.text,
            n.maps_to.join(", ")
        ));
    }
    out(&s);
    Ok(())
}
