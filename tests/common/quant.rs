//! Helpers shared by the quantization integration tests: running the binary
//! on a fixture, picking findings and tensor records out of its JSON, and
//! reading the dequantized values the scheme layer produces.

#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use nanscope::formats::Checkpoint;
use nanscope::weights::quant::{Recognised, filler};
use serde_json::Value;

/// Runs `weights --format json` (plus `extra` options) on `path`; returns the
/// report and the exit code.
pub fn scan(path: &Path, extra: &[&str]) -> (Value, i32) {
    let out = Command::cargo_bin("nanscope")
        .unwrap()
        .args(["weights", "--format", "json", "--no-progress"])
        .args(extra)
        .arg(path)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", path.display(), String::from_utf8_lossy(&out.stderr)));
    (report, out.status.code().unwrap_or(-1))
}

pub fn findings<'a>(report: &'a Value, code: &str, tensor: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code && f["subject"]["tensor"] == tensor)
        .collect()
}

/// The single finding `code` on `tensor`.
pub fn finding<'a>(report: &'a Value, code: &str, tensor: &str) -> &'a Value {
    let found = findings(report, code, tensor);
    assert_eq!(found.len(), 1, "expected one {code} on {tensor}, findings: {:#}", report["findings"]);
    found[0]
}

pub fn record<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no record {name} in {:#}", report["tensors"]))
}

/// Little-endian f32 values from the hex strings the generators commit.
pub fn hex_f32(hex: &str) -> Vec<f32> {
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The dequantized values of the recognised logical tensor `name`.
pub fn dequantized(checkpoint: &Checkpoint, recognised: &Recognised, file: &str, name: &str) -> Vec<f32> {
    let tensor = recognised
        .tensors
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{file}: {name} was not recognised"));
    let mut values = vec![0f32; tensor.numel().unwrap() as usize];
    filler(checkpoint, tensor).unwrap()(0, &mut values);
    values
}
