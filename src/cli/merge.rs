//! `nanscope merge REPORT.json…`

use std::path::PathBuf;

use clap::Args;

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports of the shards of one run (`--shard I/N --format json`).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
}

pub fn run(args: MergeArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    emit(&crate::commands::merge(&args.reports)?, global)
}
