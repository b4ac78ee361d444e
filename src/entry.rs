//! Ledger entries: the leaves of the hash chain and of the Merkle tree (DESIGN decision 4).
//!
//! ```text
//! Entry = { "v": 1 / 2 / 3, "index": uint, "prev": bstr .size 32, "logged_at": int, "statement": bstr,
//!           ? "state": bstr .size 32 }
//! ```
//!
//! `v` is the version of the ledger rules the entry is judged by (docs/FORMAT.md section 5):
//! version 2 adds the name rules and the recovery-key rules; version 3 adds `state`, the root
//! of the state map after the entry (section 18), which the last entry under every checkpoint
//! carries. `state` is refused in versions 1 and 2. accord
//! writes [`ENTRY_VERSION`]; a verifier accepts every version from 1 to it, and the version
//! never decreases along the chain.
//!
//! in the deterministic CBOR of [`crate::codec`]. `prev` is the leaf hash of the entry before
//! (32 zero bytes for entry 0); leaf hash = SHA-256(0x00 ‖ entry bytes) (RFC 9162 §2.1.1,
//! computed by [`crate::merkle::leaf_hash`]: an entry knows nothing of the tree).

use crate::codec::{self, CodecError, MapReader};
use crate::time::Seconds;

/// Entry format and rules version that accord writes.
pub const ENTRY_VERSION: u64 = 3;
/// The first entry version that carries the state map's root (`state`).
pub const STATE_VERSION: u64 = 3;
/// The oldest entry version a verifier accepts.
pub const MIN_ENTRY_VERSION: u64 = 1;
/// Largest entry (tlog-tiles length prefixes are 16-bit).
pub const MAX_ENTRY_LEN: usize = 65_535;
/// `prev` of entry 0.
pub const GENESIS_PREV: [u8; 32] = [0u8; 32];

/// A ledger entry, with the exact bytes it was decoded from or encoded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Format and rules version (1 or 2).
    pub version: u64,
    /// Position in the ledger, from 0.
    pub index: u64,
    /// Leaf hash of the previous entry.
    pub prev: [u8; 32],
    /// When the custodian logged it (UTC seconds); never decreases along the chain.
    pub logged_at: Seconds,
    /// The signed statement's bytes.
    pub statement: Vec<u8>,
    /// The state map's root after this entry (version 3 on; on the last entry of a commit).
    pub state: Option<[u8; 32]>,
}

/// An entry decoded in place: its statement bytes borrowed from the entry bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Format and rules version (1 or 2).
    pub version: u64,
    /// Position in the ledger, from 0.
    pub index: u64,
    /// Leaf hash of the previous entry.
    pub prev: [u8; 32],
    /// When the custodian logged it (UTC seconds).
    pub logged_at: Seconds,
    /// The signed statement's bytes.
    pub statement: &'a [u8],
    /// The state map's root after this entry, if it carries one.
    pub state: Option<[u8; 32]>,
}

impl<'a> EntryRef<'a> {
    /// Strict decode of a leaf, as [`Entry::decode`], without copying the statement.
    ///
    /// # Errors
    /// [`EntryError`] naming the problem.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let v = codec::decode_item(bytes, MAX_ENTRY_LEN)?;
        let mut r = MapReader::new(v, "entry")?;
        let version = r.uint("v")?;
        if !(MIN_ENTRY_VERSION..=ENTRY_VERSION).contains(&version) {
            return Err(EntryError::Version(version));
        }
        let e = EntryRef {
            version,
            index: r.uint("index")?,
            prev: r.bytes_n::<32>("prev")?,
            logged_at: r.int("logged_at")?,
            statement: r.bytes_ref("statement")?,
            state: None,
        };
        let state = r.opt_value("state")?;
        r.finish()?;
        let e = match state {
            None => e,
            Some(_) if version < STATE_VERSION => return Err(EntryError::StateBeforeVersion3),
            Some(item) => EntryRef {
                state: Some(codec::as_bytes_n::<32>(&item, "state")?),
                ..e
            },
        };
        Ok(e)
    }

    /// The owned entry.
    pub fn to_entry(&self) -> Entry {
        Entry {
            version: self.version,
            index: self.index,
            prev: self.prev,
            logged_at: self.logged_at,
            statement: self.statement.to_vec(),
            state: self.state,
        }
    }
}

