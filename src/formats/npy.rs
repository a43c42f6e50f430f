//! NumPy `.npy`: `\x93NUMPY | major | minor | header length | dict | data`.
//!
//! Numeric arrays are read in place. Object arrays (`|O`: pickled Python
//! objects, such as `np.save(path, {"conv.weight": …})` or EchoMimicV2 pose
//! dicts) are interpreted by the inert pickle machine, the same way for every
//! command: their globals are judged and the numeric arrays inside them are
//! scanned as tensors named by their path.

use super::pickle::{Limits, Location, Pickle, alert_findings, error_finding, following, following_findings, unpickle};
use super::{Parsed, Storage, TensorEntry, at_offset};
use crate::numerics::{ByteOrder, DType, StridedView};
use crate::report::{Finding, Severity, Subject};
use crate::rules::format as rules;

/// The bytes every `.npy` starts with.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Header dicts longer than this are refused before they are decoded.
const MAX_HEADER: u64 = 1 << 20;

/// `numpy.load` refuses header dicts of more characters than this unless it
/// is told to trust the file (`allow_pickle=True`).
const NUMPY_MAX_HEADER_CHARS: usize = 10_000;

/// The parsed header of an `.npy` member.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The descr as written: a type string like `<f4`, or the Python literal
    /// of a structured dtype.
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<u64>,
    /// Offset of the first data byte from the start of the `.npy` bytes.
    pub data_offset: u64,
    /// Bytes per element (`None` when it overflows).
    pub itemsize: Option<u64>,
    /// Whether any field holds Python objects.
    pub has_object: bool,
}

/// A numeric element type with its byte order, from a descr like `<f4`.
pub fn numeric_descr(descr: &str) -> Option<(DType, ByteOrder)> {
    let (order, code) = match descr.as_bytes().first()? {
        b'<' | b'=' => (ByteOrder::Little, &descr[1..]),
        b'|' => (ByteOrder::Little, &descr[1..]),
        b'>' => (ByteOrder::Big, &descr[1..]),
        _ => (ByteOrder::Little, descr),
    };
    let dtype = match code {
        "b1" | "?" => DType::Bool,
        "u1" | "B" => DType::U8,
        "i1" | "b" => DType::I8,
        "u2" => DType::U16,
        "i2" => DType::I16,
        "u4" => DType::U32,
        "i4" => DType::I32,
        "u8" => DType::U64,
        "i8" => DType::I64,
        "f2" | "e" => DType::F16,
        "f4" | "f" => DType::F32,
        "f8" | "d" => DType::F64,
        "c8" => DType::C64,
        "c16" => DType::C128,
        _ => return None,
    };
    Some((dtype, order))
}

