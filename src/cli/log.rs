//! `nanscope log check FILE…`: argument parsing and glue around `crate::log`.

use std::path::PathBuf;

use crate::log::LogOptions;
use clap::{Args, Subcommand};

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(subcommand)]
    pub command: LogCommand,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Find the signatures of a failed generation in server and inference logs (text, JSON lines, gzip).
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Log files, or folders whose .log, .txt, .jsonl, .out, .err, .gz and .ipynb files are checked.
    #[arg(value_name = "FILE", required = true)]
    pub paths: Vec<PathBuf>,
    /// Findings kept per rule and file; further matches are counted on the first one.
    #[arg(long, value_name = "N", default_value_t = LogOptions::default().max_findings_per_rule)]
    pub max_findings: usize,
}

pub fn run(args: LogArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let LogCommand::Check(args) = args.command;
    let mut options = crate::commands::LogCheckOptions::new(args.paths);
    options.log = LogOptions { max_findings_per_rule: args.max_findings, ..LogOptions::default() };
    emit(&crate::commands::log_check(&options)?, global)
}
