//! `accord watch URL|DIR --ledger-key VKEY --org NAME...`: what a published log says in an
//! organisation's name, or in a name close to it, reported once each, from cron.
//!
//! The log is read and verified as `verify URL|DIR` reads it ([`verify_log`], the one call
//! into the verification); the findings come from `accord::watch`, one entry at a time as
//! the verifier accepts it, and are reported only once the whole verification has passed and
//! its checkpoint has been compared with the one remembered.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::anyhow;
use serde::Serialize;

use accord::checkpoint::{SignedCheckpoint, VerifierKey};
use accord::merkle::Hash;
use accord::norms::Catalogue;
use accord::remote::{self, TileSource, TileStream};
use accord::replay::{ReplayTotals, Snapshot, VerifyReport};
use accord::state::{Source, StateDir, StateError};
use accord::verdict::{Location, VerifyError};
use accord::watch::{Finding, FindingKind, WatchState, Watchlist};

use super::context::*;
use super::display::shown;
use super::fail::Fail;
use super::public::{remote_error, remote_fail};
use super::terminal::{note, Progress};

/// `accord watch`'s help, after the options.
pub(super) const WATCH_HELP: &str = "\
Reads the published log at URL|DIR as `accord verify URL|DIR` does (the checkpoint verified with \
--ledger-key, never with a key the host offers; every entry bundle and hash tile; the rules and \
signatures of every entry not verified by an earlier run) and reports, once, each entry since the \
last run that\n  \
* is a statement of a watched organisation: its registration, attestations, withdrawals, rotations, \
revocations and recoveries (every use of one of its keys);\n  \
* registers another organisation with a name close to a watched one: their comparison keys \
(docs/FORMAT.md section 4.1: look-alike letters and case count as equal) at most 1 edit apart for a \
watched name of 3 to 5 characters, 2 for a longer one, only equal for 1 or 2, or the new name holding \
the watched one (3 characters or more).\n\n\
The state directory remembers, per ledger key and set of watched names, the size up to which \
findings were reported: the first run reports from entry 0 (or --since N), later runs only what is \
new. It also remembers the checkpoint, as verify does: a log smaller than the one verified before \
(rollback) or with another tree (fork) exits 1, reported as a finding at every run until it is \
resolved; and the replay state that makes the next run verify only the new entries.\n\n\
Output: one line per finding on standard output: `entry N: KIND: SUMMARY` for an entry (KIND: \
registration, attestation, withdrawal, rotation, revocation, recovery, close-name), and `KIND: SUMMARY` \
for the log as a whole (KIND: rollback, fork, invalid; --json carries the index where there is one), \
and nothing else: the summary goes to standard error (--quiet silences it), so that cron mails \
only what is new. --json: one JSON object per line for each finding, then a summary line \
(docs/FORMAT.md section 11.2).\n\n\
--exec PROGRAM [ARG]... runs PROGRAM once per finding, never through a shell, with the finding in the \
environment (ACCORD_FINDING_INDEX, ACCORD_FINDING_KIND, ACCORD_FINDING_ORG, ACCORD_FINDING_SUMMARY, \
ACCORD_FINDING_ISS, ACCORD_FINDING_NAME, ACCORD_FINDING_KEY_ID, ACCORD_FINDING_STATEMENT_ID, \
ACCORD_FINDING_LOGGED_AT, ACCORD_FINDING_REASON, ACCORD_FINDING_DISTANCE: unset when the finding has \
none; ACCORD_FINDING_ORIGIN, ACCORD_FINDING_SOURCE, ACCORD_FINDING_TREE_SIZE) and as its JSON line on \
standard input; what it prints goes to standard error. Everything after --exec is its arguments, up \
to a lone ';' (\\; or ';' in a shell). If it cannot start or exits non-zero, watch stops (exit 2), and the next run reports \
again from that finding's entry.\n\n\
--witness-policy FILE [--max-age DURATION] also requires the checkpoint to be cosigned by the policy's \
quorum of witnesses (docs/FORMAT.md section 16): the findings are reported all the same, and a run whose \
checkpoint is not witnessed exits 3 (its summary carries `witnesses`); a cosignature of a policy witness \
that does not verify stops the run (exit 1).\n\n\
Exit codes: 0 it ran, with or without findings; 1 a rollback, a fork or invalid data; 2 usage, \
network and state-directory errors, a failed --exec; 3 is reserved for entries not yet witnessed \
(once witnesses exist).\n\n\
Example, a crontab line (every hour; cron mails what it prints):\n  \
17 * * * *  accord watch https://pledges.example/ --ledger-key VKEY --org 'Acme Corp' --quiet";

