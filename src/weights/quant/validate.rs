//! The `Q` checks of one recognised tensor: scales, zero points, codes and
//! group indices. Each check reports counts and the first offending block,
//! never one finding per block.

use rayon::prelude::*;
use serde_json::{Value, json};

use super::dequant::{codes_bytes, packed_zero};
use super::scheme::{Codes, Grid, Layout, Packed, QuantTensor};
use crate::formats::Checkpoint;
use crate::numerics::quant::{BlockKind, block_scales};
use crate::numerics::{DType, unravel};
use crate::report::{Finding, Subject};
use crate::rules::quant as rules;

/// Thresholds of the `Q` rules.
#[derive(Debug, Clone, Copy)]
pub struct QuantOptions {
    /// Q106: share of codes at qmin/qmax.
    pub saturation_share: f64,
    /// Q107: ratio of a scale to the tensor's median scale; Q120: ratio of
    /// the median scale to a scale.
    pub scale_ratio: f64,
    /// Q117: share of a tensor's (or a tile's) weights that dequantize to zero.
    pub zeroed_share: f64,
    /// Q117 is an error when this share of the whole tensor is zero.
    pub zeroed_error_share: f64,
    /// Q118: share of the bits a tile could use below which its codes are too few.
    pub min_code_bits_share: f64,
    /// Q119: ratio of a tile's absmax to the 90th percentile of its |w|.
    pub outlier_ratio: f64,
}

impl Default for QuantOptions {
    fn default() -> Self {
        QuantOptions {
            // PyTorch initialises Linear weights uniformly; absmax codes of a
            // uniform tensor sit at the ends about 1% of the time.
            saturation_share: 0.02,
            scale_ratio: 1000.0,
            zeroed_share: 0.5,
            zeroed_error_share: 0.9,
            min_code_bits_share: 0.5,
            outlier_ratio: 50.0,
        }
    }
}

/// Scale findings list the blocks of this many offending scales, so that
/// every broken row of a typical layer is named without a finding per row.
const MAX_LISTED_BLOCKS: usize = 64;

/// How scale indices map to `subject.block`: a number for one row of
/// tiles (or one column), `[row, column]` for a 2-D grid.
#[derive(Debug, Clone, Copy)]
struct Tiles {
    rows: u64,
    cols: u64,
}

impl Tiles {
    fn block(self, flat: u64) -> Value {
        if self.rows <= 1 || self.cols <= 1 { json!(flat) } else { json!([flat / self.cols, flat % self.cols]) }
    }
}

/// Findings for one recognised tensor.
pub fn validate(checkpoint: &Checkpoint, tensor: &QuantTensor, options: &QuantOptions) -> Vec<Finding> {
    let subject = Subject::tensor(&checkpoint.label, &tensor.name);
    let mut out = Vec::new();
    let raw = codes_bytes(checkpoint, tensor.codes).unwrap_or(&[]);
    match &tensor.layout {
        Layout::Ggml(kind) => {
            let blocks = raw.chunks_exact(kind.block_bytes());
            let mut d = Vec::with_capacity(blocks.len());
            let mut dmin = Vec::new();
            for block in blocks {
                let (a, b) = block_scales(*kind, block);
                d.push(a);
                if let Some(b) = b {
                    dmin.push(b);
                }
            }
            let tiles = Tiles { rows: 1, cols: d.len() as u64 };
            if *kind == BlockKind::Q8_0 {
                q8_0_codes(&subject, &tensor.name, raw, options, &mut out);
            }
            let min_normal =
                if *kind == BlockKind::Q8K { f32::MIN_POSITIVE as f64 } else { DType::F16.min_normal().unwrap_or(0.0) };
            let set = ScaleSet { subject: &subject, what: "block scale d", values: &d, tiles };
            set.all_checks(kind.scales_non_negative(), min_normal, &mut out);
            dead_check(&subject, &d, tiles, options, &mut out);
            // A zero `dmin` is normal (blocks without negative values), so only
            // non-finite and negative minimums are judged.
            // Q4_1/Q5_1 store a signed minimum `m` that is added; K-quants store
            // a `dmin` that is subtracted and never negative.
            let subtracted = matches!(kind, BlockKind::Q2K | BlockKind::Q4K | BlockKind::Q5K);
            let set = ScaleSet { subject: &subject, what: "block minimum", values: &dmin, tiles };
            set.nonfinite_and_negative(subtracted, &mut out);
        }
        Layout::Grid(grid) => {
            let tiles = Tiles { rows: grid.tile_rows(), cols: grid.tile_cols() };
            let set = ScaleSet { subject: &subject, what: "scale", values: &grid.scales, tiles };
            set.all_checks(grid.positive_scales, grid.scale_min_normal, &mut out);
            ratio_check(&subject, &grid.scales, tiles, options, &mut out);
            dead_check(&subject, &grid.scales, tiles, options, &mut out);
            if let (Some(zeros), Some(range)) = (&grid.zeros, grid.code_range) {
                zero_range(&subject, zeros.iter().map(|&z| z as f64), range, tiles, &mut out);
            }
            code_checks(&subject, tensor, grid, raw, options, &mut out);
        }
        Layout::Packed(packed) => {
            let tiles = Tiles { rows: packed.groups, cols: packed.out_features };
            let set = ScaleSet { subject: &subject, what: "scale", values: &packed.scales, tiles };
            set.all_checks(true, DType::F16.min_normal().unwrap_or(0.0), &mut out);
            ratio_check(&subject, &packed.scales, tiles, options, &mut out);
            dead_check(&subject, &packed.scales, tiles, options, &mut out);
            packed_checks(checkpoint, &subject, packed, tiles, &mut out);
        }
    }
    out
}

