//! `accord witness`: accord as a C2SP tlog-witness (docs/FORMAT.md section 15): make its key,
//! serve `POST /add-checkpoint`, and show what it has cosigned.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::{Args, Subcommand};

use accord::checkpoint::VerifierKey;
use accord::cosignature::CosignerKey;
use accord::store::witness::WitnessDb;
use accord::witness::{Logs, Witness};

use super::display::shown;
use super::fail::Fail;
use super::terminal::note;

type Res<T = ()> = Result<T, Fail>;

/// `accord witness` commands.
#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Make a witness key.
    #[command(subcommand)]
    Key(WitnessKeyCommand),
    /// Serve C2SP tlog-witness `POST /add-checkpoint`: cosign each checkpoint of a followed log
    /// that is consistent with the last one cosigned.
    #[command(after_help = WITNESS_SERVE_HELP)]
    Serve(WitnessServeArgs),
    /// Show the latest checkpoint cosigned for each log.
    Status {
        /// The witness's state directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `accord witness key` commands.
#[derive(Subcommand, Debug)]
pub enum WitnessKeyCommand {
    /// Write a new witness key (mode 0600, never overwritten) and print its cosignature vkey
    /// (type 0x04: the key part starts with `B`), the one logs and verifiers configure.
    Generate {
        /// The witness's name, such as witness.example/w1 (printable ASCII, no spaces or '+').
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

const WITNESS_SERVE_HELP: &str = "\
Answers POST /add-checkpoint at the root of --listen, as C2SP tlog-witness (main text of 2026-07-06) \
says: 404 for an origin not given with --log, 403 for a checkpoint without a verifying signature of \
that log's key (or with a line of it that fails), 400 for a malformed request or an old size above the \
checkpoint's, 409 (body: the size last cosigned, Content-Type text/x.tlog.size) when the old size is not \
the one last cosigned, 422 for a consistency proof that fails, a proof from old size 0, or the size last \
cosigned with another root; 200 with the cosignature line. The check and the update of the state are \
one transaction, synced to disk before the answer: a witness killed at any moment never cosigns two \
inconsistent checkpoints of one log. Bodies are limited to 19 KiB and 63 proof lines; a request must \
arrive within --request-timeout.\n\nExample:\n  accord witness key generate --name witness.example/w1 --out w1.key\n  \
accord witness serve --listen 127.0.0.1:7380 --key w1.key --log VKEY --state w1-state --init   # first start\n  \
accord witness serve --listen 127.0.0.1:7380 --key w1.key --log VKEY --state w1-state          # every later start";

/// `accord witness serve`'s options.
#[derive(Args, Debug)]
pub struct WitnessServeArgs {
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7380")]
    pub listen: String,
    /// The witness's secret key (from `accord witness key generate`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A log to witness: its vkey, whose name is the log's origin (repeat for more logs, or
    /// for several keys of one log).
    #[arg(long = "log", value_name = "VKEY", required = true)]
    pub logs: Vec<String>,
    /// The witness's state directory (trusted local data, mode 0700). It must exist unless
    /// --init is given: a witness that silently started afresh would cosign any history.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Create a new, empty state at --state (refused when one is there): only for the
    /// witness's first start. Never pass it on a restart.
    #[arg(long)]
    pub init: bool,
    #[command(flatten)]
    pub connections: super::context::ConnectionArgs,
    /// Seconds a client has to send a whole request (headers and body) and get its answer.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout: u64,
}

pub(super) fn run(cmd: &WitnessCommand) -> Res {
    match cmd {
        WitnessCommand::Key(WitnessKeyCommand::Generate { name, out }) => key_generate(name, out),
        WitnessCommand::Serve(a) => serve(a),
        WitnessCommand::Status { state, json } => status(state, *json),
    }
}

fn key_generate(name: &str, out: &Path) -> Res {
    let key = CosignerKey::generate(name).map_err(Fail::usage)?;
    accord::keyfile::write_new_file(out, key.to_skey().as_bytes(), 0o600)
        .map_err(Fail::usage)
        .map_err(|f| f.context("witness key generate --out"))?;
    note!("wrote the witness's secret key to {} (mode 0600)", out.display());
    println!("{}", key.verifier());
    Ok(())
}

fn read_key(path: &Path) -> Res<CosignerKey> {
    let f = std::fs::File::open(path)
        .with_context(|| format!("--key {}", path.display()))
        .map_err(Fail::usage)?;
    let mut text = zeroize::Zeroizing::new(String::new());
    f.take(4096)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Fail::usage)?;
    accord::keyfile::check_private_mode(path).map_err(Fail::usage)?;
    CosignerKey::from_skey(&text)
        .with_context(|| format!("--key {}", path.display()))
        .map_err(Fail::usage)
}

/// Whether the state directory holds its database: a regular file of this user's that only
/// this user can change, never a symbolic link (which could put the state elsewhere).
fn db_file_exists(dir: &Path) -> Res<bool> {
    let path = WitnessDb::file(dir);
    let m = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Fail::usage(e).context(format!("--state: {}", path.display()))),
    };
    if m.file_type().is_symlink() {
        return Err(Fail::usage(accord::localfs::symlink(&path)).context("--state"));
    }
    if !m.is_file() {
        return Err(Fail::usage(anyhow!("{} is not a regular file", path.display())).context("--state"));
    }
    accord::localfs::check_private(&path, &m, 0o600).map_err(|e| Fail::usage(e).context("--state"))?;
    Ok(true)
}

