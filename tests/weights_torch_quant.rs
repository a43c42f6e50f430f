//! `nanscope weights` on torch-pickled quantized checkpoints
//! (fixtures/make_torch_quant.py): torch quantized tensors, `quantize_dynamic`
//! state dicts and torchao `Int8Tensor` weights. Planted hazards are reported
//! at their tensor and row; dequantized values match torch's `dequantize()`.

use std::path::{Path, PathBuf};

use common::quant::{dequantized, finding, findings, hex_f32, record};
use nanscope::formats::Checkpoint;
use nanscope::weights::quant::{QuantConfig, recognise};
use serde_json::{Map, Value, json};

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/quant/torch").join(name)
}

/// Runs `weights --format json --all-tensors` on a fixture and returns the report and exit code.
fn scan(name: &str) -> (Value, i32) {
    common::quant::scan(&fixture(name), &["--all-tensors"])
}

/// No finding but the subclass notice (S103), exit code 0, and every
/// logical weight dequantized without a NaN.
fn assert_clean(name: &str) -> Value {
    let (report, code) = scan(name);
    let serious: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["code"] != "S103").collect();
    assert!(serious.is_empty(), "{name}: {serious:#?}");
    assert_eq!(code, 0, "{name}");
    let mut weights = 0;
    for t in report["tensors"].as_array().unwrap() {
        if t["quant"]["role"] == "weight" {
            assert_eq!(t["stats"]["nan"], 0, "{name}: {}", t["name"]);
            assert_eq!(t["dtype"], "F32");
            weights += 1;
        }
    }
    assert!(weights >= 2, "{name}: {weights} quantized weights");
    report
}

#[test]
fn clean_files_are_clean() {
    for name in ["qtensor_clean.pt", "dynamic_clean.pt", "torchao_clean.pt", "torchao_aqt_clean.pt"] {
        assert_clean(name);
    }
}

#[test]
fn torch_quantized_tensors_carry_their_scheme() {
    let report = assert_clean("qtensor_clean.pt");
    let quant = |name: &str| record(&report, name)["quant"].clone();
    let conv = quant("conv.weight");
    assert_eq!(
        (&conv["scheme"], &conv["format"], &conv["bits"], &conv["granularity"], &conv["axis"]),
        (&json!("torch-qtensor"), &json!("qint8"), &json!(8), &json!("channel"), &json!(0))
    );
    let mix = quant("mix.weight");
    assert_eq!((&mix["format"], &mix["axis"]), (&json!("quint8"), &json!(1)));
    let proj = quant("proj.weight");
    assert_eq!((&proj["granularity"], proj.get("axis")), (&json!("tensor"), None));
    assert_eq!((&quant("acc.bias")["format"], &quant("acc.bias")["bits"]), (&json!("qint32"), &json!(32)));
    assert_eq!(quant("emb.weight")["granularity"], "channel");
    // The quantizer parameters are listed as pieces of their weight.
    let scales = quant("conv.weight.q_per_channel_scales");
    assert_eq!((&scales["role"], &scales["of"]), (&json!("scale"), &json!("conv.weight")));
    assert_eq!(record(&report, "conv.weight")["shape"], json!([6, 3, 2, 2]));
}

#[test]
fn broken_qtensor_parameters_are_reported_at_their_channel() {
    for file in ["qtensor_hazards.pt", "qtensor_hazards_legacy.pt"] {
        qtensor_hazards(file);
    }
}

