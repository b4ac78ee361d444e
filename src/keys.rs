//! Signatory keys: Ed25519 key pairs, their text files, and their key ids.
//!
//! * Secret key file (`NAME.key`, mode 0600): one line `accord-secret-ed25519:<base64 of the
//!   32-byte seed>`. The prefix can never be taken for a public key.
//! * Public key file (`NAME.pub`): one line `accord-ed25519:<base64 of the 32-byte key>`.
//! * Key id (`kid`): SHA-256 of the raw 32-byte public key.
//!
//! Base64 is the standard alphabet with padding, and must be canonical. Secret material lives
//! in [`SecretKey`], which has no `Debug` or `Display` and is zeroized on drop.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Prefix of a secret key file's line.
pub const SECRET_PREFIX: &str = "accord-secret-ed25519:";
/// Prefix of a public key file's line.
pub const PUBLIC_PREFIX: &str = "accord-ed25519:";
/// Key files are tiny (an age-encrypted secret key is about 400 bytes); anything larger than
/// this is not a key file and is not read further.
pub const MAX_KEY_FILE: u64 = 4096;
/// First line of an age-encrypted (ASCII-armoured) secret key file.
pub const AGE_ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
/// A passphrase, zeroized on drop.
pub type Passphrase = age::secrecy::SecretString;

/// Errors about keys and key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file exists already; keys are never overwritten.
    #[error(
        "{path} already exists; accord never overwrites a key (choose another name or remove it yourself)"
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A secret key file that others can read.
    #[error("{path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}` and consider the key exposed")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a key file of the expected kind.
    #[error("{what}: {problem}")]
    Format {
        /// Which file or value.
        what: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A public key that is not a usable Ed25519 point (not canonical, or of small order).
    #[error("not an acceptable Ed25519 public key: {0}")]
    BadPublicKey(&'static str),
    /// An encrypted key file that could not be decrypted.
    #[error("{path}: cannot decrypt the secret key ({problem})")]
    Decrypt {
        /// The file.
        path: PathBuf,
        /// Why (wrong passphrase, damaged file...).
        problem: String,
    },
    /// An encrypted key file and no way to get its passphrase.
    #[error("{path} is encrypted; give its passphrase at the prompt or in ACCORD_PASSPHRASE")]
    NeedPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// A key name with characters a file name should not have.
    #[error("invalid key name {0:?}: use 1-64 letters, digits, '.', '_' or '-', not starting with '.'")]
    BadName(String),
}

/// An Ed25519 public key that decodes canonically and is not of small order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKey {
    vk: VerifyingKey,
    /// SHA-256 of the key bytes, computed once: every signature check compares it.
    kid: [u8; 32],
}

impl PublicKey {
    /// Accepts 32 bytes only if they are the canonical encoding of a point that is not of small
    /// order (RFC 8032 §5.1.3 plus the strict checks of `docs/FORMAT.md`).
    ///
    /// # Errors
    /// [`KeyError::BadPublicKey`].
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let vk = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::BadPublicKey("not a point"))?;
        // ed25519-dalek keeps the bytes it was given, and its decompression accepts y ≥ p (and
        // x = 0 with the sign bit set): compress the point again, so one key has one encoding
        // (and one kid).
        if vk.to_edwards().compress().to_bytes() != *bytes {
            return Err(KeyError::BadPublicKey("non-canonical encoding"));
        }
        if vk.is_weak() {
            return Err(KeyError::BadPublicKey("small-order point"));
        }
        Ok(PublicKey::new(vk))
    }

    fn new(vk: VerifyingKey) -> Self {
        PublicKey {
            kid: Sha256::digest(vk.as_bytes()).into(),
            vk,
        }
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.vk.to_bytes()
    }

    /// Key id: SHA-256 of the raw 32-byte key.
    pub fn kid(&self) -> [u8; 32] {
        self.kid
    }

    /// Checks a signature with `verify_strict` (DESIGN decision 6).
    pub fn verify_strict(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        self.vk.verify_strict(msg, &sig).is_ok()
    }

    /// Reads the part after `ssh-ed25519 ` of an OpenSSH public key line: base64 of
    /// `string "ssh-ed25519" ‖ string key` (RFC 4253 §6.6 wire strings with 32-bit lengths),
    /// optionally followed by a space and a comment.
    ///
    /// # Errors
    /// [`KeyError::Format`] or [`KeyError::BadPublicKey`].
    pub fn from_openssh(rest: &str, what: &str) -> Result<Self, KeyError> {
        let b64 = rest.split(' ').next().unwrap_or("");
        let blob = STANDARD
            .decode(b64)
            .map_err(|_| format_err(what, "ssh-ed25519 key is not canonical base64"))?;
        let mut want = Vec::with_capacity(51);
        want.extend_from_slice(&11u32.to_be_bytes());
        want.extend_from_slice(b"ssh-ed25519");
        want.extend_from_slice(&32u32.to_be_bytes());
        if blob.len() != 51 || blob[..19] != want[..] {
            return Err(format_err(what, "not an OpenSSH ssh-ed25519 public key blob"));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&blob[19..]);
        PublicKey::from_bytes(&key)
    }

    /// The public key file line, newline included.
    pub fn to_file_text(&self) -> String {
        format!("{PUBLIC_PREFIX}{}\n", STANDARD.encode(self.to_bytes()))
    }

    /// Parses a public key file's text (one line; a final newline is allowed).
    ///
    /// # Errors
    /// [`KeyError::Format`] or [`KeyError::BadPublicKey`].
    pub fn from_file_text(text: &str, what: &str) -> Result<Self, KeyError> {
        let line = one_line(text, what)?;
        if line.starts_with(SECRET_PREFIX) {
            return Err(format_err(what, "this is a SECRET key file; give the .pub file"));
        }
        if let Some(rest) = line.strip_prefix("ssh-ed25519 ") {
            return PublicKey::from_openssh(rest, what);
        }
        let b64 = line.strip_prefix(PUBLIC_PREFIX).ok_or_else(|| {
            format_err(
                what,
                &format!("not an accord public key (expected a line starting {PUBLIC_PREFIX:?})"),
            )
        })?;
        let bytes = decode_32(b64, what)?;
        PublicKey::from_bytes(&bytes)
    }
}

