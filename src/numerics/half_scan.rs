//! Fused scan of 16-bit floats (F16, BF16) over their raw little-endian bits.
//!
//! Every count is an integer range test on the magnitude bits (the low 15
//! bits order finite magnitudes exactly like their values), so classifying an
//! element needs no conversion; only the moments convert to f32. On x86_64
//! with AVX2 and F16C (detected at run time) sixteen elements are classified
//! per instruction; elsewhere a portable lane-wise loop does the same work.

use half::{bf16, f16};

#[cfg(target_arch = "x86_64")]
use super::half_simd as simd;

/// The layout of a 16-bit float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Half {
    F16,
    BF16,
}

impl Half {
    /// Magnitude bits of +Inf; larger magnitudes are NaN.
    pub(super) const fn inf_bits(self) -> u16 {
        match self {
            Half::F16 => 0x7C00,
            Half::BF16 => 0x7F80,
        }
    }

    pub(super) fn value(self, bits: u16) -> f64 {
        match self {
            Half::F16 => f16::from_bits(bits).to_f64(),
            Half::BF16 => bf16::from_bits(bits).to_f64(),
        }
    }

    /// The smallest magnitude bits whose value is at least `x` (Inf bits when none is).
    fn magnitude_at_least(self, x: f64) -> u16 {
        let (mut lo, mut hi) = (0u16, self.inf_bits());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.value(mid) >= x { hi = mid } else { lo = mid + 1 }
        }
        lo
    }
}

/// One tensor's classification thresholds, as magnitude bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Thresholds {
    /// Non-zero magnitudes below this are subnormal in the stored dtype.
    pub min_normal: u16,
    /// Non-zero magnitudes below this underflow in the target (0: none do).
    pub underflow_below: u16,
    /// Finite magnitudes above this overflow in the target.
    pub overflow_above: u16,
}

impl Thresholds {
    /// Translates value thresholds (those of `stats::Limits`) into bits.
    pub(super) fn new(half: Half, own_min_normal: f64, target_min_normal: f64, target_max: f64) -> Self {
        let finite_max = half.inf_bits() - 1;
        let above = half.magnitude_at_least(target_max);
        // `above` is the first magnitude >= target_max; an exact hit may stay.
        let overflow_above = match above {
            a if a > finite_max => finite_max,
            a if half.value(a) == target_max => a,
            a => a.saturating_sub(1),
        };
        Thresholds {
            min_normal: half.magnitude_at_least(own_min_normal),
            underflow_below: if target_min_normal > 0.0 { half.magnitude_at_least(target_min_normal) } else { 0 },
            overflow_above,
        }
    }
}

/// Raw tallies of a run of elements, before they become statistics.
/// Moments are of `x - shift` over finite elements; `min`/`max` count each
/// non-finite element as `shift`, so they are only meaningful when `shift` is
/// one of the run's finite values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Tally {
    pub count: u64,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
    pub zero: u64,
    /// Magnitudes below `min_normal`, zeros included.
    pub below_min_normal: u64,
    /// Magnitudes below `underflow_below`, zeros included when that is non-zero.
    pub below_underflow: u64,
    /// Magnitudes above `overflow_above`, non-finite values included.
    pub above_overflow: u64,
    pub sum: f64,
    pub sum_sq: f64,
    pub min: f32,
    pub max: f32,
}

impl Tally {
    pub(super) const EMPTY: Tally = Tally {
        count: 0,
        nan: 0,
        pos_inf: 0,
        neg_inf: 0,
        zero: 0,
        below_min_normal: 0,
        below_underflow: 0,
        above_overflow: 0,
        sum: 0.0,
        sum_sq: 0.0,
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };

