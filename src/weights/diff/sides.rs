//! One side of a diff: the checkpoints under a path and their tensors by
//! (aligned) name.

use std::collections::HashMap;
use std::path::Path;

use serde_json::json;

use crate::formats::{Checkpoint, TensorEntry};
use crate::report::{Finding, Subject};
use crate::rules::diff as rules;
use crate::weights::open::open_checkpoints;

/// How B's names are aligned with A's: strip a prefix (when present), then
/// add one.
#[derive(Debug, Clone, Default)]
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

/// Where one tensor of a side lives.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub checkpoint: usize,
    pub entry: usize,
}

/// The checkpoints of one side and an index of their tensors.
pub struct Side {
    pub label: String,
    pub checkpoints: Vec<Checkpoint>,
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
        for (c, checkpoint) in checkpoints.iter().enumerate() {
            findings.extend(checkpoint.findings.iter().cloned());
            for (e, entry) in checkpoint.tensors.iter().enumerate() {
                let name = alignment.apply(&entry.name);
                let here = Located { checkpoint: c, entry: e };
                if let Some(first) = index.get(&name) {
                    // Duplicates inside one file are the reader's to report.
                    if first.checkpoint != c {
                        let first_file = &checkpoints[first.checkpoint].label;
                        findings.push(
                            Finding::new(
                                &rules::DUPLICATE_ACROSS_FILES,
                                format!("{name} is in {first_file} and in {}; the first is compared", checkpoint.label),
                            )
                            .with_subject(Subject::tensor(&checkpoint.label, &entry.name))
                            .with_evidence("first_file", json!(first_file)),
                        );
                    }
                    continue;
                }
                index.insert(name.clone(), here);
                names.push((name, here));
            }
        }
        Side { label, checkpoints, names, index, findings }
    }

    pub fn checkpoint(&self, at: Located) -> &Checkpoint {
        &self.checkpoints[at.checkpoint]
    }

    pub fn entry(&self, at: Located) -> &TensorEntry {
        &self.checkpoints[at.checkpoint].tensors[at.entry]
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
