//! Finding the tensors in a checkpoint's pickled container and naming them by
//! their full dotted path: dict keys and list/tuple indices joined with `.`
//! (`state_dict.conv_in.weight`, `layers.0.weight`). Nothing is stripped.
//!
//! The walk is iterative with an explicit depth limit, and visits every node
//! once, so deep, cyclic or self-referencing pickles cannot exhaust the stack
//! or blow up exponentially.

use std::collections::HashSet;

use super::rebuild::{QParam, Rebuilt, TensorSpec, quant_params, rebuild};
use crate::formats::pickle::{Node, Pickle, Value, numpy};

/// The name of a tensor that is the whole pickle (`torch.save(tensor)`).
pub const ROOT_NAME: &str = "<root>";

/// What the walk found.
#[derive(Debug, Default)]
pub struct Walk {
    pub tensors: Vec<(String, TensorSpec)>,
    /// Pickled NumPy arrays, to be read by the caller.
    pub arrays: Vec<(String, Value)>,
    /// Numbers that stand for 0-d tensors: a quantized tensor's per-tensor
    /// scale and zero point and its per-channel axis (`<name>.q_scale`).
    pub scalars: Vec<(String, QParam)>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub name: String,
    pub why: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The structure is not what torch writes.
    Malformed,
    /// A tensor kind or dtype that is recognised but not read.
    Unsupported,
    /// Containers nest deeper than the limit.
    TooDeep,
}

pub fn walk(pickle: &Pickle, root: Value, max_depth: usize) -> Walk {
    let mut out = Walk::default();
    let mut seen = HashSet::new();
    // Paths are kept as (parent, segment) links and spelled out only for
    // what is reported, so deep structures cost memory linear in their size.
    let mut paths = Paths::default();
    let mut todo: Vec<(Value, PathId, usize)> = vec![(root, ROOT, 0)];
    let mut reported_depth = false;
    while let Some((value, path, depth)) = todo.pop() {
        let Value::Ref(id) = value else { continue };
        if !seen.insert(id) {
            // A tensor referenced twice (tied weights) is listed under each
            // name; containers are expanded once.
            if let Some(spec) = shared_tensor(pickle, value) {
                out.tensors.push((paths.spell(path), spec));
            }
            continue;
        }
        if depth > max_depth {
            if !reported_depth {
                reported_depth = true;
                out.problems.push(Problem {
                    name: paths.spell_short(path),
                    why: format!("containers nest deeper than {max_depth} levels; the rest is not read"),
                    kind: ProblemKind::TooDeep,
                });
            }
            continue;
        }
        let mut children: Vec<(Value, PathId)> = Vec::new();
        if let Some(rebuilt) = rebuild(pickle, &value) {
            let problem = |why: String, kind| Problem { name: paths.spell(path), why, kind };
            match rebuilt {
                Rebuilt::Tensor(spec) => {
                    // A quantized tensor's parameters are listed beside its
                    // codes, so they can be read and judged like tensors.
                    match spec.quantization.as_ref().map(|q| quant_params(pickle, q)) {
                        Some(Ok(params)) => {
                            for (segment, param) in params {
                                match param {
                                    QParam::Tensor(v) => children.push((v, paths.child(path, segment.into()))),
                                    scalar => out.scalars.push((format!("{}.{segment}", paths.spell(path)), scalar)),
                                }
                            }
                        }
                        Some(Err(why)) => {
                            out.problems.push(Problem { name: paths.spell(path), why, kind: ProblemKind::Unsupported })
                        }
                        None => {}
                    }
                    out.tensors.push((paths.spell(path), spec));
                }
                Rebuilt::Wraps(inner) => children.push((inner, path)),
                Rebuilt::NoData => {}
                Rebuilt::Unsupported(why) => out.problems.push(problem(why, ProblemKind::Unsupported)),
                Rebuilt::Malformed(why) => out.problems.push(problem(why, ProblemKind::Malformed)),
            }
        } else if let Some(array) = numpy::array(pickle, &value) {
            match array {
                Ok(numpy::NumpyArray { data: numpy::ArrayData::Objects(items), shape, .. }) => {
                    if shape.is_empty() {
                        children.extend(items.iter().map(|v| (*v, path)));
                    } else {
                        for (i, v) in items.iter().enumerate() {
                            children.push((*v, paths.child(path, i.to_string())));
                        }
                    }
                }
                Ok(_) => out.arrays.push((paths.spell(path), value)),
                Err(why) => out.problems.push(Problem { name: paths.spell(path), why, kind: ProblemKind::Malformed }),
            }
        } else {
            match pickle.node(&value) {
                Some(Node::Dict(dict)) => {
                    for (i, (k, v)) in dict.entries.iter().enumerate() {
                        children.push((*v, paths.child(path, key_text(pickle, k, i))));
                    }
                }
                Some(Node::List(items) | Node::Tuple(items)) => {
                    for (i, v) in items.iter().enumerate() {
                        children.push((*v, paths.child(path, i.to_string())));
                    }
                }
                Some(Node::Object(object)) => {
                    // An object the reader does not know (a pickled module, a
                    // custom class): its tensors are in its state and items.
                    if let Some(state) = object.state {
                        children.push((state, path));
                    }
                    for (i, (k, v)) in object.entries.iter().enumerate() {
                        children.push((*v, paths.child(path, key_text(pickle, k, i))));
                    }
                    for (i, v) in object.items.iter().enumerate() {
                        children.push((*v, paths.child(path, i.to_string())));
                    }
                }
                _ => {}
            }
        }
        // Reverse so the explicit stack visits children in pickle order.
        todo.extend(children.into_iter().rev().map(|(v, p)| (v, p, depth + 1)));
    }
    out
}