/// `accord watch`'s arguments.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// The published log: an http(s):// URL or a directory written by `accord publish`.
    #[arg(value_name = "URL|DIR")]
    pub location: String,
    /// The ledger's public key (C2SP vkey), from a source you trust: required (a monitor that
    /// trusts the host checks nothing).
    #[arg(long, value_name = "VKEY")]
    pub ledger_key: Option<String>,
    /// An organisation to watch, by its name (compared as `iss` compares names, and by look-alike
    /// comparison keys for close names); repeat for several.
    #[arg(long = "org", value_name = "NAME", required = true)]
    pub orgs: Vec<String>,
    /// State directory for what was reported, remembered checkpoints and the replay state (as
    /// for `verify`).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Report the entries from index N on, whatever was reported before (0: everything).
    #[arg(long, value_name = "N")]
    pub since: Option<u64>,
    /// One JSON object per line: each finding, then a summary.
    #[arg(long)]
    pub json: bool,
    /// A program to run for each finding, with its arguments (up to a lone ';'); never
    /// through a shell.
    #[arg(long, value_name = "PROGRAM", num_args = 1.., allow_hyphen_values = true, value_terminator = ";")]
    pub exec: Option<Vec<OsString>>,
    #[command(flatten)]
    pub witness: super::witnessed::WitnessArgs,
}

/// Where a finding was found: the log, as shown, and its verified checkpoint.
struct Context {
    origin: String,
    source: String,
    tree_size: u64,
}

/// A finding as one JSON line (`--json`, and `--exec`'s standard input).
#[derive(Serialize)]
struct FindingLine<'a> {
    r#type: &'static str,
    #[serde(flatten)]
    finding: &'a Finding,
    origin: &'a str,
    source: &'a str,
    tree_size: u64,
}

/// `accord watch`.
pub(super) fn watch(a: &WatchArgs) -> Res {
    let mut reported = 0u64;
    let r = run(a, &mut reported);
    // Exit 3 (a checkpoint not witnessed) has printed its summary line, `witnesses` in it.
    if let (Err(f), true) = (&r, a.json && r.as_ref().is_err_and(|f| f.code != 3)) {
        line(&serde_json::json!({
            "type": "summary", "ok": false, "exit": f.code, "error": f.message(),
            "findings": reported,
        }));
    }
    r
}

fn line<T: Serialize>(v: &T) {
    out(&format!("{}\n", serde_json::to_string(v).unwrap_or_default()));
}

