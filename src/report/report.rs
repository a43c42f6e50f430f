//! The report: what one command found over its inputs.

use serde_json::{Map, Value, json};

use super::{Finding, Severity};

/// Version of the JSON report layout. Field additions keep it; renames bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// A command-specific part of the report, such as `tensors` or `frames`.
///
/// `value` is what the JSON report carries under `key`; `table` is the view a
/// person reads in the table and markdown renderers (`None` keeps it out of them).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Section {
    pub key: String,
    pub value: Value,
    pub table: Option<SectionTable>,
}

impl Section {
    /// A section whose JSON is `value` serialized: sections are built from
    /// typed structs, never from hand-written JSON.
    pub fn typed<T: serde::Serialize + ?Sized>(key: &str, value: &T) -> Section {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        Section { key: key.to_string(), value, table: None }
    }

    /// The same section with a view for the human renderers.
    pub fn with_table(mut self, table: SectionTable) -> Section {
        self.table = Some(table);
        self
    }
}

/// A plain grid of cells for the human renderers.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SectionTable {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// A line printed under the table, e.g. "1,204 more tensors without findings".
    pub note: Option<String>,
}

/// A picture that goes with a report (a chart, a contact sheet). Only the
/// HTML renderer shows attachments; JSON and the text formats leave them out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Attachment {
    pub title: String,
    /// What it shows, e.g. the artifact's path.
    pub about: String,
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

impl Attachment {
    pub fn png(title: &str, bytes: Vec<u8>) -> Attachment {
        Attachment { title: title.to_string(), about: String::new(), media_type: "image/png", bytes }
    }
}

/// The run completed and no finding reached the threshold (`--fail-on`).
pub const EXIT_CLEAN: u8 = 0;
/// The run completed and at least one finding reached the threshold.
pub const EXIT_FINDINGS: u8 = 1;
/// nanscope could not do its job: bad arguments, a missing program, an
/// unwritable output, an internal error.
pub const EXIT_FAILURE: u8 = 2;

/// What a completed run means for its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No finding reached the threshold.
    Clean,
    /// At least one finding reached the threshold.
    Findings,
}

impl Outcome {
    /// The process exit code of the outcome (design.md: 0 clean, 1 findings).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Clean => EXIT_CLEAN,
            Outcome::Findings => EXIT_FINDINGS,
        }
    }
}

/// Everything one run produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    pub command: String,
    pub inputs: Vec<String>,
    pub findings: Vec<Finding>,
    /// Extra counters for `summary` next to the severity counts (`files`, `tensors`, …).
    pub counters: Vec<(String, u64)>,
    pub sections: Vec<Section>,
    /// Pictures for the HTML report.
    pub attachments: Vec<Attachment>,
}

impl Report {
    pub fn new(command: impl Into<String>, inputs: Vec<String>) -> Self {
        Report {
            command: command.into(),
            inputs,
            findings: Vec::new(),
            counters: Vec::new(),
            sections: Vec::new(),
            attachments: Vec::new(),
        }
    }

    pub fn set_counter(&mut self, key: &str, value: u64) {
        match self.counters.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.counters.push((key.to_string(), value)),
        }
    }

    pub fn count(&self, severity: Severity) -> u64 {
        self.findings.iter().filter(|f| f.severity == severity).count() as u64
    }

    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// The outcome under a `--fail-on` threshold: `Findings` when a finding
    /// is at least as severe as `threshold`, or as the `fail-on` it carries
    /// (`FailOn::carried_by`, gate findings); `None` (`--fail-on never`)
    /// fails only findings that carry a `fail-on` of their own.
    pub fn outcome(&self, threshold: Option<Severity>) -> Outcome {
        // A finding that carries its own `fail-on` (a gate check's) is judged by it.
        if self.findings.iter().any(|f| super::fails(f, threshold)) { Outcome::Findings } else { Outcome::Clean }
    }

    /// Orders findings most severe first, stable within a severity so that
    /// readers' and checks' own order (file order, tensor order) survives.
    pub fn sort_findings(&mut self) {
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    }

    pub fn summary_json(&self) -> Value {
        let mut summary = Map::new();
        for severity in [Severity::Error, Severity::Warning, Severity::Info] {
            summary.insert(severity.as_str().to_string(), json!(self.count(severity)));
        }
        for (key, value) in &self.counters {
            summary.insert(key.clone(), json!(value));
        }
        Value::Object(summary)
    }

    /// The schema_version 1 JSON document.
    pub fn to_json(&self, version: &str) -> Value {
        let mut doc = Map::new();
        doc.insert("schema_version".into(), json!(SCHEMA_VERSION));
        doc.insert("tool".into(), json!({"name": "nanscope", "version": version}));
        doc.insert("command".into(), json!(self.command));
        doc.insert("inputs".into(), json!(self.inputs));
        doc.insert("summary".into(), self.summary_json());
        doc.insert("findings".into(), serde_json::to_value(&self.findings).unwrap_or(Value::Null));
        for section in &self.sections {
            doc.insert(section.key.clone(), section.value.clone());
        }
        Value::Object(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    #[test]
    fn summary_counts_each_severity_and_counters() {
        let mut report = Report::new("weights", vec!["a".into()]);
        report.findings.push(Finding::new(&rules::weights::NONFINITE_VALUES, "x"));
        report.findings.push(Finding::new(&rules::weights::SUBNORMAL_VALUES, "y"));
        report.set_counter("files", 3);
        let doc = report.to_json("0.1.0");
        assert_eq!(doc["schema_version"], 1);
        assert_eq!(doc["summary"]["error"], 1);
        assert_eq!(doc["summary"]["warning"], 0);
        assert_eq!(doc["summary"]["info"], 1);
        assert_eq!(doc["summary"]["files"], 3);
        assert_eq!(report.worst(), Some(Severity::Error));
    }

    #[test]
    fn the_threshold_decides_the_outcome() {
        let mut report = Report::new("weights", vec![]);
        assert_eq!(report.outcome(Some(Severity::Info)), Outcome::Clean);
        report.findings.push(Finding::new(&rules::weights::SUBNORMAL_VALUES, "y"));
        assert_eq!(report.outcome(Some(Severity::Error)), Outcome::Clean);
        assert_eq!(report.outcome(Some(Severity::Info)), Outcome::Findings);
        assert_eq!(report.outcome(None), Outcome::Clean);
        assert_eq!(Outcome::Findings.exit_code(), 1);
        assert_eq!(Outcome::Clean.exit_code(), 0);
    }
}
