//! Unit tests of the catalogue.
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
    assert!(matches!(Catalogue::parse(&twice), Err(NormsError::Json(m)) if m.contains("duplicate field")));
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
