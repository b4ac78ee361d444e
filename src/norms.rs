//! The norms catalogue: data compiled into the binary from `schemas/norms-v1.json`
//! (DESIGN decision 12). An attestation signs the catalogue version and the SHA-256 of each
//! norm's text, so what was pledged stays unambiguous when the catalogue grows. Norms are never
//! renamed or removed, only deprecated.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The embedded catalogue, version 1.
pub const CATALOGUE_V1_JSON: &str = include_str!("../schemas/norms-v1.json");
/// Longest norm id.
pub const MAX_NORM_ID_LEN: usize = 64;

/// Catalogue errors.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NormsError {
    /// Not a well-formed norm id.
    #[error("invalid norm id {id:?}: use lower-case words joined by '-', at most 64 characters")]
    InvalidId {
        /// The id (cut to 64 characters).
        id: String,
    },
    /// Not in the catalogue.
    #[error("unknown norm {id:?}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownNorm {
        /// The id.
        id: String,
        /// The closest known id.
        suggestion: Option<String>,
    },
    /// The catalogue JSON is invalid.
    #[error("catalogue: {0}")]
    Json(String),
    /// A norm id used twice.
    #[error("catalogue: duplicate norm id {0:?}")]
    DuplicateId(String),
    /// A mapping to a framework item that does not exist.
    #[error("catalogue: norm {norm:?} maps to unknown {reference:?}")]
    UnknownReference {
        /// The norm.
        norm: String,
        /// The reference.
        reference: String,
    },
}

/// A validated norm id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NormId(String);

impl NormId {
    /// Validates `s` (length first, so a huge input is refused without scanning it).
    ///
    /// # Errors
    /// [`NormsError::InvalidId`].
    pub fn new(s: &str) -> Result<Self, NormsError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_NORM_ID_LEN
            && s.split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if ok {
            Ok(NormId(s.to_string()))
        } else {
            Err(NormsError::InvalidId {
                id: s.chars().take(MAX_NORM_ID_LEN).collect(),
            })
        }
    }
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for NormId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A norm a company can attest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Norm {
    /// Stable id.
    pub id: NormId,
    /// Short title.
    pub title: String,
    /// What the signatory attests.
    pub text: String,
    /// Source norms it derives from (`framework:item`).
    pub maps_to: Vec<String>,
    /// Deprecated norms stay attestable for history but are not offered.
    pub deprecated: bool,
}

impl Norm {
    /// SHA-256 of the UTF-8 bytes of `text`, exactly as stored.
    pub fn text_hash(&self) -> [u8; 32] {
        Sha256::digest(self.text.as_bytes()).into()
    }
}

/// A source framework (reference record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framework {
    /// Id such as `tca2018`.
    pub id: String,
    /// Title.
    pub title: String,
    /// `YYYY-MM`.
    pub published: String,
    /// Whether companies can attest it directly (false where it binds states).
    pub attestable: bool,
    /// `primary` or `secondary` (known from summaries only).
    pub verified: String,
    /// (item id, summary).
    pub items: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    catalogue: String,
    version: u64,
    norms: Vec<RawNorm>,
    frameworks: Vec<RawFramework>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNorm {
    id: String,
    title: String,
    text: String,
    maps_to: Vec<String>,
    #[serde(default)]
    state_mirror: Vec<String>,
    deprecated: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFramework {
    id: String,
    title: String,
    published: String,
    #[allow(dead_code)]
    binds: String,
    attestable: bool,
    verified: String,
    items: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: String,
    summary: String,
}

/// A validated catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// Catalogue version.
    pub version: u64,
    norms: Vec<Norm>,
    frameworks: Vec<Framework>,
}

