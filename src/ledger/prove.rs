//! Proofs from a ledger: inclusion bundles for one entry, consistency proofs between two of its
//! signed checkpoints.

use super::invalid;
use super::{Ledger, LedgerError};
use crate::merkle;
use crate::proofs::{Bundle, Consistency, ConsistencyProof, Included};
use crate::statement::{Body, Kind};
use crate::store::StoreError;
use crate::verdict::{decode_entry_statement, Location};

impl Ledger {
    /// An audit bundle for entry `index` against the checkpoint of size `at_size` (default:
    /// the newest checkpoint with stored cosignatures that holds the entry, else the latest),
    /// optionally with a consistency proof from the checkpoint of size `since`. The checkpoint
    /// written carries its cosignatures when a cosigned note of its size is stored.
    ///
    /// # Errors
    /// [`LedgerError::NoCheckpoint`], [`LedgerError::BadArgument`], storage errors.
    pub fn prove(&self, index: u64, at_size: Option<u64>, since: Option<u64>) -> Result<Bundle, LedgerError> {
        let cosigned = self.own_cosigned()?;
        let at_size = at_size.or_else(|| cosigned.iter().rev().map(|(s, _)| *s).find(|&s| s > index));
        self.store.read(|r| {
            let (size, note) = Self::checkpoint_at(r, at_size)?;
            let note = cosigned
                .into_iter()
                .find(|(s, _)| *s == size)
                .map_or(note, |(_, n)| n);
            if index >= size {
                return Err(LedgerError::BadArgument(format!(
                    "entry {index} is not in the checkpoint of size {size}"
                )));
            }
            let bytes = r
                .entry(index)?
                .ok_or_else(|| StoreError::Damaged(format!("entry {index} missing")))?;
            let (_, st) = decode_entry_statement(index, &bytes)?;
            let key = match &st.payload.body {
                Body::Registration(r) => r.public_key.to_bytes(),
                Body::Recovery(r) => r.recovery_key.to_bytes(),
                _ => {
                    r.key(&st.kid)?
                        .ok_or_else(|| {
                            invalid(
                                Location::Table("keys"),
                                format!("entry {index}'s key is not registered"),
                            )
                        })?
                        .public_key
                }
            };
            let reg_index = r
                .org(&st.iss)?
                .ok_or_else(|| invalid(Location::Table("orgs"), format!("{:?} is not registered", st.iss)))?;
            let reg_bytes = r
                .entry(reg_index)?
                .ok_or_else(|| StoreError::Damaged(format!("entry {reg_index} missing")))?;
            let mut key_history = Vec::new();
            for i in r.org_entries(&st.iss)? {
                if i >= size {
                    break;
                }
                let b = r
                    .entry(i)?
                    .ok_or_else(|| StoreError::Damaged(format!("entry {i} missing")))?;
                let (_, h) = decode_entry_statement(i, &b)?;
                if matches!(h.kind(), Kind::Rotation | Kind::Revocation | Kind::Recovery) {
                    key_history.push(Included {
                        leaf_index: i,
                        path: merkle::inclusion_proof(i, size, r)?,
                        entry: b,
                    });
                }
            }
            let consistency = match since {
                None => None,
                Some(from) => {
                    if from == 0 || from > size {
                        return Err(LedgerError::BadArgument(format!(
                            "--since {from} must be between 1 and the proof's size {size}"
                        )));
                    }
                    let (_, from_note) = Self::checkpoint_at(r, Some(from))?;
                    Some(Consistency {
                        from_checkpoint: from_note,
                        path: merkle::consistency_proof(from, size, r)?,
                    })
                }
            };
            Ok(Bundle {
                checkpoint: note,
                tree_size: size,
                entry: Included {
                    leaf_index: index,
                    path: merkle::inclusion_proof(index, size, r)?,
                    entry: bytes,
                },
                signatory_key: key,
                registration: Included {
                    leaf_index: reg_index,
                    path: merkle::inclusion_proof(reg_index, size, r)?,
                    entry: reg_bytes,
                },
                key_history,
                consistency,
            })
        })
    }

    /// A consistency proof between the signed checkpoints of sizes `from` and `to` (default:
    /// the latest).
    ///
    /// # Errors
    /// [`LedgerError::NoCheckpoint`], [`LedgerError::BadArgument`], storage errors.
    pub fn consistency(&self, from: u64, to: Option<u64>) -> Result<ConsistencyProof, LedgerError> {
        self.store.read(|r| {
            let (to_size, new) = Self::checkpoint_at(r, to)?;
            if from == 0 || from > to_size {
                return Err(LedgerError::BadArgument(format!(
                    "--from {from} must be between 1 and {to_size}"
                )));
            }
            let (_, old) = Self::checkpoint_at(r, Some(from))?;
            Ok(ConsistencyProof {
                old,
                new,
                path: merkle::consistency_proof(from, to_size, r)?,
            })
        })
    }
}
