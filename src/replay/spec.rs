//! The replay spec: a TOML file describing one generation to replay.
//!
//! Relative paths are resolved against the spec's folder. Every field the
//! command line can override is plain data here; `nanscope replay` applies
//! the overrides before the run.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::engine::{ComputeDType, DeviceKind};
use super::scheduler::SchedulerConfig;
use crate::trace::DumpLevel;

/// Why a spec could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec {path}: {why}")]
    Read { path: String, why: String },
    #[error("spec {path}: {why}")]
    Invalid { path: String, why: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Pipeline family: `latent-video` (a 2-D UNet applied per frame) or
    /// `echomimic-v2` (EchoMimicV2's own pipeline, keys in `[echomimic]`).
    #[serde(default = "family_default")]
    pub family: String,
    #[serde(default)]
    pub dtype: ComputeDType,
    #[serde(default)]
    pub device: DeviceKind,
    #[serde(default)]
    pub seed: u64,
    pub steps: usize,
    #[serde(default = "guidance_default")]
    pub guidance_scale: f64,
    #[serde(default = "one")]
    pub frames: usize,
    /// Output size in pixels.
    pub height: usize,
    pub width: usize,
    /// Decode the latents after every step (a live preview), so decoder
    /// problems are tied to a step.
    #[serde(default)]
    pub decode_every_step: bool,
    /// Scheduler options with diffusers' names, or `path` to a scheduler_config.json.
    #[serde(default)]
    pub scheduler: toml::Table,
    /// The `latent-video` family's models.
    #[serde(default)]
    pub models: Models,
    /// The `echomimic-v2` family's weights, inputs, variant and windows.
    #[serde(default)]
    pub echomimic: Option<EchoMimic>,
    #[serde(default)]
    pub inputs: Inputs,
    #[serde(default)]
    pub quantization: Option<Quantization>,
    #[serde(default)]
    pub dump: Dump,
    /// Where the decoded frames are written (safetensors, tensor `frames`).
    #[serde(default)]
    pub output: Option<PathBuf>,
}

fn family_default() -> String {
    "latent-video".into()
}
fn guidance_default() -> f64 {
    1.0
}
fn one() -> usize {
    1
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    /// diffusers UNet2DConditionModel folder (config.json + weights).
    pub unet: PathBuf,
    /// diffusers AutoencoderKL folder.
    pub vae: PathBuf,
}

/// The family names a spec may give.
pub const FAMILIES: &[&str] = &["latent-video", "echomimic-v2"];

/// `[echomimic]`: an EchoMimicV2 generation. Paths are relative to the
/// spec; the model files default to their names in `weights`
/// (EchoMimicV2's `pretrained_weights/` layout) for the chosen variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EchoMimic {
    /// `normal` (infer.py) or `acc` (infer_acc.py).
    #[serde(default = "variant_default")]
    pub variant: String,
    /// The `pretrained_weights/` folder.
    pub weights: PathBuf,
    /// The reference UNet's 2-D diffusers `config.json` the 3-D UNet is
    /// inflated from; `sd-image-variations-diffusers/unet/config.json` under
    /// `weights` when absent.
    pub unet_config: Option<PathBuf>,
    /// The inference YAML (`configs/inference/inference_v2.yaml`) whose
    /// `unet_additional_kwargs` and `noise_scheduler_kwargs` are used; the
    /// values shipped in that file when absent.
    pub inference_config: Option<PathBuf>,
    pub denoising_unet: Option<PathBuf>,
    pub reference_unet: Option<PathBuf>,
    pub motion_module: Option<PathBuf>,
    pub pose_encoder: Option<PathBuf>,
    /// The VAE folder (`sd-vae-ft-mse`).
    pub vae: Option<PathBuf>,
    /// The reference image; a seeded stand-in when absent.
    pub reference_image: Option<PathBuf>,
    /// A folder of per-frame pose `.npy` files; seeded stand-ins when absent.
    pub pose_dir: Option<PathBuf>,
    /// Whisper features per video frame, (frames, …) in a safetensors or
    /// .npy file; seeded stand-ins when absent.
    pub audio_features: Option<PathBuf>,
    #[serde(default = "context_frames_default")]
    pub context_frames: usize,
    #[serde(default = "context_overlap_default")]
    pub context_overlap: usize,
}

fn variant_default() -> String {
    "normal".into()
}
fn context_frames_default() -> usize {
    12
}
fn context_overlap_default() -> usize {
    3
}

