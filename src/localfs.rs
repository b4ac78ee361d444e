//! Directories and files on this machine that accord trusts, or writes for others to trust:
//! the state directory of remembered checkpoints ([`crate::state`]) and the directory `accord
//! publish` writes a log into ([`crate::publish`]); and the files of a published directory
//! that `accord verify DIR` reads ([`crate::remote`]). One set of checks for all of them
//! (docs/SECURITY.md):
//!
//! * a trusted directory belongs to the user and no one else can change it: another user who
//!   can write it can plant files or symlinks there, swap a file accord wrote before it is
//!   renamed into place, or delete what it holds; nor may it sit in a directory anyone can
//!   write without the sticky bit (another user could rename it away and put theirs in its
//!   place) ([`check_private`], [`check_ancestors`]);
//! * below such a directory, accord reaches nothing through a symbolic link
//!   ([`enter_dir`], and `O_NOFOLLOW` on every open), so that it never writes or reads outside
//!   it;
//! * it reads only regular files ([`open_regular`]): a FIFO would block the reader for ever,
//!   a device may never end.
//!
//! The checks go by path. That is enough because every directory they pass through is one
//! only the user can change: no one else can swap a component between the check and the use.

use std::fs;
use std::path::{Path, PathBuf};

/// Why a directory or file cannot be trusted, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {why}")]
pub struct Untrusted {
    /// The directory or file at fault (for an unsafe ancestor, the ancestor).
    pub path: PathBuf,
    /// What is wrong with it.
    pub why: String,
    /// What to do.
    pub fix: String,
}

/// What went wrong with a local directory or file.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// It cannot be trusted (others can change it, a symlink, not a regular file).
    #[error(transparent)]
    Untrusted(#[from] Untrusted),
    /// The system refused an operation on it.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The process's effective user id, read without unsafe code: `/proc/self` belongs to it.
/// `None` where there is no `/proc` (then ownership is not checked, only the mode).
#[cfg(unix)]
fn my_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Refuses a directory (its metadata `m`) that group or others can write, or that belongs to
/// another user. `fix_mode` is the mode the fix suggests (`chmod 700` for private data,
/// `chmod 755` for a directory others read).
///
/// # Errors
/// [`Untrusted`], saying why and what to do.
pub fn check_private(dir: &Path, m: &fs::Metadata, fix_mode: u32) -> Result<(), Untrusted> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let mode = m.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(Untrusted {
                path: dir.to_path_buf(),
                why: format!("it is writable by other users (mode {mode:o})"),
                fix: format!("run `chmod {fix_mode:o} {}`", dir.display()),
            });
        }
        if let Some(me) = my_uid() {
            if m.uid() != me {
                return Err(Untrusted {
                    path: dir.to_path_buf(),
                    why: format!("it belongs to another user (uid {}, you are {me})", m.uid()),
                    fix: "use a directory of your own".into(),
                });
            }
        }
    }
    let _ = (dir, m, fix_mode);
    Ok(())
}

/// Refuses a directory inside one that anyone can write without the sticky bit: there,
/// another user could rename it away and put one of their own in its place.
///
/// # Errors
/// [`Untrusted`] naming the ancestor.
pub fn check_ancestors(dir: &Path) -> Result<(), Untrusted> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let Ok(abs) = std::path::absolute(dir) else {
            return Ok(());
        };
        for a in abs.ancestors().skip(1) {
            let Ok(m) = fs::metadata(a) else { continue };
            let mode = m.permissions().mode() & 0o7777;
            if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                return Err(Untrusted {
                    path: a.to_path_buf(),
                    why: format!(
                        "it is inside {}, which anyone can write (mode {mode:o}, no sticky bit)",
                        a.display()
                    ),
                    fix: format!("run `chmod o-w {}` or `chmod +t {}`", a.display(), a.display()),
                });
            }
        }
    }
    let _ = dir;
    Ok(())
}

/// Creates the directory `dir` and any missing parents with `mode` (less the umask), as
/// `mkdir -p -m` would; the directories that already exist are left as they are.
///
/// # Errors
/// What the system said.
pub fn create_dir_all(dir: &Path, mode: u32) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(mode);
    }
    let _ = mode;
    b.create(dir)
}

/// Enters the directory `dir` below a trusted one without following a symbolic link: it must
/// be a directory itself, not a link to one. A missing one is created with `mode` when
/// `create` is set (else `Ok(false)`). With `private`, it must also pass [`check_private`]
/// (`fix_mode` for the fix it suggests).
///
/// # Errors
/// [`LocalError::Untrusted`] for a symlink, something other than a directory, or (with
/// `private`) a directory others can change; [`LocalError::Io`].
pub fn enter_dir(dir: &Path, create: Option<u32>, private: Option<u32>) -> Result<bool, LocalError> {
    let m = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let Some(mode) = create else { return Ok(false) };
            let mut b = fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt as _;
                b.mode(mode);
            }
            let _ = mode;
            match b.create(dir) {
                Ok(()) => {}
                // Made at the same moment by someone else: checked below like any other.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(dir)(e)),
            }
            fs::symlink_metadata(dir).map_err(io(dir))?
        }
        Err(e) => return Err(io(dir)(e)),
    };
    if m.file_type().is_symlink() {
        return Err(symlink(dir).into());
    }
    if !m.is_dir() {
        return Err(Untrusted {
            path: dir.to_path_buf(),
            why: "it is not a directory".into(),
            fix: "move it away".into(),
        }
        .into());
    }
    if let Some(fix_mode) = private {
        check_private(dir, &m, fix_mode)?;
    }
    Ok(true)
}

