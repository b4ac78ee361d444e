//! What accord writes to standard error besides errors: a progress bar for long work (`verify`,
//! `verify --file`, `export`, `import`) only on a terminal, and notes that `--quiet` silences;
//! errors are reported whatever `--quiet` says.

mod common;

use common::{register_args, s, World};

/// Text only a progress bar writes.
fn has_progress(text: &str) -> bool {
    text.contains("entries/s") || text.contains(" left") || text.contains('\r')
}

/// A ledger with a few entries, its vkey and an export of it.
fn world() -> (World, String, String) {
    let w = World::new();
    let vkey = w.init();
    let k = w.register("acme", "Acme Corp");
    for i in 0..5 {
        w.attest(&k, &["no-backdoors"], &format!("Product {i}"));
    }
    let export = s(&w.export("ledger.export"));
    (w, vkey, export)
}

#[test]
fn no_progress_through_a_pipe() {
    let (w, vkey, export) = world();
    let mirror = w.path_str("mirror");
    let runs: [Vec<&str>; 4] = [
        vec!["verify", "--ledger-key", &vkey],
        vec!["verify", "--file", &export, "--ledger-key", &vkey],
        vec!["export", "--out", "again.export"],
        vec!["--ledger", &mirror, "import", &export, "--ledger-key", &vkey],
    ];
    for args in runs {
        let o = w.run(&args);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        assert!(
            !has_progress(&o.stderr),
            "{args:?} drew progress into a pipe: {:?}",
            o.stderr
        );
        assert!(!has_progress(&o.stdout), "{args:?}: {:?}", o.stdout);
    }
}

#[test]
fn quiet_silences_notes_but_not_results_or_errors() {
    let w = World::new();
    w.init();
    let k = w.key("acme");
    // Without --quiet: register's notes.
    let o = w.run(&register_args(&s(&k), "Acme Corp", None));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("note: "), "{}", o.stderr);
    // With --quiet (before or after the command): the result on stdout, nothing on stderr.
    let k2 = w.key("globex");
    let k2 = s(&k2);
    let mut args = vec!["--quiet"];
    args.extend(register_args(&k2, "Globex", None));
    let o = w.run(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("appended registration"), "{}", o.stdout);
    assert_eq!(o.stderr, "", "--quiet left notes");
    let k3 = w.key("initech");
    let k3 = s(&k3);
    let mut args = register_args(&k3, "Initech", None);
    args.push("-q");
    let o = w.run(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stderr, "", "-q left notes");
    // verify's note about the recorded key, and the other commands' notes.
    let o = w.run(&["verify"]);
    assert!(
        o.stderr
            .contains("note: checking against the ledger key recorded"),
        "{}",
        o.stderr
    );
    let o = w.run(&["--quiet", "verify"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("OK: "), "{}", o.stdout);
    assert_eq!(o.stderr, "");
    let k4 = w.key("acme-2");
    let o = w.run(&["-q", "key", "rotate", "--key", &s(&k), "--new", &s(&k4)]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    let o = w.run(&[
        "-q",
        "--ledger",
        &w.path_str("new"),
        "init",
        "--origin",
        "x.example/q",
    ]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert!(
        o.stdout.starts_with("x.example/q+"),
        "the vkey is the result: {}",
        o.stdout
    );
    // Errors are never silenced, nor their hints.
    let e = w.fails(2, &["--quiet", "show", "99"]);
    assert!(e.contains("no entry 99"), "{e}");
    let e = w.fails(
        2,
        &[
            "--quiet",
            "attest",
            "--key",
            "missing.key",
            "--norm",
            "no-backdoors",
            "--scope",
            "X",
        ],
    );
    assert!(e.starts_with("error: "), "{e}");
    let other = o.stdout.trim();
    let e = w.fails(1, &["-q", "verify", "--ledger-key", other]);
    assert!(e.contains("verification FAILED"), "{e}");
}

/// `script` runs a command on a pseudo-terminal (util-linux); None where it is missing.
fn on_a_terminal(w: &World, args: &[&str]) -> Option<String> {
    let probe = std::process::Command::new("script")
        .args(["-qec", "true", "/dev/null"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        let what = "`script` (util-linux) is missing: the progress bar on a terminal is not checked";
        if std::env::var_os("ACCORD_REQUIRE_ALL").is_some_and(|v| v == "1") {
            panic!("{what} (ACCORD_REQUIRE_ALL=1)");
        }
        eprintln!("SKIPPED: {what}");
        return None;
    }
    let quote = |a: &str| format!("'{}'", a.replace('\'', "'\\''"));
    let line = std::iter::once(env!("CARGO_BIN_EXE_accord"))
        .chain(args.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let o = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(w.tmp.path())
        .env("XDG_CONFIG_HOME", w.path("config"))
        .env("XDG_STATE_HOME", w.path("state"))
        .env("ACCORD_LEDGER", w.ledger())
        .env("TERM", "xterm")
        .env_remove("HOME")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{args:?} on a terminal: {text}");
    Some(text)
}

#[test]
fn progress_bar_on_a_terminal() {
    let (w, vkey, export) = world();
    let mirror = w.path_str("mirror");
    let runs: [(&str, Vec<&str>); 4] = [
        ("verifying", vec!["verify", "--ledger-key", &vkey]),
        (
            "verifying",
            vec!["verify", "--file", &export, "--ledger-key", &vkey],
        ),
        ("exporting", vec!["export", "--out", "tty.export"]),
        (
            "importing",
            vec!["--ledger", &mirror, "import", &export, "--ledger-key", &vkey],
        ),
    ];
    for (what, args) in &runs {
        let Some(text) = on_a_terminal(&w, args) else {
            return;
        };
        // The bar: what, entries done of all (6 entries), the rate and the time left; then
        // cleared (ESC [2K) before the result.
        assert!(
            text.contains(&format!("{what} [")),
            "{args:?}: no bar in {text:?}"
        );
        assert!(text.contains("/6 entries"), "{args:?}: {text:?}");
        assert!(
            text.contains("entries/s") && text.contains(" left"),
            "{args:?}: {text:?}"
        );
        assert!(text.contains("\x1b[2K"), "{args:?}: bar not cleared: {text:?}");
    }
    // --quiet and --json draw none, on a terminal too.
    let text = on_a_terminal(&w, &["--quiet", "verify", "--ledger-key", &vkey]).unwrap();
    assert!(!text.contains("verifying ["), "{text:?}");
    assert!(text.contains("OK: "), "{text:?}");
    let text = on_a_terminal(&w, &["verify", "--ledger-key", &vkey, "--json"]).unwrap();
    assert!(!text.contains("verifying ["), "{text:?}");
}
