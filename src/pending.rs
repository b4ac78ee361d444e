//! Registrations waiting for the custodian's approval (`accord serve --registrations approve`):
//! files in the ledger directory's `pending/` (mode 0700), one statement each, never in the
//! ledger until the custodian approves them (`accord approve ID`, locally only).
//!
//! The queue is bounded in all and per client, so that a flood of junk registrations fills
//! neither the queue nor the disk: each file is at most one statement (65,000 bytes), and at
//! most [`PendingLimits::total`] wait at once, [`PendingLimits::per_client`] from one address.

use std::path::{Path, PathBuf};

use crate::statement::{Kind, Statement, StatementId, MAX_STATEMENT_LEN};
use crate::time::Seconds;

/// The directory of pending registrations inside a ledger directory.
pub const PENDING_DIR: &str = "pending";

/// How many registrations may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingLimits {
    /// In all.
    pub total: usize,
    /// From one client address.
    pub per_client: usize,
}

impl Default for PendingLimits {
    fn default() -> Self {
        PendingLimits {
            total: 1000,
            per_client: 10,
        }
    }
}

/// What went wrong with the queue.
#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    /// The queue holds as many as it may.
    #[error("{0} registrations are already waiting for approval; try again later")]
    Full(usize),
    /// This client has as many waiting as it may.
    #[error("this client already has {0} registrations waiting for approval")]
    ClientFull(usize),
    /// Only registrations wait for approval.
    #[error("only registrations wait for approval; this is a {0}")]
    NotARegistration(Kind),
    /// No such pending registration.
    #[error("no registration {0} is waiting for approval (accord pending lists them)")]
    NotFound(String),
    /// A file of the queue.
    #[error("{path}: {problem}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        problem: String,
    },
}

/// One registration waiting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// Its statement id (hex).
    pub id: String,
    /// The organisation name as registered.
    pub name: String,
    /// The normalised name (`iss`).
    pub org: String,
    /// The domain it claims, if any.
    pub domain: Option<String>,
    /// The address it came from.
    pub client: String,
    /// When it was received (RFC 3339).
    pub received_at: String,
    /// The statement's bytes.
    #[serde(skip)]
    pub statement: Vec<u8>,
}

/// The queue in `LEDGER/pending/`.
#[derive(Debug, Clone)]
pub struct PendingQueue {
    dir: PathBuf,
    limits: PendingLimits,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    client: String,
    received_at: Seconds,
}

impl PendingQueue {
    /// The queue of the ledger at `ledger_dir` (created, mode 0700, when first written).
    pub fn new(ledger_dir: &Path, limits: PendingLimits) -> PendingQueue {
        PendingQueue {
            dir: ledger_dir.join(PENDING_DIR),
            limits,
        }
    }

    fn io(&self, path: &Path, e: impl std::fmt::Display) -> PendingError {
        PendingError::Io {
            path: path.to_path_buf(),
            problem: e.to_string(),
        }
    }

    fn files(&self, id: &StatementId) -> (PathBuf, PathBuf) {
        let h = hex::encode(id);
        (
            self.dir.join(format!("{h}.cose")),
            self.dir.join(format!("{h}.meta")),
        )
    }

