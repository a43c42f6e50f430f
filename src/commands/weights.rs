//! `weights PATH…`: the checkpoint scan's report.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{CommandError, input_labels, nothing_to_check, require_existing};
use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::weights::{self, Progress, ScanOptions, ScanResult, TensorRecord};

/// What `weights` scans and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WeightsOptions {
    /// Checkpoint files or folders (walked recursively).
    pub paths: Vec<PathBuf>,
    pub scan: ScanOptions,
    /// List every tensor in the table view, not only those with findings.
    pub all_tensors: bool,
}

impl WeightsOptions {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        WeightsOptions { paths, ..WeightsOptions::default() }
    }
}

/// Scans the checkpoints and returns the `weights` report (`files` and
/// `tensors` sections). `progress` hears about each file and the bytes read.
pub fn weights(options: &WeightsOptions, progress: &dyn Progress) -> Result<Report, CommandError> {
    require_existing(&options.paths)?;
    let scan = &options.scan;
    if !(0.0..=1.0).contains(&scan.underflow_share) {
        return Err(CommandError::InvalidOption(format!(
            "--underflow-share must be between 0 and 1, got {}",
            scan.underflow_share
        )));
    }
    if scan.range_ratio.is_nan() || scan.range_ratio <= 0.0 {
        return Err(CommandError::InvalidOption(format!("--range-ratio must be positive, got {}", scan.range_ratio)));
    }
    let result = weights::scan(&options.paths, scan, progress);
    if result.tensors.is_empty() && result.findings.is_empty() {
        return Err(nothing_to_check(&options.paths, "checkpoint tensors"));
    }
    Ok(build_report(result, input_labels(&options.paths), options.all_tensors))
}

fn build_report(result: ScanResult, inputs: Vec<String>, all_tensors: bool) -> Report {
    let mut report = Report::new("weights", inputs);
    report.set_counter("files", result.files.len() as u64);
    report.set_counter("tensors", result.tensors.len() as u64);

    let mut codes: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for f in &result.findings {
        if let (Some(file), Some(tensor)) = (&f.subject.file, &f.subject.tensor) {
            codes.entry((file.as_str(), tensor.as_str())).or_default().push(f.code());
        }
    }
    let multi_file = result.files.len() > 1;
    let listed: Vec<&TensorRecord> = result
        .tensors
        .iter()
        .filter(|t| all_tensors || codes.contains_key(&(t.file.as_str(), t.name.as_str())))
        .collect();
    let mut header = vec!["tensor", "dtype", "shape", "min", "max", "absmax", "std", "non-finite", "findings"];
    if multi_file {
        header.insert(0, "file");
    }
    let rows = listed
        .iter()
        .map(|t| {
            let num = |x: Option<f64>| x.map(fmt_num).unwrap_or_else(|| "-".into());
            let stats = t.stats.as_ref();
            let mut row = vec![
                t.name.clone(),
                t.quant
                    .as_ref()
                    .filter(|q| q.of.is_none())
                    .map_or(t.dtype.to_string(), |q| format!("{}→{}", q.format, t.dtype)),
                format!("{:?}", t.shape),
                num(stats.and_then(|s| s.min)),
                num(stats.and_then(|s| s.max)),
                num(stats.and_then(|s| s.absmax)),
                num(stats.and_then(|s| s.std)),
                stats.map_or("-".into(), |s| s.nonfinite().to_string()),
                codes.get(&(t.file.as_str(), t.name.as_str())).map(|c| c.join(" ")).unwrap_or_default(),
            ];
            if multi_file {
                row.insert(0, t.file.clone());
            }
            row
        })
        .collect();
    let hidden = result.tensors.len() - listed.len();
    let tensor_table = SectionTable {
        title: if all_tensors { "Tensors".into() } else { "Tensors with findings".into() },
        header: header.into_iter().map(String::from).collect(),
        rows,
        note: (hidden > 0).then(|| format!("{hidden} more tensors without findings (--all-tensors lists them)")),
    };
    let file_table = SectionTable {
        title: "Files".into(),
        header: ["file", "format", "bytes", "tensors"].map(String::from).to_vec(),
        rows: result
            .files
            .iter()
            .map(|f| vec![f.file.clone(), f.format.to_string(), f.bytes.to_string(), f.tensors.to_string()])
            .collect(),
        note: None,
    };
    report.sections.push(Section::typed("files", &result.files).with_table(file_table));
    report.sections.push(Section::typed("tensors", &result.tensors).with_table(tensor_table));
    report.findings = result.findings;
    report.sort_findings();
    report
}
