//! What the bytes of a video file say before any decoder looks at them: the
//! top-level ISO-BMFF boxes (MP4/MOV), which tell a never-finalised file (no
//! moov) from one that is not media at all, and where the index sits, and
//! the first video track's size, read from its `tkhd` before ffprobe answers.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

/// Box walks stop after this many boxes; real files have a handful.
const MAX_BOXES: usize = 4096;
/// A moov larger than this is not read for the track size (hours of video
/// have moov boxes of a few MiB).
const MAX_MOOV_READ: u64 = 32 << 20;

/// One top-level box header as found in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopBox {
    pub kind: String,
    pub offset: u64,
    /// The size the header declares (bytes, header included).
    pub size: u64,
    /// Bytes of the header itself: 16 with a 64-bit size, else 8.
    #[serde(skip)]
    pub header: u64,
}

/// The top-level layout of an ISO-BMFF file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BoxLayout {
    pub boxes: Vec<TopBox>,
    /// The box whose declared size runs past the end of the file, if any.
    pub cut_box: Option<String>,
}

impl BoxLayout {
    pub fn has(&self, kind: &str) -> bool {
        self.boxes.iter().any(|b| b.kind == kind)
    }

    fn position(&self, kind: &str) -> Option<usize> {
        self.boxes.iter().position(|b| b.kind == kind)
    }

    /// True when moov comes after the media data (the muxer's default layout).
    pub fn moov_after_mdat(&self) -> bool {
        matches!((self.position("moov"), self.position("mdat")), (Some(m), Some(d)) if m > d)
    }
}

/// What a file's first bytes say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSniff {
    pub size: u64,
    /// `Some` when the file starts with an ISO-BMFF `ftyp` box.
    pub iso: Option<BoxLayout>,
    /// The first bytes, hex, for messages about unknown content.
    pub head_hex: String,
    /// The first bytes are printable text.
    pub looks_like_text: bool,
    /// Width and height the first video track's header declares (MP4/MOV).
    pub video_size: Option<(u64, u64)>,
}

pub fn sniff(path: &Path) -> std::io::Result<FileSniff> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut head = [0u8; 64];
    let n = read_up_to(&mut file, &mut head)?;
    let head = &head[..n];
    let iso = if head.len() >= 8 && &head[4..8] == b"ftyp" { Some(walk_boxes(&mut file, size)?) } else { None };
    let video_size = match &iso {
        Some(layout) => read_moov(&mut file, layout, size)?.as_deref().and_then(video_track_size),
        None => None,
    };
    let looks_like_text = !head.is_empty()
        && head.iter().all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80);
    Ok(FileSniff {
        size,
        iso,
        head_hex: head.iter().take(8).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" "),
        looks_like_text,
        video_size,
    })
}

/// The payload of the moov box, when the file holds all of it and it is not
/// larger than `MAX_MOOV_READ`.
pub(crate) fn read_moov(file: &mut File, layout: &BoxLayout, size: u64) -> std::io::Result<Option<Vec<u8>>> {
    let Some(moov) = layout.boxes.iter().find(|b| b.kind == "moov") else { return Ok(None) };
    if moov.size > MAX_MOOV_READ || moov.offset.saturating_add(moov.size) > size || moov.size < moov.header {
        return Ok(None);
    }
    let mut payload = vec![0u8; (moov.size - moov.header) as usize];
    file.seek(SeekFrom::Start(moov.offset + moov.header))?;
    file.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// The payload of the first child box of this kind.
pub(crate) fn first_child<'a>(payload: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(payload).find(|(k, _)| *k == kind).map(|(_, body)| body)
}

/// The `trak` payloads of a moov payload whose handler (`mdia/hdlr`) is `vide`.
pub(crate) fn video_traks(moov: &[u8]) -> impl Iterator<Item = &[u8]> {
    children(moov).filter(|(kind, _)| *kind == b"trak").take(MAX_BOXES).map(|(_, trak)| trak).filter(|trak| {
        first_child(trak, b"mdia").and_then(|mdia| first_child(mdia, b"hdlr")).and_then(|hdlr| hdlr.get(8..12))
            == Some(b"vide")
    })
}

