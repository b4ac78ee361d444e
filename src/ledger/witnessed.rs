//! Which of the ledger's checkpoints its witnesses vouch for (docs/FORMAT.md section 16): the
//! newest stored cosigned note that is the ledger's own checkpoint of its size and meets a
//! verifier's witness policy.

use super::{Ledger, LedgerError};
use crate::checkpoint::{verify_note, VerifierKey};
use crate::policy::{Requirement, Witnessing};

impl Ledger {
    /// Applies `req` to the cosigned checkpoint notes the ledger stores, for a ledger of
    /// `entries` verified entries. A stored note counts only when it is signed by `vkey` and
    /// its text is the ledger's own checkpoint of that size; among those, the newest that
    /// meets the quorum is the trusted one, and the entries after it are not yet witnessed.
    /// When none meets it, the newest of them is the one reported.
    ///
    /// # Errors
    /// [`LedgerError::Witness`] when a note carries a cosignature line of a policy witness
    /// that does not verify over it; [`LedgerError::Store`].
    pub fn witnessing(
        &self,
        req: &Requirement,
        vkey: &VerifierKey,
        entries: u64,
        now: u64,
    ) -> Result<Witnessing, LedgerError> {
        if !req.policy.requires_witnesses() {
            let (size, note) = self.latest_checkpoint()?;
            let j = req.judge(&note, size, now)?;
            return Ok(req.outcome(Some((size, j)), entries));
        }
        let mut stored = self.store().cosigned()?;
        stored.reverse();
        let mut newest = None;
        for (size, note) in stored {
            if size > entries {
                continue;
            }
            let Some(own) = self.store().read(|r| r.checkpoint(size))? else {
                continue;
            };
            let (Ok(text), Ok(own_text)) = (verify_note(&note, vkey), verify_note(&own, vkey)) else {
                continue;
            };
            if text != own_text {
                continue;
            }
            let j = req.judge(&note, size, now)?;
            if j.quorum_met {
                return Ok(req.outcome(Some((size, j)), entries));
            }
            if newest.is_none() {
                newest = Some((size, j));
            }
        }
        Ok(req.outcome(newest, entries))
    }
}

impl Ledger {
    /// The stored cosigned checkpoint notes that are the ledger's own (signed by the key
    /// recorded at init, with the text of its checkpoint of that size), smallest first. Others
    /// are left out: they are not what the ledger signed.
    ///
    /// # Errors
    /// [`LedgerError::Store`].
    pub fn own_cosigned(&self) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
        let stored = self.store().cosigned()?;
        if stored.is_empty() {
            return Ok(stored);
        }
        let Ok(vkey) = VerifierKey::parse(&self.recorded_vkey()?) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (size, note) in stored {
            let Some(own) = self.store().read(|r| r.checkpoint(size))? else {
                continue;
            };
            if let (Ok(text), Ok(own_text)) = (verify_note(&note, &vkey), verify_note(&own, &vkey)) {
                if text == own_text {
                    out.push((size, note));
                }
            }
        }
        Ok(out)
    }
}
