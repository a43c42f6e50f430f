//! PyTorch zip checkpoints (`torch.save` since 1.6): one top folder holding
//! `data.pkl` (the pickled container, protocol 2), `data/<key>` storage
//! records (stored uncompressed and 64-byte aligned by torch, so they are
//! read in place), and `byteorder` (absent means little-endian).

use std::collections::HashMap;

use super::entries::{
    StorageBytes, array_entries, pickle_findings, problem_findings, root, scalar_entries, tensor_entry,
};
use super::walk::walk;
use crate::formats::archive::{Archive, Duplicates, Member};
use crate::formats::pickle::{Alert, Limits, Location, unpickle};
use crate::formats::{Parsed, Storage, at_offset};
use crate::numerics::ByteOrder;
use crate::rules::format as rules;

pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    let mut out = Parsed::default();
    let broken = |why: String| at_offset(&rules::BROKEN_ARCHIVE, label, 0, why);
    // Duplicate records are judged as torch.load reads them.
    let mut archive = match Archive::open(bytes, Duplicates::Miniz) {
        Ok(archive) => archive,
        Err(why) => {
            out.findings.push(broken(format!("broken zip archive: {why}")));
            return out;
        }
    };
    out.findings.extend(archive.problem_findings(label));
    let Some(pkl) = data_pkl(&archive) else {
        out.findings.push(broken("zip archive has no <folder>/data.pkl record".into()));
        return out;
    };
    let folder = pkl.name.trim_end_matches("data.pkl").to_string();
    let pkl_storage = match archive.storage(&pkl) {
        Ok(storage) => storage,
        Err(why) => {
            out.findings.push(broken(why).with_evidence("entry", pkl.name.clone()));
            return out;
        }
    };
    let (pkl_bytes, mapped_at): (&[u8], Option<usize>) = match &pkl_storage {
        Storage::Mapped { start, len } => (&bytes[*start..start + len], Some(*start)),
        Storage::Owned(owned) => (owned.as_slice(), None),
    };
    let order = byte_order(&mut archive, bytes, &folder);
    let limits = Limits::default();
    let mut pickle = unpickle(pkl_bytes, 0, &limits);
    if archive.find(&format!("{folder}constants.pkl")).is_some() {
        // TorchScript archives name their own compiled classes (`__torch__.*`),
        // which `torch.jit.load` resolves against the archive's TorchScript
        // code, never through Python imports.
        pickle.alerts.retain(|alert| !is_torchscript_class(alert));
    }
    let at = Location { file: label, entry: Some(&pkl.name), base: 0 };
    pickle_findings(&pickle, at, &mut out);
    let Some(root) = root(&pickle) else { return out };
    let found = walk(&pickle, root, limits.max_depth);
    problem_findings(&found.problems, at, &mut out);

    let members: HashMap<String, Member> = archive.members.iter().map(|m| (m.name.clone(), m.clone())).collect();
    let mut storages: HashMap<String, Result<StorageBytes, ()>> = HashMap::new();
    for (name, spec) in &found.tensors {
        let entry_name = format!("{folder}data/{}", spec.storage.key);
        let located = storages.entry(spec.storage.key.clone()).or_insert_with(|| {
            let member = members.get(&entry_name).ok_or(())?;
            let storage = archive.storage(member).map_err(|_| ())?;
            Ok(StorageBytes { len: storage_len(&storage), storage, entry: Some(entry_name.clone()) })
        });
        match located {
            Ok(bytes) => match tensor_entry(label, name, spec, bytes, order) {
                Ok(entry) => out.tensors.push(entry),
                Err(finding) => out.findings.push(*finding),
            },
            Err(()) => out.findings.push(
                crate::formats::missing_storage(
                    label,
                    name,
                    format!("tensor {name} needs storage record {entry_name}, which is missing or unreadable"),
                )
                .with_evidence("entry", entry_name),
            ),
        }
    }
    scalar_entries(&found, &mut out);
    array_entries(&pickle, &found, mapped_at, at, &mut out);
    out
}

fn is_torchscript_class(alert: &Alert) -> bool {
    match alert {
        Alert::UnsafeGlobal { module, .. } => {
            module == "__torch__" || module.starts_with("__torch__.") || module == "torch.jit._pickle"
        }
        _ => false,
    }
}

/// `<folder>/data.pkl`, where the folder is the first entry's top folder.
fn data_pkl(archive: &Archive) -> Option<Member> {
    let first = archive.members.first()?;
    let folder = first.name.split('/').next()?;
    let expected = format!("{folder}/data.pkl");
    archive
        .find(&expected)
        .or_else(|| archive.members.iter().find(|m| m.name.ends_with("/data.pkl") && m.name.matches('/').count() == 1))
        .cloned()
}

fn storage_len(storage: &Storage) -> u64 {
    match storage {
        Storage::Mapped { len, .. } => *len as u64,
        Storage::Owned(bytes) => bytes.len() as u64,
    }
}

fn byte_order(archive: &mut Archive, bytes: &[u8], folder: &str) -> ByteOrder {
    let Some(member) = archive.find(&format!("{folder}byteorder")).cloned() else {
        return ByteOrder::Little;
    };
    match archive.storage(&member) {
        Ok(Storage::Owned(bytes)) if bytes.as_slice() == b"big" => ByteOrder::Big,
        Ok(Storage::Mapped { start, len }) if bytes.get(start..start + len) == Some(b"big") => ByteOrder::Big,
        _ => ByteOrder::Little,
    }
}
