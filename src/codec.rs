//! Deterministic CBOR (RFC 8949 §4.2.1, "core deterministic encoding requirements") over
//! [`ciborium::Value`], with strict decoding (DESIGN decisions 1 and 11).
//!
//! A signature covers bytes, so one logical value must have exactly one byte string (and one
//! hash). This module guarantees that:
//!
//! * [`encode`] writes every head (integer, length, tag) in its shortest form ("preferred
//!   serialization", §4.1), definite lengths only, and map keys sorted by the bytewise
//!   lexicographic order of their own deterministic encodings (§4.2.1). It refuses floating-point values, bignums
//!   (tags 2 and 3), duplicate map keys and nesting deeper than [`MAX_DEPTH`].
//! * [`decode`] refuses input longer than the caller's limit before parsing, then reads exactly
//!   one item in a single strict pass that refuses every other way of writing a value:
//!   non-shortest integers and lengths, indefinite lengths, unsorted or repeated keys,
//!   `undefined` standing in for `null`, floats, bignums, nesting beyond [`MAX_DEPTH`], and
//!   trailing bytes. Its tests hold it to an independent oracle: ciborium's parser followed by
//!   [`encode`] and a byte comparison.
//! * [`MapReader`] takes named fields out of a decoded map and, at [`MapReader::finish`],
//!   refuses any field the format does not define.

use std::fmt;

pub use ciborium::Value;

/// A decoded CBOR item that borrows its strings from the input: what [`decode_item`] returns
/// and [`MapReader`] reads. Decoding this way allocates only for arrays, maps and tags, not
/// for every string; [`Item::to_value`] gives the owned [`Value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// An integer of major type 0 (`Uint(n)` = n) or 1 (`Nint(n)` = -1 - n).
    Uint(u64),
    /// See [`Item::Uint`].
    Nint(u64),
    /// A byte string.
    Bytes(&'a [u8]),
    /// A text string (valid UTF-8).
    Text(&'a str),
    /// An array.
    Array(Vec<Item<'a>>),
    /// A map, in input order (keys strictly rising in deterministic order).
    Map(Vec<(Item<'a>, Item<'a>)>),
    /// A tagged item.
    Tag(u64, Box<Item<'a>>),
    /// `false` or `true`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Item<'_> {
    /// The item as an owned [`Value`].
    pub fn to_value(&self) -> Value {
        match self {
            Item::Uint(n) => Value::Integer((*n).into()),
            // -1 - n for every n of 64 bits fits ciborium's Integer (-2^64 ..= 2^64 - 1).
            Item::Nint(n) => Value::Integer(
                ciborium::value::Integer::try_from(-1 - i128::from(*n)).unwrap_or_else(|_| unreachable!()),
            ),
            Item::Bytes(b) => Value::Bytes(b.to_vec()),
            Item::Text(t) => Value::Text((*t).to_owned()),
            Item::Array(a) => Value::Array(a.iter().map(Item::to_value).collect()),
            Item::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.to_value(), v.to_value())).collect()),
            Item::Tag(t, i) => Value::Tag(*t, Box::new(i.to_value())),
            Item::Bool(b) => Value::Bool(*b),
            Item::Null => Value::Null,
        }
    }
}

/// Deepest nesting of arrays, maps and tags accepted by [`encode`] and [`decode`]: a scalar
/// at the top level has depth 0, `[0]` depth 1, `[[0]]` depth 2.
///
/// Why 16: accord's deepest structure nests 3 levels (tag 18 → COSE_Sign1 array → header map;
/// payload map → norms array → norm-reference map), so 16 leaves ample room for later format
/// versions. Parsing recurses once per level (ciborium's serde deserializer, then [`encode`]
/// when re-encoding), so a small fixed limit keeps hostile input such as 10,000 nested arrays
/// from exhausting the stack; ciborium's own default of 256 is far more than accord needs.
pub const MAX_DEPTH: usize = 16;

/// RFC 8949 §3.4.3: tag 2 is an unsigned bignum, tag 3 a negative bignum.
const TAG_BIGNUM_POSITIVE: u64 = 2;
/// See [`TAG_BIGNUM_POSITIVE`].
const TAG_BIGNUM_NEGATIVE: u64 = 3;

/// How many characters of an unknown text key an error message shows.
const KEY_PREVIEW_CHARS: usize = 64;

