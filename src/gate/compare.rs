//! `video compare`: a render compared frame by frame with its golden render.
//!
//! Both videos are decoded by ffmpeg on threads of their own (see `frames`)
//! while this thread scores each pair of frames (see `metrics`), so decoding
//! and scoring overlap and only a few frames of each video are ever held.
//! Frames are paired by presentation time (see `pairing`): each candidate
//! frame with the golden frame nearest in time; frames of either video with
//! no partner within half a frame period are counted as missing or extra. Besides the per-frame PSNR and SSIM, each side
//! gets its frame count, duration and luma statistics, which the gate compares
//! with tolerances.

use std::path::Path;

use serde::{Serialize, Serializer};

use super::frames::{DecodeEnd, FrameStream, decode_format};
use super::metrics::{FrameLayout, FrameScores, plane_moments, psnr, score_frame};
use super::pairing::{self, Side, Timed, Visit};
use crate::report::{Finding, Report, Section, SectionTable, Subject, fmt_num};
use crate::rules::gate as rules;
use crate::video::probe::{Probe, probe};
use crate::video::tools::{ToolError, Tools};

/// Relative frame-rate difference tolerated before G103.
const RATE_TOLERANCE: f64 = 0.005;
/// Runs of low frames reported one by one, per threshold.
const MAX_RUNS: usize = 20;
/// Times of missing or extra frames listed in the comparison and the findings.
const LISTED_TIMES: usize = 10;

/// What to compare and what to report.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CompareOptions {
    /// Frames whose PSNR (dB) is below this make G104.
    pub min_psnr: Option<f64>,
    /// Frames whose SSIM is below this make G105.
    pub min_ssim: Option<f64>,
    /// Decoder threads per video (ffmpeg's choice when `None`).
    pub threads: Option<usize>,
    /// Keep the pixels of the worst frame pair (for `plot`).
    pub keep_worst: bool,
    /// How many of the worst frames the comparison names.
    pub worst_frames: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions { min_psnr: None, min_ssim: None, threads: None, keep_worst: false, worst_frames: 5 }
    }
}

impl CompareOptions {
    pub fn with_thresholds(min_psnr: Option<f64>, min_ssim: Option<f64>) -> Self {
        CompareOptions { min_psnr, min_ssim, ..CompareOptions::default() }
    }
}

/// A value in dB that may be infinite (identical frames): JSON carries `"inf"`
/// where ffmpeg prints `inf`, numbers otherwise (rounded to 1e-4 dB).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Decibels(pub f64);

impl Serialize for Decibels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_infinite() && self.0 > 0.0 {
            serializer.serialize_str("inf")
        } else {
            serializer.serialize_f64(round(self.0, 1e4))
        }
    }
}

impl std::fmt::Display for Decibels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_infinite() { f.write_str("inf") } else { write!(f, "{:.2}", self.0) }
    }
}

fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

fn serialize_ssim<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serializer.serialize_f64(round(*v, 1e6)),
        None => serializer.serialize_none(),
    }
}

/// Luma (Y plane, code values 0-255 as stored) statistics of one video.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LumaSummary {
    /// Mean of the frames' mean luma.
    pub mean: f64,
    /// Lowest and highest frame mean.
    pub min_frame_mean: f64,
    pub max_frame_mean: f64,
    /// Mean of the frames' spatial standard deviation.
    pub mean_std: f64,
}

/// One side of the comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VideoSide {
    pub file: String,
    /// Frames decoded.
    pub frames: u64,
    pub width: Option<u64>,
    pub height: Option<u64>,
    /// The pixel format as stored.
    pub pix_fmt: Option<String>,
    pub fps: Option<f64>,
    /// Seconds, as ffprobe reports them.
    pub duration: Option<f64>,
    pub luma: Option<LumaSummary>,
}

/// One plane's scores in a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaneValues {
    pub psnr: Decibels,
    #[serde(serialize_with = "serialize_ssim")]
    pub ssim: Option<f64>,
}

