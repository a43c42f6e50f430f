//! Rebuilding an MP4 whose writer never wrote the index (no moov): the media
//! data still holds the H.264 NAL units, each behind a length field, but the
//! decoder configuration (SPS/PPS) and the sample tables lived only in the
//! lost moov. A healthy reference file written with the same encoder settings
//! supplies the configuration; the units are walked out of the broken mdat
//! into an Annex B stream (start codes, parameter sets first), which ffmpeg
//! decodes in display order and re-encodes with fresh timestamps.
//!
//! Bytes that do not parse as a unit (interleaved audio, damage) are stepped
//! over one at a time until a frame starts again; they are kept as gaps,
//! from which `aac` recovers the audio.

use std::io::Write;

use super::container::{children, first_child, read_moov, video_traks, walk_boxes};
use super::h264::{Bits, SliceSyntax};

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
    /// The ids of the picture parameter sets: every slice names one of them.
    pub pps_ids: Vec<u64>,
    /// The longest unit believed: four times the reference's largest video
    /// sample (at least 64 KiB). Other data read as a unit claims any
    /// length; one that runs over the next frames would swallow them.
    pub max_unit: usize,
    /// The parameter sets parsed, when they can be: then a slice's whole
    /// header is checked against them, not only its first fields.
    pub syntax: Option<SliceSyntax>,
}

/// Why a reference cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("cannot read the reference {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("the reference {path} cannot be used: {why}")]
    Unusable { path: String, why: String },
}

/// Reads the H.264 decoder configuration of a healthy MP4's first video track.
pub fn reference_config(path: &std::path::Path) -> Result<AvcConfig, ReferenceError> {
    let label = path.display().to_string();
    let io = |source| ReferenceError::Io { path: label.clone(), error: source };
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
    let stbl = first_child(trak, b"mdia")
        .and_then(|mdia| first_child(mdia, b"minf"))
        .and_then(|minf| first_child(minf, b"stbl"));
    let stsd = stbl.and_then(|stbl| first_child(stbl, b"stsd")).ok_or("its video track has no sample description")?;
    let largest = stbl.and_then(|stbl| first_child(stbl, b"stsz")).and_then(largest_sample);
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
    let mut config = parse_avcc(avcc)?;
    if let Some(largest) = largest {
        config.max_unit = largest.saturating_mul(4).clamp(64 << 10, MAX_NAL);
    }
    Ok(config)
}

/// The largest sample an `stsz` payload lists (version and flags, a size
/// shared by every sample or 0, the count, then one size per sample).
fn largest_sample(stsz: &[u8]) -> Option<usize> {
    let word = |at: usize| Some(u32::from_be_bytes(stsz.get(at..at + 4)?.try_into().ok()?) as usize);
    let (shared, count) = (word(4)?, word(8)?);
    if shared != 0 {
        return Some(shared);
    }
    let sizes = stsz.get(12..)?.chunks_exact(4).take(count);
    sizes.map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize).max()
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
    let pps_ids = parameter_sets
        .iter()
        .filter(|set| set.first().is_some_and(|h| h & 0x1f == 8))
        .filter_map(|set| Bits::new(&set[1..]).ue())
        .collect();
    let syntax = SliceSyntax::from_parameter_sets(&parameter_sets);
    Ok(AvcConfig { length_size, parameter_sets, pps_ids, max_unit: MAX_NAL, syntax })
}

/// What walking the media data found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NalWalk {
    pub units: u64,
    /// Picture slices among them (types 1 and 5).
    pub slices: u64,
    /// Slices that start a picture (at macroblock 0): one per whole frame.
    pub pictures: u64,
    /// Byte ranges `[start, end)` of the media data between video units
    /// (another track's samples, damage), in order.
    pub gaps: Vec<(usize, usize)>,
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

/// Unit types an encoder writes into a video track's samples: slices (1,
/// 5), SEI, parameter sets, delimiters and filler (6–12). The others
/// (data partitions, extensions, reserved values) mark other data.
fn sample_unit_type(kind: u8) -> bool {
    matches!(kind, 1 | 5..=12)
}

/// A slice header that fits the reference: read to its end with the
/// reference's parameter sets when they parsed, else a slice type (0–9) and
/// the id of one of its picture parameter sets.
fn slice_header_fits(unit: &[u8], config: &AvcConfig) -> bool {
    if let Some(syntax) = &config.syntax {
        return syntax.header_fits(unit);
    }
    let mut bits = Bits::new(&unit[1..]);
    let fits = (|| {
        bits.ue()?;
        let slice_type = bits.ue()?;
        let pps_id = bits.ue()?;
        Some(slice_type <= 9 && config.pps_ids.contains(&pps_id))
    })();
    fits.unwrap_or(false)
}

