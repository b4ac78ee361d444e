//! C2SP tlog-cosignature v1 with Ed25519 (signature type 0x04): a witness's timestamped
//! statement that a checkpoint is the largest consistent one it has seen for its origin
//! (docs/FORMAT.md section 15).
//!
//! The signed message is `cosignature/v1\ntime <timestamp>\n` followed by the whole note text
//! of the checkpoint (extension lines included, signature lines excluded). The signature line
//! is `— <name> <base64(key id ‖ u64 BE timestamp ‖ 64-byte Ed25519 signature)>\n`, where the
//! key id is `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]`. The timestamp of a checkpoint
//! cosignature is never zero and at most 2^63 − 1. The ML-DSA-44 type (0x06, `subtree/v1`) of
//! the spec's newer text is out of scope.
//!
//! Pure: no I/O, no clock (the caller passes the time in).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::checkpoint::Origin;

/// Signed-note signature type of a timestamped Ed25519 checkpoint cosignature.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The header line of the signed message.
const HEADER: &str = "cosignature/v1\n";
/// Bytes of a signature after the key id: the u64 timestamp and the Ed25519 signature.
const SIG_LEN: usize = 8 + 64;
/// Longest signature line accepted when reading one (name ≤ 255, base64 of 76 bytes = 104).
const MAX_LINE: usize = 4 + 255 + 1 + 104 + 1;
/// The em dash that starts a signature line.
const DASH: &str = "\u{2014} ";

/// Cosignature errors.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CosignatureError {
    /// A witness name accord cannot use.
    #[error("invalid witness name {0:?}: use 1-255 printable ASCII characters without spaces or '+', such as witness.example/w1")]
    BadName(String),
    /// A cosignature verifier key that does not parse or does not check out.
    #[error("invalid witness key (vkey): {0}")]
    BadVerifierKey(&'static str),
    /// A witness secret key that does not parse.
    #[error("invalid witness secret key: {0}")]
    BadSecretKey(&'static str),
    /// A timestamp a checkpoint cosignature may not carry.
    #[error("cosignature timestamp {0} is not in 1..=2^63-1")]
    BadTimestamp(u64),
    /// A signature line that does not parse.
    #[error("malformed cosignature line: {0}")]
    Malformed(&'static str),
    /// The line is not by this key (another name or key id).
    #[error("the cosignature is not by {0}")]
    OtherKey(String),
    /// The line is by this key but its signature does not verify.
    #[error("cosignature by {0} does not verify")]
    BadSignature(String),
}

fn key_id(name: &str, key: &[u8; 32]) -> u32 {
    let mut k = Vec::with_capacity(33);
    k.push(ALG_COSIGNATURE_V1);
    k.extend_from_slice(key);
    signed_note::key_id(name, &k)
}

/// The exact bytes a cosignature/v1 signs: the header line, the time line, and the checkpoint's
/// note text (which ends in a newline).
pub fn signed_message(note_text: &[u8], timestamp: u64) -> Vec<u8> {
    let time = format!("time {timestamp}\n");
    let mut m = Vec::with_capacity(HEADER.len() + time.len() + note_text.len());
    m.extend_from_slice(HEADER.as_bytes());
    m.extend_from_slice(time.as_bytes());
    m.extend_from_slice(note_text);
    m
}

fn check_timestamp(t: u64) -> Result<(), CosignatureError> {
    if t == 0 || t > i64::MAX as u64 {
        return Err(CosignatureError::BadTimestamp(t));
    }
    Ok(())
}

/// A witness's public key: `<name>+<hex8 key id>+<base64(0x04 ‖ key)>`; its base64 starts with
/// `B`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CosignerVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl CosignerVerifier {
    /// Parses a cosignature vkey strictly (type 0x04 only, canonical point, matching key id).
    ///
    /// # Errors
    /// [`CosignatureError::BadVerifierKey`] naming the problem.
    pub fn parse(s: &str) -> Result<Self, CosignatureError> {
        let (name, id, key) = crate::checkpoint::parse_vkey(
            s,
            ALG_COSIGNATURE_V1,
            "not a cosignature/v1 key (type 0x04); a log's vkey has type 0x01",
        )
        .map_err(CosignatureError::BadVerifierKey)?;
        Ok(CosignerVerifier { name, id, key })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key id: the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key).
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// Verifies one signature line (`— <name> <base64>`, with or without its newline) over a
    /// checkpoint's note text, and returns its timestamp.
    ///
    /// # Errors
    /// [`CosignatureError::OtherKey`] for a line of another name or key id (a caller ignores
    /// it), [`CosignatureError::BadSignature`] for this key's line that does not verify,
    /// [`CosignatureError::BadTimestamp`] or [`CosignatureError::Malformed`].
    pub fn verify_line(&self, note_text: &[u8], line: &str) -> Result<u64, CosignatureError> {
        let bad = CosignatureError::Malformed;
        if line.len() > MAX_LINE {
            return Err(bad("too long"));
        }
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line
            .strip_prefix(DASH)
            .ok_or(bad("does not start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(bad("expected a name and a signature"))?;
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| bad("signature is not canonical base64"))?;
        if raw.len() < 4 {
            return Err(bad("signature is shorter than a key id"));
        }
        let id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        if name != self.name || id != self.id {
            return Err(CosignatureError::OtherKey(self.to_string()));
        }
        let keyname = format!("{}+{:08x}", self.name, self.id);
        let sig: &[u8; SIG_LEN] = raw[4..]
            .try_into()
            .map_err(|_| CosignatureError::BadSignature(keyname.clone()))?;
        let mut t = [0u8; 8];
        t.copy_from_slice(&sig[..8]);
        let timestamp = u64::from_be_bytes(t);
        check_timestamp(timestamp)?;
        let mut s = [0u8; 64];
        s.copy_from_slice(&sig[8..]);
        let msg = signed_message(note_text, timestamp);
        self.key
            .verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&s))
            .map_err(|_| CosignatureError::BadSignature(keyname))?;
        Ok(timestamp)
    }

    /// Verifies the cosignatures of this key in a signed note (a checkpoint with its signature
    /// lines): every line with this key's name and id must verify, and at least one must be
    /// there. Returns the newest timestamp.
    ///
    /// # Errors
    /// [`CosignatureError::OtherKey`] when no line is by this key, or the error of a line of
    /// this key that fails.
    pub fn verify_note(&self, note: &[u8]) -> Result<u64, CosignatureError> {
        let s = std::str::from_utf8(note).map_err(|_| CosignatureError::Malformed("note is not UTF-8"))?;
        let (text, sigs) = s
            .rsplit_once("\n\n")
            .ok_or(CosignatureError::Malformed("note has no signature lines"))?;
        let text = format!("{text}\n");
        let mut newest = None;
        for line in sigs.strip_suffix('\n').unwrap_or(sigs).split('\n') {
            match self.verify_line(text.as_bytes(), line) {
                Ok(t) => newest = Some(newest.map_or(t, |n: u64| n.max(t))),
                Err(CosignatureError::OtherKey(_)) | Err(CosignatureError::Malformed(_)) => {}
                Err(e) => return Err(e),
            }
        }
        newest.ok_or_else(|| CosignatureError::OtherKey(self.to_string()))
    }
}

