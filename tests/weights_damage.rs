//! Damage judged inside quantized checkpoints without the float reference
//! (Q117-Q120), and weights that are not weights (counters, zero biases):
//! fixtures/make_quant_damage.py.

use std::path::{Path, PathBuf};

use common::quant::{finding, findings, scan};
use serde_json::Value;

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/quant/damage").join(name)
}

fn codes_on<'a>(report: &'a Value, tensor: &str) -> Vec<&'a str> {
    let all = report["findings"].as_array().unwrap();
    all.iter().filter(|f| f["subject"]["tensor"] == tensor).map(|f| f["code"].as_str().unwrap()).collect()
}

/// Issue: one outlier setting a per-tensor int8 scale flushed 1023 of 1024
/// weights to zero and nanscope said nothing.
#[test]
fn an_outlier_flushing_a_per_tensor_int8_weight_is_an_error() {
    let (report, code) = scan(&fixture("int8_outlier.pt"), &[]);
    assert_eq!(code, 1);
    let zeroed = finding(&report, "Q117", "proj.weight");
    assert_eq!(zeroed["severity"], "error");
    assert_eq!((zeroed["evidence"]["zero"].as_u64(), zeroed["evidence"]["count"].as_u64()), (Some(1023), Some(1024)));
    let message = zeroed["message"].as_str().unwrap();
    assert!(message.contains("99.9%") && message.contains("proj.weight"), "{message}");
    assert!(zeroed["evidence"]["effective_bits"].as_f64().unwrap() <= 1.0);
    let outlier = finding(&report, "Q119", "proj.weight");
    assert_eq!(
        (outlier["evidence"]["absmax"].as_f64(), outlier["evidence"]["outliers"].as_u64()),
        (Some(500.0), Some(1))
    );
    // The same shape quantized with its own absmax is healthy.
    assert!(codes_on(&report, "healthy.weight").is_empty(), "{:#}", report["findings"]);
}

/// Issue: an fp16 scale of 1e-7 among scales near 1e-2 is a dead channel,
/// at least a warning (the subnormal scale alone was info).
#[test]
fn a_dead_channel_scale_is_a_warning_at_its_row() {
    let (report, code) = scan(&fixture("dead_scale"), &["--fail-on", "warning"]);
    assert_eq!(code, 1);
    let dead = finding(&report, "Q120", "fc.weight");
    assert_eq!((dead["severity"].as_str(), &dead["subject"]["block"]), (Some("warning"), &Value::from(9)));
    assert_eq!(dead["evidence"]["blocks"], serde_json::json!([9]));
    assert!(dead["evidence"]["min_ratio"].as_f64().unwrap() < 1e-3);
    assert!(codes_on(&report, "fc_clean.weight").is_empty(), "{:#}", report["findings"]);
}

/// A healthy `quantize_dynamic` checkpoint of a conv + linear model gets no
/// damage finding, and nothing that fails `--fail-on warning`.
#[test]
fn a_healthy_quantize_dynamic_checkpoint_has_no_damage() {
    let (report, code) = scan(&fixture("dynamic_convlinear.pt"), &["--fail-on", "warning"]);
    let serious: Vec<&Value> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["severity"] != "info").collect();
    assert!(serious.is_empty(), "{serious:#?}");
    assert_eq!(code, 0);
    for name in ["3.weight", "5.weight"] {
        for rule in ["Q117", "Q118", "Q119", "Q120"] {
            assert!(findings(&report, rule, name).is_empty(), "{rule} on {name}");
        }
    }
}

/// Issues: every BatchNorm got a W104 warning for `num_batches_tracked`, and
/// zero biases failed `--fail-on warning` on freshly initialised checkpoints.
#[test]
fn a_fresh_batchnorm_state_dict_passes_fail_on_warning() {
    let (report, code) = scan(&fixture("batchnorm.pt"), &["--fail-on", "warning"]);
    assert_eq!(code, 0, "{:#}", report["findings"]);
    assert!(codes_on(&report, "1.num_batches_tracked").is_empty());
    let bias = finding(&report, "W104", "1.bias");
    assert_eq!(bias["severity"], "info");
    assert_eq!(finding(&report, "W104", "1.running_mean")["severity"], "info");
}

/// The same judgement for another scheme: compressed-tensors int8 with one
/// per-tensor scale set by an outlier.
#[test]
fn the_damage_check_is_shared_by_every_scheme() {
    let (report, code) = scan(&fixture("ct_outlier"), &[]);
    assert_eq!(code, 1);
    let zeroed = finding(&report, "Q117", "proj.weight");
    assert_eq!((zeroed["severity"].as_str(), zeroed["evidence"]["zero"].as_u64()), (Some("error"), Some(2047)));
    assert!(zeroed["message"].as_str().unwrap().starts_with("99.95% of proj.weight"), "{zeroed:#}");
    assert_eq!(finding(&report, "Q119", "proj.weight")["evidence"]["absmax"].as_f64().map(|a| a.round()), Some(400.0));
    assert!(codes_on(&report, "healthy.weight").is_empty(), "{:#}", report["findings"]);
}
