//! Agreement with diffusers' DDIMScheduler on the goldens written by
//! `fixtures/make_scheduler_goldens.py` (diffusers 0.42.1, torch, CPU).
//!
//! Tolerances: timesteps and the timesteps steps move to are compared
//! exactly. alphas_cumprod and final_alpha_cumprod are float32 in both
//! implementations and are compared bit for bit (NaN equals NaN, infinities
//! must agree in sign) for every configuration without
//! `rescale_betas_zero_snr`: the schedule is built with the same float32
//! operations in the same order as torch, so any difference is a bug.
//!
//! step() takes float32 square roots of ᾱ, and torch's CPU `sqrt`/`** 0.5`
//! is not correctly rounded (Sleef, within one ulp): about 180 of the 1000
//! roots of SD's schedule differ from the exact root, and which ones depends
//! on `ATEN_CPU_CAPABILITY`. nanscope uses exact roots, so step outputs are
//! held to `STEP_REL_TOL` relative to max(|value|, 1), for every
//! configuration (measured: at most 1.3e-6, SD 1.5 at t=958 where the
//! division by √ᾱ ≈ 0.09 amplifies the root's rounding).
//!
//! The zero-SNR rescale takes float32 square roots of a whole tensor, and
//! torch's vectorised CPU `sqrt` is not correctly rounded: 175 to 195 of the
//! 1000 roots are one ulp away from the exact ones, and which ones depends on
//! the CPU (`ATEN_CPU_CAPABILITY` default, avx2 and avx512 give different
//! tables). No implementation can match every torch build bit for bit, so
//! nanscope uses correctly rounded roots and these configurations are held
//! to a relative tolerance of `ZERO_SNR_REL_TOL` (measured: at most 3.9e-6
//! relative, 3.6e-7 absolute, near the noisy end of the table; the terminal
//! ᾱ is exactly 0 in both).

use std::path::PathBuf;

use serde_json::Value;

use super::{DdimScheduler, Scheduler, SchedulerConfig};

const GOLDENS: &[&str] = &[
    "echomimic_v2",
    "sd15",
    "squaredcos",
    "vpred_zero_snr_trailing",
    "linspace",
    "sample_prediction",
    "clip_sample",
    "epsilon_zero_snr_trailing",
    "trained_betas",
];

fn load(name: &str) -> Value {
    let path: PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "fixtures", "scheduler", &format!("{name}.golden.json")].iter().collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A float32 written by the golden script: a number, or "nan"/"inf"/"-inf".
fn f32_of(value: &Value) -> f32 {
    match value {
        Value::Number(n) => n.as_f64().unwrap() as f32,
        Value::String(s) if s == "nan" => f32::NAN,
        Value::String(s) if s == "inf" => f32::INFINITY,
        Value::String(s) if s == "-inf" => f32::NEG_INFINITY,
        other => panic!("not a golden number: {other}"),
    }
}

fn f32s(value: &Value) -> Vec<f32> {
    value.as_array().unwrap().iter().map(f32_of).collect()
}

fn i64s(value: &Value) -> Vec<i64> {
    value.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect()
}

/// Relative tolerance for configurations with `rescale_betas_zero_snr`.
const ZERO_SNR_REL_TOL: f32 = 1e-5;

/// Relative tolerance for step outputs (relative to max(|value|, 1)).
const STEP_REL_TOL: f32 = 1e-5;

/// Compares bit for bit when `rel_tol` is 0, else within `rel_tol` times the
/// larger magnitude (but at least `rel_tol * floor`: step outputs are sums of
/// terms of size 1, so their error is relative to 1, not to a small result).
/// Non-finite values must match in kind either way.
fn assert_close(what: &str, ours: &[f32], theirs: &[f32], rel_tol: f32, floor: f32) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let close = a.to_bits() == b.to_bits()
            || (a.is_nan() && b.is_nan())
            || (a.is_finite() && b.is_finite() && (a - b).abs() <= rel_tol * a.abs().max(b.abs()).max(floor));
        assert!(close, "{what}[{i}]: nanscope {a:e}, diffusers {b:e} (relative tolerance {rel_tol})");
    }
}

