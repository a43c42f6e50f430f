//! `nanscope weights` on quantized fixtures (fixtures/make_quant.py): every
//! planted hazard is reported at its tensor and block, clean files pass.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::quant::{finding, findings, record};
use serde_json::{Value, json};

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/quant").join(name)
}

/// Runs `weights --format json` on a fixture and returns the report and exit code.
fn scan(name: &str) -> (Value, i32) {
    common::quant::scan(&fixture(name), &[])
}

fn assert_clean(name: &str) {
    let (report, code) = scan(name);
    let serious: Vec<&Value> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["severity"] != "info").collect();
    assert!(serious.is_empty(), "{name}: {serious:#?}");
    assert_eq!(code, 0, "{name}");
    for t in report["tensors"].as_array().unwrap() {
        if t["quant"]["role"] == "weight" {
            assert_eq!(t["stats"]["nan"], 0, "{name}: {}", t["name"]);
            assert!(t["stats"]["count"].as_u64().unwrap() > 0);
        }
    }
}

#[test]
fn clean_files_of_every_scheme_pass() {
    for name in [
        "gguf_clean.gguf",
        "bnb/clean.safetensors",
        "ct_int8/clean.safetensors",
        "ct_pack/clean.safetensors",
        "ct_nvfp4/clean.safetensors",
        "fp8/clean.safetensors",
        "quanto/clean.safetensors",
        "gptq/clean.safetensors",
        "awq/clean.safetensors",
    ] {
        assert_clean(name);
    }
}

#[test]
fn gguf_records_carry_the_scheme_and_logical_shape() {
    let (report, _) = scan("gguf_clean.gguf");
    let q4k = record(&report, "blk.q4_k.weight");
    assert_eq!(q4k["shape"], json!([2, 256]));
    assert_eq!(q4k["quant"]["scheme"], "gguf");
    assert_eq!(q4k["quant"]["format"], "Q4_K");
    assert_eq!(q4k["quant"]["bits"], 4);
    assert_eq!(q4k["quant"]["group_size"], 256);
    assert_eq!(record(&report, "norm.weight")["dtype"], "F32");
    assert!(record(&report, "norm.weight").get("quant").is_none());
}

#[test]
fn gguf_block_scale_hazards_name_their_block() {
    let (report, code) = scan("gguf_hazards.gguf");
    assert_eq!(code, 1);
    assert_eq!(finding(&report, "Q102", "blk.zero_scale.weight")["subject"]["block"], 5);
    assert_eq!(finding(&report, "Q103", "blk.zero_scale.weight")["subject"]["block"], 1);
    assert_eq!(finding(&report, "Q101", "blk.nan_scale.weight")["subject"]["block"], 3);
    assert_eq!(finding(&report, "Q106", "blk.clipped.weight")["subject"]["block"], 2);
    assert!(findings(&report, "Q106", "blk.zero_scale.weight").is_empty());
    assert_eq!(finding(&report, "W101", "blk.nan_scale.weight")["subject"]["index"], json!([1, 32]));
    assert_eq!(finding(&report, "W102", "blk.overflow.weight")["evidence"]["target_dtype"], "F16");
    let iq = finding(&report, "F106", "blk.iq4.weight");
    assert_eq!(iq["severity"], "info");
    let iq4 = record(&report, "blk.iq4.weight");
    assert!(iq4["stats"].is_null());
    assert_eq!((iq4["shape"].clone(), iq4["quant"]["format"].clone()), (json!([2, 64]), json!("IQ4_NL")));
}

#[test]
fn malformed_gguf_files_are_findings_with_offsets() {
    let (report, code) = scan("gguf_misaligned.gguf");
    assert_eq!(code, 1);
    assert_eq!(finding(&report, "F121", "shifted")["evidence"]["data_offset"], 36);
    assert_eq!(record(&report, "good")["stats"]["max"], 7.0);

    let (report, _) = scan("gguf_unknown_type.gguf");
    let odd = finding(&report, "F106", "odd");
    // ggml defines no type 99 and refuses the file.
    assert_eq!((odd["severity"].as_str(), odd["evidence"]["type_id"].as_u64()), (Some("error"), Some(99)));
    assert_eq!(record(&report, "good")["stats"]["count"], 8);

    let (report, code) = scan("gguf_bigendian.gguf");
    assert_eq!(code, 1);
    let swapped: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "F120").collect();
    assert_eq!((swapped.len(), swapped[0]["evidence"]["offset"].as_u64()), (1, Some(4)));

    let (report, code) = scan("gguf_truncated.gguf");
    assert_eq!(code, 1);
    let truncated = finding(&report, "F103", "conv.f16");
    assert!(truncated["evidence"]["offset"].as_u64().unwrap() > 0);
    assert_eq!(record(&report, "blk.q8_0.weight")["quant"]["format"], "Q8_0");
}

#[test]
fn bitsandbytes_hazards() {
    let (report, _) = scan("bnb/hazards.safetensors");
    assert_eq!(finding(&report, "Q101", "lin8.weight")["subject"]["block"], 3);
    assert_eq!(finding(&report, "W101", "lin8.weight")["subject"]["index"], json!([3, 0]));
    assert_eq!(finding(&report, "Q112", "fp4.weight")["subject"]["block"], 5);
    // The scale piece is listed, but judged only by the Q rules.
    assert_eq!(record(&report, "lin8.SCB")["quant"]["role"], "scale");
    assert!(findings(&report, "W101", "lin8.SCB").is_empty());
}

