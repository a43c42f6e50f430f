//! Reading one pose file, recognised by content: `\x93NUMPY` is an
//! EchoMimicV2 `.npy`, a leading `{` is OpenPose/ControlNet JSON.

use super::model::{PoseFormat, PoseFrame};
use super::{echomimic, openpose};
use crate::report::{Finding, Subject};

/// Pose files are a few KiB; anything this large is refused unread so a
/// hostile file cannot make the reader allocate without bound.
pub const MAX_POSE_FILE: u64 = 64 << 20;

/// What reading one file produced: the frame when it could be read, and the
/// findings met on the way (malformed bytes, wrong shapes, unsafe pickles).
#[derive(Debug, Clone)]
pub struct Reading {
    pub format: PoseFormat,
    pub pose: Option<PoseFrame>,
    pub findings: Vec<Finding>,
}

impl Reading {
    pub fn new(format: PoseFormat) -> Reading {
        Reading { format, pose: None, findings: Vec::new() }
    }
}

/// The format a file's first bytes announce, if any.
pub fn sniff(bytes: &[u8]) -> Option<PoseFormat> {
    if bytes.starts_with(b"\x93NUMPY") {
        return Some(PoseFormat::EchoMimic);
    }
    let text = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Some(PoseFormat::OpenPose),
        _ => None,
    }
}

/// Reads one pose file's bytes. Never fails: problems are findings.
pub fn read_bytes(bytes: &[u8], label: &str, source_size: Option<[u32; 2]>) -> Reading {
    match sniff(bytes) {
        Some(PoseFormat::EchoMimic) => echomimic::read(bytes, label),
        Some(_) => openpose::read(bytes, label, source_size),
        None => {
            let mut reading = Reading::new(PoseFormat::EchoMimic);
            // A zero-byte frame (an interrupted writer) is named as what it is.
            let finding = if bytes.is_empty() {
                crate::formats::empty_file(label, format!("{label} is empty (0 bytes)"))
            } else {
                crate::formats::unrecognized(label, format!("{label}: neither an .npy nor a JSON pose file"))
            };
            reading.findings.push(finding.with_evidence("offset", 0));
            reading
        }
    }
}

/// Reads one pose file from disk.
pub fn read_file(path: &std::path::Path, label: &str, source_size: Option<[u32; 2]>) -> Reading {
    let failed = |why: String| {
        let mut reading = Reading::new(PoseFormat::EchoMimic);
        reading.findings.push(crate::formats::unreadable_file(label, format!("cannot read {label}: {why}")));
        reading
    };
    use std::io::Read;
    // One open and one fstat per file: with thousands of small frames the
    // path lookups are a large share of the cost.
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) => return failed(err.to_string()),
    };
    let len = match file.metadata() {
        Ok(meta) if meta.len() > MAX_POSE_FILE => {
            return failed(format!("{} bytes is far too large for a pose file", meta.len()));
        }
        Ok(meta) => meta.len(),
        Err(err) => return failed(err.to_string()),
    };
    // Exactly the length fstat gave: no extra read to find the end.
    let mut bytes = vec![0; len as usize];
    match file.read_exact(&mut bytes) {
        Ok(_) => read_bytes(&bytes, label, source_size),
        Err(err) => failed(err.to_string()),
    }
}

/// P: a pose file whose content cannot be parsed; `why` says what is wrong.
pub(super) fn unparsable_pose_file(label: &str, why: &str) -> Finding {
    Finding::new(&crate::rules::pose::UNPARSABLE_POSE_FILE, format!("{label}: {why}"))
        .with_subject(Subject::file(label))
}

/// P: an array of a pose file has the wrong shape; `what` says which and how.
pub(super) fn wrong_array_shape(label: &str, what: &str) -> Finding {
    Finding::new(&crate::rules::pose::WRONG_ARRAY_SHAPE, format!("{label}: {what}")).with_subject(Subject::file(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    // From the correctness issue: a zero-byte pose file is called empty.
    #[test]
    fn a_zero_byte_file_is_reported_as_empty() {
        let reading = read_bytes(b"", "7.npy", None);
        assert!(reading.pose.is_none());
        let finding = &reading.findings[0];
        assert!(finding.is(&crate::rules::format::EMPTY_FILE));
        assert_eq!(finding.message, "7.npy is empty (0 bytes)");
        let other = read_bytes(b"junk", "8.npy", None);
        assert!(other.findings[0].message.contains("neither an .npy nor a JSON pose file"));
    }
}
