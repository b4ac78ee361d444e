//! What a catalogue holds: norm ids, norms, and the frameworks they come from.

use super::*;

/// A validated norm id: kebab-case ASCII, `^[a-z0-9]+(-[a-z0-9]+)*$`, 1 to
/// [`MAX_NORM_ID_LEN`] bytes. A `NormId` that exists is valid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NormId(pub(super) String);

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
