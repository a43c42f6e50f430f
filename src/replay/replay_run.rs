//! One `nanscope replay`: the spec with the command line's overrides, the
//! run through the analysing probe, the decoded frames, and the optional
//! bisection.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::json;

use super::analyzing_probe::AnalyzingProbe;
use super::bisect::{BisectOutcome, bisect};
use super::engine::{ComputeDType, EngineError, Precision, Tracer};
use super::pipeline::run;
use super::spec::Spec;
use crate::numerics::QuantScheme;
use crate::report::{Finding, Subject};
use crate::rules::replay_engine as rules;
use crate::trace::{Analysis, AnalysisOptions, DumpLevel, DumpWriter, WriterInfo};

/// Command-line overrides of a spec.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReplayOptions {
    pub dump_dir: Option<PathBuf>,
    pub dump_level: Option<DumpLevel>,
    pub dtype: Option<ComputeDType>,
    pub quantize: Option<String>,
    pub quantize_modules: Vec<String>,
    pub bisect: bool,
    /// Observe module outputs at all; off only to measure the probe's cost.
    pub probe: bool,
    pub analysis: AnalysisOptions,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            dump_dir: None,
            dump_level: None,
            dtype: None,
            quantize: None,
            quantize_modules: Vec::new(),
            bisect: false,
            probe: true,
            analysis: AnalysisOptions::default(),
        }
    }
}

pub struct ReplayResult {
    pub findings: Vec<Finding>,
    pub analysis: Analysis,
    pub nonfinite_frames_values: u64,
    pub steps: usize,
    pub dtype: ComputeDType,
    pub quantize: Option<String>,
    pub bisect: Option<BisectOutcome>,
    pub dump_dir: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

/// The precision plan of a spec after the overrides.
pub fn precision_plan(spec: &Spec, options: &ReplayOptions) -> Result<Precision, EngineError> {
    let mut precision = Precision { dtype: options.dtype.unwrap_or(spec.dtype), ..Precision::default() };
    if let Some(q) = &spec.quantization {
        precision.quantize = Some(scheme(&q.scheme)?);
        precision.include = q.include.clone();
        precision.exclude = q.exclude.clone();
    }
    if let Some(name) = &options.quantize {
        precision.quantize = if name == "none" { None } else { Some(scheme(name)?) };
    }
    if !options.quantize_modules.is_empty() {
        precision.include = options.quantize_modules.clone();
    }
    Ok(precision)
}

fn scheme(name: &str) -> Result<QuantScheme, EngineError> {
    QuantScheme::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = QuantScheme::ALL.iter().map(|s| s.name()).collect();
        EngineError::Input(format!("unknown quantization scheme {name:?} (known: {}, none)", known.join(", ")))
    })
}

pub fn replay(spec: &Spec, options: &ReplayOptions) -> Result<ReplayResult, EngineError> {
    let precision = precision_plan(spec, options)?;
    let dump_dir = options.dump_dir.clone().or_else(|| spec.dump.dir.clone());
    let level = options.dump_level.or(spec.dump.level).unwrap_or_default();
    let writer = match &dump_dir {
        Some(dir) => Some(DumpWriter::create(
            dir,
            level,
            WriterInfo {
                name: "nanscope replay".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
                backend: Some("candle".into()),
            },
        )?),
        None => None,
    };
    let mut probe = AnalyzingProbe::new(writer, options.analysis.clone());
    let output = {
        let mut tracer =
            Tracer::new(if options.probe { Some(&mut probe as &mut dyn crate::trace::Probe) } else { None });
        run(spec, &precision, &mut tracer)?
    };
    let analysis = probe.into_analysis();
    if let Some(path) = spec.output.as_ref().filter(|_| output.steps > 0) {
        // (frames, 3, h, w) → (1, 3, frames, h, w): the `b c f h w` layout of
        // diffusers' and EchoMimicV2's `videos`, which `video encode` reads.
        let write_error = |e: candle_core::Error| EngineError::Read {
            path: path.display().to_string(),
            why: EngineError::from(e).to_string(),
        };
        let videos = output.frames.transpose(0, 1).and_then(|t| t.unsqueeze(0)?.contiguous()).map_err(write_error)?;
        let map: HashMap<String, candle_core::Tensor> = [("videos".to_string(), videos)].into();
        candle_core::safetensors::save(&map, path).map_err(write_error)?;
    }
    let mut findings = output.findings.clone();
    // A run stopped before its first module (weights the model did not
    // get) has its cause in `output.findings`; an empty trace adds nothing.
    if output.steps > 0 {
        findings.extend(analysis.findings.iter().cloned());
    }
    let bisect = if options.bisect {
        let outcome = bisect(spec, &precision)?;
        findings.push(bisect_finding(&outcome, &precision));
        Some(outcome)
    } else {
        None
    };
    Ok(ReplayResult {
        findings,
        analysis,
        nonfinite_frames_values: output.nonfinite,
        steps: output.steps,
        dtype: precision.dtype,
        quantize: precision.quantize.map(|q| q.name().to_string()),
        bisect,
        dump_dir,
        output: spec.output.clone(),
    })
}

/// The exclude list as a Python list literal.
pub fn python_list(modules: &[String]) -> String {
    let items: Vec<String> = modules.iter().map(|m| format!("'{m}'")).collect();
    format!("[{}]", items.join(", "))
}

fn bisect_finding(outcome: &BisectOutcome, precision: &Precision) -> Finding {
    let what = if precision.quantize.is_some() { "unquantized and in fp32" } else { "in fp32" };
    let finding = if outcome.already_finite {
        Finding::new(&rules::BISECT_NOT_NEEDED, "the replay's frames are finite; nothing to bisect")
    } else if !outcome.fixed {
        Finding::new(
            &rules::BISECT_NO_FIX,
            format!("even with all {} candidate modules kept {what} the frames are not finite", outcome.candidates),
        )
    } else {
        let mut f = Finding::new(
            &rules::BISECT_KEEP,
            format!(
                "keep {} of {} modules {what} and the frames are finite: {}",
                outcome.keep.len(),
                outcome.candidates,
                outcome.keep.join(", ")
            ),
        )
        .with_help(format!("exclude list: {}", python_list(&outcome.keep)));
        if let [only] = outcome.keep.as_slice() {
            f = f.with_subject(Subject { module: Some(only.clone()), ..Subject::default() });
        }
        f.with_evidence("exclude", json!(outcome.keep)).with_evidence("exclude_python", python_list(&outcome.keep))
    };
    finding.with_evidence("candidates", outcome.candidates).with_evidence("trials", outcome.trials)
}
