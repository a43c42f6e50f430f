//! `image check PATH…`: the reference-image check's report.

use std::path::PathBuf;

use super::{CommandError, input_labels, nothing_to_check, require_existing};
use crate::image::CheckOptions;
use crate::report::Report;

/// What `image check` reads and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ImageCheckOptions {
    /// Image or tensor files, or folders walked for them.
    pub paths: Vec<PathBuf>,
    pub check: CheckOptions,
}

impl ImageCheckOptions {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        ImageCheckOptions { paths, ..ImageCheckOptions::default() }
    }
}

/// Checks the images and returns the `image check` report (`images`
/// section, and `plots` when `check.plot_dir` is set).
pub fn image_check(options: &ImageCheckOptions) -> Result<Report, CommandError> {
    options.check.validate().map_err(CommandError::InvalidOption)?;
    require_existing(&options.paths)?;
    let files = crate::image::discover::image_files(&options.paths);
    if files.is_empty() {
        return Err(nothing_to_check(&options.paths, "images"));
    }
    let run = crate::image::check(&files, &options.check)?;
    Ok(crate::image::check_report("image check", input_labels(&options.paths), &run))
}
