//! `--format table`: grids for people, coloured by severity on a terminal.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::{RenderOptions, relative_text, summary_line, where_label};
use crate::report::{Report, SectionTable, Severity};

pub fn render(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    if !report.findings.is_empty() {
        let mut table = grid(options);
        table.set_header(["severity", "code", "rule", "where", "message"]);
        for f in &report.findings {
            let mut severity = Cell::new(f.severity.as_str());
            if options.color {
                severity = severity.fg(match f.severity {
                    Severity::Error => Color::Red,
                    Severity::Warning => Color::Yellow,
                    Severity::Info => Color::Blue,
                });
            }
            table.add_row(vec![
                severity,
                Cell::new(f.code()),
                Cell::new(f.rule.slug),
                Cell::new(where_label(f, &report.inputs)),
                Cell::new(&f.message),
            ]);
        }
        writeln!(out, "{table}")?;
    }
    if options.quiet {
        return Ok(());
    }
    for section in &report.sections {
        if let Some(section_table) = &section.table {
            write_section(section_table, &report.inputs, options, out)?;
        }
    }
    writeln!(out, "{}", summary_line(report))
}

fn write_section(
    section: &SectionTable,
    inputs: &[String],
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    if section.rows.is_empty() && section.note.is_none() {
        return Ok(());
    }
    writeln!(out, "{}", section.title)?;
    if !section.rows.is_empty() {
        let mut table = grid(options);
        table.set_header(section.header.clone());
        for row in &section.rows {
            table.add_row(row.iter().map(|cell| relative_text(cell, inputs)));
        }
        writeln!(out, "{table}")?;
    }
    if let Some(note) = &section.note {
        writeln!(out, "{note}")?;
    }
    Ok(())
}

fn grid(options: &RenderOptions) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = options.width {
        table.set_width(width);
    }
    // Colour is decided by the caller (--color, NO_COLOR, terminal detection),
    // not by comfy-table's own terminal check.
    if options.color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    table
}
