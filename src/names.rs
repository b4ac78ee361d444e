//! Organisation names under rules version 2: the refusal rules and the comparison key
//! (docs/FORMAT.md §4.1, "Names: refusal rules and the comparison key (rules version 2)").
//!
//! Two registrations whose `iss` differ can still *look* the same: "contoso ltd" with a zero
//! width space, a no-break space, a Hangul filler, fullwidth letters or a Cyrillic "С". The
//! ledger therefore (1) refuses, in a version-2 registration, names with characters that are
//! invisible, unassigned, private or space-like ([`check_registered_name`]), and (2) gives every
//! name a *comparison key* ([`comparison_key`]) built from Unicode's NFKC_Casefold and the
//! UTS #39 confusable skeleton: two names with the same key look alike, and only the first
//! registration of a key is accepted.
//!
//! All Unicode data come from one pinned file of Unicode 14.0.0 ([`DATA`], built by
//! `scripts/unicode-names-data.py` from the original Unicode files), so that accord and an
//! independent verifier compute the same bytes whatever Unicode version their own libraries
//! carry. NFC and NFD come from the `unicode-normalization` crate: for the code points assigned
//! in 14.0.0, which are the only ones a version-2 name may hold, Unicode's Normalization
//! Stability policy guarantees that every later version normalises them the same way (UAX #15
//! §3 and the Unicode Character Encoding Stability Policies). The tests of this module check
//! every assigned code point against the pinned file.
//!
//! This module is pure: no file or clock.

use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization as _;

/// The Unicode version of the pinned data.
pub const UNICODE_VERSION: &str = "14.0.0";

/// Path of the pinned data file in the repository (docs/FORMAT.md §4.1 describes its lines).
pub const DATA_PATH: &str = "schemas/unicode/names-14.0.0.txt";

/// The pinned data file, embedded at build time.
pub const DATA: &str = include_str!("../schemas/unicode/names-14.0.0.txt");

/// SHA-256 of [`DATA`], as recorded in docs/FORMAT.md §4.1 (checked by a test).
pub const DATA_SHA256: &str = "f66b4698c6781a5986a7f3a712ba0db8d7bdd727ce85a076baca9ebdf697d7e8";

/// How many rounds of `skeleton(toNFKC_Casefold(…))` make a comparison key (docs/FORMAT.md
/// §4.1): confusables.txt maps some characters to upper-case or compatibility prototypes
/// (`0` → `O`, Lisu and Cherokee letters → upper-case Latin, `%` → `º/₀`) that the next round
/// folds again; after three rounds every code point assigned in 14.0.0 is at a fixed point.
pub const KEY_ROUNDS: usize = 3;

/// A name refused by the rules of version 2. `position` counts characters (code points) from
/// 1, in the name as given for [`NameError::Unassigned`] and in its NFC form for the others
/// (the same thing for a registration, whose name is NFC).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("organisation name is empty")]
    Empty,
    /// A code point unassigned (General_Category Cn, noncharacters included) in Unicode 14.0.0.
    #[error(
        "organisation name has U+{cp:04X} at character {position}, a code point unassigned in \
         Unicode {UNICODE_VERSION}",
        cp = u32::from(*code_point)
    )]
    Unassigned {
        /// The offending code point.
        code_point: char,
        /// Its position in the NFC name, from 1.
        position: usize,
    },
    /// A private-use character (General_Category Co): no agreed appearance.
    #[error(
        "organisation name has U+{cp:04X} at character {position}, a private-use character \
         (its appearance depends on the font)",
        cp = u32::from(*code_point)
    )]
    PrivateUse {
        /// The offending code point.
        code_point: char,
        /// Its position in the NFC name, from 1.
        position: usize,
    },
    /// A control character (General_Category Cc); `normalise` refuses these too.
    #[error(
        "organisation name has U+{cp:04X} at character {position}, a control character",
        cp = u32::from(*code_point)
    )]
    Control {
        /// The offending code point.
        code_point: char,
        /// Its position in the NFC name, from 1.
        position: usize,
    },
    /// A Default_Ignorable_Code_Point: invisible, or shown only in some contexts.
    #[error(
        "organisation name has U+{cp:04X} at character {position}, an invisible \
         (default-ignorable) character",
        cp = u32::from(*code_point)
    )]
    DefaultIgnorable {
        /// The offending code point.
        code_point: char,
        /// Its position in the NFC name, from 1.
        position: usize,
    },
    /// A format character (General_Category Cf) that is not default-ignorable.
    #[error(
        "organisation name has U+{cp:04X} at character {position}, a format character",
        cp = u32::from(*code_point)
    )]
    Format {
        /// The offending code point.
        code_point: char,
        /// Its position in the NFC name, from 1.
        position: usize,
    },
    /// White space or a space separator other than U+0020, or U+2800 BRAILLE PATTERN BLANK.
    #[error(
        "organisation name has U+{cp:04X} at character {position}, a space other than U+0020 \
         SPACE",
        cp = u32::from(*code_point)
    )]
    Space {
        /// The offending code point.
        code_point: char,
        /// Its position in the NFC name, from 1.
        position: usize,
    },
    /// U+0020 at the start or the end of the name.
    #[error("organisation name has a space (U+0020) at its start or end (character {position})")]
    SpaceAtEdge {
        /// The position of the space in the NFC name, from 1.
        position: usize,
    },
    /// Two U+0020 in a row.
    #[error("organisation name has two spaces in a row (U+0020 at character {position})")]
    DoubleSpace {
        /// The position of the second space in the NFC name, from 1.
        position: usize,
    },
}

