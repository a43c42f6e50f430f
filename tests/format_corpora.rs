//! nanscope's verdict on every case of the format corpora
//! (`fixtures/make_format_cases.py`): a file the reference loader rejects is
//! an error, a file it accepts is not, unless the case documents why nanscope
//! is stricter. Then the messages of the cases the issues named.

use std::path::Path;

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

const CORPUS: &str = "fixtures/format";

#[derive(Deserialize)]
struct Case {
    corpus: String,
    name: String,
    file: String,
    expect: String,
    stricter: Option<String>,
}

/// The F and S findings of one file, as (code, severity, message).
fn findings(file: &str) -> Vec<(String, String, String)> {
    let path = Path::new(CORPUS).join(file);
    let output = Command::cargo_bin("nanscope")
        .expect("binary builds")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--format", "json", "weights"])
        .arg(&path)
        .output()
        .expect("runs");
    // A well-formed file that holds no tensors leaves nothing to check: the
    // run exits 2 by the input policy, and the format itself is not judged.
    if output.status.code() == Some(2) && String::from_utf8_lossy(&output.stderr).contains("nothing to check") {
        return Vec::new();
    }
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{file}: stdout is not a report ({e}): {}", String::from_utf8_lossy(&output.stdout))
    });
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"].as_str().is_some_and(|c| c.starts_with('F') || c.starts_with('S')))
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (text("code"), text("severity"), text("message"))
        })
        .collect()
}

fn error<'a>(found: &'a [(String, String, String)], code: &str) -> &'a str {
    found
        .iter()
        .find(|(c, s, _)| c == code && s == "error")
        .map(|(_, _, m)| m.as_str())
        .unwrap_or_else(|| panic!("no {code} error in {found:#?}"))
}

#[test]
fn every_corpus_case_agrees_with_its_reference_loader_or_says_why_not() {
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(Path::new(CORPUS).join("cases.json")).unwrap()).unwrap();
    assert!(cases.len() > 100);
    let mut wrong = Vec::new();
    for case in &cases {
        let found = findings(&case.file);
        let rejects = found.iter().any(|(_, severity, _)| severity == "error");
        let expected = case.expect == "reject" || case.stricter.is_some();
        if rejects != expected {
            wrong.push(format!("{}/{}: expected reject={expected}, got {found:?}", case.corpus, case.name));
        }
    }
    assert!(wrong.is_empty(), "{} cases disagree:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn issue_duplicate_zip_records_name_both_and_are_judged_as_each_loader_reads() {
    let found = findings("torch/duplicate_data_pkl.pt");
    let message = error(&found, "F108");
    assert!(message.contains("2 zip records are named archive/data.pkl"), "{message}");
    assert!(message.contains("PyTorch's zip reader reads"), "{message}");
    let found = findings("npz/duplicate_member.npz");
    assert!(error(&found, "F108").contains("numpy's zip reader"), "{found:?}");
}

#[test]
fn issue_a_pickle_inside_an_npz_is_a_pickle_not_a_short_npy() {
    let found = findings("npz/pickle_member.npz");
    assert!(found.iter().any(|(c, s, m)| c == "F101" && s == "warning" && m.contains("is a pickle")), "{found:?}");
    assert!(!found.iter().any(|(_, _, m)| m.contains("too short")), "{found:?}");
}

#[test]
fn issue_overlapping_zip_records_are_refused() {
    let found = findings("torch/storages_share_one_record.pt");
    assert!(error(&found, "F108").contains("overlaps the bytes of record archive/data/0"), "{found:?}");
    let found = findings("npz/overlapping_members.npz");
    assert_eq!(found.iter().filter(|(_, _, m)| m.contains("overlaps")).count(), 15, "{found:?}");
}

#[test]
fn issue_messages_name_the_actual_problem() {
    let found = findings("safetensors/shape_overflow.safetensors");
    assert!(error(&found, "F104").contains("overflows"), "{found:?}");
    let found = findings("npy/version_1_1.npy");
    assert!(error(&found, "F104").contains("version 1.1"), "{found:?}");
    let found = findings("gguf/kv_duplicate_key.gguf");
    assert!(error(&found, "F107").contains("ggml refuses"), "{found:?}");
    let found = findings("npy/trailing_bytes.npy");
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].0.as_str(), found[0].1.as_str()), ("F105", "warning"));
    let found = findings("npy/structured.npy");
    assert_eq!((found[0].0.as_str(), found[0].1.as_str()), ("F106", "info"), "{found:?}");
}

/// The (min, max) of each tensor nanscope read from a corpus file.
fn tensor_ranges(file: &str) -> Vec<(String, f64, f64)> {
    let output = Command::cargo_bin("nanscope")
        .expect("binary builds")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--format", "json", "weights"])
        .arg(Path::new(CORPUS).join(file))
        .output()
        .expect("runs");
    let report: Value = serde_json::from_slice(&output.stdout).expect("a report");
    let mut out: Vec<(String, f64, f64)> = report["tensors"]
        .as_array()
        .expect("tensors")
        .iter()
        .map(|t| {
            let stat = |k: &str| t["stats"][k].as_f64().unwrap_or(f64::NAN);
            (t["name"].as_str().unwrap_or_default().to_string(), stat("min"), stat("max"))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn issue_duplicate_records_are_read_as_torch_load_reads_them() {
    // Values measured with torch.load on these files: a duplicate storage
    // record listed before the original is the one torch reads, one listed
    // after it is not, and the second data.pkl is ignored.
    let ranges = tensor_ranges;
    let w = |lo, hi| ("w".to_string(), lo, hi);
    let v = ("v".to_string(), 3.0, 4.0);
    assert_eq!(ranges("torch/duplicate_storage_before.pt"), [v.clone(), w(7.0, 7.0)]);
    assert_eq!(ranges("torch/duplicate_storage_after.pt"), [v, w(1.0, 2.0)]);
    assert_eq!(ranges("torch/duplicate_data_pkl.pt"), [("x".to_string(), 1.0, 2.0)]);
}
