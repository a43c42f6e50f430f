//! Image tensors saved as `.npy`, `.npz` or `.safetensors`: each tensor
//! shaped like an image (`h w`, `h w c`, `c h w`, with an optional leading
//! batch of 1) is one image. The file is read by the checkpoint readers, so
//! its header sizes are checked against the file before anything is read.

use std::borrow::Cow;

use super::findings;
use super::raster::{Raster, Samples, ValueRange};
use super::{ImageInfo, Mode, ModeKind};
use crate::formats::{Checkpoint, FileFormat, TensorEntry};
use crate::numerics::decode::{decode_f32_chunk, float_kind, wide_values};
use crate::numerics::{DType, Kind};
use crate::report::Finding;

use super::decode::Decoded;

/// Axis order of an image tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Hw,
    Hwc,
    Chw,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Hw => "h w",
            Layout::Hwc => "h w c",
            Layout::Chw => "c h w",
        }
    }
}

fn is_channels(n: u64) -> bool {
    matches!(n, 1 | 3 | 4)
}

/// Layout, height, width and channels of `shape`, or why it is no image.
/// When both ends could be channels (`3 x 4 x 3`), `h w c` wins: it is what
/// numpy and Pillow produce.
pub(crate) fn layout(shape: &[u64]) -> Result<(Layout, u64, u64, u64), String> {
    let mut dims: &[u64] = shape;
    while dims.len() > 3 && dims[0] == 1 {
        dims = &dims[1..];
    }
    let found = match *dims {
        [h, w] => (Layout::Hw, h, w, 1),
        [h, w, c] if is_channels(c) => (Layout::Hwc, h, w, c),
        [c, h, w] if is_channels(c) => (Layout::Chw, h, w, c),
        [_, _, _] => return Err(format!("shape {shape:?} has no channel axis of size 1, 3 or 4")),
        _ => return Err(format!("shape {shape:?} is not `h w`, `h w c` or `c h w`")),
    };
    if found.1 == 0 || found.2 == 0 {
        return Err(format!("shape {shape:?} holds no pixels"));
    }
    if found.1 > u64::from(u32::MAX) || found.2 > u64::from(u32::MAX) {
        return Err(format!("shape {shape:?} is too large for an image"));
    }
    Ok(found)
}

/// Every image-shaped tensor of an opened tensor file.
pub(crate) fn read_tensors(checkpoint: &Checkpoint, max_pixels: u64, out: &mut Vec<Finding>) -> Vec<Decoded> {
    let file = checkpoint.label.clone();
    out.extend(checkpoint.findings.iter().cloned());
    let mut images = Vec::new();
    for entry in &checkpoint.tensors {
        let (layout, h, w, c) = match layout(&entry.shape) {
            Ok(found) => found,
            Err(why) => {
                out.push(findings::tensor_not_image(&file, tensor_label(checkpoint, entry), &why));
                continue;
            }
        };
        if matches!(entry.dtype.kind(), Kind::Packed) || entry.dtype.size().is_none() || entry.dtype == DType::Bool {
            out.push(findings::tensor_not_image(
                &file,
                tensor_label(checkpoint, entry),
                &format!("{} is no pixel type", entry.dtype.name()),
            ));
            continue;
        }
        let info = ImageInfo {
            file: file.clone(),
            // A .npy file holds one array, named after the file by its reader.
            tensor: (checkpoint.format != FileFormat::Npy).then(|| entry.name.clone()),
            format: checkpoint.format.name().to_string(),
            mode: format!("tensor {} {}", entry.dtype.name(), layout.name()),
            width: w as u32,
            height: h as u32,
            orientation: None,
            bytes: checkpoint.file_len(),
        };
        let alpha = c == 4;
        let mode = Mode {
            kind: if c == 1 { ModeKind::Gray } else { ModeKind::Rgb },
            bits: (entry.dtype.bits()).min(255) as u8,
            float: !matches!(entry.dtype.kind(), Kind::Int),
            alpha,
        };
        if h.saturating_mul(w) > max_pixels {
            out.push(findings::too_large(
                &file,
                w as u32,
                h as u32,
                format!("more than --max-pixels {max_pixels}"),
                checkpoint.file_len() as usize,
            ));
            images.push(Decoded { info, mode, raster: None, tensor: true });
            continue;
        }
        let raster = match samples(checkpoint, entry, layout, h, w, c) {
            Ok(samples) => Some(Raster {
                width: w as u32,
                height: h as u32,
                channels: c as usize,
                alpha,
                samples,
                native: native_range(entry.dtype),
            }),
            Err(why) => {
                out.push(findings::tensor_not_image(&file, tensor_label(checkpoint, entry), &why));
                None
            }
        };
        images.push(Decoded { info, mode, raster, tensor: true });
    }
    images
}

