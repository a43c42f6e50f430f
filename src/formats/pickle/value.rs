//! The inert values a pickle describes. Scalars live inline in [`Value`];
//! everything else lives in the [`Pickle`]'s node arena and is referred to by
//! index, so memo references share identity (a BUILD after memoization is seen
//! through every reference) and cyclic structures cannot leak or recurse.

use std::collections::HashMap;

/// A pickled value. Containers, strings, globals and objects are
/// [`Value::Ref`]s into the node arena of the [`Pickle`] they came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Ref(NodeId),
}

/// Index of a node in its [`Pickle`]'s arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub(crate) u32);

/// A value that is not a plain scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// An integer beyond i64, as two's-complement little-endian bytes.
    BigInt(Vec<u8>),
    Str(String),
    /// `bytes`, `bytearray` or a Python 2 `str`.
    Bytes(Bytes),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Dict),
    Set(Vec<Value>),
    FrozenSet(Vec<Value>),
    Global(Global),
    Object(Object),
    /// A reference to data outside the pickle (a torch storage tuple).
    PersistentId(Value),
    /// Something the interpreter refused to resolve (an extension code, an
    /// out-of-band buffer); the text says what it stood for.
    Opaque(String),
}

/// Where the bytes of a bytes value are.
#[derive(Debug, Clone, PartialEq)]
pub enum Bytes {
    /// A range of the pickle's own input, so large payloads are not copied.
    Span { start: usize, len: usize },
    /// Bytes the interpreter produced (`_codecs.encode` of a latin-1 string).
    Owned(Vec<u8>),
}

/// A `module.name` reference, classified against the allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    pub module: String,
    pub name: String,
    pub trust: Trust,
}

impl Global {
    pub fn is(&self, module: &str, name: &str) -> bool {
        self.module == module && self.name == name
    }

    pub fn dotted(&self) -> String {
        format!("{}.{}", self.module, self.name)
    }
}

/// How a global relates to the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Rebuild functions, storages, dtypes and containers plain tensors need.
    Allowed,
    /// Tensor subclasses from known libraries (torchao): read, but reported
    /// because loading them runs that library's code.
    Subclass,
    /// Anything else; reported as a security finding.
    Unsafe,
}

/// How an object was constructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Construction {
    Reduce,
    NewObj,
    NewObjEx,
    /// INST or OBJ (refused opcodes, kept for inspection).
    Inst,
}

/// The record of a call the pickle asked for and that was never made:
/// `callable(*args, **kwargs)`, then BUILD `state` and APPEND/SETITEM calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub callable: Value,
    pub args: Value,
    pub kwargs: Option<Value>,
    pub construction: Construction,
    pub state: Option<Value>,
    /// Values APPENDed to the object (list subclasses).
    pub items: Vec<Value>,
    /// Pairs SETITEM'd on the object (dict subclasses).
    pub entries: Vec<(Value, Value)>,
}

/// An insertion-ordered dict. A repeated key replaces the value in place,
/// as in Python.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dict {
    pub entries: Vec<(Value, Value)>,
    /// State set by BUILD on the dict (e.g. a state dict's `_metadata`).
    pub attributes: Option<Value>,
    index: HashMap<Key, usize>,
}

/// The hashable identity of a dict key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    None,
    Int(i64),
    Float(u64),
    Str(Box<str>),
    Bytes(Box<[u8]>),
    Node(NodeId),
}

impl Dict {
    pub(crate) fn insert(&mut self, key: Key, k: Value, v: Value) {
        match self.index.get(&key) {
            Some(&at) => self.entries[at].1 = v,
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push((k, v));
            }
        }
    }

    pub(crate) fn find(&self, key: &Key) -> Option<Value> {
        self.index.get(key).map(|&at| self.entries[at].1)
    }
}

/// The result of interpreting one pickle: the value STOP returned, the node
/// arena it refers to, and what the interpreter had to refuse on the way.
#[derive(Debug)]
pub struct Pickle<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) nodes: Vec<Node>,
    /// What STOP returned, or why the stream could not be interpreted.
    pub root: Result<Value, super::PickleError>,
    /// Offset of the pickle's first opcode in `input`.
    pub start: usize,
    /// Offset just past STOP: where the next pickle of a stream starts.
    pub end: usize,
    /// Unsafe globals and refused opcodes, in stream order.
    pub alerts: Vec<super::Alert>,
}

