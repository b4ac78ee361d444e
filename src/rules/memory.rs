//! The registry a replay rebuilds in memory from the entries alone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::{HistoryItem, KeyRecord, OrgRecord, RecoveryMark, Registry};
use crate::keys::PublicKey;
use crate::statement::{Kind, StatementId};
use crate::time::Seconds;
use crate::verdict::{invalid, Location, VerifyError};

/// The registry rebuilt in memory by a replay: bounded by organisations, keys, live
/// attestations and one 32-byte id per statement.
#[derive(Default)]
pub struct MemRegistry {
    pub(crate) keys: HashMap<[u8; 32], KeyRecord>,
    pub(crate) orgs: HashMap<String, OrgRecord>,
    pub(crate) ids: HashMap<StatementId, u64>,
    /// Live attestations: (index, organisation), the name shared through `names`.
    pub(crate) live: HashMap<StatementId, (u64, Arc<str>)>,
    /// Attestations that stopped being live, by index: (organisation, statement id, index of
    /// the statement that ended it).
    pub(crate) ended: HashMap<u64, (Arc<str>, StatementId, u64)>,
    /// Entries made untrusted by a recovery: index → the recovery's index.
    pub(crate) untrusted: BTreeMap<u64, u64>,
    /// Name comparison keys → (registration index, name as registered).
    pub(crate) name_keys: HashMap<String, (u64, String)>,
    /// Expiry of the attestations that have one, by index.
    pub(crate) expiry: HashMap<u64, Seconds>,
    /// Every statement put, in index order, compactly: what a recovery needs
    /// ([`HistoryItem`]).
    history: Vec<CompactItem>,
    /// Key ids that signed statements, numbered for `history`.
    kid_list: Vec<[u8; 32]>,
    kid_ids: HashMap<[u8; 32], u32>,
    /// Organisations, numbered for `history`.
    org_ids: HashMap<Arc<str>, u32>,
    /// One copy of each organisation name that `live` and `ended` refer to.
    names: HashSet<Arc<str>>,
    pub(crate) used: HashMap<[u8; 32], String>,
    pub(crate) marks: Vec<RecoveryMark>,
    pub(crate) norm_rows: u64,
    /// Decompressed keys by kid, so a replay decompresses each key once.
    pub(crate) verifying: HashMap<[u8; 32], PublicKey>,
    /// Per organisation, the digest of the ascending indexes of its entries (see
    /// [`IndexChain`]): what the `org_entries` table must hold for it.
    pub(crate) org_chains: HashMap<String, IndexChain>,
    /// Per norm, the digest of the ascending indexes of attestations naming it.
    pub(crate) norm_chains: HashMap<String, IndexChain>,
}

/// A [`HistoryItem`] in 32 bytes: the key id and organisation by number.
#[derive(Debug, Clone, Copy)]
struct CompactItem {
    index: u64,
    logged_at: Seconds,
    /// Index of the attestation it ended, or `u64::MAX`.
    ends: u64,
    kid: u32,
    org: u32,
    kind: Kind,
}

/// A running SHA-256 digest of an ascending list of entry indexes: the hash of their
/// concatenation, each as 8 bytes big-endian (fixed width, so one digest means one list).
///
/// `verify` compares the `org_entries` and `norm_entries` tables with the replay through
/// these: the replay keeps one digest per organisation and per norm (memory bounded by
/// organisations and norms, not entries), a sequential scan of each table computes the same
/// digests from its rows, and equal digests mean equal lists (SHA-256 being collision
/// resistant). One scan replaces a B-tree lookup per entry, and hashing the list as one
/// stream costs one SHA-256 block per 8 indexes.
///
/// The digest is SHA-256 itself, computed here block by block (`sha2::compress256`) so that
/// its running state can be saved with the rest of a replay's state and resumed
/// ([`IndexChain::encode`]): the same digest `sha2::Sha256` gives for the same bytes.
#[derive(Debug, Clone)]
pub struct IndexChain {
    state: [u32; 8],
    block: [u8; 64],
    /// Bytes of `block` filled (a multiple of 8).
    filled: u8,
    /// Bytes hashed in all.
    total: u64,
}

