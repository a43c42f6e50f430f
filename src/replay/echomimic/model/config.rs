//! The UNet configuration EchoMimicV2 builds: the 2-D diffusers `config.json`
//! of the reference UNet, inflated with the `unet_additional_kwargs` of the
//! inference YAML (`from_config(config, **unet_additional_kwargs)`: the
//! keyword arguments win over the file).

use serde::Deserialize;
use serde_json::Value;

/// Bounds far above any real model, so a crafted configuration cannot make
/// the engine build millions of modules.
const MAX_BLOCKS: usize = 8;
const MAX_LAYERS: usize = 16;

/// A configuration the model cannot be built from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unsupported EchoMimicV2 UNet configuration: {0}")]
pub(crate) struct UnsupportedConfig(pub(crate) String);

fn unsupported(why: impl Into<String>) -> UnsupportedConfig {
    UnsupportedConfig(why.into())
}

/// `motion_module_kwargs` of the inference YAML, with `VanillaTemporalModule`'s defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub(crate) struct MotionModuleKwargs {
    pub(crate) num_attention_heads: usize,
    pub(crate) num_transformer_block: usize,
    pub(crate) attention_block_types: Vec<String>,
    pub(crate) temporal_position_encoding: bool,
    pub(crate) temporal_position_encoding_max_len: usize,
    pub(crate) temporal_attention_dim_div: usize,
    pub(crate) zero_initialize: bool,
}

impl Default for MotionModuleKwargs {
    fn default() -> Self {
        MotionModuleKwargs {
            num_attention_heads: 8,
            num_transformer_block: 2,
            attention_block_types: vec!["Temporal_Self".into(), "Temporal_Self".into()],
            temporal_position_encoding: false,
            temporal_position_encoding_max_len: 24,
            temporal_attention_dim_div: 1,
            zero_initialize: true,
        }
    }
}

/// `unet_additional_kwargs` of `configs/inference/inference_v2.yaml`, with
/// `EMOUNet3DConditionModel`'s defaults for what the file leaves out.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub(crate) struct AdditionalKwargs {
    pub(crate) use_inflated_groupnorm: bool,
    pub(crate) unet_use_cross_frame_attention: Option<bool>,
    pub(crate) unet_use_temporal_attention: Option<bool>,
    pub(crate) use_motion_module: bool,
    pub(crate) cross_attention_dim: Option<usize>,
    pub(crate) motion_module_resolutions: Vec<usize>,
    pub(crate) motion_module_mid_block: bool,
    pub(crate) motion_module_decoder_only: bool,
    pub(crate) motion_module_type: Option<String>,
    pub(crate) motion_module_kwargs: MotionModuleKwargs,
}

impl Default for AdditionalKwargs {
    fn default() -> Self {
        AdditionalKwargs {
            use_inflated_groupnorm: false,
            unet_use_cross_frame_attention: None,
            unet_use_temporal_attention: None,
            use_motion_module: false,
            cross_attention_dim: None,
            motion_module_resolutions: vec![1, 2, 4, 8],
            motion_module_mid_block: false,
            motion_module_decoder_only: false,
            motion_module_type: None,
            motion_module_kwargs: MotionModuleKwargs::default(),
        }
    }
}

/// The temporal transformer placed after each block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MotionConfig {
    pub(crate) heads: usize,
    pub(crate) layers: usize,
    /// One temporal self-attention per entry of `attention_block_types`.
    pub(crate) attentions: usize,
    /// `Some(max_len)` when sinusoidal position encoding is on.
    pub(crate) position_encoding: Option<usize>,
    pub(crate) dim_div: usize,
}

/// What the EchoMimicV2 UNets need from their configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub(crate) struct UnetConfig {
    pub(crate) in_channels: usize,
    pub(crate) out_channels: usize,
    pub(crate) block_out_channels: Vec<usize>,
    /// Per down block: whether it carries transformers (`CrossAttnDownBlock*`).
    pub(crate) down_attention: Vec<bool>,
    /// Per up block: whether it carries transformers (`CrossAttnUpBlock*`).
    pub(crate) up_attention: Vec<bool>,
    pub(crate) layers_per_block: usize,
    pub(crate) norm_num_groups: usize,
    pub(crate) norm_eps: f64,
    /// Attention heads per down block (diffusers' `attention_head_dim`).
    pub(crate) heads: Vec<usize>,
    /// Width of the audio features the denoising UNet's `attn2` reads.
    pub(crate) cross_attention_dim: usize,
    pub(crate) use_linear_projection: bool,
    pub(crate) flip_sin_to_cos: bool,
    pub(crate) freq_shift: f64,
    pub(crate) downsample_padding: usize,
    pub(crate) mid_block_scale_factor: f64,
    pub(crate) use_inflated_groupnorm: bool,
    /// `None` when the UNet has no motion modules.
    pub(crate) motion: Option<MotionConfig>,
    pub(crate) motion_module_resolutions: Vec<usize>,
    pub(crate) motion_module_mid_block: bool,
    pub(crate) motion_module_decoder_only: bool,
    /// The factor on the audio cross-attention (`audio_feature_ratio`, 3.0
    /// in the reference attention hook).
    pub(crate) audio_scale: f64,
}

