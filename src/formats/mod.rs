//! Readers for checkpoint and array files. A reader parses headers, checks
//! every size against the file before believing it, and returns tensor
//! entries that point into the memory-mapped file; problems become findings.
//! Readers never print and never execute anything found in a file.

pub mod archive;
pub mod detect;
pub mod gguf;
pub mod json;
pub mod lenient_json;
pub mod lenient_serde;
pub mod lfs;
pub mod npy;
pub mod npz;
pub mod pickle;
pub mod safetensors;
pub mod torch;
pub mod walk;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::numerics::{ByteOrder, DType, StridedView};
use crate::report::{Finding, Subject};
use crate::rules::format as rules;

pub use detect::{FileFormat, detect};

/// Where a tensor's storage bytes live.
#[derive(Debug, Clone)]
pub enum Storage {
    /// A byte range of the mapped file.
    Mapped { start: usize, len: usize },
    /// Bytes the reader had to produce (decompressed archive members).
    Owned(Arc<Vec<u8>>),
}

/// One tensor as a reader found it: metadata plus where its storage is.
#[derive(Debug, Clone)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<u64>,
    /// `None` when the tensor is the whole storage, row-major.
    pub view: Option<StridedView>,
    pub storage: Storage,
    pub order: ByteOrder,
}

impl TensorEntry {
    pub fn numel(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }
}

/// What a reader made of one file's bytes.
#[derive(Debug, Default)]
pub struct Parsed {
    pub tensors: Vec<TensorEntry>,
    pub findings: Vec<Finding>,
}

/// An opened input file: its mapped bytes, format and parse result.
pub struct Checkpoint {
    pub label: String,
    pub format: FileFormat,
    pub tensors: Vec<TensorEntry>,
    pub findings: Vec<Finding>,
    map: Option<Mmap>,
}

impl Checkpoint {
    /// The storage bytes behind a tensor entry.
    pub fn storage<'a>(&'a self, entry: &'a TensorEntry) -> &'a [u8] {
        match &entry.storage {
            Storage::Owned(bytes) => bytes,
            Storage::Mapped { start, len } => {
                let map: &[u8] = self.map.as_deref().unwrap_or(&[]);
                map.get(*start..start.saturating_add(*len)).unwrap_or(&[])
            }
        }
    }

    /// Tells the kernel the tensor's mapped pages are no longer needed, so a
    /// scan's resident memory stays near the tensors in flight rather than the
    /// whole file. The page cache keeps them; nothing is lost.
    pub fn release(&self, entry: &TensorEntry) {
        if let (Some(map), Storage::Mapped { start, len }) = (&self.map, &entry.storage) {
            let page = 4096;
            let begin = start.div_ceil(page) * page;
            let end = (start + len) / page * page;
            if end > begin {
                // SAFETY: the map is a read-only view of a file; dropping its
                // pages only makes later reads fault them in again from the file.
                let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, begin, end - begin) };
            }
        }
    }

    /// The whole mapped file (empty when it could not be mapped).
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Its error findings as `CODE message`, one each: what a reader that
    /// refuses a damaged file quotes.
    pub fn error_lines(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.severity == crate::report::Severity::Error)
            .map(|f| format!("{} {}", f.code(), f.message))
            .collect()
    }

    /// Bytes of the mapped file (0 when it could not be mapped).
    pub fn file_len(&self) -> u64 {
        self.map.as_ref().map_or(0, |m| m.len() as u64)
    }

    /// Reads one file. I/O problems and malformed content become findings on
    /// the returned checkpoint; this never fails.
    pub fn open(path: &Path) -> Checkpoint {
        let label = path.display().to_string();
        let mut checkpoint = Checkpoint {
            label: label.clone(),
            format: FileFormat::Unknown,
            tensors: vec![],
            findings: vec![],
            map: None,
        };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) => {
                checkpoint.findings.push(unreadable(&label, &err.to_string()));
                return checkpoint;
            }
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len == 0 {
            checkpoint.findings.push(empty_file(&label, "file is empty (0 bytes)".to_string()));
            return checkpoint;
        }
        // SAFETY: the map is read-only and private to this process. A file
        // truncated by another process while mapped can fault; that is the
        // accepted cost of zero-copy reading, as in every mmap-based reader.
        let map = match unsafe { Mmap::map(&file) } {
            Ok(map) => map,
            Err(err) => {
                checkpoint.findings.push(unreadable(&label, &format!("cannot map file: {err}")));
                return checkpoint;
            }
        };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        checkpoint.format = detect(&map);
        let parsed = parse(checkpoint.format, &map, &label);
        checkpoint.tensors = parsed.tensors;
        checkpoint.findings = parsed.findings;
        checkpoint.map = Some(map);
        checkpoint
    }
}

