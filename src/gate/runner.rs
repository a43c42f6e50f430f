//! `nanscope gate`: every named check of the configuration, its rule
//! selection and severities, the suppressions and the baselines, in one report.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::baseline::{self, Baseline, FindingKey};
use super::config::{Check, Kind, Loaded};
use super::{Shard, glob};
use crate::report::{FAIL_ON_EVIDENCE, FailOn, Finding, Report, Section, SectionTable, Subject, fmt_num};
use crate::rules::gate as rules;

/// How to run a gate.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct GateOptions {
    /// Record the run as the accepted baselines instead of comparing with them.
    pub update_baselines: bool,
    pub shard: Option<Shard>,
}

impl GateOptions {
    pub fn new(update_baselines: bool, shard: Option<Shard>) -> Self {
        GateOptions { update_baselines, shard }
    }
}

/// What a gate run produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GateOutcome {
    pub report: Report,
    /// Whether a check has a finding at or above its `fail-on`.
    pub failed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Tools(#[from] crate::video::ToolError),
    #[error(transparent)]
    Baseline(#[from] baseline::BaselineError),
    #[error(transparent)]
    Plot(#[from] super::compare_plot::ComparePlotError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error("cannot write golden render {path}: {source}")]
    Golden { path: String, source: std::io::Error },
}

/// A render compared with its golden render.
#[derive(Debug, Clone, Serialize)]
pub struct VideoBaseline {
    pub check: String,
    pub file: String,
    pub golden: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<super::compare::Comparison>,
    pub candidate: super::compare::VideoSide,
    pub reference: super::compare::VideoSide,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plot: Option<String>,
}

/// One check's line of the report's `checks` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckSummary {
    pub name: String,
    pub kind: Kind,
    /// The inputs checked (as findings name them).
    pub files: Vec<String>,
    pub fail_on: FailOn,
    pub findings: usize,
    pub baselined: usize,
    pub suppressed: usize,
    pub failed: bool,
}

/// A finding a suppression or the baseline took out of the count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    pub check: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub message: String,
    /// The suppression's reason, or `baseline`.
    pub reason: String,
}

/// One `[[gate.allow]]` and whether it matched a finding of this run (the
/// report's `suppressions` section: `merge` reports the suppressions no
/// shard used, as one run would).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressionUse {
    pub code: String,
    pub path: String,
    pub reason: String,
    pub used: bool,
    /// The gate's own `fail-on`, which judges an unused suppression (G121).
    pub fail_on: FailOn,
}

