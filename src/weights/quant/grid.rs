//! What the grid-based recognisers share: the tile geometry of a scale grid,
//! the `quant` description, and the paths for broken or missing pieces.

use super::recognize::Ctx;
use super::scheme::{Grid, Layout, QuantInfo, QuantTensor, Role};
use crate::rules::quant as rules;

/// Block sizes tried when a scale grid's shape leaves the tile size open.
const COMMON_TILES: [u64; 6] = [128, 64, 32, 16, 256, 512];

/// The `quant` object of a logical weight, before its granularity is known.
pub(super) fn info(scheme: &'static str, format: &str, bits: u32) -> QuantInfo {
    QuantInfo {
        scheme,
        format: format.to_string(),
        role: Role::Weight,
        of: None,
        bits: Some(bits),
        granularity: None,
        group_size: None,
        block_size: None,
        axis: None,
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
pub(super) fn geometry(
    rows: u64,
    cols: u64,
    scale_shape: &[u64],
    hint: Option<[u64; 2]>,
) -> Option<(u64, u64, &'static str)> {
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
pub(super) fn describe(mut info: QuantInfo, grid: &Grid, granularity: &'static str) -> QuantInfo {
    info.granularity = Some(granularity);
    match granularity {
        "group" => info.group_size = Some(grid.block_cols),
        "block" => info.block_size = Some([grid.block_rows, grid.block_cols]),
        _ => {}
    }
    info
}

pub(super) fn signed_range(bits: u32) -> (f64, f64) {
    let half = (1u64 << (bits - 1)) as f64;
    (-half, half - 1.0)
}

/// Reports a scale grid that does not fit the weight and claims the pieces.
pub(super) fn shape_mismatch(ctx: &mut Ctx, info: &QuantInfo, name: &str, pieces: &[(usize, Role)], message: String) {
    ctx.finding(&rules::PACKED_SIZE_MISMATCH, name, message);
    ctx.orphans(info, name, pieces);
}

pub(super) fn missing(ctx: &mut Ctx, info: &QuantInfo, name: &str, pieces: &[(usize, Role)], what: &str) {
    let message = format!("{name}: {what} is missing, so the stored codes cannot be turned into weights");
    ctx.finding(&rules::MISSING_PIECE, name, message).evidence.insert("missing".into(), what.into());
    ctx.orphans(info, name, pieces);
}

/// Checks that the scale count matches the grid and registers the tensor.
#[allow(clippy::too_many_arguments)]
pub(super) fn push_grid(
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
