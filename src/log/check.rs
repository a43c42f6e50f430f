//! Checking one log: open (gzip recognised by content), stream, classify the
//! matched lines into findings, a timeline and the stated run parameters.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use serde::Serialize;
use serde_json::Value;

use super::notebook::{self, Place};
use super::params::{self, RunParameters};
use super::scan::{self, Hit, ScanTally};
use super::signature::{self, Signature};
use super::timestamp;
use crate::report::{Finding, Severity, Subject};
use crate::rules::log as rules;

/// Decompressed bytes after which a gzip stream is judged for its ratio.
const BOMB_MIN_BYTES: u64 = 16 << 20;

/// Expansion ratio above which a gzip stream is a decompression bomb, not a
/// log: text logs compress 5-50×, a run of zeros about 1000×.
const BOMB_RATIO: u64 = 400;

/// Characters of a line quoted in messages and the timeline.
const EXCERPT_CHARS: usize = 200;

/// What the check should keep.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogOptions {
    /// Findings kept per rule and file; further matches are counted in the
    /// first finding's `occurrences` and still enter the timeline.
    pub max_findings_per_rule: usize,
    /// Timeline events kept per file.
    pub max_timeline: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions { max_findings_per_rule: 20, max_timeline: 1000 }
    }
}

/// One matched line, in file order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    pub file: String,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    pub code: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    /// The pipeline stage the line implicates.
    pub stage: &'static str,
    pub text: String,
}

/// The result for one log file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LogFile {
    pub file: String,
    pub gzip: bool,
    /// Bytes of log text read (after decompression).
    pub bytes: u64,
    pub lines: u64,
    /// Matched lines, including those past `max_timeline` that were not kept.
    pub events: u64,
    pub parameters: RunParameters,
    /// A Jupyter notebook, read as the console of its cells' outputs
    /// (`lines` counts those; findings give the notebook's own lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook: Option<notebook::Summary>,
    #[serde(skip)]
    pub timeline: Vec<TimelineEvent>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// The result for every log given.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct LogCheck {
    pub files: Vec<LogFile>,
}

/// Checks every file in `paths`.
pub fn check<P: AsRef<Path>>(paths: &[P], options: &LogOptions) -> LogCheck {
    LogCheck { files: paths.iter().map(|p| check_file(p.as_ref(), options)).collect() }
}

/// Checks one log file; a file that cannot be opened is an `L117` finding.
pub fn check_file(path: &Path, options: &LogOptions) -> LogFile {
    let label = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(file) => match super::prefetch::Prefetch::new(file) {
            Ok(ahead) => check_reader(ahead, &label, options),
            Err(file) => check_reader(file, &label, options),
        },
        Err(err) => {
            let mut result = LogFile::empty(&label, false);
            result.findings.push(unreadable(&label, &err, 0, 0));
            result
        }
    }
}

impl LogFile {
    fn empty(label: &str, gzip: bool) -> LogFile {
        LogFile {
            file: label.to_string(),
            gzip,
            bytes: 0,
            lines: 0,
            events: 0,
            parameters: RunParameters::default(),
            notebook: None,
            timeline: Vec::new(),
            findings: Vec::new(),
        }
    }
}

