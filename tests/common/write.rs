//! Small input files the integration tests write for themselves.

#![allow(dead_code)]

use std::path::Path;

/// A one-tensor F32 safetensors file (tensor `w`).
pub fn f32_safetensors(path: &Path, values: &[f32]) {
    let header =
        format!(r#"{{"w":{{"dtype":"F32","shape":[{}],"data_offsets":[0,{}]}}}}"#, values.len(), values.len() * 4);
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    for v in values {
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}
