//! Remembered checkpoints (DESIGN decision 8): the newest checkpoint a client has verified for
//! each ledger, so that a later, smaller ledger (rollback) or a different history of the same
//! size (fork) is caught. A smaller *file* (an export, a bundle, a consistency file) is not a
//! rollback: it is a snapshot taken earlier, valid in itself but not checked against what is
//! remembered ([`Source`], docs/FORMAT.md section 11).
//!
//! The state directory (`$XDG_STATE_HOME/accord/`, else `~/.local/state/accord/`, or
//! `--state DIR`) holds one file per ledger, `checkpoint-<hex SHA-256 of its verifier key>.note`,
//! containing the signed note exactly as verified; fork evidence is kept beside it as
//! `fork-<hex>-<size>-<n>-<i>.note`. Files are replaced atomically (write, fsync, rename, fsync dir).

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::checkpoint::{SignedCheckpoint, VerifierKey};
use crate::merkle::Hash;

/// Errors of the state directory and of the comparison with what it remembers.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state directory could not be read or written.
    #[error("state directory {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The ledger is smaller than one already verified.
    #[error("ROLLBACK: this ledger has {current} entries but a checkpoint of {remembered} entries was verified before (remembered in {file})")]
    Rollback {
        /// Size remembered.
        remembered: u64,
        /// Size now.
        current: u64,
        /// The remembered checkpoint file.
        file: PathBuf,
    },
    /// Two different trees of one ledger where one must extend the other.
    #[error("FORK: the ledger's tree at size {size} differs from the checkpoint verified before; both checkpoints are kept as evidence in {evidence}")]
    Fork {
        /// The size at which the histories differ.
        size: u64,
        /// Where the evidence was written.
        evidence: PathBuf,
    },
    /// The state directory could be changed by other users (it must be private: DESIGN 20).
    #[error("state directory {path}: {why}; accord keeps trusted data there (remembered checkpoints), so it must be a directory of yours that only you can change: {fix}, or choose another with --state")]
    NotPrivate {
        /// The directory (or the ancestor at fault).
        path: PathBuf,
        /// What is wrong.
        why: String,
        /// What to do.
        fix: String,
    },
    /// The remembered checkpoint does not verify with the key given.
    #[error(
        "the checkpoint remembered for this origin ({file}) is not signed by this ledger key: {problem}"
    )]
    ForeignRemembered {
        /// The file.
        file: PathBuf,
        /// What failed.
        problem: String,
    },
    /// The remembered replay state is damaged, inconsistent, or ahead of the remembered
    /// checkpoint: it is never trusted in part.
    #[error("the remembered replay state {file} cannot be used: {problem}; run verify with --full to verify everything again and replace it")]
    BadReplayState {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// The outcome of comparing a newly verified checkpoint with the remembered one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Nothing was remembered for this origin.
    First,
    /// The same checkpoint as before.
    Same,
    /// A larger tree that extends the remembered one.
    Extends {
        /// The remembered size.
        from: u64,
    },
    /// An older checkpoint than the one remembered, from a file (a snapshot, [`Source::File`]):
    /// it cannot be checked against the remembered one offline, and the remembered one stays.
    /// The data is valid, but trust in it is not established (the CLI exits 3).
    Older {
        /// The remembered size.
        remembered: u64,
    },
    /// A newer checkpoint than the one remembered, from a file that carries no consistency
    /// proof from the remembered size: valid in itself, but not linked to what was verified
    /// before, so the remembered one stays. Trust is not established (the CLI exits 3).
    Unlinked {
        /// The remembered size.
        remembered: u64,
    },
}

/// What a checkpoint compared with the remembered one came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A ledger that claims to be the ledger as it is now: a ledger verified in place (later a
    /// URL, a mirror, an import). Older than the remembered checkpoint, it is a rollback.
    Live,
    /// A file made at some moment (an export, a bundle, a consistency file): older than the
    /// remembered checkpoint, it is a snapshot, reported as [`Seen::Older`].
    File,
}

/// A state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl From<crate::localfs::LocalError> for StateError {
    fn from(e: crate::localfs::LocalError) -> Self {
        match e {
            crate::localfs::LocalError::Io { path, source } => StateError::Io { path, source },
            crate::localfs::LocalError::Untrusted(u) => u.into(),
        }
    }
}

impl From<crate::localfs::Untrusted> for StateError {
    fn from(u: crate::localfs::Untrusted) -> Self {
        StateError::NotPrivate {
            path: u.path,
            why: u.why,
            fix: u.fix,
        }
    }
}

