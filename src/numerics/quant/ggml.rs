//! Dequantization of ggml block-quantized data (GGUF), following the block
//! layouts and formulas of ggml's reference `dequantize_row_*` functions.

use half::f16;

pub use crate::formats::gguf::BlockKind;

impl BlockKind {
    pub fn block_elems(self) -> usize {
        use BlockKind::*;
        match self {
            Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 => 32,
            Q2K | Q3K | Q4K | Q5K | Q6K | Q8K => 256,
        }
    }

    pub fn block_bytes(self) -> usize {
        use BlockKind::*;
        match self {
            Q4_0 => 18,
            Q4_1 => 20,
            Q5_0 => 22,
            Q5_1 => 24,
            Q8_0 => 34,
            Q2K => 84,
            Q3K => 110,
            Q4K => 144,
            Q5K => 176,
            Q6K => 210,
            Q8K => 292,
        }
    }

    /// Bits per stored code.
    pub fn bits(self) -> u32 {
        use BlockKind::*;
        match self {
            Q2K => 2,
            Q3K => 3,
            Q4_0 | Q4_1 | Q4K => 4,
            Q5_0 | Q5_1 | Q5K => 5,
            Q6K => 6,
            Q8_0 | Q8K => 8,
        }
    }

    /// Whether a well-formed block's `d` (and `dmin`) is never negative.
    /// Q4_0, Q5_0, Q3_K and Q6_K take the sign of the block's extreme value.
    pub fn scales_non_negative(self) -> bool {
        use BlockKind::*;
        matches!(self, Q8_0 | Q4_1 | Q5_1 | Q2K | Q4K | Q5K | Q8K)
    }
}

/// The block's super-scale `d` and, for types with one, `dmin` (or `m`).
pub fn block_scales(kind: BlockKind, block: &[u8]) -> (f32, Option<f32>) {
    use BlockKind::*;
    let h = |at: usize| f16::from_le_bytes([block[at], block[at + 1]]).to_f32();
    match kind {
        Q4_0 | Q5_0 | Q8_0 => (h(0), None),
        Q4_1 | Q5_1 | Q4K | Q5K => (h(0), Some(h(2))),
        Q2K => (h(80), Some(h(82))),
        Q3K => (h(108), None),
        Q6K => (h(208), None),
        Q8K => (f32::from_le_bytes([block[0], block[1], block[2], block[3]]), None),
    }
}

/// Dequantizes whole blocks: `out.len()` must be a multiple of the block size
/// and `blocks` must hold that many blocks.
pub fn dequantize(kind: BlockKind, blocks: &[u8], out: &mut [f32]) {
    let (n, size) = (kind.block_elems(), kind.block_bytes());
    for (block, y) in blocks.chunks_exact(size).zip(out.chunks_exact_mut(n)) {
        match kind {
            BlockKind::Q4_0 => q4_0(block, y),
            BlockKind::Q4_1 => q4_1(block, y),
            BlockKind::Q5_0 => q5_0(block, y),
            BlockKind::Q5_1 => q5_1(block, y),
            BlockKind::Q8_0 => q8_0(block, y),
            BlockKind::Q2K => q2_k(block, y),
            BlockKind::Q3K => q3_k(block, y),
            BlockKind::Q4K => q4_k(block, y),
            BlockKind::Q5K => q5_k(block, y),
            BlockKind::Q6K => q6_k(block, y),
            BlockKind::Q8K => q8_k(block, y),
        }
    }
}

fn half(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    for (o, &q) in y.iter_mut().zip(&b[2..34]) {
        *o = d * (q as i8) as f32;
    }
}

fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    for (j, &q) in b[2..18].iter().enumerate() {
        y[j] = d * ((q & 0xF) as i32 - 8) as f32;
        y[j + 16] = d * ((q >> 4) as i32 - 8) as f32;
    }
}

fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (half(b, 0), half(b, 2));
    for (j, &q) in b[4..20].iter().enumerate() {
        y[j] = d * (q & 0xF) as f32 + m;
        y[j + 16] = d * (q >> 4) as f32 + m;
    }
}

