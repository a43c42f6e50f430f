//! EchoMimicV2's two UNets on one skeleton:
//!
//! - the denoising UNet (`EMOUNet3DConditionModel`): per-frame ResNet and
//!   transformer blocks over folded frames, a motion module after each layer
//!   where the configuration puts one, pose features added after `conv_in`,
//!   transformers reading the reference banks and the audio features;
//! - the reference UNet (EchoMimicV2's `UNet2DConditionModel`): the same
//!   layout over one frame, without motion modules, cross-attention or output
//!   convolutions, run to fill the banks.

use candle_core::{DType, Device, Tensor};

use crate::replay::engine::error::{EngineError, Result};
use crate::replay::engine::layers::{Conv2d, Linear};
use crate::replay::engine::resnet::{Downsample2D, Upsample2D};
use crate::replay::engine::tracer::Tracer;
use crate::replay::engine::weights::WeightStore;

use super::config::UnetConfig;
use super::motion::{MotionModule, fold_frames, unfold_frames};
use super::resnet3d::{FrameNorm, Resnet3D, ResnetShape};
use super::transformer3d::{BankMode, Banks, Transformer3D, TransformerShape};

/// Which of the two UNets a skeleton is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Reference,
    Denoising,
}

/// One layer of a block: a ResNet, then a transformer and a motion module
/// where the block has them.
struct Layer {
    resnet: Resnet3D,
    attention: Option<Transformer3D>,
    motion: Option<MotionModule>,
}

struct DownBlock {
    layers: Vec<Layer>,
    down: Option<Downsample2D>,
}

struct UpBlock {
    layers: Vec<Layer>,
    up: Option<Upsample2D>,
}

/// `UNetMidBlock3DCrossAttn`: a ResNet, then transformer, motion module and ResNet.
struct MidBlock {
    first: Resnet3D,
    attention: Transformer3D,
    motion: Option<MotionModule>,
    second: Resnet3D,
}

/// Inputs of one denoising-UNet forward pass beyond the latents.
pub(crate) struct DenoiseInputs<'a> {
    pub(crate) timestep: f64,
    /// Pose-encoder features `(b, C, f, h, w)`, added after `conv_in`.
    pub(crate) pose: Option<&'a Tensor>,
    /// Audio features `(b, f, n, c)` or `(b, f, c)`.
    pub(crate) audio: Option<&'a Tensor>,
    pub(crate) banks: &'a Banks,
    /// Whether the batch is `[unconditional ; conditional]`.
    pub(crate) guidance: bool,
}

pub(crate) struct EchoUnet {
    role: Role,
    time_channels: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    audio_scale: f64,
    linear_1: Linear,
    linear_2: Linear,
    conv_in: Conv2d,
    down: Vec<DownBlock>,
    mid: MidBlock,
    up: Vec<UpBlock>,
    /// `conv_norm_out` and `conv_out` (the reference UNet has neither).
    out: Option<(FrameNorm, Conv2d)>,
    dtype: DType,
    device: Device,
}

fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() { path.to_string() } else { format!("{prefix}.{path}") }
}

