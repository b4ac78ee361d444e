//! Signed statements: tagged COSE_Sign1 (RFC 9052 §4.2, tag 18) with an attached payload.
//!
//! Every statement kind shares one envelope:
//!
//! ```text
//! 18([ protected: bstr .cbor { 1: -8, 3: "application/vnd.accord.<kind>+cbor",
//!                              4: kid (SHA-256 of the raw public key),
//!                              15: { 1: iss, 6: iat } },
//!      unprotected: {},  payload: bstr .cbor Payload,  signature: bstr .size 64 ])
//! ```
//!
//! The signature is Ed25519 over the RFC 9052 §4.4 `Sig_structure`
//! `["Signature1", protected, h'', payload]`. Every CBOR item, the nested protected header and
//! payload included, must be in the deterministic encoding of [`crate::codec`]; decoding is
//! strict and refuses unknown fields. `docs/FORMAT.md` gives every byte.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization as _;

use crate::codec::{self, CodecError, Item, Label, MapReader, Value};
use crate::keys::{PublicKey, SecretKey};
use crate::norms::NormId;
use crate::time::Seconds;

/// Version of the statement payload format; anything else is refused.
pub const FORMAT_VERSION: u64 = 1;
/// COSE tag of COSE_Sign1 (RFC 9052 §2).
pub const COSE_SIGN1_TAG: u64 = 18;
/// COSE algorithm id of EdDSA (RFC 9053 §2.2).
pub const ALG_EDDSA: i64 = -8;
/// Largest statement accepted: a ledger entry is at most 65,535 bytes (DESIGN decision 4) and
/// the entry's own fields need fewer than 200 of them.
pub const MAX_STATEMENT_LEN: usize = 65_000;
/// Largest protected header accepted.
pub const MAX_PROTECTED_LEN: usize = 1_024;
/// Longest organisation name, in bytes after normalisation.
pub const MAX_ORG_LEN: usize = 128;
/// Most norms in one attestation.
pub const MAX_NORMS: usize = 32;
/// Most scope items in one attestation.
pub const MAX_SCOPE_ITEMS: usize = 64;
/// Longest scope item, note, or reason, in bytes.
pub const MAX_TEXT_LEN: usize = 1_024;
/// Length of the random nonce every payload carries.
pub const NONCE_LEN: usize = 16;

const HDR_ALG: i64 = 1;
const HDR_CONTENT_TYPE: i64 = 3;
const HDR_KID: i64 = 4;
const HDR_CWT_CLAIMS: i64 = 15;
const CWT_ISS: i64 = 1;
const CWT_IAT: i64 = 6;

/// A statement id: SHA-256 of the COSE_Sign1 bytes.
pub type StatementId = [u8; 32];

/// What is wrong with a statement.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StatementError {
    /// CBOR-level problem (not CBOR, not canonical, truncated, wrong field type...).
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// Not a tagged COSE_Sign1.
    #[error("not a COSE_Sign1 statement: {0}")]
    Envelope(&'static str),
    /// The unprotected header must be empty.
    #[error("the unprotected header must be empty (everything accord signs is in the protected header)")]
    UnprotectedHeader,
    /// A header field has a value accord does not accept.
    #[error("protected header: {0}")]
    Header(String),
    /// Unknown payload format version.
    #[error("unsupported statement format version {0} (this accord reads version {FORMAT_VERSION})")]
    Version(u64),
    /// Unknown statement kind.
    #[error("unknown statement kind {0:?}")]
    UnknownKind(String),
    /// A payload field is out of bounds or inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// The signature does not verify with the key.
    #[error("signature does not verify with key {kid}")]
    BadSignature {
        /// Hex key id.
        kid: String,
    },
    /// The key given is not the one named by the statement's kid.
    #[error("statement names key {expected} but key {got} was given")]
    WrongKey {
        /// The kid in the statement (hex).
        expected: String,
        /// The kid of the key given (hex).
        got: String,
    },
}

fn invalid(msg: impl Into<String>) -> StatementError {
    StatementError::Invalid(msg.into())
}

/// Statement kinds of format version 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Binds an organisation name to a key.
    Registration,
    /// Pledges norms for a scope.
    Attestation,
    /// Withdraws an earlier attestation.
    Withdrawal,
    /// Signed by a new key, accepting the organisation and the key it replaces; only valid
    /// nested inside a rotation.
    Acceptance,
    /// Hands the organisation from the signing key to a new one.
    Rotation,
    /// Ends a key of the organisation from now on.
    Revocation,
    /// Signed by the organisation's recovery key: ends every current key and installs a new one.
    Recovery,
}