fn count(v: &Value, what: &str) -> Result<usize, UnsupportedConfig> {
    v.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| unsupported(format!("{what}: {v} is not a count")))
}

fn field<'a>(config: &'a Value, name: &str) -> Option<&'a Value> {
    config.get(name).filter(|v| !v.is_null())
}

fn usize_or(config: &Value, name: &str, default: usize) -> Result<usize, UnsupportedConfig> {
    field(config, name).map_or(Ok(default), |v| count(v, name))
}

fn f64_or(config: &Value, name: &str, default: f64) -> Result<f64, UnsupportedConfig> {
    field(config, name)
        .map_or(Some(default), Value::as_f64)
        .ok_or_else(|| unsupported(format!("{name} is not a number")))
}

fn bool_or(config: &Value, name: &str, default: bool) -> Result<bool, UnsupportedConfig> {
    field(config, name)
        .map_or(Some(default), Value::as_bool)
        .ok_or_else(|| unsupported(format!("{name} is not a bool")))
}

fn strings(config: &Value, name: &str) -> Result<Vec<String>, UnsupportedConfig> {
    let items = field(config, name)
        .and_then(Value::as_array)
        .ok_or_else(|| unsupported(format!("{name} is missing or not a list")))?;
    items
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(|| unsupported(format!("{name}: {v} is not a name"))))
        .collect()
}

/// A per-block setting given as one number or one per block.
fn per_block(
    value: Option<&Value>,
    blocks: usize,
    fallback: usize,
    what: &str,
) -> Result<Vec<usize>, UnsupportedConfig> {
    match value {
        None => Ok(vec![fallback; blocks]),
        Some(Value::Array(items)) if items.len() == blocks => items.iter().map(|v| count(v, what)).collect(),
        Some(Value::Array(_)) => Err(unsupported(format!("{what} does not give one value per block"))),
        Some(v) => Ok(vec![count(v, what)?; blocks]),
    }
}

/// Whether a block type carries transformers; the 2-D names and the 3-D
/// names `from_pretrained_2d` writes in their place are both accepted.
fn has_attention(kind: &str, down: bool) -> Result<bool, UnsupportedConfig> {
    let base = kind.strip_suffix("2D").or_else(|| kind.strip_suffix("3D")).unwrap_or(kind);
    match (base, down) {
        ("CrossAttnDownBlock", true) | ("CrossAttnUpBlock", false) => Ok(true),
        ("DownBlock", true) | ("UpBlock", false) => Ok(false),
        _ => Err(unsupported(format!("block type {kind}"))),
    }
}

impl UnetConfig {
    /// The denoising UNet: the 2-D `config.json` inflated with the YAML's
    /// `unet_additional_kwargs`.
    pub(crate) fn from_parts(config_json: &Value, additional: &AdditionalKwargs) -> Result<Self, UnsupportedConfig> {
        let mut config = Self::two_d(config_json)?;
        if let Some(dim) = additional.cross_attention_dim {
            config.cross_attention_dim = dim;
        }
        config.use_inflated_groupnorm = additional.use_inflated_groupnorm;
        if additional.unet_use_cross_frame_attention == Some(true)
            || additional.unet_use_temporal_attention == Some(true)
        {
            return Err(unsupported("unet_use_cross_frame_attention and unet_use_temporal_attention must be false"));
        }
        if additional.use_motion_module {
            match additional.motion_module_type.as_deref() {
                Some("Vanilla") => {}
                other => return Err(unsupported(format!("motion_module_type {other:?} (only Vanilla exists)"))),
            }
            let kw = &additional.motion_module_kwargs;
            if kw.attention_block_types.iter().any(|t| t != "Temporal_Self") {
                return Err(unsupported("motion module attention blocks other than Temporal_Self"));
            }
            if kw.num_transformer_block == 0 || kw.num_transformer_block > MAX_LAYERS {
                return Err(unsupported("motion module num_transformer_block out of range"));
            }
            if kw.attention_block_types.len() > MAX_LAYERS {
                return Err(unsupported("too many motion module attention blocks"));
            }
            if kw.num_attention_heads == 0 || kw.temporal_attention_dim_div == 0 {
                return Err(unsupported("motion module heads and temporal_attention_dim_div must be positive"));
            }
            if kw.temporal_position_encoding_max_len > 4096 {
                return Err(unsupported("temporal_position_encoding_max_len over 4096"));
            }
            config.motion = Some(MotionConfig {
                heads: kw.num_attention_heads,
                layers: kw.num_transformer_block,
                attentions: kw.attention_block_types.len(),
                position_encoding: kw.temporal_position_encoding.then_some(kw.temporal_position_encoding_max_len),
                dim_div: kw.temporal_attention_dim_div,
            });
            config.motion_module_resolutions = additional.motion_module_resolutions.clone();
            config.motion_module_mid_block = additional.motion_module_mid_block;
            config.motion_module_decoder_only = additional.motion_module_decoder_only;
            for (i, &ch) in config.block_out_channels.iter().enumerate() {
                let any = config.down_motion(i) || config.up_motion(config.block_out_channels.len() - 1 - i);
                if any
                    && (!ch.is_multiple_of(32)
                        || !ch.is_multiple_of(kw.num_attention_heads * kw.temporal_attention_dim_div))
                {
                    return Err(unsupported(format!(
                        "block {i}: a motion module over {ch} channels needs a multiple of 32 (its GroupNorm) and of its heads"
                    )));
                }
            }
        }
        Ok(config)
    }