/// Checks a log read from `reader`, named `label` in findings.
pub fn check_reader<R: Read>(reader: R, label: &str, options: &LogOptions) -> LogFile {
    let compressed = Rc::new(Cell::new(0u64));
    let mut buffered = BufReader::with_capacity(1 << 16, Counting { inner: reader, count: compressed.clone() });
    let gzip = buffered.fill_buf().is_ok_and(|head| head.starts_with(&[0x1f, 0x8b]));
    let is_notebook = !gzip && buffered.fill_buf().is_ok_and(notebook::looks_like);
    let mut state = State::new(label, options, gzip);
    let searcher = scan::searcher(&[signature::NEEDLES, signature::LOAD_NEEDLES, params::NEEDLES, signature::TRACEBACK_NEEDLES].concat());
    let outcome = if gzip {
        let decoder = flate2::bufread::MultiGzDecoder::new(buffered);
        let guarded = BombGuard { inner: decoder, out: 0, compressed: compressed.clone() };
        scan::scan(guarded, &searcher, |hit| state.hit(hit))
    } else if is_notebook {
        match notebook::read_from(&mut buffered) {
            Ok((console, size)) => {
                state.places = console.places;
                state.result.notebook = Some(console.summary);
                let outcome = scan::scan(console.text.as_bytes(), &searcher, |hit| state.hit(hit));
                // The file's bytes, not the console's.
                outcome.map(|tally| ScanTally { bytes: size, ..tally })
            }
            // Too large, or not a notebook after all: its text as it is.
            Err((_, bytes)) => scan::scan(io::Cursor::new(bytes).chain(buffered), &searcher, |hit| state.hit(hit)),
        }
    } else {
        scan::scan(buffered, &searcher, |hit| state.hit(hit))
    };
    let tally = match outcome {
        Ok(tally) => tally,
        Err((tally, err)) => {
            let finding = match err.get_ref().and_then(|e| e.downcast_ref::<Bomb>()) {
                Some(bomb) => bomb_finding(label, bomb, &tally),
                None => unreadable(label, &err, tally.bytes, tally.lines),
            };
            state.result.findings.push(finding);
            tally
        }
    };
    state.finish(tally)
}

/// Counts the bytes read from the file itself (compressed, for gzip).
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Stops a gzip stream that expands like a decompression bomb.
struct BombGuard<R> {
    inner: R,
    out: u64,
    compressed: Rc<Cell<u64>>,
}

#[derive(Debug, thiserror::Error)]
#[error("gzip stream expands {out} bytes from {compressed}")]
struct Bomb {
    out: u64,
    compressed: u64,
}

impl<R: Read> Read for BombGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        let compressed = self.compressed.get().max(1);
        if self.out > BOMB_MIN_BYTES && self.out / compressed > BOMB_RATIO {
            return Err(io::Error::other(Bomb { out: self.out, compressed }));
        }
        Ok(n)
    }
}

/// The check's running state while the scan calls back.
struct State<'a> {
    options: &'a LogOptions,
    result: LogFile,
    /// Per rule code: the index of its first finding and how often it matched.
    seen: Vec<(&'static str, usize, u64, u64)>,
    /// A Python traceback whose exception line has not come yet.
    traceback: Option<Traceback>,
    /// The needles that make a line worth reading outside a traceback.
    outside_traceback: aho_corasick::AhoCorasick,
    /// The exception type an error report stated, until its message line.
    report_exception: Option<String>,
    /// The last finding of an exception that ended a traceback, and its
    /// line: ComfyUI may say next that it was a custom node's import.
    last_exception: Option<(usize, u64)>,
    /// A notebook's: where each line of its console is in the file.
    places: Vec<Place>,
}

/// What ComfyUI prints after the traceback of a custom node it could not
/// import at start (`Cannot import /ComfyUI/custom_nodes/X module for custom
/// nodes: No module named 'cv2'`); it starts without that node.
const NODE_IMPORT: &str = "module for custom nodes:";

/// Lines after an exception within which ComfyUI names the node whose import raised it.
const NODE_IMPORT_LINES: u64 = 3;

/// An open traceback: where it starts, and the config key of the last
/// weight path its frames load (`torch.load(config.denoising_unet_path, …)`).
struct Traceback {
    line: u64,
    loading: Option<String>,
}

/// A load failure with the config key its traceback loaded
/// (`evidence.config_key`); any other finding as it is.
fn with_loading(finding: Finding, key: Option<String>) -> Finding {
    match key {
        Some(key) if rules::FAILED_LOADS.iter().any(|r| finding.is(r)) => finding.with_evidence("config_key", key),
        _ => finding,
    }
}

/// Lines after `Traceback (most recent call last):` within which its
/// exception line is looked for (a deep stack prints two lines a frame).
const TRACEBACK_LINES: u64 = 2000;

