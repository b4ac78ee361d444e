//! The ledger's state as the state map holds it (docs/FORMAT.md section 18): which keys the map
//! has, what their values say, and how a batch of accepted statements changes them.
//!
//! The map is derived from the rules' effects, never from anything else: [`Tracked`] wraps a
//! [`Registry`] while [`super::apply`] records statements, notes what each primitive update
//! touched, and [`Changes::updates`] turns that into the map's new values, read back from the
//! registry once the batch is applied. The custodian (store tables) and every verifier (memory)
//! run the same code, and a verifier compares its root with the one the entries commit.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use super::{HistoryItem, KeyRecord, OrgRecord, RecoveryMark, Registry};
use crate::codec::{self, CodecError, MapReader, Value};
use crate::keys::PublicKey;
use crate::statemap::{Hash, MapStore, Updates};
use crate::statement::{Kind, StatementId};
use crate::time::Seconds;
use crate::verdict::{invalid, Location, VerifyError};

/// Largest value the map holds that a reader accepts (an organisation's value grows with its
/// key events).
pub const MAX_VALUE: usize = crate::statemap::MAX_VALUE_LEN;

fn key_of(parts: Vec<Value>) -> Hash {
    // Encoding fails only for floats, bignums or nesting deeper than the codec's limit, none of
    // which a key (an array of text, bytes and unsigned integers) holds.
    let b = codec::encode(&Value::Array(parts)).unwrap_or_default();
    Sha256::digest(b).into()
}

/// The map key of the entry at `index`: SHA-256 of CBOR `["entry", index]`.
pub fn entry_key(index: u64) -> Hash {
    key_of(vec![codec::text("entry"), codec::uint(index)])
}

/// The map key of an organisation: SHA-256 of CBOR `["org", iss]`.
pub fn org_key(org: &str) -> Hash {
    key_of(vec![codec::text("org"), codec::text(org)])
}

/// The map key of a key id: SHA-256 of CBOR `["key", kid]`.
pub fn kid_key(kid: &[u8; 32]) -> Hash {
    key_of(vec![codec::text("key"), codec::bytes(kid.to_vec())])
}

/// The map key of a name's comparison key (section 4.1): SHA-256 of CBOR `["name", key]`.
pub fn name_key(comparison: &str) -> Hash {
    key_of(vec![codec::text("name"), codec::text(comparison)])
}

/// The map key of slot `slot` of an organisation's live attestations: SHA-256 of CBOR
/// `["live", iss, slot]`.
pub fn live_key(org: &str, slot: u64) -> Hash {
    key_of(vec![codec::text("live"), codec::text(org), codec::uint(slot)])
}

/// Where a statement stands in the state at a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// An attestation in force (subject to its `expires`, judged at a stated time).
    Live,
    /// An attestation withdrawn by the entry `by`.
    Withdrawn,
    /// An attestation superseded by the entry `by`.
    Superseded,
    /// Made untrusted by the recovery `by`.
    Untrusted,
    /// Any other kind of statement, in effect as recorded.
    Recorded,
}

impl Standing {
    /// The text the map stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Live => "live",
            Standing::Withdrawn => "withdrawn",
            Standing::Superseded => "superseded",
            Standing::Untrusted => "untrusted",
            Standing::Recorded => "recorded",
        }
    }

    fn parse(s: &str) -> Option<Standing> {
        Some(match s {
            "live" => Standing::Live,
            "withdrawn" => Standing::Withdrawn,
            "superseded" => Standing::Superseded,
            "untrusted" => Standing::Untrusted,
            "recorded" => Standing::Recorded,
            _ => return None,
        })
    }
}

/// The value under [`entry_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryState {
    /// The statement id of the entry's statement.
    pub id: StatementId,
    /// Its kind.
    pub kind: Kind,
    /// Its standing.
    pub standing: Standing,
    /// The entry that withdrew, superseded or made it untrusted.
    pub by: Option<u64>,
    /// Its slot among its organisation's live attestations, while it is in the live set
    /// (an untrusted attestation stays there, as section 7 says).
    pub slot: Option<u64>,
}

/// One key of an organisation: (key id, index that installed it, index that ended it).
pub type KeyEvent = ([u8; 32], u64, Option<u64>);

