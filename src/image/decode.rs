//! Decoding image files (PNG, JPEG, WebP, BMP through `image`; TIFF through
//! `tiff`) under allocation limits, with what a decoder that gave up managed
//! to read.
//!
//! Nothing is allocated for pixels before the claimed dimensions are checked
//! against `--max-pixels` and the decoded size against what the file's length
//! can justify. A decoder error never panics and never aborts the run: it
//! becomes a finding on the file.

use std::io::Cursor;

use image::{ColorType, ExtendedColorType, ImageDecoder, ImageFormat, ImageReader};

use super::findings::{self, Chunks, Progress};
use super::raster::{Raster, Samples, ValueRange};
use super::{ImageInfo, Mode, ModeKind};
use crate::report::Finding;

/// Decoded images up to this many bytes are always allowed, whatever the
/// file's size (a 4096x4096 RGBA image).
pub const ALLOC_FLOOR: u64 = 64 << 20;
/// Above the floor, a file may decode to this many times its own size: about
/// deflate's largest ratio (1032:1), so a real PNG always fits.
pub const ALLOC_RATIO: u64 = 1100;
/// No image decodes to more than this.
pub const ALLOC_CAP: u64 = 1 << 30;
/// Default `--max-pixels`: 8192x8192.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;

/// The bytes a file of `len` bytes may decode to.
pub fn alloc_budget(len: u64) -> u64 {
    len.saturating_mul(ALLOC_RATIO).clamp(ALLOC_FLOOR, ALLOC_CAP)
}

/// Largest compressed TIFF strip or tile read at once.
const INTERMEDIATE_CAP: usize = 16 << 20;

/// Fill for the decode buffer: rows a failing decoder never reached still
/// hold it, which is how the rows it did decode are counted.
const SENTINEL: u8 = 0xA5;

/// One image read from a file: what it is and, when its pixels decoded, the
/// pixels.
pub(crate) struct Decoded {
    pub info: ImageInfo,
    pub mode: Mode,
    pub raster: Option<Raster>,
    /// Read from a tensor file, which Pillow never opens.
    pub tensor: bool,
}

/// The image formats read here, by content.
pub(crate) fn image_format(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes).ok()
}

/// Decodes an image file's bytes; problems are pushed to `out`.
pub(crate) fn decode(
    bytes: &[u8],
    format: ImageFormat,
    mut info: ImageInfo,
    max_pixels: u64,
    out: &mut Vec<Finding>,
) -> Option<Decoded> {
    let file = info.file.clone();
    info.format = format_name(format).to_string();
    if format == ImageFormat::Tiff {
        return decode_tiff(bytes, info, max_pixels, out);
    }
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Bmp) {
        out.push(findings::not_an_image(&file, findings::NotImage::Unsupported(format_name(format))));
        return None;
    }
    let budget = alloc_budget(bytes.len() as u64);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(budget);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = match reader.into_decoder() {
        Ok(decoder) => decoder,
        Err(err) => {
            out.push(decoder_failure(&file, &info.format, &err.to_string(), None, bytes.len()));
            return None;
        }
    };
    let (width, height) = decoder.dimensions();
    info.width = width;
    info.height = height;
    let color = decoder.color_type();
    let mode = mode_of(format, bytes, color, decoder.original_color_type());
    info.mode = mode.name();
    info.orientation = decoder
        .exif_metadata()
        .ok()
        .flatten()
        .and_then(|raw| exif::Reader::new().read_raw(raw).ok())
        .and_then(|exif| exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY).and_then(|f| f.value.get_uint(0)))
        .and_then(|v| u16::try_from(v).ok());
    let total = decoder.total_bytes();
    if let Some(finding) = size_guard(&file, width, height, total, budget, max_pixels, bytes.len()) {
        out.push(finding);
        return Some(Decoded { info, mode, raster: None, tensor: false });
    }
    let mut buf = vec![SENTINEL; total as usize];
    let result = decoder.read_image(&mut buf);
    let row_bytes = (total / u64::from(height.max(1))) as usize;
    let complete = match result {
        Ok(()) => true,
        Err(err) => {
            let progress = Progress { rows: rows_reached(&buf, row_bytes), height, chunks: None, scans_complete: None };
            out.push(decoder_failure(&file, &info.format, &err.to_string(), Some(progress), bytes.len()));
            false
        }
    };
    if complete && format == ImageFormat::Jpeg && !jpeg_has_end_marker(bytes) {
        let rows = jpeg_rows_intact(bytes, &buf, row_bytes, budget).min(height);
        let scans_complete = jpeg_progressive_scans(bytes);
        let progress = Progress { rows, height, chunks: None, scans_complete };
        let detail = "no end-of-image marker (FF D9)";
        out.push(findings::truncated(&file, &info.format, detail, Some(progress), bytes.len()));
    }
    let raster = complete.then(|| raster_from(width, height, color, buf)).flatten();
    Some(Decoded { info, mode, raster, tensor: false })
}

