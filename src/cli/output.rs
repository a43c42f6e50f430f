//! Writing a report where the user asked, and deciding the outcome.

use std::io::{self, IsTerminal, Write};

use crate::report::{self, RenderOptions, Report};
use anyhow::Context;

use super::{ColorArg, FormatArg, GlobalArgs};

pub use crate::report::Outcome;

impl FormatArg {
    pub fn renderer(self) -> report::Format {
        match self {
            FormatArg::Table => report::Format::Table,
            FormatArg::Json => report::Format::Json,
            FormatArg::Markdown => report::Format::Markdown,
            FormatArg::Junit => report::Format::Junit,
            FormatArg::Sarif => report::Format::Sarif,
            FormatArg::Github => report::Format::Github,
            FormatArg::Html => report::Format::Html,
        }
    }
}

/// Whether the table output should carry ANSI colours.
pub fn use_color(global: &GlobalArgs) -> bool {
    match global.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            global.output.is_none()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && io::stdout().is_terminal()
        }
    }
}

/// The columns tables are fitted into: `COLUMNS` when set, else the width of
/// the terminal on standard output; a report written to a file or a pipe
/// keeps whole rows (its JSON twin carries the same text).
pub fn table_width(global: &GlobalArgs) -> Option<u16> {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<u16>().ok()).filter(|&c| c >= 40);
    columns.or_else(|| if global.output.is_none() { terminal_columns() } else { None })
}

#[cfg(target_os = "linux")]
fn terminal_columns() -> Option<u16> {
    use std::os::fd::AsRawFd;
    let stdout = io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we own; the
    // descriptor is stdout's, open for the life of the process.
    let done = unsafe { libc::ioctl(stdout.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    (done == 0 && size.ws_col >= 40).then_some(size.ws_col)
}

#[cfg(not(target_os = "linux"))]
fn terminal_columns() -> Option<u16> {
    None
}

/// Renders the report to `--output` or stdout and returns the outcome that
/// `--fail-on` gives it. A closed stdout (broken pipe) is not an error.
pub fn emit(report: &Report, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let options = RenderOptions {
        color: use_color(global),
        quiet: global.quiet,
        version: crate::VERSION.into(),
        width: table_width(global),
        fail_on: global.fail_on.threshold(),
    };
    let format = global.format.renderer();
    let mut buffer = Vec::new();
    report::render(report, format, &options, &mut buffer).context("failed to render the report")?;
    write_out(&buffer, global)?;
    for extra in &global.output_format {
        let options = RenderOptions { color: false, width: None, ..options.clone() };
        let mut buffer = Vec::new();
        report::render(report, extra.format, &options, &mut buffer).context("failed to render the report")?;
        write_file(&buffer, &extra.path)?;
    }
    if format == report::Format::Github
        && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty())
    {
        append_step_summary(report, std::path::Path::new(&path))?;
    }
    Ok(outcome(report, global))
}

/// One `--output-format FORMAT=PATH`: another rendering of the same report.
#[derive(Debug, Clone)]
pub struct ExtraOutput {
    pub format: report::Format,
    pub path: std::path::PathBuf,
}

/// Parses `FORMAT=PATH`.
pub fn extra_output(text: &str) -> Result<ExtraOutput, String> {
    let (name, path) = text.split_once('=').ok_or_else(|| format!("expected FORMAT=PATH, got {text:?}"))?;
    let format = report::Format::from_name(name.trim())
        .ok_or_else(|| format!("unknown format {name:?} (table, json, markdown, junit, sarif, github)"))?;
    if path.is_empty() {
        return Err(format!("no path after {name}="));
    }
    Ok(ExtraOutput { format, path: path.into() })
}

/// Parses `--shard I/N`.
pub fn shard(text: &str) -> Result<crate::gate::Shard, String> {
    text.parse::<crate::gate::Shard>().map_err(|err| err.to_string())
}

/// Appends the markdown summary to GitHub's step summary file.
fn append_step_summary(report: &Report, path: &std::path::Path) -> anyhow::Result<()> {
    let mut buffer = Vec::new();
    report::render::github::step_summary(report, &mut buffer)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write the step summary to {}", path.display()))?;
    file.write_all(&buffer).with_context(|| format!("cannot write the step summary to {}", path.display()))
}

pub fn outcome(report: &Report, global: &GlobalArgs) -> Outcome {
    report.outcome(global.fail_on.threshold())
}

/// Writes rendered bytes to `--output` (via a temporary file renamed into
/// place, so a failed run never leaves half a report) or to stdout.
pub fn write_out(bytes: &[u8], global: &GlobalArgs) -> anyhow::Result<()> {
    match &global.output {
        Some(path) => write_file(bytes, path),
        None => {
            let mut stdout = io::stdout().lock();
            match stdout.write_all(bytes).and_then(|_| stdout.flush()) {
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write to standard output"),
            }
        }
    }
}

/// Writes a report file through a temporary file renamed into place.
pub fn write_file(bytes: &[u8], path: &std::path::Path) -> anyhow::Result<()> {
    // A device or pipe (`-o /dev/null`) is written in place: renaming a
    // temporary file over it would replace the device node itself.
    if path.metadata().is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::write(path, bytes).with_context(|| format!("cannot write report to {}", path.display()));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.nanscope-tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write report to {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write report to {}", path.display()))?;
    Ok(())
}
