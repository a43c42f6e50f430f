//! The motion module (`VanillaTemporalModule`): a transformer whose
//! attention runs across frames, separately at every spatial position, with
//! sinusoidal position encoding of the frame index. A NaN in one frame
//! reaches every frame of the window here.

use candle_core::{Device, Tensor};

use crate::replay::engine::attention::{Attention, FeedForward};
use crate::replay::engine::error::{EngineError, Result};
use crate::replay::engine::layers::{GroupNorm, LayerNorm, Linear, key};
use crate::replay::engine::tracer::Tracer;
use crate::replay::engine::weights::WeightStore;

use super::config::MotionConfig;

/// `PositionalEncoding`: `pe[p, 2i] = sin(p·w_i)`, `pe[p, 2i+1] = cos(p·w_i)`,
/// `w_i = exp(-2i·ln(10000)/d)`, computed in fp32 as PyTorch does.
fn position_encoding(max_len: usize, dim: usize, device: &Device) -> Result<Tensor> {
    let mut pe = vec![0f32; max_len * dim];
    let step = -(10000f32.ln()) / dim as f32;
    for p in 0..max_len {
        for i in (0..dim).step_by(2) {
            let angle = p as f32 * ((i as f32) * step).exp();
            pe[p * dim + i] = angle.sin();
            if i + 1 < dim {
                pe[p * dim + i + 1] = angle.cos();
            }
        }
    }
    Ok(Tensor::from_vec(pe, (max_len, dim), device)?)
}

/// One `VersatileAttention` in `Temporal` mode with its pre-norm.
struct TemporalAttention {
    norm: LayerNorm,
    attention: Attention,
}

struct TemporalTransformerBlock {
    name: String,
    attentions: Vec<TemporalAttention>,
    ff_norm: LayerNorm,
    ff: FeedForward,
}

pub(crate) struct MotionModule {
    name: String,
    norm: GroupNorm,
    proj_in: Linear,
    blocks: Vec<TemporalTransformerBlock>,
    proj_out: Linear,
    /// `(max_len, inner)` when position encoding is on.
    pe: Option<Tensor>,
}

impl MotionModule {
    /// `prefix` names the module (`…motion_modules.0`); its weights sit under
    /// `prefix.temporal_transformer`.
    pub(crate) fn new(ws: &WeightStore, prefix: &str, channels: usize, c: &MotionConfig) -> Result<Self> {
        let head_dim = channels / c.heads / c.dim_div;
        let inner = c.heads * head_dim;
        let t = key(prefix, "temporal_transformer");
        let blocks = (0..c.layers)
            .map(|i| {
                let b = key(&t, &format!("transformer_blocks.{i}"));
                TemporalTransformerBlock {
                    name: ws.module_name(&b),
                    attentions: (0..c.attentions)
                        .map(|j| TemporalAttention {
                            norm: LayerNorm::new(ws, &key(&b, &format!("norms.{j}")), inner, 1e-5),
                            attention: Attention::new(
                                ws,
                                &key(&b, &format!("attention_blocks.{j}")),
                                inner,
                                inner,
                                c.heads,
                                head_dim,
                            ),
                        })
                        .collect(),
                    ff_norm: LayerNorm::new(ws, &key(&b, "ff_norm"), inner, 1e-5),
                    ff: FeedForward::new(ws, &key(&b, "ff"), inner),
                }
            })
            .collect();
        let pe = match c.position_encoding {
            Some(max_len) => Some(position_encoding(max_len, inner, ws.device())?),
            None => None,
        };
        Ok(MotionModule {
            name: ws.module_name(prefix),
            norm: GroupNorm::new(ws, &key(&t, "norm"), 32, channels, 1e-6),
            proj_in: Linear::new(ws, &key(&t, "proj_in"), channels, inner, true),
            blocks,
            proj_out: Linear::new(ws, &key(&t, "proj_out"), inner, channels, true),
            pe,
        })
    }

    /// `x` is `(b·f, c, h, w)`, frames inner; attention mixes the `frames`
    /// rows of each sample at each position.
    pub(crate) fn forward(&self, x: &Tensor, frames: usize, tr: &mut Tracer) -> Result<Tensor> {
        let (bf, c, h, w) = x.dims4()?;
        if frames == 0 || !bf.is_multiple_of(frames) {
            return Err(EngineError::Input(format!("{bf} rows are not whole samples of {frames} frames")));
        }
        let batch = bf / frames;
        let positions = h * w;
        let normed = self.norm.forward(x, tr)?;
        let tokens = normed.permute((0, 2, 3, 1))?.reshape((bf, positions, c))?;
        let mut hidden = self.proj_in.forward(&tokens, tr)?;
        let inner = hidden.dim(2)?;
        let pe = match &self.pe {
            Some(pe) => {
                if frames > pe.dim(0)? {
                    return Err(EngineError::Input(format!(
                        "{frames} frames exceed the motion module's position encoding ({} frames)",
                        pe.dim(0)?
                    )));
                }
                Some(pe.narrow(0, 0, frames)?.to_dtype(hidden.dtype())?.unsqueeze(0)?)
            }
            None => None,
        };
        // (b f) d c -> (b d) f c and back.
        let to_time = |t: &Tensor| -> Result<Tensor> {
            Ok(t.reshape((batch, frames, positions, inner))?.transpose(1, 2)?.contiguous()?.reshape((
                batch * positions,
                frames,
                inner,
            ))?)
        };
        let from_time = |t: &Tensor| -> Result<Tensor> {
            Ok(t.reshape((batch, positions, frames, inner))?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((bf, positions, inner))?)
        };
        for block in &self.blocks {
            let block_in = hidden.clone();
            for a in &block.attentions {
                let mut seq = to_time(&a.norm.forward(&hidden, tr)?)?;
                if let Some(pe) = &pe {
                    seq = seq.broadcast_add(pe)?;
                }
                let out = from_time(&a.attention.forward(&seq, None, tr)?)?;
                hidden = (out + hidden)?;
            }
            hidden = (block.ff.forward(&block.ff_norm.forward(&hidden, tr)?, tr)? + hidden)?;
            tr.observe(&block.name, &[&block_in], &hidden)?;
        }
        let out = self.proj_out.forward(&hidden, tr)?;
        let out = out.reshape((bf, h, w, c))?.permute((0, 3, 1, 2))?.contiguous()?;
        let y = (out + x)?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

/// `b c f h w` → `(b f) c h w`.
pub(crate) fn fold_frames(x: &Tensor) -> Result<Tensor> {
    let (b, c, f, h, w) = x.dims5()?;
    Ok(x.permute((0, 2, 1, 3, 4))?.contiguous()?.reshape((b * f, c, h, w))?)
}

/// `(b f) c h w` → `b c f h w`.
pub(crate) fn unfold_frames(x: &Tensor, frames: usize) -> Result<Tensor> {
    let (bf, c, h, w) = x.dims4()?;
    if frames == 0 || !bf.is_multiple_of(frames) {
        return Err(EngineError::Input(format!("{bf} rows are not whole samples of {frames} frames")));
    }
    Ok(x.reshape((bf / frames, frames, c, h, w))?.permute((0, 2, 1, 3, 4))?.contiguous()?)
}
