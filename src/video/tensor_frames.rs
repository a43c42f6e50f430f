//! A saved video tensor (`.npy`, `.npz`, `.safetensors`) read frame by frame
//! as RGB floats, whatever its layout. Only one frame is decoded at a time;
//! the tensor itself stays memory-mapped.

use std::borrow::Cow;

use crate::formats::{Checkpoint, TensorEntry};
use crate::numerics::decode::{decode_f32_chunk, float_kind, wide_values};
use crate::numerics::{DType, Kind};

use super::decode::MAX_FRAME_PIXELS;

/// Batches wider than this are refused: they are tiled side by side.
const MAX_BATCH: u64 = 16;

/// Axis order of a video tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// batch, channel, frame, height, width (diffusers / EchoMimicV2 `videos`).
    Bcfhw,
    /// channel, frame, height, width.
    Cfhw,
    /// frame, height, width, channel (imageio frames stacked).
    Fhwc,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Bcfhw => "b c f h w",
            Layout::Cfhw => "c f h w",
            Layout::Fhwc => "f h w c",
        }
    }
}

/// The sizes of a video tensor once its layout is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub layout: Layout,
    pub batch: u64,
    pub channels: u64,
    pub frames: u64,
    pub height: u64,
    pub width: u64,
}

impl Geometry {
    /// The width of one output frame: batch items are tiled side by side.
    pub fn out_width(&self) -> u64 {
        self.width * self.batch
    }

    pub fn out_pixels(&self) -> usize {
        (self.out_width() * self.height) as usize
    }
}

fn is_channels(n: u64) -> bool {
    matches!(n, 1 | 3 | 4)
}

/// Works out the layout of `shape`, honouring an explicit choice. The error
/// says what is ambiguous or wrong.
pub fn geometry(shape: &[u64], explicit: Option<Layout>) -> Result<Geometry, String> {
    let layout = match (explicit, shape.len()) {
        (Some(layout), _) => layout,
        (None, 5) => Layout::Bcfhw,
        (None, 4) => match (is_channels(shape[0]), is_channels(shape[3])) {
            (true, false) => Layout::Cfhw,
            (false, true) => Layout::Fhwc,
            (true, true) => {
                return Err(format!("shape {shape:?} fits both `c f h w` and `f h w c`; pass --layout"));
            }
            (false, false) => return Err(format!("shape {shape:?} has no channel axis of size 1, 3 or 4")),
        },
        (None, n) => return Err(format!("a video tensor has 4 or 5 dimensions, this one has {n} ({shape:?})")),
    };
    let want = if layout == Layout::Bcfhw { 5 } else { 4 };
    if shape.len() != want {
        return Err(format!("layout `{}` needs {want} dimensions, the tensor has shape {shape:?}", layout.name()));
    }
    let g = match layout {
        Layout::Bcfhw => Geometry {
            layout,
            batch: shape[0],
            channels: shape[1],
            frames: shape[2],
            height: shape[3],
            width: shape[4],
        },
        Layout::Cfhw => {
            Geometry { layout, batch: 1, channels: shape[0], frames: shape[1], height: shape[2], width: shape[3] }
        }
        Layout::Fhwc => {
            Geometry { layout, batch: 1, channels: shape[3], frames: shape[0], height: shape[1], width: shape[2] }
        }
    };
    if !is_channels(g.channels) {
        return Err(format!("{} channels in layout `{}`; expected 1, 3 or 4", g.channels, layout.name()));
    }
    if g.batch == 0 || g.batch > MAX_BATCH {
        return Err(format!("batch of {} videos; 1 to {MAX_BATCH} are tiled side by side", g.batch));
    }
    if g.frames == 0 || g.height == 0 || g.width == 0 {
        return Err(format!("shape {shape:?} holds no pixels"));
    }
    if g.out_width().saturating_mul(g.height) > MAX_FRAME_PIXELS {
        return Err(format!("frames of {}x{} pixels are too large to encode", g.out_width(), g.height));
    }
    Ok(g)
}

/// A tensor ready to be read frame by frame.
pub struct TensorFrames<'a> {
    pub geometry: Geometry,
    dtype: DType,
    order: crate::numerics::ByteOrder,
    bytes: Cow<'a, [u8]>,
    element: usize,
    scratch: Vec<f32>,
}

