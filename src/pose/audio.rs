//! The duration of an audio file, to know how many pose frames a generation
//! needs (`int(seconds · fps)`, as EchoMimicV2 computes it): read from the
//! header of a plain WAV file, else from ffprobe.

use std::io::Read;
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
    match wav_file_seconds(path) {
        Some(seconds) => Ok(seconds),
        None => ffprobe_duration(path),
    }
}

/// How much of a file's head is read to find a WAV file's `fmt ` and `data`
/// chunks; a file whose `data` chunk starts later is left to ffprobe.
const WAV_HEAD: u64 = 64 * 1024;

/// Seconds of a plain WAV file, from its header alone; `None` when the file
/// is not one `wav_seconds` accepts.
fn wav_file_seconds(path: &Path) -> Option<f64> {
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut head = Vec::with_capacity(WAV_HEAD.min(len) as usize);
    file.take(WAV_HEAD).read_to_end(&mut head).ok()?;
    wav_seconds(&head, len)
}

/// Seconds of audio in a RIFF/WAVE file of `file_len` bytes whose first
/// bytes are `head`: whole sample frames of its `data` chunk over its rate,
/// as ffprobe reports them.
///
/// Only the unambiguous case is answered: uncompressed PCM, IEEE float,
/// A-law or µ-law (plain or `WAVE_FORMAT_EXTENSIBLE`), with a consistent
/// `fmt ` chunk and a `data` chunk of known size that the file holds whole.
/// Anything else (RF64, compressed audio, a truncated file or a streamed
/// one whose size field was never filled in) is `None`, for ffprobe to read.
pub fn wav_seconds(head: &[u8], file_len: u64) -> Option<f64> {
    let u16_at = |at: usize| head.get(at..at.checked_add(2)?).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| head.get(at..at.checked_add(4)?).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    // (sample rate, bytes per sample frame) from the `fmt ` chunk.
    let mut format: Option<(u32, u16)> = None;
    let mut at = 12usize;
    loop {
        let id = head.get(at..at.checked_add(4)?)?;
        let size = u32_at(at + 4)?;
        let body = at.checked_add(8)?;
        match id {
            b"fmt " => {
                if size < 16 || format.is_some() {
                    return None;
                }
                let tag = match u16_at(body)? {
                    0xFFFE if size >= 40 => u16_at(body + 24)?,
                    tag => tag,
                };
                let (channels, rate, block_align, bits) =
                    (u16_at(body + 2)?, u32_at(body + 4)?, u16_at(body + 12)?, u16_at(body + 14)?);
                let plain = match tag {
                    1 => matches!(bits, 8 | 16 | 24 | 32 | 64),
                    3 => matches!(bits, 32 | 64),
                    6 | 7 => bits == 8,
                    _ => false,
                };
                let frame_bytes = u32::from(channels) * u32::from(bits / 8);
                if !plain || channels == 0 || rate == 0 || u32::from(block_align) != frame_bytes {
                    return None;
                }
                format = Some((rate, block_align));
            }
            b"data" => {
                let (rate, block_align) = format?;
                let end = u64::try_from(body).ok()?.checked_add(u64::from(size))?;
                if size == 0 || end > file_len {
                    return None;
                }
                let frames = u64::from(size) / u64::from(block_align);
                return Some(frames as f64 / f64::from(rate));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body.checked_add(usize::try_from(size).ok()?)?.checked_add(size as usize & 1)?;
    }
}

/// Seconds of audio in `path`, from ffprobe.
fn ffprobe_duration(path: &Path) -> Result<f64, AudioError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file: a `fmt ` chunk of `tag`, `channels`, `rate`, `bits`, an
    /// odd-sized `LIST` chunk before the data, and `data_bytes` of data.
    fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data_bytes: u32) -> Vec<u8> {
        let block_align = channels * (bits / 8);
        let mut fmt = Vec::new();
        fmt.extend(tag.to_le_bytes());
        fmt.extend(channels.to_le_bytes());
        fmt.extend(rate.to_le_bytes());
        fmt.extend((rate * u32::from(block_align)).to_le_bytes());
        fmt.extend(block_align.to_le_bytes());
        fmt.extend(bits.to_le_bytes());
        if tag == 0xFFFE {
            fmt.extend(22u16.to_le_bytes());
            fmt.extend(bits.to_le_bytes());
            fmt.extend(3u32.to_le_bytes());
            fmt.extend(1u16.to_le_bytes());
            fmt.extend([0u8; 14]);
        }
        let mut body = b"WAVE".to_vec();
        for (id, data) in [(b"fmt ", fmt), (b"LIST", b"abc".to_vec()), (b"data", vec![0u8; data_bytes as usize])] {
            body.extend(id);
            body.extend((data.len() as u32).to_le_bytes());
            body.extend(&data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut file = b"RIFF".to_vec();
        file.extend((body.len() as u32).to_le_bytes());
        file.extend(body);
        file
    }

    fn seconds(file: &[u8]) -> Option<f64> {
        wav_seconds(file, file.len() as u64)
    }

    #[test]
    fn whole_sample_frames_over_the_rate() {
        assert_eq!(seconds(&wav(1, 1, 16_000, 16, 32_000)), Some(1.0));
        assert_eq!(seconds(&wav(1, 2, 44_100, 24, 6 * 22_050)), Some(0.5));
        assert_eq!(seconds(&wav(3, 2, 48_000, 32, 8 * 12_000)), Some(0.25));
        assert_eq!(seconds(&wav(0xFFFE, 2, 8_000, 16, 4 * 8_000)), Some(1.0));
        // A partial last frame is not a sample.
        assert_eq!(seconds(&wav(1, 2, 10, 16, 4 * 10 + 3)), Some(1.0));
    }

    #[test]
    fn what_the_header_cannot_answer_is_left_to_ffprobe() {
        let good = wav(1, 1, 16_000, 16, 3_200);
        // Truncated: the data chunk says more than the file holds.
        assert_eq!(seconds(&good[..good.len() - 1]), None);
        // A streamed file whose data size was never filled in.
        assert_eq!(seconds(&wav(1, 1, 16_000, 16, 0)), None);
        // Compressed (MP3 in WAV), a zero rate, a block size that disagrees.
        let mut mp3 = good.clone();
        mp3[20] = 0x55;
        assert_eq!(seconds(&mp3), None);
        assert_eq!(seconds(&wav(1, 1, 0, 16, 3_200)), None);
        let mut odd_align = good.clone();
        odd_align[32] = 3;
        assert_eq!(seconds(&odd_align), None);
        // Not RIFF/WAVE at all, or cut inside the header.
        assert_eq!(seconds(b"RIFX\0\0\0\0WAVE"), None);
        assert_eq!(seconds(&good[..30]), None);
        let mut rf64 = good.clone();
        rf64[..4].copy_from_slice(b"RF64");
        assert_eq!(seconds(&rf64), None);
    }

    #[test]
    fn a_chunk_size_near_the_limits_ends_the_walk() {
        let mut file = wav(1, 1, 16_000, 16, 3_200);
        // The LIST chunk's size, at 12 + 8 + 16 + 4.
        file[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(seconds(&file), None);
    }
}
