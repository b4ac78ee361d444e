//! Command-line definitions and dispatch.

mod context;
mod custodian;
mod demo;
mod destination;
mod display;
mod fail;
mod keys;
mod lifecycle;
mod manual;
mod proofs;
mod public;
mod reading;
mod statements;
mod terminal;
mod verification;
mod watch;
mod witness;
mod witnessed;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory as _, Parser, Subcommand};

pub use fail::Fail;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the data examined is invalid: malformed or tampered entries, statements or checkpoints,
     a rollback or fork (the message names the first bad entry and what is wrong); or a
     statement the ledger's rules refuse, whether built from arguments (attest, register,
     withdraw, key ...) or read from a file (append), here or by a server (--server)
  2  usage errors and invalid arguments (an unknown organisation or norm), missing or
     unreadable files, I/O errors, a ledger in use by another process, a server (--server)
     that cannot be reached, fails, or is busy or limiting (submitting again is safe)
  3  the data is valid but trust is not yet established: an export, bundle or consistency
     file older than the checkpoint remembered (a snapshot, not a rollback); later, entries
     not yet witnessed (accord watch)";

/// What `--out` does, for every command that writes a file.
/// `accord import --help`: what a witness policy changes.
const IMPORT_HELP: &str = "The export is verified whole before anything is committed (a failure leaves the mirror \
as it was). With --witness-policy FILE, the export's checkpoint must also be cosigned by the policy's quorum of \
witnesses (docs/FORMAT.md section 16): a cosignature of a policy witness that does not verify stops the import \
(exit 1, the mirror unchanged); a checkpoint that is valid but not witnessed (or not within --max-age) is still \
imported, since every entry verified, and the command says \"not witnessed\" and exits 3. Cosignatures found are \
kept in the mirror, for `verify --witness-policy` on it.";

const OUT_HELP: &str =
    "--out - writes to standard output (binary formats only to a file or a pipe). An existing \
file is never overwritten unless --force is given; then it is replaced atomically (the new file is \
written beside it, synced, and renamed over it), so a reader sees the old file or the new one.";

