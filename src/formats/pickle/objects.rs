//! What the machine does for GLOBAL, REDUCE, NEWOBJ and friends: classify
//! the global, record the call, and turn the few allowlisted callables that
//! only rebuild plain data into that data. Nothing is ever called.

use super::alerts::Alert;
use super::allowlist::classify;
use super::machine::{Machine, Step};
use super::value::{Bytes, Construction, Dict, Global, Node, Object, Trust, Value};

impl Machine<'_> {
    pub(super) fn global(&mut self, module: String, name: String) -> Node {
        let trust = classify(&module, &name);
        let offset = self.op_start as u64;
        match trust {
            Trust::Unsafe => {
                self.alerts.push(Alert::UnsafeGlobal { module: module.clone(), name: name.clone(), offset })
            }
            Trust::Subclass => {
                self.alerts.push(Alert::SubclassGlobal { module: module.clone(), name: name.clone(), offset })
            }
            Trust::Allowed => {}
        }
        Node::Global(Global { module, name, trust })
    }

    /// Records a call. A few allowlisted callables that only rebuild plain
    /// data (ordered dicts, sets, bytes spelled through `_codecs.encode`) are
    /// turned into that data, the way the weights-only loader does it.
    pub(super) fn construct(&mut self, callable: Value, args: Value, kwargs: Option<Value>, how: Construction) -> Step {
        if let Some(node) = self.as_data(&callable, &args) {
            return self.push_node(node);
        }
        self.push_node(Node::Object(object(callable, args, kwargs, how)))
    }

    fn as_data(&self, callable: &Value, args: &Value) -> Option<Node> {
        let Some(Node::Global(global)) = self.node(callable) else { return None };
        let Some(Node::Tuple(args)) = self.node(args) else { return None };
        let builtin = global.module == "builtins" || global.module == "__builtin__";
        match (global.module.as_str(), global.name.as_str(), args.as_slice()) {
            ("collections", "OrderedDict", []) => Some(Node::Dict(Dict::default())),
            ("collections", "OrderedDict", [pairs]) => {
                let mut dict = Dict::default();
                for pair in self.sequence(pairs)? {
                    let [k, v] = self.sequence(pair)? else { return None };
                    dict.insert(self.key(k), *k, *v);
                }
                Some(Node::Dict(dict))
            }
            (_, "set", []) if builtin => Some(Node::Set(Vec::new())),
            (_, "frozenset", []) if builtin => Some(Node::FrozenSet(Vec::new())),
            (_, "set", [items]) if builtin => Some(Node::Set(self.sequence(items)?.to_vec())),
            (_, "frozenset", [items]) if builtin => Some(Node::FrozenSet(self.sequence(items)?.to_vec())),
            (_, "bytearray", []) if builtin => Some(Node::Bytes(Bytes::Owned(Vec::new()))),
            (_, "bytearray", [text, encoding]) if builtin => self.latin1(text, encoding),
            ("_codecs", "encode", [text, encoding]) => self.latin1(text, encoding),
            _ => None,
        }
    }

    fn sequence(&self, value: &Value) -> Option<&[Value]> {
        match self.node(value)? {
            Node::Tuple(items) | Node::List(items) => Some(items),
            _ => None,
        }
    }

    /// Protocol 2 spells `bytes` as `_codecs.encode(text, 'latin1')`.
    fn latin1(&self, text: &Value, encoding: &Value) -> Option<Node> {
        let (Some(Node::Str(text)), Some(Node::Str(encoding))) = (self.node(text), self.node(encoding)) else {
            return None;
        };
        if !matches!(encoding.as_str(), "latin1" | "latin-1" | "iso-8859-1") {
            return None;
        }
        let bytes: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(c as u32).ok()).collect();
        Some(Node::Bytes(Bytes::Owned(bytes?)))
    }
}

pub(super) fn object(callable: Value, args: Value, kwargs: Option<Value>, construction: Construction) -> Object {
    Object { callable, args, kwargs, construction, state: None, items: Vec::new(), entries: Vec::new() }
}
