//! What the rules read and write: the [`Registry`] interface (implemented in memory by
//! [`super::MemRegistry`] for a replay, and by the store for the custodian's append path) and
//! the records it holds.

use std::collections::HashSet;

use crate::keys::PublicKey;
use crate::statement::{Kind, StatementId};
use crate::time::Seconds;
use crate::verdict::{invalid, Location, VerifyError};

/// A registered key as the `keys` table records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The raw public key.
    pub public_key: [u8; 32],
    /// Index of the registration entry.
    pub registration: u64,
    /// The organisation (normalised).
    pub org: String,
    /// When the key stopped speaking for the organisation: (entry index, log time).
    pub ended: Option<(u64, i64)>,
}

/// An organisation as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRecord {
    /// Index of its registration.
    pub registration: u64,
    /// Its current recovery commitment.
    pub recovery: Option<[u8; 32]>,
}

/// A recovery that set a compromise time: statements by `kids` of `org` logged after `since`
/// and before the recovery (`index`) are untrusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryMark {
    /// The organisation.
    pub org: String,
    /// Index of the recovery entry.
    pub index: u64,
    /// The compromise time.
    pub since: Seconds,
    /// Keys of the organisation that spoke for it at some time after `since`.
    pub kids: HashSet<[u8; 32]>,
}

impl RecoveryMark {
    /// Whether an entry of `org`, signed by `kid`, at `index`, logged at `logged_at`, is made
    /// untrusted by this recovery.
    pub fn covers(&self, org: &str, kid: &[u8; 32], index: u64, logged_at: Seconds) -> bool {
        self.org == org && index < self.index && logged_at > self.since && self.kids.contains(kid)
    }
}

/// One statement of an organisation's history, as a later recovery needs it: a recovery whose
/// compromise mark covers it makes it untrusted and voids what it did (docs/FORMAT.md
/// section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryItem {
    /// Its entry index.
    pub index: u64,
    /// When it was logged.
    pub logged_at: Seconds,
    /// The key id in its protected header.
    pub kid: [u8; 32],
    /// For a withdrawal or a superseding attestation: the index of the attestation it ended.
    pub ends: Option<u64>,
    /// Its kind. Registrations and recoveries are never made untrusted (FORMAT.md section 7):
    /// a registration's commitment authorises the first recovery, and each recovery sets the
    /// commitment that authorises the next.
    pub kind: Kind,
}

impl HistoryItem {
    /// Whether a recovery's compromise mark can make this statement untrusted.
    pub fn can_be_untrusted(&self) -> bool {
        !matches!(self.kind, Kind::Registration | Kind::Recovery)
    }
}

/// What rules need to know about the ledger so far, and the primitive updates that record an
/// accepted statement. [`crate::rules::apply`] is the one place that decides those updates.
pub trait Registry {
    /// A registered key (ended or not).
    ///
    /// # Errors
    /// Storage failures.
    fn key(&self, kid: &[u8; 32]) -> Result<Option<KeyRecord>, VerifyError>;
    /// An organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn org(&self, org: &str) -> Result<Option<OrgRecord>, VerifyError>;
    /// Index of a statement already in the ledger.
    ///
    /// # Errors
    /// Storage failures.
    fn statement(&self, id: &StatementId) -> Result<Option<u64>, VerifyError>;
    /// A live (not withdrawn, not superseded) attestation: its index and organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn live(&self, id: &StatementId) -> Result<Option<(u64, String)>, VerifyError>;
    /// The organisation and kind of the statement at `index` (for error messages).
    ///
    /// # Errors
    /// Storage failures.
    fn owner(&self, index: u64) -> Result<Option<(String, Kind)>, VerifyError>;
    /// The organisation that already used the recovery key with this commitment.
    ///
    /// # Errors
    /// Storage failures.
    fn used_recovery(&self, commitment: &[u8; 32]) -> Result<Option<String>, VerifyError>;
    /// The registration that recorded a name comparison key (FORMAT.md section 4.1): its
    /// index and the name as registered.
    ///
    /// # Errors
    /// Storage failures.
    fn name_key(&self, key: &str) -> Result<Option<(u64, String)>, VerifyError>;
    /// Records a name comparison key for the registration at `index` of `name`.
    ///
    /// # Errors
    /// Storage failures.
    fn put_name_key(&mut self, key: &str, index: u64, name: &str) -> Result<(), VerifyError>;
    /// Every key ever registered to an organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn keys_of(&self, org: &str) -> Result<Vec<([u8; 32], KeyRecord)>, VerifyError>;
    /// The key of `rec` (registered under `kid`), ready to verify with. Decompressing an
    /// Ed25519 point costs a field exponentiation, so a registry that lives for a whole
    /// replay keeps the keys it has decompressed.
    ///
    /// # Errors
    /// [`VerifyError::Invalid`] at the keys table if the stored bytes are not a valid key.
    fn verifying_key(&self, kid: &[u8; 32], rec: &KeyRecord) -> Result<PublicKey, VerifyError> {
        let _ = kid;
        PublicKey::from_bytes(&rec.public_key).map_err(|e| invalid(Location::Table("keys"), e.to_string()))
    }

