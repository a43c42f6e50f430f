//! Agreement with diffusers 0.42 at fp32 on tiny random configurations
//! (`fixtures/make_replay_goldens.py`).
//!
//! Tolerance: both sides compute in fp32 with different summation orders
//! (im2col + gemm against oneDNN); measured max abs errors are about 2e-6
//! on outputs of magnitude 1–10, and the bound is ten times that.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

use super::{AutoencoderKL, Precision, Tracer, UNet2DConditionModel};

const TOLERANCE: f32 = 2e-5;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay")
}

fn goldens() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixtures().join("goldens.safetensors"), &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn check_unet(name: &str) {
    let g = goldens();
    let unet = UNet2DConditionModel::load(&fixtures().join(name), &Device::Cpu, &Precision::default(), "unet").unwrap();
    let t = g[&format!("{name}.timestep")].to_vec1::<f32>().unwrap()[0];
    let y = unet
        .forward(
            &g[&format!("{name}.sample")],
            t as f64,
            &g[&format!("{name}.encoder_hidden_states")],
            &mut Tracer::silent(),
        )
        .unwrap();
    let err = max_abs_diff(&y, &g[&format!("{name}.output")]);
    assert!(err < TOLERANCE, "{name}: max abs error {err}");
}

#[test]
fn unet_matches_diffusers() {
    check_unet("tiny-unet");
}

#[test]
fn unet_with_linear_projection_matches_diffusers() {
    check_unet("tiny-unet-linear");
}

#[test]
fn vae_decode_and_encode_match_diffusers() {
    let g = goldens();
    let vae = AutoencoderKL::load(&fixtures().join("tiny-vae"), &Device::Cpu, &Precision::default(), "vae").unwrap();
    let decoded = vae.decode(&g["vae.latents"], &mut Tracer::silent()).unwrap();
    let err = max_abs_diff(&decoded, &g["vae.decoded"]);
    assert!(err < TOLERANCE, "decode: max abs error {err}");
    let moments = vae.encode_moments(&g["vae.image"], &mut Tracer::silent()).unwrap();
    let err = max_abs_diff(&moments, &g["vae.moments"]);
    assert!(err < TOLERANCE, "encode: max abs error {err}");
}
