//! `--format junit`: JUnit XML as CI systems (GitHub, GitLab, Jenkins) read it.
//!
//! One `<testsuite>` per check (the command, or each named check of a gate)
//! and one `<testcase>` per input file. A finding at or above the failure
//! threshold is a `<failure>` of its file's test case; findings below it are
//! listed in the test case's `<system-out>`, so the file passes but the text
//! is kept.

use std::io::{self, Write};

use super::RenderOptions;
use crate::report::{Finding, Report};

/// One test case: an input file of a check, and the findings about it.
struct Case<'a> {
    suite: String,
    name: String,
    findings: Vec<&'a Finding>,
}

pub fn render(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let cases = cases(report);
    let mut suites: Vec<(String, Vec<&Case>)> = Vec::new();
    for case in &cases {
        match suites.iter_mut().find(|(name, _)| *name == case.suite) {
            Some((_, list)) => list.push(case),
            None => suites.push((case.suite.clone(), vec![case])),
        }
    }
    let fails = |case: &Case| case.findings.iter().any(|f| options.fails(f));
    let failures = cases.iter().filter(|c| fails(c)).count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="nanscope {}" tests="{}" failures="{failures}" errors="0" time="0">"#,
        escape(&report.command),
        cases.len()
    )?;
    for (suite, list) in &suites {
        let suite_failures = list.iter().filter(|c| fails(c)).count();
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{suite_failures}" errors="0" skipped="0" time="0">"#,
            escape(suite),
            list.len()
        )?;
        for case in list {
            write_case(case, options, out)?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

fn write_case(case: &Case, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let open =
        format!(r#"    <testcase name="{}" classname="nanscope.{}" time="0""#, escape(&case.name), escape(&case.suite));
    if case.findings.is_empty() {
        return writeln!(out, "{open}/>");
    }
    writeln!(out, "{open}>")?;
    let (failing, passing): (Vec<&Finding>, Vec<&Finding>) = case.findings.iter().partition(|f| options.fails(f));
    for f in &failing {
        writeln!(
            out,
            r#"      <failure type="{} {}" message="{}">{}</failure>"#,
            f.code(),
            f.rule.slug,
            escape(&format!("{} {}: {}", f.severity, f.code(), f.message)),
            escape(&finding_text(f))
        )?;
    }
    if !passing.is_empty() {
        let text: Vec<String> = passing.iter().map(|f| finding_text(f)).collect();
        writeln!(out, "      <system-out>{}</system-out>", escape(&text.join("\n")))?;
    }
    writeln!(out, "    </testcase>")
}

/// The text of a finding inside a test case: what, where, and how to fix it.
fn finding_text(f: &Finding) -> String {
    let label = f.subject.label();
    let at = if label.is_empty() { String::new() } else { format!(" at {label}") };
    format!("{} {} ({}){at}: {}\nhelp: {}", f.severity, f.code(), f.rule.slug, f.message, f.help)
}

/// The test cases of a report: for a gate (a `checks` section naming each
/// check's files), one per check and file; otherwise one per file the report
/// lists or a finding names, and one per input when nothing names a file.
fn cases(report: &Report) -> Vec<Case<'_>> {
    let mut cases: Vec<Case> = Vec::new();
    let checks = report.sections.iter().find(|s| s.key == "checks").and_then(|s| s.value.as_array());
    if let Some(checks) = checks.filter(|_| report.command == "gate") {
        for check in checks {
            let suite = check.get("name").and_then(|n| n.as_str()).unwrap_or("check").to_string();
            for file in check.get("files").and_then(|f| f.as_array()).into_iter().flatten() {
                if let Some(file) = file.as_str() {
                    push_case(&mut cases, &suite, file);
                }
            }
        }
    } else {
        let files = report.sections.iter().find(|s| s.key == "files").and_then(|s| s.value.as_array());
        for file in files.into_iter().flatten() {
            if let Some(name) = file.get("file").and_then(|f| f.as_str()) {
                push_case(&mut cases, &report.command, name);
            }
        }
    }
    for finding in &report.findings {
        let suite = suite_of(report, finding);
        let name = finding.subject.file.clone().unwrap_or_else(|| suite.clone());
        let at = match cases.iter().position(|c| c.suite == suite && c.name == name) {
            Some(at) => at,
            None => {
                push_case(&mut cases, &suite, &name);
                cases.len() - 1
            }
        };
        cases[at].findings.push(finding);
    }
    if cases.is_empty() {
        for input in &report.inputs {
            push_case(&mut cases, &report.command, input);
        }
    }
    if cases.is_empty() {
        push_case(&mut cases, &report.command, &report.command);
    }
    cases
}

/// The suite a finding belongs to: its gate check (evidence `check`), else the command.
fn suite_of(report: &Report, finding: &Finding) -> String {
    finding.evidence.get("check").and_then(|c| c.as_str()).map_or_else(|| report.command.clone(), str::to_string)
}

fn push_case(cases: &mut Vec<Case>, suite: &str, name: &str) {
    if !cases.iter().any(|c| c.suite == suite && c.name == name) {
        cases.push(Case { suite: suite.to_string(), name: name.to_string(), findings: Vec::new() });
    }
}

/// XML text and attribute escaping; characters XML 1.0 cannot carry become U+FFFD.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(fail_on: Option<crate::report::Severity>) -> String {
        let options = RenderOptions { version: "0.1.0".into(), fail_on, ..RenderOptions::default() };
        let mut buf = Vec::new();
        render(&super::super::tests::sample(), &options, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(rendered(Some(crate::report::Severity::Error)));
    }

    #[test]
    fn findings_below_fail_on_pass_their_case() {
        let strict = rendered(Some(crate::report::Severity::Info));
        assert_eq!(strict.matches("<failure").count(), 2, "{strict}");
        let lenient = rendered(None);
        assert!(!lenient.contains("<failure") && lenient.contains("<system-out>"), "{lenient}");
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;\u{FFFD}");
    }
}