impl EchoUnet {
    /// Builds the UNet with its weights under `prefix` (empty when the store
    /// holds this UNet alone). Every weight is requested from the store,
    /// which records the missing ones.
    pub(crate) fn new(ws: &WeightStore, prefix: &str, c: &UnetConfig, role: Role) -> Result<Self> {
        let denoising = role == Role::Denoising;
        let blocks = c.block_out_channels.len();
        let ch0 = c.block_out_channels[0];
        let temb = ch0 * 4;
        let inflated = denoising && c.use_inflated_groupnorm;
        let resnet = |path: &str, cin, cout, scale| {
            Resnet3D::new(
                ws,
                &join(prefix, path),
                &ResnetShape {
                    cin,
                    cout,
                    groups: c.norm_num_groups,
                    eps: c.norm_eps,
                    temb,
                    inflated,
                    output_scale_factor: scale,
                },
            )
        };
        let transformer = |path: &str, channels, heads| {
            Transformer3D::new(
                ws,
                &join(prefix, path),
                path,
                &TransformerShape {
                    channels,
                    heads,
                    groups: c.norm_num_groups,
                    linear_projection: c.use_linear_projection,
                    cross_attention_dim: denoising.then_some(c.cross_attention_dim),
                },
            )
        };
        let motion = |path: &str, channels, wanted: bool| -> Result<Option<MotionModule>> {
            match c.motion.as_ref().filter(|_| denoising && wanted) {
                Some(config) => Ok(Some(MotionModule::new(ws, &join(prefix, path), channels, config)?)),
                None => Ok(None),
            }
        };
        let mut down = Vec::new();
        let mut cout = ch0;
        for i in 0..blocks {
            let cin = cout;
            cout = c.block_out_channels[i];
            let p = format!("down_blocks.{i}");
            let layers = (0..c.layers_per_block)
                .map(|j| {
                    Ok(Layer {
                        resnet: resnet(&format!("{p}.resnets.{j}"), if j == 0 { cin } else { cout }, cout, 1.0),
                        attention: c.down_attention[i]
                            .then(|| transformer(&format!("{p}.attentions.{j}"), cout, c.heads[i])),
                        motion: motion(&format!("{p}.motion_modules.{j}"), cout, c.down_motion(i))?,
                    })
                })
                .collect::<Result<_>>()?;
            let down_sample = (i + 1 < blocks).then(|| {
                Downsample2D::new(ws, &join(prefix, &format!("{p}.downsamplers.0")), cout, c.downsample_padding)
            });
            down.push(DownBlock { layers, down: down_sample });
        }
        let top = c.block_out_channels[blocks - 1];
        let scale = c.mid_block_scale_factor;
        let mid = MidBlock {
            first: resnet("mid_block.resnets.0", top, top, scale),
            attention: transformer("mid_block.attentions.0", top, c.heads[blocks - 1]),
            motion: motion("mid_block.motion_modules.0", top, c.mid_motion())?,
            second: resnet("mid_block.resnets.1", top, top, scale),
        };
        let reversed: Vec<usize> = c.block_out_channels.iter().rev().copied().collect();
        let mut up = Vec::new();
        let mut out_ch = reversed[0];
        for i in 0..blocks {
            let prev = out_ch;
            out_ch = reversed[i];
            let input = reversed[(i + 1).min(blocks - 1)];
            let n = c.layers_per_block + 1;
            let p = format!("up_blocks.{i}");
            let heads = c.heads[blocks - 1 - i];
            let layers = (0..n)
                .map(|j| {
                    let skip = if j + 1 == n { input } else { out_ch };
                    let rin = if j == 0 { prev } else { out_ch };
                    Ok(Layer {
                        resnet: resnet(&format!("{p}.resnets.{j}"), rin + skip, out_ch, 1.0),
                        attention: c.up_attention[i]
                            .then(|| transformer(&format!("{p}.attentions.{j}"), out_ch, heads)),
                        motion: motion(&format!("{p}.motion_modules.{j}"), out_ch, c.up_motion(i))?,
                    })
                })
                .collect::<Result<_>>()?;
            let up_sample =
                (i + 1 < blocks).then(|| Upsample2D::new(ws, &join(prefix, &format!("{p}.upsamplers.0")), out_ch));
            up.push(UpBlock { layers, up: up_sample });
        }
        let out = denoising.then(|| {
            (
                FrameNorm::new(ws, &join(prefix, "conv_norm_out"), c.norm_num_groups, ch0, c.norm_eps, inflated),
                Conv2d::new(ws, &join(prefix, "conv_out"), ch0, c.out_channels, 3, 1, 1),
            )
        });
        Ok(EchoUnet {
            role,
            time_channels: ch0,
            flip_sin_to_cos: c.flip_sin_to_cos,
            freq_shift: c.freq_shift,
            audio_scale: c.audio_scale,
            linear_1: Linear::new(ws, &join(prefix, "time_embedding.linear_1"), ch0, temb, true),
            linear_2: Linear::new(ws, &join(prefix, "time_embedding.linear_2"), temb, temb, true),
            conv_in: Conv2d::new(ws, &join(prefix, "conv_in"), c.in_channels, ch0, 3, 1, 1),
            down,
            mid,
            up,
            out,
            dtype: ws.precision().dtype.candle(),
            device: ws.device().clone(),
        })
    }

    /// Sinusoidal timestep features (`Timesteps`), in fp32, then the compute dtype.
    fn time_features(&self, timestep: f64, batch: usize) -> Result<Tensor> {
        let half = self.time_channels / 2;
        let denom = half as f32 - self.freq_shift as f32;
        let freqs: Vec<f32> = (0..half)
            .map(|i| {
                let exponent = -(10000f32.ln()) * i as f32 / denom;
                timestep as f32 * exponent.exp()
            })
            .collect();
        let (sin, cos): (Vec<f32>, Vec<f32>) = freqs.iter().map(|a| (a.sin(), a.cos())).unzip();
        let row = if self.flip_sin_to_cos { [cos, sin].concat() } else { [sin, cos].concat() };
        let t = Tensor::from_vec(row, (1, self.time_channels), &self.device)?;
        Ok(t.broadcast_as((batch, self.time_channels))?.contiguous()?.to_dtype(self.dtype)?)
    }