impl StateDir {
    /// A state directory at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateDir { dir: dir.into() }
    }

    /// `$XDG_STATE_HOME/accord`, else `$HOME/.local/state/accord`, else `./.accord-state`.
    pub fn default_dir() -> PathBuf {
        if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("accord");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(h).join(".local/state/accord");
        }
        PathBuf::from(".accord-state")
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// What names a ledger in the state: its whole verifier key (origin, key id and public
    /// key), so that another ledger that happens to use the same origin, verified with its own
    /// key, never touches what is remembered for this one.
    fn key_tag(key: &VerifierKey) -> String {
        hex::encode(Sha256::digest(key.to_string().as_bytes()))
    }

    /// The file remembering the checkpoint of the ledger with this key.
    pub fn file_for(&self, key: &VerifierKey) -> PathBuf {
        self.dir.join(format!("checkpoint-{}.note", Self::key_tag(key)))
    }

    /// The file holding the replay state at the remembered checkpoint of the ledger with this
    /// key (`replay-<hex SHA-256 of the key>.state`, [`crate::replay::Snapshot`]).
    pub fn replay_file_for(&self, key: &VerifierKey) -> PathBuf {
        self.dir.join(format!("replay-{}.state", Self::key_tag(key)))
    }

    /// The replay state remembered for the ledger with this key, if any: undamaged, signed by
    /// the key, consistent with itself, and not ahead of the remembered checkpoint (both are
    /// written after a verification passed, the checkpoint first).
    ///
    /// # Errors
    /// [`StateError::BadReplayState`] for one that cannot be used; [`StateError::NotPrivate`],
    /// [`StateError::Io`].
    pub fn replay_state(
        &self,
        key: &VerifierKey,
        remembered: Option<&SignedCheckpoint>,
    ) -> Result<Option<crate::replay::Snapshot>, StateError> {
        if !self.dir.exists() {
            return Ok(None);
        }
        self.ensure_private_dir()?;
        let file = self.replay_file_for(key);
        let Some(bytes) = self.read_private(&file)? else {
            return Ok(None);
        };
        let bad = |problem: String| StateError::BadReplayState {
            file: file.clone(),
            problem,
        };
        let snap = crate::replay::Snapshot::decode(&bytes, key).map_err(|e| bad(e.to_string()))?;
        match remembered {
            Some(r) if r.checkpoint.size >= snap.size() => {
                if r.checkpoint.size == snap.size() && r.checkpoint.root != snap.checkpoint().checkpoint.root
                {
                    return Err(bad(
                        "its checkpoint differs from the remembered one of the same size".into(),
                    ));
                }
                Ok(Some(snap))
            }
            _ => Err(bad(format!(
                "it is of size {}, but no checkpoint of that size or larger is remembered",
                snap.size()
            ))),
        }
    }

    /// Remembers the replay state at a checkpoint just verified (and remembered: call after
    /// [`StateDir::check_and_remember`]). A state of 0 entries is not kept.
    ///
    /// # Errors
    /// [`StateError::Io`], [`StateError::NotPrivate`].
    pub fn save_replay_state(
        &self,
        key: &VerifierKey,
        snap: &crate::replay::Snapshot,
    ) -> Result<(), StateError> {
        if snap.size() == 0 {
            return Ok(());
        }
        self.write_atomic(&self.replay_file_for(key), &snap.encode())
    }

    /// The file of the watch named `tag` (`watch-<tag>.json`; the tag is hex,
    /// [`crate::watch::Watchlist::tag`]).
    pub fn watch_file_for(&self, tag: &str) -> PathBuf {
        // Hex only: a tag can never name a file outside the directory.
        let tag: String = tag.chars().filter(char::is_ascii_hexdigit).collect();
        self.dir.join(format!("watch-{tag}.json"))
    }

    /// The bytes of the watch state named `tag`, if there is one (at most `max` bytes: a
    /// larger file is read up to one byte more, for the caller to refuse).
    ///
    /// # Errors
    /// [`StateError::NotPrivate`], [`StateError::Io`].
    pub fn read_watch(&self, tag: &str, max: usize) -> Result<Option<Vec<u8>>, StateError> {
        if !self.dir.exists() {
            return Ok(None);
        }
        self.ensure_private_dir()?;
        let file = self.watch_file_for(tag);
        let Some(f) = crate::localfs::open_regular(&file)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, max as u64 + 1), &mut bytes)
            .map_err(self.io(&file))?;
        Ok(Some(bytes))
    }

    /// Replaces the watch state named `tag` (atomically).
    ///
    /// # Errors
    /// [`StateError::NotPrivate`], [`StateError::Io`].
    pub fn save_watch(&self, tag: &str, bytes: &[u8]) -> Result<(), StateError> {
        self.write_atomic(&self.watch_file_for(tag), bytes)
    }

    /// A file of the directory, if it exists: opened without following a symbolic link, only
    /// if it is a regular file owned by the directory's owner (anything else there was not
    /// written by accord for this user, and is refused, never read).
    fn read_private(&self, file: &Path) -> Result<Option<Vec<u8>>, StateError> {
        use std::os::unix::fs::MetadataExt as _;
        let Some(mut f) = crate::localfs::open_regular(file)? else {
            return Ok(None);
        };
        let own = fs::metadata(&self.dir).map_err(self.io(&self.dir))?.uid();
        let m = f.metadata().map_err(self.io(file))?;
        if m.uid() != own {
            return Err(StateError::NotPrivate {
                path: file.to_path_buf(),
                why: format!("owned by user {}, not by the directory's owner", m.uid()),
                fix: "remove it".into(),
            });
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).map_err(self.io(file))?;
        Ok(Some(bytes))
    }

    /// The file the remembered checkpoint was read from: [`StateDir::file_for`], or the file of
    /// the earlier layout while it has not been replaced yet (for messages naming it).
    fn remembered_file(&self, key: &VerifierKey) -> PathBuf {
        let new = self.file_for(key);
        let old = self.legacy_file_for(key.name());
        if !new.exists() && old.exists() {
            old
        } else {
            new
        }
    }

    /// Where accord before 0.1's state format 2 kept it: by origin alone. Read only if it
    /// verifies with the key given (then it is this ledger's), and replaced by
    /// [`StateDir::file_for`] on the next write.
    fn legacy_file_for(&self, origin: &str) -> PathBuf {
        self.dir.join(format!(
            "checkpoint-{}.note",
            hex::encode(Sha256::digest(origin.as_bytes()))
        ))
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
        let path = path.to_path_buf();
        move |source| StateError::Io { path, source }
    }

    /// The remembered checkpoint for the key's origin, checked against the key.
    ///
    /// # Errors
    /// [`StateError::ForeignRemembered`] if the file does not verify, [`StateError::NotPrivate`],
    /// [`StateError::Io`].
    pub fn remembered(&self, key: &VerifierKey) -> Result<Option<SignedCheckpoint>, StateError> {
        if self.dir.exists() {
            // What others could have written is not remembered data.
            self.ensure_private_dir()?;
        }
        let file = self.file_for(key);
        let Some(bytes) = self.read_private(&file)? else {
            // A file of the older, origin-keyed layout counts only if it is this ledger's.
            let legacy = self.legacy_file_for(key.name());
            return Ok(self
                .read_private(&legacy)?
                .and_then(|b| SignedCheckpoint::open(&b, key).ok()));
        };
        SignedCheckpoint::open(&bytes, key)
            .map(Some)
            .map_err(|e| StateError::ForeignRemembered {
                file,
                problem: e.to_string(),
            })
    }

    /// Creates the state directory (mode 0700) if it does not exist, and refuses one that other
    /// users can write: whoever can write it can plant files (or symlinks) that accord would
    /// then trust or write through.
    fn ensure_private_dir(&self) -> Result<(), StateError> {
        match fs::metadata(&self.dir) {
            Ok(m) => {
                crate::localfs::check_private(&self.dir, &m, 0o700)?;
                Ok(crate::localfs::check_ancestors(&self.dir)?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::localfs::create_dir_all(&self.dir, 0o700).map_err(self.io(&self.dir))?;
                Ok(crate::localfs::check_ancestors(&self.dir)?)
            }
            Err(e) => Err(self.io(&self.dir)(e)),
        }
    }

    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<(), StateError> {
        self.ensure_private_dir()?;
        // A fresh, unpredictable name created with create_new (O_CREAT | O_EXCL): it never
        // follows a symlink or reuses a file planted under that name.
        let tmp = self.dir.join(crate::localfs::temp_name(".tmp-"));
        {
            let mut f = crate::localfs::create_new(&tmp, 0o600)?;
            let written = f.write_all(data).and_then(|()| f.sync_all());
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                return Err(self.io(&tmp)(e));
            }
        }
        fs::rename(&tmp, path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            self.io(path)(e)
        })?;
        if let Ok(d) = fs::File::open(&self.dir) {
            // Persist the rename; not every platform can fsync a directory.
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Remembers `cp` as the newest verified checkpoint of its origin.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn remember(&self, key: &VerifierKey, cp: &SignedCheckpoint) -> Result<(), StateError> {
        let file = self.file_for(key);
        self.write_atomic(&file, &cp.note)
    }

    /// Keeps two conflicting checkpoints as evidence; returns the directory they are in.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn keep_evidence(
        &self,
        a: &[u8],
        b: &[u8],
        key: &VerifierKey,
        size: u64,
    ) -> Result<PathBuf, StateError> {
        let tag = Self::key_tag(key);
        for (n, note) in [a, b].into_iter().enumerate() {
            let mut i = 0u32;
            loop {
                let p = self.dir.join(format!("fork-{tag}-{size}-{n}-{i}.note"));
                if !p.exists() {
                    self.write_atomic(&p, note)?;
                    break;
                }
                // The same evidence kept already (a monitor that meets the same fork at every
                // run): not kept again, so that the directory does not grow without bound.
                if fs::read(&p).is_ok_and(|kept| kept == note) {
                    break;
                }
                i += 1;
            }
        }
        Ok(self.dir.clone())
    }

    /// Compares a checkpoint verified offline with the remembered one (DESIGN decision 8):
    /// the same size must have the same root; a larger size is accepted only with
    /// `proven_from`, a checkpoint of the remembered size already verified to be consistent
    /// with `current`; an older size ([`Seen::Older`]) or a larger one without that proof
    /// ([`Seen::Unlinked`]) is reported and changes nothing.
    ///
    /// # Errors
    /// [`StateError::Fork`] (evidence kept), I/O.
    pub fn observe(
        &self,
        key: &VerifierKey,
        current: &SignedCheckpoint,
        proven_from: Option<&SignedCheckpoint>,
    ) -> Result<Seen, StateError> {
        let Some(old) = self.remembered(key)? else {
            self.remember(key, current)?;
            return Ok(Seen::First);
        };
        let (o, c) = (&old.checkpoint, &current.checkpoint);
        if o.size == c.size {
            if o.root != c.root {
                let evidence = self.keep_evidence(&old.note, &current.note, key, o.size)?;
                return Err(StateError::Fork {
                    size: o.size,
                    evidence,
                });
            }
            return Ok(Seen::Same);
        }
        if o.size > c.size {
            return Ok(Seen::Older { remembered: o.size });
        }
        if o.size == 0 {
            // Every tree extends the empty tree (its root is fixed: SHA-256 of nothing, which
            // the remembered checkpoint, verified with the key, holds).
            self.remember(key, current)?;
            return Ok(Seen::Extends { from: 0 });
        }
        match proven_from {
            Some(f) if f.checkpoint.size == o.size => {
                if f.checkpoint.root != o.root {
                    let evidence = self.keep_evidence(&old.note, &f.note, key, o.size)?;
                    return Err(StateError::Fork {
                        size: o.size,
                        evidence,
                    });
                }
                self.remember(key, current)?;
                Ok(Seen::Extends { from: o.size })
            }
            _ => Ok(Seen::Unlinked { remembered: o.size }),
        }
    }

    /// Compares a newly verified checkpoint with the remembered one and, if it is consistent,
    /// remembers the newer of the two. `root_at(size)` gives the verified tree's root at an
    /// earlier size (from the verified ledger or a verified consistency proof); it returns
    /// `None` when that cannot be known. A smaller tree is a rollback from a [`Source::Live`]
    /// ledger, and [`Seen::Older`] from a [`Source::File`]; either way the remembered
    /// checkpoint stays.
    ///
    /// # Errors
    /// [`StateError::Rollback`], [`StateError::Fork`] (evidence kept), I/O.
    pub fn check_and_remember(
        &self,
        key: &VerifierKey,
        current: &SignedCheckpoint,
        source: Source,
        root_at: impl Fn(u64) -> Option<Hash>,
    ) -> Result<Seen, StateError> {
        let Some(old) = self.remembered(key)? else {
            self.remember(key, current)?;
            return Ok(Seen::First);
        };
        let (o, c) = (&old.checkpoint, &current.checkpoint);
        if o.size > c.size {
            if source == Source::File {
                // A snapshot taken before the remembered checkpoint: valid in itself, and not
                // evidence of anything about the ledger now.
                return Ok(Seen::Older { remembered: o.size });
            }
            return Err(StateError::Rollback {
                remembered: o.size,
                current: c.size,
                file: self.remembered_file(key),
            });
        }
        let fork = |size| -> Result<Seen, StateError> {
            let evidence = self.keep_evidence(&old.note, &current.note, key, size)?;
            Err(StateError::Fork { size, evidence })
        };
        if o.size == c.size {
            if o.root != c.root {
                return fork(o.size);
            }
            return Ok(Seen::Same);
        }
        match root_at(o.size) {
            Some(root) if root == o.root => {
                self.remember(key, current)?;
                Ok(Seen::Extends { from: o.size })
            }
            _ => fork(o.size),
        }
    }
}