impl Kind {
    /// The `kind` field's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Registration => "registration",
            Kind::Attestation => "attestation",
            Kind::Withdrawal => "withdrawal",
            Kind::Acceptance => "acceptance",
            Kind::Rotation => "rotation",
            Kind::Revocation => "revocation",
            Kind::Recovery => "recovery",
        }
    }
    /// The COSE content type (header 3).
    pub fn content_type(self) -> String {
        format!("application/vnd.accord.{}+cbor", self.as_str())
    }
    fn parse(s: &str) -> Result<Kind, StatementError> {
        match s {
            "registration" => Ok(Kind::Registration),
            "attestation" => Ok(Kind::Attestation),
            "withdrawal" => Ok(Kind::Withdrawal),
            "acceptance" => Ok(Kind::Acceptance),
            "rotation" => Ok(Kind::Rotation),
            "revocation" => Ok(Kind::Revocation),
            "recovery" => Ok(Kind::Recovery),
            other => Err(StatementError::UnknownKind(other.chars().take(64).collect())),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalises an organisation name for comparison: Unicode NFC, then lower-case mapping, then
/// NFC again (DESIGN decision 13). Refuses empty names, control characters, leading or
/// trailing white space, and names longer than [`MAX_ORG_LEN`] bytes.
///
/// # Errors
/// [`StatementError::Invalid`] naming the problem.
pub fn normalise_org(name: &str) -> Result<String, StatementError> {
    if name.len() > 4 * MAX_ORG_LEN {
        return Err(invalid(format!(
            "organisation name is longer than {MAX_ORG_LEN} bytes"
        )));
    }
    // ASCII is already in NFC and lower-cases to ASCII: skip the Unicode passes (this runs for
    // every statement a verifier decodes).
    let ascii = name.is_ascii();
    let nfc: String = if ascii {
        name.to_string()
    } else {
        name.nfc().collect()
    };
    if nfc.is_empty() {
        return Err(invalid("organisation name is empty"));
    }
    if nfc.chars().any(char::is_control) {
        return Err(invalid("organisation name contains control characters"));
    }
    if nfc.starts_with(char::is_whitespace) || nfc.ends_with(char::is_whitespace) {
        return Err(invalid("organisation name starts or ends with white space"));
    }
    let folded: String = if ascii {
        nfc.to_ascii_lowercase()
    } else {
        nfc.to_lowercase().nfc().collect()
    };
    if folded.len() > MAX_ORG_LEN {
        return Err(invalid(format!(
            "organisation name is longer than {MAX_ORG_LEN} bytes"
        )));
    }
    Ok(folded)
}

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

/// Checks a text field: 1 to `max` bytes, no control characters. Line feeds are allowed only
/// in the free-text fields `note` and `reason` (FORMAT.md section 4); a line break in a scope
/// item would let it pose as a row of `accord status`.
fn check_text(field: &str, s: &str, max: usize) -> Result<(), StatementError> {
    check_text_lines(field, s, max, false)
}

/// [`check_text`] for `note` and `reason`, which may hold line feeds.
fn check_free_text(field: &str, s: &str, max: usize) -> Result<(), StatementError> {
    check_text_lines(field, s, max, true)
}

fn check_text_lines(field: &str, s: &str, max: usize, lines: bool) -> Result<(), StatementError> {
    if s.is_empty() {
        return Err(invalid(format!("{field} is empty")));
    }
    if s.len() > max {
        return Err(invalid(format!("{field} is longer than {max} bytes")));
    }
    if s.chars().any(|c| c.is_control() && !(lines && c == '\n')) {
        return Err(invalid(if lines {
            format!("{field} contains control characters (only line feeds are allowed)")
        } else {
            format!("{field} contains control characters or line breaks")
        }));
    }
    Ok(())
}

fn check_domain(d: &str) -> Result<(), StatementError> {
    let ok = d.len() <= 253
        && d.split('.').count() >= 2
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "domain {:?} is not a lower-case DNS name such as example.com",
            d.chars().take(64).collect::<String>()
        )))
    }
}

