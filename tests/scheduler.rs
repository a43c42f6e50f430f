//! `nanscope scheduler` on the configurations under `fixtures/scheduler/`
//! (written by `fixtures/make_scheduler_goldens.py`). The JSON report is read
//! back into typed structs, as a consumer would.

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Report {
    schema_version: u32,
    command: String,
    summary: Value,
    findings: Vec<Finding>,
    schedule: Option<Schedule>,
    config: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Finding {
    code: String,
    severity: String,
    message: String,
    subject: Value,
}

#[derive(Debug, Deserialize)]
struct Schedule {
    steps: usize,
    timesteps: Vec<i64>,
    alphas_cumprod: Vec<Option<f64>>,
    final_alpha_cumprod: f64,
    per_step: Vec<StepInfo>,
}

#[derive(Debug, Deserialize)]
struct StepInfo {
    step: usize,
    timestep: i64,
    prev_timestep: i64,
    sigma: Option<f64>,
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/scheduler/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn nanscope(args: &[&str]) -> (i32, String, String) {
    let output = Command::cargo_bin("nanscope").unwrap().args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn json_report(args: &[&str]) -> (i32, Report) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let (code, stdout, stderr) = nanscope(&all);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}\nstdout: {stdout}\nstderr: {stderr}"));
    (code, report)
}

fn has(report: &Report, code: &str) -> bool {
    report.findings.iter().any(|f| f.code == code)
}

#[test]
fn echomimic_v2_six_steps_matches_diffusers() {
    let config = fixture("echomimic_v2.config.json");
    let (code, report) = json_report(&["scheduler", &config, "--steps", "6"]);
    assert_eq!(code, 0, "{:?}", report.findings);
    assert_eq!((report.schema_version, report.command.as_str()), (1, "scheduler"));
    assert!(report.findings.iter().all(|f| f.severity == "info"), "{:?}", report.findings);
    assert!(has(&report, "R104"), "steps_offset with trailing spacing is reported");
    let schedule = report.schedule.expect("schedule");
    assert_eq!(schedule.steps, 6);
    assert_eq!(schedule.timesteps, vec![999, 832, 666, 499, 332, 166]);
    assert_eq!(schedule.per_step.len(), 6);
    assert_eq!((schedule.per_step[0].step, schedule.per_step[0].prev_timestep), (0, 833));
    assert_eq!(schedule.per_step[0].sigma, None, "infinite sigma at zero SNR is null");
    assert_eq!(schedule.final_alpha_cumprod, 1.0);
    assert_eq!(report.summary["steps"], 6);

    // The same ᾱ diffusers computed (see src/replay/scheduler/golden_tests.rs for the tolerance).
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("echomimic_v2.golden.json")).unwrap()).unwrap();
    let six = golden["schedules"].as_array().unwrap().iter().find(|s| s["steps"] == 6).unwrap();
    for (ours, theirs) in schedule.alphas_cumprod.iter().zip(six["alphas_cumprod"].as_array().unwrap()) {
        let (ours, theirs) = (ours.unwrap(), theirs.as_f64().unwrap());
        assert!((ours - theirs).abs() <= 1e-5 * theirs.abs(), "{ours} vs {theirs}");
    }
    assert_eq!(schedule.alphas_cumprod[0], Some(0.0));
}

#[test]
fn epsilon_with_zero_snr_is_flagged_at_the_first_step() {
    let config = fixture("epsilon_zero_snr.config.json");
    let (code, report) = json_report(&["scheduler", &config, "--steps", "6"]);
    assert_eq!(code, 1);
    let finding = report.findings.iter().find(|f| f.code == "R102").expect("R102");
    assert_eq!(finding.severity, "error");
    assert_eq!(finding.subject["step"], 0);
    assert_eq!(finding.subject["timestep"], 999.0);
    assert!(finding.message.contains("divides by zero"), "{}", finding.message);
    assert_eq!(report.schedule.map(|s| s.timesteps.len()), Some(6), "the schedule is still shown");

    let (code, _) = json_report(&["scheduler", &config, "--steps", "6", "--fail-on", "never"]);
    assert_eq!(code, 0);
}

#[test]
fn malformed_config_is_an_input_finding() {
    let (code, report) = json_report(&["scheduler", &fixture("malformed.config.json")]);
    assert_eq!(code, 1);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].code, "R101");
    assert!(report.findings[0].message.contains("line"), "{}", report.findings[0].message);
    assert!(report.schedule.is_none() && report.config.is_none());
}