/// The value under [`org_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgState {
    /// Its registration's index.
    pub registration: u64,
    /// Its current recovery commitment.
    pub recovery: Option<[u8; 32]>,
    /// Every key it ever had, by installing index, then key id: its complete key history.
    pub keys: Vec<KeyEvent>,
    /// How many attestations its live set holds (slots 0 to `live` − 1).
    pub live: u64,
}

/// The value under [`kid_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyState {
    /// The organisation it speaks for.
    pub org: String,
    /// The raw public key.
    pub key: [u8; 32],
    /// The index that installed it.
    pub installed: u64,
    /// The index that ended it.
    pub ended: Option<u64>,
}

/// The value under [`name_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameState {
    /// The registration that holds the comparison key.
    pub registration: u64,
    /// The name as registered.
    pub name: String,
}

/// The deterministic CBOR of a map of text keys; cannot fail for the flat values of 18.2 (see
/// [`key_of`]).
fn enc(fields: Vec<(&'static str, Value)>) -> Vec<u8> {
    codec::encode(&codec::map(fields.into_iter().map(|(k, v)| (k.into(), v)))).unwrap_or_default()
}

fn reader<'a>(b: &'a [u8], what: &'static str) -> Result<MapReader<'a>, CodecError> {
    MapReader::new(codec::decode_item(b, MAX_VALUE)?, what)
}

fn bad(what: &str) -> CodecError {
    CodecError::Invalid(format!("state map: {what}"))
}

impl EntryState {
    /// Deterministic CBOR `{"id", "kind", "standing", ? "by", ? "slot"}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut f = vec![
            ("id", codec::bytes(self.id.to_vec())),
            ("kind", codec::text(self.kind.as_str())),
            ("standing", codec::text(self.standing.as_str())),
        ];
        if let Some(b) = self.by {
            f.push(("by", codec::uint(b)));
        }
        if let Some(s) = self.slot {
            f.push(("slot", codec::uint(s)));
        }
        enc(f)
    }

    /// Strict decode.
    ///
    /// # Errors
    /// [`CodecError`] for anything [`EntryState::encode`] does not write.
    pub fn decode(b: &[u8]) -> Result<EntryState, CodecError> {
        let mut r = reader(b, "entry state")?;
        let id = r.bytes_n::<32>("id")?;
        let kind = Kind::from_text(&r.text("kind")?).ok_or_else(|| bad("unknown kind"))?;
        let standing = Standing::parse(&r.text("standing")?).ok_or_else(|| bad("unknown standing"))?;
        let by = r.opt_uint("by")?;
        let slot = r.opt_uint("slot")?;
        r.finish()?;
        let needs_by = matches!(
            standing,
            Standing::Withdrawn | Standing::Superseded | Standing::Untrusted
        );
        if needs_by != by.is_some() {
            return Err(bad(
                "`by` present exactly for withdrawn, superseded and untrusted",
            ));
        }
        let attestation = kind == Kind::Attestation;
        if !attestation && !matches!(standing, Standing::Recorded | Standing::Untrusted) {
            return Err(bad("only an attestation is live, withdrawn or superseded"));
        }
        if attestation && standing == Standing::Recorded {
            return Err(bad("an attestation is never merely recorded"));
        }
        if slot.is_some() && !matches!(standing, Standing::Live | Standing::Untrusted)
            || slot.is_some() && !attestation
        {
            return Err(bad("a slot belongs to a live attestation"));
        }
        if standing == Standing::Live && slot.is_none() {
            return Err(bad("a live attestation has a slot"));
        }
        Ok(EntryState {
            id,
            kind,
            standing,
            by,
            slot,
        })
    }
}

impl OrgState {
    /// Deterministic CBOR `{"registration", ? "recovery", "keys": [* [kid, installed, ? ended]], "live"}`.
    pub fn encode(&self) -> Vec<u8> {
        let keys = self
            .keys
            .iter()
            .map(|(kid, installed, ended)| {
                let mut a = vec![codec::bytes(kid.to_vec()), codec::uint(*installed)];
                if let Some(e) = ended {
                    a.push(codec::uint(*e));
                }
                Value::Array(a)
            })
            .collect();
        let mut f = vec![
            ("registration", codec::uint(self.registration)),
            ("keys", Value::Array(keys)),
            ("live", codec::uint(self.live)),
        ];
        if let Some(r) = self.recovery {
            f.push(("recovery", codec::bytes(r.to_vec())));
        }
        enc(f)
    }

