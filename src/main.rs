//! `accord`: the command-line interface. Parsing, printing and exit codes only; the logic is in
//! the `accord` library.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
