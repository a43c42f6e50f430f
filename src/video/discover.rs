//! Finding the videos among the paths a user gave.
//!
//! A file named explicitly is always checked, whatever it holds (a file that
//! is not a video is a finding). A folder is walked recursively and keeps the
//! files whose first bytes are a video container's signature: the extension
//! is never trusted, so `render_0001` without a suffix is found and a
//! `notes.mp4` text file is not.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes read from the start of a file to recognise it (an MPEG transport
/// stream needs its second sync byte at 188).
const HEAD_BYTES: usize = 192;

/// Explicit files as given, then the videos found below each folder, in
/// name order.
pub fn video_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    crate::formats::walk::expand(paths, is_video_file)
}

/// Whether the file starts like a video container. Unreadable files are not.
pub fn is_video_file(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut head = Vec::with_capacity(HEAD_BYTES);
    match file.take(HEAD_BYTES as u64).read_to_end(&mut head) {
        Ok(_) => looks_like_video(&head),
        Err(_) => false,
    }
}

/// Container signatures: ISO BMFF (MP4, MOV, M4V, 3GP) by its first box
/// type, Matroska/WebM, AVI, FLV, MPEG program and transport streams, Ogg
/// and ASF/WMV.
pub fn looks_like_video(head: &[u8]) -> bool {
    const ISO_BOXES: [&[u8; 4]; 7] = [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"];
    let iso = head.len() >= 8 && ISO_BOXES.iter().any(|kind| &head[4..8] == *kind);
    let matroska = head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]);
    let avi = head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"AVI ";
    let flv = head.starts_with(b"FLV\x01");
    let mpeg_ps = head.starts_with(&[0x00, 0x00, 0x01, 0xBA]);
    let mpeg_ts = head.len() > 188 && head[0] == 0x47 && head[188] == 0x47;
    let ogg = head.starts_with(b"OggS");
    let asf = head.starts_with(&[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]);
    iso || matroska || avi || flv || mpeg_ps || mpeg_ts || ogg || asf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_not_extensions() {
        assert!(looks_like_video(b"\0\0\0\x20ftypisom\0\0\x02\0"));
        assert!(looks_like_video(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]));
        assert!(looks_like_video(b"RIFF\x10\0\0\0AVI LIST"));
        assert!(!looks_like_video(b"hello, this is not a video"));
        assert!(!looks_like_video(b""));
        assert!(!looks_like_video(b"\x93NUMPY\x01\x00"));
    }

    #[test]
    fn folders_are_walked_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("renders");
        std::fs::create_dir(&nested).unwrap();
        std::fs::write(nested.join("b_no_suffix"), b"\0\0\0\x20ftypisom\0\0\x02\0").unwrap();
        std::fs::write(dir.path().join("a.webm"), [0x1A, 0x45, 0xDF, 0xA3, 0x9F]).unwrap();
        std::fs::write(dir.path().join("notes.mp4"), b"just text").unwrap();
        let explicit = dir.path().join("notes.mp4");
        let found = video_files(&[dir.path().to_path_buf(), explicit.clone()]);
        assert_eq!(found, vec![dir.path().join("a.webm"), nested.join("b_no_suffix"), explicit]);
    }
}