fn first_and_count(values: &[f32], bad: impl Fn(f32) -> bool + Sync) -> Option<(u64, u64)> {
    let count = values.par_iter().filter(|&&v| bad(v)).count() as u64;
    let first = values.iter().position(|&v| bad(v))?;
    Some((first as u64, count))
}

/// One tensor's scales (or block minimums) under judgement.
struct ScaleSet<'a> {
    subject: &'a Subject,
    what: &'a str,
    values: &'a [f32],
    tiles: Tiles,
}

impl ScaleSet<'_> {
    /// One finding for every scale `bad` selects: count, first block, value.
    fn check(
        &self,
        rule: &'static crate::rules::Rule,
        kind: &str,
        bad: impl Fn(f32) -> bool + Sync,
    ) -> Option<Finding> {
        let (first, count) = first_and_count(self.values, &bad)?;
        let value = self.values[first as usize];
        let total = self.values.len();
        let block = self.tiles.block(first);
        let blocks: Vec<Value> = (first as usize..total)
            .filter(|&i| bad(self.values[i]))
            .take(MAX_LISTED_BLOCKS)
            .map(|i| self.tiles.block(i as u64))
            .collect();
        let mut subject = self.subject.clone();
        subject.block = Some(block.clone());
        let tensor = subject.tensor.clone().unwrap_or_default();
        let what = self.what;
        Some(
            Finding::new(
                rule,
                format!("{count} of {total} {what}s in {tensor} are {kind} (first at block {block}, value {value})"),
            )
            .with_subject(subject)
            .with_evidence("count", count)
            .with_evidence("scales", total as u64)
            .with_evidence("first_block", block)
            .with_evidence("blocks", blocks)
            .with_evidence("value", if value.is_finite() { json!(value) } else { json!(value.to_string()) }),
        )
    }

    fn nonfinite_and_negative(&self, positive: bool, out: &mut Vec<Finding>) {
        out.extend(self.check(&rules::SCALE_NONFINITE, "NaN or infinite", |v| !v.is_finite()));
        if positive {
            out.extend(self.check(&rules::SCALE_NEGATIVE, "negative", |v| v < 0.0));
        }
    }

    fn all_checks(&self, positive: bool, min_normal: f64, out: &mut Vec<Finding>) {
        self.nonfinite_and_negative(positive, out);
        out.extend(self.check(&rules::SCALE_ZERO, "zero", |v| v == 0.0));
        let min_normal = min_normal as f32;
        out.extend(self.check(&rules::SCALE_SUBNORMAL, "subnormal", |v| v != 0.0 && v.abs() < min_normal));
    }
}

