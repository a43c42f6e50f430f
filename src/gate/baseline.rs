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
    /// The largest finite magnitude per dump, stage and step: what trace checks
    /// recorded before per-module baselines. Read (and compared, with a G124
    /// asking to re-record), no longer written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absmax: Vec<StageAbsmax>,
    /// The largest finite magnitude per dump, module and step (trace checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<ModuleAbsmax>,
}

/// One module's largest finite magnitude at each step of a trace dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleAbsmax {
    pub dump: String,
    pub module: String,
    /// `[step, absmax]` pairs, by step (`null` for records without a step).
    pub steps: Vec<StepAbsmax>,
}

/// `[step, absmax]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepAbsmax(pub Option<u64>, pub f64);

/// Groups a dump's (module, step) rows by module, in their order.
pub fn module_table(dump: &str, rows: &[crate::trace::module_steps::ModuleStepAbsmax]) -> Vec<ModuleAbsmax> {
    let mut table: Vec<ModuleAbsmax> = Vec::new();
    for row in rows {
        match table.last_mut() {
            Some(last) if last.module == row.module => last.steps.push(StepAbsmax(row.step, row.absmax)),
            _ => table.push(ModuleAbsmax {
                dump: dump.to_string(),
                module: row.module.clone(),
                steps: vec![StepAbsmax(row.step, row.absmax)],
            }),
        }
    }
    table
}

/// Names listed in a G127 message before "…".
const LISTED_NAMES: usize = 3;
/// Modules named one by one in G125 findings per dump; the rest are counted.
const LISTED_MODULES: usize = 20;

/// Headroom lost: an absmax that at least doubled, or crossed half of fp16's range.
fn lost_headroom(old: f64, new: f64) -> bool {
    new > 2.0 * old || (new > FP16_MAX / 2.0 && old <= FP16_MAX / 2.0)
}

/// Doublings left before fp16 overflows.
fn doublings(x: f64) -> f64 {
    if x > 0.0 { (FP16_MAX / x).log2() } else { f64::INFINITY }
}

/// Modules whose absmax at some step lost headroom since the baseline
/// (G125, one per module at its worst step), and per dump the modules and
/// steps present in only one of the two (G127). Dumps the baseline holds but
/// this run did not check (another shard's) are not compared.
pub fn compare_modules(recorded: &[ModuleAbsmax], now: &[ModuleAbsmax]) -> Vec<Finding> {
    type Table<'a> = BTreeMap<&'a str, BTreeMap<&'a str, &'a [StepAbsmax]>>;
    fn index(rows: &[ModuleAbsmax]) -> Table<'_> {
        let mut table: Table<'_> = BTreeMap::new();
        for row in rows {
            table.entry(row.dump.as_str()).or_default().insert(row.module.as_str(), row.steps.as_slice());
        }
        table
    }
    let (before, after) = (index(recorded), index(now));
    let mut findings = Vec::new();
    for (dump, modules) in &after {
        let Some(old_modules) = before.get(dump) else {
            findings.push(trace_layout_changed(dump, "the baseline holds no trace of this dump".into()));
            continue;
        };
        let mut lost = Vec::new();
        let (mut new_modules, mut gone_modules) = (Vec::new(), Vec::new());
        let (mut new_steps, mut gone_steps) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        for (module, steps) in modules {
            let Some(old_steps) = old_modules.get(module) else {
                new_modules.push(*module);
                continue;
            };
            let old: BTreeMap<Option<u64>, f64> = old_steps.iter().map(|s| (s.0, s.1)).collect();
            let mut worst: Option<(StepAbsmax, f64, f64)> = None;
            let mut steps_lost = 0u64;
            for &StepAbsmax(step, absmax) in steps.iter() {
                let Some(&was) = old.get(&step) else {
                    new_steps.insert(step);
                    continue;
                };
                if lost_headroom(was, absmax) {
                    steps_lost += 1;
                    let spent = doublings(was) - doublings(absmax);
                    if worst.is_none_or(|(_, _, most)| spent > most) {
                        worst = Some((StepAbsmax(step, absmax), was, spent));
                    }
                }
            }
            let seen: std::collections::HashSet<Option<u64>> = steps.iter().map(|s| s.0).collect();
            gone_steps.extend(old.keys().filter(|step| !seen.contains(step)));
            if let Some((at, was, spent)) = worst {
                lost.push((*module, at, was, spent, steps_lost));
            }
        }
        gone_modules.extend(old_modules.keys().filter(|m| !modules.contains_key(*m)));
        lost.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.0.cmp(b.0)));
        let total = lost.len();
        findings.extend(lost.into_iter().take(LISTED_MODULES).map(|(module, at, was, _, steps_lost)| {
            let StepAbsmax(step, absmax) = at;
            let place = match step {
                Some(step) => format!("{module} at step {step}"),
                None => module.to_string(),
            };
            let subject =
                Subject { file: Some(dump.to_string()), module: Some(module.to_string()), step, ..Subject::default() };
            headroom_lost(subject, place, absmax, was, steps_lost, total)
        }));
        let mut changes = Vec::new();
        let list = |names: &[&str]| {
            let shown: Vec<&str> = names.iter().take(LISTED_NAMES).copied().collect();
            let more = if names.len() > LISTED_NAMES { ", …" } else { "" };
            format!("{}{more}", shown.join(", "))
        };
        if !new_modules.is_empty() {
            changes.push(format!("{} modules only in this run ({})", new_modules.len(), list(&new_modules)));
        }
        if !gone_modules.is_empty() {
            changes.push(format!("{} modules only in the baseline ({})", gone_modules.len(), list(&gone_modules)));
        }
        let steps = |set: &std::collections::BTreeSet<Option<u64>>| {
            let names: Vec<String> =
                set.iter().map(|s| s.map_or_else(|| "without a step".to_string(), |s| s.to_string())).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            list(&names)
        };
        if !new_steps.is_empty() {
            changes.push(format!("steps only in this run: {}", steps(&new_steps)));
        }
        if !gone_steps.is_empty() {
            changes.push(format!("steps only in the baseline: {}", steps(&gone_steps)));
        }
        if !changes.is_empty() {
            findings.push(trace_layout_changed(dump, changes.join("; ")));
        }
    }
    findings
}