/// What is wrong with CBOR bytes, or with a CBOR value read against a format.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The input is longer than the caller allows; it was not parsed.
    #[error("input is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Input length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not well-formed CBOR, or truncated; the text says what the parser found.
    #[error("not well-formed CBOR: {0}")]
    Malformed(String),
    /// Bytes follow the one CBOR item.
    #[error("trailing bytes after the CBOR item, which ends at offset {offset}")]
    TrailingBytes {
        /// Where the item ended (the offset of the first extra byte).
        offset: usize,
    },
    /// Well-formed CBOR, but not the deterministic encoding: re-encoding gives other bytes.
    #[error(
        "CBOR is not in deterministic encoding (RFC 8949 §4.2.1): non-shortest integer or \
         length, indefinite length, unsorted map keys or another alternative form"
    )]
    NotCanonical,
    /// A floating-point value; accord never uses them.
    #[error("floating-point values are not allowed")]
    Float,
    /// A bignum (tag 2 or 3); accord integers fit in 64 bits.
    #[error("bignums (tag {tag}) are not allowed")]
    Bignum {
        /// The tag found: 2 or 3.
        tag: u64,
    },
    /// A map holds the same key twice.
    #[error("map has a duplicate key")]
    DuplicateKey,
    /// Arrays, maps and tags nested deeper than allowed.
    #[error("CBOR is nested deeper than {max} levels")]
    TooDeep {
        /// The limit, [`MAX_DEPTH`].
        max: usize,
    },
    /// A value of the wrong CBOR type.
    #[error("{field}: expected {expected}")]
    WrongType {
        /// The field (or structure) that was read.
        field: String,
        /// What was expected, such as "a byte string".
        expected: &'static str,
    },
    /// A required field is absent.
    #[error("{what}: missing field {field}")]
    MissingField {
        /// The structure, such as "attestation payload".
        what: &'static str,
        /// The field's label.
        field: String,
    },
    /// A field the format does not define.
    #[error("{what}: unknown field {field}")]
    UnknownField {
        /// The structure, such as "attestation payload".
        what: &'static str,
        /// The unexpected key (text keys escaped and shortened).
        field: String,
    },
    /// A byte string of the wrong length.
    #[error("{field}: expected {expected} bytes, found {got}")]
    BadLength {
        /// The field that was read.
        field: String,
        /// The length required.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// An integer outside the range the field (or CBOR's 64-bit heads) allows.
    #[error("{field}: integer out of range")]
    OutOfRange {
        /// The field that was read.
        field: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Appends a head (RFC 8949 §3: major type and argument) with the argument in its shortest
/// form, as §4.2.1 requires ("preferred serialization" for integers, lengths and tags).
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let mt = major << 5;
    if n < 24 {
        // Fits the 5-bit additional information directly.
        out.push(mt | n as u8);
    } else if let Ok(b) = u8::try_from(n) {
        out.push(mt | 24);
        out.push(b);
    } else if let Ok(w) = u16::try_from(n) {
        out.push(mt | 25);
        out.extend_from_slice(&w.to_be_bytes());
    } else if let Ok(d) = u32::try_from(n) {
        out.push(mt | 26);
        out.extend_from_slice(&d.to_be_bytes());
    } else {
        out.push(mt | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends a byte string (head and content) in deterministic encoding, for hot paths that
/// build a known structure (such as COSE's Sig_structure) without a [`Value`] tree.
pub fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

/// Refuses to open one more level of nesting when `depth` containers already enclose it.
fn enter(depth: usize) -> Result<usize, CodecError> {
    if depth >= MAX_DEPTH {
        Err(CodecError::TooDeep { max: MAX_DEPTH })
    } else {
        Ok(depth + 1)
    }
}

/// Encodes `v`, which `depth` arrays, maps or tags enclose, onto `out`.
fn encode_into(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), CodecError> {
    match v {
        Value::Integer(i) => {
            // RFC 8949 §3.1: major type 0 carries n, major type 1 carries -1 - n.
            let n = i128::from(*i);
            let out_of_range = || CodecError::OutOfRange {
                field: format!("integer {n}"),
            };
            if n >= 0 {
                head(out, 0, u64::try_from(n).map_err(|_| out_of_range())?);
            } else {
                head(out, 1, u64::try_from(-1 - n).map_err(|_| out_of_range())?);
            }
        }
        Value::Bytes(b) => push_bytes(out, b),
        Value::Text(t) => {
            head(out, 3, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        Value::Array(items) => {
            let inner = enter(depth)?;
            head(out, 4, items.len() as u64);
            for item in items {
                encode_into(item, out, inner)?;
            }
        }
        Value::Map(entries) => {
            let inner = enter(depth)?;
            encode_map(entries, out, inner)?;
        }
        Value::Tag(tag, content) => {
            if *tag == TAG_BIGNUM_POSITIVE || *tag == TAG_BIGNUM_NEGATIVE {
                return Err(CodecError::Bignum { tag: *tag });
            }
            let inner = enter(depth)?;
            head(out, 6, *tag);
            encode_into(content, out, inner)?;
        }
        // RFC 8949 §3.3: simple values 20, 21, 22.
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Float(_) => return Err(CodecError::Float),
        // `Value` is #[non_exhaustive]; refuse whatever a later ciborium may add.
        _ => return Err(CodecError::Malformed("unsupported kind of CBOR value".into())),
    }
    Ok(())
}

/// Encodes a map whose entries sit at nesting depth `depth`: RFC 8949 §4.2.1 sorts the keys
/// by the bytewise lexicographic order of their deterministic encodings. (This is not the
/// "length-first" order of RFC 7049 §3.9: the key 24, `0x1818`, sorts before -1, `0x20`.)
fn encode_map(entries: &[(Value, Value)], out: &mut Vec<u8>, depth: usize) -> Result<(), CodecError> {
    // Encode every entry once into a scratch buffer, remembering where each key and entry
    // ends, then sort the spans by key bytes and copy them out in order.
    let mut scratch = Vec::new();
    let mut spans: Vec<(usize, usize, usize)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let start = scratch.len();
        encode_into(key, &mut scratch, depth)?;
        let key_end = scratch.len();
        encode_into(value, &mut scratch, depth)?;
        spans.push((start, key_end, scratch.len()));
    }
    // The spans were recorded above while writing `scratch`, so they are in bounds.
    let key = |s: &(usize, usize, usize)| &scratch[s.0..s.1];
    spans.sort_unstable_by(|a, b| key(a).cmp(key(b)));
    if spans.windows(2).any(|w| key(&w[0]) == key(&w[1])) {
        return Err(CodecError::DuplicateKey);
    }
    head(out, 5, spans.len() as u64);
    for s in &spans {
        out.extend_from_slice(&scratch[s.0..s.2]);
    }
    Ok(())
}

/// Encodes `v` in the deterministic encoding of RFC 8949 §4.2.1: shortest heads, definite
/// lengths, map keys sorted by their encoded bytes.
///
/// # Errors
/// [`CodecError::Float`] for a floating-point value, [`CodecError::Bignum`] for tag 2 or 3,
/// [`CodecError::DuplicateKey`] for a map with two equal keys, [`CodecError::TooDeep`] beyond
/// [`MAX_DEPTH`] levels, [`CodecError::Malformed`] for a kind of value this module does not
/// know.
pub fn encode(v: &Value) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(v, &mut out, 0)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// A strict, single-pass reader of deterministic CBOR: it checks each rule of RFC 8949
/// §4.2.1 at the byte where it could be broken, so decoding never re-encodes and costs one
/// pass over the input.
struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

/// Why a read ran past the end of the input.
fn truncated(pos: usize) -> CodecError {
    CodecError::Malformed(format!("input ends inside an item (at offset {pos})"))
}

impl<'a> Parser<'a> {
    /// The next `n` bytes, or [`CodecError::Malformed`] if the input ends first. Lengths are
    /// checked against what is left before anything is allocated.
    fn take(&mut self, n: u64) -> Result<&'a [u8], CodecError> {
        let left = self.input.len() - self.pos;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| truncated(self.input.len()))?;
        let out = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A big-endian argument of `N` bytes that must not fit in fewer (§4.2.1: "preferred
    /// serialization"): `min` is the smallest value that needs this width.
    fn argument<const N: usize>(&mut self, min: u64) -> Result<u64, CodecError> {
        let mut buf = [0u8; 8];
        buf[8 - N..].copy_from_slice(self.take(N as u64)?);
        let n = u64::from_be_bytes(buf);
        if n < min {
            return Err(CodecError::NotCanonical);
        }
        Ok(n)
    }

    /// Reads one data item that `depth` arrays, maps or tags enclose.
    fn item(&mut self, depth: usize) -> Result<Item<'a>, CodecError> {
        let start = self.pos;
        let initial = self.take(1)?[0];
        let (major, info) = (initial >> 5, initial & 0x1f);
        if major == 7 {
            return self.simple(info, start);
        }
        let n = match info {
            0..=23 => u64::from(info),
            24 => self.argument::<1>(24)?,
            25 => self.argument::<2>(0x100)?,
            26 => self.argument::<4>(0x1_0000)?,
            27 => self.argument::<8>(0x1_0000_0000)?,
            // Indefinite lengths are well-formed for strings, arrays and maps, but never
            // deterministic; for integers and tags they are not CBOR at all.
            31 if (2..=5).contains(&major) => return Err(CodecError::NotCanonical),
            _ => {
                return Err(CodecError::Malformed(format!(
                    "reserved or invalid additional information {info} (item at offset {start})"
                )))
            }
        };
        Ok(match major {
            0 => Item::Uint(n),
            1 => Item::Nint(n),
            2 => Item::Bytes(self.take(n)?),
            3 => Item::Text(std::str::from_utf8(self.take(n)?).map_err(|_| {
                CodecError::Malformed(format!("text string is not UTF-8 (item at offset {start})"))
            })?),
            4 => {
                let inner = enter(depth)?;
                // Every element takes at least one byte, so this capacity is bounded by the input.
                let mut items = Vec::with_capacity(n.min((self.input.len() - self.pos) as u64) as usize);
                for _ in 0..n {
                    items.push(self.item(inner)?);
                }
                Item::Array(items)
            }
            5 => {
                let inner = enter(depth)?;
                let cap = n.min((self.input.len() - self.pos) as u64 / 2) as usize;
                let mut entries = Vec::with_capacity(cap);
                let mut last_key: Option<&[u8]> = None;
                for _ in 0..n {
                    let key_start = self.pos;
                    let key = self.item(inner)?;
                    // The key was read strictly, so its bytes are its deterministic encoding:
                    // keys must rise strictly in bytewise order.
                    let key_bytes = &self.input[key_start..self.pos];
                    if let Some(prev) = last_key {
                        match prev.cmp(key_bytes) {
                            std::cmp::Ordering::Less => {}
                            std::cmp::Ordering::Equal => return Err(CodecError::DuplicateKey),
                            std::cmp::Ordering::Greater => return Err(CodecError::NotCanonical),
                        }
                    }
                    last_key = Some(key_bytes);
                    let value = self.item(inner)?;
                    entries.push((key, value));
                }
                Item::Map(entries)
            }
            // Major type 6, a tag.
            _ => {
                if n == TAG_BIGNUM_POSITIVE || n == TAG_BIGNUM_NEGATIVE {
                    return Err(CodecError::Bignum { tag: n });
                }
                let inner = enter(depth)?;
                Item::Tag(n, Box::new(self.item(inner)?))
            }
        })
    }

    /// Major type 7: only `false`, `true` and `null` are accepted (RFC 8949 §3.3).
    fn simple(&mut self, info: u8, start: usize) -> Result<Item<'a>, CodecError> {
        match info {
            20 => Ok(Item::Bool(false)),
            21 => Ok(Item::Bool(true)),
            22 => Ok(Item::Null),
            // `undefined` is well-formed, but accord writes `null`.
            23 => Err(CodecError::NotCanonical),
            25..=27 => {
                self.take(1 << (info - 24))?;
                Err(CodecError::Float)
            }
            31 => Err(CodecError::Malformed(format!(
                "break code outside an indefinite-length item (at offset {start})"
            ))),
            _ => Err(CodecError::Malformed(format!(
                "unassigned or reserved simple value (item at offset {start})"
            ))),
        }
    }
}

/// Decodes exactly one CBOR item in deterministic encoding from `bytes`, which must not be
/// longer than `max_len`.
///
/// The length is checked before any parsing. Then one pass reads the item and refuses, where
/// it finds them: a head not in its shortest form, an indefinite length, map keys not in
/// strictly rising bytewise order of their encodings (equal keys are
/// [`CodecError::DuplicateKey`]), floats, bignum tags, `undefined` and other simple values
/// than `false`, `true` and `null`, nesting deeper than [`MAX_DEPTH`], text that is not
/// UTF-8, and finally trailing bytes. What it accepts is exactly what [`encode`] writes: the
/// tests check this against an independent decoder (ciborium followed by re-encoding).
///
/// # Errors
/// [`CodecError::TooLarge`], [`CodecError::Malformed`] (not CBOR, truncated, empty, invalid
/// UTF-8, unknown simple value), [`CodecError::TooDeep`], [`CodecError::TrailingBytes`],
/// [`CodecError::Float`], [`CodecError::Bignum`], [`CodecError::DuplicateKey`], and
/// [`CodecError::NotCanonical`] when the input is valid CBOR written in any form other than
/// the deterministic one.
pub fn decode_item(bytes: &[u8], max_len: usize) -> Result<Item<'_>, CodecError> {
    if bytes.len() > max_len {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    if bytes.is_empty() {
        return Err(CodecError::Malformed("empty input".into()));
    }
    let mut p = Parser { input: bytes, pos: 0 };
    let item = p.item(0)?;
    if p.pos != bytes.len() {
        return Err(CodecError::TrailingBytes { offset: p.pos });
    }
    Ok(item)
}

/// [`decode_item`], giving an owned [`Value`].
///
/// # Errors
/// As [`decode_item`].
pub fn decode(bytes: &[u8], max_len: usize) -> Result<Value, CodecError> {
    decode_item(bytes, max_len).map(|i| i.to_value())
}

// ---------------------------------------------------------------------------------------------
// Reading maps
// ---------------------------------------------------------------------------------------------

/// A map key label: COSE uses integer labels (RFC 9052 §3.1), accord payloads text labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// An integer label.
    Int(i64),
    /// A text label.
    Text(&'static str),
}

impl From<i64> for Label {
    fn from(i: i64) -> Self {
        Label::Int(i)
    }
}

impl From<&'static str> for Label {
    fn from(s: &'static str) -> Self {
        Label::Text(s)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Int(i) => write!(f, "{i}"),
            Label::Text(s) => f.write_str(s),
        }
    }
}

impl Label {
    /// The label as a CBOR value (a map key).
    pub fn to_value(self) -> Value {
        match self {
            Label::Int(i) => Value::Integer(i.into()),
            Label::Text(s) => Value::Text(s.to_string()),
        }
    }

    /// Whether the map key `v` is this label.
    fn matches(self, v: &Item<'_>) -> bool {
        match (self, v) {
            (Label::Int(i), Item::Uint(n)) => u64::try_from(i) == Ok(*n),
            (Label::Int(i), Item::Nint(n)) => i < 0 && (-1 - i) as u64 == *n,
            (Label::Text(s), Item::Text(t)) => s == *t,
            _ => false,
        }
    }
}

/// Names a map key found in input for an error message: integers as numbers, text escaped
/// (no control characters reach a terminal) and cut to [`KEY_PREVIEW_CHARS`] characters.
fn describe_key(v: &Item<'_>) -> String {
    match v {
        Item::Uint(n) => n.to_string(),
        Item::Nint(n) => (-1 - i128::from(*n)).to_string(),
        Item::Text(t) => {
            let mut s: String = t
                .chars()
                .take(KEY_PREVIEW_CHARS)
                .flat_map(char::escape_debug)
                .collect();
            if t.chars().nth(KEY_PREVIEW_CHARS).is_some() {
                s.push('…');
            }
            format!("\"{s}\"")
        }
        Item::Bytes(_) => "(a byte-string key)".into(),
        Item::Array(_) => "(an array key)".into(),
        Item::Map(_) => "(a map key)".into(),
        Item::Tag(..) => "(a tagged key)".into(),
        Item::Bool(_) | Item::Null => "(a non-text key)".into(),
    }
}

/// Takes fields out of a decoded CBOR map by label; [`MapReader::finish`] then refuses any
/// field that was not taken, so a format cannot grow silently.
///
/// Error messages name the field as `<label> in <what>`, for example `nonce in attestation
/// payload: expected 16 bytes, found 3`.
#[derive(Debug)]
pub struct MapReader<'a> {
    /// The structure being read, for error messages (such as "attestation payload").
    what: &'static str,
    /// Entries not taken yet, in input order.
    entries: Vec<(Item<'a>, Item<'a>)>,
}

