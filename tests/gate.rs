//! `nanscope gate` on the fixture project `fixtures/gate/` (made by
//! fixtures/make_gate.py): pass, a new finding, suppressions, a check that
//! matches nothing, baselines and weights fingerprints.

mod common;
mod video_support;

use std::path::{Path, PathBuf};

use common::write::f32_safetensors as safetensors;
use serde_json::Value;

/// A fresh copy of the fixture project.
fn project(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gate-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/gate"), &dir);
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs `nanscope gate ARGS --format json` in the project folder.
fn gate(dir: &Path, args: &[&str]) -> (i32, Value) {
    let output = assert_cmd::Command::cargo_bin("nanscope")
        .unwrap()
        .current_dir(dir)
        .arg("gate")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    assert!(json.is_object(), "{}", String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap(), json)
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

fn ready(test: &str) -> bool {
    video_support::ffmpeg_available(test)
}

#[test]
fn the_project_passes_and_its_baselines_are_recorded() {
    if !ready("the_project_passes_and_its_baselines_are_recorded") {
        return;
    }
    let dir = project("pass");
    let (code, first) = gate(&dir, &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(codes(&first).iter().filter(|c| *c == "G124").count(), 3, "no baseline yet: {first}");
    let (code, _) = gate(&dir, &["--update-baselines"]);
    assert_eq!(code, 0);
    for check in ["unet", "poses", "renders"] {
        assert!(dir.join("baselines").join(format!("{check}.json")).exists(), "{check}");
    }
    let unet: Value = serde_json::from_slice(&std::fs::read(dir.join("baselines/unet.json")).unwrap()).unwrap();
    assert_eq!(unet["tensors"].as_array().unwrap().len(), 4, "{unet}");
    let (code, again) = gate(&dir, &[]);
    assert_eq!(code, 0);
    assert!(codes(&again).is_empty(), "accepted findings are not reported again: {again}");
    assert!(again["summary"]["baselined"].as_u64().unwrap() >= 1);
}

#[test]
fn a_new_finding_fails_the_gate() {
    if !ready("a_new_finding_fails_the_gate") {
        return;
    }
    let dir = project("new");
    gate(&dir, &["--update-baselines"]);
    safetensors(&dir.join("weights/new.safetensors"), &[f32::NAN, 1.0]);
    let (code, report) = gate(&dir, &[]);
    assert_eq!(code, 1, "{report}");
    let found = codes(&report);
    assert!(found.contains(&"W101".to_string()) && found.contains(&"G122".to_string()), "{found:?}");
    let new = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "W101").unwrap();
    assert_eq!(new["subject"]["file"], "weights/new.safetensors");
    assert_eq!(new["evidence"]["check"], "unet");
    let checks = report["checks"].as_array().unwrap();
    let failed: Vec<&str> =
        checks.iter().filter(|c| c["failed"] == true).map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(failed, ["unet"]);
}

#[test]
fn a_changed_checkpoint_is_caught_by_its_fingerprint() {
    if !ready("a_changed_checkpoint_is_caught_by_its_fingerprint") {
        return;
    }
    let dir = project("drift");
    gate(&dir, &["--update-baselines"]);
    let path = dir.join("weights/unet.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let end = bytes.len();
    bytes[end - 2..].copy_from_slice(&0x4400u16.to_le_bytes()); // the last F16 value becomes 4.0
    std::fs::write(&path, bytes).unwrap();
    let (_, report) = gate(&dir, &[]);
    let drift = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "G123");
    let drift = drift.unwrap_or_else(|| panic!("{report}"));
    assert_eq!(drift["subject"]["tensor"], "mid.to_q.weight");
}

#[test]
fn suppressions_with_and_without_a_match() {
    if !ready("suppressions_with_and_without_a_match") {
        return;
    }
    let dir = project("allow");
    let (_, report) = gate(&dir, &[]);
    assert!(!codes(&report).contains(&"W101".to_string()));
    let accepted = report["accepted"].as_array().unwrap();
    assert!(
        accepted.iter().any(|a| a["code"] == "W101" && a["reason"].as_str().unwrap().contains("masked")),
        "{report}"
    );
    std::fs::remove_file(dir.join("weights/known_nan.safetensors")).unwrap();
    let (_, report) = gate(&dir, &[]);
    let unused = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "G121");
    assert!(unused.is_some_and(|f| f["severity"] == "warning"), "{report}");
}

#[test]
fn a_check_whose_globs_match_nothing_fails() {
    if !ready("a_check_whose_globs_match_nothing_fails") {
        return;
    }
    let dir = project("nothing");
    let config = std::fs::read_to_string(dir.join("nanscope.toml")).unwrap();
    std::fs::write(dir.join("nanscope.toml"), config.replace("renders/*.mp4", "renders/*.mkv")).unwrap();
    let (code, report) = gate(&dir, &[]);
    assert_eq!(code, 1);
    assert!(codes(&report).contains(&"G120".to_string()), "{report}");
}

#[test]
fn a_suppression_without_a_reason_is_refused() {
    let dir = project("reason");
    let config = std::fs::read_to_string(dir.join("nanscope.toml")).unwrap();
    let config =
        config.replace("reason = \"the pose guider's NaN is masked at load time; tracked upstream\"", "reason = \"\"");
    std::fs::write(dir.join("nanscope.toml"), config).unwrap();
    assert_cmd::Command::cargo_bin("nanscope")
        .unwrap()
        .current_dir(&dir)
        .arg("gate")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("needs a reason"));
}

