//! Recognisers for the safetensors schemes that store a code matrix with a
//! scale grid: bitsandbytes int8 and 4-bit, compressed-tensors (int, FP8,
//! pack-quantized, NVFP4), generic and block FP8, optimum-quanto.

use serde_json::Value;

use super::pieces::{bytes, matrix, values_f32, values_i64};
use super::recognize::Ctx;
use super::scheme::{Codes, Grid, Layout, QuantInfo, QuantTensor, Role, ZeroMode};
use crate::numerics::DType;
use crate::numerics::quant::codebooks::{BNB_FP4, E2M1, NF4, same_code_book};
use crate::rules::quant as rules;

/// Block sizes tried when a scale grid's shape leaves the tile size open.
const COMMON_TILES: [u64; 6] = [128, 64, 32, 16, 256, 512];

fn info(scheme: &'static str, format: &str, bits: u32) -> QuantInfo {
    QuantInfo {
        scheme,
        format: format.to_string(),
        role: Role::Weight,
        of: None,
        bits: Some(bits),
        granularity: None,
        group_size: None,
        block_size: None,
    }
}

/// The tile size along one axis of `len` elements cut into `count` tiles.
fn tile(len: u64, count: u64, hint: Option<u64>) -> Option<u64> {
    if count == 0 {
        return None;
    }
    hint.into_iter()
        .chain(COMMON_TILES)
        .chain([len.div_ceil(count).max(1)])
        .find(|&t| t > 0 && len.div_ceil(t) == count)
}

/// Tile geometry of a scale grid over a `rows × cols` matrix: tile rows,
/// tile columns and the granularity name.
fn geometry(rows: u64, cols: u64, scale_shape: &[u64], hint: Option<[u64; 2]>) -> Option<(u64, u64, &'static str)> {
    let n: u64 = scale_shape.iter().product();
    if n == 1 {
        return Some((rows.max(1), cols.max(1), "tensor"));
    }
    let (sr, sc) = match scale_shape {
        [a] => (*a, 1),
        [a, rest @ ..] => (*a, rest.iter().product()),
        [] => return None,
    };
    if sr == rows && sc == 1 {
        return Some((1, cols.max(1), "channel"));
    }
    let bc = tile(cols, sc, hint.map(|h| h[1]))?;
    if sr == rows {
        return Some((1, bc, "group"));
    }
    let br = tile(rows, sr, hint.map(|h| h[0]))?;
    Some((br, bc, "block"))
}

/// Fills granularity and group/block size of `info` from a grid.
fn describe(mut info: QuantInfo, grid: &Grid, granularity: &'static str) -> QuantInfo {
    info.granularity = Some(granularity);
    match granularity {
        "group" => info.group_size = Some(grid.block_cols),
        "block" => info.block_size = Some([grid.block_rows, grid.block_cols]),
        _ => {}
    }
    info
}

fn signed_range(bits: u32) -> (f64, f64) {
    let half = (1u64 << (bits - 1)) as f64;
    (-half, half - 1.0)
}

/// Reports a scale grid that does not fit the weight and claims the pieces.
fn shape_mismatch(ctx: &mut Ctx, info: &QuantInfo, name: &str, pieces: &[(usize, Role)], message: String) {
    ctx.finding(&rules::PACKED_SIZE_MISMATCH, name, message);
    ctx.orphans(info, name, pieces);
}

fn missing(ctx: &mut Ctx, info: &QuantInfo, name: &str, pieces: &[(usize, Role)], what: &str) {
    let message = format!("{name}: {what} is missing, so the stored codes cannot be turned into weights");
    ctx.finding(&rules::MISSING_PIECE, name, message).evidence.insert("missing".into(), what.into());
    ctx.orphans(info, name, pieces);
}

