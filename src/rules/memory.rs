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
#[derive(Debug, Clone, Default)]
pub struct IndexChain(sha2::Sha256);

impl IndexChain {
    /// Appends `index` to the list.
    pub fn push(&mut self, index: u64) {
        use sha2::Digest;
        self.0.update(index.to_be_bytes());
    }

    /// The digest of the list so far.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest;
        self.0.clone().finalize().into()
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
    /// `Seconds::MAX`), so that the attestations in force at any time can be counted.
    pub fn live_times(&self) -> Vec<(Seconds, Seconds)> {
        self.live
            .values()
            .filter(|(i, _)| !self.untrusted.contains_key(i))
            .map(|(i, _)| {
                let logged = self
                    .history
                    .binary_search_by_key(i, |h| h.index)
                    .map_or(Seconds::MIN, |k| self.history[k].logged_at);
                (logged, self.expiry.get(i).copied().unwrap_or(Seconds::MAX))
            })
            .collect()
    }
    /// Recoveries that set a compromise time.
    pub fn marks(&self) -> &[RecoveryMark] {
        &self.marks
    }
}
