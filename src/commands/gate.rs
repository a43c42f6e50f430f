//! `video compare`, `gate` and `merge`: a render against its golden, a CI
//! gate over a configuration, and the merge of sharded reports.

use std::path::{Path, PathBuf};

use super::{CommandError, input_labels, nothing_to_check, plots_section, require_existing};
use crate::gate::compare::{CompareOptions, compare, report};
use crate::gate::compare_plot::plot_worst;
use crate::gate::{GateOptions, GateOutcome};
use crate::report::Report;
use crate::video::Tools;

/// `nanscope video compare CANDIDATE GOLDEN`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VideoCompareOptions {
    pub candidate: PathBuf,
    pub golden: PathBuf,
    /// Thresholds, decoder threads and whether the worst pair is kept.
    pub compare: CompareOptions,
    /// Where the worst pair is drawn (`--plot DIR`).
    pub plot: Option<PathBuf>,
}

impl VideoCompareOptions {
    pub fn new(candidate: PathBuf, golden: PathBuf) -> Self {
        VideoCompareOptions { candidate, golden, compare: CompareOptions::default(), plot: None }
    }
}

/// Compares a render with its golden frame by frame (PSNR and SSIM as
/// ffmpeg's filters compute them).
pub fn video_compare(options: &VideoCompareOptions) -> Result<Report, CommandError> {
    require_existing(&[&options.candidate, &options.golden])?;
    let tools = Tools::find()?;
    let mut compare_options = options.compare.clone();
    compare_options.keep_worst |= options.plot.is_some();
    let result = compare(&tools, &options.candidate, &options.golden, &compare_options)?;
    let mut report = report(&result, input_labels(&[&options.candidate, &options.golden]));
    if let Some(dir) = &options.plot {
        let written: Vec<PathBuf> = plot_worst(&result, dir)
            .map_err(|err| CommandError::Draw { path: dir.clone(), detail: err.to_string() })?
            .into_iter()
            .collect();
        report.sections.push(plots_section(&written));
    }
    Ok(report)
}

/// Runs the gate a configuration describes: the report, and whether a check
/// has a finding at or above its own `fail-on`.
pub fn gate(config: &Path, options: &GateOptions) -> Result<GateOutcome, CommandError> {
    require_existing(&[config])?;
    let loaded = crate::gate::load(config).map_err(|err| CommandError::InvalidOption(err.to_string()))?;
    crate::gate::run(&loaded, options).map_err(|err| CommandError::Refused(err.to_string()))
}

/// Merges the JSON reports of `gate --shard I/N` (or of any sharded check)
/// into the report of one unsharded run.
pub fn merge(reports: &[PathBuf]) -> Result<Report, CommandError> {
    require_existing(reports)?;
    let mut documents = Vec::with_capacity(reports.len());
    for path in reports {
        let text = std::fs::read(path)
            .map_err(|err| CommandError::Refused(format!("cannot read {}: {err}", path.display())))?;
        let doc: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|err| CommandError::Refused(format!("{}: not a JSON report ({err})", path.display())))?;
        documents.push((path.display().to_string(), doc));
    }
    let report = crate::gate::merge(&documents).map_err(|err| CommandError::Refused(err.to_string()))?;
    if report.findings.is_empty() && report.counters.iter().all(|(_, n)| *n == 0) {
        return Err(nothing_to_check(reports, "checked inputs"));
    }
    Ok(report)
}
