//! The report contract, pinned: one JSON snapshot per command (and so per
//! section), made by the library functions of `nanscope::commands` on the
//! committed fixtures. A change to a field name, a section or a finding's
//! shape shows up in review as a snapshot diff.
//!
//! Volatile values are redacted: the tool version, and paths under the
//! target directory. Floats are rounded to 6 significant digits so that the
//! snapshots hold across platforms. Video reports depend on the installed
//! FFmpeg (stream metadata, encoder output), so their snapshots pin the
//! shape of the document (every key and the type of its value) and the
//! finding codes, not the values.

mod video_support;

use std::path::{Path, PathBuf};

use nanscope::commands::{self, CommandError, QuantScheme, Silent};
use nanscope::report::Report;
use serde_json::{Map, Value};

/// The JSON document of a report with the volatile values redacted.
fn document(report: &Report) -> Value {
    let mut doc = report.to_json("[version]");
    stabilise(&mut doc);
    doc
}

fn stabilise(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or_default();
            *value = Value::from(round_significant(x, 6));
        }
        Value::String(s) => {
            let tmp = env!("CARGO_TARGET_TMPDIR");
            if s.contains(tmp) {
                *s = s.replace(tmp, "[tmp]");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(stabilise),
        Value::Object(map) => map.values_mut().for_each(stabilise),
        _ => {}
    }
}

fn round_significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// The shape of a document: each value replaced by its type, each array by
/// the shape of its first element; finding codes are kept.
fn shape(value: &Value) -> Value {
    match value {
        Value::Null => Value::from("null"),
        Value::Bool(_) => Value::from("bool"),
        Value::Number(_) => Value::from("number"),
        Value::String(_) => Value::from("string"),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                out.insert(key.clone(), shape(item));
            }
            Value::Object(out)
        }
    }
}

