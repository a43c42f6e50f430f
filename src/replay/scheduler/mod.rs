//! Diffusion schedulers that reproduce diffusers' numbers, and the checks
//! that read a `scheduler_config.json` for hazards.
//!
//! The replay engine drives a [`Scheduler`]: `set_timesteps` once, then per
//! denoising step `scale_model_input` and `step`. DDIM is the one built in;
//! other samplers implement the same trait.

mod betas;
mod config;
mod ddim;
mod error;
mod hazards;
mod schedule_hazards;
mod step;
mod summary;
mod timesteps;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod hazards_tests;

pub use betas::NoiseSchedule;
pub use config::{BetaSchedule, ConfigError, PredictionType, SchedulerConfig, TimestepSpacing, load_config};
pub use ddim::DdimScheduler;
pub use error::ScheduleError;
pub use hazards::{InspectOptions, Inspection, MIN_EPSILON_ALPHA, inspect};
pub use step::{Scheduler, StepOutput};
pub use summary::{ScheduleSummary, StepInfo};
