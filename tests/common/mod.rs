//! Shared helpers for the integration tests: an isolated environment driving the real binary
//! ([`World`], with the command lines the tests repeat), ledgers built the same way in several
//! files, statements signed by the tests themselves (to append, or to force past the custodian's
//! checks with [`force_append`]), and the JSON and file plumbing around them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use accord::keys::{PublicKey, SecretKey};
use accord::norms::Catalogue;
use accord::statement::{
    self, Acceptance, Attestation, Body, NormRef, Payload, Registration, Rotation, Statement,
};
use assert_cmd::Command;
use serde_json::Value;

/// The origin of every [`World`]'s ledger, and of the statements [`payload`] builds for it.
pub const ORIGIN: &str = "test.example/ledger";

// ---------------------------------------------------------------------------------------------
// The binary in an isolated world.

/// One isolated accord world: its own config, state and ledger directories.
pub struct World {
    pub tmp: tempfile::TempDir,
}

/// What a run of the binary gave: its exit code and its output.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl World {
    /// A new world in a fresh temporary directory (removed when the world is dropped).
    pub fn new() -> World {
        World {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// The path `p` inside the world's directory.
    pub fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// [`World::path`] as a string, to put in a command line.
    pub fn path_str(&self, p: &str) -> String {
        s(&self.path(p))
    }

    /// The ledger directory (`ACCORD_LEDGER`).
    pub fn ledger(&self) -> PathBuf {
        self.path("ledger")
    }

    /// The secret key file [`World::key`] makes for `name`.
    pub fn key_file(&self, name: &str) -> PathBuf {
        self.path(&format!("keys/{name}.key"))
    }

    /// The binary as a plain process in this world, for what [`World::cmd`] cannot do (spawn
    /// and kill it, feed it a named pipe) or cannot take (another thread).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_accord"));
        c.current_dir(self.tmp.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("ACCORD_LEDGER", self.ledger())
            // A developer's server must not take the tests' statements.
            .env_remove("ACCORD_SERVER")
            .env_remove("HOME");
        c
    }

    /// The binary in this world, to add arguments, environment or standard input to.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// Runs the binary with `args`, whatever its exit code.
    pub fn run(&self, args: &[&str]) -> Out {
        let o = self.cmd().args(args).output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Runs and requires exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.code, 0, "accord {args:?} failed:\n{}\n{}", o.stdout, o.stderr);
        o.stdout
    }

    /// Runs and requires `code`; returns stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        self.exits(code, "error: ", args)
    }

    /// Runs and requires `code`, no panic, and a line of standard error starting `label`;
    /// returns stderr.
    fn exits(&self, code: i32, label: &str, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.code, code,
            "accord {args:?}: expected exit {code}, got {}:\n{}\n{}",
            o.code, o.stdout, o.stderr
        );
        assert!(!o.stderr.contains("panicked"), "panic: {}", o.stderr);
        assert!(
            o.stderr.lines().any(|l| l.starts_with(label)),
            "no {label:?} line: {}",
            o.stderr
        );
        o.stderr
    }

    /// Runs and requires exit 3 (valid, trust not established) with its warning line; returns
    /// stderr.
    pub fn not_established(&self, args: &[&str]) -> String {
        self.exits(3, "warning: ", args)
    }

    /// `init --origin ORIGIN`; returns the ledger's verifier key.
    pub fn init(&self) -> String {
        self.ok(&["init", "--origin", ORIGIN]).trim().to_string()
    }

    /// The ledger's verifier key, as `ledger-key` prints it.
    pub fn ledger_key(&self) -> String {
        self.ok(&["ledger-key"]).trim().to_string()
    }

    /// `key generate NAME` into the world's `keys` directory; returns the secret key file.
    pub fn key(&self, name: &str) -> PathBuf {
        let dir = self.path("keys");
        self.ok(&["key", "generate", name, "--dir", dir.to_str().unwrap()]);
        self.key_file(name)
    }

    /// A new key `name`, registered for `org` (without a recovery key); returns its key file.
    pub fn register(&self, name: &str, org: &str) -> PathBuf {
        let k = self.key(name);
        self.ok(&register_args(&s(&k), org, None));
        k
    }

    /// Registers `org` with the key file `key`, committing to the recovery key `recovery` (its
    /// `.pub` file).
    pub fn register_with_recovery(&self, key: &Path, org: &str, recovery: &Path) -> String {
        self.ok(&register_args(&s(key), org, Some(&public(recovery))))
    }

    /// `attest`s `norms` for `scope` with the key file `key`.
    pub fn attest(&self, key: &Path, norms: &[&str], scope: &str) -> String {
        self.ok(&attest_args(key, norms, scope))
    }

    /// `withdraw`s `entry` (an index or a statement id) with `key`.
    pub fn withdraw(&self, key: &Path, entry: &str, reason: &str) -> String {
        self.ok(&withdraw_args(key, entry, reason))
    }

    /// `key rotate` from the key file `old` to the key file `new`.
    pub fn rotate(&self, old: &Path, new: &Path) -> String {
        self.ok(&["key", "rotate", "--key", &s(old), "--new", &s(new)])
    }

    /// `key recover` with the recovery key file `rec`, installing `new` and committing to
    /// `next` (their `.pub` files), reporting a compromise since `since` if given.
    pub fn recover(&self, rec: &Path, new: &Path, next: &Path, since: Option<&str>, reason: &str) -> String {
        self.ok(&recover_args(&s(rec), &public(new), &public(next), since, reason))
    }

    /// `prove INDEX EXTRA... --out FILE` into the world's file `file`; returns its path.
    pub fn prove(&self, index: u64, file: &str, extra: &[&str]) -> PathBuf {
        let f = self.path(file);
        let i = index.to_string();
        let mut a = vec!["prove", &i];
        a.extend_from_slice(extra);
        a.extend(["--out", f.to_str().unwrap()]);
        self.ok(&a);
        f
    }

    /// `consistency --from FROM EXTRA... --out FILE` into the world's file `file`; returns its
    /// path.
    pub fn consistency(&self, from: u64, file: &str, extra: &[&str]) -> PathBuf {
        let f = self.path(file);
        let n = from.to_string();
        let mut a = vec!["consistency", "--from", &n];
        a.extend_from_slice(extra);
        a.extend(["--out", f.to_str().unwrap()]);
        self.ok(&a);
        f
    }

    /// `export --out FILE` into the world's file `file`; returns its path.
    pub fn export(&self, file: &str) -> PathBuf {
        let f = self.path(file);
        self.ok(&["export", "--out", f.to_str().unwrap()]);
        f
    }

    /// The latest signed checkpoint, as `checkpoint` prints it.
    pub fn checkpoint(&self) -> String {
        self.ok(&["checkpoint"])
    }

    /// Asserts that the ledger still verifies and still has the given checkpoint.
    pub fn unchanged(&self, cp: &str) {
        assert_eq!(self.checkpoint(), cp, "ledger changed");
        self.ok(&["verify"]);
    }
}