    /// Records a statement at an index, under its organisation, with what a later recovery
    /// needs to know of it ([`HistoryItem`]).
    ///
    /// # Errors
    /// Storage failures.
    fn put_statement(&mut self, id: &StatementId, org: &str, item: &HistoryItem) -> Result<(), VerifyError>;
    /// The statements of `org` logged after `since` at indexes below `before`, in index order:
    /// what a recovery with compromise time `since` at index `before` may make untrusted.
    ///
    /// # Errors
    /// Storage failures.
    fn history_since(&self, org: &str, since: Seconds, before: u64) -> Result<Vec<HistoryItem>, VerifyError>;
    /// For an attestation that stopped being live: its statement id and the entry that ended
    /// it (a withdrawal or a superseding attestation).
    ///
    /// # Errors
    /// Storage failures.
    fn ended(&self, index: u64) -> Result<Option<(StatementId, u64)>, VerifyError>;
    /// Makes the attestation at `index` live again: the statement that ended it was made
    /// untrusted by a recovery, and an untrusted statement has no effect.
    ///
    /// # Errors
    /// Storage failures.
    fn relive(&mut self, index: u64, id: &StatementId, org: &str) -> Result<(), VerifyError>;
    /// The recovery that made the entry at `index` untrusted, if one did.
    ///
    /// # Errors
    /// Storage failures.
    fn untrusted(&self, index: u64) -> Result<Option<u64>, VerifyError>;
    /// Records that the recovery at `recovery` made the entry at `index` untrusted.
    ///
    /// # Errors
    /// Storage failures.
    fn put_untrusted(&mut self, index: u64, recovery: u64) -> Result<(), VerifyError>;
    /// Stores a key record.
    ///
    /// # Errors
    /// Storage failures.
    fn put_key(&mut self, kid: &[u8; 32], rec: &KeyRecord) -> Result<(), VerifyError>;
    /// Stores an organisation.
    ///
    /// # Errors
    /// Storage failures.
    fn put_org(&mut self, org: &str, rec: &OrgRecord) -> Result<(), VerifyError>;
    /// Marks a recovery commitment used.
    ///
    /// # Errors
    /// Storage failures.
    fn put_used_recovery(&mut self, commitment: &[u8; 32], org: &str) -> Result<(), VerifyError>;
    /// Marks an attestation live, indexed under its norms; `expires` is its expiry, if any.
    ///
    /// # Errors
    /// Storage failures.
    fn put_live(
        &mut self,
        id: &StatementId,
        index: u64,
        org: &str,
        norms: &[&str],
        expires: Option<Seconds>,
    ) -> Result<(), VerifyError>;
    /// Ends an attestation's liveness; `by` is the index of the statement that ends it.
    ///
    /// # Errors
    /// Storage failures.
    fn remove_live(&mut self, id: &StatementId, org: &str, by: u64) -> Result<(), VerifyError>;
    /// Records a recovery that set a compromise time.
    ///
    /// # Errors
    /// Storage failures.
    fn put_mark(&mut self, mark: RecoveryMark) -> Result<(), VerifyError>;
}
