//! Running every check that applies to the artifacts, in parallel.
//!
//! Each job calls the library function of an existing command (the weights
//! scan, `--simulate`, `video check`, the tensor survey of `video encode`,
//! `pose check`, `trace`) and returns its findings, a one-line summary, the
//! facts the verdict reads, and its plots when asked for.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use super::discover::{Artifact, ArtifactKind, Component};
use crate::numerics::QuantScheme;
use crate::report::{Attachment, Finding, fmt_num};
use crate::video::{CheckOptions as VideoOptions, Expectations, Tools};

/// How far the checks have come, for one progress display.
pub trait Progress: Sync {
    /// `total` checks will run.
    fn start(&self, _total: usize) {}
    /// One check finished; `what` names it.
    fn done(&self, _what: &str) {}
}

/// No progress display.
pub struct Silent;
impl Progress for Silent {}

/// One kind of check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    Weights,
    Simulate,
    Video,
    Tensor,
    Poses,
    Trace,
    Audio,
    Image,
}

impl CheckKind {
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Weights => "weights",
            CheckKind::Simulate => "weights --simulate",
            CheckKind::Video => "video check",
            CheckKind::Tensor => "tensor survey",
            CheckKind::Poses => "pose check",
            CheckKind::Trace => "trace",
            CheckKind::Audio => "audio",
            CheckKind::Image => "image check",
        }
    }
}

/// A quantized checkpoint, as the weights scan recognised it.
#[derive(Debug, Clone, Serialize)]
pub struct Quantized {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    pub tensors: u64,
    pub scheme: String,
}

/// What `--simulate` predicted for one checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Simulated {
    pub file: String,
    pub scheme: String,
    /// Modules to keep in higher precision, as the simulation ranks them.
    pub exclude: Vec<String>,
}

/// What one check produced.
#[derive(Debug)]
pub(crate) struct CheckOutput {
    pub artifact: usize,
    pub kind: CheckKind,
    pub findings: Vec<Finding>,
    pub summary: String,
    pub quantized: Option<Quantized>,
    pub simulated: Option<Simulated>,
    pub plots: Vec<Attachment>,
    /// The frames a video check decoded.
    pub frames: Option<u64>,
}

impl CheckOutput {
    fn new(artifact: usize, kind: CheckKind) -> CheckOutput {
        CheckOutput {
            artifact,
            kind,
            findings: Vec::new(),
            summary: String::new(),
            quantized: None,
            simulated: None,
            plots: Vec::new(),
            frames: None,
        }
    }
}

/// Settings every job reads.
pub(crate) struct JobContext<'a> {
    pub tools: Option<&'a Tools>,
    pub tools_error: Option<String>,
    pub plots: bool,
    pub fps: f64,
    /// The run's pipeline repeats the poses to the audio's length.
    pub poses_repeat: bool,
    /// The audio the poses are held against: the run's only audio file.
    pub audio: Option<PathBuf>,
    /// Pose folders the run drove with an audio file of their own (a log
    /// that prints several generations), each with that file.
    pub audio_of: Vec<(PathBuf, PathBuf)>,
    pub expect_audio: bool,
    /// Videos the pipeline writes without audio, each with where the audio
    /// went (the video it muxed the audio into): not expected to carry audio.
    pub silent: Vec<(PathBuf, String)>,
    /// The duration of each audio file poses are held against, read once
    /// (from a WAV header, else by ffprobe) by whichever job needs it
    /// first, inside the jobs rather than before them, so that a probe
    /// overlaps the slow checks.
    pub audio_seconds: Vec<(PathBuf, OnceLock<Result<f64, String>>)>,
    /// The pipeline keeps the reference's aspect (EchoMimicV3): images are
    /// judged against the size it generates at, not a square resize.
    pub keep_aspect: bool,
}

