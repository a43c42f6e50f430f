//! `--format json`: the schema_version 1 document, pretty-printed.

use std::io::{self, Write};

use super::RenderOptions;
use crate::report::Report;

pub fn render(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &report.to_json(&options.version))?;
    writeln!(out)
}
