//! `nanscope pose check|repair|render|convert`: pose sequences.
//!
//! For `repair`, `render` and `convert`, the global `-o/--output` names what
//! is written (a folder or a PNG); their report goes to standard output, or
//! to `--report FILE`.

use std::path::PathBuf;

use crate::commands::{
    PoseCheckOptions, PoseConvertOptions, PoseRenderOptions, PoseRepairOptions, pose_check, pose_convert, pose_render,
    pose_repair,
};
use crate::pose::render::RenderOptions;
use crate::pose::smooth::Smoothing;
use crate::pose::{self, CheckOptions};
use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct PoseArgs {
    #[command(subcommand)]
    pub command: PoseCommand,
}

#[derive(Debug, Subcommand)]
pub enum PoseCommand {
    /// Check a pose sequence (a folder or frame files) for what breaks a pose-driven generation.
    Check(CheckArgs),
    /// Write a repaired copy of a pose sequence to -o OUTDIR (the input is never modified).
    Repair(RepairArgs),
    /// Draw a pose sequence as EchoMimicV2 draws it: a contact sheet PNG at -o OUT.png.
    Render(RenderArgs),
    /// Convert a pose sequence between EchoMimicV2 .npy and OpenPose JSON into -o OUTDIR.
    Convert(ConvertArgs),
}

/// Where the sequence is and how its coordinates map to pixels.
#[derive(Debug, Args)]
pub struct SequenceArgs {
    /// A pose folder (`0.npy … n-1.npy`, OpenPose `*_keypoints.json`) or frame files. Formats are recognised by content.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Generation width in pixels (EchoMimicV2's reference inference accepts only 768).
    #[arg(long, value_name = "PIXELS", default_value_t = 768)]
    pub width: u32,
    /// Generation height in pixels.
    #[arg(long, value_name = "PIXELS", default_value_t = 768)]
    pub height: u32,
    /// Image size of OpenPose JSON written in pixels without a canvas size, e.g. 1920x1080.
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    pub source_size: Option<[u32; 2]>,
}

/// Thresholds of the checks.
#[derive(Debug, Args)]
pub struct CheckTuning {
    /// How far outside [0, 1] a normalised coordinate may lie before it is reported (P107).
    #[arg(long, value_name = "FRACTION", default_value_t = CheckOptions::default().canvas_tolerance)]
    pub canvas_tolerance: f64,
    /// Largest plausible confidence score (P110); DWPose scores reach about 1.2.
    #[arg(long, value_name = "SCORE", default_value_t = CheckOptions::default().max_score,
          value_parser = super::values::positive)]
    pub max_score: f64,
    /// Robust standard deviations (1.4826 × MAD) above the median displacement that make a jump (P113).
    #[arg(long, value_name = "SIGMAS", default_value_t = CheckOptions::default().jump_threshold)]
    pub jump_threshold: f64,
    /// Smallest displacement, as a fraction of the canvas, that counts as a jump (P113).
    #[arg(long, value_name = "FRACTION", default_value_t = CheckOptions::default().min_jump)]
    pub min_jump: f64,
    /// Frames the sequence must cover (P114).
    #[arg(long, value_name = "N", conflicts_with = "audio", value_parser = super::values::count_u64)]
    pub expect_frames: Option<u64>,
    /// Audio the generation is driven by; frames needed = int(duration × --fps) (needs ffprobe).
    #[arg(long, value_name = "FILE")]
    pub audio: Option<PathBuf>,
    /// Frame rate of the generation (EchoMimicV2: 24).
    #[arg(long, value_name = "FPS", default_value_t = 24.0, value_parser = super::values::positive)]
    pub fps: f64,
    /// List every frame in the table output, not only frames with findings.
    #[arg(long)]
    pub all_frames: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub tuning: CheckTuning,
}

/// Where a command that writes files puts them and its report.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Replace an existing, non-empty output.
    #[arg(long)]
    pub force: bool,
    /// Write the report to FILE (with these commands, -o names what is written).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmoothArg {
    /// One-Euro filter (--min-cutoff, --beta, --d-cutoff).
    OneEuro,
    /// Savitzky-Golay filter (--window, --polyorder).
    Savgol,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(flatten)]
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub tuning: CheckTuning,
    #[command(flatten)]
    pub write: WriteArgs,
    /// Longest run of bad frames of a keypoint that is interpolated; longer runs hold the nearest value (P116).
    #[arg(long, value_name = "FRAMES", default_value_t = 12)]
    pub max_gap: usize,
    /// Smooth keypoint tracks after repairing them (in pixels of the --width x --height canvas).
    #[arg(long, value_enum)]
    pub smooth: Option<SmoothArg>,
    /// One-Euro: minimum cutoff frequency (per frame).
    #[arg(long, default_value_t = 0.004, value_parser = super::values::positive)]
    pub min_cutoff: f64,
    /// One-Euro: speed coefficient (per pixel per frame).
    #[arg(long, default_value_t = 0.7, value_parser = super::values::non_negative)]
    pub beta: f64,
    /// One-Euro: cutoff frequency of the derivative.
    #[arg(long, default_value_t = 1.0, value_parser = super::values::positive)]
    pub d_cutoff: f64,
    /// Savitzky-Golay: window length in frames (odd).
    #[arg(long, default_value_t = 11)]
    pub window: usize,
    /// Savitzky-Golay: polynomial order.
    #[arg(long, default_value_t = 2)]
    pub polyorder: usize,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub tuning: CheckTuning,
    #[command(flatten)]
    pub write: WriteArgs,
    /// Also write every frame as a full-size PNG (`<index>.png`) into DIR.
    #[arg(long, value_name = "DIR")]
    pub frames_dir: Option<PathBuf>,
    /// Draw the body too (EchoMimicV2 draws only hands).
    #[arg(long)]
    pub body: bool,
    /// Draw the face landmarks too.
    #[arg(long)]
    pub face: bool,
    /// Thumbnail width on the contact sheet, in pixels.
    #[arg(long, value_name = "PIXELS", default_value_t = 160)]
    pub thumb: u32,
    /// Thumbnails per row.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub columns: u32,
    /// Most thumbnails on the sheet; longer sequences show every k-th frame plus every flagged one.
    #[arg(long, value_name = "N", default_value_t = 480)]
    pub max_tiles: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetFormat {
    /// EchoMimicV2 `<index>.npy` files (coordinates normalised to the crop).
    Echomimic,
    /// OpenPose `<name>_<frame>_keypoints.json` in pixels of --width x --height, with canvas size.
    Openpose,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub write: WriteArgs,
    /// The format to write.
    #[arg(long, value_enum)]
    pub to: TargetFormat,
}

