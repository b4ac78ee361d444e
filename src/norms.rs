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

/// The embedded catalogue source, version 1.
pub const CATALOGUE_V1_JSON: &str = include_str!("../schemas/norms-v1.json");
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

/// A validated norm id: kebab-case ASCII, `^[a-z0-9]+(-[a-z0-9]+)*$`, 1 to
/// [`MAX_NORM_ID_LEN`] bytes. A `NormId` that exists is valid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NormId(String);

impl NormId {
    /// Validates `s` as a norm id. The length is checked before anything else, so a very long
    /// input is refused without being scanned.
    ///
    /// # Errors
    /// [`NormsError::InvalidId`], whose `id` is `s` cut to its first 64 characters.
    pub fn new(s: &str) -> Result<Self, NormsError> {
        match check_id(s, b"-") {
            Ok(()) => Ok(NormId(s.to_owned())),
            Err(reason) => Err(NormsError::InvalidId {
                id: clip(s, MAX_NORM_ID_LEN),
                reason,
            }),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NormId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NormId {
    type Err = NormsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NormId::new(s)
    }
}

impl AsRef<str> for NormId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets maps keyed by `NormId` be queried with a `&str` (`Eq`, `Ord` and `Hash` of a `NormId`
/// are those of its text, as `Borrow` requires).
impl Borrow<str> for NormId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A norm a company can attest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Norm {
    /// Stable id.
    pub id: NormId,
    /// Short title for display.
    pub title: String,
    /// The sentence the signatory attests ("The signatory ..."); its hash is signed.
    pub text: String,
    /// The framework items it derives from, as `framework:item`.
    pub maps_to: Vec<String>,
    /// Norms for states that mirror it, as `framework:item` (often empty).
    pub state_mirror: Vec<String>,
    /// A deprecated norm stays in the catalogue so that old attestations resolve, but is no
    /// longer offered.
    pub deprecated: bool,
}

impl Norm {
    /// SHA-256 of the UTF-8 bytes of `text`, exactly as stored (no trimming or normalisation).
    pub fn text_hash(&self) -> [u8; 32] {
        Sha256::digest(self.text.as_bytes()).into()
    }
}

/// Whom a framework's norms address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Binds {
    /// States only.
    States,
    /// Industry only.
    Industry,
    /// States and industry.
    Both,
}

impl Binds {
    /// The name used in the catalogue: `states`, `industry` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Binds::States => "states",
            Binds::Industry => "industry",
            Binds::Both => "both",
        }
    }
}

impl fmt::Display for Binds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How well a framework record's wording is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    /// Checked against the source document.
    Primary,
    /// Known from summaries only.
    Secondary,
}

impl Verification {
    /// The name used in the catalogue: `primary` or `secondary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::Primary => "primary",
            Verification::Secondary => "secondary",
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One norm or principle of a source framework.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameworkItem {
    /// Id within the framework, such as `ind-1`, `13i` or `1.2`.
    pub id: String,
    /// Paraphrase of the source norm.
    pub summary: String,
}

/// A source framework: a reference record that norms map to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    /// Id such as `tca2018`.
    pub id: String,
    /// Author and title.
    pub title: String,
    /// Year and month of publication, `YYYY-MM`.
    pub published: String,
    /// Whom its norms address.
    pub binds: Binds,
    /// Whether a company can meaningfully attest its norms (false where they bind states only).
    pub attestable: bool,
    /// Whether its wording is checked against the source or known from summaries.
    pub verified: Verification,
    /// A remark on scope or provenance.
    #[serde(default)]
    pub note: Option<String>,
    /// Its norms, in the source's order.
    pub items: Vec<FrameworkItem>,
}

impl Framework {
    /// An item by id.
    pub fn item(&self, id: &str) -> Option<&FrameworkItem> {
        self.items.iter().find(|i| i.id == id)
    }
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
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The catalogue source as a JSON value, to break in one place.
    fn source() -> Value {
        serde_json::from_str(CATALOGUE_V1_JSON).unwrap()
    }

    fn parse(v: &Value) -> Result<Catalogue, NormsError> {
        Catalogue::parse(&v.to_string())
    }

