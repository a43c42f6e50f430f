//! Decoding stored elements into f32/f64, including the FP8 variants.

use std::sync::OnceLock;

use half::f16;

use super::dtype::DType;

/// Byte order of stored elements. Checkpoints are little-endian except legacy
/// big-endian PyTorch files and explicit `>` NumPy descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByteOrder {
    #[default]
    Little,
    Big,
}

/// Float dtypes that decode exactly into f32 and take the vectorised path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatKind {
    F16,
    BF16,
    F32,
    /// One-byte floats decoded through a 256-entry table.
    Byte(DType),
}

impl FloatKind {
    pub fn element_bytes(self) -> usize {
        match self {
            FloatKind::F16 | FloatKind::BF16 => 2,
            FloatKind::F32 => 4,
            FloatKind::Byte(_) => 1,
        }
    }
}

pub fn float_kind(dtype: DType) -> Option<FloatKind> {
    match dtype {
        DType::F16 => Some(FloatKind::F16),
        DType::BF16 => Some(FloatKind::BF16),
        DType::F32 => Some(FloatKind::F32),
        DType::F8E4M3 | DType::F8E5M2 | DType::F8E4M3Fnuz | DType::F8E5M2Fnuz | DType::F8E8M0 => {
            Some(FloatKind::Byte(dtype))
        }
        _ => None,
    }
}

/// Decodes `bytes` into the front of `out` and returns how many values were written.
/// `out` must hold at least `bytes.len() / element_bytes` values.
pub fn decode_f32_chunk(kind: FloatKind, bytes: &[u8], order: ByteOrder, out: &mut [f32]) -> usize {
    let n = bytes.len() / kind.element_bytes();
    let out = &mut out[..n];
    match (kind, order) {
        (FloatKind::F16, ByteOrder::Little) => match bytemuck::try_cast_slice::<u8, f16>(bytes) {
            Ok(halves) => half::slice::HalfFloatSliceExt::convert_to_f32_slice(halves, out),
            Err(_) => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f16::from_le_bytes([b[0], b[1]]).to_f32();
                }
            }
        },
        (FloatKind::F16, ByteOrder::Big) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = f16::from_be_bytes([b[0], b[1]]).to_f32();
            }
        }
        (FloatKind::BF16, order) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                let bits = match order {
                    ByteOrder::Little => u16::from_le_bytes([b[0], b[1]]),
                    ByteOrder::Big => u16::from_be_bytes([b[0], b[1]]),
                };
                *o = f32::from_bits((bits as u32) << 16);
            }
        }
        (FloatKind::F32, ByteOrder::Little) => match bytemuck::try_cast_slice::<u8, f32>(bytes) {
            Ok(floats) => out.copy_from_slice(floats),
            Err(_) => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
        },
        (FloatKind::F32, ByteOrder::Big) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        (FloatKind::Byte(dtype), _) => {
            let table = byte_float_table(dtype);
            for (o, &b) in out.iter_mut().zip(bytes) {
                *o = table[b as usize];
            }
        }
    }
    n
}

/// Values of dtypes that do not take the f32 path, as f64. Complex numbers
/// yield their real and imaginary parts in turn.
pub fn wide_values(dtype: DType, bytes: &[u8], order: ByteOrder) -> Box<dyn Iterator<Item = f64> + '_> {
    macro_rules! ints {
        ($t:ty, $n:expr) => {
            Box::new(bytes.chunks_exact($n).map(move |b| {
                let mut a = [0u8; $n];
                a.copy_from_slice(b);
                (match order {
                    ByteOrder::Little => <$t>::from_le_bytes(a),
                    ByteOrder::Big => <$t>::from_be_bytes(a),
                }) as f64
            }))
        };
    }
    match dtype {
        DType::Bool | DType::U8 => Box::new(bytes.iter().map(|&b| b as f64)),
        DType::I8 => Box::new(bytes.iter().map(|&b| b as i8 as f64)),
        DType::U16 => ints!(u16, 2),
        DType::I16 => ints!(i16, 2),
        DType::U32 => ints!(u32, 4),
        DType::I32 => ints!(i32, 4),
        DType::U64 => ints!(u64, 8),
        DType::I64 => ints!(i64, 8),
        DType::F64 | DType::C128 => ints!(f64, 8),
        DType::C64 => ints!(f32, 4),
        DType::C32 => Box::new(bytes.chunks_exact(2).map(move |b| {
            let h = match order {
                ByteOrder::Little => f16::from_le_bytes([b[0], b[1]]),
                ByteOrder::Big => f16::from_be_bytes([b[0], b[1]]),
            };
            h.to_f64()
        })),
        DType::F16 | DType::BF16 | DType::F32 => {
            let kind = float_kind(dtype).unwrap_or(FloatKind::F32);
            let size = kind.element_bytes();
            Box::new(bytes.chunks_exact(size).map(move |b| {
                let mut one = [0f32; 1];
                decode_f32_chunk(kind, b, order, &mut one);
                one[0] as f64
            }))
        }
        DType::F8E4M3 | DType::F8E5M2 | DType::F8E4M3Fnuz | DType::F8E5M2Fnuz | DType::F8E8M0 => {
            let table = byte_float_table(dtype);
            Box::new(bytes.iter().map(move |&b| table[b as usize] as f64))
        }
        DType::F4 | DType::F6E2M3 | DType::F6E3M2 => Box::new(std::iter::empty()),
    }
}

