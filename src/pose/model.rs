//! The one in-memory pose model. Every reader (EchoMimicV2 `.npy`, OpenPose
//! and ControlNet JSON) produces `PoseFrame`s; checks, repair, rendering and
//! the writers only ever see this model.
//!
//! Coordinates are normalised to the drawing canvas ([0, 1] spans it) unless
//! `units` says the reader could not normalise them.

use serde::Serialize;

/// The file format a frame was read from; repair answers in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PoseFormat {
    /// EchoMimicV2 / DWPose: a pickled dict in a 0-d object `.npy`.
    EchoMimic,
    /// OpenPose `--write_json`: `people[]` with flat `x, y, c` lists.
    OpenPose,
    /// OpenPose-style JSON with `canvas_width`/`canvas_height` (ControlNet, ComfyUI).
    ControlNet,
}

impl PoseFormat {
    pub fn name(self) -> &'static str {
        match self {
            PoseFormat::EchoMimic => "echomimic",
            PoseFormat::OpenPose => "openpose",
            PoseFormat::ControlNet => "controlnet",
        }
    }
}

/// What the coordinates of a frame are measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// Fractions of the canvas: (0, 0) top-left, (1, 1) bottom-right.
    Normalized,
    /// Source pixels of an image whose size is unknown.
    Pixels,
}

/// The three keypoint groups of a pose, named as in EchoMimicV2's dict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    Bodies,
    Hands,
    Faces,
}

impl PartKind {
    pub const ALL: [PartKind; 3] = [PartKind::Bodies, PartKind::Hands, PartKind::Faces];

    pub fn name(self) -> &'static str {
        match self {
            PartKind::Bodies => "bodies",
            PartKind::Hands => "hands",
            PartKind::Faces => "faces",
        }
    }

    /// The subject key of one keypoint, e.g. `hands[1][5]`.
    pub fn keypoint(self, group: usize, index: usize) -> String {
        format!("{}[{group}][{index}]", self.name())
    }
}

/// Points per hand in every supported layout.
pub const HAND_POINTS: usize = 21;
/// Body joints in the DWPose / OpenPose-18 (COCO) order EchoMimicV2 stores.
pub const BODY_JOINTS: usize = 18;
/// Face landmarks in DWPose (OpenPose adds two pupils to make 70).
pub const FACE_POINTS: usize = 68;

/// `groups × per_group` keypoints with optional per-point confidences.
///
/// Hands follow DWPose: the left hands of all people first, then the right
/// hands (one person: `[0]` left, `[1]` right). Bodies hold DWPose's
/// `candidate` rows, person-major (`18·person + joint`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Part {
    pub per_group: usize,
    pub points: Vec<[f64; 2]>,
    pub scores: Option<Vec<f64>>,
}

impl Part {
    pub fn new(per_group: usize, points: Vec<[f64; 2]>, scores: Option<Vec<f64>>) -> Part {
        Part { per_group, points, scores }
    }

    pub fn groups(&self) -> usize {
        self.points.len().checked_div(self.per_group).unwrap_or(0)
    }

    pub fn score(&self, flat: usize) -> Option<f64> {
        self.scores.as_ref().and_then(|s| s.get(flat).copied())
    }
}

/// One frame of a pose sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct PoseFrame {
    pub bodies: Option<Part>,
    /// `bodies.subset`: per person and joint, the candidate index or -1.
    pub body_subset: Option<Vec<f64>>,
    pub hands: Option<Part>,
    pub faces: Option<Part>,
    /// EchoMimicV2's `num` field (the frame index it was written for).
    pub num: Option<i64>,
    /// EchoMimicV2's `draw_pose_params`, `[imh_new, imw_new, rb, re, cb, ce]`.
    pub draw_params: Option<Vec<i64>>,
    /// The source image size, when the file records it (ControlNet canvas).
    pub canvas: Option<[u32; 2]>,
    pub units: Units,
}

impl PoseFrame {
    pub fn empty() -> PoseFrame {
        PoseFrame {
            bodies: None,
            body_subset: None,
            hands: None,
            faces: None,
            num: None,
            draw_params: None,
            canvas: None,
            units: Units::Normalized,
        }
    }

    pub fn part(&self, kind: PartKind) -> Option<&Part> {
        match kind {
            PartKind::Bodies => self.bodies.as_ref(),
            PartKind::Hands => self.hands.as_ref(),
            PartKind::Faces => self.faces.as_ref(),
        }
    }

    pub fn part_mut(&mut self, kind: PartKind) -> Option<&mut Part> {
        match kind {
            PartKind::Bodies => self.bodies.as_mut(),
            PartKind::Hands => self.hands.as_mut(),
            PartKind::Faces => self.faces.as_mut(),
        }
    }

