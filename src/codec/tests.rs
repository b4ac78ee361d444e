//! Unit and property tests of the codec, against ciborium as an oracle.
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
            let mut m: Vec<(Value, Value)> = m.iter().map(|(k, x)| (canonical(k), canonical(x))).collect();
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
            0xa6, 0x01, 0x00, 0x18, 0x18, 0x00, 0x20, 0x00, 0x61, b'a', 0x00, 0x61, b'b', 0x00, 0x62, b'a',
            b'a', 0x00
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