impl NameError {
    /// The rule broken, as named in docs/FORMAT.md §4.1: `empty`, `unassigned`, `private-use`,
    /// `control`, `default-ignorable`, `format`, `space`, `space-at-edge` or `double-space`.
    pub fn rule(&self) -> &'static str {
        match self {
            NameError::Empty => "empty",
            NameError::Unassigned { .. } => "unassigned",
            NameError::PrivateUse { .. } => "private-use",
            NameError::Control { .. } => "control",
            NameError::DefaultIgnorable { .. } => "default-ignorable",
            NameError::Format { .. } => "format",
            NameError::Space { .. } => "space",
            NameError::SpaceAtEdge { .. } => "space-at-edge",
            NameError::DoubleSpace { .. } => "double-space",
        }
    }

    /// The offending code point (U+0020 for the two spacing rules), if any.
    pub fn code_point(&self) -> Option<char> {
        match self {
            NameError::Empty => None,
            NameError::SpaceAtEdge { .. } | NameError::DoubleSpace { .. } => Some(' '),
            NameError::Unassigned { code_point, .. }
            | NameError::PrivateUse { code_point, .. }
            | NameError::Control { code_point, .. }
            | NameError::DefaultIgnorable { code_point, .. }
            | NameError::Format { code_point, .. }
            | NameError::Space { code_point, .. } => Some(*code_point),
        }
    }

    /// The position of the offending code point in the NFC name, from 1, if any.
    pub fn position(&self) -> Option<usize> {
        match self {
            NameError::Empty => None,
            NameError::Unassigned { position, .. }
            | NameError::PrivateUse { position, .. }
            | NameError::Control { position, .. }
            | NameError::DefaultIgnorable { position, .. }
            | NameError::Format { position, .. }
            | NameError::Space { position, .. }
            | NameError::SpaceAtEdge { position }
            | NameError::DoubleSpace { position } => Some(*position),
        }
    }
}

/// Checks the refusal rules of version 2 (docs/FORMAT.md §4.1): first that every code point
/// of `name` as given is assigned in Unicode 14.0.0, then the other rules on its NFC form.
/// They come on top of `normalise` (`crate::statement::normalise_org`), which the ledger
/// applies as well.
///
/// # Errors
/// The first code point, in order, that breaks a rule, as a [`NameError`]; a code point that
/// breaks several rules is reported under the first of: unassigned, private use (or
/// surrogate), control, default-ignorable, format, space.
pub fn check_registered_name(name: &str) -> Result<(), NameError> {
    checked_nfc(name).map(drop)
}

/// The comparison key of a name of a version-2 registration: the refusal rules, then
/// [`KEY_ROUNDS`] rounds of `skeleton(toNFKC_Casefold(NFD(x)))` starting from the NFC name
/// (docs/FORMAT.md §4.1). Two names with the same key look alike.
///
/// # Errors
/// As [`check_registered_name`].
pub fn comparison_key(name: &str) -> Result<String, NameError> {
    checked_nfc(name).map(key_rounds)
}