    fn add(self, o: Tally) -> Tally {
        Tally {
            count: self.count + o.count,
            nan: self.nan + o.nan,
            pos_inf: self.pos_inf + o.pos_inf,
            neg_inf: self.neg_inf + o.neg_inf,
            zero: self.zero + o.zero,
            below_min_normal: self.below_min_normal + o.below_min_normal,
            below_underflow: self.below_underflow + o.below_underflow,
            above_overflow: self.above_overflow + o.above_overflow,
            sum: self.sum + o.sum,
            sum_sq: self.sum_sq + o.sum_sq,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        }
    }
}

/// Lanes of the portable loop: one 256-bit vector of 16-bit elements.
const LANES: usize = 16;
/// f32 partial sums are flushed into f64 after this many rows of lanes.
pub(super) const FLUSH_ROWS: usize = 64;

/// Tallies little-endian 16-bit floats. `bytes.len()` must be even.
pub(super) fn tally(half: Half, bytes: &[u8], shift: f32, t: &Thresholds) -> Tally {
    #[cfg(target_arch = "x86_64")]
    if simd::available() {
        let rows = bytes.len() / 32 * 32;
        // SAFETY: `available` confirmed AVX2, FMA and F16C on this CPU.
        let head = unsafe { simd::tally(half, &bytes[..rows], shift, t) };
        return head.add(tally_portable(half, &bytes[rows..], shift, t));
    }
    tally_portable(half, bytes, shift, t)
}

/// f16 bits to f32, exact for every finite value (non-finite results are
/// garbage, and callers replace them). Written branch-free so it vectorises.
#[inline(always)]
fn f16_to_f32_finite(bits: u16) -> f32 {
    const TWO_POW_112: f32 = f32::from_bits(0x7780_0000);
    let magnitude = f32::from_bits(((bits & 0x7FFF) as u32) << 13) * TWO_POW_112;
    f32::from_bits(magnitude.to_bits() | (((bits & 0x8000) as u32) << 16))
}

/// The same tally without SIMD intrinsics, written lane-wise so that the
/// compiler can vectorise it for the baseline target.
pub(super) fn tally_portable(half: Half, bytes: &[u8], shift: f32, t: &Thresholds) -> Tally {
    match half {
        Half::F16 => tally_lanes::<false>(bytes, shift, t),
        Half::BF16 => tally_lanes::<true>(bytes, shift, t),
    }
}

fn tally_lanes<const BF16: bool>(bytes: &[u8], shift: f32, t: &Thresholds) -> Tally {
    let rows = bytes.chunks_exact(2 * LANES);
    let tail = rows.remainder();
    let mut lanes = Lanes::new();
    for (r, row) in rows.enumerate() {
        let bits: [u16; LANES] = std::array::from_fn(|l| u16::from_le_bytes([row[2 * l], row[2 * l + 1]]));
        lanes.step::<BF16>(&bits, LANES, shift, t);
        if r % FLUSH_ROWS == FLUSH_ROWS - 1 {
            lanes.flush();
        }
        if r % COUNT_ROWS == COUNT_ROWS - 1 {
            lanes.flush_counts();
        }
    }
    // The tail is one short row; lanes past its end are masked out of every
    // count and read as NaN, which the moments replace by the shift.
    let bits: [u16; LANES] =
        std::array::from_fn(|l| tail.get(2 * l..2 * l + 2).map_or(u16::MAX, |b| u16::from_le_bytes([b[0], b[1]])));
    lanes.step::<BF16>(&bits, tail.len() / 2, shift, t);
    lanes.finish(bytes.len() / 2)
}

/// Rows after which the portable loop's 16-bit lane counters are emptied.
const COUNT_ROWS: usize = 4096;

/// Per-lane accumulators of the portable loop. Counters are 16-bit, like the
/// elements, so a row of them fits the same vector width.
struct Lanes {
    counts: [[u16; LANES]; 7],
    totals: [u64; 7],
    lo: [f32; LANES],
    hi: [f32; LANES],
    s1: [f32; LANES],
    s2: [f32; LANES],
    sum: f64,
    sum_sq: f64,
}

