//! The pickle writer: Python values as a NumPy 0-d object array (`.npy`
//! v1.0 holding a protocol 3 pickle), the layout EchoMimicV2 pose files use.
//!
//! The pickle names `numpy.core.multiarray._reconstruct`, `numpy.ndarray` and
//! `numpy.dtype`, as numpy 1.x writes them; numpy 2.x resolves the
//! `numpy.core` path through its compatibility alias, so
//! `numpy.load(path, allow_pickle=True).tolist()` returns the same dict
//! (key order kept, float64 arrays, Python ints and lists) under both.

/// The Python values a pose dict holds.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<PyValue>),
    /// Keys in insertion order, as Python dicts keep them.
    Dict(Vec<(String, PyValue)>),
    /// A C-ordered float64 `numpy.ndarray`.
    F64Array {
        shape: Vec<usize>,
        data: Vec<f64>,
    },
    /// A value read from a file that the pose model has no use for (an
    /// object, a string array), described; written back as `None`.
    Other(String),
}

// Pickle opcodes used by the writer (protocol 2 and 3).
const PROTO: u8 = 0x80;
const STOP: u8 = b'.';
const MARK: u8 = b'(';
const GLOBAL: u8 = b'c';
const BINPUT: u8 = b'q';
const BINGET: u8 = b'h';
const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const LONG1: u8 = 0x8a;
const BINFLOAT: u8 = b'G';
const BINUNICODE: u8 = b'X';
const BINBYTES: u8 = b'B';
const SHORT_BINBYTES: u8 = b'C';
const EMPTY_TUPLE: u8 = b')';
const TUPLE: u8 = b't';
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const EMPTY_LIST: u8 = b']';
const APPENDS: u8 = b'e';
const EMPTY_DICT: u8 = b'}';
const SETITEMS: u8 = b'u';
const REDUCE: u8 = b'R';
const BUILD: u8 = b'b';

/// Memo slots of the three globals, written once and fetched after.
const RECONSTRUCT: u8 = 0;
const NDARRAY: u8 = 1;
const DTYPE: u8 = 2;