impl<'a> State<'a> {
    fn new(label: &str, options: &'a LogOptions, gzip: bool) -> Self {
        State {
            options,
            result: LogFile::empty(label, gzip),
            seen: Vec::new(),
            traceback: None,
            outside_traceback: scan::searcher(&[signature::NEEDLES, signature::LOAD_NEEDLES, params::NEEDLES].concat()),
            report_exception: None,
            last_exception: None,
            places: Vec::new(),
        }
    }

    fn hit(&mut self, hit: &Hit<'_>) {
        // A line that holds only a traceback's strings ("error") matters
        // only inside one: outside, it is dropped before it is decoded.
        if self.traceback.as_ref().is_some_and(|t| hit.line.saturating_sub(t.line) > TRACEBACK_LINES) {
            self.traceback = None;
        }
        let report = error_report_field(hit.text);
        if let Some(ReportField::ExceptionType(name)) = report {
            // The exception's message follows on the next line.
            self.traceback = Some(Traceback { line: hit.line, loading: None });
            self.report_exception = Some(name);
            return;
        }
        if let Some((finding, line)) = self.last_exception
            && hit.line.saturating_sub(line) <= NODE_IMPORT_LINES
            && let Some(node) = node_import(&String::from_utf8_lossy(hit.text))
        {
            // Not what stopped a run: ComfyUI went on without the node.
            self.last_exception = None;
            if let Some(f) = self.result.findings.get_mut(finding) {
                f.evidence.insert("custom_node".into(), node.into());
            }
            return;
        }
        if self.traceback.is_none() && !self.outside_traceback.is_match(hit.text) {
            return;
        }
        let raw = String::from_utf8_lossy(hit.text);
        let (mut message, json_time) = json_line(&raw).unwrap_or_else(|| (raw.to_string(), None));
        if let Some(clean) = timestamp::unglue(&message) {
            message = clean;
        }
        if let Some(ReportField::ExceptionMessage(text)) = report
            && let Some(name) = self.report_exception.take()
        {
            // Read as the line a traceback ends with.
            message = format!("{name}: {text}");
        }
        let lower = message.to_ascii_lowercase();
        let place = self.place(hit.line);
        self.result.parameters.read_line(&lower, place.line);
        let mut sig = signature::classify(&lower);
        let mut loading = None;
        if lower.contains("traceback (most recent call last)") {
            self.traceback = Some(Traceback { line: hit.line, loading: None });
        } else if let Some(traceback) = self.traceback.as_mut() {
            if let Some(key) = signature::config_path_key(&message) {
                traceback.loading = Some(key.to_string());
            }
            if signature::exception_type(&message).is_some() {
                // The line that ends a traceback: an exception no rule names
                // is still what stopped the run.
                loading = self.traceback.take().and_then(|t| t.loading);
                if sig.is_none() && !signature::benign_exception(&lower) {
                    sig = Some(Signature { rule: &rules::UNHANDLED_EXCEPTION, stage: "run", scheme: None });
                }
            }
        }
        let Some(sig) = sig else { return };
        let timestamp = json_time.or_else(|| timestamp::find(hit.head));
        let text = excerpt(&message);
        self.result.events += 1;
        if self.result.timeline.len() < self.options.max_timeline {
            self.result.timeline.push(TimelineEvent {
                file: self.result.file.clone(),
                line: place.line,
                timestamp: timestamp.clone(),
                code: sig.rule.code,
                rule: sig.rule.slug,
                severity: sig.rule.severity,
                stage: sig.stage,
                text: text.clone(),
            });
        }
        let before = self.result.findings.len();
        match self.seen.iter_mut().find(|s| s.0 == sig.rule.code) {
            Some(seen) => {
                seen.2 += 1;
                seen.3 = place.line;
                if seen.2 as usize <= self.options.max_findings_per_rule {
                    let finding = signature_finding(&self.result.file, sig, place, timestamp, &message);
                    let finding = with_loading(finding, loading);
                    self.result.findings.push(finding);
                }
            }
            None => {
                let finding = signature_finding(&self.result.file, sig, place, timestamp, &message);
                let finding = with_loading(finding, loading);
                self.seen.push((sig.rule.code, self.result.findings.len(), 1, place.line));
                self.result.findings.push(finding);
            }
        }
        self.last_exception =
            (sig.rule == &rules::UNHANDLED_EXCEPTION && self.result.findings.len() > before).then_some((before, hit.line));
    }

