//! The GGUF header: magic, version, key/value metadata and tensor infos.
//!
//! Every count and length is measured against the bytes that remain before
//! anything is allocated, nesting is bounded, and the first malformed field
//! stops the parse with its byte offset.

/// Deepest array nesting walked. ggml itself refuses any array of arrays,
/// which is reported once the nesting is read.
const MAX_DEPTH: usize = 8;
/// ggml keeps tensor names in a 64-byte buffer with its terminating zero and
/// refuses longer names.
pub const MAX_NAME_LEN: usize = 63;
/// Array elements kept per value; longer arrays (tokenizer vocabularies) are
/// walked and counted but not stored.
const KEPT_ITEMS: u64 = 64;
/// Dimensions a ggml tensor can have.
pub const MAX_DIMS: u32 = 4;
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// A metadata value. Arrays keep their element type, full count and at most
/// `KEPT_ITEMS` elements.
#[derive(Debug, Clone, PartialEq)]
pub enum KvValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array { elem_type: u32, count: u64, items: Vec<KvValue> },
    U64(u64),
    I64(i64),
    F64(f64),
}

impl KvValue {
}

/// One tensor info record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions in ggml order (`ne[0]` innermost).
    pub ne: Vec<u64>,
    pub type_id: u32,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Byte offset of this record in the file, for findings.
    pub record_at: u64,
}

impl TensorInfo {
    /// The shape in PyTorch (row-major, outermost first) order.
    pub fn shape(&self) -> Vec<u64> {
        self.ne.iter().rev().copied().collect()
    }

    /// The element count, or `None` when it is not below `i64::MAX`, the
    /// bound ggml refuses (its counts are signed 64-bit).
    pub fn numel(&self) -> Option<u64> {
        self.ne.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).filter(|&n| n < i64::MAX as u64)
    }
}

/// A parsed header. `data_start` is where tensor data begins (aligned).
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: u32,
    pub kv: Vec<(String, KvValue)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    pub data_start: u64,
}

