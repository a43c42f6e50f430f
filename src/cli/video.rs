//! `nanscope video check|repair|encode`

use std::path::PathBuf;

use clap::{Args, Subcommand};
use nanscope::report::{Report, Section, SectionTable, fmt_num};
use nanscope::video::check::list_frames;
use nanscope::video::encode::{EncodeOptions, EncodeResult, Fill, ValueRange, encode};
use nanscope::video::frame_checks::runs;
use nanscope::video::repair::{RepairOptions, RepairResult, Strategy, repair};
use nanscope::video::tensor_frames::Layout;
use nanscope::video::{CheckOptions, Expectations, FrameThresholds, Tools, VideoCheck, check_file};
use serde_json::{Value, json};

use super::output::emit;
use super::{GlobalArgs, Outcome};

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

const REPAIR_HELP: &str = "-o/--output names the repaired video (required); the report goes to standard output, or to \
--report FILE.\n\
Strategies (chosen from what `video check` finds unless --strategy is given):\n\
  remux     copy the streams into a new MP4 with the index in front (+faststart)\n\
  reencode  H.264 yuv420p, even dimensions, +faststart; audio as AAC trimmed with -t to the video\n\
  drop      reencode, dropping frames the decoder cannot decode cleanly and keeping the others' timestamps\n\
  fill      reencode, replacing black, NaN-signature and corrupt frames from their good neighbours (--fill)\n\
The result is written to a temporary file beside the output, checked with `video check`, and only then renamed; an \
existing output is only replaced with --force. An MP4 without a moov atom cannot be repaired without a reference.";

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The broken video.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Repair strategy (default: chosen from the check's findings).
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// How `fill` replaces bad frames.
    #[arg(long, value_enum, default_value_t = RepairFillArg::Interpolate)]
    pub fill: RepairFillArg,
    /// x264 quality for re-encoding strategies (0 lossless .. 51 worst).
    #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u8).range(0..=51))]
    pub crf: u8,
    /// Replace an existing output.
    #[arg(long)]
    pub force: bool,
    /// Write the report to FILE (the global -o names the video).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    Remux,
    Reencode,
    Drop,
    Fill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RepairFillArg {
    Interpolate,
    Hold,
}

const ENCODE_HELP: &str = "-o/--output names the video to write (required); the report goes to standard output, or to \
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

const CHECK_HELP: &str = "Needs ffmpeg and ffprobe 5.1 or newer on PATH (or NANSCOPE_FFMPEG / NANSCOPE_FFPROBE).\n\
Luma levels are on a 0-255 full-range scale whatever the video's range (limited-range black, code 16, reads 0).\n\
Frames are 0-based; findings name them in subject.frame or subject.frames [first, last].\n\
Frames wider than 960 pixels are measured on every second pixel of every second row (exact values, a quarter of \
the work); --full-resolution measures every pixel.\n\
The JSON report lists every frame (index, pts, luma mean/min/max/std, difference to the previous frame, flags).";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Video files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Report a missing audio stream (V107).
    #[arg(long)]
    pub expect_audio: bool,
    /// Report when the decoded frame count differs from N (V109).
    #[arg(long, value_name = "N")]
    pub expect_frames: Option<u64>,
    /// Report when the frame rate differs from F by more than 0.5% (V110).
    #[arg(long, value_name = "F")]
    pub expect_fps: Option<f64>,
    /// Largest tolerated audio/video duration difference in seconds (V108).
    #[arg(long, value_name = "SECONDS", default_value_t = Expectations::default().av_tolerance)]
    pub av_tolerance: f64,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    /// Write a per-frame chart and a contact sheet (PNG) per file into DIR.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Decoder threads (default: ffmpeg's choice, one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Measure every pixel of frames wider than 960 (default: every second pixel of every second row).
    #[arg(long)]
    pub full_resolution: bool,
}

/// Frame thresholds, shared by `check` and `repair`.
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
        VideoCommand::Check(args) => run_check(args, global),
        VideoCommand::Encode(args) => run_encode(args, global),
        VideoCommand::Repair(args) => run_repair(args, global),
    }
}

