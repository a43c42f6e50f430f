//! Checking a record's payload tensor against the record, and recomputing
//! statistics from it when the record lacks them.
//!
//! Opening a payload parses only its safetensors header (the data is mapped,
//! not read), so checking every payload of a dump is cheap; values are read
//! only when statistics must be recomputed.

use std::path::Path;

use crate::formats::Checkpoint;
use crate::numerics::{TargetDType, tensor_stats};
use crate::report::{Finding, Subject};
use crate::rules::trace as rules;

use super::record::{Record, RecordStats};

/// What checking one payload found.
#[derive(Debug, Default)]
pub struct PayloadCheck {
    /// Statistics recomputed from the tensor, when asked for and readable.
    pub stats: Option<RecordStats>,
    pub findings: Vec<Finding>,
}

/// R: the payload a record names is missing or unusable; `why` says which.
fn payload_missing(record: &Record, file: &str, why: String, subject: Subject) -> Finding {
    Finding::new(
        &rules::DUMP_PAYLOAD_MISSING,
        format!("record {} ({}) names payload {file} {why}", record.seq, record.label()),
    )
    .with_subject(subject)
    .with_evidence("seq", record.seq)
}

/// Checks that `record`'s payload exists with the record's dtype and shape;
/// recomputes its statistics when `recompute` is set.
pub fn check_payload(dir: &Path, record: &Record, recompute: bool) -> PayloadCheck {
    let mut out = PayloadCheck::default();
    let Some(payload) = &record.payload else { return out };
    let path = dir.join(&payload.file);
    let label = path.display().to_string();
    let subject = Subject {
        file: Some(label.clone()),
        tensor: Some(payload.tensor.clone()),
        module: Some(record.module.clone()),
        step: record.step,
        stage: record.stage.clone(),
        ..Subject::default()
    };
    if !path.is_file() {
        out.findings.push(payload_missing(record, &payload.file, "which does not exist".into(), subject));
        return out;
    }
    let checkpoint = Checkpoint::open(&path);
    let Some(entry) = checkpoint.tensors.iter().find(|t| t.name == payload.tensor) else {
        let why = match checkpoint.findings.first() {
            Some(finding) => finding.message.clone(),
            None => format!("it holds no tensor named {:?}", payload.tensor),
        };
        out.findings.push(payload_missing(record, &payload.file, format!("which is unusable: {why}"), subject));
        return out;
    };
    if entry.dtype.name() != record.dtype || entry.shape != record.shape {
        out.findings.push(
            Finding::new(
                &rules::DUMP_PAYLOAD_MISMATCH,
                format!(
                    "record {} ({}) says {} {:?} but its payload holds {} {:?}",
                    record.seq,
                    record.label(),
                    record.dtype,
                    record.shape,
                    entry.dtype.name(),
                    entry.shape
                ),
            )
            .with_subject(subject)
            .with_evidence("seq", record.seq),
        );
        return out;
    }
    if recompute && entry.view.is_none() {
        if let Ok(stats) = tensor_stats(entry.dtype, checkpoint.storage(entry), entry.order, TargetDType::None) {
            out.stats = Some(RecordStats::from(&stats));
        }
        checkpoint.release(entry);
    }
    out
}
