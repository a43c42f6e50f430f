//! `replay SPEC`: replay a generation with the built-in engine, report where
//! NaN/Inf first appeared, and optionally bisect the precision.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::trace::{add_plot_section, plot_timeline, trace_report};
use super::video_write::encode_section;
use super::{CommandError, require_existing};
use crate::replay::{ReplayOptions as EngineOptions, Spec, python_list, replay as run_replay};
use crate::report::{Report, Section, SectionTable};
use crate::trace::TraceResult;
use crate::video::Tools;
use crate::video::encode::{EncodeOptions, EncodeResult, Fill, encode};

/// What `replay` runs and writes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReplayOptions {
    /// The replay spec (TOML).
    pub spec: PathBuf,
    pub replay: EngineOptions,
    /// Draw the per-step timeline as `plot/timeline.png`.
    pub plot: Option<PathBuf>,
    /// Encode the decoded frames as H.264 here (needs ffmpeg).
    pub video: Option<PathBuf>,
    /// Frames per second of `video`.
    pub fps: f64,
    /// Replace an existing `video`.
    pub force: bool,
}

impl ReplayOptions {
    pub fn new(spec: PathBuf) -> Self {
        ReplayOptions { spec, replay: EngineOptions::default(), plot: None, video: None, fps: 24.0, force: false }
    }
}

/// The `run` section: how the replay ran.
#[derive(Serialize)]
struct RunSection<'a> {
    dtype: &'static str,
    quantize: &'a Option<String>,
    steps: usize,
    nonfinite_frame_values: u64,
    dump: Option<String>,
    output: Option<String>,
    /// What an EchoMimicV2 replay started from: each input's file, or
    /// `seeded stand-in` when the spec names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_from: Option<StartsFrom>,
}

#[derive(Serialize)]
struct StartsFrom {
    reference_image: String,
    poses: String,
    audio_features: String,
}

impl StartsFrom {
    fn of(spec: &Spec) -> Option<StartsFrom> {
        let e = spec.echomimic.as_ref()?;
        let named =
            |p: &Option<PathBuf>| p.as_ref().map_or_else(|| "seeded stand-in".to_string(), |p| p.display().to_string());
        Some(StartsFrom {
            reference_image: named(&e.reference_image),
            poses: named(&e.pose_dir),
            audio_features: named(&e.audio_features),
        })
    }
}

/// The `bisect` section: the modules to keep in higher precision.
#[derive(Serialize)]
struct BisectSection<'a> {
    exclude: &'a [String],
    exclude_python: String,
    fixed: bool,
    already_finite: bool,
    candidates: usize,
    trials: usize,
}

/// Replays the spec and returns the `replay` report (`run`, `stages`,
/// `records`, and optionally `bisect`, `video` and `plots` sections).
pub fn replay(options: &ReplayOptions) -> Result<Report, CommandError> {
    require_existing(&[&options.spec])?;
    let mut spec = Spec::load(&options.spec)?;
    // The video is encoded from the saved frames: the spec's output, or a
    // temporary file beside the video.
    let video = match &options.video {
        Some(path) => {
            let fps = options.fps;
            if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
                return Err(CommandError::InvalidOption(format!("--fps must be in (0, 1000], got {fps}")));
            }
            if !options.force && path.exists() {
                return Err(CommandError::InvalidOption(format!(
                    "{} exists; pass --force to replace it",
                    path.display()
                )));
            }
            let tools = Tools::locate()?;
            let temporary = spec.output.is_none().then(|| frames_file_beside(path));
            if let Some(temporary) = &temporary {
                spec.output = Some(temporary.clone());
            }
            Some((tools, path.clone(), temporary))
        }
        None => None,
    };
    let result = run_replay(&spec, &options.replay);
    let encoded = match (&video, &result, &spec.output) {
        (Some((tools, path, _)), Ok(_), Some(frames)) => {
            Some(encode_frames(tools, frames, path, options.fps, options.force))
        }
        _ => None,
    };
    if let Some((_, _, Some(temporary))) = &video {
        let _ = std::fs::remove_file(temporary);
    }
    let result = result.map_err(|source| CommandError::Replay { spec: options.spec.clone(), source })?;
    let encoded = encoded.transpose()?;
    let plot = match &options.plot {
        Some(dir) => Some(plot_timeline(&result.analysis.stages, &format!("replay {}", options.spec.display()), dir)?),
        None => None,
    };
    let trace = TraceResult { manifest: None, findings: Vec::new(), analysis: result.analysis.clone(), recomputed: 0 };
    let mut report = trace_report(trace, options.spec.display().to_string());
    report.command = "replay".into();
    report.findings = result.findings.clone();
    if let Some(encoded) = &encoded {
        report.findings.extend(encoded.findings.iter().cloned());
    }
    report.sort_findings();
    report.set_counter("nonfinite_frame_values", result.nonfinite_frames_values);
    let run = RunSection {
        dtype: result.dtype.name(),
        quantize: &result.quantize,
        steps: result.steps,
        nonfinite_frame_values: result.nonfinite_frames_values,
        dump: result.dump_dir.as_ref().map(|d| d.display().to_string()),
        output: result.output.as_ref().map(|d| d.display().to_string()),
        starts_from: StartsFrom::of(&spec),
    };
    report.sections.insert(0, Section::typed("run", &run));
    if let Some(b) = &result.bisect {
        let rows = b.keep.iter().map(|m| vec![m.clone()]).collect();
        let bisect = BisectSection {
            exclude: &b.keep,
            exclude_python: python_list(&b.keep),
            fixed: b.fixed,
            already_finite: b.already_finite,
            candidates: b.candidates,
            trials: b.trials,
        };
        report.sections.push(Section::typed("bisect", &bisect).with_table(SectionTable {
            title: "Keep in fp32 / unquantized".into(),
            header: vec!["module".into()],
            rows,
            note: Some(format!(
                "{} trials over {} candidates; JSON: {}",
                b.trials,
                b.candidates,
                serde_json::to_string(&b.keep).unwrap_or_default()
            )),
        }));
    }
    if let Some(encoded) = &encoded {
        report.sections.push(encode_section(encoded, "video"));
    }
    add_plot_section(&mut report, plot);
    Ok(report)
}

/// `.NAME.frames-PID.safetensors` in the video's folder.
fn frames_file_beside(video: &Path) -> PathBuf {
    let name = video.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "video".into());
    let folder = video.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    folder.join(format!(".{name}.frames-{}.safetensors", std::process::id()))
}

fn encode_frames(
    tools: &Tools,
    frames: &Path,
    video: &Path,
    fps: f64,
    force: bool,
) -> Result<EncodeResult, CommandError> {
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
    encode(tools, frames, video, &options)
        .map_err(|source| CommandError::EncodeFrames { video: video.to_path_buf(), source })
}