    /// Strict decode.
    ///
    /// # Errors
    /// [`CodecError`] for anything [`OrgState::encode`] does not write.
    pub fn decode(b: &[u8]) -> Result<OrgState, CodecError> {
        let mut r = reader(b, "organisation state")?;
        let registration = r.uint("registration")?;
        let recovery = match r.opt_value("recovery")? {
            Some(v) => Some(codec::as_bytes_n::<32>(&v, "recovery")?),
            None => None,
        };
        let mut keys = Vec::new();
        for k in r.array("keys")? {
            let codec::Item::Array(a) = k else {
                return Err(bad("a key event is an array"));
            };
            if !(2..=3).contains(&a.len()) {
                return Err(bad("a key event has 2 or 3 items"));
            }
            let kid = codec::as_bytes_n::<32>(&a[0], "kid")?;
            let installed = codec::as_uint(&a[1], "installed")?;
            let ended = a.get(2).map(|e| codec::as_uint(e, "ended")).transpose()?;
            keys.push((kid, installed, ended));
        }
        let live = r.uint("live")?;
        r.finish()?;
        if keys.windows(2).any(|w| (w[0].1, w[0].0) >= (w[1].1, w[1].0)) {
            return Err(bad("key events in order of installing index, then key id"));
        }
        Ok(OrgState {
            registration,
            recovery,
            keys,
            live,
        })
    }
}

impl KeyState {
    /// Deterministic CBOR `{"org", "key", "installed", ? "ended"}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut f = vec![
            ("org", codec::text(self.org.clone())),
            ("key", codec::bytes(self.key.to_vec())),
            ("installed", codec::uint(self.installed)),
        ];
        if let Some(e) = self.ended {
            f.push(("ended", codec::uint(e)));
        }
        enc(f)
    }

    /// Strict decode.
    ///
    /// # Errors
    /// [`CodecError`] for anything [`KeyState::encode`] does not write.
    pub fn decode(b: &[u8]) -> Result<KeyState, CodecError> {
        let mut r = reader(b, "key state")?;
        let k = KeyState {
            org: r.text("org")?,
            key: r.bytes_n::<32>("key")?,
            installed: r.uint("installed")?,
            ended: r.opt_uint("ended")?,
        };
        r.finish()?;
        Ok(k)
    }
}

impl NameState {
    /// Deterministic CBOR `{"registration", "name"}`.
    pub fn encode(&self) -> Vec<u8> {
        enc(vec![
            ("registration", codec::uint(self.registration)),
            ("name", codec::text(self.name.clone())),
        ])
    }

    /// Strict decode.
    ///
    /// # Errors
    /// [`CodecError`] for anything [`NameState::encode`] does not write.
    pub fn decode(b: &[u8]) -> Result<NameState, CodecError> {
        let mut r = reader(b, "name state")?;
        let n = NameState {
            registration: r.uint("registration")?,
            name: r.text("name")?,
        };
        r.finish()?;
        Ok(n)
    }
}

/// The value under [`live_key`]: CBOR `{"index": uint}`.
pub fn encode_live(index: u64) -> Vec<u8> {
    enc(vec![("index", codec::uint(index))])
}

/// Strict decode of a [`live_key`] value.
///
/// # Errors
/// [`CodecError`] for anything [`encode_live`] does not write.
pub fn decode_live(b: &[u8]) -> Result<u64, CodecError> {
    let mut r = reader(b, "live slot")?;
    let i = r.uint("index")?;
    r.finish()?;
    Ok(i)
}

#[derive(Debug, Clone)]
enum LiveOp {
    Add(u64, String),
    Remove(StatementId, String),
}

/// What a batch of applied statements touched, in the order it happened.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    /// New statements: index → (id, kind).
    new: BTreeMap<u64, (StatementId, Kind)>,
    entries: BTreeSet<u64>,
    /// Organisations whose registration, recovery or keys changed.
    orgs: BTreeSet<String>,
    kids: BTreeSet<[u8; 32]>,
    names: BTreeSet<String>,
    live: Vec<LiveOp>,
}

