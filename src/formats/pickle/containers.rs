//! Container opcodes (APPEND(S), SETITEM(S), ADDITEMS, DICT) and dict keys.

use super::alerts::ErrorKind;
use super::machine::{Machine, Step, bad};
use super::value::{Bytes, Dict, Key, Node, Value};

impl Machine<'_> {
    pub(super) fn key(&self, value: &Value) -> Key {
        match value {
            Value::None => Key::None,
            Value::Bool(b) => Key::Int(*b as i64),
            Value::Int(i) => Key::Int(*i),
            Value::Float(f) => Key::Float(f.to_bits()),
            Value::Ref(id) => match self.node(value) {
                Some(Node::Str(s)) => Key::Str(s.as_str().into()),
                Some(Node::Bytes(Bytes::Owned(b))) => Key::Bytes(b.as_slice().into()),
                Some(Node::Bytes(Bytes::Span { start, len })) => Key::Bytes(self.reader_bytes(*start, *len).into()),
                _ => Key::Node(*id),
            },
        }
    }

    fn reader_bytes(&self, start: usize, len: usize) -> &[u8] {
        self.reader.slice(start, len)
    }

    pub(super) fn fill_dict(&self, dict: &mut Dict, items: Vec<Value>, opcode: &'static str) -> Step {
        if !items.len().is_multiple_of(2) {
            return Err(bad(opcode, format!("odd number of items ({})", items.len())));
        }
        for pair in items.chunks_exact(2) {
            dict.insert(self.key(&pair[0]), pair[0], pair[1]);
        }
        Ok(())
    }

    pub(super) fn extend(&mut self, opcode: &'static str, items: Vec<Value>) -> Step {
        let target = self.top(opcode)?;
        match (opcode, self.node_mut(&target)) {
            ("ADDITEMS", Some(Node::Set(set))) => set.extend(items),
            ("APPEND" | "APPENDS", Some(Node::List(list))) => list.extend(items),
            (_, Some(Node::Object(object))) => object.items.extend(items),
            (_, other) => return Err(wrong(opcode, other.as_deref())),
        }
        Ok(())
    }

    pub(super) fn set_items(&mut self, opcode: &'static str, items: Vec<Value>) -> Step {
        let target = self.top(opcode)?;
        if !items.len().is_multiple_of(2) {
            return Err(bad(opcode, format!("odd number of items ({})", items.len())));
        }
        let keys: Vec<Key> = items.iter().step_by(2).map(|k| self.key(k)).collect();
        match self.node_mut(&target) {
            Some(Node::Dict(dict)) => {
                for (key, pair) in keys.into_iter().zip(items.chunks_exact(2)) {
                    dict.insert(key, pair[0], pair[1]);
                }
            }
            Some(Node::Object(object)) => {
                object.entries.extend(items.chunks_exact(2).map(|pair| (pair[0], pair[1])));
            }
            other => return Err(wrong(opcode, other.as_deref())),
        }
        Ok(())
    }
}

pub(super) fn wrong(opcode: &'static str, node: Option<&Node>) -> ErrorKind {
    let target = match node {
        None => "a scalar",
        Some(Node::BigInt(_)) => "an int",
        Some(Node::Str(_)) => "a str",
        Some(Node::Bytes(_)) => "bytes",
        Some(Node::Tuple(_)) => "a tuple",
        Some(Node::List(_)) => "a list",
        Some(Node::Dict(_)) => "a dict",
        Some(Node::Set(_)) => "a set",
        Some(Node::FrozenSet(_)) => "a frozenset",
        Some(Node::Global(_)) => "a global",
        Some(Node::Object(_)) => "an object",
        Some(Node::PersistentId(_)) => "a persistent id",
        Some(Node::Opaque(_)) => "an opaque value",
    };
    ErrorKind::WrongType { opcode, target }
}