    /// Whether keypoint `flat` of `kind` is a real detection (finite or not)
    /// rather than a "not detected" marker.
    pub fn is_present(&self, kind: PartKind, flat: usize) -> bool {
        let Some(part) = self.part(kind) else { return false };
        let Some(&[x, y]) = part.points.get(flat) else { return false };
        if kind == PartKind::Bodies && !self.body_joint_used(flat) {
            return false;
        }
        !is_missing_marker(x, y, part.score(flat))
    }

    /// A body candidate row counts when some person's subset points at it.
    /// DWPose writes subset `18·person + joint`, so the row's own slot is checked first.
    fn body_joint_used(&self, flat: usize) -> bool {
        match &self.body_subset {
            Some(subset) => match subset.get(flat) {
                Some(&s) if s == flat as f64 => true,
                _ => subset.contains(&(flat as f64)),
            },
            None => true,
        }
    }

    /// How many hand points EchoMimicV2 would draw at `width × height`.
    pub fn drawn_hand_points(&self, width: u32, height: u32) -> usize {
        let Some(hands) = &self.hands else { return 0 };
        hands.points.iter().filter(|&&[x, y]| drawn_by_echomimic(x, y, width, height)).count()
    }
}

/// "Not detected" markers: OpenPose's `0, 0, 0`, DWPose's `-1, -1`,
/// ControlNet's `-1/W, -1/H`, or a zero confidence.
pub fn is_missing_marker(x: f64, y: f64, score: Option<f64>) -> bool {
    score.is_some_and(|s| s <= 0.0) || (x <= 0.0 && y <= 0.0)
}

/// EchoMimicV2's hand drawing rule: `int(x·W)` and `int(y·H)` (truncation
/// towards zero) must both exceed 0.01, i.e. be at least 1; points past the
/// right or bottom edge are drawn off the canvas and leave no pixel. NaN and
/// infinite values crash the reference renderer; here they are not drawn.
pub fn drawn_by_echomimic(x: f64, y: f64, width: u32, height: u32) -> bool {
    let px = (x * width as f64).trunc();
    let py = (y * height as f64).trunc();
    px.is_finite() && py.is_finite() && px > 0.01 && py > 0.01 && px < width as f64 && py < height as f64
}

/// The width and height of EchoMimicV2's drawing canvas for a pose drawn at
/// `imh × imw`: scaled so its shorter side is `ref_w = 800` pixels (the
/// result is resized back to `imw × imh` afterwards).
pub fn draw_canvas(imh: u32, imw: u32) -> (u32, u32) {
    const REF_W: f64 = 800.0;
    let short = imh.min(imw).max(1) as f64;
    let scale = if short != REF_W { REF_W / short } else { 1.0 };
    ((imw as f64 * scale) as u32, (imh as f64 * scale) as u32)
}

impl PoseFrame {
    /// `(imh_new, imw_new)` from valid-looking `draw_pose_params`, else the
    /// generation size.
    pub fn draw_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.draw_params.as_deref() {
            Some([imh, imw, ..]) if (1..=16384).contains(imh) && (1..=16384).contains(imw) => {
                (*imh as u32, *imw as u32)
            }
            _ => (height, width),
        }
    }

    /// Hand points drawn on EchoMimicV2's canvas for a `width × height` generation.
    pub fn visible_hand_points(&self, width: u32, height: u32) -> usize {
        let (imh, imw) = self.draw_size(width, height);
        let (cw, ch) = draw_canvas(imh, imw);
        self.drawn_hand_points(cw, ch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_rule_truncates_like_int() {
        assert!(!drawn_by_echomimic(0.001, 0.5, 768, 768));
        assert!(drawn_by_echomimic(1.5 / 768.0, 0.5, 768, 768));
        assert!(!drawn_by_echomimic(-0.0005, 0.5, 768, 768));
        assert!(!drawn_by_echomimic(f64::NAN, 0.5, 768, 768));
        assert!(!drawn_by_echomimic(1.2, 0.5, 768, 768));
    }

    #[test]
    fn markers_are_missing() {
        assert!(is_missing_marker(-1.0, -1.0, Some(0.9)));
        assert!(is_missing_marker(0.0, 0.0, None));
        assert!(is_missing_marker(0.4, 0.4, Some(0.0)));
        assert!(!is_missing_marker(-0.016, 0.5, Some(0.9)));
        assert_eq!(PartKind::Hands.keypoint(1, 5), "hands[1][5]");
        assert_eq!(draw_canvas(768, 768), (800, 800));
        assert_eq!(draw_canvas(800, 1000), (1000, 800));
    }
}
