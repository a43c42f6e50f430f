//! The bridge from EchoMimicV2's weights as shipped to a running
//! generation: every `.pth` file is a [`TensorSource`] for the engine's
//! [`WeightStore`], the models are built from the inflated configuration,
//! the key report of the denoising UNet is computed from what the model
//! requested, and the models stand behind the loop's traits.

use std::path::Path;
use std::rc::Rc;

use candle_core::{DType, Device, Tensor};

use super::inputs;
use super::model::{
    AdditionalKwargs, DenoiseInputs, EchoUnet, PoseEncoder as PoseNet, PoseEncoderConfig, Role, UnetConfig,
    fold_frames, unfold_frames,
};
use super::prepare::{Prepared, prepare};
use super::sampler::{
    self, Banks, DenoisingUnet, Models, PoseEncoder, ReferenceUnet, SampleInputs, SampleOptions, VaeDecoder,
};
use super::weights::{
    KeyReport, MergedWeights, Requested, SharedWeights, StateDict, findings as key_findings, key_report,
};
use crate::replay::RunOutput;
use crate::replay::engine::{AutoencoderKL, EngineError, Precision, Tracer, WeightStore, select_device};
use crate::replay::scheduler::Scheduler;
use crate::replay::spec::Spec;
use crate::report::Finding;

type Result<T> = std::result::Result<T, EngineError>;

/// Audio tokens per video frame of the seeded stand-in (Whisper's window
/// as EchoMimicV2's audio processor cuts it).
const STANDIN_AUDIO_TOKENS: usize = 50;

fn store(
    weights: &Rc<MergedWeights>,
    label: &Path,
    device: &Device,
    precision: &Precision,
    scope: &str,
) -> WeightStore {
    let source = Box::new(SharedWeights(Rc::clone(weights)));
    WeightStore::from_source(&label.display().to_string(), source, device, precision.clone(), scope)
}

fn single(path: &Path) -> Result<Rc<MergedWeights>> {
    Ok(Rc::new(MergedWeights { sources: vec![StateDict::open(path)?] }))
}

/// The pose encoder's widths as its state dict holds them.
fn pose_config(weights: &MergedWeights, label: &Path) -> Result<PoseEncoderConfig> {
    let bad = |why: &str| EngineError::Read { path: label.display().to_string(), why: why.into() };
    let conv_in = weights.shape("conv_in.weight").ok_or_else(|| bad("no conv_in.weight"))?;
    let conv_out = weights.shape("conv_out.weight").ok_or_else(|| bad("no conv_out.weight"))?;
    let (&first, &channels) = conv_in.first().zip(conv_in.get(1)).ok_or_else(|| bad("conv_in.weight is not 4-D"))?;
    let &embedding = conv_out.first().ok_or_else(|| bad("conv_out.weight is not 4-D"))?;
    let mut widths = vec![first];
    while let Some(shape) = weights.shape(&format!("blocks.{}.weight", 2 * widths.len() - 1)) {
        widths.push(*shape.first().ok_or_else(|| bad("a block weight is not 4-D"))?);
        if widths.len() > 16 {
            return Err(bad("more than 16 pose encoder blocks"));
        }
    }
    Ok(PoseEncoderConfig {
        conditioning_embedding_channels: embedding,
        conditioning_channels: channels,
        block_out_channels: widths,
    })
}

/// The motion modules' sinusoidal tables (`….pos_encoder.pe`) are
/// persistent buffers: `load_state_dict` expects them where the model has
/// a motion-module attention, though the engine computes the table itself.
/// Counted as requested, with the stored shape, for those attentions.
fn position_buffers(requested: &[Requested], weights: &MergedWeights) -> Vec<Requested> {
    const BUFFER: &str = "pos_encoder.pe";
    let names: std::collections::BTreeSet<&str> =
        weights.sources.iter().flat_map(|s| s.names()).filter(|n| n.ends_with(BUFFER)).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let owner = name.strip_suffix(BUFFER)?;
            let built = requested.iter().any(|r| r.name.starts_with(owner));
            Some(Requested { name: name.to_string(), shape: weights.shape(name)? }).filter(|_| built)
        })
        .collect()
}