#[test]
fn compressed_tensors_hazards() {
    let (report, _) = scan("ct_int8/hazards.safetensors");
    assert_eq!(finding(&report, "Q101", "fc.weight")["subject"]["block"], 4);
    assert_eq!(finding(&report, "Q109", "lost.weight")["evidence"]["missing"], "scale");
    let clipped = finding(&report, "Q106", "clipped.weight");
    assert_eq!(clipped["subject"]["block"], 0);
    assert!(clipped["evidence"]["share"].as_f64().unwrap() > 0.3);
    assert_eq!(finding(&report, "Q107", "outlier.weight")["subject"]["block"], 9);
    assert!(findings(&report, "Q106", "fc.weight").is_empty());

    let (report, _) = scan("ct_pack/hazards.safetensors");
    assert_eq!(finding(&report, "Q105", "zp.weight")["subject"]["block"], json!([2, 1]));
    assert_eq!(finding(&report, "Q105", "zp.weight")["evidence"]["value"], 9.0);
    finding(&report, "Q108", "size.weight");
    assert!(record(&report, "size.weight_packed")["stats"].is_null());

    let (report, _) = scan("ct_nvfp4/hazards.safetensors");
    assert_eq!(finding(&report, "Q102", "mlp.weight")["subject"]["block"], json!([1, 2]));
}

#[test]
fn fp8_hazards() {
    let (report, _) = scan("fp8/hazards.safetensors");
    assert_eq!(finding(&report, "Q110", "tensor.weight")["subject"]["index"], json!([2, 5]));
    assert_eq!(finding(&report, "Q111", "e5.weight")["subject"]["index"], json!([7, 1]));
    assert_eq!(finding(&report, "Q101", "block.weight")["subject"]["block"], json!([1, 2]));
    finding(&report, "Q109", "noscale.weight");
    let (report, _) = scan("fp8/clean.safetensors");
    assert_eq!(record(&report, "block.weight")["quant"]["block_size"], json!([16, 16]));
    assert_eq!(record(&report, "tensor.weight")["quant"]["granularity"], "tensor");
}

#[test]
fn quanto_hazards() {
    let (report, _) = scan("quanto/hazards.safetensors");
    assert_eq!(finding(&report, "Q102", "lin.weight")["subject"]["block"], 6);
    finding(&report, "Q109", "orphan.weight");
}

#[test]
fn gptq_hazards_and_ambiguity() {
    let (report, _) = scan("gptq/hazards.safetensors");
    assert_eq!(finding(&report, "Q101", "attn.q_proj.weight")["subject"]["block"], json!([1, 3]));
    assert_eq!(finding(&report, "Q113", "attn.k_proj.weight")["subject"]["block"], 40);
    assert_eq!(finding(&report, "Q109", "attn.v_proj.weight")["evidence"]["missing"], "scales");
    assert_eq!(record(&report, "attn.q_proj.qzeros")["quant"]["role"], "zero_point");
    assert_eq!(record(&report, "attn.q_proj.weight")["quant"]["format"], "int4-v1");

    let (report, _) = scan("gptq_bare.safetensors");
    assert_eq!(finding(&report, "Q114", "mlp.up_proj.weight")["severity"], "info");
    let (report, _) = scan("gptq/clean.safetensors");
    assert!(findings(&report, "Q114", "attn.q_proj.weight").is_empty());
}

/// Scans a fixture copied into a fresh folder with `config` (or none) beside it.
fn scan_with_config(name: &str, config: Option<(&str, &str)>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::copy(fixture(name), &path).unwrap();
    if let Some((file, text)) = config {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let out = Command::cargo_bin("nanscope")
        .unwrap()
        .args(["weights", "--format", "json", "--no-progress"])
        .arg(&path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn awq_is_told_from_gptq_by_shapes_without_a_config() {
    let report = scan_with_config("awq/clean.safetensors", None);
    let weight = record(&report, "mlp.down_proj.weight");
    assert_eq!(weight["quant"]["scheme"], "awq");
    assert_eq!(weight["shape"], json!([16, 64]));
    let with_config = scan_with_config("awq/clean.safetensors", Some(("config.json", "{}")));
    assert_eq!(record(&with_config, "mlp.down_proj.weight")["stats"], weight["stats"]);
}

#[test]
fn gptq_v2_config_changes_the_zero_convention() {
    let v1 =
        scan_with_config("gptq/clean.safetensors", Some(("quantize_config.json", r#"{"bits": 4, "group_size": 16}"#)));
    let v2 = scan_with_config(
        "gptq/clean.safetensors",
        Some(("quantize_config.json", r#"{"bits": 4, "group_size": 16, "checkpoint_format": "gptq_v2"}"#)),
    );
    let (a, b) = (record(&v1, "attn.q_proj.weight"), record(&v2, "attn.q_proj.weight"));
    assert_eq!((a["quant"]["format"].as_str(), b["quant"]["format"].as_str()), (Some("int4-v1"), Some("int4-v2")));
    // v2 drops the +1 on stored zeros: every weight moves up by one scale step.
    assert!(b["stats"]["mean"].as_f64().unwrap() > a["stats"]["mean"].as_f64().unwrap());
    let marlin = scan_with_config(
        "gptq/clean.safetensors",
        Some(("quantize_config.json", r#"{"bits": 4, "checkpoint_format": "marlin"}"#)),
    );
    assert_eq!(finding(&marlin, "Q116", "attn.q_proj.weight")["severity"], "info");
}
