//! Per-channel and luma statistics of a decoded image, in one pass over its
//! samples after its value range is settled.

use serde::Serialize;

use super::findings::{NonFinite, OutOfRange, Transparency};
use super::raster::{RangeChoice, Raster, ValueRange};
use super::{Mode, ModeKind};

/// Luma at or below this (0-255) is dark, at or above `255 - DARK_LUMA` bright.
pub const DARK_LUMA: f64 = 16.0;
/// Share of finite float samples a conventional range must hold to be chosen.
const RANGE_SHARE: f64 = 0.99;

/// One channel's numbers, in the image's own units.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct ChannelStats {
    pub channel: String,
    pub count: u64,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    /// Share of the channel's samples at (or below) the range's low end.
    pub low_share: f64,
    /// Share at (or above) the range's high end.
    pub high_share: f64,
}

/// Luma (BT.601 weights on a 0-255 scale) over the pixels whose colour is finite.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct LumaStats {
    pub mean: f64,
    pub std: f64,
    pub dark_share: f64,
    pub bright_share: f64,
    #[serde(skip)]
    pub histogram: Vec<u64>,
}

/// Where the value range came from.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RangeSource {
    /// `--range`.
    Declared,
    /// The stored integer type.
    Dtype,
    /// The conventional range holding 99% of the float samples.
    Inferred,
    /// No conventional range fits; the values' own span is used.
    Unknown,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct ImageStats {
    pub range: ValueRange,
    pub range_source: RangeSource,
    pub channels: Vec<ChannelStats>,
    pub luma: LumaStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transparent_share: Option<f64>,
}

/// What the checks need beyond the reported statistics.
pub(crate) struct Measures {
    pub nonfinite: Option<NonFinite>,
    pub out_of_range: Option<OutOfRange>,
    pub transparency: Option<Transparency>,
}

