//! Fake quantization: quantize-then-dequantize kernels that reproduce, value
//! for value, what a conversion tool would store for a float weight.
//!
//! Every scheme works on rows of decoded f32 values. A row is one output
//! channel (dim 0 of a weight; the whole tensor for 1-D tensors). Formulas,
//! all in f32 with round-half-to-even (`torch.round`, `np.round`):
//!
//! | scheme | granularity | scale | code | dequantized |
//! |---|---|---|---|---|
//! | `int8` | tensor | `absmax / 127` | `clamp(round(x / s), -127, 127)` | `q·s` |
//! | `int8-channel` | row | `max(absmax_row / 127.5, eps_f32)` | `clamp(round(x · (1/s)), -128, 127)` | `q·s` |
//! | `int4-g128` | 128 values of a row | `max(max − min, 1e-5) / 15` | `clamp(round(x / s) + z, 0, 15)`, `z = clamp(−round(min / s), 0, 15)` | `(q − z)·s` |
//! | `fp8-e4m3` | tensor | `absmax / 448` | `e4m3(x / s)` | `e4m3·s` |
//! | `fp16`, `bf16` | element | – | round-to-nearest-even cast | the cast value |
//!
//! `int8` is the classic symmetric per-tensor scheme (GGUF Q8_0 and quanto use
//! the same `/127`). `int8-channel` is torchao `int8_weight_only`
//! (`choose_qparams_affine` symmetric: `quant_max − quant_min = 255`, so the
//! scale is `absmax/127.5`, clamped to `finfo(float32).eps`, and the code is
//! `round(x · (1/scale))`). `int4-g128` is the asymmetric min/max
//! round-to-nearest that AWQ's `pseudo_quantize_tensor` and GPTQ-style RTN
//! baselines use; groups run along the row (the input dimension), and a last
//! group shorter than 128 is quantized on its own. `fp8-e4m3` scales per
//! tensor like compressed-tensors and then casts without saturation, as
//! PyTorch's c10 conversion and ml_dtypes do: a scaled magnitude above 464
//! becomes the NaN code (464 itself rounds to 448). With an absmax scale that
//! only happens when the scale itself underflows; the unscaled cast, where it
//! matters, is counted apart (`unscaled_overflow`).
//!
//! A NaN or Inf input poisons the scale it shares, as in PyTorch: `amax`
//! propagates NaN and Inf, so the per-tensor scale (`int8`, `fp8-e4m3`), the
//! row's scale (`int8-channel`) or the group's (`int4-g128`) becomes NaN or
//! Inf, and every value under it dequantizes to NaN (`0 · Inf` included).
//! Such values are counted as `lost`. The casts (`fp16`, `bf16`) have no
//! scale: a non-finite input stays what it is and harms nothing else.

use half::{bf16, f16};

/// A quantization scheme that `weights --simulate` can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantScheme {
    Int8,
    Int8Channel,
    Int4G128,
    Fp8E4M3,
    Fp16,
    Bf16,
}

/// How a scheme shares its scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Tensor,
    Channel,
    Group(usize),
    Element,
}

impl Granularity {
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Tensor => "tensor",
            Granularity::Channel => "channel",
            Granularity::Group(_) => "group",
            Granularity::Element => "element",
        }
    }
}

/// Rounding moves a value by at most half a step; a value moved further was
/// clamped. The slack absorbs the f32 error of `x · (1/scale)`, which can
/// put the absmax element a hair beyond the half step.
const CLIP_SLACK: f32 = 0.5 + 1e-3;

/// Accumulator lanes of the vectorised loops.
const LANES: usize = 8;

/// Values per group of `int4-g128`.
pub const INT4_GROUP: usize = 128;
/// Largest finite float8 e4m3fn value.
pub const E4M3_MAX: f32 = 448.0;
/// Magnitudes above this become NaN in an unsaturated e4m3fn cast.
pub const E4M3_NAN_FROM: f32 = 464.0;

