//! `nanscope video encode TENSOR -o OUT`

use std::path::PathBuf;

use crate::commands::{VideoEncodeOptions, video_encode};
use crate::video::encode::{EncodeOptions, Fill, ValueRange};
use crate::video::tensor_frames::Layout;
use clap::Args;

use super::video_destination;
use crate::cli::output::emit;
use crate::cli::{GlobalArgs, Outcome};

pub(super) const ENCODE_HELP: &str = "-o/--output names the video to write (required); the report goes to standard output, or to \
--report FILE.\n\
The video is written to a temporary file beside the output, checked with `video check`, then renamed; an existing \
output is only replaced with --force.\n\
Layouts: `b c f h w` (batch items tiled side by side), `c f h w`, `f h w c`; 1, 3 or 4 channels (alpha dropped).\n\
Values are filled (non-finite), clamped to the range and rounded to 8 bits, never truncated.";

#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// The tensor file (.npy, .npz or .safetensors).
    #[arg(value_name = "TENSOR")]
    pub input: PathBuf,
    /// Which tensor of a file holding several.
    #[arg(long, value_name = "NAME")]
    pub tensor: Option<String>,
    /// Axis order (inferred from the shape when omitted).
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// Value range (inferred from the finite values when omitted).
    #[arg(long, value_enum)]
    pub range: Option<RangeArg>,
    /// Frames per second of the output.
    #[arg(long, default_value_t = 24.0)]
    pub fps: f64,
    /// Audio file muxed as AAC, trimmed to the video's duration.
    #[arg(long, value_name = "FILE")]
    pub audio: Option<PathBuf>,
    /// How non-finite pixels are replaced.
    #[arg(long, value_enum, default_value_t = FillArg::Interpolate)]
    pub fill: FillArg,
    /// x264 quality (0 lossless .. 51 worst).
    #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u8).range(0..=51))]
    pub crf: u8,
    /// Replace an existing output.
    #[arg(long)]
    pub force: bool,
    /// Write the report to FILE (the global -o names the video).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    #[value(name = "bcfhw", alias = "b c f h w")]
    Bcfhw,
    #[value(name = "cfhw", alias = "c f h w")]
    Cfhw,
    #[value(name = "fhwc", alias = "f h w c")]
    Fhwc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RangeArg {
    #[value(name = "0-1")]
    Unit,
    #[value(name = "-1-1")]
    Signed,
    #[value(name = "0-255")]
    Byte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FillArg {
    Zero,
    Hold,
    Interpolate,
}

impl FillArg {
    pub fn fill(self) -> Fill {
        match self {
            FillArg::Zero => Fill::Zero,
            FillArg::Hold => Fill::Hold,
            FillArg::Interpolate => Fill::Interpolate,
        }
    }
}

pub(super) fn run(args: EncodeArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    crate::cli::inputs::require_existing(&[&args.input])?;
    if let Some(audio) = &args.audio {
        crate::cli::inputs::require_existing(&[audio])?;
    }
    let (destination, report_global) = video_destination(global, args.report.clone(), "encode")?;
    let encode = EncodeOptions {
        tensor: args.tensor,
        layout: args.layout.map(|l| match l {
            LayoutArg::Bcfhw => Layout::Bcfhw,
            LayoutArg::Cfhw => Layout::Cfhw,
            LayoutArg::Fhwc => Layout::Fhwc,
        }),
        range: args.range.map(|r| match r {
            RangeArg::Unit => ValueRange::Unit,
            RangeArg::Signed => ValueRange::Signed,
            RangeArg::Byte => ValueRange::Byte,
        }),
        fps: args.fps,
        audio: args.audio,
        fill: args.fill.fill(),
        crf: args.crf,
        force: args.force,
        label: None,
    };
    let options = VideoEncodeOptions::new(args.input, destination, encode);
    emit(&video_encode(&options)?, &report_global)
}
