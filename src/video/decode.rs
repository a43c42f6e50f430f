//! Decoding a video's luma plane through a pipe from `ffmpeg`, one frame at a
//! time, with the decoder's stderr captured as structured messages.
//!
//! Only the Y plane travels through the pipe (`extractplanes=y`, a plane copy
//! without colour conversion), as a YUV4MPEG stream: its header states the
//! frame size ffmpeg really produces, and the muxer writes planes straight
//! from the decoded frame (no raw-video encoder copy). Only two frame buffers
//! exist at any time, so memory does not grow with the length of the video.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use serde::Serialize;

use super::frame_stats::LumaRange;
use super::tools::{ToolError, Tools, path_arg};

/// Frames larger than this many pixels are not decoded (a corrupt header
/// must not size our buffers).
pub const MAX_FRAME_PIXELS: u64 = 1 << 27;
/// Frames wider than this are measured on every second row (see `LumaPlan::new`).
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
    /// ffmpeg's output could not be read as the frames asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_problem: Option<String>,
}

/// How the luma plane is taken out of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LumaPlan {
    pub width: u64,
    pub height: u64,
    pub range: LumaRange,
    /// Copy the 8-bit Y plane; otherwise let ffmpeg convert to 8-bit gray.
    extract: bool,
    /// Keep every second row (the top field: values unchanged, no filtering).
    pub decimated: bool,
}

impl LumaPlan {
    /// Plans the decode of a stream with this pixel format and colour range.
    /// `None` when the declared size is zero or implausibly large.
    ///
    /// Frames wider than `DECIMATE_ABOVE_WIDTH` keep every second row unless
    /// `full_resolution`: half the bytes cross the pipe, which keeps a 1080p
    /// check near decode speed. Kept values are exact, so black levels and the
    /// exact-floor signature are unaffected; only features one row tall can be
    /// missed.
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
        let height = if decimated { height.div_ceil(2) } else { height };
        Some(LumaPlan { width, height, range, extract: eight_bit_yuv, decimated })
    }

    /// The plan for an MP4's video track before ffprobe has said anything
    /// but its size: 8-bit limited-range YUV, by far the common case.
    /// `check` compares it with the real plan once ffprobe answers.
    pub fn guess(width: u64, height: u64, full_resolution: bool) -> Option<LumaPlan> {
        LumaPlan::new(width, height, "yuv420p", None, full_resolution)
    }

    /// Both plans run the same ffmpeg filters (the range only changes how
    /// values are read).
    pub fn same_decode(&self, other: &LumaPlan) -> bool {
        self.extract == other.extract && self.decimated == other.decimated
    }
}

/// A running ffmpeg decode of the first video stream whose frames have not
/// been read yet; `finish` hands each luma plane (with the previous one) to a
/// callback. Decode problems are reported in the outcome; only failing to run
/// ffmpeg is an error. Starting it before ffprobe answers hides one program
/// start-up; dropping it unread stops ffmpeg.
pub struct LumaDecode {
    child: Option<Child>,
    stderr_reader: Option<JoinHandle<(Vec<DecoderMessage>, u64)>>,
    received: Arc<AtomicU64>,
    program: String,
    /// Which filters the decode runs (`LumaPlan::same_decode` compares them).
    pub plan: LumaPlan,
}

