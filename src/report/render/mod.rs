//! Renderers: one small module per output format, each writing a `Report`
//! into any `io::Write` so tests can render into a buffer.

mod json;
mod markdown;
mod table;

use std::io::{self, Write};

use super::Report;

/// Output formats of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// ANSI colours in the table renderer.
    pub color: bool,
    /// Findings only: no sections, no summary line.
    pub quiet: bool,
    /// The tool version written into JSON reports.
    pub version: String,
}

pub fn render(report: &Report, format: Format, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::render(report, options, out),
        Format::Json => json::render(report, options, out),
        Format::Markdown => markdown::render(report, options, out),
    }
}

/// "3 files, 120 tensors: 2 errors, 1 warning, 0 info"
pub(crate) fn summary_line(report: &Report) -> String {
    let counters: Vec<String> = report.counters.iter().map(|(k, v)| format!("{v} {}", plural(k, *v))).collect();
    let severities = [
        (report.count(super::Severity::Error), "error"),
        (report.count(super::Severity::Warning), "warning"),
        (report.count(super::Severity::Info), "info"),
    ]
    .iter()
    .map(
        |(n, word)| {
            if *word == "info" { format!("{n} info") } else { format!("{n} {}", plural(&format!("{word}s"), *n)) }
        },
    )
    .collect::<Vec<_>>()
    .join(", ");
    if counters.is_empty() { severities } else { format!("{}: {severities}", counters.join(", ")) }
}

/// Counter keys are plural nouns (`files`); one of them reads singular.
fn plural(key: &str, n: u64) -> String {
    if n == 1 { key.strip_suffix('s').unwrap_or(key).to_string() } else { key.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Finding, Section, SectionTable, Subject};
    use crate::rules;

    /// The shared fixture every renderer is snapshotted on.
    pub(crate) fn sample() -> Report {
        let mut report = Report::new("weights", vec!["fixtures/demo.safetensors".into()]);
        report.findings.push(
            Finding::new(&rules::weights::NONFINITE_VALUES, "2 NaN, 1 +Inf in mid.to_q.weight (first at [0, 77])")
                .with_subject(Subject {
                    index: Some(vec![0, 77]),
                    ..Subject::tensor("demo.safetensors", "mid.to_q.weight")
                })
                .with_evidence("nan", 2)
                .with_evidence("pos_inf", 1),
        );
        report.findings.push(
            Finding::new(&rules::weights::SUBNORMAL_VALUES, "3 subnormal F16 values in a|b")
                .with_subject(Subject::tensor("demo.safetensors", "a|b")),
        );
        report.set_counter("files", 1);
        report.set_counter("tensors", 2);
        report.sections.push(Section {
            key: "tensors".into(),
            value: serde_json::json!([{"name": "mid.to_q.weight"}]),
            table: Some(SectionTable {
                title: "Tensors with findings".into(),
                header: vec!["tensor".into(), "dtype".into()],
                rows: vec![vec!["mid.to_q.weight".into(), "F16".into()]],
                note: Some("1 more tensor without findings".into()),
            }),
        });
        report
    }

    fn rendered(format: Format) -> String {
        let mut buf = Vec::new();
        let options = RenderOptions { version: "0.1.0".into(), ..RenderOptions::default() };
        render(&sample(), format, &options, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn table_snapshot() {
        insta::assert_snapshot!(rendered(Format::Table));
    }

    #[test]
    fn markdown_snapshot() {
        insta::assert_snapshot!(rendered(Format::Markdown));
    }

    #[test]
    fn json_snapshot() {
        insta::assert_snapshot!(rendered(Format::Json));
    }

    #[test]
    fn summary_line_pluralises() {
        assert_eq!(summary_line(&sample()), "1 file, 2 tensors: 1 error, 0 warnings, 1 info");
    }
}
