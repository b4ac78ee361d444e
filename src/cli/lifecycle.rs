//! The key lifecycle: `key rotate`, `key revoke`, `key recover`.

use std::path::Path;

use anyhow::anyhow;

use accord::keyfile;
use accord::report::{self};
use accord::statement::{self, Acceptance, Body, Payload, Recovery, Revocation, Rotation};
use accord::time;

use super::context::*;
use super::fail::Fail;
use super::statements::sign_and_append;
use super::terminal::note;

pub(super) fn rotate(dir: &Path, old: &Path, new: &Path) -> Res {
    let old_sk = load_signing_key(old)?;
    let new_sk = load_signing_key(new)?;
    if old_sk.public() == new_sk.public() {
        return Err(Fail::usage(anyhow!("--new is the same key as --key")));
    }
    let l = open_rw(dir)?;
    let org = org_of_key(&l, &old_sk)?;
    let origin = l.origin().map_err(|e| super::fail::ledger(e, 1))?;
    // The new key accepts the organisation and names the key it replaces.
    let acceptance = statement::sign(
        &Payload {
            origin,
            iat: accord::clock::now(),
            nonce: statement::random_nonce(),
            body: Body::Acceptance(Acceptance {
                public_key: new_sk.public(),
                replaces: old_sk.public().kid(),
            }),
        },
        &org,
        &new_sk,
    )
    .map_err(Fail::usage)?;
    sign_and_append(
        &l,
        &old_sk,
        &org,
        Body::Rotation(Rotation {
            acceptance: Box::new(acceptance),
        }),
    )?;
    note!(
        "key {} no longer speaks for {org:?}; key {} does from now on",
        hex::encode(old_sk.public().kid()),
        hex::encode(new_sk.public().kid())
    );
    Ok(())
}

pub(super) fn parse_kid(s: &str) -> Res<[u8; 32]> {
    let bad = || {
        Fail::usage(anyhow!(
            "--target {s:?} is not a key id (64 lowercase hex digits)"
        ))
    };
    if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(bad)
}

pub(super) fn revoke(dir: &Path, key: &Path, target: Option<&str>, reason: &str) -> Res {
    let sk = load_signing_key(key)?;
    let target = match target {
        Some(t) => parse_kid(t)?,
        None => sk.public().kid(),
    };
    let l = open_rw(dir)?;
    let org = org_of_key(&l, &sk)?;
    sign_and_append(
        &l,
        &sk,
        &org,
        Body::Revocation(Revocation {
            target,
            reason: reason.to_string(),
        }),
    )?;
    note!(
        "key {} no longer speaks for {org:?} (revoked from now on)",
        hex::encode(target)
    );
    Ok(())
}

pub(super) fn recover(
    dir: &Path,
    recovery_key: &Path,
    new: &Path,
    next_recovery: &Path,
    compromised_since: Option<&str>,
    reason: &str,
) -> Res {
    let rk = load_signing_key(recovery_key).map_err(|f| f.context("--recovery-key"))?;
    let new_key = match keyfile::read_public_key(new) {
        Ok(k) => k,
        Err(_) => load_signing_key(new).map_err(|f| f.context("--new"))?.public(),
    };
    let next = load_public_key(next_recovery, "--next-recovery-key")?;
    if next == rk.public() {
        return Err(Fail::usage(anyhow!(
            "the next recovery key must be a new key; a recovery key works once"
        )));
    }
    let since = match compromised_since {
        Some(d) => Some(time::parse_date(d).map_err(|e| Fail::usage(e).context("--compromised-since"))?),
        None => None,
    };
    let l = open_rw(dir)?;
    // The organisation is the one whose committed recovery key this is.
    let org = read(&l, |r| {
        let mut found = None;
        r.for_each_entry(0, |i, b| -> Result<bool, accord::ledger::LedgerError> {
            let (_, st) = report::decode_stored(i, b)?;
            match &st.payload.body {
                Body::Registration(reg) if reg.recovery == Some(rk.public().kid()) => {
                    found = Some(st.iss.clone())
                }
                Body::Recovery(rc) if rc.next_recovery == rk.public().kid() => found = Some(st.iss.clone()),
                _ => {}
            }
            Ok(true)
        })?;
        Ok(found)
    })?
    .ok_or_else(|| {
        Fail::usage(anyhow!(
            "no organisation in this ledger committed to recovery key {}",
            hex::encode(rk.public().kid())
        ))
    })?;
    let body = Body::Recovery(Recovery {
        recovery_key: rk.public(),
        new_key,
        next_recovery: next.kid(),
        compromised_since: since,
        reason: reason.to_string(),
    });
    sign_and_append(&l, &rk, &org, body)?;
    note!(
        "every previous key of {org:?} is ended; key {} speaks for it now; keep the next recovery key offline",
        hex::encode(new_key.kid())
    );
    if let Some(t) = since {
        note!(
            "statements by the ended keys logged after {} are now reported as untrusted",
            time::format(t)
        );
    }
    Ok(())
}