impl<'a> MapReader<'a> {
    /// Starts reading `v`, which must be a map; `what` names it in error messages.
    ///
    /// # Errors
    /// [`CodecError::WrongType`] if `v` is not a map.
    pub fn new(v: Item<'a>, what: &'static str) -> Result<Self, CodecError> {
        match v {
            Item::Map(entries) => Ok(MapReader { what, entries }),
            _ => Err(CodecError::WrongType {
                field: what.to_string(),
                expected: "a map",
            }),
        }
    }

    /// The structure's name, as given to [`MapReader::new`].
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The field's name in error messages.
    fn field(&self, key: Label) -> String {
        format!("{key} in {}", self.what)
    }

    /// Removes and returns the value under `key`, if any.
    fn take(&mut self, key: Label) -> Result<Option<Item<'a>>, CodecError> {
        let Some(pos) = self.entries.iter().position(|(k, _)| key.matches(k)) else {
            return Ok(None);
        };
        let (_, value) = self.entries.remove(pos);
        // `decode` never yields a duplicate key; a hand-built map might.
        if self.entries.iter().any(|(k, _)| key.matches(k)) {
            return Err(CodecError::DuplicateKey);
        }
        Ok(Some(value))
    }

    /// Removes and returns the value under `key`, which must be present.
    fn required(&mut self, key: Label) -> Result<Item<'a>, CodecError> {
        self.take(key)?.ok_or_else(|| CodecError::MissingField {
            what: self.what,
            field: key.to_string(),
        })
    }

    /// Takes the value under `key`, of any type.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::DuplicateKey`].
    pub fn value(&mut self, key: impl Into<Label>) -> Result<Item<'a>, CodecError> {
        self.required(key.into())
    }

    /// Takes an unsigned integer (0 ..= 2^64 - 1).
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`], [`CodecError::OutOfRange`]
    /// for a negative integer.
    pub fn uint(&mut self, key: impl Into<Label>) -> Result<u64, CodecError> {
        let key = key.into();
        let v = self.required(key)?;
        uint_of(&v).map_err(|f| f.at(self.field(key)))
    }

    /// Takes a signed integer that fits in an `i64`.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`], [`CodecError::OutOfRange`].
    pub fn int(&mut self, key: impl Into<Label>) -> Result<i64, CodecError> {
        let key = key.into();
        let v = self.required(key)?;
        int_of(&v).map_err(|f| f.at(self.field(key)))
    }

    /// Takes a text string.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`].
    pub fn text(&mut self, key: impl Into<Label>) -> Result<String, CodecError> {
        self.text_ref(key).map(str::to_owned)
    }

    /// Takes a text string, borrowed from the input.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`].
    pub fn text_ref(&mut self, key: impl Into<Label>) -> Result<&'a str, CodecError> {
        let key = key.into();
        let v = self.required(key)?;
        self.text_of(v, key)
    }

    /// Takes a byte string.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`].
    pub fn bytes(&mut self, key: impl Into<Label>) -> Result<Vec<u8>, CodecError> {
        self.bytes_ref(key).map(<[u8]>::to_vec)
    }

    /// Takes a byte string, borrowed from the input.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`].
    pub fn bytes_ref(&mut self, key: impl Into<Label>) -> Result<&'a [u8], CodecError> {
        let key = key.into();
        let v = self.required(key)?;
        self.bytes_of(v, key)
    }

    /// Takes a byte string of exactly `N` bytes.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`], [`CodecError::BadLength`].
    pub fn bytes_n<const N: usize>(&mut self, key: impl Into<Label>) -> Result<[u8; N], CodecError> {
        let key = key.into();
        let v = self.required(key)?;
        bytes_n_of::<N>(&v).map_err(|f| f.at(self.field(key)))
    }

    /// Takes an array.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`].
    pub fn array(&mut self, key: impl Into<Label>) -> Result<Vec<Item<'a>>, CodecError> {
        let key = key.into();
        let v = self.required(key)?;
        self.array_of(v, key)
    }

    /// Takes a nested map and returns a reader for it; `what` names the nested structure.
    ///
    /// # Errors
    /// [`CodecError::MissingField`], [`CodecError::WrongType`].
    pub fn map(&mut self, key: impl Into<Label>, what: &'static str) -> Result<MapReader<'a>, CodecError> {
        let key = key.into();
        match self.required(key)? {
            Item::Map(entries) => Ok(MapReader { what, entries }),
            _ => Err(self.wrong_type(key, "a map")),
        }
    }

    /// Takes an unsigned integer if present.
    ///
    /// # Errors
    /// As [`MapReader::uint`], except that absence gives `Ok(None)`.
    pub fn opt_uint(&mut self, key: impl Into<Label>) -> Result<Option<u64>, CodecError> {
        let key = key.into();
        self.take(key)?
            .map(|v| uint_of(&v).map_err(|f| f.at(self.field(key))))
            .transpose()
    }

    /// Takes a signed integer if present.
    ///
    /// # Errors
    /// As [`MapReader::int`], except that absence gives `Ok(None)`.
    pub fn opt_int(&mut self, key: impl Into<Label>) -> Result<Option<i64>, CodecError> {
        let key = key.into();
        self.take(key)?
            .map(|v| int_of(&v).map_err(|f| f.at(self.field(key))))
            .transpose()
    }

    /// Takes a text string if present.
    ///
    /// # Errors
    /// As [`MapReader::text`], except that absence gives `Ok(None)`.
    pub fn opt_text(&mut self, key: impl Into<Label>) -> Result<Option<String>, CodecError> {
        let key = key.into();
        self.take(key)?
            .map(|v| self.text_of(v, key).map(str::to_owned))
            .transpose()
    }

    /// Takes a byte string if present.
    ///
    /// # Errors
    /// As [`MapReader::bytes`], except that absence gives `Ok(None)`.
    pub fn opt_bytes(&mut self, key: impl Into<Label>) -> Result<Option<Vec<u8>>, CodecError> {
        let key = key.into();
        self.take(key)?
            .map(|v| self.bytes_of(v, key).map(<[u8]>::to_vec))
            .transpose()
    }

    /// Takes an array if present.
    ///
    /// # Errors
    /// As [`MapReader::array`], except that absence gives `Ok(None)`.
    pub fn opt_array(&mut self, key: impl Into<Label>) -> Result<Option<Vec<Item<'a>>>, CodecError> {
        let key = key.into();
        self.take(key)?.map(|v| self.array_of(v, key)).transpose()
    }

    /// Takes a value of any type if present.
    ///
    /// # Errors
    /// [`CodecError::DuplicateKey`] for a hand-built map holding `key` twice.
    pub fn opt_value(&mut self, key: impl Into<Label>) -> Result<Option<Item<'a>>, CodecError> {
        self.take(key.into())
    }

    /// Ends reading: every field must have been taken.
    ///
    /// # Errors
    /// [`CodecError::UnknownField`] naming the first field left over, in input order (for
    /// decoded input, the smallest key in deterministic order).
    pub fn finish(self) -> Result<(), CodecError> {
        match self.entries.first() {
            None => Ok(()),
            Some((k, _)) => Err(CodecError::UnknownField {
                what: self.what,
                field: describe_key(k),
            }),
        }
    }

    fn wrong_type(&self, key: Label, expected: &'static str) -> CodecError {
        CodecError::WrongType {
            field: self.field(key),
            expected,
        }
    }

    fn text_of(&self, v: Item<'a>, key: Label) -> Result<&'a str, CodecError> {
        match v {
            Item::Text(t) => Ok(t),
            _ => Err(self.wrong_type(key, "a text string")),
        }
    }

    fn bytes_of(&self, v: Item<'a>, key: Label) -> Result<&'a [u8], CodecError> {
        match v {
            Item::Bytes(b) => Ok(b),
            _ => Err(self.wrong_type(key, "a byte string")),
        }
    }

    fn array_of(&self, v: Item<'a>, key: Label) -> Result<Vec<Item<'a>>, CodecError> {
        match v {
            Item::Array(a) => Ok(a),
            _ => Err(self.wrong_type(key, "an array")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Builders and element readers
// ---------------------------------------------------------------------------------------------

/// A text string value.
pub fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// A byte string value.
pub fn bytes(b: impl Into<Vec<u8>>) -> Value {
    Value::Bytes(b.into())
}

/// An unsigned integer value.
pub fn uint(n: u64) -> Value {
    Value::Integer(n.into())
}

/// A signed integer value.
pub fn int(n: i64) -> Value {
    Value::Integer(n.into())
}

/// A map from (label, value) pairs; their order does not matter, [`encode`] sorts the keys.
pub fn map<I: IntoIterator<Item = (Label, Value)>>(entries: I) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (k.to_value(), v)).collect())
}

/// Reads a text string element; `field` names it in errors (such as `scope[2]`).
///
/// # Errors
/// [`CodecError::WrongType`].
pub fn as_text<'a>(v: &Item<'a>, field: &str) -> Result<&'a str, CodecError> {
    match v {
        Item::Text(t) => Ok(t),
        _ => Err(CodecError::WrongType {
            field: field.to_string(),
            expected: "a text string",
        }),
    }
}

/// Reads a byte string element; `field` names it in errors.
///
/// # Errors
/// [`CodecError::WrongType`].
pub fn as_bytes<'a>(v: &Item<'a>, field: &str) -> Result<&'a [u8], CodecError> {
    match v {
        Item::Bytes(b) => Ok(b),
        _ => Err(CodecError::WrongType {
            field: field.to_string(),
            expected: "a byte string",
        }),
    }
}

