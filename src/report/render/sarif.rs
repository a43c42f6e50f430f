//! `--format sarif`: SARIF 2.1.0, as code-scanning services read it.
//!
//! The run's `tool.driver.rules` holds every rule the findings cite, with
//! its summary, its long text and its fix as help; each result points at its
//! file and, when the subject names one, its line. The nanscope subject and
//! evidence travel in the result's `properties`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value};

use super::RenderOptions;
use crate::report::{Finding, Report, Severity};
use crate::rules::Rule;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn render(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(report, options))?;
    writeln!(out)
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
struct Run {
    tool: Tool,
    results: Vec<SarifResult>,
    #[serde(rename = "columnKind")]
    column_kind: &'static str,
    properties: RunProperties,
}

#[derive(Serialize)]
struct RunProperties {
    command: String,
    inputs: Vec<String>,
    summary: Value,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: String,
    semantic_version: String,
    rules: Vec<RuleDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleDescriptor {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    full_description: Text,
    help: Help,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    properties: Map<String, Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    fully_qualified_name: String,
    kind: &'static str,
}

fn log(report: &Report, options: &RenderOptions) -> Log {
    let mut rules: Vec<&'static Rule> = Vec::new();
    for finding in &report.findings {
        if !rules.iter().any(|r| finding.is(r)) {
            rules.push(finding.rule);
        }
    }
    let results = report.findings.iter().map(|f| result(f, rules.iter().position(|r| f.is(r)).unwrap_or(0))).collect();
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "nanscope",
                    version: options.version.clone(),
                    semantic_version: options.version.clone(),
                    rules: rules.into_iter().map(descriptor).collect(),
                },
            },
            results,
            column_kind: "unicodeCodePoints",
            properties: RunProperties {
                command: report.command.clone(),
                inputs: report.inputs.clone(),
                summary: report.summary_json(),
            },
        }],
    }
}

pub(crate) fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn descriptor(rule: &'static Rule) -> RuleDescriptor {
    let full = format!("{}\n\n{}", rule.detects, rule.why);
    RuleDescriptor {
        id: rule.code,
        name: rule.slug,
        short_description: Text { text: rule.summary.to_string() },
        full_description: Text { text: full },
        help: Help {
            text: format!("{}\n\nUsual cause: {}", rule.fix, rule.cause),
            markdown: format!(
                "**{} {}**: {}\n\n{}\n\n**Why:** {}\n\n**Usual cause:** {}\n\n**Fix:** {}",
                rule.code, rule.slug, rule.summary, rule.detects, rule.why, rule.cause, rule.fix
            ),
        },
        default_configuration: Configuration { level: level(rule.severity) },
    }
}

fn result(finding: &Finding, rule_index: usize) -> SarifResult {
    let mut properties = Map::new();
    if let Ok(subject) = serde_json::to_value(&finding.subject) {
        properties.insert("subject".into(), subject);
    }
    if !finding.evidence.is_empty() {
        properties.insert("evidence".into(), Value::Object(finding.evidence.clone()));
    }
    properties.insert("severity".into(), Value::from(finding.severity.as_str()));
    properties.insert("slug".into(), Value::from(finding.rule.slug));
    let label = finding.subject.label();
    let logical = logical_name(finding);
    let locations = match &finding.subject.file {
        Some(file) => vec![Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri: uri(file) },
                region: finding.subject.line.filter(|&l| l >= 1).map(|start_line| Region { start_line }),
            },
            logical_locations: logical
                .map(|name| vec![LogicalLocation { fully_qualified_name: name, kind: "member" }])
                .unwrap_or_default(),
        }],
        None => Vec::new(),
    };
    let message = if label.is_empty() || finding.message.contains(&label) {
        finding.message.clone()
    } else {
        format!("{} ({label})", finding.message)
    };
    SarifResult {
        rule_id: finding.rule.code,
        rule_index,
        level: level(finding.severity),
        message: Text { text: message },
        locations,
        properties,
    }
}

/// The thing inside the file a finding is about: a tensor, a module, a config key.
fn logical_name(finding: &Finding) -> Option<String> {
    let s = &finding.subject;
    s.tensor.clone().or_else(|| s.module.clone()).or_else(|| s.key.clone()).or_else(|| s.keypoint.clone())
}

/// A relative URI reference for a path: forward slashes, and the characters
/// a URI cannot carry percent-encoded.
pub(crate) fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' | b'@' | b'+' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    if path.starts_with('/') { format!("file://{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::{Finding, Report, Subject};
    use crate::rules;

    #[test]
    fn sarif_snapshot() {
        let options = RenderOptions { version: "0.1.0".into(), ..RenderOptions::default() };
        let mut buf = Vec::new();
        render(&super::super::tests::sample(), &options, &mut buf).unwrap();
        insta::assert_snapshot!(String::from_utf8(buf).unwrap());
    }

    #[test]
    fn a_line_becomes_a_region_and_rules_are_listed_once() {
        let mut report = Report::new("scheduler", vec![]);
        for _ in 0..2 {
            report.findings.push(
                Finding::new(&rules::weights::NONFINITE_VALUES, "x")
                    .with_subject(Subject { line: Some(7), ..Subject::file("cfg/scheduler_config.json") }),
            );
        }
        let log = serde_json::to_value(log(&report, &RenderOptions::default())).unwrap();
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
        let location = &run["results"][1]["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "cfg/scheduler_config.json");
        assert_eq!(location["region"]["startLine"], 7);
    }

    #[test]
    fn uris_encode_what_a_uri_cannot_carry() {
        assert_eq!(uri("runs/a b.mp4"), "runs/a%20b.mp4");
        assert_eq!(uri("/abs/x.pt"), "file:///abs/x.pt");
        assert_eq!(uri("dir\\x#1.npy"), "dir/x%231.npy");
    }
}