/// Equal when they hash the same list: bytes of the block beyond those filled do not count.
impl PartialEq for IndexChain {
    fn eq(&self, o: &Self) -> bool {
        let n = usize::from(self.filled);
        self.state == o.state
            && self.filled == o.filled
            && self.total == o.total
            && self.block[..n] == o.block[..n]
    }
}
impl Eq for IndexChain {}

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

impl Default for IndexChain {
    fn default() -> Self {
        IndexChain {
            state: SHA256_IV,
            block: [0; 64],
            filled: 0,
            total: 0,
        }
    }
}

fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, &[(*block).into()]);
}

impl IndexChain {
    /// Appends `index` to the list.
    pub fn push(&mut self, index: u64) {
        let at = usize::from(self.filled);
        self.block[at..at + 8].copy_from_slice(&index.to_be_bytes());
        self.filled += 8;
        self.total += 8;
        if self.filled == 64 {
            compress(&mut self.state, &self.block);
            self.filled = 0;
        }
    }

    /// The digest of the list so far.
    pub fn digest(&self) -> [u8; 32] {
        let mut state = self.state;
        let mut block = self.block;
        let at = usize::from(self.filled);
        block[at] = 0x80;
        block[at + 1..].fill(0);
        if at + 1 > 56 {
            compress(&mut state, &block);
            block = [0; 64];
        }
        block[56..].copy_from_slice(&(self.total * 8).to_be_bytes());
        compress(&mut state, &block);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// Saves the running state.
    pub fn encode(&self, e: &mut crate::codec::wire::Enc) {
        for w in self.state {
            e.u32(w);
        }
        e.u8(self.filled);
        e.buf.extend_from_slice(&self.block[..usize::from(self.filled)]);
        e.u64(self.total);
    }

    /// Reads back a state saved by [`IndexChain::encode`].
    ///
    /// # Errors
    /// [`WireError`](crate::codec::wire::WireError) for damaged or inconsistent bytes.
    pub fn decode(d: &mut crate::codec::wire::Dec<'_>) -> Result<Self, crate::codec::wire::WireError> {
        let mut c = IndexChain::default();
        for w in &mut c.state {
            *w = d.u32()?;
        }
        c.filled = d.u8()?;
        if c.filled % 8 != 0 || c.filled >= 64 {
            return Err(crate::codec::wire::WireError(format!(
                "index chain: {} bytes buffered",
                c.filled
            )));
        }
        for b in &mut c.block[..usize::from(c.filled)] {
            *b = d.u8()?;
        }
        c.total = d.u64()?;
        if c.total % 64 != u64::from(c.filled) {
            return Err(crate::codec::wire::WireError(
                "index chain: length and buffer disagree".into(),
            ));
        }
        Ok(c)
    }

    /// Appends `index` to the chain kept under `name` (a new, empty one if there is none).
    pub fn push_under(chains: &mut HashMap<String, IndexChain>, name: &str, index: u64) {
        match chains.get_mut(name) {
            Some(c) => c.push(index),
            None => chains.entry(name.to_string()).or_default().push(index),
        }
    }
}

impl Registry for MemRegistry {
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError> {
        Ok(self.keys.get(kid).cloned())
    }
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, VerifyError> {
        Ok(self.orgs.get(org).cloned())
    }
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, VerifyError> {
        Ok(self.ids.get(id).copied())
    }
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, VerifyError> {
        Ok(self.live.get(id).map(|(i, org)| (*i, org.to_string())))
    }
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, VerifyError> {
        Ok(self
            .ended
            .get(&index)
            .map(|(org, _, _)| (org.to_string(), Kind::Attestation)))
    }
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, VerifyError> {
        Ok(self.used.get(commitment).cloned())
    }
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, VerifyError> {
        Ok(self
            .keys
            .iter()
            .filter(|(_, k)| k.org == org)
            .map(|(i, k)| (*i, k.clone()))
            .collect())
    }
    fn put_statement(&mut self, id: &StatementId, org: &str, item: &HistoryItem) -> Result<(), VerifyError> {
        self.ids.insert(*id, item.index);
        IndexChain::push_under(&mut self.org_chains, org, item.index);
        let kid = match self.kid_ids.get(&item.kid) {
            Some(&k) => k,
            None => {
                let k = u32::try_from(self.kid_list.len()).map_err(|_| too_many("keys"))?;
                self.kid_list.push(item.kid);
                self.kid_ids.insert(item.kid, k);
                k
            }
        };
        let org = match self.org_ids.get(org) {
            Some(&o) => o,
            None => {
                let o = u32::try_from(self.org_ids.len()).map_err(|_| too_many("organisations"))?;
                let name = self.name(org);
                self.org_ids.insert(name, o);
                o
            }
        };
        if !item.can_be_untrusted() {
            // Never needed by a recovery (and never untrusted): not kept.
            return Ok(());
        }
        self.history.push(CompactItem {
            index: item.index,
            logged_at: item.logged_at,
            ends: item.ends.unwrap_or(u64::MAX),
            kid,
            org,
            kind: item.kind,
        });
        Ok(())
    }
    fn history_since(&self, org: &str, since: Seconds, before: u64) -> Result<Vec<HistoryItem>, VerifyError> {
        let Some(&o) = self.org_ids.get(org) else {
            return Ok(Vec::new());
        };
        let end = self.history.partition_point(|h| h.index < before);
        let mut out: Vec<HistoryItem> = self.history[..end]
            .iter()
            .rev()
            // Log times never decrease along the chain: stop at the first one not after `since`.
            .take_while(|h| h.logged_at > since)
            .filter(|h| h.org == o)
            .map(|h| HistoryItem {
                index: h.index,
                logged_at: h.logged_at,
                kid: self.kid_list[h.kid as usize],
                ends: (h.ends != u64::MAX).then_some(h.ends),
                kind: h.kind,
            })
            .collect();
        out.reverse();
        Ok(out)
    }
    fn ended(&self, index: u64) -> Result<Option<(StatementId, u64)>, VerifyError> {
        Ok(self.ended.get(&index).map(|(_, id, by)| (*id, *by)))
    }
    fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, VerifyError> {
        Ok(self.name_keys.get(key).cloned())
    }
    fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), VerifyError> {
        self.name_keys.insert(key.to_string(), (index, name.to_string()));
        Ok(())
    }
    fn relive(&mut self, index: u64, id: &StatementId, org: &str) -> Result<(), VerifyError> {
        self.ended.remove(&index);
        let org = self.name(org);
        self.live.insert(*id, (index, org));
        Ok(())
    }
    fn untrusted(&self, index: u64) -> Result<Option<u64>, VerifyError> {
        Ok(self.untrusted.get(&index).copied())
    }
    fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), VerifyError> {
        self.untrusted.insert(index, recovery);
        Ok(())
    }
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError> {
        if !self.verifying.contains_key(kid) {
            // A key that does not decompress is left out, and reported by `verifying_key`.
            if let Ok(k) = PublicKey::from_bytes(&rec.public_key) {
                self.verifying.insert(*kid, k);
            }
        }
        self.keys.insert(*kid, rec.clone());
        Ok(())
    }
    fn verifying_key(&self, kid: &[u8; 32], rec: &KeyRecord) -> Result<PublicKey, VerifyError> {
        match self.verifying.get(kid) {
            Some(k) if k.to_bytes() == rec.public_key => Ok(*k),
            _ => PublicKey::from_bytes(&rec.public_key)
                .map_err(|e| invalid(Location::Table("keys"), e.to_string())),
        }
    }
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), VerifyError> {
        self.orgs.insert(org.to_string(), rec.clone());
        Ok(())
    }
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), VerifyError> {
        self.used.insert(*commitment, org.to_string());
        Ok(())
    }
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        org: &str,
        norms: &[&str],
        expires: Option<Seconds>,
    ) -> Result<(), VerifyError> {
        let org = self.name(org);
        self.live.insert(*id, (index, org));
        if let Some(x) = expires {
            self.expiry.insert(index, x);
        }
        self.norm_rows += norms.len() as u64;
        for n in norms {
            IndexChain::push_under(&mut self.norm_chains, n, index);
        }
        Ok(())
    }
    fn remove_live(&mut self, id: &StatementId, org: &str, by: u64) -> Result<(), VerifyError> {
        if let Some((i, _)) = self.live.remove(id) {
            let org = self.name(org);
            self.ended.insert(i, (org, *id, by));
        }
        Ok(())
    }
    fn put_mark(&mut self, mark: RecoveryMark) -> Result<(), VerifyError> {
        self.marks.push(mark);
        Ok(())
    }
}

