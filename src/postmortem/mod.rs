//! `postmortem`: the whole cascade of a failed generation in one run.
//!
//! Discovery (`discover`) classifies a run folder's files by content; the
//! runner (`checks`) runs every check that applies, in parallel; the
//! correlation rules (`correlate`) turn their findings into one verdict from
//! the K catalogue (src/rules/cause.rs); `report` lays it all out as a
//! `Report` with an `artifacts` and a `verdict` section.

pub mod checks;
pub mod correlate;
pub mod discover;
mod loads;
mod outputs;
mod pipeline;
mod prompts;
mod script;

use std::path::PathBuf;

use serde::Serialize;

pub use checks::{CheckKind, Progress, Quantized, Silent, Simulated};
pub use correlate::{Basis, Confidence, Verdict};
pub use discover::{Artifact, ArtifactKind, Component, Discovery, discover};
pub use pipeline::{Pipeline, Recognised};

use crate::numerics::QuantScheme;
use crate::report::{Attachment, Finding, Report, Section, SectionTable};

/// What to look at and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PostmortemOptions {
    /// Run folders (or single files) to discover artifacts in.
    pub roots: Vec<PathBuf>,
    /// Artifacts named explicitly (`--video FILE` …); they override discovery.
    pub explicit: Vec<(ArtifactKind, PathBuf)>,
    /// Draw the plots the HTML report shows.
    pub plots: bool,
    /// Frame rate of the generation, for audio against poses; by default the
    /// one the run's config or workflow states, else EchoMimicV2's 24.
    pub fps: Option<f64>,
    /// The scheme to simulate; by default the one the config or log names.
    pub simulate: Option<QuantScheme>,
}


impl PostmortemOptions {
    pub fn new(roots: Vec<PathBuf>) -> Self {
        PostmortemOptions { roots, ..PostmortemOptions::default() }
    }

    pub fn with_explicit(mut self, kind: ArtifactKind, path: PathBuf) -> Self {
        self.explicit.push((kind, path));
        self
    }

    pub fn with_plots(mut self, plots: bool) -> Self {
        self.plots = plots;
        self
    }
}

/// Everything a postmortem found.
#[derive(Debug)]
#[non_exhaustive]
pub struct Postmortem {
    pub inputs: Vec<String>,
    pub artifacts: Vec<Artifact>,
    /// Findings with ids `F1`, `F2`, … (most severe first) and the index of
    /// the artifact each came from.
    pub findings: Vec<(usize, Finding)>,
    pub quantized: Vec<Quantized>,
    pub simulated: Option<Simulated>,
    pub weights_folders: Vec<String>,
    pub missing_components: Vec<Component>,
    pub verdict: Verdict,
    pub plots: Vec<Attachment>,
    /// The pipeline that made the run, when it is not EchoMimicV2.
    pub pipeline: Option<Recognised>,
}

impl Postmortem {
    /// Whether any artifact was checked (an empty run folder checks nothing).
    pub fn checked_anything(&self) -> bool {
        self.artifacts.iter().any(|a| !a.checks.is_empty())
    }
}

/// The first 64 KiB of a log (of a notebook's console): where ComfyUI's log
/// has its startup lines and an error report its title.
const LOG_HEAD: usize = 64 << 10;

/// Whether a log says the run ran on Windows: ComfyUI-Manager's startup
/// lines (`** Platform: Windows`) near the top of ComfyUI's log.
fn ran_on_windows(logs: &[prompts::LogText]) -> bool {
    logs.iter().any(|log| log.head(LOG_HEAD).lines().any(|l| l.trim_end().ends_with("** Platform: Windows")))
}

/// The workflow checked from a ComfyUI error report that attaches one: its
/// title is in its first 4 KiB.
fn attached_workflow(
    path: &std::path::Path,
    log: &prompts::LogText,
    options: &crate::config::ConfigOptions,
) -> Option<crate::config::ConfigFile> {
    let title = log.head(4096).contains(discover::COMFYUI_ERROR_REPORT);
    if !title {
        return None;
    }
    echomimic_workflow(path, options)
}

