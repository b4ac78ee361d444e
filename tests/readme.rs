//! The README's examples run. Every ```sh block of README.md is marked, on the line before it,
//! `<!-- runnable -->` or `<!-- not runnable: REASON -->`; the runnable ones are run in order,
//! each command through `sh` with the accord binary of this build first on PATH, in an empty
//! directory with its own HOME and XDG directories, the placeholder `VKEY` replaced by the
//! ledger's public key and `KID` by the first 16 hex digits of Acme Corp's current key id (as
//! `accord orgs` prints it at that point); every command must succeed. The test counts the blocks it ran, so that a
//! block added without a mark, or a mark changed, is noticed. The README links only inside the
//! repository, to files that exist.
//!
//! A date in an example (`--expires 2030-12-31`) fails this test once it has passed, as it would
//! fail for a reader: change the README then.

use std::path::{Path, PathBuf};

/// How many ```sh blocks of the README are marked runnable. Change it when you add or remove
/// one (and mark every new block).
const RUNNABLE_BLOCKS: usize = 10;

const RUNNABLE: &str = "<!-- runnable -->";
const NOT_RUNNABLE: &str = "<!-- not runnable: ";

/// Placeholders a README command may hold, and what fills them.
const PLACEHOLDERS: [&str; 2] = ["VKEY", "KID"];

struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    runnable: bool,
    /// The commands: lines joined where they end with a backslash, with their first line.
    commands: Vec<(usize, String)>,
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// Every ```sh block, with its mark; fails on a block without one.
fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut unmarked = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_end();
        if !fence.starts_with("```") {
            i += 1;
            continue;
        }
        let start = i;
        let is_sh = matches!(fence, "```sh" | "```bash" | "```shell" | "```console");
        let mark = lines[..start]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim())
            .unwrap_or("");
        let mut commands = Vec::new();
        let mut pending: Option<(usize, String)> = None;
        i += 1;
        while i < lines.len() && !lines[i].trim_end().starts_with("```") {
            let l = lines[i];
            let (first, mut text) = pending.take().unwrap_or((i + 1, String::new()));
            match l.trim_end().strip_suffix('\\') {
                Some(cont) => {
                    text.push_str(cont);
                    pending = Some((first, text));
                }
                None => {
                    text.push_str(l);
                    let t = text.trim();
                    if !t.is_empty() && !t.starts_with('#') {
                        commands.push((first, t.to_string()));
                    }
                }
            }
            i += 1;
        }
        assert!(
            pending.is_none(),
            "README.md:{}: a block ends with a backslash",
            start + 1
        );
        i += 1;
        if !is_sh {
            continue;
        }
        let runnable = mark == RUNNABLE;
        let not_runnable = mark
            .strip_prefix(NOT_RUNNABLE)
            .and_then(|r| r.strip_suffix("-->"))
            .is_some_and(|reason| !reason.trim().is_empty());
        if !runnable && !not_runnable {
            unmarked.push(start + 1);
        }
        blocks.push(Block {
            line: start + 1,
            runnable,
            commands,
        });
    }
    assert!(
        unmarked.is_empty(),
        "README.md: shell blocks at lines {unmarked:?} are marked neither `{RUNNABLE}` nor `{NOT_RUNNABLE}REASON -->` on the line before them"
    );
    blocks
}

/// `sh -c COMMAND` in the reader's directory, with its own HOME and XDG directories and this
/// build's accord first on PATH.
struct Reader {
    tmp: tempfile::TempDir,
}

