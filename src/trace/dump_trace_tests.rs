//! Dumps written from Rust through the `Probe` trait, read back by the
//! streaming reader, and damaged in every way a dump folder can be.

use std::fs;

use half::f16;

use super::*;
use crate::formats::Checkpoint;
use crate::numerics::DType;
use crate::trace::{Context, DumpLevel, DumpWriter, HostTensor, Observation, Probe, RECORDS_FILE, WriterInfo};

fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect()
}

/// A three-module "run" over two steps: `b` overflows at step 1.
fn write_run(dir: &std::path::Path, level: DumpLevel) {
    let mut writer =
        DumpWriter::create(dir, level, WriterInfo { name: "test".into(), ..WriterInfo::default() }).unwrap();
    run_into(&mut writer);
}

fn run_into(writer: &mut impl Probe) {
    let shape = [2u64, 2];
    for step in 0..2u64 {
        let context = Context {
            stage: Some("unet".into()),
            step: Some(step),
            timestep: Some(900.0 - 100.0 * step as f64),
            frames: Some([0, 3]),
        };
        // 1e6 is beyond fp16's range and becomes +Inf.
        let peak: f32 = if step == 0 { 40000.0 } else { 1e6 };
        let tensors = [
            ("unet.a", vec![1.0, -2.0, 3.0, 0.5], false),
            ("unet.b", vec![1.0, peak, 2.0, 3.0], false),
            ("unet", vec![1.0, 2.0, 3.0, 4.0], true),
        ];
        let mut previous: Option<Vec<u8>> = None;
        for (module, values, boundary) in tensors {
            let bytes = f16_bytes(&values);
            let tensor = HostTensor { dtype: DType::F16, shape: &shape, bytes: &bytes };
            let inputs = previous
                .as_ref()
                .map(|p| vec![HostTensor { dtype: DType::F16, shape: &shape, bytes: p }.summary().unwrap()]);
            let payload = writer.wants_payload(boundary).then_some(tensor);
            writer
                .observe(Observation {
                    context: &context,
                    module,
                    output_name: None,
                    boundary,
                    output: tensor.summary().unwrap(),
                    inputs: Some(inputs.unwrap_or_default()),
                    payload,
                })
                .unwrap();
            previous = Some(bytes);
        }
    }
    writer.finish().unwrap();
}

fn codes(result: &TraceResult) -> Vec<String> {
    result.findings.iter().chain(&result.analysis.findings).map(|f| f.code().to_string()).collect()
}

#[test]
fn a_dump_written_through_the_probe_trait_is_traced_to_its_producer() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::Stages);
    let result = trace_dump(dir.path(), &TraceOptions::default());
    let manifest = result.manifest.as_ref().unwrap();
    assert!(manifest.complete);
    assert_eq!(manifest.record_count, Some(6));
    let producer = &result.analysis.findings[0];
    assert_eq!(producer.code(), "R120");
    assert_eq!(producer.subject.module.as_deref(), Some("unet.b"));
    assert_eq!(producer.subject.step, Some(1));
    assert_eq!(producer.subject.frames, Some([0, 3]));
    assert_eq!(producer.subject.index, Some(vec![0, 1]));
    // Step 0's 40000 in fp16 is 61% of the range: the warning that precedes the overflow.
    assert!(codes(&result).contains(&"R122".to_string()));
    assert_eq!(result.analysis.records.with_payload, 2);
    let payload = Checkpoint::open(&dir.path().join("tensors/00000002.safetensors"));
    assert!(payload.findings.is_empty(), "{:?}", payload.findings);
    assert_eq!(payload.tensors[0].shape, vec![2, 2]);
    assert_eq!(payload.storage(&payload.tensors[0]), f16_bytes(&[1.0, 2.0, 3.0, 4.0]).as_slice());
}

