//! `nanscope merge` of `gate --shard I/N` reports: the merged report and its
//! exit code are those of one unsharded run, each check judged by its own
//! `fail-on` (issue #14), and a suppression is unused only when no shard used it.

mod common;

use std::path::{Path, PathBuf};

use common::write::f32_safetensors as safetensors;
use serde_json::Value;

fn nanscope() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("nanscope").unwrap()
}

const HEALTHY: [f32; 8] = [0.5, -0.25, 0.125, 1.0, -1.0, 0.75, -0.5, 0.3];
const ZEROS: [f32; 8] = [0.0; 8];
const NAN: [f32; 8] = [0.5, f32::NAN, 0.125, 1.0, -1.0, 0.75, -0.5, 0.3];

/// Two checks of differing `fail-on`: `strict` fails on warnings (an all-zero
/// tensor is W104, a warning), `lenient` never fails (its NaN is W101, an error).
fn project(name: &str, strict_zeros: bool) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gate-merge-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("strict")).unwrap();
    std::fs::create_dir_all(dir.join("lenient")).unwrap();
    for i in 0..6 {
        let zeros = strict_zeros && i == 2;
        safetensors(&dir.join(format!("strict/s{i}.safetensors")), if zeros { &ZEROS } else { &HEALTHY });
        safetensors(&dir.join(format!("lenient/l{i}.safetensors")), if i == 4 { &NAN } else { &HEALTHY });
    }
    // Suppressed in whichever shard checks it.
    safetensors(&dir.join("strict/known_zero.safetensors"), &ZEROS);
    std::fs::write(
        dir.join("nanscope.toml"),
        r#"[gate]
baselines = "baselines"

[[gate.check]]
name = "strict"
kind = "weights"
paths = ["strict/*.safetensors"]
fail-on = "warning"

[[gate.check]]
name = "lenient"
kind = "weights"
paths = ["lenient/*.safetensors"]
fail-on = "never"

[[gate.allow]]
code = "W104"
path = "strict/known_zero.safetensors"
reason = "a placeholder tensor"

[[gate.allow]]
code = "W101"
path = "strict/s9.safetensors"
reason = "matches nothing"
"#,
    )
    .unwrap();
    dir
}

/// `nanscope gate ARGS --format json -o OUT` in `dir`: the exit code.
fn gate(dir: &Path, args: &[&str], out: &Path) -> i32 {
    let output = nanscope()
        .current_dir(dir)
        .arg("gate")
        .args(args)
        .args(["--no-progress", "--format", "json", "-o"])
        .arg(out)
        .output()
        .unwrap();
    assert!(out.exists(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.status.code().unwrap()
}

fn merge(reports: &[PathBuf], out: &Path, extra: &[&str]) -> (i32, Value) {
    let output =
        nanscope().arg("merge").args(reports).args(extra).args(["--format", "json", "-o"]).arg(out).output().unwrap();
    assert!(out.exists(), "merge: {}", String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap(), serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap())
}

fn codes(report: &Value) -> Vec<&str> {
    report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect()
}

/// One run, and `total` shards merged: equal reports, equal exit codes.
fn shards_equal_one_run(name: &str, strict_zeros: bool, total: u32) -> (i32, Value) {
    let dir = project(name, strict_zeros);
    let whole = dir.join("whole.json");
    let code = gate(&dir, &[], &whole);
    let raw: Value = serde_json::from_slice(&std::fs::read(&whole).unwrap()).unwrap();
    let (one_code, one) = merge(std::slice::from_ref(&whole), &dir.join("one.json"), &[]);
    let shards: Vec<PathBuf> = (1..=total)
        .map(|i| {
            let out = dir.join(format!("shard{i}.json"));
            gate(&dir, &["--shard", &format!("{i}/{total}")], &out);
            out
        })
        .collect();
    // Every shard must have checked something of both checks for the test to mean anything.
    let split: Vec<usize> = shards
        .iter()
        .map(|s| {
            let doc: Value = serde_json::from_slice(&std::fs::read(s).unwrap()).unwrap();
            doc["summary"]["files"].as_u64().unwrap() as usize
        })
        .collect();
    assert!(split.iter().filter(|&&n| n > 0).count() >= 2, "{name}: shards did not split the work: {split:?}");
    let (merged_code, merged) = merge(&shards, &dir.join("merged.json"), &[]);
    assert_eq!(merged, one, "{name}: merged shards differ from one run");
    assert_eq!(merged["summary"], raw["summary"], "{name}");
    assert_eq!((merged_code, one_code), (code, code), "{name}: exit codes of the merge and of one run");
    (code, merged)
}

#[test]
fn a_warning_fails_its_strict_check_across_shards() {
    let (code, report) = shards_equal_one_run("strict", true, 3);
    assert_eq!(code, 1, "{report}");
    let found = codes(&report);
    assert!(found.contains(&"W104") && found.contains(&"W101"), "{found:?}");
    assert_eq!(report["summary"]["checks"], 2);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "one line per check, not per shard");
    assert_eq!((checks[0]["name"].as_str(), checks[0]["failed"].as_bool()), (Some("strict"), Some(true)));
    assert_eq!(checks[0]["files"].as_array().unwrap().len(), 7);
    assert_eq!((checks[1]["name"].as_str(), checks[1]["failed"].as_bool()), (Some("lenient"), Some(false)));
    let w104 = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "W104").unwrap();
    assert_eq!(
        (w104["evidence"]["check"].as_str(), w104["evidence"]["fail_on"].as_str()),
        (Some("strict"), Some("warning"))
    );
    // The used suppression is used once, the other is G121 once.
    assert_eq!(found.iter().filter(|&&c| c == "G121").count(), 1, "{found:?}");
    assert_eq!(report["summary"]["suppressed"], 1);
    // The global --fail-on does not override a check's own.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gate-merge-strict");
    let (code, _) = merge(&[dir.join("merged.json")], &dir.join("again.json"), &["--fail-on", "never"]);
    assert_eq!(code, 1);
}

#[test]
fn an_error_under_fail_on_never_passes_across_shards() {
    // Before the checks carried their fail-on, the merge failed on the lenient check's NaN.
    let (code, report) = shards_equal_one_run("lenient", false, 3);
    assert_eq!(code, 0, "{report}");
    assert!(codes(&report).contains(&"W101"));
}
