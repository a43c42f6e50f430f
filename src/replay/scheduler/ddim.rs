//! diffusers' `DDIMScheduler`, step for step.
//!
//! `step` performs diffusers' float32 arithmetic in the same order (square
//! roots of ᾱ as float32 scalars, then element-wise products and sums), so on
//! float32 buffers it reproduces diffusers' results up to the rounding of
//! those roots, which torch's CPU kernels do not round exactly (the goldens
//! measure at most 1.3e-6 relative).
//! One diffusers detail matters for replays: the step from timestep t always
//! targets `t - num_train_timesteps // num_inference_steps`, which for the
//! trailing and linspace spacings is not always the next timestep of the
//! schedule (EchoMimicV2's first of 6 steps goes from 999 to 833, not 832).

use super::betas::NoiseSchedule;
use super::timesteps::spaced_timesteps;
use super::{PredictionType, ScheduleError, Scheduler, SchedulerConfig, StepOutput};

/// A DDIM sampler built from a scheduler configuration.
#[derive(Debug, Clone)]
pub struct DdimScheduler {
    config: SchedulerConfig,
    schedule: NoiseSchedule,
    timesteps: Vec<i64>,
    num_inference_steps: Option<usize>,
}

impl DdimScheduler {
    /// Builds the noise schedule. Fails only when there are no betas to
    /// build (an unknown `beta_schedule`, `trained_betas` of the wrong
    /// length); options that only break `set_timesteps` or `step` fail there,
    /// as in diffusers.
    pub fn new(config: &SchedulerConfig) -> Result<Self, ScheduleError> {
        let schedule = NoiseSchedule::new(config)?;
        Ok(DdimScheduler { config: config.clone(), schedule, timesteps: Vec::new(), num_inference_steps: None })
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    pub fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    /// ᾱ at a training timestep; `None` outside `0..num_train_timesteps`.
    pub fn alpha_cumprod(&self, timestep: i64) -> Option<f32> {
        usize::try_from(timestep).ok().and_then(|t| self.schedule.alphas_cumprod.get(t).copied())
    }

    /// The timestep a step from `timestep` moves to (negative past the end;
    /// `i64::MIN` for a timestep a huge negative `steps_offset` put there).
    pub fn prev_timestep(&self, timestep: i64) -> Result<i64, ScheduleError> {
        let steps = self.num_inference_steps.ok_or(ScheduleError::NoTimesteps)?;
        let stride = i64::try_from(self.config.num_train_timesteps / steps).unwrap_or(i64::MAX);
        Ok(timestep.saturating_sub(stride))
    }

    /// ᾱ of the timestep a step from `timestep` moves to: the final ᾱ once
    /// that timestep is negative.
    pub fn alpha_cumprod_prev(&self, timestep: i64) -> Result<f32, ScheduleError> {
        let prev = self.prev_timestep(timestep)?;
        if prev < 0 {
            return Ok(self.schedule.final_alpha_cumprod);
        }
        self.alpha_cumprod(prev)
            .ok_or(ScheduleError::TimestepOutOfRange { timestep: prev, train: self.config.num_train_timesteps })
    }

    /// A DDIM step with noise weight `eta`. With `eta > 0` the caller passes
    /// the noise (diffusers' `variance_noise`): the scheduler draws none.
    pub fn step_with_noise(
        &self,
        model_output: &[f32],
        timestep: i64,
        sample: &[f32],
        eta: f32,
        variance_noise: Option<&[f32]>,
    ) -> Result<StepOutput, ScheduleError> {
        let n = sample.len();
        check_len("model_output", n, model_output.len())?;
        if self.config.thresholding {
            return Err(ScheduleError::Unsupported("thresholding (dynamic thresholding)"));
        }
        let train = self.config.num_train_timesteps;
        let alpha_t = self.alpha_cumprod(timestep).ok_or(ScheduleError::TimestepOutOfRange { timestep, train })?;
        let alpha_prev = self.alpha_cumprod_prev(timestep)?;
        let beta_t = 1.0 - alpha_t;
        let (root_alpha, root_beta) = (alpha_t.sqrt(), beta_t.sqrt());

        let mut x0 = Vec::with_capacity(n);
        let mut epsilon = Vec::with_capacity(n);
        match &self.config.prediction_type {
            PredictionType::Epsilon => {
                for (&x, &m) in sample.iter().zip(model_output) {
                    x0.push((x - root_beta * m) / root_alpha);
                    epsilon.push(m);
                }
            }
            PredictionType::Sample => {
                for (&x, &m) in sample.iter().zip(model_output) {
                    x0.push(m);
                    epsilon.push((x - root_alpha * m) / root_beta);
                }
            }
            PredictionType::VPrediction => {
                for (&x, &m) in sample.iter().zip(model_output) {
                    x0.push(root_alpha * x - root_beta * m);
                    epsilon.push(root_alpha * m + root_beta * x);
                }
            }
            PredictionType::Other(name) => return Err(ScheduleError::UnknownPredictionType(name.clone())),
        }
        if self.config.clip_sample {
            let range = self.config.clip_sample_range as f32;
            for v in &mut x0 {
                *v = torch_clamp(*v, -range, range);
            }
        }

        let beta_prev = 1.0 - alpha_prev;
        let variance = (beta_prev / beta_t) * (1.0 - alpha_t / alpha_prev);
        let std_dev = eta * variance.sqrt();
        let direction = (1.0 - alpha_prev - std_dev * std_dev).sqrt();
        let root_alpha_prev = alpha_prev.sqrt();
        let mut prev_sample: Vec<f32> =
            x0.iter().zip(&epsilon).map(|(&x, &e)| root_alpha_prev * x + direction * e).collect();
        if eta > 0.0 {
            let noise = variance_noise.ok_or(ScheduleError::MissingVarianceNoise)?;
            check_len("variance_noise", n, noise.len())?;
            for (p, &z) in prev_sample.iter_mut().zip(noise) {
                *p += std_dev * z;
            }
        }
        Ok(StepOutput { prev_sample, pred_original_sample: x0 })
    }
}

impl Scheduler for DdimScheduler {
    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<(), ScheduleError> {
        self.timesteps = spaced_timesteps(
            &self.config.timestep_spacing,
            self.config.num_train_timesteps,
            num_inference_steps,
            self.config.steps_offset,
        )?;
        self.num_inference_steps = Some(num_inference_steps);
        Ok(())
    }