/// What is wrong with an entry's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// CBOR-level problem.
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// Unknown entry version.
    #[error("unsupported entry version {0}")]
    Version(u64),
    /// `state` in an entry of a version before 3.
    #[error("entry of version 1 or 2 carries `state`, which only version 3 has")]
    StateBeforeVersion3,
    /// Entry larger than [`MAX_ENTRY_LEN`].
    #[error("entry is {0} bytes, more than the {MAX_ENTRY_LEN} allowed")]
    TooLarge(usize),
}

impl Entry {
    /// An entry of the current version ([`ENTRY_VERSION`]).
    pub fn new(index: u64, prev: [u8; 32], logged_at: Seconds, statement: Vec<u8>) -> Entry {
        Entry {
            version: ENTRY_VERSION,
            index,
            prev,
            logged_at,
            statement,
            state: None,
        }
    }

    /// Canonical bytes (the Merkle leaf).
    ///
    /// # Errors
    /// [`EntryError::TooLarge`], [`EntryError::Version`] for a version accord does not know.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        if !(MIN_ENTRY_VERSION..=ENTRY_VERSION).contains(&self.version) {
            return Err(EntryError::Version(self.version));
        }
        if self.state.is_some() && self.version < STATE_VERSION {
            return Err(EntryError::StateBeforeVersion3);
        }
        let mut fields = vec![
            ("v".into(), codec::uint(self.version)),
            ("index".into(), codec::uint(self.index)),
            ("prev".into(), codec::bytes(self.prev.to_vec())),
            ("logged_at".into(), codec::int(self.logged_at)),
            ("statement".into(), codec::bytes(self.statement.clone())),
        ];
        if let Some(s) = self.state {
            fields.push(("state".into(), codec::bytes(s.to_vec())));
        }
        let v = codec::map(fields);
        let bytes = codec::encode(&v)?;
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        Ok(bytes)
    }

    /// Strict decode of a leaf.
    ///
    /// # Errors
    /// [`EntryError`] naming the problem.
    pub fn decode(bytes: &[u8]) -> Result<Entry, EntryError> {
        EntryRef::decode(bytes).map(|e| e.to_entry())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            version: ENTRY_VERSION,
            index: 7,
            prev: [9; 32],
            logged_at: 1_700_000_000,
            statement: vec![1, 2, 3],
            state: Some([5; 32]),
        }
    }

    #[test]
    fn round_trips() {
        let b = sample().encode().unwrap();
        assert_eq!(Entry::decode(&b).unwrap(), sample());
    }

    #[test]
    fn state_only_from_version_3() {
        let mut e = sample();
        e.version = 2;
        assert_eq!(e.encode(), Err(EntryError::StateBeforeVersion3));
        let mut v = codec::decode(&sample().encode().unwrap(), MAX_ENTRY_LEN).unwrap();
        if let codec::Value::Map(m) = &mut v {
            for (k, val) in m.iter_mut() {
                if *k == codec::text("v") {
                    *val = codec::uint(2);
                }
            }
        }
        let b = codec::encode(&v).unwrap();
        assert_eq!(Entry::decode(&b), Err(EntryError::StateBeforeVersion3));
        e.state = None;
        assert_eq!(Entry::decode(&e.encode().unwrap()).unwrap(), e);
    }

    #[test]
    fn refuses_unknown_fields_and_versions() {
        let mut v = codec::decode(&sample().encode().unwrap(), MAX_ENTRY_LEN).unwrap();
        if let codec::Value::Map(m) = &mut v {
            m.push((codec::text("extra"), codec::uint(1)));
        }
        let b = codec::encode(&v).unwrap();
        assert!(matches!(
            Entry::decode(&b),
            Err(EntryError::Codec(CodecError::UnknownField { .. }))
        ));
    }

    #[test]
    fn refuses_oversized_entries() {
        let mut e = sample();
        e.statement = vec![0; MAX_ENTRY_LEN];
        assert!(matches!(e.encode(), Err(EntryError::TooLarge(_))));
        assert!(matches!(
            Entry::decode(&vec![0; MAX_ENTRY_LEN + 1]),
            Err(EntryError::TooLarge(_))
        ));
    }
}