/// The 5th bits of Q5_0/Q5_1 elements: bit j of a little-endian u32.
fn fifth_bits(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let qh = fifth_bits(b, 2);
    for (j, &q) in b[6..22].iter().enumerate() {
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        y[j] = d * (((q as u32 & 0xF) | h0) as i32 - 16) as f32;
        y[j + 16] = d * (((q as u32 >> 4) | h1) as i32 - 16) as f32;
    }
}

fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (half(b, 0), half(b, 2));
    let qh = fifth_bits(b, 4);
    for (j, &q) in b[8..24].iter().enumerate() {
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        y[j] = d * ((q as u32 & 0xF) | h0) as f32 + m;
        y[j + 16] = d * ((q as u32 >> 4) | h1) as f32 + m;
    }
}

fn q8_k(b: &[u8], y: &mut [f32]) {
    let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    for (o, &q) in y.iter_mut().zip(&b[4..260]) {
        *o = d * (q as i8) as f32;
    }
}

fn q2_k(b: &[u8], y: &mut [f32]) {
    let (scales, qs) = (&b[0..16], &b[16..80]);
    let (d, dmin) = (half(b, 80), half(b, 82));
    let mut out = 0;
    let mut is = 0;
    for half_block in 0..2 {
        let q = &qs[half_block * 32..half_block * 32 + 32];
        for shift in [0, 2, 4, 6] {
            for part in 0..2 {
                let sc = scales[is];
                is += 1;
                let dl = d * (sc & 0xF) as f32;
                let ml = dmin * (sc >> 4) as f32;
                for l in 0..16 {
                    y[out] = dl * ((q[l + 16 * part] >> shift) & 3) as f32 - ml;
                    out += 1;
                }
            }
        }
    }
}

/// Q3_K's 16 six-bit scales, unpacked from 12 bytes (offset 32 not removed).
fn q3_k_scales(s: &[u8]) -> [i32; 16] {
    let mut out = [0i32; 16];
    for (j, o) in out.iter_mut().enumerate() {
        let low = if j < 8 { s[j] & 0xF } else { s[j - 8] >> 4 };
        let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        *o = (low | (high << 4)) as i32;
    }
    out
}

fn q3_k(b: &[u8], y: &mut [f32]) {
    let (hmask, qs) = (&b[0..32], &b[32..96]);
    let scales = q3_k_scales(&b[96..108]);
    let d = half(b, 108);
    let mut out = 0;
    let mut is = 0;
    let mut m = 1u8;
    for half_block in 0..2 {
        let q = &qs[half_block * 32..half_block * 32 + 32];
        for shift in [0, 2, 4, 6] {
            for part in 0..2 {
                let dl = d * (scales[is] - 32) as f32;
                is += 1;
                for l in 0..16 {
                    let k = l + 16 * part;
                    let low = ((q[k] >> shift) & 3) as i32;
                    let high = if hmask[k] & m != 0 { 0 } else { 4 };
                    y[out] = dl * (low - high) as f32;
                    out += 1;
                }
            }
            m <<= 1;
        }
    }
}

/// Scale and min of sub-block `j` of Q4_K/Q5_K (6 bits each, packed in 12 bytes).
fn scale_min_k4(j: usize, s: &[u8]) -> (f32, f32) {
    if j < 4 {
        ((s[j] & 63) as f32, (s[j + 4] & 63) as f32)
    } else {
        (((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4)) as f32, ((s[j + 4] >> 4) | ((s[j] >> 6) << 4)) as f32)
    }
}

fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (half(b, 0), half(b, 2));
    let (scales, qs) = (&b[4..16], &b[16..144]);
    for chunk in 0..4 {
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, min1, d2, min2) = (d * sc1, dmin * m1, d * sc2, dmin * m2);
        let q = &qs[chunk * 32..chunk * 32 + 32];
        let y = &mut y[chunk * 64..chunk * 64 + 64];
        for l in 0..32 {
            y[l] = d1 * (q[l] & 0xF) as f32 - min1;
            y[l + 32] = d2 * (q[l] >> 4) as f32 - min2;
        }
    }
}

fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (half(b, 0), half(b, 2));
    let (scales, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
    for chunk in 0..4 {
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, min1, d2, min2) = (d * sc1, dmin * m1, d * sc2, dmin * m2);
        let (u1, u2) = (1u8 << (2 * chunk), 2u8 << (2 * chunk));
        let q = &qs[chunk * 32..chunk * 32 + 32];
        let y = &mut y[chunk * 64..chunk * 64 + 64];
        for l in 0..32 {
            let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            y[l] = d1 * ((q[l] & 0xF) + h1) as f32 - min1;
            y[l + 32] = d2 * ((q[l] >> 4) + h2) as f32 - min2;
        }
    }
}

fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = half(b, 208);
    for half_block in 0..2 {
        let ql = &b[half_block * 64..half_block * 64 + 64];
        let qh = &b[128 + half_block * 32..128 + half_block * 32 + 32];
        let sc = &b[192 + half_block * 8..192 + half_block * 8 + 8];
        let y = &mut y[half_block * 128..half_block * 128 + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f16_bytes(x: f32) -> [u8; 2] {
        f16::from_f32(x).to_le_bytes()
    }

    #[test]
    fn q8_0_is_scale_times_code() {
        let mut block = f16_bytes(0.5).to_vec();
        block.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let mut y = [0f32; 32];
        dequantize(BlockKind::Q8_0, &block, &mut y);
        assert_eq!((y[0], y[16], y[31]), (-8.0, 0.0, 7.5));
        assert_eq!(block_scales(BlockKind::Q8_0, &block), (0.5, None));
    }

    #[test]
    fn q4_0_puts_low_nibbles_first() {
        let mut block = f16_bytes(2.0).to_vec();
        block.extend([0x9Fu8; 16]);
        let mut y = [0f32; 32];
        dequantize(BlockKind::Q4_0, &block, &mut y);
        assert_eq!((y[0], y[16]), (14.0, 2.0));
    }

    #[test]
    fn q5_0_takes_the_fifth_bit_from_qh() {
        let mut block = f16_bytes(1.0).to_vec();
        block.extend(1u32.to_le_bytes());
        block.extend([0u8; 16]);
        let mut y = [0f32; 32];
        dequantize(BlockKind::Q5_0, &block, &mut y);
        assert_eq!((y[0], y[1]), (0.0, -16.0));
    }

    #[test]
    fn q8_k_has_an_f32_scale() {
        let mut block = 0.25f32.to_le_bytes().to_vec();
        block.extend((0..256).map(|i| (i as u8).wrapping_sub(128)));
        block.extend([0u8; 32]);
        let mut y = [0f32; 256];
        dequantize(BlockKind::Q8K, &block, &mut y);
        assert_eq!((y[0], y[128], y[255]), (-32.0, 0.0, 31.75));
    }

    #[test]
    fn q4_k_and_q5_k_subtract_the_scaled_minimum() {
        let mut block = vec![0u8; 176];
        block[..2].copy_from_slice(&f16_bytes(1.0));
        block[2..4].copy_from_slice(&f16_bytes(0.5));
        block[4] = 2; // sub-block 0 scale
        block[8] = 4; // sub-block 0 min
        let mut y = [0f32; 256];
        dequantize(BlockKind::Q5K, &block, &mut y);
        assert_eq!(y[0], -2.0);
        block[16] = 1; // qh bit 0 of element 0 adds 16
        dequantize(BlockKind::Q5K, &block, &mut y);
        assert_eq!(y[0], 2.0 * 16.0 - 2.0);
        let mut y4 = [0f32; 256];
        dequantize(BlockKind::Q4K, &block[..144], &mut y4);
        assert_eq!(y4[0], 2.0 * 1.0 - 2.0);
    }

    #[test]
    fn q3_k_scales_unpack_low_and_high_bits() {
        let mut s = [0u8; 12];
        s[0] = 0x21;
        s[8] = 0b11;
        let scales = q3_k_scales(&s);
        assert_eq!((scales[0], scales[8]), (1 | (3 << 4), 2));
    }

    #[test]
    fn k_quant_scales_sit_where_ggml_puts_them() {
        let mut block = vec![0u8; 210];
        block[208..].copy_from_slice(&f16_bytes(0.25));
        assert_eq!(block_scales(BlockKind::Q6K, &block).0, 0.25);
        let mut block = vec![0u8; 84];
        block[82..].copy_from_slice(&f16_bytes(-1.0));
        assert_eq!(block_scales(BlockKind::Q2K, &block).1, Some(-1.0));
    }
}