/// The children of a box's payload as (kind, payload) pairs; stops at the
/// first header that does not fit.
pub(crate) fn children(mut payload: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let declared = u32::from_be_bytes(payload.get(..4)?.try_into().ok()?) as usize;
        let (header, size) = match declared {
            1 => (16, usize::try_from(u64::from_be_bytes(payload.get(8..16)?.try_into().ok()?)).ok()?),
            0 => (8, payload.len()),
            n => (8, n),
        };
        if size < header || size > payload.len() {
            return None;
        }
        let kind = &payload[4..8];
        let body = &payload[header..size];
        payload = &payload[size..];
        Some((kind, body))
    })
}

/// Width and height (the integer part of `tkhd`'s 16.16 fixed-point fields)
/// of the first track whose handler is `vide`, from a moov payload.
pub fn video_track_size(moov: &[u8]) -> Option<(u64, u64)> {
    video_traks(moov).find_map(|trak| {
        let tkhd = first_child(trak, b"tkhd")?;
        let fixed = |at: usize| Some(u32::from_be_bytes(tkhd.get(at..at + 4)?.try_into().ok()?) as u64 >> 16);
        let end = tkhd.len().checked_sub(8)?;
        Some((fixed(end)?, fixed(end + 4)?)).filter(|&(w, h)| w > 0 && h > 0)
    })
}

/// The text tags of an MP4/MOV file's `moov`, as (key, value) pairs in file
/// order: the `mdta`-keyed items ffmpeg writes with `-movflags
/// use_metadata_tags` (any key), the iTunes-style comment and encoder items,
/// and QuickTime's own comment atom. Empty when the file is not ISO-BMFF or
/// has no whole moov.
pub fn metadata_tags(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut head = [0u8; 8];
    if read_up_to(&mut file, &mut head)? < 8 || &head[4..8] != b"ftyp" {
        return Ok(Vec::new());
    }
    let layout = walk_boxes(&mut file, size)?;
    Ok(read_moov(&mut file, &layout, size)?.map_or_else(Vec::new, |moov| moov_tags(&moov)))
}

/// The text tags of a moov payload (see [`metadata_tags`]).
pub fn moov_tags(moov: &[u8]) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    let udta = first_child(moov, b"udta");
    // ffmpeg puts `meta` in `udta`; other writers put it in moov itself.
    for meta in [udta.and_then(|u| first_child(u, b"meta")), first_child(moov, b"meta")].into_iter().flatten() {
        meta_tags(meta, &mut tags);
    }
    for (kind, body) in udta.into_iter().flat_map(children).take(MAX_BOXES) {
        // A QuickTime text atom: a 16-bit length, a 16-bit language, the text.
        if let Some(key) = itunes_key(kind)
            && let Some(length) = body.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
            && let Some(text) = body.get(4..4 + length)
        {
            tags.push((key.to_string(), String::from_utf8_lossy(text).into_owned()));
        }
    }
    tags
}

/// The keys nanscope reads among the iTunes-style items (`©` is byte 0xA9).
fn itunes_key(kind: &[u8]) -> Option<&'static str> {
    match kind {
        b"\xa9cmt" => Some("comment"),
        b"\xa9too" => Some("encoder"),
        _ => None,
    }
}