/// How `open_state` treats a missing state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// `witness serve --init`: make a new state; one already there is refused.
    Init,
    /// `witness serve`: the state must be there, to be written.
    Existing,
    /// `witness status`: the state must be there, to be read.
    Read,
}

/// Enters the state directory (refusing one others can change, or one inside a directory
/// anyone can write, where it could be renamed away) and opens the database. A missing state
/// is made only by `--init`: a witness that quietly started afresh after its state went
/// missing (a typo, an unmounted volume, a directory renamed by someone else) would cosign a
/// second history of every log it follows.
fn open_state(dir: &Path, how: Open) -> Res<WitnessDb> {
    let dir_text = dir.display().to_string();
    let shown_dir = shown(&dir_text);
    accord::localfs::check_ancestors(dir).map_err(|e| Fail::usage(e).context("--state"))?;
    let create = how == Open::Init;
    let existed = std::fs::symlink_metadata(dir).is_ok();
    accord::localfs::enter_dir(dir, create.then_some(0o700), Some(0o700))
        .map_err(|e| Fail::usage(e).context("--state"))?;
    let has_db = db_file_exists(dir)?;
    match (how, has_db) {
        (Open::Init, true) => {
            return Err(Fail::usage(anyhow!("a witness state is already at {shown_dir}"))
                .hint("start the witness without --init: --init is only for its first start"))
        }
        (Open::Existing | Open::Read, false) => {
            return Err(Fail::usage(anyhow!("no witness state at {shown_dir}")).hint(
                "if this is the witness's first start, add --init; if it ran before, find its \
                 state: starting afresh would let it cosign a second history of every log",
            ))
        }
        _ => {}
    }
    if how == Open::Read {
        return WitnessDb::open_read_only(dir).map_err(|e| Fail::usage(e).context("--state"));
    }
    let db = WitnessDb::open(dir).map_err(|e| Fail::usage(e).context("--state"))?;
    if create {
        // The new file's name, and the new directory's, durable before the first answer.
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let sync = |d: &Path| -> Res {
            let f = accord::localfs::open_dir(d).map_err(|e| Fail::usage(e).context("--state"))?;
            f.sync_all()
                .map_err(|e| Fail::usage(e).context(format!("--state: syncing {}", d.display())))
        };
        sync(dir)?;
        if !existed {
            sync(parent)?;
        }
    }
    Ok(db)
}

fn serve(a: &WitnessServeArgs) -> Res {
    let key = read_key(&a.key)?;
    let mut logs = Logs::default();
    for v in &a.logs {
        let k = VerifierKey::parse(v).map_err(|e| Fail::usage(e).context(format!("--log {}", shown(v))))?;
        logs.add(k);
    }
    let state = open_state(&a.state, if a.init { Open::Init } else { Open::Existing })?;
    let limits = accord::serve::Limits {
        request_time: std::time::Duration::from_secs(a.request_timeout),
        ..a.connections.limits()
    };
    let vkey = key.verifier();
    let origins: Vec<String> = logs.origins().map(str::to_string).collect();
    let witness = Witness { key, logs };
    let server =
        accord::serve::start_witness(&a.listen, limits, witness, state, true).map_err(Fail::usage)?;
    note!(
        "witness {vkey} cosigning {} at http://{}/add-checkpoint; stop with Ctrl-C or SIGTERM",
        origins.join(", "),
        server.addr
    );
    server.wait().map_err(Fail::usage)
}

fn status(dir: &Path, json: bool) -> Res {
    let db = open_state(dir, Open::Read)?;
    let rows = db.list().map_err(Fail::usage)?;
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(origin, c)| {
                serde_json::json!({
                    "origin": origin,
                    "size": c.size,
                    "root": STANDARD.encode(c.root),
                    "time": c.time,
                    "checkpoint": String::from_utf8_lossy(&c.note),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "logs": v })).unwrap_or_default()
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!("nothing cosigned yet");
    }
    for (origin, c) in rows {
        println!(
            "{}  size {}  root {}  cosigned at {}",
            shown(&origin),
            c.size,
            STANDARD.encode(c.root),
            accord::time::format(i64::try_from(c.time).unwrap_or(i64::MAX))
        );
    }
    Ok(())
}
