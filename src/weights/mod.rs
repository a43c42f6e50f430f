//! Checkpoint scanning: find every tensor in the inputs, compute its
//! statistics in one pass, and turn hazards into findings.

mod checks;
pub mod diff;
mod inputs;
mod open;
pub mod quant;
mod scan;
mod shards;
pub mod simulate;
pub mod values;

pub use checks::{ScanOptions, is_norm_scale, tensor_findings};
pub use inputs::{InputFile, collect_inputs, has_checkpoint_extension};
pub use open::open_checkpoints;
pub use scan::{FileRecord, Progress, ScanResult, Silent, TensorRecord, scan, scan_shard};
