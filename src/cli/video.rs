//! `nanscope video check|repair|encode`: argument definitions shared by the
//! three subcommands and the dispatch; each subcommand lives in its own file.

mod check;
pub(super) mod encode;
mod repair;

use std::path::PathBuf;

use crate::video::FrameThresholds;
use clap::{Args, Subcommand};

use super::{GlobalArgs, Outcome};
use check::{CHECK_HELP, CheckArgs};
use encode::{ENCODE_HELP, EncodeArgs};
use repair::{REPAIR_HELP, RepairArgs};

#[derive(Debug, Args)]
pub struct VideoArgs {
    #[command(subcommand)]
    pub command: VideoCommand,
}

#[derive(Debug, Subcommand)]
pub enum VideoCommand {
    /// Diagnose containers, streams and frames: black, blank, white, frozen, NaN-cast and corrupt frames.
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// Encode a saved video tensor (.npy/.npz/.safetensors) to H.264 yuv420p, filling NaN/Inf pixels.
    #[command(after_help = ENCODE_HELP)]
    Encode(EncodeArgs),
    /// Rebuild a playable file from a broken one (the input is never modified).
    #[command(after_help = REPAIR_HELP)]
    Repair(RepairArgs),
}

#[derive(Debug, Args, Clone)]
pub struct ThresholdArgs {
    /// Pixels at or below this luma (0-255) count as dark (V120).
    #[arg(long, value_name = "LUMA", default_value_t = FrameThresholds::default().black_level)]
    pub black_level: f64,
    /// Share of dark (or bright) pixels that makes a frame black (or white) (V120, V122).
    #[arg(long, value_name = "FRACTION", default_value_t = FrameThresholds::default().black_share)]
    pub black_share: f64,
    /// Pixels at or above this luma (0-255) count as bright (V122).
    #[arg(long, value_name = "LUMA", default_value_t = FrameThresholds::default().white_level)]
    pub white_level: f64,
    /// Frames with a spatial luma standard deviation below this are blank (V121).
    #[arg(long, value_name = "LUMA", default_value_t = FrameThresholds::default().blank_std)]
    pub blank_std: f64,
    /// Mean absolute luma difference below which a frame repeats the previous one (V123).
    #[arg(long, value_name = "LUMA", default_value_t = FrameThresholds::default().freeze_diff)]
    pub freeze_diff: f64,
    /// Shortest frozen segment reported, in seconds (V123).
    #[arg(long, value_name = "SECONDS", default_value_t = FrameThresholds::default().freeze_min_seconds)]
    pub freeze_min: f64,
    /// Mean luma change between consecutive content frames reported as a jump (V125).
    #[arg(long, value_name = "LUMA", default_value_t = FrameThresholds::default().jump_luma)]
    pub jump_luma: f64,
    /// Share of exact-black pixels that, appearing abruptly, makes the NaN-cast signature (V124).
    #[arg(long, value_name = "FRACTION", default_value_t = FrameThresholds::default().nan_share)]
    pub nan_share: f64,
}

impl ThresholdArgs {
    pub fn thresholds(&self) -> anyhow::Result<FrameThresholds> {
        let t = FrameThresholds {
            black_level: self.black_level,
            black_share: self.black_share,
            white_level: self.white_level,
            blank_std: self.blank_std,
            freeze_diff: self.freeze_diff,
            freeze_min_seconds: self.freeze_min,
            jump_luma: self.jump_luma,
            nan_share: self.nan_share,
        };
        t.validate().map_err(anyhow::Error::msg)?;
        Ok(t)
    }
}

pub fn run(args: VideoArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    match args.command {
        VideoCommand::Check(args) => check::run(args, global),
        VideoCommand::Encode(args) => encode::run(args, global),
        VideoCommand::Repair(args) => repair::run(args, global),
    }
}

/// For commands that write a video, `-o` names the video and `--report` the report.
pub(super) fn video_destination(
    global: &GlobalArgs,
    report: Option<PathBuf>,
    command: &str,
) -> anyhow::Result<(PathBuf, GlobalArgs)> {
    let destination = global
        .output
        .clone()
        .ok_or_else(|| anyhow::anyhow!("video {command} needs -o OUT, the video file to write"))?;
    let mut report_global = global.clone();
    report_global.output = report;
    Ok((destination, report_global))
}
