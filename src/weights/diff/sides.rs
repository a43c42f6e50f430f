//! One side of a diff: the checkpoints under a path and their logical
//! tensors by (aligned) name. A recognised quantized weight is one logical
//! tensor (its codes, scales and zero points are not listed apart) and is
//! compared through its dequantized values.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::json;

use crate::formats::Checkpoint;
use crate::report::{Finding, Subject};
use crate::rules::diff as rules;
use crate::weights::open::open_checkpoints;
use crate::weights::quant::{QuantConfig, QuantInfo, QuantTensor, Recognised, filler, recognise};
use crate::weights::values::{Dequantize, LogicalValues, logical_values};

/// How B's names are aligned with A's: strip a prefix (when present), then
/// add one.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NameAlignment {
    pub strip_prefix: Option<String>,
    pub add_prefix: Option<String>,
}

impl NameAlignment {
    pub fn apply(&self, name: &str) -> String {
        let stripped = match &self.strip_prefix {
            Some(prefix) => name.strip_prefix(prefix.as_str()).unwrap_or(name),
            None => name,
        };
        match &self.add_prefix {
            Some(prefix) => format!("{prefix}{stripped}"),
            None => stripped.to_string(),
        }
    }
}

/// What holds a logical tensor's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A plain entry of the checkpoint.
    Entry(usize),
    /// A recognised quantized tensor (index into the side's `quantized`).
    Quantized(usize),
    /// A plain entry a scheme presents under another name (index into the
    /// side's `renamed`).
    Renamed(usize),
}

/// Where one tensor of a side lives.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub checkpoint: usize,
    pub source: Source,
}

/// What a logical tensor is, whatever holds it.
pub struct TensorMeta<'a> {
    /// The name as stored (the codes entry's logical name for quantized tensors).
    pub name: &'a str,
    pub shape: &'a [u64],
    /// `F16`, or `scheme format` (`gguf Q8_0`) for a quantized tensor.
    pub dtype: String,
    pub quant: Option<&'a QuantInfo>,
    /// Bytes of storage, for progress.
    pub bytes: u64,
}

/// The checkpoints of one side and an index of their tensors.
pub struct Side {
    pub label: String,
    pub checkpoints: Vec<Checkpoint>,
    /// Recognised quantized tensors, per checkpoint.
    pub quantized: Vec<Vec<QuantTensor>>,
    /// Plain entries presented under a logical name, per checkpoint.
    pub renamed: Vec<Vec<(usize, String)>>,
    /// Aligned name → location, in file then tensor order.
    pub names: Vec<(String, Located)>,
    pub index: HashMap<String, Located>,
    pub findings: Vec<Finding>,
}

impl Side {
    /// Opens a file or a directory (the union of its checkpoints' tensors).
    /// A name held by two files keeps the first and is reported.
    pub fn open(path: &Path, alignment: &NameAlignment) -> Side {
        let label = path.display().to_string();
        let (checkpoints, mut findings) = open_checkpoints(&[path.to_path_buf()]);
        let mut names = Vec::new();
        let mut index: HashMap<String, Located> = HashMap::new();
        let mut quantized = Vec::new();
        let mut renamed_entries = Vec::new();
        for (c, checkpoint) in checkpoints.iter().enumerate() {
            findings.extend(checkpoint.findings.iter().cloned());
            // Validation findings of the schemes belong to `weights`; diff only
            // needs to know which entries make up which logical tensor.
            // Names follow `weights`: a recognised tensor under its logical
            // name, a renamed plain entry (`quantize_dynamic`'s packed bias)
            // under the name the scheme gives it, and every other claimed
            // entry (scales, zero points, codes of a broken scheme) not at all.
            let recognised = match checkpoint.tensors.is_empty() {
                true => Recognised::default(),
                false => recognise(checkpoint, &QuantConfig::beside(Path::new(&checkpoint.label))),
            };
            let claimed: HashSet<usize> = recognised.claimed();
            let renamed =
                recognised.renamed.iter().enumerate().map(|(r, (_, name))| (name.as_str(), Source::Renamed(r)));
            let logical = recognised
                .tensors
                .iter()
                .enumerate()
                .map(|(q, t)| (t.name.as_str(), Source::Quantized(q)))
                .chain(renamed)
                .chain(
                    checkpoint
                        .tensors
                        .iter()
                        .enumerate()
                        .filter(|(e, _)| !claimed.contains(e))
                        .map(|(e, entry)| (entry.name.as_str(), Source::Entry(e))),
                );
            for (stored, source) in logical {
                let name = alignment.apply(stored);
                let here = Located { checkpoint: c, source };
                if let Some(first) = index.get(&name) {
                    // Duplicates inside one file are the reader's to report.
                    if first.checkpoint != c {
                        let first_file = &checkpoints[first.checkpoint].label;
                        findings.push(
                            Finding::new(
                                &rules::DUPLICATE_ACROSS_FILES,
                                format!("{name} is in {first_file} and in {}; the first is compared", checkpoint.label),
                            )
                            .with_subject(Subject::tensor(&checkpoint.label, stored))
                            .with_evidence("first_file", json!(first_file)),
                        );
                    }
                    continue;
                }
                index.insert(name.clone(), here);
                names.push((name, here));
            }
            quantized.push(recognised.tensors);
            renamed_entries.push(recognised.renamed);
        }
        Side { label, checkpoints, quantized, renamed: renamed_entries, names, index, findings }
    }

