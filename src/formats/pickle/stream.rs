//! Files as streams of pickles: what follows a pickle's STOP, and whether a
//! file with no PROTO opcode is a pickle at all.
//!
//! `pickle.load` reads one pickle and leaves the rest of the file alone, but
//! a loader may call it again (legacy `torch.load` reads five in a row), so
//! every pickle of a file is interpreted, with the same inert machine.

use super::alerts::{ErrorKind, Location, alert_findings, error_finding};
use super::machine::{Limits, unpickle};
use super::value::Pickle;
use crate::report::Finding;
use crate::rules::{format as format_rules, security};

/// Pickles read after a first one, at most. A file of millions of two-byte
/// pickles would otherwise cost memory far beyond its size; what lies past
/// the cap is reported unread.
pub const MAX_FOLLOWING: usize = 4096;

/// The pickles that follow the one ending at `end`, in order, up to the end
/// of `input` (or [`MAX_FOLLOWING`] of them). The last one may have failed
/// (`root` is an error); nothing after a failed pickle is read, since its end
/// is unknown.
pub fn following<'a>(input: &'a [u8], mut end: usize, limits: &Limits) -> Vec<Pickle<'a>> {
    let mut out = Vec::new();
    while end < input.len() && out.len() < MAX_FOLLOWING {
        let pickle = unpickle(input, end, limits);
        let failed = pickle.root.is_err() || pickle.end <= end;
        end = pickle.end;
        out.push(pickle);
        if failed {
            break;
        }
    }
    out
}

/// Findings for the pickles [`following`] found after a first one: an S104
/// notice for the further pickles, every alert they raise, and a finding for
/// trailing bytes that are not a complete pickle.
pub fn following_findings(rest: &[Pickle], input_len: usize, at: Location) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(first) = rest.first() else { return out };
    let start = first_offset(first);
    let complete = rest.iter().filter(|p| p.root.is_ok()).count();
    if complete > 0 {
        out.push(at_location(
            &security::PICKLE_AFTER_STOP,
            at,
            start,
            format!(
                "{complete} more pickle{} follow{} the first pickle's STOP at byte {}; each was read and judged",
                if complete == 1 { "" } else { "s" },
                if complete == 1 { "s" } else { "" },
                at.base + start
            ),
        ));
    }
    if let Some(last) = rest.last().filter(|p| p.root.is_ok() && p.end < input_len) {
        out.push(at_location(
            &format_rules::MALFORMED_PICKLE,
            at,
            last.end as u64,
            format!(
                "more than {MAX_FOLLOWING} pickles follow the first one; the {} bytes after byte {} are not read",
                input_len - last.end,
                at.base + last.end as u64
            ),
        ));
    }
    for pickle in rest {
        out.extend(alert_findings(&pickle.alerts, at));
        let Err(error) = &pickle.root else { continue };
        let pickle_start = first_offset(pickle);
        let not_opcodes = matches!(error.kind, ErrorKind::UnknownOpcode(_)) && error.offset == pickle_start;
        if not_opcodes {
            let trailing = input_len.saturating_sub(pickle_start as usize);
            out.push(at_location(
                &format_rules::INVALID_LAYOUT,
                at,
                pickle_start,
                format!(
                    "{trailing} bytes follow the pickle's STOP at byte {} and are not a pickle",
                    at.base + pickle_start
                ),
            ));
        } else {
            out.push(error_finding(error, at).with_evidence("after_stop", true));
        }
    }
    out
}

/// Where a pickle began: the offset [`following`] started it at.
fn first_offset(pickle: &Pickle) -> u64 {
    pickle.start as u64
}

fn at_location(rule: &'static crate::rules::Rule, at: Location, offset: u64, message: String) -> Finding {
    let mut finding = Finding::new(rule, message)
        .with_subject(crate::report::Subject::file(at.file))
        .with_evidence("offset", at.base + offset);
    if let Some(entry) = at.entry {
        finding = finding.with_evidence("entry", entry);
    }
    finding
}

/// Whether `bytes` is a pickle of any protocol. Protocols 0 and 1 have no
/// magic number: the stream is interpreted (inertly, under small limits) and
/// counts as a pickle when it reaches STOP, when it outgrows those limits
/// (no text runs that far as opcodes), or when it runs out of bytes after
/// raising alerts (a loader would already have run what it named).
///
/// Protocol 0 pickles are plain text, and so are the files found beside
/// checkpoints (CSV lists, release notes, READMEs); a few opcodes of text
/// can reach a STOP (`.`) or raise an alert by chance (`i`ncludes, `P`ackage
/// lines). Plain text is therefore held to more: it must be pickles to its
/// end, or call a global a loader could import before it breaks off.
pub fn is_pickle(bytes: &[u8]) -> bool {
    if bytes.len() >= 2 && bytes[0] == 0x80 && bytes[1] <= 5 {
        return true;
    }
    let limits = Limits { max_stack: 1 << 16, max_marks: 1000, max_memo: 1 << 16, max_nodes: 1 << 18, max_depth: 64 };
    let pickle = unpickle(bytes, 0, &limits);
    let text = is_plain_text(bytes);
    match &pickle.root {
        Ok(_) => !text || pickle.alerts.iter().any(names_importable_global) || only_pickles_follow(bytes, pickle.end, &limits),
        Err(error) => match error.kind {
            ErrorKind::Limit { .. } => true,
            ErrorKind::Truncated { .. } | ErrorKind::NoStop if text => pickle.alerts.iter().any(names_importable_global),
            ErrorKind::Truncated { .. } | ErrorKind::NoStop => !pickle.alerts.is_empty(),
            _ => false,
        },
    }
}

/// UTF-8 (a character cut at the end allowed) without control bytes other
/// than tab, line feed, form feed and carriage return.
fn is_plain_text(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    valid && !bytes.iter().any(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r')) || b == 0x7f)
}

/// Whether the bytes after a first pickle's STOP are blank, or complete pickles.
fn only_pickles_follow(bytes: &[u8], end: usize, limits: &Limits) -> bool {
    let rest = bytes.get(end..).unwrap_or_default();
    rest.iter().all(u8::is_ascii_whitespace) || following(bytes, end, limits).iter().all(|p| p.root.is_ok())
}

/// A global (GLOBAL, INST or STACK_GLOBAL, names read in full) whose module
/// and name are dotted Python names, so that a loader would import it.
fn names_importable_global(alert: &super::Alert) -> bool {
    let dotted = |text: &str| {
        text.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        })
    };
    match alert {
        super::Alert::UnsafeGlobal { module, name, .. } | super::Alert::SubclassGlobal { module, name, .. } => {
            dotted(module) && dotted(name)
        }
        _ => false,
    }
}
