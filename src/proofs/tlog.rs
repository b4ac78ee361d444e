//! The C2SP tlog-proof text form of an inclusion proof (`c2sp.org/tlog-proof@v1`), written by
//! `accord prove --format tlog-proof` and read by `accord verify-proof`.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the entry bytes>      optional; accord always writes it
//! index <N>
//! <base64 hash>                          zero or more: the RFC 9162 §2.1.3 inclusion path
//!
//! <the checkpoint: a signed note, verbatim>
//! ```
//!
//! A tlog-proof proves that a leaf is in the tree a checkpoint signs. It does not carry the
//! leaf, so accord puts the entry bytes in the spec's `extra` line ("opaque data … not
//! authenticated": accord trusts nothing in it, it hashes the bytes and checks the inclusion
//! proof of that hash); or the verifier is given the entry separately. It carries neither the
//! signatory's key nor the registration, so it cannot show that the statement's signature is
//! valid or that its key spoke for the organisation: an accord bundle does that.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{BundleError, MAX_PROOF_FILE};
use crate::checkpoint::{SignedCheckpoint, VerifierKey, MAX_NOTE_SIZE};
use crate::entry::{Entry, MAX_ENTRY_LEN};
use crate::merkle::{self, Hash, MAX_PROOF_LEN};
use crate::statement::Statement;

/// The first line of a tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1\n";

/// An inclusion proof in the C2SP tlog-proof form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// The `extra` line's data: for accord, the entry bytes.
    pub extra: Option<Vec<u8>>,
    /// The leaf index.
    pub index: u64,
    /// The inclusion path, leaf to root.
    pub path: Vec<Hash>,
    /// The checkpoint (signed note), verbatim.
    pub checkpoint: Vec<u8>,
}

/// What a verified tlog-proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProofReport {
    /// The checkpoint, verified with the ledger key.
    pub checkpoint: SignedCheckpoint,
    /// The entry whose inclusion was proved, strictly decoded.
    pub entry: Entry,
    /// Its statement, strictly decoded; its signature is NOT checked.
    pub statement: Statement,
}

fn bad(problem: impl Into<String>) -> BundleError {
    BundleError::Format(format!("tlog-proof: {}", problem.into()))
}