/// G125: `place` (a module or stage, at a step) lost headroom: absmax `was` → `absmax`.
fn headroom_lost(
    subject: Subject,
    place: String,
    absmax: f64,
    was: f64,
    steps_lost: u64,
    modules_lost: usize,
) -> Finding {
    let fmt = crate::report::fmt_num;
    let others = if steps_lost > 1 { format!(" ({steps_lost} of its steps lost headroom)") } else { String::new() };
    Finding::new(
        &rules::TRACE_HEADROOM_LOST,
        format!(
            "{place}: absmax {} (baseline {}): fp16's 65504 is {}x away, {} doublings (baseline {}x, {} doublings){others}",
            fmt(absmax),
            fmt(was),
            fmt(FP16_MAX / absmax),
            fmt(doublings(absmax)),
            fmt(FP16_MAX / was),
            fmt(doublings(was)),
        ),
    )
    .with_subject(subject)
    .with_evidence("absmax", absmax)
    .with_evidence("baseline_absmax", was)
    .with_evidence("margin", FP16_MAX / absmax)
    .with_evidence("baseline_margin", FP16_MAX / was)
    .with_evidence("doublings_left", doublings(absmax))
    .with_evidence("baseline_doublings_left", doublings(was))
    .with_evidence("steps_lost", steps_lost)
    .with_evidence("modules_lost", modules_lost as u64)
}

pub(crate) fn trace_layout_changed(dump: &str, what: String) -> Finding {
    Finding::new(&rules::TRACE_LAYOUT_CHANGED, format!("{dump}: {what}")).with_subject(Subject::file(dump))
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
        if lost_headroom(old.absmax, new.absmax) {
            findings.push(stage_headroom_lost(old, new));
        }
    }
    findings
}

fn stage_headroom_lost(old: &StageAbsmax, new: &StageAbsmax) -> Finding {
    let place = match (&new.stage, new.step) {
        (Some(stage), Some(step)) => format!("{stage} at step {step}"),
        (Some(stage), None) => stage.clone(),
        (None, Some(step)) => format!("step {step}"),
        (None, None) => "the dump".into(),
    };
    let subject =
        Subject { file: Some(new.dump.clone()), stage: new.stage.clone(), step: new.step, ..Subject::default() };
    headroom_lost(subject, place, new.absmax, old.absmax, 1, 1)
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
