//! The tables of a ledger database, opened in a read or a write transaction, with their
//! readers and writers; the derived tables' rows as `verify` compares them.

use redb::{ReadOnlyTable, ReadableTable as _, ReadableTableMetadata as _};

use super::*;
use crate::merkle::{Hash, HashStore, ProofError};

/// Tables opened in a read transaction.
pub struct ReadTables {
    meta: ReadOnlyTable<&'static str, &'static [u8]>,
    entries: ReadOnlyTable<u64, &'static [u8]>,
    hashes: ReadOnlyTable<u64, [u8; 32]>,
    checkpoints: ReadOnlyTable<u64, &'static [u8]>,
    statement_ids: ReadOnlyTable<[u8; 32], u64>,
    keys: ReadOnlyTable<[u8; 32], &'static [u8]>,
    orgs: ReadOnlyTable<&'static str, u64>,
    live: ReadOnlyTable<[u8; 32], u64>,
    recovery: ReadOnlyTable<&'static str, [u8; 32]>,
    used_recovery: ReadOnlyTable<[u8; 32], &'static str>,
    org_entries: ReadOnlyTable<(&'static str, u64), ()>,
    norm_entries: ReadOnlyTable<(&'static str, u64), ()>,
    ended: ReadOnlyTable<u64, (u64, [u8; 32])>,
    untrusted: ReadOnlyTable<u64, u64>,
    name_keys: ReadOnlyTable<&'static str, (u64, &'static str)>,
    state_nodes: ReadOnlyTable<[u8; 34], &'static [u8]>,
    state_values: ReadOnlyTable<[u8; 32], &'static [u8]>,
}

impl KeyRecord {
    /// Table encoding: key ‖ install index ‖ ended flag ‖ end index ‖ end time ‖ org UTF-8
    /// (integers big-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(57 + self.org.len());
        v.extend_from_slice(&self.public_key);
        v.extend_from_slice(&self.registration.to_be_bytes());
        let (flag, i, t) = match self.ended {
            Some((i, t)) => (1u8, i, t),
            None => (0, 0, 0),
        };
        v.push(flag);
        v.extend_from_slice(&i.to_be_bytes());
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(self.org.as_bytes());
        v
    }
    /// Table decoding.
    ///
    /// # Errors
    /// [`StoreError::Damaged`].
    pub fn from_bytes(b: &[u8]) -> Result<KeyRecord, StoreError> {
        let bad = || StoreError::Damaged("keys table: malformed record".into());
        if b.len() < 57 {
            return Err(bad());
        }
        let (key, rest) = b.split_at(32);
        let (idx, rest) = rest.split_at(8);
        let (flag, rest) = rest.split_at(1);
        let (end_i, rest) = rest.split_at(8);
        let (end_t, org) = rest.split_at(8);
        let ended = match flag[0] {
            0 => None,
            1 => Some((
                u64::from_be_bytes(end_i.try_into().map_err(|_| bad())?),
                i64::from_be_bytes(end_t.try_into().map_err(|_| bad())?),
            )),
            _ => return Err(bad()),
        };
        Ok(KeyRecord {
            public_key: key.try_into().map_err(|_| bad())?,
            registration: u64::from_be_bytes(idx.try_into().map_err(|_| bad())?),
            org: std::str::from_utf8(org).map_err(|_| bad())?.to_string(),
            ended,
        })
    }
}

