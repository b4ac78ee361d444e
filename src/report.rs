//! Read-only views of a ledger for people and scripts: entry listings and attestation status.
//!
//! These types are what `accord list`, `show` and `status` print; their JSON form is stable
//! and described by the JSON Schemas in `schemas/`.

use serde::Serialize;

use crate::entry::Entry;
use crate::ledger::{apply, LedgerError, Location, MemRegistry};
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
    /// The organisation's name as it registered it.
    pub org_name: String,
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
    /// Rotation, revocation or recovery fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_change: Option<KeyChangeView>,
    /// True when a later recovery made this entry untrusted (its key was compromised then).
    pub untrusted: bool,
    /// The index of the recovery that made it untrusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untrusted_by: Option<u64>,
}

/// A change of the organisation's keys.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyChangeView {
    /// Hex key ids that stop speaking for the organisation.
    pub ends: Vec<String>,
    /// Hex key id installed, if any.
    pub installs: Option<String>,
    /// Reason given, if any.
    pub reason: Option<String>,
    /// For a recovery: the compromise time (RFC 3339), if set.
    pub compromised_since: Option<String>,
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
    /// Whether the registration committed to a recovery key.
    pub recovery_key_committed: bool,
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
    /// Hex statement id this attestation renews or amends.
    pub supersedes: Option<String>,
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
    /// The organisation's name as it registered it.
    pub org_name: String,
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
    /// `live`, `expired`, `withdrawn`, `superseded` or `untrusted`.
    pub state: String,
    /// Index of the withdrawal, if withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn_by: Option<u64>,
    /// Index of the superseding attestation, if superseded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<u64>,
    /// When it was logged (RFC 3339).
    pub logged_at: String,
    /// Whether the organisation has a recovery key committed (false: it cannot recover from
    /// a lost or stolen key).
    pub recovery_key_committed: bool,
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
    entry_view_named(r, index, bytes, &mut Names::default())
}

/// Organisations' names as registered, looked up once each.
#[derive(Debug, Default)]
pub struct Names(std::collections::HashMap<String, Registered>);

/// An organisation's registration as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The name as registered.
    pub name: String,
    /// The domain it claims (self-asserted), if any.
    pub domain: Option<String>,
    /// The index of its registration.
    pub index: u64,
}

impl Names {
    /// The registration of `org` (normalised name).
    ///
    /// # Errors
    /// [`LedgerError`] if the tables or the registration entry cannot be read.
    pub fn get(&mut self, r: &ReadTables, org: &str) -> Result<Registered, LedgerError> {
        if let Some(x) = self.0.get(org) {
            return Ok(x.clone());
        }
        let found = match r.org(org)? {
            Some(index) => match r.entry(index)? {
                Some(b) => match decode_stored(index, &b)?.1.payload.body {
                    Body::Registration(reg) => Registered {
                        name: reg.name,
                        domain: reg.domain,
                        index,
                    },
                    _ => Registered {
                        name: org.to_string(),
                        domain: None,
                        index,
                    },
                },
                None => Registered {
                    name: org.to_string(),
                    domain: None,
                    index,
                },
            },
            None => Registered {
                name: org.to_string(),
                domain: None,
                index: 0,
            },
        };
        self.0.insert(org.to_string(), found.clone());
        Ok(found)
    }
}