/// One compared frame pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameComparison {
    /// 0-based index of the candidate frame.
    pub frame: u64,
    /// 0-based index of the golden frame it was paired with (nearest in time).
    pub golden_frame: u64,
    /// Presentation times (seconds from each video's start) of the two frames.
    pub time: f64,
    pub golden_time: f64,
    /// All planes, weighted by pixel count (ffmpeg's `psnr_avg`).
    pub psnr: Decibels,
    /// All planes, weighted by pixel count (ffmpeg's `All`); null for frames under 8x8.
    #[serde(serialize_with = "serialize_ssim")]
    pub ssim: Option<f64>,
    /// Per plane, keyed `y`, `u`, `v`.
    pub planes: serde_json::Map<String, serde_json::Value>,
}

/// A frame named among the worst.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorstFrame {
    pub frame: u64,
    pub psnr: Decibels,
    #[serde(serialize_with = "serialize_ssim")]
    pub ssim: Option<f64>,
}

/// The comparison's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub compared_frames: u64,
    /// The PSNR of the mean squared error over all frames (ffmpeg's `average`); `inf` when identical.
    pub psnr_mean: Decibels,
    pub psnr_min: Decibels,
    pub psnr_min_frame: u64,
    /// Mean of the frames' SSIM (ffmpeg's `All` average).
    #[serde(serialize_with = "serialize_ssim")]
    pub ssim_mean: Option<f64>,
    #[serde(serialize_with = "serialize_ssim")]
    pub ssim_min: Option<f64>,
    pub ssim_min_frame: Option<u64>,
    /// Lowest SSIM first (lowest PSNR where SSIM is undefined).
    pub worst_frames: Vec<WorstFrame>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_psnr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ssim: Option<f64>,
    /// `timestamps` (presentation times) or `index` (neither video has a frame rate).
    pub pairing: &'static str,
    /// Golden frames with no candidate frame within half a candidate frame period (dropped frames).
    pub missing_frames: Unmatched,
    /// Candidate frames with no golden frame within half a golden frame period.
    pub extra_frames: Unmatched,
}

/// Frames of one video without a partner in the other.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Unmatched {
    pub count: u64,
    /// The first few: their 0-based indices and presentation times (seconds).
    pub frames: Vec<u64>,
    pub times: Vec<f64>,
}

impl Unmatched {
    fn add(&mut self, index: u64, time: f64) {
        self.count += 1;
        if self.frames.len() < LISTED_TIMES {
            self.frames.push(index);
            self.times.push(round(time, 1e6));
        }
    }
}

/// The worst frame pair's pixels, kept for the side-by-side plot.
#[derive(Debug, Clone)]
pub struct WorstPair {
    pub frame: u64,
    pub layout: FrameLayout,
    pub candidate: Vec<u8>,
    pub golden: Vec<u8>,
}

/// Everything `compare` found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VideoComparison {
    pub candidate: VideoSide,
    pub golden: VideoSide,
    pub frames: Vec<FrameComparison>,
    /// `None` when no frame pair was compared.
    pub comparison: Option<Comparison>,
    pub findings: Vec<Finding>,
    pub worst: Option<WorstPair>,
}

/// Running luma sums of one video.
#[derive(Default)]
struct LumaAccumulator {
    frames: u64,
    sum_mean: f64,
    sum_std: f64,
    min_mean: f64,
    max_mean: f64,
}

impl LumaAccumulator {
    fn add(&mut self, luma: &[u8]) {
        if luma.is_empty() {
            return;
        }
        let (sum, squares) = plane_moments(luma);
        let n = luma.len() as f64;
        let mean = sum as f64 / n;
        let std = (squares as f64 / n - mean * mean).max(0.0).sqrt();
        if self.frames == 0 {
            (self.min_mean, self.max_mean) = (mean, mean);
        }
        self.frames += 1;
        self.sum_mean += mean;
        self.sum_std += std;
        self.min_mean = self.min_mean.min(mean);
        self.max_mean = self.max_mean.max(mean);
    }

