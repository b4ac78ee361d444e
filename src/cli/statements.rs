//! Statements: `attest`, `sign` (offline or with an external signer), `append`, `withdraw`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use serde::Serialize;

use accord::checkpoint::Origin;
use accord::keyfile;
use accord::keys::SecretKey;
use accord::ledger::{Appended, Ledger, LedgerError};
use accord::norms::Catalogue;
use accord::report::{self};
use accord::statement::{self, Attestation, Body, NormRef, Payload, Registration, Withdrawal};
use accord::time;

use clap::Args;

use super::context::*;
use super::display::shown;
use super::fail::{self, Fail};

pub(super) fn print_appended(a: &[Appended], json: bool) -> Res {
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

pub(super) fn norm_refs(cat: &Catalogue, ids: &[String]) -> Res<Vec<NormRef>> {
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

pub(super) fn attestation_body(a: &AttestArgs, supersedes: Option<[u8; 32]>) -> Res<Body> {
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

pub(super) fn attest(dir: &Path, key: &Path, a: &AttestArgs) -> Res {
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

pub(super) fn withdraw(dir: &Path, key: &Path, entry: &str, reason: &str) -> Res {
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

pub(super) fn sign(dir: &Path, args: &SignArgs) -> Res {
    let SignArgs {
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
    } = args;
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
pub(super) fn read_signature_file(path: &Path) -> Res<[u8; 64]> {
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

pub(super) fn read_statement_file(path: &Path) -> Res<Vec<u8>> {
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

pub(super) fn append(dir: &Path, files: &[PathBuf], json: bool) -> Res {
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

/// What an attestation says.
#[derive(Args, Debug, Clone)]
pub struct AttestArgs {
    /// Norm ids (see `accord norms`); repeat or list several.
    #[arg(long, value_name = "ID", required = true, num_args = 1..)]
    pub norm: Vec<String>,
    /// What the pledge covers (products, services); repeat or list several.
    #[arg(long, value_name = "TEXT", required = true, num_args = 1..)]
    pub scope: Vec<String>,
    /// When the pledge lapses (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
    /// Free text.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// An earlier attestation of yours this one renews or amends (entry index or statement id);
    /// the old one stops being live.
    #[arg(long, value_name = "INDEX|ID")]
    pub supersedes: Option<String>,
}

/// What `accord sign` signs, and how.
#[derive(Args, Debug, Clone)]
pub struct SignArgs {
    /// The organisation's secret key file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["public_key"])]
    pub key: Option<PathBuf>,
    /// With --emit-tbs or --signature: the signing key's public key file (the secret key
    /// stays in the HSM or KMS).
    #[arg(long, value_name = "FILE.pub")]
    pub public_key: Option<PathBuf>,
    /// The organisation's name.
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// The origin of the ledger the statement is for.
    #[arg(long)]
    pub origin: Option<String>,
    /// Sign a registration instead of an attestation.
    #[arg(long, conflicts_with_all = ["withdraw", "norm", "scope"])]
    pub register: bool,
    /// Domain (with --register).
    #[arg(long, requires = "register")]
    pub domain: Option<String>,
    /// Role address (with --register).
    #[arg(long, requires = "register")]
    pub contact: Option<String>,
    /// Recovery public key to commit to (with --register).
    #[arg(long, value_name = "FILE.pub", requires = "register")]
    pub recovery_key: Option<PathBuf>,
    /// Sign a withdrawal of this statement id (hex) instead of an attestation.
    #[arg(long, value_name = "ID", requires = "reason", conflicts_with_all = ["norm", "scope"])]
    pub withdraw: Option<String>,
    /// Why (with --withdraw).
    #[arg(long, requires = "withdraw")]
    pub reason: Option<String>,
    /// Norm ids (see `accord norms`).
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub norm: Vec<String>,
    /// What the pledge covers.
    #[arg(long, value_name = "TEXT", num_args = 1..)]
    pub scope: Vec<String>,
    /// When the pledge lapses (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
    /// Free text.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Statement id (hex) of an earlier attestation this one renews or amends.
    #[arg(long, value_name = "ID")]
    pub supersedes: Option<String>,
    /// Write the exact bytes to sign (the COSE Sig_structure) to FILE instead of signing.
    #[arg(
        long,
        value_name = "FILE",
        requires = "public_key",
        conflicts_with = "signature"
    )]
    pub emit_tbs: Option<PathBuf>,
    /// Build the statement from a to-be-signed file (made by --emit-tbs) and a detached
    /// Ed25519 signature made elsewhere (64 raw bytes, or base64 or hex text).
    #[arg(long, value_name = "SIGFILE", requires_all = ["public_key", "tbs"])]
    pub signature: Option<PathBuf>,
    /// With --signature: the to-be-signed file made by --emit-tbs.
    #[arg(long, value_name = "FILE", requires = "signature")]
    pub tbs: Option<PathBuf>,
    /// Where to write the signed statement (never overwritten).
    #[arg(long, value_name = "FILE", required_unless_present = "emit_tbs")]
    pub out: Option<PathBuf>,
}
