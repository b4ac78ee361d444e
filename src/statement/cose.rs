//! The COSE_Sign1 envelope: the protected header, the Sig_structure, signing, and the strict
//! decoding of a whole statement (docs/FORMAT.md section 3).

use sha2::{Digest, Sha256};

use super::*;
use crate::codec::{self, Item, MapReader, Value};
use crate::keys::{PublicKey, SecretKey};

/// A statement ready to sign: the exact protected header and payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    /// Protected header bytes.
    pub protected: Vec<u8>,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl Unsigned {
    /// Builds the protected header for a payload, issuer and key id.
    ///
    /// # Errors
    /// [`StatementError`] if the payload is out of bounds or `iss` is not a normalised name.
    pub fn new(payload: &Payload, iss: &str, kid: &[u8; 32]) -> Result<Unsigned, StatementError> {
        if normalise_org(iss)? != iss {
            return Err(invalid("iss must be the normalised organisation name"));
        }
        let header = codec::map([
            (HDR_ALG.into(), codec::int(ALG_EDDSA)),
            (
                HDR_CONTENT_TYPE.into(),
                codec::text(payload.body.kind().content_type()),
            ),
            (HDR_KID.into(), codec::bytes(kid.to_vec())),
            (
                HDR_CWT_CLAIMS.into(),
                codec::map([
                    (CWT_ISS.into(), codec::text(iss)),
                    (CWT_IAT.into(), codec::int(payload.iat)),
                ]),
            ),
        ]);
        Ok(Unsigned {
            protected: codec::encode(&header)?,
            payload: payload.encode()?,
        })
    }

    /// The bytes Ed25519 signs: RFC 9052 §4.4 `Sig_structure`
    /// `["Signature1", protected, h'' (external_aad), payload]`.
    pub fn to_be_signed(&self) -> Vec<u8> {
        sig_structure(&self.protected, &self.payload)
    }

    /// Reads back a to-be-signed file (the Sig_structure written for an external signer).
    ///
    /// # Errors
    /// [`StatementError`] if the bytes are not an accord Sig_structure.
    pub fn from_to_be_signed(bytes: &[u8]) -> Result<Unsigned, StatementError> {
        let v = codec::decode_item(bytes, super::MAX_TO_BE_SIGNED_LEN)?;
        let Item::Array(items) = v else {
            return Err(StatementError::Envelope(
                "to-be-signed bytes are not a Sig_structure array",
            ));
        };
        let [ctx, protected, aad, payload]: [Item<'_>; 4] = items
            .try_into()
            .map_err(|_| StatementError::Envelope("a Sig_structure has exactly 4 elements"))?;
        match (ctx, protected, aad, payload) {
            (Item::Text(c), Item::Bytes(protected), Item::Bytes(aad), Item::Bytes(payload))
                if c == "Signature1" && aad.is_empty() =>
            {
                Ok(Unsigned {
                    protected: protected.to_vec(),
                    payload: payload.to_vec(),
                })
            }
            _ => Err(StatementError::Envelope(
                "not a COSE_Sign1 Sig_structure [\"Signature1\", protected, h'', payload]",
            )),
        }
    }

    /// Assembles the tagged COSE_Sign1 with a signature made elsewhere.
    ///
    /// # Errors
    /// [`StatementError`] if the result does not decode (it always should).
    pub fn assemble(&self, signature: &[u8; 64]) -> Result<Statement, StatementError> {
        let v = Value::Tag(
            COSE_SIGN1_TAG,
            Box::new(Value::Array(vec![
                codec::bytes(self.protected.clone()),
                Value::Map(vec![]),
                codec::bytes(self.payload.clone()),
                codec::bytes(signature.to_vec()),
            ])),
        );
        Statement::decode(&codec::encode(&v)?)
    }
}

/// `["Signature1", protected, h'', payload]` in deterministic CBOR, built directly: it is on
/// the verifier's hot path. A unit test checks it equals the generic encoding.
fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + payload.len() + 24);
    out.push(0x84); // array of 4
    out.push(0x6a); // text of 10
    out.extend_from_slice(b"Signature1");
    codec::push_bytes(&mut out, protected);
    out.push(0x40); // empty external_aad
    codec::push_bytes(&mut out, payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_structure_is_the_generic_encoding() {
        for (p, q) in [
            (vec![], vec![]),
            (vec![1; 23], vec![2; 24]),
            (vec![3; 300], vec![4; 70_000]),
        ] {
            let v = Value::Array(vec![
                codec::text("Signature1"),
                codec::bytes(p.clone()),
                codec::bytes(Vec::new()),
                codec::bytes(q.clone()),
            ]);
            assert_eq!(sig_structure(&p, &q), codec::encode(&v).unwrap());
        }
    }
}

