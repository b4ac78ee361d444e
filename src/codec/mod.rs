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

mod decode;
mod encode;
mod reader;
pub mod wire;

use std::fmt;

pub use ciborium::Value;
pub use decode::{decode, decode_item};
pub use encode::{encode, push_bytes};
pub use reader::{as_bytes, as_bytes_n, as_int, as_text, as_uint, Label, MapReader};

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
    /// Well-formed, but a value breaks a rule of its format.
    #[error("{0}")]
    Invalid(String),
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

/// Refuses to open one more level of nesting when `depth` containers already enclose it.
fn enter(depth: usize) -> Result<usize, CodecError> {
    if depth >= MAX_DEPTH {
        Err(CodecError::TooDeep { max: MAX_DEPTH })
    } else {
        Ok(depth + 1)
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

#[cfg(test)]
mod tests;
