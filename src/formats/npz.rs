//! NumPy `.npz`: a zip of `.npy` members, each read as one tensor named after
//! its member (without the `.npy` suffix). Duplicate names are judged as
//! `numpy.load` reads them (the last record). A member that is not an `.npy`
//! is what `numpy.load` hands back as raw bytes; a pickle among them is
//! scanned as a pickle, never read as an array.

use super::archive::{Archive, Duplicates};
use super::{Parsed, Storage, at_offset, npy, torch};
use crate::report::{Finding, Severity};
use crate::rules::format as rules;

pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut archive = match Archive::open(bytes, Duplicates::Last) {
        Ok(archive) => archive,
        Err(why) => {
            out.findings.push(at_offset(&rules::BROKEN_ARCHIVE, label, 0, format!("broken zip archive: {why}")));
            return out;
        }
    };
    out.findings.extend(archive.problem_findings(label));
    for member in archive.members.clone() {
        if member.name.ends_with('/') {
            continue;
        }
        let name = member.name.strip_suffix(".npy").unwrap_or(&member.name).to_string();
        let storage = match archive.storage(&member) {
            Ok(storage) => storage,
            Err(why) => {
                out.findings.push(
                    at_offset(&rules::BROKEN_ARCHIVE, label, member.header_at, why)
                        .with_evidence("entry", member.name.clone()),
                );
                continue;
            }
        };
        let data: &[u8] = match &storage {
            Storage::Mapped { start, len } => &bytes[*start..start + len],
            Storage::Owned(data) => data,
        };
        if !data.starts_with(npy::MAGIC) {
            out.findings.extend(foreign_member(data, label, &member.name, member.header_at));
            continue;
        }
        // Object members hold pickles, read by the inert interpreter.
        if npy::is_object_array(data) {
            let mapped_at = match &storage {
                Storage::Mapped { start, .. } => Some(*start),
                Storage::Owned(_) => None,
            };
            let parsed = npy::object_member(data, label, Some(&name), mapped_at, Some(&member.name));
            out.tensors.extend(parsed.tensors);
            out.findings.extend(parsed.findings);
            continue;
        }
        let result = match &storage {
            Storage::Mapped { start, .. } => npy::entry(data, label, &name, *start as u64),
            Storage::Owned(data) => npy::entry(data, label, &name, 0).map(|(mut entry, trailing)| {
                // Re-point the entry at the decompressed member.
                if let Storage::Mapped { start, len } = entry.storage {
                    entry.storage = Storage::Owned(std::sync::Arc::new(data[start..start + len].to_vec()));
                }
                (entry, trailing)
            }),
        };
        match result {
            Ok((entry, trailing)) => {
                out.findings.extend(trailing.map(|f| f.with_evidence("entry", member.name.clone())));
                out.tensors.push(entry);
            }
            Err(finding) => out.findings.push(finding.with_evidence("entry", member.name.clone())),
        }
    }
    out
}

/// Findings for a member that is not an `.npy` array. `numpy.load` returns
/// such a member's bytes untouched, so it is no error of the archive; but a
/// pickle hidden there runs code for whoever unpickles it, so its content is
/// scanned like any pickle.
fn foreign_member(data: &[u8], label: &str, entry: &str, header_at: u64) -> Vec<Finding> {
    let is_pickle = data.len() >= 2 && data[0] == 0x80 && (2..=5).contains(&data[1]);
    if !is_pickle {
        return vec![
            at_offset(
                &rules::UNRECOGNIZED_FORMAT,
                label,
                header_at,
                format!("zip member {entry} is not an .npy array (numpy.load returns its raw bytes); not scanned"),
            )
            .with_evidence("entry", entry)
            .with_severity(Severity::Info),
        ];
    }
    let mut findings = vec![
        at_offset(
            &rules::UNRECOGNIZED_FORMAT,
            label,
            header_at,
            format!(
                "zip member {entry} is a pickle, not an .npy array: numpy.load returns its raw bytes, but \
                 whoever unpickles it runs what it names; it is scanned as a pickle, its arrays are not read"
            ),
        )
        .with_evidence("entry", entry)
        .with_severity(Severity::Warning),
    ];
    let scanned = torch::parse_pickle(data, label);
    findings.extend(scanned.findings.into_iter().map(|f| f.with_evidence("entry", entry)));
    findings
}

#[cfg(test)]
mod tests {
    use super::super::archive::tests::zip;
    use super::super::npy::tests::npy;
    use super::*;

    fn codes(p: &Parsed) -> Vec<&str> {
        p.findings.iter().map(|f| f.code()).collect()
    }

    #[test]
    fn a_pickle_member_is_scanned_as_a_pickle_not_an_array() {
        let pickle = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
        let bytes = zip(&[("a.npy", &npy("<f4", false, "(1,)", &[0; 4]), false), ("b.pkl", pickle, false)]);
        let p = parse(&bytes, "x.npz");
        assert_eq!(p.tensors.len(), 1);
        assert!(codes(&p).contains(&"F101"), "{:?}", p.findings);
        assert!(!p.findings.iter().any(|f| f.message.contains("too short")), "{:?}", p.findings);
        assert!(p.findings.iter().any(|f| f.code().starts_with('S')), "{:?}", p.findings);
    }

    #[test]
    fn other_members_are_noted_not_errors() {
        let bytes = zip(&[("notes.txt", b"hello", false)]);
        let p = parse(&bytes, "x.npz");
        assert_eq!(codes(&p), ["F101"]);
        assert_eq!(p.findings[0].severity, Severity::Info);
    }
}
