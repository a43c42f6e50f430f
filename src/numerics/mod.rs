//! Numeric kernels: dtype decoding and single-pass statistics. Pure functions
//! over byte slices; nothing here touches files or prints.

pub mod decode;
pub mod dtype;
pub mod fakequant;
pub mod stats;
pub mod view;

pub use decode::ByteOrder;
pub use dtype::{DType, Kind, TargetDType};
pub use fakequant::{Granularity, QuantScheme};
pub use stats::{StatsError, TensorStats, tensor_stats};
pub use view::{StridedView, ViewError, unravel};
