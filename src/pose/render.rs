//! Drawing poses the way EchoMimicV2 does (`draw_pose_select_v2` with
//! `ref_w = 800`): a black canvas scaled so its shorter side is 800 pixels;
//! for each hand, 20 edges as `cv2.line` thickness-2 lines (with OpenCV's
//! pixel coverage, see [`super::raster`]) in an HSV-wheel colour times
//! `int(s1 · s2 · 255)` and 21 dots of radius 4 whose red level is
//! `int(score · 255)`; points whose truncated pixel coordinates are not above
//! 0.01 are skipped, and so are edges touching them. The canvas is resized
//! back to `imw × imh` (bilinear) and pasted into the `W × H` frame at
//! `[rb:re, cb:ce]`. Body limbs and face dots are drawn only on request.
//!
//! The reference draws into a BGR canvas and converts to RGB at the end, so
//! a colour tuple `(a, b, c)` ends up as RGB `(c, b, a)`; that swap is kept.

use super::model::{HAND_POINTS, PoseFrame, draw_canvas};
use super::raster::{disc, ellipse_outline, fill_convex, thick_line};

/// An 8-bit RGB image, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Rgb {
    pub fn black(width: u32, height: u32) -> Rgb {
        Rgb { width, height, pixels: vec![0; width as usize * height as usize * 3] }
    }

    pub(crate) fn put(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if x >= 0 && y >= 0 && x < self.width as i64 && y < self.height as i64 {
            let at = (y as usize * self.width as usize + x as usize) * 3;
            self.pixels[at..at + 3].copy_from_slice(&colour);
        }
    }

    pub fn get(&self, x: u32, y: u32) -> [u8; 3] {
        let at = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[at], self.pixels[at + 1], self.pixels[at + 2]]
    }

    /// The share of pixels that are not pure black.
    pub fn non_black_share(&self) -> f64 {
        let lit = self.pixels.chunks_exact(3).filter(|p| p.iter().any(|&c| c > 0)).count();
        lit as f64 / (self.width as f64 * self.height as f64).max(1.0)
    }
}

/// What to draw besides the hands.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RenderOptions {
    pub body: bool,
    pub face: bool,
}

const HAND_EDGES: [(usize, usize); 20] = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (0, 9),
    (9, 10),
    (10, 11),
    (11, 12),
    (0, 13),
    (13, 14),
    (14, 15),
    (15, 16),
    (0, 17),
    (17, 18),
    (18, 19),
    (19, 20),
];

/// OpenPose-18 limbs (joint pairs) and their colours, as DWPose draws bodies.
const LIMBS: [(usize, usize); 17] = [
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
    (1, 0),
    (0, 14),
    (14, 16),
    (0, 15),
    (15, 17),
];
const LIMB_COLOURS: [[u8; 3]; 18] = [
    [255, 0, 0],
    [255, 85, 0],
    [255, 170, 0],
    [255, 255, 0],
    [170, 255, 0],
    [85, 255, 0],
    [0, 255, 0],
    [0, 255, 85],
    [0, 255, 170],
    [0, 255, 255],
    [0, 170, 255],
    [0, 85, 255],
    [0, 0, 255],
    [85, 0, 255],
    [170, 0, 255],
    [255, 0, 255],
    [255, 0, 170],
    [255, 0, 85],
];

/// matplotlib's `hsv_to_rgb([h, 1, 1])`.
fn hue(h: f64) -> [f64; 3] {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    match i as i64 % 6 {
        0 => [1.0, f, 0.0],
        1 => [1.0 - f, 1.0, 0.0],
        2 => [0.0, 1.0, f],
        3 => [0.0, 1.0 - f, 1.0],
        4 => [f, 0.0, 1.0],
        _ => [1.0, 0.0, 1.0 - f],
    }
}

/// A BGR colour tuple of the reference, as the final RGB pixel (saturating like OpenCV).
fn bgr(c: [f64; 3]) -> [u8; 3] {
    let sat = |v: f64| if v.is_finite() { v.round().clamp(0.0, 255.0) as u8 } else { 0 };
    [sat(c[2]), sat(c[1]), sat(c[0])]
}

