//! Deterministic CBOR (RFC 8949 §4.2.1 "core deterministic encoding") over
//! [`ciborium::Value`], with strict decoding (DESIGN decisions 1 and 11).
//!
//! * [`encode`] writes shortest-form heads, definite lengths only, map keys sorted by the bytes
//!   of their own encodings; it refuses floats and duplicate keys.
//! * [`decode`] checks the size before parsing, parses one item with a nesting limit, refuses
//!   trailing bytes, then re-encodes and refuses input whose bytes differ. One logical value
//!   thus has exactly one byte string, and one hash.
//! * [`MapReader`] takes named fields out of a decoded map and refuses unknown ones.

pub use ciborium::Value;

/// Deepest nesting of arrays, maps and tags accepted. accord's deepest structure (a norm
/// reference inside an attestation payload, or the CWT claims in a protected header) is 3
/// levels; 16 leaves room without letting hostile input exhaust the stack.
pub const MAX_DEPTH: usize = 16;

/// What is wrong with CBOR bytes or a CBOR value.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// Input larger than allowed; not parsed.
    #[error("{len} bytes is more than the {max} allowed")]
    TooLarge {
        /// Input length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not CBOR, or truncated.
    #[error("not valid CBOR: {0}")]
    Malformed(String),
    /// Bytes after the item.
    #[error("trailing bytes after the CBOR item at offset {offset}")]
    TrailingBytes {
        /// Where the item ended.
        offset: usize,
    },
    /// Valid CBOR, but not the deterministic encoding.
    #[error("CBOR is not in canonical (RFC 8949 deterministic) encoding")]
    NotCanonical,
    /// Floating point values are not used by accord.
    #[error("floating-point values are not allowed")]
    Float,
    /// A map with two equal keys.
    #[error("map has a duplicate key")]
    DuplicateKey,
    /// Nested too deep.
    #[error("CBOR nested deeper than {max} levels")]
    TooDeep {
        /// Limit.
        max: usize,
    },
    /// A field of the wrong type.
    #[error("field {field}: expected {expected}")]
    WrongType {
        /// Field name.
        field: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A required field is absent.
    #[error("{what}: missing field {field}")]
    MissingField {
        /// The structure.
        what: &'static str,
        /// Field name.
        field: String,
    },
    /// A field the format does not define.
    #[error("{what}: unknown field {field}")]
    UnknownField {
        /// The structure.
        what: &'static str,
        /// Field name.
        field: String,
    },
    /// A byte string of the wrong length.
    #[error("field {field}: expected {expected} bytes, found {got}")]
    BadLength {
        /// Field name.
        field: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// An integer outside the range accepted.
    #[error("field {field}: integer out of range")]
    OutOfRange {
        /// Field name.
        field: String,
    },
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// Appends a byte string (head and bytes) in deterministic encoding; for hot paths that build
/// known structures without a [`Value`] tree.
pub fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn encode_into(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), CodecError> {
    if depth > MAX_DEPTH {
        return Err(CodecError::TooDeep { max: MAX_DEPTH });
    }
    match v {
        Value::Integer(i) => {
            let n = i128::from(*i);
            if n >= 0 {
                let u = u64::try_from(n).map_err(|_| CodecError::OutOfRange {
                    field: "integer".into(),
                })?;
                head(out, 0, u);
            } else {
                let u = u64::try_from(-1 - n).map_err(|_| CodecError::OutOfRange {
                    field: "integer".into(),
                })?;
                head(out, 1, u);
            }
        }
        Value::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(t) => {
            head(out, 3, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        Value::Array(a) => {
            head(out, 4, a.len() as u64);
            for x in a {
                encode_into(x, out, depth + 1)?;
            }
        }
        Value::Map(m) => {
            let mut pairs = Vec::with_capacity(m.len());
            for (k, x) in m {
                let mut kb = Vec::new();
                encode_into(k, &mut kb, depth + 1)?;
                let mut vb = Vec::new();
                encode_into(x, &mut vb, depth + 1)?;
                pairs.push((kb, vb));
            }
            pairs.sort();
            if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(CodecError::DuplicateKey);
            }
            head(out, 5, pairs.len() as u64);
            for (kb, vb) in pairs {
                out.extend_from_slice(&kb);
                out.extend_from_slice(&vb);
            }
        }
        Value::Tag(t, inner) => {
            head(out, 6, *t);
            encode_into(inner, out, depth + 1)?;
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Float(_) => return Err(CodecError::Float),
        // ciborium's Value is non-exhaustive.
        _ => return Err(CodecError::Malformed("unsupported CBOR value".into())),
    }
    Ok(())
}

/// Encodes `v` in the deterministic encoding.
///
/// # Errors
/// [`CodecError::Float`], [`CodecError::DuplicateKey`], [`CodecError::TooDeep`],
/// [`CodecError::OutOfRange`] for integers beyond 64 bits.
pub fn encode(v: &Value) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(v, &mut out, 0)?;
    Ok(out)
}

/// Decodes exactly one deterministic CBOR item of at most `max_len` bytes.
///
/// # Errors
/// [`CodecError`] naming the first problem found.
pub fn decode(bytes: &[u8], max_len: usize) -> Result<Value, CodecError> {
    if bytes.len() > max_len {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    if bytes.is_empty() {
        return Err(CodecError::Malformed("empty input".into()));
    }
    let mut rest = bytes;
    let v: Value =
        ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH).map_err(|e| match e {
            ciborium::de::Error::RecursionLimitExceeded => CodecError::TooDeep { max: MAX_DEPTH },
            ciborium::de::Error::Io(_) => CodecError::Malformed("truncated".into()),
            ciborium::de::Error::Syntax(off) => {
                CodecError::Malformed(format!("syntax error at offset {off}"))
            }
            ciborium::de::Error::Semantic(off, m) => CodecError::Malformed(match off {
                Some(o) => format!("{m} at offset {o}"),
                None => m,
            }),
        })?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes {
            offset: bytes.len() - rest.len(),
        });
    }
    let again = encode(&v).map_err(|e| match e {
        CodecError::OutOfRange { .. } => CodecError::NotCanonical,
        other => other,
    })?;
    if again != bytes {
        return Err(CodecError::NotCanonical);
    }
    Ok(v)
}

/// A map key: COSE uses integer labels, accord payloads text labels.
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
impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Int(i) => write!(f, "{i}"),
            Label::Text(s) => f.write_str(s),
        }
    }
}

