//! Finding and running the external `ffmpeg` and `ffprobe` programs.
//!
//! nanscope never links libav: it runs the binaries (5.1 or newer) from PATH or
//! from `NANSCOPE_FFMPEG` / `NANSCOPE_FFPROBE`, so a missing program is a typed
//! error the CLI turns into exit code 2 with install instructions.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How to install FFmpeg, appended to every "missing program" message.
pub const INSTALL_HINT: &str = "install FFmpeg 5.1 or newer (Debian/Ubuntu: `apt-get install ffmpeg`, \
                                Fedora: `dnf install ffmpeg`, macOS: `brew install ffmpeg`)";

/// The oldest FFmpeg release whose behaviour nanscope relies on (`-fps_mode`, ffprobe `-count_packets`).
const MIN_VERSION: (u32, u32) = (5, 1);

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{program} not found ({looked}); {INSTALL_HINT}, or set {env} to its path")]
    Missing { program: &'static str, looked: String, env: &'static str },
    #[error("{program} {version} is too old: nanscope needs 5.1 or newer; {INSTALL_HINT}")]
    TooOld { program: &'static str, version: String },
    /// `error` is part of the message and deliberately not a `source`: the
    /// CLI prints the error chain, which would say it twice.
    #[error("cannot run {program}: {error}")]
    Run { program: String, error: std::io::Error },
}

/// The two programs, found once per run.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Tools {
    /// Finds both programs without running them (each FFmpeg start costs tens
    /// of milliseconds of dynamic linking). `video check` reads ffprobe's
    /// version from its probe output and asks ffmpeg only when it fails.
    pub fn find() -> Result<Tools, ToolError> {
        Ok(Tools { ffmpeg: find_one("ffmpeg", "NANSCOPE_FFMPEG")?, ffprobe: find_one("ffprobe", "NANSCOPE_FFPROBE")? })
    }

    /// Finds both programs and checks their versions (both `-version` runs at once).
    pub fn locate() -> Result<Tools, ToolError> {
        let tools = Tools::find()?;
        let ffprobe = tools.ffprobe.clone();
        let probe = std::thread::spawn(move || check_version("ffprobe", &ffprobe));
        check_version("ffmpeg", &tools.ffmpeg)?;
        probe.join().unwrap_or(Ok(()))?;
        Ok(tools)
    }

    /// Runs `ffmpeg -version`: an error when it is older than 5.1.
    pub fn check_ffmpeg_version(&self) -> Result<(), ToolError> {
        check_version("ffmpeg", &self.ffmpeg)
    }

    /// An `ffmpeg` command with the flags every invocation shares.
    pub fn ffmpeg(&self) -> Command {
        let mut command = Command::new(&self.ffmpeg);
        command.args(["-hide_banner", "-nostdin", "-nostats"]);
        command
    }

    pub fn ffprobe(&self) -> Command {
        Command::new(&self.ffprobe)
    }
}

/// The program named by `env`, or the first executable file of that name on PATH.
fn find_one(program: &'static str, env: &'static str) -> Result<PathBuf, ToolError> {
    if let Some(path) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(ToolError::Missing { program, looked: format!("{env}={}", path.display()), env })
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| ToolError::Missing { program, looked: "on PATH".into(), env })
}

fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = std::fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    metadata.is_file()
}

fn check_version(program: &'static str, path: &Path) -> Result<(), ToolError> {
    let output = Command::new(path)
        .arg("-version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|source| ToolError::Run { program: path.display().to_string(), error: source })?;
    let text = String::from_utf8_lossy(&output.stdout);
    match text.lines().next().and_then(|line| line.split_whitespace().nth(2)) {
        Some(version) => version_at_least(program, version),
        None => Err(ToolError::Run {
            program: path.display().to_string(),
            error: std::io::Error::other("`-version` printed nothing"),
        }),
    }
}

/// An error when `version` is a release older than 5.1.
pub fn version_at_least(program: &'static str, version: &str) -> Result<(), ToolError> {
    match parse_version(version) {
        Some(found) if found < MIN_VERSION => Err(ToolError::TooOld { program, version: version.to_string() }),
        _ => Ok(()),
    }
}

/// `5.1.9-0+deb12u1` → (5, 1); `n6.0` → (6, 0). Git snapshots (`N-112345-g…`)
/// have no release number and are accepted.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let text = text.strip_prefix('n').unwrap_or(text);
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Reads a child's stderr on a thread so the child can never block on a full
/// pipe; the handle yields the collected text (at most `limit` bytes are kept).
pub fn drain_stderr(child: &mut Child, limit: usize) -> std::thread::JoinHandle<String> {
    let stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut stderr) = stderr {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// The last few lines of a program's stderr, for error messages.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

/// Converts a path to the argument ffmpeg gets. A path starting with `-` would
/// be read as an option, so such relative paths are prefixed with `./`.
pub fn path_arg(path: &std::path::Path) -> OsString {
    let s = path.as_os_str();
    if s.to_string_lossy().starts_with('-') {
        let mut prefixed = OsString::from("./");
        prefixed.push(s);
        prefixed
    } else {
        s.to_os_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("5.1.9-0+deb12u1"), Some((5, 1)));
        assert_eq!(parse_version("n6.0"), Some((6, 0)));
        assert_eq!(parse_version("4.4.2-0ubuntu0.22.04.1"), Some((4, 4)));
        assert_eq!(parse_version("N-112345-gdeadbeef"), None);
        assert!(parse_version("4.4.2").unwrap() < MIN_VERSION);
        assert!(version_at_least("ffmpeg", "4.4.2").is_err());
        assert!(version_at_least("ffmpeg", "N-112345-gdeadbeef").is_ok());
    }

    #[test]
    fn programs_are_found_on_path_or_named() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        assert!(!is_executable(&plain) || cfg!(not(unix)));
        assert!(!is_executable(dir.path()));
        assert!(!is_executable(&dir.path().join("absent")));
    }

    #[test]
    fn dash_paths_are_not_options() {
        assert_eq!(path_arg(std::path::Path::new("-x.mp4")), OsString::from("./-x.mp4"));
        assert_eq!(path_arg(std::path::Path::new("a.mp4")), OsString::from("a.mp4"));
    }
}
