//! Reading torch's tensor rebuild calls (`_rebuild_tensor_v2(storage, offset,
//! size, stride, …)` and relatives) out of inert pickle objects.

use super::dtypes::{dtype_by_name, storage_class_dtype};
use crate::formats::pickle::{Global, Pickle, Value};
use crate::numerics::DType;

/// The storage a tensor's persistent id names.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// The record key (`data/<key>` in a zip, the key list in a legacy file).
    pub key: String,
    /// The storage class name (`HalfStorage`, `UntypedStorage`).
    pub class: String,
    /// Declared size: elements for typed storages, bytes for `UntypedStorage`.
    pub numel: u64,
    /// Legacy storage views: element offset into the root storage.
    pub view_offset: u64,
}

impl StorageRef {
    pub fn is_untyped(&self) -> bool {
        self.class == "UntypedStorage"
    }
}

/// A plain tensor: a strided view of a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub storage: StorageRef,
    pub dtype: DType,
    /// In elements, including a legacy view's offset.
    pub offset: u64,
    pub shape: Vec<u64>,
    pub strides: Vec<u64>,
    /// `_rebuild_qtensor`'s quantizer parameters, e.g.
    /// `(torch.per_tensor_affine, scale, zero_point)`; the tensor's elements
    /// are the raw integer codes.
    pub quantization: Option<Value>,
}

/// What an object in a checkpoint pickle turned out to be.
#[derive(Debug)]
pub enum Rebuilt {
    Tensor(TensorSpec),
    /// A wrapper (`nn.Parameter`, a subclass) whose content is this value,
    /// read under the same name.
    Wraps(Value),
    /// A torch tensor that has no readable data (meta tensors).
    NoData,
    /// A torch tensor this reader does not decode, and why.
    Unsupported(String),
    /// A torch rebuild call whose arguments do not hold together.
    Malformed(String),
}

/// `None` when `value` is not a torch tensor rebuild.
pub fn rebuild(pickle: &Pickle, value: &Value) -> Option<Rebuilt> {
    let object = pickle.object(value)?;
    let callable = pickle.global(&object.callable)?;
    let args = pickle.tuple(&object.args).unwrap_or(&[]);
    rebuild_call(pickle, callable, args, 0)
}

/// `_rebuild_from_type_v2` calls nest; real files nest once, hostile ones
/// could nest until the stack runs out.
const MAX_REBUILD_NESTING: usize = 8;

fn rebuild_call(pickle: &Pickle, callable: &Global, args: &[Value], nesting: usize) -> Option<Rebuilt> {
    let first = || args.first().copied();
    Some(match (callable.module.as_str(), callable.name.as_str()) {
        ("torch._utils", "_rebuild_tensor" | "_rebuild_tensor_v2") => strided(pickle, args, None, None),
        ("torch._utils", "_rebuild_tensor_v3") => match args.get(6).and_then(|d| pickle.global(d)) {
            Some(dtype) => strided(pickle, args, Some(dtype), None),
            None => Rebuilt::Malformed("_rebuild_tensor_v3 has no dtype argument".into()),
        },
        ("torch._utils", "_rebuild_qtensor") => strided(pickle, args, None, args.get(4).copied()),
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")
        | ("torch.nn.parameter", "Parameter") => match first() {
            Some(data) => Rebuilt::Wraps(data),
            None => Rebuilt::Malformed(format!("{} has no data argument", callable.name)),
        },
        ("torch._utils", "_rebuild_device_tensor_from_numpy" | "_rebuild_device_tensor_from_cpu_tensor") => {
            match first() {
                Some(data) => Rebuilt::Wraps(data),
                None => Rebuilt::Malformed(format!("{} has no data argument", callable.name)),
            }
        }
        ("torch._utils", "_rebuild_meta_tensor_no_storage") => Rebuilt::NoData,
        (
            "torch._utils",
            name @ ("_rebuild_sparse_tensor" | "_rebuild_nested_tensor" | "_rebuild_wrapper_subclass"),
        ) => Rebuilt::Unsupported(format!("tensors rebuilt by {name} are not read")),
        ("torch._tensor", "_rebuild_from_type_v2") if nesting < MAX_REBUILD_NESTING => from_type(pickle, args, nesting),
        ("torch._tensor", "_rebuild_from_type_v2") => {
            Rebuilt::Malformed("_rebuild_from_type_v2 calls nest too deeply".into())
        }
        _ => return None,
    })
}

