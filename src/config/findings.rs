//! One constructor per `C` rule: each builds its message, subject key and
//! evidence in one place.

use super::check::Variant;
use crate::numerics::QuantScheme;
use crate::report::{Finding, Severity, Subject, fmt_num};
use crate::rules::config as rules;

/// Findings of one file, each given the file's name.
pub(crate) struct Sink {
    file: String,
    pub findings: Vec<Finding>,
}

impl Sink {
    pub(crate) fn new(file: &str) -> Self {
        Sink { file: file.to_string(), findings: Vec::new() }
    }

    pub(crate) fn push(&mut self, finding: Finding) {
        let mut finding = finding;
        finding.subject.file = Some(self.file.clone());
        self.findings.push(finding);
    }
}

fn at(key: &str, line: Option<u64>) -> Subject {
    Subject { key: Some(key.to_string()), line, ..Subject::default() }
}

pub(crate) fn unreadable(file: &str, line: Option<u64>, reason: &str) -> Finding {
    Finding::new(&rules::UNREADABLE_CONFIG, format!("{file} cannot be read as a configuration: {reason}"))
        .with_subject(Subject { file: Some(file.to_string()), line, ..Subject::default() })
}

pub(crate) fn weight_file_missing(key: &str, line: u64, resolved: &str) -> Finding {
    Finding::new(&rules::WEIGHT_FILE_MISSING, format!("{key} points to {resolved}, which does not exist"))
        .with_subject(at(key, Some(line)))
        .with_evidence("resolved", resolved)
}

pub(crate) fn motion_module_absent(key: &str, line: Option<u64>, why: &str) -> Finding {
    Finding::new(
        &rules::MOTION_MODULE_MISSING,
        format!("{key} {why}: the UNet is built without temporal layers (acc) or the run exits (normal)"),
    )
    .with_subject(at(key, line))
}

pub(crate) fn motion_module_file_missing(key: &str, line: u64, resolved: &str) -> Finding {
    motion_module_absent(key, Some(line), &format!("points to {resolved}, which does not exist"))
        .with_evidence("resolved", resolved)
}

pub(crate) fn weight_dtype(line: Option<u64>, value: Option<&str>, meaning: &str) -> Finding {
    let shown = value.map_or_else(|| "is not set".to_string(), |v| format!("is {v:?}"));
    Finding::new(&rules::WEIGHT_DTYPE, format!("weight_dtype {shown}: {meaning}"))
        .with_subject(at("weight_dtype", line))
}

pub(crate) fn acc_with_cfg(key: &str, line: Option<u64>, cfg: f64) -> Finding {
    guidance(
        key,
        line,
        cfg,
        "the accelerated pipeline runs CFG at twice the cost; its weights were distilled for cfg 1",
    )
}

pub(crate) fn normal_without_cfg(key: &str, line: Option<u64>, cfg: f64) -> Finding {
    guidance(
        key,
        line,
        cfg,
        "the normal pipeline has no branch for cfg ≤ 1: its CFG-sized reference banks do not match and it crashes",
    )
    .with_severity(Severity::Error)
}

fn guidance(key: &str, line: Option<u64>, cfg: f64, why: &str) -> Finding {
    Finding::new(&rules::GUIDANCE_VS_VARIANT, format!("cfg {}: {why}", fmt_num(cfg)))
        .with_subject(at(key, line))
        .with_evidence("cfg", cfg)
}

pub(crate) fn few_steps(key: &str, line: Option<u64>, steps: f64, variant: Variant) -> Finding {
    let why = if steps < 1.0 {
        "no denoising step runs: the output is noise".to_string()
    } else {
        format!("the {} weights need about 30 steps; few steps give a blurred, noisy video", variant.as_str())
    };
    Finding::new(&rules::STEPS_VS_VARIANT, format!("{} steps: {why}", fmt_num(steps)))
        .with_subject(at(key, line))
        .with_evidence("steps", steps)
}

