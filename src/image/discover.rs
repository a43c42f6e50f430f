//! Finding the images among the paths a user gave.
//!
//! A file named explicitly is always checked, whatever it holds (a file that
//! is not an image is a finding). A folder is walked recursively and keeps
//! the files whose first bytes are an image format's signature or a tensor
//! file's (`.npy`, `.npz`, `.safetensors`); the extension is never trusted.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::formats::{FileFormat, detect};

/// Bytes read from the start of a file to recognise it (a safetensors
/// header is checked as far as it goes).
const HEAD_BYTES: u64 = 4096;

/// Explicit files as given, then the images found below each folder, in
/// name order.
pub fn image_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    crate::formats::walk::expand(paths, is_image_file)
}

/// Whether the file starts like an image or an image tensor file.
pub fn is_image_file(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut head = Vec::new();
    if file.take(HEAD_BYTES).read_to_end(&mut head).is_err() {
        return false;
    }
    looks_like_image(&head)
}

/// Image signatures recognised by `image`, and the tensor files.
pub fn looks_like_image(head: &[u8]) -> bool {
    if image::guess_format(head).is_ok() {
        return true;
    }
    let npy = head.starts_with(b"\x93NUMPY");
    npy || matches!(detect(head), FileFormat::Safetensors)
}