fn run(a: &WatchArgs, reported: &mut u64) -> Res {
    let key = a.ledger_key.as_deref().ok_or_else(|| {
        Fail::usage(anyhow!(
            "watch needs --ledger-key VKEY: the key comes from you, never from the host being watched (a monitor that trusts the host checks nothing)"
        ))
        .hint("the custodian publishes it; `accord ledger-key` prints it on the ledger's machine")
    })?;
    let vkey = vkey(key)?;
    let required = a.witness.requirement(&vkey)?;
    let list = Watchlist::new(&a.orgs).map_err(Fail::usage)?;
    if let Some(cmd) = &a.exec {
        if cmd.first().is_none_or(|p| p.is_empty()) {
            return Err(Fail::usage(anyhow!("--exec needs a program to run")));
        }
    }
    let shown_location = remote::redact(&a.location);
    let source =
        remote::source_for(&a.location, http_timeout()).map_err(|e| remote_error(e, &shown_location))?;
    let sd = state_dir(a.state.as_deref());
    let remembered = sd.remembered(&vkey).map_err(state_fail)?;
    let tag = list.tag(&vkey);
    let saved = read_watch_state(&sd, &tag, &vkey, &list)?;
    if let (Some(s), None) = (&saved, a.since) {
        let r = remembered.as_ref().map_or(0, |r| r.checkpoint.size);
        if s.reported_size > r {
            return Err(Fail::usage(anyhow!(
                "the watch state {} says entries below {} were reported, but no checkpoint that large is remembered for this ledger key (the largest is of size {r}): the state directory was changed",
                sd.watch_file_for(&tag).display(),
                s.reported_size
            ))
            .hint("--since N reports again from entry N (0: everything) and starts the watch over"));
        }
    }
    let mut ctx = Context {
        origin: vkey.name().to_string(),
        source: shown_location.clone(),
        tree_size: 0,
    };
    let cp = remote::fetch_checkpoint(source.as_ref(), &vkey).map_err(|e| {
        let f = remote_error(e, &shown_location);
        if f.code == 1 {
            about_the_log(FindingKind::Invalid, 0, &f.message(), f, &ctx, a, &list, reported)
        } else {
            f
        }
    })?;
    let size = cp.checkpoint.size;
    ctx.tree_size = size;
    // The findings are reported whether or not the checkpoint is witnessed (the run then exits
    // 3); a forged cosignature of a policy witness stops the run before anything is read.
    let witnessing = required
        .map(|r| r.single(&cp.note, size, super::witnessed::now()))
        .transpose()
        .map_err(|e| super::witnessed::refused(e, &shown_location))?;
    let from = match (a.since, &saved) {
        (Some(n), _) if n > size => {
            return Err(Fail::usage(anyhow!("--since {n}: the log has {size} entries")))
        }
        (Some(n), _) => n,
        (None, Some(s)) => s.reported_size,
        (None, None) => 0,
    };
    let bar = Progress::start("watching", !a.json);
    let verified = verify_log(
        source.as_ref(),
        &cp,
        &vkey,
        &sd,
        remembered.as_ref(),
        &list,
        from,
        &shown_location,
        &bar,
    );
    drop(bar);
    let v = verified.map_err(|stop| match stop {
        Stop::Invalid { index, fail } => about_the_log(
            FindingKind::Invalid,
            index,
            &fail.message(),
            fail,
            &ctx,
            a,
            &list,
            reported,
        ),
        Stop::Other(f) => f,
    })?;
    let seen = sd
        .check_and_remember(&vkey, &v.report.checkpoint, Source::Live, |s| {
            if Some(s) == remembered.as_ref().map(|r| r.checkpoint.size) {
                v.root_at
            } else {
                None
            }
        })
        .map_err(|e| match e {
            StateError::Rollback { remembered, .. } => {
                let summary = e.to_string();
                let f = state_fail(e);
                about_the_log(
                    FindingKind::Rollback,
                    remembered,
                    &summary,
                    f,
                    &ctx,
                    a,
                    &list,
                    reported,
                )
            }
            StateError::Fork { size, .. } => {
                let summary = e.to_string();
                let f = state_fail(e);
                about_the_log(FindingKind::Fork, size, &summary, f, &ctx, a, &list, reported)
            }
            other => state_fail(other),
        })?;
    sd.save_replay_state(&vkey, &v.snapshot).map_err(state_fail)?;
    for f in &v.findings {
        if let Err(hook) = report(f, &ctx, a) {
            // Reported again from this entry on by the next run.
            save_watch_state(&sd, &tag, &vkey, &list, f.index)?;
            return Err(hook.hint(format!(
                "the next run reports again from entry {} (the findings before it are not reported again)",
                f.index
            )));
        }
        *reported += 1;
    }
    save_watch_state(&sd, &tag, &vkey, &list, size.max(from))?;
    let orgs = list.orgs();
    let names = orgs
        .iter()
        .map(|o| super::display::quoted(&o.given))
        .collect::<Vec<_>>()
        .join(", ");
    let read = if from >= size {
        format!("no entry since the last run (size {size})")
    } else {
        format!("entries {from} to {} read", size - 1)
    };
    let incremental = match v.incremental_from {
        Some(m) => format!("; the rules and signatures of entries below {m} were checked by an earlier run"),
        None => String::new(),
    };
    if a.json {
        line(&serde_json::json!({
            "type": "summary", "ok": true, "origin": ctx.origin, "source": ctx.source,
            "orgs": orgs.iter().map(|o| o.given.as_str()).collect::<Vec<_>>(),
            "from": from, "tree_size": size, "findings": reported,
            "root": hex::encode(v.report.checkpoint.checkpoint.root),
            "remembered": seen_text(&seen),
            "remembered_size": remembered_size(&seen, size),
            "incremental_from": v.incremental_from,
            "witnesses": witnessing.as_ref().map(super::witnessed::json),
        }));
    } else {
        note!(
            "watched {names} in the ledger {} published at {}: verified up to size {size}, {read}, {} finding{}{incremental}\ncheckpoint: {}",
            ctx.origin,
            shown(&ctx.source),
            reported,
            if *reported == 1 { "" } else { "s" },
            seen_text(&seen)
        );
        if let Some(w) = &witnessing {
            note!("{}", w.summary());
        }
    }
    super::witnessed::exit(witnessing.as_ref(), &shown_location)
}