impl Header {
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&KvValue> {
        self.kv.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Why a header could not be read; `at` is the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The file ends inside the header.
    Truncated { at: u64, what: String },
    /// A field holds a value no valid file has.
    Invalid { at: u64, what: String },
    /// The version field reads as a byte-swapped (big-endian) file.
    ByteSwapped { version: u32 },
}

/// Reads the header of a GGUF file. Later checks (data ranges, duplicates,
/// types) are the reader's job; this only decodes the structure.
pub fn read_header(bytes: &[u8]) -> Result<Header, HeaderError> {
    let mut c = Cursor { bytes, pos: 0 };
    let magic = c.take(4, "magic")?;
    if magic != b"GGUF" {
        return Err(HeaderError::Invalid { at: 0, what: "magic is not GGUF".into() });
    }
    let version = c.u32("version")?;
    if version & 0xFFFF == 0 && matches!(version.swap_bytes(), 1..=3) {
        return Err(HeaderError::ByteSwapped { version: version.swap_bytes() });
    }
    if !(2..=3).contains(&version) {
        return Err(HeaderError::Invalid { at: 4, what: format!("version {version} is not 2 or 3") });
    }
    let n_tensors_at = c.pos;
    let n_tensors = c.u64("tensor count")?;
    let n_kv_at = c.pos;
    let n_kv = c.u64("metadata count")?;
    // The smallest record is a key (8 + 1) and a type (4) with a one-byte value.
    c.check_count(n_kv, 14, n_kv_at, "metadata count")?;
    let mut kv = Vec::with_capacity(n_kv as usize);
    let mut alignment_at = 0;
    for _ in 0..n_kv {
        let key = c.string("metadata key")?;
        let value_type_at = c.pos;
        if key == "general.alignment" {
            alignment_at = value_type_at as u64;
        }
        let value_type = c.u32("metadata type")?;
        let value = c.value(value_type, value_type_at, 0)?;
        if let KvValue::Array { elem_type: 9, .. } = value {
            return Err(HeaderError::Invalid {
                at: value_type_at as u64,
                what: format!("metadata {key} is an array of arrays, which ggml refuses"),
            });
        }
        kv.push((key, value));
    }
    // The smallest tensor info: empty name (8), n_dims (4), type (4), offset (8).
    c.check_count(n_tensors, 24, n_tensors_at, "tensor count")?;
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    for _ in 0..n_tensors {
        let record_at = c.pos as u64;
        let name = c.string("tensor name")?;
        if name.len() > MAX_NAME_LEN {
            return Err(HeaderError::Invalid {
                at: record_at,
                what: format!("tensor name {name} has {} bytes; ggml refuses names over {MAX_NAME_LEN}", name.len()),
            });
        }
        let dims_at = c.pos as u64;
        let n_dims = c.u32("tensor dimension count")?;
        if n_dims > MAX_DIMS {
            return Err(HeaderError::Invalid {
                at: dims_at,
                what: format!("tensor {name} has {n_dims} dimensions (ggml allows at most {MAX_DIMS})"),
            });
        }
        let mut ne = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let dim_at = c.pos as u64;
            let dim = c.u64("tensor dimension")?;
            if dim > i64::MAX as u64 {
                return Err(HeaderError::Invalid { at: dim_at, what: format!("tensor {name} has dimension {dim}") });
            }
            ne.push(dim);
        }
        let type_id = c.u32("tensor type")?;
        let offset = c.u64("tensor offset")?;
        tensors.push(TensorInfo { name, ne, type_id, offset, record_at });
    }
    let alignment = match kv.iter().find(|(k, _)| k == "general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some((_, KvValue::U32(a))) if a.is_power_of_two() => *a as u64,
        Some((_, other)) => {
            return Err(HeaderError::Invalid {
                at: alignment_at,
                what: format!("general.alignment must be a power-of-two U32, found {other:?}"),
            });
        }
    };
    let data_start = (c.pos as u64).div_ceil(alignment) * alignment;
    Ok(Header { version, kv, tensors, alignment, data_start })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], HeaderError> {
        if n > self.remaining() {
            return Err(HeaderError::Truncated {
                at: self.pos as u64,
                what: format!("{what} needs {n} bytes, {} remain", self.remaining()),
            });
        }
        let out = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], HeaderError> {
        let bytes = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32, HeaderError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, HeaderError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// Rejects a count whose smallest possible encoding exceeds what remains.
    fn check_count(&self, count: u64, min_size: u64, at: usize, what: &str) -> Result<(), HeaderError> {
        if count.checked_mul(min_size).is_none_or(|need| need > self.remaining()) {
            return Err(HeaderError::Truncated {
                at: at as u64,
                what: format!("{what} {count} cannot fit in the {} bytes that remain", self.remaining()),
            });
        }
        Ok(())
    }

    fn string(&mut self, what: &str) -> Result<String, HeaderError> {
        let at = self.pos as u64;
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| HeaderError::Invalid { at: at + 8, what: format!("{what} is not UTF-8") })
    }

    fn value(&mut self, value_type: u32, type_at: usize, depth: usize) -> Result<KvValue, HeaderError> {
        Ok(match value_type {
            0 => KvValue::U8(self.array::<1>("u8 value")?[0]),
            1 => KvValue::I8(self.array::<1>("i8 value")?[0] as i8),
            2 => KvValue::U16(u16::from_le_bytes(self.array("u16 value")?)),
            3 => KvValue::I16(i16::from_le_bytes(self.array("i16 value")?)),
            4 => KvValue::U32(self.u32("u32 value")?),
            5 => KvValue::I32(i32::from_le_bytes(self.array("i32 value")?)),
            6 => KvValue::F32(f32::from_le_bytes(self.array("f32 value")?)),
            // ggml reads a bool byte as C does: any nonzero value is true.
            7 => KvValue::Bool(self.array::<1>("bool value")?[0] != 0),
            8 => KvValue::String(self.string("string value")?),
            9 => {
                if depth >= MAX_DEPTH {
                    return Err(HeaderError::Invalid {
                        at: type_at as u64,
                        what: format!("arrays nested deeper than {MAX_DEPTH}"),
                    });
                }
                let elem_at = self.pos;
                let elem_type = self.u32("array element type")?;
                let count_at = self.pos;
                let count = self.u64("array length")?;
                let min_size = match elem_type {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => {
                        return Err(HeaderError::Invalid {
                            at: elem_at as u64,
                            what: format!("array element type {other} is unknown"),
                        });
                    }
                };
                self.check_count(count, min_size, count_at, "array length")?;
                let mut items = Vec::with_capacity(count.min(KEPT_ITEMS) as usize);
                for i in 0..count {
                    let item = self.value(elem_type, elem_at, depth + 1)?;
                    if i < KEPT_ITEMS {
                        items.push(item);
                    }
                }
                KvValue::Array { elem_type, count, items }
            }
            10 => KvValue::U64(self.u64("u64 value")?),
            11 => KvValue::I64(i64::from_le_bytes(self.array("i64 value")?)),
            12 => KvValue::F64(f64::from_le_bytes(self.array("f64 value")?)),
            other => {
                return Err(HeaderError::Invalid {
                    at: type_at as u64,
                    what: format!("metadata value type {other} is unknown"),
                });
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A little GGUF writer for tests: header, key/values, tensor infos.
    pub(crate) struct Writer(pub Vec<u8>);

    impl Writer {
        pub(crate) fn new(version: u32, n_tensors: u64, n_kv: u64) -> Self {
            let mut w = Writer(b"GGUF".to_vec());
            w.0.extend(version.to_le_bytes());
            w.0.extend(n_tensors.to_le_bytes());
            w.0.extend(n_kv.to_le_bytes());
            w
        }
        pub(crate) fn string(&mut self, s: &str) -> &mut Self {
            self.0.extend((s.len() as u64).to_le_bytes());
            self.0.extend(s.as_bytes());
            self
        }
        pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
            self.0.extend(v.to_le_bytes());
            self
        }
        pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
            self.0.extend(v.to_le_bytes());
            self
        }
        pub(crate) fn tensor(&mut self, name: &str, ne: &[u64], type_id: u32, offset: u64) -> &mut Self {
            self.string(name).u32(ne.len() as u32);
            for &d in ne {
                self.u64(d);
            }
            self.u32(type_id).u64(offset)
        }
        pub(crate) fn pad(&mut self, alignment: usize) -> &mut Self {
            while !self.0.len().is_multiple_of(alignment) {
                self.0.push(0);
            }
            self
        }
    }

    #[test]
    fn reads_kv_of_every_type_and_arrays() {
        let mut w = Writer::new(3, 1, 4);
        w.string("general.architecture").u32(8).string("flux");
        w.string("general.alignment").u32(4).u32(64);
        w.string("names").u32(9).u32(8).u64(2).string("a").string("bc");
        w.string("f").u32(12).0.extend(1.5f64.to_le_bytes());
        w.tensor("w", &[64, 4], 0, 0);
        let h = read_header(&w.0).unwrap();
        assert_eq!(h.alignment, 64);
        assert_eq!(h.data_start % 64, 0);
        assert_eq!(h.get("general.architecture"), Some(&KvValue::String("flux".into())));
        let Some(KvValue::Array { count: 2, items, .. }) = h.get("names") else { panic!("{:?}", h.get("names")) };
        assert_eq!(items[1], KvValue::String("bc".into()));
        assert_eq!(h.get("f"), Some(&KvValue::F64(1.5)));
        assert_eq!(h.tensors[0].shape(), vec![4, 64]);
    }

    #[test]
    fn a_bool_byte_other_than_0_or_1_is_true_as_in_ggml() {
        let mut w = Writer::new(3, 0, 3);
        w.string("zero").u32(7).0.push(0);
        w.string("one").u32(7).0.push(1);
        w.string("two").u32(7).0.push(2);
        let h = read_header(&w.0).unwrap();
        assert_eq!(h.get("zero"), Some(&KvValue::Bool(false)));
        assert_eq!(h.get("one"), Some(&KvValue::Bool(true)));
        assert_eq!(h.get("two"), Some(&KvValue::Bool(true)));
    }

    #[test]
    fn byte_swapped_version_is_recognised() {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(3u32.to_be_bytes());
        bytes.extend([0; 16]);
        assert_eq!(read_header(&bytes), Err(HeaderError::ByteSwapped { version: 3 }));
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let w = Writer::new(3, u64::MAX, 1 << 60);
        assert!(matches!(read_header(&w.0), Err(HeaderError::Truncated { at: 16, .. })));
        let mut w = Writer::new(3, 0, 1);
        w.string("a").u32(9).u32(8).u64(u64::MAX / 2);
        assert!(matches!(read_header(&w.0), Err(HeaderError::Truncated { .. })));
    }

    #[test]
    fn too_many_dims_and_bad_alignment_are_invalid() {
        let mut w = Writer::new(3, 1, 0);
        w.tensor("t", &[1, 1, 1, 1, 1], 0, 0);
        assert!(matches!(read_header(&w.0), Err(HeaderError::Invalid { at: 33, .. })));
        let mut w = Writer::new(3, 0, 1);
        w.string("general.alignment").u32(4).u32(48);
        assert!(matches!(read_header(&w.0), Err(HeaderError::Invalid { .. })));
    }

    #[test]
    fn what_ggml_refuses_is_invalid() {
        // An array of arrays.
        let mut w = Writer::new(3, 0, 1);
        w.string("nested").u32(9).u32(9).u64(1).u32(4).u64(1).u32(7);
        let Err(HeaderError::Invalid { what, .. }) = read_header(&w.0) else { panic!() };
        assert!(what.contains("array of arrays"), "{what}");
        // A 64-byte tensor name.
        let mut w = Writer::new(3, 1, 0);
        w.tensor(&"n".repeat(64), &[1], 0, 0);
        let Err(HeaderError::Invalid { what, .. }) = read_header(&w.0) else { panic!() };
        assert!(what.contains("ggml refuses names"), "{what}");
        let mut w = Writer::new(3, 1, 0);
        w.tensor(&"n".repeat(63), &[1], 0, 0);
        assert!(read_header(&w.0).is_ok());
        // Element counts must stay below i64::MAX.
        let info = TensorInfo { name: "t".into(), ne: vec![1 << 32, 1 << 31], type_id: 0, offset: 0, record_at: 0 };
        assert_eq!(info.numel(), None);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut w = Writer::new(3, 0, 1);
        w.string("deep").u32(9);
        for _ in 0..20 {
            w.u32(9).u64(1);
        }
        w.u32(0).u64(1).0.push(7);
        assert!(matches!(read_header(&w.0), Err(HeaderError::Invalid { .. })));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512), version in 0u32..5) {
            let mut bytes = b"GGUF".to_vec();
            bytes.extend(version.to_le_bytes());
            bytes.extend(tail);
            let _ = read_header(&bytes);
        }

        #[test]
        fn mutated_valid_headers_never_panic(pos in 0usize..200, byte in any::<u8>()) {
            let mut w = Writer::new(3, 2, 2);
            w.string("general.alignment").u32(4).u32(32);
            w.string("names").u32(9).u32(8).u64(2).string("a").string("bc");
            w.tensor("a", &[32, 2], 8, 0).tensor("b", &[8], 0, 96);
            let mut bytes = w.0;
            if pos < bytes.len() {
                bytes[pos] = byte;
            }
            let _ = read_header(&bytes);
            let _ = super::super::parse(&bytes, "t.gguf");
        }
    }
}
