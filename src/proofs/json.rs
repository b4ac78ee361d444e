//! The JSON form of proof files (`prove --json`; docs/FORMAT.md sections 8 and 9).

use super::*;

impl ProofFile {
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
