//! Publishing a ledger as C2SP tlog-tiles (docs/FORMAT.md section 13) to a [`Target`]: a
//! directory any web server can serve (here), object storage (a second target is a new
//! implementation of the trait, not an edit here).
//!
//! Publishing is incremental and crash-safe, in the manner of a database commit: it reads the
//! target's checkpoint, refuses a target of another log or of a tree the ledger does not extend,
//! writes the tiles that are new (each immutable file written and synced before anything
//! refers to it), and replaces the checkpoint last, atomically. Killed at any moment, the
//! target holds the old published state or the new one, never a checkpoint whose tiles are
//! missing; a rerun finishes the job. Before the checkpoint is replaced, every tile the new
//! checkpoint needs is checked to be there with the size it must have (a tile deleted or cut
//! short since it was written is rewritten from the ledger); [`PublishOptions::repair`] also
//! compares the contents of every file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::checkpoint::{SignedCheckpoint, VerifierKey};
use crate::ledger::{Ledger, LedgerError};
use crate::localfs::{self, LocalError, Untrusted};
use crate::merkle;
use crate::norms::CATALOGUE_V1_JSON;
use crate::tiles::{self, Tile, TileKind};

pub use crate::tiles::LOG_INFO_PATH;
/// Where the norms catalogue the ledger's attestations refer to is published.
pub const CATALOGUE_PATH: &str = "accord/norms-v1.json";
/// Largest checkpoint read back from a target.
const MAX_CHECKPOINT: usize = crate::checkpoint::MAX_NOTE_SIZE;
/// Largest `accord/log.json` read back from a target (accord writes about 500 bytes).
const MAX_LOG_INFO: usize = 64 * 1024;

/// Publishing errors.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The target holds another log, or a tree the ledger does not extend: evidence, not to be
    /// overwritten.
    #[error("{target}: {problem}")]
    Conflict {
        /// The target.
        target: String,
        /// What conflicts, with the evidence.
        problem: String,
    },
    /// Another publication is writing the target.
    #[error(
        "{target}: another accord publish is writing it (its lock is {lock}); try again when it has finished"
    )]
    Busy {
        /// The target.
        target: String,
        /// The lock held.
        lock: String,
    },
    /// The target, or something in it, could be changed by other users or leads outside it (a
    /// symbolic link): publishing there could put someone else's bytes under the ledger's
    /// name, or write outside the target.
    #[error("{target}: {}{}; publish writes files there that others will trust as this ledger's, so the directory must be yours, changeable by no one else, with nothing in it that leads outside", place(target, &problem.path), .problem.why)]
    Unsafe {
        /// The target.
        target: String,
        /// What is wrong, where, and what to do.
        problem: Untrusted,
    },
    /// Writing or reading the target failed.
    #[error("{target}: {path}: {problem}")]
    Io {
        /// The target.
        target: String,
        /// The file.
        path: String,
        /// What failed.
        problem: String,
    },
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Collecting cosignatures failed (a proof, a file of the ledger's directory); a witness
    /// that is down is no error.
    #[error(transparent)]
    Witnessing(#[from] crate::witnessing::WitnessingError),
    /// A tile could not be made.
    #[error(transparent)]
    Tile(#[from] tiles::TileError),
}

/// Where in (or above) the target `path` is, for a message that names the target already:
/// nothing for the target itself, its path below the target, or the whole path above it.
fn place(target: &str, path: &Path) -> String {
    match path.strip_prefix(target) {
        Ok(rel) if rel.as_os_str().is_empty() => String::new(),
        Ok(rel) => format!("{}: ", rel.display()),
        Err(_) => format!("{}: ", path.display()),
    }
}

impl From<crate::store::StoreError> for PublishError {
    fn from(e: crate::store::StoreError) -> Self {
        PublishError::Ledger(e.into())
    }
}

/// What a file is, for the target's metadata (content type, caching: C2SP tlog-tiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The checkpoint: mutable, not cached.
    Checkpoint,
    /// A hash tile or entry bundle: immutable, cached for ever.
    Tile,
    /// A description or the catalogue: small JSON, short caching.
    Json,
}

impl FileKind {
    /// The Content-Type C2SP tlog-tiles gives (and JSON for the start files).
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Checkpoint => "text/plain; charset=utf-8",
            FileKind::Tile => "application/octet-stream",
            FileKind::Json => "application/json",
        }
    }
    /// The Cache-Control a server or object store should send.
    pub fn cache_control(self) -> &'static str {
        match self {
            FileKind::Checkpoint => "no-cache",
            FileKind::Tile => "public, max-age=31536000, immutable",
            FileKind::Json => "public, max-age=300",
        }
    }
    /// The kind of the file at `path` below a log's prefix.
    pub fn of(path: &str) -> FileKind {
        if path == "checkpoint" {
            FileKind::Checkpoint
        } else if path.starts_with("tile/") {
            FileKind::Tile
        } else {
            FileKind::Json
        }
    }
}

