//! Sharded checkpoints: the `*.index.json` weight map against its shards.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::scan::FileRecord;
use crate::formats::Checkpoint;
use crate::formats::json::OrderedObject;
use crate::report::{Finding, Severity, Subject};
use crate::rules::format as rules;

/// An index larger than this is not a weight map.
const MAX_INDEX_BYTES: u64 = 256 << 20;

#[derive(Deserialize)]
struct Index {
    weight_map: OrderedObject,
}

/// Checks one index against its shards. `scanned` holds the tensor names of
/// files already read in this run, so shards are not parsed twice.
pub fn check_index(index_path: &Path, scanned: &[(PathBuf, Vec<String>)]) -> (FileRecord, Vec<Finding>) {
    let label = index_path.display().to_string();
    let mut record = FileRecord { file: label.clone(), format: "shard-index", bytes: 0, tensors: 0 };
    let mut findings = Vec::new();
    let finding = |message: String| Finding::new(&rules::SHARD_INDEX_MISMATCH, message);

    let text = match read_bounded(index_path) {
        Ok(text) => text,
        Err(why) => {
            findings.push(crate::formats::unreadable_file(&label, format!("cannot read index: {why}")));
            return (record, findings);
        }
    };
    record.bytes = text.len() as u64;
    let index: Index = match serde_json::from_str(&text) {
        Ok(index) => index,
        Err(err) => {
            findings.push(
                Finding::new(&rules::INVALID_HEADER, format!("not a weight-map index: {err}"))
                    .with_subject(Subject::file(&label)),
            );
            return (record, findings);
        }
    };
    let dir = index_path.parent().unwrap_or(Path::new("."));

    // key -> shard, reporting keys that the map lists twice.
    let mut owner: HashMap<&str, &str> = HashMap::new();
    let mut by_shard: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, shard) in &index.weight_map.0 {
        let Some(shard) = shard.as_str() else {
            findings
                .push(finding(format!("{key} maps to a non-string shard")).with_subject(Subject::tensor(&label, key)));
            continue;
        };
        if let Some(previous) = owner.insert(key, shard) {
            findings.push(
                finding(format!("{key} is listed in two shards ({previous} and {shard})"))
                    .with_subject(Subject::tensor(&label, key)),
            );
        }
        by_shard.entry(shard).or_default().push(key);
    }
    record.tensors = owner.len();

    // The tensor names each listed shard actually holds (None: no such file).
    let holdings: BTreeMap<&str, Option<HashSet<String>>> =
        by_shard.keys().map(|shard| (*shard, shard_tensor_names(&dir.join(shard), scanned))).collect();
    for (shard, keys) in &by_shard {
        let Some(names) = &holdings[shard] else {
            findings.push(
                finding(format!("shard {shard} ({} keys) does not exist", keys.len()))
                    .with_subject(Subject::file(&label))
                    .with_evidence("shard", *shard)
                    .with_evidence("keys", keys.len()),
            );
            continue;
        };
        for key in keys {
            if names.contains(*key) || owner.get(key) != Some(shard) {
                continue;
            }
            let actual: Vec<&str> = holdings
                .iter()
                .filter(|(_, held)| held.as_ref().is_some_and(|h| h.contains(*key)))
                .map(|(s, _)| *s)
                .collect();
            let where_ = match actual.as_slice() {
                [] => "no listed shard holds it".to_string(),
                found => format!("it is in {}", found.join(", ")),
            };
            findings.push(
                finding(format!("{key} is mapped to {shard}, which does not hold it ({where_})"))
                    .with_subject(Subject::tensor(&label, *key))
                    .with_evidence("shard", *shard),
            );
        }
        let mut unlisted: Vec<&String> = names.iter().filter(|n| !owner.contains_key(n.as_str())).collect();
        unlisted.sort();
        for name in unlisted {
            findings.push(
                finding(format!("{shard} holds {name}, which the index does not list (loaders will ignore it)"))
                    .with_severity(Severity::Warning)
                    .with_subject(Subject::tensor(&label, name))
                    .with_evidence("shard", *shard),
            );
        }
    }

    for stray in unlisted_shards(dir, &by_shard) {
        findings.push(
            finding(format!("{stray} looks like a shard of this checkpoint but the index does not list it"))
                .with_subject(Subject::file(&label))
                .with_evidence("shard", stray),
        );
    }
    (record, findings)
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_INDEX_BYTES {
        return Err(format!("{len} bytes is too large for an index"));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// The tensor names a shard holds, from this run's scan or by reading its header.
fn shard_tensor_names(path: &Path, scanned: &[(PathBuf, Vec<String>)]) -> Option<HashSet<String>> {
    if !path.is_file() {
        return None;
    }
    let canonical = path.canonicalize().ok();
    for (scanned_path, names) in scanned {
        if scanned_path.canonicalize().ok() == canonical {
            return Some(names.iter().cloned().collect());
        }
    }
    Some(Checkpoint::open(path).tensors.into_iter().map(|t| t.name).collect())
}

/// Files beside the index that are named like its shards (`…-NNNNN-of-NNNNN.ext`)
/// but are not listed.
fn unlisted_shards(dir: &Path, listed: &BTreeMap<&str, Vec<&str>>) -> Vec<String> {
    let Some(example) = listed.keys().next() else { return Vec::new() };
    let Some((prefix, ext)) = shard_pattern(example) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut stray: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| !listed.contains_key(name.as_str()))
        .filter(|name| shard_pattern(name).is_some_and(|(p, e)| p == prefix && e == ext))
        .collect();
    stray.sort();
    stray
}

/// `model-00001-of-00003.safetensors` -> (`model`, `safetensors`).
fn shard_pattern(name: &str) -> Option<(&str, &str)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let (head, total) = stem.rsplit_once("-of-")?;
    let (prefix, number) = head.rsplit_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(total) && digits(number)).then_some((prefix, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_are_recognised() {
        assert_eq!(shard_pattern("model-00001-of-00003.safetensors"), Some(("model", "safetensors")));
        assert_eq!(
            shard_pattern("diffusion_pytorch_model-00002-of-00002.bin"),
            Some(("diffusion_pytorch_model", "bin"))
        );
        assert_eq!(shard_pattern("model.safetensors"), None);
    }
}
