//! Path globs of the gate configuration: `*` and `?` within one path
//! component, `**` across any number of them; `/` separates components.

use std::path::{Path, PathBuf};

/// Whether `path` (components joined by `/`) matches `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_start_matches("./").split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.trim_start_matches("./").split('/').filter(|s| !s.is_empty()).collect();
    match_parts(&pattern, &path)
}

fn match_parts(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_parts(rest, &path[skip..])),
        Some((first, rest)) => path
            .split_first()
            .is_some_and(|(head, tail)| match_part(first.as_bytes(), head.as_bytes()) && match_parts(rest, tail)),
    }
}

/// One component: `*` any run of bytes, `?` one byte.
fn match_part(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The files and folders below `root` that `pattern` matches, sorted, as
/// paths joined to `root`. The walk starts at the pattern's literal prefix
/// and does not follow links.
pub fn expand(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let literal: Vec<&str> =
        pattern.trim_start_matches("./").split('/').take_while(|part| !part.contains(['*', '?'])).collect();
    let start = match (root.as_os_str().is_empty(), literal.is_empty()) {
        (true, true) => PathBuf::from("."),
        _ => root.join(literal.join("/")),
    };
    if literal.len() == pattern.trim_start_matches("./").split('/').count() {
        return if start.exists() { vec![start] } else { Vec::new() };
    }
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(&start).sort_by_file_name().follow_links(false).into_iter().flatten() {
        let path = entry.path();
        let path = path.strip_prefix(".").unwrap_or(path);
        let Ok(relative) = path.strip_prefix(root) else { continue };
        let relative = relative.to_string_lossy().replace('\\', "/");
        if matches(pattern, &relative) {
            found.push(path.to_path_buf());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_within_a_component_and_double_stars_cross() {
        assert!(matches("renders/*.mp4", "renders/a.mp4"));
        assert!(!matches("renders/*.mp4", "renders/x/a.mp4"));
        assert!(matches("renders/**/*.mp4", "renders/x/y/a.mp4"));
        assert!(matches("renders/**/*.mp4", "renders/a.mp4"));
        assert!(matches("**", "anything/at/all"));
        assert!(matches("w/model-0000?.safetensors", "w/model-00003.safetensors"));
        assert!(!matches("*.pt", "a.pth"));
        assert!(matches("./a/b", "a/b"));
    }
}
