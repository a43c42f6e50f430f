//! The findings of the analysis: how the producer, the near-overflow
//! modules, the propagation and the masks are worded and what evidence they
//! carry. Pure functions from the analysis' state to `Finding`s.

use serde_json::{Value, json};

use super::analysis::{InputState, NearOverflow, NonfiniteRecord, RecordsSummary};
use crate::numerics::{DType, unravel};
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::trace as rules;

impl NonfiniteRecord {
    pub(super) fn subject(&self) -> Subject {
        let index = self.stats.first_nonfinite_flat.map(|flat| unravel(flat, &self.shape));
        Subject {
            stage: self.stage.clone(),
            step: self.step,
            timestep: self.timestep,
            module: Some(self.module.clone()),
            frames: self.frames,
            index: index.filter(|i| !i.is_empty()),
            ..Subject::default()
        }
    }

    pub(super) fn when(&self) -> String {
        let mut parts = Vec::new();
        if let Some(step) = self.step {
            parts.push(format!("step {step}"));
        }
        if let Some(t) = self.timestep {
            parts.push(format!("timestep {}", fmt_num(t)));
        }
        if let Some(stage) = &self.stage {
            parts.push(format!("stage {stage}"));
        }
        if parts.is_empty() { String::new() } else { format!(" at {}", parts.join(", ")) }
    }

    pub(super) fn counts(&self) -> String {
        let s = &self.stats;
        format!(
            "{} NaN, {} +Inf, {} -Inf of {}",
            s.nan.unwrap_or(0),
            s.pos_inf.unwrap_or(0),
            s.neg_inf.unwrap_or(0),
            s.count.map_or("?".into(), |c| c.to_string())
        )
    }

    pub(super) fn evidence(&self, finding: Finding) -> Finding {
        let s = &self.stats;
        let inputs: Vec<Value> = self
            .input_summaries
            .iter()
            .map(|i| {
                let st = i.stats.clone().unwrap_or_default();
                json!({"dtype": i.dtype, "shape": i.shape, "nan": st.nan, "pos_inf": st.pos_inf,
                       "neg_inf": st.neg_inf, "absmax": st.absmax})
            })
            .collect();
        finding
            .with_evidence("seq", self.seq)
            .with_evidence("dtype", self.dtype.clone())
            .with_evidence("shape", self.shape.clone())
            .with_evidence("count", json!(s.count))
            .with_evidence("nan", json!(s.nan))
            .with_evidence("pos_inf", json!(s.pos_inf))
            .with_evidence("neg_inf", json!(s.neg_inf))
            .with_evidence("absmax", json!(s.absmax))
            .with_evidence("first_nonfinite_flat", json!(s.first_nonfinite_flat))
            .with_evidence(
                "inputs",
                if inputs.is_empty() && self.inputs == InputState::Unknown {
                    Value::Null
                } else {
                    Value::Array(inputs)
                },
            )
    }
}

pub(super) fn first_bad_finding(first: &NonfiniteRecord) -> Finding {
    let finding = match first.inputs {
        InputState::Finite => Finding::new(
            &rules::NONFINITE_PRODUCER,
            format!(
                "{} produced non-finite values from finite inputs{} ({}); first at flat index {}",
                first.module,
                first.when(),
                first.counts(),
                first.stats.first_nonfinite_flat.map_or("?".into(), |i| i.to_string())
            ),
        ),
        InputState::Unknown | InputState::NonFinite => first_nonfinite_record(first),
    };
    first.evidence(finding.with_subject(first.subject())).with_evidence("input_state", json!(first.inputs))
}

/// R: the first non-finite record, when its inputs do not show it produced the values.
fn first_nonfinite_record(first: &NonfiniteRecord) -> Finding {
    let why = if first.inputs == InputState::NonFinite {
        ", but its inputs were already non-finite: the damage entered from code the probe does not observe"
    } else {
        "; its inputs were not recorded, so it may only propagate values broken earlier"
    };
    Finding::new(
        &rules::FIRST_NONFINITE_RECORD,
        format!("{} is the first non-finite record{} ({}){why}", first.module, first.when(), first.counts()),
    )
}

pub(super) fn propagation_finding(first: &NonfiniteRecord, summary: &RecordsSummary) -> Finding {
    let mut message = format!(
        "non-finite values spread from {} to {} record(s) in {} module(s)",
        first.module, summary.nonfinite, summary.nonfinite_modules
    );
    if let Some(entire) = &summary.first_entirely_nonfinite {
        let stage = entire.stage.as_deref().unwrap_or("?");
        let step = entire.step.map(|s| format!(" step {s}")).unwrap_or_default();
        message.push_str(&format!("; first entirely non-finite: stage {stage}{step} at {}", entire.module));
    }
    if let Some(step) = summary.latents_nonfinite_step {
        message.push_str(&format!("; latents non-finite from step {step}"));
    }
    let entire = summary.first_entirely_nonfinite.as_ref();
    Finding::new(&rules::NONFINITE_PROPAGATION, message)
        .with_subject(Subject { step: summary.latents_nonfinite_step, ..Subject::default() })
        .with_evidence("nonfinite_records", summary.nonfinite)
        .with_evidence("nonfinite_modules", summary.nonfinite_modules)
        .with_evidence("records", summary.total)
        .with_evidence("first_entirely_nonfinite_stage", json!(entire.and_then(|e| e.stage.clone())))
        .with_evidence("first_entirely_nonfinite_step", json!(entire.and_then(|e| e.step)))
        .with_evidence("first_entirely_nonfinite_module", json!(entire.map(|e| e.module.clone())))
        .with_evidence("latents_nonfinite_step", json!(summary.latents_nonfinite_step))
}

pub(super) fn independent_finding(hit: &NonfiniteRecord, count: u64) -> Finding {
    let finding = Finding::new(
        &rules::OTHER_PRODUCER,
        format!(
            "{} also produced non-finite values from finite inputs{} ({}); {count} such record(s) after the first producer",
            hit.module,
            hit.when(),
            hit.counts(),
        ),
    );
    hit.evidence(finding.with_subject(hit.subject()))
}

pub(super) fn near_overflow_finding(n: &NearOverflow, threshold: f64, over: usize) -> Finding {
    let subject = Subject {
        stage: n.stage.clone(),
        step: n.step,
        timestep: n.timestep,
        module: Some(n.module.clone()),
        ..Subject::default()
    };
    let step = n.step.map(|s| format!(" at step {s}")).unwrap_or_default();
    let limit = DType::from_safetensors(&n.dtype).and_then(DType::max_finite).unwrap_or(f64::NAN);
    Finding::new(
        &rules::NEAR_OVERFLOW,
        format!(
            "{} reached |x| = {} = {:.0}% of the {} maximum {}{step}",
            n.module,
            fmt_num(n.absmax),
            n.headroom * 100.0,
            n.dtype,
            fmt_num(limit)
        ),
    )
    .with_subject(subject)
    .with_evidence("headroom", n.headroom)
    .with_evidence("absmax", n.absmax)
    .with_evidence("dtype", n.dtype.clone())
    .with_evidence("threshold", threshold)
    .with_evidence("modules_over_threshold", over as u64)
    .with_evidence("seq", n.seq)
}

pub(super) fn mask_finding(records: u64, modules: &[String]) -> Finding {
    Finding::new(
        &rules::NEG_INF_MASK,
        format!("{records} record(s) with only -Inf treated as attention masks ({})", modules.join(", ")),
    )
    .with_evidence("records", records)
    .with_evidence("modules", modules.to_vec())
}
