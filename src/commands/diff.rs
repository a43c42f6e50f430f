//! `diff A B`: two checkpoints compared key by key and value by value.

use std::path::PathBuf;

use serde::Serialize;

use super::{CommandError, nothing_to_check, require_existing};
use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::weights::diff::{self as domain, DiffOptions as CompareOptions, DiffResult};
use crate::weights::{FileRecord, Progress};

/// What `diff` compares and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DiffOptions {
    /// The reference checkpoint (a file, or a folder: the union of its checkpoints' tensors).
    pub a: PathBuf,
    /// The checkpoint compared against A.
    pub b: PathBuf,
    pub compare: CompareOptions,
    /// List every compared pair in the table view, not only those beyond tolerance.
    pub all_pairs: bool,
}

impl DiffOptions {
    pub fn new(a: PathBuf, b: PathBuf) -> Self {
        DiffOptions { a, b, ..DiffOptions::default() }
    }
}

/// The `files` section: the files read on each side.
#[derive(Serialize)]
struct SideFiles<'a> {
    a: &'a [FileRecord],
    b: &'a [FileRecord],
}

/// Compares the two checkpoints and returns the `diff` report (`files`,
/// `pairs`, `missing_in_b`, `extra_in_b`, `shape_mismatch` and
/// `dtype_mismatch` sections).
pub fn diff(options: &DiffOptions, progress: &dyn Progress) -> Result<Report, CommandError> {
    let (a, b) = (&options.a, &options.b);
    require_existing(&[a, b])?;
    let tolerance = &options.compare.tolerance;
    for (flag, value) in [("--rtol", tolerance.rtol), ("--atol", tolerance.atol)] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(CommandError::InvalidOption(format!("{flag} must be a non-negative number, got {value}")));
        }
    }
    let damage = &options.compare.damage;
    if !damage.sqnr_db.is_finite() {
        return Err(CommandError::InvalidOption(format!(
            "--error-sqnr must be a finite number of dB, got {}",
            damage.sqnr_db
        )));
    }
    if !(-1.0..=1.0).contains(&damage.cosine) {
        return Err(CommandError::InvalidOption(format!(
            "--error-cosine must be between -1 and 1, got {}",
            damage.cosine
        )));
    }
    let result = domain::diff(a, b, &options.compare, &[], progress);
    // A side without tensors is a finding when its files are broken; when
    // nothing but that finding came out, there was nothing to read at all.
    let only_empty_sides = result.findings.iter().all(|f| f.is(&crate::rules::diff::NO_TENSORS));
    if only_empty_sides && (result.tensors_a == 0 || result.tensors_b == 0) {
        let empty: Vec<&PathBuf> = [(a, result.tensors_a), (b, result.tensors_b)]
            .into_iter()
            .filter_map(|(path, n)| (n == 0).then_some(path))
            .collect();
        return Err(nothing_to_check(&empty, "checkpoint tensors"));
    }
    let inputs = vec![a.display().to_string(), b.display().to_string()];
    Ok(build_report(result, inputs, options.all_pairs))
}

fn build_report(result: DiffResult, inputs: Vec<String>, all_pairs: bool) -> Report {
    let mut report = Report::new("diff", inputs);
    report.set_counter("tensors_a", result.tensors_a as u64);
    report.set_counter("tensors_b", result.tensors_b as u64);
    report.set_counter("compared", result.pairs.len() as u64);
    report.set_counter("missing_in_b", result.missing_in_b.len() as u64);
    report.set_counter("extra_in_b", result.extra_in_b.len() as u64);
    report.set_counter("shape_mismatch", result.shape_mismatch.len() as u64);
    report.set_counter("dtype_mismatch", result.dtype_mismatch.len() as u64);
    let beyond = result.pairs.iter().filter(|p| !p.within_tolerance).count();
    report.set_counter("beyond_tolerance", beyond as u64);

    let num = |x: Option<f64>| x.map_or_else(|| "-".into(), fmt_num);
    let listed: Vec<_> = result.pairs.iter().filter(|p| all_pairs || !p.within_tolerance).collect();
    let rows = listed
        .iter()
        .map(|p| {
            let m = &p.metrics;
            vec![
                p.tensor.clone(),
                if p.dtype_a == p.dtype_b { p.dtype_a.to_string() } else { format!("{}→{}", p.dtype_a, p.dtype_b) },
                format!("{:?}", p.shape),
                fmt_num(m.max_abs_diff),
                num(m.rel_l2_error),
                m.cosine.map_or_else(|| "-".into(), |c| format!("{c:.6}")),
                m.sqnr_db.map_or_else(|| "exact".into(), fmt_num),
                m.beyond_tolerance.to_string(),
                m.nonfinite_mismatch().to_string(),
            ]
        })
        .collect();
    let hidden = result.pairs.len() - listed.len();
    let pairs_table = SectionTable {
        title: if all_pairs { "Compared tensors".into() } else { "Tensors beyond tolerance".into() },
        header: [
            "tensor",
            "dtype",
            "shape",
            "max abs diff",
            "rel L2",
            "cosine",
            "SQNR dB",
            "beyond tol",
            "NaN/Inf diff",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        note: (hidden > 0).then(|| format!("{hidden} more tensors within tolerance (--all-pairs lists them)")),
    };
    report.sections.push(Section::typed("files", &SideFiles { a: &result.files_a, b: &result.files_b }));
    report.sections.push(Section::typed("pairs", &result.pairs).with_table(pairs_table));
    report.sections.push(Section::typed("missing_in_b", &result.missing_in_b));
    report.sections.push(Section::typed("extra_in_b", &result.extra_in_b));
    report.sections.push(Section::typed("shape_mismatch", &result.shape_mismatch));
    report.sections.push(Section::typed("dtype_mismatch", &result.dtype_mismatch));
    report.findings = result.findings;
    report.sort_findings();
    report
}