/// Reports a finding about the log as a whole (a rollback, a fork, invalid data) for each
/// watched name, `summary` saying what it is, then returns the failure `f` that it is (or the
/// failure of `--exec`).
#[allow(clippy::too_many_arguments)]
fn about_the_log(
    kind: FindingKind,
    index: u64,
    summary: &str,
    f: Fail,
    ctx: &Context,
    a: &WatchArgs,
    list: &Watchlist,
    reported: &mut u64,
) -> Fail {
    for o in list.orgs() {
        let finding = Finding::about_the_log(kind, index, &o.given, summary);
        let hooked = report(&finding, ctx, a);
        *reported += 1;
        if let Err(hook) = hooked {
            // The log's failure is what the exit code says; the hook's is said beside it.
            hook.report();
            break;
        }
    }
    f
}

/// Reads the state of this watch, if there is one; a damaged one, or one of another watch, is
/// refused (exit 2), never used in part.
fn read_watch_state(
    sd: &StateDir,
    tag: &str,
    vkey: &VerifierKey,
    list: &Watchlist,
) -> Res<Option<WatchState>> {
    let Some(bytes) = sd.read_watch(tag, accord::watch::MAX_STATE).map_err(state_fail)? else {
        return Ok(None);
    };
    WatchState::decode(&bytes, vkey, list).map(Some).map_err(|e| {
        Fail::usage(e)
            .context(format!(
                "the watch state {} cannot be used",
                sd.watch_file_for(tag).display()
            ))
            .hint("--since N reports again from entry N (0: everything) and replaces it")
    })
}

fn save_watch_state(sd: &StateDir, tag: &str, vkey: &VerifierKey, list: &Watchlist, size: u64) -> Res {
    sd.save_watch(tag, &WatchState::new(vkey, list, size).encode())
        .map_err(state_fail)
}

/// Prints one finding (a line of text, or of JSON) and runs `--exec` for it.
fn report(f: &Finding, ctx: &Context, a: &WatchArgs) -> Res {
    let json = serde_json::to_string(&FindingLine {
        r#type: "finding",
        finding: f,
        origin: &ctx.origin,
        source: &ctx.source,
        tree_size: ctx.tree_size,
    })
    .map_err(Fail::usage)?;
    if a.json {
        out(&format!("{json}\n"));
    } else if f.kind.is_about_the_log() {
        out(&format!("{}: {}\n", f.kind, shown(&f.summary)));
    } else {
        out(&format!("entry {}: {}: {}\n", f.index, f.kind, shown(&f.summary)));
    }
    match &a.exec {
        Some(cmd) => run_hook(cmd, f, ctx, &json),
        None => Ok(()),
    }
}