/// Where a log is published.
pub trait Target {
    /// How it is named in messages.
    fn label(&self) -> String;
    /// Takes the target for one publication, until the target is dropped: one publisher at a
    /// time (two at once could each replace the checkpoint, the smaller last), and what a
    /// publication killed earlier left half-written is cleared away.
    ///
    /// # Errors
    /// [`PublishError::Busy`] while another publication holds it; [`PublishError::Unsafe`]
    /// for a target others could change; [`PublishError::Io`].
    fn begin(&self) -> Result<(), PublishError>;
    /// The file at `path`, if there is one, read up to `max` bytes (more is an error).
    ///
    /// # Errors
    /// [`PublishError::Io`], [`PublishError::Unsafe`].
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, PublishError>;
    /// The size of the file at `path`, if there is one (cheap: no contents read).
    ///
    /// # Errors
    /// [`PublishError::Io`], [`PublishError::Unsafe`].
    fn size(&self, path: &str) -> Result<Option<u64>, PublishError>;
    /// Every file below the directory `under` (a path of the layout, `tile` for all tiles),
    /// as paths relative to the target; empty when there is none.
    ///
    /// # Errors
    /// [`PublishError::Io`], [`PublishError::Unsafe`].
    fn list(&self, under: &str) -> Result<Vec<String>, PublishError>;
    /// Writes `bytes` at `path`, replacing any file there atomically (readers see the old file
    /// or the new one). Not durable until [`Target::sync`] returns.
    ///
    /// # Errors
    /// [`PublishError::Io`], [`PublishError::Unsafe`].
    fn put(&self, path: &str, bytes: &[u8], kind: FileKind) -> Result<(), PublishError>;
    /// Makes every file put so far durable.
    ///
    /// # Errors
    /// [`PublishError::Io`].
    fn sync(&self) -> Result<(), PublishError>;
}

/// How to publish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Also read every file of the target that the ledger determines (every tile of the tree
    /// the ledger has, older partial tiles included, and the start files) and rewrite those
    /// whose contents differ from the ledger's. Without it, only the existence and size of
    /// the tiles the new checkpoint needs are checked (a stat each).
    pub repair: bool,
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// The size the target held before (0 for a new target).
    pub from: u64,
    /// The size it holds now.
    pub to: u64,
    /// Files written (tiles, start files, checkpoint), repaired ones included.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Files that were already in the target but missing, of the wrong size or (with
    /// [`PublishOptions::repair`]) of other contents, and were rewritten from the ledger.
    pub repaired: u64,
    /// Files checked: the tiles of the published tree (and with `repair`, every file read).
    pub checked: u64,
}

/// The description of a log at [`LOG_INFO_PATH`].
pub fn log_info(vkey: &VerifierKey) -> Vec<u8> {
    let v = serde_json::json!({
        "format": "accord-log/1",
        "origin": vkey.name(),
        "vkey": vkey.to_string(),
        "entry_versions": [1, crate::entry::ENTRY_VERSION],
        "tiles": "c2sp.org/tlog-tiles",
        "checkpoint": "checkpoint",
        "catalogue": CATALOGUE_PATH,
        "note": "a verifier takes the ledger key from a source it trusts, never from this file",
    });
    let mut s = serde_json::to_vec_pretty(&v).unwrap_or_default();
    s.push(b'\n');
    s
}

