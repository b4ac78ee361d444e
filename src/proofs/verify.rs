//! Verifying a bundle or a consistency proof offline, against the ledger key.

use super::*;

/// A recovery in a bundle's key history whose compromise time makes the proved entry
/// untrusted (docs/FORMAT.md section 7): valid history, not to be relied on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UntrustedBy {
    /// Index of the recovery entry.
    pub recovery_index: u64,
    /// The compromise time it set.
    pub compromised_since: Seconds,
}

/// What a verified bundle established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    /// The verified checkpoint.
    pub checkpoint: SignedCheckpoint,
    /// The entry's index.
    pub index: u64,
    /// Its statement.
    pub statement: Statement,
    /// When it was logged.
    pub logged_at: i64,
    /// The registration's index.
    pub registration_index: u64,
    /// The organisation's name as its registration (in the bundle) wrote it.
    pub org_name: String,
    /// The domain its registration claims (self-asserted), if any.
    pub domain: Option<String>,
    /// Number of key-history entries the bundle held (and that were checked).
    pub key_history_len: usize,
    /// The verified earlier checkpoint, if the bundle carried a consistency proof.
    pub consistent_from: Option<SignedCheckpoint>,
    /// Set when a recovery in the bundle's key history makes the entry untrusted (the first
    /// such recovery). The bundle is still authentic.
    pub untrusted_by: Option<UntrustedBy>,
}

/// Names a key-history item in messages: its position in the bundle and its leaf index.
fn item_err(k: usize, inc: &Included, problem: impl std::fmt::Display) -> BundleError {
    entry_err(
        "key_history",
        format!("item {k} (entry {}): {problem}", inc.leaf_index),
    )
}

/// Decodes an included entry and its statement strictly, checks its inclusion proof against
/// the checkpoint, the statement's origin, and the section 7 log time bound
/// (`iat ≤ logged_at + MAX_FUTURE_SKEW`). `item` is the position of a key-history item.
fn check_included(
    what: &'static str,
    item: Option<usize>,
    inc: &Included,
    cp: &SignedCheckpoint,
) -> Result<(Entry, Statement), BundleError> {
    let err = |problem: String| match item {
        Some(k) => item_err(k, inc, problem),
        None => entry_err(what, problem),
    };
    let e = Entry::decode(&inc.entry).map_err(|e| err(e.to_string()))?;
    if e.index != inc.leaf_index {
        return Err(err(format!(
            "entry says index {}, bundle says {}",
            e.index, inc.leaf_index
        )));
    }
    merkle::verify_inclusion(
        inc.leaf_index,
        cp.checkpoint.size,
        &merkle::leaf_hash(&inc.entry),
        &inc.path,
        &cp.checkpoint.root,
    )
    .map_err(|source| match item {
        Some(_) => err(format!("inclusion proof: {source}")),
        None => BundleError::Proof {
            what: if what == "entry" {
                "inclusion proof"
            } else {
                "registration inclusion proof"
            },
            source,
        },
    })?;
    let st = Statement::decode(&e.statement).map_err(|e| err(format!("statement: {e}")))?;
    if st.payload.origin != cp.checkpoint.origin.as_str() {
        return Err(err("statement is for another ledger".into()));
    }
    if st.payload.iat > e.logged_at.saturating_add(MAX_FUTURE_SKEW) {
        let r = Rejection::IssuedInFuture {
            iat: crate::time::format(st.payload.iat),
            logged: crate::time::format(e.logged_at),
        };
        return Err(err(format!(
            "{r} by more than {MAX_FUTURE_SKEW} seconds, which the ledger rules refuse"
        )));
    }
    Ok((e, st))
}

/// Applies the section 7 rules to a statement of the organisation's own history (its
/// registration or a key change before the entry) and records its effects.
#[allow(clippy::too_many_arguments)]
fn replay_one(
    reg: &mut MemRegistry,
    origin: &str,
    catalogue: &Catalogue,
    index: u64,
    logged_at: Seconds,
    version: u64,
    st: &Statement,
    err: impl Fn(String) -> BundleError,
) -> Result<(), BundleError> {
    let key = rules::check_rules(st, origin, logged_at, version, reg, catalogue)
        .map_err(|e| err(e.to_string()))?
        .map_err(|e| err(e.to_string()))?;
    st.verify_signature(&key).map_err(|e| err(e.to_string()))?;
    rules::apply(reg, index, logged_at, st).map_err(|e| err(e.to_string()))
}