/// A slice unit (type 1 or 5) whose slice starts at macroblock 0 (its first
/// bit, `ue(v)` 0, is set): what the first unit of a single-slice frame
/// looks like.
fn starts_picture(media: &[u8], start: usize) -> bool {
    let Some(&header) = media.get(start) else { return false };
    let first_mb_zero = media.get(start + 1).is_some_and(|b| b & 0x80 != 0);
    let kind = header & 0x1f;
    first_mb_zero && (kind == 1 || (kind == 5 && header & 0x60 != 0))
}

/// The bodies of H.264 units never hold `00 00 00`, `00 00 01` or
/// `00 00 02`: the encoder escapes them (emulation prevention). Other data
/// read as a unit almost always does within a few hundred bytes, and a
/// length that runs over the next real unit always does, because that
/// unit's length field starts with two zero bytes.
fn escaped(body: &[u8]) -> bool {
    let mut zeros = 0u8;
    for &b in body {
        if zeros >= 2 && b <= 2 {
            return false;
        }
        zeros = if b == 0 { zeros.saturating_add(1) } else { 0 };
    }
    true
}

/// A whole unit at `at`: a type found in video samples, inside the data,
/// an escaped body, and for a slice a header that fits the reference.
fn whole_unit(media: &[u8], at: usize, config: &AvcConfig) -> Option<(usize, usize)> {
    unit_at(media, at, config.length_size).filter(|&(start, len)| {
        len <= config.max_unit && start + len <= media.len() && looks_like_video(media, start, len, config)
    })
}

/// A unit whose present bytes look like video: a type video samples hold,
/// an escaped body, and for a slice a header that fits the reference.
fn looks_like_video(media: &[u8], start: usize, len: usize, config: &AvcConfig) -> bool {
    let kind = media[start] & 0x1f;
    let body = &media[start..start + len.min(media.len() - start)];
    sample_unit_type(kind) && (!matches!(kind, 1 | 5) || slice_header_fits(body, config)) && escaped(body)
}

/// A unit that looks like video but runs past the end of the data: the one
/// the cut hit.
fn cut_unit(media: &[u8], at: usize, config: &AvcConfig) -> bool {
    unit_at(media, at, config.length_size).is_some_and(|(start, len)| {
        len <= config.max_unit && start + len > media.len() && looks_like_video(media, start, len, config)
    })
}

/// Where a frame's units can start after data that is not video (another
/// track's samples): a slice starting a picture, or a unit that precedes
/// one in an access unit (SEI, delimiter, parameter sets) followed by a
/// whole unit.
fn starts_access_unit(media: &[u8], at: usize, config: &AvcConfig) -> Option<(usize, usize)> {
    let (start, len) = whole_unit(media, at, config)?;
    let follows = || whole_unit(media, start + len, config).is_some();
    match media[start] & 0x1f {
        1 | 5 if starts_picture(media, start) => Some((start, len)),
        6..=9 if follows() => Some((start, len)),
        _ => None,
    }
}

