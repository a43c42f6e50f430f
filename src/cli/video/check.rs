//! `nanscope video check FILE…`

use std::path::PathBuf;

use crate::commands::{VideoCheckOptions, video_check};
use crate::video::{CheckOptions, Expectations};
use clap::Args;

use super::ThresholdArgs;
use crate::cli::output::emit;
use crate::cli::{GlobalArgs, Outcome};

pub(super) const CHECK_HELP: &str = "Needs ffmpeg and ffprobe 5.1 or newer on PATH (or NANSCOPE_FFMPEG / NANSCOPE_FFPROBE).\n\
Luma levels are on a 0-255 full-range scale whatever the video's range (limited-range black, code 16, reads 0).\n\
Frames are 0-based; findings name them in subject.frame or subject.frames [first, last].\n\
Frames wider than 960 pixels are measured on every second row (exact values, half the work); \
--full-resolution measures every row.\n\
The JSON report lists every frame (index, pts, luma mean/min/max/std, difference to the previous frame, flags).";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Video files, or folders walked recursively for files whose content is a video container.
    #[arg(required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Report a missing audio stream (V107).
    #[arg(long)]
    pub expect_audio: bool,
    /// Report when the decoded frame count differs from N (V109).
    #[arg(long, value_name = "N", value_parser = crate::cli::values::count_u64)]
    pub expect_frames: Option<u64>,
    /// Report when the frame rate differs from F by more than 0.5% (V110).
    #[arg(long, value_name = "F", value_parser = crate::cli::values::positive)]
    pub expect_fps: Option<f64>,
    /// Largest tolerated audio/video duration difference in seconds (V108).
    #[arg(long, value_name = "SECONDS", default_value_t = Expectations::default().av_tolerance,
          value_parser = crate::cli::values::non_negative)]
    pub av_tolerance: f64,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Write a per-frame chart and a contact sheet (PNG) per file into DIR.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Decoder threads (default: ffmpeg's choice, one per core).
    #[arg(long, short = 'j', value_name = "N", value_parser = crate::cli::values::count)]
    pub threads: Option<usize>,
    /// Measure every row of frames wider than 960 (default: every second row).
    #[arg(long)]
    pub full_resolution: bool,
}

pub(super) fn run(args: CheckArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let mut options = VideoCheckOptions::new(args.files);
    options.check = CheckOptions {
        thresholds: args.thresholds.thresholds()?,
        expect: Expectations {
            audio: args.expect_audio,
            frames: args.expect_frames,
            fps: args.expect_fps,
            av_tolerance: args.av_tolerance,
        },
        threads: args.threads,
        full_resolution: args.full_resolution,
    };
    options.plot = args.plot;
    emit(&video_check(&options)?, global)
}
