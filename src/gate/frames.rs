//! Whole planar frames (every plane, 8 bits) decoded by `ffmpeg` on a thread of
//! their own and handed over through a bounded channel: decoding runs ahead of
//! the comparison by at most `AHEAD` frames, and frame buffers are recycled, so
//! memory stays a few frames per video whatever its length.
//!
//! Each frame's presentation time comes from ffmpeg's `showinfo` filter on
//! stderr (the YUV4MPEG stream carries none): seconds from the start of the
//! file, as ffmpeg's own filters see them.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

use super::metrics::{Chroma, FrameLayout};
use crate::video::decode::MAX_FRAME_PIXELS;
use crate::video::tools::{ToolError, Tools, path_arg, tail};

/// Frames decoded ahead of the comparison, per video.
const AHEAD: usize = 3;
/// The longest YUV4MPEG header line accepted.
const MAX_HEADER_LINE: usize = 1024;
/// Bytes of ffmpeg's stderr kept for the error message.
const STDERR_LIMIT: usize = 16 * 1024;

/// The pixel format both videos are decoded to: the candidate's own when it
/// is 8-bit planar YUV or gray (no conversion, as ffmpeg's filters see it),
/// else 8-bit 4:2:0.
pub fn decode_format(pix_fmt: Option<&str>) -> &'static str {
    match pix_fmt.unwrap_or("") {
        "gray" => "gray",
        "yuvj420p" => "yuvj420p",
        "yuv422p" => "yuv422p",
        "yuvj422p" => "yuvj422p",
        "yuv444p" => "yuv444p",
        "yuvj444p" => "yuvj444p",
        _ => "yuv420p",
    }
}

/// A frame or the end of the stream, as the decode thread sends them.
enum Event {
    Layout(FrameLayout),
    Frame(Vec<u8>),
}

/// How a decode ended.
#[derive(Debug, Clone, Default)]
pub struct DecodeEnd {
    pub frames: u64,
    /// ffmpeg failed or its output was not a usable frame stream: what it said.
    pub problem: Option<String>,
}

/// A running decode of one video's first video stream.
pub struct FrameStream {
    events: Receiver<Event>,
    recycle: Sender<Vec<u8>>,
    /// Each frame's presentation time in seconds, in frame order (`None` where ffmpeg knew none).
    times: Receiver<Option<f64>>,
    thread: Option<JoinHandle<DecodeEnd>>,
    layout: Option<FrameLayout>,
}