    fn summary(&self) -> Option<LumaSummary> {
        (self.frames > 0).then(|| {
            let n = self.frames as f64;
            LumaSummary {
                mean: round(self.sum_mean / n, 1e4),
                min_frame_mean: round(self.min_mean, 1e4),
                max_frame_mean: round(self.max_mean, 1e4),
                mean_std: round(self.sum_std / n, 1e4),
            }
        })
    }
}

/// Compares `candidate` with `golden` frame by frame. Unreadable videos and
/// mismatches are findings; only failing to run ffmpeg/ffprobe is an error.
pub fn compare(
    tools: &Tools,
    candidate: &Path,
    golden: &Path,
    options: &CompareOptions,
) -> Result<VideoComparison, ToolError> {
    let (probe_c, probe_g) = std::thread::scope(|scope| {
        let golden_probe = scope.spawn(|| probe(tools, golden));
        let candidate_probe = probe(tools, candidate);
        (candidate_probe, golden_probe.join().unwrap_or_else(|_| Ok(Probe::default())))
    });
    let (probe_c, probe_g) = (probe_c?, probe_g?);
    let mut result = VideoComparison {
        candidate: side(candidate, &probe_c),
        golden: side(golden, &probe_g),
        frames: Vec::new(),
        comparison: None,
        findings: Vec::new(),
        worst: None,
    };
    let unreadable: Vec<(&Path, String)> = [(candidate, &probe_c), (golden, &probe_g)]
        .into_iter()
        .filter_map(|(path, p)| match p.video() {
            Some(_) => None,
            None if p.success => Some((path, "no video stream".to_string())),
            None => Some((path, p.error_text())),
        })
        .collect();
    if !unreadable.is_empty() {
        for (path, why) in unreadable {
            result.findings.push(unreadable_finding(path, &why));
        }
        return Ok(result);
    }
    let format = decode_format(probe_c.video().and_then(|v| v.pix_fmt.as_deref()));
    let mut stream_c = FrameStream::start(tools, candidate, format, options.threads)?;
    let mut stream_g = FrameStream::start(tools, golden, format, options.threads)?;
    let (layout_c, layout_g) = (stream_c.layout(), stream_g.layout());
    let comparable = layout_c.is_some() && layout_c == layout_g;
    if let (Some(c), Some(g)) = (layout_c, layout_g)
        && (c.width, c.height) != (g.width, g.height)
    {
        result.findings.push(size_finding(candidate, &c, &g));
    }
    let mut run = Run::new(options);
    let (mut luma_c, mut luma_g) = (LumaAccumulator::default(), LumaAccumulator::default());
    let (luma_len_c, luma_len_g) = (luma_len(layout_c), luma_len(layout_g));
    // Pair by presentation time at the videos' frame periods; without any frame rate, by index.
    let period = |fps: Option<f64>| fps.filter(|f| f.is_finite() && *f > 0.0).map(|f| 1.0 / f);
    let (period_c, period_g, by_time) = match (period(result.candidate.fps), period(result.golden.fps)) {
        (Some(c), Some(g)) => (c, g, true),
        (Some(p), None) | (None, Some(p)) => (p, p, true),
        (None, None) => (1.0, 1.0, false),
    };
    let (recycle_c, recycle_g) = (stream_c.recycler(), stream_g.recycler());
    let timed =
        |stream: &mut FrameStream, layout: Option<FrameLayout>, index: &mut u64, last: &mut f64, period: f64| {
            layout?;
            let frame = stream.next_frame()?;
            let time = stream.next_time().filter(|_| by_time).unwrap_or(*index as f64 * period);
            // Presentation order is increasing; a frame stamped earlier than the one before is taken as at it.
            let time = if *index == 0 { time } else { time.max(*last) };
            let at = Timed { index: *index, time, frame };
            (*index, *last) = (*index + 1, time);
            Some(at)
        };
    let (mut index_c, mut last_c, mut index_g, mut last_g) = (0u64, 0.0, 0u64, 0.0);
    let (mut missing, mut extra) = (Unmatched::default(), Unmatched::default());
    let mut candidate_luma_done = false;
    pairing::pair(
        || timed(&mut stream_c, layout_c, &mut index_c, &mut last_c, period_c),
        || timed(&mut stream_g, layout_g, &mut index_g, &mut last_g, period_g),
        period_c,
        period_g,
        |visit| match visit {
            Visit::Pair(c, g) => {
                if let (true, Some(layout)) = (comparable, layout_c) {
                    let ((), scores) =
                        rayon::join(|| luma_c.add(&c.frame[..luma_len_c]), || score_frame(&layout, &c.frame, &g.frame));
                    candidate_luma_done = true;
                    run.add(c, g, &layout, scores, &mut result);
                }
            }
            Visit::Unpaired(Side::Candidate, c) => extra.add(c.index, c.time),
            Visit::Unpaired(Side::Golden, g) => missing.add(g.index, g.time),
            Visit::Release(Side::Candidate, c) => {
                if !std::mem::take(&mut candidate_luma_done) {
                    luma_c.add(&c.frame[..luma_len_c]);
                }
                let _ = recycle_c.send(c.frame);
            }
            Visit::Release(Side::Golden, g) => {
                luma_g.add(&g.frame[..luma_len_g]);
                let _ = recycle_g.send(g.frame);
            }
        },
    );
    let (end_c, end_g) = (stream_c.finish(), stream_g.finish());
    result.candidate.frames = end_c.frames;
    result.golden.frames = end_g.frames;
    result.candidate.luma = luma_c.summary();
    result.golden.luma = luma_g.summary();
    for (path, end) in [(candidate, &end_c), (golden, &end_g)] {
        if let Some(why) = decode_problem(end) {
            result.findings.push(unreadable_finding(path, &why));
        }
    }
    if comparable && by_time {
        if missing.count > 0 {
            result.findings.push(missing_finding(candidate, &missing, end_g.frames));
        }
        if extra.count > 0 {
            result.findings.push(extra_finding(candidate, &extra, end_c.frames));
        }
    } else if end_c.frames != end_g.frames && end_c.frames > 0 && end_g.frames > 0 {
        result.findings.push(count_finding(candidate, end_c.frames, end_g.frames));
    }
    if let (Some(fc), Some(fg)) = (nominal_fps(&probe_c), nominal_fps(&probe_g))
        && (fc - fg).abs() > RATE_TOLERANCE * fg
    {
        result.findings.push(rate_finding(candidate, fc, fg));
    }
    let pairing = if by_time { "timestamps" } else { "index" };
    run.finish(options, candidate, Pairing { pairing, missing, extra }, &mut result);
    Ok(result)
}