/// An Ed25519 signing key. No `Debug`, no `Display`; zeroized on drop.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        SecretKey(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// From a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey::new(self.0.verifying_key())
    }

    /// Signs `msg` (RFC 8032 Ed25519).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }

    /// The secret key file line, newline included; zeroized when dropped.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.0.to_bytes());
        let b64 = Zeroizing::new(STANDARD.encode(*seed));
        Zeroizing::new(format!("{SECRET_PREFIX}{}\n", b64.as_str()))
    }

    /// Parses a secret key file's text.
    ///
    /// # Errors
    /// [`KeyError::Format`] naming what is wrong (never echoing the secret).
    pub fn from_file_text(text: &str, what: &str) -> Result<Self, KeyError> {
        let line = one_line(text, what)?;
        if line.starts_with(PUBLIC_PREFIX) {
            return Err(format_err(
                what,
                "this is a public key file; give the secret .key file",
            ));
        }
        let b64 = line.strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            format_err(
                what,
                "not an accord secret key (expected a line starting accord-secret-ed25519:)",
            )
        })?;
        let seed = Zeroizing::new(decode_32(b64, what)?);
        Ok(SecretKey::from_seed(&seed))
    }
}

fn format_err(what: &str, problem: &str) -> KeyError {
    KeyError::Format {
        what: what.to_string(),
        problem: problem.to_string(),
    }
}

fn one_line<'a>(text: &'a str, what: &str) -> Result<&'a str, KeyError> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    if line.is_empty() {
        return Err(format_err(what, "empty key file"));
    }
    if line.contains('\n') || line.contains('\r') {
        return Err(format_err(what, "a key file holds exactly one line"));
    }
    Ok(line)
}

fn decode_32(b64: &str, what: &str) -> Result<[u8; 32], KeyError> {
    // base64 0.21's STANDARD engine refuses non-canonical trailing bits and missing padding.
    let bytes = Zeroizing::new(
        STANDARD
            .decode(b64)
            .map_err(|_| format_err(what, "key is not canonical base64 (truncated or altered?)"))?,
    );
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format_err(what, &format!("key must be 32 bytes, found {}", bytes.len())))
}

