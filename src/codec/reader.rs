//! Reading named fields out of decoded maps, refusing the fields a format does not define.

use super::*;

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