/// What is wrong with a value, before the field it sits in is named: the name is formatted
/// only when there is an error to report.
enum Fault {
    WrongType(&'static str),
    OutOfRange,
    BadLength { expected: usize, got: usize },
}

impl Fault {
    fn at(self, field: String) -> CodecError {
        match self {
            Fault::WrongType(expected) => CodecError::WrongType { field, expected },
            Fault::OutOfRange => CodecError::OutOfRange { field },
            Fault::BadLength { expected, got } => CodecError::BadLength { field, expected, got },
        }
    }
}

fn bytes_n_of<const N: usize>(v: &Item<'_>) -> Result<[u8; N], Fault> {
    match v {
        Item::Bytes(b) => <[u8; N]>::try_from(*b).map_err(|_| Fault::BadLength {
            expected: N,
            got: b.len(),
        }),
        _ => Err(Fault::WrongType("a byte string")),
    }
}

fn uint_of(v: &Item<'_>) -> Result<u64, Fault> {
    match v {
        Item::Uint(n) => Ok(*n),
        Item::Nint(_) => Err(Fault::OutOfRange),
        _ => Err(Fault::WrongType("an unsigned integer")),
    }
}

fn int_of(v: &Item<'_>) -> Result<i64, Fault> {
    match v {
        Item::Uint(n) => i64::try_from(*n).map_err(|_| Fault::OutOfRange),
        // -1 - n fits an i64 exactly when n does.
        Item::Nint(n) => i64::try_from(*n).map(|n| -1 - n).map_err(|_| Fault::OutOfRange),
        _ => Err(Fault::WrongType("an integer")),
    }
}

/// Reads a byte string element of exactly `N` bytes; `field` names it in errors.
///
/// # Errors
/// [`CodecError::WrongType`], [`CodecError::BadLength`].
pub fn as_bytes_n<const N: usize>(v: &Item<'_>, field: &str) -> Result<[u8; N], CodecError> {
    bytes_n_of::<N>(v).map_err(|f| f.at(field.to_string()))
}

/// Reads an unsigned integer element; `field` names it in errors.
///
/// # Errors
/// [`CodecError::WrongType`], [`CodecError::OutOfRange`] for a negative integer.
pub fn as_uint(v: &Item<'_>, field: &str) -> Result<u64, CodecError> {
    uint_of(v).map_err(|f| f.at(field.to_string()))
}

/// Reads a signed integer element that fits in an `i64`; `field` names it in errors.
///
/// # Errors
/// [`CodecError::WrongType`], [`CodecError::OutOfRange`].
pub fn as_int(v: &Item<'_>, field: &str) -> Result<i64, CodecError> {
    int_of(v).map_err(|f| f.at(field.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::value::Integer;
    use proptest::prelude::*;

    fn enc(v: &Value) -> Vec<u8> {
        encode(v).expect("encodable")
    }

    /// `v` with every map's entries in deterministic key order: what decode(encode(v)) gives.
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
            Value::Map(m) => {
                let mut m: Vec<(Value, Value)> =
                    m.iter().map(|(k, x)| (canonical(k), canonical(x))).collect();
                m.sort_by_key(|(k, _)| enc(k));
                Value::Map(m)
            }
            Value::Tag(t, x) => Value::Tag(*t, Box::new(canonical(x))),
            other => other.clone(),
        }
    }

    fn nested_arrays(levels: usize) -> Value {
        let mut v = uint(0);
        for _ in 0..levels {
            v = Value::Array(vec![v]);
        }
        v
    }

    // The oracle: the decoder accord used before its own single-pass one. ciborium parses
    // (accepting every alternative form), then `encode` writes the value back, and only input
    // identical to that re-encoding is deterministic.
    /// Turns a ciborium parse error into a [`CodecError`], keeping what ciborium said.
    fn parse_error(e: ciborium::de::Error<std::io::Error>) -> CodecError {
        use ciborium::de::Error;
        match e {
            Error::RecursionLimitExceeded => CodecError::TooDeep { max: MAX_DEPTH },
            Error::Io(io) => CodecError::Malformed(format!("input ends inside an item ({io})")),
            Error::Syntax(offset) => CodecError::Malformed(format!("syntax error at offset {offset}")),
            Error::Semantic(Some(offset), msg) => {
                CodecError::Malformed(format!("{msg} (item at offset {offset})"))
            }
            Error::Semantic(None, msg) => CodecError::Malformed(msg),
        }
    }

    fn reference_decode(bytes: &[u8]) -> Result<Value, CodecError> {
        if bytes.is_empty() {
            return Err(CodecError::Malformed("empty input".into()));
        }
        let mut rest = bytes;
        let value: Value =
            ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH).map_err(parse_error)?;
        if !rest.is_empty() {
            return Err(CodecError::TrailingBytes {
                offset: bytes.len() - rest.len(),
            });
        }
        if encode(&value)? != bytes {
            return Err(CodecError::NotCanonical);
        }
        Ok(value)
    }