/// The rate a video was made at: ffprobe's base rate (`r_frame_rate`), which a
/// dropped frame does not lower as it lowers the average; the average when the
/// base rate is missing or far from it (some containers give their time base).
fn nominal_fps(probe: &Probe) -> Option<f64> {
    let video = probe.video()?;
    let average = video.fps();
    let base = video.r_frame_rate.as_deref().and_then(crate::video::probe::parse_rate);
    match (base, average) {
        (Some(base), Some(average)) if base > 0.0 && (base / average - 1.0).abs() <= 0.25 => Some(base),
        (base, average) => average.or(base),
    }
}

fn luma_len(layout: Option<FrameLayout>) -> usize {
    layout.map_or(0, |l| l.width * l.height)
}

fn decode_problem(end: &DecodeEnd) -> Option<String> {
    match (&end.problem, end.frames) {
        (Some(problem), _) => Some(problem.clone()),
        (None, 0) => Some("ffmpeg decoded no frame".into()),
        _ => None,
    }
}

fn side(path: &Path, probe: &Probe) -> VideoSide {
    let video = probe.video();
    let duration = video
        .and_then(|v| v.duration_seconds())
        .or_else(|| probe.output.format.as_ref().and_then(|f| f.duration.as_deref()).and_then(|d| d.parse().ok()));
    VideoSide {
        file: path.display().to_string(),
        frames: 0,
        width: video.and_then(|v| v.width),
        height: video.and_then(|v| v.height),
        pix_fmt: video.and_then(|v| v.pix_fmt.clone()),
        fps: video.and_then(|v| v.fps()).map(|f| round(f, 1e6)),
        duration: duration.filter(|d: &f64| d.is_finite()).map(|d| round(d, 1e6)),
        luma: None,
    }
}