fn qtensor_hazards(file: &str) {
    let (report, code) = scan(file);
    assert_eq!(code, 1);
    let nan = finding(&report, "Q101", "conv.weight");
    assert_eq!(nan["subject"]["block"], 3);
    assert_eq!(nan["evidence"]["blocks"], json!([3]));
    assert_eq!(finding(&report, "Q102", "conv.weight")["subject"]["block"], 5);
    // The dequantized values of the NaN channel are NaN: 3·2·2 of them.
    assert_eq!(record(&report, "conv.weight")["stats"]["nan"], 12);
    let overflow = finding(&report, "W102", "big.weight");
    assert_eq!(record(&report, "big.weight")["stats"]["absmax"], 127000.0, "{overflow:#}");
    let zero = finding(&report, "Q105", "shifted.weight");
    assert_eq!(zero["evidence"]["value"], 300.0);
    assert_eq!(zero["evidence"]["range"], json!([-128.0, 127.0]));
    assert!(finding(&report, "Q106", "clipped.weight")["evidence"]["share"].as_f64().unwrap() > 0.5);
    // Nothing is reported on the pieces themselves.
    assert!(findings(&report, "Q101", "conv.weight.q_per_channel_scales").is_empty());
}

#[test]
fn inconsistent_per_channel_parameters_are_findings() {
    let (report, code) = scan("qtensor_malformed.pt");
    assert_eq!(code, 1);
    let short = finding(&report, "Q108", "short.weight");
    assert!(short["message"].as_str().unwrap().contains("3 scales"), "{short:#}");
    let axis = finding(&report, "Q108", "axis.weight");
    assert!(axis["message"].as_str().unwrap().contains("axis 5"), "{axis:#}");
    // The codes are still listed, as codes without a logical tensor.
    assert_eq!(record(&report, "short.weight")["quant"]["role"], "codes");
    // Empty quantized tensors are nothing to judge.
    for name in ["empty.weight", "empty_channels.weight"] {
        assert_eq!(record(&report, name)["shape"], json!([0, 4]));
        let about: Vec<&Value> =
            report["findings"].as_array().unwrap().iter().filter(|f| f["subject"]["tensor"] == name).collect();
        assert!(about.is_empty(), "{about:#?}");
    }
}

#[test]
fn quantize_dynamic_linears_are_presented_as_weight_and_bias() {
    let report = assert_clean("dynamic_clean.pt");
    let weight = record(&report, "0.weight");
    assert_eq!(
        (&weight["quant"]["scheme"], &weight["quant"]["granularity"]),
        (&json!("torch-dynamic"), &json!("tensor"))
    );
    assert_eq!(weight["shape"], json!([8, 16]));
    let channel = record(&report, "2.weight");
    assert_eq!((&channel["quant"]["granularity"], &channel["quant"]["axis"]), (&json!("channel"), &json!(0)));
    assert_eq!(record(&report, "0.bias")["shape"], json!([8]));
    // The float16 dynamic Linear keeps its float weight, under its logical name.
    assert_eq!(record(&report, "4.weight")["dtype"], "F32");
    assert_eq!(record(&report, "4.bias")["shape"], json!([4]));
    for t in report["tensors"].as_array().unwrap() {
        if t["name"].as_str().unwrap().contains("_packed_params") {
            assert!(t["quant"]["role"] != "weight" && !t["quant"].is_null(), "{t:#}");
        }
    }
    assert_eq!(record(&report, "0.scale")["quant"]["role"], "activation_scale");
}

#[test]
fn a_corrupted_dynamic_scale_is_reported_at_its_row() {
    let (report, code) = scan("dynamic_hazards.pt");
    assert_eq!(code, 1);
    let inf = finding(&report, "Q101", "2.weight");
    assert_eq!(inf["subject"]["block"], 6);
    assert_eq!(inf["evidence"]["value"], "inf");
    assert_eq!(findings(&report, "Q101", "0.weight").len(), 0);
}

