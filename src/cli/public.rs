//! The public side: `publish` (C2SP tiles to a directory or a bucket), `serve` (tiles and a JSON read API
//! over HTTP), and reading a published log from anywhere: `verify URL|DIR`, `mirror URL|DIR`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use accord::ledger::Ledger;
use accord::norms::Catalogue;
use accord::policy::WitnessPolicy;
use accord::remote::{self, RemoteError, TileStream};
use accord::witnessing::{self, Collection, WitnessOutcome};

use super::context::*;
use super::fail::{self, Fail};
use super::terminal::{note, Progress};

/// Options of a bucket destination, for `publish s3://...` and `serve --publish s3://...`.
#[derive(clap::Args, Debug)]
pub struct BucketArgs {
    /// With s3://: a canned ACL to put on every object written, such as public-read. Off by
    /// default: many buckets refuse ACLs (made public by a bucket policy or a CDN instead).
    #[arg(long, value_name = "ACL", env = "ACCORD_S3_ACL", value_parser = clap::builder::PossibleValuesParser::new(accord::bucket::CannedAcl::ALL.map(|a| a.as_str())))]
    pub s3_acl: Option<String>,
}

impl BucketArgs {
    fn options(&self) -> accord::bucket::BucketOptions {
        accord::bucket::BucketOptions {
            acl: self.s3_acl.as_deref().and_then(accord::bucket::CannedAcl::parse),
            timeout: http_timeout(),
        }
    }
}

/// Collecting cosignatures before a checkpoint is published (`publish`, `serve`).
#[derive(clap::Args, Debug)]
pub struct WitnessingArgs {
    /// Publish a checkpoint only once the quorum of this witness policy (docs/FORMAT.md
    /// section 16) has cosigned it: the checkpoint is sent to every witness of the policy with
    /// a URL (C2SP tlog-witness), and until the quorum is met the last checkpoint that had it
    /// stays published (publish exits 3; serve --writable serves it at /checkpoint, 404 before
    /// there is one). Answers that are evidence of a split view are kept in
    /// LEDGER/witness-evidence/ (publish exits 1).
    #[arg(long, value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,
    /// Seconds one request to a witness may take, connecting and the whole answer.
    #[arg(long, value_name = "SECS", default_value_t = 10, requires = "witness_policy", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub witness_timeout: u64,
}

/// Reads a witness policy file (bounded) and checks that it is for the ledger of `vkey`.
pub(super) fn read_witness_policy(path: &Path, vkey: &accord::checkpoint::VerifierKey) -> Res<WitnessPolicy> {
    use std::io::Read as _;
    let what = || format!("witness policy {}", path.display());
    let f = std::fs::File::open(path).map_err(|e| Fail::usage(e).context(what()))?;
    let mut text = String::new();
    f.take(accord::policy::MAX_POLICY_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| Fail::usage(e).context(what()))?;
    let p = WitnessPolicy::parse(&text).map_err(|e| Fail::usage(e).context(what()))?;
    p.check_log(vkey).map_err(|e| Fail::usage(e).context(what()))?;
    Ok(p)
}

/// One witness's line for people: name, URL, and where it stands.
fn witness_line(w: &WitnessOutcome) -> String {
    let url = w
        .url
        .as_deref()
        .map(remote::redact)
        .unwrap_or_else(|| "no URL".into());
    let known = w
        .size_known
        .map_or(String::new(), |n| format!(", known to have cosigned size {n}"));
    match &w.error {
        Some(e) => format!("{} ({url}): {}{known}: {e}", w.name, w.status.as_str()),
        None => format!("{} ({url}): {}{known}", w.name, w.status.as_str()),
    }
}

