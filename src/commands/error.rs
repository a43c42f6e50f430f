//! Why a command could not do its job (the CLI's exit code 2).

use std::io;
use std::path::{Path, PathBuf};

/// A command that could not run to a report. Problems with the *content* of
/// an input are findings in the report, never this error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// An input path does not exist or cannot be looked up.
    #[error("{}: {reason}", path.display())]
    MissingInput { path: PathBuf, reason: String },
    /// The inputs exist but hold nothing the command checks.
    #[error("nothing to check: {} {} no {what}", inputs.join(", "), if inputs.len() == 1 { "holds" } else { "hold" })]
    NothingToCheck { inputs: Vec<String>, what: String },
    /// An option value the command refuses.
    #[error("{0}")]
    InvalidOption(String),
    /// The inputs were read, but what the command makes cannot be made from them.
    #[error("{0}")]
    Refused(String),
    /// A file the command writes (a chart, a folder) could not be written.
    #[error("{message}")]
    Write {
        message: String,
        #[source]
        source: io::Error,
    },
    /// A chart could not be drawn.
    #[error("cannot draw {}: {detail}", path.display())]
    Draw { path: PathBuf, detail: String },
    /// ffmpeg or ffprobe is missing, too old or failed to start.
    #[error(transparent)]
    Tool(#[from] crate::video::ToolError),
    #[error(transparent)]
    Plot(#[from] crate::video::plot::PlotError),
    #[error(transparent)]
    Output(#[from] crate::video::output::OutputError),
    #[error(transparent)]
    Encode(#[from] crate::video::encode::EncodeError),
    /// The replay spec could not be read.
    #[error(transparent)]
    Spec(#[from] crate::replay::SpecError),
    /// The replay engine failed.
    #[error("replay of {} failed", spec.display())]
    Replay {
        spec: PathBuf,
        #[source]
        source: crate::replay::engine::EngineError,
    },
    /// The replayed frames could not be encoded.
    #[error("encoding the frames as {}", video.display())]
    EncodeFrames {
        video: PathBuf,
        #[source]
        source: crate::video::encode::EncodeError,
    },
    #[error(transparent)]
    PoseWrite(#[from] crate::pose::write::WriteError),
    #[error(transparent)]
    Convert(#[from] crate::pose::convert::ConvertError),
    #[error(transparent)]
    Image(#[from] image::ImageError),
    /// An image could not be checked.
    #[error(transparent)]
    ImageCheck(#[from] crate::image::ImageError),
    #[error(transparent)]
    Audio(#[from] crate::pose::audio::AudioError),
}

/// Fails on the first path that does not exist (or cannot be looked up),
/// naming it: `PATH: no such file or directory`.
pub(crate) fn require_existing<P: AsRef<Path>>(paths: &[P]) -> Result<(), CommandError> {
    for path in paths {
        let path = path.as_ref();
        if let Err(err) = std::fs::metadata(path) {
            let reason = crate::formats::walk::broken_link_text(path).unwrap_or_else(|| io_reason(&err));
            return Err(CommandError::MissingInput { path: path.to_path_buf(), reason });
        }
    }
    Ok(())
}

/// The error of a run that checked nothing: `nothing to check: A, B hold no
/// checkpoint tensors`.
pub(crate) fn nothing_to_check<P: AsRef<Path>>(paths: &[P], what: &str) -> CommandError {
    CommandError::NothingToCheck { inputs: super::input_labels(paths), what: what.to_string() }
}

/// An I/O error as a lowercase fragment without Rust's `(os error N)` tail.
fn io_reason(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = err.to_string();
            let text = match text.find(" (os error") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.safetensors");
        let err = require_existing(&[dir.path().to_path_buf(), missing.clone()]).unwrap_err();
        assert_eq!(err.to_string(), format!("{}: no such file or directory", missing.display()));
        assert!(require_existing(&[dir.path()]).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_broken_link_is_named_with_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("denoising_unet.pth");
        std::os::unix::fs::symlink("../../blobs/5f1e", &link).unwrap();
        let err = require_existing(std::slice::from_ref(&link)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: a broken link: its target ../../blobs/5f1e does not exist", link.display())
        );
    }

    #[test]
    fn nothing_to_check_names_every_input() {
        assert_eq!(nothing_to_check(&["a", "b"], "videos").to_string(), "nothing to check: a, b hold no videos");
        assert_eq!(nothing_to_check(&["a"], "videos").to_string(), "nothing to check: a holds no videos");
    }
}
