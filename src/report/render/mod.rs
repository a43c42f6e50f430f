//! Renderers: one small module per output format, each writing a `Report`
//! into any `io::Write` so tests can render into a buffer.

pub mod github;
mod html;
mod json;
mod junit;
mod markdown;
mod sarif;
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
    /// JUnit XML: a test suite per check, a test case per input file.
    Junit,
    /// SARIF 2.1.0 for code-scanning services.
    Sarif,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// One self-contained HTML page (plots embedded, raw JSON downloadable).
    Html,
}

impl Format {
    /// The format named `name` (`json`, `junit`, …), as `--output-format` spells it.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "table" => Format::Table,
            "json" => Format::Json,
            "markdown" | "md" => Format::Markdown,
            "junit" => Format::Junit,
            "sarif" => Format::Sarif,
            "github" => Format::Github,
            "html" => Format::Html,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RenderOptions {
    /// ANSI colours in the table renderer.
    pub color: bool,
    /// Findings only: no sections, no summary line.
    pub quiet: bool,
    /// The tool version written into JSON reports.
    pub version: String,
    /// Columns the table renderer fits its grids into (long cells wrap);
    /// `None` lets every row run as wide as its cells.
    pub width: Option<u16>,
    /// The severity from which a finding fails its test case (JUnit); `None` fails none.
    pub fail_on: Option<crate::report::Severity>,
}

impl RenderOptions {
    /// Whether a finding fails the run under `fail_on` (or under the `fail-on` it carries).
    pub(crate) fn fails(&self, finding: &crate::report::Finding) -> bool {
        crate::report::fails(finding, self.fail_on)
    }
}

pub fn render(report: &Report, format: Format, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::render(report, options, out),
        Format::Json => json::render(report, options, out),
        Format::Markdown => markdown::render(report, options, out),
        Format::Junit => junit::render(report, options, out),
        Format::Sarif => sarif::render(report, options, out),
        Format::Github => github::render(report, options, out),
        Format::Html => html::render(report, options, out),
    }
}

/// "3 files, 120 tensors: 2 errors, 1 warning, 0 info"
pub(crate) fn summary_line(report: &Report) -> String {
    let counters: Vec<String> = report.counters.iter().map(|(k, v)| format!("{v} {}", counter_words(k, *v))).collect();
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

/// A summary counter in words: JSON keys such as `tensors_a` or
/// `nonfinite_records` are for programs; people read "tensors in A".
fn counter_words(key: &str, n: u64) -> String {
    let (one, many) = match key {
        "tensors_a" => ("tensor in A", "tensors in A"),
        "tensors_b" => ("tensor in B", "tensors in B"),
        "missing_in_b" => ("missing in B", "missing in B"),
        "extra_in_b" => ("extra in B", "extra in B"),
        "shape_mismatch" => ("shape mismatch", "shape mismatches"),
        "dtype_mismatch" => ("dtype mismatch", "dtype mismatches"),
        "beyond_tolerance" => ("beyond tolerance", "beyond tolerance"),
        "nonfinite_records" => ("non-finite record", "non-finite records"),
        "nonfinite_frame_values" => ("non-finite frame value", "non-finite frame values"),
        "frames_changed" => ("frame changed", "frames changed"),
        "findings_before" => ("finding before repair", "findings before repair"),
        "filled" => ("frame filled", "frames filled"),
        other => return plural(&other.replace('_', " "), n),
    };
    if n == 1 { one.to_string() } else { many.to_string() }
}

/// A path as the user would name it from the argument they gave: below a
/// folder argument, relative to it; the argument itself, by its file name.
pub(crate) fn relative_path(path: &str, inputs: &[String]) -> String {
    for input in inputs {
        let base = std::path::Path::new(input);
        let full = std::path::Path::new(path);
        if full == base {
            return full.file_name().map_or(path.to_string(), |n| n.to_string_lossy().into_owned());
        }
        if let Ok(rest) = full.strip_prefix(base)
            && !rest.as_os_str().is_empty()
        {
            return rest.display().to_string();
        }
    }
    path.to_string()
}

/// Relative paths inside a longer text (a location label such as
/// `dir/file.safetensors: tensor`). Only a path that starts with an
/// argument is shortened: the same name inside another path (a log line's
/// `/home/user/dir/src/util.py`) is that path's, and stays.
pub(crate) fn relative_text(text: &str, inputs: &[String]) -> String {
    let mut out = text.to_string();
    for input in inputs {
        let prefix = format!("{}/", input.trim_end_matches('/'));
        if prefix == "/" || prefix == "./" || !out.contains(&prefix) {
            continue;
        }
        let mut kept = String::with_capacity(out.len());
        let mut from = 0;
        for (at, _) in out.match_indices(&prefix) {
            if at < from {
                continue;
            }
            let starts_path = out[..at].chars().next_back().is_none_or(|c| !is_path_char(c));
            kept.push_str(&out[from..at]);
            if !starts_path {
                kept.push_str(&prefix);
            }
            from = at + prefix.len();
        }
        kept.push_str(&out[from..]);
        out = kept;
    }
    out
}

/// A character that can continue a path written before it.
fn is_path_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '/' | '\\' | '.' | '_' | '-' | '~' | '+' | '@')
}

