//! Statement payloads: the kinds of statement and their fields, encoded and decoded strictly
//! (docs/FORMAT.md section 4).

use super::text::{check_contact, check_domain, check_free_text, check_text};
use super::*;
use crate::codec::{self, Label, MapReader, Value};
use crate::keys::PublicKey;
use crate::norms::NormId;
use crate::time::Seconds;
use unicode_normalization::UnicodeNormalization as _;

/// A registration: binds an organisation to the key that signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The name as the organisation writes it (NFC); `iss` is its normalised form.
    pub name: String,
    /// The key being registered; it also signs the registration.
    pub public_key: PublicKey,
    /// A domain the organisation claims (self-asserted).
    pub domain: Option<String>,
    /// A role address (never a person's).
    pub contact: Option<String>,
    /// SHA-256 of the raw recovery public key, kept offline; `None` if the organisation
    /// registered without one.
    pub recovery: Option<[u8; 32]>,
}

/// One norm an attestation pledges, pinned by the hash of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormRef {
    /// The catalogue id.
    pub id: NormId,
    /// SHA-256 of the norm's text in the catalogue version named by the attestation.
    pub text_hash: [u8; 32],
}

/// An attestation: the organisation pledges norms for a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// Catalogue version the norms are taken from.
    pub catalogue: u64,
    /// Norms, sorted by id, no repeats.
    pub norms: Vec<NormRef>,
    /// What the pledge covers (products, services); at least one item.
    pub scope: Vec<String>,
    /// When the pledge lapses, if it does.
    pub expires: Option<Seconds>,
    /// Free text.
    pub note: Option<String>,
    /// Statement id of an earlier attestation this one renews or amends.
    pub supersedes: Option<StatementId>,
}

/// A withdrawal of an earlier attestation of the same organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// Statement id of the attestation withdrawn.
    pub target: StatementId,
    /// Why.
    pub reason: String,
}

/// A new key's acceptance of an organisation (nested in a [`Rotation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptance {
    /// The new key (it signs the acceptance).
    pub public_key: PublicKey,
    /// Key id of the key it replaces.
    pub replaces: [u8; 32],
}

/// A key rotation, signed by the old key, carrying the new key's signed acceptance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The acceptance statement, decoded and checked (its signature by the new key included).
    pub acceptance: Box<Statement>,
}

impl Rotation {
    /// The key being installed.
    pub fn new_key(&self) -> Option<&PublicKey> {
        match &self.acceptance.payload.body {
            Body::Acceptance(a) => Some(&a.public_key),
            _ => None,
        }
    }
}

/// A revocation of a key of the organisation, from its log time on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Key id revoked (the signing key itself, or an older key of the organisation).
    pub target: [u8; 32],
    /// Why.
    pub reason: String,
}

/// A recovery, signed by the recovery key it reveals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The recovery public key (its SHA-256 was committed earlier).
    pub recovery_key: PublicKey,
    /// The key installed.
    pub new_key: PublicKey,
    /// SHA-256 of the next recovery public key.
    pub next_recovery: [u8; 32],
    /// Statements by the revoked keys logged after this time are untrusted.
    pub compromised_since: Option<Seconds>,
    /// Why.
    pub reason: String,
}

/// The kind-specific part of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// See [`Registration`].
    Registration(Registration),
    /// See [`Attestation`].
    Attestation(Attestation),
    /// See [`Withdrawal`].
    Withdrawal(Withdrawal),
    /// See [`Acceptance`].
    Acceptance(Acceptance),
    /// See [`Rotation`].
    Rotation(Rotation),
    /// See [`Revocation`].
    Revocation(Revocation),
    /// See [`Recovery`].
    Recovery(Recovery),
}

impl Body {
    /// The statement kind.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Registration(_) => Kind::Registration,
            Body::Attestation(_) => Kind::Attestation,
            Body::Withdrawal(_) => Kind::Withdrawal,
            Body::Acceptance(_) => Kind::Acceptance,
            Body::Rotation(_) => Kind::Rotation,
            Body::Revocation(_) => Kind::Revocation,
            Body::Recovery(_) => Kind::Recovery,
        }
    }
}

