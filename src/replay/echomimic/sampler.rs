//! The EchoMimicV2 denoising loop: initial noise clamped to ±1.5, the pose
//! encoder once, the reference UNet once (first step, timestep 0) writing
//! its banks, then per DDIM step every context window through the
//! denoising UNet, the window sums averaged by the per-frame counter,
//! classifier-free guidance as each pipeline variant does it, and at the
//! end a VAE decode one frame at a time.
//!
//! The models are reached through small traits so that the loop is the same
//! for the candle model and for stand-ins in tests.

use candle_core::{DType, Device, Tensor};

use super::context::WindowPlan;
use crate::config::Variant;
use crate::replay::engine::{AutoencoderKL, EngineError, Tracer};
use crate::replay::scheduler::{DdimScheduler, Scheduler};

type Result<T> = std::result::Result<T, EngineError>;

/// The latent scale of the VAE EchoMimicV2 uses (sd-vae-ft-mse).
pub(crate) const LATENT_SCALE: f64 = 0.18215;

/// The initial noise is clamped to this magnitude before scaling.
pub(crate) const NOISE_CLAMP: f32 = 1.5;

/// What the reference UNet wrote, read by the denoising UNet's reference
/// attention. Opaque to the loop.
pub(crate) struct Banks(pub(crate) super::model::Banks);

/// The 3-D denoising UNet: v-prediction for a window of latents
/// `(rows, c, frames, h, w)`, with audio features `(rows, frames, …)` and
/// pose features `(rows, channels, frames, h, w)`; with guidance, row 0 is
/// the unconditional one (all-zero audio and pose).
pub(crate) trait DenoisingUnet {
    fn forward(
        &self,
        latents: &Tensor,
        timestep: f64,
        audio: &Tensor,
        pose_feats: &Tensor,
        banks: &Banks,
        tr: &mut Tracer,
    ) -> Result<Tensor>;
}

/// The reference UNet in writer mode: one forward pass over the reference
/// image's latents `(1, c, h, w)` at timestep 0. `guided` asks for banks
/// sized for the guidance batch.
pub(crate) trait ReferenceUnet {
    fn write_banks(&self, reference_latents: &Tensor, guided: bool, tr: &mut Tracer) -> Result<Banks>;
}

/// The pose encoder: rendered poses `(1, 3, frames, H, W)` in [0, 1] to
/// features `(1, channels, frames, h, w)`.
pub(crate) trait PoseEncoder {
    fn forward(&self, poses: &Tensor, tr: &mut Tracer) -> Result<Tensor>;
}

/// The VAE decoder on one frame of unscaled latents `(1, c, h, w)`,
/// returning `(1, 3, H, W)` in [-1, 1].
pub(crate) trait FrameDecoder {
    fn decode(&self, latents: &Tensor, tr: &mut Tracer) -> Result<Tensor>;
}

/// The engine's diffusers VAE as the per-frame decoder, computing in `dtype`.
pub(crate) struct VaeDecoder<'a> {
    pub(crate) vae: &'a AutoencoderKL,
    pub(crate) dtype: DType,
}

impl FrameDecoder for VaeDecoder<'_> {
    fn decode(&self, latents: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
        self.vae.decode(&latents.to_dtype(self.dtype)?, tr)
    }
}

/// The reference image `(1, 3, H, W)` in [-1, 1] to scaled latents: the
/// posterior's mean × 0.18215, as the pipelines encode it.
pub(crate) fn reference_latents(vae: &AutoencoderKL, image: &Tensor, dtype: DType, tr: &mut Tracer) -> Result<Tensor> {
    tr.context.stage = Some("vae.encode".into());
    let moments = vae.encode_moments(&image.to_dtype(dtype)?, tr)?;
    let channels = moments.dim(1)? / 2;
    let mean = moments.narrow(1, 0, channels)?.to_dtype(DType::F32)?;
    Ok((mean * LATENT_SCALE)?)
}

/// The models one generation uses.
pub(crate) struct Models<'a> {
    pub(crate) pose_encoder: &'a dyn PoseEncoder,
    pub(crate) reference_unet: &'a dyn ReferenceUnet,
    pub(crate) denoising_unet: &'a dyn DenoisingUnet,
    pub(crate) decoder: &'a dyn FrameDecoder,
}