impl JobContext<'_> {
    /// The audio a pose folder is held against: its own generation's, else
    /// the run's.
    fn audio_for(&self, poses: &Path) -> Option<&Path> {
        let own = self.audio_of.iter().find(|(folder, _)| folder == poses).map(|(_, audio)| audio.as_path());
        own.or(self.audio.as_deref())
    }

    /// Seconds of an audio file, probed once when poses are held against it.
    fn seconds(&self, audio: &Path) -> Result<f64, String> {
        let probe = || crate::pose::audio::duration(audio).map_err(|e| e.to_string());
        match self.audio_seconds.iter().find(|(path, _)| path == audio) {
            Some((_, once)) => once.get_or_init(probe).clone(),
            None => probe(),
        }
    }
}

/// The jobs for the artifacts: one per artifact that a check reads, plus a
/// simulation of the named scheme for the denoiser (`denoiser`, the
/// artifact of EchoMimicV3's transformer), else the denoising UNet, else
/// every float checkpoint when no component is known.
pub(crate) fn plan(
    artifacts: &[Artifact],
    scheme: Option<QuantScheme>,
    denoiser: Option<usize>,
) -> Vec<(usize, CheckKind)> {
    let mut jobs = Vec::new();
    let unet_known = artifacts.iter().any(|a| a.component == Some(Component::DenoisingUnet));
    for (i, artifact) in artifacts.iter().enumerate() {
        // What the run did not read is listed, not checked.
        if artifact.unused || artifact.output {
            continue;
        }
        let kind = match artifact.kind {
            ArtifactKind::Weights => CheckKind::Weights,
            ArtifactKind::Video => CheckKind::Video,
            ArtifactKind::VideoTensor => CheckKind::Tensor,
            ArtifactKind::Poses => CheckKind::Poses,
            ArtifactKind::Dump => CheckKind::Trace,
            ArtifactKind::Audio => CheckKind::Audio,
            ArtifactKind::Image => CheckKind::Image,
            _ => continue,
        };
        jobs.push((i, kind));
        let simulate_this = artifact.kind == ArtifactKind::Weights
            && match denoiser {
                Some(denoiser) => i == denoiser,
                None => {
                    artifact.component == Some(Component::DenoisingUnet) || (!unet_known && artifact.component.is_none())
                }
            };
        if scheme.is_some() && simulate_this {
            jobs.push((i, CheckKind::Simulate));
        }
    }
    // The slowest jobs first, so that they overlap the short ones.
    jobs.sort_by_key(|(_, kind)| match kind {
        CheckKind::Weights => 0,
        CheckKind::Simulate => 1,
        CheckKind::Video => 2,
        _ => 3,
    });
    jobs
}

pub(crate) fn run_jobs(
    artifacts: &[Artifact],
    jobs: &[(usize, CheckKind)],
    scheme: Option<QuantScheme>,
    ctx: &JobContext,
    progress: &dyn Progress,
) -> Vec<CheckOutput> {
    progress.start(jobs.len());
    let done = AtomicUsize::new(0);
    let mut outputs: Vec<CheckOutput> = jobs
        .par_iter()
        .with_max_len(1)
        .map(|&(i, kind)| {
            let path = PathBuf::from(&artifacts[i].path);
            let mut out = CheckOutput::new(i, kind);
            match kind {
                CheckKind::Weights => weights(&path, artifacts[i].component, &mut out),
                CheckKind::Simulate => simulate(&path, scheme.unwrap_or(QuantScheme::Int8Channel), &mut out),
                CheckKind::Video => video(&path, ctx, &mut out),
                CheckKind::Tensor => tensor(&path, &mut out),
                CheckKind::Poses => poses(&path, ctx, &mut out),
                CheckKind::Trace => trace(&path, ctx, &mut out),
                CheckKind::Audio => audio(&path, ctx, &mut out),
                CheckKind::Image => image(&path, ctx, &mut out),
            }
            done.fetch_add(1, Ordering::Relaxed);
            progress.done(&format!("{} {}", kind.name(), artifacts[i].path));
            out
        })
        .collect();
    outputs.sort_by_key(|o| o.artifact);
    outputs
}

fn count_errors(findings: &[Finding]) -> String {
    use crate::report::Severity;
    let n = |s| findings.iter().filter(|f| f.severity == s).count();
    match (n(Severity::Error), n(Severity::Warning)) {
        (0, 0) => "clean".to_string(),
        (e, w) => format!("{e} errors, {w} warnings"),
    }
}

