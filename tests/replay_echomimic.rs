//! `nanscope replay` with `family = "echomimic-v2"`: impossible values are
//! refused before any work, naming their key; the demo deployment replays
//! end to end; a missing motion module, a zero-window plan and the planted
//! int8 overflow are each named; and the new rules are in the catalogue.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay/echomimic")
}

fn nanscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nanscope")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The demo spec with absolute paths and `edit` applied, in a temp folder.
fn demo_spec_with(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let text = fs::read_to_string(fixtures().join("demo.toml")).unwrap();
    let text = text.replace("\"demo/", &format!("\"{}/demo/", fixtures().display()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.toml");
    fs::write(&path, edit(text)).unwrap();
    (dir, path)
}

/// Issue #16: values EchoMimicV2's pipelines fail or crash on are exit 2
/// with the key named, before any weights are read.
#[test]
fn impossible_echomimic_values_are_exit_2_naming_the_key() {
    for (from, to, key) in [
        ("context_overlap = 1", "context_overlap = 4", "echomimic.context_overlap = 4"),
        ("context_frames = 4", "context_frames = 40", "echomimic.context_frames = 40"),
        ("variant = \"acc\"", "variant = \"turbo\"", "echomimic.variant = \"turbo\""),
        ("variant = \"acc\"", "variant = \"normal\"", "guidance_scale = 1"),
        ("height = 64", "height = 100", "height = 100"),
    ] {
        let (_d, spec) = demo_spec_with(|t| t.replace(from, to));
        let (code, _, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
        assert_eq!(code, 2, "{key}: {stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

/// Issue #16: the zero-window configuration is the cause the report names:
/// R143 with the frames, and the trace's first non-finite record is the
/// window average (`noise_pred`), not a module of the UNet.
#[test]
fn a_zero_window_plan_is_reported_as_the_cause() {
    let (_d, spec) = demo_spec_with(|t| t.replace("context_overlap = 1", "context_overlap = 6"));
    let (code, report, stderr) = replay_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let gap = only(&report, "R143");
    assert!(gap["message"].as_str().unwrap().contains("covers 8 of 8 frames (0–7)"), "{gap}");
    assert_eq!(gap["subject"]["frames"], json!([0, 7]));
    let first = only(&report, "R121");
    assert_eq!(first["subject"]["module"], "noise_pred");
    assert_eq!(first["subject"]["stage"], "guidance");
    assert_eq!(first["subject"]["step"], 0);
}

#[test]
fn the_echomimic_rules_are_in_the_catalogue() {
    for (code, slug) in [
        ("R140", "motion-module-not-loaded"),
        ("R141", "weight-keys-unmatched"),
        ("R142", "weight-shape-mismatch"),
        ("R143", "context-window-gap"),
    ] {
        let (status, stdout, stderr) = nanscope(&["rules", code]);
        assert_eq!(status, 0, "{stderr}");
        assert!(stdout.contains(slug), "{code}: {stdout}");
    }
}

/// `nanscope replay … --format json`: the exit code, the report and stderr.
fn replay_json(args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["replay"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let (code, stdout, stderr) = nanscope(&all);
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (code, report, stderr)
}

fn with_code<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"].as_array().map(|f| f.iter().filter(|f| f["code"] == code).collect()).unwrap_or_default()
}

fn only<'a>(report: &'a Value, code: &str) -> &'a Value {
    let found = with_code(report, code);
    assert_eq!(found.len(), 1, "one {code} expected: {report}");
    found[0]
}

/// The planted spec with absolute paths and `edit` applied, in a temp folder.
fn planted_spec_with(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let text = fs::read_to_string(fixtures().join("demo-planted.toml")).unwrap();
    let text = text.replace("\"demo/", &format!("\"{}/demo/", fixtures().display()));
    let text = text.replace("\"planted/", &format!("\"{}/planted/", fixtures().display()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.toml");
    fs::write(&path, edit(text)).unwrap();
    (dir, path)
}

const PLANTED: &str =
    "denoising_unet.down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.ff.net.2";

/// Issue #16: the demo deployment (EchoMimicV2's own modules, shipped
/// layout) replays end to end: pose encoder, reference UNet, denoising UNet
/// in windows, DDIM and per-frame decode; every key is used (the position
/// tables included), the frames are written as `b c f h w`, and the dump is
/// a trace `nanscope trace` reads, with the frames each window ran on.
#[test]
fn the_demo_deployment_replays_end_to_end() {
    let (dir, spec) =
        demo_spec_with(|t| t.replace("dtype = \"fp32\"", "dtype = \"fp32\"\noutput = \"frames.safetensors\""));
    let dump = dir.path().join("dump");
    let (code, report, stderr) = replay_json(&[spec.to_str().unwrap(), "--dump", dump.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr} {report}");
    assert_eq!(report["findings"], json!([]), "no key left unused, nothing non-finite");
    assert_eq!(report["run"]["steps"], 6);
    assert_eq!(report["run"]["nonfinite_frame_values"], 0);
    let stages: Vec<&str> = report["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    for stage in
        ["vae.encode", "pose_encoder", "reference_unet", "denoising_unet", "guidance", "scheduler", "vae.decode"]
    {
        assert!(stages.contains(&stage), "{stage} missing from {stages:?}");
    }
    let frames = fs::read(dir.path().join("frames.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(frames[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&frames[8..8 + header_len]).unwrap();
    assert_eq!(header["videos"]["shape"], json!([1, 3, 8, 64, 64]));

    // Every denoising-UNet record names the frames of its window (4 frames).
    let records = fs::read_to_string(dump.join("records.jsonl")).unwrap();
    let windows: std::collections::BTreeSet<String> = records
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["stage"] == "denoising_unet")
        .map(|r| r["frames"].to_string())
        .collect();
    assert!(windows.len() >= 3, "{windows:?}");
    assert!(windows.iter().all(|w| w != "null"), "{windows:?}");
    let (code, trace, stderr) = nanscope(&["trace", dump.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{stderr} {trace}");
}

/// Issue #16: without its motion module the denoising UNet is not run as a
/// UNet without temporal layers: R140 names the file and nothing runs.
#[test]
fn a_missing_motion_module_is_r140_and_nothing_runs() {
    let (_d, spec) =
        demo_spec_with(|t| t.lines().filter(|l| !l.starts_with("motion_module")).collect::<Vec<_>>().join("\n"));
    let (code, report, stderr) = replay_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr} {report}");
    let r140 = only(&report, "R140");
    assert!(r140["message"].as_str().unwrap().contains("motion_module_acc.pth does not exist"), "{r140}");
    assert!(only(&report, "R141")["message"].as_str().unwrap().contains("expected key(s) in no file"));
    assert_eq!(report["run"]["steps"], 0);
    assert!(with_code(&report, "R127").is_empty(), "an unrun replay is not an empty trace: {report}");
}

/// Issue #16, the planted demo: in fp16 with int8 weights the motion
/// module's feed-forward projection is the first non-finite module, named
/// with its step and the frames of its window; unquantized fp16 and the
/// run with the module excluded from int8 are finite.
#[test]
fn the_planted_overflow_is_named_with_its_step_and_window() {
    let (_d, spec) = planted_spec_with(|t| t);
    let (code, report, stderr) = replay_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr} {report}");
    let first = only(&report, "R120");
    assert_eq!(first["subject"]["module"], PLANTED, "{first}");
    assert_eq!(first["subject"]["stage"], "denoising_unet");
    assert_eq!(first["subject"]["step"], 2);
    assert_eq!(first["subject"]["frames"], json!([4, 7]), "the window it ran on");
    assert!(report["run"]["nonfinite_frame_values"].as_u64().unwrap() > 0);

    let (code, report, stderr) = replay_json(&[spec.to_str().unwrap(), "--quantize", "none"]);
    assert_eq!(code, 0, "fp16 alone is finite: {stderr} {report}");

    let (_d2, excluded) = planted_spec_with(|t| t.replace("exclude = []", &format!("exclude = [\"{PLANTED}\"]")));
    let (code, report, stderr) = replay_json(&[excluded.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr} {report}");
    assert_eq!(report["run"]["nonfinite_frame_values"], 0);
}

/// Issue #16: `--bisect` over the quantized EchoMimicV2 modules names the
/// planted projection as the one module to keep out of int8.
#[test]
fn bisect_names_the_planted_module() {
    let (_d, spec) = planted_spec_with(|t| t);
    let (_, report, stderr) = replay_json(&[spec.to_str().unwrap(), "--bisect"]);
    let keep = only(&report, "R160");
    assert_eq!(keep["subject"]["module"], PLANTED, "{stderr} {keep}");
    assert_eq!(report["bisect"]["exclude"], json!([PLANTED]));
}

/// Issue #16: the generation starts from a real reference image and a pose
/// folder (drawn by nanscope's own pose reader and renderer), and the report
/// says which inputs were files and which were seeded stand-ins.
#[test]
fn a_reference_image_and_a_pose_folder_start_the_generation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let image = root.join("image/clean.png");
    let poses = root.join("pose/echomimic_clean");
    let (_d, spec) = demo_spec_with(|t| {
        t.replace(
            "context_overlap = 1",
            &format!(
                "context_overlap = 1\nreference_image = \"{}\"\npose_dir = \"{}\"",
                image.display(),
                poses.display()
            ),
        )
    });
    let (code, report, stderr) = replay_json(&[spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr} {report}");
    let starts = &report["run"]["starts_from"];
    assert_eq!(starts["reference_image"], image.display().to_string());
    assert_eq!(starts["poses"], poses.display().to_string());
    assert!(starts["audio_features"].as_str().unwrap().ends_with("audio_features.safetensors"), "{starts}");

    let (_d, plain) = demo_spec_with(|t| t);
    let (_, report, _) = replay_json(&[plain.to_str().unwrap()]);
    assert_eq!(report["run"]["starts_from"]["poses"], "seeded stand-in");
}
