//! Recognising pickled NumPy arrays and scalars among inert pickle values.
//!
//! An array pickles as `_reconstruct(ndarray, (0,), b'b')` followed by BUILD
//! with `(version, shape, dtype, is_fortran, data)`, where `data` is the raw
//! bytes for numeric dtypes and a list of objects for `O`. A dtype pickles as
//! `dtype(code, False, True)` with BUILD state `(3, endian, …)`. Module names
//! differ between numpy 1.x (`numpy.core.multiarray`) and 2.x
//! (`numpy._core.multiarray`); both are accepted. Protocol 5 pickles arrays
//! as `numpy._core.numeric._frombuffer(buffer, dtype, shape, order)` instead.

use super::value::{Pickle, Value};
use crate::formats::npy::numeric_descr;
use crate::numerics::{ByteOrder, DType};

/// A pickled array's description and where its elements are.
#[derive(Debug, Clone, PartialEq)]
pub struct NumpyArray<'p> {
    pub shape: Vec<u64>,
    /// The NumPy type string with its byte order, e.g. `<f4` or `|O`.
    pub descr: String,
    /// `None` for dtypes that are not plain numbers (objects, strings, records).
    pub dtype: Option<DType>,
    pub order: ByteOrder,
    pub fortran_order: bool,
    pub data: ArrayData<'p>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData<'p> {
    /// Raw element bytes; `span` is their range in the pickle's input when
    /// they were read in place.
    Raw { bytes: &'p [u8], span: Option<(usize, usize)> },
    /// The elements of an object array, row-major.
    Objects(&'p [Value]),
}

/// A pickled NumPy scalar (`numpy.float32(1.5)`).
#[derive(Debug, Clone, PartialEq)]
pub struct NumpyScalar<'p> {
    pub descr: String,
    pub dtype: Option<DType>,
    pub order: ByteOrder,
    pub bytes: &'p [u8],
}

fn is_multiarray(module: &str) -> bool {
    module == "numpy.core.multiarray" || module == "numpy._core.multiarray"
}

/// The array `value` describes: `None` when it is not a pickled ndarray,
/// `Some(Err(why))` when it is one but its state does not hold together.
pub fn array<'p>(pickle: &'p Pickle, value: &Value) -> Option<Result<NumpyArray<'p>, String>> {
    let object = pickle.object(value)?;
    let callable = pickle.global(&object.callable)?;
    if is_multiarray(&callable.module) && callable.name == "_reconstruct" {
        return Some(array_state(pickle, object.state.as_ref()));
    }
    let numeric = callable.module == "numpy.core.numeric" || callable.module == "numpy._core.numeric";
    if numeric && callable.name == "_frombuffer" {
        return Some(from_buffer(pickle, pickle.tuple(&object.args).unwrap_or(&[])));
    }
    None
}

/// `_frombuffer(buffer, dtype, shape, order)`.
fn from_buffer<'p>(pickle: &'p Pickle, args: &[Value]) -> Result<NumpyArray<'p>, String> {
    let [data, dtype, shape, order] = args else {
        return Err(format!("_frombuffer has {} arguments, expected 4", args.len()));
    };
    let fortran = Value::Bool(pickle.text(order) == Some("F"));
    array_parts(pickle, shape, dtype, &fortran, data)
}

fn array_state<'p>(pickle: &'p Pickle, state: Option<&Value>) -> Result<NumpyArray<'p>, String> {
    let state = state.ok_or("array has no state (BUILD missing)")?;
    let items = pickle.tuple(state).ok_or("array state is not a tuple")?;
    // numpy accepts the state with or without its leading version number.
    let (shape, dtype, fortran, data) = match items {
        [_, shape, dtype, fortran, data] | [shape, dtype, fortran, data] => (shape, dtype, fortran, data),
        _ => return Err(format!("array state has {} items, expected 5", items.len())),
    };
    array_parts(pickle, shape, dtype, fortran, data)
}