#[test]
fn missing_config_is_exit_2_naming_it() {
    let missing = fixture("no-such.config.json");
    let output =
        std::process::Command::new(env!("CARGO_BIN_EXE_nanscope")).args(["scheduler", &missing]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim(), format!("nanscope: error: {missing}: no such file or directory"));
}

#[test]
fn sd15_configuration_reports_its_pndm_origin() {
    let (code, report) = json_report(&["scheduler", &fixture("sd15.config.json")]);
    assert_eq!(code, 0);
    for rule in ["R105", "R106", "R113"] {
        assert!(has(&report, rule), "{rule} missing: {:?}", report.findings);
    }
    let schedule = report.schedule.unwrap();
    assert_eq!(schedule.steps, 50);
    assert_eq!((schedule.timesteps[0], schedule.timesteps[49]), (981, 1));
    assert!(schedule.per_step.iter().all(|s| s.timestep - s.prev_timestep == 20));
}

#[test]
fn model_prediction_mismatch_fails() {
    let config = fixture("echomimic_v2.config.json");
    let (code, report) = json_report(&["scheduler", &config, "--model-prediction", "epsilon"]);
    assert_eq!(code, 1);
    assert!(has(&report, "R114"));
}

#[test]
fn unlucky_trailing_step_count_is_an_error() {
    let config = fixture("echomimic_v2.config.json");
    let (code, report) = json_report(&["scheduler", &config, "--steps", "61"]);
    assert_eq!(code, 1);
    assert!(has(&report, "R111"));
    assert_eq!(report.schedule.unwrap().timesteps.last(), Some(&-1));
}

#[test]
fn table_has_one_row_per_step() {
    let (code, stdout, _) = nanscope(&["scheduler", &fixture("echomimic_v2.config.json"), "--steps", "6"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Schedule (6 steps)"), "{stdout}");
    let table = &stdout[stdout.find("Schedule (6 steps)").unwrap()..];
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("│ ")).skip(1).collect();
    assert_eq!(rows.len(), 6, "{stdout}");
    assert!(rows[0].starts_with("│ 0 ") && rows[0].contains(" 999 "), "{}", rows[0]);
    assert!(rows[5].contains(" 166 "), "{}", rows[5]);
    assert!(stdout.contains("inf"), "sigma at zero SNR is shown as inf: {stdout}");
}

#[test]
fn bad_arguments_exit_2() {
    let (code, _, stderr) = nanscope(&["scheduler", &fixture("echomimic_v2.config.json"), "--steps", "0"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = nanscope(&["scheduler"]);
    assert_eq!(code, 2);
}

#[test]
fn rules_explain_the_scheduler_rules() {
    let (code, stdout, _) = nanscope(&["rules", "R102"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("step-divides-by-zero"), "{stdout}");
    let (_, stdout, _) = nanscope(&["rules"]);
    for code in ["R101", "R116"] {
        assert!(stdout.contains(code), "{code} not in the catalogue");
    }
}

// Item 4 of the real-world-files issue: what diffusers' save_config writes
// (bare -Infinity) is read, not refused as invalid JSON.
#[test]
fn diffusers_saved_config_with_infinity_loads() {
    let (code, report) = json_report(&["scheduler", &fixture("dpmsolver_multistep.config.json")]);
    assert_eq!(code, 0, "{:?}", report.findings);
    assert!(!has(&report, "R101"), "{:?}", report.findings);
    assert!(has(&report, "R106"), "{:?}", report.findings);
    let config = report.config.unwrap();
    assert_eq!(config["unknown_keys"]["lambda_min_clipped"], "-Infinity");
    assert!(report.schedule.is_some());
}

// A NaN that matters is judged by the checks once the file is read; tokens
// inside strings stay strings.
#[test]
fn nan_beta_is_judged_not_refused() {
    let (code, report) = json_report(&["scheduler", &fixture("nan_beta.config.json")]);
    assert_eq!(code, 1);
    assert!(!has(&report, "R101"), "{:?}", report.findings);
    let betas: Vec<&Finding> = report.findings.iter().filter(|f| f.code == "R115").collect();
    assert!(betas.iter().any(|f| f.message.contains("beta_start is NaN")), "{:?}", report.findings);
    let config = report.config.unwrap();
    assert_eq!(config["unknown_keys"]["comment"], "NaN and -Infinity inside a string stay text");
}
