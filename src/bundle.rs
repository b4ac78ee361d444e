//! Audit proofs that verify offline (DESIGN decision 7): inclusion bundles for one entry and
//! consistency proofs between two signed checkpoints, in CBOR, in JSON, and (inclusion only)
//! in the C2SP tlog-proof text form.
//!
//! This module holds the formats and their verification; it touches no files. Proof data is
//! gathered from a ledger by [`crate::ledger::Ledger::prove`] and
//! [`crate::ledger::Ledger::consistency`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, SignedCheckpoint, VerifierKey};
use crate::codec::{self, CodecError, MapReader, Value};
use crate::entry::{Entry, MAX_ENTRY_LEN};
use crate::keys::PublicKey;
use crate::norms::Catalogue;
use crate::proof::{self, Hash, ProofError, MAX_PROOF_LEN};
use crate::rules::{self, MemRegistry, Registry as _, Rejection, MAX_FUTURE_SKEW};
use crate::statement::{Body, Kind, Statement};
use crate::time::Seconds;

/// Most key-history entries a bundle may carry.
pub const MAX_KEY_HISTORY: usize = 256;
/// Bundle format version.
pub const BUNDLE_VERSION: u64 = 1;
/// Largest proof file read: two entries, two notes and a few paths need far less.
pub const MAX_PROOF_FILE: usize = 256 * 1024;

/// What is wrong with a proof file.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// CBOR-level problem.
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// JSON-level problem.
    #[error("JSON: {0}")]
    Json(String),
    /// Unknown version or type.
    #[error("{0}")]
    Format(String),
    /// The checkpoint does not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A Merkle proof does not verify.
    #[error("{what}: {source}")]
    Proof {
        /// Which proof.
        what: &'static str,
        /// Why.
        source: ProofError,
    },
    /// The entry or registration is not what the bundle claims.
    #[error("{what}: {problem}")]
    Entry {
        /// Which entry.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
}

fn entry_err(what: &'static str, problem: impl Into<String>) -> BundleError {
    BundleError::Entry {
        what,
        problem: problem.into(),
    }
}

/// An entry with its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Included {
    /// Leaf index.
    pub leaf_index: u64,
    /// The entry bytes (the Merkle leaf).
    pub entry: Vec<u8>,
    /// Inclusion path, leaf to root.
    pub path: Vec<Hash>,
}

/// A consistency proof from an earlier signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consistency {
    /// The earlier checkpoint (signed note).
    pub from_checkpoint: Vec<u8>,
    /// RFC 9162 consistency path from its size to the later size.
    pub path: Vec<Hash>,
}

/// An audit bundle for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The signed checkpoint the proofs lead to.
    pub checkpoint: Vec<u8>,
    /// Its tree size.
    pub tree_size: u64,
    /// The entry proved.
    pub entry: Included,
    /// The raw public key that signed the entry's statement.
    pub signatory_key: [u8; 32],
    /// The organisation's registration.
    pub registration: Included,
    /// The organisation's key changes (rotations, revocations, recoveries) logged before the
    /// checkpoint, in index order: they bind `signatory_key` to the organisation.
    pub key_history: Vec<Included>,
    /// Optional: consistency from an earlier checkpoint (`prove --since`).
    pub consistency: Option<Consistency>,
}

/// A consistency proof file: two signed checkpoints and the path between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The earlier checkpoint.
    pub old: Vec<u8>,
    /// The later checkpoint.
    pub new: Vec<u8>,
    /// RFC 9162 consistency path.
    pub path: Vec<Hash>,
}

/// Any proof file `verify-proof` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofFile {
    /// An inclusion bundle.
    Bundle(Bundle),
    /// A consistency proof.
    Consistency(ConsistencyProof),
}

fn hashes_value(p: &[Hash]) -> Value {
    Value::Array(p.iter().map(|h| codec::bytes(h.to_vec())).collect())
}

fn hashes_from(v: Vec<codec::Item<'_>>, field: &str) -> Result<Vec<Hash>, BundleError> {
    if v.len() > MAX_PROOF_LEN {
        return Err(BundleError::Proof {
            what: "proof path",
            source: ProofError::ProofTooLong {
                len: v.len(),
                max: MAX_PROOF_LEN,
            },
        });
    }
    v.iter().map(|h| Ok(codec::as_bytes_n::<32>(h, field)?)).collect()
}