/// Signs a payload as organisation `iss` with `key`.
///
/// # Errors
/// [`StatementError`] if the payload is out of bounds.
pub fn sign(payload: &Payload, iss: &str, key: &SecretKey) -> Result<Statement, StatementError> {
    let unsigned = Unsigned::new(payload, iss, &key.public().kid())?;
    let sig = key.sign(&unsigned.to_be_signed());
    unsigned.assemble(&sig)
}

/// A decoded statement: its exact bytes and what they say. The signature is not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The COSE_Sign1 bytes, exactly as signed and stored (private: `id` and the ranges
    /// below are computed from them once).
    bytes: Vec<u8>,
    /// Where the protected header's bytes sit in `bytes`.
    protected_at: std::ops::Range<usize>,
    /// Where the payload's bytes sit in `bytes`.
    payload_at: std::ops::Range<usize>,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
    /// Key id from the protected header.
    pub kid: [u8; 32],
    /// Issuer: the organisation's normalised name.
    pub iss: String,
    /// The decoded payload.
    pub payload: Payload,
    /// SHA-256 of `bytes`, computed once at decoding.
    id: StatementId,
}

impl Statement {
    /// Strictly decodes a statement (DESIGN decisions 1, 2, 11); does not check the signature.
    ///
    /// # Errors
    /// [`StatementError`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Statement, StatementError> {
        let v = codec::decode_item(bytes, MAX_STATEMENT_LEN)?;
        let inner = match v {
            Item::Tag(COSE_SIGN1_TAG, inner) => *inner,
            Item::Tag(_, _) => return Err(StatementError::Envelope("tag is not 18 (COSE_Sign1)")),
            _ => {
                return Err(StatementError::Envelope(
                    "untagged: a statement is tag 18 (COSE_Sign1)",
                ))
            }
        };
        let Item::Array(items) = inner else {
            return Err(StatementError::Envelope("COSE_Sign1 is not an array"));
        };
        let [protected, unprotected, payload, signature]: [Item<'_>; 4] = items
            .try_into()
            .map_err(|_| StatementError::Envelope("COSE_Sign1 must have exactly 4 elements"))?;
        let Item::Bytes(protected) = protected else {
            return Err(StatementError::Envelope("protected header is not a byte string"));
        };
        match unprotected {
            Item::Map(m) if m.is_empty() => {}
            Item::Map(_) => return Err(StatementError::UnprotectedHeader),
            _ => return Err(StatementError::Envelope("unprotected header is not a map")),
        }
        let payload_bytes = match payload {
            Item::Bytes(b) => b,
            Item::Null => {
                return Err(StatementError::Envelope(
                    "detached payload: accord statements carry their payload",
                ))
            }
            _ => return Err(StatementError::Envelope("payload is not a byte string")),
        };
        let Item::Bytes(sig) = signature else {
            return Err(StatementError::Envelope("signature is not a byte string"));
        };
        let signature: [u8; 64] = sig
            .try_into()
            .map_err(|_| StatementError::Envelope("signature is not 64 bytes"))?;

        let h = codec::decode_item(protected, MAX_PROTECTED_LEN)?;
        let mut h = MapReader::new(h, "protected header")?;
        let alg = h.int(HDR_ALG)?;
        if alg != ALG_EDDSA {
            return Err(StatementError::Header(format!("alg {alg} is not EdDSA (-8)")));
        }
        let ct = h.text_ref(HDR_CONTENT_TYPE)?;
        let kid = h.bytes_n::<32>(HDR_KID)?;
        let mut claims = h.map(HDR_CWT_CLAIMS, "CWT claims")?;
        let iss = claims.text(CWT_ISS)?;
        let iat = claims.int(CWT_IAT)?;
        claims.finish()?;
        h.finish()?;

        let payload = Payload::decode(payload_bytes)?;
        let kind = payload.body.kind();
        if ct != kind.content_type() {
            return Err(StatementError::Header(format!(
                "content type {ct:?} does not match payload kind {kind}"
            )));
        }
        if iat != payload.iat {
            return Err(StatementError::Header("CWT iat differs from payload iat".into()));
        }
        if normalise_org(&iss)? != iss {
            return Err(StatementError::Header(
                "iss is not a normalised organisation name".into(),
            ));
        }
        if let Body::Registration(r) = &payload.body {
            if normalise_org(&r.name)? != iss {
                return Err(StatementError::Header(
                    "iss is not the normalised form of the registered name".into(),
                ));
            }
            if r.public_key.kid() != kid {
                return Err(StatementError::Header(
                    "kid is not the SHA-256 of the registered key".into(),
                ));
            }
        }
        match &payload.body {
            Body::Acceptance(a) if a.public_key.kid() != kid => {
                return Err(StatementError::Header(
                    "an acceptance must be signed by the key it accepts".into(),
                ));
            }
            Body::Recovery(r) if r.recovery_key.kid() != kid => {
                return Err(StatementError::Header(
                    "a recovery must be signed by the recovery key it reveals".into(),
                ));
            }
            Body::Rotation(rot) => {
                let acc = &rot.acceptance;
                let Body::Acceptance(a) = &acc.payload.body else {
                    return Err(StatementError::Invalid(
                        "a rotation must nest an acceptance".into(),
                    ));
                };
                if acc.iss != iss || acc.payload.origin != payload.origin {
                    return Err(StatementError::Invalid(
                        "the nested acceptance is for another organisation or ledger".into(),
                    ));
                }
                if a.replaces != kid {
                    return Err(StatementError::Invalid(
                        "the nested acceptance does not name the key signing the rotation".into(),
                    ));
                }
                if a.public_key.kid() == kid {
                    return Err(StatementError::Invalid(
                        "a rotation must install a different key".into(),
                    ));
                }
                acc.verify_signature(&a.public_key)
                    .map_err(|e| StatementError::Invalid(format!("nested acceptance: {e}")))?;
            }
            _ => {}
        }
        // Both are slices of `bytes`: keep their places, not copies.
        let within = |part: &[u8]| {
            let start = part.as_ptr() as usize - bytes.as_ptr() as usize;
            start..start + part.len()
        };
        Ok(Statement {
            id: Sha256::digest(bytes).into(),
            protected_at: within(protected),
            payload_at: within(payload_bytes),
            bytes: bytes.to_vec(),
            signature,
            kid,
            iss,
            payload,
        })
    }