/// What a statement says: bound to one ledger, one moment, used once (DESIGN decision 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The ledger's origin.
    pub origin: String,
    /// Issued-at, UTC seconds (equals the CWT `iat` claim).
    pub iat: Seconds,
    /// 16 random bytes.
    pub nonce: [u8; NONCE_LEN],
    /// Kind-specific fields.
    pub body: Body,
}

impl Registration {
    /// Checks bounds and syntax.
    ///
    /// # Errors
    /// [`StatementError::Invalid`].
    pub fn validate(&self) -> Result<(), StatementError> {
        normalise_org(&self.name)?;
        if let Some(d) = &self.domain {
            check_domain(d)?;
        }
        if let Some(c) = &self.contact {
            check_contact(c)?;
        }
        Ok(())
    }
}

impl Attestation {
    /// Checks bounds and syntax (catalogue membership is a ledger rule, not a syntax rule).
    ///
    /// # Errors
    /// [`StatementError::Invalid`].
    pub fn validate(&self, iat: Seconds) -> Result<(), StatementError> {
        if self.norms.is_empty() {
            return Err(invalid("an attestation names at least one norm"));
        }
        if self.norms.len() > MAX_NORMS {
            return Err(invalid(format!("an attestation names at most {MAX_NORMS} norms")));
        }
        if self.norms.windows(2).any(|w| w[0].id >= w[1].id) {
            return Err(invalid("norms must be sorted by id, each named once"));
        }
        if self.scope.is_empty() {
            return Err(invalid("scope is empty: name at least one product or service"));
        }
        if self.scope.len() > MAX_SCOPE_ITEMS {
            return Err(invalid(format!("scope has more than {MAX_SCOPE_ITEMS} items")));
        }
        for s in &self.scope {
            check_text("scope item", s, MAX_TEXT_LEN)?;
            if s.trim().is_empty() {
                return Err(invalid("scope item is blank"));
            }
        }
        let mut sorted: Vec<&String> = self.scope.iter().collect();
        sorted.sort();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("scope names an item twice"));
        }
        if let Some(note) = &self.note {
            check_free_text("note", note, MAX_TEXT_LEN)?;
        }
        if let Some(exp) = self.expires {
            if exp <= iat {
                return Err(invalid(format!(
                    "expiry {} is not after the issue time {}",
                    crate::time::format(exp),
                    crate::time::format(iat)
                )));
            }
        }
        Ok(())
    }
}

