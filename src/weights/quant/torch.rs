//! Quantization schemes of torch-pickled checkpoints:
//! - torch quantized tensors (`_rebuild_qtensor`), whose quantizer
//!   parameters the reader lists beside the codes as `<name>.q_scale`,
//!   `<name>.q_zero_point` or `<name>.q_per_channel_scales`,
//!   `<name>.q_per_channel_zero_points`, `<name>.q_per_channel_axis`;
//! - `torch.ao` `quantize_dynamic` Linear state dicts, whose weight and bias
//!   sit in `<module>._packed_params._packed_params.{0,1}` and are presented
//!   as `<module>.weight` and `<module>.bias`;
//! - torchao int8 tensor subclasses, read through their inner tensors:
//!   `Int8Tensor` (`<name>.qdata`, `.scale`, `.zero_point`) and the older
//!   `AffineQuantizedTensor` (`<name>.tensor_impl.int_data`, …).

use super::grid::{geometry, info, missing, push_grid, shape_mismatch};
use super::pieces::{matrix, values_f32, values_i64};
use super::recognize::Ctx;
use super::scheme::{Codes, Grid, Role, ZeroMode};
use crate::numerics::{ByteOrder, DType};

/// Where `quantize_dynamic` keeps a Linear's packed `(weight, bias)` tuple.
pub const PACKED: &str = "._packed_params._packed_params";

/// The code format of a torch quantized dtype: codes, name, bits and the
/// range its zero points must lie in.
fn qdtype(dtype: DType) -> Option<(Codes, &'static str, u32, (f64, f64))> {
    Some(match dtype {
        DType::I8 => (Codes::I8, "qint8", 8, (-128.0, 127.0)),
        DType::U8 => (Codes::U8, "quint8", 8, (0.0, 255.0)),
        DType::I32 => (Codes::I32, "qint32", 32, (i32::MIN as f64, i32::MAX as f64)),
        _ => return None,
    })
}

/// The name a stored quantized tensor is reported under, and the pieces of a
/// `quantize_dynamic` module that belong to it.
fn logical(ctx: &mut Ctx, base: &str) -> (String, Vec<(usize, Role)>) {
    let Some(module) = base.strip_suffix(&format!("{PACKED}.0")) else { return (base.to_string(), vec![]) };
    let name = format!("{module}.weight");
    // The module's output `scale` / `zero_point` are not used by a dynamic
    // Linear (activations are quantized on the fly); they are listed as pieces.
    let mut pieces = Vec::new();
    for (suffix, role) in [("scale", Role::ActivationScale), ("zero_point", Role::ZeroPoint)] {
        if let Some((i, _)) = ctx.get(&format!("{module}.{suffix}")) {
            pieces.push((i, role));
        }
    }
    if let Some((i, entry)) = ctx.get(&format!("{module}{PACKED}.1"))
        && entry.dtype.is_float()
    {
        ctx.rename(i, format!("{module}.bias"));
    }
    (name, pieces)
}

/// A `quantize_dynamic` float16 Linear: its weight is stored as floats in
/// the packed tuple, presented as `<module>.weight` beside its bias.
pub fn dynamic_float(ctx: &mut Ctx, module: &str, index: usize) {
    if ctx.is_claimed(index) || !ctx.cp.tensors[index].dtype.is_float() {
        return;
    }
    let (name, pieces) = logical(ctx, &format!("{module}{PACKED}.0"));
    ctx.rename(index, name.clone());
    let info = info("torch-dynamic", "float16", 16);
    ctx.orphans(&info, &name, &pieces);
}