/// The tensor behind a value already visited, through at most a few
/// wrappers (`nn.Parameter`).
fn shared_tensor(pickle: &Pickle, mut value: Value) -> Option<TensorSpec> {
    for _ in 0..4 {
        match rebuild(pickle, &value)? {
            Rebuilt::Tensor(spec) => return Some(spec),
            Rebuilt::Wraps(inner) => value = inner,
            _ => return None,
        }
    }
    None
}

type PathId = usize;
const ROOT: PathId = usize::MAX;

/// Dotted paths as links to their parent path.
#[derive(Default)]
struct Paths {
    links: Vec<(PathId, String)>,
}

impl Paths {
    fn child(&mut self, parent: PathId, segment: String) -> PathId {
        self.links.push((parent, segment));
        self.links.len() - 1
    }

    fn segments(&self, mut path: PathId) -> Vec<&str> {
        let mut segments = Vec::new();
        while let Some((parent, segment)) = self.links.get(path) {
            segments.push(segment.as_str());
            path = *parent;
        }
        segments.reverse();
        segments
    }

    /// The full dotted path (`<root>` for the pickle itself).
    fn spell(&self, path: PathId) -> String {
        if path == ROOT { ROOT_NAME.to_string() } else { self.segments(path).join(".") }
    }

    /// The first segments of a path too deep to print whole.
    fn spell_short(&self, path: PathId) -> String {
        let segments = self.segments(path);
        if segments.len() <= 8 {
            return self.spell(path);
        }
        format!("{}.… ({} levels)", segments[..8].join("."), segments.len())
    }
}

/// A dict key as a path segment: strings as they are, numbers in decimal,
/// anything else by its position.
fn key_text(pickle: &Pickle, key: &Value, position: usize) -> String {
    match key {
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::None => "None".to_string(),
        Value::Float(f) => f.to_string(),
        Value::Ref(_) => match (pickle.str(key), pickle.bytes(key)) {
            (Some(s), _) => s.to_string(),
            (None, Some(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => format!("<key {position}>"),
        },
    }
}
