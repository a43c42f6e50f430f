//! A diffusers `scheduler_config.json`, read the way `DDIMScheduler.from_config`
//! reads it: every option has diffusers' default, keys other schedulers use
//! are kept (and reported) rather than rejected, and option values diffusers
//! does not know are kept as written so the checks can name them.
//!
//! The file is read as Python reads it ([`crate::formats::lenient_json`]):
//! diffusers' `save_config` writes `NaN`, `Infinity` and `-Infinity` bare
//! (DPMSolverMultistepScheduler's `"lambda_min_clipped": -Infinity`), and a
//! non-finite value in an option that matters (a NaN `beta_start`) reaches
//! the checks, which judge it.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::formats::lenient_json::{self, Json};
use crate::formats::lenient_serde::{from_json, last_wins, to_value};

use crate::report::{Finding, Subject};
use crate::rules::replay as rules;

/// Largest configuration file read. Real ones are a few hundred bytes; one
/// with `trained_betas` for 1000 timesteps is about 25 KB.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Largest `num_train_timesteps` accepted. Every model in use trains with
/// 1000; the bound keeps the tables a configuration asks for small.
pub const MAX_TRAIN_TIMESTEPS: u64 = 100_000;

/// The keys `DDIMScheduler.__init__` takes.
pub const DDIM_KEYS: &[&str] = &[
    "num_train_timesteps",
    "beta_start",
    "beta_end",
    "beta_schedule",
    "trained_betas",
    "clip_sample",
    "set_alpha_to_one",
    "steps_offset",
    "prediction_type",
    "thresholding",
    "dynamic_thresholding_ratio",
    "clip_sample_range",
    "sample_max_value",
    "timestep_spacing",
    "rescale_betas_zero_snr",
];

/// How the betas are laid over the training timesteps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BetaSchedule {
    Linear,
    ScaledLinear,
    SquaredcosCapV2,
    /// A value diffusers' DDIMScheduler rejects, as written.
    Other(String),
}

/// What the denoiser predicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PredictionType {
    Epsilon,
    VPrediction,
    Sample,
    Other(String),
}

/// How `set_timesteps` picks inference timesteps from the training ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestepSpacing {
    Leading,
    Trailing,
    Linspace,
    Other(String),
}