/// The environment `--exec` gets for a finding: every variable, set or (when the finding has
/// no such field) removed, so that none is inherited from watch's own environment.
fn hook_env(f: &Finding, ctx: &Context) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("ACCORD_FINDING_INDEX", Some(f.index.to_string())),
        ("ACCORD_FINDING_KIND", Some(f.kind.to_string())),
        ("ACCORD_FINDING_ORG", Some(f.org.clone())),
        ("ACCORD_FINDING_SUMMARY", Some(f.summary.clone())),
        ("ACCORD_FINDING_ISS", f.iss.clone()),
        ("ACCORD_FINDING_NAME", f.name.clone()),
        ("ACCORD_FINDING_KEY_ID", f.key_id.clone()),
        ("ACCORD_FINDING_STATEMENT_ID", f.statement_id.clone()),
        ("ACCORD_FINDING_LOGGED_AT", f.logged_at.clone()),
        ("ACCORD_FINDING_REASON", f.reason.clone()),
        ("ACCORD_FINDING_DISTANCE", f.distance.map(|d| d.to_string())),
        ("ACCORD_FINDING_ORIGIN", Some(ctx.origin.clone())),
        ("ACCORD_FINDING_SOURCE", Some(ctx.source.clone())),
        ("ACCORD_FINDING_TREE_SIZE", Some(ctx.tree_size.to_string())),
    ]
}

/// Runs `cmd` (a program and its arguments, as given: no shell ever sees them or the finding)
/// for one finding, its JSON line on standard input, its standard output sent to standard
/// error; waits for it.
fn run_hook(cmd: &[OsString], f: &Finding, ctx: &Context, json: &str) -> Res {
    use std::io::Write as _;
    let program = cmd
        .first()
        .ok_or_else(|| Fail::usage(anyhow!("--exec needs a program to run")))?;
    let name = shown(&program.to_string_lossy()).into_owned();
    let mut c = std::process::Command::new(program);
    c.args(&cmd[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::from(std::io::stderr()));
    for (k, v) in hook_env(f, ctx) {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let mut child = c
        .spawn()
        .map_err(|e| Fail::usage(e).context(format!("--exec {name}: cannot start it")))?;
    // Written from another thread: a program that does not read its input, or reads it only
    // after writing much, never blocks watch; one that exits without reading it is no error.
    let writer = child.stdin.take().map(|mut stdin| {
        let data = format!("{json}\n").into_bytes();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        })
    });
    let status = child
        .wait()
        .map_err(|e| Fail::usage(e).context(format!("--exec {name}")))?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    if !status.success() {
        return Err(Fail::usage(anyhow!(
            "--exec {name} failed ({status}) for the {} finding at entry {}",
            f.kind,
            f.index
        )));
    }
    Ok(())
}

/// Why a verification of the log stopped.
enum Stop {
    /// The log is invalid: the first bad entry (or the size of the checkpoint at fault).
    Invalid { index: u64, fail: Fail },
    /// It could not be read or judged (network, state directory: exit 2).
    Other(Fail),
}

impl From<Fail> for Stop {
    fn from(f: Fail) -> Self {
        Stop::Other(f)
    }
}

/// A log verified, with the findings of its entries from `from` on.
struct Verified {
    report: VerifyReport,
    snapshot: Snapshot,
    root_at: Option<Hash>,
    findings: Vec<Finding>,
    /// The size of the remembered replay state the verification resumed from, if it did.
    incremental_from: Option<u64>,
}