/// The comparison key recorded for a version-1 registration, whose name the refusal rules do
/// not apply to: the same computation as [`comparison_key`] without the refusal rules. `None`
/// (no key recorded) if the name or its NFC form holds a code point unassigned in Unicode
/// 14.0.0: the pinned data cannot say how such a name folds, and implementations with
/// different Unicode versions could disagree on its key.
pub fn comparison_key_v1(name: &str) -> Option<String> {
    let nfc: String = name.nfc().collect();
    let t = tables();
    if name
        .chars()
        .chain(nfc.chars())
        .any(|c| t.category(c) == Some(Category::Cn))
    {
        return None;
    }
    Some(key_rounds(nfc))
}

/// Unicode's `toNFKC_Casefold(NFD(x))`: each character of NFD(x) replaced by its NFKC_Casefold
/// mapping (UAX #44; DerivedNormalizationProps.txt) of Unicode 14.0.0, then NFC. This is
/// toNFKC_Casefold of the Unicode Standard §3.13 (Default Case Algorithms) applied to NFD(x),
/// as its "identifier caseless match" does: the caseless matching UAX #31 §5 recommends for
/// identifiers.
pub fn nfkc_casefold(s: &str) -> String {
    let t = tables();
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        match t.nfkc_cf(c) {
            Some(m) => out.push_str(m),
            None => out.push(c),
        }
    }
    out.nfc().collect()
}

/// The confusable skeleton of UTS #39 §4: NFD, each character replaced by its prototype in
/// confusables.txt of Unicode 14.0.0, NFD again.
pub fn skeleton(s: &str) -> String {
    let t = tables();
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        match t.confusable(c) {
            Some(m) => out.push_str(m),
            None => out.push(c),
        }
    }
    out.nfd().collect()
}

/// Whether `c` is invisible or a space other than U+0020 SPACE: Default_Ignorable_Code_Point,
/// General_Category Cf, White_Space or General_Category Zs (U+0020 excepted), or U+2800
/// BRAILLE PATTERN BLANK, by the pinned Unicode 14.0.0 data. Human output shows these escaped.
pub fn is_invisible_or_confusable_space(c: char) -> bool {
    if c == ' ' {
        return false;
    }
    if c.is_ascii() {
        // Of ASCII, only the controls TAB to CR are white space; none is default-ignorable.
        return matches!(c, '\t'..='\r');
    }
    let t = tables();
    c == BRAILLE_PATTERN_BLANK
        || t.is_default_ignorable(c)
        || t.is_white_space(c)
        || matches!(t.category(c), Some(Category::Cf | Category::Zs))
}

/// Whether `c` has no agreed appearance by the pinned Unicode 14.0.0 data: unassigned there
/// (Cn), private use (Co) or a surrogate (Cs). Human output shows these escaped.
pub fn is_unassigned_or_private_use(c: char) -> bool {
    !c.is_ascii()
        && matches!(
            tables().category(c),
            Some(Category::Cn | Category::Co | Category::Cs)
        )
}

/// U+2800 BRAILLE PATTERN BLANK: a symbol (So), neither white space nor default-ignorable, whose
/// glyph is empty; refused with the spaces (docs/FORMAT.md §4.1).
const BRAILLE_PATTERN_BLANK: char = '\u{2800}';

/// The refusal rules: `name` as given must hold only code points assigned in 14.0.0 (so that
/// NFC, whatever Unicode version it comes from, sees only code points whose normalisation is
/// stable), then its NFC form is checked and returned.
fn checked_nfc(name: &str) -> Result<String, NameError> {
    let t = tables();
    for (i, code_point) in name.chars().enumerate() {
        if t.category(code_point) == Some(Category::Cn) {
            return Err(NameError::Unassigned {
                code_point,
                position: i + 1,
            });
        }
    }
    let nfc: String = name.nfc().collect();
    check_nfc(&nfc)?;
    Ok(nfc)
}

