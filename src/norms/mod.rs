//! The norms catalogue: data compiled into the binary from `schemas/norms-v1.json`
//! (DESIGN decision 12), described by `schemas/norms.schema.json`.
//!
//! Each canonical norm is a sentence a company attests about its own conduct, named by a stable
//! kebab-case id and mapped to the published framework items it derives from. An attestation
//! signs the catalogue version and the SHA-256 of each norm's text ([`Norm::text_hash`]), so
//! what was pledged stays unambiguous when the catalogue grows. Norms are never renamed or
//! removed, only deprecated ([`Catalogue::check_successor`] checks that between versions).
//!
//! [`Catalogue::parse`] is strict: unknown fields, duplicate ids, dangling references and
//! malformed text are refused, each with an error that names the norm, framework or field.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use unicode_normalization::is_nfc;

mod types;
pub use types::{Binds, Framework, FrameworkItem, Norm, NormId, Verification};

/// The embedded catalogue source, version 1.
pub const CATALOGUE_V1_JSON: &str = include_str!("../../schemas/norms-v1.json");
/// The value of a catalogue's `catalogue` field.
pub const CATALOGUE_NAME: &str = "accord-norms";
/// Longest norm, framework or item id, in bytes (DESIGN decision 11: every input is bounded).
pub const MAX_NORM_ID_LEN: usize = 64;
/// Largest catalogue source accepted by [`Catalogue::parse`]: 1 MiB, far above any real
/// catalogue (version 1 is about 15 KiB), so that a hostile file is refused before parsing.
pub const MAX_CATALOGUE_LEN: usize = 1 << 20;
/// Longest norm title, in characters (as `maxLength` in the JSON Schema).
pub const MAX_TITLE_LEN: usize = 120;
/// Longest norm text, in characters (as `maxLength` in the JSON Schema).
pub const MAX_TEXT_LEN: usize = 1000;
/// Longest framework title, in characters.
pub const MAX_FRAMEWORK_TITLE_LEN: usize = 200;
/// Longest framework note or item summary, in characters.
pub const MAX_SUMMARY_LEN: usize = 500;
/// Largest edit distance at which [`Catalogue::resolve`] still suggests a norm.
const MAX_SUGGESTION_DISTANCE: usize = 3;

/// Errors of the norms catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormsError {
    /// Not a well-formed norm id.
    #[error(
        "invalid norm id {id:?}: {reason} (a norm id is lower-case ASCII letters and digits \
         in words joined by single '-', at most 64 bytes)"
    )]
    InvalidId {
        /// The id as given, cut to its first 64 characters.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A well-formed id that the catalogue does not hold.
    #[error(
        "unknown norm {id:?}{}",
        suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default()
    )]
    UnknownNorm {
        /// The id.
        id: String,
        /// The closest id in the catalogue, if one is close enough.
        suggestion: Option<String>,
    },
    /// The catalogue source is larger than [`MAX_CATALOGUE_LEN`].
    #[error("catalogue: {len} bytes is larger than the limit of {max} bytes")]
    TooLarge {
        /// Size of the source.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The catalogue is not valid JSON of the expected shape (this includes unknown and
    /// missing fields, and wrong types).
    #[error("catalogue: {0}")]
    Json(String),
    /// The `catalogue` field is not [`CATALOGUE_NAME`].
    #[error("catalogue: field \"catalogue\" is {0:?}, expected \"accord-norms\"")]
    NotACatalogue(String),
    /// The `version` field is 0.
    #[error("catalogue: version {0} is not supported (versions start at 1)")]
    BadVersion(u64),
    /// The catalogue holds no norms.
    #[error("catalogue: it holds no norms")]
    NoNorms,
    /// A norm id used twice.
    #[error("catalogue: duplicate norm id {0:?}")]
    DuplicateId(String),
    /// A framework id used twice.
    #[error("catalogue: duplicate framework id {0:?}")]
    DuplicateFramework(String),
    /// An item id used twice within one framework.
    #[error("catalogue: framework {framework:?} lists item {item:?} twice")]
    DuplicateItem {
        /// The framework.
        framework: String,
        /// The item.
        item: String,
    },
    /// A reference listed twice in one norm's `maps_to` or `state_mirror`.
    #[error("catalogue: norm {norm:?} lists {reference:?} twice")]
    DuplicateReference {
        /// The norm.
        norm: String,
        /// The reference.
        reference: String,
    },
    /// A `maps_to` or `state_mirror` reference that names no framework item of the catalogue.
    #[error("catalogue: norm {norm:?} refers to {reference:?}, which is not an item of any framework in the catalogue")]
    UnknownReference {
        /// The norm.
        norm: String,
        /// The reference (cut to 130 characters).
        reference: String,
    },
    /// A field whose value breaks a rule of the catalogue format.
    #[error("catalogue: {location}: field {field:?} {reason}")]
    InvalidField {
        /// Where: `norm "id"`, `framework "id"` or `framework "id" item "id"`.
        location: String,
        /// The field's name.
        field: &'static str,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// [`Catalogue::check_successor`]: the later catalogue's version is not greater.
    #[error("catalogue version {next} does not follow version {current}")]
    NotNewer {
        /// Version of the current catalogue.
        current: u64,
        /// Version of the proposed successor.
        next: u64,
    },
    /// [`Catalogue::check_successor`]: a norm of the current catalogue is missing from the later
    /// one (norms are never removed or renamed, only deprecated).
    #[error("catalogue version {next} drops norm {id:?} (norms are deprecated, never removed)")]
    RemovedNorm {
        /// The missing norm.
        id: String,
        /// Version of the proposed successor.
        next: u64,
    },
}

/// Cuts `s` to its first `max` characters, without scanning the rest.
fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Checks a kebab-case id: `^[a-z0-9]+(<sep>[a-z0-9]+)*$`, 1..=[`MAX_NORM_ID_LEN`] bytes, where
/// `<sep>` is one of `seps`. The length is checked first, so a huge input costs nothing.
fn check_id(s: &str, seps: &[u8]) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty");
    }
    if s.len() > MAX_NORM_ID_LEN {
        return Err("it is longer than 64 bytes");
    }
    let b = s.as_bytes();
    if let Some(c) = b
        .iter()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || seps.contains(c)))
    {
        return Err(if c.is_ascii_uppercase() {
            "it contains an upper-case letter"
        } else if seps.contains(&b'.') {
            "it contains a character other than a-z, 0-9, '-' and '.'"
        } else {
            "it contains a character other than a-z, 0-9 and '-'"
        });
    }
    let is_sep = |c: &u8| seps.contains(c);
    if b.first().is_some_and(is_sep)
        || b.last().is_some_and(is_sep)
        || b.windows(2).any(|w| w.iter().all(is_sep))
    {
        return Err("a separator must join two words (none leading, trailing or doubled)");
    }
    Ok(())
}

