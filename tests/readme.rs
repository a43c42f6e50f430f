//! Issue #12: the README's sample report stays true. The JSON sample under
//! "Reports and exit codes" is compared with a real run on the fixture it
//! names; the README's first code block keeps the two fresh-machine commands, the first
//! of them `postmortem` on the embedded seed incident.

use assert_cmd::Command;
use serde_json::Value;

const README: &str = include_str!("../README.md");
const MARKER: &str = "<!-- readme-sample: ";

/// The command line after the marker and the code block that follows it.
fn sample() -> (Vec<String>, Value) {
    let start = README.find(MARKER).expect("README has a readme-sample marker");
    let rest = &README[start + MARKER.len()..];
    let (command, rest) = rest.split_once(" -->").unwrap();
    let block = rest.split_once("```json\n").unwrap().1.split_once("\n```").unwrap().0;
    let json = serde_json::from_str(block).unwrap_or_else(|e| panic!("README sample is not JSON: {e}"));
    (command.split_whitespace().map(String::from).collect(), json)
}

#[test]
fn the_json_sample_matches_the_fixture() {
    let (args, sample) = sample();
    let output = Command::cargo_bin("nanscope")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .arg("--no-progress")
        .output()
        .unwrap();
    let actual: Value = serde_json::from_slice(&output.stdout).unwrap();
    for key in ["schema_version", "command", "inputs", "summary"] {
        assert_eq!(actual[key], sample[key], "README sample `{key}` is stale");
    }
    assert_eq!(actual["tool"]["name"], sample["tool"]["name"]);
    let shown = &sample["findings"][0];
    let found = actual["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["message"] == shown["message"])
        .unwrap_or_else(|| panic!("README sample finding not in the report: {}", shown["message"]));
    for key in ["code", "rule", "severity", "subject", "evidence"] {
        assert_eq!(found[key], shown[key], "README sample finding `{key}` is stale");
    }
    assert!(shown["help"].as_str().unwrap().starts_with(&found["help"].as_str().unwrap()[..40]));
    let shown_file = &sample["files"][0];
    assert!(
        actual["files"].as_array().unwrap().iter().any(|f| f["format"] == shown_file["format"]
            && f["bytes"] == shown_file["bytes"]
            && f["tensors"] == shown_file["tensors"]),
        "README sample file is stale"
    );
    let shown_tensor = &sample["tensors"][0];
    let tensor = actual["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == found["subject"]["tensor"] && t["file"] == found["subject"]["file"])
        .expect("the sample tensor");
    for key in ["dtype", "shape"] {
        assert_eq!(tensor[key], shown_tensor[key], "README sample tensor `{key}` is stale");
    }
    for key in
        ["count", "nan", "pos_inf", "neg_inf", "zero", "subnormal", "first_nonfinite_flat", "overflow", "underflow"]
    {
        assert_eq!(tensor["stats"][key], shown_tensor["stats"][key], "README sample stats `{key}` is stale");
    }
    for key in ["min", "max", "absmax", "mean", "std"] {
        let (a, s) = (tensor["stats"][key].as_f64().unwrap(), shown_tensor["stats"][key].as_f64().unwrap());
        assert!((a - s).abs() <= 0.006, "README sample stats `{key}`: {s} shown, {a} measured");
    }
}

#[test]
fn the_first_code_block_runs_the_fixture_and_the_tests() {
    let block = README.split_once("```sh\n").unwrap().1.split_once("\n```").unwrap().0;
    let commands: Vec<&str> = block.lines().map(|l| l.split('#').next().unwrap().trim()).collect();
    assert_eq!(
        commands,
        ["cargo run --release -- postmortem fixtures/postmortem/seed --fail-on never", "bash scripts/test.sh"]
    );
}