/// `_rebuild_from_type_v2(func, new_type, args, state)`: a plain tensor or a
/// Parameter is `func(*args)`; another subclass is read through its state,
/// which holds its inner tensors (torchao's `qdata`, `scale`, …).
fn from_type(pickle: &Pickle, args: &[Value], nesting: usize) -> Rebuilt {
    let [func, new_type, inner, state, ..] = args else {
        return Rebuilt::Malformed("_rebuild_from_type_v2 needs 4 arguments".into());
    };
    let Some(func) = pickle.global(func) else {
        return Rebuilt::Malformed("_rebuild_from_type_v2 rebuilds with a non-global".into());
    };
    let plain =
        pickle.global(new_type).is_some_and(|t| t.is("torch.nn.parameter", "Parameter") || t.is("torch", "Tensor"));
    let inner_args = pickle.tuple(inner).unwrap_or(&[]);
    if plain || !func.is("torch._utils", "_rebuild_wrapper_subclass") {
        return match rebuild_call(pickle, func, inner_args, nesting + 1) {
            Some(rebuilt) => rebuilt,
            None => Rebuilt::Unsupported(format!("tensor rebuilt by {} is not read", func.dotted())),
        };
    }
    Rebuilt::Wraps(*state)
}

/// `(storage, storage_offset, size, stride, …)`.
fn strided(pickle: &Pickle, args: &[Value], dtype: Option<&Global>, quantization: Option<Value>) -> Rebuilt {
    let [storage, offset, size, stride, ..] = args else {
        return Rebuilt::Malformed(format!("tensor rebuild has {} arguments, expected at least 4", args.len()));
    };
    let storage = match storage_ref(pickle, storage) {
        Ok(storage) => storage,
        Err(why) => return Rebuilt::Malformed(why),
    };
    let dtype = match dtype {
        Some(global) => match dtype_by_name(&global.name) {
            Some(Some(dtype)) => dtype,
            Some(None) => return Rebuilt::Unsupported(format!("dtype torch.{} is not decoded", global.name)),
            None => return Rebuilt::Malformed(format!("{} is not a torch dtype", global.dotted())),
        },
        None => match storage_class_dtype(&storage.class) {
            Some(dtype) => dtype,
            None => return Rebuilt::Unsupported(format!("storage class {} is not decoded", storage.class)),
        },
    };
    let ints = |v: &Value, what: &str| -> Result<Vec<u64>, String> {
        let items = pickle.items(v).ok_or_else(|| format!("tensor {what} is not a tuple"))?;
        items
            .iter()
            .map(|d| pickle.int(d).and_then(|d| u64::try_from(d).ok()))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| format!("tensor {what} holds a value that is not a non-negative int"))
    };
    let (shape, strides) = match (ints(size, "size"), ints(stride, "stride")) {
        (Ok(shape), Ok(strides)) => (shape, strides),
        (Err(why), _) | (_, Err(why)) => return Rebuilt::Malformed(why),
    };
    if shape.len() != strides.len() {
        return Rebuilt::Malformed(format!("tensor has {} sizes but {} strides", shape.len(), strides.len()));
    }
    let Some(offset) = pickle.int(offset).and_then(|o| u64::try_from(o).ok()) else {
        return Rebuilt::Malformed("tensor storage offset is not a non-negative int".into());
    };
    let Some(offset) = offset.checked_add(storage.view_offset) else {
        return Rebuilt::Malformed("tensor storage offset overflows".into());
    };
    Rebuilt::Tensor(TensorSpec { storage, dtype, offset, shape, strides, quantization })
}

