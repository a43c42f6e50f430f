//! The report of `nanscope config check`: findings and, per file, its kind,
//! variant, root and the `settings` it states with what each means.

use super::check::ConfigCheck;
use crate::report::{Report, Section, SectionTable};

/// Builds the report of a configuration check over `inputs`.
pub fn report(check: &ConfigCheck, inputs: Vec<String>) -> Report {
    let mut report = Report::new("config check", inputs);
    for file in &check.files {
        report.findings.extend(file.findings.iter().cloned());
    }
    report.set_counter("files", check.files.len() as u64);
    let rows = check
        .files
        .iter()
        .flat_map(|f| {
            f.settings.iter().map(|s| {
                let line = s.line.map_or_else(String::new, |l| l.to_string());
                vec![f.file.clone(), s.key.clone(), s.value.clone(), s.meaning.clone(), line]
            })
        })
        .collect();
    let note = check
        .files
        .iter()
        .map(|f| {
            let kind = serde_json::to_value(f.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            match (&f.variant, &f.root) {
                (Some(v), Some(root)) => format!("{}: {kind}, {} pipeline, root {root}", f.file, v.as_str()),
                (Some(v), None) => format!("{}: {kind}, {} pipeline", f.file, v.as_str()),
                _ => format!("{}: {kind}", f.file),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let table = SectionTable {
        title: "Settings".into(),
        header: ["file", "key", "value", "meaning", "line"].map(String::from).to_vec(),
        rows,
        note: Some(note),
    };
    report.sections.push(Section::typed("configs", &check.files).with_table(table));
    report.sort_findings();
    report
}
