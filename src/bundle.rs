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
use crate::statement::{Body, Statement};

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

fn hashes_from(v: Vec<Value>, field: &str) -> Result<Vec<Hash>, BundleError> {
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
        let v = codec::decode(bytes, MAX_PROOF_FILE)?;
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

    /// Reads a proof file in CBOR or JSON (JSON starts with `{`).
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
}

fn check_included(
    what: &'static str,
    inc: &Included,
    cp: &SignedCheckpoint,
) -> Result<(Entry, Statement), BundleError> {
    let e = Entry::decode(&inc.entry).map_err(|e| entry_err(what, e.to_string()))?;
    if e.index != inc.leaf_index {
        return Err(entry_err(
            what,
            format!("entry says index {}, bundle says {}", e.index, inc.leaf_index),
        ));
    }
    proof::verify_inclusion(
        inc.leaf_index,
        cp.checkpoint.size,
        &proof::leaf_hash(&inc.entry),
        &inc.path,
        &cp.checkpoint.root,
    )
    .map_err(|source| BundleError::Proof {
        what: if what == "entry" {
            "inclusion proof"
        } else {
            "registration or key-history inclusion proof"
        },
        source,
    })?;
    let st = Statement::decode(&e.statement).map_err(|e| entry_err(what, format!("statement: {e}")))?;
    if st.payload.origin != cp.checkpoint.origin.as_str() {
        return Err(entry_err(what, "statement is for another ledger"));
    }
    Ok((e, st))
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
        let (e, st) = check_included("entry", &self.entry, &cp)?;
        let key = PublicKey::from_bytes(&self.signatory_key)
            .map_err(|e| entry_err("signatory_key", e.to_string()))?;
        st.verify_signature(&key)
            .map_err(|e| entry_err("entry", e.to_string()))?;
        let (_, reg) = check_included("registration", &self.registration, &cp)?;
        if self.registration.leaf_index > self.entry.leaf_index {
            return Err(entry_err(
                "registration",
                "comes after the entry it should authorise",
            ));
        }
        let Body::Registration(r) = &reg.payload.body else {
            return Err(entry_err("registration", "is not a registration"));
        };
        if reg.iss != st.iss {
            return Err(entry_err(
                "registration",
                format!("registers {:?}, but the entry speaks for {:?}", reg.iss, st.iss),
            ));
        }
        reg.verify_signature(&r.public_key)
            .map_err(|e| entry_err("registration", e.to_string()))?;
        // Replay the organisation's key history the bundle holds, up to the entry, to find the
        // keys that spoke for it when the entry was logged (docs/FORMAT.md section 7 rules).
        let mut keys: Vec<([u8; 32], PublicKey, bool)> = vec![(r.public_key.kid(), r.public_key, true)];
        let mut commitment = r.recovery;
        let mut last = self.registration.leaf_index;
        for h in &self.key_history {
            if h.leaf_index <= last {
                return Err(entry_err(
                    "key_history",
                    "entries must follow the registration in index order",
                ));
            }
            last = h.leaf_index;
            let (_, hs) = check_included("key_history", h, &cp)?;
            if hs.iss != st.iss {
                return Err(entry_err("key_history", "holds another organisation's entry"));
            }
            if h.leaf_index >= self.entry.leaf_index {
                continue; // checked for inclusion, but logged at or after the entry
            }
            let current = |kid: &[u8; 32]| keys.iter().find(|(k, _, live)| k == kid && *live).map(|x| x.1);
            match &hs.payload.body {
                Body::Rotation(rot) => {
                    let old = current(&hs.kid).ok_or_else(|| {
                        entry_err("key_history", "a rotation by a key that was not current")
                    })?;
                    hs.verify_signature(&old)
                        .map_err(|e| entry_err("key_history", e.to_string()))?;
                    let new = *rot
                        .new_key()
                        .ok_or_else(|| entry_err("key_history", "malformed rotation"))?;
                    for k in keys.iter_mut().filter(|k| k.0 == hs.kid) {
                        k.2 = false;
                    }
                    keys.push((new.kid(), new, true));
                }
                Body::Revocation(rv) => {
                    let by = current(&hs.kid).ok_or_else(|| {
                        entry_err("key_history", "a revocation by a key that was not current")
                    })?;
                    hs.verify_signature(&by)
                        .map_err(|e| entry_err("key_history", e.to_string()))?;
                    for k in keys.iter_mut().filter(|k| k.0 == rv.target) {
                        k.2 = false;
                    }
                }
                Body::Recovery(rc) => {
                    if commitment != Some(rc.recovery_key.kid()) {
                        return Err(entry_err(
                            "key_history",
                            "a recovery by a key that was not committed",
                        ));
                    }
                    hs.verify_signature(&rc.recovery_key)
                        .map_err(|e| entry_err("key_history", e.to_string()))?;
                    for k in keys.iter_mut() {
                        k.2 = false;
                    }
                    keys.push((rc.new_key.kid(), rc.new_key, true));
                    commitment = Some(rc.next_recovery);
                }
                _ => {
                    return Err(entry_err(
                        "key_history",
                        "holds an entry that is not a key change",
                    ))
                }
            }
        }
        let valid = match &st.payload.body {
            // A recovery is signed by the committed recovery key, not by a current key.
            Body::Recovery(rc) => commitment == Some(rc.recovery_key.kid()) && rc.recovery_key == key,
            Body::Registration(_) => self.registration.leaf_index == self.entry.leaf_index,
            _ => keys
                .iter()
                .any(|(k, pk, live)| *live && *k == key.kid() && *pk == key),
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
        })
    }

    /// The C2SP tlog-proof text (`c2sp.org/tlog-proof@v1`): index, inclusion path and
    /// checkpoint. It leaves out the entry bytes and the registration.
    pub fn to_tlog_proof(&self) -> String {
        let mut s = format!("c2sp.org/tlog-proof@v1\nindex {}\n", self.entry.leaf_index);
        for h in &self.entry.path {
            s.push_str(&STANDARD.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&String::from_utf8_lossy(&self.checkpoint));
        s
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