/// What a publication did about witnesses: the JSON of each, and what to say and exit with.
fn witnessing_outcome(
    c: &Collection,
    policy: &WitnessPolicy,
    published: u64,
) -> (serde_json::Value, Option<Fail>) {
    let witnesses: Vec<_> = c
        .witnesses
        .iter()
        .map(|w| {
            serde_json::json!({
                "name": w.name,
                "url": w.url.as_deref().map(remote::redact),
                "status": w.status.as_str(),
                "size_known": w.size_known,
                "error": w.error,
                "evidence": w.evidence.as_ref().map(|p| p.display().to_string()),
            })
        })
        .collect();
    let json = serde_json::json!({
        "size": c.size,
        "quorum": policy.describe_quorum(),
        "quorum_met": c.quorum_met,
        "witnesses": witnesses,
    });
    for w in c.evidence() {
        super::terminal::say!(
            "EVIDENCE from witness {}: kept in {}",
            super::display::shown(&witness_line(w)),
            w.evidence
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    let behind: Vec<String> = c.behind().map(witness_line).collect();
    if !c.quorum_met || c.evidence().next().is_some() {
        for b in &behind {
            super::terminal::say!("  behind: {}", super::display::shown(b));
        }
    }
    let fail = if let Some(w) = c.evidence().next() {
        Some(
            Fail::invalid(anyhow!(
                "witness {} answered what no honest history of this log explains; the evidence is in {}",
                w.name,
                w.evidence
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ))
            .context("publish: EVIDENCE of a split view or a fork"),
        )
    } else if !c.quorum_met {
        let stays = if published == 0 {
            "no checkpoint is published yet".to_string()
        } else {
            format!("the published checkpoint stays at size {published}")
        };
        Some(Fail::not_established(anyhow!(
            "the checkpoint of size {} is not published: the witnesses' quorum ({}) has not cosigned it ({} behind); {stays}, and the next publish tries again",
            c.size,
            policy.describe_quorum(),
            behind.len()
        )))
    } else {
        None
    };
    (json, fail)
}

/// `accord publish DEST [--repair]`: a directory or `s3://BUCKET[/PREFIX]`.
pub(super) fn publish(
    dir: &Path,
    dest: &Path,
    repair: bool,
    bucket: &BucketArgs,
    witnessing: &WitnessingArgs,
    json: bool,
) -> Res {
    use accord::destination::Destination;
    // Read-only, also with a policy: collecting cosignatures can take up to the witnesses'
    // timeout, and appends must never wait for witnesses (FORMAT §17). The cosigned checkpoint
    // is stored in the ledger afterwards, with the write lock held only for that.
    let l = open_ro(dir)?;
    let mut to_store: Option<(u64, Vec<u8>)> = None;
    let policy = match &witnessing.witness_policy {
        Some(p) => {
            let vkey = vkey(&l.recorded_vkey().map_err(|e| fail::ledger(e, 2))?)?;
            Some(read_witness_policy(p, &vkey)?)
        }
        None => None,
    };
    let dest = Destination::parse(dest.as_os_str()).map_err(|e| Fail::usage(e).context("publish FAILED"))?;
    let target = dest
        .open(&bucket.options())
        .map_err(|e| Fail::usage(e).context("publish FAILED"))?;
    let bar = Progress::start("publishing", !json);
    let options = accord::publish::PublishOptions { repair };
    let mut collection = None;
    let r = match &policy {
        None => accord::publish::publish(&l, target.as_ref(), options, Some(&|d, t| bar.update(d, t))),
        Some(policy) => {
            let sizes = dir.join(witnessing::SIZES_FILE);
            let mut known = witnessing::KnownSizes::load(&sizes);
            let collect_options = witnessing::CollectOptions {
                timeout: std::time::Duration::from_secs(witnessing.witness_timeout),
                evidence_dir: dir.join(witnessing::EVIDENCE_DIR),
                now: u64::try_from(accord::clock::now()).unwrap_or(0),
            };
            accord::publish::publish_with(
                &l,
                target.as_ref(),
                options,
                Some(&|d, t| bar.update(d, t)),
                &mut |ours, published, hashes| {
                    let met = |note: &[u8]| policy.judge(note, collect_options.now, None).quorum_met;
                    let size = ours.checkpoint.size;
                    let stored = l.store().cosigned()?;
                    // Cosigned and stored earlier.
                    for (n, note) in &stored {
                        if *n == size && note.starts_with(&ours.note) && met(note) {
                            return Ok(Some(note.clone()));
                        }
                    }
                    // Already published with its quorum (and stored now if an earlier run could
                    // not store it).
                    if let Some(p) = published.filter(|p| p.checkpoint == ours.checkpoint && met(&p.note)) {
                        to_store = Some((size, p.note.clone()));
                        return Ok(Some(p.note.clone()));
                    }
                    let c = witnessing::collect(policy, ours, hashes, &mut known, &collect_options)?;
                    known.save(&sizes)?;
                    let chosen = if c.quorum_met {
                        to_store = Some((size, c.note.clone()));
                        Some(c.note.clone())
                    } else {
                        None
                    };
                    collection = Some(c);
                    Ok(chosen)
                },
            )
        }
    };
    drop(bar);
    drop(target);
    let recorded_vkey = l.recorded_vkey().map_err(|e| fail::ledger(e, 1))?;
    drop(l);
    if let (Ok(_), Some((size, note))) = (&r, &to_store) {
        // The checkpoint is published; storing it lets `verify --witness-policy` on the ledger
        // trust it. If the ledger is busy, the next publish stores it.
        let stored = open_rw(dir).and_then(|rw| {
            rw.store()
                .put_cosigned(*size, note)
                .map_err(|e| fail::ledger(e.into(), 2))
        });
        if let Err(e) = stored {
            note!(
                "warning: the cosigned checkpoint of size {size} is published but not stored in the ledger ({}); \
                 `verify --witness-policy` of the ledger counts its entries not yet witnessed until the next publish stores it",
                e.message()
            );
        }
    }
    let r = r.map_err(|e| match e {
        accord::publish::PublishError::Conflict { .. } => Fail::invalid(e).context("publish FAILED"),
        accord::publish::PublishError::Ledger(e) => fail::ledger(e, 1).context("publish FAILED"),
        accord::publish::PublishError::Unsafe { ref problem, .. } => {
            let fix = problem.fix.clone();
            Fail::usage(e)
                .context("publish FAILED (nothing written)")
                .hint(fix)
        }
        other => Fail::usage(other).context("publish FAILED"),
    })?;
    let (witnessed, fail) = match (&collection, &policy) {
        (Some(c), Some(p)) => {
            let (j, f) = witnessing_outcome(c, p, r.to);
            (Some(j), f)
        }
        // Nothing asked: the checkpoint had its quorum already (published, or stored).
        (None, Some(p)) => (
            Some(serde_json::json!({
                "size": r.to, "quorum": p.describe_quorum(), "quorum_met": true, "witnesses": [],
            })),
            None,
        ),
        _ => (None, None),
    };
    if json {
        let mut v = serde_json::json!({
            "ok": fail.is_none(), "from": r.from, "to": r.to, "files": r.files, "bytes": r.bytes,
            "repaired": r.repaired, "checked": r.checked,
            "target": dest.to_string(),
        });
        if let Some(w) = witnessed {
            v["witnessing"] = w;
        }
        out_json(&v)?;
        return fail.map_or(Ok(()), Err);
    }
    if let Some(f) = fail {
        return Err(f);
    }
    if let Some(c) = &collection {
        let names: Vec<&str> = c
            .witnesses
            .iter()
            .filter(|w| w.status == witnessing::Status::Cosigned)
            .map(|w| w.name.as_str())
            .collect();
        note!(
            "the checkpoint of size {} has the witnesses' quorum: cosigned by {}",
            c.size,
            names.join(", ")
        );
        for b in c.behind() {
            note!("  behind: {}", super::display::shown(&witness_line(b)));
        }
    }
    let checked = if repair {
        "every file compared with the ledger"
    } else {
        "every tile of its checkpoint is there with its size"
    };
    if r.repaired > 0 {
        out(&format!(
            "repaired {} of the {} files checked in {dest} (missing, of the wrong size{}): rewritten from the ledger\n",
            r.repaired,
            r.checked,
            if repair { " or other contents" } else { "" }
        ));
    }
    if r.from == r.to && r.files == 0 {
        out(&format!(
            "{dest} already holds this ledger at size {} (nothing to write: {checked})\n",
            r.to
        ));
        return Ok(());
    }
    if r.from == r.to {
        out(&format!(
            "{dest} holds this ledger at size {}: {} files, {} bytes written\n",
            r.to, r.files, r.bytes
        ));
        return Ok(());
    }
    let (serve, check) = match &dest {
        Destination::Dir(_) => (
            "serve the directory with any web server (tiles are immutable, the checkpoint is not)",
            dest.to_string(),
        ),
        Destination::Bucket(_) => (
            "serve the bucket publicly (a bucket policy, --s3-acl public-read, or a CDN in front; tiles are immutable, the checkpoint is not)",
            "https://HOST/PREFIX/".to_string(),
        ),
    };
    out(&format!(
        "published the ledger to {dest} up to size {} (was {}): {} files, {} bytes\n\
         {serve}, or check it with:\n  accord verify {check} --ledger-key {}\n",
        r.to, r.from, r.files, r.bytes, recorded_vkey
    ));
    Ok(())
}

/// `accord serve`'s options.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub connections: super::context::ConnectionArgs,
    /// Seconds a response may wait for a client that does not read it before the connection
    /// is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub write_timeout: u64,
    /// MiB of full tiles kept in memory (tiles never change, so a cached tile is served as is;
    /// the oldest go first). A ledger of 1,000,000 entries has about 540 MiB of tiles; the
    /// cache fills only with tiles that are asked for.
    #[arg(long, value_name = "MIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    pub cache_mb: u64,
    /// Take signed statements over HTTP (POST /entries). The server is then the ledger's one
    /// writer: it needs the ledger key, and local appends go through it (--server URL).
    #[arg(long)]
    pub writable: bool,
    /// With --writable, who may register an organisation over HTTP: `open` (anyone), `closed`
    /// (no one: the custodian registers locally), `approve` (registrations wait until the
    /// custodian runs `accord approve ID` on this machine).
    #[arg(long, value_enum, default_value_t = RegistrationsArg::Approve, requires = "writable")]
    pub registrations: RegistrationsArg,
    /// With --writable, statements one client address may submit per minute.
    #[arg(long, value_name = "N", default_value_t = 60, requires = "writable", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub submit_rate: u32,
    /// With --writable, submissions that may wait for a commit at once; more get 503.
    #[arg(long, value_name = "N", default_value_t = 4096, requires = "writable", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub queue: u32,
    /// With --registrations approve, registrations that may wait for approval (in all; one
    /// client address may have at most a hundredth of them, and at least one).
    #[arg(long, value_name = "N", default_value_t = 1000, requires = "writable", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_pending: u32,
    /// With --writable, publish the ledger as C2SP tiles to DEST (a directory, or
    /// s3://BUCKET[/PREFIX] with the connection of `accord publish --help`) when the server
    /// starts and after every commit, as `accord publish DEST` does; readers then fetch tiles
    /// from whatever serves DEST (a web server, the bucket, a CDN).
    #[arg(long, value_name = "DEST", requires = "writable")]
    pub publish: Option<PathBuf>,
    #[command(flatten)]
    pub bucket: BucketArgs,
    #[command(flatten)]
    pub witnessing: WitnessingArgs,
    #[command(flatten)]
    pub ledger_key: LedgerKeyFile,
}

/// `--registrations`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationsArg {
    /// Anyone may register.
    Open,
    /// No one over HTTP.
    Closed,
    /// The custodian approves each (accord pending, accord approve ID).
    Approve,
}

