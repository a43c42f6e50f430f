//! Error figures of one tensor under a simulated scheme, computed in one
//! streaming pass per row (two for per-tensor scales: absmax first).

use rayon::prelude::*;
use serde::Serialize;

use crate::numerics::fakequant::{self, E4M3_NAN_FROM, QuantScheme, fake_quantize_row, join_absmax, scope_absmax};
use crate::numerics::{DType, Granularity};
use crate::weights::values::LogicalValues;

/// Elements per work item of the absmax pass.
const CHUNK: usize = 1 << 16;

/// What a scheme does to one tensor. Error figures cover finite inputs whose
/// simulated value stays finite; overflowing elements are counted apart.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimulationMetrics {
    pub count: u64,
    /// NaN/Inf already in the input (left out of every figure).
    pub nonfinite_input: u64,
    /// 10·log10(Σx² / Σ(x − q)²) over the tensor; `None` when the round trip
    /// is exact or the tensor holds no signal.
    pub sqnr_db: Option<f64>,
    /// The lowest per-row SQNR among rows that hold signal; `None` when every
    /// such row is exact.
    pub worst_channel_sqnr_db: Option<f64>,
    /// Row (index along dim 0) of the worst channel.
    pub worst_channel: Option<u64>,
    /// ‖x − q‖₂ / ‖x‖₂.
    pub rel_error: Option<f64>,
    pub max_abs_error: f64,
    /// Non-zero finite weights whose simulated value is zero.
    pub zeroed: u64,
    pub zeroed_share: f64,
    pub clipped: u64,
    pub clipped_share: f64,
    /// Finite weights that became Inf or NaN.
    pub overflow: u64,
    /// Finite weights that dequantize to NaN because a NaN or Inf input made
    /// the scale they share NaN or Inf (the whole tensor for per-tensor
    /// schemes, the row or group otherwise); left out of every error figure.
    pub lost: u64,
    /// Non-zero weights whose simulated value is zero or below the scheme's
    /// smallest normal magnitude.
    pub underflow: u64,
    /// fp8-e4m3 only: weights an unscaled e4m3fn cast would turn into NaN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unscaled_overflow: Option<u64>,
}

/// Per-row sums, merged across rows.
#[derive(Debug, Clone, Copy)]
struct RowSums {
    signal: f64,
    noise: f64,
    finite: u64,
    nonzero: u64,
    zeroed: u64,
    clipped: u64,
    overflow: u64,
    lost: u64,
    underflow: u64,
    unscaled_overflow: u64,
    max_abs_error: f64,
    /// (SQNR, row) of the worst row holding signal.
    worst: Option<(f64, u64)>,
}

impl RowSums {
    const EMPTY: RowSums = RowSums {
        signal: 0.0,
        noise: 0.0,
        finite: 0,
        nonzero: 0,
        zeroed: 0,
        clipped: 0,
        overflow: 0,
        lost: 0,
        underflow: 0,
        unscaled_overflow: 0,
        max_abs_error: 0.0,
        worst: None,
    };

    fn merge(a: RowSums, b: RowSums) -> RowSums {
        RowSums {
            signal: a.signal + b.signal,
            noise: a.noise + b.noise,
            finite: a.finite + b.finite,
            nonzero: a.nonzero + b.nonzero,
            zeroed: a.zeroed + b.zeroed,
            clipped: a.clipped + b.clipped,
            overflow: a.overflow + b.overflow,
            lost: a.lost + b.lost,
            underflow: a.underflow + b.underflow,
            unscaled_overflow: a.unscaled_overflow + b.unscaled_overflow,
            max_abs_error: a.max_abs_error.max(b.max_abs_error),
            worst: match (a.worst, b.worst) {
                (Some(x), Some(y)) => Some(if y.0 < x.0 || (y.0 == x.0 && y.1 < x.1) { y } else { x }),
                (x, y) => x.or(y),
            },
        }
    }
}

/// Rows of a tensor for per-channel figures: dim 0 of a ≥2-D tensor, or one
/// row holding everything.
pub fn row_length(shape: &[u64], numel: usize) -> usize {
    match shape.first() {
        Some(&rows) if shape.len() >= 2 && rows > 0 => numel / rows as usize,
        _ => numel,
    }
}

/// Simulates `scheme` over a tensor and measures the damage.
pub fn simulate_values(scheme: QuantScheme, values: &LogicalValues, shape: &[u64]) -> SimulationMetrics {
    let numel = values.numel();
    let row_len = row_length(shape, numel);
    if numel == 0 || row_len == 0 {
        return SimulationMetrics::default();
    }
    let scale = match scheme.granularity() {
        Granularity::Tensor => fakequant::tensor_scale(scheme, tensor_absmax(values)),
        _ => 1.0,
    };
    let smallest_normal = smallest_normal(scheme, scale);
    let rows = numel / row_len;
    let sums = (0..rows)
        .into_par_iter()
        .map_init(
            || (vec![0f32; row_len], vec![0f32; row_len]),
            |(src, dst), row| {
                values.decode(row * row_len, src);
                let loss = fake_quantize_row(scheme, scale, src, dst);
                let mut sums = row_sums(scheme, src, dst, smallest_normal);
                sums.clipped = loss.clipped;
                sums.overflow = loss.overflow;
                sums.lost = loss.lost;
                if sums.signal > 0.0 && sums.noise > 0.0 {
                    sums.worst = Some((sqnr(sums.signal, sums.noise), row as u64));
                }
                sums
            },
        )
        .reduce(|| RowSums::EMPTY, RowSums::merge);
    finish(scheme, numel as u64, sums)
}