/// Where a finding is, for the table and markdown renderers: the subject's
/// location without the file or tensor when the message already names them,
/// and with paths relative to the arguments.
pub(crate) fn where_label(finding: &crate::report::Finding, inputs: &[String]) -> String {
    let mut subject = finding.subject.clone();
    if subject.file.as_ref().is_some_and(|f| finding.message.contains(f.as_str())) {
        subject.file = None;
    }
    if subject.tensor.as_ref().is_some_and(|t| finding.message.contains(t.as_str())) {
        subject.tensor = None;
        let index = subject.index.as_ref().map(|i| format!("{i:?}"));
        if index.is_some_and(|i| finding.message.contains(&i)) {
            subject.index = None;
        }
    }
    if let Some(file) = &subject.file {
        subject.file = Some(relative_path(file, inputs));
    }
    let label = subject.label();
    if label.is_empty() { "-".into() } else { label }
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
    fn summary_counters_read_as_words() {
        let mut report = Report::new("diff", vec![]);
        report.set_counter("tensors_a", 1);
        report.set_counter("missing_in_b", 2);
        report.set_counter("nonfinite_records", 3);
        report.set_counter("shape_mismatch", 0);
        let line = summary_line(&report);
        assert_eq!(
            line,
            "1 tensor in A, 2 missing in B, 3 non-finite records, 0 shape mismatches: 0 errors, 0 warnings, 0 info"
        );
        assert!(!line.contains('_'));
    }

    #[test]
    fn a_folder_name_inside_another_path_stays() {
        let inputs = vec!["echomimic_v2".to_string()];
        assert_eq!(
            relative_text("echomimic_v2/nohup.out:27: /home/u/echomimic_v2/src/util.py:96: warning", &inputs),
            "nohup.out:27: /home/u/echomimic_v2/src/util.py:96: warning"
        );
        assert_eq!(
            relative_text("F1; echomimic_v2/a.log:2 and (echomimic_v2/b.log)", &inputs),
            "F1; a.log:2 and (b.log)"
        );
        assert_eq!(relative_text("my_echomimic_v2/x", &inputs), "my_echomimic_v2/x");
    }

    #[test]
    fn paths_are_relative_to_the_arguments() {
        let inputs = vec!["fixtures/weights".to_string(), "one.safetensors".to_string()];
        assert_eq!(relative_path("fixtures/weights/broken/empty.safetensors", &inputs), "broken/empty.safetensors");
        assert_eq!(relative_path("one.safetensors", &inputs), "one.safetensors");
        assert_eq!(relative_path("/elsewhere/x.pt", &inputs), "/elsewhere/x.pt");
        let finding = Finding::new(&rules::weights::NONFINITE_VALUES, "2 NaN in conv.weight")
            .with_subject(Subject::tensor("fixtures/weights/unet/model.safetensors", "conv.weight"));
        assert_eq!(where_label(&finding, &inputs), "unet/model.safetensors");
    }

    #[test]
    fn tables_fit_the_width() {
        let mut report = sample();
        report.findings[0].message = "a long message ".repeat(30);
        let mut buf = Vec::new();
        let options = RenderOptions { width: Some(100), ..RenderOptions::default() };
        render(&report, Format::Table, &options, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= 100, "{widest} columns:\n{text}");
    }

    #[test]
    fn summary_line_pluralises() {
        assert_eq!(summary_line(&sample()), "1 file, 2 tensors: 1 error, 0 warnings, 1 info");
    }
}
