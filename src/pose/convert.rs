//! Converting between EchoMimicV2 `.npy` and OpenPose JSON.
//!
//! Coordinate normalisation: EchoMimicV2 stores coordinates as fractions of
//! its square crop (the 768 × 768 drawing). OpenPose JSON is written in
//! pixels of a `width × height` canvas (`--width/--height`, default
//! 768 × 768): x_px = x · width, y_px = y · height, with `canvas_width` and
//! `canvas_height` recording the size. Reading OpenPose divides by the canvas
//! size from the file (or `--source-size`); values already within 1.5 are
//! taken as normalised. Points not detected become `0, 0, 0` in OpenPose and
//! keep their coordinates with score 0 in EchoMimicV2 (not drawn either way).
//!
//! Layout: bodies become COCO-18 (BODY_25's mid-hip and feet are dropped),
//! faces 68 points for EchoMimicV2 (OpenPose's two pupils dropped) and 70
//! for OpenPose (pupils written as not detected); hands keep 21 points, the
//! left hands of all people first as in DWPose.

use super::model::{FACE_POINTS, Part, PoseFormat, PoseFrame, Units};
use super::sequence::{NamePattern, PoseSequence};

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0} holds pixel coordinates of an unknown image size; pass --source-size WIDTHxHEIGHT to normalise them")]
    PixelUnits(String),
    #[error("no frame of the input could be read, so there is nothing to convert")]
    Empty,
}

/// The converted frames (numbered from 0), how to name them, and their format.
#[derive(Debug, Clone)]
pub struct Converted {
    pub frames: Vec<(u64, PoseFrame)>,
    pub pattern: NamePattern,
    pub format: PoseFormat,
}

pub fn convert(seq: &PoseSequence, to: PoseFormat, width: u32, height: u32) -> Result<Converted, ConvertError> {
    let mut frames = Vec::new();
    for file in &seq.frames {
        let Some(pose) = &file.reading.pose else { continue };
        if pose.units == Units::Pixels {
            return Err(ConvertError::PixelUnits(file.file.clone()));
        }
        let index = file.index - seq.first_index;
        let mut frame = pose.clone();
        match to {
            PoseFormat::EchoMimic => {
                if let Some(faces) = frame.faces.as_mut().filter(|f| f.per_group > FACE_POINTS) {
                    *faces = truncate_groups(faces, FACE_POINTS);
                }
                frame.num = Some(index as i64);
                frame.draw_params = Some(vec![height as i64, width as i64, 0, height as i64, 0, width as i64]);
                frame.canvas = None;
            }
            PoseFormat::OpenPose | PoseFormat::ControlNet => frame.canvas = Some([width, height]),
        }
        frames.push((index, frame));
    }
    if frames.is_empty() {
        return Err(ConvertError::Empty);
    }
    let pattern = match to {
        PoseFormat::EchoMimic => NamePattern::echomimic(),
        _ => {
            let stem = seq
                .folder
                .as_ref()
                .and_then(|f| f.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pose".into());
            NamePattern { prefix: format!("{stem}_"), width: 12, suffix: "_keypoints.json".into() }
        }
    };
    Ok(Converted { frames, pattern, format: to })
}

/// Keeps the first `per` points of every group.
fn truncate_groups(part: &Part, per: usize) -> Part {
    let keep = |i: &usize| i % part.per_group < per;
    Part {
        per_group: per,
        points: part.points.iter().enumerate().filter(|(i, _)| keep(i)).map(|(_, p)| *p).collect(),
        scores: part.scores.as_ref().map(|s| s.iter().enumerate().filter(|(i, _)| keep(i)).map(|(_, v)| *v).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seventy_point_faces_lose_their_pupils() {
        let part =
            Part::new(70, (0..140).map(|i| [i as f64, 0.0]).collect(), Some((0..140).map(|i| i as f64).collect()));
        let cut = truncate_groups(&part, 68);
        assert_eq!(cut.points.len(), 136);
        assert_eq!(cut.points[68], [70.0, 0.0]);
        assert_eq!(cut.scores.unwrap()[67], 67.0);
    }
}
