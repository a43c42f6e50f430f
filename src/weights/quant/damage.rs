//! Damage a quantized tensor carries in its own values, judged without the
//! float reference: how many weights dequantize to exactly zero, how many
//! distinct codes each scale's tile really uses (its effective bits), and
//! whether a tile's scale was set by a few outliers far above the bulk of
//! its weights.
//!
//! Every recognised scheme is judged the same way, through its dequantized
//! values and the tiles that share one scale (a whole tensor, a row, a
//! group, a 2-D block, a GGUF block). Within one tile the distinct
//! dequantized values are the distinct codes in use, so a small census of
//! values per tile gives all three figures in one streaming pass.

use rayon::prelude::*;
use serde_json::{Value, json};

use super::dequant::{Filler, filler};
use super::scheme::{Layout, QuantTensor};
use super::validate::QuantOptions;
use crate::formats::Checkpoint;
use crate::report::{Finding, Severity, Subject, fmt_num};
use crate::rules::quant as rules;

/// Values decoded per step.
const CHUNK: u64 = 1 << 16;
/// A census tracks at most this many distinct values (every 8-bit code);
/// beyond it the tile is wide (int32 codes, act-order groups) and only its
/// zeros are counted.
const MAX_DISTINCT: usize = 256;
/// Open-addressing slots of a census at most (a power of two, twice
/// `MAX_DISTINCT`); small tiles get twice their size.
const SLOTS: usize = 512;
/// Tiles smaller than this say nothing about codes or outliers.
const MIN_TILE: u64 = 16;
/// Tiles held at once per band; wider grids are not censused.
const MAX_TILE_COLS: u64 = 4096;
/// Flagged tiles listed by block in a finding.
const MAX_LISTED: usize = 64;
/// The bulk of a tile's magnitudes: this quantile of |w|.
const BULK_QUANTILE: f64 = 0.9;

/// How a tensor's values fall into tiles that share one scale: a
/// `rows × cols` matrix cut into `block_rows × block_cols` tiles.
#[derive(Debug, Clone, Copy)]
struct Tiling {
    rows: u64,
    cols: u64,
    block_rows: u64,
    block_cols: u64,
}

impl Tiling {
    fn of(tensor: &QuantTensor) -> Option<Tiling> {
        let numel = tensor.numel()?;
        let tiling = match &tensor.layout {
            Layout::Grid(g) => {
                Tiling { rows: g.rows, cols: g.cols, block_rows: g.block_rows, block_cols: g.block_cols }
            }
            Layout::Ggml(kind) => {
                let elems = kind.block_elems() as u64;
                Tiling { rows: numel / elems.max(1), cols: elems, block_rows: 1, block_cols: elems }
            }
            // With act-order (`g_idx`) a group is not a run of columns; the
            // row is the tile then, and only its zeros are telling.
            Layout::Packed(p) => {
                let block_cols = if p.g_idx.is_some() { p.in_features } else { p.group_size };
                Tiling { rows: p.out_features, cols: p.in_features, block_rows: 1, block_cols }
            }
        };
        let valid = tiling.rows.checked_mul(tiling.cols) == Some(numel)
            && numel > 0
            && tiling.block_rows > 0
            && tiling.block_cols > 0;
        valid.then_some(tiling)
    }

    fn tile_cols(&self) -> u64 {
        self.cols.div_ceil(self.block_cols)
    }

    fn bands(&self) -> u64 {
        self.rows.div_ceil(self.block_rows)
    }

    fn tiles(&self) -> u64 {
        self.bands() * self.tile_cols()
    }

    /// `subject.block` of a tile, as the scale rules write it.
    fn block(&self, tile: u64) -> Value {
        let cols = self.tile_cols();
        if self.bands() <= 1 || cols <= 1 { json!(tile) } else { json!([tile / cols, tile % cols]) }
    }
}

/// Distinct values of one tile with their counts, plus its zeros.
#[derive(Clone)]
struct Census {
    count: u64,
    zeros: u64,
    /// `(f32 bits, count)`; empty until the first value, `None` once wide.
    slots: Option<Vec<(u32, u64)>>,
    /// Slots to allocate: a power of two.
    capacity: usize,
    distinct: usize,
}

