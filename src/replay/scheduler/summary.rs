//! The schedule a configuration produces, step by step, in the form the
//! `scheduler` report and later the replay analysis show it.

use serde::Serialize;

use super::{DdimScheduler, PredictionType, Scheduler};

/// One denoising step of a schedule.
///
/// Quantities that are infinite (sigma at ᾱ = 0) or undefined (a timestep
/// outside the table) are `None`, written as JSON `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepInfo {
    /// 0-based step index.
    pub step: usize,
    pub timestep: i64,
    /// The timestep the step moves to (`timestep - train // steps`; negative
    /// past the end, where `final_alpha_cumprod` applies).
    pub prev_timestep: i64,
    /// ᾱ at `timestep` (float32 value, as diffusers holds it).
    pub alpha_cumprod: Option<f64>,
    /// ᾱ the step moves to.
    pub alpha_cumprod_prev: Option<f64>,
    /// Signal-to-noise ratio ᾱ / (1 − ᾱ).
    pub snr: Option<f64>,
    /// Noise level √((1 − ᾱ) / ᾱ) in the sigma parameterisation.
    pub sigma: Option<f64>,
    /// How much the predicted x0 scales the model output: √(1−ᾱ)/√ᾱ for
    /// epsilon, √(1−ᾱ) for v-prediction, 1 for sample.
    pub model_output_gain: Option<f64>,
}

/// A whole schedule for one step count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleSummary {
    pub steps: usize,
    pub timesteps: Vec<i64>,
    /// ᾱ at each timestep (`null` where the timestep is outside the table).
    pub alphas_cumprod: Vec<Option<f64>>,
    pub final_alpha_cumprod: f64,
    pub init_noise_sigma: f64,
    pub per_step: Vec<StepInfo>,
}

impl ScheduleSummary {
    /// Summarises `ddim` after `set_timesteps(steps)`.
    pub fn new(ddim: &DdimScheduler, steps: usize) -> Self {
        let prediction = &ddim.config().prediction_type;
        let per_step: Vec<StepInfo> = ddim
            .timesteps()
            .iter()
            .enumerate()
            .map(|(step, &timestep)| {
                let alpha = ddim.alpha_cumprod(timestep).map(f64::from);
                let prev_timestep = ddim.prev_timestep(timestep).unwrap_or(timestep);
                StepInfo {
                    step,
                    timestep,
                    prev_timestep,
                    alpha_cumprod: alpha,
                    alpha_cumprod_prev: ddim.alpha_cumprod_prev(timestep).ok().map(f64::from),
                    snr: alpha.and_then(|a| finite(a / (1.0 - a))),
                    sigma: alpha.and_then(|a| finite(((1.0 - a) / a).sqrt())),
                    model_output_gain: alpha.and_then(|a| output_gain(prediction, a)),
                }
            })
            .collect();
        ScheduleSummary {
            steps,
            timesteps: ddim.timesteps().to_vec(),
            alphas_cumprod: per_step.iter().map(|s| s.alpha_cumprod).collect(),
            final_alpha_cumprod: f64::from(ddim.schedule().final_alpha_cumprod),
            init_noise_sigma: ddim.init_noise_sigma(),
            per_step,
        }
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn output_gain(prediction: &PredictionType, alpha: f64) -> Option<f64> {
    match prediction {
        PredictionType::Epsilon => finite(((1.0 - alpha) / alpha).sqrt()),
        PredictionType::VPrediction => finite((1.0 - alpha).sqrt()),
        PredictionType::Sample => Some(1.0),
        PredictionType::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::scheduler::{SchedulerConfig, TimestepSpacing};

    #[test]
    fn zero_snr_first_step_has_infinite_sigma() {
        let config = SchedulerConfig {
            beta_start: 0.00085,
            beta_end: 0.012,
            prediction_type: PredictionType::VPrediction,
            rescale_betas_zero_snr: true,
            timestep_spacing: TimestepSpacing::Trailing,
            ..SchedulerConfig::default()
        };
        let mut ddim = DdimScheduler::new(&config).unwrap();
        ddim.set_timesteps(6).unwrap();
        let summary = ScheduleSummary::new(&ddim, 6);
        let first = &summary.per_step[0];
        assert_eq!((first.timestep, first.prev_timestep), (999, 833));
        assert_eq!(first.alpha_cumprod, Some(0.0));
        assert_eq!((first.sigma, first.snr), (None, Some(0.0)));
        assert_eq!(first.model_output_gain, Some(1.0));
        assert_eq!(summary.alphas_cumprod.len(), 6);
        assert_eq!(summary.per_step[5].prev_timestep, 0);
    }
}
