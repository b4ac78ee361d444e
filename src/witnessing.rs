//! The log's side of witnessing (docs/FORMAT.md section 17): sending the ledger's newest signed
//! checkpoint to every witness of a [`WitnessPolicy`] that has a URL (C2SP tlog-witness
//! `POST <url>/add-checkpoint`), keeping the cosignatures that verify, and saying whether the
//! policy's quorum is met.
//!
//! Each request starts from the size the witness is remembered to have cosigned
//! ([`KnownSizes`]; 0 when nothing is remembered). A 409 with a size (`text/x.tlog.size`) is
//! retried once, from that size. Answers that no honest history explains are never retried
//! away: a size larger than the log's own, a 422 (the witness holds a checkpoint this log's
//! tree does not extend, or the proof failed against it), are written down as evidence (the
//! requests and the answers, byte for byte, durably, in the evidence directory) and reported.
//! A cosignature line that does not verify with the witness's key over this very checkpoint is
//! reported and never counted.
//!
//! Everything from the network is bounded ([`crate::remote::post`]): connecting and the whole
//! answer within the timeout, an answer of at most [`MAX_ANSWER`] bytes, no redirect followed.
//! Witnesses are asked concurrently, one thread each; a witness that is down only delays the
//! quorum, it never holds up an append.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checkpoint::SignedCheckpoint;
use crate::checkpoint::MAX_NOTE_SIZE;
use crate::merkle::{consistency_proof, Hash, HashStore};
use crate::policy::{PolicyWitness, WitnessPolicy};
use crate::remote::PostAnswer;
use crate::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};

/// How long one request to a witness may take by default (connecting and the whole answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from a witness (a few cosignature lines are some 100 bytes each).
pub const MAX_ANSWER: usize = 64 * 1024;
/// Where, in the ledger's directory, evidence from witnesses is kept.
pub const EVIDENCE_DIR: &str = "witness-evidence";
/// Where, in the ledger's directory, the size each witness last cosigned is remembered.
pub const SIZES_FILE: &str = "witness-sizes";
/// The first line of [`SIZES_FILE`].
const SIZES_MAGIC: &str = "accord-witness-sizes/1";
/// The first line of an evidence file.
pub const EVIDENCE_MAGIC: &str = "accord-witness-evidence/1";
/// Largest [`SIZES_FILE`] read (one line per witness of a policy, at most 256).
const MAX_SIZES_FILE: u64 = 256 * 1024;

/// What keeps cosignatures from being collected at all (a witness's failure is not one: it is
/// in its [`WitnessOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum WitnessingError {
    /// A file of the ledger's directory (remembered sizes, evidence) could not be written.
    #[error("{path}: {problem}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        problem: String,
    },
    /// A consistency proof could not be made from the ledger's stored hashes.
    #[error("consistency proof from size {old} to {size}: {problem}")]
    Proof {
        /// The witness's size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// What failed.
        problem: String,
    },
}

/// Where one witness stands after a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It cosigned the checkpoint; its cosignature verifies.
    Cosigned,
    /// No usable answer: could not connect, timed out, a 5xx, an answer too large.
    Down,
    /// It refused for a reason an honest history explains (it does not follow this log, or
    /// does not trust its key, a second 409 in a row): nothing counted, nothing kept.
    Refused,
    /// An answer that no honest history explains: kept in the evidence directory.
    Evidence,
    /// It answered 200 with no cosignature line that verifies with its key over this
    /// checkpoint: never counted.
    BadCosignature,
    /// The policy gives no URL for it: it is not asked.
    NoUrl,
}

impl Status {
    /// The name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Cosigned => "cosigned",
            Status::Down => "down",
            Status::Refused => "refused",
            Status::Evidence => "evidence",
            Status::BadCosignature => "bad-cosignature",
            Status::NoUrl => "no-url",
        }
    }
}

/// What one witness of the policy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessOutcome {
    /// Its name in the policy.
    pub name: String,
    /// Its URL, as given by the policy (may carry a password: show it through
    /// [`crate::remote::redact`]).
    pub url: Option<String>,
    /// Where it stands.
    pub status: Status,
    /// The size it is now known to have cosigned (remembered, or learnt from this collection).
    pub size_known: Option<u64>,
    /// Why it did not cosign, in a few words.
    pub error: Option<String>,
    /// The evidence file written for it.
    pub evidence: Option<PathBuf>,
    /// Its cosignature line (without its newline).
    pub cosignature: Option<String>,
}

