//! `nanscope trace DIR`

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::numerics::DType;
use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::rules::trace as rules;
use crate::trace::{AnalysisOptions, TraceOptions, TraceResult, trace_dump};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Dump folder written by a probe (or its manifest.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Warn when a module's |x| reaches this share of its dtype's largest finite value (R122).
    #[arg(long, value_name = "FRACTION", default_value_t = AnalysisOptions::default().headroom)]
    pub headroom: f64,
    /// Judge headroom against this dtype instead of each record's own (e.g. fp16 for an fp32 run).
    #[arg(long, value_enum, default_value_t = HeadroomDType::Auto)]
    pub headroom_dtype: HeadroomDType,
    /// How many near-overflow modules to name.
    #[arg(long, value_name = "N", default_value_t = AnalysisOptions::default().headroom_top)]
    pub headroom_top: usize,
    /// Modules whose -Inf-only outputs are intentional masks (repeatable; `*mask*` always applies).
    #[arg(long, value_name = "GLOB")]
    pub allow_neg_inf: Vec<String>,
    /// Recompute statistics from every payload tensor, not only for records that lack them.
    #[arg(long)]
    pub recompute_stats: bool,
    /// Draw the per-step timeline (absmax against the fp16 limit, non-finite share) as DIR/timeline.png.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeadroomDType {
    Auto,
    Fp16,
    Bf16,
}

pub fn run(args: TraceArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    super::inputs::require_existing(&[&args.dir])?;
    if std::fs::read_dir(&args.dir).is_ok_and(|mut entries| entries.next().is_none()) {
        return Err(super::inputs::nothing_to_check(&[&args.dir], "dump (the folder is empty)"));
    }
    anyhow::ensure!(args.headroom > 0.0 && args.headroom <= 1.0, "--headroom must be in (0, 1], got {}", args.headroom);
    let mut analysis = AnalysisOptions {
        headroom: args.headroom,
        headroom_dtype: match args.headroom_dtype {
            HeadroomDType::Auto => None,
            HeadroomDType::Fp16 => Some(DType::F16),
            HeadroomDType::Bf16 => Some(DType::BF16),
        },
        headroom_top: args.headroom_top,
        ..AnalysisOptions::default()
    };
    analysis.allow_neg_inf.extend(args.allow_neg_inf);
    let options = TraceOptions { analysis, recompute_stats: args.recompute_stats };
    let result = trace_dump(&args.dir, &options);
    if checked_nothing(&result) {
        return Err(super::inputs::nothing_to_check(&[&args.dir], "records (the probe saw no module run: R127)"));
    }
    let plot = match &args.plot {
        Some(dir) => Some(plot_timeline(&result.analysis.stages, &format!("trace {}", args.dir.display()), dir)?),
        None => None,
    };
    let mut report = build_report(result, args.dir.display().to_string());
    add_plot_section(&mut report, plot);
    emit(&report, global)
}

/// A dump that was read but holds no record: only the empty-dump finding
/// (and perhaps the incomplete-dump one) came out of it.
fn checked_nothing(result: &TraceResult) -> bool {
    let about_emptiness = |f: &crate::report::Finding| f.is(&rules::EMPTY_DUMP) || f.is(&rules::INCOMPLETE_DUMP);
    result.manifest.is_some()
        && result.analysis.records.total == 0
        && result.findings.iter().chain(&result.analysis.findings).all(about_emptiness)
}

/// Writes DIR/timeline.png for `trace --plot` and `replay --plot`.
pub(super) fn plot_timeline(rows: &[crate::trace::StageRow], title: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create plot folder {}", dir.display()))?;
    let path = dir.join("timeline.png");
    crate::trace::plot::timeline_chart(rows, title, &path)
        .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))?;
    Ok(path)
}

/// Lists a written plot in the report (`plots` in JSON, a line for people).
pub(super) fn add_plot_section(report: &mut Report, plot: Option<PathBuf>) {
    let Some(path) = plot else { return };
    let shown = path.display().to_string();
    report.sections.push(Section {
        key: "plots".into(),
        value: json!([shown]),
        table: Some(SectionTable {
            title: "Plots".into(),
            header: vec!["file".into()],
            rows: vec![vec![shown]],
            note: None,
        }),
    });
}

pub(super) fn build_report(result: TraceResult, input: String) -> Report {
    let mut report = Report::new("trace", vec![input]);
    let analysis = result.analysis;
    report.set_counter("records", analysis.records.total);
    report.set_counter("nonfinite_records", analysis.records.nonfinite);
    report.set_counter("steps", analysis.records.steps);
    let num = |x: Option<f64>| x.map(fmt_num).unwrap_or_else(|| "-".into());
    let opt = |x: Option<u64>| x.map_or("-".to_string(), |v| v.to_string());
    let stage_rows = analysis
        .stages
        .iter()
        .map(|row| {
            vec![
                opt(row.step),
                num(row.timestep),
                row.stage.clone().unwrap_or_else(|| "-".into()),
                row.records.to_string(),
                row.nonfinite_records.to_string(),
                format!("{:.1}%", row.nan_share * 100.0),
                num(row.absmax),
                num(row.latents_absmax),
                row.first_nonfinite_module.clone().unwrap_or_default(),
            ]
        })
        .collect();
    report.sections.push(Section {
        key: "stages".into(),
        value: serde_json::to_value(&analysis.stages).unwrap_or_default(),
        table: Some(SectionTable {
            title: "Timeline".into(),
            header: [
                "step",
                "timestep",
                "stage",
                "records",
                "non-finite",
                "NaN share",
                "absmax",
                "latents absmax",
                "first non-finite",
            ]
            .map(String::from)
            .to_vec(),
            rows: stage_rows,
            note: None,
        }),
    });
    let records = &analysis.records;
    let record_rows = records
        .first_nonfinite
        .iter()
        .map(|r| {
            vec![
                r.seq.to_string(),
                opt(r.step),
                r.stage.clone().unwrap_or_else(|| "-".into()),
                r.module.clone(),
                r.dtype.clone(),
                opt(r.stats.nan),
                opt(r.stats.pos_inf),
                opt(r.stats.neg_inf),
                opt(r.stats.count),
                r.role.to_string(),
            ]
        })
        .collect();
    let mut value = serde_json::to_value(records).unwrap_or_default();
    if let (Some(obj), Some(manifest)) = (value.as_object_mut(), &result.manifest) {
        obj.insert("level".into(), json!(manifest.level.as_str()));
        obj.insert("complete".into(), json!(manifest.complete));
        obj.insert("writer".into(), json!(manifest.writer));
        obj.insert("recomputed".into(), json!(result.recomputed));
        obj.insert("near_overflow".into(), json!(analysis.near_overflow));
    }
    let hidden = records.nonfinite.saturating_sub(records.first_nonfinite.len() as u64);
    report.sections.push(Section {
        key: "records".into(),
        value,
        table: Some(SectionTable {
            title: "First non-finite records".into(),
            header: ["seq", "step", "stage", "module", "dtype", "NaN", "+Inf", "-Inf", "count", "role"]
                .map(String::from)
                .to_vec(),
            rows: record_rows,
            note: (hidden > 0).then(|| format!("{hidden} more non-finite records")),
        }),
    });
    report.findings = result.findings;
    report.findings.extend(analysis.findings);
    report.sort_findings();
    report
}
