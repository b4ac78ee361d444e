//! Witness policies (docs/FORMAT.md section 16): which witnesses a verifier trusts, and how many
//! of them must have cosigned a checkpoint before it is believed.
//!
//! The text form is the one of Sigsum's policy files as torchwood and Tessera read them (the
//! C2SP `tlog-policy` text was not settled when this was written), with witness vkeys in the
//! signed-note form:
//!
//! ```text
//! # comments run from '#' to the end of the line
//! log     <ledger vkey> [<url>]
//! witness <name> <cosignature vkey> [<add-checkpoint url prefix>]
//! group   <name> <n>|any|all <member>...
//! quorum  <name>|none
//! ```
//!
//! Members of a group are witnesses or groups defined on earlier lines; names are unique. A
//! checkpoint meets the policy when the quorum component is satisfied by witnesses whose
//! cosignatures verify over that very checkpoint (and, with a maximum age, are fresh). Two
//! witnesses with one public key are refused, so that every counted cosignature is by a distinct
//! key; a witness whose key is the log's own is refused, so that the log's signature never
//! counts toward its own quorum.
//!
//! Pure: no I/O, no clock (the caller passes the time in).

use crate::checkpoint::VerifierKey;
use crate::cosignature::{CosignatureError, CosignerVerifier};

/// Longest policy text read (a policy names witnesses, not entries).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// Most witnesses a policy may name.
pub const MAX_WITNESSES: usize = 256;
/// How far in the future a cosignature's timestamp may be and still count as fresh (clock skew
/// between a witness and the verifier).
pub const FUTURE_SKEW_SECS: u64 = 300;

/// Why a policy could not be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The text is not a policy.
    #[error("witness policy line {line}: {problem}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// The policy as a whole is unusable.
    #[error("witness policy: {0}")]
    Policy(String),
    /// A checkpoint carries a cosignature line that claims a witness of the policy (its name
    /// and key id) and does not verify over that checkpoint: refused, whatever the quorum.
    #[error("checkpoint {size} carries a cosignature line of witness {witness:?} that does not verify over it ({problem}); a checkpoint with a forged or misplaced cosignature of a policy witness is refused")]
    Forged {
        /// Tree size of the checkpoint.
        size: u64,
        /// The policy's name of the witness.
        witness: String,
        /// Why the line does not verify.
        problem: String,
    },
    /// The policy names logs, and the ledger key being verified is not one of them.
    #[error("witness policy names the log(s) {named}, not the ledger key {given}; a policy is for one log")]
    OtherLog {
        /// The log names in the policy.
        named: String,
        /// The name of the ledger key given.
        given: String,
    },
}