/// The result of one collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    /// The checkpoint's size.
    pub size: u64,
    /// The checkpoint note with every cosignature collected appended (in policy order).
    pub note: Vec<u8>,
    /// Whether the policy's quorum is met by those cosignatures.
    pub quorum_met: bool,
    /// Per witness of the policy, in policy order.
    pub witnesses: Vec<WitnessOutcome>,
}

impl Collection {
    /// The witnesses that did not cosign this checkpoint.
    pub fn behind(&self) -> impl Iterator<Item = &WitnessOutcome> {
        self.witnesses.iter().filter(|w| w.status != Status::Cosigned)
    }
    /// The witnesses whose answers were kept as evidence.
    pub fn evidence(&self) -> impl Iterator<Item = &WitnessOutcome> {
        self.witnesses.iter().filter(|w| w.status == Status::Evidence)
    }
}

/// The size each witness last cosigned, by its cosignature vkey (a renamed witness keeps its
/// size; a new key starts again from 0, and a 409 tells).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownSizes {
    sizes: BTreeMap<String, u64>,
}

impl KnownSizes {
    /// The size remembered for `w`.
    pub fn get(&self, w: &PolicyWitness) -> Option<u64> {
        self.sizes.get(&w.key.to_string()).copied()
    }
    /// Remembers `size` for `w`.
    pub fn set(&mut self, w: &PolicyWitness, size: u64) {
        self.sizes.insert(w.key.to_string(), size);
    }

    /// Every witness remembered: its cosignature vkey and size, by vkey.
    pub fn entries(&self) -> impl Iterator<Item = (&str, u64)> {
        self.sizes.iter().map(|(k, n)| (k.as_str(), *n))
    }

    /// Reads the remembered sizes from `path`; an absent, oversized or unreadable file is
    /// nothing remembered (every witness starts from 0 and its 409 says where it is), and
    /// lines that do not parse are skipped.
    pub fn load(path: &Path) -> KnownSizes {
        let mut k = KnownSizes::default();
        let Ok(Some(f)) = crate::localfs::open_regular(path) else {
            return k;
        };
        let mut text = String::new();
        if std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_SIZES_FILE), &mut text).is_err() {
            return k;
        }
        let mut lines = text.lines();
        if lines.next() != Some(SIZES_MAGIC) {
            return k;
        }
        for l in lines {
            if let Some((key, n)) = l.rsplit_once(' ') {
                if let Ok(n) = n.parse::<u64>() {
                    k.sizes.insert(key.to_string(), n);
                }
            }
        }
        k
    }

    /// Replaces `path` with these sizes, durably (a new file synced, renamed over the old one,
    /// the directory synced).
    ///
    /// # Errors
    /// [`WitnessingError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), WitnessingError> {
        let mut text = format!("{SIZES_MAGIC}\n");
        for (k, n) in &self.sizes {
            text.push_str(&format!("{k} {n}\n"));
        }
        write_durably(path, text.as_bytes())
    }
}

fn io_error(path: &Path) -> impl Fn(String) -> WitnessingError + '_ {
    move |problem| WitnessingError::Io {
        path: path.to_path_buf(),
        problem,
    }
}

/// Writes `bytes` to `path` through a fresh temporary file in the same directory, synced,
/// renamed over `path`, and the directory synced: on disk before this returns.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), WitnessingError> {
    let err = io_error(path);
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(crate::localfs::temp_name(".witness-tmp-"));
    let mut f = crate::localfs::create_new(&tmp, 0o600).map_err(|e| err(e.to_string()))?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e.to_string()));
    }
    crate::localfs::open_dir(dir)
        .map_err(|e| err(e.to_string()))?
        .sync_all()
        .map_err(|e| err(e.to_string()))
}

/// How to collect.
#[derive(Clone, Debug)]
pub struct CollectOptions {
    /// How long one request may take.
    pub timeout: Duration,
    /// Where evidence files are written (created, private, when there is evidence).
    pub evidence_dir: PathBuf,
    /// The time (POSIX seconds) to judge the cosignatures at and to name evidence by.
    pub now: u64,
}