impl FrameStream {
    /// Starts ffmpeg decoding `path` to `pix_fmt` frames.
    pub fn start(tools: &Tools, path: &Path, pix_fmt: &str, threads: Option<usize>) -> Result<FrameStream, ToolError> {
        let mut command = tools.ffmpeg();
        // `showinfo` speaks at the info level; -nostats keeps the progress line out of its lines.
        command.args(["-nostats", "-loglevel", "info"]);
        if let Some(threads) = threads {
            command.args(["-threads", &threads.to_string()]);
        }
        command.arg("-i").arg(path_arg(path));
        command.args(["-map", "0:v:0", "-vf", "showinfo", "-fps_mode", "passthrough", "-pix_fmt", pix_fmt]);
        command.args(["-strict", "-1", "-f", "yuv4mpegpipe", "pipe:1"]);
        let program = tools.ffmpeg.display().to_string();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| ToolError::Run { program, error })?;
        let (time_sender, times) = channel();
        let stderr = child.stderr.take().map(|stderr| {
            std::thread::spawn(move || read_stderr(&mut BufReader::new(stderr), |time| time_sender.send(time).is_ok()))
        });
        let (sender, events) = sync_channel(AHEAD);
        let (recycle, recycled) = channel();
        let thread = std::thread::spawn(move || {
            let mut end = DecodeEnd::default();
            if let Some(stdout) = child.stdout.take() {
                let mut stream = BufReader::with_capacity(1 << 16, stdout);
                end.problem = pump(&mut stream, &sender, &recycled, &mut end.frames).err();
            }
            // A reader that stopped early (the comparison needs no more frames) must not leave ffmpeg blocked.
            drop(sender);
            let stopped_early = end.problem.as_deref() == Some(STOPPED);
            if end.problem.is_some() {
                let _ = child.kill();
            }
            let status = child.wait();
            let said = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
            if stopped_early {
                end.problem = None;
            } else if end.problem.is_none() && !status.as_ref().is_ok_and(|s| s.success()) {
                end.problem = Some(format!("ffmpeg failed: {}", tail(&said, 3)));
            } else if let Some(problem) = &mut end.problem {
                let said = tail(&said, 3);
                if !said.is_empty() {
                    problem.push_str(&format!(" (ffmpeg: {said})"));
                }
            }
            end
        });
        Ok(FrameStream { events, recycle, times, thread: Some(thread), layout: None })
    }

    /// The frame layout, once the stream header has arrived; `None` when the
    /// decode produced no usable stream (`finish` says why).
    pub fn layout(&mut self) -> Option<FrameLayout> {
        if self.layout.is_none() {
            match self.events.recv() {
                Ok(Event::Layout(layout)) => self.layout = Some(layout),
                Ok(Event::Frame(_)) | Err(_) => {}
            }
        }
        self.layout
    }

    /// The next frame (call `layout` first); `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        match self.events.recv() {
            Ok(Event::Frame(frame)) => Some(frame),
            Ok(Event::Layout(_)) | Err(_) => None,
        }
    }

    /// The presentation time of the frame `next_frame` returned last (call it
    /// once per frame); `None` when ffmpeg reported none.
    pub fn next_time(&self) -> Option<f64> {
        self.times.recv().ok().flatten()
    }

    /// A handle that hands frame buffers back for reuse (as `recycle`).
    pub fn recycler(&self) -> Sender<Vec<u8>> {
        self.recycle.clone()
    }


    /// Stops reading (frames not yet read are dropped) and waits for ffmpeg.
    pub fn finish(mut self) -> DecodeEnd {
        let thread = self.thread.take();
        drop(self);
        thread.and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

/// Reads ffmpeg's stderr: each `showinfo` frame line's presentation time goes
/// to `on_time` (seconds; `None` for a frame without one), the other lines are
/// kept (the last `STDERR_LIMIT` bytes) for error messages.
pub fn read_stderr(stream: &mut impl BufRead, mut on_time: impl FnMut(Option<f64>) -> bool) -> String {
    let mut kept = std::collections::VecDeque::new();
    let mut kept_len = 0usize;
    let mut time_base: Option<(i64, i64)> = None;
    let mut sending = true;
    while let Some(line) = read_capped_line(stream) {
        let text = String::from_utf8_lossy(&line);
        if text.contains("Parsed_showinfo") {
            if let Some(base) = text.split("config in time_base:").nth(1) {
                time_base = parse_ratio(base.split(',').next().unwrap_or("").trim());
            } else if text.contains(" n:") && sending {
                sending = on_time(showinfo_time(&text, time_base));
            }
            continue;
        }
        kept_len += text.len() + 1;
        kept.push_back(text.into_owned());
        while kept_len > STDERR_LIMIT && kept.len() > 1 {
            kept_len -= kept.pop_front().map_or(0, |l| l.len() + 1);
        }
    }
    kept.into_iter().collect::<Vec<_>>().join("\n")
}

/// The longest stderr line kept whole; the rest of a longer line is skipped.
const MAX_STDERR_LINE: usize = 4096;

/// One line of at most `MAX_STDERR_LINE` bytes (longer lines are cut, not held); `None` at the end.
fn read_capped_line(stream: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut any = false;
    loop {
        let buffer = stream.fill_buf().ok()?;
        if buffer.is_empty() {
            return any.then_some(line);
        }
        any = true;
        let (chunk, done) = match buffer.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(at) => (&buffer[..at], Some(at + 1)),
            None => (buffer, None),
        };
        let room = MAX_STDERR_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(buffer.len());
        stream.consume(used);
        if done.is_some() {
            return Some(line);
        }
    }
}

/// `A/B` with B > 0.
fn parse_ratio(text: &str) -> Option<(i64, i64)> {
    let (a, b) = text.split_once('/')?;
    let (a, b) = (a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?);
    (a > 0 && b > 0).then_some((a, b))
}

