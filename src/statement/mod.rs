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

mod cose;
mod payload;
mod text;

use crate::codec::CodecError;

pub use cose::{sign, Statement, Unsigned};
pub use payload::{
    Acceptance, Attestation, Body, NormRef, Payload, Recovery, Registration, Revocation, Rotation, Withdrawal,
};
pub use text::normalise_org;

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
/// Largest to-be-signed bytes (a COSE Sig_structure: context, protected header, empty external
/// data, payload) read back from an external signer's file.
pub const MAX_TO_BE_SIGNED_LEN: usize = MAX_STATEMENT_LEN + MAX_PROTECTED_LEN + 64;
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
    /// The kind a `kind` text names, if any.
    pub fn from_text(s: &str) -> Option<Kind> {
        Kind::parse(s).ok()
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

/// Fresh random nonce.
pub fn random_nonce() -> [u8; NONCE_LEN] {
    use rand_core::RngCore as _;
    let mut n = [0u8; NONCE_LEN];
    rand_core::OsRng.fill_bytes(&mut n);
    n
}