impl LumaDecode {
    pub fn start(tools: &Tools, path: &Path, plan: &LumaPlan, threads: Option<usize>) -> Result<LumaDecode, ToolError> {
        let mut command = tools.ffmpeg();
        command.args(["-loglevel", "level+warning"]);
        if let Some(threads) = threads {
            command.args(["-threads", &threads.to_string()]);
        }
        command.arg("-i").arg(path_arg(path)).args(["-map", "0:v:0", "-fps_mode", "passthrough"]);
        // The field filter only moves row pointers, so dropping rows first
        // halves the plane copy that follows.
        let mut filters = Vec::new();
        if plan.decimated {
            filters.push("field=top");
        }
        if plan.extract {
            filters.push("extractplanes=y");
        }
        if !filters.is_empty() {
            command.args(["-vf", &filters.join(",")]);
        }
        command.args(["-pix_fmt", "gray", "-f", "yuv4mpegpipe", "pipe:1"]);
        let program = tools.ffmpeg.display().to_string();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ToolError::Run { program: program.clone(), error: source })?;
        if let Some(stdout) = &child.stdout {
            widen_pipe(stdout);
        }
        let received = Arc::new(AtomicU64::new(0));
        let stderr_reader = {
            let stderr = child.stderr.take();
            let received = Arc::clone(&received);
            std::thread::spawn(move || collect_messages(stderr, &received))
        };
        Ok(LumaDecode { child: Some(child), stderr_reader: Some(stderr_reader), received, program, plan: *plan })
    }

    /// Reads every frame, then waits for ffmpeg and collects what it printed.
    pub fn finish(mut self, mut on_frame: impl FnMut(u64, &[u8], Option<&[u8]>)) -> Result<DecodeOutcome, ToolError> {
        let mut outcome = DecodeOutcome::default();
        let Some(mut child) = self.child.take() else { return Ok(outcome) };
        if let Some(stdout) = child.stdout.take() {
            let mut stream = BufReader::with_capacity(1 << 16, stdout);
            match read_stream_header(&mut stream) {
                Ok(Some(header)) if header.mono && header.pixels() <= MAX_FRAME_PIXELS => {
                    let len = header.pixels() as usize;
                    read_frames(&mut stream, len, &self.received, &mut outcome, &mut on_frame);
                }
                Ok(Some(header)) => {
                    outcome.stream_problem = Some(format!("ffmpeg produced an unusable stream: {header}"))
                }
                Ok(None) => {}
                Err(problem) => outcome.stream_problem = Some(problem),
            }
        }
        if outcome.stream_problem.is_some() {
            let _ = child.kill();
        }
        let status = child.wait().map_err(|source| ToolError::Run { program: self.program.clone(), error: source })?;
        let (messages, error_lines) =
            self.stderr_reader.take().and_then(|reader| reader.join().ok()).unwrap_or_default();
        outcome.messages = messages;
        outcome.error_lines = error_lines;
        outcome.exit_success = status.success() && outcome.stream_problem.is_none();
        Ok(outcome)
    }
}

impl Drop for LumaDecode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }
}

fn read_frames(
    stream: &mut impl BufRead,
    len: usize,
    received: &AtomicU64,
    outcome: &mut DecodeOutcome,
    on_frame: &mut impl FnMut(u64, &[u8], Option<&[u8]>),
) {
    let (mut current, mut previous) = (vec![0u8; len], vec![0u8; len]);
    let mut have_previous = false;
    loop {
        match read_line(stream, MAX_HEADER_LINE) {
            Ok(None) => break,
            Ok(Some(line)) if line.starts_with(b"FRAME") => {}
            Ok(Some(_)) | Err(_) => {
                outcome.stream_problem = Some("ffmpeg's frame stream lost its framing".into());
                break;
            }
        }
        match read_frame(stream, &mut current) {
            FrameRead::Full => {
                on_frame(outcome.frames, &current, have_previous.then_some(previous.as_slice()));
                outcome.frames += 1;
                received.store(outcome.frames, Ordering::Relaxed);
                std::mem::swap(&mut current, &mut previous);
                have_previous = true;
            }
            FrameRead::Partial | FrameRead::End => {
                outcome.partial_frame = true;
                break;
            }
        }
    }
}

/// The longest stream or frame header line accepted from ffmpeg.
const MAX_HEADER_LINE: usize = 1024;

/// What the YUV4MPEG stream header says about the frames that follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHeader {
    pub width: u64,
    pub height: u64,
    /// One 8-bit plane per frame (`Cmono`).
    pub mono: bool,
}

impl StreamHeader {
    fn pixels(&self) -> u64 {
        self.width.saturating_mul(self.height)
    }
}

impl std::fmt::Display for StreamHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.mono { "8-bit gray" } else { "not 8-bit gray" };
        write!(f, "{}x{} {kind}", self.width, self.height)
    }
}

/// Parses `YUV4MPEG2 W1920 H540 F30:1 Ip A1:1 Cmono`. `Ok(None)` when ffmpeg
/// wrote nothing at all (it failed before the first frame).
pub fn read_stream_header(stream: &mut impl BufRead) -> Result<Option<StreamHeader>, String> {
    let line = match read_line(stream, MAX_HEADER_LINE) {
        Ok(Some(line)) => line,
        Ok(None) => return Ok(None),
        Err(err) => return Err(format!("reading ffmpeg's frame stream: {err}")),
    };
    let text = String::from_utf8_lossy(&line);
    let mut words = text.split(' ');
    if words.next() != Some("YUV4MPEG2") {
        return Err("ffmpeg's frame stream has no YUV4MPEG2 header".into());
    }
    let (mut width, mut height, mut mono) = (None, None, true);
    for word in words {
        match word.split_at_checked(1) {
            Some(("W", value)) => width = value.parse::<u64>().ok(),
            Some(("H", value)) => height = value.parse::<u64>().ok(),
            Some(("C", value)) => mono = value == "mono",
            _ => {}
        }
    }
    match (width, height) {
        (Some(width), Some(height)) if width > 0 && height > 0 => Ok(Some(StreamHeader { width, height, mono })),
        _ => Err(format!("ffmpeg's frame stream header has no usable size: {text}")),
    }
}

