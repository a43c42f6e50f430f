//! Per-frame luma statistics: the single pass every decoded frame goes through.
//!
//! Statistics are reported on a 0–255 full-range scale whatever the video's
//! coded range, so that thresholds mean the same on limited-range video
//! (black at code 16, white at 235) and full-range video (0 and 255).

use serde::Serialize;

/// Pixels are summed in chunks small enough for `u32` sums of squares.
const CHUNK: usize = 4096;

/// The coded luma range of a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LumaRange {
    /// Black at 16, white at 235 (`tv`, the default for yuv420p).
    Limited,
    /// Black at 0, white at 255 (`pc`, yuvj420p, gray).
    Full,
}

impl LumaRange {
    fn floor(self) -> f64 {
        match self {
            LumaRange::Limited => 16.0,
            LumaRange::Full => 0.0,
        }
    }

    fn span(self) -> f64 {
        match self {
            LumaRange::Limited => 219.0,
            LumaRange::Full => 255.0,
        }
    }

    /// A coded value on the 0–255 full-range scale (clamped).
    pub fn to_full(self, coded: f64) -> f64 {
        ((coded - self.floor()) * 255.0 / self.span()).clamp(0.0, 255.0)
    }

    /// A spread (std, difference) on the full-range scale.
    pub fn spread_to_full(self, coded: f64) -> f64 {
        coded * 255.0 / self.span()
    }

    /// The largest coded value at or below `full` on the full-range scale.
    pub fn coded_at_most(self, full: f64) -> u8 {
        (self.floor() + full * self.span() / 255.0).floor().clamp(0.0, 255.0) as u8
    }

    /// The smallest coded value at or above `full` on the full-range scale.
    pub fn coded_at_least(self, full: f64) -> u8 {
        (self.floor() + full * self.span() / 255.0).ceil().clamp(0.0, 255.0) as u8
    }

    /// Codes counted as "exactly black": the floor plus one code of
    /// compression noise.
    pub fn floor_code(self) -> u8 {
        self.floor() as u8 + 1
    }

    /// The top of the near-black band just above the floor codes: pixels a
    /// fade passes through on its way to black (10 levels on the 0–255 scale).
    pub fn near_floor_code(self) -> u8 {
        self.coded_at_most(NEAR_FLOOR_LEVEL).max(self.floor_code())
    }
}

/// The near-black band reaches this level on the 0–255 full-range scale.
const NEAR_FLOOR_LEVEL: f64 = 10.0;

/// Coded thresholds the kernel counts pixels against.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PixelThresholds {
    pub dark_at_most: u8,
    pub bright_at_least: u8,
    pub floor_at_most: u8,
    /// Pixels above `floor_at_most` and at most this are near black.
    pub near_at_most: u8,
}

/// What one pass over a frame's luma plane measured, in coded units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LumaCounts {
    pub pixels: u64,
    pub sum: u64,
    pub sum_sq: u64,
    pub min: u8,
    pub max: u8,
    pub dark: u64,
    pub bright: u64,
    pub floor: u64,
    /// Pixels in the near-black band just above the floor codes.
    pub near_floor: u64,
    /// Sum of absolute differences to the previous frame, when there is one.
    pub abs_diff: Option<u64>,
}

/// One pass over a luma plane (and the previous one, for the difference).
/// On x86-64 the bulk runs as SSE2 (always present there) built around
/// `psadbw`, which sums 16 bytes or 16 absolute differences per instruction;
/// the rest of the plane, and other targets, take the portable loops.
pub fn measure(luma: &[u8], previous: Option<&[u8]>, thresholds: &PixelThresholds) -> LumaCounts {
    #[cfg(target_arch = "x86_64")]
    {
        let previous = previous.filter(|p| p.len() == luma.len());
        let bulk = luma.len() / 16 * 16;
        if bulk > 0 {
            let mut counts = sse2::measure(&luma[..bulk], previous.map(|p| &p[..bulk]), thresholds);
            let tail = measure_portable(&luma[bulk..], previous.map(|p| &p[bulk..]), thresholds);
            counts.merge(&tail);
            return counts;
        }
    }
    measure_portable(luma, previous, thresholds)
}

