//! Publishing a ledger as C2SP tlog-tiles (docs/FORMAT.md section 13) to a [`Target`]: a
//! directory any web server can serve (here), object storage (a second target is a new
//! implementation of the trait, not an edit here).
//!
//! Publishing is incremental and crash-safe, in the manner of a database commit: it reads the
//! target's checkpoint, refuses a target of another log or of a tree the ledger does not extend,
//! writes only the tiles that are new (each immutable file written and synced before anything
//! refers to it), and replaces the checkpoint last, atomically. Killed at any moment, the
//! target holds the old published state or the new one, never a checkpoint whose tiles are
//! missing; a rerun finishes the job.

use std::path::{Path, PathBuf};

use crate::checkpoint::{SignedCheckpoint, VerifierKey};
use crate::ledger::{Ledger, LedgerError};
use crate::merkle;
use crate::norms::CATALOGUE_V1_JSON;
use crate::tiles::{self, Tile, TileKind};

/// Where a published log's description lives, beside the tiles: origin, verifier key and
/// format version, for clients to start from (never as a trust root: a verifier takes the
/// ledger key from its user).
pub const LOG_INFO_PATH: &str = "accord/log.json";
/// Where the norms catalogue the ledger's attestations refer to is published.
pub const CATALOGUE_PATH: &str = "accord/norms-v1.json";
/// Largest checkpoint read back from a target.
const MAX_CHECKPOINT: usize = crate::checkpoint::MAX_NOTE_SIZE;

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
    /// A tile could not be made.
    #[error(transparent)]
    Tile(#[from] tiles::TileError),
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
    /// [`PublishError::Busy`] while another publication holds it; [`PublishError::Io`].
    fn begin(&self) -> Result<(), PublishError>;
    /// The file at `path`, if there is one, read up to `max` bytes (more is an error).
    ///
    /// # Errors
    /// [`PublishError::Io`].
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, PublishError>;
    /// Writes `bytes` at `path`, replacing any file there atomically (readers see the old file
    /// or the new one). Not durable until [`Target::sync`] returns.
    ///
    /// # Errors
    /// [`PublishError::Io`].
    fn put(&self, path: &str, bytes: &[u8], kind: FileKind) -> Result<(), PublishError>;
    /// Makes every file put so far durable.
    ///
    /// # Errors
    /// [`PublishError::Io`].
    fn sync(&self) -> Result<(), PublishError>;
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// The size the target held before (0 for a new target).
    pub from: u64,
    /// The size it holds now.
    pub to: u64,
    /// Files written (tiles, start files, checkpoint).
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
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

/// Publishes `ledger` up to its latest signed checkpoint to `target`. `progress` is told
/// (files written, files to write).
///
/// # Errors
/// [`PublishError::Conflict`] for a target of another log or of a tree the ledger does not
/// extend (nothing is written); I/O and ledger errors (the target keeps its old checkpoint).
pub fn publish(
    ledger: &Ledger,
    target: &dyn Target,
    progress: Option<crate::replay::Progress<'_>>,
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
        let from = match target.get("checkpoint", MAX_CHECKPOINT)? {
            None => 0,
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
                p.size
            }
        };
        let mut report = PublishReport {
            from,
            to: size,
            files: 0,
            bytes: 0,
        };
        let put = |path: &str, bytes: &[u8], report: &mut PublishReport| -> Result<(), PublishError> {
            target.put(path, bytes, FileKind::of(path))?;
            report.files += 1;
            report.bytes += bytes.len() as u64;
            Ok(())
        };
        if from == size && from > 0 {
            // Already published: every tile of that checkpoint was written before it.
            return Ok(report);
        }
        let todo = tiles::new_tiles(from, size);
        let total = todo.len() as u64;
        for (k, tile) in todo.iter().enumerate() {
            let bytes = tile_bytes(tile, r)?;
            put(&tile.path(), &bytes, &mut report)?;
            if let Some(p) = progress {
                p(k as u64 + 1, total);
            }
        }
        // The start files change only with the software: rewritten only when they differ, so
        // that a publication writes only what is new.
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
        // Every tile the checkpoint needs is durable before the checkpoint is replaced.
        target.sync()?;
        put("checkpoint", &ours.note, &mut report)?;
        target.sync()?;
        Ok(report)
    })
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
/// published layout, until the next one clears them.
pub const STAGING_DIR: &str = ".publishing";

