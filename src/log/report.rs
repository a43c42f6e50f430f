//! The report of `nanscope log check`: findings, the `timeline` of matched
//! lines in order, the `parameters` each log states, and a `logs` summary.

use serde::Serialize;

use super::check::{LogCheck, TimelineEvent};
use super::params::RunParameters;
use crate::report::{Report, Section, SectionTable};

/// The `parameters` section: one entry per log that states any.
#[derive(Serialize)]
struct FileParameters<'a> {
    file: &'a str,
    #[serde(flatten)]
    parameters: &'a RunParameters,
}

/// Builds the report of a log check over `inputs`.
pub fn report(check: &LogCheck, inputs: Vec<String>) -> Report {
    let mut report = Report::new("log check", inputs);
    let mut lines = 0u64;
    let mut bytes = 0u64;
    let mut events: Vec<&TimelineEvent> = Vec::new();
    for file in &check.files {
        report.findings.extend(file.findings.iter().cloned());
        lines += file.lines;
        bytes += file.bytes;
        events.extend(&file.timeline);
    }
    report.set_counter("files", check.files.len() as u64);
    report.set_counter("lines", lines);
    report.set_counter("bytes", bytes);
    report.set_counter("events", check.files.iter().map(|f| f.events).sum());
    report.sections.push(Section::typed("logs", &check.files).with_table(logs_table(check)));
    report.sections.push(Section::typed("timeline", &events).with_table(timeline_table(&events, check)));
    let stated: Vec<FileParameters<'_>> = check
        .files
        .iter()
        .filter(|f| !f.parameters.is_empty())
        .map(|f| FileParameters { file: &f.file, parameters: &f.parameters })
        .collect();
    report.sections.push(Section::typed("parameters", &stated).with_table(parameters_table(check)));
    report.sort_findings();
    report
}

fn logs_table(check: &LogCheck) -> SectionTable {
    SectionTable {
        title: "Logs".into(),
        header: ["file", "lines", "bytes", "gzip", "matched lines"].map(String::from).to_vec(),
        rows: check
            .files
            .iter()
            .map(|f| {
                vec![f.file.clone(), f.lines.to_string(), f.bytes.to_string(), f.gzip.to_string(), f.events.to_string()]
            })
            .collect(),
        note: notebooks_note(check),
    }
}

/// What `lines` counts in a notebook, and what it ran.
fn notebooks_note(check: &LogCheck) -> Option<String> {
    let notebooks: Vec<String> =
        check.files.iter().filter_map(|f| Some(format!("{}: {}", f.file, f.notebook?))).collect();
    (!notebooks.is_empty()).then(|| {
        format!(
            "{}. A notebook's lines are those of its cells' outputs, in the order the cells ran; its findings \
             give the line of the notebook file and the cell (evidence.cell)",
            notebooks.join("; ")
        )
    })
}

fn timeline_table(events: &[&TimelineEvent], check: &LogCheck) -> SectionTable {
    let matched: u64 = check.files.iter().map(|f| f.events).sum();
    let several = check.files.len() > 1;
    SectionTable {
        title: "Timeline".into(),
        header: ["line", "time", "code", "stage", "text"].map(String::from).to_vec(),
        rows: events
            .iter()
            .map(|e| {
                let line = if several { format!("{}:{}", e.file, e.line) } else { e.line.to_string() };
                vec![line, e.timestamp.clone().unwrap_or_default(), e.code.into(), e.stage.into(), e.text.clone()]
            })
            .collect(),
        note: (matched > events.len() as u64)
            .then(|| format!("{} more matched lines not kept", matched - events.len() as u64)),
    }
}

fn parameters_table(check: &LogCheck) -> SectionTable {
    let rows = check
        .files
        .iter()
        .flat_map(|f| {
            f.parameters
                .rows()
                .into_iter()
                .map(|(name, value, line)| vec![f.file.clone(), name.into(), value, line.to_string()])
        })
        .collect();
    SectionTable {
        title: "Run parameters stated by the log".into(),
        header: ["file", "parameter", "value", "line"].map(String::from).to_vec(),
        rows,
        note: None,
    }
}
