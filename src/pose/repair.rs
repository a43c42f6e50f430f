//! Repairing a pose sequence: what `check` flags is filled in, never
//! invented beyond what the neighbours support.
//!
//! Per keypoint track (one keypoint of one hand, face or body over time):
//! - non-finite values, keypoints of missing or unreadable frames, and
//!   spike jumps (away and back within the jump window) are invalid; runs of
//!   up to `max_gap` invalid frames between two valid ones are interpolated
//!   linearly (coordinates and score); longer runs and runs at either end
//!   hold the nearest valid value and are reported (P116); a track with no
//!   valid value at all is set to the "not detected" marker (-1, -1, score 0);
//! - hand and face points that are merely not detected (markers) are filled
//!   only across short dropouts (up to `max_gap`, both neighbours present)
//!   and otherwise left undetected: a hand that leaves the picture stays out.
//!
//! Then optional smoothing, `num` set to the frame index and
//! `draw_pose_params` rewritten for the generation size.

use std::collections::BTreeMap;

use serde::Serialize;

use super::checks::{CheckOptions, find_jumps, slots};
use super::model::{PartKind, PoseFrame, is_missing_marker};
use super::sequence::PoseSequence;
use super::smooth::Smoothing;
use crate::report::{Finding, Subject};
use crate::rules::pose as rules;

#[derive(Debug, Clone)]
pub struct RepairOptions {
    pub check: CheckOptions,
    /// Longest run of invalid frames that is interpolated.
    pub max_gap: usize,
    pub smooth: Option<Smoothing>,
}

impl Default for RepairOptions {
    fn default() -> Self {
        RepairOptions { check: CheckOptions::default(), max_gap: 12, smooth: None }
    }
}

