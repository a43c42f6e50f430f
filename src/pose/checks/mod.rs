//! Checks over a pose sequence: per-frame content, the sequence as a whole,
//! and motion. Each check is a function from what was read to findings.

mod frame;
mod motion;
mod sequence;
pub(crate) use frame::invalid_draw_params;

pub use motion::{JumpEvent, MotionStats, find_jumps};

use rayon::prelude::*;
use serde::Serialize;

use super::model::PoseFrame;
use super::sequence::PoseSequence;
use crate::report::{Finding, Subject};

/// Thresholds and expectations of `pose check`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckOptions {
    /// Generation size; EchoMimicV2's reference inference accepts only 768 × 768.
    pub width: u32,
    pub height: u32,
    /// How far outside [0, 1] a normalised coordinate may lie (P107).
    pub canvas_tolerance: f64,
    /// Largest plausible confidence score (P110).
    pub max_score: f64,
    /// Robust standard deviations above the median displacement (P113).
    pub jump_threshold: f64,
    /// Smallest displacement, as a canvas fraction, that counts as a jump (P113).
    pub min_jump: f64,
    /// Frames within which a jumping keypoint must come back to count as a spike.
    pub jump_window: usize,
    /// Frames the sequence must cover (P114), and where that number came from.
    pub expect_frames: Option<(u64, String)>,
    /// Frames of the driving audio (`int(seconds · fps)`) and a description
    /// of it (P114). The pipeline generates min(audio, pose) frames, so
    /// poses beyond the audio are a warning, not an error.
    pub audio_frames: Option<(u64, String)>,
    /// The pipeline takes the length from the audio alone and starts the
    /// poses again from the first when they run out (EchoMimicV2-ComfyUI's
    /// node): a count that differs from the audio's is only info.
    pub poses_repeat: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            width: 768,
            height: 768,
            canvas_tolerance: 0.3,
            max_score: 2.0,
            jump_threshold: 8.0,
            min_jump: 0.15,
            jump_window: 4,
            expect_frames: None,
            audio_frames: None,
            poses_repeat: false,
        }
    }
}

/// One row of the report's `frames` array.
#[derive(Debug, Clone, Serialize)]
pub struct FrameSummary {
    pub frame: u64,
    /// `None` when the frame file is missing.
    pub file: Option<String>,
    /// `ok`, `missing` or `unreadable`.
    pub status: &'static str,
    /// Hand points EchoMimicV2 draws for this frame.
    pub hand_points: usize,
    /// Non-finite coordinates and scores.
    pub nonfinite: usize,
    /// Share of non-black pixels of the rendered frame (set by `pose render`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_black_share: Option<f64>,
    /// Codes of the findings about this frame.
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CheckOutcome {
    pub findings: Vec<Finding>,
    pub frames: Vec<FrameSummary>,
    pub motion: Vec<MotionStats>,
}

/// The frames of a sequence by slot (`index - first_index`), `None` where a
/// file is missing or unreadable.
pub fn slots(seq: &PoseSequence) -> Vec<Option<&PoseFrame>> {
    let count = seq.frames.last().map_or(0, |f| (f.index - seq.first_index + 1) as usize);
    let mut slots = vec![None; count];
    for frame in &seq.frames {
        if let Some(pose) = &frame.reading.pose {
            slots[(frame.index - seq.first_index) as usize] = Some(pose);
        }
    }
    slots
}

/// Runs every check on a loaded sequence.
pub fn check(seq: &PoseSequence, options: &CheckOptions) -> CheckOutcome {
    let mut findings = seq.findings.clone();
    let per_frame: Vec<(Vec<Finding>, usize, usize)> = seq
        .frames
        .par_iter()
        .map(|file| {
            let mut out: Vec<Finding> = file
                .reading
                .findings
                .iter()
                .map(|finding| {
                    let mut finding = finding.clone();
                    finding.subject.frame = Some(file.index);
                    finding
                })
                .collect();
            let (mut hand_points, mut nonfinite) = (0, 0);
            if let Some(pose) = &file.reading.pose {
                let subject = Subject { frame: Some(file.index), ..Subject::file(&file.file) };
                out.extend(frame::check(pose, &subject, seq.format, options));
                hand_points = pose.visible_hand_points(options.width, options.height);
                nonfinite = frame::nonfinite_count(pose);
            }
            (out, hand_points, nonfinite)
        })
        .collect();
    let mut counts = Vec::with_capacity(per_frame.len());
    for (frame_findings, hand_points, nonfinite) in per_frame {
        findings.extend(frame_findings);
        counts.push((hand_points, nonfinite));
    }
    findings.extend(sequence::check(seq, options));
    let slots = slots(seq);
    let (jumps, motion) = find_jumps(&slots, options);
    findings.extend(motion::findings(seq, &jumps, &motion));
    let frames = summaries(seq, slots.len(), &counts, &findings);
    CheckOutcome { findings, frames, motion }
}

/// One row per frame index; `counts` holds (hand points, non-finite values)
/// for each of `seq.frames`.
fn summaries(seq: &PoseSequence, slots: usize, counts: &[(usize, usize)], findings: &[Finding]) -> Vec<FrameSummary> {
    let mut rows: Vec<FrameSummary> = (0..slots)
        .map(|slot| FrameSummary {
            frame: seq.first_index + slot as u64,
            file: None,
            status: "missing",
            hand_points: 0,
            nonfinite: 0,
            non_black_share: None,
            flags: Vec::new(),
        })
        .collect();
    for (file, &(hand_points, nonfinite)) in seq.frames.iter().zip(counts) {
        let row = &mut rows[(file.index - seq.first_index) as usize];
        row.file = Some(file.file.clone());
        row.status = if file.reading.pose.is_some() { "ok" } else { "unreadable" };
        row.hand_points = hand_points;
        row.nonfinite = nonfinite;
    }
    for finding in findings {
        let frames = match (finding.subject.frames, finding.subject.frame) {
            (Some([a, b]), _) => a..=b,
            (None, Some(f)) => f..=f,
            _ => continue,
        };
        for frame in frames {
            let Some(slot) = frame.checked_sub(seq.first_index) else { continue };
            if let Some(row) = rows.get_mut(slot as usize)
                && !row.flags.iter().any(|flag| flag == finding.code())
            {
                row.flags.push(finding.code().to_string());
            }
        }
    }
    rows
}
