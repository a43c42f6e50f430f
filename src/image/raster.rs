//! Decoded pixels in their stored type, and the value range they live in.

use serde::Serialize;

/// The samples of an image, row-major and interleaved (`y`, `x`, channel),
/// kept in the type the file stores so that a large 8-bit image is not
/// widened to floats.
#[derive(Debug, Clone)]
pub(crate) enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

impl Samples {
    pub(crate) fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::F32(v) => v.len(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> f32 {
        match self {
            Samples::U8(v) => f32::from(v[i]),
            Samples::U16(v) => f32::from(v[i]),
            Samples::F32(v) => v[i],
        }
    }

    pub(crate) fn is_float(&self) -> bool {
        matches!(self, Samples::F32(_))
    }
}

/// The interval an image's samples are meant to lie in, and where that
/// interval came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValueRange {
    pub low: f64,
    pub high: f64,
}

impl ValueRange {
    pub const UNIT: ValueRange = ValueRange { low: 0.0, high: 1.0 };
    pub const SIGNED_UNIT: ValueRange = ValueRange { low: -1.0, high: 1.0 };
    pub const BYTE: ValueRange = ValueRange { low: 0.0, high: 255.0 };
    pub const WORD: ValueRange = ValueRange { low: 0.0, high: 65535.0 };

    pub fn span(&self) -> f64 {
        self.high - self.low
    }

    /// Parses `0-1`, `-1-1` (or `-1..1`) and `0-255`.
    pub fn parse(text: &str) -> Option<ValueRange> {
        match text.trim() {
            "0-1" | "0..1" | "0,1" => Some(Self::UNIT),
            "-1-1" | "-1..1" | "-1,1" => Some(Self::SIGNED_UNIT),
            "0-255" | "0..255" | "0,255" => Some(Self::BYTE),
            "0-65535" | "0..65535" | "0,65535" => Some(Self::WORD),
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        format!("[{}, {}]", self.low, self.high)
    }
}

/// How the range of float samples is decided.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum RangeChoice {
    /// An integer type's own range; for floats the first of [0, 1], [-1, 1]
    /// and [0, 255] that holds at least 99% of the finite samples.
    #[default]
    Auto,
    /// The range the user declared with `--range`.
    Declared(ValueRange),
}

/// A decoded image: `height` rows of `width` pixels of `channels` samples;
/// the last channel is alpha when `alpha` is set.
#[derive(Debug, Clone)]
pub(crate) struct Raster {
    pub width: u32,
    pub height: u32,
    pub channels: usize,
    pub alpha: bool,
    pub samples: Samples,
    /// The stored type's own range (`None` for floats, which have none).
    pub native: Option<ValueRange>,
}

impl Raster {
    pub(crate) fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Colour channels, alpha excluded.
    pub(crate) fn color_channels(&self) -> usize {
        self.channels - usize::from(self.alpha)
    }

    /// `[y, x, c]` of flat sample `i`.
    pub(crate) fn coordinate(&self, i: usize) -> Vec<u64> {
        let c = i % self.channels;
        let p = i / self.channels;
        let w = self.width.max(1) as usize;
        vec![(p / w) as u64, (p % w) as u64, c as u64]
    }

    /// The channel names: `L`, `LA`, `RGB`, `RGBA`.
    pub(crate) fn channel_names(&self) -> Vec<&'static str> {
        match (self.channels, self.alpha) {
            (1, _) => vec!["L"],
            (2, true) => vec!["L", "A"],
            (3, _) => vec!["R", "G", "B"],
            (4, true) => vec!["R", "G", "B", "A"],
            (n, _) => ["c0", "c1", "c2", "c3"].into_iter().take(n).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(ValueRange::parse("-1..1"), Some(ValueRange::SIGNED_UNIT));
        assert_eq!(ValueRange::parse("0-255"), Some(ValueRange::BYTE));
        assert_eq!(ValueRange::parse("0-2"), None);
    }

    #[test]
    fn coordinates_are_row_column_channel() {
        let r = Raster {
            width: 4,
            height: 2,
            channels: 3,
            alpha: false,
            samples: Samples::U8(vec![0; 24]),
            native: Some(ValueRange::BYTE),
        };
        assert_eq!(r.coordinate(3 * 5 + 2), vec![1, 1, 2]);
    }
}
