//! Single-pass tensor statistics over raw little- or big-endian bytes.
//!
//! The scan decodes fixed-size chunks into f32 (or f64 for wide types) and
//! reduces them on rayon, merging partial moments with Chan's formula, so a
//! tensor is read once and never materialised whole as floats.

use rayon::prelude::*;
use serde::Serialize;

use super::decode::{ByteOrder, FloatKind, decode_f32_chunk, float_kind};
use super::dtype::{DType, Kind, TargetDType};
use super::half_scan::{self, Half, Thresholds};

/// Elements per parallel work item. Big enough to amortise scheduling, small
/// enough that the decoded f32 buffer stays in L2.
const CHUNK: usize = 1 << 16;
/// Accumulator lanes; the inner loop is written lane-wise so LLVM vectorises it.
const LANES: usize = 8;
/// Lane-local f32 sums are flushed into f64 after this many rows of lanes.
const FLUSH_ROWS: usize = 64;

/// Statistics of one tensor, with the field names of the report contract.
/// Moments (`min` … `std`) are over finite elements only and are `None` when
/// there is none; `overflow`/`underflow` are present only for a target dtype.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TensorStats {
    pub count: u64,
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
    pub zero: u64,
    pub subnormal: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub absmax: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub first_nonfinite_flat: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overflow: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub underflow: Option<u64>,
}

impl TensorStats {
    pub fn nonfinite(&self) -> u64 {
        self.nan + self.pos_inf + self.neg_inf
    }

    pub fn finite(&self) -> u64 {
        self.count - self.nonfinite()
    }
}

/// Why a tensor's bytes could not be scanned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    #[error("dtype {0} is recognised but its values are not decoded")]
    Undecodable(DType),
    #[error("{len} bytes is not a whole number of {dtype} elements")]
    RaggedBytes { dtype: DType, len: usize },
}

/// Thresholds that classify each value, in f64 so they serve both kernels.
#[derive(Debug, Clone, Copy)]
struct Limits {
    own_min_normal: f64,
    target_max: f64,
    target_min_normal: f64,
}

impl Limits {
    fn new(dtype: DType, target: TargetDType) -> Self {
        let target = target.dtype();
        Limits {
            own_min_normal: dtype.min_normal().unwrap_or(0.0),
            target_max: target.and_then(DType::max_finite).unwrap_or(f64::INFINITY),
            target_min_normal: target.and_then(DType::min_normal).unwrap_or(0.0),
        }
    }
}

/// Partial statistics of a run of elements; `merge` joins adjacent runs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Acc {
    count: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    zero: u64,
    subnormal: u64,
    overflow: u64,
    underflow: u64,
    finite: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    first_nonfinite: Option<u64>,
}

impl Acc {
    const EMPTY: Acc = Acc {
        count: 0,
        nan: 0,
        pos_inf: 0,
        neg_inf: 0,
        zero: 0,
        subnormal: 0,
        overflow: 0,
        underflow: 0,
        finite: 0,
        mean: 0.0,
        m2: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        first_nonfinite: None,
    };

    fn merge(a: Acc, b: Acc) -> Acc {
        let finite = a.finite + b.finite;
        let (mean, m2) = if a.finite == 0 {
            (b.mean, b.m2)
        } else if b.finite == 0 {
            (a.mean, a.m2)
        } else {
            let (na, nb) = (a.finite as f64, b.finite as f64);
            let delta = b.mean - a.mean;
            let n = na + nb;
            (a.mean + delta * nb / n, a.m2 + b.m2 + delta * delta * na * nb / n)
        };
        Acc {
            count: a.count + b.count,
            nan: a.nan + b.nan,
            pos_inf: a.pos_inf + b.pos_inf,
            neg_inf: a.neg_inf + b.neg_inf,
            zero: a.zero + b.zero,
            subnormal: a.subnormal + b.subnormal,
            overflow: a.overflow + b.overflow,
            underflow: a.underflow + b.underflow,
            finite,
            mean,
            m2,
            min: a.min.min(b.min),
            max: a.max.max(b.max),
            first_nonfinite: match (a.first_nonfinite, b.first_nonfinite) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            },
        }
    }

    fn finish(self, target: TargetDType) -> TensorStats {
        let has = self.finite > 0;
        let with_target = target != TargetDType::None;
        TensorStats {
            count: self.count,
            nan: self.nan,
            pos_inf: self.pos_inf,
            neg_inf: self.neg_inf,
            zero: self.zero,
            subnormal: self.subnormal,
            min: has.then_some(self.min),
            max: has.then_some(self.max),
            absmax: has.then_some(self.min.abs().max(self.max.abs())),
            mean: has.then_some(self.mean),
            std: has.then(|| (self.m2 / self.finite as f64).max(0.0).sqrt()),
            first_nonfinite_flat: self.first_nonfinite,
            overflow: with_target.then_some(self.overflow),
            underflow: with_target.then_some(self.underflow),
        }
    }
}

