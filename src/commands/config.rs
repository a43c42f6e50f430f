//! `config check FILE…`: the configuration check's report.

use std::path::PathBuf;

use super::{CommandError, input_labels, nothing_to_check, require_existing};
use crate::config::ConfigOptions;
use crate::report::Report;

/// What `config check` reads and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConfigCheckOptions {
    /// Configuration files, or folders whose .yaml, .yml and .json files are read.
    pub paths: Vec<PathBuf>,
    pub config: ConfigOptions,
}

impl ConfigCheckOptions {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        ConfigCheckOptions { paths, ..ConfigCheckOptions::default() }
    }
}

/// Reads the configurations and returns the `config check` report.
pub fn config_check(options: &ConfigCheckOptions) -> Result<Report, CommandError> {
    require_existing(&options.paths)?;
    if let Some(root) = &options.config.root {
        require_existing(&[root])?;
    }
    let files = crate::formats::walk::expand(&options.paths, |path| {
        path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
    });
    if files.is_empty() {
        return Err(nothing_to_check(&options.paths, "configuration files"));
    }
    let result = crate::config::check(&files, &options.config);
    Ok(crate::config::report(&result, input_labels(&options.paths)))
}
