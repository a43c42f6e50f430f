//! One constructor per EchoMimicV2 replay rule (R140–R143).

use super::context::ranges;
use super::weights::{KeyReport, ShapeMismatch};
use crate::report::{Finding, Subject};
use crate::rules::replay as rules;

/// How many names a message quotes before "…".
const FIRST_NAMES: usize = 5;

fn first(names: &[String]) -> String {
    let mut quoted: Vec<&str> = names.iter().take(FIRST_NAMES).map(String::as_str).collect();
    if names.len() > FIRST_NAMES {
        quoted.push("…");
    }
    quoted.join(", ")
}

/// R140: the motion module is absent (`file` missing) or incomplete.
pub(crate) fn motion_module_missing(file: &str, file_present: bool, expected: usize, present: usize) -> Finding {
    let message = if file_present {
        format!(
            "the weights hold {present} of the {expected} motion-module tensors the denoising UNet expects: \
             the rest would keep their initial values"
        )
    } else {
        format!(
            "{file} does not exist: the denoising UNet would run without trained temporal layers \
             ({expected} motion-module tensors expected, {present} present)"
        )
    };
    Finding::new(&rules::MOTION_MODULE_MISSING, message)
        .with_subject(Subject::file(file))
        .with_evidence("motion_module_keys_expected", expected)
        .with_evidence("motion_module_keys_present", present)
}

/// R141: `strict=False`'s missing and unexpected keys.
pub(crate) fn keys_unmatched(file: &str, report: &KeyReport) -> Finding {
    let mut parts = Vec::new();
    if !report.missing.is_empty() {
        parts.push(format!("{} expected key(s) in no file (first: {})", report.missing.len(), first(&report.missing)));
    }
    if !report.unexpected.is_empty() {
        parts.push(format!("{} key(s) no module uses (first: {})", report.unexpected.len(), first(&report.unexpected)));
    }
    Finding::new(&rules::WEIGHT_KEYS_UNMATCHED, format!("denoising UNet weights: {}", parts.join("; ")))
        .with_subject(Subject::file(file))
        .with_evidence("expected", report.expected)
        .with_evidence("missing", report.missing.len())
        .with_evidence("unexpected", report.unexpected.len())
        .with_evidence("first_missing", report.missing.iter().take(FIRST_NAMES).cloned().collect::<Vec<_>>())
        .with_evidence("first_unexpected", report.unexpected.iter().take(FIRST_NAMES).cloned().collect::<Vec<_>>())
}

/// R142: one tensor whose shape differs from the model's.
pub(crate) fn shape_mismatch(mismatch: &ShapeMismatch) -> Finding {
    Finding::new(
        &rules::WEIGHT_SHAPE_MISMATCH,
        format!(
            "{} has shape {:?} in {}, the model expects {:?}",
            mismatch.key, mismatch.found, mismatch.file, mismatch.expected
        ),
    )
    .with_subject(Subject::tensor(mismatch.file.clone(), mismatch.key.clone()))
    .with_evidence("expected", mismatch.expected.clone())
    .with_evidence("found", mismatch.found.clone())
}

/// R143: frames no window covers, predicted from the plan (`step` None) or
/// observed at a step of the run.
pub(crate) fn window_gap(
    frames: &[usize],
    total: usize,
    context: usize,
    overlap: usize,
    step: Option<usize>,
) -> Finding {
    let spans: Vec<String> =
        ranges(frames).iter().map(|[a, b]| if a == b { a.to_string() } else { format!("{a}–{b}") }).collect();
    let when = match step {
        Some(step) => format!("at step {step} the per-frame window counter was 0 for"),
        None => "no window of the plan covers".to_string(),
    };
    let message = format!(
        "{when} {} of {total} frames ({}), with context_frames = {context} and context_overlap = {overlap}: \
         their average is 0/0 = NaN and they decode black",
        frames.len(),
        spans.join(", ")
    );
    let first_last = frames.first().zip(frames.last()).map(|(&a, &b)| [a as u64, b as u64]);
    Finding::new(&rules::CONTEXT_WINDOW_GAP, message)
        .with_subject(Subject {
            key: Some("context_overlap".into()),
            stage: Some("denoising_unet".into()),
            step: step.map(|s| s as u64),
            frames: first_last,
            ..Subject::default()
        })
        .with_evidence("frames", ranges(frames).iter().map(|r| r.to_vec()).collect::<Vec<_>>())
        .with_evidence("context_frames", context)
        .with_evidence("context_overlap", overlap)
        .with_evidence("observed", step.is_some())
}
