//! `config check FILE…`: the configuration check's report.

use std::path::PathBuf;

use super::{CommandError, input_labels, nothing_to_check, require_existing};
use crate::config::ConfigOptions;
use crate::report::Report;

/// What `config check` reads and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConfigCheckOptions {
    /// Configuration files, or folders whose .yaml, .yml and .json files are
    /// read, and the images and videos among them that carry a ComfyUI
    /// workflow.
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
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("yaml" | "yml" | "json") => true,
            // What ComfyUI's savers write; one without a workflow is no config.
            Some("png" | "mp4" | "mov" | "webm" | "mkv") => crate::config::embedded_workflow(path).is_some(),
            _ => false,
        }
    });
    if files.is_empty() {
        return Err(nothing_to_check(&options.paths, "configuration files"));
    }
    let result = crate::config::check(&files, &options.config);
    Ok(crate::config::report(&result, input_labels(&options.paths)))
}