/// One request and its answer, as kept in an evidence file.
#[derive(Clone, Debug)]
struct Exchange {
    request: Vec<u8>,
    answer: PostAnswer,
}

/// What one witness's requests came to, before evidence is written.
struct Asked {
    status: Status,
    size_known: Option<u64>,
    error: Option<String>,
    cosignature: Option<String>,
    exchanges: Vec<Exchange>,
}

impl Asked {
    /// Records a final answer; a cosignature means the witness now holds `size`.
    fn done(&mut self, status: Status, error: Option<String>, line: Option<String>, size: u64) {
        self.status = status;
        self.error = error;
        if status == Status::Cosigned {
            self.size_known = Some(size);
            self.cosignature = line;
        }
    }
}

/// How a request is sent: `(url, body)` to an answer or a reason there is none.
pub type Sender<'a> = &'a (dyn Fn(&str, &[u8]) -> Result<PostAnswer, String> + Sync);

/// Collects cosignatures of `checkpoint` (the ledger's, verified; its size `cp.size`) from every
/// witness of `policy` with a URL, over HTTP(S), with consistency proofs from `hashes`.
/// `known` is read for where each witness starts and updated with what was learnt (the caller
/// saves it).
///
/// # Errors
/// [`WitnessingError`]: a proof that cannot be made, evidence that cannot be written.
pub fn collect(
    policy: &WitnessPolicy,
    checkpoint: &SignedCheckpoint,
    hashes: &(impl HashStore + ?Sized),
    known: &mut KnownSizes,
    options: &CollectOptions,
) -> Result<Collection, WitnessingError> {
    let timeout = options.timeout;
    let send = move |url: &str, body: &[u8]| {
        crate::remote::post(url, body, "text/plain; charset=utf-8", timeout, MAX_ANSWER)
    };
    collect_with(policy, checkpoint, hashes, known, options, &send)
}

