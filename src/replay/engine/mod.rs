//! The built-in candle engine: diffusers' `UNet2DConditionModel` and
//! `AutoencoderKL` rebuilt module by module, each module carrying its
//! diffusers name and reporting its output to a [`Tracer`].
//!
//! Weights load from diffusers folders unchanged. Activations stay in the
//! compute dtype (fp16 overflows to Inf as in PyTorch); only the reductions
//! PyTorch also runs in fp32 (GroupNorm, LayerNorm, softmax) are upcast.

pub(crate) mod attention;
mod device;
pub(crate) mod error;
pub(crate) mod layers;
mod precision;
pub(crate) mod resnet;
pub(crate) mod tracer;
mod unet;
mod vae;
pub(crate) mod weights;

pub use device::{ComputeDType, DeviceKind, select_device};
pub use error::EngineError;
pub use precision::Precision;
pub use tracer::Tracer;
pub use unet::{UNet2DConditionModel, UNetConfig};
pub use vae::{AutoencoderKL, VaeConfig};
pub use weights::{WeightProblem, WeightStore};

#[cfg(test)]
mod golden_tests;