/// The finding for pixels that may not be decoded: too many, or more bytes
/// than the file can justify.
fn size_guard(
    file: &str,
    width: u32,
    height: u32,
    total: u64,
    budget: u64,
    max_pixels: u64,
    len: usize,
) -> Option<Finding> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Some(findings::too_large(file, width, height, format!("more than --max-pixels {max_pixels}"), len));
    }
    if total > budget || usize::try_from(total).is_err() {
        let why = format!("decoding needs {total} bytes; a {len}-byte file justifies at most {budget}");
        return Some(findings::too_large(file, width, height, why, len));
    }
    if pixels == 0 {
        return Some(findings::undecodable(file, "image", "the header declares no pixels (width or height 0)"));
    }
    None
}

/// Whether a decoder error means the data ran out.
fn is_truncation(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "eof",
        "end of file",
        "unexpected end",
        "truncat",
        "no more",
        "not enough",
        "fill whole buffer",
        "exhausted",
        "incomplete",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

fn decoder_failure(file: &str, format: &str, message: &str, progress: Option<Progress>, len: usize) -> Finding {
    let lower = message.to_ascii_lowercase();
    if lower.contains("limit") && (lower.contains("exceed") || lower.contains("memory")) {
        return findings::too_large(file, 0, 0, message.to_string(), len);
    }
    if is_truncation(message) {
        return findings::truncated(file, format, message, progress, len);
    }
    findings::undecodable(file, format, message)
}

/// Rows before the trailing rows that still hold only the sentinel.
fn rows_reached(buf: &[u8], row_bytes: usize) -> u32 {
    if row_bytes == 0 {
        return 0;
    }
    let rows = buf.chunks(row_bytes).collect::<Vec<_>>();
    let untouched = rows.iter().rev().take_while(|row| row.iter().all(|&b| b == SENTINEL)).count();
    (rows.len() - untouched) as u32
}

/// A JPEG ends with FF D9, possibly followed by padding zeros or junk that
/// some writers append; the last 4 KiB are searched.
pub(crate) fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// Bytes appended to a JPEG without its end marker for the extra decodes:
/// zero bits and alternating bits, both of which decode as scan data where
/// the file's own data ran out.
const JPEG_PADS: [u8; 2] = [0x00, 0x55];
/// How many: more than the scan data of one MCU row of the largest image read.
const JPEG_PAD_LEN: usize = 256 << 10;

/// Rows from the top of a JPEG without its end marker that hold the file's
/// own pixels. A decoder fills in scan data that is not there (with grey, or
/// by reading zero bits), so the file is decoded again with different bytes
/// after its end: rows that come out the same every time depend on no missing
/// byte. A row just above the first damaged MCU row can be among those that
/// differ: chroma upsampling blends neighbouring rows.
fn jpeg_rows_intact(bytes: &[u8], first: &[u8], row_bytes: usize, budget: u64) -> u32 {
    if row_bytes == 0 {
        return 0;
    }
    let mut same = first.len() / row_bytes;
    let mut padded = Vec::with_capacity(bytes.len() + JPEG_PAD_LEN);
    let mut decodes = Vec::with_capacity(JPEG_PADS.len());
    for pad in JPEG_PADS {
        padded.clear();
        padded.extend_from_slice(bytes);
        padded.resize(bytes.len() + JPEG_PAD_LEN, pad);
        let Some(pixels) = decode_pixels(&padded, ImageFormat::Jpeg, budget, first.len()) else {
            return 0;
        };
        decodes.push(pixels);
    }
    let mut others = decodes.iter().map(Vec::as_slice).chain([first]).skip(1);
    let rows = decodes[0].chunks(row_bytes);
    for other in &mut others {
        let agree = rows.clone().zip(other.chunks(row_bytes)).take_while(|(a, b)| a == b).count();
        same = same.min(agree);
    }
    u32::try_from(same).unwrap_or(u32::MAX)
}

/// Decodes `bytes` into a buffer of `len` bytes, keeping what a failing
/// decoder wrote; `None` when the header does not give that size.
fn decode_pixels(bytes: &[u8], format: ImageFormat, budget: u64, len: usize) -> Option<Vec<u8>> {
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(budget);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let decoder = reader.into_decoder().ok()?;
    if usize::try_from(decoder.total_bytes()).ok()? != len {
        return None;
    }
    let mut buf = vec![SENTINEL; len];
    // An error leaves the rows decoded before it in the buffer, which is all
    // the comparison needs.
    let _ = decoder.read_image(&mut buf);
    Some(buf)
}

/// A JPEG's marker segments in file order, from just after SOI: each as
/// (marker, offset of its FF). Fill bytes are skipped; the
/// walk ends at EOI, at a byte that is not a marker, or at the end of the
/// file. Entropy-coded data is not skipped: after an SOS the caller moves
/// `at` past the scan (`next_marker`).
struct Segments<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Segments<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Segments { bytes, at: 2 }
    }
}