impl Bundle {
    /// Verifies everything a bundle can prove, offline, against the ledger key.
    ///
    /// # Errors
    /// [`BundleError`] naming the first thing that fails.
    pub fn verify(&self, vkey: &VerifierKey, catalogue: &Catalogue) -> Result<BundleReport, BundleError> {
        let cp = SignedCheckpoint::open(&self.checkpoint, vkey)?;
        if cp.checkpoint.size != self.tree_size {
            return Err(BundleError::Format(format!(
                "tree_size {} differs from the checkpoint's size {}",
                self.tree_size, cp.checkpoint.size
            )));
        }
        let origin = cp.checkpoint.origin.as_str();
        let (e, st) = check_included("entry", None, &self.entry, &cp)?;
        let key = PublicKey::from_bytes(&self.signatory_key)
            .map_err(|e| entry_err("signatory_key", e.to_string()))?;
        st.verify_signature(&key)
            .map_err(|e| entry_err("entry", e.to_string()))?;
        let (reg_e, reg) = check_included("registration", None, &self.registration, &cp)?;
        if self.registration.leaf_index > self.entry.leaf_index {
            return Err(entry_err(
                "registration",
                "comes after the entry it should authorise",
            ));
        }
        if self.registration.leaf_index == self.entry.leaf_index
            && self.registration.entry != self.entry.entry
        {
            return Err(entry_err(
                "registration",
                "differs from the entry at the same index",
            ));
        }
        let (org_name, domain) = match &reg.payload.body {
            Body::Registration(r) => (r.name.clone(), r.domain.clone()),
            _ => return Err(entry_err("registration", "is not a registration")),
        };
        if reg.iss != st.iss {
            return Err(entry_err(
                "registration",
                format!("registers {:?}, but the entry speaks for {:?}", reg.iss, st.iss),
            ));
        }
        // Replay the organisation's registration and the key history the bundle holds up to the
        // entry with the ledger rules (docs/FORMAT.md section 7), to find the keys that spoke
        // for it when the entry was logged.
        let mut registry = MemRegistry::default();
        replay_one(
            &mut registry,
            origin,
            catalogue,
            reg_e.index,
            reg_e.logged_at,
            reg_e.version,
            &reg,
            |p| entry_err("registration", p),
        )?;
        let mut versions = vec![(reg_e.index, reg_e.version)];
        let mut last = self.registration.leaf_index;
        let mut later = Vec::new();
        for (k, h) in self.key_history.iter().enumerate() {
            if h.leaf_index <= last {
                return Err(item_err(
                    k,
                    h,
                    "out of order: items follow the registration in strictly increasing index order",
                ));
            }
            last = h.leaf_index;
            let (he, hs) = check_included("key_history", Some(k), h, &cp)?;
            if hs.iss != st.iss {
                return Err(item_err(
                    k,
                    h,
                    format!("is an entry of {:?}, not of {:?}", hs.iss, st.iss),
                ));
            }
            if !matches!(hs.kind(), Kind::Rotation | Kind::Revocation | Kind::Recovery) {
                return Err(item_err(
                    k,
                    h,
                    format!("is of kind {}, not a rotation, revocation or recovery", hs.kind()),
                ));
            }
            if h.leaf_index == self.entry.leaf_index && h.entry != self.entry.entry {
                return Err(item_err(k, h, "differs from the entry at the same index"));
            }
            versions.push((he.index, he.version));
            if h.leaf_index < self.entry.leaf_index {
                replay_one(
                    &mut registry,
                    origin,
                    catalogue,
                    he.index,
                    he.logged_at,
                    he.version,
                    &hs,
                    |p| item_err(k, h, p),
                )?;
            } else {
                // At or after the entry: checked above, not replayed (section 8).
                later.push((he, hs));
            }
        }
        // The rules version never decreases along the chain (section 5): nor among the entries
        // a bundle holds, in index order.
        versions.push((e.index, e.version));
        versions.sort_unstable();
        if let Some(w) = versions.windows(2).find(|w| w[1].1 < w[0].1) {
            return Err(entry_err(
                "key_history",
                format!(
                    "entry {} is of rules version {} after entry {} of version {} (the version never decreases along the chain)",
                    w[1].0, w[1].1, w[0].0, w[0].1
                ),
            ));
        }
        let org_err = |e: crate::verdict::VerifyError| entry_err("entry", e.to_string());
        let valid = match &st.payload.body {
            // A recovery is signed by the committed recovery key, not by a current key; a
            // recovery key works once.
            Body::Recovery(rc) => {
                let kid = rc.recovery_key.kid();
                rc.recovery_key == key
                    && registry.org(&st.iss).map_err(org_err)?.and_then(|o| o.recovery) == Some(kid)
                    && registry.used_recovery(&kid).map_err(org_err)?.is_none()
            }
            Body::Registration(_) => self.registration.leaf_index == self.entry.leaf_index,
            _ => registry.key(&key.kid()).map_err(org_err)?.is_some_and(|rec| {
                rec.org == st.iss && rec.ended.is_none() && rec.public_key == key.to_bytes()
            }),
        };
        if !valid {
            return Err(entry_err(
                "entry",
                format!(
                    "according to the {} key-history entries in the bundle, its key did not speak for {:?} when it was logged",
                    self.key_history.len(),
                    st.iss
                ),
            ));
        }
        if let Body::Attestation(a) = &st.payload.body {
            if a.catalogue != catalogue.version {
                return Err(entry_err(
                    "entry",
                    format!("unknown norms catalogue version {}", a.catalogue),
                ));
            }
            for n in &a.norms {
                match catalogue.get(n.id.as_str()) {
                    Some(c) if c.text_hash() == n.text_hash => {}
                    _ => {
                        return Err(entry_err(
                            "entry",
                            format!("norm {} is not the catalogue's", n.id),
                        ))
                    }
                }
            }
        }
        // The key changes at and after the entry are not replayed with the rules, but their
        // effects on the organisation's keys are recorded, so that a later recovery's
        // compromise mark covers exactly the keys section 7 says it does.
        for (he, hs) in &later {
            rules::apply(&mut registry, he.index, he.logged_at, hs)
                .map_err(|e| entry_err("key_history", e.to_string()))?;
        }
        // A registration or a recovery is never made untrusted (FORMAT.md section 7).
        let registration = matches!(st.payload.body, Body::Registration(_) | Body::Recovery(_));
        let untrusted_by = registry
            .marks()
            .iter()
            .filter(|m| !registration && m.covers(&st.iss, &st.kid, e.index, e.logged_at))
            .min_by_key(|m| m.index)
            .map(|m| UntrustedBy {
                recovery_index: m.index,
                compromised_since: m.since,
            });
        let consistent_from = match &self.consistency {
            Some(c) => {
                let old = SignedCheckpoint::open(&c.from_checkpoint, vkey)?;
                merkle::verify_consistency(
                    old.checkpoint.size,
                    cp.checkpoint.size,
                    &old.checkpoint.root,
                    &cp.checkpoint.root,
                    &c.path,
                )
                .map_err(|source| BundleError::Proof {
                    what: "consistency proof",
                    source,
                })?;
                Some(old)
            }
            None => None,
        };
        Ok(BundleReport {
            checkpoint: cp,
            index: self.entry.leaf_index,
            logged_at: e.logged_at,
            statement: st,
            registration_index: self.registration.leaf_index,
            org_name,
            domain,
            key_history_len: self.key_history.len(),
            consistent_from,
            untrusted_by,
        })
    }

