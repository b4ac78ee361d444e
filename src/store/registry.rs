//! The custodian's derived tables as the rules' registry ([`crate::rules::Registry`]): what the
//! append path checks statements against and records their effects in.

use super::{ReadTables, StoreError, WriteTables};
use crate::keys::PublicKey;
use crate::rules::{HistoryItem, KeyRecord, OrgRecord, RecoveryMark, Registry};
use crate::statement::{Body, Kind, StatementId};
use crate::time::Seconds;
use crate::verdict::{decode_entry_statement, invalid, Location, VerifyError};

/// A store failure under the rules' registry interface: [`VerifyError::Read`], which the
/// ledger takes back as this [`StoreError`].
impl From<StoreError> for VerifyError {
    fn from(e: StoreError) -> Self {
        VerifyError::Read(Box::new(e))
    }
}

/// The rules' read methods over the derived tables, the same for a write transaction and a
/// read transaction (each table reader exists on both, `table_readers!`).
macro_rules! registry_reads {
    ($t:ident) => {
        fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError> {
            Ok($t::key(self, kid)?)
        }
        fn org(&self, org: &str) -> Result<Option<OrgRecord>, VerifyError> {
            match $t::org(self, org)? {
                Some(registration) => Ok(Some(OrgRecord {
                    registration,
                    recovery: $t::recovery(self, org)?,
                })),
                None => Ok(None),
            }
        }
        fn statement(&self, id: &StatementId) -> Result<Option<u64>, VerifyError> {
            Ok(self.statement_index(id)?)
        }
        fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, VerifyError> {
            match $t::live(self, id)? {
                Some(index) => Ok(self.owner(index)?.map(|(org, _)| (index, org))),
                None => Ok(None),
            }
        }
        fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, VerifyError> {
            let Some(bytes) = self.entry(index)? else {
                return Ok(None);
            };
            let st = decode_entry_statement(index, &bytes)?.1;
            Ok(Some((st.iss.clone(), st.kind())))
        }
        fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, VerifyError> {
            Ok($t::used_recovery(self, commitment)?)
        }
        fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, VerifyError> {
            Ok($t::keys_of(self, org)?)
        }
        fn history_since(
            &self,
            org: &str,
            since: Seconds,
            before: u64,
        ) -> Result<Vec<HistoryItem>, VerifyError> {
            // Read back from the entries (recoveries are rare): the organisation's entries below
            // `before`, newest first, until one was logged at or before `since` (log times never
            // decrease along the chain).
            let mut out = Vec::new();
            for index in self.org_entries(org)?.into_iter().rev() {
                if index >= before {
                    continue;
                }
                let bytes = self
                    .entry(index)?
                    .ok_or_else(|| crate::store::StoreError::Damaged(format!("entry {index} missing")))?;
                let (e, st) = decode_entry_statement(index, &bytes)?;
                if e.logged_at <= since {
                    break;
                }
                let ends = match &st.payload.body {
                    Body::Attestation(a) => match &a.supersedes {
                        Some(t) => self.statement_index(t)?,
                        None => None,
                    },
                    Body::Withdrawal(w) => self.statement_index(&w.target)?,
                    _ => None,
                };
                out.push(HistoryItem {
                    index,
                    logged_at: e.logged_at,
                    kid: st.kid,
                    ends,
                    kind: st.kind(),
                });
            }
            out.reverse();
            Ok(out)
        }
        fn ended(&self, index: u64) -> Result<Option<(StatementId, u64)>, VerifyError> {
            Ok($t::ended(self, index)?.map(|(by, id)| (id, by)))
        }
        fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, VerifyError> {
            Ok($t::name_key(self, key)?)
        }
        fn untrusted(&self, index: u64) -> Result<Option<u64>, VerifyError> {
            Ok($t::untrusted(self, index)?)
        }
    };
}

