//! `postmortem RUN_DIR…`: every check over a run folder, one verdict, one report.

use std::path::PathBuf;

use super::{CommandError, nothing_to_check, require_existing};
use crate::postmortem::{self as domain, PostmortemOptions, Progress};
use crate::report::Report;

/// Discovers, checks and judges the run; the report carries the `verdict`,
/// `artifacts` and `evidence` sections and, for the HTML renderer, the plots
/// (when `options.plots`). A missing path and a run where no check applied
/// follow the input policy.
pub fn postmortem(options: &PostmortemOptions, progress: &dyn Progress) -> Result<Report, CommandError> {
    let all: Vec<PathBuf> =
        options.roots.iter().cloned().chain(options.explicit.iter().map(|(_, p)| p.clone())).collect();
    if all.is_empty() {
        return Err(CommandError::InvalidOption("give a run folder, or files with --video, --weights, …".into()));
    }
    require_existing(&all)?;
    let result = domain::run(options, progress);
    if !result.checked_anything() {
        return Err(nothing_to_check(&all, "artifact any check reads"));
    }
    Ok(domain::report(&result))
}