/// `accord serve --listen ADDR`.
pub(super) fn serve(dir: &Path, a: &ServeArgs) -> Res {
    let listen = a.listen.as_str();
    let limits = accord::serve::Limits {
        write_stall: std::time::Duration::from_secs(a.write_timeout),
        cache_bytes: usize::try_from(a.cache_mb << 20).unwrap_or(usize::MAX),
        ..a.connections.limits()
    };
    // What the notes say, read before the server opens the ledger (for writing, it may be the
    // only handle on it in this process).
    let l = open_ro(dir)?;
    let origin = l.origin().map_err(|e| fail::ledger(e, 2))?;
    let vkey = l.recorded_vkey().map_err(|e| fail::ledger(e, 2))?;
    let key = if a.writable {
        Some(load_ledger_key(&l, &a.ledger_key)?)
    } else {
        None
    };
    let policy = match &a.witnessing.witness_policy {
        Some(_) if !a.writable => {
            return Err(Fail::usage(anyhow!(
                "--witness-policy needs --writable: the server collects cosignatures for the checkpoints it commits (for a ledger appended to by other processes, run accord publish --witness-policy)"
            )))
        }
        Some(p) => Some(read_witness_policy(p, &super::context::vkey(&vkey)?)?),
        None => None,
    };
    drop(l);
    // The destination is checked (and a bucket's connection read) before the server starts.
    let publisher = match (&a.publish, a.writable) {
        (Some(dest), true) => Some(
            accord::destination::target_for(dest, &a.bucket.options())
                .map_err(|e| Fail::usage(e).context("serve --publish"))?,
        ),
        _ => None,
    };
    let writes = key.map(|key| accord::serve::Writes {
        key,
        registrations: match a.registrations {
            RegistrationsArg::Open => accord::serve::Registrations::Open,
            RegistrationsArg::Closed => accord::serve::Registrations::Closed,
            RegistrationsArg::Approve => accord::serve::Registrations::Approve,
        },
        pending: accord::pending::PendingLimits {
            total: a.max_pending as usize,
            per_client: (a.max_pending as usize / 100).max(1),
        },
        per_client_per_minute: a.submit_rate,
        queue: a.queue as usize,
        after_commit: None,
        witnessing: policy.map(|policy| accord::serve::Witnessing {
            policy,
            timeout: std::time::Duration::from_secs(a.witnessing.witness_timeout),
            report: Box::new(|r| match r {
                Ok(c) if c.evidence().next().is_some() => {
                    for e in c.evidence() {
                        super::terminal::say!(
                            "EVIDENCE from witness {}: kept in {}",
                            super::display::shown(&witness_line(e)),
                            e.evidence.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
                        );
                    }
                }
                Ok(c) if c.quorum_met => {
                    note!("checkpoint of size {} cosigned by the witnesses' quorum: now served at /checkpoint", c.size);
                    for b in c.behind() {
                        note!("  witness behind: {}", super::display::shown(&witness_line(b)));
                    }
                }
                Ok(c) => {
                    super::terminal::say!(
                        "warning: checkpoint of size {} not yet cosigned by the witnesses' quorum; /checkpoint stays at the last one that was (the next commit tries again)",
                        c.size
                    );
                    for b in c.behind() {
                        super::terminal::say!("  witness behind: {}", super::display::shown(&witness_line(b)));
                    }
                }
                Err(e) => super::terminal::say!("warning: collecting cosignatures failed: {e}"),
            }),
        }),
        publish: publisher.map(|target| accord::serve::Publisher {
            target,
            report: Box::new(|r| match r {
                Ok(r) if r.files > 0 => note!(
                    "published up to size {} ({} files, {} bytes)",
                    r.to,
                    r.files,
                    r.bytes
                ),
                Ok(_) => {}
                Err(e) => {
                    super::terminal::say!("warning: publishing failed: {e} (the next commit tries again)")
                }
            }),
        }),
    });
    let server = accord::serve::start(dir, listen, limits, writes, true).map_err(|e| match e {
        accord::serve::ServeError::Ledger(e) => fail::ledger(e, 2),
        other => Fail::usage(other),
    })?;
    note!(
        "serving ledger {origin} at http://{}/ (checkpoint, tile/..., accord/log.json, api/v1/...); stop with Ctrl-C or SIGTERM",
        server.addr
    );
    if a.writable {
        note!(
            "taking signed statements at http://{}/entries (registrations: {}); submit with: accord append FILE --server http://{}/",
            server.addr,
            match a.registrations {
                RegistrationsArg::Open => "open to anyone",
                RegistrationsArg::Closed => "closed",
                RegistrationsArg::Approve => "approved by you: accord pending, accord approve ID",
            },
            server.addr
        );
    }
    note!(
        "check it from anywhere with: accord verify http://{}/ --ledger-key {vkey}",
        server.addr
    );
    server.wait().map_err(Fail::usage)
}