/// A target without a checkpoint is this log's only if it holds nothing of the layout or its
/// `accord/log.json` names this ledger's key (a first publication of this ledger that was
/// killed before its checkpoint: `log.json` is written first). Anything else is another log's
/// (its checkpoint deleted, or its own first publication under way), or a directory of other
/// files named like the layout's: not to be mixed with this one.
fn claim(target: &dyn Target, vkey: &VerifierKey) -> Result<(), PublishError> {
    let conflict = |problem: String| PublishError::Conflict {
        target: target.label(),
        problem,
    };
    match target.get(LOG_INFO_PATH, MAX_LOG_INFO)? {
        Some(bytes) => {
            let named = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("vkey").and_then(|k| k.as_str()).map(str::to_string));
            match named {
                Some(k) if k == vkey.to_string() => Ok(()),
                Some(k) => Err(conflict(format!(
                    "it has no checkpoint, but its {LOG_INFO_PATH} names another log ({k}); refusing to publish this ledger ({vkey}) over another log: publish into another directory"
                ))),
                None => Err(conflict(format!(
                    "it has no checkpoint, and its {LOG_INFO_PATH} is not the description of this ledger ({vkey}); refusing to publish over what may be another log: publish into another directory"
                ))),
            }
        }
        None => {
            for under in ["tile", "accord"] {
                if let Some(found) = target.list(under)?.first() {
                    return Err(conflict(format!(
                        "it has no checkpoint and no {LOG_INFO_PATH}, but holds {found}: files of a log that is not known to be this one; refusing to mix this ledger's tiles with them: publish into an empty directory (or remove them)"
                    )));
                }
            }
            Ok(())
        }
    }
}

/// Publishes `ledger` up to its latest signed checkpoint to `target`. `progress` is told
/// (files checked, files to check).
///
/// # Errors
/// [`PublishError::Conflict`] for a target of another log or of a tree the ledger does not
/// extend (nothing is written); [`PublishError::Unsafe`] for a target others could change;
/// I/O and ledger errors (the target keeps its old checkpoint).
pub fn publish(
    ledger: &Ledger,
    target: &dyn Target,
    options: PublishOptions,
    progress: Option<crate::replay::Progress<'_>>,
) -> Result<PublishReport, PublishError> {
    // The ledger's newest checkpoint, unless the target holds one of the same size already
    // (which may carry cosignatures: never replaced by the bare one).
    publish_with(ledger, target, options, progress, &mut |ours, published, _| {
        Ok((published.map(|p| p.checkpoint.size) != Some(ours.checkpoint.size)).then(|| ours.note.clone()))
    })
}

/// Chooses the checkpoint a publication writes, once every tile of the ledger's newest tree is
/// durable in the target: given the ledger's newest signed checkpoint, the one the target holds
/// (if any) and the ledger's stored hashes, it returns the note to publish, the ledger's newest
/// checkpoint with any cosignatures appended, or `None` to leave the target's checkpoint as it
/// is (tiles beyond it are ignored by its readers).
pub type Finish<'a> = &'a mut dyn FnMut(
    &SignedCheckpoint,
    Option<&SignedCheckpoint>,
    &crate::store::ReadTables,
) -> Result<Option<Vec<u8>>, PublishError>;