/// The catalogue as written in JSON, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    /// Editors' pointer to the JSON Schema; ignored.
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    catalogue: String,
    version: u64,
    norms: Vec<RawNorm>,
    frameworks: Vec<Framework>,
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

/// Whether `c` counts as white space at the ends of a text (Unicode White_Space, plus the
/// byte-order mark, which the JSON Schema's `\s` also matches).
fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// Checks a human-readable field: non-empty, at most `max` characters, no control characters,
/// no white space at either end.
fn check_text(s: &str, max: usize) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if s.chars().count() > max {
        return Err("is too long");
    }
    if s.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    if s.starts_with(is_space) || s.ends_with(is_space) {
        return Err("begins or ends with white space");
    }
    Ok(())
}

/// Checks `YYYY-MM` with a month from 01 to 12.
fn check_month(s: &str) -> Result<(), &'static str> {
    let ok = match *s.as_bytes() {
        [y1, y2, y3, y4, b'-', m1, m2] => {
            [y1, y2, y3, y4, m1, m2].iter().all(u8::is_ascii_digit)
                && (1..=12).contains(&((m1 - b'0') * 10 + (m2 - b'0')))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err("is not a year and month YYYY-MM")
    }
}

/// A validated catalogue of norms and the frameworks they map to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    /// Catalogue version (signed in every attestation).
    pub version: u64,
    norms: Vec<Norm>,
    frameworks: Vec<Framework>,
    /// Position of each norm in `norms`.
    index: BTreeMap<NormId, usize>,
    /// [`Norm::text_hash`] of each norm, in the order of `norms`: replay compares one for
    /// every norm an attestation names.
    text_hashes: Vec<[u8; 32]>,
}