    pub fn checkpoint(&self, at: Located) -> &Checkpoint {
        &self.checkpoints[at.checkpoint]
    }

    pub fn meta(&self, at: Located) -> TensorMeta<'_> {
        let checkpoint = &self.checkpoints[at.checkpoint];
        match at.source {
            Source::Entry(_) | Source::Renamed(_) => {
                let entry = &checkpoint.tensors[self.entry_index(at)];
                let name = match at.source {
                    Source::Renamed(r) => self.renamed[at.checkpoint][r].1.as_str(),
                    _ => entry.name.as_str(),
                };
                TensorMeta {
                    name,
                    shape: &entry.shape,
                    dtype: entry.dtype.name().to_string(),
                    quant: None,
                    bytes: entry.numel().and_then(|n| entry.dtype.byte_len(n)).unwrap_or(0),
                }
            }
            Source::Quantized(q) => {
                let tensor = &self.quantized[at.checkpoint][q];
                TensorMeta {
                    name: &tensor.name,
                    shape: &tensor.shape,
                    dtype: format!("{} {}", tensor.info.scheme, tensor.info.format),
                    quant: Some(&tensor.info),
                    bytes: checkpoint.storage(&checkpoint.tensors[tensor.codes]).len() as u64,
                }
            }
        }
    }

    /// The logical values of a tensor: decoded from its dtype, or dequantized.
    pub fn values(&self, at: Located, dequantizers: &[&dyn Dequantize]) -> Result<LogicalValues<'_>, Box<Finding>> {
        let checkpoint = &self.checkpoints[at.checkpoint];
        match at.source {
            Source::Entry(_) | Source::Renamed(_) => {
                logical_values(checkpoint, &checkpoint.tensors[self.entry_index(at)], dequantizers)
            }
            Source::Quantized(q) => {
                let tensor = &self.quantized[at.checkpoint][q];
                let numel = tensor.numel().and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX);
                filler(checkpoint, tensor).map(|fill| LogicalValues::Filled { numel, fill }).map_err(|why| {
                    Box::new(crate::weights::quant::packed_size_mismatch(&checkpoint.label, &tensor.name, &why))
                })
            }
        }
    }

    /// Hands a compared tensor's mapped pages back to the kernel.
    pub fn release(&self, at: Located) {
        let checkpoint = &self.checkpoints[at.checkpoint];
        match at.source {
            Source::Entry(_) | Source::Renamed(_) => checkpoint.release(&checkpoint.tensors[self.entry_index(at)]),
            Source::Quantized(q) => checkpoint.release(&checkpoint.tensors[self.quantized[at.checkpoint][q].codes]),
        }
    }

    /// The stored entry behind a plain or renamed tensor (the codes entry
    /// for a quantized one).
    fn entry_index(&self, at: Located) -> usize {
        match at.source {
            Source::Entry(e) => e,
            Source::Renamed(r) => self.renamed[at.checkpoint][r].0,
            Source::Quantized(q) => self.quantized[at.checkpoint][q].codes,
        }
    }

    pub fn tensor_count(&self) -> usize {
        self.names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_strips_then_adds() {
        let strip = NameAlignment { strip_prefix: Some("model.diffusion_model.".into()), add_prefix: None };
        assert_eq!(strip.apply("model.diffusion_model.conv_in.weight"), "conv_in.weight");
        assert_eq!(strip.apply("first_stage_model.x"), "first_stage_model.x");
        let both = NameAlignment { strip_prefix: Some("unet.".into()), add_prefix: Some("model.".into()) };
        assert_eq!(both.apply("unet.conv_in.weight"), "model.conv_in.weight");
        assert_eq!(NameAlignment::default().apply("a"), "a");
    }
}
