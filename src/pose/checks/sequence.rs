//! Checks of the sequence as a whole: gaps, frame numbers, frame count,
//! and draw parameters that change between frames.

use super::CheckOptions;
use super::frame::draw_params_problem;
use crate::pose::model::{PoseFormat, Units};
use crate::pose::sequence::PoseSequence;
use crate::report::{Finding, Severity, Subject};
use crate::rules::pose as rules;

pub fn check(seq: &PoseSequence, options: &CheckOptions) -> Vec<Finding> {
    let mut findings = Vec::new();
    gaps(seq, &mut findings);
    if seq.format == PoseFormat::EchoMimic {
        frame_numbers(seq, &mut findings);
        params_consistency(seq, options, &mut findings);
    }
    frame_count(seq, options, &mut findings);
    if let Some(file) = seq.frames.iter().find(|f| f.reading.pose.as_ref().is_some_and(|p| p.units == Units::Pixels)) {
        let count =
            seq.frames.iter().filter(|f| f.reading.pose.as_ref().is_some_and(|p| p.units == Units::Pixels)).count();
        findings.push(
            Finding::new(
                &rules::PIXEL_UNITS_WITHOUT_CANVAS,
                format!("{count} frames hold pixel coordinates of an unknown image size (first {})", file.file),
            )
            .with_subject(Subject { frame: Some(file.index), ..Subject::file(&file.file) })
            .with_evidence("frames", count),
        );
    }
    findings
}

fn folder_label(seq: &PoseSequence) -> String {
    seq.folder.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "the sequence".into())
}

/// P: frame files are missing from the sequence; `message` says which.
fn missing_frame_file(message: String, subject: Subject) -> Finding {
    Finding::new(&rules::MISSING_FRAME_FILE, message).with_subject(subject)
}

fn gaps(seq: &PoseSequence, findings: &mut Vec<Finding>) {
    if seq.frames.is_empty() {
        let folder = folder_label(seq);
        findings.push(missing_frame_file(format!("{folder} holds no pose frame files"), Subject::file(folder)));
        return;
    }
    let mut expected = seq.first_index;
    for file in &seq.frames {
        if file.index > expected {
            let (a, b) = (expected, file.index - 1);
            let first = seq.pattern.name(a);
            let message = if a == b {
                format!("frame {a} ({first}) is missing")
            } else {
                format!("frames {a}-{b} are missing ({} files, first {first})", b - a + 1)
            };
            let file_label = match &seq.folder {
                Some(dir) => dir.join(&first).display().to_string(),
                None => first.clone(),
            };
            let subject = Subject { frame: Some(a), frames: (a != b).then_some([a, b]), ..Subject::file(file_label) };
            findings.push(missing_frame_file(message, subject).with_evidence("missing", b - a + 1));
        }
        expected = file.index + 1;
    }
}

fn frame_numbers(seq: &PoseSequence, findings: &mut Vec<Finding>) {
    for file in &seq.frames {
        let Some(pose) = &file.reading.pose else { continue };
        let message = match pose.num {
            Some(num) if num as u64 == file.index && num >= 0 => continue,
            Some(num) => format!("{} stores num = {num} but is frame {}", file.file, file.index),
            None => format!("{} has no integer `num` field (frame {})", file.file, file.index),
        };
        let mut finding = Finding::new(&rules::FRAME_NUMBER_MISMATCH, message)
            .with_subject(Subject { frame: Some(file.index), ..Subject::file(&file.file) });
        if let Some(num) = pose.num {
            finding = finding.with_evidence("num", num);
        }
        findings.push(finding);
    }
}

/// Frames whose (individually valid) parameters differ from the first frame's.
fn params_consistency(seq: &PoseSequence, options: &CheckOptions, findings: &mut Vec<Finding>) {
    let valid = |params: &Vec<i64>| draw_params_problem(params, options.width, options.height).is_none();
    let mut params = seq.frames.iter().filter_map(|f| {
        let p = f.reading.pose.as_ref()?.draw_params.as_ref().filter(|p| valid(p))?;
        Some((f, p))
    });
    let Some((first_file, reference)) = params.next() else { return };
    let differing: Vec<u64> = params.filter(|(_, p)| *p != reference).map(|(f, _)| f.index).collect();
    let Some(&first) = differing.first() else { return };
    let file = seq.frames.iter().find(|f| f.index == first).map_or(String::new(), |f| f.file.clone());
    findings.push(
        super::frame::invalid_draw_params(
            Subject { frame: Some(first), ..Subject::file(file) },
            format!(
                "{} frames use draw_pose_params other than frame {}'s {reference:?}, first frame {first}",
                differing.len(),
                first_file.index
            ),
        )
        .with_severity(Severity::Warning)
        .with_evidence("frames", differing),
    );
}

