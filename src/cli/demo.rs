//! `accord demo`: the whole story on a fresh ledger, each step printed as the command a user
//! would type and then run as that very command (this binary, in a child process): a ledger,
//! companies registering and attesting, a withdrawal, verification against the ledger's public
//! key, an offline proof, a key rotation, a key held in an HSM signing outside accord (OpenSSL
//! stands in for the HSM; without OpenSSL, a key file does, and the demo says so), an export
//! verified offline, a read-only mirror, the organisations, the ledger published as C2SP tiles
//! and verified from there, the ledger run as a service (`serve --writable`) that a company
//! submits to with `--server` and anyone verifies over HTTP; then what to try next.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::context::out;
use super::fail::Fail;
use super::terminal;

/// The demo ledger's origin.
const ORIGIN: &str = "demo.accord.example/pledges";

const COMPANIES: [(&str, &str, &str); 3] = [
    ("contoso", "Contoso Ltd", "contoso.example"),
    ("fabrikam", "Fabrikam, Inc.", "fabrikam.example"),
    ("northwind", "Northwind Traders", "northwind.example"),
];

fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+".contains(&b))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// The command line as a user would type it.
fn typed(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// This binary, to run each step as the command it shows (with `--quiet` when the demo has it).
fn accord() -> Result<std::process::Command, Fail> {
    let exe =
        std::env::current_exe().map_err(|e| Fail::usage(anyhow!("cannot find the accord binary: {e}")))?;
    let mut c = std::process::Command::new(exe);
    // The demo's ledger has its own key and its own service: a custodian's
    // ACCORD_LEDGER_KEY_FILE is not for it, and a server in ACCORD_SERVER must not take the
    // demo's statements (the step that submits to the demo's service says --server).
    c.env_remove("ACCORD_LEDGER_KEY_FILE").env_remove("ACCORD_SERVER");
    if terminal::quiet() {
        c.arg("--quiet");
    }
    Ok(c)
}

/// The command line shown for `accord ARGS`.
fn shown_accord(args: &[String]) -> String {
    let q = if terminal::quiet() { "--quiet " } else { "" };
    format!("accord {q}{}", typed(args))
}

/// Prints a step and runs it, its output going to the demo's.
fn step(title: &str, args: &[String]) -> Result<(), Fail> {
    out(&format!("\n# {title}\n"));
    step_quietly(args)
}

/// Prints one more command of the step above and runs it.
fn step_quietly(args: &[String]) -> Result<(), Fail> {
    run_shown(&shown_accord(args), accord()?.args(args))
}

/// Prints `$ LINE` and runs `cmd`; a failure stops the demo.
fn run_shown(line: &str, cmd: &mut std::process::Command) -> Result<(), Fail> {
    out(&format!("$ {line}\n"));
    let status = cmd
        .status()
        .map_err(|e| Fail::usage(anyhow!("demo step `{line}` could not start: {e}")))?;
    if !status.success() {
        return Err(Fail::usage(anyhow!("demo step failed ({status}): {line}")));
    }
    Ok(())
}

/// Another program's step (OpenSSL standing in for the HSM), printed and run like accord's.
fn program_step(program: &str, args: &[String]) -> Result<(), Fail> {
    let line = format!("{program} {}", typed(args));
    run_shown(&line, std::process::Command::new(program).args(args))
}

/// Whether this machine's `openssl` makes and signs with Ed25519 keys (OpenSSL 1.1.1 or later;
/// LibreSSL and older versions do not), tried in `dir` on a throwaway key.
fn openssl_signs_ed25519(dir: &Path) -> bool {
    let key = dir.join("probe.pem");
    let msg = dir.join("probe.msg");
    let sig = dir.join("probe.sig");
    let quiet = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new("openssl")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = std::fs::write(&msg, b"probe").is_ok()
        && quiet(&[
            "genpkey".as_ref(),
            "-algorithm".as_ref(),
            "ed25519".as_ref(),
            "-out".as_ref(),
            key.as_os_str(),
        ])
        && quiet(&[
            "pkeyutl".as_ref(),
            "-sign".as_ref(),
            "-rawin".as_ref(),
            "-inkey".as_ref(),
            key.as_os_str(),
            "-in".as_ref(),
            msg.as_os_str(),
            "-out".as_ref(),
            sig.as_os_str(),
        ])
        && std::fs::metadata(&sig).is_ok_and(|m| m.len() == 64);
    for f in [&key, &msg, &sig] {
        let _ = std::fs::remove_file(f);
    }
    ok
}

/// Runs a command quietly and returns its standard output.
fn capture(args: &[String]) -> Result<String, Fail> {
    let o = accord()?
        .args(args)
        .output()
        .map_err(|e| Fail::usage(anyhow!("accord {} could not start: {e}", typed(args))))?;
    if !o.status.success() {
        return Err(Fail::usage(anyhow!(
            "accord {} failed: {}",
            typed(args),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn s(x: impl AsRef<str>) -> String {
    x.as_ref().to_string()
}

fn p(x: &Path) -> String {
    x.display().to_string()
}

pub(super) fn run(dir: Option<&Path>) -> Result<(), Fail> {
    let dir: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let tag = hex::encode(accord::statement::random_nonce());
            std::env::temp_dir().join(format!("accord-demo-{}", &tag[..12]))
        }
    };
    std::fs::create_dir_all(&dir).map_err(Fail::usage)?;
    if dir.join("ledger").exists() {
        return Err(Fail::usage(anyhow!(
            "{} already holds a demo ledger; give another --dir",
            dir.display()
        )));
    }
    let ledger = p(&dir.join("ledger"));
    let keys = dir.join("keys");
    let state = p(&dir.join("state"));
    let with_ledger = |rest: &[String]| -> Vec<String> {
        let mut v = vec![s("--ledger"), ledger.clone()];
        v.extend_from_slice(rest);
        v
    };
    out(&format!("accord demo: everything lives in {}\n", dir.display()));

    step(
        "A custodian creates the ledger and its own signing key",
        &with_ledger(&[
            s("init"),
            s("--origin"),
            s(ORIGIN),
            s("--key-file"),
            p(&dir.join("custodian").join("ledger.key")),
        ]),
    )?;
    // What the custodian publishes; verifiers get it from there, never from the data they check.
    let vkey = capture(&with_ledger(&[s("ledger-key")]))?.trim().to_string();
    for (name, _, _) in COMPANIES {
        step(
            &format!("{name} makes a signing key"),
            &[s("key"), s("generate"), s(name), s("--dir"), p(&keys)],
        )?;
        step(
            &format!("{name} makes a recovery key, to keep offline"),
            &[
                s("key"),
                s("generate"),
                format!("{name}-recovery"),
                s("--dir"),
                p(&keys),
            ],
        )?;
    }
    for (name, org, domain) in COMPANIES {
        step(
            &format!("{org} registers its name and key"),
            &with_ledger(&[
                s("register"),
                s("--key"),
                p(&keys.join(format!("{name}.key"))),
                s("--org"),
                s(org),
                s("--domain"),
                s(domain),
                s("--contact"),
                format!("security@{domain}"),
                s("--recovery-key"),
                p(&keys.join(format!("{name}-recovery.pub"))),
            ]),
        )?;
    }
    let next_year = accord::time::format(accord::clock::now() + 365 * 86_400)[..10].to_string();
    let attestations: [(&str, &[&str], &[&str]); 3] = [
        (
            "contoso",
            &["no-backdoors", "no-offensive-aid", "patch-all-customers"],
            &["Contoso Cloud", "Contoso Mail"],
        ),
        (
            "fabrikam",
            &["no-backdoors", "patch-all-customers"],
            &["Fabrikam Routers"],
        ),
        (
            "northwind",
            &["no-offensive-aid", "coordinated-disclosure"],
            &["Northwind Analytics"],
        ),
    ];
    for (name, norms, scope) in attestations {
        let mut a = vec![s("attest"), s("--key"), p(&keys.join(format!("{name}.key")))];
        for n in norms {
            a.extend([s("--norm"), s(n)]);
        }
        for sc in scope {
            a.extend([s("--scope"), s(sc)]);
        }
        a.extend([s("--expires"), next_year.clone()]);
        step(&format!("{name} attests {}", norms.join(", ")), &with_ledger(&a))?;
    }
    step(
        "Fabrikam withdraws its attestation (entry 4)",
        &with_ledger(&[
            s("withdraw"),
            s("--key"),
            p(&keys.join("fabrikam.key")),
            s("--entry"),
            s("4"),
            s("--reason"),
            s("Router line sold; pledge to be renewed by the new owner"),
        ]),
    )?;
    step(
        "Anyone verifies the whole ledger against the public key the custodian published (--ledger-key)",
        &with_ledger(&[
            s("verify"),
            s("--ledger-key"),
            vkey.clone(),
            s("--state"),
            state.clone(),
        ]),
    )?;
    step("Who attests what now?", &with_ledger(&[s("status")]))?;
    step(
        "Who pledges no backdoors?",
        &with_ledger(&[s("status"), s("--norm"), s("no-backdoors")]),
    )?;
    step("The latest signed checkpoint", &with_ledger(&[s("checkpoint")]))?;
    let proof = p(&dir.join("contoso-pledge.proof"));
    step(
        "An auditor exports an offline proof of Contoso's pledge (entry 3)",
        &with_ledger(&[s("prove"), s("3"), s("--out"), proof.clone()]),
    )?;
    step(
        "Anyone checks it with nothing but the ledger's public key",
        &[
            s("verify-proof"),
            proof,
            s("--ledger-key"),
            vkey.clone(),
            s("--state"),
            p(&dir.join("auditor-state")),
        ],
    )?;

    // A key rotation, and the new key at work.
    step(
        "Contoso makes its next signing key",
        &[s("key"), s("generate"), s("contoso-2"), s("--dir"), p(&keys)],
    )?;
    step(
        "Contoso rotates to it: the new key accepts, the old key signs the hand-over",
        &with_ledger(&[
            s("key"),
            s("rotate"),
            s("--key"),
            p(&keys.join("contoso.key")),
            s("--new"),
            p(&keys.join("contoso-2.key")),
        ]),
    )?;
    step(
        "Contoso renews its pledge with the new key (it supersedes entry 3)",
        &with_ledger(&[
            s("attest"),
            s("--key"),
            p(&keys.join("contoso-2.key")),
            s("--norm"),
            s("no-backdoors"),
            s("--norm"),
            s("patch-all-customers"),
            s("--scope"),
            s("Contoso Cloud"),
            s("--supersedes"),
            s("3"),
            s("--expires"),
            next_year.clone(),
        ]),
    )?;

    hsm(&dir, &with_ledger, &next_year)?;

    // Copies: an export verified offline, and a read-only mirror made from it.
    let export = p(&dir.join("ledger.export"));
    let mirror = p(&dir.join("mirror"));
    step(
        "The custodian exports the whole ledger to one file (for mirrors and offline verifiers)",
        &with_ledger(&[s("export"), s("--out"), export.clone()]),
    )?;
    step(
        "Anyone verifies the export offline, with nothing but the ledger's public key",
        &[
            s("verify"),
            s("--file"),
            export.clone(),
            s("--ledger-key"),
            vkey.clone(),
            s("--state"),
            p(&dir.join("auditor-state")),
        ],
    )?;
    step(
        "A mirror: a read-only copy built from the export, after verifying it",
        &[
            s("--ledger"),
            mirror.clone(),
            s("import"),
            export,
            s("--ledger-key"),
            vkey.clone(),
        ],
    )?;
    step(
        "Every organisation in the mirror: name, domain, current key, recovery key, pledges in force",
        &[s("--ledger"), mirror.clone(), s("orgs")],
    )?;

    // The public side: C2SP tiles in a directory any web server serves, verified from there.
    let public = p(&dir.join("public"));
    step(
        "The custodian publishes the ledger as C2SP tlog-tiles: a directory any web server or CDN can serve",
        &with_ledger(&[s("publish"), public.clone()]),
    )?;
    step(
        "Anyone verifies the published log (every entry bundle and hash tile) with only the ledger key",
        &[
            s("verify"),
            public.clone(),
            s("--ledger-key"),
            vkey.clone(),
            s("--state"),
            p(&dir.join("reader-state")),
        ],
    )?;

    service(&dir, &with_ledger, &keys, &vkey, &next_year)?;

    let try_next = [
        (
            "everything said in Contoso's name, in order",
            format!("accord --ledger {} history --org 'Contoso Ltd'", quote(&ledger)),
        ),
        (
            "every attestation with its state (live, withdrawn, superseded, expired)",
            format!("accord --ledger {} status --all", quote(&ledger)),
        ),
        (
            "one entry in full",
            format!("accord --ledger {} show 8", quote(&ledger)),
        ),
        (
            "verify the mirror against the same key",
            format!(
                "accord --ledger {} verify --ledger-key {}",
                quote(&mirror),
                quote(&vkey)
            ),
        ),
        (
            "serve the ledger over HTTP (tiles, checkpoint, /api/v1/...) while it keeps growing",
            format!("accord --ledger {} serve --listen 127.0.0.1:8080", quote(&ledger)),
        ),
        (
            "then, from another terminal, verify and mirror it over HTTP",
            format!(
                "accord verify http://127.0.0.1:8080/ --ledger-key {}; accord --ledger {} mirror http://127.0.0.1:8080/ --ledger-key {}",
                quote(&vkey),
                quote(&p(&dir.join("http-mirror"))),
                quote(&vkey)
            ),
        ),
        (
            "end a lost key, then recover with the recovery key",
            "accord key revoke --help; accord key recover --help".to_string(),
        ),
        (
            "shell completions and the manual page",
            "accord completions bash; accord man | man -l -".to_string(),
        ),
    ];
    out(&format!(
        "\nDone. The demo's ledger, keys, mirror, published log and state are in {}\n\nWhat to try next:\n",
        dir.display()
    ));
    for (what, cmd) in try_next {
        out(&format!("  {cmd}\n      {what}\n"));
    }
    out("  README.md has a tour of every command; docs/FORMAT.md every byte.\n");
    Ok(())
}

/// `accord serve --writable` run by the demo, stopped (SIGKILL) if a step fails before the demo
/// stops it with SIGTERM.
struct Service {
    child: std::process::Child,
    /// What it wrote on standard error, read on a thread of its own.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Service {
    fn said(&self) -> String {
        self.stderr
            .lock()
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// Waits until the service answers at `url` as the demo's ledger (its origin), or fails.
    fn wait_ready(&mut self, url: &str) -> Result<(), Fail> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let client =
            accord::remote::LedgerServer::new(url, std::time::Duration::from_secs(2)).map_err(Fail::usage)?;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Fail::usage(anyhow!(
                    "the demo's service stopped ({status}): {}",
                    self.said()
                )));
            }
            match client.origin() {
                Ok(o) if o == ORIGIN => return Ok(()),
                // Another server took the port between the demo's choosing it and the
                // service's listening on it: the demo's statements are not for it.
                Ok(o) => {
                    return Err(Fail::usage(anyhow!(
                        "another server (ledger {o:?}) answers at {url}; run the demo again"
                    )))
                }
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                Err(e) => {
                    return Err(Fail::usage(anyhow!(
                        "the demo's service did not answer at {url}: {e}; it said: {}",
                        self.said()
                    )))
                }
            }
        }
    }

    /// Stops it as a custodian would (SIGTERM: it finishes what it took and exits), shown as
    /// the command that does it.
    fn stop(mut self) -> Result<(), Fail> {
        let pid = self.child.id().to_string();
        // The shell's `kill` (a builtin of every POSIX sh): std sends no SIGTERM, and the
        // demo's PATH may hold no kill program. Should even that fail, SIGKILL: the service
        // loses nothing it acknowledged, only its goodbye.
        let line = format!("kill -TERM {pid}");
        let mut term = std::process::Command::new("/bin/sh");
        term.args(["-c", "kill -TERM \"$0\"", &pid])
            .stdin(std::process::Stdio::null());
        if run_shown(&line, &mut term).is_err() {
            out("# (SIGTERM could not be sent: SIGKILL instead; nothing acknowledged is lost)\n");
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Ok(());
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match self.child.try_wait().map_err(Fail::usage)? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => {
                    return Err(Fail::usage(anyhow!(
                        "the demo's service exited {status}: {}",
                        self.said()
                    )))
                }
                None if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                None => return Err(Fail::usage(anyhow!("the demo's service did not stop on SIGTERM"))),
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The custodian runs the ledger as a service; Northwind submits an attestation to it from its
/// own machine with `--server` (no ledger there); anyone verifies the served ledger over HTTP,
/// consistent with the published log verified before; SIGTERM stops the service.
fn service(
    dir: &Path,
    with_ledger: &dyn Fn(&[String]) -> Vec<String>,
    keys: &Path,
    vkey: &str,
    expires: &str,
) -> Result<(), Fail> {
    // A free port on loopback, chosen here so that the command shown is the one run.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| Fail::usage(anyhow!("no free port on 127.0.0.1 for the demo's service: {e}")))?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}/");
    let args = with_ledger(&[s("serve"), s("--writable"), s("--listen"), listen]);
    out("\n# The custodian runs the ledger as a service: serve --writable takes signed statements over HTTP\n# (POST /entries) and answers once each is durable under a signed checkpoint\n");
    out(&format!("$ {} &\n", shown_accord(&args)));
    let mut child = accord()?
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Fail::usage(anyhow!("the demo's service could not start: {e}")))?;
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    if let Some(mut pipe) = child.stderr.take() {
        let sink = std::sync::Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut pipe, &mut buf) {
                if let Ok(mut s) = sink.lock() {
                    if s.len() < 64 * 1024 {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            }
        });
    }
    let mut svc = Service { child, stderr };
    svc.wait_ready(&url)?;
    step(
        "Northwind submits from its own machine, where there is no ledger: --server (or ACCORD_SERVER) sends the signed statement to the service",
        &[
            s("attest"),
            s("--key"),
            p(&keys.join("northwind.key")),
            s("--norm"),
            s("patch-all-customers"),
            s("--scope"),
            s("Northwind Analytics"),
            s("--expires"),
            s(expires),
            s("--server"),
            url.clone(),
        ],
    )?;
    step(
        "Anyone verifies the served ledger over HTTP, consistent with the published log verified before",
        &[
            s("verify"),
            url,
            s("--ledger-key"),
            s(vkey),
            s("--state"),
            p(&dir.join("reader-state")),
        ],
    )?;
    out("\n# The custodian stops the service; it finishes what it took first\n");
    svc.stop()
}

/// Tailspin Toys keeps its signing key in an HSM: accord gets the public key, writes the bytes to
/// sign, and assembles the statements around the HSM's signatures. OpenSSL plays the HSM when it
/// signs Ed25519; otherwise a key file does, in a step that says so.
fn hsm(dir: &Path, with_ledger: &dyn Fn(&[String]) -> Vec<String>, expires: &str) -> Result<(), Fail> {
    let hsm = dir.join("hsm");
    std::fs::create_dir_all(&hsm).map_err(Fail::usage)?;
    let file = |n: &str| p(&hsm.join(n));
    let openssl = openssl_signs_ed25519(&hsm);
    let public = if openssl {
        out("\n# Tailspin Toys keeps its signing key in an HSM (OpenSSL plays the HSM here): the secret never leaves it\n");
        program_step(
            "openssl",
            &[
                s("genpkey"),
                s("-algorithm"),
                s("ed25519"),
                s("-out"),
                file("tailspin.pem"),
            ],
        )?;
        program_step(
            "openssl",
            &[
                s("pkey"),
                s("-in"),
                file("tailspin.pem"),
                s("-pubout"),
                s("-out"),
                file("tailspin-pub.pem"),
            ],
        )?;
        file("tailspin-pub.pem")
    } else {
        out("\n# Tailspin Toys keeps its signing key in an HSM. OpenSSL (with Ed25519) is not installed, so a key\n# file stands in for the HSM here; accord's signing commands below still see only the public key\n");
        step_quietly(&[s("key"), s("generate"), s("tailspin"), s("--dir"), p(&hsm)])?;
        file("tailspin.pub")
    };
    step(
        "Its recovery key stays offline, outside the HSM",
        &[
            s("key"),
            s("generate"),
            s("tailspin-recovery"),
            s("--dir"),
            p(&hsm),
        ],
    )?;
    out("\n# accord writes the exact bytes to sign (COSE Sig_structure): a registration and a pledge\n");
    step_quietly(&with_ledger(&[
        s("sign"),
        s("--public-key"),
        public.clone(),
        s("--register"),
        s("--org"),
        s("Tailspin Toys"),
        s("--domain"),
        s("tailspin.example"),
        s("--contact"),
        s("security@tailspin.example"),
        s("--recovery-key"),
        file("tailspin-recovery.pub"),
        s("--emit-tbs"),
        file("registration.tbs"),
    ]))?;
    step_quietly(&with_ledger(&[
        s("sign"),
        s("--public-key"),
        public.clone(),
        s("--org"),
        s("Tailspin Toys"),
        s("--norm"),
        s("no-backdoors"),
        s("--norm"),
        s("no-offensive-aid"),
        s("--scope"),
        s("Tailspin Drones"),
        s("--expires"),
        s(expires),
        s("--emit-tbs"),
        file("pledge.tbs"),
    ]))?;
    if openssl {
        out("\n# The HSM signs them (Ed25519, outside accord)\n");
    } else {
        out("\n# The HSM signs them (Ed25519, outside accord). Stand-in for the HSM: the demo signs with the key file\n");
    }
    for what in ["registration", "pledge"] {
        let (tbs, sig) = (file(&format!("{what}.tbs")), file(&format!("{what}.sig")));
        if openssl {
            program_step(
                "openssl",
                &[
                    s("pkeyutl"),
                    s("-sign"),
                    s("-rawin"),
                    s("-inkey"),
                    file("tailspin.pem"),
                    s("-in"),
                    tbs,
                    s("-out"),
                    sig,
                ],
            )?;
        } else {
            out(&format!(
                "(HSM stand-in) Ed25519-sign {} with {} -> {}\n",
                tbs,
                file("tailspin.key"),
                sig
            ));
            stand_in_sign(&hsm.join("tailspin.key"), Path::new(&tbs), Path::new(&sig))?;
        }
    }
    out("\n# accord assembles each statement around its signature, and checks the signature\n");
    for what in ["registration", "pledge"] {
        step_quietly(&[
            s("sign"),
            s("--tbs"),
            file(&format!("{what}.tbs")),
            s("--signature"),
            file(&format!("{what}.sig")),
            s("--public-key"),
            public.clone(),
            s("--out"),
            file(&format!("{what}.cose")),
        ])?;
    }
    step(
        "The custodian appends both in one transaction: all or none",
        &with_ledger(&[s("append"), file("registration.cose"), file("pledge.cose")]),
    )
}

/// The HSM's part when OpenSSL cannot play it: an Ed25519 signature of the bytes in `tbs` by the
/// key file `key`, written raw (64 bytes) to `sig`.
fn stand_in_sign(key: &Path, tbs: &Path, sig: &Path) -> Result<(), Fail> {
    let sk = accord::keyfile::read_secret_key(key).map_err(Fail::usage)?;
    let bytes = std::fs::read(tbs).map_err(|e| Fail::usage(anyhow!("{}: {e}", tbs.display())))?;
    accord::keyfile::write_new_file(sig, &sk.sign(&bytes), 0o644).map_err(Fail::usage)
}