/// The refusal rules on an NFC name.
fn check_nfc(nfc: &str) -> Result<(), NameError> {
    if nfc.is_empty() {
        return Err(NameError::Empty);
    }
    let t = tables();
    let count = nfc.chars().count();
    let mut previous_space = false;
    for (i, c) in nfc.chars().enumerate() {
        let position = i + 1;
        if c == ' ' {
            if position == 1 || position == count {
                return Err(NameError::SpaceAtEdge { position });
            }
            if previous_space {
                return Err(NameError::DoubleSpace { position });
            }
            previous_space = true;
            continue;
        }
        previous_space = false;
        if c.is_ascii_graphic() {
            continue;
        }
        let category = t.category(c);
        let code_point = c;
        match category {
            Some(Category::Cn) => return Err(NameError::Unassigned { code_point, position }),
            Some(Category::Co | Category::Cs) => return Err(NameError::PrivateUse { code_point, position }),
            Some(Category::Cc) => return Err(NameError::Control { code_point, position }),
            _ => {}
        }
        if t.is_default_ignorable(c) {
            return Err(NameError::DefaultIgnorable { code_point, position });
        }
        if category == Some(Category::Cf) {
            return Err(NameError::Format { code_point, position });
        }
        if t.is_white_space(c) || category == Some(Category::Zs) || c == BRAILLE_PATTERN_BLANK {
            return Err(NameError::Space { code_point, position });
        }
    }
    Ok(())
}

/// [`KEY_ROUNDS`] rounds of `skeleton(toNFKC_Casefold(x))` from the NFC name.
fn key_rounds(nfc: String) -> String {
    let mut x = nfc;
    for _ in 0..KEY_ROUNDS {
        x = skeleton(&nfkc_casefold(&x));
    }
    x
}

/// The General_Category values the pinned file lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Cc,
    Cf,
    Cn,
    Co,
    Cs,
    Zs,
}

/// The pinned data, parsed once.
struct Tables {
    gc: Vec<(u32, u32, Category)>,
    di: Vec<(u32, u32)>,
    ws: Vec<(u32, u32)>,
    lower: Vec<(u32, String)>,
    nfkc_cf: Vec<(u32, u32, String)>,
    confusable: Vec<(u32, String)>,
}

/// The entry of a sorted list of disjoint ranges that holds `c`.
fn find_range<T>(ranges: &[T], c: u32, bounds: impl Fn(&T) -> (u32, u32)) -> Option<&T> {
    let i = ranges.partition_point(|r| bounds(r).1 < c);
    ranges.get(i).filter(|r| bounds(r).0 <= c)
}

/// The value of a sorted list of single code points for `c`.
fn find_point(list: &[(u32, String)], c: u32) -> Option<&str> {
    list.binary_search_by_key(&c, |e| e.0)
        .ok()
        .map(|i| list[i].1.as_str())
}

impl Tables {
    fn category(&self, c: char) -> Option<Category> {
        find_range(&self.gc, u32::from(c), |r| (r.0, r.1)).map(|r| r.2)
    }

    fn is_default_ignorable(&self, c: char) -> bool {
        find_range(&self.di, u32::from(c), |r| *r).is_some()
    }

    fn is_white_space(&self, c: char) -> bool {
        find_range(&self.ws, u32::from(c), |r| *r).is_some()
    }

    fn nfkc_cf(&self, c: char) -> Option<&str> {
        find_range(&self.nfkc_cf, u32::from(c), |r| (r.0, r.1)).map(|r| r.2.as_str())
    }

    fn confusable(&self, c: char) -> Option<&str> {
        find_point(&self.confusable, u32::from(c))
    }

    #[cfg(test)]
    fn lower(&self, c: char) -> Option<&str> {
        find_point(&self.lower, u32::from(c))
    }
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| match parse(DATA) {
        Ok(t) => t,
        // The file is part of the build and a test parses it: this cannot happen in a
        // released binary.
        Err(e) => panic!("{DATA_PATH} (embedded) is malformed: {e}"),
    })
}