/// [`super::apply`] through a [`Tracked`] registry: records the statement's effects in `reg`
/// and what they touched in `changes`.
///
/// # Errors
/// Storage failures.
pub fn apply_tracked<R: Registry + ?Sized>(
    reg: &mut R,
    changes: &mut Changes,
    index: u64,
    logged_at: Seconds,
    st: &crate::statement::Statement,
) -> Result<(), VerifyError> {
    super::apply(&mut Tracked { inner: reg, changes }, index, logged_at, st)
}

/// A [`Registry`] that notes what each update touches (the rules' effects, for the state map).
pub struct Tracked<'r, R: Registry + ?Sized> {
    /// The registry written through.
    pub inner: &'r mut R,
    /// What the updates touched.
    pub changes: &'r mut Changes,
}

fn codec_err(e: CodecError) -> VerifyError {
    invalid(Location::Table("state map"), e.to_string())
}

impl Changes {
    /// Entries and live-set changes gathered (a measure of the work a flush will do).
    pub fn len(&self) -> usize {
        self.entries.len() + self.live.len()
    }

    /// Whether nothing was touched.
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.entries.is_empty() && self.orgs.is_empty() && self.live.is_empty()
    }

    /// The map's new values for everything the batch touched, read back from `reg` (with the
    /// batch applied) and from `map` (the map before the batch); `None` removes a key.
    ///
    /// # Errors
    /// Storage failures, or a value in `map` that does not decode.
    pub fn updates<R, M>(&self, reg: &R, map: &M) -> Result<Updates, VerifyError>
    where
        R: Registry + ?Sized,
        M: MapStore,
        VerifyError: From<M::Error>,
    {
        let mut entries: HashMap<u64, Option<EntryState>> = HashMap::new();
        let mut orgs: HashMap<String, Option<OrgState>> = HashMap::new();
        let mut slots: BTreeMap<(String, u64), Option<u64>> = BTreeMap::new();
        let mut dirty_entries: BTreeSet<u64> = self.entries.clone();
        let mut dirty_orgs: BTreeSet<String> = self.orgs.clone();

        // The entry states as they stood before the batch (or new ones), to be updated.
        let entry_state =
            |i: u64, entries: &mut HashMap<u64, Option<EntryState>>| -> Result<(), VerifyError> {
                if entries.contains_key(&i) {
                    return Ok(());
                }
                let st = match self.new.get(&i) {
                    Some((id, kind)) => Some(EntryState {
                        id: *id,
                        kind: *kind,
                        standing: Standing::Recorded,
                        by: None,
                        slot: None,
                    }),
                    None => match map.value(&entry_key(i))? {
                        Some(b) => Some(EntryState::decode(&b).map_err(codec_err)?),
                        None => None,
                    },
                };
                entries.insert(i, st);
                Ok(())
            };
        let org_state = |o: &str, orgs: &mut HashMap<String, Option<OrgState>>| -> Result<(), VerifyError> {
            if !orgs.contains_key(o) {
                let st = match map.value(&org_key(o))? {
                    Some(b) => Some(OrgState::decode(&b).map_err(codec_err)?),
                    None => None,
                };
                orgs.insert(o.to_string(), st);
            }
            Ok(())
        };
        let missing = |what: String| invalid(Location::Table("state map"), what);

        // The live sets, slot by slot, in the order the rules changed them.
        for op in &self.live {
            match op {
                LiveOp::Add(index, org) => {
                    org_state(org, &mut orgs)?;
                    entry_state(*index, &mut entries)?;
                    let count = orgs.get(org).and_then(|o| o.as_ref()).map_or(0, |o| o.live);
                    slots.insert((org.clone(), count), Some(*index));
                    set_org_live(&mut orgs, reg, org, count + 1)?;
                    if let Some(Some(e)) = entries.get_mut(index) {
                        e.slot = Some(count);
                    }
                    dirty_entries.insert(*index);
                    dirty_orgs.insert(org.clone());
                }
                LiveOp::Remove(id, org) => {
                    let index = reg.statement(id)?.ok_or_else(|| {
                        missing(format!(
                            "attestation {} left the live set but is unknown",
                            hex::encode(id)
                        ))
                    })?;
                    org_state(org, &mut orgs)?;
                    entry_state(index, &mut entries)?;
                    let count = orgs.get(org).and_then(|o| o.as_ref()).map_or(0, |o| o.live);
                    let slot = entries
                        .get(&index)
                        .and_then(|e| e.as_ref())
                        .and_then(|e| e.slot)
                        .ok_or_else(|| {
                            missing(format!(
                                "attestation at entry {index} left the live set without a slot"
                            ))
                        })?;
                    let last = count
                        .checked_sub(1)
                        .ok_or_else(|| missing(format!("live set of {org:?} is empty")))?;
                    if slot != last {
                        let moved = match slots.get(&(org.clone(), last)) {
                            Some(Some(i)) => *i,
                            _ => match map.value(&live_key(org, last))? {
                                Some(b) => decode_live(&b).map_err(codec_err)?,
                                None => return Err(missing(format!("live slot {last} of {org:?} missing"))),
                            },
                        };
                        entry_state(moved, &mut entries)?;
                        if let Some(Some(e)) = entries.get_mut(&moved) {
                            e.slot = Some(slot);
                        }
                        slots.insert((org.clone(), slot), Some(moved));
                        dirty_entries.insert(moved);
                    }
                    slots.insert((org.clone(), last), None);
                    if let Some(Some(e)) = entries.get_mut(&index) {
                        e.slot = None;
                    }
                    set_org_live(&mut orgs, reg, org, last)?;
                    dirty_entries.insert(index);
                    dirty_orgs.insert(org.clone());
                }
            }
        }

        let mut out: Updates = Vec::new();
        // Kinds of entries, for telling a withdrawal from a supersession.
        for i in &dirty_entries {
            entry_state(*i, &mut entries)?;
        }
        for i in &dirty_entries {
            let Some(Some(mut e)) = entries.get(i).cloned() else {
                return Err(missing(format!("entry {i} changed but has no state")));
            };
            let (standing, by) = if let Some(r) = reg.untrusted(*i)? {
                (Standing::Untrusted, Some(r))
            } else if e.kind != Kind::Attestation {
                (Standing::Recorded, None)
            } else if e.slot.is_some() {
                // In the live set (the slots follow it, above).
                (Standing::Live, None)
            } else if let Some((_, by)) = reg.ended(*i)? {
                let by_kind = match self.new.get(&by) {
                    Some((_, k)) => *k,
                    None => match map.value(&entry_key(by))? {
                        Some(b) => EntryState::decode(&b).map_err(codec_err)?.kind,
                        None => {
                            return Err(missing(format!(
                                "entry {by}, which ended entry {i}, has no state"
                            )))
                        }
                    },
                };
                match by_kind {
                    Kind::Withdrawal => (Standing::Withdrawn, Some(by)),
                    _ => (Standing::Superseded, Some(by)),
                }
            } else {
                return Err(missing(format!(
                    "attestation at entry {i} is neither live nor ended"
                )));
            };
            e.standing = standing;
            e.by = by;
            out.push((entry_key(*i), Some(e.encode())));
        }
        for o in &dirty_orgs {
            org_state(o, &mut orgs)?;
            let live = orgs.get(o).and_then(|s| s.as_ref()).map_or(0, |s| s.live);
            let full = if self.orgs.contains(o) {
                None
            } else {
                orgs.get(o).cloned().flatten()
            };
            let st = match full {
                Some(s) => s,
                None => org_from_registry(reg, o, live)?,
            };
            out.push((org_key(o), Some(st.encode())));
        }
        for ((org, slot), index) in slots {
            out.push((live_key(&org, slot), index.map(encode_live)));
        }
        for kid in &self.kids {
            let rec = reg
                .key(kid)?
                .ok_or_else(|| missing(format!("key {} changed but is unknown", hex::encode(kid))))?;
            out.push((kid_key(kid), Some(key_state(&rec).encode())));
        }
        for n in &self.names {
            let (registration, name) = reg
                .name_key(n)?
                .ok_or_else(|| missing(format!("name key {n:?} changed but is unknown")))?;
            out.push((name_key(n), Some(NameState { registration, name }.encode())));
        }
        Ok(out)
    }
}

