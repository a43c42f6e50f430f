//! `nanscope trace` on dump folders: the committed fixtures written by the
//! Python probe, malformed dumps, and (when torch is importable) a fresh dump
//! written by the probe itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/trace").join(name)
}

fn nanscope(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nanscope")).args(args).arg("--format").arg("json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// What the fixture generator measured with its own hook.
#[derive(Debug, Deserialize)]
struct Expected {
    module: String,
    step: u64,
    timestep: f64,
    frames: [u64; 2],
}

fn expected(dir: &Path) -> Expected {
    serde_json::from_str(&fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap()
}

fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == code).collect()
}

fn assert_names_the_planted_overflow(dir: &Path) {
    let want = expected(dir);
    let (code, report, stderr) = nanscope(&["trace", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["command"], "trace");
    let producers = findings(&report, "R120");
    assert_eq!(producers.len(), 1, "{report:#}");
    let subject = &producers[0]["subject"];
    assert_eq!(subject["module"], want.module.as_str());
    assert_eq!(subject["step"], want.step);
    assert_eq!(subject["timestep"], want.timestep);
    assert_eq!(subject["frames"], serde_json::json!(want.frames));
    assert_eq!(subject["stage"], "unet");
    // The same module came close to overflow one step earlier.
    let near = findings(&report, "R122");
    assert!(
        near.iter().any(|f| f["subject"]["module"] == want.module.as_str() && f["subject"]["step"] == want.step - 1)
    );
    // The attention mask's -Inf is not blamed, and no parent block is called a second producer.
    assert!(findings(&report, "R124").len() == 1);
    assert!(findings(&report, "R125").is_empty(), "{:#}", report["findings"]);
    let propagation = findings(&report, "R123");
    assert_eq!(propagation[0]["evidence"]["latents_nonfinite_step"], want.step);
    // The timeline: per (step, stage) rows, NaN-free before the overflow step.
    let stages = report["stages"].as_array().unwrap();
    assert!(stages.iter().any(|r| r["stage"] == "vae.decode" && r["nan_share"] == 1.0));
    for row in stages.iter().filter(|r| r["step"].as_u64().is_some_and(|s| s < want.step)) {
        assert_eq!(row["nonfinite_records"], 0, "{row}");
    }
    assert!(report["records"]["total"].as_u64().unwrap() > 50);
    assert_eq!(report["records"]["first_nonfinite"][0]["role"], "producer");
}

#[test]
fn trace_names_the_planted_module_and_step_in_the_stats_dump() {
    assert_names_the_planted_overflow(&fixture("planted-stats"));
}

#[test]
fn trace_reads_the_stage_payloads_of_the_stages_dump() {
    let dir = fixture("planted-stages");
    assert_names_the_planted_overflow(&dir);
    let (_, report, _) = nanscope(&["trace", dir.to_str().unwrap(), "--recompute-stats"]);
    assert_eq!(report["records"]["level"], "stages");
    assert!(report["records"]["with_payload"].as_u64().unwrap() >= 9);
    assert_eq!(report["records"]["recomputed"], report["records"]["with_payload"]);
    assert!(report["findings"].as_array().unwrap().iter().all(|f| !f["code"].as_str().unwrap().starts_with('F')));
}

#[test]
fn table_output_names_the_producer_and_prints_the_timeline() {
    let out = Command::new(env!("CARGO_BIN_EXE_nanscope"))
        .args(["trace", fixture("planted-stats").to_str().unwrap(), "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("R120") && text.contains(&expected(&fixture("planted-stats")).module), "{text}");
    assert!(text.contains("Timeline"));
}

#[test]
fn a_folder_without_a_manifest_is_a_finding_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("records.jsonl"), "").unwrap();
    let (code, report, _) = nanscope(&["trace", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(report["findings"][0]["code"], "F130");
    // An empty folder is nothing to check: exit 2, like every command.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, stderr) = nanscope(&["trace", empty.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to check"), "{stderr}");
}

#[test]
fn a_damaged_copy_of_the_fixture_reports_each_problem_and_still_finds_the_producer() {
    let src = fixture("planted-stages");
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path();
    fs::create_dir(dst.join("tensors")).unwrap();
    for entry in fs::read_dir(src.join("tensors")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dst.join("tensors").join(entry.file_name())).unwrap();
    }
    fs::copy(src.join("manifest.json"), dst.join("manifest.json")).unwrap();
    let records = fs::read_to_string(src.join("records.jsonl")).unwrap();
    let mut lines: Vec<String> = records.lines().map(String::from).collect();
    // One payload deleted, one record's shape changed, one line cut short.
    let with_payload: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains("\"payload\"")).collect();
    let gone: Value = serde_json::from_str(&lines[with_payload[0]]).unwrap();
    fs::remove_file(dst.join(gone["payload"]["file"].as_str().unwrap())).unwrap();
    let mut changed: Value = serde_json::from_str(&lines[with_payload[1]]).unwrap();
    changed["shape"] = serde_json::json!([7]);
    lines[with_payload[1]] = changed.to_string();
    lines.push("{\"seq\": 9999, \"module\": \"cut".into());
    fs::write(dst.join("records.jsonl"), lines.join("\n")).unwrap();

    let (code, report, _) = nanscope(&["trace", dst.to_str().unwrap()]);
    assert_eq!(code, 1);
    for code in ["F132", "F133", "F134", "R120"] {
        assert_eq!(findings(&report, code).len(), 1, "{code}: {:#}", report["findings"]);
    }
}

#[test]
fn bad_options_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_nanscope"))
        .args(["trace", fixture("planted-stats").to_str().unwrap(), "--headroom", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Whether python3 can import torch, safetensors and numpy; the probe tests
/// are skipped without them (as on CI, which has no torch).
fn has_torch() -> bool {
    Command::new("python3").args(["-c", "import torch, safetensors, numpy"]).output().is_ok_and(|o| o.status.success())
}

/// The probe's statistics against a NumPy reference, shared folders and aborted runs.
#[test]
fn the_python_probe_passes_its_own_checks() {
    if !has_torch() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/test_nanscope_probe.py");
    let out = Command::new("python3").arg(script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Runs the fixture generator (the Python probe on a tiny fp16 model) into a
/// temporary folder and traces the result, with statistics read at once and
/// with them kept back until each step ends.
#[test]
fn the_python_probe_writes_dumps_that_trace_localises() {
    if !has_torch() {
        return;
    }
    // `always` keeps the statistics on the device until step() as on a GPU.
    for defer in ["auto", "always"] {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/make_trace_dump.py");
        let out = Command::new("python3")
            .arg(script)
            .arg("--out")
            .arg(dir.path())
            .env("NANSCOPE_PROBE_DEFER", defer)
            .output()
            .unwrap();
        assert!(out.status.success(), "{defer}: {}", String::from_utf8_lossy(&out.stderr));
        assert_names_the_planted_overflow(&dir.path().join("planted-stats"));
        assert_names_the_planted_overflow(&dir.path().join("planted-stages"));
    }
}

#[test]
fn plot_draws_the_timeline_and_lists_it_in_the_report() {
    let out = tempfile::tempdir().unwrap();
    let plots = out.path().join("plots");
    let dir = fixture("planted-stats");
    let (code, report, _) = nanscope(&["trace", dir.to_str().unwrap(), "--plot", plots.to_str().unwrap()]);
    assert_eq!(code, 1);
    let png = plots.join("timeline.png");
    assert_eq!(report["plots"][0].as_str(), Some(png.to_str().unwrap()));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000, "{} bytes", bytes.len());
}

// Item 4 of the real-world-files issue: a dump written by Python's json with
// allow_nan on (bare NaN/Infinity in the manifest and the records) is read,
// and the NaN-producing module is still found. Fixtures by
// fixtures/make_python_json.py.
#[test]
fn dumps_with_python_nan_tokens_are_read() {
    for name in ["python-nan-lines", "python-nan-inline"] {
        let (code, report, stderr) = nanscope(&["trace", fixture(name).to_str().unwrap()]);
        assert_eq!(code, 1, "{name}: {stderr}");
        for bad in ["F130", "F131", "F132"] {
            assert!(findings(&report, bad).is_empty(), "{name}: {:#?}", report["findings"]);
        }
        let producer = findings(&report, "R120");
        assert_eq!(producer.len(), 1, "{name}: {:#?}", report["findings"]);
        assert_eq!(producer[0]["subject"]["module"], "unet.mid_block.resnets.0.conv1", "{name}");
    }
}