    /// The COSE_Sign1 bytes, exactly as signed and stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The COSE_Sign1 bytes, taken out of the statement.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The protected header bytes.
    pub fn protected(&self) -> &[u8] {
        &self.bytes[self.protected_at.clone()]
    }

    /// The payload bytes.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.bytes[self.payload_at.clone()]
    }

    /// Statement id: SHA-256 of the statement bytes.
    pub fn id(&self) -> StatementId {
        self.id
    }

    /// The statement kind.
    pub fn kind(&self) -> Kind {
        self.payload.body.kind()
    }

    /// The Sig_structure bytes the signature covers.
    pub fn to_be_signed(&self) -> Vec<u8> {
        sig_structure(self.protected(), self.payload_bytes())
    }

    /// Checks the signature with `verify_strict` against `key`, which must be the key named by
    /// the statement's kid.
    ///
    /// # Errors
    /// [`StatementError::WrongKey`] or [`StatementError::BadSignature`].
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), StatementError> {
        if key.kid() != self.kid {
            return Err(StatementError::WrongKey {
                expected: hex::encode(self.kid),
                got: hex::encode(key.kid()),
            });
        }
        if key.verify_strict(&self.to_be_signed(), &self.signature) {
            Ok(())
        } else {
            Err(StatementError::BadSignature {
                kid: hex::encode(self.kid),
            })
        }
    }

    /// The key that must have signed a registration (the registered key itself).
    pub fn registered_key(&self) -> Option<&PublicKey> {
        match &self.payload.body {
            Body::Registration(r) => Some(&r.public_key),
            _ => None,
        }
    }
}
