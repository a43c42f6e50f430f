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
    /// A bare pickle stream of any protocol (protocols 0 and 1 recognised by
    /// interpreting them), e.g. a pickled dict of arrays.
    Pickle,
    /// A Git LFS pointer file standing where a large file should be.
    LfsPointer,
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
            FileFormat::LfsPointer => "git-lfs-pointer",
            FileFormat::Unknown => "unknown",
        }
    }
}

/// The magic number that opens a legacy `torch.save` stream
/// (0x1950a86a20f9469cfc6c), as little-endian bytes.
pub(crate) const TORCH_LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// The magic pickle is a few dozen bytes in any protocol; this much of the
/// file is interpreted to read it.
const MAGIC_WINDOW: usize = 4096;

pub fn detect(bytes: &[u8]) -> FileFormat {
    if bytes.starts_with(b"GGUF") {
        return FileFormat::Gguf;
    }
    if bytes.starts_with(b"\x93NUMPY") {
        return FileFormat::Npy;
    }
    if bytes.starts_with(b"PK\x05\x06") {
        return FileFormat::Npz;
    }
    if bytes.starts_with(b"PK\x03\x04") {
        if zip_holds_data_pkl(bytes) {
            return FileFormat::TorchZip;
        }
        // Any other archive (a .jar, zipped outputs) is no checkpoint.
        return match first_zip_member(bytes) {
            Some(name) if name.ends_with(b".npy") => FileFormat::Npz,
            _ => FileFormat::Unknown,
        };
    }
    if crate::formats::lfs::pointer(bytes).is_some() {
        return FileFormat::LfsPointer;
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
    if crate::formats::pickle::is_pickle(bytes) {
        return FileFormat::Pickle;
    }
    FileFormat::Unknown
}

impl FileFormat {
    /// Content that is a checkpoint only if the file's name says so: nothing
    /// recognisable, or a Git LFS pointer (which could stand for any file).
    pub fn is_stray_candidate(self) -> bool {
        matches!(self, FileFormat::Unknown | FileFormat::LfsPointer)
    }
}

/// What a file no reader takes looks like, when its first 64 KiB say:
/// the kinds of text that stand where checkpoints should be. `None` for
/// binary content.
pub fn describe_unknown(bytes: &[u8]) -> Option<&'static str> {
    let text = head_text(&bytes[..bytes.len().min(1 << 16)])?;
    if text.contains('\0') {
        return None;
    }
    let start = text.trim_start_matches('\u{feff}').trim_start();
    let lower = start.get(..start.len().min(64)).unwrap_or("").to_ascii_lowercase();
    Some(if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        "an HTML page, as a download saves when the server answers with an error or sign-in page"
    } else if lower.starts_with("<?xml") || lower.starts_with("<error") {
        "an XML document, as a storage server answers a refused or missing download"
    } else if is_python_path_config(bytes) {
        "a Python path-configuration file (the `.pth` files of site-packages), not a PyTorch checkpoint"
    } else if start.starts_with('{') || start.starts_with('[') {
        "JSON text"
    } else {
        "text"
    })
}

/// The first bytes of a file as text, when they are UTF-8: a read cut in
/// the middle of a sequence still is.
pub(crate) fn head_text(head: &[u8]) -> Option<&str> {
    match std::str::from_utf8(head) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    }
}

/// The `.pth` files `site` reads from site-packages: every line an
/// `import` statement, a comment, or a directory path.
pub fn is_python_path_config(bytes: &[u8]) -> bool {
    if bytes.len() > 1 << 16 {
        return false;
    }
    let Ok(text) = std::str::from_utf8(bytes) else { return false };
    let line_fits = |line: &str| {
        let path = ["/", "./", "../", "~"].iter().any(|p| line.starts_with(p))
            || line.get(1..3).is_some_and(|drive| drive == ":\\" || drive == ":/");
        line.starts_with("import ") || line.starts_with("import\t") || line.starts_with('#') || (path && !line.contains('<'))
    };
    let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).peekable();
    lines.peek().is_some() && !text.contains('\0') && lines.all(line_fits)
}