/// A showinfo frame line's time: `pts` × the time base when both are known, else `pts_time`.
fn showinfo_time(line: &str, time_base: Option<(i64, i64)>) -> Option<f64> {
    let value = |key: &str| {
        let at = line.find(key)? + key.len();
        line[at..].split_whitespace().next()
    };
    let exact = value(" pts:").and_then(|p| p.parse::<i64>().ok()).zip(time_base);
    let time = match exact {
        Some((pts, (num, den))) => pts as f64 * num as f64 / den as f64,
        None => value("pts_time:")?.parse::<f64>().ok()?,
    };
    time.is_finite().then_some(time)
}

/// The problem text of a decode the reader stopped on purpose.
const STOPPED: &str = "stopped";

/// Reads the stream header and every frame, sending them on; the error is what went wrong.
fn pump(
    stream: &mut impl BufRead,
    sender: &SyncSender<Event>,
    recycled: &Receiver<Vec<u8>>,
    frames: &mut u64,
) -> Result<(), String> {
    read_stream(
        stream,
        |layout| sender.send(Event::Layout(layout)).is_ok(),
        || recycled.try_recv().unwrap_or_default(),
        |frame| sender.send(Event::Frame(frame)).is_ok(),
        frames,
    )
}

/// Reads a YUV4MPEG stream of 8-bit planar frames: `on_layout` gets the
/// header, `on_frame` each whole frame (in a buffer from `buffer`); either
/// returning false stops the read (`Err(STOPPED)`).
pub fn read_stream(
    stream: &mut impl BufRead,
    mut on_layout: impl FnMut(FrameLayout) -> bool,
    mut buffer: impl FnMut() -> Vec<u8>,
    mut on_frame: impl FnMut(Vec<u8>) -> bool,
    frames: &mut u64,
) -> Result<(), String> {
    let Some(layout) = read_header(stream)? else {
        return Err("ffmpeg decoded no frame".into());
    };
    let len = layout.frame_len().ok_or("frame size overflows")?;
    if !on_layout(layout) {
        return Err(STOPPED.into());
    }
    loop {
        match read_line(stream) {
            Ok(None) => return Ok(()),
            Ok(Some(line)) if line.starts_with(b"FRAME") => {}
            Ok(Some(_)) | Err(_) => return Err("ffmpeg's frame stream lost its framing".into()),
        }
        // The buffer grows with the bytes that arrive (a header cannot make
        // us allocate a frame the stream does not hold); a recycled buffer
        // already has the room.
        let mut frame = buffer();
        frame.clear();
        if !read_full(stream, &mut frame, len) {
            return Err(format!("frame {frames} cut short at the end of ffmpeg's stream"));
        }
        if !on_frame(frame) {
            return Err(STOPPED.into());
        }
        *frames += 1;
    }
}

/// Parses `YUV4MPEG2 W768 H768 F25:1 Ip A1:1 C420jpeg`; `Ok(None)` when ffmpeg wrote nothing.
pub fn read_header(stream: &mut impl BufRead) -> Result<Option<FrameLayout>, String> {
    let line = match read_line(stream) {
        Ok(Some(line)) => line,
        Ok(None) => return Ok(None),
        Err(err) => return Err(format!("reading ffmpeg's frame stream: {err}")),
    };
    let text = String::from_utf8_lossy(&line);
    let mut words = text.split(' ');
    if words.next() != Some("YUV4MPEG2") {
        return Err("ffmpeg's frame stream has no YUV4MPEG2 header".into());
    }
    let (mut width, mut height, mut chroma) = (None, None, Some(Chroma::C420));
    for word in words {
        match word.split_at_checked(1) {
            Some(("W", value)) => width = value.parse::<usize>().ok(),
            Some(("H", value)) => height = value.parse::<usize>().ok(),
            Some(("C", value)) => chroma = chroma_of(value),
            _ => {}
        }
    }
    match (width, height, chroma) {
        (Some(width), Some(height), Some(chroma))
            if width > 0 && height > 0 && (width as u64).saturating_mul(height as u64) <= MAX_FRAME_PIXELS =>
        {
            Ok(Some(FrameLayout { width, height, chroma }))
        }
        _ => Err(format!("ffmpeg's frame stream is not 8-bit planar frames of a usable size: {text}")),
    }
}

