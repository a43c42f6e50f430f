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

/// Header dicts longer than this are refused (numpy itself caps v1 headers at
/// 64 KiB and warns far below this for v2/v3).
const MAX_HEADER: u64 = 1 << 20;

/// The parsed header of an `.npy` member.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<u64>,
    /// Offset of the first data byte from the start of the `.npy` bytes.
    pub data_offset: u64,
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

/// Reads the magic, version and header dict, checking sizes against `bytes`.
pub fn read_header(bytes: &[u8], label: &str) -> Result<NpyHeader, Box<Finding>> {
    let fail = |rule, offset: u64, message: String| Box::new(at_offset(rule, label, offset, message));
    if bytes.len() < 10 || !bytes.starts_with(b"\x93NUMPY") {
        return Err(fail(&rules::TRUNCATED_FILE, 0, "too short for an .npy header".to_string()));
    }
    let major = bytes[6];
    let (len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as u64, 10u64),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(fail(&rules::TRUNCATED_FILE, 8, format!("too short for an .npy v{major} header")));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as u64, 12u64)
        }
        _ => return Err(fail(&rules::INVALID_HEADER, 6, format!("unknown .npy version {major}"))),
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
        std::str::from_utf8(raw).ok()
    } else {
        raw.is_ascii().then(|| std::str::from_utf8(raw).ok()).flatten()
    };
    let text = text.ok_or_else(|| fail(&rules::INVALID_HEADER, start, ".npy header is not text".to_string()))?;
    let dict = HeaderDict::parse(text)
        .map_err(|why| fail(&rules::INVALID_HEADER, start, format!(".npy header {why}: {}", text.trim())))?;
    Ok(NpyHeader { descr: dict.descr, fortran_order: dict.fortran_order, shape: dict.shape, data_offset: start + len })
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
/// `base + data_offset` of the mapped file. Also returns a finding for bytes
/// after the array's data, which numpy never writes.
pub fn entry(bytes: &[u8], label: &str, name: &str, base: u64) -> Result<(TensorEntry, Option<Finding>), Box<Finding>> {
    let header = read_header(bytes, label)?;
    let subject = Subject::tensor(label, name);
    let (dtype, order) = numeric_descr(&header.descr).ok_or_else(|| {
        let why = if header.descr.contains('O') {
            "holds pickled Python objects, not numbers (pose files are read by `nanscope pose`)".to_string()
        } else {
            format!("has dtype {:?}, which is not a numeric array", header.descr)
        };
        Box::new(
            at_offset(&rules::UNSUPPORTED_DTYPE, label, base, format!("array {name} {why}"))
                .with_subject(subject.clone()),
        )
    })?;
    let numel = header.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    let need = numel.and_then(|n| dtype.byte_len(n)).ok_or_else(|| {
        Box::new(
            at_offset(&rules::INVALID_HEADER, label, base, format!("array {name} shape {:?} overflows", header.shape))
                .with_subject(subject.clone()),
        )
    })?;
    let available = bytes.len() as u64 - header.data_offset;
    if need > available {
        return Err(Box::new(
            at_offset(
                &rules::TRUNCATED_FILE,
                label,
                base + header.data_offset + available,
                format!("array {name} needs {need} data bytes but only {available} follow the header"),
            )
            .with_subject(subject),
        ));
    }
    let trailing = (available > need).then(|| {
        at_offset(
            &rules::INVALID_LAYOUT,
            label,
            base + header.data_offset + need,
            format!("{} bytes follow the data of array {name}", available - need),
        )
        .with_subject(subject)
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
    pub header: NpyHeader,
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
    Ok(ObjectPickles { header, first, rest, findings })
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

/// The three keys numpy writes, parsed from its Python-literal dict.
struct HeaderDict {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

impl HeaderDict {
    fn parse(text: &str) -> Result<HeaderDict, &'static str> {
        let mut lit = Literal { s: text.as_bytes(), i: 0 };
        lit.expect(b'{')?;
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        loop {
            lit.skip_ws();
            if lit.eat(b'}') {
                break;
            }
            let key = lit.string()?;
            lit.skip_ws();
            lit.expect(b':')?;
            lit.skip_ws();
            match key.as_str() {
                "descr" => descr = Some(lit.string()?),
                "fortran_order" => fortran = Some(lit.boolean()?),
                "shape" => shape = Some(lit.tuple()?),
                _ => return Err("has an unexpected key"),
            }
            lit.skip_ws();
            if !lit.eat(b',') {
                lit.skip_ws();
                lit.expect(b'}')?;
                break;
            }
        }
        Ok(HeaderDict {
            descr: descr.ok_or("has no descr")?,
            fortran_order: fortran.ok_or("has no fortran_order")?,
            shape: shape.ok_or("has no shape")?,
        })
    }
}

/// A cursor over the tiny Python-literal subset numpy headers use.
struct Literal<'a> {
    s: &'a [u8],
    i: usize,
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

    fn expect(&mut self, b: u8) -> Result<(), &'static str> {
        if self.eat(b) { Ok(()) } else { Err("is not a Python dict literal") }
    }

    fn string(&mut self) -> Result<String, &'static str> {
        let quote = *self.s.get(self.i).ok_or("ends early")?;
        if quote != b'\'' && quote != b'"' {
            return Err("has a key or descr that is not a string (structured dtypes are not supported)");
        }
        self.i += 1;
        let start = self.i;
        while self.s.get(self.i).is_some_and(|&b| b != quote) {
            self.i += 1;
        }
        let value = std::str::from_utf8(&self.s[start..self.i.min(self.s.len())]).map_err(|_| "is not text")?;
        self.expect(quote)?;
        Ok(value.to_string())
    }

    fn boolean(&mut self) -> Result<bool, &'static str> {
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(value);
            }
        }
        Err("has a fortran_order that is not True or False")
    }

    fn tuple(&mut self) -> Result<Vec<u64>, &'static str> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "is not text")?;
            dims.push(digits.parse::<u64>().map_err(|_| "has a shape that is not a tuple of non-negative ints")?);
            // Python writes `3L` for longs in old headers.
            self.eat(b'L');
            self.skip_ws();
            if !self.eat(b',') {
                self.skip_ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(p.findings[0].code, "F103");
        // An object array is a pickle: a cut one is a malformed pickle.
        let p = parse(&npy("|O", false, "()", &[0x80, 0x02]), "a.npy");
        assert_eq!(p.findings[0].code, "F109");
        let p = parse(&npy("<f4", false, "(99999999999, 99999999999, 99999999999)", &[]), "a.npy");
        assert_eq!(p.findings[0].code, "F104");
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
        assert_eq!(p.findings[0].code, "S101");
    }

    #[test]
    fn header_longer_than_the_file_is_truncation() {
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend(0xFFFF_FFF0u32.to_le_bytes());
        let p = parse(&bytes, "a.npy");
        assert_eq!(p.findings[0].code, "F104");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend(500u16.to_le_bytes());
        assert_eq!(parse(&bytes, "a.npy").findings[0].code, "F103");
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