/// The candle models of one generation, built from the spec's files.
pub(crate) struct Built {
    pose_encoder: PoseNet,
    reference_unet: EchoUnet,
    denoising_unet: EchoUnet,
    vae: AutoencoderKL,
    pub(crate) denoising_config: UnetConfig,
    /// What `load_state_dict(strict=False)` would have returned.
    pub(crate) keys: KeyReport,
    /// R140–R142 from the key report.
    pub(crate) findings: Vec<Finding>,
    /// Probe names of every Linear/Conv module, pose encoder to VAE.
    pub(crate) layers: Vec<String>,
    dtype: DType,
    guided: bool,
}

impl Built {
    /// Whether every weight the denoising UNet needs was found: missing
    /// keys or other shapes would leave modules the reference initialises
    /// at random, which a replay cannot reproduce.
    pub(crate) fn runnable(&self) -> bool {
        self.keys.missing.is_empty() && self.keys.shape_mismatches.is_empty()
    }
}

/// Builds the pose encoder, both UNets and the VAE.
pub(crate) fn build(spec: &Spec, prepared: &Prepared, precision: &Precision, device: &Device) -> Result<Built> {
    let layout = &prepared.layout;
    let additional: AdditionalKwargs = serde_json::from_value(prepared.inference.unet_additional_kwargs.clone())
        .map_err(|e| EngineError::Input(format!("unet_additional_kwargs: {e}")))?;
    let unsupported = |e: super::model::UnsupportedConfig| EngineError::Input(e.to_string());
    let reference_config = UnetConfig::reference(&prepared.unet_config).map_err(unsupported)?;
    let denoising_config = UnetConfig::from_parts(&prepared.unet_config, &additional).map_err(unsupported)?;

    let pose_weights = single(&layout.pose_encoder)?;
    let pose_ws = store(&pose_weights, &layout.pose_encoder, device, precision, "pose_encoder");
    let pose_encoder = PoseNet::new(&pose_ws, "", &pose_config(&pose_weights, &layout.pose_encoder)?)?;
    pose_ws.finish()?;

    let reference_weights = single(&layout.reference_unet)?;
    let reference_ws = store(&reference_weights, &layout.reference_unet, device, precision, "reference_unet");
    let reference_unet = EchoUnet::new(&reference_ws, "", &reference_config, Role::Reference)?;
    reference_ws.finish()?;

    let denoising_weights = Rc::new(prepared.denoising_weights()?);
    let denoising_ws = store(&denoising_weights, &layout.denoising_unet, device, precision, "denoising_unet");
    let denoising_unet = EchoUnet::new(&denoising_ws, "", &denoising_config, Role::Denoising)?;
    let mut requested: Vec<Requested> = denoising_ws.requested().into_iter().map(Requested::from).collect();
    requested.extend(position_buffers(&requested, &denoising_weights));
    let keys = key_report(&requested, &denoising_weights);
    let findings = key_findings(&keys, &layout.denoising_unet, &layout.motion_module);
    if keys.missing.is_empty() && keys.shape_mismatches.is_empty() {
        // Only unreadable tensors are left to report.
        denoising_ws.finish()?;
    }

    let vae = AutoencoderKL::load(&layout.vae, device, precision, "vae")?;
    let layers = [pose_ws.layers(), reference_ws.layers(), denoising_ws.layers(), vae.layers.clone()].concat();
    Ok(Built {
        pose_encoder,
        reference_unet,
        denoising_unet,
        vae,
        denoising_config,
        keys,
        findings,
        layers,
        dtype: precision.dtype.candle(),
        guided: spec.guidance_scale > 1.0,
    })
}

impl PoseEncoder for Built {
    fn forward(&self, poses: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        let frames = poses.dim(2)?;
        let folded = fold_frames(&poses.to_dtype(self.dtype)?)?;
        unfold_frames(&self.pose_encoder.forward(&folded, tr)?, frames)
    }
}

impl ReferenceUnet for Built {
    /// One sample of banks serves both guidance rows: the unconditional row
    /// does not read them.
    fn write_banks(&self, reference_latents: &Tensor, _guided: bool, tr: &mut Tracer) -> Result<Banks> {
        let latents = reference_latents.to_dtype(self.dtype)?;
        Ok(Banks(self.reference_unet.write_banks(&latents, 0.0, tr)?))
    }
}

impl DenoisingUnet for Built {
    fn forward(
        &self,
        latents: &Tensor,
        timestep: f64,
        audio: &Tensor,
        pose_feats: &Tensor,
        banks: &Banks,
        tr: &mut Tracer,
    ) -> Result<Tensor> {
        let audio = audio.to_dtype(self.dtype)?;
        let pose = pose_feats.to_dtype(self.dtype)?;
        let inputs =
            DenoiseInputs { timestep, pose: Some(&pose), audio: Some(&audio), banks: &banks.0, guidance: self.guided };
        self.denoising_unet.forward(&latents.to_dtype(self.dtype)?, &inputs, tr)
    }
}

