//! `weights --simulate SCHEME PATH…`: the ranked damage table and the
//! exclude list.

use std::path::PathBuf;

use serde::Serialize;

use super::{CommandError, input_labels, require_existing};
use crate::numerics::QuantScheme;
use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::weights::Progress;
use crate::weights::simulate::{self as domain, SimulateOptions, SimulationResult, TensorSimulation, python_list};

/// What `weights --simulate` quantizes and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimulationOptions {
    /// Checkpoint files or folders.
    pub paths: Vec<PathBuf>,
    /// The scheme and the thresholds of the Q2xx rules.
    pub simulate: SimulateOptions,
    /// Rows of the ranked table (the JSON lists every tensor).
    pub top: usize,
}

impl SimulationOptions {
    pub fn new(paths: Vec<PathBuf>, scheme: QuantScheme) -> Self {
        SimulationOptions { paths, simulate: SimulateOptions::new(scheme), top: 20 }
    }
}

/// The `simulation` section: the scheme, its thresholds and every tensor's damage.
#[derive(Serialize)]
struct SimulationSection<'a> {
    scheme: &'static str,
    bits: u32,
    granularity: &'static str,
    min_sqnr_db: f64,
    max_zeroed_share: f64,
    max_clipped_share: f64,
    skipped: u64,
    tensors: &'a [TensorSimulation],
    exclude_python: String,
}

/// Quantizes every eligible tensor and returns the `weights` report of a
/// simulation (`files`, `simulation` and `exclude` sections).
pub fn simulate(options: &SimulationOptions, progress: &dyn Progress) -> Result<Report, CommandError> {
    require_existing(&options.paths)?;
    let simulate = &options.simulate;
    if !simulate.min_sqnr_db.is_finite() {
        return Err(CommandError::InvalidOption(format!(
            "--min-sqnr must be a finite number of dB, got {}",
            simulate.min_sqnr_db
        )));
    }
    for (flag, value) in
        [("--max-zeroed-share", simulate.max_zeroed_share), ("--max-clipped-share", simulate.max_clipped_share)]
    {
        if !(0.0..=1.0).contains(&value) {
            return Err(CommandError::InvalidOption(format!("{flag} must be between 0 and 1, got {value}")));
        }
    }
    let result = domain::simulate(&options.paths, simulate, progress);
    Ok(build_report(result, input_labels(&options.paths), simulate, options.top))
}

fn build_report(result: SimulationResult, inputs: Vec<String>, options: &SimulateOptions, top: usize) -> Report {
    let scheme = options.scheme;
    let mut report = Report::new("weights", inputs);
    report.set_counter("files", result.files.len() as u64);
    report.set_counter("simulated", result.tensors.len() as u64);
    report.set_counter("skipped", result.skipped);
    report.set_counter("excluded", result.exclude.len() as u64);

    let multi_file = result.files.len() > 1;
    let pct = |x: f64| format!("{}%", fmt_num(x * 100.0));
    // A tensor with non-finite inputs has no figure for what it lost.
    let db = |x: Option<f64>, m: &crate::weights::simulate::SimulationMetrics| match x {
        Some(v) => fmt_num(v),
        None if m.nonfinite_input > 0 => "lost".to_string(),
        None => "exact".to_string(),
    };
    let mut header =
        vec!["#", "tensor", "shape", "worst ch dB", "row", "sqnr dB", "zeroed", "clipped", "rel err", "overflow"];
    if multi_file {
        header.insert(1, "file");
    }
    let rows = result
        .tensors
        .iter()
        .take(top)
        .enumerate()
        .map(|(i, t)| {
            let m = &t.metrics;
            let mut row = vec![
                (i + 1).to_string(),
                t.tensor.clone(),
                format!("{:?}", t.shape),
                db(m.worst_channel_sqnr_db, m),
                m.worst_channel.map_or_else(|| "-".into(), |r| r.to_string()),
                db(m.sqnr_db, m),
                pct(m.zeroed_share),
                pct(m.clipped_share),
                m.rel_error.map_or_else(|| "-".into(), fmt_num),
                m.overflow.to_string(),
            ];
            if multi_file {
                row.insert(1, t.file.clone());
            }
            row
        })
        .collect();
    let hidden = result.tensors.len().saturating_sub(top);
    let ranked = SectionTable {
        title: format!(
            "Simulated {scheme} ({} bits, per {}), most damaged first (worst-channel SQNR)",
            scheme.bits(),
            scheme.granularity().name()
        ),
        header: header.into_iter().map(String::from).collect(),
        rows,
        note: Some(format!(
            "{}{} tensors not eligible for {scheme}. Channel = row along dim 0; 'exact' = lossless; 'lost' = NaN/Inf in the input (Q207).",
            if hidden > 0 { format!("{hidden} more tensors (--top N shows more). ") } else { String::new() },
            result.skipped
        )),
    };
    let python = python_list(&result.exclude);
    let exclude_json = serde_json::to_string(&result.exclude).unwrap_or_else(|_| "[]".into());
    let exclude_table = SectionTable {
        title: format!("Keep in higher precision ({} modules)", result.exclude.len()),
        header: ["module", "why"].map(String::from).to_vec(),
        rows: result
            .tensors
            .iter()
            .filter(|t| !t.exclude_reasons.is_empty())
            .map(|t| vec![t.module.clone(), t.exclude_reasons.join(", ")])
            .collect(),
        note: Some(format!("JSON:   {exclude_json}\n\nPython: modules_to_not_convert = {python}")),
    };
    report.sections.push(Section::typed("files", &result.files));
    let simulation = SimulationSection {
        scheme: scheme.name(),
        bits: scheme.bits(),
        granularity: scheme.granularity().name(),
        min_sqnr_db: options.min_sqnr_db,
        max_zeroed_share: options.max_zeroed_share,
        max_clipped_share: options.max_clipped_share,
        skipped: result.skipped,
        tensors: &result.tensors,
        exclude_python: python,
    };
    report.sections.push(Section::typed("simulation", &simulation).with_table(ranked));
    report.sections.push(Section::typed("exclude", &result.exclude).with_table(exclude_table));
    report.findings = result.findings;
    report.sort_findings();
    report
}
