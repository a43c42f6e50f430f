//! `nanscope config check` on the configurations under `fixtures/config/`
//! (written by `fixtures/make_configs.py`): each finding at its key, the
//! shipped-shaped configs clean, hostile YAML ending in findings.

use common::cli::{nanscope, report};
use serde::Deserialize;
use serde_json::Value;

mod common;

#[derive(Debug, Deserialize)]
struct Report {
    command: String,
    findings: Vec<Finding>,
    configs: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Finding {
    code: String,
    severity: String,
    message: String,
    subject: Value,
}

const PROMPTS: &str = "fixtures/config/echomimic/configs/prompts";

fn check(args: &[&str]) -> (Option<i32>, Report) {
    report(&[&["config", "check"], args].concat())
}

fn keyed(report: &Report) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.code.clone(), f.subject["key"].as_str().unwrap_or("").to_string(), f.severity.clone()))
        .collect();
    out.sort();
    out
}

fn t(code: &str, key: &str, severity: &str) -> (String, String, String) {
    (code.into(), key.into(), severity.into())
}

#[test]
fn the_shipped_shapes_are_clean() {
    let (code, report) = check(&[
        &format!("{PROMPTS}/infer.yaml"),
        &format!("{PROMPTS}/infer_acc.yaml"),
        "fixtures/config/echomimic/configs/inference/inference_v2.yaml",
    ]);
    // The shipped scheduler kwargs set steps_offset, a no-op with trailing spacing (R104, info).
    let codes: Vec<(&str, &str)> = report.findings.iter().map(|f| (f.code.as_str(), f.severity.as_str())).collect();
    assert_eq!(codes, vec![("R104", "info")]);
    assert_eq!(code, Some(0));
    assert_eq!(report.command, "config check");
    assert_eq!(report.configs[0]["variant"], "normal");
    assert_eq!(report.configs[1]["variant"], "acc");
    assert_eq!(report.configs[2]["kind"], "echomimic_inference");
}

#[test]
fn a_missing_motion_module_is_an_error() {
    let (code, report) = check(&[&format!("{PROMPTS}/missing_motion_module.yaml")]);
    assert_eq!(code, Some(1));
    assert_eq!(keyed(&report), vec![t("C103", "motion_module_path", "error")]);
    assert_eq!(report.findings[0].subject["line"], 7);
    let (_, report) = check(&[&format!("{PROMPTS}/no_motion_module.yaml")]);
    assert_eq!(keyed(&report), vec![t("C103", "motion_module_path", "error")]);
    assert!(report.findings[0].subject.get("line").is_none());
}

#[test]
fn missing_weights_are_resolved_against_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = check(&[&format!("{PROMPTS}/infer.yaml"), "--root", dir.path().to_str().unwrap()]);
    let found = keyed(&report);
    assert_eq!(found.iter().filter(|f| f.0 == "C102").count(), 7, "{found:?}");
    assert!(found.contains(&t("C103", "motion_module_path", "error")));
}

#[test]
fn weight_dtype_bf16_runs_float32() {
    let (_, report) = check(&[&format!("{PROMPTS}/bf16.yaml")]);
    assert_eq!(keyed(&report), vec![t("C104", "weight_dtype", "warning")]);
    assert!(report.findings[0].message.contains("float32"));
}

#[test]
fn steps_cfg_and_size_against_the_variant_and_poses() {
    let (_, report) = check(&[&format!("{PROMPTS}/acc_run.yaml")]);
    assert_eq!(keyed(&report), vec![t("C105", "cfg", "warning"), t("C107", "H", "error"), t("C108", "W", "error"),]);
    let (_, report) = check(&[&format!("{PROMPTS}/normal_few_steps.yaml")]);
    assert_eq!(keyed(&report), vec![t("C105", "cfg", "error"), t("C106", "steps", "warning")]);
    let (_, report) = check(&[&format!("{PROMPTS}/infer.yaml"), "--set", "steps=6", "--variant", "normal"]);
    assert_eq!(keyed(&report), vec![t("C106", "--set steps", "warning")]);
}

#[test]
fn context_windows_and_audio_timing() {
    let (_, report) = check(&[&format!("{PROMPTS}/windows.yaml")]);
    assert_eq!(keyed(&report), vec![t("C109", "context_overlap", "error"), t("C110", "sample_rate", "warning")]);
    assert!(report.findings.iter().any(|f| f.message.contains("zero windows")));
}

#[test]
fn inference_config_motion_module_and_scheduler() {
    let (_, report) = check(&["fixtures/config/echomimic/configs/inference/epsilon_no_motion.yaml"]);
    let found = keyed(&report);
    assert!(found.contains(&t("C103", "unet_additional_kwargs.use_motion_module", "error")), "{found:?}");
    assert!(found.iter().any(|f| f.0.starts_with('R') && f.1 == "noise_scheduler_kwargs"), "{found:?}");
}

#[test]
fn model_index_components_and_its_scheduler() {
    let (_, report) = check(&["fixtures/config/diffusers/tiny/model_index.json"]);
    let found = keyed(&report);
    assert!(found.contains(&t("C111", "vae", "error")), "{found:?}");
    assert!(!found.iter().any(|f| f.1 == "unet" || f.1 == "safety_checker"), "{found:?}");
    assert!(found.iter().any(|f| f.0.starts_with('R')), "{found:?}");
}

#[test]
fn hostile_yaml_ends_in_findings() {
    for (file, needle) in [
        ("alias_bomb.yaml", "alias bomb"),
        ("deep.yaml", "nesting"),
        ("syntax.yaml", "line"),
        ("list.yaml", "not a mapping"),
    ] {
        let (code, report) = check(&[&format!("fixtures/config/hostile/{file}")]);
        assert_eq!(code, Some(1), "{file}");
        assert_eq!(report.findings[0].code, "C101", "{file}");
        assert!(report.findings[0].message.contains(needle), "{file}: {}", report.findings[0].message);
    }
    let (code, report) = check(&["fixtures/config/unknown.yaml"]);
    assert_eq!((code, report.findings[0].code.as_str()), (Some(0), "C112"));
}

#[test]
fn json_snapshot_of_a_run_config() {
    let output = nanscope()
        .args(["config", "check", &format!("{PROMPTS}/acc_run.yaml"), "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    let mut doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["tool"]["version"] = Value::from("[version]");
    insta::assert_json_snapshot!(doc, { ".configs[].root" => "[root]" });
}

#[test]
fn a_missing_config_and_a_folder_without_configs_are_exit_2() {
    let output = nanscope().args(["config", "check", "fixtures/config/absent.yaml"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("absent.yaml: no such file or directory"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    let output = nanscope().args(["config", "check"]).arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to check"));
}
