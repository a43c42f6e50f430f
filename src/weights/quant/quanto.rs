//! optimum-quanto: qint8/qfloat8 `weight._data` with `weight._scale`, and
//! planar-packed qint4 with `_scale` and `_shift`.

use super::grid::{geometry, info, missing, push_grid, shape_mismatch};
use super::pieces::{matrix, values_f32};
use super::recognize::Ctx;
use super::scheme::{Codes, Grid, Role, ZeroMode};
use crate::numerics::DType;

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
