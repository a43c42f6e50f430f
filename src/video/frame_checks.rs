//! Frame-level checks: flag each frame from its statistics and its
//! neighbours', then turn runs of flagged frames into findings.

use serde::Serialize;

use super::frame_stats::{FrameStats, LumaRange, PixelThresholds};
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::{Rule, video as rules};

/// Findings per rule and file; further segments are summarised in one more finding.
const MAX_SEGMENT_FINDINGS: usize = 20;

/// What can be wrong with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameFlag {
    Black,
    Blank,
    Saturated,
    Frozen,
    NanCast,
    BrightnessJump,
    Corrupt,
    /// Decoded cleanly but predicted from a corrupt frame (before the next keyframe).
    Propagated,
}

impl FrameFlag {
    pub const ALL: [FrameFlag; 8] = [
        FrameFlag::Corrupt,
        FrameFlag::Propagated,
        FrameFlag::NanCast,
        FrameFlag::Black,
        FrameFlag::Blank,
        FrameFlag::Saturated,
        FrameFlag::Frozen,
        FrameFlag::BrightnessJump,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FrameFlag::Black => "black",
            FrameFlag::Blank => "blank",
            FrameFlag::Saturated => "saturated",
            FrameFlag::Frozen => "frozen",
            FrameFlag::NanCast => "nan-cast",
            FrameFlag::BrightnessJump => "brightness-jump",
            FrameFlag::Corrupt => "corrupt",
            FrameFlag::Propagated => "propagated",
        }
    }

    /// The rule of a segment of this flag; none for the decoder's flags,
    /// which the decode errors' finding (V105) reports.
    fn rule(self) -> Option<&'static Rule> {
        match self {
            FrameFlag::Black => Some(&rules::BLACK_FRAMES),
            FrameFlag::Blank => Some(&rules::BLANK_FRAMES),
            FrameFlag::Saturated => Some(&rules::SATURATED_FRAMES),
            FrameFlag::Frozen => Some(&rules::FROZEN_SEGMENT),
            FrameFlag::NanCast => Some(&rules::NAN_CAST_SIGNATURE),
            FrameFlag::BrightnessJump => Some(&rules::BRIGHTNESS_JUMP),
            FrameFlag::Corrupt | FrameFlag::Propagated => None,
        }
    }

    /// Flags that say the picture itself is gone (neither frozen nor jumping applies).
    fn is_lost_picture(self) -> bool {
        matches!(self, FrameFlag::Black | FrameFlag::Blank | FrameFlag::Saturated | FrameFlag::NanCast)
    }
}

/// Frame thresholds, all on the 0–255 full-range luma scale.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct FrameThresholds {
    /// Pixels at or below this level count as dark.
    pub black_level: f64,
    /// A frame is black (or white) when at least this share of pixels is dark (or bright).
    pub black_share: f64,
    /// Pixels at or above this level count as bright.
    pub white_level: f64,
    /// A frame with a spatial standard deviation below this is blank.
    pub blank_std: f64,
    /// Frames whose mean absolute difference to the previous one is below this are still.
    pub freeze_diff: f64,
    /// Still frames form a frozen segment when they last at least this many seconds.
    pub freeze_min_seconds: f64,
    /// A change of mean luma above this between content frames is a jump.
    pub jump_luma: f64,
    /// Share of exact-floor pixels that makes the NaN-cast signature.
    pub nan_share: f64,
}

impl Default for FrameThresholds {
    fn default() -> Self {
        FrameThresholds {
            black_level: 32.0,
            black_share: 0.98,
            white_level: 235.0,
            blank_std: 2.0,
            freeze_diff: 0.5,
            freeze_min_seconds: 1.0,
            jump_luma: 40.0,
            nan_share: 0.01,
        }
    }
}

impl FrameThresholds {
    pub fn pixel_thresholds(&self, range: LumaRange) -> PixelThresholds {
        PixelThresholds {
            dark_at_most: range.coded_at_most(self.black_level),
            bright_at_least: range.coded_at_least(self.white_level),
            floor_at_most: range.floor_code(),
            near_at_most: range.near_floor_code(),
        }
    }