/// How frames were paired, and those left without a partner.
struct Pairing {
    pairing: &'static str,
    missing: Unmatched,
    extra: Unmatched,
}

/// Scores gathered frame by frame.
struct Run {
    sum_mse: f64,
    sum_ssim: f64,
    ssim_frames: u64,
    compared: u64,
    keep_worst: bool,
    /// (ssim, psnr) of the worst pair kept so far.
    worst_key: Option<(f64, f64)>,
}

impl Run {
    fn new(options: &CompareOptions) -> Self {
        Run {
            sum_mse: 0.0,
            sum_ssim: 0.0,
            ssim_frames: 0,
            compared: 0,
            keep_worst: options.keep_worst,
            worst_key: None,
        }
    }

    fn add(
        &mut self,
        candidate: &Timed<Vec<u8>>,
        golden: &Timed<Vec<u8>>,
        layout: &FrameLayout,
        scores: FrameScores,
        result: &mut VideoComparison,
    ) {
        let (index, golden_index) = (candidate.index, golden.index);
        let (time, golden_time) = (round(candidate.time, 1e6), round(golden.time, 1e6));
        let (candidate, golden) = (&candidate.frame, &golden.frame);
        self.compared += 1;
        self.sum_mse += scores.mse;
        if let Some(ssim) = scores.ssim {
            self.sum_ssim += ssim;
            self.ssim_frames += 1;
        }
        let key = (scores.ssim.unwrap_or(1.0), scores.psnr());
        if self.keep_worst && self.worst_key.is_none_or(|worst| key < worst) {
            self.worst_key = Some(key);
            let pair = result.worst.get_or_insert_with(|| WorstPair {
                frame: index,
                layout: *layout,
                candidate: Vec::new(),
                golden: Vec::new(),
            });
            pair.frame = index;
            pair.candidate.clear();
            pair.candidate.extend_from_slice(candidate);
            pair.golden.clear();
            pair.golden.extend_from_slice(golden);
        }
        let planes = layout
            .plane_names()
            .iter()
            .zip(&scores.planes)
            .map(|(name, plane)| {
                let values = PlaneValues { psnr: Decibels(psnr(plane.mse)), ssim: plane.ssim };
                (name.to_string(), serde_json::to_value(values).unwrap_or_default())
            })
            .collect();
        result.frames.push(FrameComparison {
            frame: index,
            golden_frame: golden_index,
            time,
            golden_time,
            psnr: Decibels(scores.psnr()),
            ssim: scores.ssim,
            planes,
        });
    }