impl Payload {
    fn to_value(&self) -> Value {
        let mut m: Vec<(Label, Value)> = vec![
            ("v".into(), codec::uint(FORMAT_VERSION)),
            ("kind".into(), codec::text(self.body.kind().as_str())),
            ("origin".into(), codec::text(self.origin.clone())),
            ("iat".into(), codec::int(self.iat)),
            ("nonce".into(), codec::bytes(self.nonce.to_vec())),
        ];
        match &self.body {
            Body::Registration(r) => {
                m.push(("name".into(), codec::text(r.name.clone())));
                m.push(("key".into(), codec::bytes(r.public_key.to_bytes().to_vec())));
                if let Some(d) = &r.domain {
                    m.push(("domain".into(), codec::text(d.clone())));
                }
                if let Some(c) = &r.contact {
                    m.push(("contact".into(), codec::text(c.clone())));
                }
                if let Some(h) = &r.recovery {
                    m.push(("recovery".into(), codec::bytes(h.to_vec())));
                }
            }
            Body::Attestation(a) => {
                m.push(("catalogue".into(), codec::uint(a.catalogue)));
                let norms = a
                    .norms
                    .iter()
                    .map(|n| {
                        codec::map([
                            ("id".into(), codec::text(n.id.as_str())),
                            ("sha256".into(), codec::bytes(n.text_hash.to_vec())),
                        ])
                    })
                    .collect();
                m.push(("norms".into(), Value::Array(norms)));
                m.push((
                    "scope".into(),
                    Value::Array(a.scope.iter().map(|s| codec::text(s.clone())).collect()),
                ));
                if let Some(e) = a.expires {
                    m.push(("expires".into(), codec::int(e)));
                }
                if let Some(n) = &a.note {
                    m.push(("note".into(), codec::text(n.clone())));
                }
                if let Some(t) = &a.supersedes {
                    m.push(("supersedes".into(), codec::bytes(t.to_vec())));
                }
            }
            Body::Withdrawal(w) => {
                m.push(("target".into(), codec::bytes(w.target.to_vec())));
                m.push(("reason".into(), codec::text(w.reason.clone())));
            }
            Body::Acceptance(a) => {
                m.push(("key".into(), codec::bytes(a.public_key.to_bytes().to_vec())));
                m.push(("replaces".into(), codec::bytes(a.replaces.to_vec())));
            }
            Body::Rotation(r) => {
                m.push(("acceptance".into(), codec::bytes(r.acceptance.bytes().to_vec())));
            }
            Body::Revocation(r) => {
                m.push(("target".into(), codec::bytes(r.target.to_vec())));
                m.push(("reason".into(), codec::text(r.reason.clone())));
            }
            Body::Recovery(r) => {
                m.push((
                    "recovery_key".into(),
                    codec::bytes(r.recovery_key.to_bytes().to_vec()),
                ));
                m.push(("new_key".into(), codec::bytes(r.new_key.to_bytes().to_vec())));
                m.push(("next_recovery".into(), codec::bytes(r.next_recovery.to_vec())));
                if let Some(t) = r.compromised_since {
                    m.push(("compromised_since".into(), codec::int(t)));
                }
                m.push(("reason".into(), codec::text(r.reason.clone())));
            }
        }
        codec::map(m)
    }

    /// Canonical CBOR bytes of the payload.
    ///
    /// # Errors
    /// [`StatementError`] if a field is out of bounds.
    pub fn encode(&self) -> Result<Vec<u8>, StatementError> {
        self.validate()?;
        Ok(codec::encode(&self.to_value())?)
    }

    /// Checks every field's bounds and syntax.
    ///
    /// # Errors
    /// [`StatementError::Invalid`].
    pub fn validate(&self) -> Result<(), StatementError> {
        check_text("origin", &self.origin, 255)?;
        match &self.body {
            Body::Registration(r) => r.validate(),
            Body::Attestation(a) => a.validate(self.iat),
            Body::Withdrawal(w) => check_free_text("reason", &w.reason, MAX_TEXT_LEN),
            Body::Acceptance(_) | Body::Rotation(_) => Ok(()),
            Body::Revocation(r) => check_free_text("reason", &r.reason, MAX_TEXT_LEN),
            Body::Recovery(r) => {
                check_free_text("reason", &r.reason, MAX_TEXT_LEN)?;
                if r.compromised_since.is_some_and(|t| t > self.iat) {
                    return Err(invalid("compromised_since is after the recovery's issue time"));
                }
                if r.new_key == r.recovery_key {
                    return Err(invalid("the new key must not be the recovery key"));
                }
                // A recovery key works once: the next commitment must name another key, and
                // not the signing key installed here (its thief could then recover).
                if r.next_recovery == r.recovery_key.kid() {
                    return Err(invalid(
                        "next_recovery commits to the recovery key being used; a recovery key works once",
                    ));
                }
                if r.next_recovery == r.new_key.kid() {
                    return Err(invalid("next_recovery must not commit to the new signing key"));
                }
                Ok(())
            }
        }
    }