    /// Where the scanned line `line` is: itself, or in a notebook the
    /// file line and cell its text came from.
    fn place(&self, line: u64) -> Place {
        let index = usize::try_from(line.saturating_sub(1)).unwrap_or(usize::MAX);
        self.places.get(index).copied().unwrap_or(Place { line, cell: None })
    }

    fn finish(mut self, tally: ScanTally) -> LogFile {
        for (_, first, count, last) in &self.seen {
            if let Some(finding) = self.result.findings.get_mut(*first) {
                finding.evidence.insert("occurrences".into(), (*count).into());
                finding.evidence.insert("last_line".into(), (*last).into());
            }
        }
        if tally.binary_lines > 0 || tally.overlong_lines > 0 {
            let finding = binary_content(&self.result.file, &tally);
            self.result.findings.push(finding);
        }
        self.result.bytes = tally.bytes;
        self.result.lines = tally.lines;
        self.result.findings.sort_by_key(|f| f.subject.line.unwrap_or(u64::MAX));
        self.result
    }
}

/// The node folder of ComfyUI's line for a custom node it could not import:
/// `/ComfyUI/custom_nodes/ComfyUI_EchoMimic` in `Cannot import
/// /ComfyUI/custom_nodes/ComfyUI_EchoMimic module for custom nodes: …`.
fn node_import(line: &str) -> Option<String> {
    let clean = timestamp::unglue(line).unwrap_or_else(|| line.to_string());
    let (_, rest) = clean.split_once("Cannot import ")?;
    let (node, _) = rest.split_once(&format!(" {NODE_IMPORT}"))?;
    let node = node.trim();
    (!node.is_empty()).then(|| node.to_string())
}

/// A field of the error report ComfyUI shows for a failed node (and users
/// save or paste): the exception that stopped the run is stated in two
/// lines of their own, `- **Exception Type:** RuntimeError` and
/// `- **Exception Message:** …`; its stack trace follows without them.
enum ReportField {
    ExceptionType(String),
    ExceptionMessage(String),
}

fn error_report_field(line: &[u8]) -> Option<ReportField> {
    // Every line with `error` in it comes here: bytes first, text only for a field.
    let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
    if !line[start..].starts_with(b"- **Exception ") {
        return None;
    }
    let line = std::str::from_utf8(line).ok()?.trim();
    let field = |key: &str| line.strip_prefix(key).map(|value| value.trim().to_string());
    if let Some(name) = field("- **Exception Type:**").filter(|n| !n.is_empty() && !n.contains(char::is_whitespace)) {
        Some(ReportField::ExceptionType(name))
    } else {
        field("- **Exception Message:**").map(ReportField::ExceptionMessage)
    }
}