    /// norms.md, in order: id and `maps_to`.
    #[rustfmt::skip]
    const NORMS_MD: [(&str, &[&str]); 14] = [
        ("no-backdoors", &["ms2016:ind-1", "gcsc2019:n3", "gge2015:13i"]),
        ("no-offensive-aid", &["ms2016:ind-4", "dgc2017:no-aid", "tca2018:2.2"]),
        ("patch-all-customers", &["ms2016:ind-5", "dgc2017:protect-all", "tca2018:1.1"]),
        ("coordinated-disclosure", &["ms2016:ind-2", "tca2018:4.1", "gge2015:13j", "gcsc2019:n6"]),
        ("no-vuln-trafficking", &["ms2016:ind-3", "paris2018:p5", "gge2015:13i"]),
        ("collective-defense", &["ms2016:ind-6", "tca2018:4.1", "tca2018:4.2", "paris2018:p1"]),
        ("secure-development", &["tca2018:1.2", "gcsc2019:n6", "paris2018:p6"]),
        ("anti-tampering", &["tca2018:2.1", "gcsc2019:n3", "gge2015:13i", "paris2018:p6"]),
        ("capacity-building", &["tca2018:3.1", "tca2018:3.2", "paris2018:p7"]),
        ("attribution-support", &["dgc2017:attribution-org", "ms2016:attribution-forum", "gge2015:13b"]),
        ("no-hack-back", &["paris2018:p8", "gcsc2019:n8"]),
        ("no-botnet-commandeering", &["gcsc2019:n4"]),
        ("protect-public-core", &["gcsc2019:n1", "paris2018:p2"]),
        ("protect-elections", &["gcsc2019:n2", "paris2018:p3"]),
    ];

    /// SHA-256 of each version-1 norm text. Attestations sign these: a version-1 text must
    /// never change, so this table must never change either.
    #[rustfmt::skip]
    const V1_TEXT_SHA256: [(&str, &str); 14] = [
        ("no-backdoors", "7404cb434e9b332f03d1bdeacaba6e0e8c43dd0f53c9e84a0cb2984cfe7a95a0"),
        ("no-offensive-aid", "ee079f5f3affb9c98fb6f2ed9ae55ddc45c1c2467c7e302904fad6bb3babea6e"),
        ("patch-all-customers", "75e61e03a49719b0e37a836c63fe09263d76a38330afc6e263a6ad41eb74fcab"),
        ("coordinated-disclosure", "aa055b3f1c3be2bbe0afb4750c09323bf9a2c73523adbe995b21f0cdc7a0a40f"),
        ("no-vuln-trafficking", "b49a76ce0f20761532383050f0c19d1b934c271d95e5f9e01b588a885bef29a4"),
        ("collective-defense", "922a5facbb062d0cc480338e9bf4e444eca73af6deb86bbb57fcad85fc676202"),
        ("secure-development", "f3644f0fa0b32dca5e01aaf6c64b45d5e6e7965b84c907e58291c6430d08c0a0"),
        ("anti-tampering", "53e0e6166be106a0b7a6ae847ee565fc03d86d2ccc8847e789f75fe59cd37f21"),
        ("capacity-building", "4aacdf8a37dd2890935c21fc8950a7fc9744cf3b6ed732d240415f3bba7361b7"),
        ("attribution-support", "6704626148c3fa90081b37cf9000587a54df8c5bef55ffbbae8a30324d77c2f9"),
        ("no-hack-back", "ee71d6fed8642ee634462ebaec31c6c98d1606a47b7af8ce13edb47b55dad625"),
        ("no-botnet-commandeering", "eb1c67cbb8271037838c277e2ded9946f5d89d9806d39701208c50f096bed744"),
        ("protect-public-core", "2d124aa3eb0c7b5319a36aac5f55300a2b5213a741a4ab504e333cf9e6703dc9"),
        ("protect-elections", "3f366f73734071c5efc21b17018e9dbdf751b79483f4c19f4006645d229886b6"),
    ];