/// Python's `int(v)` for the values the reference converts.
fn int(v: f64) -> i64 {
    if v.is_finite() { v.trunc().clamp(-1e9, 1e9) as i64 } else { 0 }
}

/// Pixels a drawing or its canvas may have (192 MiB of RGB). The canvas's
/// shorter side is 800 pixels, so real poses stay near a million; a file's
/// `draw_pose_params` could otherwise ask for a 1 × 16384 drawing, whose
/// canvas is 13107200 × 800 pixels (31 GB).
pub const MAX_CANVAS_PIXELS: u64 = 1 << 26;

/// A drawing refused before anything was allocated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("drawing {imw}×{imh} needs a {cw}×{ch} canvas, beyond the {MAX_CANVAS_PIXELS} pixels nanscope draws")]
pub struct CanvasTooLarge {
    pub imw: u32,
    pub imh: u32,
    pub cw: u32,
    pub ch: u32,
}

/// The sizes a frame is drawn at: the drawing `imw × imh` and the canvas
/// `cw × ch` it is drawn on before being resized to the drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canvas {
    pub imh: u32,
    pub imw: u32,
    pub cw: u32,
    pub ch: u32,
}

/// A frame's drawing and canvas sizes, or why they are too large to allocate.
pub fn canvas(frame: &PoseFrame, width: u32, height: u32) -> Result<Canvas, CanvasTooLarge> {
    let (imh, imw) = frame.draw_size(width, height);
    let (cw, ch) = draw_canvas(imh, imw);
    let pixels = |w: u32, h: u32| u64::from(w) * u64::from(h);
    if pixels(imw, imh) > MAX_CANVAS_PIXELS || pixels(cw, ch) > MAX_CANVAS_PIXELS {
        return Err(CanvasTooLarge { imw, imh, cw, ch });
    }
    Ok(Canvas { imh, imw, cw, ch })
}

/// The EchoMimicV2 drawing of one frame, at its `imw × imh` draw size.
pub fn draw(frame: &PoseFrame, width: u32, height: u32, options: RenderOptions) -> Result<Rgb, CanvasTooLarge> {
    let Canvas { imh, imw, cw, ch } = canvas(frame, width, height)?;
    let mut canvas = Rgb::black(cw, ch);
    let (w, h) = (cw as f64, ch as f64);
    if options.body {
        draw_body(&mut canvas, frame);
    }
    if let Some(hands) = &frame.hands {
        for group in 0..hands.groups() {
            let at = |k: usize| hands.points[group * HAND_POINTS + k];
            let score = |k: usize| hands.score(group * HAND_POINTS + k).unwrap_or(1.0);
            for (ie, &(a, b)) in HAND_EDGES.iter().enumerate() {
                let (pa, pb) = (at(a), at(b));
                if !passes(pa, cw, ch) || !passes(pb, cw, ch) {
                    continue;
                }
                let s = int(score(a) * score(b) * 255.0) as f64;
                let rgb = hue(ie as f64 / HAND_EDGES.len() as f64).map(|c| c * s);
                let p = |q: [f64; 2]| (int(q[0] * w), int(q[1] * h));
                thick_line(&mut canvas, p(pa), p(pb), 2, bgr(rgb));
            }
            for k in 0..HAND_POINTS {
                let q = at(k);
                if passes(q, cw, ch) {
                    let red = int(score(k) * 255.0) as f64;
                    disc(&mut canvas, int(q[0] * w), int(q[1] * h), 4, bgr([0.0, 0.0, red]));
                }
            }
        }
    }
    if options.face
        && let Some(faces) = &frame.faces
    {
        for (flat, &q) in faces.points.iter().enumerate() {
            if passes(q, cw, ch) {
                let conf = int(faces.score(flat).unwrap_or(1.0) * 255.0) as f64;
                disc(&mut canvas, int(q[0] * w), int(q[1] * h), 3, bgr([conf; 3]));
            }
        }
    }
    Ok(resize(&canvas, imw, imh))
}

/// The reference's `x > eps and y > eps` test on truncated pixel
/// coordinates. Points past the right or bottom edge pass it and are drawn
/// off the canvas (a dot near the edge still reaches into it).
fn passes(q: [f64; 2], cw: u32, ch: u32) -> bool {
    q[0].is_finite() && q[1].is_finite() && int(q[0] * cw as f64) > 0 && int(q[1] * ch as f64) > 0
}