macro_rules! named_choice {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub fn parse(name: &str) -> Self {
                match name {
                    $($name => $ty::$variant,)+
                    other => $ty::Other(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($ty::$variant => $name,)+
                    $ty::Other(name) => name,
                }
            }

            #[cfg(test)]
            pub fn is_known(&self) -> bool {
                !matches!(self, $ty::Other(_))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

named_choice!(BetaSchedule { Linear => "linear", ScaledLinear => "scaled_linear", SquaredcosCapV2 => "squaredcos_cap_v2" });
named_choice!(PredictionType { Epsilon => "epsilon", VPrediction => "v_prediction", Sample => "sample" });
named_choice!(TimestepSpacing { Leading => "leading", Trailing => "trailing", Linspace => "linspace" });

/// A scheduler configuration with every option resolved to the value
/// DDIMScheduler uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchedulerConfig {
    /// `_class_name`: the scheduler the file was saved from, if recorded.
    pub class_name: Option<String>,
    /// `_diffusers_version`, if recorded.
    pub diffusers_version: Option<String>,
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub beta_schedule: BetaSchedule,
    pub trained_betas: Option<Vec<f64>>,
    pub prediction_type: PredictionType,
    pub rescale_betas_zero_snr: bool,
    pub timestep_spacing: TimestepSpacing,
    pub steps_offset: i64,
    pub set_alpha_to_one: bool,
    pub clip_sample: bool,
    pub clip_sample_range: f64,
    pub thresholding: bool,
    pub dynamic_thresholding_ratio: f64,
    pub sample_max_value: f64,
    /// DDIM options the file sets explicitly (a `null` counts as unset).
    #[serde(skip)]
    pub explicit: Vec<String>,
    /// Keys DDIMScheduler does not take, with their values; diffusers ignores
    /// them. A non-finite value is kept as the string Python writes (`"-Infinity"`).
    pub unknown_keys: Map<String, Value>,
}

impl Default for SchedulerConfig {
    /// DDIMScheduler's own defaults.
    fn default() -> Self {
        SchedulerConfig {
            class_name: None,
            diffusers_version: None,
            num_train_timesteps: 1000,
            beta_start: 0.0001,
            beta_end: 0.02,
            beta_schedule: BetaSchedule::Linear,
            trained_betas: None,
            prediction_type: PredictionType::Epsilon,
            rescale_betas_zero_snr: false,
            timestep_spacing: TimestepSpacing::Leading,
            steps_offset: 0,
            set_alpha_to_one: true,
            clip_sample: true,
            clip_sample_range: 1.0,
            thresholding: false,
            dynamic_thresholding_ratio: 0.995,
            sample_max_value: 1.0,
            explicit: Vec::new(),
            unknown_keys: Map::new(),
        }
    }
}

/// Why a configuration file could not be read as one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("the top level is {0}, not an object")]
    NotAnObject(&'static str),
    #[error("{key}: {reason}")]
    Field { key: String, reason: String },
    #[error("{0} bytes is too large for a scheduler configuration (at most {MAX_CONFIG_BYTES})")]
    TooLarge(u64),
}

impl SchedulerConfig {
    /// Parses the bytes of a `scheduler_config.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        let value = lenient_json::parse(bytes).map_err(|e| ConfigError::Json(e.to_string()))?;
        let Json::Object(members) = value else {
            return Err(ConfigError::NotAnObject(json_kind(&value)));
        };
        let mut config = SchedulerConfig::default();
        // A repeated key counts once, with its last value, as in Python.
        for (key, value) in last_wins(members) {
            if value == Json::Null {
                continue;
            }
            if DDIM_KEYS.contains(&key.as_str()) {
                config.explicit.push(key.clone());
            }
            match key.as_str() {
                "_class_name" => config.class_name = Some(field(&key, value)?),
                "_diffusers_version" => config.diffusers_version = Some(field(&key, value)?),
                "num_train_timesteps" => {
                    let n: u64 = field(&key, value)?;
                    if n == 0 || n > MAX_TRAIN_TIMESTEPS {
                        return Err(ConfigError::Field {
                            key,
                            reason: format!("{n} is outside 1..={MAX_TRAIN_TIMESTEPS}"),
                        });
                    }
                    config.num_train_timesteps = n as usize;
                }
                "beta_start" => config.beta_start = field(&key, value)?,
                "beta_end" => config.beta_end = field(&key, value)?,
                "beta_schedule" => config.beta_schedule = BetaSchedule::parse(&field::<String>(&key, value)?),
                "trained_betas" => config.trained_betas = Some(field(&key, value)?),
                "prediction_type" => config.prediction_type = PredictionType::parse(&field::<String>(&key, value)?),
                "rescale_betas_zero_snr" => config.rescale_betas_zero_snr = field(&key, value)?,
                "timestep_spacing" => config.timestep_spacing = TimestepSpacing::parse(&field::<String>(&key, value)?),
                "steps_offset" => config.steps_offset = field(&key, value)?,
                "set_alpha_to_one" => config.set_alpha_to_one = field(&key, value)?,
                "clip_sample" => config.clip_sample = field(&key, value)?,
                "clip_sample_range" => config.clip_sample_range = field(&key, value)?,
                "thresholding" => config.thresholding = field(&key, value)?,
                "dynamic_thresholding_ratio" => config.dynamic_thresholding_ratio = field(&key, value)?,
                "sample_max_value" => config.sample_max_value = field(&key, value)?,
                // diffusers' own bookkeeping keys carry no scheduler option.
                k if k.starts_with('_') => {}
                _ => {
                    config.unknown_keys.insert(key, to_value(value));
                }
            }
        }
        Ok(config)
    }

    /// Whether the file sets `key` itself rather than leaving the default.
    pub fn is_explicit(&self, key: &str) -> bool {
        self.explicit.iter().any(|k| k == key)
    }
}

fn field<T: DeserializeOwned>(key: &str, value: Json) -> Result<T, ConfigError> {
    let kind = json_kind(&value);
    from_json(value).map_err(|e| ConfigError::Field { key: key.to_string(), reason: format!("{e} (found {kind})") })
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Integer(_) | Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Reads a configuration file. A file that cannot be read is an `F111`
/// finding; one that is not a scheduler configuration is `R101`.
pub fn load_config(path: &Path) -> Result<SchedulerConfig, Box<Finding>> {
    let label = path.display().to_string();
    let unreadable =
        |why: String| Box::new(crate::formats::unreadable_file(&label, format!("cannot read {label}: {why}")));
    let invalid = |err: ConfigError| {
        Box::new(
            Finding::new(
                &rules::SCHEDULER_CONFIG_INVALID,
                format!("{label} is not a usable scheduler configuration: {err}"),
            )
            .with_subject(Subject::file(label.clone())),
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if meta.is_dir() {
        return Err(unreadable("it is a directory".into()));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(invalid(ConfigError::TooLarge(meta.len())));
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    SchedulerConfig::from_json(&bytes).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_ddim_defaults() {
        let config = SchedulerConfig::from_json(b"{}").unwrap();
        assert_eq!(config, SchedulerConfig::default());
        assert!(config.clip_sample && config.set_alpha_to_one);
        assert_eq!(config.timestep_spacing, TimestepSpacing::Leading);
    }

    #[test]
    fn keeps_unknown_keys_and_values() {
        let text = br#"{"_class_name": "PNDMScheduler", "skip_prk_steps": true, "beta_schedule": "cosine",
                        "trained_betas": null, "steps_offset": 1}"#;
        let config = SchedulerConfig::from_json(text).unwrap();
        assert_eq!(config.class_name.as_deref(), Some("PNDMScheduler"));
        assert_eq!(config.unknown_keys.get("skip_prk_steps"), Some(&Value::Bool(true)));
        assert_eq!(config.beta_schedule, BetaSchedule::Other("cosine".into()));
        assert!(config.trained_betas.is_none());
        assert!(config.is_explicit("steps_offset") && !config.is_explicit("trained_betas"));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let err = SchedulerConfig::from_json(br#"{"num_train_timesteps": "1000"}"#).unwrap_err();
        assert!(matches!(&err, ConfigError::Field { key, .. } if key == "num_train_timesteps"), "{err}");
        let err = SchedulerConfig::from_json(br#"{"num_train_timesteps": 0}"#).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        assert_eq!(SchedulerConfig::from_json(b"[1]").unwrap_err(), ConfigError::NotAnObject("an array"));
        assert!(matches!(SchedulerConfig::from_json(b"{\"a\":").unwrap_err(), ConfigError::Json(_)));
    }

    // Issue #4 of the real-world-files issue: diffusers writes bare -Infinity.
    #[test]
    fn python_non_finite_literals_are_read() {
        let text = br#"{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity,
                        "beta_start": NaN, "beta_end": Infinity, "trained_betas": [0.1, NaN],
                        "timestep_spacing": "NaN", "steps_offset": 1, "steps_offset": 2}"#;
        let config = SchedulerConfig::from_json(text).unwrap();
        assert_eq!(config.unknown_keys.get("lambda_min_clipped"), Some(&Value::String("-Infinity".into())));
        assert!(config.beta_start.is_nan());
        assert_eq!(config.beta_end, f64::INFINITY);
        assert!(config.trained_betas.as_ref().unwrap()[1].is_nan());
        assert_eq!(config.timestep_spacing, TimestepSpacing::Other("NaN".into()));
        assert_eq!(config.steps_offset, 2);
        assert_eq!(config.explicit.iter().filter(|k| *k == "steps_offset").count(), 1);
        assert!(matches!(SchedulerConfig::from_json(b"{\"beta_start\": nan}").unwrap_err(), ConfigError::Json(_)));
    }

    #[test]
    fn choices_round_trip_their_names() {
        for name in ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"] {
            assert_eq!(BetaSchedule::parse(name).as_str(), name);
        }
        assert!(PredictionType::parse("v_prediction").is_known());
        assert!(!TimestepSpacing::parse("karras").is_known());
    }
}
