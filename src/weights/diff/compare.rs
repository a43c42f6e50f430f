//! Value-by-value comparison of two tensors of the same shape, streamed in
//! chunks on rayon so neither tensor is ever materialised as floats.

use rayon::prelude::*;
use serde::Serialize;

use crate::weights::values::LogicalValues;

/// Elements per work item.
const CHUNK: usize = 1 << 16;

/// allclose-style tolerance: a finite pair is close when
/// `|b − a| ≤ atol + rtol·|a|`, with A the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Default for Tolerance {
    /// Accepts fp32 → fp16 rounding (relative error ≤ 2^-11 ≈ 4.9e-4 for
    /// normals, absolute ≤ 2^-25 for fp16 subnormals) and flags anything coarser.
    fn default() -> Self {
        Tolerance { rtol: 1e-3, atol: 1e-5 }
    }
}

/// Where a difference stops being drift and becomes damage: below either
/// figure, B's tensor no longer computes what A's does.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct DamageThresholds {
    /// D110 fires when the SQNR of B against A is below this many dB.
    pub sqnr_db: f64,
    /// D110 fires when the cosine similarity of A and B is below this.
    pub cosine: f64,
}

impl Default for DamageThresholds {
    /// Healthy conversions keep their SQNR far above 10 dB (fp16 about 70,
    /// int8 per channel about 40, int4 groups and NF4 about 20); 10 dB is a
    /// 32% RMS error, and a cosine of 0.95 is the same error for tensors of
    /// equal norm.
    fn default() -> Self {
        DamageThresholds { sqnr_db: 10.0, cosine: 0.95 }
    }
}

impl DamageThresholds {
    /// Which figure, if any, says the pair is damaged.
    pub fn judge(&self, metrics: &PairMetrics) -> Option<&'static str> {
        if metrics.sqnr_db.is_some_and(|db| db < self.sqnr_db) {
            Some("sqnr_db")
        } else if metrics.cosine.is_some_and(|c| c < self.cosine) {
            Some("cosine")
        } else {
            None
        }
    }
}

/// How two tensors differ. Sums cover element pairs where both sides are
/// finite; non-finite positions are counted apart.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PairMetrics {
    pub count: u64,
    pub max_abs_diff: f64,
    /// ‖b − a‖₂ / ‖a‖₂; `None` when A is all zeros.
    pub rel_l2_error: Option<f64>,
    /// a·b / (‖a‖₂‖b‖₂); `None` when either side is all zeros.
    pub cosine: Option<f64>,
    /// 10·log10(‖a‖² / ‖b − a‖²); `None` when the values are identical or A is all zeros.
    pub sqnr_db: Option<f64>,
    /// Finite pairs outside the tolerance.
    pub beyond_tolerance: u64,
    /// Row-major index of the first pair outside the tolerance.
    pub first_beyond_flat: Option<u64>,
    /// Positions non-finite in A only / in B only.
    pub nonfinite_only_a: u64,
    pub nonfinite_only_b: u64,
    /// Positions non-finite on both sides but of a different kind (NaN vs Inf, +Inf vs −Inf).
    pub nonfinite_differ: u64,
    /// Row-major index of the first position where the non-finite values disagree.
    pub first_nonfinite_flat: Option<u64>,
}

impl PairMetrics {
    pub fn nonfinite_mismatch(&self) -> u64 {
        self.nonfinite_only_a + self.nonfinite_only_b + self.nonfinite_differ
    }
}

#[derive(Debug, Clone, Copy)]
struct Sums {
    a2: f64,
    b2: f64,
    ab: f64,
    d2: f64,
    max_abs: f64,
    beyond: u64,
    first_beyond: Option<u64>,
    only_a: u64,
    only_b: u64,
    differ: u64,
    first_nonfinite: Option<u64>,
}

impl Sums {
    const EMPTY: Sums = Sums {
        a2: 0.0,
        b2: 0.0,
        ab: 0.0,
        d2: 0.0,
        max_abs: 0.0,
        beyond: 0,
        first_beyond: None,
        only_a: 0,
        only_b: 0,
        differ: 0,
        first_nonfinite: None,
    };