    fn finish(self, options: &CompareOptions, candidate: &Path, pairing: Pairing, result: &mut VideoComparison) {
        let frames = &result.frames;
        let Some(psnr_min) = frames.iter().min_by(|a, b| a.psnr.0.total_cmp(&b.psnr.0)) else { return };
        let ssim_min = frames.iter().filter(|f| f.ssim.is_some()).min_by(|a, b| a.ssim.total_cmp_opt(&b.ssim));
        let mut worst: Vec<&FrameComparison> = frames.iter().collect();
        worst.sort_by(|a, b| {
            a.ssim.unwrap_or(1.0).total_cmp(&b.ssim.unwrap_or(1.0)).then(a.psnr.0.total_cmp(&b.psnr.0))
        });
        let worst_frames = worst
            .iter()
            .take(options.worst_frames)
            .map(|f| WorstFrame { frame: f.frame, psnr: f.psnr, ssim: f.ssim })
            .collect();
        let n = self.compared as f64;
        result.comparison = Some(Comparison {
            compared_frames: self.compared,
            psnr_mean: Decibels(psnr(self.sum_mse / n)),
            psnr_min: psnr_min.psnr,
            psnr_min_frame: psnr_min.frame,
            ssim_mean: (self.ssim_frames > 0).then(|| self.sum_ssim / self.ssim_frames as f64),
            ssim_min: ssim_min.and_then(|f| f.ssim),
            ssim_min_frame: ssim_min.map(|f| f.frame),
            worst_frames,
            min_psnr: options.min_psnr,
            min_ssim: options.min_ssim,
            pairing: pairing.pairing,
            missing_frames: pairing.missing,
            extra_frames: pairing.extra,
        });
        if let Some(threshold) = options.min_psnr {
            let runs = low_runs(frames, |f| f.psnr.0 < threshold, |f| f.psnr.0);
            result.findings.extend(runs.iter().take(MAX_RUNS).map(|r| psnr_finding(candidate, r, threshold)));
        }
        if let Some(threshold) = options.min_ssim {
            let runs = low_runs(frames, |f| f.ssim.is_some_and(|s| s < threshold), |f| f.ssim.unwrap_or(1.0));
            result.findings.extend(runs.iter().take(MAX_RUNS).map(|r| ssim_finding(candidate, r, threshold)));
        }
    }
}

trait OptionCmp {
    fn total_cmp_opt(&self, other: &Self) -> std::cmp::Ordering;
}

impl OptionCmp for Option<f64> {
    fn total_cmp_opt(&self, other: &Self) -> std::cmp::Ordering {
        self.unwrap_or(f64::INFINITY).total_cmp(&other.unwrap_or(f64::INFINITY))
    }
}

/// Consecutive frames below a threshold.
#[derive(Debug, Clone, PartialEq)]
struct LowRun {
    first: u64,
    last: u64,
    lowest: f64,
    lowest_frame: u64,
}

fn low_runs(
    frames: &[FrameComparison],
    low: impl Fn(&FrameComparison) -> bool,
    value: impl Fn(&FrameComparison) -> f64,
) -> Vec<LowRun> {
    let mut runs: Vec<LowRun> = Vec::new();
    for frame in frames.iter().filter(|f| low(f)) {
        let v = value(frame);
        match runs.last_mut() {
            Some(run) if run.last + 1 == frame.frame => {
                run.last = frame.frame;
                if v < run.lowest {
                    (run.lowest, run.lowest_frame) = (v, frame.frame);
                }
            }
            _ => runs.push(LowRun { first: frame.frame, last: frame.frame, lowest: v, lowest_frame: frame.frame }),
        }
    }
    runs
}

fn on_file(path: &Path) -> Subject {
    Subject::file(path.display().to_string())
}

fn on_frames(path: &Path, run: &LowRun) -> Subject {
    Subject { frames: Some([run.first, run.last]), ..on_file(path) }
}

fn unreadable_finding(path: &Path, why: &str) -> Finding {
    Finding::new(&rules::UNREADABLE_VIDEO, format!("{} cannot be compared: {why}", path.display()))
        .with_subject(on_file(path))
        .with_evidence("reason", why)
}

fn size_finding(candidate: &Path, c: &FrameLayout, g: &FrameLayout) -> Finding {
    Finding::new(
        &rules::FRAME_SIZE_MISMATCH,
        format!("frames are {}x{}, the golden render's {}x{}: no frame compared", c.width, c.height, g.width, g.height),
    )
    .with_subject(on_file(candidate))
    .with_evidence("candidate", format!("{}x{}", c.width, c.height))
    .with_evidence("golden", format!("{}x{}", g.width, g.height))
}