fn video_document(report: &Report) -> Value {
    let doc = report.to_json("[version]");
    let codes: Vec<Value> = doc["findings"].as_array().into_iter().flatten().map(|f| f["code"].clone()).collect();
    let mut shaped = shape(&doc);
    shaped["command"] = doc["command"].clone();
    shaped["finding_codes"] = Value::Array(codes);
    shaped
}

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(path)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("contract-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn weights() {
    let options = commands::WeightsOptions::new(vec![fixture("fixtures/weights/vae")]);
    let report = commands::weights(&options, &Silent).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

/// `merge` of two shards of a `weights` run (`--shard 1/2`, `--shard 2/2`).
#[test]
fn merge() {
    let dir = scratch("merge");
    let mut shards = Vec::new();
    for index in 1..=2 {
        let mut options = commands::WeightsOptions::new(vec![fixture("fixtures/weights/unet")]);
        options.shard = Some(format!("{index}/2").parse().unwrap());
        let report = commands::weights(&options, &Silent).unwrap();
        let path = dir.join(format!("shard{index}.json"));
        std::fs::write(&path, report.to_json("[version]").to_string()).unwrap();
        shards.push(path);
    }
    let report = commands::merge(&shards).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn weights_simulate() {
    let options = commands::SimulationOptions::new(
        vec![fixture("fixtures/simulate/outlier_unet.safetensors")],
        QuantScheme::Int8,
    );
    let report = commands::simulate(&options, &Silent).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn diff() {
    let options = commands::DiffOptions::new(
        fixture("fixtures/diff/reference.safetensors"),
        fixture("fixtures/diff/converted.safetensors"),
    );
    let report = commands::diff(&options, &Silent).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn pose_check() {
    let options = commands::PoseCheckOptions::new(vec![fixture("fixtures/pose/echomimic_faulty")]);
    let report = commands::pose_check(&options).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn pose_repair() {
    let out = scratch("pose-repair").join("repaired");
    let options = commands::PoseRepairOptions::new(vec![fixture("fixtures/pose/echomimic_faulty")], out);
    let report = commands::pose_repair(&options).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn pose_render() {
    let out = scratch("pose-render").join("sheet.png");
    let options = commands::PoseRenderOptions::new(vec![fixture("fixtures/pose/echomimic_clean")], out);
    let report = commands::pose_render(&options).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn pose_convert() {
    let out = scratch("pose-convert").join("openpose");
    let options = commands::PoseConvertOptions::new(
        vec![fixture("fixtures/pose/echomimic_clean")],
        commands::PoseFormat::OpenPose,
        out,
    );
    let report = commands::pose_convert(&options).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn trace() {
    let options = commands::TraceOptions::new(fixture("fixtures/trace/planted-stats"));
    let report = commands::trace(&options).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn replay() {
    let options = commands::ReplayOptions::new(fixture("fixtures/replay/demo.toml"));
    let report = commands::replay(&options).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn scheduler() {
    let options = commands::SchedulerOptions::new(fixture("fixtures/scheduler/echomimic_v2.config.json"));
    let report = commands::scheduler(&options).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn rules() {
    let report = commands::rules(&commands::RulesOptions::new(Some("W101".into()))).unwrap();
    insta::assert_json_snapshot!(document(&report));
}

#[test]
fn video_check() {
    if !video_support::ffmpeg_available("contract::video_check") {
        return;
    }
    let clip = video_support::fixtures("contract").join("black_segment.mp4");
    let report = commands::video_check(&commands::VideoCheckOptions::new(vec![clip])).unwrap();
    insta::assert_json_snapshot!(video_document(&report));
}

#[test]
fn video_repair() {
    if !video_support::ffmpeg_available("contract::video_repair") {
        return;
    }
    let clip = video_support::fixtures("contract").join("truncated_faststart.mp4");
    let out = scratch("video-repair").join("repaired.mp4");
    let repair = commands::RepairOptions::default();
    let report = commands::video_repair(&commands::VideoRepairOptions::new(clip, out, repair)).unwrap();
    insta::assert_json_snapshot!(video_document(&report));
}

#[test]
fn video_encode() {
    if !video_support::ffmpeg_available("contract::video_encode") {
        return;
    }
    let dir = scratch("video-encode");
    let input = dir.join("frames.npy");
    write_frames_npy(&input);
    let mut encode = commands::EncodeOptions::default();
    encode.layout = Some(commands::Layout::Fhwc);
    encode.range = Some(commands::EncodeRange::Unit);
    encode.fps = 8.0;
    let options = commands::VideoEncodeOptions::new(input, dir.join("out.mp4"), encode);
    let report = commands::video_encode(&options).unwrap();
    insta::assert_json_snapshot!(video_document(&report));
}

/// Three 16×16 RGB frames in [0, 1], the middle one NaN: (3, 16, 16, 3) f32.
fn write_frames_npy(path: &Path) {
    let (frames, side) = (3usize, 16usize);
    let mut values = Vec::new();
    for f in 0..frames {
        for i in 0..side * side * 3 {
            values.push(if f == 1 { f32::NAN } else { (i % 7) as f32 / 7.0 });
        }
    }
    let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({frames}, {side}, {side}, 3), }}");
    let mut header = header.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// The input policy, as the library reports it.
#[test]
fn a_missing_input_is_a_typed_error() {
    let options = commands::WeightsOptions::new(vec![fixture("fixtures/weights/absent.safetensors")]);
    let err = commands::weights(&options, &Silent).unwrap_err();
    assert!(matches!(err, CommandError::MissingInput { .. }), "{err:?}");
    assert_eq!(err.to_string(), "fixtures/weights/absent.safetensors: no such file or directory");
    let empty = scratch("empty-dir");
    let err = commands::weights(&commands::WeightsOptions::new(vec![empty]), &Silent).unwrap_err();
    assert!(matches!(err, CommandError::NothingToCheck { .. }), "{err:?}");
}