/// An unused slot: the bits of a NaN no dequantizer produces.
const EMPTY: u32 = 0x7FC0_DEAD;

impl Census {
    /// A census for a tile of `elems` values.
    fn new(elems: u64) -> Census {
        let capacity = (elems.min(MAX_DISTINCT as u64 + 1) * 2).next_power_of_two().min(SLOTS as u64) as usize;
        Census { count: 0, zeros: 0, slots: Some(Vec::new()), capacity, distinct: 0 }
    }

    fn add(&mut self, v: f32) {
        self.count += 1;
        // +0 and -0 are the same code.
        let v = if v == 0.0 { 0.0 } else { v };
        self.zeros += (v == 0.0) as u64;
        self.insert(v.to_bits(), 1);
    }

    fn insert(&mut self, bits: u32, n: u64) {
        let Some(slots) = &mut self.slots else { return };
        if slots.is_empty() {
            slots.resize(self.capacity, (EMPTY, 0));
        }
        let mask = slots.len() - 1;
        let full = MAX_DISTINCT.min(slots.len() / 2);
        let mut i = (bits.wrapping_mul(0x9E37_79B1) >> 16) as usize & mask;
        loop {
            let slot = &mut slots[i];
            if slot.0 == bits && slot.1 > 0 {
                slot.1 += n;
                return;
            }
            if slot.1 == 0 {
                if self.distinct == full {
                    self.slots = None;
                    return;
                }
                *slot = (bits, n);
                self.distinct += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn merge(mut self, other: Census) -> Census {
        self.count += other.count;
        self.zeros += other.zeros;
        match other.slots {
            None => self.slots = None,
            Some(slots) => {
                for (bits, n) in slots.into_iter().filter(|s| s.1 > 0) {
                    self.insert(bits, n);
                }
            }
        }
        self
    }

    fn summary(&self, tile: u64) -> TileSummary {
        let mut summary =
            TileSummary { tile, count: self.count, zeros: self.zeros, codes: None, absmax: 0.0, bulk: 0.0, above: 0 };
        let Some(slots) = &self.slots else { return summary };
        let mut values: Vec<(f32, u64)> =
            slots.iter().filter(|s| s.1 > 0).map(|&(bits, n)| (f32::from_bits(bits).abs(), n)).collect();
        if values.iter().any(|v| !v.0.is_finite()) {
            return summary;
        }
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        summary.codes = Some(self.distinct as u32);
        summary.absmax = values.last().map_or(0.0, |v| v.0);
        let rank = (BULK_QUANTILE * self.count as f64).ceil() as u64;
        let mut seen = 0;
        for &(v, n) in &values {
            seen += n;
            if seen >= rank.max(1) {
                summary.bulk = v;
                break;
            }
        }
        summary
    }
}

/// What one tile's census says.
#[derive(Debug, Clone, Copy)]
struct TileSummary {
    tile: u64,
    count: u64,
    zeros: u64,
    /// Distinct codes in use; `None` for wide tiles.
    codes: Option<u32>,
    absmax: f32,
    /// |w| at the 90th percentile.
    bulk: f32,
    /// Values above `outlier_ratio` × bulk (filled in by the judge).
    above: u64,
}

/// The judged tiles of one band, and the band's totals.
#[derive(Debug, Default)]
struct Tally {
    count: u64,
    zeros: u64,
    zero_tiles: u64,
    flushed: Vec<TileSummary>,
    few_codes: Vec<(TileSummary, f64)>,
    outliers: Vec<(TileSummary, f64)>,
    /// The whole tensor's only tile, for per-tensor scales.
    single: Option<TileSummary>,
}

impl Tally {
    fn merge(mut self, other: Tally) -> Tally {
        self.count += other.count;
        self.zeros += other.zeros;
        self.zero_tiles += other.zero_tiles;
        self.flushed.extend(other.flushed);
        self.few_codes.extend(other.few_codes);
        self.outliers.extend(other.outliers);
        self.single = self.single.or(other.single);
        self
    }
}

/// Findings about the damage `tensor` carries in its own values.
pub fn damage(checkpoint: &Checkpoint, tensor: &QuantTensor, options: &QuantOptions) -> Vec<Finding> {
    let Some(tiling) = Tiling::of(tensor) else { return vec![] };
    if tiling.tile_cols() > MAX_TILE_COLS {
        return vec![];
    }
    let Ok(fill) = filler(checkpoint, tensor) else { return vec![] };
    let bits = tensor.info.bits.unwrap_or(8);
    let bands = tiling.bands();
    // Few wide bands (a per-tensor scale, channels along dim 1) are split
    // into pieces; many bands run one per worker.
    let tally = if bands >= 64 {
        (0..bands)
            .into_par_iter()
            .map(|band| judge_band(&tiling, band, census_band(&fill, &tiling, band, false), bits, options))
            .reduce(Tally::default, Tally::merge)
    } else {
        (0..bands)
            .map(|band| judge_band(&tiling, band, census_band(&fill, &tiling, band, true), bits, options))
            .fold(Tally::default(), Tally::merge)
    };
    findings(&checkpoint.label, tensor, &tiling, tally, bits, options)
}

/// The censuses of the tiles of one band of rows.
fn census_band(fill: &Filler, tiling: &Tiling, band: u64, parallel: bool) -> Vec<Census> {
    let first = band * tiling.block_rows;
    let last = (first + tiling.block_rows).min(tiling.rows);
    let pieces: Vec<(u64, u64)> =
        (first..last).flat_map(|r| (0..tiling.cols).step_by(CHUNK as usize).map(move |c| (r, c))).collect();
    let tile_cols = tiling.tile_cols() as usize;
    let elems = (last - first).saturating_mul(tiling.block_cols.min(tiling.cols));
    let start = || (vec![Census::new(elems); tile_cols], Vec::new());
    let step = |(mut censuses, mut buf): (Vec<Census>, Vec<f32>), &(r, c0): &(u64, u64)| {
        let len = CHUNK.min(tiling.cols - c0) as usize;
        buf.resize(len, 0.0);
        fill(r * tiling.cols + c0, &mut buf);
        for (i, &v) in buf.iter().enumerate() {
            censuses[((c0 + i as u64) / tiling.block_cols) as usize].add(v);
        }
        (censuses, buf)
    };
    let merge = |a: Vec<Census>, b: Vec<Census>| a.into_iter().zip(b).map(|(x, y)| x.merge(y)).collect::<Vec<_>>();
    if parallel && pieces.len() > 1 {
        pieces.par_iter().fold(start, step).map(|(c, _)| c).reduce(|| vec![Census::new(elems); tile_cols], merge)
    } else {
        pieces.iter().fold(start(), step).0
    }
}

/// The effective bits a tile of `count` values could use at most.
fn available_bits(bits: u32, count: u64) -> f64 {
    (bits as f64).min((count as f64).log2())
}

fn judge_band(tiling: &Tiling, band: u64, censuses: Vec<Census>, bits: u32, options: &QuantOptions) -> Tally {
    let mut tally = Tally::default();
    let single = tiling.tiles() == 1;
    for (i, census) in censuses.iter().enumerate() {
        let tile = band * tiling.tile_cols() + i as u64;
        let mut s = census.summary(tile);
        tally.count += s.count;
        tally.zeros += s.zeros;
        if s.count > 0 && s.zeros == s.count {
            tally.zero_tiles += 1;
            continue;
        }
        if s.count < MIN_TILE {
            continue;
        }
        if s.zeros as f64 > options.zeroed_share * s.count as f64 {
            tally.flushed.push(s);
        }
        if let Some(codes) = s.codes {
            let effective = (codes as f64).log2();
            if effective < options.min_code_bits_share * available_bits(bits, s.count) {
                tally.few_codes.push((s, effective));
            }
            if s.absmax as f64 > options.outlier_ratio * s.bulk as f64 {
                let limit = options.outlier_ratio as f32 * s.bulk;
                s.above = census_above(census, limit);
                let ratio = if s.bulk > 0.0 { s.absmax as f64 / s.bulk as f64 } else { f64::INFINITY };
                tally.outliers.push((s, ratio));
            }
        }
        if single {
            tally.single = Some(s);
        }
    }
    tally
}

/// Values of a census whose magnitude exceeds `limit`.
fn census_above(census: &Census, limit: f32) -> u64 {
    census.slots.iter().flatten().filter(|s| s.1 > 0 && f32::from_bits(s.0).abs() > limit).map(|s| s.1).sum()
}

fn findings(
    label: &str,
    tensor: &QuantTensor,
    tiling: &Tiling,
    mut tally: Tally,
    bits: u32,
    options: &QuantOptions,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // An all-zero tensor is W104's; its tiles say nothing more.
    if tally.count == 0 || tally.zeros == tally.count {
        return out;
    }
    let name = &tensor.name;
    let tiles = tiling.tiles();
    let granularity = tensor.info.granularity.unwrap_or("block");
    let subject = |tile: Option<u64>| {
        let mut subject = Subject::tensor(label, name);
        subject.block = tile.filter(|_| tiles > 1).map(|t| tiling.block(t));
        subject
    };
    let blocks = |list: &mut dyn Iterator<Item = u64>| -> Vec<Value> {
        list.take(MAX_LISTED).map(|t| tiling.block(t)).collect()
    };
    tally.flushed.sort_by_key(|s| s.tile);
    tally.few_codes.sort_by_key(|s| s.0.tile);
    tally.outliers.sort_by_key(|s| s.0.tile);
    let share = tally.zeros as f64 / tally.count as f64;
    let single = tally.single;
    let effective = single.and_then(|s| s.codes).map(|c| (c as f64).log2());

    let zeroed = share > options.zeroed_share || !tally.flushed.is_empty();
    if zeroed {
        let first = tally.flushed.first().map(|s| s.tile);
        let severity = if share >= options.zeroed_error_share { Severity::Error } else { Severity::Warning };
        let where_ = if tiles == 1 {
            String::new()
        } else {
            format!(
                "; {} of {tiles} {granularity} tiles are over {}% zeros{}",
                tally.flushed.len(),
                fmt_num(options.zeroed_share * 100.0),
                first.map_or(String::new(), |t| format!(", first at block {}", tiling.block(t)))
            )
        };
        let bits_note = effective.map_or(String::new(), |e| {
            format!(", {} distinct codes ({:.1} of {bits} bits)", single.and_then(|s| s.codes).unwrap_or(0), e)
        });
        let mut finding = Finding::new(
            &rules::CODES_ZEROED,
            format!(
                "{}% of {name}'s weights dequantize to exactly zero ({} of {}{bits_note}){where_}",
                fmt_num(share * 100.0),
                tally.zeros,
                tally.count
            ),
        )
        .with_subject(subject(first))
        .with_severity(severity)
        .with_evidence("zero", tally.zeros)
        .with_evidence("count", tally.count)
        .with_evidence("share", share)
        .with_evidence("tiles", tiles)
        .with_evidence("flushed_tiles", tally.flushed.len() as u64)
        .with_evidence("zero_tiles", tally.zero_tiles)
        .with_evidence("blocks", blocks(&mut tally.flushed.iter().map(|s| s.tile)));
        if let Some(e) = effective {
            finding = finding.with_evidence("effective_bits", e);
        }
        out.push(finding);
    } else if let Some(&(first, bits_used)) = tally.few_codes.first() {
        let count = tally.few_codes.len();
        let lowest = tally.few_codes.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
        let where_ = if tiles == 1 {
            String::new()
        } else {
            format!(
                " in {count} of {tiles} {granularity} tiles (first at block {}, lowest {lowest:.1} bits)",
                tiling.block(first.tile)
            )
        };
        out.push(
            Finding::new(
                &rules::FEW_CODES,
                format!(
                    "{name} uses {} distinct codes ({bits_used:.1} effective bits of {bits}){where_}",
                    first.codes.unwrap_or(0)
                ),
            )
            .with_subject(subject(Some(first.tile)))
            .with_evidence("codes", first.codes.unwrap_or(0))
            .with_evidence("effective_bits", bits_used)
            .with_evidence("lowest_effective_bits", lowest)
            .with_evidence("bits", bits)
            .with_evidence("tiles", tiles)
            .with_evidence("few_code_tiles", count as u64)
            .with_evidence("blocks", blocks(&mut tally.few_codes.iter().map(|s| s.0.tile))),
        );
    }
    if let Some(&(first, ratio)) = tally.outliers.first() {
        let count = tally.outliers.len();
        let scale = if tiles == 1 {
            format!("the per-{granularity} scale")
        } else {
            format!("{count} of {tiles} {granularity} scales")
        };
        // With the bulk at zero there is no ratio to quote: the bulk rounded away.
        let spread = if first.bulk > 0.0 {
            format!(
                "absmax {} is {} x the 90th percentile of |w| ({})",
                fmt_num(first.absmax as f64),
                fmt_num(ratio),
                fmt_num(first.bulk as f64)
            )
        } else {
            format!("absmax {} while 90% of |w| round to zero", fmt_num(first.absmax as f64))
        };
        let values = if first.above == 1 { "value" } else { "values" };
        let at = if tiles > 1 { format!(" (first at block {})", tiling.block(first.tile)) } else { String::new() };
        let verb = if tiles == 1 || count == 1 { "is" } else { "are" };
        out.push(
            Finding::new(
                &rules::SCALE_SET_BY_OUTLIER,
                format!(
                    "{scale} of {name} {verb} set by outliers{at}: {spread}; {} {values} above {} x the bulk",
                    first.above,
                    fmt_num(options.outlier_ratio)
                ),
            )
            .with_subject(subject(Some(first.tile)))
            .with_evidence("absmax", first.absmax)
            .with_evidence("bulk", first.bulk)
            .with_evidence("ratio", if ratio.is_finite() { json!(ratio) } else { json!("inf") })
            .with_evidence("outliers", first.above)
            .with_evidence("outlier_tiles", count as u64)
            .with_evidence("tiles", tiles)
            .with_evidence("blocks", blocks(&mut tally.outliers.iter().map(|s| s.0.tile))),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn census_counts_codes_zeros_and_the_bulk() {
        let mut c = Census::new(1000);
        for i in 0..1000 {
            c.add(if i == 7 {
                500.0
            } else if i % 10 == 0 {
                -0.0
            } else {
                (i % 5) as f32 * 0.5
            });
        }
        let s = c.summary(0);
        assert_eq!((s.count, s.codes), (1000, Some(6)));
        assert_eq!(s.zeros, 200);
        assert_eq!((s.absmax, s.bulk), (500.0, 2.0));
        assert_eq!(census_above(&c, 100.0), 1);
    }

    /// Seven codes in use of 256 (2.8 bits) with few zeros: Q118's case,
    /// neither zeroed (Q117) nor set by an outlier (Q119).
    #[test]
    fn a_tile_with_few_codes_is_judged_apart_from_zeros_and_outliers() {
        let tiling = Tiling { rows: 1, cols: 1024, block_rows: 1, block_cols: 1024 };
        let mut census = Census::new(1024);
        for i in 0..1024 {
            census.add(((i % 7) as f32 - 3.0) * 0.01);
        }
        let tally = judge_band(&tiling, 0, vec![census], 8, &QuantOptions::default());
        assert!(tally.flushed.is_empty() && tally.outliers.is_empty(), "{tally:?}");
        assert_eq!(tally.few_codes.len(), 1);
        assert!((tally.few_codes[0].1 - 7f64.log2()).abs() < 1e-9);
        // A tile of 16 values can use 4 bits at most: 7 codes there is healthy.
        let mut small = Census::new(16);
        for i in 0..16 {
            small.add(((i % 7) as f32 - 3.0) * 0.01);
        }
        let tiling = Tiling { rows: 1, cols: 16, block_rows: 1, block_cols: 16 };
        assert!(judge_band(&tiling, 0, vec![small], 8, &QuantOptions::default()).few_codes.is_empty());
    }

    #[test]
    fn wide_tiles_stop_counting_codes_but_keep_zeros() {
        let mut c = Census::new(1000);
        for i in 0..1000 {
            c.add(i as f32);
        }
        let merged = c.clone().merge(Census::new(1000));
        assert_eq!((merged.summary(0).codes, merged.zeros, merged.count), (None, 1, 1000));
    }
}
