//! Attention modules: diffusers' `Attention` (self, cross and the VAE's
//! single-head spatial attention), `BasicTransformerBlock` with a GEGLU
//! feed-forward, and `Transformer2DModel`.

use candle_core::{D, DType, Tensor};

use super::error::Result;
use super::layers::{Conv2d, GroupNorm, LayerNorm, Linear, key, widened};
use super::tracer::Tracer;
use super::weights::WeightStore;

pub struct Attention {
    name: String,
    group_norm: Option<GroupNorm>,
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    /// Transformer attention: bias-free q/k/v, keys from `context_dim` when cross.
    pub fn new(ws: &WeightStore, prefix: &str, dim: usize, context_dim: usize, heads: usize, head_dim: usize) -> Self {
        let inner = heads * head_dim;
        Attention {
            name: ws.module_name(prefix),
            group_norm: None,
            to_q: Linear::new(ws, &key(prefix, "to_q"), dim, inner, false),
            to_k: Linear::new(ws, &key(prefix, "to_k"), context_dim, inner, false),
            to_v: Linear::new(ws, &key(prefix, "to_v"), context_dim, inner, false),
            to_out: Linear::new(ws, &key(prefix, "to_out.0"), inner, dim, true),
            heads,
            head_dim,
        }
    }

    /// The VAE mid-block attention: GroupNorm, biased q/k/v, one head, residual.
    pub fn spatial(ws: &WeightStore, prefix: &str, channels: usize, groups: usize, eps: f64) -> Self {
        Attention {
            name: ws.module_name(prefix),
            group_norm: Some(GroupNorm::new(ws, &key(prefix, "group_norm"), groups, channels, eps)),
            to_q: Linear::new(ws, &key(prefix, "to_q"), channels, channels, true),
            to_k: Linear::new(ws, &key(prefix, "to_k"), channels, channels, true),
            to_v: Linear::new(ws, &key(prefix, "to_v"), channels, channels, true),
            to_out: Linear::new(ws, &key(prefix, "to_out.0"), channels, channels, true),
            heads: 1,
            head_dim: channels,
        }
    }

    /// Attention over (B, N, C) tokens; `context` (B, M, C') for cross-attention.
    pub fn forward(&self, x: &Tensor, context: Option<&Tensor>, tr: &mut Tracer) -> Result<Tensor> {
        let ctx = context.unwrap_or(x);
        let q = self.to_q.forward(x, tr)?;
        let k = self.to_k.forward(ctx, tr)?;
        let v = self.to_v.forward(ctx, tr)?;
        let heads = |t: &Tensor| -> Result<Tensor> {
            let (b, n, _) = t.dims3()?;
            Ok(t.reshape((b, n, self.heads, self.head_dim))?.transpose(1, 2)?.contiguous()?)
        };
        let (q, k, v) = (heads(&q)?, heads(&k)?, heads(&v)?);
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let out = attend(&q, &k, &v, scale, score_budget(q.device()))?.transpose(1, 2)?;
        let (b, n, _, _) = out.dims4()?;
        let out = out.reshape((b, n, self.heads * self.head_dim))?;
        let y = self.to_out.forward(&out, tr)?;
        let mut inputs = vec![x];
        if let Some(c) = context {
            inputs.push(c);
        }
        tr.observe(&self.name, &inputs, &y)?;
        Ok(y)
    }

