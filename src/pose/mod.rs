//! Pose sequences: EchoMimicV2 `.npy` folders and OpenPose / ControlNet JSON.
//! Reading (data only; pickles are interpreted, never executed), checks,
//! repair, rendering and conversion. Nothing here prints.

pub mod audio;
pub mod checks;
pub mod convert;
pub mod echomimic;
pub mod model;
mod npy_object;
pub mod openpose;
mod raster;
pub mod read;
pub mod render;
pub mod repair;
pub mod sequence;
pub mod sheet;
pub mod smooth;
pub mod write;

pub use checks::{CheckOptions, CheckOutcome, FrameSummary, check};
pub use model::{Part, PartKind, PoseFormat, PoseFrame, Units};
pub use sequence::{PoseSequence, load};
