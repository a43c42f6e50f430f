//! The interface every scheduler offers the replay engine.

use super::ScheduleError;

/// What one denoising step produces.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// The sample at the next (less noisy) timestep.
    pub prev_sample: Vec<f32>,
    /// The scheduler's estimate of the clean sample x0.
    pub pred_original_sample: Vec<f32>,
}

/// A diffusion sampler over flat `f32` buffers.
///
/// Tensors are passed as contiguous slices in any layout: every scheduler
/// built in here is element-wise, so the shape does not matter, only that
/// `model_output` and `sample` have the same length and layout. Timesteps
/// are `i64` like diffusers' (a few diffusers configurations even produce
/// negative ones; see `hazards`).
pub trait Scheduler {
    /// Chooses the timesteps for `num_inference_steps` denoising steps.
    fn set_timesteps(&mut self, num_inference_steps: usize) -> Result<(), ScheduleError>;

    /// The timesteps chosen by `set_timesteps`, noisiest first (empty before).
    fn timesteps(&self) -> &[i64];

    /// The standard deviation of the initial noise the pipeline draws.
    fn init_noise_sigma(&self) -> f64;

    /// Scales the denoiser's input in place for `timestep` (a no-op for DDIM).
    fn scale_model_input(&self, sample: &mut [f32], timestep: i64) -> Result<(), ScheduleError>;

    /// One deterministic denoising step from `timestep`.
    fn step(&self, model_output: &[f32], timestep: i64, sample: &[f32]) -> Result<StepOutput, ScheduleError>;
}