/// A u64 little-endian header length followed by a JSON object (`{"…` or
/// `{}`). Eight bytes of text are no length, even a damaged one: a text
/// file that opens a brace on its first line (`$VAR1 = {`) is no checkpoint.
fn looks_like_safetensors(bytes: &[u8]) -> bool {
    if bytes.len() < 9 {
        return false;
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    if n < 2 || bytes[..8].iter().all(|&b| (0x20..0x7f).contains(&b) || b"\t\n\r".contains(&b)) {
        return false;
    }
    let mut json = bytes[8..].iter().filter(|b| !b.is_ascii_whitespace());
    json.next() == Some(&b'{') && matches!(json.next(), Some(b'"' | b'}') | None)
}

/// A first pickle whose value is the magic number, whatever opcode spells it
/// (LONG1 from protocol 2 on, LONG4, or the text `L…L` and `I…` of protocols
/// 0 and 1): `torch.load` compares the value, not the bytes.
fn is_legacy_torch(bytes: &[u8]) -> bool {
    use crate::formats::pickle::{Limits, unpickle};
    let window = &bytes[..bytes.len().min(MAGIC_WINDOW)];
    let limits = Limits { max_stack: 64, max_marks: 16, max_memo: 64, max_nodes: 256, max_depth: 8 };
    let magic = unpickle(window, 0, &limits);
    magic.root.as_ref().is_ok_and(|root| magic.int_is(root, &TORCH_LEGACY_MAGIC))
}

/// The name in a zip's first local file header: numpy's `savez` names every
/// member `<key>.npy`.
fn first_zip_member(bytes: &[u8]) -> Option<&[u8]> {
    let len = u16::from_le_bytes(bytes.get(26..28)?.try_into().ok()?) as usize;
    bytes.get(30..30 + len)
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
    fn text_where_a_checkpoint_should_be_is_named() {
        let page = b"\n<!DOCTYPE HTML PUBLIC>\n<html><body>Sign in to continue</body></html>";
        assert!(describe_unknown(page).unwrap().starts_with("an HTML page"));
        let refused = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>";
        assert!(describe_unknown(refused).unwrap().starts_with("an XML document"));
        assert_eq!(describe_unknown(b"{\"error\":\"Entry not found\"}"), Some("JSON text"));
        assert_eq!(describe_unknown(b"Entry not found"), Some("text"));
        assert_eq!(describe_unknown(&[0x80, 0x02, 0xff, 0x00]), None);
        assert_eq!(describe_unknown(b"text\0with a NUL"), None);
        for path_file in [
            &b"import _virtualenv\n"[..],
            b"/home/user/src\n\n# a comment\n",
            b"./setuptools-0.6c11-py2.7.egg\nimport sys; sys.__plen = len(sys.path)\n",
            b"C:\\Users\\me\\src\r\n",
        ] {
            assert!(is_python_path_config(path_file), "{}", String::from_utf8_lossy(path_file));
            assert!(describe_unknown(path_file).unwrap().contains("path-configuration"));
        }
        for not_path_file in [&b"Entry not found\n"[..], b"", b"\n\n", b"/a\n<html>\n", b"import torch\nx = 1\n"] {
            assert!(!is_python_path_config(not_path_file), "{}", String::from_utf8_lossy(not_path_file));
        }
    }

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
        legacy.push(b'.');
        assert_eq!(detect(&legacy), FileFormat::TorchLegacy);
        let mut framed = vec![0x80, 0x04, 0x95, 13, 0, 0, 0, 0, 0, 0, 0, 0x8a, 0x0a];
        framed.extend(TORCH_LEGACY_MAGIC);
        framed.push(b'.');
        assert_eq!(detect(&framed), FileFormat::TorchLegacy);
        assert_eq!(detect(b"\x80\x04\x95"), FileFormat::Pickle);
    }

    #[test]
    fn legacy_magic_is_recognised_by_value_in_every_encoding() {
        let long4 = [&[0x80, 2, 0x8b, 10, 0, 0, 0][..], &TORCH_LEGACY_MAGIC, b"."].concat();
        assert_eq!(detect(&long4), FileFormat::TorchLegacy);
        assert_eq!(detect(b"L119547037146038801333356L\n."), FileFormat::TorchLegacy);
        assert_eq!(detect(b"I119547037146038801333356\n."), FileFormat::TorchLegacy);
        assert_eq!(detect(b"L119547037146038801333357L\n."), FileFormat::Pickle);
    }

    #[test]
    fn protocol_0_and_1_pickles_are_recognised_by_content() {
        assert_eq!(detect(b"cbuiltins\neval\n(S'1+1'\ntR."), FileFormat::Pickle);
        assert_eq!(detect(b"(dp0\nS'a'\np1\nI1\ns."), FileFormat::Pickle);
        assert_eq!(detect(b"}q\x00X\x01\x00\x00\x00aq\x01K\x01s."), FileFormat::Pickle);
        // A payload cut before STOP still ran its REDUCE in a loader.
        assert_eq!(detect(b"cos\nsystem\n(S'id'\ntR"), FileFormat::Pickle);
        for text in [&b"hello world\n"[..], b"cat\ndog\nbird\n", b"# README\n\nsome text.", b"(a)", b"N"] {
            assert_eq!(detect(text), FileFormat::Unknown, "{:?}", String::from_utf8_lossy(text));
        }
        // Text that plays a few opcodes by chance: EchoMimicV2's benchmark
        // list reaches a STOP (`U` reads 82 bytes, then `.`) with text after
        // it; an `include` line starts an INST that never gets its name; a
        // `Package-Status:` line is a PERSID before the text runs out.
        let csv = b"URL,Start Timecode,End Timecode\n\
                    https://www.youtube.com/watch?v=AbCdEfGhIjK,00:00:54.596,00:01:01.561\n\
                    https://www.youtube.com/watch?v=AbCdEfGhIjK,00:02:04.207,00:02:11.006\n";
        for text in [&csv[..], b"include \"/usr/share/X11/locale/en_US.UTF-8/Compose\"\n", b"Package-Status: gtk3\n"] {
            assert_eq!(detect(text), FileFormat::Unknown, "{:?}", String::from_utf8_lossy(text));
        }
        // A payload stays a pickle whatever text follows its STOP.
        assert_eq!(detect(b"cos\nsystem\n(S'id'\ntR.\nsome notes after it\n"), FileFormat::Pickle);
        assert_eq!(detect(b"(dp0\nS'a'\np1\nI1\ns.\n"), FileFormat::Pickle);
        assert_eq!(detect(b"(dp0\nS'a'\np1\nI1\ns.(dp0\nS'b'\np1\nI2\ns."), FileFormat::Pickle);
    }

    #[test]
    fn archives_and_text_with_braces_are_no_checkpoints() {
        let zip = |name: &[u8]| {
            let mut bytes = b"PK\x03\x04".to_vec();
            bytes.extend([0u8; 22]);
            bytes.extend((name.len() as u16).to_le_bytes());
            bytes.extend([0u8; 2]);
            bytes.extend(name);
            bytes
        };
        assert_eq!(detect(&zip(b"arr_0.npy")), FileFormat::Npz);
        assert_eq!(detect(&zip(b"archive/data.pkl")), FileFormat::TorchZip);
        assert_eq!(detect(&zip(b"META-INF/MANIFEST.MF")), FileFormat::Unknown);
        assert_eq!(detect(&zip(b"outputs/video.mp4")), FileFormat::Unknown);
        assert_eq!(detect(b"$VAR1 = {\n  \"mapping\" => 1 };\n"), FileFormat::Unknown);
        assert_eq!(detect(b"pcm.!dpl {\n\t@args [ SLAVE ]\n"), FileFormat::Unknown);
        let mut mo = 0x9504_12deu64.to_le_bytes().to_vec();
        mo.extend(b"{\x01\0\0");
        assert_eq!(detect(&mo), FileFormat::Unknown);
    }
}