macro_rules! table_readers {
    () => {
        /// A node of the state map.
        ///
        /// # Errors
        /// [`StoreError`], [`StoreError::Damaged`] for bytes the map never writes.
        pub fn state_node(
            &self,
            pos: &crate::statemap::Pos,
        ) -> Result<Option<crate::statemap::Node>, StoreError> {
            match self.state_nodes.get(pos.to_bytes())? {
                None => Ok(None),
                Some(g) => crate::statemap::Node::from_bytes(g.value())
                    .map(Some)
                    .ok_or_else(|| StoreError::Damaged("a state map node is not one the map writes".into())),
            }
        }
        /// A value of the state map.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn state_value(&self, key: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.state_values.get(key)?.map(|g| g.value().to_vec()))
        }
        /// A `meta` value.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.meta.get(key)?.map(|g| g.value().to_vec()))
        }
        /// Number of entries.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn entry_count(&self) -> Result<u64, StoreError> {
            Ok(self.entries.len()?)
        }
        /// The bytes of entry `index`.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.entries.get(index)?.map(|g| g.value().to_vec()))
        }
        /// Entries `from..to` in index order, each as (index, bytes), fed to `f`; stops early
        /// when `f` returns false.
        ///
        /// # Errors
        /// [`StoreError`] or what `f` returns.
        pub fn for_each_entry<E: From<StoreError>>(
            &self,
            from: u64,
            mut f: impl FnMut(u64, &[u8]) -> Result<bool, E>,
        ) -> Result<(), E> {
            for item in self.entries.range(from..).map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                if !f(k.value(), v.value())? {
                    break;
                }
            }
            Ok(())
        }
        /// The signed checkpoint of tree size `size`, if one was signed.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.checkpoints.get(size)?.map(|g| g.value().to_vec()))
        }
        /// The newest checkpoint: (size, note).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
            Ok(self
                .checkpoints
                .last()?
                .map(|(k, v)| (k.value(), v.value().to_vec())))
        }
        /// Every checkpoint size, ascending.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn checkpoint_sizes(&self) -> Result<Vec<u64>, StoreError> {
            let mut out = Vec::new();
            for item in self.checkpoints.iter()? {
                out.push(item?.0.value());
            }
            Ok(out)
        }
        /// Index of the statement with this id.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn statement_index(&self, id: &[u8; 32]) -> Result<Option<u64>, StoreError> {
            Ok(self.statement_ids.get(id)?.map(|g| g.value()))
        }
        /// A registered key.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, StoreError> {
            match self.keys.get(kid)? {
                Some(g) => Ok(Some(KeyRecord::from_bytes(g.value())?)),
                None => Ok(None),
            }
        }
        /// Registration index of an organisation (normalised name).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn org(&self, org: &str) -> Result<Option<u64>, StoreError> {
            Ok(self.orgs.get(org)?.map(|g| g.value()))
        }
        /// Every registered organisation: (normalised name, registration index), by name.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn orgs(&self) -> Result<Vec<(String, u64)>, StoreError> {
            let mut out = Vec::new();
            for item in self.orgs.iter()? {
                let (k, v) = item?;
                out.push((k.value().to_string(), v.value()));
            }
            Ok(out)
        }
        /// Index of a live (not withdrawn) attestation.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn live(&self, id: &[u8; 32]) -> Result<Option<u64>, StoreError> {
            Ok(self.live.get(id)?.map(|g| g.value()))
        }
        /// The current recovery commitment of an organisation.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn recovery(&self, org: &str) -> Result<Option<[u8; 32]>, StoreError> {
            Ok(self.recovery.get(org)?.map(|g| g.value()))
        }
        /// The organisation whose recovery key with this commitment was already used.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, StoreError> {
            Ok(self
                .used_recovery
                .get(commitment)?
                .map(|g| g.value().to_string()))
        }
        /// Every key ever registered to an organisation (a scan of the keys table; used only
        /// by recoveries, which are rare).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, StoreError> {
            let mut out = Vec::new();
            for item in self.keys.iter()? {
                let (k, v) = item?;
                let rec = KeyRecord::from_bytes(v.value())?;
                if rec.org == org {
                    out.push((k.value(), rec));
                }
            }
            Ok(out)
        }
        /// Indexes of an organisation's entries, ascending.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn org_entries(&self, org: &str) -> Result<Vec<u64>, StoreError> {
            let mut out = Vec::new();
            for item in self.org_entries.range((org, 0)..=(org, u64::MAX))? {
                out.push(item?.0.value().1);
            }
            Ok(out)
        }
        /// Indexes of entries naming a norm, ascending.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn norm_entries(&self, norm: &str) -> Result<Vec<u64>, StoreError> {
            let mut out = Vec::new();
            for item in self.norm_entries.range((norm, 0)..=(norm, u64::MAX))? {
                out.push(item?.0.value().1);
            }
            Ok(out)
        }
        /// Feeds every row of `org_entries` (with `norms` false) or `norm_entries` (true) to
        /// `f`, in key order: by name, then ascending index.
        ///
        /// # Errors
        /// [`StoreError`] or what `f` returns.
        pub fn for_each_index_row<E: From<StoreError>>(
            &self,
            norms: bool,
            mut f: impl FnMut(&str, u64) -> Result<(), E>,
        ) -> Result<(), E> {
            let table = if norms {
                &self.norm_entries
            } else {
                &self.org_entries
            };
            for item in table.iter().map_err(StoreError::from)? {
                let (k, _) = item.map_err(StoreError::from)?;
                let (name, index) = k.value();
                f(name, index)?;
            }
            Ok(())
        }
        /// For an attestation that stopped being live: (index of the statement that ended it,
        /// its statement id).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn ended(&self, index: u64) -> Result<Option<(u64, [u8; 32])>, StoreError> {
            Ok(self.ended.get(index)?.map(|g| g.value()))
        }
        /// The recovery that made entry `index` untrusted, if one did.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn untrusted(&self, index: u64) -> Result<Option<u64>, StoreError> {
            Ok(self.untrusted.get(index)?.map(|g| g.value()))
        }
        /// The registration that recorded a name comparison key: (index, name as registered).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, StoreError> {
            Ok(self.name_keys.get(key)?.map(|g| {
                let (i, n) = g.value();
                (i, n.to_string())
            }))
        }
        /// Every untrusted entry as (index, recovery index), in index order.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn untrusted_entries(&self) -> Result<Vec<(u64, u64)>, StoreError> {
            let mut out = Vec::new();
            for item in self.untrusted.iter()? {
                let (k, v) = item?;
                out.push((k.value(), v.value()));
            }
            Ok(out)
        }
        /// Whether `org_entries` holds (org, index).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn has_org_entry(&self, org: &str, index: u64) -> Result<bool, StoreError> {
            Ok(self.org_entries.get((org, index))?.is_some())
        }
        /// Whether `norm_entries` holds (norm, index).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn has_norm_entry(&self, norm: &str, index: u64) -> Result<bool, StoreError> {
            Ok(self.norm_entries.get((norm, index))?.is_some())
        }
        /// The stored hash at a stored-hash index.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn hash(&self, index: u64) -> Result<Option<[u8; 32]>, StoreError> {
            Ok(self.hashes.get(index)?.map(|g| g.value()))
        }
        /// Row counts of the tables verify compares by count:
        /// (hashes, statement_ids, org_entries, norm_entries).
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn derived_counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
            Ok((
                self.hashes.len()?,
                self.statement_ids.len()?,
                self.org_entries.len()?,
                self.norm_entries.len()?,
            ))
        }
        /// The stored hashes with indexes in `range`, in index order, as (index, hash): the
        /// rows there are, so a missing row shows as a gap.
        ///
        /// # Errors
        /// [`StoreError`].
        pub fn hashes_in(&self, range: std::ops::Range<u64>) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
            let mut out = Vec::with_capacity(
                usize::try_from(range.end.saturating_sub(range.start))
                    .unwrap_or(0)
                    .min(1 << 16),
            );
            for item in self.hashes.range(range)? {
                let (k, v) = item?;
                out.push((k.value(), v.value()));
            }
            Ok(out)
        }
        /// Feeds every row of `statement_ids` to `f` as (id, index), in id order.
        ///
        /// # Errors
        /// [`StoreError`] or what `f` returns.
        pub fn for_each_statement_id<E: From<StoreError>>(
            &self,
            mut f: impl FnMut([u8; 32], u64) -> Result<(), E>,
        ) -> Result<(), E> {
            for item in self.statement_ids.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(k.value(), v.value())?;
            }
            Ok(())
        }
        /// Feeds every row of the registry tables (`keys`, `orgs`, `live`, `recovery`,
        /// `used_recovery`, `ended`, `untrusted`, `name_keys`) to `f`; used by `verify` to compare them with the replay.
        ///
        /// # Errors
        /// [`StoreError`] or what `f` returns.
        pub fn for_each_registry_row<E: From<StoreError>>(
            &self,
            mut f: impl FnMut(DerivedRow) -> Result<(), E>,
        ) -> Result<(), E> {
            for item in self.keys.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Key(
                    k.value(),
                    KeyRecord::from_bytes(v.value())?,
                ))?;
            }
            for item in self.orgs.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Org(k.value().to_string(), v.value()))?;
            }
            for item in self.live.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Live(k.value(), v.value()))?;
            }
            for item in self.recovery.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Recovery(k.value().to_string(), v.value()))?;
            }
            for item in self.used_recovery.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::UsedRecovery(k.value(), v.value().to_string()))?;
            }
            for item in self.ended.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                let (by, id) = v.value();
                f(DerivedRow::Ended(k.value(), by, id))?;
            }
            for item in self.untrusted.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                f(DerivedRow::Untrusted(k.value(), v.value()))?;
            }
            for item in self.name_keys.iter().map_err(StoreError::from)? {
                let (k, v) = item.map_err(StoreError::from)?;
                let (i, n) = v.value();
                f(DerivedRow::NameKey(k.value().to_string(), i, n.to_string()))?;
            }
            Ok(())
        }
    };
}