#[test]
fn torchao_int8_weights_are_dequantized_and_every_broken_row_named() {
    let clean = assert_clean("torchao_clean.pt");
    let q = &record(&clean, "attn1.to_q.weight")["quant"];
    assert_eq!((&q["scheme"], &q["format"], &q["granularity"]), (&json!("torchao"), &json!("int8"), &json!("channel")));
    // Convolutions are not quantized by int8 weight-only: plain float tensors.
    assert!(record(&clean, "conv_in.weight")["quant"].is_null());

    let (report, code) = scan("torchao_hazards.pt");
    assert_eq!(code, 1);
    let nan = finding(&report, "Q101", "attn1.to_q.weight");
    assert_eq!(nan["subject"]["block"], 3);
    assert_eq!(nan["evidence"]["blocks"], json!([3, 17]));
    assert_eq!(nan["evidence"]["count"], 2);
    assert_eq!(finding(&report, "Q102", "attn1.to_k.weight")["subject"]["block"], 9);
    assert_eq!(record(&report, "attn1.to_q.weight")["stats"]["nan"], 64);
    // The subclass notice stays beside the quantization findings.
    assert!(report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "S103"));
}

/// torchao before 0.10 (`int8_weight_only()`) saves an `AffineQuantizedTensor`
/// whose codes and scales sit in `<name>.tensor_impl`.
#[test]
fn older_torchao_affine_quantized_tensors_are_read_too() {
    let clean = assert_clean("torchao_aqt_clean.pt");
    let q = &record(&clean, "attn1.to_q.weight")["quant"];
    assert_eq!((&q["scheme"], &q["granularity"]), (&json!("torchao"), &json!("channel")));
    assert_eq!(record(&clean, "attn1.to_q.weight.tensor_impl.int_data")["quant"]["role"], "codes");
    // The all-zero integer zero points are a piece, not a W104 all-zero tensor.
    assert_eq!(record(&clean, "attn1.to_q.weight.tensor_impl.zero_point")["quant"]["role"], "zero_point");
    // Dynamic activation quantization wraps the weight once more; it keeps its name.
    assert_eq!(record(&clean, "proj_out.weight")["quant"]["scheme"], "torchao");
    let codes = record(&clean, "proj_out.weight.original_weight_tensor.tensor_impl.int_data");
    assert_eq!(codes["quant"]["of"], "proj_out.weight");

    let (report, code) = scan("torchao_aqt_hazards.pt");
    assert_eq!(code, 1);
    assert_eq!(finding(&report, "Q101", "attn1.to_q.weight")["subject"]["block"], 5);
    assert_eq!(finding(&report, "Q103", "time_embedding.0.weight")["subject"]["block"], 2);
}

/// Every value of each logical tensor against torch's `dequantize()`, and
/// the binary's statistics against the same values.
#[test]
fn dequantized_values_match_torch() {
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    let files: &Map<String, Value> = expected["files"].as_object().unwrap();
    let mut checked = 0;
    for (file, tensors) in files {
        let path = fixture(file);
        let checkpoint = Checkpoint::open(&path);
        let recognised = recognise(&checkpoint, &QuantConfig::default());
        let (report, _) = scan(file);
        for (name, hex) in tensors.as_object().unwrap() {
            let want = hex_f32(hex.as_str().unwrap());
            let got = dequantized(&checkpoint, &recognised, file, name);
            assert_eq!(got.len(), want.len(), "{file}: {name}");
            let scale = want.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-30);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-6 * scale, "{file}: {name}[{i}] = {g}, torch {w}");
            }
            let stats = &record(&report, name)["stats"];
            let min = want.iter().copied().fold(f32::INFINITY, f32::min) as f64;
            let max = want.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let mean = want.iter().map(|&x| x as f64).sum::<f64>() / want.len() as f64;
            assert!((stats["min"].as_f64().unwrap() - min).abs() <= 1e-6 * scale as f64, "{file}: {name} min");
            assert!((stats["max"].as_f64().unwrap() - max).abs() <= 1e-6 * scale as f64, "{file}: {name} max");
            assert!((stats["mean"].as_f64().unwrap() - mean).abs() <= 1e-5 * scale as f64, "{file}: {name} mean");
            checked += 1;
        }
    }
    assert_eq!(checked, 13, "tensors compared");
}
