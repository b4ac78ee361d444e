//! `accord completions SHELL` and `accord man`: a shell completion script (clap_complete) and
//! the manual page (roff, with clap_mangen), both made from the clap definitions, so that they
//! name every command and option the binary has.

use clap_mangen::roff::{bold, italic, roman, Inline, Roff};

use super::context::{out, Res};
use super::fail::Fail;

/// The shells `accord completions` writes scripts for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    /// Bash: `accord completions bash > ~/.local/share/bash-completion/completions/accord`.
    Bash,
    /// Zsh: `accord completions zsh > ~/.zfunc/_accord` (with ~/.zfunc on `fpath`).
    Zsh,
    /// Fish: `accord completions fish > ~/.config/fish/completions/accord.fish`.
    Fish,
}

/// Prints the completion script for `shell`.
pub(super) fn completions(mut cmd: clap::Command, shell: Shell) -> Res {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    // Into memory first: the generator panics on a write error, and a closed pipe is not one.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "accord", &mut script);
    out(&String::from_utf8_lossy(&script));
    Ok(())
}

/// Prints the manual page: the main page of clap_mangen (name, synopsis, description, global
/// options), then every command, nested ones included, with its options and notes, and the
/// exit codes.
pub(super) fn man(mut cmd: clap::Command) -> Res {
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    let io = |e: std::io::Error| Fail::usage(anyhow::anyhow!("writing the manual page: {e}"));
    man.render_title(&mut page).map_err(io)?;
    man.render_name_section(&mut page).map_err(io)?;
    man.render_synopsis_section(&mut page).map_err(io)?;
    man.render_description_section(&mut page).map_err(io)?;
    man.render_options_section(&mut page).map_err(io)?;
    let mut roff = Roff::default();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands() {
        command_section(&mut roff, sub, "accord");
    }
    if let Some(after) = cmd.get_after_help() {
        roff.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in exit_codes(&after.to_string()) {
            roff.control("TP", []);
            roff.text([bold(code)]);
            roff.text([roman(meaning)]);
        }
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for &(var, what) in ENVIRONMENT.iter().chain(&accord::bucket::ENVIRONMENT) {
        roff.control("TP", []);
        roff.text([bold(var)]);
        roff.text([roman(what)]);
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "accord help COMMAND; docs/FORMAT.md, docs/DESIGN.md and docs/SECURITY.md in the source.",
    )]);
    roff.to_writer(&mut page).map_err(io)?;
    man.render_version_section(&mut page).map_err(io)?;
    out(&String::from_utf8_lossy(&page));
    Ok(())
}

const ENVIRONMENT: [(&str, &str); 8] = [
    ("ACCORD_LEDGER", "The ledger directory (as --ledger)."),
    (
        "ACCORD_LOCK_WAIT",
        "Seconds to wait for another accord process to release the ledger (default 10).",
    ),
    (
        "ACCORD_HTTP_TIMEOUT",
        "Seconds one request of verify URL or mirror URL may take, body included (default 30).",
    ),
    (
        "ACCORD_S3_ACL",
        "A canned ACL for every object publish s3:// writes (as --s3-acl). The variables below reach the bucket.",
    ),
    (
        "ACCORD_PASSPHRASE",
        "The passphrase of encrypted key files, for scripts.",
    ),
    (
        "XDG_CONFIG_HOME",
        "Keys and ledger keys live under $XDG_CONFIG_HOME/accord (default ~/.config/accord).",
    ),
    (
        "XDG_STATE_HOME",
        "Remembered checkpoints live under $XDG_STATE_HOME/accord (default ~/.local/state/accord).",
    ),
    (
        "ACCORD_DEBUG",
        "Show the full report of an internal error (a bug).",
    ),
];

