//! `nanscope video check FILE…`

use std::path::PathBuf;

use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::video::check::list_frames;
use crate::video::frame_checks::runs;
use crate::video::{CheckOptions, Expectations, Tools, VideoCheck, check_file};
use clap::Args;
use serde_json::{Value, json};

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

/// Frame thresholds, shared by `check` and `repair`.
pub(super) fn run(args: CheckArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
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
    crate::cli::inputs::require_existing(&args.files)?;
    let files = crate::video::discover::video_files(&args.files);
    if files.is_empty() {
        return Err(crate::cli::inputs::nothing_to_check(&args.files, "videos"));
    }
    let tools = Tools::find()?;
    let mut checks = Vec::new();
    for file in &files {
        checks.push(check_file(&tools, file, &options)?);
    }
    let inputs = args.files.iter().map(|p| p.display().to_string()).collect();
    let mut report = check_report("video check", inputs, &checks);
    if let Some(dir) = &args.plot {
        let written = crate::video::plot::plot_checks(&tools, &checks, dir)?;
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
                    " (frames wider than 960 measured on every second row; --full-resolution measures every row)"
                } else {
                    ""
                };
                format!("{flagged} of {total} decoded frames flagged; --format json lists every frame{sampled}")
            }),
        }),
    }
}
