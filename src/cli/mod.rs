//! Command-line definitions and dispatch.

mod context;
mod custodian;
mod demo;
mod display;
mod fail;
mod keys;
mod lifecycle;
mod manual;
mod proofs;
mod reading;
mod statements;
mod terminal;
mod verification;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory as _, Parser, Subcommand};

pub use fail::Fail;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the data examined is invalid: malformed or tampered entries, statements or checkpoints,
     a rollback or fork (the message names the first bad entry and what is wrong)
  2  usage errors and invalid arguments, missing or unreadable files, I/O errors,
     a ledger in use by another process";

/// accord: signed pledges of cybersecurity norms on an append-only, verifiable ledger.
#[derive(Parser, Debug)]
#[command(name = "accord", version, about, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// The ledger directory.
    #[arg(
        long,
        global = true,
        env = "ACCORD_LEDGER",
        default_value = "accord-ledger",
        value_name = "DIR"
    )]
    pub ledger: PathBuf,
    /// No notes and no progress bar on standard error (errors are still reported).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
// `sign` has many options; the enum is parsed once per run, so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a ledger and its own signing key; prints the ledger's public key (C2SP vkey).
    #[command(
        after_help = "The ledger key signs every checkpoint. It is written outside the ledger's data \
(default $XDG_CONFIG_HOME/accord/ledgers/) with mode 0600, so that a copy of the data cannot sign. \
Publish the printed vkey: verifiers check the ledger against it."
    )]
    Init {
        /// The ledger's origin: a name such as example.org/accord (printable ASCII, no spaces or '+').
        #[arg(long)]
        origin: String,
        /// Where to write the ledger's secret key (never overwritten).
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
    },
    /// Manage signatory keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Register an organisation: binds its name to a key (self-asserted).
    #[command(
        after_help = "Names are compared after Unicode NFC normalisation and lower-casing, and (rules version 2) by a \
comparison key that catches invisible characters and look-alike letters (FORMAT.md 4.1); a name \
can be registered once. The registration is self-asserted: nothing proves the domain. The ledger is \
public and permanent: give a role address (security@...), never a person's."
    )]
    Register {
        /// The organisation's secret key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The organisation's name.
        #[arg(long, value_name = "NAME")]
        org: String,
        /// A domain the organisation claims, such as example.com.
        #[arg(long, value_name = "D")]
        domain: Option<String>,
        /// A role address such as security@example.com.
        #[arg(long, value_name = "ROLE-ADDRESS")]
        contact: Option<String>,
        /// A recovery public key to commit to (its secret key kept offline): it can later
        /// recover the organisation after a lost or stolen key, once.
        #[arg(long, value_name = "FILE.pub")]
        recovery_key: Option<PathBuf>,
    },
    /// Show the norms catalogue compiled into accord.
    Norms {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Sign an attestation of norms for a scope and append it.
    #[command(
        after_help = "Example:\n  accord attest --key acme.key --norm no-backdoors --norm patch-all-customers \\\n      --scope 'Acme Cloud' --expires 2027-12-31"
    )]
    Attest {
        /// The organisation's secret key file (registered in this ledger).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[command(flatten)]
        body: statements::AttestArgs,
    },
    /// Sign a statement offline, to a file, for `accord append` at the custodian.
    #[command(
        after_help = "By default signs an attestation (--norm, --scope). With --register it signs a \
registration; with --withdraw ID a withdrawal. The origin defaults to the ledger's when one is at hand."
    )]
    Sign(statements::SignArgs),
    /// Append signed statement files in one transaction: all or none.
    Append {
        /// Statement files made by `accord sign`.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw an earlier attestation of your organisation.
    Withdraw {
        /// A key registered to the organisation.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The attestation: entry index or statement id (hex).
        #[arg(long, value_name = "INDEX|ID")]
        entry: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Replay and verify the whole ledger against the ledger's public key.
    #[command(
        after_help = "Checks strict decoding, index sequence, chain links, log times, every \
signature (verify_strict, in parallel), origins, duplicates, norms, withdrawals, the Merkle tree \
against every signed checkpoint, and every derived table. Remembers the newest checkpoint verified \
per origin in the state directory and reports a smaller ledger (rollback) or another root (fork)."
    )]
    Verify {
        /// The ledger's public key (C2SP vkey). Without it, the key recorded at init is used.
        #[arg(long, value_name = "VKEY")]
        ledger_key: Option<String>,
        /// Verify an export file (from `accord export`) instead of a ledger database.
        #[arg(long, value_name = "FILE", requires = "ledger_key")]
        file: Option<PathBuf>,
        /// State directory for remembered checkpoints.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write an audit proof bundle for one entry, verifiable offline with `accord verify-proof`.
    #[command(
        after_help = "The bundle holds the entry, its inclusion proof, the signed checkpoint, the \
signatory's public key and its registration with its own inclusion proof. --since SIZE adds a \
consistency proof from the checkpoint of that size (for verifiers who remember it).\n\n\
Example:\n  accord prove 3 --out entry3.proof\n  accord verify-proof entry3.proof --ledger-key VKEY"
    )]
    Prove {
        /// Entry index or statement id (hex).
        #[arg(value_name = "INDEX|ID")]
        entry: String,
        /// Where to write the bundle (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Prove against the signed checkpoint of this size (default: the latest).
        #[arg(long, value_name = "N")]
        at_size: Option<u64>,
        /// Add a consistency proof from the checkpoint of this size.
        #[arg(long, value_name = "SIZE")]
        since: Option<u64>,
        /// Bundle format.
        #[arg(long, value_enum, default_value = "cbor")]
        format: proofs::ProofFormat,
        /// Same as --format json.
        #[arg(long, conflicts_with = "format")]
        json: bool,
    },
    /// Check a proof bundle or consistency proof offline, with no ledger.
    #[command(
        after_help = "Checks the checkpoint signature, the inclusion proofs, the statement's \
signature and the registration binding the key to the organisation; or, for a consistency proof, \
both checkpoints and the path between them; or, for a C2SP tlog-proof, the checkpoint and the \
inclusion of the entry (not its signature or key binding: a tlog-proof does not carry them). \
Remembers the newest checkpoint verified per origin (state directory) and reports forks. \
A bundle cannot prove that nothing later withdrew the entry, and relies on the custodian to have \
enforced the ledger's rules (one registration per name, one organisation per key): checking those \
needs the full ledger or an export (accord verify)."
    )]
    VerifyProof {
        /// The proof file: an accord bundle or consistency proof (CBOR or JSON), or a C2SP
        /// tlog-proof.
        file: PathBuf,
        /// The ledger's public key (C2SP vkey).
        #[arg(long, value_name = "VKEY")]
        ledger_key: String,
        /// For a C2SP tlog-proof that does not carry the entry (no `extra` line): the entry
        /// bytes (the Merkle leaf).
        #[arg(long, value_name = "FILE")]
        entry: Option<PathBuf>,
        /// State directory for remembered checkpoints.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistency proof between two signed checkpoints of this ledger.
    Consistency {
        /// The earlier tree size.
        #[arg(long, value_name = "SIZE")]
        from: u64,
        /// The later tree size (default: the latest).
        #[arg(long, value_name = "SIZE")]
        to: Option<u64>,
        /// Where to write it (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Write JSON instead of CBOR.
        #[arg(long)]
        json: bool,
    },
    /// Write the whole ledger (every entry and the latest checkpoint) to one file.
    Export {
        /// Where to write it (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Build or extend a read-only mirror ledger from a verified export.
    Import {
        /// The export file.
        file: PathBuf,
        /// The ledger's public key (C2SP vkey).
        #[arg(long, value_name = "VKEY")]
        ledger_key: String,
    },
    /// Print the latest signed checkpoint (a C2SP signed note).
    Checkpoint,
    /// Upgrade a ledger written by an older accord: rebuilds its derived tables from its
    /// entries (entries, hashes and checkpoints are not changed), in one transaction.
    #[command(
        after_help = "Store format 2 keeps three more derived tables (attestations ended, entries made untrusted \
by a recovery, name comparison keys). A ledger of store format 1 (written by accord before them) is refused \
by every other command until it is upgraded. Run `accord verify` afterwards: it checks the rebuilt tables \
against a full replay."
    )]
    Upgrade,
    /// Print the ledger's public key (C2SP vkey).
    LedgerKey,
    /// List the registered organisations: name as registered, domain (self-asserted), current
    /// key, recovery key, registration, entries, pledges in force.
    Orgs {
        /// Machine-readable output (schemas/orgs.schema.json).
        #[arg(long)]
        json: bool,
    },
    /// List entries.
    List {
        /// Only this organisation's entries.
        #[arg(long, value_name = "NAME")]
        org: Option<String>,
        /// Only attestations of this norm.
        #[arg(long, value_name = "ID")]
        norm: Option<String>,
        /// Machine-readable output (a JSON array).
        #[arg(long)]
        json: bool,
    },
    /// Show one entry.
    Show {
        /// Entry index or statement id (hex).
        #[arg(value_name = "INDEX|ID")]
        entry: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Who attests what now, or at a moment: live attestations only (withdrawn, superseded,
    /// expired and untrusted ones left out; --all shows them with their state).
    Status {
        /// Only this norm.
        #[arg(long, value_name = "ID")]
        norm: Option<String>,
        /// Only this organisation.
        #[arg(long, value_name = "NAME")]
        org: Option<String>,
        /// The moment to report (YYYY-MM-DD or RFC 3339; default now).
        #[arg(long, value_name = "DATE")]
        at: Option<String>,
        /// Every attestation, with its state.
        #[arg(long)]
        all: bool,
        /// Machine-readable output (a JSON array).
        #[arg(long)]
        json: bool,
    },
    /// One organisation's whole story in order: registration, keys, attestations, withdrawals,
    /// revocations, recoveries. Run it to watch for anything said in your name.
    History {
        /// The organisation.
        #[arg(long, value_name = "NAME")]
        org: String,
        /// Machine-readable output (a JSON array).
        #[arg(long)]
        json: bool,
    },
    /// Run the whole story on a fresh ledger, printing each step as the command to type.
    Demo {
        /// Where to put the demo's ledger, keys and state (default: a new temporary directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script: `accord completions bash > /etc/bash_completion.d/accord`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: manual::Shell,
    },
    /// Print the manual page (roff): `accord man > accord.1; man ./accord.1`.
    Man,
}

/// Key commands.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Hand the organisation from one key to the next: NEW signs an acceptance, OLD signs the
    /// rotation that carries it.
    Rotate {
        /// The current key (secret).
        #[arg(long, value_name = "OLD")]
        key: PathBuf,
        /// The next key (secret; make it with `accord key generate`).
        #[arg(long, value_name = "NEW")]
        new: PathBuf,
    },
    /// End a key from now on: the key itself, or (--target) an older key of the organisation.
    Revoke {
        /// A current key of the organisation (secret).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Hex key id of the key to revoke (default: the signing key itself).
        #[arg(long, value_name = "KID")]
        target: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// After a lost or stolen key: the recovery key ends every current key, installs NEW and
    /// commits to the next recovery key. A recovery key works once.
    #[command(
        after_help = "--compromised-since DATE marks statements by the ended keys logged after DATE as \
untrusted (they stay in the ledger as history) and voids rotations they signed after it."
    )]
    Recover {
        /// The recovery secret key.
        #[arg(long, value_name = "FILE")]
        recovery_key: PathBuf,
        /// The new key (public or secret key file).
        #[arg(long, value_name = "NEW")]
        new: PathBuf,
        /// The next recovery public key.
        #[arg(long, value_name = "FILE.pub")]
        next_recovery_key: PathBuf,
        /// Since when the ended keys are to be distrusted.
        #[arg(long, value_name = "DATE")]
        compromised_since: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Write DIR/NAME.key (secret, mode 0600, never printed) and DIR/NAME.pub.
    Generate {
        /// Key name: letters, digits, '.', '_', '-'.
        name: String,
        /// Directory (default $XDG_CONFIG_HOME/accord/keys).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Encrypt the secret key with a passphrase (age format), read from a prompt or from
        /// ACCORD_PASSPHRASE for scripts.
        #[arg(long)]
        encrypt: bool,
    },
}

