//! `pose check PATH…`: pose sequences, and the report pieces `pose repair`,
//! `render` and `convert` share.

use std::path::PathBuf;

use super::{CommandError, input_labels, nothing_to_check, require_existing};
use crate::pose::{self, CheckOptions, CheckOutcome, PoseSequence, audio};
use crate::report::{Report, Section, SectionTable, fmt_num};

/// What `pose check` reads and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoseCheckOptions {
    /// Pose folders (each one sequence) or frame files (together one more sequence).
    pub paths: Vec<PathBuf>,
    /// Image size of OpenPose JSON written in pixels without a canvas size.
    pub source_size: Option<[u32; 2]>,
    /// Generation size and thresholds; the expected frame count comes from
    /// `expect_frames` or `audio` below.
    pub check: CheckOptions,
    /// Frames the sequence must cover.
    pub expect_frames: Option<u64>,
    /// Audio the generation is driven by: frames needed = int(duration × fps) (needs ffprobe).
    pub audio: Option<PathBuf>,
    /// Frame rate of the generation (EchoMimicV2: 24).
    pub fps: f64,
    /// List every frame in the table view, not only frames with findings.
    pub all_frames: bool,
    /// Check only this shard of the sequences (`--shard I/N`): a sequence is never split.
    pub shard: Option<crate::gate::Shard>,
}

impl PoseCheckOptions {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        PoseCheckOptions {
            paths,
            source_size: None,
            check: CheckOptions::default(),
            expect_frames: None,
            audio: None,
            fps: 24.0,
            all_frames: false,
            shard: None,
        }
    }
}

/// Checks every sequence and returns one `pose check` report (`format`,
/// `frames` and `motion` sections; several sequences add up).
pub fn pose_check(options: &PoseCheckOptions) -> Result<Report, CommandError> {
    require_existing(&options.paths)?;
    let check = resolved_check(&options.check, options.expect_frames, options.audio.as_deref(), options.fps)?;
    let mut merged: Option<Report> = None;
    let groups = sequences(&options.paths);
    let any = !groups.is_empty();
    let groups =
        crate::gate::partition(groups, options.shard, |g| g.first().map_or(std::path::Path::new(""), |p| p.as_path()));
    for paths in groups {
        let seq = load_sequence(&paths, options.source_size)?;
        let outcome = pose::check(&seq, &check);
        let report = check_report("pose check", input_labels(&paths), &seq, outcome, options.all_frames);
        merged = Some(match merged {
            None => report,
            Some(so_far) => merge_reports(so_far, report),
        });
    }
    let mut report = match merged {
        Some(report) => report,
        // A shard that drew no sequence checked nothing, and says so in an empty report.
        None if any && options.shard.is_some() => Report::new("pose check", Vec::new()),
        None => return Err(nothing_to_check(&options.paths, "pose frames")),
    };
    report.inputs = input_labels(&options.paths);
    report.sort_findings();
    Ok(report)
}

/// The check options with the expected frame count filled in (running
/// ffprobe for `audio`), after judging the thresholds.
pub(crate) fn resolved_check(
    base: &CheckOptions,
    expect_frames: Option<u64>,
    audio: Option<&std::path::Path>,
    fps: f64,
) -> Result<CheckOptions, CommandError> {
    let invalid = |text: &str| Err(CommandError::InvalidOption(text.to_string()));
    if base.width == 0 || base.height == 0 {
        return invalid("--width and --height must be positive");
    }
    if !(fps > 0.0 && fps.is_finite()) {
        return invalid("--fps must be positive");
    }
    if base.canvas_tolerance.is_nan() || base.canvas_tolerance < 0.0 {
        return invalid("--canvas-tolerance must not be negative");
    }
    if !(base.jump_threshold > 0.0 && base.min_jump >= 0.0) {
        return invalid("jump thresholds must be positive");
    }
    let expect_frames = expect_frames.map(|n| (n, "--expect-frames".to_string()));
    let audio_frames = match audio {
        Some(path) => {
            let seconds = audio::duration(path)?;
            let frames = audio::frames_for(seconds, fps);
            Some((frames, format!("{} ({} s at {} fps)", path.display(), fmt_num(seconds), fmt_num(fps))))
        }
        None => None,
    };
    Ok(CheckOptions { expect_frames, audio_frames, ..base.clone() })
}

