//! Runs the `nanscope` binary on the weights fixtures and reads its JSON the
//! way a consumer would: into typed structs with the contract's field names.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Report {
    schema_version: u32,
    tool: Tool,
    command: String,
    inputs: Vec<String>,
    summary: BTreeMap<String, u64>,
    findings: Vec<Finding>,
    files: Vec<FileRecord>,
    tensors: Vec<TensorRecord>,
}

#[derive(Debug, Deserialize)]
struct Tool {
    name: String,
    version: String,
}

#[derive(Debug, Deserialize)]
struct Finding {
    code: String,
    rule: String,
    severity: String,
    message: String,
    subject: Subject,
    evidence: BTreeMap<String, Value>,
    help: String,
}

#[derive(Debug, Default, Deserialize)]
struct Subject {
    file: Option<String>,
    tensor: Option<String>,
    index: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
struct FileRecord {
    file: String,
    format: String,
}

#[derive(Debug, Deserialize)]
struct TensorRecord {
    file: String,
    name: String,
    dtype: String,
    shape: Vec<u64>,
    stats: Option<Stats>,
}

#[derive(Debug, Deserialize)]
struct Stats {
    count: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    zero: u64,
    subnormal: u64,
    min: Option<f64>,
    max: Option<f64>,
    absmax: Option<f64>,
    mean: Option<f64>,
    std: Option<f64>,
    first_nonfinite_flat: Option<u64>,
    overflow: Option<u64>,
    underflow: Option<u64>,
}

const FIXTURES: &str = "fixtures/weights";

fn nanscope() -> Command {
    let mut cmd = Command::cargo_bin("nanscope").expect("binary builds");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).env_remove("NO_COLOR");
    cmd
}

fn json_run(args: &[&str]) -> (Report, Output) {
    let output = nanscope().arg("--format").arg("json").args(args).output().expect("runs");
    let report: Report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not a report ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    (report, output)
}

fn find<'a>(report: &'a Report, code: &str, tensor: Option<&str>) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| f.code == code && (tensor.is_none() || f.subject.tensor.as_deref() == tensor))
        .unwrap_or_else(|| panic!("no {code} for {tensor:?} in {:#?}", report.findings))
}

fn file_ends(f: &Finding, suffix: &str) -> bool {
    f.subject.file.as_deref().is_some_and(|p| p.ends_with(suffix))
}

