//! safetensors: `u64 LE header length | JSON header | data`.
//!
//! Validation follows the reference implementation: a header size limit,
//! `__metadata__` a string map or null and present once, known dtypes, sizes
//! that match dtype x shape, and ranges that, sorted, tile the data buffer
//! exactly. A name listed twice is read as the reference reads it (the last
//! entry); the reference then refuses the file unless both entries claim the
//! same bytes, and nanscope still warns in that case, since readers that keep
//! the first entry may see another dtype or shape. Each problem is a finding
//! with a byte offset; valid tensors of a damaged file are still read.

use serde_json::Value;

use super::json::{OrderedObject, byte_offset};
use super::{Parsed, Storage, TensorEntry, at_offset};
use crate::numerics::{ByteOrder, DType};
use crate::report::{Finding, Severity, Subject};
use crate::rules::format as rules;

/// The reference reader refuses headers above this size.
pub const MAX_HEADER: u64 = 100_000_000;

pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    let mut out = Parsed::default();
    let file_len = bytes.len() as u64;
    if file_len < 8 {
        out.findings.push(at_offset(
            &rules::TRUNCATED_FILE,
            label,
            0,
            format!("{file_len} bytes is too short for a safetensors header length"),
        ));
        return out;
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    if n > MAX_HEADER {
        out.findings.push(at_offset(
            &rules::INVALID_HEADER,
            label,
            0,
            format!("header declares {n} bytes, above the {MAX_HEADER}-byte limit"),
        ));
        return out;
    }
    if 8 + n > file_len {
        out.findings.push(at_offset(
            &rules::TRUNCATED_FILE,
            label,
            8,
            format!("header declares {n} bytes but the file ends at byte {file_len}"),
        ));
        return out;
    }
    let header = &bytes[8..(8 + n) as usize];
    let data_start = 8 + n;
    let data_len = file_len - data_start;

    let text = match std::str::from_utf8(header) {
        Ok(text) => text,
        Err(err) => {
            out.findings.push(at_offset(
                &rules::INVALID_HEADER,
                label,
                8 + err.valid_up_to() as u64,
                format!("header is not UTF-8 at byte {}", 8 + err.valid_up_to()),
            ));
            return out;
        }
    };
    let entries = match serde_json::from_str::<OrderedObject>(text) {
        Ok(OrderedObject(entries)) => entries,
        Err(err) => {
            out.findings.push(at_offset(
                &rules::INVALID_HEADER,
                label,
                8 + byte_offset(text, err.line(), err.column()),
                format!("header is not a JSON object: {err}"),
            ));
            return out;
        }
    };

    // Slots keep header order; a duplicate name empties the earlier slot
    // (the reference reader keeps the last entry) after reporting it.
    let mut slots: Vec<Option<TensorEntry>> = Vec::new();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    // Every byte range an entry claims, readable or not, so that one bad entry
    // does not also show up as a gap in the tiling check.
    let mut claimed: Vec<(u64, u64, &str)> = Vec::new();
    let mut metadata_seen = false;
    let mut previous_offsets: std::collections::HashMap<&str, Option<[u64; 2]>> = std::collections::HashMap::new();
    for (key, value) in &entries {
        if key == "__metadata__" {
            if metadata_seen {
                out.findings.push(
                    at_offset(
                        &rules::DUPLICATE_KEY,
                        label,
                        8,
                        "__metadata__ appears twice in the header; the reference reader refuses the file".to_string(),
                    )
                    .with_severity(Severity::Error),
                );
            }
            metadata_seen = true;
            // The reference reads `null` as no metadata.
            let valid = value.is_null() || value.as_object().is_some_and(|m| m.values().all(Value::is_string));
            if !valid {
                out.findings.push(at_offset(
                    &rules::INVALID_HEADER,
                    label,
                    8,
                    "__metadata__ must map strings to strings (or be null)".to_string(),
                ));
            }
            continue;
        }
        let offsets = declared_offsets(value);
        if let Some(&previous) = seen.get(key.as_str()) {
            slots[previous] = None;
        }
        if let Some(first) = previous_offsets.get(key.as_str()) {
            // The reference keeps the last entry, so the earlier one claims nothing.
            claimed.retain(|c| c.2 != key.as_str());
            let same_bytes = first.is_some() && *first == offsets;
            let message = if same_bytes {
                format!(
                    "tensor {key} is listed twice over the same bytes; the reference reader accepts this and \
                     reads the last entry, but readers that keep the first may read another dtype or shape"
                )
            } else {
                format!(
                    "tensor {key} is listed twice over different bytes; the reference reader keeps the last \
                     entry and refuses the file, as the first entry's bytes are then covered by no tensor"
                )
            };
            out.findings.push(
                at_offset(&rules::DUPLICATE_KEY, label, 8, message)
                    .with_subject(Subject::tensor(label, key))
                    .with_severity(if same_bytes { Severity::Warning } else { Severity::Error }),
            );
        }
        previous_offsets.insert(key, offsets);
        // A range cut off by the end of the file claims what is there.
        if let Some([begin, end]) = offsets.filter(|&[b, e]| b <= e && b <= data_len) {
            claimed.push((begin, end.min(data_len), key));
        }
        match tensor_entry(key, value, data_len, data_start, label) {
            Ok(entry) => {
                seen.insert(key, slots.len());
                slots.push(Some(entry));
            }
            Err(finding) => out.findings.push(*finding),
        }
    }
    out.tensors = slots.into_iter().flatten().collect();
    check_tiling(&mut claimed, data_len, data_start, label, &mut out.findings);
    out
}

