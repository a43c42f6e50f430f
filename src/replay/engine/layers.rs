//! Leaf modules: Conv2d, Linear, GroupNorm, LayerNorm.
//!
//! Each holds its full probe name and reports its output. Conv and Linear
//! compute in their weight's dtype: a module the precision plan keeps in
//! fp32 casts its input up and its output back to the compute dtype, as
//! PyTorch autocast does.

use candle_core::{D, DType, Tensor};

use super::error::Result;
use super::tracer::Tracer;
use super::weights::WeightStore;

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// `prefix.name` for weight keys.
pub fn key(prefix: &str, name: &str) -> String {
    join(prefix, name)
}

/// candle's CPU backend has no bf16 matmul or conv; PyTorch accumulates
/// bf16 products in fp32 and rounds the result, which is what this does.
pub fn widened(x: &Tensor, f: impl FnOnce(&Tensor) -> candle_core::Result<Tensor>) -> candle_core::Result<Tensor> {
    if x.dtype() == DType::BF16 && x.device().is_cpu() {
        f(&x.to_dtype(DType::F32)?)?.to_dtype(DType::BF16)
    } else {
        f(x)
    }
}

fn run_in(weight: &Tensor, x: &Tensor, f: impl FnOnce(&Tensor) -> candle_core::Result<Tensor>) -> Result<Tensor> {
    let out_dtype = x.dtype();
    if weight.dtype() == out_dtype {
        return Ok(f(x)?);
    }
    Ok(f(&x.to_dtype(weight.dtype())?)?.to_dtype(out_dtype)?)
}

pub struct Conv2d {
    pub name: String,
    weight: Tensor,
    bias: Option<Tensor>,
    stride: usize,
    padding: usize,
}

impl Conv2d {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ws: &WeightStore,
        key: &str,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        let weight = ws.get(key, "weight", &[cout, cin, kernel, kernel], true);
        let bias = Some(ws.get(key, "bias", &[cout], false));
        Conv2d { name: ws.module_name(key), weight, bias, stride, padding }
    }

    pub fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let y = run_in(&self.weight, x, |x| {
            let y = widened(x, |x| x.conv2d(&self.weight.to_dtype(x.dtype())?, self.padding, self.stride, 1, 1))?;
            match &self.bias {
                Some(b) => y.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?),
                None => Ok(y),
            }
        })?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

pub struct Linear {
    pub name: String,
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    pub fn new(ws: &WeightStore, key: &str, fin: usize, fout: usize, bias: bool) -> Self {
        let weight = ws.get(key, "weight", &[fout, fin], true);
        let bias = bias.then(|| ws.get(key, "bias", &[fout], false));
        Linear { name: ws.module_name(key), weight, bias }
    }

    /// `x · Wᵀ + b` over the last dimension of a 2-D or 3-D input.
    pub fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let y = run_in(&self.weight, x, |x| {
            let y = widened(x, |x| {
                let w = self.weight.to_dtype(x.dtype())?.t()?;
                if x.rank() == 3 { x.broadcast_matmul(&w) } else { x.matmul(&w) }
            })?;
            match &self.bias {
                Some(b) => y.broadcast_add(b),
                None => Ok(y),
            }
        })?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

/// GroupNorm over (B, C, …), reduced in fp32 like PyTorch's kernels.
pub struct GroupNorm {
    pub name: String,
    weight: Tensor,
    bias: Tensor,
    groups: usize,
    eps: f64,
}

impl GroupNorm {
    pub fn new(ws: &WeightStore, key: &str, groups: usize, channels: usize, eps: f64) -> Self {
        let weight = ws.get(key, "weight", &[channels], false);
        let bias = ws.get(key, "bias", &[channels], false);
        GroupNorm { name: ws.module_name(key), weight, bias, groups, eps }
    }

    pub fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let (b, c) = (dims[0], dims[1]);
        let xf = x.to_dtype(DType::F32)?.reshape((b, self.groups, ()))?;
        let mean = xf.mean_keepdim(D::Minus1)?;
        let centered = xf.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?.reshape(dims.as_slice())?;
        let mut shape = vec![1usize; dims.len()];
        shape[1] = c;
        let w = self.weight.to_dtype(DType::F32)?.reshape(shape.as_slice())?;
        let bias = self.bias.to_dtype(DType::F32)?.reshape(shape.as_slice())?;
        let y = normed.broadcast_mul(&w)?.broadcast_add(&bias)?.to_dtype(x.dtype())?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}

/// LayerNorm over the last dimension, reduced in fp32.
pub struct LayerNorm {
    pub name: String,
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn new(ws: &WeightStore, key: &str, dim: usize, eps: f64) -> Self {
        let weight = ws.get(key, "weight", &[dim], false);
        let bias = ws.get(key, "bias", &[dim], false);
        LayerNorm { name: ws.module_name(key), weight, bias, eps }
    }

    pub fn forward(&self, x: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let xf = x.to_dtype(DType::F32)?;
        let mean = xf.mean_keepdim(D::Minus1)?;
        let centered = xf.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        let y = normed
            .broadcast_mul(&self.weight.to_dtype(DType::F32)?)?
            .broadcast_add(&self.bias.to_dtype(DType::F32)?)?
            .to_dtype(x.dtype())?;
        tr.observe(&self.name, &[x], &y)?;
        Ok(y)
    }
}