/// One witness of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy (used by groups).
    pub name: String,
    /// Its cosignature verifier key.
    pub key: CosignerVerifier,
    /// Where it takes `add-checkpoint` requests, if the policy says.
    pub url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Component {
    Witness(usize),
    Group(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Component>,
}

/// A parsed witness policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessPolicy {
    logs: Vec<(VerifierKey, Option<String>)>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None` for `quorum none`.
    quorum: Option<Component>,
}

/// What one witness of the policy said about one checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cosigned {
    /// No line of this witness is on the checkpoint.
    Absent,
    /// Its cosignature verifies; timestamp, and whether it counts under the maximum age.
    Valid {
        /// The cosignature's timestamp (seconds since the epoch).
        timestamp: u64,
        /// Whether it is within the maximum age (always true without one).
        fresh: bool,
    },
    /// A line with its name and key id that does not verify.
    Invalid(String),
}

/// The policy's judgement of one checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// Per witness of the policy, in policy order: its name and what it said.
    pub witnesses: Vec<(String, Cosigned)>,
    /// Whether the quorum is met by valid (and fresh) cosignatures.
    pub quorum_met: bool,
    /// Whether the quorum would be met counting stale cosignatures too (to tell "not witnessed"
    /// from "witnessed, but not recently").
    pub quorum_met_ignoring_age: bool,
}

impl Judgement {
    /// Names of the witnesses whose cosignature counted.
    pub fn counted(&self) -> Vec<&str> {
        self.witnesses
            .iter()
            .filter(|(_, c)| matches!(c, Cosigned::Valid { fresh: true, .. }))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Witnesses with a line that does not verify: a checkpoint carrying one is refused.
    pub fn invalid(&self) -> Vec<(&str, &str)> {
        self.witnesses
            .iter()
            .filter_map(|(n, c)| match c {
                Cosigned::Invalid(e) => Some((n.as_str(), e.as_str())),
                _ => None,
            })
            .collect()
    }
}

fn bad(line: usize, problem: impl Into<String>) -> PolicyError {
    PolicyError::Line {
        line,
        problem: problem.into(),
    }
}

fn check_url(line: usize, url: &str) -> Result<String, PolicyError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
        return Err(bad(line, format!("{url:?} is not an http:// or https:// URL")));
    }
    Ok(url.to_string())
}

impl WitnessPolicy {
    /// Parses a policy strictly: unknown keywords, extra fields, duplicate names, unknown group
    /// members, thresholds outside 1..=members, duplicate keys and a missing quorum are errors.
    ///
    /// # Errors
    /// [`PolicyError`] naming the line and the problem.
    pub fn parse(text: &str) -> Result<WitnessPolicy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::Policy(format!(
                "longer than {MAX_POLICY_BYTES} bytes"
            )));
        }
        let mut p = WitnessPolicy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut quorum: Option<(usize, String)> = None;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.split('#').next().unwrap_or("");
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            let Some(&keyword) = fields.first() else { continue };
            match keyword {
                "log" => {
                    if !(2..=3).contains(&fields.len()) {
                        return Err(bad(n, "expected: log <vkey> [<url>]"));
                    }
                    let key = VerifierKey::parse(fields[1]).map_err(|e| bad(n, format!("log vkey: {e}")))?;
                    let url = fields.get(2).map(|u| check_url(n, u)).transpose()?;
                    p.logs.push((key, url));
                }
                "witness" => {
                    if !(3..=4).contains(&fields.len()) {
                        return Err(bad(n, "expected: witness <name> <vkey> [<url>]"));
                    }
                    p.unique(n, fields[1])?;
                    if p.witnesses.len() == MAX_WITNESSES {
                        return Err(bad(n, format!("more than {MAX_WITNESSES} witnesses")));
                    }
                    let key = CosignerVerifier::parse(fields[2])
                        .map_err(|e: CosignatureError| bad(n, e.to_string()))?;
                    if let Some(w) = p
                        .witnesses
                        .iter()
                        .find(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(bad(
                            n,
                            format!(
                                "witness {:?} has the same public key as witness {:?}",
                                fields[1], w.name
                            ),
                        ));
                    }
                    let url = fields.get(3).map(|u| check_url(n, u)).transpose()?;
                    p.witnesses.push(PolicyWitness {
                        name: fields[1].to_string(),
                        key,
                        url,
                    });
                }
                "group" => {
                    if fields.len() < 4 {
                        return Err(bad(n, "expected: group <name> <n>|any|all <member>..."));
                    }
                    p.unique(n, fields[1])?;
                    let mut members = Vec::new();
                    for m in &fields[3..] {
                        let c = p.component(m).ok_or_else(|| {
                            bad(
                                n,
                                format!("group member {m:?} is not a witness or group defined above"),
                            )
                        })?;
                        if members.contains(&c) {
                            return Err(bad(n, format!("group member {m:?} is named twice")));
                        }
                        members.push(c);
                    }
                    let threshold = match fields[2] {
                        "any" => 1,
                        "all" => members.len(),
                        t => match t.parse::<usize>() {
                            Ok(k)
                                if (1..=members.len()).contains(&k)
                                    && !t.starts_with('0')
                                    && t.bytes().all(|b| b.is_ascii_digit()) =>
                            {
                                k
                            }
                            _ => {
                                return Err(bad(
                                    n,
                                    format!(
                                        "threshold {t:?} is not any, all or a number in 1..={}",
                                        members.len()
                                    ),
                                ))
                            }
                        },
                    };
                    // One witness reachable through two members would be counted twice toward
                    // this group's threshold (the count is of distinct witness keys).
                    let mut seen: Vec<usize> = Vec::new();
                    for m in &members {
                        for wi in p.leaves(*m) {
                            if seen.contains(&wi) {
                                return Err(bad(
                                    n,
                                    format!(
                                        "witness {:?} is reached through more than one member of group {:?}: it would be counted twice",
                                        p.witnesses[wi].name, fields[1]
                                    ),
                                ));
                            }
                            seen.push(wi);
                        }
                    }
                    p.groups.push(Group {
                        name: fields[1].to_string(),
                        threshold,
                        members,
                    });
                }
                "quorum" => {
                    if fields.len() != 2 {
                        return Err(bad(n, "expected: quorum <name>|none"));
                    }
                    if quorum.is_some() {
                        return Err(bad(n, "a second quorum line"));
                    }
                    quorum = Some((n, fields[1].to_string()));
                }
                other => {
                    return Err(bad(
                        n,
                        format!("unknown keyword {other:?} (expected log, witness, group or quorum)"),
                    ))
                }
            }
        }
        let Some((n, q)) = quorum else {
            return Err(PolicyError::Policy(
                "no quorum line (write `quorum <name>` or `quorum none`)".into(),
            ));
        };
        if q != "none" {
            p.quorum =
                Some(p.component(&q).ok_or_else(|| {
                    bad(n, format!("quorum {q:?} is not a witness or group of the policy"))
                })?);
        }
        for (key, _) in &p.logs {
            if let Some(w) = p
                .witnesses
                .iter()
                .find(|w| w.key.public_key() == key.public_key())
            {
                return Err(PolicyError::Policy(format!(
                    "witness {:?} has the log's own key: the log's signature never counts toward its quorum",
                    w.name
                )));
            }
        }
        Ok(p)
    }

    fn unique(&self, line: usize, name: &str) -> Result<(), PolicyError> {
        if name == "none" || self.component(name).is_some() {
            return Err(bad(line, format!("the name {name:?} is already used")));
        }
        Ok(())
    }

    /// The witnesses a component reaches (a witness, or every witness below a group).
    fn leaves(&self, c: Component) -> Vec<usize> {
        match c {
            Component::Witness(i) => vec![i],
            Component::Group(g) => self.groups[g]
                .members
                .iter()
                .flat_map(|m| self.leaves(*m))
                .collect(),
        }
    }

    fn component(&self, name: &str) -> Option<Component> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(Component::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Component::Group)
    }

    /// The witnesses, in policy order.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Whether the policy requires any cosignature at all (`quorum none` does not).
    pub fn requires_witnesses(&self) -> bool {
        self.quorum.is_some()
    }

    /// A one-line description of the quorum, for people ("2 of [w1, w2, w3]").
    pub fn describe_quorum(&self) -> String {
        match self.quorum {
            None => "none".into(),
            Some(c) => self.describe(c),
        }
    }

    fn describe(&self, c: Component) -> String {
        match c {
            Component::Witness(i) => self.witnesses[i].name.clone(),
            Component::Group(g) => {
                let g = &self.groups[g];
                let members: Vec<String> = g.members.iter().map(|m| self.describe(*m)).collect();
                format!("{} of [{}]", g.threshold, members.join(", "))
            }
        }
    }

    /// Checks that the policy is for the log of `key`: when it has `log` lines, one must be this
    /// key; and no witness may have this key.
    ///
    /// # Errors
    /// [`PolicyError::OtherLog`] or [`PolicyError::Policy`].
    pub fn check_log(&self, key: &VerifierKey) -> Result<(), PolicyError> {
        if self
            .witnesses
            .iter()
            .any(|w| w.key.public_key() == key.public_key())
        {
            return Err(PolicyError::Policy(
                "a witness of the policy has the ledger's own key: the log's signature never counts toward its quorum".into(),
            ));
        }
        if self.logs.is_empty() || self.logs.iter().any(|(k, _)| k == key) {
            return Ok(());
        }
        Err(PolicyError::OtherLog {
            named: self
                .logs
                .iter()
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            given: key.to_string(),
        })
    }

    /// Judges a signed checkpoint note (its text, a blank line, its signature lines): which
    /// witnesses cosigned exactly this note text, whether each cosignature is within `max_age`
    /// seconds of `now`, and whether the quorum is met. The log's signature is not checked here
    /// (the caller opens the checkpoint with the ledger key first).
    pub fn judge(&self, note: &[u8], now: u64, max_age: Option<u64>) -> Judgement {
        let witnesses: Vec<(String, Cosigned)> = self
            .witnesses
            .iter()
            .map(|w| {
                let c = match w.key.verify_note(note) {
                    Ok(timestamp) => Cosigned::Valid {
                        timestamp,
                        fresh: fresh(timestamp, now, max_age),
                    },
                    Err(CosignatureError::OtherKey(_)) | Err(CosignatureError::Malformed(_)) => {
                        Cosigned::Absent
                    }
                    Err(e) => Cosigned::Invalid(e.to_string()),
                };
                (w.name.clone(), c)
            })
            .collect();
        let fresh_set: Vec<bool> = witnesses
            .iter()
            .map(|(_, c)| matches!(c, Cosigned::Valid { fresh: true, .. }))
            .collect();
        let any_set: Vec<bool> = witnesses
            .iter()
            .map(|(_, c)| matches!(c, Cosigned::Valid { .. }))
            .collect();
        Judgement {
            quorum_met: self.met(&fresh_set),
            quorum_met_ignoring_age: self.met(&any_set),
            witnesses,
        }
    }

    /// Whether the quorum is met when exactly the witnesses marked `true` (policy order) count.
    pub fn met(&self, counted: &[bool]) -> bool {
        match self.quorum {
            None => true,
            Some(c) => self.satisfied(c, counted),
        }
    }

    fn satisfied(&self, c: Component, counted: &[bool]) -> bool {
        match c {
            Component::Witness(i) => counted.get(i).copied().unwrap_or(false),
            Component::Group(g) => {
                let g = &self.groups[g];
                g.members.iter().filter(|m| self.satisfied(**m, counted)).count() >= g.threshold
            }
        }
    }
}

/// What a verifier demands of a checkpoint: a witness policy and, optionally, a maximum age of
/// the cosignatures that count (`--witness-policy FILE [--max-age DURATION]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The policy.
    pub policy: WitnessPolicy,
    /// Seconds; only cosignatures this recent count (with [`FUTURE_SKEW_SECS`] of skew).
    pub max_age: Option<u64>,
}

