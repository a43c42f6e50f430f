//! The command line's contract across commands: one policy for missing and
//! empty inputs (issue #5), option values and help (issue #9), and tables
//! for people (issue #11).
//!
//! A path that does not exist is exit 2 with `nanscope: error: PATH: no such
//! file or directory`, found before any work; a run that found nothing to
//! check (an empty folder, a folder without anything of the command's kind)
//! is exit 2 with `nanscope: error: nothing to check: …`. Neither is a pass.
//! None of these runs needs ffmpeg: the inputs are judged before the tools
//! are looked up.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn nanscope(args: &[&str]) -> (i32, String, String) {
    let output = Command::cargo_bin("nanscope").unwrap().args(args).arg("--no-progress").output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn fixture(path: &str) -> String {
    format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Every command, with `MISSING` standing for the path that does not exist.
const COMMANDS: &[&[&str]] = &[
    &["weights", "MISSING"],
    &["weights", "--simulate", "int8", "MISSING"],
    &["diff", "MISSING", "OTHER"],
    &["diff", "OTHER", "MISSING"],
    &["video", "check", "MISSING"],
    &["video", "repair", "MISSING", "-o", "SCRATCH/out.mp4"],
    &["video", "encode", "MISSING", "-o", "SCRATCH/out.mp4"],
    &["pose", "check", "MISSING"],
    &["pose", "repair", "MISSING", "-o", "SCRATCH/out"],
    &["pose", "render", "MISSING", "-o", "SCRATCH/out.png"],
    &["pose", "convert", "MISSING", "--to", "openpose", "-o", "SCRATCH/out"],
    &["scheduler", "MISSING"],
    &["log", "check", "MISSING"],
    &["config", "check", "MISSING"],
    &["trace", "MISSING"],
    &["replay", "MISSING"],
];

fn substitute(args: &[&str], missing: &str, other: &str, scratch: &Path) -> Vec<String> {
    args.iter()
        .map(|a| match *a {
            "MISSING" => missing.to_string(),
            "OTHER" => other.to_string(),
            a => a.replace("SCRATCH", &scratch.display().to_string()),
        })
        .collect()
}

#[test]
fn a_missing_path_is_exit_2_naming_it_in_every_command() {
    let scratch = tempfile::tempdir().unwrap();
    let missing = scratch.path().join("no-such-input");
    let missing = missing.to_str().unwrap();
    let other = fixture("weights/unet");
    for command in COMMANDS {
        let args = substitute(command, missing, &other, scratch.path());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = nanscope(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim(), format!("nanscope: error: {missing}: no such file or directory"), "{args:?}");
        assert!(stdout.is_empty(), "{args:?} wrote a report: {stdout}");
    }
}

fn empty_folder() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A folder holding only files that are not of the command's kind.
fn folder_of_notes() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.txt"), "notes, not an input\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/notes.md"), "# notes\n").unwrap();
    dir
}

fn assert_nothing_to_check(args: &[&str], folder: &Path) {
    let (code, stdout, stderr) = nanscope(args);
    assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
    assert!(stderr.starts_with("nanscope: error: nothing to check: "), "{args:?}: {stderr}");
    assert!(stderr.contains(folder.to_str().unwrap()), "{args:?}: {stderr}");
}

#[test]
fn weights_on_an_empty_folder_or_empty_archive_is_not_a_pass() {
    let empty = empty_folder();
    let dir = empty.path().to_str().unwrap();
    assert_nothing_to_check(&["weights", dir], empty.path());
    assert_nothing_to_check(&["weights", dir, "--fail-on", "never"], empty.path());
    let notes = folder_of_notes();
    assert_nothing_to_check(&["weights", notes.path().to_str().unwrap()], notes.path());
    // An .npz archive without members: a zip end-of-central-directory record only.
    let npz = empty.path().join("empty.npz");
    let mut eocd = b"PK\x05\x06".to_vec();
    eocd.extend([0u8; 18]);
    std::fs::write(&npz, eocd).unwrap();
    let (code, _, stderr) = nanscope(&["weights", npz.to_str().unwrap()]);
    assert_ne!(code, 0, "an empty .npz passed: {stderr}");
}

#[test]
fn diff_of_empty_folders_is_not_a_pass() {
    let empty = empty_folder();
    let dir = empty.path().to_str().unwrap();
    assert_nothing_to_check(&["diff", dir, dir], empty.path());
}

#[test]
fn video_check_of_a_folder_without_videos_is_not_a_pass() {
    let empty = empty_folder();
    assert_nothing_to_check(&["video", "check", empty.path().to_str().unwrap()], empty.path());
    let notes = folder_of_notes();
    // A text file named like a video is still not one: content decides.
    std::fs::write(notes.path().join("clip.mp4"), "not a video\n").unwrap();
    assert_nothing_to_check(&["video", "check", notes.path().to_str().unwrap()], notes.path());
}

#[test]
fn pose_check_of_an_empty_folder_is_not_a_pass() {
    let empty = empty_folder();
    assert_nothing_to_check(&["pose", "check", empty.path().to_str().unwrap()], empty.path());
}

