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
        .map_err(|source| ToolError::Run { program: tools.ffprobe.display().to_string(), source })?;
    let parsed: ProbeOutput = serde_json::from_slice(&output.stdout).unwrap_or_default();
    Ok(Probe {
        output: parsed,
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Packets of the first video stream actually present in the file
/// (`-count_packets` demuxes the whole file, about 6% of a decode).
pub fn count_video_packets(tools: &Tools, path: &Path) -> Result<Option<u64>, ToolError> {
    let output = tools
        .ffprobe()
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets"])
        .args(["-of", "json"])
        .arg(path_arg(path))
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ToolError::Run { program: tools.ffprobe.display().to_string(), source })?;
    let parsed: ProbeOutput = serde_json::from_slice(&output.stdout).unwrap_or_default();
    Ok(parsed.streams.first().and_then(ProbeStream::read_packets))
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
    fn missing_fields_are_tolerated() {
        let json =
            r#"{"streams":[{"index":0,"codec_type":"video","tags":{"DURATION":"00:00:02.000000000"}}],"format":{}}"#;
        let parsed: ProbeOutput = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.streams[0].duration_seconds(), Some(2.0));
        assert_eq!(parsed.streams[0].fps(), None);
        assert_eq!(parsed.streams[0].indexed_frames(), None);
    }
}
