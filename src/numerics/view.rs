//! Strided views over a storage (PyTorch tensors are views: offset + strides).

/// Where a view's elements sit in its storage, in elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StridedView {
    pub offset: u64,
    pub strides: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error("view needs {needed} elements but its storage holds {available}")]
    OutOfBounds { needed: u64, available: u64 },
    #[error("shape has {shape} dimensions but strides have {strides}")]
    RankMismatch { shape: usize, strides: usize },
    #[error("view extent overflows")]
    Overflow,
    #[error("view repeats storage elements ({numel} elements over a storage of {available}); too large to expand")]
    TooLarge { numel: u64, available: u64 },
}

/// Views whose strides repeat elements (broadcasts, overlaps) are expanded only
/// up to this many elements, so a tiny storage cannot demand a huge buffer.
const MAX_REPEATED_ELEMENTS: u64 = 1 << 24;

impl StridedView {
    /// Row-major strides for `shape`.
    pub fn contiguous(shape: &[u64]) -> StridedView {
        let mut strides = vec![1u64; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1].saturating_mul(shape[i + 1]);
        }
        StridedView { offset: 0, strides }
    }

    /// Elements the storage must hold for this view to be readable
    /// (one past the furthest element); 0 for an empty view.
    pub fn extent(&self, shape: &[u64]) -> Result<u64, ViewError> {
        if shape.len() != self.strides.len() {
            return Err(ViewError::RankMismatch { shape: shape.len(), strides: self.strides.len() });
        }
        if shape.contains(&0) {
            return Ok(0);
        }
        let mut last = self.offset;
        for (&dim, &stride) in shape.iter().zip(&self.strides) {
            let step = (dim - 1).checked_mul(stride).ok_or(ViewError::Overflow)?;
            last = last.checked_add(step).ok_or(ViewError::Overflow)?;
        }
        last.checked_add(1).ok_or(ViewError::Overflow)
    }

    /// Whether the view reads `numel` consecutive elements in row-major order.
    pub fn is_contiguous(&self, shape: &[u64]) -> bool {
        let expected = StridedView::contiguous(shape);
        shape.iter().zip(self.strides.iter().zip(&expected.strides)).all(|(&dim, (&s, &e))| dim <= 1 || s == e)
    }

    /// Copies the view's elements, row-major, out of `storage` (elements of
    /// `elem_size` bytes). The extent is checked before anything is allocated.
    pub fn gather(&self, storage: &[u8], elem_size: usize, shape: &[u64]) -> Result<Vec<u8>, ViewError> {
        let available = (storage.len() / elem_size) as u64;
        let needed = self.extent(shape)?;
        if needed > available {
            return Err(ViewError::OutOfBounds { needed, available });
        }
        let numel = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or(ViewError::Overflow)?;
        if numel > available.max(MAX_REPEATED_ELEMENTS) {
            return Err(ViewError::TooLarge { numel, available });
        }
        let mut out = Vec::with_capacity((numel as usize).saturating_mul(elem_size));
        if numel == 0 {
            return Ok(out);
        }
        let rank = shape.len();
        let mut coord = vec![0u64; rank];
        // The innermost dimension is copied as one run when it is dense.
        let (inner_len, inner_stride) = match rank {
            0 => (1, 1),
            _ => (shape[rank - 1], self.strides[rank - 1]),
        };
        loop {
            let base: u64 = self.offset + coord.iter().zip(&self.strides).map(|(c, s)| c * s).sum::<u64>();
            if inner_stride == 1 {
                let start = base as usize * elem_size;
                out.extend_from_slice(&storage[start..start + inner_len as usize * elem_size]);
            } else {
                for k in 0..inner_len {
                    let start = (base + k * inner_stride) as usize * elem_size;
                    out.extend_from_slice(&storage[start..start + elem_size]);
                }
            }
            // Advance the outer coordinates like an odometer.
            let mut dim = rank.saturating_sub(1);
            loop {
                if dim == 0 {
                    return Ok(out);
                }
                dim -= 1;
                coord[dim] += 1;
                if coord[dim] < shape[dim] {
                    break;
                }
                coord[dim] = 0;
            }
        }
    }
}

/// The N-d coordinate of row-major index `flat` in `shape`.
pub fn unravel(mut flat: u64, shape: &[u64]) -> Vec<u64> {
    let mut coord = vec![0u64; shape.len()];
    for (c, &dim) in coord.iter_mut().zip(shape).rev() {
        if dim > 0 {
            *c = flat % dim;
            flat /= dim;
        }
    }
    coord
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_view_gathers_in_row_major_order() {
        // Storage holds a 2x3 matrix [[0,1,2],[3,4,5]]; its transpose is 3x2.
        let storage: Vec<u8> = (0u8..6).collect();
        let view = StridedView { offset: 0, strides: vec![1, 3] };
        assert!(!view.is_contiguous(&[3, 2]));
        assert_eq!(view.gather(&storage, 1, &[3, 2]).unwrap(), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn offset_view_and_bounds() {
        let storage: Vec<u8> = (0u8..10).collect();
        let view = StridedView { offset: 4, strides: vec![2, 1] };
        assert_eq!(view.gather(&storage, 1, &[3, 2]).unwrap(), vec![4, 5, 6, 7, 8, 9]);
        let too_far = StridedView { offset: 5, strides: vec![2, 1] };
        assert_eq!(too_far.gather(&storage, 1, &[3, 2]), Err(ViewError::OutOfBounds { needed: 11, available: 10 }));
    }

    #[test]
    fn scalar_and_empty_views() {
        let storage = [7u8, 8];
        let view = StridedView { offset: 1, strides: vec![] };
        assert_eq!(view.gather(&storage, 1, &[]).unwrap(), vec![8]);
        let empty = StridedView { offset: 0, strides: vec![1] };
        assert!(empty.gather(&storage, 1, &[0]).unwrap().is_empty());
    }

    #[test]
    fn absurd_strides_are_rejected_without_allocating() {
        let view = StridedView { offset: 0, strides: vec![u64::MAX / 2, 1] };
        assert_eq!(view.extent(&[4, 1]), Err(ViewError::Overflow));
    }

    #[test]
    fn huge_broadcast_of_a_tiny_storage_is_refused() {
        let view = StridedView { offset: 0, strides: vec![0] };
        assert!(matches!(view.gather(&[1u8], 1, &[1 << 40]), Err(ViewError::TooLarge { .. })));
        assert_eq!(view.gather(&[1u8], 1, &[3]).unwrap(), vec![1, 1, 1]);
    }

    #[test]
    fn unravel_matches_row_major() {
        assert_eq!(unravel(77, &[2, 100]), vec![0, 77]);
        assert_eq!(unravel(5, &[2, 3]), vec![1, 2]);
        assert_eq!(unravel(0, &[]), Vec::<u64>::new());
    }
}