/// Runs a parsed command.
fn run(cli: &Cli) -> Result<(), Fail> {
    let dir = &cli.ledger;
    match &cli.command {
        Command::Init { origin, key_file } => custodian::init(dir, origin, key_file.as_deref()),
        Command::Key(KeyCommand::Generate {
            name,
            dir: kdir,
            encrypt,
        }) => keys::key_generate(name, kdir.as_deref(), *encrypt),
        Command::Register {
            key,
            org,
            domain,
            contact,
            recovery_key,
        } => keys::register(
            dir,
            key,
            org,
            domain.clone(),
            contact.clone(),
            recovery_key.as_deref(),
        ),
        Command::Key(KeyCommand::Rotate { key, new }) => lifecycle::rotate(dir, key, new),
        Command::Key(KeyCommand::Revoke { key, target, reason }) => {
            lifecycle::revoke(dir, key, target.as_deref(), reason)
        }
        Command::Key(KeyCommand::Recover {
            recovery_key,
            new,
            next_recovery_key,
            compromised_since,
            reason,
        }) => lifecycle::recover(
            dir,
            recovery_key,
            new,
            next_recovery_key,
            compromised_since.as_deref(),
            reason,
        ),
        Command::History { org, json } => reading::history(dir, org, *json),
        Command::Norms { json } => reading::norms(*json),
        Command::Attest { key, body } => statements::attest(dir, key, body),
        Command::Sign(args) => statements::sign(dir, args),
        Command::Append { files, json } => statements::append(dir, files, *json),
        Command::Withdraw { key, entry, reason } => statements::withdraw(dir, key, entry, reason),
        Command::Verify {
            ledger_key,
            file: Some(f),
            state,
            json,
        } => verification::verify_file(
            f,
            ledger_key.as_deref().unwrap_or_default(),
            state.as_deref(),
            *json,
        ),
        Command::Verify {
            ledger_key,
            file: None,
            state,
            json,
        } => verification::verify(dir, ledger_key.as_deref(), state.as_deref(), *json),
        Command::Prove {
            entry,
            out,
            at_size,
            since,
            format,
            json,
        } => {
            let index = context::resolve_entry(&context::open_ro(dir)?, entry)?;
            let format = if *json { proofs::ProofFormat::Json } else { *format };
            proofs::prove(dir, index, out, *at_size, *since, format)
        }
        Command::VerifyProof {
            file,
            ledger_key,
            entry,
            state,
            json,
        } => verification::verify_proof(file, ledger_key, entry.as_deref(), state.as_deref(), *json),
        Command::Consistency { from, to, out, json } => proofs::consistency(dir, *from, *to, out, *json),
        Command::Export { out } => proofs::export(dir, out),
        Command::Import { file, ledger_key } => proofs::import(dir, file, ledger_key),
        Command::Upgrade => custodian::upgrade(dir),
        Command::Checkpoint => reading::checkpoint(dir),
        Command::LedgerKey => reading::ledger_key(dir),
        Command::Orgs { json } => reading::orgs(dir, *json),
        Command::List { org, norm, json } => reading::list(dir, org.as_deref(), norm.as_deref(), *json),
        Command::Show { entry, json } => reading::show(dir, entry, *json),
        Command::Status {
            norm,
            org,
            at,
            all,
            json,
        } => reading::status(dir, norm.as_deref(), org.as_deref(), at.as_deref(), *all, *json),
        Command::Demo { dir: ddir } => demo::run(ddir.as_deref()),
        Command::Completions { shell } => manual::completions(Cli::command(), *shell),
        Command::Man => manual::man(Cli::command()),
    }
}

/// Parses `args` and runs the command; returns the exit code.
pub fn run_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    terminal::set_quiet(cli.quiet);
    match run(&cli) {
        Ok(()) => 0,
        Err(f) => f.report(),
    }
}

/// The binary's entry point. A panic is a bug: it is reported in one line, never as a trace.
pub fn main() -> std::process::ExitCode {
    // Panics are caught and reported below (storage-engine panics become "store damaged");
    // set ACCORD_DEBUG to see the default report with its trace.
    if std::env::var_os("ACCORD_DEBUG").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    let code = match std::panic::catch_unwind(|| run_args(std::env::args_os())) {
        Ok(c) => c,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("error: internal error (this is a bug in accord; please report it): {msg}");
            2
        }
    };
    std::process::ExitCode::from(code)
}
