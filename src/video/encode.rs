//! `video encode`: a saved video tensor to H.264 yuv420p, NaN/Inf-aware.
//!
//! Two passes over the memory-mapped tensor: the first counts non-finite
//! values per frame and finds the value range, the second fills, clamps,
//! rounds and pipes raw RGB frames into ffmpeg. Memory holds a few frames.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Serialize;

use super::check::{CheckOptions, VideoCheck, check_file};
use super::frame_checks::runs;
use super::output::{OutputError, PendingOutput};
use super::tensor_frames::{Geometry, Layout, TensorFrames, geometry};
use super::tools::{Tools, drain_stderr, path_arg, tail};
use crate::formats::Checkpoint;
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::video as rules;

/// The value range of a tensor's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ValueRange {
    #[serde(rename = "0-1")]
    Unit,
    #[serde(rename = "-1-1")]
    Signed,
    #[serde(rename = "0-255")]
    Byte,
}

impl ValueRange {
    pub fn name(self) -> &'static str {
        match self {
            ValueRange::Unit => "[0, 1]",
            ValueRange::Signed => "[-1, 1]",
            ValueRange::Byte => "[0, 255]",
        }
    }

    fn bounds(self) -> (f32, f32) {
        match self {
            ValueRange::Unit => (0.0, 1.0),
            ValueRange::Signed => (-1.0, 1.0),
            ValueRange::Byte => (0.0, 255.0),
        }
    }

    /// The range finite values suggest: anything negative is [-1, 1], anything
    /// well above 1 is 0-255, else [0, 1].
    pub fn infer(min: f32, max: f32) -> ValueRange {
        if min < -0.05 {
            ValueRange::Signed
        } else if max > 1.5 {
            ValueRange::Byte
        } else {
            ValueRange::Unit
        }
    }
}

/// How non-finite pixels are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fill {
    /// Black, what `astype(uint8)` does to NaN (only when asked for).
    Zero,
    /// The same pixel of the previous output frame.
    Hold,
    /// Linear in time between the previous output frame and the next clean frame.
    Interpolate,
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// Which tensor of a multi-tensor file.
    pub tensor: Option<String>,
    pub layout: Option<Layout>,
    pub range: Option<ValueRange>,
    pub fps: f64,
    pub audio: Option<PathBuf>,
    pub fill: Fill,
    pub crf: u8,
    pub force: bool,
    /// The name reports give the input, when it is a file written for the
    /// occasion (a temporary tensor) rather than the user's own.
    pub label: Option<String>,
}

impl Default for EncodeOptions {
    /// The command line's defaults: 24 fps, damaged frames interpolated,
    /// CRF 18, an existing output kept.
    fn default() -> Self {
        EncodeOptions {
            tensor: None,
            layout: None,
            range: None,
            fps: 24.0,
            audio: None,
            fill: Fill::Interpolate,
            crf: 18,
            force: false,
            label: None,
        }
    }
}

/// One frame of the tensor, as the report's `frames` section lists it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TensorFrameRecord {
    pub index: u64,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
    /// Finite values outside the range, clamped.
    pub clamped: u64,
    pub min: Option<f32>,
    pub max: Option<f32>,
}

impl TensorFrameRecord {
    fn nonfinite(&self) -> u64 {
        self.nan + self.pos_inf + self.neg_inf
    }
}

#[derive(Debug, Serialize)]
pub struct EncodeResult {
    pub input: String,
    pub tensor: String,
    pub shape: Vec<u64>,
    pub layout: &'static str,
    pub range: ValueRange,
    pub fill: Fill,
    pub width: u64,
    pub height: u64,
    pub fps: f64,
    pub output: Option<String>,
    pub frames: Vec<TensorFrameRecord>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
    /// `video check` of the written file.
    #[serde(skip)]
    pub check: Option<VideoCheck>,
}

/// Why an encode could not run (bad arguments or tools); problems of the
/// tensor's content are findings in the result instead.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("{0}")]
    Tensor(String),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// A saved video tensor surveyed without encoding it: non-finite values per
