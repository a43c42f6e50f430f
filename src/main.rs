//! The `nanscope` binary: parse arguments, run, map the outcome to an exit code.

mod cli;

use std::process::ExitCode;

/// The run completed and no finding reached `--fail-on`.
const EXIT_CLEAN: u8 = 0;
/// The run completed and at least one finding reached `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// nanscope could not do its job (bad arguments, missing program, unwritable output, internal error).
const EXIT_FAILURE: u8 = 2;

fn main() -> ExitCode {
    let args = cli::parse();
    // A panic is a bug, never an answer about the input: report it as an
    // internal error (exit 2) rather than Rust's default exit status 101.
    match std::panic::catch_unwind(|| cli::run(args)) {
        Ok(Ok(cli::Outcome::Clean)) => ExitCode::from(EXIT_CLEAN),
        Ok(Ok(cli::Outcome::Findings)) => ExitCode::from(EXIT_FINDINGS),
        Ok(Err(err)) => {
            cli::report_error(&err);
            ExitCode::from(EXIT_FAILURE)
        }
        Err(_) => ExitCode::from(EXIT_FAILURE),
    }
}
