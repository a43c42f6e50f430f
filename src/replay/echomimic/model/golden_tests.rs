//! Agreement with EchoMimicV2's own PyTorch modules at fp32, on tiny random
//! configurations (`fixtures/replay/echomimic/make_goldens.py`).
//!
//! Both sides compute in fp32 with different summation orders; the bound is
//! the one the issue sets, and the measured errors are in
//! reports/echomimic-replay.md.

// The measured errors are printed (`--nocapture`) for the report.
#![allow(clippy::print_stderr)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::replay::engine::Precision;
use crate::replay::engine::tracer::Tracer;
use crate::replay::engine::weights::WeightStore;

use super::config::MotionConfig;
use super::motion::MotionModule;
use super::resnet3d::{Resnet3D, ResnetShape};
use super::transformer3d::{BankMode, Transformer3D, TransformerShape};
use super::*;

const TOLERANCE: f32 = 1e-4;

fn golden_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay/echomimic/goldens").join(format!("{name}.safetensors"))
}

fn golden(name: &str) -> (WeightStore, HashMap<String, Tensor>) {
    let file = golden_file(name);
    let tensors = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    let ws = WeightStore::open(&file, &Device::Cpu, Precision::default(), "").unwrap();
    (ws, tensors)
}

pub(super) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn check(what: &str, got: &Tensor, want: &Tensor) {
    let err = max_abs_diff(got, want);
    let scale = want.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    eprintln!("{what}: max abs error {err:e} (output max {scale})");
    assert!(err <= TOLERANCE, "{what}: max abs error {err}");
}

#[test]
fn motion_module_matches_the_reference() {
    let (ws, g) = golden("motion_module");
    let config = MotionConfig { heads: 8, layers: 1, attentions: 2, position_encoding: Some(32), dim_div: 1 };
    let module = MotionModule::new(&ws, "", 32, &config).unwrap();
    ws.finish().unwrap();
    let x = &g["golden.input"];
    let frames = x.dim(2).unwrap();
    let y = module.forward(&fold_frames(x).unwrap(), frames, &mut Tracer::silent()).unwrap();
    check("motion module", &unfold_frames(&y, frames).unwrap(), &g["golden.output"]);
}

#[test]
fn pose_encoder_matches_the_reference() {
    let (ws, g) = golden("pose_encoder");
    let config = PoseEncoderConfig {
        conditioning_embedding_channels: 32,
        conditioning_channels: 3,
        block_out_channels: vec![4, 8, 16, 16],
    };
    let encoder = PoseEncoder::new(&ws, "", &config).unwrap();
    ws.finish().unwrap();
    let x = &g["golden.input"];
    let frames = x.dim(2).unwrap();
    let y = encoder.forward(&fold_frames(x).unwrap(), &mut Tracer::silent()).unwrap();
    check("pose encoder", &unfold_frames(&y, frames).unwrap(), &g["golden.output"]);
}

/// The golden transformer reading its bank, with or without guidance,
/// against the reference output `want`.
fn transformer_reading_the_bank(guidance: bool, want: &str, what: &str) {
    let (ws, g) = golden("transformer_3d");
    let shape =
        TransformerShape { channels: 32, heads: 2, groups: 8, linear_projection: false, cross_attention_dim: Some(16) };
    let transformer = Transformer3D::new(&ws, "", "", &shape);
    ws.finish().unwrap();
    let x = &g["golden.input"];
    let frames = x.dim(2).unwrap();
    let banks = Banks([("transformer_blocks.0".to_string(), g["golden.bank"].clone())].into());
    let mut mode = BankMode::Read { banks: &banks, guidance, audio: Some(&g["golden.audio"]), audio_scale: 3.0 };
    let y = transformer.forward(&fold_frames(x).unwrap(), frames, &mut mode, &mut Tracer::silent()).unwrap();
    check(what, &unfold_frames(&y, frames).unwrap(), &g[want]);
}

