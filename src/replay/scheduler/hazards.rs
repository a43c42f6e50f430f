//! Reading a scheduler configuration for hazards: options that make a run
//! NaN by construction, contradict each other, or do nothing.
//!
//! `inspect` never fails: what it cannot build becomes a finding, and the
//! schedule is returned whenever diffusers itself would produce one.

use serde_json::json;

use super::summary::ScheduleSummary;
use super::{BetaSchedule, PredictionType, ScheduleError, SchedulerConfig, TimestepSpacing};
use crate::report::{Finding, Severity, Subject, fmt_num};
use crate::rules::replay as rules;

/// ᾱ below which an epsilon step multiplies the model's error by more than 100.
pub const MIN_EPSILON_ALPHA: f64 = 1e-4;

/// ᾱ of the first timestep above which the first step is not a noisy one
/// (signal-to-noise ratio above 1).
pub const MAX_FIRST_STEP_ALPHA: f64 = 0.5;

/// Residual noise (√(1−ᾱ) of the last target) above which R113 reports it.
pub const RESIDUAL_NOISE_REPORTED: f64 = 0.01;

/// Residual noise above which R113 is a warning: visible grain, far beyond
/// SD 1.5's designed 0.03.
pub const RESIDUAL_NOISE_WARNED: f64 = 0.1;

/// What the checks should assume about the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectOptions {
    /// Inference steps to lay out (at least 1; 0 yields no schedule and no finding).
    pub steps: usize,
    /// The scheduler drives a latent diffusion model (SD family, EchoMimicV2).
    pub latent: bool,
    /// What the denoiser was trained to predict, when known.
    pub model_prediction: Option<PredictionType>,
    /// The configuration file, for `subject.file`.
    pub file: Option<String>,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions { steps: 50, latent: true, model_prediction: None, file: None }
    }
}

/// The findings and, when one can be built, the schedule.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub findings: Vec<Finding>,
    pub schedule: Option<ScheduleSummary>,
}

/// Checks `config` and lays out its schedule for `options.steps` steps.
pub fn inspect(config: &SchedulerConfig, options: &InspectOptions) -> Inspection {
    let mut checks = Checks { options, findings: Vec::new() };
    checks.config_options(config);
    let schedule = checks.schedule(config);
    Inspection { findings: checks.findings, schedule }
}

/// The findings gathered so far; the schedule checks live in `schedule_hazards`.
pub(super) struct Checks<'a> {
    pub(super) options: &'a InspectOptions,
    pub(super) findings: Vec<Finding>,
}