/// Parses the pinned data file (format: docs/FORMAT.md §4.1 and the file's own header).
fn parse(text: &str) -> Result<Tables, String> {
    let mut t = Tables {
        gc: Vec::new(),
        di: Vec::new(),
        ws: Vec::new(),
        lower: Vec::new(),
        nfkc_cf: Vec::new(),
        confusable: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
        let mut fields = line.split(';');
        let (Some(field), Some(points), Some(value), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad("not three fields"));
        };
        let (first, last) = match points.split_once("..") {
            Some((a, b)) => (parse_hex(a), parse_hex(b)),
            None => (parse_hex(points), parse_hex(points)),
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(bad("bad code point"));
        };
        if first > last {
            return Err(bad("empty range"));
        }
        let single = || {
            if first == last {
                Ok(first)
            } else {
                Err(bad("range not allowed"))
            }
        };
        match field {
            "gc" => {
                let category = match value {
                    "Cc" => Category::Cc,
                    "Cf" => Category::Cf,
                    "Cn" => Category::Cn,
                    "Co" => Category::Co,
                    "Cs" => Category::Cs,
                    "Zs" => Category::Zs,
                    _ => return Err(bad("unknown category")),
                };
                t.gc.push((first, last, category));
            }
            "di" | "ws" if value.is_empty() => {
                let list = if field == "di" { &mut t.di } else { &mut t.ws };
                list.push((first, last));
            }
            "lower" => t
                .lower
                .push((single()?, code_points(value).ok_or_else(|| bad("bad value"))?)),
            "nfkc_cf" => t
                .nfkc_cf
                .push((first, last, code_points(value).ok_or_else(|| bad("bad value"))?)),
            "confusable" => t
                .confusable
                .push((single()?, code_points(value).ok_or_else(|| bad("bad value"))?)),
            _ => return Err(bad("unknown field or value")),
        }
    }
    sorted_disjoint(&t.gc, |r| (r.0, r.1), "gc")?;
    sorted_disjoint(&t.di, |r| *r, "di")?;
    sorted_disjoint(&t.ws, |r| *r, "ws")?;
    sorted_disjoint(&t.lower, |r| (r.0, r.0), "lower")?;
    sorted_disjoint(&t.nfkc_cf, |r| (r.0, r.1), "nfkc_cf")?;
    sorted_disjoint(&t.confusable, |r| (r.0, r.0), "confusable")?;
    Ok(t)
}

fn sorted_disjoint<T>(list: &[T], bounds: impl Fn(&T) -> (u32, u32), what: &str) -> Result<(), String> {
    for w in list.windows(2) {
        if bounds(&w[0]).1 >= bounds(&w[1]).0 {
            return Err(format!(
                "{what}: ranges not sorted or overlapping at {:04X}",
                bounds(&w[1]).0
            ));
        }
    }
    Ok(())
}

/// 4 to 6 upper-case hex digits naming a Unicode scalar value.
fn parse_hex(s: &str) -> Option<u32> {
    if !(4..=6).contains(&s.len())
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return None;
    }
    let v = u32::from_str_radix(s, 16).ok()?;
    (v <= 0x10FFFF).then_some(v)
}