    /// Checks that every threshold is in its domain; the error names the option.
    pub fn validate(&self) -> Result<(), String> {
        let luma = |name: &str, v: f64| {
            if (0.0..=255.0).contains(&v) { Ok(()) } else { Err(format!("{name} must be within 0..=255, got {v}")) }
        };
        let share = |name: &str, v: f64| {
            if v > 0.0 && v <= 1.0 { Ok(()) } else { Err(format!("{name} must be within (0, 1], got {v}")) }
        };
        luma("--black-level", self.black_level)?;
        luma("--white-level", self.white_level)?;
        luma("--blank-std", self.blank_std)?;
        luma("--freeze-diff", self.freeze_diff)?;
        luma("--jump-luma", self.jump_luma)?;
        share("--black-share", self.black_share)?;
        share("--nan-share", self.nan_share)?;
        if !(self.freeze_min_seconds.is_finite() && self.freeze_min_seconds >= 0.0) {
            return Err(format!(
                "--freeze-min must be a non-negative number of seconds, got {}",
                self.freeze_min_seconds
            ));
        }
        Ok(())
    }
}

/// Sets every frame's flags (except `Corrupt` and `Propagated`, which come from the decoder).
pub fn classify(frames: &mut [FrameStats], fps: f64, t: &FrameThresholds) {
    for frame in frames.iter_mut() {
        if frame.dark_share >= t.black_share {
            frame.flags.push(FrameFlag::Black);
        } else if frame.bright_share >= t.black_share {
            frame.flags.push(FrameFlag::Saturated);
        } else if frame.luma_std < t.blank_std {
            frame.flags.push(FrameFlag::Blank);
        }
    }
    flag_nan_cast(frames, t);
    flag_frozen(frames, fps, t);
    flag_jumps(frames, t);
    for frame in frames.iter_mut() {
        frame.flags.sort();
        frame.flags.dedup();
    }
}

/// Runs of frames with many exact-floor pixels that appear abruptly: the
/// neighbour just outside the run has few (under the share, and at least ten
/// times fewer than the run's edge frame), and the pixels that went to the
/// floor jumped over the near-black band above it. A fade darkens every
/// pixel step by step, so the frames around its first floor pixels hold at
/// least as many near-black ones; a NaN cast takes normal content straight
/// to the floor and leaves that band as thin as it was.
fn flag_nan_cast(frames: &mut [FrameStats], t: &FrameThresholds) {
    let abrupt = |edge: &FrameStats, neighbour: &FrameStats| {
        let new_floor = edge.floor_share - neighbour.floor_share;
        neighbour.floor_share < t.nan_share
            && edge.floor_share >= 10.0 * neighbour.floor_share
            && new_floor > edge.near_floor_share.max(neighbour.near_floor_share)
    };
    for (first, last) in runs(frames.len(), |i| frames[i].floor_share >= t.nan_share) {
        let before = first.checked_sub(1).is_some_and(|i| abrupt(&frames[first], &frames[i]));
        let after = frames.get(last + 1).is_some_and(|next| abrupt(&frames[last], next));
        if before || after {
            for frame in &mut frames[first..=last] {
                frame.flags.push(FrameFlag::NanCast);
            }
        }
    }
}

fn lost(frame: &FrameStats) -> bool {
    frame.flags.iter().any(|f| f.is_lost_picture())
}

fn flag_frozen(frames: &mut [FrameStats], fps: f64, t: &FrameThresholds) {
    let still = |i: usize| {
        i > 0 && frames[i].luma_diff.is_some_and(|d| d < t.freeze_diff) && !lost(&frames[i]) && !lost(&frames[i - 1])
    };
    let segments: Vec<(usize, usize)> = runs(frames.len(), still);
    for (first, last) in segments {
        let held_seconds = (last - first + 1) as f64 / fps.max(f64::MIN_POSITIVE);
        if held_seconds + 1e-9 >= t.freeze_min_seconds {
            for frame in &mut frames[first - 1..=last] {
                frame.flags.push(FrameFlag::Frozen);
            }
        }
    }
}

fn flag_jumps(frames: &mut [FrameStats], t: &FrameThresholds) {
    for i in 1..frames.len() {
        let jump = (frames[i].luma_mean - frames[i - 1].luma_mean).abs();
        if jump > t.jump_luma && !lost(&frames[i]) && !lost(&frames[i - 1]) {
            frames[i].flags.push(FrameFlag::BrightnessJump);
        }
    }
}