fn included_value(i: &Included) -> Value {
    codec::map([
        ("leaf_index".into(), codec::uint(i.leaf_index)),
        ("entry".into(), codec::bytes(i.entry.clone())),
        ("inclusion_path".into(), hashes_value(&i.path)),
    ])
}

fn included_from(mut r: MapReader) -> Result<Included, BundleError> {
    let i = Included {
        leaf_index: r.uint("leaf_index")?,
        entry: r.bytes("entry")?,
        path: hashes_from(r.array("inclusion_path")?, "inclusion_path")?,
    };
    r.finish()?;
    if i.entry.len() > MAX_ENTRY_LEN {
        return Err(entry_err("entry", "larger than an entry can be"));
    }
    Ok(i)
}

impl ProofFile {
    /// Canonical CBOR.
    ///
    /// # Errors
    /// Never for well-formed values.
    pub fn to_cbor(&self) -> Result<Vec<u8>, BundleError> {
        let v = match self {
            ProofFile::Bundle(b) => {
                let mut m = vec![
                    ("v".into(), codec::uint(BUNDLE_VERSION)),
                    ("type".into(), codec::text("inclusion")),
                    ("checkpoint".into(), codec::bytes(b.checkpoint.clone())),
                    ("tree_size".into(), codec::uint(b.tree_size)),
                    ("entry".into(), included_value(&b.entry)),
                    ("signatory_key".into(), codec::bytes(b.signatory_key.to_vec())),
                    ("registration".into(), included_value(&b.registration)),
                    (
                        "key_history".into(),
                        Value::Array(b.key_history.iter().map(included_value).collect()),
                    ),
                ];
                if let Some(c) = &b.consistency {
                    m.push((
                        "consistency".into(),
                        codec::map([
                            ("from_checkpoint".into(), codec::bytes(c.from_checkpoint.clone())),
                            ("path".into(), hashes_value(&c.path)),
                        ]),
                    ));
                }
                codec::map(m)
            }
            ProofFile::Consistency(c) => codec::map([
                ("v".into(), codec::uint(BUNDLE_VERSION)),
                ("type".into(), codec::text("consistency")),
                ("old_checkpoint".into(), codec::bytes(c.old.clone())),
                ("new_checkpoint".into(), codec::bytes(c.new.clone())),
                ("path".into(), hashes_value(&c.path)),
            ]),
        };
        Ok(codec::encode(&v)?)
    }

    /// Strict CBOR decoding.
    ///
    /// # Errors
    /// [`BundleError`] naming the field.
    pub fn from_cbor(bytes: &[u8]) -> Result<ProofFile, BundleError> {
        let v = codec::decode_item(bytes, MAX_PROOF_FILE)?;
        let mut r = MapReader::new(v, "proof file")?;
        let version = r.uint("v")?;
        if version != BUNDLE_VERSION {
            return Err(BundleError::Format(format!(
                "unsupported proof file version {version}"
            )));
        }
        let out = match r.text("type")?.as_str() {
            "inclusion" => {
                let checkpoint = r.bytes("checkpoint")?;
                let tree_size = r.uint("tree_size")?;
                let entry = included_from(r.map("entry", "entry")?)?;
                let signatory_key = r.bytes_n::<32>("signatory_key")?;
                let registration = included_from(r.map("registration", "registration")?)?;
                let history = r.array("key_history")?;
                if history.len() > MAX_KEY_HISTORY {
                    return Err(BundleError::Format(format!(
                        "key_history has more than {MAX_KEY_HISTORY} entries"
                    )));
                }
                let mut key_history = Vec::with_capacity(history.len());
                for h in history {
                    key_history.push(included_from(MapReader::new(h, "key_history item")?)?);
                }
                let consistency = match r.opt_value("consistency")? {
                    Some(v) => {
                        let mut c = MapReader::new(v, "consistency")?;
                        let from_checkpoint = c.bytes("from_checkpoint")?;
                        let path = hashes_from(c.array("path")?, "path")?;
                        c.finish()?;
                        Some(Consistency {
                            from_checkpoint,
                            path,
                        })
                    }
                    None => None,
                };
                ProofFile::Bundle(Bundle {
                    checkpoint,
                    tree_size,
                    entry,
                    signatory_key,
                    registration,
                    key_history,
                    consistency,
                })
            }
            "consistency" => ProofFile::Consistency(ConsistencyProof {
                old: r.bytes("old_checkpoint")?,
                new: r.bytes("new_checkpoint")?,
                path: hashes_from(r.array("path")?, "path")?,
            }),
            other => {
                return Err(BundleError::Format(format!(
                    "unknown proof type {:?}",
                    other.chars().take(32).collect::<String>()
                )))
            }
        };
        r.finish()?;
        Ok(out)
    }