fn tensor_absmax(values: &LogicalValues) -> f32 {
    let n = values.numel();
    (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(
            || vec![0f32; CHUNK],
            |buf, i| {
                let len = CHUNK.min(n - i * CHUNK);
                values.decode(i * CHUNK, &mut buf[..len]);
                scope_absmax(&buf[..len])
            },
        )
        .reduce(|| 0.0, join_absmax)
}

/// Below this dequantized magnitude a non-zero weight counts as underflowed.
fn smallest_normal(scheme: QuantScheme, scale: f32) -> f64 {
    match scheme {
        QuantScheme::Fp16 => DType::F16.min_normal().unwrap_or(0.0),
        QuantScheme::Bf16 => DType::BF16.min_normal().unwrap_or(0.0),
        QuantScheme::Fp8E4M3 => DType::F8E4M3.min_normal().unwrap_or(0.0) * scale as f64,
        // Integer grids have no subnormals: underflow is rounding to zero.
        _ => f64::MIN_POSITIVE,
    }
}

/// Lanes of the counting loop (f32 compares) and of the f64 sums.
const COUNT_LANES: usize = 8;
const SUM_LANES: usize = 4;

/// Counts and sums over one row, in two simple lane-wise loops that the
/// compiler vectorises (one fused loop with both spills registers).
fn row_sums(scheme: QuantScheme, src: &[f32], dst: &[f32], smallest_normal: f64) -> RowSums {
    let fp8 = scheme == QuantScheme::Fp8E4M3;
    let tiny = smallest_normal as f32;
    let mut sums = RowSums::EMPTY;
    // u32 lane counters are flushed per block so they cannot overflow.
    for (src, dst) in src.chunks(1 << 20).zip(dst.chunks(1 << 20)) {
        let (mut finite, mut nonzero, mut zeroed) = ([0u32; COUNT_LANES], [0u32; COUNT_LANES], [0u32; COUNT_LANES]);
        let (mut under, mut unscaled) = ([0u32; COUNT_LANES], [0u32; COUNT_LANES]);
        let whole = src.len() / COUNT_LANES * COUNT_LANES;
        for (xs, qs) in src[..whole].chunks_exact(COUNT_LANES).zip(dst[..whole].chunks_exact(COUNT_LANES)) {
            for l in 0..COUNT_LANES {
                let (x, q) = (xs[l], qs[l]);
                let finite_x = x.abs() <= f32::MAX;
                let kept_nonzero = finite_x & (q.abs() <= f32::MAX) & (x != 0.0);
                finite[l] += finite_x as u32;
                nonzero[l] += kept_nonzero as u32;
                zeroed[l] += (kept_nonzero & (q == 0.0)) as u32;
                under[l] += (kept_nonzero & (q.abs() < tiny)) as u32;
                unscaled[l] += (fp8 & finite_x & (x.abs() > E4M3_NAN_FROM)) as u32;
            }
        }
        for (&x, &q) in src[whole..].iter().zip(&dst[whole..]) {
            let finite_x = x.is_finite();
            let kept_nonzero = finite_x && q.is_finite() && x != 0.0;
            finite[0] += finite_x as u32;
            nonzero[0] += kept_nonzero as u32;
            zeroed[0] += (kept_nonzero && q == 0.0) as u32;
            under[0] += (kept_nonzero && q.abs() < tiny) as u32;
            unscaled[0] += (fp8 && finite_x && x.abs() > E4M3_NAN_FROM) as u32;
        }
        let total = |c: &[u32; COUNT_LANES]| c.iter().map(|&v| v as u64).sum::<u64>();
        sums.finite += total(&finite);
        sums.nonzero += total(&nonzero);
        sums.zeroed += total(&zeroed);
        sums.underflow += total(&under);
        sums.unscaled_overflow += total(&unscaled);

        let mut signal = [0f64; SUM_LANES];
        let mut noise = [0f64; SUM_LANES];
        let mut max_err = [0f64; SUM_LANES];
        let mut add = |l: usize, x: f32, q: f32| {
            let kept = (x.abs() <= f32::MAX) & (q.abs() <= f32::MAX);
            let (xv, qv) = if kept { (x as f64, q as f64) } else { (0.0, 0.0) };
            let err = xv - qv;
            signal[l] += xv * xv;
            noise[l] += err * err;
            max_err[l] = if err.abs() > max_err[l] { err.abs() } else { max_err[l] };
        };
        let whole = src.len() / SUM_LANES * SUM_LANES;
        for (xs, qs) in src[..whole].chunks_exact(SUM_LANES).zip(dst[..whole].chunks_exact(SUM_LANES)) {
            for l in 0..SUM_LANES {
                add(l, xs[l], qs[l]);
            }
        }
        for (l, (&x, &q)) in src[whole..].iter().zip(&dst[whole..]).enumerate() {
            add(l, x, q);
        }
        sums.signal += signal.iter().sum::<f64>();
        sums.noise += noise.iter().sum::<f64>();
        sums.max_abs_error = max_err.iter().fold(sums.max_abs_error, |m, &v| m.max(v));
    }
    sums
}

fn sqnr(signal: f64, noise: f64) -> f64 {
    10.0 * (signal / noise).log10()
}

fn finish(scheme: QuantScheme, count: u64, sums: RowSums) -> SimulationMetrics {
    let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let lossy = sums.signal > 0.0 && sums.noise > 0.0;
    SimulationMetrics {
        count,
        nonfinite_input: count - sums.finite,
        sqnr_db: lossy.then(|| sqnr(sums.signal, sums.noise)),
        worst_channel_sqnr_db: sums.worst.map(|w| w.0),
        worst_channel: sums.worst.map(|w| w.1),
        rel_error: (sums.signal > 0.0).then(|| (sums.noise / sums.signal).sqrt()),
        max_abs_error: sums.max_abs_error,
        zeroed: sums.zeroed,
        zeroed_share: share(sums.zeroed, sums.nonzero),
        clipped: sums.clipped,
        clipped_share: share(sums.clipped, sums.finite),
        overflow: sums.overflow,
        lost: sums.lost,
        underflow: sums.underflow,
        unscaled_overflow: (scheme == QuantScheme::Fp8E4M3).then_some(sums.unscaled_overflow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::ByteOrder;
    use std::borrow::Cow;

    fn stored(xs: &[f32]) -> LogicalValues<'static> {
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        LogicalValues::Stored { dtype: DType::F32, bytes: Cow::Owned(bytes), order: ByteOrder::Little }
    }

    /// The example: one weight of 500 among weights near 0.01.
    fn outlier_tensor() -> Vec<f32> {
        let mut w: Vec<f32> = (0..64 * 64).map(|i| 0.01 + ((i * 37) % 11) as f32 * 1e-4).collect();
        w[5 * 64 + 7] = 500.0;
        w
    }

    #[test]
    fn outlier_keeps_whole_tensor_sqnr_high_but_wipes_other_channels() {
        let m = simulate_values(QuantScheme::Int8, &stored(&outlier_tensor()), &[64, 64]);
        assert!(m.sqnr_db.unwrap() > 40.0, "{m:?}");
        assert!(m.worst_channel_sqnr_db.unwrap() < 1.0, "{m:?}");
        assert_eq!(m.zeroed, 64 * 64 - 1);
        assert!(m.zeroed_share > 0.99);
        let per_channel = simulate_values(QuantScheme::Int8Channel, &stored(&outlier_tensor()), &[64, 64]);
        assert!(per_channel.worst_channel_sqnr_db.unwrap() > 20.0, "{per_channel:?}");
        assert_eq!(per_channel.worst_channel, Some(5));
    }

    #[test]
    fn casts_count_overflow_and_skip_it_in_the_error() {
        let xs = [1.0f32, 70000.0, -2.0, f32::NAN];
        let m = simulate_values(QuantScheme::Fp16, &stored(&xs), &[4]);
        assert_eq!((m.overflow, m.nonfinite_input, m.count), (1, 1, 4));
        assert_eq!(m.sqnr_db, None);
        let m = simulate_values(QuantScheme::Fp8E4M3, &stored(&[500.0, 1.0, -3.0]), &[3, 1]);
        assert_eq!((m.unscaled_overflow, m.overflow), (Some(1), 0));
    }

    /// Issue: `--simulate int8` on a tensor holding a NaN reported 48 dB.
    #[test]
    fn a_nonfinite_input_loses_the_tensor_instead_of_reporting_a_sqnr() {
        let mut w = outlier_tensor();
        w[5 * 64 + 7] = 0.01;
        w[100] = f32::NAN;
        let m = simulate_values(QuantScheme::Int8, &stored(&w), &[64, 64]);
        assert_eq!((m.nonfinite_input, m.lost), (1, 64 * 64 - 1));
        assert_eq!((m.sqnr_db, m.worst_channel_sqnr_db), (None, None));
        let m = simulate_values(QuantScheme::Int8Channel, &stored(&w), &[64, 64]);
        assert_eq!((m.lost, m.worst_channel.is_some()), (63, true));
        assert!(m.sqnr_db.is_some_and(|db| db > 20.0), "{m:?}");
    }

    #[test]
    fn exact_round_trip_has_no_sqnr_and_empty_tensors_are_empty() {
        let m = simulate_values(QuantScheme::Bf16, &stored(&[1.0, 0.5, -2.0, 0.0]), &[2, 2]);
        assert_eq!((m.sqnr_db, m.worst_channel_sqnr_db, m.rel_error), (None, None, Some(0.0)));
        assert_eq!(simulate_values(QuantScheme::Int8, &stored(&[]), &[0, 4]), SimulationMetrics::default());
    }
}