/// [`publish`], with the checkpoint chosen by `finish` (witnessing: the newest checkpoint only
/// once it carries a quorum of cosignatures). [`PublishReport::to`] is the size the target's
/// checkpoint has afterwards.
///
/// # Errors
/// As [`publish`]; [`PublishError::Conflict`] when `finish` returns a note that is not the
/// ledger's newest checkpoint; what `finish` fails with.
pub fn publish_with(
    ledger: &Ledger,
    target: &dyn Target,
    options: PublishOptions,
    progress: Option<crate::replay::Progress<'_>>,
    finish: Finish<'_>,
) -> Result<PublishReport, PublishError> {
    let vkey = VerifierKey::parse(&ledger.recorded_vkey()?).map_err(LedgerError::from)?;
    let label = target.label();
    target.begin()?;
    ledger.store().read(|r| {
        let (size, note) = r
            .latest_checkpoint()
            .map_err(LedgerError::from)?
            .ok_or_else(|| LedgerError::from(crate::store::StoreError::Damaged("no checkpoint".into())))?;
        let ours = SignedCheckpoint::open(&note, &vkey).map_err(LedgerError::from)?;
        let published = match target.get("checkpoint", MAX_CHECKPOINT)? {
            None => {
                claim(target, &vkey)?;
                None
            }
            Some(theirs) => {
                let conflict = |problem: String| PublishError::Conflict {
                    target: label.clone(),
                    problem,
                };
                let published = SignedCheckpoint::open(&theirs, &vkey).map_err(|e| {
                    conflict(format!(
                        "its checkpoint is not one of this ledger ({vkey}): {e}; refusing to overwrite another log"
                    ))
                })?;
                let p = &published.checkpoint;
                if p.size > size {
                    return Err(conflict(format!(
                        "it holds a checkpoint of size {} but the ledger's latest is of size {size}: the ledger does not extend what was published (a rollback?)",
                        p.size
                    )));
                }
                let root = merkle::tree_root(p.size, r).map_err(LedgerError::from)?;
                if root != p.root {
                    return Err(conflict(format!(
                        "FORK: the published checkpoint of size {} has root {}, the ledger's tree at that size has root {}; both are signed by the ledger key",
                        p.size,
                        hex::encode(p.root),
                        hex::encode(root)
                    )));
                }
                Some(published)
            }
        };
        let published_cp = published;
        let published = published_cp.as_ref().map(|p| p.checkpoint.size);
        let from = published.unwrap_or(0);
        let mut report = PublishReport {
            from,
            to: size,
            files: 0,
            bytes: 0,
            repaired: 0,
            checked: 0,
        };
        let put = |path: &str, bytes: &[u8], report: &mut PublishReport| -> Result<(), PublishError> {
            target.put(path, bytes, FileKind::of(path))?;
            report.files += 1;
            report.bytes += bytes.len() as u64;
            Ok(())
        };
        // The start files first: on a new target, accord/log.json claims the layout's files
        // for this log before any tile is written (see `claim`). They change only with the
        // software, so they are rewritten only when they differ.
        for (path, bytes) in [
            (LOG_INFO_PATH, log_info(&vkey)),
            (CATALOGUE_PATH, CATALOGUE_V1_JSON.as_bytes().to_vec()),
        ] {
            // A file of another length (larger than asked for is an error here) differs.
            let same = matches!(target.get(path, bytes.len()), Ok(Some(b)) if b == bytes);
            if !same {
                put(path, &bytes, &mut report)?;
            }
        }
        if published.is_none() {
            target.sync()?;
        }
        // Every tile the new checkpoint needs: the new ones written (a complete one left by a
        // publication killed earlier is kept if its bytes are right), the older ones checked
        // to be there with their exact size, and rewritten from the ledger if not (a tile
        // deleted or cut short since it was published).
        let needed = tiles::tiles_for(size);
        let fresh: BTreeSet<Tile> = tiles::new_tiles(from, size).into_iter().collect();
        // With a valid record of a publication before, only the bundles since are read; a
        // repair reads everything anyway, and a new target may hold anything.
        let known = if options.repair || published.is_none() {
            Vec::new()
        } else {
            remembered_bundle_lengths(target, r, from)?
        };
        let known_full = known.len() as u64;
        let bundle_lens = bundle_lengths(size, r, known)?;
        let extra = if options.repair { older_tiles(target, size, &needed)? } else { Vec::new() };
        let total = (needed.len() + extra.len()) as u64;
        for (k, tile) in needed.iter().chain(&extra).enumerate() {
            let path = tile.path();
            // The size a tile of the new tree must have (an older partial tile of `extra` has
            // its own width: only its contents are compared).
            let want = match tile.kind {
                _ if k >= needed.len() => None,
                TileKind::Hashes(_) => Some(32 * u64::from(tile.width)),
                TileKind::Entries => bundle_lens.get(tile.n as usize).copied(),
            };
            let have = target.size(&path)?;
            let is_fresh = fresh.contains(tile);
            let rewrite = match have {
                None => Some(!is_fresh),
                Some(n) if want.is_some_and(|w| w != n) => Some(true),
                Some(_) if is_fresh || options.repair => {
                    let bytes = tile_bytes(tile, r)?;
                    let same = target.get(&path, tiles::MAX_BUNDLE_BYTES)?.is_some_and(|b| b == bytes);
                    (!same).then_some(true)
                }
                Some(_) => None,
            };
            if let Some(repair) = rewrite {
                let bytes = tile_bytes(tile, r)?;
                put(&path, &bytes, &mut report)?;
                if repair {
                    report.repaired += 1;
                }
            }
            report.checked += 1;
            if let Some(p) = progress {
                p(k as u64 + 1, total);
            }
        }
        // Every tile the checkpoint needs is durable before the checkpoint is replaced.
        target.sync()?;
        match finish(&ours, published_cp.as_ref(), r)? {
            Some(note) => {
                let chosen = SignedCheckpoint::open(&note, &vkey).map_err(LedgerError::from)?;
                if chosen.checkpoint != ours.checkpoint {
                    return Err(PublishError::Conflict {
                        target: label.clone(),
                        problem: format!(
                            "the checkpoint chosen to publish (size {}) is not the ledger's newest (size {size})",
                            chosen.checkpoint.size
                        ),
                    });
                }
                if published_cp.as_ref().map(|p| &p.note) != Some(&note) {
                    put("checkpoint", &note, &mut report)?;
                    target.sync()?;
                }
            }
            None => report.to = from,
        }
        // Remembered for the next publication (not a published file: not counted).
        if known_full != size / tiles::TILE_WIDTH {
            target.put(BUNDLE_SIZES_PATH, &bundle_sizes_record(r, size, &bundle_lens)?, FileKind::Json)?;
            target.sync()?;
        }
        Ok(report)
    })
}

