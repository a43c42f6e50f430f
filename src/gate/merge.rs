//! `nanscope merge REPORT.json…`: one report from the reports of shards.
//!
//! Shards of one run share the command and the inputs; their findings are
//! concatenated, their counters (`files`, `tensors`, `frames`, …) added, and
//! their sections joined: arrays (the per-file and per-frame records) are
//! concatenated, other values kept when the shards agree. Findings are put
//! in one order (most severe first, then by file), so the merged report does
//! not depend on the order the shard reports are given in.

use serde_json::Value;

use crate::report::{Finding, Report, SCHEMA_VERSION, Section};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no report to merge")]
    Empty,
    #[error("{name}: not a nanscope JSON report ({reason})")]
    NotAReport { name: String, reason: String },
    #[error("{name}: schema_version {found}, this nanscope reads {SCHEMA_VERSION}")]
    Schema { name: String, found: u64 },
    #[error("{name}: a `{found}` report cannot be merged with `{expected}` reports")]
    Command { name: String, found: String, expected: String },
    #[error("{name}: finding {index}: {source}")]
    Finding { name: String, index: usize, source: serde_json::Error },
}

/// Keys of the report envelope; every other top-level key is a section.
const ENVELOPE: &[&str] = &["schema_version", "tool", "command", "inputs", "summary", "findings"];

/// Merges JSON reports, each given with the name it is reported by (its path).
pub fn merge(documents: &[(String, Value)]) -> Result<Report, MergeError> {
    let mut merged: Option<Report> = None;
    for (name, doc) in documents {
        let report = read_report(name, doc)?;
        merged = Some(match merged {
            None => report,
            Some(so_far) if so_far.command != report.command => {
                return Err(MergeError::Command {
                    name: name.clone(),
                    found: report.command,
                    expected: so_far.command,
                });
            }
            Some(so_far) => join(so_far, report),
        });
    }
    let mut report = merged.ok_or(MergeError::Empty)?;
    if report.command == "gate" {
        join_gate_sections(&mut report);
    }
    canonical_order(&mut report);
    Ok(report)
}

/// Gate reports: each check's line is the sum of its shards' lines, the
/// `checks` counter counts checks (not shards), and a suppression is unused
/// (G121) only when no shard used it, as in one run. Findings keep the
/// `fail-on` of their check (`FailOn::carried_by`), so the merged report's
/// outcome is the one run's.
fn join_gate_sections(report: &mut Report) {
    use super::runner::{Accepted, CheckSummary, SuppressionUse};
    let typed = |report: &Report, key: &str| report.sections.iter().find(|s| s.key == key).map(|s| s.value.clone());
    if let Some(Ok(lines)) = typed(report, "checks").map(serde_json::from_value::<Vec<CheckSummary>>) {
        let mut checks: Vec<CheckSummary> = Vec::new();
        for line in lines {
            match checks.iter_mut().find(|c| c.name == line.name) {
                Some(check) => {
                    check.files.extend(line.files);
                    check.findings += line.findings;
                    check.baselined += line.baselined;
                    check.suppressed += line.suppressed;
                    check.failed |= line.failed;
                }
                None => checks.push(line),
            }
        }
        for check in &mut checks {
            check.files.sort();
        }
        report.set_counter("checks", checks.len() as u64);
        replace_section(report, super::runner::checks_section(&checks));
    }
    if let Some(Ok(mut accepted)) = typed(report, "accepted").map(serde_json::from_value::<Vec<Accepted>>) {
        accepted.sort_by(|a, b| {
            (&a.check, &a.file, &a.code, &a.message, &a.reason)
                .cmp(&(&b.check, &b.file, &b.code, &b.message, &b.reason))
        });
        replace_section(report, super::runner::accepted_section(&accepted));
    }
    if let Some(Ok(uses)) = typed(report, "suppressions").map(serde_json::from_value::<Vec<SuppressionUse>>) {
        let mut joined: Vec<SuppressionUse> = Vec::new();
        for entry in uses {
            let same =
                |s: &&mut SuppressionUse| (&s.code, &s.path, &s.reason) == (&entry.code, &entry.path, &entry.reason);
            match joined.iter_mut().find(same) {
                Some(seen) => seen.used |= entry.used,
                None => joined.push(entry),
            }
        }
        let config = report.inputs.first().cloned().unwrap_or_default();
        report.findings.retain(|f| !f.is(&crate::rules::gate::UNUSED_SUPPRESSION));
        let unused = joined.iter().filter(|s| !s.used).map(|s| super::runner::unused_suppression(&config, s));
        report.findings.extend(unused.collect::<Vec<_>>());
        replace_section(report, Section::typed("suppressions", &joined));
    }
}

fn replace_section(report: &mut Report, section: Section) {
    match report.sections.iter_mut().find(|s| s.key == section.key) {
        Some(slot) => *slot = section,
        None => report.sections.push(section),
    }
}