/// Writes the parameter sets and every whole unit found in `media` as
/// Annex B. Units are read one after the other while they parse; where
/// they stop (another track's samples, damage), the walk looks for the next
/// place a frame starts, byte by byte. A frame's units are held until the
/// frame ends, so that a frame of several slices cut by the end of the file
/// is dropped whole, not decoded with slices missing.
pub fn write_annexb(media: &[u8], config: &AvcConfig, out: &mut impl Write) -> std::io::Result<NalWalk> {
    let mut walk = NalWalk::default();
    for set in &config.parameter_sets {
        out.write_all(&START_CODE)?;
        out.write_all(set)?;
    }
    let n = config.length_size;
    let mut at = 0usize;
    let mut in_sync = true;
    // Where a unit read in sync, or a picture after other data, ran past the
    // end: the cut last unit, unless
    // units are found after it (then it was other data that looked like one).
    let mut overrun: Option<usize> = None;
    let mut frame = Frame::default();
    while at + n < media.len() {
        let found = if in_sync {
            whole_unit(media, at, config)
        } else {
            // Other data that ends in zeros reads, with the first bytes of
            // the next unit's length field, as a unit that starts a few bytes
            // before it. The later of two such readings is the unit: a unit
            // read a few bytes into a real one would claim a length hundreds
            // of times the real one's, running over the units behind it.
            starts_access_unit(media, at, config).map(|unit| {
                let later = (at + 1..=at + n).rev().find_map(|q| Some((q, starts_access_unit(media, q, config)?)));
                match later {
                    Some((q, later)) => {
                        walk.skipped += (q - at) as u64;
                        at = q;
                        later
                    }
                    None => unit,
                }
            })
        };
        let Some((start, len)) = found else {
            // Read in sync, or where a frame would start after other data.
            let frame_start = in_sync || starts_picture(media, at + n);
            if frame_start && overrun.is_none() && cut_unit(media, at, config) {
                overrun = Some(at);
            }
            if in_sync {
                walk.gaps.push((at, at));
                // A sample holds whole frames: other data ends the frame.
                if overrun.is_none() {
                    frame.write(media, out, &mut walk)?;
                }
            }
            at += 1;
            walk.skipped += 1;
            in_sync = false;
            continue;
        };
        if !in_sync && let Some(gap) = walk.gaps.last_mut() {
            gap.1 = at;
        }
        in_sync = true;
        overrun = None;
        if frame.ends_before(media, start) || frame.units.len() >= MAX_HELD_UNITS {
            frame.write(media, out, &mut walk)?;
        }
        frame.push(media, (at, start, len));
        at = start + len;
    }
    let tail = media.len() - at.min(media.len());
    walk.skipped += tail as u64;
    match walk.gaps.last_mut() {
        Some(gap) if !in_sync => gap.1 = media.len(),
        _ if tail > 0 => walk.gaps.push((at, media.len())),
        _ => {}
    }
    let mut cut_at = overrun;
    if let Some(cut) = overrun {
        walk.skipped -= (media.len() - cut) as u64;
        // The cut unit is a later slice of the frame held: the frame is not
        // whole, and goes with it.
        let later_slice = matches!(media[cut + n] & 0x1f, 1 | 5) && !starts_picture(media, cut + n);
        if later_slice && !frame.units.is_empty() {
            cut_at = frame.units.first().map(|&(field, _, _)| field);
            frame = Frame::default();
        }
    }
    frame.write(media, out, &mut walk)?;
    if let Some(cut_at) = cut_at {
        walk.cut = (media.len() - cut_at) as u64;
        if let Some(gap) = walk.gaps.last_mut().filter(|g| g.1 == media.len() || g.1 > cut_at) {
            gap.1 = gap.1.min(cut_at);
        }
        walk.gaps.retain(|g| g.1 > g.0);
    }
    Ok(walk)
}

/// Units held for one frame at the most: more than any encoder's slices per
/// frame, and a bound on what other data read as units can make the walk hold.
const MAX_HELD_UNITS: usize = 1 << 14;

/// The units of the frame being read: (length field, start, length) each.
#[derive(Default)]
struct Frame {
    units: Vec<(usize, usize, usize)>,
    has_slice: bool,
}

impl Frame {
    fn push(&mut self, media: &[u8], unit: (usize, usize, usize)) {
        self.has_slice |= matches!(media[unit.1] & 0x1f, 1 | 5);
        self.units.push(unit);
    }

    /// Whether the unit at `start` begins another frame: a slice at
    /// macroblock 0, or a unit that precedes a frame's slices (SEI,
    /// parameter sets, delimiter) once this frame holds a slice.
    fn ends_before(&self, media: &[u8], start: usize) -> bool {
        let kind = media.get(start).map_or(0, |h| h & 0x1f);
        self.has_slice && (starts_picture(media, start) || (6..=9).contains(&kind))
    }