fn count_finding(candidate: &Path, frames: u64, golden: u64) -> Finding {
    let compared = frames.min(golden);
    Finding::new(
        &rules::FRAME_COUNT_MISMATCH,
        format!("{frames} frames, the golden render has {golden}: frames past {compared} are not compared"),
    )
    .with_subject(on_file(candidate))
    .with_evidence("candidate_frames", frames)
    .with_evidence("golden_frames", golden)
}

fn seconds(unmatched: &Unmatched) -> String {
    let times: Vec<String> = unmatched.times.iter().map(|t| format!("{} s", fmt_num(*t))).collect();
    let more = if unmatched.count > unmatched.times.len() as u64 { ", …" } else { "" };
    format!("{}{more}", times.join(", "))
}

fn missing_finding(candidate: &Path, missing: &Unmatched, golden_frames: u64) -> Finding {
    Finding::new(
        &rules::GOLDEN_FRAMES_MISSING,
        format!(
            "{} of the golden render's {golden_frames} frames have no frame of the render within half a frame \
             period: at {}",
            missing.count,
            seconds(missing)
        ),
    )
    .with_subject(on_file(candidate))
    .with_evidence("missing_frames", missing.count)
    .with_evidence("golden_frames", missing.frames.clone())
    .with_evidence("times", missing.times.clone())
}

fn extra_finding(candidate: &Path, extra: &Unmatched, frames: u64) -> Finding {
    Finding::new(
        &rules::EXTRA_FRAMES,
        format!(
            "{} of the render's {frames} frames have no golden frame within half a frame period: at {}",
            extra.count,
            seconds(extra)
        ),
    )
    .with_subject(on_file(candidate))
    .with_evidence("extra_frames", extra.count)
    .with_evidence("frames", extra.frames.clone())
    .with_evidence("times", extra.times.clone())
}

fn rate_finding(candidate: &Path, fps: f64, golden: f64) -> Finding {
    Finding::new(
        &rules::FRAME_RATE_MISMATCH,
        format!("{} fps, the golden render plays at {} fps", fmt_num(fps), fmt_num(golden)),
    )
    .with_subject(on_file(candidate))
    .with_evidence("candidate_fps", fps)
    .with_evidence("golden_fps", golden)
}

fn psnr_finding(candidate: &Path, run: &LowRun, threshold: f64) -> Finding {
    Finding::new(
        &rules::PSNR_BELOW_THRESHOLD,
        format!(
            "frames {}-{} have a PSNR below {} dB (lowest {} dB at frame {})",
            run.first,
            run.last,
            fmt_num(threshold),
            Decibels(run.lowest),
            run.lowest_frame
        ),
    )
    .with_subject(on_frames(candidate, run))
    .with_evidence("lowest_psnr", round(run.lowest, 1e4))
    .with_evidence("lowest_frame", run.lowest_frame)
    .with_evidence("min_psnr", threshold)
}

fn ssim_finding(candidate: &Path, run: &LowRun, threshold: f64) -> Finding {
    Finding::new(
        &rules::SSIM_BELOW_THRESHOLD,
        format!(
            "frames {}-{} have an SSIM below {} (lowest {:.4} at frame {})",
            run.first,
            run.last,
            fmt_num(threshold),
            run.lowest,
            run.lowest_frame
        ),
    )
    .with_subject(on_frames(candidate, run))
    .with_evidence("lowest_ssim", round(run.lowest, 1e6))
    .with_evidence("lowest_frame", run.lowest_frame)
    .with_evidence("min_ssim", threshold)
}

/// The `video compare` report: findings, then `videos`, `comparison` and `frames` sections.
pub fn report(result: &VideoComparison, inputs: Vec<String>) -> Report {
    let mut report = Report::new("video compare", inputs);
    report.set_counter("frames", result.comparison.as_ref().map_or(0, |c| c.compared_frames));
    report.findings.extend(result.findings.iter().cloned());
    report.sort_findings();
    report.sections.push(videos_section(result));
    if let Some(comparison) = &result.comparison {
        report.sections.push(comparison_section(comparison));
    }
    report.sections.push(frames_section(result));
    report
}

