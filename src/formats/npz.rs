//! NumPy `.npz`: a zip of `.npy` members, each read as one tensor named after
//! its member (without the `.npy` suffix).

use super::archive::Archive;
use super::{Parsed, Storage, at_offset, npy};
use crate::rules::format as rules;

pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut archive = match Archive::open(bytes) {
        Ok(archive) => archive,
        Err(why) => {
            out.findings.push(at_offset(&rules::BROKEN_ARCHIVE, label, 0, format!("broken zip archive: {why}")));
            return out;
        }
    };
    for member in archive.members.clone() {
        if member.name.ends_with('/') {
            continue;
        }
        let name = member.name.strip_suffix(".npy").unwrap_or(&member.name).to_string();
        let storage = match archive.storage(&member) {
            Ok(storage) => storage,
            Err(why) => {
                out.findings
                    .push(at_offset(&rules::BROKEN_ARCHIVE, label, 0, why).with_evidence("entry", member.name.clone()));
                continue;
            }
        };
        // Object members hold pickles, read by the inert interpreter.
        let member_bytes: &[u8] = match &storage {
            Storage::Mapped { start, len } => &bytes[*start..start + len],
            Storage::Owned(data) => data,
        };
        if npy::is_object_array(member_bytes) {
            let mapped_at = match &storage {
                Storage::Mapped { start, .. } => Some(*start),
                Storage::Owned(_) => None,
            };
            let parsed = npy::object_member(member_bytes, label, Some(&name), mapped_at, Some(&member.name));
            out.tensors.extend(parsed.tensors);
            out.findings.extend(parsed.findings);
            continue;
        }
        let result = match &storage {
            Storage::Mapped { start, len } => npy::entry(&bytes[*start..start + len], label, &name, *start as u64),
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
                out.findings.extend(trailing);
                out.tensors.push(entry);
            }
            Err(finding) => out.findings.push(finding.with_evidence("entry", member.name.clone())),
        }
    }
    out
}
