//! `UNet2DConditionModel` for the SD-family block types.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::Deserialize;
use serde_json::Value;

use super::attention::{Transformer2DModel, TransformerShape};
use super::error::{EngineError, Result};
use super::layers::{Conv2d, GroupNorm, Linear};
use super::precision::Precision;
use super::resnet::{Downsample2D, ResnetBlock2D, ResnetShape, Upsample2D};
use super::tracer::Tracer;
use super::weights::{WeightStore, weight_file};

/// Bounds on configuration counts, far above any real model, so a crafted
/// `config.json` cannot make the engine build millions of modules.
pub const MAX_BLOCKS: usize = 16;
pub const MAX_LAYERS: usize = 64;

/// The `config.json` fields the engine reads, with diffusers' defaults.
#[derive(Debug, Clone, Deserialize)]
pub struct UNetConfig {
    #[serde(default = "four")]
    pub in_channels: usize,
    #[serde(default = "four")]
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    #[serde(default = "mid_default")]
    pub mid_block_type: Option<String>,
    #[serde(default = "two")]
    pub layers_per_block: usize,
    #[serde(default = "groups_default")]
    pub norm_num_groups: usize,
    #[serde(default = "eps_default")]
    pub norm_eps: f64,
    pub cross_attention_dim: usize,
    #[serde(default)]
    pub attention_head_dim: Option<Value>,
    #[serde(default)]
    pub num_attention_heads: Option<Value>,
    #[serde(default)]
    pub use_linear_projection: bool,
    #[serde(default)]
    pub transformer_layers_per_block: Option<Value>,
    #[serde(default = "yes")]
    pub flip_sin_to_cos: bool,
    #[serde(default)]
    pub freq_shift: f64,
    #[serde(default)]
    pub class_embed_type: Option<String>,
    #[serde(default)]
    pub addition_embed_type: Option<String>,
    #[serde(default)]
    pub time_cond_proj_dim: Option<usize>,
    #[serde(default = "one")]
    pub downsample_padding: usize,
}

fn four() -> usize {
    4
}
fn two() -> usize {
    2
}
fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn groups_default() -> usize {
    32
}
fn eps_default() -> f64 {
    1e-5
}
fn mid_default() -> Option<String> {
    Some("UNetMidBlock2DCrossAttn".into())
}

/// A per-block setting given as one number or one per block.
fn per_block(value: &Option<Value>, blocks: usize, fallback: usize) -> std::result::Result<Vec<usize>, String> {
    match value {
        None | Some(Value::Null) => Ok(vec![fallback; blocks]),
        Some(Value::Number(n)) => {
            n.as_u64().map(|v| vec![v as usize; blocks]).ok_or_else(|| format!("{n} is not a count"))
        }
        Some(Value::Array(items)) if items.len() == blocks => {
            items.iter().map(|v| v.as_u64().map(|v| v as usize).ok_or_else(|| format!("{v} is not a count"))).collect()
        }
        Some(other) => Err(format!("{other} does not give one value per block")),
    }
}

pub fn read_config<T: serde::de::DeserializeOwned>(folder: &Path) -> Result<T> {
    let path = if folder.is_dir() { folder.join("config.json") } else { folder.with_file_name("config.json") };
    let text =
        std::fs::read(&path).map_err(|e| EngineError::Read { path: path.display().to_string(), why: e.to_string() })?;
    // diffusers' save_config writes NaN and ±Infinity bare; read them as Python does.
    crate::formats::lenient_serde::from_slice(&text)
        .map_err(|e| EngineError::Read { path: path.display().to_string(), why: e.to_string() })
}

enum DownBlock {
    Plain { resnets: Vec<ResnetBlock2D>, down: Option<Downsample2D> },
    CrossAttn { resnets: Vec<ResnetBlock2D>, attentions: Vec<Transformer2DModel>, down: Option<Downsample2D> },
}

struct UpBlock {
    resnets: Vec<ResnetBlock2D>,
    attentions: Vec<Transformer2DModel>,
    up: Option<Upsample2D>,
}

pub struct UNet2DConditionModel {
    time_channels: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    linear_1: Linear,
    linear_2: Linear,
    conv_in: Conv2d,
    down: Vec<DownBlock>,
    mid: (ResnetBlock2D, Transformer2DModel, ResnetBlock2D),
    up: Vec<UpBlock>,
    conv_norm_out: GroupNorm,
    conv_out: Conv2d,
    pub config: UNetConfig,
    /// Probe names of the Linear/Conv modules.
    pub layers: Vec<String>,
    dtype: DType,
    device: Device,
}

fn unsupported(path: &Path, why: impl Into<String>) -> EngineError {
    EngineError::Config { path: path.display().to_string(), why: why.into() }
}

impl UNet2DConditionModel {
    /// Loads a diffusers UNet folder; every weight problem is listed in one error.
    pub fn load(folder: &Path, device: &Device, precision: &Precision, scope: &str) -> Result<Self> {
        let file = weight_file(folder)?;
        let config: UNetConfig = read_config(folder)?;
        let ws = WeightStore::open(&file, device, precision.clone(), scope)?;
        let mut model = Self::build(&ws, config, folder)?;
        ws.finish()?;
        model.layers = ws.layers();
        Ok(model)
    }

