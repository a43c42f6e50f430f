//! Which `module.name` globals a tensor file may reference. The list mirrors
//! what `torch.load(weights_only=True)` accepts, plus the numpy globals that
//! pickled arrays need. Nothing on it is ever called: the interpreter only
//! records the reference; the list decides what is reported.

use super::value::Trust;

/// Rebuild functions in `torch._utils`.
const TORCH_REBUILDS: &[&str] = &[
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_qtensor",
    "_rebuild_sparse_tensor",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_wrapper_subclass",
    "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor",
    "_rebuild_nested_tensor",
];

/// Names in the `torch` module that are constants or plain types: storage and
/// tensor classes, dtypes, quantization schemes, layouts, memory formats.
const TORCH_NAMES: &[&str] = &[
    "Size",
    "Tensor",
    "device",
    "per_tensor_affine",
    "per_tensor_symmetric",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
    "strided",
    "sparse_coo",
    "sparse_csr",
    "sparse_csc",
    "sparse_bsr",
    "sparse_bsc",
    "jagged",
    "contiguous_format",
    "channels_last",
    "channels_last_3d",
    "preserve_format",
];

/// Classifies a global. Unknown torch names are unsafe: `torch` also holds
/// functions such as `torch.load` that must never be reachable from data.
pub fn classify(module: &str, name: &str) -> Trust {
    let allowed = match module {
        "collections" => name == "OrderedDict",
        "torch._utils" => TORCH_REBUILDS.contains(&name),
        "torch._tensor" => name == "_rebuild_from_type_v2",
        // `Parameter(data, requires_grad)` only wraps a tensor; torch's
        // weights-only loader accepts it too.
        "torch.nn.parameter" => name == "Parameter",
        "torch.serialization" => name == "_get_layout",
        "torch.storage" => name == "UntypedStorage" || name == "TypedStorage",
        "torch" | "torch.cuda" => {
            TORCH_NAMES.contains(&name)
                || crate::formats::torch::dtype_by_name(name).is_some()
                || name.ends_with("Storage") && name.chars().all(|c| c.is_ascii_alphanumeric())
                || name.ends_with("Tensor") && name.chars().all(|c| c.is_ascii_alphanumeric())
        }
        "numpy.core.multiarray" | "numpy._core.multiarray" => name == "_reconstruct" || name == "scalar",
        // Protocol 5 pickles arrays as `_frombuffer(buffer, dtype, shape, order)`.
        "numpy.core.numeric" | "numpy._core.numeric" => name == "_frombuffer",
        "numpy" => name == "dtype" || name == "ndarray",
        // Protocol 2 spells bytes, bytearray and set through these.
        "_codecs" => name == "encode",
        "builtins" | "__builtin__" => matches!(name, "set" | "frozenset" | "bytearray" | "complex"),
        _ => false,
    };
    if allowed {
        Trust::Allowed
    } else if module == "torchao" || module.starts_with("torchao.") {
        Trust::Subclass
    } else {
        Trust::Unsafe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds_and_constants_are_allowed() {
        for (m, n) in [
            ("torch._utils", "_rebuild_tensor_v2"),
            ("torch", "HalfStorage"),
            ("torch", "QUInt8Storage"),
            ("torch.storage", "UntypedStorage"),
            ("torch", "float8_e4m3fn"),
            ("torch", "per_channel_affine"),
            ("collections", "OrderedDict"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
            ("torch.nn.parameter", "Parameter"),
        ] {
            assert_eq!(classify(m, n), Trust::Allowed, "{m}.{n}");
        }
    }

    #[test]
    fn code_execution_paths_are_unsafe() {
        for (m, n) in [
            ("builtins", "eval"),
            ("builtins", "getattr"),
            ("os", "system"),
            ("posix", "system"),
            ("subprocess", "Popen"),
            ("torch", "load"),
            ("torch._utils", "_import_dotted_name"),
            ("collections", "defaultdict"),
            ("numpy", "load"),
            ("torch", "Storage.__init__"),
        ] {
            assert_eq!(classify(m, n), Trust::Unsafe, "{m}.{n}");
        }
        assert_eq!(classify("torchao.quantization", "Int4Tensor"), Trust::Subclass);
    }
}
