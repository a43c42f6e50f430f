//! `video check`: container, stream and frame diagnosis of one file.

use std::path::Path;

use serde::Serialize;

use super::container::{FileSniff, sniff};
use super::decode::{DecodeOutcome, LumaDecode, LumaPlan, errors_before, propagated_frames, strict_pass};
use super::frame_checks::{FrameFlag, FrameThresholds, classify, frame_findings, subject};
use super::frame_stats::{FrameStats, LumaRange, measure};
use super::probe::{PacketSurvey, Probe, probe, survey_packets};
use super::stream_checks::{
    Expectations, StreamRecord, decoded_findings, stream_findings, truncation_finding, unreadable_findings,
};
use super::tools::{ToolError, Tools, version_at_least};
use crate::report::{Finding, Subject};
use crate::rules::Rule;
use crate::rules::video as rules;

/// Frame rate assumed for timestamps when a stream declares none.
const FALLBACK_FPS: f64 = 25.0;

#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CheckOptions {
    pub thresholds: FrameThresholds,
    pub expect: Expectations,
    /// Decoder threads (`None`: ffmpeg's default, one per core).
    pub threads: Option<usize>,
    /// Measure every row of frames wider than 960 instead of every second one.
    pub full_resolution: bool,
}

/// Everything `video check` learnt about one file.
#[derive(Debug, Clone, Serialize)]
pub struct VideoCheck {
    pub file: String,
    pub bytes: u64,
    pub streams: Vec<StreamRecord>,
    /// The decoded video stream's index, when one was decoded.
    pub video_stream: Option<u64>,
    pub fps: Option<f64>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub luma_range: Option<LumaRange>,
    /// Statistics were measured on every second row.
    pub sampled: bool,
    pub frames: Vec<FrameStats>,
    /// Frames hit by decode errors.
    pub corrupt_frames: Vec<u64>,
    /// Frames after a corrupt one up to the next keyframe.
    pub propagated_frames: Vec<u64>,
    pub decode: Option<DecodeOutcome>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
    /// The container could not be read at all (no frames to work with).
    #[serde(skip)]
    pub unreadable: bool,
    #[serde(skip)]
    pub layout_moov_after_mdat: bool,
}

impl VideoCheck {
    fn new(file: String) -> VideoCheck {
        VideoCheck {
            file,
            bytes: 0,
            streams: vec![],
            video_stream: None,
            fps: None,
            width: None,
            height: None,
            luma_range: None,
            sampled: false,
            frames: vec![],
            corrupt_frames: vec![],
            propagated_frames: vec![],
            decode: None,
            findings: vec![],
            unreadable: false,
            layout_moov_after_mdat: false,
        }
    }

    /// Indices of frames carrying any of `flags`.
    pub fn frames_with(&self, flags: &[FrameFlag]) -> Vec<u64> {
        self.frames.iter().filter(|f| f.flags.iter().any(|x| flags.contains(x))).map(|f| f.index).collect()
    }

    pub fn has(&self, rule: &Rule) -> bool {
        self.findings.iter().any(|f| f.is(rule))
    }

    /// Names the checked file `label` everywhere: a check of a temporary
    /// file written for the user's output reports the output's name.
    pub fn relabel(&mut self, label: &str) {
        let old = std::mem::replace(&mut self.file, label.to_string());
        for stream in &mut self.streams {
            stream.file = label.to_string();
        }
        for finding in &mut self.findings {
            finding.subject.file = Some(label.to_string());
            finding.message = finding.message.replace(&old, label);
        }
    }
}

/// Checks one file. Broken input becomes findings; only failing to run the
/// external programs is an error.
pub fn check_file(tools: &Tools, path: &Path, options: &CheckOptions) -> Result<VideoCheck, ToolError> {
    let label = path.display().to_string();
    let mut check = VideoCheck::new(label.clone());
    let sniffed: FileSniff = match sniff(path) {
        Ok(s) => s,
        Err(err) => {
            check.unreadable = true;
            check.findings.push(super::stream_checks::not_media(&label, format!("cannot read {label}: {err}")));
            return Ok(check);
        }
    };
    check.bytes = sniffed.size;
    check.layout_moov_after_mdat = sniffed.iso.as_ref().is_some_and(|l| l.moov_after_mdat());
    if sniffed.size == 0 {
        check.unreadable = true;
        check.findings = unreadable_findings(&label, &sniffed, None);
        return Ok(check);
    }
    // An MP4 whose video track size is known starts decoding while ffprobe
    // runs; a wrong guess is dropped (killed) and replaced below.
    let early = match sniffed.video_size.and_then(|(w, h)| LumaPlan::guess(w, h, options.full_resolution)) {
        Some(plan) => Some(LumaDecode::start(tools, path, &plan, options.threads)?),
        None => None,
    };
    let probed = probe(tools, path)?;
    if let Some(version) = probed.output.program_version.as_ref().and_then(|p| p.version.as_deref()) {
        version_at_least("ffprobe", version)?;
    }
    if !probed.success || probed.output.streams.is_empty() {
        check.unreadable = true;
        check.findings = unreadable_findings(&label, &sniffed, Some(&probed));
        return Ok(check);
    }
    check.streams = probed.output.streams.iter().map(|s| StreamRecord::new(&label, s)).collect();
    check.findings = stream_findings(&label, &sniffed, &probed, &options.expect);
    if probed.video().is_some() {
        decode_frames(tools, path, &probed, options, early, &mut check)?;
    }
    Ok(check)
}