/// The `[begin, end]` an entry declares, if it declares two integers.
fn declared_offsets(value: &Value) -> Option<[u64; 2]> {
    let offsets = value.get("data_offsets")?.as_array()?;
    match offsets.as_slice() {
        [begin, end] => Some([begin.as_u64()?, end.as_u64()?]),
        _ => None,
    }
}

/// Builds one tensor entry, or the finding that explains why it cannot be read.
fn tensor_entry(
    key: &str,
    value: &Value,
    data_len: u64,
    data_start: u64,
    label: &str,
) -> Result<TensorEntry, Box<Finding>> {
    let bad =
        |rule, message: String| Box::new(at_offset(rule, label, 8, message).with_subject(Subject::tensor(label, key)));
    let obj = value.as_object().ok_or_else(|| bad(&rules::INVALID_HEADER, format!("entry {key} is not an object")))?;
    let dtype_name = obj
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(&rules::INVALID_HEADER, format!("entry {key} has no dtype string")))?;
    let shape: Vec<u64> = obj
        .get("shape")
        .and_then(Value::as_array)
        .and_then(|dims| dims.iter().map(Value::as_u64).collect())
        .ok_or_else(|| bad(&rules::INVALID_HEADER, format!("entry {key} has no valid shape")))?;
    let offsets: Vec<u64> = obj
        .get("data_offsets")
        .and_then(Value::as_array)
        .and_then(|o| o.iter().map(Value::as_u64).collect())
        .filter(|o: &Vec<u64>| o.len() == 2)
        .ok_or_else(|| bad(&rules::INVALID_HEADER, format!("entry {key} has no [begin, end] data_offsets")))?;
    let dtype = DType::from_safetensors(dtype_name)
        .ok_or_else(|| bad(&rules::UNSUPPORTED_DTYPE, format!("tensor {key} has unknown dtype {dtype_name:?}")))?;
    let numel = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
        bad(&rules::INVALID_HEADER, format!("tensor {key} shape {shape:?} overflows: more than 2^64 elements"))
    })?;
    let bits = numel.checked_mul(dtype.bits()).ok_or_else(|| {
        bad(&rules::INVALID_HEADER, format!("tensor {key} shape {shape:?} of {dtype} overflows: more than 2^64 bits"))
    })?;
    if !bits.is_multiple_of(8) {
        return Err(bad(
            &rules::INVALID_LAYOUT,
            format!("tensor {key}: {numel} {dtype} elements do not fill whole bytes"),
        ));
    }
    let expected = bits / 8;
    let (begin, end) = (offsets[0], offsets[1]);
    if end < begin {
        return Err(bad(
            &rules::INVALID_LAYOUT,
            format!("tensor {key} data_offsets [{begin}, {end}] end before they begin"),
        ));
    }
    if end - begin != expected {
        return Err(bad(
            &rules::INVALID_LAYOUT,
            format!("tensor {key} holds {} bytes but {dtype} x {shape:?} needs {expected}", end - begin),
        ));
    }
    if end > data_len {
        let mut finding = at_offset(
            &rules::TRUNCATED_FILE,
            label,
            data_start + end,
            format!(
                "tensor {key} needs bytes up to {} but the file ends at byte {}",
                data_start + end,
                data_start + data_len
            ),
        );
        finding.subject = Subject::tensor(label, key);
        return Err(Box::new(finding));
    }
    Ok(TensorEntry {
        name: key.to_string(),
        dtype,
        shape,
        view: None,
        storage: Storage::Mapped { start: (data_start + begin) as usize, len: (end - begin) as usize },
        order: ByteOrder::Little,
    })
}