    fn embedding(&self, timestep: f64, batch: usize, tr: &mut Tracer) -> Result<Tensor> {
        let features = self.time_features(timestep, batch)?;
        self.linear_2.forward(&self.linear_1.forward(&features, tr)?.silu()?, tr)
    }

    /// Runs the reference UNet on `(b, c, h, w)` latents and returns its banks
    /// (the reference runs it at timestep 0).
    pub(crate) fn write_banks(&self, latents: &Tensor, timestep: f64, tr: &mut Tracer) -> Result<Banks> {
        if self.role != Role::Reference {
            return Err(EngineError::Input("only the reference UNet writes banks".into()));
        }
        let mut banks = Banks::default();
        let emb = self.embedding(timestep, latents.dim(0)?, tr)?;
        self.body(latents, 1, &emb, None, &mut BankMode::Write(&mut banks), tr)?;
        Ok(banks)
    }

    /// One denoising-UNet forward pass on `(b, c, f, h, w)` latents; returns
    /// the model output in the same layout.
    pub(crate) fn forward(&self, sample: &Tensor, inputs: &DenoiseInputs<'_>, tr: &mut Tracer) -> Result<Tensor> {
        if self.role != Role::Denoising {
            return Err(EngineError::Input("the reference UNet has no denoising output".into()));
        }
        let (b, _, frames, h, w) = sample.dims5()?;
        let factor = 1usize << self.up.len().saturating_sub(1).min(16);
        if !h.is_multiple_of(factor) || !w.is_multiple_of(factor) {
            return Err(EngineError::Input(format!("latents of {h}×{w} are not a multiple of {factor}")));
        }
        let emb = self.embedding(inputs.timestep, b, tr)?;
        let pose = inputs.pose.map(fold_frames).transpose()?;
        let mut mode = BankMode::Read {
            banks: inputs.banks,
            guidance: inputs.guidance,
            audio: inputs.audio,
            audio_scale: self.audio_scale,
        };
        let y = self.body(&fold_frames(sample)?, frames, &emb, pose.as_ref(), &mut mode, tr)?;
        unfold_frames(&y, frames)
    }

    fn layer(
        &self,
        layer: &Layer,
        h: &Tensor,
        frames: usize,
        emb: &Tensor,
        mode: &mut BankMode<'_>,
        tr: &mut Tracer,
    ) -> Result<Tensor> {
        let mut h = layer.resnet.forward(h, frames, emb, tr)?;
        if let Some(a) = &layer.attention {
            h = a.forward(&h, frames, mode, tr)?;
        }
        if let Some(m) = &layer.motion {
            h = m.forward(&h, frames, tr)?;
        }
        Ok(h)
    }

    /// The UNet over folded frames.
    fn body(
        &self,
        x: &Tensor,
        frames: usize,
        emb: &Tensor,
        pose: Option<&Tensor>,
        mode: &mut BankMode<'_>,
        tr: &mut Tracer,
    ) -> Result<Tensor> {
        let mut h = self.conv_in.forward(x, tr)?;
        if let Some(pose) = pose {
            h = h.broadcast_add(&pose.to_dtype(h.dtype())?)?;
        }
        let mut skips = vec![h.clone()];
        for block in &self.down {
            for layer in &block.layers {
                h = self.layer(layer, &h, frames, emb, mode, tr)?;
                skips.push(h.clone());
            }
            if let Some(d) = &block.down {
                h = d.forward(&h, tr)?;
                skips.push(h.clone());
            }
        }
        h = self.mid.first.forward(&h, frames, emb, tr)?;
        h = self.mid.attention.forward(&h, frames, mode, tr)?;
        if let Some(m) = &self.mid.motion {
            h = m.forward(&h, frames, tr)?;
        }
        h = self.mid.second.forward(&h, frames, emb, tr)?;
        for block in &self.up {
            for layer in &block.layers {
                let skip = skips.pop().ok_or_else(|| EngineError::Input("skip connections ran out".into()))?;
                h = self.layer(layer, &Tensor::cat(&[&h, &skip], 1)?, frames, emb, mode, tr)?;
            }
            if let Some(u) = &block.up {
                h = u.forward(&h, tr)?;
            }
        }
        match &self.out {
            Some((norm, conv)) => {
                let h = norm.forward(&h, frames, tr)?.silu()?;
                conv.forward(&h, tr)
            }
            None => Ok(h),
        }
    }
}