impl QuantScheme {
    pub const ALL: [QuantScheme; 6] = [
        QuantScheme::Int8,
        QuantScheme::Int8Channel,
        QuantScheme::Int4G128,
        QuantScheme::Fp8E4M3,
        QuantScheme::Fp16,
        QuantScheme::Bf16,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QuantScheme::Int8 => "int8",
            QuantScheme::Int8Channel => "int8-channel",
            QuantScheme::Int4G128 => "int4-g128",
            QuantScheme::Fp8E4M3 => "fp8-e4m3",
            QuantScheme::Fp16 => "fp16",
            QuantScheme::Bf16 => "bf16",
        }
    }

    pub fn from_name(name: &str) -> Option<QuantScheme> {
        QuantScheme::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    pub fn bits(self) -> u32 {
        match self {
            QuantScheme::Int8 | QuantScheme::Int8Channel | QuantScheme::Fp8E4M3 => 8,
            QuantScheme::Int4G128 => 4,
            QuantScheme::Fp16 | QuantScheme::Bf16 => 16,
        }
    }

    pub fn granularity(self) -> Granularity {
        match self {
            QuantScheme::Int8 | QuantScheme::Fp8E4M3 => Granularity::Tensor,
            QuantScheme::Int8Channel => Granularity::Channel,
            QuantScheme::Int4G128 => Granularity::Group(INT4_GROUP),
            QuantScheme::Fp16 | QuantScheme::Bf16 => Granularity::Element,
        }
    }

    /// Whether the scheme maps weights to integer codes (the schemes that
    /// tools apply to matrices only).
    pub fn is_integer(self) -> bool {
        matches!(self, QuantScheme::Int8 | QuantScheme::Int8Channel | QuantScheme::Int4G128)
    }

    /// Whether the scheme is a plain dtype cast rather than a quantization.
    pub fn is_cast(self) -> bool {
        matches!(self, QuantScheme::Fp16 | QuantScheme::Bf16)
    }
}

impl std::fmt::Display for QuantScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a row lost beyond rounding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowLoss {
    /// Values that lay beyond the representable range: clamping moved them by
    /// more than the half step that rounding alone can.
    pub clipped: u64,
    /// Finite values that became Inf or NaN.
    pub overflow: u64,
    /// Finite values that dequantize to NaN because a NaN or Inf in their
    /// scope made the scale they share non-finite.
    pub lost: u64,
}

impl RowLoss {
    pub fn add(&mut self, other: RowLoss) {
        self.clipped += other.clipped;
        self.overflow += other.overflow;
        self.lost += other.lost;
    }
}

/// The per-tensor scale of `int8` and `fp8-e4m3` for a tensor whose absmax
/// (see [`scope_absmax`]) is `absmax`; 1.0 for an all-zero tensor so that
/// zeros stay zeros. A NaN or infinite absmax gives that scale.
pub fn tensor_scale(scheme: QuantScheme, absmax: f32) -> f32 {
    let scale = match scheme {
        QuantScheme::Fp8E4M3 => absmax / E4M3_MAX,
        _ => absmax / 127.0,
    };
    if scale > 0.0 || scale.is_nan() { scale } else { 1.0 }
}

/// The absmax a quantizer computes over its scope, as `x.abs().amax()` in
/// PyTorch: NaN when any value is NaN, +Inf when any is infinite, else the
/// largest magnitude (0 for an empty scope).
pub fn scope_absmax(values: &[f32]) -> f32 {
    // Branch-free so that the loop vectorises.
    let nonfinite = values.iter().fold(false, |any, x| any | x.is_nan() | (x.abs() > f32::MAX));
    if !nonfinite {
        finite_absmax(values)
    } else if values.iter().any(|x| x.is_nan()) {
        f32::NAN
    } else {
        f32::INFINITY
    }
}

/// Joins two absmax values like `amax` does: NaN wins.
pub fn join_absmax(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() { f32::NAN } else { a.max(b) }
}

/// A scope whose scale is NaN or Inf: every value dequantizes to NaN.
fn poisoned(row: &[f32], out: &mut [f32]) -> RowLoss {
    out.fill(f32::NAN);
    let lost = row.iter().filter(|x| x.is_finite()).count() as u64;
    RowLoss { lost, ..RowLoss::default() }
}

