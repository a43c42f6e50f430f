//! Per-tensor hazard checks: statistics in, findings out.

use serde_json::json;

use crate::numerics::{DType, TargetDType, TensorStats, unravel};
use crate::report::{Finding, Severity, Subject, fmt_num};
use crate::rules::weights as rules;

/// Thresholds of the weight rules. Defaults are documented in `nanscope rules`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ScanOptions {
    /// The dtype the pipeline will run the weights in.
    pub target: TargetDType,
    /// W103 fires when more than this share of non-zero values underflow.
    pub underflow_share: f64,
    /// W106 fires when the most extreme value lies more than this many
    /// standard deviations from the mean.
    pub range_ratio: f64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { target: TargetDType::F16, underflow_share: 0.1, range_ratio: 100.0 }
    }
}

/// Whether a parameter name is the scale of a normalization layer
/// (`norm1.weight`, `group_norm.weight`, `ln_f.weight`, `…_layernorm.gamma`).
pub fn is_norm_scale(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let mut parts = lower.rsplit('.');
    let param = parts.next().unwrap_or("");
    let module = parts.next().unwrap_or("");
    matches!(param, "weight" | "scale" | "gamma" | "g")
        && (module.contains("norm") || module.starts_with("ln") || module == "bn")
}

/// Whether a parameter is one that layers initialise to zero, so that an
/// all-zero value is normal: biases (`conv.bias`, `norm1.bias`, LayerNorm
/// `beta`, `in_proj_bias`) and BatchNorm's `running_mean`.
pub fn starts_at_zero(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let param = lower.rsplit('.').next().unwrap_or("");
    matches!(param, "bias" | "beta" | "running_mean") || param.ends_with("_bias")
}