fn weights(path: &Path, component: Option<Component>, out: &mut CheckOutput) {
    let result =
        crate::weights::scan(&[path.to_path_buf()], &crate::weights::ScanOptions::default(), &crate::weights::Silent);
    let quantized: Vec<_> =
        result.tensors.iter().filter(|t| t.quant.as_ref().is_some_and(|q| q.of.is_none())).collect();
    if let Some(first) = quantized.first() {
        let scheme = first.quant.as_ref().map(|q| format!("{} {}", q.scheme, q.format)).unwrap_or_default();
        out.quantized =
            Some(Quantized { file: path.display().to_string(), component, tensors: quantized.len() as u64, scheme });
    }
    let bytes: u64 = result.files.iter().map(|f| f.bytes).sum();
    out.summary = format!(
        "{} files, {} tensors, {} MB{}: {}",
        result.files.len(),
        result.tensors.len(),
        fmt_num(bytes as f64 / 1e6),
        out.quantized.as_ref().map_or(String::new(), |q| format!(", {} quantized ({})", q.tensors, q.scheme)),
        count_errors(&result.findings)
    );
    out.findings = result.findings;
}

fn simulate(path: &Path, scheme: QuantScheme, out: &mut CheckOutput) {
    let options = crate::weights::simulate::SimulateOptions::new(scheme);
    let result = crate::weights::simulate::simulate(&[path.to_path_buf()], &options, &crate::weights::Silent);
    out.summary = format!(
        "{} simulated on {} tensors: {} modules to keep in higher precision",
        scheme.name(),
        result.tensors.len(),
        result.exclude.len()
    );
    if !result.tensors.is_empty() {
        // The fix filters `torch.nn.Linear` modules (what `quantize_` converts):
        // only modules with a 2-D weight belong on its exclude list.
        let linear = |m: &String| result.tensors.iter().any(|t| &t.module == m && t.shape.len() == 2);
        let exclude = result.exclude.iter().filter(|m| linear(m)).cloned().collect();
        out.simulated =
            Some(Simulated { file: path.display().to_string(), scheme: scheme.name().to_string(), exclude });
    }
    // Findings about reading the file already come from the weights scan.
    out.findings =
        result.findings.into_iter().filter(|f| crate::rules::simulate::RULES.iter().any(|r| f.is(r))).collect();
}

fn video(path: &Path, ctx: &JobContext, out: &mut CheckOutput) {
    let Some(tools) = ctx.tools else {
        out.summary = format!("not checked: {}", ctx.tools_error.as_deref().unwrap_or("ffmpeg missing"));
        return;
    };
    let silent = ctx.silent.iter().find(|(silent, _)| silent == path).map(|(_, why)| why);
    let options = VideoOptions {
        expect: Expectations { audio: ctx.expect_audio && silent.is_none(), ..Expectations::default() },
        ..VideoOptions::default()
    };
    let check = match crate::video::check_file(tools, path, &options) {
        Ok(check) => check,
        Err(err) => {
            out.summary = format!("not checked: {err}");
            return;
        }
    };
    out.frames = Some(check.frames.len() as u64);
    let black = check.frames_with(&[crate::video::FrameFlag::Black, crate::video::FrameFlag::NanCast]);
    out.summary = format!(
        "{} frames decoded{}, {} streams: {}",
        check.frames.len(),
        if black.is_empty() {
            String::new()
        } else {
            format!(", frames {} black", crate::video::check::list_frames(&black))
        },
        check.streams.len(),
        count_errors(&check.findings)
    );
    if let Some(why) = silent {
        out.summary.push_str(&format!("; {why}"));
    }
    if ctx.plots && !check.frames.is_empty() {
        let chart = plot_to_bytes("chart", |p| crate::video::plot::frame_chart(&check, p).map_err(|e| e.to_string()));
        let sheet =
            plot_to_bytes("sheet", |p| crate::video::plot::contact_sheet(tools, &check, p).map_err(|e| e.to_string()));
        push_plot(out, "Per-frame luma and flags", chart);
        push_plot(out, "Contact sheet", sheet);
    }
    out.findings = check.findings;
}