/// The custodian's derived tables as the rules' registry: what the append path checks against
/// and updates.
impl Registry for WriteTables<'_> {
    registry_reads!(WriteTables);
    fn verifying_key(&self, kid: &[u8; 32], rec: &KeyRecord) -> Result<PublicKey, VerifyError> {
        if let Some(k) = self.verifying.borrow().get(kid) {
            if k.to_bytes() == rec.public_key {
                return Ok(*k);
            }
        }
        let k = PublicKey::from_bytes(&rec.public_key)
            .map_err(|e| invalid(Location::Table("keys"), e.to_string()))?;
        self.verifying.borrow_mut().insert(*kid, k);
        Ok(k)
    }
    fn put_statement(&mut self, id: &StatementId, org: &str, item: &HistoryItem) -> Result<(), VerifyError> {
        self.put_statement_id(id, item.index)?;
        self.put_org_entry(org, item.index)?;
        Ok(())
    }
    fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), VerifyError> {
        Ok(WriteTables::put_name_key(self, key, index, name)?)
    }
    fn relive(&mut self, index: u64, id: &StatementId, _org: &str) -> Result<(), VerifyError> {
        self.remove_ended(index)?;
        WriteTables::put_live(self, id, index)?;
        Ok(())
    }
    fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), VerifyError> {
        Ok(WriteTables::put_untrusted(self, index, recovery)?)
    }
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError> {
        Ok(WriteTables::put_key(self, kid, rec)?)
    }
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), VerifyError> {
        WriteTables::put_org(self, org, rec.registration)?;
        if let Some(c) = &rec.recovery {
            WriteTables::put_recovery(self, org, c)?;
        }
        Ok(())
    }
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), VerifyError> {
        Ok(WriteTables::put_used_recovery(self, commitment, org)?)
    }
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        _org: &str,
        norms: &[&str],
        _expires: Option<Seconds>,
    ) -> Result<(), VerifyError> {
        WriteTables::put_live(self, id, index)?;
        for n in norms {
            self.put_norm_entry(n, index)?;
        }
        Ok(())
    }
    fn remove_live(&mut self, id: &StatementId, _org: &str, by: u64) -> Result<(), VerifyError> {
        if let Some(index) = WriteTables::live(self, id)? {
            WriteTables::remove_live(self, id)?;
            self.put_ended(index, by, id)?;
        }
        Ok(())
    }
    fn put_mark(&mut self, _mark: RecoveryMark) -> Result<(), VerifyError> {
        // Compromise marks are derived again by every reader that needs them (status, history,
        // verify) from the entries; nothing is stored.
        Ok(())
    }
}

/// The derived tables in a read transaction, for checking a statement without appending it
/// ([`crate::rules::check_rules`] only reads): every update is refused.
impl Registry for ReadTables {
    registry_reads!(ReadTables);
    fn put_statement(
        &mut self,
        _id: &StatementId,
        _org: &str,
        _item: &HistoryItem,
    ) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn put_name_key(&mut self, _key: &str, _index: u64, _name: &str) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn relive(&mut self, _index: u64, _id: &StatementId, _org: &str) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn put_untrusted(&mut self, _index: u64, _recovery: u64) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn put_key(&mut self, _kid: &[u8; 32], _rec: &KeyRecord) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn put_org(&mut self, _org: &str, _rec: &OrgRecord) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn put_used_recovery(&mut self, _commitment: &[u8; 32], _org: &str) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn put_live(
        &mut self,
        _id: &StatementId,
        _index: u64,
        _org: &str,
        _norms: &[&str],
        _expires: Option<Seconds>,
    ) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn remove_live(&mut self, _id: &StatementId, _org: &str, _by: u64) -> Result<(), VerifyError> {
        Err(read_only())
    }
    fn put_mark(&mut self, _mark: RecoveryMark) -> Result<(), VerifyError> {
        Err(read_only())
    }
}

fn read_only() -> VerifyError {
    invalid(
        Location::Table("registry"),
        "a read transaction records nothing".to_string(),
    )
}
