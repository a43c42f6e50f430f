//! The scheduler hazard checks on hand-made configurations, one rule at a time.

use proptest::prelude::*;

use super::{InspectOptions, Inspection, PredictionType, SchedulerConfig, inspect};
use crate::report::Severity;

fn parse(json: &str) -> SchedulerConfig {
    SchedulerConfig::from_json(json.as_bytes()).unwrap()
}

fn run(json: &str, steps: usize) -> Inspection {
    inspect(&parse(json), &InspectOptions { steps, ..InspectOptions::default() })
}

fn codes(inspection: &Inspection) -> Vec<&str> {
    inspection.findings.iter().map(|f| f.code()).collect()
}

fn severity_of(inspection: &Inspection, code: &str) -> Option<Severity> {
    inspection.findings.iter().find(|f| f.code() == code).map(|f| f.severity)
}

const ECHOMIMIC_V2: &str = r#"{"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear",
    "clip_sample": false, "steps_offset": 1, "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": true, "timestep_spacing": "trailing"}"#;

#[test]
fn echomimic_v2_has_no_error_or_warning() {
    for steps in [6, 30] {
        let inspection = run(ECHOMIMIC_V2, steps);
        assert!(inspection.findings.iter().all(|f| f.severity == Severity::Info), "{:?}", codes(&inspection));
        assert!(codes(&inspection).contains(&"R104"), "steps_offset with trailing is reported");
        let schedule = inspection.schedule.unwrap();
        assert_eq!(schedule.timesteps.len(), steps);
    }
    let six = run(ECHOMIMIC_V2, 6).schedule.unwrap();
    assert_eq!(six.timesteps, vec![999, 832, 666, 499, 332, 166]);
    assert_eq!(six.alphas_cumprod[0], Some(0.0));
}

#[test]
fn epsilon_at_zero_snr_divides_by_zero_at_the_first_step() {
    let config = ECHOMIMIC_V2.replace("v_prediction", "epsilon");
    let inspection = run(&config, 6);
    let finding = inspection.findings.iter().find(|f| f.code() == "R102").expect("R102");
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!((finding.subject.step, finding.subject.timestep), (Some(0), Some(999.0)));
}

#[test]
fn epsilon_at_zero_snr_with_leading_spacing_amplifies_and_skips_the_terminal_timestep() {
    let config = ECHOMIMIC_V2.replace("v_prediction", "epsilon").replace("trailing", "leading");
    let inspection = run(&config, 50);
    assert!(!codes(&inspection).contains(&"R102"));
    assert_eq!(severity_of(&inspection, "R103"), Some(Severity::Warning));
    assert_eq!(severity_of(&inspection, "R116"), Some(Severity::Warning));
    let r103 = inspection.findings.iter().find(|f| f.code() == "R103").unwrap();
    assert_eq!(r103.subject.timestep, Some(981.0));
}