/// `('storage', StorageClass, key, location, numel[, view_metadata])`.
fn storage_ref(pickle: &Pickle, value: &Value) -> Result<StorageRef, String> {
    let pid = pickle.persistent_id(value).ok_or("tensor storage is not a persistent id")?;
    let items = pickle.tuple(&pid).ok_or("storage persistent id is not a tuple")?;
    let [kind, class, key, _location, numel, rest @ ..] = items else {
        return Err(format!("storage persistent id has {} items, expected 5", items.len()));
    };
    if pickle.text(kind) != Some("storage") {
        return Err("persistent id is not a storage".into());
    }
    let class = pickle.global(class).ok_or("storage class is not a global")?;
    let key = match (pickle.text(key), pickle.int(key)) {
        (Some(key), _) => key.to_string(),
        (None, Some(key)) => key.to_string(),
        _ => return Err("storage key is not a string".into()),
    };
    let numel =
        pickle.int(numel).and_then(|n| u64::try_from(n).ok()).ok_or("storage size is not a non-negative int")?;
    // Legacy files may name a view of another storage: (view_key, offset, size).
    let mut storage = StorageRef { key, class: class.name.clone(), numel, view_offset: 0 };
    if let Some(view) = rest.first().and_then(|v| pickle.tuple(v)) {
        let [_view_key, offset, _size] = view else {
            return Err("storage view metadata is not (key, offset, size)".into());
        };
        let offset = pickle.int(offset).and_then(|o| u64::try_from(o).ok()).ok_or("storage view offset is invalid")?;
        // The view is read through its root storage, which the file holds.
        storage.view_offset = offset;
    }
    Ok(storage)
}

/// One quantizer parameter of a `_rebuild_qtensor` call, named after the
/// torch method that returns it (`q_scale`, `q_per_channel_scales`, …).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QParam {
    /// A Python float, read as a 0-d `F64` tensor.
    Float(f64),
    /// A Python int, read as a 0-d `I64` tensor.
    Int(i64),
    /// A tensor (per-channel scales and zero points), read like any other.
    Tensor(Value),
}

/// The quantizer parameters torch pickles: `(per_tensor_affine, scale,
/// zero_point)` or `(per_channel_affine[_float_qparams], scales, zero_points,
/// axis)`.
pub fn quant_params(pickle: &Pickle, value: &Value) -> Result<Vec<(&'static str, QParam)>, String> {
    let items = pickle.tuple(value).ok_or("quantizer parameters are not a tuple")?;
    let scheme = items.first().and_then(|s| pickle.global(s)).ok_or("quantizer scheme is not a global")?;
    match (scheme.module.as_str(), scheme.name.as_str(), items) {
        ("torch", "per_tensor_affine", [_, scale, zero_point]) => {
            let scale = pickle.float(scale).ok_or("per-tensor scale is not a number")?;
            let zero_point = pickle.int(zero_point).ok_or("per-tensor zero point is not an int")?;
            Ok(vec![("q_scale", QParam::Float(scale)), ("q_zero_point", QParam::Int(zero_point))])
        }
        ("torch", "per_channel_affine" | "per_channel_affine_float_qparams", [_, scales, zero_points, axis]) => {
            let axis = pickle.int(axis).ok_or("per-channel axis is not an int")?;
            Ok(vec![
                ("q_per_channel_scales", QParam::Tensor(*scales)),
                ("q_per_channel_zero_points", QParam::Tensor(*zero_points)),
                ("q_per_channel_axis", QParam::Int(axis)),
            ])
        }
        (_, _, items) => Err(format!("quantizer {} with {} parameters is not read", scheme.dotted(), items.len())),
    }
}