    #[test]
    fn embedded_catalogue_is_valid() {
        let c = Catalogue::parse(CATALOGUE_V1_JSON).unwrap();
        assert_eq!(c.version, 1);
        let ids: Vec<&str> = c.norms().iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, NORMS_MD.map(|(id, _)| id));
        assert_eq!(ids[..3], Catalogue::SEED);
        for (n, (id, maps_to)) in c.norms().iter().zip(NORMS_MD) {
            assert_eq!(n.maps_to, maps_to, "{id}");
            assert!(!n.deprecated, "{id}");
            assert!(
                n.text.starts_with("The signatory ") && n.text.ends_with('.'),
                "{id}: {}",
                n.text
            );
            assert!(n.text.is_ascii(), "{id}");
        }
        assert_eq!(c.get("no-backdoors").unwrap().state_mirror, ["ms2014:1"]);
        let hashes: HashSet<[u8; 32]> = c.norms().iter().map(Norm::text_hash).collect();
        assert_eq!(hashes.len(), c.norms().len());
        // The embedded catalogue is the one `embedded()` serves.
        assert_eq!(Catalogue::embedded().norms(), c.norms());
        assert!(std::ptr::eq(Catalogue::embedded(), Catalogue::embedded()));
    }

    #[test]
    fn v1_text_hashes_are_pinned() {
        let c = Catalogue::embedded();
        for (id, hash) in V1_TEXT_SHA256 {
            assert_eq!(hex::encode(c.get(id).unwrap().text_hash()), hash, "{id}");
        }
    }

    #[test]
    fn text_hash_is_sha256_of_the_stored_bytes() {
        let mut n = Catalogue::embedded().norms()[0].clone();
        n.text = "abc".into();
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            hex::encode(n.text_hash()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        n.text = "abc ".into();
        assert_ne!(
            hex::encode(n.text_hash()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn embedded_frameworks_match_norms_md() {
        let c = Catalogue::embedded();
        let got: Vec<(&str, usize, Verification, bool)> = c
            .frameworks()
            .iter()
            .map(|f| (f.id.as_str(), f.items.len(), f.verified, f.attestable))
            .collect();
        use Verification::{Primary, Secondary};
        assert_eq!(
            got,
            [
                ("ms2014", 6, Secondary, false),
                ("ms2016", 7, Secondary, true),
                ("dgc2017", 3, Primary, true),
                ("tca2018", 8, Primary, true),
                ("gge2015", 11, Primary, false),
                ("paris2018", 9, Primary, true),
                ("gcsc2019", 8, Primary, true),
            ]
        );
        let items = |f: &str| -> Vec<String> {
            c.framework(f)
                .unwrap()
                .items
                .iter()
                .map(|i| i.id.clone())
                .collect()
        };
        assert_eq!(
            items("tca2018"),
            ["1.1", "1.2", "2.1", "2.2", "3.1", "3.2", "4.1", "4.2"]
        );
        assert_eq!(
            items("gge2015"),
            ["13a", "13b", "13c", "13d", "13e", "13f", "13g", "13h", "13i", "13j", "13k"]
        );
        assert_eq!(
            items("ms2016"),
            [
                "ind-1",
                "ind-2",
                "ind-3",
                "ind-4",
                "ind-5",
                "ind-6",
                "attribution-forum"
            ]
        );
        assert_eq!(items("dgc2017"), ["no-aid", "protect-all", "attribution-org"]);
        assert_eq!(items("ms2014"), ["1", "2", "3", "4", "5", "6"]);
        assert_eq!(
            items("paris2018"),
            (1..=9).map(|i| format!("p{i}")).collect::<Vec<_>>()
        );
        assert_eq!(
            items("gcsc2019"),
            (1..=8).map(|i| format!("n{i}")).collect::<Vec<_>>()
        );
        assert_eq!(c.framework("gge2015").unwrap().binds, Binds::States);
        assert_eq!(c.framework("tca2018").unwrap().binds, Binds::Industry);
        let (f, i) = c.reference("gge2015:13i").unwrap();
        assert_eq!((f.id.as_str(), i.id.as_str()), ("gge2015", "13i"));
        assert!(c.reference("gge2015:13z").is_none());
        assert!(c.reference("gge2015").is_none());
    }

    #[test]
    fn norm_id_accepts_kebab_case() {
        for ok in ["a", "0", "no-backdoors", "a1-b2-c3", &"a".repeat(64), "x-y"] {
            assert_eq!(NormId::new(ok).unwrap().as_str(), ok);
            assert_eq!(ok.parse::<NormId>().unwrap().to_string(), ok);
        }
    }

    #[test]
    fn norm_id_refuses_malformed() {
        let cases: [(&str, &str); 10] = [
            ("", "it is empty"),
            ("No-Backdoors", "it contains an upper-case letter"),
            (
                "no backdoors",
                "it contains a character other than a-z, 0-9 and '-'",
            ),
            (
                "no_backdoors",
                "it contains a character other than a-z, 0-9 and '-'",
            ),
            ("nö", "it contains a character other than a-z, 0-9 and '-'"),
            ("a.b", "it contains a character other than a-z, 0-9 and '-'"),
            (
                "-x",
                "a separator must join two words (none leading, trailing or doubled)",
            ),
            (
                "x-",
                "a separator must join two words (none leading, trailing or doubled)",
            ),
            (
                "a--b",
                "a separator must join two words (none leading, trailing or doubled)",
            ),
            (
                "-",
                "a separator must join two words (none leading, trailing or doubled)",
            ),
        ];
        for (bad, reason) in cases {
            assert_eq!(
                NormId::new(bad),
                Err(NormsError::InvalidId {
                    id: bad.into(),
                    reason
                }),
                "{bad:?}"
            );
        }
        let long = "a".repeat(65);
        assert_eq!(
            NormId::new(&long),
            Err(NormsError::InvalidId {
                id: "a".repeat(64),
                reason: "it is longer than 64 bytes"
            })
        );
    }

    #[test]
    fn huge_id_is_refused_and_cut_in_the_error() {
        let huge = "é".repeat(500_000); // 1 MB
        let err = NormId::new(&huge).unwrap_err();
        assert_eq!(
            err,
            NormsError::InvalidId {
                id: "é".repeat(64),
                reason: "it is longer than 64 bytes"
            }
        );
        assert!(err.to_string().len() < 400, "{err}");
    }

    #[test]
    fn resolve_finds_and_suggests() {
        let c = Catalogue::embedded();
        for id in Catalogue::SEED {
            assert_eq!(c.resolve(id).unwrap().id.as_str(), id);
        }
        let unknown = |id: &str, s: Option<&str>| {
            assert_eq!(
                c.resolve(id).unwrap_err(),
                NormsError::UnknownNorm {
                    id: id.into(),
                    suggestion: s.map(str::to_owned)
                },
                "{id}"
            );
        };
        unknown("no-backdoor", Some("no-backdoors"));
        unknown("no-bakdoors", Some("no-backdoors"));
        unknown("patch-all-customer", Some("patch-all-customers"));
        unknown("backdoors", Some("no-backdoors"));
        unknown("no-hackback", Some("no-hack-back"));
        unknown("zzzz-qqqq", None);
        unknown("x", None);
        assert_eq!(
            c.resolve("no-backdoor").unwrap_err().to_string(),
            "unknown norm \"no-backdoor\" (did you mean \"no-backdoors\"?)"
        );
        assert_eq!(
            c.resolve("zzzz-qqqq").unwrap_err().to_string(),
            "unknown norm \"zzzz-qqqq\""
        );
    }

    #[test]
    fn resolve_refuses_invalid_ids() {
        let c = Catalogue::embedded();
        let huge = "a".repeat(1_000_000);
        for bad in [
            "",
            "No-Backdoors",
            "no backdoors",
            " no-backdoors",
            "no-backdoors\n",
            &"a".repeat(65),
            &huge,
        ] {
            match c.resolve(bad) {
                Err(NormsError::InvalidId { id, .. }) => assert_eq!(id, clip(bad, 64)),
                other => panic!("{bad:.20?}: {other:?}"),
            }
        }
    }

    #[test]
    fn suggestions_skip_deprecated_norms() {
        let mut v = source();
        v["norms"][0]["deprecated"] = json!(true);
        let c = parse(&v).unwrap();
        assert!(c.resolve("no-backdoors").unwrap().deprecated);
        assert_eq!(
            c.resolve("no-backdoor").unwrap_err(),
            NormsError::UnknownNorm {
                id: "no-backdoor".into(),
                suggestion: None
            }
        );
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        for (a, b, d) in [
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("kitten", "sitting", 3),
            ("flaw", "lawn", 2),
            ("ab", "ba", 2),
        ] {
            assert_eq!(edit_distance(a.as_bytes(), b.as_bytes()), d, "{a} {b}");
            assert_eq!(edit_distance(b.as_bytes(), a.as_bytes()), d, "{b} {a}");
        }
    }

    #[test]
    fn unknown_and_missing_fields_are_refused() {
        for path in ["", "/norms/0", "/frameworks/0", "/frameworks/0/items/0"] {
            let mut v = source();
            v.pointer_mut(path).unwrap()["extra"] = json!(1);
            match parse(&v) {
                Err(NormsError::Json(m)) => assert!(m.contains("unknown field `extra`"), "{m}"),
                other => panic!("{path:?}: {other:?}"),
            }
        }
        let mut v = source();
        v["norms"][0].as_object_mut().unwrap().remove("deprecated");
        assert!(matches!(parse(&v), Err(NormsError::Json(m)) if m.contains("missing field `deprecated`")));
        let mut v = source();
        v["frameworks"][0]["binds"] = json!("companies");
        assert!(matches!(parse(&v), Err(NormsError::Json(m)) if m.contains("unknown variant `companies`")));
        let mut v = source();
        v["frameworks"][0]["verified"] = json!("tertiary");
        assert!(matches!(parse(&v), Err(NormsError::Json(_))));
        let mut v = source();
        v["version"] = json!(-1);
        assert!(matches!(parse(&v), Err(NormsError::Json(_))));
    }

    #[test]
    fn malformed_json_is_refused() {
        for bad in ["", "{", "[]", "null", &format!("{CATALOGUE_V1_JSON} {{}}")] {
            assert!(
                matches!(Catalogue::parse(bad), Err(NormsError::Json(_))),
                "{bad:.20?}"
            );
        }
        // A field given twice is refused, not silently overwritten.
        let twice = CATALOGUE_V1_JSON.replacen("\"version\": 1,", "\"version\": 1, \"version\": 2,", 1);
        assert!(
            matches!(Catalogue::parse(&twice), Err(NormsError::Json(m)) if m.contains("duplicate field"))
        );
    }

    #[test]
    fn oversized_source_is_refused_before_parsing() {
        let big = " ".repeat(MAX_CATALOGUE_LEN + 1);
        assert_eq!(
            Catalogue::parse(&big),
            Err(NormsError::TooLarge {
                len: MAX_CATALOGUE_LEN + 1,
                max: MAX_CATALOGUE_LEN
            })
        );
    }

    #[test]
    fn header_fields_are_checked() {
        let mut v = source();
        v["catalogue"] = json!("other");
        assert_eq!(parse(&v).unwrap_err(), NormsError::NotACatalogue("other".into()));
        let mut v = source();
        v["version"] = json!(0);
        assert_eq!(parse(&v).unwrap_err(), NormsError::BadVersion(0));
        let mut v = source();
        v["norms"] = json!([]);
        assert_eq!(parse(&v).unwrap_err(), NormsError::NoNorms);
        let mut v = source();
        v["version"] = json!(2);
        v.as_object_mut().unwrap().remove("$schema");
        assert_eq!(parse(&v).unwrap().version, 2);
    }

    #[test]
    fn dangling_references_are_refused() {
        for (field, reference) in [
            ("maps_to", "nowhere:1"),
            ("maps_to", "gge2015:13z"),
            ("maps_to", "gge2015"),
            ("maps_to", ":13i"),
            ("maps_to", "gge2015:13i:x"),
            ("maps_to", ""),
            ("state_mirror", "ms2014:7"),
        ] {
            let mut v = source();
            v["norms"][2][field] = json!(["tca2018:1.1", reference]);
            assert_eq!(
                parse(&v).unwrap_err(),
                NormsError::UnknownReference {
                    norm: "patch-all-customers".into(),
                    reference: reference.into()
                },
                "{field} {reference}"
            );
        }
    }

    #[test]
    fn duplicates_are_refused() {
        let mut v = source();
        v["norms"][5]["id"] = json!("no-backdoors");
        assert_eq!(
            parse(&v).unwrap_err(),
            NormsError::DuplicateId("no-backdoors".into())
        );
        let mut v = source();
        v["frameworks"][6]["id"] = json!("ms2014");
        assert_eq!(
            parse(&v).unwrap_err(),
            NormsError::DuplicateFramework("ms2014".into())
        );
        let mut v = source();
        v["frameworks"][3]["items"][1]["id"] = json!("1.1");
        assert_eq!(
            parse(&v).unwrap_err(),
            NormsError::DuplicateItem {
                framework: "tca2018".into(),
                item: "1.1".into()
            }
        );
        let mut v = source();
        v["norms"][0]["maps_to"] = json!(["gge2015:13i", "gge2015:13i"]);
        assert_eq!(
            parse(&v).unwrap_err(),
            NormsError::DuplicateReference {
                norm: "no-backdoors".into(),
                reference: "gge2015:13i".into()
            }
        );
    }

    #[test]
    fn invalid_norm_fields_are_refused() {
        let mut v = source();
        v["norms"][1]["id"] = json!("No-Aid");
        assert_eq!(
            parse(&v).unwrap_err(),
            NormsError::InvalidId {
                id: "No-Aid".into(),
                reason: "it contains an upper-case letter"
            }
        );
        let cases: [(&str, Value, &str); 7] = [
            ("text", json!(""), "is empty"),
            (
                "text",
                json!("The signatory patches. "),
                "begins or ends with white space",
            ),
            (
                "text",
                json!("\u{feff}The signatory patches."),
                "begins or ends with white space",
            ),
            (
                "text",
                json!("The signatory\npatches."),
                "contains a control character",
            ),
            (
                "text",
                json!("The signatory patches cafe\u{301}s."),
                "is not in Unicode NFC",
            ),
            ("text", json!("x".repeat(MAX_TEXT_LEN + 1)), "is too long"),
            ("title", json!("\tTitle"), "contains a control character"),
        ];
        for (field, value, reason) in cases {
            let mut v = source();
            v["norms"][1][field] = value.clone();
            assert_eq!(
                parse(&v).unwrap_err(),
                NormsError::InvalidField {
                    location: "norm \"no-offensive-aid\"".into(),
                    field,
                    reason
                },
                "{field} {value}"
            );
        }
        // Within the limit and in NFC, non-ASCII text is fine.
        let mut v = source();
        v["norms"][1]["text"] = json!(format!(
            "The signatory patches caf\u{e9}s.{}",
            "x".repeat(MAX_TEXT_LEN - 30)
        ));
        assert!(parse(&v).is_ok());
    }

    #[test]
    fn invalid_framework_fields_are_refused() {
        let fw = |field: &'static str, reason| NormsError::InvalidField {
            location: "framework \"tca2018\"".into(),
            field,
            reason,
        };
        let cases: [(&str, Value, NormsError); 8] = [
            (
                "published",
                json!("2018-4"),
                fw("published", "is not a year and month YYYY-MM"),
            ),
            (
                "published",
                json!("2018-13"),
                fw("published", "is not a year and month YYYY-MM"),
            ),
            (
                "published",
                json!("2018-00"),
                fw("published", "is not a year and month YYYY-MM"),
            ),
            (
                "published",
                json!("18-04-01"),
                fw("published", "is not a year and month YYYY-MM"),
            ),
            (
                "title",
                json!(" Tech Accord"),
                fw("title", "begins or ends with white space"),
            ),
            ("note", json!(""), fw("note", "is empty")),
            ("items", json!([]), fw("items", "is empty")),
            (
                "id",
                json!("TCA"),
                NormsError::InvalidField {
                    location: "framework \"TCA\"".into(),
                    field: "id",
                    reason: "it contains an upper-case letter",
                },
            ),
        ];
        for (field, value, err) in cases {
            let mut v = source();
            v["frameworks"][3][field] = value.clone();
            assert_eq!(parse(&v).unwrap_err(), err, "{field} {value}");
        }
        let item = |field: &'static str, reason| NormsError::InvalidField {
            location: "framework \"tca2018\" item \"1.1\"".into(),
            field,
            reason,
        };
        let mut v = source();
        v["frameworks"][3]["items"][0]["summary"] = json!("");
        assert_eq!(parse(&v).unwrap_err(), item("summary", "is empty"));
        for bad in ["1..1", ".1", "1.", "1:1"] {
            let mut v = source();
            v["frameworks"][3]["items"][0]["id"] = json!(bad);
            assert!(
                matches!(parse(&v), Err(NormsError::InvalidField { field: "id", ref location, .. }) if location.contains(bad)),
                "{bad}"
            );
        }
    }

    #[test]
    fn successor_keeps_every_norm() {
        let v1 = Catalogue::embedded();
        assert_eq!(
            v1.check_successor(v1),
            Err(NormsError::NotNewer { current: 1, next: 1 })
        );
        let mut v = source();
        v["version"] = json!(2);
        v["norms"][4]["deprecated"] = json!(true);
        let v2 = parse(&v).unwrap();
        assert_eq!(v1.check_successor(&v2), Ok(()));
        v["norms"].as_array_mut().unwrap().remove(4);
        let v2 = parse(&v).unwrap();
        assert_eq!(
            v1.check_successor(&v2),
            Err(NormsError::RemovedNorm {
                id: "no-vuln-trafficking".into(),
                next: 2
            })
        );
    }

    #[test]
    fn error_messages_name_the_culprit() {
        let e = NormId::new("No").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid norm id \"No\": it contains an upper-case letter (a norm id is lower-case ASCII \
             letters and digits in words joined by single '-', at most 64 bytes)"
        );
        let e = NormsError::InvalidField {
            location: "norm \"x\"".into(),
            field: "text",
            reason: "is empty",
        };
        assert_eq!(e.to_string(), "catalogue: norm \"x\": field \"text\" is empty");
    }
}