/// A registry that outgrew the 32-bit numbering of keys or organisations.
fn too_many(what: &str) -> VerifyError {
    invalid(Location::Ledger, format!("more than 2^32 {what}"))
}

impl MemRegistry {
    /// Entries made untrusted by a recovery, with the recovery's index, in index order.
    pub fn untrusted_entries(&self) -> &BTreeMap<u64, u64> {
        &self.untrusted
    }

    /// The shared copy of an organisation name.
    fn name(&mut self, org: &str) -> Arc<str> {
        match self.names.get(org) {
            Some(n) => Arc::clone(n),
            None => {
                let n: Arc<str> = Arc::from(org);
                self.names.insert(Arc::clone(&n));
                n
            }
        }
    }

    /// Number of registered organisations.
    pub fn org_count(&self) -> usize {
        self.orgs.len()
    }
    /// Number of live attestations (expired ones included, untrusted ones left out).
    pub fn live_count(&self) -> usize {
        self.live
            .values()
            .filter(|(i, _)| !self.untrusted.contains_key(i))
            .count()
    }
    /// For each attestation [`MemRegistry::live_count`] counts: (its log time, its expiry or
    /// `Seconds::MAX`), so that the attestations in force at any time can be counted. Sorted,
    /// so that one state gives one list (and equal reports compare equal), whatever the order
    /// of the map it is read from.
    pub fn live_times(&self) -> Vec<(Seconds, Seconds)> {
        let mut times: Vec<(Seconds, Seconds)> = self
            .live
            .values()
            .filter(|(i, _)| !self.untrusted.contains_key(i))
            .map(|(i, _)| {
                let logged = self
                    .history
                    .binary_search_by_key(i, |h| h.index)
                    .map_or(Seconds::MIN, |k| self.history[k].logged_at);
                (logged, self.expiry.get(i).copied().unwrap_or(Seconds::MAX))
            })
            .collect();
        times.sort_unstable();
        times
    }
    /// Recoveries that set a compromise time.
    pub fn marks(&self) -> &[RecoveryMark] {
        &self.marks
    }
}

