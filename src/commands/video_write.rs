//! `video repair IN -o OUT` and `video encode TENSOR -o OUT`: the files they
//! write, and their reports.

use std::path::PathBuf;

use serde::Serialize;

use super::{CommandError, require_existing};
use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::video::Tools;
use crate::video::encode::{EncodeOptions, EncodeResult, Fill, ValueRange, encode};
use crate::video::repair::{RepairOptions, RepairResult, repair};

/// What `video repair` reads and writes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VideoRepairOptions {
    /// The broken video (never modified).
    pub input: PathBuf,
    /// Where the repaired video is written.
    pub output: PathBuf,
    pub repair: RepairOptions,
}

impl VideoRepairOptions {
    pub fn new(input: PathBuf, output: PathBuf, repair: RepairOptions) -> Self {
        VideoRepairOptions { input, output, repair }
    }
}

/// Rebuilds a playable file and returns the `video repair` report (`repair`
/// and, once written, `streams` sections). Needs ffmpeg and ffprobe.
pub fn video_repair(options: &VideoRepairOptions) -> Result<Report, CommandError> {
    require_existing(&[&options.input])?;
    for extra in [&options.repair.reference, &options.repair.audio].into_iter().flatten() {
        require_existing(&[extra])?;
    }
    options.repair.check.thresholds.validate().map_err(CommandError::InvalidOption)?;
    let tools = Tools::locate()?;
    let result = repair(&tools, &options.input, &options.output, &options.repair)?;
    Ok(repair_report(&result))
}

/// What `video encode` reads and writes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VideoEncodeOptions {
    /// The saved video tensor (.npy, .npz, .safetensors).
    pub input: PathBuf,
    /// Where the video is written.
    pub output: PathBuf,
    pub encode: EncodeOptions,
}

impl VideoEncodeOptions {
    pub fn new(input: PathBuf, output: PathBuf, encode: EncodeOptions) -> Self {
        VideoEncodeOptions { input, output, encode }
    }
}

/// Encodes the tensor, filling non-finite pixels, and returns the `video
/// encode` report (`encode`, `frames` and `streams` sections).
pub fn video_encode(options: &VideoEncodeOptions) -> Result<Report, CommandError> {
    require_existing(&[&options.input])?;
    let encode_options = &options.encode;
    if let Some(audio) = &encode_options.audio {
        require_existing(&[audio])?;
    }
    let fps = encode_options.fps;
    if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
        return Err(CommandError::InvalidOption(format!("--fps must be in (0, 1000], got {fps}")));
    }
    if let Some(audio) = &encode_options.audio
        && !audio.is_file()
    {
        return Err(CommandError::InvalidOption(format!("--audio {} is not a readable file", audio.display())));
    }
    let tools = Tools::locate()?;
    let result = encode(&tools, &options.input, &options.output, encode_options)?;
    Ok(encode_report(&result))
}

/// The `encode` section: what was encoded and where it went.
#[derive(Serialize)]
struct EncodeSummary<'a> {
    tensor: &'a str,
    shape: &'a [u64],
    layout: &'static str,
    range: ValueRange,
    fill: Fill,
    width: u64,
    height: u64,
    fps: f64,
    output: &'a Option<String>,
}

fn repair_report(result: &RepairResult) -> Report {
    let mut report = Report::new("video repair", vec![result.input.clone()]);
    report.findings = result.findings.clone();
    report.sort_findings();
    report.set_counter("frames_changed", result.frames_changed.len() as u64);
    let mut rows: Vec<Vec<String>> = result.input_findings.iter().map(|f| vec!["input".into(), f.clone()]).collect();
    rows.extend(result.steps.iter().map(|s| vec!["done".into(), s.clone()]));
    report.sections.push(Section::typed("repair", result).with_table(SectionTable {
        title: format!("Repair ({})", result.strategy.map(|s| s.name()).unwrap_or("not possible")),
        header: vec!["".into(), "what".into()],
        rows,
        note: result.output.as_ref().map(|o| format!("written: {o}")),
    }));
    if let Some(check) = &result.output_check {
        report.sections.push(Section::typed("streams", &check.streams));
    }
    report
}

fn encode_report(result: &EncodeResult) -> Report {
    let mut report = Report::new("video encode", vec![result.input.clone()]);
    report.findings = result.findings.clone();
    report.sort_findings();
    report.set_counter("frames", result.frames.len() as u64);
    let filled = result.frames.iter().filter(|f| f.nan + f.pos_inf + f.neg_inf > 0).count() as u64;
    report.set_counter("filled", filled);
    report.sections.push(encode_section(result, "encode"));
    report.sections.push(Section::typed("frames", &result.frames));
    if let Some(check) = &result.check {
        report.sections.push(Section::typed("streams", &check.streams));
    }
    report
}

/// The summary of an encode: tensor, shape, layout, range, size and output.
pub(crate) fn encode_section(result: &EncodeResult, key: &str) -> Section {
    let summary = EncodeSummary {
        tensor: &result.tensor,
        shape: &result.shape,
        layout: result.layout,
        range: result.range,
        fill: result.fill,
        width: result.width,
        height: result.height,
        fps: result.fps,
        output: &result.output,
    };
    let rows = vec![vec![
        result.tensor.clone(),
        format!("{:?}", result.shape),
        result.layout.to_string(),
        serde_json::to_value(result.range).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        format!("{}x{} @ {} fps", result.width, result.height, fmt_num(result.fps)),
        result.output.clone().unwrap_or_else(|| "(not written)".into()),
    ]];
    Section::typed(key, &summary).with_table(SectionTable {
        title: "Encode".into(),
        header: ["tensor", "shape", "layout", "range", "video", "output"].map(String::from).to_vec(),
        rows,
        note: None,
    })
}