fn draw_body(canvas: &mut Rgb, frame: &PoseFrame) {
    let (Some(bodies), Some(subset)) = (&frame.bodies, &frame.body_subset) else { return };
    let (w, h) = (canvas.width as f64, canvas.height as f64);
    let persons = subset.len() / 18;
    let joint = |p: usize, j: usize| -> Option<([f64; 2], f64)> {
        let index = subset.get(p * 18 + j).copied().filter(|&s| s >= 0.0)? as usize;
        let point = *bodies.points.get(index)?;
        let score = bodies.score(p * 18 + j).unwrap_or(1.0);
        (point[0].is_finite() && point[1].is_finite()).then_some((point, score))
    };
    // Limb by limb over all persons, as the reference loops.
    for (i, &(a, b)) in LIMBS.iter().enumerate() {
        for p in 0..persons {
            let (Some((pa, sa)), Some((pb, sb))) = (joint(p, a), joint(p, b)) else { continue };
            if sa < 0.3 || sb < 0.3 {
                continue;
            }
            // An ellipse 4 pixels to each side of the limb, in the limb's
            // colour times both scores; the reference then dims the whole
            // limb layer to 60% (truncating).
            let full = bgr(LIMB_COLOURS[i].map(|c| (c as f64 * sa * sb).trunc()));
            let colour = full.map(|c| (f64::from(c) * 0.6) as u8);
            let (ax, ay, bx, by) = (pa[0] * w, pa[1] * h, pb[0] * w, pb[1] * h);
            let centre = (int((ax + bx) / 2.0) as f64, int((ay + by) / 2.0) as f64);
            let half_length = int((ax - bx).hypot(ay - by) / 2.0) as f64;
            let angle = int((ay - by).atan2(ax - bx).to_degrees());
            fill_convex(canvas, &ellipse_outline(centre, (half_length, 4.0), angle), colour);
        }
    }
    for (j, base) in LIMB_COLOURS.iter().enumerate() {
        for p in 0..persons {
            let Some((q, score)) = joint(p, j) else { continue };
            let colour = base.map(|c| (c as f64 * score).trunc());
            disc(canvas, int(q[0] * w), int(q[1] * h), 4, bgr(colour));
        }
    }
}

/// Bilinear resize with pixel-centre alignment (OpenCV's INTER_LINEAR).
pub fn resize(src: &Rgb, width: u32, height: u32) -> Rgb {
    if src.width == width && src.height == height {
        return src.clone();
    }
    let mut out = Rgb::black(width, height);
    let sx = src.width as f64 / width as f64;
    let sy = src.height as f64 / height as f64;
    let axis = |d: u32, scale: f64, limit: u32| {
        let f = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (f.floor() as u32).min(limit - 1);
        let i1 = (i0 + 1).min(limit - 1);
        (i0, i1, f - i0 as f64)
    };
    let columns: Vec<(u32, u32, f64)> = (0..width).map(|x| axis(x, sx, src.width)).collect();
    // Pose drawings are about 99% black: only output pixels that sample the
    // lit part of the source are computed.
    let Some([lx0, ly0, lx1, ly1]) = lit_box(src) else { return out };
    for y in 0..height {
        let (y0, y1, fy) = axis(y, sy, src.height);
        if y1 < ly0 || y0 > ly1 {
            continue;
        }
        for (x, &(x0, x1, fx)) in columns.iter().enumerate() {
            if x1 < lx0 || x0 > lx1 {
                continue;
            }
            let (a, b, c, d) = (src.get(x0, y0), src.get(x1, y0), src.get(x0, y1), src.get(x1, y1));
            let at = (y as usize * width as usize + x) * 3;
            for ch in 0..3 {
                let top = a[ch] as f64 * (1.0 - fx) + b[ch] as f64 * fx;
                let bottom = c[ch] as f64 * (1.0 - fx) + d[ch] as f64 * fx;
                out.pixels[at + ch] = (top * (1.0 - fy) + bottom * fy).round() as u8;
            }
        }
    }
    out
}