impl Label {
    fn value(self) -> Value {
        match self {
            Label::Int(i) => Value::Integer(i.into()),
            Label::Text(s) => Value::Text(s.to_string()),
        }
    }
    fn matches(self, v: &Value) -> bool {
        match (self, v) {
            (Label::Int(i), Value::Integer(n)) => i128::from(*n) == i128::from(i),
            (Label::Text(s), Value::Text(t)) => s == t,
            _ => false,
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Text(t) => t.chars().take(64).collect(),
        Value::Integer(i) => i128::from(*i).to_string(),
        _ => "(non-text key)".to_string(),
    }
}

/// Takes named fields out of a decoded CBOR map; [`MapReader::finish`] refuses leftovers.
#[derive(Debug)]
pub struct MapReader {
    what: &'static str,
    entries: Vec<(Value, Value)>,
}

macro_rules! opt_variant {
    ($(#[$doc:meta])* $name:ident, $req:ident, $t:ty) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// As the required form, except that absence gives `Ok(None)`.
        pub fn $name(&mut self, key: impl Into<Label>) -> Result<Option<$t>, CodecError> {
            let key = key.into();
            if self.has(key) {
                self.$req(key).map(Some)
            } else {
                Ok(None)
            }
        }
    };
}

impl MapReader {
    /// Starts reading `v`, which must be a map.
    ///
    /// # Errors
    /// [`CodecError::WrongType`].
    pub fn new(v: Value, what: &'static str) -> Result<Self, CodecError> {
        match v {
            Value::Map(entries) => Ok(MapReader { what, entries }),
            _ => Err(CodecError::WrongType {
                field: what.to_string(),
                expected: "a map",
            }),
        }
    }

    fn has(&self, key: Label) -> bool {
        self.entries.iter().any(|(k, _)| key.matches(k))
    }

    /// Takes any value.
    ///
    /// # Errors
    /// [`CodecError::MissingField`].
    pub fn value(&mut self, key: impl Into<Label>) -> Result<Value, CodecError> {
        let key = key.into();
        let pos = self
            .entries
            .iter()
            .position(|(k, _)| key.matches(k))
            .ok_or(CodecError::MissingField {
                what: self.what,
                field: key.to_string(),
            })?;
        Ok(self.entries.swap_remove(pos).1)
    }

    /// Takes an unsigned integer.
    ///
    /// # Errors
    /// Missing, wrong type, or out of range.
    pub fn uint(&mut self, key: impl Into<Label>) -> Result<u64, CodecError> {
        let key = key.into();
        as_uint(&self.value(key)?, &key.to_string())
    }

    /// Takes a signed 64-bit integer.
    ///
    /// # Errors
    /// Missing, wrong type, or out of range.
    pub fn int(&mut self, key: impl Into<Label>) -> Result<i64, CodecError> {
        let key = key.into();
        match self.value(key)? {
            Value::Integer(i) => i64::try_from(i128::from(i)).map_err(|_| CodecError::OutOfRange {
                field: key.to_string(),
            }),
            _ => Err(CodecError::WrongType {
                field: key.to_string(),
                expected: "an integer",
            }),
        }
    }

    /// Takes a text string.
    ///
    /// # Errors
    /// Missing or wrong type.
    pub fn text(&mut self, key: impl Into<Label>) -> Result<String, CodecError> {
        let key = key.into();
        match self.value(key)? {
            Value::Text(t) => Ok(t),
            _ => Err(CodecError::WrongType {
                field: key.to_string(),
                expected: "a text string",
            }),
        }
    }

    /// Takes a byte string.
    ///
    /// # Errors
    /// Missing or wrong type.
    pub fn bytes(&mut self, key: impl Into<Label>) -> Result<Vec<u8>, CodecError> {
        let key = key.into();
        match self.value(key)? {
            Value::Bytes(b) => Ok(b),
            _ => Err(CodecError::WrongType {
                field: key.to_string(),
                expected: "a byte string",
            }),
        }
    }

    /// Takes a byte string of exactly `N` bytes.
    ///
    /// # Errors
    /// Missing, wrong type, or [`CodecError::BadLength`].
    pub fn bytes_n<const N: usize>(&mut self, key: impl Into<Label>) -> Result<[u8; N], CodecError> {
        let key = key.into();
        let v = self.value(key)?;
        as_bytes_n::<N>(&v, &key.to_string())
    }

    /// Takes an array.
    ///
    /// # Errors
    /// Missing or wrong type.
    pub fn array(&mut self, key: impl Into<Label>) -> Result<Vec<Value>, CodecError> {
        let key = key.into();
        match self.value(key)? {
            Value::Array(a) => Ok(a),
            _ => Err(CodecError::WrongType {
                field: key.to_string(),
                expected: "an array",
            }),
        }
    }

    /// Takes a nested map.
    ///
    /// # Errors
    /// Missing or wrong type.
    pub fn map(&mut self, key: impl Into<Label>, what: &'static str) -> Result<MapReader, CodecError> {
        let key = key.into();
        match self.value(key)? {
            v @ Value::Map(_) => MapReader::new(v, what),
            _ => Err(CodecError::WrongType {
                field: key.to_string(),
                expected: "a map",
            }),
        }
    }

    opt_variant!(
        /// Takes an optional unsigned integer.
        opt_uint, uint, u64);
    opt_variant!(
        /// Takes an optional signed integer.
        opt_int, int, i64);
    opt_variant!(
        /// Takes an optional text string.
        opt_text, text, String);
    opt_variant!(
        /// Takes an optional byte string.
        opt_bytes, bytes, Vec<u8>);
    opt_variant!(
        /// Takes an optional array.
        opt_array, array, Vec<Value>);
    opt_variant!(
        /// Takes an optional value.
        opt_value, value, Value);

    /// Ends reading: every field must have been taken.
    ///
    /// # Errors
    /// [`CodecError::UnknownField`] naming the first leftover.
    pub fn finish(self) -> Result<(), CodecError> {
        match self.entries.first() {
            None => Ok(()),
            Some((k, _)) => Err(CodecError::UnknownField {
                what: self.what,
                field: describe(k),
            }),
        }
    }
}

/// A text value.
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
/// A map from (label, value) pairs; [`encode`] sorts the keys.
pub fn map<I: IntoIterator<Item = (Label, Value)>>(entries: I) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (k.value(), v)).collect())
}

