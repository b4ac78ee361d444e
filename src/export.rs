//! The export file: a whole ledger in one file, verifiable with no database, and importable
//! into a read-only mirror.
//!
//! ```text
//! export  = "accord-export/1\n" header entry*          ; a magic line, then a CBOR sequence
//! header  = bstr .cbor { "v": 1, "origin": tstr, "size": uint, "checkpoint": bstr }
//! entry   = bstr                                         ; `size` entries, in index order
//! ```
//!
//! Every byte string has a shortest-form head; the header map is deterministic CBOR; the file
//! ends right after the last entry. `checkpoint` is the signed note of tree size `size`.

use std::io::{Read, Write};

use crate::checkpoint::{SignedCheckpoint, VerifierKey};
use crate::codec::{self, MapReader};
use crate::entry::MAX_ENTRY_LEN;
use crate::merkle::Hash;
use crate::norms::Catalogue;
use crate::replay::{Batch, Progress, Replay, ReplayTotals, Snapshot, VerifyReport, VERIFY_BATCH};
use crate::verdict::{Location, VerifyError};

/// First bytes of an export file.
pub const EXPORT_MAGIC: &[u8] = b"accord-export/1\n";
/// Largest header accepted.
pub const MAX_HEADER: usize = 32 * 1024;

/// The export header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportHeader {
    /// The ledger's origin.
    pub origin: String,
    /// Number of entries that follow.
    pub size: u64,
    /// Signed note of the checkpoint of that size.
    pub checkpoint: Vec<u8>,
}

fn bad(problem: impl Into<String>) -> VerifyError {
    VerifyError::Invalid {
        at: Location::Ledger,
        problem: format!("export file: {}", problem.into()),
    }
}

fn io(e: std::io::Error) -> VerifyError {
    VerifyError::Read(Box::new(e))
}

fn write_bstr(w: &mut impl Write, b: &[u8]) -> Result<(), VerifyError> {
    let mut head = Vec::with_capacity(9);
    let n = b.len() as u64;
    match n {
        0..=23 => head.push(0x40 | n as u8),
        24..=0xff => head.extend_from_slice(&[0x58, n as u8]),
        0x100..=0xffff => {
            head.push(0x59);
            head.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            head.push(0x5a);
            head.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            head.push(0x5b);
            head.extend_from_slice(&n.to_be_bytes());
        }
    }
    w.write_all(&head).map_err(io)?;
    w.write_all(b).map_err(io)
}

/// Reads one canonical CBOR byte string of at most `max` bytes; `Ok(None)` at a clean end.
fn read_bstr(
    r: &mut impl Read,
    max: usize,
    what: &dyn std::fmt::Display,
) -> Result<Option<Vec<u8>>, VerifyError> {
    let mut first = [0u8; 1];
    // A read of 0 bytes is the clean end of the file (read_exact below catches truncation).
    if r.read(&mut first).map_err(io)? == 0 {
        return Ok(None);
    }
    if first[0] >> 5 != 2 {
        return Err(bad(format!("{what}: expected a CBOR byte string")));
    }
    let info = first[0] & 0x1f;
    let mut read_n = |n: usize| -> Result<u64, VerifyError> {
        let mut b = [0u8; 8];
        r.read_exact(&mut b[8 - n..])
            .map_err(|_| bad(format!("{what}: truncated")))?;
        Ok(u64::from_be_bytes(b))
    };
    let (len, min) = match info {
        0..=23 => (u64::from(info), 0),
        24 => (read_n(1)?, 24),
        25 => (read_n(2)?, 0x100),
        26 => (read_n(4)?, 0x1_0000),
        27 => (read_n(8)?, 0x1_0000_0000),
        _ => return Err(bad(format!("{what}: indefinite or invalid length"))),
    };
    if len < min {
        return Err(bad(format!(
            "{what}: length not in shortest form (not canonical)"
        )));
    }
    if len > max as u64 {
        return Err(bad(format!("{what}: {len} bytes, more than the {max} allowed")));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)
        .map_err(|_| bad(format!("{what}: truncated")))?;
    Ok(Some(buf))
}

/// Writes the magic line and the header.
///
/// # Errors
/// [`VerifyError::Read`] for an I/O error (of writing), [`VerifyError::Invalid`] for a header
/// that cannot be encoded.
pub fn write_header(w: &mut impl Write, header: &ExportHeader) -> Result<(), VerifyError> {
    w.write_all(EXPORT_MAGIC).map_err(io)?;
    let h = codec::map([
        ("v".into(), codec::uint(1)),
        ("origin".into(), codec::text(header.origin.clone())),
        ("size".into(), codec::uint(header.size)),
        ("checkpoint".into(), codec::bytes(header.checkpoint.clone())),
    ]);
    write_bstr(w, &codec::encode(&h).map_err(|e| bad(e.to_string()))?)
}

