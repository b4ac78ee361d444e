//! accord as a witness: C2SP tlog-witness `add-checkpoint` (docs/FORMAT.md section 15),
//! following the spec's main text as of commit 95978ca (2026-07-06), which answers 422 where
//! v1.0.0 answered 409 for a checkpoint of the stored size with another root.
//!
//! A witness keeps, per log origin, the latest checkpoint it cosigned, and cosigns a new one
//! only if it is consistent with it. The checks run in the spec's order, each with its status:
//! a malformed request 400; an unknown origin 404; no verifying signature by a trusted key of
//! the origin, or one of its lines that fails, 403; `old` above the checkpoint's size 400;
//! `old` not the stored size 409 (with that size); a size-0 checkpoint with another root than
//! the empty tree's, a proof with `old 0`, the stored size with another root, or a proof that
//! fails 422; otherwise 200 and the cosignature line.
//!
//! Pure: the stored state sits behind [`CosignedState`], whose one call runs the check and the
//! update in a single durable transaction (the spec's race: two requests checked against the
//! same stored size must not both be cosigned), and the caller passes the time in.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::checkpoint::{verify_note, CheckpointError, VerifierKey, MAX_NOTE_SIZE};
use crate::cosignature::CosignerKey;
use crate::merkle::{verify_consistency, Hash, EMPTY_ROOT};

/// Consistency-proof lines a request may carry (the spec: a client MUST NOT send more).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest request body: the `old` line (≤ 25 bytes), 63 proof lines of 45 bytes, the blank
/// line and a note of at most [`MAX_NOTE_SIZE`]. Anything longer is no honest request.
pub const MAX_REQUEST_SIZE: usize = 32 + MAX_PROOF_LINES * 45 + 1 + MAX_NOTE_SIZE;
/// The `Content-Type` of a 409 answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why a checkpoint is not cosigned: each variant is one status code of the spec.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the request does not parse, or `old` is above the checkpoint's size.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404: no log of this origin is witnessed here.
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// 403: no trusted signature, or a trusted key's line that fails to verify.
    #[error("not signed by a trusted key of the log: {0}")]
    Untrusted(String),
    /// 409: `old` is not the size of the latest checkpoint cosigned for the origin.
    #[error("old size {old} is not the size of the latest cosigned checkpoint, {latest}")]
    Conflict {
        /// The request's `old`.
        old: u64,
        /// The stored size, sent back.
        latest: u64,
    },
    /// 422: the checkpoint is not consistent with the latest cosigned one.
    #[error("inconsistent: {0}")]
    Inconsistent(String),
}

impl Refusal {
    /// The HTTP status code the spec gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Untrusted(_) => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::Inconsistent(_) => 422,
        }
    }
}

/// Errors of [`Witness::add_checkpoint`].
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The request is refused (a status code other than 200).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The stored state could not be read or written (500: nothing was cosigned).
    #[error("witness state: {0}")]
    State(String),
    /// Signing failed (500: nothing was answered; the state may have moved on).
    #[error("cosigning: {0}")]
    Sign(String),
}

/// The body of an `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness cosigned last.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint, exactly as received.
    pub note: Vec<u8>,
}

fn decimal(s: &str) -> Option<u64> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