/// The outcome of a [`Requirement`] on what a verifier checked: the checkpoint judged (for a
/// ledger, the newest that meets the quorum, or failing that the newest cosigned one), and how
/// many entries no witnessed checkpoint covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witnessing {
    /// The quorum, for people ([`WitnessPolicy::describe_quorum`]).
    pub quorum: String,
    /// The maximum age applied, in seconds.
    pub max_age: Option<u64>,
    /// The checkpoint judged: its tree size and the judgement. `None` when there was no
    /// cosigned checkpoint to judge.
    pub judged: Option<(u64, Judgement)>,
    /// Whether the checkpoint judged meets the quorum.
    pub quorum_met: bool,
    /// Entries verified.
    pub entries: u64,
    /// Entries that no checkpoint meeting the quorum covers.
    pub not_yet_witnessed: u64,
}

impl Requirement {
    /// Judges one signed checkpoint note of tree size `size` (already opened with the ledger
    /// key).
    ///
    /// # Errors
    /// [`PolicyError::Forged`] when a line claiming a policy witness does not verify over it.
    pub fn judge(&self, note: &[u8], size: u64, now: u64) -> Result<Judgement, PolicyError> {
        let j = self.policy.judge(note, now, self.max_age);
        if let Some((witness, problem)) = j.invalid().first() {
            return Err(PolicyError::Forged {
                size,
                witness: witness.to_string(),
                problem: problem.to_string(),
            });
        }
        Ok(j)
    }

