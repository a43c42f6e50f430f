//! A bounded YAML (and therefore JSON) reader built on yaml-rust2's event
//! parser.
//!
//! The tree is built here, not by the crate's loader, so that limits hold
//! while parsing: nesting deeper than `MAX_DEPTH`, documents of more than
//! `MAX_NODES` nodes, and aliases that expand to more than
//! `MAX_ALIASED_NODES` nodes or copy more than `MAX_ALIASED_BYTES` of text
//! (the "billion laughs" bomb, or one long string aliased many times) stop
//! the parse at the event that crosses the limit. Each mapping key
//! keeps its 1-based line so that findings can point at it.

use std::collections::HashMap;

use serde_json::Value;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// Deepest nesting accepted.
pub(crate) const MAX_DEPTH: usize = 64;

/// Most nodes accepted, aliases counted at their expanded size: a 4 MiB
/// document of its own holds at most about 2 million, and a large ComfyUI
/// workflow some hundred thousand.
pub(crate) const MAX_NODES: usize = 1_000_000;

/// Most nodes that aliases may add by expansion.
pub(crate) const MAX_ALIASED_NODES: usize = 100_000;

/// Most text (scalars and keys) that aliases may copy by expansion: one
/// alias of a long string costs one node but all of its bytes.
pub(crate) const MAX_ALIASED_BYTES: usize = 16 << 20;

/// Largest configuration file read.
pub(crate) const MAX_BYTES: u64 = 4 << 20;

/// A YAML value. Mappings keep their keys' order and lines.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: Node,
    pub line: u64,
}

/// Why a document was refused, with the 1-based line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub(crate) struct YamlError {
    pub line: u64,
    pub reason: String,
}

impl Node {
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub(crate) fn entry(&self, key: &str) -> Option<&Entry> {
        match self {
            Node::Map(entries) => entries.iter().rev().find(|e| e.key == key),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Int(i) => Some(*i as f64),
            Node::Float(f) => Some(*f),
            Node::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as JSON, for code that reads JSON (the scheduler checks).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::from(*i),
            Node::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Node::Str(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Map(entries) => Value::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect()),
        }
    }

    /// The value written back in short form, for report cells.
    pub(crate) fn display(&self) -> String {
        match self {
            Node::Str(s) => s.clone(),
            other => other.to_json().to_string(),
        }
    }

    fn size(&self) -> usize {
        match self {
            Node::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Node::Map(entries) => 1 + entries.iter().map(|e| 1 + e.value.size()).sum::<usize>(),
            _ => 1,
        }
    }

    /// The bytes of text the node holds: its strings and keys.
    fn text_bytes(&self) -> usize {
        match self {
            Node::Str(s) => s.len(),
            Node::Seq(items) => items.iter().map(Node::text_bytes).sum(),
            Node::Map(entries) => entries.iter().map(|e| e.key.len() + e.value.text_bytes()).sum(),
            _ => 0,
        }
    }
}

/// A container being filled.
enum Open {
    Seq(Vec<Node>, usize),
    Map(Vec<Entry>, Option<(String, u64)>, usize),
}