#[test]
fn gate_report_snapshot() {
    if !ready("gate_report_snapshot") {
        return;
    }
    let dir = project("snapshot");
    let (_, report) = gate(&dir, &[]);
    insta::assert_json_snapshot!(report, { ".tool.version" => "[version]" });
}

#[test]
fn a_degraded_render_is_caught_by_ssim_but_not_by_the_black_and_blank_checks() {
    if !ready("a_degraded_render_is_caught_by_ssim_but_not_by_the_black_and_blank_checks") {
        return;
    }
    let dir = project("degraded");
    // Washed out: lower contrast, lifted black level; neither black, blank nor frozen.
    let status = std::process::Command::new("ffmpeg")
        .current_dir(&dir)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", "renders/talk.mp4"])
        .args(["-vf", "eq=contrast=0.6:brightness=0.08", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .args(["-movflags", "+faststart", "renders/washed.mp4"])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::rename(dir.join("renders/washed.mp4"), dir.join("renders/talk.mp4")).unwrap();
    let check = assert_cmd::Command::cargo_bin("nanscope")
        .unwrap()
        .current_dir(&dir)
        .args(["video", "check", "renders/talk.mp4", "--format", "json"])
        .output()
        .unwrap();
    let check: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert!(codes(&check).iter().all(|c| !["V120", "V121", "V122", "V124"].contains(&c.as_str())), "{check}");
    let (code, report) = gate(&dir, &[]);
    assert_eq!(code, 1, "{report}");
    let ssim = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "G105");
    let ssim = ssim.unwrap_or_else(|| panic!("{report}"));
    assert_eq!(ssim["subject"]["file"], "renders/talk.mp4");
    let video = report["videos"].as_array().unwrap().iter().find(|v| v["file"] == "renders/talk.mp4").unwrap();
    assert!(video["comparison"]["ssim_min"].as_f64().unwrap() < 0.95);
    assert_eq!(video["comparison"]["worst_frames"].as_array().unwrap().len(), 5);
    assert!(dir.join(video["plot"].as_str().unwrap()).exists(), "the side-by-side PNG of the worst pair");
    // The whole clip's luma moved too: its spread shrank with the contrast.
    let drift = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "G126");
    let drift = drift.unwrap_or_else(|| panic!("{report}"));
    assert!(drift["message"].as_str().unwrap().contains("luma"), "{drift}");
}

/// A gate over `runs/nightly`, a copy of the planted-stats trace fixture.
fn trace_project(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gate-trace-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/trace/planted-stats"), &dir.join("runs/nightly"));
    std::fs::write(
        dir.join("nanscope.toml"),
        "[[gate.check]]\nname = \"trace\"\nkind = \"trace\"\npaths = [\"runs/*\"]\n",
    )
    .unwrap();
    dir
}

fn with_code<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == code).collect()
}

