//! Sudden jumps, judged against the sequence's own motion.
//!
//! For each part (hands, bodies, faces) the displacements of every keypoint
//! between consecutive frames are pooled; a displacement counts as a jump
//! when it exceeds both `min_jump` and `median + k · 1.4826 · MAD`. A jump
//! whose keypoint comes back near where it was within `jump_window` frames
//! is a spike (the frames in between are outliers, which repair can
//! interpolate); otherwise it is a lasting step. Either must stand out
//! against calm motion in the two frames before and after it (displacements
//! at most half the threshold): a keypoint that keeps moving fast is a fast
//! gesture, not a glitch.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::CheckOptions;
use crate::pose::model::{PartKind, PoseFrame};
use crate::pose::sequence::PoseSequence;
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::pose as rules;

/// The robust spread of one part's frame-to-frame displacements.
#[derive(Debug, Clone, Serialize)]
pub struct MotionStats {
    pub part: PartKind,
    pub count: usize,
    pub median: f64,
    pub mad: f64,
    /// The displacement above which a move counts as a jump.
    pub threshold: f64,
}

/// One keypoint jumping away at slot `start` (and, for a spike, coming back
/// after slot `end`).
#[derive(Debug, Clone, Serialize)]
pub struct JumpEvent {
    pub part: PartKind,
    pub group: usize,
    pub point: usize,
    pub start: usize,
    pub end: usize,
    pub returns: bool,
    pub displacement: f64,
}

/// Positions of one part, one row of `points` per slot that has a frame,
/// NaN where a keypoint is not usable for motion (not detected,
/// non-finite). Missing frames take no row: frame numbers come from file
/// names, and a sequence of two files numbered 0 and 999999 must not cost
/// a million rows.
struct Tracks {
    points: usize,
    slots: usize,
    /// The row of each slot, `u32::MAX` for a missing frame.
    rows: Vec<u32>,
    positions: Vec<[f64; 2]>,
}

impl Tracks {
    fn build(slots: &[Option<&PoseFrame>], kind: PartKind) -> Tracks {
        let points = slots.iter().flatten().filter_map(|f| f.part(kind)).map(|p| p.points.len()).max().unwrap_or(0);
        let present = slots.iter().flatten().count();
        let mut rows = vec![u32::MAX; slots.len()];
        let mut positions = vec![[f64::NAN; 2]; present * points];
        for (row, (slot, frame)) in slots.iter().enumerate().filter_map(|(s, f)| f.map(|f| (s, f))).enumerate() {
            rows[slot] = row as u32;
            let Some(part) = frame.part(kind) else { continue };
            for (flat, &p) in part.points.iter().enumerate() {
                if p[0].is_finite() && p[1].is_finite() && frame.is_present(kind, flat) {
                    positions[row * points + flat] = p;
                }
            }
        }
        Tracks { points, slots: slots.len(), rows, positions }
    }

