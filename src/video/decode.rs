//! Decoding a video's luma plane through a pipe from `ffmpeg`, one frame at a
//! time, with the decoder's stderr captured as structured messages.
//!
//! Only the Y plane travels through the pipe (`extractplanes=y`, a plane copy
//! without colour conversion), and only two frame buffers exist at any time,
//! so memory does not grow with the length of the video.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::frame_stats::LumaRange;
use super::tools::{ToolError, Tools, path_arg};

/// Frames larger than this many pixels are not decoded (a corrupt header
/// must not size our buffers).
pub const MAX_FRAME_PIXELS: u64 = 1 << 27;
/// Frames wider than this are measured on every second pixel of every second
/// row (see `LumaPlan::new`).
pub const DECIMATE_ABOVE_WIDTH: u64 = 960;
/// Decoder messages kept per file; the count covers all of them.
const MAX_MESSAGES: usize = 200;

/// One line the decoder printed at warning level or worse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecoderMessage {
    pub level: String,
    /// The component that printed it, e.g. `h264`.
    pub source: String,
    pub text: String,
    /// Frames already received when the line arrived: the frame being decoded is at or after this one.
    pub frames_before: u64,
}

/// What the decode pass saw apart from the pixels.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DecodeOutcome {
    pub frames: u64,
    /// Error-level lines (all of them, even beyond the kept messages).
    pub error_lines: u64,
    pub messages: Vec<DecoderMessage>,
    pub exit_success: bool,
    /// A frame cut short at the end of the pipe.
    pub partial_frame: bool,
}

/// How the luma plane is taken out of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LumaPlan {
    pub width: u64,
    pub height: u64,
    pub range: LumaRange,
    /// Copy the 8-bit Y plane; otherwise let ffmpeg convert to 8-bit gray.
    extract: bool,
    /// Keep every second pixel of every second row (point sampling, values unchanged).
    pub decimated: bool,
}

impl LumaPlan {
    /// Plans the decode of a stream with this pixel format and colour range.
    /// `None` when the declared size is zero or implausibly large.
    ///
    /// Frames wider than `DECIMATE_ABOVE_WIDTH` are point-sampled on a 2×2 grid
    /// unless `full_resolution`: a quarter of the bytes cross the pipe and the
    /// statistics cost a quarter, which keeps a 1080p check near decode speed.
    /// Sampled values are exact, so black levels and the exact-floor signature
    /// are unaffected; only regions narrower than two pixels can be missed.
    pub fn new(
        width: u64,
        height: u64,
        pix_fmt: &str,
        color_range: Option<&str>,
        full_resolution: bool,
    ) -> Option<LumaPlan> {
        let pixels = width.checked_mul(height)?;
        if pixels == 0 || pixels > MAX_FRAME_PIXELS {
            return None;
        }
        let eight_bit_yuv = (pix_fmt.starts_with("yuv") || pix_fmt.starts_with("nv") || pix_fmt == "gray")
            && !pix_fmt.ends_with("le")
            && !pix_fmt.ends_with("be");
        let full = pix_fmt.starts_with("yuvj") || pix_fmt == "gray" || color_range == Some("pc");
        let range = if !eight_bit_yuv || full { LumaRange::Full } else { LumaRange::Limited };
        let decimated = !full_resolution && width > DECIMATE_ABOVE_WIDTH && height >= 2;
        let (width, height) = if decimated { (width / 2, height / 2) } else { (width, height) };
        Some(LumaPlan { width, height, range, extract: eight_bit_yuv, decimated })
    }

    pub fn frame_len(&self) -> usize {
        (self.width * self.height) as usize
    }
}

/// Decodes every frame of the first video stream and hands each luma plane
/// (with the previous one) to `on_frame`. Decode problems are reported in the
/// outcome; only failing to run ffmpeg is an error.
pub fn decode_luma(
    tools: &Tools,
    path: &Path,
    plan: &LumaPlan,
    threads: Option<usize>,
    mut on_frame: impl FnMut(u64, &[u8], Option<&[u8]>),
) -> Result<DecodeOutcome, ToolError> {
    let mut command = tools.ffmpeg();
    command.args(["-loglevel", "level+warning"]);
    if let Some(threads) = threads {
        command.args(["-threads", &threads.to_string()]);
    }
    command.arg("-i").arg(path_arg(path)).args(["-map", "0:v:0", "-fps_mode", "passthrough"]);
    let mut filters = Vec::new();
    if plan.extract {
        filters.push("extractplanes=y");
    }
    if plan.decimated {
        filters.push("scale=trunc(iw/2):trunc(ih/2):flags=neighbor");
    }
    if !filters.is_empty() {
        command.args(["-vf", &filters.join(",")]);
    }
    command.args(["-pix_fmt", "gray", "-f", "rawvideo", "pipe:1"]);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ToolError::Run { program: tools.ffmpeg.display().to_string(), source })?;

    let received = Arc::new(AtomicU64::new(0));
    let stderr_reader = {
        let stderr = child.stderr.take();
        let received = Arc::clone(&received);
        std::thread::spawn(move || collect_messages(stderr, &received))
    };

    let mut outcome = DecodeOutcome::default();
    let len = plan.frame_len();
    let (mut current, mut previous) = (vec![0u8; len], vec![0u8; len]);
    let mut have_previous = false;
    if let Some(mut stdout) = child.stdout.take() {
        loop {
            match read_frame(&mut stdout, &mut current) {
                FrameRead::Full => {
                    on_frame(outcome.frames, &current, have_previous.then_some(previous.as_slice()));
                    outcome.frames += 1;
                    received.store(outcome.frames, Ordering::Relaxed);
                    std::mem::swap(&mut current, &mut previous);
                    have_previous = true;
                }
                FrameRead::Partial => {
                    outcome.partial_frame = true;
                    break;
                }
                FrameRead::End => break,
            }
        }
    }
    let status =
        child.wait().map_err(|source| ToolError::Run { program: tools.ffmpeg.display().to_string(), source })?;
    let (messages, error_lines) = stderr_reader.join().unwrap_or_default();
    outcome.messages = messages;
    outcome.error_lines = error_lines;
    outcome.exit_success = status.success();
    Ok(outcome)
}