/// One row of a derived table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedRow {
    /// `keys`: kid → record.
    Key([u8; 32], KeyRecord),
    /// `orgs`: name → registration index.
    Org(String, u64),
    /// `live`: attestation id → index.
    Live([u8; 32], u64),
    /// `recovery`: name → commitment.
    Recovery(String, [u8; 32]),
    /// `used_recovery`: commitment → name.
    UsedRecovery([u8; 32], String),
    /// `ended`: attestation index → (index that ended it, its statement id).
    Ended(u64, u64, [u8; 32]),
    /// `untrusted`: entry index → recovery index.
    Untrusted(u64, u64),
    /// `name_keys`: comparison key → (registration index, name as registered).
    NameKey(String, u64, String),
}

impl ReadTables {
    pub(super) fn open(txn: &redb::ReadTransaction) -> Result<Self, StoreError> {
        Ok(ReadTables {
            meta: txn.open_table(META)?,
            entries: txn.open_table(ENTRIES)?,
            hashes: txn.open_table(HASHES)?,
            checkpoints: txn.open_table(CHECKPOINTS)?,
            statement_ids: txn.open_table(STATEMENT_IDS)?,
            keys: txn.open_table(KEYS)?,
            orgs: txn.open_table(ORGS)?,
            live: txn.open_table(LIVE)?,
            recovery: txn.open_table(RECOVERY)?,
            used_recovery: txn.open_table(USED_RECOVERY)?,
            org_entries: txn.open_table(ORG_ENTRIES)?,
            norm_entries: txn.open_table(NORM_ENTRIES)?,
            ended: txn.open_table(ENDED)?,
            untrusted: txn.open_table(UNTRUSTED)?,
            name_keys: txn.open_table(NAME_KEYS)?,
            state_nodes: txn.open_table(STATE_NODES)?,
            state_values: txn.open_table(STATE_VALUES)?,
        })
    }
    table_readers!();
}