impl AddCheckpoint {
    /// Parses a request body strictly: `old N\n`, at most 63 base64 hash lines, a blank line,
    /// then the note (checked later).
    ///
    /// # Errors
    /// [`Refusal::BadRequest`] naming the problem.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        let bad = |m: &str| Refusal::BadRequest(m.to_string());
        if body.len() > MAX_REQUEST_SIZE {
            return Err(bad("request body too large"));
        }
        let mut rest = body;
        let mut line = || -> Result<&[u8], Refusal> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or(bad("a line does not end in a newline"))?;
            let l = &rest[..end];
            rest = &rest[end + 1..];
            Ok(l)
        };
        let first = std::str::from_utf8(line()?).map_err(|_| bad("old line is not ASCII"))?;
        let old = first
            .strip_prefix("old ")
            .and_then(decimal)
            .ok_or(bad("first line is not `old N` (decimal, no leading zeros)"))?;
        let mut proof = Vec::new();
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let h = STANDARD
                .decode(l)
                .map_err(|_| bad("a proof line is not canonical base64"))?;
            let h: Hash = h
                .as_slice()
                .try_into()
                .map_err(|_| bad("a proof line is not a 32-byte hash"))?;
            proof.push(h);
        }
        Ok(AddCheckpoint {
            old,
            proof,
            note: rest.to_vec(),
        })
    }

    /// The request body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            b.extend_from_slice(STANDARD.encode(h).as_bytes());
            b.push(b'\n');
        }
        b.push(b'\n');
        b.extend_from_slice(&self.note);
        b
    }
}

/// A checkpoint body as a witness reads it: origin, size, root, and any extension lines
/// (which are cosigned as they are, with no statement about them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessedCheckpoint {
    /// The origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
    /// The whole note text, which the cosignature signs.
    pub text: Vec<u8>,
}

impl WitnessedCheckpoint {
    /// Parses a note text: at least three lines, a decimal size, a base64 root, non-empty
    /// extension lines.
    ///
    /// # Errors
    /// [`Refusal::BadRequest`].
    pub fn parse(text: &[u8]) -> Result<Self, Refusal> {
        let bad = |m: &str| Refusal::BadRequest(format!("checkpoint: {m}"));
        let s = std::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
        let body = s.strip_suffix('\n').ok_or(bad("does not end in a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(bad("expected origin, size and root lines"));
        };
        if lines.any(str::is_empty) {
            return Err(bad("empty extension line"));
        }
        let size = decimal(size).ok_or(bad("size is not decimal without leading zeros"))?;
        let root = STANDARD
            .decode(root)
            .map_err(|_| bad("root is not canonical base64"))?;
        let root: Hash = root
            .as_slice()
            .try_into()
            .map_err(|_| bad("root is not 32 bytes"))?;
        Ok(WitnessedCheckpoint {
            origin: origin.to_string(),
            size,
            root,
            text: text.to_vec(),
        })
    }
}

/// What a witness remembers of one log: the latest checkpoint it cosigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The timestamp of the cosignature.
    pub time: u64,
    /// The checkpoint as received, with the witness's cosignature line appended.
    pub note: Vec<u8>,
}

/// The witness's durable state, one latest cosigned checkpoint per origin.
pub trait CosignedState {
    /// Runs `decide` on the latest checkpoint cosigned for `origin` (`None`: never) and, if it
    /// returns one, stores it: both in one transaction, durable before this returns, with no
    /// other update of the origin in between.
    ///
    /// # Errors
    /// The refusal of `decide`, or [`WitnessError::State`].
    fn advance(
        &self,
        origin: &str,
        decide: &mut dyn FnMut(Option<&Cosigned>) -> Result<Cosigned, WitnessError>,
    ) -> Result<(), WitnessError>;
}

/// The logs a witness follows: their origins and the keys trusted for each.
#[derive(Debug, Default, Clone)]
pub struct Logs {
    keys: std::collections::BTreeMap<String, Vec<VerifierKey>>,
}

impl Logs {
    /// Adds a log's key; its origin is the key's name (tlog-checkpoint: the log's key name
    /// SHOULD be its origin). Several keys of one origin are all trusted.
    pub fn add(&mut self, key: VerifierKey) {
        let keys = self.keys.entry(key.name().to_string()).or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    /// The origins followed.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
    /// The keys trusted for `origin`.
    pub fn keys(&self, origin: &str) -> Option<&[VerifierKey]> {
        self.keys.get(origin).map(Vec::as_slice)
    }
}

/// A witness: its key and the logs it follows.
#[derive(Debug)]
pub struct Witness {
    /// Its cosigning key.
    pub key: CosignerKey,
    /// The logs it follows.
    pub logs: Logs,
}

/// The origin line of a signed note, read before anything is verified (to answer 404 first).
fn origin_of(note: &[u8]) -> Result<&str, Refusal> {
    let end = note
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| Refusal::BadRequest("checkpoint has no origin line".into()))?;
    std::str::from_utf8(&note[..end]).map_err(|_| Refusal::BadRequest("origin line is not UTF-8".into()))
}

