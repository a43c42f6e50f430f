//! Turning the paths a user gives into the list of files to scan.

use std::path::{Path, PathBuf};

use crate::formats::unreadable_file;
use crate::formats::walk::{broken_link, broken_link_text, walk_error_text};
use crate::report::Finding;

/// A file to scan, and whether the user named it (rather than it being found
/// by walking a directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    pub explicit: bool,
}

/// Extensions that mark a file found in a directory as a checkpoint even when
/// its content is unrecognisable (so a corrupted `model.safetensors` is
/// reported, while a `README.md` beside it is not). The pickle family is
/// here because loaders run such files whatever their content looks like;
/// a file without an extension is scanned when its content is recognised
/// (pickles of every protocol are recognised by content).
pub const CHECKPOINT_EXTENSIONS: &[&str] =
    &["safetensors", "pt", "pth", "bin", "ckpt", "npy", "npz", "gguf", "pkl", "pickle", "dill", "joblib", "sav"];

pub fn has_checkpoint_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| CHECKPOINT_EXTENSIONS.iter().any(|c| c.eq_ignore_ascii_case(e)))
}

/// A file met while walking a folder that is no checkpoint: nothing
/// recognisable under a name that is not a checkpoint's (a Git LFS pointer
/// named like an image is a missing image), or one of the `.pth` path files
/// a Python environment keeps in site-packages. Named files are always read.
pub fn is_stray(input: &InputFile, checkpoint: &crate::formats::Checkpoint) -> bool {
    !input.explicit
        && checkpoint.format.is_stray_candidate()
        && (!has_checkpoint_extension(&input.path)
            || crate::formats::detect::is_python_path_config(checkpoint.bytes()))
}

/// Expands directories recursively (sorted, links followed). Paths that do
/// not exist, and broken links named like checkpoints, become findings.
pub fn collect_inputs(paths: &[PathBuf]) -> (Vec<InputFile>, Vec<Finding>) {
    let mut files = Vec::new();
    let mut findings = Vec::new();
    for path in paths {
        if path.is_dir() {
            // Links are followed: Hugging Face's cache is a folder of links
            // to blobs, and a models folder is often a link to shared storage.
            let walker = walkdir::WalkDir::new(path).sort_by_file_name().follow_links(true);
            for entry in walker {
                match entry {
                    Ok(entry) if entry.file_type().is_file() => {
                        files.push(InputFile { path: entry.into_path(), explicit: false });
                    }
                    Ok(_) => {}
                    // A loop is walked once; a broken link matters when it
                    // stands for a checkpoint (an unfinished download).
                    Err(err) if err.loop_ancestor().is_some() => {}
                    Err(err)
                        if err.path().is_some_and(|p| broken_link(p).is_some() && !has_checkpoint_extension(p)) => {}
                    Err(err) => {
                        let at = err.path().unwrap_or(path).display().to_string();
                        findings.push(unreadable_file(&at, format!("cannot read {at}: {}", walk_error_text(&err))));
                    }
                }
            }
        } else if path.exists() {
            files.push(InputFile { path: path.clone(), explicit: true });
        } else {
            let at = path.display().to_string();
            let why = match broken_link_text(path) {
                Some(text) => format!("{at}: {text}"),
                None => format!("{at} does not exist"),
            };
            findings.push(unreadable_file(&at, why));
        }
    }
    (files, findings)
}
