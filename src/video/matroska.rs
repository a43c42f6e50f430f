//! The global tags of a Matroska or WebM file (`Segment/Tags/Tag/SimpleTag`),
//! read from the EBML elements before the first cluster, where ffmpeg's
//! muxer writes them. Only the start of the file is read, and every
//! declared size is held to what is left of it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The most of a file's start read for its tags.
const MAX_HEAD: u64 = 16 << 20;
/// Tag walks stop after this many elements.
const MAX_ELEMENTS: usize = 4096;

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const CLUSTER: u32 = 0x1F43_B675;
const TAGS: u32 = 0x1254_C367;
const TAG: u32 = 0x7373;
const SIMPLE_TAG: u32 = 0x67C8;
const TAG_NAME: u32 = 0x45A3;
const TAG_STRING: u32 = 0x4487;

/// The global tags as (name, value) pairs in file order, names as written
/// (ffmpeg writes them in capitals: `PROMPT`). Empty when the file is not
/// Matroska or holds no tags before its first cluster.
pub fn matroska_tags(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut file = File::open(path)?.take(MAX_HEAD);
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_err() || u32::from_be_bytes(magic) != EBML {
        return Ok(Vec::new());
    }
    let mut head = magic.to_vec();
    file.read_to_end(&mut head)?;
    Ok(tags_in(&head))
}

/// The tags in the first bytes of a Matroska file (see [`matroska_tags`]).
pub fn tags_in(head: &[u8]) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    let Some((EBML, _, rest)) = element(head) else { return tags };
    let Some((SEGMENT, segment, _)) = element(rest) else { return tags };
    for (id, body) in elements(segment) {
        match id {
            CLUSTER => break,
            TAGS => {
                for (_, tag) in elements(body).filter(|(id, _)| *id == TAG) {
                    for (_, simple) in elements(tag).filter(|(id, _)| *id == SIMPLE_TAG) {
                        let text = |want: u32| {
                            elements(simple).find(|(id, _)| *id == want).map(|(_, b)| String::from_utf8_lossy(b))
                        };
                        if let (Some(name), Some(value)) = (text(TAG_NAME), text(TAG_STRING)) {
                            tags.push((name.into_owned(), value.into_owned()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    tags
}

/// The elements of a master element's body, in order; a body cut short
/// (the file's start read, not all of it) ends at the last whole element,
/// except that an element whose size runs past the end is given what there
/// is of it.
fn elements(mut body: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    std::iter::from_fn(move || {
        let (id, inner, rest) = element(body)?;
        body = rest;
        Some((id, inner))
    })
    .take(MAX_ELEMENTS)
}

/// One element: its id, its body (cut to what `bytes` holds) and what
/// follows it.
fn element(bytes: &[u8]) -> Option<(u32, &[u8], &[u8])> {
    let (id, id_len) = vint(bytes, 4, true)?;
    let (size, size_len) = vint(bytes.get(id_len..)?, 8, false)?;
    let start = id_len + size_len;
    let left = bytes.len() - start;
    // All ones: a size the muxer did not know (a live stream); the rest is its body.
    let unknown = size == (1u64 << (7 * size_len)) - 1;
    let size = if unknown { left } else { usize::try_from(size).map_or(left, |s| s.min(left)) };
    let id = u32::try_from(id).ok()?;
    Some((id, &bytes[start..start + size], &bytes[start + size..]))
}

/// An EBML variable-length integer of at most `max` bytes: its value (with
/// the length marker kept, for an id) and its length.
fn vint(bytes: &[u8], max: usize, keep_marker: bool) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > max {
        return None;
    }
    let mut value = if keep_marker { u64::from(first) } else { u64::from(first) & (0xFF >> len) };
    for &b in bytes.get(1..len)? {
        value = value << 8 | u64::from(b);
    }
    Some((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An element: `id` as its bytes, a one-byte size (or an eight-byte
    /// unknown one), the body.
    fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.push(0x80 | u8::try_from(body.len()).unwrap());
        out.extend_from_slice(body);
        out
    }

    fn simple(name: &str, value: &str) -> Vec<u8> {
        el(&[0x67, 0xC8], &[el(&[0x45, 0xA3], name.as_bytes()), el(&[0x44, 0x87], value.as_bytes())].concat())
    }

    fn file(segment_children: &[u8]) -> Vec<u8> {
        let mut bytes = el(&[0x1A, 0x45, 0xDF, 0xA3], &el(&[0x42, 0x82], b"webm"));
        // The segment's size unknown, as a live muxer leaves it.
        bytes.extend_from_slice(&[0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        bytes.extend_from_slice(segment_children);
        bytes
    }

    #[test]
    fn tags_before_the_first_cluster_are_read() {
        let tags = el(&[0x12, 0x54, 0xC3, 0x67], &el(&[0x73, 0x73], &[simple("PROMPT", "{}"), simple("ENCODER", "x")].concat()));
        let cluster = el(&[0x1F, 0x43, 0xB6, 0x75], &[0u8; 20]);
        let later = el(&[0x12, 0x54, 0xC3, 0x67], &el(&[0x73, 0x73], &simple("LATE", "y")));
        let bytes = file(&[el(&[0x15, 0x49, 0xA9, 0x66], &[0u8; 4]), tags, cluster, later].concat());
        let want = [("PROMPT", "{}"), ("ENCODER", "x")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(tags_in(&bytes), want);
        // Cut inside the tags: what is whole is read.
        assert!(tags_in(&bytes[..bytes.len() / 2]).len() <= 2);
        assert!(tags_in(b"\x00\x00\x01\xba not matroska").is_empty());
        assert!(tags_in(&[]).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_read_without_panicking(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = tags_in(&tail);
            let _ = tags_in(&file(&tail));
        }
    }
}
