//! Key files on disk: reading and writing signatory keys (mode 0600, never overwritten, refused
//! when others can read them), encrypted at rest with a passphrase when asked (age). The key
//! formats themselves are in [`crate::keys`]; this module is the layer that touches files.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::keys::{
    check_key_name, format_err, KeyError, PublicKey, SecretKey, AGE_ARMOR_BEGIN, MAX_KEY_FILE,
};

/// A passphrase, zeroized on drop.
pub type Passphrase = age::secrecy::SecretString;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads at most [`MAX_KEY_FILE`] bytes of a small file.
fn read_small_bytes(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let file = fs::File::open(path).map_err(io_err(path))?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    if buf.len() as u64 > MAX_KEY_FILE {
        return Err(format_err(
            &path.display().to_string(),
            &format!("larger than {MAX_KEY_FILE} bytes; not a key file"),
        ));
    }
    Ok(buf)
}

/// Reads at most [`MAX_KEY_FILE`] bytes of a small text file.
fn read_small(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    let buf = read_small_bytes(path)?;
    let text = std::str::from_utf8(&buf)
        .map_err(|_| format_err(&path.display().to_string(), "not UTF-8 text; not a key file"))?;
    Ok(Zeroizing::new(text.to_string()))
}

/// Refuses a secret file that group or others may read (on Unix).
///
/// # Errors
/// [`KeyError::Permissions`] or [`KeyError::Io`].
pub fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path).map_err(io_err(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
    }
    Ok(())
}

/// Encrypts a secret key's file text with a passphrase, in the age format (scrypt recipient,
/// ASCII armour), so that it can also be decrypted with the `age` or `rage` tools.
///
/// # Errors
/// [`KeyError::Format`] if encryption fails.
pub fn encrypt_secret(key: &SecretKey, passphrase: Passphrase) -> Result<String, KeyError> {
    let fail = |e: &dyn std::fmt::Display| format_err("encrypted key", &e.to_string());
    let mut out = Vec::new();
    {
        let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
            .map_err(|e| fail(&e))?;
        let mut w = age::Encryptor::with_user_passphrase(passphrase)
            .wrap_output(armor)
            .map_err(|e| fail(&e))?;
        w.write_all(key.to_file_text().as_bytes()).map_err(|e| fail(&e))?;
        w.finish().and_then(|a| a.finish()).map_err(|e| fail(&e))?;
    }
    String::from_utf8(out).map_err(|e| fail(&e))
}

fn decrypt_secret(path: &Path, text: &str, passphrase: Passphrase) -> Result<SecretKey, KeyError> {
    let fail = |e: &dyn std::fmt::Display| KeyError::Decrypt {
        path: path.to_path_buf(),
        problem: e.to_string(),
    };
    let dec = age::Decryptor::new(age::armor::ArmoredReader::new(text.as_bytes())).map_err(|e| fail(&e))?;
    let identity = age::scrypt::Identity::new(passphrase);
    let mut r = dec
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| fail(&e))?;
    let mut plain = Zeroizing::new(Vec::new());
    (&mut r)
        .take(MAX_KEY_FILE)
        .read_to_end(&mut plain)
        .map_err(|e| fail(&e))?;
    let plain = std::str::from_utf8(&plain).map_err(|e| fail(&e))?;
    SecretKey::from_file_text(plain, &path.display().to_string())
}

/// Reads a signatory secret key file, refusing it if group or others may read it. An
/// age-encrypted file is decrypted with the passphrase `passphrase` returns (called only then).
///
/// # Errors
/// [`KeyError`] naming the file and the problem.
pub fn read_secret_key_with(
    path: &Path,
    passphrase: &dyn Fn() -> Option<Passphrase>,
) -> Result<SecretKey, KeyError> {
    let text = read_small(path)?;
    if text.starts_with(AGE_ARMOR_BEGIN) {
        check_private_mode(path)?;
        let p = passphrase().ok_or_else(|| KeyError::NeedPassphrase {
            path: path.to_path_buf(),
        })?;
        return decrypt_secret(path, &text, p);
    }
    read_secret_key_text(path, &text)
}

/// Reads a plain (unencrypted) signatory secret key file, refusing it if group or others may
/// read it.
///
/// # Errors
/// [`KeyError`] naming the file and the problem ([`KeyError::NeedPassphrase`] if encrypted).
pub fn read_secret_key(path: &Path) -> Result<SecretKey, KeyError> {
    read_secret_key_with(path, &|| None)
}