/// What --org and --norm accept, for the commands that filter by them.
const ORG_HELP: &str =
    "--org takes a name as registered (compared after NFC normalisation and lower-casing). \
An organisation that is not registered, or a norm not in the catalogue, is an error (exit 2) with the \
close names as a hint (accord orgs, accord norms list them all); a known one with nothing to show exits 0.";

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
        #[command(flatten)]
        to: destination::DestinationArgs,
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
        #[command(flatten)]
        to: destination::DestinationArgs,
    },
    /// Sign a statement offline, to a file, for `accord append` at the custodian.
    #[command(after_help = statements::SIGN_HELP)]
    Sign(statements::SignArgs),
    /// Append signed statement files in one transaction: all or none (with --server: one by
    /// one, in order, up to the first the server does not take).
    Append {
        /// Statement files made by `accord sign`.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        to: destination::DestinationArgs,
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
        #[command(flatten)]
        to: destination::DestinationArgs,
    },
    /// Replay and verify the whole ledger against the ledger's public key.
    #[command(
        after_help = "Checks strict decoding, index sequence, chain links, log times, every \
signature (verify_strict, in parallel), origins, duplicates, norms, withdrawals, the Merkle tree \
against every signed checkpoint, and every derived table. Remembers the newest checkpoint verified \
per ledger in the state directory and reports a smaller ledger (rollback, exit 1) or another root (fork). \
An export (--file) older than the remembered checkpoint is a snapshot taken earlier, not a rollback: \
it is reported \"valid, but older than the checkpoint of size N remembered; consistency not checked\" \
and the command exits 3. --file - reads the export from standard input.\n\n\
--witness-policy FILE [--max-age DURATION] requires witnesses (docs/FORMAT.md section 16): a URL or DIR's \
checkpoint, an export's, or for a ledger database the newest stored cosigned checkpoint that is the ledger's own, \
must carry cosignatures of the policy's quorum (within --max-age). Otherwise everything is still verified, the \
entries not yet witnessed are counted, and the command exits 3, never 0. A cosignature line of a policy witness \
that does not verify over the checkpoint refuses it (exit 2); so does a policy for another ledger key.\n\n\
Example:\n  accord verify https://pledges.example/ --ledger-key VKEY --witness-policy policy.txt --max-age 1d"
    )]
    Verify {
        /// A published log to verify instead of a ledger database: an http(s):// URL (a log
        /// served by `accord serve` or any web server) or a directory written by `accord
        /// publish`. Needs --ledger-key.
        #[arg(value_name = "URL|DIR", conflicts_with = "file")]
        location: Option<String>,
        /// The ledger's public key (C2SP vkey). Without it, the key recorded at init is used.
        #[arg(long, value_name = "VKEY")]
        ledger_key: Option<String>,
        /// Verify an export file (from `accord export`) instead of a ledger database.
        #[arg(long, value_name = "FILE", requires = "ledger_key")]
        file: Option<PathBuf>,
        /// State directory for remembered checkpoints and the replay state that makes the next
        /// verification incremental.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Verify everything again, ignoring the remembered replay state (which is then
        /// replaced): the checkpoint remembered is still compared, as always.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        witness: witnessed::WitnessArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Publish the ledger as C2SP tlog-tiles into a directory any web server can serve, or
    /// into a bucket (s3://) behind a CDN.
    #[command(
        after_help = "Writes checkpoint, tile/<L>/<N>[.p/<W>] hash tiles, tile/entries/<N>[.p/<W>] entry bundles, \
accord/log.json (origin, vkey, format) and accord/norms-v1.json (docs/FORMAT.md section 13). Incremental: only \
what is new is written, and every tile the new checkpoint needs is checked to be there with its exact size \
(one that was deleted or cut short is rewritten from the ledger). Crash-safe: tiles are written and synced \
before the checkpoint that needs them, and the checkpoint is replaced last, atomically; rerun after an \
interruption. A destination of another log (its checkpoint, or without one its accord/log.json or tiles), or of \
a tree this ledger does not extend, is refused (exit 1) and left as it is.\n\n\
A directory DEST must be yours and writable by no one else, as must DEST/.publishing (created 0700) and every \
directory in it; nothing in it may be a symbolic link (DEST itself may be). Otherwise publish refuses (exit 2) \
and says what to change.\n\n\
--repair also reads every tile, older partial tiles included, and the start files, compares them with the \
ledger, and rewrites those that differ.\n\n\
DEST is a directory, or s3://BUCKET[/PREFIX]: the same files as objects in a bucket of Amazon S3 or any store \
that speaks its protocol, each with the Content-Type and Cache-Control of the spec. Tiles are created only if \
absent (If-None-Match), and the checkpoint is replaced only if it is still the one read at the start (If-Match), \
so two publications racing cannot roll it back: the slower fails (exit 2) without replacing it; run it again. The bucket must \
exist; the credentials need to get and put objects, and to list the bucket (without that, S3 answers a missing \
checkpoint with 403). The connection comes from these variables only (no profile file, no instance role):\n  \
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY    the credentials (required; the secret is never printed)\n  \
AWS_SESSION_TOKEN                           with temporary credentials\n  \
AWS_REGION (else AWS_DEFAULT_REGION)        the bucket's region (default us-east-1)\n  \
AWS_ENDPOINT_URL_S3 (else AWS_ENDPOINT_URL) an S3-compatible store's endpoint (default Amazon S3); https://, \
or http:// on a loopback address (elsewhere only with AWS_ALLOW_HTTP=true)\n\n\
Examples:\n  accord publish /var/www/pledges\n  accord verify /var/www/pledges --ledger-key VKEY\n  \
AWS_REGION=eu-west-3 accord publish s3://pledges-example/log\n  \
accord verify https://pledges.example.net/log/ --ledger-key VKEY"
    )]
    Publish {
        /// A directory (created if needed), or s3://BUCKET[/PREFIX].
        #[arg(value_name = "DEST")]
        dest: PathBuf,
        /// Also compare the contents of every published file with the ledger and rewrite
        /// those that differ (reads the whole directory).
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        bucket: public::BucketArgs,
        #[command(flatten)]
        witnessing: public::WitnessingArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Serve the ledger over HTTP: C2SP tiles, its checkpoint, and a JSON read API.
    #[command(
        after_help = "Serves GET/HEAD /checkpoint, /tile/..., /tile/entries/... (gzip), /accord/log.json, \
/accord/norms-v1.json, and /api/v1/status, /api/v1/orgs, /api/v1/entries/N, /api/v1/proof/N (the JSON of \
status, orgs, show and prove). Reads only; other accord processes keep appending to the ledger while it runs. \
Tiles are immutable and long-cached, the checkpoint is not cached; CORS allows any origin to read. \
Plain HTTP: put a TLS-terminating reverse proxy (nginx, Caddy) in front for HTTPS (and there set \
--max-connections-per-client 0: every client then has the proxy's address; limit clients in the proxy). \
A client's connections beyond its share are closed at once; one that does not read its responses is dropped \
after --write-timeout; one that does not finish its headers, after --header-timeout. Stops gracefully on \
SIGTERM or Ctrl-C.\n\nExample:\n  accord serve --listen 127.0.0.1:8080\n  accord verify http://127.0.0.1:8080/ --ledger-key VKEY"
    )]
    Serve(public::ServeArgs),
    /// Be a witness of other logs (C2SP tlog-witness): cosign their checkpoints when each is
    /// consistent with the last one cosigned.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Build or extend a read-only mirror from a published log (URL or directory), verified
    /// before anything is committed.
    #[command(
        after_help = "The mirror is the ledger directory (--ledger), created if it does not exist. The \
published checkpoint is verified with --ledger-key (never with a key the host offers), then every entry \
bundle and hash tile the checkpoint needs, with every check `accord verify` makes; an existing mirror is \
extended only by a tree consistent with what it holds. The checkpoint is remembered per ledger key in the \
state directory, as `verify URL|DIR` does: a published log smaller than the one remembered (rollback) or \
of the same size with another root (fork) exits 1, with the evidence kept. Nothing is committed unless all \
of it verifies: invalid data exits 1 naming the tile or entry, a network failure (refused, timeout, 404, \
5xx, a redirect, a response cut short or too large) exits 2, and the mirror stays as it was. Run it again \
to catch up.\n\n\
With --witness-policy FILE, the published checkpoint must also be cosigned by the policy's quorum of witnesses \
(docs/FORMAT.md section 16). A checkpoint carrying a cosignature of a policy witness that does not verify is \
refused (exit 1, the mirror unchanged). One that is valid but not witnessed (or not within --max-age) is still \
mirrored, since every entry verified, and the command says \"not witnessed\" and exits 3: the mirror holds what \
the log published, not what its witnesses vouch for. Cosignatures found are kept in the mirror, so that \
`accord --ledger ./mirror verify --witness-policy FILE` judges them again.\n\n\
Example:\n  accord mirror https://pledges.example/ --ledger-key VKEY --ledger ./mirror\n  \
accord --ledger ./mirror status"
    )]
    Mirror {
        /// An http(s):// URL or a directory written by `accord publish`.
        #[arg(value_name = "URL|DIR")]
        location: String,
        /// The ledger's public key (C2SP vkey), from a source you trust.
        #[arg(long, value_name = "VKEY")]
        ledger_key: String,
        /// State directory for remembered checkpoints (as for `verify`).
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        #[command(flatten)]
        witness: witnessed::WitnessArgs,
    },
    /// Watch a published log (URL or directory) for what is said in an organisation's name, or
    /// in a name close to it: each new entry reported once, after the log verified.
    #[command(after_help = watch::WATCH_HELP)]
    Watch(watch::WatchArgs),
    /// Write an audit proof bundle for one entry, verifiable offline with `accord verify-proof`.
    #[command(
        after_help = "The bundle holds the entry, its inclusion proof, the signed checkpoint, the \
signatory's public key and its registration with its own inclusion proof. --since SIZE adds a \
consistency proof from the checkpoint of that size (for verifiers who remember it).\n\n\
When the ledger stores witnesses' cosignatures of its checkpoints, the checkpoint written carries them, for \
`verify-proof --witness-policy`; without --at-size it is the newest such checkpoint that holds the entry (else \
the latest), and prove says so when that is not the latest.\n\n\
A proof of an entry that was withdrawn, superseded, made untrusted or \
has expired proves that it was pledged, not that it is in force: prove warns on standard error.\n\n\
--out - writes the bundle to standard output (CBOR only to a file or a pipe). An existing file is \
replaced (atomically) only with --force.\n\n\
Example:\n  accord prove 3 --out entry3.proof\n  accord verify-proof entry3.proof --ledger-key VKEY"
    )]
    Prove {
        /// Entry index or statement id (hex).
        #[arg(value_name = "INDEX|ID")]
        entry: String,
        /// Where to write the bundle ('-': standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists (atomically).
        #[arg(long)]
        force: bool,
        /// Prove against the signed checkpoint of this size (default: the newest with stored
        /// witnesses' cosignatures that holds the entry, else the latest).
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
Remembers the newest checkpoint verified per ledger (state directory) and reports forks. \
A file older than the remembered checkpoint is a snapshot taken earlier, not a rollback: it is reported \
\"valid, but older than the checkpoint of size N remembered; consistency not checked\" and the command \
exits 3 (JSON: older_than_remembered). FILE - reads the proof from standard input. \
A bundle cannot prove that nothing later withdrew the entry, and relies on the custodian to have \
enforced the ledger's rules (one registration per name, one organisation per key): checking those \
needs the full ledger or an export (accord verify).\n\n\
--witness-policy FILE [--max-age DURATION] also requires the proof's checkpoint (a consistency file's newer one) \
to carry cosignatures of the policy's quorum of witnesses (docs/FORMAT.md section 16; `accord prove` writes the \
newest checkpoint the ledger stores cosignatures for): otherwise the proof is still verified and the command \
exits 3 (trust_established false); a cosignature of a policy witness that does not verify exits 2."
    )]
    VerifyProof {
        /// The proof file: an accord bundle or consistency proof (CBOR or JSON), or a C2SP
        /// tlog-proof ('-': standard input).
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
        #[command(flatten)]
        witness: witnessed::WitnessArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistency proof between two signed checkpoints of this ledger.
    #[command(after_help = OUT_HELP)]
    Consistency {
        /// The earlier tree size.
        #[arg(long, value_name = "SIZE")]
        from: u64,
        /// The later tree size (default: the latest).
        #[arg(long, value_name = "SIZE")]
        to: Option<u64>,
        /// Where to write it ('-': standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists (atomically).
        #[arg(long)]
        force: bool,
        /// Write JSON instead of CBOR.
        #[arg(long)]
        json: bool,
    },
    /// Write the whole ledger (every entry and the latest checkpoint, with its witnesses'
    /// cosignatures when the ledger stores them) to one file; with --witness-policy, up to the
    /// newest checkpoint whose stored cosignatures meet the policy's quorum.
    #[command(after_help = OUT_HELP)]
    Export {
        /// Where to write it ('-': standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists, atomically: for a job that publishes to a fixed name.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        witness: witnessed::WitnessArgs,
    },
    /// Build or extend a read-only mirror ledger from a verified export.
    #[command(after_help = IMPORT_HELP)]
    Import {
        /// The export file.
        file: PathBuf,
        /// The ledger's public key (C2SP vkey).
        #[arg(long, value_name = "VKEY")]
        ledger_key: String,
        #[command(flatten)]
        witness: witnessed::WitnessArgs,
    },
    /// Print the latest signed checkpoint (a C2SP signed note).
    Checkpoint,
    /// List every signed checkpoint the ledger holds: size, time, root. The custodian keeps
    /// one per commit, a mirror one per import; `consistency --from SIZE` takes any of them.
    #[command(
        after_help = "A checkpoint note carries no time: the time shown is the log time of the last entry in \
its tree (entry SIZE-1), and none for the empty tree."
    )]
    Checkpoints {
        /// Machine-readable output (schemas/checkpoints.schema.json).
        #[arg(long)]
        json: bool,
    },
    /// Upgrade a ledger written by an older accord: rebuilds its derived tables from its
    /// entries (entries, hashes and checkpoints are not changed), in one transaction.
    #[command(
        after_help = "Store format 2 keeps three more derived tables (attestations ended, entries made untrusted \
by a recovery, name comparison keys). A ledger of store format 1 (written by accord before them) is refused \
by every other command until it is upgraded. Run `accord verify` afterwards: it checks the rebuilt tables \
against a full replay."
    )]
    Upgrade,
    /// List the registrations waiting for your approval (`serve --writable --registrations
    /// approve`): id, name, domain, client, when.
    Pending {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting registration: it is appended (through the running `accord serve`, over
    /// its local admin socket, or directly when no server runs) and leaves the queue.
    #[command(
        after_help = "ID is the statement id `accord pending` lists, or at least its first 8 hex digits. \
Approval happens only on this machine: through the ledger directory's admin.sock (mode 0600, checked to \
be your user) to a running `accord serve --writable`, or by opening the ledger when no server holds it. \
Nothing on the public listener can approve. The rules still apply: a registration the ledger refuses \
(its name taken since) exits 1 and leaves the queue."
    )]
    Approve {
        /// The registration's statement id (or its first 8+ hex digits).
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        ledger_key: context::LedgerKeyFile,
    },
    /// Reject a waiting registration: it leaves the queue and is never appended.
    Reject {
        /// The registration's statement id (or its first 8+ hex digits).
        #[arg(value_name = "ID")]
        id: String,
    },
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
    #[command(after_help = ORG_HELP)]
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
    #[command(after_help = ORG_HELP)]
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
    #[command(after_help = ORG_HELP)]
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
    #[command(
        after_help = "Both secret keys are read here. With a key in an HSM, a KMS or offline, \
sign the rotation with `accord sign --rotate` and append it (see `accord sign --help`)."
    )]
    Rotate {
        /// The current key (secret).
        #[arg(long, value_name = "OLD")]
        key: PathBuf,
        /// The next key (secret; make it with `accord key generate`).
        #[arg(long, value_name = "NEW")]
        new: PathBuf,
        #[command(flatten)]
        to: destination::DestinationArgs,
    },
    /// End the organisation's key from now on (a lost laptop, a key retired); the organisation
    /// then has no key until its recovery key installs one (`accord key recover`).
    #[command(
        after_help = "An organisation speaks with one key at a time, so the key revoked is the \
signing key itself: a key a rotation replaced has already stopped speaking and is not revoked again \
(the rules refuse it). --target names the key to revoke, as a check that the right one is ended: \
the key id as accord prints it (16 hex digits) or any longer prefix, up to all 64 digits; it is \
looked up among the organisation's keys, and an ambiguous or unknown prefix is refused. With a \
key in an HSM, a KMS or offline: `accord sign --revoke`."
    )]
    Revoke {
        /// A current key of the organisation (secret).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Key id of the key to revoke, or at least its first 16 hex digits: a check that the
        /// key ended is the one meant (default: the signing key itself).
        #[arg(long, value_name = "KID")]
        target: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        to: destination::DestinationArgs,
    },
    /// After a lost or stolen key: the recovery key ends every current key, installs NEW and
    /// commits to the next recovery key. A recovery key works once.
    #[command(
        after_help = "--compromised-since DATE marks statements by the ended keys logged after DATE as \
untrusted (they stay in the ledger as history) and voids rotations they signed after it; a date \
alone is the start of that day (UTC).\n\n\
The recovery key's secret is read here. A recovery key kept on an offline machine, in an HSM or a \
KMS signs with `accord sign --recover` (see `accord sign --help`): nothing secret leaves it.\n\n\
Public key files (--new, --next-recovery-key) may be accord's, OpenSSH, PEM \
(-----BEGIN PUBLIC KEY-----) or DER SubjectPublicKeyInfo."
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
        #[command(flatten)]
        to: destination::DestinationArgs,
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
            to,
        } => keys::register(
            dir,
            key,
            org,
            domain.clone(),
            contact.clone(),
            recovery_key.as_deref(),
            to,
        ),
        Command::Key(KeyCommand::Rotate { key, new, to }) => lifecycle::rotate(dir, key, new, to),
        Command::Key(KeyCommand::Revoke {
            key,
            target,
            reason,
            to,
        }) => lifecycle::revoke(dir, key, target.as_deref(), reason, to),
        Command::Key(KeyCommand::Recover {
            recovery_key,
            new,
            next_recovery_key,
            compromised_since,
            reason,
            to,
        }) => lifecycle::recover(
            dir,
            recovery_key,
            new,
            next_recovery_key,
            compromised_since.as_deref(),
            reason,
            to,
        ),
        Command::History { org, json } => reading::history(dir, org, *json),
        Command::Norms { json } => reading::norms(*json),
        Command::Attest { key, body, to } => statements::attest(dir, key, body, to),
        Command::Sign(args) => statements::sign(dir, args),
        Command::Append { files, json, to } => statements::append(dir, files, *json, to),
        Command::Withdraw {
            key,
            entry,
            reason,
            to,
        } => statements::withdraw(dir, key, entry, reason, to),
        Command::Verify {
            location: Some(loc),
            ledger_key,
            state,
            full,
            witness,
            json,
            ..
        } => public::verify_remote(
            loc,
            ledger_key.as_deref(),
            state.as_deref(),
            *full,
            witness,
            *json,
        ),
        Command::Publish {
            dest,
            repair,
            bucket,
            witnessing,
            json,
        } => public::publish(dir, dest, *repair, bucket, witnessing, *json),
        Command::Serve(a) => public::serve(dir, a),
        Command::Watch(a) => watch::watch(a),
        Command::Witness(c) => witness::run(c),
        Command::Mirror {
            location,
            ledger_key,
            state,
            witness,
        } => public::mirror(dir, location, ledger_key, state.as_deref(), witness),
        Command::Verify {
            ledger_key,
            file: Some(f),
            state,
            full,
            witness,
            json,
            ..
        } => verification::verify_file(
            f,
            ledger_key.as_deref().unwrap_or_default(),
            state.as_deref(),
            *full,
            witness,
            *json,
        ),
        Command::Verify {
            ledger_key,
            file: None,
            state,
            full,
            witness,
            json,
            ..
        } => verification::verify(
            dir,
            ledger_key.as_deref(),
            state.as_deref(),
            *full,
            witness,
            *json,
        ),
        Command::Prove {
            entry,
            out,
            force,
            at_size,
            since,
            format,
            json,
        } => {
            let index = context::resolve_entry(&context::open_ro(dir)?, entry)?;
            let format = if *json { proofs::ProofFormat::Json } else { *format };
            proofs::prove(dir, index, out, *at_size, *since, format, *force)
        }
        Command::VerifyProof {
            file,
            ledger_key,
            entry,
            state,
            witness,
            json,
        } => verification::verify_proof(
            file,
            ledger_key,
            entry.as_deref(),
            state.as_deref(),
            witness,
            *json,
        ),
        Command::Consistency {
            from,
            to,
            out,
            force,
            json,
        } => proofs::consistency(dir, *from, *to, out, *json, *force),
        Command::Export { out, force, witness } => proofs::export(dir, out, *force, witness),
        Command::Import {
            file,
            ledger_key,
            witness,
        } => proofs::import(dir, file, ledger_key, witness),
        Command::Upgrade => custodian::upgrade(dir),
        Command::Pending { json } => custodian::pending(dir, *json),
        Command::Approve { id, ledger_key } => custodian::approve(dir, id, ledger_key),
        Command::Reject { id } => custodian::reject(dir, id),
        Command::Checkpoint => reading::checkpoint(dir),
        Command::Checkpoints { json } => reading::checkpoints(dir, *json),
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
            terminal::say!("error: internal error (this is a bug in accord; please report it): {msg}");
            2
        }
    };
    std::process::ExitCode::from(code)
}