/// Where a publication keeps the byte length of every full entry bundle of the tree it
/// published, so that the next one checks the size of every bundle without reading the whole
/// ledger again (at 1,000,000 entries a scan of some 500 MB, where the check itself is a stat of
/// some 8,000 files). In [`STAGING_DIR`], which only the publishing user can change. It names
/// the tree it describes (size and root) and counts only if the ledger's tree at that size has
/// that root; anything else is ignored and rebuilt from the ledger. Its format:
/// [`BUNDLE_SIZES_MAGIC`], the tree size (8 bytes, big-endian), the root (32 bytes), and the
/// length of each full bundle in order (4 bytes each, big-endian).
const BUNDLE_SIZES_PATH: &str = ".publishing/bundle-sizes";
/// The first bytes of [`BUNDLE_SIZES_PATH`].
const BUNDLE_SIZES_MAGIC: &[u8] = b"accord-bundle-sizes/1\n";

/// The lengths of the full bundles the remembered sizes hold for the ledger's tree (the first
/// `k` full bundles, for some `k`; none when there is no valid record).
fn remembered_bundle_lengths(
    target: &dyn Target,
    r: &crate::store::ReadTables,
    size: u64,
) -> Result<Vec<u64>, PublishError> {
    let full = size / tiles::TILE_WIDTH;
    let max = BUNDLE_SIZES_MAGIC.len() + 40 + 4 * full as usize;
    // Larger than any record for this tree, unreadable: ignored, rebuilt.
    let Ok(Some(b)) = target.get(BUNDLE_SIZES_PATH, max) else {
        return Ok(Vec::new());
    };
    let Some(rest) = b.strip_prefix(BUNDLE_SIZES_MAGIC) else {
        return Ok(Vec::new());
    };
    if rest.len() < 40 || (rest.len() - 40) % 4 != 0 {
        return Ok(Vec::new());
    }
    let (head, lens) = rest.split_at(40);
    let at = u64::from_be_bytes(head[..8].try_into().unwrap_or_default());
    let count = (lens.len() / 4) as u64;
    if at > size || count != at / tiles::TILE_WIDTH {
        return Ok(Vec::new());
    }
    let root = merkle::tree_root(at, r).map_err(LedgerError::from)?;
    if root[..] != head[8..] {
        return Ok(Vec::new());
    }
    Ok(lens
        .chunks(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect())
}

/// The remembered-sizes record of a tree of `size` entries whose full bundles have `lens`.
fn bundle_sizes_record(
    r: &crate::store::ReadTables,
    size: u64,
    lens: &[u64],
) -> Result<Vec<u8>, PublishError> {
    let full = (size / tiles::TILE_WIDTH) as usize;
    let root = merkle::tree_root(size, r).map_err(LedgerError::from)?;
    let mut out = BUNDLE_SIZES_MAGIC.to_vec();
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&root);
    for l in &lens[..full.min(lens.len())] {
        out.extend_from_slice(&(u32::try_from(*l).unwrap_or(u32::MAX)).to_be_bytes());
    }
    Ok(out)
}