/// The tensors a generation starts from.
pub(crate) struct SampleInputs {
    /// Standard normal noise `(1, c, frames, h, w)`, before the clamp.
    pub(crate) noise: Tensor,
    /// The reference image's scaled latents `(1, c, h, w)`.
    pub(crate) reference_latents: Tensor,
    /// Rendered poses `(1, 3, frames, H, W)`.
    pub(crate) poses: Tensor,
    /// Audio features per video frame `(1, frames, …)`.
    pub(crate) audio: Tensor,
}

pub(crate) struct SampleOptions {
    pub(crate) variant: Variant,
    pub(crate) guidance_scale: f64,
    pub(crate) plan: WindowPlan,
}

/// Frames whose window counter was 0 at a step: their average was 0/0.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Uncovered {
    pub(crate) step: usize,
    pub(crate) frames: Vec<usize>,
}

impl Uncovered {
    /// R143 as observed during the run.
    pub(crate) fn finding(&self, plan: &WindowPlan) -> crate::report::Finding {
        super::findings::window_gap(
            &self.frames,
            plan.frames,
            plan.context_frames,
            plan.context_overlap,
            Some(self.step),
        )
    }
}

/// What a generation produced.
pub(crate) struct Sampled {
    /// Decoded frames `(frames, 3, H, W)` in [0, 1] (NaN kept, as torch's clamp keeps it).
    pub(crate) frames: Tensor,
    /// The final latents `(1, c, frames, h, w)` (the loop goldens compare them).
    #[cfg(test)]
    pub(crate) latents: Tensor,
    /// The first step at which some frame had no window, if any.
    pub(crate) uncovered: Option<Uncovered>,
}

/// The pipelines' initial latents: noise clamped to ±1.5, times the
/// scheduler's initial sigma.
pub(crate) fn initial_latents(noise: &Tensor, init_noise_sigma: f64) -> Result<Tensor> {
    Ok((noise.to_dtype(DType::F32)?.clamp(-NOISE_CLAMP, NOISE_CLAMP)? * init_noise_sigma)?)
}

/// The acc pipeline's round trip: x0 from the v-prediction, then the
/// "pseudo velocity" from x0 towards timestep −1 (ᾱ = 1). Algebraically
/// the identity; only rounding changes.
pub(crate) fn velocity_round_trip(v: &Tensor, x: &Tensor, alpha_cumprod: f64) -> Result<Tensor> {
    let a_t = alpha_cumprod.sqrt();
    let b_t = (1.0 - alpha_cumprod).sqrt();
    let x0 = ((x * a_t)? - (v * b_t)?)?;
    // (x0 − (a_s·a_t + b_s·b_t)·x) / (b_s·a_t − a_s·b_t) with a_s = 1, b_s = 0.
    Ok(((x0 - (x * a_t)?)? / -b_t)?)
}

/// Window sums `(rows, c, frames, h, w)` and the per-frame counter to the
/// model output the scheduler steps with, as the variant's pipeline does:
/// with guidance (scale > 1) the average is split into [uncond ; cond] and
/// combined; without it the acc pipeline divides by the counter and the
/// normal pipeline uses the sum as it is (it has no such branch).
pub(crate) fn combine(sum: &Tensor, counter: &Tensor, variant: Variant, guidance_scale: f64) -> Result<Tensor> {
    if guidance_scale > 1.0 {
        let average = sum.broadcast_div(counter)?;
        let halves = average.chunk(2, 0)?;
        let (uncond, cond) = (&halves[0], &halves[1]);
        return Ok((uncond + ((cond - uncond)? * guidance_scale)?)?);
    }
    match variant {
        Variant::Acc => Ok(sum.broadcast_div(counter)?),
        Variant::Normal => Ok(sum.clone()),
    }
}

/// [zeros ; cond] along the batch when guided, else cond.
fn with_uncond(cond: &Tensor, guided: bool) -> Result<Tensor> {
    if guided { Ok(Tensor::cat(&[&cond.zeros_like()?, cond], 0)?) } else { Ok(cond.clone()) }
}