    /// The reference UNet: the 2-D `config.json` as it is.
    pub(crate) fn reference(config_json: &Value) -> Result<Self, UnsupportedConfig> {
        Self::two_d(config_json)
    }

    fn two_d(c: &Value) -> Result<Self, UnsupportedConfig> {
        let block_out_channels: Vec<usize> = field(c, "block_out_channels")
            .and_then(Value::as_array)
            .ok_or_else(|| unsupported("block_out_channels is missing"))?
            .iter()
            .map(|v| count(v, "block_out_channels"))
            .collect::<Result<_, _>>()?;
        let blocks = block_out_channels.len();
        let down_types = strings(c, "down_block_types")?;
        let up_types = strings(c, "up_block_types")?;
        if blocks == 0 || blocks > MAX_BLOCKS || down_types.len() != blocks || up_types.len() != blocks {
            return Err(unsupported("block_out_channels, down_block_types and up_block_types differ in length"));
        }
        let mid = field(c, "mid_block_type").and_then(Value::as_str).unwrap_or("UNetMidBlock2DCrossAttn");
        if !matches!(mid, "UNetMidBlock2DCrossAttn" | "UNetMidBlock3DCrossAttn") {
            return Err(unsupported(format!("mid_block_type {mid}")));
        }
        for name in ["class_embed_type", "addition_embed_type", "time_cond_proj_dim", "num_class_embeds"] {
            if field(c, name).is_some() {
                return Err(unsupported(format!("{name} is set")));
            }
        }
        let layers_per_block = usize_or(c, "layers_per_block", 2)?;
        if layers_per_block == 0 || layers_per_block > MAX_LAYERS {
            return Err(unsupported("layers_per_block out of range"));
        }
        if field(c, "transformer_layers_per_block").is_some_and(|v| v.as_u64() != Some(1)) {
            return Err(unsupported("transformer_layers_per_block other than 1"));
        }
        let norm_num_groups = usize_or(c, "norm_num_groups", 32)?;
        // diffusers' naming quirk: `attention_head_dim` is the head count.
        let heads_value = field(c, "num_attention_heads").or_else(|| field(c, "attention_head_dim"));
        let heads = per_block(heads_value, blocks, 8, "attention heads")?;
        for (i, (&ch, &h)) in block_out_channels.iter().zip(&heads).enumerate() {
            if ch == 0 || norm_num_groups == 0 || !ch.is_multiple_of(norm_num_groups) {
                return Err(unsupported(format!("block {i}: {ch} channels in {norm_num_groups} groups")));
            }
            if h == 0 || !ch.is_multiple_of(h) {
                return Err(unsupported(format!("block {i}: {ch} channels over {h} heads")));
            }
        }
        let downsample_padding = usize_or(c, "downsample_padding", 1)?;
        if downsample_padding != 1 {
            return Err(unsupported("downsample_padding other than 1"));
        }
        Ok(UnetConfig {
            in_channels: usize_or(c, "in_channels", 4)?,
            out_channels: usize_or(c, "out_channels", 4)?,
            down_attention: down_types.iter().map(|t| has_attention(t, true)).collect::<Result<_, _>>()?,
            up_attention: up_types.iter().map(|t| has_attention(t, false)).collect::<Result<_, _>>()?,
            block_out_channels,
            layers_per_block,
            norm_num_groups,
            norm_eps: f64_or(c, "norm_eps", 1e-5)?,
            heads,
            cross_attention_dim: usize_or(c, "cross_attention_dim", 1280)?,
            use_linear_projection: bool_or(c, "use_linear_projection", false)?,
            flip_sin_to_cos: bool_or(c, "flip_sin_to_cos", true)?,
            freq_shift: f64_or(c, "freq_shift", 0.0)?,
            downsample_padding,
            mid_block_scale_factor: f64_or(c, "mid_block_scale_factor", 1.0)?,
            use_inflated_groupnorm: false,
            motion: None,
            motion_module_resolutions: Vec::new(),
            motion_module_mid_block: false,
            motion_module_decoder_only: false,
            audio_scale: 3.0,
        })
    }

