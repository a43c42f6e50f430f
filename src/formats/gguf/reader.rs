//! GGUF files as tensor entries: the header is decoded, every tensor's data
//! range is checked (alignment, bounds, whole blocks, overlaps, duplicates),
//! and each readable tensor becomes a `TensorEntry`. Plain element types
//! (F32, F16, BF16, F64, I8–I64) are ordinary entries; block-quantized types
//! become `U8` entries over their raw blocks, which the quantization layer
//! dequantizes (see `weights::quant`).

use std::collections::HashSet;

use super::header::{Header, HeaderError, TensorInfo, read_header};
use super::types::{GgmlType, NEWEST_TYPE_ID, ggml_type};

/// Type ids from `NEWEST_TYPE_ID + 1` up to this are taken for types newer
/// than nanscope's table (ggml adds a few a year); higher ids are invalid.
const NEWER_TYPES_BELOW: u32 = 64;
use crate::formats::{Parsed, Storage, TensorEntry, at_offset};
use crate::numerics::{ByteOrder, DType};
use crate::report::{Finding, Severity, Subject};
use crate::rules::format as rules;

pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    let mut out = Parsed::default();
    let header = match read_header(bytes) {
        Ok(header) => header,
        Err(err) => {
            out.findings.push(header_finding(&err, label, bytes.len() as u64));
            return out;
        }
    };
    duplicate_keys(&header, label, &mut out.findings);
    let file_len = bytes.len() as u64;
    if !header.tensors.is_empty() && header.data_start > file_len {
        out.findings.push(at_offset(
            &rules::TRUNCATED_FILE,
            label,
            file_len,
            format!("tensor data should start at byte {} but the file ends at {file_len}", header.data_start),
        ));
        return out;
    }
    let mut seen = HashSet::new();
    let mut ranges: Vec<(u64, u64, &str)> = Vec::new();
    for info in &header.tensors {
        if !seen.insert(info.name.as_str()) {
            out.findings.push(
                at_offset(
                    &rules::DUPLICATE_KEY,
                    label,
                    info.record_at,
                    format!("tensor name {} appears twice (ggml refuses the file)", info.name),
                )
                .with_subject(Subject::tensor(label, &info.name))
                .with_severity(Severity::Error),
            );
            continue;
        }
        match tensor_range(&header, info, label, file_len) {
            Ok((ty, start, len)) => {
                ranges.push((start, len, info.name.as_str()));
                out.tensors.push(entry(info, ty, start, len));
            }
            Err(finding) => out.findings.push(*finding),
        }
    }
    overlaps(&mut ranges, label, &mut out.findings);
    packing(&header, label, &mut out.findings);
    out
}

/// ggml accepts tensor data only where its own writer puts it: in header
/// order, each tensor starting where the previous one ended, padded to the
/// alignment. The first tensor that is elsewhere is reported (ggml stops
/// there too); the check ends early at a tensor whose size is unknown.
fn packing(header: &Header, label: &str, findings: &mut Vec<Finding>) {
    let mut expected = 0u64;
    for info in &header.tensors {
        if info.offset != expected {
            findings.push(
                at_offset(
                    &rules::UNPACKED_TENSOR_DATA,
                    label,
                    info.record_at,
                    format!(
                        "{}: data offset {} is not {expected}, where ggml expects it (tensors follow each other \
                         in header order, each padded to {} bytes); ggml refuses the file",
                        info.name, info.offset, header.alignment
                    ),
                )
                .with_subject(Subject::tensor(label, &info.name))
                .with_evidence("data_offset", info.offset)
                .with_evidence("expected_offset", expected),
            );
            return;
        }
        let padded = ggml_type(info.type_id)
            .zip(info.numel())
            .and_then(|(ty, numel)| ty.byte_len(numel))
            .and_then(|len| len.checked_next_multiple_of(header.alignment))
            .and_then(|len| expected.checked_add(len));
        match padded {
            Some(next) => expected = next,
            None => return,
        }
    }
}

/// The logical dtype of an entry the reader made: its own element type, or
/// `U8` raw blocks for quantized types.
fn entry(info: &TensorInfo, ty: GgmlType, start: u64, len: u64) -> TensorEntry {
    let (dtype, shape) = match ty.plain_dtype() {
        Some(dtype) => (dtype, info.shape()),
        None => (DType::U8, vec![len]),
    };
    TensorEntry {
        name: info.name.clone(),
        dtype,
        shape,
        view: None,
        storage: Storage::Mapped { start: start as usize, len: len as usize },
        order: ByteOrder::Little,
    }
}

