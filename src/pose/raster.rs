//! Lines and filled polygons with the pixel coverage of OpenCV's 8-connected
//! drawing, which EchoMimicV2's `draw_handpose` (`cv2.line`, thickness 2) and
//! DWPose's `draw_bodypose` (`cv2.ellipse2Poly` + `cv2.fillConvexPoly`) use.
//!
//! A thick line is a rectangle `thickness / 2` to each side of the segment
//! plus a round cap at each end. The rectangle is filled one row at a time
//! between its edges, each end rounded to the nearest pixel, and its outline
//! is walked one pixel per step along its longer axis: the outline makes a
//! 2-pixel line about 3 pixels wide along an axis and 5 pixels across a row
//! on a diagonal, which an ideal "distance ≤ 1" stroke draws much thinner.
//! Coordinates are fixed point with 16 fractional bits, as the reference
//! computes them; nothing here allocates beyond the polygon's outline, and
//! every loop is bounded by the canvas.

use super::render::Rgb;

const SHIFT: u32 = 16;
const ONE: i64 = 1 << SHIFT;
const HALF: i64 = ONE >> 1;

/// A point in fixed point (pixels × 2¹⁶).
type Fixed = (i64, i64);

/// A segment `thickness` pixels wide between pixel centres `a` and `b`, as
/// `cv2.line(img, a, b, colour, thickness)` draws it (thickness ≥ 2).
pub fn thick_line(image: &mut Rgb, a: (i64, i64), b: (i64, i64), thickness: u32, colour: [u8; 3]) {
    // Half the thickness, in fixed point; an odd thickness adds half a pixel.
    let half = i64::from(thickness) << (SHIFT - 1);
    let odd = f64::from(thickness & 1) * 0.5 * ONE as f64;
    let (dx, dy) = ((a.0 - b.0) as f64, (b.1 - a.1) as f64);
    let len2 = dx * dx + dy * dy;
    if len2 > f64::EPSILON {
        let r = (half as f64 + odd) / len2.sqrt();
        let dp = ((dy * r).round_ties_even() as i64, (dx * r).round_ties_even() as i64);
        let (p, q) = (fixed(a), fixed(b));
        let corners =
            [(p.0 + dp.0, p.1 + dp.1), (p.0 - dp.0, p.1 - dp.1), (q.0 - dp.0, q.1 - dp.1), (q.0 + dp.0, q.1 + dp.1)];
        fill_convex(image, &corners, colour);
    }
    let radius = (half + HALF) >> SHIFT;
    for end in [a, b] {
        disc(image, end.0, end.1, radius, colour);
    }
}

/// A pixel position in fixed point; positions are clamped far outside any
/// canvas first so the products below stay in range.
fn fixed(p: (i64, i64)) -> Fixed {
    const FAR: i64 = 1 << 30;
    (p.0.clamp(-FAR, FAR) << SHIFT, p.1.clamp(-FAR, FAR) << SHIFT)
}

/// A filled disc: every pixel within `radius` of the centre (for the radii
/// the drawings use, 1 to 4, the same pixels as `cv2.circle(..., -1)`).
pub fn disc(image: &mut Rgb, cx: i64, cy: i64, radius: i64, colour: [u8; 3]) {
    for dy in -radius..=radius {
        for dx in -radius..=radius {
            if dx * dx + dy * dy <= radius * radius {
                image.put(cx + dx, cy + dy, colour);
            }
        }
    }
}