fn index(frames: &[usize], device: &Device) -> Result<Tensor> {
    let ids: Vec<u32> = frames.iter().map(|&f| u32::try_from(f).unwrap_or(u32::MAX)).collect();
    Ok(Tensor::from_vec(ids, frames.len(), device)?)
}

/// Runs the generation: see the module documentation.
pub(crate) fn sample(
    models: &Models<'_>,
    inputs: &SampleInputs,
    options: &SampleOptions,
    scheduler: &DdimScheduler,
    tr: &mut Tracer,
) -> Result<Sampled> {
    let guided = options.guidance_scale > 1.0;
    let rows = if guided { 2 } else { 1 };
    let (_, channels, frames, height, width) = inputs.noise.dims5()?;
    if frames != options.plan.frames {
        return Err(EngineError::Input(format!(
            "the window plan is for {} frames, the latents hold {frames}",
            options.plan.frames
        )));
    }
    if inputs.audio.dim(1)? < frames {
        return Err(EngineError::Input(format!(
            "audio features cover {} frames, the video has {frames}",
            inputs.audio.dim(1)?
        )));
    }
    let device = inputs.noise.device().clone();
    let mut latents = initial_latents(&inputs.noise, scheduler.init_noise_sigma())?;
    tr.context.frames = frames.checked_sub(1).map(|last| [0, last as u64]);

    tr.context.stage = Some("pose_encoder".into());
    let pose_feats = models.pose_encoder.forward(&inputs.poses, tr)?;
    tr.boundary("pose_encoder", &pose_feats)?;

    let mut uncovered = None;
    let mut banks = None;
    for (step, &t) in scheduler.timesteps().iter().enumerate() {
        tr.context.step = Some(step as u64);
        tr.context.timestep = Some(t as f64);
        if banks.is_none() {
            tr.context.stage = Some("reference_unet".into());
            tr.context.frames = None;
            banks = Some(models.reference_unet.write_banks(&inputs.reference_latents, guided, tr)?);
        }
        let banks = banks.as_ref().ok_or_else(|| EngineError::Input("no reference banks".into()))?;
        let alpha = scheduler.alpha_cumprod(t).map(f64::from);

        let mut sum = Tensor::zeros((rows, channels, frames, height, width), DType::F32, &device)?;
        let mut counter = vec![0f32; frames];
        for window in options.plan.at_step(step) {
            let idx = index(&window, &device)?;
            let x = latents.index_select(&idx, 2)?;
            let x = if guided { Tensor::cat(&[&x, &x], 0)? } else { x };
            let audio = with_uncond(&inputs.audio.index_select(&idx, 1)?, guided)?;
            let pose = with_uncond(&pose_feats.index_select(&idx, 2)?, guided)?;
            let (first, last) = (window.iter().min().copied(), window.iter().max().copied());
            tr.context.frames = first.zip(last).map(|(a, b)| [a as u64, b as u64]);
            tr.context.stage = Some("denoising_unet".into());
            let pred = models.denoising_unet.forward(&x, t as f64, &audio, &pose, banks, tr)?;
            tr.boundary("denoising_unet", &pred)?;
            let pred = pred.to_dtype(DType::F32)?;
            let pred = match (options.variant, alpha) {
                (Variant::Acc, Some(alpha)) => velocity_round_trip(&pred, &x, alpha)?,
                (Variant::Acc, None) => {
                    return Err(EngineError::Input(format!("timestep {t} is outside the noise schedule")));
                }
                (Variant::Normal, _) => pred,
            };
            sum = sum.index_add(&idx, &pred, 2)?;
            for &f in &window {
                if let Some(c) = counter.get_mut(f) {
                    *c += 1.0;
                }
            }
        }
        if uncovered.is_none() {
            let empty: Vec<usize> = counter.iter().enumerate().filter(|&(_, &c)| c == 0.0).map(|(f, _)| f).collect();
            if !empty.is_empty() {
                uncovered = Some(Uncovered { step, frames: empty });
            }
        }
        let counter = Tensor::from_vec(counter, (1, 1, frames, 1, 1), &device)?;
        let noise_pred = combine(&sum, &counter, options.variant, options.guidance_scale)?;
        tr.context.frames = frames.checked_sub(1).map(|last| [0, last as u64]);
        tr.context.stage = Some("guidance".into());
        tr.boundary("noise_pred", &noise_pred)?;

        let shape = latents.dims().to_vec();
        let model_output = noise_pred.flatten_all()?.to_vec1::<f32>()?;
        let sample = latents.flatten_all()?.to_vec1::<f32>()?;
        let out = scheduler.step(&model_output, t, &sample).map_err(|e| EngineError::Input(e.to_string()))?;
        latents = Tensor::from_vec(out.prev_sample, shape, &device)?;
        tr.context.stage = Some("scheduler".into());
        tr.boundary("latents", &latents)?;
    }
    tr.context.step = None;
    tr.context.timestep = None;
    let frames_out = decode(models.decoder, &latents, tr)?;
    Ok(Sampled {
        frames: frames_out,
        #[cfg(test)]
        latents,
        uncovered,
    })
}

