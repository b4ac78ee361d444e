//! What accord says on standard error besides errors: notes (silenced by `--quiet`) and the
//! progress bar of long work (`verify`, `verify --file`, `export`, `import`), drawn by
//! indicatif only when standard error is a terminal.
//!
//! Errors never pass through here: `fail.rs` prints them whatever `--quiet` says.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Sets `--quiet` for the rest of the run.
pub(super) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `--quiet` was given: no notes, no progress.
pub(super) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Writes to standard error, ignoring a failure: standard error closed or a broken pipe
/// (`accord verify 2>&1 | head -1`) must not turn a finished command into a crash or change
/// its exit code, as `eprintln!` would by panicking.
pub(super) fn write_stderr(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `eprintln!` that never panics ([`write_stderr`]): for errors, warnings and hints.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::terminal::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(super) use say;

/// [`say!`] for notes: what a person at the terminal may want to know, and a script does not
/// need (silenced by `--quiet`). Never for errors.
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::cli::terminal::quiet() {
            $crate::cli::terminal::say!($($arg)*);
        }
    };
}
pub(super) use note;

/// A progress bar on standard error (entries done of all, the rate and the time left), or
/// nothing when standard error is not a terminal, with `--quiet`, or for JSON output. Cleared
/// when the work ends or fails, so that it never mixes with the result or the error.
pub(super) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for work described by `what` ("verifying", "exporting", ...), shown if `show` and
    /// standard error is a terminal and `--quiet` was not given.
    pub(super) fn start(what: &'static str, show: bool) -> Progress {
        let show = show && !quiet() && std::io::stderr().is_terminal();
        Progress {
            bar: show.then(|| new_bar(what)),
        }
    }

    /// `done` entries of `total`: the callback the library's replay, export and import take.
    pub(super) fn update(&self, done: u64, total: u64) {
        if let Some(b) = &self.bar {
            if b.length() != Some(total) {
                let first = b.length().is_none();
                b.set_length(total);
                if first {
                    // Redraw now and then even while the library is inside one long batch, so
                    // that the rate and the time left stay current.
                    b.enable_steady_tick(Duration::from_millis(250));
                }
            }
            b.set_position(done);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn new_bar(what: &'static str) -> ProgressBar {
    // The description is part of the template: setting a message would draw the bar before
    // its length is known.
    let template = format!("{what} [{{bar:30}}] {{human_pos}}/{{human_len}} entries, {{rate}}, {{eta}} left");
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0} entries/s", s.per_sec());
        })
        .progress_chars("=> ");
    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style)
}
