//! Running the binary from the integration tests: one copy of the helpers
//! the command tests share (spawning `nanscope`, reading its JSON report,
//! naming fixtures).

#![allow(dead_code)]

use assert_cmd::Command;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The `nanscope` binary of this build.
pub fn nanscope() -> Command {
    Command::cargo_bin("nanscope").unwrap()
}

/// `fixtures/RELATIVE` under the repository, as an absolute path.
pub fn fixture(relative: &str) -> String {
    format!("{}/fixtures/{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `nanscope ARGS --format json` and returns its exit code and report,
/// failing the test (with stderr) when it panicked or printed no report.
pub fn report<T: DeserializeOwned>(args: &[&str]) -> (Option<i32>, T) {
    let output = nanscope().args(args).args(["--format", "json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (output.status.code(), report)
}

/// Runs `nanscope ARGS --format json` for tests that also read stderr or
/// expect no report: exit code (-1 when killed), the report (`Null` when
/// stdout is not JSON) and stderr.
pub fn run(args: &[&str]) -> (i32, Value, String) {
    let output = nanscope().args(args).args(["--format", "json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), report, stderr)
}
