//! The AVX2 + F16C kernel of the 16-bit float scan: 16 elements per step, 16-bit lane counters.
//!
//! Per step it keeps only the counts that are not implied by others: all
//! non-finite values together (NaN and ±Inf are told apart afterwards, in
//! the rare blocks that hold any), zeros, magnitudes below the stored
//! dtype's smallest normal, and the target's underflow and overflow bounds
//! only when they differ from those (for an F16 tensor and an F16 target
//! they coincide, and nothing finite overflows). Non-finite values are
//! looked for once per group of steps rather than once per step: a group
//! that held any has its moments taken again with them masked out, which
//! halves the time of the common, all-finite scan.

use std::arch::x86_64::*;

use super::half_scan::{FLUSH_ROWS, Half, Tally, Thresholds};

/// Steps per block: 16-bit lane counters hold at most this many increments.
const BLOCK_ROWS: usize = 4096;

pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
}

/// # Safety
/// The CPU must support AVX2, FMA and F16C; `bytes.len()` must be a multiple of 32.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn tally(half: Half, bytes: &[u8], shift: f32, t: &Thresholds) -> Tally {
    let own_underflow = t.underflow_below == 0 || t.underflow_below == t.min_normal;
    let no_overflow = t.overflow_above == half.inf_bits() - 1;
    match (half, own_underflow, no_overflow) {
        (Half::F16, true, true) => tally_rows::<false, false, false>(bytes, shift, t),
        (Half::F16, true, false) => tally_rows::<false, false, true>(bytes, shift, t),
        (Half::F16, false, true) => tally_rows::<false, true, false>(bytes, shift, t),
        (Half::F16, false, false) => tally_rows::<false, true, true>(bytes, shift, t),
        (Half::BF16, true, true) => tally_rows::<true, false, false>(bytes, shift, t),
        (Half::BF16, true, false) => tally_rows::<true, false, true>(bytes, shift, t),
        (Half::BF16, false, true) => tally_rows::<true, true, false>(bytes, shift, t),
        (Half::BF16, false, false) => tally_rows::<true, true, true>(bytes, shift, t),
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
fn sum_lanes(v: __m256i) -> u64 {
    let mut lanes = [0u16; 16];
    // SAFETY: `lanes` is 32 writable bytes; storeu has no alignment need.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
    lanes.iter().map(|&x| x as u64).sum()
}

#[target_feature(enable = "avx2,fma,f16c")]
fn widen_sum(acc: __m256d, v: __m256) -> __m256d {
    let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
    _mm256_add_pd(acc, _mm256_add_pd(lo, hi))
}

#[target_feature(enable = "avx2,fma,f16c")]
fn sum_f64(v: __m256d) -> f64 {
    let mut lanes = [0f64; 4];
    // SAFETY: `lanes` is 32 writable bytes; storeu has no alignment need.
    unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), v) };
    lanes.iter().sum()
}

/// The 16 elements of a step as two vectors of f32 (in any order: no
/// statistic depends on it). Non-finite elements come out as NaN or ±Inf.
#[target_feature(enable = "avx2,fma,f16c")]
fn widen<const BF16: bool>(v: __m256i) -> [__m256; 2] {
    if BF16 {
        let zero = _mm256_setzero_si256();
        [_mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, v)), _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, v))]
    } else {
        [_mm256_cvtph_ps(_mm256_castsi256_si128(v)), _mm256_cvtph_ps(_mm256_extracti128_si256::<1>(v))]
    }
}

/// Folds one vector of values into the running extremes and a group's
/// partial sums of the values less `shift` and of their squares.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn fold(x: __m256, shift: __m256, lo: &mut __m256, hi: &mut __m256, s1: &mut __m256, s2: &mut __m256) {
    *lo = _mm256_min_ps(*lo, x);
    *hi = _mm256_max_ps(*hi, x);
    let d = _mm256_sub_ps(x, shift);
    *s1 = _mm256_add_ps(*s1, d);
    *s2 = _mm256_fmadd_ps(d, d, *s2);
}

/// `x` with every non-finite lane replaced by `shift`, which moves no moment.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn finite_or(x: __m256, shift: __m256) -> __m256 {
    let abs = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF)));
    let finite = _mm256_cmp_ps::<_CMP_LE_OQ>(abs, _mm256_set1_ps(f32::MAX));
    _mm256_blendv_ps(shift, x, finite)
}

/// Splits a block's non-finite values into NaN, +Inf and -Inf.
fn split_nonfinite(inf: u16, block: &[u8], out: &mut Tally) {
    for b in block.chunks_exact(2) {
        let bits = u16::from_le_bytes([b[0], b[1]]);
        let m = bits & 0x7FFF;
        out.nan += (m > inf) as u64;
        out.pos_inf += (bits == inf) as u64;
        out.neg_inf += (bits == inf | 0x8000) as u64;
    }
}