pub fn run(config: &Loaded, options: &GateOptions) -> Result<GateOutcome, GateError> {
    let gate = &config.gate;
    let root = config.root.as_path();
    let relative = |file: &str| relative_to(root, file);
    let baselines = root.join(&gate.baselines);
    let mut tools = None;
    let mut report = Report::new("gate", vec![config.path.display().to_string()]);
    let mut summaries = Vec::new();
    let mut accepted = Vec::new();
    let mut failed = false;
    let mut used = vec![false; gate.allows.len()];
    let mut files_total = 0u64;
    let mut videos = Vec::new();
    for check in &gate.checks {
        let matched = expand(root, &check.paths);
        let inputs = super::partition(matched.clone(), options.shard, |p| p.as_path());
        let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        files_total += inputs.len() as u64;
        let mut findings = Vec::new();
        let mut prints = Vec::new();
        let mut absmax: Vec<baseline::StageAbsmax> = Vec::new();
        let mut modules: Vec<baseline::ModuleAbsmax> = Vec::new();
        // Findings about a check as a whole are the first shard's.
        let first_shard = options.shard.is_none_or(|s| s.is_first());
        if matched.is_empty() {
            if first_shard {
                findings.push(matched_nothing(check));
            }
        } else if !inputs.is_empty() {
            let KindOutput { findings: found, tensors, absmax: stages, modules: rows } =
                run_kind(check.kind, &inputs, &mut tools)?;
            absmax = stages.into_iter().map(|s| baseline::StageAbsmax { dump: relative(&s.dump), ..s }).collect();
            modules = rows.into_iter().map(|m| baseline::ModuleAbsmax { dump: relative(&m.dump), ..m }).collect();
            findings = found;
            let tools = tools.as_ref();
            if let (Some(goldens), Some(tools)) = (&check.goldens, tools) {
                let goldens = root.join(goldens);
                let (found, compared) =
                    compare_goldens(tools, check, root, &goldens, &inputs, options.update_baselines)?;
                findings.extend(found);
                videos.extend(compared);
            }
            prints = baseline::fingerprint(&tensors, &relative);
        }
        let mut findings = select(check, findings);
        let path = baseline::path(&baselines, &check.name);
        let mut baselined = Vec::new();
        if check.baseline && !options.update_baselines && !matched.is_empty() {
            match baseline::read(&path)? {
                Some(recorded) => {
                    if !recorded.tensors.is_empty() || !prints.is_empty() {
                        let label = |f: &str| root.join(f).display().to_string();
                        findings.extend(select(
                            check,
                            baseline::compare_prints(&recorded.tensors, &prints, check.tolerance, &label),
                        ));
                    }
                    let drift = if recorded.modules.is_empty() && !recorded.absmax.is_empty() {
                        // A baseline from before per-module records: compared per stage, and to be re-recorded.
                        if first_shard && check.kind == Kind::Trace {
                            findings.push(no_baseline(&check.name, &path, None, Some(OLDER_TRACE_BASELINE)));
                        }
                        baseline::compare_absmax(&recorded.absmax, &absmax)
                    } else {
                        baseline::compare_modules(&recorded.modules, &modules)
                    };
                    let drift = drift.into_iter().map(|f| {
                        let file = f.subject.file.as_deref().map(|d| root.join(d).display().to_string());
                        let subject = crate::report::Subject { file, ..f.subject.clone() };
                        f.with_subject(subject)
                    });
                    findings.extend(select(check, drift.collect()));
                    let (new, old) = baseline::split_accepted(findings, &recorded.findings, &relative);
                    findings = new;
                    baselined = old;
                }
                None if first_shard => findings.push(no_baseline(&check.name, &path, None, None)),
                None => {}
            }
        }
        let mut suppressed = 0;
        let mut kept = Vec::new();
        for finding in findings {
            let file = finding.subject.file.as_deref().map(&relative);
            let allow = gate.allows.iter().position(|a| {
                crate::rules::by_code(&a.code).is_some_and(|rule| finding.is(rule))
                    && file.as_deref().map_or(a.path == "**", |f| glob::matches(&a.path, f))
            });
            match allow {
                Some(at) => {
                    used[at] = true;
                    suppressed += 1;
                    accepted.push(accepted_entry(check, &finding, &gate.allows[at].reason));
                }
                None => kept.push(finding),
            }
        }
        let fail_on = check.fail_on.unwrap_or(gate.fail_on);
        // Each finding carries its check's `fail-on`, so that a merged report is judged as one run.
        let carried = if options.update_baselines { FailOn::Never } else { fail_on };
        let kept: Vec<Finding> = kept
            .into_iter()
            .map(|f| f.with_evidence("check", check.name.as_str()).with_evidence(FAIL_ON_EVIDENCE, carried.as_str()))
            .collect();
        if options.update_baselines && check.baseline {
            let keys: Vec<FindingKey> = kept.iter().chain(&baselined).map(|f| FindingKey::of(f, &relative)).collect();
            baseline::write(&path, &Baseline { findings: keys, tensors: prints, absmax: Vec::new(), modules })?;
        }
        let check_failed =
            !options.update_baselines && fail_on.threshold().is_some_and(|t| kept.iter().any(|f| f.severity >= t));
        failed |= check_failed;
        accepted.extend(baselined.iter().map(|f| accepted_entry(check, f, "baseline")));
        summaries.push(CheckSummary {
            name: check.name.clone(),
            kind: check.kind,
            files: names,
            fail_on,
            findings: kept.len(),
            baselined: baselined.len(),
            suppressed,
            failed: check_failed,
        });
        report.findings.extend(kept);
    }
    let suppressions: Vec<SuppressionUse> = gate
        .allows
        .iter()
        .zip(used)
        .map(|(allow, used)| SuppressionUse {
            code: allow.code.clone(),
            path: allow.path.clone(),
            reason: allow.reason.clone(),
            used,
            fail_on: gate.fail_on,
        })
        .collect();
    // Under --shard a suppression may match in another shard only: `merge` reports those no shard used.
    if options.shard.is_none() {
        let config_file = config.path.display().to_string();
        for finding in suppressions.iter().filter(|s| !s.used).map(|s| unused_suppression(&config_file, s)) {
            failed |= crate::report::fails(&finding, None);
            report.findings.push(finding);
        }
    }
    report.set_counter("checks", gate.checks.len() as u64);
    report.set_counter("files", files_total);
    report.set_counter("suppressed", accepted.iter().filter(|a| a.reason != "baseline").count() as u64);
    report.set_counter("baselined", accepted.iter().filter(|a| a.reason == "baseline").count() as u64);
    report.sort_findings();
    report.sections.push(checks_section(&summaries));
    report.sections.push(accepted_section(&accepted));
    report.sections.push(Section::typed("suppressions", &suppressions));
    if !videos.is_empty() {
        report.sections.push(videos_section(&videos));
    }
    Ok(GateOutcome { report, failed })
}

