//! One policy for the paths every command is given, and one way to print a
//! fatal error.
//!
//! A path that does not exist is a usage error (exit 2), found before any
//! work starts, with the same message in every command. A run that found
//! nothing to check (an empty folder, an archive without tensors, a folder
//! without videos) is also exit 2: nanscope could not do its job, and an
//! empty run must never read as a pass.

use std::path::Path;

/// Fails on the first path that does not exist (or cannot be looked up),
/// naming it: `PATH: no such file or directory`.
pub fn require_existing<P: AsRef<Path>>(paths: &[P]) -> anyhow::Result<()> {
    Ok(crate::commands::require_existing(paths)?)
}

/// The one line printed for a fatal error: the error and the causes that
/// its own text does not already quote. Library errors often embed their
/// source in the message (`cannot write X: No such file…`) and also return
/// it as the source, which `{:#}` would print twice.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot write {path}: {source}")]
    struct WriteError {
        path: String,
        source: io::Error,
    }

    #[test]
    fn os_errors_are_not_printed_twice() {
        let source = io::Error::from_raw_os_error(2);
        let err = anyhow::Error::new(WriteError { path: "x.mp4".into(), source });
        let line = error_line(&err);
        assert_eq!(line.matches("No such file").count(), 1, "{line}");
        let err = anyhow::Error::new(io::Error::from_raw_os_error(2)).context("cannot open y");
        assert_eq!(error_line(&err), "cannot open y: No such file or directory (os error 2)");
    }

    #[test]
    fn a_missing_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.safetensors");
        let err = require_existing(&[dir.path().to_path_buf(), missing.clone()]).unwrap_err();
        assert_eq!(err.to_string(), format!("{}: no such file or directory", missing.display()));
        assert!(require_existing(&[dir.path()]).is_ok());
    }
}