/// Reads the magic, version and header dict the way `numpy.lib.format`
/// does (versions 1.0, 2.0 and 3.0; latin-1 text before 3.0, UTF-8 from it;
/// exactly the keys `descr`, `fortran_order` and `shape`), checking sizes
/// against `bytes`.
pub fn read_header(bytes: &[u8], label: &str) -> Result<NpyHeader, Box<Finding>> {
    let fail = |rule, offset: u64, message: String| Box::new(at_offset(rule, label, offset, message));
    if !bytes.starts_with(MAGIC) {
        return Err(fail(&rules::INVALID_HEADER, 0, "does not start with the .npy magic".to_string()));
    }
    if bytes.len() < 10 {
        return Err(fail(&rules::TRUNCATED_FILE, 0, format!("{} bytes is too short for an .npy header", bytes.len())));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len, start) = match (major, minor) {
        (1, 0) => (u16::from_le_bytes([bytes[8], bytes[9]]) as u64, 10u64),
        (2 | 3, 0) => {
            if bytes.len() < 12 {
                return Err(fail(&rules::TRUNCATED_FILE, 8, format!("too short for an .npy v{major} header")));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as u64, 12u64)
        }
        _ => {
            return Err(fail(
                &rules::INVALID_HEADER,
                6,
                format!(".npy version {major}.{minor} is not one numpy reads (1.0, 2.0 or 3.0)"),
            ));
        }
    };
    if len > MAX_HEADER {
        return Err(fail(&rules::INVALID_HEADER, 8, format!(".npy header declares {len} bytes")));
    }
    if start + len > bytes.len() as u64 {
        return Err(fail(
            &rules::TRUNCATED_FILE,
            start,
            format!(".npy header declares {len} bytes but the file ends at byte {}", bytes.len()),
        ));
    }
    let raw = &bytes[start as usize..(start + len) as usize];
    let text = if major == 3 {
        std::str::from_utf8(raw)
            .map_err(|_| fail(&rules::INVALID_HEADER, start, ".npy v3 header is not UTF-8".to_string()))?
            .to_string()
    } else {
        raw.iter().map(|&b| b as char).collect()
    };
    let chars = text.chars().count();
    if chars > NUMPY_MAX_HEADER_CHARS {
        return Err(fail(
            &rules::INVALID_HEADER,
            start,
            format!(
                ".npy header has {chars} characters; numpy.load refuses more than {NUMPY_MAX_HEADER_CHARS} \
                 unless the file is trusted with allow_pickle=True"
            ),
        ));
    }
    let dict = HeaderDict::parse(&text, major < 3)
        .map_err(|why| fail(&rules::INVALID_HEADER, start, format!(".npy header {why}: {}", text.trim())))?;
    Ok(NpyHeader {
        descr: dict.descr,
        fortran_order: dict.fortran_order,
        shape: dict.shape,
        data_offset: start + len,
        itemsize: dict.itemsize,
        has_object: dict.has_object,
    })
}

/// Parses a whole `.npy` file.
pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    if is_object_array(bytes) {
        return object_member(bytes, label, None, Some(0), None);
    }
    let mut out = Parsed::default();
    match entry(bytes, label, label, 0) {
        Ok((entry, trailing)) => {
            out.findings.extend(trailing);
            out.tensors.push(entry);
        }
        Err(finding) => out.findings.push(*finding),
    }
    out
}

/// One numeric array as a tensor entry named `name`, with its data at
/// `base + data_offset` of the mapped file. Also returns a warning for bytes
/// after the array's data, which numpy ignores but never writes. Arrays that
/// numpy reads but that are not numeric tensors (structured, text, bytes,
/// dates) are an informational finding once their size is checked.
pub fn entry(bytes: &[u8], label: &str, name: &str, base: u64) -> Result<(TensorEntry, Option<Finding>), Box<Finding>> {
    let header = read_header(bytes, label)?;
    let subject = Subject::tensor(label, name);
    let finding = |rule, offset: u64, message: String| {
        Box::new(at_offset(rule, label, base + offset, message).with_subject(subject.clone()))
    };
    if header.has_object {
        return Err(finding(
            &rules::UNSUPPORTED_DTYPE,
            0,
            format!("array {name} holds pickled Python objects, not numbers (pose files are read by `nanscope pose`)"),
        ));
    }
    let numel = header.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).ok_or_else(|| {
        finding(
            &rules::INVALID_HEADER,
            0,
            format!("array {name} shape {:?} overflows: more than 2^64 elements", header.shape),
        )
    })?;
    let need = header.itemsize.and_then(|size| numel.checked_mul(size)).ok_or_else(|| {
        finding(
            &rules::INVALID_HEADER,
            0,
            format!("array {name} of {numel} elements of dtype {} overflows: more than 2^64 bytes", header.descr),
        )
    })?;
    let available = bytes.len() as u64 - header.data_offset;
    if need > available {
        return Err(finding(
            &rules::TRUNCATED_FILE,
            header.data_offset + available,
            format!("array {name} needs {need} data bytes but only {available} follow the header"),
        ));
    }
    let Some((dtype, order)) = numeric_descr(&header.descr) else {
        return Err(Box::new(
            (*finding(
                &rules::UNSUPPORTED_DTYPE,
                0,
                format!(
                    "array {name} has dtype {}, which numpy reads but is not a numeric tensor; its size is \
                     checked, its values are not scanned",
                    header.descr
                ),
            ))
            .with_severity(Severity::Info),
        ));
    };
    let trailing = (available > need).then(|| {
        at_offset(
            &rules::INVALID_LAYOUT,
            label,
            base + header.data_offset + need,
            format!(
                "{} bytes follow the data of array {name}; numpy ignores them but never writes them, so \
                 they were appended by something else",
                available - need
            ),
        )
        .with_subject(subject)
        .with_severity(Severity::Warning)
    });
    let view = header.fortran_order.then(|| {
        // Column-major: the first dimension varies fastest.
        let mut strides = Vec::with_capacity(header.shape.len());
        let mut acc = 1u64;
        for &dim in &header.shape {
            strides.push(acc);
            acc = acc.saturating_mul(dim);
        }
        StridedView { offset: 0, strides }
    });
    Ok((
        TensorEntry {
            name: name.to_string(),
            dtype,
            shape: header.shape,
            view,
            storage: Storage::Mapped { start: (base + header.data_offset) as usize, len: need as usize },
            order,
        },
        trailing,
    ))
}

