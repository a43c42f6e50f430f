//! `nanscope diff A B` end to end on the committed fixtures.

use common::cli::{nanscope, report};
use serde_json::Value;

mod common;

const A: &str = "fixtures/diff/reference.safetensors";
const B: &str = "fixtures/diff/converted.safetensors";
const SPLIT: &str = "fixtures/diff/split";
const PREFIX: &str = "model.diffusion_model.";

fn run(args: &[&str]) -> (i32, Value) {
    let (code, report) = report(&[&["diff"], args].concat());
    (code.unwrap(), report)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn pair<'a>(report: &'a Value, tensor: &str) -> &'a Value {
    report["pairs"].as_array().unwrap().iter().find(|p| p["tensor"] == tensor).unwrap_or_else(|| panic!("{tensor}"))
}

fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == code).collect()
}

/// Checks everything the fixtures plant, whatever form side B takes.
fn assert_planted_differences(report: &Value) {
    assert_eq!(strings(&report["missing_in_b"]), ["missing.weight"]);
    assert_eq!(strings(&report["extra_in_b"]), ["extra.weight"]);
    assert_eq!(report["shape_mismatch"][0]["tensor"], "shape.weight");
    assert_eq!(report["shape_mismatch"][0]["shape_b"], serde_json::json!([4, 5]));
    assert_eq!(report["dtype_mismatch"][0]["dtype_b"], "F16");
    assert_eq!(report["pairs"].as_array().unwrap().len(), 6);

    let dtype = pair(report, "dtype.weight");
    assert_eq!((dtype["within_tolerance"].as_bool(), dtype["max_abs_diff"].as_f64()), (Some(true), Some(0.0)));
    let rounded = pair(report, "rounded.weight");
    assert_eq!(rounded["within_tolerance"], true);
    assert!(rounded["sqnr_db"].as_f64().unwrap() > 60.0, "{rounded}");
    let drift = pair(report, "drift.weight");
    assert_eq!(drift["within_tolerance"], false);
    let sqnr = drift["sqnr_db"].as_f64().unwrap();
    assert!((5.0..30.0).contains(&sqnr), "{drift}");
    assert!(drift["cosine"].as_f64().unwrap() < 0.999);
    let nan = pair(report, "nan.weight");
    assert_eq!((nan["nonfinite_only_b"].as_u64(), nan["nonfinite_only_a"].as_u64()), (Some(1), Some(0)));

    assert_eq!(findings(report, "D101")[0]["subject"]["tensor"], "missing.weight");
    assert_eq!(findings(report, "D102").len(), 1);
    assert_eq!(findings(report, "D103").len(), 1);
    assert_eq!(findings(report, "D104").len(), 1);
    assert_eq!(findings(report, "D105").len(), 1);
    assert_eq!(findings(report, "D106")[0]["subject"]["index"], serde_json::json!([1, 2]));
    assert_eq!(report["summary"]["missing_in_b"], 1);
}

#[test]
fn stripped_prefix_reveals_every_planted_difference() {
    let (code, report) = run(&[A, B, "--strip-prefix", PREFIX]);
    assert_eq!(code, 1);
    assert_eq!(report["command"], "diff");
    assert_planted_differences(&report);
    assert_eq!(pair(&report, "drift.weight")["tensor_b"], format!("{PREFIX}drift.weight"));
}

#[test]
fn a_directory_side_is_the_union_of_its_files() {
    let (code, report) = run(&[A, SPLIT]);
    assert_eq!(code, 1);
    assert_planted_differences(&report);
    assert_eq!(report["files"]["b"].as_array().unwrap().len(), 2);
}

#[test]
fn without_alignment_the_prefix_makes_every_key_differ() {
    let (_, report) = run(&[A, B]);
    assert_eq!(report["pairs"].as_array().unwrap().len(), 0);
    assert_eq!(report["missing_in_b"].as_array().unwrap().len(), 8);
    assert_eq!(report["extra_in_b"].as_array().unwrap().len(), 8);
}

#[test]
fn added_prefix_aligns_the_other_way_and_identical_sides_are_clean() {
    let (code, report) = run(&[B, SPLIT, "--add-prefix", PREFIX]);
    assert_eq!(code, 0, "{}", report["findings"]);
    assert_eq!(report["pairs"].as_array().unwrap().len(), 8);
    assert!(report["pairs"].as_array().unwrap().iter().all(|p| p["within_tolerance"] == true));
    assert!(report["findings"].as_array().unwrap().is_empty());
}

#[test]
fn tolerance_decides_what_counts_as_drift() {
    let (_, report) = run(&[A, B, "--strip-prefix", PREFIX, "--rtol", "0", "--atol", "0"]);
    assert_eq!(pair(&report, "rounded.weight")["within_tolerance"], false);
    let (_, report) = run(&[A, B, "--strip-prefix", PREFIX, "--atol", "0.1"]);
    assert_eq!(pair(&report, "drift.weight")["within_tolerance"], true);
}

#[test]
fn a_prefix_that_matches_nothing_is_reported() {
    let (_, report) = run(&[A, B, "--strip-prefix", "unet."]);
    assert_eq!(findings(&report, "D109").len(), 1);
}

