//! How the CLI fails: an error with context and an exit code (see `accord --help`).

use accord::ledger::LedgerError;
use accord::store::StoreError;

/// A failed command: what to print and which exit code to use.
#[derive(Debug)]
pub struct Fail {
    /// 1 = invalid data, 2 = usage or I/O, 3 = valid data but trust not established.
    pub code: u8,
    /// The message, with context.
    pub error: anyhow::Error,
    /// A hint on what to do next.
    pub hint: Option<String>,
}

impl Fail {
    /// Exit 1: the data examined is invalid.
    pub fn invalid(e: impl Into<anyhow::Error>) -> Fail {
        Fail {
            code: 1,
            error: e.into(),
            hint: None,
        }
    }
    /// Exit 2: usage, arguments, files, I/O.
    pub fn usage(e: impl Into<anyhow::Error>) -> Fail {
        Fail {
            code: 2,
            error: e.into(),
            hint: None,
        }
    }
    /// Exit 3: the data is valid, but trust in it is not yet established (an export or
    /// bundle older than the remembered checkpoint). What was verified is printed already;
    /// this says why the exit code is not 0, as a warning, not an error.
    pub fn not_established(e: impl Into<anyhow::Error>) -> Fail {
        Fail {
            code: 3,
            error: e.into(),
            hint: None,
        }
    }
    /// Adds a hint line.
    pub fn hint(mut self, h: impl Into<String>) -> Fail {
        self.hint = Some(h.into());
        self
    }
    /// Adds context in front of the message.
    pub fn context(mut self, c: impl std::fmt::Display + Send + Sync + 'static) -> Fail {
        self.error = self.error.context(c);
        self
    }
    /// The error with its context, each cause once: a cause whose text the message already
    /// ends with (an error that shows its source's text, as `#[error("{0}")]` does) is not
    /// repeated ("No such file or directory (os error 2): No such file or directory").
    pub fn message(&self) -> String {
        let mut msg = String::new();
        for cause in self.error.chain() {
            let text = cause.to_string();
            if msg.is_empty() {
                msg = text;
            } else if !msg.ends_with(&text) {
                msg.push_str(": ");
                msg.push_str(&text);
            }
        }
        msg
    }

    /// Prints the error to stderr and returns the exit code.
    pub fn report(&self) -> u8 {
        // An error message can carry text from outside (a file name, a field of a statement):
        // it is shown with every character that could move the cursor or the reading order
        // escaped, so that it cannot paint a line of its own (a fake "OK").
        let label = if self.code == 3 { "warning" } else { "error" };
        super::terminal::say!("{label}: {}", super::display::shown(&self.message()));
        if let Some(h) = &self.hint {
            super::terminal::say!("hint: {}", super::display::shown(h));
        }
        self.code
    }
}

/// Whether the holder of a ledger, as [`StoreError::InUse`] names it (` (pid N: accord serve
/// --writable ...)`), is `accord serve`: the ledger's one writer for as long as it runs.
pub fn held_by_server(holder: &str) -> bool {
    // The command is the first word after the program that is not a global option (--quiet,
    // --ledger DIR): a ledger directory named `serve` is no server, and `accord -q --ledger
    // DIR serve` is one.
    let Some((_, cmd)) = holder.split_once(": ") else {
        return false;
    };
    let mut words = cmd.trim_end_matches(')').split_whitespace().skip(1);
    while let Some(w) = words.next() {
        match w {
            "--ledger" => {
                words.next();
            }
            "-q" | "--quiet" => {}
            w if w.starts_with("--ledger=") => {}
            w => return w == "serve",
        }
    }
    false
}

/// What to do when `accord serve` holds the ledger.
const HELD_BY_SERVER_HINT: &str = "`accord serve --writable` is this ledger's one writer while it runs: \
submit through it by adding --server URL (the address it serves at, such as http://127.0.0.1:8080/; or set \
ACCORD_SERVER) to append, attest, register, withdraw or key rotate|revoke|recover; for anything else, stop \
it first (SIGTERM)";

/// Classifies a ledger error. `rejected_code` is the code for a refused statement: 2 when it
/// was built from the user's arguments, 1 when it came from a statement file.
pub fn ledger(e: LedgerError, rejected_code: u8) -> Fail {
    let code = match &e {
        LedgerError::Invalid { .. } => 1,
        LedgerError::Store(StoreError::Damaged(_)) => 1,
        LedgerError::Witness(accord::policy::PolicyError::Forged { .. }) => 1,
        LedgerError::Rejected { .. } => rejected_code,
        _ => 2,
    };
    let hint = match &e {
        LedgerError::Store(StoreError::InUse(_, who)) if held_by_server(who) => {
            Some(HELD_BY_SERVER_HINT.to_string())
        }
        _ => None,
    };
    Fail {
        code,
        error: e.into(),
        hint,
    }
}

/// Classifies an error of an append of statements named `names` (files, in the order given;
/// empty for one statement built from the command's arguments). A statement the ledger's rules
/// refuse exits 1 however it was made (`attest` or `sign` + `append` alike); its position is
/// named only when there were several.
pub fn appending(e: LedgerError, names: &[String]) -> Fail {
    let LedgerError::Rejected { position, rejection } = e else {
        return ledger(e, 1);
    };
    let f = Fail::invalid(rejection);
    match (names.len(), names.get(position.saturating_sub(1))) {
        (0 | 1, None) => f,
        (1, Some(name)) => f.context(name.clone()),
        (n, Some(name)) => f.context(format!(
            "{name} (statement {position} of {n}; nothing was appended)"
        )),
        (n, None) => f.context(format!("statement {position} of {n} (nothing was appended)")),
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        Fail::usage(e)
    }
}

#[cfg(test)]
mod tests {
    use super::held_by_server;

    #[test]
    fn a_ledger_held_by_serve_is_told_from_one_held_by_another_command() {
        for held in [
            " (pid 7: accord serve --writable --listen)",
            " (pid 7: accord --ledger /srv/ledger serve --writable)",
            " (pid 7: accord -q --ledger /srv/l serve)",
            " (pid 7: accord --ledger=/srv/l --quiet serve)",
        ] {
            assert!(held_by_server(held), "{held}");
        }
        for other in [
            "",
            " (pid 7)",
            " (pid 7: accord --ledger serve attest)",
            " (pid 7: accord attest --key k)",
            " (pid 7: accord --quiet --ledger /very/long/path)",
        ] {
            assert!(!held_by_server(other), "{other}");
        }
    }
}
