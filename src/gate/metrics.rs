//! PSNR and SSIM of 8-bit planes, defined as ffmpeg's `psnr` and `ssim`
//! filters define them, so that nanscope's numbers and ffmpeg's agree.
//!
//! - PSNR: per plane, the mean squared error over every pixel; a frame's value
//!   is the PSNR of the planes' errors averaged with weights proportional to
//!   their pixel counts (ffmpeg's `psnr_avg`). Identical planes give `inf`.
//! - SSIM: per plane, sums over 4x4 blocks combined into 8x8 windows on a
//!   4-pixel grid (overlapping windows, no Gaussian weights), the window terms
//!   computed from integer sums with the constants `(0.01*255)^2` and
//!   `(0.03*255)^2` scaled as ffmpeg scales them, then averaged over the
//!   windows; a frame's value (`All`) weights the planes by pixel counts.
//!
//! Loops run over whole rows of blocks in parallel (rayon); results are summed
//! in row order so that a run is reproducible to the last bit.

use rayon::prelude::*;

/// The largest 8-bit code value.
const PEAK: f64 = 255.0;
/// SSIM's stabilising constants scaled to sums over 64 pixels, as ffmpeg's filter scales them.
const SSIM_C1: i64 = (0.01 * 0.01 * 255.0 * 255.0 * 64.0 + 0.5) as i64;
const SSIM_C2: i64 = (0.03 * 0.03 * 255.0 * 255.0 * 64.0 * 63.0 + 0.5) as i64;
/// Pixels per parallel chunk of the squared-error pass (its u32 partial sums cannot overflow).
const SSE_CHUNK: usize = 1 << 14;

/// How chroma planes are subsampled in a planar 8-bit frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Chroma {
    /// Luma only (`gray`).
    Mono,
    /// Half width, half height (`yuv420p`).
    #[serde(rename = "420")]
    C420,
    /// Half width (`yuv422p`).
    #[serde(rename = "422")]
    C422,
    /// Full size (`yuv444p`).
    #[serde(rename = "444")]
    C444,
}

/// The size and plane layout of one decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    pub width: usize,
    pub height: usize,
    pub chroma: Chroma,
}

impl FrameLayout {
    /// Width and height of each plane (chroma sizes rounded up, as ffmpeg rounds them).
    pub fn planes(&self) -> Vec<(usize, usize)> {
        let (w, h) = (self.width, self.height);
        let chroma = match self.chroma {
            Chroma::Mono => return vec![(w, h)],
            Chroma::C420 => (w.div_ceil(2), h.div_ceil(2)),
            Chroma::C422 => (w.div_ceil(2), h),
            Chroma::C444 => (w, h),
        };
        vec![(w, h), chroma, chroma]
    }

    /// Bytes of one frame; `None` when the size overflows.
    pub fn frame_len(&self) -> Option<usize> {
        self.planes().iter().try_fold(0usize, |total, &(w, h)| total.checked_add(w.checked_mul(h)?))
    }

    /// Each plane's bytes within a frame buffer of `frame_len` bytes.
    pub fn split<'a>(&self, frame: &'a [u8]) -> Vec<&'a [u8]> {
        let mut rest = frame;
        let mut planes = Vec::with_capacity(3);
        for (w, h) in self.planes() {
            let (plane, tail) = rest.split_at(w * h);
            planes.push(plane);
            rest = tail;
        }
        planes
    }

    /// Plane letters as ffmpeg names them.
    pub fn plane_names(&self) -> &'static [char] {
        match self.chroma {
            Chroma::Mono => &['y'],
            _ => &['y', 'u', 'v'],
        }
    }
}

/// One plane's scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaneScore {
    /// Mean squared error over the plane.
    pub mse: f64,
    /// `None` when the plane is smaller than 8x8 (no whole window).
    pub ssim: Option<f64>,
    pub pixels: usize,
}

/// One frame pair's scores: the planes and their weighted combination.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameScores {
    pub planes: Vec<PlaneScore>,
    /// Pixel-count-weighted mean squared error (ffmpeg's `mse_avg`).
    pub mse: f64,
    /// Pixel-count-weighted SSIM (ffmpeg's `All`); `None` when a plane has none.
    pub ssim: Option<f64>,
}

impl FrameScores {
    pub fn psnr(&self) -> f64 {
        psnr(self.mse)
    }
}