/// Reads a text element.
///
/// # Errors
/// [`CodecError::WrongType`].
pub fn as_text<'a>(v: &'a Value, field: &str) -> Result<&'a str, CodecError> {
    match v {
        Value::Text(t) => Ok(t),
        _ => Err(CodecError::WrongType {
            field: field.to_string(),
            expected: "a text string",
        }),
    }
}

/// Reads a byte string element of exactly `N` bytes.
///
/// # Errors
/// [`CodecError::WrongType`], [`CodecError::BadLength`].
pub fn as_bytes_n<const N: usize>(v: &Value, field: &str) -> Result<[u8; N], CodecError> {
    match v {
        Value::Bytes(b) => <[u8; N]>::try_from(b.as_slice()).map_err(|_| CodecError::BadLength {
            field: field.to_string(),
            expected: N,
            got: b.len(),
        }),
        _ => Err(CodecError::WrongType {
            field: field.to_string(),
            expected: "a byte string",
        }),
    }
}

/// Reads an unsigned integer element.
///
/// # Errors
/// [`CodecError::WrongType`], [`CodecError::OutOfRange`].
pub fn as_uint(v: &Value, field: &str) -> Result<u64, CodecError> {
    match v {
        Value::Integer(i) => u64::try_from(i128::from(*i)).map_err(|_| CodecError::OutOfRange {
            field: field.to_string(),
        }),
        _ => Err(CodecError::WrongType {
            field: field.to_string(),
            expected: "an unsigned integer",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> Vec<u8> {
        encode(v).unwrap()
    }

    #[test]
    fn round_trips_nested_values() {
        let v = map([
            (
                "b".into(),
                Value::Array(vec![uint(1), int(-500), bytes(vec![0; 40]), text("héllo")]),
            ),
            (3i64.into(), Value::Tag(18, Box::new(Value::Null))),
            ("a".into(), Value::Bool(true)),
        ]);
        let b = enc(&v);
        let back = decode(&b, 1000).unwrap();
        assert_eq!(enc(&back), b);
    }

    #[test]
    fn map_keys_sort_by_encoded_bytes_ints_before_text() {
        let v = map([
            ("aa".into(), uint(0)),
            ("b".into(), uint(0)),
            (Label::Int(-1), uint(0)),
            (10i64.into(), uint(0)),
            (1i64.into(), uint(0)),
            ("a".into(), uint(0)),
        ]);
        let b = enc(&v);
        // 1 (0x01), 10 (0x0a), -1 (0x20), "a" (0x61 61), "b" (0x61 62), "aa" (0x62 61 61)
        assert_eq!(
            b,
            vec![
                0xa6, 0x01, 0x00, 0x0a, 0x00, 0x20, 0x00, 0x61, b'a', 0x00, 0x61, b'b', 0x00, 0x62, b'a',
                b'a', 0x00
            ]
        );
        assert!(decode(&b, 100).is_ok());
    }

    #[test]
    fn shortest_heads() {
        assert_eq!(enc(&uint(23)), vec![0x17]);
        assert_eq!(enc(&uint(24)), vec![0x18, 24]);
        assert_eq!(enc(&uint(256)), vec![0x19, 1, 0]);
        assert_eq!(enc(&int(-1)), vec![0x20]);
        assert_eq!(
            enc(&uint(u64::MAX)),
            vec![0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn refuses_non_shortest_integers() {
        assert_eq!(decode(&[0x18, 0x01], 10), Err(CodecError::NotCanonical));
        assert_eq!(decode(&[0x19, 0x00, 0x18], 10), Err(CodecError::NotCanonical));
    }

    #[test]
    fn refuses_indefinite_lengths() {
        assert_eq!(decode(&[0x9f, 0x01, 0xff], 10), Err(CodecError::NotCanonical));
        assert_eq!(
            decode(&[0xbf, 0x01, 0x02, 0xff], 10),
            Err(CodecError::NotCanonical)
        );
        assert_eq!(
            decode(&[0x5f, 0x41, 0x00, 0xff], 10),
            Err(CodecError::NotCanonical)
        );
    }

    #[test]
    fn refuses_unsorted_and_duplicate_keys() {
        assert_eq!(
            decode(&[0xa2, 0x02, 0x00, 0x01, 0x00], 10),
            Err(CodecError::NotCanonical)
        );
        assert_eq!(
            decode(&[0xa2, 0x01, 0x00, 0x01, 0x00], 10),
            Err(CodecError::DuplicateKey)
        );
        let dup = Value::Map(vec![(uint(1), uint(0)), (uint(1), uint(1))]);
        assert_eq!(encode(&dup), Err(CodecError::DuplicateKey));
    }

    #[test]
    fn refuses_floats() {
        assert_eq!(decode(&[0xf9, 0x3c, 0x00], 10), Err(CodecError::Float));
        assert_eq!(
            decode(&[0xfa, 0x3f, 0x80, 0x00, 0x00], 10),
            Err(CodecError::Float)
        );
        assert_eq!(
            decode(&[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], 10),
            Err(CodecError::Float)
        );
        assert_eq!(encode(&Value::Float(1.0)), Err(CodecError::Float));
    }

    #[test]
    fn refuses_trailing_truncated_empty_and_large() {
        assert_eq!(
            decode(&[0x01, 0x02], 10),
            Err(CodecError::TrailingBytes { offset: 1 })
        );
        assert!(matches!(decode(&[0x62, b'a'], 10), Err(CodecError::Malformed(_))));
        assert!(matches!(decode(&[], 10), Err(CodecError::Malformed(_))));
        assert_eq!(
            decode(&[0; 11], 10),
            Err(CodecError::TooLarge { len: 11, max: 10 })
        );
    }

    #[test]
    fn refuses_deep_nesting_without_overflow() {
        let mut b = vec![0x81u8; 10_000];
        b.push(0x00);
        assert_eq!(decode(&b, 20_000), Err(CodecError::TooDeep { max: MAX_DEPTH }));
        let mut v = uint(0);
        for _ in 0..(MAX_DEPTH + 2) {
            v = Value::Array(vec![v]);
        }
        assert_eq!(encode(&v), Err(CodecError::TooDeep { max: MAX_DEPTH }));
    }

    #[test]
    fn refuses_bignums_and_simple_values() {
        // Tag 2 (positive bignum) of 0x01: decodes to an integer, re-encodes differently.
        assert!(decode(&[0xc2, 0x41, 0x01], 10).is_err());
        // undefined (0xf7)
        assert!(decode(&[0xf7], 10).is_err());
    }

    #[test]
    fn map_reader_checks_fields() {
        let v = map([
            ("a".into(), uint(1)),
            ("b".into(), bytes(vec![1, 2])),
            (4i64.into(), int(-3)),
        ]);
        let mut r = MapReader::new(v.clone(), "thing").unwrap();
        assert_eq!(r.uint("a"), Ok(1));
        assert_eq!(
            r.bytes_n::<3>("b"),
            Err(CodecError::BadLength {
                field: "b".into(),
                expected: 3,
                got: 2
            })
        );
        assert_eq!(r.uint(4), Err(CodecError::OutOfRange { field: "4".into() }));
        assert_eq!(
            r.text("zz"),
            Err(CodecError::MissingField {
                what: "thing",
                field: "zz".into()
            })
        );
        assert_eq!(r.opt_text("zz"), Ok(None));
        let mut r = MapReader::new(v.clone(), "thing").unwrap();
        assert_eq!(
            r.text("a"),
            Err(CodecError::WrongType {
                field: "a".into(),
                expected: "a text string"
            })
        );
        let mut r = MapReader::new(v, "thing").unwrap();
        r.uint("a").unwrap();
        r.bytes("b").unwrap();
        assert_eq!(
            r.finish(),
            Err(CodecError::UnknownField {
                what: "thing",
                field: "4".into()
            })
        );
        assert!(MapReader::new(uint(1), "thing").is_err());
    }

    proptest::proptest! {
        #[test]
        fn encode_decode_is_identity_on_canonical_values(
            ints in proptest::collection::vec(proptest::num::i64::ANY, 0..8),
            texts in proptest::collection::btree_set("[a-z]{0,6}", 0..8),
            blob in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let v = Value::Array(vec![
                Value::Array(ints.iter().map(|&i| int(i)).collect()),
                Value::Map(texts.iter().map(|t| (text(t.clone()), bytes(blob.clone()))).collect()),
                Value::Tag(7, Box::new(bytes(blob.clone()))),
            ]);
            let b = encode(&v).unwrap();
            let back = decode(&b, 1 << 20).unwrap();
            proptest::prop_assert_eq!(encode(&back).unwrap(), b);
        }
    }
}