/// One command's subsection: its usage, what it does, its arguments and its notes; then its own
/// subcommands.
fn command_section(roff: &mut Roff, cmd: &clap::Command, parent: &str) {
    if cmd.is_hide_set() || cmd.get_name() == "help" {
        return;
    }
    let name = format!("{parent} {}", cmd.get_name());
    if cmd.has_subcommands() {
        for sub in cmd.get_subcommands() {
            command_section(roff, sub, &name);
        }
        return;
    }
    roff.control("SS", [name.as_str()]);
    let mut usage = vec![bold(name.as_str())];
    for a in own_args(cmd) {
        usage.push(roman(" "));
        let optional = !a.is_required_set() && a.get_long().is_some();
        if optional {
            usage.push(roman("["));
        }
        usage.extend(arg_synopsis(a));
        if optional {
            usage.push(roman("]"));
        }
    }
    roff.text(usage);
    roff.control("PP", []);
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        paragraphs(roff, &about.to_string());
    }
    for a in own_args(cmd) {
        roff.control("TP", []);
        roff.text(arg_synopsis(a));
        let mut help = a
            .get_long_help()
            .or_else(|| a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        if !help.is_empty() && !help.ends_with('.') {
            help.push('.');
        }
        let takes_values = a.get_action().takes_values();
        let values: Vec<String> = a
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        if !values.is_empty() && takes_values {
            help.push_str(&format!(" One of: {}.", values.join(", ")));
        }
        let defaults: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() && takes_values {
            help.push_str(&format!(" Default: {}.", defaults.join(", ")));
        }
        roff.text([roman(help.trim())]);
    }
    if let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        roff.control("PP", []);
        paragraphs(roff, &after.to_string());
    }
}

/// The command's own arguments: not the global ones (listed once, under OPTIONS), not help.
fn own_args(cmd: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
}

/// `--name <VALUE>` or `<NAME>`, bold for what is typed, italic for what is replaced.
fn arg_synopsis(a: &clap::Arg) -> Vec<Inline> {
    let values: Vec<String> = a
        .get_value_names()
        .map(|v| v.iter().map(|n| n.to_string()).collect())
        .unwrap_or_else(|| vec![a.get_id().as_str().to_uppercase()]);
    let mut v = Vec::new();
    if let Some(long) = a.get_long() {
        let flag = match a.get_short() {
            Some(s) => format!("-{s}, --{long}"),
            None => format!("--{long}"),
        };
        v.push(bold(flag));
        if a.get_action().takes_values() {
            for n in &values {
                v.push(roman(" "));
                v.push(italic(n.as_str()));
            }
        }
    } else {
        for n in &values {
            v.push(italic(n.as_str()));
        }
    }
    if a.get_num_args().is_some_and(|n| n.max_values() > 1) {
        v.push(roman("..."));
    }
    v
}

/// The exit codes of the top-level help ("  0  success", continuation lines indented further):
/// (code, meaning).
fn exit_codes(text: &str) -> Vec<(String, String)> {
    let mut codes: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        let mut words = t.splitn(2, char::is_whitespace);
        match (words.next(), words.next()) {
            (Some(c), Some(rest)) if c.chars().all(|d| d.is_ascii_digit()) => {
                codes.push((c.to_string(), rest.trim().to_string()))
            }
            _ => {
                if let Some((_, m)) = codes.last_mut().filter(|_| !t.is_empty()) {
                    m.push(' ');
                    m.push_str(t);
                }
            }
        }
    }
    codes
}

/// Text with blank lines between paragraphs; indented lines (examples) are kept as they are.
fn paragraphs(roff: &mut Roff, text: &str) {
    let mut verbatim = false;
    for line in text.lines() {
        let indented = line.starts_with(' ');
        if indented != verbatim {
            roff.control(if indented { "nf" } else { "fi" }, []);
            verbatim = indented;
        }
        if line.trim().is_empty() {
            roff.control("PP", []);
        } else {
            roff.text([roman(line)]);
            if !verbatim {
                roff.control("br", []);
            }
        }
    }
    if verbatim {
        roff.control("fi", []);
    }
}