/// Maximal runs `[first, last]` of indices where `hit` holds.
pub fn runs(len: usize, hit: impl Fn(usize) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for i in 0..len {
        match (hit(i), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, len - 1));
    }
    out
}

/// Runs of frames carrying `flag`, as `[first, last]` frame indices.
pub fn flagged_segments(frames: &[FrameStats], flag: FrameFlag) -> Vec<(u64, u64)> {
    runs(frames.len(), |i| frames[i].flags.contains(&flag))
        .into_iter()
        .map(|(a, b)| (frames[a].index, frames[b].index))
        .collect()
}

/// One finding per flagged segment (corrupt frames are reported with the decode errors).
pub fn frame_findings(label: &str, stream: Option<u64>, frames: &[FrameStats]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (flag, rule) in FrameFlag::ALL.into_iter().filter_map(|f| Some((f, f.rule()?))) {
        let segments = flagged_segments(frames, flag);
        for (n, &(first, last)) in segments.iter().enumerate() {
            if n == MAX_SEGMENT_FINDINGS {
                let rest = &segments[n..];
                let count: u64 = rest.iter().map(|(a, b)| b - a + 1).sum();
                findings.push(
                    Finding::new(
                        rule,
                        format!("{} more {} segments ({count} frames) after frame {}", rest.len(), flag.name(), first),
                    )
                    .with_subject(subject(label, stream, (first, rest[rest.len() - 1].1)))
                    .with_evidence("segments", rest.len() as u64)
                    .with_evidence("frames_flagged", count),
                );
                break;
            }
            findings.push(segment_finding(label, stream, frames, (flag, rule), first, last));
        }
    }
    findings
}

pub fn subject(label: &str, stream: Option<u64>, (first, last): (u64, u64)) -> Subject {
    let mut subject = Subject::file(label);
    subject.stream = stream;
    if first == last {
        subject.frame = Some(first);
    } else {
        subject.frames = Some([first, last]);
    }
    subject
}