    fn write(&mut self, media: &[u8], out: &mut impl Write, walk: &mut NalWalk) -> std::io::Result<()> {
        self.has_slice = false;
        for (_, start, len) in self.units.drain(..) {
            out.write_all(&START_CODE)?;
            out.write_all(&media[start..start + len])?;
            walk.units += 1;
            if starts_picture(media, start) {
                walk.pictures += 1;
            }
            if matches!(media[start] & 0x1f, 1 | 5) {
                walk.slices += 1;
            }
        }
        Ok(())
    }
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
        assert_eq!(config.pps_ids, vec![0]);
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
        assert_eq!(walk, NalWalk { units: 3, slices: 3, pictures: 3, gaps: vec![(37, 44)], skipped: 7, cut: 24 });
        assert!(out.starts_with(&[0, 0, 0, 1, 0x67]));
        let starts = out.windows(4).filter(|w| *w == START_CODE).count();
        assert_eq!(starts, 2 + 3);
    }

    /// A frame cut by the end of the file right after another track's data
    /// is the cut unit, not more of that data.
    #[test]
    fn a_picture_cut_after_other_data_is_the_cut() {
        let config = parse_avcc(&avcc()).unwrap();
        let mut media = unit(5, 20);
        media.extend([0x21, 0x1a, 0x40, 0x7f, 0x33]);
        let mut last = unit(1, 40);
        last.truncate(20);
        media.extend(&last);
        let walk = write_annexb(&media, &config, &mut Vec::new()).unwrap();
        assert_eq!((walk.units, walk.cut, walk.skipped), (1, 20, 5));
        assert_eq!(walk.gaps, vec![(24, 29)]);
    }

    #[test]
    fn the_largest_reference_sample_bounds_the_units_believed() {
        let mut stsz = vec![0u8; 8];
        stsz.extend(3u32.to_be_bytes());
        for size in [500u32, 90_000, 7] {
            stsz.extend(size.to_be_bytes());
        }
        assert_eq!(largest_sample(&stsz), Some(90_000));
        assert_eq!(largest_sample(&stsz[..16]), Some(500));
        stsz[4..8].copy_from_slice(&1234u32.to_be_bytes());
        assert_eq!(largest_sample(&stsz), Some(1234));
        assert_eq!(largest_sample(&[0; 6]), None);
    }

    /// A unit longer than the reference's samples allow is other data: it
    /// would swallow the frames behind it.
    #[test]
    fn a_unit_longer_than_the_reference_allows_is_not_believed() {
        let mut config = parse_avcc(&avcc()).unwrap();
        config.max_unit = 25;
        let mut media = unit(5, 20);
        media.extend([0, 0, 0, 60, 0x41, 0xAB, 0xAB]);
        media.extend([unit(1, 20), unit(1, 20)].concat());
        let walk = write_annexb(&media, &config, &mut Vec::new()).unwrap();
        assert_eq!((walk.units, walk.pictures, walk.skipped), (3, 3, 7));
    }

    /// Another track's data whose first bytes read as a unit long enough to
    /// swallow the next frames is refused: its body would hold the next
    /// unit's length field, which no escaped unit body can.
    #[test]
    fn a_length_that_runs_over_real_units_is_not_a_unit() {
        let config = parse_avcc(&avcc()).unwrap();
        let mut media = unit(5, 20);
        media.extend([0, 0, 0, 50, 0x41, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB]);
        media.extend([unit(1, 30), unit(1, 30)].concat());
        let mut out = Vec::new();
        let walk = write_annexb(&media, &config, &mut out).unwrap();
        assert_eq!((walk.units, walk.pictures, walk.skipped, walk.cut), (3, 3, 10, 0));
        assert_eq!(walk.gaps, vec![(24, 34)]);
        assert!(escaped(&[1, 0, 0, 3, 0, 0, 3]) && !escaped(&[5, 0, 0, 1]) && !escaped(&[0, 0, 0]));
    }

    /// Other data ending in `00 00 07` reads, with the first byte of the
    /// next unit's length field (`00 01 9f b8`), as a slice of 1792 bytes
    /// starting three bytes early; taken, it would swallow the real frame.
    #[test]
    fn of_two_overlapping_readings_the_later_is_the_unit() {
        let config = parse_avcc(&avcc()).unwrap();
        let mut media = unit(5, 20);
        media.extend([0x21, 0x1a, 0x40, 0x00, 0x00, 0x07]);
        let real = media.len();
        let mut big = unit(1, 0x19fb8);
        big[4] = 0x41;
        media.extend(&big);
        media.extend(unit(1, 30));
        let mut out = Vec::new();
        let walk = write_annexb(&media, &config, &mut out).unwrap();
        assert_eq!((walk.units, walk.pictures, walk.skipped, walk.cut), (3, 3, 6, 0));
        assert_eq!(walk.gaps, vec![(24, real)]);
        let at = out.windows(6).position(|w| w == [0, 0, 0, 1, 0x41, 0xAB]);
        assert!(at.is_some(), "the real frame is written whole");
    }

    /// A frame of two slices whose second slice is cut by the end of the
    /// file is dropped whole: decoded, its missing half would be concealed
    /// garbage.
    #[test]
    fn a_frame_cut_between_its_slices_is_dropped() {
        let config = parse_avcc(&avcc()).unwrap();
        let mut media = [unit(5, 20), unit(1, 20)].concat();
        let frame = media.len();
        media.extend(unit(1, 20));
        // A later slice of that frame: first macroblock 1 (`010`), P, PPS 0.
        let mut second = unit(1, 40);
        second[5] = 0b0101_1010;
        second.truncate(30);
        media.extend(&second);
        let walk = write_annexb(&media, &config, &mut Vec::new()).unwrap();
        assert_eq!((walk.units, walk.pictures, walk.slices), (2, 2, 2));
        assert_eq!(walk.cut, (media.len() - frame) as u64);
        // Whole, the same frame is kept.
        let mut whole = [unit(5, 20), unit(1, 20), unit(1, 20)].concat();
        let mut second = unit(1, 40);
        second[5] = 0b0101_1010;
        whole.extend(&second);
        let walk = write_annexb(&whole, &config, &mut Vec::new()).unwrap();
        assert_eq!((walk.units, walk.pictures, walk.slices, walk.cut), (4, 3, 4, 0));
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
