//! The per-checkpoint hook of the `weights` scan: recognise schemes, then
//! report each logical tensor with its dequantized statistics and its pieces
//! with their role, so the plain scan skips every claimed entry.

use std::collections::HashSet;
use std::path::Path;

use rayon::prelude::*;

use super::config::QuantConfig;
use super::damage::damage;
use super::dequant::dequantized_stats;
use super::recognize::recognise;
use super::scheme::{QuantInfo, Role};
use super::validate::{QuantOptions, validate};
use crate::formats::Checkpoint;
use crate::numerics::{DType, tensor_stats};
use crate::report::{Finding, Subject};
use crate::rules::quant as rules;
use crate::weights::checks::{ScanOptions, tensor_findings};
use crate::weights::scan::{Progress, TensorRecord};

/// What the quantization layer made of one checkpoint.
#[derive(Debug, Default)]
pub struct QuantScan {
    /// Entry indices the plain scan must skip.
    pub claimed: HashSet<usize>,
    pub records: Vec<TensorRecord>,
    pub findings: Vec<Finding>,
}

/// Recognises and checks the quantized tensors of `checkpoint`, read from
/// `path` (whose folder may hold the quantization config).
pub fn scan_quantized(
    checkpoint: &Checkpoint,
    path: &Path,
    options: &ScanOptions,
    progress: &dyn Progress,
) -> QuantScan {
    if checkpoint.tensors.is_empty() {
        return QuantScan::default();
    }
    let config = QuantConfig::beside(path);
    let recognised = recognise(checkpoint, &config);
    let claimed = recognised.claimed();
    let label = checkpoint.label.as_str();
    let quant_options = QuantOptions::default();

    let logical: Vec<(TensorRecord, Vec<Finding>)> = recognised
        .tensors
        .par_iter()
        .map(|tensor| {
            let mut findings = validate(checkpoint, tensor, &quant_options);
            findings.extend(damage(checkpoint, tensor, &quant_options));
            let stats = match dequantized_stats(checkpoint, tensor, options.target) {
                Ok(stats) => {
                    findings.extend(tensor_findings(label, &tensor.name, DType::F32, &tensor.shape, &stats, options));
                    Some(stats)
                }
                Err(why) => {
                    findings.push(packed_size_mismatch(label, &tensor.name, &why));
                    None
                }
            };
            let codes = &checkpoint.tensors[tensor.codes];
            checkpoint.release(codes);
            progress.advance(checkpoint.storage(codes).len() as u64);
            let record = TensorRecord {
                file: label.to_string(),
                name: tensor.name.clone(),
                dtype: DType::F32,
                shape: tensor.shape.clone(),
                stats,
                quant: Some(tensor.info.clone()),
            };
            (record, findings)
        })
        .collect();

    let mut pieces: Vec<(usize, QuantInfo)> = recognised.orphans.clone();
    for tensor in &recognised.tensors {
        if checkpoint.tensors[tensor.codes].name != tensor.name {
            pieces.push((tensor.codes, tensor.info.piece(Role::Codes, &tensor.name)));
        }
        pieces.extend(tensor.pieces.iter().map(|&(i, role)| (i, tensor.info.piece(role, &tensor.name))));
    }
    let mut out = QuantScan { claimed, records: Vec::new(), findings: recognised.findings.clone() };
    for (record, findings) in logical {
        out.records.push(record);
        out.findings.extend(findings);
    }
    out.records.extend(pieces.into_iter().map(|(index, info)| piece_record(checkpoint, index, info)));
    out.records.extend(recognised.undecoded.iter().map(|(index, info, shape)| TensorRecord {
        file: label.to_string(),
        name: checkpoint.tensors[*index].name.clone(),
        dtype: checkpoint.tensors[*index].dtype,
        shape: shape.clone(),
        stats: None,
        quant: Some(info.clone()),
    }));
    for (index, name) in &recognised.renamed {
        let (record, findings) = renamed_record(checkpoint, *index, name, options);
        out.records.push(record);
        out.findings.extend(findings);
    }
    out
}

/// A plain float entry a scheme presents under its logical name, judged by
/// the float-tensor rules like any weight.
fn renamed_record(
    checkpoint: &Checkpoint,
    index: usize,
    name: &str,
    options: &ScanOptions,
) -> (TensorRecord, Vec<Finding>) {
    let entry = &checkpoint.tensors[index];
    let label = checkpoint.label.as_str();
    let stats = super::pieces::bytes(checkpoint, entry)
        .and_then(|raw| tensor_stats(entry.dtype, raw, entry.order, options.target).ok());
    let findings = match &stats {
        Some(stats) => tensor_findings(label, name, entry.dtype, &entry.shape, stats, options),
        None => vec![],
    };
    let record = TensorRecord {
        file: label.to_string(),
        name: name.to_string(),
        dtype: entry.dtype,
        shape: entry.shape.clone(),
        stats,
        quant: None,
    };
    (record, findings)
}

/// A piece is listed with the statistics of its stored values when they are
/// numbers in their own right (scales, zero points); packed codes and
/// metadata get none. Pieces are never judged by the float-tensor rules.
fn piece_record(checkpoint: &Checkpoint, index: usize, info: QuantInfo) -> TensorRecord {
    let entry = &checkpoint.tensors[index];
    let numeric =
        matches!(info.role, Role::Scale | Role::ZeroPoint | Role::GroupIndex | Role::CodeBook | Role::ActivationScale);
    let stats = numeric
        .then(|| super::pieces::bytes(checkpoint, entry))
        .flatten()
        .and_then(|raw| tensor_stats(entry.dtype, raw, entry.order, crate::numerics::TargetDType::None).ok());
    TensorRecord {
        file: checkpoint.label.clone(),
        name: entry.name.clone(),
        dtype: entry.dtype,
        shape: entry.shape.clone(),
        stats,
        quant: Some(info),
    }
}

/// Q: a packed tensor's bytes do not fit its declared shape; `why` says how.
pub(crate) fn packed_size_mismatch(label: &str, tensor: &str, why: &dyn std::fmt::Display) -> Finding {
    Finding::new(&rules::PACKED_SIZE_MISMATCH, format!("{tensor}: {why}")).with_subject(Subject::tensor(label, tensor))
}