/// Whether the bytes are an `.npy` whose elements are pickled objects.
pub fn is_object_array(bytes: &[u8]) -> bool {
    read_header(bytes, "").is_ok_and(|header| is_object_descr(&header.descr))
}

fn is_object_descr(descr: &str) -> bool {
    descr.trim_start_matches(['|', '<', '>', '=']) == "O"
}

/// The pickles of an object-dtype `.npy`, interpreted inertly: the first
/// (numpy's) and any that follow its STOP, with findings for every alert,
/// a broken stream and trailing bytes. Shared by `weights` and `pose`, so the
/// same bytes get the same verdict everywhere.
pub struct ObjectPickles<'a> {
    pub first: Pickle<'a>,
    pub rest: Vec<Pickle<'a>>,
    pub findings: Vec<Finding>,
}

/// Reads an object `.npy` whose bytes are `bytes`; `at` names where they are.
pub fn object_pickles<'a>(bytes: &'a [u8], at: Location, limits: &Limits) -> Result<ObjectPickles<'a>, Box<Finding>> {
    let header = read_header(bytes, at.file)?;
    if !is_object_descr(&header.descr) {
        return Err(Box::new(at_offset(
            &rules::UNSUPPORTED_DTYPE,
            at.file,
            at.base,
            format!("{}: .npy holds a {:?} array, not pickled objects", at.file, header.descr),
        )));
    }
    let first = unpickle(bytes, header.data_offset as usize, limits);
    let mut findings = alert_findings(&first.alerts, at);
    let rest = match &first.root {
        Ok(_) => following(bytes, first.end, limits),
        Err(error) => {
            findings.push(error_finding(error, at));
            Vec::new()
        }
    };
    findings.extend(following_findings(&rest, bytes.len(), at));
    Ok(ObjectPickles { first, rest, findings })
}

/// An object `.npy` (a whole file, or the member `member` of an `.npz`) as
/// tensors: the numeric arrays its pickles hold, named by their path inside
/// the pickled object (prefixed with the member's name in an `.npz`).
/// `mapped_at` is where `bytes` start in the mapped file, when they are in it.
pub fn object_member(
    bytes: &[u8],
    label: &str,
    member: Option<&str>,
    mapped_at: Option<usize>,
    entry: Option<&str>,
) -> Parsed {
    let at = Location { file: label, entry, base: mapped_at.unwrap_or(0) as u64 };
    let limits = Limits::default();
    let pickles = match object_pickles(bytes, at, &limits) {
        Ok(pickles) => pickles,
        Err(finding) => return Parsed { tensors: vec![], findings: vec![*finding] },
    };
    let mut out = Parsed { tensors: vec![], findings: pickles.findings };
    let all: Vec<&Pickle> = std::iter::once(&pickles.first).chain(&pickles.rest).collect();
    super::torch::read_pickles(&all, at, mapped_at, &mut out);
    for tensor in &mut out.tensors {
        tensor.name = match (member, tensor.name.as_str()) {
            (None, super::torch::ROOT_NAME) => label.to_string(),
            (Some(member), super::torch::ROOT_NAME) => member.to_string(),
            (Some(member), name) => format!("{member}.{name}"),
            (None, _) => continue,
        };
    }
    if out.tensors.is_empty() && !out.findings.iter().any(|f| f.severity == Severity::Error) {
        let name = member.unwrap_or(label);
        out.findings.push(
            at_offset(
                &rules::UNSUPPORTED_DTYPE,
                label,
                at.base,
                format!("array {name} holds pickled Python objects but no numeric arrays"),
            )
            .with_subject(Subject::tensor(label, name))
            .with_severity(Severity::Info),
        );
    }
    out
}