/// Reads the tokens per frame of an audio feature file (its second axis).
fn audio_tokens(path: &Path) -> Result<usize> {
    let read = |why: String| EngineError::Read { path: path.display().to_string(), why };
    let dims = if path.extension().is_some_and(|e| e == "npy") {
        Tensor::read_npy(path).map_err(|e| read(e.to_string()))?.dims().to_vec()
    } else {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| read(e.to_string()))?;
        let tensor = tensors.get("audio_features").or_else(|| tensors.values().next());
        tensor.ok_or_else(|| read("holds no tensor".into()))?.dims().to_vec()
    };
    dims.get(1).copied().ok_or_else(|| read(format!("shape {dims:?}, expected (frames, tokens, dim)")))
}

/// The probe names of every Linear/Conv module of the spec's models (what
/// `--bisect` chooses from).
pub(crate) fn layers(spec: &Spec, precision: &Precision) -> Result<Vec<String>> {
    let prepared = prepare(spec)?;
    Ok(build(spec, &prepared, precision, &Device::Cpu)?.layers)
}

/// The replay of `family = "echomimic-v2"`.
pub(crate) fn run(spec: &Spec, precision: &Precision, tr: &mut Tracer) -> Result<RunOutput> {
    let prepared = prepare(spec)?;
    let echo = spec.echomimic.as_ref().ok_or_else(|| EngineError::Input("the spec has no [echomimic] table".into()))?;
    let device = select_device(spec.device)?;
    let built = build(spec, &prepared, precision, &device)?;
    let mut findings = prepared.findings.clone();
    findings.extend(built.findings.iter().cloned());
    if !built.runnable() {
        let frames = Tensor::zeros((0, 3, spec.height, spec.width), DType::F32, &device)?;
        return Ok(RunOutput { frames, nonfinite: 0, steps: 0, findings });
    }

    let factor = 1usize << built.vae.config.block_out_channels.len().saturating_sub(1).min(16);
    for (key, pixels) in [("height", spec.height), ("width", spec.width)] {
        if !pixels.is_multiple_of(factor) {
            return Err(EngineError::Input(format!(
                "{key} = {pixels} is not a multiple of the VAE's downsampling factor {factor}"
            )));
        }
    }
    let (h, w) = (spec.height / factor, spec.width / factor);
    let channels = built.denoising_config.in_channels;
    let dim = built.denoising_config.cross_attention_dim;
    let tokens = match &echo.audio_features {
        Some(path) => audio_tokens(path)?,
        None => STANDIN_AUDIO_TOKENS,
    };
    let image = inputs::reference_image(echo.reference_image.as_deref(), spec.seed, spec.height, spec.width, &device)?;
    let sample_inputs = SampleInputs {
        noise: inputs::noise(spec.seed, [channels, spec.frames, h, w], &device)?,
        reference_latents: sampler::reference_latents(&built.vae, &image, built.dtype, tr)?,
        poses: inputs::poses(echo.pose_dir.as_deref(), spec.seed, spec.frames, spec.height, spec.width, &device)?,
        audio: inputs::audio_features(echo.audio_features.as_deref(), spec.seed, spec.frames, tokens, dim, &device)?,
    };
    let options =
        SampleOptions { variant: prepared.variant, guidance_scale: spec.guidance_scale, plan: prepared.plan.clone() };
    let decoder = VaeDecoder { vae: &built.vae, dtype: built.dtype };
    let models = Models { pose_encoder: &built, reference_unet: &built, denoising_unet: &built, decoder: &decoder };
    let sampled = sampler::sample(&models, &sample_inputs, &options, &prepared.scheduler, tr)?;
    tr.finish()?;
    // A gap the plan already named is not named twice.
    if prepared.findings.is_empty()
        && let Some(gap) = &sampled.uncovered
    {
        findings.push(gap.finding(&prepared.plan));
    }
    let values = sampled.frames.flatten_all()?.to_vec1::<f32>()?;
    let nonfinite = values.iter().filter(|v| !v.is_finite()).count() as u64;
    Ok(RunOutput { frames: sampled.frames, nonfinite, steps: prepared.scheduler.timesteps().len(), findings })
}