/// G121: a suppression that matched no finding, judged by the gate's own `fail-on`.
pub(crate) fn unused_suppression(config_file: &str, allow: &SuppressionUse) -> Finding {
    Finding::new(
        &rules::UNUSED_SUPPRESSION,
        format!("[[gate.allow]] {} at {:?} matched no finding ({})", allow.code, allow.path, allow.reason),
    )
    .with_subject(Subject::file(config_file))
    .with_evidence("code", allow.code.as_str())
    .with_evidence("path", allow.path.as_str())
    .with_evidence(FAIL_ON_EVIDENCE, allow.fail_on.as_str())
}

/// The files and folders a check's globs match, each once, sorted.
fn expand(root: &Path, patterns: &[String]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = patterns.iter().flat_map(|p| glob::expand(root, p)).collect();
    found.sort();
    found.dedup();
    found
}

/// Why a trace baseline written before per-module records is not a baseline any more.
const OLDER_TRACE_BASELINE: &str = "it records absmax per stage only (written by an older nanscope), so \
    headroom is compared per stage; re-record it with `nanscope gate --update-baselines` to compare per module";

fn no_baseline(check: &str, path: &Path, file: Option<&Path>, why: Option<&str>) -> Finding {
    let message = match why {
        Some(why) => format!("check {check} has no usable baseline at {}: {why}", path.display()),
        None => format!("check {check} has no baseline at {}", path.display()),
    };
    let finding = Finding::new(&rules::NO_BASELINE, message);
    match file {
        Some(file) => finding.with_subject(Subject::file(file.display().to_string())),
        None => finding,
    }
}

/// Each render against the golden of its file name: PSNR/SSIM findings
/// (G101–G106) and the comparison; with `update`, the render becomes the golden.
fn compare_goldens(
    tools: &crate::video::Tools,
    check: &Check,
    root: &Path,
    goldens: &Path,
    inputs: &[PathBuf],
    update: bool,
) -> Result<(Vec<Finding>, Vec<VideoBaseline>), GateError> {
    let mut findings = Vec::new();
    let mut compared = Vec::new();
    for render in crate::video::discover::video_files(inputs) {
        let Some(name) = render.file_name() else { continue };
        let golden = goldens.join(name);
        if update {
            let error = |source| GateError::Golden { path: golden.display().to_string(), source };
            std::fs::create_dir_all(goldens).map_err(error)?;
            if std::fs::canonicalize(&render).ok() != std::fs::canonicalize(&golden).ok() {
                std::fs::copy(&render, &golden).map_err(error)?;
            }
            continue;
        }
        if !golden.exists() {
            findings.push(no_baseline(&check.name, &golden, Some(&render), None));
            continue;
        }
        let mut options = super::compare::CompareOptions::with_thresholds(check.min_psnr, check.min_ssim);
        options.keep_worst = check.plots.is_some();
        let result = super::compare::compare(tools, &render, &golden, &options)?;
        let plot = match &check.plots {
            Some(dir) => super::compare_plot::plot_worst(&result, &root.join(dir).join(&check.name))?,
            None => None,
        };
        findings.extend(result.findings.iter().cloned());
        findings.extend(statistics_drift(check, &result.candidate, &result.golden));
        compared.push(VideoBaseline {
            check: check.name.clone(),
            file: render.display().to_string(),
            golden: golden.display().to_string(),
            comparison: result.comparison.clone(),
            candidate: result.candidate.clone(),
            reference: result.golden.clone(),
            plot: plot.map(|p| p.display().to_string()),
        });
    }
    Ok((findings, compared))
}

