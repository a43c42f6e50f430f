//! The CI gate: comparing renders with golden renders (`video compare`),
//! sharding a run's inputs, merging shard reports, and (`nanscope gate`)
//! named checks over globs with suppressions and baselines.

pub mod baseline;
pub mod compare;
pub mod compare_plot;
pub mod config;
pub mod frames;
pub mod glob;
pub mod merge;
pub mod metrics;
pub mod pairing;
pub mod runner;
pub mod shard;

pub use config::{ConfigError, GateConfig, Loaded, load};
pub use merge::{MergeError, merge};
pub use runner::{GateError, GateOptions, GateOutcome, run};
pub use shard::{Shard, ShardError, partition};