fn decode_frames(
    tools: &Tools,
    path: &Path,
    probed: &Probe,
    options: &CheckOptions,
    early: Option<LumaDecode>,
    check: &mut VideoCheck,
) -> Result<(), ToolError> {
    let Some(video) = probed.video() else { return Ok(()) };
    let label = check.file.clone();
    let stream = video.index;
    check.video_stream = stream;
    check.width = video.width;
    check.height = video.height;
    let fps = video.fps().unwrap_or(FALLBACK_FPS);
    check.fps = Some(fps);
    let start = video.start_seconds();
    let plan = LumaPlan::new(
        video.width.unwrap_or(0),
        video.height.unwrap_or(0),
        video.pix_fmt.as_deref().unwrap_or(""),
        video.color_range.as_deref(),
        options.full_resolution,
    );
    let Some(plan) = plan else {
        let why = format!(
            "cannot decode: the stream declares an unusable size {}x{}",
            video.width.unwrap_or(0),
            video.height.unwrap_or(0)
        );
        check.findings.push(decode_errors(why, Subject { stream, ..Subject::file(&label) }));
        return Ok(());
    };
    check.luma_range = Some(plan.range);
    check.sampled = plan.decimated;
    let pixel_thresholds = options.thresholds.pixel_thresholds(plan.range);
    let mut frames: Vec<FrameStats> = Vec::new();
    let decode = match early {
        Some(decode) if decode.plan.same_decode(&plan) => decode,
        _ => LumaDecode::start(tools, path, &plan, options.threads)?,
    };
    let measure_into = |frames: &mut Vec<FrameStats>, decode: LumaDecode| {
        decode.finish(|index, luma, previous| {
            let counts = measure(luma, previous, &pixel_thresholds);
            frames.push(FrameStats::from_counts(index, start + index as f64 / fps, &counts, plan.range));
        })
    };
    let mut outcome = measure_into(&mut frames, decode)?;
    // A frame-threaded decoder conceals damage in an order that depends on
    // thread timing, so a damaged stream's frames differ from run to run.
    // When the decoder reported errors, the frames are measured again from a
    // single-threaded decode: the same file always gives the same report.
    if outcome.error_lines > 0 && options.threads != Some(1) {
        frames.clear();
        outcome = measure_into(&mut frames, LumaDecode::start(tools, path, &plan, Some(1))?)?;
    }
    if outcome.frames == 0 && !outcome.exit_success {
        // An ffmpeg too old for the options used fails this way: say so.
        tools.check_ffmpeg_version()?;
    }
    // Healthy files decode every indexed frame; only when frames are missing
    // is the file demuxed again to list the packets really present.
    let mut survey: Option<PacketSurvey> = None;
    let mut truncation = None;
    let mut packets_read = None;
    if let Some(indexed) = video.indexed_frames()
        && outcome.frames < indexed
    {
        let listed = survey_packets(tools, path, check.bytes)?;
        packets_read = Some(listed.video_packets).filter(|&n| n > 0);
        // Only a file with fewer packets than its index lists was cut short.
        if listed.video_packets < indexed {
            truncation = truncation_finding(&label, stream, indexed, listed.video_packets, listed.video_whole);
            survey = Some(listed);
        }
    }
    // A file cut short ends in a packet the decoder cannot finish. When the
    // whole packets before it decode without error, every error came from
    // that cut: the file is truncated, not corrupt, and its frames are intact.
    let cut_at = survey.and_then(|s| s.cut_at);
    let mut errors_at_cut = false;
    if outcome.error_lines > 0
        && let Some(cut) = cut_at
        && errors_before(tools, path, cut)? == 0
    {
        errors_at_cut = true;
    }
    if let Some(mut finding) = truncation {
        if errors_at_cut {
            finding.message.push_str(&format!(
                "; the {} frames before the cut decode intact, only the packet the end of the file cut short fails \
                 ({} error lines there)",
                outcome.frames, outcome.error_lines
            ));
            finding.evidence.insert("errors_at_cut".into(), outcome.error_lines.into());
        }
        finding.evidence.insert("frames_decoded".into(), outcome.frames.into());
        check.findings.push(finding);
    }
    if let Some(problem) = &outcome.stream_problem {
        let why = format!("decoding stopped after {} frames: {problem}", outcome.frames);
        check.findings.push(decode_errors(why, Subject { stream, ..Subject::file(&label) }));
    }
    if let Some(record) = check.streams.iter_mut().find(|s| s.index == stream) {
        record.frames_decoded = Some(outcome.frames);
        record.packets_read = packets_read.or(record.packets_read);
    }
    if (outcome.error_lines > 0 && !errors_at_cut) || (frames.is_empty() && !outcome.exit_success) {
        let (corrupt, keyframes) = attribute_errors(tools, path, cut_at, fps, start, &outcome)?;
        check.corrupt_frames = corrupt;
        check.propagated_frames = propagated_frames(&check.corrupt_frames, &keyframes, outcome.frames);
        for (list, flag) in
            [(&check.corrupt_frames, FrameFlag::Corrupt), (&check.propagated_frames, FrameFlag::Propagated)]
        {
            for &i in list {
                if let Some(frame) = frames.get_mut(i as usize) {
                    frame.flags.push(flag);
                }
            }
        }
        let mut finding = decode_error_finding(&label, stream, &outcome, &check.corrupt_frames);
        if !check.propagated_frames.is_empty() {
            finding.message.push_str(&format!(
                "; until the next keyframe the damage can persist in frames {}",
                list_frames(&check.propagated_frames)
            ));
            finding.evidence.insert(
                "propagated_frames".into(),
                check.propagated_frames.iter().take(100).copied().collect::<Vec<u64>>().into(),
            );
        }
        finding.evidence.insert("frames_decoded".into(), outcome.frames.into());
        if let Some(read) = packets_read {
            finding.evidence.insert("packets_read".into(), read.into());
        }
        check.findings.push(finding);
    }
    classify(&mut frames, fps, &options.thresholds);
    check.findings.extend(frame_findings(&label, stream, &frames));
    let audio_present = survey.and_then(|s| s.audio_seconds);
    check.findings.extend(decoded_findings(&label, probed, outcome.frames, fps, audio_present, &options.expect));
    check.frames = frames;
    check.decode = Some(outcome);
    Ok(())
}