impl LumaCounts {
    fn merge(&mut self, other: &LumaCounts) {
        if other.pixels == 0 {
            return;
        }
        self.pixels += other.pixels;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.dark += other.dark;
        self.bright += other.bright;
        self.floor += other.floor;
        self.near_floor += other.near_floor;
        self.abs_diff = match (self.abs_diff, other.abs_diff) {
            (Some(a), Some(b)) => Some(a + b),
            (a, None) => a,
            (None, b) => b,
        };
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    use super::{LumaCounts, PixelThresholds};

    /// 16-byte blocks per inner round: keeps the i32 sums of squares far from overflow.
    const ROUND: usize = 1024;

    /// `luma.len()` must be a multiple of 16; `previous`, when given, as long as `luma`.
    pub fn measure(luma: &[u8], previous: Option<&[u8]>, t: &PixelThresholds) -> LumaCounts {
        // SAFETY: SSE2 is part of the x86-64 baseline, and every load below
        // reads 16 bytes inside `luma` or `previous` (both cut to whole blocks).
        unsafe { measure_blocks(luma, previous, t) }
    }

    unsafe fn load(bytes: &[u8], block: usize) -> __m128i {
        debug_assert!(block * 16 + 16 <= bytes.len());
        unsafe { _mm_loadu_si128(bytes.as_ptr().add(block * 16) as *const __m128i) }
    }

    fn total64(v: __m128i) -> u64 {
        let mut lanes = [0u64; 2];
        // SAFETY: `lanes` is 16 bytes.
        unsafe { _mm_storeu_si128(lanes.as_mut_ptr() as *mut __m128i, v) };
        lanes[0] + lanes[1]
    }

    unsafe fn measure_blocks(luma: &[u8], previous: Option<&[u8]>, t: &PixelThresholds) -> LumaCounts {
        unsafe {
            let blocks = luma.len() / 16;
            let zero = _mm_setzero_si128();
            let ones = _mm_set1_epi8(1);
            let flip = _mm_set1_epi8(-128);
            let dark_at = _mm_set1_epi8(t.dark_at_most as i8);
            let bright_at = _mm_set1_epi8(t.bright_at_least as i8);
            let floor_at = _mm_set1_epi8(t.floor_at_most as i8);
            let near_at = _mm_set1_epi8(t.near_at_most as i8);
            let (mut sum, mut dark, mut bright, mut floor, mut diff) = (zero, zero, zero, zero, zero);
            let mut near = zero;
            let (mut low, mut high) = (_mm_set1_epi8(-1), zero);
            let mut centred_sq = 0u64;
            let mut block = 0;
            while block < blocks {
                let end = (block + ROUND).min(blocks);
                let mut sq32 = zero;
                while block < end {
                    let v = load(luma, block);
                    sum = _mm_add_epi64(sum, _mm_sad_epu8(v, zero));
                    low = _mm_min_epu8(low, v);
                    high = _mm_max_epu8(high, v);
                    let is_dark = _mm_cmpeq_epi8(_mm_min_epu8(v, dark_at), v);
                    dark = _mm_add_epi64(dark, _mm_sad_epu8(_mm_and_si128(is_dark, ones), zero));
                    let is_bright = _mm_cmpeq_epi8(_mm_max_epu8(v, bright_at), v);
                    bright = _mm_add_epi64(bright, _mm_sad_epu8(_mm_and_si128(is_bright, ones), zero));
                    let is_floor = _mm_cmpeq_epi8(_mm_min_epu8(v, floor_at), v);
                    floor = _mm_add_epi64(floor, _mm_sad_epu8(_mm_and_si128(is_floor, ones), zero));
                    // Near the floor: at most `near_at` and not a floor code.
                    let is_near = _mm_andnot_si128(is_floor, _mm_cmpeq_epi8(_mm_min_epu8(v, near_at), v));
                    near = _mm_add_epi64(near, _mm_sad_epu8(_mm_and_si128(is_near, ones), zero));
                    if let Some(previous) = previous {
                        diff = _mm_add_epi64(diff, _mm_sad_epu8(v, load(previous, block)));
                    }
                    // (v - 128) as i16, squared and summed in pairs by pmaddwd.
                    let centred = _mm_xor_si128(v, flip);
                    let lo = _mm_srai_epi16(_mm_unpacklo_epi8(centred, centred), 8);
                    let hi = _mm_srai_epi16(_mm_unpackhi_epi8(centred, centred), 8);
                    sq32 = _mm_add_epi32(sq32, _mm_add_epi32(_mm_madd_epi16(lo, lo), _mm_madd_epi16(hi, hi)));
                    block += 1;
                }
                let mut lanes = [0u32; 4];
                _mm_storeu_si128(lanes.as_mut_ptr() as *mut __m128i, sq32);
                centred_sq += lanes.iter().map(|&l| l as u64).sum::<u64>();
            }
            let mut lows = [0u8; 16];
            let mut highs = [0u8; 16];
            _mm_storeu_si128(lows.as_mut_ptr() as *mut __m128i, low);
            _mm_storeu_si128(highs.as_mut_ptr() as *mut __m128i, high);
            let pixels = luma.len() as u64;
            let sum = total64(sum);
            LumaCounts {
                pixels,
                sum,
                // v² = (v - 128)² + 256 v - 16384
                sum_sq: centred_sq + 256 * sum - 16384 * pixels,
                min: lows.iter().copied().min().unwrap_or(0),
                max: highs.iter().copied().max().unwrap_or(0),
                dark: total64(dark),
                bright: total64(bright),
                floor: total64(floor),
                near_floor: total64(near),
                abs_diff: previous.map(|_| total64(diff)),
            }
        }
    }
}

/// The portable loops, written per statistic over small chunks so the
/// compiler vectorises each of them.
fn measure_portable(luma: &[u8], previous: Option<&[u8]>, thresholds: &PixelThresholds) -> LumaCounts {
    let mut counts = LumaCounts { pixels: luma.len() as u64, min: u8::MAX, max: 0, ..LumaCounts::default() };
    if luma.is_empty() {
        counts.min = 0;
        return counts;
    }
    let previous = previous.filter(|p| p.len() == luma.len());
    let mut diff_total = 0u64;
    for (i, chunk) in luma.chunks(CHUNK).enumerate() {
        counts.sum += chunk.iter().map(|&v| v as u32).sum::<u32>() as u64;
        counts.sum_sq += chunk.iter().map(|&v| (v as u32) * (v as u32)).sum::<u32>() as u64;
        counts.min = counts.min.min(chunk.iter().copied().fold(u8::MAX, u8::min));
        counts.max = counts.max.max(chunk.iter().copied().fold(0, u8::max));
        counts.dark += chunk.iter().map(|&v| (v <= thresholds.dark_at_most) as u32).sum::<u32>() as u64;
        counts.bright += chunk.iter().map(|&v| (v >= thresholds.bright_at_least) as u32).sum::<u32>() as u64;
        counts.floor += chunk.iter().map(|&v| (v <= thresholds.floor_at_most) as u32).sum::<u32>() as u64;
        counts.near_floor +=
            chunk.iter().map(|&v| (v > thresholds.floor_at_most && v <= thresholds.near_at_most) as u32).sum::<u32>()
                as u64;
        if let Some(previous) = previous {
            let before = &previous[i * CHUNK..i * CHUNK + chunk.len()];
            diff_total += chunk.iter().zip(before).map(|(&a, &b)| a.abs_diff(b) as u32).sum::<u32>() as u64;
        }
    }
    counts.abs_diff = previous.map(|_| diff_total);
    counts
}

/// One decoded frame's statistics, as the report's `frames` section lists them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameStats {
    pub index: u64,
    /// Presentation time in seconds: start time plus index over the frame rate.
    pub pts: f64,
    pub luma_mean: f64,
    pub luma_min: f64,
    pub luma_max: f64,
    /// Spatial standard deviation of luma within the frame.
    pub luma_std: f64,
    /// Mean absolute luma difference to the previous frame (`None` for the first).
    pub luma_diff: Option<f64>,
    /// Share of pixels at the exact black floor (the NaN-cast signature).
    pub floor_share: f64,
    /// Share of pixels in the near-black band just above the floor (up to
    /// level 10): a fade passes through it, a NaN cast jumps over it.
    pub near_floor_share: f64,
    #[serde(skip)]
    pub dark_share: f64,
    #[serde(skip)]
    pub bright_share: f64,
    pub flags: Vec<super::FrameFlag>,
}