fn tensor(path: &Path, out: &mut CheckOutput) {
    match crate::video::encode::survey_tensor(path) {
        Ok(survey) => {
            let bad: Vec<u64> =
                survey.frames.iter().filter(|r| r.nan + r.pos_inf + r.neg_inf > 0).map(|r| r.index).collect();
            out.summary = format!(
                "{} {:?} ({}), {} frames, {} with NaN/Inf",
                survey.tensor,
                survey.shape,
                survey.layout,
                survey.frames.len(),
                bad.len()
            );
            out.findings = survey.findings;
        }
        Err(err) => out.summary = format!("not surveyed: {err}"),
    }
}

fn poses(path: &Path, ctx: &JobContext, out: &mut CheckOutput) {
    let seq = crate::pose::load(&[path.to_path_buf()], None);
    let seconds = ctx.audio_for(path).and_then(|audio| Some((ctx.seconds(audio).ok()?, audio)));
    let options = crate::pose::CheckOptions {
        audio_frames: seconds.map(|(s, what)| {
            (
                crate::pose::audio::frames_for(s, ctx.fps),
                format!("{} ({} s at {} fps)", what.display(), fmt_num(s), fmt_num(ctx.fps)),
            )
        }),
        poses_repeat: ctx.poses_repeat,
        ..crate::pose::CheckOptions::default()
    };
    let outcome = crate::pose::check(&seq, &options);
    out.summary = format!("{} pose frames: {}", outcome.frames.len(), count_errors(&outcome.findings));
    if ctx.plots && !seq.frames.is_empty() {
        push_plot(out, "Pose sheet", pose_sheet(&seq, &outcome).ok_or_else(|| "no frame could be drawn".to_string()));
    }
    out.findings = outcome.findings;
}

/// A contact sheet of at most 96 pose frames: 48 spread over the sequence
/// and at most 48 of the flagged ones, spread over those (a folder where
/// every frame is flagged still draws a sheet of a readable size quickly).
fn pose_sheet(seq: &crate::pose::PoseSequence, outcome: &crate::pose::CheckOutcome) -> Option<Vec<u8>> {
    use crate::pose::render::{RenderOptions, png, render_frame};
    use crate::pose::sheet::{SheetTile, sheet, thumbnail};
    let slots = crate::pose::checks::slots(seq);
    let flagged: Vec<bool> =
        (0..slots.len()).map(|slot| outcome.frames.get(slot).is_some_and(|f| !f.flags.is_empty())).collect();
    let (thumb_w, thumb_h) = (96, 96);
    let tiles: Vec<SheetTile> = sheet_slots(&flagged, 48)
        .par_iter()
        .map(|&slot| {
            let thumb = slots[slot]
                .and_then(|f| render_frame(f, 768, 768, RenderOptions { body: true, face: false }).ok())
                .map(|image| thumbnail(&image, thumb_w));
            SheetTile { frame: seq.first_index + slot as u64, thumb, flagged: flagged[slot] }
        })
        .collect();
    if tiles.is_empty() {
        return None;
    }
    png(&sheet(&tiles, 8, thumb_w, thumb_h)).ok()
}

/// The slots a sheet shows: every `n/spread`-th slot, and every
/// `flagged/spread`-th flagged one.
fn sheet_slots(flagged: &[bool], spread: usize) -> Vec<usize> {
    let stride = flagged.len().div_ceil(spread).max(1);
    let flagged_stride = flagged.iter().filter(|f| **f).count().div_ceil(spread).max(1);
    let mut flagged_seen = 0;
    (0..flagged.len())
        .filter(|&slot| {
            let flagged_pick = flagged[slot] && {
                flagged_seen += 1;
                (flagged_seen - 1) % flagged_stride == 0
            };
            slot % stride == 0 || flagged_pick
        })
        .collect()
}

