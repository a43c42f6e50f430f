//! The text chunks of a PNG file (`tEXt`, and `iTXt` stored uncompressed):
//! where ComfyUI keeps the workflow that made an image. Only the chunks
//! before the image data are read, one header at a time, so a large image
//! costs a few reads; every length is checked before it is used.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Largest text chunk read; a bigger one is skipped.
pub const MAX_TEXT: u32 = 4 << 20;

/// Most chunks walked before the image data.
const MAX_CHUNKS: usize = 4096;

/// The text stored under `keyword`, when the file is a PNG that has it
/// before its image data. `Ok(None)` for a file that is not a PNG.
pub fn png_text(path: &Path, keyword: &str) -> std::io::Result<Option<String>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut signature = [0u8; 8];
    if len < 8 || file.read_exact(&mut signature).is_err() || &signature != SIGNATURE {
        return Ok(None);
    }
    let mut at = 8u64;
    for _ in 0..MAX_CHUNKS {
        let mut header = [0u8; 8];
        if at.checked_add(12).is_none_or(|end| end > len) || file.read_exact(&mut header).is_err() {
            return Ok(None);
        }
        let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = &header[4..8];
        // The chunk's data and its CRC.
        let next = at + 8 + u64::from(size) + 4;
        if next > len || kind == b"IDAT" || kind == b"IEND" {
            return Ok(None);
        }
        if (kind == b"tEXt" || kind == b"iTXt") && size <= MAX_TEXT {
            let mut data = vec![0u8; size as usize];
            file.read_exact(&mut data)?;
            if let Some(text) = text_of(kind, &data, keyword) {
                return Ok(Some(text));
            }
        }
        file.seek(SeekFrom::Start(next))?;
        at = next;
    }
    Ok(None)
}

/// A chunk's text when its keyword is `keyword`: `tEXt` is Latin-1,
/// `iTXt` UTF-8 (a compressed `iTXt` is not read).
fn text_of(kind: &[u8], data: &[u8], keyword: &str) -> Option<String> {
    let nul = data.iter().position(|&b| b == 0)?;
    if &data[..nul] != keyword.as_bytes() {
        return None;
    }
    let rest = &data[nul + 1..];
    if kind == b"tEXt" {
        return Some(rest.iter().map(|&b| char::from(b)).collect());
    }
    // Compression flag and method, then language tag and translated keyword.
    let (&flag, rest) = rest.split_first()?;
    if flag != 0 {
        return None;
    }
    let rest = rest.get(1..)?;
    let language = rest.iter().position(|&b| b == 0)?;
    let rest = &rest[language + 1..];
    let translated = rest.iter().position(|&b| b == 0)?;
    String::from_utf8(rest[translated + 1..].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out
    }

    fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend(chunk(b"IHDR", &[0; 13]));
        for c in chunks {
            out.extend_from_slice(c);
        }
        out.extend(chunk(b"IDAT", &[1, 2, 3]));
        out.extend(chunk(b"tEXt", b"late\0after the image data"));
        out.extend(chunk(b"IEND", &[]));
        out
    }

    fn read(bytes: &[u8], keyword: &str) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.png");
        std::fs::write(&path, bytes).unwrap();
        png_text(&path, keyword).unwrap()
    }

    #[test]
    fn text_chunks_before_the_image_data_are_read() {
        let bytes = png(&[
            chunk(b"tEXt", b"prompt\0{\"3\": {}}"),
            chunk(b"iTXt", "workflow\0\0\0\0\0{\"nodes\": \"é\"}".as_bytes()),
            chunk(b"iTXt", b"packed\0\x01\0\0\0xyz"),
        ]);
        assert_eq!(read(&bytes, "prompt").as_deref(), Some("{\"3\": {}}"));
        assert_eq!(read(&bytes, "workflow").as_deref(), Some("{\"nodes\": \"é\"}"));
        assert_eq!(read(&bytes, "packed"), None);
        assert_eq!(read(&bytes, "late"), None);
        assert_eq!(read(&bytes, "absent"), None);
    }

    #[test]
    fn cut_or_lying_files_are_not_read_past_their_end() {
        let bytes = png(&[chunk(b"tEXt", b"prompt\0{}")]);
        for cut in [0, 7, 8, 20, 40, 50] {
            assert_eq!(read(&bytes[..cut.min(bytes.len())], "prompt"), None, "cut at {cut}");
        }
        let mut lying = SIGNATURE.to_vec();
        lying.extend_from_slice(&u32::MAX.to_be_bytes());
        lying.extend_from_slice(b"tEXt");
        lying.extend_from_slice(b"prompt\0{}");
        assert_eq!(read(&lying, "prompt"), None);
        assert_eq!(read(b"not a png at all", "prompt"), None);
    }
}