/// Writes one entry.
///
/// # Errors
/// [`VerifyError::Read`] for an I/O error (of writing).
pub fn write_entry(w: &mut impl Write, entry: &[u8]) -> Result<(), VerifyError> {
    write_bstr(w, entry)
}

/// Reads an export's magic line and header.
///
/// # Errors
/// [`VerifyError::Invalid`] naming the problem.
pub fn read_header(r: &mut impl Read) -> Result<ExportHeader, VerifyError> {
    let mut magic = [0u8; 16];
    r.read_exact(&mut magic)
        .map_err(|_| bad("too short to be an export"))?;
    if magic != EXPORT_MAGIC {
        return Err(bad("not an accord export (bad magic line)"));
    }
    let h = read_bstr(r, MAX_HEADER, &"header")?.ok_or_else(|| bad("header missing"))?;
    let v = codec::decode_item(&h, MAX_HEADER).map_err(|e| bad(format!("header: {e}")))?;
    let mut m = MapReader::new(v, "export header").map_err(|e| bad(e.to_string()))?;
    let version = m.uint("v").map_err(|e| bad(e.to_string()))?;
    if version != 1 {
        return Err(bad(format!("unsupported export version {version}")));
    }
    let header = ExportHeader {
        origin: m.text("origin").map_err(|e| bad(e.to_string()))?,
        size: m.uint("size").map_err(|e| bad(e.to_string()))?,
        checkpoint: m.bytes("checkpoint").map_err(|e| bad(e.to_string()))?,
    };
    m.finish().map_err(|e| bad(e.to_string()))?;
    Ok(header)
}

