//! `accord watch`: what a ledger says in an organisation's name, or in a name close to it
//! (issue 15, "watch your own name"), as certspotter and rekor-monitor do for certificates.
//!
//! Pure functions, no I/O: a [`Watchlist`] of the names watched turns each entry into the
//! [`Finding`]s it holds for them, and [`WatchState`] is the small record (kept by the CLI in
//! the state directory, docs/FORMAT.md section 11.2) of how far a watch of one ledger for one
//! set of names has reported. The CLI (`src/cli/watch.rs`) reads and verifies the log, hands
//! each verified entry to [`Watchlist::entry_findings`], and reports the findings only once the
//! whole verification has passed.
//!
//! An entry is a finding for a watched organisation when
//! * its statement is the organisation's (its `iss` is the watched name, normalised as `iss`
//!   is): a registration, attestation, withdrawal, rotation, revocation or recovery, each of
//!   which uses, installs or ends one of its keys;
//! * it registers another organisation whose name is close to the watched one
//!   ([`closeness`]): their comparison keys (docs/FORMAT.md section 4.1, look-alike letters and
//!   case counted as equal) within a small edit distance, scaled to the watched name's length
//!   ([`max_distance`]), or the new name's key holding the watched one's. A key equal to the
//!   watched one's is a look-alike the ledger's rules refuse since rules version 2; a version-1
//!   registration can still hold one, and it is reported as such.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkpoint::VerifierKey;
use crate::entry::EntryRef;
use crate::statement::{normalise_org, Body, Statement};
use crate::time::Seconds;

/// The `format` of a watch state file.
pub const STATE_FORMAT: &str = "accord-watch/1";

/// The most organisations one watch may name.
pub const MAX_WATCHED: usize = 64;

/// What can go wrong in a watch, below the CLI.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A name given to watch cannot be an organisation's name.
    #[error("--org {name:?}: {problem}")]
    BadName {
        /// The name as given.
        name: String,
        /// Why it cannot name an organisation.
        problem: String,
    },
    /// No name, or too many.
    #[error("{0}")]
    Names(String),
    /// A watch state that is damaged or not this watch's.
    #[error("{0}")]
    BadState(String),
    /// An entry that does not decode (the verifier accepted it: this is a bug, or an entry that
    /// was not verified).
    #[error("entry {index}: {problem}")]
    Entry {
        /// Its index.
        index: u64,
        /// What failed.
        problem: String,
    },
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// The organisation registered (its name bound to a key).
    Registration,
    /// An attestation in its name.
    Attestation,
    /// A withdrawal in its name.
    Withdrawal,
    /// Its key handed over to another.
    Rotation,
    /// One of its keys ended.
    Revocation,
    /// Its recovery key used: every current key ended, a new one installed.
    Recovery,
    /// Another organisation registered with a name close to it.
    CloseName,
    /// The log is smaller than a checkpoint verified before.
    Rollback,
    /// The log's tree differs from a checkpoint verified before.
    Fork,
    /// The log does not verify.
    Invalid,
}

impl FindingKind {
    /// The kind as a word (`close-name`, ...), as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Registration => "registration",
            FindingKind::Attestation => "attestation",
            FindingKind::Withdrawal => "withdrawal",
            FindingKind::Rotation => "rotation",
            FindingKind::Revocation => "revocation",
            FindingKind::Recovery => "recovery",
            FindingKind::CloseName => "close-name",
            FindingKind::Rollback => "rollback",
            FindingKind::Fork => "fork",
            FindingKind::Invalid => "invalid",
        }
    }

    /// Whether it is about the log as a whole (a rollback, a fork, invalid data) rather than
    /// one entry.
    pub fn is_about_the_log(self) -> bool {
        matches!(
            self,
            FindingKind::Rollback | FindingKind::Fork | FindingKind::Invalid
        )
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a watch reports, for one watched organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The entry's index; for a finding about the log, the tree size it is about (the size
    /// remembered for a rollback, the size of the two different trees for a fork, the first
    /// bad entry or the checkpoint's size for invalid data).
    pub index: u64,
    /// What it is.
    pub kind: FindingKind,
    /// The watched name, as given.
    pub org: String,
    /// One line for people: text from the entry is quoted, with line breaks, quotes and
    /// control characters escaped.
    pub summary: String,
    /// The organisation whose statement it is (`iss`, normalised), if it is an entry's.
    pub iss: Option<String>,
    /// The name registered, as written, for a registration and a close name.
    pub name: Option<String>,
    /// The signing key's id (hex), if it is an entry's.
    pub key_id: Option<String>,
    /// The statement id (hex), if it is an entry's.
    pub statement_id: Option<String>,
    /// The log time (RFC 3339), if it is an entry's.
    pub logged_at: Option<String>,
    /// The reason a withdrawal, revocation or recovery gives, exactly as signed (it may hold
    /// line feeds).
    pub reason: Option<String>,
    /// For a close name: the edit distance between the two comparison keys (0: they look
    /// alike), or `None` when the new name's key holds the watched one's further away.
    pub distance: Option<usize>,
}

