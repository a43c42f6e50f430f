//! The first-non-finite analysis, shared by `replay` and `trace`.
//!
//! [`Analyzer`] takes records one at a time in execution order and keeps only
//! what the findings need (the first non-finite record, the worst headroom
//! per module, per-(step, stage) rows), so a dump of any length is analysed
//! in memory bounded by the model's size, not the run's length.
//!
//! Classification of one record:
//! - *masked*: its only non-finite values are -Inf and its module matches an
//!   allowed mask glob; counted as finite.
//! - *bad*: any other NaN/±Inf in the output.
//! - inputs are *finite* when no input holds NaN or +Inf (an input whose only
//!   non-finite values are -Inf is taken for an attention mask), *non-finite*
//!   otherwise, and *unknown* when the probe did not record them.
//!
//! The first bad record with finite inputs is the producer (R120); when the
//! first bad record's inputs are unknown or already non-finite, it is reported
//! as the first non-finite record (R121), which may be a propagator.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::findings::{
    first_bad_finding, independent_finding, mask_finding, near_overflow_finding, propagation_finding,
};
use super::glob::glob_match;
use super::module_steps::{ModuleStepAbsmax, ModuleSteps};
use super::probe::{Observation, Probe, ProbeError};
use super::record::{Record, RecordStats, TensorSummary};
use super::timeline::{StageRow, Timeline};
use crate::numerics::DType;
use crate::report::Finding;
use crate::rules::trace as rules;

/// Globs that are always treated as mask modules.
pub const DEFAULT_MASK_GLOBS: &[&str] = &["*mask*"];
/// How many non-finite records the `records` section lists.
const LISTED_NONFINITE: usize = 10;
/// How many independent producers are named individually.
const NAMED_INDEPENDENT: usize = 3;

/// Tunables of the analysis.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AnalysisOptions {
    /// Warn when `absmax / max_finite` reaches this share (R122).
    pub headroom: f64,
    /// Judge headroom against this dtype instead of each record's own
    /// (e.g. fp16 for an fp32 run that will be deployed in fp16).
    pub headroom_dtype: Option<DType>,
    /// How many near-overflow modules are named.
    pub headroom_top: usize,
    /// Module globs whose -Inf-only outputs are intentional masks.
    pub allow_neg_inf: Vec<String>,
    /// Keep the (module, step) → absmax table (`Analysis::module_steps`), as gate trace baselines need.
    pub module_steps: bool,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            // Half the range is one doubling (a residual add of two similar
            // tensors, a guidance scale of 2) away from Inf.
            headroom: 0.5,
            headroom_dtype: None,
            headroom_top: 5,
            allow_neg_inf: DEFAULT_MASK_GLOBS.iter().map(|g| g.to_string()).collect(),
            module_steps: false,
        }
    }
}

/// What a probe knew about a module's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputState {
    Unknown,
    Finite,
    NonFinite,
}

/// A non-finite record, as the findings and the `records` section cite it.
#[derive(Debug, Clone, Serialize)]
pub struct NonfiniteRecord {
    pub seq: u64,
    pub module: String,
    pub stage: Option<String>,
    pub step: Option<u64>,
    pub timestep: Option<f64>,
    pub frames: Option<[u64; 2]>,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub stats: RecordStats,
    pub inputs: InputState,
    /// `producer`, `propagator` or `independent-producer`.
    pub role: &'static str,
    #[serde(skip)]
    pub(super) input_summaries: Vec<TensorSummary>,
}

/// The worst headroom one module reached before the first non-finite record.
#[derive(Debug, Clone, Serialize)]
pub struct NearOverflow {
    pub module: String,
    pub headroom: f64,
    pub absmax: f64,
    pub dtype: String,
    pub stage: Option<String>,
    pub step: Option<u64>,
    pub timestep: Option<f64>,
    pub seq: u64,
}

/// Counters for the `records` section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordsSummary {
    pub total: u64,
    pub nonfinite: u64,
    pub masked: u64,
    pub without_stats: u64,
    pub with_payload: u64,
    pub modules: u64,
    pub steps: u64,
    pub first_nonfinite_seq: Option<u64>,
    /// Distinct modules with a non-finite output.
    pub nonfinite_modules: u64,
    /// The step at which the latents first held non-finite values.
    pub latents_nonfinite_step: Option<u64>,
    /// The first record whose every element is non-finite.
    pub first_entirely_nonfinite: Option<NonfiniteRecord>,
    /// The first non-finite records, producer first.
    pub first_nonfinite: Vec<NonfiniteRecord>,
}