/// Quantizes and dequantizes one row into `out` (same length as `row`).
/// `tensor_scale` is used by the per-tensor schemes and ignored by the others.
pub fn fake_quantize_row(scheme: QuantScheme, tensor_scale: f32, row: &[f32], out: &mut [f32]) -> RowLoss {
    let out = &mut out[..row.len()];
    let per_tensor = scheme.granularity() == Granularity::Tensor;
    if per_tensor && !tensor_scale.is_finite() {
        return poisoned(row, out);
    }
    match scheme {
        QuantScheme::Int8 => symmetric(row, out, tensor_scale, -127.0, 127.0, false),
        QuantScheme::Int8Channel => {
            let absmax = scope_absmax(row);
            if !absmax.is_finite() {
                return poisoned(row, out);
            }
            let scale = (absmax / 127.5).max(f32::EPSILON);
            symmetric(row, out, scale, -128.0, 127.0, true)
        }
        QuantScheme::Int4G128 => {
            let mut loss = RowLoss::default();
            for (group, dst) in row.chunks(INT4_GROUP).zip(out.chunks_mut(INT4_GROUP)) {
                loss.add(asymmetric_group(group, dst));
            }
            loss
        }
        QuantScheme::Fp8E4M3 => {
            let mut loss = RowLoss::default();
            for (o, &x) in out.iter_mut().zip(row) {
                let scaled = round_e4m3(x / tensor_scale);
                loss.overflow += (x.is_finite() && scaled.is_nan()) as u64;
                *o = scaled * tensor_scale;
            }
            loss
        }
        QuantScheme::Fp16 => cast(row, out, |x| f16::from_f32(x).to_f32()),
        QuantScheme::Bf16 => cast(row, out, |x| bf16::from_f32(x).to_f32()),
    }
}

/// Quantizes a whole row-major tensor of rows of `row_len` values; the
/// reference entry point for tests.
pub fn fake_quantize(scheme: QuantScheme, values: &[f32], row_len: usize) -> (Vec<f32>, RowLoss) {
    let mut out = vec![0f32; values.len()];
    let scale = tensor_scale(scheme, scope_absmax(values));
    let mut loss = RowLoss::default();
    for (row, dst) in values.chunks(row_len.max(1)).zip(out.chunks_mut(row_len.max(1))) {
        loss.add(fake_quantize_row(scheme, scale, row, dst));
    }
    (out, loss)
}

/// Largest finite magnitude, 0 when there is none.
pub fn finite_absmax(values: &[f32]) -> f32 {
    // Lane-wise selects instead of `f32::max` let the loop vectorise.
    let mut lanes = [0f32; LANES];
    let rows = values.chunks_exact(LANES);
    let tail = rows.remainder();
    for row in rows {
        for (m, &x) in lanes.iter_mut().zip(row) {
            let a = x.abs();
            let a = if a <= f32::MAX { a } else { 0.0 };
            *m = if a > *m { a } else { *m };
        }
    }
    tail.iter().chain(&lanes).fold(0f32, |m, &x| if x.is_finite() && x.abs() > m { x.abs() } else { m })
}

fn symmetric(row: &[f32], out: &mut [f32], scale: f32, qmin: f32, qmax: f32, by_reciprocal: bool) -> RowLoss {
    let inv = 1.0 / scale;
    let mut clipped = 0u64;
    // Branch-free so that it vectorises: non-finite inputs pass through by select.
    for (o, &x) in out.iter_mut().zip(row) {
        let finite = x.abs() <= f32::MAX;
        let t = if by_reciprocal { x * inv } else { x / scale };
        let code = round_half_even(t).clamp(qmin, qmax);
        clipped += (finite & ((t - code).abs() > CLIP_SLACK)) as u64;
        *o = if finite { code * scale } else { x };
    }
    RowLoss { clipped, ..RowLoss::default() }
}

fn asymmetric_group(group: &[f32], out: &mut [f32]) -> RowLoss {
    if !scope_absmax(group).is_finite() {
        return poisoned(group, out);
    }
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &x in group.iter().filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if lo > hi {
        out.copy_from_slice(group);
        return RowLoss::default();
    }
    let scale = (hi - lo).max(1e-5) / 15.0;
    let zero = (-round_half_even(lo / scale)).clamp(0.0, 15.0);
    let mut loss = RowLoss::default();
    for (o, &x) in out.iter_mut().zip(group) {
        if !x.is_finite() {
            *o = x;
            continue;
        }
        let t = round_half_even(x / scale) + zero;
        let code = t.clamp(0.0, 15.0);
        loss.clipped += ((x / scale + zero - code).abs() > CLIP_SLACK) as u64;
        *o = (code - zero) * scale;
    }
    loss
}

/// Round-half-to-even without a libm call (the baseline x86-64 target has no
/// rounding instruction): adding and subtracting 1.5·2^23 rounds in the
/// FPU's default mode, exact for |t| ≤ 2^22. Larger magnitudes are clamped
/// first; every caller clamps codes to a far smaller range anyway.
#[inline]
fn round_half_even(t: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    const LIMIT: f32 = 4_194_304.0;
    let t = t.clamp(-LIMIT, LIMIT);
    (t + MAGIC) - MAGIC
}