/// A failure while reading a published log: the host's or its tiles' failure if the stream
/// recorded one, else the verdict on the entries (exit 1), or what kept the ledger from
/// judging them (exit 2: not a verdict, so not "verification FAILED").
pub(super) fn remote_fail(stream: &TileStream<'_>, e: accord::ledger::LedgerError, what: &str) -> Fail {
    match stream.failure() {
        Some(r @ RemoteError::Invalid { .. }) => {
            Fail::invalid(r).context(format!("{what}: verification FAILED"))
        }
        Some(r) => Fail::usage(r).context(format!("{what}: could not be read")),
        None => {
            let f = fail::ledger(e, 1);
            if f.code == 1 {
                f.context(format!("{what}: verification FAILED"))
            } else {
                f.context(format!("{what}: not verified"))
            }
        }
    }
}

pub(super) fn remote_error(e: RemoteError, what: &str) -> Fail {
    if e.is_invalid() {
        Fail::invalid(e).context(format!("{what}: verification FAILED"))
    } else {
        Fail::usage(e).context(format!("{what}: could not be read"))
    }
}

/// `accord verify URL|DIR`: a published log, verified from its tiles against the ledger key
/// the user gives, remembering its checkpoint as for a ledger (an older one is a rollback).
pub(super) fn verify_remote(
    location: &str,
    key: Option<&str>,
    state: Option<&Path>,
    full: bool,
    witness: &super::witnessed::WitnessArgs,
    json: bool,
) -> Res {
    let key = key.ok_or_else(|| {
        Fail::usage(anyhow!(
            "verifying a published log needs --ledger-key VKEY: the key comes from you, never from the host being checked"
        ))
    })?;
    let vkey = vkey(key)?;
    let required = witness.requirement(&vkey)?;
    // Shown without any user name and password the URL carries.
    let shown = remote::redact(location);
    let source = remote::source_for(location, http_timeout()).map_err(|e| remote_error(e, &shown))?;
    let cp = remote::fetch_checkpoint(source.as_ref(), &vkey).map_err(|e| remote_error(e, &shown))?;
    // The cosignatures are on the checkpoint served: one that claims a policy witness and does
    // not verify is refused before anything else is fetched.
    let witnessing = required
        .map(|r| r.single(&cp.note, cp.checkpoint.size, super::witnessed::now()))
        .transpose()
        .map_err(|e| super::witnessed::refused(e, &shown))?;
    let sd = state_dir(state);
    let remembered = sd.remembered(&vkey).map_err(state_fail)?;
    let size = cp.checkpoint.size;
    // Resumed only from the state at the remembered checkpoint itself: its root is then what
    // the log's tree must have at that size.
    let resume = resume_state(&sd, &vkey, size, full)?
        .filter(|s| Some(s.size()) == remembered.as_ref().map(|r| r.checkpoint.size));
    let mut from = resume.as_ref().map(|s| s.size());
    let bar = Progress::start("verifying", !json);
    let mut verified = None;
    if let Some(snapshot) = resume {
        // Only the entries after it are fetched (from the bundle that holds the first of them)
        // and judged; the new signed root, rebuilt from the remembered tree's right edge and
        // the new leaves, is what proves the log extends the remembered tree.
        let m = snapshot.size();
        let first = m - m % accord::tiles::TILE_WIDTH;
        let roots = snapshot.tile_roots().to_vec();
        let mut stream =
            TileStream::from_bundle(source.as_ref(), &cp, first / accord::tiles::TILE_WIDTH, &roots);
        let r = accord::export::verify_export_from(
            &mut stream,
            &vkey,
            Catalogue::embedded(),
            None,
            Some(accord::export::Resume { snapshot, first }),
            Some(&|d, t| bar.update(d, t)),
        );
        match (r, stream.failure()) {
            (Ok((report, totals, _)), _) => {
                let root = remembered.as_ref().map(|r| r.checkpoint.root);
                verified = Some((report, totals, root));
            }
            // The host failed (not its data): said as such, as without a remembered state.
            (Err(e), Some(f)) if !f.is_invalid() => return Err(remote_fail(&stream, e.into(), &shown)),
            (Err(e), _) => {
                note!("note: resuming from the remembered replay state of size {m} failed ({e}); verifying the whole log");
            }
        }
    }
    let mut stream = TileStream::new(source.as_ref(), &cp);
    let (report, totals, root_at) = match verified {
        Some(v) => v,
        None => {
            from = None;
            accord::export::verify_export(
                &mut stream,
                &vkey,
                Catalogue::embedded(),
                remembered.as_ref().map(|r| r.checkpoint.size),
                Some(&|d, t| bar.update(d, t)),
            )
            .map_err(|e| remote_fail(&stream, e.into(), &shown))?
        }
    };
    drop(bar);
    let seen = sd
        .check_and_remember(&vkey, &report.checkpoint, accord::state::Source::Live, |s| {
            if Some(s) == remembered.as_ref().map(|r| r.checkpoint.size) {
                root_at
            } else {
                None
            }
        })
        .map_err(state_fail)?;
    sd.save_replay_state(&vkey, &totals.into_snapshot())
        .map_err(state_fail)?;
    let c = &report.checkpoint.checkpoint;
    let now = accord::clock::now();
    if json {
        return out_json(&serde_json::json!({
            "ok": true, "source": shown, "origin": c.origin.to_string(), "entries": report.entries,
            "root": hex::encode(c.root), "organisations": report.organisations,
            "registrations": report.by_kind[0], "attestations": report.by_kind[1], "withdrawals": report.by_kind[2],
            "rotations": report.by_kind[3], "revocations": report.by_kind[4], "recoveries": report.by_kind[5],
            "live_attestations": report.live_at(now), "remembered": seen_text(&seen),
            "remembered_size": remembered_size(&seen, c.size),
            // Older than the remembered checkpoint, a live log is a rollback (exit 1, no JSON).
            "older_than_remembered": false,
            "ledger_key": vkey.to_string(), "ledger_key_source": "argument",
            "untrusted": report.untrusted, "incremental_from": from,
            "witnesses": witnessing.as_ref().map(super::witnessed::json),
        }))
        .and_then(|()| super::witnessed::exit(witnessing.as_ref(), &shown));
    }
    let checked = match from {
        None => "every entry bundle and hash tile".to_string(),
        Some(m) => format!(
            "the entry bundles and level-0 hash tiles from entry {}, every hash tile above level 0",
            m - m % accord::tiles::TILE_WIDTH
        ),
    };
    out(&format!(
        "{}: the ledger {} published at {} verified: {} entries, {checked}; {} organisations, {} pledges in force\nroot {} matches the signed checkpoint of size {}\n{}\n{}",
        super::witnessed::verdict(witnessing.as_ref()),
        c.origin,
        super::display::shown(&shown),
        report.entries,
        report.organisations,
        report.live_at(now),
        hex::encode(c.root),
        c.size,
        seen_text(&seen),
        super::context::incremental_text(
            from,
            "those entries were not fetched again: the new root, rebuilt from the remembered tree and the entries after it, is what ties them to this checkpoint"
        )
    ));
    super::verification::print_untrusted(&report.untrusted);
    super::witnessed::print(witnessing.as_ref());
    super::witnessed::exit(witnessing.as_ref(), &shown)
}

