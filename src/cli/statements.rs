//! Statements: `attest`, `sign` (offline or with an external signer), `append`, `withdraw`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use accord::checkpoint::Origin;
use accord::keys::{PublicKey, SecretKey};
use accord::ledger::Ledger;
use accord::norms::Catalogue;
use accord::statement::{
    self, Acceptance, Attestation, Body, Kind, NormRef, Payload, Recovery, Registration, Revocation,
    Rotation, Statement, Unsigned, Withdrawal,
};
use accord::time;

use clap::{ArgGroup, Args};

use super::context::*;
use super::destination::{
    self, local_entry, own_attestation, sign_and_submit, submit_and_print, DestinationArgs,
};
use super::fail::{self, Fail};
use super::terminal::note;

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

/// `--expires DATE`: a date alone is the end of that day (UTC), an RFC 3339 time is exact; it
/// must be after now (the issue time).
fn expiry(d: &str) -> Res<time::Seconds> {
    let t = time::parse_expiry(d).map_err(|e| Fail::usage(e).context("--expires"))?;
    let when = if time::is_plain_date(d) {
        format!("{}, the end of {d} (UTC)", time::format(t))
    } else {
        time::format(t)
    };
    if t <= accord::clock::now() {
        return Err(Fail::usage(anyhow!(
            "--expires {d}: {when} is not after the issue time (now)"
        )));
    }
    if time::is_plain_date(d) {
        note!("note: expires at {when}");
    }
    Ok(t)
}