fn read_secret_key_text(path: &Path, text: &str) -> Result<SecretKey, KeyError> {
    // Say what the file is before judging its mode: a .pub given by mistake is not "exposed".
    let key = SecretKey::from_file_text(text, &path.display().to_string())?;
    check_private_mode(path)?;
    Ok(key)
}

/// Reads a signatory public key file, in any form [`PublicKey::from_file_bytes`] reads:
/// accord's, OpenSSH, PEM or DER SubjectPublicKeyInfo (as HSMs, cloud KMSs and
/// `openssl pkey -pubout` export them).
///
/// # Errors
/// [`KeyError`] naming the file and the problem.
pub fn read_public_key(path: &Path) -> Result<PublicKey, KeyError> {
    let bytes = read_small_bytes(path)?;
    PublicKey::from_file_bytes(&bytes, &path.display().to_string())
}

/// Creates `path` (never replacing a file) with the given mode and writes `data`, synced.
///
/// # Errors
/// [`KeyError::Exists`] or [`KeyError::Io`].
pub fn write_new_file(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            io_err(path)(e)
        }
    })?;
    file.write_all(data).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))?;
    Ok(())
}

/// Creates a directory (and parents) for secrets, mode 0700 on Unix.
///
/// # Errors
/// [`KeyError::Io`].
pub fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    crate::localfs::create_dir_all(dir, 0o700).map_err(io_err(dir))
}

/// The two files written by [`generate_key_files`].
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// `DIR/NAME.key`, mode 0600.
    pub secret: PathBuf,
    /// `DIR/NAME.pub`.
    pub public: PathBuf,
    /// The new public key.
    pub public_key: PublicKey,
}

/// Generates a key pair and writes `DIR/NAME.key` (0600) and `DIR/NAME.pub`; refuses to
/// overwrite either file.
///
/// # Errors
/// [`KeyError`].
pub fn generate_key_files(dir: &Path, name: &str) -> Result<KeyFiles, KeyError> {
    generate_key_files_with(dir, name, None)
}

/// As [`generate_key_files`], encrypting the secret key file with `passphrase` (age format)
/// when one is given.
///
/// # Errors
/// [`KeyError`].
pub fn generate_key_files_with(
    dir: &Path,
    name: &str,
    passphrase: Option<Passphrase>,
) -> Result<KeyFiles, KeyError> {
    check_key_name(name)?;
    create_private_dir(dir)?;
    let secret = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    for p in [&secret, &public] {
        if p.exists() {
            return Err(KeyError::Exists { path: p.clone() });
        }
    }
    let key = SecretKey::generate();
    match passphrase {
        Some(p) => write_new_file(&secret, encrypt_secret(&key, p)?.as_bytes(), 0o600)?,
        None => write_new_file(&secret, key.to_file_text().as_bytes(), 0o600)?,
    }
    let public_key = key.public();
    write_new_file(&public, public_key.to_file_text().as_bytes(), 0o644)?;
    Ok(KeyFiles {
        secret,
        public,
        public_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SECRET_PREFIX;

    #[test]
    fn encrypted_key_files_round_trip_and_refuse_wrong_passphrases() {
        let dir = tempfile::tempdir().unwrap();
        let pass = || Some(Passphrase::from("correct horse battery staple".to_string()));
        let files = generate_key_files_with(dir.path(), "enc", pass()).unwrap();
        let text = fs::read_to_string(&files.secret).unwrap();
        assert!(text.starts_with(AGE_ARMOR_BEGIN));
        assert!(!text.contains(SECRET_PREFIX));
        let k = read_secret_key_with(&files.secret, &pass).unwrap();
        assert_eq!(k.public(), files.public_key);
        assert!(matches!(
            read_secret_key(&files.secret),
            Err(KeyError::NeedPassphrase { .. })
        ));
        let wrong = || Some(Passphrase::from("wrong".to_string()));
        assert!(matches!(
            read_secret_key_with(&files.secret, &wrong),
            Err(KeyError::Decrypt { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let files = generate_key_files(dir.path(), "acme").unwrap();
        let mode = fs::metadata(&files.secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sk = read_secret_key(&files.secret).unwrap();
        assert_eq!(sk.public(), read_public_key(&files.public).unwrap());
        assert!(matches!(
            generate_key_files(dir.path(), "acme"),
            Err(KeyError::Exists { .. })
        ));
        fs::set_permissions(&files.secret, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read_secret_key(&files.secret),
            Err(KeyError::Permissions { .. })
        ));
    }
}
