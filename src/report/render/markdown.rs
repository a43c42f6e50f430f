//! `--format markdown`: a report to paste into an issue or a CI summary.

use std::io::{self, Write};

use super::{RenderOptions, summary_line, where_label};
use crate::report::Report;

pub fn render(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# nanscope {}\n", report.command)?;
    writeln!(out, "{}\n", summary_line(report))?;
    if !report.findings.is_empty() {
        writeln!(out, "## Findings\n")?;
        write_row(out, &["severity", "code", "rule", "where", "message"])?;
        writeln!(out, "|---|---|---|---|---|")?;
        for f in &report.findings {
            let label = where_label(f, &report.inputs);
            write_row(out, &[f.severity.as_str(), f.code(), f.rule.slug, &label, &f.message])?;
        }
        writeln!(out)?;
    }
    if options.quiet {
        return Ok(());
    }
    for section in &report.sections {
        let Some(table) = &section.table else { continue };
        if table.rows.is_empty() && table.note.is_none() {
            continue;
        }
        writeln!(out, "## {}\n", table.title)?;
        if !table.rows.is_empty() {
            let header: Vec<&str> = table.header.iter().map(String::as_str).collect();
            write_row(out, &header)?;
            writeln!(out, "|{}", "---|".repeat(header.len()))?;
            for row in &table.rows {
                let cells: Vec<&str> = row.iter().map(String::as_str).collect();
                write_row(out, &cells)?;
            }
            writeln!(out)?;
        }
        if let Some(note) = &table.note {
            writeln!(out, "{note}\n")?;
        }
    }
    Ok(())
}

fn write_row(out: &mut dyn Write, cells: &[&str]) -> io::Result<()> {
    let escaped: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|").replace('\n', " ")).collect();
    writeln!(out, "| {} |", escaped.join(" | "))
}