fn frame_count(seq: &PoseSequence, options: &CheckOptions, findings: &mut Vec<Finding>) {
    let have = seq.frames.last().map_or(0, |f| f.index - seq.first_index + 1);
    if let Some((expected, source)) = &options.expect_frames
        && have != *expected
    {
        let (severity, message) = if have < *expected {
            (Severity::Error, format!("{have} pose frames cover less than the {expected} frames of {source}"))
        } else {
            (
                Severity::Info,
                format!("{have} pose frames, {} more than the {expected} frames of {source}", have - expected),
            )
        };
        findings.push(count_finding(seq, severity, message, have, *expected, None));
    }
    if let Some((audio, source)) = &options.audio_frames
        && have != *audio
    {
        // EchoMimicV2 sets L = min(L, int(audio seconds · fps), pose files):
        // whichever is shorter decides the length of the video.
        let used = if options.poses_repeat { *audio } else { have.min(*audio) };
        let (severity, message) = if options.poses_repeat {
            let how = if have < *audio {
                format!("the poses start again from the first after frame {}", have.saturating_sub(1))
            } else {
                "the poses after it are not used".to_string()
            };
            (
                Severity::Info,
                format!("{have} pose frames for the {audio} frames of {source}: the pipeline generates {used} frames and {how}"),
            )
        } else if have < *audio {
            (
                Severity::Error,
                format!(
                    "{have} pose frames cover less than the {audio} frames of {source}: the pipeline generates \
                     only {used} frames and cuts the audio to them"
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "the audio is shorter than the poses: {have} pose frames, {} more than the {audio} frames of \
                     {source}; the pipeline trims the length to the audio and generates {used} frames \
                     (fewer if its -L is smaller)",
                    have - audio
                ),
            )
        };
        findings.push(count_finding(seq, severity, message, have, *audio, Some(used)));
    }
}

fn count_finding(
    seq: &PoseSequence,
    severity: Severity,
    message: String,
    have: u64,
    expected: u64,
    used: Option<u64>,
) -> Finding {
    let mut finding = Finding::new(&rules::FRAME_COUNT_MISMATCH, message)
        .with_subject(Subject::file(folder_label(seq)))
        .with_severity(severity)
        .with_evidence("frames", have)
        .with_evidence("expected", expected);
    if let Some(used) = used {
        finding = finding.with_evidence("used", used);
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::model::PoseFormat;
    use crate::pose::read::Reading;
    use crate::pose::sequence::{FrameFile, NamePattern};

    fn frames(n: u64) -> PoseSequence {
        let file = |index: u64| FrameFile {
            index,
            file: format!("{index}.npy"),
            path: format!("{index}.npy").into(),
            reading: Reading { format: PoseFormat::EchoMimic, pose: None, findings: vec![] },
        };
        PoseSequence {
            format: PoseFormat::EchoMimic,
            folder: None,
            frames: (0..n).map(file).collect(),
            first_index: 0,
            pattern: NamePattern::echomimic(),
            findings: vec![],
        }
    }

    fn counted(poses: u64, audio: u64, poses_repeat: bool) -> Finding {
        let options = CheckOptions { audio_frames: Some((audio, "a.wav".into())), poses_repeat, ..Default::default() };
        let mut findings = Vec::new();
        frame_count(&frames(poses), &options, &mut findings);
        assert_eq!(findings.len(), 1, "{findings:?}");
        findings.remove(0)
    }

    #[test]
    fn the_audio_against_the_poses_depends_on_whether_the_pipeline_repeats_them() {
        // infer.py stops with the shorter of the two.
        let short = counted(16, 33, false);
        assert_eq!((short.severity, short.evidence["used"].as_u64()), (Severity::Error, Some(16)));
        assert_eq!(counted(40, 33, false).severity, Severity::Warning);
        // EchoMimicV2-ComfyUI's node takes the audio's length and starts the poses again.
        let repeated = counted(16, 33, true);
        assert_eq!((repeated.severity, repeated.evidence["used"].as_u64()), (Severity::Info, Some(33)));
        assert!(repeated.message.ends_with("start again from the first after frame 15"), "{}", repeated.message);
        let trimmed = counted(40, 33, true);
        assert_eq!((trimmed.severity, trimmed.evidence["used"].as_u64()), (Severity::Info, Some(33)));
    }
}
