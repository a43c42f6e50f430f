//! Tests of the torch readers on archives and streams built here, byte by byte.

use std::io::Write;

use super::*;
use crate::formats::Storage;
use crate::formats::pickle::{Limits, unpickle};
use crate::numerics::{ByteOrder, DType, StridedView};

/// Protocol 2 bytes of `_rebuild_tensor_v2(storage(key, class, numel), offset, shape, stride, False, OrderedDict())`.
fn tensor(key: &str, class: &str, numel: u8, offset: u8, shape: &[u8], stride: &[u8]) -> Vec<u8> {
    let mut out = b"ctorch._utils\n_rebuild_tensor_v2\n((".to_vec();
    out.extend(b"X\x07\x00\x00\x00storage");
    out.extend(format!("ctorch\n{class}\n").as_bytes());
    out.push(b'X');
    out.extend((key.len() as u32).to_le_bytes());
    out.extend(key.as_bytes());
    out.extend(b"X\x03\x00\x00\x00cpuK");
    out.push(numel);
    out.extend(b"tQK");
    out.push(offset);
    for dims in [shape, stride] {
        out.push(b'(');
        for &d in dims {
            out.extend([b'K', d]);
        }
        out.push(b't');
    }
    out.extend(b"\x89ccollections\nOrderedDict\n)RtR");
    out
}

fn key(name: &str) -> Vec<u8> {
    let mut out = vec![b'X'];
    out.extend((name.len() as u32).to_le_bytes());
    out.extend(name.as_bytes());
    out
}

/// `{name: value, …}` with values given as pickle bytes.
fn dict(items: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"}(".to_vec();
    for (name, value) in items {
        out.extend(key(name));
        out.extend(value);
    }
    out.push(b'u');
    out
}

fn pickle(body: Vec<u8>) -> Vec<u8> {
    let mut out = b"\x80\x02".to_vec();
    out.extend(body);
    out.push(b'.');
    out
}

fn names(bytes: &[u8]) -> Vec<String> {
    let p = unpickle(bytes, 0, &Limits::default());
    walk(&p, p.root.clone().unwrap(), 100).tensors.into_iter().map(|(name, _)| name).collect()
}

#[test]
fn names_are_full_dotted_paths() {
    let t = || tensor("0", "FloatStorage", 4, 0, &[4], &[1]);
    let nested = dict(&[
        ("state_dict", dict(&[("conv_in.weight", t())])),
        ("epoch", b"K\x03".to_vec()),
        ("layers", [b"(".to_vec(), t(), t(), b"l".to_vec()].concat()),
    ]);
    assert_eq!(names(&pickle(nested)), vec!["state_dict.conv_in.weight", "layers.0", "layers.1"]);
    assert_eq!(names(&pickle(t())), vec![walk::ROOT_NAME]);
}

#[test]
fn parameters_unwrap_and_unknown_objects_are_read_through_their_state() {
    let param = [
        b"ctorch._utils\n_rebuild_parameter\n(".to_vec(),
        tensor("0", "HalfStorage", 4, 0, &[4], &[1]),
        b"\x88ccollections\nOrderedDict\n)Rt".to_vec(),
        b"R".to_vec(),
    ]
    .concat();
    let module = [
        b"c__main__\nNet\n)\x81".to_vec(),
        dict(&[("_parameters", dict(&[("weight", param.clone())]))]),
        b"b".to_vec(),
    ]
    .concat();
    let bytes = pickle(dict(&[("p", param), ("net", module)]));
    assert_eq!(names(&bytes), vec!["p", "net._parameters.weight"]);
}