/// The median magnitude of the finite non-zero scales, when there are
/// enough of them (8) for a median to mean something.
fn median_scale(scales: &[f32]) -> Option<f64> {
    let mut magnitudes: Vec<f32> = scales.iter().map(|s| s.abs()).filter(|s| s.is_finite() && *s > 0.0).collect();
    if magnitudes.len() < 8 {
        return None;
    }
    let mid = magnitudes.len() / 2;
    Some(*magnitudes.select_nth_unstable_by(mid, f32::total_cmp).1 as f64)
}

/// Q120: non-zero scales orders of magnitude below their siblings' median:
/// their channel's weights are scaled down to nothing.
fn dead_check(subject: &Subject, scales: &[f32], tiles: Tiles, options: &QuantOptions, out: &mut Vec<Finding>) {
    let Some(median) = median_scale(scales) else { return };
    let limit = median / options.scale_ratio;
    let dead = |s: f32| s != 0.0 && s.is_finite() && (s.abs() as f64) < limit;
    let Some((first, count)) = first_and_count(scales, dead) else { return };
    let smallest = scales.iter().filter(|s| dead(**s)).fold(f32::INFINITY, |m, s| m.min(s.abs())) as f64;
    let blocks: Vec<Value> = (first as usize..scales.len())
        .filter(|&i| dead(scales[i]))
        .take(MAX_LISTED_BLOCKS)
        .map(|i| tiles.block(i as u64))
        .collect();
    let mut subject = subject.clone();
    subject.block = Some(tiles.block(first));
    let tensor = subject.tensor.clone().unwrap_or_default();
    let value = scales[first as usize];
    out.push(
        Finding::new(
            &rules::DEAD_SCALE,
            format!(
                "{count} of {} scales of {tensor} are over {} x below the median scale {median:.3e} (first at block {}: {value:e}; smallest ratio 1/{:.0})",
                scales.len(),
                options.scale_ratio,
                tiles.block(first),
                median / smallest
            ),
        )
        .with_subject(subject)
        .with_evidence("count", count)
        .with_evidence("scales", scales.len() as u64)
        .with_evidence("median", median)
        .with_evidence("value", value)
        .with_evidence("min_ratio", smallest / median)
        .with_evidence("first_block", tiles.block(first))
        .with_evidence("blocks", blocks),
    );
}

fn ratio_check(subject: &Subject, scales: &[f32], tiles: Tiles, options: &QuantOptions, out: &mut Vec<Finding>) {
    let Some(median) = median_scale(scales) else { return };
    let limit = median * options.scale_ratio;
    let Some((first, count)) = first_and_count(scales, |s| s.is_finite() && s.abs() as f64 > limit) else { return };
    let largest = scales.iter().filter(|s| s.is_finite()).fold(0f32, |m, s| m.max(s.abs())) as f64;
    let mut subject = subject.clone();
    subject.block = Some(tiles.block(first));
    let tensor = subject.tensor.clone().unwrap_or_default();
    out.push(
        Finding::new(
            &rules::SCALE_RATIO_OUTLIER,
            format!(
                "{count} scales of {tensor} exceed {} x the median scale {median:.3e} (largest ratio {:.0}, first at block {})",
                options.scale_ratio,
                largest / median,
                tiles.block(first)
            ),
        )
        .with_subject(subject)
        .with_evidence("count", count)
        .with_evidence("median", median)
        .with_evidence("max_ratio", largest / median)
        .with_evidence("first_block", tiles.block(first)),
    );
}

fn zero_range(
    subject: &Subject,
    zeros: impl Iterator<Item = f64>,
    (lo, hi): (f64, f64),
    tiles: Tiles,
    out: &mut Vec<Finding>,
) {
    let mut first = None;
    let mut count = 0u64;
    let mut total = 0u64;
    for (i, z) in zeros.enumerate() {
        total += 1;
        if !(lo..=hi).contains(&z) {
            count += 1;
            first.get_or_insert((i as u64, z));
        }
    }
    let Some((first, value)) = first else { return };
    let mut subject = subject.clone();
    subject.block = Some(tiles.block(first));
    let tensor = subject.tensor.clone().unwrap_or_default();
    out.push(
        Finding::new(
            &rules::ZERO_POINT_OUT_OF_RANGE,
            format!(
                "{count} of {total} zero points of {tensor} are outside [{lo}, {hi}] (first at block {}: {value})",
                tiles.block(first)
            ),
        )
        .with_subject(subject)
        .with_evidence("count", count)
        .with_evidence("value", value)
        .with_evidence("range", json!([lo, hi]))
        .with_evidence("first_block", tiles.block(first)),
    );
}

