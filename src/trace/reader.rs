//! Opening a dump folder and streaming its records.
//!
//! The reader holds one line of the records file at a time, so a dump of any
//! length is read in bounded memory; tensors are never loaded here. Every
//! problem becomes a finding (F130–F132) and reading goes on where it can.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use super::record::{FORMAT_NAME, FORMAT_VERSION, Payload, Record};
use crate::formats::lenient_json::Json;
use crate::formats::lenient_serde::{from_json, from_slice};
use crate::report::{Finding, Subject};
use crate::rules::trace as rules;

/// The manifest name inside a dump folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Manifests are small headers; a bigger one is refused before it is read.
const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// A record line longer than this is refused rather than buffered.
const MAX_LINE_BYTES: u64 = 16 << 20;

/// An opened dump folder.
#[derive(Debug, Clone)]
pub struct Dump {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Dump {
    /// Reads and checks the manifest. Accepts the folder or its `manifest.json`.
    pub fn open(path: &Path) -> Result<Dump, Box<Finding>> {
        let (dir, manifest_path) = if path.is_dir() {
            (path.to_path_buf(), path.join(MANIFEST_FILE))
        } else {
            (path.parent().map(Path::to_path_buf).unwrap_or_default(), path.to_path_buf())
        };
        let label = manifest_path.display().to_string();
        let missing = |why: String| {
            Box::new(
                Finding::new(&rules::DUMP_MANIFEST_MISSING, format!("no dump manifest at {label}: {why}"))
                    .with_subject(Subject::file(&label)),
            )
        };
        let file = File::open(&manifest_path).map_err(|e| missing(e.to_string()))?;
        let len = file.metadata().map_err(|e| missing(e.to_string()))?.len();
        if len > MAX_MANIFEST_BYTES {
            return Err(invalid(&label, format!("{len} bytes is beyond the {MAX_MANIFEST_BYTES}-byte manifest limit")));
        }
        let mut text = Vec::with_capacity(len as usize);
        file.take(MAX_MANIFEST_BYTES).read_to_end(&mut text).map_err(|e| missing(e.to_string()))?;
        let manifest: Manifest = from_slice(&text).map_err(|e| invalid(&label, e.to_string()))?;
        if manifest.format != FORMAT_NAME {
            return Err(invalid(&label, format!("`format` is {:?}, expected {FORMAT_NAME:?}", manifest.format)));
        }
        if manifest.format_version != FORMAT_VERSION {
            return Err(invalid(
                &label,
                format!(
                    "format version {} is not read by this nanscope (it reads {FORMAT_VERSION})",
                    manifest.format_version
                ),
            ));
        }
        match (&manifest.records_file, &manifest.records) {
            (Some(file), _) if !Payload { file: file.clone(), tensor: String::new() }.is_contained() => {
                return Err(invalid(&label, format!("records file {file:?} lies outside the dump folder")));
            }
            (None, None) => return Err(invalid(&label, "it names neither `records_file` nor inline `records`".into())),
            _ => {}
        }
        Ok(Dump { dir, manifest })
    }

    /// The records in execution order, or a finding per unreadable one.
    pub fn records(&self) -> RecordStream {
        if let Some(name) = &self.manifest.records_file {
            let path = self.dir.join(name);
            let label = path.display().to_string();
            return match File::open(&path) {
                Ok(file) => RecordStream::Lines { reader: BufReader::new(file), label, line: 0, buf: Vec::new() },
                Err(err) => RecordStream::Failed(Some(Box::new(record_invalid(
                    &label,
                    format!("cannot read records file {label}: {err}"),
                )))),
            };
        }
        let label = self.dir.join(MANIFEST_FILE).display().to_string();
        RecordStream::Inline { values: self.manifest.records.clone().unwrap_or_default().into_iter(), label, index: 0 }
    }
}

fn invalid(label: &str, why: String) -> Box<Finding> {
    Box::new(
        Finding::new(&rules::DUMP_MANIFEST_INVALID, format!("{label} is not a nanscope dump manifest: {why}"))
            .with_subject(Subject::file(label)),
    )
}

/// Records of a dump, read one at a time.
pub enum RecordStream {
    Lines { reader: BufReader<File>, label: String, line: u64, buf: Vec<u8> },
    Inline { values: std::vec::IntoIter<Json>, label: String, index: u64 },
    Failed(Option<Box<Finding>>),
}

impl Iterator for RecordStream {
    type Item = Result<Record, Box<Finding>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            RecordStream::Failed(finding) => finding.take().map(Err),
            RecordStream::Inline { values, label, index } => {
                let value = values.next()?;
                *index += 1;
                let at = Location::Inline(*index - 1);
                Some(check(from_json(value).map_err(|e| e.to_string()), label, at))
            }
            RecordStream::Lines { reader, label, line, buf } => loop {
                buf.clear();
                *line += 1;
                let read = reader.by_ref().take(MAX_LINE_BYTES).read_until(b'\n', buf);
                match read {
                    Err(err) => {
                        return Some(Err(bad_record(label, Location::Line(*line), format!("cannot read: {err}"))));
                    }
                    Ok(0) => return None,
                    Ok(n) if n as u64 == MAX_LINE_BYTES && buf.last() != Some(&b'\n') => {
                        skip_line(reader);
                        let why = format!("longer than {MAX_LINE_BYTES} bytes");
                        return Some(Err(bad_record(label, Location::Line(*line), why)));
                    }
                    Ok(_) => {}
                }
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(check(from_slice(buf).map_err(|e| e.to_string()), label, Location::Line(*line)));
            },
        }
    }
}

fn skip_line(reader: &mut BufReader<File>) {
    loop {
        let (consumed, done) = match reader.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(bytes) => match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (bytes.len(), false),
            },
        };
        reader.consume(consumed);
        if done {
            return;
        }
    }
}

/// Where a record sits: a 1-based line of the records file, or a 0-based
/// index into the manifest's inline `records`.
#[derive(Debug, Clone, Copy)]
enum Location {
    Line(u64),
    Inline(u64),
}

fn check(parsed: Result<Record, String>, label: &str, at: Location) -> Result<Record, Box<Finding>> {
    let record = parsed.map_err(|why| bad_record(label, at, why))?;
    if let Some(payload) = &record.payload
        && !payload.is_contained()
    {
        return Err(bad_record(label, at, format!("payload file {:?} lies outside the dump folder", payload.file)));
    }
    Ok(record)
}

fn bad_record(label: &str, at: Location, why: String) -> Box<Finding> {
    let (key, n, place) = match at {
        Location::Line(n) => ("line", n, format!("line {n}")),
        Location::Inline(n) => ("record", n, format!("inline record {n}")),
    };
    Box::new(record_invalid(label, format!("{label}: unreadable record at {place}: {why}")).with_evidence(key, n))
}

/// R: the records of a dump cannot be read; `message` says where and why.
fn record_invalid(label: &str, message: String) -> Finding {
    Finding::new(&rules::DUMP_RECORD_INVALID, message).with_subject(Subject::file(label))
}