fn check_contact(c: &str) -> Result<(), StatementError> {
    let ok = c.len() <= 254
        && match c.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.bytes().all(|b| b.is_ascii_graphic() && b != b'@')
                    && check_domain(domain).is_ok()
            }
            None => false,
        };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "contact must be a role address such as security@example.com",
        ))
    }
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

/// A statement ready to sign: the exact protected header and payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    /// Protected header bytes.
    pub protected: Vec<u8>,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl Unsigned {
    /// Builds the protected header for a payload, issuer and key id.
    ///
    /// # Errors
    /// [`StatementError`] if the payload is out of bounds or `iss` is not a normalised name.
    pub fn new(payload: &Payload, iss: &str, kid: &[u8; 32]) -> Result<Unsigned, StatementError> {
        if normalise_org(iss)? != iss {
            return Err(invalid("iss must be the normalised organisation name"));
        }
        let header = codec::map([
            (HDR_ALG.into(), codec::int(ALG_EDDSA)),
            (
                HDR_CONTENT_TYPE.into(),
                codec::text(payload.body.kind().content_type()),
            ),
            (HDR_KID.into(), codec::bytes(kid.to_vec())),
            (
                HDR_CWT_CLAIMS.into(),
                codec::map([
                    (CWT_ISS.into(), codec::text(iss)),
                    (CWT_IAT.into(), codec::int(payload.iat)),
                ]),
            ),
        ]);
        Ok(Unsigned {
            protected: codec::encode(&header)?,
            payload: payload.encode()?,
        })
    }

    /// The bytes Ed25519 signs: RFC 9052 §4.4 `Sig_structure`
    /// `["Signature1", protected, h'' (external_aad), payload]`.
    pub fn to_be_signed(&self) -> Vec<u8> {
        sig_structure(&self.protected, &self.payload)
    }

    /// Reads back a to-be-signed file (the Sig_structure written for an external signer).
    ///
    /// # Errors
    /// [`StatementError`] if the bytes are not an accord Sig_structure.
    pub fn from_to_be_signed(bytes: &[u8]) -> Result<Unsigned, StatementError> {
        let v = codec::decode_item(bytes, MAX_STATEMENT_LEN + MAX_PROTECTED_LEN + 64)?;
        let Item::Array(items) = v else {
            return Err(StatementError::Envelope(
                "to-be-signed bytes are not a Sig_structure array",
            ));
        };
        let [ctx, protected, aad, payload]: [Item<'_>; 4] = items
            .try_into()
            .map_err(|_| StatementError::Envelope("a Sig_structure has exactly 4 elements"))?;
        match (ctx, protected, aad, payload) {
            (Item::Text(c), Item::Bytes(protected), Item::Bytes(aad), Item::Bytes(payload))
                if c == "Signature1" && aad.is_empty() =>
            {
                Ok(Unsigned {
                    protected: protected.to_vec(),
                    payload: payload.to_vec(),
                })
            }
            _ => Err(StatementError::Envelope(
                "not a COSE_Sign1 Sig_structure [\"Signature1\", protected, h'', payload]",
            )),
        }
    }

    /// Assembles the tagged COSE_Sign1 with a signature made elsewhere.
    ///
    /// # Errors
    /// [`StatementError`] if the result does not decode (it always should).
    pub fn assemble(&self, signature: &[u8; 64]) -> Result<Statement, StatementError> {
        let v = Value::Tag(
            COSE_SIGN1_TAG,
            Box::new(Value::Array(vec![
                codec::bytes(self.protected.clone()),
                Value::Map(vec![]),
                codec::bytes(self.payload.clone()),
                codec::bytes(signature.to_vec()),
            ])),
        );
        Statement::decode(&codec::encode(&v)?)
    }
}

/// `["Signature1", protected, h'', payload]` in deterministic CBOR, built directly: it is on
/// the verifier's hot path. A unit test checks it equals the generic encoding.
fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + payload.len() + 24);
    out.push(0x84); // array of 4
    out.push(0x6a); // text of 10
    out.extend_from_slice(b"Signature1");
    codec::push_bytes(&mut out, protected);
    out.push(0x40); // empty external_aad
    codec::push_bytes(&mut out, payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_structure_is_the_generic_encoding() {
        for (p, q) in [
            (vec![], vec![]),
            (vec![1; 23], vec![2; 24]),
            (vec![3; 300], vec![4; 70_000]),
        ] {
            let v = Value::Array(vec![
                codec::text("Signature1"),
                codec::bytes(p.clone()),
                codec::bytes(Vec::new()),
                codec::bytes(q.clone()),
            ]);
            assert_eq!(sig_structure(&p, &q), codec::encode(&v).unwrap());
        }
    }
}