#[derive(Serialize)]
struct Videos<'a> {
    candidate: &'a VideoSide,
    golden: &'a VideoSide,
}

fn videos_section(result: &VideoComparison) -> Section {
    let opt = |x: Option<f64>| x.map(fmt_num).unwrap_or_else(|| "-".into());
    let row = |role: &str, s: &VideoSide| {
        let size = match (s.width, s.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => "-".into(),
        };
        vec![
            role.to_string(),
            s.file.clone(),
            s.frames.to_string(),
            size,
            opt(s.fps),
            opt(s.duration),
            opt(s.luma.as_ref().map(|l| l.mean)),
        ]
    };
    Section::typed("videos", &Videos { candidate: &result.candidate, golden: &result.golden }).with_table(
        SectionTable {
            title: "Videos".into(),
            header: ["", "file", "frames", "size", "fps", "seconds", "luma mean"].map(String::from).to_vec(),
            rows: vec![row("candidate", &result.candidate), row("golden", &result.golden)],
            note: None,
        },
    )
}

fn comparison_section(c: &Comparison) -> Section {
    let ssim = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    let rows = c.worst_frames.iter().map(|w| vec![w.frame.to_string(), w.psnr.to_string(), ssim(w.ssim)]).collect();
    let note = format!(
        "{} frames compared: PSNR mean {} dB, min {} dB (frame {}); SSIM mean {}, min {}{}",
        c.compared_frames,
        c.psnr_mean,
        c.psnr_min,
        c.psnr_min_frame,
        ssim(c.ssim_mean),
        ssim(c.ssim_min),
        c.ssim_min_frame.map(|f| format!(" (frame {f})")).unwrap_or_default()
    );
    Section::typed("comparison", c).with_table(SectionTable {
        title: "Worst frames".into(),
        header: ["frame", "PSNR dB", "SSIM"].map(String::from).to_vec(),
        rows,
        note: Some(note),
    })
}

fn frames_section(result: &VideoComparison) -> Section {
    Section::typed("frames", &result.frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: u64, psnr: f64, ssim: f64) -> FrameComparison {
        FrameComparison {
            frame: index,
            golden_frame: index,
            time: index as f64 / 25.0,
            golden_time: index as f64 / 25.0,
            psnr: Decibels(psnr),
            ssim: Some(ssim),
            planes: serde_json::Map::new(),
        }
    }

    #[test]
    fn low_frames_group_into_runs() {
        let frames: Vec<_> =
            [0.99, 0.5, 0.4, 0.99, 0.3].iter().enumerate().map(|(i, &s)| frame(i as u64, 40.0, s)).collect();
        let runs = low_runs(&frames, |f| f.ssim.unwrap() < 0.9, |f| f.ssim.unwrap());
        assert_eq!(
            runs,
            vec![
                LowRun { first: 1, last: 2, lowest: 0.4, lowest_frame: 2 },
                LowRun { first: 4, last: 4, lowest: 0.3, lowest_frame: 4 }
            ]
        );
    }

    #[test]
    fn infinite_psnr_is_written_as_inf() {
        assert_eq!(serde_json::to_string(&Decibels(f64::INFINITY)).unwrap(), "\"inf\"");
        assert_eq!(serde_json::to_string(&Decibels(31.234_567_8)).unwrap(), "31.2346");
        assert_eq!(Decibels(f64::INFINITY).to_string(), "inf");
    }

    #[test]
    fn luma_summary_averages_frames() {
        let mut acc = LumaAccumulator::default();
        acc.add(&[10, 10, 10, 10]);
        acc.add(&[0, 0, 20, 20]);
        let s = acc.summary().unwrap();
        assert_eq!((s.mean, s.min_frame_mean, s.max_frame_mean, s.mean_std), (10.0, 10.0, 10.0, 5.0));
    }
}