type CodeTest = fn(u8) -> bool;

/// Which one-byte codes are NaN, infinite or at the ends of the range, and
/// how many extreme codes absmax scaling puts in each tile.
struct CodeClasses {
    nan: CodeTest,
    inf: CodeTest,
    edge: CodeTest,
    per_tile: u64,
}

fn code_classes(codes: &Codes) -> Option<CodeClasses> {
    let never: CodeTest = |_| false;
    let (nan, inf, edge, per_tile): (CodeTest, CodeTest, CodeTest, u64) = match codes {
        Codes::I8 => (never, never, |b| matches!(b as i8, 127 | -128 | -127), 1),
        Codes::U8 => (never, never, |b| matches!(b, 0 | 255), 2),
        Codes::Float8(DType::F8E4M3) => (|b| b & 0x7F == 0x7F, never, |b| b & 0x7F == 0x7E, 1),
        Codes::Float8(DType::F8E5M2) => {
            (|b| (0x7D..=0x7F).contains(&(b & 0x7F)), |b| b & 0x7F == 0x7C, |b| b & 0x7F == 0x7B, 1)
        }
        Codes::Float8(DType::F8E4M3Fnuz | DType::F8E5M2Fnuz) => {
            (|b| b == 0x80, never, |b| b != 0x80 && b & 0x7F == 0x7F, 1)
        }
        _ => return None,
    };
    Some(CodeClasses { nan, inf, edge, per_tile })
}

fn code_checks(
    subject: &Subject,
    tensor: &QuantTensor,
    grid: &Grid,
    raw: &[u8],
    options: &QuantOptions,
    out: &mut Vec<Finding>,
) {
    let Some(CodeClasses { nan: is_nan, inf: is_inf, edge: is_edge, per_tile }) = code_classes(&grid.codes) else {
        return;
    };
    let n = (grid.rows * grid.cols) as usize;
    let Some(codes) = raw.get(..n) else { return };
    let (nan, inf, edge) = codes
        .par_chunks(1 << 16)
        .map(|c| {
            c.iter().fold((0u64, 0u64, 0u64), |(a, b, e), &x| {
                (a + is_nan(x) as u64, b + is_inf(x) as u64, e + is_edge(x) as u64)
            })
        })
        .reduce(|| (0, 0, 0), |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2));
    let cols = grid.cols.max(1);
    let tile_of = |flat: u64| {
        let (r, c) = (flat / cols, flat % cols);
        (r / grid.block_rows) * grid.tile_cols() + c / grid.block_cols
    };
    let tiles = Tiles { rows: grid.tile_rows(), cols: grid.tile_cols() };
    let name = &tensor.name;
    for (count, rule, test, what) in
        [(nan, &rules::FP8_NAN_CODES, is_nan, "NaN"), (inf, &rules::FP8_INF_CODES, is_inf, "infinite")]
    {
        if count == 0 {
            continue;
        }
        let first = codes.iter().position(|&b| test(b)).unwrap_or(0) as u64;
        let index = unravel(first, &tensor.shape);
        let mut subject = subject.clone();
        subject.block = Some(tiles.block(tile_of(first)));
        subject.index = Some(index.clone());
        out.push(
            Finding::new(
                rule,
                format!(
                    "{count} {} codes of {name} encode {what} (first at {index:?}, code 0x{:02X})",
                    grid.codes_dtype, codes[first as usize]
                ),
            )
            .with_subject(subject)
            .with_evidence("count", count)
            .with_evidence("first_flat", first)
            .with_evidence("code", codes[first as usize]),
        );
    }
    let tile_elems = grid.block_rows * grid.block_cols;
    let edges = codes.iter().enumerate().filter(|(_, b)| is_edge(**b)).map(|(i, _)| tile_of(i as u64));
    let counts = Saturation { edge, count: n as u64, tiles: grid.tiles(), per_tile, tile_elems };
    if let Some(finding) = counts.finding(subject, name, tiles, edges, options) {
        out.push(finding);
    }
}

