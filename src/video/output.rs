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
    /// `error` is part of the message, not a `source`, so that the printed
    /// error chain says it once.
    #[error("cannot write {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("ffmpeg failed to write {path}: {detail}")]
    Ffmpeg { path: PathBuf, detail: String },
    #[error("{0}")]
    Reference(String),
    /// The input holds nothing the strategy can turn into a playable file;
    /// `repair` reports it as a finding (V141), not as a failure to run.
    #[error("{0}")]
    Unrepairable(String),
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
        // A missing folder is said about the user's output, before any
        // program runs, not by ffmpeg about the temporary file.
        if let Err(error) = std::fs::metadata(dir) {
            return Err(OutputError::Io { path: destination.to_path_buf(), error });
        }
        let stem = destination.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "video".into());
        let ext = destination.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "mp4".into());
        let temporary = dir.join(format!(".{stem}.nanscope-tmp-{}.{ext}", std::process::id()));
        Ok(PendingOutput { destination: destination.to_path_buf(), temporary })
    }

    /// Moves the verified temporary file into place.
    pub fn commit(&self) -> Result<(), OutputError> {
        std::fs::rename(&self.temporary, &self.destination)
            .map_err(|source| OutputError::Io { path: self.destination.clone(), error: source })
    }

    /// The same error about the destination: the temporary file is an
    /// implementation detail no message should name.
    pub fn about_destination(&self, err: OutputError) -> OutputError {
        let temporary = self.temporary.display().to_string();
        let destination = self.destination.display().to_string();
        match err {
            OutputError::Ffmpeg { path, detail } if path == self.temporary => OutputError::Ffmpeg {
                path: self.destination.clone(),
                // ffmpeg names the file too; the path is already in the message.
                detail: detail.replace(&format!("{temporary}: "), "").replace(&temporary, &destination),
            },
            OutputError::Io { path, error } if path == self.temporary => {
                OutputError::Io { path: self.destination.clone(), error }
            }
            other => other,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Correctness issue: the OS error is in the message once; it is not
    /// also the error's source, which the printed error chain would repeat.
    #[test]
    fn a_missing_folder_and_ffmpeg_errors_name_the_destination() {
        let err = PendingOutput::new(Path::new("/nonexistent-nanscope/dir/out.mp4"), false).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("cannot write /nonexistent-nanscope/dir/out.mp4: "), "{text}");
        assert!(!text.contains("nanscope-tmp"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let pending = PendingOutput::new(&dir.path().join("out.mp4"), false).unwrap();
        let detail = format!("{}: Permission denied", pending.temporary.display());
        let err = pending.about_destination(OutputError::Ffmpeg { path: pending.temporary.clone(), detail });
        let text = err.to_string();
        assert!(!text.contains("nanscope-tmp") && text.matches("out.mp4").count() == 1, "{text}");
    }

    #[test]
    fn os_errors_are_said_once() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = missing.to_string();
        let err = OutputError::Io { path: PathBuf::from("out.mp4"), error: missing };
        assert!(std::error::Error::source(&err).is_none());
        assert_eq!(err.to_string().matches(&text).count(), 1, "{err}");
        let tool = super::super::ToolError::Run {
            program: "ffmpeg".into(),
            error: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let wrapped = OutputError::from(tool);
        assert!(std::error::Error::source(&wrapped).is_none_or(|s| s.source().is_none()));
        assert_eq!(wrapped.to_string().matches(&text).count(), 1, "{wrapped}");
    }
}