/// The three keys numpy writes, checked as `numpy.lib.format` checks them.
struct HeaderDict {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
    itemsize: Option<u64>,
    has_object: bool,
}

impl HeaderDict {
    /// `allow_long` accepts Python 2's `3L` integers, which numpy filters
    /// out of version 1.0 and 2.0 headers.
    fn parse(text: &str, allow_long: bool) -> Result<HeaderDict, String> {
        let mut lit = Literal { s: text.as_bytes(), i: 0, allow_long, depth: 0 };
        lit.skip_ws();
        let value = lit.value()?;
        lit.skip_ws();
        if lit.i != lit.s.len() {
            return Err("is not one Python literal".into());
        }
        let Py::Dict(items) = value else { return Err("is not a dictionary".into()) };
        // A literal dict keeps the last of repeated keys.
        let get = |key: &str| items.iter().rev().find(|(k, _)| matches!(k, Py::Str(s) if s == key)).map(|(_, v)| v);
        let expected = ["descr", "fortran_order", "shape"];
        let only_expected = items.iter().all(|(k, _)| matches!(k, Py::Str(s) if expected.contains(&s.as_str())));
        if !only_expected || expected.iter().any(|k| get(k).is_none()) {
            return Err("does not hold exactly the keys descr, fortran_order and shape".into());
        }
        let shape = match get("shape") {
            Some(Py::Tuple(dims)) => dims
                .iter()
                .map(|d| match d {
                    Py::Int(v) if *v < 0 => Err("has a negative dimension in its shape".to_string()),
                    Py::Int(v) => u64::try_from(*v).map_err(|_| "has a shape dimension beyond 2^64".to_string()),
                    Py::Bool(b) => Ok(*b as u64),
                    _ => Err("has a shape that is not a tuple of ints".to_string()),
                })
                .collect::<Result<Vec<u64>, String>>()?,
            _ => return Err("has a shape that is not a tuple of ints".into()),
        };
        let Some(Py::Bool(fortran_order)) = get("fortran_order") else {
            return Err("has a fortran_order that is not True or False".into());
        };
        let descr = get("descr").ok_or("has no descr")?;
        let layout = descr_layout(descr).map_err(|why| format!("has an invalid descr ({why})"))?;
        let descr = match descr {
            Py::Str(s) => s.clone(),
            other => other.to_string(),
        };
        Ok(HeaderDict { descr, fortran_order: *fortran_order, shape, itemsize: layout.0, has_object: layout.1 })
    }
}

