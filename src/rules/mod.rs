//! The ledger's rules: what each statement kind requires of the ledger so far
//! ([`check_rules`]), and the one place that records an accepted statement's effects
//! ([`apply`]) on a [`Registry`], whether that is the custodian's derived tables or the
//! verifier's in-memory replay. docs/FORMAT.md section 7 states the same rules in prose.

mod apply;
mod check;
mod memory;
mod registry;
pub mod state;

pub use apply::apply;
pub use check::check_rules;
pub use memory::{IndexChain, MemRegistry};
pub use registry::{HistoryItem, KeyRecord, OrgRecord, RecoveryMark, Registry};

use crate::statement::StatementError;
use crate::time::Seconds;

/// How far a statement's issued-at time may lie after the time it is logged (clock skew).
pub const MAX_FUTURE_SKEW: Seconds = 600;

/// Why a statement is refused (at append) or an entry is invalid (at verify).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The statement does not decode or is out of bounds.
    #[error("{0}")]
    Statement(#[from] StatementError),
    /// Made for another ledger.
    #[error("statement is for ledger {found:?}, not this ledger ({expected:?})")]
    WrongOrigin {
        /// This ledger's origin.
        expected: String,
        /// The statement's.
        found: String,
    },
    /// Already in the ledger.
    #[error("statement is already in the ledger at entry {index}")]
    Duplicate {
        /// Where it is.
        index: u64,
    },
    /// The same statement twice in one batch.
    #[error("the same statement is given twice")]
    DuplicateInBatch,
    /// The organisation name is registered already.
    #[error("organisation {org:?} is already registered (entry {index}); names are compared after NFC normalisation and lower-casing")]
    NameTaken {
        /// Normalised name.
        org: String,
        /// Its registration entry.
        index: u64,
    },
    /// A version-2 registration whose name breaks a refusal rule of FORMAT.md section 4.1.
    #[error("organisation name refused: {0}")]
    NameRefused(#[from] crate::names::NameError),
    /// A version-2 registration whose name looks like one registered before (equal
    /// comparison keys, FORMAT.md section 4.1).
    #[error("organisation name looks like {existing:?}, registered at entry {index}; a name that looks like a registered one is refused")]
    LooksLike {
        /// The name as registered before.
        existing: String,
        /// Its registration entry.
        index: u64,
    },
    /// The key is registered to an organisation already.
    #[error("this key is already registered to {org:?}; each key speaks for one organisation")]
    KeyInUse {
        /// The organisation.
        org: String,
    },
    /// Signed by a key no registration binds.
    #[error("signed by key {kid}, which no registration in this ledger binds to an organisation (register first with `accord register`)")]
    UnregisteredKey {
        /// Hex key id.
        kid: String,
    },
    /// `iss` is not the organisation the key is registered to.
    #[error("statement claims to speak for {iss:?}, but its key is registered to {org:?}")]
    IssuerMismatch {
        /// The claimed issuer.
        iss: String,
        /// The key's organisation.
        org: String,
    },
    /// Catalogue version not known to this accord.
    #[error("norms catalogue version {0} is unknown to this accord")]
    UnknownCatalogue(u64),
    /// Norm not in the catalogue.
    #[error("norm {0:?} is not in the catalogue")]
    UnknownNorm(String),
    /// The signed hash of a norm's text is not the catalogue's.
    #[error("norm {0:?}: the signed text hash differs from the catalogue's")]
    NormTextMismatch(String),
    /// A withdrawal of a statement that is not in the ledger.
    #[error("no entry has statement id {0}")]
    NoSuchStatement(String),
    /// A withdrawal or supersede of something other than a live attestation.
    #[error("entry {index} is not an attestation that can be {what} ({why})")]
    NotWithdrawable {
        /// The target entry.
        index: u64,
        /// Why not.
        why: &'static str,
        /// "withdrawn" or "superseded".
        what: &'static str,
    },
    /// A withdrawal or supersede of another organisation's attestation.
    #[error("entry {index} belongs to {owner:?}; an organisation may withdraw or supersede only its own attestations")]
    OtherOrganisation {
        /// The target entry.
        index: u64,
        /// Its organisation.
        owner: String,
    },
    /// An acceptance appended on its own.
    #[error("an acceptance is only valid nested inside a rotation")]
    NestedOnly,
    /// A statement by a key that no longer speaks for the organisation.
    #[error("signed by key {kid}, which stopped speaking for the organisation at entry {index} (rotated away, revoked or recovered)")]
    KeyEnded {
        /// Hex key id.
        kid: String,
        /// The entry that ended it.
        index: u64,
    },
    /// A revocation of a key that has already ended.
    #[error("key {kid} already stopped speaking for the organisation at entry {index}; there is nothing left to revoke")]
    TargetEnded {
        /// Hex key id of the target.
        kid: String,
        /// The entry that ended it.
        index: u64,
    },
    /// A recovery for an organisation that is not registered.
    #[error("organisation {0:?} is not registered")]
    UnknownOrg(String),
    /// A recovery for an organisation that committed to no recovery key.
    #[error("{0:?} registered without a recovery key; it cannot be recovered (register with --recovery-key next time)")]
    NoRecoveryKey(String),
    /// A recovery key that does not match the commitment.
    #[error("the recovery key does not match the one the organisation committed to")]
    RecoveryKeyMismatch,
    /// A recovery key used before.
    #[error("this recovery key was already used; a recovery key works once")]
    RecoveryKeyUsed,
    /// A revocation of a key that does not exist.
    #[error("no key {0} is registered")]
    NoSuchKey(String),
    /// A revocation of another organisation's key.
    #[error("key {kid} belongs to {org:?}")]
    KeyOfAnotherOrg {
        /// Hex key id.
        kid: String,
        /// Its organisation.
        org: String,
    },
    /// A revocation of a newer key by an older one.
    #[error("a key may revoke itself or an older key of its organisation, not a newer one")]
    RevokeNewer,
    /// A signing key that is the organisation's committed recovery key (rules version 2): the
    /// holder of one key would hold both, and could recover, install keys of their own and
    /// mark the whole history compromised.
    #[error("{what} is the organisation's committed recovery key; the signing key and the recovery key must be different keys (keep the recovery key offline)")]
    RecoveryKeyAsSigningKey {
        /// Which key: "the key being registered", "the new key".
        what: &'static str,
    },
    /// A recovery commitment to a key already installed as a signing key (rules version 2).
    #[error("the recovery key committed to is a key already installed as a signing key; the recovery key must be a key of its own, kept offline")]
    CommitmentToSigningKey,
    /// Issued more than [`MAX_FUTURE_SKEW`] after it was logged.
    #[error("issued at {iat}, after it was logged ({logged})")]
    IssuedInFuture {
        /// RFC 3339.
        iat: String,
        /// RFC 3339.
        logged: String,
    },
}

impl Rejection {
    /// A short stable name for the rule broken, for machines (the `rule` of an HTTP problem
    /// report; docs/FORMAT.md §14): lower case, words joined by `-`.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Statement(
                crate::statement::StatementError::BadSignature { .. }
                | crate::statement::StatementError::WrongKey { .. },
            ) => "bad-signature",
            Rejection::Statement(_) => "malformed-statement",
            Rejection::WrongOrigin { .. } => "wrong-origin",
            Rejection::Duplicate { .. } => "duplicate",
            Rejection::DuplicateInBatch => "duplicate-in-batch",
            Rejection::NameTaken { .. } => "name-taken",
            Rejection::NameRefused(_) => "name-refused",
            Rejection::LooksLike { .. } => "name-looks-like",
            Rejection::KeyInUse { .. } => "key-in-use",
            Rejection::UnregisteredKey { .. } => "unregistered-key",
            Rejection::IssuerMismatch { .. } => "issuer-mismatch",
            Rejection::UnknownCatalogue(_) => "unknown-catalogue",
            Rejection::UnknownNorm(_) => "unknown-norm",
            Rejection::NormTextMismatch(_) => "norm-text-mismatch",
            Rejection::NoSuchStatement(_) => "no-such-statement",
            Rejection::NotWithdrawable { .. } => "not-withdrawable",
            Rejection::OtherOrganisation { .. } => "other-organisation",
            Rejection::NestedOnly => "nested-only",
            Rejection::KeyEnded { .. } => "key-ended",
            Rejection::TargetEnded { .. } => "target-ended",
            Rejection::UnknownOrg(_) => "unknown-organisation",
            Rejection::NoRecoveryKey(_) => "no-recovery-key",
            Rejection::RecoveryKeyMismatch => "recovery-key-mismatch",
            Rejection::RecoveryKeyUsed => "recovery-key-used",
            Rejection::NoSuchKey(_) => "no-such-key",
            Rejection::KeyOfAnotherOrg { .. } => "key-of-another-organisation",
            Rejection::RevokeNewer => "revoke-newer",
            Rejection::RecoveryKeyAsSigningKey { .. } => "recovery-key-as-signing-key",
            Rejection::CommitmentToSigningKey => "commitment-to-signing-key",
            Rejection::IssuedInFuture { .. } => "issued-in-future",
        }
    }
}