/// A torch quantized tensor whose codes are the entry `base`; `per_channel`
/// tells which parameters the reader listed.
pub fn qtensor(ctx: &mut Ctx, base: &str, per_channel: bool) {
    let Some((codes, entry)) = ctx.get(base) else { return };
    if ctx.is_claimed(codes) {
        return;
    }
    let Some((codes_kind, format, bits, range)) = qdtype(entry.dtype) else { return };
    // qint32 codes are read as little-endian words; a big-endian file's
    // stay plain integers rather than being dequantized wrongly.
    if codes_kind == Codes::I32 && entry.order != ByteOrder::Little {
        return;
    }
    let scheme = if base.ends_with(&format!("{PACKED}.0")) { "torch-dynamic" } else { "torch-qtensor" };
    let (name, mut pieces) = logical(ctx, base);
    let mut info = info(scheme, format, bits);
    // Empty tensors have nothing to dequantize or judge: their codes and
    // parameters are listed as pieces.
    let Some(numel) = entry.numel().filter(|&n| n > 0) else {
        let params = PARAMS.iter().filter_map(|p| ctx.get(&format!("{base}.{p}"))).map(|(i, e)| (i, role_of(&e.name)));
        pieces.extend(params);
        pieces.push((codes, Role::Codes));
        return ctx.orphans(&info, &name, &pieces);
    };
    let grid = |scales: Vec<f32>, zeros: Vec<f32>, block: (u64, u64), cols: u64, range| Grid {
        codes: codes_kind.clone(),
        codes_dtype: entry.dtype,
        rows: numel / cols.max(1),
        cols,
        block_rows: block.0.max(1),
        block_cols: block.1.max(1),
        scales,
        zeros: Some(zeros),
        zero_mode: ZeroMode::Subtract,
        positive_scales: true,
        // Torch's kernels compute in float32, whatever the stored scale type.
        scale_min_normal: f32::MIN_POSITIVE as f64,
        code_range: range,
    };
    if !per_channel {
        let scale = ctx.get(&format!("{base}.q_scale"));
        let zero = ctx.get(&format!("{base}.q_zero_point"));
        pieces.extend(scale.iter().chain(zero.iter()).map(|(i, e)| (*i, role_of(&e.name))));
        let (Some(scale), Some(zero)) =
            (scale.and_then(|(_, e)| values_f32(ctx.cp, e)), zero.and_then(|(_, e)| values_f32(ctx.cp, e)))
        else {
            pieces.push((codes, Role::Codes));
            return missing(ctx, &info, &name, &pieces, "q_scale or q_zero_point");
        };
        let grid = grid(scale, zero, (1, numel), numel, Some(range));
        return push_grid(ctx, name, entry.shape.clone(), info, codes, pieces, grid, "tensor");
    }
    let scales = ctx.get(&format!("{base}.q_per_channel_scales"));
    let zeros = ctx.get(&format!("{base}.q_per_channel_zero_points"));
    let axis = ctx.get(&format!("{base}.q_per_channel_axis"));
    pieces.extend(scales.iter().chain(zeros.iter()).chain(axis.iter()).map(|(i, e)| (*i, role_of(&e.name))));
    let mut all = pieces.clone();
    all.push((codes, Role::Codes));
    let (Some((_, scales)), Some((_, zeros)), Some((_, axis))) = (scales, zeros, axis) else {
        return missing(ctx, &info, &name, &all, "q_per_channel_scales, zero points or axis");
    };
    let float_zeros = zeros.dtype.is_float();
    let (Some(scales), Some(zeros), Some(axis)) = (
        values_f32(ctx.cp, scales),
        values_f32(ctx.cp, zeros),
        values_i64(ctx.cp, axis).and_then(|a| a.first().copied()),
    ) else {
        return shape_mismatch(ctx, &info, &name, &all, format!("{name}: per-channel parameters cannot be read"));
    };
    let shape = entry.shape.clone();
    let Some(axis) = u64::try_from(axis).ok().filter(|&a| (a as usize) < shape.len()) else {
        let message = format!("{name}: per-channel axis {axis} is outside the tensor's {} dimensions", shape.len());
        return shape_mismatch(ctx, &info, &name, &all, message);
    };
    let at = axis as usize;
    let channels = shape[at];
    if scales.len() as u64 != channels || zeros.len() as u64 != channels {
        let message = format!(
            "{name}: {} scales and {} zero points for {channels} channels along axis {axis} of {shape:?}",
            scales.len(),
            zeros.len()
        );
        return shape_mismatch(ctx, &info, &name, &all, message);
    }
    info.axis = Some(axis);
    // Element `i` uses channel `(i / inner) % channels`: a grid of `outer`
    // rows whose columns fall into `channels` tiles of `inner` elements.
    let inner: u64 = shape[at + 1..].iter().product();
    let cols = channels * inner;
    // `per_channel_affine_float_qparams` dequantizes with the same formula,
    // but its float zero points are not codes, so have no range to keep.
    let range = (!float_zeros).then_some(range);
    let grid = grid(scales, zeros, (numel / cols.max(1), inner), cols, range);
    push_grid(ctx, name, shape, info, codes, pieces, grid, "channel");
}