/// [`collect`] with the requests sent by `send` (a test's in-process witnesses).
///
/// # Errors
/// As [`collect`].
pub fn collect_with(
    policy: &WitnessPolicy,
    checkpoint: &SignedCheckpoint,
    hashes: &(impl HashStore + ?Sized),
    known: &mut KnownSizes,
    options: &CollectOptions,
    send: Sender<'_>,
) -> Result<Collection, WitnessingError> {
    let size = checkpoint.checkpoint.size;
    let text = checkpoint.checkpoint.to_text();
    let witnesses = policy.witnesses();
    let proof_from = |old: u64| -> Result<Vec<Hash>, WitnessingError> {
        if old == 0 || old >= size {
            return Ok(Vec::new());
        }
        consistency_proof(old, size, hashes).map_err(|e| WitnessingError::Proof {
            old,
            size,
            problem: e.to_string(),
        })
    };
    let request = |old: u64| -> Result<Vec<u8>, WitnessingError> {
        Ok(AddCheckpoint {
            old,
            proof: proof_from(old)?,
            note: checkpoint.note.clone(),
        }
        .to_bytes())
    };
    // Round one: every witness with a URL, from its remembered size (a remembered size above
    // the log's own is not sent: from 0, the witness's 409 says where it stands).
    let mut asked: Vec<Option<Asked>> = witnesses.iter().map(|_| None).collect();
    let mut first = Vec::new();
    for (i, w) in witnesses.iter().enumerate() {
        if let Some(url) = &w.url {
            let old = known.get(w).filter(|&o| o <= size).unwrap_or(0);
            first.push((i, endpoint(url), old, request(old)?));
        }
    }
    let answers = send_all(&first, send);
    let mut retries = Vec::new();
    for ((i, url, old, req), answer) in first.into_iter().zip(answers) {
        let w = &witnesses[i];
        let step = judge_answer(w, text.as_bytes(), size, old, false, answer.as_ref());
        let mut a = Asked {
            status: Status::Down,
            size_known: known.get(w),
            error: None,
            cosignature: None,
            exchanges: Vec::new(),
        };
        if let Ok(ans) = &answer {
            a.exchanges.push(Exchange {
                request: req,
                answer: ans.clone(),
            });
        }
        match step {
            Step::Done(status, error, line) => a.done(status, error, line, size),
            Step::Retry(from) => {
                a.size_known = Some(from);
                retries.push((i, url, from, request(from)?));
            }
        }
        asked[i] = Some(a);
    }
    // Round two: once, from the size each 409 named.
    let answers = send_all(&retries, send);
    for ((i, _, old, req), answer) in retries.into_iter().zip(answers) {
        let w = &witnesses[i];
        let Some(a) = asked[i].as_mut() else { continue };
        if let Ok(ans) = &answer {
            a.exchanges.push(Exchange {
                request: req,
                answer: ans.clone(),
            });
        }
        match judge_answer(w, text.as_bytes(), size, old, true, answer.as_ref()) {
            Step::Done(status, error, line) => a.done(status, error, line, size),
            Step::Retry(from) => {
                a.status = Status::Refused;
                a.size_known = Some(from);
                a.error = Some(format!(
                    "answered 409 again, now with size {from}: another process is sending it this log's checkpoints at the same time; the next collection starts from there"
                ));
            }
        }
    }
    let mut note = checkpoint.note.clone();
    let mut signature_lines = signature_lines(&note);
    let mut outcomes = Vec::new();
    for (w, a) in witnesses.iter().zip(asked) {
        let Some(mut a) = a else {
            outcomes.push(WitnessOutcome {
                name: w.name.clone(),
                url: None,
                status: Status::NoUrl,
                size_known: known.get(w),
                error: Some("the policy gives no URL for it, so it is not asked".into()),
                evidence: None,
                cosignature: None,
            });
            continue;
        };
        if let Some(n) = a.size_known {
            if a.status != Status::Evidence {
                known.set(w, n);
            }
        }
        if let Some(line) = a.cosignature.take() {
            // A checkpoint is a note of at most MAX_NOTE_SIZE bytes and MAX_SIGNATURE_LINES
            // signature lines (FORMAT §6): the lines that do not fit are left off (in policy
            // order), rather than publishing a note no client can read.
            if append_fitting(&mut note, &mut signature_lines, &line) {
                a.cosignature = Some(line);
            } else {
                a.error = Some(format!(
                    "cosigned, but its line does not fit on the checkpoint (at most {MAX_NOTE_SIZE} bytes and {MAX_SIGNATURE_LINES} signature lines): left off"
                ));
            }
        }
        let evidence = if a.status == Status::Evidence {
            Some(write_evidence(
                options,
                w,
                size,
                a.error.as_deref().unwrap_or(""),
                &a.exchanges,
            )?)
        } else {
            None
        };
        outcomes.push(WitnessOutcome {
            name: w.name.clone(),
            url: w.url.clone(),
            status: a.status,
            size_known: a.size_known,
            error: a.error,
            evidence,
            cosignature: a.cosignature,
        });
    }
    let quorum_met = policy.judge(&note, options.now, None).quorum_met;
    Ok(Collection {
        size,
        note,
        quorum_met,
        witnesses: outcomes,
    })
}

/// Most signature lines a checkpoint note may carry (the log's own included); `signed_note`
/// refuses a note with more.
pub const MAX_SIGNATURE_LINES: usize = 100;

/// Appends the signature line `line` (without its newline) to `note` if the note stays within
/// [`MAX_NOTE_SIZE`] bytes and [`MAX_SIGNATURE_LINES`] lines; whether it did.
fn append_fitting(note: &mut Vec<u8>, lines: &mut usize, line: &str) -> bool {
    if note.len() + line.len() + 1 > MAX_NOTE_SIZE || *lines >= MAX_SIGNATURE_LINES {
        return false;
    }
    note.extend_from_slice(line.as_bytes());
    note.push(b'\n');
    *lines += 1;
    true
}

/// The signature lines of a signed note (after its last blank line).
fn signature_lines(note: &[u8]) -> usize {
    match note.windows(2).rposition(|w| w == b"\n\n") {
        Some(at) => note[at + 2..].iter().filter(|&&b| b == b'\n').count(),
        None => 0,
    }
}

