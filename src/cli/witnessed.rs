//! `--witness-policy FILE [--max-age DURATION]`, shared by the commands that verify: reading
//! the policy, and saying (in text, in JSON, by the exit code) what it judged.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use accord::checkpoint::VerifierKey;
use accord::policy::{Cosigned, PolicyError, Requirement, WitnessPolicy, Witnessing, MAX_POLICY_BYTES};

use super::context::{input_name, read_input, Res};
use super::fail::Fail;

/// The options, flattened into each command that verifies.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct WitnessArgs {
    /// Require witnesses: a witness policy file (docs/FORMAT.md section 16) from a source you
    /// trust, never from the host being checked. A checkpoint counts as witnessed only when
    /// its cosignatures by the policy's witnesses meet the policy's quorum; otherwise what was
    /// verified is reported and the command exits 3.
    #[arg(long, value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,
    /// With --witness-policy: only cosignatures made within this age count toward the quorum
    /// (90s, 30m, 12h, 7d, 2w), so that an old witnessed view is not taken for a current one.
    #[arg(long, value_name = "DURATION", requires = "witness_policy", value_parser = accord::policy::parse_duration)]
    pub max_age: Option<u64>,
}

impl WitnessArgs {
    /// Reads and checks the policy for the log of `vkey` (exit 2 when it cannot be used).
    pub fn requirement(&self, vkey: &VerifierKey) -> Res<Option<Requirement>> {
        let Some(path) = &self.witness_policy else {
            return Ok(None);
        };
        Ok(Some(load(path, vkey, self.max_age)?))
    }
}

/// Reads the policy at `path` and checks it is for the log of `vkey`.
pub fn load(path: &Path, vkey: &VerifierKey, max_age: Option<u64>) -> Res<Requirement> {
    let what = format!("--witness-policy {}", input_name(path));
    let bytes = read_input(path, "witness policy", MAX_POLICY_BYTES, Fail::usage)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Fail::usage(anyhow!("the file is not UTF-8 text")).context(what.clone()))?;
    let policy = WitnessPolicy::parse(&text).map_err(|e| Fail::usage(e).context(what.clone()))?;
    policy.check_log(vkey).map_err(|e| Fail::usage(e).context(what))?;
    Ok(Requirement { policy, max_age })
}

/// A checkpoint refused by the policy (a forged or misplaced cosignature): tampered data, exit 1
/// as for any checkpoint line that does not verify.
pub fn refused(e: PolicyError, what: &str) -> Fail {
    Fail::invalid(e).context(format!("{what}: verification REFUSED"))
}

/// The `witnesses` object of a command's JSON.
pub fn json(w: &Witnessing) -> serde_json::Value {
    let witnesses: Vec<serde_json::Value> = w
        .judged
        .as_ref()
        .map(|(_, j)| {
            j.witnesses
                .iter()
                .map(|(name, c)| {
                    let (status, timestamp) = match c {
                        Cosigned::Absent => ("absent", None),
                        Cosigned::Invalid(_) => ("invalid", None),
                        Cosigned::Valid { timestamp, fresh } => {
                            (if *fresh { "cosigned" } else { "stale" }, Some(*timestamp))
                        }
                    };
                    serde_json::json!({
                        "name": name,
                        "status": status,
                        "timestamp": timestamp.map(|t| accord::time::format(i64::try_from(t).unwrap_or(i64::MAX))),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "quorum": w.quorum,
        "max_age_seconds": w.max_age,
        "checkpoint_size": w.judged.as_ref().map(|(s, _)| *s),
        "witnesses": witnesses,
        "quorum_met": w.quorum_met,
        "entries": w.entries,
        "not_yet_witnessed": w.not_yet_witnessed,
    })
}

/// Exit 3 when trust is not established by the policy (what was verified is printed already).
pub fn exit(w: Option<&Witnessing>, what: &str) -> Res {
    match w {
        Some(w) if !w.established() => Err(Fail::not_established(anyhow!("{what}: {}", w.summary())).hint(
            "exit 3 means the data is valid but trust is not established: the witnesses of your policy have not (yet, or recently enough) cosigned what was verified",
        )),
        _ => Ok(()),
    }
}

/// Prints what the policy judged (nothing without a policy).
pub fn print(w: Option<&Witnessing>) {
    if let Some(w) = w {
        super::context::out(&format!("{}\n", w.summary()));
    }
}

/// "OK" when trust is established (or no policy asked for witnesses), "VALID" otherwise.
pub fn verdict(w: Option<&Witnessing>) -> &'static str {
    if w.is_some_and(|w| !w.established()) {
        "VALID"
    } else {
        "OK"
    }
}

/// The time cosignatures are judged at: now, in seconds since the epoch.
pub fn now() -> u64 {
    u64::try_from(accord::clock::now()).unwrap_or(0)
}

/// Keeps a checkpoint note that carries a valid cosignature of a policy witness in the mirror
/// at `dir` (its table of cosigned checkpoints), so that `verify --witness-policy` on the
/// mirror finds it. Best effort: the mirror is already committed and verified; a failure is
/// said as a note.
pub fn keep_in_mirror(dir: &Path, w: Option<&Witnessing>, note: &[u8]) {
    let Some((size, j)) = w.and_then(|w| w.judged.as_ref()) else {
        return;
    };
    if !j
        .witnesses
        .iter()
        .any(|(_, c)| matches!(c, Cosigned::Valid { .. }))
    {
        return;
    }
    let kept = accord::ledger::Ledger::open(dir).and_then(|l| Ok(l.store().put_cosigned(*size, note)?));
    if let Err(e) = kept {
        super::terminal::note!("note: the cosigned checkpoint {size} could not be kept in the mirror ({e})");
    }
}
