//! Baselines: what `gate --update-baselines` accepted, one JSON file per
//! check in the baselines folder. A later run fails only on findings the
//! baseline does not hold, and compares checkpoints with their recorded
//! fingerprint (names, shapes, dtypes and statistics; no values).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::numerics::TensorStats;
use crate::report::{Finding, Subject};
use crate::rules::gate as rules;
use crate::weights::TensorRecord;

/// A recorded baseline of one check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// The accepted findings, by identity (code, file, place).
    pub findings: Vec<FindingKey>,
    /// The fingerprint of every checked tensor (weights checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tensors: Vec<TensorPrint>,
    /// The largest finite magnitude per dump, stage and step (trace checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absmax: Vec<StageAbsmax>,
}

/// One stage's largest activation at one step of a trace dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageAbsmax {
    pub dump: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    pub absmax: f64,
}

/// fp16's largest finite value.
const FP16_MAX: f64 = 65504.0;

/// Stages whose absmax doubled since the baseline, or crossed half of fp16's range.
pub fn compare_absmax(recorded: &[StageAbsmax], now: &[StageAbsmax]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for new in now {
        let Some(old) = recorded.iter().find(|o| o.dump == new.dump && o.stage == new.stage && o.step == new.step)
        else {
            continue;
        };
        let doubled = new.absmax > 2.0 * old.absmax;
        let crossed = new.absmax > FP16_MAX / 2.0 && old.absmax <= FP16_MAX / 2.0;
        if doubled || crossed {
            findings.push(headroom_lost(old, new));
        }
    }
    findings
}

fn headroom_lost(old: &StageAbsmax, new: &StageAbsmax) -> Finding {
    let fmt = crate::report::fmt_num;
    let doublings = |x: f64| if x > 0.0 { (FP16_MAX / x).log2() } else { f64::INFINITY };
    let place = match (&new.stage, new.step) {
        (Some(stage), Some(step)) => format!("{stage} at step {step}"),
        (Some(stage), None) => stage.clone(),
        (None, Some(step)) => format!("step {step}"),
        (None, None) => "the dump".into(),
    };
    Finding::new(
        &rules::TRACE_HEADROOM_LOST,
        format!(
            "{place}: absmax {} (baseline {}), {} doublings left before fp16 overflows (baseline {})",
            fmt(new.absmax),
            fmt(old.absmax),
            fmt(doublings(new.absmax)),
            fmt(doublings(old.absmax))
        ),
    )
    .with_subject(Subject {
        file: Some(new.dump.clone()),
        stage: new.stage.clone(),
        step: new.step,
        ..Subject::default()
    })
    .with_evidence("absmax", new.absmax)
    .with_evidence("baseline_absmax", old.absmax)
}

/// What identifies a finding across runs: its rule, its file relative to
/// the configuration, and where in the file (the subject without the file),
/// not its message, whose numbers may move.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub at: String,
}

impl FindingKey {
    pub fn of(finding: &Finding, relative: &dyn Fn(&str) -> String) -> FindingKey {
        let subject = Subject { file: None, ..finding.subject.clone() };
        FindingKey {
            code: finding.code().to_string(),
            file: finding.subject.file.as_deref().map(relative),
            at: subject.label(),
        }
    }
}

/// One tensor's fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorPrint {
    pub file: String,
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<PrintStats>,
}

/// The statistics a fingerprint keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrintStats {
    pub count: u64,
    pub nonfinite: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub absmax: Option<f64>,
}

impl PrintStats {
    fn of(stats: &TensorStats) -> PrintStats {
        PrintStats {
            count: stats.count,
            nonfinite: stats.nonfinite(),
            min: stats.min,
            max: stats.max,
            mean: stats.mean,
            std: stats.std,
            absmax: stats.absmax,
        }
    }
}

pub fn fingerprint(tensors: &[TensorRecord], relative: &dyn Fn(&str) -> String) -> Vec<TensorPrint> {
    tensors
        .iter()
        .map(|t| TensorPrint {
            file: relative(&t.file),
            name: t.name.clone(),
            dtype: t.dtype.to_string(),
            shape: t.shape.clone(),
            stats: t.stats.as_ref().map(PrintStats::of),
        })
        .collect()
}

pub fn path(folder: &Path, check: &str) -> PathBuf {
    folder.join(format!("{check}.json"))
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write baseline {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Reads a check's baseline; `None` when none was recorded.
pub fn read(path: &Path) -> Result<Option<Baseline>, BaselineError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(BaselineError::Read { path: path.display().to_string(), reason: err.to_string() }),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|err| BaselineError::Read { path: path.display().to_string(), reason: err.to_string() })
}

