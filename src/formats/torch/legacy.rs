//! Legacy PyTorch files (`torch.save(..., _use_new_zipfile_serialization=False)`):
//! five pickles in a row — magic number, protocol version 1001, `sys_info`
//! (byte order, type sizes), the container with storage persistent ids, the
//! list of storage keys — then, per key, an int64 element count and the raw
//! elements. Every count is checked against the bytes that remain.

use std::collections::HashMap;

use super::dtypes::storage_class_dtype;
use super::entries::{
    StorageBytes, array_entries, pickle_findings, problem_findings, root, scalar_entries, tensor_entry,
};
use super::rebuild::TensorSpec;
use super::walk::walk;
use crate::formats::pickle::{Limits, Location, Pickle, following, following_findings, unpickle};
use crate::formats::{Parsed, Storage, at_offset};
use crate::numerics::ByteOrder;
use crate::report::{Finding, Subject};
use crate::rules::format as rules;

const PROTOCOL_VERSION: i64 = 1001;

pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    let mut out = Parsed::default();
    let limits = Limits::default();
    let at = Location { file: label, entry: None, base: 0 };
    let malformed = |offset: usize, why: String| at_offset(&rules::MALFORMED_PICKLE, label, offset as u64, why);

    let mut next = 0;
    let Some(_magic) = next_pickle(bytes, &mut next, &limits, at, &mut out) else { return out };
    let Some(protocol) = next_pickle(bytes, &mut next, &limits, at, &mut out) else { return out };
    let version = root(&protocol).and_then(|v| protocol.int(&v));
    if version != Some(PROTOCOL_VERSION) {
        out.findings.push(malformed(0, format!("legacy protocol version is {version:?}, expected 1001")));
        // The rest is not a legacy layout, but its pickles are still judged.
        out.findings.extend(following_findings(&following(bytes, next, &limits), bytes.len(), at));
        return out;
    }
    let Some(sys_info) = next_pickle(bytes, &mut next, &limits, at, &mut out) else { return out };
    let little = root(&sys_info).and_then(|info| sys_info.get(&info, "little_endian"));
    let order =
        if little == Some(crate::formats::pickle::Value::Bool(false)) { ByteOrder::Big } else { ByteOrder::Little };
    let Some(main) = next_pickle(bytes, &mut next, &limits, at, &mut out) else { return out };
    let Some(keys_pickle) = next_pickle(bytes, &mut next, &limits, at, &mut out) else { return out };
    let Some(main_root) = root(&main) else { return out };
    let found = walk(&main, main_root, limits.max_depth);
    problem_findings(&found.problems, at, &mut out);
    let keys: Vec<String> = root(&keys_pickle)
        .and_then(|k| keys_pickle.items(&k).map(|items| items.to_vec()))
        .unwrap_or_default()
        .iter()
        .filter_map(|k| keys_pickle.text(k).map(str::to_string))
        .collect();

    // The element size of each storage, from the tensors that use it.
    let mut element_size: HashMap<&str, u64> = HashMap::new();
    for (_, spec) in &found.tensors {
        element_size.entry(spec.storage.key.as_str()).or_insert_with(|| storage_element_size(spec));
    }
    // Storages saved on their own (not through a tensor) carry their class.
    for pid in main.persistent_ids() {
        let Some([_, class, key, ..]) = main.tuple(&pid) else { continue };
        let (Some(class), Some(key)) = (main.global(class), main.text(key)) else { continue };
        if let Some(size) = storage_class_dtype(&class.name).and_then(|d| d.size()) {
            element_size.entry(key).or_insert(size);
        }
    }

    let mut storages: HashMap<String, StorageBytes> = HashMap::new();
    let mut pos = next;
    let mut area_complete = true;
    for key in &keys {
        let Some(&size) = element_size.get(key.as_str()) else {
            out.findings.push(malformed(
                pos,
                format!("storage {key} is listed but no tensor uses it; its element size is unknown, so the storage area cannot be read"),
            ));
            area_complete = false;
            break;
        };
        let truncated = |pos: usize, why: String| {
            at_offset(&rules::TRUNCATED_FILE, label, pos as u64, why).with_evidence("storage", key.as_str())
        };
        let Some(count) = bytes.get(pos..pos + 8) else {
            out.findings.push(truncated(
                pos,
                format!("storage {key}'s element count at byte {pos} is past the end ({} bytes)", bytes.len()),
            ));
            area_complete = false;
            break;
        };
        let count: [u8; 8] = count.try_into().unwrap_or([0; 8]);
        let count = match order {
            ByteOrder::Little => i64::from_le_bytes(count),
            ByteOrder::Big => i64::from_be_bytes(count),
        };
        let remaining = (bytes.len() - pos - 8) as u64;
        if count < 0 {
            out.findings.push(malformed(
                pos,
                format!("storage {key} declares a negative element count ({count}) at byte {pos}"),
            ));
            area_complete = false;
            break;
        }
        let need = u64::try_from(count).ok().and_then(|c| c.checked_mul(size));
        let Some(need) = need.filter(|&n| n <= remaining) else {
            out.findings.push(truncated(
                pos,
                format!("storage {key} declares {count} elements of {size} bytes at byte {pos}, but only {remaining} bytes follow"),
            ));
            area_complete = false;
            break;
        };
        let start = pos + 8;
        storages.insert(
            key.clone(),
            StorageBytes { storage: Storage::Mapped { start, len: need as usize }, len: need, entry: None },
        );
        pos = start + need as usize;
    }

    for (name, spec) in &found.tensors {
        match storages.get(&spec.storage.key) {
            Some(located) => match tensor_entry(label, name, spec, located, order) {
                Ok(entry) => out.tensors.push(entry),
                Err(finding) => out.findings.push(*finding),
            },
            // A broken storage area was reported once above.
            None if !area_complete => {}
            None => out.findings.push(
                Finding::new(
                    &rules::TRUNCATED_FILE,
                    format!("tensor {name}'s storage {} is not in the file's storage area", spec.storage.key),
                )
                .with_subject(Subject::tensor(label, name))
                .with_evidence("storage", spec.storage.key.as_str()),
            ),
        }
    }
    // `torch.load` reads nothing after the storage area, but a pickle hidden
    // there is still judged (and anything else there is reported).
    if area_complete && pos < bytes.len() {
        out.findings.extend(following_findings(&following(bytes, pos, &limits), bytes.len(), at));
    }
    // Arrays in a legacy pickle are spelled through `_codecs.encode` (protocol 2), so they are copied.
    scalar_entries(&found, &mut out);
    array_entries(&main, &found, Some(0), at, &mut out);
    out
}

/// The next pickle of the stream; `None` (with findings) when it is broken.
fn next_pickle<'a>(
    bytes: &'a [u8],
    next: &mut usize,
    limits: &Limits,
    at: Location,
    out: &mut Parsed,
) -> Option<Pickle<'a>> {
    let pickle = unpickle(bytes, *next, limits);
    pickle_findings(&pickle, at, out);
    pickle.root.as_ref().ok()?;
    *next = pickle.end;
    Some(pickle)
}

/// Legacy files write each storage as elements of its own type.
fn storage_element_size(spec: &TensorSpec) -> u64 {
    match storage_class_dtype(&spec.storage.class) {
        Some(dtype) => dtype.size().unwrap_or(1),
        None => spec.dtype.size().unwrap_or(1),
    }
}
