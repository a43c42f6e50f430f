//! From a spec with `family = "echomimic-v2"` to what the replay needs
//! before any model is built: the weight files (the layout's names for the
//! variant, overridden by the spec), the inference configuration, the 2-D
//! UNet configuration, the scheduler, the window plan, and the findings
//! that can be made before running (frames no window covers).

use std::path::PathBuf;

use serde_json::Value;

use super::context::{WindowPlan, plan_findings};
use super::inference::{InferenceConfig, read_unet_config};
use super::weights::{Layout, MergedWeights, StateDict};
use crate::config::Variant;
use crate::replay::engine::EngineError;
use crate::replay::scheduler::{DdimScheduler, Scheduler};
use crate::replay::spec::Spec;
use crate::report::Finding;

type Result<T> = std::result::Result<T, EngineError>;

pub(crate) struct Prepared {
    pub(crate) variant: Variant,
    pub(crate) layout: Layout,
    pub(crate) inference: InferenceConfig,
    /// The 2-D diffusers config the 3-D UNet is inflated from.
    pub(crate) unet_config: Value,
    pub(crate) scheduler: DdimScheduler,
    pub(crate) plan: WindowPlan,
    /// Findings made before running.
    pub(crate) findings: Vec<Finding>,
}

pub(crate) fn prepare(spec: &Spec) -> Result<Prepared> {
    let input = |why: String| EngineError::Input(why);
    let echo = spec.echomimic.as_ref().ok_or_else(|| input("the spec has no [echomimic] table".into()))?;
    let variant = echo.pipeline_variant().ok_or_else(|| input(format!("unknown variant {:?}", echo.variant)))?;
    let mut layout = Layout::in_folder(&echo.weights, variant);
    for (slot, given) in [
        (&mut layout.denoising_unet, &echo.denoising_unet),
        (&mut layout.reference_unet, &echo.reference_unet),
        (&mut layout.motion_module, &echo.motion_module),
        (&mut layout.pose_encoder, &echo.pose_encoder),
        (&mut layout.vae, &echo.vae),
    ] {
        if let Some(path) = given {
            *slot = path.clone();
        }
    }
    let inference = match &echo.inference_config {
        Some(path) => InferenceConfig::read(path)?,
        None => InferenceConfig::shipped(),
    };
    let unet_config_path: PathBuf =
        echo.unet_config.clone().unwrap_or_else(|| echo.weights.join("sd-image-variations-diffusers/unet/config.json"));
    let unet_config = read_unet_config(&unet_config_path)?;
    let mut scheduler = DdimScheduler::new(&inference.scheduler_config()?).map_err(|e| input(e.to_string()))?;
    scheduler.set_timesteps(spec.steps).map_err(|e| input(e.to_string()))?;
    let plan =
        WindowPlan::new(spec.frames, echo.context_frames, echo.context_overlap).map_err(|e| input(e.to_string()))?;
    let findings = plan_findings(&plan);
    Ok(Prepared { variant, layout, inference, unet_config, scheduler, plan, findings })
}

impl Prepared {
    /// The denoising UNet's sources in the reference's load order: the
    /// motion module (when its file exists), then `denoising_unet*.pth`.
    pub(crate) fn denoising_weights(&self) -> Result<MergedWeights> {
        let mut sources = Vec::new();
        if self.layout.motion_module.is_file() {
            sources.push(StateDict::open(&self.layout.motion_module)?);
        }
        sources.push(StateDict::open(&self.layout.denoising_unet)?);
        Ok(MergedWeights { sources })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn demo(edit: impl Fn(String) -> String) -> (tempfile::TempDir, Spec) {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay/echomimic");
        let text = std::fs::read_to_string(base.join("demo.toml")).unwrap();
        let text = edit(text.replace("\"demo/", &format!("\"{}/demo/", base.display())));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.toml");
        std::fs::write(&path, text).unwrap();
        let spec = Spec::load(&path).unwrap();
        (dir, spec)
    }

    #[test]
    fn the_demo_spec_prepares_its_files_scheduler_and_windows() {
        let (_d, spec) = demo(|t| t);
        let prepared = prepare(&spec).unwrap();
        assert_eq!(prepared.variant, Variant::Acc);
        assert!(prepared.layout.denoising_unet.ends_with("denoising_unet.pth"), "the spec's override wins");
        assert_eq!(prepared.scheduler.timesteps(), &[999, 832, 666, 499, 332, 166]);
        assert_eq!(prepared.plan.windows.len(), 3);
        assert!(prepared.findings.is_empty());
        assert_eq!(prepared.unet_config["cross_attention_dim"], 16);
        assert_eq!(prepared.inference.unet_additional_kwargs["motion_module_mid_block"], true);
        let weights = prepared.denoising_weights().unwrap();
        assert_eq!(weights.sources.len(), 2);
    }

    /// Issue #16: the zero-window configuration is a finding before the
    /// run, naming every frame.
    #[test]
    fn an_overlap_beyond_the_window_is_found_before_running() {
        let (_d, spec) = demo(|t| t.replace("context_overlap = 1", "context_overlap = 6"));
        let prepared = prepare(&spec).unwrap();
        let codes: Vec<&str> = prepared.findings.iter().map(|f| f.code()).collect();
        assert_eq!(codes, vec!["R143"]);
        assert!(prepared.findings[0].message.contains("8 of 8 frames (0–7)"), "{}", prepared.findings[0].message);
    }
}
