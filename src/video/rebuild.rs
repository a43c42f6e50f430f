//! Rebuilding an MP4 whose writer never wrote the index (no moov): the media
//! data still holds the H.264 NAL units, each behind a length field, but the
//! decoder configuration (SPS/PPS) and the sample tables lived only in the
//! lost moov. A healthy reference file written with the same encoder settings
//! supplies the configuration; the units are walked out of the broken mdat
//! into an Annex B stream (start codes, parameter sets first), which ffmpeg
//! decodes in display order and re-encodes with fresh timestamps.
//!
//! Bytes that do not parse as a unit (interleaved audio, damage) are stepped
//! over one at a time until two consecutive units parse again.

use std::io::Write;

use super::container::{children, first_child, read_moov, video_traks, walk_boxes};

/// No single NAL unit of a video this tool handles is larger.
const MAX_NAL: usize = 64 << 20;
const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// What the reference's `avcC` box says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// Bytes of each unit's length field (1, 2 or 4).
    pub length_size: usize,
    /// Sequence and picture parameter sets, in that order.
    pub parameter_sets: Vec<Vec<u8>>,
}

/// Why a reference cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("cannot read the reference {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the reference {path} cannot be used: {why}")]
    Unusable { path: String, why: String },
}

/// Reads the H.264 decoder configuration of a healthy MP4's first video track.
pub fn reference_config(path: &std::path::Path) -> Result<AvcConfig, ReferenceError> {
    let label = path.display().to_string();
    let io = |source| ReferenceError::Io { path: label.clone(), source };
    let unusable = |why: &str| ReferenceError::Unusable { path: label.clone(), why: why.to_string() };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let layout = walk_boxes(&mut file, size).map_err(io)?;
    if !layout.has("moov") {
        return Err(unusable("it has no moov atom either"));
    }
    let moov = read_moov(&mut file, &layout, size)
        .map_err(io)?
        .ok_or_else(|| unusable("its moov atom is cut short or implausibly large"))?;
    avc_config(&moov).map_err(|why| unusable(&why))
}

/// The `avcC` of the first video track of a moov payload.
pub fn avc_config(moov: &[u8]) -> Result<AvcConfig, String> {
    let trak = video_traks(moov).next().ok_or("it has no video track")?;
    let stsd = first_child(trak, b"mdia")
        .and_then(|mdia| first_child(mdia, b"minf"))
        .and_then(|minf| first_child(minf, b"stbl"))
        .and_then(|stbl| first_child(stbl, b"stsd"))
        .ok_or("its video track has no sample description")?;
    // stsd: version/flags (4), entry count (4), then sample entries.
    let (entry_kind, entry) =
        children(stsd.get(8..).unwrap_or_default()).next().ok_or("its video sample description is empty")?;
    if entry_kind != b"avc1" && entry_kind != b"avc3" {
        return Err(format!(
            "its video codec is {} (only H.264, avc1/avc3, can be rebuilt)",
            String::from_utf8_lossy(entry_kind)
        ));
    }
    // A visual sample entry has 78 bytes of fields before its child boxes.
    let avcc = first_child(entry.get(78..).unwrap_or_default(), b"avcC").ok_or("its H.264 sample entry has no avcC")?;
    parse_avcc(avcc)
}

/// Parses an `AVCDecoderConfigurationRecord`.
pub fn parse_avcc(avcc: &[u8]) -> Result<AvcConfig, String> {
    let short = || "its avcC is cut short".to_string();
    if avcc.len() < 7 || avcc[0] != 1 {
        return Err("its avcC is not a version 1 configuration record".into());
    }
    let length_size = (avcc[4] & 3) as usize + 1;
    if length_size == 3 {
        return Err("its avcC declares 3-byte unit lengths, which H.264 does not allow".into());
    }
    let mut at = 5;
    let mut parameter_sets = Vec::new();
    for mask in [0x1f_u8, 0xff] {
        let count = (*avcc.get(at).ok_or_else(short)? & mask) as usize;
        at += 1;
        for _ in 0..count {
            let len = u16::from_be_bytes([*avcc.get(at).ok_or_else(short)?, *avcc.get(at + 1).ok_or_else(short)?]);
            let set = avcc.get(at + 2..at + 2 + len as usize).ok_or_else(short)?;
            parameter_sets.push(set.to_vec());
            at += 2 + len as usize;
        }
    }
    if parameter_sets.len() < 2 {
        return Err("its avcC lacks a sequence or picture parameter set".into());
    }
    Ok(AvcConfig { length_size, parameter_sets })
}

/// What walking the media data found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NalWalk {
    pub units: u64,
    /// Picture slices among them (types 1 and 5): about one per frame.
    pub slices: u64,
    /// Bytes stepped over because they did not parse as a unit.
    pub skipped: u64,
    /// Bytes of a last unit cut off by the end of the file.
    pub cut: u64,
}

/// The unit whose length field starts at `at`, when it is plausible: a
/// non-empty length that fits, a clear forbidden bit and a unit type H.264
/// uses (1–23).
fn unit_at(media: &[u8], at: usize, length_size: usize) -> Option<(usize, usize)> {
    let field = media.get(at..at + length_size)?;
    let len = field.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let start = at + length_size;
    let header = *media.get(start)?;
    let kind = header & 0x1f;
    if len == 0 || len > MAX_NAL || header & 0x80 != 0 || !(1..=23).contains(&kind) {
        return None;
    }
    Some((start, len))
}

