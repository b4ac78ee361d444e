//! What each statement kind requires of the ledger so far (docs/FORMAT.md section 7).

use super::{Registry, Rejection, MAX_FUTURE_SKEW};
use crate::keys::PublicKey;
use crate::norms::Catalogue;
use crate::statement::{Body, Kind, Statement, StatementError, StatementId};
use crate::time::Seconds;
use crate::verdict::VerifyError;

/// Checks the ledger rules for a statement logged at `logged_at` in an entry of `version`
/// (the rules version, docs/FORMAT.md section 5) and returns the key that must have signed
/// it. The signature itself is checked by the caller (in parallel).
///
/// # Errors
/// [`Rejection`] for a rule broken; [`VerifyError`] for storage failures.
pub fn check_rules(
    st: &Statement,
    origin: &str,
    logged_at: Seconds,
    version: u64,
    reg: &impl Registry,
    catalogue: &Catalogue,
) -> Result<Result<PublicKey, Rejection>, VerifyError> {
    let p = &st.payload;
    if p.origin != origin {
        return Ok(Err(Rejection::WrongOrigin {
            expected: origin.to_string(),
            found: p.origin.clone(),
        }));
    }
    if p.iat > logged_at.saturating_add(MAX_FUTURE_SKEW) {
        return Ok(Err(Rejection::IssuedInFuture {
            iat: crate::time::format(p.iat),
            logged: crate::time::format(logged_at),
        }));
    }
    if let Some(index) = reg.statement(&st.id())? {
        return Ok(Err(Rejection::Duplicate { index }));
    }
    let key_free = |k: &PublicKey| -> Result<Option<Rejection>, VerifyError> {
        if let Some(rec) = reg.key(&k.kid())? {
            return Ok(Some(Rejection::KeyInUse { org: rec.org }));
        }
        // (v2) A key revealed by a recovery was a recovery key: it never becomes a signing key.
        if version >= 2 && reg.used_recovery(&k.kid())?.is_some() {
            return Ok(Some(Rejection::RecoveryKeyAsSigningKey {
                what: "this key (used before as a recovery key)",
            }));
        }
        Ok(None)
    };
    // (v2) A recovery commitment may not be to a key installed as a signing key (by anyone):
    // the two keys must be two.
    let commitment_free = |c: &[u8; 32]| -> Result<Option<Rejection>, VerifyError> {
        if version >= 2 && reg.key(c)?.is_some() {
            return Ok(Some(Rejection::CommitmentToSigningKey));
        }
        Ok(None)
    };
    match &p.body {
        Body::Registration(r) => {
            if let Some(o) = reg.org(&st.iss)? {
                return Ok(Err(Rejection::NameTaken {
                    org: st.iss.clone(),
                    index: o.registration,
                }));
            }
            if let Some(e) = key_free(&r.public_key)? {
                return Ok(Err(e));
            }
            if version >= 2 && r.recovery == Some(r.public_key.kid()) {
                return Ok(Err(Rejection::RecoveryKeyAsSigningKey {
                    what: "the key being registered",
                }));
            }
            if let Some(c) = &r.recovery {
                if let Some(e) = commitment_free(c)? {
                    return Ok(Err(e));
                }
            }
            if version >= 2 {
                let key = match crate::names::comparison_key(&r.name) {
                    Ok(k) => k,
                    Err(e) => return Ok(Err(Rejection::NameRefused(e))),
                };
                if let Some((index, existing)) = reg.name_key(&key)? {
                    return Ok(Err(Rejection::LooksLike { existing, index }));
                }
            }
            return Ok(Ok(r.public_key));
        }
        Body::Acceptance(_) => return Ok(Err(Rejection::NestedOnly)),
        Body::Recovery(r) => {
            let Some(org) = reg.org(&st.iss)? else {
                return Ok(Err(Rejection::UnknownOrg(st.iss.clone())));
            };
            let presented = r.recovery_key.kid();
            match org.recovery {
                None => return Ok(Err(Rejection::NoRecoveryKey(st.iss.clone()))),
                Some(c) if c != presented => {
                    return Ok(Err(if reg.used_recovery(&presented)?.is_some() {
                        Rejection::RecoveryKeyUsed
                    } else {
                        Rejection::RecoveryKeyMismatch
                    }));
                }
                Some(_) => {}
            }
            // Whatever committed to it again, a recovery key used once is spent.
            if reg.used_recovery(&presented)?.is_some() {
                return Ok(Err(Rejection::RecoveryKeyUsed));
            }
            if let Some(e) = key_free(&r.new_key)? {
                return Ok(Err(e));
            }
            if let Some(e) = commitment_free(&r.next_recovery)? {
                return Ok(Err(e));
            }
            if r.compromised_since.is_some_and(|t| t > logged_at) {
                return Ok(Err(Rejection::Statement(StatementError::Invalid(
                    "compromised_since is after the time the recovery is logged".into(),
                ))));
            }
            return Ok(Ok(r.recovery_key));
        }
        _ => {}
    }
    let Some(rec) = reg.key(&st.kid)? else {
        return Ok(Err(Rejection::UnregisteredKey {
            kid: hex::encode(st.kid),
        }));
    };
    if rec.org != st.iss {
        return Ok(Err(Rejection::IssuerMismatch {
            iss: st.iss.clone(),
            org: rec.org,
        }));
    }
    if let Some((index, _)) = rec.ended {
        return Ok(Err(Rejection::KeyEnded {
            kid: hex::encode(st.kid),
            index,
        }));
    }
    let key = reg.verifying_key(&st.kid, &rec)?;
    let live_target = |target: &StatementId, what: &'static str| -> Result<Option<Rejection>, VerifyError> {
        match reg.live(target)? {
            Some((index, owner)) if owner != st.iss => {
                Ok(Some(Rejection::OtherOrganisation { index, owner }))
            }
            Some(_) => Ok(None),
            None => {
                let Some(index) = reg.statement(target)? else {
                    return Ok(Some(Rejection::NoSuchStatement(hex::encode(target))));
                };
                let why = match reg.owner(index)? {
                    Some((owner, _)) if owner != st.iss => {
                        return Ok(Some(Rejection::OtherOrganisation { index, owner }));
                    }
                    Some((_, Kind::Attestation)) => "it was already withdrawn or superseded",
                    Some((_, k)) => match k {
                        Kind::Registration => "it is a registration",
                        Kind::Withdrawal => "it is a withdrawal",
                        _ => "it is not an attestation",
                    },
                    None => "it is missing",
                };
                Ok(Some(Rejection::NotWithdrawable { index, why, what }))
            }
        }
    };
    match &p.body {
        Body::Attestation(a) => {
            if a.catalogue != catalogue.version {
                return Ok(Err(Rejection::UnknownCatalogue(a.catalogue)));
            }
            for n in &a.norms {
                let Some((_, text_hash)) = catalogue.get_with_hash(n.id.as_str()) else {
                    return Ok(Err(Rejection::UnknownNorm(n.id.to_string())));
                };
                if text_hash != n.text_hash {
                    return Ok(Err(Rejection::NormTextMismatch(n.id.to_string())));
                }
            }
            if let Some(t) = &a.supersedes {
                if let Some(e) = live_target(t, "superseded")? {
                    return Ok(Err(e));
                }
            }
        }
        Body::Withdrawal(w) => {
            if let Some(e) = live_target(&w.target, "withdrawn")? {
                return Ok(Err(e));
            }
        }
        Body::Rotation(r) => {
            if let Some(k) = r.new_key() {
                if let Some(e) = key_free(k)? {
                    return Ok(Err(e));
                }
                if version >= 2 && reg.org(&st.iss)?.and_then(|o| o.recovery) == Some(k.kid()) {
                    return Ok(Err(Rejection::RecoveryKeyAsSigningKey { what: "the new key" }));
                }
            }
        }
        Body::Revocation(r) => {
            let Some(target) = reg.key(&r.target)? else {
                return Ok(Err(Rejection::NoSuchKey(hex::encode(r.target))));
            };
            if target.org != st.iss {
                return Ok(Err(Rejection::KeyOfAnotherOrg {
                    kid: hex::encode(r.target),
                    org: target.org,
                }));
            }
            if let Some((index, _)) = target.ended {
                return Ok(Err(Rejection::TargetEnded {
                    kid: hex::encode(r.target),
                    index,
                }));
            }
            if r.target != st.kid && target.registration >= rec.registration {
                return Ok(Err(Rejection::RevokeNewer));
            }
        }
        // Handled above.
        Body::Registration(_) | Body::Acceptance(_) | Body::Recovery(_) => {}
    }
    Ok(Ok(key))
}