    /// The JSON form (lowercase hex hashes, standard base64 bytes, notes as text).
    ///
    /// # Errors
    /// [`BundleError::Json`] if a note is not UTF-8 (they always are).
    pub fn to_json(&self) -> Result<String, BundleError> {
        let note = |n: &[u8]| {
            String::from_utf8(n.to_vec()).map_err(|_| BundleError::Json("note is not UTF-8".into()))
        };
        let hx = |p: &[Hash]| p.iter().map(hex::encode).collect::<Vec<_>>();
        let inc = |i: &Included| JsonIncluded {
            leaf_index: i.leaf_index,
            inclusion_path: hx(&i.path),
            entry: STANDARD.encode(&i.entry),
        };
        let j = match self {
            ProofFile::Bundle(b) => serde_json::to_string_pretty(&JsonBundle {
                format: "accord-proof/1".into(),
                r#type: "inclusion".into(),
                leaf_index: b.entry.leaf_index,
                tree_size: b.tree_size,
                inclusion_path: hx(&b.entry.path),
                entry: STANDARD.encode(&b.entry.entry),
                checkpoint: note(&b.checkpoint)?,
                signatory_key: STANDARD.encode(b.signatory_key),
                registration: inc(&b.registration),
                key_history: b.key_history.iter().map(inc).collect(),
                consistency: match &b.consistency {
                    Some(c) => Some(JsonConsistency {
                        from_checkpoint: note(&c.from_checkpoint)?,
                        path: hx(&c.path),
                    }),
                    None => None,
                },
            }),
            ProofFile::Consistency(c) => serde_json::to_string_pretty(&JsonConsistencyFile {
                format: "accord-proof/1".into(),
                r#type: "consistency".into(),
                old_checkpoint: note(&c.old)?,
                new_checkpoint: note(&c.new)?,
                path: hx(&c.path),
            }),
        };
        j.map(|s| s + "\n").map_err(|e| BundleError::Json(e.to_string()))
    }