/// A directory on this machine, for any web server to serve (files under `tile/`, the
/// `checkpoint`, the start files under `accord/`; the lock and files being written under
/// [`STAGING_DIR`]).
#[derive(Debug)]
pub struct DirTarget {
    root: PathBuf,
    /// Directories whose entries changed since the last sync.
    dirty: std::sync::Mutex<std::collections::BTreeSet<PathBuf>>,
    /// The lock file, locked, once [`Target::begin`] took the directory.
    lock: std::sync::Mutex<Option<std::fs::File>>,
}

impl DirTarget {
    /// The directory `root` (created when something is first written).
    pub fn new(root: impl Into<PathBuf>) -> DirTarget {
        DirTarget {
            root: root.into(),
            dirty: Default::default(),
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

    /// The file a relative path names: only paths made of the layout's own characters, never
    /// one that climbs out of the directory.
    fn file(&self, path: &str) -> Result<PathBuf, PublishError> {
        let ok = plain_segments(path);
        if !ok {
            return Err(self.io(path, "not a path of the published layout"));
        }
        Ok(self.root.join(path))
    }
}

impl Target for DirTarget {
    fn label(&self) -> String {
        self.root.display().to_string()
    }

    fn begin(&self) -> Result<(), PublishError> {
        let staging = self.staging();
        // A target that publishes again (serve --publish, after every commit) holds the lock
        // already: a second handle on the lock file would conflict with its own first one.
        if self
            .lock
            .lock()
            .map_err(|_| self.io(STAGING_DIR, "lock poisoned"))?
            .is_some()
        {
            return Ok(());
        }
        std::fs::create_dir_all(&staging).map_err(|e| self.io(STAGING_DIR, e))?;
        let lock_path = staging.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.io(STAGING_DIR, e))?;
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
        // What a killed publication left: files never renamed into place.
        for e in std::fs::read_dir(&staging).map_err(|e| self.io(STAGING_DIR, e))? {
            let e = e.map_err(|e| self.io(STAGING_DIR, e))?;
            if e.file_name() != "lock" {
                std::fs::remove_file(e.path()).map_err(|e| self.io(STAGING_DIR, e))?;
            }
        }
        *self
            .lock
            .lock()
            .map_err(|_| self.io(STAGING_DIR, "lock poisoned"))? = Some(file);
        Ok(())
    }

    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, PublishError> {
        use std::io::Read as _;
        let f = self.file(path)?;
        let file = match std::fs::File::open(&f) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(path, e)),
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

    fn put(&self, path: &str, bytes: &[u8], _kind: FileKind) -> Result<(), PublishError> {
        use std::io::Write as _;
        let f = self.file(path)?;
        let dir = f
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        std::fs::create_dir_all(&dir).map_err(|e| self.io(path, e))?;
        if FileKind::of(path) == FileKind::Tile {
            // Immutable: a tile already there (a rerun after a crash) must hold the same bytes.
            if let Some(old) = self.get(path, tiles::MAX_BUNDLE_BYTES)? {
                if old == bytes {
                    return Ok(());
                }
                return Err(PublishError::Conflict {
                    target: self.label(),
                    problem: format!(
                        "{path} already holds other bytes: an immutable tile of another tree is there"
                    ),
                });
            }
        }
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let staging = self.staging();
        std::fs::create_dir_all(&staging).map_err(|e| self.io(path, e))?;
        let tmp = staging.join(format!("tmp-{}", hex::encode(nonce)));
        let written = (|| -> std::io::Result<()> {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            let mut file = o.open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &f)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.io(path, e));
        }
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
                if let Ok(f) = std::fs::File::open(p) {
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