/// Scans a contiguous tensor stored as `bytes` (row-major, `dtype`, `order`).
/// `first_nonfinite_flat` is the row-major index of the first NaN/Inf.
pub fn tensor_stats(
    dtype: DType,
    bytes: &[u8],
    order: ByteOrder,
    target: TargetDType,
) -> Result<TensorStats, StatsError> {
    let size = match (dtype.kind(), dtype.size()) {
        (Kind::Packed, _) | (_, None) => return Err(StatsError::Undecodable(dtype)),
        (_, Some(size)) => size as usize,
    };
    if !bytes.len().is_multiple_of(size) {
        return Err(StatsError::RaggedBytes { dtype, len: bytes.len() });
    }
    let limits = Limits::new(dtype, target);
    // Aligned little-endian f32 is scanned in place, without a decoded copy.
    let aligned_f32 = match (dtype, order) {
        (DType::F32, ByteOrder::Little) => bytemuck::try_cast_slice::<u8, f32>(bytes).ok(),
        _ => None,
    };
    if let Some(xs) = aligned_f32 {
        let acc = xs
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(i, chunk)| scan_f32(chunk, (i * CHUNK) as u64, &limits))
            .reduce(|| Acc::EMPTY, Acc::merge);
        return Ok(acc.finish(target));
    }
    let acc = match (float_kind(dtype), order) {
        (Some(FloatKind::F16), ByteOrder::Little) => scan_halves(Half::F16, bytes, &limits),
        (Some(FloatKind::BF16), ByteOrder::Little) => scan_halves(Half::BF16, bytes, &limits),
        (Some(float), _) => bytes
            .par_chunks(CHUNK * float.element_bytes())
            .enumerate()
            .map_init(
                || vec![0f32; CHUNK],
                |buf, (i, chunk)| {
                    let n = decode_f32_chunk(float, chunk, order, buf);
                    scan_f32(&buf[..n], (i * CHUNK) as u64, &limits)
                },
            )
            .reduce(|| Acc::EMPTY, Acc::merge),
        (None, _) => bytes
            .par_chunks(CHUNK * size)
            .enumerate()
            .map(|(i, chunk)| scan_wide(dtype, chunk, order, (i * CHUNK / wide_per_element(dtype)) as u64, &limits))
            .reduce(|| Acc::EMPTY, Acc::merge),
    };
    Ok(acc.finish(target))
}

/// Statistics of `count` computed values (dequantized weights): `fill(start,
/// buf)` writes elements `start..start + buf.len()` in row-major order. Chunks
/// of `FILL_CHUNK` elements (a multiple of every quantization block size) run
/// in parallel, so values are never materialised whole. Subnormals are
/// judged in f32.
pub fn stats_from_fill<F>(count: u64, target: TargetDType, fill: F) -> TensorStats
where
    F: Fn(u64, &mut [f32]) + Sync,
{
    let limits = Limits::new(DType::F32, target);
    let chunk = CHUNK as u64;
    (0..count.div_ceil(chunk))
        .into_par_iter()
        .map_init(
            || vec![0f32; CHUNK],
            |buf, i| {
                let start = i * chunk;
                let n = (count - start).min(chunk) as usize;
                fill(start, &mut buf[..n]);
                scan_f32(&buf[..n], start, &limits)
            },
        )
        .reduce(|| Acc::EMPTY, Acc::merge)
        .finish(target)
}