    fn merge(x: Sums, y: Sums) -> Sums {
        let first = |p: Option<u64>, q: Option<u64>| match (p, q) {
            (Some(p), Some(q)) => Some(p.min(q)),
            (p, q) => p.or(q),
        };
        Sums {
            a2: x.a2 + y.a2,
            b2: x.b2 + y.b2,
            ab: x.ab + y.ab,
            d2: x.d2 + y.d2,
            max_abs: x.max_abs.max(y.max_abs),
            beyond: x.beyond + y.beyond,
            first_beyond: first(x.first_beyond, y.first_beyond),
            only_a: x.only_a + y.only_a,
            only_b: x.only_b + y.only_b,
            differ: x.differ + y.differ,
            first_nonfinite: first(x.first_nonfinite, y.first_nonfinite),
        }
    }
}

/// Compares `b` against the reference `a`; both must hold the same number of values.
pub fn compare_values(a: &LogicalValues, b: &LogicalValues, tolerance: Tolerance) -> PairMetrics {
    let n = a.numel().min(b.numel());
    let sums = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(
            || (vec![0f32; CHUNK], vec![0f32; CHUNK]),
            |(xa, xb), i| {
                let start = i * CHUNK;
                let len = CHUNK.min(n - start);
                a.decode(start, &mut xa[..len]);
                b.decode(start, &mut xb[..len]);
                chunk_sums(&xa[..len], &xb[..len], start as u64, tolerance)
            },
        )
        .reduce(|| Sums::EMPTY, Sums::merge);
    finish(n as u64, sums)
}

/// Lanes of the f32 counting loop and of the f64 sums; written lane-wise
/// (and as two loops) so that the compiler vectorises both.
const COUNT_LANES: usize = 8;
const SUM_LANES: usize = 4;

fn chunk_sums(xa: &[f32], xb: &[f32], base: u64, tol: Tolerance) -> Sums {
    let mut s = Sums::EMPTY;
    let (rtol, atol) = (tol.rtol as f32, tol.atol as f32);
    let beyond = |x: f32, y: f32| x.abs() <= f32::MAX && y.abs() <= f32::MAX && (y - x).abs() > atol + rtol * x.abs();

    let mut counts = [0u32; COUNT_LANES];
    let mut nonfinite = [0u32; COUNT_LANES];
    let whole = xa.len() / COUNT_LANES * COUNT_LANES;
    for (ra, rb) in xa[..whole].chunks_exact(COUNT_LANES).zip(xb[..whole].chunks_exact(COUNT_LANES)) {
        for l in 0..COUNT_LANES {
            let (x, y) = (ra[l], rb[l]);
            let both = (x.abs() <= f32::MAX) & (y.abs() <= f32::MAX);
            nonfinite[l] += (!both) as u32;
            counts[l] += (both & ((y - x).abs() > atol + rtol * x.abs())) as u32;
        }
    }
    for (&x, &y) in xa[whole..].iter().zip(&xb[whole..]) {
        nonfinite[0] += (!(x.is_finite() && y.is_finite())) as u32;
        counts[0] += beyond(x, y) as u32;
    }
    s.beyond = counts.iter().map(|&c| c as u64).sum();
    if s.beyond > 0 {
        s.first_beyond = xa.iter().zip(xb).position(|(&x, &y)| beyond(x, y)).map(|i| base + i as u64);
    }

    // f64 sums keep the figures as exact as NumPy's float64 reductions.
    let mut a2 = [0f64; SUM_LANES];
    let mut b2 = [0f64; SUM_LANES];
    let mut ab = [0f64; SUM_LANES];
    let mut d2 = [0f64; SUM_LANES];
    let mut max_abs = [0f32; SUM_LANES];
    let mut add = |l: usize, x: f32, y: f32| {
        let both = (x.abs() <= f32::MAX) & (y.abs() <= f32::MAX);
        let (x, y) = if both { (x, y) } else { (0.0, 0.0) };
        let d = y - x;
        let (xd, yd, dd) = (x as f64, y as f64, d as f64);
        a2[l] += xd * xd;
        b2[l] += yd * yd;
        ab[l] += xd * yd;
        d2[l] += dd * dd;
        max_abs[l] = if d.abs() > max_abs[l] { d.abs() } else { max_abs[l] };
    };
    let whole = xa.len() / SUM_LANES * SUM_LANES;
    for (ra, rb) in xa[..whole].chunks_exact(SUM_LANES).zip(xb[..whole].chunks_exact(SUM_LANES)) {
        for l in 0..SUM_LANES {
            add(l, ra[l], rb[l]);
        }
    }
    for (l, (&x, &y)) in xa[whole..].iter().zip(&xb[whole..]).enumerate() {
        add(l, x, y);
    }
    s.a2 = a2.iter().sum();
    s.b2 = b2.iter().sum();
    s.ab = ab.iter().sum();
    s.d2 = d2.iter().sum();
    s.max_abs = max_abs.iter().fold(0f32, |m, &v| m.max(v)) as f64;

    if nonfinite.iter().any(|&n| n > 0) {
        for (i, (&x, &y)) in xa.iter().zip(xb).enumerate() {
            let mismatch = match (x.is_finite(), y.is_finite()) {
                (true, true) => false,
                (false, true) => {
                    s.only_a += 1;
                    true
                }
                (true, false) => {
                    s.only_b += 1;
                    true
                }
                (false, false) => {
                    let same = (x.is_nan() && y.is_nan()) || x == y;
                    s.differ += (!same) as u64;
                    !same
                }
            };
            if mismatch {
                s.first_nonfinite.get_or_insert(base + i as u64);
            }
        }
    }
    s
}