/// G126: the render's duration, mean luma or mean luma spread against its
/// golden's, beyond the check's tolerances.
fn statistics_drift(
    check: &Check,
    render: &super::compare::VideoSide,
    golden: &super::compare::VideoSide,
) -> Option<Finding> {
    let mut moved = Vec::new();
    if let (Some(a), Some(b)) = (render.duration, golden.duration)
        && (a - b).abs() > check.duration_tolerance
    {
        moved.push(format!("duration {} s against {} s", fmt_num(a), fmt_num(b)));
    }
    if let (Some(a), Some(b)) = (&render.luma, &golden.luma) {
        if (a.mean - b.mean).abs() > check.luma_tolerance {
            moved.push(format!("mean luma {} against {}", fmt_num(a.mean), fmt_num(b.mean)));
        }
        if (a.mean_std - b.mean_std).abs() > check.luma_tolerance {
            moved.push(format!("luma spread {} against {}", fmt_num(a.mean_std), fmt_num(b.mean_std)));
        }
    }
    if moved.is_empty() {
        return None;
    }
    let message = format!("{} moved from its golden render {}: {}", render.file, golden.file, moved.join(", "));
    Some(
        Finding::new(&rules::RENDER_STATISTICS_DRIFT, message)
            .with_subject(Subject::file(render.file.clone()))
            .with_evidence("duration", vec![render.duration, golden.duration])
            .with_evidence(
                "mean_luma",
                vec![render.luma.as_ref().map(|l| l.mean), golden.luma.as_ref().map(|l| l.mean)],
            )
            .with_evidence(
                "luma_spread",
                vec![render.luma.as_ref().map(|l| l.mean_std), golden.luma.as_ref().map(|l| l.mean_std)],
            ),
    )
}