#[test]
fn v3_qtensor_and_subclass_rebuilds() {
    let v3 = b"ctorch._utils\n_rebuild_tensor_v3\n((X\x07\x00\x00\x00storagectorch.storage\nUntypedStorage\nX\x01\x00\x00\x001X\x03\x00\x00\x00cpuK\x04tQK\x00K\x04\x85K\x01\x85\x89ccollections\nOrderedDict\n)Rctorch\nfloat8_e5m2\ntR";
    let p = unpickle(&pickle(v3.to_vec()), 0, &Limits::default()).root.is_ok();
    assert!(p);
    let bytes = pickle(v3.to_vec());
    let p = unpickle(&bytes, 0, &Limits::default());
    let found = walk(&p, p.root.clone().unwrap(), 10);
    let spec = &found.tensors[0].1;
    assert_eq!((spec.dtype, spec.storage.is_untyped(), spec.storage.numel), (DType::F8E5M2, true, 4));

    let q = b"ctorch._utils\n_rebuild_qtensor\n((X\x07\x00\x00\x00storagectorch\nQInt8Storage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00K\x02\x85K\x01\x85ctorch\nper_tensor_affine\nG?\xb9\x99\x99\x99\x99\x99\x9aK\x03\x87\x89ccollections\nOrderedDict\n)RtR";
    let bytes = pickle(q.to_vec());
    let p = unpickle(&bytes, 0, &Limits::default());
    let found = walk(&p, p.root.clone().unwrap(), 10);
    let spec = &found.tensors[0].1;
    assert_eq!(spec.dtype, DType::I8);
    let qparams = p.tuple(spec.quantization.as_ref().unwrap()).unwrap();
    assert!(p.global(&qparams[0]).unwrap().is("torch", "per_tensor_affine"));
    assert_eq!(qparams[1], crate::formats::pickle::Value::Float(0.1));
    // The quantizer's scale and zero point are listed as scalars beside the codes.
    assert_eq!(
        found.scalars,
        vec![
            ("<root>.q_scale".to_string(), rebuild::QParam::Float(0.1)),
            ("<root>.q_zero_point".to_string(), rebuild::QParam::Int(3))
        ]
    );
    // Parameters that do not fit their scheme are a problem; the codes are still read.
    let at = q.windows(17).position(|w| w == b"per_tensor_affine").unwrap();
    let odd = [&q[..at], &b"per_channel_affine"[..], &q[at + 17..]].concat();
    let bytes = pickle(odd);
    let p = unpickle(&bytes, 0, &Limits::default());
    let found = walk(&p, p.root.clone().unwrap(), 10);
    assert_eq!(found.tensors.len(), 1);
    assert!(found.scalars.is_empty());
    assert_eq!(found.problems[0].kind, walk::ProblemKind::Unsupported);
    assert!(found.problems[0].why.contains("per_channel_affine with 3 parameters"), "{:?}", found.problems);

    // A torchao-style subclass: its inner tensors are read from its state.
    let inner = tensor("0", "ByteStorage", 4, 0, &[4], &[1]);
    let sub = [
        b"ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_wrapper_subclass\nctorchao.quantization\nInt4Tensor\n)".to_vec(),
        dict(&[("qdata", inner)]),
        b"tR".to_vec(),
    ]
    .concat();
    let bytes = pickle(dict(&[("w", sub)]));
    assert_eq!(names(&bytes), vec!["w.qdata"]);
    let p = unpickle(&bytes, 0, &Limits::default());
    assert_eq!(p.alerts.len(), 1, "the subclass global is reported");
}

#[test]
fn malformed_rebuilds_are_problems_not_tensors() {
    let bad = b"ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x02tR".to_vec();
    let bytes = pickle(dict(&[("w", bad)]));
    let p = unpickle(&bytes, 0, &Limits::default());
    let found = walk(&p, p.root.clone().unwrap(), 10);
    assert!(found.tensors.is_empty());
    assert_eq!(found.problems[0].name, "w");
    assert_eq!(found.problems[0].kind, walk::ProblemKind::Malformed);
}