fn set_org_live<R: Registry + ?Sized>(
    orgs: &mut HashMap<String, Option<OrgState>>,
    reg: &R,
    org: &str,
    live: u64,
) -> Result<(), VerifyError> {
    match orgs.get_mut(org) {
        Some(Some(o)) => o.live = live,
        _ => {
            let o = org_from_registry(reg, org, live)?;
            orgs.insert(org.to_string(), Some(o));
        }
    }
    Ok(())
}

fn org_from_registry<R: Registry + ?Sized>(reg: &R, org: &str, live: u64) -> Result<OrgState, VerifyError> {
    let rec = reg.org(org)?.ok_or_else(|| {
        invalid(
            Location::Table("state map"),
            format!("organisation {org:?} changed but is unknown"),
        )
    })?;
    let mut keys: Vec<KeyEvent> = reg
        .keys_of(org)?
        .into_iter()
        .map(|(kid, k)| (kid, k.registration, k.ended.map(|(i, _)| i)))
        .collect();
    keys.sort_unstable_by_key(|(kid, installed, _)| (*installed, *kid));
    Ok(OrgState {
        registration: rec.registration,
        recovery: rec.recovery,
        keys,
        live,
    })
}

/// The [`KeyState`] of a key record.
pub fn key_state(rec: &KeyRecord) -> KeyState {
    KeyState {
        org: rec.org.clone(),
        key: rec.public_key,
        installed: rec.registration,
        ended: rec.ended.map(|(i, _)| i),
    }
}

