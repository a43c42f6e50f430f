//! The probe: how an engine reports what its modules computed.
//!
//! An engine (the built-in candle replay, a libtorch backend, a test) calls
//! [`Probe::observe`] once per module output, in execution order. Backends
//! that compute statistics on their device pass them ready-made in a
//! [`TensorSummary`]; CPU backends can use [`HostTensor::summary`]. The
//! tensor bytes are only copied to the host when [`Probe::wants_payload`]
//! says the dump keeps them, so the `stats` level costs one reduction pass.

use crate::numerics::{ByteOrder, DType, StatsError, TargetDType, tensor_stats};

use super::record::{Context, Payload, Record, RecordStats, TensorSummary, headroom};

/// A contiguous row-major little-endian tensor in host memory.
#[derive(Debug, Clone, Copy)]
pub struct HostTensor<'a> {
    pub dtype: DType,
    pub shape: &'a [u64],
    pub bytes: &'a [u8],
}

impl HostTensor<'_> {
    /// Statistics with the contract's names, computed by nanscope's kernels.
    pub fn summary(&self) -> Result<TensorSummary, StatsError> {
        let stats = tensor_stats(self.dtype, self.bytes, ByteOrder::Little, TargetDType::None)?;
        Ok(TensorSummary {
            dtype: self.dtype.name().to_string(),
            shape: self.shape.to_vec(),
            stats: Some(RecordStats::from(&stats)),
        })
    }
}

/// One module output as an engine saw it.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub context: &'a Context,
    /// Dotted diffusers-style module name.
    pub module: &'a str,
    /// Element of a tuple or dict output, if the output has several.
    pub output_name: Option<&'a str>,
    /// Stage-boundary tensor (latents, model output, decoded frames).
    pub boundary: bool,
    pub output: TensorSummary,
    /// The inputs' statistics taken before the module ran, when known.
    pub inputs: Option<Vec<TensorSummary>>,
    /// The output tensor, when `wants_payload` asked for it.
    pub payload: Option<HostTensor<'a>>,
}

impl Observation<'_> {
    /// The record this observation becomes at position `seq`.
    pub fn to_record(&self, seq: u64, payload: Option<Payload>) -> Record {
        let absmax = self.output.stats.as_ref().and_then(|s| s.absmax);
        let mut record = Record {
            seq,
            module: self.module.to_string(),
            output: self.output_name.map(str::to_string),
            boundary: self.boundary,
            headroom: DType::from_safetensors(&self.output.dtype).and_then(|d| headroom(d, absmax)),
            dtype: self.output.dtype.clone(),
            shape: self.output.shape.clone(),
            stats: self.output.stats.clone(),
            inputs: self.inputs.clone(),
            payload,
            ..Record::default()
        };
        record.set_context(self.context);
        record
    }
}

/// Why a probe could not record an observation.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("failed to write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("payload of {module} is inconsistent: {why}")]
    Payload { module: String, why: String },
}

/// Receives every module output of a run, in execution order.
pub trait Probe {
    /// Whether the output tensor should be handed over as a payload.
    fn wants_payload(&self, boundary: bool) -> bool;
    /// Records one module output.
    fn observe(&mut self, observation: Observation<'_>) -> Result<(), ProbeError>;
    /// Completes the dump; no observation follows.
    fn finish(&mut self) -> Result<(), ProbeError>;
}