/// bitsandbytes LLM.int8: `weight` I8 `[out, in]` with row absmax `SCB`.
pub fn bnb_int8(ctx: &mut Ctx, base: &str, scb: usize) {
    let name = format!("{base}.weight");
    let info = info("bitsandbytes", "int8", 8);
    let mut pieces = vec![(scb, Role::Scale)];
    if let Some((i, _)) = ctx.get(&format!("{base}.weight_format")) {
        pieces.push((i, Role::Metadata));
    }
    let Some((codes, weight)) = ctx.get(&name).filter(|(_, e)| e.dtype == DType::I8) else {
        return missing(ctx, &info, &name, &pieces, "the int8 weight");
    };
    let scb_entry = &ctx.cp.tensors[scb];
    let (rows, cols) = matrix(&weight.shape);
    let Some(absmax) = values_f32(ctx.cp, scb_entry).filter(|v| v.len() as u64 == rows) else {
        let message = format!("{name}: SCB holds {:?} values for {rows} rows", scb_entry.shape);
        return shape_mismatch(ctx, &info, &name, &pieces, message);
    };
    let grid = Grid {
        codes: Codes::I8,
        codes_dtype: DType::I8,
        rows,
        cols,
        block_rows: 1,
        block_cols: cols.max(1),
        scales: absmax.iter().map(|a| a / 127.0).collect(),
        zeros: None,
        zero_mode: ZeroMode::Subtract,
        positive_scales: true,
        scale_min_normal: f32::MIN_POSITIVE as f64,
        code_range: None,
    };
    let info = describe(info, &grid, "channel");
    ctx.push(QuantTensor { name, shape: weight.shape.clone(), info, codes, pieces, layout: Layout::Grid(grid) });
}

/// bitsandbytes NF4/FP4: packed nibbles, block absmax (optionally double
/// quantized), a code book and a JSON quant state.
pub fn bnb_4bit(ctx: &mut Ctx, name: &str, kind: &str, state: usize) {
    let format = if kind == "fp4" { "fp4" } else { "nf4" };
    let reference = if format == "fp4" { &BNB_FP4 } else { &NF4 };
    let info = info("bitsandbytes", format, 4);
    let mut pieces = vec![(state, Role::Metadata)];
    for (suffix, role) in [
        ("absmax", Role::Scale),
        ("quant_map", Role::CodeBook),
        ("nested_absmax", Role::Scale),
        ("nested_quant_map", Role::CodeBook),
    ] {
        if let Some((i, _)) = ctx.get(&format!("{name}.{suffix}")) {
            pieces.push((i, role));
        }
    }
    let state_entry = &ctx.cp.tensors[state];
    let json: Option<Value> = bytes(ctx.cp, state_entry).and_then(|b| serde_json::from_slice(b).ok());
    let shape: Option<Vec<u64>> =
        json.as_ref().and_then(|j| j.get("shape")?.as_array()?.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>());
    let blocksize = json.as_ref().and_then(|j| j.get("blocksize")?.as_u64()).filter(|b| (1..=1 << 20).contains(b));
    let (Some(json), Some(shape), Some(blocksize)) = (json.clone(), shape, blocksize) else {
        let message = format!("{name}: the quant state {} is not JSON with `shape` and `blocksize`", state_entry.name);
        ctx.finding(&rules::INVALID_QUANT_STATE, name, message);
        return ctx.orphans(&info, name, &pieces);
    };
    let Some((codes, weight)) = ctx.get(name) else {
        return missing(ctx, &info, name, &pieces, "the packed 4-bit weight");
    };
    pieces.retain(|(i, _)| *i != codes);
    let stored = ctx.cp.storage(weight).len() as u64;
    let n = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).unwrap_or(u64::MAX);
    if stored != n.div_ceil(2) {
        let message = format!(
            "{name}: quant state shape {shape:?} needs {} packed bytes but the weight holds {stored}",
            n.div_ceil(2)
        );
        return shape_mismatch(ctx, &info, name, &pieces, message);
    }
    let Some(absmax) = ctx.get(&format!("{name}.absmax")).and_then(|(_, e)| values_f32(ctx.cp, e)) else {
        return missing(ctx, &info, name, &pieces, "absmax");
    };
    let nested = ctx.get(&format!("{name}.nested_absmax")).and_then(|(_, e)| values_f32(ctx.cp, e));
    let absmax = match nested {
        None => absmax,
        Some(nested_absmax) => {
            let map = ctx.get(&format!("{name}.nested_quant_map")).and_then(|(_, e)| values_f32(ctx.cp, e));
            let nested_bs = json.get("nested_blocksize").and_then(Value::as_u64).unwrap_or(256).max(1);
            let offset = json.get("nested_offset").and_then(Value::as_f64).unwrap_or(0.0) as f32;
            let Some(map) = map.filter(|m| m.len() == 256) else {
                return missing(ctx, &info, name, &pieces, "nested_quant_map (256 values)");
            };
            let mut out = Vec::with_capacity(absmax.len());
            for (j, &code) in absmax.iter().enumerate() {
                let outer = nested_absmax.get(j / nested_bs as usize).copied().unwrap_or(f32::NAN);
                out.push(map[(code as usize).min(255)] * outer + offset);
            }
            out
        }
    };
    if absmax.len() as u64 != n.div_ceil(blocksize) {
        let message = format!(
            "{name}: {} absmax values for {n} elements in blocks of {blocksize} (expected {})",
            absmax.len(),
            n.div_ceil(blocksize)
        );
        return shape_mismatch(ctx, &info, name, &pieces, message);
    }
    let stored_map = ctx.get(&format!("{name}.quant_map")).and_then(|(_, e)| values_f32(ctx.cp, e));
    let table = match stored_map {
        Some(map) if map.len() == 16 => {
            if !same_code_book(&map, reference) {
                let (i, (a, b)) = map
                    .iter()
                    .zip(reference)
                    .enumerate()
                    .find(|(_, (a, b))| (*a - *b).abs() > 1e-4)
                    .unwrap_or((0, (&0.0, &0.0)));
                let message =
                    format!("{name}: quant_map differs from the {format} table at code {i} ({a} instead of {b})");
                let f = ctx.finding(&rules::CODE_BOOK_MISMATCH, name, message);
                f.subject.block = Some(i.into());
                f.evidence.insert("code".into(), i.into());
            }
            let mut table = [0f32; 16];
            table.copy_from_slice(&map);
            table
        }
        _ => *reference,
    };
    let grid = Grid {
        codes: Codes::Nibbles { high_first: true, table: Some(table) },
        codes_dtype: DType::U8,
        rows: 1,
        cols: n,
        block_rows: 1,
        block_cols: blocksize,
        scales: absmax,
        zeros: None,
        zero_mode: ZeroMode::Subtract,
        positive_scales: true,
        scale_min_normal: f32::MIN_POSITIVE as f64,
        code_range: None,
    };
    let info = describe(info, &grid, "group");
    ctx.push(QuantTensor { name: name.to_string(), shape, info, codes, pieces, layout: Layout::Grid(grid) });
}

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

