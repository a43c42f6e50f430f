//! The CI gate: sharding a run's inputs, merging shard reports, and
//! (`nanscope gate`) named checks over globs with suppressions and baselines.

pub mod merge;
pub mod shard;

pub use merge::{MergeError, merge};
pub use shard::{Shard, ShardError, partition};
pub mod baseline;
pub mod config;
pub mod glob;
pub mod runner;

pub use config::{ConfigError, GateConfig, Loaded, load};
pub use runner::{GateError, GateOptions, GateOutcome, run};
