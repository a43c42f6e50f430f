//! `nanscope weights` on pickles that a loader would execute, in every
//! protocol and layout (fixtures made by `fixtures/make_pickle.py`), through
//! the real binary and its JSON report. Each test guards a class of file that
//! used to pass with exit 0 or be skipped.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

#[path = "common/inert_scan.rs"]
mod inert_scan;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pickle").join(rel)
}

/// Runs a JSON scan from an empty working directory (a payload that ran
/// would leave `nanscope_pickle_ran` there) and returns report and exit code.
fn scan(args: &[&str], rels: &[&str]) -> (Value, i32) {
    inert_scan::scan(args, &rels.iter().map(|rel| fixture(rel)).collect::<Vec<_>>())
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == code).collect()
}

fn format_of(report: &Value) -> String {
    report["files"][0]["format"].as_str().unwrap_or_default().to_string()
}

/// Protocols below 3 spell `builtins` as Python 2's `__builtin__`.
fn is_eval(finding: &Value) -> bool {
    matches!(finding["evidence"]["global"].as_str(), Some("builtins.eval" | "__builtin__.eval"))
}

fn nan_in(report: &Value, tensor: &str) -> bool {
    findings(report, "W101").iter().any(|f| f["subject"]["tensor"] == tensor)
}

#[test]
fn issue_pickle_security_every_protocol_calling_eval_is_an_error() {
    for p in 0..=5 {
        let (report, code) = scan(&[], &[&format!("proto{p}_eval.pkl")]);
        assert_eq!(code, 1, "protocol {p}: {}", report["findings"]);
        assert_eq!(format_of(&report), "pickle", "protocol {p}");
        let s101 = findings(&report, "S101");
        assert_eq!(s101.len(), 1, "protocol {p}: {:?}", codes(&report));
        assert!(is_eval(s101[0]));
    }
}

#[test]
fn issue_pickle_security_arrays_in_every_protocol_are_scanned() {
    for p in 0..=5 {
        let (report, code) = scan(&[], &[&format!("proto{p}_arrays.pkl")]);
        assert_eq!(code, 1, "protocol {p}");
        assert!(nan_in(&report, "conv.weight"), "protocol {p}: {}", report["findings"]);
        assert!(findings(&report, "S101").is_empty(), "protocol {p}: {:?}", codes(&report));
        assert_eq!(report["tensors"].as_array().unwrap().len(), 2, "protocol {p}");
    }
}

#[test]
fn issue_pickle_security_directory_scans_keep_pickle_family_and_extensionless_pickles() {
    let (report, code) = scan(&[], &["dir"]);
    assert_eq!(code, 1);
    let mut files: Vec<String> = findings(&report, "S101")
        .iter()
        .map(|f| Path::new(f["subject"]["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["model", "model.dill", "model.joblib", "model.pickle", "model.sav"]);
    assert!(!report["files"].as_array().unwrap().iter().any(|f| f["file"].as_str().unwrap().ends_with("README.md")));
}

#[test]
fn issue_pickle_security_a_pickle_after_stop_is_read() {
    let (report, code) = scan(&[], &["two_pickles.pkl"]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report, "S104").len(), 1, "{:?}", codes(&report));
    assert!(is_eval(findings(&report, "S101")[0]));
    let (report, code) = scan(&[], &["trailing_junk.pkl"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&report), ["F105"]);
}

#[test]
fn issue_pickle_security_opcodes_across_a_frame_boundary_are_s105() {
    for file in ["frame_straddle.pkl", "frame_in_frame.pkl"] {
        let (report, code) = scan(&[], &[file]);
        assert_eq!(code, 1, "{file}");
        assert_eq!(findings(&report, "S105").len(), 1, "{file}: {:?}", codes(&report));
        assert_eq!(findings(&report, "S101").len(), 1, "{file}");
    }
}

#[test]
fn issue_pickle_security_legacy_magic_in_any_encoding_and_every_pickle_scanned() {
    for file in ["legacy_magic_long4.pt", "legacy_magic_text.pt"] {
        let (report, code) = scan(&[], &[file]);
        assert_eq!(code, 1, "{file}");
        assert_eq!(format_of(&report), "pytorch-legacy", "{file}");
        assert!(is_eval(findings(&report, "S101")[0]), "{file}");
        assert!(nan_in(&report, "w"), "{file}: {}", report["findings"]);
    }
    let (report, code) = scan(&[], &["legacy_eval_after_area.pt"]);
    assert_eq!(code, 1);
    assert!(is_eval(findings(&report, "S101")[0]));
    assert!(nan_in(&report, "w"));
}

#[test]
fn issue_real_world_python2_legacy_checkpoints_are_read_as_torch_reads_them() {
    let (report, code) = scan(&[], &["legacy_py2.pth"]);
    assert_eq!(code, 1);
    assert_eq!(format_of(&report), "pytorch-legacy");
    assert_eq!(codes(&report), ["W101"], "{}", report["findings"]);
    assert!(nan_in(&report, "w"));
}

#[test]
fn issue_real_world_an_npy_holding_a_dict_of_arrays_is_scanned_as_named_tensors() {
    let (report, code) = scan(&[], &["dict_of_arrays.npy"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&report), ["W101"], "{}", report["findings"]);
    assert!(nan_in(&report, "conv.weight"));
    assert_eq!(report["tensors"].as_array().unwrap().len(), 2);
}

#[test]
fn issue_pickle_security_object_arrays_get_the_same_verdict_as_in_pose() {
    let (report, code) = scan(&[], &["object_eval.npy"]);
    assert_eq!(code, 1);
    assert!(is_eval(findings(&report, "S101")[0]));
    let pose = Command::cargo_bin("nanscope")
        .unwrap()
        .args(["pose", "check", "--format", "json", "--no-progress"])
        .arg(fixture("object_eval.npy"))
        .output()
        .unwrap();
    let pose: Value = serde_json::from_slice(&pose.stdout).unwrap();
    assert!(pose["findings"].as_array().unwrap().iter().any(|f| f["code"] == "S101"), "{}", pose["findings"]);

    let (report, code) = scan(&[], &["object_members.npz"]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report, "S101")[0]["evidence"]["entry"], "payload.npy");
    let inf = findings(&report, "W101");
    assert_eq!(inf[0]["subject"]["tensor"], "state.proj.weight", "{}", report["findings"]);
}