/// The kinds, numbered for [`MemRegistry::encode`].
const KINDS: [Kind; 7] = [
    Kind::Registration,
    Kind::Attestation,
    Kind::Withdrawal,
    Kind::Acceptance,
    Kind::Rotation,
    Kind::Revocation,
    Kind::Recovery,
];

fn kind_code(k: Kind) -> u8 {
    KINDS.iter().position(|&x| x == k).unwrap_or_default() as u8
}

/// Sorted by key, so that one state has one encoding.
fn sorted<K: Ord + Clone, V>(m: &HashMap<K, V>) -> Vec<(&K, &V)> {
    let mut v: Vec<(&K, &V)> = m.iter().collect();
    v.sort_unstable_by(|a, b| a.0.cmp(b.0));
    v
}

impl MemRegistry {
    /// Saves the whole registry (what a replay resumed from it needs), deterministically: one
    /// state, one encoding. The cache of decompressed keys is left out (it is rebuilt).
    pub fn encode(&self, e: &mut crate::codec::wire::Enc) {
        e.len(self.keys.len());
        for (kid, k) in sorted(&self.keys) {
            e.h32(kid);
            e.h32(&k.public_key);
            e.u64(k.registration);
            e.str(&k.org);
            e.opt(k.ended, |e, (i, t)| {
                e.u64(i);
                e.i64(t);
            });
        }
        e.len(self.orgs.len());
        for (name, o) in sorted(&self.orgs) {
            e.str(name);
            e.u64(o.registration);
            e.opt(o.recovery.as_ref(), |e, c| e.h32(c));
        }
        e.len(self.ids.len());
        for (id, i) in sorted(&self.ids) {
            e.h32(id);
            e.u64(*i);
        }
        e.len(self.live.len());
        for (id, (i, org)) in sorted(&self.live) {
            e.h32(id);
            e.u64(*i);
            e.str(org);
        }
        e.len(self.ended.len());
        for (i, (org, id, by)) in sorted(&self.ended) {
            e.u64(*i);
            e.str(org);
            e.h32(id);
            e.u64(*by);
        }
        e.len(self.untrusted.len());
        for (i, r) in &self.untrusted {
            e.u64(*i);
            e.u64(*r);
        }
        e.len(self.name_keys.len());
        for (k, (i, name)) in sorted(&self.name_keys) {
            e.str(k);
            e.u64(*i);
            e.str(name);
        }
        e.len(self.expiry.len());
        for (i, t) in sorted(&self.expiry) {
            e.u64(*i);
            e.i64(*t);
        }
        e.len(self.kid_list.len());
        for k in &self.kid_list {
            e.h32(k);
        }
        let mut orgs: Vec<(&Arc<str>, &u32)> = self.org_ids.iter().collect();
        orgs.sort_unstable_by_key(|(_, &n)| n);
        e.len(orgs.len());
        for (name, _) in orgs {
            e.str(name);
        }
        e.len(self.history.len());
        for h in &self.history {
            e.u64(h.index);
            e.i64(h.logged_at);
            e.u64(h.ends);
            e.u32(h.kid);
            e.u32(h.org);
            e.u8(kind_code(h.kind));
        }
        e.len(self.used.len());
        for (c, org) in sorted(&self.used) {
            e.h32(c);
            e.str(org);
        }
        e.len(self.marks.len());
        for m in &self.marks {
            e.str(&m.org);
            e.u64(m.index);
            e.i64(m.since);
            let mut kids: Vec<&[u8; 32]> = m.kids.iter().collect();
            kids.sort_unstable();
            e.len(kids.len());
            for k in kids {
                e.h32(k);
            }
        }
        e.u64(self.norm_rows);
        for chains in [&self.org_chains, &self.norm_chains] {
            e.len(chains.len());
            for (name, c) in sorted(chains) {
                e.str(name);
                c.encode(e);
            }
        }
    }