/// Parses the first document of `text`.
pub(crate) fn parse(text: &str) -> Result<Node, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let (mut aliased_nodes, mut aliased_bytes) = (0usize, 0usize);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| YamlError {
            line: e.marker().line() as u64,
            reason: match e.info() {
                // The scanner's own guard against deep flow collections.
                "recursion limit exceeded" => "nesting deeper than the parser's recursion limit".to_string(),
                info => info.to_string(),
            },
        })?;
        let line = mark.line() as u64;
        let fail = |reason: String| YamlError { line, reason };
        let (node, anchor) = match event {
            Event::StreamEnd | Event::DocumentEnd if stack.is_empty() => return Ok(Node::Null),
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::StreamEnd | Event::DocumentEnd => {
                continue;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                nodes += 1;
                let open = match event {
                    Event::SequenceStart(..) => Open::Seq(Vec::new(), anchor),
                    _ => Open::Map(Vec::new(), None, anchor),
                };
                stack.push(open);
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(items, anchor)) => (Node::Seq(items), anchor),
                Some(Open::Map(entries, _, anchor)) => (Node::Map(entries), anchor),
                None => return Err(fail("unbalanced end of a collection".into())),
            },
            Event::Scalar(value, style, anchor, _) => {
                nodes += 1;
                (scalar(value, style), anchor)
            }
            Event::Alias(id) => {
                let anchored = anchors.get(&id).ok_or_else(|| fail("alias to an unknown anchor".into()))?;
                // Measured before it is copied.
                let size = anchored.size();
                aliased_nodes = aliased_nodes.saturating_add(size);
                aliased_bytes = aliased_bytes.saturating_add(anchored.text_bytes());
                if aliased_nodes > MAX_ALIASED_NODES {
                    return Err(fail(format!(
                        "aliases expand to more than {MAX_ALIASED_NODES} nodes (an alias bomb?)"
                    )));
                }
                if aliased_bytes > MAX_ALIASED_BYTES {
                    return Err(fail(format!(
                        "aliases copy more than {} MiB of text (an alias bomb?)",
                        MAX_ALIASED_BYTES >> 20
                    )));
                }
                nodes = nodes.saturating_add(size);
                (anchored.clone(), 0)
            }
        };
        if nodes > MAX_NODES {
            return Err(fail(format!("more than {MAX_NODES} nodes")));
        }
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => return Ok(node),
            Some(Open::Seq(items, _)) => items.push(node),
            Some(Open::Map(entries, pending, _)) => match pending.take() {
                None => *pending = Some((key_text(&node), line)),
                Some((key, key_line)) => entries.push(Entry { key, value: node, line: key_line }),
            },
        }
    }
}

fn key_text(node: &Node) -> String {
    match node {
        Node::Str(s) => s.clone(),
        Node::Null => "null".into(),
        other => other.to_json().to_string(),
    }
}

/// Resolves a scalar as YAML 1.2's core schema does (plus `True`/`False`,
/// which OmegaConf accepts).
fn scalar(value: String, style: TScalarStyle) -> Node {
    if style != TScalarStyle::Plain {
        return Node::Str(value);
    }
    match value.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "true" | "True" | "TRUE" => return Node::Bool(true),
        "false" | "False" | "FALSE" => return Node::Bool(false),
        _ => {}
    }
    if let Ok(i) = value.parse::<i64>() {
        return Node::Int(i);
    }
    let numeric = value.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if numeric && let Ok(f) = value.parse::<f64>() {
        return Node::Float(f);
    }
    Node::Str(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_lines_and_types() {
        let doc = parse("a: 1\n\nb: 'fp16'\nc:\n  d: [1.5, true, ~]\n").unwrap();
        assert_eq!(doc.entry("a").map(|e| (e.line, e.value.clone())), Some((1, Node::Int(1))));
        assert_eq!(doc.entry("b").map(|e| e.line), Some(3));
        assert_eq!(doc.get("b"), Some(&Node::Str("fp16".into())));
        let d = doc.get("c").and_then(|c| c.get("d")).unwrap();
        assert_eq!(d, &Node::Seq(vec![Node::Float(1.5), Node::Bool(true), Node::Null]));
    }

    #[test]
    fn an_alias_bomb_stops_at_the_node_limit() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let prev = (b'a' + level - 1) as char;
            let this = (b'a' + level) as char;
            text.push_str(&format!("{this}: &{this} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.reason.contains("alias bomb"), "{err}");
    }

    #[test]
    fn one_long_string_aliased_many_times_stops_at_the_text_limit() {
        let text = format!("a: &a \"{}\"\nb: [{}]\n", "x".repeat(1 << 20), ["*a"; 40].join(", "));
        let err = parse(&text).unwrap_err();
        assert!(err.reason.contains("MiB of text"), "{err}");
        // Fewer copies are read.
        let text = format!("a: &a \"{}\"\nb: [{}]\n", "x".repeat(1 << 20), ["*a"; 10].join(", "));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn a_large_document_without_aliases_is_read() {
        // A saved workflow of a large graph: some hundred thousand nodes.
        let text = format!("[{}]", vec!["{\"id\": 1, \"pos\": [10, 20], \"mode\": 0}"; 40_000].join(", "));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn deep_nesting_stops_at_the_depth_limit() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&text).unwrap_err();
        assert!(err.reason.contains("nesting"), "{err}");
        let text = "a:\n".to_string() + &(1..200).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect::<String>();
        assert!(parse(&text).unwrap_err().reason.contains("nesting"));
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line >= 2, "{err}");
    }
}
