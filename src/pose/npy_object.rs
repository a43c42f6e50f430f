//! Loading the Python object stored in a 0-d object `.npy` through the
//! in-house pickle interpreter: the pickle is interpreted as data, globals
//! outside the allowlist are reported (never called), and the result is
//! turned into plain [`PyValue`]s.

use crate::formats::npy::{object_pickles, read_header};
use crate::formats::pickle::numpy::{self, ArrayData};
use crate::formats::pickle::writer::PyValue;
use crate::formats::pickle::{Limits, Location, Node, Pickle, Value, error_finding};
use crate::numerics::decode::wide_values;
use crate::numerics::{ByteOrder, DType, Kind};
use crate::report::Finding;
use crate::rules::format as format_rules;

/// Nesting followed when converting; a pose dict nests three levels deep.
const MAX_DEPTH: usize = 32;

/// Pickle limits for pose files: a real one has a few hundred nodes, so a
/// stream needing more than this is hostile or not a pose.
fn limits() -> Limits {
    Limits { max_stack: 1 << 16, max_marks: 256, max_memo: 1 << 16, max_nodes: 1 << 18, max_depth: MAX_DEPTH }
}

/// The object inside an object `.npy`, plus findings that do not stop
/// reading (unsafe globals are reported and left uncalled). The pickles are
/// read by [`object_pickles`], as `weights` reads them.
pub fn load(bytes: &[u8], label: &str) -> Result<(Option<PyValue>, Vec<Finding>), Box<Finding>> {
    let header = read_header(bytes, label)?;
    if !header.descr.contains('O') || !header.shape.is_empty() {
        return Err(Box::new(crate::formats::at_offset(
            &format_rules::UNSUPPORTED_DTYPE,
            label,
            0,
            format!(
                "{label}: .npy holds a {:?} array of shape {:?}, not the 0-d object array of a pose file",
                header.descr, header.shape
            ),
        )));
    }
    let at = Location { file: label, entry: None, base: 0 };
    let pickles = object_pickles(bytes, at, &limits())?;
    let (pickle, findings) = (&pickles.first, pickles.findings);
    let root = match &pickle.root {
        Ok(root) => *root,
        Err(err) => return Err(Box::new(error_finding(err, at))),
    };
    let malformed = |why: String| {
        Box::new(crate::formats::at_offset(
            &format_rules::MALFORMED_PICKLE,
            label,
            header.data_offset,
            format!("{label}: {why}"),
        ))
    };
    let object = match numpy::array(pickle, &root) {
        Some(Ok(array)) => match array.data {
            ArrayData::Objects([one]) => *one,
            _ => return Err(malformed(format!("the pickle holds a {} array, not one object", array.descr))),
        },
        Some(Err(why)) => return Err(malformed(why)),
        // A bare pickled dict (not wrapped in an array) is read as well.
        None => root,
    };
    Ok((Some(convert(pickle, &object, 0)), findings))
}

/// An inert pickle value as a plain Python value.
fn convert(pickle: &Pickle, value: &Value, depth: usize) -> PyValue {
    if depth > MAX_DEPTH {
        return PyValue::Other("a structure nested too deep".into());
    }
    match value {
        Value::None => return PyValue::None,
        Value::Bool(b) => return PyValue::Bool(*b),
        Value::Int(i) => return PyValue::Int(*i),
        Value::Float(f) => return PyValue::Float(*f),
        Value::Ref(_) => {}
    }
    if let Some(array) = numpy::array(pickle, value) {
        return match array {
            Ok(array) => numeric_array(&array).unwrap_or_else(|| PyValue::Other(format!("a {} array", array.descr))),
            Err(why) => PyValue::Other(format!("a broken array ({why})")),
        };
    }
    if let Some(scalar) = numpy::scalar(pickle, value) {
        return match (scalar.dtype.map(DType::kind), scalar.to_f64()) {
            (Some(Kind::Int | Kind::Bool), Some(v)) => PyValue::Int(v as i64),
            (_, Some(v)) => PyValue::Float(v),
            _ => PyValue::Other(format!("a {} scalar", scalar.descr)),
        };
    }
    match pickle.node(value) {
        Some(Node::Str(s)) => PyValue::Str(s.clone()),
        Some(Node::List(items) | Node::Tuple(items)) => {
            PyValue::List(items.iter().map(|item| convert(pickle, item, depth + 1)).collect())
        }
        Some(Node::Dict(dict)) => PyValue::Dict(
            dict.entries
                .iter()
                .map(|(k, v)| {
                    let key = pickle.str(k).map_or_else(|| format!("{k:?}"), str::to_string);
                    (key, convert(pickle, v, depth + 1))
                })
                .collect(),
        ),
        Some(Node::Object(_)) => match pickle.callable(value) {
            Some(global) => PyValue::Other(format!("a {} object", global.dotted())),
            None => PyValue::Other("an object".into()),
        },
        Some(other) => PyValue::Other(format!("{:?}", std::mem::discriminant(other))),
        None => PyValue::Other("an unknown value".into()),
    }
}

