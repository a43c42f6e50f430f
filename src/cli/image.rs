//! `nanscope image check FILE…`: argument parsing and glue; the checks and
//! the report live in `crate::image`.

use std::path::PathBuf;

use crate::image::{CheckOptions, DEFAULT_MAX_PIXELS, RangeChoice, ValueRange};
use clap::{Args, Subcommand};

use super::{GlobalArgs, Outcome};
use crate::cli::output::emit;

const CHECK_HELP: &str = "Formats are recognised by content: PNG, JPEG, WebP, BMP, TIFF (8/16-bit and float), \
and image tensors in .npy/.npz/.safetensors (h w, h w c or c h w, optional leading batch of 1).\n\
Folders are walked recursively for files whose content is an image or a tensor file.\n\
Pixels are not decoded when the header claims more than --max-pixels, or when the decoded size exceeds \
64 MiB and 1,100 times the file's size (1 GiB at most): such files are I105 findings.\n\
Indices are [y, x, c] (row, column, channel), 0-based. Luma uses BT.601 weights on a 0-255 scale.";

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Check reference images: truncation, NaN/Inf, blank/black/white, transparency, modes, EXIF rotation, size.
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Image or tensor files, or folders walked recursively for them.
    #[arg(required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// The generation size the image is resized to (I116, I118, I119).
    #[arg(long, value_name = "WxH", default_value = "768x768", value_parser = parse_size)]
    pub size: (u32, u32),
    /// The pipeline keeps the image's aspect, as EchoMimicV3 does: it scales the image down to at
    /// most --size's area and floors each side to a multiple of 16 (I116 is judged against that).
    #[arg(long)]
    pub keep_aspect: bool,
    /// Largest tolerated relative aspect-ratio change of the resize (I116).
    #[arg(long, value_name = "FRACTION", default_value_t = CheckOptions::default().aspect_tolerance)]
    pub aspect_tolerance: f64,
    /// Spatial luma standard deviation (0-255) below which an image is blank (I108).
    #[arg(long, value_name = "LUMA", default_value_t = CheckOptions::default().blank_std)]
    pub blank_std: f64,
    /// Share of dark (or bright) pixels that makes an image black (or white) (I109, I110).
    #[arg(long, value_name = "FRACTION", default_value_t = CheckOptions::default().black_share)]
    pub black_share: f64,
    /// Share of a channel's samples at one end of the range reported as clipping (I111).
    #[arg(long, value_name = "FRACTION", default_value_t = CheckOptions::default().clip_share)]
    pub clip_share: f64,
    /// Value range of float samples: auto, 0-1, -1-1 or 0-255 (I107).
    #[arg(long, value_name = "RANGE", default_value = "auto", value_parser = parse_range, allow_hyphen_values = true)]
    pub range: RangeChoice,
    /// Images with more pixels are not decoded (I105).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Write one PNG per image (the image with flagged regions, and its luma histogram) into DIR.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(|| format!("expected WxH, got {text:?}"))?;
    let side = |s: &str| s.trim().parse::<u32>().ok().filter(|&n| n > 0);
    match (side(w), side(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("expected WxH with positive integers, got {text:?}")),
    }
}

fn parse_range(text: &str) -> Result<RangeChoice, String> {
    if text == "auto" {
        return Ok(RangeChoice::Auto);
    }
    ValueRange::parse(text)
        .map(RangeChoice::Declared)
        .ok_or_else(|| format!("expected auto, 0-1, -1-1, 0-255 or 0-65535, got {text:?}"))
}

pub fn run(args: ImageArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    match args.command {
        ImageCommand::Check(args) => check(args, global),
    }
}

fn check(args: CheckArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let options = CheckOptions {
        size: args.size,
        keep_aspect: args.keep_aspect,
        aspect_tolerance: args.aspect_tolerance,
        blank_std: args.blank_std,
        black_share: args.black_share,
        clip_share: args.clip_share,
        range: args.range,
        max_pixels: args.max_pixels,
        plot_dir: args.plot.clone(),
    };
    let mut command = crate::commands::ImageCheckOptions::new(args.files);
    command.check = options;
    let report = crate::commands::image_check(&command)?;
    emit(&report, global)
}