/// Loads one sequence; a sequence without a frame or a finding checked nothing.
pub(crate) fn load_sequence(paths: &[PathBuf], source_size: Option<[u32; 2]>) -> Result<PoseSequence, CommandError> {
    let seq = pose::load(paths, source_size);
    if seq.frames.is_empty() && seq.findings.is_empty() {
        return Err(nothing_to_check(paths, "pose frames"));
    }
    Ok(seq)
}

/// The sequences of `pose check`: each folder is one, and the frame files
/// named outside any folder form one more.
fn sequences(paths: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    let (folders, files): (Vec<&PathBuf>, Vec<&PathBuf>) = paths.iter().partition(|p| p.is_dir());
    let mut groups: Vec<Vec<PathBuf>> = folders.into_iter().map(|f| vec![f.clone()]).collect();
    if !files.is_empty() {
        groups.push(files.into_iter().cloned().collect());
    }
    groups
}

/// Appends a second sequence's report to the first: findings, counters,
/// rows and JSON arrays add up; `format` stays the first sequence's.
fn merge_reports(mut into: Report, from: Report) -> Report {
    into.findings.extend(from.findings);
    for (key, value) in from.counters {
        let sum = into.counters.iter().find(|(k, _)| *k == key).map_or(0, |(_, v)| *v) + value;
        into.set_counter(&key, sum);
    }
    for section in from.sections {
        match into.sections.iter_mut().find(|s| s.key == section.key) {
            Some(existing) => {
                if let (Some(a), serde_json::Value::Array(b)) = (existing.value.as_array_mut(), section.value) {
                    a.extend(b);
                }
                match (&mut existing.table, section.table) {
                    (Some(a), Some(b)) => {
                        a.rows.extend(b.rows);
                        a.note = match (a.note.take(), b.note) {
                            (Some(x), Some(y)) => Some(format!("{x}; {y}")),
                            (x, y) => x.or(y),
                        };
                    }
                    (slot @ None, Some(b)) => *slot = Some(b),
                    _ => {}
                }
            }
            None => into.sections.push(section),
        }
    }
    into
}

/// The report of a check: findings, the `frames` array and motion statistics.
pub(crate) fn check_report(
    command: &str,
    inputs: Vec<String>,
    seq: &PoseSequence,
    outcome: CheckOutcome,
    all: bool,
) -> Report {
    let mut report = Report::new(command, inputs);
    report.set_counter("frames", outcome.frames.len() as u64);
    report.set_counter("files", seq.frames.len() as u64);
    let listed: Vec<_> = outcome.frames.iter().filter(|f| all || !f.flags.is_empty()).collect();
    let hidden = outcome.frames.len() - listed.len();
    let rows = listed
        .iter()
        .map(|f| {
            vec![
                f.frame.to_string(),
                f.file.clone().unwrap_or_else(|| "-".into()),
                f.status.to_string(),
                f.hand_points.to_string(),
                f.non_black_share.map_or("-".into(), |s| format!("{:.2}%", s * 100.0)),
                f.flags.join(" "),
            ]
        })
        .collect();
    report.sections.push(Section::typed("format", seq.format.name()));
    let frames_table = (!listed.is_empty() || all).then(|| SectionTable {
        title: if all { "Frames".into() } else { "Frames with findings".into() },
        header: ["frame", "file", "status", "hand points", "non-black", "findings"].map(String::from).to_vec(),
        rows,
        note: (hidden > 0).then(|| format!("{hidden} more frames without findings (--all-frames lists them)")),
    });
    let mut frames = Section::typed("frames", &outcome.frames);
    frames.table = frames_table;
    report.sections.push(frames);
    report.sections.push(Section::typed("motion", &outcome.motion));
    report.findings = outcome.findings;
    report.sort_findings();
    report
}
