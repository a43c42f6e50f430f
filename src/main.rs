//! The `nanscope` binary: parse arguments, run, map the outcome to an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// The run completed and no finding reached `--fail-on`.
const EXIT_CLEAN: u8 = 0;
/// The run completed and at least one finding reached `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// nanscope could not do its job (bad arguments, missing program, unwritable output, internal error).
const EXIT_FAILURE: u8 = 2;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(cli::Outcome::Clean) => ExitCode::from(EXIT_CLEAN),
        Ok(cli::Outcome::Findings) => ExitCode::from(EXIT_FINDINGS),
        Err(err) => {
            cli::report_error(&err);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
