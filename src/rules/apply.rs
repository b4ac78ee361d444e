//! Recording an accepted statement's effects: the one place that decides them, for the
//! custodian's tables and a verifier's replay alike.

use std::collections::HashSet;

use super::{HistoryItem, KeyRecord, OrgRecord, RecoveryMark, Registry};
use crate::keys::PublicKey;
use crate::statement::{Body, Statement, StatementId};
use crate::time::Seconds;
use crate::verdict::VerifyError;

/// Records the effects of a statement accepted at `index`, logged at `logged_at`.
///
/// # Errors
/// Storage failures.
pub fn apply(
    reg: &mut impl Registry,
    index: u64,
    logged_at: Seconds,
    st: &Statement,
) -> Result<(), VerifyError> {
    let id = st.id();
    let target = |reg: &mut dyn RegistryDyn, t: Option<&StatementId>| -> Result<Option<u64>, VerifyError> {
        match t {
            Some(t) => reg.statement_dyn(t),
            None => Ok(None),
        }
    };
    let ends = match &st.payload.body {
        Body::Attestation(a) => target(&mut Dyn(reg), a.supersedes.as_ref())?,
        Body::Withdrawal(w) => target(&mut Dyn(reg), Some(&w.target))?,
        _ => None,
    };
    reg.put_statement(
        &id,
        &st.iss,
        &HistoryItem {
            index,
            logged_at,
            kid: st.kid,
            ends,
            kind: st.kind(),
        },
    )?;
    let new_key = |k: &PublicKey| KeyRecord {
        public_key: k.to_bytes(),
        registration: index,
        org: st.iss.clone(),
        ended: None,
    };
    let end = |reg: &mut dyn RegistryDyn, kid: &[u8; 32]| -> Result<(), VerifyError> {
        if let Some(mut rec) = reg.key_dyn(kid)? {
            if rec.ended.is_none() {
                rec.ended = Some((index, logged_at));
                reg.put_key_dyn(kid, &rec)?;
            }
        }
        Ok(())
    };
    match &st.payload.body {
        Body::Registration(r) => {
            // The name's comparison key, recorded unless an earlier registration holds it (a
            // version-2 registration whose key is taken was refused; a version-1 one is not,
            // and the first registration of a key wins). Keys of both versions are computed
            // alike; a name a version-1 entry may hold that has none is not recorded.
            if let Some(key) = crate::names::comparison_key_v1(&r.name) {
                if reg.name_key(&key)?.is_none() {
                    reg.put_name_key(&key, index, &r.name)?;
                }
            }
            reg.put_key(&st.kid, &new_key(&r.public_key))?;
            reg.put_org(
                &st.iss,
                &OrgRecord {
                    registration: index,
                    recovery: r.recovery,
                },
            )?;
        }
        Body::Attestation(a) => {
            if let Some(t) = &a.supersedes {
                reg.remove_live(t, &st.iss, index)?;
            }
            let norms: Vec<&str> = a.norms.iter().map(|n| n.id.as_str()).collect();
            reg.put_live(&id, index, &st.iss, &norms, a.expires)?;
        }
        Body::Withdrawal(w) => reg.remove_live(&w.target, &st.iss, index)?,
        Body::Acceptance(_) => {}
        Body::Rotation(r) => {
            end(&mut Dyn(reg), &st.kid)?;
            if let Some(k) = r.new_key() {
                reg.put_key(&k.kid(), &new_key(k))?;
            }
        }
        Body::Revocation(r) => end(&mut Dyn(reg), &r.target)?,
        Body::Recovery(r) => {
            let mut keys = reg.keys_of(&st.iss)?;
            if let Some(since) = r.compromised_since {
                let kids: HashSet<[u8; 32]> = keys
                    .iter()
                    .filter(|(_, k)| k.ended.is_none_or(|(_, t)| t > since))
                    .map(|(kid, _)| *kid)
                    .collect();
                void_untrusted(reg, &st.iss, index, since, &kids, &mut keys)?;
                reg.put_mark(RecoveryMark {
                    org: st.iss.clone(),
                    index,
                    since,
                    kids,
                })?;
            }
            for (kid, k) in keys {
                if k.ended.is_none() {
                    end(&mut Dyn(reg), &kid)?;
                }
            }
            reg.put_key(&r.new_key.kid(), &new_key(&r.new_key))?;
            let org = reg.org(&st.iss)?.map(|o| o.registration).unwrap_or(index);
            reg.put_used_recovery(&r.recovery_key.kid(), &st.iss)?;
            reg.put_org(
                &st.iss,
                &OrgRecord {
                    registration: org,
                    recovery: Some(r.next_recovery),
                },
            )?;
        }
    }
    Ok(())
}

/// The effects of a compromise mark (docs/FORMAT.md section 7): every statement of `org`
/// logged after `since`, before the recovery at `recovery`, and signed by one of `kids` becomes
/// untrusted, and what it did is void. An attestation it withdrew or superseded is live again
/// (if nothing since ended it again); a key it ended (a rotation's signing key, a revoked key)
/// no longer counts as ended there, so the recovery ends it with the others. `keys` is the
/// organisation's keys, updated in place to match the registry.
fn void_untrusted(
    reg: &mut impl Registry,
    org: &str,
    recovery: u64,
    since: Seconds,
    kids: &HashSet<[u8; 32]>,
    keys: &mut [([u8; 32], KeyRecord)],
) -> Result<(), VerifyError> {
    // Registrations and recoveries are never made untrusted: they are what authorises this
    // recovery (the commitment it answers to).
    let covered: Vec<HistoryItem> = reg
        .history_since(org, since, recovery)?
        .into_iter()
        .filter(|h| kids.contains(&h.kid) && h.can_be_untrusted())
        .collect();
    for h in &covered {
        if reg.untrusted(h.index)?.is_none() {
            reg.put_untrusted(h.index, recovery)?;
        }
    }
    for h in &covered {
        if let Some(t) = h.ends {
            if let Some((tid, by)) = reg.ended(t)? {
                if by == h.index {
                    reg.relive(t, &tid, org)?;
                }
            }
        }
    }
    for (kid, k) in keys.iter_mut() {
        if let Some((i, _)) = k.ended {
            if covered.iter().any(|h| h.index == i) {
                k.ended = None;
                reg.put_key(kid, k)?;
            }
        }
    }
    Ok(())
}

/// Object-safe slice of [`Registry`] used inside [`apply`].
trait RegistryDyn {
    fn key_dyn(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError>;
    fn put_key_dyn(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError>;
    fn statement_dyn(&self, id: &StatementId) -> Result<Option<u64>, VerifyError>;
}

struct Dyn<'a, R: Registry + ?Sized>(&'a mut R);

impl<R: Registry + ?Sized> RegistryDyn for Dyn<'_, R> {
    fn key_dyn(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError> {
        self.0.key(kid)
    }
    fn put_key_dyn(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError> {
        self.0.put_key(kid, rec)
    }
    fn statement_dyn(&self, id: &StatementId) -> Result<Option<u64>, VerifyError> {
        self.0.statement(id)
    }
}
