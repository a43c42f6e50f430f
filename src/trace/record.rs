//! The records of a dump: one per observed tensor, in execution order.
//!
//! These types are the wire format of `records.jsonl` (see
//! `docs/dump-format.md`). Every statistic is optional on reading, because a
//! probe may know only part of them (input statistics are often only the
//! non-finite counts and `absmax`); writers fill what they know.

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::numerics::{DType, TensorStats};

/// The value of the manifest's `format` field.
pub const FORMAT_NAME: &str = "nanscope-dump";
/// The dump layout version this nanscope writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The records file a writer creates next to `manifest.json`.
pub const RECORDS_FILE: &str = "records.jsonl";

/// Where in the run a record was observed. Names follow the report's
/// subject keys so findings copy them unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Pipeline component, e.g. `unet`, `vae.decode`, `scheduler`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// 0-based denoising step; absent outside the denoising loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestep: Option<f64>,
    /// Inclusive range of video frames the tensor covers, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<[u64; 2]>,
}

/// Statistics with the report contract's names; absent means unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nan: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pos_inf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neg_inf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnormal: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absmax: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_nonfinite_flat: Option<u64>,
}

impl RecordStats {
    /// NaN plus ±Inf; unknown counts read as zero.
    pub fn nonfinite(&self) -> u64 {
        self.nan.unwrap_or(0).saturating_add(self.pos_inf.unwrap_or(0)).saturating_add(self.neg_inf.unwrap_or(0))
    }

    /// Whether every non-finite value is -Inf, the signature of an additive mask.
    pub fn only_neg_inf(&self) -> bool {
        self.nan.unwrap_or(0) == 0 && self.pos_inf.unwrap_or(0) == 0 && self.neg_inf.unwrap_or(0) > 0
    }

    /// Whether the probe recorded the non-finite counts at all.
    pub fn knows_finiteness(&self) -> bool {
        self.nan.is_some() || self.pos_inf.is_some() || self.neg_inf.is_some()
    }
}

impl From<&TensorStats> for RecordStats {
    fn from(s: &TensorStats) -> Self {
        RecordStats {
            count: Some(s.count),
            nan: Some(s.nan),
            pos_inf: Some(s.pos_inf),
            neg_inf: Some(s.neg_inf),
            zero: Some(s.zero),
            subnormal: Some(s.subnormal),
            min: s.min,
            max: s.max,
            absmax: s.absmax,
            mean: s.mean,
            std: s.std,
            first_nonfinite_flat: s.first_nonfinite_flat,
        }
    }
}

/// A tensor as a record describes it: dtype, shape and statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TensorSummary {
    /// safetensors spelling: `F16`, `BF16`, `F32`, …
    pub dtype: String,
    pub shape: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<RecordStats>,
}

/// Where a record's tensor is stored: a safetensors file relative to the
/// dump folder and the tensor's name in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub file: String,
    pub tensor: String,
}

impl Payload {
    /// Whether `file` stays inside the dump folder (relative, no `..`, no
    /// root or drive), so a crafted manifest cannot make nanscope read
    /// arbitrary files.
    pub fn is_contained(&self) -> bool {
        let path = Path::new(&self.file);
        !self.file.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
    }
}

/// One observed tensor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in execution order, from 0, unique within the dump.
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestep: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<[u64; 2]>,
    /// Dotted diffusers-style module name, e.g. `unet.mid_block.resnets.0.conv1`.
    pub module: String,
    /// Which element of a tuple or dict output this is (`0`, `sample`); absent
    /// for single-tensor outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// A stage-boundary tensor: latents, model output, decoded frames.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub boundary: bool,
    pub dtype: String,
    pub shape: Vec<u64>,
    /// `absmax / largest finite value of dtype`: 1.0 is the edge of overflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<RecordStats>,
    /// Statistics of the module's tensor inputs, taken before it ran; absent
    /// when the probe does not know them (an empty list means no tensor input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<TensorSummary>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
}

impl Record {
    pub fn set_context(&mut self, context: &Context) {
        self.stage = context.stage.clone();
        self.step = context.step;
        self.timestep = context.timestep;
        self.frames = context.frames;
    }

    /// The module name with the output element, e.g. `unet:sample`.
    pub fn label(&self) -> String {
        match &self.output {
            Some(output) => format!("{}:{output}", self.module),
            None => self.module.clone(),
        }
    }
}

/// `absmax / max_finite(dtype)`, for float dtypes with a known absmax.
pub fn headroom(dtype: DType, absmax: Option<f64>) -> Option<f64> {
    let limit = dtype.max_finite()?;
    absmax.map(|a| a / limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_paths_must_stay_inside_the_dump() {
        let ok = Payload { file: "tensors/00000001.safetensors".into(), tensor: "output".into() };
        assert!(ok.is_contained());
        for bad in ["../x.safetensors", "/etc/passwd", "tensors/../../x", ""] {
            assert!(!Payload { file: bad.into(), tensor: "t".into() }.is_contained(), "{bad}");
        }
    }

    #[test]
    fn record_round_trips_and_skips_unknowns() {
        let record = Record {
            seq: 3,
            stage: Some("unet".into()),
            step: Some(1),
            module: "unet.conv_in".into(),
            dtype: "F16".into(),
            shape: vec![1, 4],
            stats: Some(RecordStats { nan: Some(2), ..RecordStats::default() }),
            ..Record::default()
        };
        let line = serde_json::to_string(&record).unwrap();
        assert!(!line.contains("timestep") && !line.contains("boundary"), "{line}");
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.stats.unwrap().nonfinite(), 2);
    }

    #[test]
    fn headroom_is_relative_to_the_dtype_range() {
        assert_eq!(headroom(DType::F16, Some(32752.0)), Some(0.5));
        assert_eq!(headroom(DType::I8, Some(3.0)), None);
    }
}
