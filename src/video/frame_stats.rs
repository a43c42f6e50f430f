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
}

/// Coded thresholds the kernel counts pixels against.
#[derive(Debug, Clone, Copy)]
pub struct PixelThresholds {
    pub dark_at_most: u8,
    pub bright_at_least: u8,
    pub floor_at_most: u8,
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
    /// Sum of absolute differences to the previous frame, when there is one.
    pub abs_diff: Option<u64>,
}

/// One pass over a luma plane (and the previous one, for the difference).
/// The loops are written per statistic over small chunks so the compiler
/// vectorises each of them.
pub fn measure(luma: &[u8], previous: Option<&[u8]>, thresholds: &PixelThresholds) -> LumaCounts {
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
        let diff: u64 = luma.iter().zip(&previous).map(|(&a, &b)| a.abs_diff(b) as u64).sum();
        assert_eq!(c.abs_diff, Some(diff));
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
