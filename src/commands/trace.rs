//! `trace DIR`: the first non-finite module and step in a probe's dump, and
//! the report pieces `replay` shares (the timeline, the records, plots).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{CommandError, nothing_to_check, plots_section, require_existing};
use crate::report::{Finding, Report, Section, SectionTable, fmt_num};
use crate::rules::trace as rules;
use crate::trace::{self as domain, NearOverflow, RecordsSummary, StageRow, TraceResult, WriterInfo, trace_dump};

/// What `trace` reads and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TraceOptions {
    /// The dump folder written by a probe (or its manifest.json).
    pub dir: PathBuf,
    pub trace: domain::TraceOptions,
    /// Draw the per-step timeline as `plot/timeline.png`.
    pub plot: Option<PathBuf>,
}

impl TraceOptions {
    pub fn new(dir: PathBuf) -> Self {
        TraceOptions { dir, ..TraceOptions::default() }
    }
}

/// Traces the dump and returns the `trace` report (`stages`, `records` and
/// optionally `plots` sections).
pub fn trace(options: &TraceOptions) -> Result<Report, CommandError> {
    let dir = &options.dir;
    require_existing(&[dir])?;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none()) {
        return Err(nothing_to_check(&[dir], "dump (the folder is empty)"));
    }
    let headroom = options.trace.analysis.headroom;
    if !(headroom > 0.0 && headroom <= 1.0) {
        return Err(CommandError::InvalidOption(format!("--headroom must be in (0, 1], got {headroom}")));
    }
    let result = trace_dump(dir, &options.trace);
    if checked_nothing(&result) {
        return Err(nothing_to_check(&[dir], "records (the probe saw no module run: R127)"));
    }
    let plot = match &options.plot {
        Some(plot_dir) => Some(plot_timeline(&result.analysis.stages, &format!("trace {}", dir.display()), plot_dir)?),
        None => None,
    };
    let mut report = trace_report(result, dir.display().to_string());
    add_plot_section(&mut report, plot);
    Ok(report)
}

/// A dump that was read but holds no record: only the empty-dump finding
/// (and perhaps the incomplete-dump one) came out of it.
fn checked_nothing(result: &TraceResult) -> bool {
    let about_emptiness = |f: &Finding| f.is(&rules::EMPTY_DUMP) || f.is(&rules::INCOMPLETE_DUMP);
    result.manifest.is_some()
        && result.analysis.records.total == 0
        && result.findings.iter().chain(&result.analysis.findings).all(about_emptiness)
}

/// Writes `dir/timeline.png` for `trace` and `replay`.
pub(crate) fn plot_timeline(rows: &[StageRow], title: &str, dir: &Path) -> Result<PathBuf, CommandError> {
    std::fs::create_dir_all(dir).map_err(|source| CommandError::Write {
        message: format!("cannot create plot folder {}", dir.display()),
        source,
    })?;
    let path = dir.join("timeline.png");
    crate::trace::plot::timeline_chart(rows, title, &path)
        .map_err(|detail| CommandError::Draw { path: path.clone(), detail })?;
    Ok(path)
}

/// Lists a written plot in the report (`plots` in JSON, a line for people).
pub(crate) fn add_plot_section(report: &mut Report, plot: Option<PathBuf>) {
    if let Some(path) = plot {
        report.sections.push(plots_section(&[path]));
    }
}

/// The `records` section: the records summary, and what the dump's manifest
/// says about how it was written (absent for a replay, which has no manifest).
#[derive(Serialize)]
struct RecordsSection<'a> {
    #[serde(flatten)]
    records: &'a RecordsSummary,
    #[serde(flatten)]
    dump: Option<DumpFacts<'a>>,
}

#[derive(Serialize)]
struct DumpFacts<'a> {
    level: &'static str,
    complete: bool,
    writer: &'a Option<WriterInfo>,
    recomputed: u64,
    near_overflow: &'a [NearOverflow],
}

/// The report of a traced dump, also the base of `replay`'s.
pub(crate) fn trace_report(result: TraceResult, input: String) -> Report {
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
    report.sections.push(
        Section::typed("stages", &analysis.stages).with_table(SectionTable {
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
    );
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
    let section = RecordsSection {
        records,
        dump: result.manifest.as_ref().map(|manifest| DumpFacts {
            level: manifest.level.as_str(),
            complete: manifest.complete,
            writer: &manifest.writer,
            recomputed: result.recomputed,
            near_overflow: &analysis.near_overflow,
        }),
    };
    let hidden = records.nonfinite.saturating_sub(records.first_nonfinite.len() as u64);
    report.sections.push(
        Section::typed("records", &section).with_table(SectionTable {
            title: "First non-finite records".into(),
            header: ["seq", "step", "stage", "module", "dtype", "NaN", "+Inf", "-Inf", "count", "role"]
                .map(String::from)
                .to_vec(),
            rows: record_rows,
            note: (hidden > 0).then(|| format!("{hidden} more non-finite records")),
        }),
    );
    report.findings = result.findings;
    report.findings.extend(analysis.findings);
    report.sort_findings();
    report
}
