//! What every PNG chart shares: the bundled font and saving an RGB buffer.
//! Charts draw with plotters into memory; nothing here needs fontconfig.

use std::path::Path;
use std::sync::OnceLock;

use plotters::style::FontStyle;

/// An ASCII subset of DejaVu Sans (licence beside it in assets/fonts).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-ascii.ttf");

/// Registers the bundled font as plotters' "sans-serif" (once per process).
pub fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
                .map_err(|_| "invalid bundled font".to_string())
        })
        .clone()
}

/// Saves a `w × h` RGB buffer as PNG.
pub fn save_rgb(path: &Path, (w, h): (u32, u32), buf: Vec<u8>) -> Result<(), String> {
    let image = image::RgbImage::from_raw(w, h, buf).ok_or("buffer size mismatch")?;
    image.save(path).map_err(|e| e.to_string())
}
