//! `nanscope video compare CANDIDATE GOLDEN`

use std::path::PathBuf;

use crate::commands::{CompareOptions, VideoCompareOptions, video_compare};
use clap::Args;

use crate::cli::output::emit;
use crate::cli::{GlobalArgs, Outcome};

pub(super) const COMPARE_HELP: &str = "Needs ffmpeg and ffprobe 5.1 or newer on PATH (or NANSCOPE_FFMPEG / NANSCOPE_FFPROBE).\n\
Frames are paired by index (0-based). PSNR and SSIM are computed as ffmpeg's psnr and ssim filters compute \
them: every plane of the candidate's 8-bit planar format (other formats are compared as yuv420p), planes \
weighted by pixel count; SSIM on 8x8 windows on a 4-pixel grid. Identical frames have PSNR \"inf\".\n\
The JSON report lists every frame (psnr, ssim, and per plane) and a comparison section (means, minimums, worst frames).";

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The render to check.
    #[arg(value_name = "CANDIDATE")]
    pub candidate: PathBuf,
    /// The accepted (golden) render it should match.
    #[arg(value_name = "GOLDEN")]
    pub golden: PathBuf,
    /// Report frames whose PSNR is below this many dB (G104).
    #[arg(long, value_name = "DB", value_parser = crate::cli::values::non_negative)]
    pub min_psnr: Option<f64>,
    /// Report frames whose SSIM is below this value, at most 1 (G105).
    #[arg(long, value_name = "SSIM", value_parser = ssim_value)]
    pub min_ssim: Option<f64>,
    /// Write a side-by-side PNG of the worst frame pair (candidate | golden | difference) into DIR.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Decoder threads per video (default: ffmpeg's choice).
    #[arg(long, short = 'j', value_name = "N", value_parser = crate::cli::values::count)]
    pub threads: Option<usize>,
}

fn ssim_value(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    if value.is_finite() && value <= 1.0 { Ok(value) } else { Err(format!("{text} is not an SSIM (at most 1)")) }
}

pub(super) fn run(args: CompareArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let mut options = VideoCompareOptions::new(args.candidate, args.golden);
    options.compare = CompareOptions::with_thresholds(args.min_psnr, args.min_ssim);
    options.compare.threads = args.threads;
    options.plot = args.plot;
    emit(&video_compare(&options)?, global)
}
