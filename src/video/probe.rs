//! ffprobe's JSON, parsed into nanscope's own types. Every field is optional:
//! builds and containers omit different ones (WebM has no `nb_frames`), and a
//! missing field must never make a file unreadable.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use serde::{Deserialize, Serialize};

use super::tools::{ToolError, Tools, path_arg};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProbeOutput {
    #[serde(default)]
    pub streams: Vec<ProbeStream>,
    pub format: Option<ProbeFormat>,
    pub error: Option<ProbeErrorObject>,
    /// ffprobe's own version (`-show_program_version`), checked instead of a separate `-version` run.
    pub program_version: Option<ProgramVersion>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProgramVersion {
    pub version: Option<String>,
}

/// One stream as ffprobe lists it; numbers ffprobe writes as strings stay strings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ProbeStream {
    pub index: Option<u64>,
    pub codec_type: Option<String>,
    pub codec_name: Option<String>,
    pub profile: Option<String>,
    pub codec_tag_string: Option<String>,
    pub pix_fmt: Option<String>,
    pub color_range: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub r_frame_rate: Option<String>,
    pub avg_frame_rate: Option<String>,
    pub time_base: Option<String>,
    pub start_time: Option<String>,
    pub duration: Option<String>,
    pub bit_rate: Option<String>,
    pub nb_frames: Option<String>,
    pub nb_read_packets: Option<String>,
    pub sample_rate: Option<String>,
    pub channels: Option<u64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ProbeFormat {
    pub format_name: Option<String>,
    pub duration: Option<String>,
    pub size: Option<String>,
    pub bit_rate: Option<String>,
    pub probe_score: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ProbeErrorObject {
    pub code: Option<i64>,
    pub string: Option<String>,
}

/// ffprobe's answer for one file: parsed JSON plus what it said on stderr.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub output: ProbeOutput,
    pub success: bool,
    pub stderr: String,
}

impl Probe {
    pub fn video(&self) -> Option<&ProbeStream> {
        self.output.streams.iter().find(|s| s.codec_type.as_deref() == Some("video"))
    }

    pub fn audio(&self) -> Option<&ProbeStream> {
        self.output.streams.iter().find(|s| s.codec_type.as_deref() == Some("audio"))
    }

    /// ffprobe's own error text: the structured `error` object, else stderr.
    pub fn error_text(&self) -> String {
        if let Some(text) = self.output.error.as_ref().and_then(|e| e.string.clone()) {
            let detail = self.stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if detail.is_empty() || detail.contains(&text) { text } else { format!("{text} ({})", detail.trim()) }
        } else {
            self.stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
        }
    }
}

impl ProbeStream {
    /// Frames per second: the average rate when known, else the base rate.
    pub fn fps(&self) -> Option<f64> {
        self.avg_frame_rate
            .as_deref()
            .and_then(parse_rate)
            .or_else(|| self.r_frame_rate.as_deref().and_then(parse_rate))
    }

    /// Duration in seconds from the stream, else from a Matroska `DURATION` tag.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.duration.as_deref().and_then(|d| d.parse().ok()).or_else(|| {
            self.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case("duration")).and_then(|(_, v)| parse_clock(v))
        })
    }

    pub fn indexed_frames(&self) -> Option<u64> {
        self.nb_frames.as_deref().and_then(|n| n.parse().ok()).filter(|&n| n > 0)
    }

    pub fn read_packets(&self) -> Option<u64> {
        self.nb_read_packets.as_deref().and_then(|n| n.parse().ok())
    }

    pub fn start_seconds(&self) -> f64 {
        self.start_time.as_deref().and_then(|s| s.parse().ok()).filter(|s: &f64| s.is_finite()).unwrap_or(0.0)
    }
}

/// `30000/1001` → 29.97; `0/0` → None.
pub fn parse_rate(text: &str) -> Option<f64> {
    let (num, den) = text.split_once('/').unwrap_or((text, "1"));
    let (num, den): (f64, f64) = (num.trim().parse().ok()?, den.trim().parse().ok()?);
    let rate = num / den;
    // A huge denominator can underflow the quotient to zero: that is no rate either.
    (num > 0.0 && den > 0.0 && rate.is_finite() && rate > 0.0).then_some(rate)
}

/// `00:00:10.000000000` → 10.0.
fn parse_clock(text: &str) -> Option<f64> {
    let mut seconds = 0.0;
    for part in text.trim().split(':') {
        seconds = seconds * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(seconds)
}

/// Runs `ffprobe -show_streams -show_format -show_error` on a file (headers
/// only; packets are counted separately, and only when needed).
/// A file ffprobe cannot read is not an error here: `success` is false and
/// `stderr`/`output.error` say why.
pub fn probe(tools: &Tools, path: &Path) -> Result<Probe, ToolError> {
    let output = tools
        .ffprobe()
        .args(["-v", "error", "-show_program_version", "-show_error", "-show_streams", "-show_format", "-of", "json"])
        .arg(path_arg(path))
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ToolError::Run { program: tools.ffprobe.display().to_string(), error: source })?;
    let parsed: ProbeOutput = serde_json::from_slice(&output.stdout).unwrap_or_default();
    Ok(Probe {
        output: parsed,
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// What demuxing a file whose index promises more frames than decode says
/// about the packets really there.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PacketSurvey {
    /// Packets of the first video stream the demuxer returned (a last one cut short included).
    pub video_packets: u64,
    /// Of those, the packets whose bytes are all in the file.
    pub video_whole: u64,
    /// Byte offset of the first packet (of any stream) that runs past the end
    /// of the file: everything before it is whole.
    pub cut_at: Option<u64>,
    /// Where the whole audio packets of the first audio stream end, in seconds.
    pub audio_seconds: Option<f64>,
}

/// Demuxes the whole file (about 6% of a decode) and lists every packet's
/// stream, position, size and timing, to tell the packets that are whole
/// from the one cut by the end of the file.
pub fn survey_packets(tools: &Tools, path: &Path, file_size: u64) -> Result<PacketSurvey, ToolError> {
    let output = tools
        .ffprobe()
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=index,codec_type:packet=stream_index,pts_time,duration_time,pos,size",
        ])
        .args(["-of", "json"])
        .arg(path_arg(path))
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ToolError::Run { program: tools.ffprobe.display().to_string(), error: source })?;
    let parsed: PacketListing = serde_json::from_slice(&output.stdout).unwrap_or_default();
    Ok(parsed.survey(file_size))
}

