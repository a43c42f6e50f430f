//! The checks that need the schedule itself: timesteps, each step's ᾱ for
//! the prediction type, and where the last step lands.

use std::collections::HashSet;

use serde_json::json;

use super::hazards::{
    Checks, MAX_FIRST_STEP_ALPHA, MIN_EPSILON_ALPHA, RESIDUAL_NOISE_REPORTED, RESIDUAL_NOISE_WARNED, join,
};
use super::summary::ScheduleSummary;
use super::{DdimScheduler, PredictionType, ScheduleError, Scheduler, SchedulerConfig};
use crate::report::{Finding, Severity, Subject, fmt_num};
use crate::rules::replay as rules;

impl Checks<'_> {
    /// Builds the schedule and checks it step by step.
    pub(super) fn schedule(&mut self, config: &SchedulerConfig) -> Option<ScheduleSummary> {
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
        if let Some(first) = first
            && let Some(alpha) = first.alpha_cumprod
            && alpha > MAX_FIRST_STEP_ALPHA
        {
            let finding = Finding::new(
                &rules::FIRST_STEP_NOT_NOISY,
                format!(
                    "{} spacing with {} steps starts at timestep {} where ᾱ = {}: the model is told the \
                     sample is mostly signal, but generation starts from pure noise",
                    config.timestep_spacing,
                    summary.steps,
                    first.timestep,
                    fmt_num(alpha)
                ),
            )
            .with_subject(self.at_step(0, first.timestep))
            .with_evidence("alpha_cumprod", alpha);
            self.push(finding);
        }
        for info in &summary.per_step {
            let Some(alpha) = info.alpha_cumprod else { continue };
            let subject = self.at_step(info.step, info.timestep);
            match config.prediction_type {
                PredictionType::Epsilon if alpha == 0.0 => {
                    let why = format!(
                        "epsilon prediction at timestep {} where ᾱ = 0 (zero terminal SNR): x0 = (x - ε)/√ᾱ \
                         divides by zero, so step {} yields Inf and the next step NaN",
                        info.timestep, info.step
                    );
                    self.push(step_divides_by_zero(why, subject, 0.0));
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
                    let why = format!(
                        "sample prediction at timestep {} where ᾱ = 1: ε = (x - √ᾱ·x0)/√(1-ᾱ) divides by zero",
                        info.timestep
                    );
                    self.push(step_divides_by_zero(why, subject, 1.0));
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

/// R: a step divides by √ᾱ or √(1-ᾱ) where that is zero; `why` names the step.
fn step_divides_by_zero(why: String, subject: Subject, alpha_cumprod: f64) -> Finding {
    Finding::new(&rules::STEP_DIVIDES_BY_ZERO, why).with_subject(subject).with_evidence("alpha_cumprod", alpha_cumprod)
}