/// Bytes per element (`None` on overflow) and whether objects are inside, for
/// a descr as `numpy.lib.format.descr_to_dtype` accepts it: a type string, a
/// `(descr, shape)` sub-array, or a list of `(name, descr[, shape])` fields.
fn descr_layout(descr: &Py) -> Result<(Option<u64>, bool), String> {
    match descr {
        Py::Str(s) => type_string_layout(s).ok_or_else(|| format!("{s:?} is not a dtype")),
        Py::Tuple(parts) if parts.len() == 2 => {
            let (size, object) = descr_layout(&parts[0])?;
            let count = subarray_count(&parts[1])?;
            Ok((size.and_then(|s| s.checked_mul(count)), object))
        }
        Py::List(fields) => {
            let mut total = Some(0u64);
            let mut object = false;
            let mut names = std::collections::HashSet::new();
            for field in fields {
                let Py::Tuple(parts) = field else { return Err("a field is not a tuple".into()) };
                let (name, sub, count) = match parts.as_slice() {
                    [name, sub] => (name, sub, 1),
                    [name, sub, shape] => (name, sub, subarray_count(shape)?),
                    _ => return Err("a field is not (name, descr) or (name, descr, shape)".into()),
                };
                let name = match name {
                    Py::Str(n) => n.clone(),
                    Py::Tuple(pair) if pair.len() == 2 => match &pair[1] {
                        Py::Str(n) => n.clone(),
                        _ => return Err("a field name is not a string".into()),
                    },
                    _ => return Err("a field name is not a string".into()),
                };
                let (size, has_object) = descr_layout(sub)?;
                let is_padding = name.is_empty()
                    && matches!(sub, Py::Str(s) if s.trim_start_matches(['<', '>', '|', '=']).starts_with('V'));
                if !is_padding && !names.insert(name.clone()) {
                    return Err(format!("field name {name:?} appears twice"));
                }
                object |= has_object;
                total = total.zip(size.and_then(|s| s.checked_mul(count))).and_then(|(t, s)| t.checked_add(s));
            }
            Ok((total, object))
        }
        _ => Err("it is neither a type string nor a list of fields".into()),
    }
}

/// Elements in a sub-array shape: an int or a tuple of ints.
fn subarray_count(shape: &Py) -> Result<u64, String> {
    let dim = |d: &Py| match d {
        Py::Int(v) if *v >= 0 => u64::try_from(*v).map_err(|_| "a sub-array dimension is beyond 2^64".to_string()),
        _ => Err("a sub-array shape is not made of non-negative ints".to_string()),
    };
    match shape {
        Py::Tuple(dims) => dims
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(dim(d)?).ok_or_else(|| "a sub-array shape overflows".to_string())),
        single => dim(single),
    }
}

/// Bytes per element and whether it is an object, for a numpy type string
/// such as `<f4`, `|S5`, `<U10`, `<M8[ns]` or `float32`.
fn type_string_layout(s: &str) -> Option<(Option<u64>, bool)> {
    let named = match s {
        "bool" => Some(1),
        "int8" | "uint8" => Some(1),
        "int16" | "uint16" | "float16" => Some(2),
        "int32" | "uint32" | "float32" => Some(4),
        "int64" | "uint64" | "float64" | "complex64" => Some(8),
        "complex128" => Some(16),
        _ => None,
    };
    if let Some(size) = named {
        return Some((Some(size), false));
    }
    if s == "object" {
        return Some((Some(8), true));
    }
    let code = s.strip_prefix(['<', '>', '|', '=']).unwrap_or(s);
    let mut chars = code.chars();
    let kind = chars.next()?;
    let rest = chars.as_str();
    let size = |allowed: &[u64]| -> Option<u64> {
        let n: u64 = rest.parse().ok()?;
        allowed.contains(&n).then_some(n)
    };
    let one_char = |n: u64| rest.is_empty().then_some(n);
    let bytes = match kind {
        '?' => one_char(1)?,
        'b' | 'B' if rest.is_empty() || (kind == 'b' && rest == "1") => 1,
        'h' | 'H' | 'e' => one_char(2)?,
        'i' | 'u' => {
            if rest.is_empty() && kind == 'i' {
                4
            } else {
                size(&[1, 2, 4, 8])?
            }
        }
        'I' | 'f' if rest.is_empty() => 4,
        'f' => size(&[2, 4, 8, 12, 16])?,
        'l' | 'L' | 'q' | 'Q' | 'd' | 'p' | 'P' => one_char(8)?,
        'g' | 'D' => one_char(16)?,
        'F' => one_char(8)?,
        'G' => one_char(32)?,
        'c' => size(&[8, 16, 24, 32])?,
        'O' => return (rest.is_empty() || rest == "8").then_some((Some(8), true)),
        'S' | 'a' | 'V' => rest.parse().ok()?,
        'U' => return rest.parse::<u64>().ok().map(|n| (n.checked_mul(4), false)),
        'M' | 'm' => {
            let unit = rest.strip_prefix('8')?;
            let ok = unit.is_empty()
                || unit.strip_prefix('[').and_then(|u| u.strip_suffix(']')).is_some_and(|u| {
                    let u = u.trim_start_matches(|c: char| c.is_ascii_digit());
                    ["Y", "M", "W", "D", "h", "m", "s", "ms", "us", "μs", "ns", "ps", "fs", "as", "generic"]
                        .contains(&u)
                });
            if !ok {
                return None;
            }
            8
        }
        _ => return None,
    };
    Some((Some(bytes), false))
}

