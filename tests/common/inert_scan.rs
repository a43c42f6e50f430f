//! A JSON `weights` scan that proves no pickle ran: it starts in an empty
//! working directory, where a payload that ran would leave
//! `nanscope_pickle_ran`. Included with `#[path]` by the pickle tests.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

/// Scans `paths` with the extra `args` and returns the report and exit code.
pub fn scan(args: &[&str], paths: &[PathBuf]) -> (Value, i32) {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("nanscope").unwrap();
    cmd.current_dir(cwd.path()).args(["weights", "--format", "json", "--all-tensors", "--no-progress"]).args(args);
    cmd.args(paths);
    let out = cmd.output().unwrap();
    assert!(!cwd.path().join("nanscope_pickle_ran").exists(), "pickle code ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (report, out.status.code().unwrap_or(-1))
}
