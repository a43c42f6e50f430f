//! `nanscope replay SPEC`: replay a generation with the built-in engine,
//! report where NaN/Inf first appeared, and optionally bisect the precision.

use std::path::PathBuf;

use crate::commands::{ReplayOptions, replay};
use crate::replay::ReplayOptions as EngineOptions;
use crate::replay::engine::ComputeDType;
use crate::trace::DumpLevel;
use clap::{Args, ValueEnum};

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Replay spec (TOML); see fixtures/replay/demo.toml.
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,
    /// Write the dump folder here (overrides the spec's [dump] dir).
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
    /// What the dump keeps (overrides the spec's [dump] level): statistics of every module output
    /// (`stats`), plus the tensors at stage boundaries (`stages`), or every tensor (`all`).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub dump_level: Option<LevelArg>,
    /// Compute dtype (overrides the spec).
    #[arg(long, value_enum)]
    pub dtype: Option<DTypeArg>,
    /// Fake-quantize Linear/Conv weights: int8, int8-channel, int4-g128, fp8-e4m3, fp16, bf16, or none.
    #[arg(long, value_name = "SCHEME")]
    pub quantize: Option<String>,
    /// Module globs to quantize (replaces the spec's include list).
    #[arg(long, value_name = "GLOB", num_args = 1..)]
    pub quantize_modules: Vec<String>,
    /// When the frames are not finite, find a minimal set of modules to keep in fp32/unquantized.
    #[arg(long)]
    pub bisect: bool,
    /// Draw the per-step timeline (absmax against the fp16 limit, non-finite share) as DIR/timeline.png.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Encode the decoded frames as H.264 (through `video encode`: non-finite pixels filled and
    /// reported); needs ffmpeg.
    #[arg(long, value_name = "OUT.mp4")]
    pub video: Option<PathBuf>,
    /// Replace an existing --video file.
    #[arg(long, requires = "video")]
    pub force: bool,
    /// Frames per second of --video.
    #[arg(long, default_value_t = 24.0, requires = "video", value_parser = super::values::positive)]
    pub fps: f64,
    /// Run without any probe (no findings): the baseline of bench/replay_bench.py.
    #[arg(long, hide = true)]
    pub no_probe: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LevelArg {
    /// Statistics of every module output; no tensor files.
    Stats,
    /// Also the stage-boundary tensors (latents per step, model outputs, decoded frames).
    Stages,
    /// Also every module output tensor.
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DTypeArg {
    Fp32,
    Fp16,
    Bf16,
}

pub fn run(args: ReplayArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let mut options = ReplayOptions::new(args.spec);
    options.replay = EngineOptions {
        dump_dir: args.dump,
        dump_level: args.dump_level.map(|l| match l {
            LevelArg::Stats => DumpLevel::Stats,
            LevelArg::Stages => DumpLevel::Stages,
            LevelArg::All => DumpLevel::All,
        }),
        dtype: args.dtype.map(|d| match d {
            DTypeArg::Fp32 => ComputeDType::Fp32,
            DTypeArg::Fp16 => ComputeDType::Fp16,
            DTypeArg::Bf16 => ComputeDType::Bf16,
        }),
        quantize: args.quantize,
        quantize_modules: args.quantize_modules,
        bisect: args.bisect,
        probe: !args.no_probe,
        ..EngineOptions::default()
    };
    options.plot = args.plot;
    options.video = args.video;
    options.fps = args.fps;
    options.force = args.force;
    emit(&replay(&options)?, global)
}