/// The tensor's name, or none for a `.npy` file's single array.
fn tensor_label<'a>(checkpoint: &Checkpoint, entry: &'a TensorEntry) -> Option<&'a str> {
    (checkpoint.format != FileFormat::Npy).then_some(entry.name.as_str())
}

/// Integer tensors live in their type's range; floats have none of their own.
fn native_range(dtype: DType) -> Option<ValueRange> {
    match dtype {
        DType::U8 => Some(ValueRange::BYTE),
        DType::U16 => Some(ValueRange::WORD),
        _ => None,
    }
}

/// The tensor's values as interleaved `h w c` floats.
fn samples(
    checkpoint: &Checkpoint,
    entry: &TensorEntry,
    layout: Layout,
    h: u64,
    w: u64,
    c: u64,
) -> Result<Samples, String> {
    let element = entry.dtype.size().ok_or("the dtype has no byte size")? as usize;
    let numel = entry.numel().ok_or("the tensor's shape overflows")? as usize;
    let need = numel.checked_mul(element).ok_or("the tensor's shape overflows")?;
    let storage = checkpoint.storage(entry);
    let bytes = match &entry.view {
        None => Cow::Borrowed(storage.get(..need).ok_or("the tensor's storage is shorter than its shape")?),
        Some(view) if view.is_contiguous(&entry.shape) => {
            let start = (view.offset as usize).checked_mul(element).ok_or("the tensor's view overflows")?;
            Cow::Borrowed(
                storage.get(start..start.saturating_add(need)).ok_or("the tensor's view reads past its storage")?,
            )
        }
        Some(view) => Cow::Owned(view.gather(storage, element, &entry.shape).map_err(|e| e.to_string())?),
    };
    let mut flat = vec![0f32; numel];
    match float_kind(entry.dtype) {
        Some(kind) => {
            decode_f32_chunk(kind, &bytes, entry.order, &mut flat);
        }
        None => {
            for (o, v) in flat.iter_mut().zip(wide_values(entry.dtype, &bytes, entry.order)) {
                *o = v as f32;
            }
        }
    }
    if layout != Layout::Chw {
        return Ok(Samples::F32(flat));
    }
    let (h, w, c) = (h as usize, w as usize, c as usize);
    let mut interleaved = vec![0f32; numel];
    for ch in 0..c {
        for p in 0..h * w {
            interleaved[p * c + ch] = flat[ch * h * w + p];
        }
    }
    Ok(Samples::F32(interleaved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        assert_eq!(layout(&[768, 512, 3]).unwrap(), (Layout::Hwc, 768, 512, 3));
        assert_eq!(layout(&[1, 3, 64, 32]).unwrap(), (Layout::Chw, 64, 32, 3));
        assert_eq!(layout(&[64, 32]).unwrap(), (Layout::Hw, 64, 32, 1));
        assert!(layout(&[4, 96, 96, 2]).is_err());
        assert!(layout(&[2, 3, 64, 64]).is_err());
        assert!(layout(&[64, 64, 5]).is_err());
        assert!(layout(&[0, 64, 3]).is_err());
    }
}
