//! `trace` over a dump folder: read the manifest, stream the records, check
//! their payloads, and run the analysis.

use std::path::Path;

use super::analysis::{Analysis, AnalysisOptions, Analyzer};
use super::manifest::Manifest;
use super::payload::check_payload;
use super::reader::Dump;
use super::record::Record;
use crate::report::{Finding, Subject};
use crate::rules::trace as rules;

/// Input findings beyond this many per kind are summarised in one.
const MAX_INPUT_FINDINGS: usize = 20;

/// Options of a dump trace.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
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
    // Records are streamed in file order, which is `seq` order in every dump
    // a writer produced; only when it is not are they read again, all at
    // once, and analysed sorted by `seq` (execution order decides which
    // module was first to produce NaN).
    let mut pass = analyse(&dump, dump.records(), options);
    let mut order = pass.order.summary();
    if pass.order.out_of_order > 0 {
        let (mut records, unreadable): (Vec<_>, Vec<_>) = dump.records().partition(Result::is_ok);
        records.sort_by_key(|r| r.as_ref().map_or(0, |r| r.seq));
        pass = analyse(&dump, unreadable.into_iter().chain(records), options);
        // Duplicates and gaps are counted on the sorted numbers; disorder
        // only in file order.
        order = SeqSummary {
            out_of_order: order.out_of_order,
            first_out_of_order: order.first_out_of_order,
            ..pass.order.summary()
        };
    }
    result.findings.extend(pass.findings);
    if let Some(finding) = order.finding(&label) {
        result.findings.push(finding);
    }
    result.recomputed = pass.recomputed;
    result.analysis = pass.analysis;
    result.manifest = Some(dump.manifest);
    result
}

/// What one pass over the records produced.
struct Pass {
    findings: Vec<Finding>,
    analysis: Analysis,
    recomputed: u64,
    order: SeqOrder,
}

fn analyse(dump: &Dump, records: impl Iterator<Item = Result<Record, Box<Finding>>>, options: &TraceOptions) -> Pass {
    let mut analyzer = Analyzer::new(options.analysis.clone());
    let mut record_findings = Capped::default();
    let mut payload_findings = Capped::default();
    let mut order = SeqOrder::default();
    let mut recomputed = 0;
    for item in records {
        let mut record = match item {
            Ok(record) => record,
            Err(finding) => {
                record_findings.push(*finding);
                continue;
            }
        };
        order.push(record.seq);
        if record.payload.is_some() {
            let lacks_stats = record.stats.as_ref().is_none_or(|s| !s.knows_finiteness());
            let check = check_payload(&dump.dir, &record, lacks_stats || options.recompute_stats);
            for finding in check.findings {
                payload_findings.push(finding);
            }
            if let Some(stats) = check.stats {
                record.stats = Some(stats);
                recomputed += 1;
            }
        }
        analyzer.push(&record);
    }
    let mut findings = record_findings.finish("unreadable records");
    findings.extend(payload_findings.finish("payload problems"));
    Pass { findings, analysis: analyzer.finish(), recomputed, order }
}

/// The `seq` numbers of a dump as they are met: a writer numbers records
/// 0, 1, 2, … in execution order.
#[derive(Debug, Default, Clone)]
struct SeqOrder {
    count: u64,
    last: Option<u64>,
    max: Option<u64>,
    out_of_order: u64,
    first_out_of_order: Option<(u64, u64)>,
    duplicates: u64,
    first_duplicate: Option<u64>,
}

impl SeqOrder {
    fn push(&mut self, seq: u64) {
        self.count += 1;
        if let Some(max) = self.max
            && seq < max
        {
            self.out_of_order += 1;
            self.first_out_of_order.get_or_insert((seq, max));
        }
        // Duplicates are counted where they meet, which after sorting (or
        // in an ordered file) is side by side.
        if self.last == Some(seq) {
            self.duplicates += 1;
            self.first_duplicate.get_or_insert(seq);
        }
        self.last = Some(seq);
        self.max = Some(self.max.map_or(seq, |m| m.max(seq)));
    }

    /// Counts for the finding. Missing numbers are only known when the
    /// numbers were met in order (the second pass sorts them first).
    fn summary(&self) -> SeqSummary {
        let distinct = self.count - self.duplicates;
        let missing = match (self.max, self.out_of_order) {
            (Some(max), 0) => (max + 1).saturating_sub(distinct),
            _ => 0,
        };
        SeqSummary {
            out_of_order: self.out_of_order,
            first_out_of_order: self.first_out_of_order,
            duplicates: self.duplicates,
            first_duplicate: self.first_duplicate,
            missing,
        }
    }
}

#[derive(Debug, Default)]
struct SeqSummary {
    out_of_order: u64,
    first_out_of_order: Option<(u64, u64)>,
    duplicates: u64,
    first_duplicate: Option<u64>,
    missing: u64,
}

impl SeqSummary {
    /// One F135 finding naming every kind of damage, or none.
    fn finding(&self, label: &str) -> Option<Finding> {
        let mut problems = Vec::new();
        if self.out_of_order > 0 {
            let first = self
                .first_out_of_order
                .map_or(String::new(), |(seq, after)| format!(" (first: seq {seq} after seq {after})"));
            problems.push(format!(
                "{} records out of seq order{first}; they were analysed in seq order",
                self.out_of_order
            ));
        }
        if self.duplicates > 0 {
            let first = self.first_duplicate.map_or(String::new(), |seq| format!(" (first: {seq})"));
            problems.push(format!("{} duplicate seq numbers{first}", self.duplicates));
        }
        if self.missing > 0 {
            problems.push(format!("{} seq numbers missing between 0 and the last record", self.missing));
        }
        if problems.is_empty() {
            return None;
        }
        Some(
            Finding::new(&rules::DUMP_SEQUENCE_BROKEN, format!("{label}: {}", problems.join("; ")))
                .with_subject(Subject::file(label))
                .with_evidence("out_of_order", self.out_of_order)
                .with_evidence("duplicates", self.duplicates)
                .with_evidence("missing", self.missing),
        )
    }
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