#[test]
fn amplification_is_info_when_clip_sample_bounds_x0() {
    let inspection = inspect(
        &parse(r#"{"beta_schedule": "squaredcos_cap_v2", "timestep_spacing": "trailing"}"#),
        &InspectOptions { steps: 10, latent: false, ..InspectOptions::default() },
    );
    assert_eq!(severity_of(&inspection, "R103"), Some(Severity::Info));
}

#[test]
fn unknown_keys_and_other_classes_are_info() {
    let inspection = run(r#"{"_class_name": "PNDMScheduler", "skip_prk_steps": true, "clip_sample": false}"#, 50);
    assert_eq!(severity_of(&inspection, "R105"), Some(Severity::Info));
    assert_eq!(severity_of(&inspection, "R106"), Some(Severity::Info));
}

#[test]
fn unsupported_values_are_errors_with_the_value_named() {
    let inspection = run(r#"{"beta_schedule": "sigmoid", "prediction_type": "flow", "clip_sample": false}"#, 50);
    let messages: Vec<&str> =
        inspection.findings.iter().filter(|f| f.code() == "R107").map(|f| f.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("\"sigmoid\"")));
    assert!(messages.iter().any(|m| m.contains("\"flow\"")));
    assert!(inspection.schedule.is_none(), "no betas, no schedule");

    let inspection = run(r#"{"timestep_spacing": "karras", "clip_sample": false}"#, 50);
    assert!(codes(&inspection).contains(&"R107"));
    assert!(inspection.schedule.is_none());

    let inspection = run(r#"{"clip_sample": true, "clip_sample_range": 0}"#, 50);
    assert!(codes(&inspection).contains(&"R107"));
}

#[test]
fn thresholding_is_an_error_for_latents_and_a_warning_for_pixels() {
    let json = r#"{"thresholding": true, "clip_sample": true}"#;
    let latent = run(json, 50);
    assert_eq!(severity_of(&latent, "R108"), Some(Severity::Error));
    assert!(codes(&latent).contains(&"R104"), "clip_sample under thresholding is ignored");
    let pixel = inspect(&parse(json), &InspectOptions { latent: false, ..InspectOptions::default() });
    assert_eq!(severity_of(&pixel, "R108"), Some(Severity::Warning));
}

#[test]
fn default_clip_sample_is_flagged_for_latents_only() {
    let latent = run("{}", 50);
    assert_eq!(severity_of(&latent, "R109"), Some(Severity::Warning));
    assert!(latent.findings.iter().any(|f| f.message.contains("missing")));
    let pixel = inspect(&parse("{}"), &InspectOptions { latent: false, ..InspectOptions::default() });
    assert!(!codes(&pixel).contains(&"R109"));
}

#[test]
fn ignored_options_are_listed() {
    let inspection = run(
        r#"{"clip_sample": false, "clip_sample_range": 2.0, "sample_max_value": 3.0,
            "trained_betas": [0.1, 0.2], "num_train_timesteps": 2, "beta_schedule": "linear"}"#,
        2,
    );
    let ignored: Vec<&str> =
        inspection.findings.iter().filter(|f| f.code() == "R104").map(|f| f.message.as_str()).collect();
    for key in ["clip_sample_range", "sample_max_value", "beta_schedule"] {
        assert!(ignored.iter().any(|m| m.starts_with(key)), "{key} not in {ignored:?}");
    }
}

#[test]
fn set_alpha_to_one_is_ignored_when_no_step_passes_timestep_zero() {
    let config = ECHOMIMIC_V2.replace("\"clip_sample\": false", "\"clip_sample\": false, \"set_alpha_to_one\": false");
    let six = run(&config, 6);
    assert!(six.findings.iter().any(|f| f.code() == "R104" && f.message.starts_with("set_alpha_to_one")));
    let thirty = run(&config, 30);
    assert!(!thirty.findings.iter().any(|f| f.code() == "R104" && f.message.starts_with("set_alpha_to_one")));
    assert!(codes(&thirty).contains(&"R113"), "30 steps end at the final ᾱ = ᾱ_0");
}

#[test]
fn too_many_steps_is_an_error_without_schedule() {
    let inspection = run(ECHOMIMIC_V2, 1001);
    assert_eq!(severity_of(&inspection, "R110"), Some(Severity::Error));
    assert!(inspection.schedule.is_none());
}

#[test]
fn trailing_float_arange_overshoot_is_reported_with_clean_neighbours() {
    let inspection = run(ECHOMIMIC_V2, 61);
    let finding = inspection.findings.iter().find(|f| f.code() == "R111").expect("R111");
    assert!(finding.message.contains("62 timesteps for 61 steps"), "{}", finding.message);
    assert!(finding.message.contains("[-1]"), "{}", finding.message);
    let clean = finding.evidence["clean_step_counts_nearby"].as_array().unwrap();
    assert!(clean.iter().any(|n| n == 60) && clean.iter().any(|n| n == 62));
    let schedule = inspection.schedule.unwrap();
    assert_eq!(schedule.alphas_cumprod.last(), Some(&None));
}

#[test]
fn leading_offset_past_the_table_is_reported() {
    let inspection = run(r#"{"steps_offset": 1, "clip_sample": false}"#, 1000);
    assert!(codes(&inspection).contains(&"R111"));
}

#[test]
fn final_step_without_offset_and_alpha_one_does_not_denoise() {
    let inspection = run(r#"{"set_alpha_to_one": false, "steps_offset": 0, "clip_sample": false}"#, 50);
    let finding = inspection.findings.iter().find(|f| f.code() == "R112").expect("R112");
    assert_eq!((finding.subject.step, finding.subject.timestep), (Some(49), Some(0.0)));
    assert!(
        !codes(&run(r#"{"set_alpha_to_one": false, "steps_offset": 1, "clip_sample": false}"#, 50)).contains(&"R112")
    );
}

#[test]
fn large_residual_noise_is_a_warning() {
    let sd = run(
        r#"{"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
                     "set_alpha_to_one": false, "steps_offset": 1, "clip_sample": false}"#,
        50,
    );
    assert_eq!(severity_of(&sd, "R113"), Some(Severity::Info));
    let grainy = run(r#"{"beta_start": 0.05, "set_alpha_to_one": false, "steps_offset": 1, "clip_sample": false}"#, 50);
    assert_eq!(severity_of(&grainy, "R113"), Some(Severity::Warning));
}

#[test]
fn one_step_with_linspace_or_leading_starts_at_a_clean_timestep() {
    for spacing in ["linspace", "leading"] {
        let json = format!(r#"{{"timestep_spacing": "{spacing}", "clip_sample": false}}"#);
        let inspection = run(&json, 1);
        let finding = inspection.findings.iter().find(|f| f.code() == "R117").expect(spacing);
        assert_eq!(finding.subject.timestep, Some(0.0));
    }
    let trailing = run(r#"{"timestep_spacing": "trailing", "clip_sample": false}"#, 1);
    assert!(!codes(&trailing).contains(&"R117"));
    assert!(!codes(&run(r#"{"timestep_spacing": "linspace", "clip_sample": false}"#, 2)).contains(&"R117"));
}

#[test]
fn model_prediction_mismatch_is_an_error() {
    let options = InspectOptions { model_prediction: Some(PredictionType::Epsilon), ..InspectOptions::default() };
    let inspection = inspect(&parse(ECHOMIMIC_V2), &options);
    assert_eq!(severity_of(&inspection, "R114"), Some(Severity::Error));
    let options = InspectOptions { model_prediction: Some(PredictionType::VPrediction), ..InspectOptions::default() };
    assert!(!codes(&inspect(&parse(ECHOMIMIC_V2), &options)).contains(&"R114"));
}

#[test]
fn invalid_betas_are_reported() {
    let over = run(r#"{"beta_end": 1.5, "clip_sample": false}"#, 50);
    assert_eq!(severity_of(&over, "R115"), Some(Severity::Error));
    let negative = run(r#"{"beta_start": 1.5, "beta_end": 1.5, "clip_sample": false}"#, 50);
    assert!(negative.findings.iter().any(|f| f.code() == "R115" && f.message.contains("ᾱ at timestep 0")));
    assert!(negative.schedule.is_none(), "negative ᾱ: no schedule");
    let inverted = run(r#"{"beta_start": 0.02, "beta_end": 0.0001, "clip_sample": false}"#, 50);
    assert_eq!(severity_of(&inverted, "R115"), Some(Severity::Warning));
    let short = run(r#"{"trained_betas": [0.1, 0.2], "clip_sample": false}"#, 50);
    assert_eq!(severity_of(&short, "R115"), Some(Severity::Error));
    assert!(short.schedule.is_none());
}

proptest! {
    #[test]
    fn config_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = SchedulerConfig::from_json(&bytes);
    }

    #[test]
    fn inspect_never_panics(
        train in 1usize..1200,
        steps in 1usize..1300,
        start in -0.5f64..1.5,
        end in -0.5f64..1.5,
        schedule in 0usize..4,
        spacing in 0usize..4,
        prediction in 0usize..4,
        offset in -1500i64..1500,
        zero_snr in any::<bool>(),
        alpha_one in any::<bool>(),
        clip in any::<bool>(),
    ) {
        let config = SchedulerConfig {
            num_train_timesteps: train,
            beta_start: start,
            beta_end: end,
            beta_schedule: super::BetaSchedule::parse(["linear", "scaled_linear", "squaredcos_cap_v2", "x"][schedule]),
            timestep_spacing: super::TimestepSpacing::parse(["leading", "trailing", "linspace", "x"][spacing]),
            prediction_type: PredictionType::parse(["epsilon", "v_prediction", "sample", "x"][prediction]),
            steps_offset: offset,
            rescale_betas_zero_snr: zero_snr,
            set_alpha_to_one: alpha_one,
            clip_sample: clip,
            ..SchedulerConfig::default()
        };
        let inspection = inspect(&config, &InspectOptions { steps, ..InspectOptions::default() });
        if steps > train {
            prop_assert!(inspection.schedule.is_none());
        }
    }
}
