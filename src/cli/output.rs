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
    };
    let format = global.format.renderer();
    let mut buffer = Vec::new();
    report::render(report, format, &options, &mut buffer).context("failed to render the report")?;
    write_out(&buffer, global)?;
    Ok(outcome(report, global))
}

pub fn outcome(report: &Report, global: &GlobalArgs) -> Outcome {
    report.outcome(global.fail_on.threshold())
}

/// Writes rendered bytes to `--output` (via a temporary file renamed into
/// place, so a failed run never leaves half a report) or to stdout.
pub fn write_out(bytes: &[u8], global: &GlobalArgs) -> anyhow::Result<()> {
    match &global.output {
        // A device or pipe (`-o /dev/null`) is written in place: renaming a
        // temporary file over it would replace the device node itself.
        Some(path) if path.metadata().is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
            std::fs::write(path, bytes).with_context(|| format!("cannot write report to {}", path.display()))
        }
        Some(path) => {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let tmp = dir.join(format!(".{name}.nanscope-tmp"));
            std::fs::write(&tmp, bytes).with_context(|| format!("cannot write report to {}", path.display()))?;
            std::fs::rename(&tmp, path).with_context(|| format!("cannot write report to {}", path.display()))?;
            Ok(())
        }
        None => {
            let mut stdout = io::stdout().lock();
            match stdout.write_all(bytes).and_then(|_| stdout.flush()) {
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write to standard output"),
            }
        }
    }
}
