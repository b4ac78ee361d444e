//! Read-only views of a ledger for people and scripts: entry listings and attestation status.
//!
//! These types are what `accord list`, `show` and `status` print; their JSON form is stable
//! and described by the JSON Schemas in `schemas/`.

use serde::Serialize;

use crate::entry::Entry;
use crate::ledger::{LedgerError, Location};
use crate::statement::{Body, Statement};
use crate::store::ReadTables;
use crate::time::{self, Seconds};

/// One entry as `list --json` and `show --json` print it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EntryView {
    /// Entry index, from 0.
    pub index: u64,
    /// `registration`, `attestation` or `withdrawal`.
    pub kind: String,
    /// The organisation (normalised name).
    pub org: String,
    /// Hex SHA-256 of the statement bytes.
    pub statement_id: String,
    /// When the custodian logged it (RFC 3339 UTC).
    pub logged_at: String,
    /// When the organisation signed it (RFC 3339 UTC).
    pub issued_at: String,
    /// Hex key id of the signing key.
    pub kid: String,
    /// Registration fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<RegistrationView>,
    /// Attestation fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationView>,
    /// Withdrawal fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<WithdrawalView>,
}

/// Registration details.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegistrationView {
    /// The name as written.
    pub name: String,
    /// Claimed domain.
    pub domain: Option<String>,
    /// Role address.
    pub contact: Option<String>,
    /// Always true in this version: no domain proof is checked.
    pub self_asserted: bool,
}

/// Attestation details.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AttestationView {
    /// Norm ids.
    pub norms: Vec<String>,
    /// Scope items.
    pub scope: Vec<String>,
    /// Expiry (RFC 3339) or null.
    pub expires: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// Catalogue version.
    pub catalogue: u64,
}

/// Withdrawal details.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WithdrawalView {
    /// Hex statement id withdrawn.
    pub target: String,
    /// Its index, if found.
    pub target_index: Option<u64>,
    /// Why.
    pub reason: String,
}

/// An attestation's state as `status` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AttestationStatus {
    /// Entry index.
    pub index: u64,
    /// Organisation (normalised).
    pub org: String,
    /// Hex statement id.
    pub statement_id: String,
    /// Norm ids.
    pub norms: Vec<String>,
    /// Scope items.
    pub scope: Vec<String>,
    /// Issued-at (RFC 3339).
    pub issued_at: String,
    /// Expiry (RFC 3339) or null.
    pub expires: Option<String>,
    /// Hex key id that signed it.
    pub kid: String,
    /// `live`, `expired` or `withdrawn`.
    pub state: String,
    /// Index of the withdrawal, if withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_by: Option<u64>,
}

/// Decodes an entry read from the store into its statement.
///
/// # Errors
/// [`LedgerError::Invalid`] naming the entry.
pub fn decode_stored(index: u64, bytes: &[u8]) -> Result<(Entry, Statement), LedgerError> {
    let bad = |p: String| LedgerError::Invalid {
        at: Location::Entry(index),
        problem: p,
    };
    let e = Entry::decode(bytes).map_err(|e| bad(format!("malformed entry: {e}")))?;
    let st = Statement::decode(&e.statement).map_err(|e| bad(format!("statement: {e}")))?;
    Ok((e, st))
}

/// The view of one entry.
///
/// # Errors
/// [`LedgerError`].
pub fn entry_view(r: &ReadTables, index: u64, bytes: &[u8]) -> Result<EntryView, LedgerError> {
    let (e, st) = decode_stored(index, bytes)?;
    let p = &st.payload;
    let mut v = EntryView {
        index,
        kind: st.kind().to_string(),
        org: st.iss.clone(),
        statement_id: hex::encode(st.id()),
        logged_at: time::format(e.logged_at),
        issued_at: time::format(p.iat),
        kid: hex::encode(st.kid),
        registration: None,
        attestation: None,
        withdrawal: None,
    };
    match &p.body {
        Body::Registration(reg) => {
            v.registration = Some(RegistrationView {
                name: reg.name.clone(),
                domain: reg.domain.clone(),
                contact: reg.contact.clone(),
                self_asserted: true,
            })
        }
        Body::Attestation(a) => {
            v.attestation = Some(AttestationView {
                norms: a.norms.iter().map(|n| n.id.to_string()).collect(),
                scope: a.scope.clone(),
                expires: a.expires.map(time::format),
                note: a.note.clone(),
                catalogue: a.catalogue,
            })
        }
        Body::Withdrawal(w) => {
            v.withdrawal = Some(WithdrawalView {
                target: hex::encode(w.target),
                target_index: r.statement_index(&w.target)?,
                reason: w.reason.clone(),
            })
        }
    }
    Ok(v)
}

/// Every attestation with its state at `now`, in index order.
///
/// # Errors
/// [`LedgerError`].
pub fn attestation_status(r: &ReadTables, now: Seconds) -> Result<Vec<AttestationStatus>, LedgerError> {
    let mut out: Vec<AttestationStatus> = Vec::new();
    let mut by_id: std::collections::HashMap<[u8; 32], usize> = Default::default();
    r.for_each_entry(0, |index, bytes| -> Result<bool, LedgerError> {
        let (_, st) = decode_stored(index, bytes)?;
        match &st.payload.body {
            Body::Attestation(a) => {
                let expired = a.expires.is_some_and(|x| x <= now);
                by_id.insert(st.id(), out.len());
                out.push(AttestationStatus {
                    index,
                    org: st.iss.clone(),
                    statement_id: hex::encode(st.id()),
                    norms: a.norms.iter().map(|n| n.id.to_string()).collect(),
                    scope: a.scope.clone(),
                    issued_at: time::format(st.payload.iat),
                    expires: a.expires.map(time::format),
                    kid: hex::encode(st.kid),
                    state: if expired { "expired" } else { "live" }.to_string(),
                    withdrawn_by: None,
                });
            }
            Body::Withdrawal(w) => {
                if let Some(&i) = by_id.get(&w.target) {
                    out[i].state = "withdrawn".to_string();
                    out[i].withdrawn_by = Some(index);
                }
            }
            Body::Registration(_) => {}
        }
        Ok(true)
    })?;
    Ok(out)
}