/// The byte length of every entry bundle of a tree of `size` entries, in bundle order (2 bytes
/// of length and the entry, for each of its entries): those of the first `known.len()` full
/// bundles as given, the others from the ledger's entries.
fn bundle_lengths(
    size: u64,
    r: &crate::store::ReadTables,
    mut known: Vec<u64>,
) -> Result<Vec<u64>, PublishError> {
    let bundles = size.div_ceil(tiles::TILE_WIDTH) as usize;
    known.truncate(bundles);
    let start = known.len() as u64 * tiles::TILE_WIDTH;
    known.resize(bundles, 0);
    let mut seen = start;
    r.for_each_entry(start, |i, b| -> Result<bool, LedgerError> {
        if i >= size {
            return Ok(false);
        }
        known[(i / tiles::TILE_WIDTH) as usize] += 2 + b.len() as u64;
        seen = i + 1;
        Ok(true)
    })?;
    if seen != size {
        return Err(LedgerError::from(crate::store::StoreError::Damaged(format!(
            "the ledger holds {seen} of the {size} entries of its checkpoint"
        )))
        .into());
    }
    Ok(known)
}

/// The tiles of the target beyond those of the tree of `size` that the ledger determines: the
/// partial tiles of earlier publications (of widths the tree has passed), which readers
/// holding an earlier checkpoint may still ask for. Files under `tile/` that are no tile of
/// the tree are left alone.
fn older_tiles(target: &dyn Target, size: u64, needed: &[Tile]) -> Result<Vec<Tile>, PublishError> {
    let needed: BTreeSet<&Tile> = needed.iter().collect();
    let mut out: Vec<Tile> = target
        .list("tile")?
        .iter()
        .filter_map(|p| Tile::parse(p).ok())
        .filter(|t| t.within(size) && !needed.contains(t))
        .collect();
    out.sort();
    Ok(out)
}

/// The bytes of one tile of the ledger's tree.
fn tile_bytes(tile: &Tile, r: &crate::store::ReadTables) -> Result<Vec<u8>, PublishError> {
    match tile.kind {
        TileKind::Hashes(_) => Ok(tiles::hash_tile_bytes(tile, r)?),
        TileKind::Entries => {
            let range = tile.leaves();
            let mut entries: Vec<Vec<u8>> = Vec::with_capacity(usize::from(tile.width));
            r.for_each_entry(range.start, |i, b| -> Result<bool, LedgerError> {
                if i >= range.end {
                    return Ok(false);
                }
                entries.push(b.to_vec());
                Ok(true)
            })?;
            if entries.len() != usize::from(tile.width) {
                return Err(LedgerError::from(crate::store::StoreError::Damaged(format!(
                    "entries {} to {} are not all stored",
                    range.start,
                    range.end - 1
                )))
                .into());
            }
            Ok(tiles::encode_bundle(entries.iter().map(Vec::as_slice))?)
        }
    }
}

/// Whether `path` is one or more `/`-separated segments of letters, digits, '-', '.' and '_',
/// none empty, none `.` or `..`: a path that never climbs out of where it is put (a file of the
/// published layout, a bucket's prefix).
pub(crate) fn plain_segments(path: &str) -> bool {
    path.split('/').all(|c| {
        !c.is_empty()
            && c != "."
            && c != ".."
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    })
}

/// Where in a [`DirTarget`] a publication keeps its lock and writes each file before renaming
/// it into place: files half-written by a publication that was killed stay here, out of the
/// published layout, until the next one clears them. Created with mode 0700; a publication
/// refuses one that is not the user's own or that others can write (they could swap a file
/// between its writing and its renaming into place).
pub const STAGING_DIR: &str = ".publishing";

/// Mode of the directories of the layout (read by a web server, written by the user alone).
const DIR_MODE: u32 = 0o755;
/// Mode of the published files.
const FILE_MODE: u32 = 0o644;

/// A directory on this machine, for any web server to serve (files under `tile/`, the
/// `checkpoint`, the start files under `accord/`; the lock and files being written under
/// [`STAGING_DIR`]).
///
/// The directory must be the user's own and writable by no one else, and so must every
/// directory in it that a publication enters ([`crate::localfs`]); nothing in it is reached
/// through a symbolic link (the directory itself may be one: the user named it).
#[derive(Debug)]
pub struct DirTarget {
    root: PathBuf,
    /// Directories whose entries changed since the last sync.
    dirty: std::sync::Mutex<BTreeSet<PathBuf>>,
    /// Directories below the root already checked (or created) in this publication.
    entered: std::sync::Mutex<BTreeSet<PathBuf>>,
    /// The lock file, locked, once [`Target::begin`] took the directory.
    lock: std::sync::Mutex<Option<std::fs::File>>,
}

