//! Audit proofs that verify offline (DESIGN decision 7): inclusion bundles for one entry and
//! consistency proofs between two signed checkpoints, in CBOR, in JSON, and (inclusion only)
//! in the C2SP tlog-proof text form.
//!
//! This module holds the formats (`cbor`, `json`, [`tlog`]) and their verification
//! (`verify`); it touches no files. Proof data is gathered from a ledger by
//! [`crate::ledger::Ledger::prove`] and [`crate::ledger::Ledger::consistency`].

mod cbor;
mod json;
pub mod tlog;
mod verify;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, SignedCheckpoint, VerifierKey};
use crate::codec::CodecError;
use crate::entry::{Entry, MAX_ENTRY_LEN};
use crate::keys::PublicKey;
use crate::merkle::{self, Hash, ProofError, MAX_PROOF_LEN};
use crate::norms::Catalogue;
use crate::rules::{self, MemRegistry, Registry as _, Rejection, MAX_FUTURE_SKEW};
use crate::statement::{Body, Kind, Statement};
use crate::time::Seconds;
pub use tlog::TlogProof;
pub use verify::{BundleReport, UntrustedBy};

/// Most key-history entries a bundle may carry.
pub const MAX_KEY_HISTORY: usize = 256;
/// Bundle format version.
pub const BUNDLE_VERSION: u64 = 1;
/// Largest proof file read: two entries, two notes and a few paths need far less.
pub const MAX_PROOF_FILE: usize = 256 * 1024;

/// What is wrong with a proof file.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// CBOR-level problem.
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// JSON-level problem.
    #[error("JSON: {0}")]
    Json(String),
    /// Unknown version or type.
    #[error("{0}")]
    Format(String),
    /// The checkpoint does not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A Merkle proof does not verify.
    #[error("{what}: {source}")]
    Proof {
        /// Which proof.
        what: &'static str,
        /// Why.
        source: ProofError,
    },
    /// The entry or registration is not what the bundle claims.
    #[error("{what}: {problem}")]
    Entry {
        /// Which entry.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
}

fn entry_err(what: &'static str, problem: impl Into<String>) -> BundleError {
    BundleError::Entry {
        what,
        problem: problem.into(),
    }
}

/// An entry with its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Included {
    /// Leaf index.
    pub leaf_index: u64,
    /// The entry bytes (the Merkle leaf).
    pub entry: Vec<u8>,
    /// Inclusion path, leaf to root.
    pub path: Vec<Hash>,
}

/// A consistency proof from an earlier signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consistency {
    /// The earlier checkpoint (signed note).
    pub from_checkpoint: Vec<u8>,
    /// RFC 9162 consistency path from its size to the later size.
    pub path: Vec<Hash>,
}

/// An audit bundle for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The signed checkpoint the proofs lead to.
    pub checkpoint: Vec<u8>,
    /// Its tree size.
    pub tree_size: u64,
    /// The entry proved.
    pub entry: Included,
    /// The raw public key that signed the entry's statement.
    pub signatory_key: [u8; 32],
    /// The organisation's registration.
    pub registration: Included,
    /// The organisation's key changes (rotations, revocations, recoveries) logged before the
    /// checkpoint, in index order: they bind `signatory_key` to the organisation.
    pub key_history: Vec<Included>,
    /// Optional: consistency from an earlier checkpoint (`prove --since`).
    pub consistency: Option<Consistency>,
}

/// A consistency proof file: two signed checkpoints and the path between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The earlier checkpoint.
    pub old: Vec<u8>,
    /// The later checkpoint.
    pub new: Vec<u8>,
    /// RFC 9162 consistency path.
    pub path: Vec<Hash>,
}

/// Any proof file `verify-proof` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofFile {
    /// An inclusion bundle.
    Bundle(Bundle),
    /// A consistency proof.
    Consistency(ConsistencyProof),
}

impl ProofFile {
    /// Reads a proof file in CBOR or JSON (JSON starts with `{`). A C2SP tlog-proof is read by
    /// [`crate::proofs::tlog::TlogProof::parse`].
    ///
    /// # Errors
    /// [`BundleError`].
    pub fn parse(bytes: &[u8]) -> Result<ProofFile, BundleError> {
        if bytes.len() > MAX_PROOF_FILE {
            return Err(BundleError::Format(format!(
                "proof file larger than {MAX_PROOF_FILE} bytes"
            )));
        }
        if bytes.first() == Some(&b'{') {
            let text = std::str::from_utf8(bytes).map_err(|_| BundleError::Json("not UTF-8".into()))?;
            ProofFile::from_json(text)
        } else {
            ProofFile::from_cbor(bytes)
        }
    }
}