    /// Adds a registration from `client`; `Ok(false)` if it was waiting already.
    ///
    /// # Errors
    /// [`PendingError::Full`], [`PendingError::ClientFull`], [`PendingError::NotARegistration`], I/O.
    pub fn add(&self, st: &Statement, client: &str, now: Seconds) -> Result<bool, PendingError> {
        if st.kind() != Kind::Registration {
            return Err(PendingError::NotARegistration(st.kind()));
        }
        crate::keyfile::create_private_dir(&self.dir).map_err(|e| self.io(&self.dir, e))?;
        let (cose, meta) = self.files(&st.id());
        if cose.exists() {
            return Ok(false);
        }
        let waiting = self.list()?;
        if waiting.len() >= self.limits.total {
            return Err(PendingError::Full(waiting.len()));
        }
        let mine = waiting.iter().filter(|p| p.client == client).count();
        if mine >= self.limits.per_client {
            return Err(PendingError::ClientFull(mine));
        }
        let m = serde_json::to_vec(&Meta {
            client: client.to_string(),
            received_at: now,
        })
        .map_err(|e| self.io(&meta, e))?;
        // The metadata first: a statement file is listed only once its metadata is there.
        self.write_atomic(&meta, &m)?;
        self.write_atomic(&cose, st.bytes())?;
        Ok(true)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), PendingError> {
        use std::io::Write as _;
        let tmp = path.with_extension("partial");
        let _ = std::fs::remove_file(&tmp);
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            // create_new (O_EXCL) never follows a planted symlink.
            o.mode(0o600);
        }
        let mut f = o.open(&tmp).map_err(|e| self.io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| self.io(&tmp, e))?;
        f.sync_all().map_err(|e| self.io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| self.io(path, e))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Every registration waiting, oldest first.
    ///
    /// # Errors
    /// I/O.
    pub fn list(&self) -> Result<Vec<Pending>, PendingError> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|e| self.io(&self.dir, e))?;
            let name = e.file_name();
            let Some(h) = name.to_str().and_then(|n| n.strip_suffix(".cose")) else {
                continue;
            };
            let Some(id) = parse_id(h) else { continue };
            if let Some(p) = self.get(&id)? {
                out.push(p);
            }
        }
        out.sort_by(|a, b| (a.received_at.as_str(), &a.id).cmp(&(b.received_at.as_str(), &b.id)));
        Ok(out)
    }

    /// The registration `id`, if it is waiting (a file that is not one is skipped).
    ///
    /// # Errors
    /// I/O.
    pub fn get(&self, id: &StatementId) -> Result<Option<Pending>, PendingError> {
        let (cose, meta) = self.files(id);
        let Some(bytes) = read_bounded(&cose, MAX_STATEMENT_LEN).map_err(|e| self.io(&cose, e))? else {
            return Ok(None);
        };
        let Some(m) = read_bounded(&meta, 4096).map_err(|e| self.io(&meta, e))? else {
            return Ok(None);
        };
        let Ok(m) = serde_json::from_slice::<Meta>(&m) else {
            return Ok(None);
        };
        let Ok(st) = Statement::decode(&bytes) else {
            return Ok(None);
        };
        let crate::statement::Body::Registration(r) = &st.payload.body else {
            return Ok(None);
        };
        if st.id() != *id {
            return Ok(None);
        }
        Ok(Some(Pending {
            id: hex::encode(id),
            name: r.name.clone(),
            org: st.iss.clone(),
            domain: r.domain.clone(),
            client: m.client,
            received_at: crate::time::format(m.received_at),
            statement: bytes,
        }))
    }

    /// The one registration whose id starts with `prefix` (at least 8 hex digits).
    ///
    /// # Errors
    /// [`PendingError::NotFound`] for none or several.
    pub fn find(&self, prefix: &str) -> Result<Pending, PendingError> {
        let p = prefix.to_ascii_lowercase();
        if p.len() < 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PendingError::NotFound(format!(
                "{prefix:?} (give at least 8 hex digits of its id)"
            )));
        }
        let mut found: Vec<Pending> = self
            .list()?
            .into_iter()
            .filter(|x| x.id.starts_with(&p))
            .collect();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(PendingError::NotFound(prefix.to_string())),
            n => Err(PendingError::NotFound(format!(
                "{prefix} ({n} match: give more digits)"
            ))),
        }
    }

    /// Holds the queue's decision lock (a lock on `pending/.decide`) until the guard is dropped.
    /// An approval holds it from finding the registration until it has left the queue,
    /// appended or refused; a rejection from finding it until it is removed. Whoever comes
    /// second finds the registration gone: a rejection can never report success for a
    /// registration that an approval appended meanwhile (in the server or another process).
    ///
    /// # Errors
    /// I/O.
    pub fn decide(&self) -> Result<std::fs::File, PendingError> {
        crate::keyfile::create_private_dir(&self.dir).map_err(|e| self.io(&self.dir, e))?;
        let path = self.dir.join(".decide");
        let f = crate::localfs::open_lock_file(&path, 0o600).map_err(|e| self.io(&path, e))?;
        f.lock().map_err(|e| self.io(&path, e))?;
        Ok(f)
    }

    /// Removes a registration from the queue (approved, refused or rejected); `Ok(false)` if it
    /// was not there.
    ///
    /// # Errors
    /// I/O.
    pub fn remove(&self, id: &StatementId) -> Result<bool, PendingError> {
        let (cose, meta) = self.files(id);
        let had = match std::fs::remove_file(&cose) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(self.io(&cose, e)),
        };
        let _ = std::fs::remove_file(&meta);
        Ok(had)
    }
}

/// A statement id from 64 hex digits.
pub fn parse_id(h: &str) -> Option<StatementId> {
    let v = hex::decode(h).ok()?;
    v.try_into().ok()
}

/// A regular file's bytes, at most `max` (more: an error); `None` when it does not exist.
fn read_bounded(path: &Path, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !f.metadata()?.is_file() {
        return Ok(None);
    }
    let mut v = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut v)?;
    if v.len() > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(Some(v))
}
