//! `manifest.json`: the small header document of a dump folder.
//!
//! Writers create it when they open a dump (`complete: false`) and rewrite it
//! when they close (`complete: true`, `record_count`), so a crashed run still
//! leaves a readable dump. The records themselves stream into the JSON Lines
//! file the manifest names (`records_file`); small hand-written dumps may
//! instead inline them as a `records` array.
//!
//! Manifests and records are read as Python's `json.load` reads them
//! ([`crate::formats::lenient_serde`]): a writer that leaves `allow_nan` on
//! puts bare `NaN`/`Infinity` in them, and such a dump is still read.

use serde::{Deserialize, Serialize};

use crate::formats::lenient_json::Json;

use super::record::{FORMAT_NAME, FORMAT_VERSION, RECORDS_FILE};

/// Which tensors a dump carries beside the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DumpLevel {
    /// Statistics only; no tensor files.
    #[default]
    Stats,
    /// Also the stage-boundary tensors (latents per step, model outputs, decoded frames).
    Stages,
    /// Also every module output.
    All,
}

impl DumpLevel {
    /// Whether a record's tensor is written at this level.
    pub fn keeps_payload(self, boundary: bool) -> bool {
        match self {
            DumpLevel::Stats => false,
            DumpLevel::Stages => boundary,
            DumpLevel::All => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DumpLevel::Stats => "stats",
            DumpLevel::Stages => "stages",
            DumpLevel::All => "all",
        }
    }
}

/// The program that wrote a dump.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriterInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The compute backend (`torch`, `candle`, …), when the writer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

/// The manifest document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `nanscope-dump`.
    pub format: String,
    pub format_version: u32,
    #[serde(default)]
    pub level: DumpLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<WriterInfo>,
    /// JSON Lines file with one record per line, relative to the folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_file: Option<String>,
    /// Inline records, for small dumps written in one go (kept as read, so a
    /// non-finite statistic in them survives until the record is decoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Vec<Json>>,
    /// False until the writer closed the dump.
    #[serde(default)]
    pub complete: bool,
    /// Number of records, set at close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_count: Option<u64>,
    /// The error that ended the run, when the writer was closed by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
}

impl Manifest {
    /// The manifest a writer starts with.
    pub fn new(level: DumpLevel, writer: WriterInfo) -> Self {
        Manifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            level,
            writer: Some(writer),
            records_file: Some(RECORDS_FILE.into()),
            records: None,
            complete: false,
            record_count: None,
            aborted: None,
        }
    }
}
