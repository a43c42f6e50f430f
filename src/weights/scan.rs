//! The `weights` scan: open every input, read every tensor once, check it.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use super::checks::{ScanOptions, tensor_findings};
use super::inputs::{collect_inputs, is_stray};
use super::quant::{self, QuantInfo};
use super::shards;
use crate::formats::{Checkpoint, FileFormat, TensorEntry};
use crate::numerics::{DType, Kind, StatsError, TensorStats, tensor_stats};
use crate::report::{Finding, Severity};

/// Receives progress from a long scan. The library never draws anything;
/// the CLI turns these calls into a progress bar.
pub trait Progress: Sync {
    /// A file is about to be scanned; `bytes` is its size.
    fn file(&self, _label: &str, _bytes: u64) {}
    /// `bytes` more of the current file have been scanned.
    fn advance(&self, _bytes: u64) {}
}

/// Progress that goes nowhere.
pub struct Silent;
impl Progress for Silent {}

/// One scanned tensor, as the report's `tensors` section lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TensorRecord {
    pub file: String,
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<u64>,
    /// `None` when the values could not be read (the findings say why).
    pub stats: Option<TensorStats>,
    /// The quantization scheme, for dequantized tensors and their pieces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quant: Option<QuantInfo>,
}

/// One input file, as the report's `files` section lists it.
#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub file: String,
    pub format: &'static str,
    pub bytes: u64,
    pub tensors: usize,
}

#[derive(Debug, Default)]
pub struct ScanResult {
    pub files: Vec<FileRecord>,
    pub tensors: Vec<TensorRecord>,
    pub findings: Vec<Finding>,
}

/// Scans files and directories (recursively). Never fails: unreadable and
/// malformed inputs become findings and the scan goes on.
pub fn scan(paths: &[PathBuf], options: &ScanOptions, progress: &dyn Progress) -> ScanResult {
    scan_shard(paths, options, progress, None)
}

/// Scans the files of one shard of the inputs (all of them without a
/// shard). The files of a sharded checkpoint (a folder holding a
/// `*.index.json`) stay together: their shard is chosen by the folder.
pub fn scan_shard(
    paths: &[PathBuf],
    options: &ScanOptions,
    progress: &dyn Progress,
    shard: Option<crate::gate::Shard>,
) -> ScanResult {
    let (inputs, mut findings) = collect_inputs(paths);
    let inputs = match shard {
        None => inputs,
        Some(shard) => {
            if !shard.is_first() {
                findings.clear();
            }
            let mut indexed: std::collections::HashMap<PathBuf, bool> = std::collections::HashMap::new();
            inputs
                .into_iter()
                .filter(|input| {
                    let parent = input.path.parent().map(PathBuf::from).unwrap_or_default();
                    let has_index = *indexed.entry(parent.clone()).or_insert_with(|| holds_shard_index(&parent));
                    shard.keeps(if has_index && !input.explicit { &parent } else { &input.path })
                })
                .collect()
        }
    };
    let mut result = ScanResult::default();
    let mut indexes = Vec::new();
    let mut scanned: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for input in inputs {
        let checkpoint = Checkpoint::open(&input.path);
        if is_stray(&input, &checkpoint) {
            continue;
        }
        if checkpoint.format == FileFormat::ShardIndex {
            indexes.push(input.path.clone());
            continue;
        }
        progress.file(&checkpoint.label, checkpoint.file_len());
        let quantized = quant::scan_quantized(&checkpoint, &input.path, options, progress);
        let (mut records, file_findings) = scan_checkpoint(&checkpoint, &quantized.claimed, options, progress);
        records.extend(quantized.records);
        findings.extend(quantized.findings);
        scanned.push((input.path.clone(), records.iter().map(|r| r.name.clone()).collect()));
        result.files.push(FileRecord {
            file: checkpoint.label.clone(),
            format: checkpoint.format.name(),
            bytes: checkpoint.file_len(),
            tensors: records.len(),
        });
        findings.extend(checkpoint.findings.iter().cloned());
        findings.extend(file_findings);
        result.tensors.extend(records);
    }
    for index in indexes {
        let (record, index_findings) = shards::check_index(&index, &scanned);
        result.files.push(record);
        findings.extend(index_findings);
    }
    result.findings = findings;
    result
}