fn zip_archive(records: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = ::zip::ZipWriter::new(&mut buf);
    for (name, data, deflate) in records {
        let method = if *deflate { ::zip::CompressionMethod::Deflated } else { ::zip::CompressionMethod::Stored };
        let options = ::zip::write::SimpleFileOptions::default().compression_method(method);
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
    buf.into_inner()
}

#[test]
fn zip_reads_stored_in_place_and_deflated_copies() {
    let pkl = pickle(dict(&[("a", tensor("0", "FloatStorage", 4, 0, &[2, 2], &[1, 2]))]));
    let data: Vec<u8> = [1f32, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let stored = zip_archive(&[("m/data.pkl", &pkl, false), ("m/data/0", &data, false)]);
    let parsed = parse_zip(&stored, "m.pt");
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let entry = &parsed.tensors[0];
    assert!(matches!(entry.storage, Storage::Mapped { .. }));
    assert_eq!(entry.view, Some(StridedView { offset: 0, strides: vec![1, 2] }), "a transposed view");
    let deflated = zip_archive(&[("m/data.pkl", &pkl, true), ("m/data/0", &data, true)]);
    let parsed = parse_zip(&deflated, "m.pt");
    assert!(matches!(&parsed.tensors[0].storage, Storage::Owned(bytes) if bytes.as_slice() == data.as_slice()));
}

#[test]
fn zip_byteorder_and_short_storages() {
    let pkl = pickle(dict(&[("a", tensor("0", "HalfStorage", 2, 0, &[2], &[1]))]));
    let big = zip_archive(&[
        ("m/data.pkl", &pkl, false),
        ("m/byteorder", b"big", false),
        ("m/data/0", &[0x3c, 0, 0x40, 0], false),
    ]);
    assert_eq!(parse_zip(&big, "m.pt").tensors[0].order, ByteOrder::Big);
    let short = zip_archive(&[("m/data.pkl", &pkl, false), ("m/data/0", &[0x3c], false)]);
    let parsed = parse_zip(&short, "m.pt");
    assert!(parsed.tensors.is_empty());
    assert_eq!(parsed.findings[0].code(), "F105");
    assert_eq!(parsed.findings[0].evidence["entry"], "m/data/0");
    // A view that reads past its storage.
    let pkl = pickle(dict(&[("a", tensor("0", "HalfStorage", 2, 1, &[2], &[1]))]));
    let parsed = parse_zip(&zip_archive(&[("m/data.pkl", &pkl, false), ("m/data/0", &[0; 4], false)]), "m.pt");
    assert_eq!(parsed.findings[0].code(), "F105");
    assert_eq!(parsed.findings[0].subject.tensor.as_deref(), Some("a"));
    let parsed = parse_zip(&zip_archive(&[("m/other", b"x", false)]), "m.pt");
    assert_eq!(parsed.findings[0].code(), "F108");
}

/// A legacy stream: magic, 1001, sys_info, `main`, the key list, storages.
fn legacy(main: Vec<u8>, keys: &[&str], storages: &[(i64, &[u8])]) -> Vec<u8> {
    legacy_ordered(main, keys, storages, ByteOrder::Little)
}

fn legacy_ordered(main: Vec<u8>, keys: &[&str], storages: &[(i64, &[u8])], order: ByteOrder) -> Vec<u8> {
    let mut out = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.".to_vec();
    out.extend(b"\x80\x02M\xe9\x03.");
    let little = if order == ByteOrder::Little { b"\x88" } else { b"\x89" };
    out.extend(pickle(dict(&[("little_endian", little.to_vec())])));
    out.extend(pickle(main));
    let list: Vec<u8> = [b"(".to_vec(), keys.iter().flat_map(|k| key(k)).collect(), b"l".to_vec()].concat();
    out.extend(pickle(list));
    for (count, data) in storages {
        out.extend(if order == ByteOrder::Little { count.to_le_bytes() } else { count.to_be_bytes() });
        out.extend(*data);
    }
    out
}

#[test]
fn legacy_streams_and_their_storage_area() {
    let main = dict(&[("a", tensor("k", "FloatStorage", 2, 0, &[2], &[1]))]);
    let data: Vec<u8> = [1f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let bytes = legacy(main.clone(), &["k"], &[(2, &data)]);
    let parsed = parse_legacy(&bytes, "l.pt");
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let Storage::Mapped { start, len } = parsed.tensors[0].storage else { panic!() };
    assert_eq!(&bytes[start..start + len], data.as_slice());
    let parsed = parse_legacy(&legacy(main.clone(), &["k"], &[(-1, &data)]), "l.pt");
    assert_eq!(parsed.findings[0].code(), "F109");
    // Counts larger than the file, and a missing count.
    for storages in [&[(3i64, &data[..])][..], &[]] {
        let parsed = parse_legacy(&legacy(main.clone(), &["k"], storages), "l.pt");
        assert!(parsed.tensors.is_empty());
        assert_eq!(parsed.findings.len(), 1, "{:?}", parsed.findings);
        assert_eq!(parsed.findings[0].code(), "F103");
    }
    let parsed = parse_legacy(&legacy(main, &["other"], &[(2, &data)]), "l.pt");
    assert_eq!(parsed.findings[0].code(), "F109");
}

fn fixtures() -> [&'static [u8]; 3] {
    [
        include_bytes!("../../../fixtures/weights/torch/legacy_transposed.pt"),
        include_bytes!("../../../fixtures/weights/torch/malicious.pt"),
        include_bytes!("../../../fixtures/torch/quantized.pt"),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    /// Damaged checkpoints never panic, and every tensor they yield points
    /// inside the file.
    #[test]
    fn mutated_checkpoints_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>(), proptest::prelude::any::<bool>()), 1..6),
        cut in proptest::option::of(proptest::prelude::any::<usize>()),
    ) {
        let mut bytes = fixtures()[which].to_vec();
        for (at, byte, insert) in edits {
            let at = at % bytes.len();
            if insert { bytes.insert(at, byte) } else { bytes[at] = byte }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        let parsed = match crate::formats::detect(&bytes) {
            crate::formats::FileFormat::TorchLegacy => parse_legacy(&bytes, "fuzz"),
            _ => parse_zip(&bytes, "fuzz"),
        };
        for entry in &parsed.tensors {
            if let Storage::Mapped { start, len } = entry.storage {
                proptest::prop_assert!(start + len <= bytes.len());
            }
        }
    }
}

#[test]
fn a_parameter_under_two_names_is_listed_twice() {
    let param = [
        b"ctorch._utils\n_rebuild_parameter\n(".to_vec(),
        tensor("0", "FloatStorage", 4, 0, &[4], &[1]),
        b"\x88ccollections\nOrderedDict\n)RtRr\x63\x00\x00\x00".to_vec(),
    ]
    .concat();
    let bytes = pickle(dict(&[("encoder.embed", param), ("decoder.embed", b"j\x63\x00\x00\x00".to_vec())]));
    assert_eq!(names(&bytes), vec!["encoder.embed", "decoder.embed"]);
}

#[test]
fn legacy_storages_saved_without_a_tensor_are_skipped_by_their_class() {
    let storage =
        b"(X\x07\x00\x00\x00storagectorch\nDoubleStorage\nX\x01\x00\x00\x00sX\x03\x00\x00\x00cpuK\x01NtQ".to_vec();
    let main = dict(&[("s", storage), ("a", tensor("k", "FloatStorage", 1, 0, &[1], &[1]))]);
    let bytes = legacy(main, &["k", "s"], &[(1, &1f32.to_le_bytes()), (1, &2f64.to_le_bytes())]);
    let parsed = parse_legacy(&bytes, "l.pt");
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    assert_eq!(parsed.tensors.len(), 1);
}

#[test]
fn deeply_nested_subclass_rebuilds_end_in_a_problem() {
    // args_k = (_rebuild_from_type_v2, torch.Tensor, args_{k-1}, None), built
    // bottom-up through the memo so no MARKs stay open.
    let mut bytes =
        b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\nq\x00ctorch\nTensor\nq\x010)r\x02\x00\x00\x000".to_vec();
    let levels = 50_000u32;
    for k in 1..=levels {
        bytes.extend(b"(h\x00h\x01j");
        bytes.extend((k + 1).to_le_bytes());
        bytes.extend(b"Ntr");
        bytes.extend((k + 2).to_le_bytes());
        bytes.push(b'0');
    }
    bytes.extend(b"h\x00j");
    bytes.extend((levels + 2).to_le_bytes());
    bytes.extend(b"R.");
    let p = unpickle(&bytes, 0, &Limits::default());
    let found = walk(&p, p.root.clone().unwrap(), 100);
    assert!(found.tensors.is_empty());
    assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
}

#[test]
fn big_endian_legacy_files_read_counts_and_data_big_endian() {
    let main = dict(&[("a", tensor("k", "FloatStorage", 2, 0, &[2], &[1]))]);
    let data: Vec<u8> = [1f32, 2.0].iter().flat_map(|v| v.to_be_bytes()).collect();
    let parsed = parse_legacy(&legacy_ordered(main, &["k"], &[(2, &data)], ByteOrder::Big), "l.pt");
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    assert_eq!(parsed.tensors[0].order, ByteOrder::Big);
}