/// [`entry_view`], with names looked up through `names`.
///
/// # Errors
/// [`LedgerError`].
pub fn entry_view_named(
    r: &ReadTables,
    index: u64,
    bytes: &[u8],
    names: &mut Names,
) -> Result<EntryView, LedgerError> {
    let (e, st) = decode_stored(index, bytes)?;
    let untrusted_by = r.untrusted(index)?;
    let p = &st.payload;
    let org_name = match &p.body {
        Body::Registration(reg) => reg.name.clone(),
        _ => names.get(r, &st.iss)?.name,
    };
    let mut v = EntryView {
        index,
        kind: st.kind().to_string(),
        org: st.iss.clone(),
        org_name,
        statement_id: hex::encode(st.id()),
        logged_at: time::format(e.logged_at),
        issued_at: time::format(p.iat),
        kid: hex::encode(st.kid),
        registration: None,
        attestation: None,
        withdrawal: None,
        key_change: None,
        untrusted: untrusted_by.is_some(),
        untrusted_by,
    };
    match &p.body {
        Body::Registration(reg) => {
            v.registration = Some(RegistrationView {
                name: reg.name.clone(),
                domain: reg.domain.clone(),
                contact: reg.contact.clone(),
                self_asserted: true,
                recovery_key_committed: reg.recovery.is_some(),
            })
        }
        Body::Attestation(a) => {
            v.attestation = Some(AttestationView {
                norms: a.norms.iter().map(|n| n.id.to_string()).collect(),
                scope: a.scope.clone(),
                expires: a.expires.map(time::format),
                note: a.note.clone(),
                catalogue: a.catalogue,
                supersedes: a.supersedes.map(hex::encode),
            })
        }
        Body::Withdrawal(w) => {
            v.withdrawal = Some(WithdrawalView {
                target: hex::encode(w.target),
                target_index: r.statement_index(&w.target)?,
                reason: w.reason.clone(),
            })
        }
        Body::Acceptance(_) => {}
        Body::Rotation(rot) => {
            v.key_change = Some(KeyChangeView {
                ends: vec![hex::encode(st.kid)],
                installs: rot.new_key().map(|k| hex::encode(k.kid())),
                reason: None,
                compromised_since: None,
            })
        }
        Body::Revocation(rv) => {
            v.key_change = Some(KeyChangeView {
                ends: vec![hex::encode(rv.target)],
                installs: None,
                reason: Some(rv.reason.clone()),
                compromised_since: None,
            })
        }
        Body::Recovery(rc) => {
            let ends = r
                .keys_of(&st.iss)?
                .into_iter()
                .filter(|(_, k)| k.ended.is_some_and(|(i, _)| i == index))
                .map(|(kid, _)| hex::encode(kid))
                .collect();
            v.key_change = Some(KeyChangeView {
                ends,
                installs: Some(hex::encode(rc.new_key.kid())),
                reason: Some(rc.reason.clone()),
                compromised_since: rc.compromised_since.map(time::format),
            })
        }
    }
    Ok(v)
}

/// Rebuilds the registry in memory from the entries logged at or before `at` (no signature
/// checks: `verify` does those).
///
/// # Errors
/// [`LedgerError`].
pub fn replay_registry(r: &ReadTables, at: Seconds) -> Result<MemRegistry, LedgerError> {
    let mut reg = MemRegistry::default();
    r.for_each_entry(0, |index, bytes| -> Result<bool, LedgerError> {
        let (e, st) = decode_stored(index, bytes)?;
        if e.logged_at > at {
            return Ok(false);
        }
        apply(&mut reg, index, e.logged_at, &st)?;
        Ok(true)
    })?;
    Ok(reg)
}

/// Every attestation logged by `at`, with its state at `at`, in index order.
///
/// The state is the ledger's at that moment (docs/FORMAT.md section 7): withdrawals,
/// supersessions and expiry as of `at`, and a withdrawal or supersession that a recovery
/// logged by `at` made untrusted is void. Whether the attestation itself is untrusted is
/// judged with everything known now: a statement found to be signed with a stolen key is
/// never shown as live, whatever the moment asked about.
///
/// # Errors
/// [`LedgerError`].
pub fn attestation_status(r: &ReadTables, at: Seconds) -> Result<Vec<AttestationStatus>, LedgerError> {
    let reg = replay_registry(r, at)?;
    let mut out: Vec<AttestationStatus> = Vec::new();
    // The kind of each statement that ended an attestation: withdrawal or supersession.
    let enders: std::collections::HashSet<u64> = reg.ended.values().map(|(_, _, by)| *by).collect();
    let mut withdrawals = std::collections::HashSet::new();
    let mut names = Names::default();
    r.for_each_entry(0, |index, bytes| -> Result<bool, LedgerError> {
        let (e, st) = decode_stored(index, bytes)?;
        if e.logged_at > at {
            return Ok(false);
        }
        match &st.payload.body {
            Body::Withdrawal(_) if enders.contains(&index) => {
                withdrawals.insert(index);
            }
            Body::Attestation(a) => {
                let ended = reg.ended.get(&index).map(|(_, _, by)| *by);
                let expired = a.expires.is_some_and(|x| x <= at);
                let state = if r.untrusted(index)?.is_some() {
                    "untrusted"
                } else if ended.is_some() {
                    // Filled in below, once the enders' kinds are known.
                    "ended"
                } else if expired {
                    "expired"
                } else {
                    "live"
                };
                out.push(AttestationStatus {
                    index,
                    org: st.iss.clone(),
                    org_name: names.get(r, &st.iss)?.name,
                    statement_id: hex::encode(st.id()),
                    norms: a.norms.iter().map(|n| n.id.to_string()).collect(),
                    scope: a.scope.clone(),
                    issued_at: time::format(st.payload.iat),
                    expires: a.expires.map(time::format),
                    kid: hex::encode(st.kid),
                    state: state.to_string(),
                    withdrawn_by: None,
                    superseded_by: None,
                    logged_at: time::format(e.logged_at),
                    recovery_key_committed: reg.orgs.get(&st.iss).is_some_and(|o| o.recovery.is_some()),
                });
            }
            _ => {}
        }
        Ok(true)
    })?;
    for a in &mut out {
        if let Some((_, _, by)) = reg.ended.get(&a.index) {
            let withdrawn = withdrawals.contains(by);
            if withdrawn {
                a.withdrawn_by = Some(*by);
            } else {
                a.superseded_by = Some(*by);
            }
            if a.state == "ended" {
                a.state = if withdrawn { "withdrawn" } else { "superseded" }.to_string();
            }
        }
    }
    Ok(out)
}