/// Code points separated by single spaces (possibly none), as a string.
fn code_points(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    s.split(' ')
        .map(|h| parse_hex(h).and_then(char::from_u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn data_file_is_the_pinned_one() {
        assert_eq!(hex::encode(Sha256::digest(DATA.as_bytes())), DATA_SHA256);
        let format = include_str!("../docs/FORMAT.md");
        assert!(
            format.contains(DATA_SHA256),
            "docs/FORMAT.md must record the SHA-256 of {DATA_PATH}"
        );
        assert!(DATA.contains(&format!("# Unicode version: {UNICODE_VERSION}\n")));
        assert!(parse(DATA).is_ok());
    }

    /// Every code point assigned in 14.0.0 (surrogates aside), with its category.
    fn assigned() -> impl Iterator<Item = (char, Option<Category>)> {
        let t = tables();
        (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .map(|c| (c, t.category(c)))
            .filter(|(_, cat)| *cat != Some(Category::Cn))
    }

    #[test]
    fn assigned_code_points_are_those_of_unicode_14() {
        // The Unicode Standard 14.0 counts 144,697 characters (graphic, format, private-use
        // and controls aside: 144,762 minus the 65 controls) and 137,468 private-use code
        // points; 2,048 surrogate code points are not in a Rust char.
        let mut graphic_or_format = 0;
        let mut private = 0;
        let mut controls = 0;
        for (_, cat) in assigned() {
            match cat {
                Some(Category::Co) => private += 1,
                Some(Category::Cc) => controls += 1,
                _ => graphic_or_format += 1,
            }
        }
        assert_eq!((graphic_or_format, controls, private), (144_697, 65, 137_468));
    }

    /// Rust's own tables (Unicode 17.0 in Rust 1.95) against the pinned 14.0.0 data, for
    /// every code point assigned in 14.0.0: `to_lowercase` (which `normalise` uses for `iss`),
    /// `is_whitespace` and `is_control` (its other checks). A toolchain whose tables changed
    /// for one of them fails here.
    #[test]
    fn rust_tables_agree_with_unicode_14_on_every_assigned_code_point() {
        let t = tables();
        let mut disagree = Vec::new();
        for (c, cat) in assigned() {
            let rust: String = c.to_lowercase().collect();
            let pinned = t.lower(c).map_or_else(|| c.to_string(), str::to_string);
            if rust != pinned {
                disagree.push(format!(
                    "U+{:04X} lower: rust {rust:?}, 14.0.0 {pinned:?}",
                    u32::from(c)
                ));
            }
            if c.is_whitespace() != t.is_white_space(c) {
                disagree.push(format!("U+{:04X} White_Space", u32::from(c)));
            }
            if c.is_control() != (cat == Some(Category::Cc)) {
                disagree.push(format!("U+{:04X} Cc", u32::from(c)));
            }
        }
        assert!(
            disagree.is_empty(),
            "{} disagreements:\n{}",
            disagree.len(),
            disagree.join("\n")
        );
    }

    /// The `unicode-normalization` crate (NFD, NFC, NFKC) against the pinned NFKC_Casefold
    /// data, and the key's rounds, for every code point assigned in 14.0.0:
    /// - toNFKC_Casefold(c) is in NFKC and is its own toNFKC_Casefold (UAX #44: the mapping
    ///   is closed), and toNFKC_Casefold(NFKC(c)) = toNFKC_Casefold(c): a crate whose NFKC
    ///   differed from Unicode 14.0.0 on an assigned code point would break one of these;
    /// - the key after [`KEY_ROUNDS`] rounds is a fixed point of one more round, and is NFD.
    #[test]
    fn normalisation_and_key_agree_with_the_pinned_data_on_every_assigned_code_point() {
        use unicode_normalization::{is_nfd, is_nfkc};
        let mut bad = Vec::new();
        for (c, _) in assigned() {
            let s = c.to_string();
            let folded = nfkc_casefold(&s);
            let nfkc: String = s.nfkc().collect();
            if !is_nfkc(&folded) || nfkc_casefold(&folded) != folded || nfkc_casefold(&nfkc) != folded {
                bad.push(format!("U+{:04X} toNFKC_Casefold {folded:?}", u32::from(c)));
            }
            let key = key_rounds(s.nfc().collect());
            if skeleton(&nfkc_casefold(&key)) != key || !is_nfd(&key) {
                bad.push(format!("U+{:04X} key {key:?} is not a fixed point", u32::from(c)));
            }
        }
        assert!(bad.is_empty(), "{} disagreements:\n{}", bad.len(), bad.join("\n"));
    }

    fn refused(name: &str) -> &'static str {
        match check_registered_name(name) {
            Ok(()) => "accepted",
            Err(e) => e.rule(),
        }
    }

    fn key(name: &str) -> String {
        match comparison_key(name) {
            Ok(k) => k,
            Err(e) => panic!("{name:?} refused: {e}"),
        }
    }

    /// Issue 10 item 5: sixteen organisations that all display as "contoso ltd". Each is now
    /// refused by a rule or has the comparison key of "Contoso Ltd".
    #[test]
    fn the_sixteen_look_alikes_of_contoso_ltd() {
        let original = key("Contoso Ltd");
        assert_eq!(original, "contoso ltd");
        let refused_cases = [
            ("Contoso\u{200B} Ltd", "default-ignorable", 0x200B, 8), // zero width space
            ("Cont\u{200D}oso Ltd", "default-ignorable", 0x200D, 5), // zero width joiner
            ("Contoso\u{2060} Ltd", "default-ignorable", 0x2060, 8), // word joiner
            ("\u{FEFF}Contoso Ltd", "default-ignorable", 0xFEFF, 1), // byte order mark
            ("Con\u{AD}toso Ltd", "default-ignorable", 0xAD, 4),     // soft hyphen
            ("Contoso L\u{34F}td", "default-ignorable", 0x34F, 10),  // combining grapheme joiner
            ("Contoso\u{180E} Ltd", "default-ignorable", 0x180E, 8), // Mongolian vowel separator
            ("Contoso Ltd\u{E0020}", "default-ignorable", 0xE0020, 12), // tag space
            ("Contoso\u{3164}Ltd", "default-ignorable", 0x3164, 8),  // Hangul filler
            ("Contoso\u{A0}Ltd", "space", 0xA0, 8),                  // no-break space
            ("Contoso\u{3000}Ltd", "space", 0x3000, 8),              // ideographic space
            ("Contoso\u{202F}Ltd", "space", 0x202F, 8),              // narrow no-break space
            ("Contoso\u{2800}Ltd", "space", 0x2800, 8),              // Braille pattern blank
            ("Contoso  Ltd", "double-space", 0x20, 9),               // two spaces
        ];
        for (name, rule, cp, position) in refused_cases {
            let e = check_registered_name(name).expect_err(name);
            assert_eq!(
                (e.rule(), e.code_point().map(u32::from), e.position()),
                (rule, Some(cp), Some(position)),
                "{name:?}"
            );
            assert_eq!(comparison_key(name), Err(e.clone()));
            assert!(e.to_string().contains(&format!("U+{cp:04X}")), "{e}");
            // A version-1 registration of the same name records a key: that of the original
            // where the character only adds to it or is a space, so a later "Contoso Ltd" is
            // refused (the first registration of a key wins). Two exceptions, which only the
            // refusal rules of version 2 stop: a Hangul filler in place of the space is removed
            // by NFKC_Casefold, as a joiner would be (that name folds like "ContosoLtd").
            let v1 = comparison_key_v1(name);
            match (cp, rule) {
                (0x3164, _) => assert_eq!(v1, Some(key("ContosoLtd"))),
                // Neither Unicode's folding nor confusables.txt touches the blank Braille cell.
                (0x2800, _) => assert_eq!(v1.as_deref(), Some("contoso\u{2800}ltd")),
                (_, "double-space") => assert_eq!(v1.as_deref(), Some("contoso  ltd")),
                _ => assert_eq!(v1.as_deref(), Some(original.as_str()), "{name:?}"),
            }
        }
        // These pass the refusal rules but collide with the original.
        let colliding = [
            "\u{FF23}\u{FF4F}\u{FF4E}\u{FF54}\u{FF4F}\u{FF53}\u{FF4F} \u{FF2C}\u{FF54}\u{FF44}", // fullwidth
            "\u{421}ontoso Ltd",             // Cyrillic capital ES
            "C\u{43E}nt\u{43E}s\u{43E} Ltd", // Cyrillic small O
            "Cont\u{3BF}so Ltd",             // Greek small omicron
            "CONTOSO LTD",                   // the same iss: refused by the iss rule already
            "C0NTOSO LTD",                   // digit zero (0 -> O, folded by the second round)
            "\u{A4DA}\u{A4F3}\u{A4E0}\u{A4D4}\u{A4F3}\u{A4E2}\u{A4F3} \u{A4E1}\u{A4D4}\u{A4D3}", // Lisu letters
            "Contoso \u{216C}td", // ROMAN NUMERAL FIFTY
            "Contoso 1td",        // digit one
        ];
        for name in colliding {
            assert_eq!(refused(name), "accepted", "{name:?}");
            assert_eq!(key(name), original, "{name:?}");
        }
    }

    #[test]
    fn different_names_keep_different_keys() {
        for (a, b) in [
            ("Acme", "Acne"),
            ("Contoso Ltd", "Contoso Ltda"),
            ("Contoso Ltd", "ContosoLtd"),
            ("Société Générale", "Societe Generale"),
            ("Ørsted", "Orsted"),
            ("日本電気", "日本電器"),
            ("Müller AG", "Muller AG"),
            ("Apple", "Appie"),
        ] {
            assert_ne!(key(a), key(b), "{a:?} and {b:?}");
        }
        // Case, compatibility forms and accents written two ways do not make a new name.
        assert_eq!(
            key("Société Générale"),
            key("SOCIE\u{301}TE\u{301} GE\u{301}NE\u{301}RALE")
        );
        assert_eq!(key("ＡＣＭＥ"), key("acme"));
        assert_eq!(key("Straße"), key("STRASSE"));
        assert_eq!(key("ﬁnance"), key("finance"));
        // The well-known "rn" looks like "m".
        assert_eq!(key("rnicrosoft"), key("Microsoft"));
    }

    #[test]
    fn real_names_in_many_scripts_stay_valid() {
        for name in [
            "Société Générale",
            "Nestlé S.A.",
            "Škoda Auto a.s.",
            "Ørsted A/S",
            "L'Oréal",
            "Dr. Ing. h.c. F. Porsche AG",
            "Crédit Agricole",
            "Türk Telekom",
            "Łukasiewicz",
            "AT&T Inc.",
            "Procter & Gamble",
            "日本電気株式会社",
            "トヨタ自動車",
            "삼성전자",
            "华为技术有限公司",
            "腾讯",
            "أرامكو السعودية",
            "طيران الإمارات",
            "بنك مصر",
            "אל על",
            "טבע תעשיות פרמצבטיות",
            "Газпром",
            "Яндекс",
            "ΟΤΕ Α.Ε.",
            "इन्फोसिस",
            "ปตท.",
            "Ақорда",
        ] {
            assert_eq!(refused(name), "accepted", "{name:?}");
            let k = key(name);
            assert!(!k.is_empty());
            assert_eq!(comparison_key_v1(name), Some(k), "{name:?}");
        }
    }

    #[test]
    fn refusal_rules_one_by_one() {
        assert_eq!(check_registered_name(""), Err(NameError::Empty));
        assert_eq!(refused(" Contoso"), "space-at-edge");
        assert_eq!(refused("Contoso "), "space-at-edge");
        assert_eq!(refused(" "), "space-at-edge");
        assert_eq!(refused("A\u{378}"), "unassigned"); // unassigned in the Greek block
        assert_eq!(refused("A\u{FFFF}"), "unassigned"); // a noncharacter
        assert_eq!(refused("A\u{1FAF7}"), "unassigned"); // an emoji of Unicode 15.0
        assert_eq!(refused("A\u{E000}"), "private-use");
        assert_eq!(refused("A\u{10FFFD}"), "private-use");
        assert_eq!(refused("A\u{0}"), "control");
        assert_eq!(refused("A\tB"), "control");
        assert_eq!(refused("A\u{85}B"), "control");
        assert_eq!(refused("A\u{200E}"), "default-ignorable"); // left-to-right mark
        assert_eq!(refused("A\u{202E}B"), "default-ignorable"); // right-to-left override
        assert_eq!(refused("A\u{FE0F}"), "default-ignorable"); // variation selector 16
        assert_eq!(refused("A\u{E0101}"), "default-ignorable"); // variation selector 18
        assert_eq!(refused("A\u{E0080}"), "unassigned"); // unassigned, default-ignorable
        assert_eq!(refused("A\u{600}1"), "format"); // Arabic number sign
        assert_eq!(refused("A\u{FFF9}B"), "format"); // interlinear annotation anchor
        assert_eq!(refused("A\u{2028}B"), "space"); // line separator
        assert_eq!(refused("A\u{1680}B"), "space"); // Ogham space mark
                                                    // The first offending code point is reported, with its position in the NFC name.
        let e = check_registered_name("e\u{301}\u{301}x\u{200B}\u{A0}").expect_err("refused");
        assert_eq!((e.rule(), e.position()), ("default-ignorable", Some(4)));
        assert_eq!(
            e.to_string(),
            "organisation name has U+200B at character 4, an invisible (default-ignorable) character"
        );
    }

    #[test]
    fn escaping_helpers() {
        for c in [
            '\u{200B}',
            '\u{A0}',
            '\u{3000}',
            '\u{3164}',
            '\u{AD}',
            '\u{2800}',
            '\u{E0041}',
            '\u{600}',
            '\t',
            '\u{2028}',
            '\u{202E}',
        ] {
            assert!(is_invisible_or_confusable_space(c), "U+{:04X}", u32::from(c));
        }
        for c in [' ', 'a', 'é', '日', 'א', '\u{301}', '\u{E000}'] {
            assert!(!is_invisible_or_confusable_space(c), "U+{:04X}", u32::from(c));
        }
        assert!(is_unassigned_or_private_use('\u{E000}'));
        assert!(is_unassigned_or_private_use('\u{378}'));
        assert!(!is_unassigned_or_private_use('a'));
        assert!(!is_unassigned_or_private_use('\u{200B}'));
    }

    #[test]
    fn version_1_names_with_code_points_unknown_to_14_record_no_key() {
        assert_eq!(comparison_key_v1("Contoso \u{1FAF7}"), None);
        assert_eq!(
            comparison_key_v1("Contoso\u{200B} Ltd").as_deref(),
            Some("contoso ltd")
        );
        // Private use is assigned: a key is recorded (the character maps to itself).
        assert_eq!(
            comparison_key_v1("Contoso\u{E000}").as_deref(),
            Some("contoso\u{E000}")
        );
    }
}