fn cast(row: &[f32], out: &mut [f32], convert: impl Fn(f32) -> f32) -> RowLoss {
    let mut loss = RowLoss::default();
    for (o, &x) in out.iter_mut().zip(row) {
        let y = convert(x);
        loss.overflow += (x.is_finite() && !y.is_finite()) as u64;
        *o = y;
    }
    loss
}

/// The value an unsaturated fp32 → float8_e4m3fn cast stores (PyTorch's c10
/// `fp8e4m3fn_from_fp32_value`, ml_dtypes): round-to-nearest-even on 3
/// mantissa bits, subnormals below 2^-6 on a grid of 2^-9, and |x| > 464 or
/// ±Inf become NaN. Some PyTorch builds saturate instead (2.15 on CPU stores
/// ±448 for 1e4 and for Inf); [`round_e4m3_saturating`] is that cast.
pub fn round_e4m3(x: f32) -> f32 {
    if x.abs() > E4M3_NAN_FROM {
        return f32::NAN;
    }
    round_e4m3_saturating(x)
}

/// The saturating e4m3fn cast: like [`round_e4m3`], but magnitudes that would
/// round above 448 (Inf included) store ±448. NaN stays NaN.
pub fn round_e4m3_saturating(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    if a > E4M3_NAN_FROM {
        return E4M3_MAX.copysign(x);
    }
    // The grid spacing is 2^(e-3) in binade e, and 2^-9 throughout the subnormals.
    let exponent = (((a.to_bits() >> 23) & 0xFF) as i32 - 127).max(-6);
    let quantum = f32::from_bits(((exponent - 3 + 127) as u32) << 23);
    let q = round_half_even(a / quantum) * quantum;
    q.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e4m3_edges_follow_the_unsaturated_cast() {
        assert_eq!(round_e4m3(448.0), 448.0);
        assert_eq!(round_e4m3(464.0), 448.0);
        assert!(round_e4m3(464.5).is_nan());
        assert!(round_e4m3(-479.0).is_nan());
        assert!(round_e4m3(f32::INFINITY).is_nan());
        assert_eq!(round_e4m3(1.0625), 1.0);
        assert_eq!(round_e4m3(1.0626), 1.125);
        assert_eq!(round_e4m3(2f32.powi(-10)), 0.0);
        assert_eq!(round_e4m3(3.0 * 2f32.powi(-10)), 2f32.powi(-8));
        assert_eq!(round_e4m3(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(round_e4m3_saturating(1e4), 448.0);
        assert_eq!(round_e4m3_saturating(f32::NEG_INFINITY), -448.0);
        assert!(round_e4m3_saturating(f32::NAN).is_nan());
    }

    #[test]
    fn outlier_zeroes_every_other_weight_per_tensor_but_not_per_channel() {
        let mut w = vec![0.01f32; 4 * 64];
        w[3] = 500.0;
        let (q, _) = fake_quantize(QuantScheme::Int8, &w, 64);
        assert_eq!(q[3], 500.0);
        assert_eq!(q.iter().filter(|&&v| v == 0.0).count(), w.len() - 1);
        let (q, _) = fake_quantize(QuantScheme::Int8Channel, &w, 64);
        assert!(q[64..].iter().all(|&v| (v - 0.01).abs() < 1e-4));
    }

    #[test]
    fn torchao_channel_scale_clips_the_positive_absmax_by_half_a_step_only() {
        let row = [1.0f32, -0.5, 0.25];
        let mut out = [0f32; 3];
        let loss = fake_quantize_row(QuantScheme::Int8Channel, 0.0, &row, &mut out);
        assert_eq!(loss, RowLoss::default());
        assert_eq!(out[0], 127.0 * (1.0 / 127.5));
    }

    #[test]
    fn int4_group_of_positive_values_clips_like_awq() {
        let row: Vec<f32> = (0..128).map(|i| 1.0 + i as f32 * 0.001).collect();
        let mut out = vec![0f32; 128];
        let loss = fake_quantize_row(QuantScheme::Int4G128, 0.0, &row, &mut out);
        assert!(loss.clipped > 100, "{loss:?}");
    }

    /// Issue: a NaN or Inf weight made `--simulate int8` report a finite
    /// SQNR; torch's absmax scale becomes NaN/Inf and loses the whole scope.
    #[test]
    fn a_nonfinite_value_poisons_the_scale_it_shares() {
        let mut w = vec![0.01f32; 4 * 64];
        w[70] = f32::NAN;
        let (q, loss) = fake_quantize(QuantScheme::Int8, &w, 64);
        assert!(q.iter().all(|v| v.is_nan()));
        assert_eq!((loss.lost, loss.overflow), (255, 0));
        w[70] = f32::INFINITY;
        let (q, loss) = fake_quantize(QuantScheme::Fp8E4M3, &w, 64);
        assert!(q.iter().all(|v| v.is_nan()));
        assert_eq!(loss.lost, 255);
        // Per channel only the row is lost, per group only the group.
        let (q, loss) = fake_quantize(QuantScheme::Int8Channel, &w, 64);
        assert!(q[64..128].iter().all(|v| v.is_nan()) && q[..64].iter().all(|v| v.is_finite()));
        assert_eq!(loss.lost, 63);
        let row: Vec<f32> = (0..256).map(|i| if i == 3 { f32::NAN } else { i as f32 * 1e-3 }).collect();
        let (q, loss) = fake_quantize(QuantScheme::Int4G128, &row, 256);
        assert!(q[..128].iter().all(|v| v.is_nan()) && q[128..].iter().all(|v| v.is_finite()));
        assert_eq!(loss.lost, 127);
        // A cast has no scale: only the non-finite value itself is non-finite.
        let (q, loss) = fake_quantize(QuantScheme::Fp16, &row, 256);
        assert_eq!((q.iter().filter(|v| v.is_nan()).count(), loss.lost), (1, 0));
        assert!(scope_absmax(&[1.0, f32::NEG_INFINITY]).is_infinite());
        assert!(join_absmax(f32::NAN, 2.0).is_nan());
    }

    #[test]
    fn casts_count_overflow() {
        let row = [70000.0f32, 1.0, f32::INFINITY];
        let mut out = [0f32; 3];
        assert_eq!(fake_quantize_row(QuantScheme::Fp16, 1.0, &row, &mut out).overflow, 1);
        assert_eq!(out[0], f32::INFINITY);
        assert_eq!(fake_quantize_row(QuantScheme::Bf16, 1.0, &row, &mut out).overflow, 0);
    }

    #[test]
    fn half_even_rounding_matches_the_library() {
        for t in [0.5f32, 1.5, 2.5, -0.5, -1.5, 127.5, -127.5, 0.49999997, 3.7, -3.2, 1e6 + 0.5, 0.0] {
            assert_eq!(round_half_even(t), t.round_ties_even(), "{t}");
        }
    }

    #[test]
    fn scheme_names_round_trip() {
        for s in QuantScheme::ALL {
            assert_eq!(QuantScheme::from_name(s.name()), Some(s));
        }
        assert_eq!(QuantScheme::from_name("int3"), None);
    }

    mod properties {
        use super::super::*;
        use crate::numerics::DType;
        use crate::numerics::decode::byte_float_table;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn e4m3_rounding_picks_a_nearest_code(x in -470f32..470.0) {
                let q = round_e4m3(x);
                if x.abs() > E4M3_NAN_FROM {
                    prop_assert!(q.is_nan());
                } else {
                    let table = byte_float_table(DType::F8E4M3);
                    prop_assert!(table.contains(&q), "{} -> {} is not a code", x, q);
                    let best = table.iter().filter(|v| v.is_finite()).map(|v| (x - v).abs()).fold(f32::INFINITY, f32::min);
                    prop_assert!((x - q).abs() <= best, "{} -> {}, a code is {} away", x, q, best);
                }
            }

            #[test]
            fn per_channel_int8_error_stays_within_half_a_step(row in prop::collection::vec(-1e3f32..1e3, 1..300)) {
                let mut out = vec![0f32; row.len()];
                let loss = fake_quantize_row(QuantScheme::Int8Channel, 0.0, &row, &mut out);
                let scale = (finite_absmax(&row) / 127.5).max(f32::EPSILON);
                prop_assert_eq!(loss, RowLoss::default());
                for (x, q) in row.iter().zip(&out) {
                    prop_assert!((x - q).abs() <= 0.5 * scale * 1.001 + 1e-30, "{} -> {}", x, q);
                }
            }
        }
    }
}
