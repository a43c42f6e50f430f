//! `nanscope log check` on the logs under `fixtures/log/` (written by
//! `fixtures/make_logs.py`): each signature at its line, the incident's
//! timeline in order, clean logs clean, hostile logs ending in findings.

use common::cli::{nanscope, report};
use serde::Deserialize;
use serde_json::Value;

mod common;

#[derive(Debug, Deserialize)]
struct Report {
    command: String,
    summary: Value,
    findings: Vec<Finding>,
    timeline: Vec<Event>,
    parameters: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Finding {
    code: String,
    severity: String,
    message: String,
    subject: Value,
    evidence: Value,
}

#[derive(Debug, Deserialize)]
struct Event {
    line: u64,
    timestamp: Option<String>,
    code: String,
    stage: String,
}

fn check(args: &[&str]) -> (Option<i32>, Report) {
    report(&[&["log", "check"], args].concat())
}

fn codes_at_lines(report: &Report) -> Vec<(String, u64)> {
    report.findings.iter().map(|f| (f.code.clone(), f.subject["line"].as_u64().unwrap_or(0))).collect()
}

#[test]
fn the_incident_log_becomes_an_ordered_timeline_of_stages() {
    let (code, report) = check(&["fixtures/log/incident.log"]);
    assert_eq!(code, Some(1));
    assert_eq!(report.command, "log check");
    let timeline: Vec<(u64, &str, &str)> =
        report.timeline.iter().map(|e| (e.line, e.code.as_str(), e.stage.as_str())).collect();
    assert_eq!(
        timeline,
        vec![
            (4, "L110", "model load"),
            (9, "L103", "pipeline output"),
            (10, "L103", "pipeline output"),
            (11, "L104", "video write"),
            (12, "L101", "video write"),
            (15, "L105", "media input"),
        ]
    );
    assert_eq!(report.timeline[5].timestamp.as_deref(), Some("2025-11-20 14:00:42,554"));
    let cast = report.findings.iter().find(|f| f.code == "L101").unwrap();
    assert_eq!(cast.severity, "error");
    assert_eq!(cast.subject["line"], 12);
    assert_eq!(cast.subject["stage"], "video write");
    assert_eq!(cast.evidence["timestamp"], "2025-11-20 14:00:33,221");
    let params = &report.parameters[0];
    assert_eq!((params["width"]["value"].as_u64(), params["steps"]["value"].as_u64()), (Some(768), Some(6)));
    assert_eq!((params["frames"]["value"].as_u64(), params["seed"]["line"].as_u64()), (Some(120), Some(6)));
    assert_eq!(params["cfg"]["value"].as_f64(), Some(1.0));
}

#[test]
fn every_signature_is_found_at_its_line() {
    let (_, report) = check(&["fixtures/log/signatures.log"]);
    let mut found = codes_at_lines(&report);
    found.sort_by_key(|(_, line)| *line);
    let expected: Vec<(String, u64)> = [
        "L102", "L102", "L106", "L107", "L108", "L109", "L110", "L111", "L112", "L113", "L113", "L114", "L114", "L115",
        "L119", "L120", "L121",
    ]
    .iter()
    .enumerate()
    .map(|(i, c)| (c.to_string(), 2 * i as u64 + 2))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn tracebacks_end_in_their_exception_lines() {
    let (code, report) = check(&["fixtures/log/tracebacks.log"]);
    assert_eq!(code, Some(1));
    assert_eq!(codes_at_lines(&report), [("L119".to_string(), 13), ("L122".to_string(), 17)]);
    let load = &report.findings[0];
    assert_eq!(load.evidence["path"], "./pretrained_weights/reference_unet.pth");
    assert_eq!(load.evidence["config_key"], "reference_unet_path");
    assert_eq!(load.evidence["exception"], "FileNotFoundError");
    let unknown = &report.findings[1];
    assert_eq!(
        (unknown.severity.as_str(), unknown.evidence["exception"].as_str()),
        ("warning", Some("AttributeError"))
    );
    assert_eq!(unknown.evidence["timestamp"], "2024-11-29T14:23:20.507003");
}

#[test]
fn a_clean_log_is_clean() {
    let (code, report) = check(&["fixtures/log/clean.log"]);
    assert_eq!(code, Some(0));
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.summary["lines"], 8);
    assert_eq!(report.parameters[0]["steps"]["value"], 30);
}

#[test]
fn json_lines_and_gzip_are_read() {
    let (_, report) = check(&["fixtures/log/service.jsonl", "fixtures/log/incident.log.gz"]);
    let mut json: Vec<_> =
        report.findings.iter().filter(|f| f.subject["file"] == "fixtures/log/service.jsonl").collect();
    json.sort_by_key(|f| f.subject["line"].as_u64());
    assert_eq!(
        json.iter().map(|f| (f.code.as_str(), f.subject["line"].as_u64())).collect::<Vec<_>>(),
        vec![("L103", Some(2)), ("L101", Some(3))]
    );
    assert_eq!(json[1].evidence["timestamp"], "2025-11-20T14:00:41Z");
    let gz = report.findings.iter().filter(|f| f.subject["file"] == "fixtures/log/incident.log.gz").count();
    assert_eq!(gz, 6);
}

/// A notebook saved after it ran: its cells' outputs, at the lines of the
/// notebook file, with their cell; a folder's notebooks are read too.
#[test]
fn a_notebook_is_read_as_its_cells_outputs() {
    let (code, report) = check(&["fixtures/postmortem/deploy_notebook"]);
    assert_eq!(code, Some(1));
    let [oom] = report.findings.as_slice() else { panic!("{:?}", report.findings) };
    assert_eq!((oom.code.as_str(), oom.evidence["cell"].as_u64()), ("L108", Some(4)));
    assert_eq!(oom.subject["file"], "fixtures/postmortem/deploy_notebook/demo.ipynb");
    let text = std::fs::read_to_string("fixtures/postmortem/deploy_notebook/demo.ipynb").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let line = oom.subject["line"].as_u64().unwrap() as usize;
    assert!(lines[line - 1].contains("OutOfMemoryError") && lines[line - 1].contains("CUDA out of memory"));
    assert!(oom.message.starts_with(&format!("line {line} (cell In [4]): ")), "{}", oom.message);
    let (_, full): (_, Value) =
        common::cli::report(&["log", "check", "fixtures/postmortem/deploy_notebook/demo.ipynb"]);
    assert_eq!(full["logs"][0]["notebook"], serde_json::json!({"nbformat": 4, "code_cells": 4, "cells_run": 4}));
}

#[test]
fn a_ten_megabyte_single_line_is_one_line_with_its_finding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.log");
    let mut bytes = vec![b'x'; 10_000_000];
    bytes.extend_from_slice(b" RuntimeWarning: invalid value encountered in cast");
    std::fs::write(&path, bytes).unwrap();
    let (code, report) = check(&[path.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(codes_at_lines(&report), vec![("L101".into(), 1), ("L116".into(), 1)]);
    assert_eq!(report.summary["lines"], 1);
    assert!(report.findings[0].message.len() < 1000);
}

#[test]
fn binary_junk_is_reported_and_the_lines_around_it_still_count() {
    let (_, report) = check(&["fixtures/log/junk.log"]);
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"L103") && codes.contains(&"L116"), "{codes:?}");
}

#[test]
fn a_gzip_bomb_is_stopped_with_a_finding() {
    let (code, report) = check(&["fixtures/log/bomb.log.gz"]);
    assert_eq!(code, Some(1));
    let bomb = report.findings.iter().find(|f| f.code == "L117").expect("L117");
    assert!(bomb.message.contains("decompression bomb"), "{}", bomb.message);
    assert!(report.summary["bytes"].as_u64().unwrap() < 64 << 20);
}

#[test]
fn a_missing_log_and_an_empty_folder_are_exit_2() {
    let output = nanscope().args(["log", "check", "fixtures/log/absent.log"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("absent.log: no such file or directory"));
    let dir = tempfile::tempdir().unwrap();
    let output = nanscope().args(["log", "check"]).arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to check"));
}

#[test]
fn json_snapshot_of_the_incident_log() {
    let output = nanscope()
        .args(["log", "check", "fixtures/log/incident.log", "--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    let mut doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["tool"]["version"] = Value::from("[version]");
    insta::assert_json_snapshot!(doc);
}
