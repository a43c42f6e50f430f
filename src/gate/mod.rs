//! Comparing renders with accepted baselines: the video comparison behind
//! `video compare` and the gate's video baselines.

pub mod compare;
pub mod compare_plot;
pub mod frames;
pub mod metrics;