impl Catalogue {
    /// The seed pledges of the mission.
    pub const SEED: [&'static str; 3] = ["no-backdoors", "no-offensive-aid", "patch-all-customers"];

    /// Parses and validates a catalogue.
    ///
    /// # Errors
    /// [`NormsError`].
    pub fn parse(json: &str) -> Result<Catalogue, NormsError> {
        let raw: RawCatalogue = serde_json::from_str(json).map_err(|e| NormsError::Json(e.to_string()))?;
        if raw.catalogue != "accord-norms" || raw.version == 0 || raw.norms.is_empty() {
            return Err(NormsError::Json(
                "not an accord-norms catalogue of version >= 1 with norms".into(),
            ));
        }
        let mut refs = HashSet::new();
        let frameworks: Vec<Framework> = raw
            .frameworks
            .into_iter()
            .map(|f| {
                for i in &f.items {
                    refs.insert(format!("{}:{}", f.id, i.id));
                }
                Framework {
                    id: f.id,
                    title: f.title,
                    published: f.published,
                    attestable: f.attestable,
                    verified: f.verified,
                    items: f.items.into_iter().map(|i| (i.id, i.summary)).collect(),
                }
            })
            .collect();
        let mut seen = HashSet::new();
        let mut norms = Vec::new();
        for n in raw.norms {
            let id = NormId::new(&n.id)?;
            if !seen.insert(n.id.clone()) {
                return Err(NormsError::DuplicateId(n.id));
            }
            for r in n.maps_to.iter().chain(&n.state_mirror) {
                if !refs.contains(r) {
                    return Err(NormsError::UnknownReference {
                        norm: n.id.clone(),
                        reference: r.clone(),
                    });
                }
            }
            if n.text.is_empty() || n.title.is_empty() {
                return Err(NormsError::Json(format!(
                    "norm {:?} has an empty title or text",
                    n.id
                )));
            }
            norms.push(Norm {
                id,
                title: n.title,
                text: n.text,
                maps_to: n.maps_to,
                deprecated: n.deprecated,
            });
        }
        Ok(Catalogue {
            version: raw.version,
            norms,
            frameworks,
        })
    }

    /// The catalogue compiled into the binary.
    pub fn embedded() -> &'static Catalogue {
        static CAT: OnceLock<Catalogue> = OnceLock::new();
        // The embedded JSON is validated by the unit test `embedded_catalogue_is_valid`, so
        // this cannot fail in a tested build.
        CAT.get_or_init(|| Catalogue::parse(CATALOGUE_V1_JSON).expect("embedded catalogue is valid"))
    }

    /// A norm by id.
    pub fn get(&self, id: &str) -> Option<&Norm> {
        self.norms.iter().find(|n| n.id.as_str() == id)
    }

    /// Resolves a user-supplied id, suggesting the closest known one when unknown.
    ///
    /// # Errors
    /// [`NormsError::InvalidId`], [`NormsError::UnknownNorm`].
    pub fn resolve(&self, id: &str) -> Result<&Norm, NormsError> {
        let nid = NormId::new(id)?;
        self.get(nid.as_str()).ok_or_else(|| {
            let suggestion = self
                .norms
                .iter()
                .map(|n| (edit_distance(id, n.id.as_str()), n.id.as_str()))
                .min()
                .filter(|(d, _)| *d <= 3)
                .map(|(_, s)| s.to_string());
            NormsError::UnknownNorm {
                id: id.to_string(),
                suggestion,
            }
        })
    }

    /// All norms, in catalogue order.
    pub fn norms(&self) -> &[Norm] {
        &self.norms
    }

    /// All source frameworks.
    pub fn frameworks(&self) -> &[Framework] {
        &self.frameworks
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogue_is_valid() {
        let c = Catalogue::parse(CATALOGUE_V1_JSON).unwrap();
        assert_eq!(c.version, 1);
        assert_eq!(c.norms().len(), 14);
        let first: Vec<&str> = c.norms()[..3].iter().map(|n| n.id.as_str()).collect();
        assert_eq!(first, Catalogue::SEED);
        let hashes: HashSet<[u8; 32]> = c.norms().iter().map(Norm::text_hash).collect();
        assert_eq!(hashes.len(), 14);
        assert_eq!(c.frameworks().len(), 7);
    }

    #[test]
    fn resolve_suggests_and_refuses() {
        let c = Catalogue::embedded();
        assert_eq!(c.resolve("no-backdoors").unwrap().id.as_str(), "no-backdoors");
        assert_eq!(
            c.resolve("no-backdoor"),
            Err(NormsError::UnknownNorm {
                id: "no-backdoor".into(),
                suggestion: Some("no-backdoors".into())
            })
        );
        for bad in [
            "",
            "No-Backdoors",
            "no backdoors",
            "-x",
            "x-",
            "a--b",
            &"a".repeat(65),
        ] {
            assert!(
                matches!(c.resolve(bad), Err(NormsError::InvalidId { .. })),
                "{bad:?}"
            );
        }
        let huge = "a".repeat(1_000_000);
        match c.resolve(&huge) {
            Err(NormsError::InvalidId { id }) => assert_eq!(id.len(), 64),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_refuses_bad_catalogues() {
        let mut v: serde_json::Value = serde_json::from_str(CATALOGUE_V1_JSON).unwrap();
        v["norms"][0]["extra"] = serde_json::json!(1);
        assert!(matches!(
            Catalogue::parse(&v.to_string()),
            Err(NormsError::Json(_))
        ));
        let mut v: serde_json::Value = serde_json::from_str(CATALOGUE_V1_JSON).unwrap();
        v["norms"][0]["maps_to"] = serde_json::json!(["nowhere:1"]);
        assert!(matches!(
            Catalogue::parse(&v.to_string()),
            Err(NormsError::UnknownReference { .. })
        ));
        let mut v: serde_json::Value = serde_json::from_str(CATALOGUE_V1_JSON).unwrap();
        v["norms"][1]["id"] = serde_json::json!("no-backdoors");
        assert!(matches!(
            Catalogue::parse(&v.to_string()),
            Err(NormsError::DuplicateId(_))
        ));
    }
}