fn videos_section(videos: &[VideoBaseline]) -> Section {
    let num = |x: Option<f64>| x.map(crate::report::fmt_num).unwrap_or_else(|| "-".into());
    let rows = videos
        .iter()
        .map(|v| {
            let c = v.comparison.as_ref();
            vec![
                v.check.clone(),
                v.file.clone(),
                num(c.map(|c| c.psnr_mean.0)),
                num(c.map(|c| c.psnr_min.0)),
                num(c.and_then(|c| c.ssim_mean)),
                num(c.and_then(|c| c.ssim_min)),
                c.map(|c| c.worst_frames.iter().map(|w| w.frame.to_string()).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    Section::typed("videos", videos).with_table(SectionTable {
        title: "Renders against their golden renders".into(),
        header: ["check", "render", "PSNR mean", "PSNR min", "SSIM mean", "SSIM min", "worst frames"]
            .map(String::from)
            .to_vec(),
        rows,
        note: None,
    })
}

fn matched_nothing(check: &Check) -> Finding {
    Finding::new(
        &rules::CHECK_MATCHED_NOTHING,
        format!("check {} ({:?}) matched no file: {}", check.name, check.kind, check.paths.join(", ")),
    )
    .with_evidence("paths", check.paths.clone())
}

/// `select`, `ignore` (codes or code prefixes) and severity overrides.
fn select(check: &Check, findings: Vec<Finding>) -> Vec<Finding> {
    let hit = |list: &[String], code: &str| list.iter().any(|p| code.starts_with(p.as_str()));
    findings
        .into_iter()
        .filter(|f| f.rule.code.starts_with('G') || check.select.is_empty() || hit(&check.select, f.code()))
        .filter(|f| !hit(&check.ignore, f.code()))
        .map(|f| match check.severity.get(f.code()) {
            Some(&severity) => f.with_severity(severity),
            None => f,
        })
        .collect()
}

/// What one kind of check found, and what its baselines record.
struct KindOutput {
    findings: Vec<Finding>,
    tensors: Vec<crate::weights::TensorRecord>,
    absmax: Vec<baseline::StageAbsmax>,
    modules: Vec<baseline::ModuleAbsmax>,
}

fn run_kind(kind: Kind, inputs: &[PathBuf], tools: &mut Option<crate::video::Tools>) -> Result<KindOutput, GateError> {
    let mut findings = Vec::new();
    let mut tensors = Vec::new();
    let mut absmax = Vec::new();
    let mut modules = Vec::new();
    match kind {
        Kind::Weights => {
            let result = crate::weights::scan(inputs, &crate::weights::ScanOptions::default(), &crate::weights::Silent);
            findings = result.findings;
            tensors = result.tensors;
        }
        Kind::Video => {
            let tools = match tools {
                Some(tools) => tools,
                None => tools.insert(crate::video::Tools::find()?),
            };
            for file in crate::video::discover::video_files(inputs) {
                let check = crate::video::check_file(tools, &file, &crate::video::CheckOptions::default())?;
                findings.extend(check.findings);
            }
        }
        Kind::Poses => {
            for input in inputs {
                let sequence = crate::pose::load(std::slice::from_ref(input), None);
                findings.extend(crate::pose::check(&sequence, &crate::pose::CheckOptions::default()).findings);
            }
        }
        Kind::Image => {
            let files = crate::image::discover::image_files(inputs);
            let run = crate::image::check(&files, &crate::image::CheckOptions::default())?;
            findings.extend(run.all_findings().cloned());
        }
        Kind::Postmortem => {
            for input in inputs {
                let options = crate::postmortem::PostmortemOptions::new(vec![input.clone()]);
                let result = crate::postmortem::run(&options, &crate::postmortem::Silent);
                findings.extend(result.findings.into_iter().map(|(_, finding)| finding));
            }
        }
        Kind::Scheduler => {
            for input in inputs {
                let file = input.display().to_string();
                match crate::replay::scheduler::load_config(input) {
                    Ok(config) => {
                        let options =
                            crate::replay::scheduler::InspectOptions { file: Some(file), ..Default::default() };
                        findings.extend(crate::replay::scheduler::inspect(&config, &options).findings);
                    }
                    Err(finding) => findings.push(*finding),
                }
            }
        }
        Kind::Trace => {
            for input in inputs {
                let mut options = crate::trace::TraceOptions::default();
                options.analysis.module_steps = true;
                let result = crate::trace::trace_dump(input, &options);
                let dump = input.display().to_string();
                modules.extend(baseline::module_table(&dump, &result.analysis.module_steps));
                if result.analysis.module_steps_dropped > 0 {
                    let what = format!(
                        "{} records fell outside the (module, step) table, which keeps at most {} cells: \
                         their modules and steps are not compared",
                        result.analysis.module_steps_dropped,
                        crate::trace::module_steps::MAX_CELLS
                    );
                    findings.push(baseline::trace_layout_changed(&dump, what));
                }
                findings.extend(result.findings);
                for row in &result.analysis.stages {
                    if let Some(value) = row.absmax {
                        absmax.push(baseline::StageAbsmax {
                            dump: input.display().to_string(),
                            stage: row.stage.clone(),
                            step: row.step,
                            absmax: value,
                        });
                    }
                }
            }
        }
    }
    Ok(KindOutput { findings, tensors, absmax, modules })
}

fn accepted_entry(check: &Check, finding: &Finding, reason: &str) -> Accepted {
    Accepted {
        check: check.name.clone(),
        code: finding.code().to_string(),
        file: finding.subject.file.clone(),
        message: finding.message.clone(),
        reason: reason.to_string(),
    }
}

/// A path relative to the configuration's folder, with `/` separators.
fn relative_to(root: &Path, file: &str) -> String {
    let path = Path::new(file);
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

pub(crate) fn checks_section(summaries: &[CheckSummary]) -> Section {
    let rows = summaries
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                format!("{:?}", s.kind).to_lowercase(),
                s.files.len().to_string(),
                s.findings.to_string(),
                s.baselined.to_string(),
                s.suppressed.to_string(),
                if s.failed { "FAIL".into() } else { "pass".into() },
            ]
        })
        .collect();
    Section::typed("checks", summaries).with_table(SectionTable {
        title: "Checks".into(),
        header: ["check", "kind", "inputs", "findings", "baselined", "suppressed", "result"].map(String::from).to_vec(),
        rows,
        note: None,
    })
}

pub(crate) fn accepted_section(accepted: &[Accepted]) -> Section {
    let rows = accepted
        .iter()
        .map(|a| vec![a.check.clone(), a.code.clone(), a.file.clone().unwrap_or_default(), a.reason.clone()])
        .collect();
    Section::typed("accepted", accepted).with_table(SectionTable {
        title: "Suppressed and baselined findings".into(),
        header: ["check", "code", "file", "reason"].map(String::from).to_vec(),
        rows,
        note: None,
    })
}