/// Tables opened in a write transaction.
pub struct WriteTables<'t> {
    pub(crate) meta: redb::Table<'t, &'static str, &'static [u8]>,
    pub(crate) entries: redb::Table<'t, u64, &'static [u8]>,
    pub(crate) hashes: redb::Table<'t, u64, [u8; 32]>,
    pub(crate) checkpoints: redb::Table<'t, u64, &'static [u8]>,
    pub(crate) statement_ids: redb::Table<'t, [u8; 32], u64>,
    pub(crate) keys: redb::Table<'t, [u8; 32], &'static [u8]>,
    pub(crate) orgs: redb::Table<'t, &'static str, u64>,
    pub(crate) live: redb::Table<'t, [u8; 32], u64>,
    pub(crate) recovery: redb::Table<'t, &'static str, [u8; 32]>,
    pub(crate) used_recovery: redb::Table<'t, [u8; 32], &'static str>,
    pub(crate) org_entries: redb::Table<'t, (&'static str, u64), ()>,
    pub(crate) norm_entries: redb::Table<'t, (&'static str, u64), ()>,
    pub(crate) ended: redb::Table<'t, u64, (u64, [u8; 32])>,
    pub(crate) untrusted: redb::Table<'t, u64, u64>,
    pub(crate) name_keys: redb::Table<'t, &'static str, (u64, &'static str)>,
    pub(crate) state_nodes: redb::Table<'t, [u8; 34], &'static [u8]>,
    pub(crate) state_values: redb::Table<'t, [u8; 32], &'static [u8]>,
    /// Keys decompressed during this transaction, by kid (see `Registry::verifying_key`).
    pub(crate) verifying: std::cell::RefCell<std::collections::HashMap<[u8; 32], crate::keys::PublicKey>>,
}

