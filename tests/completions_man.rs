//! `accord completions SHELL` and `accord man`: made from the clap definitions, they name every
//! command `accord --help` lists; the man page is roff that groff and man render without a
//! warning (skipped, with a message, where they are not installed).

mod common;

use common::World;

/// The commands a help text lists under "Commands:" (without `help`).
fn commands_in_help(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Every command, nested ones as "key rotate".
fn every_command(w: &World) -> Vec<String> {
    // Leaves of the command tree, at any depth (`witness key generate` has three levels).
    fn leaves(w: &World, path: Vec<String>, all: &mut Vec<String>) {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let nested = commands_in_help(&w.ok(&args));
        if nested.is_empty() {
            all.push(path.join(" "));
        }
        for n in nested {
            let mut p = path.clone();
            p.push(n);
            leaves(w, p, all);
        }
    }
    let mut all = Vec::new();
    for c in commands_in_help(&w.ok(&["--help"])) {
        leaves(w, vec![c], &mut all);
    }
    assert!(all.len() > 25, "too few commands read from --help: {all:?}");
    for c in ["completions", "man", "demo", "orgs", "key rotate", "key revoke"] {
        assert!(all.iter().any(|a| a == c), "{c} missing from --help: {all:?}");
    }
    all
}

/// Whether `program` can be run.
fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// Prints that a check was skipped, or fails under ACCORD_REQUIRE_ALL=1 (as in .ci/run).
fn skip(what: &str) {
    if std::env::var_os("ACCORD_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("{what} (ACCORD_REQUIRE_ALL=1)");
    }
    eprintln!("SKIPPED: {what}");
}

#[test]
fn bash_completion_names_every_command() {
    let w = World::new();
    let script = w.ok(&["completions", "bash"]);
    assert!(script.contains("complete -F _accord"), "{script}");
    for c in every_command(&w) {
        // clap_complete's bash script has a case arm per command path, "accord,key" then
        // "accord__subcmd__key,rotate".
        let last = c.split(' ').next_back().unwrap();
        assert!(
            script.contains(&format!(",{last})")),
            "bash completion lacks {c:?}"
        );
    }
    // Options and their values are offered too.
    assert!(script.contains("--ledger-key"), "no --ledger-key");
    assert!(script.contains("--quiet"), "no --quiet");
    assert!(script.contains("bash zsh fish"), "no shell values");
    if have("bash") {
        let f = w.path("accord.bash");
        std::fs::write(&f, &script).unwrap();
        let o = std::process::Command::new("bash")
            .arg("-n")
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    } else {
        skip("bash is not installed: the completion script's syntax is not checked");
    }
}

#[test]
fn zsh_and_fish_completions_name_the_commands() {
    let w = World::new();
    let zsh = w.ok(&["completions", "zsh"]);
    let fish = w.ok(&["completions", "fish"]);
    assert!(zsh.starts_with("#compdef accord"), "{zsh}");
    for c in every_command(&w) {
        let last = c.split(' ').next_back().unwrap();
        assert!(zsh.contains(&format!("'{last}:")), "zsh completion lacks {c:?}");
        assert!(
            fish.contains(&format!("-a \"{last}\"")),
            "fish completion lacks {c:?}"
        );
    }
    // Another shell is a usage error, exit 2.
    let e = w.fails(2, &["completions", "tcsh"]);
    assert!(e.contains("bash, zsh, fish"), "{e}");
}

#[test]
fn man_page_is_roff_naming_every_command() {
    let w = World::new();
    let page = w.ok(&["man"]);
    // The page's title, then the sections a man page has.
    let th = page.lines().find(|l| l.starts_with(".TH ")).expect("no .TH line");
    assert!(th.starts_with(".TH accord 1"), "{th}");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "COMMANDS",
        "\"EXIT STATUS\"",
        "ENVIRONMENT",
    ] {
        assert!(
            page.lines().any(|l| l == format!(".SH {section}")),
            "no section {section}"
        );
    }
    // Every command has a subsection with its full name.
    for c in every_command(&w) {
        assert!(
            page.lines().any(|l| l == format!(".SS \"accord {c}\"")),
            "man page lacks a section for accord {c}"
        );
    }
    // Roff: every control line is a known request or macro; text lines never start with a
    // control character (a line of text starting with '.' or '\'' would be read as a request).
    let known = [
        "TH", "SH", "SS", "PP", "TP", "br", "nf", "fi", "ie", "el", "IP", "RS", "RE",
    ];
    for line in page.lines() {
        if let Some(req) = line.strip_prefix('.') {
            let name = req.split_whitespace().next().unwrap_or("");
            assert!(known.contains(&name), "unknown request {line:?}");
        }
        assert!(!line.starts_with('\''), "text line read as a request: {line:?}");
    }
    // The global options and the exit codes.
    assert!(page.contains("\\-\\-ledger"), "no --ledger");
    assert!(page.contains("\\-\\-quiet"), "no --quiet");
    for code in ["0", "1", "2"] {
        assert!(page.contains(&format!(".TP\n\\fB{code}\\fR")), "exit code {code}");
    }

    // Rendered by groff (warnings on, as errors) and by man, where they are installed.
    let f = w.path("accord.1");
    std::fs::write(&f, &page).unwrap();
    if have("groff") {
        let o = std::process::Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && err.trim().is_empty(), "groff: {err}");
    } else {
        skip("groff is not installed: the man page is not rendered");
    }
    if have("man") {
        let o = std::process::Command::new("man")
            .arg("-l")
            .arg(&f)
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "man -l: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(text.contains("accord key rotate"), "{text}");
        assert!(text.contains("EXIT STATUS"), "{text}");
    } else {
        skip("man is not installed: the man page is not rendered by man");
    }
}

#[test]
fn completions_and_man_survive_a_closed_pipe() {
    // `accord man | head -1`: the reader stops early; that is not an error (and no panic).
    let w = World::new();
    for args in [&["man"][..], &["completions", "bash"][..]] {
        let mut child = w
            .std_cmd()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}