/// Decodes one frame at a time: latents ÷ 0.18215, the VAE decoder, then
/// x/2 + 0.5 clamped to [0, 1] with NaN kept (torch's clamp keeps it).
fn decode(decoder: &dyn FrameDecoder, latents: &Tensor, tr: &mut Tracer) -> Result<Tensor> {
    let frames = latents.dim(2)?;
    let mut images = Vec::with_capacity(frames);
    tr.context.stage = Some("vae.decode".into());
    for f in 0..frames {
        tr.context.frames = Some([f as u64, f as u64]);
        let z = (latents.narrow(2, f, 1)?.squeeze(2)? / LATENT_SCALE)?;
        let image = decoder.decode(&z, tr)?.to_dtype(DType::F32)?;
        let dims = image.dims().to_vec();
        let values: Vec<f32> = image
            .flatten_all()?
            .to_vec1::<f32>()?
            .into_iter()
            .map(|x| {
                let y = x / 2.0 + 0.5;
                if y.is_nan() { y } else { y.clamp(0.0, 1.0) }
            })
            .collect();
        images.push(Tensor::from_vec(values, dims, latents.device())?);
    }
    let video = Tensor::cat(&images, 0)?;
    tr.context.frames = frames.checked_sub(1).map(|last| [0, last as u64]);
    tr.boundary("frames", &video)?;
    Ok(video)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::replay::scheduler::SchedulerConfig;

    const SCHEDULER: &str = r#"{"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear",
        "clip_sample": false, "steps_offset": 1, "prediction_type": "v_prediction",
        "rescale_betas_zero_snr": true, "timestep_spacing": "trailing"}"#;

    fn scheduler(steps: usize) -> DdimScheduler {
        let mut s = DdimScheduler::new(&SchedulerConfig::from_json(SCHEDULER.as_bytes()).unwrap()).unwrap();
        s.set_timesteps(steps).unwrap();
        s
    }

    /// Pose features: the first pose channel, repeated to the latent channels.
    struct Pose;
    impl PoseEncoder for Pose {
        fn forward(&self, poses: &Tensor, _: &mut Tracer) -> Result<Tensor> {
            Ok(poses.narrow(1, 0, 1)?.repeat((1, 4, 1, 1, 1))?)
        }
    }

    struct Reference(RefCell<Vec<bool>>);
    impl ReferenceUnet for Reference {
        fn write_banks(&self, _: &Tensor, guided: bool, _: &mut Tracer) -> Result<Banks> {
            self.0.borrow_mut().push(guided);
            Ok(Banks(Default::default()))
        }
    }

    /// Predicts, for the frame at position j of the window, j + 10·row, and
    /// records each call's audio and pose rows.
    #[derive(Default)]
    struct Unet {
        calls: RefCell<Vec<(usize, bool, bool)>>,
    }
    impl DenoisingUnet for Unet {
        fn forward(
            &self,
            x: &Tensor,
            _: f64,
            audio: &Tensor,
            pose: &Tensor,
            _: &Banks,
            _: &mut Tracer,
        ) -> Result<Tensor> {
            let (rows, c, f, h, w) = x.dims5()?;
            let zero_row = |t: &Tensor| -> bool {
                t.narrow(0, 0, 1)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    == 0.0
            };
            self.calls.borrow_mut().push((rows, zero_row(audio), zero_row(pose)));
            let mut values = Vec::with_capacity(rows * c * f * h * w);
            for row in 0..rows {
                for _ in 0..c {
                    for j in 0..f {
                        values.extend(std::iter::repeat_n((j + 10 * row) as f32, h * w));
                    }
                }
            }
            Ok(Tensor::from_vec(values, (rows, c, f, h, w), x.device())?)
        }
    }

    struct Decoder;
    impl FrameDecoder for Decoder {
        fn decode(&self, z: &Tensor, _: &mut Tracer) -> Result<Tensor> {
            Ok(z.narrow(1, 0, 3)?)
        }
    }

    fn inputs(frames: usize) -> SampleInputs {
        let dev = Device::Cpu;
        let n = 4 * frames * 2 * 2;
        let noise: Vec<f32> = (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.7).collect();
        SampleInputs {
            noise: Tensor::from_vec(noise, (1, 4, frames, 2, 2), &dev).unwrap(),
            reference_latents: Tensor::ones((1, 4, 2, 2), DType::F32, &dev).unwrap(),
            poses: Tensor::full(0.25f32, (1, 3, frames, 2, 2), &dev).unwrap(),
            audio: Tensor::full(0.5f32, (1, frames, 3, 5), &dev).unwrap(),
        }
    }

    fn run(
        frames: usize,
        context: usize,
        overlap: usize,
        variant: Variant,
        cfg: f64,
        steps: usize,
    ) -> (Sampled, Unet, Vec<bool>) {
        let unet = Unet::default();
        let reference = Reference(RefCell::new(Vec::new()));
        let models =
            Models { pose_encoder: &Pose, reference_unet: &reference, denoising_unet: &unet, decoder: &Decoder };
        let options =
            SampleOptions { variant, guidance_scale: cfg, plan: WindowPlan::new(frames, context, overlap).unwrap() };
        let out = sample(&models, &inputs(frames), &options, &scheduler(steps), &mut Tracer::silent()).unwrap();
        let banks = reference.0.into_inner();
        (out, unet, banks)
    }

    /// The demo's diffusers VAE folder: the reference image encodes to
    /// (1, 4, H/8, W/8) latents and one frame decodes back to (1, 3, H, W).
    #[test]
    fn the_demo_vae_encodes_the_reference_and_decodes_a_frame() {
        use crate::replay::engine::Precision;
        let folder =
            concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/replay/echomimic/demo/pretrained_weights/sd-vae-ft-mse");
        let vae =
            AutoencoderKL::load(std::path::Path::new(folder), &Device::Cpu, &Precision::default(), "vae").unwrap();
        let image = super::super::inputs::reference_image(None, 1, 64, 64, &Device::Cpu).unwrap();
        let mut tr = Tracer::silent();
        let z = reference_latents(&vae, &image, DType::F32, &mut tr).unwrap();
        assert_eq!(z.dims(), &[1, 4, 8, 8]);
        let frame = VaeDecoder { vae: &vae, dtype: DType::F32 }.decode(&z, &mut tr).unwrap();
        assert_eq!(frame.dims(), &[1, 3, 64, 64]);
    }

    /// The stand-ins of make_loop_goldens.py: pose features are the mean of
    /// the pose channels over 8×8 cells; v = 0.5·x + 0.25·pose + 0.1·mean(audio) + t/1000.
    struct GoldenPose;
    impl PoseEncoder for GoldenPose {
        fn forward(&self, poses: &Tensor, _: &mut Tracer) -> Result<Tensor> {
            let p = poses.to_dtype(DType::F32)?.mean_keepdim(1)?;
            let (b, c, f, h, w) = p.dims5()?;
            let p = p.reshape(&[b, c, f, h / 8, 8, w / 8, 8][..])?.mean(6)?.mean(4)?;
            Ok(p.repeat((1, 4, 1, 1, 1))?)
        }
    }

    struct GoldenUnet;
    impl DenoisingUnet for GoldenUnet {
        fn forward(
            &self,
            x: &Tensor,
            t: f64,
            audio: &Tensor,
            pose: &Tensor,
            _: &Banks,
            _: &mut Tracer,
        ) -> Result<Tensor> {
            let (rows, _, f, _, _) = x.dims5()?;
            let audio = audio.mean(3)?.mean(2)?.reshape((rows, 1, f, 1, 1))?;
            let v = ((x * 0.5)? + (pose * 0.25)?)?.broadcast_add(&(audio * 0.1)?)?;
            Ok((v + t / 1000.0)?)
        }
    }

    /// Issue #16: the whole loop (windows, sums and counters, guidance, the
    /// acc round trip, DDIM, per-frame decode through the demo VAE) agrees
    /// with EchoMimicV2's own pipelines run around the same stand-ins
    /// (make_loop_goldens.py) within 1e-4, for both variants.
    #[test]
    fn the_loop_agrees_with_the_reference_pipelines() {
        use crate::replay::engine::Precision;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay/echomimic");
        let golden = candle_core::safetensors::load(dir.join("loop_goldens.safetensors"), &Device::Cpu).unwrap();
        let vae = AutoencoderKL::load(
            &dir.join("demo/pretrained_weights/sd-vae-ft-mse"),
            &Device::Cpu,
            &Precision::default(),
            "vae",
        )
        .unwrap();
        let decoder = VaeDecoder { vae: &vae, dtype: DType::F32 };
        let reference = Reference(RefCell::new(Vec::new()));
        let models = Models {
            pose_encoder: &GoldenPose,
            reference_unet: &reference,
            denoising_unet: &GoldenUnet,
            decoder: &decoder,
        };
        let inputs = SampleInputs {
            noise: golden["noise"].clone(),
            reference_latents: Tensor::zeros((1, 4, 4, 4), DType::F32, &Device::Cpu).unwrap(),
            poses: golden["poses"].to_dtype(DType::F32).unwrap(),
            audio: golden["audio"].unsqueeze(0).unwrap(),
        };
        for (name, variant, cfg) in [("normal", Variant::Normal, 2.5), ("acc", Variant::Acc, 1.0)] {
            let options = SampleOptions { variant, guidance_scale: cfg, plan: WindowPlan::new(8, 4, 1).unwrap() };
            let out = sample(&models, &inputs, &options, &scheduler(3), &mut Tracer::silent()).unwrap();
            // (1, 3, f, H, W) → (f, 3, H, W)
            let expected = golden[&format!("{name}.video")].squeeze(0).unwrap().transpose(0, 1).unwrap();
            let err = (out.frames - expected).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
            let err = err.to_scalar::<f32>().unwrap();
            assert!(err <= 1e-4, "{name}: max abs error {err}");
        }
    }

    #[test]
    fn initial_noise_is_clamped() {
        let noise = Tensor::new(&[-3f32, -1.0, 0.5, 2.0], &Device::Cpu).unwrap();
        let x = initial_latents(&noise, 1.0).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(x, vec![-1.5, -1.0, 0.5, 1.5]);
    }

    #[test]
    fn guidance_splits_the_average_and_the_variants_differ_without_it() {
        let dev = Device::Cpu;
        // Two rows, one channel, two frames, 1×1: uncond [2, 4], cond [6, 8]; frame 1 covered twice.
        let sum = Tensor::from_vec(vec![2f32, 8.0, 6.0, 16.0], (2, 1, 2, 1, 1), &dev).unwrap();
        let counter = Tensor::from_vec(vec![1f32, 2.0], (1, 1, 2, 1, 1), &dev).unwrap();
        let guided = combine(&sum, &counter, Variant::Normal, 2.5).unwrap().flatten_all().unwrap();
        // uncond + 2.5·(cond − uncond): 2 + 2.5·4 = 12, 4 + 2.5·4 = 14.
        assert_eq!(guided.to_vec1::<f32>().unwrap(), vec![12.0, 14.0]);
        let one = sum.narrow(0, 1, 1).unwrap();
        let acc = combine(&one, &counter, Variant::Acc, 1.0).unwrap().flatten_all().unwrap();
        assert_eq!(acc.to_vec1::<f32>().unwrap(), vec![6.0, 8.0]);
        let normal = combine(&one, &counter, Variant::Normal, 1.0).unwrap().flatten_all().unwrap();
        assert_eq!(normal.to_vec1::<f32>().unwrap(), vec![6.0, 16.0]);
    }

    #[test]
    fn the_acc_round_trip_is_the_identity_up_to_rounding() {
        let dev = Device::Cpu;
        let v = Tensor::new(&[0.3f32, -1.2, 2.0], &dev).unwrap();
        let x = Tensor::new(&[1.0f32, 0.5, -0.7], &dev).unwrap();
        for alpha in [0.0, 0.05, 0.5, 0.9] {
            let back = velocity_round_trip(&v, &x, alpha).unwrap().to_vec1::<f32>().unwrap();
            for (a, b) in back.iter().zip([0.3f32, -1.2, 2.0]) {
                assert!((a - b).abs() < 1e-5, "alpha {alpha}: {a} vs {b}");
            }
        }
    }

    /// Overlapping windows are averaged by the per-frame counter, guidance
    /// combines the two rows, and the uncond row sees zero audio and pose.
    #[test]
    fn windows_are_averaged_by_the_counter_before_guidance() {
        let (frames, context, overlap, cfg) = (10, 4, 1, 2.5);
        let (out, unet, banks) = run(frames, context, overlap, Variant::Normal, cfg, 1);
        assert_eq!(banks, vec![true], "the reference UNet runs once, with guidance-sized banks");
        let plan = WindowPlan::new(frames, context, overlap).unwrap();
        let calls = unet.calls.borrow();
        assert_eq!(calls.len(), plan.windows.len());
        assert!(calls.iter().all(|&(rows, audio_zero, pose_zero)| rows == 2 && audio_zero && pose_zero));
        // Expected model output per frame: mean position j over covering windows, + cfg·10.
        let mut sums = vec![0f32; frames];
        let mut counts = vec![0f32; frames];
        for window in plan.at_step(0) {
            for (j, &f) in window.iter().enumerate() {
                sums[f] += j as f32;
                counts[f] += 1.0;
            }
        }
        let s = scheduler(1);
        let t = s.timesteps()[0];
        let start = initial_latents(&inputs(frames).noise, 1.0).unwrap();
        let mut model = Vec::new();
        for _ in 0..4 {
            for f in 0..frames {
                model.extend(std::iter::repeat_n(sums[f] / counts[f] + (cfg as f32) * 10.0, 4));
            }
        }
        let expected = s.step(&model, t, &start.flatten_all().unwrap().to_vec1::<f32>().unwrap()).unwrap();
        let got = out.latents.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (a, b) in got.iter().zip(&expected.prev_sample) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert!(out.uncovered.is_none());
        assert_eq!(out.frames.dims(), &[frames, 3, 2, 2]);
    }

    #[test]
    fn windows_shift_by_three_frames_per_step() {
        let (_, unet, _) = run(10, 4, 1, Variant::Acc, 1.0, 3);
        // Three steps of the same four windows, one row each, real audio.
        let calls = unet.calls.borrow();
        assert_eq!(calls.len(), 3 * 4);
        assert!(calls.iter().all(|&(rows, audio_zero, _)| rows == 1 && !audio_zero));
    }

    /// Issue #16: overlap beyond the window plans no window at all; the
    /// counter stays 0, the average is 0/0 and every frame decodes to NaN,
    /// which the loop reports as observed.
    #[test]
    fn a_zero_window_plan_turns_every_frame_nan_and_is_observed() {
        let (out, unet, _) = run(8, 3, 5, Variant::Acc, 1.0, 2);
        assert!(unet.calls.borrow().is_empty());
        assert_eq!(out.uncovered, Some(Uncovered { step: 0, frames: (0..8).collect() }));
        let finding = out.uncovered.as_ref().unwrap().finding(&WindowPlan::new(8, 3, 5).unwrap());
        assert_eq!((finding.code(), finding.subject.step), ("R143", Some(0)));
        assert!(
            finding.message.starts_with("at step 0 the per-frame window counter was 0 for 8 of 8"),
            "{}",
            finding.message
        );
        let values = out.frames.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_nan()), "NaN survives the clamp");
        // With guidance the same plan divides 0 by 0 too.
        let (out, _, _) = run(8, 3, 5, Variant::Normal, 2.5, 1);
        assert_eq!(out.uncovered.map(|u| u.frames.len()), Some(8));
    }
}