/// Signs a payload as organisation `iss` with `key`.
///
/// # Errors
/// [`StatementError`] if the payload is out of bounds.
pub fn sign(payload: &Payload, iss: &str, key: &SecretKey) -> Result<Statement, StatementError> {
    let unsigned = Unsigned::new(payload, iss, &key.public().kid())?;
    let sig = key.sign(&unsigned.to_be_signed());
    unsigned.assemble(&sig)
}

/// A decoded statement: its exact bytes and what they say. The signature is not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The COSE_Sign1 bytes, exactly as signed and stored (private: `id` and the ranges
    /// below are computed from them once).
    bytes: Vec<u8>,
    /// Where the protected header's bytes sit in `bytes`.
    protected_at: std::ops::Range<usize>,
    /// Where the payload's bytes sit in `bytes`.
    payload_at: std::ops::Range<usize>,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
    /// Key id from the protected header.
    pub kid: [u8; 32],
    /// Issuer: the organisation's normalised name.
    pub iss: String,
    /// The decoded payload.
    pub payload: Payload,
    /// SHA-256 of `bytes`, computed once at decoding.
    id: StatementId,
}

impl Statement {
    /// Strictly decodes a statement (DESIGN decisions 1, 2, 11); does not check the signature.
    ///
    /// # Errors
    /// [`StatementError`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Statement, StatementError> {
        let v = codec::decode_item(bytes, MAX_STATEMENT_LEN)?;
        let inner = match v {
            Item::Tag(COSE_SIGN1_TAG, inner) => *inner,
            Item::Tag(_, _) => return Err(StatementError::Envelope("tag is not 18 (COSE_Sign1)")),
            _ => {
                return Err(StatementError::Envelope(
                    "untagged: a statement is tag 18 (COSE_Sign1)",
                ))
            }
        };
        let Item::Array(items) = inner else {
            return Err(StatementError::Envelope("COSE_Sign1 is not an array"));
        };
        let [protected, unprotected, payload, signature]: [Item<'_>; 4] = items
            .try_into()
            .map_err(|_| StatementError::Envelope("COSE_Sign1 must have exactly 4 elements"))?;
        let Item::Bytes(protected) = protected else {
            return Err(StatementError::Envelope("protected header is not a byte string"));
        };
        match unprotected {
            Item::Map(m) if m.is_empty() => {}
            Item::Map(_) => return Err(StatementError::UnprotectedHeader),
            _ => return Err(StatementError::Envelope("unprotected header is not a map")),
        }
        let payload_bytes = match payload {
            Item::Bytes(b) => b,
            Item::Null => {
                return Err(StatementError::Envelope(
                    "detached payload: accord statements carry their payload",
                ))
            }
            _ => return Err(StatementError::Envelope("payload is not a byte string")),
        };
        let Item::Bytes(sig) = signature else {
            return Err(StatementError::Envelope("signature is not a byte string"));
        };
        let signature: [u8; 64] = sig
            .try_into()
            .map_err(|_| StatementError::Envelope("signature is not 64 bytes"))?;

        let h = codec::decode_item(protected, MAX_PROTECTED_LEN)?;
        let mut h = MapReader::new(h, "protected header")?;
        let alg = h.int(HDR_ALG)?;
        if alg != ALG_EDDSA {
            return Err(StatementError::Header(format!("alg {alg} is not EdDSA (-8)")));
        }
        let ct = h.text_ref(HDR_CONTENT_TYPE)?;
        let kid = h.bytes_n::<32>(HDR_KID)?;
        let mut claims = h.map(HDR_CWT_CLAIMS, "CWT claims")?;
        let iss = claims.text(CWT_ISS)?;
        let iat = claims.int(CWT_IAT)?;
        claims.finish()?;
        h.finish()?;

        let payload = Payload::decode(payload_bytes)?;
        let kind = payload.body.kind();
        if ct != kind.content_type() {
            return Err(StatementError::Header(format!(
                "content type {ct:?} does not match payload kind {kind}"
            )));
        }
        if iat != payload.iat {
            return Err(StatementError::Header("CWT iat differs from payload iat".into()));
        }
        if normalise_org(&iss)? != iss {
            return Err(StatementError::Header(
                "iss is not a normalised organisation name".into(),
            ));
        }
        if let Body::Registration(r) = &payload.body {
            if normalise_org(&r.name)? != iss {
                return Err(StatementError::Header(
                    "iss is not the normalised form of the registered name".into(),
                ));
            }
            if r.public_key.kid() != kid {
                return Err(StatementError::Header(
                    "kid is not the SHA-256 of the registered key".into(),
                ));
            }
        }
        match &payload.body {
            Body::Acceptance(a) if a.public_key.kid() != kid => {
                return Err(StatementError::Header(
                    "an acceptance must be signed by the key it accepts".into(),
                ));
            }
            Body::Recovery(r) if r.recovery_key.kid() != kid => {
                return Err(StatementError::Header(
                    "a recovery must be signed by the recovery key it reveals".into(),
                ));
            }
            Body::Rotation(rot) => {
                let acc = &rot.acceptance;
                let Body::Acceptance(a) = &acc.payload.body else {
                    return Err(StatementError::Invalid(
                        "a rotation must nest an acceptance".into(),
                    ));
                };
                if acc.iss != iss || acc.payload.origin != payload.origin {
                    return Err(StatementError::Invalid(
                        "the nested acceptance is for another organisation or ledger".into(),
                    ));
                }
                if a.replaces != kid {
                    return Err(StatementError::Invalid(
                        "the nested acceptance does not name the key signing the rotation".into(),
                    ));
                }
                if a.public_key.kid() == kid {
                    return Err(StatementError::Invalid(
                        "a rotation must install a different key".into(),
                    ));
                }
                acc.verify_signature(&a.public_key)
                    .map_err(|e| StatementError::Invalid(format!("nested acceptance: {e}")))?;
            }
            _ => {}
        }
        // Both are slices of `bytes`: keep their places, not copies.
        let within = |part: &[u8]| {
            let start = part.as_ptr() as usize - bytes.as_ptr() as usize;
            start..start + part.len()
        };
        Ok(Statement {
            id: Sha256::digest(bytes).into(),
            protected_at: within(protected),
            payload_at: within(payload_bytes),
            bytes: bytes.to_vec(),
            signature,
            kid,
            iss,
            payload,
        })
    }