/// A file's workflow when it runs an EchoMimic node.
fn echomimic_workflow(path: &std::path::Path, options: &crate::config::ConfigOptions) -> Option<crate::config::ConfigFile> {
    Some(crate::config::check_file(path, options)).filter(runs_echomimic)
}

/// Whether a checked file is a workflow that runs an EchoMimic node.
fn runs_echomimic(checked: &crate::config::ConfigFile) -> bool {
    checked.kind == crate::config::ConfigKind::ComfyuiWorkflow
        && !checked.settings.iter().any(|s| s.key == "echomimic_nodes")
}

/// Poses shorter than the audio cut the clip to their length (P114, an
/// error), unless the run's length setting (`-L`, the web UI's length)
/// cut it shorter still: a clip of fewer frames than the poses was not cut
/// by them, and the finding is info.
fn cut_before_the_poses(findings: &mut [(usize, Finding)], clip: u64) {
    let short_poses = |f: &Finding| {
        f.is(&crate::rules::pose::FRAME_COUNT_MISMATCH) && f.severity == crate::report::Severity::Error
    };
    for (_, f) in findings.iter_mut().filter(|(_, f)| short_poses(f)) {
        let poses = f.evidence.get("frames").and_then(serde_json::Value::as_u64);
        if poses.is_some_and(|poses| clip < poses) {
            f.severity = crate::report::Severity::Info;
            f.message.push_str(&format!(
                "; the run's clip has {clip} frames: its length setting cut it before the poses did"
            ));
            f.evidence.insert("clip_frames".into(), clip.into());
        }
    }
}

/// A prompt config's findings on keys the run's own entry point does not
/// read (a wrapper takes its size, steps and inputs from each request, not
/// from `width`, `steps` or `test_cases`): listed, as info.
fn keys_not_read(findings: &mut [(usize, Finding)], configs: &[usize], script: &script::Script) {
    for (_, f) in findings.iter_mut().filter(|(i, f)| configs.contains(i) && f.severity > crate::report::Severity::Info) {
        let Some(key) = f.subject.key.as_deref() else { continue };
        let key = key.split(['[', '.']).next().unwrap_or(key).to_string();
        if !script.reads(&key) {
            f.severity = crate::report::Severity::Info;
            f.message.push_str(&format!("; {}, the run's entry point, does not read {key}", script.name));
            f.evidence.insert("not_read_by".into(), script.name.clone().into());
        }
    }
}

/// Adds to `unused` the artifacts of `more` it does not list yet, each
/// with its reason; one already listed keeps its first.
fn add_unused(unused: &mut Vec<(usize, String)>, more: Vec<(usize, String)>) {
    let listed: Vec<usize> = unused.iter().map(|(i, _)| *i).collect();
    unused.extend(more.into_iter().filter(|(i, _)| !listed.contains(i)));
}