/// An organisation as `accord orgs` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrgView {
    /// The normalised name (`iss`).
    pub org: String,
    /// The name as registered.
    pub org_name: String,
    /// The domain it claims, if any.
    pub domain: Option<String>,
    /// Always true in this version: nothing proves the name or the domain.
    pub self_asserted: bool,
    /// Hex key ids of its current keys (one in this version; none after a revocation).
    pub current_keys: Vec<String>,
    /// Whether it committed to a recovery key (it can recover from a lost or stolen key).
    pub recovery_key_committed: bool,
    /// Hex key id of the recovery key it committed to, if any (public: the registration or the
    /// last recovery carries it), so that a client of a server can tell whose recovery key a
    /// key is (`accord key recover --server`).
    pub recovery_key: Option<String>,
    /// The index of its registration.
    pub registration: u64,
    /// How many entries it has.
    pub entries: u64,
    /// How many of its attestations are in force at the time asked about.
    pub live_pledges: u64,
}

/// Every registered organisation, by name, with its keys, entries and pledges in force at `at`.
///
/// # Errors
/// [`LedgerError`].
pub fn organisations(r: &ReadTables, at: Seconds) -> Result<Vec<OrgView>, LedgerError> {
    let mut live: std::collections::HashMap<String, u64> = Default::default();
    for a in attestation_status(r, at)? {
        if a.state == "live" {
            *live.entry(a.org).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    let mut names = Names::default();
    for (org, _) in r.orgs()? {
        let reg = names.get(r, &org)?;
        let mut current_keys: Vec<String> = r
            .keys_of(&org)?
            .into_iter()
            .filter(|(_, k)| k.ended.is_none())
            .map(|(kid, _)| hex::encode(kid))
            .collect();
        current_keys.sort();
        let recovery = r.recovery(&org)?;
        out.push(OrgView {
            org_name: reg.name,
            domain: reg.domain,
            self_asserted: true,
            current_keys,
            recovery_key_committed: recovery.is_some(),
            recovery_key: recovery.map(hex::encode),
            registration: reg.index,
            entries: r.org_entries(&org)?.len() as u64,
            live_pledges: live.get(&org).copied().unwrap_or(0),
            org,
        });
    }
    out.sort_by(|a, b| a.org_name.cmp(&b.org_name).then(a.org.cmp(&b.org)));
    Ok(out)
}

/// Names of registered organisations close to `query` (a name as a user typed it), as
/// registered, closest first, at most `max`: for a "did you mean" hint when `query` names no
/// organisation. Names are compared by their comparison keys (docs/FORMAT.md §4.1, so that
/// look-alike letters and case count as equal): within an edit distance of a quarter of the
/// query's length (at least 2) of the whole name or of its beginning, or when one holds the
/// other.
///
/// # Errors
/// [`LedgerError`] if the tables or a registration cannot be read.
pub fn close_orgs(r: &ReadTables, query: &str, max: usize) -> Result<Vec<String>, LedgerError> {
    let key = |s: &str| -> Vec<char> {
        crate::names::comparison_key_v1(s)
            .unwrap_or_else(|| s.to_lowercase())
            .chars()
            .collect()
    };
    let q = key(query.trim());
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let mut names = Names::default();
    let mut found: Vec<(usize, String)> = Vec::new();
    for (org, _) in r.orgs()? {
        let name = names.get(r, &org)?.name;
        let k = key(&name);
        let cap = (q.len() / 4).max(2);
        // The whole name, or its beginning as long as what was typed ("contosa" is close to
        // "Contoso Ltd").
        let d = edit_distance(&q, &k, cap).min(edit_distance(&q, &k[..q.len().min(k.len())], cap));
        let holds = q.len() >= 3 && k.len() >= 3 && (contains(&k, &q) || contains(&q, &k));
        if d <= cap || holds {
            found.push((d, name));
        }
    }
    found.sort();
    found.truncate(max);
    Ok(found.into_iter().map(|(_, n)| n).collect())
}

/// Whether `hay` holds `needle` as a run of characters.
pub(crate) fn contains(hay: &[char], needle: &[char]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// The Levenshtein distance between `a` and `b`, or more than `cap` once it is sure to be
/// (names are at most 128 bytes, so this costs at most 128 × 128 steps).
pub(crate) fn edit_distance(a: &[char], b: &[char], cap: usize) -> usize {
    if a.len().abs_diff(b.len()) > cap {
        return cap + 1;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = i;
        let mut left = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            let value = (diag + usize::from(ca != cb)).min(up + 1).min(left + 1);
            diag = up;
            row[j + 1] = value;
            left = value;
        }
        row[0] = i + 1;
    }
    row[b.len()]
}

/// Why an entry is not a pledge in force at a moment (what `prove` warns about: a proof of it
/// proves that it was pledged, not that it is in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotInForce {
    /// A withdrawal ended it.
    Withdrawn {
        /// The withdrawal's index.
        by: u64,
    },
    /// A later attestation superseded it.
    Superseded {
        /// The superseding attestation's index.
        by: u64,
    },
    /// A recovery reported its key compromised when it was logged.
    Untrusted {
        /// The recovery's index.
        by: u64,
    },
    /// Its expiry has passed.
    Expired {
        /// When it expired (RFC 3339).
        at: String,
    },
}

/// Everything that keeps entry `index` from being in force at `at`, as the ledger stands now
/// (empty for an attestation in force, and for every entry that is not an attestation but
/// untrusted ones).
///
/// # Errors
/// [`LedgerError`].
pub fn not_in_force(r: &ReadTables, index: u64, at: Seconds) -> Result<Vec<NotInForce>, LedgerError> {
    let mut out = Vec::new();
    if let Some(by) = r.untrusted(index)? {
        out.push(NotInForce::Untrusted { by });
    }
    let Some(bytes) = r.entry(index)? else {
        return Ok(out);
    };
    let (_, st) = decode_stored(index, &bytes)?;
    let Body::Attestation(a) = &st.payload.body else {
        return Ok(out);
    };
    if let Some((by, _)) = r.ended(index)? {
        let ender = r.entry(by)?.unwrap_or_default();
        match decode_stored(by, &ender)?.1.payload.body {
            Body::Withdrawal(_) => out.push(NotInForce::Withdrawn { by }),
            _ => out.push(NotInForce::Superseded { by }),
        }
    }
    if let Some(x) = a.expires.filter(|&x| x <= at) {
        out.push(NotInForce::Expired { at: time::format(x) });
    }
    Ok(out)
}

/// One signed checkpoint the ledger holds, as `accord checkpoints` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckpointView {
    /// The tree size.
    pub size: u64,
    /// Hex Merkle root.
    pub root: String,
    /// A checkpoint note carries no time: this is the log time (RFC 3339) of the last entry in
    /// its tree (entry `size - 1`); null for the empty tree.
    pub logged_at: Option<String>,
    /// The entry whose log time `logged_at` is (`size - 1`); null for the empty tree.
    pub time_of_entry: Option<u64>,
}