/// A Python literal, as much of it as `.npy` headers use.
#[derive(Debug, Clone, PartialEq)]
enum Py {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Tuple(Vec<Py>),
    List(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

impl std::fmt::Display for Py {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let seq = |f: &mut std::fmt::Formatter, items: &[Py]| -> std::fmt::Result {
            for (i, item) in items.iter().enumerate() {
                write!(f, "{}{item}", if i > 0 { ", " } else { "" })?;
            }
            Ok(())
        };
        match self {
            Py::Str(s) => write!(f, "'{s}'"),
            Py::Int(v) => write!(f, "{v}"),
            Py::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Py::None => f.write_str("None"),
            Py::Tuple(items) => {
                f.write_str("(")?;
                seq(f, items)?;
                f.write_str(if items.len() == 1 { ",)" } else { ")" })
            }
            Py::List(items) => {
                f.write_str("[")?;
                seq(f, items)?;
                f.write_str("]")
            }
            Py::Dict(items) => {
                f.write_str("{")?;
                for (i, (k, v)) in items.iter().enumerate() {
                    write!(f, "{}{k}: {v}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str("}")
            }
        }
    }
}

/// One item of a literal sequence: a value, or a dict's key and value.
type Item = (Py, Option<Py>);

/// Deepest nesting of tuples, lists and dicts accepted in a header.
const MAX_LITERAL_DEPTH: usize = 32;

/// A cursor over the Python-literal subset numpy headers use.
struct Literal<'a> {
    s: &'a [u8],
    i: usize,
    allow_long: bool,
    depth: usize,
}

impl Literal<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&b);
        self.i += hit as usize;
        hit
    }

    fn value(&mut self) -> Result<Py, String> {
        let Some(&first) = self.s.get(self.i) else { return Err("ends early".into()) };
        match first {
            b'\'' | b'"' => self.string().map(Py::Str),
            b'(' | b'[' | b'{' => {
                self.depth += 1;
                if self.depth > MAX_LITERAL_DEPTH {
                    return Err(format!("nests deeper than {MAX_LITERAL_DEPTH}"));
                }
                let close = match first {
                    b'(' => b')',
                    b'[' => b']',
                    _ => b'}',
                };
                self.i += 1;
                let (items, trailing_comma) = self.items(close, first == b'{')?;
                self.depth -= 1;
                Ok(match first {
                    b'(' if items.len() == 1 && !trailing_comma => {
                        items.into_iter().next().map(|(v, _)| v).unwrap_or(Py::None)
                    }
                    b'(' => Py::Tuple(items.into_iter().map(|(v, _)| v).collect()),
                    b'[' => Py::List(items.into_iter().map(|(v, _)| v).collect()),
                    _ => Py::Dict(items.into_iter().map(|(k, v)| (k, v.unwrap_or(Py::None))).collect()),
                })
            }
            b'-' | b'+' | b'0'..=b'9' => self.int().map(Py::Int),
            _ => {
                for (word, value) in [("True", Py::Bool(true)), ("False", Py::Bool(false)), ("None", Py::None)] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(value);
                    }
                }
                Err("cannot be parsed as a Python literal".into())
            }
        }
    }

    /// Comma-separated items up to `close`; for dicts each item is `key: value`.
    /// Returns the items and whether a comma followed the last one.
    fn items(&mut self, close: u8, dict: bool) -> Result<(Vec<Item>, bool), String> {
        let mut items = Vec::new();
        let mut trailing_comma = false;
        loop {
            self.skip_ws();
            if self.eat(close) {
                return Ok((items, trailing_comma));
            }
            let key = self.value()?;
            self.skip_ws();
            let value = if dict {
                if !self.eat(b':') {
                    return Err("is not a Python dict literal".into());
                }
                self.skip_ws();
                let v = self.value()?;
                self.skip_ws();
                Some(v)
            } else {
                None
            };
            items.push((key, value));
            trailing_comma = self.eat(b',');
            if !trailing_comma {
                self.skip_ws();
                if !self.eat(close) {
                    return Err("is not a well-formed Python literal".into());
                }
                return Ok((items, false));
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else { return Err("has an unterminated string".into()) };
            self.i += 1;
            match b {
                _ if b == quote => break,
                b'\n' => return Err("has a line break inside a string".into()),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else { return Err("has an unterminated string".into()) };
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'\\' | b'\'' | b'"' => out.push(e),
                        b'x' => {
                            let hex = self.s.get(self.i..self.i + 2).ok_or("has a broken \\x escape")?;
                            let v = u8::from_str_radix(std::str::from_utf8(hex).map_err(|_| "is not text")?, 16)
                                .map_err(|_| "has a broken \\x escape")?;
                            self.i += 2;
                            out.extend(char::from(v).to_string().as_bytes());
                        }
                        _ => {
                            out.push(b'\\');
                            out.push(e);
                        }
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| "is not text".into())
    }

    fn int(&mut self) -> Result<i128, String> {
        let start = self.i;
        if self.s[self.i] == b'-' || self.s[self.i] == b'+' {
            self.i += 1;
        }
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "is not text")?;
        let value = digits.parse::<i128>().map_err(|_| format!("has an integer {digits} beyond 2^127"))?;
        if self.allow_long && self.s.get(self.i) == Some(&b'L') {
            self.i += 1;
        }
        Ok(value)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut dict = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + dict.len() + 1) % 64 != 0 {
            dict.push(' ');
        }
        dict.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((dict.len() as u16).to_le_bytes());
        out.extend(dict.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn reads_numeric_arrays_and_their_order() {
        let p = parse(&npy("<f4", false, "(2, 3)", &[0; 24]), "a.npy");
        assert!(p.findings.is_empty());
        assert_eq!(p.tensors[0].shape, vec![2, 3]);
        assert_eq!(p.tensors[0].dtype, DType::F32);
        let p = parse(&npy(">i2", true, "(2, 3)", &[0; 12]), "a.npy");
        assert_eq!(p.tensors[0].order, ByteOrder::Big);
        assert_eq!(p.tensors[0].view.as_ref().unwrap().strides, vec![1, 2]);
        let p = parse(&npy("<f8", false, "()", &[0; 8]), "a.npy");
        assert_eq!(p.tensors[0].shape, Vec::<u64>::new());
        let p = parse(&npy("|b1", false, "(3,)", &[1, 0, 1]), "a.npy");
        assert_eq!(p.tensors[0].dtype, DType::Bool);
    }

    #[test]
    fn truncated_data_and_object_arrays_are_findings() {
        let p = parse(&npy("<f4", false, "(100,)", &[0; 8]), "a.npy");
        assert_eq!(p.findings[0].code(), "F103");
        // An object array is a pickle: a cut one is a malformed pickle.
        let p = parse(&npy("|O", false, "()", &[0x80, 0x02]), "a.npy");
        assert_eq!(p.findings[0].code(), "F109");
        let p = parse(&npy("<f4", false, "(99999999999, 99999999999, 99999999999)", &[]), "a.npy");
        assert_eq!(p.findings[0].code(), "F104");
    }

    #[test]
    fn object_arrays_are_read_by_the_pickle_machine() {
        use crate::formats::pickle::writer::{PyValue, object_npy};
        let dict = PyValue::Dict(vec![(
            "conv.weight".into(),
            PyValue::F64Array { shape: vec![2], data: vec![1.0, f64::NAN] },
        )]);
        let p = parse(&object_npy(&dict), "a.npy");
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(p.tensors[0].name, "conv.weight");
        assert_eq!(p.tensors[0].dtype, DType::F64);
        // The same unsafe global is S101 here as in `pose check`.
        let mut evil = object_npy(&PyValue::Dict(vec![]))[..128].to_vec();
        evil.extend(b"\x80\x03cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.");
        let p = parse(&evil, "a.npy");
        assert_eq!(p.findings[0].code(), "S101");
    }

    #[test]
    fn header_longer_than_the_file_is_truncation() {
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend(0xFFFF_FFF0u32.to_le_bytes());
        let p = parse(&bytes, "a.npy");
        assert_eq!(p.findings[0].code(), "F104");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend(500u16.to_le_bytes());
        assert_eq!(parse(&bytes, "a.npy").findings[0].code(), "F103");
    }

    fn with_header(version: [u8; 2], dict: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"\x93NUMPY".to_vec();
        out.extend(version);
        if version[0] == 1 {
            out.extend((dict.len() as u16).to_le_bytes());
        } else {
            out.extend((dict.len() as u32).to_le_bytes());
        }
        out.extend(dict.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn versions_follow_numpy() {
        let mut bytes = npy("<f4", false, "(1,)", &[0; 4]);
        bytes[7] = 1;
        let p = parse(&bytes, "a.npy");
        assert_eq!(p.findings[0].code(), "F104");
        assert!(p.findings[0].message.contains("version 1.1"), "{}", p.findings[0].message);
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }\n";
        assert!(parse(&with_header([2, 0], dict, &[0; 8]), "a.npy").findings.is_empty());
        assert_eq!(parse(&with_header([3, 0], dict, &[0; 8]), "a.npy").findings[0].code(), "F104");
    }

    #[test]
    fn valid_non_numeric_arrays_are_info_and_trailing_bytes_a_warning() {
        let dict = "{'descr': [('x', '<i4'), ('y', '<f8', (2,)), ('z', [('a', '|u1'), ('b', '>f4')])], \
                    'fortran_order': False, 'shape': (3,), }\n";
        let p = parse(&with_header([1, 0], dict, &[0; 3 * 25]), "a.npy");
        assert_eq!((p.findings[0].code(), p.findings[0].severity), ("F106", Severity::Info));
        // One byte short is truncation, as numpy says.
        let p = parse(&with_header([1, 0], dict, &[0; 3 * 25 - 1]), "a.npy");
        assert_eq!(p.findings[0].code(), "F103");
        let p = parse(&npy("<U3", false, "(2,)", &[0; 24]), "a.npy");
        assert_eq!(p.findings[0].severity, Severity::Info);
        let p = parse(&npy("<f4", false, "(1,)", &[0; 7]), "a.npy");
        assert_eq!(p.tensors.len(), 1);
        assert_eq!((p.findings[0].code(), p.findings[0].severity), ("F105", Severity::Warning));
    }

    #[test]
    fn headers_numpy_refuses_are_invalid() {
        for dict in [
            "{'descr': '<f4', 'shape': (1,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
            "{'descr': 'x', 'fortran_order': False, 'shape': (1,), }",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': [1], }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
            "{'descr': [('a', '<f4'), ('a', '<i4')], 'fortran_order': False, 'shape': (1,), }",
        ] {
            let p = parse(&with_header([1, 0], dict, &[0; 8]), "a.npy");
            assert_eq!(p.findings[0].code(), "F104", "{dict}: {:?}", p.findings);
        }
        let big = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }}{}", " ".repeat(10_000));
        assert_eq!(parse(&with_header([2, 0], &big, &[0; 4]), "a.npy").findings[0].code(), "F104");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut with_magic = b"\x93NUMPY".to_vec();
            with_magic.extend(&bytes);
            let _ = parse(&with_magic, "fuzz");
            let _ = parse(&bytes, "fuzz");
        }
    }
}
