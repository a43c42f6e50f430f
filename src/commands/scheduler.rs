//! `scheduler CONFIG.json`: a diffusers scheduler configuration's hazards and
//! the DDIM schedule it produces.

use std::path::PathBuf;

use serde_json::Value;

use super::{CommandError, require_existing};
use crate::replay::scheduler::{
    InspectOptions, PredictionType, ScheduleSummary, SchedulerConfig, inspect, load_config,
};
use crate::report::{Report, Section, SectionTable, fmt_num};

/// What `scheduler` inspects.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerOptions {
    /// A diffusers `scheduler_config.json`.
    pub config: PathBuf,
    /// Inference steps to lay out (diffusers pipelines default to 50).
    pub steps: u32,
    /// A latent model (SD family, EchoMimicV2) rather than a pixel-space one.
    pub latent: bool,
    /// What the denoiser was trained to predict; a different `prediction_type` is reported.
    pub model_prediction: Option<PredictionType>,
}

impl SchedulerOptions {
    pub fn new(config: PathBuf) -> Self {
        SchedulerOptions { config, steps: 50, latent: true, model_prediction: None }
    }
}

/// Inspects the configuration and returns the `scheduler` report (`config`
/// and `schedule` sections). An unreadable configuration is a finding.
pub fn scheduler(options: &SchedulerOptions) -> Result<Report, CommandError> {
    require_existing(&[&options.config])?;
    if options.steps == 0 {
        return Err(CommandError::InvalidOption("--steps must be 1 or more".into()));
    }
    let file = options.config.display().to_string();
    let mut report = Report::new("scheduler", vec![file.clone()]);
    match load_config(&options.config) {
        Ok(config) => {
            let inspect_options = InspectOptions {
                steps: options.steps as usize,
                latent: options.latent,
                model_prediction: options.model_prediction.clone(),
                file: Some(file),
            };
            let inspection = inspect(&config, &inspect_options);
            report.set_counter("steps", u64::from(options.steps));
            report.sections.push(config_section(&config));
            report.sections.push(schedule_section(inspection.schedule.as_ref(), options.steps));
            report.findings = inspection.findings;
        }
        Err(finding) => report.findings.push(*finding),
    }
    report.sort_findings();
    Ok(report)
}

fn config_section(config: &SchedulerConfig) -> Section {
    let section = Section::typed("config", config);
    let rows = match &section.value {
        Value::Object(map) => {
            map.iter().filter(|(_, v)| !is_empty(v)).map(|(key, v)| vec![key.clone(), cell(v)]).collect()
        }
        _ => Vec::new(),
    };
    section.with_table(SectionTable {
        title: "Resolved configuration (DDIMScheduler)".into(),
        header: vec!["option".into(), "value".into()],
        rows,
        note: None,
    })
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
        return Section::typed("schedule", &None::<ScheduleSummary>).with_table(table);
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
    Section::typed("schedule", schedule).with_table(table)
}
