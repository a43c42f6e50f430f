//! Context windows: which frames each denoising-UNet call sees.
//!
//! EchoMimicV2 denoises a long video in windows of `context_frames` frames.
//! The windows are planned once, before the loop (the "uniform" schedule
//! with stride 1, closed loop): one window of every frame when the video is
//! no longer than a window, otherwise a window starting every
//! `context_frames - context_overlap` frames, wrapping around the end. At
//! step `k` every frame index is shifted by `3·k` modulo the length. The
//! predictions of all windows are summed per frame and divided by how many
//! windows covered the frame; a frame no window covers divides 0 by 0.

use serde::Serialize;

/// How far every window moves per denoising step, in frames.
pub(crate) const SHIFT_PER_STEP: usize = 3;

/// A window plan the reference pipeline itself refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    #[error("context_frames = 0: a window must hold at least one frame")]
    EmptyWindow,
    #[error(
        "context_overlap = {overlap} equals context_frames: windows would start every 0 frames \
         (the reference pipeline stops with \"range() arg 3 must not be zero\")"
    )]
    ZeroStride { overlap: usize },
}

/// The windows of one step, as frame indices in the order the UNet sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowPlan {
    pub frames: usize,
    pub context_frames: usize,
    pub context_overlap: usize,
    /// The windows of step 0; later steps shift them (`at_step`).
    pub windows: Vec<Vec<usize>>,
}

impl WindowPlan {
    /// Plans the windows as the pipelines do before their loop.
    pub fn new(frames: usize, context_frames: usize, context_overlap: usize) -> Result<WindowPlan, ContextError> {
        if context_frames == 0 {
            return Err(ContextError::EmptyWindow);
        }
        let windows = if frames <= context_frames {
            vec![(0..frames).collect()]
        } else if context_overlap == context_frames {
            return Err(ContextError::ZeroStride { overlap: context_overlap });
        } else if context_overlap > context_frames {
            // The start range runs from 0 towards `frames` with a negative
            // step: it is empty, and so is the plan.
            Vec::new()
        } else {
            let stride = context_frames - context_overlap;
            (0..frames)
                .step_by(stride)
                .map(|start| (start..start + context_frames).map(|f| f % frames).collect())
                .collect()
        };
        Ok(WindowPlan { frames, context_frames, context_overlap, windows })
    }

    /// The windows at denoising step `step`: every index shifted by
    /// `3·step` modulo the length.
    pub fn at_step(&self, step: usize) -> Vec<Vec<usize>> {
        let frames = self.frames.max(1);
        let shift = step.wrapping_mul(SHIFT_PER_STEP) % frames;
        self.windows.iter().map(|w| w.iter().map(|&f| (f + shift) % frames).collect()).collect()
    }

    /// How many windows cover each frame at step 0 (the per-frame counter).
    /// Shifting moves every window alike, so each step has the same counts
    /// rotated; a frame with count 0 at one step has a zero at every step.
    #[cfg(test)]
    pub fn coverage(&self) -> Vec<u32> {
        coverage(&self.windows, self.frames)
    }

    /// Frames no window covers at `step`: their average is 0/0 = NaN.
    pub fn uncovered_at(&self, step: usize) -> Vec<usize> {
        let counts = coverage(&self.at_step(step), self.frames);
        counts.iter().enumerate().filter(|&(_, &c)| c == 0).map(|(f, _)| f).collect()
    }
}

/// R143 before the run: the frames no window of the plan covers.
pub(crate) fn plan_findings(plan: &WindowPlan) -> Vec<crate::report::Finding> {
    let uncovered = plan.uncovered_at(0);
    if uncovered.is_empty() {
        return Vec::new();
    }
    vec![super::findings::window_gap(&uncovered, plan.frames, plan.context_frames, plan.context_overlap, None)]
}

/// Per-frame counts of the windows that include each frame.
pub(crate) fn coverage(windows: &[Vec<usize>], frames: usize) -> Vec<u32> {
    let mut counts = vec![0u32; frames];
    for window in windows {
        for &f in window {
            if let Some(c) = counts.get_mut(f) {
                *c = c.saturating_add(1);
            }
        }
    }
    counts
}

/// Compresses sorted frame indices into inclusive ranges (`[[0, 3], [7, 7]]`).
pub(crate) fn ranges(frames: &[usize]) -> Vec<[usize; 2]> {
    let mut out: Vec<[usize; 2]> = Vec::new();
    for &f in frames {
        match out.last_mut() {
            Some(last) if last[1] + 1 == f => last[1] = f,
            _ => out.push([f, f]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Case {
        frames: usize,
        context_frames: usize,
        context_overlap: usize,
        steps: usize,
        windows: Vec<Vec<Vec<usize>>>,
    }

    #[derive(serde::Deserialize)]
    struct Schedules {
        cases: Vec<Case>,
    }

    /// The plans agree with the reference scheduler's output, step by step,
    /// for every configuration make_context_schedules.py recorded.
    #[test]
    fn windows_match_the_reference_scheduler() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/replay/echomimic/context_schedules.json");
        let schedules: Schedules = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(schedules.cases.len() >= 100);
        for case in &schedules.cases {
            let plan = WindowPlan::new(case.frames, case.context_frames, case.context_overlap).unwrap();
            assert_eq!(case.windows.len(), case.steps);
            for (step, expected) in case.windows.iter().enumerate() {
                assert_eq!(
                    &plan.at_step(step),
                    expected,
                    "frames {} context {} overlap {} step {step}",
                    case.frames,
                    case.context_frames,
                    case.context_overlap
                );
            }
        }
    }

    #[test]
    fn shipped_defaults_cover_every_frame_once_or_twice() {
        let plan = WindowPlan::new(240, 12, 3).unwrap();
        assert_eq!(plan.windows.len(), 27);
        assert!(plan.coverage().iter().all(|&c| c == 1 || c == 2));
        assert!(plan.uncovered_at(5).is_empty());
    }

    #[test]
    fn overlap_beyond_the_window_leaves_every_frame_uncovered() {
        let plan = WindowPlan::new(24, 12, 14).unwrap();
        assert!(plan.windows.is_empty());
        assert_eq!(plan.uncovered_at(0), (0..24).collect::<Vec<_>>());
        assert_eq!(ranges(&plan.uncovered_at(0)), vec![[0, 23]]);
        let found = plan_findings(&plan);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code(), "R143");
        assert!(found[0].message.contains("24 of 24 frames (0–23)"), "{}", found[0].message);
        assert_eq!(found[0].subject.frames, Some([0, 23]));
        assert!(plan_findings(&WindowPlan::new(240, 12, 3).unwrap()).is_empty());
        // A video no longer than a window is one window, whatever the overlap.
        assert!(WindowPlan::new(12, 12, 14).unwrap().uncovered_at(0).is_empty());
    }

    #[test]
    fn impossible_plans_are_refused() {
        assert_eq!(WindowPlan::new(24, 12, 12), Err(ContextError::ZeroStride { overlap: 12 }));
        assert_eq!(WindowPlan::new(24, 0, 0), Err(ContextError::EmptyWindow));
        // Short videos never reach the stride, as in the reference.
        assert!(WindowPlan::new(10, 12, 12).is_ok());
    }

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), vec![[0, 2], [5, 5], [7, 8]]);
        assert!(ranges(&[]).is_empty());
    }
}