/// Checks one tensor's type and data range; returns its type and absolute
/// byte range.
fn tensor_range(
    header: &Header,
    info: &TensorInfo,
    label: &str,
    file_len: u64,
) -> Result<(GgmlType, u64, u64), Box<Finding>> {
    let subject = Subject::tensor(label, &info.name);
    let fail =
        |rule, message: String| Box::new(at_offset(rule, label, info.record_at, message).with_subject(subject.clone()));
    let Some(ty) = ggml_type(info.type_id) else {
        // An id just past nanscope's table may be a type newer than it; one far
        // past it, or a removed one, is no type ggml defines, and ggml refuses it.
        let newer = (NEWEST_TYPE_ID + 1..NEWER_TYPES_BELOW).contains(&info.type_id);
        let (why, severity) = if newer {
            ("is unknown to nanscope (perhaps newer than its type table)", Severity::Warning)
        } else {
            ("is no type ggml defines (ggml refuses the file)", Severity::Error)
        };
        return Err(Box::new(
            (*fail(&rules::UNSUPPORTED_DTYPE, format!("{}: ggml type id {} {why}", info.name, info.type_id)))
                .with_evidence("type_id", info.type_id)
                .with_severity(severity),
        ));
    };
    let numel = info
        .numel()
        .ok_or_else(|| fail(&rules::INVALID_HEADER, format!("{}: shape {:?} overflows", info.name, info.ne)))?;
    let ne0 = info.ne.first().copied().unwrap_or(1);
    if !ne0.is_multiple_of(ty.block_elems) {
        return Err(fail(
            &rules::INVALID_LAYOUT,
            format!("{}: ne[0] = {ne0} is not a multiple of the {} block size {}", info.name, ty.name, ty.block_elems),
        ));
    }
    let len = ty.byte_len(numel).ok_or_else(|| {
        fail(&rules::INVALID_HEADER, format!("{}: {} elements of {} overflow", info.name, numel, ty.name))
    })?;
    if !info.offset.is_multiple_of(header.alignment) {
        return Err(Box::new(
            (*fail(
                &rules::MISALIGNED_TENSOR_DATA,
                format!(
                    "{}: data offset {} is not a multiple of the alignment {}",
                    info.name, info.offset, header.alignment
                ),
            ))
            .with_evidence("data_offset", info.offset)
            .with_evidence("alignment", header.alignment),
        ));
    }
    let start = header.data_start.checked_add(info.offset);
    let end = start.and_then(|s| s.checked_add(len));
    match (start, end) {
        (Some(start), Some(end)) if end <= file_len => Ok((ty, start, len)),
        _ => Err(Box::new(
            at_offset(
                &rules::TRUNCATED_FILE,
                label,
                start.unwrap_or(u64::MAX).min(file_len),
                format!(
                    "{}: {len} bytes of {} data at byte {} run past the end of the file ({file_len} bytes)",
                    info.name,
                    ty.name,
                    start.map_or("(overflow)".into(), |s| s.to_string())
                ),
            )
            .with_subject(subject.clone())
            .with_evidence("needed", len)
            .with_evidence("file_len", file_len),
        )),
    }
}

fn overlaps(ranges: &mut [(u64, u64, &str)], label: &str, findings: &mut Vec<Finding>) {
    ranges.sort_by_key(|r| r.0);
    for pair in ranges.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.0 + a.1 > b.0 {
            findings.push(
                at_offset(
                    &rules::INVALID_LAYOUT,
                    label,
                    b.0,
                    format!("data of {} (bytes {}..{}) overlaps {} (from byte {})", a.2, a.0, a.0 + a.1, b.2, b.0),
                )
                .with_subject(Subject::tensor(label, b.2)),
            );
        }
    }
}

fn duplicate_keys(header: &Header, label: &str, findings: &mut Vec<Finding>) {
    let mut seen = HashSet::new();
    for (key, _) in &header.kv {
        if !seen.insert(key.as_str()) {
            findings.push(
                Finding::new(
                    &rules::DUPLICATE_KEY,
                    format!("metadata key {key} appears twice (ggml refuses the file)"),
                )
                .with_subject(Subject::file(label))
                .with_evidence("key", key.as_str())
                .with_severity(Severity::Error),
            );
        }
    }
}

