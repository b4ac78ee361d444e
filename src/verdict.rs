//! What verification finds, and where: the error of the layers that judge entries (the rules,
//! the replay, the export reader), below the store and the ledger facade.
//!
//! A [`VerifyError`] is either a verdict ("entry 23: chain link broken": the data is invalid)
//! or a failure to read what is being judged (a registry's storage, an input stream), which the
//! layer that owns the storage or the stream turns back into its own error.

use crate::entry::{EntryError, EntryRef};
use crate::statement::Statement;

/// Where verification found a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An entry, by index.
    Entry(u64),
    /// A signed checkpoint, by tree size.
    Checkpoint(u64),
    /// A derived table.
    Table(&'static str),
    /// The ledger as a whole.
    Ledger,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Entry(i) => write!(f, "entry {i}"),
            Location::Checkpoint(s) => write!(f, "checkpoint of size {s}"),
            Location::Table(t) => write!(f, "table {t}"),
            Location::Ledger => write!(f, "ledger"),
        }
    }
}

/// A verdict of invalid data, or a failure to read the data judged.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The data is invalid: the first bad place and what is wrong there.
    #[error("{at}: {problem}")]
    Invalid {
        /// The first bad place.
        at: Location,
        /// What is wrong.
        problem: String,
    },
    /// Reading the data failed (the store under a registry, an input stream): the error of the
    /// layer that read it, which that layer takes back.
    #[error(transparent)]
    Read(Box<dyn std::error::Error + Send + Sync>),
}

/// A verdict of invalid data at `at`.
pub fn invalid(at: Location, problem: impl Into<String>) -> VerifyError {
    VerifyError::Invalid {
        at,
        problem: problem.into(),
    }
}

/// Decodes entry `index` and its statement strictly, naming the entry on failure.
///
/// # Errors
/// [`VerifyError::Invalid`] at the entry.
pub fn decode_entry_statement(index: u64, bytes: &[u8]) -> Result<(EntryRef<'_>, Statement), VerifyError> {
    let e = EntryRef::decode(bytes).map_err(|e| invalid(Location::Entry(index), entry_problem(&e)))?;
    let st = Statement::decode(e.statement)
        .map_err(|e| invalid(Location::Entry(index), format!("statement: {e}")))?;
    Ok((e, st))
}

/// How a malformed entry is described.
pub fn entry_problem(e: &EntryError) -> String {
    format!("malformed entry: {e}")
}

impl From<std::convert::Infallible> for VerifyError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}
