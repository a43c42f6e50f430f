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
    /// Pipeline family; `latent-video` (a 2-D UNet applied per frame) is built in.
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
    pub models: Models,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    /// diffusers UNet2DConditionModel folder (config.json + weights).
    pub unet: PathBuf,
    /// diffusers AutoencoderKL folder.
    pub vae: PathBuf,
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
        resolve(&mut spec.models.unet);
        resolve(&mut spec.models.vae);
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
        if self.family != "latent-video" {
            return invalid(format!("family = {:?} is not built in (latent-video is)", self.family));
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