impl Iterator for Segments<'_> {
    type Item = (u8, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.bytes;
        while self.at + 4 <= bytes.len() {
            if bytes[self.at] != 0xFF {
                return None;
            }
            let marker = bytes[self.at + 1];
            if marker == 0xFF {
                self.at += 1;
                continue;
            }
            if marker == 0xD9 {
                return None;
            }
            let at = self.at;
            let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
            self.at = at.checked_add(2 + len)?;
            return Some((marker, at));
        }
        None
    }
}

/// For a progressive JPEG, the scans whose data ends before the file does;
/// `None` for a sequential one. Only marker segments are walked: a scan's
/// entropy-coded data runs to the next marker that is not a restart.
fn jpeg_progressive_scans(bytes: &[u8]) -> Option<u32> {
    let mut progressive = false;
    let mut complete = 0u32;
    let mut segments = Segments::new(bytes);
    while let Some((marker, _)) = segments.next() {
        progressive |= matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
        if marker != 0xDA {
            continue;
        }
        match next_marker(bytes, segments.at) {
            Some(next) => {
                complete += 1;
                segments.at = next;
            }
            None => break,
        }
    }
    progressive.then_some(complete)
}

/// The offset of the next marker at or after `from` in entropy-coded data:
/// an FF followed by neither a stuffed 00, a fill FF nor a restart marker.
fn next_marker(bytes: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let ff = from + memchr::memchr(0xFF, bytes.get(from..)?)?;
        match *bytes.get(ff + 1)? {
            0x00 | 0xFF | 0xD0..=0xD7 => from = ff + 1,
            _ => return Some(ff),
        }
    }
}

/// The number of components a JPEG's frame header declares (1 grey, 3
/// YCbCr, 4 CMYK/YCCK), found by walking its marker segments up to the
/// first scan.
fn jpeg_components(bytes: &[u8]) -> Option<u8> {
    Segments::new(bytes)
        .take_while(|&(marker, _)| marker != 0xDA)
        .find(|&(marker, _)| matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC))
        .and_then(|(_, at)| bytes.get(at + 9).copied())
}

/// PNG colour type and bit depth from the IHDR chunk.
fn png_header(bytes: &[u8]) -> Option<(u8, u8)> {
    (bytes.len() >= 29 && &bytes[12..16] == b"IHDR").then(|| (bytes[25], bytes[24]))
}

fn mode_of(format: ImageFormat, bytes: &[u8], color: ColorType, original: ExtendedColorType) -> Mode {
    let alpha = color.has_alpha();
    let bits = (color.bits_per_pixel() / u16::from(color.channel_count())) as u8;
    let base = match color.channel_count() {
        1 | 2 => ModeKind::Gray,
        _ => ModeKind::Rgb,
    };
    let mut mode = Mode { kind: base, bits, float: matches!(color, ColorType::Rgb32F | ColorType::Rgba32F), alpha };
    match format {
        ImageFormat::Png => {
            if let Some((kind, depth)) = png_header(bytes) {
                mode.bits = depth;
                if kind == 3 {
                    mode.kind = ModeKind::Palette;
                }
            }
        }
        ImageFormat::Jpeg if jpeg_components(bytes) == Some(4) => mode.kind = ModeKind::Cmyk,
        _ => {}
    }
    if matches!(original, ExtendedColorType::Cmyk8 | ExtendedColorType::Cmyk16) {
        mode.kind = ModeKind::Cmyk;
    }
    if let ExtendedColorType::L1 | ExtendedColorType::L2 | ExtendedColorType::L4 = original {
        mode.bits = original.bits_per_pixel() as u8;
    }
    mode
}