/// The complete `.npy` file: header for a 0-d `|O` array, then the pickle.
pub fn object_npy(value: &PyValue) -> Vec<u8> {
    let mut dict = "{'descr': '|O', 'fortran_order': False, 'shape': (), }".to_string();
    // numpy pads the header with spaces so the data starts at a multiple of 64.
    while !(10 + dict.len() + 1).is_multiple_of(64) {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out.extend(object_pickle(value));
    out
}

/// The pickle of a 0-d object array holding `value`.
pub fn object_pickle(value: &PyValue) -> Vec<u8> {
    let mut w = Writer { out: vec![PROTO, 3], globals: [false; 3] };
    w.array_header();
    // State: (1, (), dtype('O8'), False, [value]).
    w.out.push(MARK);
    w.int(1);
    w.out.push(EMPTY_TUPLE);
    w.dtype("O8", "|", 63);
    w.out.push(NEWFALSE);
    w.out.push(EMPTY_LIST);
    w.out.push(MARK);
    w.value(value);
    w.out.push(APPENDS);
    w.out.extend([TUPLE, BUILD, STOP]);
    w.out
}

struct Writer {
    out: Vec<u8>,
    globals: [bool; 3],
}

impl Writer {
    fn global(&mut self, slot: u8, module: &str, name: &str) {
        if self.globals[slot as usize] {
            self.out.extend([BINGET, slot]);
            return;
        }
        self.out.push(GLOBAL);
        self.out.extend(format!("{module}\n{name}\n").as_bytes());
        self.out.extend([BINPUT, slot]);
        self.globals[slot as usize] = true;
    }

    /// `_reconstruct(ndarray, (0,), b'b')`: an empty array BUILD fills in.
    fn array_header(&mut self) {
        self.global(RECONSTRUCT, "numpy.core.multiarray", "_reconstruct");
        self.global(NDARRAY, "numpy", "ndarray");
        self.int(0);
        self.out.push(TUPLE1);
        self.out.extend([SHORT_BINBYTES, 1, b'b']);
        self.out.extend([TUPLE3, REDUCE]);
    }

    /// `dtype(code, False, True)` with its BUILD state
    /// `(3, endian, None, None, None, -1, -1, flags)`.
    fn dtype(&mut self, code: &str, endian: &str, flags: i64) {
        self.global(DTYPE, "numpy", "dtype");
        self.string(code);
        self.out.extend([NEWFALSE, NEWTRUE, TUPLE3, REDUCE, MARK]);
        self.int(3);
        self.string(endian);
        self.out.extend([NONE, NONE, NONE]);
        self.int(-1);
        self.int(-1);
        self.int(flags);
        self.out.extend([TUPLE, BUILD]);
    }

    fn int(&mut self, v: i64) {
        if (0..=0xFF).contains(&v) {
            self.out.extend([BININT1, v as u8]);
        } else if (0..=0xFFFF).contains(&v) {
            self.out.push(BININT2);
            self.out.extend((v as u16).to_le_bytes());
        } else if i32::try_from(v).is_ok() {
            self.out.push(BININT);
            self.out.extend((v as i32).to_le_bytes());
        } else {
            // LONG1: the shortest two's-complement little-endian encoding.
            let bytes = v.to_le_bytes();
            let mut n = 8;
            while n > 1 {
                let top = bytes[n - 1];
                let next_sign = bytes[n - 2] & 0x80;
                if (top == 0 && next_sign == 0) || (top == 0xFF && next_sign != 0) {
                    n -= 1;
                } else {
                    break;
                }
            }
            self.out.extend([LONG1, n as u8]);
            self.out.extend(&bytes[..n]);
        }
    }

    fn string(&mut self, s: &str) {
        self.out.push(BINUNICODE);
        self.out.extend((s.len() as u32).to_le_bytes());
        self.out.extend(s.as_bytes());
    }

    fn tuple(&mut self, items: &[usize]) {
        match items.len() {
            0 => self.out.push(EMPTY_TUPLE),
            n => {
                if n > 3 {
                    self.out.push(MARK);
                }
                for &item in items {
                    self.int(item as i64);
                }
                self.out.push(match n {
                    1 => TUPLE1,
                    2 => TUPLE2,
                    3 => TUPLE3,
                    _ => TUPLE,
                });
            }
        }
    }

    fn value(&mut self, value: &PyValue) {
        match value {
            PyValue::None | PyValue::Other(_) => self.out.push(NONE),
            PyValue::Bool(b) => self.out.push(if *b { NEWTRUE } else { NEWFALSE }),
            PyValue::Int(v) => self.int(*v),
            PyValue::Float(v) => {
                self.out.push(BINFLOAT);
                self.out.extend(v.to_be_bytes());
            }
            PyValue::Str(s) => self.string(s),
            PyValue::List(items) => {
                self.out.push(EMPTY_LIST);
                if !items.is_empty() {
                    self.out.push(MARK);
                    items.iter().for_each(|item| self.value(item));
                    self.out.push(APPENDS);
                }
            }
            PyValue::Dict(entries) => {
                self.out.push(EMPTY_DICT);
                if !entries.is_empty() {
                    self.out.push(MARK);
                    for (key, item) in entries {
                        self.string(key);
                        self.value(item);
                    }
                    self.out.push(SETITEMS);
                }
            }
            PyValue::F64Array { shape, data } => {
                self.array_header();
                self.out.push(MARK);
                self.int(1);
                self.tuple(shape);
                self.dtype("f8", "<", 0);
                self.out.push(NEWFALSE);
                let len = data.len() * 8;
                if len < 256 {
                    self.out.extend([SHORT_BINBYTES, len as u8]);
                } else {
                    self.out.push(BINBYTES);
                    self.out.extend((len as u32).to_le_bytes());
                }
                for v in data {
                    self.out.extend(v.to_le_bytes());
                }
                self.out.extend([TUPLE, BUILD]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_pads_to_64_and_pickle_starts_at_128() {
        let bytes = object_npy(&PyValue::Dict(vec![("num".into(), PyValue::Int(3))]));
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 118);
        assert_eq!(&bytes[128..130], &[0x80, 3]);
        assert_eq!(*bytes.last().unwrap(), b'.');
    }

    #[test]
    fn ints_use_the_shortest_opcode() {
        let encode = |v: i64| {
            let mut w = Writer { out: vec![], globals: [false; 3] };
            w.int(v);
            w.out
        };
        assert_eq!(encode(5), vec![BININT1, 5]);
        assert_eq!(encode(768), vec![BININT2, 0, 3]);
        assert_eq!(encode(-1), vec![BININT, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(encode(1 << 40), vec![LONG1, 6, 0, 0, 0, 0, 0, 1]);
        assert_eq!(encode(-(1 << 40)), vec![LONG1, 6, 0, 0, 0, 0, 0, 0xFF]);
    }
}