    fn timesteps(&self) -> &[i64] {
        &self.timesteps
    }

    fn init_noise_sigma(&self) -> f64 {
        1.0
    }

    fn scale_model_input(&self, _sample: &mut [f32], _timestep: i64) -> Result<(), ScheduleError> {
        Ok(())
    }

    fn step(&self, model_output: &[f32], timestep: i64, sample: &[f32]) -> Result<StepOutput, ScheduleError> {
        self.step_with_noise(model_output, timestep, sample, 0.0, None)
    }
}

fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), ScheduleError> {
    if expected == found { Ok(()) } else { Err(ScheduleError::LengthMismatch { what, expected, found }) }
}

/// `torch.clamp(x, lo, hi)`: NaN stays NaN, and `lo > hi` yields `hi`.
fn torch_clamp(x: f32, lo: f32, hi: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let raised = if x < lo { lo } else { x };
    if raised > hi { hi } else { raised }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::scheduler::TimestepSpacing;

    fn echomimic_v2() -> SchedulerConfig {
        SchedulerConfig {
            beta_start: 0.00085,
            beta_end: 0.012,
            prediction_type: PredictionType::VPrediction,
            rescale_betas_zero_snr: true,
            timestep_spacing: TimestepSpacing::Trailing,
            steps_offset: 1,
            clip_sample: false,
            ..SchedulerConfig::default()
        }
    }

    #[test]
    fn echomimic_v2_six_steps() {
        let mut ddim = DdimScheduler::new(&echomimic_v2()).unwrap();
        ddim.set_timesteps(6).unwrap();
        assert_eq!(ddim.timesteps(), &[999, 832, 666, 499, 332, 166]);
        assert_eq!(ddim.prev_timestep(999).unwrap(), 833);
        assert_eq!(ddim.prev_timestep(166).unwrap(), 0);
        assert_eq!(ddim.alpha_cumprod(999), Some(0.0));
    }

    #[test]
    fn v_prediction_at_zero_snr_is_finite_and_epsilon_is_not() {
        let mut config = echomimic_v2();
        let mut ddim = DdimScheduler::new(&config).unwrap();
        ddim.set_timesteps(6).unwrap();
        let sample = [0.5f32, -1.0, 2.0];
        let out = ddim.step(&[0.1, 0.2, 0.3], 999, &sample).unwrap();
        assert!(out.prev_sample.iter().all(|v| v.is_finite()));
        config.prediction_type = PredictionType::Epsilon;
        let mut ddim = DdimScheduler::new(&config).unwrap();
        ddim.set_timesteps(6).unwrap();
        let out = ddim.step(&[0.1, 0.2, 0.3], 999, &sample).unwrap();
        assert!(out.pred_original_sample.iter().all(|v| !v.is_finite()));
    }

    #[test]
    fn step_refuses_what_it_cannot_do() {
        let mut ddim = DdimScheduler::new(&echomimic_v2()).unwrap();
        assert_eq!(ddim.step(&[0.0], 999, &[0.0]), Err(ScheduleError::NoTimesteps));
        ddim.set_timesteps(6).unwrap();
        assert!(matches!(ddim.step(&[0.0], 1000, &[0.0]), Err(ScheduleError::TimestepOutOfRange { .. })));
        assert!(matches!(ddim.step(&[0.0, 1.0], 999, &[0.0]), Err(ScheduleError::LengthMismatch { .. })));
        assert_eq!(ddim.step_with_noise(&[0.0], 999, &[0.0], 0.5, None), Err(ScheduleError::MissingVarianceNoise));
    }

    /// A leading timestep that a huge negative `steps_offset` put near
    /// `i64::MIN` moves past the end, not past the 64-bit range.
    #[test]
    fn a_step_from_the_most_negative_timestep_saturates() {
        let mut config = echomimic_v2();
        config.timestep_spacing = TimestepSpacing::Leading;
        config.steps_offset = -i64::MAX;
        let mut ddim = DdimScheduler::new(&config).unwrap();
        ddim.set_timesteps(6).unwrap();
        let last = *ddim.timesteps().last().unwrap();
        assert_eq!(ddim.prev_timestep(last).unwrap(), i64::MIN);
        assert_eq!(ddim.alpha_cumprod_prev(last).unwrap(), ddim.schedule().final_alpha_cumprod);
    }

    #[test]
    fn clamp_matches_torch() {
        assert_eq!(torch_clamp(3.0, -1.0, 1.0), 1.0);
        assert_eq!(torch_clamp(-3.0, -1.0, 1.0), -1.0);
        assert!(torch_clamp(f32::NAN, -1.0, 1.0).is_nan());
        assert_eq!(torch_clamp(0.0, 1.0, -1.0), -1.0);
    }
}