/// A path as a string, to put in a command line (test paths are UTF-8).
pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The public key file next to the secret key file `key`, as a string.
pub fn public(key: &Path) -> String {
    s(&key.with_extension("pub"))
}

// ---------------------------------------------------------------------------------------------
// Command lines, for `World::fails` (or to add options to).

/// `register --key KEY --org ORG [--recovery-key RECOVERY]`, the keys given as files.
pub fn register_args<'a>(key: &'a str, org: &'a str, recovery: Option<&'a str>) -> Vec<&'a str> {
    let mut a = vec!["register", "--key", key, "--org", org];
    if let Some(r) = recovery {
        a.extend(["--recovery-key", r]);
    }
    a
}

/// `attest --key KEY --norm NORM... --scope SCOPE`.
pub fn attest_args<'a>(key: &'a Path, norms: &[&'a str], scope: &'a str) -> Vec<&'a str> {
    let mut a = vec!["attest", "--key", key.to_str().unwrap()];
    for n in norms {
        a.extend(["--norm", *n]);
    }
    a.extend(["--scope", scope]);
    a
}

/// `withdraw --key KEY --entry ENTRY --reason REASON`.
pub fn withdraw_args<'a>(key: &'a Path, entry: &'a str, reason: &'a str) -> Vec<&'a str> {
    vec![
        "withdraw",
        "--key",
        key.to_str().unwrap(),
        "--entry",
        entry,
        "--reason",
        reason,
    ]
}

/// `key revoke --key KEY [--target KID] --reason REASON`.
pub fn revoke_args<'a>(key: &'a Path, target: Option<&'a str>, reason: &'a str) -> Vec<&'a str> {
    let mut a = vec!["key", "revoke", "--key", key.to_str().unwrap()];
    if let Some(t) = target {
        a.extend(["--target", t]);
    }
    a.extend(["--reason", reason]);
    a
}