#[test]
fn the_analyzer_is_itself_a_probe_and_agrees_with_the_dump() {
    let mut analyzer = crate::trace::Analyzer::new(crate::trace::AnalysisOptions::default());
    run_into(&mut analyzer);
    let live = analyzer.finish();
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::Stats);
    let dumped = trace_dump(dir.path(), &TraceOptions::default()).analysis;
    assert_eq!(live.findings, dumped.findings);
    assert_eq!(live.stages, dumped.stages);
}

#[test]
fn statistics_missing_from_a_record_are_recomputed_from_its_payload() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::All);
    let path = dir.path().join(RECORDS_FILE);
    let stripped: Vec<String> = fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            value.as_object_mut().unwrap().remove("stats");
            value.to_string()
        })
        .collect();
    fs::write(&path, stripped.join("\n")).unwrap();
    let result = trace_dump(dir.path(), &TraceOptions::default());
    assert_eq!(result.recomputed, 6);
    assert_eq!(result.analysis.findings[0].subject.module.as_deref(), Some("unet.b"));
}

#[test]
fn a_writer_refuses_a_folder_that_already_holds_a_dump() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::Stats);
    assert!(DumpWriter::create(dir.path(), DumpLevel::Stats, WriterInfo::default()).is_err());
}

#[test]
fn a_missing_or_foreign_manifest_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(codes(&trace_dump(dir.path(), &TraceOptions::default())), ["F130"]);
    assert_eq!(codes(&trace_dump(&dir.path().join("nope"), &TraceOptions::default())), ["F130"]);
    for text in [
        "{not json",
        r#"{"format": "other", "format_version": 1, "records_file": "r"}"#,
        r#"{"format": "nanscope-dump", "format_version": 99, "records_file": "r"}"#,
        r#"{"format": "nanscope-dump", "format_version": 1, "records_file": "../../etc/passwd"}"#,
        r#"{"format": "nanscope-dump", "format_version": 1}"#,
    ] {
        fs::write(dir.path().join("manifest.json"), text).unwrap();
        assert_eq!(codes(&trace_dump(dir.path(), &TraceOptions::default())), ["F131"], "{text}");
    }
}

#[test]
fn broken_lines_are_reported_and_the_rest_is_still_analysed() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::Stats);
    let path = dir.path().join(RECORDS_FILE);
    let mut text = fs::read_to_string(&path).unwrap();
    text.insert_str(0, "{\"seq\": \"zero\"}\n\n[1, 2]\n");
    text.push_str(r#"{"seq": 99, "module": "x", "dtype": "F16", "shape": [1], "payload": {"file": "/etc/passwd", "tensor": "t"}}"#);
    text.push_str("\n{\"seq\": 100, \"modu");
    fs::write(&path, text).unwrap();
    let result = trace_dump(dir.path(), &TraceOptions::default());
    let bad: Vec<_> = result.findings.iter().filter(|f| f.code() == "F132").collect();
    assert_eq!(bad.len(), 4);
    assert_eq!(bad[0].evidence["line"], 1);
    assert_eq!(bad[1].evidence["line"], 3);
    assert_eq!(result.analysis.findings[0].subject.module.as_deref(), Some("unet.b"));
}

#[test]
fn payloads_that_are_missing_or_disagree_with_their_record_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::Stages);
    let path = dir.path().join(RECORDS_FILE);
    let text = fs::read_to_string(&path).unwrap();
    let text = text.replacen("\"shape\":[2,2],\"headroom\"", "\"shape\":[4],\"headroom\"", 3);
    fs::write(&path, text).unwrap();
    fs::remove_file(dir.path().join("tensors/00000005.safetensors")).unwrap();
    fs::write(
        dir.path().join("manifest.json"),
        fs::read_to_string(dir.path().join("manifest.json"))
            .unwrap()
            .replace("\"complete\": true", "\"complete\": false"),
    )
    .unwrap();
    let result = trace_dump(dir.path(), &TraceOptions::default());
    let found = codes(&result);
    assert!(found.contains(&"F134".to_string()), "{found:?}");
    assert!(found.contains(&"F133".to_string()), "{found:?}");
    assert!(found.contains(&"R126".to_string()), "{found:?}");
}