    fn big(n: i128) -> Value {
        Value::Integer(Integer::try_from(n).expect("in CBOR's integer range"))
    }

    #[test]
    fn round_trips_a_nested_structure() {
        let v = map([
            (
                "list".into(),
                Value::Array(vec![
                    uint(1),
                    int(-500),
                    bytes(vec![7; 5000]), // longer than ciborium's 4096-byte scratch buffer
                    text("héllo ✓"),
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Null,
                ]),
            ),
            (
                3i64.into(),
                Value::Tag(18, Box::new(Value::Array(vec![bytes(vec![]), map([])]))),
            ),
            (
                Label::Int(-1),
                map([
                    ("max".into(), uint(u64::MAX)),
                    ("min".into(), big(-(1i128 << 64))),
                ]),
            ),
            ("t".into(), text("x".repeat(5000))),
        ]);
        let b = enc(&v);
        let back = decode(&b, b.len()).expect("decodes");
        assert_eq!(back, canonical(&v));
        assert_eq!(enc(&back), b);
        // An exact limit is allowed; one byte less is not.
        assert_eq!(
            decode(&b, b.len() - 1),
            Err(CodecError::TooLarge {
                len: b.len(),
                max: b.len() - 1
            })
        );
    }

    #[test]
    fn map_keys_sort_by_their_encoded_bytes() {
        // RFC 8949 §4.2.1's own example order: 10, 100, -1, "z", "aa", [100], [-1], false.
        let keys = [
            Value::Bool(false),
            text("aa"),
            Value::Array(vec![int(-1)]),
            int(-1),
            text("z"),
            uint(100),
            Value::Array(vec![uint(100)]),
            uint(10),
        ];
        let v = Value::Map(keys.iter().map(|k| (k.clone(), Value::Null)).collect());
        let mut want = vec![0xa8];
        for k in [
            &[0x0a][..],
            &[0x18, 0x64],
            &[0x20],
            &[0x61, b'z'],
            &[0x62, b'a', b'a'],
            &[0x81, 0x18, 0x64],
            &[0x81, 0x20],
            &[0xf4],
        ] {
            want.extend_from_slice(k);
            want.push(0xf6);
        }
        assert_eq!(enc(&v), want);
        assert!(decode(&want, 100).is_ok());

        // Integer labels (major types 0 and 1) sort before text (0x60..): shorter text first.
        let v = map([
            ("aa".into(), uint(0)),
            ("b".into(), uint(0)),
            (Label::Int(-1), uint(0)),
            (24i64.into(), uint(0)),
            (1i64.into(), uint(0)),
            ("a".into(), uint(0)),
        ]);
        assert_eq!(
            enc(&v),
            vec![
                0xa6, 0x01, 0x00, 0x18, 0x18, 0x00, 0x20, 0x00, 0x61, b'a', 0x00, 0x61, b'b', 0x00, 0x62,
                b'a', b'a', 0x00
            ]
        );
    }

