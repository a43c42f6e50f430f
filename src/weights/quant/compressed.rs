//! compressed-tensors and FP8: `weight` with `weight_scale` (int, float,
//! per tensor/channel/group), block FP8 `weight_scale_inv`, pack-quantized
//! `weight_packed` I32 with `weight_shape`, and NVFP4.

use super::grid::{geometry, info, missing, push_grid, shape_mismatch, signed_range};
use super::pieces::{matrix, values_f32, values_i64};
use super::recognize::Ctx;
use super::scheme::{Codes, Grid, Role, ZeroMode};
use crate::numerics::DType;
use crate::numerics::quant::codebooks::E2M1;
use crate::rules::quant as rules;

/// compressed-tensors `weight_packed`: NVFP4 (U8 nibbles, FP8 group scales,
/// global scale) or pack-quantized integers (I32 words, `weight_shape`).
pub fn packed_weight(ctx: &mut Ctx, base: &str, codes: usize) {
    let name = format!("{base}.weight");
    let packed = &ctx.cp.tensors[codes];
    let mut pieces = Vec::new();
    for (suffix, role) in [
        ("weight_scale", Role::Scale),
        ("weight_zero_point", Role::ZeroPoint),
        ("weight_global_scale", Role::Scale),
        ("weight_shape", Role::Metadata),
        ("weight_g_idx", Role::GroupIndex),
        ("input_scale", Role::ActivationScale),
        ("input_global_scale", Role::ActivationScale),
    ] {
        if let Some((i, _)) = ctx.get(&format!("{base}.{suffix}")) {
            pieces.push((i, role));
        }
    }
    let nvfp4 = packed.dtype == DType::U8 || ctx.has(&format!("{base}.weight_global_scale"));
    let bits = if nvfp4 { 4 } else { ctx.config.find_u64(&["num_bits", "bits"]).unwrap_or(4) as u32 };
    let info = info("compressed-tensors", if nvfp4 { "nvfp4" } else { "pack-quantized" }, bits);
    let Some((_, scale_entry)) = ctx.get(&format!("{base}.weight_scale")) else {
        let mut all = pieces.clone();
        all.push((codes, Role::Codes));
        return missing(ctx, &info, &name, &all, "weight_scale");
    };
    let mut all = pieces.clone();
    all.push((codes, Role::Codes));
    let (prow, pcols) = matrix(&packed.shape);
    let (rows, cols, codes_kind) = if nvfp4 {
        (prow, pcols * 2, Codes::Nibbles { high_first: false, table: Some(E2M1) })
    } else {
        let declared = ctx.get(&format!("{base}.weight_shape")).and_then(|(_, e)| values_i64(ctx.cp, e));
        let Some([out, inp]) = declared.as_deref().and_then(|d| <[i64; 2]>::try_from(d).ok()) else {
            return missing(ctx, &info, &name, &all, "weight_shape");
        };
        let (out, inp) = (out.max(0) as u64, inp.max(0) as u64);
        if !(1..=16).contains(&bits) {
            return shape_mismatch(ctx, &info, &name, &all, format!("{name}: num_bits {bits} is not 1..16"));
        }
        let words = inp.saturating_mul(bits as u64).div_ceil(32);
        if packed.dtype != DType::I32 || prow != out || pcols != words {
            let message = format!(
                "{name}: weight_shape [{out}, {inp}] at {bits} bits needs packed [{out}, {words}] I32 but weight_packed is {:?} {}",
                packed.shape, packed.dtype
            );
            return shape_mismatch(ctx, &info, &name, &all, message);
        }
        (out, inp, Codes::Stream { bits, words_per_row: words, offset: 1 << (bits - 1) })
    };
    let Some(mut scales) = values_f32(ctx.cp, scale_entry) else {
        return shape_mismatch(ctx, &info, &name, &all, format!("{name}: weight_scale cannot be read"));
    };
    // Scales are judged after division by the global scale, so the stored
    // dtype's smallest normal is divided the same way.
    let mut scale_min_normal = scale_entry.dtype.min_normal().unwrap_or(0.0);
    if let Some(global) = ctx.get(&format!("{base}.weight_global_scale")).and_then(|(_, e)| values_f32(ctx.cp, e)) {
        let g = global.first().copied().unwrap_or(f32::NAN);
        scales.iter_mut().for_each(|s| *s /= g);
        scale_min_normal /= g as f64;
    }
    let hint = ctx.config.find_u64(&["group_size"]).map(|g| [1, g]);
    let Some((br, bc, granularity)) = geometry(rows, cols, &scale_entry.shape, hint) else {
        let message = format!("{name}: weight_scale {:?} does not tile a [{rows}, {cols}] weight", scale_entry.shape);
        return shape_mismatch(ctx, &info, &name, &all, message);
    };
    let zeros = ctx
        .get(&format!("{base}.weight_zero_point"))
        .map(|(_, e)| (e.shape.iter().product::<u64>(), values_f32(ctx.cp, e)));
    let zeros = match zeros {
        None => None,
        Some((n, Some(z))) if n == scales.len() as u64 => Some(z),
        Some(_) => {
            let message =
                format!("{name}: packed zero points are not decoded; the weight is listed without statistics");
            ctx.finding(&rules::UNDECODED_SCHEME, &name, message);
            return ctx.orphans(&info, &name, &all);
        }
    };
    let grid = Grid {
        codes: codes_kind,
        codes_dtype: packed.dtype,
        rows,
        cols,
        block_rows: br,
        block_cols: bc,
        scales,
        zeros,
        zero_mode: ZeroMode::Subtract,
        positive_scales: true,
        scale_min_normal,
        code_range: Some(signed_range(bits)),
    };
    push_grid(ctx, name, vec![rows, cols], info, codes, pieces, grid, granularity);
}

