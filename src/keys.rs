//! Signatory keys: Ed25519 key pairs, their text files, and their key ids.
//!
//! * Secret key file (`NAME.key`, mode 0600): one line `accord-secret-ed25519:<base64 of the
//!   32-byte seed>`. The prefix can never be taken for a public key.
//! * Public key file (`NAME.pub`): one line `accord-ed25519:<base64 of the 32-byte key>`.
//! * Key id (`kid`): SHA-256 of the raw 32-byte public key.
//!
//! A signatory public key is also read in the forms other tools write: OpenSSH
//! (`ssh-ed25519 …`), and the RFC 8410 SubjectPublicKeyInfo an HSM, a cloud KMS or
//! `openssl pkey -pubout` exports, as DER (44 bytes) or PEM (`-----BEGIN PUBLIC KEY-----`).
//! Each is read strictly: one key, canonical base64, the exact Ed25519 SPKI prefix.
//!
//! Base64 is the standard alphabet with padding, and must be canonical. Secret material lives
//! in [`SecretKey`], which has no `Debug` or `Display` and is zeroized on drop.

use std::path::PathBuf;

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
/// The DER of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4) up to the key:
/// `SEQUENCE(42) { SEQUENCE(5) { OID 1.3.101.112 }, BIT STRING(33) 0 unused bits }`, then the
/// 32 key bytes. Every such SPKI is exactly these 12 bytes and the key: 44 bytes.
pub const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// Length of an Ed25519 SubjectPublicKeyInfo in DER.
pub const ED25519_SPKI_LEN: usize = ED25519_SPKI_PREFIX.len() + 32;
/// The PEM (RFC 7468 §13) lines around a SubjectPublicKeyInfo.
pub const PEM_PUBLIC_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
/// See [`PEM_PUBLIC_BEGIN`].
pub const PEM_PUBLIC_END: &str = "-----END PUBLIC KEY-----";
/// The start of a PKCS #8 Ed25519 private key in DER (RFC 8410 §7): recognised only to say
/// that a secret key was given where a public one is wanted.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

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

    /// Reads an Ed25519 SubjectPublicKeyInfo in DER (RFC 8410 §4): exactly
    /// [`ED25519_SPKI_PREFIX`] followed by the 32 key bytes, nothing else.
    ///
    /// # Errors
    /// [`KeyError::Format`] or [`KeyError::BadPublicKey`].
    pub fn from_spki_der(der: &[u8], what: &str) -> Result<Self, KeyError> {
        if der.starts_with(&ED25519_PKCS8_PREFIX) {
            return Err(format_err(
                what,
                "this is a SECRET key (PKCS #8); give its public key (`openssl pkey -pubout`)",
            ));
        }
        if der.len() != ED25519_SPKI_LEN || der[..ED25519_SPKI_PREFIX.len()] != ED25519_SPKI_PREFIX {
            return Err(format_err(
                what,
                "not an Ed25519 public key in DER SubjectPublicKeyInfo form (RFC 8410: 44 bytes \
                 starting 30 2a 30 05 06 03 2b 65 70 03 21 00)",
            ));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&der[ED25519_SPKI_PREFIX.len()..]);
        PublicKey::from_bytes(&key)
    }

    /// The key as a DER SubjectPublicKeyInfo (RFC 8410 §4), 44 bytes.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.to_bytes());
        der
    }

    /// Reads a PEM public key (RFC 7468 §13, the strict form of its §3): the line
    /// [`PEM_PUBLIC_BEGIN`], the canonical base64 of one Ed25519 SubjectPublicKeyInfo in lines
    /// of 64 characters (the last one shorter or equal), the line [`PEM_PUBLIC_END`], and a
    /// final line break; lines end with LF, or all with CRLF. Nothing before or after: one key
    /// only, and no explanatory text.
    ///
    /// # Errors
    /// [`KeyError::Format`] or [`KeyError::BadPublicKey`].
    pub fn from_pem(text: &str, what: &str) -> Result<Self, KeyError> {
        if text.starts_with("-----BEGIN PRIVATE KEY-----")
            || text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        {
            return Err(format_err(
                what,
                "this is a SECRET key; give its public key (`openssl pkey -pubout`)",
            ));
        }
        if text.matches("-----BEGIN ").count() > 1 {
            return Err(format_err(what, "more than one PEM block; give one public key"));
        }
        let unix;
        let text = if text.contains('\r') {
            if text.replace("\r\n", "").contains(['\r', '\n']) {
                return Err(format_err(what, "mixed line endings in a PEM file"));
            }
            unix = text.replace("\r\n", "\n");
            unix.as_str()
        } else {
            text
        };
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<&str> = body.split('\n').collect();
        let [first, middle @ .., last] = lines.as_slice() else {
            return Err(format_err(what, "a PEM public key needs its BEGIN and END lines"));
        };
        if *first != PEM_PUBLIC_BEGIN {
            return Err(format_err(
                what,
                &format!("not a PEM public key (expected the first line {PEM_PUBLIC_BEGIN:?})"),
            ));
        }
        if *last != PEM_PUBLIC_END {
            return Err(format_err(
                what,
                &format!("a PEM public key ends with the line {PEM_PUBLIC_END:?} and nothing after it"),
            ));
        }
        let Some((final_line, full)) = middle.split_last() else {
            return Err(format_err(what, "empty PEM block"));
        };
        if full.iter().any(|l| l.len() != 64) || final_line.is_empty() || final_line.len() > 64 {
            return Err(format_err(
                what,
                "PEM base64 must be in lines of 64 characters (the last one 1 to 64)",
            ));
        }
        let b64: String = middle.concat();
        let der = STANDARD
            .decode(&b64)
            .map_err(|_| format_err(what, "PEM body is not canonical base64"))?;
        PublicKey::from_spki_der(&der, what)
    }

    /// The key as a PEM public key (`-----BEGIN PUBLIC KEY-----`), as `openssl pkey -pubout`
    /// writes it.
    pub fn to_pem(&self) -> String {
        format!(
            "{PEM_PUBLIC_BEGIN}\n{}\n{PEM_PUBLIC_END}\n",
            STANDARD.encode(self.to_spki_der())
        )
    }

    /// Reads a public key file's bytes in any of the forms accord accepts: its own line
    /// (`accord-ed25519:`), OpenSSH (`ssh-ed25519 `), PEM (`-----BEGIN PUBLIC KEY-----`), or a
    /// DER SubjectPublicKeyInfo (a file whose first byte is 0x30, the DER SEQUENCE tag; no text
    /// form starts with it). At most [`MAX_KEY_FILE`] bytes.
    ///
    /// # Errors
    /// [`KeyError::Format`] or [`KeyError::BadPublicKey`].
    pub fn from_file_bytes(bytes: &[u8], what: &str) -> Result<Self, KeyError> {
        if bytes.len() as u64 > MAX_KEY_FILE {
            return Err(format_err(
                what,
                &format!("larger than {MAX_KEY_FILE} bytes; not a key file"),
            ));
        }
        if bytes.first() == Some(&0x30) {
            return PublicKey::from_spki_der(bytes, what);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| {
            format_err(
                what,
                "not a public key file (accord, OpenSSH, PEM, or DER SubjectPublicKeyInfo)",
            )
        })?;
        if text.starts_with(AGE_ARMOR_BEGIN) {
            return Err(format_err(
                what,
                "this is an encrypted SECRET key file; give the .pub file",
            ));
        }
        if text.starts_with("-----BEGIN ") {
            return PublicKey::from_pem(text, what);
        }
        PublicKey::from_file_text(text, what)
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
        if text.starts_with(PEM_PUBLIC_BEGIN) {
            return PublicKey::from_pem(text, what);
        }
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
                &format!(
                    "not a public key: expected accord's line ({PUBLIC_PREFIX}...), OpenSSH \
                     (ssh-ed25519 ...), PEM ({PEM_PUBLIC_BEGIN}) or DER SubjectPublicKeyInfo"
                ),
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

/// A key file or text that is not in the expected form.
pub(crate) fn format_err(what: &str, problem: &str) -> KeyError {
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
    fn pem_public_keys_are_read() {
        let pk = SecretKey::from_seed(&[9; 32]).public();
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&pk.to_bytes());
        let pem = |der: &[u8]| format!("{PEM_PUBLIC_BEGIN}\n{}\n{PEM_PUBLIC_END}\n", STANDARD.encode(der));
        assert_eq!(PublicKey::from_file_text(&pem(&der), "k").unwrap(), pk);
        // Without the final newline, too.
        assert_eq!(PublicKey::from_file_text(pem(&der).trim_end(), "k").unwrap(), pk);
        // Another algorithm (X25519, 1.3.101.110), a short key, trailing bytes, text after the
        // end line: refused. (CRLF throughout is accepted; see spki_der_and_pem_are_read_strictly.)
        let mut x25519 = der.clone();
        x25519[8] = 0x6e;
        assert!(PublicKey::from_file_text(&pem(&x25519), "k").is_err());
        assert!(PublicKey::from_file_text(&pem(&der[..43]), "k").is_err());
        let mut long = der.clone();
        long.push(0);
        assert!(PublicKey::from_file_text(&pem(&long), "k").is_err());
        let after = format!("{}more\n", pem(&der));
        assert!(PublicKey::from_file_text(&after, "k").is_err());
        // A small-order point in a well-formed SPKI: refused as a key.
        let mut weak = ED25519_SPKI_PREFIX.to_vec();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        weak.extend_from_slice(&identity);
        assert!(matches!(
            PublicKey::from_file_text(&pem(&weak), "k"),
            Err(KeyError::BadPublicKey(_))
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

    /// What `openssl pkey -pubout` prints for the RFC 8410 §10.1 example key.
    const RFC8410_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
-----END PUBLIC KEY-----\n";

    #[test]
    fn spki_der_and_pem_are_read_strictly() {
        let pk = PublicKey::from_file_bytes(RFC8410_PEM.as_bytes(), "k").unwrap();
        assert_eq!(
            hex::encode(pk.to_bytes()),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
        );
        assert_eq!(pk.to_pem(), RFC8410_PEM);
        let der = pk.to_spki_der();
        assert_eq!(der.len(), 44);
        assert_eq!(PublicKey::from_file_bytes(&der, "k").unwrap(), pk);
        // CRLF throughout is read; a missing final line break too.
        let crlf = RFC8410_PEM.replace('\n', "\r\n");
        assert_eq!(PublicKey::from_file_bytes(crlf.as_bytes(), "k").unwrap(), pk);
        assert_eq!(PublicKey::from_pem(RFC8410_PEM.trim_end(), "k").unwrap(), pk);

        let refused = |bytes: &[u8]| {
            let e = PublicKey::from_file_bytes(bytes, "k");
            assert!(e.is_err(), "accepted {:?}", String::from_utf8_lossy(bytes));
            e.err().unwrap().to_string()
        };
        // DER: a byte more or less, another algorithm (X25519, Ed448), a wrong length byte.
        refused(&der[..43]);
        refused(&[der.as_slice(), &[0]].concat());
        let mut x25519 = der.clone();
        x25519[8] = 0x6e;
        refused(&x25519);
        let mut len = der.clone();
        len[1] = 0x2b;
        refused(&len);
        // PEM: two keys, text around, mixed endings, non-canonical base64, lines not of 64.
        refused(format!("{RFC8410_PEM}{RFC8410_PEM}").as_bytes());
        refused(format!("{RFC8410_PEM}trailing\n").as_bytes());
        refused(format!("Subject: x\n{RFC8410_PEM}").as_bytes());
        refused(RFC8410_PEM.replacen('\n', "\r\n", 1).as_bytes());
        refused(RFC8410_PEM.replace("ZuE=", "ZuF=").as_bytes());
        refused(RFC8410_PEM.replace("MCowBQYDK2Vw", "MCowBQYDK2Vw\n").as_bytes());
        refused(RFC8410_PEM.replace("PUBLIC KEY", "RSA PUBLIC KEY").as_bytes());
        refused(RFC8410_PEM.replace("AyEAGb9E", "AyEA Gb9E").as_bytes());
        refused(b"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n");
        // Secret keys are named as such, in every form.
        let pkcs8 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        assert!(refused(pkcs8.as_bytes()).contains("SECRET"));
        let mut der8 = ED25519_PKCS8_PREFIX.to_vec();
        der8.extend_from_slice(&[1; 32]);
        assert!(refused(&der8).contains("SECRET"));
        let age = format!("{AGE_ARMOR_BEGIN}\nYWdl\n-----END AGE ENCRYPTED FILE-----\n");
        assert!(refused(age.as_bytes()).contains("SECRET"));
        // Too large, binary.
        refused(&vec![b'a'; MAX_KEY_FILE as usize + 1]);
        refused(&[0xff, 0xfe, 0x00]);
        // A small-order key in a well-formed SPKI is still refused.
        let mut weak = ED25519_SPKI_PREFIX.to_vec();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        weak.extend_from_slice(&identity);
        assert!(matches!(
            PublicKey::from_file_bytes(&weak, "k"),
            Err(KeyError::BadPublicKey(_))
        ));
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
}
