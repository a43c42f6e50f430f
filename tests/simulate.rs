//! `nanscope weights --simulate` end to end, on the committed fixtures and on
//! small files written by the tests.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const UNET: &str = "fixtures/simulate/outlier_unet.safetensors";
const OUTLIER: &str = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k";

fn run(args: &[&str]) -> (i32, Value) {
    let out = Command::cargo_bin("nanscope").unwrap().args(args).args(["--format", "json"]).output().unwrap();
    let code = out.status.code().unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("exit {code}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (code, json)
}

/// Writes a safetensors file of F32 tensors.
fn write_safetensors(path: &Path, tensors: &[(&str, &[u64], &[f32])]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

#[test]
fn outlier_tensor_ranks_first_and_is_excluded_under_per_tensor_int8() {
    let (code, report) = run(&["weights", "--simulate", "int8", UNET]);
    assert_eq!(code, 0, "warnings only under the default --fail-on error");
    let sim = &report["simulation"];
    assert_eq!(sim["scheme"], "int8");
    let first = &sim["tensors"][0];
    assert_eq!(first["tensor"], format!("{OUTLIER}.weight"));
    assert!(first["sqnr_db"].as_f64().unwrap() > 40.0, "{first}");
    assert!(first["worst_channel_sqnr_db"].as_f64().unwrap() < 1.0, "{first}");
    assert!(first["zeroed_share"].as_f64().unwrap() > 0.99);
    let exclude: Vec<&str> = report["exclude"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(exclude[0], OUTLIER);
    assert!(exclude.contains(&"conv_in") && exclude.contains(&"time_embedding.linear_1"), "{exclude:?}");
    assert!(!exclude.iter().any(|m| m.ends_with("to_q") || m.ends_with("to_v")), "{exclude:?}");
    assert!(sim["exclude_python"].as_str().unwrap().starts_with(&format!("[\"{OUTLIER}\"")));
    let low = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "Q201").unwrap();
    assert_eq!(low["subject"]["tensor"], format!("{OUTLIER}.weight"));
    assert!(low["subject"]["block"].is_u64());
    assert!(codes(&report).contains(&"Q202".to_string()));
    // 1-D tensors are not eligible for integer schemes.
    assert_eq!(sim["skipped"], 2);
    let ranked: Vec<f64> = sim["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["worst_channel_sqnr_db"].as_f64().unwrap_or(f64::INFINITY))
        .collect();
    assert!(ranked.windows(2).all(|w| w[0] <= w[1]), "{ranked:?}");
}

#[test]
fn per_channel_int8_keeps_other_rows_and_only_advises_on_diffusion_layers() {
    let (code, report) = run(&["weights", "--simulate", "int8-channel", UNET]);
    assert_eq!(code, 0);
    assert!(!codes(&report).iter().any(|c| c == "Q201" || c == "Q202"), "{:?}", codes(&report));
    let exclude = report["exclude"].as_array().unwrap();
    assert_eq!(exclude.len(), 2, "{exclude:?}");
}

#[test]
fn table_output_prints_the_exclude_list_as_json_and_python() {
    let out = Command::cargo_bin("nanscope").unwrap().args(["weights", "--simulate", "int8", UNET]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("JSON:   [\"{OUTLIER}\"")), "{text}");
    assert!(text.contains(&format!("modules_to_not_convert = [\"{OUTLIER}\", ")), "{text}");
}

#[test]
fn fp16_overflow_is_an_error_and_fp8_flags_the_unscaled_cast() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vae.safetensors");
    let mut w = vec![0.5f32; 16];
    w[3] = 70000.0;
    let mut big = vec![0.1f32; 16];
    big[0] = 900.0;
    write_safetensors(&path, &[("decoder.conv.weight", &[4, 4], &w), ("decoder.big.weight", &[4, 4], &big)]);
    let p = path.to_str().unwrap();
    let (code, report) = run(&["weights", "--simulate", "fp16", p]);
    assert_eq!(code, 1);
    assert_eq!(report["simulation"]["tensors"][0]["tensor"], "decoder.conv.weight");
    assert_eq!(report["simulation"]["tensors"][0]["overflow"], 1);
    assert!(codes(&report).contains(&"Q204".to_string()));
    let (_, report) = run(&["weights", "--simulate", "fp8-e4m3", p]);
    let q205: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "Q205").collect();
    assert_eq!(q205.len(), 2, "{report}");
}

#[test]
fn unreadable_inputs_are_findings_not_failures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.safetensors"), [0xFFu8; 40]).unwrap();
    write_safetensors(&dir.path().join("ok.safetensors"), &[("w.weight", &[2, 2], &[1.0, -1.0, 0.5, 0.25])]);
    let (code, report) = run(&["weights", "--simulate", "int4-g128", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(codes(&report).iter().any(|c| c.starts_with('F')), "{:?}", codes(&report));
    assert_eq!(report["simulation"]["tensors"][0]["tensor"], "w.weight");
    // A path that does not exist is a usage error, as in every command.
    Command::cargo_bin("nanscope")
        .unwrap()
        .args(["weights", "--simulate", "int8", "does/not/exist.safetensors"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does/not/exist.safetensors: no such file or directory"));
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["weights", "--simulate", "int3", UNET][..],
        &["weights", "--simulate", "int8", "--max-zeroed-share", "2", UNET],
        &["weights", "--min-sqnr", "10", UNET],
    ] {
        Command::cargo_bin("nanscope").unwrap().args(args).assert().code(2);
    }
}

#[test]
fn pieces_of_an_already_quantized_weight_are_not_simulated() {
    let (code, report) = run(&["weights", "--simulate", "int8", "fixtures/quant/ct_int8/clean.safetensors"]);
    assert_eq!(code, 0);
    assert_eq!(report["simulation"]["tensors"].as_array().unwrap().len(), 0, "the F32 scale is not a weight");
    assert_eq!(report["simulation"]["skipped"], 2);
}

/// Issue: a tensor holding NaN reported a finite SQNR (48 dB) and exit 0.
#[test]
fn nonfinite_inputs_are_findings_not_a_finite_sqnr() {
    let (code, report) = run(&["weights", "--simulate", "int8", "fixtures/simulate/nonfinite.safetensors"]);
    assert_eq!(code, 1);
    let tensors = report["simulation"]["tensors"].as_array().unwrap();
    for name in ["nan.weight", "inf.weight"] {
        let t = tensors.iter().find(|t| t["tensor"] == name).unwrap();
        assert!(t["sqnr_db"].is_null() && t["worst_channel_sqnr_db"].is_null(), "{t:#}");
        assert_eq!((t["nonfinite_input"].as_u64(), t["lost"].as_u64()), (Some(1), Some(1023)));
        let f: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "Q207" && f["subject"]["tensor"] == name)
            .collect();
        assert_eq!(f.len(), 1, "{:#}", report["findings"]);
        assert_eq!((f[0]["severity"].as_str(), f[0]["evidence"]["lost"].as_u64()), (Some("error"), Some(1023)));
    }
    let clean = tensors.iter().find(|t| t["tensor"] == "clean.weight").unwrap();
    assert!(clean["sqnr_db"].as_f64().unwrap() > 30.0);
    // Per channel only the row holding the NaN is lost.
    let (code, report) = run(&["weights", "--simulate", "int8-channel", "fixtures/simulate/nonfinite.safetensors"]);
    assert_eq!(code, 1);
    let nan = report["simulation"]["tensors"].as_array().unwrap().iter().find(|t| t["tensor"] == "nan.weight").unwrap();
    assert_eq!(nan["lost"], 63);
    assert!(nan["sqnr_db"].as_f64().is_some());
}
