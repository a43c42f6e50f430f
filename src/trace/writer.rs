//! The dump writer: a [`Probe`] that writes the dump folder format.
//!
//! Records are appended to `records.jsonl` and flushed as they come, and each
//! payload goes to its own safetensors file, so memory stays bounded by one
//! tensor and a crash loses at most the record being written. The manifest is
//! written at creation and rewritten (atomically) by [`Probe::finish`].

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::manifest::{DumpLevel, Manifest, WriterInfo};
use super::probe::{HostTensor, Observation, Probe, ProbeError};
use super::reader::MANIFEST_FILE;
use super::record::{Payload, RECORDS_FILE};
use crate::numerics::DType;

/// Folder for payload files inside a dump.
pub const TENSORS_DIR: &str = "tensors";
/// The tensor name inside each payload file.
pub const PAYLOAD_TENSOR: &str = "output";

/// Writes a dump folder as a run goes.
pub struct DumpWriter {
    dir: PathBuf,
    manifest: Manifest,
    records: BufWriter<File>,
    next_seq: u64,
}

impl DumpWriter {
    /// Creates the folder (which must not hold a dump already) and its manifest.
    pub fn create(dir: &Path, level: DumpLevel, writer: WriterInfo) -> Result<DumpWriter, ProbeError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| ProbeError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let manifest_path = dir.join(MANIFEST_FILE);
        if manifest_path.exists() {
            return Err(io(&manifest_path)(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the folder already holds a dump",
            )));
        }
        if level != DumpLevel::Stats {
            fs::create_dir_all(dir.join(TENSORS_DIR)).map_err(io(dir))?;
        }
        let records_path = dir.join(RECORDS_FILE);
        let records = File::create(&records_path).map_err(io(&records_path))?;
        let writer = DumpWriter {
            dir: dir.to_path_buf(),
            manifest: Manifest::new(level, writer),
            records: BufWriter::new(records),
            next_seq: 0,
        };
        writer.write_manifest()?;
        Ok(writer)
    }

    fn write_manifest(&self) -> Result<(), ProbeError> {
        let path = self.dir.join(MANIFEST_FILE);
        let tmp = self.dir.join(".manifest.json.tmp");
        let text = serde_json::to_vec_pretty(&self.manifest).unwrap_or_default();
        let result = fs::write(&tmp, text).and_then(|_| fs::rename(&tmp, &path));
        result.map_err(|source| ProbeError::Io { path: path.display().to_string(), source })
    }

    fn write_payload(&self, seq: u64, module: &str, tensor: &HostTensor<'_>) -> Result<Payload, ProbeError> {
        let expected =
            tensor.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).and_then(|n| tensor.dtype.byte_len(n));
        if expected != Some(tensor.bytes.len() as u64) {
            return Err(ProbeError::Payload {
                module: module.to_string(),
                why: format!("{} bytes for {} {:?}", tensor.bytes.len(), tensor.dtype, tensor.shape),
            });
        }
        let file = format!("{TENSORS_DIR}/{seq:08}.safetensors");
        let path = self.dir.join(&file);
        let tmp = self.dir.join(format!("{file}.tmp"));
        let mut meta = Map::new();
        meta.insert("module".into(), Value::String(module.to_string()));
        meta.insert("seq".into(), Value::String(seq.to_string()));
        let result = write_safetensors(&tmp, PAYLOAD_TENSOR, tensor.dtype, tensor.shape, tensor.bytes, meta)
            .and_then(|_| fs::rename(&tmp, &path));
        result.map_err(|source| ProbeError::Io { path: path.display().to_string(), source })?;
        Ok(Payload { file, tensor: PAYLOAD_TENSOR.into() })
    }
}

impl Probe for DumpWriter {
    fn wants_payload(&self, boundary: bool) -> bool {
        self.manifest.level.keeps_payload(boundary)
    }

    fn observe(&mut self, observation: Observation<'_>) -> Result<(), ProbeError> {
        let seq = self.next_seq;
        let payload = match observation.payload.filter(|_| self.wants_payload(observation.boundary)) {
            Some(tensor) => Some(self.write_payload(seq, observation.module, &tensor)?),
            None => None,
        };
        let record = observation.to_record(seq, payload);
        let path = self.dir.join(RECORDS_FILE);
        let io = |source| ProbeError::Io { path: path.display().to_string(), source };
        serde_json::to_writer(&mut self.records, &record).map_err(|e| io(e.into()))?;
        self.records.write_all(b"\n").and_then(|_| self.records.flush()).map_err(io)?;
        self.next_seq += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ProbeError> {
        let path = self.dir.join(RECORDS_FILE);
        self.records.flush().map_err(|source| ProbeError::Io { path: path.display().to_string(), source })?;
        self.manifest.complete = true;
        self.manifest.record_count = Some(self.next_seq);
        self.write_manifest()
    }
}

/// Writes a one-tensor safetensors file: `u64 LE header length | JSON header
/// padded with spaces to 8 bytes | data`, as the reference writer does.
fn write_safetensors(
    path: &Path,
    name: &str,
    dtype: DType,
    shape: &[u64],
    bytes: &[u8],
    metadata: Map<String, Value>,
) -> std::io::Result<()> {
    let header = json!({
        "__metadata__": metadata,
        name: {"dtype": dtype.name(), "shape": shape, "data_offsets": [0, bytes.len()]},
    });
    let mut text = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = BufWriter::new(File::create(path)?);
    out.write_all(&(text.len() as u64).to_le_bytes())?;
    out.write_all(&text)?;
    out.write_all(bytes)?;
    out.flush()
}
