//! The log lines nanscope recognises: which rule each one is, and which
//! stage of the pipeline it implicates.
//!
//! `NEEDLES` are what the block search looks for; `classify` then reads the
//! (lower-cased) line that holds one and decides. A needle may match lines
//! that are not signatures ("Contains NaN: False"); `classify` says no.

use crate::numerics::QuantScheme;
use crate::rules::Rule;
use crate::rules::log as rules;

/// Strings whose presence makes a line worth classifying. Parameter
/// keywords are listed in `params::NEEDLES`.
pub(crate) const NEEDLES: &[&str] = &[
    "encountered in",
    "divide by zero",
    "nan",
    "inf values",
    "contains inf",
    "replac",
    "bytes read",
    "moov atom",
    "invalid data found",
    "out of memory",
    "outofmemory",
    "quantiz",
    "int8_weight_only",
    "int4_weight_only",
    "int8量化",
    "bitsandbytes",
    "load_in_8bit",
    "load_in_4bit",
    "motion module",
    "winerror 2",
    "failed to load audio",
    "ffmpeg",
    "broadcast",
    "must match the size",
    "invalid for input of size",
    "shapes cannot be multiplied",
    "arg 3 must not be zero",
    "invalid load key",
    "headertoolarge",
    "range",
    "min=",
    "min:",
];

/// A recognised line: its rule, the stage it implicates and, for a
/// quantization line, the scheme it names (as `weights --simulate` takes it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Signature {
    pub rule: &'static Rule,
    pub stage: &'static str,
    pub scheme: Option<QuantScheme>,
}

fn sig(rule: &'static Rule, stage: &'static str) -> Option<Signature> {
    Some(Signature { rule, stage, scheme: None })
}

/// Decides what a line is. `line` must be lower-cased.
pub(crate) fn classify(line: &str) -> Option<Signature> {
    let has = |needle: &str| line.contains(needle);
    let any = |needles: &[&str]| needles.iter().any(|n| line.contains(n));
    if has("invalid value encountered in cast") {
        return sig(&rules::NAN_CAST_WARNING, "video write");
    }
    if has("nansexception") || has("all nans was produced") || has("all nans were produced") {
        return sig(&rules::NANS_EXCEPTION, nan_stage(line, "denoising"));
    }
    if any(&["replacing with zero", "replaced with zero", "replacing nan", "nan_to_num"])
        || (has("replac") && has("nan") && has("zero"))
    {
        return sig(&rules::NAN_REPLACED_WITH_ZEROS, nan_stage(line, "video write"));
    }
    if any(&["overflow encountered in", "divide by zero encountered", "invalid value encountered in"]) {
        return sig(&rules::NUMPY_NUMERIC_WARNING, "numerics");
    }
    if has("moov atom not found") {
        return sig(&rules::MOOV_ATOM_NOT_FOUND, "mux");
    }
    if has("invalid data found when processing input") {
        return sig(&rules::INVALID_MEDIA_DATA, "media input");
    }
    if zero_bytes_read(line) {
        return sig(&rules::ZERO_BYTES_READ, "media input");
    }
    if any(&["cuda out of memory", "outofmemoryerror", "cuda error: out of memory"]) {
        return sig(&rules::CUDA_OUT_OF_MEMORY, "memory");
    }
    if let Some(params) = motion_module_params(line) {
        return (params == 0.0).then_some(Signature {
            rule: &rules::MOTION_MODULE_EMPTY,
            stage: "model load",
            scheme: None,
        });
    }
    if has("invalid load key, 'v'") || has("headertoolarge") {
        return sig(&rules::LFS_POINTER_LOADED, "model load");
    }
    if has("motion module not found") {
        return sig(&rules::MOTION_MODULE_NOT_FOUND, "model load");
    }
    if any(&["[winerror 2]", "failed to load audio", "no such file or directory: 'ffmpeg'", "ffmpeg: not found"]) {
        return sig(&rules::FFMPEG_MISSING, "audio");
    }
    if has("could not broadcast") {
        return sig(&rules::SHAPE_MISMATCH, "pose");
    }
    if has("arg 3 must not be zero") {
        return sig(&rules::SHAPE_MISMATCH, "context windows");
    }
    if any(&["must match the size of tensor", "invalid for input of size", "shapes cannot be multiplied"]) {
        return sig(&rules::SHAPE_MISMATCH, "model forward");
    }
    if quantization(line) {
        let scheme = if has("cannot import") { None } else { scheme_named(line) };
        return Some(Signature { rule: &rules::QUANTIZATION_APPLIED, stage: "model load", scheme });
    }
    if nan_reported(line) {
        return sig(&rules::PIPELINE_NAN_REPORTED, nan_stage(line, "pipeline output"));
    }
    if let Some((lo, hi)) = printed_range(line)
        && lo == hi
    {
        return sig(&rules::BLANK_OUTPUT_RANGE, "pipeline output");
    }
    None
}