/// `key recover --recovery-key REC --new NEW --next-recovery-key NEXT
/// [--compromised-since SINCE] --reason REASON`, the keys given as files.
pub fn recover_args<'a>(
    rec: &'a str,
    new: &'a str,
    next: &'a str,
    since: Option<&'a str>,
    reason: &'a str,
) -> Vec<&'a str> {
    let mut a = vec![
        "key",
        "recover",
        "--recovery-key",
        rec,
        "--new",
        new,
        "--next-recovery-key",
        next,
    ];
    if let Some(t) = since {
        a.extend(["--compromised-since", t]);
    }
    a.extend(["--reason", reason]);
    a
}

/// `verify --ledger-key VKEY --state STATE EXTRA...`.
pub fn verify_args<'a, S: AsRef<Path> + ?Sized>(
    vkey: &'a str,
    state: &'a S,
    extra: &[&'a str],
) -> Vec<&'a str> {
    with_key_and_state(vec!["verify"], vkey, state.as_ref(), extra)
}

/// `verify-proof FILE --ledger-key VKEY --state STATE EXTRA...`.
pub fn verify_proof_args<'a, F: AsRef<Path> + ?Sized, S: AsRef<Path> + ?Sized>(
    file: &'a F,
    vkey: &'a str,
    state: &'a S,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let command = vec!["verify-proof", file.as_ref().to_str().unwrap()];
    with_key_and_state(command, vkey, state.as_ref(), extra)
}

/// `command` followed by `--ledger-key VKEY --state STATE EXTRA...`.
fn with_key_and_state<'a>(
    mut command: Vec<&'a str>,
    vkey: &'a str,
    state: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    command.extend(["--ledger-key", vkey, "--state", state.to_str().unwrap()]);
    command.extend_from_slice(extra);
    command
}

/// Requires `verify` to fail (exit 1) with a message holding every one of `wants`; returns it.
pub fn verify_fails(w: &World, wants: &[&str]) -> String {
    let e = w.fails(1, &["verify"]);
    for want in wants {
        assert!(e.contains(want), "expected {want:?} in: {e}");
    }
    e
}

/// Requires `verify` to fail (exit 1) naming entry `index` and saying `what`.
pub fn verify_names(w: &World, index: u64, what: &str) -> String {
    verify_fails(w, &[&format!("entry {index}"), what])
}

// ---------------------------------------------------------------------------------------------
// Ledgers several files start from.

/// A fresh ledger where Acme (key `acme`, org "Acme") registered (entry 0) committing to the
/// recovery key `acme-rec`: (world, Acme's key, the recovery key).
pub fn acme_with_recovery() -> (World, PathBuf, PathBuf) {
    let w = World::new();
    w.init();
    let rec = w.key("acme-rec");
    let a = w.key("acme");
    w.register_with_recovery(&a, "Acme", &rec);
    (w, a, rec)
}

/// A fresh ledger where Acme (key `acme`, org "Acme") registered (entry 0) and attested
/// `no-backdoors` `n` times (entries 1 to n, scopes "product 0" and on): (world, verifier key,
/// Acme's key).
pub fn acme_with_attestations(n: usize) -> (World, String, PathBuf) {
    let w = World::new();
    let vkey = w.init();
    let a = w.register("acme", "Acme");
    for i in 0..n {
        w.attest(&a, &["no-backdoors"], &format!("product {i}"));
    }
    (w, vkey, a)
}

// ---------------------------------------------------------------------------------------------
// Statements the tests sign themselves.

/// The secret key in a key file (as [`World::key`] makes them).
pub fn sk(path: &Path) -> SecretKey {
    accord::keyfile::read_secret_key(path).unwrap()
}

/// A payload for [`ORIGIN`], issued now, with a fresh nonce.
pub fn payload(body: Body) -> Payload {
    payload_at(ORIGIN, accord::clock::now(), body)
}

/// A payload for `origin`, issued at `iat`, with a fresh nonce.
pub fn payload_at(origin: &str, iat: i64, body: Body) -> Payload {
    Payload {
        origin: origin.into(),
        iat,
        nonce: statement::random_nonce(),
        body,
    }
}

