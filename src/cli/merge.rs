//! `nanscope merge REPORT.json…`

use std::path::PathBuf;

use anyhow::Context;
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
    super::inputs::require_existing(&args.reports)?;
    let mut documents = Vec::new();
    for path in &args.reports {
        let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let doc: serde_json::Value =
            serde_json::from_slice(&text).with_context(|| format!("{}: not a JSON report", path.display()))?;
        documents.push((path.display().to_string(), doc));
    }
    let report = crate::gate::merge(&documents)?;
    if report.findings.is_empty() && report.counters.iter().all(|(_, n)| *n == 0) {
        return Err(super::inputs::nothing_to_check(&args.reports, "checked inputs"));
    }
    emit(&report, global)
}