impl Finding {
    /// A finding about the log as a whole, for the watched name `org`.
    pub fn about_the_log(kind: FindingKind, index: u64, org: &str, summary: &str) -> Finding {
        Finding {
            index,
            kind,
            org: org.to_string(),
            summary: one_line(summary),
            iss: None,
            name: None,
            key_id: None,
            statement_id: None,
            logged_at: None,
            reason: None,
            distance: None,
        }
    }
}

/// How close a registered name is to a watched one ([`closeness`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closeness {
    /// Within [`max_distance`] edits of the watched name's comparison key (0: the same key).
    Distance(usize),
    /// Further, but its key holds the watched name's.
    Contains,
}

/// The most edits between comparison keys that still make a name close to a watched key of
/// `len` characters: 0 up to 2 characters (only a look-alike), 1 up to 5, 2 beyond. Short
/// names are a few edits away from many others, so the allowance grows with the length.
pub fn max_distance(len: usize) -> usize {
    match len {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// Whether the registered comparison key `registered` is close to the watched one `watched`
/// (both as characters): within [`max_distance`] edits (whole keys, Levenshtein), or, for a
/// watched key of at least 3 characters, holding it.
pub fn closeness(watched: &[char], registered: &[char]) -> Option<Closeness> {
    let cap = max_distance(watched.len());
    let d = crate::report::edit_distance(watched, registered, cap);
    if d <= cap {
        return Some(Closeness::Distance(d));
    }
    if watched.len() >= 3 && crate::report::contains(registered, watched) {
        return Some(Closeness::Contains);
    }
    None
}

/// The comparison key of a name (docs/FORMAT.md section 4.1, without the refusal rules), as
/// characters; for a name with a code point the pinned Unicode data do not know, its
/// NFKC_Casefold.
pub fn comparison_chars(name: &str) -> Vec<char> {
    crate::names::comparison_key_v1(name)
        .unwrap_or_else(|| crate::names::nfkc_casefold(name))
        .chars()
        .collect()
}

/// One organisation watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The name as given.
    pub given: String,
    /// As `iss` holds it (normalised).
    pub iss: String,
    key: Vec<char>,
}

/// The organisations a watch looks for: at least one, at most [`MAX_WATCHED`], each once (by
/// `iss`), in the order of their `iss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchlist {
    orgs: Vec<Watched>,
}

impl Watchlist {
    /// The watchlist of `names`, as a user gives them.
    ///
    /// # Errors
    /// [`WatchError::BadName`] for a name no organisation can have (empty, a control character
    /// or a line break, white space at an edge, too long); [`WatchError::Names`] for none or
    /// too many.
    pub fn new<S: AsRef<str>>(names: &[S]) -> Result<Watchlist, WatchError> {
        let mut orgs: Vec<Watched> = Vec::new();
        for n in names {
            let given = n.as_ref();
            let iss = normalise_org(given).map_err(|e| WatchError::BadName {
                name: given.to_string(),
                problem: e.to_string(),
            })?;
            if orgs.iter().any(|o| o.iss == iss) {
                continue;
            }
            orgs.push(Watched {
                given: given.to_string(),
                key: comparison_chars(given),
                iss,
            });
        }
        if orgs.is_empty() {
            return Err(WatchError::Names("give at least one --org NAME to watch".into()));
        }
        if orgs.len() > MAX_WATCHED {
            return Err(WatchError::Names(format!(
                "at most {MAX_WATCHED} organisations in one watch (run several)"
            )));
        }
        orgs.sort_by(|a, b| a.iss.cmp(&b.iss));
        Ok(Watchlist { orgs })
    }