impl TlogProof {
    /// The text form.
    pub fn to_text(&self) -> String {
        let mut s = String::from(TLOG_PROOF_HEADER);
        if let Some(x) = &self.extra {
            s.push_str("extra ");
            s.push_str(&STANDARD.encode(x));
            s.push('\n');
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.path {
            s.push_str(&STANDARD.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&String::from_utf8_lossy(&self.checkpoint));
        s
    }

    /// Whether `bytes` starts like a tlog-proof.
    pub fn looks_like(bytes: &[u8]) -> bool {
        bytes.starts_with(TLOG_PROOF_HEADER.as_bytes())
    }

    /// Parses the text form strictly: the header line, an optional `extra` line (canonical
    /// base64 of at most one entry), `index N` (decimal, no leading zeros), at most
    /// [`MAX_PROOF_LEN`] hashes in canonical base64 of 32 bytes each, an empty line, and the
    /// checkpoint (at most [`MAX_NOTE_SIZE`] bytes; verified later).
    ///
    /// # Errors
    /// [`BundleError::Format`] naming the line that is wrong.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, BundleError> {
        if bytes.len() > MAX_PROOF_FILE {
            return Err(bad(format!("larger than {MAX_PROOF_FILE} bytes")));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let rest = text
            .strip_prefix(TLOG_PROOF_HEADER)
            .ok_or_else(|| bad("does not start with c2sp.org/tlog-proof@v1"))?;
        let (head, checkpoint) = rest
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let mut line = lines.next().ok_or_else(|| bad("index line missing"))?;
        let mut extra = None;
        if let Some(x) = line.strip_prefix("extra ") {
            if x.len() > 4 * MAX_ENTRY_LEN.div_ceil(3) {
                return Err(bad("extra data larger than an entry"));
            }
            extra = Some(
                STANDARD
                    .decode(x)
                    .map_err(|_| bad("extra is not canonical base64"))?,
            );
            line = lines.next().ok_or_else(|| bad("index line missing"))?;
        }
        let n = line
            .strip_prefix("index ")
            .ok_or_else(|| bad(format!("expected \"index N\", found {:?}", short(line))))?;
        let canonical =
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'));
        if !canonical {
            return Err(bad("index is not a decimal number without leading zeros"));
        }
        let index: u64 = n.parse().map_err(|_| bad("index out of range"))?;
        let mut path = Vec::new();
        for (k, l) in lines.enumerate() {
            if path.len() == MAX_PROOF_LEN {
                return Err(bad(format!("more than {MAX_PROOF_LEN} hashes")));
            }
            let h = STANDARD
                .decode(l)
                .ok()
                .and_then(|v| <Hash>::try_from(v.as_slice()).ok())
                .ok_or_else(|| bad(format!("hash {k} is not canonical base64 of 32 bytes")))?;
            path.push(h);
        }
        if checkpoint.len() > MAX_NOTE_SIZE {
            return Err(bad(format!("checkpoint larger than {MAX_NOTE_SIZE} bytes")));
        }
        Ok(TlogProof {
            extra,
            index,
            path,
            checkpoint: checkpoint.as_bytes().to_vec(),
        })
    }

    /// Verifies the proof against the ledger key: the checkpoint's signature, then the
    /// inclusion of SHA-256(0x00 ‖ entry) at `index`; the entry must decode strictly, say
    /// this index, and hold a statement of the checkpoint's origin. `entry` is the entry
    /// bytes when given separately; otherwise the `extra` data is used.
    ///
    /// The statement's signature and its key's binding to the organisation are not checked:
    /// a tlog-proof does not carry what that needs.
    ///
    /// # Errors
    /// [`BundleError`] naming what failed.
    pub fn verify(&self, vkey: &VerifierKey, entry: Option<&[u8]>) -> Result<TlogProofReport, BundleError> {
        let cp = SignedCheckpoint::open(&self.checkpoint, vkey)?;
        let bytes = match (self.extra.as_deref(), entry) {
            (Some(x), Some(e)) if x != e => {
                return Err(bad("the entry given differs from the one in its extra line"));
            }
            (Some(x), _) => x,
            (None, Some(e)) => e,
            (None, None) => {
                return Err(bad(
                    "it carries no entry (no extra line): give the entry bytes with --entry FILE",
                ))
            }
        };
        merkle::verify_inclusion(
            self.index,
            cp.checkpoint.size,
            &merkle::leaf_hash(bytes),
            &self.path,
            &cp.checkpoint.root,
        )
        .map_err(|source| BundleError::Proof {
            what: "inclusion proof",
            source,
        })?;
        let entry_err = |p: String| BundleError::Entry {
            what: "entry",
            problem: p,
        };
        let e = Entry::decode(bytes).map_err(|e| entry_err(e.to_string()))?;
        if e.index != self.index {
            return Err(entry_err(format!(
                "says index {}, the proof {}",
                e.index, self.index
            )));
        }
        let st = Statement::decode(&e.statement).map_err(|e| entry_err(format!("statement: {e}")))?;
        if st.payload.origin != cp.checkpoint.origin.as_str() {
            return Err(entry_err("its statement is for another ledger".into()));
        }
        Ok(TlogProofReport {
            checkpoint: cp,
            entry: e,
            statement: st,
        })
    }
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_malformed_lines() {
        let good = "c2sp.org/tlog-proof@v1\nindex 3\n\nnote\n";
        assert!(TlogProof::parse(good.as_bytes()).is_ok());
        for bad in [
            "c2sp.org/tlog-proof@v2\nindex 3\n\nx",
            "c2sp.org/tlog-proof@v1\nindex 03\n\nx",
            "c2sp.org/tlog-proof@v1\nindex -1\n\nx",
            "c2sp.org/tlog-proof@v1\nindex 3\nnot-base64\n\nx",
            "c2sp.org/tlog-proof@v1\nindex 3\nAAAA\n\nx",
            "c2sp.org/tlog-proof@v1\nextra !!\nindex 3\n\nx",
            "c2sp.org/tlog-proof@v1\nindex 3\n",
        ] {
            assert!(TlogProof::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let many = format!(
            "c2sp.org/tlog-proof@v1\nindex 1\n{}\nx",
            format!("{}\n", STANDARD.encode([0u8; 32])).repeat(MAX_PROOF_LEN + 1)
        );
        assert!(TlogProof::parse(many.as_bytes()).is_err());
    }

    #[test]
    fn round_trips() {
        let p = TlogProof {
            extra: Some(vec![1, 2, 3]),
            index: 7,
            path: vec![[5; 32], [6; 32]],
            checkpoint: b"o\n1\nAAAA\n\n\xe2\x80\x94 o AAAA\n".to_vec(),
        };
        assert_eq!(TlogProof::parse(p.to_text().as_bytes()).unwrap(), p);
    }
}
