//! Compute device and dtype selection.

use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

use super::error::Result;

/// Where the engine computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    #[default]
    Cpu,
    Cuda,
}

/// The device for `kind`; CUDA only when compiled in (feature `cuda`).
pub fn select_device(kind: DeviceKind) -> Result<Device> {
    match kind {
        DeviceKind::Cpu => Ok(Device::Cpu),
        DeviceKind::Cuda => cuda_device(),
    }
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device> {
    Ok(Device::new_cuda(0)?)
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device> {
    Err(super::error::EngineError::NoCuda)
}

/// The dtype activations and weights are computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDType {
    #[default]
    Fp32,
    Fp16,
    Bf16,
}

impl ComputeDType {
    pub fn candle(self) -> DType {
        match self {
            ComputeDType::Fp32 => DType::F32,
            ComputeDType::Fp16 => DType::F16,
            ComputeDType::Bf16 => DType::BF16,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ComputeDType::Fp32 => "fp32",
            ComputeDType::Fp16 => "fp16",
            ComputeDType::Bf16 => "bf16",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fp32" | "float32" => Some(ComputeDType::Fp32),
            "fp16" | "float16" => Some(ComputeDType::Fp16),
            "bf16" | "bfloat16" => Some(ComputeDType::Bf16),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_is_a_typed_error_without_the_feature() {
        let got = select_device(DeviceKind::Cuda);
        if cfg!(feature = "cuda") {
            return;
        }
        assert!(matches!(got, Err(super::super::error::EngineError::NoCuda)));
    }
}