    /// The outcome for a verifier that checked one checkpoint (a published log's, a bundle's or
    /// an export's) of `size` entries: witnessed whole, or not at all.
    ///
    /// # Errors
    /// As [`Requirement::judge`].
    pub fn single(&self, note: &[u8], size: u64, now: u64) -> Result<Witnessing, PolicyError> {
        let j = self.judge(note, size, now)?;
        Ok(self.outcome(Some((size, j)), size))
    }

    /// The outcome with `judged` as the checkpoint judged, for `entries` verified entries.
    pub fn outcome(&self, judged: Option<(u64, Judgement)>, entries: u64) -> Witnessing {
        let met = judged.as_ref().is_some_and(|(_, j)| j.quorum_met);
        let covered = match &judged {
            Some((size, _)) if met => (*size).min(entries),
            _ => 0,
        };
        Witnessing {
            quorum: self.policy.describe_quorum(),
            max_age: self.max_age,
            judged,
            quorum_met: met,
            entries,
            not_yet_witnessed: entries - covered,
        }
    }
}

/// A number of seconds as `--max-age` takes it (`90s`, `30m`, `12h`, `7d`).
pub fn format_duration(secs: u64) -> String {
    for (unit, scale) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= scale && secs.is_multiple_of(scale) {
            return format!("{}{unit}", secs / scale);
        }
    }
    format!("{secs}s")
}

