//! `nanscope gate [CONFIG]`

use std::path::PathBuf;

use clap::Args;

use super::output::emit;
use super::{GlobalArgs, Outcome};
use crate::commands::GateOptions;

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The configuration: a `nanscope.toml` with a [gate] table, or a pyproject.toml with [tool.nanscope.gate]
    /// (default: nanscope.toml, else pyproject.toml, in the current folder).
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Record this run's findings and weights fingerprints as the accepted baselines.
    #[arg(long)]
    pub update_baselines: bool,
}

pub fn run(args: GateArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let path = args.config.unwrap_or_else(|| crate::gate::config::default_path(std::path::Path::new("")));
    let outcome = crate::commands::gate(&path, &GateOptions::new(args.update_baselines, global.shard))?;
    emit(&outcome.report, global)?;
    Ok(if outcome.failed { Outcome::Findings } else { Outcome::Clean })
}