/// The value of every byte for a one-byte float dtype.
pub fn byte_float_table(dtype: DType) -> &'static [f32; 256] {
    static E4M3: OnceLock<[f32; 256]> = OnceLock::new();
    static E5M2: OnceLock<[f32; 256]> = OnceLock::new();
    static E4M3FNUZ: OnceLock<[f32; 256]> = OnceLock::new();
    static E5M2FNUZ: OnceLock<[f32; 256]> = OnceLock::new();
    static E8M0: OnceLock<[f32; 256]> = OnceLock::new();
    let (cell, exp_bits, bias, style) = match dtype {
        DType::F8E4M3 => (&E4M3, 4, 7, F8Style::Fn),
        DType::F8E5M2 => (&E5M2, 5, 15, F8Style::Ieee),
        DType::F8E4M3Fnuz => (&E4M3FNUZ, 4, 8, F8Style::Fnuz),
        DType::F8E5M2Fnuz => (&E5M2FNUZ, 5, 16, F8Style::Fnuz),
        _ => {
            return E8M0
                .get_or_init(|| std::array::from_fn(|b| if b == 0xFF { f32::NAN } else { 2f32.powi(b as i32 - 127) }));
        }
    };
    cell.get_or_init(|| std::array::from_fn(|b| decode_f8(b as u8, exp_bits, bias, style)))
}

#[derive(Clone, Copy)]
enum F8Style {
    /// IEEE-like: all-ones exponent is Inf (mantissa 0) or NaN.
    Ieee,
    /// `fn`: no Inf; only all-ones exponent and mantissa is NaN.
    Fn,
    /// `fnuz`: no Inf, no negative zero; 0x80 is the only NaN.
    Fnuz,
}

fn decode_f8(byte: u8, exp_bits: u32, bias: i32, style: F8Style) -> f32 {
    let man_bits = 7 - exp_bits;
    let sign = if byte & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = ((byte >> man_bits) & ((1 << exp_bits) - 1)) as i32;
    let man = (byte & ((1 << man_bits) - 1)) as i32;
    let exp_max = (1 << exp_bits) - 1;
    match style {
        F8Style::Fnuz if byte == 0x80 => return f32::NAN,
        F8Style::Fn if exp == exp_max && man == (1 << man_bits) - 1 => return f32::NAN,
        F8Style::Ieee if exp == exp_max => {
            return if man == 0 { sign * f32::INFINITY } else { f32::NAN };
        }
        _ => {}
    }
    let frac = man as f32 / (1 << man_bits) as f32;
    if exp == 0 { sign * frac * 2f32.powi(1 - bias) } else { sign * (1.0 + frac) * 2f32.powi(exp - bias) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e4m3fn_table_has_known_values() {
        let t = byte_float_table(DType::F8E4M3);
        assert_eq!(t[0x7E], 448.0);
        assert!(t[0x7F].is_nan() && t[0xFF].is_nan());
        assert_eq!(t[0x01], 2f32.powi(-9));
        assert_eq!(t[0x38], 1.0);
        assert_eq!(t.iter().filter(|x| x.is_nan()).count(), 2);
    }

    #[test]
    fn e5m2_has_inf_and_nan() {
        let t = byte_float_table(DType::F8E5M2);
        assert_eq!(t[0x7C], f32::INFINITY);
        assert_eq!(t[0xFC], f32::NEG_INFINITY);
        assert!(t[0x7D].is_nan());
        assert_eq!(t[0x7B], 57344.0);
        assert_eq!(t[0x3C], 1.0);
    }

    #[test]
    fn fnuz_variants_have_one_nan_and_shifted_bias() {
        let t = byte_float_table(DType::F8E4M3Fnuz);
        assert!(t[0x80].is_nan());
        assert_eq!(t.iter().filter(|x| x.is_nan()).count(), 1);
        assert_eq!(t[0x7F], 240.0);
        assert_eq!(t[0x40], 1.0);
        let t = byte_float_table(DType::F8E5M2Fnuz);
        assert_eq!(t[0x7F], 57344.0);
        assert_eq!(t[0x40], 1.0);
    }

    #[test]
    fn e8m0_is_a_power_of_two() {
        let t = byte_float_table(DType::F8E8M0);
        assert_eq!(t[127], 1.0);
        assert!(t[0xFF].is_nan());
    }

    #[test]
    fn unaligned_f16_decodes_like_aligned() {
        let vals = [1.0f32, -2.5, 65504.0];
        let mut bytes = vec![0u8];
        for v in vals {
            bytes.extend(f16::from_f32(v).to_le_bytes());
        }
        let mut out = [0f32; 3];
        assert_eq!(decode_f32_chunk(FloatKind::F16, &bytes[1..], ByteOrder::Little, &mut out), 3);
        assert_eq!(out, vals);
    }
}
