//! Container and stream checks: what the file's bytes and ffprobe's view of
//! its streams say, before and apart from the decoded pixels.

use serde::Serialize;

use super::container::FileSniff;
use super::probe::{Probe, ProbeStream};
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::video as rules;

/// Expectations the user states on the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Expectations {
    pub audio: bool,
    pub frames: Option<u64>,
    pub fps: Option<f64>,
    /// Largest tolerated difference between audio and video durations, seconds.
    pub av_tolerance: f64,
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations { audio: false, frames: None, fps: None, av_tolerance: 0.1 }
    }
}

/// One stream, as the report's `streams` section lists it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRecord {
    pub file: String,
    pub index: Option<u64>,
    pub codec_type: Option<String>,
    pub codec_name: Option<String>,
    pub profile: Option<String>,
    pub pix_fmt: Option<String>,
    pub color_range: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub fps: Option<f64>,
    pub duration: Option<f64>,
    /// Frames the container index declares.
    pub frames_indexed: Option<u64>,
    /// Packets actually present (`-count_packets`), counted only when fewer
    /// frames decode than the index lists.
    pub packets_read: Option<u64>,
    /// Frames decoded (video streams that were decoded).
    pub frames_decoded: Option<u64>,
    pub sample_rate: Option<String>,
    pub channels: Option<u64>,
}

impl StreamRecord {
    pub fn new(file: &str, s: &ProbeStream) -> StreamRecord {
        StreamRecord {
            file: file.to_string(),
            index: s.index,
            codec_type: s.codec_type.clone(),
            codec_name: s.codec_name.clone(),
            profile: s.profile.clone(),
            pix_fmt: s.pix_fmt.clone(),
            color_range: s.color_range.clone(),
            width: s.width,
            height: s.height,
            fps: s.fps().map(|f| (f * 1000.0).round() / 1000.0),
            duration: s.duration_seconds(),
            frames_indexed: s.indexed_frames(),
            packets_read: s.read_packets(),
            frames_decoded: None,
            sample_rate: s.sample_rate.clone(),
            channels: s.channels,
        }
    }
}

fn on_file(label: &str) -> Subject {
    Subject::file(label)
}

fn on_stream(label: &str, stream: Option<u64>) -> Subject {
    Subject { stream, ..Subject::file(label) }
}

/// Findings for a file ffprobe could not open: empty, never finalised, or not media.
pub fn unreadable_findings(label: &str, sniff: &FileSniff, probe: Option<&Probe>) -> Vec<Finding> {
    if sniff.size == 0 {
        return vec![
            Finding::new(&rules::EMPTY_FILE, format!("{label} is empty (0 bytes)")).with_subject(on_file(label)),
        ];
    }
    let probe_text = probe.map(Probe::error_text).unwrap_or_default();
    if let Some(layout) = &sniff.iso
        && !layout.has("moov")
    {
        let boxes: Vec<&str> = layout.boxes.iter().map(|b| b.kind.as_str()).collect();
        let cut = match &layout.cut_box {
            Some(kind) => format!(", and the `{kind}` box is cut short"),
            None => String::new(),
        };
        return vec![
            Finding::new(
                &rules::MOOV_MISSING,
                format!(
                    "MP4 without a moov atom: top-level boxes are [{}]{cut}; the writer never finalised the file \
                     ({} bytes of media data, no index)",
                    boxes.join(", "),
                    sniff.size
                ),
            )
            .with_subject(on_file(label))
            .with_evidence("boxes", boxes.join(" "))
            .with_evidence("bytes", sniff.size)
            .with_evidence("ffprobe", probe_text),
        ];
    }
    let what = if sniff.looks_like_text { "text, not media" } else { "not a media file ffprobe recognises" };
    let why = format!("{label} is {what} (first bytes {}; ffprobe: {})", sniff.head_hex, nonempty(&probe_text));
    vec![
        not_media(label, why).with_evidence("first_bytes", sniff.head_hex.clone()).with_evidence("ffprobe", probe_text),
    ]
}

/// V: the file is not a video ffprobe can open; `why` says what it is instead.
pub(super) fn not_media(label: &str, why: String) -> Finding {
    Finding::new(&rules::NOT_MEDIA, why).with_subject(on_file(label))
}

fn nonempty(text: &str) -> &str {
    if text.is_empty() { "no streams" } else { text }
}