    /// Whether down block `i` ends its layers with motion modules
    /// (resolution `2^i` listed, and not decoder-only).
    pub(crate) fn down_motion(&self, i: usize) -> bool {
        self.motion.is_some()
            && !self.motion_module_decoder_only
            && u32::try_from(i)
                .ok()
                .and_then(|i| 1usize.checked_shl(i))
                .is_some_and(|r| self.motion_module_resolutions.contains(&r))
    }

    /// Whether up block `i` has motion modules. The reference numbers up
    /// resolutions `2^(3 - i)` whatever the block count.
    pub(crate) fn up_motion(&self, i: usize) -> bool {
        self.motion.is_some()
            && 3usize
                .checked_sub(i)
                .and_then(|e| u32::try_from(e).ok())
                .and_then(|e| 1usize.checked_shl(e))
                .is_some_and(|r| self.motion_module_resolutions.contains(&r))
    }

    pub(crate) fn mid_motion(&self) -> bool {
        self.motion.is_some() && self.motion_module_mid_block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd_config() -> Value {
        serde_json::json!({
            "block_out_channels": [320, 640, 1280, 1280],
            "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
            "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
            "attention_head_dim": 8,
            "cross_attention_dim": 768,
            "layers_per_block": 2,
        })
    }

    fn inference_v2() -> AdditionalKwargs {
        AdditionalKwargs {
            use_inflated_groupnorm: true,
            unet_use_cross_frame_attention: Some(false),
            unet_use_temporal_attention: Some(false),
            use_motion_module: true,
            cross_attention_dim: Some(384),
            motion_module_mid_block: true,
            motion_module_type: Some("Vanilla".into()),
            motion_module_kwargs: MotionModuleKwargs {
                num_transformer_block: 1,
                temporal_position_encoding: true,
                temporal_position_encoding_max_len: 32,
                ..MotionModuleKwargs::default()
            },
            ..AdditionalKwargs::default()
        }
    }

    #[test]
    fn inference_v2_inflates_the_sd_config() {
        let c = UnetConfig::from_parts(&sd_config(), &inference_v2()).unwrap();
        assert_eq!(c.cross_attention_dim, 384);
        assert_eq!(c.heads, vec![8; 4]);
        assert_eq!(c.down_attention, vec![true, true, true, false]);
        assert!((0..4).all(|i| c.down_motion(i) && c.up_motion(i)) && c.mid_motion());
        let m = c.motion.unwrap();
        assert_eq!((m.heads, m.layers, m.attentions, m.position_encoding), (8, 1, 2, Some(32)));
    }

    #[test]
    fn the_yaml_reads_into_additional_kwargs() {
        let yaml = serde_json::json!({
            "use_inflated_groupnorm": true, "use_motion_module": true, "cross_attention_dim": 384,
            "motion_module_type": "Vanilla", "motion_module_mid_block": true,
            "motion_module_kwargs": {"num_attention_heads": 8, "num_transformer_block": 1,
                "attention_block_types": ["Temporal_Self", "Temporal_Self"],
                "temporal_position_encoding": true, "temporal_position_encoding_max_len": 32}
        });
        let kw: AdditionalKwargs = serde_json::from_value(yaml).unwrap();
        assert_eq!(kw.motion_module_kwargs.temporal_attention_dim_div, 1);
        assert_eq!(
            UnetConfig::from_parts(&sd_config(), &kw).unwrap(),
            UnetConfig::from_parts(&sd_config(), &inference_v2()).unwrap()
        );
    }

    #[test]
    fn crafted_configs_are_refused() {
        let mut c = sd_config();
        c["block_out_channels"] = serde_json::json!([320, 640, 1280, 1000]);
        assert!(UnetConfig::reference(&c).is_err());
        let mut c = sd_config();
        c["layers_per_block"] = serde_json::json!(100000);
        assert!(UnetConfig::reference(&c).is_err());
        let mut kw = inference_v2();
        kw.motion_module_type = Some("Conv".into());
        assert!(UnetConfig::from_parts(&sd_config(), &kw).is_err());
        let mut kw = inference_v2();
        kw.motion_module_kwargs.num_attention_heads = 0;
        assert!(UnetConfig::from_parts(&sd_config(), &kw).is_err());
    }
}