    /// The position of keypoint `flat` at `slot`; `None` when it is not
    /// usable or lies outside the tracks (the slot after the last one).
    fn at(&self, slot: usize, flat: usize) -> Option<[f64; 2]> {
        if flat >= self.points {
            return None;
        }
        let row = *self.rows.get(slot)? as usize;
        let p = *self.positions.get(row.checked_mul(self.points)?.checked_add(flat)?)?;
        p[0].is_finite().then_some(p)
    }
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    (dx * dx + dy * dy).sqrt()
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

pub fn find_jumps(slots: &[Option<&PoseFrame>], options: &CheckOptions) -> (Vec<JumpEvent>, Vec<MotionStats>) {
    let per_part: Vec<(Vec<JumpEvent>, Option<MotionStats>)> =
        PartKind::ALL.par_iter().map(|&kind| part_jumps(slots, kind, options)).collect();
    let mut events = Vec::new();
    let mut stats = Vec::new();
    for (part_events, part_stats) in per_part {
        events.extend(part_events);
        stats.extend(part_stats);
    }
    (events, stats)
}

/// The jumps of one part and the statistics they were judged by.
fn part_jumps(
    slots: &[Option<&PoseFrame>],
    kind: PartKind,
    options: &CheckOptions,
) -> (Vec<JumpEvent>, Option<MotionStats>) {
    let mut events = Vec::new();
    let tracks = Tracks::build(slots, kind);
    let per_group = slots.iter().flatten().find_map(|f| f.part(kind)).map_or(1, |p| p.per_group.max(1));
    let mut moves = Vec::with_capacity(tracks.positions.len());
    for slot in 1..slots.len() {
        // Only a slot whose frame and predecessor both exist has moves.
        if slots[slot].is_none() || slots[slot - 1].is_none() {
            continue;
        }
        for flat in 0..tracks.points {
            if let (Some(a), Some(b)) = (tracks.at(slot - 1, flat), tracks.at(slot, flat)) {
                moves.push(distance(a, b));
            }
        }
    }
    if moves.len() < 8 {
        return (events, None);
    }
    let count = moves.len();
    let med = median(&mut moves);
    moves.iter_mut().for_each(|m| *m = (*m - med).abs());
    let mad = median(&mut moves);
    let threshold = options.min_jump.max(med + options.jump_threshold * 1.4826 * mad);
    for flat in 0..tracks.points {
        track_events(&tracks, kind, flat, per_group, threshold, options.jump_window, &mut events);
    }
    (events, Some(MotionStats { part: kind, count, median: med, mad, threshold }))
}

fn track_events(
    tracks: &Tracks,
    kind: PartKind,
    flat: usize,
    per_group: usize,
    threshold: f64,
    window: usize,
    events: &mut Vec<JumpEvent>,
) {
    let slots = tracks.slots;
    let mut slot = 1;
    while slot < slots {
        let (Some(before), Some(here)) = (tracks.at(slot - 1, flat), tracks.at(slot, flat)) else {
            slot += 1;
            continue;
        };
        let displacement = distance(before, here);
        if displacement <= threshold {
            slot += 1;
            continue;
        }
        let back = (slot + 1..slots.min(slot + 1 + window))
            .find(|&u| tracks.at(u, flat).is_some_and(|p| distance(before, p) <= threshold));
        let (end, returns) = match back {
            Some(u) => (u - 1, true),
            None => (slot, false),
        };
        // A jump stands out against calm motion around it; a keypoint that
        // was already moving fast (or keeps moving) is a fast gesture.
        // Two frames on each side, because producers that resample to 24 fps
        // repeat every few frames (a displacement of exactly 0).
        // The move into slot `s`; none past the last slot.
        let moving = |s: usize| match (s.checked_sub(1).and_then(|p| tracks.at(p, flat)), tracks.at(s, flat)) {
            (Some(a), Some(b)) => distance(a, b),
            _ => 0.0,
        };
        let after = if returns { end + 2 } else { slot + 1 };
        let before_motion = moving(slot - 1).max(slot.checked_sub(2).map_or(0.0, moving));
        let after_motion = moving(after).max(moving(after + 1));
        if before_motion > threshold / 2.0 || after_motion > threshold / 2.0 {
            slot += 1;
            continue;
        }
        events.push(JumpEvent {
            part: kind,
            group: flat / per_group,
            point: flat % per_group,
            start: slot,
            end,
            returns,
            displacement,
        });
        slot = if returns { end + 2 } else { slot + 1 };
    }
}

/// One finding per frame and hand, face or body that jumps.
pub fn findings(seq: &PoseSequence, events: &[JumpEvent], stats: &[MotionStats]) -> Vec<Finding> {
    let mut grouped: BTreeMap<(usize, PartKind, usize), Vec<&JumpEvent>> = BTreeMap::new();
    for event in events {
        grouped.entry((event.start, event.part, event.group)).or_default().push(event);
    }
    let file_of = |frame: u64| seq.frames.iter().find(|f| f.index == frame).map(|f| f.file.clone());
    grouped
        .into_iter()
        .map(|((start, kind, group), events)| {
            let frame = seq.first_index + start as u64;
            let end = seq.first_index + events.iter().map(|e| e.end).max().unwrap_or(start) as u64;
            let worst = events.iter().map(|e| e.displacement).fold(0.0, f64::max);
            let stat = stats.iter().find(|s| s.part == kind);
            let keypoints: Vec<String> = events.iter().map(|e| kind.keypoint(group, e.point)).collect();
            let returns = events.iter().all(|e| e.returns);
            let how = if returns {
                if end > frame { format!("and back by frame {}", end + 1) } else { "and back".to_string() }
            } else {
                "and stays there".to_string()
            };
            Finding::new(
                &rules::KEYPOINT_JUMP,
                format!(
                    "frame {frame}: {} {} points jump by up to {} {how} (threshold {}, first {})",
                    keypoints.len(),
                    kind.name(),
                    fmt_num(worst),
                    fmt_num(stat.map_or(0.0, |s| s.threshold)),
                    keypoints[0]
                ),
            )
            .with_subject(Subject {
                file: file_of(frame),
                frame: Some(frame),
                frames: (end > frame).then_some([frame, end]),
                keypoint: Some(keypoints[0].clone()),
                ..Subject::default()
            })
            .with_evidence("displacement", worst)
            .with_evidence("threshold", stat.map_or(0.0, |s| s.threshold))
            .with_evidence("median", stat.map_or(0.0, |s| s.median))
            .with_evidence("mad", stat.map_or(0.0, |s| s.mad))
            .with_evidence("returns", returns)
            .with_evidence("keypoints", keypoints)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::echomimic::tests::demo_frame;

    fn moving(n: usize) -> Vec<PoseFrame> {
        (0..n)
            .map(|t| {
                let mut f = demo_frame(t as i64);
                let shift = 0.1 * (t as f64 * 0.3).sin();
                for p in &mut f.hands.as_mut().unwrap().points {
                    p[0] += shift;
                }
                f
            })
            .collect()
    }

    #[test]
    fn smooth_motion_has_no_jumps() {
        let frames = moving(60);
        let slots: Vec<Option<&PoseFrame>> = frames.iter().map(Some).collect();
        let (events, stats) = find_jumps(&slots, &CheckOptions::default());
        assert!(events.is_empty(), "{events:?}");
        assert!(stats.iter().any(|s| s.part == PartKind::Hands));
    }

    #[test]
    fn a_spike_is_one_event_that_returns() {
        let mut frames = moving(60);
        frames[30].hands.as_mut().unwrap().points[21 + 4][1] += 0.35;
        let slots: Vec<Option<&PoseFrame>> = frames.iter().map(Some).collect();
        let (events, _) = find_jumps(&slots, &CheckOptions::default());
        assert_eq!(events.len(), 1, "{events:?}");
        let e = &events[0];
        assert_eq!((e.part, e.group, e.point, e.start, e.end, e.returns), (PartKind::Hands, 1, 4, 30, 30, true));
    }

    #[test]
    fn a_fast_gesture_is_not_a_jump() {
        // Sustained fast motion with every fourth frame repeated, as in
        // EchoMimicV2's demo poses: large displacements, but none isolated.
        let mut frames = moving(60);
        let mut x = 0.0;
        for (t, f) in frames.iter_mut().enumerate() {
            if (20..28).contains(&t) && t % 4 != 0 {
                x += 0.17;
            }
            for p in &mut f.hands.as_mut().unwrap().points[21..] {
                p[1] += x * 0.8;
                p[0] += x * 0.6;
            }
        }
        let slots: Vec<Option<&PoseFrame>> = frames.iter().map(Some).collect();
        let (events, stats) = find_jumps(&slots, &CheckOptions::default());
        assert!(events.is_empty(), "{events:?}");
        // The moves themselves are above the threshold; only their context clears them.
        let hands = stats.iter().find(|s| s.part == PartKind::Hands).unwrap();
        assert!(0.17 > hands.threshold, "{hands:?}");
    }

    #[test]
    fn a_jump_into_the_last_frame_is_judged_without_reading_past_it() {
        // Regression (fuzzing): the calm-after test read the slot after the
        // last one and indexed past the end of the tracks.
        for n in [4, 12, 60] {
            let mut frames = moving(n);
            frames[n - 1].hands.as_mut().unwrap().points[12][0] += 0.5;
            let slots: Vec<Option<&PoseFrame>> = frames.iter().map(Some).collect();
            let (events, _) = find_jumps(&slots, &CheckOptions::default());
            if n > 4 {
                assert_eq!(events.len(), 1, "{events:?}");
                assert_eq!((events[0].start, events[0].returns), (n - 1, false));
            }
        }
    }

    #[test]
    fn a_lasting_step_does_not_return() {
        let mut frames = moving(60);
        for f in &mut frames[40..] {
            f.hands.as_mut().unwrap().points[3][0] += 0.4;
        }
        let slots: Vec<Option<&PoseFrame>> = frames.iter().map(Some).collect();
        let (events, _) = find_jumps(&slots, &CheckOptions::default());
        assert_eq!(events.len(), 1);
        assert!(!events[0].returns);
        assert_eq!(events[0].start, 40);
    }
}
