//! The denoising loop of a latent video diffusion pipeline: per step the
//! UNet (twice batched with classifier-free guidance), the DDIM step, and
//! the VAE decode of the frames, all reported to the tracer with context.

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::engine::{AutoencoderKL, EngineError, Precision, Tracer, UNet2DConditionModel, select_device};
use super::noise::normal;
use super::scheduler::{DdimScheduler, Scheduler};
use super::spec::Spec;

type Result<T> = std::result::Result<T, EngineError>;

/// What one replay produced.
pub struct RunOutput {
    /// Decoded frames (frames, channels, height, width) in f32.
    pub frames: Tensor,
    /// Non-finite values in the decoded frames.
    pub nonfinite: u64,
    /// Steps actually run.
    pub steps: usize,
    /// Findings of the run itself (weights the model did not get, frames
    /// no context window covered).
    pub findings: Vec<crate::report::Finding>,
}

/// Runs the generation the spec describes with the given precision plan.
pub fn run(spec: &Spec, precision: &Precision, tr: &mut Tracer) -> Result<RunOutput> {
    if spec.family == "echomimic-v2" {
        return super::echomimic::wire::run(spec, precision, tr);
    }
    let device = select_device(spec.device)?;
    let unet = UNet2DConditionModel::load(&spec.models.unet, &device, precision, "unet")?;
    let vae = AutoencoderKL::load(&spec.models.vae, &device, precision, "vae")?;
    let config = spec.scheduler_config().map_err(|e| EngineError::Input(e.to_string()))?;
    let mut scheduler = DdimScheduler::new(&config).map_err(|e| EngineError::Input(e.to_string()))?;
    scheduler.set_timesteps(spec.steps).map_err(|e| EngineError::Input(e.to_string()))?;
    let dtype = precision.dtype.candle();

    let factor = 1usize << vae.config.block_out_channels.len().saturating_sub(1);
    // Every UNet block but the last halves the latents, and the way up must
    // meet the same sizes again: the latents must divide evenly that often.
    let unet_factor = 1usize << unet.config.block_out_channels.len().saturating_sub(1);
    for (key, pixels) in [("height", spec.height), ("width", spec.width)] {
        if !pixels.is_multiple_of(factor) {
            return Err(EngineError::Input(format!(
                "{key} = {pixels} is not a multiple of the VAE's downsampling factor {factor} (latents are {key} / {factor})"
            )));
        }
        let multiple = factor.saturating_mul(unet_factor);
        if !pixels.is_multiple_of(multiple) {
            return Err(EngineError::Input(format!(
                "{key} = {pixels} is not a multiple of {multiple}: the latents ({key} / {factor}) must halve evenly \
                 through the UNet's {} downsampling steps",
                unet.config.block_out_channels.len().saturating_sub(1)
            )));
        }
    }
    let (c, f, h, w) = (unet.config.in_channels, spec.frames, spec.height / factor, spec.width / factor);
    let latent_shape = [1, c, f, h, w];
    let mut latents: Vec<f32> = match &spec.inputs.latents {
        Some(path) => read_tensor(path, "latents", &latent_shape)?,
        None => normal(spec.seed, c * f * h * w),
    };
    let sigma = scheduler.init_noise_sigma() as f32;
    latents.iter_mut().for_each(|x| *x *= sigma);

    let cross = unet.config.cross_attention_dim;
    let cond = match &spec.inputs.encoder_hidden_states {
        Some(path) => Tensor::from_vec(read_any(path, "encoder_hidden_states")?, ((), cross), &Device::Cpu)?,
        None => {
            Tensor::from_vec(normal(spec.seed.wrapping_add(1), spec.inputs.tokens * cross), ((), cross), &Device::Cpu)?
        }
    };
    let tokens = cond.dim(0)?;
    // Attention over zero tokens has nothing to normalise: refuse it here
    // rather than inside the softmax.
    if tokens == 0 {
        return Err(EngineError::Input("encoder_hidden_states holds no tokens".into()));
    }
    let uncond = match &spec.inputs.negative_encoder_hidden_states {
        Some(path) => {
            Tensor::from_vec(read_any(path, "negative_encoder_hidden_states")?, (tokens, cross), &Device::Cpu).map_err(
                |_| EngineError::Input("negative_encoder_hidden_states must match encoder_hidden_states' shape".into()),
            )?
        }
        None => Tensor::zeros((tokens, cross), DType::F32, &Device::Cpu)?,
    };
    let guided = spec.guidance_scale > 1.0;
    let rows: Vec<Tensor> =
        if guided { vec![uncond; f].into_iter().chain(vec![cond; f]).collect() } else { vec![cond; f] };
    let context = Tensor::stack(&rows, 0)?.to_dtype(dtype)?.to_device(&device)?;

    tr.context.frames = Some([0, f as u64 - 1]);
    let timesteps = scheduler.timesteps().to_vec();
    let mut frames = None;
    for (i, &t) in timesteps.iter().enumerate() {
        tr.context.step = Some(i as u64);
        tr.context.timestep = Some(t as f64);
        tr.context.stage = Some("unet".into());
        // (1, c, f, h, w) → (f, c, h, w): frames folded into the batch.
        let mut scaled = latents.clone();
        scheduler.scale_model_input(&mut scaled, t).map_err(|e| EngineError::Input(e.to_string()))?;
        let x = Tensor::from_vec(scaled, latent_shape.as_slice(), &device)?
            .squeeze(0)?
            .transpose(0, 1)?
            .contiguous()?;
        let x = x.to_dtype(dtype)?;
        let input = if guided { Tensor::cat(&[&x, &x], 0)? } else { x };
        let eps = unet.forward(&input, t as f64, &context, tr)?;
        tr.boundary("unet", &eps)?;
        let eps = eps.to_dtype(DType::F32)?;
        let eps = if guided {
            let (u, cnd) = (eps.narrow(0, 0, f)?, eps.narrow(0, f, f)?);
            (&u + ((cnd - &u)? * spec.guidance_scale)?)?
        } else {
            eps
        };
        let eps = eps.transpose(0, 1)?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let out = scheduler.step(&eps, t, &latents).map_err(|e| EngineError::Input(e.to_string()))?;
        latents = out.prev_sample;
        tr.context.stage = Some("scheduler".into());
        tr.boundary("latents", &Tensor::from_slice(&latents, latent_shape.as_slice(), &device)?)?;
        if spec.decode_every_step || i + 1 == timesteps.len() {
            if i + 1 == timesteps.len() && !spec.decode_every_step {
                tr.context.step = None;
                tr.context.timestep = None;
            }
            frames = Some(decode(&vae, &latents, &latent_shape, dtype, &device, tr)?);
        }
    }
    let frames = match frames {
        Some(frames) => frames,
        None => return Err(EngineError::Input("no denoising steps".into())),
    };
    tr.finish()?;
    let values = frames.flatten_all()?.to_vec1::<f32>()?;
    let nonfinite = values.iter().filter(|v| !v.is_finite()).count() as u64;
    Ok(RunOutput { frames, nonfinite, steps: timesteps.len(), findings: Vec::new() })
}

