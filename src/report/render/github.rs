//! `--format github`: GitHub Actions workflow commands, one annotation per
//! finding (`::error file=…,line=…,title=…::message`), then a short
//! markdown summary fit for `$GITHUB_STEP_SUMMARY` ([`step_summary`]).

use std::io::{self, Write};

use super::{RenderOptions, summary_line, where_label};
use crate::report::{Report, Severity};

pub fn render(report: &Report, _options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    for f in &report.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut properties = Vec::new();
        if let Some(file) = &f.subject.file {
            properties.push(format!("file={}", property(file)));
            if let Some(line) = f.subject.line {
                properties.push(format!("line={line}"));
            }
        }
        properties.push(format!("title={}", property(&format!("{} {}", f.code(), f.rule.slug))));
        let label = f.subject.label();
        let text = if label.is_empty() || f.message.contains(&label) {
            format!("{}\n{}", f.message, f.help)
        } else {
            format!("{} ({label})\n{}", f.message, f.help)
        };
        writeln!(out, "::{command} {}::{}", properties.join(","), data(&text))?;
    }
    writeln!(
        out,
        "::notice title={}::{}",
        property(&format!("nanscope {}", report.command)),
        data(&summary_line(report))
    )
}

/// A markdown summary of the report for `$GITHUB_STEP_SUMMARY`: the summary
/// line and a table of the findings (the first 200; the rest are counted).
pub fn step_summary(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    const LIMIT: usize = 200;
    writeln!(out, "### nanscope {}\n", report.command)?;
    writeln!(out, "{}\n", summary_line(report))?;
    if report.findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "| severity | code | rule | where | message |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    for f in report.findings.iter().take(LIMIT) {
        let cells = [f.severity.as_str(), f.code(), f.rule.slug, &where_label(f, &report.inputs), &f.message];
        let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|").replace('\n', " ")).collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    if report.findings.len() > LIMIT {
        writeln!(out, "\n{} more findings are in the full report.", report.findings.len() - LIMIT)?;
    }
    writeln!(out)
}

/// Escapes a workflow command's message: `%`, CR and LF.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value: as data, plus `:` and `,`.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_snapshot() {
        let mut buf = Vec::new();
        render(&super::super::tests::sample(), &RenderOptions::default(), &mut buf).unwrap();
        buf.extend(b"---- step summary ----\n");
        step_summary(&super::super::tests::sample(), &mut buf).unwrap();
        insta::assert_snapshot!(String::from_utf8(buf).unwrap());
    }

    #[test]
    fn workflow_command_escapes() {
        assert_eq!(data("50% of\nframes"), "50%25 of%0Aframes");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
