//! Zip archives (PyTorch checkpoints, `.npz`): the member list and each
//! member's bytes, in place when stored, decompressed when deflated.

use std::io::{Cursor, Read};

use zip::{CompressionMethod, ZipArchive};

use super::Storage;

/// One member of an archive.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    index: usize,
    stored: bool,
    size: u64,
    compressed_size: u64,
}

/// Deflate cannot expand data by more than about 1032:1; a member that claims
/// more is lying about its size, and believing it would let a tiny file
/// demand an arbitrarily large buffer.
const MAX_DEFLATE_RATIO: u64 = 1032;

pub struct Archive<'a> {
    bytes: &'a [u8],
    zip: ZipArchive<Cursor<&'a [u8]>>,
    pub members: Vec<Member>,
}

impl<'a> Archive<'a> {
    /// Reads the central directory. The error is the zip library's reason.
    pub fn open(bytes: &'a [u8]) -> Result<Archive<'a>, String> {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
        let mut members = Vec::with_capacity(zip.len().min(1 << 16));
        for index in 0..zip.len() {
            let file = zip.by_index_raw(index).map_err(|e| format!("entry {index}: {e}"))?;
            let name = file.name().map_err(|e| format!("entry {index}: {e}"))?.to_string();
            members.push(Member {
                name,
                index,
                stored: file.compression() == CompressionMethod::Stored,
                size: file.size(),
                compressed_size: file.compressed_size(),
            });
        }
        Ok(Archive { bytes, zip, members })
    }

    pub fn find(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The member's bytes: a range of the archive when stored, otherwise
    /// decompressed (growing with the data, never pre-sized by the header).
    pub fn storage(&mut self, member: &Member) -> Result<Storage, String> {
        let name = &member.name;
        if member.stored {
            let file = self.zip.by_index_raw(member.index).map_err(|e| format!("{name}: {e}"))?;
            let start = file.data_start().ok_or_else(|| format!("{name}: no data offset"))?;
            let end = start.checked_add(member.size).ok_or_else(|| format!("{name}: size overflows"))?;
            if end > self.bytes.len() as u64 {
                return Err(format!(
                    "{name}: {} bytes at offset {start} run past the end of the archive ({} bytes)",
                    member.size,
                    self.bytes.len()
                ));
            }
            return Ok(Storage::Mapped { start: start as usize, len: member.size as usize });
        }
        let plausible = member.compressed_size.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(1024);
        if member.size > plausible {
            return Err(format!(
                "{name}: claims {} bytes from {} compressed bytes, more than deflate can produce",
                member.size, member.compressed_size
            ));
        }
        let mut file = self.zip.by_index(member.index).map_err(|e| format!("{name}: {e}"))?;
        let mut out = Vec::new();
        file.by_ref().take(member.size).read_to_end(&mut out).map_err(|e| format!("{name}: cannot decompress: {e}"))?;
        if out.len() as u64 != member.size {
            return Err(format!("{name}: decompressed {} bytes, expected {}", out.len(), member.size));
        }
        Ok(Storage::Owned(std::sync::Arc::new(out)))
    }
}