/// The stage a NaN line names, or `default`.
fn nan_stage(line: &str, default: &'static str) -> &'static str {
    if line.contains("latent") || line.contains("unet") || line.contains("denois") {
        "denoising"
    } else if line.contains("vae") || line.contains("decod") {
        "vae decode"
    } else if line.contains("pose") {
        "pose"
    } else if line.contains("ref") && line.contains("image") {
        "reference image"
    } else {
        default
    }
}

/// moviepy's "… bytes wanted but 0 bytes read" and the like.
fn zero_bytes_read(line: &str) -> bool {
    line.match_indices("0 bytes read").any(|(at, _)| at == 0 || !line.as_bytes()[at - 1].is_ascii_digit())
}

/// The parameter count of `Loaded {X}M-parameter motion module`.
fn motion_module_params(line: &str) -> Option<f64> {
    let at = line.find("m-parameter motion module")?;
    let digits = line[..at].trim_end();
    let start = digits
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(0, |(p, c)| p + c.len_utf8());
    digits[start..].parse().ok()
}

fn quantization(line: &str) -> bool {
    let applied = [
        "quantize_(",
        "quantize_dynamic",
        "int8_weight_only",
        "int4_weight_only",
        "int8_dynamic_activation",
        "load_in_8bit=true",
        "load_in_4bit=true",
        "bitsandbytes",
        "cannot import name 'quantize_'",
        UI_INT8,
    ];
    applied.iter().any(|n| line.contains(n))
        || (line.contains("quantiz") && ["appl", "int8", "int4", "fp8", "torchao"].iter().any(|n| line.contains(n)))
}

/// What EchoMimicV2's UIs (`app.py`, `app_acc.py`) print once their int8
/// option has quantized the VAE (and then the reference UNet) with torchao's
/// `int8_weight_only`: "使用int8量化" or "int8量化" ("int8 quantization").
const UI_INT8: &str = "int8量化";

/// The models a (lower-cased) quantization line names: the first argument
/// of `quantize_(…)`, or the VAE and reference UNet for the message of
/// EchoMimicV2's UIs, which quantize only those. Empty when the line does
/// not say.
pub(crate) fn quantized_models(line: &str) -> Vec<String> {
    if line.contains(UI_INT8) {
        return vec!["vae".into(), "reference_unet".into()];
    }
    line.match_indices("quantize_(")
        .filter_map(|(at, call)| {
            let argument = line[at + call.len()..].split([',', ')']).next()?.trim();
            let name = argument.strip_prefix("model=").unwrap_or(argument).trim();
            let plain = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.');
            plain.then(|| name.to_string())
        })
        .collect()
}

/// The quantization scheme a (lower-cased) line or setting names, as
/// `weights --simulate` takes it: torchao's and bitsandbytes' int8 are per
/// output channel, int4 is grouped by 128, float8 is e4m3.
pub(crate) fn scheme_named(text: &str) -> Option<QuantScheme> {
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&["int4", "4bit", "nf4", "fp4"]) {
        Some(QuantScheme::Int4G128)
    } else if has(&["float8", "fp8", "e4m3"]) {
        Some(QuantScheme::Fp8E4M3)
    } else if has(&["int8", "8bit", "qint8", "quantize_", "quantize_dynamic", "bitsandbytes"]) {
        Some(QuantScheme::Int8Channel)
    } else {
        None
    }
}

/// Lines in which the pipeline says it found NaN or Inf.
fn nan_reported(line: &str) -> bool {
    let said = [
        "contains nan: true",
        "contains nan=true",
        "contains_nan: true",
        "contains_nan=true",
        "has_nan: true",
        "has_nan=true",
        "has nan: true",
        "nan detected",
        "nans detected",
        "nan values detected",
        "contains inf: true",
        "inf values detected",
    ];
    if said.iter().any(|n| line.contains(n)) {
        return true;
    }
    let Some(at) = line.find("range") else { return false };
    let rest = &line[at..];
    let mut cut = rest.len().min(80);
    while !rest.is_char_boundary(cut) {
        cut -= 1;
    }
    let window = &rest[..cut];
    window.split(|c: char| !c.is_ascii_alphanumeric()).any(|token| token == "nan" || token == "inf")
}

