//! CI outputs: `--shard I/N` runs merged by `nanscope merge` equal one run,
//! and the JUnit and SARIF files validate against the published schemas.

mod video_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn nanscope() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("nanscope").unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ci-outputs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `nanscope ARGS --format json -o OUT` and returns the exit code.
fn run_json(args: &[&str], out: &Path) -> i32 {
    let output = nanscope().args(args).args(["--no-progress", "--format", "json", "-o"]).arg(out).output().unwrap();
    assert!(out.exists(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.status.code().unwrap()
}

fn merged(reports: &[PathBuf], out: &Path) -> (i32, Value) {
    let output = nanscope().arg("merge").args(reports).args(["--format", "json", "-o"]).arg(out).output().unwrap();
    assert!(out.exists(), "merge: {}", String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap(), serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap())
}

/// One run against N shards merged: the same findings, counters and
/// sections (both in merge's canonical order), the same exit code.
fn assert_shards_equal_one_run(name: &str, args: &[&str], total: u32) {
    let dir = scratch(name);
    let whole = dir.join("whole.json");
    let code = run_json(args, &whole);
    let raw: Value = serde_json::from_slice(&std::fs::read(&whole).unwrap()).unwrap();
    let (_, one) = merged(&[whole], &dir.join("one.json"));
    let mut shards = Vec::new();
    let mut per_shard = Vec::new();
    for index in 1..=total {
        let out = dir.join(format!("shard{index}.json"));
        let shard = format!("{index}/{total}");
        let mut with_shard: Vec<&str> = args.to_vec();
        with_shard.extend(["--shard", &shard]);
        run_json(&with_shard, &out);
        let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        per_shard.push(doc["findings"].as_array().map_or(0, Vec::len));
        shards.push(out);
    }
    assert!(
        per_shard.iter().filter(|&&n| n > 0).count() >= 2,
        "{name}: the shards did not split the work: {per_shard:?}"
    );
    let (merged_code, mut all) = merged(&shards, &dir.join("merged.json"));
    let mut one = one;
    for doc in [&mut all, &mut one] {
        // ffmpeg's threaded decoder words the same damage in a varying order,
        // and ffprobe's error text carries a heap address that changes per run.
        for finding in doc["findings"].as_array_mut().unwrap() {
            if let Some(evidence) = finding["evidence"].as_object_mut() {
                evidence.remove("messages");
                evidence.remove("ffprobe");
            }
        }
    }
    if all != one {
        let text = |v: &Value| serde_json::to_string_pretty(v).unwrap();
        let (a, b) = (text(&all), text(&one));
        let at = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
        panic!(
            "{name}: merged shards differ from one run at line {at}: {:?} vs {:?}",
            a.lines().nth(at),
            b.lines().nth(at)
        );
    }
    assert_eq!(all["summary"], raw["summary"]);
    assert_eq!(merged_code, code);
}

#[test]
fn weights_shards_merge_to_one_run() {
    assert_shards_equal_one_run("weights", &["weights", "fixtures/weights"], 3);
}

#[test]
fn pose_shards_merge_to_one_run() {
    assert_shards_equal_one_run(
        "pose",
        &[
            "pose",
            "check",
            "fixtures/pose/echomimic_clean",
            "fixtures/pose/echomimic_faulty",
            "fixtures/pose/echomimic_bad",
            "fixtures/pose/openpose",
        ],
        2,
    );
}

#[test]
fn video_check_shards_merge_to_one_run() {
    if !video_support::ffmpeg_available("video_check_shards_merge_to_one_run") {
        return;
    }
    let dir = video_support::fixtures("ci_outputs").display().to_string();
    assert_shards_equal_one_run("video", &["video", "check", &dir], 2);
}

#[test]
fn merging_reports_that_checked_nothing_is_not_a_pass() {
    let dir = scratch("empty");
    let empty = dir.join("empty.json");
    std::fs::write(
        &empty,
        r#"{"schema_version": 1, "command": "weights", "inputs": [], "summary": {"files": 0}, "findings": []}"#,
    )
    .unwrap();
    nanscope().args(["merge"]).arg(&empty).assert().code(2).stderr(predicates::str::contains("nothing to check"));
    nanscope()
        .args(["merge"])
        .arg(dir.join("absent.json"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("absent.json: no such file or directory"));
}

#[test]
fn shard_syntax_is_checked() {
    nanscope().args(["weights", "fixtures/weights", "--shard", "4/3"]).assert().code(2);
}

/// The published schemas, brought by scripts/fetch-schemas.sh (scripts/test.sh runs it).
fn schemas() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/schemas");
    let ready = dir.join("sarif-2.1.0.json").exists() && dir.join("junit-10.xsd").exists();
    let validators = Command::new("python3").args(["-c", "import jsonschema, xmlschema"]).status();
    if ready && validators.is_ok_and(|s| s.success()) {
        return Some(dir);
    }
    assert!(std::env::var_os("CI").is_none(), "CI must validate: run scripts/fetch-schemas.sh first");
    #[allow(clippy::print_stderr)]
    {
        eprintln!("SKIP schema validation: run scripts/fetch-schemas.sh to bring the SARIF and JUnit schemas");
    }
    None
}

fn validate(files: &[PathBuf]) {
    let Some(dir) = schemas() else { return };
    let output = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/validate_outputs.py"))
        .arg(dir)
        .args(files)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn junit_and_sarif_validate_against_the_published_schemas() {
    let dir = scratch("schemas");
    let mut files = Vec::new();
    for (name, args) in [
        ("weights", vec!["weights", "fixtures/weights"]),
        ("pose", vec!["pose", "check", "fixtures/pose/echomimic_faulty"]),
        ("trace", vec!["trace", "fixtures/trace/python-nan-inline"]),
        ("clean", vec!["weights", "fixtures/weights/unet"]),
    ] {
        let json = dir.join(format!("{name}.json"));
        let junit = dir.join(format!("{name}.xml"));
        let sarif = dir.join(format!("{name}.sarif"));
        nanscope()
            .args(&args)
            .args(["--no-progress", "--format", "json", "-o"])
            .arg(&json)
            .arg("--output-format")
            .arg(format!("junit={}", junit.display()))
            .arg("--output-format")
            .arg(format!("sarif={}", sarif.display()))
            .output()
            .unwrap();
        for file in [&json, &junit, &sarif] {
            assert!(file.exists(), "{name}: {} not written", file.display());
        }
        let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let log: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), report["findings"].as_array().unwrap().len());
        for result in results {
            let id = result["ruleId"].as_str().unwrap();
            let rule = &log["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], id);
            assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
        }
        let xml = std::fs::read_to_string(&junit).unwrap();
        let errors = report["summary"]["error"].as_u64().unwrap();
        assert_eq!(xml.contains("<failure"), errors > 0, "{name}: {xml}");
        files.extend([junit, sarif]);
    }
    validate(&files);
}

#[test]
fn github_format_annotates_and_writes_the_step_summary() {
    let dir = scratch("github");
    let summary = dir.join("summary.md");
    let output = nanscope()
        .args(["weights", "fixtures/weights/broken", "--no-progress", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("::error file=fixtures/weights/broken/empty.safetensors,title=F102 empty-file::")),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("### nanscope weights"), "{text}");
    assert!(text.contains("| error | F102 | empty-file |"), "{text}");
}
