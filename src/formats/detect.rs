//! Recognising a file's format from its first bytes, never its extension.

/// Formats nanscope can tell apart by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Safetensors,
    /// A `torch.save` zip archive (`<dir>/data.pkl`).
    TorchZip,
    /// A pre-1.6 `torch.save` stream of pickles.
    TorchLegacy,
    Npy,
    /// A zip of `.npy` members.
    Npz,
    Gguf,
    /// A sharded checkpoint's `*.index.json` (a JSON object with `weight_map`).
    ShardIndex,
    /// A bare pickle stream (protocol 2+), e.g. a pickled dict of arrays.
    Pickle,
    Unknown,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Safetensors => "safetensors",
            FileFormat::TorchZip => "pytorch-zip",
            FileFormat::TorchLegacy => "pytorch-legacy",
            FileFormat::Npy => "npy",
            FileFormat::Npz => "npz",
            FileFormat::Gguf => "gguf",
            FileFormat::ShardIndex => "shard-index",
            FileFormat::Pickle => "pickle",
            FileFormat::Unknown => "unknown",
        }
    }
}

/// The magic number that opens a legacy `torch.save` stream, pickled as a LONG1.
const TORCH_LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

pub fn detect(bytes: &[u8]) -> FileFormat {
    if bytes.starts_with(b"GGUF") {
        return FileFormat::Gguf;
    }
    if bytes.starts_with(b"\x93NUMPY") {
        return FileFormat::Npy;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return if zip_holds_data_pkl(bytes) { FileFormat::TorchZip } else { FileFormat::Npz };
    }
    if is_legacy_torch(bytes) {
        return FileFormat::TorchLegacy;
    }
    if looks_like_safetensors(bytes) {
        return FileFormat::Safetensors;
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && bytes[..bytes.len().min(1 << 16)].windows(12).any(|w| w == b"\"weight_map\"")
    {
        return FileFormat::ShardIndex;
    }
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return FileFormat::Pickle;
    }
    FileFormat::Unknown
}

/// A u64 little-endian header length followed by a JSON object.
fn looks_like_safetensors(bytes: &[u8]) -> bool {
    if bytes.len() < 9 {
        return false;
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    if n < 2 {
        return false;
    }
    bytes[8..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// `PROTO`, `LONG1 10` and the magic number; from protocol 4 on, a FRAME
/// opcode and its 8-byte length come before the LONG1.
fn is_legacy_torch(bytes: &[u8]) -> bool {
    let long1 = match bytes {
        [0x80, 4 | 5, 0x95, ..] => 11,
        [0x80, ..] => 2,
        _ => return false,
    };
    bytes.len() >= long1 + 12
        && bytes[long1] == 0x8a
        && bytes[long1 + 1] == 10
        && bytes[long1 + 2..long1 + 12] == TORCH_LEGACY_MAGIC
}

/// Torch archives name `<dir>/data.pkl`; the name appears in a local header
/// near the start (it is the first record torch writes) or in the central directory.
fn zip_holds_data_pkl(bytes: &[u8]) -> bool {
    let needle = b"data.pkl";
    let window = |b: &[u8]| b.windows(needle.len()).any(|w| w == needle);
    let head = &bytes[..bytes.len().min(4096)];
    let tail = &bytes[bytes.len().saturating_sub(1 << 16)..];
    window(head) || window(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_by_content() {
        let mut st = 16u64.to_le_bytes().to_vec();
        st.extend(b"{\"a\":1}         ");
        assert_eq!(detect(&st), FileFormat::Safetensors);
        assert_eq!(detect(b"\x93NUMPY\x01\x00"), FileFormat::Npy);
        assert_eq!(detect(b"GGUF\x03\x00\x00\x00"), FileFormat::Gguf);
        assert_eq!(detect(b"hello world, not a checkpoint"), FileFormat::Unknown);
        assert_eq!(detect(b""), FileFormat::Unknown);
        let mut legacy = vec![0x80, 0x02, 0x8a, 0x0a];
        legacy.extend(TORCH_LEGACY_MAGIC);
        assert_eq!(detect(&legacy), FileFormat::TorchLegacy);
        let mut framed = vec![0x80, 0x04, 0x95, 13, 0, 0, 0, 0, 0, 0, 0, 0x8a, 0x0a];
        framed.extend(TORCH_LEGACY_MAGIC);
        assert_eq!(detect(&framed), FileFormat::TorchLegacy);
        assert_eq!(detect(b"\x80\x04\x95"), FileFormat::Pickle);
    }
}