#[test]
fn an_unreadable_side_is_a_finding_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.safetensors");
    std::fs::write(&broken, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": tr").unwrap();
    let b = broken.to_str().unwrap();
    let (code, report) = run(&[A, b]);
    assert_eq!(code, 1, "{b}");
    assert_eq!(findings(&report, "D107").len(), 1, "{b}: {}", report["findings"]);
    assert!(report["findings"].as_array().unwrap().iter().any(|f| f["code"].as_str().unwrap().starts_with('F')));
    assert!(findings(&report, "D101").is_empty());
    let (code, _) = run(&[broken.to_str().unwrap(), A]);
    assert_eq!(code, 1);
}

/// A side that does not exist is a usage error (exit 2), as in every command.
#[test]
fn a_missing_side_is_exit_2() {
    nanscope()
        .args(["diff", A, "does/not/exist.safetensors"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does/not/exist.safetensors: no such file or directory"));
}

#[test]
fn bad_tolerances_exit_2() {
    nanscope().args(["diff", A, B, "--rtol", "-1"]).assert().code(2);
    nanscope().args(["diff", A]).assert().code(2);
}

#[test]
fn a_name_in_two_files_of_a_directory_is_reported_once_per_copy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(A, dir.path().join("a.safetensors")).unwrap();
    std::fs::copy(A, dir.path().join("b.safetensors")).unwrap();
    let (code, report) = run(&[A, dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(findings(&report, "D108").len(), 8);
    assert!(
        report["pairs"].as_array().unwrap().iter().all(|p| p["file_b"].as_str().unwrap().ends_with("a.safetensors"))
    );
}

/// A quantized side is one logical tensor per weight (its scale is not an
/// extra key) and is compared through its dequantized values.
#[test]
fn a_quantized_side_is_dequantized_and_drifts_only_where_planted() {
    let (code, report) =
        run(&["fixtures/diff/ct_int8_reference.safetensors", "fixtures/quant/ct_int8/clean.safetensors"]);
    assert_eq!(code, 0, "drift and dtype changes are warnings and info");
    assert!(report["extra_in_b"].as_array().unwrap().is_empty(), "{}", report["extra_in_b"]);
    let fc = pair(&report, "fc.weight");
    assert_eq!(fc["dtype_b"], "compressed-tensors int8");
    assert_eq!(fc["quant_b"]["granularity"], "channel");
    assert_eq!(fc["beyond_tolerance"], 32, "exactly the planted row");
    assert_eq!(fc["first_beyond_flat"], 96);
    assert_eq!(findings(&report, "D105")[0]["subject"]["index"], serde_json::json!([3, 0]));
}

const DAMAGE: &str = "fixtures/quant/damage";

/// Issue: `quantize_dynamic` biases appeared as
/// `X._packed_params._packed_params.1`, giving false missing/extra keys.
#[test]
fn quantize_dynamic_parameters_are_named_like_weights_names_them() {
    let float = format!("{DAMAGE}/dynamic_convlinear_float.pt");
    let (code, report) = run(&[&float, &format!("{DAMAGE}/dynamic_convlinear.pt")]);
    assert!(strings(&report["missing_in_b"]).is_empty(), "{:#}", report["missing_in_b"]);
    assert!(strings(&report["extra_in_b"]).is_empty(), "{:#}", report["extra_in_b"]);
    assert_eq!(report["pairs"].as_array().unwrap().len(), 6);
    let bias = pair(&report, "3.bias");
    assert_eq!((bias["within_tolerance"].as_bool(), bias.get("tensor_b")), (Some(true), None));
    assert_eq!(pair(&report, "3.weight")["quant_b"]["scheme"], "torch-dynamic");
    // Ordinary int8 rounding (about 48 dB) is drift, a warning.
    assert!(pair(&report, "3.weight")["sqnr_db"].as_f64().unwrap() > 40.0);
    assert_eq!(findings(&report, "D105").len(), 2);
    assert!(findings(&report, "D110").is_empty());
    assert_eq!(code, 0);
}

/// Issue: a tensor with cosine 0.02 / SQNR -44 dB was a warning like 48 dB rounding.
#[test]
fn damage_is_an_error_and_its_thresholds_can_be_moved() {
    let float = format!("{DAMAGE}/dynamic_convlinear_float.pt");
    let damaged = format!("{DAMAGE}/dynamic_convlinear_damaged.pt");
    let (code, report) = run(&[&float, &damaged]);
    assert_eq!(code, 1);
    let d110 = findings(&report, "D110");
    assert_eq!(d110.len(), 1, "{:#}", report["findings"]);
    assert_eq!((&d110[0]["severity"], &d110[0]["subject"]["tensor"]), (&"error".into(), &"3.weight".into()));
    assert!(d110[0]["evidence"]["sqnr_db"].as_f64().unwrap() < -40.0);
    assert!(d110[0]["evidence"]["cosine"].as_f64().unwrap().abs() < 0.05);
    // The other Linear's rounding stays a D105 warning.
    assert_eq!(findings(&report, "D105").len(), 1);
    let (code, report) = run(&[&float, &damaged, "--error-sqnr=-50", "--error-cosine=-1"]);
    assert_eq!((code, findings(&report, "D110").len(), findings(&report, "D105").len()), (0, 0, 2));
}