/// Discovers, checks and judges.
pub fn run(options: &PostmortemOptions, progress: &dyn Progress) -> Postmortem {
    let found = discover(&options.roots, &options.explicit);
    let mut artifacts = found.artifacts;
    let mut text_findings: Vec<(usize, Finding)> = Vec::new();
    let mut config_paths: Vec<ConfigPaths> = Vec::new();
    let logs = prompts::LogText::read_all(&artifacts);
    let clips_named = outputs::clips_named(&logs);
    // A clip the logs name outside the folder is the run's, unless one is given.
    if !options.explicit.iter().any(|(kind, _)| *kind == ArtifactKind::Video) {
        for (path, line) in outputs::named_elsewhere(&clips_named, &artifacts) {
            let mut clip = discover::classify_file(&path);
            if clip.kind == ArtifactKind::Video {
                clip.recognised_by = format!("{} names it; {}", line, clip.recognised_by);
                artifacts.push(clip);
            }
        }
    }
    let script = script::Script::of_logs(&artifacts, &logs);
    let mut pipeline = pipeline::recognise(&artifacts, &logs);
    let echomimic_v3 = pipeline.as_ref().filter(|p| p.pipeline == Pipeline::EchomimicV3);
    if let Some(s) = &script {
        let a = &mut artifacts[s.artifact];
        a.checks.push("source read".into());
        a.script = Some(s.clone());
    }
    let config_options = crate::config::ConfigOptions { windows: ran_on_windows(&logs), ..Default::default() };
    let mut workflows: Vec<usize> = Vec::new();
    let mut stated = prompts::Stated::default();
    // Where the workflow that ran is known to be: an error report, an image.
    let mut ran: Vec<usize> = Vec::new();
    for (i, a) in
        artifacts.iter_mut().enumerate().filter(|(_, a)| matches!(a.kind, ArtifactKind::Config | ArtifactKind::Log))
    {
        let path = std::path::Path::new(&a.path);
        let found = if a.kind == ArtifactKind::Log {
            a.checks.push("log check".into());
            let log = logs.iter().find(|l| l.artifact == i);
            let shown = log.map(|l| stated.record_log(l)).unwrap_or_default();
            a.comfyui_workflow |= shown.comfyui;
            a.notebook = shown.notebook;
            let mut found = crate::log::check_file(path, &crate::log::LogOptions::default()).findings;
            if let Some(attached) = log.and_then(|l| attached_workflow(path, l, &config_options)) {
                a.checks.push("config check (attached workflow)".into());
                a.comfyui_workflow = true;
                ran.push(i);
                stated.record(i, &attached.settings);
                found.extend(attached.findings);
            }
            found
        } else {
            a.checks.push("config check".into());
            let checked = crate::config::check_file(path, &config_options);
            if checked.kind == crate::config::ConfigKind::EchomimicPrompt {
                let resolved = !checked.findings.iter().any(|f| {
                    f.is(&crate::rules::config::WEIGHT_FILE_MISSING)
                        || f.is(&crate::rules::config::MOTION_MODULE_MISSING)
                });
                let paths = checked.settings.iter().map(|s| (s.key.clone(), s.value.clone())).collect();
                config_paths.push(ConfigPaths { artifact: i, resolved, root: checked.root.clone(), paths });
                stated.record(i, &checked.settings);
                // A wrapper that reads no `test_cases` takes its inputs from its requests.
                let cases = script.as_ref().is_none_or(|s| s.reads("test_cases"));
                stated.record_cases(i, &prompts::file_name(&a.path), if cases { &checked.settings } else { &[] });
            } else if checked.kind == crate::config::ConfigKind::ComfyuiWorkflow {
                a.comfyui_workflow = runs_echomimic(&checked);
                workflows.push(i);
                stated.record(i, &checked.settings);
            }
            checked.findings
        };
        a.summary = format!("{} findings", found.len());
        text_findings.extend(found.into_iter().map(|f| (i, f)));
    }
    // An image or a video ComfyUI saved carries the prompt that made it (a
    // node's own example images are not the run's, nor is an upload that
    // an earlier run made). `output/` keeps every run's outputs: the newest
    // that runs an EchoMimic node is the run's.
    let assets = prompts::node_assets(&artifacts);
    let mut saved: Vec<(std::time::SystemTime, usize)> = artifacts
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            matches!(a.kind, ArtifactKind::Image | ArtifactKind::Video)
                && !assets.iter().any(|(n, _)| n == i)
                && !prompts::under_input(&a.path)
        })
        .filter_map(|(i, a)| {
            let modified = std::fs::metadata(&a.path).and_then(|m| m.modified()).ok()?;
            Some((modified, i))
        })
        .collect();
    // Newest first; the first in discovery order among equals.
    saved.sort_by_key(|&(modified, i)| (std::cmp::Reverse(modified), i));
    // A clip whose prompt runs no EchoMimic node is another workflow's.
    let mut newest = None;
    let mut other_workflows: Vec<(usize, String)> = Vec::new();
    for (_, i) in saved {
        let path = std::path::Path::new(&artifacts[i].path);
        let wanted = newest.is_none() || artifacts[i].kind == ArtifactKind::Video;
        let Some(embedded) = wanted.then(|| crate::config::check_embedded(path, &config_options)).flatten() else {
            continue;
        };
        if !runs_echomimic(&embedded) {
            if artifacts[i].kind == ArtifactKind::Video {
                let why = "not the run's clip: the prompt it carries runs no EchoMimic node (another workflow's)";
                other_workflows.push((i, why.into()));
            }
        } else if newest.is_none() {
            newest = Some((i, embedded));
        }
    }
    if let Some((i, embedded)) = newest {
        artifacts[i].checks.push("config check (embedded workflow)".into());
        artifacts[i].comfyui_workflow = true;
        ran.push(i);
        stated.record(i, &embedded.settings);
        text_findings.extend(embedded.findings.into_iter().map(|f| (i, f)));
    }
    for (i, _) in artifacts.iter().enumerate().filter(|(_, a)| a.kind == ArtifactKind::Video) {
        stated.record_clip(i, &artifacts);
    }
    let prompt_configs: Vec<prompts::Prompt> = config_paths
        .iter()
        .map(|c| prompts::Prompt {
            artifact: c.artifact,
            resolved: c.resolved,
            motion_module: c.value("motion_module_path"),
        })
        .collect();
    let ui = stated.ui();
    let mut unused = prompts::not_read(&artifacts, &prompt_configs, ui.as_ref(), script.as_ref(), &logs);
    unused.extend(prompts::example_workflows(&artifacts, &workflows));
    unused.extend(assets);
    unused.extend(other_workflows);
    unused.extend(outputs::uploaded_videos(&artifacts));
    if let Some(v3) = echomimic_v3 {
        unused.extend(pipeline::face_masks(&artifacts));
        if let Some(checkout) = &v3.checkout {
            add_unused(&mut unused, pipeline::readme_pictures(&artifacts, checkout));
        }
    }
    unused.extend(prompts::saved_workflows_not_run(&artifacts, &workflows, &ran, &unused));
    let read = stated.of_used(&unused);
    // The workflow that ran says ComfyUI_EchoMimic ran EchoMimicV3.
    if let Some(node) = &read.echomimic_v3 {
        pipeline = Some(pipeline::comfyui_v3(pipeline.take(), &artifacts, node));
        add_unused(&mut unused, pipeline::echomimic_v2_checkpoints(&artifacts, &node.version));
    }
    let echomimic_v3 = pipeline.as_ref().filter(|p| p.pipeline == Pipeline::EchomimicV3);
    if echomimic_v3.is_some() {
        add_unused(&mut unused, pipeline::pose_folders(&artifacts));
    }
    unused.extend(prompts::not_loaded(&artifacts, &read.loaded));
    for i in outputs::comfyui_outputs(&artifacts, &read.loaded) {
        let a = &mut artifacts[i];
        a.output = true;
        a.add_summary("an image ComfyUI wrote (output/ or temp/), not a reference: not checked");
    }
    let run_configs: Vec<loads::RunConfig> = config_paths
        .iter()
        .filter(|c| !unused.iter().any(|(u, _)| *u == c.artifact))
        .map(|c| loads::RunConfig {
            name: prompts::file_name(&artifacts[c.artifact].path),
            root: c.root.as_deref(),
            settings: &c.paths,
        })
        .collect();
    let ui_loads = ui.as_ref().map(|run| run.ui.loads()).unwrap_or_default();
    let mut loaders = vec![("the workflow", read.weights.clone())];
    loaders.extend(ui_loads.iter().cloned());
    unused.extend(loads::weights_not_loaded(&artifacts, &run_configs, &loaders));
    for (i, why) in &unused {
        let a = &mut artifacts[*i];
        a.unused = true;
        a.add_summary(why);
    }
    // Listed, not judged: its findings do not fail the run.
    for (_, f) in text_findings.iter_mut().filter(|(i, _)| unused.iter().any(|(u, _)| u == i)) {
        f.severity = crate::report::Severity::Info;
        f.evidence.insert("unused_config".into(), true.into());
    }
    if let Some(s) = &script {
        let read_configs: Vec<usize> = config_paths.iter().map(|c| c.artifact).collect();
        keys_not_read(&mut text_findings, &read_configs, s);
    }
    resolve_load_paths(&mut text_findings, &artifacts, &config_paths, found.weights_folders.first());
    // The scheme to simulate: the one a log line or config key names.
    // app_mm.py's mmgp profile quantizes EchoMimicV3's transformer to
    // optimum-quanto qint8, per output channel, unless its call says not to.
    let mmgp = echomimic_v3.and_then(Recognised::mmgp_quantizes).map(|_| QuantScheme::Int8Channel);
    let scheme = options
        .simulate
        .or_else(|| text_findings.iter().find_map(|(_, f)| correlate::named_scheme(f)))
        .or(mmgp);
    let tools = crate::video::Tools::find();
    // Poses are held against the run's audio when the evidence names one (or
    // the folder holds one), else each against the audio printed in its own
    // generation; a folder of demo assets holds several audio files, and
    // which goes with which pose folder is not the folder's to say.
    let audio_files: Vec<&Artifact> =
        artifacts.iter().filter(|a| a.kind == ArtifactKind::Audio && !a.unused).collect();
    // Evidence that names the audio and no pose folder (a server's request
    // line names its uploads; the pose folder is a request parameter) does
    // not say which of several pose folders went with it.
    let pose_folders = artifacts.iter().filter(|a| a.kind == ArtifactKind::Poses && !a.unused).count();
    let only_audio = artifacts.iter().filter(|a| a.kind == ArtifactKind::Audio).count() == 1;
    let poses_known = pose_folders <= 1 || only_audio || read.names_poses();
    let audio_path = read
        .audio(&audio_files)
        .filter(|a| poses_known || a.recognised_by == "--audio")
        .map(|a| PathBuf::from(&a.path));
    let audio_of: Vec<(PathBuf, PathBuf)> = artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Poses && !a.unused)
        .filter_map(|poses| Some((PathBuf::from(&poses.path), PathBuf::from(&read.audio_of(poses, &audio_files)?.path))))
        .collect();
    let mut audio_seconds: Vec<(PathBuf, std::sync::OnceLock<Result<f64, String>>)> = Vec::new();
    for audio in audio_path.iter().chain(audio_of.iter().map(|(_, audio)| audio)) {
        if !audio_seconds.iter().any(|(path, _)| path == audio) {
            audio_seconds.push((audio.clone(), std::sync::OnceLock::new()));
        }
    }
    let mut silent: Vec<(PathBuf, String)> = outputs::muxed_later(&artifacts)
        .into_iter()
        .map(|(silent, muxed)| {
            (PathBuf::from(&artifacts[silent].path), format!("written without audio, which went into {}", artifacts[muxed].path))
        })
        .collect();
    if echomimic_v3.is_some_and(Recognised::in_comfyui) {
        for i in outputs::comfyui_v3_clips(&artifacts) {
            let path = PathBuf::from(&artifacts[i].path);
            if !silent.iter().any(|(p, _)| *p == path) {
                let why = "written without audio: ComfyUI_EchoMimic's EchoMimicV3 mode leaves the audio to the \
                           workflow's video node";
                silent.push((path, why.into()));
            }
        }
    }
    let ctx = checks::JobContext {
        tools: tools.as_ref().ok(),
        tools_error: tools.as_ref().err().map(|e| e.to_string()),
        plots: options.plots,
        fps: options.fps.or(read.fps).unwrap_or(24.0),
        poses_repeat: read.poses_repeat,
        audio: audio_path,
        audio_of,
        audio_seconds,
        expect_audio: !audio_files.is_empty(),
        silent,
        keep_aspect: echomimic_v3.is_some(),
    };
    let transformer = echomimic_v3.and_then(|p| p.transformer.as_ref());
    let denoiser = transformer.and_then(|path| artifacts.iter().position(|a| &a.path == path));
    let jobs = checks::plan(&artifacts, scheme, denoiser);
    let outputs = checks::run_jobs(&artifacts, &jobs, scheme, &ctx, progress);

    let mut findings: Vec<(usize, Finding)> = text_findings;
    let mut quantized = Vec::new();
    let mut simulated = None;
    let mut plots = Vec::new();
    let mut clip_frames: Option<u64> = None;
    for out in outputs {
        let artifact = &mut artifacts[out.artifact];
        if !artifact.unused {
            clip_frames = clip_frames.max(out.frames);
        }
        artifact.checks.push(out.kind.name().to_string());
        artifact.add_summary(&out.summary);
        for mut plot in out.plots {
            plot.about = artifact.path.clone();
            plots.push(plot);
        }
        quantized.extend(out.quantized);
        simulated = simulated.or(out.simulated);
        findings.extend(out.findings.into_iter().map(|f| (out.artifact, f)));
    }
    for a in artifacts.iter_mut().filter(|a| a.kind == ArtifactKind::Unknown) {
        a.summary = match &a.script {
            Some(s) => s.summary(),
            None => "not judged".into(),
        };
    }
    if let Some(clip) = clip_frames {
        cut_before_the_poses(&mut findings, clip);
    }
    // Ids follow the report's order: most severe first, then artifact order.
    findings.sort_by_key(|(artifact, f)| (std::cmp::Reverse(f.severity), *artifact));
    for (n, (artifact, finding)) in findings.iter_mut().enumerate() {
        let id = format!("F{}", n + 1);
        finding.id = Some(id.clone());
        artifacts[*artifact].findings.push(id);
    }
    let refs: Vec<(usize, &Finding)> = findings.iter().map(|(a, f)| (*a, f)).collect();
    // The files the web UI loads from fixed paths that are not there.
    let ui_missing: Vec<String> = match found.weights_folders.first() {
        Some(folder) => ui_loads
            .iter()
            .flat_map(|(_, places)| places)
            .filter_map(|(_, place)| {
                let path = std::path::Path::new(folder).parent()?.join(place);
                (!path.exists()).then(|| path.display().to_string())
            })
            .collect(),
        None => Vec::new(),
    };
    let mut evidence = correlate::Evidence::gather(
        &refs,
        &artifacts,
        quantized.clone(),
        simulated.clone(),
        found.missing_components.clone(),
        found.weights_folders.first().cloned(),
        ui.map(|run| (run.ui, ui_missing)),
    );
    evidence.clip_not_here = outputs::named_not_here(&clips_named);
    evidence.pipeline = pipeline.clone();
    let verdict = correlate::verdict(&evidence);
    Postmortem {
        inputs: options
            .roots
            .iter()
            .chain(options.explicit.iter().map(|(_, p)| p))
            .map(|p| p.display().to_string())
            .collect(),
        artifacts,
        findings,
        quantized,
        simulated,
        weights_folders: found.weights_folders,
        missing_components: found.missing_components,
        verdict,
        plots,
        pipeline,
    }
}

