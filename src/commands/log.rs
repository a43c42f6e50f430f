//! `log check FILE…`: the log check's report.

use std::path::PathBuf;

use super::{CommandError, input_labels, nothing_to_check, require_existing};
use crate::log::LogOptions;
use crate::report::Report;

/// Extensions of the files `log check` reads under a folder.
const LOG_EXTENSIONS: &[&str] = &["log", "txt", "jsonl", "out", "err", "gz", "ipynb"];

/// What `log check` reads and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LogCheckOptions {
    /// Log files, or folders whose .log, .txt, .jsonl, .out, .err, .gz and .ipynb files are read.
    pub paths: Vec<PathBuf>,
    pub log: LogOptions,
}

impl LogCheckOptions {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        LogCheckOptions { paths, ..LogCheckOptions::default() }
    }
}

/// Reads the logs and returns the `log check` report (`timeline` and
/// `parameters` sections).
pub fn log_check(options: &LogCheckOptions) -> Result<Report, CommandError> {
    require_existing(&options.paths)?;
    let files = crate::formats::walk::expand(&options.paths, |path| {
        path.extension().is_some_and(|e| LOG_EXTENSIONS.iter().any(|x| e == *x))
    });
    if files.is_empty() {
        return Err(nothing_to_check(&options.paths, "log files"));
    }
    let result = crate::log::check(&files, &options.log);
    Ok(crate::log::report(&result, input_labels(&options.paths)))
}