/// Whether a folder holds a sharded checkpoint's index (`*.index.json`).
fn holds_shard_index(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir)
        .is_ok_and(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".index.json")))
}

/// Reads and checks every tensor of one opened file, in parallel.
fn scan_checkpoint(
    checkpoint: &Checkpoint,
    claimed: &HashSet<usize>,
    options: &ScanOptions,
    progress: &dyn Progress,
) -> (Vec<TensorRecord>, Vec<Finding>) {
    let label = checkpoint.label.as_str();
    let per_tensor: Vec<(TensorRecord, Vec<Finding>)> = checkpoint
        .tensors
        .par_iter()
        .enumerate()
        .filter(|(index, _)| !claimed.contains(index))
        .map(|(_, entry)| {
            let outcome = tensor_values(checkpoint, entry).and_then(|values| {
                tensor_stats(entry.dtype, &values, entry.order, options.target)
                    .map_err(|err| Box::new(stats_finding(label, entry, err)))
            });
            checkpoint.release(entry);
            progress.advance(entry_bytes(entry));
            let record = TensorRecord {
                file: label.to_string(),
                name: entry.name.clone(),
                dtype: entry.dtype,
                shape: entry.shape.clone(),
                stats: None,
                quant: None,
            };
            match outcome {
                Ok(stats) => {
                    let findings = tensor_findings(label, &entry.name, entry.dtype, &entry.shape, &stats, options);
                    (TensorRecord { stats: Some(stats), ..record }, findings)
                }
                Err(finding) => (record, vec![*finding]),
            }
        })
        .collect();
    let mut records = Vec::with_capacity(per_tensor.len());
    let mut findings = Vec::new();
    for (record, f) in per_tensor {
        records.push(record);
        findings.extend(f);
    }
    (records, findings)
}

fn entry_bytes(entry: &TensorEntry) -> u64 {
    entry.numel().and_then(|n| entry.dtype.byte_len(n)).unwrap_or(0)
}

/// The tensor's elements in row-major order: borrowed when the view is a
/// contiguous slice of its storage, gathered otherwise.
pub(crate) fn tensor_values<'a>(
    checkpoint: &'a Checkpoint,
    entry: &'a TensorEntry,
) -> Result<Cow<'a, [u8]>, Box<Finding>> {
    let storage = checkpoint.storage(entry);
    let label = checkpoint.label.as_str();
    let layout = |message: String| Box::new(crate::formats::invalid_layout(label, &entry.name, message));
    let Some(size) = entry.dtype.size() else {
        // Sub-byte dtypes are never strided views; hand the bytes over whole.
        return Ok(Cow::Borrowed(storage));
    };
    let numel = entry.numel().ok_or_else(|| layout(format!("{}: shape {:?} overflows", entry.name, entry.shape)))?;
    let Some(view) = &entry.view else {
        let need = numel.saturating_mul(size) as usize;
        return storage.get(..need).map(Cow::Borrowed).ok_or_else(|| {
            layout(format!("{}: needs {need} bytes but its storage holds {}", entry.name, storage.len()))
        });
    };
    if view.is_contiguous(&entry.shape) {
        let start = view.offset.saturating_mul(size) as usize;
        let end = start.saturating_add(numel.saturating_mul(size) as usize);
        return storage.get(start..end).map(Cow::Borrowed).ok_or_else(|| {
            layout(format!(
                "{}: view at element offset {} reads past its storage of {} elements",
                entry.name,
                view.offset,
                storage.len() as u64 / size
            ))
        });
    }
    view.gather(storage, size as usize, &entry.shape)
        .map(Cow::Owned)
        .map_err(|err| layout(format!("{}: {err}", entry.name)))
}

pub(crate) fn stats_finding(label: &str, entry: &TensorEntry, err: StatsError) -> Finding {
    let finding = crate::formats::unsupported_dtype(label, &entry.name, format!("{}: {err}", entry.name))
        .with_evidence("dtype", entry.dtype.name());
    // A sub-byte dtype is valid, just not decoded: say so without failing the run.
    if entry.dtype.kind() == Kind::Packed { finding.with_severity(Severity::Info) } else { finding }
}