impl Reader {
    fn new() -> Reader {
        let r = Reader {
            tmp: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(r.work()).unwrap();
        std::fs::create_dir_all(r.tmp.path().join("home")).unwrap();
        r
    }

    fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    fn sh(&self, command: &str) -> std::process::Output {
        let bin = Path::new(env!("CARGO_BIN_EXE_accord")).parent().unwrap();
        let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .unwrap();
        let home = self.tmp.path().join("home");
        std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(self.work())
            .env("PATH", path)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env_remove("ACCORD_LEDGER")
            .env_remove("ACCORD_PASSPHRASE")
            .env_remove("ACCORD_LOCK_WAIT")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
}

fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The command without its trailing comment (no example quotes a '#').
fn code_part(command: &str) -> &str {
    command.split(" #").next().unwrap_or(command)
}

#[test]
fn readme_examples_run() {
    let text = readme();
    let blocks = blocks(&text);
    let runnable = blocks.iter().filter(|b| b.runnable).count();
    assert_eq!(
        runnable, RUNNABLE_BLOCKS,
        "README.md has {runnable} runnable shell blocks; this test expects {RUNNABLE_BLOCKS} (update RUNNABLE_BLOCKS if you meant to add or remove one)"
    );
    let reader = Reader::new();
    let mut vkey: Option<String> = None;
    let mut ran = 0;
    let mut commands = 0;
    for b in blocks.iter().filter(|b| b.runnable) {
        assert!(
            !b.commands.is_empty(),
            "README.md:{}: an empty runnable block",
            b.line
        );
        let needs_openssl = b.commands.iter().any(|(_, c)| c.starts_with("openssl "));
        if needs_openssl && !have("openssl") {
            let what = format!(
                "README.md:{}: openssl is not installed: the HSM example is not run",
                b.line
            );
            if std::env::var_os("ACCORD_REQUIRE_ALL").is_some_and(|v| v == "1") {
                panic!("{what} (ACCORD_REQUIRE_ALL=1)");
            }
            eprintln!("SKIPPED: {what}");
            continue;
        }
        for (line, command) in &b.commands {
            let code = code_part(command);
            // A command is accord or a tool the README says plays a part (OpenSSL as the HSM).
            assert!(
                code.starts_with("accord ") || code.starts_with("openssl "),
                "README.md:{line}: not an accord command: {command}"
            );
            let mut filled = command.clone();
            if code.contains("VKEY") {
                let v = vkey.get_or_insert_with(|| {
                    let o = reader.sh("accord ledger-key");
                    assert!(o.status.success(), "accord ledger-key before README.md:{line}");
                    String::from_utf8(o.stdout).unwrap().trim().to_string()
                });
                filled = filled.replace("VKEY", &format!("'{v}'"));
            }
            if code.contains("KID") {
                let o = reader.sh("accord orgs --json");
                assert!(o.status.success(), "accord orgs --json before README.md:{line}");
                let orgs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                let acme = orgs
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["org"] == "acme corp")
                    .expect("Acme Corp is registered before README.md uses KID");
                let kid = acme["current_keys"][0]
                    .as_str()
                    .expect("Acme Corp has a current key");
                filled = filled.replace("KID", &kid[..16]);
            }
            // Every placeholder is filled: no other word in capitals is left to the shell. (The
            // command as written is checked: a filled-in ledger key may hold capitals, "AZTH".)
            for word in code_part(command).split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
                let caps = word.len() >= 3 && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
                assert!(
                    !caps || PLACEHOLDERS.contains(&word),
                    "README.md:{line}: {word} looks like a placeholder this test does not fill: {command}"
                );
            }
            let o = reader.sh(&filled);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(
                o.status.success(),
                "README.md:{line} failed ({}):\n$ {filled}\n{}\n{stderr}",
                o.status,
                String::from_utf8_lossy(&o.stdout)
            );
            assert!(!stderr.contains("error:"), "README.md:{line}: {stderr}");
            commands += 1;
        }
        ran += 1;
    }
    let skipped = RUNNABLE_BLOCKS - ran;
    assert!(
        ran == RUNNABLE_BLOCKS || (skipped == 1 && !have("openssl")),
        "ran {ran} of {RUNNABLE_BLOCKS} runnable blocks"
    );
    assert!(commands >= 40, "only {commands} commands ran");
    eprintln!("README.md: {ran} blocks, {commands} commands ran");

    // What the story left behind: the ledger, the mirror, the files the examples wrote.
    let w = reader.work();
    for f in [
        "accord-ledger",
        "mirror",
        "keys/acme.key",
        "acme.proof",
        "c.proof",
        "ledger.export",
        "accord.bash",
        "_accord",
        "accord.fish",
        "accord.1",
    ] {
        assert!(w.join(f).exists(), "the README's examples made no {f}");
    }
    let o = reader.sh("accord verify --json --ledger-key \"$(accord ledger-key)\"");
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rotations"], 1, "{v}");
    assert_eq!(v["revocations"], 1, "{v}");
    assert_eq!(v["recoveries"], 1, "{v}");
}

#[test]
fn every_shell_block_is_marked() {
    let text = readme();
    let blocks = blocks(&text);
    let sh_fences = text
        .lines()
        .filter(|l| matches!(l.trim_end(), "```sh" | "```bash" | "```shell" | "```console"))
        .count();
    assert_eq!(blocks.len(), sh_fences, "a shell block was not read");
    assert!(
        blocks.iter().any(|b| !b.runnable),
        "the build commands are marked not runnable"
    );
    // The newcomer's two commands come first.
    let first = &blocks[0];
    assert!(!first.runnable);
    let cmds: Vec<&str> = first.commands.iter().map(|(_, c)| code_part(c).trim()).collect();
    assert_eq!(cmds, ["cargo run --release -- demo", "cargo test"], "{cmds:?}");
}

/// The README without its fenced code blocks and inline code spans.
fn prose_only(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.extend(line.split('`').step_by(2));
            out.push('\n');
        }
    }
    out
}

#[test]
fn prose_only_drops_code_and_keeps_links() {
    let t = "a `http://x/` b\n```sh\nhttp://y/\n```\n[c](https://z/)\n";
    let p = prose_only(t);
    assert!(
        !p.contains("http://x") && !p.contains("http://y") && p.contains("https://z"),
        "{p}"
    );
}

#[test]
fn readme_links_only_inside_the_repository() {
    let text = readme();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Outside code (fences and `spans`, where a URL is an example to type, not a link), no
    // address outside the repository: a bare URL is a link on most renderers.
    let prose = prose_only(&text);
    assert!(
        !prose.contains("http://") && !prose.contains("https://"),
        "README.md links outside the repository"
    );
    let mut links = 0;
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').expect("unclosed link");
            let target = &after[..end];
            let path = target.split('#').next().unwrap();
            assert!(
                !target.contains("://") && !target.starts_with("mailto:") && !target.starts_with('/'),
                "README.md:{}: link outside the repository: {target}",
                i + 1
            );
            if !path.is_empty() {
                assert!(
                    root.join(path).exists(),
                    "README.md:{}: no such file: {path}",
                    i + 1
                );
            }
            links += 1;
            rest = &after[end..];
        }
    }
    assert!(links >= 5, "only {links} links read");
}