/// Checks that the scale count matches the grid and registers the tensor.
#[allow(clippy::too_many_arguments)]
fn push_grid(
    ctx: &mut Ctx,
    name: String,
    shape: Vec<u64>,
    info: QuantInfo,
    codes: usize,
    pieces: Vec<(usize, Role)>,
    grid: Grid,
    granularity: &'static str,
) {
    let tiles = grid.tiles();
    let zero_count = grid.zeros.as_ref().map_or(tiles as usize, Vec::len);
    if grid.scales.len() as u64 != tiles || zero_count as u64 != tiles {
        let mut all = pieces;
        all.push((codes, Role::Codes));
        let message = format!(
            "{name}: {} scales and {zero_count} zero points for a grid of {tiles} tiles of {}x{}",
            grid.scales.len(),
            grid.block_rows,
            grid.block_cols
        );
        return shape_mismatch(ctx, &info, &name, &all, message);
    }
    let info = describe(info, &grid, granularity);
    ctx.push(QuantTensor { name, shape, info, codes, pieces, layout: Layout::Grid(grid) });
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

/// optimum-quanto qint8 / qfloat8: `weight._data` with `weight._scale`.
pub fn quanto_8bit(ctx: &mut Ctx, base: &str, codes: usize) {
    let name = format!("{base}.weight");
    let data = &ctx.cp.tensors[codes];
    let codes_kind = match data.dtype {
        DType::I8 => Codes::I8,
        d @ (DType::F8E4M3 | DType::F8E5M2 | DType::F8E4M3Fnuz | DType::F8E5M2Fnuz) => Codes::Float8(d),
        _ => return,
    };
    let format = match codes_kind {
        Codes::Float8(d) => format!("qfloat8_{}", d.name().trim_start_matches("F8_").to_ascii_lowercase()),
        _ => "qint8".to_string(),
    };
    let info = info("quanto", &format, 8);
    let mut pieces = Vec::new();
    for (suffix, role) in [("input_scale", Role::ActivationScale), ("output_scale", Role::ActivationScale)] {
        if let Some((i, _)) = ctx.get(&format!("{base}.{suffix}")) {
            pieces.push((i, role));
        }
    }
    let Some((scale, scale_entry)) = ctx.get(&format!("{name}._scale")) else {
        pieces.push((codes, Role::Codes));
        return missing(ctx, &info, &name, &pieces, "weight._scale");
    };
    pieces.insert(0, (scale, Role::Scale));
    let (rows, cols) = matrix(&data.shape);
    let mut all = pieces.clone();
    all.push((codes, Role::Codes));
    let squeezed: Vec<u64> = scale_entry.shape.iter().copied().filter(|&d| d != 1).collect();
    let Some((br, bc, granularity)) = geometry(rows, cols, &squeezed, None) else {
        let message = format!("{name}: _scale {:?} does not tile a [{rows}, {cols}] weight", scale_entry.shape);
        return shape_mismatch(ctx, &info, &name, &all, message);
    };
    let Some(scales) = values_f32(ctx.cp, scale_entry) else {
        return shape_mismatch(ctx, &info, &name, &all, format!("{name}: _scale cannot be read"));
    };
    let grid = Grid {
        codes: codes_kind,
        codes_dtype: data.dtype,
        rows,
        cols,
        block_rows: br,
        block_cols: bc,
        scales,
        zeros: None,
        zero_mode: ZeroMode::Subtract,
        positive_scales: true,
        scale_min_normal: scale_entry.dtype.min_normal().unwrap_or(0.0),
        code_range: None,
    };
    push_grid(ctx, name, data.shape.clone(), info, codes, pieces, grid, granularity);
}

/// optimum-quanto qint4: planar-packed nibbles `[ceil(G/2), g]` with
/// `_scale` and `_shift` per group of `g`. The logical shape reported is the
/// grouped `[G, g]` view (the module's own shape is not stored).
pub fn quanto_4bit(ctx: &mut Ctx, base: &str, codes: usize) {
    let name = format!("{base}.weight");
    let data = &ctx.cp.tensors[codes];
    let info = info("quanto", "qint4", 4);
    let mut pieces = Vec::new();
    for (suffix, role) in
        [("weight._scale", Role::Scale), ("weight._shift", Role::ZeroPoint), ("input_scale", Role::ActivationScale)]
    {
        if let Some((i, _)) = ctx.get(&format!("{base}.{suffix}")) {
            pieces.push((i, role));
        }
    }
    let mut all = pieces.clone();
    all.push((codes, Role::Codes));
    let scale = ctx.get(&format!("{name}._scale")).and_then(|(_, e)| values_f32(ctx.cp, e));
    let shift = ctx.get(&format!("{name}._shift"));
    let (Some(scales), Some((_, shift_entry))) = (scale, shift) else {
        return missing(ctx, &info, &name, &all, "weight._scale or weight._shift");
    };
    let (packed_rows, group) = matrix(&data.shape);
    let groups = scales.len() as u64;
    if data.dtype != DType::U8 || packed_rows != groups.div_ceil(2) {
        let message = format!(
            "{name}: {groups} groups need packed [{}, g] U8 but _data._data is {:?} {}",
            groups.div_ceil(2),
            data.shape,
            data.dtype
        );
        return shape_mismatch(ctx, &info, &name, &all, message);
    }
    let float_shift = shift_entry.dtype.is_float();
    let Some(zeros) = values_f32(ctx.cp, shift_entry) else {
        return shape_mismatch(ctx, &info, &name, &all, format!("{name}: _shift cannot be read"));
    };
    let scale_dtype = ctx.get(&format!("{name}._scale")).map_or(DType::F32, |(_, e)| e.dtype);
    let grid = Grid {
        codes: Codes::Planar { half_rows: packed_rows },
        codes_dtype: DType::U8,
        rows: groups,
        cols: group,
        block_rows: 1,
        block_cols: group.max(1),
        scales,
        zeros: Some(zeros),
        zero_mode: if float_shift { ZeroMode::FloatShift } else { ZeroMode::Subtract },
        positive_scales: true,
        scale_min_normal: scale_dtype.min_normal().unwrap_or(0.0),
        code_range: (!float_shift).then_some((0.0, 15.0)),
    };
    let mut info = info;
    info.group_size = Some(group);
    push_grid(ctx, name, vec![groups, group], info, codes, pieces, grid, "group");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_names_the_granularity() {
        assert_eq!(geometry(8, 16, &[1], None), Some((8, 16, "tensor")));
        assert_eq!(geometry(8, 16, &[8, 1], None), Some((1, 16, "channel")));
        assert_eq!(geometry(8, 256, &[8, 2], None), Some((1, 128, "group")));
        assert_eq!(geometry(300, 300, &[3, 3], Some([128, 128])), Some((128, 128, "block")));
        assert_eq!(geometry(8, 16, &[5, 7], None), None);
    }
}