enum FrameRead {
    Full,
    Partial,
    End,
}

fn read_frame(reader: &mut impl Read, buf: &mut [u8]) -> FrameRead {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    match filled {
        0 => FrameRead::End,
        n if n == buf.len() => FrameRead::Full,
        _ => FrameRead::Partial,
    }
}

fn collect_messages(stderr: Option<std::process::ChildStderr>, received: &AtomicU64) -> (Vec<DecoderMessage>, u64) {
    let mut messages = Vec::new();
    let mut errors = 0u64;
    let Some(stderr) = stderr else { return (messages, errors) };
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        let Some(message) = parse_log_line(&line, received.load(Ordering::Relaxed)) else { continue };
        if matches!(message.level.as_str(), "error" | "fatal" | "panic") {
            errors += 1;
        }
        if messages.len() < MAX_MESSAGES {
            messages.push(message);
        }
    }
    (messages, errors)
}

/// Parses `[h264 @ 0x55d…] [error] Reference 6 >= 4` (ffmpeg's `level+` log format).
pub fn parse_log_line(line: &str, frames_before: u64) -> Option<DecoderMessage> {
    let mut rest = line.trim();
    let mut source = String::new();
    let mut level = None;
    while let Some(stripped) = rest.strip_prefix('[') {
        let (inside, after) = stripped.split_once(']')?;
        match inside {
            "warning" | "error" | "fatal" | "panic" | "info" | "verbose" | "debug" => level = Some(inside.to_string()),
            component => source = component.split(" @ ").next().unwrap_or(component).to_string(),
        }
        rest = after.trim_start();
    }
    let level = level?;
    (!rest.is_empty()).then(|| DecoderMessage { level, source, text: rest.to_string(), frames_before })
}

/// Frames the decoder cannot decode cleanly: a second pass with errors made
/// fatal per frame (`-err_detect explode`) drops exactly those frames, and the
/// timestamps of the survivors show which ones are missing. Only run when the
/// first pass reported errors.
pub fn corrupt_frames(tools: &Tools, path: &Path, fps: f64, start: f64, frames: u64) -> Result<Vec<u64>, ToolError> {
    let output = tools
        .ffmpeg()
        .args(["-loglevel", "info", "-threads", "1", "-err_detect", "explode"])
        .arg("-i")
        .arg(path_arg(path))
        .args(["-map", "0:v:0", "-fps_mode", "passthrough", "-vf", "showinfo", "-f", "null", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|source| ToolError::Run { program: tools.ffmpeg.display().to_string(), source })?;
    let text = String::from_utf8_lossy(&output.stderr);
    let mut survived = vec![false; frames as usize];
    for line in text.lines().filter(|l| l.contains("Parsed_showinfo")) {
        let Some(pts) = line.split("pts_time:").nth(1).and_then(|t| t.split_whitespace().next()) else { continue };
        let Ok(pts) = pts.parse::<f64>() else { continue };
        let index = ((pts - start) * fps).round();
        if index >= 0.0 && (index as u64) < frames {
            survived[index as usize] = true;
        }
    }
    Ok(survived.iter().enumerate().filter(|(_, ok)| !**ok).map(|(i, _)| i as u64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_parse() {
        let m = parse_log_line("[h264 @ 0x5616] [error] error while decoding MB 5 6, bytestream 208", 27).unwrap();
        assert_eq!((m.level.as_str(), m.source.as_str(), m.frames_before), ("error", "h264", 27));
        assert_eq!(m.text, "error while decoding MB 5 6, bytestream 208");
        let m = parse_log_line("[error] Invalid data", 0).unwrap();
        assert_eq!(m.source, "");
        assert!(parse_log_line("plain text", 0).is_none());
    }

    proptest::proptest! {
        #[test]
        fn log_lines_never_panic(line in ".{0,80}") {
            let _ = parse_log_line(&line, 0);
        }
    }

    #[test]
    fn plans_pick_extraction_and_range() {
        let p = LumaPlan::new(64, 64, "yuv420p", Some("tv"), false).unwrap();
        assert!(p.extract && p.range == LumaRange::Limited && !p.decimated);
        let p = LumaPlan::new(64, 64, "yuvj420p", None, false).unwrap();
        assert!(p.extract && p.range == LumaRange::Full);
        let p = LumaPlan::new(64, 64, "yuv420p10le", None, false).unwrap();
        assert!(!p.extract && p.range == LumaRange::Full);
        assert!(LumaPlan::new(1 << 20, 1 << 20, "yuv420p", None, false).is_none());
        assert!(LumaPlan::new(0, 64, "yuv420p", None, false).is_none());
        let p = LumaPlan::new(1921, 1081, "yuv420p", None, false).unwrap();
        assert!(p.decimated && (p.width, p.height) == (960, 540));
        assert!(!LumaPlan::new(1921, 1081, "yuv420p", None, true).unwrap().decimated);
    }
}