#[test]
fn transformer_reading_the_bank_under_guidance_matches_the_reference() {
    transformer_reading_the_bank(true, "golden.output", "transformer 3d (reader, guidance)");
}

#[test]
fn transformer_reading_the_bank_without_guidance_matches_the_reference() {
    transformer_reading_the_bank(false, "golden.output_without_guidance", "transformer 3d (reader)");
}

#[test]
fn resnet_normalising_across_frames_matches_the_reference() {
    let (ws, g) = golden("resnet_3d");
    let shape =
        ResnetShape { cin: 16, cout: 32, groups: 8, eps: 1e-5, temb: 64, inflated: false, output_scale_factor: 1.0 };
    let resnet = Resnet3D::new(&ws, "", &shape);
    ws.finish().unwrap();
    let x = &g["golden.input"];
    let frames = x.dim(2).unwrap();
    let y = resnet.forward(&fold_frames(x).unwrap(), frames, &g["golden.temb"], &mut Tracer::silent()).unwrap();
    check("resnet 3d (GroupNorm across frames)", &unfold_frames(&y, frames).unwrap(), &g["golden.output"]);
}

fn golden_json(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay/echomimic/goldens").join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn unet_configs() -> (UnetConfig, UnetConfig) {
    let config_json = golden_json("unet_config.json");
    let additional: AdditionalKwargs = serde_json::from_value(golden_json("unet_additional_kwargs.json")).unwrap();
    (UnetConfig::reference(&config_json).unwrap(), UnetConfig::from_parts(&config_json, &additional).unwrap())
}

/// Both UNets of the golden file, in `precision`.
fn unets(precision: Precision) -> (EchoUnet, EchoUnet, HashMap<String, Tensor>) {
    let file = golden_file("unet");
    let g = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    let ws = WeightStore::open(&file, &Device::Cpu, precision, "").unwrap();
    let (reference_config, config) = unet_configs();
    let reference = EchoUnet::new(&ws, "reference_unet", &reference_config, Role::Reference).unwrap();
    let denoising = EchoUnet::new(&ws, "denoising_unet", &config, Role::Denoising).unwrap();
    ws.finish().unwrap();
    (reference, denoising, g)
}

/// Banks from the reference UNet, then one guided denoising step.
fn denoise(reference: &EchoUnet, denoising: &EchoUnet, g: &HashMap<String, Tensor>, tr: &mut Tracer) -> Tensor {
    let banks = reference.write_banks(&g["golden.ref_latents"], 0.0, tr).unwrap();
    let t = g["golden.timestep"].to_dtype(candle_core::DType::F32).unwrap().to_vec1::<f32>().unwrap()[0] as f64;
    let inputs = DenoiseInputs {
        timestep: t,
        pose: Some(&g["golden.pose"]),
        audio: Some(&g["golden.audio"]),
        banks: &banks,
        guidance: true,
    };
    denoising.forward(&g["golden.latents"], &inputs, tr).unwrap()
}

/// The reference UNet writes its banks at timestep 0, then the denoising
/// UNet runs one guided step reading them, with pose features and audio.
#[test]
fn reference_and_denoising_unets_match_the_reference() {
    let (reference, denoising, g) = unets(Precision::default());
    let banks = reference.write_banks(&g["golden.ref_latents"], 0.0, &mut Tracer::silent()).unwrap();
    let mut written: Vec<&String> = banks.0.keys().collect();
    let mut expected: Vec<String> =
        g.keys().filter_map(|k| k.strip_prefix("golden.bank.")).map(str::to_string).collect();
    written.sort();
    expected.sort();
    assert_eq!(written, expected.iter().collect::<Vec<_>>());
    for (slot, bank) in &banks.0 {
        check(&format!("bank {slot}"), bank, &g[&format!("golden.bank.{slot}")]);
    }
    let t = g["golden.timestep"].to_vec1::<f32>().unwrap()[0] as f64;
    let inputs = DenoiseInputs {
        timestep: t,
        pose: Some(&g["golden.pose"]),
        audio: Some(&g["golden.audio"]),
        banks: &banks,
        guidance: true,
    };
    let y = denoising.forward(&g["golden.latents"], &inputs, &mut Tracer::silent()).unwrap();
    check("denoising UNet", &y, &g["golden.output"]);
}