fn zero_snr(golden: &Value) -> bool {
    golden["config"]["rescale_betas_zero_snr"] == Value::Bool(true)
}

fn tolerance(golden: &Value) -> f32 {
    if zero_snr(golden) { ZERO_SNR_REL_TOL } else { 0.0 }
}

fn scheduler(golden: &Value) -> DdimScheduler {
    let config = SchedulerConfig::from_json(golden["config"].to_string().as_bytes()).unwrap();
    DdimScheduler::new(&config).unwrap()
}

#[test]
fn alphas_cumprod_match_diffusers_bit_for_bit() {
    for name in GOLDENS {
        let golden = load(name);
        let ddim = scheduler(&golden);
        let tol = tolerance(&golden);
        assert_close(
            &format!("{name} alphas_cumprod"),
            &ddim.schedule().alphas_cumprod,
            &f32s(&golden["alphas_cumprod"]),
            tol,
            0.0,
        );
        assert_close(
            &format!("{name} final_alpha_cumprod"),
            &[ddim.schedule().final_alpha_cumprod],
            &[f32_of(&golden["final_alpha_cumprod"])],
            tol,
            0.0,
        );
    }
}

#[test]
fn timesteps_match_diffusers_exactly() {
    for name in GOLDENS {
        let golden = load(name);
        let mut ddim = scheduler(&golden);
        let tol = tolerance(&golden);
        for schedule in golden["schedules"].as_array().unwrap() {
            let steps = schedule["steps"].as_u64().unwrap() as usize;
            ddim.set_timesteps(steps).unwrap();
            let what = format!("{name} with {steps} steps");
            assert_eq!(ddim.timesteps(), i64s(&schedule["timesteps"]).as_slice(), "{what}: timesteps");
            let prev: Vec<i64> = ddim.timesteps().iter().map(|&t| ddim.prev_timestep(t).unwrap()).collect();
            assert_eq!(prev, i64s(&schedule["prev_timesteps"]), "{what}: prev timesteps");
            let alphas: Vec<f32> = ddim.timesteps().iter().map(|&t| ddim.alpha_cumprod(t).unwrap()).collect();
            assert_close(&format!("{what}: alphas_cumprod"), &alphas, &f32s(&schedule["alphas_cumprod"]), tol, 0.0);
            let prev_alphas: Vec<f32> = ddim.timesteps().iter().map(|&t| ddim.alpha_cumprod_prev(t).unwrap()).collect();
            assert_close(
                &format!("{what}: alphas_cumprod_prev"),
                &prev_alphas,
                &f32s(&schedule["alphas_cumprod_prev"]),
                tol,
                0.0,
            );
        }
    }
}

#[test]
fn steps_match_diffusers() {
    let mut cases = 0;
    for name in GOLDENS {
        let golden = load(name);
        let mut ddim = scheduler(&golden);
        let tol = STEP_REL_TOL;
        for schedule in golden["schedules"].as_array().unwrap() {
            ddim.set_timesteps(schedule["steps"].as_u64().unwrap() as usize).unwrap();
            for case in schedule["step_cases"].as_array().unwrap() {
                let timestep = case["timestep"].as_i64().unwrap();
                let eta = case["eta"].as_f64().unwrap() as f32;
                let noise = (!case["variance_noise"].is_null()).then(|| f32s(&case["variance_noise"]));
                let out = ddim
                    .step_with_noise(
                        &f32s(&case["model_output"]),
                        timestep,
                        &f32s(&case["sample"]),
                        eta,
                        noise.as_deref(),
                    )
                    .unwrap();
                let what = format!("{name} t={timestep} eta={eta}");
                assert_close(&format!("{what} prev_sample"), &out.prev_sample, &f32s(&case["prev_sample"]), tol, 1.0);
                assert_close(
                    &format!("{what} pred_original_sample"),
                    &out.pred_original_sample,
                    &f32s(&case["pred_original_sample"]),
                    tol,
                    1.0,
                );
                cases += 1;
            }
        }
    }
    assert!(cases >= GOLDENS.len() * 6, "only {cases} step cases");
}
