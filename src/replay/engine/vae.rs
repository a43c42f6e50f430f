//! `AutoencoderKL`: encoder, decoder, quant convs and the scaling factor.

use std::path::Path;

use candle_core::Tensor;
use serde::Deserialize;

use super::attention::Attention;
use super::error::{EngineError, Result};
use super::layers::{Conv2d, GroupNorm};
use super::precision::Precision;
use super::resnet::{Downsample2D, ResnetBlock2D, ResnetShape, Upsample2D};
use super::tracer::Tracer;
use super::unet::{MAX_BLOCKS, MAX_LAYERS, read_config};
use super::weights::{WeightStore, weight_file};

#[derive(Debug, Clone, Deserialize)]
pub struct VaeConfig {
    #[serde(default = "three")]
    pub in_channels: usize,
    #[serde(default = "three")]
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    #[serde(default)]
    pub down_block_types: Vec<String>,
    #[serde(default)]
    pub up_block_types: Vec<String>,
    #[serde(default = "one")]
    pub layers_per_block: usize,
    #[serde(default = "four")]
    pub latent_channels: usize,
    #[serde(default = "groups_default")]
    pub norm_num_groups: usize,
    #[serde(default = "scaling_default")]
    pub scaling_factor: f64,
    #[serde(default)]
    pub shift_factor: Option<f64>,
    #[serde(default = "yes")]
    pub use_quant_conv: bool,
    #[serde(default = "yes")]
    pub use_post_quant_conv: bool,
    #[serde(default = "yes")]
    pub mid_block_add_attention: bool,
}

fn three() -> usize {
    3
}
fn one() -> usize {
    1
}
fn four() -> usize {
    4
}
fn yes() -> bool {
    true
}
fn groups_default() -> usize {
    32
}
fn scaling_default() -> f64 {
    0.18215
}

/// The VAE's norms use eps 1e-6.
const EPS: f64 = 1e-6;

struct MidBlock {
    resnet0: ResnetBlock2D,
    attention: Option<Attention>,
    resnet1: ResnetBlock2D,
}

impl MidBlock {
    fn new(ws: &WeightStore, prefix: &str, ch: usize, groups: usize, attention: bool) -> Self {
        let shape = ResnetShape { cin: ch, cout: ch, groups, eps: EPS, temb: None };
        MidBlock {
            resnet0: ResnetBlock2D::new(ws, &format!("{prefix}.resnets.0"), &shape),
            attention: attention.then(|| Attention::spatial(ws, &format!("{prefix}.attentions.0"), ch, groups, EPS)),
            resnet1: ResnetBlock2D::new(ws, &format!("{prefix}.resnets.1"), &shape),
        }
    }

    fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let mut h = self.resnet0.forward(x, None, tr)?;
        if let Some(a) = &self.attention {
            h = a.forward_spatial(&h, tr)?;
        }
        self.resnet1.forward(&h, None, tr)
    }
}

struct SampleBlock {
    resnets: Vec<ResnetBlock2D>,
    down: Option<Downsample2D>,
    up: Option<Upsample2D>,
}

impl SampleBlock {
    fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let mut h = x.clone();
        for r in &self.resnets {
            h = r.forward(&h, None, tr)?;
        }
        if let Some(d) = &self.down {
            h = d.forward(&h, tr)?;
        }
        if let Some(u) = &self.up {
            h = u.forward(&h, tr)?;
        }
        Ok(h)
    }
}

struct Coder {
    conv_in: Conv2d,
    blocks: Vec<SampleBlock>,
    mid: MidBlock,
    conv_norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl Coder {
    fn forward(&self, x: &Tensor, tr: &mut Tracer, mid_first: bool) -> Result<Tensor> {
        let mut h = self.conv_in.forward(x, tr)?;
        if mid_first {
            h = self.mid.forward(&h, tr)?;
        }
        for b in &self.blocks {
            h = b.forward(&h, tr)?;
        }
        if !mid_first {
            h = self.mid.forward(&h, tr)?;
        }
        let h = self.conv_norm_out.forward(&h, tr)?.silu()?;
        self.conv_out.forward(&h, tr)
    }
}

pub struct AutoencoderKL {
    encoder: Coder,
    decoder: Coder,
    quant_conv: Option<Conv2d>,
    post_quant_conv: Option<Conv2d>,
    pub config: VaeConfig,
    /// Probe names of the Linear/Conv modules.
    pub layers: Vec<String>,
}

impl AutoencoderKL {
    pub fn load(folder: &Path, device: &candle_core::Device, precision: &Precision, scope: &str) -> Result<Self> {
        let file = weight_file(folder)?;
        let config: VaeConfig = read_config(folder)?;
        let ws = WeightStore::open(&file, device, precision.clone(), scope)?;
        let mut model = Self::build(&ws, config, folder)?;
        ws.finish()?;
        model.layers = ws.layers();
        Ok(model)
    }