/// One `\n`-terminated line, without the terminator; `Ok(None)` at a clean end.
pub(crate) fn read_line(stream: &mut impl BufRead, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let read = stream.take(max as u64 + 1).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "header line cut short or too long"));
    }
    Ok(Some(line))
}

/// Asks for a 1 MiB pipe: with the default 64 KiB, ffmpeg and the reader
/// trade places dozens of times per 1080p frame.
fn widen_pipe(stdout: &std::process::ChildStdout) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: F_SETPIPE_SZ only resizes the pipe behind a descriptor we
        // own; failure (an unprivileged limit) leaves the default in place.
        unsafe { libc::fcntl(stdout.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stdout;
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

/// What a strict decode (`-err_detect explode`) says about the frames.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrictPass {
    /// Frames it drops: those the decoder cannot decode cleanly.
    pub dropped: Vec<u64>,
    /// Keyframes among the frames it decodes.
    pub keyframes: Vec<u64>,
}

/// Frames the decoder cannot decode cleanly: a second pass with errors made
/// fatal per frame (`-err_detect explode`) drops exactly those frames, and the
/// timestamps of the survivors show which ones are missing; their `iskey`
/// marks show where the damage stops propagating. Only run when the first
/// pass reported errors. `end` limits the pass to the whole packets of a
/// truncated file: the packet cut by the end would stop a strict decoder and
/// lose the intact frames it still held.
pub fn strict_pass(
    tools: &Tools,
    path: &Path,
    end: Option<u64>,
    fps: f64,
    start: f64,
    frames: u64,
) -> Result<StrictPass, ToolError> {
    let output = tools
        .ffmpeg()
        .args(["-loglevel", "info", "-threads", "1", "-err_detect", "explode"])
        .arg("-i")
        .arg(input_arg(path, end))
        .args(["-map", "0:v:0", "-fps_mode", "passthrough", "-vf", "showinfo", "-f", "null", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|source| ToolError::Run { program: tools.ffmpeg.display().to_string(), error: source })?;
    Ok(parse_strict_pass(&String::from_utf8_lossy(&output.stderr), fps, start, frames))
}

/// Decoder errors in the first `end` bytes of a file: zero when every error
/// of a truncated file came from the packet the end cut short. The
/// demuxer's own notes about the missing data are not decoder errors.
pub fn errors_before(tools: &Tools, path: &Path, end: u64) -> Result<u64, ToolError> {
    let output = tools
        .ffmpeg()
        .args(["-loglevel", "level+error", "-i"])
        .arg(input_arg(path, Some(end)))
        .args(["-map", "0:v:0", "-f", "null", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|source| ToolError::Run { program: tools.ffmpeg.display().to_string(), error: source })?;
    let text = String::from_utf8_lossy(&output.stderr);
    Ok(text
        .lines()
        .filter_map(|line| parse_log_line(line, 0))
        .filter(|m| m.level != "warning" && !m.text.contains("partial file"))
        .count() as u64)
}

/// The input ffmpeg reads: the file, or only its first `end` bytes through
/// the `subfile` protocol.
pub fn input_arg(path: &Path, end: Option<u64>) -> std::ffi::OsString {
    match end {
        None => path_arg(path),
        Some(end) => {
            let mut arg = std::ffi::OsString::from(format!("subfile,,start,0,end,{end},,:"));
            arg.push(path.as_os_str());
            arg
        }
    }
}

/// Reads `showinfo` lines (`n: 0 pts: 0 pts_time:0 … iskey:1 type:I …`).
pub fn parse_strict_pass(text: &str, fps: f64, start: f64, frames: u64) -> StrictPass {
    let mut survived = vec![false; frames as usize];
    let mut keyframes = Vec::new();
    for line in text.lines().filter(|l| l.contains("Parsed_showinfo")) {
        let Some(pts) = line.split("pts_time:").nth(1).and_then(|t| t.split_whitespace().next()) else { continue };
        let Ok(pts) = pts.parse::<f64>() else { continue };
        let index = ((pts - start) * fps).round();
        if index >= 0.0 && (index as u64) < frames {
            survived[index as usize] = true;
            if line.contains(" iskey:1") {
                keyframes.push(index as u64);
            }
        }
    }
    keyframes.sort_unstable();
    keyframes.dedup();
    let dropped = survived.iter().enumerate().filter(|(_, ok)| !**ok).map(|(i, _)| i as u64).collect();
    StrictPass { dropped, keyframes }
}

/// Frames after each damaged one up to the next keyframe (the decoder
/// predicts them from the damaged picture), excluding the damaged frames.
pub fn propagated_frames(damaged: &[u64], keyframes: &[u64], frames: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for &d in damaged {
        let end = keyframes.iter().copied().find(|&k| k > d).unwrap_or(frames);
        out.extend((d + 1..end.min(frames)).filter(|f| damaged.binary_search(f).is_err()));
    }
    out.sort_unstable();
    out.dedup();
    out
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
    fn strict_pass_lines_give_dropped_frames_and_keyframes() {
        let text = "[Parsed_showinfo_0 @ 0x1] n:   0 pts:      0 pts_time:0       pos: 48 i:P iskey:1 type:I\n\
                    [Parsed_showinfo_0 @ 0x1] n:   1 pts:    512 pts_time:0.0416667 pos: 9 i:P iskey:0 type:P\n\
                    [Parsed_showinfo_0 @ 0x1] n:   2 pts:   2048 pts_time:0.166667 pos: 9 i:P iskey:1 type:I\n\
                    [h264 @ 0x2] error while decoding MB 3 4\n";
        let pass = parse_strict_pass(text, 24.0, 0.0, 6);
        assert_eq!(pass, StrictPass { dropped: vec![2, 3, 5], keyframes: vec![0, 4] });
    }

    #[test]
    fn damage_propagates_until_the_next_keyframe() {
        assert_eq!(propagated_frames(&[2], &[0, 5], 8), [3, 4]);
        assert_eq!(propagated_frames(&[2, 3], &[0, 5], 8), [4]);
        assert_eq!(propagated_frames(&[6], &[0, 5], 8), [7]);
        assert_eq!(propagated_frames(&[4], &[0, 5], 8), Vec::<u64>::new());
        assert!(propagated_frames(&[], &[0], 8).is_empty());
    }

    #[test]
    fn stream_headers_parse() {
        let mut input = &b"YUV4MPEG2 W1920 H540 F30:1 Ip A1:1 Cmono\nFRAME\n"[..];
        let header = read_stream_header(&mut input).unwrap().unwrap();
        assert_eq!(header, StreamHeader { width: 1920, height: 540, mono: true });
        assert_eq!(read_line(&mut input, 16).unwrap().unwrap(), b"FRAME");
        let header = read_stream_header(&mut &b"YUV4MPEG2 W8 H8 C420jpeg\n"[..]).unwrap().unwrap();
        assert!(!header.mono);
        assert!(read_stream_header(&mut &b""[..]).unwrap().is_none());
        assert!(read_stream_header(&mut &b"YUV4MPEG2 W0 H8\n"[..]).is_err());
        assert!(read_stream_header(&mut &b"RIFF\n"[..]).is_err());
        assert!(read_stream_header(&mut &b"YUV4MPEG2 W8 H8"[..]).is_err());
        assert!(read_stream_header(&mut &[b'Y'; 5000][..]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn stream_headers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = read_stream_header(&mut bytes.as_slice());
        }
    }

    #[test]
    fn frames_are_framed_and_cut_frames_noticed() {
        let mut input = Vec::new();
        for value in [1u8, 2, 3] {
            input.extend_from_slice(b"FRAME\n");
            input.extend_from_slice(&[value; 4]);
        }
        input.extend_from_slice(b"FRAME\n\x07\x07");
        let mut seen = Vec::new();
        let mut outcome = DecodeOutcome::default();
        let received = AtomicU64::new(0);
        read_frames(&mut input.as_slice(), 4, &received, &mut outcome, &mut |i, luma, previous| {
            seen.push((i, luma[0], previous.map(|p| p[0])));
        });
        assert_eq!(seen, [(0, 1, None), (1, 2, Some(1)), (2, 3, Some(2))]);
        assert!(outcome.partial_frame && outcome.stream_problem.is_none());
        let mut outcome = DecodeOutcome::default();
        read_frames(&mut &b"JUNK\n"[..], 4, &received, &mut outcome, &mut |_, _, _| {});
        assert!(outcome.stream_problem.is_some());
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
        assert!(p.decimated && (p.width, p.height) == (1921, 541));
        assert!(!LumaPlan::new(1921, 1081, "yuv420p", None, true).unwrap().decimated);
    }
}
