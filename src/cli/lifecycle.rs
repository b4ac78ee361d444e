//! The key lifecycle: `key rotate`, `key revoke`, `key recover`.

use std::path::Path;

use anyhow::anyhow;

use accord::statement::{self, Acceptance, Body, Payload, Recovery, Revocation, Rotation};
use accord::time;

use super::context::*;
use super::destination::{self, sign_and_submit, Destination, DestinationArgs};
use super::fail::Fail;
use super::terminal::note;

pub(super) fn rotate(dir: &Path, old: &Path, new: &Path, to: &DestinationArgs) -> Res {
    let old_sk = load_signing_key(old)?;
    let new_sk = load_secret_key(new, "--new").map_err(|f| {
        f.hint("a new key held elsewhere (an HSM, a KMS, offline) signs its acceptance with `accord sign --rotate` (see `accord sign --help`)")
    })?;
    if old_sk.public() == new_sk.public() {
        return Err(Fail::usage(anyhow!("--new is the same key as --key")));
    }
    let to = destination::open(dir, to)?;
    let org = to.org_of_key(&old_sk.public().kid())?;
    let origin = to.origin()?;
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
    sign_and_submit(
        to.as_ref(),
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

/// `--target`: a whole key id, or a prefix of at least 16 hex digits resolved among the
/// organisation's keys (the signing key's included).
fn revocation_target(to: &dyn Destination, org: &str, signing: [u8; 32], t: &str) -> Res<[u8; 32]> {
    let p = kid_prefix("--target", t)?;
    if p.len() == 64 {
        return parse_id(&p);
    }
    let mut keys = to.keys_of_org(org)?;
    keys.push(signing);
    resolve_kid("--target", &p, org, &keys)
}

pub(super) fn revoke(
    dir: &Path,
    key: &Path,
    target: Option<&str>,
    reason: &str,
    to: &DestinationArgs,
) -> Res {
    let sk = load_signing_key(key)?;
    let to = destination::open(dir, to)?;
    let org = to.org_of_key(&sk.public().kid())?;
    let target = match target {
        Some(t) => revocation_target(to.as_ref(), &org, sk.public().kid(), t)?,
        None => sk.public().kid(),
    };
    sign_and_submit(
        to.as_ref(),
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
    to: &DestinationArgs,
) -> Res {
    let rk = load_secret_key(recovery_key, "--recovery-key").map_err(|f| {
        f.hint("a recovery key kept offline signs with `accord sign --recover` (see `accord sign --help`)")
    })?;
    let new_key = load_any_key(new, "--new")?.public();
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
    let to = destination::open(dir, to)?;
    // The organisation is the one whose committed recovery key this is.
    let org = to.org_of_recovery_key(&rk.public().kid())?.ok_or_else(|| {
        // As the ledger's rules refuse a recovery by a key nobody committed to: exit 1.
        Fail::invalid(anyhow!(
            "no organisation in {} committed to recovery key {}",
            to.name(),
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
    sign_and_submit(to.as_ref(), &rk, &org, body)?;
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