/// An attestation of the norm `no-backdoors` of the embedded catalogue for `scope`, superseding
/// the statement id `supersedes` if given; no expiry, no note.
pub fn attestation(scope: &str, supersedes: Option<[u8; 32]>) -> Body {
    let cat = Catalogue::embedded();
    let n = cat.get("no-backdoors").unwrap();
    Body::Attestation(Attestation {
        catalogue: cat.version,
        norms: vec![NormRef {
            id: n.id.clone(),
            text_hash: n.text_hash(),
        }],
        scope: vec![scope.into()],
        expires: None,
        note: None,
        supersedes,
    })
}

/// A registration of `name` with `public_key`, committing to the recovery key id `recovery` if
/// given; no domain, no contact.
pub fn registration(name: &str, public_key: PublicKey, recovery: Option<[u8; 32]>) -> Body {
    Body::Registration(Registration {
        name: name.into(),
        public_key,
        domain: None,
        contact: None,
        recovery,
    })
}

/// `body` in a [`payload`] (for [`ORIGIN`], issued now), signed by `key` as `iss`.
pub fn signed(body: Body, iss: &str, key: &SecretKey) -> Statement {
    statement::sign(&payload(body), iss, key).unwrap()
}

/// A rotation of `iss` from `old` to `new` issued at `iat`, for [`ORIGIN`]: the acceptance
/// signed by `new`, the rotation by `old`.
pub fn rotation(iss: &str, old: &SecretKey, new: &SecretKey, iat: i64) -> Statement {
    let acceptance = statement::sign(
        &payload_at(
            ORIGIN,
            iat,
            Body::Acceptance(Acceptance {
                public_key: new.public(),
                replaces: old.public().kid(),
            }),
        ),
        iss,
        new,
    )
    .unwrap();
    statement::sign(
        &payload_at(
            ORIGIN,
            iat,
            Body::Rotation(Rotation {
                acceptance: Box::new(acceptance),
            }),
        ),
        iss,
        old,
    )
    .unwrap()
}

/// Appends a statement the way a dishonest or buggy custodian could: no rule checks, but a
/// correct entry, tree and freshly signed checkpoint. Verification must then find the entry.
pub fn force_append(w: &World, statement: &[u8]) -> u64 {
    force_append_version(w, statement, accord::entry::ENTRY_VERSION)
}

/// [`force_append`] in an entry of the given rules version.
pub fn force_append_version(w: &World, statement: &[u8], version: u64) -> u64 {
    force_append_state(w, statement, version, Some)
}

/// [`force_append_version`], with the state root the entry carries chosen by `state` from the
/// true one (a custodian that lies about the state map: `|_| None`, `|r| Some(other)`).
pub fn force_append_state(
    w: &World,
    statement: &[u8],
    version: u64,
    state: impl FnOnce([u8; 32]) -> Option<[u8; 32]>,
) -> u64 {
    use accord::checkpoint::{Checkpoint, LedgerKey};
    use accord::entry::Entry;
    use accord::merkle::Frontier;
    let store = accord::store::Store::open(&w.ledger()).unwrap();
    let ledger = accord::ledger::Ledger::from_store(store);
    let key_file = ledger.key_file().unwrap();
    let key = LedgerKey::from_skey(&std::fs::read_to_string(key_file).unwrap()).unwrap();
    ledger
        .store()
        .write(|t| {
            let size = t.entry_count()?;
            let mut f =
                Frontier::from_store(size, &*t).map_err(|e| accord::store::StoreError::Io(e.to_string()))?;
            let (prev, last) = if size == 0 {
                ([0u8; 32], 0)
            } else {
                let b = t.entry(size - 1)?.unwrap();
                (
                    accord::merkle::leaf_hash(&b),
                    Entry::decode(&b).unwrap().logged_at,
                )
            };
            let mut e = Entry::new(size, prev, last.max(accord::clock::now()), statement.to_vec());
            e.version = version;
            // Derived tables and the state map updated as the custodian would, minus the rule
            // checks; a version-3 entry commits the map's root.
            let st = accord::statement::Statement::decode(statement).unwrap();
            let mut changes = accord::rules::state::Changes::default();
            accord::rules::state::apply_tracked(&mut *t, &mut changes, size, e.logged_at, &st).unwrap();
            // A statement that breaks the rules can leave effects the map cannot follow (an
            // attestation of another organisation withdrawn): its root is then a placeholder,
            // and verify refuses the entry for the broken rule first.
            let root = match changes.updates(&*t, &*t) {
                Ok(updates) => accord::statemap::update(&mut *t, &updates)?,
                Err(_) => [0xee; 32],
            };
            if version >= accord::entry::STATE_VERSION {
                e.state = state(root);
            }
            let bytes = e.encode().unwrap();
            t.put_entry(size, &bytes)?;
            for (i, h) in f.push(accord::merkle::leaf_hash(&bytes)) {
                t.put_hash(i, &h)?;
            }
            let cp = key
                .sign(&Checkpoint {
                    origin: key.origin().clone(),
                    size: size + 1,
                    root: f.root(),
                })
                .unwrap();
            t.put_checkpoint(size + 1, &cp.note)?;
            Ok::<_, accord::store::StoreError>(size)
        })
        .unwrap()
}