fn header_finding(err: &HeaderError, label: &str, file_len: u64) -> Finding {
    match err {
        HeaderError::Truncated { at, what } => at_offset(
            &rules::TRUNCATED_FILE,
            label,
            *at,
            format!("GGUF header ends early at byte {at}: {what} (file is {file_len} bytes)"),
        ),
        HeaderError::Invalid { at, what } => {
            at_offset(&rules::INVALID_HEADER, label, *at, format!("invalid GGUF header at byte {at}: {what}"))
        }
        HeaderError::ByteSwapped { version } => at_offset(
            &rules::BYTE_SWAPPED_GGUF,
            label,
            4,
            format!("GGUF version {version} is stored big-endian; nanscope reads little-endian GGUF only"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::tests::Writer;
    use super::*;

    fn codes(p: &Parsed) -> Vec<&str> {
        p.findings.iter().map(|f| f.code()).collect()
    }

    #[test]
    fn plain_and_quantized_tensors_become_entries() {
        let mut w = Writer::new(3, 2, 0);
        w.tensor("a", &[4, 2], 0, 0).tensor("q", &[32], 8, 32).pad(32);
        w.0.extend([0u8; 32 + 34]);
        let p = parse(&w.0, "m.gguf");
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!((p.tensors[0].dtype, p.tensors[0].shape.clone()), (DType::F32, vec![2, 4]));
        assert_eq!((p.tensors[1].dtype, p.tensors[1].shape.clone()), (DType::U8, vec![34]));
    }

    #[test]
    fn misaligned_truncated_unknown_and_overlapping_tensors_are_findings() {
        let mut w = Writer::new(3, 4, 0);
        w.tensor("mis", &[8], 0, 4).tensor("unk", &[8], 99, 64).tensor("over", &[16], 0, 0).tensor("a", &[8], 0, 32);
        w.pad(32);
        w.0.extend([0u8; 64]);
        let p = parse(&w.0, "m.gguf");
        let mut c = codes(&p);
        c.sort();
        assert_eq!(c, ["F105", "F106", "F121", "F122"]);
        let mut w = Writer::new(3, 1, 0);
        w.tensor("t", &[64], 0, 0).pad(32);
        w.0.extend([0u8; 100]);
        assert_eq!(codes(&parse(&w.0, "m.gguf")), ["F103"]);
    }

    #[test]
    fn duplicate_metadata_keys_and_unpacked_data_are_errors_as_in_ggml() {
        let mut w = Writer::new(3, 2, 2);
        w.string("k").u32(4).u32(1).string("k").u32(4).u32(2);
        // 8 f32 = 32 bytes, so "b" belongs at 32; at 64 it leaves a gap.
        w.tensor("a", &[8], 0, 0).tensor("b", &[8], 0, 64).pad(32);
        w.0.extend([0u8; 96]);
        let p = parse(&w.0, "m.gguf");
        let mut c: Vec<(&str, Severity)> = p.findings.iter().map(|f| (f.code(), f.severity)).collect();
        c.sort_by_key(|x| x.0);
        assert_eq!(c, [("F107", Severity::Error), ("F122", Severity::Error)]);
        assert_eq!(p.findings[1].evidence["expected_offset"], 32);
        // Padding counts: a 4-byte tensor still moves the next one by the alignment.
        let mut w = Writer::new(3, 2, 0);
        w.tensor("a", &[1], 0, 0).tensor("b", &[1], 0, 32).pad(32);
        w.0.extend([0u8; 36]);
        assert!(parse(&w.0, "m.gguf").findings.is_empty());
    }

    #[test]
    fn duplicate_names_and_ragged_blocks_are_findings() {
        let mut w = Writer::new(3, 3, 0);
        w.tensor("a", &[8], 0, 0).tensor("a", &[8], 0, 32).tensor("q", &[40], 8, 64).pad(32);
        w.0.extend([0u8; 200]);
        let p = parse(&w.0, "m.gguf");
        let mut c = codes(&p);
        c.sort();
        assert_eq!(c, ["F105", "F107"]);
    }
}