/// Longest window the motion modules' position encoding covers
/// (`temporal_position_encoding_max_len` in the shipped YAML).
pub const MAX_CONTEXT_FRAMES: usize = 32;

/// EchoMimicV2's UNet halves the latents three times and the VAE divides
/// pixels by 8: sizes must be multiples of 64.
pub const ECHOMIMIC_SIZE_MULTIPLE: usize = 64;

impl EchoMimic {
    /// The pipeline variant the spec names.
    pub fn pipeline_variant(&self) -> Option<crate::config::Variant> {
        match self.variant.as_str() {
            "normal" => Some(crate::config::Variant::Normal),
            "acc" => Some(crate::config::Variant::Acc),
            _ => None,
        }
    }

    fn paths_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        std::iter::once(&mut self.weights).chain(
            [
                &mut self.unet_config,
                &mut self.inference_config,
                &mut self.denoising_unet,
                &mut self.reference_unet,
                &mut self.motion_module,
                &mut self.pose_encoder,
                &mut self.vae,
                &mut self.reference_image,
                &mut self.pose_dir,
                &mut self.audio_features,
            ]
            .into_iter()
            .flatten(),
        )
    }

    /// Impossible values, named by key, as the reference pipeline would
    /// fail on them (or crash).
    fn validate(&self, frames: usize, height: usize, width: usize, guidance_scale: f64) -> Result<(), String> {
        let variant = self.pipeline_variant().ok_or_else(|| {
            format!("echomimic.variant = {:?} is not a pipeline variant (normal or acc)", self.variant)
        })?;
        if self.context_frames == 0 || self.context_frames > MAX_CONTEXT_FRAMES {
            return Err(format!(
                "echomimic.context_frames = {} is out of range: it must be 1..={MAX_CONTEXT_FRAMES} \
                 (the motion modules' position encoding covers {MAX_CONTEXT_FRAMES} frames)",
                self.context_frames
            ));
        }
        if self.context_overlap == self.context_frames && frames > self.context_frames {
            return Err(format!(
                "echomimic.context_overlap = {} equals context_frames: windows would start every 0 frames \
                 (the reference stops with \"range() arg 3 must not be zero\")",
                self.context_overlap
            ));
        }
        for (key, pixels) in [("height", height), ("width", width)] {
            if !pixels.is_multiple_of(ECHOMIMIC_SIZE_MULTIPLE) {
                return Err(format!(
                    "{key} = {pixels} is not a multiple of {ECHOMIMIC_SIZE_MULTIPLE}: EchoMimicV2's latents \
                     ({key} / 8) must halve evenly through the UNet's three downsampling steps"
                ));
            }
        }
        if variant == crate::config::Variant::Normal && guidance_scale <= 1.0 {
            return Err(format!(
                "guidance_scale = {guidance_scale} with echomimic.variant = \"normal\": the normal pipeline \
                 builds guidance-sized reference banks and crashes without guidance (use cfg > 1, or variant \
                 \"acc\")"
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Initial latents (b, c, f, h, w) or (c, f, h, w); drawn from `seed` when absent.
    pub latents: Option<PathBuf>,
    /// Conditioning (b, tokens, cross_attention_dim); drawn from `seed` when absent.
    pub encoder_hidden_states: Option<PathBuf>,
    /// Unconditional conditioning for guidance; zeros when absent.
    pub negative_encoder_hidden_states: Option<PathBuf>,
    /// Tokens of the conditioning drawn from the seed.
    #[serde(default = "tokens_default")]
    pub tokens: usize,
}

fn tokens_default() -> usize {
    4
}

/// An absent `[inputs]` table means every input is drawn from the seed, with
/// the same token count as an `[inputs]` table that does not set `tokens`
/// (a derived `Default` would give zero tokens, which nothing can attend to).
impl Default for Inputs {
    fn default() -> Self {
        Inputs {
            latents: None,
            encoder_hidden_states: None,
            negative_encoder_hidden_states: None,
            tokens: tokens_default(),
        }
    }
}

/// Most conditioning tokens drawn from the seed (CLIP's context is 77).
pub const MAX_TOKENS: usize = 4096;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantization {
    /// `int8`, `int8-channel`, `int4-g128`, `fp8-e4m3`, `fp16`, `bf16`.
    pub scheme: String,
    /// Module globs to quantize (`vae.decoder.*`); every Linear/Conv when empty.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dump {
    #[serde(default)]
    pub level: Option<DumpLevel>,
    pub dir: Option<PathBuf>,
}

impl Spec {
    /// Reads a spec and resolves its paths against the spec's folder.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let label = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| SpecError::Read { path: label.clone(), why: e.to_string() })?;
        let mut spec: Spec =
            toml::from_str(&text).map_err(|e| SpecError::Invalid { path: label.clone(), why: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in [&mut spec.models.unet, &mut spec.models.vae] {
            if !p.as_os_str().is_empty() {
                resolve(p);
            }
        }
        if let Some(echo) = spec.echomimic.as_mut() {
            echo.paths_mut().for_each(resolve);
        }
        for p in [
            &mut spec.inputs.latents,
            &mut spec.inputs.encoder_hidden_states,
            &mut spec.inputs.negative_encoder_hidden_states,
        ]
        .into_iter()
        .flatten()
        {
            resolve(p);
        }
        if let Some(p) = spec.dump.dir.as_mut() {
            resolve(p);
        }
        if let Some(p) = spec.output.as_mut() {
            resolve(p);
        }
        if let Some(toml::Value::String(p)) = spec.scheduler.get("path") {
            let mut p = PathBuf::from(p);
            resolve(&mut p);
            spec.scheduler.insert("path".into(), toml::Value::String(p.display().to_string()));
        }
        spec.validate(&label)?;
        Ok(spec)
    }

    fn validate(&self, label: &str) -> Result<(), SpecError> {
        let invalid = |why: String| Err(SpecError::Invalid { path: label.to_string(), why });
        match (self.family.as_str(), &self.echomimic) {
            ("latent-video", None) => {
                for (key, path) in [("models.unet", &self.models.unet), ("models.vae", &self.models.vae)] {
                    if path.as_os_str().is_empty() {
                        return invalid(format!("{key} is required for family = \"latent-video\""));
                    }
                }
            }
            ("latent-video", Some(_)) => {
                return invalid("[echomimic] is for family = \"echomimic-v2\", this spec is latent-video".into());
            }
            ("echomimic-v2", None) => return invalid("family = \"echomimic-v2\" needs an [echomimic] table".into()),
            ("echomimic-v2", Some(echo)) => {
                if let Err(why) = echo.validate(self.frames, self.height, self.width, self.guidance_scale) {
                    return invalid(why);
                }
            }
            (other, _) => {
                return invalid(format!("family = {other:?} is not built in ({} are)", FAMILIES.join(", ")));
            }
        }
        if self.steps == 0 || self.steps > 1000 {
            return invalid(format!("steps = {} is out of range: it must be 1..=1000", self.steps));
        }
        if self.frames == 0 || self.frames > 1024 {
            return invalid(format!("frames = {} is out of range: it must be 1..=1024", self.frames));
        }
        for (key, pixels) in [("height", self.height), ("width", self.width)] {
            if pixels == 0 || pixels > 4096 {
                return invalid(format!("{key} = {pixels} is out of range: it must be 1..=4096 pixels"));
            }
        }
        if self.inputs.tokens == 0 || self.inputs.tokens > MAX_TOKENS {
            return invalid(format!(
                "inputs.tokens = {} is out of range: it must be 1..={MAX_TOKENS}",
                self.inputs.tokens
            ));
        }
        if !self.guidance_scale.is_finite() {
            return invalid(format!("guidance_scale = {} must be a finite number", self.guidance_scale));
        }
        Ok(())
    }

    /// The scheduler configuration: the file `path` names, or the inline table.
    pub fn scheduler_config(&self) -> Result<SchedulerConfig, SpecError> {
        let (bytes, label) = match self.scheduler.get("path") {
            Some(toml::Value::String(p)) => {
                let bytes = std::fs::read(p).map_err(|e| SpecError::Read { path: p.clone(), why: e.to_string() })?;
                (bytes, p.clone())
            }
            _ => (serde_json::to_vec(&self.scheduler).unwrap_or_default(), "[scheduler]".to_string()),
        };
        SchedulerConfig::from_json(&bytes).map_err(|e| SpecError::Invalid { path: label, why: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn resolves_paths_and_reads_inline_scheduler() {
        let (dir, path) = write(
            "steps = 3\nheight = 16\nwidth = 16\n[models]\nunet = \"u\"\nvae = \"v\"\n[scheduler]\nbeta_schedule = \"scaled_linear\"\n",
        );
        let spec = Spec::load(&path).unwrap();
        assert_eq!(spec.models.unet, dir.path().join("u"));
        assert_eq!(spec.scheduler_config().unwrap().beta_schedule.as_str(), "scaled_linear");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let (_d, path) = write("steps = 3\nheight = 16\nwidth = 16\nbogus = 1\n[models]\nunet = \"u\"\nvae = \"v\"\n");
        assert!(matches!(Spec::load(&path), Err(SpecError::Invalid { .. })));
        let (_d, path) = write("steps = 0\nheight = 16\nwidth = 16\n[models]\nunet = \"u\"\nvae = \"v\"\n");
        assert!(Spec::load(&path).unwrap_err().to_string().contains("steps"));
    }

    const ECHO: &str = "family = \"echomimic-v2\"\nsteps = 6\nguidance_scale = 1.0\nframes = 24\nheight = 64\nwidth = 64\n\
                        [echomimic]\nvariant = \"acc\"\nweights = \"pretrained_weights\"\n";

    #[test]
    fn echomimic_family_reads_its_table_and_resolves_its_paths() {
        let text = format!("{ECHO}pose_dir = \"pose\"\ncontext_overlap = 14\n");
        let (dir, path) = write(&text);
        let spec = Spec::load(&path).unwrap();
        let echo = spec.echomimic.unwrap();
        assert_eq!(echo.weights, dir.path().join("pretrained_weights"));
        assert_eq!(echo.pose_dir, Some(dir.path().join("pose")));
        assert_eq!(echo.pipeline_variant(), Some(crate::config::Variant::Acc));
        assert_eq!((echo.context_frames, echo.context_overlap), (12, 14), "a gap is a finding, not a refusal");
        assert!(spec.models.unet.as_os_str().is_empty());
    }

    /// Issue #16: values the reference pipeline fails or crashes on are
    /// refused before any work, naming the key.
    #[test]
    fn echomimic_impossible_values_name_their_key() {
        for (text, key) in [
            (ECHO.replace("\"acc\"", "\"fast\""), "echomimic.variant = "),
            (format!("{ECHO}context_frames = 0\n"), "echomimic.context_frames = "),
            (format!("{ECHO}context_frames = 33\n"), "echomimic.context_frames = "),
            (format!("{ECHO}context_overlap = 12\n"), "echomimic.context_overlap = "),
            (ECHO.replace("height = 64", "height = 72"), "height = "),
            (ECHO.replace("\"acc\"", "\"normal\""), "guidance_scale = "),
            (
                ECHO.replace("[echomimic]", "[models]\nunet = \"u\"\nvae = \"v\"\n[echomimic]")
                    .replace("echomimic-v2", "latent-video"),
                "[echomimic]",
            ),
            (ECHO.replace("echomimic-v2", "echomimic-v3"), "family = "),
            ("family = \"echomimic-v2\"\nsteps = 6\nheight = 64\nwidth = 64\n".to_string(), "[echomimic]"),
            ("steps = 6\nheight = 64\nwidth = 64\n".to_string(), "models.unet"),
        ] {
            let (_d, path) = write(&text);
            let err = Spec::load(&path).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        // Overlap equal to the window is fine on a video no longer than a window.
        let (_d, path) = write(&format!("{}context_overlap = 12\n", ECHO.replace("frames = 24", "frames = 12")));
        assert!(Spec::load(&path).is_ok());
    }

    /// Issue #4: an absent `[inputs]` table takes the seeded defaults (four
    /// tokens), and zero tokens, frames or pixels are refused by key.
    #[test]
    fn absent_tables_take_defaults_and_impossible_values_name_their_key() {
        let base = "steps = 3\nheight = 16\nwidth = 16\n[models]\nunet = \"u\"\nvae = \"v\"\n";
        let (_d, path) = write(base);
        let spec = Spec::load(&path).unwrap();
        assert_eq!(spec.inputs.tokens, 4);
        assert_eq!(Inputs::default().tokens, 4);
        for (text, key) in [
            (format!("{base}[inputs]\ntokens = 0\n"), "inputs.tokens"),
            (format!("frames = 0\n{base}"), "frames"),
            (base.replace("height = 16", "height = 0"), "height"),
            (base.replace("width = 16", "width = 5000"), "width"),
        ] {
            let (_d, path) = write(&text);
            let err = Spec::load(&path).unwrap_err().to_string();
            assert!(err.contains(&format!("{key} = ")), "{err}");
        }
    }
}