/// `<url>/add-checkpoint` (the policy's URL is the witness's prefix).
fn endpoint(url: &str) -> String {
    format!("{}/add-checkpoint", url.trim_end_matches('/'))
}

/// Sends every request at once, one thread each; the answers in the same order.
fn send_all(requests: &[(usize, String, u64, Vec<u8>)], send: Sender<'_>) -> Vec<Result<PostAnswer, String>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = requests
            .iter()
            .map(|(_, url, _, body)| s.spawn(move || send(url, body)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the request's thread failed".into()))
            })
            .collect()
    })
}

enum Step {
    /// Final: the status, why (when not cosigned), and the cosignature line.
    Done(Status, Option<String>, Option<String>),
    /// A 409 naming this size, at or below the log's: ask again from there.
    Retry(u64),
}

/// The size in a 409's `text/x.tlog.size` body: ASCII digits with no sign or leading zeros and
/// at most one final newline, or nothing understood.
fn parse_size_body(body: &[u8]) -> Option<u64> {
    let b = std::str::from_utf8(body).ok()?;
    let b = b.strip_suffix('\n').unwrap_or(b);
    if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) || (b.len() > 1 && b.starts_with('0')) {
        return None;
    }
    b.parse().ok()
}

/// What an answer to a request from `old` means.
fn judge_answer(
    w: &PolicyWitness,
    text: &[u8],
    size: u64,
    old: u64,
    retried: bool,
    answer: Result<&PostAnswer, &String>,
) -> Step {
    let done = |s: Status, e: String| Step::Done(s, Some(e), None);
    let a = match answer {
        Ok(a) => a,
        Err(e) => return done(Status::Down, e.clone()),
    };
    match a.status {
        200 => cosignature(w, text, &a.body),
        409 => {
            let typed = a
                .content_type
                .as_deref()
                .and_then(|c| c.split(';').next())
                .is_some_and(|c| c.trim().eq_ignore_ascii_case(SIZE_CONTENT_TYPE));
            let named = parse_size_body(&a.body).filter(|_| typed);
            match named {
                None => done(
                    Status::Refused,
                    format!("answered 409 without a size as {SIZE_CONTENT_TYPE}"),
                ),
                Some(n) if n > size => done(
                    Status::Evidence,
                    format!(
                        "EVIDENCE: it says it cosigned a checkpoint of this log of size {n}, larger than the log's own {size}: a checkpoint signed with the ledger key that this ledger does not hold (a fork, or this ledger rolled back)"
                    ),
                ),
                Some(n) if retried => Step::Retry(n),
                Some(n) if n == old => done(
                    Status::Refused,
                    format!("answered 409 naming the size {n} the request was from"),
                ),
                Some(n) => Step::Retry(n),
            }
        }
        422 => done(
            Status::Evidence,
            if retried {
                format!(
                    "EVIDENCE: it named size {old} as the one it cosigned, then refused the consistency proof from {old} to {size} as inconsistent: it holds a checkpoint of size {old} of another tree signed with the ledger key (a split view)"
                )
            } else {
                format!(
                    "EVIDENCE: it refused the consistency proof from size {old} to {size} as inconsistent: it holds a checkpoint of this log that this ledger's tree does not extend (a split view)"
                )
            },
        ),
        403 => done(
            Status::Refused,
            "answered 403: it does not trust the ledger key (give its operator the ledger's vkey)".into(),
        ),
        404 => done(
            Status::Refused,
            "answered 404: it does not follow this log's origin (or the URL is not its add-checkpoint prefix)"
                .into(),
        ),
        s if (500..600).contains(&s) => done(Status::Down, format!("answered {s}")),
        s => done(
            Status::Refused,
            format!(
                "answered {s}: {}",
                crate::remote::redact(&String::from_utf8_lossy(&a.body[..a.body.len().min(200)]))
                    .escape_debug()
            ),
        ),
    }
}