/// Dispatches to the reader for `format`.
pub fn parse(format: FileFormat, bytes: &[u8], label: &str) -> Parsed {
    match format {
        FileFormat::Safetensors => safetensors::parse(bytes, label),
        FileFormat::Npy => npy::parse(bytes, label),
        FileFormat::Npz => npz::parse(bytes, label),
        FileFormat::TorchZip => torch::parse_zip(bytes, label),
        FileFormat::TorchLegacy => torch::parse_legacy(bytes, label),
        FileFormat::Pickle => torch::parse_pickle(bytes, label),

        FileFormat::Gguf => gguf::parse(bytes, label),
        FileFormat::LfsPointer => Parsed { tensors: vec![], findings: lfs_pointer_findings(bytes, label) },
        FileFormat::Unknown => Parsed {
            tensors: vec![],
            findings: vec![unrecognized(
                label,
                match detect::describe_unknown(bytes) {
                    Some(what) => format!("content matches no supported format: {what} (first bytes {})", hex_prefix(bytes)),
                    None => format!("content matches no supported format (first bytes {})", hex_prefix(bytes)),
                },
            )],
        },
        other => Parsed {
            tensors: vec![],
            findings: vec![unrecognized(label, format!("{} files are recognised but not read yet", other.name()))],
        },
    }
}

/// F: a Git LFS pointer where the checkpoint should be.
fn lfs_pointer_findings(bytes: &[u8], label: &str) -> Vec<Finding> {
    let Some(pointer) = lfs::pointer(bytes) else { return vec![] };
    let size = pointer.size.map_or("an object of unknown size".to_string(), |n| format!("a {n}-byte object"));
    let short = pointer.oid.get(..19).unwrap_or(&pointer.oid);
    let mut finding = Finding::new(
        &rules::GIT_LFS_POINTER,
        format!(
            "{}-byte Git LFS pointer to {size} ({short}…), not the checkpoint: the weights were cloned without Git LFS",
            bytes.len()
        ),
    )
    .with_subject(Subject::file(label))
    .with_evidence("oid", pointer.oid.clone());
    if let Some(n) = pointer.size {
        finding = finding.with_evidence("object_bytes", n);
    }
    vec![finding]
}

/// F: the file holds no bytes; `message` says so.
pub(crate) fn empty_file(label: &str, message: String) -> Finding {
    Finding::new(&rules::EMPTY_FILE, message).with_subject(Subject::file(label))
}

/// F: no reader takes the file; `why` says what it looks like.
pub(crate) fn unrecognized(label: &str, why: String) -> Finding {
    Finding::new(&rules::UNRECOGNIZED_FORMAT, why).with_subject(Subject::file(label))
}

fn unreadable(label: &str, why: &str) -> Finding {
    unreadable_file(label, format!("cannot read file: {why}"))
}

/// F: a file (or folder) that cannot be read at all; `message` says what failed.
pub(crate) fn unreadable_file(label: &str, message: String) -> Finding {
    Finding::new(&rules::UNREADABLE_FILE, message).with_subject(Subject::file(label))
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// F: tensor `tensor` of file `label` names a storage that is missing or
/// unreadable; `message` says which.
pub(crate) fn missing_storage(label: &str, tensor: &str, message: String) -> Finding {
    Finding::new(&rules::BROKEN_ARCHIVE, message).with_subject(Subject::tensor(label, tensor))
}

/// F: tensor `tensor` of file `label` has a view, shape or byte size that
/// does not fit its storage; `message` says how.
pub(crate) fn invalid_layout(label: &str, tensor: &str, message: String) -> Finding {
    Finding::new(&rules::INVALID_LAYOUT, message).with_subject(Subject::tensor(label, tensor))
}

/// F: tensor `tensor` of file `label` has a dtype nanscope does not decode;
/// `message` names it.
pub(crate) fn unsupported_dtype(label: &str, tensor: &str, message: String) -> Finding {
    Finding::new(&rules::UNSUPPORTED_DTYPE, message).with_subject(Subject::tensor(label, tensor))
}

/// A finding of a format rule about `label`, with the byte offset it concerns.
pub(crate) fn at_offset(rule: &'static crate::rules::Rule, label: &str, offset: u64, message: String) -> Finding {
    Finding::new(rule, message).with_subject(Subject::file(label)).with_evidence("offset", offset)
}
