//! Interoperability: an independent COSE library (coset) reads accord statements as tagged
//! COSE_Sign1 with the documented headers, and the signature verifies over coset's own
//! Sig_structure. Also statement-level negative cases pinned to their errors.

use accord::codec::{self, Value};
use accord::keys::SecretKey;
use accord::norms::Catalogue;
use accord::statement::{self, Attestation, Body, NormRef, Payload, Registration, StatementError, Unsigned};
use coset::TaggedCborSerializable as _;

fn attestation(iat: i64) -> Payload {
    let n = Catalogue::embedded().get("no-backdoors").unwrap();
    Payload {
        origin: "example.org/accord".into(),
        iat,
        nonce: [7; 16],
        body: Body::Attestation(Attestation {
            catalogue: 1,
            norms: vec![NormRef {
                id: n.id.clone(),
                text_hash: n.text_hash(),
            }],
            scope: vec!["Acme Cloud".into()],
            expires: Some(iat + 86_400),
            note: None,
            supersedes: None,
        }),
    }
}

#[test]
fn coset_reads_and_verifies_an_accord_statement() {
    let key = SecretKey::from_seed(&[42; 32]);
    let st = statement::sign(&attestation(1_800_000_000), "acme corp", &key).unwrap();
    let cose = coset::CoseSign1::from_tagged_slice(st.bytes()).expect("coset parses the statement");
    let h = &cose.protected.header;
    assert_eq!(
        h.alg,
        Some(coset::RegisteredLabelWithPrivate::Assigned(
            coset::iana::Algorithm::EdDSA
        ))
    );
    assert_eq!(h.key_id, key.public().kid().to_vec());
    assert_eq!(
        h.content_type,
        Some(coset::ContentType::Text(
            "application/vnd.accord.attestation+cbor".into()
        ))
    );
    assert!(cose.unprotected.is_empty());
    let tbs = cose.tbs_data(b"");
    assert_eq!(tbs, st.to_be_signed(), "Sig_structure differs from coset's");
    let sig = ed25519_dalek::Signature::from_slice(&cose.signature).unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&key.public().to_bytes()).unwrap();
    vk.verify_strict(&tbs, &sig).unwrap();
    // And coset writes the same bytes back.
    assert_eq!(cose.to_tagged_vec().unwrap(), st.bytes());
}

#[test]
fn decoding_round_trips_and_ids_are_stable() {
    let key = SecretKey::from_seed(&[1; 32]);
    let st = statement::sign(&attestation(1_800_000_000), "acme corp", &key).unwrap();
    let again = statement::Statement::decode(st.bytes()).unwrap();
    assert_eq!(again, st);
    assert_eq!(again.id(), st.id());
    st.verify_signature(&key.public()).unwrap();
    let other = SecretKey::from_seed(&[2; 32]);
    assert!(matches!(
        st.verify_signature(&other.public()),
        Err(StatementError::WrongKey { .. })
    ));
}

#[test]
fn registration_binds_name_and_key() {
    let key = SecretKey::from_seed(&[3; 32]);
    let p = Payload {
        origin: "example.org/accord".into(),
        iat: 1,
        nonce: [0; 16],
        body: Body::Registration(Registration {
            name: "Acme Corp".into(),
            public_key: key.public(),
            domain: Some("acme.example".into()),
            contact: Some("security@acme.example".into()),
            recovery: None,
        }),
    };
    let st = statement::sign(&p, "acme corp", &key).unwrap();
    assert_eq!(st.registered_key(), Some(&key.public()));
    // iss must be the normalised registered name.
    let u = Unsigned::new(&p, "someone else", &key.public().kid()).unwrap();
    let e = u.assemble(&key.sign(&u.to_be_signed())).unwrap_err();
    assert!(matches!(e, StatementError::Header(_)), "{e:?}");
    // A key that is not the registered one.
    let other = SecretKey::from_seed(&[4; 32]);
    let u = Unsigned::new(&p, "acme corp", &other.public().kid()).unwrap();
    assert!(matches!(
        u.assemble(&other.sign(&u.to_be_signed())),
        Err(StatementError::Header(_))
    ));
    // Bad domain and a personal-looking contact without '@' are refused.
    let mut bad = p.clone();
    if let Body::Registration(r) = &mut bad.body {
        r.domain = Some("Not A Domain".into());
    }
    assert!(matches!(
        statement::sign(&bad, "acme corp", &key),
        Err(StatementError::Invalid(_))
    ));
}

#[test]
fn payload_bounds_are_enforced() {
    let key = SecretKey::from_seed(&[5; 32]);
    let mut p = attestation(100);
    if let Body::Attestation(a) = &mut p.body {
        a.expires = Some(100);
    }
    assert!(
        matches!(statement::sign(&p, "acme corp", &key), Err(StatementError::Invalid(m)) if m.contains("expiry"))
    );
    let mut p = attestation(100);
    if let Body::Attestation(a) = &mut p.body {
        a.scope = vec![];
    }
    assert!(
        matches!(statement::sign(&p, "acme corp", &key), Err(StatementError::Invalid(m)) if m.contains("scope"))
    );
    let mut p = attestation(100);
    if let Body::Attestation(a) = &mut p.body {
        a.scope = vec!["x".into(), "x".into()];
    }
    assert!(statement::sign(&p, "acme corp", &key).is_err());
    let mut p = attestation(100);
    if let Body::Attestation(a) = &mut p.body {
        let n = a.norms[0].clone();
        a.norms = vec![n.clone(), n];
    }
    assert!(statement::sign(&p, "acme corp", &key).is_err());
}

#[test]
fn unknown_payload_fields_and_versions_are_refused() {
    let key = SecretKey::from_seed(&[6; 32]);
    let st = statement::sign(&attestation(100), "acme corp", &key).unwrap();
    let mut v = codec::decode(st.payload_bytes(), 100_000).unwrap();
    if let Value::Map(m) = &mut v {
        m.push((codec::text("extra"), codec::uint(1)));
    }
    assert!(matches!(
        statement::Payload::decode(&codec::encode(&v).unwrap()),
        Err(StatementError::Codec(_))
    ));
    let mut v = codec::decode(st.payload_bytes(), 100_000).unwrap();
    if let Value::Map(m) = &mut v {
        for (k, val) in m.iter_mut() {
            if *k == codec::text("v") {
                *val = codec::uint(2);
            }
        }
    }
    assert_eq!(
        statement::Payload::decode(&codec::encode(&v).unwrap()),
        Err(StatementError::Version(2))
    );
}

#[test]
fn organisation_names_normalise() {
    assert_eq!(statement::normalise_org("ACME Corp").unwrap(), "acme corp");
    assert_eq!(
        statement::normalise_org("Caf\u{e9}").unwrap(),
        statement::normalise_org("CAFE\u{301}").unwrap()
    );
    for bad in ["", " Acme", "Acme ", "Ac\u{0}me", &"x".repeat(129)] {
        assert!(statement::normalise_org(bad).is_err(), "{bad:?}");
    }
}
