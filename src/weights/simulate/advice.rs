//! From simulated figures to findings, and which modules to keep out of a
//! quantization call.

use serde_json::json;

use super::metrics::SimulationMetrics;
use crate::numerics::QuantScheme;
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::simulate as rules;

/// Thresholds of the `Q2xx` rules.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SimulateOptions {
    pub scheme: QuantScheme,
    /// Q201 fires when the worst channel's SQNR is below this.
    pub min_sqnr_db: f64,
    /// Q202 fires above this share of zeroed non-zero weights.
    pub max_zeroed_share: f64,
    /// Q203 fires above this share of clipped weights.
    pub max_clipped_share: f64,
}

impl SimulateOptions {
    pub fn new(scheme: QuantScheme) -> Self {
        SimulateOptions {
            scheme,
            min_sqnr_db: default_min_sqnr_db(scheme),
            max_zeroed_share: 0.5,
            max_clipped_share: 0.001,
        }
    }
}

/// The SQNR below which a channel counts as damaged. A Gaussian weight row
/// quantized to 8 bits with an absmax scale keeps about 40 dB (step ≈ 4σ/127,
/// noise step²/12); int4 groups of 128 about 20 dB; fp8 e4m3 about 31 dB;
/// fp16 about 70 dB and bf16 about 50 dB. The thresholds sit 10–20 dB below
/// those healthy figures: a channel under them carries 10–30% RMS error,
/// which no healthy tensor reaches under the scheme.
pub fn default_min_sqnr_db(scheme: QuantScheme) -> f64 {
    match scheme {
        QuantScheme::Int8 | QuantScheme::Int8Channel => 20.0,
        QuantScheme::Int4G128 => 10.0,
        QuantScheme::Fp8E4M3 => 15.0,
        QuantScheme::Fp16 => 40.0,
        QuantScheme::Bf16 => 30.0,
    }
}

/// Module names that diffusion quantization tools keep in high precision by
/// default (TensorRT Model Optimizer's `filter_func_default`, ComfyUI-GGUF,
/// SDNQ), matched against each dotted component of a module path.
const HIGH_PRECISION_MODULES: &[&str] = &[
    "conv_in",
    "conv_out",
    "conv_shortcut",
    "time_emb_proj",
    "time_embedding",
    "time_embed",
    "add_embedding",
    "pos_embed",
    "time_text_embed",
    "context_embedder",
    "norm_out",
    "x_embedder",
    "proj_in",
    "proj_out",
    "caption_projection",
    "patch_embedding",
    "condition_embedder",
    "t_embedder",
    "cap_embedder",
    "final_layer",
    "patch_embed",
    "time_in",
    "txt_in",
    "vector_in",
    "img_in",
    "guidance_in",
];

/// The module a parameter belongs to: the tensor name minus its parameter
/// suffix (`.weight`, `.bias`).
pub fn module_name(tensor: &str) -> &str {
    for suffix in [".weight", ".bias"] {
        if let Some(module) = tensor.strip_suffix(suffix) {
            return module;
        }
    }
    tensor
}

/// The convention that keeps `module` in high precision, if any.
pub fn high_precision_convention(module: &str) -> Option<&'static str> {
    let lower = module.to_ascii_lowercase();
    for part in lower.split('.') {
        if let Some(name) = HIGH_PRECISION_MODULES.iter().find(|m| **m == part) {
            return Some(name);
        }
        if part.contains("norm") {
            return Some("normalization");
        }
    }
    None
}