impl DirTarget {
    /// The directory `root` (created when the publication begins).
    pub fn new(root: impl Into<PathBuf>) -> DirTarget {
        DirTarget {
            root: root.into(),
            dirty: Default::default(),
            entered: Default::default(),
            lock: Default::default(),
        }
    }

    fn staging(&self) -> PathBuf {
        self.root.join(STAGING_DIR)
    }

    fn io(&self, path: &str, e: impl std::fmt::Display) -> PublishError {
        PublishError::Io {
            target: self.label(),
            path: path.to_string(),
            problem: e.to_string(),
        }
    }

    fn local(&self, path: &str, e: LocalError) -> PublishError {
        match e {
            LocalError::Untrusted(problem) => PublishError::Unsafe {
                target: self.label(),
                problem,
            },
            LocalError::Io { source, .. } => self.io(path, source),
        }
    }

    /// The file a relative path names: only paths made of the layout's own characters, never
    /// one that climbs out of the directory.
    fn file(&self, path: &str) -> Result<PathBuf, PublishError> {
        let ok = plain_segments(path);
        if !ok {
            return Err(self.io(path, "not a path of the published layout"));
        }
        Ok(self.root.join(path))
    }

    /// Enters each directory from the root down to `dir` (a path below the root), never
    /// through a symbolic link, each the user's own and writable by no one else; a missing
    /// one is created when `create` is set, else `Ok(false)`.
    fn enter(&self, dir: &Path, path: &str, create: bool) -> Result<bool, PublishError> {
        let Ok(rel) = dir.strip_prefix(&self.root) else {
            return Err(self.io(path, "not below the directory"));
        };
        let mut at = self.root.clone();
        for c in rel.components() {
            at.push(c);
            let mut entered = self.entered.lock().map_err(|_| self.io(path, "lock poisoned"))?;
            if entered.contains(&at) {
                continue;
            }
            let there = localfs::enter_dir(&at, create.then_some(DIR_MODE), Some(DIR_MODE))
                .map_err(|e| self.local(path, e))?;
            if !there {
                return Ok(false);
            }
            if create {
                if let Some(parent) = at.parent() {
                    self.dirty
                        .lock()
                        .map_err(|_| self.io(path, "lock poisoned"))?
                        .insert(parent.to_path_buf());
                }
            }
            entered.insert(at.clone());
        }
        Ok(true)
    }

    /// The file at `path`, its directories entered (created with `create`); `None` when a
    /// directory is missing.
    fn reach(&self, path: &str, create: bool) -> Result<Option<PathBuf>, PublishError> {
        let f = self.file(path)?;
        let dir = f
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        Ok(self.enter(&dir, path, create)?.then_some(f))
    }
}

impl Target for DirTarget {
    fn label(&self) -> String {
        self.root.display().to_string()
    }