    fn build(ws: &WeightStore, config: UNetConfig, path: &Path) -> Result<Self> {
        let c = &config;
        let blocks = c.block_out_channels.len();
        if blocks > MAX_BLOCKS || c.layers_per_block == 0 || c.layers_per_block > MAX_LAYERS {
            return Err(unsupported(path, "more blocks or layers per block than any SD-family UNet has"));
        }
        if blocks == 0 || c.down_block_types.len() != blocks || c.up_block_types.len() != blocks {
            return Err(unsupported(path, "block_out_channels, down_block_types and up_block_types differ in length"));
        }
        for (what, v) in [("class_embed_type", &c.class_embed_type), ("addition_embed_type", &c.addition_embed_type)] {
            if let Some(v) = v {
                return Err(unsupported(path, format!("{what} = {v}")));
            }
        }
        if c.time_cond_proj_dim.is_some() {
            return Err(unsupported(path, "time_cond_proj_dim"));
        }
        if c.mid_block_type.as_deref() != Some("UNetMidBlock2DCrossAttn") {
            return Err(unsupported(path, format!("mid_block_type {:?}", c.mid_block_type)));
        }
        if c.block_out_channels
            .iter()
            .any(|&ch| ch == 0 || c.norm_num_groups == 0 || !ch.is_multiple_of(c.norm_num_groups))
        {
            return Err(unsupported(path, "block_out_channels must be multiples of norm_num_groups"));
        }
        // diffusers' naming quirk: `attention_head_dim` is the head count when
        // `num_attention_heads` is unset.
        let heads_value = if c.num_attention_heads.as_ref().is_some_and(|v| !v.is_null()) {
            &c.num_attention_heads
        } else {
            &c.attention_head_dim
        };
        let heads =
            per_block(heads_value, blocks, 8).map_err(|e| unsupported(path, format!("attention heads: {e}")))?;
        let layers = per_block(&c.transformer_layers_per_block, blocks, 1)
            .map_err(|e| unsupported(path, format!("transformer_layers_per_block: {e}")))?;
        if layers.iter().any(|&l| l == 0 || l > MAX_LAYERS) {
            return Err(unsupported(path, "transformer_layers_per_block out of range"));
        }
        for (i, &h) in heads.iter().enumerate() {
            if h == 0 || !c.block_out_channels[i].is_multiple_of(h) {
                return Err(unsupported(
                    path,
                    format!("block {i}: {} channels over {h} heads", c.block_out_channels[i]),
                ));
            }
        }
        let ch0 = c.block_out_channels[0];
        let temb = ch0 * 4;
        let (groups, eps) = (c.norm_num_groups, c.norm_eps);
        let resnet = |ws: &WeightStore, prefix: String, cin, cout| {
            ResnetBlock2D::new(ws, &prefix, &ResnetShape { cin, cout, groups, eps, temb: Some(temb) })
        };
        let transformer = |ws: &WeightStore, prefix: String, channels, i: usize| {
            Transformer2DModel::new(
                ws,
                &prefix,
                &TransformerShape {
                    channels,
                    heads: heads[i],
                    layers: layers[i],
                    context_dim: c.cross_attention_dim,
                    groups,
                    linear_projection: c.use_linear_projection,
                },
            )
        };
        let mut down = Vec::new();
        let mut cout = ch0;
        for (i, kind) in c.down_block_types.iter().enumerate() {
            let cin = cout;
            cout = c.block_out_channels[i];
            let last = i + 1 == blocks;
            let p = format!("down_blocks.{i}");
            let resnets = (0..c.layers_per_block)
                .map(|j| resnet(ws, format!("{p}.resnets.{j}"), if j == 0 { cin } else { cout }, cout))
                .collect();
            let down_sample = (!last)
                .then(|| Downsample2D::new(ws, &format!("{p}.downsamplers.0"), cout, c.downsample_padding.max(1)));
            down.push(match kind.as_str() {
                "DownBlock2D" => DownBlock::Plain { resnets, down: down_sample },
                "CrossAttnDownBlock2D" => DownBlock::CrossAttn {
                    resnets,
                    attentions: (0..c.layers_per_block)
                        .map(|j| transformer(ws, format!("{p}.attentions.{j}"), cout, i))
                        .collect(),
                    down: down_sample,
                },
                other => return Err(unsupported(path, format!("down block type {other}"))),
            });
        }
        let top = *c.block_out_channels.last().unwrap_or(&ch0);
        let mid = (
            resnet(ws, "mid_block.resnets.0".into(), top, top),
            transformer(ws, "mid_block.attentions.0".into(), top, blocks - 1),
            resnet(ws, "mid_block.resnets.1".into(), top, top),
        );
        let reversed: Vec<usize> = c.block_out_channels.iter().rev().copied().collect();
        let mut up = Vec::new();
        let mut out_ch = reversed[0];
        for (i, kind) in c.up_block_types.iter().enumerate() {
            let prev = out_ch;
            out_ch = reversed[i];
            let input = reversed[(i + 1).min(blocks - 1)];
            let last = i + 1 == blocks;
            let n = c.layers_per_block + 1;
            let p = format!("up_blocks.{i}");
            let resnets = (0..n)
                .map(|j| {
                    let skip = if j + 1 == n { input } else { out_ch };
                    let rin = if j == 0 { prev } else { out_ch };
                    resnet(ws, format!("{p}.resnets.{j}"), rin + skip, out_ch)
                })
                .collect();
            let attentions = match kind.as_str() {
                "UpBlock2D" => Vec::new(),
                "CrossAttnUpBlock2D" => {
                    (0..n).map(|j| transformer(ws, format!("{p}.attentions.{j}"), out_ch, blocks - 1 - i)).collect()
                }
                other => return Err(unsupported(path, format!("up block type {other}"))),
            };
            let up_sample = (!last).then(|| Upsample2D::new(ws, &format!("{p}.upsamplers.0"), out_ch));
            up.push(UpBlock { resnets, attentions, up: up_sample });
        }
        Ok(UNet2DConditionModel {
            time_channels: ch0,
            flip_sin_to_cos: c.flip_sin_to_cos,
            freq_shift: c.freq_shift,
            linear_1: Linear::new(ws, "time_embedding.linear_1", ch0, temb, true),
            linear_2: Linear::new(ws, "time_embedding.linear_2", temb, temb, true),
            conv_in: Conv2d::new(ws, "conv_in", c.in_channels, ch0, 3, 1, 1),
            down,
            mid,
            up,
            conv_norm_out: GroupNorm::new(ws, "conv_norm_out", groups, ch0, eps),
            conv_out: Conv2d::new(ws, "conv_out", ch0, c.out_channels, 3, 1, 1),
            dtype: ws.precision().dtype.candle(),
            device: ws.device().clone(),
            config,
            layers: Vec::new(),
        })
    }