/// A validated key name: 1-64 of `[A-Za-z0-9._-]`, not starting with `.`.
///
/// # Errors
/// [`KeyError::BadName`].
pub fn check_key_name(name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadName(name.chars().take(64).collect()))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads at most [`MAX_KEY_FILE`] bytes of a small text file.
fn read_small(path: &Path) -> Result<Zeroizing<String>, KeyError> {
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

/// Reads a signatory public key file.
///
/// # Errors
/// [`KeyError`] naming the file and the problem.
pub fn read_public_key(path: &Path) -> Result<PublicKey, KeyError> {
    let text = read_small(path)?;
    PublicKey::from_file_text(&text, &path.display().to_string())
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
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir).map_err(io_err(dir))
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

    #[test]
    fn text_forms_round_trip() {
        let sk = SecretKey::from_seed(&[7; 32]);
        let again = SecretKey::from_file_text(&sk.to_file_text(), "k").unwrap();
        assert_eq!(again.public(), sk.public());
        let pk = PublicKey::from_file_text(&sk.public().to_file_text(), "p").unwrap();
        assert_eq!(pk, sk.public());
    }

    #[test]
    fn secret_and_public_files_are_not_confused() {
        let sk = SecretKey::from_seed(&[7; 32]);
        let e = PublicKey::from_file_text(&sk.to_file_text(), "x").err().unwrap();
        assert!(e.to_string().contains("SECRET"), "{e}");
        let e = SecretKey::from_file_text(&sk.public().to_file_text(), "x")
            .err()
            .unwrap();
        assert!(e.to_string().contains("public key file"), "{e}");
    }

    #[test]
    fn truncated_or_padded_keys_are_refused() {
        let text = SecretKey::from_seed(&[7; 32]).to_file_text();
        let cut = &text[..text.len() - 5];
        assert!(matches!(
            SecretKey::from_file_text(cut, "k"),
            Err(KeyError::Format { .. })
        ));
        let two = format!("{}{}", text.as_str(), text.as_str());
        assert!(matches!(
            SecretKey::from_file_text(&two, "k"),
            Err(KeyError::Format { .. })
        ));
        assert!(matches!(
            SecretKey::from_file_text("", "k"),
            Err(KeyError::Format { .. })
        ));
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        // 32 bytes -> 44 chars ending "=" whose last data char carries 2 unused bits; set them.
        let good = STANDARD.encode([0u8; 32]);
        let mut bad = good.clone().into_bytes();
        bad[42] = b'B';
        let line = format!("{PUBLIC_PREFIX}{}", String::from_utf8(bad).unwrap());
        assert!(matches!(
            PublicKey::from_file_text(&line, "p"),
            Err(KeyError::Format { .. })
        ));
    }

    #[test]
    fn small_order_and_non_canonical_points_are_refused() {
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(&identity),
            Err(KeyError::BadPublicKey(_))
        ));
        // y = p + 1 is a non-canonical encoding of the identity's y.
        let mut noncanon = [0xffu8; 32];
        noncanon[0] = 0xee;
        noncanon[31] = 0x7f;
        assert!(PublicKey::from_bytes(&noncanon).is_err());
    }

    #[test]
    fn openssh_public_keys_are_read() {
        let pk = SecretKey::from_seed(&[9; 32]).public();
        let mut blob = Vec::new();
        blob.extend_from_slice(&11u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(&pk.to_bytes());
        let line = format!("ssh-ed25519 {} security@acme.example\n", STANDARD.encode(&blob));
        assert_eq!(PublicKey::from_file_text(&line, "k").unwrap(), pk);
        blob[3] = 12;
        let bad = format!("ssh-ed25519 {}", STANDARD.encode(&blob));
        assert!(PublicKey::from_file_text(&bad, "k").is_err());
    }

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

    #[test]
    fn non_canonical_key_encodings_are_refused() {
        // y = 3 is on the curve; y = 3 + p (= 2^255 - 16) encodes the same point.
        let mut canonical = [0u8; 32];
        canonical[0] = 3;
        PublicKey::from_bytes(&canonical).expect("y = 3 is a valid key");
        let mut alias = [0xffu8; 32];
        alias[0] = 0xf0;
        alias[31] = 0x7f;
        assert!(matches!(
            PublicKey::from_bytes(&alias),
            Err(KeyError::BadPublicKey("non-canonical encoding"))
        ));
        // A genuine key with the sign bit of x flipped is another point, or none; never accepted
        // under the first key's kid.
        let pk = SecretKey::from_seed(&[9; 32]).public().to_bytes();
        let mut flipped = pk;
        flipped[31] ^= 0x80;
        if let Ok(k) = PublicKey::from_bytes(&flipped) {
            assert_ne!(k.kid(), PublicKey::from_bytes(&pk).unwrap().kid());
        }
    }

    #[test]
    fn kid_is_sha256_of_raw_key() {
        let pk = SecretKey::from_seed(&[1; 32]).public();
        let want: [u8; 32] = Sha256::digest(pk.to_bytes()).into();
        assert_eq!(pk.kid(), want);
    }

    #[test]
    fn key_names_are_checked() {
        for ok in ["acme", "acme-2026.signing", "A_b"] {
            check_key_name(ok).unwrap();
        }
        for bad in ["", ".hidden", "a/b", "../x", "a b", &"x".repeat(65)] {
            assert!(check_key_name(bad).is_err(), "{bad:?}");
        }
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
