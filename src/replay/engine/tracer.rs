//! Reports module outputs to a probe, with the run's context.
//!
//! Without a probe every call is a no-op, which is the baseline the probe
//! overhead is measured against. Input statistics come from a small cache
//! of recent outputs (a module's input is usually the previous module's
//! output), so most inputs cost nothing extra.

use candle_core::{DType as CDType, Tensor, TensorId};

use crate::numerics::DType;
use crate::trace::{Context, HostTensor, Observation, Probe, TensorSummary};

use super::error::{EngineError, Result};

/// How many recent output summaries are kept for reuse as input statistics.
const CACHE: usize = 16;

pub struct Tracer<'p> {
    probe: Option<&'p mut dyn Probe>,
    pub context: Context,
    recent: Vec<(TensorId, TensorSummary)>,
}

impl<'p> Tracer<'p> {
    pub fn new(probe: Option<&'p mut dyn Probe>) -> Self {
        Tracer { probe, context: Context::default(), recent: Vec::new() }
    }

    /// A tracer that records nothing.
    pub fn silent() -> Tracer<'static> {
        Tracer { probe: None, context: Context::default(), recent: Vec::new() }
    }

    /// Reports `output` of `module`, computed from `inputs`.
    pub fn observe(&mut self, module: &str, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
        self.report(module, inputs, output, false)
    }

    /// Reports a stage-boundary tensor (latents, model output, decoded frames).
    pub fn boundary(&mut self, module: &str, output: &Tensor) -> Result<()> {
        self.report(module, &[], output, true)
    }

    fn report(&mut self, module: &str, inputs: &[&Tensor], output: &Tensor, boundary: bool) -> Result<()> {
        if self.probe.is_none() {
            return Ok(());
        }
        let mut input_summaries = Vec::with_capacity(inputs.len());
        for input in inputs {
            let summary = match self.recent.iter().find(|(id, _)| *id == input.id()) {
                Some((_, s)) => s.clone(),
                None => host_summary(input)?.0,
            };
            input_summaries.push(summary);
        }
        let (summary, host) = host_summary(output)?;
        let wants = self.probe.as_ref().is_some_and(|p| p.wants_payload(boundary));
        let shape: Vec<u64> = output.dims().iter().map(|&d| d as u64).collect();
        let payload = wants.then(|| HostTensor { dtype: host.dtype(), shape: &shape, bytes: host.bytes() });
        let observation = Observation {
            context: &self.context,
            module,
            output_name: None,
            boundary,
            output: summary.clone(),
            inputs: (!boundary).then_some(input_summaries),
            payload,
        };
        if let Some(probe) = self.probe.as_mut() {
            probe.observe(observation)?;
        }
        if self.recent.len() == CACHE {
            self.recent.remove(0);
        }
        self.recent.push((output.id(), summary));
        Ok(())
    }

    pub fn finish(&mut self) -> Result<()> {
        match self.probe.as_mut() {
            Some(probe) => Ok(probe.finish()?),
            None => Ok(()),
        }
    }
}

/// A tensor's values on the host, in its own dtype.
pub enum HostBytes {
    F16(Vec<half::f16>),
    BF16(Vec<half::bf16>),
    F32(Vec<f32>),
}

impl HostBytes {
    pub fn dtype(&self) -> DType {
        match self {
            HostBytes::F16(_) => DType::F16,
            HostBytes::BF16(_) => DType::BF16,
            HostBytes::F32(_) => DType::F32,
        }
    }

    /// Little-endian bytes (the host is little-endian on every supported target).
    pub fn bytes(&self) -> &[u8] {
        match self {
            HostBytes::F16(v) => bytemuck::cast_slice(v),
            HostBytes::BF16(v) => bytemuck::cast_slice(v),
            HostBytes::F32(v) => bytemuck::cast_slice(v),
        }
    }
}

/// Copies a tensor to the host (once) and computes its statistics.
pub fn host_summary(t: &Tensor) -> Result<(TensorSummary, HostBytes)> {
    let flat = t.flatten_all()?;
    let host = match t.dtype() {
        CDType::F16 => HostBytes::F16(flat.to_vec1::<half::f16>()?),
        CDType::BF16 => HostBytes::BF16(flat.to_vec1::<half::bf16>()?),
        CDType::F32 => HostBytes::F32(flat.to_vec1::<f32>()?),
        _ => HostBytes::F32(flat.to_dtype(CDType::F32)?.to_vec1::<f32>()?),
    };
    let shape: Vec<u64> = t.dims().iter().map(|&d| d as u64).collect();
    let summary = HostTensor { dtype: host.dtype(), shape: &shape, bytes: host.bytes() }
        .summary()
        .map_err(|e| EngineError::Input(format!("statistics failed: {e}")))?;
    Ok((summary, host))
}