impl Witnessing {
    /// Whether trust is established: a checkpoint meeting the quorum covers every entry.
    pub fn established(&self) -> bool {
        self.quorum_met && self.not_yet_witnessed == 0
    }

    /// Who cosigned the checkpoint judged: "w1 (fresh, 2026-01-01T00:00:00Z), w2 (stale, ...)"
    /// under a maximum age, "w1 (valid, ...)" without one,
    /// or "nobody of the policy".
    pub fn cosigners(&self) -> String {
        let Some((_, j)) = &self.judged else {
            return "nobody of the policy".into();
        };
        let named: Vec<String> = j
            .witnesses
            .iter()
            .filter_map(|(name, c)| match c {
                Cosigned::Valid { timestamp, fresh } => Some(format!(
                    "{name} ({}, {})",
                    match (self.max_age, *fresh) {
                        (None, _) => "valid",
                        (Some(_), true) => "fresh",
                        (Some(_), false) => "stale",
                    },
                    crate::time::format(i64::try_from(*timestamp).unwrap_or(i64::MAX))
                )),
                _ => None,
            })
            .collect();
        if named.is_empty() {
            "nobody of the policy".into()
        } else {
            named.join(", ")
        }
    }

    /// One line for people: what is witnessed, or why trust is not established.
    pub fn summary(&self) -> String {
        let age = self
            .max_age
            .map(|a| format!(" within --max-age {}", format_duration(a)))
            .unwrap_or_default();
        match &self.judged {
            Some((size, _)) if self.quorum_met => {
                let mut s = format!(
                    "witnessed: checkpoint {size} meets the quorum {}{age}, cosigned by: {}",
                    self.quorum,
                    self.cosigners()
                );
                if self.not_yet_witnessed > 0 {
                    s.push_str(&format!(
                        "; {} entries after it (of {}) are not yet witnessed",
                        self.not_yet_witnessed, self.entries
                    ));
                }
                s
            }
            Some((size, j)) if j.quorum_met_ignoring_age => format!(
                "checkpoint {size} is witnessed, but not{age}: the quorum {} needs cosignatures that recent, cosigned by: {}; {} entries are not yet witnessed",
                self.quorum,
                self.cosigners(),
                self.not_yet_witnessed
            ),
            Some((size, _)) => format!(
                "checkpoint {size} is not witnessed: the quorum {} needs cosignatures over it of more witnesses of the policy{age}, cosigned by: {}; {} entries are not yet witnessed",
                self.quorum,
                self.cosigners(),
                self.not_yet_witnessed
            ),
            None => format!(
                "no checkpoint is witnessed: no cosigned checkpoint meets the quorum {}{age}; all {} entries are not yet witnessed",
                self.quorum, self.entries
            ),
        }
    }
}

/// Whether a cosignature made at `timestamp` counts at `now` under `max_age`: not older than the
/// age, and not further in the future than the allowed clock skew.
pub fn fresh(timestamp: u64, now: u64, max_age: Option<u64>) -> bool {
    match max_age {
        None => true,
        Some(age) => {
            timestamp <= now.saturating_add(FUTURE_SKEW_SECS) && now.saturating_sub(timestamp) <= age
        }
    }
}

