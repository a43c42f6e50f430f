//! `nanscope scheduler CONFIG.json`: a diffusers scheduler configuration's
//! hazards and the DDIM schedule it produces.

use std::path::PathBuf;

use crate::replay::scheduler::{
    InspectOptions, PredictionType, ScheduleSummary, SchedulerConfig, inspect, load_config,
};
use crate::report::{Report, Section, SectionTable, fmt_num};
use clap::{Args, ValueEnum};
use serde_json::Value;

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// A diffusers `scheduler_config.json`.
    #[arg(value_name = "CONFIG.json")]
    pub config: PathBuf,
    /// Inference steps to lay out (diffusers pipelines default to 50).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub steps: u32,
    /// Whether the scheduler drives a latent model (SD family, EchoMimicV2) or a pixel-space one.
    #[arg(long, value_enum, default_value_t = SpaceArg::Latent)]
    pub space: SpaceArg,
    /// What the denoiser was trained to predict; a different `prediction_type` is reported (R114).
    #[arg(long, value_enum, value_name = "TYPE")]
    pub model_prediction: Option<PredictionArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpaceArg {
    Latent,
    Pixel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictionArg {
    Epsilon,
    #[value(name = "v_prediction", alias = "v")]
    VPrediction,
    Sample,
}

pub fn run(args: SchedulerArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    super::inputs::require_existing(&[&args.config])?;
    let file = args.config.display().to_string();
    let mut report = Report::new("scheduler", vec![file.clone()]);
    match load_config(&args.config) {
        Ok(config) => {
            let options = InspectOptions {
                steps: args.steps as usize,
                latent: args.space == SpaceArg::Latent,
                model_prediction: args.model_prediction.map(|p| match p {
                    PredictionArg::Epsilon => PredictionType::Epsilon,
                    PredictionArg::VPrediction => PredictionType::VPrediction,
                    PredictionArg::Sample => PredictionType::Sample,
                }),
                file: Some(file),
            };
            let inspection = inspect(&config, &options);
            report.set_counter("steps", u64::from(args.steps));
            report.sections.push(config_section(&config));
            report.sections.push(schedule_section(inspection.schedule.as_ref(), args.steps));
            report.findings = inspection.findings;
        }
        Err(finding) => report.findings.push(*finding),
    }
    report.sort_findings();
    emit(&report, global)
}

fn config_section(config: &SchedulerConfig) -> Section {
    let value = serde_json::to_value(config).unwrap_or_default();
    let rows = match &value {
        Value::Object(map) => {
            map.iter().filter(|(_, v)| !is_empty(v)).map(|(key, v)| vec![key.clone(), cell(v)]).collect()
        }
        _ => Vec::new(),
    };
    let table = SectionTable {
        title: "Resolved configuration (DDIMScheduler)".into(),
        header: vec!["option".into(), "value".into()],
        rows,
        note: None,
    };
    Section { key: "config".into(), value, table: Some(table) }
}

/// Unset options and an empty `unknown_keys` stay out of the table.
fn is_empty(value: &Value) -> bool {
    value.is_null() || value.as_object().is_some_and(|m| m.is_empty())
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.len() > 4 => format!("[{} values]", items.len()),
        other => other.to_string(),
    }
}

fn schedule_section(schedule: Option<&ScheduleSummary>, steps: u32) -> Section {
    let Some(schedule) = schedule else {
        let table = SectionTable {
            title: "Schedule".into(),
            note: Some(format!("no schedule for {steps} steps: see the findings")),
            ..SectionTable::default()
        };
        return Section { key: "schedule".into(), value: Value::Null, table: Some(table) };
    };
    let num = |x: Option<f64>| x.map_or_else(|| "-".to_string(), fmt_num);
    // Sigma and the epsilon gain are infinite where ᾱ is 0; JSON carries null.
    let unbounded = |x: Option<f64>, alpha: Option<f64>| match (x, alpha) {
        (None, Some(0.0)) => "inf".to_string(),
        _ => num(x),
    };
    let rows = schedule
        .per_step
        .iter()
        .map(|s| {
            vec![
                s.step.to_string(),
                s.timestep.to_string(),
                s.prev_timestep.to_string(),
                num(s.alpha_cumprod),
                num(s.alpha_cumprod_prev),
                num(s.snr),
                unbounded(s.sigma, s.alpha_cumprod),
                unbounded(s.model_output_gain, s.alpha_cumprod),
            ]
        })
        .collect();
    let table = SectionTable {
        title: format!("Schedule ({} steps)", schedule.steps),
        header: ["step", "timestep", "to", "ᾱ", "ᾱ to", "SNR", "sigma", "output gain"].map(String::from).to_vec(),
        rows,
        note: Some(format!(
            "final ᾱ {}, init noise sigma {}; \"to\" is the timestep each step moves to (negative: the final ᾱ)",
            fmt_num(schedule.final_alpha_cumprod),
            fmt_num(schedule.init_noise_sigma)
        )),
    };
    Section { key: "schedule".into(), value: serde_json::to_value(schedule).unwrap_or_default(), table: Some(table) }
}
