//! `ResnetBlock2D`, `Downsample2D` and `Upsample2D` as diffusers builds them.

use candle_core::Tensor;

use super::error::Result;
use super::layers::{Conv2d, GroupNorm, Linear, key};
use super::tracer::Tracer;
use super::weights::WeightStore;

pub struct ResnetBlock2D {
    name: String,
    norm1: GroupNorm,
    conv1: Conv2d,
    time_emb_proj: Option<Linear>,
    norm2: GroupNorm,
    conv2: Conv2d,
    conv_shortcut: Option<Conv2d>,
}

/// Shape of a resnet: channels, groups, eps and the time embedding width.
pub struct ResnetShape {
    pub cin: usize,
    pub cout: usize,
    pub groups: usize,
    pub eps: f64,
    pub temb: Option<usize>,
}

impl ResnetBlock2D {
    pub fn new(ws: &WeightStore, prefix: &str, s: &ResnetShape) -> Self {
        ResnetBlock2D {
            name: ws.module_name(prefix),
            norm1: GroupNorm::new(ws, &key(prefix, "norm1"), s.groups, s.cin, s.eps),
            conv1: Conv2d::new(ws, &key(prefix, "conv1"), s.cin, s.cout, 3, 1, 1),
            time_emb_proj: s.temb.map(|t| Linear::new(ws, &key(prefix, "time_emb_proj"), t, s.cout, true)),
            norm2: GroupNorm::new(ws, &key(prefix, "norm2"), s.groups, s.cout, s.eps),
            conv2: Conv2d::new(ws, &key(prefix, "conv2"), s.cout, s.cout, 3, 1, 1),
            conv_shortcut: (s.cin != s.cout)
                .then(|| Conv2d::new(ws, &key(prefix, "conv_shortcut"), s.cin, s.cout, 1, 1, 0)),
        }
    }

    pub fn forward(&self, x: &Tensor, temb: Option<&Tensor>, tr: &mut Tracer) -> Result<Tensor> {
        let h = self.norm1.forward(x, tr)?.silu()?;
        let mut h = self.conv1.forward(&h, tr)?;
        if let (Some(proj), Some(temb)) = (&self.time_emb_proj, temb) {
            let t = proj.forward(&temb.silu()?, tr)?;
            let t = t.reshape((t.dim(0)?, t.dim(1)?, 1, 1))?;
            h = h.broadcast_add(&repeat_batch(&t, h.dim(0)?)?)?;
        }
        let h = self.norm2.forward(&h, tr)?.silu()?;
        let h = self.conv2.forward(&h, tr)?;
        let shortcut = match &self.conv_shortcut {
            Some(conv) => conv.forward(x, tr)?,
            None => x.clone(),
        };
        let y = (shortcut + h)?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

/// Repeats a (B, …) tensor to `batch` rows when frames were folded into the
/// batch after it was computed (batch = B · frames, frames outer per sample).
pub fn repeat_batch(t: &Tensor, batch: usize) -> Result<Tensor> {
    let b = t.dim(0)?;
    if b == batch || b == 0 {
        return Ok(t.clone());
    }
    let per = batch / b;
    let mut dims = t.dims().to_vec();
    let expanded = t.unsqueeze(1)?;
    let mut target = expanded.dims().to_vec();
    target[1] = per;
    dims[0] = batch;
    Ok(expanded.broadcast_as(target)?.contiguous()?.reshape(dims)?)
}

pub struct Downsample2D {
    name: String,
    conv: Conv2d,
    /// The VAE pads right/bottom by one and convolves without padding.
    asymmetric_pad: bool,
}

impl Downsample2D {
    pub fn new(ws: &WeightStore, prefix: &str, channels: usize, padding: usize) -> Self {
        let conv = Conv2d::new(ws, &key(prefix, "conv"), channels, channels, 3, 2, padding);
        Downsample2D { name: ws.module_name(prefix), conv, asymmetric_pad: padding == 0 }
    }

    pub fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let input = if self.asymmetric_pad { x.pad_with_zeros(2, 0, 1)?.pad_with_zeros(3, 0, 1)? } else { x.clone() };
        let y = self.conv.forward(&input, tr)?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

pub struct Upsample2D {
    name: String,
    conv: Conv2d,
}

impl Upsample2D {
    pub fn new(ws: &WeightStore, prefix: &str, channels: usize) -> Self {
        Upsample2D {
            name: ws.module_name(prefix),
            conv: Conv2d::new(ws, &key(prefix, "conv"), channels, channels, 3, 1, 1),
        }
    }

    pub fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let up = x.upsample_nearest2d(h * 2, w * 2)?;
        let y = self.conv.forward(&up, tr)?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}
