//! What the interpreter refused or could not read, and how that becomes
//! findings. Offsets are relative to the start of the pickle; the caller
//! says where that pickle lives (a file, or an entry of an archive).

use crate::report::{Finding, Subject};
use crate::rules::{format as format_rules, security};

/// Something security-relevant met while interpreting: a global outside the
/// allowlist, a tensor subclass global, or an opcode that is always refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    UnsafeGlobal {
        module: String,
        name: String,
        offset: u64,
    },
    SubclassGlobal {
        module: String,
        name: String,
        offset: u64,
    },
    RefusedOpcode {
        opcode: u8,
        name: &'static str,
        offset: u64,
    },
    /// An opcode whose bytes run past the end of the protocol 4 frame it
    /// starts in (or a FRAME opened inside another).
    FrameStraddle {
        opcode: u8,
        name: &'static str,
        offset: u64,
        frame_end: u64,
    },
}

/// Why a pickle could not be interpreted to its end.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct PickleError {
    /// Offset of the opcode that failed, from the start of the pickle.
    pub offset: u64,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("unknown opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    #[error("{opcode} needs {needed} bytes but only {available} remain")]
    Truncated { opcode: &'static str, needed: u64, available: u64 },
    #[error("{0} finds too few values on the stack")]
    StackUnderflow(&'static str),
    #[error("{0} without a matching MARK")]
    NoMark(&'static str),
    #[error("memo has no entry {0}")]
    MemoMiss(u64),
    #[error("{what} exceeds the limit of {limit}")]
    Limit { what: &'static str, limit: usize },
    #[error("{opcode}: {why}")]
    BadOperand { opcode: &'static str, why: String },
    #[error("{opcode} cannot apply to {target}")]
    WrongType { opcode: &'static str, target: &'static str },
    #[error("unsupported pickle protocol {0}")]
    Protocol(u8),
    #[error("stream ends without STOP")]
    NoStop,
}

/// Where a pickle sits, so findings can name it.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    pub file: &'a str,
    /// The archive entry holding the pickle, if any.
    pub entry: Option<&'a str>,
    /// Offset of the pickle's first byte in the file (or entry).
    pub base: u64,
}

impl Location<'_> {
    fn describe(&self) -> String {
        match self.entry {
            Some(entry) => entry.to_string(),
            None => "pickle".to_string(),
        }
    }

    fn finding(&self, rule: &'static crate::rules::Rule, offset: u64, message: String) -> Finding {
        let mut finding = Finding::new(rule, message)
            .with_subject(Subject::file(self.file))
            .with_evidence("offset", self.base + offset);
        if let Some(entry) = self.entry {
            finding = finding.with_evidence("entry", entry);
        }
        finding
    }
}

/// One finding per distinct global or opcode (with its first offset and the
/// number of occurrences), in stream order.
pub fn alert_findings(alerts: &[Alert], at: Location) -> Vec<Finding> {
    let mut out: Vec<(String, Finding, u64)> = Vec::new();
    for alert in alerts {
        let key = match alert {
            Alert::UnsafeGlobal { module, name, .. } | Alert::SubclassGlobal { module, name, .. } => {
                format!("g:{module}.{name}")
            }
            Alert::RefusedOpcode { name, .. } => format!("o:{name}"),
            Alert::FrameStraddle { .. } => "frame".to_string(),
        };
        if let Some(seen) = out.iter_mut().find(|(k, _, _)| *k == key) {
            seen.2 += 1;
            continue;
        }
        let finding = match alert {
            Alert::UnsafeGlobal { module, name, offset } => at
                .finding(
                    &security::UNSAFE_PICKLE_GLOBAL,
                    *offset,
                    format!(
                        "{} references {module}.{name} at byte {}: a pickle-executing loader would call it",
                        at.describe(),
                        at.base + offset
                    ),
                )
                .with_evidence("global", format!("{module}.{name}")),
            Alert::SubclassGlobal { module, name, offset } => at
                .finding(
                    &security::PICKLE_TENSOR_SUBCLASS,
                    *offset,
                    format!(
                        "{} rebuilds tensor subclass {module}.{name} (byte {}); loading runs that library's code",
                        at.describe(),
                        at.base + offset
                    ),
                )
                .with_evidence("global", format!("{module}.{name}")),
            Alert::RefusedOpcode { opcode, name, offset } => at
                .finding(
                    &security::UNSAFE_PICKLE_OPCODE,
                    *offset,
                    format!("{} uses the {name} opcode at byte {}", at.describe(), at.base + offset),
                )
                .with_evidence("opcode", format!("0x{opcode:02x}")),
            Alert::FrameStraddle { opcode, name, offset, frame_end } => at
                .finding(
                    &security::PICKLE_FRAME_STRADDLE,
                    *offset,
                    format!(
                        "{}: the {name} opcode at byte {} runs past the end of its frame (byte {}); \
                         CPython's C unpickler executes it, a frame-checking scanner never sees it",
                        at.describe(),
                        at.base + offset,
                        at.base + frame_end
                    ),
                )
                .with_evidence("opcode", format!("0x{opcode:02x}"))
                .with_evidence("frame_end", at.base + frame_end),
        };
        out.push((key, finding, 1));
    }
    out.into_iter().map(|(_, finding, n)| finding.with_evidence("occurrences", n)).collect()
}

/// The finding for a pickle that could not be interpreted.
pub fn error_finding(error: &PickleError, at: Location) -> Finding {
    at.finding(
        &format_rules::MALFORMED_PICKLE,
        error.offset,
        format!("{}: malformed pickle: {} at byte {}", at.describe(), error.kind, at.base + error.offset),
    )
}
