//! Expanding the paths a user gave into the files a command checks.

use std::path::{Path, PathBuf};

/// Files named explicitly, as given (a file of the wrong kind is the
/// command's finding to make), then, below each folder, recursively and in
/// name order, the files `keep` accepts.
pub fn expand(paths: &[PathBuf], keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in paths {
        if !path.is_dir() {
            found.push(path.clone());
            continue;
        }
        let walk = walkdir::WalkDir::new(path).sort_by_file_name().follow_links(true).into_iter().filter_map(Result::ok);
        for entry in walk.filter(|e| e.file_type().is_file()) {
            if keep(entry.path()) {
                found.push(entry.into_path());
            }
        }
    }
    found
}

/// The target of `path` when `path` is a link to nothing.
pub fn broken_link(path: &Path) -> Option<PathBuf> {
    std::fs::read_link(path).ok().filter(|_| !path.exists())
}

/// `path` as a broken link, in words: "a broken link: its target T does not
/// exist"; `None` when it is not one.
pub fn broken_link_text(path: &Path) -> Option<String> {
    broken_link(path).map(|target| format!("a broken link: its target {} does not exist", target.display()))
}

/// What stopped a walk at `error.path()`, in words: a link back to a folder
/// above it, a link whose target does not exist, or the system's error.
pub fn walk_error_text(error: &walkdir::Error) -> String {
    if let Some(ancestor) = error.loop_ancestor() {
        return format!("a link back to {}, not walked again", ancestor.display());
    }
    if let Some(text) = error.path().and_then(broken_link_text) {
        return text;
    }
    match error.io_error() {
        Some(io) => format!("unreadable: {io}"),
        None => format!("unreadable: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_files_stay_and_folders_are_filtered_in_name_order() {
        let dir = std::env::temp_dir().join(format!("nanscope-walk-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["b.keep", "a.keep", "c.skip", "sub/d.keep"] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let explicit = dir.join("c.skip");
        let found = expand(&[explicit.clone(), dir.clone()], |p| p.extension().is_some_and(|e| e == "keep"));
        assert_eq!(found, vec![explicit, dir.join("a.keep"), dir.join("b.keep"), dir.join("sub/d.keep")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
