//! `nanscope replay SPEC`: replay a generation with the built-in engine,
//! report where NaN/Inf first appeared, and optionally bisect the precision.

use std::path::{Path, PathBuf};

use crate::replay::engine::ComputeDType;
use crate::replay::{ReplayOptions, Spec, replay};
use crate::report::{Section, SectionTable};
use crate::trace::{DumpLevel, TraceResult};
use crate::video::Tools;
use crate::video::encode::{EncodeOptions, EncodeResult, Fill, encode};
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::output::emit;
use super::video::encode::encode_section;
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
    super::inputs::require_existing(&[&args.spec])?;
    let mut spec = Spec::load(&args.spec)?;
    // The video is encoded from the saved frames: the spec's output, or a
    // temporary file beside the video.
    let video = match &args.video {
        Some(path) => {
            anyhow::ensure!(
                args.fps.is_finite() && args.fps > 0.0 && args.fps <= 1000.0,
                "--fps must be in (0, 1000], got {}",
                args.fps
            );
            anyhow::ensure!(args.force || !path.exists(), "{} exists; pass --force to replace it", path.display());
            let tools = Tools::locate()?;
            let temporary = spec.output.is_none().then(|| frames_file_beside(path));
            if let Some(temporary) = &temporary {
                spec.output = Some(temporary.clone());
            }
            Some((tools, path.clone(), temporary))
        }
        None => None,
    };
    let options = ReplayOptions {
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
        ..ReplayOptions::default()
    };
    let result = replay(&spec, &options);
    let encoded = match (&video, &result, &spec.output) {
        (Some((tools, path, _)), Ok(_), Some(frames)) => Some(encode_frames(tools, frames, path, args.fps, args.force)),
        _ => None,
    };
    if let Some((_, _, Some(temporary))) = &video {
        let _ = std::fs::remove_file(temporary);
    }
    let result = result.with_context(|| format!("replay of {} failed", args.spec.display()))?;
    let encoded = encoded.transpose()?;
    let plot = match &args.plot {
        Some(dir) => {
            Some(super::trace::plot_timeline(&result.analysis.stages, &format!("replay {}", args.spec.display()), dir)?)
        }
        None => None,
    };
    let trace = TraceResult { manifest: None, findings: Vec::new(), analysis: result.analysis.clone(), recomputed: 0 };
    let mut report = super::trace::build_report(trace, args.spec.display().to_string());
    report.command = "replay".into();
    report.findings = result.findings.clone();
    if let Some(encoded) = &encoded {
        report.findings.extend(encoded.findings.iter().cloned());
    }
    report.sort_findings();
    report.set_counter("nonfinite_frame_values", result.nonfinite_frames_values);
    let run = json!({
        "dtype": result.dtype.name(),
        "quantize": result.quantize,
        "steps": result.steps,
        "nonfinite_frame_values": result.nonfinite_frames_values,
        "dump": result.dump_dir.as_ref().map(|d| d.display().to_string()),
        "output": result.output.as_ref().map(|d| d.display().to_string()),
    });
    report.sections.insert(0, Section { key: "run".into(), value: run, table: None });
    if let Some(b) = &result.bisect {
        let rows = b.keep.iter().map(|m| vec![m.clone()]).collect();
        report.sections.push(Section {
            key: "bisect".into(),
            value: json!({
                "exclude": b.keep,
                "exclude_python": crate::replay::python_list(&b.keep),
                "fixed": b.fixed,
                "already_finite": b.already_finite,
                "candidates": b.candidates,
                "trials": b.trials,
            }),
            table: Some(SectionTable {
                title: "Keep in fp32 / unquantized".into(),
                header: vec!["module".into()],
                rows,
                note: Some(format!(
                    "{} trials over {} candidates; JSON: {}",
                    b.trials,
                    b.candidates,
                    serde_json::to_string(&b.keep).unwrap_or_default()
                )),
            }),
        });
    }
    if let Some(encoded) = &encoded {
        report.sections.push(encode_section(encoded, "video"));
    }
    super::trace::add_plot_section(&mut report, plot);
    emit(&report, global)
}

/// `.NAME.frames-PID.safetensors` in the video's folder.
fn frames_file_beside(video: &Path) -> PathBuf {
    let name = video.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "video".into());
    let folder = video.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    folder.join(format!(".{name}.frames-{}.safetensors", std::process::id()))
}

fn encode_frames(tools: &Tools, frames: &Path, video: &Path, fps: f64, force: bool) -> anyhow::Result<EncodeResult> {
    let options = EncodeOptions {
        tensor: Some("videos".into()),
        layout: None,
        range: None,
        fps,
        audio: None,
        fill: Fill::Interpolate,
        crf: 18,
        force,
        // The frames file is a temporary: reports name the video it becomes.
        label: Some(video.display().to_string()),
    };
    encode(tools, frames, video, &options).with_context(|| format!("encoding the frames as {}", video.display()))
}