    /// Reads back a registry saved by [`MemRegistry::encode`], checking what can be checked
    /// of its own consistency (numbering within range, history in index order).
    ///
    /// # Errors
    /// [`WireError`](crate::codec::wire::WireError) for damaged or inconsistent bytes.
    pub fn decode(d: &mut crate::codec::wire::Dec<'_>) -> Result<Self, crate::codec::wire::WireError> {
        use crate::codec::wire::WireError;
        let mut r = MemRegistry::default();
        for _ in 0..d.len(80)? {
            let kid = d.h32()?;
            let rec = KeyRecord {
                public_key: d.h32()?,
                registration: d.u64()?,
                org: d.str()?,
                ended: d.opt(|d| Ok((d.u64()?, d.i64()?)))?,
            };
            r.keys.insert(kid, rec);
        }
        for _ in 0..d.len(17)? {
            let name = d.str()?;
            let rec = OrgRecord {
                registration: d.u64()?,
                recovery: d.opt(|d| d.h32())?,
            };
            r.orgs.insert(name, rec);
        }
        let n = d.len(40)?;
        r.ids.reserve(n);
        for _ in 0..n {
            let id = d.h32()?;
            r.ids.insert(id, d.u64()?);
        }
        let n = d.len(48)?;
        r.live.reserve(n);
        for _ in 0..n {
            let id = d.h32()?;
            let i = d.u64()?;
            let org = r.name(&d.str()?);
            r.live.insert(id, (i, org));
        }
        for _ in 0..d.len(56)? {
            let i = d.u64()?;
            let org = r.name(&d.str()?);
            let id = d.h32()?;
            r.ended.insert(i, (org, id, d.u64()?));
        }
        for _ in 0..d.len(16)? {
            let i = d.u64()?;
            r.untrusted.insert(i, d.u64()?);
        }
        for _ in 0..d.len(24)? {
            let k = d.str()?;
            let i = d.u64()?;
            r.name_keys.insert(k, (i, d.str()?));
        }
        for _ in 0..d.len(16)? {
            let i = d.u64()?;
            r.expiry.insert(i, d.i64()?);
        }
        for _ in 0..d.len(32)? {
            let k = d.h32()?;
            let n = u32::try_from(r.kid_list.len()).map_err(|_| WireError("too many keys".into()))?;
            if r.kid_ids.insert(k, n).is_some() {
                return Err(WireError("a key id numbered twice".into()));
            }
            r.kid_list.push(k);
        }
        for n in 0..d.len(8)? {
            let name = r.name(&d.str()?);
            let n = u32::try_from(n).map_err(|_| WireError("too many organisations".into()))?;
            if r.org_ids.insert(name, n).is_some() {
                return Err(WireError("an organisation numbered twice".into()));
            }
        }
        let n = d.len(33)?;
        r.history.reserve(n);
        for _ in 0..n {
            let h = CompactItem {
                index: d.u64()?,
                logged_at: d.i64()?,
                ends: d.u64()?,
                kid: d.u32()?,
                org: d.u32()?,
                kind: *KINDS
                    .get(usize::from(d.u8()?))
                    .ok_or_else(|| WireError("unknown kind".into()))?,
            };
            if h.kid as usize >= r.kid_list.len() || h.org as usize >= r.org_ids.len() {
                return Err(WireError(
                    "history names a key or organisation not numbered".into(),
                ));
            }
            if r.history.last().is_some_and(|p| p.index >= h.index) {
                return Err(WireError("history out of index order".into()));
            }
            r.history.push(h);
        }
        for _ in 0..d.len(40)? {
            let c = d.h32()?;
            r.used.insert(c, d.str()?);
        }
        for _ in 0..d.len(32)? {
            let org = d.str()?;
            let index = d.u64()?;
            let since = d.i64()?;
            let mut kids = HashSet::new();
            for _ in 0..d.len(32)? {
                kids.insert(d.h32()?);
            }
            r.marks.push(RecoveryMark {
                org,
                index,
                since,
                kids,
            });
        }
        r.norm_rows = d.u64()?;
        for which in 0..2 {
            for _ in 0..d.len(50)? {
                let name = d.str()?;
                let c = IndexChain::decode(d)?;
                if which == 0 {
                    r.org_chains.insert(name, c);
                } else {
                    r.norm_chains.insert(name, c);
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::IndexChain;
    use sha2::Digest as _;

    #[test]
    fn an_index_chain_is_sha256_of_the_indexes_and_survives_being_saved() {
        for n in [0u64, 1, 7, 8, 9, 15, 16, 17, 100, 1000] {
            let mut c = IndexChain::default();
            let mut bytes = Vec::new();
            for i in 0..n {
                c.push(i * 3);
                bytes.extend_from_slice(&(i * 3).to_be_bytes());
                // Saved and read back at every step: the same digest after.
                let mut e = crate::codec::wire::Enc::default();
                c.encode(&mut e);
                let mut d = crate::codec::wire::Dec::new(&e.buf);
                assert_eq!(IndexChain::decode(&mut d).unwrap(), c);
                d.end().unwrap();
            }
            let want: [u8; 32] = sha2::Sha256::digest(&bytes).into();
            assert_eq!(c.digest(), want, "{n} indexes");
        }
    }
}
