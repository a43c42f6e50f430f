//! The inference YAML (`configs/inference/inference_v2.yaml`): the
//! `unet_additional_kwargs` the 3-D UNet is inflated with and the
//! `noise_scheduler_kwargs` of its DDIM scheduler, read with the bounded
//! YAML reader `config check` uses.

use std::path::Path;

use serde_json::{Value, json};

use crate::config::yaml;
use crate::replay::engine::EngineError;
use crate::replay::scheduler::SchedulerConfig;

type Result<T> = std::result::Result<T, EngineError>;

/// Largest 2-D UNet `config.json` read.
const MAX_JSON_BYTES: u64 = 1 << 20;

/// The two tables of the inference YAML the replay needs, as JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InferenceConfig {
    pub(crate) unet_additional_kwargs: Value,
    pub(crate) noise_scheduler_kwargs: Value,
}

impl InferenceConfig {
    /// The values EchoMimicV2 ships in `inference_v2.yaml`.
    pub(crate) fn shipped() -> InferenceConfig {
        InferenceConfig {
            unet_additional_kwargs: json!({
                "use_inflated_groupnorm": true,
                "unet_use_cross_frame_attention": false,
                "unet_use_temporal_attention": false,
                "use_motion_module": true,
                "cross_attention_dim": 384,
                "motion_module_resolutions": [1, 2, 4, 8],
                "motion_module_mid_block": true,
                "motion_module_decoder_only": false,
                "motion_module_type": "Vanilla",
                "motion_module_kwargs": {
                    "num_attention_heads": 8,
                    "num_transformer_block": 1,
                    "attention_block_types": ["Temporal_Self", "Temporal_Self"],
                    "temporal_position_encoding": true,
                    "temporal_position_encoding_max_len": 32,
                    "temporal_attention_dim_div": 1
                }
            }),
            noise_scheduler_kwargs: json!({
                "beta_start": 0.00085,
                "beta_end": 0.012,
                "beta_schedule": "linear",
                "clip_sample": false,
                "steps_offset": 1,
                "prediction_type": "v_prediction",
                "rescale_betas_zero_snr": true,
                "timestep_spacing": "trailing"
            }),
        }
    }

    /// Reads the two tables from an inference YAML; a table the file lacks
    /// is an error naming it.
    pub(crate) fn read(path: &Path) -> Result<InferenceConfig> {
        let label = path.display().to_string();
        let read = |why: String| EngineError::Read { path: label.clone(), why };
        let text = read_bounded(path, yaml::MAX_BYTES).map_err(read)?;
        let doc = yaml::parse(&text).map_err(|e| read(e.to_string()))?;
        let table = |key: &str| -> Result<Value> {
            match doc.get(key).map(yaml::Node::to_json) {
                Some(value @ Value::Object(_)) => Ok(value),
                Some(_) => Err(read(format!("{key} is not a mapping"))),
                None => Err(read(format!("no {key} in the file"))),
            }
        };
        Ok(InferenceConfig {
            unet_additional_kwargs: table("unet_additional_kwargs")?,
            noise_scheduler_kwargs: table("noise_scheduler_kwargs")?,
        })
    }

    /// The DDIM configuration of `noise_scheduler_kwargs`.
    pub(crate) fn scheduler_config(&self) -> Result<SchedulerConfig> {
        let bytes = serde_json::to_vec(&self.noise_scheduler_kwargs).unwrap_or_default();
        SchedulerConfig::from_json(&bytes).map_err(|e| EngineError::Input(format!("noise_scheduler_kwargs: {e}")))
    }
}

/// Reads the 2-D UNet `config.json` the 3-D UNet is inflated from.
pub(crate) fn read_unet_config(path: &Path) -> Result<Value> {
    let label = path.display().to_string();
    let read = |why: String| EngineError::Read { path: label.clone(), why };
    let text = read_bounded(path, MAX_JSON_BYTES).map_err(read)?;
    match serde_json::from_str(&text).map_err(|e| read(e.to_string()))? {
        value @ Value::Object(_) => Ok(value),
        _ => Err(read("the top level is not an object".into())),
    }
}

fn read_bounded(path: &Path, limit: u64) -> std::result::Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > limit {
        return Err(format!("{} bytes is more than the {limit} accepted", meta.len()));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::scheduler::{PredictionType, TimestepSpacing};

    const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/replay/echomimic/demo");

    #[test]
    fn the_demo_yaml_gives_kwargs_and_a_zero_snr_v_prediction_scheduler() {
        let config = InferenceConfig::read(&Path::new(DEMO).join("configs/inference_v2.yaml")).unwrap();
        assert_eq!(config.unet_additional_kwargs["cross_attention_dim"], 16);
        assert_eq!(config.unet_additional_kwargs["motion_module_kwargs"]["num_attention_heads"], 4);
        let scheduler = config.scheduler_config().unwrap();
        assert_eq!(scheduler.prediction_type, PredictionType::VPrediction);
        assert_eq!(scheduler.timestep_spacing, TimestepSpacing::Trailing);
        assert!(scheduler.rescale_betas_zero_snr);
        assert_eq!(InferenceConfig::shipped().scheduler_config().unwrap(), scheduler);
        let unet = read_unet_config(
            &Path::new(DEMO).join("pretrained_weights/sd-image-variations-diffusers/unet/config.json"),
        )
        .unwrap();
        assert_eq!(unet["block_out_channels"], json!([32, 32]));
    }

    #[test]
    fn a_yaml_without_the_tables_names_the_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inference.yaml");
        std::fs::write(&path, "unet_additional_kwargs:\n  use_motion_module: true\n").unwrap();
        let err = InferenceConfig::read(&path).unwrap_err().to_string();
        assert!(err.contains("no noise_scheduler_kwargs"), "{err}");
        std::fs::write(&path, "unet_additional_kwargs: [1\n").unwrap();
        assert!(InferenceConfig::read(&path).is_err());
    }
}