    #[test]
    fn heads_are_shortest() {
        let cases: [(Value, &[u8]); 14] = [
            (uint(0), &[0x00]),
            (uint(23), &[0x17]),
            (uint(24), &[0x18, 24]),
            (uint(255), &[0x18, 0xff]),
            (uint(256), &[0x19, 1, 0]),
            (uint(65_535), &[0x19, 0xff, 0xff]),
            (uint(65_536), &[0x1a, 0, 1, 0, 0]),
            (uint(u32::MAX.into()), &[0x1a, 0xff, 0xff, 0xff, 0xff]),
            (uint(1 << 32), &[0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
            (
                uint(u64::MAX),
                &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            (int(-1), &[0x20]),
            (int(-24), &[0x37]),
            (int(-25), &[0x38, 24]),
            (
                big(-(1i128 << 64)),
                &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
        ];
        for (v, want) in cases {
            assert_eq!(enc(&v), want, "{v:?}");
            assert_eq!(decode(want, 9), Ok(v));
        }
        assert_eq!(enc(&bytes(vec![0; 23]))[0], 0x57);
        assert_eq!(enc(&bytes(vec![0; 24]))[..2], [0x58, 24]);
        assert_eq!(enc(&Value::Tag(18, Box::new(Value::Null))), [0xd2, 0xf6]);
        assert_eq!(
            enc(&Value::Tag(1000, Box::new(Value::Null))),
            [0xd9, 0x03, 0xe8, 0xf6]
        );
    }

    #[test]
    fn refuses_non_shortest_heads() {
        for b in [
            &[0x18, 0x01][..],                  // 1 in two bytes
            &[0x19, 0x00, 0x18],                // 24 in three bytes
            &[0x1a, 0x00, 0x00, 0x01, 0x00],    // 256 in five bytes
            &[0x1b, 0, 0, 0, 0, 0, 0, 0, 0x01], // 1 in nine bytes
            &[0x38, 0x00],                      // -1 in two bytes
            &[0x58, 0x01, 0x00],                // byte-string length
            &[0x78, 0x01, b'a'],                // text length
            &[0x98, 0x01, 0x00],                // array length
            &[0xb8, 0x01, 0x00, 0x00],          // map length
            &[0xd8, 0x12, 0xf6],                // tag 18 in two bytes
        ] {
            assert_eq!(decode(b, 16), Err(CodecError::NotCanonical), "{b:02x?}");
        }
    }

    #[test]
    fn refuses_indefinite_lengths() {
        for b in [
            &[0x9f, 0x01, 0xff][..],   // array
            &[0xbf, 0x01, 0x02, 0xff], // map
            &[0x5f, 0x41, 0x00, 0xff], // byte string in chunks
            &[0x7f, 0x61, b'a', 0xff], // text string in chunks
            &[0x9f, 0xff],             // empty array
        ] {
            assert_eq!(decode(b, 16), Err(CodecError::NotCanonical), "{b:02x?}");
        }
    }

    #[test]
    fn refuses_unsorted_and_duplicate_keys() {
        // {2: 0, 1: 0}
        assert_eq!(
            decode(&[0xa2, 0x02, 0x00, 0x01, 0x00], 16),
            Err(CodecError::NotCanonical)
        );
        // {"b": 0, "a": 0} and {"aa": 0, "b": 0} (longer key first)
        assert_eq!(
            decode(&[0xa2, 0x61, b'b', 0x00, 0x61, b'a', 0x00], 16),
            Err(CodecError::NotCanonical)
        );
        assert_eq!(
            decode(&[0xa2, 0x62, b'a', b'a', 0x00, 0x61, b'b', 0x00], 16),
            Err(CodecError::NotCanonical)
        );
        // {1: 0, 1: 0}, also with different values, and nested inside an array
        assert_eq!(
            decode(&[0xa2, 0x01, 0x00, 0x01, 0x00], 16),
            Err(CodecError::DuplicateKey)
        );
        assert_eq!(
            decode(&[0x81, 0xa2, 0x01, 0x00, 0x01, 0x01], 16),
            Err(CodecError::DuplicateKey)
        );
        let dup = Value::Map(vec![(uint(1), uint(0)), (uint(1), uint(1))]);
        assert_eq!(encode(&dup), Err(CodecError::DuplicateKey));
    }

    #[test]
    fn refuses_floats() {
        for b in [
            &[0xf9, 0x3c, 0x00][..],                     // half 1.0
            &[0xfa, 0x3f, 0x80, 0x00, 0x00],             // single 1.0
            &[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0],       // double 1.0
            &[0xf9, 0x00, 0x00],                         // half 0.0
            &[0x81, 0xf9, 0x7e, 0x00],                   // [NaN]
            &[0xa1, 0x00, 0xfa, 0x3f, 0x80, 0x00, 0x00], // {0: 1.0}
        ] {
            assert_eq!(decode(b, 16), Err(CodecError::Float), "{b:02x?}");
        }
        assert_eq!(encode(&Value::Float(1.0)), Err(CodecError::Float));
        assert_eq!(
            encode(&Value::Array(vec![Value::Float(0.0)])),
            Err(CodecError::Float)
        );
    }

    #[test]
    fn refuses_trailing_bytes() {
        assert_eq!(
            decode(&[0x01, 0x02], 16),
            Err(CodecError::TrailingBytes { offset: 1 })
        );
        assert_eq!(
            decode(&[0xa1, 0x01, 0x02, 0x00], 16),
            Err(CodecError::TrailingBytes { offset: 3 })
        );
    }

    #[test]
    fn refuses_truncated_and_malformed_input() {
        for b in [
            &[][..],                                                 // empty
            &[0x62, b'a'],                                           // text of 2 with 1 byte
            &[0x18],                                                 // missing argument
            &[0x82, 0x01],                                           // array of 2 with 1 element
            &[0xa1, 0x01],                                           // map without value
            &[0x5a, 0xff, 0xff, 0xff, 0xff, 0x00],                   // claims 4 GiB of bytes
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // claims 2^64-1 elements
            &[0x1c],                                                 // reserved additional information
            &[0xff],                                                 // lone break
            &[0x62, 0xc3, 0x28],                                     // invalid UTF-8
            &[0xf0],                                                 // unassigned simple value
        ] {
            match decode(b, 16) {
                Err(CodecError::Malformed(msg)) => assert!(!msg.is_empty()),
                other => panic!("{b:02x?}: {other:?}"),
            }
        }
        // What ciborium said is kept.
        let Err(CodecError::Malformed(msg)) = decode(&[0x62, b'a'], 16) else {
            panic!("expected Malformed");
        };
        assert!(msg.contains("ends inside an item"), "{msg}");
    }

    #[test]
    fn refuses_undefined_in_place_of_null() {
        // `undefined` (0xf7) is well-formed, but accord writes null (0xf6).
        assert_eq!(decode(&[0xf7], 16), Err(CodecError::NotCanonical));
    }

    #[test]
    fn checks_the_size_before_parsing() {
        // 0xff is not a valid start, so parsing would have said Malformed.
        assert_eq!(
            decode(&[0xff; 11], 10),
            Err(CodecError::TooLarge { len: 11, max: 10 })
        );
        assert_eq!(decode(&[0x00], 0), Err(CodecError::TooLarge { len: 1, max: 0 }));
    }

    #[test]
    fn refuses_deep_nesting_without_overflowing_the_stack() {
        let levels = 10_000;
        for open in [&[0x81u8][..], &[0xa1, 0x00], &[0xd8, 0x20]] {
            let mut b = open.repeat(levels);
            b.push(0x00);
            assert_eq!(
                decode(&b, b.len()),
                Err(CodecError::TooDeep { max: MAX_DEPTH }),
                "{open:02x?}"
            );
        }
        // The limit is exact and the same for both directions.
        let ok = nested_arrays(MAX_DEPTH);
        let b = enc(&ok);
        assert_eq!(decode(&b, 100), Ok(ok));
        let deep = nested_arrays(MAX_DEPTH + 1);
        assert_eq!(encode(&deep), Err(CodecError::TooDeep { max: MAX_DEPTH }));
        let mut b = vec![0x81; MAX_DEPTH + 1];
        b.push(0x00);
        assert_eq!(decode(&b, 100), Err(CodecError::TooDeep { max: MAX_DEPTH }));
        // An empty container counts as a level too.
        let mut b = vec![0x81; MAX_DEPTH];
        b.push(0x80);
        assert_eq!(decode(&b, 100), Err(CodecError::TooDeep { max: MAX_DEPTH }));
        let mut v = Value::Array(vec![]);
        for _ in 0..MAX_DEPTH {
            v = Value::Array(vec![v]);
        }
        assert_eq!(encode(&v), Err(CodecError::TooDeep { max: MAX_DEPTH }));
    }

    #[test]
    fn refuses_bignums() {
        // Tag 2 of h'01' (the integer 1), tag 3 of h'00' (-1), tag 2 of h'' (0): small
        // bignums are an alternative form of plain integers, refused by their tag.
        assert_eq!(
            decode(&[0xc2, 0x41, 0x01], 16),
            Err(CodecError::Bignum { tag: 2 })
        );
        assert_eq!(
            decode(&[0xc3, 0x41, 0x00], 16),
            Err(CodecError::Bignum { tag: 3 })
        );
        assert_eq!(decode(&[0xc2, 0x40], 16), Err(CodecError::Bignum { tag: 2 }));
        // The oracle refuses them too (ciborium reads them as integers, which re-encode
        // differently).
        assert_eq!(
            reference_decode(&[0xc2, 0x41, 0x01]),
            Err(CodecError::NotCanonical)
        );
        // 2^64 does not fit a head: ciborium keeps the tag, and encode refuses it.
        let mut b = vec![0xc2, 0x49, 0x01];
        b.extend_from_slice(&[0; 8]);
        assert_eq!(decode(&b, 16), Err(CodecError::Bignum { tag: 2 }));
        // -2^64 - 1, likewise.
        let mut b = vec![0xc3, 0x49, 0x01];
        b.extend_from_slice(&[0; 8]);
        assert_eq!(decode(&b, 16), Err(CodecError::Bignum { tag: 3 }));
        // A bignum longer than 16 bytes, and tag 2 around something other than bytes.
        let mut b = vec![0xc2, 0x51, 0x01];
        b.extend_from_slice(&[0; 16]);
        assert_eq!(decode(&b, 32), Err(CodecError::Bignum { tag: 2 }));
        assert_eq!(
            decode(&[0xc2, 0x61, b'a'], 16),
            Err(CodecError::Bignum { tag: 2 })
        );
        assert_eq!(
            encode(&Value::Tag(3, Box::new(bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 0])))),
            Err(CodecError::Bignum { tag: 3 })
        );
    }

    /// `v` as an [`Item`] borrowing from it (for hand-built maps that `encode` would refuse).
    fn it(v: &Value) -> Item<'_> {
        match v {
            Value::Integer(i) => {
                let i = i128::from(*i);
                if i >= 0 {
                    Item::Uint(i as u64)
                } else {
                    Item::Nint((-1 - i) as u64)
                }
            }
            Value::Bytes(b) => Item::Bytes(b),
            Value::Text(t) => Item::Text(t),
            Value::Array(a) => Item::Array(a.iter().map(it).collect()),
            Value::Map(m) => Item::Map(m.iter().map(|(k, v)| (it(k), it(v))).collect()),
            Value::Tag(t, v) => Item::Tag(*t, Box::new(it(v))),
            Value::Bool(b) => Item::Bool(*b),
            Value::Null => Item::Null,
            _ => panic!("no item for {v:?}"),
        }
    }

    fn sample() -> Value {
        map([
            ("count".into(), uint(1)),
            ("id".into(), bytes(vec![1, 2])),
            ("name".into(), text("acme")),
            ("list".into(), Value::Array(vec![text("a")])),
            ("inner".into(), map([(Label::Int(1), int(-7))])),
            (4i64.into(), int(-3)),
        ])
    }

    #[test]
    fn map_reader_takes_fields_and_finishes() {
        let bytes_in = enc(&sample());
        let mut r = MapReader::new(decode_item(&bytes_in, 100).unwrap(), "thing").unwrap();
        assert_eq!(r.what(), "thing");
        assert_eq!(r.uint("count"), Ok(1));
        assert_eq!(r.bytes_n::<2>("id"), Ok([1, 2]));
        assert_eq!(r.text("name"), Ok("acme".into()));
        assert_eq!(r.array("list"), Ok(vec![Item::Text("a")]));
        let mut inner = r.map("inner", "inner thing").unwrap();
        assert_eq!(inner.int(1), Ok(-7));
        assert_eq!(inner.finish(), Ok(()));
        assert_eq!(r.opt_int(4), Ok(Some(-3)));
        assert_eq!(r.opt_uint("absent"), Ok(None));
        assert_eq!(r.opt_int("absent"), Ok(None));
        assert_eq!(r.opt_text("absent"), Ok(None));
        assert_eq!(r.opt_bytes("absent"), Ok(None));
        assert_eq!(r.opt_array("absent"), Ok(None));
        assert_eq!(r.opt_value("absent"), Ok(None));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn map_reader_missing_field() {
        let s = sample();
        let mut r = MapReader::new(it(&s), "thing").unwrap();
        let err = r.text("zz").unwrap_err();
        assert_eq!(
            err,
            CodecError::MissingField {
                what: "thing",
                field: "zz".into()
            }
        );
        assert_eq!(err.to_string(), "thing: missing field zz");
        // A field taken once is gone.
        r.uint("count").unwrap();
        assert!(matches!(r.uint("count"), Err(CodecError::MissingField { .. })));
    }

    #[test]
    fn map_reader_unknown_field() {
        let s = sample();
        let mut r = MapReader::new(it(&s), "thing").unwrap();
        for f in ["count", "id", "name", "list", "inner"] {
            r.value(f).unwrap();
        }
        let err = r.finish().unwrap_err();
        assert_eq!(
            err,
            CodecError::UnknownField {
                what: "thing",
                field: "4".into()
            }
        );
        assert_eq!(err.to_string(), "thing: unknown field 4");
        // Text keys from outside are escaped and shortened.
        let v = Value::Map(vec![(text(format!("\u{1b}[31m{}", "x".repeat(100))), uint(0))]);
        let Err(CodecError::UnknownField { field, .. }) = MapReader::new(it(&v), "thing").unwrap().finish()
        else {
            panic!("expected UnknownField");
        };
        assert!(field.starts_with("\"\\u{1b}[31mxxx"), "{field}");
        assert!(field.ends_with("x…\""), "{field}");
    }

    #[test]
    fn map_reader_wrong_type() {
        let s = sample();
        let mut r = MapReader::new(it(&s), "thing").unwrap();
        let err = r.text("count").unwrap_err();
        assert_eq!(
            err,
            CodecError::WrongType {
                field: "count in thing".into(),
                expected: "a text string"
            }
        );
        assert_eq!(err.to_string(), "count in thing: expected a text string");
        assert_eq!(
            r.uint("name"),
            Err(CodecError::WrongType {
                field: "name in thing".into(),
                expected: "an unsigned integer"
            })
        );
        assert!(matches!(r.bytes("list"), Err(CodecError::WrongType { .. })));
        assert!(matches!(r.array("id"), Err(CodecError::WrongType { .. })));
        assert!(matches!(r.map("inner", "x").map(|_| ()), Ok(())));
        assert!(matches!(
            r.map(4, "x").map(|_| ()),
            Err(CodecError::WrongType {
                expected: "a map",
                ..
            })
        ));
        assert_eq!(
            MapReader::new(Item::Uint(1), "thing").map(|_| ()),
            Err(CodecError::WrongType {
                field: "thing".into(),
                expected: "a map"
            })
        );
    }

    #[test]
    fn map_reader_bad_length_and_range() {
        let s = sample();
        let mut r = MapReader::new(it(&s), "thing").unwrap();
        let err = r.bytes_n::<32>("id").unwrap_err();
        assert_eq!(
            err,
            CodecError::BadLength {
                field: "id in thing".into(),
                expected: 32,
                got: 2
            }
        );
        assert_eq!(err.to_string(), "id in thing: expected 32 bytes, found 2");
        // A negative value where an unsigned one is required.
        assert_eq!(
            r.uint(4),
            Err(CodecError::OutOfRange {
                field: "4 in thing".into()
            })
        );
        // An integer beyond i64.
        let m = map([("n".into(), uint(u64::MAX))]);
        let mut r = MapReader::new(it(&m), "thing").unwrap();
        assert_eq!(
            r.int("n"),
            Err(CodecError::OutOfRange {
                field: "n in thing".into()
            })
        );
    }

    #[test]
    fn map_reader_refuses_a_hand_built_duplicate() {
        let v = Value::Map(vec![(text("a"), uint(0)), (text("a"), uint(1))]);
        let mut r = MapReader::new(it(&v), "thing").unwrap();
        assert_eq!(r.uint("a"), Err(CodecError::DuplicateKey));
    }

    #[test]
    fn element_readers() {
        assert_eq!(as_text(&Item::Text("x"), "scope[0]"), Ok("x"));
        assert_eq!(
            as_text(&Item::Uint(1), "scope[0]"),
            Err(CodecError::WrongType {
                field: "scope[0]".into(),
                expected: "a text string"
            })
        );
        assert_eq!(as_bytes_n::<2>(&Item::Bytes(&[1, 2]), "k"), Ok([1, 2]));
        assert_eq!(
            as_bytes_n::<3>(&Item::Bytes(&[1, 2]), "k"),
            Err(CodecError::BadLength {
                field: "k".into(),
                expected: 3,
                got: 2
            })
        );
        assert_eq!(as_uint(&Item::Uint(5), "n"), Ok(5));
        assert_eq!(
            as_uint(&Item::Nint(4), "n"),
            Err(CodecError::OutOfRange { field: "n".into() })
        );
        assert_eq!(as_int(&Item::Nint(4), "n"), Ok(-5));
        assert_eq!(as_bytes(&Item::Bytes(&[9]), "b"), Ok(&[9u8][..]));
        // The ends of the i64 range, and one past each.
        assert_eq!(as_int(&Item::Uint(i64::MAX as u64), "n"), Ok(i64::MAX));
        assert_eq!(as_int(&Item::Nint(i64::MAX as u64), "n"), Ok(i64::MIN));
        assert!(as_int(&Item::Uint(i64::MAX as u64 + 1), "n").is_err());
        assert!(as_int(&Item::Nint(i64::MAX as u64 + 1), "n").is_err());
        assert_eq!(as_uint(&Item::Uint(u64::MAX), "n"), Ok(u64::MAX));
    }

    #[test]
    fn labels() {
        assert_eq!(Label::from(-8), Label::Int(-8));
        assert_eq!(Label::from("kid"), Label::Text("kid"));
        assert_eq!(Label::Int(-8).to_string(), "-8");
        assert_eq!(Label::Text("kid").to_string(), "kid");
        assert_eq!(Label::Int(4).to_value(), uint(4));
    }

    /// Values of every kind this module accepts: integers over CBOR's whole range, text,
    /// bytes, booleans, null, tags other than 2 and 3, arrays, maps with unique keys.
    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<u64>().prop_map(uint),
            any::<i64>().prop_map(int),
            (-(1i128 << 64)..0i128).prop_map(big),
            "\\PC{0,12}".prop_map(text),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(bytes),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..6).prop_map(|pairs| {
                    // Keep the first of any keys that encode alike.
                    let mut seen = std::collections::BTreeSet::new();
                    Value::Map(pairs.into_iter().filter(|(k, _)| seen.insert(enc(k))).collect())
                }),
                (
                    any::<u64>().prop_filter("not a bignum tag", |t| *t != 2 && *t != 3),
                    inner
                )
                    .prop_map(|(t, v)| Value::Tag(t, Box::new(v))),
            ]
        })
    }

    proptest! {
        #[test]
        fn decode_inverts_encode_and_encode_is_idempotent(v in arb_value()) {
            let b = encode(&v).unwrap();
            let back = decode(&b, b.len()).unwrap();
            prop_assert_eq!(&back, &canonical(&v));
            prop_assert_eq!(encode(&back).unwrap(), b.clone());
            prop_assert_eq!(encode(&canonical(&v)).unwrap(), b);
        }

        #[test]
        fn decode_never_panics_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Whatever decode accepts must re-encode to the same bytes.
            if let Ok(v) = decode(&b, 64) {
                prop_assert_eq!(encode(&v).unwrap(), b);
            }
        }

        /// Differential test against the oracle on arbitrary bytes, biased towards CBOR heads.
        #[test]
        fn decode_agrees_with_the_oracle_on_arbitrary_bytes(
            b in proptest::collection::vec(
                prop_oneof![any::<u8>(), (0u8..8, 0u8..32).prop_map(|(m, i)| m << 5 | i)],
                1..48,
            )
        ) {
            prop_assert_eq!(decode(&b, 64).ok(), reference_decode(&b).ok(), "{:02x?}", b);
        }

        /// Differential test on near-misses: a deterministic encoding with one byte changed,
        /// inserted or removed. Both must accept the same inputs with the same value; where
        /// both refuse, a malformed input is called malformed by both.
        #[test]
        fn decode_agrees_with_the_oracle_on_mutated_encodings(
            v in arb_value(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            how in 0u8..3,
        ) {
            let mut b = enc(&v);
            let i = at.index(b.len());
            match how {
                0 => b[i] = byte,
                1 => b.insert(i, byte),
                _ => { b.remove(i); }
            }
            let ours = decode(&b, usize::MAX);
            let oracle = reference_decode(&b);
            prop_assert_eq!(ours.clone().ok(), oracle.clone().ok(), "{:02x?}", b);
        }
    }
}