    /// The organisations, in the order of their `iss`.
    pub fn orgs(&self) -> &[Watched] {
        &self.orgs
    }

    /// What names this watch in the state directory: the hex SHA-256 of the state format, the
    /// ledger's verifier key (origin, key id and key) and each watched `iss`, one a line. Two
    /// watches of the same ledger for the same organisations, whatever the order or case the
    /// names were given in, share it.
    pub fn tag(&self, key: &VerifierKey) -> String {
        let mut h = Sha256::new();
        h.update(STATE_FORMAT.as_bytes());
        h.update(b"\n");
        h.update(key.to_string().as_bytes());
        h.update(b"\n");
        for o in &self.orgs {
            h.update(o.iss.as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }

    /// The findings an entry holds for the watched organisations, in the order of their `iss`.
    ///
    /// # Errors
    /// [`WatchError::Entry`] if the entry or its statement does not decode (a verified entry
    /// always does).
    pub fn entry_findings(&self, index: u64, bytes: &[u8]) -> Result<Vec<Finding>, WatchError> {
        let bad = |problem: String| WatchError::Entry { index, problem };
        let e = EntryRef::decode(bytes).map_err(|e| bad(e.to_string()))?;
        let st = Statement::decode(e.statement).map_err(|e| bad(e.to_string()))?;
        Ok(self.statement_findings(index, e.logged_at, &st))
    }

    /// [`Watchlist::entry_findings`] of a decoded statement logged at `logged_at`.
    pub fn statement_findings(&self, index: u64, logged_at: Seconds, st: &Statement) -> Vec<Finding> {
        let base = |o: &Watched, kind: FindingKind, summary: String| Finding {
            index,
            kind,
            org: o.given.clone(),
            summary,
            iss: Some(st.iss.clone()),
            name: None,
            key_id: Some(hex::encode(st.kid)),
            statement_id: Some(hex::encode(st.id())),
            logged_at: Some(crate::time::format(logged_at)),
            reason: None,
            distance: None,
        };
        if let Some(o) = self.orgs.iter().find(|o| o.iss == st.iss) {
            return vec![own_finding(o, st, base)];
        }
        let Body::Registration(reg) = &st.payload.body else {
            return Vec::new();
        };
        let key = comparison_chars(&reg.name);
        self.orgs
            .iter()
            .filter_map(|o| {
                let c = closeness(&o.key, &key)?;
                let watched = quote(&o.given);
                let how = match c {
                    Closeness::Distance(0) => {
                        format!("looks like the watched {watched} (the same comparison key)")
                    }
                    Closeness::Distance(d) => format!(
                        "close to the watched {watched} ({d} edit{} apart, look-alike letters and case counted as equal)",
                        if d == 1 { "" } else { "s" }
                    ),
                    Closeness::Contains => format!(
                        "holds the watched {watched} (look-alike letters and case counted as equal)"
                    ),
                };
                let mut f = base(
                    o,
                    FindingKind::CloseName,
                    format!(
                        "{} registered with key {}, {how}",
                        quote(&reg.name),
                        short(&st.kid)
                    ),
                );
                f.name = Some(reg.name.clone());
                f.distance = match c {
                    Closeness::Distance(d) => Some(d),
                    Closeness::Contains => None,
                };
                Some(f)
            })
            .collect()
    }
}

/// The finding of a statement in a watched organisation's own name.
fn own_finding(
    o: &Watched,
    st: &Statement,
    base: impl Fn(&Watched, FindingKind, String) -> Finding,
) -> Finding {
    let who = quote(&o.given);
    let kid = short(&st.kid);
    match &st.payload.body {
        Body::Registration(r) => {
            let mut extra = Vec::new();
            if let Some(d) = &r.domain {
                extra.push(format!("domain {}", quote(d)));
            }
            if let Some(c) = &r.contact {
                extra.push(format!("contact {}", quote(c)));
            }
            extra.push(if r.recovery.is_some() {
                "a recovery key committed".to_string()
            } else {
                "no recovery key".to_string()
            });
            let mut f = base(
                o,
                FindingKind::Registration,
                format!(
                    "{} registered with key {kid} ({})",
                    quote(&r.name),
                    extra.join(", ")
                ),
            );
            f.name = Some(r.name.clone());
            f
        }
        Body::Attestation(a) => {
            let norms: Vec<String> = a.norms.iter().map(|n| n.id.to_string()).collect();
            let scope: Vec<String> = a.scope.iter().map(|s| quote(s)).collect();
            let mut s = format!(
                "{who} attests {} for {} with key {kid}",
                norms.join(", "),
                scope.join(", ")
            );
            if let Some(x) = a.expires {
                s.push_str(&format!("; expires {}", crate::time::format(x)));
            }
            if let Some(p) = &a.supersedes {
                s.push_str(&format!("; supersedes statement {}", short(p)));
            }
            base(o, FindingKind::Attestation, s)
        }
        Body::Withdrawal(w) => {
            let mut f = base(
                o,
                FindingKind::Withdrawal,
                format!(
                    "{who} withdraws the attestation of statement {} with key {kid}: {}",
                    short(&w.target),
                    quote(&w.reason)
                ),
            );
            f.reason = Some(w.reason.clone());
            f
        }
        Body::Rotation(r) => {
            let to = r.new_key().map_or_else(|| "?".to_string(), |k| short(&k.kid()));
            base(
                o,
                FindingKind::Rotation,
                format!("{who} hands over from key {kid} to key {to} (rotation)"),
            )
        }
        Body::Revocation(r) => {
            let what = if r.target == st.kid {
                format!("ends its key {kid}")
            } else {
                format!("ends its key {} (signed with key {kid})", short(&r.target))
            };
            let mut f = base(
                o,
                FindingKind::Revocation,
                format!("{who} {what}: {}", quote(&r.reason)),
            );
            f.reason = Some(r.reason.clone());
            f
        }
        Body::Recovery(r) => {
            let since = r.compromised_since.map_or_else(String::new, |t| {
                format!(
                    "; statements by the ended keys logged after {} are untrusted",
                    crate::time::format(t)
                )
            });
            let mut f = base(
                o,
                FindingKind::Recovery,
                format!(
                    "{who} used its recovery key {kid}: every current key ended, key {} installed{since}: {}",
                    short(&r.new_key.kid()),
                    quote(&r.reason)
                ),
            );
            f.reason = Some(r.reason.clone());
            f
        }
        // Only nested in a rotation; never an entry's statement (the rules refuse it).
        Body::Acceptance(_) => base(
            o,
            FindingKind::Invalid,
            format!("{who}: an acceptance on its own (not a statement an entry may hold)"),
        ),
    }
}

/// The first 16 hex digits of a key or statement id, as `accord orgs` and `list` show them.
fn short(id: &[u8; 32]) -> String {
    hex::encode(&id[..8])
}

/// Whether `c` must be escaped for a summary to stay one line that reads in order.
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` in double quotes, with `"` and `\` escaped, and line breaks, control characters and
/// bidirectional controls as `\n` or `\u{...}`: text from an entry, in a summary of one line.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
            out.push(c);
        } else if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// `s` as one line: line breaks and control characters escaped.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// How far a watch has reported: the record kept per watch (ledger key and watched names,
/// [`Watchlist::tag`]) in the state directory, as JSON (docs/FORMAT.md section 11.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchState {
    /// [`STATE_FORMAT`].
    pub format: String,
    /// The ledger's origin.
    pub origin: String,
    /// The ledger's verifier key (C2SP vkey).
    pub ledger_key: String,
    /// The watched organisations, as `iss` (normalised), in order.
    pub orgs: Vec<String>,
    /// Entries below this index have been reported.
    pub reported_size: u64,
}