/// A printed `range: [lo, hi]` / `range (lo, hi)` or `min=lo max=hi`.
fn printed_range(line: &str) -> Option<(f64, f64)> {
    if let Some(at) = line.find("range") {
        let rest = &line[at + 5..];
        let open = rest.find(['[', '('])?;
        if open > 4 {
            return None;
        }
        let close = rest[open..].find([']', ')'])? + open;
        let mut numbers = rest[open + 1..close].split(',').map(|s| s.trim().parse::<f64>());
        return match (numbers.next(), numbers.next(), numbers.next()) {
            (Some(Ok(lo)), Some(Ok(hi)), None) => Some((lo, hi)),
            _ => None,
        };
    }
    let lo = number_after(line, &["min=", "min:"])?;
    let hi = number_after(line, &["max=", "max:"])?;
    Some((lo, hi))
}

fn number_after(line: &str, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|key| {
        let at = line.find(key)? + key.len();
        let rest = line[at..].trim_start();
        let end =
            rest.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e'))).unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> Option<&'static str> {
        classify(&line.to_lowercase()).map(|s| s.rule.code)
    }

    #[test]
    fn the_incident_lines_are_recognised() {
        let cast = "/app/src/utils/util.py:98: RuntimeWarning: invalid value encountered in cast";
        assert_eq!(code(cast), Some("L101"));
        assert_eq!(code("MoviePy warning: 6220800 bytes wanted but 0 bytes read at frame 12/120"), Some("L105"));
        assert_eq!(code("WARNING: NaN values detected in video tensor, replacing with zeros"), Some("L104"));
        assert_eq!(code("Pipeline output shape: (1, 3, 120, 768, 768), range: [nan, nan]"), Some("L103"));
        assert_eq!(code("Contains NaN: True"), Some("L103"));
        assert_eq!(code("Loaded 0.0M-parameter motion module"), Some("L111"));
    }

    #[test]
    fn loads_of_git_lfs_pointers_are_recognised() {
        assert_eq!(code("_pickle.UnpicklingError: invalid load key, 'v'."), Some("L118"));
        let header = "safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge";
        assert_eq!(code(header), Some("L118"));
        // Another first byte is another damage, not a pointer.
        assert_eq!(code("_pickle.UnpicklingError: invalid load key, '<'."), None);
    }

    #[test]
    fn quantization_lines_name_their_models() {
        assert_eq!(quantized_models("quantize_(denoising_unet, int8_weight_only())"), ["denoising_unet"]);
        assert_eq!(quantized_models("quantize_(pipe.unet, int8_weight_only())"), ["pipe.unet"]);
        assert_eq!(quantized_models("2025-11-20 09:58:24,530 使用int8量化"), ["vae", "reference_unet"]);
        assert!(quantized_models("quantization applied: int8 (torchao)").is_empty());
        assert!(quantized_models("quantize_(*args)").is_empty());
        assert_eq!(classify("使用int8量化").map(|s| s.scheme), Some(Some(QuantScheme::Int8Channel)));
        assert!(classify("int8量化").is_some_and(|s| s.rule == &rules::QUANTIZATION_APPLIED));
    }

    #[test]
    fn quantization_lines_name_their_scheme() {
        let scheme = |line: &str| classify(&line.to_lowercase()).and_then(|s| s.scheme);
        assert_eq!(scheme("quantize_(denoising_unet, int8_weight_only())"), Some(QuantScheme::Int8Channel));
        assert_eq!(scheme("quantize_(unet, int4_weight_only(group_size=128))"), Some(QuantScheme::Int4G128));
        assert_eq!(scheme("model = load(..., load_in_4bit=True)"), Some(QuantScheme::Int4G128));
        assert_eq!(scheme("quantization applied: float8 weight-only (torchao)"), Some(QuantScheme::Fp8E4M3));
        assert_eq!(scheme("ImportError: cannot import name 'quantize_' from 'torchao'"), None);
    }

    #[test]
    fn healthy_lines_are_not_findings() {
        for line in [
            "Contains NaN: False",
            "Loaded 453.20928M-parameter motion module",
            "Pipeline output range: [0.0, 1.0]",
            "for i in range(10):",
            "Wrote 100 bytes read-only",
            "financial nanoseconds",
        ] {
            assert_eq!(code(line), None, "{line}");
        }
        assert_eq!(code("video range: [0.0, 0.0]"), Some("L115"));
        assert_eq!(code("frame stats min=0 max=0"), Some("L115"));
        assert_eq!(code("10 bytes read"), None);
        // Multi-byte text next to the parsed parts must not split a character.
        assert_eq!(code("é0.0M-parameter motion module"), Some("L111"));
        assert_eq!(code(&format!("range {}", "é".repeat(60))), None);
    }
}