/// Every signed checkpoint the ledger holds, smallest first. The custodian keeps one per
/// commit; a mirror keeps one per import.
///
/// # Errors
/// [`LedgerError::Invalid`] naming a checkpoint whose note does not parse, [`LedgerError`].
pub fn checkpoints(r: &ReadTables) -> Result<Vec<CheckpointView>, LedgerError> {
    let mut out = Vec::new();
    for size in r.checkpoint_sizes()? {
        let note = r.checkpoint(size)?.unwrap_or_default();
        let bad = |p: String| LedgerError::Invalid {
            at: Location::Checkpoint(size),
            problem: p,
        };
        // The note's text ends at its first blank line; the signature lines follow.
        let body = note
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|p| &note[..=p])
            .ok_or_else(|| bad("signed note without a blank line".into()))?;
        let cp = crate::checkpoint::Checkpoint::parse_text(body).map_err(|e| bad(e.to_string()))?;
        let last = size.checked_sub(1);
        let logged_at = match last {
            Some(i) => match r.entry(i)? {
                Some(b) => Some(time::format(decode_stored(i, &b)?.0.logged_at)),
                None => None,
            },
            None => None,
        };
        out.push(CheckpointView {
            size,
            root: hex::encode(cp.root),
            time_of_entry: logged_at.as_ref().and(last),
            logged_at,
        });
    }
    Ok(out)
}
