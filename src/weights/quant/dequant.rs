//! Dequantized statistics: each recognised tensor's values are computed chunk
//! by chunk in parallel and fed straight to the statistics kernel, so no
//! tensor is ever materialised whole as floats.

use super::scheme::{Codes, Grid, Layout, Packed, QuantTensor, ZeroMode};
use crate::formats::Checkpoint;
use crate::numerics::decode::byte_float_table;
use crate::numerics::quant::unpack::{nibble, stream_code, word};
use crate::numerics::quant::{BlockKind, dequantize};
use crate::numerics::{TargetDType, TensorStats, stats_from_fill};

/// AWQ GEMM stores column `ORDER[i]` of each group of 8 in nibble `i`; this
/// is the inverse: the nibble that holds column `j`.
const AWQ_NIBBLE_OF_COLUMN: [u32; 8] = [0, 4, 1, 5, 2, 6, 3, 7];

/// Writes elements `start..start + out.len()` of a tensor's dequantized
/// values (row-major) into `out`.
pub type Filler<'a> = Box<dyn Fn(u64, &mut [f32]) + Sync + 'a>;

/// The dequantizer of one recognised tensor, after checking that its codes
/// hold enough bytes. `start` must be a multiple of the block size for GGUF
/// types (`stats_from_fill` chunks always are).
pub fn filler<'a>(checkpoint: &'a Checkpoint, tensor: &'a QuantTensor) -> Result<Filler<'a>, String> {
    let raw = codes_bytes(checkpoint, tensor.codes)?;
    let numel = tensor.numel().ok_or_else(|| format!("shape {:?} overflows", tensor.shape))?;
    match &tensor.layout {
        Layout::Ggml(kind) => {
            let (elems, bytes) = (kind.block_elems() as u64, kind.block_bytes() as u64);
            let need = (numel / elems).saturating_mul(bytes);
            if !numel.is_multiple_of(elems) || (raw.len() as u64) < need {
                return Err(format!("{} bytes of blocks for {numel} elements (need {need})", raw.len()));
            }
            Ok(Box::new(move |start, out| ggml_fill(*kind, raw, start, out)))
        }
        Layout::Grid(grid) => {
            let need = code_bytes(grid);
            if (raw.len() as u64) < need || grid.rows.checked_mul(grid.cols) != Some(numel) {
                return Err(format!(
                    "{} code bytes for a [{}, {}] grid (need {need})",
                    raw.len(),
                    grid.rows,
                    grid.cols
                ));
            }
            let table = match grid.codes {
                Codes::Float8(dtype) => Some(byte_float_table(dtype)),
                _ => None,
            };
            Ok(Box::new(move |start, out| grid_fill(grid, table, raw, start, out)))
        }
        Layout::Packed(packed) => {
            let zeros = packed.qzeros.map(|i| codes_bytes(checkpoint, i)).transpose()?;
            Ok(Box::new(move |start, out| packed_fill(packed, raw, zeros, start, out)))
        }
    }
}

/// The bytes of a codes entry, which must be one contiguous run.
pub fn codes_bytes(checkpoint: &Checkpoint, index: usize) -> Result<&[u8], String> {
    let entry = &checkpoint.tensors[index];
    super::pieces::bytes(checkpoint, entry)
        .ok_or_else(|| format!("{} is a strided view or shorter than its shape; its codes are not read", entry.name))
}

/// Statistics of the dequantized values, or why they cannot be computed.
pub fn dequantized_stats(
    checkpoint: &Checkpoint,
    tensor: &QuantTensor,
    target: TargetDType,
) -> Result<TensorStats, String> {
    let fill = filler(checkpoint, tensor)?;
    // `filler` refused shapes whose element count overflows.
    Ok(stats_from_fill(tensor.numel().unwrap_or(0), target, fill))
}

fn ggml_fill(kind: BlockKind, raw: &[u8], start: u64, out: &mut [f32]) {
    let (elems, bytes) = (kind.block_elems(), kind.block_bytes());
    let first = start as usize / elems * bytes;
    let len = out.len() / elems * bytes;
    dequantize(kind, &raw[first..first + len], out);
}

/// Bytes of codes a grid reads.
pub fn code_bytes(grid: &Grid) -> u64 {
    // Saturating: a shape too large to count needs more bytes than any file has.
    let n = grid.rows.saturating_mul(grid.cols);
    match grid.codes {
        Codes::I8 | Codes::U8 | Codes::Float8(_) => n,
        Codes::I32 => n.saturating_mul(4),
        Codes::Stream { words_per_row, .. } => grid.rows.saturating_mul(words_per_row).saturating_mul(4),
        Codes::Nibbles { .. } => n.div_ceil(2),
        Codes::Planar { half_rows } => half_rows.saturating_mul(grid.cols),
    }
}

