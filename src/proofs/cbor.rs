//! The CBOR form of proof files (docs/FORMAT.md sections 8 and 9).

use super::*;
use crate::codec::{self, MapReader, Value};

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
}