    /// The VAE form over (B, C, H, W), with its GroupNorm and residual.
    pub fn forward_spatial(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let normed = match &self.group_norm {
            Some(norm) => norm.forward(x, tr)?,
            None => x.clone(),
        };
        let tokens = normed.reshape((b, c, h * w))?.transpose(1, 2)?.contiguous()?;
        let q = self.to_q.forward(&tokens, tr)?;
        let k = self.to_k.forward(&tokens, tr)?;
        let v = self.to_v.forward(&tokens, tr)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let out = attend(&q.unsqueeze(1)?, &k.unsqueeze(1)?, &v.unsqueeze(1)?, scale, score_budget(q.device()))?.squeeze(1)?;
        let out = self.to_out.forward(&out, tr)?;
        let out = out.transpose(1, 2)?.reshape((b, c, h, w))?;
        let y = (out + x)?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

/// Most fp32 attention scores held at once. PyTorch's fused kernels never
/// hold the whole `queries × keys` matrix; at EchoMimicV2's 768×768 the
/// reference attention alone would need 9216 × 18432 scores per head and
/// frame, so queries are taken in slices that fit the budget. On the CPU,
/// 2^20 scores (4 MiB, as much again for the probabilities) keep a step's peak
/// at PyTorch's (reports/echomimic-replay.md) for no measurable time; a GPU
/// keeps larger slices, which launch fewer kernels.
fn score_budget(device: &candle_core::Device) -> usize {
    if device.is_cpu() { 1 << 20 } else { 1 << 22 }
}

/// `softmax(q·kᵀ·scale)·v` over `(b, heads, n, d)` queries and `(b, heads, m, d)`
/// keys and values, one sample at a time and in query slices of at most
/// `budget` scores. Each query row is computed as in one pass: scores and
/// softmax in fp32, as PyTorch's attention kernels accumulate.
fn attend(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64, budget: usize) -> Result<Tensor> {
    let (b, h, n, _) = q.dims4()?;
    let m = k.dim(2)?;
    let rows = (budget / h.saturating_mul(m).max(1)).max(1);
    // Keys transposed in fp32 once, not once per slice.
    let keys = k.to_dtype(DType::F32)?.t()?.contiguous()?;
    let one = |q: &Tensor, k: &Tensor, v: &Tensor| -> Result<Tensor> {
        // Scaling the queries, not the scores, keeps one score-sized tensor fewer.
        let scores = (q.to_dtype(DType::F32)? * scale)?.matmul(k)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?.to_dtype(v.dtype())?;
        Ok(widened(&probs, |p| p.matmul(&v.to_dtype(p.dtype())?))?)
    };
    if b.saturating_mul(n) <= rows {
        return one(q, &keys, v);
    }
    let mut samples = Vec::with_capacity(b);
    for i in 0..b {
        let (qi, ki, vi) = (q.narrow(0, i, 1)?, keys.narrow(0, i, 1)?, v.narrow(0, i, 1)?);
        let mut slices = Vec::with_capacity(n.div_ceil(rows));
        let mut start = 0;
        while start < n {
            let len = rows.min(n - start);
            slices.push(one(&qi.narrow(2, start, len)?.contiguous()?, &ki, &vi)?);
            start += len;
        }
        samples.push(Tensor::cat(&slices, 2)?);
    }
    Ok(Tensor::cat(&samples, 0)?)
}

/// `FeedForward` with GEGLU: `net.0.proj` doubles the width, `net.2` projects back.
pub(crate) struct FeedForward {
    name: String,
    proj: Linear,
    out: Linear,
}

impl FeedForward {
    pub(crate) fn new(ws: &WeightStore, prefix: &str, dim: usize) -> Self {
        let inner = dim * 4;
        FeedForward {
            name: ws.module_name(prefix),
            proj: Linear::new(ws, &key(prefix, "net.0.proj"), dim, inner * 2, true),
            out: Linear::new(ws, &key(prefix, "net.2"), inner, dim, true),
        }
    }

    pub(crate) fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let h = self.proj.forward(x, tr)?;
        let half = h.dim(D::Minus1)? / 2;
        let (hidden, gate) = (h.narrow(D::Minus1, 0, half)?, h.narrow(D::Minus1, half, half)?);
        let gated = (hidden * gate.gelu_erf()?)?;
        let y = self.out.forward(&gated, tr)?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

struct BasicTransformerBlock {
    name: String,
    norm1: LayerNorm,
    attn1: Attention,
    norm2: LayerNorm,
    attn2: Attention,
    norm3: LayerNorm,
    ff: FeedForward,
}

impl BasicTransformerBlock {
    fn new(ws: &WeightStore, prefix: &str, dim: usize, context_dim: usize, heads: usize) -> Self {
        let head_dim = dim / heads;
        BasicTransformerBlock {
            name: ws.module_name(prefix),
            norm1: LayerNorm::new(ws, &key(prefix, "norm1"), dim, 1e-5),
            attn1: Attention::new(ws, &key(prefix, "attn1"), dim, dim, heads, head_dim),
            norm2: LayerNorm::new(ws, &key(prefix, "norm2"), dim, 1e-5),
            attn2: Attention::new(ws, &key(prefix, "attn2"), dim, context_dim, heads, head_dim),
            norm3: LayerNorm::new(ws, &key(prefix, "norm3"), dim, 1e-5),
            ff: FeedForward::new(ws, &key(prefix, "ff"), dim),
        }
    }

    fn forward(&self, x: &Tensor, context: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let h = (self.attn1.forward(&self.norm1.forward(x, tr)?, None, tr)? + x)?;
        let h = (self.attn2.forward(&self.norm2.forward(&h, tr)?, Some(context), tr)? + h)?;
        let y = (self.ff.forward(&self.norm3.forward(&h, tr)?, tr)? + h)?;
        tr.observe(&self.name, &[x, context], &y)?;
        Ok(y)
    }
}

/// A transformer's `proj_in`/`proj_out`: a 1×1 convolution or, with
/// `use_linear_projection`, a linear layer.
pub(crate) enum Projection {
    Conv(Conv2d),
    Linear(Linear),
}

impl Projection {
    pub(crate) fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        match self {
            Projection::Conv(c) => c.forward(x, tr),
            Projection::Linear(l) => l.forward(x, tr),
        }
    }
}

/// What a `Transformer2DModel` needs from the UNet configuration.
pub struct TransformerShape {
    pub channels: usize,
    pub heads: usize,
    pub layers: usize,
    pub context_dim: usize,
    pub groups: usize,
    pub linear_projection: bool,
}

pub struct Transformer2DModel {
    name: String,
    norm: GroupNorm,
    proj_in: Projection,
    blocks: Vec<BasicTransformerBlock>,
    proj_out: Projection,
    linear: bool,
}

impl Transformer2DModel {
    pub fn new(ws: &WeightStore, prefix: &str, s: &TransformerShape) -> Self {
        let c = s.channels;
        let projection = |name: &str| {
            if s.linear_projection {
                Projection::Linear(Linear::new(ws, &key(prefix, name), c, c, true))
            } else {
                Projection::Conv(Conv2d::new(ws, &key(prefix, name), c, c, 1, 1, 0))
            }
        };
        Transformer2DModel {
            name: ws.module_name(prefix),
            norm: GroupNorm::new(ws, &key(prefix, "norm"), s.groups, c, 1e-6),
            proj_in: projection("proj_in"),
            blocks: (0..s.layers)
                .map(|i| {
                    BasicTransformerBlock::new(
                        ws,
                        &key(prefix, &format!("transformer_blocks.{i}")),
                        c,
                        s.context_dim,
                        s.heads,
                    )
                })
                .collect(),
            proj_out: projection("proj_out"),
            linear: s.linear_projection,
        }
    }

    pub fn forward(&self, x: &Tensor, context: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let normed = self.norm.forward(x, tr)?;
        let to_tokens = |t: &Tensor| -> Result<Tensor> { Ok(t.reshape((b, c, h * w))?.transpose(1, 2)?.contiguous()?) };
        let to_map = |t: &Tensor| -> Result<Tensor> { Ok(t.transpose(1, 2)?.contiguous()?.reshape((b, c, h, w))?) };
        let mut tokens = if self.linear {
            self.proj_in.forward(&to_tokens(&normed)?, tr)?
        } else {
            to_tokens(&self.proj_in.forward(&normed, tr)?)?
        };
        for block in &self.blocks {
            tokens = block.forward(&tokens, context, tr)?;
        }
        let out = if self.linear {
            to_map(&self.proj_out.forward(&tokens, tr)?)?
        } else {
            self.proj_out.forward(&to_map(&tokens)?, tr)?
        };
        let y = (out + x)?;
        tr.observe(&self.name, &[x, context], &y)?;
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn attention_in_query_slices_equals_one_pass() {
        let q = Tensor::randn(0f32, 1.0, (3, 2, 37, 8), &Device::Cpu).unwrap();
        let k = Tensor::randn(0f32, 1.0, (3, 2, 53, 8), &Device::Cpu).unwrap();
        let v = Tensor::randn(0f32, 1.0, (3, 2, 53, 8), &Device::Cpu).unwrap();
        let whole = attend(&q, &k, &v, 0.35, usize::MAX).unwrap();
        // 2 heads × 53 keys per query row: slices of 4 rows, the last one shorter.
        let sliced = attend(&q, &k, &v, 0.35, 2 * 53 * 4).unwrap();
        let err = (whole - sliced).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
        assert!(err.to_scalar::<f32>().unwrap() < 1e-6);
    }
}