fn trace(path: &Path, ctx: &JobContext, out: &mut CheckOutput) {
    let result = crate::trace::trace_dump(path, &crate::trace::TraceOptions::default());
    let records = &result.analysis.records;
    out.summary = format!(
        "{} records over {} steps, {} non-finite: {}",
        records.total,
        records.steps,
        records.nonfinite,
        count_errors(&result.findings.iter().chain(&result.analysis.findings).cloned().collect::<Vec<_>>())
    );
    if ctx.plots && !result.analysis.stages.is_empty() {
        let stages = &result.analysis.stages;
        let title = format!("trace {}", path.display());
        let chart = plot_to_bytes("timeline", |p| crate::trace::plot::timeline_chart(stages, &title, p));
        push_plot(out, "Trace timeline", chart);
    }
    out.findings = result.findings;
    out.findings.extend(result.analysis.findings);
}

fn image(path: &Path, ctx: &JobContext, out: &mut CheckOutput) {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let plot_dir = ctx.plots.then(|| {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("nanscope-postmortem-{}-image-{n}", std::process::id()))
    });
    if let Some(dir) = &plot_dir
        && std::fs::create_dir_all(dir).is_err()
    {
        out.summary = format!("not checked: cannot create {}", dir.display());
        return;
    }
    let options = crate::image::CheckOptions {
        plot_dir: plot_dir.clone(),
        keep_aspect: ctx.keep_aspect,
        ..crate::image::CheckOptions::default()
    };
    match crate::image::check_file(path, &options) {
        Ok(check) => {
            let sizes: Vec<String> =
                check.images.iter().map(|i| format!("{}x{} {}", i.info.width, i.info.height, i.info.mode)).collect();
            let mut all = check.findings.clone();
            for image in &check.images {
                all.extend(image.findings.iter().cloned());
                if let Some(plot) = &image.plot {
                    let png = std::fs::read(plot).map_err(|e| e.to_string());
                    push_plot(out, "Reference image", png);
                }
            }
            out.summary = format!(
                "{}: {}",
                if sizes.is_empty() { "undecodable".to_string() } else { sizes.join(", ") },
                count_errors(&all)
            );
            out.findings = all;
        }
        Err(err) => out.summary = format!("not checked: {err}"),
    }
    if let Some(dir) = plot_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn audio(path: &Path, ctx: &JobContext, out: &mut CheckOutput) {
    out.summary = match ctx.seconds(path) {
        Ok(seconds) => format!("{} s of audio", fmt_num(seconds)),
        Err(err) => format!("duration unknown: {err}"),
    };
}

fn push_plot(out: &mut CheckOutput, title: &str, png: Result<Vec<u8>, String>) {
    match png {
        Ok(png) => out.plots.push(Attachment::png(title, png)),
        Err(err) => out.summary.push_str(&format!(" ({title} not drawn: {err})")),
    }
}

/// Draws a chart with a function that writes PNG files, through a private
/// temporary file that is removed afterwards.
fn plot_to_bytes(what: &str, draw: impl FnOnce(&Path) -> Result<(), String>) -> Result<Vec<u8>, String> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("nanscope-postmortem-{}-{n}-{what}.png", std::process::id()));
    let drawn = draw(&path);
    let bytes = drawn.and_then(|_| std::fs::read(&path).map_err(|e| e.to_string()));
    let _ = std::fs::remove_file(&path);
    bytes
}

#[cfg(test)]
mod tests {
    use super::sheet_slots;

    #[test]
    fn a_sheet_spreads_its_tiles_and_keeps_flagged_frames_when_few() {
        let mut flagged = vec![false; 240];
        flagged[7] = true;
        flagged[131] = true;
        let shown = sheet_slots(&flagged, 48);
        assert!(shown.contains(&7) && shown.contains(&131));
        assert_eq!(shown.len(), 48 + 2);
        assert_eq!(&shown[..3], &[0, 5, 7]);
    }

    #[test]
    fn a_sheet_of_a_folder_where_every_frame_is_flagged_stays_bounded() {
        let shown = sheet_slots(&[true; 1000], 48);
        assert!(shown.len() <= 96, "{} tiles", shown.len());
        assert_eq!(shown.first(), Some(&0));
        assert!(shown.last().is_some_and(|&last| last >= 1000 - 21));
        assert!(sheet_slots(&[], 48).is_empty());
    }
}