    fn build(ws: &WeightStore, config: VaeConfig, path: &Path) -> Result<Self> {
        let c = &config;
        let bad = |why: String| EngineError::Config { path: path.display().to_string(), why };
        let n = c.block_out_channels.len();
        if n > MAX_BLOCKS || c.layers_per_block == 0 || c.layers_per_block > MAX_LAYERS {
            return Err(bad("more blocks or layers per block than any AutoencoderKL has".into()));
        }
        if n == 0
            || c.block_out_channels
                .iter()
                .any(|&ch| ch == 0 || c.norm_num_groups == 0 || !ch.is_multiple_of(c.norm_num_groups))
        {
            return Err(bad("block_out_channels must be non-empty multiples of norm_num_groups".into()));
        }
        for t in c.down_block_types.iter().chain(&c.up_block_types) {
            if t != "DownEncoderBlock2D" && t != "UpDecoderBlock2D" {
                return Err(bad(format!("block type {t}")));
            }
        }
        let (g, lpb, lat) = (c.norm_num_groups, c.layers_per_block, c.latent_channels);
        let resnet = |p: String, cin, cout| {
            ResnetBlock2D::new(ws, &p, &ResnetShape { cin, cout, groups: g, eps: EPS, temb: None })
        };
        let mut blocks = Vec::new();
        let mut cout = c.block_out_channels[0];
        for i in 0..n {
            let cin = cout;
            cout = c.block_out_channels[i];
            let p = format!("encoder.down_blocks.{i}");
            blocks.push(SampleBlock {
                resnets: (0..lpb)
                    .map(|j| resnet(format!("{p}.resnets.{j}"), if j == 0 { cin } else { cout }, cout))
                    .collect(),
                down: (i + 1 < n).then(|| Downsample2D::new(ws, &format!("{p}.downsamplers.0"), cout, 0)),
                up: None,
            });
        }
        let top = c.block_out_channels[n - 1];
        let encoder = Coder {
            conv_in: Conv2d::new(ws, "encoder.conv_in", c.in_channels, c.block_out_channels[0], 3, 1, 1),
            blocks,
            mid: MidBlock::new(ws, "encoder.mid_block", top, g, c.mid_block_add_attention),
            conv_norm_out: GroupNorm::new(ws, "encoder.conv_norm_out", g, top, EPS),
            conv_out: Conv2d::new(ws, "encoder.conv_out", top, 2 * lat, 3, 1, 1),
        };
        let reversed: Vec<usize> = c.block_out_channels.iter().rev().copied().collect();
        let mut blocks = Vec::new();
        let mut out_ch = reversed[0];
        for (i, &ch) in reversed.iter().enumerate() {
            let prev = out_ch;
            out_ch = ch;
            let p = format!("decoder.up_blocks.{i}");
            blocks.push(SampleBlock {
                resnets: (0..=lpb)
                    .map(|j| resnet(format!("{p}.resnets.{j}"), if j == 0 { prev } else { out_ch }, out_ch))
                    .collect(),
                down: None,
                up: (i + 1 < n).then(|| Upsample2D::new(ws, &format!("{p}.upsamplers.0"), out_ch)),
            });
        }
        let ch0 = c.block_out_channels[0];
        let decoder = Coder {
            conv_in: Conv2d::new(ws, "decoder.conv_in", lat, top, 3, 1, 1),
            blocks,
            mid: MidBlock::new(ws, "decoder.mid_block", top, g, c.mid_block_add_attention),
            conv_norm_out: GroupNorm::new(ws, "decoder.conv_norm_out", g, ch0, EPS),
            conv_out: Conv2d::new(ws, "decoder.conv_out", ch0, c.out_channels, 3, 1, 1),
        };
        Ok(AutoencoderKL {
            encoder,
            decoder,
            quant_conv: c.use_quant_conv.then(|| Conv2d::new(ws, "quant_conv", 2 * lat, 2 * lat, 1, 1, 0)),
            post_quant_conv: c.use_post_quant_conv.then(|| Conv2d::new(ws, "post_quant_conv", lat, lat, 1, 1, 0)),
            config,
            layers: Vec::new(),
        })
    }

    /// Decodes unscaled latents (B, C, H, W) to images.
    pub fn decode(&self, latents: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let z = match &self.post_quant_conv {
            Some(conv) => conv.forward(latents, tr)?,
            None => latents.clone(),
        };
        self.decoder.forward(&z, tr, true)
    }

    /// Encodes images to the posterior's moments (mean ‖ logvar), as `quant_conv` returns them.
    pub fn encode_moments(&self, images: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let h = self.encoder.forward(images, tr, false)?;
        match &self.quant_conv {
            Some(conv) => conv.forward(&h, tr),
            None => Ok(h),
        }
    }
}