    /// Sinusoidal timestep features (`Timesteps`), computed in fp32.
    fn time_features(&self, timestep: f64, batch: usize) -> Result<Tensor> {
        let half = self.time_channels / 2;
        let denom = half as f64 - self.freq_shift;
        let freqs: Vec<f32> = (0..half)
            .map(|i| {
                let exponent = (-(10000f64.ln()) * i as f64 / denom) as f32;
                (timestep as f32) * exponent.exp()
            })
            .collect();
        let (sin, cos): (Vec<f32>, Vec<f32>) = freqs.iter().map(|a| (a.sin(), a.cos())).unzip();
        let row = if self.flip_sin_to_cos { [cos, sin].concat() } else { [sin, cos].concat() };
        let t = Tensor::from_vec(row, (1, self.time_channels), &self.device)?;
        Ok(t.broadcast_as((batch, self.time_channels))?.contiguous()?.to_dtype(self.dtype)?)
    }

    /// One forward pass: `sample` (B, C, H, W), `context` (B, L, D).
    pub fn forward(&self, sample: &Tensor, timestep: f64, context: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let batch = sample.dim(0)?;
        let features = self.time_features(timestep, batch)?;
        let emb = self.linear_2.forward(&self.linear_1.forward(&features, tr)?.silu()?, tr)?;
        let mut h = self.conv_in.forward(sample, tr)?;
        let mut skips = vec![h.clone()];
        for block in &self.down {
            match block {
                DownBlock::Plain { resnets, down } => {
                    for r in resnets {
                        h = r.forward(&h, Some(&emb), tr)?;
                        skips.push(h.clone());
                    }
                    if let Some(d) = down {
                        h = d.forward(&h, tr)?;
                        skips.push(h.clone());
                    }
                }
                DownBlock::CrossAttn { resnets, attentions, down } => {
                    for (r, a) in resnets.iter().zip(attentions) {
                        h = r.forward(&h, Some(&emb), tr)?;
                        h = a.forward(&h, context, tr)?;
                        skips.push(h.clone());
                    }
                    if let Some(d) = down {
                        h = d.forward(&h, tr)?;
                        skips.push(h.clone());
                    }
                }
            }
        }
        h = self.mid.0.forward(&h, Some(&emb), tr)?;
        h = self.mid.1.forward(&h, context, tr)?;
        h = self.mid.2.forward(&h, Some(&emb), tr)?;
        for block in &self.up {
            for (j, r) in block.resnets.iter().enumerate() {
                let skip = skips.pop().ok_or_else(|| EngineError::Input("skip connections ran out".into()))?;
                h = r.forward(&Tensor::cat(&[&h, &skip], 1)?, Some(&emb), tr)?;
                if let Some(a) = block.attentions.get(j) {
                    h = a.forward(&h, context, tr)?;
                }
            }
            if let Some(u) = &block.up {
                h = u.forward(&h, tr)?;
            }
        }
        let h = self.conv_norm_out.forward(&h, tr)?.silu()?;
        let y = self.conv_out.forward(&h, tr)?;
        Ok(y)
    }
}