    /// The C2SP tlog-proof form (`c2sp.org/tlog-proof@v1`) of this bundle's inclusion proof,
    /// with the entry bytes in its `extra` line (see [`crate::proofs::tlog`]).
    pub fn to_tlog_proof(&self) -> crate::proofs::tlog::TlogProof {
        crate::proofs::tlog::TlogProof {
            extra: Some(self.entry.entry.clone()),
            index: self.entry.leaf_index,
            path: self.entry.path.clone(),
            checkpoint: self.checkpoint.clone(),
        }
    }
}

impl ConsistencyProof {
    /// Verifies both checkpoints and the path between them.
    ///
    /// # Errors
    /// [`BundleError`]; an inconsistent pair is `BundleError::Proof` (fork evidence).
    pub fn verify(&self, vkey: &VerifierKey) -> Result<(SignedCheckpoint, SignedCheckpoint), BundleError> {
        let old = SignedCheckpoint::open(&self.old, vkey)?;
        let new = SignedCheckpoint::open(&self.new, vkey)?;
        if old.checkpoint.size == 0 || old.checkpoint.size > new.checkpoint.size {
            return Err(BundleError::Format(format!(
                "cannot prove consistency from size {} to {}",
                old.checkpoint.size, new.checkpoint.size
            )));
        }
        merkle::verify_consistency(
            old.checkpoint.size,
            new.checkpoint.size,
            &old.checkpoint.root,
            &new.checkpoint.root,
            &self.path,
        )
        .map_err(|source| BundleError::Proof {
            what: "consistency proof",
            source,
        })?;
        Ok((old, new))
    }
}