/// Codes at the ends of the range, against what absmax scaling produces.
struct Saturation {
    edge: u64,
    count: u64,
    tiles: u64,
    per_tile: u64,
    tile_elems: u64,
}

impl Saturation {
    /// A finding when the share of extreme codes is above the threshold and
    /// four times the expected share; `edges` yields the tile of each extreme
    /// code in order, to find the first tile with more than expected.
    fn finding(
        &self,
        subject: &Subject,
        name: &str,
        tiles: Tiles,
        edges: impl Iterator<Item = u64>,
        options: &QuantOptions,
    ) -> Option<Finding> {
        let share = self.edge as f64 / self.count.max(1) as f64;
        let expected = (self.per_tile * self.tiles) as f64 / self.count.max(1) as f64;
        if share <= options.saturation_share || share <= 4.0 * expected {
            return None;
        }
        let mut counts = std::collections::HashMap::new();
        let mut first_tile = None;
        for t in edges {
            let c = counts.entry(t).or_insert(0u64);
            *c += 1;
            if *c > self.per_tile {
                first_tile = Some(t);
                break;
            }
        }
        let mut subject = subject.clone();
        subject.block = first_tile.map(|t| tiles.block(t));
        Some(
            Finding::new(
                &rules::CODES_SATURATED,
                format!(
                    "{:.1}% of {name}'s codes sit at the ends of the code range ({} of {}; tiles of {})",
                    share * 100.0,
                    self.edge,
                    self.count,
                    self.tile_elems.max(1)
                ),
            )
            .with_subject(subject)
            .with_evidence("saturated", self.edge)
            .with_evidence("count", self.count)
            .with_evidence("share", share),
        )
    }
}

/// Q8_0 codes: `d = amax/127`, so each block holds about one code at +/-127
/// and never -128.
fn q8_0_codes(subject: &Subject, name: &str, raw: &[u8], options: &QuantOptions, out: &mut Vec<Finding>) {
    let blocks = raw.chunks_exact(34);
    let n_blocks = blocks.len() as u64;
    fn is_edge(b: &u8) -> bool {
        matches!(*b as i8, 127 | -127 | -128)
    }
    let edge_tiles = || {
        raw.chunks_exact(34)
            .enumerate()
            .flat_map(|(t, block)| block[2..].iter().filter(|b| is_edge(b)).map(move |_| t as u64))
    };
    let edge = edge_tiles().count() as u64;
    let counts = Saturation { edge, count: n_blocks * 32, tiles: n_blocks, per_tile: 1, tile_elems: 32 };
    let tiles = Tiles { rows: 1, cols: n_blocks };
    out.extend(counts.finding(subject, name, tiles, edge_tiles(), options));
}

fn packed_checks(checkpoint: &Checkpoint, subject: &Subject, packed: &Packed, tiles: Tiles, out: &mut Vec<Finding>) {
    if let Some(g_idx) = &packed.g_idx {
        let bad = |&g: &i64| g < 0 || g as u64 >= packed.groups;
        if let Some(first) = g_idx.iter().position(bad) {
            let count = g_idx.iter().filter(|g| bad(g)).count();
            let mut subject = subject.clone();
            subject.block = Some(json!(first));
            let tensor = subject.tensor.clone().unwrap_or_default();
            out.push(
                Finding::new(
                    &rules::GROUP_INDEX_OUT_OF_RANGE,
                    format!(
                        "{count} g_idx entries of {tensor} are outside [0, {}) (first at input column {first}: {})",
                        packed.groups, g_idx[first]
                    ),
                )
                .with_subject(subject)
                .with_evidence("count", count as u64)
                .with_evidence("groups", packed.groups)
                .with_evidence("value", g_idx[first]),
            );
        }
    }
    // Stored zeros are always within the bit width; GPTQ v1 adds one, so the
    // largest stored value means a zero point one past the code range.
    if packed.zero_offset > 0
        && let Some(index) = packed.qzeros
    {
        let zeros = codes_bytes(checkpoint, index).unwrap_or(&[]);
        let values = (0..packed.groups).flat_map(|g| (0..packed.out_features).map(move |n| (g, n)));
        let hi = ((1u32 << packed.bits) - 1) as f64;
        zero_range(subject, values.map(|(g, n)| packed_zero(packed, Some(zeros), g, n) as f64), (0.0, hi), tiles, out);
    }
}