/// Streams every entry of an export to `f` in index order, then requires the end of file.
///
/// # Errors
/// [`VerifyError::Invalid`] for a malformed file, or what `f` returns.
pub fn for_each_entry<E: From<VerifyError>>(
    r: &mut impl Read,
    size: u64,
    f: impl FnMut(u64, Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    for_each_entry_from(r, 0, size, f)
}

/// [`for_each_entry`] for a stream whose first entry is `first` (the entries `first..size`).
///
/// # Errors
/// As [`for_each_entry`].
pub fn for_each_entry_from<E: From<VerifyError>>(
    r: &mut impl Read,
    first: u64,
    size: u64,
    mut f: impl FnMut(u64, Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    for i in first..size {
        let e = read_bstr(r, MAX_ENTRY_LEN, &format_args!("entry {i}"))?
            .ok_or_else(|| bad(format!("ends after {i} of {size} entries")))?;
        f(i, e)?;
    }
    let mut extra = [0u8; 1];
    if r.read(&mut extra).map_err(io)? != 0 {
        return Err(bad("trailing bytes after the last entry").into());
    }
    Ok(())
}

/// Verifies an export with no database: everything `accord verify` checks of entries, plus
/// the tree root against the signed checkpoint. `want_root_at` asks for the replayed root at
/// one size (for remembered-checkpoint checks).
///
/// # Errors
/// [`VerifyError::Invalid`] naming the first bad entry or the checkpoint.
pub fn verify_export(
    r: &mut impl Read,
    vkey: &VerifierKey,
    catalogue: &Catalogue,
    want_root_at: Option<u64>,
    progress: Option<Progress<'_>>,
) -> Result<(VerifyReport, ReplayTotals, Option<Hash>), VerifyError> {
    let header = read_header(r)?;
    verify_export_entries(r, &header, vkey, catalogue, want_root_at, None, progress, |_| {
        Ok(())
    })
}

/// Where a verification of an export stream resumes: from a [`Snapshot`], with the stream's
/// entries starting at `first`.
pub struct Resume {
    /// The state of an earlier verification of the same log.
    pub snapshot: Snapshot,
    /// The index of the stream's first entry: 0 for an export file (the entries before the
    /// snapshot are then hashed and chained, and their tree must be the snapshot's), or any
    /// index up to the snapshot's size for a stream that starts later (the entries before the
    /// snapshot's size are then skipped: the signed root of the new checkpoint, rebuilt from
    /// the snapshot's tree edge and the entries after it, is what ties them to it).
    pub first: u64,
}

/// [`verify_export`] resumed from an earlier verification when `resume` is given (the stream
/// starting at entry `resume.first`); returns the state at the end as well.
///
/// # Errors
/// As [`verify_export`].
pub fn verify_export_from(
    r: &mut impl Read,
    vkey: &VerifierKey,
    catalogue: &Catalogue,
    want_root_at: Option<u64>,
    resume: Option<Resume>,
    progress: Option<Progress<'_>>,
) -> Result<(VerifyReport, ReplayTotals, Option<Hash>), VerifyError> {
    let header = read_header(r)?;
    verify_export_entries(
        r,
        &header,
        vkey,
        catalogue,
        want_root_at,
        resume,
        progress,
        |_| Ok(()),
    )
}

/// Checks an export header against the ledger key: its checkpoint must verify and match the
/// header's size and origin.
///
/// # Errors
/// [`VerifyError::Invalid`].
pub fn open_header(header: &ExportHeader, vkey: &VerifierKey) -> Result<SignedCheckpoint, VerifyError> {
    let cp = SignedCheckpoint::open(&header.checkpoint, vkey).map_err(|e| VerifyError::Invalid {
        at: Location::Checkpoint(header.size),
        problem: e.to_string(),
    })?;
    if cp.checkpoint.size != header.size || cp.checkpoint.origin.as_str() != header.origin {
        return Err(bad("header does not match its signed checkpoint"));
    }
    Ok(cp)
}

/// Verifies the entries of an export whose header was read already, in one pass over `r`.
/// `on_batch` is given each batch of entries as soon as it has passed the rules (its
/// signatures may still be pending: only the `Ok` of this function means the whole export
/// verified), so that a caller can stage exactly the bytes being verified, from the same read.
///
/// # Errors
/// [`VerifyError::Invalid`] naming the first bad entry or the checkpoint; what `on_batch`
/// returns.
#[allow(clippy::too_many_arguments)]
pub fn verify_export_entries<E: From<VerifyError>>(
    r: &mut impl Read,
    header: &ExportHeader,
    vkey: &VerifierKey,
    catalogue: &Catalogue,
    want_root_at: Option<u64>,
    resume: Option<Resume>,
    progress: Option<Progress<'_>>,
    mut on_batch: impl FnMut(&Batch) -> Result<(), E>,
) -> Result<(VerifyReport, ReplayTotals, Option<Hash>), E> {
    open_header(header, vkey)?;
    let (mut replay, first, skip_below) = match resume {
        None => (Replay::new(header.origin.clone(), catalogue, vkey.clone()), 0, 0),
        Some(Resume { snapshot, first }) => {
            let size = snapshot.size();
            if snapshot.origin != header.origin || first > size || size > header.size {
                return Err(bad("the remembered state is not of this log, or is ahead of it").into());
            }
            if first == 0 {
                (Replay::resume(snapshot, catalogue, vkey.clone(), true), 0, 0)
            } else {
                (
                    Replay::resume(snapshot, catalogue, vkey.clone(), false),
                    first,
                    size,
                )
            }
        }
    };
    let mut root_at = match want_root_at {
        Some(0) => Some(crate::merkle::EMPTY_ROOT),
        _ => None,
    };
    let mut batch = Batch::with_capacity(VERIFY_BATCH);
    let mut flush = |batch: &mut Batch, replay: &mut Replay<'_>| -> Result<(), E> {
        // Emptied whatever the outcome: a batch that failed is never fed again (it would be
        // reported as entries "missing" after the first bad one).
        let fed = replay.feed(batch).map_err(E::from).and_then(|()| on_batch(batch));
        batch.clear();
        fed?;
        if Some(replay.size()) == want_root_at {
            root_at = Some(replay.root());
        }
        if let Some(p) = progress {
            p(replay.size(), header.size);
        }
        Ok(())
    };
    let read = for_each_entry_from(r, first, header.size, |i, e| {
        if i < skip_below {
            return Ok(());
        }
        batch.push(i, &e);
        if batch.len() == VERIFY_BATCH || want_root_at == Some(i + 1) {
            flush(&mut batch, &mut replay)?;
        }
        Ok(())
    });
    flush(&mut batch, &mut replay)?;
    if let Err(e) = read {
        // A damaged length head surfaces as a framing error at the next entry; the entries
        // read before it (the damaged one among them) are checked first, so the lowest bad
        // index is the one reported.
        replay.settle()?;
        return Err(e);
    }
    replay.check_checkpoint(header.size, &header.checkpoint)?;
    let (report, totals) = replay.finish()?;
    Ok((report, totals, root_at))
}
