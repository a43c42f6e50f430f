//! EchoMimicV2's networks on the candle engine: the pose encoder, the
//! reference UNet (2-D, writing its attention banks) and the denoising UNet
//! (3-D: inflated ResNet and transformer blocks reading the banks, audio
//! cross-attention, and a motion module after each block).
//!
//! Every module carries the name the reference code gives it, so the probe,
//! dumps and trace analysis read these runs as they read the 2-D engine's.
//! Activations between modules are folded `(b·f, c, h, w)`, frames inner, as
//! the reference's `rearrange("b c f h w -> (b f) c h w")` does.

pub(crate) mod config;
mod motion;
mod pose_encoder;
mod resnet3d;
mod transformer3d;
mod unet;

pub(crate) use config::{AdditionalKwargs, UnetConfig, UnsupportedConfig};
pub(crate) use motion::{fold_frames, unfold_frames};
pub(crate) use pose_encoder::{PoseEncoder, PoseEncoderConfig};
pub(crate) use transformer3d::Banks;
pub(crate) use unet::{DenoiseInputs, EchoUnet, Role};

#[cfg(test)]
mod golden_tests;