    /// Strict JSON decoding: unknown fields, non-canonical base64 and non-lowercase hex are
    /// refused.
    ///
    /// # Errors
    /// [`BundleError::Json`] naming the problem.
    pub fn from_json(text: &str) -> Result<ProofFile, BundleError> {
        if text.len() > MAX_PROOF_FILE {
            return Err(BundleError::Json(format!(
                "file larger than {MAX_PROOF_FILE} bytes"
            )));
        }
        let probe: JsonProbe = serde_json::from_str(text).map_err(|e| BundleError::Json(e.to_string()))?;
        if probe.format != "accord-proof/1" {
            return Err(BundleError::Format(format!(
                "unknown proof format {:?}",
                probe.format
            )));
        }
        let b64 = |s: &str, f: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| BundleError::Json(format!("{f}: not canonical base64")))
        };
        let path = |v: &[String], f: &str| -> Result<Vec<Hash>, BundleError> {
            if v.len() > MAX_PROOF_LEN {
                return Err(BundleError::Proof {
                    what: "proof path",
                    source: ProofError::ProofTooLong {
                        len: v.len(),
                        max: MAX_PROOF_LEN,
                    },
                });
            }
            v.iter().map(|h| parse_hex_hash(h, f)).collect()
        };
        match probe.r#type.as_str() {
            "inclusion" => {
                let j: JsonBundle =
                    serde_json::from_str(text).map_err(|e| BundleError::Json(e.to_string()))?;
                let key = b64(&j.signatory_key, "signatory_key")?;
                Ok(ProofFile::Bundle(Bundle {
                    checkpoint: j.checkpoint.into_bytes(),
                    tree_size: j.tree_size,
                    entry: Included {
                        leaf_index: j.leaf_index,
                        entry: b64(&j.entry, "entry")?,
                        path: path(&j.inclusion_path, "inclusion_path")?,
                    },
                    signatory_key: key
                        .as_slice()
                        .try_into()
                        .map_err(|_| BundleError::Json("signatory_key: not 32 bytes".into()))?,
                    registration: Included {
                        leaf_index: j.registration.leaf_index,
                        entry: b64(&j.registration.entry, "registration.entry")?,
                        path: path(&j.registration.inclusion_path, "registration.inclusion_path")?,
                    },
                    key_history: {
                        if j.key_history.len() > MAX_KEY_HISTORY {
                            return Err(BundleError::Format(format!(
                                "key_history has more than {MAX_KEY_HISTORY} entries"
                            )));
                        }
                        let mut v = Vec::with_capacity(j.key_history.len());
                        for h in &j.key_history {
                            v.push(Included {
                                leaf_index: h.leaf_index,
                                entry: b64(&h.entry, "key_history.entry")?,
                                path: path(&h.inclusion_path, "key_history.inclusion_path")?,
                            });
                        }
                        v
                    },
                    consistency: match j.consistency {
                        Some(c) => Some(Consistency {
                            from_checkpoint: c.from_checkpoint.into_bytes(),
                            path: path(&c.path, "consistency.path")?,
                        }),
                        None => None,
                    },
                }))
            }
            "consistency" => {
                let j: JsonConsistencyFile =
                    serde_json::from_str(text).map_err(|e| BundleError::Json(e.to_string()))?;
                Ok(ProofFile::Consistency(ConsistencyProof {
                    old: j.old_checkpoint.into_bytes(),
                    new: j.new_checkpoint.into_bytes(),
                    path: path(&j.path, "path")?,
                }))
            }
            other => Err(BundleError::Format(format!(
                "unknown proof type {:?}",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }

    /// Reads a proof file in CBOR or JSON (JSON starts with `{`). A C2SP tlog-proof is read by
    /// [`crate::tlog_proof::TlogProof::parse`].
    ///
    /// # Errors
    /// [`BundleError`].
    pub fn parse(bytes: &[u8]) -> Result<ProofFile, BundleError> {
        if bytes.len() > MAX_PROOF_FILE {
            return Err(BundleError::Format(format!(
                "proof file larger than {MAX_PROOF_FILE} bytes"
            )));
        }
        if bytes.first() == Some(&b'{') {
            let text = std::str::from_utf8(bytes).map_err(|_| BundleError::Json("not UTF-8".into()))?;
            ProofFile::from_json(text)
        } else {
            ProofFile::from_cbor(bytes)
        }
    }
}

fn parse_hex_hash(s: &str, field: &str) -> Result<Hash, BundleError> {
    let bad = || BundleError::Json(format!("{field}: expected 64 lowercase hex digits"));
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    let v = hex::decode(s).map_err(|_| bad())?;
    v.try_into().map_err(|_| bad())
}

#[derive(Deserialize)]
struct JsonProbe {
    format: String,
    r#type: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonIncluded {
    leaf_index: u64,
    inclusion_path: Vec<String>,
    entry: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonConsistency {
    from_checkpoint: String,
    path: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBundle {
    format: String,
    r#type: String,
    leaf_index: u64,
    tree_size: u64,
    inclusion_path: Vec<String>,
    entry: String,
    checkpoint: String,
    signatory_key: String,
    registration: JsonIncluded,
    key_history: Vec<JsonIncluded>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consistency: Option<JsonConsistency>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonConsistencyFile {
    format: String,
    r#type: String,
    old_checkpoint: String,
    new_checkpoint: String,
    path: Vec<String>,
}

/// A recovery in a bundle's key history whose compromise time makes the proved entry
/// untrusted (docs/FORMAT.md section 7): valid history, not to be relied on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UntrustedBy {
    /// Index of the recovery entry.
    pub recovery_index: u64,
    /// The compromise time it set.
    pub compromised_since: Seconds,
}

/// What a verified bundle established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    /// The verified checkpoint.
    pub checkpoint: SignedCheckpoint,
    /// The entry's index.
    pub index: u64,
    /// Its statement.
    pub statement: Statement,
    /// When it was logged.
    pub logged_at: i64,
    /// The registration's index.
    pub registration_index: u64,
    /// Number of key-history entries the bundle held (and that were checked).
    pub key_history_len: usize,
    /// The verified earlier checkpoint, if the bundle carried a consistency proof.
    pub consistent_from: Option<SignedCheckpoint>,
    /// Set when a recovery in the bundle's key history makes the entry untrusted (the first
    /// such recovery). The bundle is still authentic.
    pub untrusted_by: Option<UntrustedBy>,
}

/// Names a key-history item in messages: its position in the bundle and its leaf index.
fn item_err(k: usize, inc: &Included, problem: impl std::fmt::Display) -> BundleError {
    entry_err(
        "key_history",
        format!("item {k} (entry {}): {problem}", inc.leaf_index),
    )
}

/// Decodes an included entry and its statement strictly, checks its inclusion proof against
/// the checkpoint, the statement's origin, and the section 7 log time bound
/// (`iat ≤ logged_at + MAX_FUTURE_SKEW`). `item` is the position of a key-history item.
fn check_included(
    what: &'static str,
    item: Option<usize>,
    inc: &Included,
    cp: &SignedCheckpoint,
) -> Result<(Entry, Statement), BundleError> {
    let err = |problem: String| match item {
        Some(k) => item_err(k, inc, problem),
        None => entry_err(what, problem),
    };
    let e = Entry::decode(&inc.entry).map_err(|e| err(e.to_string()))?;
    if e.index != inc.leaf_index {
        return Err(err(format!(
            "entry says index {}, bundle says {}",
            e.index, inc.leaf_index
        )));
    }
    proof::verify_inclusion(
        inc.leaf_index,
        cp.checkpoint.size,
        &proof::leaf_hash(&inc.entry),
        &inc.path,
        &cp.checkpoint.root,
    )
    .map_err(|source| match item {
        Some(_) => err(format!("inclusion proof: {source}")),
        None => BundleError::Proof {
            what: if what == "entry" {
                "inclusion proof"
            } else {
                "registration inclusion proof"
            },
            source,
        },
    })?;
    let st = Statement::decode(&e.statement).map_err(|e| err(format!("statement: {e}")))?;
    if st.payload.origin != cp.checkpoint.origin.as_str() {
        return Err(err("statement is for another ledger".into()));
    }
    if st.payload.iat > e.logged_at.saturating_add(MAX_FUTURE_SKEW) {
        let r = Rejection::IssuedInFuture {
            iat: crate::time::format(st.payload.iat),
            logged: crate::time::format(e.logged_at),
        };
        return Err(err(format!(
            "{r} by more than {MAX_FUTURE_SKEW} seconds, which the ledger rules refuse"
        )));
    }
    Ok((e, st))
}

/// Applies the section 7 rules to a statement of the organisation's own history (its
/// registration or a key change before the entry) and records its effects.
#[allow(clippy::too_many_arguments)]
fn replay_one(
    reg: &mut MemRegistry,
    origin: &str,
    catalogue: &Catalogue,
    index: u64,
    logged_at: Seconds,
    version: u64,
    st: &Statement,
    err: impl Fn(String) -> BundleError,
) -> Result<(), BundleError> {
    let key = rules::check_rules(st, origin, logged_at, version, reg, catalogue)
        .map_err(|e| err(e.to_string()))?
        .map_err(|e| err(e.to_string()))?;
    st.verify_signature(&key).map_err(|e| err(e.to_string()))?;
    rules::apply(reg, index, logged_at, st).map_err(|e| err(e.to_string()))
}

impl Bundle {
    /// Verifies everything a bundle can prove, offline, against the ledger key.
    ///
    /// # Errors
    /// [`BundleError`] naming the first thing that fails.
    pub fn verify(&self, vkey: &VerifierKey, catalogue: &Catalogue) -> Result<BundleReport, BundleError> {
        let cp = SignedCheckpoint::open(&self.checkpoint, vkey)?;
        if cp.checkpoint.size != self.tree_size {
            return Err(BundleError::Format(format!(
                "tree_size {} differs from the checkpoint's size {}",
                self.tree_size, cp.checkpoint.size
            )));
        }
        let origin = cp.checkpoint.origin.as_str();
        let (e, st) = check_included("entry", None, &self.entry, &cp)?;
        let key = PublicKey::from_bytes(&self.signatory_key)
            .map_err(|e| entry_err("signatory_key", e.to_string()))?;
        st.verify_signature(&key)
            .map_err(|e| entry_err("entry", e.to_string()))?;
        let (reg_e, reg) = check_included("registration", None, &self.registration, &cp)?;
        if self.registration.leaf_index > self.entry.leaf_index {
            return Err(entry_err(
                "registration",
                "comes after the entry it should authorise",
            ));
        }
        if self.registration.leaf_index == self.entry.leaf_index
            && self.registration.entry != self.entry.entry
        {
            return Err(entry_err(
                "registration",
                "differs from the entry at the same index",
            ));
        }
        if !matches!(reg.payload.body, Body::Registration(_)) {
            return Err(entry_err("registration", "is not a registration"));
        }
        if reg.iss != st.iss {
            return Err(entry_err(
                "registration",
                format!("registers {:?}, but the entry speaks for {:?}", reg.iss, st.iss),
            ));
        }
        // Replay the organisation's registration and the key history the bundle holds up to the
        // entry with the ledger rules (docs/FORMAT.md section 7), to find the keys that spoke
        // for it when the entry was logged.
        let mut registry = MemRegistry::default();
        replay_one(
            &mut registry,
            origin,
            catalogue,
            reg_e.index,
            reg_e.logged_at,
            reg_e.version,
            &reg,
            |p| entry_err("registration", p),
        )?;
        let mut last = self.registration.leaf_index;
        let mut later = Vec::new();
        for (k, h) in self.key_history.iter().enumerate() {
            if h.leaf_index <= last {
                return Err(item_err(
                    k,
                    h,
                    "out of order: items follow the registration in strictly increasing index order",
                ));
            }
            last = h.leaf_index;
            let (he, hs) = check_included("key_history", Some(k), h, &cp)?;
            if hs.iss != st.iss {
                return Err(item_err(
                    k,
                    h,
                    format!("is an entry of {:?}, not of {:?}", hs.iss, st.iss),
                ));
            }
            if !matches!(hs.kind(), Kind::Rotation | Kind::Revocation | Kind::Recovery) {
                return Err(item_err(
                    k,
                    h,
                    format!("is of kind {}, not a rotation, revocation or recovery", hs.kind()),
                ));
            }
            if h.leaf_index == self.entry.leaf_index && h.entry != self.entry.entry {
                return Err(item_err(k, h, "differs from the entry at the same index"));
            }
            if h.leaf_index < self.entry.leaf_index {
                replay_one(
                    &mut registry,
                    origin,
                    catalogue,
                    he.index,
                    he.logged_at,
                    he.version,
                    &hs,
                    |p| item_err(k, h, p),
                )?;
            } else {
                // At or after the entry: checked above, not replayed (section 8).
                later.push((he, hs));
            }
        }
        let org_err = |e: crate::verdict::VerifyError| entry_err("entry", e.to_string());
        let valid = match &st.payload.body {
            // A recovery is signed by the committed recovery key, not by a current key; a
            // recovery key works once.
            Body::Recovery(rc) => {
                let kid = rc.recovery_key.kid();
                rc.recovery_key == key
                    && registry.org(&st.iss).map_err(org_err)?.and_then(|o| o.recovery) == Some(kid)
                    && registry.used_recovery(&kid).map_err(org_err)?.is_none()
            }
            Body::Registration(_) => self.registration.leaf_index == self.entry.leaf_index,
            _ => registry.key(&key.kid()).map_err(org_err)?.is_some_and(|rec| {
                rec.org == st.iss && rec.ended.is_none() && rec.public_key == key.to_bytes()
            }),
        };
        if !valid {
            return Err(entry_err(
                "entry",
                format!(
                    "according to the {} key-history entries in the bundle, its key did not speak for {:?} when it was logged",
                    self.key_history.len(),
                    st.iss
                ),
            ));
        }
        if let Body::Attestation(a) = &st.payload.body {
            if a.catalogue != catalogue.version {
                return Err(entry_err(
                    "entry",
                    format!("unknown norms catalogue version {}", a.catalogue),
                ));
            }
            for n in &a.norms {
                match catalogue.get(n.id.as_str()) {
                    Some(c) if c.text_hash() == n.text_hash => {}
                    _ => {
                        return Err(entry_err(
                            "entry",
                            format!("norm {} is not the catalogue's", n.id),
                        ))
                    }
                }
            }
        }
        // The key changes at and after the entry are not replayed with the rules, but their
        // effects on the organisation's keys are recorded, so that a later recovery's
        // compromise mark covers exactly the keys section 7 says it does.
        for (he, hs) in &later {
            rules::apply(&mut registry, he.index, he.logged_at, hs)
                .map_err(|e| entry_err("key_history", e.to_string()))?;
        }
        // A registration is never made untrusted (FORMAT.md section 7).
        let registration = matches!(st.payload.body, Body::Registration(_));
        let untrusted_by = registry
            .marks()
            .iter()
            .filter(|m| !registration && m.covers(&st.iss, &st.kid, e.index, e.logged_at))
            .min_by_key(|m| m.index)
            .map(|m| UntrustedBy {
                recovery_index: m.index,
                compromised_since: m.since,
            });
        let consistent_from = match &self.consistency {
            Some(c) => {
                let old = SignedCheckpoint::open(&c.from_checkpoint, vkey)?;
                proof::verify_consistency(
                    old.checkpoint.size,
                    cp.checkpoint.size,
                    &old.checkpoint.root,
                    &cp.checkpoint.root,
                    &c.path,
                )
                .map_err(|source| BundleError::Proof {
                    what: "consistency proof",
                    source,
                })?;
                Some(old)
            }
            None => None,
        };
        Ok(BundleReport {
            checkpoint: cp,
            index: self.entry.leaf_index,
            logged_at: e.logged_at,
            statement: st,
            registration_index: self.registration.leaf_index,
            key_history_len: self.key_history.len(),
            consistent_from,
            untrusted_by,
        })
    }

    /// The C2SP tlog-proof form (`c2sp.org/tlog-proof@v1`) of this bundle's inclusion proof,
    /// with the entry bytes in its `extra` line (see [`crate::tlog_proof`]).
    pub fn to_tlog_proof(&self) -> crate::tlog_proof::TlogProof {
        crate::tlog_proof::TlogProof {
            extra: Some(self.entry.entry.clone()),
            index: self.entry.leaf_index,
            path: self.entry.path.clone(),
            checkpoint: self.checkpoint.clone(),
        }
    }
}

impl ConsistencyProof {
    /// Verifies both checkpoints and the path between them.
    ///
    /// # Errors
    /// [`BundleError`]; an inconsistent pair is `BundleError::Proof` (fork evidence).
    pub fn verify(&self, vkey: &VerifierKey) -> Result<(SignedCheckpoint, SignedCheckpoint), BundleError> {
        let old = SignedCheckpoint::open(&self.old, vkey)?;
        let new = SignedCheckpoint::open(&self.new, vkey)?;
        if old.checkpoint.size == 0 || old.checkpoint.size > new.checkpoint.size {
            return Err(BundleError::Format(format!(
                "cannot prove consistency from size {} to {}",
                old.checkpoint.size, new.checkpoint.size
            )));
        }
        proof::verify_consistency(
            old.checkpoint.size,
            new.checkpoint.size,
            &old.checkpoint.root,
            &new.checkpoint.root,
            &self.path,
        )
        .map_err(|source| BundleError::Proof {
            what: "consistency proof",
            source,
        })?;
        Ok((old, new))
    }
}
