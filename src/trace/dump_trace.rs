//! `trace` over a dump folder: read the manifest, stream the records, check
//! their payloads, and run the analysis.

use std::path::Path;

use super::analysis::{Analysis, AnalysisOptions, Analyzer};
use super::manifest::Manifest;
use super::payload::check_payload;
use super::reader::Dump;
use crate::report::{Finding, Subject};
use crate::rules::trace as rules;

/// Input findings beyond this many per kind are summarised in one.
const MAX_INPUT_FINDINGS: usize = 20;

/// Options of a dump trace.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    pub analysis: AnalysisOptions,
    /// Recompute statistics from every payload, not only for records without them.
    pub recompute_stats: bool,
}

/// What tracing one dump produced.
#[derive(Debug, Clone, Default)]
pub struct TraceResult {
    pub manifest: Option<Manifest>,
    /// Findings about the dump folder itself (F130–F134, R126), then the analysis'.
    pub findings: Vec<Finding>,
    pub analysis: Analysis,
    /// Records whose statistics were recomputed from their payloads.
    pub recomputed: u64,
}

/// Traces the dump at `path` (the folder or its `manifest.json`).
pub fn trace_dump(path: &Path, options: &TraceOptions) -> TraceResult {
    let mut result = TraceResult::default();
    let dump = match Dump::open(path) {
        Ok(dump) => dump,
        Err(finding) => {
            result.findings.push(*finding);
            return result;
        }
    };
    let label = path.display().to_string();
    let stopped = match (&dump.manifest.aborted, dump.manifest.complete) {
        (Some(error), _) => Some(format!("the run stopped on an error: {error}")),
        (None, false) => Some("the dump was never closed: the run crashed, was killed or is still running".into()),
        (None, true) => None,
    };
    if let Some(why) = stopped {
        result.findings.push(
            Finding::new(&rules::INCOMPLETE_DUMP, format!("{label}: {why}"))
                .with_subject(Subject::file(&label))
                .with_evidence("aborted", serde_json::json!(dump.manifest.aborted)),
        );
    }
    let mut analyzer = Analyzer::new(options.analysis.clone());
    let mut record_findings = Capped::default();
    let mut payload_findings = Capped::default();
    for item in dump.records() {
        let mut record = match item {
            Ok(record) => record,
            Err(finding) => {
                record_findings.push(*finding);
                continue;
            }
        };
        if record.payload.is_some() {
            let lacks_stats = record.stats.as_ref().is_none_or(|s| !s.knows_finiteness());
            let check = check_payload(&dump.dir, &record, lacks_stats || options.recompute_stats);
            for finding in check.findings {
                payload_findings.push(finding);
            }
            if let Some(stats) = check.stats {
                record.stats = Some(stats);
                result.recomputed += 1;
            }
        }
        analyzer.push(&record);
    }
    result.findings.extend(record_findings.finish("unreadable records"));
    result.findings.extend(payload_findings.finish("payload problems"));
    result.analysis = analyzer.finish();
    result.manifest = Some(dump.manifest);
    result
}

/// Keeps the first findings of a kind and counts the rest, so one broken
/// file does not bury the analysis under thousands of lines.
#[derive(Default)]
struct Capped {
    kept: Vec<Finding>,
    dropped: u64,
}

impl Capped {
    fn push(&mut self, finding: Finding) {
        if self.kept.len() < MAX_INPUT_FINDINGS {
            self.kept.push(finding);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self, what: &str) -> Vec<Finding> {
        if let Some(last) = self.kept.last().cloned()
            && self.dropped > 0
        {
            let mut more = last.clone();
            more.message = format!("{} more {what} like the ones above", self.dropped);
            more.evidence.clear();
            more = more.with_evidence("more", self.dropped);
            self.kept.push(more);
        }
        self.kept
    }
}

#[cfg(test)]
#[path = "dump_trace_tests.rs"]
mod tests;