/// `weight` (I8/U8/FP8) with `weight_scale` (compressed-tensors int/float
/// quantized, per-tensor/channel FP8) or `weight_scale_inv` (block FP8).
pub fn scaled_weight(ctx: &mut Ctx, base: &str, scale: usize, block_inverse: bool) {
    let name = format!("{base}.weight");
    let Some((codes, weight)) = ctx.get(&name) else {
        let info = info("fp8", "unknown", 8);
        let scale_name = ctx.cp.tensors[scale].name.clone();
        return missing(ctx, &info, &name, &[(scale, Role::Scale)], &format!("the weight that {scale_name} scales"));
    };
    let codes_kind = match weight.dtype {
        DType::I8 => Codes::I8,
        DType::U8 => Codes::U8,
        d @ (DType::F8E4M3 | DType::F8E5M2 | DType::F8E4M3Fnuz | DType::F8E5M2Fnuz) => Codes::Float8(d),
        // A scale beside an unquantized weight is not a scheme nanscope knows.
        _ => return,
    };
    let float = matches!(codes_kind, Codes::Float8(_));
    let method = ctx.config.method();
    let scheme: &'static str = match method.as_deref() {
        Some("compressed-tensors") => "compressed-tensors",
        _ if float => "fp8",
        _ => "compressed-tensors",
    };
    let bits = if float { 8 } else { ctx.config.find_u64(&["num_bits", "bits"]).unwrap_or(8).clamp(1, 8) as u32 };
    let format = match codes_kind {
        Codes::Float8(d) => d.name().trim_start_matches("F8_").to_ascii_lowercase(),
        _ => format!("int{bits}"),
    };
    let info = info(scheme, &format, bits);
    let mut pieces = vec![(scale, Role::Scale)];
    for (suffix, role) in [
        ("weight_zero_point", Role::ZeroPoint),
        ("weight_g_idx", Role::GroupIndex),
        ("input_scale", Role::ActivationScale),
        ("input_zero_point", Role::ActivationScale),
    ] {
        if let Some((i, _)) = ctx.get(&format!("{base}.{suffix}")) {
            pieces.push((i, role));
        }
    }
    let scale_entry = &ctx.cp.tensors[scale];
    let (rows, cols) = matrix(&weight.shape);
    let hint = if block_inverse {
        ctx.config.block_size().or(Some([128, 128]))
    } else {
        ctx.config.find_u64(&["group_size"]).map(|g| [1, g])
    };
    let mut all = pieces.clone();
    all.push((codes, Role::Codes));
    let Some((br, bc, granularity)) = geometry(rows, cols, &scale_entry.shape, hint) else {
        let message =
            format!("{name}: {} {:?} does not tile a [{rows}, {cols}] weight", scale_entry.name, scale_entry.shape);
        return shape_mismatch(ctx, &info, &name, &all, message);
    };
    let Some(scales) = values_f32(ctx.cp, scale_entry) else {
        return shape_mismatch(ctx, &info, &name, &all, format!("{name}: {} cannot be read", scale_entry.name));
    };
    // Activation-ordered groups map columns to groups through `weight_g_idx`;
    // only the plain order (column / group size) is decoded.
    let g_idx = ctx.get(&format!("{base}.weight_g_idx")).and_then(|(_, e)| values_i64(ctx.cp, e));
    if let Some(g_idx) = g_idx
        && g_idx.iter().enumerate().any(|(c, &g)| g as u64 != c as u64 % cols.max(1) / bc)
    {
        let message =
            format!("{name}: activation-ordered groups (weight_g_idx) are not decoded; listed without statistics");
        ctx.finding(&rules::UNDECODED_SCHEME, &name, message);
        return ctx.orphans(&info, &name, &all);
    }
    let zeros = ctx.get(&format!("{base}.weight_zero_point")).and_then(|(_, e)| values_f32(ctx.cp, e));
    let grid = Grid {
        codes: codes_kind,
        codes_dtype: weight.dtype,
        rows,
        cols,
        block_rows: br,
        block_cols: bc,
        scales,
        zeros,
        zero_mode: ZeroMode::Subtract,
        positive_scales: true,
        scale_min_normal: scale_entry.dtype.min_normal().unwrap_or(0.0),
        code_range: if weight.dtype == DType::U8 { Some((0.0, 255.0)) } else { Some(signed_range(bits)) },
    };
    push_grid(ctx, name, weight.shape.clone(), info, codes, pieces, grid, granularity);
}
