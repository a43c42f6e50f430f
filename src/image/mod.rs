//! `image check`: reference images (PNG, JPEG, WebP, BMP, TIFF) and image
//! tensors (`.npy`, `.npz`, `.safetensors`) checked for what would make a
//! generation read the wrong picture: truncation, NaN, blank or black
//! content, transparency, colour modes, EXIF rotation and sizes.
//!
//! Formats are recognised by content. Every problem with a file is a
//! finding; this module never prints and never decides exit codes.

mod check;
mod decode;
pub mod discover;
mod findings;
pub mod plot;
mod png_text;
mod raster;
mod report;
mod stats;
mod tensor;

use serde::Serialize;

pub use check::{check, check_file};
pub use png_text::png_text;
pub use decode::{ALLOC_CAP, ALLOC_FLOOR, ALLOC_RATIO, DEFAULT_MAX_PIXELS};
pub use raster::{RangeChoice, ValueRange};
pub use report::check_report;
pub use stats::{ChannelStats, ImageStats, LumaStats, RangeSource};

use crate::report::Finding;

/// Thresholds and the generation size the images are checked against.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckOptions {
    /// The generation size `(width, height)`; EchoMimicV2's is 768x768.
    pub size: (u32, u32),
    /// The pipeline keeps the image's aspect, as EchoMimicV3 does: it scales
    /// the image down to at most `size`'s area and floors each side to a
    /// multiple of 16. The aspect (I116) is judged against that size; it
    /// never upscales (I119) and never meets a side that is not a multiple
    /// of 8 (I117).
    pub keep_aspect: bool,
    /// Largest tolerated relative aspect-ratio change of the resize (I116).
    pub aspect_tolerance: f64,
    /// Spatial luma standard deviation (0-255) below which an image is blank (I108).
    pub blank_std: f64,
    /// Share of dark (or bright) pixels that makes an image black (or white) (I109, I110).
    pub black_share: f64,
    /// Share of a channel's samples at one end of the range that is reported as clipping (I111).
    pub clip_share: f64,
    pub range: RangeChoice,
    /// Images with more pixels are not decoded (I105).
    pub max_pixels: u64,
    /// Where `--plot` writes one PNG per image.
    pub plot_dir: Option<std::path::PathBuf>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            size: (768, 768),
            keep_aspect: false,
            aspect_tolerance: 0.05,
            blank_std: 2.0,
            black_share: 0.98,
            clip_share: 0.25,
            range: RangeChoice::Auto,
            max_pixels: DEFAULT_MAX_PIXELS,
            plot_dir: None,
        }
    }
}

impl CheckOptions {
    /// Checks that thresholds are usable; the error names the option.
    pub fn validate(&self) -> Result<(), String> {
        if self.size.0 == 0 || self.size.1 == 0 {
            return Err("--size needs a width and a height above 0".into());
        }
        for (name, v) in [("--black-share", self.black_share), ("--clip-share", self.clip_share)] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(format!("{name} must lie in (0, 1], got {v}"));
            }
        }
        if !(self.aspect_tolerance >= 0.0 && self.aspect_tolerance.is_finite()) {
            return Err(format!("--aspect-tolerance must be 0 or more, got {}", self.aspect_tolerance));
        }
        if !(self.blank_std >= 0.0 && self.blank_std.is_finite()) {
            return Err(format!("--blank-std must be 0 or more, got {}", self.blank_std));
        }
        Ok(())
    }
}

/// What an image is, as read from its file.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[non_exhaustive]
pub struct ImageInfo {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensor: Option<String>,
    /// `png`, `jpeg`, `webp`, `bmp`, `tiff`, `npy`, `npz`, `safetensors`.
    pub format: String,
    /// e.g. `rgb 8-bit`, `palette 8-bit`, `grey 16-bit`, `tensor F32 h w c`.
    pub mode: String,
    pub width: u32,
    pub height: u32,
    /// The EXIF (or TIFF) orientation tag, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u16>,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// How the samples are stored, as far as RGB conversion cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModeKind {
    Rgb,
    Gray,
    Palette,
    Cmyk,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mode {
    pub kind: ModeKind,
    /// Bits per sample as stored.
    pub bits: u8,
    pub float: bool,
    pub alpha: bool,
}

impl Mode {
    pub(crate) fn name(&self) -> String {
        let kind = match self.kind {
            ModeKind::Rgb => "rgb",
            ModeKind::Gray => "grey",
            ModeKind::Palette => "palette",
            ModeKind::Cmyk => "cmyk",
            ModeKind::Other => "other",
        };
        let alpha = if self.alpha && self.kind != ModeKind::Palette { "+alpha" } else { "" };
        let depth = if self.float { format!("{}-bit float", self.bits) } else { format!("{}-bit", self.bits) };
        format!("{kind}{alpha} {depth}")
    }
}

/// One image's result: what it is, its statistics when its pixels decoded,
/// and its findings.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ImageCheck {
    #[serde(flatten)]
    pub info: ImageInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<ImageStats>,
    /// The `--plot` PNG written for this image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plot: Option<String>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// One file's result: its images and the findings about the file itself.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileCheck {
    pub images: Vec<ImageCheck>,
    pub findings: Vec<Finding>,
}

/// A whole run: every file, and the findings about the run's options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ImageRun {
    pub files: Vec<FileCheck>,
    pub findings: Vec<Finding>,
}

impl ImageRun {
    /// Every finding, run-level first, then file by file.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().chain(
            self.files.iter().flat_map(|f| f.findings.iter().chain(f.images.iter().flat_map(|i| i.findings.iter()))),
        )
    }

    pub fn images(&self) -> impl Iterator<Item = &ImageCheck> {
        self.files.iter().flat_map(|f| f.images.iter())
    }
}

/// Errors that stop a run: only writing plots can fail; unreadable images are findings.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot create {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot draw {path}: {detail}")]
    Draw { path: std::path::PathBuf, detail: String },
}