/// A numeric array of any dtype and byte order as C-ordered float64.
fn numeric_array(array: &numpy::NumpyArray) -> Option<PyValue> {
    let dtype = array.dtype?;
    if matches!(dtype, DType::C32 | DType::C64 | DType::C128) {
        return None;
    }
    let ArrayData::Raw { bytes, .. } = &array.data else { return None };
    let shape: Vec<usize> = array.shape.iter().map(|&d| usize::try_from(d).ok()).collect::<Option<_>>()?;
    // float64 little-endian is what every known producer writes; other
    // dtypes and byte orders go through the generic decoder.
    let values: Vec<f64> = if dtype == DType::F64 && array.order == ByteOrder::Little {
        bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect()
    } else {
        wide_values(dtype, bytes, array.order).collect()
    };
    if values.len() != shape.iter().product::<usize>() {
        return None;
    }
    let data = if array.fortran_order && shape.len() > 1 { c_order(&values, &shape) } else { values };
    Some(PyValue::F64Array { shape, data })
}

/// Reorders column-major values to row-major.
fn c_order(values: &[f64], shape: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; shape.len()];
    for _ in 0..values.len() {
        let mut offset = 0;
        let mut stride = 1;
        for (axis, &i) in index.iter().enumerate() {
            offset += i * stride;
            stride *= shape[axis];
        }
        out.push(values[offset]);
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::pickle::writer::object_npy;

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let value = PyValue::Dict(vec![
            ("a".into(), PyValue::F64Array { shape: vec![2, 3], data: vec![1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0] }),
            ("num".into(), PyValue::Int(1 << 40)),
            ("p".into(), PyValue::List(vec![PyValue::Int(768), PyValue::Int(-1)])),
        ]);
        let (read, findings) = load(&object_npy(&value), "x.npy").unwrap();
        assert!(findings.is_empty());
        let Some(PyValue::Dict(entries)) = read else { panic!() };
        let PyValue::F64Array { data, .. } = &entries[0].1 else { panic!() };
        assert!(data[4].is_nan());
        assert_eq!(entries[1].1, PyValue::Int(1 << 40));
        assert_eq!(entries[2].1, PyValue::List(vec![PyValue::Int(768), PyValue::Int(-1)]));
    }

    #[test]
    fn fortran_arrays_are_reordered() {
        assert_eq!(c_order(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], &[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn truncation_and_malicious_globals_are_findings() {
        let bytes = object_npy(&PyValue::Dict(vec![("num".into(), PyValue::Int(3))]));
        let err = load(&bytes[..bytes.len() - 3], "x.npy").unwrap_err();
        assert_eq!(err.code(), "F109");
        let mut evil = bytes[..128].to_vec();
        evil.extend(b"\x80\x03cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.");
        let (value, findings) = load(&evil, "x.npy").unwrap();
        assert_eq!(findings[0].code(), "S101");
        assert!(matches!(value, Some(PyValue::Other(_))));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(cut in 0usize..600, flip in 0usize..600, byte in proptest::prelude::any::<u8>()) {
            let mut bytes = crate::pose::echomimic::write(&crate::pose::echomimic::tests::demo_frame(2));
            if flip < bytes.len() {
                bytes[flip] = byte;
            }
            bytes.truncate(cut.max(1) * 8);
            let _ = load(&bytes, "fuzz.npy");
        }
    }
}