/// The frames decode errors hit: those a strict decoder drops; when it drops
/// none, the frames being decoded when each error line arrived. Also the
/// keyframes the strict decoder saw.
fn attribute_errors(
    tools: &Tools,
    path: &Path,
    end: Option<u64>,
    fps: f64,
    start: f64,
    outcome: &DecodeOutcome,
) -> Result<(Vec<u64>, Vec<u64>), ToolError> {
    if outcome.frames == 0 {
        return Ok((vec![], vec![]));
    }
    let pass = strict_pass(tools, path, end, fps, start, outcome.frames)?;
    let mut frames = pass.dropped;
    if frames.is_empty() {
        frames = outcome
            .messages
            .iter()
            .filter(|m| m.level == "error")
            .map(|m| m.frames_before.min(outcome.frames - 1))
            .collect();
        frames.sort_unstable();
        frames.dedup();
    }
    Ok((frames, pass.keyframes))
}

fn decode_error_finding(label: &str, stream: Option<u64>, outcome: &DecodeOutcome, corrupt: &[u64]) -> Finding {
    // A threaded decoder reports the same errors in a varying order: the
    // distinct texts, sorted, keep the report the same from run to run.
    let mut errors: Vec<&str> =
        outcome.messages.iter().filter(|m| m.level != "warning").map(|m| m.text.as_str()).collect();
    errors.sort_unstable();
    errors.dedup();
    errors.truncate(5);
    let message = if outcome.frames == 0 {
        format!("no frame could be decoded ({})", errors.first().copied().unwrap_or("ffmpeg failed"))
    } else if corrupt.is_empty() {
        format!("{} decoder errors, frames not attributable: {}", outcome.error_lines, errors.join("; "))
    } else {
        format!(
            "{} decoder error lines; {} frames hit ({}): {}",
            outcome.error_lines,
            corrupt.len(),
            list_frames(corrupt),
            errors.first().copied().unwrap_or("")
        )
    };
    let range = match (corrupt.first(), corrupt.last()) {
        (Some(&a), Some(&b)) => subject(label, stream, (a, b)),
        _ => Subject { stream, ..Subject::file(label) },
    };
    decode_errors(message, range)
        .with_evidence("error_lines", outcome.error_lines)
        .with_evidence("frames_hit", corrupt.iter().take(100).copied().collect::<Vec<u64>>())
        .with_evidence("messages", errors.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

/// V: the stream could not be decoded whole; `why` says where and how.
fn decode_errors(why: String, subject: Subject) -> Finding {
    Finding::new(&rules::DECODE_ERRORS, why).with_subject(subject)
}

/// `3, 7-9, 12` for a sorted list of frame indices.
pub fn list_frames(frames: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        let mut j = i;
        while j + 1 < frames.len() && frames[j + 1] == frames[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { frames[i].to_string() } else { format!("{}-{}", frames[i], frames[j]) });
        i = j + 1;
        if parts.len() == 12 && i < frames.len() {
            parts.push("…".into());
            break;
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lists_compress_runs() {
        assert_eq!(list_frames(&[3, 7, 8, 9, 12]), "3, 7-9, 12");
        assert_eq!(list_frames(&[]), "");
    }
}
