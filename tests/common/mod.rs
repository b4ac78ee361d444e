//! Shared helpers for the integration tests: an isolated environment driving the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// One isolated accord world: its own config, state and ledger directories.
pub struct World {
    pub tmp: tempfile::TempDir,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl World {
    pub fn new() -> World {
        World {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    pub fn ledger(&self) -> PathBuf {
        self.path("ledger")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("accord").unwrap();
        c.current_dir(self.tmp.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("ACCORD_LEDGER", self.ledger())
            .env_remove("HOME");
        c
    }

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
        let o = self.run(args);
        assert_eq!(
            o.code, code,
            "accord {args:?}: expected exit {code}, got {}:\n{}\n{}",
            o.code, o.stdout, o.stderr
        );
        assert!(!o.stderr.contains("panicked"), "panic: {}", o.stderr);
        assert!(
            o.stderr.lines().any(|l| l.starts_with("error: ")),
            "no error line: {}",
            o.stderr
        );
        o.stderr
    }

    pub fn init(&self) -> String {
        self.ok(&["init", "--origin", "test.example/ledger"])
            .trim()
            .to_string()
    }

    pub fn key(&self, name: &str) -> PathBuf {
        let dir = self.path("keys");
        self.ok(&["key", "generate", name, "--dir", dir.to_str().unwrap()]);
        dir.join(format!("{name}.key"))
    }

    pub fn register(&self, name: &str, org: &str) -> PathBuf {
        let k = self.key(name);
        self.ok(&["register", "--key", k.to_str().unwrap(), "--org", org]);
        k
    }

    pub fn attest(&self, key: &Path, norms: &[&str], scope: &str) -> String {
        let mut a = vec!["attest", "--key", key.to_str().unwrap()];
        for n in norms {
            a.extend(["--norm", n]);
        }
        a.extend(["--scope", scope]);
        self.ok(&a)
    }

    pub fn checkpoint(&self) -> String {
        self.ok(&["checkpoint"])
    }

    /// Asserts that the ledger still verifies and still has the given checkpoint.
    pub fn unchanged(&self, cp: &str) {
        assert_eq!(self.checkpoint(), cp, "ledger changed");
        self.ok(&["verify"]);
    }
}

/// Appends a statement the way a dishonest or buggy custodian could: no rule checks, but a
/// correct entry, tree and freshly signed checkpoint. Verification must then find the entry.
pub fn force_append(w: &World, statement: &[u8]) -> u64 {
    force_append_version(w, statement, accord::entry::ENTRY_VERSION)
}

/// [`force_append`] in an entry of the given rules version.
pub fn force_append_version(w: &World, statement: &[u8], version: u64) -> u64 {
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
            let bytes = e.encode().unwrap();
            t.put_entry(size, &bytes)?;
            // Derived tables updated as the custodian would, minus the rule checks.
            let st = accord::statement::Statement::decode(statement).unwrap();
            accord::ledger::apply(&mut *t, size, e.logged_at, &st).unwrap();
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

/// Runs accord with `args` (which must succeed) and parses its standard output as JSON.
pub fn json(w: &World, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&w.ok(args)).unwrap()
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

/// The ledger's secret key file, as `init` recorded it.
pub fn ledger_key_file(w: &World) -> String {
    let store = accord::store::Store::open_read_only(&w.ledger()).unwrap();
    accord::ledger::Ledger::from_store(store).key_file().unwrap()
}