    fn begin(&self) -> Result<(), PublishError> {
        // The directory itself: the user named it (it may be a symlink to the real one), and
        // it must be theirs, writable by no one else, and not inside a directory anyone can
        // write without the sticky bit.
        let root = &self.root;
        let shown = root.display().to_string();
        let m = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                localfs::create_dir_all(root, DIR_MODE).map_err(|e| self.io(&shown, e))?;
                std::fs::metadata(root).map_err(|e| self.io(&shown, e))?
            }
            Err(e) => return Err(self.io(&shown, e)),
        };
        if !m.is_dir() {
            return Err(self.io(&shown, "not a directory"));
        }
        localfs::check_private(root, &m, DIR_MODE)
            .and_then(|()| localfs::check_ancestors(root))
            .map_err(|e| self.local(&shown, e.into()))?;
        let staging = self.staging();
        localfs::enter_dir(&staging, Some(0o700), Some(0o700)).map_err(|e| self.local(STAGING_DIR, e))?;
        let mut held = self
            .lock
            .lock()
            .map_err(|_| self.io(STAGING_DIR, "lock poisoned"))?;
        if held.is_none() {
            let lock_path = staging.join("lock");
            let file = localfs::open_lock_file(&lock_path, 0o600).map_err(|e| self.local(STAGING_DIR, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(PublishError::Busy {
                        target: self.label(),
                        lock: lock_path.display().to_string(),
                    })
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(self.io(STAGING_DIR, e)),
            }
            *held = Some(file);
        }
        // Directories are checked again in each publication.
        self.entered
            .lock()
            .map_err(|_| self.io(STAGING_DIR, "lock poisoned"))?
            .clear();
        // What a killed publication left: files never renamed into place (unlinking a name
        // never follows it).
        for e in std::fs::read_dir(&staging).map_err(|e| self.io(STAGING_DIR, e))? {
            let e = e.map_err(|e| self.io(STAGING_DIR, e))?;
            if e.file_name() != "lock"
                && Some(e.file_name().as_os_str()) != Path::new(BUNDLE_SIZES_PATH).file_name()
            {
                std::fs::remove_file(e.path()).map_err(|e| self.io(STAGING_DIR, e))?;
            }
        }
        Ok(())
    }

    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, PublishError> {
        use std::io::Read as _;
        let Some(f) = self.reach(path, false)? else {
            return Ok(None);
        };
        let Some(file) = localfs::open_regular(&f).map_err(|e| self.local(path, e))? else {
            return Ok(None);
        };
        let mut v = Vec::new();
        file.take(max as u64 + 1)
            .read_to_end(&mut v)
            .map_err(|e| self.io(path, e))?;
        if v.len() > max {
            return Err(self.io(path, format!("larger than {max} bytes")));
        }
        Ok(Some(v))
    }

    fn size(&self, path: &str) -> Result<Option<u64>, PublishError> {
        let Some(f) = self.reach(path, false)? else {
            return Ok(None);
        };
        match std::fs::symlink_metadata(&f) {
            Ok(m) if m.file_type().is_symlink() => Err(self.local(path, localfs::symlink(&f).into())),
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            // Not a regular file: not the tile; replacing it is `put`'s business.
            Ok(_) => Ok(Some(u64::MAX)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(path, e)),
        }
    }

    fn list(&self, under: &str) -> Result<Vec<String>, PublishError> {
        let start = self.file(under)?;
        if !self.enter(&start, under, false)? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut todo = vec![start];
        while let Some(d) = todo.pop() {
            let shown = d.display().to_string();
            for e in std::fs::read_dir(&d).map_err(|e| self.io(&shown, e))? {
                let e = e.map_err(|e| self.io(&shown, e))?;
                let p = e.path();
                let t = e.file_type().map_err(|e| self.io(&shown, e))?;
                if t.is_symlink() {
                    return Err(self.local(under, localfs::symlink(&p).into()));
                }
                if t.is_dir() {
                    todo.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn put(&self, path: &str, bytes: &[u8], _kind: FileKind) -> Result<(), PublishError> {
        use std::io::Write as _;
        let Some(f) = self.reach(path, true)? else {
            return Err(self.io(path, "its directory could not be made"));
        };
        match std::fs::symlink_metadata(&f) {
            Ok(m) if m.file_type().is_symlink() => return Err(self.local(path, localfs::symlink(&f).into())),
            Ok(m) if m.is_dir() => return Err(self.io(path, "a directory is in the way")),
            _ => {}
        }
        let tmp = self.staging().join(localfs::temp_name("tmp-"));
        let written = (|| -> Result<(), LocalError> {
            let mut file = localfs::create_new(&tmp, FILE_MODE)?;
            let io = |source| LocalError::Io {
                path: tmp.clone(),
                source,
            };
            file.write_all(bytes).map_err(io)?;
            file.sync_all().map_err(io)?;
            std::fs::rename(&tmp, &f).map_err(io)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.local(path, e));
        }
        let dir = f
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        self.dirty
            .lock()
            .map_err(|_| self.io(path, "lock poisoned"))?
            .insert(dir);
        Ok(())
    }

    fn sync(&self) -> Result<(), PublishError> {
        let dirs = std::mem::take(&mut *self.dirty.lock().map_err(|_| self.io("", "lock poisoned"))?);
        // Parents first would not matter; each directory's new names become durable.
        for d in dirs {
            let mut p = d.as_path();
            loop {
                if let Ok(f) = localfs::open_dir(p) {
                    f.sync_all().map_err(|e| self.io(&p.display().to_string(), e))?;
                }
                if p == self.root {
                    break;
                }
                match p.parent() {
                    Some(q) if q.starts_with(&self.root) => p = q,
                    _ => break,
                }
            }
        }
        Ok(())
    }
}
