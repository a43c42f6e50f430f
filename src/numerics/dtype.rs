//! Element types as checkpoints store them, with their numeric limits.

use serde::Serialize;

/// Every element type nanscope recognises in a checkpoint. Names follow
/// safetensors (`F16`, `BF16`, `F8_E4M3`, …) when displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    Bool,
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F16,
    BF16,
    F32,
    F64,
    /// Complex with f16 parts (torch `complex32`).
    C32,
    C64,
    C128,
    F8E4M3,
    F8E5M2,
    F8E4M3Fnuz,
    F8E5M2Fnuz,
    F8E8M0,
    /// Two FP4 E2M1 values per byte.
    F4,
    F6E2M3,
    F6E3M2,
}

/// Coarse family of a dtype, which decides how its values are scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Float,
    Int,
    Bool,
    Complex,
    /// Sub-byte floats: recognised, not decoded.
    Packed,
}

impl DType {
    /// Size of one element in bits.
    pub fn bits(self) -> u64 {
        use DType::*;
        match self {
            F4 => 4,
            F6E2M3 | F6E3M2 => 6,
            Bool | U8 | I8 | F8E4M3 | F8E5M2 | F8E4M3Fnuz | F8E5M2Fnuz | F8E8M0 => 8,
            U16 | I16 | F16 | BF16 => 16,
            U32 | I32 | F32 | C32 => 32,
            U64 | I64 | F64 | C64 => 64,
            C128 => 128,
        }
    }

    /// Size of one element in bytes, for dtypes that are at least a byte wide.
    pub fn size(self) -> Option<u64> {
        let bits = self.bits();
        bits.is_multiple_of(8).then_some(bits / 8)
    }

    /// Bytes needed for `numel` elements, or `None` when the count overflows
    /// or sub-byte elements do not fill whole bytes.
    pub fn byte_len(self, numel: u64) -> Option<u64> {
        let bits = numel.checked_mul(self.bits())?;
        bits.is_multiple_of(8).then_some(bits / 8)
    }

    pub fn kind(self) -> Kind {
        use DType::*;
        match self {
            Bool => Kind::Bool,
            U8 | I8 | U16 | I16 | U32 | I32 | U64 | I64 => Kind::Int,
            F16 | BF16 | F32 | F64 | F8E4M3 | F8E5M2 | F8E4M3Fnuz | F8E5M2Fnuz | F8E8M0 => Kind::Float,
            C32 | C64 | C128 => Kind::Complex,
            F4 | F6E2M3 | F6E3M2 => Kind::Packed,
        }
    }

    pub fn is_float(self) -> bool {
        self.kind() == Kind::Float
    }

    /// The safetensors spelling.
    pub fn name(self) -> &'static str {
        use DType::*;
        match self {
            Bool => "BOOL",
            U8 => "U8",
            I8 => "I8",
            U16 => "U16",
            I16 => "I16",
            U32 => "U32",
            I32 => "I32",
            U64 => "U64",
            I64 => "I64",
            F16 => "F16",
            BF16 => "BF16",
            F32 => "F32",
            F64 => "F64",
            C32 => "C32",
            C64 => "C64",
            C128 => "C128",
            F8E4M3 => "F8_E4M3",
            F8E5M2 => "F8_E5M2",
            F8E4M3Fnuz => "F8_E4M3FNUZ",
            F8E5M2Fnuz => "F8_E5M2FNUZ",
            F8E8M0 => "F8_E8M0",
            F4 => "F4",
            F6E2M3 => "F6_E2M3",
            F6E3M2 => "F6_E3M2",
        }
    }

    /// Parses a safetensors dtype string.
    pub fn from_safetensors(name: &str) -> Option<DType> {
        use DType::*;
        Some(match name {
            "BOOL" => Bool,
            "U8" => U8,
            "I8" => I8,
            "U16" => U16,
            "I16" => I16,
            "U32" => U32,
            "I32" => I32,
            "U64" => U64,
            "I64" => I64,
            "F16" => F16,
            "BF16" => BF16,
            "F32" => F32,
            "F64" => F64,
            "C64" => C64,
            "F8_E4M3" => F8E4M3,
            "F8_E5M2" => F8E5M2,
            "F8_E4M3FNUZ" => F8E4M3Fnuz,
            "F8_E5M2FNUZ" => F8E5M2Fnuz,
            "F8_E8M0" => F8E8M0,
            "F4" => F4,
            "F6_E2M3" => F6E2M3,
            "F6_E3M2" => F6E3M2,
            _ => return None,
        })
    }

    /// Largest finite value, for float dtypes.
    pub fn max_finite(self) -> Option<f64> {
        use DType::*;
        Some(match self {
            F16 => 65504.0,
            BF16 => 3.3895313892515355e38,
            F32 => f32::MAX as f64,
            F64 => f64::MAX,
            F8E4M3 => 448.0,
            F8E5M2 | F8E5M2Fnuz => 57344.0,
            F8E4M3Fnuz => 240.0,
            F8E8M0 => 2f64.powi(127),
            _ => return None,
        })
    }

    /// Smallest positive normal value, for float dtypes.
    pub fn min_normal(self) -> Option<f64> {
        use DType::*;
        Some(match self {
            F16 => 2f64.powi(-14),
            BF16 | F32 => f32::MIN_POSITIVE as f64,
            F64 => f64::MIN_POSITIVE,
            F8E4M3 => 2f64.powi(-6),
            F8E5M2 => 2f64.powi(-14),
            F8E4M3Fnuz => 2f64.powi(-7),
            F8E5M2Fnuz => 2f64.powi(-15),
            F8E8M0 => 2f64.powi(-127),
            _ => return None,
        })
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for DType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The dtype a pipeline will cast weights to at inference time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetDType {
    #[default]
    F16,
    BF16,
    None,
}

impl TargetDType {
    pub fn dtype(self) -> Option<DType> {
        match self {
            TargetDType::F16 => Some(DType::F16),
            TargetDType::BF16 => Some(DType::BF16),
            TargetDType::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_len_rejects_overflow_and_partial_bytes() {
        assert_eq!(DType::F16.byte_len(3), Some(6));
        assert_eq!(DType::F4.byte_len(4), Some(2));
        assert_eq!(DType::F4.byte_len(3), None);
        assert_eq!(DType::F64.byte_len(u64::MAX / 2), None);
    }

    #[test]
    fn safetensors_names_round_trip() {
        for name in ["BOOL", "U8", "I8", "I16", "I32", "I64", "F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2"] {
            assert_eq!(DType::from_safetensors(name).map(DType::name), Some(name));
        }
        assert_eq!(DType::from_safetensors("F17"), None);
    }
}