/// `UNDER`/`OVER`: whether the target's underflow/overflow bounds need
/// their own counters (see the module comment).
#[target_feature(enable = "avx2,fma,f16c")]
fn tally_rows<const BF16: bool, const UNDER: bool, const OVER: bool>(
    bytes: &[u8],
    shift: f32,
    t: &Thresholds,
) -> Tally {
    let half = if BF16 { Half::BF16 } else { Half::F16 };
    let inf = half.inf_bits();
    // Magnitudes are at most 0x7FFF, so signed 16-bit compares order them.
    let magnitude_mask = _mm256_set1_epi16(0x7FFF);
    let v_finite_max = _mm256_set1_epi16(inf as i16 - 1);
    let v_min_normal = _mm256_set1_epi16(t.min_normal as i16);
    let v_underflow = _mm256_set1_epi16(t.underflow_below as i16);
    let v_overflow = _mm256_set1_epi16(t.overflow_above as i16);
    let zero = _mm256_setzero_si256();
    let v_shift = _mm256_set1_ps(shift);

    let mut out = Tally { count: (bytes.len() / 2) as u64, ..Tally::EMPTY };
    let (mut lo_a, mut lo_b) = (_mm256_set1_ps(f32::INFINITY), _mm256_set1_ps(f32::INFINITY));
    let (mut hi_a, mut hi_b) = (_mm256_set1_ps(f32::NEG_INFINITY), _mm256_set1_ps(f32::NEG_INFINITY));
    let (mut sum, mut sum_sq) = (_mm256_setzero_pd(), _mm256_setzero_pd());

    for block in bytes.chunks(32 * BLOCK_ROWS) {
        let (mut c_nonfinite, mut c_zero, mut c_min_normal) = (zero, zero, zero);
        let (mut c_underflow, mut c_overflow) = (zero, zero);
        for group in block.chunks(32 * FLUSH_ROWS) {
            let (nonfinite_before, lo_before, hi_before) = (c_nonfinite, (lo_a, lo_b), (hi_a, hi_b));
            let (mut s1a, mut s1b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let (mut s2a, mut s2b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            for row in group.chunks_exact(32) {
                // SAFETY: `row` is exactly 32 readable bytes; loadu has no alignment need.
                let v = unsafe { _mm256_loadu_si256(row.as_ptr().cast()) };
                let m = _mm256_and_si256(v, magnitude_mask);
                c_nonfinite = _mm256_sub_epi16(c_nonfinite, _mm256_cmpgt_epi16(m, v_finite_max));
                c_zero = _mm256_sub_epi16(c_zero, _mm256_cmpeq_epi16(m, zero));
                c_min_normal = _mm256_sub_epi16(c_min_normal, _mm256_cmpgt_epi16(v_min_normal, m));
                if UNDER {
                    c_underflow = _mm256_sub_epi16(c_underflow, _mm256_cmpgt_epi16(v_underflow, m));
                }
                if OVER {
                    c_overflow = _mm256_sub_epi16(c_overflow, _mm256_cmpgt_epi16(m, v_overflow));
                }
                let [xa, xb] = widen::<BF16>(v);
                fold(xa, v_shift, &mut lo_a, &mut hi_a, &mut s1a, &mut s2a);
                fold(xb, v_shift, &mut lo_b, &mut hi_b, &mut s1b, &mut s2b);
            }
            // Non-finite values are rare: rather than test every step, a
            // group that held any has its moments taken again without them.
            let new_nonfinite = _mm256_xor_si256(c_nonfinite, nonfinite_before);
            if _mm256_testz_si256(new_nonfinite, new_nonfinite) == 0 {
                ((lo_a, lo_b), (hi_a, hi_b)) = (lo_before, hi_before);
                (s1a, s1b, s2a, s2b) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
                for row in group.chunks_exact(32) {
                    // SAFETY: as above.
                    let v = unsafe { _mm256_loadu_si256(row.as_ptr().cast()) };
                    let [xa, xb] = widen::<BF16>(v);
                    fold(finite_or(xa, v_shift), v_shift, &mut lo_a, &mut hi_a, &mut s1a, &mut s2a);
                    fold(finite_or(xb, v_shift), v_shift, &mut lo_b, &mut hi_b, &mut s1b, &mut s2b);
                }
            }
            sum = widen_sum(widen_sum(sum, s1a), s1b);
            sum_sq = widen_sum(widen_sum(sum_sq, s2a), s2b);
        }
        let nonfinite = sum_lanes(c_nonfinite);
        if nonfinite > 0 {
            split_nonfinite(inf, block, &mut out);
        }
        let zeros = sum_lanes(c_zero);
        let below_min_normal = sum_lanes(c_min_normal);
        out.zero += zeros;
        out.below_min_normal += below_min_normal;
        out.below_underflow += match (UNDER, t.underflow_below) {
            (true, _) => sum_lanes(c_underflow),
            (false, 0) => 0,
            (false, _) => below_min_normal,
        };
        out.above_overflow += if OVER { sum_lanes(c_overflow) } else { nonfinite };
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` is 32 writable bytes; storeu has no alignment need.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_min_ps(lo_a, lo_b)) };
    out.min = lanes.iter().copied().fold(f32::INFINITY, f32::min);
    // SAFETY: as above.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_max_ps(hi_a, hi_b)) };
    out.max = lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    out.sum = sum_f64(sum);
    out.sum_sq = sum_f64(sum_sq);
    out
}