/// The refusal of a symbolic link where accord reads or writes.
pub fn symlink(path: &Path) -> Untrusted {
    Untrusted {
        path: path.to_path_buf(),
        why:
            "it is a symbolic link, and accord never follows one there (it could lead outside the directory)"
                .into(),
        fix: "replace it with the directory or file itself, or remove it".into(),
    }
}

/// The open flags that refuse a symbolic link at the last component (`O_NOFOLLOW`) and do not
/// block on a FIFO or a device (`O_NONBLOCK`; regular files ignore it).
#[cfg(unix)]
fn no_follow_no_block(o: &mut fs::OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt as _;
    o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
}

/// Whether an open failed because the last component is a symbolic link (`O_NOFOLLOW`).
fn is_symlink_refusal(e: &std::io::Error, path: &Path) -> bool {
    #[cfg(unix)]
    {
        if e.raw_os_error() == Some(libc::ELOOP) {
            return true;
        }
    }
    let _ = e;
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Checks that an open file is a regular file (not a FIFO, a device, a socket or a directory).
fn regular(file: &fs::File, path: &Path) -> Result<(), LocalError> {
    let m = file.metadata().map_err(io(path))?;
    if !m.is_file() {
        return Err(Untrusted {
            path: path.to_path_buf(),
            why: "it is not a regular file (a directory, FIFO, socket or device)".into(),
            fix: "only regular files are read there; replace it with the file itself".into(),
        }
        .into());
    }
    Ok(())
}

/// Opens `path` for reading if it is a regular file: never through a symbolic link at its last
/// component, never blocking on a FIFO or a device. `Ok(None)` when there is nothing there.
///
/// # Errors
/// [`LocalError::Untrusted`] for a symlink or anything but a regular file;
/// [`LocalError::Io`].
pub fn open_regular(path: &Path) -> Result<Option<fs::File>, LocalError> {
    let mut o = fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    no_follow_no_block(&mut o);
    let file = match o.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if is_symlink_refusal(&e, path) => return Err(symlink(path).into()),
        Err(e) => return Err(io(path)(e)),
    };
    regular(&file, path)?;
    Ok(Some(file))
}

/// Opens (creating it with `mode` if needed) the regular file `path` for writing, never
/// through a symbolic link and never truncating it: for a lock file.
///
/// # Errors
/// [`LocalError::Untrusted`] for a symlink or anything but a regular file;
/// [`LocalError::Io`].
pub fn open_lock_file(path: &Path, mode: u32) -> Result<fs::File, LocalError> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        no_follow_no_block(&mut o);
        o.mode(mode);
    }
    let _ = mode;
    let file = match o.open(path) {
        Ok(f) => f,
        Err(e) if is_symlink_refusal(&e, path) => return Err(symlink(path).into()),
        Err(e) => return Err(io(path)(e)),
    };
    regular(&file, path)?;
    Ok(file)
}

/// Creates the new file `path` with `mode` (`O_CREAT | O_EXCL`: never a file or a symlink
/// already there) for writing.
///
/// # Errors
/// [`LocalError::Io`] (`AlreadyExists` when something is there).
pub fn create_new(path: &Path, mode: u32) -> Result<fs::File, LocalError> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(mode);
    }
    let _ = mode;
    o.open(path).map_err(io(path))
}

/// Opens the directory `dir` to sync it (never through a symbolic link).
///
/// # Errors
/// [`LocalError::Io`].
pub fn open_dir(dir: &Path) -> Result<fs::File, LocalError> {
    let mut o = fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY);
    }
    o.open(dir).map_err(io(dir))
}

/// The name of a fresh temporary file: `prefix` and 16 random hex digits, which no one can
/// guess ahead.
pub fn temp_name(prefix: &str) -> String {
    let mut nonce = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    format!("{prefix}{}", hex::encode(nonce))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_fifo_a_symlink_and_a_directory_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        // Without O_NONBLOCK this open would wait for a writer for ever.
        let e = open_regular(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let target = d.path().join("target");
        fs::write(&target, b"x").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_regular(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(open_regular(d.path()).is_err());
        assert!(open_regular(&d.path().join("absent")).unwrap().is_none());
        assert!(open_regular(&target).unwrap().is_some());
        // A dangling lock symlink: refused, and its target not created.
        let dangling = d.path().join("lock");
        std::os::unix::fs::symlink(d.path().join("created"), &dangling).unwrap();
        assert!(open_lock_file(&dangling, 0o600).is_err());
        assert!(!d.path().join("created").exists());
    }

    #[test]
    fn a_directory_is_entered_only_if_it_is_one_and_private_when_asked() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("sub");
        assert!(!enter_dir(&sub, None, None).unwrap());
        assert!(enter_dir(&sub, Some(0o700), Some(0o700)).unwrap());
        assert_eq!(fs::metadata(&sub).unwrap().permissions().mode() & 0o777, 0o700);
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o777)).unwrap();
        let e = enter_dir(&sub, None, Some(0o700)).unwrap_err().to_string();
        assert!(e.contains("writable by other users"), "{e}");
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&sub, &link).unwrap();
        let e = enter_dir(&link, Some(0o755), None).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
    }
}