fn decode(
    vae: &AutoencoderKL,
    latents: &[f32],
    shape: &[usize; 5],
    dtype: DType,
    device: &Device,
    tr: &mut Tracer,
) -> Result<Tensor> {
    tr.context.stage = Some("vae.decode".into());
    let z = Tensor::from_slice(latents, shape.as_slice(), device)?.squeeze(0)?.transpose(0, 1)?.contiguous()?;
    let z = (z / vae.config.scaling_factor)?;
    let z = match vae.config.shift_factor {
        Some(shift) => (z + shift)?,
        None => z,
    };
    let images = vae.decode(&z.to_dtype(dtype)?, tr)?;
    tr.boundary("frames", &images)?;
    Ok(images.to_dtype(DType::F32)?)
}

/// Reads a float tensor from a .npy file, or from a .safetensors file the
/// tensor called `name` (or its only tensor).
fn read_any(path: &Path, name: &str) -> Result<Vec<f32>> {
    let label = path.display().to_string();
    let read_err = |why: String| EngineError::Read { path: label.clone(), why };
    let tensor = if path.extension().is_some_and(|e| e == "npy") {
        Tensor::read_npy(path).map_err(|e| read_err(EngineError::from(e).to_string()))?
    } else {
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| read_err(EngineError::from(e).to_string()))?;
        match (tensors.get(name), tensors.len()) {
            (Some(t), _) => t.clone(),
            (None, 1) => tensors.into_values().next().ok_or_else(|| read_err("holds no tensor".into()))?,
            _ => return Err(read_err(format!("no tensor named {name} (and more than one tensor)"))),
        }
    };
    Ok(tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

/// Reads a tensor that must hold exactly `shape`'s element count.
fn read_tensor(path: &Path, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let values = read_any(path, name)?;
    let expected: usize = shape.iter().product();
    if values.len() != expected {
        return Err(EngineError::Input(format!(
            "{}: {} values, the spec's latents {:?} need {expected}",
            path.display(),
            values.len(),
            shape
        )));
    }
    Ok(values)
}
