//! `nanscope replay` with `family = "echomimic-v2"`: impossible values are
//! refused before any work, naming their key, and the new rules are in the
//! catalogue.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The zero-window configuration is named before anything runs.
#[test]
fn a_zero_window_plan_is_named_before_running() {
    let (_d, spec) = demo_spec_with(|t| t.replace("context_overlap = 1", "context_overlap = 6"));
    let (code, _, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("R143 no window of the plan covers 8 of 8 frames (0–7)"), "{stderr}");
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
