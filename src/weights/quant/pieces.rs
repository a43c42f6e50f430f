//! Reading the small pieces of a scheme (scales, zero points, code books,
//! shapes) as values, and the bytes of code tensors, with their sizes checked.

use crate::formats::{Checkpoint, TensorEntry};
use crate::numerics::decode::{decode_f32_chunk, float_kind, wide_values};
use crate::numerics::{ByteOrder, DType};

/// The entry's stored bytes, exactly `numel × size` of them, when its layout
/// is one contiguous run (every safetensors and GGUF entry is; pickled views
/// may start at an offset). Strided views give `None`.
pub fn bytes<'a>(checkpoint: &'a Checkpoint, entry: &'a TensorEntry) -> Option<&'a [u8]> {
    let start = match &entry.view {
        None => 0,
        Some(view) if view.is_contiguous(&entry.shape) => view.offset.checked_mul(entry.dtype.size()?)?,
        Some(_) => return None,
    };
    let need = entry.dtype.byte_len(entry.numel()?)?;
    let start = usize::try_from(start).ok()?;
    checkpoint.storage(entry).get(start..start.checked_add(usize::try_from(need).ok()?)?)
}

/// The entry's values as f32 (integers converted), in row-major order.
pub fn values_f32(checkpoint: &Checkpoint, entry: &TensorEntry) -> Option<Vec<f32>> {
    let raw = bytes(checkpoint, entry)?;
    decode(entry.dtype, raw, entry.order)
}

/// Decodes stored elements of `dtype` into f32.
pub fn decode(dtype: DType, raw: &[u8], order: ByteOrder) -> Option<Vec<f32>> {
    match float_kind(dtype) {
        Some(kind) => {
            let mut out = vec![0f32; raw.len() / kind.element_bytes()];
            decode_f32_chunk(kind, raw, order, &mut out);
            Some(out)
        }
        None if dtype.size().is_some() => Some(wide_values(dtype, raw, order).map(|x| x as f32).collect()),
        None => None,
    }
}

/// The entry's values as i64 (for shapes and group indices).
pub fn values_i64(checkpoint: &Checkpoint, entry: &TensorEntry) -> Option<Vec<i64>> {
    if entry.dtype.is_float() {
        return None;
    }
    let raw = bytes(checkpoint, entry)?;
    Some(wide_values(entry.dtype, raw, entry.order).map(|x| x as i64).collect())
}

/// `[rows, cols]` of a weight: first dimension by the product of the others.
pub fn matrix(shape: &[u64]) -> (u64, u64) {
    match shape.split_first() {
        None => (1, 1),
        Some((&rows, rest)) => (rows, rest.iter().product()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_floats_and_ints() {
        let raw: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(decode(DType::F32, &raw, ByteOrder::Little), Some(vec![1.5, -2.0]));
        assert_eq!(decode(DType::I8, &[0xFF, 3], ByteOrder::Little), Some(vec![-1.0, 3.0]));
        assert_eq!(matrix(&[8, 4, 3, 3]), (8, 36));
        assert_eq!(matrix(&[]), (1, 1));
    }
}