#[test]
fn issue_2_demo_folder_reports_every_planted_hazard() {
    let (report, output) = json_run(&["weights", FIXTURES]);
    assert_eq!(output.status.code(), Some(1), "errors reach the default --fail-on");
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.tool.name, "nanscope");
    assert_eq!(report.tool.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(report.command, "weights");
    assert_eq!(report.inputs, vec![FIXTURES.to_string()]);

    let to_q = "mid_block.attentions.0.transformer_blocks.0.attn1.to_q.weight";
    let nonfinite = find(&report, "W101", Some(to_q));
    assert_eq!(nonfinite.rule, "nonfinite-values");
    assert_eq!(nonfinite.severity, "error");
    assert_eq!(nonfinite.subject.index, Some(vec![0, 77]));
    assert_eq!(nonfinite.evidence["nan"], 2);
    assert_eq!(nonfinite.evidence["pos_inf"], 1);
    assert_eq!(nonfinite.evidence["neg_inf"], 1);
    assert_eq!(nonfinite.evidence["first_nonfinite_flat"], 77);
    assert!(!nonfinite.help.is_empty());
    assert!(nonfinite.message.contains("first at [0, 77]"), "{}", nonfinite.message);

    let overflow = find(&report, "W102", Some("conv_out.weight"));
    assert_eq!(overflow.evidence["overflow"], 1);
    assert_eq!(overflow.evidence["absmax"], 70000.0);

    assert_eq!(find(&report, "W104", Some("down_blocks.0.resnets.0.norm1.weight")).severity, "error");
    // A zero bias is how layers start (issue: W104 on biases is info).
    assert_eq!(find(&report, "W104", Some("conv_out.bias")).severity, "info");
    assert_eq!(find(&report, "W103", Some("time_embedding.linear_1.weight")).severity, "warning");
    assert_eq!(find(&report, "W106", Some("down_blocks.0.resnets.0.conv1.weight")).severity, "warning");
    assert_eq!(find(&report, "W105", Some("post_quant_conv.weight")).evidence["subnormal"], 1);

    let latents = find(&report, "W101", Some("latents"));
    assert!(file_ends(latents, "latents_step3.npz"));
    assert_eq!(latents.subject.index, Some(vec![0, 0, 2, 0, 0]));
    assert_eq!(latents.evidence["nan"], 256);

    for (code, file) in [
        ("F102", "broken/empty.safetensors"),
        ("F101", "broken/not_a_checkpoint.bin"),
        ("F104", "broken/absurd_header.safetensors"),
        ("F105", "broken/overlapping.safetensors"),
        ("F103", "broken/truncated.safetensors"),
    ] {
        let f = report
            .findings
            .iter()
            .find(|f| f.code == code && file_ends(f, file))
            .unwrap_or_else(|| panic!("no {code} for {file}"));
        assert_eq!(f.severity, "error", "{code}");
    }
    let truncated = report.findings.iter().find(|f| f.code == "F103").unwrap();
    assert_eq!(truncated.evidence["offset"], 8269, "offset where the missing data should be");

    let misplaced = find(&report, "F110", Some("layers.1.bias"));
    assert!(misplaced.message.contains("it is in model-00002-of-00002.safetensors"), "{}", misplaced.message);
    assert!(report.findings.iter().any(|f| f.code == "F110" && f.message.contains("model-00003-of-00003")));

    // Summary counts agree with the findings list.
    let errors = report.findings.iter().filter(|f| f.severity == "error").count() as u64;
    assert_eq!(report.summary["error"], errors);
    assert_eq!(report.summary["files"], report.files.len() as u64);
    assert_eq!(report.summary["tensors"], report.tensors.len() as u64);
    assert!(report.files.iter().any(|f| f.format == "shard-index" && f.file.ends_with("index.json")));
    // Findings come most severe first.
    let ranks: Vec<u8> = report
        .findings
        .iter()
        .map(|f| match f.severity.as_str() {
            "error" => 0,
            "warning" => 1,
            _ => 2,
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn tensors_section_carries_statistics_with_contract_names() {
    let (report, _) = json_run(&["weights", "fixtures/weights/unet"]);
    let to_q = report.tensors.iter().find(|t| t.name.ends_with("attn1.to_q.weight")).expect("listed");
    assert_eq!(to_q.dtype, "F32");
    assert_eq!(to_q.shape, vec![64, 128]);
    assert!(to_q.file.ends_with("diffusion_pytorch_model.safetensors"));
    let s = to_q.stats.as_ref().expect("readable");
    assert_eq!((s.count, s.nan, s.pos_inf, s.neg_inf), (8192, 2, 1, 1));
    assert_eq!(s.first_nonfinite_flat, Some(77));
    assert_eq!(s.overflow, Some(0));
    assert!(s.underflow.is_some());
    assert!(s.min.unwrap() < 0.0 && s.max.unwrap() > 0.0);
    assert!(s.absmax.unwrap() >= s.max.unwrap());
    assert!(s.mean.unwrap().abs() < 0.01 && (s.std.unwrap() - 0.02).abs() < 0.005);
    let norm = report.tensors.iter().find(|t| t.name == "down_blocks.0.resnets.0.norm1.weight").unwrap();
    let s = norm.stats.as_ref().unwrap();
    assert_eq!((s.zero, s.count, s.subnormal), (32, 32, 0));
}

#[test]
fn target_dtype_changes_what_overflows() {
    let unet = "fixtures/weights/unet";
    let (fp16, _) = json_run(&["weights", unet]);
    assert!(fp16.findings.iter().any(|f| f.code == "W102"));
    let (bf16, _) = json_run(&["weights", unet, "--target-dtype", "bf16"]);
    assert!(!bf16.findings.iter().any(|f| f.code == "W102"));
    let (none, _) = json_run(&["weights", unet, "--target-dtype", "none"]);
    assert!(!none.findings.iter().any(|f| f.code == "W102" || f.code == "W103"));
    assert!(none.tensors.iter().all(|t| t.stats.as_ref().is_none_or(|s| s.overflow.is_none())));
}

#[test]
fn fail_on_sets_the_exit_code() {
    let vae = "fixtures/weights/vae";
    // The VAE fixture only has info findings (fp16 subnormals).
    nanscope().args(["weights", vae]).assert().code(0);
    nanscope().args(["weights", vae, "--fail-on", "info"]).assert().code(1);
    nanscope().args(["weights", FIXTURES, "--fail-on", "never"]).assert().code(0);
    nanscope().args(["weights", "fixtures/weights/unet", "--fail-on", "warning"]).assert().code(1);
}

#[test]
fn bad_arguments_exit_2() {
    nanscope().args(["weights"]).assert().code(2);
    nanscope().args(["weights", FIXTURES, "--format", "xml"]).assert().code(2);
    nanscope().args(["weights", FIXTURES, "--underflow-share", "7"]).assert().code(2);
    nanscope().args(["rules", "Z999"]).assert().code(2).stderr(predicates::str::contains("no rule"));
    let out = tempfile::tempdir().unwrap();
    let unwritable = out.path().join("missing-dir").join("report.json");
    nanscope()
        .args(["weights", "fixtures/weights/vae", "--output"])
        .arg(&unwritable)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot write report"));
}

#[test]
fn missing_input_is_exit_2_before_any_work() {
    let output =
        nanscope().args(["weights", "no/such/checkpoint.safetensors", "fixtures/weights/vae"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "no report for a run that did not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim(), "nanscope: error: no/such/checkpoint.safetensors: no such file or directory");
}

#[test]
fn output_option_writes_the_report_and_nothing_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.md");
    let output = nanscope()
        .args(["weights", "fixtures/weights/unet", "--format", "markdown", "--fail-on", "never", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# nanscope weights"));
    assert!(text.contains("| error | W101 | nonfinite-values |"));
}

#[test]
fn table_output_is_plain_without_a_terminal_and_quiet_keeps_only_findings() {
    let output = nanscope().args(["weights", "fixtures/weights/unet", "--fail-on", "never"]).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "no ANSI escapes when stdout is not a terminal");
    assert!(text.contains("W101") && text.contains("Tensors with findings"));
    assert!(text.trim_end().ends_with("warnings, 0 info") || text.contains("1 file, 9 tensors"), "{text}");
    let colored = nanscope()
        .args(["weights", "fixtures/weights/unet", "--fail-on", "never", "--color", "always"])
        .output()
        .unwrap();
    assert!(String::from_utf8(colored.stdout).unwrap().contains('\u{1b}'));
    let quiet = nanscope().args(["weights", "fixtures/weights/unet", "-q", "--fail-on", "never"]).output().unwrap();
    let quiet = String::from_utf8(quiet.stdout).unwrap();
    assert!(quiet.contains("W101") && !quiet.contains("Tensors with findings"));
    assert!(quiet.len() < text.len());
}

#[test]
fn directory_walk_skips_unrelated_files_but_explicit_files_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# a model card\n").unwrap();
    std::fs::write(dir.path().join("config.json"), "{\"_class_name\": \"UNet\"}").unwrap();
    std::fs::write(dir.path().join("weights.pt"), b"garbage that is no checkpoint").unwrap();
    let (report, _) = json_run(&["weights", dir.path().to_str().unwrap()]);
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["F101"], "only the .pt file is worth a finding: {:#?}", report.findings);
    let readme = dir.path().join("README.md");
    let (report, _) = json_run(&["weights", readme.to_str().unwrap()]);
    assert_eq!(report.findings[0].code, "F101");
}

#[cfg(unix)]
#[test]
fn a_hugging_face_cache_snapshot_is_read_through_its_links() {
    // snapshot_download's layout: every file a link to its blob; one blob
    // was never fetched. Unrelated broken links and loops are no finding.
    use std::os::unix::fs::symlink;
    let cache = tempfile::tempdir().unwrap();
    let blobs = cache.path().join("blobs");
    let snapshot = cache.path().join("snapshots/0123abcd");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::copy("fixtures/weights/vae/diffusion_pytorch_model.fp16.safetensors", blobs.join("9f86d081")).unwrap();
    symlink("../../blobs/9f86d081", snapshot.join("diffusion_pytorch_model.safetensors")).unwrap();
    symlink("../../blobs/e3b0c442", snapshot.join("motion_module.pth")).unwrap();
    symlink("../../blobs/0000", snapshot.join("README.md")).unwrap();
    symlink("..", snapshot.join("parent")).unwrap();
    let (report, _) = json_run(&["weights", snapshot.to_str().unwrap()]);
    assert_eq!(report.files.len(), 1, "the linked checkpoint is read");
    assert!(!report.tensors.is_empty());
    let codes: Vec<(&str, &str)> = report.findings.iter().map(|f| (f.code.as_str(), f.message.as_str())).collect();
    assert_eq!(codes.iter().filter(|(code, _)| *code == "F111").count(), 1, "{codes:#?}");
    assert!(codes.iter().any(|(_, m)| m.contains("motion_module.pth: a broken link")), "{codes:#?}");
}

#[test]
fn a_python_environments_path_files_are_no_checkpoints_and_text_is_named() {
    // A venv inside the model folder keeps `.pth` path files in
    // site-packages; a checkpoint's name over an error page is still judged.
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("venv/lib/python3.11/site-packages");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("distutils-precedence.pth"), "import os; os.environ.get('X') and __import__('x')\n")
        .unwrap();
    std::fs::write(site.join("__editable__.emv2-0.1.pth"), "/home/user/echomimic_v2/src\n").unwrap();
    std::fs::write(dir.path().join("denoising_unet.pth"), "<!DOCTYPE html>\n<html><title>Sign in</title>").unwrap();
    let (report, _) = json_run(&["weights", dir.path().to_str().unwrap()]);
    let messages: Vec<(&str, &str)> = report.findings.iter().map(|f| (f.code.as_str(), f.message.as_str())).collect();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0].0, "F101");
    assert!(messages[0].1.contains("an HTML page"), "{}", messages[0].1);
    let named = site.join("distutils-precedence.pth");
    let (report, _) = json_run(&["weights", named.to_str().unwrap()]);
    assert!(report.findings[0].message.contains("Python path-configuration file"), "{}", report.findings[0].message);
}

