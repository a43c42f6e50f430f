//! Reading a scheduler configuration for hazards: options that make a run
//! NaN by construction, contradict each other, or do nothing.
//!
//! `inspect` never fails: what it cannot build becomes a finding, and the
//! schedule is returned whenever diffusers itself would produce one.

use std::collections::HashSet;

use serde_json::json;

use super::summary::ScheduleSummary;
use super::{BetaSchedule, DdimScheduler, PredictionType, ScheduleError, Scheduler, SchedulerConfig, TimestepSpacing};
use crate::report::{Finding, Severity, Subject, fmt_num};
use crate::rules::replay as rules;

/// ᾱ below which an epsilon step multiplies the model's error by more than 100.
pub const MIN_EPSILON_ALPHA: f64 = 1e-4;

/// Residual noise (√(1−ᾱ) of the last target) above which R113 reports it.
pub const RESIDUAL_NOISE_REPORTED: f64 = 0.01;

/// Residual noise above which R113 is a warning: visible grain, far beyond
/// SD 1.5's designed 0.03.
pub const RESIDUAL_NOISE_WARNED: f64 = 0.1;

/// What the checks should assume about the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectOptions {
    /// Inference steps to lay out.
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

struct Checks<'a> {
    options: &'a InspectOptions,
    findings: Vec<Finding>,
}