/// frame and the finite range (what `postmortem` reads from a run folder).
#[derive(Debug, Serialize)]
pub struct TensorSurvey {
    pub input: String,
    pub tensor: String,
    pub shape: Vec<u64>,
    pub layout: &'static str,
    pub range: ValueRange,
    pub frames: Vec<TensorFrameRecord>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// Surveys the one video-shaped tensor of `input` (V130 per run of frames
/// holding NaN/Inf). Unreadable files are findings; a file without a
/// video-shaped tensor is an error.
pub fn survey_tensor(input: &Path) -> Result<TensorSurvey, EncodeError> {
    let checkpoint = Checkpoint::open(input);
    let label = checkpoint.label.clone();
    let mut result = TensorSurvey {
        input: label.clone(),
        tensor: String::new(),
        shape: vec![],
        layout: "",
        range: ValueRange::Unit,
        frames: vec![],
        findings: checkpoint.findings.clone(),
    };
    if checkpoint.tensors.is_empty() {
        return Ok(result);
    }
    let entry = pick_tensor(&checkpoint, None).map_err(EncodeError::Tensor)?;
    let geometry = geometry(&entry.shape, None).map_err(|e| EncodeError::Tensor(format!("{}: {e}", entry.name)))?;
    let mut frames = TensorFrames::new(&checkpoint, entry, geometry)
        .map_err(|e| EncodeError::Tensor(format!("{}: {e}", entry.name)))?;
    let (records, min, max) = survey(&mut frames);
    result.range = ValueRange::infer(min, max);
    let (low, high) = result.range.bounds();
    result.findings.extend(tensor_findings(&label, &entry.name, &records, None, result.range, low, high));
    result.tensor = entry.name.clone();
    result.shape = entry.shape.clone();
    result.layout = geometry.layout.name();
    result.frames = records;
    Ok(result)
}

/// Encodes `input`'s video tensor into `output`.
pub fn encode(
    tools: &Tools,
    input: &Path,
    output: &Path,
    options: &EncodeOptions,
) -> Result<EncodeResult, EncodeError> {
    let pending = PendingOutput::new(output, options.force)?;
    let checkpoint = Checkpoint::open(input);
    let label = options.label.clone().unwrap_or_else(|| checkpoint.label.clone());
    let mut result = EncodeResult {
        input: label.clone(),
        tensor: String::new(),
        shape: vec![],
        layout: "",
        range: options.range.unwrap_or(ValueRange::Unit),
        fill: options.fill,
        width: 0,
        height: 0,
        fps: options.fps,
        output: None,
        frames: vec![],
        findings: checkpoint.findings.clone(),
        check: None,
    };
    if checkpoint.tensors.is_empty() {
        return Ok(result);
    }
    let entry = pick_tensor(&checkpoint, options.tensor.as_deref()).map_err(EncodeError::Tensor)?;
    let geometry =
        geometry(&entry.shape, options.layout).map_err(|e| EncodeError::Tensor(format!("{}: {e}", entry.name)))?;
    let mut frames = TensorFrames::new(&checkpoint, entry, geometry)
        .map_err(|e| EncodeError::Tensor(format!("{}: {e}", entry.name)))?;
    result.tensor = entry.name.clone();
    result.shape = entry.shape.clone();
    result.layout = geometry.layout.name();
    result.width = geometry.out_width();
    result.height = geometry.height;

    let (mut records, min, max) = survey(&mut frames);
    let range = options.range.unwrap_or_else(|| ValueRange::infer(min, max));
    result.range = range;
    let (low, high) = range.bounds();
    let written = write_video(tools, &mut frames, &mut records, range, &pending.temporary, options);
    if let Err(err) = written {
        pending.discard();
        return Err(pending.about_destination(err).into());
    }
    let check = check_file(tools, &pending.temporary, &CheckOptions::default()).map_err(OutputError::from);
    let mut check = match check {
        Ok(check) => check,
        Err(err) => {
            pending.discard();
            return Err(err.into());
        }
    };
    if check.frames.is_empty() {
        pending.discard();
        return Err(OutputError::Ffmpeg {
            path: output.to_path_buf(),
            detail: "the encoded file holds no decodable frame".into(),
        }
        .into());
    }
    pending.commit()?;
    let out_label = output.display().to_string();
    check.relabel(&out_label);
    result.output = Some(out_label.clone());
    result.findings.extend(tensor_findings(&label, &entry.name, &records, Some(options.fill), range, low, high));
    result.findings.extend(check.findings.iter().cloned().map(|mut f| {
        f.subject.file = Some(out_label.clone());
        f
    }));
    result.frames = records;
    result.check = Some(check);
    Ok(result)
}

fn pick_tensor<'a>(checkpoint: &'a Checkpoint, name: Option<&str>) -> Result<&'a crate::formats::TensorEntry, String> {
    if let Some(name) = name {
        return checkpoint.tensors.iter().find(|t| t.name == name).ok_or_else(|| {
            let names: Vec<&str> = checkpoint.tensors.iter().map(|t| t.name.as_str()).collect();
            format!("no tensor named {name} in {} (has: {})", checkpoint.label, names.join(", "))
        });
    }
    let videos: Vec<_> = checkpoint.tensors.iter().filter(|t| matches!(t.shape.len(), 4 | 5)).collect();
    match videos.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("{} holds no 4- or 5-dimensional tensor", checkpoint.label)),
        many => Err(format!(
            "{} holds several video-shaped tensors ({}); pick one with --tensor",
            checkpoint.label,
            many.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// First pass: non-finite counts per frame and the finite min/max.
fn survey(frames: &mut TensorFrames) -> (Vec<TensorFrameRecord>, f32, f32) {
    let mut buf = Vec::new();
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    let mut records = Vec::new();
    for f in 0..frames.geometry.frames {
        frames.frame(f, &mut buf);
        let mut r = TensorFrameRecord { index: f, ..TensorFrameRecord::default() };
        let (mut flo, mut fhi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in &buf {
            if v.is_nan() {
                r.nan += 1;
            } else if v == f32::INFINITY {
                r.pos_inf += 1;
            } else if v == f32::NEG_INFINITY {
                r.neg_inf += 1;
            } else {
                flo = flo.min(v);
                fhi = fhi.max(v);
            }
        }
        if flo <= fhi {
            r.min = Some(flo);
            r.max = Some(fhi);
            lo = lo.min(flo);
            hi = hi.max(fhi);
        }
        records.push(r);
    }
    (records, if lo.is_finite() { lo } else { 0.0 }, if hi.is_finite() { hi } else { 1.0 })
}

/// A frame converted to 8-bit RGB, with the pixels that were not finite.
struct ByteFrame {
    index: u64,
    rgb: Vec<u8>,
    bad: Vec<bool>,
}

fn to_bytes(values: &[f32], range: ValueRange, index: u64, clamped: &mut u64) -> ByteFrame {
    let (low, high) = range.bounds();
    let scale = 255.0 / (high - low);
    let mut rgb = vec![0u8; values.len()];
    let mut bad = vec![false; values.len() / 3];
    for (i, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            bad[i / 3] = true;
            continue;
        }
        if v < low || v > high {
            *clamped += 1;
        }
        // Round to nearest: truncation darkens every pixel by half a level on average.
        rgb[i] = ((v.clamp(low, high) - low) * scale).round() as u8;
    }
    ByteFrame { index, rgb, bad }
}

/// Second pass: fill, convert and pipe every frame into ffmpeg.
fn write_video(
    tools: &Tools,
    frames: &mut TensorFrames,
    records: &mut [TensorFrameRecord],
    range: ValueRange,
    temporary: &Path,
    options: &EncodeOptions,
) -> Result<(), OutputError> {
    let g: Geometry = frames.geometry;
    let mut command = tools.ffmpeg();
    command.args(["-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]);
    command.args(["-s", &format!("{}x{}", g.out_width(), g.height), "-r", &format!("{}", options.fps), "-i", "pipe:0"]);
    if let Some(audio) = &options.audio {
        command
            .arg("-i")
            .arg(path_arg(audio))
            .args(["-map", "0:v:0", "-map", "1:a:0", "-af", "apad", "-c:a", "aac", "-b:a", "192k"]);
    }
    if g.out_width() % 2 == 1 || g.height % 2 == 1 {
        command.args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]);
    }
    let duration = g.frames as f64 / options.fps;
    command.args(["-c:v", "libx264", "-preset", "medium", "-crf", &options.crf.to_string(), "-pix_fmt", "yuv420p"]);
    command.args(["-t", &format!("{duration:.6}"), "-movflags", "+faststart"]).arg(path_arg(temporary));
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|source| {
            OutputError::Tool(super::ToolError::Run { program: tools.ffmpeg.display().to_string(), error: source })
        })?;
    let stderr = drain_stderr(&mut child, 64 * 1024);
    let mut stdin = child.stdin.take();
    let mut buf = Vec::new();
    let mut previous: Option<ByteFrame> = None;
    let mut next_clean: Option<ByteFrame> = None;
    let mut pipe_ok = true;
    for f in 0..g.frames {
        frames.frame(f, &mut buf);
        let mut frame = to_bytes(&buf, range, f, &mut records[f as usize].clamped);
        if records[f as usize].nonfinite() > 0 {
            // Interpolation needs the next clean frame; so does holding
            // when no frame came before.
            let needs_next = options.fill == Fill::Interpolate || (options.fill == Fill::Hold && previous.is_none());
            if needs_next && next_clean.as_ref().is_none_or(|n| n.index <= f) {
                next_clean = records[f as usize + 1..].iter().find(|r| r.nonfinite() == 0).map(|r| {
                    let mut values = Vec::new();
                    frames.frame(r.index, &mut values);
                    to_bytes(&values, range, r.index, &mut 0)
                });
            }
            fill(&mut frame, previous.as_ref(), next_clean.as_ref(), options.fill);
        }
        if pipe_ok && let Some(pipe) = stdin.as_mut() {
            pipe_ok = pipe.write_all(&frame.rgb).is_ok();
        }
        frame.bad.iter_mut().for_each(|b| *b = false);
        previous = Some(frame);
    }
    drop(stdin);
    let status = child.wait().map_err(|source| OutputError::Io { path: temporary.to_path_buf(), error: source })?;
    let text = stderr.join().unwrap_or_default();
    if !status.success() || !pipe_ok {
        return Err(OutputError::Ffmpeg { path: temporary.to_path_buf(), detail: tail(&text, 4) });
    }
    Ok(())
}

/// Replaces the bad pixels of `frame` from its neighbours.
fn fill(frame: &mut ByteFrame, previous: Option<&ByteFrame>, next: Option<&ByteFrame>, how: Fill) {
    for p in 0..frame.bad.len() {
        if !frame.bad[p] {
            continue;
        }
        for ch in 0..3 {
            let i = p * 3 + ch;
            frame.rgb[i] = match (how, previous, next) {
                (Fill::Zero, _, _) => 0,
                (Fill::Hold, Some(prev), _) | (Fill::Interpolate, Some(prev), None) => prev.rgb[i],
                (Fill::Hold, None, Some(next)) | (Fill::Interpolate, None, Some(next)) => next.rgb[i],
                (Fill::Interpolate, Some(prev), Some(next)) => {
                    let t = (frame.index - prev.index) as f32 / (next.index - prev.index).max(1) as f32;
                    (prev.rgb[i] as f32 + (next.rgb[i] as f32 - prev.rgb[i] as f32) * t).round() as u8
                }
                (_, None, None) => 0,
            };
        }
    }
}

/// V130 for one maximal run of frames `a..=b` holding NaN/Inf, and what
/// became of those pixels (`how`).
fn nonfinite_run(
    label: &str,
    tensor: &str,
    run: &[TensorFrameRecord],
    (a, b): (usize, usize),
    fill: Option<Fill>,
    how: &str,
) -> Finding {
    let sum = |get: fn(&TensorFrameRecord) -> u64| run.iter().map(get).sum::<u64>();
    let pixels_per_frame = run.iter().map(|r| r.nonfinite()).max().unwrap_or(0);
    let mut subject = Subject::tensor(label, tensor);
    if a == b {
        subject.frame = Some(a as u64);
    } else {
        subject.frames = Some([a as u64, b as u64]);
    }
    let place = if a == b { format!("frame {a}") } else { format!("frames {a}-{b}") };
    Finding::new(
        &rules::ENCODE_NONFINITE,
        format!(
            "{place}: {} NaN, {} +Inf, {} -Inf values (up to {pixels_per_frame} per frame), {how}",
            sum(|r| r.nan),
            sum(|r| r.pos_inf),
            sum(|r| r.neg_inf)
        ),
    )
    .with_subject(subject)
    .with_evidence("nan", sum(|r| r.nan))
    .with_evidence("pos_inf", sum(|r| r.pos_inf))
    .with_evidence("neg_inf", sum(|r| r.neg_inf))
    .with_evidence("fill", serde_json::to_value(fill).unwrap_or_default())
}

fn tensor_findings(
    label: &str,
    tensor: &str,
    records: &[TensorFrameRecord],
    fill: Option<Fill>,
    range: ValueRange,
    low: f32,
    high: f32,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (a, b) in runs(records.len(), |i| records[i].nonfinite() > 0) {
        // Runs are maximal: the frames just outside them are clean.
        let before = a.checked_sub(1);
        let after = (b + 1 < records.len()).then_some(b + 1);
        let Some(fill) = fill else {
            findings.push(nonfinite_run(
                label,
                tensor,
                &records[a..=b],
                (a, b),
                None,
                "an 8-bit cast writes them black",
            ));
            continue;
        };
        let how = match (fill, before, after) {
            (Fill::Zero, _, _) => "filled with black (--fill zero)".to_string(),
            (_, None, None) => "no frame of the tensor is free of NaN/Inf, so no good frame existed to fill from: \
                                those pixels were written black"
                .to_string(),
            (Fill::Interpolate, Some(p), Some(n)) => {
                format!("filled by interpolating between the clean frames {p} and {n}")
            }
            (_, Some(p), None) => {
                format!("filled by holding the pixels of frame {p}, the last clean one (none follows)")
            }
            (_, Some(p), Some(_)) => format!("filled by holding the pixels of the clean frame {p}"),
            (_, None, Some(n)) => format!("filled from frame {n}, the first clean one (none precedes)"),
        };
        findings.push(nonfinite_run(label, tensor, &records[a..=b], (a, b), Some(fill), &how));
    }
    let clamped: u64 = records.iter().map(|r| r.clamped).sum();
    if clamped > 0 {
        let frames: Vec<u64> = records.iter().filter(|r| r.clamped > 0).map(|r| r.index).collect();
        let mut subject = Subject::tensor(label, tensor);
        subject.frames = Some([frames[0], frames[frames.len() - 1]]);
        findings.push(
            Finding::new(
                &rules::ENCODE_OUT_OF_RANGE,
                format!(
                    "{clamped} finite values outside {} in {} frames were clamped to [{}, {}]",
                    range.name(),
                    frames.len(),
                    fmt_num(low as f64),
                    fmt_num(high as f64)
                ),
            )
            .with_subject(subject)
            .with_evidence("clamped", clamped),
        );
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_rounds_and_clamps() {
        let mut clamped = 0;
        let frame = to_bytes(&[0.5, 1.2, -0.1, f32::NAN, 0.0, 1.0], ValueRange::Unit, 0, &mut clamped);
        assert_eq!(&frame.rgb[..3], &[128, 255, 0]);
        assert_eq!(frame.bad, vec![false, true]);
        assert_eq!(clamped, 2);
        let frame = to_bytes(&[0.0, -1.0, 1.0], ValueRange::Signed, 0, &mut clamped);
        assert_eq!(frame.rgb, vec![128, 0, 255]);
    }

    #[test]
    fn interpolation_uses_time_distance() {
        let prev = ByteFrame { index: 0, rgb: vec![0, 0, 0], bad: vec![false] };
        let next = ByteFrame { index: 4, rgb: vec![200, 100, 40], bad: vec![false] };
        let mut frame = ByteFrame { index: 1, rgb: vec![0, 0, 0], bad: vec![true] };
        fill(&mut frame, Some(&prev), Some(&next), Fill::Interpolate);
        assert_eq!(frame.rgb, vec![50, 25, 10]);
        let mut frame = ByteFrame { index: 1, rgb: vec![0, 0, 0], bad: vec![true] };
        fill(&mut frame, None, Some(&next), Fill::Hold);
        assert_eq!(frame.rgb, vec![200, 100, 40]);
    }

    #[test]
    fn ranges_are_inferred_from_finite_values() {
        assert_eq!(ValueRange::infer(-0.9, 0.8), ValueRange::Signed);
        assert_eq!(ValueRange::infer(0.0, 1.0), ValueRange::Unit);
        assert_eq!(ValueRange::infer(0.0, 255.0), ValueRange::Byte);
    }
}
