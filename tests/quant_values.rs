//! Dequantized values against references computed outside nanscope:
//! gguf-py's own dequantize for GGUF types, and numpy implementations of the
//! documented formulas for the other schemes (fixtures/make_quant.py).

use std::path::{Path, PathBuf};

use common::quant::{dequantized, hex_f32};
use nanscope::formats::Checkpoint;
use nanscope::weights::quant::{QuantConfig, filler, recognise};
use serde_json::{Map, Value};

mod common;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/quant")
}

#[test]
fn dequantized_values_match_the_references() {
    let expected: Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap()).unwrap();
    let mut checked = 0;
    for (file, tensors) in &expected {
        let path = fixtures().join(file);
        let checkpoint = Checkpoint::open(&path);
        let recognised = recognise(&checkpoint, &QuantConfig::beside(&path));
        for (name, hex) in tensors.as_object().unwrap() {
            let want = hex_f32(hex.as_str().unwrap());
            let got = dequantized(&checkpoint, &recognised, file, name);
            assert_eq!(got.len(), want.len(), "{file}: {name}");
            let scale = want.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-30);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-5 * scale, "{file}: {name}[{i}] = {g}, reference {w}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 18, "only {checked} tensors compared");
}

#[test]
fn chunked_fills_agree_with_one_fill() {
    let path = fixtures().join("gguf_clean.gguf");
    let checkpoint = Checkpoint::open(&path);
    let recognised = recognise(&checkpoint, &QuantConfig::default());
    for tensor in &recognised.tensors {
        let n = tensor.numel().unwrap() as usize;
        let fill = filler(&checkpoint, tensor).unwrap();
        let mut whole = vec![0f32; n];
        fill(0, &mut whole);
        let mut parts = vec![0f32; n];
        let (a, b) = parts.split_at_mut(256);
        fill(0, a);
        fill(256, b);
        assert_eq!(whole, parts, "{}", tensor.name);
    }
}

mod mutated {
    use super::fixtures;
    use nanscope::weights::{ScanOptions, Silent, scan};
    use proptest::prelude::*;

    const FILES: [&str; 6] = [
        "gguf_clean.gguf",
        "bnb/clean.safetensors",
        "ct_pack/clean.safetensors",
        "gptq/clean.safetensors",
        "quanto/clean.safetensors",
        "fp8/clean.safetensors",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Any single corrupted byte (header, quant state, scales, codes)
        /// gives findings, never a panic.
        #[test]
        fn corrupted_quantized_files_never_panic(file in 0usize..FILES.len(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = std::fs::read(fixtures().join(FILES[file])).unwrap();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(FILES[file].replace('/', "_"));
            std::fs::write(&path, &bytes).unwrap();
            let result = scan(&[path], &ScanOptions::default(), &Silent);
            prop_assert_eq!(result.files.len(), 1);
        }
    }
}
