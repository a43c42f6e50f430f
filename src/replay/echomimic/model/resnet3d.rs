//! `ResnetBlock3D`: the 2-D ResNet block applied per frame. Its GroupNorms
//! normalise each frame on its own when `use_inflated_groupnorm` is set (as
//! EchoMimicV2 sets it), and over all frames of a sample together otherwise.

use candle_core::Tensor;

use crate::replay::engine::error::Result;
use crate::replay::engine::layers::{Conv2d, GroupNorm, Linear, key};
use crate::replay::engine::resnet::repeat_batch;
use crate::replay::engine::tracer::Tracer;
use crate::replay::engine::weights::WeightStore;

use super::motion::{fold_frames, unfold_frames};

/// A GroupNorm over folded frames, per frame or per sample.
pub(crate) struct FrameNorm {
    norm: GroupNorm,
    inflated: bool,
}

impl FrameNorm {
    pub(crate) fn new(
        ws: &WeightStore,
        prefix: &str,
        groups: usize,
        channels: usize,
        eps: f64,
        inflated: bool,
    ) -> Self {
        FrameNorm { norm: GroupNorm::new(ws, prefix, groups, channels, eps), inflated }
    }

    /// `x` folded `(b·f, c, h, w)`.
    pub(crate) fn forward(&self, x: &Tensor, frames: usize, tr: &mut Tracer) -> Result<Tensor> {
        if self.inflated || frames == 1 {
            return self.norm.forward(x, tr);
        }
        fold_frames(&self.norm.forward(&unfold_frames(x, frames)?, tr)?)
    }
}

pub(crate) struct Resnet3D {
    name: String,
    norm1: FrameNorm,
    conv1: Conv2d,
    time_emb_proj: Linear,
    norm2: FrameNorm,
    conv2: Conv2d,
    conv_shortcut: Option<Conv2d>,
    output_scale_factor: f64,
}

/// Shape of a ResNet block.
pub(crate) struct ResnetShape {
    pub(crate) cin: usize,
    pub(crate) cout: usize,
    pub(crate) groups: usize,
    pub(crate) eps: f64,
    pub(crate) temb: usize,
    pub(crate) inflated: bool,
    pub(crate) output_scale_factor: f64,
}

impl Resnet3D {
    pub(crate) fn new(ws: &WeightStore, prefix: &str, s: &ResnetShape) -> Self {
        Resnet3D {
            name: ws.module_name(prefix),
            norm1: FrameNorm::new(ws, &key(prefix, "norm1"), s.groups, s.cin, s.eps, s.inflated),
            conv1: Conv2d::new(ws, &key(prefix, "conv1"), s.cin, s.cout, 3, 1, 1),
            time_emb_proj: Linear::new(ws, &key(prefix, "time_emb_proj"), s.temb, s.cout, true),
            norm2: FrameNorm::new(ws, &key(prefix, "norm2"), s.groups, s.cout, s.eps, s.inflated),
            conv2: Conv2d::new(ws, &key(prefix, "conv2"), s.cout, s.cout, 3, 1, 1),
            conv_shortcut: (s.cin != s.cout)
                .then(|| Conv2d::new(ws, &key(prefix, "conv_shortcut"), s.cin, s.cout, 1, 1, 0)),
            output_scale_factor: s.output_scale_factor,
        }
    }

    /// `x` folded `(b·f, c, h, w)`; `temb` `(b, t)`, the same for every frame.
    pub(crate) fn forward(&self, x: &Tensor, frames: usize, temb: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let h = self.norm1.forward(x, frames, tr)?.silu()?;
        let h = self.conv1.forward(&h, tr)?;
        let t = self.time_emb_proj.forward(&temb.silu()?, tr)?;
        let t = repeat_batch(&t, h.dim(0)?)?;
        let t = t.reshape((t.dim(0)?, t.dim(1)?, 1, 1))?;
        let h = h.broadcast_add(&t)?;
        let h = self.norm2.forward(&h, frames, tr)?.silu()?;
        let h = self.conv2.forward(&h, tr)?;
        let shortcut = match &self.conv_shortcut {
            Some(conv) => conv.forward(x, tr)?,
            None => x.clone(),
        };
        let mut y = (shortcut + h)?;
        if self.output_scale_factor != 1.0 {
            y = (y / self.output_scale_factor)?;
        }
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}