/// PSNR in dB of a mean squared error on 8-bit values; `inf` for identical planes.
pub fn psnr(mse: f64) -> f64 {
    if mse <= 0.0 { f64::INFINITY } else { 10.0 * (PEAK * PEAK / mse).log10() }
}

/// Scores a candidate frame against a golden frame of the same layout.
/// Both buffers hold `layout.frame_len()` bytes.
pub fn score_frame(layout: &FrameLayout, candidate: &[u8], golden: &[u8]) -> FrameScores {
    let sizes = layout.planes();
    let (a, b) = (layout.split(candidate), layout.split(golden));
    let planes: Vec<PlaneScore> = sizes
        .iter()
        .zip(a.iter().zip(&b))
        .map(|(&(w, h), (pa, pb))| {
            let (sse, ssim) = rayon::join(|| plane_sse(pa, pb), || plane_ssim(pa, pb, w, h));
            let pixels = w * h;
            PlaneScore { mse: sse as f64 / pixels as f64, ssim, pixels }
        })
        .collect();
    let total: usize = planes.iter().map(|p| p.pixels).sum();
    let weight = |p: &PlaneScore| p.pixels as f64 / total as f64;
    let mse = planes.iter().map(|p| p.mse * weight(p)).sum();
    let ssim = planes.iter().map(|p| p.ssim.map(|s| s * weight(p))).sum::<Option<f64>>();
    FrameScores { planes, mse, ssim }
}

/// Sum of squared differences of two equally long planes.
pub fn plane_sse(a: &[u8], b: &[u8]) -> u64 {
    a.par_chunks(SSE_CHUNK)
        .zip(b.par_chunks(SSE_CHUNK))
        .map(|(ca, cb)| {
            // At most 16384 × 255² per chunk: fits a u32.
            let chunk: u32 = ca
                .iter()
                .zip(cb)
                .map(|(&x, &y)| {
                    let d = u32::from(x.abs_diff(y));
                    d * d
                })
                .sum();
            u64::from(chunk)
        })
        .sum()
}

/// Sums of one 4x4 block: candidate, golden, squares of both, products.
type BlockSums = [u32; 4];

/// Mean SSIM of a `width`×`height` plane over ffmpeg's 8x8 windows on a
/// 4-pixel grid; `None` when the plane holds fewer than two blocks either way.
/// Rows and columns past the last whole 4x4 block are not measured (as in ffmpeg).
pub fn plane_ssim(a: &[u8], b: &[u8], width: usize, height: usize) -> Option<f64> {
    let (bw, bh) = (width / 4, height / 4);
    if bw < 2 || bh < 2 || a.len() < width * height || b.len() < width * height {
        return None;
    }
    let mut sums = vec![[0u32; 4]; bw * bh];
    sums.par_chunks_mut(bw).enumerate().for_each(|(z, row)| block_row(a, b, width, z, row));
    let rows: Vec<f64> =
        (1..bh).into_par_iter().map(|y| window_row(&sums[(y - 1) * bw..y * bw], &sums[y * bw..(y + 1) * bw])).collect();
    let total: f64 = rows.iter().sum();
    Some(total / ((bh - 1) * (bw - 1)) as f64)
}

/// The 4x4 block sums of block row `z`.
fn block_row(a: &[u8], b: &[u8], width: usize, z: usize, out: &mut [BlockSums]) {
    let used = out.len() * 4;
    for r in 0..4 {
        let start = (4 * z + r) * width;
        let (ra, rb) = (&a[start..start + used], &b[start..start + used]);
        for ((sums, ca), cb) in out.iter_mut().zip(ra.chunks_exact(4)).zip(rb.chunks_exact(4)) {
            let (mut s1, mut s2, mut ss, mut s12) = (0u32, 0u32, 0u32, 0u32);
            for (&x, &y) in ca.iter().zip(cb) {
                let (x, y) = (u32::from(x), u32::from(y));
                s1 += x;
                s2 += y;
                ss += x * x + y * y;
                s12 += x * y;
            }
            sums[0] += s1;
            sums[1] += s2;
            sums[2] += ss;
            sums[3] += s12;
        }
    }
}

/// Sum of the SSIM of the windows whose top blocks are `top` and bottom blocks `bottom`.
fn window_row(top: &[BlockSums], bottom: &[BlockSums]) -> f64 {
    let mut total = 0.0f64;
    for i in 0..top.len() - 1 {
        let sum = |k: usize| i64::from(top[i][k] + top[i + 1][k] + bottom[i][k] + bottom[i + 1][k]);
        total += f64::from(window_ssim(sum(0), sum(1), sum(2), sum(3)));
    }
    total
}