/// The analysis result: findings, the timeline and the records summary.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub stages: Vec<StageRow>,
    pub records: RecordsSummary,
    pub near_overflow: Vec<NearOverflow>,
    /// Each module's largest finite magnitude per step (with `AnalysisOptions::module_steps`).
    pub module_steps: Vec<ModuleStepAbsmax>,
    /// Records left out of `module_steps` once it held `module_steps::MAX_CELLS` cells.
    pub module_steps_dropped: u64,
}

/// Streaming analysis over records in execution order.
#[derive(Debug, Default)]
pub struct Analyzer {
    options: AnalysisOptions,
    summary: RecordsSummary,
    timeline: Timeline,
    module_steps: ModuleSteps,
    first_bad: Option<NonfiniteRecord>,
    independent: Vec<NonfiniteRecord>,
    independent_count: u64,
    near: HashMap<String, NearOverflow>,
    modules: HashSet<String>,
    bad_modules: HashSet<String>,
    steps: HashSet<u64>,
    masked_modules: Vec<String>,
    saw_latents: bool,
    first_bad_boundary_step: Option<u64>,
    /// Modules that went non-finite in the current step, to recognise their
    /// ancestors (hooks report a parent after its children) as containers.
    bad_this_step: HashSet<String>,
    current_step: Option<u64>,
}

impl Analyzer {
    pub fn new(options: AnalysisOptions) -> Self {
        Analyzer { options, ..Analyzer::default() }
    }

    fn is_mask(&self, record: &Record, stats: &RecordStats) -> bool {
        stats.only_neg_inf() && self.options.allow_neg_inf.iter().any(|g| glob_match(g, &record.module))
    }

    /// Adds the next record in execution order.
    pub fn push(&mut self, record: &Record) {
        self.summary.total += 1;
        if record.payload.is_some() {
            self.summary.with_payload += 1;
        }
        if !self.modules.contains(&record.module) {
            self.modules.insert(record.module.clone());
        }
        if let Some(step) = record.step {
            self.steps.insert(step);
        }
        let latents = is_latents(record);
        self.saw_latents |= latents;
        let Some(stats) = record.stats.as_ref().filter(|s| s.knows_finiteness()) else {
            self.summary.without_stats += 1;
            self.timeline.push(record, record.stats.as_ref(), false, false, latents);
            return;
        };
        if self.options.module_steps {
            self.module_steps.push(record, stats.absmax);
        }
        let masked = stats.nonfinite() > 0 && self.is_mask(record, stats);
        let bad = stats.nonfinite() > 0 && !masked;
        self.timeline.push(record, Some(stats), bad, masked, latents);
        if masked {
            self.summary.masked += 1;
            if self.masked_modules.len() < 5 && !self.masked_modules.contains(&record.module) {
                self.masked_modules.push(record.module.clone());
            }
        }
        if !bad {
            if self.first_bad.is_none() {
                self.track_headroom(record, stats);
            }
            return;
        }
        self.summary.nonfinite += 1;
        if !self.bad_modules.contains(&record.module) {
            self.bad_modules.insert(record.module.clone());
        }
        if record.step != self.current_step {
            self.current_step = record.step;
            self.bad_this_step.clear();
        }
        let prefix = format!("{}.", record.module);
        let contains_damage = self.bad_this_step.iter().any(|m| m.starts_with(&prefix));
        self.bad_this_step.insert(record.module.clone());
        let inputs = input_state(record.inputs.as_deref(), true);
        if latents && self.summary.latents_nonfinite_step.is_none() {
            self.summary.latents_nonfinite_step = record.step;
        }
        if record.boundary && self.first_bad_boundary_step.is_none() {
            self.first_bad_boundary_step = record.step;
        }
        let role = match &self.first_bad {
            None if inputs == InputState::Finite => "producer",
            None => "first-nonfinite",
            Some(_) if !contains_damage && input_state(record.inputs.as_deref(), false) == InputState::Finite => {
                "independent-producer"
            }
            Some(_) => "propagator",
        };
        let hit = NonfiniteRecord {
            seq: record.seq,
            module: record.label(),
            stage: record.stage.clone(),
            step: record.step,
            timestep: record.timestep,
            frames: record.frames,
            dtype: record.dtype.clone(),
            shape: record.shape.clone(),
            stats: stats.clone(),
            inputs,
            role,
            input_summaries: record.inputs.clone().unwrap_or_default(),
        };
        if self.summary.first_entirely_nonfinite.is_none()
            && stats.count.is_some_and(|c| c > 0 && stats.nonfinite() >= c)
        {
            self.summary.first_entirely_nonfinite = Some(hit.clone());
        }
        if role == "independent-producer" {
            self.independent_count += 1;
            if self.independent.len() < NAMED_INDEPENDENT && self.independent.iter().all(|h| h.module != hit.module) {
                self.independent.push(hit.clone());
            }
        }
        if self.summary.first_nonfinite.len() < LISTED_NONFINITE {
            self.summary.first_nonfinite.push(hit.clone());
        }
        if self.first_bad.is_none() {
            self.summary.first_nonfinite_seq = Some(record.seq);
            self.first_bad = Some(hit);
        }
    }