fn finish(count: u64, s: Sums) -> PairMetrics {
    PairMetrics {
        count,
        max_abs_diff: s.max_abs,
        rel_l2_error: (s.a2 > 0.0).then(|| (s.d2 / s.a2).sqrt()),
        cosine: (s.a2 > 0.0 && s.b2 > 0.0).then(|| (s.ab / (s.a2 * s.b2).sqrt()).clamp(-1.0, 1.0)),
        sqnr_db: (s.a2 > 0.0 && s.d2 > 0.0).then(|| 10.0 * (s.a2 / s.d2).log10()),
        beyond_tolerance: s.beyond,
        first_beyond_flat: s.first_beyond,
        nonfinite_only_a: s.only_a,
        nonfinite_only_b: s.only_b,
        nonfinite_differ: s.differ,
        first_nonfinite_flat: s.first_nonfinite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::{ByteOrder, DType};
    use std::borrow::Cow;

    fn stored(xs: &[f32]) -> LogicalValues<'static> {
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        LogicalValues::Stored { dtype: DType::F32, bytes: Cow::Owned(bytes), order: ByteOrder::Little }
    }

    #[test]
    fn identical_tensors_are_exact() {
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32).sin()).collect();
        let m = compare_values(&stored(&xs), &stored(&xs), Tolerance::default());
        assert_eq!((m.max_abs_diff, m.sqnr_db, m.beyond_tolerance), (0.0, None, 0));
        assert!((m.cosine.unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(m.rel_l2_error, Some(0.0));
    }

    #[test]
    fn drift_matches_a_two_pass_reference_across_chunks() {
        let n = CHUNK * 2 + 77;
        let a: Vec<f32> = (0..n).map(|i| ((i * 7919 % 1013) as f32 - 506.0) * 1e-3).collect();
        let b: Vec<f32> = a.iter().enumerate().map(|(i, x)| x + if i % 3 == 0 { 1e-3 } else { 0.0 }).collect();
        let m = compare_values(&stored(&a), &stored(&b), Tolerance::default());
        let a2: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum();
        let d2: f64 = a.iter().zip(&b).map(|(&x, &y)| (y as f64 - x as f64).powi(2)).sum();
        let want = 10.0 * (a2 / d2).log10();
        assert!((m.sqnr_db.unwrap() - want).abs() < 1e-3, "{m:?} vs {want}");
        assert!((m.max_abs_diff - 1e-3).abs() < 1e-6);
        let beyond = a.iter().zip(&b).filter(|&(&x, &y)| (y - x).abs() > 1e-5 + 1e-3 * x.abs()).count();
        assert_eq!(m.beyond_tolerance, beyond as u64);
        assert_eq!(m.first_beyond_flat, Some(0));
    }

    #[test]
    fn nonfinite_on_one_side_is_counted_and_located() {
        let a = [1.0, 2.0, f32::NAN, f32::INFINITY, 5.0];
        let b = [1.0, f32::NAN, f32::NAN, f32::NEG_INFINITY, 5.0];
        let m = compare_values(&stored(&a), &stored(&b), Tolerance::default());
        assert_eq!((m.nonfinite_only_a, m.nonfinite_only_b, m.nonfinite_differ), (0, 1, 1));
        assert_eq!(m.first_nonfinite_flat, Some(1));
        assert_eq!(m.beyond_tolerance, 0);
    }
}
