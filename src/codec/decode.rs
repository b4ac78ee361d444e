//! The strict single-pass decoder.

use super::*;

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
