//! `Transformer3DModel` and its blocks under EchoMimicV2's reference-attention
//! hook (`ReferenceAttentionControl`, fusion `full`):
//!
//! - writer (the reference UNet, run once at timestep 0): each block records
//!   its `norm1` tokens in the bank, self-attends, and skips cross-attention;
//! - reader (the denoising UNet): `attn1` attends over `[own tokens ; bank]`
//!   (the bank repeated for every frame); under classifier-free guidance the
//!   unconditional half of the batch attends over its own tokens only. Then
//!   `attn2` attends over the frame's audio features, scaled by the
//!   `audio_feature_ratio` (3.0), and the feed-forward.
//!
//! Banks are keyed by the block's path inside its UNet
//! (`up_blocks.1.attentions.0.transformer_blocks.0`). The reference pairs
//! reader and writer blocks by sorting both lists by width, which pairs
//! blocks of the same path when both UNets share their block layout, as the
//! reference and denoising UNets built from one 2-D config do.

use std::collections::BTreeMap;

use candle_core::Tensor;

use crate::replay::engine::attention::{Attention, FeedForward, Projection};
use crate::replay::engine::error::{EngineError, Result};
use crate::replay::engine::layers::{Conv2d, GroupNorm, LayerNorm, Linear, key};
use crate::replay::engine::tracer::Tracer;
use crate::replay::engine::weights::WeightStore;

/// The reference UNet's attention banks: block path → `(batch, tokens, channels)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Banks(pub(crate) BTreeMap<String, Tensor>);

/// How the transformer blocks use the banks in one forward pass.
pub(crate) enum BankMode<'a> {
    /// The reference UNet records its banks.
    Write(&'a mut Banks),
    /// The denoising UNet reads them.
    Read {
        banks: &'a Banks,
        /// Classifier-free guidance: the first half of the batch is the
        /// unconditional branch and does not see the banks.
        guidance: bool,
        /// Per-frame audio features `(b, f, n, c)` or `(b, f, c)`.
        audio: Option<&'a Tensor>,
        /// The factor on the audio cross-attention.
        audio_scale: f64,
    },
}

struct TransformerBlock {
    name: String,
    /// The bank key: the block's path inside its UNet.
    slot: String,
    norm1: LayerNorm,
    attn1: Attention,
    /// `norm2` and the audio cross-attention `attn2` (denoising UNet only).
    cross: Option<(LayerNorm, Attention)>,
    norm3: LayerNorm,
    ff: FeedForward,
}

/// A bank `(B, L, C)` as rows for `rows` tokens sequences of `frames` frames:
/// each sample's bank repeated for its frames, or one bank for all rows.
fn bank_rows(bank: &Tensor, rows: usize, frames: usize) -> Result<Tensor> {
    let (b, l, c) = bank.dims3()?;
    let samples = rows / frames.max(1);
    if b == 1 {
        return Ok(bank.broadcast_as((rows, l, c))?.contiguous()?);
    }
    if b != samples {
        return Err(EngineError::Input(format!("a bank of {b} samples for {samples} samples")));
    }
    Ok(bank.unsqueeze(1)?.broadcast_as((b, frames, l, c))?.contiguous()?.reshape((rows, l, c))?)
}