    fn track_headroom(&mut self, record: &Record, stats: &RecordStats) {
        let Some(absmax) = stats.absmax else { return };
        let own = DType::from_safetensors(&record.dtype).filter(|d| d.is_float());
        let Some(dtype) = self.options.headroom_dtype.or(own) else { return };
        let Some(limit) = dtype.max_finite() else { return };
        let ratio = absmax / limit;
        if ratio.is_nan() || ratio < self.options.headroom {
            return;
        }
        let label = record.label();
        if self.near.get(&label).is_some_and(|n| n.headroom >= ratio) {
            return;
        }
        self.near.insert(
            label.clone(),
            NearOverflow {
                module: label,
                headroom: ratio,
                absmax,
                dtype: dtype.name().to_string(),
                stage: record.stage.clone(),
                step: record.step,
                timestep: record.timestep,
                seq: record.seq,
            },
        );
    }

    /// Ends the stream and builds the findings.
    pub fn finish(mut self) -> Analysis {
        self.summary.modules = self.modules.len() as u64;
        self.summary.steps = self.steps.len() as u64;
        self.summary.nonfinite_modules = self.bad_modules.len() as u64;
        if !self.saw_latents {
            // Without explicit latents records, the first non-finite stage
            // boundary (the model output of a step) stands for them.
            self.summary.latents_nonfinite_step = self.first_bad_boundary_step;
        }
        let mut findings = Vec::new();
        if let Some(first) = &self.first_bad {
            findings.push(first_bad_finding(first));
        }
        findings.extend(self.independent.iter().map(|hit| independent_finding(hit, self.independent_count)));
        let mut near: Vec<NearOverflow> = self.near.into_values().collect();
        near.sort_by(|a, b| b.headroom.total_cmp(&a.headroom).then(a.seq.cmp(&b.seq)));
        let over = near.len();
        near.truncate(self.options.headroom_top);
        findings.extend(near.iter().map(|n| near_overflow_finding(n, self.options.headroom, over)));
        if let Some(first) = &self.first_bad {
            findings.push(propagation_finding(first, &self.summary));
        }
        if self.summary.masked > 0 {
            findings.push(mask_finding(self.summary.masked, &self.masked_modules));
        }
        if self.summary.total == 0 {
            findings.push(Finding::new(&rules::EMPTY_DUMP, "the dump holds no records"));
        }
        Analysis {
            findings,
            stages: self.timeline.into_rows(),
            records: self.summary,
            near_overflow: near,
            module_steps_dropped: self.module_steps.dropped(),
            module_steps: self.module_steps.into_rows(),
        }
    }
}

/// An engine can analyse a run as it goes, without writing a dump: records
/// are numbered in the order they are observed.
impl Probe for Analyzer {
    fn wants_payload(&self, _boundary: bool) -> bool {
        false
    }

    fn observe(&mut self, observation: Observation<'_>) -> Result<(), ProbeError> {
        let record = observation.to_record(self.summary.total, None);
        self.push(&record);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ProbeError> {
        Ok(())
    }
}

/// Latents are recorded as `latents` (or `<prefix>.latents`), or as
/// stage-boundary tensors of the `scheduler` stage.
fn is_latents(record: &Record) -> bool {
    record.module == "latents"
        || record.module.ends_with(".latents")
        || (record.boundary && record.stage.as_deref() == Some("scheduler"))
}

/// `lenient_masks`: an input whose only non-finite values are -Inf counts as
/// finite (an attention mask). Independent producers are judged strictly.
fn input_state(inputs: Option<&[TensorSummary]>, lenient_masks: bool) -> InputState {
    let Some(inputs) = inputs else { return InputState::Unknown };
    let mut state = InputState::Finite;
    for input in inputs {
        match &input.stats {
            Some(s) if !s.knows_finiteness() => state = InputState::Unknown,
            None => state = InputState::Unknown,
            Some(s) if s.nonfinite() == 0 || (lenient_masks && s.only_neg_inf()) => {}
            Some(_) => return InputState::NonFinite,
        }
    }
    state
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
