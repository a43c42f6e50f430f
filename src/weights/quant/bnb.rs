//! bitsandbytes: LLM.int8 (`SCB` row scales) and NF4/FP4 (packed nibbles,
//! block absmax, optional double quantization, JSON quant state).

use serde_json::Value;

use super::grid::{describe, info, missing, shape_mismatch};
use super::pieces::{bytes, matrix, values_f32};
use super::recognize::Ctx;
use super::scheme::{Codes, Grid, Layout, QuantTensor, Role, ZeroMode};
use crate::numerics::DType;
use crate::numerics::quant::codebooks::{BNB_FP4, NF4, same_code_book};
use crate::rules::quant as rules;

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