/// SSIM of one 8x8 window from its sums, in single precision as ffmpeg computes it.
fn window_ssim(s1: i64, s2: i64, ss: i64, s12: i64) -> f32 {
    let vars = ss * 64 - s1 * s1 - s2 * s2;
    let covar = s12 * 64 - s1 * s2;
    ((2 * s1 * s2 + SSIM_C1) as f32 * (2 * covar + SSIM_C2) as f32)
        / ((s1 * s1 + s2 * s2 + SSIM_C1) as f32 * (vars + SSIM_C2) as f32)
}

/// Sum and sum of squares of a plane's values (for luma statistics).
pub fn plane_moments(plane: &[u8]) -> (u64, u64) {
    plane
        .par_chunks(SSE_CHUNK)
        .map(|chunk| {
            let (sum, squares) = chunk.iter().fold((0u32, 0u32), |(s, q), &v| {
                let v = u32::from(v);
                (s + v, q + v * v)
            });
            (u64::from(sum), u64::from(squares))
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(width: usize, height: usize, seed: u32) -> Vec<u8> {
        (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as u32, (i / width) as u32);
                ((x * 7 + y * 13 + seed * 31 + (x * y) % 17) % 256) as u8
            })
            .collect()
    }

    #[test]
    fn identical_planes_score_one_and_infinite_psnr() {
        let a = pattern(64, 48, 1);
        let layout = FrameLayout { width: 64, height: 32, chroma: Chroma::C420 };
        let frame = &a[..layout.frame_len().unwrap()];
        let scores = score_frame(&layout, frame, frame);
        assert_eq!(scores.mse, 0.0);
        assert!(scores.psnr().is_infinite());
        assert!((scores.ssim.unwrap() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn psnr_matches_the_definition() {
        let a = vec![100u8; 16 * 16];
        let mut b = a.clone();
        b[0] = 110; // one pixel off by 10: mse = 100 / 256
        let mse = plane_sse(&a, &b) as f64 / 256.0;
        assert!((psnr(mse) - 10.0 * (255.0f64 * 255.0 / mse).log10()).abs() < 1e-12);
        assert_eq!(plane_sse(&a, &b), 100);
    }

    #[test]
    fn ssim_matches_a_direct_window_computation() {
        let (w, h) = (37, 29); // partial blocks at the right and bottom edges are left out
        let (a, b) = (pattern(w, h, 1), pattern(w, h, 5));
        let (bw, bh) = (w / 4, h / 4);
        let mut total = 0.0f64;
        for wy in 0..bh - 1 {
            for wx in 0..bw - 1 {
                let (mut s1, mut s2, mut ss, mut s12) = (0i64, 0i64, 0i64, 0i64);
                for y in 4 * wy..4 * wy + 8 {
                    for x in 4 * wx..4 * wx + 8 {
                        let (p, q) = (i64::from(a[y * w + x]), i64::from(b[y * w + x]));
                        s1 += p;
                        s2 += q;
                        ss += p * p + q * q;
                        s12 += p * q;
                    }
                }
                total += f64::from(window_ssim(s1, s2, ss, s12));
            }
        }
        let expected = total / ((bw - 1) * (bh - 1)) as f64;
        let got = plane_ssim(&a, &b, w, h).unwrap();
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
        assert!(got < 0.9);
    }

    #[test]
    fn planes_too_small_have_no_ssim() {
        let a = vec![0u8; 7 * 7];
        assert_eq!(plane_ssim(&a, &a, 7, 7), None);
        assert_eq!(plane_ssim(&a, &a[..10], 7, 7), None);
    }

    #[test]
    fn constants_are_ffmpegs() {
        assert_eq!(SSIM_C1, 416);
        assert_eq!(SSIM_C2, 235_963);
    }

    #[test]
    fn layouts_round_chroma_up() {
        let layout = FrameLayout { width: 5, height: 3, chroma: Chroma::C420 };
        assert_eq!(layout.planes(), vec![(5, 3), (3, 2), (3, 2)]);
        assert_eq!(layout.frame_len(), Some(27));
        let huge = FrameLayout { width: usize::MAX, height: 2, chroma: Chroma::Mono };
        assert_eq!(huge.frame_len(), None);
    }

    #[test]
    fn moments_sum_values_and_squares() {
        assert_eq!(plane_moments(&[1, 2, 3]), (6, 14));
    }
}