/// Verifies the note with the keys trusted for its origin: at least one verifies and none of
/// their lines fails. Returns the note text.
fn verify_trusted(note: &[u8], keys: &[VerifierKey]) -> Result<Vec<u8>, Refusal> {
    // A checkpoint with no signature line at all is "not signed by a trusted key" (403, the
    // spec's check before the format checks), not a malformed request.
    let unsigned = match note.windows(2).rposition(|w| w == b"\n\n") {
        Some(at) => note[at + 2..].is_empty(),
        None => true,
    };
    if unsigned {
        return Err(Refusal::Untrusted("the checkpoint has no signature lines".into()));
    }
    let mut text = None;
    for key in keys {
        match verify_note(note, key) {
            Ok(t) => text = Some(t),
            Err(CheckpointError::NotSignedByKey { .. }) => {}
            Err(e @ CheckpointError::BadSignature { .. }) => return Err(Refusal::Untrusted(e.to_string())),
            Err(e) => return Err(Refusal::BadRequest(e.to_string())),
        }
    }
    text.ok_or_else(|| Refusal::Untrusted("no signature by a key trusted for this origin".into()))
}

/// The consistency checks against the stored state, in the spec's order (after 404 and 403).
///
/// # Errors
/// [`Refusal`] with the spec's status.
pub fn check_consistency(
    stored: Option<&Cosigned>,
    old: u64,
    proof: &[Hash],
    cp: &WitnessedCheckpoint,
) -> Result<(), Refusal> {
    if old > cp.size {
        return Err(Refusal::BadRequest(format!(
            "old size {old} is above the checkpoint's size {}",
            cp.size
        )));
    }
    let latest = stored.map_or(0, |s| s.size);
    if old != latest {
        return Err(Refusal::Conflict { old, latest });
    }
    if cp.size == 0 && cp.root != EMPTY_ROOT {
        return Err(Refusal::Inconsistent(
            "a checkpoint of size 0 must have the empty tree's root".into(),
        ));
    }
    if old == 0 {
        if !proof.is_empty() {
            return Err(Refusal::Inconsistent(
                "a proof from old size 0 must be empty".into(),
            ));
        }
        return Ok(());
    }
    // old == latest ≥ 1, so something is stored.
    let Some(s) = stored else {
        return Err(Refusal::Inconsistent("no stored checkpoint".into()));
    };
    if old == cp.size {
        if cp.root != s.root {
            return Err(Refusal::Inconsistent(format!(
                "the checkpoint of size {} cosigned earlier has another root",
                cp.size
            )));
        }
        if !proof.is_empty() {
            return Err(Refusal::Inconsistent(
                "a proof between equal sizes must be empty".into(),
            ));
        }
        return Ok(());
    }
    verify_consistency(old, cp.size, &s.root, &cp.root, proof)
        .map_err(|e| Refusal::Inconsistent(format!("consistency proof from size {old} to {}: {e}", cp.size)))
}

