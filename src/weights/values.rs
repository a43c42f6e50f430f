//! A tensor's logical values as f32, whatever its storage.
//!
//! Simulation and diff read values through [`LogicalValues`], which decodes
//! any range of elements on demand so that a large tensor is never
//! materialised as floats. Plain float and integer dtypes are decoded from the
//! stored bytes; stored layouts that need more than a dtype to mean a number
//! (quantized weights with their scales) plug in through [`Dequantize`].

use std::borrow::Cow;

use super::quant::Filler;
use super::scan::{stats_finding, tensor_values};
use crate::formats::{Checkpoint, TensorEntry};
use crate::numerics::decode::{decode_f32_chunk, float_kind, wide_values};
use crate::numerics::{ByteOrder, DType, Kind, StatsError};
use crate::report::Finding;

/// Turns a stored tensor into its logical f32 values. A scheme reader
/// implements this for the entries it recognises (a quantized weight and its
/// scale, zero point or packed codes) and returns `None` for the others,
/// which are then decoded as plain dtypes.
pub trait Dequantize: Sync {
    /// The logical values of `entry` in row-major order, or `None` when this
    /// dequantizer does not handle it. Problems are findings, never panics.
    fn dequantize(&self, checkpoint: &Checkpoint, entry: &TensorEntry) -> Option<Result<Vec<f32>, Box<Finding>>>;
}

/// The values of one tensor, decodable range by range.
pub enum LogicalValues<'a> {
    /// Stored elements of a plain dtype, row-major.
    Stored { dtype: DType, bytes: Cow<'a, [u8]>, order: ByteOrder },
    /// Values a dequantizer produced.
    Decoded(Vec<f32>),
    /// A recognised quantized tensor, dequantized range by range.
    Filled { numel: usize, fill: Filler<'a> },
}

impl LogicalValues<'_> {
    /// Number of logical elements.
    pub fn numel(&self) -> usize {
        match self {
            LogicalValues::Stored { dtype, bytes, .. } => bytes.len() / dtype.size().unwrap_or(1).max(1) as usize,
            LogicalValues::Decoded(values) => values.len(),
            LogicalValues::Filled { numel, .. } => *numel,
        }
    }


    /// Decodes elements `start..start + out.len()` into `out`. The range must
    /// lie within `len()`. f64 and 64-bit integers are rounded to f32. For a
    /// quantized tensor `start` must be a multiple of its block size (256
    /// covers every GGUF type).
    pub fn decode(&self, start: usize, out: &mut [f32]) {
        match self {
            LogicalValues::Filled { fill, .. } => fill(start as u64, out),
            LogicalValues::Decoded(values) => out.copy_from_slice(&values[start..start + out.len()]),
            LogicalValues::Stored { dtype, bytes, order } => {
                let size = dtype.size().unwrap_or(1) as usize;
                let slice = &bytes[start * size..(start + out.len()) * size];
                match float_kind(*dtype) {
                    Some(kind) => {
                        decode_f32_chunk(kind, slice, *order, out);
                    }
                    None => {
                        for (o, v) in out.iter_mut().zip(wide_values(*dtype, slice, *order)) {
                            *o = v as f32;
                        }
                    }
                }
            }
        }
    }
}

/// Whether values of `dtype` can be read as real numbers.
pub fn is_numeric(dtype: DType) -> bool {
    matches!(dtype.kind(), Kind::Float | Kind::Int | Kind::Bool)
}

/// Opens the values of `entry`: through the first dequantizer that claims it,
/// else from its stored bytes. Layout problems and undecodable dtypes become
/// findings of the format family.
pub fn logical_values<'a>(
    checkpoint: &'a Checkpoint,
    entry: &'a TensorEntry,
    dequantizers: &[&dyn Dequantize],
) -> Result<LogicalValues<'a>, Box<Finding>> {
    for dequantizer in dequantizers {
        if let Some(result) = dequantizer.dequantize(checkpoint, entry) {
            return result.map(LogicalValues::Decoded);
        }
    }
    if !is_numeric(entry.dtype) {
        return Err(Box::new(stats_finding(&checkpoint.label, entry, StatsError::Undecodable(entry.dtype))));
    }
    let bytes = tensor_values(checkpoint, entry)?;
    Ok(LogicalValues::Stored { dtype: entry.dtype, bytes, order: entry.order })
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::bf16;

    #[test]
    fn stored_ranges_decode_like_the_whole() {
        let xs: Vec<bf16> = (0..10).map(|i| bf16::from_f32(i as f32 * 0.5 - 2.0)).collect();
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let values = LogicalValues::Stored { dtype: DType::BF16, bytes: Cow::Owned(bytes), order: ByteOrder::Little };
        assert_eq!(values.numel(), 10);
        let mut out = [0f32; 3];
        values.decode(4, &mut out);
        assert_eq!(out, [0.0, 0.5, 1.0]);
    }

    #[test]
    fn integers_decode_as_numbers() {
        let bytes: Vec<u8> = [-3i32, 7].iter().flat_map(|x| x.to_le_bytes()).collect();
        let values = LogicalValues::Stored { dtype: DType::I32, bytes: Cow::Owned(bytes), order: ByteOrder::Little };
        let mut out = [0f32; 2];
        values.decode(0, &mut out);
        assert_eq!(out, [-3.0, 7.0]);
    }
}
