//! Comparing two checkpoints key by key and value by value.

mod compare;
mod run;
mod sides;

pub use compare::{DamageThresholds, PairMetrics, Tolerance, compare_values};
pub use run::{DiffOptions, DiffResult, DtypeMismatch, PairRecord, ShapeMismatch, diff};
pub use sides::{NameAlignment, Side};