impl Witness {
    /// Handles one `add-checkpoint` request body at time `now` (POSIX seconds, non-zero):
    /// checks it, stores the checkpoint as the origin's latest, and returns the cosignature
    /// line(s) to answer with.
    ///
    /// # Errors
    /// [`WitnessError::Refused`] with the status of the spec, or a state or signing failure.
    pub fn add_checkpoint(
        &self,
        body: &[u8],
        state: &dyn CosignedState,
        now: u64,
    ) -> Result<Vec<u8>, WitnessError> {
        let req = AddCheckpoint::parse(body)?;
        let origin = origin_of(&req.note)?;
        let keys = self
            .logs
            .keys(origin)
            .ok_or_else(|| Refusal::UnknownOrigin(origin.chars().take(100).collect()))?;
        let text = verify_trusted(&req.note, keys)?;
        let cp = WitnessedCheckpoint::parse(&text)?;
        if cp.origin != origin {
            return Err(Refusal::BadRequest("origin line changed".into()).into());
        }
        let mut line = None;
        state.advance(origin, &mut |stored| {
            check_consistency(stored, req.old, &req.proof, &cp)?;
            // Time moves forward for one log even if the clock steps back.
            let time = now.max(stored.map_or(1, |s| s.time)).max(1);
            let l = self
                .key
                .cosign(&cp.text, time)
                .map_err(|e| WitnessError::Sign(e.to_string()))?;
            let mut note = req.note.clone();
            if !note.ends_with(b"\n") {
                note.push(b'\n');
            }
            note.extend_from_slice(l.as_bytes());
            line = Some(l);
            Ok(Cosigned {
                size: cp.size,
                root: cp.root,
                time,
                note,
            })
        })?;
        line.map(String::into_bytes)
            .ok_or_else(|| WitnessError::State("the state did not run the check".into()))
    }
}

/// A witness state in memory, for tests of the witness and of its clients.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct MemState(std::sync::Mutex<std::collections::HashMap<String, Cosigned>>);

#[cfg(test)]
impl MemState {
    /// The latest checkpoint cosigned for `origin`.
    pub(crate) fn get(&self, origin: &str) -> Option<Cosigned> {
        self.0.lock().ok()?.get(origin).cloned()
    }
}

#[cfg(test)]
impl CosignedState for MemState {
    fn advance(
        &self,
        origin: &str,
        decide: &mut dyn FnMut(Option<&Cosigned>) -> Result<Cosigned, WitnessError>,
    ) -> Result<(), WitnessError> {
        let mut m = self
            .0
            .lock()
            .map_err(|_| WitnessError::State("poisoned".into()))?;
        let new = decide(m.get(origin))?;
        m.insert(origin.to_string(), new);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Checkpoint, LedgerKey, Origin};
    use crate::merkle::{consistency_proof, leaf_hash, stored_hashes};

    type Mem = MemState;

    type Tree = Vec<Hash>;

    /// The stored hashes of a tree of `n` leaves; `salt` makes another history.
    fn tree_from(n: u64, salt: u8) -> Tree {
        stored_hashes((0..n).map(|i| {
            let mut leaf = i.to_be_bytes().to_vec();
            leaf.push(salt);
            leaf_hash(&leaf)
        }))
    }

    fn tree(n: u64) -> Tree {
        tree_from(n, 0)
    }

    fn setup() -> (LedgerKey, Witness) {
        let lk = LedgerKey::generate(&Origin::new("example.org/log").unwrap());
        let mut logs = Logs::default();
        logs.add(lk.verifier_key());
        let w = Witness {
            key: CosignerKey::generate("witness.example/w").unwrap(),
            logs,
        };
        (lk, w)
    }

    fn body(lk: &LedgerKey, t: &Tree, old: u64, size: u64) -> Vec<u8> {
        let root = crate::merkle::tree_root(size, t).unwrap();
        let cp = Checkpoint {
            origin: lk.origin().clone(),
            size,
            root,
        };
        let proof = if old == 0 || old >= size {
            vec![]
        } else {
            consistency_proof(old, size, t).unwrap()
        };
        AddCheckpoint {
            old,
            proof,
            note: lk.sign(&cp).unwrap().note,
        }
        .to_bytes()
    }

