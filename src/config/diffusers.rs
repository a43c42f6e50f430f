//! diffusers-shaped configurations: EchoMimicV2's inference YAML (UNet
//! options and scheduler kwargs), `model_index.json` and
//! `scheduler_config.json`. Scheduler options go through the same checks
//! as `nanscope scheduler` (family `R`).

use std::path::Path;

use super::check::{ConfigOptions, Setting};
use super::findings;
use super::yaml::Node;
use crate::replay::scheduler::{InspectOptions, SchedulerConfig, inspect};
use crate::report::Finding;

/// Steps the scheduler is laid out for when `--set steps=N` is not given:
/// EchoMimicV2's normal pipeline.
const DEFAULT_STEPS: usize = 30;

/// `configs/inference/inference_v2.yaml`.
pub(crate) fn inference(doc: &Node, file: &str, options: &ConfigOptions) -> (Vec<Finding>, Vec<Setting>) {
    let mut out = findings::Sink::new(file);
    let mut settings = Vec::new();
    if let Some(unet) = doc.get("unet_additional_kwargs") {
        let entry = unet.entry("use_motion_module");
        let value = entry.map(|e| &e.value);
        settings.push(Setting::new(
            "unet_additional_kwargs.use_motion_module",
            value.map_or_else(|| "-".into(), Node::display),
            "temporal layers are built only when true".into(),
            entry.map(|e| e.line),
        ));
        if value != Some(&Node::Bool(true)) {
            let why = if value.is_none() { "is not set" } else { "is not true" };
            out.push(findings::motion_module_absent(
                "unet_additional_kwargs.use_motion_module",
                entry.map(|e| e.line),
                why,
            ));
        }
    }
    if let Some(entry) = doc.entry("noise_scheduler_kwargs") {
        let json = entry.value.to_json().to_string();
        for mut finding in scheduler(&json, file, Some(entry.line), options) {
            if finding.subject.key.is_none() {
                finding.subject.key = Some("noise_scheduler_kwargs".into());
            }
            out.push(finding);
        }
    }
    (out.findings, settings)
}

/// A scheduler configuration's hazards, through `nanscope scheduler`'s checks.
pub(crate) fn scheduler(json: &str, file: &str, line: Option<u64>, options: &ConfigOptions) -> Vec<Finding> {
    let config = match SchedulerConfig::from_json(json.as_bytes()) {
        Ok(config) => config,
        Err(err) => return vec![findings::unreadable(file, line, &err.to_string())],
    };
    let steps =
        options.set.iter().find(|(k, _)| k == "steps").and_then(|(_, v)| v.parse().ok()).unwrap_or(DEFAULT_STEPS);
    let inspect_options =
        InspectOptions { steps: steps.max(1), file: Some(file.to_string()), ..InspectOptions::default() };
    inspect(&config, &inspect_options).findings
}

/// `model_index.json`: every component it lists must sit beside it with its
/// own configuration.
pub(crate) fn model_index(
    doc: &Node,
    file: &str,
    folder: &Path,
    options: &ConfigOptions,
) -> (Vec<Finding>, Vec<Setting>) {
    let mut out = findings::Sink::new(file);
    let mut settings = Vec::new();
    let Node::Map(entries) = doc else { return (out.findings, settings) };
    for entry in entries.iter().filter(|e| !e.key.starts_with('_')) {
        let Node::Seq(pair) = &entry.value else { continue };
        let (Some(library), Some(class)) = (pair.first().and_then(Node::as_str), pair.get(1).and_then(Node::as_str))
        else {
            settings.push(Setting::new(&entry.key, "null".into(), "component disabled".into(), Some(entry.line)));
            continue;
        };
        let dir = folder.join(&entry.key);
        let shown = dir.display().to_string();
        let config = std::fs::read_dir(&dir)
            .ok()
            .and_then(|files| files.flatten().map(|f| f.path()).find(|p| p.extension().is_some_and(|e| e == "json")));
        let meaning = match (&config, dir.is_dir()) {
            (Some(_), _) => "found",
            (None, true) => "folder without configuration",
            (None, false) => "missing",
        };
        settings.push(Setting::new(&entry.key, format!("{library}.{class}"), meaning.into(), Some(entry.line)));
        match config {
            None if dir.is_dir() => {
                out.push(findings::component_missing(&entry.key, Some(entry.line), &shown, "holds no configuration"));
            }
            None => out.push(findings::component_missing(&entry.key, Some(entry.line), &shown, "does not exist")),
            Some(path) if class.ends_with("Scheduler") => {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    for finding in scheduler(&text, &path.display().to_string(), None, options) {
                        out.findings.push(finding);
                    }
                }
            }
            Some(_) => {}
        }
    }
    (out.findings, settings)
}