/// The convex polygon through `corners` (fixed point), filled row by row
/// between its edges with each end rounded, and its outline walked.
pub fn fill_convex(image: &mut Rgb, corners: &[Fixed], colour: [u8; 3]) {
    if corners.len() < 3 || image.width == 0 || image.height == 0 {
        return;
    }
    for (i, &to) in corners.iter().enumerate() {
        let from = corners[(i + corners.len() - 1) % corners.len()];
        outline(image, from, to, colour);
    }
    let row = |y: i64| (y + HALF) >> SHIFT;
    let top = corners.iter().map(|c| row(c.1)).min().unwrap_or(0);
    let bottom = corners.iter().map(|c| row(c.1)).max().unwrap_or(0);
    let last_row = i64::from(image.height) - 1;
    for y in top.max(0)..=bottom.min(last_row) {
        let mut span: Option<(i64, i64)> = None;
        for (i, &p) in corners.iter().enumerate() {
            let q = corners[(i + corners.len() - 1) % corners.len()];
            let (mut s, mut e) = ((p, row(p.1)), (q, row(q.1)));
            if s.1 == e.1 {
                continue;
            }
            if s.1 > e.1 {
                std::mem::swap(&mut s, &mut e);
            }
            // An edge covers the rows from its upper end to just above its
            // lower end; the lowest row of the polygon belongs to the edges
            // that end there.
            if !(s.1 <= y && (y < e.1 || (y == e.1 && y == bottom))) {
                continue;
            }
            // The edge's x steps by a rounded per-row increment from its
            // upper end, as the reference walks it.
            let rows = i128::from(e.1 - s.1);
            let num = i128::from(e.0.0 - s.0.0) * 2 + rows;
            let step = num / (2 * rows);
            let x = i128::from(s.0.0) + step * i128::from(y - s.1);
            let x = x.clamp(i128::from(i64::MIN / 4), i128::from(i64::MAX / 4)) as i64;
            span = Some(span.map_or((x, x), |(l, r)| (l.min(x), r.max(x))));
        }
        if let Some((left, right)) = span {
            let first = ((left + HALF) >> SHIFT).max(0);
            let last = ((right + HALF) >> SHIFT).min(i64::from(image.width) - 1);
            for x in first..=last {
                image.put(x, y, colour);
            }
        }
    }
}

/// One edge of a polygon outline: clipped to the canvas, then one pixel per
/// unit step along the longer axis, the other coordinate truncated after
/// adding half a pixel; the far end is drawn too.
fn outline(image: &mut Rgb, from: Fixed, to: Fixed, colour: [u8; 3]) {
    let Some((mut p, mut q)) = clip(i64::from(image.width), i64::from(image.height), from, to) else { return };
    image.put((q.0 + HALF) >> SHIFT, (q.1 + HALF) >> SHIFT, colour);
    let x_major = (q.0 - p.0).abs() > (q.1 - p.1).abs();
    // Walk along the major axis in increasing order.
    let major = |f: Fixed| if x_major { f.0 } else { f.1 };
    if major(q) < major(p) {
        std::mem::swap(&mut p, &mut q);
    }
    let (along, across) = if x_major { (q.0 - p.0, q.1 - p.1) } else { (q.1 - p.1, q.0 - p.0) };
    let step = (i128::from(across) << SHIFT) / i128::from(along | 1);
    let count = along >> SHIFT;
    let start_major = (major(p) + HALF) >> SHIFT;
    let start_minor = i128::from(if x_major { p.1 } else { p.0 }) + i128::from(HALF);
    for k in 0..=count {
        let minor = ((start_minor + step * i128::from(k)) >> SHIFT) as i64;
        let m = start_major + k;
        if x_major { image.put(m, minor, colour) } else { image.put(minor, m, colour) }
    }
}

/// The part of segment `p`–`q` inside a `width × height` canvas (fixed
/// point), or `None` when none of it is.
fn clip(width: i64, height: i64, mut p: Fixed, mut q: Fixed) -> Option<(Fixed, Fixed)> {
    let (right, bottom) = ((width << SHIFT) - 1, (height << SHIFT) - 1);
    let code = |f: Fixed| {
        u8::from(f.0 < 0) | u8::from(f.0 > right) << 1 | u8::from(f.1 < 0) << 2 | u8::from(f.1 > bottom) << 3
    };
    let (mut cp, mut cq) = (code(p), code(q));
    if cp & cq == 0 && cp | cq != 0 {
        // First onto the top or bottom edge, then onto the left or right.
        let along_y = |from: Fixed, other: Fixed, to_y: i64| {
            from.0 + ((to_y - from.1) as f64 * (other.0 - from.0) as f64 / (other.1 - from.1) as f64) as i64
        };
        if cp & 12 != 0 {
            let y = if cp < 8 { 0 } else { bottom };
            p = (along_y(p, q, y), y);
            cp = code(p) & 3;
        }
        if cq & 12 != 0 {
            let y = if cq < 8 { 0 } else { bottom };
            q = (along_y(q, p, y), y);
            cq = code(q) & 3;
        }
        let along_x = |from: Fixed, other: Fixed, to_x: i64| {
            from.1 + ((to_x - from.0) as f64 * (other.1 - from.1) as f64 / (other.0 - from.0) as f64) as i64
        };
        if cp & cq == 0 && cp | cq != 0 {
            if cp != 0 {
                let x = if cp == 1 { 0 } else { right };
                p = (x, along_x(p, q, x));
                cp = 0;
            }
            if cq != 0 {
                let x = if cq == 1 { 0 } else { right };
                q = (x, along_x(q, p, x));
                cq = 0;
            }
        }
    }
    (cp | cq == 0).then_some((p, q))
}