/// Largest watch state file read.
pub const MAX_STATE: usize = 64 * 1024;

impl WatchState {
    /// The state of a watch of the ledger with `key` for `list`, reported up to `size`.
    pub fn new(key: &VerifierKey, list: &Watchlist, size: u64) -> WatchState {
        WatchState {
            format: STATE_FORMAT.to_string(),
            origin: key.name().to_string(),
            ledger_key: key.to_string(),
            orgs: list.orgs.iter().map(|o| o.iss.clone()).collect(),
            reported_size: size,
        }
    }

    /// The file's bytes (JSON, one line and a line feed).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Reads a watch state file, which must be of this watch: this format, this ledger key
    /// and these organisations. It is never trusted in part.
    ///
    /// # Errors
    /// [`WatchError::BadState`] saying what is wrong.
    pub fn decode(bytes: &[u8], key: &VerifierKey, list: &Watchlist) -> Result<WatchState, WatchError> {
        if bytes.len() > MAX_STATE {
            return Err(WatchError::BadState(format!(
                "{} bytes, more than the {MAX_STATE} a watch state may hold",
                bytes.len()
            )));
        }
        let s: WatchState = serde_json::from_slice(bytes)
            .map_err(|e| WatchError::BadState(format!("not a watch state: {e}")))?;
        let want = WatchState::new(key, list, s.reported_size);
        if s.format != STATE_FORMAT {
            return Err(WatchError::BadState(format!("unknown format {:?}", s.format)));
        }
        if s != want {
            return Err(WatchError::BadState(
                "it is not of this ledger key and these organisations".into(),
            ));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use crate::statement::{sign, Attestation, NormRef, Payload, Registration, Revocation, Withdrawal};

    const ORIGIN: &str = "test.example/ledger";

    fn payload(body: Body) -> Payload {
        Payload {
            origin: ORIGIN.into(),
            iat: 1_700_000_000,
            nonce: [7; 16],
            body,
        }
    }

    fn registration(name: &str, key: &SecretKey) -> Statement {
        let body = Body::Registration(Registration {
            name: name.into(),
            public_key: key.public(),
            domain: None,
            contact: None,
            recovery: None,
        });
        sign(&payload(body), &normalise_org(name).unwrap(), key).unwrap()
    }

    fn attestation(org: &str, key: &SecretKey) -> Statement {
        let cat = crate::norms::Catalogue::embedded();
        let n = cat.get("no-backdoors").unwrap();
        let body = Body::Attestation(Attestation {
            catalogue: cat.version,
            norms: vec![NormRef {
                id: n.id.clone(),
                text_hash: n.text_hash(),
            }],
            scope: vec!["Acme \"Cloud\"".into()],
            expires: None,
            note: None,
            supersedes: None,
        });
        sign(&payload(body), &normalise_org(org).unwrap(), key).unwrap()
    }

    fn vkey() -> VerifierKey {
        let origin = crate::checkpoint::Origin::new(ORIGIN).unwrap();
        crate::checkpoint::LedgerKey::generate(&origin).verifier_key()
    }

    fn list(names: &[&str]) -> Watchlist {
        Watchlist::new(names).unwrap()
    }

    fn kinds(f: &[Finding]) -> Vec<(&str, FindingKind)> {
        f.iter().map(|f| (f.org.as_str(), f.kind)).collect()
    }

    #[test]
    fn the_distance_allowed_grows_with_the_name() {
        assert_eq!(max_distance(2), 0);
        assert_eq!(max_distance(3), 1);
        assert_eq!(max_distance(5), 1);
        assert_eq!(max_distance(6), 2);
        let k = comparison_chars;
        assert_eq!(
            closeness(&k("Contoso Ltd"), &k("Contoso Ltd.")),
            Some(Closeness::Distance(1))
        );
        assert_eq!(
            closeness(&k("Contoso Ltd"), &k("C0NTOSO LTD")),
            Some(Closeness::Distance(0))
        );
        assert_eq!(
            closeness(&k("Contoso Ltd"), &k("Contosa Lt")),
            Some(Closeness::Distance(2))
        );
        assert_eq!(closeness(&k("Contoso Ltd"), &k("Contoso Holdings")), None);
        assert_eq!(
            closeness(&k("Contoso"), &k("Contoso Holdings")),
            Some(Closeness::Contains)
        );
        assert_eq!(closeness(&k("Contoso"), &k("Globex")), None);
        // Two letters: only a look-alike is close, and holding them is not enough.
        assert_eq!(closeness(&k("HP"), &k("HQ")), None);
        assert_eq!(closeness(&k("HP"), &k("hp")), Some(Closeness::Distance(0)));
        assert_eq!(closeness(&k("HP"), &k("HP Labs")), None);
        // Three to five: one edit.
        assert_eq!(closeness(&k("Acme"), &k("Acne")), Some(Closeness::Distance(1)));
        assert_eq!(closeness(&k("Acme"), &k("Acne Co")), None);
    }

    #[test]
    fn names_are_watched_as_iss_holds_them_once_each() {
        let l = list(&["Acme Corp", "ACME CORP", "Globex"]);
        assert_eq!(
            l.orgs().iter().map(|o| o.iss.as_str()).collect::<Vec<_>>(),
            ["acme corp", "globex"]
        );
        assert_eq!(l.orgs()[0].given, "Acme Corp");
        // The same names in another order or case: the same watch.
        let key = vkey();
        assert_eq!(l.tag(&key), list(&["globex", "acme corp"]).tag(&key));
        assert_ne!(l.tag(&key), list(&["globex"]).tag(&key));
        for bad in ["", " Acme", "Acme\nCorp", "Acme $(touch x)\n"] {
            assert!(
                matches!(Watchlist::new(&[bad]), Err(WatchError::BadName { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(Watchlist::new::<&str>(&[]), Err(WatchError::Names(_))));
    }

    #[test]
    fn every_statement_of_the_org_is_a_finding_and_others_are_not() {
        let acme = SecretKey::from_seed(&[1; 32]);
        let globex = SecretKey::from_seed(&[2; 32]);
        let l = list(&["Acme Corp"]);
        let reg = l.statement_findings(0, 10, &registration("Acme Corp", &acme));
        assert_eq!(kinds(&reg), [("Acme Corp", FindingKind::Registration)]);
        assert_eq!(reg[0].name.as_deref(), Some("Acme Corp"));
        assert_eq!(
            reg[0].key_id.as_deref(),
            Some(hex::encode(acme.public().kid()).as_str())
        );
        assert!(reg[0].summary.contains("no recovery key"), "{}", reg[0].summary);
        let att = l.statement_findings(1, 11, &attestation("Acme Corp", &acme));
        assert_eq!(kinds(&att), [("Acme Corp", FindingKind::Attestation)]);
        // Text from the entry is quoted, its quotes escaped.
        assert!(
            att[0].summary.contains(r#"for "Acme \"Cloud\"" with key"#),
            "{}",
            att[0].summary
        );
        assert_eq!(att[0].logged_at.as_deref(), Some("1970-01-01T00:00:11Z"));
        // Another organisation's statements, and a registration far from the name: nothing.
        assert!(l
            .statement_findings(2, 12, &registration("Globex", &globex))
            .is_empty());
        assert!(l
            .statement_findings(3, 13, &attestation("Globex", &globex))
            .is_empty());
        let bytes = crate::entry::Entry::new(4, [0; 32], 14, attestation("ACME CORP", &acme).into_bytes())
            .encode()
            .unwrap();
        assert_eq!(
            kinds(&l.entry_findings(4, &bytes).unwrap()),
            [("Acme Corp", FindingKind::Attestation)]
        );
        assert!(matches!(
            l.entry_findings(5, b"junk"),
            Err(WatchError::Entry { index: 5, .. })
        ));
    }

    #[test]
    fn withdrawals_and_revocations_carry_their_reason_exactly() {
        let acme = SecretKey::from_seed(&[1; 32]);
        let l = list(&["Acme Corp"]);
        let reason = "retired $(touch x)\n`touch y`";
        let w = sign(
            &payload(Body::Withdrawal(Withdrawal {
                target: [9; 32],
                reason: reason.into(),
            })),
            "acme corp",
            &acme,
        )
        .unwrap();
        let f = l.statement_findings(3, 0, &w);
        assert_eq!(f[0].kind, FindingKind::Withdrawal);
        assert_eq!(f[0].reason.as_deref(), Some(reason));
        assert!(
            f[0].summary.ends_with(r#""retired $(touch x)\n`touch y`""#),
            "{}",
            f[0].summary
        );
        let r = sign(
            &payload(Body::Revocation(Revocation {
                target: acme.public().kid(),
                reason: "lost".into(),
            })),
            "acme corp",
            &acme,
        )
        .unwrap();
        let f = l.statement_findings(4, 0, &r);
        assert_eq!(f[0].kind, FindingKind::Revocation);
        assert!(f[0].summary.contains("ends its key"), "{}", f[0].summary);
    }

    #[test]
    fn a_close_name_registered_by_another_is_a_finding_for_each_name_it_is_close_to() {
        let k = SecretKey::from_seed(&[3; 32]);
        let l = list(&["Contoso Ltd", "Contoso", "Globex"]);
        let f = l.statement_findings(7, 0, &registration("Contoso Ltd.", &k));
        assert_eq!(
            kinds(&f),
            [
                ("Contoso", FindingKind::CloseName),
                ("Contoso Ltd", FindingKind::CloseName)
            ]
        );
        assert_eq!(f[0].distance, None, "Contoso: held");
        assert_eq!(f[1].distance, Some(1));
        assert_eq!(f[1].name.as_deref(), Some("Contoso Ltd."));
        assert!(f[1].summary.contains("1 edit apart"), "{}", f[1].summary);
        // Look-alike letters count as equal: a Cyrillic С, a zero.
        let f = l.statement_findings(8, 0, &registration("Сontoso Ltdx", &k));
        assert_eq!(
            f.iter().find(|f| f.org == "Contoso Ltd").unwrap().distance,
            Some(1)
        );
        // A registration of a watched name itself is that organisation's, not a close name.
        let f = l.statement_findings(9, 0, &registration("Contoso", &k));
        assert_eq!(kinds(&f), [("Contoso", FindingKind::Registration)]);
    }

    #[test]
    fn a_watch_state_is_read_back_only_for_its_own_watch() {
        let key = vkey();
        let other = vkey();
        let l = list(&["Acme Corp"]);
        let s = WatchState::new(&key, &l, 42);
        let bytes = s.encode();
        assert_eq!(WatchState::decode(&bytes, &key, &l).unwrap().reported_size, 42);
        for (what, k, w) in [("key", &other, &l), ("names", &key, &list(&["Globex"]))] {
            assert!(
                matches!(WatchState::decode(&bytes, k, w), Err(WatchError::BadState(_))),
                "{what}"
            );
        }
        let text = String::from_utf8(bytes).unwrap();
        for bad in [
            text.replace("accord-watch/1", "accord-watch/2"),
            text.replace("\"reported_size\"", "\"extra\":1,\"reported_size\""),
            text.replace("42", "-1"),
            text[..text.len() / 2].to_string(),
        ] {
            assert!(WatchState::decode(bad.as_bytes(), &key, &l).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_summary_about_the_log_is_one_line() {
        let f = Finding::about_the_log(FindingKind::Rollback, 9, "Acme", "ROLLBACK: a\nb");
        assert_eq!(f.summary, "ROLLBACK: a\\nb");
        assert!(f.kind.is_about_the_log());
        assert_eq!(serde_json::to_value(f.kind).unwrap(), "rollback");
        assert_eq!(
            serde_json::to_value(FindingKind::CloseName).unwrap(),
            "close-name"
        );
    }
}