fn segment_finding(
    label: &str,
    stream: Option<u64>,
    frames: &[FrameStats],
    (flag, rule): (FrameFlag, &'static Rule),
    first: u64,
    last: u64,
) -> Finding {
    let run: Vec<&FrameStats> = frames.iter().filter(|f| f.index >= first && f.index <= last).collect();
    let count = run.len() as f64;
    let mean = |get: fn(&FrameStats) -> f64| run.iter().map(|f| get(f)).sum::<f64>() / count.max(1.0);
    let whole = first == frames[0].index && last == frames[frames.len() - 1].index;
    let place = if whole {
        format!("every frame ({})", run.len())
    } else if first == last {
        format!("frame {first} ({} s)", fmt_num(run[0].pts))
    } else {
        format!("frames {first}-{last} ({}-{} s)", fmt_num(run[0].pts), fmt_num(run[run.len() - 1].pts))
    };
    let what = match flag {
        FrameFlag::Black => format!("black (mean luma {})", fmt_num(mean(|f| f.luma_mean))),
        FrameFlag::Blank => format!(
            "blank, flat luma {} with spatial std {}",
            fmt_num(mean(|f| f.luma_mean)),
            fmt_num(mean(|f| f.luma_std))
        ),
        FrameFlag::Saturated => format!("white/saturated (mean luma {})", fmt_num(mean(|f| f.luma_mean))),
        FrameFlag::Frozen => format!("frozen, the same picture for {} frames", run.len()),
        FrameFlag::NanCast => format!(
            "exact black appears abruptly amid content ({}% of pixels at the black floor), the signature of NaN \
             cast to 0",
            fmt_num(100.0 * mean(|f| f.floor_share))
        ),
        FrameFlag::BrightnessJump => {
            let jump = run
                .iter()
                .filter_map(|f| {
                    let prev = frames.iter().find(|p| p.index + 1 == f.index)?;
                    Some((f.luma_mean - prev.luma_mean).abs())
                })
                .fold(0.0, f64::max);
            format!("brightness jump of {} luma levels", fmt_num(jump))
        }
        FrameFlag::Corrupt => "corrupt".into(),
        FrameFlag::Propagated => "predicted from a corrupt frame".into(),
    };
    Finding::new(rule, format!("{place}: {what}"))
        .with_subject(subject(label, stream, (first, last)))
        .with_evidence("frames_flagged", run.len() as u64)
        .with_evidence("first_pts", run[0].pts)
        .with_evidence("last_pts", run[run.len() - 1].pts)
        .with_evidence("luma_mean", (mean(|f| f.luma_mean) * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: u64, mean: f64, std: f64, floor_share: f64, diff: Option<f64>) -> FrameStats {
        FrameStats {
            index,
            pts: index as f64 / 10.0,
            luma_mean: mean,
            luma_min: 0.0,
            luma_max: 255.0,
            luma_std: std,
            luma_diff: diff,
            floor_share,
            near_floor_share: 0.0,
            dark_share: if mean < 1.0 { 1.0 } else { 0.0 },
            bright_share: 0.0,
            flags: vec![],
        }
    }

    #[test]
    fn abrupt_black_is_nan_cast_but_a_fade_is_not() {
        let mut frames: Vec<FrameStats> = (0..10).map(|i| frame(i, 120.0, 40.0, 0.0, Some(5.0))).collect();
        for f in &mut frames[4..6] {
            *f = frame(f.index, 0.0, 0.0, 1.0, Some(100.0));
        }
        classify(&mut frames, 10.0, &FrameThresholds::default());
        assert_eq!(flagged_segments(&frames, FrameFlag::NanCast), vec![(4, 5)]);
        assert_eq!(flagged_segments(&frames, FrameFlag::Black), vec![(4, 5)]);
        assert!(flagged_segments(&frames, FrameFlag::BrightnessJump).is_empty());

        let shares = [0.0, 0.0005, 0.002, 0.005, 0.02, 0.2, 1.0];
        let mut fade: Vec<FrameStats> =
            shares.iter().enumerate().map(|(i, &s)| frame(i as u64, 100.0, 30.0, s, Some(5.0))).collect();
        classify(&mut fade, 10.0, &FrameThresholds::default());
        assert!(flagged_segments(&fade, FrameFlag::NanCast).is_empty());
    }

    /// A fade whose first floor pixels appear in one step (ten times more
    /// than the frame before) still came through the near-black band.
    #[test]
    fn a_fade_that_reaches_the_floor_in_one_step_is_not_a_nan_cast() {
        let steps = [(0.0, 0.0), (0.0005, 0.02), (0.03, 0.2), (0.3, 0.6), (1.0, 0.0)];
        let mut fade: Vec<FrameStats> = steps
            .iter()
            .enumerate()
            .map(|(i, &(floor, near))| FrameStats {
                near_floor_share: near,
                ..frame(i as u64, 60.0 - 15.0 * i as f64, 20.0, floor, Some(5.0))
            })
            .collect();
        classify(&mut fade, 10.0, &FrameThresholds::default());
        assert!(flagged_segments(&fade, FrameFlag::NanCast).is_empty());
        // The same floor share reached straight from content is the signature.
        fade[1].near_floor_share = 0.0;
        fade[2].near_floor_share = 0.001;
        classify(&mut fade, 10.0, &FrameThresholds::default());
        assert_eq!(flagged_segments(&fade, FrameFlag::NanCast), vec![(2, 4)]);
    }

    #[test]
    fn frozen_needs_the_minimum_duration() {
        let diffs = [None, Some(5.0), Some(0.0), Some(0.0), Some(0.0), Some(5.0), Some(0.0), Some(5.0)];
        let mut frames: Vec<FrameStats> =
            diffs.iter().enumerate().map(|(i, &d)| frame(i as u64, 100.0, 30.0, 0.0, d)).collect();
        let t = FrameThresholds { freeze_min_seconds: 0.3, ..FrameThresholds::default() };
        classify(&mut frames, 10.0, &t);
        assert_eq!(flagged_segments(&frames, FrameFlag::Frozen), vec![(1, 4)]);
    }

    #[test]
    fn runs_cover_edges() {
        assert_eq!(runs(5, |i| i != 2), vec![(0, 1), (3, 4)]);
        assert!(runs(0, |_| true).is_empty());
    }
}