impl Checks<'_> {
    fn subject(&self) -> Subject {
        Subject { file: self.options.file.clone(), ..Subject::default() }
    }

    fn at_step(&self, step: usize, timestep: i64) -> Subject {
        Subject { step: Some(step as u64), timestep: Some(timestep as f64), ..self.subject() }
    }

    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    fn report(&mut self, rule: &crate::rules::Rule, message: String) {
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
            let finding = if self.options.latent {
                Finding::new(
                    &rules::THRESHOLDING_ON_LATENTS,
                    "thresholding is on: dynamic thresholding clamps latents into [-1, 1] and distorts them; \
                     nanscope's DDIM step does not implement it",
                )
            } else {
                Finding::new(
                    &rules::THRESHOLDING_ON_LATENTS,
                    "thresholding is on: nanscope's DDIM step does not implement dynamic thresholding, so a \
                     replay cannot reproduce these steps",
                )
                .with_severity(Severity::Warning)
            };
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

    /// Builds the schedule and checks it step by step.
    fn schedule(&mut self, config: &SchedulerConfig) -> Option<ScheduleSummary> {
        // Unknown beta schedules and wrong trained_betas lengths were reported above.
        let mut ddim = DdimScheduler::new(config).ok()?;
        let alphas = &ddim.schedule().alphas_cumprod;
        if let Some((t, alpha)) = alphas.iter().enumerate().find(|(_, a)| !(0.0..=1.0).contains(*a)) {
            let finding =
                Finding::new(&rules::INVALID_BETAS, format!("ᾱ at timestep {t} is {alpha}: no valid noise level"))
                    .with_subject(Subject { timestep: Some(t as f64), ..self.subject() });
            self.push(finding);
            return None;
        }
        let steps = self.options.steps;
        match ddim.set_timesteps(steps) {
            Ok(()) => {}
            Err(ScheduleError::TooManySteps { steps, train }) => {
                self.report(
                    &rules::TOO_MANY_STEPS,
                    format!("{steps} steps exceed num_train_timesteps ({train}); diffusers raises ValueError"),
                );
                return None;
            }
            // Zero steps are refused by callers; unknown spacings were reported above.
            Err(_) => return None,
        }
        self.timesteps(config, &ddim);
        let summary = ScheduleSummary::new(&ddim, steps);
        self.steps(config, &summary);
        Some(summary)
    }

    fn timesteps(&mut self, config: &SchedulerConfig, ddim: &DdimScheduler) {
        let timesteps = ddim.timesteps();
        let train = config.num_train_timesteps as i64;
        let mut problems = Vec::new();
        if timesteps.len() != self.options.steps {
            problems.push(format!("{} timesteps for {} steps", timesteps.len(), self.options.steps));
        }
        let outside: Vec<i64> = timesteps.iter().copied().filter(|t| !(0..train).contains(t)).collect();
        if !outside.is_empty() {
            problems.push(format!("timesteps outside 0..{train}: {outside:?}"));
        }
        let mut seen = HashSet::new();
        let repeated: Vec<i64> = timesteps.iter().copied().filter(|t| !seen.insert(*t)).collect();
        if !repeated.is_empty() {
            problems.push(format!("repeated timesteps: {repeated:?}"));
        }
        if problems.is_empty() {
            return;
        }
        let clean = clean_step_counts_near(config, self.options.steps);
        let advice =
            if clean.is_empty() { String::new() } else { format!("; clean step counts nearby: {}", join(&clean)) };
        let finding = Finding::new(
            &rules::TIMESTEPS_INVALID,
            format!("{} spacing gives {}{advice}", config.timestep_spacing, problems.join("; ")),
        )
        .with_subject(self.subject())
        .with_evidence("timesteps", json!(timesteps))
        .with_evidence("clean_step_counts_nearby", json!(clean));
        self.push(finding);
    }

    fn steps(&mut self, config: &SchedulerConfig, summary: &ScheduleSummary) {
        let train = config.num_train_timesteps as i64;
        let first = summary.per_step.first();
        if config.rescale_betas_zero_snr
            && let Some(first) = first
            && first.timestep != train - 1
        {
            let finding = Finding::new(
                &rules::ZERO_SNR_MISSES_TERMINAL,
                format!(
                    "zero terminal SNR, but {} spacing starts at timestep {} (ᾱ = {}), not {}",
                    config.timestep_spacing,
                    first.timestep,
                    first.alpha_cumprod.map_or("-".into(), fmt_num),
                    train - 1
                ),
            )
            .with_subject(self.at_step(0, first.timestep));
            self.push(finding);
        }
        for info in &summary.per_step {
            let Some(alpha) = info.alpha_cumprod else { continue };
            let subject = self.at_step(info.step, info.timestep);
            match config.prediction_type {
                PredictionType::Epsilon if alpha == 0.0 => {
                    let finding = Finding::new(
                        &rules::STEP_DIVIDES_BY_ZERO,
                        format!(
                            "epsilon prediction at timestep {} where ᾱ = 0 (zero terminal SNR): x0 = (x - ε)/√ᾱ \
                             divides by zero, so step {} yields Inf and the next step NaN",
                            info.timestep, info.step
                        ),
                    )
                    .with_subject(subject)
                    .with_evidence("alpha_cumprod", 0.0);
                    self.push(finding);
                }
                PredictionType::Epsilon if alpha < MIN_EPSILON_ALPHA => {
                    let gain = 1.0 / alpha.sqrt();
                    let mut finding = Finding::new(
                        &rules::EPSILON_AMPLIFICATION,
                        format!(
                            "epsilon prediction at timestep {} where ᾱ = {}: x0 multiplies the model's noise \
                             error by {}",
                            info.timestep,
                            fmt_num(alpha),
                            fmt_num(gain)
                        ),
                    )
                    .with_subject(subject)
                    .with_evidence("alpha_cumprod", alpha)
                    .with_evidence("gain", gain);
                    if config.clip_sample {
                        finding = finding.with_severity(Severity::Info);
                    }
                    self.push(finding);
                }
                PredictionType::Sample if alpha == 1.0 => {
                    let finding = Finding::new(
                        &rules::STEP_DIVIDES_BY_ZERO,
                        format!(
                            "sample prediction at timestep {} where ᾱ = 1: ε = (x - √ᾱ·x0)/√(1-ᾱ) divides by zero",
                            info.timestep
                        ),
                    )
                    .with_subject(subject)
                    .with_evidence("alpha_cumprod", 1.0);
                    self.push(finding);
                }
                _ => {}
            }
        }
        self.final_step(config, summary);
    }

    fn final_step(&mut self, config: &SchedulerConfig, summary: &ScheduleSummary) {
        let Some(last) = summary.per_step.last() else { return };
        let (Some(alpha), Some(target)) = (last.alpha_cumprod, last.alpha_cumprod_prev) else { return };
        let subject = self.at_step(last.step, last.timestep);
        if target <= alpha {
            let finding = Finding::new(
                &rules::FINAL_STEP_NO_OP,
                format!(
                    "the last step runs at timestep {} and targets ᾱ = {} (its own ᾱ is {}): it does not denoise",
                    last.timestep,
                    fmt_num(target),
                    fmt_num(alpha)
                ),
            )
            .with_subject(subject.clone())
            .with_evidence("alpha_cumprod", alpha)
            .with_evidence("alpha_cumprod_prev", target);
            self.push(finding);
        }
        let residual = (1.0 - target).max(0.0).sqrt();
        if residual > RESIDUAL_NOISE_REPORTED {
            let why = if last.prev_timestep < 0 {
                "set_alpha_to_one is false".to_string()
            } else {
                format!("the last step targets timestep {}", last.prev_timestep)
            };
            let finding = Finding::new(
                &rules::RESIDUAL_FINAL_NOISE,
                format!(
                    "the output keeps {} of predicted noise: {why} (final ᾱ = {})",
                    fmt_num(residual),
                    fmt_num(target)
                ),
            )
            .with_subject(subject)
            .with_evidence("final_alpha", target)
            .with_evidence("residual_noise_std", residual);
            let severity = if residual > RESIDUAL_NOISE_WARNED { Severity::Warning } else { Severity::Info };
            self.push(finding.with_severity(severity));
        }
        if config.is_explicit("set_alpha_to_one") && summary.per_step.iter().all(|s| s.prev_timestep >= 0) {
            self.report(
                &rules::OPTION_IGNORED,
                format!(
                    "set_alpha_to_one has no effect with {} steps: the last step targets timestep {}, not the end",
                    summary.steps, last.prev_timestep
                ),
            );
        }
    }
}

/// Step counts within ±5 of `steps` whose timesteps are all valid.
fn clean_step_counts_near(config: &SchedulerConfig, steps: usize) -> Vec<usize> {
    let train = config.num_train_timesteps;
    (steps.saturating_sub(5).max(1)..=(steps + 5).min(train))
        .filter(|&n| n != steps)
        .filter(|&n| {
            let mut ddim = match DdimScheduler::new(config) {
                Ok(ddim) => ddim,
                Err(_) => return false,
            };
            if ddim.set_timesteps(n).is_err() {
                return false;
            }
            let t = ddim.timesteps();
            let distinct: HashSet<i64> = t.iter().copied().collect();
            t.len() == n && distinct.len() == n && t.iter().all(|x| (0..train as i64).contains(x))
        })
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn join(values: &[usize]) -> String {
    values.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
}