impl TransformerBlock {
    fn forward(
        &self,
        x: &Tensor,
        frames: usize,
        mode: &mut BankMode<'_>,
        audio: Option<&Tensor>,
        tr: &mut Tracer,
    ) -> Result<Tensor> {
        let normed = self.norm1.forward(x, tr)?;
        let mut h = match mode {
            BankMode::Write(banks) => {
                banks.0.insert(self.slot.clone(), normed.clone());
                (self.attn1.forward(&normed, None, tr)? + x)?
            }
            BankMode::Read { banks, guidance, .. } => {
                let attended = match banks.0.get(&self.slot) {
                    None => self.attn1.forward(&normed, None, tr)?,
                    Some(bank) => {
                        let rows = normed.dim(0)?;
                        let bank = bank_rows(bank, rows, frames)?.to_dtype(normed.dtype())?;
                        if *guidance {
                            if !rows.is_multiple_of(2 * frames.max(1)) {
                                return Err(EngineError::Input(
                                    "classifier-free guidance needs an even batch (unconditional, conditional)".into(),
                                ));
                            }
                            let half = rows / 2;
                            let uncond = self.attn1.forward(&normed.narrow(0, 0, half)?, None, tr)?;
                            let own = normed.narrow(0, half, half)?;
                            let context = Tensor::cat(&[&own, &bank.narrow(0, half, half)?], 1)?;
                            let cond = self.attn1.forward(&own, Some(&context), tr)?;
                            Tensor::cat(&[&uncond, &cond], 0)?
                        } else {
                            let context = Tensor::cat(&[&normed, &bank], 1)?;
                            self.attn1.forward(&normed, Some(&context), tr)?
                        }
                    }
                };
                (attended + x)?
            }
        };
        if let (BankMode::Read { audio_scale, .. }, Some((norm2, attn2))) = (&*mode, &self.cross)
            && *audio_scale > 0.0
        {
            let audio = audio.ok_or_else(|| EngineError::Input("the denoising UNet needs audio features".into()))?;
            let heard = attn2.forward(&norm2.forward(&h, tr)?, Some(audio), tr)?;
            h = ((heard * *audio_scale)? + h)?;
        }
        let y = (self.ff.forward(&self.norm3.forward(&h, tr)?, tr)? + h)?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

/// What a transformer needs from the UNet configuration.
pub(crate) struct TransformerShape {
    pub(crate) channels: usize,
    pub(crate) heads: usize,
    pub(crate) groups: usize,
    pub(crate) linear_projection: bool,
    /// `Some(width)` of the audio features when blocks carry `attn2`.
    pub(crate) cross_attention_dim: Option<usize>,
}

/// `Transformer3DModel` (and the reference UNet's `Transformer2DModel`,
/// which is the same over one frame), one block deep.
pub(crate) struct Transformer3D {
    name: String,
    norm: GroupNorm,
    proj_in: Projection,
    blocks: Vec<TransformerBlock>,
    proj_out: Projection,
    linear: bool,
}

impl Transformer3D {
    /// `prefix` is the weight key, `path` the same position inside the UNet
    /// (the bank key of its blocks).
    pub(crate) fn new(ws: &WeightStore, prefix: &str, path: &str, s: &TransformerShape) -> Self {
        let c = s.channels;
        let head_dim = c / s.heads;
        let projection = |name: &str| {
            if s.linear_projection {
                Projection::Linear(Linear::new(ws, &key(prefix, name), c, c, true))
            } else {
                Projection::Conv(Conv2d::new(ws, &key(prefix, name), c, c, 1, 1, 0))
            }
        };
        let b = key(prefix, "transformer_blocks.0");
        let block = TransformerBlock {
            name: ws.module_name(&b),
            slot: key(path, "transformer_blocks.0"),
            norm1: LayerNorm::new(ws, &key(&b, "norm1"), c, 1e-5),
            attn1: Attention::new(ws, &key(&b, "attn1"), c, c, s.heads, head_dim),
            cross: s.cross_attention_dim.map(|dim| {
                (
                    LayerNorm::new(ws, &key(&b, "norm2"), c, 1e-5),
                    Attention::new(ws, &key(&b, "attn2"), c, dim, s.heads, head_dim),
                )
            }),
            norm3: LayerNorm::new(ws, &key(&b, "norm3"), c, 1e-5),
            ff: FeedForward::new(ws, &key(&b, "ff"), c),
        };
        Transformer3D {
            name: ws.module_name(prefix),
            norm: GroupNorm::new(ws, &key(prefix, "norm"), s.groups, c, 1e-6),
            proj_in: projection("proj_in"),
            blocks: vec![block],
            proj_out: projection("proj_out"),
            linear: s.linear_projection,
        }
    }

    /// `x` folded `(b·f, c, h, w)`.
    pub(crate) fn forward(
        &self,
        x: &Tensor,
        frames: usize,
        mode: &mut BankMode<'_>,
        tr: &mut Tracer,
    ) -> Result<Tensor> {
        let (bf, c, h, w) = x.dims4()?;
        let audio = match mode {
            BankMode::Read { audio: Some(a), .. } => Some(audio_rows(a, bf)?),
            _ => None,
        };
        let normed = self.norm.forward(x, tr)?;
        let to_tokens = |t: &Tensor| -> Result<Tensor> { Ok(t.permute((0, 2, 3, 1))?.reshape((bf, h * w, c))?) };
        let to_map =
            |t: &Tensor| -> Result<Tensor> { Ok(t.reshape((bf, h, w, c))?.permute((0, 3, 1, 2))?.contiguous()?) };
        let mut tokens = if self.linear {
            self.proj_in.forward(&to_tokens(&normed)?, tr)?
        } else {
            to_tokens(&self.proj_in.forward(&normed, tr)?)?
        };
        for block in &self.blocks {
            tokens = block.forward(&tokens, frames, mode, audio.as_ref(), tr)?;
        }
        let out = if self.linear {
            to_map(&self.proj_out.forward(&tokens, tr)?)?
        } else {
            self.proj_out.forward(&to_map(&tokens)?, tr)?
        };
        let y = (out + x)?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

/// Audio features as one row per frame: `(b, f, n, c)` → `(b·f, n, c)`,
/// `(b, f, c)` → `(b·f, 1, c)`; rows already per frame pass unchanged.
fn audio_rows(audio: &Tensor, rows: usize) -> Result<Tensor> {
    let dims = audio.dims();
    if dims.first() == Some(&rows) && dims.len() == 3 {
        return Ok(audio.clone());
    }
    let per_frame = match *dims {
        [b, f, c] if b * f == rows => audio.reshape((rows, 1, c))?,
        [b, f, n, c] if b * f == rows => audio.reshape((rows, n, c))?,
        _ => {
            return Err(EngineError::Input(format!(
                "audio features of shape {dims:?} do not give one row per frame for {rows} frames"
            )));
        }
    };
    Ok(per_frame)
}