/// The data buffer must be covered exactly, as the reference checks it:
/// ranges sorted by `[begin, end]` each start where the previous one ended
/// (empty tensors included), and the last one ends at the end of the file.
/// Overlapping tensors stay readable, so they are still scanned; the layout
/// finding stands beside them.
fn check_tiling(
    ranges: &mut [(u64, u64, &str)],
    data_len: u64,
    data_start: u64,
    label: &str,
    findings: &mut Vec<Finding>,
) {
    ranges.sort_unstable();
    let mut cursor = 0u64;
    for &(begin, end, name) in ranges.iter() {
        if begin < cursor {
            findings.push(
                at_offset(
                    &rules::INVALID_LAYOUT,
                    label,
                    data_start + begin,
                    format!("tensor {name} at bytes [{begin}, {end}) overlaps the previous tensor (ends at {cursor})"),
                )
                .with_subject(Subject::tensor(label, name)),
            );
        } else if begin > cursor {
            findings.push(at_offset(
                &rules::INVALID_LAYOUT,
                label,
                data_start + cursor,
                format!("{} unused bytes between data offsets {cursor} and {begin}", begin - cursor),
            ));
        }
        cursor = cursor.max(end);
    }
    if cursor < data_len {
        findings.push(at_offset(
            &rules::INVALID_LAYOUT,
            label,
            data_start + cursor,
            format!("{} bytes after the last tensor are not covered by the header", data_len - cursor),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a safetensors file from a header and a data buffer.
    pub(crate) fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    fn codes(p: &Parsed) -> Vec<&str> {
        p.findings.iter().map(|f| f.code()).collect()
    }

    #[test]
    fn reads_a_valid_file_in_header_order() {
        let h = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}"#;
        let p = parse(&file(h, &[0; 8]), "m");
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(p.tensors.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(p.tensors[1].shape, Vec::<u64>::new());
    }

    #[test]
    fn absurd_header_length_is_refused_before_reading() {
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.extend(b"{}");
        assert_eq!(codes(&parse(&bytes, "m")), ["F104"]);
        let mut bytes = 1000u64.to_le_bytes().to_vec();
        bytes.extend(b"{}");
        assert_eq!(codes(&parse(&bytes, "m")), ["F103"]);
    }

    #[test]
    fn overlap_gap_size_and_truncation_are_findings() {
        let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        assert_eq!(codes(&parse(&file(h, &[0; 8]), "m")), ["F105"]);
        let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        assert_eq!(codes(&parse(&file(h, &[0; 8]), "m")), ["F105"]);
        let h = r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
        assert_eq!(codes(&parse(&file(h, &[0; 8]), "m")), ["F105"]);
        let h = r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
        let p = parse(&file(h, &[0; 8]), "m");
        assert_eq!(codes(&p), ["F103"]);
        assert_eq!(p.findings[0].evidence["offset"], 8 + h.len() as u64 + 16);
    }

    #[test]
    fn unknown_dtype_skips_only_that_tensor() {
        let h = r#"{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        let p = parse(&file(h, &[0; 8]), "m");
        assert!(codes(&p).contains(&"F106"));
        assert_eq!(p.tensors.len(), 1);
    }

    #[test]
    fn duplicate_names_are_judged_as_the_reference_reads_them() {
        // Over different bytes the reference keeps the last entry and refuses
        // the file, since the first entry's bytes are left uncovered.
        let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        let p = parse(&file(h, &[0; 8]), "m");
        assert_eq!(codes(&p), ["F107", "F105"]);
        assert_eq!(p.findings[0].severity, Severity::Error);
        assert_eq!(p.tensors.len(), 1);
        assert!(matches!(p.tensors[0].storage, Storage::Mapped { start, .. } if start == 8 + h.len() + 4));
        // Over the same bytes it accepts the file: a warning only.
        let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#;
        let p = parse(&file(h, &[0; 4]), "m");
        assert_eq!(codes(&p), ["F107"]);
        assert_eq!(p.findings[0].severity, Severity::Warning);
        assert_eq!(p.tensors[0].dtype, DType::I32);
    }

    #[test]
    fn metadata_null_is_valid_and_twice_is_an_error() {
        let t = r#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#;
        let p = parse(&file(&format!(r#"{{"__metadata__":null,{t}}}"#), &[0; 4]), "m");
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        let p = parse(&file(&format!(r#"{{"__metadata__":{{}},"__metadata__":{{}},{t}}}"#), &[0; 4]), "m");
        assert_eq!(codes(&p), ["F107"]);
        assert_eq!(p.findings[0].severity, Severity::Error);
    }

    #[test]
    fn empty_tensors_must_sit_where_the_previous_one_ends() {
        let t = r#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#;
        let h = format!(r#"{{{t},"z":{{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}}}"#);
        assert!(parse(&file(&h, &[0; 4]), "m").findings.is_empty());
        // Inside another tensor's bytes: the reference refuses it.
        let b = r#""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#;
        let h = format!(r#"{{{t},{b},"z":{{"dtype":"F32","shape":[0],"data_offsets":[2,2]}}}}"#);
        assert_eq!(codes(&parse(&file(&h, &[0; 8]), "m")), ["F105"]);
    }

    #[test]
    fn bad_json_reports_an_offset() {
        let p = parse(&file("{\"a\": [1,", &[]), "m");
        assert_eq!(codes(&p), ["F104"]);
    }

    #[test]
    fn shape_overflow_is_a_finding_that_says_so() {
        let h = r#"{"a":{"dtype":"F32","shape":[18446744073709551615,4],"data_offsets":[0,4]}}"#;
        let p = parse(&file(h, &[0; 4]), "m");
        assert_eq!(codes(&p), ["F104"]);
        assert!(p.findings[0].message.contains("overflows"), "{}", p.findings[0].message);
        // The element count fits, its bits do not: still an overflow, not a sub-byte problem.
        let h = r#"{"a":{"dtype":"F4","shape":[4611686018427387904,2],"data_offsets":[0,4]}}"#;
        let p = parse(&file(h, &[0; 4]), "m");
        assert!(p.findings[0].message.contains("overflows"), "{}", p.findings[0].message);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse(&bytes, "fuzz");
        }

        #[test]
        fn never_panics_on_mutated_headers(
            begin in 0u64..64, end in 0u64..64, dims in proptest::collection::vec(0u64..9, 0..4),
            dtype in proptest::sample::select(vec!["F16", "BF16", "F32", "I8", "F4", "BOOL", "X"]),
            data in 0usize..64,
        ) {
            let h = format!(r#"{{"t":{{"dtype":"{dtype}","shape":{dims:?},"data_offsets":[{begin},{end}]}}}}"#);
            let _ = parse(&file(&h, &vec![0u8; data]), "fuzz");
        }
    }
}
