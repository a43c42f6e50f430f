//! Mutations of file bytes: the edits that break readers in practice
//! (sizes and counts set to edge values, chunks zeroed, cut or repeated,
//! numbers in text replaced by extreme ones), stacked one to four deep.

/// splitmix64: small, fast and reproducible from a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const EDGE_INTEGERS: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    21,
    64,
    127,
    128,
    255,
    256,
    4096,
    16383,
    16384,
    16385,
    65535,
    65536,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    1 << 40,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
];

const EDGE_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "16384",
    "65536",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "99999999999999999999999",
    "1e308",
    "-1e308",
    "1e-320",
    "NaN",
    "Infinity",
    "-0",
    "0.5",
];

const TEXT_TOKENS: &[&str] =
    &["[", "]", "{", "}", ",", ":", "\"", "null", "true", "[[[[[[[[[[", "\"\\u0000\"", "{\"a\":", "-", "e"];

/// Edits `input` one to four times. `others` are inputs to splice from.
pub fn mutate(input: &[u8], others: &[Vec<u8>], rng: &mut Rng, max_len: usize) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        edit(&mut out, others, rng);
        out.truncate(max_len);
    }
    out
}

fn edit(out: &mut Vec<u8>, others: &[Vec<u8>], rng: &mut Rng) {
    let len = out.len();
    let at = rng.below(len.max(1));
    let span = if rng.chance(4) { 4096 } else { 64 };
    let chunk = 1 + rng.below(span);
    match rng.below(13) {
        0 if len > 0 => out[at] ^= 1 << rng.below(8),
        1 if len > 0 => {
            let random = rng.next() as u8;
            out[at] = [0, 1, 0x7F, 0x80, 0xFF, random][rng.below(6)];
        }
        2 | 3 => {
            let width = [1, 2, 4, 8][rng.below(4)];
            let value = EDGE_INTEGERS[rng.below(EDGE_INTEGERS.len())];
            let value = if rng.chance(3) { value.wrapping_neg() } else { value };
            let bytes = if rng.chance(4) {
                value.to_be_bytes()[8 - width..].to_vec()
            } else {
                value.to_le_bytes()[..width].to_vec()
            };
            overwrite(out, at, &bytes);
        }
        4 if len >= 4 => {
            let at = at.min(len - 4);
            let word = u32::from_le_bytes(out[at..at + 4].try_into().unwrap_or_default());
            let delta = 1 + rng.below(32) as u32;
            let word = if rng.chance(2) { word.wrapping_add(delta) } else { word.wrapping_sub(delta) };
            out[at..at + 4].copy_from_slice(&word.to_le_bytes());
        }
        5 => {
            let end = (at + chunk).min(len);
            out[at.min(end)..end].fill(0);
        }
        6 => {
            let end = (at + chunk).min(len);
            out.drain(at.min(end)..end);
        }
        7 => {
            let end = (at + chunk).min(len);
            let copy = out[at.min(end)..end].to_vec();
            let to = rng.below(len + 1);
            out.splice(to..to, copy);
        }
        8 => out.truncate(rng.below(len + 1)),
        9 if !others.is_empty() => {
            let other = &others[rng.below(others.len())];
            let from = rng.below(other.len() + 1);
            out.truncate(at);
            out.extend_from_slice(&other[from..]);
        }
        10 => replace_number(out, at, rng),
        11 => {
            let token = TEXT_TOKENS[rng.below(TEXT_TOKENS.len())].as_bytes();
            let to = rng.below(len + 1);
            if rng.chance(2) {
                out.splice(to..to, token.iter().copied());
            } else {
                overwrite(out, to, token);
            }
        }
        _ => {
            let to = rng.below(len + 1);
            let noise: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
            out.splice(to..to, noise);
        }
    }
}

fn overwrite(out: &mut [u8], at: usize, bytes: &[u8]) {
    let end = (at + bytes.len()).min(out.len());
    if at < end {
        out[at..end].copy_from_slice(&bytes[..end - at]);
    }
}

/// Replaces the first run of ASCII digits at or after `at` by an edge number.
fn replace_number(out: &mut Vec<u8>, at: usize, rng: &mut Rng) {
    let Some(start) = out.iter().skip(at).position(u8::is_ascii_digit).map(|p| p + at) else { return };
    let end = out[start..].iter().position(|b| !b.is_ascii_digit() && *b != b'.').map_or(out.len(), |p| p + start);
    let number = EDGE_NUMBERS[rng.below(EDGE_NUMBERS.len())].as_bytes();
    out.splice(start..end, number.iter().copied());
}
