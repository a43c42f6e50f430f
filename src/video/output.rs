//! Writing a video safely: into a temporary file beside the output, which is
//! verified and only then renamed over the destination.

use std::path::{Path, PathBuf};

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0} already exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error("the output {0} is the input; repairs never touch their input")]
    SameAsInput(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("ffmpeg failed to write {path}: {detail}")]
    Ffmpeg { path: PathBuf, detail: String },
    #[error("{0}")]
    Reference(String),
    #[error(transparent)]
    Tool(#[from] super::ToolError),
}

/// A destination and the temporary file that stands in for it until verified.
#[derive(Debug)]
pub struct PendingOutput {
    pub destination: PathBuf,
    pub temporary: PathBuf,
}

impl PendingOutput {
    /// Refuses an existing destination unless `force`; the temporary keeps the
    /// destination's extension so ffmpeg picks the same container.
    pub fn new(destination: &Path, force: bool) -> Result<PendingOutput, OutputError> {
        if destination.exists() && !force {
            return Err(OutputError::Exists(destination.to_path_buf()));
        }
        let dir = destination.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let stem = destination.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "video".into());
        let ext = destination.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "mp4".into());
        let temporary = dir.join(format!(".{stem}.nanscope-tmp-{}.{ext}", std::process::id()));
        Ok(PendingOutput { destination: destination.to_path_buf(), temporary })
    }

    /// Moves the verified temporary file into place.
    pub fn commit(&self) -> Result<(), OutputError> {
        std::fs::rename(&self.temporary, &self.destination)
            .map_err(|source| OutputError::Io { path: self.destination.clone(), source })
    }

    /// Removes the temporary file (nothing happens when it does not exist).
    pub fn discard(&self) {
        let _ = std::fs::remove_file(&self.temporary);
    }
}

/// True when both paths name the same existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