/// What was done to one hand, face or body of one frame.
#[derive(Debug, Clone, Serialize)]
pub struct RepairAction {
    pub frame: u64,
    /// `recreated`, `interpolated`, `held`, `cleared`, `num-fixed`, `params-rewritten`.
    pub action: &'static str,
    /// Why: `missing-frame`, `nonfinite`, `jump`, `dropout`, …
    pub reason: &'static str,
    /// The keypoints concerned (`hands[1][5]`), empty for whole-frame actions.
    pub keypoints: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Repaired {
    /// Every frame of the sequence, `first_index` onwards, in order.
    pub frames: Vec<(u64, PoseFrame)>,
    pub actions: Vec<RepairAction>,
    /// P116 findings for held runs.
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Invalid {
    /// A "not detected" marker: filled across short dropouts only.
    Dropout,
    Jump,
    NonFinite,
    MissingFrame,
}

impl Invalid {
    fn name(self) -> &'static str {
        match self {
            Invalid::Dropout => "dropout",
            Invalid::Jump => "jump",
            Invalid::NonFinite => "nonfinite",
            Invalid::MissingFrame => "missing-frame",
        }
    }
}

pub fn repair(seq: &PoseSequence, options: &RepairOptions) -> Repaired {
    let originals = slots(seq);
    let readable = originals.iter().flatten().count();
    // Recreating frames is interpolation between real ones; a sequence that
    // is mostly holes has nothing to interpolate from.
    if originals.len() > 2 * readable + options.max_gap {
        return Repaired::default();
    }
    let Some(template) = originals.iter().flatten().next().map(|f| (*f).clone()) else {
        return Repaired::default();
    };
    let mut out = Repaired::default();
    let (jumps, _) = find_jumps(&originals, &options.check);

    // Every slot gets a frame; missing ones start as a copy of a neighbour.
    let mut frames: Vec<PoseFrame> = Vec::with_capacity(originals.len());
    let mut recreated = vec![false; originals.len()];
    for (slot, original) in originals.iter().enumerate() {
        match original {
            Some(frame) => frames.push((*frame).clone()),
            None => {
                let nearest = (0..originals.len())
                    .filter_map(|s| originals[s].map(|f| (s.abs_diff(slot), f)))
                    .min_by_key(|(d, _)| *d)
                    .map_or(&template, |(_, f)| f);
                frames.push(nearest.clone());
                recreated[slot] = true;
                out.actions.push(RepairAction {
                    frame: seq.first_index + slot as u64,
                    action: "recreated",
                    reason: "missing-frame",
                    keypoints: Vec::new(),
                });
            }
        }
    }

    for kind in PartKind::ALL {
        let Some(layout) = template_part(&frames, kind) else { continue };
        let (points, per_group) = layout;
        let mut missing_part = vec![false; frames.len()];
        for (slot, frame) in frames.iter_mut().enumerate() {
            let fits = frame.part(kind).is_some_and(|p| p.points.len() == points && p.per_group == per_group);
            if !fits
                && let Some(donor) =
                    originals.iter().flatten().find_map(|f| f.part(kind).filter(|p| p.points.len() == points))
            {
                *part_slot(frame, kind) = Some(donor.clone());
                missing_part[slot] = true;
            }
        }
        for flat in 0..points {
            let mut reasons: Vec<Option<Invalid>> = (0..frames.len())
                .map(|slot| {
                    if recreated[slot] || missing_part[slot] {
                        return Some(Invalid::MissingFrame);
                    }
                    invalid(&frames[slot], kind, flat)
                })
                .collect();
            for event in jumps.iter().filter(|e| e.part == kind && e.returns && e.group * per_group + e.point == flat) {
                for reason in &mut reasons[event.start..=event.end] {
                    reason.get_or_insert(Invalid::Jump);
                }
            }
            fill_track(&mut frames, kind, flat, &reasons, options.max_gap, seq.first_index, per_group, &mut out);
        }
        if let Some(smoothing) = options.smooth {
            smooth_part(&mut frames, kind, points, smoothing, [options.check.width, options.check.height]);
        }
    }

    let params = vec![
        options.check.height as i64,
        options.check.width as i64,
        0,
        options.check.height as i64,
        0,
        options.check.width as i64,
    ];
    for (slot, frame) in frames.iter_mut().enumerate() {
        let index = seq.first_index + slot as u64;
        if frame.num != Some(index as i64) {
            if !recreated[slot] {
                out.actions.push(RepairAction { frame: index, action: "num-fixed", reason: "num", keypoints: vec![] });
            }
            frame.num = Some(index as i64);
        }
        if frame.draw_params.as_ref() != Some(&params) {
            out.actions.push(RepairAction {
                frame: index,
                action: "params-rewritten",
                reason: "draw-pose-params",
                keypoints: vec![],
            });
            frame.draw_params = Some(params.clone());
        }
    }
    merge_actions(&mut out.actions);
    out.frames = frames.into_iter().enumerate().map(|(slot, f)| (seq.first_index + slot as u64, f)).collect();
    out
}

/// The most common `(points, per_group)` layout of a part over the frames.
fn template_part(frames: &[PoseFrame], kind: PartKind) -> Option<(usize, usize)> {
    let mut counts: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for part in frames.iter().filter_map(|f| f.part(kind)) {
        *counts.entry((part.points.len(), part.per_group)).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(layout, _)| layout).filter(|(points, _)| *points > 0)
}

fn part_slot(frame: &mut PoseFrame, kind: PartKind) -> &mut Option<super::model::Part> {
    match kind {
        PartKind::Bodies => &mut frame.bodies,
        PartKind::Hands => &mut frame.hands,
        PartKind::Faces => &mut frame.faces,
    }
}

fn invalid(frame: &PoseFrame, kind: PartKind, flat: usize) -> Option<Invalid> {
    let part = frame.part(kind)?;
    let [x, y] = part.points[flat];
    let score = part.score(flat);
    if !x.is_finite() || !y.is_finite() || score.is_some_and(|s| !s.is_finite()) {
        return Some(Invalid::NonFinite);
    }
    // Body joints are governed by the subset, so only hands and faces have dropouts.
    (kind != PartKind::Bodies && is_missing_marker(x, y, score)).then_some(Invalid::Dropout)
}

fn get(frame: &PoseFrame, kind: PartKind, flat: usize) -> [f64; 3] {
    let part = frame.part(kind).expect("layout checked");
    let [x, y] = part.points[flat];
    [x, y, part.score(flat).unwrap_or(1.0)]
}

fn set(frame: &mut PoseFrame, kind: PartKind, flat: usize, [x, y, s]: [f64; 3]) {
    let part = frame.part_mut(kind).expect("layout checked");
    part.points[flat] = [x, y];
    if let Some(scores) = part.scores.as_mut()
        && let Some(slot) = scores.get_mut(flat)
    {
        *slot = s;
    }
}

#[allow(clippy::too_many_arguments)]
fn fill_track(
    frames: &mut [PoseFrame],
    kind: PartKind,
    flat: usize,
    reasons: &[Option<Invalid>],
    max_gap: usize,
    first_index: u64,
    per_group: usize,
    out: &mut Repaired,
) {
    let keypoint = kind.keypoint(flat / per_group, flat % per_group);
    let n = frames.len();
    let mut slot = 0;
    while slot < n {
        if reasons[slot].is_none() {
            slot += 1;
            continue;
        }
        let start = slot;
        while slot < n && reasons[slot].is_some() {
            slot += 1;
        }
        let end = slot - 1;
        let worst = reasons[start..=end].iter().flatten().max().copied().unwrap_or(Invalid::Dropout);
        let before = start.checked_sub(1).map(|s| get(&frames[s], kind, flat));
        let after = (slot < n).then(|| get(&frames[slot], kind, flat));
        let length = end - start + 1;
        let action = match (before, after) {
            (Some(a), Some(b)) if length <= max_gap => {
                for (i, frame) in frames[start..=end].iter_mut().enumerate() {
                    let t = (i + 1) as f64 / (length + 1) as f64;
                    set(frame, kind, flat, [0, 1, 2].map(|c| a[c] + (b[c] - a[c]) * t));
                }
                "interpolated"
            }
            _ if worst == Invalid::Dropout => continue,
            (Some(v), _) | (None, Some(v)) => {
                for (offset, frame) in frames[start..=end].iter_mut().enumerate() {
                    let s = start + offset;
                    // Only the invalid values are replaced; dropouts inside a held run stay undetected.
                    if reasons[s] != Some(Invalid::Dropout) {
                        set(frame, kind, flat, v);
                    }
                }
                out.findings.push(held_finding(&keypoint, first_index, start, end, worst, max_gap));
                "held"
            }
            (None, None) => {
                for frame in &mut frames[start..=end] {
                    set(frame, kind, flat, [-1.0, -1.0, 0.0]);
                }
                out.findings.push(held_finding(&keypoint, first_index, start, end, worst, max_gap));
                "cleared"
            }
        };
        for (s, reason) in reasons.iter().enumerate().take(end + 1).skip(start) {
            let reason = reason.unwrap_or(Invalid::Dropout);
            if action != "interpolated" && reason == Invalid::Dropout {
                continue;
            }
            out.actions.push(RepairAction {
                frame: first_index + s as u64,
                action,
                reason: reason.name(),
                keypoints: vec![keypoint.clone()],
            });
        }
    }
}

fn held_finding(keypoint: &str, first_index: u64, start: usize, end: usize, why: Invalid, max_gap: usize) -> Finding {
    let (a, b) = (first_index + start as u64, first_index + end as u64);
    Finding::new(
        &rules::UNREPAIRED_GAP,
        format!(
            "{keypoint}: {} frames ({}) of {} values held, not interpolated (longer than --max-gap {max_gap} or at an end)",
            b - a + 1,
            if a == b { format!("frame {a}") } else { format!("frames {a}-{b}") },
            why.name()
        ),
    )
    .with_subject(Subject {
        frame: Some(a),
        frames: (a != b).then_some([a, b]),
        keypoint: Some(keypoint.to_string()),
        ..Subject::default()
    })
    .with_evidence("frames_held", b - a + 1)
}

/// Smooths each coordinate over runs of frames where the keypoint is valid.
fn smooth_part(frames: &mut [PoseFrame], kind: PartKind, points: usize, smoothing: Smoothing, size: [u32; 2]) {
    for flat in 0..points {
        for axis in 0..2 {
            let scale = size[axis] as f64;
            let mut slot = 0;
            while slot < frames.len() {
                let usable = |f: &PoseFrame| invalid(f, kind, flat).is_none();
                if !usable(&frames[slot]) {
                    slot += 1;
                    continue;
                }
                let start = slot;
                while slot < frames.len() && usable(&frames[slot]) {
                    slot += 1;
                }
                let mut values: Vec<f64> =
                    frames[start..slot].iter().map(|f| get(f, kind, flat)[axis] * scale).collect();
                smoothing.apply(&mut values);
                for (frame, v) in frames[start..slot].iter_mut().zip(values) {
                    let mut p = get(frame, kind, flat);
                    p[axis] = v / scale;
                    set(frame, kind, flat, p);
                }
            }
        }
    }
}

/// One action per frame, action and reason, listing all its keypoints.
fn merge_actions(actions: &mut Vec<RepairAction>) {
    let mut merged: BTreeMap<(u64, &'static str, &'static str), Vec<String>> = BTreeMap::new();
    for action in actions.drain(..) {
        merged.entry((action.frame, action.action, action.reason)).or_default().extend(action.keypoints);
    }
    actions.extend(merged.into_iter().map(|((frame, action, reason), keypoints)| RepairAction {
        frame,
        action,
        reason,
        keypoints,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::checks::check;
    use crate::pose::echomimic::tests::demo_frame;
    use crate::pose::model::PoseFormat;
    use crate::pose::read::Reading;
    use crate::pose::sequence::{FrameFile, NamePattern};

    fn sequence(frames: Vec<(u64, PoseFrame)>) -> PoseSequence {
        PoseSequence {
            format: PoseFormat::EchoMimic,
            folder: None,
            frames: frames
                .into_iter()
                .map(|(index, pose)| FrameFile {
                    index,
                    file: format!("{index}.npy"),
                    path: format!("{index}.npy").into(),
                    reading: Reading { format: PoseFormat::EchoMimic, pose: Some(pose), findings: vec![] },
                })
                .collect(),
            first_index: 0,
            pattern: NamePattern::echomimic(),
            findings: vec![],
        }
    }

    fn moving(n: u64) -> Vec<(u64, PoseFrame)> {
        (0..n)
            .map(|t| {
                let mut f = demo_frame(t as i64);
                for p in &mut f.hands.as_mut().unwrap().points {
                    p[0] += 0.002 * t as f64;
                }
                (t, f)
            })
            .collect()
    }

    fn recheck(repaired: &Repaired) -> Vec<String> {
        let seq = sequence(repaired.frames.clone());
        check(&seq, &CheckOptions::default())
            .findings
            .into_iter()
            .map(|f| format!("{} {}", f.code(), f.message))
            .collect()
    }

    #[test]
    fn nan_missing_frames_and_spikes_are_interpolated() {
        let mut frames = moving(30);
        frames[5].1.hands.as_mut().unwrap().points[26] = [f64::NAN, f64::INFINITY];
        frames[12].1.hands.as_mut().unwrap().points[3][1] += 0.4;
        frames[20].1.num = Some(99);
        frames.remove(8);
        let seq = sequence(frames);
        assert!(!check(&seq, &CheckOptions::default()).findings.is_empty());
        let repaired = repair(&seq, &RepairOptions::default());
        assert_eq!(repaired.frames.len(), 30);
        assert!(repaired.findings.is_empty(), "{:?}", repaired.findings);
        assert_eq!(recheck(&repaired), Vec::<String>::new());
        let fixed = repaired.frames[5].1.hands.as_ref().unwrap().points[26];
        let expected = 0.6 + 0.005 * 5.0 + 0.002 * 5.0;
        assert!((fixed[0] - expected).abs() < 1e-9, "{fixed:?}");
        assert!(repaired.actions.iter().any(|a| a.frame == 8 && a.action == "recreated"));
        assert!(repaired.actions.iter().any(|a| a.frame == 12 && a.reason == "jump"));
    }

    #[test]
    fn long_gaps_are_held_and_reported_and_dropouts_left_out() {
        let mut frames = moving(30);
        for (_, f) in &mut frames[0..4] {
            f.hands.as_mut().unwrap().points[0] = [f64::NAN, 0.5];
        }
        for (_, f) in &mut frames[10..25] {
            f.hands.as_mut().unwrap().points[30] = [-1.0, -1.0];
        }
        let repaired = repair(&sequence(frames), &RepairOptions { max_gap: 4, ..RepairOptions::default() });
        assert_eq!(repaired.findings.len(), 1);
        assert_eq!(repaired.findings[0].code(), "P116");
        assert_eq!(repaired.findings[0].subject.frames, Some([0, 3]));
        assert_eq!(
            repaired.frames[0].1.hands.as_ref().unwrap().points[0],
            repaired.frames[4].1.hands.as_ref().unwrap().points[0]
        );
        assert_eq!(repaired.frames[15].1.hands.as_ref().unwrap().points[30], [-1.0, -1.0]);
    }

    #[test]
    fn smoothing_keeps_the_sequence_clean() {
        for smooth in [Smoothing::ONE_EURO, Smoothing::SAVGOL] {
            let repaired =
                repair(&sequence(moving(30)), &RepairOptions { smooth: Some(smooth), ..RepairOptions::default() });
            assert_eq!(recheck(&repaired), Vec::<String>::new());
        }
    }
}
