//! Git LFS pointer files: what `git clone` leaves in place of a large file
//! when Git LFS is not installed (or `GIT_LFS_SKIP_SMUDGE=1` was set). A
//! pointer is a few lines of text naming the object by hash and size; the
//! checkpoint itself was never downloaded.

/// The longest pointer Git LFS writes or reads.
const MAX_POINTER_BYTES: usize = 1024;

/// What a pointer file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LfsPointer {
    /// `sha256:<hex>` as written.
    pub oid: String,
    /// Size of the real file in bytes, when the line is there and valid.
    pub size: Option<u64>,
}

/// Reads `bytes` as a Git LFS pointer (spec v1, or the pre-release `hawser`
/// spec), or `None` when it is not one.
pub fn pointer(bytes: &[u8]) -> Option<LfsPointer> {
    if bytes.len() >= MAX_POINTER_BYTES {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    let version = lines.next()?.strip_prefix("version ")?;
    if !["https://git-lfs.github.com/spec/", "https://hawser.github.com/spec/"].iter().any(|p| version.starts_with(p)) {
        return None;
    }
    let (mut oid, mut size) = (None, None);
    for line in lines {
        if let Some(value) = line.strip_prefix("oid ") {
            oid = Some(value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("size ") {
            size = value.trim().parse::<u64>().ok();
        }
    }
    Some(LfsPointer { oid: oid?, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

    #[test]
    fn a_pointer_names_its_object() {
        let text = format!("version https://git-lfs.github.com/spec/v1\noid {OID}\nsize 1701234567\n");
        assert_eq!(pointer(text.as_bytes()), Some(LfsPointer { oid: OID.into(), size: Some(1_701_234_567) }));
        let hawser = format!("version https://hawser.github.com/spec/v1\noid {OID}\nsize 12\n");
        assert_eq!(pointer(hawser.as_bytes()).and_then(|p| p.size), Some(12));
    }

    #[test]
    fn other_text_and_broken_pointers_are_not_pointers() {
        assert_eq!(pointer(b"version 1.2\noid x\n"), None);
        assert_eq!(pointer(b"version https://git-lfs.github.com/spec/v1\nsize 12\n"), None);
        let huge = format!("version https://git-lfs.github.com/spec/v1\noid {OID}\nsize 99999999999999999999999\n");
        assert_eq!(pointer(huge.as_bytes()).map(|p| p.size), Some(None));
        let long = format!("version https://git-lfs.github.com/spec/v1\noid {OID}\n{}", "x".repeat(2000));
        assert_eq!(pointer(long.as_bytes()), None);
        assert_eq!(pointer(&[0xff, 0xfe]), None);
    }
}