#[test]
fn hostile_files_never_crash_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..40 {
        let len = (next() % 300) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Give half of them a plausible safetensors or npy prefix.
        match i % 4 {
            0 => {
                let n = next() % 64;
                let mut head = n.to_le_bytes().to_vec();
                head.push(b'{');
                head.extend(bytes);
                bytes = head;
            }
            1 => {
                let mut head = b"\x93NUMPY\x01\x00".to_vec();
                head.extend(bytes);
                bytes = head;
            }
            _ => {}
        }
        std::fs::write(dir.path().join(format!("f{i}.safetensors")), bytes).unwrap();
    }
    let output = nanscope().args(["weights", "--format", "json"]).arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Report = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report.findings.iter().all(|f| f.code.starts_with('F') || f.code.starts_with('W')));
    assert!(report.summary["error"] >= 40);
}

#[test]
fn json_snapshot_of_the_vae_fixture() {
    let output = nanscope()
        .args(["weights", "fixtures/weights/vae", "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    let mut doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["tool"]["version"] = Value::from("[version]");
    insta::assert_json_snapshot!(doc, {
        ".tensors[].stats.mean" => insta::rounded_redaction(6),
        ".tensors[].stats.std" => insta::rounded_redaction(6),
    });
}

#[test]
fn broken_pipe_exits_quietly() {
    let bin = assert_cmd::cargo::cargo_bin("nanscope");
    let script = format!(
        "{} weights {} --all-tensors --fail-on never | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}",
        bin.display(),
        FIXTURES
    );
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "0");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

#[test]
fn docs_rules_md_is_generated_from_the_catalogue() {
    let output = nanscope().args(["rules", "--format", "markdown"]).output().unwrap();
    assert!(output.status.success());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == String::from_utf8_lossy(&output.stdout),
        "docs/rules.md is stale: run `cargo run -- rules --format markdown > docs/rules.md`"
    );
}

#[test]
fn rules_lists_and_explains() {
    let output = nanscope().args(["rules"]).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    for code in ["W101", "W106", "F101", "F111", "S101", "S102"] {
        assert!(text.contains(code), "{code} missing from the catalogue");
    }
    let output = nanscope().args(["rules", "nonfinite-values"]).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    for heading in ["What it detects", "Why it breaks a generation", "Usual cause", "Fix"] {
        assert!(text.contains(heading), "{heading}");
    }
}

/// Issue #10: `rules --format json` is a report envelope whose rules carry
/// the finding field names (`code`, `rule`, `severity`).
#[test]
fn rules_json_uses_the_report_envelope() {
    let output = nanscope().args(["rules", "--format", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["tool"]["name"], "nanscope");
    assert_eq!(doc["command"], "rules");
    let all = doc["rules"].as_array().unwrap();
    assert_eq!(doc["summary"]["rules"], all.len());
    assert!(all.iter().all(|r| r["code"].is_string() && r["rule"].is_string() && r["severity"].is_string()));
    assert!(all.iter().all(|r| r.get("slug").is_none()));
    let output = nanscope().args(["rules", "W102", "--format", "json"]).output().unwrap();
    let one: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(one["inputs"], serde_json::json!(["W102"]));
    assert_eq!(one["rules"][0]["rule"], "target-overflow");
    assert_eq!(one["rules"].as_array().unwrap().len(), 1);
}