/// Reads a schema_version 1 JSON document back into a report (sections
/// without their table views).
pub fn read_report(name: &str, doc: &Value) -> Result<Report, MergeError> {
    let not_a_report = |reason: &str| MergeError::NotAReport { name: name.to_string(), reason: reason.to_string() };
    let object = doc.as_object().ok_or_else(|| not_a_report("not a JSON object"))?;
    let version =
        object.get("schema_version").and_then(Value::as_u64).ok_or_else(|| not_a_report("no schema_version"))?;
    if version != u64::from(SCHEMA_VERSION) {
        return Err(MergeError::Schema { name: name.to_string(), found: version });
    }
    let command = object.get("command").and_then(Value::as_str).ok_or_else(|| not_a_report("no command"))?;
    let inputs = object
        .get("inputs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let mut report = Report::new(command, inputs);
    let findings = object.get("findings").and_then(Value::as_array).ok_or_else(|| not_a_report("no findings"))?;
    for (index, finding) in findings.iter().enumerate() {
        let finding: Finding = serde_json::from_value(finding.clone()).map_err(|source| MergeError::Finding {
            name: name.to_string(),
            index,
            source,
        })?;
        report.findings.push(finding);
    }
    if let Some(summary) = object.get("summary").and_then(Value::as_object) {
        for (key, value) in summary {
            if !["error", "warning", "info"].contains(&key.as_str())
                && let Some(n) = value.as_u64()
            {
                report.set_counter(key, n);
            }
        }
    }
    for (key, value) in object {
        if !ENVELOPE.contains(&key.as_str()) {
            report.sections.push(Section { key: key.clone(), value: value.clone(), table: None });
        }
    }
    Ok(report)
}

/// Appends `from` to `into`: inputs not yet listed, findings, summed
/// counters, concatenated array sections.
pub fn join(mut into: Report, from: Report) -> Report {
    for input in from.inputs {
        if !into.inputs.contains(&input) {
            into.inputs.push(input);
        }
    }
    into.findings.extend(from.findings);
    for (key, value) in from.counters {
        let sum = into.counters.iter().find(|(k, _)| *k == key).map_or(0, |(_, v)| *v).saturating_add(value);
        into.set_counter(&key, sum);
    }
    for section in from.sections {
        match into.sections.iter_mut().find(|s| s.key == section.key) {
            Some(existing) => {
                if let (Some(a), Value::Array(b)) = (existing.value.as_array_mut(), section.value) {
                    a.extend(b);
                }
            }
            None => into.sections.push(section),
        }
    }
    into
}

/// One order whatever the shards: findings most severe first, then by file
/// (stable, so each file's own order survives); array sections whose records
/// name a `file` sorted by it.
pub fn canonical_order(report: &mut Report) {
    report.findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.subject.file.cmp(&b.subject.file)));
    for section in &mut report.sections {
        if let Value::Array(items) = &mut section.value
            && items.iter().all(|item| item.get("file").is_some_and(Value::is_string))
        {
            items.sort_by(|a, b| a["file"].as_str().cmp(&b["file"].as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Subject;
    use crate::rules;
    use serde_json::json;

    fn shard(file: &str, tensors: u64) -> Value {
        let mut report = Report::new("weights", vec!["ckpts".into()]);
        report.findings.push(
            Finding::new(&rules::weights::NONFINITE_VALUES, format!("NaN in {file}"))
                .with_subject(Subject::tensor(file, "w")),
        );
        report.set_counter("files", 1);
        report.set_counter("tensors", tensors);
        report.sections.push(Section::typed("files", &json!([{"file": file}])));
        report.to_json("0.1.0")
    }

    #[test]
    fn shards_add_up_in_one_order() {
        let a = ("a.json".to_string(), shard("ckpts/b.safetensors", 2));
        let b = ("b.json".to_string(), shard("ckpts/a.safetensors", 3));
        let one = merge(&[a.clone(), b.clone()]).unwrap();
        let other = merge(&[b, a]).unwrap();
        assert_eq!(one.to_json("x"), other.to_json("x"));
        let doc = one.to_json("x");
        assert_eq!(doc["summary"]["error"], 2);
        assert_eq!(doc["summary"]["tensors"], 5);
        assert_eq!(doc["inputs"], json!(["ckpts"]));
        assert_eq!(doc["files"][0]["file"], "ckpts/a.safetensors");
        assert_eq!(doc["findings"][0]["subject"]["file"], "ckpts/a.safetensors");
    }

    #[test]
    fn refuses_what_is_not_a_shard_of_the_same_run() {
        let weights = ("w.json".to_string(), shard("x", 1));
        let mut video = shard("y", 1);
        video["command"] = json!("video check");
        assert!(matches!(merge(&[weights.clone(), ("v.json".into(), video)]), Err(MergeError::Command { .. })));
        assert!(matches!(merge(&[]), Err(MergeError::Empty)));
        let mut future = shard("z", 1);
        future["schema_version"] = json!(2);
        assert!(matches!(merge(&[("f.json".into(), future)]), Err(MergeError::Schema { .. })));
        assert!(matches!(merge(&[("n.json".into(), json!([1]))]), Err(MergeError::NotAReport { .. })));
    }
}