fn array_parts<'p>(
    pickle: &'p Pickle,
    shape: &Value,
    dtype: &Value,
    fortran: &Value,
    data: &Value,
) -> Result<NumpyArray<'p>, String> {
    let shape = pickle
        .items(shape)
        .ok_or("array shape is not a tuple")?
        .iter()
        .map(|d| pickle.int(d).and_then(|d| u64::try_from(d).ok()))
        .collect::<Option<Vec<u64>>>()
        .ok_or("array shape holds a value that is not a non-negative int")?;
    let (descr, dtype_parsed, order) = dtype_of(pickle, dtype).ok_or("array dtype is not a numpy dtype")?;
    let fortran_order = matches!(fortran, Value::Bool(true) | Value::Int(1));
    let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).ok_or("array shape overflows")?;
    let data = if let Some(objects) = pickle.items(data) {
        if objects.len() as u64 != numel {
            return Err(format!("object array of shape {shape:?} holds {} items", objects.len()));
        }
        ArrayData::Objects(objects)
    } else {
        let bytes = match pickle.bytes(data) {
            Some(bytes) => bytes,
            None => return Err("array data is neither bytes nor a list".into()),
        };
        if let Some(size) = dtype_parsed.and_then(DType::size) {
            let need = numel.checked_mul(size).ok_or("array size overflows")?;
            if bytes.len() as u64 != need {
                return Err(format!("array {descr} {shape:?} needs {need} bytes but holds {}", bytes.len()));
            }
        }
        ArrayData::Raw { bytes, span: pickle.bytes_span(data) }
    };
    Ok(NumpyArray { shape, descr, dtype: dtype_parsed, order, fortran_order, data })
}

/// A `numpy.dtype(code, False, True)` object with its BUILD state, as
/// (descr, numeric dtype, byte order).
pub fn dtype_of(pickle: &Pickle, value: &Value) -> Option<(String, Option<DType>, ByteOrder)> {
    let object = pickle.object(value)?;
    let callable = pickle.global(&object.callable)?;
    if !callable.is("numpy", "dtype") {
        return None;
    }
    let code = pickle.text(pickle.tuple(&object.args)?.first()?)?;
    let endian = object
        .state
        .as_ref()
        .and_then(|state| pickle.tuple(state))
        .and_then(|state| state.get(1))
        .and_then(|e| pickle.text(e))
        .unwrap_or("|");
    let descr = if code.starts_with(['<', '>', '|', '=']) { code.to_string() } else { format!("{endian}{code}") };
    let (dtype, order) = match numeric_descr(&descr) {
        Some((dtype, order)) => (Some(dtype), order),
        None => (None, if endian == ">" { ByteOrder::Big } else { ByteOrder::Little }),
    };
    Some((descr, dtype, order))
}

/// The scalar `value` describes, when it is `numpy…multiarray.scalar(dtype, bytes)`.
pub fn scalar<'p>(pickle: &'p Pickle, value: &Value) -> Option<NumpyScalar<'p>> {
    let object = pickle.object(value)?;
    let callable = pickle.global(&object.callable)?;
    if !(is_multiarray(&callable.module) && callable.name == "scalar") {
        return None;
    }
    let [dtype, data] = pickle.tuple(&object.args)? else { return None };
    let (descr, dtype, order) = dtype_of(pickle, dtype)?;
    Some(NumpyScalar { descr, dtype, order, bytes: pickle.bytes(data)? })
}

impl NumpyScalar<'_> {
    /// The scalar as f64, for numeric dtypes read whole.
    pub fn to_f64(&self) -> Option<f64> {
        let b = self.bytes;
        let big = self.order == ByteOrder::Big;
        macro_rules! read {
            ($t:ty) => {{
                let arr = b.try_into().ok()?;
                (if big { <$t>::from_be_bytes(arr) } else { <$t>::from_le_bytes(arr) }) as f64
            }};
        }
        Some(match self.dtype? {
            DType::F64 => read!(f64),
            DType::F32 => read!(f32),
            DType::I64 => read!(i64),
            DType::I32 => read!(i32),
            DType::I16 => read!(i16),
            DType::U64 => read!(u64),
            DType::U32 => read!(u32),
            DType::U16 => read!(u16),
            DType::I8 => *b.first()? as i8 as f64,
            DType::U8 | DType::Bool => *b.first()? as f64,
            DType::F16 => {
                let bits =
                    if big { u16::from_be_bytes(b.try_into().ok()?) } else { u16::from_le_bytes(b.try_into().ok()?) };
                half::f16::from_bits(bits).to_f64()
            }
            _ => return None,
        })
    }
}