    fn status(r: Result<Vec<u8>, WitnessError>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(WitnessError::Refused(r)) => r.status(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn every_status_in_order() {
        let (lk, w) = setup();
        let st = Mem::default();
        let t = tree(20);
        assert_eq!(status(w.add_checkpoint(&body(&lk, &t, 0, 5), &st, 10)), 200);
        assert_eq!(status(w.add_checkpoint(&body(&lk, &t, 5, 9), &st, 11)), 200);
        // Same size, same root: cosigned again.
        assert_eq!(status(w.add_checkpoint(&body(&lk, &t, 9, 9), &st, 12)), 200);
        assert_eq!(status(w.add_checkpoint(&body(&lk, &t, 5, 12), &st, 12)), 409);
        assert_eq!(status(w.add_checkpoint(&body(&lk, &t, 13, 12), &st, 12)), 400);
        let other = LedgerKey::generate(&Origin::new("example.org/other").unwrap());
        assert_eq!(status(w.add_checkpoint(&body(&other, &t, 0, 1), &st, 12)), 404);
        let impostor =
            LedgerKey::from_skey(&LedgerKey::generate(&Origin::new("example.org/log").unwrap()).to_skey())
                .unwrap();
        assert_eq!(
            status(w.add_checkpoint(&body(&impostor, &t, 9, 12), &st, 12)),
            403
        );
        // A fork of the same size.
        let t2 = tree_from(21, 1);
        assert_eq!(status(w.add_checkpoint(&body(&lk, &t2, 9, 9), &st, 12)), 422);
    }

    #[test]
    fn the_cosignature_verifies_and_time_is_monotonic() {
        let (lk, w) = setup();
        let st = Mem::default();
        let t = tree(3);
        let line = w.add_checkpoint(&body(&lk, &t, 0, 3), &st, 100).unwrap();
        let text = Checkpoint {
            origin: lk.origin().clone(),
            size: 3,
            root: crate::merkle::tree_root(3, &t).unwrap(),
        }
        .to_text();
        let v = w.key.verifier();
        assert_eq!(
            v.verify_line(text.as_bytes(), std::str::from_utf8(&line).unwrap())
                .unwrap(),
            100
        );
        let line = w.add_checkpoint(&body(&lk, &t, 3, 3), &st, 50).unwrap();
        assert_eq!(
            v.verify_line(text.as_bytes(), std::str::from_utf8(&line).unwrap())
                .unwrap(),
            100
        );
        let stored = st.get("example.org/log").unwrap();
        assert_eq!(v.verify_note(&stored.note).unwrap(), 100);
    }

    #[test]
    fn malformed_requests_are_400() {
        for b in [
            &b"old 01\n\nx"[..],
            b"old -1\n\n",
            b"old 1",
            b"old 1\nAAAA\n\n",
            b"old 1\nnot base64!\n\n",
            b"olde 1\n\n",
        ] {
            assert!(
                matches!(AddCheckpoint::parse(b), Err(Refusal::BadRequest(_))),
                "{b:?}"
            );
        }
        let h = format!("{}\n", STANDARD.encode([0u8; 32]));
        let ok = format!("old 1\n{}\n", h.repeat(63));
        assert_eq!(AddCheckpoint::parse(ok.as_bytes()).unwrap().proof.len(), 63);
        let too_many = format!("old 1\n{}\n", h.repeat(64));
        assert!(AddCheckpoint::parse(too_many.as_bytes()).is_err());
    }

    #[test]
    fn proofs_from_zero_and_empty_trees() {
        let (lk, w) = setup();
        let st = Mem::default();
        let t = tree(4);
        let mut b = AddCheckpoint::parse(&body(&lk, &t, 0, 4)).unwrap();
        b.proof = vec![[0; 32]];
        assert_eq!(status(w.add_checkpoint(&b.to_bytes(), &st, 1)), 422);
        let empty = lk
            .sign(&Checkpoint {
                origin: lk.origin().clone(),
                size: 0,
                root: [1; 32],
            })
            .unwrap()
            .note;
        let req = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: empty,
        };
        assert_eq!(status(w.add_checkpoint(&req.to_bytes(), &st, 1)), 422);
    }
}
