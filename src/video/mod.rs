//! Video diagnosis, repair and NaN-aware encoding on top of the external
//! `ffmpeg`/`ffprobe` programs. Nothing here prints or exits: checks return
//! statistics and findings, repairs and encodes return what they did.

pub mod aac;
pub mod check;
pub mod container;
pub mod decode;
pub mod discover;
pub mod encode;
pub mod frame_checks;
pub mod frame_stats;
pub mod h264;
pub mod matroska;
pub mod output;
pub mod plot;
pub mod probe;
pub mod rebuild;
pub mod repair;
pub mod stream_checks;
pub mod tensor_frames;
pub mod tools;

pub use check::{CheckOptions, VideoCheck, check_file};
pub use frame_checks::{FrameFlag, FrameThresholds};
pub use frame_stats::FrameStats;
pub use stream_checks::Expectations;
pub use tools::{ToolError, Tools};
