//! Reading sub-byte codes out of packed words.

/// The little-endian i32/u32 word `index` of `bytes` (0 when out of range, so a
/// short buffer decodes to zeros instead of panicking; sizes are checked by
/// the caller before dequantizing).
pub fn word(bytes: &[u8], index: usize) -> u32 {
    let at = index * 4;
    match bytes.get(at..at + 4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

/// Code `index` of a dense little-endian bit stream of `bits`-wide codes,
/// element 0 in the lowest bits; codes may straddle 32-bit words.
pub fn stream_code(bytes: &[u8], index: u64, bits: u32) -> u32 {
    let first_bit = index * bits as u64;
    let w = (first_bit / 32) as usize;
    let shift = (first_bit % 32) as u32;
    let pair = word(bytes, w) as u64 | ((word(bytes, w + 1) as u64) << 32);
    ((pair >> shift) & ((1u64 << bits) - 1)) as u32
}

/// A 4-bit code from a byte array; `high_first` says whether element 2i sits
/// in the high nibble (bitsandbytes) or the low one (NVFP4).
pub fn nibble(bytes: &[u8], index: u64, high_first: bool) -> u8 {
    let byte = bytes.get((index / 2) as usize).copied().unwrap_or(0);
    let high = index.is_multiple_of(2) == high_first;
    if high { byte >> 4 } else { byte & 0xF }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_codes_straddle_words() {
        // Eleven 3-bit codes 0..=7 repeating, packed densely.
        let codes: Vec<u64> = (0..20).map(|i| i % 8).collect();
        let mut bits = 0u128;
        for (i, &c) in codes.iter().enumerate() {
            bits |= (c as u128) << (3 * i);
        }
        let bytes = bits.to_le_bytes();
        for (i, &c) in codes.iter().enumerate() {
            assert_eq!(stream_code(&bytes, i as u64, 3), c as u32, "code {i}");
        }
    }

    #[test]
    fn nibble_order() {
        assert_eq!(nibble(&[0xAB], 0, true), 0xA);
        assert_eq!(nibble(&[0xAB], 0, false), 0xB);
        assert_eq!(nibble(&[0xAB], 5, false), 0);
    }
}