pub fn write(path: &Path, baseline: &Baseline) -> Result<(), BaselineError> {
    let error = |source| BaselineError::Write { path: path.display().to_string(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(error)?;
    }
    let mut text = serde_json::to_vec_pretty(baseline).unwrap_or_default();
    text.push(b'\n');
    std::fs::write(path, text).map_err(error)
}

/// Splits findings into new ones and those the baseline accepted.
pub fn split_accepted(
    findings: Vec<Finding>,
    accepted: &[FindingKey],
    relative: &dyn Fn(&str) -> String,
) -> (Vec<Finding>, Vec<Finding>) {
    let accepted: HashSet<&FindingKey> = accepted.iter().collect();
    findings.into_iter().partition(|f| !accepted.contains(&FindingKey::of(f, relative)))
}

/// Findings of a checkpoint that differs from its fingerprint. `root` joins
/// the recorded relative file names back for the subjects.
pub fn compare_prints(
    recorded: &[TensorPrint],
    now: &[TensorPrint],
    tolerance: f64,
    label: &dyn Fn(&str) -> String,
) -> Vec<Finding> {
    let key = |p: &TensorPrint| (p.file.clone(), p.name.clone());
    let before: BTreeMap<(String, String), &TensorPrint> = recorded.iter().map(|p| (key(p), p)).collect();
    let after: BTreeMap<(String, String), &TensorPrint> = now.iter().map(|p| (key(p), p)).collect();
    let checked_files: HashSet<&str> = now.iter().map(|p| p.file.as_str()).collect();
    let mut findings = Vec::new();
    for ((file, name), old) in &before {
        // Under --shard, a file this run did not check is not missing.
        if !checked_files.contains(file.as_str()) {
            continue;
        }
        match after.get(&(file.clone(), name.clone())) {
            None => findings.push(layout_changed(label(file), name, "is missing (the baseline has it)".into())),
            Some(new) if new.shape != old.shape || new.dtype != old.dtype => findings.push(layout_changed(
                label(file),
                name,
                format!("is {} {:?}, the baseline has {} {:?}", new.dtype, new.shape, old.dtype, old.shape),
            )),
            Some(new) => {
                if let Some(finding) = drifted(label(file), name, old, new, tolerance) {
                    findings.push(finding);
                }
            }
        }
    }
    for ((file, name), new) in &after {
        if !before.contains_key(&(file.clone(), name.clone())) {
            findings.push(layout_changed(
                label(file),
                name,
                format!("{} {:?} is new (the baseline lacks it)", new.dtype, new.shape),
            ));
        }
    }
    findings
}

fn layout_changed(file: String, tensor: &str, what: String) -> Finding {
    Finding::new(&rules::WEIGHTS_LAYOUT_CHANGED, format!("tensor {tensor} {what}"))
        .with_subject(Subject::tensor(file, tensor))
}

fn drifted(file: String, tensor: &str, old: &TensorPrint, new: &TensorPrint, tolerance: f64) -> Option<Finding> {
    let (Some(a), Some(b)) = (old.stats, new.stats) else { return None };
    let mut moved = Vec::new();
    if a.nonfinite != b.nonfinite {
        moved.push(format!("non-finite values {} → {}", a.nonfinite, b.nonfinite));
    }
    for (what, x, y) in [
        ("min", a.min, b.min),
        ("max", a.max, b.max),
        ("mean", a.mean, b.mean),
        ("std", a.std, b.std),
        ("absmax", a.absmax, b.absmax),
    ] {
        let (Some(x), Some(y)) = (x, y) else { continue };
        let scale = x.abs().max(y.abs()).max(f64::MIN_POSITIVE);
        if (x - y).abs() > tolerance * scale {
            moved.push(format!("{what} {} → {}", crate::report::fmt_num(x), crate::report::fmt_num(y)));
        }
    }
    if moved.is_empty() {
        return None;
    }
    Some(
        Finding::new(
            &rules::WEIGHTS_STATISTICS_DRIFTED,
            format!("tensor {tensor} moved from its fingerprint: {}", moved.join(", ")),
        )
        .with_subject(Subject::tensor(file, tensor))
        .with_evidence("tolerance", tolerance),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(name: &str, shape: Vec<u64>, max: f64) -> TensorPrint {
        TensorPrint {
            file: "w.safetensors".into(),
            name: name.into(),
            dtype: "F16".into(),
            shape,
            stats: Some(PrintStats {
                count: 4,
                nonfinite: 0,
                min: Some(-1.0),
                max: Some(max),
                mean: Some(0.0),
                std: Some(1.0),
                absmax: Some(max),
            }),
        }
    }

    #[test]
    fn headroom_lost_is_a_doubling_or_half_the_range() {
        let at = |absmax: f64| StageAbsmax { dump: "run".into(), stage: Some("unet".into()), step: Some(3), absmax };
        assert!(compare_absmax(&[at(1000.0)], &[at(1900.0)]).is_empty());
        assert_eq!(compare_absmax(&[at(1000.0)], &[at(2100.0)]).len(), 1);
        assert_eq!(compare_absmax(&[at(30000.0)], &[at(33000.0)]).len(), 1);
        assert!(compare_absmax(&[at(40000.0)], &[at(41000.0)]).is_empty());
    }

    #[test]
    fn fingerprints_catch_layout_and_drift() {
        let label = |f: &str| f.to_string();
        let before = vec![print("a", vec![2, 2], 1.0), print("b", vec![4], 1.0)];
        assert!(compare_prints(&before, &before, 1e-3, &label).is_empty());
        let after = vec![print("a", vec![4], 1.0), print("b", vec![4], 2.0), print("c", vec![1], 1.0)];
        let findings = compare_prints(&before, &after, 1e-3, &label);
        let codes: Vec<&str> = findings.iter().map(|f| f.code()).collect();
        assert_eq!(codes, ["G122", "G123", "G122"], "{findings:?}");
    }
}