/// A prompt config's settings, as the run reads them.
struct ConfigPaths {
    artifact: usize,
    /// Whether every weight file it names exists.
    resolved: bool,
    /// The folder the run reads relative paths from (the checkout).
    root: Option<String>,
    /// Each setting's key and value.
    paths: Vec<(String, String)>,
}

impl ConfigPaths {
    fn value(&self, key: &str) -> Option<&str> {
        self.paths.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Where the file or folder of each failed load in a log lies
/// (`evidence.resolved`): the path the line names, or the value of the
/// config key its traceback loaded (`torch.load(config.reference_unet_path)`)
/// in the run's prompt config. A relative path is read from the folder the
/// run started in: the prompt config's checkout, else the folder holding the
/// weights folder; with neither, it stays as written.
fn resolve_load_paths(
    findings: &mut [(usize, Finding)],
    artifacts: &[Artifact],
    configs: &[ConfigPaths],
    weights_folder: Option<&String>,
) {
    let used = configs.iter().find(|c| !artifacts[c.artifact].unused);
    let parent = |folder: &String| std::path::Path::new(folder).parent().map(|p| p.display().to_string());
    let root = used.and_then(|c| c.root.clone()).or_else(|| weights_folder.and_then(parent));
    for (_, f) in findings.iter_mut().filter(|(_, f)| crate::rules::log::FAILED_LOADS.iter().any(|r| f.is(r))) {
        let text = |key: &str| f.evidence.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let from_config = || {
            let key = text("config_key")?;
            used.and_then(|c| c.value(&key)).map(str::to_string)
        };
        let Some(path) = text("path").or_else(from_config) else { continue };
        // A Windows path from another machine is kept as written.
        let windows = path.as_bytes().get(1) == Some(&b':') || path.starts_with('\\');
        let resolved = match &root {
            Some(root) if !windows && std::path::Path::new(&path).is_relative() => {
                std::path::Path::new(root).join(&path).display().to_string()
            }
            _ => path,
        };
        f.evidence.insert("resolved".into(), resolved.into());
    }
}

/// The `evidence` section: what the verdict read besides findings.
#[derive(Debug, Serialize)]
struct EvidenceSection<'a> {
    quantized: &'a [Quantized],
    #[serde(skip_serializing_if = "Option::is_none")]
    simulated: Option<&'a Simulated>,
    weights_folders: &'a [String],
    missing_components: &'a [Component],
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline: Option<&'a Recognised>,
}

/// The postmortem report: verdict first, then the artifacts, the evidence
/// and every finding (with its id and artifact).
pub fn report(pm: &Postmortem) -> Report {
    let mut report = Report::new("postmortem", pm.inputs.clone());
    report.set_counter("artifacts", pm.artifacts.len() as u64);
    report.set_counter("checks", pm.artifacts.iter().map(|a| a.checks.len() as u64).sum());
    report.findings = pm
        .findings
        .iter()
        .map(|(artifact, f)| f.clone().with_evidence("artifact", pm.artifacts[*artifact].path.clone()))
        .collect();
    report.sections.push(
        Section::typed("verdict", &pm.verdict).with_table(verdict_table(&pm.verdict, pm.pipeline.as_ref())),
    );
    report.sections.push(
        Section::typed("artifacts", &pm.artifacts).with_table(SectionTable {
            title: "Artifacts".into(),
            header: ["path", "kind", "recognised by", "checks", "summary", "findings"].map(String::from).to_vec(),
            rows: pm
                .artifacts
                .iter()
                .map(|a| {
                    vec![
                        crate::report::render::relative_path(&a.path, &pm.inputs),
                        a.kind.name().to_string(),
                        a.recognised_by.clone(),
                        a.checks.join(", "),
                        a.summary.clone(),
                        a.findings.join(" "),
                    ]
                })
                .collect(),
            note: None,
        }),
    );
    report.sections.push(Section::typed(
        "evidence",
        &EvidenceSection {
            quantized: &pm.quantized,
            simulated: pm.simulated.as_ref(),
            weights_folders: &pm.weights_folders,
            missing_components: &pm.missing_components,
            pipeline: pm.pipeline.as_ref(),
        },
    ));
    report.attachments = pm.plots.clone();
    report
}

fn verdict_table(v: &Verdict, pipeline: Option<&Recognised>) -> SectionTable {
    let mut rows = Vec::new();
    for (i, link) in v.chain.iter().enumerate() {
        let mut cited = link.findings.clone();
        cited.extend(link.evidence.iter().cloned());
        rows.push(vec![
            format!("{}", i + 1),
            link.stage.clone(),
            link.says.clone(),
            format!("{:?}", link.basis).to_lowercase(),
            cited.join("; "),
        ]);
    }
    let mut note = vec![
        format!(
            "Root cause: {} {} ({:?} confidence). {}",
            v.root_cause.code, v.root_cause.slug, v.confidence, v.headline
        )
        .replace("(High", "(high")
        .replace("(Medium", "(medium")
        .replace("(Low", "(low"),
    ];
    for fix in &v.fix {
        note.push(format!("Fix: {}", fix.what));
        if let Some(paste) = &fix.paste {
            note.push(indent(paste));
        }
    }
    for next in &v.next {
        note.push(format!("Next: {}", next.what));
        if let Some(paste) = &next.paste {
            note.push(indent(paste));
        }
    }
    for c in &v.competing {
        note.push(format!("Ranks lower: {} {}: {}", c.cause.code, c.cause.slug, c.why_lower));
    }
    if let Some(p) = pipeline {
        let name = p.pipeline.name();
        note.push(format!("Pipeline: {name} ({}); the checks and the fix follow it.", p.recognised_by));
    }
    note.push(format!("`nanscope rules {}` explains the cause.", v.root_cause.code));
    SectionTable {
        title: format!("Verdict: {} {}", v.root_cause.code, v.root_cause.slug),
        header: ["#", "stage", "what happened", "basis", "evidence"].map(String::from).to_vec(),
        rows,
        note: Some(note.join("\n")),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}
