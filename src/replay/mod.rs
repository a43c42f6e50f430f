//! Replaying a diffusion generation: the DDIM scheduler, the built-in candle
//! engine, the replay spec and loop, and precision bisection.

mod analyzing_probe;
mod bisect;
pub(crate) mod echomimic;
pub mod engine;
mod noise;
mod pipeline;
mod replay_run;
pub mod scheduler;
mod spec;

pub use analyzing_probe::AnalyzingProbe;
pub use bisect::{BisectOutcome, bisect};
pub use pipeline::{RunOutput, run};
pub use replay_run::{ReplayOptions, ReplayResult, precision_plan, python_list, replay};
pub use spec::{Dump, Inputs, Models, Quantization, Spec, SpecError};
