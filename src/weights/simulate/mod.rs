//! Predicting conversion damage: quantize-dequantize every eligible tensor
//! under a scheme, measure what it loses per tensor and per output channel,
//! and name the modules to keep in higher precision.

mod advice;
mod metrics;
mod run;

pub use advice::{SimulateOptions, default_min_sqnr_db, high_precision_convention, module_name, python_list};
pub use metrics::{SimulationMetrics, simulate_values};
pub use run::{SimulationResult, TensorSimulation, eligibility, simulate};