/// The log of the verified checkpoint `cp` read from `source` and verified against `vkey`,
/// resumed from the remembered replay state when there is one (a resumed verification that
/// fails is done again in full, so that the verdict is a full one's), with the findings
/// `list` has in each entry from `from` on, gathered as the verifier accepts the entries. Only
/// an `Ok` means the whole log verified; nothing is reported or remembered before it.
#[allow(clippy::too_many_arguments)]
fn verify_log(
    source: &dyn TileSource,
    cp: &SignedCheckpoint,
    vkey: &VerifierKey,
    sd: &StateDir,
    remembered: Option<&SignedCheckpoint>,
    list: &Watchlist,
    from: u64,
    shown_location: &str,
    bar: &Progress,
) -> Result<Verified, Stop> {
    let size = cp.checkpoint.size;
    let resume = resume_state(sd, vkey, size, false)?;
    let want_root_at = remembered.map(|r| r.checkpoint.size);
    let mut incremental_from = resume.as_ref().map(Snapshot::size);
    let once =
        |resume: Option<Snapshot>| -> Result<(VerifyReport, ReplayTotals, Option<Hash>, Vec<Finding>), Stop> {
            // A run that reports from at or beyond a snapshot taken at the remembered checkpoint
            // fetches only the bundles from the one holding the snapshot's first new entry (as
            // `verify URL|DIR` does): the new signed root, rebuilt from the snapshot's tree edge
            // and the new leaves, ties them to the remembered tree. Otherwise the stream starts
            // at entry 0: the entries below the snapshot are hashed and chained (their tree must
            // be the snapshot's) and seen by the callback, which keeps the findings from `from`
            // on.
            let tail = resume
                .as_ref()
                .map(Snapshot::size)
                .filter(|&m| from >= m && want_root_at == Some(m));
            let first = tail.map_or(0, |m| m - m % accord::tiles::TILE_WIDTH);
            let roots = match (&resume, tail) {
                (Some(s), Some(_)) => s.tile_roots().to_vec(),
                _ => Vec::new(),
            };
            let mut stream = TileStream::from_bundle(source, cp, first / accord::tiles::TILE_WIDTH, &roots);
            let header = accord::export::read_header(&mut stream)
                .map_err(|e| Stop::Other(remote_fail(&stream, e.into(), shown_location)))?;
            let mut findings = Vec::new();
            let verified = accord::export::verify_export_entries(
                &mut stream,
                &header,
                vkey,
                Catalogue::embedded(),
                if tail.is_some() { None } else { want_root_at },
                resume.map(|snapshot| accord::export::Resume { snapshot, first }),
                Some(&|d, t| bar.update(d, t)),
                |batch| {
                    for (index, bytes) in batch.iter().filter(|(i, _)| *i >= from) {
                        findings.extend(list.entry_findings(index, bytes).map_err(|e| {
                            VerifyError::Invalid {
                                at: Location::Entry(index),
                                problem: e.to_string(),
                            }
                        })?);
                    }
                    Ok::<(), VerifyError>(())
                },
            );
            match verified {
                Ok((report, totals, root_at)) => {
                    // Resumed from the remembered checkpoint's own state: its root is the tree's.
                    let root_at = if tail.is_some() {
                        remembered.map(|r| r.checkpoint.root)
                    } else {
                        root_at
                    };
                    Ok((report, totals, root_at, findings))
                }
                Err(e) => {
                    let index = match &e {
                        VerifyError::Invalid {
                            at: Location::Entry(i) | Location::Checkpoint(i),
                            ..
                        } => *i,
                        _ => size,
                    };
                    let fail = remote_fail(&stream, e.into(), shown_location);
                    Err(if fail.code == 1 {
                        Stop::Invalid { index, fail }
                    } else {
                        Stop::Other(fail)
                    })
                }
            }
        };
    let mut result = once(resume);
    if let (Err(Stop::Invalid { fail, .. }), Some(m)) = (&result, incremental_from) {
        note!(
            "note: resuming from the remembered replay state of size {m} failed ({}); verifying everything",
            fail.message()
        );
        incremental_from = None;
        result = once(None);
    }
    let (report, totals, root_at, findings) = result?;
    Ok(Verified {
        report,
        snapshot: totals.into_snapshot(),
        root_at,
        findings,
        incremental_from,
    })
}
