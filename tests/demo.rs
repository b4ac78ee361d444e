//! `accord demo` shows the whole product in seconds: verification against the published ledger
//! key, a key rotation, a key held in an HSM signing outside accord (OpenSSL as the HSM, or a
//! stand-in that says so), an export verified offline, a mirror, the organisations, the ledger
//! run as a service that a company submits to with `--server`, and what to try next; every step
//! printed as the command a user would type.

mod common;

use common::World;

/// Runs the demo in `w` with `extra` environment; returns stdout and stderr.
fn demo(w: &World, path: Option<&str>, args: &[&str]) -> (String, String) {
    let dir = w.path_str("demo");
    let mut c = w.cmd();
    if let Some(p) = path {
        c.env("PATH", p);
    }
    let t = std::time::Instant::now();
    let o = c.args(args).args(["demo", "--dir", &dir]).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "demo failed:\n{stdout}\n{stderr}");
    // Seconds, even in a debug build on a busy machine.
    assert!(t.elapsed().as_secs() < 60, "demo took {:?}", t.elapsed());
    (stdout, stderr)
}

/// The `$ ...` command lines of the demo's output.
fn commands(out: &str) -> Vec<&str> {
    out.lines().filter_map(|l| l.strip_prefix("$ ")).collect()
}

fn has(out: &str, what: &str, pred: impl Fn(&str) -> bool) {
    assert!(
        commands(out).iter().any(|c| pred(c)),
        "the demo shows no {what}:\n{out}"
    );
}

fn check_whole_product(out: &str) {
    let vkey_arg = |c: &str| c.contains(" --ledger-key demo.accord.example/pledges+");
    has(out, "verify with --ledger-key", |c| {
        c.contains(" verify ") && !c.contains("--file") && vkey_arg(c)
    });
    has(out, "key rotation", |c| {
        c.contains(" key rotate --key ") && c.contains(" --new ")
    });
    has(out, "attestation with the rotated key", |c| {
        c.contains(" attest --key ") && c.contains("contoso-2.key") && c.contains("--supersedes 3")
    });
    has(out, "external signing (--emit-tbs)", |c| {
        c.contains(" sign --public-key ") && c.contains(" --emit-tbs ")
    });
    has(out, "assembly of an external signature", |c| {
        c.contains(" sign --tbs ") && c.contains(" --signature ")
    });
    has(out, "append of the externally signed statements", |c| {
        c.contains(" append ")
    });
    has(out, "export", |c| c.contains(" export --out "));
    has(out, "verify of the export", |c| {
        c.contains(" verify --file ") && vkey_arg(c)
    });
    has(out, "mirror import", |c| {
        c.contains(" import ") && vkey_arg(c) && c.contains("mirror")
    });
    has(out, "accord orgs", |c| c.ends_with(" orgs"));
    // What the steps said.
    assert!(
        out.contains("OK: ledger demo.accord.example/pledges verified: 7 entries"),
        "{out}"
    );
    assert!(
        out.contains("verified: 11 entries (4 registrations, 5 attestations, 1 withdrawal, 1 rotation"),
        "{out}"
    );
    assert!(
        out.contains("consistent with the checkpoint of size 7 verified before"),
        "{out}"
    );
    assert!(
        out.contains("appended registration of \"tailspin toys\" at index 9"),
        "{out}"
    );
    assert!(out.contains("now 11 entries (was 0)"), "{out}");
    has(out, "publish", |c| {
        c.contains(" publish ") && c.ends_with("/public")
    });
    has(out, "verify of the published directory", |c| {
        c.contains(" verify ") && c.contains("/public --ledger-key ") && vkey_arg(c)
    });
    assert!(
        out.contains("OK: the ledger demo.accord.example/pledges published at"),
        "{out}"
    );
    assert!(
        out.contains("Tailspin Toys (tailspin.example, self-asserted)"),
        "{out}"
    );
    // The service: serve --writable, a company submitting with --server, the served ledger
    // verified over HTTP, and the service stopped.
    has(out, "serve --writable in the background", |c| {
        c.contains(" serve --writable --listen 127.0.0.1:") && c.ends_with(" &")
    });
    has(out, "attest --server", |c| {
        c.contains(" attest --key ")
            && c.contains("northwind.key")
            && c.contains(" --server http://127.0.0.1:")
            && !c.contains("--ledger")
    });
    has(out, "verify over HTTP", |c| {
        c.contains(" verify http://127.0.0.1:") && vkey_arg(c)
    });
    has(out, "the service stopped", |c| c.starts_with("kill -TERM "));
    assert!(
        out.contains("appended attestation of \"northwind traders\" at index 11"),
        "{out}"
    );
    assert!(
        out.contains("published at http://127.0.0.1:")
            && out.contains("verified: 12 entries")
            && out.contains("consistent with the checkpoint of size 11 verified before"),
        "{out}"
    );
    let next = out
        .split("What to try next:")
        .nth(1)
        .expect("no 'What to try next'");
    for hint in [
        "history --org",
        "status --all",
        "verify --ledger-key",
        "completions bash",
        "accord man",
        "serve --listen 127.0.0.1:8080",
        "accord verify http://127.0.0.1:8080/ --ledger-key",
        "mirror http://127.0.0.1:8080/",
    ] {
        assert!(next.contains(hint), "what to try next lacks {hint}: {next}");
    }
    // Every accord step is printed as a command a user could type: the binary's name, then
    // arguments (paths inside the demo's dir).
    for c in commands(out) {
        assert!(
            c.starts_with("accord ") || c.starts_with("openssl ") || c.starts_with("kill -TERM "),
            "a step that is not a command: {c}"
        );
    }
}

#[test]
fn demo_shows_the_whole_product() {
    let w = World::new();
    let (out, _) = demo(&w, None, &[]);
    check_whole_product(&out);
    let openssl = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if openssl {
        // OpenSSL plays the HSM: the key, its public half (PEM), and the signatures.
        has(&out, "HSM key made by openssl", |c| {
            c.starts_with("openssl genpkey -algorithm ed25519")
        });
        has(&out, "signature by openssl", |c| {
            c.starts_with("openssl pkeyutl -sign -rawin")
        });
        has(&out, "PEM public key given to accord", |c| {
            c.contains("--public-key") && c.contains("tailspin-pub.pem")
        });
    } else {
        let what = "openssl is not installed: the demo's OpenSSL HSM is not shown (the stand-in is)";
        if std::env::var_os("ACCORD_REQUIRE_ALL").is_some_and(|v| v == "1") {
            panic!("{what} (ACCORD_REQUIRE_ALL=1)");
        }
        eprintln!("SKIPPED: {what}");
        assert!(out.contains("(HSM stand-in)"), "{out}");
    }
}

#[test]
fn demo_without_openssl_says_a_key_file_stands_in_for_the_hsm() {
    let w = World::new();
    let (out, _) = demo(&w, Some("/nonexistent"), &[]);
    check_whole_product(&out);
    assert!(out.contains("a key\n# file stands in for the HSM"), "{out}");
    assert!(out.contains("(HSM stand-in) Ed25519-sign "), "{out}");
    assert!(!commands(&out).iter().any(|c| c.starts_with("openssl")), "{out}");
}

#[test]
fn quiet_demo_shows_the_steps_and_no_notes() {
    let w = World::new();
    let (out, err) = demo(&w, None, &["--quiet"]);
    check_whole_product(&out);
    assert!(
        commands(&out)
            .iter()
            .filter(|c| c.starts_with("accord "))
            .all(|c| c.starts_with("accord --quiet ")),
        "{out}"
    );
    assert_eq!(err, "", "--quiet demo wrote to stderr");
}