#[test]
fn trace_of_an_empty_folder_or_an_empty_dump_is_not_a_pass() {
    let empty = empty_folder();
    assert_nothing_to_check(&["trace", empty.path().to_str().unwrap()], empty.path());
    let dump = empty_folder();
    let manifest = r#"{"format": "nanscope-dump", "format_version": 1, "level": "stats", "complete": true,
        "writer": {"name": "test"}, "records_file": "records.jsonl"}"#;
    std::fs::write(dump.path().join("manifest.json"), manifest).unwrap();
    std::fs::write(dump.path().join("records.jsonl"), "").unwrap();
    assert_nothing_to_check(&["trace", dump.path().to_str().unwrap()], dump.path());
}

#[test]
fn scheduler_and_replay_judge_an_empty_file_as_input() {
    // A file that exists is read: an empty scheduler config is a finding
    // (exit 1), an empty replay spec a usage error naming the missing key.
    let dir = empty_folder();
    let config: PathBuf = dir.path().join("scheduler_config.json");
    std::fs::write(&config, "").unwrap();
    let (code, _, stderr) = nanscope(&["scheduler", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "").unwrap();
    let (code, _, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("steps"), "{stderr}");
}

/// Issue #5: `pose check` takes several folders, each a sequence.
#[test]
fn pose_check_accepts_several_folders() {
    let clean = fixture("pose/echomimic_clean");
    let bad = fixture("pose/echomimic_bad");
    let (code, stdout, stderr) = nanscope(&["pose", "check", &clean, &bad, "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["inputs"], serde_json::json!([clean, bad]));
    let (_, one, _) = nanscope(&["pose", "check", &clean, "--format", "json"]);
    let (_, two, _) = nanscope(&["pose", "check", &bad, "--format", "json"]);
    let frames = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap()["summary"]["frames"].clone();
    assert_eq!(frames(&stdout).as_u64().unwrap(), frames(&one).as_u64().unwrap() + frames(&two).as_u64().unwrap());
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["subject"]["file"].as_str().is_some_and(|file| file.contains("echomimic_bad")))
    );
}

/// Issue #9: impossible option values are refused at parse time, naming the option.
#[test]
fn impossible_option_values_are_refused() {
    let clip = fixture("weights/unet");
    for (args, option) in [
        (vec!["video", "check", "--expect-fps", "0", &clip], "--expect-fps"),
        (vec!["video", "check", "--expect-frames", "0", &clip], "--expect-frames"),
        (vec!["video", "check", "--av-tolerance=-1", &clip], "--av-tolerance"),
        (vec!["weights", "-j", "0", &clip], "--threads"),
        (vec!["pose", "check", "--fps", "0", &clip], "--fps"),
    ] {
        let (code, stdout, stderr) = nanscope(&args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(option), "{args:?}: {stderr}");
    }
}

/// Issue #9: a negative number is a value with or without `=`, so both
/// spellings reach the same explanation.
#[test]
fn negative_numbers_are_values_with_or_without_equals() {
    let a = fixture("weights/unet");
    let (code, _, spaced) = nanscope(&["diff", &a, &a, "--atol", "-1"]);
    assert_eq!(code, 2, "{spaced}");
    let (_, _, joined) = nanscope(&["diff", &a, &a, "--atol=-1"]);
    assert_eq!(spaced, joined);
    assert!(spaced.contains("--atol must be a non-negative number"), "{spaced}");
    let (code, _, stderr) = nanscope(&["video", "check", "--black-level", "-5", &a]);
    assert_eq!(code, 2);
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
}

/// Issue #9: `-o` says what it writes for the commands that write files,
/// and `--dump-level` is explained.
#[test]
fn help_explains_output_and_dump_level() {
    let (_, help, _) = nanscope(&["video", "repair", "--help"]);
    let output_help = help.split("-o, --output").nth(1).unwrap_or_default();
    for what in ["report", "video", "folder", "PNG"] {
        assert!(output_help.contains(what), "-o help does not mention {what}: {output_help}");
    }
    let (_, help, _) = nanscope(&["replay", "--help"]);
    let level = help.split("--dump-level").nth(1).unwrap_or_default();
    assert!(level.contains("stats") && level.contains("tensors"), "{level}");
}

/// Issue #11: tables fit the terminal, name files relative to the argument,
/// and count in words.
#[test]
fn tables_fit_the_terminal_and_read_as_words() {
    let weights = fixture("weights");
    let output = Command::cargo_bin("nanscope")
        .unwrap()
        .env("COLUMNS", "100")
        .args(["weights", &weights, "--fail-on", "never", "--no-progress"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 100, "{widest} columns:\n{text}");
    assert!(!text.contains(&format!("{weights}/")), "paths are not relative to the argument:\n{text}");
    assert!(text.contains(" broken/"), "{text}");
    let a = fixture("weights/unet");
    let (_, text, _) = nanscope(&["diff", &a, &a]);
    let summary = text.lines().last().unwrap();
    assert!(summary.contains("tensors in A") && !summary.contains('_'), "{summary}");
    let (_, json, _) = nanscope(&["diff", &a, &a, "--format", "json"]);
    assert!(json.contains("\"tensors_a\""), "JSON keeps its keys");
}
