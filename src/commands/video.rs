//! `video check FILE…`: containers, streams and frames.

use std::path::PathBuf;

use serde::Serialize;

use super::{CommandError, input_labels, nothing_to_check, plots_section, require_existing};
use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::video::check::list_frames;
use crate::video::frame_checks::runs;
use crate::video::{CheckOptions, FrameStats, Tools, VideoCheck, check_file};

/// What `video check` reads and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VideoCheckOptions {
    /// Video files, or folders walked for files whose content is a video container.
    pub files: Vec<PathBuf>,
    pub check: CheckOptions,
    /// Write a per-frame chart and a contact sheet (PNG) per file into this folder.
    pub plot: Option<PathBuf>,
}

impl VideoCheckOptions {
    pub fn new(files: Vec<PathBuf>) -> Self {
        VideoCheckOptions { files, ..VideoCheckOptions::default() }
    }
}

/// Checks every video and returns the `video check` report (`streams`,
/// `frames` and optionally `plots` sections). Needs ffmpeg and ffprobe.
pub fn video_check(options: &VideoCheckOptions) -> Result<Report, CommandError> {
    options.check.thresholds.validate().map_err(CommandError::InvalidOption)?;
    require_existing(&options.files)?;
    let files = crate::video::discover::video_files(&options.files);
    if files.is_empty() {
        return Err(nothing_to_check(&options.files, "videos"));
    }
    let tools = Tools::find()?;
    let mut checks = Vec::new();
    for file in &files {
        checks.push(check_file(&tools, file, &options.check)?);
    }
    let mut report = check_report("video check", input_labels(&options.files), &checks);
    if let Some(dir) = &options.plot {
        let written = crate::video::plot::plot_checks(&tools, &checks, dir)?;
        report.sections.push(plots_section(&written));
    }
    Ok(report)
}

/// One frame of the `frames` section: its statistics and the file it is from.
#[derive(Serialize)]
struct FrameEntry<'a> {
    #[serde(flatten)]
    frame: &'a FrameStats,
    file: &'a str,
}

/// The `video check` report: findings, a `streams` section and a `frames` section.
pub(crate) fn check_report(command: &str, inputs: Vec<String>, checks: &[VideoCheck]) -> Report {
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
    let streams: Vec<_> = checks.iter().flat_map(|c| c.streams.iter()).collect();
    Section::typed("streams", &streams).with_table(SectionTable {
        title: "Streams".into(),
        header: ["file", "stream", "codec", "duration", "indexed / packets / decoded"].map(String::from).to_vec(),
        rows,
        note: None,
    })
}

fn frames_section(checks: &[VideoCheck]) -> Section {
    let mut value = Vec::new();
    let mut rows = Vec::new();
    let mut flagged = 0usize;
    let mut total = 0usize;
    for check in checks {
        value.extend(check.frames.iter().map(|frame| FrameEntry { frame, file: &check.file }));
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
    Section::typed("frames", &value).with_table(SectionTable {
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
    })
}
