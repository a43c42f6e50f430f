//! `nanscope log check FILE…`: argument parsing and glue around `crate::log`.

use std::path::PathBuf;

use crate::log::{LogOptions, check, report};
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
    /// Log files, or folders whose .log, .txt, .jsonl, .out, .err and .gz files are checked.
    #[arg(value_name = "FILE", required = true)]
    pub paths: Vec<PathBuf>,
    /// Findings kept per rule and file; further matches are counted on the first one.
    #[arg(long, value_name = "N", default_value_t = LogOptions::default().max_findings_per_rule)]
    pub max_findings: usize,
}

const LOG_EXTENSIONS: &[&str] = &["log", "txt", "jsonl", "out", "err", "gz"];

pub fn run(args: LogArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let LogCommand::Check(args) = args.command;
    super::inputs::require_existing(&args.paths)?;
    let files = collect(&args.paths);
    if files.is_empty() {
        return Err(super::inputs::nothing_to_check(&args.paths, "log files"));
    }
    let options = LogOptions { max_findings_per_rule: args.max_findings, ..LogOptions::default() };
    let result = check(&files, &options);
    let inputs = args.paths.iter().map(|p| p.display().to_string()).collect();
    emit(&report(&result, inputs), global)
}

/// Files given directly, and the log files under folders, sorted per folder.
fn collect(paths: &[PathBuf]) -> Vec<PathBuf> {
    crate::formats::walk::expand(paths, |path| path.extension().is_some_and(|e| LOG_EXTENSIONS.iter().any(|x| e == *x)))
}
