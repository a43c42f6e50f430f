//! ggml tensor types as GGUF stores them: type id, block geometry, and which
//! of them nanscope decodes.

use crate::numerics::DType;

/// A ggml type id with its block layout. Ids missing from the table are
/// unknown; listed ids without a kernel are recognised but not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgmlType {
    pub id: u32,
    pub name: &'static str,
    /// Elements per block (1 for plain element types).
    pub block_elems: u64,
    /// Bytes per block.
    pub block_bytes: u64,
}

impl GgmlType {
    /// The plain element type, for types that are not block-quantized.
    pub fn plain_dtype(self) -> Option<DType> {
        Some(match self.id {
            0 => DType::F32,
            1 => DType::F16,
            24 => DType::I8,
            25 => DType::I16,
            26 => DType::I32,
            27 => DType::I64,
            28 => DType::F64,
            30 => DType::BF16,
            _ => return None,
        })
    }

    /// The block-quantized kernel for this type, if nanscope has one.
    pub fn block_kind(self) -> Option<BlockKind> {
        use BlockKind::*;
        Some(match self.id {
            2 => Q4_0,
            3 => Q4_1,
            6 => Q5_0,
            7 => Q5_1,
            8 => Q8_0,
            10 => Q2K,
            11 => Q3K,
            12 => Q4K,
            13 => Q5K,
            14 => Q6K,
            15 => Q8K,
            _ => return None,
        })
    }

    /// Bytes needed for `numel` elements, or `None` when `numel` is not a
    /// whole number of blocks or the size overflows.
    pub fn byte_len(self, numel: u64) -> Option<u64> {
        if !numel.is_multiple_of(self.block_elems) {
            return None;
        }
        (numel / self.block_elems).checked_mul(self.block_bytes)
    }
}

/// Block-quantized types that nanscope dequantizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum BlockKind {
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
    Q8K,
}

const fn t(id: u32, name: &'static str, block_elems: u64, block_bytes: u64) -> GgmlType {
    GgmlType { id, name, block_elems, block_bytes }
}

/// The highest type id in [`TYPES`]; ggml refuses every unknown id up to it
/// (removed types have no size).
pub const NEWEST_TYPE_ID: u32 = 40;

/// Every type id ggml defines (ids 4 and 5, the removed Q4_2/Q4_3, are absent).
const TYPES: &[GgmlType] = &[
    t(0, "F32", 1, 4),
    t(1, "F16", 1, 2),
    t(2, "Q4_0", 32, 18),
    t(3, "Q4_1", 32, 20),
    t(6, "Q5_0", 32, 22),
    t(7, "Q5_1", 32, 24),
    t(8, "Q8_0", 32, 34),
    t(9, "Q8_1", 32, 36),
    t(10, "Q2_K", 256, 84),
    t(11, "Q3_K", 256, 110),
    t(12, "Q4_K", 256, 144),
    t(13, "Q5_K", 256, 176),
    t(14, "Q6_K", 256, 210),
    t(15, "Q8_K", 256, 292),
    t(16, "IQ2_XXS", 256, 66),
    t(17, "IQ2_XS", 256, 74),
    t(18, "IQ3_XXS", 256, 98),
    t(19, "IQ1_S", 256, 50),
    t(20, "IQ4_NL", 32, 18),
    t(21, "IQ3_S", 256, 110),
    t(22, "IQ2_S", 256, 82),
    t(23, "IQ4_XS", 256, 136),
    t(24, "I8", 1, 1),
    t(25, "I16", 1, 2),
    t(26, "I32", 1, 4),
    t(27, "I64", 1, 8),
    t(28, "F64", 1, 8),
    t(29, "IQ1_M", 256, 56),
    t(30, "BF16", 1, 2),
    t(34, "TQ1_0", 256, 54),
    t(35, "TQ2_0", 256, 66),
    t(39, "MXFP4", 32, 17),
    t(40, "NVFP4", 64, 36),
];

/// Looks a type id up; `None` for ids ggml does not define.
pub fn ggml_type(id: u32) -> Option<GgmlType> {
    TYPES.iter().copied().find(|t| t.id == id)
}

/// Looks a type up by its ggml name (`Q4_K`).
#[cfg(test)]
fn ggml_type_named(name: &str) -> Option<GgmlType> {
    TYPES.iter().copied().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_match_the_ggml_structs() {
        assert_eq!(ggml_type(8).map(|t| (t.block_elems, t.block_bytes)), Some((32, 34)));
        assert_eq!(ggml_type(14).map(|t| t.block_bytes), Some(210));
        assert_eq!(ggml_type(4), None);
        assert_eq!(ggml_type_named("Q3_K").map(|t| t.id), Some(11));
    }

    #[test]
    fn byte_len_needs_whole_blocks() {
        let q4 = ggml_type(2).unwrap();
        assert_eq!(q4.byte_len(64), Some(36));
        assert_eq!(q4.byte_len(40), None);
    }
}
