//! The pose encoder (`PoseEncoder`): per-frame convolutions from the rendered
//! pose image down to latent resolution, whose output the denoising UNet adds
//! after `conv_in`.

use candle_core::Tensor;

use crate::replay::engine::error::{EngineError, Result};
use crate::replay::engine::layers::{Conv2d, key};
use crate::replay::engine::tracer::Tracer;
use crate::replay::engine::weights::WeightStore;

/// The pose encoder's shape; EchoMimicV2 builds it with 3 input channels,
/// blocks of (16, 32, 96, 256) and 320 output channels.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub(crate) struct PoseEncoderConfig {
    pub(crate) conditioning_embedding_channels: usize,
    pub(crate) conditioning_channels: usize,
    pub(crate) block_out_channels: Vec<usize>,
}

impl Default for PoseEncoderConfig {
    fn default() -> Self {
        PoseEncoderConfig {
            conditioning_embedding_channels: 320,
            conditioning_channels: 3,
            block_out_channels: vec![16, 32, 96, 256],
        }
    }
}

pub(crate) struct PoseEncoder {
    name: String,
    conv_in: Conv2d,
    /// Pairs of a same-width conv and a stride-2 conv, each followed by SiLU.
    blocks: Vec<Conv2d>,
    conv_out: Conv2d,
}

impl PoseEncoder {
    pub(crate) fn new(ws: &WeightStore, prefix: &str, c: &PoseEncoderConfig) -> Result<Self> {
        let ch = &c.block_out_channels;
        if ch.is_empty() || ch.len() > 16 || ch.contains(&0) {
            return Err(EngineError::Input("pose encoder block_out_channels must be 1 to 16 positive widths".into()));
        }
        let mut blocks = Vec::new();
        for (i, pair) in ch.windows(2).enumerate() {
            let (cin, cout) = (pair[0], pair[1]);
            blocks.push(Conv2d::new(ws, &key(prefix, &format!("blocks.{}", 2 * i)), cin, cin, 3, 1, 1));
            blocks.push(Conv2d::new(ws, &key(prefix, &format!("blocks.{}", 2 * i + 1)), cin, cout, 3, 2, 1));
        }
        let last = *ch.last().unwrap_or(&ch[0]);
        Ok(PoseEncoder {
            name: ws.module_name(prefix),
            conv_in: Conv2d::new(ws, &key(prefix, "conv_in"), c.conditioning_channels, ch[0], 3, 1, 1),
            blocks,
            conv_out: Conv2d::new(ws, &key(prefix, "conv_out"), last, c.conditioning_embedding_channels, 3, 1, 1),
        })
    }

    /// `poses` folded `(b·f, c, H, W)`; returns `(b·f, C, H/2^k, W/2^k)`.
    pub(crate) fn forward(&self, poses: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let mut h = self.conv_in.forward(poses, tr)?.silu()?;
        for block in &self.blocks {
            h = block.forward(&h, tr)?.silu()?;
        }
        let y = self.conv_out.forward(&h, tr)?;
        tr.observe(&self.name, &[poses], &y)?;
        Ok(y)
    }
}