pub(super) fn attestation_body(a: &AttestArgs, supersedes: Option<[u8; 32]>) -> Res<Body> {
    let cat = Catalogue::embedded();
    let norms = norm_refs(cat, &a.norm)?;
    let expires = match &a.expires {
        Some(d) => Some(expiry(d)?),
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

pub(super) fn attest(dir: &Path, key: &Path, a: &AttestArgs, to: &DestinationArgs) -> Res {
    let sk = load_signing_key(key)?;
    let to = destination::open(dir, to)?;
    let org = to.org_of_key(&sk.public().kid())?;
    let supersedes = match &a.supersedes {
        Some(e) => Some(own_attestation("--supersedes", e, to.entry(e)?, &org)?),
        None => None,
    };
    let body = attestation_body(a, supersedes)?;
    sign_and_submit(to.as_ref(), &sk, &org, body)
}

pub(super) fn withdraw(dir: &Path, key: &Path, entry: &str, reason: &str, to: &DestinationArgs) -> Res {
    let sk = load_signing_key(key)?;
    let to = destination::open(dir, to)?;
    let org = to.org_of_key(&sk.public().kid())?;
    let target = own_attestation("--entry", entry, to.entry(entry)?, &org)?;
    sign_and_submit(
        to.as_ref(),
        &sk,
        &org,
        Body::Withdrawal(Withdrawal {
            target,
            reason: reason.to_string(),
        }),
    )
}

/// The key that signs a statement made by `sign`: here, or elsewhere.
enum Signer {
    /// `--key`: the secret key is here; `sign` signs.
    Here(SecretKey),
    /// `--public-key`: the secret key is in an HSM, a cloud KMS or on an offline machine;
    /// `sign --emit-tbs` writes what it must sign.
    Elsewhere { key: PublicKey, file: PathBuf },
}

impl Signer {
    fn public(&self) -> PublicKey {
        match self {
            Signer::Here(sk) => sk.public(),
            Signer::Elsewhere { key, .. } => *key,
        }
    }
    /// How to name its public key file in the next command to type.
    fn public_file(&self) -> String {
        match self {
            Signer::Here(_) => "FILE.pub".into(),
            Signer::Elsewhere { file, .. } => file.display().to_string(),
        }
    }
}

/// The ledger `sign` may consult (for its origin, an entry index, a key-id prefix), opened the
/// first time it is needed, if there is one: `sign` works offline too.
struct AtHand<'a> {
    dir: &'a Path,
    ledger: Option<Option<Ledger>>,
}

impl<'a> AtHand<'a> {
    fn new(dir: &'a Path) -> Self {
        AtHand { dir, ledger: None }
    }
    fn get(&mut self) -> Res<Option<&Ledger>> {
        if self.ledger.is_none() {
            self.ledger = Some(open_ro_if_any(self.dir)?);
        }
        Ok(self.ledger.as_ref().and_then(Option::as_ref))
    }
    /// The ledger at hand if it is the one for `origin`.
    fn for_origin(&mut self, origin: &str) -> Res<Option<&Ledger>> {
        let Some(l) = self.get()? else {
            return Ok(None);
        };
        let theirs = l.origin().map_err(|e| fail::ledger(e, 1))?;
        Ok((theirs == origin).then_some(l))
    }
}

/// `--withdraw` or `--supersedes`: a statement id, or an entry index resolved in the ledger at
/// hand (which must be the statement's). An index must name an attestation of `iss`, the
/// signing organisation: the ledger would refuse anything else, and a statement signed against
/// it is refused now rather than at `append` (exit 1, as the rules refuse).
fn target_id(here: &mut AtHand<'_>, origin: &str, iss: &str, flag: &str, s: &str) -> Res<[u8; 32]> {
    if !is_index(s) {
        return parse_id(s).map_err(|f| f.context(flag.to_string()));
    }
    let dir = here.dir.display().to_string();
    let instead = format!(
        "give the statement id instead (64 hex digits): `accord show {s}` prints it where the ledger is"
    );
    let Some(l) = here.get()? else {
        return Err(Fail::usage(anyhow!(
            "{flag} {s} is an entry index, and there is no ledger at {dir} to look it up in (offline)"
        ))
        .hint(instead));
    };
    let theirs = l.origin().map_err(|e| fail::ledger(e, 1))?;
    if theirs != origin {
        return Err(Fail::usage(anyhow!(
            "{flag} {s} is an entry index, but the ledger at {dir} is {theirs:?}, not {origin:?} (the statement's origin)"
        ))
        .hint(instead));
    }
    let e = local_entry(l, s).map_err(|f| f.context(flag.to_string()))?;
    own_attestation(flag, s, Some(e), iss)
}

/// The acceptance given to `sign --rotate --acceptance`, checked against the rotation it is
/// to go in: an acceptance, signed by the key it installs, of the same organisation and
/// ledger, replacing the signing key.
fn read_acceptance(path: &Path, signer: &PublicKey) -> Res<Statement> {
    let bytes = read_statement_file(path)?;
    let name = path.display().to_string();
    let st = Statement::decode(&bytes).map_err(|e| Fail::invalid(e).context(name.clone()))?;
    let Body::Acceptance(a) = &st.payload.body else {
        return Err(Fail::usage(anyhow!(
            "--acceptance {name}: this is a {}, not an acceptance",
            st.kind()
        )));
    };
    st.verify_signature(&a.public_key)
        .map_err(|e| Fail::invalid(e).context(format!("--acceptance {name}")))?;
    if a.replaces != signer.kid() {
        return Err(Fail::usage(anyhow!(
            "--acceptance {name} replaces key {}, not the signing key {}",
            short_kid(&a.replaces),
            short_kid(&signer.kid())
        )));
    }
    Ok(st)
}

/// A key id as accord prints it: its first 16 hex digits.
fn short_kid(kid: &[u8; 32]) -> String {
    hex::encode(&kid[..8])
}

/// Writes the bytes an external signer signs, and says what to do next.
fn emit_tbs(
    path: &Path,
    unsigned: &Unsigned,
    what: &str,
    iss: &str,
    signer: &PublicKey,
    signer_file: &str,
    force: bool,
) -> Res {
    write_out(path, &unsigned.to_be_signed(), force, true)?;
    report_line(
        path,
        &format!(
            "wrote the bytes to sign ({what} of {iss:?}, a COSE Sig_structure) to {tbs}\n\
         they must be signed by key {kid}: sign them with Ed25519 (pure Ed25519 over the file, as \
         `openssl pkeyutl -sign -rawin` does) in your HSM or KMS or on the offline machine, then run:\n  \
         accord sign --tbs {tbs} --signature SIGFILE --public-key {signer_file} --out STATEMENT\n",
            tbs = output_name(path),
            kid = short_kid(&signer.kid()),
        ),
    );
    Ok(())
}

pub(super) fn sign(dir: &Path, a: &SignArgs) -> Res {
    // Second step of detached signing: TBS + signature -> statement.
    if let (Some(sig), Some(tbs), Some(pk)) = (&a.signature, &a.tbs, &a.public_key) {
        return assemble(a, sig, tbs, pk);
    }
    let mut here = AtHand::new(dir);
    let signer = match (&a.key, &a.public_key) {
        (Some(k), _) => Signer::Here(load_signing_key(k)?),
        (None, Some(p)) if a.emit_tbs.is_some() => Signer::Elsewhere {
            key: load_public_key(p, "--public-key")?,
            file: p.clone(),
        },
        _ => {
            return Err(Fail::usage(anyhow!(
                "give --key FILE (or --public-key FILE.pub with --emit-tbs for a key held in an HSM, a KMS or offline)"
            )))
        }
    };
    let pk = signer.public();
    let acceptance = match &a.acceptance {
        Some(f) => Some(read_acceptance(f, &pk)?),
        None => None,
    };
    let org = match (&a.org, &acceptance) {
        (Some(o), _) => o.clone(),
        (None, Some(acc)) => acc.iss.clone(),
        (None, None) => return Err(Fail::usage(anyhow!("--org NAME is required"))),
    };
    let iss = statement::normalise_org(&org).map_err(|e| Fail::usage(e).context("--org"))?;
    let origin = match (&a.origin, &acceptance) {
        (Some(o), _) => Origin::new(o)
            .map_err(|e| Fail::usage(e).context("--origin"))?
            .as_str()
            .to_string(),
        (None, Some(acc)) => acc.payload.origin.clone(),
        (None, None) => match here.get()? {
            Some(l) => l.origin().map_err(|e| fail::ledger(e, 1))?,
            None => {
                return Err(Fail::usage(anyhow!(
                    "--origin ORIGIN is needed: there is no ledger at {} to take it from",
                    dir.display()
                ))
                .hint("give the origin of the ledger the statement is for, such as example.org/pledges"))
            }
        },
    };
    if let Some(acc) = &acceptance {
        if acc.iss != iss || acc.payload.origin != origin {
            return Err(Fail::usage(anyhow!(
                "--acceptance is for {:?} on ledger {:?}, not {iss:?} on {origin:?}",
                acc.iss,
                acc.payload.origin
            )));
        }
    }
    let iat = accord::clock::now();
    let payload = |body| Payload {
        origin: origin.clone(),
        iat,
        nonce: statement::random_nonce(),
        body,
    };
    let reason = |flag: &str| {
        a.reason
            .clone()
            .ok_or_else(|| Fail::usage(anyhow!("{flag} needs --reason TEXT (why)")))
    };
    let body = if a.register {
        Body::Registration(Registration {
            name: unicode_nfc(&org),
            public_key: pk,
            domain: a.domain.as_deref().map(domain_arg),
            contact: a.contact.as_deref().map(contact_arg),
            recovery: match &a.recovery_key {
                Some(p) => Some(load_public_key(p, "--recovery-key")?.kid()),
                None => None,
            },
        })
    } else if let Some(t) = &a.withdraw {
        Body::Withdrawal(Withdrawal {
            target: target_id(&mut here, &origin, &iss, "--withdraw", t)?,
            reason: reason("--withdraw")?,
        })
    } else if a.rotate {
        match rotation_body(a, &signer, acceptance, &iss, &payload)? {
            Some(body) => body,
            // Step 1 of 2 done: the new key's acceptance is to be signed first.
            None => return Ok(()),
        }
    } else if a.revoke {
        let target = match &a.target {
            None => pk.kid(),
            Some(t) => revocation_target(&mut here, &origin, &iss, &pk, t)?,
        };
        Body::Revocation(Revocation {
            target,
            reason: reason("--revoke")?,
        })
    } else if a.recover {
        recovery_body(a, &pk, reason("--recover")?)?
    } else {
        if a.norm.is_empty() || a.scope.is_empty() {
            return Err(Fail::usage(anyhow!(
                "an attestation needs --norm and --scope (or sign another kind: --register, --withdraw, --rotate, --revoke, --recover)"
            )));
        }
        let sup = match &a.supersedes {
            Some(s) => Some(target_id(&mut here, &origin, &iss, "--supersedes", s)?),
            None => None,
        };
        attestation_body(
            &AttestArgs {
                norm: a.norm.clone(),
                scope: a.scope.clone(),
                expires: a.expires.clone(),
                note: a.note.clone(),
                supersedes: None,
            },
            sup,
        )?
    };
    let kind = body.kind();
    let unsigned = Unsigned::new(&payload(body), &iss, &pk.kid()).map_err(Fail::usage)?;
    if let Some(tbs) = &a.emit_tbs {
        let what = match kind {
            Kind::Rotation => "a rotation, signed by the current key".to_string(),
            Kind::Recovery => "a recovery, signed by the recovery key".to_string(),
            k => format!("a {k}"),
        };
        return emit_tbs(tbs, &unsigned, &what, &iss, &pk, &signer.public_file(), a.force);
    }
    let Signer::Here(sk) = signer else {
        return Err(Fail::usage(anyhow!("--key FILE is required to sign here")));
    };
    let out_file = a
        .out
        .as_ref()
        .ok_or_else(|| Fail::usage(anyhow!("--out FILE is required")))?;
    let st = unsigned
        .assemble(&sk.sign(&unsigned.to_be_signed()))
        .map_err(Fail::usage)?;
    write_out(out_file, st.bytes(), a.force, true)?;
    report_line(
        out_file,
        &format!(
            "signed {} for {:?} -> {}\nstatement id: {}\n",
            st.kind(),
            iss,
            output_name(out_file),
            hex::encode(st.id())
        ),
    );
    Ok(())
}

/// `sign --rotate`: the rotation carrying the new key's acceptance, given (`--acceptance`) or
/// signed here (`--new` a secret key file). With `--new` a public key file, the new key is
/// elsewhere and signs its acceptance first: the bytes it signs are written (`--emit-tbs`) and
/// `None` is returned.
fn rotation_body(
    a: &SignArgs,
    signer: &Signer,
    acceptance: Option<Statement>,
    iss: &str,
    payload: &dyn Fn(Body) -> Payload,
) -> Res<Option<Body>> {
    let pk = signer.public();
    let acceptance = match (acceptance, &a.new) {
        (Some(acc), _) => acc,
        (None, Some(new)) => {
            let new_key = load_any_key(new, "--new")?;
            if new_key.public() == pk {
                return Err(Fail::usage(anyhow!(
                    "--new is the signing key itself; a rotation installs another key"
                )));
            }
            let body = Body::Acceptance(Acceptance {
                public_key: new_key.public(),
                replaces: pk.kid(),
            });
            // The new key's secret key is here: it signs its acceptance at once.
            let signed = match new_key {
                AnyKey::Secret(nsk) => statement::sign(&payload(body), iss, &nsk).map_err(Fail::usage)?,
                AnyKey::Public(npk) => {
                    let Some(tbs) = &a.emit_tbs else {
                        return Err(Fail::usage(anyhow!(
                            "--new {}: the new key's secret key is not here, and it must sign its acceptance first",
                            new.display()
                        ))
                        .hint("add --emit-tbs FILE to write the bytes the new key signs; `accord sign --help` shows the whole flow"));
                    };
                    let unsigned = Unsigned::new(&payload(body), iss, &npk.kid()).map_err(Fail::usage)?;
                    let new_file = new.display().to_string();
                    emit_tbs(tbs, &unsigned, "the NEW key's acceptance", iss, &npk, &new_file, a.force)?;
                    report_line(tbs, &format!(
                        "then sign the rotation that carries it with the current key {}:\n  \
                         accord sign --rotate --acceptance STATEMENT --public-key {} --emit-tbs FILE   (or --key FILE --out FILE)\n",
                        short_kid(&pk.kid()),
                        signer.public_file()
                    ));
                    return Ok(None);
                }
            };
            signed
        }
        (None, None) => {
            return Err(Fail::usage(anyhow!(
                "--rotate needs --new NEW (the next key's public or secret key file) or --acceptance FILE (its signed acceptance)"
            )))
        }
    };
    Ok(Some(Body::Rotation(Rotation {
        acceptance: Box::new(acceptance),
    })))
}

/// `sign --recover`, signed by the recovery key `recovery`.
fn recovery_body(a: &SignArgs, recovery: &PublicKey, reason: String) -> Res<Body> {
    let Some(new) = &a.new else {
        return Err(Fail::usage(anyhow!(
            "--recover needs --new NEW (the key it installs)"
        )));
    };
    let Some(next) = &a.next_recovery_key else {
        return Err(Fail::usage(anyhow!(
            "--recover needs --next-recovery-key FILE.pub (the recovery key that follows; a recovery key works once)"
        )));
    };
    let new_key = load_any_key(new, "--new")?.public();
    let next = load_public_key(next, "--next-recovery-key")?;
    if next == *recovery {
        return Err(Fail::usage(anyhow!(
            "the next recovery key must be a new key; a recovery key works once"
        )));
    }
    let since = match &a.compromised_since {
        Some(d) => Some(time::parse_date(d).map_err(|e| Fail::usage(e).context("--compromised-since"))?),
        None => None,
    };
    Ok(Body::Recovery(Recovery {
        recovery_key: *recovery,
        new_key,
        next_recovery: next.kid(),
        compromised_since: since,
        reason,
    }))
}

/// `sign --revoke --target`: a whole key id, or a prefix of one resolved among the
/// organisation's keys in the ledger at hand (offline, only the signing key's own id).
fn revocation_target(
    here: &mut AtHand<'_>,
    origin: &str,
    iss: &str,
    pk: &PublicKey,
    t: &str,
) -> Res<[u8; 32]> {
    let p = kid_prefix("--target", t)?;
    if p.len() == 64 {
        return parse_id(&p);
    }
    let mut keys = vec![pk.kid()];
    match here.for_origin(origin)? {
        Some(l) => keys.extend(keys_of_org(l, iss)?),
        None if !hex::encode(pk.kid()).starts_with(&p) => {
            return Err(Fail::usage(anyhow!(
                "--target {p} is not the signing key's id, and there is no ledger of {origin:?} at {} to find the organisation's other keys in (offline)",
                here.dir.display()
            ))
            .hint("give all 64 hex digits of the key id"));
        }
        None => {}
    }
    resolve_kid("--target", &p, iss, &keys)
}

/// Second step of detached signing: the statement from a to-be-signed file and its signature.
fn assemble(a: &SignArgs, sig: &Path, tbs: &Path, pk: &Path) -> Res {
    let out_file = a
        .out
        .as_ref()
        .ok_or_else(|| Fail::usage(anyhow!("--out FILE is required")))?;
    let pk = load_public_key(pk, "--public-key")?;
    let tbs_bytes = read_input(
        tbs,
        "to-be-signed file",
        statement::MAX_TO_BE_SIGNED_LEN,
        Fail::invalid,
    )?;
    let unsigned = statement::Unsigned::from_to_be_signed(&tbs_bytes)
        .map_err(|e| Fail::invalid(e).context(format!("{}", tbs.display())))?;
    let sig = read_signature_file(sig)?;
    let st = unsigned
        .assemble(&sig)
        .map_err(|e| Fail::invalid(e).context("assembling the statement"))?;
    st.verify_signature(&pk)
        .map_err(|e| Fail::invalid(e).context("the detached signature does not verify with --public-key"))?;
    write_out(out_file, st.bytes(), a.force, true)?;
    report_line(
        out_file,
        &format!(
            "assembled {} for {:?} -> {}\nstatement id: {}\n",
            st.kind(),
            st.iss,
            output_name(out_file),
            hex::encode(st.id())
        ),
    );
    if st.kind() == Kind::Acceptance {
        out(&format!(
            "this is the new key's acceptance; now sign the rotation that carries it with the current key:\n  \
             accord sign --rotate --acceptance {} --public-key OLD.pub --emit-tbs FILE   (or --key OLD.key --out FILE)\n",
            out_file.display()
        ));
    }
    Ok(())
}

/// The largest signature file read: 64 bytes, or their hex (128 digits) with a line break
/// and some white space.
const MAX_SIGNATURE_FILE: usize = 1024;

/// A detached Ed25519 signature: 64 raw bytes, or one line of base64 or hex.
pub(super) fn read_signature_file(path: &Path) -> Res<[u8; 64]> {
    let b = read_input(path, "signature file", MAX_SIGNATURE_FILE, Fail::invalid)?;
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

/// Reads a statement file (`-`: standard input), at most one statement's bytes.
pub(super) fn read_statement_file(path: &Path) -> Res<Vec<u8>> {
    read_input(
        path,
        "statement file",
        statement::MAX_STATEMENT_LEN,
        Fail::invalid,
    )
}

pub(super) fn append(dir: &Path, files: &[PathBuf], json: bool, to: &DestinationArgs) -> Res {
    let mut sts = Vec::with_capacity(files.len());
    for f in files {
        sts.push(read_statement_file(f)?);
    }
    let to = destination::open(dir, to)?;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    submit_and_print(to.as_ref(), &sts, &names, json)
}

/// What an attestation says.
#[derive(Args, Debug, Clone)]
pub struct AttestArgs {
    /// Norm ids (see `accord norms`): repeat the option, or list several, separated by spaces or
    /// commas (--norm no-backdoors,patch-all-customers).
    #[arg(long, value_name = "ID", required = true, num_args = 1.., value_delimiter = ',')]
    pub norm: Vec<String>,
    /// What the pledge covers (products, services); repeat or list several.
    #[arg(long, value_name = "TEXT", required = true, num_args = 1..)]
    pub scope: Vec<String>,
    /// When the pledge lapses: YYYY-MM-DD means the END of that day in UTC (--expires 2027-12-31
    /// expires at 2028-01-01T00:00:00Z, the end of that day); an RFC 3339 time is exact.
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

/// What `accord sign --help` adds after the options: the kinds, the signers, and the flows.
pub const SIGN_HELP: &str = "\
What it signs: an attestation by default (--norm, --scope); or --register, --withdraw INDEX|ID,
--rotate, --revoke, --recover. Every kind can be signed here (--key FILE) or by an external
signer holding the secret key (an HSM, a cloud KMS, an offline machine), in two steps:
  1. accord sign ... --public-key FILE.pub --emit-tbs X.tbs    writes the exact bytes to sign
     (the COSE Sig_structure); the signer makes a pure Ed25519 signature over the file
  2. accord sign --tbs X.tbs --signature X.sig --public-key FILE.pub --out X.cose
     checks the signature (64 raw bytes, or base64 or hex) and writes the statement
then `accord append X.cose` at the custodian.

Who signs: the organisation's current key, except for --recover (the recovery key the
organisation committed to, which may never leave its offline machine) and the acceptance a
rotation carries (the NEW key). A rotation by two external keys is two rounds, the new key's
first:
  accord sign --rotate --public-key old.pem --new new.pem --org 'Acme Corp' --emit-tbs accept.tbs
  (the NEW key signs accept.tbs -> accept.sig)
  accord sign --tbs accept.tbs --signature accept.sig --public-key new.pem --out accept.cose
  accord sign --rotate --public-key old.pem --acceptance accept.cose --emit-tbs rotate.tbs
  (the OLD key signs rotate.tbs -> rotate.sig)
  accord sign --tbs rotate.tbs --signature rotate.sig --public-key old.pem --out rotate.cose
  accord append rotate.cose
With --new NEW.key (the new secret key here) the acceptance is signed at once and one round is left.

Worked example: a recovery key kept offline, with openssl standing in for the signer:
  openssl pkey -in recovery.pem -pubout -out recovery.pub.pem     (on the offline machine)
  accord sign --recover --public-key recovery.pub.pem --org 'Acme Corp' --new acme-new.pub \\
      --next-recovery-key recovery-2.pub --reason 'key stolen' --emit-tbs recover.tbs
  openssl pkeyutl -sign -rawin -inkey recovery.pem -in recover.tbs -out recover.sig   (offline)
  accord sign --tbs recover.tbs --signature recover.sig --public-key recovery.pub.pem --out recover.cose
  accord append recover.cose

Public key files (--public-key, --new, --recovery-key, --next-recovery-key) may be accord's
(accord-ed25519:...), OpenSSH (ssh-ed25519 ...), PEM (-----BEGIN PUBLIC KEY-----, what
`openssl pkey -pubout` writes) or DER SubjectPublicKeyInfo (44 bytes, RFC 8410).

Entry indexes (--withdraw 20, --supersedes 9) and key-id prefixes (--target, at least 16 hex
digits) are looked up in the ledger (--ledger DIR, ACCORD_LEDGER) when it is at hand; offline,
give the statement id (64 hex digits, which `accord show INDEX` prints) or the whole key id.
The origin defaults to the ledger's when one is at hand (else --origin).
A date alone in --expires is the END of that day (UTC): --expires 2027-12-31 expires at
2028-01-01T00:00:00Z; an RFC 3339 time is exact.";

/// What `accord sign` signs, and how.
#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("kind").args(["register", "withdraw", "rotate", "revoke", "recover"]).multiple(false)))]
#[command(group(ArgGroup::new("installs").args(["rotate", "recover"]).multiple(false)))]
#[command(group(ArgGroup::new("reasoned").args(["withdraw", "revoke", "recover"]).multiple(false)))]
pub struct SignArgs {
    /// The signing key's secret key file, to sign here (with --recover: the recovery key).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["public_key"])]
    pub key: Option<PathBuf>,
    /// The signing key's public key file, when its secret key is elsewhere (an HSM, a KMS, an
    /// offline machine): with --emit-tbs, and with --signature. accord's, OpenSSH, PEM or DER.
    #[arg(long, value_name = "FILE.pub")]
    pub public_key: Option<PathBuf>,
    /// The organisation's name (with --acceptance: default, the acceptance's).
    #[arg(long, value_name = "NAME")]
    pub org: Option<String>,
    /// The origin of the ledger the statement is for (default: the ledger's, when one is at
    /// hand).
    #[arg(long)]
    pub origin: Option<String>,
    /// Sign a registration of the organisation and the signing key.
    #[arg(long)]
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
    /// Sign a withdrawal of this attestation: an entry index (looked up in the ledger at hand)
    /// or a statement id.
    #[arg(long, value_name = "INDEX|ID")]
    pub withdraw: Option<String>,
    /// Sign a rotation from the signing key (the current key) to --new, carrying the new key's
    /// acceptance (or --acceptance FILE, the acceptance signed already).
    #[arg(long)]
    pub rotate: bool,
    /// Sign a revocation of the signing key from now on (or of --target).
    #[arg(long)]
    pub revoke: bool,
    /// Sign a recovery with the organisation's recovery key (--key or --public-key): it ends
    /// every current key, installs --new and commits to --next-recovery-key.
    #[arg(long)]
    pub recover: bool,
    /// With --rotate or --recover: the key installed (a public key file, or a secret one; with
    /// --rotate a secret key here signs its acceptance at once).
    #[arg(long, value_name = "NEW", requires = "installs")]
    pub new: Option<PathBuf>,
    /// With --rotate: the new key's acceptance, signed already (step 1 of a rotation by an
    /// external new key).
    #[arg(long, value_name = "FILE", requires = "rotate", conflicts_with = "new")]
    pub acceptance: Option<PathBuf>,
    /// With --revoke: the key to revoke, by key id or at least 16 hex digits of it (default:
    /// the signing key).
    #[arg(long, value_name = "KID", requires = "revoke")]
    pub target: Option<String>,
    /// With --recover: the next recovery public key (a recovery key works once).
    #[arg(long, value_name = "FILE.pub", requires = "recover")]
    pub next_recovery_key: Option<PathBuf>,
    /// With --recover: since when statements by the ended keys are distrusted (YYYY-MM-DD, the
    /// start of that day in UTC, or RFC 3339).
    #[arg(long, value_name = "DATE", requires = "recover")]
    pub compromised_since: Option<String>,
    /// Why (with --withdraw, --revoke or --recover).
    #[arg(long, requires = "reasoned")]
    pub reason: Option<String>,
    /// Norm ids (see `accord norms`), repeated or separated by commas.
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',', conflicts_with = "kind")]
    pub norm: Vec<String>,
    /// What the pledge covers.
    #[arg(long, value_name = "TEXT", num_args = 1.., conflicts_with = "kind")]
    pub scope: Vec<String>,
    /// When the pledge lapses: YYYY-MM-DD is the END of that day in UTC, an RFC 3339 time is
    /// exact.
    #[arg(long, value_name = "DATE", conflicts_with = "kind")]
    pub expires: Option<String>,
    /// Free text.
    #[arg(long, value_name = "TEXT", conflicts_with = "kind")]
    pub note: Option<String>,
    /// An earlier attestation this one renews or amends: an entry index (looked up in the
    /// ledger at hand) or a statement id.
    #[arg(long, value_name = "INDEX|ID", conflicts_with = "kind")]
    pub supersedes: Option<String>,
    /// Write the exact bytes to sign (the COSE Sig_structure) to FILE instead of signing.
    #[arg(long, value_name = "FILE", conflicts_with = "signature")]
    pub emit_tbs: Option<PathBuf>,
    /// Build the statement from a to-be-signed file (made by --emit-tbs) and a detached
    /// Ed25519 signature made elsewhere (64 raw bytes, or base64 or hex text).
    #[arg(
        long,
        value_name = "SIGFILE",
        requires_all = ["public_key", "tbs"],
        conflicts_with_all = ["kind", "key", "norm", "scope"]
    )]
    pub signature: Option<PathBuf>,
    /// With --signature: the to-be-signed file made by --emit-tbs.
    #[arg(long, value_name = "FILE", requires = "signature")]
    pub tbs: Option<PathBuf>,
    /// Where to write the signed statement; `-` is standard output (for `| accord append -`).
    #[arg(long, value_name = "FILE", required_unless_present = "emit_tbs")]
    pub out: Option<PathBuf>,
    /// Replace an existing --out or --emit-tbs file, if it is one accord wrote (a statement,
    /// to-be-signed bytes, an export or a proof), atomically. Without it, an existing file is
    /// never overwritten.
    #[arg(long)]
    pub force: bool,
}
