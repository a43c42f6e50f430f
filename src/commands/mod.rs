//! One library function per command: each takes its options and returns the
//! command's `Report`, typed sections included. The CLI, the Python bindings
//! and any library user get the same report from the same function; none of
//! them builds report sections themselves.
//!
//! The functions follow the input policy every command shares: a path that
//! does not exist is `CommandError::MissingInput` before any work starts; a
//! run that checked nothing is `CommandError::NothingToCheck`; a broken input
//! is a finding in the report. Nothing here prints or decides exit codes
//! (`Report::outcome` maps findings to an outcome).

pub mod config;
pub mod diff;
mod error;
pub mod gate;
pub mod image;
pub mod log;
pub mod pose;
pub mod pose_write;
pub mod postmortem;
pub mod replay;
pub mod rules;
pub mod scheduler;
pub mod simulate;
pub mod trace;
pub mod video;
pub mod video_write;
pub mod weights;

pub use config::{ConfigCheckOptions, config_check};
pub use diff::{DiffOptions, diff};
pub use error::CommandError;
pub(crate) use error::{nothing_to_check, require_existing};
pub use gate::{VideoCompareOptions, gate, merge, video_compare};
pub use image::{ImageCheckOptions, image_check};
pub use log::{LogCheckOptions, log_check};
pub use pose::{PoseCheckOptions, pose_check};
pub use pose_write::{
    PoseConvertOptions, PoseRenderOptions, PoseRepairOptions, pose_convert, pose_render, pose_repair,
};
pub use postmortem::postmortem;
pub use replay::{ReplayOptions, replay};
pub use rules::{RulesOptions, rules};
pub use scheduler::{SchedulerOptions, scheduler};
pub use simulate::{SimulationOptions, simulate};
pub use trace::{TraceOptions, trace};
pub use video::{VideoCheckOptions, video_check};
pub use video_write::{VideoEncodeOptions, VideoRepairOptions, video_encode, video_repair};
pub use weights::{WeightsOptions, weights};

// The types the options above hold and the functions take, so that a library
// user (and the Python extension) needs no path into the domain modules.
pub use crate::config::{ConfigOptions, Variant};
pub use crate::gate::compare::CompareOptions;
pub use crate::gate::{GateOptions, GateOutcome, Shard};
pub use crate::image::{CheckOptions as ImageOptions, RangeChoice, ValueRange as ImageRange};
pub use crate::log::LogOptions;
pub use crate::numerics::{DType, QuantScheme, TargetDType};
pub use crate::pose::CheckOptions as PoseOptions;
pub use crate::postmortem::{
    ArtifactKind, PostmortemOptions, Progress as PostmortemProgress, Silent as PostmortemSilent,
};
pub use crate::replay::scheduler::PredictionType;
pub use crate::trace::{AnalysisOptions, TraceOptions as TraceAnalysis};
pub use crate::video::encode::{EncodeOptions, Fill, ValueRange as EncodeRange};
pub use crate::video::tensor_frames::Layout;
pub use crate::video::{CheckOptions as VideoOptions, Expectations, FrameThresholds};
pub use crate::weights::{Progress, ScanOptions, Silent};
// Types the option fields above hold in turn.
pub use crate::numerics::{Granularity, Kind as DTypeKind};
pub use crate::pose::PoseFormat;
pub use crate::pose::render::RenderOptions as PoseDrawing;
pub use crate::pose::smooth::Smoothing;
pub use crate::replay::ReplayOptions as ReplayEngineOptions;
pub use crate::replay::engine::ComputeDType;
pub use crate::trace::DumpLevel;
pub use crate::video::frame_stats::{LumaRange, PixelThresholds};
pub use crate::video::repair::{RepairOptions, Strategy as RepairStrategy};
pub use crate::weights::diff::{
    DamageThresholds, DiffOptions as WeightsDiffOptions, NameAlignment, PairMetrics, Tolerance,
};
pub use crate::weights::simulate::SimulateOptions;
// The errors a `CommandError` carries (its variants' sources).
pub use crate::gate::ShardError;
pub use crate::image::ImageError;
pub use crate::pose::audio::AudioError;
pub use crate::pose::convert::ConvertError;
pub use crate::pose::write::WriteError;
pub use crate::replay::SpecError;
pub use crate::replay::engine::{EngineError, WeightProblem};
pub use crate::trace::ProbeError;
pub use crate::video::ToolError;
pub use crate::video::encode::EncodeError;
pub use crate::video::output::OutputError;
pub use crate::video::plot::PlotError;

/// The arguments as the report's `inputs` lists them.
pub(crate) fn input_labels<P: AsRef<std::path::Path>>(paths: &[P]) -> Vec<String> {
    paths.iter().map(|p| p.as_ref().display().to_string()).collect()
}

/// A `plots` section: the chart files a command wrote.
pub(crate) fn plots_section(written: &[std::path::PathBuf]) -> crate::report::Section {
    let names: Vec<String> = input_labels(written);
    let rows = names.iter().map(|n| vec![n.clone()]).collect();
    crate::report::Section::typed("plots", &names).with_table(crate::report::SectionTable {
        title: "Plots".into(),
        header: vec!["file".into()],
        rows,
        note: None,
    })
}