/// A slice unit (type 1 or 5) whose slice starts at macroblock 0 (its first
/// bit, `ue(v)` 0, is set), behind a length field below 16 MiB: what a
/// single-slice frame looks like, and rare in other data.
fn starts_picture(media: &[u8], at: usize, length_size: usize) -> bool {
    let Some(&header) = media.get(at + length_size) else { return false };
    let first_mb_zero = media.get(at + length_size + 1).is_some_and(|b| b & 0x80 != 0);
    let kind = header & 0x1f;
    let small = length_size < 4 || media.get(at) == Some(&0);
    small && first_mb_zero && (kind == 1 || (kind == 5 && header & 0x60 != 0))
}

/// Writes the parameter sets and every unit found in `media` as Annex B.
pub fn write_annexb(media: &[u8], config: &AvcConfig, out: &mut impl Write) -> std::io::Result<NalWalk> {
    let mut walk = NalWalk::default();
    for set in &config.parameter_sets {
        out.write_all(&START_CODE)?;
        out.write_all(set)?;
    }
    let n = config.length_size;
    let mut at = 0usize;
    let mut in_sync = true;
    // Where a unit, read in sync, ran past the end: the cut last unit, unless
    // units are found after it (then it was other data that looked like one).
    let mut overrun: Option<usize> = None;
    while at + n < media.len() {
        let candidate = unit_at(media, at, n).filter(|&(start, len)| {
            let end = start + len;
            if end > media.len() {
                if in_sync && overrun.is_none() {
                    overrun = Some(at);
                }
                return false;
            }
            // After skipping, a candidate counts only when the next unit
            // parses too (or the data ends right after it), or when it is
            // the start of a picture: a slice with first_mb_in_slice = 0.
            in_sync || end == media.len() || unit_at(media, end, n).is_some() || starts_picture(media, at, n)
        });
        let Some((start, len)) = candidate else {
            at += 1;
            walk.skipped += 1;
            in_sync = false;
            continue;
        };
        in_sync = true;
        overrun = None;
        let end = start + len;
        out.write_all(&START_CODE)?;
        out.write_all(&media[start..end])?;
        walk.units += 1;
        if matches!(media[start] & 0x1f, 1 | 5) {
            walk.slices += 1;
        }
        at = end;
    }
    walk.skipped += (media.len() - at.min(media.len())) as u64;
    if let Some(cut_at) = overrun {
        walk.cut = (media.len() - cut_at) as u64;
        walk.skipped -= walk.cut;
    }
    Ok(walk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avcc() -> Vec<u8> {
        let sps = [0x67, 0x64, 0x00, 0x0b];
        let pps = [0x68, 0xeb, 0xe3];
        let mut b = vec![1, 0x64, 0, 0x0b, 0xff, 0xe1];
        b.extend((sps.len() as u16).to_be_bytes());
        b.extend(sps);
        b.push(1);
        b.extend((pps.len() as u16).to_be_bytes());
        b.extend(pps);
        b
    }

    fn unit(kind: u8, len: usize) -> Vec<u8> {
        let mut b = (len as u32).to_be_bytes().to_vec();
        b.push(0x60 | kind);
        b.extend(std::iter::repeat_n(0xAB, len - 1));
        b
    }

    #[test]
    fn avcc_records_parse() {
        let config = parse_avcc(&avcc()).unwrap();
        assert_eq!(config.length_size, 4);
        assert_eq!(config.parameter_sets, vec![vec![0x67, 0x64, 0x00, 0x0b], vec![0x68, 0xeb, 0xe3]]);
        assert!(parse_avcc(&avcc()[..9]).is_err());
        assert!(parse_avcc(&[0; 3]).is_err());
    }

    #[test]
    fn units_become_annexb_and_junk_is_stepped_over() {
        let config = parse_avcc(&avcc()).unwrap();
        let mut media = [unit(5, 20), unit(1, 9)].concat();
        media.extend([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc]); // an ADTS-like header between units
        media.extend([unit(1, 12), unit(1, 30)].concat());
        let full = media.len();
        media.truncate(full - 10); // the last unit is cut
        let mut out = Vec::new();
        let walk = write_annexb(&media, &config, &mut out).unwrap();
        assert_eq!(walk, NalWalk { units: 3, slices: 3, skipped: 7, cut: 24 });
        assert!(out.starts_with(&[0, 0, 0, 1, 0x67]));
        let starts = out.windows(4).filter(|w| *w == START_CODE).count();
        assert_eq!(starts, 2 + 3);
    }

    proptest::proptest! {
        #[test]
        fn any_media_walks_without_panicking(media in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let config = parse_avcc(&avcc()).unwrap();
            let mut out = Vec::new();
            let walk = write_annexb(&media, &config, &mut out).unwrap();
            proptest::prop_assert!(walk.skipped + walk.cut <= media.len() as u64);
        }

        #[test]
        fn any_moov_is_refused_or_read(moov in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = avc_config(&moov);
        }
    }
}
