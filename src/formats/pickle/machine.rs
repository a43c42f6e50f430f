//! The pickle virtual machine. It runs the opcodes of protocols 0–5 over a
//! stack and a memo, but every "call" (REDUCE, NEWOBJ, BUILD, …) only records
//! what was asked for. Nothing from the stream is ever imported or executed.
//!
//! Every operand length is checked against the remaining bytes before it is
//! read, and the stack, marks, memo and arena are capped, so a hostile stream
//! ends in an error rather than an allocation it chose.

use std::collections::HashMap;

use super::alerts::{Alert, ErrorKind, PickleError};
use super::containers::wrong;
use super::objects::object;
use super::reader::{IntLiteral, Reader, long_from_bytes, parse_int_line, parse_raw_unicode, parse_string_literal};
use super::value::{Bytes, Construction, Dict, Node, NodeId, Pickle, Value};

/// Caps on what one pickle may build.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Values on the stack at once.
    pub max_stack: usize,
    /// Nested MARKs (open tuples, lists, dicts being built).
    pub max_marks: usize,
    pub max_memo: usize,
    /// Nodes (containers, strings, objects) in the arena.
    pub max_nodes: usize,
    /// Container nesting that walkers over the result follow.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Python's own pickler stops near 1000 levels of nesting (its
        // recursion limit), so real files stay well inside these.
        Limits { max_stack: 1 << 20, max_marks: 1000, max_memo: 1 << 22, max_nodes: 1 << 24, max_depth: 1000 }
    }
}

/// Interprets the pickle that starts at `start` in `input`. Offsets in the
/// result (errors, alerts, byte spans, `end`) are offsets into `input`.
pub fn unpickle<'a>(input: &'a [u8], start: usize, limits: &Limits) -> Pickle<'a> {
    let mut machine = Machine {
        reader: Reader::new(input, start),
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        alerts: Vec::new(),
        limits: *limits,
        op_start: start,
        frame_end: None,
    };
    let root = machine.run().map_err(|kind| PickleError { offset: machine.op_start as u64, kind });
    Pickle { input, nodes: machine.nodes, root, start, end: machine.reader.pos, alerts: machine.alerts }
}

pub(super) struct Machine<'a> {
    pub(super) reader: Reader<'a>,
    pub(super) nodes: Vec<Node>,
    pub(super) stack: Vec<Value>,
    pub(super) marks: Vec<usize>,
    pub(super) memo: HashMap<u64, Value>,
    pub(super) alerts: Vec<Alert>,
    pub(super) limits: Limits,
    pub(super) op_start: usize,
    /// Where the current protocol 4+ frame ends, while one is open.
    frame_end: Option<usize>,
}

pub(super) type Step<T = ()> = Result<T, ErrorKind>;