fn raster_from(width: u32, height: u32, color: ColorType, buf: Vec<u8>) -> Option<Raster> {
    let channels = usize::from(color.channel_count());
    let alpha = color.has_alpha();
    let (samples, native) = match color.bytes_per_pixel() / color.channel_count() {
        1 => (Samples::U8(buf), Some(ValueRange::BYTE)),
        2 => (
            Samples::U16(buf.chunks_exact(2).map(|b| u16::from_ne_bytes([b[0], b[1]])).collect()),
            Some(ValueRange::WORD),
        ),
        4 => (Samples::F32(buf.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect()), None),
        _ => return None,
    };
    Some(Raster { width, height, channels, alpha, samples, native })
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        ImageFormat::Gif => "gif",
        ImageFormat::Avif => "avif",
        ImageFormat::Ico => "ico",
        ImageFormat::Hdr => "hdr",
        ImageFormat::OpenExr => "openexr",
        ImageFormat::Qoi => "qoi",
        ImageFormat::Pnm => "pnm",
        ImageFormat::Tga => "tga",
        ImageFormat::Dds => "dds",
        ImageFormat::Farbfeld => "farbfeld",
        _ => "image",
    }
}

/// TIFF through the `tiff` crate, which reads grey float images that
/// `image` refuses.
fn decode_tiff(bytes: &[u8], mut info: ImageInfo, max_pixels: u64, out: &mut Vec<Finding>) -> Option<Decoded> {
    use tiff::ColorType as T;
    use tiff::decoder::{DecodingResult, Limits};
    let file = info.file.clone();
    let budget = alloc_budget(bytes.len() as u64);
    let fail = |message: String, out: &mut Vec<Finding>| {
        out.push(decoder_failure(&file, "tiff", &message, None, bytes.len()));
    };
    let mut limits = Limits::default();
    limits.decoding_buffer_size = budget as usize;
    // One compressed strip or tile at a time; a reference image's are far smaller.
    limits.intermediate_buffer_size = (budget as usize).min(INTERMEDIATE_CAP);
    limits.ifd_value_size = limits.ifd_value_size.min(budget as usize);
    let mut decoder = match tiff::decoder::Decoder::new(Cursor::new(bytes)) {
        Ok(decoder) => decoder.with_limits(limits.clone()),
        Err(err) => {
            fail(err.to_string(), out);
            return None;
        }
    };
    let (dims, color) = match (decoder.dimensions(), decoder.colortype()) {
        (Ok(dims), Ok(color)) => (dims, color),
        (Err(err), _) | (_, Err(err)) => {
            fail(err.to_string(), out);
            return None;
        }
    };
    (info.width, info.height) = dims;
    info.orientation = decoder
        .find_tag(tiff::tags::Tag::Orientation)
        .ok()
        .flatten()
        .and_then(|v| v.into_u32().ok())
        .and_then(|v| u16::try_from(v).ok());
    let (kind, channels, alpha, bits) = match color {
        T::Gray(b) => (ModeKind::Gray, 1, false, b),
        T::GrayA(b) => (ModeKind::Gray, 2, true, b),
        T::RGB(b) => (ModeKind::Rgb, 3, false, b),
        T::RGBA(b) => (ModeKind::Rgb, 4, true, b),
        T::CMYK(b) => (ModeKind::Cmyk, 4, false, b),
        other => {
            info.mode = format!("{other:?}").to_lowercase();
            out.push(findings::undecodable(&file, "tiff", &format!("colour type {other:?} is not read")));
            return Some(Decoded {
                info,
                mode: Mode { kind: ModeKind::Other, bits: 0, float: false, alpha: false },
                raster: None,
                tensor: false,
            });
        }
    };
    let float = decoder
        .find_tag(tiff::tags::Tag::SampleFormat)
        .ok()
        .flatten()
        .and_then(|v| v.into_u16_vec().ok())
        .is_some_and(|formats| formats.first() == Some(&3));
    let mode = Mode { kind, bits, float, alpha };
    info.mode = mode.name();
    let element = u64::from(bits.div_ceil(8).max(1));
    // Two u32 dimensions times 4 channels of 8 bytes can pass u64: saturate,
    // and the guard below refuses it.
    let total = (u64::from(dims.0) * u64::from(dims.1)).saturating_mul(channels as u64).saturating_mul(element);
    if let Some(finding) = size_guard(&file, dims.0, dims.1, total, budget, max_pixels, bytes.len()) {
        out.push(finding);
        return Some(Decoded { info, mode, raster: None, tensor: false });
    }
    let result = match decoder.read_image() {
        Ok(result) => result,
        Err(err) => {
            let progress = tiff_progress(bytes, limits, dims);
            out.push(decoder_failure(&file, "tiff", &err.to_string(), progress, bytes.len()));
            return Some(Decoded { info, mode, raster: None, tensor: false });
        }
    };
    let (samples, native) = match result {
        DecodingResult::U8(v) => {
            (Samples::U8(v), Some(ValueRange { low: 0.0, high: f64::from((1u32 << bits.min(8)) - 1) }))
        }
        DecodingResult::U16(v) => (Samples::U16(v), Some(ValueRange::WORD)),
        DecodingResult::F32(v) => (Samples::F32(v), None),
        DecodingResult::F64(v) => (Samples::F32(v.into_iter().map(|x| x as f32).collect()), None),
        DecodingResult::F16(v) => (Samples::F32(v.into_iter().map(f32::from).collect()), None),
        _ => {
            out.push(findings::undecodable(&file, "tiff", &format!("{bits}-bit integer samples are not read")));
            return Some(Decoded { info, mode, raster: None, tensor: false });
        }
    };
    let expected = dims.0 as usize * dims.1 as usize * channels;
    if samples.len() != expected {
        fail(format!("decoded {} samples, expected {expected}", samples.len()), out);
        return Some(Decoded { info, mode, raster: None, tensor: false });
    }
    // CMYK is kept as four colour channels for the statistics; the mode
    // finding explains the conversion.
    let raster = Raster { width: dims.0, height: dims.1, channels, alpha, samples, native };
    Some(Decoded { info, mode, raster: Some(raster), tensor: false })
}