#[test]
fn headroom_lost_since_the_accepted_trace_names_the_module_and_step() {
    let dir = trace_project("modules");
    let (code, _) = gate(&dir, &["--update-baselines"]);
    assert_eq!(code, 0);
    let path = dir.join("nanscope-baselines/trace.json");
    let mut recorded: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(recorded.get("absmax").is_none(), "per-stage rows are no longer written: {recorded}");
    let modules = recorded["modules"].as_array_mut().unwrap();
    assert_eq!(modules.len(), 29, "one row per module with a finite absmax (the others are NaN only)");
    let conv1 = modules.iter_mut().find(|m| m["module"] == "unet.mid_block.resnets.0.conv1").unwrap();
    assert_eq!(conv1["dump"], "runs/nightly");
    let step1 = conv1["steps"].as_array_mut().unwrap().iter_mut().find(|s| s[0] == 1).unwrap();
    assert_eq!(step1[1], 42784.0);
    // As if the accepted run had peaked at a sixteenth of today's value at step 1.
    step1[1] = (42784.0 / 16.0).into();
    // A module only the baseline has, and one only this run has.
    modules.retain(|m| m["module"] != "unet.conv_in");
    modules.push(serde_json::json!({"dump": "runs/nightly", "module": "unet.renamed", "steps": [[0, 1.0]]}));
    std::fs::write(&path, serde_json::to_vec(&recorded).unwrap()).unwrap();
    let (code, report) = gate(&dir, &[]);
    assert_eq!(code, 0, "warnings do not fail the default fail-on");
    let lost = with_code(&report, "G125");
    assert_eq!(lost.len(), 1, "{report}");
    let subject = &lost[0]["subject"];
    assert_eq!(
        (subject["file"].as_str(), subject["module"].as_str(), subject["step"].as_u64()),
        (Some("runs/nightly"), Some("unet.mid_block.resnets.0.conv1"), Some(1))
    );
    let evidence = &lost[0]["evidence"];
    assert_eq!((evidence["absmax"].as_f64(), evidence["baseline_absmax"].as_f64()), (Some(42784.0), Some(2674.0)));
    let margin = evidence["margin"].as_f64().unwrap();
    assert!((margin - 65504.0 / 42784.0).abs() < 1e-9, "{evidence}");
    assert!((evidence["baseline_doublings_left"].as_f64().unwrap() - (65504.0f64 / 2674.0).log2()).abs() < 1e-9);
    let message = lost[0]["message"].as_str().unwrap();
    assert!(message.contains("unet.mid_block.resnets.0.conv1 at step 1") && message.contains("65504"), "{message}");
    let layout = with_code(&report, "G127");
    assert_eq!(layout.len(), 1, "{report}");
    let message = layout[0]["message"].as_str().unwrap();
    assert!(message.contains("1 modules only in this run (unet.conv_in)"), "{message}");
    assert!(message.contains("1 modules only in the baseline (unet.renamed)"), "{message}");
}

#[test]
fn a_trace_baseline_of_stage_rows_still_loads_and_asks_to_be_re_recorded() {
    let dir = trace_project("stages");
    // What trace checks recorded before per-module baselines.
    let older = serde_json::json!({"findings": [], "absmax": [
        {"dump": "runs/nightly", "stage": "unet", "step": 1, "absmax": 42784.0 / 16.0},
        {"dump": "runs/nightly", "stage": "unet", "step": 0, "absmax": 1e4}
    ]});
    std::fs::create_dir_all(dir.join("nanscope-baselines")).unwrap();
    std::fs::write(dir.join("nanscope-baselines/trace.json"), older.to_string()).unwrap();
    let (code, report) = gate(&dir, &[]);
    assert_eq!(code, 0, "{report}");
    let lost = with_code(&report, "G125");
    assert_eq!(lost.len(), 1, "{report}");
    assert_eq!((lost[0]["subject"]["stage"].as_str(), lost[0]["subject"]["step"].as_u64()), (Some("unet"), Some(1)));
    let stale = with_code(&report, "G124");
    assert_eq!(stale.len(), 1, "{report}");
    assert!(stale[0]["message"].as_str().unwrap().contains("--update-baselines"), "{}", stale[0]);
    // Re-recorded, it compares per module and is clean.
    assert_eq!(gate(&dir, &["--update-baselines"]).0, 0);
    let (code, report) = gate(&dir, &[]);
    assert_eq!(code, 0);
    assert!(with_code(&report, "G124").is_empty() && with_code(&report, "G125").is_empty(), "{report}");
}

#[test]
fn image_and_postmortem_checks_judge_reference_images_and_run_folders() {
    if !ready("image_and_postmortem_checks_judge_reference_images_and_run_folders") {
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gate-image-postmortem");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("refs")).unwrap();
    std::fs::copy(fixtures.join("image/clean-768.jpg"), dir.join("refs/clean.jpg")).unwrap();
    copy(&fixtures.join("postmortem/healthy"), &dir.join("runs/healthy"));
    let config = "[gate]\nbaselines = \"baselines\"\n\n\
                  [[gate.check]]\nname = \"references\"\nkind = \"image\"\npaths = [\"refs/*\"]\n\n\
                  [[gate.check]]\nname = \"runs\"\nkind = \"postmortem\"\npaths = [\"runs/*\"]\n";
    std::fs::write(dir.join("nanscope.toml"), config).unwrap();
    let (code, report) = gate(&dir, &[]);
    assert_eq!(code, 0, "{report}");

    // A truncated reference image and a failed run fail their own checks.
    std::fs::copy(fixtures.join("image/truncated.jpg"), dir.join("refs/truncated.jpg")).unwrap();
    copy(&fixtures.join("postmortem/broken_pose"), &dir.join("runs/broken_pose"));
    let (code, report) = gate(&dir, &[]);
    assert_eq!(code, 1, "{report}");
    let codes = codes(&report);
    assert!(codes.iter().any(|c| c.starts_with('I')), "{codes:?}");
    assert!(codes.iter().any(|c| c.starts_with('P')), "{codes:?}");
}