/// Settles the range: declared, the integer type's, or inferred from the floats.
fn settle_range(raster: &Raster, choice: RangeChoice) -> (ValueRange, RangeSource) {
    if let RangeChoice::Declared(range) = choice {
        return (range, RangeSource::Declared);
    }
    if let Some(native) = raster.native {
        return (native, RangeSource::Dtype);
    }
    let candidates = [ValueRange::UNIT, ValueRange::SIGNED_UNIT, ValueRange::BYTE];
    let mut inside = [0u64; 3];
    let (mut finite, mut min, mut max) = (0u64, f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..raster.samples.len() {
        let v = f64::from(raster.samples.get(i));
        if !v.is_finite() {
            continue;
        }
        finite += 1;
        min = min.min(v);
        max = max.max(v);
        for (k, range) in candidates.iter().enumerate() {
            if v >= range.low - tolerance(range) && v <= range.high + tolerance(range) {
                inside[k] += 1;
            }
        }
    }
    for (k, range) in candidates.iter().enumerate() {
        if finite > 0 && inside[k] as f64 >= RANGE_SHARE * finite as f64 {
            return (*range, RangeSource::Inferred);
        }
    }
    if finite == 0 || min == max {
        return (ValueRange::UNIT, RangeSource::Unknown);
    }
    (ValueRange { low: min, high: max }, RangeSource::Unknown)
}

/// Float rounding slack at the ends of a range.
fn tolerance(range: &ValueRange) -> f64 {
    range.span() * 1e-4
}

/// The statistics of `raster` and what its checks need.
pub(crate) fn measure(raster: &Raster, mode: &Mode, choice: RangeChoice) -> (ImageStats, Measures) {
    let (range, source) = settle_range(raster, choice);
    let c = raster.channels;
    let names = raster.channel_names();
    let n = raster.pixels();
    // Values that fit no conventional range are measured against the union
    // of them all, so that the finding can point at the first wild sample.
    let limits = if source == RangeSource::Unknown { ValueRange { low: -1.0, high: 255.0 } } else { range };
    let slack = tolerance(&limits);
    let mut acc = vec![Accumulator::default(); c];
    let (mut nan, mut pos_inf, mut neg_inf, mut first_nonfinite) = (0u64, 0u64, 0u64, None::<usize>);
    let (mut oor, mut oor_first, mut oor_min, mut oor_max) = (0u64, None::<usize>, f64::INFINITY, f64::NEG_INFINITY);
    let mut luma = Accumulator::default();
    let (mut dark, mut bright) = (0u64, 0u64);
    let mut histogram = vec![0u64; 256];
    let color = raster.color_channels();
    let (mut transparent, mut fully, mut first_transparent) = (0u64, 0u64, None::<usize>);
    let mut under = vec![0f64; color];
    let mut pixel = [0f64; 4];
    for p in 0..n {
        let mut finite_color = true;
        for ch in 0..c {
            let i = p * c + ch;
            let v = f64::from(raster.samples.get(i));
            if v.is_nan() {
                nan += 1;
            } else if v == f64::INFINITY {
                pos_inf += 1;
            } else if v == f64::NEG_INFINITY {
                neg_inf += 1;
            }
            if !v.is_finite() {
                first_nonfinite.get_or_insert(i);
                acc[ch].nonfinite += 1;
                finite_color &= ch >= color;
                continue;
            }
            acc[ch].push(v, v <= range.low, v >= range.high);
            if v < limits.low - slack || v > limits.high + slack {
                oor += 1;
                oor_first.get_or_insert(i);
                oor_min = oor_min.min(v);
                oor_max = oor_max.max(v);
            }
            pixel[ch] = ((v - range.low) / range.span()).clamp(0.0, 1.0) * 255.0;
        }
        if raster.alpha {
            let a = f64::from(raster.samples.get(p * c + c - 1));
            if a < range.high {
                transparent += 1;
                first_transparent.get_or_insert(p);
                if a <= range.low {
                    fully += 1;
                }
                for (ch, sum) in under.iter_mut().enumerate() {
                    *sum += pixel[ch];
                }
            }
        }
        if !finite_color {
            continue;
        }
        let y = luma_of(&pixel[..color], mode.kind);
        luma.push(y, y <= DARK_LUMA, y >= 255.0 - DARK_LUMA);
        dark += u64::from(y <= DARK_LUMA);
        bright += u64::from(y >= 255.0 - DARK_LUMA);
        histogram[(y.round() as usize).min(255)] += 1;
    }
    let channels = acc
        .iter()
        .zip(&names)
        .map(|(a, name)| ChannelStats {
            channel: name.to_string(),
            count: a.count + a.nonfinite,
            nan: 0,
            pos_inf: 0,
            neg_inf: 0,
            min: a.min_or_zero(),
            max: a.max_or_zero(),
            mean: a.mean(),
            std: a.std(),
            low_share: a.share(a.low),
            high_share: a.share(a.high),
        })
        .collect::<Vec<_>>();
    let channels = with_nonfinite_counts(raster, channels);
    let lit = luma.count.max(1) as f64;
    let stats = ImageStats {
        range,
        range_source: source,
        luma: LumaStats {
            mean: luma.mean(),
            std: luma.std(),
            dark_share: dark as f64 / lit,
            bright_share: bright as f64 / lit,
            histogram,
        },
        transparent_share: raster.alpha.then(|| transparent as f64 / n.max(1) as f64),
        channels,
    };
    let total = raster.samples.len().max(1) as f64;
    let measures = Measures {
        nonfinite: first_nonfinite.map(|i| NonFinite {
            nan,
            pos_inf,
            neg_inf,
            first: raster.coordinate(i),
            first_flat: i as u64,
        }),
        out_of_range: oor_first.map(|first| OutOfRange {
            count: oor,
            share: oor as f64 / total,
            min: oor_min.min(fold_channels(&stats, |ch| ch.min, f64::min)),
            max: oor_max.max(fold_channels(&stats, |ch| ch.max, f64::max)),
            first: raster.coordinate(first),
            range: limits,
            unknown: source == RangeSource::Unknown,
        }),
        transparency: first_transparent.map(|p| Transparency {
            transparent,
            share: transparent as f64 / n.max(1) as f64,
            fully_transparent: fully,
            first: [(p / raster.width.max(1) as usize) as u64, (p % raster.width.max(1) as usize) as u64],
            under: under.iter().map(|s| s / transparent.max(1) as f64).collect(),
        }),
    };
    (stats, measures)
}

fn fold_channels(stats: &ImageStats, get: fn(&ChannelStats) -> f64, pick: fn(f64, f64) -> f64) -> f64 {
    stats.channels.iter().map(get).reduce(pick).unwrap_or(0.0)
}

/// Fills each channel's NaN and Inf counts (a second look only at images
/// that have any).
fn with_nonfinite_counts(raster: &Raster, mut channels: Vec<ChannelStats>) -> Vec<ChannelStats> {
    if !raster.samples.is_float() {
        return channels;
    }
    let c = raster.channels;
    for i in 0..raster.samples.len() {
        let v = raster.samples.get(i);
        if v.is_finite() {
            continue;
        }
        let ch = &mut channels[i % c];
        if v.is_nan() {
            ch.nan += 1;
        } else if v > 0.0 {
            ch.pos_inf += 1;
        } else {
            ch.neg_inf += 1;
        }
    }
    channels
}

/// BT.601 luma of a pixel's colour channels on a 0-255 scale. CMYK goes
/// through Pillow's naive conversion (R = 255 - C - K, clipped).
fn luma_of(pixel: &[f64], kind: ModeKind) -> f64 {
    match (pixel.len(), kind) {
        (4, ModeKind::Cmyk) => {
            let k = pixel[3];
            let rgb = [0, 1, 2].map(|i| (255.0 - pixel[i] - k).max(0.0));
            0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
        }
        (1, _) => pixel[0],
        (_, _) if pixel.len() >= 3 => 0.299 * pixel[0] + 0.587 * pixel[1] + 0.114 * pixel[2],
        _ => pixel[0],
    }
}

/// Running sums for mean and standard deviation (Welford), extremes and
/// shares at the ends of the range.
#[derive(Debug, Clone, Default)]
struct Accumulator {
    count: u64,
    nonfinite: u64,
    mean: f64,
    m2: f64,
    min: Option<f64>,
    max: Option<f64>,
    low: u64,
    high: u64,
}

impl Accumulator {
    fn push(&mut self, v: f64, at_low: bool, at_high: bool) {
        self.count += 1;
        let delta = v - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (v - self.mean);
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
        self.low += u64::from(at_low);
        self.high += u64::from(at_high);
    }

    fn mean(&self) -> f64 {
        self.mean
    }

    fn std(&self) -> f64 {
        if self.count == 0 { 0.0 } else { (self.m2 / self.count as f64).max(0.0).sqrt() }
    }

    fn min_or_zero(&self) -> f64 {
        self.min.unwrap_or(0.0)
    }

    fn max_or_zero(&self) -> f64 {
        self.max.unwrap_or(0.0)
    }

    fn share(&self, n: u64) -> f64 {
        if self.count == 0 { 0.0 } else { n as f64 / self.count as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::raster::Samples;

    fn rgb_mode() -> Mode {
        Mode { kind: ModeKind::Rgb, bits: 32, float: true, alpha: false }
    }

    fn raster(values: Vec<f32>, channels: usize) -> Raster {
        let width = (values.len() / channels) as u32;
        Raster { width, height: 1, channels, alpha: false, samples: Samples::F32(values), native: None }
    }

    #[test]
    fn ranges_are_inferred_from_the_bulk() {
        let r = raster(vec![-0.5, 0.2, 0.9], 1);
        assert_eq!(settle_range(&r, RangeChoice::Auto), (ValueRange::SIGNED_UNIT, RangeSource::Inferred));
        let r = raster(vec![0.0, 0.5, 1.0], 1);
        assert_eq!(settle_range(&r, RangeChoice::Auto).0, ValueRange::UNIT);
        let r = raster(vec![0.0, 128.0, 255.0], 1);
        assert_eq!(settle_range(&r, RangeChoice::Auto).0, ValueRange::BYTE);
        let r = raster(vec![-900.0, 4000.0], 1);
        assert_eq!(settle_range(&r, RangeChoice::Auto).1, RangeSource::Unknown);
    }

    #[test]
    fn nonfinite_first_index_and_counts() {
        let r = raster(vec![0.1, 0.2, 0.3, f32::NAN, 0.5, f32::INFINITY], 3);
        let (stats, m) = measure(&r, &rgb_mode(), RangeChoice::Auto);
        let nf = m.nonfinite.unwrap();
        assert_eq!((nf.nan, nf.pos_inf, nf.first.clone()), (1, 1, vec![0, 1, 0]));
        assert_eq!(stats.channels[0].nan, 1);
        assert_eq!(stats.channels[2].pos_inf, 1);
        assert_eq!(stats.luma.histogram.iter().sum::<u64>(), 1);
    }

    #[test]
    fn mean_and_std() {
        let r = raster(vec![0.0, 1.0, 0.0, 1.0], 1);
        let (stats, m) = measure(&r, &rgb_mode(), RangeChoice::Declared(ValueRange::UNIT));
        assert!((stats.channels[0].mean - 0.5).abs() < 1e-12);
        assert!((stats.channels[0].std - 0.5).abs() < 1e-12);
        assert_eq!(stats.channels[0].low_share, 0.5);
        assert!(m.out_of_range.is_none());
    }
}
