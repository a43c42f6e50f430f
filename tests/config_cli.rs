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

/// An MP4 written by ffmpeg from one black frame, with the metadata lines of
/// an FFMETADATA file (values escaped as that format wants), as Video
/// Combine writes its outputs; `keyed` adds `-movflags use_metadata_tags`.
fn video_with_metadata(path: &std::path::Path, entries: &[(&str, String)], keyed: bool) {
    let escape = |v: &str| {
        v.replace('\\', "\\\\").replace(';', "\\;").replace('#', "\\#").replace('=', "\\=").replace('\n', "\\\n")
    };
    let mut text = String::from(";FFMETADATA1\n");
    for (key, value) in entries {
        text.push_str(&format!("{key}={}\n", escape(value)));
    }
    let metadata = path.with_extension("txt");
    std::fs::write(&metadata, text).unwrap();
    let mut ffmpeg = std::process::Command::new("ffmpeg");
    ffmpeg.args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=black:size=64x64:d=0.1"]);
    let webm = path.extension().is_some_and(|e| e == "webm");
    let codec: &[&str] = if webm { &["libvpx-vp9", "-deadline", "realtime"] } else { &["mpeg4"] };
    ffmpeg.arg("-i").arg(&metadata).args(["-map_metadata", "1", "-c:v"]).args(codec);
    if keyed {
        ffmpeg.args(["-movflags", "use_metadata_tags"]);
    }
    assert!(ffmpeg.arg(path).status().unwrap().success());
}

/// The prompt a ComfyUI save node writes into its video, in each form Video
/// Combine has written it (one `comment` holding prompt and workflow; then
/// `prompt` and `workflow` tags, the prompt JSON text inside a JSON string
/// until May 2026; Matroska tags in a WebM) and ComfyUI's own video saver
/// writes it: `config check` reads the workflow's settings from the video.
/// A video without one is no configuration.
#[test]
fn the_workflow_a_saved_video_carries_is_checked() {
    let prompt = serde_json::json!({
        "12": {"class_type": "Echo_Predata", "inputs": {"pose_dir": "pose_01", "width": 768, "height": 768,
            "fps": 25, "length": 120}},
        "13": {"class_type": "Echo_Sampler", "inputs": {"emb": ["12", 0], "seed": 7, "cfg": 2.5, "steps": 30,
            "sample_rate": 16000, "context_frames": 12, "context_overlap": 3, "save_video": false}}
    })
    .to_string();
    let workflow = serde_json::json!({"last_node_id": 13, "links": [], "nodes": [{"id": 13, "type": "Echo_Sampler",
        "widgets_values": [7, "fixed", 2.5, 30, 16000, 12, 3, false]}]})
    .to_string();
    let quoted = serde_json::to_string(&prompt).unwrap();
    let comment = serde_json::json!({"prompt": quoted, "workflow": serde_json::from_str::<Value>(&workflow).unwrap()});
    let dir = tempfile::tempdir().unwrap();
    let forms = [
        ("comment", vec![("comment", comment.to_string())], false),
        ("quoted", vec![("prompt", quoted.clone()), ("workflow", workflow.clone())], true),
        ("tags", vec![("prompt", prompt.clone()), ("workflow", workflow.clone())], true),
        ("tags.webm", vec![("prompt", prompt.clone()), ("workflow", workflow.clone())], true),
    ];
    for (name, entries, keyed) in forms {
        let file = if name.contains('.') { name.to_string() } else { format!("{name}.mp4") };
        let path = dir.path().join(file);
        video_with_metadata(&path, &entries, keyed);
        let (code, report) = check(&[path.to_str().unwrap()]);
        assert_eq!(report.configs[0]["kind"], "comfyui_workflow", "{name}: {:#}", report.configs[0]);
        let fps = report.findings.iter().find(|f| f.code == "C110").unwrap_or_else(|| panic!("{name}: no C110"));
        assert_eq!(fps.subject["key"], "Echo_Predata.fps", "{name}");
        assert_eq!(code, Some(0), "{name}");
        let settings = report.configs[0]["settings"].as_array().unwrap();
        assert!(settings.iter().any(|s| s["key"] == "Echo_Sampler.steps" && s["value"] == "30"), "{name}");
    }
    // Only the UI's workflow: its widgets are read.
    let path = dir.path().join("workflow.mp4");
    video_with_metadata(&path, &[("workflow", workflow)], true);
    let (_, report) = check(&[path.to_str().unwrap()]);
    let settings = report.configs[0]["settings"].as_array().unwrap();
    assert!(settings.iter().any(|s| s["key"] == "Echo_Sampler.steps" && s["value"] == "30"), "{settings:?}");
    // A comment that is no workflow.
    let path = dir.path().join("plain.mp4");
    video_with_metadata(&path, &[("comment", "made with love".into())], false);
    let (_, report) = check(&[path.to_str().unwrap()]);
    assert_eq!(report.findings[0].code, "C101", "{:?}", report.findings);
    // A folder of outputs: the clips that carry a workflow are read, the
    // others (and files of other kinds) left alone.
    std::fs::write(dir.path().join("notes.txt"), "not a config").unwrap();
    let (_, report) = check(&[dir.path().to_str().unwrap()]);
    let files: Vec<&str> = report.configs.iter().map(|c| c["file"].as_str().unwrap()).collect();
    let names: Vec<&str> = files.iter().map(|f| f.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["comment.mp4", "quoted.mp4", "tags.mp4", "tags.webm", "workflow.mp4"], "{files:?}");
    assert!(!report.findings.iter().any(|f| f.code == "C101"), "{:?}", report.findings);
}