/// Parses a duration for `--max-age`: a whole number followed by `s`, `m`, `h`, `d` or `w`
/// (`90s`, `30m`, `12h`, `7d`, `2w`).
///
/// # Errors
/// A message naming the problem.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let unit = s.chars().last().ok_or("empty duration")?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => {
            return Err(format!(
                "duration {s:?} must end in s, m, h, d or w (as in 12h or 7d)"
            ))
        }
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "duration {s:?} must be a whole number and a unit (as in 12h or 7d)"
        ));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("duration {s:?} is too large"))?;
    if n == 0 {
        return Err(format!(
            "duration {s:?} is zero: no cosignature could ever be fresh"
        ));
    }
    n.checked_mul(scale)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Checkpoint, LedgerKey, Origin};
    use crate::cosignature::CosignerKey;

    struct Fixture {
        log: LedgerKey,
        w: Vec<CosignerKey>,
        note: Vec<u8>,
        text: Vec<u8>,
    }

    fn fixture(n: usize) -> Fixture {
        let log = LedgerKey::generate(&Origin::new("example.org/ledger").unwrap());
        let w = (0..n)
            .map(|i| CosignerKey::generate(&format!("w{i}.example")).unwrap())
            .collect();
        let cp = Checkpoint {
            origin: log.origin().clone(),
            size: 5,
            root: [7; 32],
        };
        let note = log.sign(&cp).unwrap().note;
        Fixture {
            text: cp.to_text().into_bytes(),
            log,
            w,
            note,
        }
    }

    fn cosigned(f: &Fixture, by: &[usize], at: u64) -> Vec<u8> {
        let mut note = f.note.clone();
        for &i in by {
            note.extend_from_slice(f.w[i].cosign(&f.text, at).unwrap().as_bytes());
        }
        note
    }

    fn policy(f: &Fixture, tail: &str) -> WitnessPolicy {
        let mut s = format!("log {}\n", f.log.verifier_key());
        for (i, w) in f.w.iter().enumerate() {
            s.push_str(&format!(
                "witness w{i} {} http://127.0.0.1:1/ # comment\n",
                w.verifier()
            ));
        }
        s.push_str(tail);
        WitnessPolicy::parse(&s).unwrap()
    }

    #[test]
    fn two_of_three_counts_distinct_valid_cosignatures() {
        let f = fixture(3);
        let p = policy(&f, "group g 2 w0 w1 w2\nquorum g\n");
        assert!(!p.judge(&f.note, 1000, None).quorum_met);
        assert!(!p.judge(&cosigned(&f, &[1], 1000), 1000, None).quorum_met);
        // The same witness twice is one witness.
        assert!(!p.judge(&cosigned(&f, &[1, 1], 1000), 1000, None).quorum_met);
        let j = p.judge(&cosigned(&f, &[0, 2], 1000), 1000, None);
        assert!(j.quorum_met);
        assert_eq!(j.counted(), vec!["w0", "w2"]);
    }

    #[test]
    fn a_cosignature_over_another_checkpoint_does_not_count() {
        let f = fixture(1);
        let p = policy(&f, "quorum w0\n");
        let other = Checkpoint {
            origin: f.log.origin().clone(),
            size: 6,
            root: [7; 32],
        };
        let mut note = f.note.clone();
        note.extend_from_slice(
            f.w[0]
                .cosign(other.to_text().as_bytes(), 1000)
                .unwrap()
                .as_bytes(),
        );
        let j = p.judge(&note, 1000, None);
        assert!(!j.quorum_met);
        assert_eq!(j.invalid().len(), 1, "{j:?}");
    }

    #[test]
    fn max_age_counts_only_fresh_cosignatures() {
        let f = fixture(2);
        let p = policy(&f, "group g all w0 w1\nquorum g\n");
        let now = 1_000_000;
        let mut note = cosigned(&f, &[0], now - 10);
        note.extend_from_slice(f.w[1].cosign(&f.text, now - 7200).unwrap().as_bytes());
        let j = p.judge(&note, now, Some(3600));
        assert!(!j.quorum_met, "one fresh witness must not refresh a stale quorum");
        assert!(j.quorum_met_ignoring_age);
        assert!(p.judge(&note, now, Some(7200)).quorum_met);
        assert!(p.judge(&note, now, None).quorum_met);
        // From the far future: not fresh either.
        assert!(!fresh(now + 3600, now, Some(86_400)));
        assert!(fresh(now + 10, now, Some(60)));
    }

    #[test]
    fn nested_groups_and_quorum_none() {
        let f = fixture(4);
        let p = policy(
            &f,
            "group a any w0 w1\ngroup b all w2 w3\ngroup top 2 a b\nquorum top\n",
        );
        assert!(!p.judge(&cosigned(&f, &[0, 1, 2], 1), 1, None).quorum_met);
        assert!(p.judge(&cosigned(&f, &[1, 2, 3], 1), 1, None).quorum_met);
        assert_eq!(p.describe_quorum(), "2 of [1 of [w0, w1], 2 of [w2, w3]]");
        let none = policy(&f, "quorum none\n");
        assert!(!none.requires_witnesses());
        assert!(none.judge(&f.note, 1, None).quorum_met);
    }

    #[test]
    fn malformed_policies_are_refused_with_their_line() {
        let f = fixture(2);
        let w0 = f.w[0].verifier().to_string();
        let w1 = f.w[1].verifier().to_string();
        let logk = f.log.verifier_key().to_string();
        for (text, want) in [
            (String::new(), "no quorum"),
            (format!("witness a {w0}\nquorum b\n"), "line 2"),
            (
                format!("witness a {w0}\nwitness a {w1}\nquorum a\n"),
                "already used",
            ),
            (
                format!("witness a {w0}\nwitness b {w0}\nquorum a\n"),
                "same public key",
            ),
            (format!("witness a {w0}\ngroup g 3 a\nquorum g\n"), "threshold"),
            (format!("witness a {w0}\ngroup g 0 a\nquorum g\n"), "threshold"),
            (format!("witness a {w0}\ngroup g +1 a\nquorum g\n"), "threshold"),
            (
                format!("witness a {w0}\ngroup x any a\ngroup g 2 x a\nquorum g\n"),
                "counted twice",
            ),
            (
                format!("witness a {w0}\ngroup g any a zz\nquorum g\n"),
                "not a witness or group",
            ),
            (format!("witness a {w0}\nquorum a\nquorum a\n"), "second quorum"),
            (format!("witness a {w0} ftp://x\nquorum a\n"), "not an http"),
            (format!("witness a {logk}\nquorum a\n"), "line 1"),
            (format!("witnesses a {w0}\nquorum a\n"), "unknown keyword"),
            (
                format!("witness a {w0} http://x/ extra\nquorum a\n"),
                "expected: witness",
            ),
        ] {
            let e = WitnessPolicy::parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_policy_is_for_its_log_only() {
        let f = fixture(1);
        let p = policy(&f, "quorum w0\n");
        p.check_log(&f.log.verifier_key()).unwrap();
        let other = LedgerKey::generate(&Origin::new("example.org/other").unwrap());
        assert!(matches!(
            p.check_log(&other.verifier_key()),
            Err(PolicyError::OtherLog { .. })
        ));
    }

    #[test]
    fn a_requirement_refuses_forged_lines_and_counts_what_is_not_witnessed() {
        let f = fixture(2);
        let req = Requirement {
            policy: policy(&f, "group g all w0 w1\nquorum g\n"),
            max_age: Some(3600),
        };
        let now = 1_000_000;
        // Witnessed whole.
        let w = req.single(&cosigned(&f, &[0, 1], now), 5, now).unwrap();
        assert!(w.established() && w.not_yet_witnessed == 0, "{w:?}");
        assert!(
            w.summary().starts_with("witnessed: checkpoint 5"),
            "{}",
            w.summary()
        );
        // One of two: every entry not yet witnessed.
        let w = req.single(&cosigned(&f, &[0], now), 5, now).unwrap();
        assert!(!w.established());
        assert_eq!(w.not_yet_witnessed, 5);
        assert!(
            w.summary().contains("checkpoint 5 is not witnessed"),
            "{}",
            w.summary()
        );
        // Stale: said as such.
        let w = req.single(&cosigned(&f, &[0, 1], now - 7200), 5, now).unwrap();
        assert!(w.summary().contains("not within --max-age 1h"), "{}", w.summary());
        // A ledger whose newest witnessed checkpoint is older than its last entry.
        let j = req.judge(&cosigned(&f, &[0, 1], now), 5, now).unwrap();
        let w = req.outcome(Some((5, j)), 8);
        assert!(w.quorum_met && !w.established());
        assert_eq!(w.not_yet_witnessed, 3);
        assert_eq!(req.outcome(None, 8).not_yet_witnessed, 8);
        // A line of w0 with a flipped bit: refused, naming w0.
        let mut note = cosigned(&f, &[1], now);
        let mut line = f.w[0].cosign(&f.text, now).unwrap().into_bytes();
        let at = line.len() - 20; // inside the Ed25519 signature
        line[at] = if line[at] == b'A' { b'B' } else { b'A' };
        note.extend_from_slice(&line);
        match req.judge(&note, 5, now) {
            Err(PolicyError::Forged { witness, size: 5, .. }) => assert_eq!(witness, "w0"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn durations_are_shown_as_given() {
        assert_eq!(format_duration(3600), "1h");
        assert_eq!(format_duration(90), "90s");
        assert_eq!(format_duration(7 * 86_400), "1w");
        assert_eq!(format_duration(120), "2m");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        for bad in ["", "h", "0h", "1.5h", "-1h", "10", "10y", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