/// The witness's cosignature line in a 200's body: the first line of its key that verifies
/// over `text`. Lines of other keys are ignored; a line of its key that fails, or none at all,
/// is a bad cosignature.
fn cosignature(w: &PolicyWitness, text: &[u8], body: &[u8]) -> Step {
    let bad = |e: String| Step::Done(Status::BadCosignature, Some(e), None);
    let Ok(body) = std::str::from_utf8(body) else {
        return bad("answered 200 with a body that is not UTF-8".into());
    };
    let mut found = None;
    for line in body.lines().filter(|l| !l.is_empty()) {
        match w.key.verify_line(text, line) {
            Ok(_) => {
                if found.is_none() {
                    found = Some(line.to_string());
                }
            }
            Err(crate::cosignature::CosignatureError::OtherKey(_)) => {}
            Err(e) => {
                return bad(format!(
                    "answered 200 with a cosignature that does not verify: {e}"
                ))
            }
        }
    }
    match found {
        Some(line) => Step::Done(Status::Cosigned, None, Some(line)),
        None => bad(format!(
            "answered 200 without a cosignature line of its key {}",
            w.key
        )),
    }
}

/// Writes the evidence of one witness durably: a new file in the evidence directory, never
/// replacing another. Its format is in docs/FORMAT.md section 17.
fn write_evidence(
    options: &CollectOptions,
    w: &PolicyWitness,
    size: u64,
    reason: &str,
    exchanges: &[Exchange],
) -> Result<PathBuf, WitnessingError> {
    let dir = &options.evidence_dir;
    crate::localfs::create_dir_all(dir, 0o700).map_err(|e| io_error(dir)(e.to_string()))?;
    let safe: String = w
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let path = dir.join(crate::localfs::temp_name(&format!(
        "{}-{safe}-{size}-",
        options.now
    )));
    let mut out = format!(
        "{EVIDENCE_MAGIC}\nwitness: {}\nvkey: {}\nurl: {}\ntime: {}\nlog size: {size}\nreason: {reason}\nexchanges: {}\n",
        w.name,
        w.key,
        w.url.as_deref().map(crate::remote::redact).unwrap_or_default(),
        options.now,
        exchanges.len()
    )
    .into_bytes();
    for e in exchanges {
        out.extend_from_slice(format!("request: {} bytes\n", e.request.len()).as_bytes());
        out.extend_from_slice(&e.request);
        out.extend_from_slice(
            format!(
                "\nstatus: {}\ncontent-type: {}\nresponse: {} bytes\n",
                e.answer.status,
                e.answer.content_type.as_deref().unwrap_or("").escape_debug(),
                e.answer.body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&e.answer.body);
        out.push(b'\n');
    }
    {
        let err = io_error(&path);
        let mut f = crate::localfs::create_new(&path, 0o600).map_err(|e| err(e.to_string()))?;
        f.write_all(&out)
            .and_then(|()| f.sync_all())
            .map_err(|e| err(e.to_string()))?;
        crate::localfs::open_dir(dir)
            .map_err(|e| err(e.to_string()))?
            .sync_all()
            .map_err(|e| err(e.to_string()))?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_409_size_is_digits_only() {
        assert_eq!(parse_size_body(b"5\n"), Some(5));
        assert_eq!(parse_size_body(b"0"), Some(0));
        assert_eq!(parse_size_body(b"18446744073709551615\n"), Some(u64::MAX));
        for bad in [
            &b"+5"[..],
            b"05",
            b"-0",
            b" 5",
            b"5 ",
            b"",
            b"\n",
            b"5\n\n",
            b"18446744073709551616",
        ] {
            assert_eq!(parse_size_body(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn cosignature_lines_that_do_not_fit_on_the_note_are_left_off() {
        let mut note = "o\n1\nAAAA\n\n\u{2014} o sig\n".as_bytes().to_vec();
        let mut lines = signature_lines(&note);
        assert_eq!(lines, 1);
        for i in 1..MAX_SIGNATURE_LINES {
            assert!(
                append_fitting(&mut note, &mut lines, &format!("\u{2014} w{i} x")),
                "{i}"
            );
        }
        assert_eq!(lines, MAX_SIGNATURE_LINES);
        assert!(!append_fitting(&mut note, &mut lines, "\u{2014} one too many x"));
        assert_eq!(
            signature_lines(&note),
            MAX_SIGNATURE_LINES,
            "the note is unchanged"
        );
        let mut note = "o\n1\nAAAA\n\n\u{2014} o sig\n".as_bytes().to_vec();
        let mut lines = 1;
        let long = "x".repeat(MAX_NOTE_SIZE);
        assert!(
            !append_fitting(&mut note, &mut lines, &long),
            "over the size limit"
        );
        assert_eq!(lines, 1);
    }
    use crate::checkpoint::{Checkpoint, LedgerKey, Origin};
    use crate::cosignature::CosignerKey;
    use crate::merkle::{leaf_hash, stored_hashes, tree_root};
    use crate::witness::{Logs, MemState as Mem, Refusal, Witness, WitnessError};

    /// How a fake witness misbehaves.
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Honest,
        Down,
        Garbage,
        Claims(u64),
    }

    struct W {
        url: String,
        witness: Witness,
        state: Mem,
        mode: Mode,
    }

    fn tree(n: u64, salt: &str) -> Vec<Hash> {
        stored_hashes((0..n).map(|i| leaf_hash(format!("{salt}{i}").as_bytes())))
    }

    fn signed(lk: &LedgerKey, t: &Vec<Hash>, size: u64) -> SignedCheckpoint {
        lk.sign(&Checkpoint {
            origin: lk.origin().clone(),
            size,
            root: tree_root(size, t).unwrap(),
        })
        .unwrap()
    }

    fn setup(modes: &[Mode]) -> (LedgerKey, Vec<W>, WitnessPolicy) {
        let lk = LedgerKey::generate(&Origin::new("example.org/log").unwrap());
        let mut policy = String::new();
        let mut ws = Vec::new();
        for (i, m) in modes.iter().enumerate() {
            let mut logs = Logs::default();
            logs.add(lk.verifier_key());
            let key = CosignerKey::generate(&format!("w{i}.example")).unwrap();
            let url = format!("http://w{i}.example/");
            policy.push_str(&format!("witness w{i} {} {url}\n", key.verifier()));
            ws.push(W {
                url: endpoint(&url),
                witness: Witness { key, logs },
                state: Mem::default(),
                mode: *m,
            });
        }
        let names: Vec<String> = (0..modes.len()).map(|i| format!("w{i}")).collect();
        policy.push_str(&format!(
            "group all-of-them all {}\nquorum all-of-them\n",
            names.join(" ")
        ));
        (lk, ws, WitnessPolicy::parse(&policy).unwrap())
    }

    fn answer(ws: &[W], url: &str, body: &[u8]) -> Result<PostAnswer, String> {
        let w = ws.iter().find(|w| w.url == url).ok_or("no such witness")?;
        let plain = |status: u16, ct: &str, body: Vec<u8>| PostAnswer {
            status,
            content_type: Some(ct.into()),
            body,
        };
        match w.mode {
            Mode::Down => return Err("could not connect: refused".into()),
            Mode::Claims(n) => return Ok(plain(409, SIZE_CONTENT_TYPE, format!("{n}\n").into_bytes())),
            _ => {}
        }
        match w.witness.add_checkpoint(body, &w.state, 1_700_000_000) {
            Ok(mut line) => {
                if w.mode == Mode::Garbage {
                    let n = line.len();
                    line[n - 5] ^= 1;
                }
                Ok(plain(200, "text/plain", line))
            }
            Err(WitnessError::Refused(Refusal::Conflict { latest, .. })) => {
                Ok(plain(409, SIZE_CONTENT_TYPE, format!("{latest}\n").into_bytes()))
            }
            Err(WitnessError::Refused(r)) => Ok(plain(r.status(), "text/plain", r.to_string().into_bytes())),
            Err(e) => Ok(plain(500, "text/plain", e.to_string().into_bytes())),
        }
    }

    fn options(dir: &Path) -> CollectOptions {
        CollectOptions {
            timeout: Duration::from_secs(1),
            evidence_dir: dir.join(EVIDENCE_DIR),
            now: 1_700_000_000,
        }
    }

    fn run(
        ws: &[W],
        p: &WitnessPolicy,
        cp: &SignedCheckpoint,
        t: &Vec<Hash>,
        k: &mut KnownSizes,
        dir: &Path,
    ) -> Collection {
        let send = |url: &str, body: &[u8]| answer(ws, url, body);
        collect_with(p, cp, t, k, &options(dir), &send).unwrap()
    }

    fn statuses(c: &Collection) -> Vec<Status> {
        c.witnesses.iter().map(|w| w.status).collect()
    }

    #[test]
    fn honest_witnesses_cosign_from_zero_then_from_their_size() {
        let d = tempfile::tempdir().unwrap();
        let (lk, ws, p) = setup(&[Mode::Honest, Mode::Honest]);
        let t = tree(20, "a");
        let mut k = KnownSizes::default();
        let c = run(&ws, &p, &signed(&lk, &t, 5), &t, &mut k, d.path());
        assert_eq!(statuses(&c), [Status::Cosigned, Status::Cosigned]);
        assert!(c.quorum_met);
        assert!(p.judge(&c.note, 1_700_000_000, None).quorum_met);
        assert_eq!(k.get(&p.witnesses()[0]), Some(5));
        // From 5 with a proof; a forgotten size (a new KnownSizes) goes through 409.
        let c = run(&ws, &p, &signed(&lk, &t, 12), &t, &mut k, d.path());
        assert!(c.quorum_met, "{c:?}");
        let mut forgot = KnownSizes::default();
        let c = run(&ws, &p, &signed(&lk, &t, 20), &t, &mut forgot, d.path());
        assert!(c.quorum_met, "{c:?}");
        assert_eq!(c.witnesses[1].size_known, Some(20));
        assert!(!d.path().join(EVIDENCE_DIR).exists());
        // Saved and read back.
        let f = d.path().join(SIZES_FILE);
        forgot.save(&f).unwrap();
        assert_eq!(KnownSizes::load(&f), forgot);
        assert_eq!(KnownSizes::load(&d.path().join("absent")), KnownSizes::default());
    }

    #[test]
    fn down_and_garbage_are_not_counted() {
        let d = tempfile::tempdir().unwrap();
        let (lk, ws, p) = setup(&[Mode::Honest, Mode::Down, Mode::Garbage]);
        let t = tree(4, "a");
        let mut k = KnownSizes::default();
        let c = run(&ws, &p, &signed(&lk, &t, 4), &t, &mut k, d.path());
        assert_eq!(
            statuses(&c),
            [Status::Cosigned, Status::Down, Status::BadCosignature]
        );
        assert!(!c.quorum_met);
        assert_eq!(c.behind().count(), 2);
        // Only the honest line is on the note.
        let j = p.judge(&c.note, 1_700_000_000, None);
        assert_eq!(j.counted(), ["w0"]);
        assert!(j.invalid().is_empty());
    }

    #[test]
    fn a_split_view_and_a_larger_size_are_evidence() {
        let d = tempfile::tempdir().unwrap();
        let (lk, ws, p) = setup(&[Mode::Honest, Mode::Claims(99)]);
        let a = tree(8, "a");
        let b = tree(8, "b");
        let mut k = KnownSizes::default();
        // w0 saw B (another tree of the same size, same ledger key).
        let c = run(&ws, &p, &signed(&lk, &b, 8), &b, &mut k, d.path());
        assert_eq!(c.witnesses[0].status, Status::Cosigned);
        let mut k = KnownSizes::default();
        let c = run(&ws, &p, &signed(&lk, &a, 8), &a, &mut k, d.path());
        assert_eq!(statuses(&c), [Status::Evidence, Status::Evidence]);
        assert!(!c.quorum_met);
        assert!(c.witnesses[0].error.as_ref().unwrap().contains("split view"));
        assert!(c.witnesses[1].error.as_ref().unwrap().contains("larger"));
        let f = std::fs::read(c.witnesses[0].evidence.as_ref().unwrap()).unwrap();
        let s = String::from_utf8_lossy(&f);
        assert!(s.starts_with(EVIDENCE_MAGIC), "{s}");
        assert!(s.contains("status: 409") && s.contains("status: 422"), "{s}");
        assert!(s.contains("exchanges: 2"), "{s}");
        // The checkpoint sent is in the evidence, byte for byte.
        assert!(s.contains(&String::from_utf8_lossy(&signed(&lk, &a, 8).note).to_string()));
        // Evidence does not move what is remembered.
        assert_eq!(k.get(&p.witnesses()[1]), None);
    }
}
