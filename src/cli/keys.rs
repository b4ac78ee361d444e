//! Signatories' keys and registration: `accord key generate`, `accord register`.

use std::path::Path;

use anyhow::anyhow;

use accord::keyfile;
use accord::statement::{self, Body, Registration};

use super::context::*;
use super::destination::{self, sign_and_submit, DestinationArgs};
use super::display::shown;
use super::fail::Fail;
use super::terminal::note;

pub(super) fn key_generate(name: &str, dir: Option<&Path>, encrypt: bool) -> Res {
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

pub(super) fn register(
    dir: &Path,
    key: &Path,
    org: &str,
    domain: Option<String>,
    contact: Option<String>,
    recovery_key: Option<&Path>,
    to: &DestinationArgs,
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
    let to = destination::open(dir, to)?;
    if let Some(c) = &recovery {
        // A spent recovery key can never recover anything (the ledger rules refuse its second
        // use), so committing to it would leave the organisation without a recovery.
        if let Some(by) = to.recovery_used_by(c)? {
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
        domain: domain.as_deref().map(domain_arg),
        contact: contact.as_deref().map(contact_arg),
        recovery,
    });
    sign_and_submit(to.as_ref(), &sk, &iss, body)?;
    note!("note: the registration is self-asserted; nothing in this version proves the name or domain");
    if !committed {
        note!(
            "note: registered WITHOUT a recovery key: if this key is lost or stolen the organisation cannot be recovered (use --recovery-key FILE.pub)"
        );
    }
    Ok(())
}