/// Little-endian F16/BF16: classified on raw bits, without a decoded copy.
fn scan_halves(half: Half, bytes: &[u8], limits: &Limits) -> Acc {
    let thresholds = Thresholds::new(half, limits.own_min_normal, limits.target_min_normal, limits.target_max);
    bytes
        .par_chunks(CHUNK * 2)
        .enumerate()
        .map(|(i, chunk)| scan_half_chunk(half, chunk, (i * CHUNK) as u64, &thresholds))
        .reduce(|| Acc::EMPTY, Acc::merge)
}

fn scan_half_chunk(half: Half, bytes: &[u8], base: u64, thresholds: &Thresholds) -> Acc {
    let inf = half.inf_bits();
    let mut elements = bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    // Shifting by the first finite value keeps the single-pass variance exact
    // enough when the mean is far from zero.
    let shift = elements.find(|bits| bits & 0x7FFF < inf).map_or(0.0, |bits| half.value(bits) as f32);
    let mut t = half_scan::tally(half, bytes, shift, thresholds);
    if !(t.sum.is_finite() && t.sum_sq.is_finite()) {
        let values = bytes.chunks_exact(2).map(|b| half.value(u16::from_le_bytes([b[0], b[1]])));
        (t.sum, t.sum_sq) = shifted_sums(values, shift as f64);
    }
    let nonfinite = t.nan + t.pos_inf + t.neg_inf;
    let finite = t.count - nonfinite;
    let mut acc = Acc {
        count: t.count,
        nan: t.nan,
        pos_inf: t.pos_inf,
        neg_inf: t.neg_inf,
        zero: t.zero,
        subnormal: t.below_min_normal - t.zero,
        overflow: t.above_overflow - nonfinite,
        underflow: if thresholds.underflow_below == 0 { 0 } else { t.below_underflow - t.zero },
        finite,
        ..Acc::EMPTY
    };
    if finite > 0 {
        let n = finite as f64;
        acc.mean = shift as f64 + t.sum / n;
        acc.m2 = (t.sum_sq - t.sum * t.sum / n).max(0.0);
        acc.min = t.min as f64;
        acc.max = t.max as f64;
    }
    if nonfinite > 0 {
        acc.first_nonfinite = bytes
            .chunks_exact(2)
            .position(|b| u16::from_le_bytes([b[0], b[1]]) & 0x7FFF >= inf)
            .map(|i| base + i as u64);
    }
    acc
}

/// Complex dtypes are scanned component-wise: two values per element.
fn wide_per_element(dtype: DType) -> usize {
    if dtype.kind() == Kind::Complex { 2 } else { 1 }
}

/// The vectorised kernel over decoded f32 values, compiled for AVX2 as well
/// and chosen at run time.
fn scan_f32(xs: &[f32], base: u64, limits: &Limits) -> Acc {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { scan_f32_avx2(xs, base, limits) };
    }
    scan_f32_lanes(xs, base, limits)
}

/// The same loop as `scan_f32_lanes`, with 256-bit vectors available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_f32_avx2(xs: &[f32], base: u64, limits: &Limits) -> Acc {
    scan_f32_lanes(xs, base, limits)
}