/// Findings for one simulated tensor, and the reasons (rule slugs) to keep
/// its module out of the conversion.
pub fn simulation_findings(
    file: &str,
    tensor: &str,
    metrics: &SimulationMetrics,
    options: &SimulateOptions,
) -> (Vec<Finding>, Vec<&'static str>) {
    let scheme = options.scheme;
    let subject = Subject::tensor(file, tensor);
    let mut out = Vec::new();
    let mut reasons = Vec::new();
    let db = |x: Option<f64>| x.map_or("exact".to_string(), |v| format!("{} dB", fmt_num(v)));

    if metrics.nonfinite_input > 0 {
        let consequence = match (scheme.is_cast(), metrics.lost) {
            (true, _) => "the cast keeps them".to_string(),
            (false, 0) => "nothing else shares their scale".to_string(),
            (false, lost) if lost + metrics.nonfinite_input == metrics.count => {
                format!(
                    "its per-{} scale becomes NaN/Inf and all {lost} other weights dequantize to NaN",
                    scheme.granularity().name()
                )
            }
            (false, lost) => format!(
                "the per-{} scales they share become NaN/Inf and {lost} other weights dequantize to NaN",
                scheme.granularity().name()
            ),
        };
        out.push(
            Finding::new(
                &rules::NONFINITE_INPUT,
                format!(
                    "{tensor} already holds {} NaN/Inf value{}: under {scheme} {consequence}",
                    metrics.nonfinite_input,
                    if metrics.nonfinite_input == 1 { "" } else { "s" }
                ),
            )
            .with_subject(subject.clone())
            .with_evidence("scheme", scheme.name())
            .with_evidence("nonfinite_input", metrics.nonfinite_input)
            .with_evidence("lost", metrics.lost)
            .with_evidence("count", metrics.count),
        );
    }
    if let Some(worst) = metrics.worst_channel_sqnr_db.filter(|w| *w < options.min_sqnr_db) {
        let mut subject = subject.clone();
        subject.block = metrics.worst_channel.map(Into::into);
        out.push(
            Finding::new(
                &rules::LOW_SQNR,
                format!(
                    "{scheme} leaves row {} of {tensor} at {} SQNR (whole tensor {}, threshold {} dB)",
                    metrics.worst_channel.unwrap_or(0),
                    db(Some(worst)),
                    db(metrics.sqnr_db),
                    fmt_num(options.min_sqnr_db)
                ),
            )
            .with_subject(subject)
            .with_evidence("scheme", scheme.name())
            .with_evidence("worst_channel_sqnr_db", worst)
            .with_evidence("worst_channel", json!(metrics.worst_channel))
            .with_evidence("sqnr_db", json!(metrics.sqnr_db))
            .with_evidence("min_sqnr_db", options.min_sqnr_db),
        );
        reasons.push(rules::LOW_SQNR.slug);
    }
    if metrics.zeroed > 0 && metrics.zeroed_share > options.max_zeroed_share {
        out.push(
            Finding::new(
                &rules::ZEROED_WEIGHTS,
                format!(
                    "{scheme} rounds {:.1}% of the non-zero weights of {tensor} to zero ({} weights)",
                    metrics.zeroed_share * 100.0,
                    metrics.zeroed
                ),
            )
            .with_subject(subject.clone())
            .with_evidence("scheme", scheme.name())
            .with_evidence("zeroed", metrics.zeroed)
            .with_evidence("zeroed_share", metrics.zeroed_share),
        );
        reasons.push(rules::ZEROED_WEIGHTS.slug);
    }
    if metrics.clipped > 0 && metrics.clipped_share > options.max_clipped_share {
        out.push(
            Finding::new(
                &rules::CLIPPED_WEIGHTS,
                format!(
                    "{scheme} clips {} weights of {tensor} ({:.2}%)",
                    metrics.clipped,
                    metrics.clipped_share * 100.0
                ),
            )
            .with_subject(subject.clone())
            .with_evidence("scheme", scheme.name())
            .with_evidence("clipped", metrics.clipped)
            .with_evidence("clipped_share", metrics.clipped_share),
        );
        reasons.push(rules::CLIPPED_WEIGHTS.slug);
    }
    if metrics.overflow > 0 {
        out.push(
            Finding::new(
                &rules::OVERFLOW,
                format!("{scheme} turns {} finite weights of {tensor} into Inf or NaN", metrics.overflow),
            )
            .with_subject(subject.clone())
            .with_evidence("scheme", scheme.name())
            .with_evidence("overflow", metrics.overflow),
        );
        reasons.push(rules::OVERFLOW.slug);
    }
    if let Some(unscaled @ 1..) = metrics.unscaled_overflow {
        out.push(
            Finding::new(
                &rules::FP8_UNSCALED_NAN,
                format!(
                    "an unscaled float8_e4m3fn cast would store NaN for {unscaled} weights of {tensor} (|x| > 464)"
                ),
            )
            .with_subject(subject.clone())
            .with_evidence("unscaled_overflow", unscaled),
        );
    }
    let module = module_name(tensor);
    if let (false, Some(convention)) = (scheme.is_cast(), high_precision_convention(module)) {
        out.push(
            Finding::new(
                &rules::KEEP_HIGH_PRECISION,
                format!("{module} ({convention}) is usually kept in high precision, but {scheme} would quantize it"),
            )
            .with_subject(Subject { module: Some(module.to_string()), ..subject })
            .with_evidence("scheme", scheme.name())
            .with_evidence("convention", convention),
        );
        reasons.push(rules::KEEP_HIGH_PRECISION.slug);
    }
    (out, reasons)
}

/// The exclude list as a Python list literal, ready to paste.
pub fn python_list(modules: &[String]) -> String {
    let items: Vec<String> = modules.iter().map(|m| python_string(m)).collect();
    format!("[{}]", items.join(", "))
}

fn python_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_drop_the_parameter_suffix() {
        assert_eq!(module_name("down_blocks.0.attentions.0.proj_in.weight"), "down_blocks.0.attentions.0.proj_in");
        assert_eq!(module_name("conv_in.bias"), "conv_in");
        assert_eq!(module_name("pos_encoder.pe"), "pos_encoder.pe");
    }

    #[test]
    fn diffusion_conventions_match_whole_components() {
        assert_eq!(high_precision_convention("conv_in"), Some("conv_in"));
        assert_eq!(high_precision_convention("model.diffusion_model.time_embedding.linear_1"), Some("time_embedding"));
        assert_eq!(high_precision_convention("up_blocks.1.resnets.0.time_emb_proj"), Some("time_emb_proj"));
        assert_eq!(high_precision_convention("mid_block.resnets.0.norm1"), Some("normalization"));
        assert_eq!(high_precision_convention("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"), None);
        assert_eq!(high_precision_convention("conv_input_layer"), None);
    }

    #[test]
    fn python_list_escapes() {
        assert_eq!(python_list(&["a.b".into(), "q\"x".into()]), r#"["a.b", "q\"x"]"#);
        assert_eq!(python_list(&[]), "[]");
    }
}