#[derive(Debug, Default, Deserialize)]
struct PacketListing {
    #[serde(default)]
    packets: Vec<PacketRecord>,
    #[serde(default)]
    streams: Vec<ProbeStream>,
}

#[derive(Debug, Default, Deserialize)]
struct PacketRecord {
    stream_index: Option<u64>,
    pts_time: Option<String>,
    duration_time: Option<String>,
    pos: Option<String>,
    size: Option<String>,
}

impl PacketListing {
    /// `file_size` is the size of a file known to be truncated: a packet
    /// running past its end, or ending exactly there (the demuxer clips the
    /// last sample to the bytes present), is the one the cut hit.
    fn survey(&self, file_size: u64) -> PacketSurvey {
        let first =
            |kind: &str| self.streams.iter().find(|s| s.codec_type.as_deref() == Some(kind)).and_then(|s| s.index);
        let (video, audio) = (first("video"), first("audio"));
        let number = |text: &Option<String>| text.as_deref().and_then(|t| t.parse::<u64>().ok());
        let seconds =
            |text: &Option<String>| text.as_deref().and_then(|t| t.parse::<f64>().ok()).filter(|s| s.is_finite());
        let span =
            |p: &PacketRecord| number(&p.pos).zip(number(&p.size)).map(|(pos, size)| (pos, pos.saturating_add(size)));
        let cut_at =
            self.packets.iter().filter_map(span).filter(|&(_, end)| end >= file_size).map(|(pos, _)| pos).min();
        let whole = |p: &PacketRecord| span(p).is_none_or(|(pos, _)| cut_at.is_none_or(|cut| pos < cut));
        let mut survey = PacketSurvey { cut_at, ..PacketSurvey::default() };
        for packet in &self.packets {
            let stream = packet.stream_index;
            if stream.is_some() && stream == video {
                survey.video_packets += 1;
                survey.video_whole += whole(packet) as u64;
            }
            if stream.is_some()
                && stream == audio
                && whole(packet)
                && let Some(pts) = seconds(&packet.pts_time)
            {
                let stop = pts + seconds(&packet.duration_time).unwrap_or(0.0);
                survey.audio_seconds = Some(survey.audio_seconds.map_or(stop, |s: f64| s.max(stop)));
            }
        }
        survey
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_clocks_parse() {
        assert_eq!(parse_rate("24/1"), Some(24.0));
        assert!((parse_rate("30000/1001").unwrap() - 29.97).abs() < 0.01);
        assert_eq!(parse_rate("0/0"), None);
        assert_eq!(parse_rate("1/1e310"), None);
        assert_eq!(parse_clock("00:01:10.500000000"), Some(70.5));
    }

    proptest::proptest! {
        #[test]
        fn rates_never_panic_and_are_positive(text in "[0-9/ .a-z-]{0,16}") {
            if let Some(rate) = parse_rate(&text) {
                proptest::prop_assert!(rate > 0.0 && rate.is_finite());
            }
        }
    }

    #[test]
    fn packets_past_the_end_of_the_file_are_the_cut() {
        let json = r#"{"packets":[
            {"stream_index":0,"pts_time":"0.0","pos":"48","size":"100"},
            {"stream_index":1,"pts_time":"0.0","duration_time":"0.5","pos":"148","size":"50"},
            {"stream_index":0,"pts_time":"0.04","pos":"198","size":"100"},
            {"stream_index":1,"pts_time":"0.5","duration_time":"0.5","pos":"298","size":"50"}],
            "streams":[{"index":0,"codec_type":"video"},{"index":1,"codec_type":"audio"}]}"#;
        let listing: PacketListing = serde_json::from_str(json).unwrap();
        let survey = listing.survey(320);
        assert_eq!(
            survey,
            PacketSurvey { video_packets: 2, video_whole: 2, cut_at: Some(298), audio_seconds: Some(0.5) }
        );
        // The demuxer clips the last sample to the bytes present: ending at the end of the file is the cut.
        let clipped = listing.survey(348);
        assert_eq!((clipped.cut_at, clipped.video_whole, clipped.audio_seconds), (Some(298), 2, Some(0.5)));
        let survey = listing.survey(298);
        assert_eq!((survey.cut_at, survey.video_whole, survey.audio_seconds), (Some(198), 1, Some(0.5)));
        assert_eq!(listing.survey(400).cut_at, None);
        assert_eq!(PacketListing::default().survey(0), PacketSurvey::default());
    }

    #[test]
    fn missing_fields_are_tolerated() {
        let json =
            r#"{"streams":[{"index":0,"codec_type":"video","tags":{"DURATION":"00:00:02.000000000"}}],"format":{}}"#;
        let parsed: ProbeOutput = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.streams[0].duration_seconds(), Some(2.0));
        assert_eq!(parsed.streams[0].fps(), None);
        assert_eq!(parsed.streams[0].indexed_frames(), None);
    }
}