fn parse_size(text: &str) -> Result<[u32; 2], String> {
    let (w, h) = text.split_once(['x', 'X']).ok_or("expected WIDTHxHEIGHT, e.g. 1920x1080")?;
    let parse = |s: &str| s.trim().parse::<u32>().ok().filter(|v| *v > 0).ok_or("sizes must be positive integers");
    Ok([parse(w)?, parse(h)?])
}

pub fn run(args: PoseArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    // Missing inputs are named before any option or destination is judged.
    let paths = match &args.command {
        PoseCommand::Check(a) => &a.sequence.paths,
        PoseCommand::Repair(a) => &a.sequence.paths,
        PoseCommand::Render(a) => &a.sequence.paths,
        PoseCommand::Convert(a) => &a.sequence.paths,
    };
    super::inputs::require_existing(paths)?;
    match args.command {
        PoseCommand::Check(args) => check(args, global),
        PoseCommand::Repair(args) => repair(args, global),
        PoseCommand::Render(args) => render(args, global),
        PoseCommand::Convert(args) => convert(args, global),
    }
}

/// The thresholds of the command line, before the expected frame count.
fn base_check(sequence: &SequenceArgs, tuning: &CheckTuning) -> CheckOptions {
    CheckOptions {
        width: sequence.width,
        height: sequence.height,
        canvas_tolerance: tuning.canvas_tolerance,
        max_score: tuning.max_score,
        jump_threshold: tuning.jump_threshold,
        min_jump: tuning.min_jump,
        ..CheckOptions::default()
    }
}

fn check(args: CheckArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    emit(&pose_check(&sequence_options(&args.sequence, &args.tuning))?, global)
}

/// The destination named by `-o`, and the global options with the report
/// redirected to `--report`.
fn destination(global: &GlobalArgs, write: &WriteArgs, what: &str) -> anyhow::Result<(PathBuf, GlobalArgs)> {
    let Some(out) = global.output.clone() else { bail!("{what} needs -o/--output naming where to write") };
    let mut report_global = global.clone();
    report_global.output = write.report.clone();
    Ok((out, report_global))
}

/// The sequence and check options from the command line.
fn sequence_options(sequence: &SequenceArgs, tuning: &CheckTuning) -> PoseCheckOptions {
    let mut options = PoseCheckOptions::new(sequence.paths.clone());
    options.check = base_check(sequence, tuning);
    options.source_size = sequence.source_size;
    options.expect_frames = tuning.expect_frames;
    options.audio = tuning.audio.clone();
    options.fps = tuning.fps;
    options.all_frames = tuning.all_frames;
    options
}

fn repair(args: RepairArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let (out, report_global) = destination(global, &args.write, "pose repair")?;
    // Judged whichever filter runs.
    anyhow::ensure!(args.window % 2 == 1 && args.window > args.polyorder, "--window must be odd and above --polyorder");
    let mut options = PoseRepairOptions::new(args.sequence.paths.clone(), out);
    options.sequence = sequence_options(&args.sequence, &args.tuning);
    options.force = args.write.force;
    options.max_gap = args.max_gap;
    options.smooth = args.smooth.map(|s| match s {
        SmoothArg::OneEuro => {
            Smoothing::OneEuro { min_cutoff: args.min_cutoff, beta: args.beta, d_cutoff: args.d_cutoff }
        }
        SmoothArg::Savgol => Smoothing::SavGol { window: args.window, polyorder: args.polyorder },
    });
    emit(&pose_repair(&options)?, &report_global)
}

fn render(args: RenderArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let (out, report_global) = destination(global, &args.write, "pose render")?;
    let mut options = PoseRenderOptions::new(args.sequence.paths.clone(), out);
    options.sequence = sequence_options(&args.sequence, &args.tuning);
    options.force = args.write.force;
    options.frames_dir = args.frames_dir;
    options.draw = RenderOptions { body: args.body, face: args.face };
    options.thumb = args.thumb;
    options.columns = args.columns;
    options.max_tiles = args.max_tiles;
    emit(&pose_render(&options)?, &report_global)
}

fn convert(args: ConvertArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let (out, report_global) = destination(global, &args.write, "pose convert")?;
    let to = match args.to {
        TargetFormat::Echomimic => pose::PoseFormat::EchoMimic,
        TargetFormat::Openpose => pose::PoseFormat::OpenPose,
    };
    let mut options = PoseConvertOptions::new(args.sequence.paths, to, out);
    options.source_size = args.sequence.source_size;
    options.width = args.sequence.width;
    options.height = args.sequence.height;
    options.force = args.write.force;
    emit(&pose_convert(&options)?, &report_global)
}