/// Findings about the streams of a file ffprobe could open.
pub fn stream_findings(label: &str, sniff: &FileSniff, probe: &Probe, expect: &Expectations) -> Vec<Finding> {
    let mut findings = Vec::new();
    let audio = probe.audio();
    if expect.audio && audio.is_none() {
        findings.push(
            Finding::new(&rules::AUDIO_MISSING, format!("{label} has no audio stream (--expect-audio)"))
                .with_subject(on_file(label)),
        );
    }
    let Some(video) = probe.video() else {
        let kinds: Vec<String> = probe.output.streams.iter().filter_map(|s| s.codec_type.clone()).collect();
        findings.push(
            Finding::new(
                &rules::NO_VIDEO_STREAM,
                format!(
                    "{label} has no video stream (streams: {})",
                    if kinds.is_empty() { "none".into() } else { kinds.join(", ") }
                ),
            )
            .with_subject(on_file(label)),
        );
        return findings;
    };
    let stream = video.index;
    if let Some(layout) = &sniff.iso
        && layout.moov_after_mdat()
    {
        findings.push(
            Finding::new(&rules::NOT_FASTSTART, "the moov index follows the media data (no +faststart)")
                .with_subject(on_file(label)),
        );
    }
    let pix_fmt = video.pix_fmt.as_deref().unwrap_or("");
    if let Some(why) = player_pixel_format_problem(pix_fmt, video.color_range.as_deref()) {
        findings.push(
            Finding::new(&rules::PLAYER_PIXEL_FORMAT, format!("pixel format {pix_fmt}: {why}"))
                .with_subject(on_stream(label, stream))
                .with_evidence("pix_fmt", pix_fmt)
                .with_evidence("profile", video.profile.clone().unwrap_or_default()),
        );
    }
    let codec = video.codec_name.as_deref().unwrap_or("");
    if !codec.is_empty() && !matches!(codec, "h264" | "hevc" | "vp9" | "av1" | "vp8") {
        findings.push(
            Finding::new(
                &rules::PLAYER_CODEC,
                format!(
                    "video codec {codec} ({}) does not play in browsers and many players",
                    video.codec_tag_string.as_deref().unwrap_or("?")
                ),
            )
            .with_subject(on_stream(label, stream))
            .with_evidence("codec", codec),
        );
    }
    if let (Some(w), Some(h)) = (video.width, video.height)
        && (w % 2 == 1 || h % 2 == 1)
    {
        findings.push(
            Finding::new(&rules::ODD_DIMENSIONS, format!("{w}x{h} has an odd dimension; 4:2:0 needs even sizes"))
                .with_subject(on_stream(label, stream))
                .with_evidence("width", w)
                .with_evidence("height", h),
        );
    }
    if let (Some(expected), Some(fps)) = (expect.fps, video.fps())
        && (fps - expected).abs() > expected.abs() * 0.005
    {
        findings.push(
            Finding::new(
                &rules::FPS_MISMATCH,
                format!("frame rate {} fps, expected {}", fmt_num(fps), fmt_num(expected)),
            )
            .with_subject(on_stream(label, stream))
            .with_evidence("fps", fps)
            .with_evidence("expected", expected),
        );
    }
    findings
}

fn player_pixel_format_problem(pix_fmt: &str, color_range: Option<&str>) -> Option<&'static str> {
    if pix_fmt.is_empty() || pix_fmt == "yuv420p" && color_range != Some("pc") {
        return None;
    }
    if pix_fmt.starts_with("yuvj") || color_range == Some("pc") {
        Some("full-range video, rejected or shown with wrong levels by QuickTime and browsers")
    } else if pix_fmt.contains("p10") || pix_fmt.contains("p12") || pix_fmt.contains("p16") {
        Some("more than 8 bits per sample, which most browsers and phones do not play")
    } else if pix_fmt.starts_with("yuv444") || pix_fmt.starts_with("yuv422") {
        Some("chroma not subsampled to 4:2:0; QuickTime, Safari/iOS, browsers and Android show black or refuse it")
    } else if pix_fmt == "yuv420p" || pix_fmt == "nv12" {
        None
    } else {
        Some("not yuv420p, the only format every player handles")
    }
}

/// A stream whose file holds fewer packets than its index lists frames.
/// `whole` counts the packets whose bytes are all there: the first frame
/// missing is the first one without a whole packet.
pub fn truncation_finding(label: &str, stream: Option<u64>, indexed: u64, read: u64, whole: u64) -> Option<Finding> {
    (whole < indexed).then(|| {
        let mut subject = on_stream(label, stream);
        subject.frames = Some([whole, indexed - 1]);
        let cut = if read > whole { format!(" ({} more cut short)", read - whole) } else { String::new() };
        Finding::new(
            &rules::TRUNCATED,
            format!(
                "the index lists {indexed} frames but only {whole} whole packets are in the file{cut}: frames \
                 {whole}-{} are missing (the data was cut short)",
                indexed - 1
            ),
        )
        .with_subject(subject)
        .with_evidence("frames_indexed", indexed)
        .with_evidence("packets_read", read)
        .with_evidence("packets_whole", whole)
    })
}

/// Checks that need the decoded frame count: expected frames and audio/video
/// durations. `audio_present` is where the whole audio packets of a
/// truncated file end: the audio there is, not the duration its index promises.
pub fn decoded_findings(
    label: &str,
    probe: &Probe,
    decoded: u64,
    fps: f64,
    audio_present: Option<f64>,
    expect: &Expectations,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let stream = probe.video().and_then(|v| v.index);
    if let Some(expected) = expect.frames
        && expected != decoded
    {
        findings.push(
            Finding::new(&rules::FRAME_COUNT_MISMATCH, format!("{decoded} frames decoded, expected {expected}"))
                .with_subject(on_stream(label, stream))
                .with_evidence("frames_decoded", decoded)
                .with_evidence("expected", expected),
        );
    }
    if let Some(audio) = probe.audio()
        && let Some(audio_seconds) = audio_present.or_else(|| audio.duration_seconds())
        && decoded > 0
    {
        let video_seconds = decoded as f64 / fps;
        if (audio_seconds - video_seconds).abs() > expect.av_tolerance {
            let what = if audio_present.is_some() { "the audio present in the file" } else { "audio" };
            findings.push(
                Finding::new(
                    &rules::AV_DURATION_MISMATCH,
                    format!(
                        "{what} lasts {} s but the {decoded} decoded frames last {} s",
                        fmt_num(audio_seconds),
                        fmt_num(video_seconds)
                    ),
                )
                .with_subject(on_stream(label, audio.index))
                .with_evidence("audio_seconds", audio_seconds)
                .with_evidence("video_seconds", video_seconds),
            );
        }
    }
    findings
}