#[test]
fn inline_records_in_the_manifest_are_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = serde_json::json!({
        "format": "nanscope-dump", "format_version": 1, "complete": true,
        "records": [
            {"seq": 0, "module": "vae.decoder.conv_in", "dtype": "F32", "shape": [3],
             "stats": {"count": 3, "nan": 3, "pos_inf": 0, "neg_inf": 0}}
        ]
    });
    fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    let result = trace_dump(dir.path(), &TraceOptions::default());
    assert_eq!(result.analysis.findings[0].code(), "R121");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_record_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                              manifest in proptest::collection::vec(any::<u8>(), 0..128)) {
            let dir = tempfile::tempdir().unwrap();
            write_run(dir.path(), DumpLevel::Stats);
            let mut text = fs::read(dir.path().join(RECORDS_FILE)).unwrap();
            text.extend_from_slice(&bytes);
            fs::write(dir.path().join(RECORDS_FILE), text).unwrap();
            let _ = trace_dump(dir.path(), &TraceOptions::default());
            fs::write(dir.path().join("manifest.json"), manifest).unwrap();
            let _ = trace_dump(dir.path(), &TraceOptions::default());
        }
    }
}

#[test]
fn a_manifest_closed_by_an_error_quotes_it() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::Stats);
    let path = dir.path().join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    manifest["aborted"] = "RuntimeError: CUDA out of memory".into();
    fs::write(&path, manifest.to_string()).unwrap();
    let result = trace_dump(dir.path(), &TraceOptions::default());
    assert_eq!(result.findings[0].code(), "R126");
    assert!(result.findings[0].message.contains("CUDA out of memory"));
    assert_eq!(result.analysis.findings[0].subject.module.as_deref(), Some("unet.b"));
}

/// Issue #8: records out of file order are analysed in `seq` order, and the
/// disorder is a finding.
#[test]
fn records_out_of_order_are_sorted_by_seq_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::Stats);
    let path = dir.path().join(RECORDS_FILE);
    let text = fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    let result = trace_dump(dir.path(), &TraceOptions::default());
    let producer = &result.analysis.findings[0];
    assert_eq!(producer.code(), "R120");
    assert_eq!(producer.subject.module.as_deref(), Some("unet.b"));
    assert_eq!(producer.subject.step, Some(1));
    let broken: Vec<_> = result.findings.iter().filter(|f| f.code() == "F135").collect();
    assert_eq!(broken.len(), 1, "{:?}", codes(&result));
    assert_eq!(broken[0].evidence["out_of_order"], 5);
    assert_eq!(broken[0].evidence["duplicates"], 0);
    assert_eq!(broken[0].evidence["missing"], 0);
    let ordered = tempfile::tempdir().unwrap();
    write_run(ordered.path(), DumpLevel::Stats);
    let clean = trace_dump(ordered.path(), &TraceOptions::default());
    assert_eq!(clean.analysis.findings, result.analysis.findings);
    assert!(!codes(&clean).contains(&"F135".to_string()));
}

#[test]
fn duplicate_and_missing_seq_numbers_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), DumpLevel::Stats);
    let path = dir.path().join(RECORDS_FILE);
    let text = fs::read_to_string(&path).unwrap();
    let renumber = |line: &str, from: &str, to: &str| line.replacen(from, to, 1);
    // seq 1 becomes a second 0, and seq 4 is dropped.
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("{\"seq\":4,"))
        .map(|l| if l.starts_with("{\"seq\":1,") { renumber(l, "{\"seq\":1,", "{\"seq\":0,") } else { l.to_string() })
        .collect();
    assert_eq!(lines.len(), 5, "{text}");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    let result = trace_dump(dir.path(), &TraceOptions::default());
    let broken = result.findings.iter().find(|f| f.code() == "F135").expect("F135");
    assert_eq!(broken.evidence["out_of_order"], 0);
    assert_eq!(broken.evidence["duplicates"], 1);
    assert_eq!(broken.evidence["missing"], 2, "{}", broken.message);
}
