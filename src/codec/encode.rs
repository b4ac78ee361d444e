//! The deterministic encoder (RFC 8949 §4.2.1).

use super::*;

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