/// The stored code of element `(r, c)` (flat index `flat`), as a number.
fn grid_code(grid: &Grid, table: Option<&[f32; 256]>, raw: &[u8], flat: u64, r: u64, c: u64) -> f32 {
    match grid.codes {
        Codes::I8 => raw[flat as usize] as i8 as f32,
        Codes::U8 => raw[flat as usize] as f32,
        Codes::I32 => word(raw, flat as usize) as i32 as f32,
        Codes::Float8(_) => table.map_or(f32::NAN, |t| t[raw[flat as usize] as usize]),
        Codes::Stream { bits, words_per_row, offset } => {
            let row_start = (r * words_per_row * 4) as usize;
            let row = &raw[row_start..row_start + words_per_row as usize * 4];
            (stream_code(row, c, bits) as i32 - offset) as f32
        }
        Codes::Nibbles { high_first, table } => {
            let code = nibble(raw, flat, high_first);
            table.map_or(code as f32, |t| t[code as usize])
        }
        Codes::Planar { half_rows } => {
            let (packed_row, high) = if r < half_rows { (r, false) } else { (r - half_rows, true) };
            let byte = raw[(packed_row * grid.cols + c) as usize];
            (if high { byte >> 4 } else { byte & 0xF }) as f32
        }
    }
}

fn grid_fill(grid: &Grid, table: Option<&[f32; 256]>, raw: &[u8], start: u64, out: &mut [f32]) {
    let cols = grid.cols.max(1);
    let tile_cols = grid.tile_cols();
    let (mut r, mut c) = (start / cols, start % cols);
    for (i, o) in out.iter_mut().enumerate() {
        let q = grid_code(grid, table, raw, start + i as u64, r, c);
        let t = ((r / grid.block_rows) * tile_cols + c / grid.block_cols) as usize;
        let s = grid.scales[t];
        *o = match (&grid.zeros, grid.zero_mode) {
            (None, _) => q * s,
            (Some(z), ZeroMode::Subtract) => (q - z[t]) * s,
            (Some(z), ZeroMode::FloatShift) => q * s - z[t],
        };
        c += 1;
        if c == cols {
            c = 0;
            r += 1;
        }
    }
}

/// The group of input column `k` (clamped; out-of-range `g_idx` entries are
/// reported by the validation rules).
pub fn group_of(packed: &Packed, k: u64) -> u64 {
    let last = packed.groups.saturating_sub(1);
    match &packed.g_idx {
        Some(g) => g.get(k as usize).map_or(last, |&v| (v.max(0) as u64).min(last)),
        None => (k / packed.group_size).min(last),
    }
}

/// The zero point of group `g`, output column `n`.
pub fn packed_zero(packed: &Packed, zeros: Option<&[u8]>, g: u64, n: u64) -> f32 {
    let mask = (1u32 << packed.bits) - 1;
    let Some(zeros) = zeros else { return (1u32 << (packed.bits - 1)) as f32 };
    let per_word = (32 / packed.bits) as u64;
    let stored = if packed.awq {
        let w = word(zeros, (g * packed.zero_words + n / 8) as usize);
        (w >> (AWQ_NIBBLE_OF_COLUMN[(n % 8) as usize] * 4)) & 0xF
    } else {
        let w = word(zeros, (g * packed.zero_words + n / per_word) as usize);
        (w >> ((n % per_word) as u32 * packed.bits)) & mask
    };
    (stored + packed.zero_offset) as f32
}

fn packed_fill(packed: &Packed, qweight: &[u8], zeros: Option<&[u8]>, start: u64, out: &mut [f32]) {
    let cols = packed.in_features.max(1);
    let out_features = packed.out_features;
    let bits = packed.bits;
    let mask = (1u32 << bits) - 1;
    let per_word = (32 / bits) as u64;
    let (mut n, mut k) = (start / cols, start % cols);
    for o in out.iter_mut() {
        let q = if packed.awq {
            let w = word(qweight, (k * (out_features / 8) + n / 8) as usize);
            (w >> (AWQ_NIBBLE_OF_COLUMN[(n % 8) as usize] * 4)) & 0xF
        } else {
            let w = word(qweight, ((k / per_word) * out_features + n) as usize);
            (w >> ((k % per_word) as u32 * bits)) & mask
        };
        let g = group_of(packed, k);
        let z = packed_zero(packed, zeros, g, n);
        let s = packed.scales.get((g * out_features + n) as usize).copied().unwrap_or(f32::NAN);
        *o = s * (q as f32 - z);
        k += 1;
        if k == cols {
            k = 0;
            n += 1;
        }
    }
}
