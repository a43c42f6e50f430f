//! `video compare --plot DIR`: the worst frame pair side by side — candidate,
//! golden and their luma difference — as one PNG.

use std::path::{Path, PathBuf};

use super::compare::{VideoComparison, WorstPair};
use super::metrics::{Chroma, FrameLayout};
use crate::report::plot::save_rgb;

/// Pixels between the three panels.
const GAP: usize = 8;
/// The difference panel shows |candidate − golden| luma times this.
const DIFF_GAIN: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum ComparePlotError {
    #[error("cannot create {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("cannot write {path}: {detail}")]
    Write { path: PathBuf, detail: String },
}

/// Writes `<candidate>-vs-<golden>.worst.png` into `dir` when a pair was
/// kept (`CompareOptions::keep_worst`); returns its path.
pub fn plot_worst(result: &VideoComparison, dir: &Path) -> Result<Option<PathBuf>, ComparePlotError> {
    let Some(pair) = &result.worst else { return Ok(None) };
    std::fs::create_dir_all(dir).map_err(|error| ComparePlotError::Io { path: dir.to_path_buf(), error })?;
    let stem = |file: &str| Path::new(file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let path = dir.join(format!("{}-vs-{}.worst.png", stem(&result.candidate.file), stem(&result.golden.file)));
    let (size, buf) = side_by_side(pair);
    save_rgb(&path, size, buf).map_err(|detail| ComparePlotError::Write { path: path.clone(), detail })?;
    Ok(Some(path))
}

/// The RGB canvas: candidate | golden | amplified luma difference.
fn side_by_side(pair: &WorstPair) -> ((u32, u32), Vec<u8>) {
    let FrameLayout { width: w, height: h, .. } = pair.layout;
    let canvas_w = 3 * w + 2 * GAP;
    let mut buf = vec![255u8; canvas_w * h * 3];
    let (cand, gold) = (to_rgb(&pair.layout, &pair.candidate), to_rgb(&pair.layout, &pair.golden));
    for y in 0..h {
        let row = &mut buf[y * canvas_w * 3..(y + 1) * canvas_w * 3];
        row[..w * 3].copy_from_slice(&cand[y * w * 3..(y + 1) * w * 3]);
        let golden_at = (w + GAP) * 3;
        row[golden_at..golden_at + w * 3].copy_from_slice(&gold[y * w * 3..(y + 1) * w * 3]);
        let diff_at = 2 * (w + GAP) * 3;
        for x in 0..w {
            let d = u32::from(pair.candidate[y * w + x].abs_diff(pair.golden[y * w + x]));
            let v = (d * DIFF_GAIN).min(255) as u8;
            row[diff_at + 3 * x..diff_at + 3 * x + 3].copy_from_slice(&[v, v, v]);
        }
    }
    ((canvas_w as u32, h as u32), buf)
}

/// BT.601 limited-range YUV to RGB (a picture to look at, not a measurement).
fn to_rgb(layout: &FrameLayout, frame: &[u8]) -> Vec<u8> {
    let (w, h) = (layout.width, layout.height);
    let planes = layout.split(frame);
    let chroma_at = |x: usize, y: usize| -> (f32, f32) {
        let (cx, cy, cw) = match layout.chroma {
            Chroma::Mono => return (128.0, 128.0),
            Chroma::C420 => (x / 2, y / 2, w.div_ceil(2)),
            Chroma::C422 => (x / 2, y, w.div_ceil(2)),
            Chroma::C444 => (x, y, w),
        };
        (f32::from(planes[1][cy * cw + cx]), f32::from(planes[2][cy * cw + cx]))
    };
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let luma = (f32::from(planes[0][y * w + x]) - 16.0) * 1.164;
            let (u, v) = chroma_at(x, y);
            let (u, v) = (u - 128.0, v - 128.0);
            let (r, g, b) = (luma + 1.596 * v, luma - 0.392 * u - 0.813 * v, luma + 2.017 * u);
            rgb.extend([r, g, b].map(|c| c.clamp(0.0, 255.0) as u8));
        }
    }
    rgb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canvas_holds_three_panels() {
        let layout = FrameLayout { width: 8, height: 4, chroma: Chroma::C420 };
        let len = layout.frame_len().unwrap();
        let pair = WorstPair { frame: 3, layout, candidate: vec![100; len], golden: vec![110; len] };
        let ((w, h), buf) = side_by_side(&pair);
        assert_eq!((w, h), (3 * 8 + 2 * GAP as u32, 4));
        assert_eq!(buf.len(), (w * h * 3) as usize);
        let diff_pixel = 2 * (8 + GAP) * 3;
        assert_eq!(buf[diff_pixel], 40);
    }
}