/// How much of a TIFF whose image did not decode can be read: each strip or
/// tile is decoded on its own and counted; the rows are those of the leading
/// strips or tile rows that decoded.
fn tiff_progress(bytes: &[u8], limits: tiff::decoder::Limits, (width, height): (u32, u32)) -> Option<Progress> {
    use tiff::decoder::ChunkType;
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).ok()?.with_limits(limits);
    let tiles = matches!(decoder.get_chunk_type(), ChunkType::Tile);
    let total = if tiles { decoder.tile_count() } else { decoder.strip_count() }.ok()?;
    let (chunk_width, chunk_height) = decoder.chunk_dimensions();
    if chunk_width == 0 || chunk_height == 0 {
        return None;
    }
    let across = if tiles { width.div_ceil(chunk_width) } else { 1 };
    let per_plane = height.div_ceil(chunk_height).checked_mul(across).filter(|&n| n > 0)?;
    // Each offset takes at least two bytes of the file: chunks past those the
    // file can hold have no data and are not tried one by one.
    let stored = u32::try_from(bytes.len() / 2 + 1).unwrap_or(u32::MAX);
    let mut decoded = 0u32;
    let mut first_failure = (stored < total).then_some(stored);
    for index in 0..total.min(stored) {
        if decoder.read_chunk(index).is_ok() {
            decoded += 1;
        } else {
            first_failure = Some(first_failure.map_or(index, |first: u32| first.min(index)));
        }
    }
    // Planar images repeat the chunks once per sample plane; a failure in a
    // later plane spoils the rows from its place in that plane on.
    let intact = first_failure.map_or(per_plane, |index| index % per_plane);
    let rows = (intact / across).saturating_mul(chunk_height).min(height);
    let kind = if tiles { "tiles" } else { "strips" };
    Some(Progress { rows, height, chunks: Some(Chunks { kind, decoded, total }), scans_complete: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_grows_with_the_file_between_floor_and_cap() {
        assert_eq!(alloc_budget(10), ALLOC_FLOOR);
        assert_eq!(alloc_budget(100_000), ALLOC_FLOOR.max(110_000_000));
        assert_eq!(alloc_budget(u64::MAX), ALLOC_CAP);
    }

    #[test]
    fn rows_reached_stops_at_the_sentinel_tail() {
        let mut buf = vec![SENTINEL; 12];
        buf[4] = 0;
        assert_eq!(rows_reached(&buf, 4), 2);
        assert_eq!(rows_reached(&[SENTINEL; 8], 4), 0);
    }

    #[test]
    fn jpeg_markers() {
        assert!(jpeg_has_end_marker(&[0xFF, 0xD8, 0, 0xFF, 0xD9, 0]));
        assert!(!jpeg_has_end_marker(&[0xFF, 0xD8, 0, 1]));
        let sof = [0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0, 16, 0, 16, 4];
        assert_eq!(jpeg_components(&sof), Some(4));
        assert_eq!(jpeg_components(&[0xFF, 0xD8, 0xFF]), None);
    }
}