/// For commands that write a video, `-o` names the video and `--report` the report.
fn video_destination(
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

fn run_encode(args: EncodeArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let (destination, report_global) = video_destination(global, args.report.clone(), "encode")?;
    anyhow::ensure!(
        args.fps.is_finite() && args.fps > 0.0 && args.fps <= 1000.0,
        "--fps must be in (0, 1000], got {}",
        args.fps
    );
    if let Some(audio) = &args.audio {
        anyhow::ensure!(audio.is_file(), "--audio {} is not a readable file", audio.display());
    }
    let options = EncodeOptions {
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
    };
    let tools = Tools::locate()?;
    let result = encode(&tools, &args.input, &destination, &options)?;
    emit(&encode_report(&result), &report_global)
}

fn encode_report(result: &EncodeResult) -> Report {
    let mut report = Report::new("video encode", vec![result.input.clone()]);
    report.findings = result.findings.clone();
    report.sort_findings();
    report.set_counter("frames", result.frames.len() as u64);
    let filled = result.frames.iter().filter(|f| f.nan + f.pos_inf + f.neg_inf > 0).count() as u64;
    report.set_counter("filled", filled);
    let summary = json!({
        "tensor": result.tensor,
        "shape": result.shape,
        "layout": result.layout,
        "range": result.range,
        "fill": result.fill,
        "width": result.width,
        "height": result.height,
        "fps": result.fps,
        "output": result.output,
    });
    let rows = vec![vec![
        result.tensor.clone(),
        format!("{:?}", result.shape),
        result.layout.to_string(),
        serde_json::to_value(result.range).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        format!("{}x{} @ {} fps", result.width, result.height, fmt_num(result.fps)),
        result.output.clone().unwrap_or_else(|| "(not written)".into()),
    ]];
    report.sections.push(Section {
        key: "encode".into(),
        value: summary,
        table: Some(SectionTable {
            title: "Encode".into(),
            header: ["tensor", "shape", "layout", "range", "video", "output"].map(String::from).to_vec(),
            rows,
            note: None,
        }),
    });
    report.sections.push(Section {
        key: "frames".into(),
        value: serde_json::to_value(&result.frames).unwrap_or(Value::Null),
        table: None,
    });
    if let Some(check) = &result.check {
        report.sections.push(Section {
            key: "streams".into(),
            value: serde_json::to_value(&check.streams).unwrap_or(Value::Null),
            table: None,
        });
    }
    report
}

fn run_check(args: CheckArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let options = CheckOptions {
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
    let tools = Tools::locate()?;
    let mut checks = Vec::new();
    for file in &args.files {
        checks.push(check_file(&tools, file, &options)?);
    }
    let inputs = args.files.iter().map(|p| p.display().to_string()).collect();
    let mut report = check_report("video check", inputs, &checks);
    if let Some(dir) = &args.plot {
        let written = nanscope::video::plot::plot_checks(&tools, &checks, dir)?;
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        report.sections.push(Section {
            key: "plots".into(),
            value: json!(names),
            table: Some(SectionTable {
                title: "Plots".into(),
                header: vec!["file".into()],
                rows: names.iter().map(|n| vec![n.clone()]).collect(),
                note: None,
            }),
        });
    }
    emit(&report, global)
}

/// The `video check` report: findings, a `streams` section and a `frames` section.
pub fn check_report(command: &str, inputs: Vec<String>, checks: &[VideoCheck]) -> Report {
    let mut report = Report::new(command, inputs);
    report.set_counter("files", checks.len() as u64);
    report.set_counter("frames", checks.iter().map(|c| c.frames.len() as u64).sum());
    for check in checks {
        report.findings.extend(check.findings.iter().cloned());
    }
    report.sort_findings();
    report.sections.push(streams_section(checks));
    report.sections.push(frames_section(checks));
    report
}

fn streams_section(checks: &[VideoCheck]) -> Section {
    let num = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    let mut rows = Vec::new();
    for check in checks {
        if check.streams.is_empty() {
            rows.push(vec![check.file.clone(), "-".into(), "unreadable".into(), "".into(), "".into(), "".into()]);
        }
        for s in &check.streams {
            let size = match (s.width, s.height) {
                (Some(w), Some(h)) => format!("{w}x{h}"),
                _ => "".into(),
            };
            let what = [s.codec_name.clone(), s.profile.clone(), s.pix_fmt.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let timing = format!(
                "{} s{}",
                s.duration.map(fmt_num).unwrap_or_else(|| "?".into()),
                s.fps.map(|f| format!(", {} fps", fmt_num(f))).unwrap_or_default()
            );
            let counts = format!("{} / {} / {}", num(s.frames_indexed), num(s.packets_read), num(s.frames_decoded));
            rows.push(vec![
                check.file.clone(),
                num(s.index),
                format!("{} {what} {size}", s.codec_type.clone().unwrap_or_default()),
                timing,
                counts,
                String::new(),
            ]);
        }
    }
    for row in &mut rows {
        row.pop();
    }
    Section {
        key: "streams".into(),
        value: serde_json::to_value(checks.iter().flat_map(|c| c.streams.iter()).collect::<Vec<_>>())
            .unwrap_or(Value::Null),
        table: Some(SectionTable {
            title: "Streams".into(),
            header: ["file", "stream", "codec", "duration", "indexed / packets / decoded"].map(String::from).to_vec(),
            rows,
            note: None,
        }),
    }
}

fn frames_section(checks: &[VideoCheck]) -> Section {
    let mut value = Vec::new();
    let mut rows = Vec::new();
    let mut flagged = 0usize;
    let mut total = 0usize;
    for check in checks {
        for frame in &check.frames {
            let mut entry = serde_json::to_value(frame).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut entry {
                map.insert("file".into(), json!(check.file));
            }
            value.push(entry);
        }
        total += check.frames.len();
        let frames = &check.frames;
        flagged += frames.iter().filter(|f| !f.flags.is_empty()).count();
        for (a, b) in runs(frames.len(), |i| !frames[i].flags.is_empty()) {
            let mut flags: Vec<&str> = frames[a..=b].iter().flat_map(|f| f.flags.iter().map(|x| x.name())).collect();
            flags.sort_unstable();
            flags.dedup();
            let indices: Vec<u64> = frames[a..=b].iter().map(|f| f.index).collect();
            rows.push(vec![
                check.file.clone(),
                list_frames(&indices),
                format!("{}-{} s", fmt_num(frames[a].pts), fmt_num(frames[b].pts)),
                (b - a + 1).to_string(),
                flags.join(", "),
            ]);
        }
    }
    Section {
        key: "frames".into(),
        value: Value::Array(value),
        table: Some(SectionTable {
            title: "Flagged frame segments".into(),
            header: ["file", "frames", "time", "count", "flags"].map(String::from).to_vec(),
            rows,
            note: (total > 0).then(|| {
                let sampled = if checks.iter().any(|c| c.sampled) {
                    " (large frames measured on a 2x2 point sample; --full-resolution measures every pixel)"
                } else {
                    ""
                };
                format!("{flagged} of {total} decoded frames flagged; --format json lists every frame{sampled}")
            }),
        }),
    }
}

fn run_repair(args: RepairArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let (destination, report_global) = video_destination(global, args.report.clone(), "repair")?;
    let options = RepairOptions {
        strategy: args.strategy.map(|s| match s {
            StrategyArg::Remux => Strategy::Remux,
            StrategyArg::Reencode => Strategy::Reencode,
            StrategyArg::Drop => Strategy::Drop,
            StrategyArg::Fill => Strategy::Fill,
        }),
        fill: match args.fill {
            RepairFillArg::Interpolate => Fill::Interpolate,
            RepairFillArg::Hold => Fill::Hold,
        },
        force: args.force,
        check: CheckOptions { thresholds: args.thresholds.thresholds()?, ..CheckOptions::default() },
        crf: args.crf,
    };
    let tools = Tools::locate()?;
    let result = repair(&tools, &args.input, &destination, &options)?;
    emit(&repair_report(&result), &report_global)
}

fn repair_report(result: &RepairResult) -> Report {
    let mut report = Report::new("video repair", vec![result.input.clone()]);
    report.findings = result.findings.clone();
    report.sort_findings();
    report.set_counter("frames_changed", result.frames_changed.len() as u64);
    let mut rows: Vec<Vec<String>> = result.input_findings.iter().map(|f| vec!["input".into(), f.clone()]).collect();
    rows.extend(result.steps.iter().map(|s| vec!["done".into(), s.clone()]));
    report.sections.push(Section {
        key: "repair".into(),
        value: serde_json::to_value(result).unwrap_or(Value::Null),
        table: Some(SectionTable {
            title: format!("Repair ({})", result.strategy.map(|s| s.name()).unwrap_or("not possible")),
            header: vec!["".into(), "what".into()],
            rows,
            note: result.output.as_ref().map(|o| format!("written: {o}")),
        }),
    });
    if let Some(check) = &result.output_check {
        report.sections.push(Section {
            key: "streams".into(),
            value: serde_json::to_value(&check.streams).unwrap_or(Value::Null),
            table: None,
        });
    }
    report
}