impl<R: Registry + ?Sized> Registry for Tracked<'_, R> {
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError> {
        self.inner.key(kid)
    }
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, VerifyError> {
        self.inner.org(org)
    }
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, VerifyError> {
        self.inner.statement(id)
    }
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, VerifyError> {
        self.inner.live(id)
    }
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, VerifyError> {
        self.inner.owner(index)
    }
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, VerifyError> {
        self.inner.used_recovery(commitment)
    }
    fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, VerifyError> {
        self.inner.name_key(key)
    }
    fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), VerifyError> {
        self.changes.names.insert(key.to_string());
        self.inner.put_name_key(key, index, name)
    }
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, VerifyError> {
        self.inner.keys_of(org)
    }
    fn verifying_key(&self, kid: &[u8; 32], rec: &KeyRecord) -> Result<PublicKey, VerifyError> {
        self.inner.verifying_key(kid, rec)
    }
    fn put_statement(&mut self, id: &StatementId, org: &str, item: &HistoryItem) -> Result<(), VerifyError> {
        self.changes.new.insert(item.index, (*id, item.kind));
        self.changes.entries.insert(item.index);
        self.inner.put_statement(id, org, item)
    }
    fn history_since(&self, org: &str, since: Seconds, before: u64) -> Result<Vec<HistoryItem>, VerifyError> {
        self.inner.history_since(org, since, before)
    }
    fn ended(&self, index: u64) -> Result<Option<(StatementId, u64)>, VerifyError> {
        self.inner.ended(index)
    }
    fn relive(&mut self, index: u64, id: &StatementId, org: &str) -> Result<(), VerifyError> {
        self.changes.live.push(LiveOp::Add(index, org.to_string()));
        self.changes.entries.insert(index);
        self.inner.relive(index, id, org)
    }
    fn untrusted(&self, index: u64) -> Result<Option<u64>, VerifyError> {
        self.inner.untrusted(index)
    }
    fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), VerifyError> {
        self.changes.entries.insert(index);
        self.inner.put_untrusted(index, recovery)
    }
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError> {
        self.changes.kids.insert(*kid);
        self.changes.orgs.insert(rec.org.clone());
        self.inner.put_key(kid, rec)
    }
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), VerifyError> {
        self.changes.orgs.insert(org.to_string());
        self.inner.put_org(org, rec)
    }
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), VerifyError> {
        self.inner.put_used_recovery(commitment, org)
    }
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        org: &str,
        norms: &[&str],
        expires: Option<Seconds>,
    ) -> Result<(), VerifyError> {
        self.changes.live.push(LiveOp::Add(index, org.to_string()));
        self.changes.entries.insert(index);
        self.inner.put_live(id, index, org, norms, expires)
    }
    fn remove_live(&mut self, id: &StatementId, org: &str, by: u64) -> Result<(), VerifyError> {
        self.changes.live.push(LiveOp::Remove(*id, org.to_string()));
        self.inner.remove_live(id, org, by)
    }
    fn put_mark(&mut self, mark: RecoveryMark) -> Result<(), VerifyError> {
        self.inner.put_mark(mark)
    }
}
