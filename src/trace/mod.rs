//! Dump folders and the first-non-finite analysis.
//!
//! A dump (see `docs/dump-format.md`) is what a probe wrote while a
//! generation ran: a manifest, one JSON record per observed module output,
//! and optional safetensors payloads. This module reads dumps as streams,
//! writes them through the [`Probe`] trait, and finds the module and step
//! that first produced NaN/Inf. It never prints and never runs a model.

mod analysis;
mod dump_trace;
mod findings;
mod glob;
mod manifest;
pub mod module_steps;
mod payload;
pub mod plot;
mod probe;
mod reader;
mod record;
mod timeline;
mod writer;

pub use analysis::{
    Analysis, AnalysisOptions, Analyzer, DEFAULT_MASK_GLOBS, InputState, NearOverflow, NonfiniteRecord, RecordsSummary,
};
pub use dump_trace::{TraceOptions, TraceResult, trace_dump};
pub use glob::glob_match;
pub use manifest::{DumpLevel, Manifest, WriterInfo};
pub use payload::{PayloadCheck, check_payload};
pub use probe::{HostTensor, Observation, Probe, ProbeError};
pub use reader::{Dump, MANIFEST_FILE, RecordStream};
pub use record::{
    Context, FORMAT_NAME, FORMAT_VERSION, Payload, RECORDS_FILE, Record, RecordStats, TensorSummary, headroom,
};
pub use timeline::{StageRow, Timeline};
pub use writer::{DumpWriter, PAYLOAD_TENSOR, TENSORS_DIR};