impl std::fmt::Display for CosignerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut k = vec![ALG_COSIGNATURE_V1];
        k.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, STANDARD.encode(k))
    }
}

impl std::str::FromStr for CosignerVerifier {
    type Err = CosignatureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CosignerVerifier::parse(s)
    }
}

/// A witness's secret key. Its `Debug` shows only the public key; zeroized on drop.
pub struct CosignerKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CosignerKey({})", self.verifier())
    }
}

impl CosignerKey {
    /// A new key from the operating system's random source.
    ///
    /// # Errors
    /// [`CosignatureError::BadName`].
    pub fn generate(name: &str) -> Result<Self, CosignatureError> {
        Origin::new(name).map_err(|_| CosignatureError::BadName(name.chars().take(64).collect()))?;
        Ok(CosignerKey {
            name: name.to_string(),
            key: SigningKey::generate(&mut rand_core::OsRng),
        })
    }

    /// The secret key form `PRIVATE+KEY+<name>+<hex8 id>+<base64(0x04 ‖ seed)>` (the prefix
    /// can never be taken for a vkey).
    pub fn to_skey(&self) -> Zeroizing<String> {
        crate::checkpoint::format_skey(&self.name, ALG_COSIGNATURE_V1, &self.key)
    }

    /// Parses the secret key form (one trailing newline allowed).
    ///
    /// # Errors
    /// [`CosignatureError::BadSecretKey`] (never echoing the key).
    pub fn from_skey(text: &str) -> Result<Self, CosignatureError> {
        let (name, key) = crate::checkpoint::parse_skey(
            text,
            ALG_COSIGNATURE_V1,
            "not a witness key (type 0x04); a ledger key cannot cosign",
        )
        .map_err(CosignatureError::BadSecretKey)?;
        Ok(CosignerKey { name, key })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public cosignature key.
    pub fn verifier(&self) -> CosignerVerifier {
        let vk = self.key.verifying_key();
        CosignerVerifier {
            name: self.name.clone(),
            id: key_id(&self.name, vk.as_bytes()),
            key: vk,
        }
    }

    /// Cosigns a checkpoint's note text at `timestamp`: the signature line, ending in a newline.
    ///
    /// # Errors
    /// [`CosignatureError::BadTimestamp`] for 0 or a value above 2^63 − 1.
    pub fn cosign(&self, note_text: &[u8], timestamp: u64) -> Result<String, CosignatureError> {
        check_timestamp(timestamp)?;
        let sig = self.key.sign(&signed_message(note_text, timestamp));
        let mut raw = Vec::with_capacity(4 + SIG_LEN);
        raw.extend_from_slice(&key_id(&self.name, self.key.verifying_key().as_bytes()).to_be_bytes());
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!("{DASH}{} {}\n", self.name, STANDARD.encode(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"example.org/log\n3\nQPxRwpyAThDwBCEmq7WgCKz1uCC7vfVmPDrBaPW+nqE=\n";

    #[test]
    fn cosign_and_verify_round_trip() {
        let k = CosignerKey::generate("witness.example/w1").unwrap();
        let v = k.verifier();
        assert!(v.to_string().starts_with("witness.example/w1+"));
        assert!(v.to_string().split('+').nth(2).unwrap().starts_with('B'));
        assert_eq!(CosignerVerifier::parse(&v.to_string()).unwrap(), v);
        let line = k.cosign(TEXT, 1_700_000_000).unwrap();
        assert!(line.starts_with("\u{2014} witness.example/w1 "));
        // 4 + 72 bytes in base64: 104 characters ending in "==".
        let b64 = line.trim_end().rsplit(' ').next().unwrap();
        assert_eq!(b64.len(), 104);
        assert!(b64.ends_with("=="));
        assert_eq!(v.verify_line(TEXT, &line).unwrap(), 1_700_000_000);
        let mut note = TEXT.to_vec();
        note.extend_from_slice(b"\n");
        note.extend_from_slice(line.as_bytes());
        assert_eq!(v.verify_note(&note).unwrap(), 1_700_000_000);
    }

    #[test]
    fn the_message_is_the_specs() {
        assert_eq!(
            signed_message(b"o\n1\nr\n", 42),
            b"cosignature/v1\ntime 42\no\n1\nr\n".to_vec()
        );
    }

    #[test]
    fn tampering_and_other_keys_are_told_apart() {
        let k = CosignerKey::generate("w").unwrap();
        let other = CosignerKey::generate("w").unwrap().verifier();
        let line = k.cosign(TEXT, 7).unwrap();
        assert!(matches!(
            other.verify_line(TEXT, &line),
            Err(CosignatureError::OtherKey(_))
        ));
        let changed = b"example.org/log\n4\nQPxRwpyAThDwBCEmq7WgCKz1uCC7vfVmPDrBaPW+nqE=\n";
        assert!(matches!(
            k.verifier().verify_line(changed, &line),
            Err(CosignatureError::BadSignature(_))
        ));
    }

    #[test]
    fn zero_and_huge_timestamps_are_refused() {
        let k = CosignerKey::generate("w").unwrap();
        assert_eq!(k.cosign(TEXT, 0), Err(CosignatureError::BadTimestamp(0)));
        assert!(k.cosign(TEXT, 1 << 63).is_err());
        assert!(k.cosign(TEXT, (1 << 63) - 1).is_ok());
    }

    #[test]
    fn secret_key_round_trip_and_type_checked() {
        let k = CosignerKey::generate("witness.example/w1").unwrap();
        let s = k.to_skey();
        let back = CosignerKey::from_skey(&s).unwrap();
        assert_eq!(back.verifier(), k.verifier());
        assert!(!format!("{k:?}").contains(s.trim_end().rsplit('+').next().unwrap()));
        let ledger = crate::checkpoint::LedgerKey::generate(&Origin::new("example.org/log").unwrap());
        assert!(CosignerKey::from_skey(&ledger.to_skey()).is_err());
        assert!(CosignerVerifier::parse(&ledger.verifier_key().to_string()).is_err());
    }
}