#[inline(always)]
fn scan_f32_lanes(xs: &[f32], base: u64, limits: &Limits) -> Acc {
    let own_min = limits.own_min_normal as f32;
    let t_max = if limits.target_max >= f32::MAX as f64 { f32::INFINITY } else { limits.target_max as f32 };
    let t_min = limits.target_min_normal as f32;
    // Shifting by the first finite value keeps the single-pass variance exact
    // enough when the mean is far from zero.
    let shift = xs.iter().copied().find(|x| x.is_finite()).unwrap_or(0.0);

    let mut nan = [0u32; LANES];
    let mut pinf = [0u32; LANES];
    let mut ninf = [0u32; LANES];
    let mut zero = [0u32; LANES];
    let mut sub = [0u32; LANES];
    let mut over = [0u32; LANES];
    let mut under = [0u32; LANES];
    let mut lo = [f32::INFINITY; LANES];
    let mut hi = [f32::NEG_INFINITY; LANES];
    let mut s1 = [0f32; LANES];
    let mut s2 = [0f32; LANES];
    let (mut t1, mut t2) = (0f64, 0f64);

    let rows = xs.chunks_exact(LANES);
    let tail = rows.remainder();
    for (r, row) in rows.enumerate() {
        for l in 0..LANES {
            let x = row[l];
            let a = x.abs();
            let finite = a <= f32::MAX;
            nan[l] += x.is_nan() as u32;
            pinf[l] += (x == f32::INFINITY) as u32;
            ninf[l] += (x == f32::NEG_INFINITY) as u32;
            zero[l] += (x == 0.0) as u32;
            sub[l] += (a < own_min && a != 0.0) as u32;
            over[l] += (finite && a > t_max) as u32;
            under[l] += (a < t_min && a != 0.0) as u32;
            let v = if finite { x } else { shift };
            lo[l] = if v < lo[l] { v } else { lo[l] };
            hi[l] = if v > hi[l] { v } else { hi[l] };
            let d = v - shift;
            s1[l] += d;
            s2[l] += d * d;
        }
        if r % FLUSH_ROWS == FLUSH_ROWS - 1 {
            for l in 0..LANES {
                t1 += s1[l] as f64;
                t2 += s2[l] as f64;
                s1[l] = 0.0;
                s2[l] = 0.0;
            }
        }
    }
    for l in 0..LANES {
        t1 += s1[l] as f64;
        t2 += s2[l] as f64;
    }
    if !(t1.is_finite() && t2.is_finite()) {
        (t1, t2) = shifted_sums(xs[..xs.len() - tail.len()].iter().map(|&x| x as f64), shift as f64);
    }

    let sum = |c: &[u32; LANES]| c.iter().map(|&v| v as u64).sum::<u64>();
    let mut acc = Acc {
        count: (xs.len() - tail.len()) as u64,
        nan: sum(&nan),
        pos_inf: sum(&pinf),
        neg_inf: sum(&ninf),
        zero: sum(&zero),
        subnormal: sum(&sub),
        overflow: sum(&over),
        underflow: sum(&under),
        finite: 0,
        mean: 0.0,
        m2: 0.0,
        min: lo.iter().copied().fold(f32::INFINITY, f32::min) as f64,
        max: hi.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64,
        first_nonfinite: None,
    };
    // Non-finite elements were replaced by the shift, which contributed zero to
    // the sums; they did take part in min/max as the shift, which is a real value.
    acc.finite = acc.count - acc.nan - acc.pos_inf - acc.neg_inf;
    if acc.finite > 0 {
        let n = acc.finite as f64;
        acc.mean = shift as f64 + t1 / n;
        acc.m2 = (t2 - t1 * t1 / n).max(0.0);
    } else {
        acc.min = f64::INFINITY;
        acc.max = f64::NEG_INFINITY;
    }
    if acc.nan + acc.pos_inf + acc.neg_inf > 0 {
        acc.first_nonfinite = xs.iter().position(|x| !x.is_finite()).map(|i| base + i as u64);
    }

    let tail_base = base + acc.count;
    let tail_acc = tail
        .iter()
        .enumerate()
        .fold(Acc::EMPTY, |a, (i, &x)| Acc::merge(a, one(x as f64, tail_base + i as u64, limits)));
    Acc::merge(acc, tail_acc)
}

/// Sums of `x - shift` and its square over the finite values, in f64: the
/// slow path for runs whose f32 lane sums overflowed (magnitudes near f32::MAX).
fn shifted_sums(values: impl Iterator<Item = f64>, shift: f64) -> (f64, f64) {
    values.filter(|x| x.is_finite()).fold((0.0, 0.0), |(s1, s2), x| {
        let d = x - shift;
        (s1 + d, s2 + d * d)
    })
}

/// Statistics of a single value; the slow path for tails and wide types.
fn one(x: f64, index: u64, limits: &Limits) -> Acc {
    let a = x.abs();
    let finite = x.is_finite();
    let mut acc = Acc::EMPTY;
    acc.count = 1;
    if x.is_nan() {
        acc.nan = 1;
    } else if x == f64::INFINITY {
        acc.pos_inf = 1;
    } else if x == f64::NEG_INFINITY {
        acc.neg_inf = 1;
    }
    if !finite {
        acc.first_nonfinite = Some(index);
        return acc;
    }
    acc.zero = (x == 0.0) as u64;
    acc.subnormal = (a < limits.own_min_normal && a != 0.0) as u64;
    acc.overflow = (a > limits.target_max) as u64;
    acc.underflow = (a < limits.target_min_normal && a != 0.0) as u64;
    acc.finite = 1;
    acc.mean = x;
    acc.min = x;
    acc.max = x;
    acc
}