impl Lanes {
    fn new() -> Self {
        Lanes {
            counts: [[0; LANES]; 7],
            totals: [0; 7],
            lo: [f32::INFINITY; LANES],
            hi: [f32::NEG_INFINITY; LANES],
            s1: [0.0; LANES],
            s2: [0.0; LANES],
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// Accumulates one row; only the first `valid` lanes are elements.
    #[inline(always)]
    fn step<const BF16: bool>(&mut self, bits: &[u16; LANES], valid: usize, shift: f32, t: &Thresholds) {
        let inf = if BF16 { Half::BF16 } else { Half::F16 }.inf_bits();
        for (l, &b) in bits.iter().enumerate() {
            let m = b & 0x7FFF;
            let real = l < valid;
            self.counts[0][l] += (real && m > inf) as u16;
            self.counts[1][l] += (real && b == inf) as u16;
            self.counts[2][l] += (real && b == inf | 0x8000) as u16;
            self.counts[3][l] += (real && m == 0) as u16;
            self.counts[4][l] += (real && m < t.min_normal) as u16;
            self.counts[5][l] += (real && m < t.underflow_below) as u16;
            self.counts[6][l] += (real && m > t.overflow_above) as u16;
            let x = if BF16 { f32::from_bits((b as u32) << 16) } else { f16_to_f32_finite(b) };
            let v = if real && m < inf { x } else { shift };
            self.lo[l] = if v < self.lo[l] { v } else { self.lo[l] };
            self.hi[l] = if v > self.hi[l] { v } else { self.hi[l] };
            let d = v - shift;
            self.s1[l] += d;
            self.s2[l] += d * d;
        }
    }

    fn flush(&mut self) {
        for l in 0..LANES {
            self.sum += self.s1[l] as f64;
            self.sum_sq += self.s2[l] as f64;
        }
        self.s1 = [0.0; LANES];
        self.s2 = [0.0; LANES];
    }

    fn flush_counts(&mut self) {
        for (total, lanes) in self.totals.iter_mut().zip(&mut self.counts) {
            *total += lanes.iter().map(|&v| v as u64).sum::<u64>();
            *lanes = [0; LANES];
        }
    }

    fn finish(mut self, count: usize) -> Tally {
        self.flush();
        self.flush_counts();
        let [nan, pos_inf, neg_inf, zero, below_min_normal, below_underflow, above_overflow] = self.totals;
        Tally {
            count: count as u64,
            nan,
            pos_inf,
            neg_inf,
            zero,
            below_min_normal,
            below_underflow,
            above_overflow,
            sum: self.sum,
            sum_sq: self.sum_sq,
            min: self.lo.iter().copied().fold(f32::INFINITY, f32::min),
            max: self.hi.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*), enough for test data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    fn le_bytes(bits: &[u16]) -> Vec<u8> {
        bits.iter().flat_map(|b| b.to_le_bytes()).collect()
    }

    /// Every 16-bit pattern once, then random ones: NaN, Inf, zeros and subnormals all occur.
    fn patterns(extra: usize) -> Vec<u16> {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        (0..=u16::MAX).chain((0..extra).map(|_| rng.next() as u16)).collect()
    }

    fn thresholds_for(half: Half) -> Vec<Thresholds> {
        let own = match half {
            Half::F16 => 2f64.powi(-14),
            Half::BF16 => f32::MIN_POSITIVE as f64,
        };
        vec![
            Thresholds::new(half, own, 2f64.powi(-14), 65504.0),
            Thresholds::new(half, own, f32::MIN_POSITIVE as f64, 3.3895313892515355e38),
            Thresholds::new(half, own, 0.0, f64::INFINITY),
            Thresholds::new(half, own, 0.5, 3.0),
            Thresholds::new(half, own, own, 3.0),
            Thresholds::new(half, own, 0.5, f64::INFINITY),
        ]
    }

    /// The expected tally, element by element, from the decoded values.
    fn reference(half: Half, bits: &[u16], shift: f32, own: f64, t_min: f64, t_max: f64) -> Tally {
        let mut out = Tally { count: bits.len() as u64, ..Tally::EMPTY };
        for &b in bits {
            let x = half.value(b);
            let a = x.abs();
            out.nan += x.is_nan() as u64;
            out.pos_inf += (x == f64::INFINITY) as u64;
            out.neg_inf += (x == f64::NEG_INFINITY) as u64;
            out.zero += (x == 0.0) as u64;
            out.below_min_normal += (a < own) as u64;
            out.below_underflow += (a < t_min) as u64;
            out.above_overflow += (!x.is_finite() || a > t_max) as u64;
            let v = if x.is_finite() { x as f32 } else { shift };
            out.min = out.min.min(v);
            out.max = out.max.max(v);
            let d = (v - shift) as f64;
            out.sum += d;
            out.sum_sq += d * d;
        }
        out
    }

    fn assert_same(a: &Tally, b: &Tally, what: &str) {
        let counts = |t: &Tally| {
            [t.count, t.nan, t.pos_inf, t.neg_inf, t.zero, t.below_min_normal, t.below_underflow, t.above_overflow]
        };
        assert_eq!(counts(a), counts(b), "{what}: counts");
        assert_eq!((a.min, a.max), (b.min, b.max), "{what}: min/max");
        // Sums of huge BF16 values overflow f32 lanes; the caller redoes those
        // runs in f64 (tested in `stats`), so only finite sums are compared.
        let close =
            |x: f64, y: f64| !(x.is_finite() && y.is_finite()) || (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(1.0);
        assert!(close(a.sum, b.sum) && close(a.sum_sq, b.sum_sq), "{what}: sums {a:?} vs {b:?}");
    }

    #[test]
    fn thresholds_are_the_first_magnitudes_past_each_limit() {
        let t = Thresholds::new(Half::F16, 2f64.powi(-14), 2f64.powi(-14), 65504.0);
        assert_eq!(t, Thresholds { min_normal: 0x0400, underflow_below: 0x0400, overflow_above: 0x7BFF });
        let t = Thresholds::new(Half::BF16, f32::MIN_POSITIVE as f64, 2f64.powi(-14), 65504.0);
        assert_eq!(t.min_normal, 0x0080);
        assert_eq!(t.underflow_below, bf16::from_f32(2f32.powi(-14)).to_bits());
        // 65504 is not a bf16 value: 65280 is the largest at or below it.
        assert_eq!(bf16::from_bits(t.overflow_above).to_f32(), 65280.0);
        let t = Thresholds::new(Half::F16, 2f64.powi(-14), 0.0, f64::INFINITY);
        assert_eq!((t.underflow_below, t.overflow_above), (0, 0x7BFF));
    }

    #[test]
    fn every_bit_pattern_is_classified_like_its_value() {
        for half in [Half::F16, Half::BF16] {
            let own = if half == Half::F16 { 2f64.powi(-14) } else { f32::MIN_POSITIVE as f64 };
            let targets =
                [(2f64.powi(-14), 65504.0), (0.0, f64::INFINITY), (0.5, 3.0), (own, 3.0), (0.5, f64::INFINITY)];
            for (t_min, t_max) in targets {
                let t = Thresholds::new(half, own, t_min, t_max);
                let bits = patterns(0);
                let shift = 1.0;
                let expected = reference(half, &bits, shift, own, t_min, t_max);
                let got = tally_portable(half, &le_bytes(&bits), shift, &t);
                assert_same(&got, &expected, &format!("{half:?} portable, target [{t_min}, {t_max}]"));
                if half == Half::F16 {
                    assert!(got.sum.is_finite() && got.sum_sq.is_finite(), "f16 sums never overflow f32 lanes");
                }
                let got = tally(half, &le_bytes(&bits), shift, &t);
                assert_same(&got, &expected, &format!("{half:?} dispatched, target [{t_min}, {t_max}]"));
            }
        }
    }

    #[test]
    fn simd_and_portable_agree_on_random_unaligned_runs() {
        for half in [Half::F16, Half::BF16] {
            let bits = patterns(20_000);
            let bytes = le_bytes(&bits);
            for t in thresholds_for(half) {
                // Odd byte offsets make every load unaligned; odd lengths leave tails.
                // 70,001 elements span two 4096-step blocks of the SIMD kernel.
                for (skip, len) in [(0, bits.len()), (1, 70_001), (3, 17), (5, 15), (0, 0)] {
                    let mut shifted = vec![0u8; skip];
                    shifted.extend_from_slice(&bytes[..2 * len]);
                    let run = &shifted[skip..];
                    let portable = tally_portable(half, run, 0.25, &t);
                    let dispatched = tally(half, run, 0.25, &t);
                    assert_same(&dispatched, &portable, &format!("{half:?} skip {skip} len {len}"));
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_kernel_matches_portable_when_the_cpu_has_it() {
        if !simd::available() {
            return;
        }
        let bits = patterns(20_000);
        let bytes = le_bytes(&bits);
        let rows = bytes.len() / 32 * 32;
        for half in [Half::F16, Half::BF16] {
            for t in thresholds_for(half) {
                // SAFETY: `available` confirmed the features; `rows` is a multiple of 32.
                let fast = unsafe { simd::tally(half, &bytes[..rows], -0.5, &t) };
                let slow = tally_portable(half, &bytes[..rows], -0.5, &t);
                assert_same(&fast, &slow, &format!("{half:?} {t:?}"));
            }
        }
    }

    /// The SIMD kernel takes a group's moments again only when the group
    /// held a non-finite value: one such value, anywhere, must leave the
    /// extremes and sums of the finite ones exact.
    #[test]
    fn a_lone_non_finite_value_moves_no_moment() {
        let mut rng = Rng(7);
        for half in [Half::F16, Half::BF16] {
            let finite: Vec<u16> = (0..70_000)
                .map(|_| {
                    let x = (rng.next() >> 40) as f32 / (1u64 << 22) as f32 - 2.0;
                    match half {
                        Half::F16 => f16::from_f32(x).to_bits(),
                        Half::BF16 => bf16::from_f32(x).to_bits(),
                    }
                })
                .collect();
            let t = &thresholds_for(half)[0];
            let positions = [0, 15, 16, 1023, 1024, 2047, 65_535, 65_536, 69_999];
            for (i, &at) in positions.iter().enumerate() {
                for bad in [half.inf_bits() | 0x8000, half.inf_bits(), half.inf_bits() + 1] {
                    let mut bits = finite.clone();
                    bits[at] = bad;
                    let expected = {
                        let mut clean = bits.clone();
                        clean.remove(at);
                        tally_portable(half, &le_bytes(&clean), 0.5, t)
                    };
                    let got = tally(half, &le_bytes(&bits), 0.5, t);
                    assert_eq!((got.min, got.max), (expected.min, expected.max), "{half:?} {bad:#x} at {at} ({i})");
                    assert_eq!(got.nan + got.pos_inf + got.neg_inf, 1);
                    // Counts that include the bad value aside, the moments match.
                    let finite_only = Tally {
                        nan: 0,
                        pos_inf: 0,
                        neg_inf: 0,
                        count: expected.count,
                        above_overflow: expected.above_overflow,
                        ..got
                    };
                    assert_same(&finite_only, &expected, "moments");
                }
            }
        }
    }

    #[test]
    fn f16_bit_trick_is_exact_for_every_finite_value() {
        for bits in 0..=u16::MAX {
            let exact = f16::from_bits(bits);
            if exact.is_finite() {
                assert_eq!(f16_to_f32_finite(bits).to_bits(), exact.to_f32().to_bits(), "{bits:#06x}");
            }
        }
    }
}