impl<'a> TensorFrames<'a> {
    pub fn new(checkpoint: &'a Checkpoint, entry: &'a TensorEntry, geometry: Geometry) -> Result<Self, String> {
        let element = match (entry.dtype.kind(), entry.dtype.size()) {
            (Kind::Packed, _) | (_, None) => return Err(format!("{} tensors cannot be encoded", entry.dtype.name())),
            (_, Some(size)) => size as usize,
        };
        let numel = entry.numel().ok_or("the tensor's shape overflows")?;
        let need = (numel as usize).checked_mul(element).ok_or("the tensor's shape overflows")?;
        let storage = checkpoint.storage(entry);
        let bytes = match &entry.view {
            None => Cow::Borrowed(storage.get(..need).ok_or("the tensor's storage is shorter than its shape")?),
            Some(view) if view.is_contiguous(&entry.shape) => {
                let start = (view.offset as usize).saturating_mul(element);
                Cow::Borrowed(
                    storage.get(start..start.saturating_add(need)).ok_or("the tensor's view reads past its storage")?,
                )
            }
            Some(view) => Cow::Owned(view.gather(storage, element, &entry.shape).map_err(|e| e.to_string())?),
        };
        Ok(TensorFrames { geometry, dtype: entry.dtype, order: entry.order, bytes, element, scratch: Vec::new() })
    }

    /// Frame `f` as interleaved RGB floats (`out_pixels * 3` values), in the
    /// tensor's own value range. A single channel is repeated; alpha is dropped.
    pub fn frame(&mut self, f: u64, out: &mut Vec<f32>) {
        let g = self.geometry;
        out.clear();
        out.resize(g.out_pixels() * 3, 0.0);
        let out_width = g.out_width() as usize;
        let (h, w) = (g.height as usize, g.width as usize);
        match g.layout {
            Layout::Fhwc => {
                let c = g.channels as usize;
                let start = f as usize * h * w * c;
                self.decode(start, h * w * c);
                for p in 0..h * w {
                    for ch in 0..3 {
                        out[p * 3 + ch] = self.scratch[p * c + ch.min(c - 1)];
                    }
                }
            }
            Layout::Bcfhw | Layout::Cfhw => {
                let (c, frames) = (g.channels as usize, g.frames as usize);
                for b in 0..g.batch as usize {
                    for ch in 0..3 {
                        let source = ch.min(c - 1);
                        let plane = ((b * c + source) * frames + f as usize) * h * w;
                        self.decode(plane, h * w);
                        for y in 0..h {
                            for x in 0..w {
                                out[(y * out_width + b * w + x) * 3 + ch] = self.scratch[y * w + x];
                            }
                        }
                    }
                }
            }
        }
    }

    /// Decodes `count` elements starting at element `start` into `scratch`.
    fn decode(&mut self, start: usize, count: usize) {
        self.scratch.clear();
        self.scratch.resize(count, 0.0);
        let bytes = &self.bytes[start * self.element..(start + count) * self.element];
        match float_kind(self.dtype) {
            Some(kind) => {
                decode_f32_chunk(kind, bytes, self.order, &mut self.scratch);
            }
            None => {
                for (o, v) in self.scratch.iter_mut().zip(wide_values(self.dtype, bytes, self.order)) {
                    *o = v as f32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_inferred_or_refused() {
        assert_eq!(geometry(&[1, 3, 8, 32, 32], None).unwrap().layout, Layout::Bcfhw);
        assert_eq!(geometry(&[3, 8, 32, 32], None).unwrap().layout, Layout::Cfhw);
        let g = geometry(&[8, 32, 48, 3], None).unwrap();
        assert_eq!((g.layout, g.frames, g.height, g.width), (Layout::Fhwc, 8, 32, 48));
        assert!(geometry(&[3, 32, 32, 3], None).unwrap_err().contains("--layout"));
        assert_eq!(geometry(&[3, 32, 32, 3], Some(Layout::Fhwc)).unwrap().frames, 3);
        assert!(geometry(&[8, 32, 32], None).is_err());
        assert!(geometry(&[1, 5, 8, 32, 32], None).is_err());
        assert!(geometry(&[1, 3, 0, 32, 32], None).is_err());
    }
}