pub(crate) fn not_multiple_of_8(key: &str, line: Option<u64>, value: f64) -> Finding {
    Finding::new(&rules::SIZE_NOT_MULTIPLE_OF_8, format!("{key} {} is not a positive multiple of 8", fmt_num(value)))
        .with_subject(at(key, line))
        .with_evidence("value", value)
}

pub(crate) fn not_pose_size(key: &str, line: Option<u64>, value: f64, pose: u32) -> Finding {
    Finding::new(
        &rules::SIZE_NOT_POSE_SIZE,
        format!(
            "{key} {} differs from the poses' {pose}: could not broadcast input array from shape (768,768,3)",
            fmt_num(value)
        ),
    )
    .with_subject(at(key, line))
    .with_evidence("value", value)
    .with_evidence("pose", pose)
}

pub(crate) fn windows(key: &str, line: Option<u64>, message: String) -> Finding {
    Finding::new(&rules::CONTEXT_WINDOWS, message).with_subject(at(key, line))
}

pub(crate) fn audio_timing(key: &str, line: Option<u64>, message: String) -> Finding {
    Finding::new(&rules::AUDIO_TIMING, message).with_subject(at(key, line))
}

pub(crate) fn component_missing(key: &str, line: Option<u64>, folder: &str, why: &str) -> Finding {
    Finding::new(&rules::MODEL_COMPONENT_MISSING, format!("component {key}: {folder} {why}"))
        .with_subject(at(key, line))
        .with_evidence("folder", folder)
}

pub(crate) fn quantization(key: &str, line: u64, value: &str, scheme: Option<QuantScheme>) -> Finding {
    let named = scheme.map_or_else(String::new, |s| format!(" ({} as `weights --simulate` names it)", s.name()));
    let mut finding =
        Finding::new(&rules::QUANTIZATION_CONFIGURED, format!("{key}: {value}: quantized weights{named}"))
            .with_subject(at(key, Some(line)))
            .with_evidence("value", value);
    if let Some(scheme) = scheme {
        finding = finding.with_evidence("scheme", scheme.name());
    }
    finding
}

/// A loader setting the node cannot load with (C115): `key` at `line`, and why.
pub(crate) fn loader_setting_stops(key: &str, line: u64, why: &str) -> Finding {
    Finding::new(&rules::LOADER_SETTING_STOPS, format!("{key}: {why}")).with_subject(at(key, Some(line)))
}

/// An input of test case `number` (a reference image, an audio file, a
/// pose folder, or an entry read as the wrong one), what is wrong with it,
/// and whether `infer_acc.py` stops at it (`evidence.stops`).
pub(crate) fn test_case_input(number: usize, line: u64, what: &str, path: Option<&str>, why: &str, stops: bool) -> Finding {
    let named = path.map_or_else(String::new, |p| format!(" {p}"));
    let stop = if stops { "; infer_acc.py stops at this case" } else { "" };
    Finding::new(&rules::TEST_CASE_INPUT, format!("test case {number}: the {what}{named} {why}{stop}"))
        .with_subject(at("test_cases", Some(line)))
        .with_evidence("case", number as u64)
        .with_evidence("stops", stops)
}

/// [`test_case_input`] for a path that is not there: the path as written,
/// and where it was looked for.
pub(crate) fn test_case_input_missing(number: usize, line: u64, what: &str, path: &str, resolved: &str, why: &str) -> Finding {
    let shown = Some(path).filter(|p| !p.trim().is_empty());
    test_case_input(number, line, what, shown, why, true).with_evidence("path", path).with_evidence("resolved", resolved)
}

pub(crate) fn unrecognized(file: &str) -> Finding {
    Finding::new(
        &rules::UNRECOGNIZED_CONFIG,
        format!(
            "{file} is neither an EchoMimicV2 prompt/inference config, a diffusers model_index or scheduler config, \
             nor a ComfyUI workflow"
        ),
    )
    .with_subject(Subject::file(file))
}