/// Scalar scan for f64, complex and integer dtypes (read as f64).
fn scan_wide(dtype: DType, bytes: &[u8], order: ByteOrder, base: u64, limits: &Limits) -> Acc {
    let values = super::decode::wide_values(dtype, bytes, order);
    let per = wide_per_element(dtype) as u64;
    values.enumerate().fold(Acc::EMPTY, |acc, (i, x)| Acc::merge(acc, one(x, base + i as u64 / per, limits)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::{bf16, f16};

    fn f32_bytes(xs: &[f32]) -> Vec<u8> {
        xs.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn naive(xs: &[f64]) -> (f64, f64) {
        let f: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
        let mean = f.iter().sum::<f64>() / f.len() as f64;
        let var = f.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / f.len() as f64;
        (mean, var.sqrt())
    }

    #[test]
    fn counts_every_class_and_finds_first_nonfinite() {
        let xs = [1.0, f32::NAN, 0.0, f32::INFINITY, -2.0, f32::NEG_INFINITY, 1e-40, 70000.0, 1e-6];
        let s = tensor_stats(DType::F32, &f32_bytes(&xs), ByteOrder::Little, TargetDType::F16).unwrap();
        assert_eq!((s.count, s.nan, s.pos_inf, s.neg_inf, s.zero), (9, 1, 1, 1, 1));
        assert_eq!(s.subnormal, 1);
        assert_eq!(s.overflow, Some(1));
        assert_eq!(s.underflow, Some(2));
        assert_eq!(s.first_nonfinite_flat, Some(1));
        assert_eq!(s.min, Some(-2.0));
        assert_eq!(s.max, Some(70000.0));
        assert_eq!(s.absmax, Some(70000.0));
    }

    #[test]
    fn moments_match_a_two_pass_reference_across_chunks() {
        let n = CHUNK * 3 + 13;
        let xs: Vec<f32> = (0..n).map(|i| 1000.0 + ((i * 7919) % 1013) as f32 * 0.01).collect();
        let s = tensor_stats(DType::F32, &f32_bytes(&xs), ByteOrder::Little, TargetDType::None).unwrap();
        let (mean, std) = naive(&xs.iter().map(|&x| x as f64).collect::<Vec<_>>());
        assert!((s.mean.unwrap() - mean).abs() < 1e-6 * mean.abs());
        assert!((s.std.unwrap() - std).abs() < 1e-4 * std);
        assert_eq!(s.overflow, None);
    }

    #[test]
    fn first_nonfinite_is_global_across_chunks() {
        let mut xs = vec![0.5f32; CHUNK * 2 + 5];
        xs[CHUNK + 3] = f32::NAN;
        xs[CHUNK * 2 + 4] = f32::INFINITY;
        let s = tensor_stats(DType::F32, &f32_bytes(&xs), ByteOrder::Little, TargetDType::F16).unwrap();
        assert_eq!(s.first_nonfinite_flat, Some(CHUNK as u64 + 3));
        assert_eq!((s.nan, s.pos_inf), (1, 1));
    }

    #[test]
    fn f16_subnormals_are_judged_in_f16() {
        let xs = [f16::from_f32(1e-6), f16::from_f32(1.0), f16::NAN, f16::from_f32(-0.0)];
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let s = tensor_stats(DType::F16, &bytes, ByteOrder::Little, TargetDType::F16).unwrap();
        assert_eq!((s.subnormal, s.nan, s.zero, s.count), (1, 1, 1, 4));
        assert_eq!(s.first_nonfinite_flat, Some(2));
    }

    #[test]
    fn bf16_overflows_fp16_target() {
        let xs = [bf16::from_f32(1e6), bf16::from_f32(-3.0)];
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let s = tensor_stats(DType::BF16, &bytes, ByteOrder::Little, TargetDType::F16).unwrap();
        assert_eq!(s.overflow, Some(1));
        let s = tensor_stats(DType::BF16, &bytes, ByteOrder::Little, TargetDType::BF16).unwrap();
        assert_eq!(s.overflow, Some(0));
    }

    /// 16-bit floats spread over several magnitudes, with NaN, ±Inf, zeros and
    /// subnormals sprinkled in, as little-endian bits.
    fn sixteen_bit_values(n: usize, to_bits: impl Fn(f32) -> u16, specials: [u16; 4]) -> Vec<u16> {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        (0..n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match state % 997 {
                    0..=3 => specials[(state % 4) as usize],
                    4 => 0x8000,
                    5 => 1 + (state >> 32) as u16 % 0x3FF,
                    _ => to_bits(((state >> 11) as f32 / (1u64 << 53) as f32 - 0.5) * 8f32.powi((i % 5) as i32)),
                }
            })
            .collect()
    }

    fn assert_stats_agree(fast: &TensorStats, slow: &TensorStats) {
        let counts = |s: &TensorStats| {
            (s.count, s.nan, s.pos_inf, s.neg_inf, s.zero, s.subnormal, s.overflow, s.underflow, s.first_nonfinite_flat)
        };
        assert_eq!(counts(fast), counts(slow));
        assert_eq!((fast.min, fast.max, fast.absmax), (slow.min, slow.max, slow.absmax));
        let std = slow.std.unwrap();
        assert!((fast.mean.unwrap() - slow.mean.unwrap()).abs() <= 1e-6 * std, "{fast:?} vs {slow:?}");
        assert!((fast.std.unwrap() - std).abs() <= 1e-6 * std, "{fast:?} vs {slow:?}");
    }

    #[test]
    fn fused_sixteen_bit_scan_matches_the_decoded_scan() {
        // Little-endian F16/BF16 take the fused path; the same values stored
        // big-endian are decoded to f32 first, so they check each other.
        let f16_specials = [0x7C00, 0xFC00, 0x7E00, 0xFD01];
        let bf16_specials = [0x7F80, 0xFF80, 0x7FC0, 0xFF81];
        let cases: [(DType, Vec<u16>); 2] = [
            (DType::F16, sixteen_bit_values(CHUNK * 2 + 37, |x| f16::from_f32(x).to_bits(), f16_specials)),
            (DType::BF16, sixteen_bit_values(CHUNK * 2 + 37, |x| bf16::from_f32(x * 1e5).to_bits(), bf16_specials)),
        ];
        for (dtype, bits) in cases {
            let le: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
            let be: Vec<u8> = bits.iter().flat_map(|b| b.to_be_bytes()).collect();
            for target in [TargetDType::F16, TargetDType::BF16, TargetDType::None] {
                let fast = tensor_stats(dtype, &le, ByteOrder::Little, target).unwrap();
                let slow = tensor_stats(dtype, &be, ByteOrder::Big, target).unwrap();
                assert!(fast.nan > 0 && fast.subnormal > 0 && fast.zero > 0, "the data exercise every class");
                assert_stats_agree(&fast, &slow);
                // Unaligned input (an odd address) must not change anything.
                let mut shifted = vec![0u8];
                shifted.extend_from_slice(&le);
                assert_eq!(tensor_stats(dtype, &shifted[1..], ByteOrder::Little, target).unwrap(), fast);
            }
        }
    }

    #[test]
    fn f32_kernel_gives_identical_results_with_and_without_avx2() {
        let bits = sixteen_bit_values(CHUNK + 11, |x| f16::from_f32(x).to_bits(), [0x7C00, 0xFC00, 0x7E00, 0x0001]);
        let mut xs: Vec<f32> = bits.iter().map(|&b| f16::from_bits(b).to_f32() * 1e3).collect();
        xs[17] = 1e-40;
        xs[18] = 1e6;
        let limits = Limits::new(DType::F32, TargetDType::F16);
        let portable = scan_f32_lanes(&xs, 5, &limits);
        assert_eq!(scan_f32(&xs, 5, &limits), portable);
        assert!(portable.nan > 0 && portable.subnormal == 1 && portable.overflow > 0);
        // Unaligned bytes take the decoding path and must agree with the in-place scan.
        let bytes: &[u8] = bytemuck::cast_slice(&xs);
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(bytes);
        let in_place = tensor_stats(DType::F32, bytes, ByteOrder::Little, TargetDType::F16).unwrap();
        let decoded = tensor_stats(DType::F32, &shifted[1..], ByteOrder::Little, TargetDType::F16).unwrap();
        assert_eq!(in_place, decoded);
    }

    #[test]
    fn first_nonfinite_of_fused_scan_is_global_across_chunks() {
        let mut bits = vec![f16::from_f32(0.5).to_bits(); CHUNK * 3];
        bits[CHUNK * 2 + 9] = 0xFC00;
        bits[CHUNK * 2 + 700] = 0x7E00;
        let bytes: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
        let s = tensor_stats(DType::F16, &bytes, ByteOrder::Little, TargetDType::F16).unwrap();
        assert_eq!(s.first_nonfinite_flat, Some(CHUNK as u64 * 2 + 9));
        assert_eq!((s.nan, s.neg_inf, s.finite()), (1, 1, CHUNK as u64 * 3 - 2));
    }

    #[test]
    fn huge_values_keep_finite_moments() {
        let values = [3e38f32, -3e38, 1e30, 2.0];
        let bytes: Vec<u8> = values.iter().flat_map(|&x| bf16::from_f32(x).to_le_bytes()).collect();
        let s = tensor_stats(DType::BF16, &bytes, ByteOrder::Little, TargetDType::F16).unwrap();
        let decoded: Vec<f64> = values.iter().map(|&x| bf16::from_f32(x).to_f64()).collect();
        let (mean, std) = naive(&decoded);
        assert!((s.std.unwrap() - std).abs() <= 1e-9 * std, "{s:?}");
        assert!((s.mean.unwrap() - mean).abs() <= 1e-9 * std, "{s:?}");
        assert_eq!(s.overflow, Some(3));
        let xs: Vec<f32> = (0..16).map(|i| if i % 2 == 0 { 3e38 } else { -3e38 }).collect();
        let s = tensor_stats(DType::F32, &f32_bytes(&xs), ByteOrder::Little, TargetDType::None).unwrap();
        assert_eq!((s.mean, s.std), (Some(0.0), Some(3e38f32 as f64)));
    }

    #[test]
    fn integers_have_moments_and_no_nonfinite() {
        let xs: [i64; 4] = [-5, 0, 5, 10];
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let s = tensor_stats(DType::I64, &bytes, ByteOrder::Little, TargetDType::F16).unwrap();
        assert_eq!((s.count, s.zero, s.nan), (4, 1, 0));
        assert_eq!((s.min, s.max, s.mean), (Some(-5.0), Some(10.0), Some(2.5)));
    }

    #[test]
    fn big_endian_f32_is_decoded() {
        let bytes: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_be_bytes()).collect();
        let s = tensor_stats(DType::F32, &bytes, ByteOrder::Big, TargetDType::None).unwrap();
        assert_eq!((s.min, s.max), (Some(-2.0), Some(1.5)));
    }

    #[test]
    fn filled_values_match_the_byte_kernel() {
        let xs: Vec<f32> = (0..CHUNK * 2 + 7).map(|i| if i == CHUNK + 1 { f32::NAN } else { i as f32 * 0.5 }).collect();
        let from_bytes = tensor_stats(DType::F32, &f32_bytes(&xs), ByteOrder::Little, TargetDType::F16).unwrap();
        let filled = stats_from_fill(xs.len() as u64, TargetDType::F16, |start, buf| {
            buf.copy_from_slice(&xs[start as usize..start as usize + buf.len()]);
        });
        assert_eq!(filled, from_bytes);
    }

    #[test]
    fn empty_tensor_has_no_moments() {
        let s = tensor_stats(DType::F16, &[], ByteOrder::Little, TargetDType::F16).unwrap();
        assert_eq!(s.count, 0);
        assert_eq!(s.mean, None);
    }

    #[test]
    fn ragged_bytes_and_packed_dtypes_are_errors() {
        assert!(tensor_stats(DType::F32, &[0; 5], ByteOrder::Little, TargetDType::F16).is_err());
        assert!(tensor_stats(DType::F4, &[0; 4], ByteOrder::Little, TargetDType::F16).is_err());
    }
}