/// Findings for one scanned tensor.
pub fn tensor_findings(
    file: &str,
    name: &str,
    dtype: DType,
    shape: &[u64],
    stats: &TensorStats,
    options: &ScanOptions,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let subject = Subject::tensor(file, name);

    let nonfinite = stats.nonfinite();
    if nonfinite > 0 {
        let mut subject = subject.clone();
        let mut where_ = String::new();
        if let Some(flat) = stats.first_nonfinite_flat {
            let index = unravel(flat, shape);
            where_ = format!(" (first at {index:?})");
            subject.index = Some(index);
        }
        let kinds: Vec<String> = [(stats.nan, "NaN"), (stats.pos_inf, "+Inf"), (stats.neg_inf, "-Inf")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, kind)| format!("{n} {kind}"))
            .collect();
        out.push(
            Finding::new(&rules::NONFINITE_VALUES, format!("{} in {name}{where_}", kinds.join(", ")))
                .with_subject(subject)
                .with_evidence("nan", stats.nan)
                .with_evidence("pos_inf", stats.pos_inf)
                .with_evidence("neg_inf", stats.neg_inf)
                .with_evidence("count", stats.count)
                .with_evidence("first_nonfinite_flat", json!(stats.first_nonfinite_flat)),
        );
    }

    let target = options.target.dtype();
    let casts = dtype.is_float() && target.is_some_and(|t| t != dtype);
    if let (true, Some(target), Some(overflow @ 1..)) = (casts, target, stats.overflow) {
        let limit = target.max_finite().unwrap_or(f64::INFINITY);
        let (values, exceed) = if overflow == 1 { ("value", "exceeds") } else { ("values", "exceed") };
        out.push(
            Finding::new(
                &rules::TARGET_OVERFLOW,
                format!(
                    "{overflow} {values} in {name} {exceed} {target}'s range (absmax {}, limit {limit})",
                    fmt_num(stats.absmax.unwrap_or(0.0))
                ),
            )
            .with_subject(subject.clone())
            .with_evidence("overflow", overflow)
            .with_evidence("absmax", json!(stats.absmax))
            .with_evidence("target_dtype", target.name()),
        );
    }
    if let (true, Some(target), Some(underflow)) = (casts, target, stats.underflow) {
        let nonzero = stats.finite() - stats.zero;
        if nonzero > 0 && underflow as f64 > options.underflow_share * nonzero as f64 {
            let share = underflow as f64 / nonzero as f64;
            out.push(
                Finding::new(
                    &rules::TARGET_UNDERFLOW,
                    format!("{:.1}% of non-zero values in {name} underflow in {target}", share * 100.0),
                )
                .with_subject(subject.clone())
                .with_evidence("underflow", underflow)
                .with_evidence("nonzero", nonzero)
                .with_evidence("share", share)
                .with_evidence("target_dtype", target.name()),
            );
        }
    }

    // Integer and boolean tensors are counters, indices and masks
    // (`num_batches_tracked`, `position_ids`), not weights: zero is a value
    // like any other for them.
    if dtype.is_float() && stats.count > 0 && stats.zero == stats.count {
        let norm = is_norm_scale(name);
        let zero_at_init = starts_at_zero(name);
        let message = if norm {
            format!("normalization scale {name} is all zeros: it zeroes its layer's output")
        } else if zero_at_init {
            format!("all {} elements of {name} are zero (as initialised)", stats.count)
        } else {
            format!("all {} elements of {name} are zero", stats.count)
        };
        let finding = Finding::new(&rules::ALL_ZERO_TENSOR, message)
            .with_subject(subject.clone())
            .with_evidence("count", stats.count);
        out.push(match (norm, zero_at_init) {
            (true, _) => finding.with_severity(Severity::Error),
            (false, true) => finding.with_severity(Severity::Info),
            (false, false) => finding,
        });
    }

    if stats.subnormal > 0 {
        out.push(
            Finding::new(
                &rules::SUBNORMAL_VALUES,
                format!(
                    "{} subnormal {dtype} value{} in {name}",
                    stats.subnormal,
                    if stats.subnormal == 1 { "" } else { "s" }
                ),
            )
            .with_subject(subject.clone())
            .with_evidence("subnormal", stats.subnormal),
        );
    }

    if let (Some(min), Some(max), Some(mean), Some(std)) = (stats.min, stats.max, stats.mean, stats.std) {
        let extreme = (max - mean).abs().max((min - mean).abs());
        if dtype.is_float() && std > 0.0 && extreme > options.range_ratio * std {
            out.push(
                Finding::new(
                    &rules::EXTREME_DYNAMIC_RANGE,
                    format!(
                        "{name}: the most extreme value lies {} standard deviations from the mean (absmax {}, std {})",
                        fmt_num(extreme / std),
                        fmt_num(stats.absmax.unwrap_or(0.0)),
                        fmt_num(std)
                    ),
                )
                .with_subject(subject)
                .with_evidence("absmax", json!(stats.absmax))
                .with_evidence("std", std)
                .with_evidence("ratio", extreme / std),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::{ByteOrder, tensor_stats};

    fn findings(name: &str, xs: &[f32], shape: &[u64], options: ScanOptions) -> Vec<Finding> {
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let stats = tensor_stats(DType::F32, &bytes, ByteOrder::Little, options.target).unwrap();
        tensor_findings("m.safetensors", name, DType::F32, shape, &stats, &options)
    }

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code()).collect()
    }

    #[test]
    fn nonfinite_finding_names_the_coordinate() {
        let mut xs = vec![0.5f32; 200];
        xs[77] = f32::NAN;
        xs[150] = f32::INFINITY;
        let f = findings("to_q.weight", &xs, &[2, 100], ScanOptions::default());
        assert_eq!(codes(&f), ["W101"]);
        assert_eq!(f[0].subject.index, Some(vec![0, 77]));
        assert_eq!(f[0].evidence["nan"], 1);
        assert_eq!(f[0].evidence["pos_inf"], 1);
        assert!(f[0].message.contains("first at [0, 77]"), "{}", f[0].message);
    }

    #[test]
    fn overflow_depends_on_the_target() {
        let xs = [1.0f32, 70000.0, -2.0, 3.0];
        assert_eq!(codes(&findings("w", &xs, &[4], ScanOptions::default())), ["W102"]);
        let bf16 = ScanOptions { target: TargetDType::BF16, ..ScanOptions::default() };
        assert!(findings("w", &xs, &[4], bf16).is_empty());
    }

    #[test]
    fn underflow_share_threshold() {
        let xs = [1e-6f32, 1e-6, 1.0, 1.0];
        assert_eq!(codes(&findings("w", &xs, &[4], ScanOptions::default())), ["W103"]);
        let lax = ScanOptions { underflow_share: 0.6, ..ScanOptions::default() };
        assert!(findings("w", &xs, &[4], lax).is_empty());
    }

    #[test]
    fn all_zero_norm_scale_is_an_error() {
        let f = findings("down_blocks.0.resnets.0.norm1.weight", &[0.0; 8], &[8], ScanOptions::default());
        assert_eq!(codes(&f), ["W104"]);
        assert_eq!(f[0].severity, Severity::Error);
        let f = findings("conv_out.weight", &[0.0; 8], &[8], ScanOptions::default());
        assert_eq!(f[0].severity, Severity::Warning);
    }

    /// Issue: an all-zero bias is how layers are initialised; a warning made
    /// `--fail-on warning` fail on clean checkpoints.
    #[test]
    fn all_zero_biases_are_info_but_norm_scales_stay_errors() {
        for name in
            ["conv_in.bias", "down_blocks.0.resnets.0.norm1.bias", "ln.beta", "attn.in_proj_bias", "bn.running_mean"]
        {
            let f = findings(name, &[0.0; 8], &[8], ScanOptions::default());
            assert_eq!(codes(&f), ["W104"], "{name}");
            assert_eq!(f[0].severity, Severity::Info, "{name}");
        }
        let f = findings("mid_block.resnets.0.norm2.weight", &[0.0; 8], &[8], ScanOptions::default());
        assert_eq!(f[0].severity, Severity::Error);
        assert!(!starts_at_zero("conv.bias_scale.weight"));
    }

    /// Issue: integer buffers such as BatchNorm's `num_batches_tracked` are
    /// counters, not weights.
    #[test]
    fn integer_buffers_are_not_judged_as_weights() {
        let options = ScanOptions::default();
        let zero = 0i64.to_le_bytes();
        let stats = tensor_stats(DType::I64, &zero, ByteOrder::Little, options.target).unwrap();
        assert!(tensor_findings("m.pt", "bn.num_batches_tracked", DType::I64, &[], &stats, &options).is_empty());
        let mut ids: Vec<u8> = Vec::new();
        for i in 0..4096i64 {
            ids.extend_from_slice(&(if i == 7 { 1_000_000 } else { i % 3 }).to_le_bytes());
        }
        let stats = tensor_stats(DType::I64, &ids, ByteOrder::Little, options.target).unwrap();
        assert!(tensor_findings("m.pt", "position_ids", DType::I64, &[4096], &stats, &options).is_empty());
    }

    #[test]
    fn outlier_is_extreme_range_but_a_near_one_norm_is_not() {
        let mut xs = vec![0.0f32; 1 << 20];
        for (i, x) in xs.iter_mut().enumerate() {
            *x = ((i % 17) as f32 - 8.0) * 0.001;
        }
        xs[5] = 500.0;
        let f = findings("attn.to_q.weight", &xs, &[1 << 20], ScanOptions::default());
        assert_eq!(codes(&f), ["W106"]);
        let norm: Vec<f32> = (0..4096).map(|i| 1.0 + ((i % 7) as f32 - 3.0) * 0.001).collect();
        assert!(findings("norm.weight", &norm, &[4096], ScanOptions::default()).is_empty());
    }

    #[test]
    fn norm_scale_names() {
        assert!(is_norm_scale("down_blocks.0.resnets.0.norm1.weight"));
        assert!(is_norm_scale("transformer.ln_f.weight"));
        assert!(is_norm_scale("mid.attn.group_norm.weight"));
        assert!(!is_norm_scale("mid.attn.group_norm.bias"));
        assert!(!is_norm_scale("conv_in.weight"));
    }
}