    /// Strictly decodes payload bytes.
    ///
    /// # Errors
    /// [`StatementError`] naming the field.
    pub fn decode(bytes: &[u8]) -> Result<Payload, StatementError> {
        let v = codec::decode_item(bytes, MAX_STATEMENT_LEN)?;
        let mut r = MapReader::new(v, "payload")?;
        let version = r.uint("v")?;
        if version != FORMAT_VERSION {
            return Err(StatementError::Version(version));
        }
        let kind = Kind::parse(r.text_ref("kind")?)?;
        let origin = r.text("origin")?;
        let iat = r.int("iat")?;
        let nonce = r.bytes_n::<NONCE_LEN>("nonce")?;
        let body = match kind {
            Kind::Registration => {
                let name = r.text("name")?;
                let key = r.bytes_n::<32>("key")?;
                let public_key =
                    PublicKey::from_bytes(&key).map_err(|e| invalid(format!("registration key: {e}")))?;
                let domain = r.opt_text("domain")?;
                let contact = r.opt_text("contact")?;
                let recovery = match r.opt_value("recovery")? {
                    Some(v) => Some(codec::as_bytes_n::<32>(&v, "recovery")?),
                    None => None,
                };
                if name.nfc().collect::<String>() != name {
                    return Err(invalid("registration name is not in Unicode NFC"));
                }
                Body::Registration(Registration {
                    name,
                    public_key,
                    domain,
                    contact,
                    recovery,
                })
            }
            Kind::Attestation => {
                let catalogue = r.uint("catalogue")?;
                let mut norms = Vec::new();
                for item in r.array("norms")? {
                    let mut n = MapReader::new(item, "norm reference")?;
                    let id = n.text_ref("id")?;
                    let id = NormId::new(id).map_err(|e| invalid(e.to_string()))?;
                    let text_hash = n.bytes_n::<32>("sha256")?;
                    n.finish()?;
                    norms.push(NormRef { id, text_hash });
                    if norms.len() > MAX_NORMS {
                        return Err(invalid(format!("an attestation names at most {MAX_NORMS} norms")));
                    }
                }
                let mut scope = Vec::new();
                for item in r.array("scope")? {
                    scope.push(codec::as_text(&item, "scope item")?.to_string());
                }
                let expires = r.opt_int("expires")?;
                let note = r.opt_text("note")?;
                let supersedes = match r.opt_value("supersedes")? {
                    Some(v) => Some(codec::as_bytes_n::<32>(&v, "supersedes")?),
                    None => None,
                };
                Body::Attestation(Attestation {
                    catalogue,
                    norms,
                    scope,
                    expires,
                    note,
                    supersedes,
                })
            }
            Kind::Withdrawal => {
                let target = r.bytes_n::<32>("target")?;
                let reason = r.text("reason")?;
                Body::Withdrawal(Withdrawal { target, reason })
            }
            Kind::Acceptance => {
                let key = r.bytes_n::<32>("key")?;
                let public_key =
                    PublicKey::from_bytes(&key).map_err(|e| invalid(format!("accepted key: {e}")))?;
                Body::Acceptance(Acceptance {
                    public_key,
                    replaces: r.bytes_n::<32>("replaces")?,
                })
            }
            Kind::Rotation => {
                let bytes = r.bytes("acceptance")?;
                let acceptance =
                    Statement::decode(&bytes).map_err(|e| invalid(format!("nested acceptance: {e}")))?;
                Body::Rotation(Rotation {
                    acceptance: Box::new(acceptance),
                })
            }
            Kind::Revocation => Body::Revocation(Revocation {
                target: r.bytes_n::<32>("target")?,
                reason: r.text("reason")?,
            }),
            Kind::Recovery => {
                let key = |r: &mut MapReader, f: &'static str| -> Result<PublicKey, StatementError> {
                    let b = r.bytes_n::<32>(f)?;
                    PublicKey::from_bytes(&b).map_err(|e| invalid(format!("{f}: {e}")))
                };
                Body::Recovery(Recovery {
                    recovery_key: key(&mut r, "recovery_key")?,
                    new_key: key(&mut r, "new_key")?,
                    next_recovery: r.bytes_n::<32>("next_recovery")?,
                    compromised_since: r.opt_int("compromised_since")?,
                    reason: r.text("reason")?,
                })
            }
        };
        r.finish()?;
        let p = Payload {
            origin,
            iat,
            nonce,
            body,
        };
        p.validate()?;
        Ok(p)
    }
}