/// A JSON line's message and timestamp, when the line is a JSON object.
fn json_line(raw: &str) -> Option<(String, Option<String>)> {
    let trimmed = raw.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let Value::Object(map) = serde_json::from_str::<Value>(trimmed).ok()? else { return None };
    let text = |keys: &[&str]| {
        keys.iter().find_map(|k| match map.get(*k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let message = text(&["message", "msg", "event", "log", "text"]);
    let time = text(&["timestamp", "time", "ts", "@timestamp", "asctime", "t"]);
    // Parameters logged as fields (`"steps": 30`) stay readable: the whole
    // object is kept after the message.
    Some((message.map_or_else(|| trimmed.to_string(), |m| format!("{m} {trimmed}")), time))
}

fn excerpt(text: &str) -> String {
    let clean: String = text.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.chars().count() <= EXCERPT_CHARS {
        clean
    } else {
        let cut: String = clean.chars().take(EXCERPT_CHARS).collect();
        format!("{cut}…")
    }
}

fn line_subject(file: &str, line: u64) -> Subject {
    Subject { file: Some(file.to_string()), line: Some(line), ..Subject::default() }
}

/// The finding of a recognised line (`message`, the whole line); every
/// finding of a line's signature is built here.
fn signature_finding(file: &str, sig: Signature, place: Place, timestamp: Option<String>, message: &str) -> Finding {
    let text = excerpt(message);
    let line = place.line;
    let cell = place.cell.map_or(String::new(), |n| format!(" (cell In [{n}])"));
    let mut finding = Finding::new(sig.rule, format!("line {line}{cell}: {} ({}): {text}", sig.rule.summary, sig.stage))
        .with_subject(Subject { stage: Some(sig.stage.to_string()), ..line_subject(file, line) });
    if let Some(cell) = place.cell {
        finding = finding.with_evidence("cell", cell);
    }
    if let Some(timestamp) = timestamp {
        finding = finding.with_evidence("timestamp", timestamp);
    }
    if let Some(scheme) = sig.scheme {
        finding = finding.with_evidence("scheme", scheme.name());
    }
    if sig.rule == &rules::WEIGHTS_NOT_FOUND || sig.rule == &rules::CHECKPOINT_MISMATCH {
        let target = signature::load_target(message);
        if let Some(path) = target.path {
            finding = finding.with_evidence("path", path);
        }
        if let Some(wanted) = target.wanted {
            finding = finding.with_evidence("wanted", wanted);
        }
    }
    if let Some(exception) = signature::exception_type(message) {
        finding = finding.with_evidence("exception", exception);
    }
    if sig.rule == &rules::QUANTIZATION_APPLIED {
        let models = signature::quantized_models(&text.to_lowercase());
        if !models.is_empty() {
            finding = finding.with_evidence("models", models);
        }
    }
    finding.with_evidence("text", text)
}

fn binary_content(file: &str, tally: &ScanTally) -> Finding {
    let first = tally.first_binary_line.into_iter().chain(tally.first_overlong_line).min().unwrap_or(1);
    Finding::new(
        &rules::BINARY_CONTENT,
        format!(
            "{} line(s) hold NUL bytes, {} line(s) are longer than {} MiB (first at line {first})",
            tally.binary_lines,
            tally.overlong_lines,
            scan::MAX_LINE >> 20
        ),
    )
    .with_subject(line_subject(file, first))
    .with_evidence("binary_lines", tally.binary_lines)
    .with_evidence("overlong_lines", tally.overlong_lines)
}

fn unreadable(file: &str, err: &io::Error, bytes: u64, lines: u64) -> Finding {
    Finding::new(&rules::UNREADABLE_LOG, format!("cannot read {file} past byte {bytes} (line {lines}): {err}"))
        .with_subject(Subject::file(file))
        .with_evidence("bytes_read", bytes)
        .with_evidence("lines_read", lines)
}

fn bomb_finding(file: &str, bomb: &Bomb, tally: &ScanTally) -> Finding {
    unreadable(
        file,
        &io::Error::other(format!("stopped: {bomb}, a decompression bomb, not a log")),
        tally.bytes,
        tally.lines,
    )
    .with_evidence("compressed_bytes", bomb.compressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> LogFile {
        check_reader(text.as_bytes(), "run.log", &LogOptions::default())
    }

    #[test]
    fn a_notebook_is_read_as_its_cells_output_at_the_lines_of_the_file() {
        let notebook = concat!(
            "{\n \"cells\": [\n  {\n   \"cell_type\": \"code\",\n   \"execution_count\": 7,\n",
            "   \"outputs\": [\n    {\n     \"ename\": \"OutOfMemoryError\",\n",
            "     \"evalue\": \"CUDA out of memory.\",\n     \"output_type\": \"error\",\n",
            "     \"traceback\": [\n",
            "      \"\\u001b[0;31mOutOfMemoryError\\u001b[0m    Traceback (most recent call last)\",\n",
            "      \"\\u001b[0;31mOutOfMemoryError\\u001b[0m: CUDA out of memory.\"\n",
            "     ]\n    }\n   ],\n   \"source\": []\n  }\n ],\n \"nbformat\": 4\n}\n"
        );
        let found = check_reader(notebook.as_bytes(), "demo.ipynb", &LogOptions::default());
        assert_eq!(found.notebook.map(|n| n.cells_run), Some(1));
        assert_eq!(found.lines, 2, "the console's lines");
        assert_eq!(found.bytes, notebook.len() as u64, "the file's bytes");
        let [oom] = found.findings.as_slice() else { panic!("{:?}", found.findings) };
        assert_eq!(oom.subject.line, Some(13));
        assert_eq!(oom.evidence["cell"], 7);
        assert!(oom.message.starts_with("line 13 (cell In [7]): "), "{}", oom.message);
        assert_eq!(found.timeline[0].line, 13);
        // Cut short, it is read as the text it is.
        let cut = &notebook[..notebook.len() - 20];
        let found = check_reader(cut.as_bytes(), "demo.ipynb", &LogOptions::default());
        assert_eq!(found.notebook, None);
        assert!(found.findings.iter().any(|f| f.subject.line == Some(13)), "{:?}", found.findings);
    }

    #[test]
    fn a_custom_node_comfyui_could_not_import_is_named_on_its_exception() {
        let log = "Traceback (most recent call last):\n\
                   \x20 File \"/srv/ComfyUI/nodes.py\", line 2106, in load_custom_node\n\
                   ModuleNotFoundError: No module named 'cv2'\n\
                   2024-12-16T18:54:59.100100 - \n\
                   2024-12-16T18:54:59.100200 - Cannot import /srv/ComfyUI/custom_nodes/comfyui_controlnet_aux module for custom nodes: No module named 'cv2'\n\
                   Traceback (most recent call last):\n\
                   \x20 File \"/app/infer.py\", line 3, in <module>\n\
                   ModuleNotFoundError: No module named 'omegaconf'\n\
                   line\n\
                   line\n\
                   line\n\
                   line\n\
                   Cannot import /srv/ComfyUI/custom_nodes/late module for custom nodes: too far\n";
        let found = run(log);
        let exceptions: Vec<&Finding> = found.findings.iter().filter(|f| f.is(&rules::UNHANDLED_EXCEPTION)).collect();
        assert_eq!(exceptions.len(), 2, "{:?}", found.findings);
        assert_eq!(exceptions[0].evidence["custom_node"], "/srv/ComfyUI/custom_nodes/comfyui_controlnet_aux");
        assert!(exceptions[1].evidence.get("custom_node").is_none(), "four lines on, it names another exception's node");
        assert_eq!(node_import("Cannot import  module for custom nodes: x"), None);
    }

    #[test]
    fn findings_carry_line_timestamp_and_stage() {
        let log = "2025-03-01 12:00:00,001 INFO start steps=6 cfg=1.0\n\
                   2025-03-01 12:00:09,500 util.py:98: RuntimeWarning: invalid value encountered in cast\n";
        let result = run(log);
        assert_eq!(result.findings.len(), 1);
        let f = &result.findings[0];
        assert_eq!((f.code(), f.subject.line, f.subject.stage.as_deref()), ("L101", Some(2), Some("video write")));
        assert_eq!(f.evidence["timestamp"], "2025-03-01 12:00:09,500");
        assert_eq!(result.parameters.steps.map(|s| s.value), Some(6));
        assert_eq!(result.lines, 2);
    }

    #[test]
    fn json_lines_use_their_message_and_time() {
        let log = r#"{"time": "12:00:01", "level": "warning", "message": "Contains NaN: True"}"#;
        let result = run(log);
        assert_eq!(result.timeline[0].code, "L103");
        assert_eq!(result.timeline[0].timestamp.as_deref(), Some("12:00:01"));
    }

    #[test]
    fn repeats_are_counted_on_the_first_finding() {
        let log = "invalid value encountered in cast\n".repeat(50);
        let result = run(&log);
        assert_eq!(result.findings.len(), 20);
        assert_eq!(result.findings[0].evidence["occurrences"], 50);
        assert_eq!(result.findings[0].evidence["last_line"], 50);
        assert_eq!(result.timeline.len(), 50);
    }

    #[test]
    fn a_traceback_ends_in_its_exception() {
        let log = "Traceback (most recent call last):\n\
                   \x20 File \"infer.py\", line 112, in main\n\
                   \x20   torch.load(config.denoising_unet_path, map_location=\"cpu\"),\n\
                   RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory\n\
                   Traceback (most recent call last):\n\
                   \x20 File \"app.py\", line 9, in run\n\
                   AttributeError: 'NoneType' object has no attribute 'shape'\n\
                   ValueError: outside any traceback\n";
        let result = run(log);
        let found: Vec<(&str, Option<u64>)> = result.findings.iter().map(|f| (f.code(), f.subject.line)).collect();
        assert_eq!(found, [("L120", Some(4)), ("L122", Some(7))]);
        assert_eq!(result.findings[0].evidence["config_key"], "denoising_unet_path");
        assert_eq!(result.findings[1].evidence["exception"], "AttributeError");
        assert!(result.findings[1].evidence.get("config_key").is_none());
    }

    #[test]
    fn comfyui_s_error_report_states_the_exception() {
        let report = "# ComfyUI Error Report\n\
                      ## Error Details\n\
                      - **Node ID:** 7\n\
                      - **Node Type:** Echo_Sampler\n\
                      - **Exception Type:** RuntimeError\n\
                      - **Exception Message:** Input type (float) and bias type (c10::Half) should be the same\n\
                      ## Stack Trace\n\
                      ```\n\
                      \x20 File \"/srv/ComfyUI/execution.py\", line 323, in execute\n\
                      ```\n\
                      ## System Information\n\
                      - **ComfyUI Version:** 0.3.10\n";
        let result = run(report);
        let found: Vec<(&str, Option<u64>)> = result.findings.iter().map(|f| (f.code(), f.subject.line)).collect();
        assert_eq!(found, [("L122", Some(6))]);
        assert_eq!(result.findings[0].evidence["exception"], "RuntimeError");
        assert!(result.findings[0].message.contains("RuntimeError: Input type (float)"), "{}", result.findings[0].message);
        // A message a rule names is that rule's finding.
        let missing = "- **Exception Type:** FileNotFoundError\n\
                       - **Exception Message:** No such file or directory: './pretrained_weights/reference_unet.pth'\n";
        assert_eq!(run(missing).findings.iter().map(|f| f.code()).collect::<Vec<_>>(), ["L119"]);
        // Without its type line, a message line is only text.
        assert!(run("- **Exception Message:** went wrong\n").findings.is_empty());
    }

    #[test]
    fn an_optional_import_that_failed_is_not_a_finding() {
        let log = "Traceback (most recent call last):\n\
                   \x20 File \"xformers/__init__.py\", line 57, in _is_triton_available\n\
                   \x20   import triton  # noqa\n\
                   ModuleNotFoundError: No module named 'triton'\n";
        assert!(run(log).findings.is_empty());
    }

    #[test]
    fn a_gzip_bomb_is_stopped_by_its_ratio() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b'a'; 1 << 20];
        for _ in 0..40 {
            encoder.write_all(&zeros).unwrap();
        }
        let gz = encoder.finish().unwrap();
        let result = check_reader(&gz[..], "bomb.log.gz", &LogOptions::default());
        assert!(result.gzip);
        let f = result.findings.iter().find(|f| f.is(&rules::UNREADABLE_LOG)).expect("bomb finding");
        assert!(f.message.contains("decompression bomb"), "{}", f.message);
        assert!(result.bytes < 40 << 20);
    }
}