/// Why a mirror stopped before it committed: the import's failure, or the remembered
/// checkpoint's verdict on what was verified (a rollback, a fork).
enum MirrorStop {
    Ledger(accord::ledger::LedgerError),
    State(accord::state::StateError),
}

impl From<accord::ledger::LedgerError> for MirrorStop {
    fn from(e: accord::ledger::LedgerError) -> Self {
        MirrorStop::Ledger(e)
    }
}

/// `accord mirror URL|DIR --ledger DIR`: a read-only mirror built or extended from a published
/// log, verified before anything is committed (as `import` does for an export file), and its
/// checkpoint compared with the one remembered for the ledger key, as `verify URL|DIR` does
/// (FORMAT.md section 13.3): a rollback or a fork stops it before the mirror changes.
pub(super) fn mirror(
    dir: &Path,
    location: &str,
    key: &str,
    state: Option<&Path>,
    witness: &super::witnessed::WitnessArgs,
) -> Res {
    let vkey = vkey(key)?;
    let required = witness.requirement(&vkey)?;
    let shown = remote::redact(location);
    let source = remote::source_for(location, http_timeout()).map_err(|e| remote_error(e, &shown))?;
    let cp = remote::fetch_checkpoint(source.as_ref(), &vkey).map_err(|e| remote_error(e, &shown))?;
    // Judged before anything is fetched: a forged cosignature of a policy witness stops here;
    // a checkpoint that is merely not witnessed is still mirrored (verified), and exits 3.
    let witnessing = required
        .map(|r| r.single(&cp.note, cp.checkpoint.size, super::witnessed::now()))
        .transpose()
        .map_err(|e| super::witnessed::refused(e, &shown).context("the mirror is unchanged"))?;
    let sd = state_dir(state);
    // Read before anything is fetched: a state directory that cannot be trusted stops here.
    sd.remembered(&vkey).map_err(state_fail)?;
    let mut stream = TileStream::new(source.as_ref(), &cp);
    let bar = Progress::start("mirroring", true);
    let mut seen = None;
    let r = Ledger::import_checked(
        dir,
        &mut stream,
        accord::ledger::ImportSource::PublishedLog,
        &vkey,
        Catalogue::embedded(),
        Some(&|d, t| bar.update(d, t)),
        |verified, root_at| {
            let s = sd
                .check_and_remember(&vkey, verified, accord::state::Source::Live, root_at)
                .map_err(MirrorStop::State)?;
            seen = Some(s);
            Ok(())
        },
    );
    drop(bar);
    let r = r.map_err(|e| {
        match e {
            MirrorStop::State(e) => state_fail(e),
            MirrorStop::Ledger(e @ accord::ledger::LedgerError::BadArgument(_)) => {
                Fail::usage(e).context(format!("cannot mirror {shown} into {}", dir.display()))
            }
            MirrorStop::Ledger(e) => remote_fail(&stream, e, &shown),
        }
        .context("the mirror is unchanged")
    })?;
    out(&format!(
        "mirrored {} into the read-only mirror at {}: now {} entries (was {})\n{}\n",
        super::display::shown(&shown),
        dir.display(),
        r.report.entries,
        r.from,
        seen.as_ref().map(seen_text).unwrap_or_default()
    ));
    super::witnessed::keep_in_mirror(dir, witnessing.as_ref(), &cp.note);
    super::witnessed::print(witnessing.as_ref());
    super::witnessed::exit(witnessing.as_ref(), &shown)
}