impl FrameStats {
    pub fn from_counts(index: u64, pts: f64, counts: &LumaCounts, range: LumaRange) -> FrameStats {
        let n = counts.pixels.max(1) as f64;
        let mean = counts.sum as f64 / n;
        let variance = (counts.sum_sq as f64 / n - mean * mean).max(0.0);
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        FrameStats {
            index,
            pts: round(pts),
            luma_mean: round(range.to_full(mean)),
            luma_min: round(range.to_full(counts.min as f64)),
            luma_max: round(range.to_full(counts.max as f64)),
            luma_std: round(range.spread_to_full(variance.sqrt())),
            luma_diff: counts.abs_diff.map(|d| round(range.spread_to_full(d as f64 / n))),
            floor_share: counts.floor as f64 / n,
            near_floor_share: counts.near_floor as f64 / n,
            dark_share: counts.dark as f64 / n,
            bright_share: counts.bright as f64 / n,
            flags: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds(range: LumaRange) -> PixelThresholds {
        PixelThresholds {
            dark_at_most: range.coded_at_most(32.0),
            bright_at_least: range.coded_at_least(235.0),
            floor_at_most: range.floor_code(),
            near_at_most: range.near_floor_code(),
        }
    }

    #[test]
    fn counts_match_a_direct_computation() {
        let luma: Vec<u8> = (0..10_000u32).map(|i| (i * 37 % 256) as u8).collect();
        let previous: Vec<u8> = luma.iter().map(|v| v.wrapping_add(3)).collect();
        let t = thresholds(LumaRange::Full);
        let c = measure(&luma, Some(&previous), &t);
        assert_eq!(c.sum, luma.iter().map(|&v| v as u64).sum::<u64>());
        assert_eq!(c.sum_sq, luma.iter().map(|&v| (v as u64).pow(2)).sum::<u64>());
        assert_eq!((c.min, c.max), (0, 255));
        assert_eq!(c.dark, luma.iter().filter(|&&v| v <= 32).count() as u64);
        assert_eq!(c.floor, luma.iter().filter(|&&v| v <= 1).count() as u64);
        assert_eq!(c.near_floor, luma.iter().filter(|&&v| v > 1 && v <= 10).count() as u64);
        let diff: u64 = luma.iter().zip(&previous).map(|(&a, &b)| a.abs_diff(b) as u64).sum();
        assert_eq!(c.abs_diff, Some(diff));
    }

    #[test]
    fn vector_and_portable_paths_agree() {
        for len in [0usize, 1, 15, 16, 17, 4096 * 5 + 13, 1 << 20] {
            let luma: Vec<u8> = (0..len).map(|i| ((i * 7919 + i / 3) % 256) as u8).collect();
            let previous: Vec<u8> = (0..len).map(|i| ((i * 104_729) % 253) as u8).collect();
            let t = thresholds(LumaRange::Limited);
            assert_eq!(measure(&luma, Some(&previous), &t), measure_portable(&luma, Some(&previous), &t), "{len}");
            assert_eq!(measure(&luma, None, &t), measure_portable(&luma, None, &t), "{len}");
        }
        let white = vec![255u8; 4096];
        let c = measure(&white, None, &thresholds(LumaRange::Full));
        assert_eq!((c.sum_sq, c.min, c.max, c.bright), (4096 * 255 * 255, 255, 255, 4096));
    }

    #[test]
    fn limited_range_black_reads_zero() {
        let luma = vec![16u8; 64];
        let c = measure(&luma, None, &thresholds(LumaRange::Limited));
        let s = FrameStats::from_counts(0, 0.0, &c, LumaRange::Limited);
        assert_eq!((s.luma_mean, s.luma_std, s.floor_share, s.dark_share), (0.0, 0.0, 1.0, 1.0));
        assert_eq!(LumaRange::Limited.coded_at_least(235.0), 218);
    }
}
