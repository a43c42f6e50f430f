//! Replaying a diffusion generation: schedulers now; the engine, probes and
//! dump writer build on them.

pub mod engine;
pub mod scheduler;