/// The quantizer parameters the reader lists beside a quantized tensor.
const PARAMS: [&str; 5] =
    ["q_scale", "q_zero_point", "q_per_channel_scales", "q_per_channel_zero_points", "q_per_channel_axis"];

fn role_of(name: &str) -> Role {
    if name.ends_with("scale") || name.ends_with("scales") {
        Role::Scale
    } else if name.ends_with("axis") {
        Role::Metadata
    } else {
        Role::ZeroPoint
    }
}

/// torchao int8 weights. `Int8Tensor` (torchao ≥ 0.10, int8 weight-only and
/// dynamic-activation configs) stores `<name>.qdata` int8 `[N, K]` with
/// `scale` per row (`[N, 1]`) or per group (`[N, K/g]`) and an optional
/// `zero_point` of the same shape. The older `AffineQuantizedTensor` keeps
/// them in `<name>.tensor_impl` as `int_data`, `scale` `[N]`, `zero_point`;
/// its dynamic-activation wrapper adds `.original_weight_tensor`. Both
/// dequantize as `(q − zero_point)·scale` for int8 codes.
pub fn torchao_int8(ctx: &mut Ctx, base: &str, codes: usize, inner: &str) {
    let name = base.strip_suffix(".original_weight_tensor").unwrap_or(base).to_string();
    let scale = ctx.get(&format!("{base}{inner}.scale"));
    let zero = ctx.get(&format!("{base}{inner}.zero_point"));
    // A float zero point is torchao's float zero-point domain (int4
    // tinygemm), a different formula; such tensors are left as stored.
    if zero.is_some_and(|(_, z)| z.dtype.is_float()) {
        return;
    }
    let entry = &ctx.cp.tensors[codes];
    let (codes_kind, range) = match entry.dtype {
        DType::I8 => (Codes::I8, (-128.0, 127.0)),
        DType::U8 => (Codes::U8, (0.0, 255.0)),
        _ => return,
    };
    if entry.numel().is_none_or(|n| n == 0) {
        return;
    }
    let info = info("torchao", "int8", 8);
    let mut pieces: Vec<(usize, Role)> = scale.iter().map(|(i, _)| (*i, Role::Scale)).collect();
    pieces.extend(zero.iter().map(|(i, _)| (*i, Role::ZeroPoint)));
    let mut all = pieces.clone();
    all.push((codes, Role::Codes));
    let Some((_, scale)) = scale else { return missing(ctx, &info, &name, &all, "scale") };
    let (rows, cols) = matrix(&entry.shape);
    let squeezed: Vec<u64> = scale.shape.iter().copied().filter(|&d| d != 1).collect();
    let Some((br, bc, granularity)) = geometry(rows, cols, &squeezed, None) else {
        let message = format!("{name}: scale {:?} does not tile a [{rows}, {cols}] weight", scale.shape);
        return shape_mismatch(ctx, &info, &name, &all, message);
    };
    let scales = values_f32(ctx.cp, scale);
    let zeros = zero.map(|(_, z)| values_f32(ctx.cp, z));
    let (Some(scales), Some(zeros)) = (scales, zeros.unwrap_or(Some(Vec::new()))) else {
        return shape_mismatch(ctx, &info, &name, &all, format!("{name}: scale or zero_point cannot be read"));
    };
    let grid = Grid {
        codes: codes_kind,
        codes_dtype: entry.dtype,
        rows,
        cols,
        block_rows: br,
        block_cols: bc,
        scales,
        zeros: (zero.is_some()).then_some(zeros),
        zero_mode: ZeroMode::Subtract,
        positive_scales: true,
        scale_min_normal: scale.dtype.min_normal().unwrap_or(0.0),
        code_range: Some(range),
    };
    push_grid(ctx, name, entry.shape.clone(), info, codes, pieces, grid, granularity);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_quantized_dtypes_have_their_ranges() {
        assert_eq!(qdtype(DType::U8).map(|q| (q.1, q.3)), Some(("quint8", (0.0, 255.0))));
        assert_eq!(qdtype(DType::I32).map(|q| q.2), Some(32));
        assert!(qdtype(DType::F32).is_none());
        assert_eq!(role_of("w.q_per_channel_axis"), Role::Metadata);
        assert_eq!(role_of("w.q_scale"), Role::Scale);
    }
}
