//! The AAC audio of an MP4 rebuilt without its moov. In the media data the
//! audio samples sit between the video samples, as raw AAC frames with no
//! header or length; the rebuild's walk of the video units leaves them as
//! the gaps between units. With the reference's decoder configuration
//! (`AudioSpecificConfig`, from its `esds`) each gap becomes one packet of
//! a small FLV stream: ffmpeg's AAC decoder reads every frame of a packet
//! in turn, so frame boundaries need not be known.
//!
//! Nothing here decides whether a gap is audio: a rebuild asks for audio
//! only when the reference has an AAC track.

use std::io::Write;

use super::container::{children, first_child, read_moov, walk_boxes};

/// An FLV tag holds at most this many bytes; a longer gap is left out.
const MAX_TAG: usize = (1 << 24) - 1 - 2;

/// The `AudioSpecificConfig` of the first AAC sound track of a healthy MP4,
/// or `None` when it has none (or it cannot be read).
pub fn reference_aac(path: &std::path::Path) -> Option<Vec<u8>> {
    let mut file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let layout = walk_boxes(&mut file, size).ok()?;
    let moov = read_moov(&mut file, &layout, size).ok()??;
    aac_config(&moov)
}

/// The `AudioSpecificConfig` of the first `soun` track whose sample entry
/// is `mp4a` with an `esds`, from a moov payload.
pub fn aac_config(moov: &[u8]) -> Option<Vec<u8>> {
    children(moov).filter(|(kind, _)| *kind == b"trak").find_map(|(_, trak)| {
        let mdia = first_child(trak, b"mdia")?;
        if first_child(mdia, b"hdlr")?.get(8..12)? != b"soun" {
            return None;
        }
        let stsd =
            first_child(mdia, b"minf").and_then(|m| first_child(m, b"stbl")).and_then(|s| first_child(s, b"stsd"))?;
        let (kind, entry) = children(stsd.get(8..)?).next()?;
        if kind != b"mp4a" {
            return None;
        }
        // An audio sample entry has 28 bytes of fields before its child boxes.
        let esds = first_child(entry.get(28..)?, b"esds")?;
        decoder_specific_info(esds.get(4..)?)
    })
}

/// Walks the MPEG-4 descriptors of an `esds` payload (after version and
/// flags) down to the DecoderSpecificInfo (tag 5).
fn decoder_specific_info(mut bytes: &[u8]) -> Option<Vec<u8>> {
    loop {
        let tag = *bytes.first()?;
        let mut len = 0usize;
        let mut at = 1;
        for _ in 0..4 {
            let b = *bytes.get(at)?;
            at += 1;
            len = (len << 7) | (b & 0x7f) as usize;
            if b & 0x80 == 0 {
                break;
            }
        }
        let body = bytes.get(at..at.checked_add(len)?)?;
        match tag {
            // ES_Descriptor: ES_ID (2), flags (1), then optional fields the flags announce.
            3 => {
                let flags = *body.get(2)?;
                let mut skip = 3;
                if flags & 0x80 != 0 {
                    skip += 2;
                }
                if flags & 0x40 != 0 {
                    skip += 1 + *body.get(skip)? as usize;
                }
                if flags & 0x20 != 0 {
                    skip += 2;
                }
                bytes = body.get(skip..)?;
            }
            // DecoderConfigDescriptor: 13 bytes of fields, then its own descriptors.
            4 => bytes = body.get(13..)?,
            5 => return Some(body.to_vec()),
            _ => bytes = bytes.get(at + len..)?,
        }
    }
}

/// Writes an FLV stream holding one AAC track: the configuration, then each
/// gap of `media` as one packet. Returns the bytes of audio written.
pub fn write_flv(media: &[u8], gaps: &[(usize, usize)], config: &[u8], out: &mut impl Write) -> std::io::Result<u64> {
    // Signature, version 1, audio only, header size 9, then the first "previous tag size".
    out.write_all(b"FLV\x01\x04\x00\x00\x00\x09\x00\x00\x00\x00")?;
    // 0xAF: AAC; the rate and channel bits are ignored for AAC, the configuration says.
    write_tag(out, 0, &[&[0xAF, 0x00], config])?;
    let mut written = 0u64;
    for (n, &(start, end)) in gaps.iter().enumerate() {
        let Some(gap) = media.get(start..end).filter(|g| !g.is_empty() && g.len() <= MAX_TAG) else { continue };
        // Timestamps only need to rise: the rebuild regenerates them from the sample count.
        write_tag(out, n as u32 + 1, &[&[0xAF, 0x01], gap])?;
        written += gap.len() as u64;
    }
    Ok(written)
}

fn write_tag(out: &mut impl Write, timestamp: u32, parts: &[&[u8]]) -> std::io::Result<()> {
    let size: usize = parts.iter().map(|p| p.len()).sum();
    let size24 = (size as u32).to_be_bytes();
    let ts = timestamp.to_be_bytes();
    out.write_all(&[8, size24[1], size24[2], size24[3], ts[1], ts[2], ts[3], ts[0], 0, 0, 0])?;
    for part in parts {
        out.write_all(part)?;
    }
    out.write_all(&(size as u32 + 11).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    fn sound_trak(asc: &[u8]) -> Vec<u8> {
        let dsi = [&[5u8, asc.len() as u8][..], asc].concat();
        let dcd = [&[4u8, (13 + dsi.len()) as u8][..], &[0x40, 0x15], &[0; 11], &dsi].concat();
        let es = [&[3u8, (3 + dcd.len()) as u8][..], &[0, 1, 0], &dcd].concat();
        let esds = full_box(b"esds", &[&[0u8; 4][..], &es].concat());
        let mp4a = full_box(b"mp4a", &[&[0u8; 28][..], &esds].concat());
        let stsd = full_box(b"stsd", &[&[0u8, 0, 0, 0, 0, 0, 0, 1][..], &mp4a].concat());
        let minf = full_box(b"minf", &full_box(b"stbl", &stsd));
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"soun");
        hdlr.extend([0u8; 13]);
        full_box(b"trak", &full_box(b"mdia", &[full_box(b"hdlr", &hdlr), minf].concat()))
    }

    #[test]
    fn the_aac_configuration_is_read_from_esds() {
        assert_eq!(aac_config(&sound_trak(&[0x11, 0xb0])), Some(vec![0x11, 0xb0]));
        let moov = sound_trak(&[0x12, 0x10]);
        assert_eq!(aac_config(&moov[..moov.len() - 1]), None);
    }

    #[test]
    fn gaps_become_flv_tags() {
        let media = [9u8; 40];
        let mut out = Vec::new();
        let written = write_flv(&media, &[(2, 10), (20, 20), (30, 40)], &[0x11, 0x90], &mut out).unwrap();
        assert_eq!(written, 18);
        assert!(out.starts_with(b"FLV\x01\x04"));
        // Header (13), configuration tag (11 + 4 + 4), two audio tags (11 + 10 + 4, 11 + 12 + 4).
        assert_eq!(out.len(), 13 + 19 + 25 + 27);
    }

    proptest::proptest! {
        #[test]
        fn any_descriptors_are_refused_or_read(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decoder_specific_info(&bytes);
            let _ = aac_config(&bytes);
        }
    }
}