impl<'t> WriteTables<'t> {
    pub(super) fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(WriteTables {
            meta: txn.open_table(META)?,
            entries: txn.open_table(ENTRIES)?,
            hashes: txn.open_table(HASHES)?,
            checkpoints: txn.open_table(CHECKPOINTS)?,
            statement_ids: txn.open_table(STATEMENT_IDS)?,
            keys: txn.open_table(KEYS)?,
            orgs: txn.open_table(ORGS)?,
            live: txn.open_table(LIVE)?,
            recovery: txn.open_table(RECOVERY)?,
            used_recovery: txn.open_table(USED_RECOVERY)?,
            org_entries: txn.open_table(ORG_ENTRIES)?,
            norm_entries: txn.open_table(NORM_ENTRIES)?,
            ended: txn.open_table(ENDED)?,
            untrusted: txn.open_table(UNTRUSTED)?,
            name_keys: txn.open_table(NAME_KEYS)?,
            state_nodes: txn.open_table(STATE_NODES)?,
            state_values: txn.open_table(STATE_VALUES)?,
            verifying: Default::default(),
        })
    }
    table_readers!();

    /// Sets a `meta` value.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.meta.insert(key, value)?;
        Ok(())
    }
    /// Stores entry bytes.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_entry(&mut self, index: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.entries.insert(index, bytes)?;
        Ok(())
    }
    /// Removes an entry (raw access, for tests that simulate tampering; the ledger never
    /// deletes).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_entry(&mut self, index: u64) -> Result<(), StoreError> {
        self.entries.remove(index)?;
        Ok(())
    }
    /// Stores a Merkle hash.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_hash(&mut self, index: u64, hash: &Hash) -> Result<(), StoreError> {
        self.hashes.insert(index, *hash)?;
        Ok(())
    }
    /// Removes the Merkle hash at stored-hash index `index`. accord never does this; tests use
    /// it to damage the `hashes` table the way a tampered store might.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_hash(&mut self, index: u64) -> Result<(), StoreError> {
        self.hashes.remove(index)?;
        Ok(())
    }
    /// Stores a signed checkpoint.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_checkpoint(&mut self, size: u64, note: &[u8]) -> Result<(), StoreError> {
        self.checkpoints.insert(size, note)?;
        Ok(())
    }
    /// Records a statement id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_statement_id(&mut self, id: &[u8; 32], index: u64) -> Result<(), StoreError> {
        self.statement_ids.insert(id, index)?;
        Ok(())
    }
    /// Records a registered key.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), StoreError> {
        self.keys.insert(kid, rec.to_bytes().as_slice())?;
        Ok(())
    }
    /// Records a registered organisation.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_org(&mut self, org: &str, index: u64) -> Result<(), StoreError> {
        self.orgs.insert(org, index)?;
        Ok(())
    }
    /// Marks an attestation live.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_live(&mut self, id: &[u8; 32], index: u64) -> Result<(), StoreError> {
        self.live.insert(id, index)?;
        Ok(())
    }
    /// Removes an attestation from the live set (it was withdrawn).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_live(&mut self, id: &[u8; 32]) -> Result<(), StoreError> {
        self.live.remove(id)?;
        Ok(())
    }
    /// Records that the attestation at `index`, with statement id `id`, was ended by the
    /// statement at `by`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_ended(&mut self, index: u64, by: u64, id: &[u8; 32]) -> Result<(), StoreError> {
        self.ended.insert(index, (by, *id))?;
        Ok(())
    }
    /// Forgets that the attestation at `index` was ended (a recovery voided what ended it).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_ended(&mut self, index: u64) -> Result<(), StoreError> {
        self.ended.remove(index)?;
        Ok(())
    }
    /// Records a name comparison key for the registration at `index` of `name`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), StoreError> {
        self.name_keys.insert(key, (index, name))?;
        Ok(())
    }
    /// Records that the recovery at `recovery` made entry `index` untrusted.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), StoreError> {
        self.untrusted.insert(index, recovery)?;
        Ok(())
    }
    /// Sets an organisation's recovery commitment.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_recovery(&mut self, org: &str, commitment: &[u8; 32]) -> Result<(), StoreError> {
        self.recovery.insert(org, commitment)?;
        Ok(())
    }
    /// Records a recovery commitment as used.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), StoreError> {
        self.used_recovery.insert(commitment, org)?;
        Ok(())
    }
    /// Indexes an entry under its organisation.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_org_entry(&mut self, org: &str, index: u64) -> Result<(), StoreError> {
        self.org_entries.insert((org, index), ())?;
        Ok(())
    }
    /// Removes (org, index) from `org_entries` or, with `norms`, (norm, index) from
    /// `norm_entries`. accord never does this; tests use it to alter a derived table the way a
    /// damaged or tampered store might.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn remove_index_row(&mut self, norms: bool, name: &str, index: u64) -> Result<(), StoreError> {
        if norms {
            self.norm_entries.remove((name, index))?;
        } else {
            self.org_entries.remove((name, index))?;
        }
        Ok(())
    }
    /// Indexes an entry under a norm.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn put_norm_entry(&mut self, norm: &str, index: u64) -> Result<(), StoreError> {
        self.norm_entries.insert((norm, index), ())?;
        Ok(())
    }
}