impl<'a> Pickle<'a> {
    pub fn node(&self, value: &Value) -> Option<&Node> {
        match value {
            Value::Ref(id) => self.nodes.get(id.0 as usize),
            _ => None,
        }
    }

    pub fn str(&self, value: &Value) -> Option<&str> {
        match self.node(value)? {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A string, or a Python 2 `str` (bytes) that is valid UTF-8: legacy
    /// checkpoints written under Python 2 spell their strings as
    /// SHORT_BINSTRING/BINSTRING, and `torch.load` decodes them as UTF-8.
    pub fn text(&self, value: &Value) -> Option<&str> {
        match self.node(value)? {
            Node::Str(s) => Some(s),
            Node::Bytes(_) => std::str::from_utf8(self.bytes(value)?).ok(),
            _ => None,
        }
    }

    /// Whether a value is the integer whose two's-complement little-endian
    /// bytes are `le` (however wide the encoding that produced it).
    pub fn int_is(&self, value: &Value, le: &[u8]) -> bool {
        let trim = |b: &[u8]| {
            let mut end = b.len();
            // Drop sign-extension zeros of a non-negative number.
            while end > 1 && b[end - 1] == 0 && b[end - 2] & 0x80 == 0 {
                end -= 1;
            }
            b[..end].to_vec()
        };
        let bytes = match value {
            Value::Int(i) => i.to_le_bytes().to_vec(),
            _ => match self.node(value) {
                Some(Node::BigInt(bytes)) => bytes.clone(),
                _ => return false,
            },
        };
        let mut want = le.to_vec();
        if want.last().is_some_and(|b| b & 0x80 != 0) {
            want.push(0);
        }
        trim(&bytes) == trim(&want)
    }

    pub fn bytes(&self, value: &Value) -> Option<&[u8]> {
        match self.node(value)? {
            Node::Bytes(Bytes::Span { start, len }) => self.input.get(*start..start + len),
            Node::Bytes(Bytes::Owned(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// The range of the input a bytes value was read from, when it was read
    /// in place rather than produced.
    pub fn bytes_span(&self, value: &Value) -> Option<(usize, usize)> {
        match self.node(value)? {
            Node::Bytes(Bytes::Span { start, len }) => Some((*start, *len)),
            _ => None,
        }
    }

    /// An integer that fits i64 (booleans count, as in Python).
    pub fn int(&self, value: &Value) -> Option<i64> {
        match value {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    pub fn float(&self, value: &Value) -> Option<f64> {
        match value {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn items(&self, value: &Value) -> Option<&[Value]> {
        match self.node(value)? {
            Node::Tuple(items) | Node::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn tuple(&self, value: &Value) -> Option<&[Value]> {
        match self.node(value)? {
            Node::Tuple(items) => Some(items),
            _ => None,
        }
    }

    pub fn dict(&self, value: &Value) -> Option<&Dict> {
        match self.node(value)? {
            Node::Dict(dict) => Some(dict),
            _ => None,
        }
    }

    /// The value under a string key of a dict (or under the same key as a
    /// Python 2 `str`, which pickles as bytes).
    pub fn get(&self, dict: &Value, key: &str) -> Option<Value> {
        let dict = self.dict(dict)?;
        dict.find(&Key::Str(key.into())).or_else(|| dict.find(&Key::Bytes(key.as_bytes().into())))
    }

    pub fn global(&self, value: &Value) -> Option<&Global> {
        match self.node(value)? {
            Node::Global(global) => Some(global),
            _ => None,
        }
    }

    pub fn object(&self, value: &Value) -> Option<&Object> {
        match self.node(value)? {
            Node::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The global an object was made by calling, when it was a global.
    pub fn callable(&self, value: &Value) -> Option<&Global> {
        self.global(&self.object(value)?.callable)
    }

    pub fn persistent_id(&self, value: &Value) -> Option<Value> {
        match self.node(value)? {
            Node::PersistentId(pid) => Some(*pid),
            _ => None,
        }
    }

    /// Every persistent id the pickle holds, in stream order (legacy torch
    /// files need the storage class of storages no tensor refers to).
    pub fn persistent_ids(&self) -> impl Iterator<Item = Value> + '_ {
        self.nodes.iter().filter_map(|node| match node {
            Node::PersistentId(pid) => Some(*pid),
            _ => None,
        })
    }

}