impl Machine<'_> {
    fn run(&mut self) -> Step<Value> {
        loop {
            self.op_start = self.reader.pos;
            let Ok(op) = self.reader.u8("opcode") else {
                return Err(ErrorKind::NoStop);
            };
            if op == b'.' {
                self.close_frame(op);
                return self.pop("STOP");
            }
            self.step(op)?;
            self.close_frame(op);
        }
    }

    /// Checks the opcode just read against the open frame. CPython's C
    /// unpickler treats a frame as a read-ahead hint and executes an opcode
    /// whose operand runs past the frame's end, while the Python unpickler
    /// (and scanners built on it) stop there: a stream can hide opcodes from
    /// one reader that the other runs, so the crossing is an alert.
    fn close_frame(&mut self, op: u8) {
        let Some(end) = self.frame_end else { return };
        let pos = self.reader.pos;
        if op != 0x95 && self.op_start < end && pos > end {
            self.alerts.push(Alert::FrameStraddle {
                opcode: op,
                name: opcode_name(op),
                offset: self.op_start as u64,
                frame_end: end as u64,
            });
        }
        if pos >= end {
            self.frame_end = None;
        }
    }

    fn step(&mut self, op: u8) -> Step {
        match op {
            0x80 => {
                let version = self.reader.u8("PROTO")?;
                if version > 5 {
                    return Err(ErrorKind::Protocol(version));
                }
            }
            0x95 => {
                let len = self.reader.u64("FRAME")?;
                let available = self.reader.remaining() as u64;
                if len > available {
                    return Err(ErrorKind::Truncated { opcode: "FRAME", needed: len, available });
                }
                // A FRAME inside an open frame: the Python unpickler refuses
                // it, the C unpickler reads on.
                if let Some(end) = self.frame_end.filter(|&end| self.op_start < end) {
                    self.alerts.push(Alert::FrameStraddle {
                        opcode: 0x95,
                        name: "FRAME",
                        offset: self.op_start as u64,
                        frame_end: end as u64,
                    });
                }
                self.frame_end = Some(self.reader.pos + len as usize);
            }
            b'(' => {
                if self.marks.len() >= self.limits.max_marks {
                    return Err(ErrorKind::Limit { what: "MARK nesting", limit: self.limits.max_marks });
                }
                self.marks.push(self.stack.len());
            }
            b'0' => {
                if self.stack.len() > self.frame_base() {
                    self.stack.pop();
                } else if self.marks.pop().is_none() {
                    return Err(ErrorKind::StackUnderflow("POP"));
                }
            }
            b'1' => {
                self.pop_mark("POP_MARK")?;
            }
            b'2' => {
                let top = self.top("DUP")?;
                self.push(top)?;
            }
            b'N' => self.push(Value::None)?,
            0x88 => self.push(Value::Bool(true))?,
            0x89 => self.push(Value::Bool(false))?,
            b'J' => {
                let v = self.reader.i32("BININT")?;
                self.push(Value::Int(v as i64))?;
            }
            b'K' => {
                let v = self.reader.u8("BININT1")?;
                self.push(Value::Int(v as i64))?;
            }
            b'M' => {
                let v = self.reader.u16("BININT2")?;
                self.push(Value::Int(v as i64))?;
            }
            0x8a => {
                let n = self.reader.u8("LONG1")?;
                let bytes = self.reader.take(n as u64, "LONG1")?;
                self.push_int(long_from_bytes(bytes))?;
            }
            0x8b => {
                let n = self.reader.i32("LONG4")?;
                if n < 0 {
                    return Err(bad("LONG4", format!("negative length {n}")));
                }
                let bytes = self.reader.take(n as u64, "LONG4")?;
                self.push_int(long_from_bytes(bytes))?;
            }
            b'I' => {
                let line = self.reader.text_line("INT")?;
                match line {
                    "01" => self.push(Value::Bool(true))?,
                    "00" => self.push(Value::Bool(false))?,
                    _ => self.push_int(parse_int_line(line, "INT")?)?,
                }
            }
            b'L' => {
                let line = self.reader.text_line("LONG")?;
                self.push_int(parse_int_line(line, "LONG")?)?;
            }
            b'F' => {
                let line = self.reader.text_line("FLOAT")?;
                let v = line.trim().parse::<f64>().map_err(|_| bad("FLOAT", format!("{line:?} is not a float")))?;
                self.push(Value::Float(v))?;
            }
            b'G' => {
                let v = f64::from_be_bytes(self.reader.array("BINFLOAT")?);
                self.push(Value::Float(v))?;
            }
            b'X' => {
                let n = self.reader.u32("BINUNICODE")? as u64;
                self.push_text(n, "BINUNICODE")?;
            }
            0x8c => {
                let n = self.reader.u8("SHORT_BINUNICODE")? as u64;
                self.push_text(n, "SHORT_BINUNICODE")?;
            }
            0x8d => {
                let n = self.reader.u64("BINUNICODE8")?;
                self.push_text(n, "BINUNICODE8")?;
            }
            b'V' => {
                let line = self.reader.line("UNICODE")?;
                let text = parse_raw_unicode(line, "UNICODE")?;
                self.push_node(Node::Str(text))?;
            }
            b'S' => {
                let line = self.reader.line("STRING")?;
                let bytes = parse_string_literal(line, "STRING")?;
                self.push_node(Node::Bytes(Bytes::Owned(bytes)))?;
            }
            b'T' => {
                let n = self.reader.i32("BINSTRING")?;
                if n < 0 {
                    return Err(bad("BINSTRING", format!("negative length {n}")));
                }
                self.push_bytes(n as u64, "BINSTRING")?;
            }
            b'U' => {
                let n = self.reader.u8("SHORT_BINSTRING")? as u64;
                self.push_bytes(n, "SHORT_BINSTRING")?;
            }
            b'B' => {
                let n = self.reader.u32("BINBYTES")? as u64;
                self.push_bytes(n, "BINBYTES")?;
            }
            b'C' => {
                let n = self.reader.u8("SHORT_BINBYTES")? as u64;
                self.push_bytes(n, "SHORT_BINBYTES")?;
            }
            0x8e => {
                let n = self.reader.u64("BINBYTES8")?;
                self.push_bytes(n, "BINBYTES8")?;
            }
            0x96 => {
                let n = self.reader.u64("BYTEARRAY8")?;
                self.push_bytes(n, "BYTEARRAY8")?;
            }
            b')' => self.push_node(Node::Tuple(Vec::new()))?,
            b't' => {
                let items = self.pop_mark("TUPLE")?;
                self.push_node(Node::Tuple(items))?;
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if self.stack.len() < self.frame_base() + n {
                    return Err(ErrorKind::StackUnderflow(["TUPLE1", "TUPLE2", "TUPLE3"][n - 1]));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_node(Node::Tuple(items))?;
            }
            b']' => self.push_node(Node::List(Vec::new()))?,
            b'l' => {
                let items = self.pop_mark("LIST")?;
                self.push_node(Node::List(items))?;
            }
            b'}' => self.push_node(Node::Dict(Dict::default()))?,
            b'd' => {
                let items = self.pop_mark("DICT")?;
                let mut dict = Dict::default();
                self.fill_dict(&mut dict, items, "DICT")?;
                self.push_node(Node::Dict(dict))?;
            }
            0x8f => self.push_node(Node::Set(Vec::new()))?,
            0x91 => {
                let items = self.pop_mark("FROZENSET")?;
                self.push_node(Node::FrozenSet(items))?;
            }
            b'a' => {
                let value = self.pop("APPEND")?;
                self.extend("APPEND", vec![value])?;
            }
            b'e' => {
                let items = self.pop_mark("APPENDS")?;
                self.extend("APPENDS", items)?;
            }
            0x90 => {
                let items = self.pop_mark("ADDITEMS")?;
                self.extend("ADDITEMS", items)?;
            }
            b's' => {
                let value = self.pop("SETITEM")?;
                let key = self.pop("SETITEM")?;
                self.set_items("SETITEM", vec![key, value])?;
            }
            b'u' => {
                let items = self.pop_mark("SETITEMS")?;
                self.set_items("SETITEMS", items)?;
            }
            b'c' => {
                let module = self.reader.text_line("GLOBAL")?.to_string();
                let name = self.reader.text_line("GLOBAL")?.to_string();
                let global = self.global(module, name);
                self.push_node(global)?;
            }
            0x93 => {
                let name = self.pop("STACK_GLOBAL")?;
                let module = self.pop("STACK_GLOBAL")?;
                let (Some(module), Some(name)) = (self.text(&module), self.text(&name)) else {
                    return Err(ErrorKind::WrongType { opcode: "STACK_GLOBAL", target: "non-string names" });
                };
                let global = self.global(module, name);
                self.push_node(global)?;
            }
            b'R' => {
                let args = self.pop("REDUCE")?;
                let callable = self.pop("REDUCE")?;
                self.construct(callable, args, None, Construction::Reduce)?;
            }
            0x81 => {
                let args = self.pop("NEWOBJ")?;
                let class = self.pop("NEWOBJ")?;
                self.construct(class, args, None, Construction::NewObj)?;
            }
            0x92 => {
                let kwargs = self.pop("NEWOBJ_EX")?;
                let args = self.pop("NEWOBJ_EX")?;
                let class = self.pop("NEWOBJ_EX")?;
                self.construct(class, args, Some(kwargs), Construction::NewObjEx)?;
            }
            b'b' => {
                let state = self.pop("BUILD")?;
                let target = self.top("BUILD")?;
                match self.node_mut(&target) {
                    Some(Node::Object(object)) => object.state = Some(state),
                    Some(Node::Dict(dict)) => dict.attributes = Some(state),
                    other => return Err(wrong("BUILD", other.as_deref())),
                }
            }
            b'Q' => {
                let pid = self.pop("BINPERSID")?;
                self.push_node(Node::PersistentId(pid))?;
            }
            b'P' => {
                self.refuse(op, "PERSID");
                let line = self.reader.line("PERSID")?;
                let pid = self.alloc(Node::Str(String::from_utf8_lossy(line).into_owned()))?;
                self.push_node(Node::PersistentId(pid))?;
            }
            b'i' => {
                self.refuse(op, "INST");
                let module = self.reader.text_line("INST")?.to_string();
                let name = self.reader.text_line("INST")?.to_string();
                let global = self.global(module, name);
                let callable = self.alloc(global)?;
                let args = self.pop_mark("INST")?;
                let args = self.alloc(Node::Tuple(args))?;
                self.push_node(Node::Object(object(callable, args, None, Construction::Inst)))?;
            }
            b'o' => {
                self.refuse(op, "OBJ");
                let mut items = self.pop_mark("OBJ")?;
                if items.is_empty() {
                    return Err(ErrorKind::StackUnderflow("OBJ"));
                }
                let class = items.remove(0);
                let args = self.alloc(Node::Tuple(items))?;
                self.push_node(Node::Object(object(class, args, None, Construction::Inst)))?;
            }
            0x82..=0x84 => {
                let name = ["EXT1", "EXT2", "EXT4"][(op - 0x82) as usize];
                self.refuse(op, name);
                let code = match op {
                    0x82 => self.reader.u8(name)? as u32,
                    0x83 => self.reader.u16(name)? as u32,
                    _ => self.reader.u32(name)?,
                };
                self.push_node(Node::Opaque(format!("extension code {code}")))?;
            }
            0x97 => {
                self.refuse(op, "NEXT_BUFFER");
                self.push_node(Node::Opaque("out-of-band buffer".into()))?;
            }
            0x98 => {
                self.refuse(op, "READONLY_BUFFER");
                self.top("READONLY_BUFFER")?;
            }
            b'q' => {
                let index = self.reader.u8("BINPUT")? as u64;
                self.memo_put(index, "BINPUT")?;
            }
            b'r' => {
                let index = self.reader.u32("LONG_BINPUT")? as u64;
                self.memo_put(index, "LONG_BINPUT")?;
            }
            b'p' => {
                let index = memo_index(self.reader.text_line("PUT")?, "PUT")?;
                self.memo_put(index, "PUT")?;
            }
            0x94 => {
                let index = self.memo.len() as u64;
                self.memo_put(index, "MEMOIZE")?;
            }
            b'h' => {
                let index = self.reader.u8("BINGET")? as u64;
                self.memo_get(index)?;
            }
            b'j' => {
                let index = self.reader.u32("LONG_BINGET")? as u64;
                self.memo_get(index)?;
            }
            b'g' => {
                let index = memo_index(self.reader.text_line("GET")?, "GET")?;
                self.memo_get(index)?;
            }
            other => return Err(ErrorKind::UnknownOpcode(other)),
        }
        Ok(())
    }

    pub(super) fn frame_base(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    pub(super) fn push(&mut self, value: Value) -> Step {
        if self.stack.len() >= self.limits.max_stack {
            return Err(ErrorKind::Limit { what: "stack depth", limit: self.limits.max_stack });
        }
        self.stack.push(value);
        Ok(())
    }

    pub(super) fn alloc(&mut self, node: Node) -> Step<Value> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(ErrorKind::Limit { what: "number of values", limit: self.limits.max_nodes });
        }
        self.nodes.push(node);
        Ok(Value::Ref(NodeId((self.nodes.len() - 1) as u32)))
    }

    pub(super) fn push_node(&mut self, node: Node) -> Step {
        let value = self.alloc(node)?;
        self.push(value)
    }

    fn push_int(&mut self, literal: IntLiteral) -> Step {
        match literal {
            IntLiteral::Small(v) => self.push(Value::Int(v)),
            IntLiteral::Big(bytes) => self.push_node(Node::BigInt(bytes)),
        }
    }

    fn push_text(&mut self, len: u64, opcode: &'static str) -> Step {
        let bytes = self.reader.take(len, opcode)?;
        // Python decodes with `surrogatepass`; lone surrogates become U+FFFD here.
        let text = String::from_utf8_lossy(bytes).into_owned();
        self.push_node(Node::Str(text))
    }

    fn push_bytes(&mut self, len: u64, opcode: &'static str) -> Step {
        let start = self.reader.pos;
        self.reader.take(len, opcode)?;
        self.push_node(Node::Bytes(Bytes::Span { start, len: len as usize }))
    }

    pub(super) fn pop(&mut self, opcode: &'static str) -> Step<Value> {
        if self.stack.len() <= self.frame_base() {
            return Err(ErrorKind::StackUnderflow(opcode));
        }
        self.stack.pop().ok_or(ErrorKind::StackUnderflow(opcode))
    }

    pub(super) fn top(&self, opcode: &'static str) -> Step<Value> {
        if self.stack.len() <= self.frame_base() {
            return Err(ErrorKind::StackUnderflow(opcode));
        }
        self.stack.last().copied().ok_or(ErrorKind::StackUnderflow(opcode))
    }

    fn pop_mark(&mut self, opcode: &'static str) -> Step<Vec<Value>> {
        let base = self.marks.pop().ok_or(ErrorKind::NoMark(opcode))?;
        Ok(self.stack.split_off(base.min(self.stack.len())))
    }

    pub(super) fn node_mut(&mut self, value: &Value) -> Option<&mut Node> {
        match value {
            Value::Ref(id) => self.nodes.get_mut(id.0 as usize),
            _ => None,
        }
    }

    pub(super) fn node(&self, value: &Value) -> Option<&Node> {
        match value {
            Value::Ref(id) => self.nodes.get(id.0 as usize),
            _ => None,
        }
    }

    /// A string operand. Python 3 decodes the protocol 0-2 string opcodes
    /// (STRING, BINSTRING, SHORT_BINSTRING) to `str` by default, so
    /// STACK_GLOBAL accepts their bytes as names too.
    pub(super) fn text(&self, value: &Value) -> Option<String> {
        match self.node(value)? {
            Node::Str(s) => Some(s.clone()),
            Node::Bytes(Bytes::Owned(bytes)) => std::str::from_utf8(bytes).ok().map(str::to_string),
            Node::Bytes(Bytes::Span { start, len }) => {
                std::str::from_utf8(self.reader.slice(*start, *len)).ok().map(str::to_string)
            }
            _ => None,
        }
    }

    pub(super) fn refuse(&mut self, opcode: u8, name: &'static str) {
        self.alerts.push(Alert::RefusedOpcode { opcode, name, offset: self.op_start as u64 });
    }

    fn memo_put(&mut self, index: u64, opcode: &'static str) -> Step {
        let value = self.top(opcode)?;
        if self.memo.len() >= self.limits.max_memo && !self.memo.contains_key(&index) {
            return Err(ErrorKind::Limit { what: "memo size", limit: self.limits.max_memo });
        }
        self.memo.insert(index, value);
        Ok(())
    }

    fn memo_get(&mut self, index: u64) -> Step {
        let value = *self.memo.get(&index).ok_or(ErrorKind::MemoMiss(index))?;
        self.push(value)
    }
}

/// The name pickletools gives an opcode.
pub(super) fn opcode_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown",
    }
}

pub(super) fn bad(opcode: &'static str, why: String) -> ErrorKind {
    ErrorKind::BadOperand { opcode, why }
}

fn memo_index(line: &str, opcode: &'static str) -> Step<u64> {
    line.trim().parse::<u64>().map_err(|_| bad(opcode, format!("{line:?} is not a memo index")))
}