/// The outline `cv2.ellipse2Poly(centre, (a, b), angle, 0, 360, 1)` gives:
/// one point per degree, rounded to pixels, repeats dropped.
pub fn ellipse_outline(centre: (f64, f64), axes: (f64, f64), angle_degrees: i64) -> Vec<Fixed> {
    let angle = (angle_degrees.rem_euclid(360) as f64).to_radians();
    let (sin_a, cos_a) = angle.sin_cos();
    let mut points: Vec<Fixed> = Vec::with_capacity(361);
    for degree in 0..=360 {
        let t = f64::from(degree).to_radians();
        let (x, y) = (axes.0 * t.cos(), axes.1 * t.sin());
        let px = centre.0 + x * cos_a - y * sin_a;
        let py = centre.1 + x * sin_a + y * cos_a;
        if !(px.is_finite() && py.is_finite()) {
            return Vec::new();
        }
        let point = fixed((px.round_ties_even() as i64, py.round_ties_even() as i64));
        if points.last() != Some(&point) {
            points.push(point);
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(image: &Rgb) -> usize {
        image.pixels.chunks_exact(3).filter(|p| p.iter().any(|&c| c > 0)).count()
    }

    fn drawn(a: (i64, i64), b: (i64, i64)) -> Rgb {
        let mut image = Rgb::black(100, 100);
        thick_line(&mut image, a, b, 2, [255, 255, 255]);
        image
    }

    // Pixel counts of `cv2.line(..., thickness=2)` on a 100 × 100 canvas,
    // measured once with OpenCV.
    #[test]
    fn two_pixel_lines_cover_what_opencv_covers() {
        assert_eq!(lit(&drawn((10, 20), (60, 20))), 155);
        assert_eq!(lit(&drawn((10, 10), (60, 60))), 257);
        assert_eq!(lit(&drawn((10, 10), (60, 30))), 155);
        assert_eq!(lit(&drawn((10, 10), (20, 60))), 155);
        // A diagonal is five pixels across a row, not three.
        let image = drawn((10, 10), (60, 60));
        let row: Vec<u32> = (0..100).filter(|&x| image.get(x, 35)[0] > 0).collect();
        assert_eq!(row, vec![33, 34, 35, 36, 37]);
    }

    #[test]
    fn lines_off_the_canvas_are_clipped_without_panicking() {
        assert_eq!(lit(&drawn((-15, 33), (47, 53))), 151);
        assert_eq!(lit(&drawn((-1_000_000_000, 5), (1_000_000_000, 5))), 300);
        assert_eq!(lit(&drawn((200, 200), (300, 300))), 0);
        assert_eq!(lit(&drawn((50, 50), (50, 50))), 5);
    }

    #[test]
    fn an_ellipse_is_a_filled_convex_outline() {
        let mut image = Rgb::black(100, 100);
        let outline = ellipse_outline((50.0, 50.0), (20.0, 4.0), 0);
        fill_convex(&mut image, &outline, [255, 0, 0]);
        // 41 pixels long, 9 pixels tall at the centre.
        assert_eq!((0..100).filter(|&x| image.get(x, 50)[0] > 0).count(), 41);
        assert_eq!((0..100).filter(|&y| image.get(50, y)[0] > 0).count(), 9);
    }
}
