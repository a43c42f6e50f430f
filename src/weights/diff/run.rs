//! `nanscope diff A B`: key sets, then every common tensor pair compared in
//! parallel, one pair in flight per worker.

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::compare::{DamageThresholds, PairMetrics, Tolerance, compare_values};
use super::sides::{Located, NameAlignment, Side};
use crate::numerics::unravel;
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::diff as rules;
use crate::weights::quant::QuantInfo;
use crate::weights::scan::{FileRecord, Progress};
use crate::weights::values::Dequantize;

#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DiffOptions {
    pub alignment: NameAlignment,
    pub tolerance: Tolerance,
    pub damage: DamageThresholds,
}

/// One compared tensor pair, as the report's `pairs` section lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PairRecord {
    /// The name on A's side (B's name after alignment).
    pub tensor: String,
    /// B's name as stored, when alignment changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensor_b: Option<String>,
    pub file_a: String,
    pub file_b: String,
    /// The stored dtype (`F16`), or `scheme format` (`gguf Q8_0`) for a
    /// quantized tensor, which is compared through its dequantized values.
    pub dtype_a: String,
    pub dtype_b: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quant_a: Option<QuantInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quant_b: Option<QuantInfo>,
    pub shape: Vec<u64>,
    #[serde(flatten)]
    pub metrics: PairMetrics,
    pub within_tolerance: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShapeMismatch {
    pub tensor: String,
    pub shape_a: Vec<u64>,
    pub shape_b: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DtypeMismatch {
    pub tensor: String,
    pub dtype_a: String,
    pub dtype_b: String,
}

#[derive(Debug, Default)]
pub struct DiffResult {
    pub files_a: Vec<FileRecord>,
    pub files_b: Vec<FileRecord>,
    pub tensors_a: usize,
    pub tensors_b: usize,
    pub pairs: Vec<PairRecord>,
    pub missing_in_b: Vec<String>,
    pub extra_in_b: Vec<String>,
    pub shape_mismatch: Vec<ShapeMismatch>,
    pub dtype_mismatch: Vec<DtypeMismatch>,
    pub findings: Vec<Finding>,
}

/// Compares B against the reference A. Never fails: unreadable sides and
/// tensors become findings.
pub fn diff(
    a: &Path,
    b: &Path,
    options: &DiffOptions,
    dequantizers: &[&dyn Dequantize],
    progress: &dyn Progress,
) -> DiffResult {
    let side_a = Side::open(a, &NameAlignment::default());
    let side_b = Side::open(b, &options.alignment);
    let mut result = DiffResult {
        files_a: file_records(&side_a),
        files_b: file_records(&side_b),
        tensors_a: side_a.tensor_count(),
        tensors_b: side_b.tensor_count(),
        ..DiffResult::default()
    };
    let mut findings = side_a.findings.clone();
    findings.extend(side_b.findings.iter().cloned());
    if let Some(prefix) = &options.alignment.strip_prefix {
        let any = side_b.checkpoints.iter().flat_map(|c| &c.tensors).any(|t| t.name.starts_with(prefix.as_str()));
        if !any && side_b.tensor_count() > 0 {
            findings.push(
                Finding::new(&rules::PREFIX_NOT_FOUND, format!("no tensor of {} starts with {prefix:?}", side_b.label))
                    .with_subject(Subject::file(&side_b.label))
                    .with_evidence("prefix", prefix.as_str()),
            );
        }
    }
    let empty: Vec<&Side> = [&side_a, &side_b].into_iter().filter(|s| s.tensor_count() == 0).collect();
    if !empty.is_empty() {
        for side in empty {
            findings.push(
                Finding::new(
                    &rules::NO_TENSORS,
                    format!("{} yields no readable tensors; the comparison is skipped", side.label),
                )
                .with_subject(Subject::file(&side.label)),
            );
        }
        result.findings = findings;
        return result;
    }

    let mut common: Vec<(&str, Located, Located)> = Vec::new();
    for (name, at_a) in &side_a.names {
        let Some(&at_b) = side_b.index.get(name) else {
            result.missing_in_b.push(name.clone());
            findings.push(
                Finding::new(&rules::MISSING_IN_B, format!("{name} is in A but not in B"))
                    .with_subject(Subject::tensor(&side_a.checkpoint(*at_a).label, name)),
            );
            continue;
        };
        let (ea, eb) = (side_a.meta(*at_a), side_b.meta(at_b));
        if ea.shape != eb.shape {
            result.shape_mismatch.push(ShapeMismatch {
                tensor: name.clone(),
                shape_a: ea.shape.to_vec(),
                shape_b: eb.shape.to_vec(),
            });
            findings.push(
                shape_mismatch(
                    name,
                    &side_b.checkpoint(at_b).label,
                    eb.name,
                    format!("shape {:?} in A, {:?} in B", ea.shape, eb.shape),
                )
                .with_evidence("shape_a", json!(ea.shape))
                .with_evidence("shape_b", json!(eb.shape)),
            );
            continue;
        }
        if ea.dtype != eb.dtype {
            findings.push(
                Finding::new(&rules::DTYPE_MISMATCH, format!("{name}: {} in A, {} in B", ea.dtype, eb.dtype))
                    .with_subject(Subject::tensor(&side_b.checkpoint(at_b).label, eb.name))
                    .with_evidence("dtype_a", ea.dtype.as_str())
                    .with_evidence("dtype_b", eb.dtype.as_str()),
            );
            result.dtype_mismatch.push(DtypeMismatch { tensor: name.clone(), dtype_a: ea.dtype, dtype_b: eb.dtype });
        }
        common.push((name.as_str(), *at_a, at_b));
    }
    for (name, at_b) in &side_b.names {
        if !side_a.index.contains_key(name) {
            result.extra_in_b.push(name.clone());
            let stored = side_b.meta(*at_b).name;
            findings.push(
                Finding::new(&rules::EXTRA_IN_B, format!("{stored} is in B but not in A"))
                    .with_subject(Subject::tensor(&side_b.checkpoint(*at_b).label, stored)),
            );
        }
    }

    let total: u64 = common.iter().map(|(_, at_a, _)| side_a.meta(*at_a).bytes).sum();
    progress.file(&format!("{} vs {}", side_a.label, side_b.label), total);
    let compared: Vec<(Option<PairRecord>, Vec<Finding>)> = common
        .par_iter()
        .map(|&(name, at_a, at_b)| {
            let out = compare_pair(&side_a, &side_b, name, at_a, at_b, options, dequantizers);
            progress.advance(side_a.meta(at_a).bytes);
            out
        })
        .collect();
    for (record, pair_findings) in compared {
        result.pairs.extend(record);
        findings.extend(pair_findings);
    }
    result.findings = findings;
    result
}

fn compare_pair(
    side_a: &Side,
    side_b: &Side,
    name: &str,
    at_a: Located,
    at_b: Located,
    options: &DiffOptions,
    dequantizers: &[&dyn Dequantize],
) -> (Option<PairRecord>, Vec<Finding>) {
    let (ca, cb) = (side_a.checkpoint(at_a), side_b.checkpoint(at_b));
    let (ea, eb) = (side_a.meta(at_a), side_b.meta(at_b));
    let values = (side_a.values(at_a, dequantizers), side_b.values(at_b, dequantizers));
    let (va, vb) = match values {
        (Ok(va), Ok(vb)) if va.numel() == vb.numel() => (va, vb),
        (va, vb) => {
            let mut findings: Vec<Finding> = [va.err(), vb.err()].into_iter().flatten().map(|f| *f).collect();
            if findings.is_empty() {
                findings.push(shape_mismatch(
                    name,
                    &cb.label,
                    eb.name,
                    "the two sides hold different element counts".into(),
                ));
            }
            return (None, findings);
        }
    };
    let metrics = compare_values(&va, &vb, options.tolerance);
    side_a.release(at_a);
    side_b.release(at_b);
    let mut findings = Vec::new();
    let subject = |flat: Option<u64>| {
        let mut subject = Subject::tensor(&cb.label, eb.name);
        subject.index = flat.map(|f| unravel(f, ea.shape));
        subject
    };
    let db = metrics.sqnr_db.map_or("exact".to_string(), |v| format!("{} dB", fmt_num(v)));
    if metrics.nonfinite_mismatch() > 0 {
        findings.push(
            Finding::new(
                &rules::NONFINITE_ONE_SIDE,
                format!(
                    "{name}: {} non-finite only in B, {} only in A, {} of a different kind",
                    metrics.nonfinite_only_b, metrics.nonfinite_only_a, metrics.nonfinite_differ
                ),
            )
            .with_subject(subject(metrics.first_nonfinite_flat))
            .with_evidence("nonfinite_only_a", metrics.nonfinite_only_a)
            .with_evidence("nonfinite_only_b", metrics.nonfinite_only_b)
            .with_evidence("nonfinite_differ", metrics.nonfinite_differ),
        );
    }
    let damaged = options.damage.judge(&metrics);
    if let (Some(by), true) = (damaged, metrics.beyond_tolerance > 0) {
        let d = options.damage;
        findings.push(
            Finding::new(
                &rules::VALUES_DAMAGED,
                format!(
                    "{name}: B no longer matches A (SQNR {db}, cosine {}; damage below {} dB or cosine {}); {} of {} values differ",
                    metrics.cosine.map_or("-".into(), |c| format!("{c:.4}")),
                    fmt_num(d.sqnr_db),
                    fmt_num(d.cosine),
                    metrics.beyond_tolerance,
                    metrics.count,
                ),
            )
            .with_subject(subject(metrics.first_beyond_flat))
            .with_evidence("by", by)
            .with_evidence("sqnr_db", json!(metrics.sqnr_db))
            .with_evidence("cosine", json!(metrics.cosine))
            .with_evidence("rel_l2_error", json!(metrics.rel_l2_error))
            .with_evidence("max_abs_diff", metrics.max_abs_diff)
            .with_evidence("beyond_tolerance", metrics.beyond_tolerance)
            .with_evidence("error_sqnr_db", d.sqnr_db)
            .with_evidence("error_cosine", d.cosine),
        );
    } else if metrics.beyond_tolerance > 0 {
        let t = options.tolerance;
        findings.push(
            Finding::new(
                &rules::BEYOND_TOLERANCE,
                format!(
                    "{name}: {} of {} values beyond rtol {} atol {} (max abs diff {}, SQNR {db}, cosine {})",
                    metrics.beyond_tolerance,
                    metrics.count,
                    t.rtol,
                    t.atol,
                    fmt_num(metrics.max_abs_diff),
                    metrics.cosine.map_or("-".into(), |c| format!("{c:.6}"))
                ),
            )
            .with_subject(subject(metrics.first_beyond_flat))
            .with_evidence("beyond_tolerance", metrics.beyond_tolerance)
            .with_evidence("max_abs_diff", metrics.max_abs_diff)
            .with_evidence("rel_l2_error", json!(metrics.rel_l2_error))
            .with_evidence("cosine", json!(metrics.cosine))
            .with_evidence("sqnr_db", json!(metrics.sqnr_db)),
        );
    }
    let record = PairRecord {
        tensor: name.to_string(),
        tensor_b: (eb.name != name).then(|| eb.name.to_string()),
        file_a: ca.label.clone(),
        file_b: cb.label.clone(),
        quant_a: ea.quant.cloned(),
        quant_b: eb.quant.cloned(),
        dtype_a: ea.dtype,
        dtype_b: eb.dtype,
        shape: ea.shape.to_vec(),
        within_tolerance: metrics.beyond_tolerance == 0 && metrics.nonfinite_mismatch() == 0,
        metrics,
    };
    (Some(record), findings)
}

fn file_records(side: &Side) -> Vec<FileRecord> {
    side.checkpoints
        .iter()
        .map(|c| FileRecord {
            file: c.label.clone(),
            format: c.format.name(),
            bytes: c.file_len(),
            tensors: c.tensors.len(),
        })
        .collect()
}

/// D: the pair `name` (B's `tensor` in `file`) cannot be compared value by
/// value; `detail` says why.
fn shape_mismatch(name: &str, file: &str, tensor: &str, detail: String) -> Finding {
    Finding::new(&rules::SHAPE_MISMATCH, format!("{name}: {detail}")).with_subject(Subject::tensor(file, tensor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{Checkpoint, TensorEntry};
    use crate::weights::Silent;
    use crate::weights::values::logical_values;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/diff").join(name)
    }

    /// Stands in for a scheme reader: claims one tensor and yields values of its own.
    struct Doubling;
    impl Dequantize for Doubling {
        fn dequantize(&self, checkpoint: &Checkpoint, entry: &TensorEntry) -> Option<Result<Vec<f32>, Box<Finding>>> {
            (entry.name.ends_with("rounded.weight") && checkpoint.label.contains("converted")).then(|| {
                let values = logical_values(checkpoint, entry, &[])?;
                let mut out = vec![0f32; values.numel()];
                values.decode(0, &mut out);
                Ok(out.iter().map(|x| x * 2.0).collect())
            })
        }
    }

    #[test]
    fn key_sets_and_drift_without_the_cli() {
        let options = DiffOptions {
            alignment: NameAlignment { strip_prefix: Some("model.diffusion_model.".into()), add_prefix: None },
            ..DiffOptions::default()
        };
        let result = diff(&fixture("reference.safetensors"), &fixture("converted.safetensors"), &options, &[], &Silent);
        assert_eq!(result.missing_in_b, ["missing.weight"]);
        assert_eq!(result.extra_in_b, ["extra.weight"]);
        assert_eq!(result.pairs.len(), 6);
        let rounded = result.pairs.iter().find(|p| p.tensor == "rounded.weight").unwrap();
        assert!(rounded.within_tolerance);

        let hooked =
            diff(&fixture("reference.safetensors"), &fixture("converted.safetensors"), &options, &[&Doubling], &Silent);
        let rounded = hooked.pairs.iter().find(|p| p.tensor == "rounded.weight").unwrap();
        assert!(!rounded.within_tolerance, "the dequantizer's values are the ones compared");
        assert!((rounded.metrics.rel_l2_error.unwrap() - 1.0).abs() < 1e-3);
    }
}