    /// The COSE_Sign1 bytes, exactly as signed and stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The COSE_Sign1 bytes, taken out of the statement.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The protected header bytes.
    pub fn protected(&self) -> &[u8] {
        &self.bytes[self.protected_at.clone()]
    }

    /// The payload bytes.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.bytes[self.payload_at.clone()]
    }

    /// Statement id: SHA-256 of the statement bytes.
    pub fn id(&self) -> StatementId {
        self.id
    }

    /// The statement kind.
    pub fn kind(&self) -> Kind {
        self.payload.body.kind()
    }

    /// The Sig_structure bytes the signature covers.
    pub fn to_be_signed(&self) -> Vec<u8> {
        sig_structure(self.protected(), self.payload_bytes())
    }

    /// Checks the signature with `verify_strict` against `key`, which must be the key named by
    /// the statement's kid.
    ///
    /// # Errors
    /// [`StatementError::WrongKey`] or [`StatementError::BadSignature`].
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), StatementError> {
        if key.kid() != self.kid {
            return Err(StatementError::WrongKey {
                expected: hex::encode(self.kid),
                got: hex::encode(key.kid()),
            });
        }
        if key.verify_strict(&self.to_be_signed(), &self.signature) {
            Ok(())
        } else {
            Err(StatementError::BadSignature {
                kid: hex::encode(self.kid),
            })
        }
    }

    /// The key that must have signed a registration (the registered key itself).
    pub fn registered_key(&self) -> Option<&PublicKey> {
        match &self.payload.body {
            Body::Registration(r) => Some(&r.public_key),
            _ => None,
        }
    }
}

/// Fresh random nonce.
pub fn random_nonce() -> [u8; NONCE_LEN] {
    use rand_core::RngCore as _;
    let mut n = [0u8; NONCE_LEN];
    rand_core::OsRng.fill_bytes(&mut n);
    n
}