fn read_hashes_from(
    table: &impl redb::ReadableTable<u64, [u8; 32]>,
    indexes: &[u64],
) -> Result<Vec<Hash>, ProofError> {
    let mut out = Vec::with_capacity(indexes.len());
    for &i in indexes {
        let g = table
            .get(i)
            .map_err(|e| ProofError::Store(e.to_string()))?
            .ok_or(ProofError::MissingHash { index: i })?;
        out.push(g.value());
    }
    Ok(out)
}

impl HashStore for ReadTables {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        read_hashes_from(&self.hashes, indexes)
    }
}

impl HashStore for WriteTables<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ProofError> {
        read_hashes_from(&self.hashes, indexes)
    }
}

impl crate::statemap::MapStore for ReadTables {
    type Error = StoreError;
    fn node(&self, pos: &crate::statemap::Pos) -> Result<Option<crate::statemap::Node>, StoreError> {
        self.state_node(pos)
    }
    fn set_node(
        &mut self,
        _: &crate::statemap::Pos,
        _: Option<crate::statemap::Node>,
    ) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }
    fn value(&self, key: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.state_value(key)
    }
    fn set_value(&mut self, _: &Hash, _: Option<&[u8]>) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly)
    }
}

impl crate::statemap::MapStore for WriteTables<'_> {
    type Error = StoreError;
    fn node(&self, pos: &crate::statemap::Pos) -> Result<Option<crate::statemap::Node>, StoreError> {
        self.state_node(pos)
    }
    fn set_node(
        &mut self,
        pos: &crate::statemap::Pos,
        node: Option<crate::statemap::Node>,
    ) -> Result<(), StoreError> {
        match node {
            Some(n) => {
                self.state_nodes.insert(pos.to_bytes(), &n.to_bytes()[..])?;
            }
            None => {
                self.state_nodes.remove(pos.to_bytes())?;
            }
        }
        Ok(())
    }
    fn value(&self, key: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.state_value(key)
    }
    fn set_value(&mut self, key: &Hash, value: Option<&[u8]>) -> Result<(), StoreError> {
        match value {
            Some(v) => {
                self.state_values.insert(key, v)?;
            }
            None => {
                self.state_values.remove(key)?;
            }
        }
        Ok(())
    }
}