impl Checks<'_> {
    pub(super) fn subject(&self) -> Subject {
        Subject { file: self.options.file.clone(), ..Subject::default() }
    }

    pub(super) fn at_step(&self, step: usize, timestep: i64) -> Subject {
        Subject { step: Some(step as u64), timestep: Some(timestep as f64), ..self.subject() }
    }

    pub(super) fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    pub(super) fn report(&mut self, rule: &'static crate::rules::Rule, message: String) {
        let finding = Finding::new(rule, message).with_subject(self.subject());
        self.push(finding);
    }

    /// Checks that need only the options.
    fn config_options(&mut self, config: &SchedulerConfig) {
        if !config.unknown_keys.is_empty() {
            let keys: Vec<&str> = config.unknown_keys.keys().map(String::as_str).collect();
            let finding = Finding::new(
                &rules::UNKNOWN_CONFIG_KEYS,
                format!("DDIMScheduler ignores {}: {}", plural(keys.len(), "key"), keys.join(", ")),
            )
            .with_subject(self.subject())
            .with_evidence("keys", json!(keys));
            self.push(finding);
        }
        if let Some(class) = config.class_name.as_deref().filter(|c| *c != "DDIMScheduler") {
            self.report(
                &rules::SCHEDULER_CLASS_DIFFERS,
                format!("saved from {class}; this is the schedule DDIMScheduler.from_config builds from it"),
            );
        }
        self.unsupported_values(config);
        self.ignored_options(config);
        self.betas(config);
        if config.thresholding {
            let message = if self.options.latent {
                "thresholding is on: dynamic thresholding clamps latents into [-1, 1] and distorts them; \
                 nanscope's DDIM step does not implement it"
            } else {
                "thresholding is on: nanscope's DDIM step does not implement dynamic thresholding, so a \
                 replay cannot reproduce these steps"
            };
            let finding = Finding::new(&rules::THRESHOLDING_ON_LATENTS, message);
            // On pixels thresholding is legitimate; only the replay cannot follow it.
            let finding = if self.options.latent { finding } else { finding.with_severity(Severity::Warning) };
            self.push(finding.with_subject(self.subject()));
        } else if config.clip_sample && self.options.latent {
            let how = if config.is_explicit("clip_sample") { "is on" } else { "is missing, so DDIM's default (on)" };
            self.report(
                &rules::CLIP_SAMPLE_ON_LATENTS,
                format!(
                    "clip_sample {how}: every predicted latent x0 is clamped to ±{}",
                    fmt_num(config.clip_sample_range)
                ),
            );
        }
        if let Some(expected) = &self.options.model_prediction
            && *expected != config.prediction_type
        {
            self.report(
                &rules::PREDICTION_TYPE_MISMATCH,
                format!(
                    "prediction_type is {} but the model predicts {expected}: DDIM reads its output with the \
                     wrong formula",
                    config.prediction_type
                ),
            );
        }
    }

    fn unsupported_values(&mut self, config: &SchedulerConfig) {
        if let BetaSchedule::Other(name) = &config.beta_schedule
            && config.trained_betas.is_none()
        {
            self.report(
                &rules::UNSUPPORTED_OPTION_VALUE,
                format!("{}; diffusers raises NotImplementedError", ScheduleError::UnknownBetaSchedule(name.clone())),
            );
        }
        if let PredictionType::Other(name) = &config.prediction_type {
            self.report(
                &rules::UNSUPPORTED_OPTION_VALUE,
                format!(
                    "{}; diffusers raises ValueError at the first step",
                    ScheduleError::UnknownPredictionType(name.clone())
                ),
            );
        }
        if let TimestepSpacing::Other(name) = &config.timestep_spacing {
            self.report(
                &rules::UNSUPPORTED_OPTION_VALUE,
                format!(
                    "{}; diffusers raises ValueError in set_timesteps",
                    ScheduleError::UnknownTimestepSpacing(name.clone())
                ),
            );
        }
        if config.clip_sample
            && !config.thresholding
            && (config.clip_sample_range.is_nan() || config.clip_sample_range <= 0.0)
        {
            self.report(
                &rules::UNSUPPORTED_OPTION_VALUE,
                format!(
                    "clip_sample_range is {} while clip_sample is on: every predicted x0 becomes a constant",
                    config.clip_sample_range
                ),
            );
        }
    }

    fn ignored_options(&mut self, config: &SchedulerConfig) {
        let mut ignored = Vec::new();
        if config.steps_offset != 0 && !matches!(config.timestep_spacing, TimestepSpacing::Leading) {
            ignored.push(format!(
                "steps_offset {} has no effect with {} spacing (only leading spacing adds it)",
                config.steps_offset, config.timestep_spacing
            ));
        }
        if config.is_explicit("clip_sample_range") && config.clip_sample_range != 1.0 && !config.clip_sample {
            ignored.push(format!(
                "clip_sample_range {} has no effect: clip_sample is off",
                fmt_num(config.clip_sample_range)
            ));
        }
        if config.clip_sample && config.thresholding && config.is_explicit("clip_sample") {
            ignored.push("clip_sample has no effect: thresholding takes its place".into());
        }
        if !config.thresholding {
            for (key, value, default) in [
                ("dynamic_thresholding_ratio", config.dynamic_thresholding_ratio, 0.995),
                ("sample_max_value", config.sample_max_value, 1.0),
            ] {
                if config.is_explicit(key) && value != default {
                    ignored.push(format!("{key} {} has no effect: thresholding is off", fmt_num(value)));
                }
            }
        }
        if config.trained_betas.is_some() {
            for key in ["beta_start", "beta_end", "beta_schedule"] {
                if config.is_explicit(key) {
                    ignored.push(format!("{key} has no effect: trained_betas replaces it"));
                }
            }
        }
        for message in ignored {
            self.report(&rules::OPTION_IGNORED, message);
        }
    }

    fn betas(&mut self, config: &SchedulerConfig) {
        if let Some(trained) = &config.trained_betas {
            if trained.len() != config.num_train_timesteps {
                self.report(
                    &rules::INVALID_BETAS,
                    format!(
                        "{}; diffusers indexes past the table",
                        ScheduleError::TrainedBetasLength {
                            expected: config.num_train_timesteps,
                            found: trained.len()
                        }
                    ),
                );
            }
            if let Some((index, beta)) = trained.iter().enumerate().find(|(_, b)| !(0.0..=1.0).contains(*b)) {
                let finding =
                    Finding::new(&rules::INVALID_BETAS, format!("trained_betas[{index}] is {beta}, outside [0, 1]"))
                        .with_subject(Subject { index: Some(vec![index as u64]), ..self.subject() });
                self.push(finding);
            }
            return;
        }
        if !matches!(config.beta_schedule, BetaSchedule::Linear | BetaSchedule::ScaledLinear) {
            return;
        }
        for (key, beta) in [("beta_start", config.beta_start), ("beta_end", config.beta_end)] {
            if !(0.0..=1.0).contains(&beta) {
                self.report(&rules::INVALID_BETAS, format!("{key} is {beta}, outside [0, 1]"));
            }
        }
        if config.beta_end < config.beta_start {
            let finding = Finding::new(
                &rules::INVALID_BETAS,
                format!(
                    "beta_end {} is below beta_start {}: noise decreases with the timestep",
                    fmt_num(config.beta_end),
                    fmt_num(config.beta_start)
                ),
            )
            .with_severity(Severity::Warning)
            .with_subject(self.subject());
            self.push(finding);
        }
    }
}

pub(super) fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

pub(super) fn join(values: &[usize]) -> String {
    values.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
}
