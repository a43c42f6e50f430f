//! Shared setup of the video integration tests: the fixture clips made by
//! `fixtures/video/make.sh`, and running `nanscope video …` with JSON output.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// True when ffmpeg can run here. The suite needs it (CI installs it); without
/// it each video test prints why it is skipped instead of passing silently.
#[allow(clippy::print_stderr)]
pub fn ffmpeg_available(test: &str) -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    let available = *AVAILABLE.get_or_init(|| {
        let ok = |p: &str| Command::new(p).arg("-version").output().is_ok_and(|o| o.status.success());
        ok("ffmpeg") && ok("ffprobe")
    });
    if !available {
        eprintln!("SKIP {test}: ffmpeg/ffprobe not found on PATH (scripts/test.sh installs them)");
    }
    available
}

/// The directory holding the generated clips, made once per test binary.
pub fn fixtures(binary: &str) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("video-fixtures-{binary}"));
        let _ = std::fs::remove_dir_all(&dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/video/make.sh");
        let status = Command::new("bash").arg(script).arg(&dir).status().expect("run fixtures/video/make.sh");
        assert!(status.success(), "fixtures/video/make.sh failed");
        dir
    })
}

/// A fresh scratch directory under the target tmpdir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("video-scratch-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Run {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

/// Runs `nanscope video <args> --format json` and parses the report.
pub fn nanscope_json(args: &[&str]) -> Run {
    let output = assert_cmd::Command::cargo_bin("nanscope")
        .unwrap()
        .arg("video")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    Run {
        code: output.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Findings of a report with this code.
pub fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"].as_array().map(|a| a.iter().filter(|f| f["code"] == code).collect()).unwrap_or_default()
}

/// The codes of every finding, sorted.
pub fn codes(report: &Value) -> Vec<String> {
    let mut codes: Vec<String> = report["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["code"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    codes.sort();
    codes
}

/// `subject.frames` (or `[frame, frame]`) of a finding.
pub fn frame_range(finding: &Value) -> Option<[u64; 2]> {
    let subject = &finding["subject"];
    if let Some(frame) = subject["frame"].as_u64() {
        return Some([frame, frame]);
    }
    let frames = subject["frames"].as_array()?;
    Some([frames.first()?.as_u64()?, frames.get(1)?.as_u64()?])
}

/// Frame indices whose `flags` contain `flag`, for one file of a check report.
pub fn flagged(report: &Value, flag: &str) -> Vec<u64> {
    report["frames"]
        .as_array()
        .map(|frames| {
            frames
                .iter()
                .filter(|f| f["flags"].as_array().is_some_and(|fl| fl.iter().any(|x| x == flag)))
                .filter_map(|f| f["index"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}
