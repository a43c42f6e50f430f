//! The duration of an audio file, from ffprobe, to know how many pose
//! frames a generation needs (`int(seconds · fps)`, as EchoMimicV2 computes it).

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(
        "ffprobe is needed to read the duration of {0} but was not found; install FFmpeg \
         (Debian/Ubuntu: `apt-get install ffmpeg`, macOS: `brew install ffmpeg`) or set NANSCOPE_FFPROBE, \
         or pass --expect-frames instead of --audio"
    )]
    Missing(PathBuf),
    #[error("ffprobe could not read {path}: {why}")]
    Unreadable { path: PathBuf, why: String },
}

/// The ffprobe program: `NANSCOPE_FFPROBE`, else `ffprobe` on PATH.
fn ffprobe() -> PathBuf {
    std::env::var_os("NANSCOPE_FFPROBE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("ffprobe"))
}

/// Seconds of audio in `path`.
pub fn duration(path: &Path) -> Result<f64, AudioError> {
    let output = Command::new(ffprobe())
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(path)
        .output()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => AudioError::Missing(path.to_path_buf()),
            _ => AudioError::Unreadable { path: path.to_path_buf(), why: err.to_string() },
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    let seconds = text.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0);
    match (output.status.success(), seconds) {
        (true, Some(seconds)) => Ok(seconds),
        _ => Err(AudioError::Unreadable {
            path: path.to_path_buf(),
            why: String::from_utf8_lossy(&output.stderr).trim().lines().last().unwrap_or("no duration").to_string(),
        }),
    }
}

/// Frames EchoMimicV2 generates for `seconds` of audio at `fps`.
pub fn frames_for(seconds: f64, fps: f64) -> u64 {
    (seconds * fps).floor().max(0.0) as u64
}