/// The ledger's secret key file, as `init` recorded it.
pub fn ledger_key_file(w: &World) -> String {
    let store = accord::store::Store::open_read_only(&w.ledger()).unwrap();
    accord::ledger::Ledger::from_store(store).key_file().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Time.

/// Now, as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    accord::time::format(accord::clock::now())
}

/// Waits until the wall clock is in a new second, so log times differ.
pub fn tick() {
    let t = accord::clock::now();
    while accord::clock::now() == t {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// JSON and files.

/// Runs accord with `args` (which must succeed) and parses its standard output as JSON.
pub fn json(w: &World, args: &[&str]) -> Value {
    serde_json::from_str(&w.ok(args)).unwrap()
}

/// The kind of every entry of the world's ledger, in order (`list --json`).
pub fn kinds(w: &World) -> Vec<String> {
    json(w, &["list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// `status --all --json` (plus `extra`) as (index, state) pairs.
pub fn states(w: &World, extra: &[&str]) -> Vec<(u64, String)> {
    let mut a = vec!["status", "--all", "--json"];
    a.extend_from_slice(extra);
    json(w, &a)
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["index"].as_u64().unwrap(),
                x["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The indices of the live attestations, as `status --json` lists them.
pub fn live(w: &World) -> Vec<u64> {
    json(w, &["status", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["index"].as_u64().unwrap())
        .collect()
}

/// The JSON Schema `schemas/NAME`, compiled.
pub fn schema(name: &str) -> jsonschema::Validator {
    let path = format!("{}/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&v).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Requires `text` to be JSON that the schema `schemas/NAME` accepts; lists every error if not.
pub fn check_schema(name: &str, text: &str) {
    let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: not JSON: {e}\n{text}"));
    let errors: Vec<String> = schema(name)
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{text}");
}

/// One step of the xorshift64 generator (shifts 13, 7, 17): seeded, repeatable choices.
pub fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Random moments to kill a process at, spread over the time one whole run takes (`baseline`
/// microseconds): a run that finished before its kill shortens the span (on a loaded machine
/// the baseline may be longer than later runs), a kill lengthens it again up to the baseline,
/// so that kills stay spread over the run.
pub struct KillMoments {
    seed: u64,
    span: u64,
    baseline: u64,
}

impl KillMoments {
    /// Moments over `baseline` microseconds, chosen from `seed` (repeatable).
    pub fn new(baseline: u64, seed: u64) -> KillMoments {
        let baseline = baseline.max(1);
        KillMoments {
            seed,
            span: baseline,
            baseline,
        }
    }

    /// Lets `child` run for a random moment, kills it with SIGKILL, and returns its exit status
    /// and whether the kill stopped it (false: it had finished first).
    #[cfg(unix)]
    pub fn kill(&mut self, child: &mut std::process::Child) -> (std::process::ExitStatus, bool) {
        use std::os::unix::process::ExitStatusExt as _;
        std::thread::sleep(std::time::Duration::from_micros(
            xorshift(&mut self.seed) % self.span,
        ));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let killed = status.signal() == Some(9);
        self.span = if killed {
            (self.span + self.span / 8).min(self.baseline)
        } else {
            (self.span * 3 / 4).max(100)
        };
        (status, killed)
    }
}

/// A JSON file, parsed.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Writes `v` to `path` as compact JSON.
pub fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string(v).unwrap()).unwrap();
}

/// The hex string `h` with its first digit changed (`0` becomes `1`, anything else `0`).
pub fn flip_first_hex_digit(h: &str) -> String {
    format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..])
}

/// How many files of fork evidence (`fork-*`) the state directory `dir` holds (0 if it does not
/// exist).
pub fn fork_evidence(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("fork-")
            })
            .count()
        })
        .unwrap_or(0)
}