/// The smallest box `[x0, y0, x1, y1]` (inclusive) holding every non-black pixel.
fn lit_box(image: &Rgb) -> Option<[u32; 4]> {
    let w = image.width as usize;
    let mut bounds: Option<[u32; 4]> = None;
    for (y, row) in image.pixels.chunks_exact(w * 3).enumerate() {
        let Some(first) = row.iter().position(|&c| c > 0) else { continue };
        let last = row.iter().rposition(|&c| c > 0).unwrap_or(first);
        let (x0, x1, y) = ((first / 3) as u32, (last / 3) as u32, y as u32);
        bounds = Some(match bounds {
            None => [x0, y, x1, y],
            Some([a, b, c, _]) => [a.min(x0), b, c.max(x1), y],
        });
    }
    bounds
}

/// The whole `width × height` condition frame: the drawing pasted at
/// `[rb:re, cb:ce]` (clipped to the frame).
pub fn render_frame(frame: &PoseFrame, width: u32, height: u32, options: RenderOptions) -> Result<Rgb, CanvasTooLarge> {
    let drawing = draw(frame, width, height, options)?;
    let (rb, cb) = match frame.draw_params.as_deref() {
        Some([_, _, rb, _, cb, _]) => ((*rb).max(0) as u32, (*cb).max(0) as u32),
        _ => (0, 0),
    };
    if rb == 0 && cb == 0 && drawing.width == width && drawing.height == height {
        return Ok(drawing);
    }
    let mut out = Rgb::black(width, height);
    for y in 0..drawing.height.min(height.saturating_sub(rb)) {
        for x in 0..drawing.width.min(width.saturating_sub(cb)) {
            out.put((x + cb) as i64, (y + rb) as i64, drawing.get(x, y));
        }
    }
    Ok(out)
}

/// Encodes an image as PNG.
pub fn png(image: &Rgb) -> Result<Vec<u8>, image::ImageError> {
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes).write_image(
        &image.pixels,
        image.width,
        image.height,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::echomimic::tests::demo_frame;

    #[test]
    fn a_frame_is_mostly_black_with_red_dots_for_hand_points() {
        let frame = demo_frame(0);
        let image = render_frame(&frame, 768, 768, RenderOptions::default()).unwrap();
        assert_eq!((image.width, image.height), (768, 768));
        let share = image.non_black_share();
        assert!(share > 0.002 && share < 0.05, "{share}");
        // The wrist of the left hand, scaled 800 -> 768, is a red dot (score 0.8 -> 204).
        let [x, y] = frame.hands.as_ref().unwrap().points[0];
        let pixel = image.get((x * 768.0) as u32, (y * 768.0) as u32);
        assert!(pixel[0] > 150 && pixel[1] < 40 && pixel[2] < 40, "{pixel:?}");
        let with_body = render_frame(&frame, 768, 768, RenderOptions { body: true, face: true }).unwrap();
        assert!(with_body.non_black_share() > share);
    }

    #[test]
    fn sentinel_and_nan_hands_draw_nothing() {
        let mut frame = demo_frame(0);
        frame.hands.as_mut().unwrap().points.iter_mut().for_each(|p| *p = [-1.0, f64::NAN]);
        assert_eq!(render_frame(&frame, 768, 768, RenderOptions::default()).unwrap().non_black_share(), 0.0);
    }

    #[test]
    fn extreme_draw_params_are_refused_before_allocating() {
        // Regression (fuzzing): a 1 × 16384 drawing asked for a 31 GB canvas.
        let mut frame = demo_frame(0);
        frame.draw_params = Some(vec![1, 16384, 0, 1, 0, 16384]);
        let err = render_frame(&frame, 16384, 768, RenderOptions::default()).unwrap_err();
        assert_eq!((err.cw, err.ch), (13_107_200, 800));
        frame.draw_params = Some(vec![16384, 16384, 0, 16384, 0, 16384]);
        assert!(render_frame(&frame, 768, 768, RenderOptions::default()).is_err());
        frame.draw_params = Some(vec![768, 1024, 0, 768, 0, 1024]);
        assert!(render_frame(&frame, 1024, 768, RenderOptions::default()).is_ok());
    }

    #[test]
    fn png_encodes() {
        let bytes = png(&Rgb::black(4, 3)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
    }
}