#[test]
fn the_unets_run_in_half_precision() {
    use crate::replay::engine::ComputeDType;
    for (dtype, bound) in [(ComputeDType::Fp16, 0.05f32), (ComputeDType::Bf16, 0.25)] {
        let (reference, denoising, g) = unets(Precision { dtype, ..Precision::default() });
        let cast: HashMap<String, Tensor> =
            g.iter().map(|(k, v)| (k.clone(), v.to_dtype(dtype.candle()).unwrap())).collect();
        let y =
            denoise(&reference, &denoising, &cast, &mut Tracer::silent()).to_dtype(candle_core::DType::F32).unwrap();
        let err = max_abs_diff(&y, &g["golden.output"]);
        eprintln!("denoising UNet in {dtype:?}: max abs error {err:e}");
        assert!(err < bound, "{dtype:?}: max abs error {err}");
    }
}

/// Records module names.
#[derive(Default)]
struct Names(Vec<String>);

impl crate::trace::Probe for Names {
    fn wants_payload(&self, _boundary: bool) -> bool {
        false
    }
    fn observe(&mut self, observation: crate::trace::Observation<'_>) -> Result<(), crate::trace::ProbeError> {
        self.0.push(observation.module.to_string());
        Ok(())
    }
    fn finish(&mut self) -> Result<(), crate::trace::ProbeError> {
        Ok(())
    }
}

#[test]
fn the_probe_sees_the_reference_module_names() {
    let (reference, denoising, g) = unets(Precision::default());
    let mut names = Names::default();
    denoise(&reference, &denoising, &g, &mut Tracer::new(Some(&mut names)));
    for name in [
        "reference_unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1",
        "denoising_unet.conv_in",
        "denoising_unet.down_blocks.0.resnets.0",
        "denoising_unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2",
        "denoising_unet.down_blocks.0.motion_modules.0",
        "denoising_unet.down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.1",
        "denoising_unet.mid_block.motion_modules.0",
        "denoising_unet.up_blocks.1.motion_modules.1.temporal_transformer.proj_out",
        "denoising_unet.conv_out",
    ] {
        assert!(names.0.iter().any(|n| n == name), "{name} not observed");
    }
    // Under guidance attn1 runs twice, once per half, as in the reference.
    let attn1 = "denoising_unet.mid_block.attentions.0.transformer_blocks.0.attn1";
    assert_eq!(names.0.iter().filter(|n| *n == attn1).count(), 2);
}

