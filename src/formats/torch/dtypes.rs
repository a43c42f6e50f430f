//! Torch dtype and storage-class names, as pickles spell them, mapped to
//! nanscope's element types.

use crate::numerics::DType;

/// Every `torch.<name>` dtype a pickle may name; `None` marks dtypes that are
/// recognised but whose elements nanscope does not decode.
const DTYPES: &[(&str, Option<DType>)] = &[
    ("float32", Some(DType::F32)),
    ("float", Some(DType::F32)),
    ("float64", Some(DType::F64)),
    ("double", Some(DType::F64)),
    ("float16", Some(DType::F16)),
    ("half", Some(DType::F16)),
    ("bfloat16", Some(DType::BF16)),
    ("complex32", Some(DType::C32)),
    ("chalf", Some(DType::C32)),
    ("complex64", Some(DType::C64)),
    ("cfloat", Some(DType::C64)),
    ("complex128", Some(DType::C128)),
    ("cdouble", Some(DType::C128)),
    ("uint8", Some(DType::U8)),
    ("int8", Some(DType::I8)),
    ("int16", Some(DType::I16)),
    ("short", Some(DType::I16)),
    ("int32", Some(DType::I32)),
    ("int", Some(DType::I32)),
    ("int64", Some(DType::I64)),
    ("long", Some(DType::I64)),
    ("bool", Some(DType::Bool)),
    ("uint16", Some(DType::U16)),
    ("uint32", Some(DType::U32)),
    ("uint64", Some(DType::U64)),
    ("float8_e4m3fn", Some(DType::F8E4M3)),
    ("float8_e5m2", Some(DType::F8E5M2)),
    ("float8_e4m3fnuz", Some(DType::F8E4M3Fnuz)),
    ("float8_e5m2fnuz", Some(DType::F8E5M2Fnuz)),
    ("float8_e8m0fnu", Some(DType::F8E8M0)),
    // Quantized dtypes: the raw integer codes.
    ("qint8", Some(DType::I8)),
    ("quint8", Some(DType::U8)),
    ("qint32", Some(DType::I32)),
    ("float4_e2m1fn_x2", None),
    ("quint4x2", None),
    ("quint2x4", None),
    ("bits1x8", None),
    ("bits2x4", None),
    ("bits4x2", None),
    ("bits8", None),
    ("bits16", None),
    ("uint1", None),
    ("uint2", None),
    ("uint3", None),
    ("uint4", None),
    ("uint5", None),
    ("uint6", None),
    ("uint7", None),
    ("int1", None),
    ("int2", None),
    ("int3", None),
    ("int4", None),
    ("int5", None),
    ("int6", None),
    ("int7", None),
];

/// Looks up a torch dtype name: `None` when it is not one, `Some(None)` when
/// it is one nanscope does not decode.
pub fn dtype_by_name(name: &str) -> Option<Option<DType>> {
    DTYPES.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

/// The element type of a legacy typed storage class (`HalfStorage`); the
/// quantized storages hold their integer codes.
pub fn storage_class_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "FloatStorage" => DType::F32,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "DoubleStorage" => DType::F64,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        "ComplexFloatStorage" => DType::C64,
        "ComplexDoubleStorage" => DType::C128,
        "QInt8Storage" => DType::I8,
        "QUInt8Storage" => DType::U8,
        "QInt32Storage" => DType::I32,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_dtypes() {
        assert_eq!(dtype_by_name("float8_e5m2"), Some(Some(DType::F8E5M2)));
        assert_eq!(dtype_by_name("float4_e2m1fn_x2"), Some(None));
        assert_eq!(dtype_by_name("load"), None);
        assert_eq!(storage_class_dtype("BFloat16Storage"), Some(DType::BF16));
        assert_eq!(storage_class_dtype("QUInt4x2Storage"), None);
    }
}
