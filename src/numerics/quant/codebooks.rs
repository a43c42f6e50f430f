//! Fixed 4-bit code books: bitsandbytes NF4/FP4 and the E2M1 values that
//! NVFP4/MXFP4 use.

/// bitsandbytes NF4 (normal-float) levels, indexed by code.
pub const NF4: [f32; 16] = [
    -1.0,
    -0.696_192_8,
    -0.525_073_1,
    -0.394_917_5,
    -0.284_441_4,
    -0.184_773_4,
    -0.091_050_0,
    0.0,
    0.079_580_3,
    0.160_930_2,
    0.246_112_3,
    0.337_915_2,
    0.440_709_8,
    0.562_617,
    0.722_956_8,
    1.0,
];

/// bitsandbytes FP4 levels by bit pattern: magnitudes 0, 0.0625, 8, 12, 4, 6,
/// 2, 3 divided by 12; the high bit is the sign.
pub const BNB_FP4: [f32; 16] = {
    const M: [f32; 8] = [0.0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0];
    let mut out = [0f32; 16];
    let mut i = 0;
    while i < 8 {
        out[i] = M[i] / 12.0;
        out[i + 8] = -M[i] / 12.0;
        i += 1;
    }
    out
};

/// FP4 E2M1 values: code = sign << 3 | index.
pub const E2M1: [f32; 16] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0];

/// Whether a stored code book matches a reference one to within the
/// precision bitsandbytes writes it with.
pub fn same_code_book(stored: &[f32], reference: &[f32; 16]) -> bool {
    stored.len() == 16 && stored.iter().zip(reference).all(|(a, b)| (a - b).abs() <= 1e-4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp4_table_has_signed_halves() {
        assert_eq!(BNB_FP4[3], 1.0);
        assert_eq!(BNB_FP4[11], -1.0);
        assert!((BNB_FP4[1] - 0.005_208_333).abs() < 1e-7);
    }

    #[test]
    fn code_books_compare_with_tolerance() {
        let mut nf4 = NF4;
        assert!(same_code_book(&nf4, &NF4));
        nf4[3] = 0.1;
        assert!(!same_code_book(&nf4, &NF4));
        assert!(!same_code_book(&NF4[..8], &NF4));
    }
}