/// The YUV4MPEG colour-space tag's subsampling (8-bit only).
fn chroma_of(tag: &str) -> Option<Chroma> {
    match tag {
        "mono" => Some(Chroma::Mono),
        "420" | "420jpeg" | "420mpeg2" | "420paldv" => Some(Chroma::C420),
        "422" => Some(Chroma::C422),
        "444" => Some(Chroma::C444),
        _ => None,
    }
}

fn read_line(stream: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    crate::video::decode::read_line(stream, MAX_HEADER_LINE)
}

/// Appends exactly `len` bytes to `buf`; false when the stream ends first.
fn read_full(reader: &mut impl Read, buf: &mut Vec<u8>, len: usize) -> bool {
    reader.take(len as u64).read_to_end(buf).is_ok_and(|n| n == len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_size_and_subsampling() {
        let mut input: &[u8] = b"YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n";
        let layout = read_header(&mut input).unwrap().unwrap();
        assert_eq!(layout, FrameLayout { width: 64, height: 48, chroma: Chroma::C420 });
        let mut mono: &[u8] = b"YUV4MPEG2 W8 H8 Cmono\n";
        assert_eq!(read_header(&mut mono).unwrap().unwrap().chroma, Chroma::Mono);
    }

    #[test]
    fn unusable_headers_are_errors_not_panics() {
        for text in [
            &b"YUV4MPEG2 W0 H48\n"[..],
            b"YUV4MPEG2 W64 H48 C420p10\n",
            b"YUV4MPEG2 W999999999 H999999999\n",
            b"NOTY4M W64 H48\n",
            b"YUV4MPEG2 W64 H48",
        ] {
            let mut input = text;
            assert!(read_header(&mut input).is_err(), "{}", String::from_utf8_lossy(text));
        }
        let mut empty: &[u8] = b"";
        assert_eq!(read_header(&mut empty), Ok(None));
    }

    #[test]
    fn streams_yield_whole_frames_and_report_a_cut_one() {
        let mut input: &[u8] =
            b"YUV4MPEG2 W8 H8 Cmono\nFRAME\n0123456789012345678901234567890123456789012345678901234567890123FRAME\nabc";
        let (mut layouts, mut got, mut frames) = (0, 0, 0u64);
        let end = read_stream(
            &mut input,
            |_| {
                layouts += 1;
                true
            },
            Vec::new,
            |f| {
                got += f.len();
                true
            },
            &mut frames,
        );
        assert_eq!((layouts, got, frames), (1, 64, 1));
        assert!(end.unwrap_err().contains("cut short"));
    }

    #[test]
    fn showinfo_lines_give_frame_times_and_other_lines_are_kept() {
        let text = "[Parsed_showinfo_0 @ 0x1] config in time_base: 1/12800, frame_rate: 25/1\n\
                    [Parsed_showinfo_0 @ 0x1] n:   0 pts:      0 pts_time:0       pos: 48 fmt:yuv420p\n\
                    [Parsed_showinfo_0 @ 0x1]   side data - User Data Unregistered:\n\
                    [Parsed_showinfo_0 @ 0x1] n:  10 pts:   5632 pts_time:0.44    pos: 9 fmt:yuv420p\n\
                    [Parsed_showinfo_0 @ 0x1] n:  11 pts:NOPTS pts_time:NOPTS pos: 9\n\
                    [h264 @ 0x2] error while decoding MB 3 4\n";
        let mut times = Vec::new();
        let kept = read_stderr(&mut text.as_bytes(), |t| {
            times.push(t);
            true
        });
        assert_eq!(times, [Some(0.0), Some(0.44), None]);
        assert_eq!(kept, "[h264 @ 0x2] error while decoding MB 3 4");
        let long = format!("{}\nnext\n", "x".repeat(3 * MAX_STDERR_LINE));
        let mut input = long.as_bytes();
        assert_eq!(read_capped_line(&mut input).unwrap().len(), MAX_STDERR_LINE);
        assert_eq!(read_capped_line(&mut input).unwrap(), b"next");
        assert_eq!(read_capped_line(&mut input), None);
    }

    #[test]
    fn native_8bit_planar_formats_are_kept() {
        assert_eq!(decode_format(Some("yuvj420p")), "yuvj420p");
        assert_eq!(decode_format(Some("yuv420p10le")), "yuv420p");
        assert_eq!(decode_format(None), "yuv420p");
    }
}