/// The items of a `meta` box: ISO's is a full box (4 bytes of version and
/// flags before its children), QuickTime's is not.
fn meta_tags(meta: &[u8], tags: &mut Vec<(String, String)>) {
    let meta = if meta.get(4..8) == Some(b"hdlr") { meta } else { meta.get(4..).unwrap_or_default() };
    // `keys`: version and flags, a count, then (size, namespace, name) entries.
    let keys: Vec<&[u8]> = first_child(meta, b"keys")
        .and_then(|k| k.get(8..))
        .map(|mut entries| {
            std::iter::from_fn(move || {
                let size = u32::from_be_bytes(entries.get(..4)?.try_into().ok()?) as usize;
                let name = entries.get(8..size)?;
                entries = &entries[size..];
                Some(name)
            })
            .take(MAX_BOXES)
            .collect()
        })
        .unwrap_or_default();
    let Some(ilst) = first_child(meta, b"ilst") else { return };
    for (kind, item) in children(ilst).take(MAX_BOXES) {
        // An `mdta` item's kind is its key's 1-based index.
        let index = u32::from_be_bytes(kind.try_into().unwrap_or_default()) as usize;
        let key = match itunes_key(kind) {
            Some(key) => key.to_string(),
            None => match index.checked_sub(1).and_then(|i| keys.get(i)) {
                Some(name) => String::from_utf8_lossy(name).into_owned(),
                None => continue,
            },
        };
        // `data`: a type (1 is UTF-8), a locale, the value.
        if let Some(data) = first_child(item, b"data")
            && data.get(..4) == Some(&[0, 0, 0, 1])
            && let Some(value) = data.get(8..)
        {
            tags.push((key, String::from_utf8_lossy(value).into_owned()));
        }
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Walks the top-level boxes, believing each declared size only as far as the
/// file reaches.
pub(crate) fn walk_boxes(file: &mut File, size: u64) -> std::io::Result<BoxLayout> {
    let mut layout = BoxLayout::default();
    let mut offset = 0u64;
    while offset + 8 <= size && layout.boxes.len() < MAX_BOXES {
        file.seek(SeekFrom::Start(offset))?;
        let mut header = [0u8; 16];
        let n = read_up_to(file, &mut header)?;
        if n < 8 {
            break;
        }
        let declared = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let kind: String = header[4..8].iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }).collect();
        let (box_size, header) = match declared {
            0 => (size - offset, 8),
            1 if n >= 16 => (u64::from_be_bytes(header[8..16].try_into().unwrap_or([0; 8])), 16),
            _ => (declared, 8),
        };
        if box_size < 8 {
            layout.cut_box = Some(kind.clone());
            layout.boxes.push(TopBox { kind, offset, size: box_size, header });
            break;
        }
        let end = offset.saturating_add(box_size);
        layout.boxes.push(TopBox { kind: kind.clone(), offset, size: box_size, header });
        if end > size {
            layout.cut_box = Some(kind);
            break;
        }
        offset = end;
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: usize) -> Vec<u8> {
        let mut b = ((payload + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend(std::iter::repeat_n(0u8, payload));
        b
    }

    #[test]
    fn finds_moov_position_and_cut_boxes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp4");
        let mut bytes = boxed(b"ftyp", 16);
        bytes.extend(boxed(b"mdat", 100));
        bytes.extend(boxed(b"moov", 20));
        std::fs::write(&path, &bytes).unwrap();
        let layout = sniff(&path).unwrap().iso.unwrap();
        assert!(layout.has("moov") && layout.moov_after_mdat() && layout.cut_box.is_none());

        std::fs::write(&path, &bytes[..80]).unwrap();
        let layout = sniff(&path).unwrap().iso.unwrap();
        assert!(!layout.has("moov"));
        assert_eq!(layout.cut_box.as_deref(), Some("mdat"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn any_bytes_after_ftyp_walk_without_panicking(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f.mp4");
            let mut bytes = boxed(b"ftyp", 8);
            bytes.extend(tail);
            std::fs::write(&path, &bytes).unwrap();
            let layout = sniff(&path).unwrap().iso.unwrap();
            proptest::prop_assert!(layout.boxes.iter().all(|b| b.offset < bytes.len() as u64));
        }
    }

    fn full_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    fn trak(handler: &[u8; 4], width: u32, height: u32) -> Vec<u8> {
        let mut tkhd = vec![0u8; 76];
        tkhd.extend((width << 16).to_be_bytes());
        tkhd.extend((height << 16).to_be_bytes());
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend([0u8; 13]);
        let mdia = full_box(b"mdia", &full_box(b"hdlr", &hdlr));
        full_box(b"trak", &[full_box(b"tkhd", &tkhd), mdia].concat())
    }

    #[test]
    fn the_video_track_size_is_read_from_tkhd() {
        let moov = [trak(b"soun", 0, 0), trak(b"vide", 1920, 1080)].concat();
        assert_eq!(video_track_size(&moov), Some((1920, 1080)));
        assert_eq!(video_track_size(&trak(b"soun", 0, 0)), None);
        assert_eq!(video_track_size(&moov[..moov.len() - 3]), None);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp4");
        let mut bytes = boxed(b"ftyp", 16);
        bytes.extend(full_box(b"moov", &moov));
        bytes.extend(boxed(b"mdat", 100));
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(sniff(&path).unwrap().video_size, Some((1920, 1080)));
    }

    proptest::proptest! {
        #[test]
        fn track_sizes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = video_track_size(&bytes);
        }
    }

    /// A moov whose `udta/meta` holds `mdta`-keyed items (as ffmpeg's
    /// `use_metadata_tags` writes them) and an iTunes-style comment.
    fn tagged_moov(keyed: &[(&str, &str)], comment: Option<&str>) -> Vec<u8> {
        let data = |value: &str| full_box(b"data", &[&[0, 0, 0, 1, 0, 0, 0, 0][..], value.as_bytes()].concat());
        let mut keys = vec![0u8; 4];
        keys.extend((keyed.len() as u32).to_be_bytes());
        let mut items = Vec::new();
        for (i, (key, value)) in keyed.iter().enumerate() {
            keys.extend(full_box(b"mdta", key.as_bytes()));
            items.extend(full_box(&(i as u32 + 1).to_be_bytes(), &data(value)));
        }
        if let Some(text) = comment {
            items.extend(full_box(b"\xa9cmt", &data(text)));
        }
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"mdta");
        hdlr.extend([0u8; 13]);
        let meta = [vec![0u8; 4], full_box(b"hdlr", &hdlr), full_box(b"keys", &keys), full_box(b"ilst", &items)];
        [trak(b"vide", 64, 64), full_box(b"udta", &full_box(b"meta", &meta.concat()))].concat()
    }

    /// An MP4 file of `tagged_moov`'s moov.
    fn tagged_mp4(path: &Path, keyed: &[(&str, &str)], comment: Option<&str>) {
        let mut bytes = boxed(b"ftyp", 16);
        bytes.extend(full_box(b"moov", &tagged_moov(keyed, comment)));
        bytes.extend(boxed(b"mdat", 32));
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn metadata_tags_are_read_from_keyed_items_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp4");
        tagged_mp4(&path, &[("prompt", "{\"1\": {}}"), ("workflow", "{}")], Some("é"));
        let tags = metadata_tags(&path).unwrap();
        let want = [("prompt", "{\"1\": {}}"), ("workflow", "{}"), ("comment", "é")];
        assert_eq!(tags, want.map(|(k, v)| (k.to_string(), v.to_string())));

        // QuickTime's own text atom in udta; a meta box without version and flags.
        let atom = [&[0u8, 5, 0x55, 0xc4][..], b"hello"].concat();
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"mdir");
        let data = full_box(b"data", &[&[0, 0, 0, 1, 0, 0, 0, 0][..], b"Lavf"].concat());
        let meta = [full_box(b"hdlr", &hdlr), full_box(b"ilst", &full_box(b"\xa9too", &data))].concat();
        let moov = [full_box(b"udta", &full_box(b"\xa9cmt", &atom)), full_box(b"meta", &meta)].concat();
        let tags = moov_tags(&moov);
        assert_eq!(tags, [("encoder".to_string(), "Lavf".to_string()), ("comment".to_string(), "hello".to_string())]);

        // An item whose key index is out of range, a value that is not UTF-8 text, a cut box.
        let keys = [&[0u8; 4][..], &1u32.to_be_bytes(), &full_box(b"mdta", b"prompt")].concat();
        let item = |index: u32, kind: u8| {
            full_box(&index.to_be_bytes(), &full_box(b"data", &[&[0, 0, 0, kind, 0, 0, 0, 0][..], b"x"].concat()))
        };
        let ilst = [item(2, 1), item(1, 2), item(0, 1)].concat();
        let meta = [vec![0u8; 4], full_box(b"keys", &keys), full_box(b"ilst", &ilst)].concat();
        assert!(moov_tags(&full_box(b"udta", &full_box(b"meta", &meta))).is_empty());
        let keyed = tagged_moov(&[("prompt", "x")], None);
        assert!(moov_tags(&keyed[..keyed.len() - 2]).is_empty());
        std::fs::write(&path, "not a video").unwrap();
        assert!(metadata_tags(&path).unwrap().is_empty());
    }

    proptest::proptest! {
        #[test]
        fn metadata_tags_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = moov_tags(&bytes);
            let mut moov = tagged_moov(&[("prompt", "{}")], Some("c"));
            let at = bytes.first().map_or(0, |&b| b as usize % moov.len());
            moov.splice(at..at, bytes.iter().copied());
            let _ = moov_tags(&moov);
        }
    }

    #[test]
    fn text_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp4");
        std::fs::write(&path, "Traceback (most recent call last):\n").unwrap();
        let sniffed = sniff(&path).unwrap();
        assert!(sniffed.iso.is_none() && sniffed.looks_like_text);
    }
}