#[test]
fn a_missing_motion_module_is_a_weight_problem_not_a_unet_without_temporal_layers() {
    use crate::replay::engine::WeightProblem;
    let g = candle_core::safetensors::load(golden_file("unet"), &Device::Cpu).unwrap();
    let kept: HashMap<String, Tensor> = g
        .into_iter()
        .filter(|(k, _)| k.starts_with("denoising_unet.") && !k.contains("motion_modules"))
        .map(|(k, v)| (k["denoising_unet.".len()..].to_string(), v))
        .collect();
    let file = std::env::temp_dir().join(format!("nanscope-emv2-no-motion-{}.safetensors", std::process::id()));
    candle_core::safetensors::save(&kept, &file).unwrap();
    let ws = WeightStore::open(&file, &Device::Cpu, Precision::default(), "denoising_unet").unwrap();
    EchoUnet::new(&ws, "", &unet_configs().1, Role::Denoising).unwrap();
    let result = ws.finish();
    std::fs::remove_file(&file).ok();
    match result {
        Err(crate::replay::engine::EngineError::Weights { problems, .. }) => {
            assert!(!problems.is_empty());
            assert!(
                problems
                    .iter()
                    .all(|p| matches!(p, WeightProblem::Missing { tensor, .. } if tensor.contains(".motion_modules.")))
            );
        }
        other => panic!("expected missing motion-module weights, got {:?}", other.err()),
    }
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One guided step of the configuration `bench/echomimic_model.py` wrote
/// (which times the reference code on the same inputs and weights): time,
/// peak memory above the start (CPU only), and agreement with the
/// reference's output. `NANSCOPE_EMV2_DEVICE=cuda` (a build with the `cuda`
/// feature) and `NANSCOPE_EMV2_DTYPE=fp16|bf16` choose where and in what it
/// computes, as the script's `--device` and `--dtype` did.
#[test]
#[ignore = "needs NANSCOPE_EMV2_BENCH from bench/echomimic_model.py"]
fn bench_denoising_step() {
    use crate::replay::engine::{ComputeDType, DeviceKind, select_device};
    let Some(dir) = std::env::var_os("NANSCOPE_EMV2_BENCH").map(PathBuf::from) else { return };
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let kind = if env("NANSCOPE_EMV2_DEVICE") == "cuda" { DeviceKind::Cuda } else { DeviceKind::Cpu };
    let dtype = match env("NANSCOPE_EMV2_DTYPE").as_str() {
        "fp16" => ComputeDType::Fp16,
        "bf16" => ComputeDType::Bf16,
        _ => ComputeDType::Fp32,
    };
    let device = select_device(kind).unwrap();
    let read_json =
        |name: &str| -> serde_json::Value { serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap() };
    let file = dir.join("bench.safetensors");
    let ws = WeightStore::open(&file, &device, Precision { dtype, ..Precision::default() }, "").unwrap();
    // Only the golden inputs are read here: the file also holds 4 GB of weights.
    // SAFETY: the bench file is not modified while the test runs.
    let mapped = unsafe { candle_core::safetensors::MmapedSafetensors::new(&file) }.unwrap();
    let g: HashMap<String, Tensor> = mapped
        .tensors()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("golden."))
        .map(|k| {
            let v = mapped.load(&k, &Device::Cpu).unwrap();
            (k, v.to_dtype(dtype.candle()).unwrap().to_device(&device).unwrap())
        })
        .collect();
    let config_json = read_json("unet_config.json");
    let additional: AdditionalKwargs = serde_json::from_value(read_json("unet_additional_kwargs.json")).unwrap();
    let reference =
        EchoUnet::new(&ws, "reference_unet", &UnetConfig::reference(&config_json).unwrap(), Role::Reference).unwrap();
    let config = UnetConfig::from_parts(&config_json, &additional).unwrap();
    let denoising = EchoUnet::new(&ws, "denoising_unet", &config, Role::Denoising).unwrap();
    ws.finish().unwrap();
    let want = candle_core::safetensors::load(dir.join("output.safetensors"), &Device::Cpu).unwrap();
    let want = want["golden.output"].to_dtype(candle_core::DType::F32).unwrap();
    let scale = want.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    let runs = env("NANSCOPE_EMV2_RUNS").parse().unwrap_or(2);
    for run in 0..runs {
        std::fs::write("/proc/self/clear_refs", "5").ok();
        let before = status_kib("VmRSS");
        let start = std::time::Instant::now();
        let y = denoise(&reference, &denoising, &g, &mut Tracer::silent());
        device.synchronize().unwrap();
        let seconds = start.elapsed().as_secs_f64();
        let peak = status_kib("VmHWM").saturating_sub(before);
        let y = y.to_device(&Device::Cpu).unwrap().to_dtype(candle_core::DType::F32).unwrap();
        let err = max_abs_diff(&y, &want);
        let memory = match kind {
            DeviceKind::Cpu => format!(", peak above start {:.1} MiB", peak as f64 / 1024.0),
            DeviceKind::Cuda => String::new(),
        };
        eprintln!("run {run} ({kind:?}, {dtype:?}): {seconds:.3} s{memory}, max abs error {err:e} (output max {scale})");
    }
}