impl Catalogue {
    /// Seed norms of the mission: no backdoors, no aid to attacks, patch everyone. They are
    /// the first three norms of the catalogue.
    pub const SEED: [&'static str; 3] = ["no-backdoors", "no-offensive-aid", "patch-all-customers"];

    /// Parses and validates a catalogue.
    ///
    /// Refuses a source over [`MAX_CATALOGUE_LEN`] bytes, unknown or missing fields, another
    /// `catalogue` name, version 0, an empty norm list, invalid or duplicate ids, references
    /// (`maps_to`, `state_mirror`) that name no framework item or repeat, and text fields that
    /// are empty, too long, padded with white space or hold control characters. A norm's text
    /// must be in Unicode NFC, so that one sentence has one hash.
    ///
    /// # Errors
    /// [`NormsError::TooLarge`], [`NormsError::Json`], [`NormsError::NotACatalogue`],
    /// [`NormsError::BadVersion`], [`NormsError::NoNorms`], [`NormsError::InvalidId`],
    /// [`NormsError::DuplicateId`], [`NormsError::DuplicateFramework`],
    /// [`NormsError::DuplicateItem`], [`NormsError::DuplicateReference`],
    /// [`NormsError::UnknownReference`], [`NormsError::InvalidField`].
    pub fn parse(json: &str) -> Result<Catalogue, NormsError> {
        if json.len() > MAX_CATALOGUE_LEN {
            return Err(NormsError::TooLarge {
                len: json.len(),
                max: MAX_CATALOGUE_LEN,
            });
        }
        let raw: RawCatalogue = serde_json::from_str(json).map_err(|e| NormsError::Json(e.to_string()))?;
        if raw.catalogue != CATALOGUE_NAME {
            return Err(NormsError::NotACatalogue(clip(&raw.catalogue, MAX_NORM_ID_LEN)));
        }
        if raw.version == 0 {
            return Err(NormsError::BadVersion(raw.version));
        }
        if raw.norms.is_empty() {
            return Err(NormsError::NoNorms);
        }

        // Frameworks first, so that norms can be checked against them.
        let mut items_of: HashMap<&str, HashSet<&str>> = HashMap::new();
        for f in &raw.frameworks {
            let at = || format!("framework {:?}", clip(&f.id, MAX_NORM_ID_LEN));
            let bad = |field, reason| NormsError::InvalidField {
                location: at(),
                field,
                reason,
            };
            check_id(&f.id, b"-").map_err(|r| bad("id", r))?;
            check_text(&f.title, MAX_FRAMEWORK_TITLE_LEN).map_err(|r| bad("title", r))?;
            check_month(&f.published).map_err(|r| bad("published", r))?;
            if let Some(note) = &f.note {
                check_text(note, MAX_SUMMARY_LEN).map_err(|r| bad("note", r))?;
            }
            if f.items.is_empty() {
                return Err(bad("items", "is empty"));
            }
            let mut items = HashSet::new();
            for i in &f.items {
                let bad_item = |field, reason| NormsError::InvalidField {
                    location: format!("{} item {:?}", at(), clip(&i.id, MAX_NORM_ID_LEN)),
                    field,
                    reason,
                };
                check_id(&i.id, b"-.").map_err(|r| bad_item("id", r))?;
                check_text(&i.summary, MAX_SUMMARY_LEN).map_err(|r| bad_item("summary", r))?;
                if !items.insert(i.id.as_str()) {
                    return Err(NormsError::DuplicateItem {
                        framework: f.id.clone(),
                        item: i.id.clone(),
                    });
                }
            }
            if items_of.insert(f.id.as_str(), items).is_some() {
                return Err(NormsError::DuplicateFramework(f.id.clone()));
            }
        }
        let resolves = |r: &str| {
            r.split_once(':')
                .and_then(|(f, i)| items_of.get(f).map(|items| items.contains(i)))
                .unwrap_or(false)
        };

        let mut norms = Vec::with_capacity(raw.norms.len());
        let mut index = BTreeMap::new();
        for n in raw.norms {
            let id = NormId::new(&n.id)?;
            let bad = |field, reason| NormsError::InvalidField {
                location: format!("norm {:?}", n.id),
                field,
                reason,
            };
            check_text(&n.title, MAX_TITLE_LEN).map_err(|r| bad("title", r))?;
            check_text(&n.text, MAX_TEXT_LEN).map_err(|r| bad("text", r))?;
            if !is_nfc(&n.text) {
                return Err(bad("text", "is not in Unicode NFC"));
            }
            for list in [&n.maps_to, &n.state_mirror] {
                let mut seen = HashSet::new();
                for r in list {
                    if !resolves(r) {
                        return Err(NormsError::UnknownReference {
                            norm: n.id.clone(),
                            reference: clip(r, 130),
                        });
                    }
                    if !seen.insert(r.as_str()) {
                        return Err(NormsError::DuplicateReference {
                            norm: n.id.clone(),
                            reference: r.clone(),
                        });
                    }
                }
            }
            if index.insert(id.clone(), norms.len()).is_some() {
                return Err(NormsError::DuplicateId(n.id));
            }
            norms.push(Norm {
                id,
                title: n.title,
                text: n.text,
                maps_to: n.maps_to,
                state_mirror: n.state_mirror,
                deprecated: n.deprecated,
            });
        }
        Ok(Catalogue {
            version: raw.version,
            text_hashes: norms.iter().map(Norm::text_hash).collect(),
            norms,
            frameworks: raw.frameworks,
            index,
        })
    }

    /// The catalogue compiled into the binary ([`CATALOGUE_V1_JSON`]), parsed once.
    pub fn embedded() -> &'static Catalogue {
        static EMBEDDED: OnceLock<Catalogue> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            // The embedded source is a compile-time constant, validated by the unit test
            // `embedded_catalogue_is_valid`; a build that passes its tests cannot fail here.
            Catalogue::parse(CATALOGUE_V1_JSON).expect("the embedded norms catalogue is valid")
        })
    }

    /// A norm by id.
    pub fn get(&self, id: &str) -> Option<&Norm> {
        self.index.get(id).and_then(|&i| self.norms.get(i))
    }

    /// The norm `id` and its [`Norm::text_hash`], computed once when the catalogue was read.
    pub fn get_with_hash(&self, id: &str) -> Option<(&Norm, [u8; 32])> {
        let &i = self.index.get(id)?;
        Some((self.norms.get(i)?, *self.text_hashes.get(i)?))
    }

    /// Resolves a user-supplied id. Deprecated norms resolve too; callers that offer norms
    /// for new attestations check [`Norm::deprecated`].
    ///
    /// # Errors
    /// [`NormsError::InvalidId`] if `id` is not a well-formed norm id;
    /// [`NormsError::UnknownNorm`] if the catalogue does not hold it, with the closest
    /// non-deprecated id as `suggestion` (by edit distance, up to 3 edits, or an id that
    /// contains `id` or is contained in it) for a "did you mean" hint.
    pub fn resolve(&self, id: &str) -> Result<&Norm, NormsError> {
        let nid = NormId::new(id)?;
        self.get(nid.as_str()).ok_or_else(|| NormsError::UnknownNorm {
            suggestion: self.suggest(nid.as_str()).map(str::to_owned),
            id: nid.0,
        })
    }

    /// The closest non-deprecated id to a well-formed, unknown `id` (at most 64 bytes, so the
    /// edit distance costs at most 64 × 64 steps per norm). Ties go to the earlier norm.
    fn suggest(&self, id: &str) -> Option<&str> {
        self.norms
            .iter()
            .filter(|n| !n.deprecated)
            .map(|n| n.id.as_str())
            .map(|known| (edit_distance(id.as_bytes(), known.as_bytes()), known))
            .filter(|&(d, known)| {
                d <= MAX_SUGGESTION_DISTANCE || (id.len() >= 4 && (known.contains(id) || id.contains(known)))
            })
            .min_by_key(|&(d, _)| d)
            .map(|(_, known)| known)
    }

    /// All norms, in catalogue order (the [`Catalogue::SEED`] norms first).
    pub fn norms(&self) -> &[Norm] {
        &self.norms
    }

    /// All source frameworks, in catalogue order.
    pub fn frameworks(&self) -> &[Framework] {
        &self.frameworks
    }

    /// A framework by id.
    pub fn framework(&self, id: &str) -> Option<&Framework> {
        self.frameworks.iter().find(|f| f.id == id)
    }

    /// The framework and item a `framework:item` reference (from [`Norm::maps_to`] or
    /// [`Norm::state_mirror`]) names.
    pub fn reference(&self, reference: &str) -> Option<(&Framework, &FrameworkItem)> {
        let (f, i) = reference.split_once(':')?;
        let f = self.framework(f)?;
        Some((f, f.item(i)?))
    }

    /// Checks that `next` may follow this catalogue: its version is greater and it still holds
    /// every norm of this one (norms are never renamed or removed, only deprecated).
    ///
    /// # Errors
    /// [`NormsError::NotNewer`], [`NormsError::RemovedNorm`] (the first missing norm).
    pub fn check_successor(&self, next: &Catalogue) -> Result<(), NormsError> {
        if next.version <= self.version {
            return Err(NormsError::NotNewer {
                current: self.version,
                next: next.version,
            });
        }
        match self.norms.iter().find(|n| next.get(n.id.as_str()).is_none()) {
            Some(n) => Err(NormsError::RemovedNorm {
                id: n.id.to_string(),
                next: next.version,
            }),
            None => Ok(()),
        }
    }
}

/// Levenshtein distance between two byte strings (ids are ASCII), in O(|a|·|b|) time and
/// O(|b|) space.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        // `diag` is the previous row's value at column j, `left` the current row's at j.
        let mut diag = i;
        let mut left = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let up = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let cost = diag + usize::from(ca != cb);
            let value = cost.min(up.saturating_add(1)).min(left + 1);
            diag = up;
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = value;
            }
            left = value;
        }
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
    }
    row.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests;
