//! The correlation rules: from the findings of every check (and what the
//! config and log said) to one root cause from the K catalogue, the chain of
//! evidence from cause to symptom, the fix and the next commands.
//!
//! Everything the verdict concludes is decided in this file, in this order:
//! 1. `Evidence::gather` sorts the findings into the facts the rules read,
//!    each cited by finding id. What the config and log said comes from
//!    `config check`'s and `log check`'s own findings (C and L rules), cited by
//!    id and by `file:line`.
//! 2. `candidates` scores every cause the evidence supports (one function per
//!    cause, a few lines each). Upstream causes (weights, quantization, UNet,
//!    VAE, inputs) outscore the symptoms they explain (NaN cast, black frames).
//! 3. The best candidate is the root cause; the others are the competing
//!    explanations, each with the reason it ranks lower.
//! 4. `chain` lays the links from the cause down to the symptoms, each marked
//!    observed (a dump, a tensor, a log line, a decoded frame, a checkpoint) or
//!    predicted (a simulation, a rule of thumb).

use serde::Serialize;

use super::checks::{Quantized, Simulated};
use super::discover::{Artifact, ArtifactKind, Component};
use super::loads::Ui;
use super::pipeline::{Launch, Pipeline, Recognised};
use super::prompts::NotebookRun;
use super::script::Script;
use crate::numerics::QuantScheme;
use crate::report::{Finding, Severity, list_some};
use crate::rules::{self, Rule, cause};

/// A rule of the K catalogue as the verdict names it.
#[derive(Debug, Clone, Serialize)]
pub struct CauseRef {
    pub code: &'static str,
    pub slug: &'static str,
    pub summary: &'static str,
}

impl CauseRef {
    fn of(rule: &'static Rule) -> CauseRef {
        CauseRef { code: rule.code, slug: rule.slug, summary: rule.summary }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// Whether a link was seen in an artifact or only inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// Seen: a dump, a tensor, a log line, a decoded frame, a checkpoint.
    Observed,
    /// Inferred: a simulation or a rule of thumb.
    Predicted,
}

/// One step from cause to symptom.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Link {
    pub stage: String,
    pub says: String,
    pub basis: Basis,
    /// Ids of the findings that support it.
    pub findings: Vec<String>,
    /// Other evidence: `file:line` of a log or config line, a checkpoint.
    pub evidence: Vec<String>,
}

/// One thing to do, with text ready to paste when there is some.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Action {
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paste: Option<String>,
}

/// A cause that fits some evidence but ranks lower.
#[derive(Debug, Clone, Serialize)]
pub struct Competing {
    pub cause: CauseRef,
    pub why_lower: String,
    pub findings: Vec<String>,
}

/// The `verdict` section.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Verdict {
    pub root_cause: CauseRef,
    pub confidence: Confidence,
    /// One sentence for people.
    pub headline: String,
    pub chain: Vec<Link>,
    pub fix: Vec<Action>,
    pub next: Vec<Action>,
    pub competing: Vec<Competing>,
}

/// Where the first non-finite values were produced, from a dump.
#[derive(Debug, Clone)]
struct Producer {
    id: String,
    module: String,
    step: Option<u64>,
    in_vae: bool,
}

/// The facts the rules read, each with the ids that prove it.
#[derive(Debug, Default)]
pub(crate) struct Evidence {
    quantized: Vec<Quantized>,
    simulated: Option<Simulated>,
    quant_damage: Vec<String>,
    simulation_notes: Vec<String>,
    producer: Option<Producer>,
    near_overflow: Vec<String>,
    spread: Vec<String>,
    tensor_nan: Vec<String>,
    black: Vec<String>,
    black_frames: Option<[u64; 2]>,
    container: Vec<String>,
    audio_missing: Vec<String>,
    /// Videos whose container is broken, each once, and whether its moov
    /// is missing (a rebuild then needs a reference file).
    broken_videos: Vec<(String, bool)>,
    /// Videos without the audio the run had (V107), each once.
    silent_videos: Vec<String>,
    bad_weights: Vec<(String, Option<Component>)>,
    /// The checkpoints (files, or diffusers folders) of the findings in
    /// `bad_weights` and `corrupt`.
    damaged: Vec<String>,
    corrupt: Vec<String>,
    /// Git LFS pointers where checkpoints should be (F112): finding id and file.
    lfs_pointers: Vec<(String, String)>,
    bad_poses: Vec<String>,
    length: Vec<String>,
    bad_image: Vec<String>,
    missing: Vec<Component>,
    /// The EchoMimicV2 weights folder discovery found (where `missing` is missing from).
    weights_folder: Option<String>,
    /// Log and config lines (L and C findings), by what they say.
    quant_lines: Vec<Cited>,
    cast_lines: Vec<Cited>,
    mux_lines: Vec<Cited>,
    motion_lines: Vec<Cited>,
    /// Weight files the run's prompt config names that do not exist (C102).
    config_missing: Vec<Cited>,
    /// Log lines of a load that read a Git LFS pointer (L118).
    lfs_lines: Vec<Cited>,
    /// Log lines of a load that found no weights where the run looked (L119).
    load_lines: Vec<Cited>,
    /// Log lines of a load that read a truncated file or not a checkpoint (L120).
    unreadable_lines: Vec<Cited>,
    /// Log lines of a load that read another model's weights or config (L121).
    mismatch_lines: Vec<Cited>,
    /// Exceptions that end a traceback and that no rule names (L122).
    exception_lines: Vec<Cited>,
    /// Exceptions that end a traceback reading an image, an audio file or a
    /// pose folder that is not there (L122).
    input_lines: Vec<Cited>,
    /// Exceptions that end a traceback importing a module the environment
    /// does not have (L122).
    import_lines: Vec<Cited>,
    /// Test cases of the run's config whose input is not there (C114).
    case_lines: Vec<Cited>,
    /// The run's reference images, audio files and pose folders.
    inputs: Vec<String>,
    /// A log line says ffmpeg could not be run (L113).
    ffmpeg_missing: bool,
    /// A log line says the entry point exited for want of its motion
    /// module (L112): nothing after the load ran.
    motion_exit: bool,
    /// Log lines of the GPU running out of memory (L108).
    oom_lines: Vec<Cited>,
    /// Log lines of a shape error that stopped the run (L114).
    shape_lines: Vec<Cited>,
    /// Config lines of sizes and context windows the pipeline cannot run
    /// with (C107, C108, C109).
    setting_lines: Vec<Cited>,
    /// Workflow lines of a loader setting the node cannot load with (C115).
    loader_settings: Vec<Cited>,
    errors: usize,
    warnings: usize,
    videos: Vec<String>,
    tensors: Vec<String>,
    /// The pose folders and reference images the run read.
    pose_dirs: Vec<String>,
    audio: Option<String>,
    images: Vec<String>,
    /// Inference YAMLs (`configs/inference/inference_v2.yaml`): the UNet's
    /// additional kwargs and the scheduler.
    inference_configs: Vec<String>,
    /// The denoising UNet's checkpoint, when discovery recognised one.
    denoising_unet: Option<String>,
    has_dump: bool,
    /// The ComfyUI folder the run's files lie in, when they lie in one.
    comfyui: Option<String>,
    /// A workflow of the run says ComfyUI ran it, wherever its files lie (a
    /// clip sent on alone carries its prompt).
    comfyui_workflow: bool,
    /// One of EchoMimicV2's web UIs ran the generation.
    ui: Option<Ui>,
    /// The files it loads that are not there.
    ui_missing: Vec<String>,
    /// A Jupyter notebook ran the generation (its cells' outputs are a
    /// log): its path, and how it ran it.
    notebook: Option<(String, NotebookRun)>,
    /// The clip a log names where this machine does not have it (a path
    /// on the server, an upload's address), with the line that names it.
    pub(crate) clip_not_here: Option<(String, String)>,
    /// A script of the folder ran the generation (a wrapper's entry point:
    /// `api.py`), and what its source says.
    script: Option<Script>,
    /// The base model's diffusers UNet folder (`…/unet`), when discovery found one.
    base_unet: Option<String>,
    /// The VAE's checkpoint: a diffusers folder, or one file (ComfyUI's `models/vae/`).
    vae: Option<String>,
    /// Videos the run wrote that decoded with no error or warning.
    clean_videos: Vec<String>,
    /// The pipeline that made the run, when it is not EchoMimicV2.
    pub(crate) pipeline: Option<Recognised>,
}

/// A model name that is not the denoising UNet's: `vae`, `reference_unet`,
/// the audio processor, the pose encoder.
fn not_the_unet(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    ["vae", "reference", "ref_unet", "audio", "whisper", "pose", "image_encoder", "text_encoder"]
        .iter()
        .any(|n| model.contains(n))
}

/// The ComfyUI folder `path` lies in: the one that holds `custom_nodes/`
/// or `models/echo_mimic/` (`models/AIFSH/` for another EchoMimicV2 node)
/// on the way to it.
pub(crate) fn comfyui_folder(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split(['/', '\\']).collect();
    let at = parts.windows(2).position(|w| {
        w[0] == "custom_nodes" || (w[0] == "models" && matches!(w[1], "echo_mimic" | "AIFSH"))
    })?;
    let folder = parts[..at].join("/");
    Some(if folder.is_empty() { ".".into() } else { folder })
}

/// Whether a quantization line names its models and none is the denoising UNet.
fn only_other_models(models: &[String]) -> bool {
    !models.is_empty() && models.iter().all(|m| not_the_unet(m))
}

/// The models a quantization line names (`evidence.models`, L110).
fn models(f: &Finding) -> Vec<String> {
    let listed = f.evidence.get("models").and_then(|m| m.as_array());
    listed.map(|m| m.iter().filter_map(|v| v.as_str()).map(str::to_string).collect()).unwrap_or_default()
}

fn in_family(f: &Finding, family: &[&Rule]) -> bool {
    family.iter().any(|r| f.is(r))
}

/// A log or config line the verdict cites: the finding's id, and the line as
/// `file:line: text`.
#[derive(Debug, Clone)]
struct Cited {
    id: String,
    at: String,
    /// The path a config line names, resolved (C102, C103).
    resolved: Option<String>,
    /// The models a quantization line names (L110); empty when it does not say.
    models: Vec<String>,
    /// The config key it states (C findings): a workflow's `NODE.WIDGET`.
    key: Option<String>,
    /// The file it is a line of.
    file: Option<String>,
    /// The path a config line names, as written (C114).
    path: Option<String>,
    /// An audio file a test case's entry names, read as its pose folder (C114).
    misread: bool,
    /// The custom node ComfyUI could not import at start, the exception's (L122).
    custom_node: Option<String>,
    /// A NaN-to-zero patch's notice (L104), not numpy's cast warning.
    patch: bool,
}

impl Cited {
    fn of(f: &Finding, id: String) -> Cited {
        let file = f.subject.file.as_deref().unwrap_or("");
        let line = f.subject.line.map_or(String::new(), |l| format!(":{l}"));
        let text = f.evidence.get("text").and_then(|t| t.as_str()).unwrap_or(&f.message);
        let resolved = f.evidence.get("resolved").and_then(|r| r.as_str()).map(str::to_string);
        let key = f.subject.key.clone();
        let path = f.evidence.get("path").and_then(|p| p.as_str()).map(str::to_string);
        let at = format!("{file}{line}: {text}");
        let misread = f.evidence.get("read_as").is_some();
        let custom_node = f.evidence.get("custom_node").and_then(|n| n.as_str()).map(str::to_string);
        let patch = f.is(&rules::log::NAN_REPLACED_WITH_ZEROS);
        Cited { id, at, resolved, models: models(f), key, file: f.subject.file.clone(), path, misread, custom_node, patch }
    }
}

fn ids(cited: &[Cited]) -> Vec<String> {
    cited.iter().map(|c| c.id.clone()).collect()
}

/// Each item once, in the order first seen.
fn first_of_each<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut kept = Vec::new();
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

/// A link observed in log or config lines: it cites them by id, quoted.
fn cited_link(stage: &str, says: String, cited: &[Cited]) -> Link {
    link(stage, says, Basis::Observed, ids(cited), lines(cited))
}

fn lines(cited: &[Cited]) -> Vec<String> {
    cited.iter().map(|c| c.at.clone()).collect()
}

/// The link of failed loads in a log, when there are any: `unnamed` when
/// none names its file, else what `named` says of the files they name.
fn load_link(cited: &[Cited], unnamed: &str, named: impl Fn(String) -> String) -> Option<Link> {
    if cited.is_empty() {
        return None;
    }
    let files = resolved_names(cited);
    let says = if files.is_empty() { unnamed.to_string() } else { named(list_some(&files, 4)) };
    Some(cited_link("model load", says, cited))
}

/// The files and folders cited load lines name, each once, as the user can
/// paste them.
fn resolved_names(cited: &[Cited]) -> Vec<String> {
    first_of_each(cited.iter().filter_map(|c| c.resolved.as_deref()).map(shown_path))
}

/// The quantization scheme a log line (L110) or config key (C113) names, as
/// `weights --simulate` takes it; none for a line that quantizes only
/// models other than the denoising UNet (EchoMimicV2's UI int8 option).
pub(crate) fn named_scheme(f: &Finding) -> Option<QuantScheme> {
    if !(f.is(&rules::log::QUANTIZATION_APPLIED) || f.is(&rules::config::QUANTIZATION_CONFIGURED)) {
        return None;
    }
    if only_other_models(&models(f)) {
        return None;
    }
    f.evidence.get("scheme").and_then(|s| s.as_str()).and_then(QuantScheme::from_name)
}

impl Evidence {
    /// What showed EchoMimicV3, when EchoMimicV3 made the run.
    fn v3(&self) -> Option<&Recognised> {
        self.pipeline.as_ref().filter(|p| p.pipeline == Pipeline::EchomimicV3)
    }

    /// EchoMimicV3's entry point, when EchoMimicV3 made the run.
    fn echomimic_v3(&self) -> Option<&str> {
        self.v3().map(|p| p.entry_point.as_str())
    }

    /// The command a script of the folder starts EchoMimicV3's entry point with.
    fn echomimic_v3_launch(&self) -> Option<&Launch> {
        self.v3()?.launched_by.as_ref()
    }

    /// EchoMimicV3's launch command, when it sets `--weight_dtype float16`
    /// (its default is bfloat16).
    fn fp16_launch(&self) -> Option<&Launch> {
        self.echomimic_v3_launch().filter(|l| l.value("--weight_dtype") == Some("float16"))
    }

    /// Whether mmgp quantized EchoMimicV3's transformer to qint8 as it
    /// loaded it: app_mm.py ran, or ComfyUI_EchoMimic's loader with an mmgp
    /// profile that quantizes (its workflow or mmgp's own line says so).
    fn mmgp(&self) -> bool {
        match self.v3() {
            Some(p) if p.in_comfyui() => {
                p.mmgp_quantizes().is_some() || self.quant_lines.iter().any(|c| c.models.iter().any(|m| m == "transformer"))
            }
            Some(p) => p.entry_point == super::pipeline::MMGP_ENTRY,
            None => false,
        }
    }

    /// What hands EchoMimicV3's pipeline to mmgp: app_mm.py, or
    /// ComfyUI_EchoMimic's loader node.
    fn mmgp_caller(&self) -> String {
        match self.v3() {
            Some(p) if p.in_comfyui() => format!("{}'s Echo_LoadModel", super::pipeline::COMFYUI_ENTRY),
            _ => super::pipeline::MMGP_ENTRY.to_string(),
        }
    }

    /// Whether ComfyUI_EchoMimic ran EchoMimicV3.
    fn v3_in_comfyui(&self) -> bool {
        self.v3().is_some_and(Recognised::in_comfyui)
    }

    /// The network that denoises: EchoMimicV3's is a transformer.
    fn denoiser(&self) -> &'static str {
        if self.echomimic_v3().is_some() { "denoising transformer" } else { "denoising UNet" }
    }

    pub(crate) fn gather(
        findings: &[(usize, &Finding)],
        artifacts: &[Artifact],
        quantized: Vec<Quantized>,
        simulated: Option<Simulated>,
        missing: Vec<Component>,
        weights_folder: Option<String>,
        ui: Option<(Ui, Vec<String>)>,
    ) -> Evidence {
        use rules::{pose, trace, video, weights};
        let (ui, ui_missing) = ui.map_or((None, Vec::new()), |(ui, missing)| (Some(ui), missing));
        let mut e = Evidence { quantized, simulated, missing, weights_folder, ui, ui_missing, ..Evidence::default() };
        for a in artifacts {
            match a.kind {
                ArtifactKind::Video => e.videos.push(a.path.clone()),
                ArtifactKind::VideoTensor => e.tensors.push(a.path.clone()),
                // What the run did not read is neither repaired nor replayed.
                ArtifactKind::Poses if !a.unused => e.pose_dirs.push(a.path.clone()),
                ArtifactKind::Audio if !a.unused => e.audio = e.audio.clone().or(Some(a.path.clone())),
                ArtifactKind::Image if !a.unused && !a.output => e.images.push(a.path.clone()),
                ArtifactKind::Config
                    if std::path::Path::new(&a.path)
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().starts_with("inference")) =>
                {
                    e.inference_configs.push(a.path.clone())
                }
                ArtifactKind::Dump => e.has_dump = true,
                _ => {}
            }
            if matches!(a.kind, ArtifactKind::Image | ArtifactKind::Audio | ArtifactKind::Poses) && !a.unused && !a.output {
                e.inputs.push(a.path.clone());
            }
            if e.comfyui.is_none() {
                e.comfyui = comfyui_folder(&a.path);
            }
            // What the run did not load or read names no fix.
            if a.unused {
                continue;
            }
            e.comfyui_workflow |= a.comfyui_workflow;
            if let Some(script) = a.script.as_ref().filter(|_| e.script.is_none()) {
                e.script = Some(script.clone());
            }
            if let Some(run) = a.notebook.as_ref().filter(|_| e.notebook.is_none()) {
                e.notebook = Some((a.path.clone(), run.clone()));
            }
            if a.component == Some(Component::DenoisingUnet) && e.denoising_unet.is_none() {
                e.denoising_unet = Some(a.path.clone());
            }
            if a.kind == ArtifactKind::Weights {
                let path = std::path::Path::new(&a.path);
                if a.component == Some(Component::Vae) && e.vae.is_none() {
                    e.vae = Some(a.path.clone());
                } else if path.file_name().is_some_and(|n| n == "unet") && path.is_dir() && e.base_unet.is_none() {
                    e.base_unet = Some(a.path.clone());
                }
            }
        }
        e.clean_videos = artifacts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == ArtifactKind::Video && !a.unused && !a.checks.is_empty())
            .filter(|(i, _)| !findings.iter().any(|(at, f)| at == i && f.severity >= Severity::Warning))
            .map(|(_, a)| a.path.clone())
            .collect();
        for &(artifact, f) in findings {
            let id = f.id.clone().unwrap_or_default();
            let kind = artifacts.get(artifact).map(|a| a.kind);
            // A config or input the run did not use is listed, not judged;
            // nor are poses that outlast the audio, which the pipeline trims
            // to it (a warning of `pose check`, but nothing broke); nor a
            // config key the run's own entry point does not read.
            let unread_key = f.evidence.contains_key("not_read_by");
            if artifacts.get(artifact).is_some_and(|a| a.unused) || poses_outlast_audio(f) || unread_key {
                continue;
            }
            match f.severity {
                Severity::Error => e.errors += 1,
                Severity::Warning => e.warnings += 1,
                Severity::Info => {}
            }
            e.ffmpeg_missing |= f.is(&rules::log::FFMPEG_MISSING);
            e.motion_exit |= f.is(&rules::log::MOTION_MODULE_NOT_FOUND);
            if let Some(bucket) = e.text_bucket(f) {
                bucket.push(Cited::of(f, id));
            } else if f.is(&trace::NONFINITE_PRODUCER) || f.is(&trace::FIRST_NONFINITE_RECORD) {
                if e.producer.is_none() {
                    let module = f.subject.module.clone().unwrap_or_default();
                    let stage = f.subject.stage.clone().unwrap_or_default();
                    let in_vae = [&module, &stage].iter().any(|s| {
                        let s = s.to_lowercase();
                        s.starts_with("vae") || s.contains(".vae") || s.contains("decode")
                    });
                    e.producer = Some(Producer { id, module, step: f.subject.step, in_vae });
                }
            } else if f.is(&trace::NEAR_OVERFLOW) {
                e.near_overflow.push(id);
            } else if f.is(&trace::NONFINITE_PROPAGATION) {
                e.spread.push(id);
            } else if f.is(&video::ENCODE_NONFINITE) {
                e.tensor_nan.push(id);
            } else if f.is(&video::BLACK_FRAMES) || f.is(&video::BLANK_FRAMES) || f.is(&video::NAN_CAST_SIGNATURE) {
                if let Some(frames) = f.subject.frames.or(f.subject.frame.map(|x| [x, x])) {
                    e.black_frames = Some(match e.black_frames {
                        Some([a, b]) => [a.min(frames[0]), b.max(frames[1])],
                        None => frames,
                    });
                }
                e.black.push(id);
            } else if [
                &video::EMPTY_FILE,
                &video::NOT_MEDIA,
                &video::MOOV_MISSING,
                &video::TRUNCATED,
                &video::DECODE_ERRORS,
                &video::NO_VIDEO_STREAM,
            ]
            .iter()
            .any(|r| f.is(r))
            {
                e.container.push(id);
                if kind == Some(ArtifactKind::Video) {
                    let path = &artifacts[artifact].path;
                    let no_moov = f.is(&video::MOOV_MISSING);
                    match e.broken_videos.iter_mut().find(|(v, _)| v == path) {
                        Some((_, missing)) => *missing |= no_moov,
                        None => e.broken_videos.push((path.clone(), no_moov)),
                    }
                }
            } else if f.is(&video::AUDIO_MISSING) {
                e.audio_missing.push(id);
                if kind == Some(ArtifactKind::Video) && !e.silent_videos.contains(&artifacts[artifact].path) {
                    e.silent_videos.push(artifacts[artifact].path.clone());
                }
            } else if f.is(&video::AV_DURATION_MISMATCH)
                || f.is(&video::FRAME_COUNT_MISMATCH)
                || f.is(&pose::FRAME_COUNT_MISMATCH)
            {
                // At info a count differs as the pipeline means it to (more
                // poses than asked for; poses a node repeats to the audio).
                if f.severity >= Severity::Warning {
                    e.length.push(id);
                }
            } else if f.is(&rules::format::GIT_LFS_POINTER) {
                let file = f.subject.file.clone().unwrap_or_else(|| artifacts[artifact].path.clone());
                e.lfs_pointers.push((id, file));
            } else if kind == Some(ArtifactKind::Weights)
                && f.severity == Severity::Error
                && in_family(f, rules::format::RULES)
            {
                e.corrupt.push(id);
                e.damaged.push(artifacts[artifact].path.clone());
            } else if kind == Some(ArtifactKind::Weights)
                && f.severity == Severity::Error
                && (in_family(f, weights::RULES) || in_family(f, rules::quant::RULES))
            {
                e.bad_weights.push((id, artifacts[artifact].component));
                e.damaged.push(artifacts[artifact].path.clone());
            } else if in_family(f, rules::simulate::RULES) {
                if f.severity >= Severity::Warning {
                    e.quant_damage.push(id.clone());
                }
                e.simulation_notes.push(id);
            } else if kind == Some(ArtifactKind::Poses) && f.severity == Severity::Error {
                e.bad_poses.push(id);
            } else if kind == Some(ArtifactKind::Image)
                && f.severity == Severity::Error
                && in_family(f, rules::image::RULES)
            {
                // Not the workflow an image of ComfyUI's carries (C findings).
                e.bad_image.push(id);
            }
        }
        e
    }

    /// Where a log or config finding goes: the lines the verdict reads.
    fn text_bucket(&mut self, f: &Finding) -> Option<&mut Vec<Cited>> {
        use rules::{config, log};
        if f.is(&log::QUANTIZATION_APPLIED) || f.is(&config::QUANTIZATION_CONFIGURED) {
            Some(&mut self.quant_lines)
        } else if f.is(&log::NAN_CAST_WARNING) || f.is(&log::NAN_REPLACED_WITH_ZEROS) {
            Some(&mut self.cast_lines)
        } else if f.is(&log::ZERO_BYTES_READ) || f.is(&log::MOOV_ATOM_NOT_FOUND) || f.is(&log::FFMPEG_MISSING) {
            Some(&mut self.mux_lines)
        } else if f.is(&log::MOTION_MODULE_EMPTY)
            || f.is(&log::MOTION_MODULE_NOT_FOUND)
            || f.is(&config::MOTION_MODULE_MISSING)
        {
            Some(&mut self.motion_lines)
        } else if f.is(&config::WEIGHT_FILE_MISSING) {
            Some(&mut self.config_missing)
        } else if f.is(&log::LFS_POINTER_LOADED) {
            Some(&mut self.lfs_lines)
        } else if f.is(&log::WEIGHTS_NOT_FOUND) {
            Some(&mut self.load_lines)
        } else if f.is(&log::CHECKPOINT_UNREADABLE) {
            Some(&mut self.unreadable_lines)
        } else if f.is(&log::CHECKPOINT_MISMATCH) {
            Some(&mut self.mismatch_lines)
        } else if f.is(&log::UNHANDLED_EXCEPTION) {
            let text = f.evidence.get("text").and_then(|t| t.as_str()).unwrap_or(&f.message);
            let node = f.evidence.get("custom_node").and_then(|n| n.as_str());
            if let Some(node) = node {
                // ComfyUI started without the node: only an EchoMimic node's
                // stops the run, whose workflow then cannot be queued.
                return match (super::discover::echomimic_node(base_name(node)), failed_import(text).is_some()) {
                    (false, _) => None,
                    (true, true) => Some(&mut self.import_lines),
                    (true, false) => Some(&mut self.exception_lines),
                };
            }
            Some(if missing_input(text).is_some() {
                &mut self.input_lines
            } else if failed_import(text).is_some() {
                &mut self.import_lines
            } else {
                &mut self.exception_lines
            })
        } else if f.is(&config::TEST_CASE_INPUT) && f.evidence.get("stops").and_then(|s| s.as_bool()) != Some(false) {
            Some(&mut self.case_lines)
        } else if f.is(&log::CUDA_OUT_OF_MEMORY) {
            Some(&mut self.oom_lines)
        } else if f.is(&log::SHAPE_MISMATCH) {
            Some(&mut self.shape_lines)
        } else if f.is(&config::LOADER_SETTING_STOPS) {
            Some(&mut self.loader_settings)
        } else if f.is(&config::SIZE_NOT_MULTIPLE_OF_8)
            || f.is(&config::SIZE_NOT_POSE_SIZE)
            || f.is(&config::CONTEXT_WINDOWS)
        {
            Some(&mut self.setting_lines)
        } else {
            None
        }
    }

    /// Whether the denoising UNet ran quantized: a checkpoint of it (or of a
    /// component not recognised) holds quantized tensors, or a quantization
    /// line names it or no model at all.
    fn unet_quantized(&self) -> bool {
        self.quantized.iter().any(|q| matches!(q.component, None | Some(Component::DenoisingUnet)))
            || self.quant_lines.iter().any(|c| !only_other_models(&c.models))
            || self.mmgp_quantizes().is_some()
    }

    /// Where app_mm.py, the script that ran, has mmgp quantize the
    /// transformer (`app_mm.py:222`).
    fn mmgp_quantizes(&self) -> Option<&str> {
        self.v3()?.mmgp_quantizes()
    }

    /// Whether the denoising UNet's checkpoint holds quantized tensors.
    fn unet_quantized_on_disk(&self) -> bool {
        self.quantized.iter().any(|q| q.component == Some(Component::DenoisingUnet))
    }

    /// Quantization lines that name only other models than the denoising
    /// UNet (EchoMimicV2's UI int8 option: the VAE and reference UNet).
    fn other_models_quantized(&self) -> Vec<&Cited> {
        self.quant_lines.iter().filter(|c| only_other_models(&c.models)).collect()
    }

    /// The cause is NaN in the VAE's weights alone, which would make every
    /// decoded frame NaN.
    fn vae_weights_only(&self, rule: &Rule) -> bool {
        *rule == cause::NONFINITE_WEIGHTS && self.bad_weights.iter().all(|(_, c)| *c == Some(Component::Vae))
    }

    /// A video of the run that decodes clean, where the cause predicts
    /// every frame NaN: the weights changed after it was made, or other
    /// weights made it.
    fn contradicting_video(&self, rule: &Rule) -> Option<&str> {
        self.clean_videos.first().map(String::as_str).filter(|_| self.vae_weights_only(rule) && !self.symptoms())
    }

    fn symptoms(&self) -> bool {
        !self.black.is_empty() || !self.tensor_nan.is_empty() || !self.cast_lines.is_empty()
    }

    /// A load stopped the run: a weight file or model folder not found or
    /// another model's, or the entry point's exit for want of its motion
    /// module. Nothing after the load ran.
    fn stopped_at_load(&self) -> bool {
        !self.load_lines.is_empty() || !self.mismatch_lines.is_empty() || self.motion_exit
    }

    /// How NaN is predicted to arise in the denoiser with no dump: fp16's
    /// overflow, unless the run is EchoMimicV3's in bfloat16 (its default),
    /// where the range is float32's.
    fn predicted_overflow(&self) -> &'static str {
        if self.echomimic_v3().is_some() && self.fp16_launch().is_none() {
            "NaN appears in the transformer and spreads through the denoising steps (no dump to confirm it)"
        } else {
            "activations overflow fp16 and NaN spreads through the denoising steps (no dump to confirm it)"
        }
    }

    /// The log's exception lines of the load a loader setting stops
    /// (omegaconf's `Missing key quantize_transformer`).
    fn loader_stop_lines(&self) -> Vec<Cited> {
        self.exception_lines.iter().filter(|c| c.at.contains("quantize_transformer")).cloned().collect()
    }

    fn unet_producer(&self) -> Option<&Producer> {
        self.producer.as_ref().filter(|p| !p.in_vae)
    }
}

/// A cause the evidence supports, with its score.
struct Candidate {
    rule: &'static Rule,
    score: u32,
    findings: Vec<String>,
    /// Why it ranks lower when it does not win.
    why_lower: String,
}

/// Step 2: every cause the evidence supports.
fn candidates(e: &Evidence) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut push = |rule, score, findings: Vec<String>, why_lower: String| {
        out.push(Candidate { rule, score, findings, why_lower })
    };
    let producer_ids: Vec<String> = e.producer.iter().map(|p| p.id.clone()).collect();
    if !e.corrupt.is_empty() || !e.unreadable_lines.is_empty() {
        let mut found = e.corrupt.clone();
        found.extend(ids(&e.unreadable_lines));
        push(
            &cause::CORRUPT_CHECKPOINT,
            9,
            found,
            "a checkpoint file is malformed, but other evidence explains more of the failure".into(),
        );
    }
    if !e.bad_weights.is_empty() {
        let ids: Vec<String> = e.bad_weights.iter().map(|(id, _)| id.clone()).collect();
        let mut score = 8;
        if e.unet_producer().is_some() && e.unet_quantized() {
            score = 5;
        }
        let why = if e.unet_producer().is_some() {
            "the stored weights hold hazards, but the dump shows the NaN produced by activations"
        } else if e.stopped_at_load() {
            "the stored weights hold hazards, but the run stopped loading its models, before they computed anything"
        } else {
            "the stored weights hold hazards, but other evidence explains more of the failure"
        };
        push(&cause::NONFINITE_WEIGHTS, score, ids, why.into());
    }
    if e.unet_quantized() {
        let mut score = 5;
        if e.unet_producer().is_some() {
            score += 3;
        }
        if !e.quant_damage.is_empty() {
            score += 1;
        }
        if e.symptoms() {
            score += 1;
        }
        if e.producer.as_ref().is_some_and(|p| p.in_vae) {
            score -= 3;
        }
        let mut ids = producer_ids.clone();
        ids.extend(e.quant_damage.iter().cloned());
        ids.extend(self::ids(&e.quant_lines));
        let why = if e.producer.is_some() {
            "the first NaN was produced elsewhere"
        } else if !e.symptoms() {
            "no NaN and no black frame shows that it did harm"
        } else {
            "other evidence explains more of the failure"
        };
        let denoiser = if e.echomimic_v3().is_some() { "transformer" } else { "UNet" };
        push(&cause::QUANTIZATION_OVERFLOW, score, ids, format!("the {denoiser} is quantized, but {why}"));
    }
    if let Some(p) = e.unet_producer()
        && !e.unet_quantized()
    {
        push(
            &cause::ACTIVATION_OVERFLOW,
            8,
            vec![p.id.clone()],
            "an activation overflowed, but something upstream explains why".into(),
        );
    }
    if let Some(p) = e.producer.as_ref().filter(|p| p.in_vae) {
        push(
            &cause::VAE_OVERFLOW,
            9,
            vec![p.id.clone()],
            "the VAE produced NaN, but from inputs already damaged upstream".into(),
        );
    }
    if !e.bad_poses.is_empty() {
        push(
            &cause::BROKEN_POSE_INPUT,
            7,
            e.bad_poses.clone(),
            "the pose findings do not explain NaN produced inside the UNet or VAE".into(),
        );
    }
    if !e.bad_image.is_empty() {
        push(
            &cause::BAD_REFERENCE_IMAGE,
            7,
            e.bad_image.clone(),
            "the reference image findings do not explain NaN produced inside the pipeline".into(),
        );
    }
    let lfs = !e.lfs_pointers.is_empty() || !e.lfs_lines.is_empty();
    let stopped_at_load = e.stopped_at_load();
    if !e.missing.is_empty() || !e.motion_lines.is_empty() || !e.config_missing.is_empty() || lfs || stopped_at_load {
        // A pointer file is the checkpoint observed missing, and a load that
        // failed stopped the run: nothing downstream ran on them.
        let score = if lfs {
            10
        } else if stopped_at_load {
            9
        } else {
            7
        };
        let mut found: Vec<String> = e.lfs_pointers.iter().map(|(id, _)| id.clone()).collect();
        found.extend(ids(&e.lfs_lines));
        found.extend(ids(&e.load_lines));
        found.extend(ids(&e.mismatch_lines));
        found.extend(ids(&e.motion_lines));
        found.extend(ids(&e.config_missing));
        push(
            &cause::MISSING_WEIGHTS,
            score,
            found,
            "a component is missing from the weights folder, but the failure shows a different mechanism".into(),
        );
    }
    if !e.oom_lines.is_empty() {
        // A crash explains a cut-off writer (above K109), not NaN.
        let score = if e.symptoms() { 2 } else { 7 };
        push(
            &cause::OUT_OF_MEMORY,
            score,
            ids(&e.oom_lines),
            "the GPU ran out of memory in a run, but that does not make frames NaN or black".into(),
        );
    }
    if !e.shape_lines.is_empty() || !e.loader_settings.is_empty() {
        let mut found = ids(&e.shape_lines);
        found.extend(ids(&e.setting_lines));
        found.extend(ids(&e.loader_settings));
        found.extend(ids(&e.loader_stop_lines()));
        let why = if e.shape_lines.is_empty() {
            "the workflow's loader setting stops a run at load, but a run that made frames got past it"
        } else {
            "a shape error stopped a run, but that does not make frames NaN or black"
        };
        push(&cause::SETTINGS_STOPPED_THE_RUN, if e.symptoms() { 2 } else { 7 }, found, why.into());
    }
    if !e.case_lines.is_empty() || !e.input_lines.is_empty() {
        // Observed in a traceback, or predicted from the config alone.
        let score = if e.symptoms() {
            2
        } else if e.input_lines.is_empty() {
            6
        } else {
            8
        };
        let mut found = ids(&e.case_lines);
        found.extend(ids(&e.input_lines));
        push(
            &cause::INPUT_NOT_FOUND,
            score,
            found,
            "an input was not there when a run read it, but that does not make frames NaN or black".into(),
        );
    }
    if !e.import_lines.is_empty() {
        push(
            &cause::IMPORT_FAILED,
            if e.symptoms() { 2 } else { 8 },
            ids(&e.import_lines),
            "a run stopped at an import, but that does not make frames NaN or black".into(),
        );
    }
    if !e.container.is_empty() || !e.mux_lines.is_empty() || !e.audio_missing.is_empty() {
        let score = if e.symptoms() { 3 } else { 6 };
        let mut ids = e.container.clone();
        ids.extend(e.audio_missing.iter().cloned());
        ids.extend(self::ids(&e.mux_lines));
        push(&cause::ENCODER_MUX_FAILURE, score, ids, "the writer or mux failed after the frames were already black: it is the last link of the chain, not its start".into());
    }
    if !e.length.is_empty() {
        push(
            &cause::LENGTH_MISMATCH,
            3,
            e.length.clone(),
            "a length mismatch trims or pads the clip; it does not make frames black".into(),
        );
    }
    if e.symptoms() {
        let mut ids = e.tensor_nan.clone();
        ids.extend(e.black.iter().cloned());
        push(
            &cause::NAN_CAST_BLACK_FRAMES,
            4,
            ids,
            "casting NaN to uint8 is how the frames became black, not why the NaN appeared".into(),
        );
    }
    out
}

/// Steps 3 and 4: the verdict.
pub(crate) fn verdict(e: &Evidence) -> Verdict {
    let mut found = candidates(e);
    // Highest score first; ties keep the catalogue's order (upstream first).
    found.sort_by_key(|c| std::cmp::Reverse(c.score));
    let Some(best) = found.first() else {
        let rule = if e.errors == 0 && e.warnings == 0 { &cause::HEALTHY_RUN } else { &cause::UNKNOWN_CAUSE };
        return quiet_verdict(rule, e);
    };
    let rule = best.rule;
    let chain = chain(rule, e);
    let observed_cause = chain.first().is_some_and(|l| l.basis == Basis::Observed);
    let observed = chain.iter().filter(|l| l.basis == Basis::Observed).count();
    let confidence = match (observed_cause, observed) {
        // What the cause predicts is not what the run's video shows.
        _ if e.contradicting_video(rule).is_some() => Confidence::Low,
        (true, n) if n >= 3 => Confidence::High,
        (true, _) => Confidence::Medium,
        (false, n) if n >= 2 => Confidence::Medium,
        _ => Confidence::Low,
    };
    let competing = found
        .iter()
        .skip(1)
        .map(|c| Competing {
            cause: CauseRef::of(c.rule),
            why_lower: c.why_lower.clone(),
            findings: c.findings.clone(),
        })
        .collect();
    Verdict {
        root_cause: CauseRef::of(rule),
        confidence,
        headline: headline(rule, e),
        chain,
        fix: fix(rule, e),
        next: next(rule, e),
        competing,
    }
}

fn quiet_verdict(rule: &'static Rule, e: &Evidence) -> Verdict {
    let exception = e.exception_lines.first();
    let headline = if *rule == cause::HEALTHY_RUN {
        "Every check passed: nothing in the run folder explains a failure.".to_string()
    } else if let Some(line) = exception {
        format!("The run stopped on an exception no catalogued cause explains: {}", line.at)
    } else {
        let n = e.errors + e.warnings;
        format!(
            "{n} finding{}, but no catalogued cause explains them: read the findings.",
            if n == 1 { "" } else { "s" }
        )
    };
    Verdict {
        root_cause: CauseRef::of(rule),
        // A run folder without the run's output says less: its log and
        // config passed, but nobody looked at what the run made.
        confidence: match (*rule == cause::HEALTHY_RUN, e.videos.is_empty() && e.tensors.is_empty()) {
            (true, false) => Confidence::High,
            (true, true) => Confidence::Medium,
            (false, _) => Confidence::Low,
        },
        headline,
        chain: exception
            .map(|_| vec![cited_link("run", "a traceback ends in an exception".into(), &e.exception_lines)])
            .unwrap_or_default(),
        fix: vec![],
        next: next(rule, e),
        competing: vec![],
    }
}

fn headline(rule: &'static Rule, e: &Evidence) -> String {
    let producer = e
        .producer
        .as_ref()
        .map(|p| {
            format!(
                " {} produced the first NaN/Inf{}.",
                p.module,
                p.step.map_or(String::new(), |s| format!(" at step {s}"))
            )
        })
        .unwrap_or_default();
    let black = e.black_frames.map(|[a, b]| format!(" Frames {a}-{b} of the video are black.")).unwrap_or_default();
    let clean = e
        .contradicting_video(rule)
        .map(|video| format!(" Yet {video} decodes clean: it was made before the damage, or with another VAE."))
        .unwrap_or_default();
    if *rule == cause::IMPORT_FAILED
        && let Some((import, node)) = e.import_lines.iter().find_map(|c| Some((failed_import(&c.at)?, c.custom_node.as_deref())))
    {
        return match node {
            Some(node) => format!(
                "ComfyUI started without {}: it could not import {}, and the Python environment {}.",
                base_name(node),
                import.shown(),
                import.lacks()
            ),
            None => format!("The run stopped importing {}: the Python environment {}.", import.shown(), import.lacks()),
        };
    }
    if *rule == cause::INPUT_NOT_FOUND {
        let named = |c: &&Cited| c.path.as_deref().is_some_and(|p| !p.trim().is_empty());
        let observed = !e.input_lines.is_empty();
        match e.case_lines.iter().find(named) {
            Some(c) if c.misread => {
                let path = c.path.as_deref().unwrap_or_default();
                return format!(
                    "A test case of the run's config names an audio file without .wav in its name: infer_acc.py \
                     reads {path} as the pose folder and stops there."
                );
            }
            Some(c) if !observed => {
                let path = c.path.as_deref().unwrap_or_default();
                return format!(
                    "A test case of the run's config names an input that is not there: {path}; infer_acc.py stops at \
                     that case."
                );
            }
            Some(c) => return format!("{}: {}.", capitalise(rule.summary), c.path.as_deref().unwrap_or_default()),
            None => {
                if let Some(path) = e.input_lines.iter().find_map(|c| missing_input(&c.at)) {
                    return format!("{}: {path}.", capitalise(rule.summary));
                }
            }
        }
    }
    if *rule == cause::QUANTIZATION_OVERFLOW && e.echomimic_v3().is_some() {
        let how = if e.mmgp() { format!(" (qint8, by mmgp in {})", e.mmgp_caller()) } else { String::new() };
        return format!("Weight quantization of the denoising transformer{how} turned its output NaN.{producer}{black}{clean}");
    }
    format!("{}.{producer}{black}{clean}", capitalise(rule.summary))
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn link(stage: &str, says: String, basis: Basis, findings: Vec<String>, evidence: Vec<String>) -> Link {
    Link { stage: stage.into(), says, basis, findings, evidence }
}

/// The chain from the cause to the symptoms, in pipeline order.
fn chain(rule: &'static Rule, e: &Evidence) -> Vec<Link> {
    let mut links = Vec::new();
    let is = |r: &Rule| rule == r;
    if is(&cause::CORRUPT_CHECKPOINT) {
        if !e.corrupt.is_empty() {
            links.push(link(
                "checkpoint file",
                "a checkpoint file is truncated or malformed".into(),
                Basis::Observed,
                e.corrupt.clone(),
                vec![],
            ));
        }
        let what = "a model load read a file that is truncated or is not a checkpoint";
        links.extend(load_link(&e.unreadable_lines, what, |files| format!("{what}: {files}")));
    }
    if is(&cause::NONFINITE_WEIGHTS) {
        let ids = e.bad_weights.iter().map(|(id, _)| id.clone()).collect();
        let vae = e.bad_weights.iter().any(|(_, c)| *c == Some(Component::Vae));
        let what = if vae {
            "the VAE checkpoint holds non-finite or overflowing weights"
        } else {
            "a checkpoint holds non-finite or overflowing weights"
        };
        links.push(link("weights", what.into(), Basis::Observed, ids, vec![]));
    }
    let lfs = !e.lfs_pointers.is_empty() || !e.lfs_lines.is_empty();
    if is(&cause::MISSING_WEIGHTS) && lfs {
        let files: Vec<&str> = e.lfs_pointers.iter().map(|(_, file)| file.as_str()).collect();
        let n = files.len();
        let says = if n == 0 {
            "a checkpoint load read a Git LFS pointer: the weights were never downloaded".to_string()
        } else {
            format!(
                "{n} checkpoint file{} {} Git LFS pointer{}, not weights: {}",
                if n == 1 { "" } else { "s" },
                if n == 1 { "is a" } else { "are" },
                if n == 1 { "" } else { "s" },
                list_some(&files, 4)
            )
        };
        let mut cited: Vec<String> = e.lfs_pointers.iter().map(|(id, _)| id.clone()).collect();
        cited.extend(ids(&e.lfs_lines));
        links.push(link("weights", says, Basis::Observed, cited, lines(&e.lfs_lines)));
    }
    if is(&cause::MISSING_WEIGHTS) {
        let stopped = "the run stopped at model load";
        links.extend(load_link(
            &e.load_lines,
            &format!("{stopped}: a weight file or model folder was not found"),
            |files| format!("{stopped}: not found: {files}"),
        ));
        links.extend(load_link(
            &e.mismatch_lines,
            &format!("{stopped}: the weights or config it read belong to another model"),
            |files| format!("{stopped}: {files} holds another model's weights or config"),
        ));
    }
    let named = !e.motion_lines.is_empty() || !e.config_missing.is_empty();
    let logged = !e.load_lines.is_empty() || !e.mismatch_lines.is_empty();
    if is(&cause::MISSING_WEIGHTS) && (!e.missing.is_empty() || named || !(lfs || logged)) {
        let names: Vec<&str> = e.missing.iter().map(|c| c.name()).collect();
        let files = first_of_each(e.config_missing.iter().filter_map(|c| c.resolved.as_deref()).map(base_name));
        let says = if !names.is_empty() {
            format!("missing from pretrained_weights/: {}", names.join(", "))
        } else if !files.is_empty() {
            format!("the run's config names files that do not exist: {}", list_some(&files, 4))
        } else if !e.motion_lines.is_empty() {
            // The folder may hold the other variant's file (motion_module_acc.pth):
            // the config and the log say which one the run wanted.
            "the motion module the run names was not loaded".to_string()
        } else {
            "a component was not loaded".to_string()
        };
        let cited: Vec<Cited> = e.motion_lines.iter().chain(&e.config_missing).cloned().collect();
        links.push(cited_link("weights", says, &cited));
    }
    if is(&cause::OUT_OF_MEMORY) {
        links.push(cited_link("memory", "the GPU ran out of memory and the generation stopped".into(), &e.oom_lines));
    }
    if is(&cause::SETTINGS_STOPPED_THE_RUN) {
        if !e.setting_lines.is_empty() {
            let says = "the run's config asks for a size or context windows the pipeline cannot run with";
            links.push(cited_link("config", says.into(), &e.setting_lines));
        }
        if !e.loader_settings.is_empty() {
            let says = "the workflow gives ComfyUI_EchoMimic's flash loader an mmgp profile: it reads \
                        quantize_transformer from config.yaml, which does not hold it";
            links.push(cited_link("workflow", says.into(), &e.loader_settings));
            let stopped = e.loader_stop_lines();
            links.push(if stopped.is_empty() {
                let says = "the load stops at omegaconf's Missing key quantize_transformer (no log line to confirm it)";
                link("model load", says.into(), Basis::Predicted, vec![], vec![])
            } else {
                cited_link("model load", "the load stopped before a frame was generated".into(), &stopped)
            });
        }
        if !e.shape_lines.is_empty() {
            let says = "a shape error stopped the run before a video was written";
            links.push(cited_link("generation", says.into(), &e.shape_lines));
        }
    }
    if is(&cause::IMPORT_FAILED) {
        let says = if e.import_lines.iter().any(|c| c.custom_node.is_some()) {
            "ComfyUI could not import the EchoMimic node at start: a workflow that uses it cannot run"
        } else {
            "the run stopped at an import, before it loaded a weight: no video was written"
        };
        links.push(cited_link("environment", says.into(), &e.import_lines));
    }
    if is(&cause::INPUT_NOT_FOUND) {
        let paths = first_of_each(e.case_lines.iter().filter(|c| !c.misread).filter_map(|c| c.path.as_deref()));
        let misread = first_of_each(e.case_lines.iter().filter(|c| c.misread).filter_map(|c| c.path.as_deref()));
        if !misread.is_empty() {
            let says = format!(
                "a test case of the run's config names an audio file without .wav in its name, read as its pose folder: {}",
                list_some(&misread, 4)
            );
            let cited: Vec<Cited> = e.case_lines.iter().filter(|c| c.misread).cloned().collect();
            links.push(cited_link("config", says, &cited));
        }
        let missing: Vec<Cited> = e.case_lines.iter().filter(|c| !c.misread).cloned().collect();
        if !missing.is_empty() {
            let says = match paths.as_slice() {
                [] => "a test case of the run's config has no audio file or pose folder".to_string(),
                [one] => format!("a test case of the run's config names an input that is not there: {one}"),
                _ => format!("test cases of the run's config name inputs that are not there: {}", list_some(&paths, 4)),
            };
            links.push(cited_link("config", says, &missing));
        }
        if e.input_lines.is_empty() {
            let says = "infer_acc.py stops at the first such test case: no video for it or for the cases after it";
            links.push(link("inputs", says.into(), Basis::Predicted, vec![], vec![]));
        } else {
            let says = "the run stopped reading an input that is not there";
            links.push(cited_link("inputs", says.into(), &e.input_lines));
        }
    }
    if is(&cause::BROKEN_POSE_INPUT) {
        links.push(link(
            "poses",
            "the pose sequence has broken frames".into(),
            Basis::Observed,
            e.bad_poses.clone(),
            vec![],
        ));
        links.push(link(
            "pose encoder",
            "broken poses feed missing or NaN features into the UNet".into(),
            Basis::Predicted,
            vec![],
            vec![],
        ));
    }
    if is(&cause::BAD_REFERENCE_IMAGE) {
        links.push(link(
            "reference image",
            "the reference image is unusable".into(),
            Basis::Observed,
            e.bad_image.clone(),
            vec![],
        ));
    }
    if is(&cause::LENGTH_MISMATCH) {
        links.push(link(
            "inputs",
            "audio, poses and video disagree on the clip's length".into(),
            Basis::Observed,
            e.length.clone(),
            vec![],
        ));
    }
    if is(&cause::QUANTIZATION_OVERFLOW) {
        let mut evidence: Vec<String> = e
            .quantized
            .iter()
            .map(|q| format!("{}: {} tensors stored quantized ({})", q.file, q.tensors, q.scheme))
            .collect();
        // The lines that quantize the denoiser, not those of other models.
        let denoiser_lines: Vec<Cited> =
            e.quant_lines.iter().filter(|c| !only_other_models(&c.models)).cloned().collect();
        evidence.extend(lines(&denoiser_lines));
        if let Some(at) = e.mmgp_quantizes().filter(|_| denoiser_lines.is_empty()) {
            evidence.push(format!("{at}: offload.profile(…) leaves mmgp's quantizeTransformer on, its default"));
        }
        let says = if e.mmgp() {
            format!(
                "the {} runs with qint8 weights: mmgp's offload profile in {} quantizes it as it loads",
                e.denoiser(),
                e.mmgp_caller()
            )
        } else {
            format!("the {} runs with quantized weights", e.denoiser())
        };
        links.push(link("quantization", says, Basis::Observed, ids(&denoiser_lines), evidence));
        if let Some(sim) = &e.simulated {
            let top: Vec<&str> = sim.exclude.iter().take(5).map(String::as_str).collect();
            let says = if top.is_empty() {
                format!("simulating {} on {} predicts no Linear module damaged past rounding", sim.scheme, sim.file)
            } else {
                format!(
                    "simulating {} on {} predicts the most damaged modules: {}",
                    sim.scheme,
                    sim.file,
                    top.join(", ")
                )
            };
            links.push(link("quantization damage", says, Basis::Predicted, e.simulation_notes.clone(), vec![]));
        }
    }
    let vae_weights = e.vae_weights_only(rule);
    let upstream_of_unet =
        !is(&cause::VAE_OVERFLOW) && !is(&cause::ENCODER_MUX_FAILURE) && !is(&cause::LENGTH_MISMATCH) && !vae_weights;
    if upstream_of_unet {
        match e.unet_producer() {
            Some(p) => {
                let mut ids = vec![p.id.clone()];
                ids.extend(e.near_overflow.iter().cloned());
                ids.extend(e.spread.iter().cloned());
                links.push(link(
                    e.denoiser(),
                    format!(
                        "{} produced the first NaN/Inf{}, and it spread through the later steps",
                        p.module,
                        p.step.map_or(String::new(), |s| format!(" at step {s}"))
                    ),
                    Basis::Observed,
                    ids,
                    vec![],
                ));
            }
            None if e.symptoms() && !is(&cause::NAN_CAST_BLACK_FRAMES) => links.push(link(
                e.denoiser(),
                e.predicted_overflow().into(),
                Basis::Predicted,
                vec![],
                vec![],
            )),
            None => {}
        }
    }
    if let Some(p) = e.producer.as_ref().filter(|p| p.in_vae) {
        links.push(link(
            "VAE decode",
            format!("{} produced NaN/Inf while decoding finite latents", p.module),
            Basis::Observed,
            vec![p.id.clone()],
            vec![],
        ));
    } else if !e.tensor_nan.is_empty() {
        links.push(link(
            "VAE decode",
            "the VAE decoded NaN latents into NaN frames: the saved video tensor holds NaN".into(),
            Basis::Observed,
            e.tensor_nan.clone(),
            vec![],
        ));
    } else if let Some(video) = e.contradicting_video(rule) {
        links.push(link(
            "VAE decode",
            format!(
                "the VAE's NaN weights would make every decoded frame NaN, but {video} decodes clean: the \
                 checkpoint changed after that video was made, or another VAE made it"
            ),
            Basis::Predicted,
            vec![],
            vec![],
        ));
    } else if vae_weights {
        links.push(link(
            "VAE decode",
            "the VAE's NaN weights make every decoded frame NaN".into(),
            Basis::Predicted,
            vec![],
            vec![],
        ));
    } else if e.symptoms() && !is(&cause::ENCODER_MUX_FAILURE) {
        links.push(link(
            "VAE decode",
            "the VAE decodes NaN latents into NaN frames".into(),
            Basis::Predicted,
            vec![],
            vec![],
        ));
    }
    let nan_cast_ids: Vec<String> = e.black.clone();
    if !e.cast_lines.is_empty() || !e.black.is_empty() {
        let basis = if e.cast_lines.is_empty() && e.tensor_nan.is_empty() { Basis::Predicted } else { Basis::Observed };
        let patched = !e.cast_lines.is_empty() && e.cast_lines.iter().all(|c| c.patch);
        let says = if patched {
            "a NaN-to-zero patch (nan_to_num) turned NaN into 0, which is black after (x * 255).astype(uint8)"
        } else {
            "(x * 255).astype(uint8) turned NaN into 0"
        };
        links.push(link(
            "uint8 cast",
            says.into(),
            basis,
            ids(&e.cast_lines),
            lines(&e.cast_lines),
        ));
    }
    if !nan_cast_ids.is_empty() {
        let frames = e
            .black_frames
            .map(|[a, b]| format!("frames {a}-{b} are black"))
            .unwrap_or_else(|| "frames are black".into());
        links.push(link("video frames", frames, Basis::Observed, nan_cast_ids, vec![]));
    }
    if !e.container.is_empty() || !e.mux_lines.is_empty() || !e.audio_missing.is_empty() {
        let mut cited = e.container.clone();
        cited.extend(e.audio_missing.iter().cloned());
        cited.extend(ids(&e.mux_lines));
        links.push(link(
            "encoder / mux",
            "the writer or the audio mux failed".into(),
            Basis::Observed,
            cited,
            lines(&e.mux_lines),
        ));
    }
    if links.is_empty() {
        links.push(link("findings", rule.summary.into(), Basis::Observed, vec![], vec![]));
    }
    links
}

/// Module names as the user's quantization call sees them: the dump's
/// root prefix (`unet.`, `denoising_unet.`) removed.
fn user_module(name: &str) -> String {
    for prefix in ["denoising_unet.", "unet.", "model."] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    name.to_string()
}

fn exclude_list(e: &Evidence) -> Vec<String> {
    let mut modules: Vec<String> = e.unet_producer().map(|p| user_module(&p.module)).into_iter().collect();
    if let Some(sim) = &e.simulated {
        for m in sim.exclude.iter().take(12) {
            let m = user_module(m);
            if !modules.contains(&m) {
                modules.push(m);
            }
        }
    }
    modules
}

fn python_set(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|m| format!("{m:?}")).collect();
    format!("{{{}}}", quoted.join(", "))
}

/// "Keep this module (these N modules) of the `denoiser` out of quantization".
fn keep_out(modules: usize, denoiser: &str) -> String {
    match modules {
        1 => format!("Keep this module of the {denoiser} out of quantization"),
        n => format!("Keep these {n} modules of the {denoiser} out of quantization"),
    }
}

/// Keeping `modules` of the `denoiser` (`model` in the user's code) out of
/// torchao's int8 weight-only quantization.
fn torchao_exclude(modules: &[String], denoiser: &str, model: &str) -> Action {
    Action {
        what: keep_out(modules.len(), denoiser),
        paste: Some(format!(
            "EXCLUDE = {}\nquantize_({model}, int8_weight_only(),\n          filter_fn=lambda m, fqn: isinstance(m, \
             torch.nn.Linear) and fqn not in EXCLUDE)",
            python_set(modules)
        )),
    }
}

/// Where EchoMimicV3's quick start puts its transformer.
const V3_TRANSFORMER: &str = "models/transformer/diffusion_pytorch_model.safetensors";

/// Where ComfyUI_EchoMimic's README puts EchoMimicV3's transformer weights.
const COMFYUI_V3_TRANSFORMER: &str = "models/echo_mimic/diffusion_pytorch_model.safetensors";

/// How to keep EchoMimicV3's transformer, or the modules the evidence
/// names, out of quantization: app_mm.py's mmgp profile quantizes every
/// block of it unless told not to, and leaves a model that is already
/// quantized as it is.
fn transformer_quantization_fixes(e: &Evidence) -> Vec<Action> {
    if e.v3_in_comfyui() {
        return comfyui_transformer_quantization_fixes(e);
    }
    let mut fixes = Vec::new();
    let modules = exclude_list(e);
    let entry = e.echomimic_v3().unwrap_or_default();
    if !modules.is_empty() && e.mmgp() {
        fixes.push(quanto_exclude(&modules, entry));
    } else if !modules.is_empty() {
        fixes.push(torchao_exclude(&modules, "denoising transformer", "pipeline.transformer"));
    }
    let lead = if modules.is_empty() { "Do not" } else { "Or do not" };
    fixes.push(if e.mmgp() {
        Action {
            what: format!(
                "{lead} let mmgp quantize the denoising transformer: in {entry}, pass quantizeTransformer=False to \
                 offload.profile (the transformer then stays bfloat16, twice the memory of qint8), or generate \
                 with app.py, which does not quantize"
            ),
            paste: Some(
                "offload.profile(pipeline, profile_type.LowRAM_HighVRAM, budgets={'*': budgets}, quantizeTransformer=False)"
                    .into(),
            ),
        }
    } else {
        Action { what: format!("{lead} quantize the denoising transformer at all (remove the quantization)"), paste: None }
    });
    // A checkpoint saved after quantization stays quantized whatever the code does.
    for q in &e.quantized {
        fixes.push(Action {
            what: format!("{} itself holds quantized tensors: put EchoMimicV3's released float weights in its place", q.file),
            paste: None,
        });
    }
    fixes
}

/// The modules to keep out of mmgp's quantization of EchoMimicV3's
/// transformer: quantized beforehand with quanto's `exclude` list in
/// `source` (app_mm.py, or the node's loader), before the
/// `offload.profile` call, which then leaves the transformer as it is.
fn quanto_exclude(modules: &[String], source: &str) -> Action {
    let quoted: Vec<String> = modules.iter().map(|m| format!("{m:?}")).collect();
    Action {
        what: format!(
            "{}: quantize it yourself without them in {source}, before offload.profile(...); mmgp then leaves it \
             as it is",
            keep_out(modules.len(), "denoising transformer")
        ),
        paste: Some(format!(
            "# {source}, before offload.profile(...):\n\
             from optimum.quanto import freeze, qint8, quantize\n\
             EXCLUDE = [{}]\n\
             quantize(pipeline.transformer, weights=qint8, exclude=EXCLUDE)\n\
             freeze(pipeline.transformer)",
            quoted.join(", ")
        )),
    }
}

/// [`transformer_quantization_fixes`] where ComfyUI_EchoMimic ran
/// EchoMimicV3: its loader hands the pipeline to mmgp with
/// `quantizeTransformer` set from the `lowvram` widget, so the workflow is
/// where quantization is turned off; the modules to keep out go in the
/// node's loader, before its `offload.profile` call.
fn comfyui_transformer_quantization_fixes(e: &Evidence) -> Vec<Action> {
    let mut fixes = Vec::new();
    let modules = exclude_list(e);
    let loader = e.v3().map(Recognised::loader_source).unwrap_or_default();
    if !modules.is_empty() {
        fixes.push(quanto_exclude(&modules, &loader));
    }
    let lead = if modules.is_empty() { "Do not" } else { "Or do not" };
    let flash = e.v3().is_some_and(|p| p.comfyui_version.as_deref() == Some("V3_flash"));
    if let Some(at) = e.mmgp_quantizes() {
        fixes.push(Action {
            what: format!(
                "{lead} let mmgp quantize the denoising transformer: this copy of the node passes mmgp no \
                 quantizeTransformer ({at}), so mmgp quantizes whatever lowvram says; update ComfyUI_EchoMimic \
                 (since August 20, 2025 it passes lowvram as that flag) and keep lowvram false, or set use_mmgp \
                 to None if the GPU holds the whole pipeline"
            ),
            paste: Some("cd custom_nodes/ComfyUI_EchoMimic && git pull".into()),
        });
    } else if e.mmgp() && flash {
        fixes.push(Action {
            what: format!(
                "{lead} let mmgp quantize the denoising transformer: set use_mmgp to None on Echo_LoadModel and \
                 block_offload on, as the node's flash mode is meant to run (its flash loader does not pass \
                 lowvram to mmgp), and queue the workflow again"
            ),
            paste: None,
        });
    } else if e.mmgp() {
        fixes.push(Action {
            what: format!(
                "{lead} let mmgp quantize the denoising transformer: set lowvram to false on Echo_LoadModel and \
                 queue the workflow again (the node passes it to mmgp as quantizeTransformer; the transformer then \
                 stays bfloat16, twice the memory of qint8), or set use_mmgp to None if the GPU holds the whole \
                 pipeline"
            ),
            paste: None,
        });
    } else {
        fixes.push(Action { what: format!("{lead} quantize the denoising transformer at all (remove the quantization)"), paste: None });
    }
    fixes
}

fn fix(rule: &'static Rule, e: &Evidence) -> Vec<Action> {
    let mut fixes = Vec::new();
    let is = |r: &Rule| rule == r;
    if is(&cause::QUANTIZATION_OVERFLOW) && e.echomimic_v3().is_some() {
        fixes.extend(transformer_quantization_fixes(e));
    } else if is(&cause::QUANTIZATION_OVERFLOW) {
        let modules = exclude_list(e);
        if !modules.is_empty() {
            fixes.push(torchao_exclude(&modules, "denoising UNet", "denoising_unet"));
        }
        let lead = if modules.is_empty() { "Do not" } else { "Or do not" };
        fixes.push(Action {
            what: format!("{lead} quantize the denoising UNet at all (the upstream fix: remove the quantize_ call)"),
            paste: None,
        });
        // A checkpoint saved after quantization stays quantized whatever the code does.
        if let Some(unet) = e.denoising_unet.as_deref().filter(|_| e.unet_quantized_on_disk()) {
            let path = std::path::Path::new(unet);
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let folder = path.parent().map(|p| p.display().to_string()).unwrap_or_else(|| ".".into());
            fixes.push(Action {
                what: format!(
                    "{unet} itself holds quantized tensors: put EchoMimicV2's released float checkpoint in its place"
                ),
                // Only the released names can be downloaded under that name.
                paste: ECHOMIMIC_FILES.contains(&name.as_str()).then(|| {
                    format!("{HF_DOWNLOAD} BadToBest/EchoMimicV2 {name} --local-dir {}", shell_word(&folder))
                }),
            });
        }
    }
    // EchoMimicV3 runs in bfloat16 unless told otherwise: a command that
    // says float16 gives the transformer and the VAE fp16's range.
    let fp16_launch = e.fp16_launch();
    if let Some(launch) = fp16_launch.filter(|_| {
        is(&cause::VAE_OVERFLOW) || is(&cause::NAN_CAST_BLACK_FRAMES) || is(&cause::ACTIVATION_OVERFLOW)
    }) {
        let entry = e.echomimic_v3().unwrap_or_default();
        fixes.push(Action {
            what: format!(
                "Run in bfloat16, {entry}'s default: {} sets --weight_dtype float16, whose range ends at 65504, \
                 where the transformer's and the VAE's activations can overflow to Inf and NaN; bfloat16 has \
                 float32's range",
                launch.at()
            ),
            paste: Some(launch_with(entry, launch, &[("--weight_dtype", &["bfloat16"])])),
        });
    }
    if is(&cause::ACTIVATION_OVERFLOW) {
        let module = e.unet_producer().map(|p| user_module(&p.module)).unwrap_or_default();
        fixes.push(match e.echomimic_v3() {
            Some(_) if fp16_launch.is_some() => Action {
                what: format!("Or keep {module} in fp32"),
                paste: None,
            },
            // The node's loaders run the transformer in bfloat16.
            Some(_) if e.v3_in_comfyui() => Action {
                what: format!(
                    "Keep {module} in fp32: {} already runs the transformer in bfloat16",
                    e.v3().map(Recognised::loader_source).unwrap_or_default()
                ),
                paste: None,
            },
            Some(entry) => Action {
                what: format!("Run the transformer in bf16, {entry}'s default (or keep {module} in fp32)"),
                paste: Some(format!("python {entry} --weight_dtype bfloat16   # the other arguments as you ran it")),
            },
            None => Action {
                what: format!("Run the UNet in bf16 (or keep {module} in fp32)"),
                paste: Some("weight_dtype: bf16".into()),
            },
        });
    }
    if is(&cause::VAE_OVERFLOW) || is(&cause::NAN_CAST_BLACK_FRAMES) {
        fixes.push(match e.echomimic_v3() {
            // Its pipeline casts the latents to the VAE's dtype before decoding.
            Some(_) => Action {
                what: format!(
                    "Run the VAE in fp32: in {}, once the VAE is loaded (it is cast to the run's weight \
                     dtype), cast it back; the pipeline decodes the latents in the VAE's dtype",
                    e.v3().map(Recognised::loader_source).unwrap_or_default()
                ),
                paste: Some("vae = vae.to(torch.float32)".into()),
            },
            None => Action {
                what: "Run the VAE in fp32 and decode fp32 latents".into(),
                paste: Some(
                    "vae = vae.to(torch.float32)\nvideo = vae.decode(latents.to(torch.float32) / 0.18215).sample"
                        .into(),
                ),
            },
        });
    }
    let lfs = !e.lfs_pointers.is_empty() || !e.lfs_lines.is_empty();
    if is(&cause::MISSING_WEIGHTS) && lfs {
        // One pull per folder holding pointers (a nested clone, such as
        // sd-vae-ft-mse/ inside pretrained_weights/, is its own repository).
        let mut dirs: Vec<String> = e
            .lfs_pointers
            .iter()
            .map(|(_, file)| {
                let parent = std::path::Path::new(file).parent().map(|p| p.display().to_string());
                parent.filter(|p| !p.is_empty()).unwrap_or_else(|| ".".into())
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        if dirs.is_empty() {
            // Only the log saw it: the clone EchoMimicV2 reads its weights from.
            dirs.push("pretrained_weights".into());
        }
        let pulls: Vec<String> = dirs.iter().map(|d| format!("git -C {d} lfs pull")).collect();
        fixes.push(Action {
            what: "Install Git LFS and fetch the files the clone left as pointers".into(),
            paste: Some(format!("git lfs install\n{}", pulls.join("\n"))),
        });
    }
    if is(&cause::MISSING_WEIGHTS) {
        let downloads = downloads(e);
        if e.mismatch_lines.iter().any(|c| c.resolved.is_none()) {
            fixes.push(Action {
                what: "A load read weights or a config that belong to another model: check that each folder the \
                       config names holds that model (the VAE in sd-vae-ft-mse/, the base model's UNet in \
                       sd-image-variations-diffusers/unet/, EchoMimicV2's own .pth files), and download it again"
                    .into(),
                paste: Some("nanscope config check configs/prompts/infer.yaml".into()),
            });
        }
        if downloads.is_empty() && !lfs && e.mismatch_lines.is_empty() {
            fixes.push(Action {
                what: "Download the missing files into pretrained_weights/ (the EchoMimicV2 README lists them) and \
                       check the paths in the config"
                    .into(),
                paste: None,
            });
        }
        fixes.extend(downloads);
    }
    if is(&cause::CORRUPT_CHECKPOINT) && !e.unreadable_lines.is_empty() {
        let files = resolved_names(&e.unreadable_lines);
        fixes.extend(fetch(files.clone()));
        if files.is_empty() {
            fixes.push(Action {
                what: "Download the checkpoint the log's traceback loads again, and compare its size with the \
                       source's"
                    .into(),
                paste: None,
            });
        } else {
            fixes.push(Action {
                what: "Check the copy on disk (before and after the download)".into(),
                paste: Some(format!("nanscope weights {}", files.iter().map(|f| shell_word(f)).collect::<Vec<_>>().join(" "))),
            });
        }
    }
    if is(&cause::NONFINITE_WEIGHTS) || (is(&cause::CORRUPT_CHECKPOINT) && !e.corrupt.is_empty()) {
        fixes.extend(replacements(e));
    }
    if is(&cause::BROKEN_POSE_INPUT) || is(&cause::LENGTH_MISMATCH) {
        for dir in &e.pose_dirs {
            let audio = e.audio.as_ref().map(|a| format!(" --audio {a}")).unwrap_or_default();
            fixes.push(Action {
                what: format!("Repair the poses in {dir}"),
                paste: Some(format!("nanscope pose repair {dir}{audio} -o {}.repaired", dir.trim_end_matches('/'))),
            });
        }
    }
    if is(&cause::SETTINGS_STOPPED_THE_RUN) && !e.loader_settings.is_empty() {
        fixes.push(Action {
            what: "Set use_mmgp to None and block_offload on in Echo_LoadModel, as the node's V3_flash mode is \
                   meant to run, and queue the workflow again"
                .into(),
            paste: None,
        });
    }
    if is(&cause::SETTINGS_STOPPED_THE_RUN) && !e.shape_lines.is_empty() {
        let said = |needle: &str| e.shape_lines.iter().chain(&e.setting_lines).any(|c| c.at.contains(needle));
        if said("broadcast") || e.setting_lines.iter().any(|c| !c.at.contains("context")) {
            fixes.push(Action {
                what: "Generate at the size EchoMimicV2's poses are drawn for, 768x768".into(),
                paste: Some("python infer.py --config ./configs/prompts/infer.yaml -W 768 -H 768".into()),
            });
        }
        if said("arg 3") || said("context") {
            fixes.push(Action {
                what: "Keep context_overlap below context_frames (the defaults: 12 and 3)".into(),
                paste: Some(
                    "python infer.py --config ./configs/prompts/infer.yaml --context_frames 12 --context_overlap 3"
                        .into(),
                ),
            });
        }
        if fixes.is_empty() {
            fixes.push(Action {
                what: "Tensor sizes do not match: check that the weights are EchoMimicV2's and the config's sizes"
                    .into(),
                paste: Some("nanscope config check configs/prompts/infer.yaml".into()),
            });
        }
    }
    if is(&cause::INPUT_NOT_FOUND) {
        fixes.extend(input_fixes(e));
    }
    if is(&cause::IMPORT_FAILED) {
        fixes.extend(import_fixes(e));
    }
    // What the GPU that ran out of memory had, when a log line says.
    let has = e.oom_lines.iter().find_map(|c| gpu_capacity(&c.at)).map_or(String::new(), |c| format!("; this one has {c}"));
    if let Some(entry) = e.echomimic_v3().filter(|_| is(&cause::OUT_OF_MEMORY)) {
        // infer_flash.py moves the whole pipeline onto the GPU, whatever
        // --GPU_memory_mode says; its frames and size are what is left.
        // Its other entry points set the chunk length and the size in their Config class.
        let what = if e.v3_in_comfyui() {
            format!(
                "Generate with less memory: a shorter chunk on Echo_Predata (partial_video_length: long clips are \
                 generated in chunks of that many frames; 65 or 33 on 12 GB), a smaller width and height, or an \
                 mmgp profile for little VRAM on Echo_LoadModel (use_mmgp LowRAM_LowVRAM; with lowvram on, mmgp \
                 also quantizes the transformer to qint8, which can turn its output NaN); or a larger GPU{has}"
            )
        } else if entry == "infer_flash.py" {
            format!(
                "Generate with less memory: fewer frames (--video_length, 81 by default; 4k+1 frames) or a smaller \
                 --sample_size (768 768 by default), or a larger GPU{has}"
            )
        } else {
            format!(
                "Generate with less memory: in {entry}'s Config, a shorter chunk (self.partial_video_length, 113: \
                 long clips are generated in chunks of that many frames; 81 or 65) or a smaller self.sample_size \
                 ([768, 768]), or a larger GPU{has}"
            )
        };
        fixes.push(Action {
            what,
            paste: match e.echomimic_v3_launch() {
                Some(launch) => Some(launch_with(entry, launch, &[("--video_length", &["49"]), ("--sample_size", &["576", "576"])])),
                None => (entry == "infer_flash.py").then(|| {
                    "python infer_flash.py --video_length 49 --sample_size 576 576   # the other arguments as you ran it"
                        .into()
                }),
            },
        });
    } else if is(&cause::OUT_OF_MEMORY) {
        fixes.push(Action {
            what: format!(
                "Generate with less memory: fewer frames (-L; memory grows with them), 768x768, or the accelerated \
                 pipeline (no CFG); or a larger GPU (the normal pipeline needs about 13 GB at its default length{has}). \
                 Do not quantize the denoising UNet to fit: its activations overflow fp16 and the video turns black"
            ),
            paste: Some(match &e.notebook {
                // A wrapper takes the length and size from each request.
                _ if e.script.is_some() => {
                    let name = e.script.as_ref().map_or("", |script| script.name.as_str());
                    format!(
                        "# {name} takes the length and size from each request: ask for fewer frames (120 is 5 s at \
                         24 fps), or cap the length where {name} sets it"
                    )
                }
                // The demo notebook sets the length from the audio and the poses, whatever -L says.
                Some((_, NotebookRun::Cells)) => {
                    "# in the notebook's generation cell, after it sets args.L from the audio and the poses:\n\
                     args.L = min(args.L, 120)   # 5 s at 24 fps"
                        .into()
                }
                Some((_, NotebookRun::Script(_))) => {
                    "!python infer_acc.py --config ./configs/prompts/infer_acc.yaml -L 120   # in a cell".into()
                }
                None => "python infer_acc.py --config ./configs/prompts/infer_acc.yaml -L 120".into(),
            }),
        });
    }
    if is(&cause::BAD_REFERENCE_IMAGE) {
        fixes.push(Action { what: "Use a clean RGB reference image of the generation size".into(), paste: None });
    }
    if e.ffmpeg_missing && (is(&cause::ENCODER_MUX_FAILURE) || is(&cause::UNKNOWN_CAUSE)) {
        fixes.push(Action {
            what: "Put ffmpeg where the run finds it: on PATH, or in the folder FFMPEG_PATH names (EchoMimicV2's \
                   scripts add it to PATH; a static build works)"
                .into(),
            paste: Some("export FFMPEG_PATH=/path/to/ffmpeg-static   # the folder holding the ffmpeg binary".into()),
        });
    }
    // Repairs of what was written: never the fix, but the stopgap for the video at hand. A silent
    // video whose frames are sound only lacks the audio the mux dropped: first, since its frames are
    // whole (infer.py's `_woa_sig.mp4`, left when the mux into `_sig.mp4` failed).
    if let Some(audio) = e.audio.as_ref().filter(|_| e.black.is_empty() && e.tensor_nan.is_empty()) {
        for video in e.silent_videos.iter().filter(|v| !e.broken_videos.iter().any(|(broken, _)| broken == *v)) {
            fixes.push(Action {
                what: format!("Mux the run's audio back into {video} (the audio mux failed; the frames are sound)"),
                paste: Some(format!("nanscope video repair {video} --audio {audio} -o {}", repaired_name(video))),
            });
        }
    }
    for (video, no_moov) in &e.broken_videos {
        let out = repaired_name(video);
        fixes.push(if *no_moov {
            match rebuild_reference(e, video) {
                Some(reference) => Action {
                    what: format!(
                        "Rebuild {video} from its media data (the writer never wrote its index), with the encoder \
                         settings of {reference}, a whole file in the same run: it must come from the same writer \
                         with the same settings and size"
                    ),
                    paste: Some(format!("nanscope video repair {video} --reference {reference} -o {out}")),
                },
                None => Action {
                    what: format!(
                        "Rebuild {video} from its media data (the writer never wrote its index): OK.mp4 is a file \
                         the same pipeline wrote whole with the same settings and size (an earlier output, or a \
                         short run of the same command)"
                    ),
                    paste: Some(format!("nanscope video repair {video} --reference OK.mp4 -o {out}")),
                },
            }
        } else {
            Action {
                what: format!("Repair the container of {video}"),
                paste: Some(format!("nanscope video repair {video} -o {out}")),
            }
        });
    }
    if !e.tensor_nan.is_empty() || !e.audio_missing.is_empty() {
        for tensor in &e.tensors {
            let audio = e.audio.as_ref().map(|a| format!(" --audio {a}")).unwrap_or_default();
            fixes.push(Action {
                what: format!(
                    "Until the run is fixed: re-encode {tensor} with NaN frames interpolated instead of black{}",
                    if audio.is_empty() { "" } else { ", with the audio muxed" }
                ),
                paste: Some(format!("nanscope video encode {tensor}{audio} -o repaired.mp4")),
            });
        }
    }
    fixes
}

/// A video of the run whose container is whole, to lend its encoder
/// settings to the rebuild of `video`: the first of those nearest to it in
/// the folder tree (an earlier output of the same writer sits beside it).
/// A repair's output (`*.repaired.*`) was re-encoded by nanscope, with
/// other settings, and never serves.
fn rebuild_reference<'a>(e: &'a Evidence, video: &str) -> Option<&'a str> {
    let shared = |other: &str| {
        let (a, b) = (std::path::Path::new(video), std::path::Path::new(other));
        a.components().zip(b.components()).take_while(|(x, y)| x == y).count()
    };
    // max_by_key keeps the last of equals: walked backwards, that is the first.
    e.videos
        .iter()
        .filter(|v| !v.contains(".repaired.") && !e.broken_videos.iter().any(|(broken, _)| broken == *v))
        .rev()
        .max_by_key(|v| shared(v))
        .map(String::as_str)
}

/// EchoMimicV2's own checkpoints, as its Hugging Face repository
/// (`BadToBest/EchoMimicV2`) names them.
const ECHOMIMIC_FILES: [&str; 6] = [
    "denoising_unet.pth",
    "reference_unet.pth",
    "motion_module.pth",
    "pose_encoder.pth",
    "denoising_unet_acc.pth",
    "motion_module_acc.pth",
];

/// Hugging Face's command that downloads a repository's files.
const HF_DOWNLOAD: &str = "huggingface-cli download";

/// Whisper's tiny model, which EchoMimicV2's README links for `audio_processor/`.
const WHISPER_TINY: &str = "https://openaipublic.azureedge.net/main/whisper/models/\
                            65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9/tiny.pt";

/// The downloads that put missing weights where the run looks for them: the
/// files the run's config names and those discovery found missing from the
/// weights folder, by where each comes from. The VAE, the base model and
/// Whisper's `tiny.pt` are not in EchoMimicV2's repository.
fn downloads(e: &Evidence) -> Vec<Action> {
    let named = e.config_missing.iter().chain(&e.motion_lines).filter_map(|c| c.resolved.as_deref());
    let found_missing = e.weights_folder.iter().flat_map(|folder| {
        e.missing.iter().map(move |c| format!("{folder}/{}", c.layout_path()))
    });
    let logged = e.load_lines.iter().chain(&e.mismatch_lines).filter_map(|c| c.resolved.as_deref());
    let targets =
        named.map(shown_path).chain(found_missing.map(|t| shown_path(&t))).chain(e.ui_missing.iter().map(|t| shown_path(t)));
    fetch(targets.chain(logged.map(|t| download_target(&shown_path(t)))).collect())
}

/// The fixes for damaged checkpoints: download again those a known
/// repository holds (EchoMimicV2's files, the VAE, the base model's UNet,
/// Whisper's `tiny.pt`) and check the new copy; replace the others with a
/// known-good copy and compare the two.
fn replacements(e: &Evidence) -> Vec<Action> {
    let damaged = first_of_each(e.damaged.iter().map(|p| download_target(&shown_path(p))));
    let known = |path: &String| {
        let name = base_name(path);
        ECHOMIMIC_FILES.contains(&name) || separate_download(name, path).is_some()
    };
    let (released, own): (Vec<String>, Vec<String>) = damaged.into_iter().partition(known);
    let mut fixes = fetch(released.clone());
    if !released.is_empty() {
        let words: Vec<String> = released.iter().map(|p| shell_word(p)).collect();
        fixes.push(Action {
            what: format!("Check the new copy of {}: it must have no error finding", list_some(&released, 4)),
            paste: Some(format!("nanscope weights {}", words.join(" "))),
        });
    }
    for path in &own {
        fixes.push(Action {
            what: format!("Replace {path} with a known-good copy (the one it was converted or fine-tuned from), then compare them"),
            // The good copy in the same format: `GOOD.safetensors` beside a safetensors file.
            paste: Some({
                let extension = std::path::Path::new(path).extension().map(|e| e.to_string_lossy().into_owned());
                let good = extension.filter(|e| !e.is_empty()).map_or("GOOD".to_string(), |e| format!("GOOD.{e}"));
                format!("nanscope diff {} {}", shell_word(&good), shell_word(path))
            }),
        });
    }
    if released.is_empty() && own.is_empty() {
        fixes.push(Action {
            what: "Replace the checkpoint named by the findings with a known-good copy, then compare them".into(),
            paste: Some("nanscope diff GOOD.pth pretrained_weights/BAD.pth".into()),
        });
    }
    fixes
}

/// The part of a path a download puts in place: the model folder a file
/// inside `sd-vae-ft-mse/` or `sd-image-variations-diffusers/` belongs to
/// (`…/unet/config.json`), else the path itself.
fn download_target(path: &str) -> String {
    let mut end = 0;
    for part in path.split_inclusive(['/', '\\']) {
        end += part.len();
        if ["sd-vae-ft-mse", "sd-image-variations-diffusers"].contains(&part.trim_end_matches(['/', '\\'])) {
            return path[..end].trim_end_matches(['/', '\\']).to_string();
        }
    }
    path.to_string()
}

/// What a checkpoint EchoMimicV2's weight repository does not hold is, and
/// the command that downloads it to `to`: the VAE, the base model's UNet
/// and Whisper's `tiny.pt`, by their names in `pretrained_weights/`.
fn separate_download(name: &str, to: &str) -> Option<(&'static str, String)> {
    Some(match name {
        "sd-vae-ft-mse" => ("the VAE", format!("{HF_DOWNLOAD} stabilityai/sd-vae-ft-mse --local-dir {to}")),
        "sd-image-variations-diffusers" => (
            "the base model's UNet",
            format!("{HF_DOWNLOAD} lambdalabs/sd-image-variations-diffusers --include 'unet/*' --local-dir {to}"),
        ),
        "tiny.pt" => {
            ("Whisper's tiny.pt (the audio processor)", format!("curl -L --create-dirs -o {to} {WHISPER_TINY}"))
        }
        _ => return None,
    })
}

/// The commands that download each of `targets` (paths as the user can
/// paste them) from where it comes from.
fn fetch(targets: Vec<String>) -> Vec<Action> {
    let targets = first_of_each(targets);
    let mut own: Vec<(&str, Vec<&str>)> = Vec::new();
    let (mut actions, mut unknown, mut renamed) = (Vec::new(), Vec::new(), Vec::new());
    for target in &targets {
        let (dir, name) = target.rsplit_once(['/', '\\']).unwrap_or((".", target));
        let to = shell_word(target);
        // Early configs named training checkpoints (`reference_unet-162000.pth`).
        let released = name.split_once('-').and_then(|(stem, step)| {
            let step = step.strip_suffix(".pth")?;
            let file = ECHOMIMIC_FILES.iter().find(|f| f.strip_suffix(".pth") == Some(stem))?;
            step.chars().all(|c| c.is_ascii_digit()).then_some(*file)
        });
        let source = match name {
            _ if let Some(file) = released => {
                renamed.push(format!("{name} is {file} in EchoMimicV2's release"));
                match own.iter_mut().find(|(d, _)| *d == dir) {
                    Some((_, files)) => files.push(file),
                    None => own.push((dir, vec![file])),
                }
                continue;
            }
            _ if ECHOMIMIC_FILES.contains(&name) => {
                match own.iter_mut().find(|(d, _)| *d == dir) {
                    Some((_, files)) => files.push(name),
                    None => own.push((dir, vec![name])),
                }
                continue;
            }
            _ if let Some(source) = separate_download(name, &to) => source,
            _ => {
                unknown.push(target.as_str());
                continue;
            }
        };
        actions.push(Action {
            what: format!("Download {} to {target}: EchoMimicV2's weight repository does not hold it", source.0),
            paste: Some(source.1),
        });
    }
    let mut fixes: Vec<Action> = own
        .into_iter()
        .map(|(dir, files)| Action {
            what: format!("Download {} from EchoMimicV2's weight repository into {dir}", files.join(", ")),
            paste: Some(format!(
                "{HF_DOWNLOAD} BadToBest/EchoMimicV2 {} --local-dir {}",
                files.join(" "),
                shell_word(dir)
            )),
        })
        .collect();
    fixes.extend(actions);
    if !renamed.is_empty() {
        fixes.push(Action {
            what: format!(
                "Correct the path in the config (or update the checkout, whose configs name the released files): {}",
                renamed.join("; ")
            ),
            paste: None,
        });
    }
    if !unknown.is_empty() {
        fixes.push(Action {
            what: format!(
                "Put {} where the config says, or correct the path in the config: no known download has that name",
                list_some(&unknown, 4)
            ),
            paste: None,
        });
    }
    fixes
}

/// A resolved path as the user can paste it: without `./` steps, and
/// relative to the working directory when it lies under it.
/// The path a traceback's last line says is not there, when it is an input:
/// `FileNotFoundError: [Errno 2] No such file or directory: '…/pose/01/'`
/// for an image, an audio file or a pose folder, or a `NotADirectoryError`
/// (a file where a pose folder was listed); moviepy's `the file … could not
/// be found!` for the audio.
fn missing_input(text: &str) -> Option<String> {
    let not_a_folder = text.contains("NotADirectoryError");
    let path = if let Some((_, named)) = text.split_once("MoviePy error: the file ") {
        // moviepy's own words for an audio or video file it cannot open.
        named.split_once(" could not be found")?.0
    } else if not_a_folder || text.contains("FileNotFoundError") {
        let (_, quoted) = text.rsplit_once(": '")?;
        quoted.strip_suffix('\'')?
    } else {
        return None;
    };
    let names = super::prompts::components(path);
    let extension = std::path::Path::new(path).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let media = extension.as_deref().is_some_and(|e| {
        super::prompts::IMAGE_EXTENSIONS.contains(&e) || super::prompts::AUDIO_EXTENSIONS.contains(&e) || e == "npy"
    });
    let poses = names.iter().any(|n| n.to_ascii_lowercase().contains("pose"));
    (not_a_folder || media || poses).then(|| path.to_string())
}

/// What a traceback's last line says could not be imported:
/// `ModuleNotFoundError: No module named 'moviepy.editor'`, or
/// `ImportError: cannot import name 'cached_download' from 'huggingface_hub' (…)`.
fn failed_import(text: &str) -> Option<Import> {
    let quoted = |after: &str| -> Option<String> {
        let rest = after.strip_prefix('\'').or_else(|| after.strip_prefix('"'))?;
        let name = rest.split(['\'', '"']).next()?;
        (!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.')).then(|| name.to_string())
    };
    if let Some((_, after)) = text.split_once("No module named ") {
        return Some(Import { module: quoted(after)?, name: None });
    }
    let (_, after) = text.split_once("ImportError: cannot import name ")?;
    let name = quoted(after)?;
    let (_, from) = after.split_once(" from ")?;
    Some(Import { module: quoted(from)?, name: Some(name) })
}

/// A module the run could not import, or a name it could not import from it.
struct Import {
    module: String,
    name: Option<String>,
}

impl Import {
    fn shown(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} from {}", self.module),
            None => self.module.clone(),
        }
    }

    fn lacks(&self) -> String {
        match &self.name {
            Some(name) => format!("has a version of {} without {name}", self.package()),
            None => format!("has no {}", self.module),
        }
    }

    /// The import, as Python states it.
    fn statement(&self) -> String {
        match &self.name {
            Some(name) => format!("from {} import {name}", self.module),
            None => format!("import {}", self.module),
        }
    }

    /// The top-level package.
    fn package(&self) -> &str {
        self.module.split('.').next().unwrap_or(&self.module)
    }

    /// The entry of `DROPPED` it is, if any.
    fn dropped(&self) -> Option<&'static Dropped> {
        DROPPED.iter().find(|d| d.module == self.module && d.name == self.name.as_deref())
    }

    /// The import that works once the fix is in.
    fn check(&self) -> String {
        self.dropped().map_or_else(|| self.statement(), |d| d.check.to_string())
    }
}

/// The packages EchoMimicV2 imports, by their import name, as its
/// `requirements.txt` and `linux_setup.sh` (torch and xformers) install them.
const PINNED: &[(&str, &str)] = &[
    ("moviepy", "moviepy==1.0.3"),
    ("diffusers", "diffusers==0.31.0"),
    ("huggingface_hub", "huggingface_hub==0.26.2"),
    ("transformers", "transformers>=4.46.3"),
    ("accelerate", "accelerate==1.1.1"),
    ("omegaconf", "omegaconf==2.3.0"),
    ("einops", "einops==0.8.0"),
    ("av", "av==13.1.0"),
    ("decord", "decord==0.6.0"),
    ("imageio", "imageio==2.36.0"),
    ("imageio_ffmpeg", "imageio-ffmpeg==0.5.1"),
    ("numpy", "numpy==1.26.4"),
    ("cv2", "opencv-contrib-python==4.10.0.84"),
    ("PIL", "Pillow>=10.2.0,<10.3.0"),
    ("skimage", "scikit-image==0.24.0"),
    ("sklearn", "scikit-learn==1.5.2"),
    ("scipy", "scipy==1.14.1"),
    ("onnxruntime", "onnxruntime-gpu==1.20.1"),
    ("open_clip", "open-clip-torch==2.29.0"),
    ("controlnet_aux", "controlnet-aux==0.0.9"),
    ("ffmpeg", "ffmpeg-python"),
    ("soundfile", "soundfile"),
    ("mediapipe", "mediapipe"),
    ("gradio", "gradio"),
    ("torchao", "torchao"),
    ("torch", "torch==2.5.1"),
    ("torchvision", "torchvision==0.20.1"),
    ("torchaudio", "torchaudio==2.5.1"),
    ("xformers", "xformers==0.0.28.post3"),
];

/// An import that newer packages dropped and EchoMimicV2's pins still have.
struct Dropped {
    module: &'static str,
    /// The name imported from the module; none for the module itself.
    name: Option<&'static str>,
    why: &'static str,
    /// The pins that bring it back.
    pins: &'static [&'static str],
    /// The import that then works.
    check: &'static str,
}

const DROPPED: &[Dropped] = &[
    Dropped {
        module: "moviepy.editor",
        name: None,
        why: "moviepy 2 removed moviepy.editor, which EchoMimicV2 imports",
        pins: &["moviepy==1.0.3"],
        check: "import moviepy.editor",
    },
    Dropped {
        module: "huggingface_hub",
        name: Some("cached_download"),
        why: "huggingface_hub 0.26 removed cached_download, which older diffusers import",
        pins: &["diffusers==0.31.0", "huggingface_hub==0.26.2"],
        check: "import diffusers",
    },
];


/// The fixes for a module the run could not import: the versions
/// EchoMimicV2 pins for its package (and for the one importing it, where
/// a newer package dropped a name an older one imports), then the whole
/// `requirements.txt` (outside a ComfyUI install, whose nodes list their own).
fn import_fixes(e: &Evidence) -> Vec<Action> {
    let mut fixes = Vec::new();
    let comfyui = e.comfyui.is_some() || e.comfyui_workflow || e.import_lines.iter().any(|c| c.custom_node.is_some());
    // ComfyUI's portable build runs its own Python; a notebook's kernel may
    // run another than the shell's, and `%pip` installs into the kernel's
    // (`!pip` into the shell's, which runs a script a cell starts with `!python`).
    let notebook = e.notebook.as_ref().map(|(_, run)| run).filter(|_| !comfyui);
    let pip = match notebook {
        _ if comfyui => "python -m pip install",
        Some(NotebookRun::Cells) => "%pip install",
        Some(NotebookRun::Script(_)) => "!pip install",
        None => "pip install",
    };
    let in_cell = match notebook {
        Some(NotebookRun::Cells) => " (in a cell of the notebook, then restart its kernel)",
        Some(NotebookRun::Script(_)) => " (in a cell of the notebook)",
        None => "",
    };
    let mut specs: Vec<&str> = Vec::new();
    let mut why: Vec<&str> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for import in e.import_lines.iter().filter_map(|c| failed_import(&c.at)) {
        let pins: Vec<&str> = match import.dropped() {
            Some(dropped) => {
                why.push(dropped.why);
                dropped.pins.to_vec()
            }
            None => PINNED.iter().filter(|(package, _)| *package == import.package()).map(|(_, spec)| *spec).collect(),
        };
        if pins.is_empty() {
            unknown.push(import.module.clone());
        }
        specs.extend(pins);
    }
    let specs = first_of_each(specs);
    if !specs.is_empty() {
        let why: String = first_of_each(why).iter().map(|w| format!(": {w}")).collect();
        let words: Vec<String> = specs.iter().map(|s| shell_word(s)).collect();
        fixes.push(Action {
            what: format!("Install the versions EchoMimicV2 pins{in_cell}{why}"),
            paste: Some(format!("{pip} {}", words.join(" "))),
        });
    }
    let unknown = first_of_each(unknown);
    if !unknown.is_empty() {
        fixes.push(Action {
            what: format!(
                "Install the package that provides {} into the environment that runs the {}",
                list_some(&unknown, 4),
                match notebook {
                    Some(NotebookRun::Cells) => "notebook's kernel (`%pip install PACKAGE` in a cell)",
                    Some(NotebookRun::Script(_)) => "notebook's script (`!pip install PACKAGE` in a cell)",
                    None => "entry point",
                }
            ),
            paste: None,
        });
    }
    for node in first_of_each(e.import_lines.iter().filter_map(|c| c.custom_node.as_deref())) {
        let name = base_name(node);
        fixes.push(Action {
            what: format!(
                "Install the requirements of {name}, which ComfyUI could not import, with the Python that runs \
                 ComfyUI (python_embeded\\python.exe in the portable build), from ComfyUI's folder, then restart it"
            ),
            paste: Some(format!("{pip} -r {}", shell_word(&format!("custom_nodes/{name}/requirements.txt")))),
        });
    }
    if !comfyui {
        fixes.push(Action {
            what: format!("Or install every version EchoMimicV2 was released with, from its checkout{in_cell}"),
            paste: Some(format!("{pip} -r requirements.txt")),
        });
    }
    fixes
}

/// The memory of the GPU a CUDA out-of-memory message states: `15.77 GiB`
/// in `GPU 0 has a total capacity of 15.77 GiB of which 1.12 GiB is free`.
fn gpu_capacity(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once("total capacity of ")?;
    let capacity = rest.split(" of which").next()?.trim();
    let number = capacity.split_whitespace().next()?;
    (number.parse::<f64>().is_ok() && capacity.len() <= 16).then_some(capacity)
}


/// The fixes for inputs that are not where the run looked: where an input
/// of the run folder has the same last names, the config is made to name
/// it, in one `sed` line per config.
fn input_fixes(e: &Evidence) -> Vec<Action> {
    let mut fixes = Vec::new();
    for config in first_of_each(e.case_lines.iter().filter_map(|c| c.file.as_deref())) {
        let mut moves: Vec<(String, String)> = Vec::new();
        for c in e.case_lines.iter().filter(|c| c.file.as_deref() == Some(config)) {
            let (Some(path), Some(resolved)) = (c.path.as_deref(), c.resolved.as_deref()) else { continue };
            let root = resolved.strip_suffix(path).unwrap_or("");
            if c.misread {
                fixes.push(wav_of(path, root, config));
                continue;
            }
            match lying_at(path, root, &e.inputs) {
                Some(found) if !moves.iter().any(|(from, _)| from == path) => moves.push((path.to_string(), found)),
                Some(_) => {}
                None if !path.trim().is_empty() => fixes.push(Action {
                    what: format!("Put {path} where the run looks for it, {}, or name where it lies in {config}", shown_path(resolved)),
                    paste: None,
                }),
                None => {}
            }
        }
        if moves.is_empty() {
            continue;
        }
        let listed: Vec<String> = moves.iter().map(|(from, to)| format!("{from} → {to}")).collect();
        let what = format!("Name each input where it lies, relative to the folder the entry point runs in: {}", list_some(&listed, 3));
        let paste = moves.iter().all(|(from, to)| sed_safe(from) && sed_safe(to)).then(|| {
            let edits: Vec<String> = moves.iter().map(|(from, to)| format!("-e 's#{}#{to}#'", sed_pattern(from))).collect();
            format!("sed -i {} {}", edits.join(" "), shell_word(config))
        });
        fixes.push(Action { what, paste });
    }
    if e.case_lines.is_empty() {
        for path in first_of_each(e.input_lines.iter().filter_map(|c| missing_input(&c.at))) {
            let found = e.inputs.iter().find(|input| super::prompts::shared_tail(input, &path) >= 2);
            let lies = found.map(|f| format!(" (the run folder has it at {})", shown_path(f))).unwrap_or_default();
            fixes.push(Action { what: format!("Give the run {path} where it looks for it, or the path where it lies{lies}"), paste: None });
        }
    }
    fixes
}

/// The fix for an audio file a test case names without `.wav`: a WAV
/// beside it at 16 kHz, named in the config instead.
fn wav_of(path: &str, root: &str, config: &str) -> Action {
    let trimmed = path.trim_end_matches('/');
    let wav = match trimmed.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() && !stem.ends_with('/') => format!("{stem}.wav"),
        _ => format!("{trimmed}.wav"),
    };
    let what = format!(
        "Convert {path} to WAV and name the WAV in {config}: infer_acc.py takes only an entry holding .wav for the audio"
    );
    let paste = (sed_safe(path) && sed_safe(&wav)).then(|| {
        let cd = if root.is_empty() { String::new() } else { format!("cd {} && ", shell_word(root.trim_end_matches('/'))) };
        format!(
            "{cd}ffmpeg -i {} -ar 16000 {} && sed -i -e 's#{}#{wav}#' {}",
            shell_word(trimmed),
            shell_word(&wav),
            sed_pattern(path),
            shell_word(config)
        )
    });
    Action { what, paste }
}

/// The input below `root` whose last names are those of `path` (at least two,
/// the most that match), as a path relative to `root` written like `path`:
/// `./assets/halfbody_demo/pose/fight/` for `../echomimic_v2/assets/halfbody_demo/pose/fight/`.
fn lying_at(path: &str, root: &str, inputs: &[String]) -> Option<String> {
    let root = root.trim_end_matches('/');
    let best = inputs
        .iter()
        .filter_map(|input| Some((input.strip_prefix(root)?.strip_prefix('/')?, super::prompts::shared_tail(input, path))))
        .filter(|(_, shared)| *shared >= 2)
        .max_by_key(|(_, shared)| *shared)?;
    let slash = if path.ends_with('/') { "/" } else { "" };
    Some(format!("./{}{slash}", best.0.trim_end_matches('/')))
}

/// Whether a path can go into a pasted `sed -e 's#…#…#'` as it is: no
/// delimiter, quote, escape, match reference or line break in it.
fn sed_safe(path: &str) -> bool {
    !path.chars().any(|c| matches!(c, '#' | '\'' | '\\' | '&' | '\n'))
}

/// `text` as a basic regular expression that matches only itself.
fn sed_pattern(text: &str) -> String {
    let mut pattern = String::new();
    for c in text.chars() {
        if matches!(c, '.' | '[' | ']' | '*' | '^' | '$') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

fn shown_path(resolved: &str) -> String {
    let path: std::path::PathBuf =
        std::path::Path::new(resolved).components().filter(|c| *c != std::path::Component::CurDir).collect();
    let relative = std::env::current_dir().ok().and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.to_path_buf()));
    relative.filter(|p| !p.as_os_str().is_empty()).unwrap_or(path).display().to_string()
}

fn base_name(path: &str) -> &str {
    // A path from a Windows log separates with backslashes.
    path.trim_end_matches(['/', '\\']).rsplit(['/', '\\']).next().unwrap_or(path)
}

/// A word the shell reads as it is: quoted when it holds anything but
/// plain path characters.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn repaired_name(video: &str) -> String {
    match video.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => format!("{stem}.repaired.{ext}"),
        _ => format!("{video}.repaired.mp4"),
    }
}

/// A replay spec of the run's EchoMimicV2 deployment, written and bisected
/// in one paste: the weights folder discovery found, the run's reference
/// image and poses when there is one of each, fp16, and the denoising UNet
/// quantized as the run did. `None` when no denoising UNet was recognised.
fn replay_spec(rule: &'static Rule, e: &Evidence) -> Option<String> {
    let unet = e.denoising_unet.as_deref()?;
    let weights = std::path::Path::new(unet).parent()?.display().to_string();
    let variant = if unet.contains("_acc") { "acc" } else { "normal" };
    let (steps, cfg) = if variant == "acc" { (6, 1.0) } else { (30, 2.5) };
    let mut lines = vec![
        "cat > replay.toml <<'EOF'".to_string(),
        "family = \"echomimic-v2\"".into(),
        format!("steps = {steps}"),
        format!("guidance_scale = {cfg}"),
        "frames = 12".into(),
        "height = 768".into(),
        "width = 768".into(),
        "dtype = \"fp16\"".into(),
        "# device = \"cuda\"".into(),
        String::new(),
        "[echomimic]".into(),
        format!("variant = \"{variant}\""),
        format!("weights = {}", toml_string(&weights)),
        format!("denoising_unet = {}", toml_string(unet)),
    ];
    if let [config] = e.inference_configs.as_slice() {
        lines.push(format!("inference_config = {}", toml_string(config)));
    }
    // Outside `pretrained_weights/`'s layout (ComfyUI's models/ folder), the
    // base UNet and the VAE are named where they are.
    let in_layout = |found: &str, place: &str| std::path::Path::new(found) == std::path::Path::new(&weights).join(place);
    if let Some(base) = e.base_unet.as_deref().filter(|b| !in_layout(b, "sd-image-variations-diffusers/unet")) {
        lines.push(format!("unet_config = {}", toml_string(&format!("{base}/config.json"))));
    }
    match e.vae.as_deref() {
        Some(vae) if in_layout(vae, "sd-vae-ft-mse") => {}
        Some(vae) if std::path::Path::new(vae).is_dir() => lines.push(format!("vae = {}", toml_string(vae))),
        Some(vae) => lines.push(format!(
            "# {vae} is one file; the replay reads the VAE as a diffusers folder (config.json beside the weights):\n\
             # huggingface-cli download stabilityai/sd-vae-ft-mse --local-dir sd-vae-ft-mse\n\
             vae = \"sd-vae-ft-mse\""
        )),
        None => {}
    }
    if let [image] = e.images.as_slice() {
        lines.push(format!("reference_image = {}", toml_string(image)));
    }
    if let [poses] = e.pose_dirs.as_slice() {
        lines.push(format!("pose_dir = {}", toml_string(poses)));
    }
    let quantized_on_disk = e.unet_quantized_on_disk();
    if rule == &cause::QUANTIZATION_OVERFLOW {
        lines.push(String::new());
        lines.push("[quantization]".into());
        lines.push("scheme = \"int8\"".into());
        lines.push("include = [\"denoising_unet.*\"]".into());
    }
    lines.push("EOF".into());
    if quantized_on_disk {
        lines.push(format!(
            "# {unet} holds quantized tensors: point denoising_unet at the float checkpoint it was made from"
        ));
    }
    lines.push("nanscope replay replay.toml --bisect".into());
    Some(lines.join("\n"))
}

/// How to record a dump of a wrapper's generations: under the probe when
/// `python SCRIPT` starts it (its main guard); through the server that
/// imports its app (`-m uvicorn api:app`); else from inside it.
fn script_probe(run: &Script, focus: &str) -> String {
    let name = &run.name;
    let start = if run.main_guard {
        format!(
            "# start {name} under the probe from its folder, as you start it, and send the request again:\n\
             python -m nanscope.probe run --out dump {}{focus}",
            shell_word(name)
        )
    } else if let Some(app) = &run.asgi_app {
        let module = name.strip_suffix(".py").unwrap_or(name);
        format!(
            "# start the server under the probe from {name}'s folder, with your options (one process: no --reload, \
             no --workers), and send the request again:\n\
             python -m nanscope.probe run --out dump -m uvicorn {}{focus}",
            shell_word(&format!("{module}:{app}"))
        )
    } else {
        format!(
            "# {name} is imported by what starts it: record from inside it, at its top:\n\
             #   from nanscope.probe import watch_pipelines; watch_pipelines(\"dump\").__enter__()\n\
             # then start it as you do and send the request again{focus}"
        )
    };
    format!("{start}\n# each generation writes one dump (dump, dump-2, …); then:\nnanscope postmortem RUN_DIR --dump dump")
}

/// `ENTRY ARGS…` as a shell reads it back.
fn command_line(entry: &str, args: &[String]) -> String {
    std::iter::once(entry.to_string()).chain(args.iter().map(|a| shell_word(a))).collect::<Vec<_>>().join(" ")
}

/// The launch's command with each of `set`'s flags given the values listed
/// (replacing the values it had, or added at the end).
fn launch_with(entry: &str, launch: &Launch, set: &[(&str, &[&str])]) -> String {
    let mut args: Vec<String> = Vec::new();
    let mut rest = launch.args.iter().peekable();
    while let Some(arg) = rest.next() {
        let flag = arg.split('=').next().unwrap_or(arg);
        if !set.iter().any(|(f, _)| *f == flag) {
            args.push(arg.clone());
            continue;
        }
        // Its values: the words up to the next flag.
        if !arg.contains('=') {
            while rest.peek().is_some_and(|w| !w.starts_with("--")) {
                rest.next();
            }
        }
    }
    for (flag, values) in set {
        args.push(flag.to_string());
        args.extend(values.iter().map(|v| v.to_string()));
    }
    format!("python {}", command_line(entry, &args))
}

/// The probe's step for an EchoMimicV3 run: its entry point under the
/// probe, with the arguments it ran with (run_flash.sh's for
/// `infer_flash.py`); its pipeline is a diffusers one whose denoiser is
/// `pipeline.transformer`.
fn echomimic_v3_probe(v3: Option<&Recognised>, focus: &str) -> String {
    let entry = v3.map_or("", |p| p.entry_point.as_str());
    let launch = v3.and_then(|p| p.launched_by.as_ref());
    let either = v3.is_some_and(|p| p.either_web_ui);
    let command = match launch {
        Some(launch) => format!(
            "# {}'s command under the probe, its arguments unchanged:\npython -m nanscope.probe run --out dump {}",
            launch.at(),
            command_line(entry, &launch.args)
        ),
        // Its web UIs build the pipeline once and generate per click.
        None if matches!(entry, "app.py" | "app_mm.py") => format!(
            "# start the web UI under the probe from the checkout, as you start it, and generate again:\n\
             python -m nanscope.probe run --out dump {entry}{}\n\
             # each generation writes one dump (dump, dump-2, …)",
            match either {
                true if entry == "app.py" => "   # or app_mm.py, the UI you ran",
                true => "   # or app.py, the UI you ran",
                false => "",
            }
        ),
        // It runs the tests its Config lists, one generation each.
        None if entry == "infer_preview.py" => "# infer_preview.py reads its tests from its Config: start it under the probe:\n\
             python -m nanscope.probe run --out dump infer_preview.py\n\
             # each test it runs writes one dump (dump, dump-2, …)"
            .to_string(),
        None if entry == "infer_flash.py" => "# in run_flash.sh (or your command), start infer_flash.py under the probe, \
             the arguments unchanged:\npython -m nanscope.probe run --out dump infer_flash.py --image_path … --audio_path …"
            .to_string(),
        None => format!(
            "# start the entry point under the probe, its arguments unchanged:\n\
             python -m nanscope.probe run --out dump {entry} --image_path … --audio_path …"
        ),
    };
    // mmgp's quantization puts new modules in place of the transformer's Linear ones.
    let built = if entry == super::pipeline::MMGP_ENTRY {
        "after offload.profile(...), which replaces the quantized modules"
    } else {
        "once the pipeline is built"
    };
    format!(
        "{command}{focus}\n\
         # then: nanscope postmortem RUN_DIR --dump dump/\n\
         # or, inside {entry}, {built}:\n\
         #   from nanscope.probe import attach\n\
         #   probe = attach(pipeline.transformer, \"dump\", prefix=\"transformer\"); calling probe.step(i) each step"
    )
}

/// The probe step of a run a notebook made: the script a cell ran, under
/// the probe from a cell; else the notebook itself, as a script or inside
/// its kernel.
fn notebook_probe((path, run): &(String, NotebookRun), focus: &str) -> String {
    match run {
        NotebookRun::Script(script) => format!(
            "# in a cell of the notebook, the script it ran, under the probe:\n\
             !python -m nanscope.probe run --out dump {script}{focus}\n\
             # then: nanscope postmortem RUN_DIR --dump dump"
        ),
        NotebookRun::Cells => {
            let name = std::path::Path::new(path).file_name().map_or(path.into(), |n| n.to_string_lossy());
            let script = std::path::Path::new(name.as_ref()).with_extension("py").display().to_string();
            format!(
                "# the notebook as a script, run under the probe from the folder it ran in:\n\
                 jupyter nbconvert --to python {notebook}   # writes {script}\n\
                 python -m nanscope.probe run --out dump {script}{focus}\n\
                 # or in the notebook: restart the kernel, run this cell first, then the others:\n\
                 #   from nanscope.probe import watch_pipelines; watch_pipelines(\"dump\").__enter__()\n\
                 # then: nanscope postmortem RUN_DIR --dump dump",
                notebook = shell_word(&name),
                script = shell_word(&script),
            )
        }
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn next(rule: &'static Rule, e: &Evidence) -> Vec<Action> {
    let mut next = Vec::new();
    let is = |r: &Rule| rule == r;
    let others = e.other_models_quantized();
    if !others.is_empty() && !e.unet_quantized() && !is(&cause::HEALTHY_RUN) {
        let models = first_of_each(others.iter().flat_map(|c| c.models.iter().map(String::as_str)));
        let ids: Vec<&str> = others.iter().map(|c| c.id.as_str()).collect();
        // A ComfyUI workflow names the widget to turn off.
        let how = match others.iter().find_map(|c| c.key.as_deref().filter(|k| k.contains('.'))) {
            Some(widget) => format!("set {widget} to false in the workflow and queue it again"),
            None => "EchoMimicV2's UI: untick its int8 option".to_string(),
        };
        next.push(Action {
            what: format!(
                "The run quantized {} ({}), not the denoising UNet: run it again without that quantization \
                 ({how}); if the failure goes with it, the quantization is its cause",
                models.join(" and "),
                ids.join(", ")
            ),
            paste: None,
        });
    }
    // A dump finds where NaN came from: of no use to a run without NaN.
    let upstream_unknown = e.producer.is_none()
        && (is(&cause::QUANTIZATION_OVERFLOW)
            || is(&cause::ACTIVATION_OVERFLOW)
            || is(&cause::NAN_CAST_BLACK_FRAMES)
            || (is(&cause::UNKNOWN_CAUSE) && e.symptoms()));
    if upstream_unknown {
        let modules = exclude_list(e);
        let focus = if modules.is_empty() {
            String::new()
        } else {
            format!("\n# the modules to watch: {}", modules.iter().take(5).cloned().collect::<Vec<_>>().join(", "))
        };
        let in_comfyui = e.comfyui_workflow || e.v3_in_comfyui();
        let folder = e.comfyui.clone().or_else(|| in_comfyui.then(|| "ComfyUI".to_string()));
        let paste = match &folder {
            // ComfyUI builds the pipeline inside its server: the probe starts
            // the server, and records each run of the workflow.
            Some(folder) => format!(
                "# start ComfyUI under the probe from its folder, as you start it, and queue the workflow again:\n\
                 cd {} && python -m nanscope.probe run --out dump main.py{focus}\n\
                 # each run of the workflow writes one dump (dump, dump-2, …); then:\n\
                 nanscope postmortem RUN_DIR --dump {}",
                shell_word(folder),
                shell_word(&format!("{folder}/dump"))
            ),
            None if e.script.is_some() => e.script.as_ref().map(|run| script_probe(run, &focus)).unwrap_or_default(),
            None if e.ui.is_some() => {
                let script = match e.ui {
                    Some(Ui::AppAcc) => "app_acc.py",
                    Some(Ui::Either) => "app.py   # or app_acc.py, the UI you ran",
                    _ => "app.py",
                };
                format!(
                    "# start the web UI under the probe from the checkout, as you start it, and generate again:\n\
                     python -m nanscope.probe run --out dump {script}{focus}\n\
                     # each generation writes one dump (dump, dump-2, …); then:\n\
                     nanscope postmortem RUN_DIR --dump dump"
                )
            }
            None if e.notebook.is_some() => e.notebook.as_ref().map(|n| notebook_probe(n, &focus)).unwrap_or_default(),
            None if e.echomimic_v3().is_some() => {
                echomimic_v3_probe(e.v3(), &focus)
            }
            None => format!(
                "# the script unchanged (infer.py, infer_acc.py or your own), as you ran it:\npython -m nanscope.probe run --out dump infer.py --config ./configs/prompts/infer.yaml{focus}\n# then: nanscope postmortem RUN_DIR --dump dump/\n# or, inside your own code:\n#   from nanscope.probe import attach\n#   probe = attach(pipe.denoising_unet, \"dump\", prefix=\"denoising_unet\"); calling probe.step(i) each step"
            ),
        };
        next.push(Action {
            what: "Record a probe dump of the run to see which module produces the first NaN (confirms the prediction)".into(),
            paste: Some(paste),
        });
    }
    // Which of EchoMimicV3's two web UIs made the clip is not known, and
    // only app_mm.py quantizes.
    let either_quantizes = e.v3().filter(|p| p.either_web_ui).and_then(|p| p.mmgp_profile.as_deref());
    if let Some(at) = either_quantizes.filter(|_| e.symptoms() && !is(&cause::QUANTIZATION_OVERFLOW)) {
        next.push(Action {
            what: format!(
                "If the clip came from app_mm.py, not app.py: it has mmgp quantize the transformer to qint8 ({at}). \
                 Generate the same clip with app.py, which does not quantize; if it comes out right, the \
                 quantization is the cause (K101), and keeping app_mm.py's transformer in bfloat16 is the fix"
            ),
            paste: Some("python app.py".into()),
        });
    }
    // The built-in engine replays EchoMimicV2's UNets, not EchoMimicV3's transformer.
    let replayable = e.echomimic_v3().is_none();
    if replayable && (is(&cause::QUANTIZATION_OVERFLOW) || is(&cause::ACTIVATION_OVERFLOW)) {
        next.push(match replay_spec(rule, e) {
            Some(spec) => Action {
                what: "Replay the generation on the built-in engine and find the smallest set of modules to keep \
                       out of int8 (on a build with --features cuda, set device = \"cuda\"; on the CPU the \
                       full-size UNets are slow: lower frames, height and width to try it there)"
                    .into(),
                paste: Some(spec),
            },
            None => Action {
                what: "Find the smallest set of modules to keep in higher precision on the built-in engine".into(),
                paste: Some("nanscope replay spec.toml --bisect".into()),
            },
        });
    }
    if is(&cause::QUANTIZATION_OVERFLOW) && e.simulated.is_none() {
        let transformer = e.v3().map(|p| {
            let quick_start = if p.in_comfyui() { COMFYUI_V3_TRANSFORMER } else { V3_TRANSFORMER };
            p.transformer.as_deref().unwrap_or(quick_start)
        });
        next.push(Action {
            what: "Predict which layers the scheme damages from the float weights".into(),
            paste: Some(match (&e.denoising_unet, transformer) {
                (_, Some(transformer)) => format!("nanscope weights --simulate int8-channel {}", shell_word(transformer)),
                (Some(unet), None) if e.unet_quantized_on_disk() => format!(
                    "# {unet} is stored quantized: simulate on the float checkpoint it was made from\n\
                     nanscope weights --simulate int8-channel FLOAT/denoising_unet.pth"
                ),
                (Some(unet), None) => format!("nanscope weights --simulate int8-channel {}", shell_word(unet)),
                (None, None) => "nanscope weights --simulate int8-channel pretrained_weights/denoising_unet.pth".into(),
            }),
        });
    }
    if is(&cause::INPUT_NOT_FOUND) {
        for config in first_of_each(e.case_lines.iter().filter_map(|c| c.file.as_deref())) {
            next.push(Action {
                what: "List every test case's inputs, found or missing, once the config is fixed".into(),
                paste: Some(format!("nanscope config check {}", shell_word(config))),
            });
        }
    }
    if is(&cause::IMPORT_FAILED) {
        let imports: Vec<String> =
            first_of_each(e.import_lines.iter().filter_map(|c| failed_import(&c.at)).map(|i| i.check()));
        next.push(match &e.notebook {
            Some((_, NotebookRun::Cells)) => Action {
                what: "Check the import in a cell of the notebook, once the fix is in and the kernel restarted".into(),
                paste: Some(imports.join("; ")),
            },
            Some((_, NotebookRun::Script(_))) => Action {
                what: "Check the import in a cell of the notebook, with the Python that runs its script".into(),
                paste: Some(format!("!python -c {}", shell_word(&imports.join("; ")))),
            },
            None => Action {
                what: "Check the import in the environment that runs the entry point, once the fix is in".into(),
                paste: Some(format!("python -c {}", shell_word(&imports.join("; ")))),
            },
        });
    }
    if let Some((clip, line)) = e.clip_not_here.as_ref().filter(|_| e.videos.is_empty()) {
        let remote = clip.starts_with("http://") || clip.starts_with("https://");
        let name = clip.rsplit(['/', '\\']).next().filter(|n| !n.is_empty()).unwrap_or("clip.mp4");
        let paste = if remote {
            format!("curl -L -o {} {}\nnanscope postmortem RUN_DIR --video {}", shell_word(name), shell_word(clip), shell_word(name))
        } else {
            format!("# copied from the machine that ran it:\nnanscope postmortem RUN_DIR --video {}", shell_word(name))
        };
        next.push(Action {
            what: format!("Check the clip the run wrote, which {line} names ({clip}): this machine does not have it"),
            paste: Some(paste),
        });
    } else if is(&cause::HEALTHY_RUN) && e.videos.is_empty() {
        next.push(Action { what: "Add the generated video to the run folder (or --video FILE)".into(), paste: None });
    }
    next
}

/// A P114 of more pose frames than the audio has.
fn poses_outlast_audio(f: &Finding) -> bool {
    let count = |key: &str| f.evidence.get(key).and_then(serde_json::Value::as_u64);
    f.is(&rules::pose::FRAME_COUNT_MISMATCH) && matches!((count("frames"), count("expected")), (Some(have), Some(audio)) if have > audio)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Subject;

    fn with_id(f: Finding, id: &str) -> Finding {
        Finding { id: Some(id.into()), ..f }
    }

    fn artifacts() -> Vec<Artifact> {
        use std::path::Path;
        vec![
            Artifact::new(Path::new("run/pretrained_weights/denoising_unet.pth"), ArtifactKind::Weights, "t"),
            Artifact::new(Path::new("run/dump"), ArtifactKind::Dump, "t"),
            Artifact::new(Path::new("run/video.npy"), ArtifactKind::VideoTensor, "t"),
            Artifact::new(Path::new("run/out.mp4"), ArtifactKind::Video, "t"),
            Artifact::new(Path::new("run/poses"), ArtifactKind::Poses, "t"),
            Artifact::new(Path::new("run/run.log"), ArtifactKind::Log, "t"),
            Artifact::new(Path::new("run/configs/prompts/infer.yaml"), ArtifactKind::Config, "t"),
        ]
    }

    #[test]
    fn a_wrapper_is_recorded_the_way_it_starts() {
        let run = |source: &str| script_probe(&Script::read(0, "srv/api.py", String::new(), source), "");
        let (app, guard) = ("app = FastAPI()\n", "if __name__ == \"__main__\":\n    uvicorn.run(app)\n");
        assert!(run(&format!("{app}{guard}")).contains("\npython -m nanscope.probe run --out dump api.py\n"));
        assert!(run(app).contains("\npython -m nanscope.probe run --out dump -m uvicorn api:app\n"));
        assert!(run("serve()\n").contains("watch_pipelines(\"dump\").__enter__()"));
        assert!(run("serve()\n").ends_with("nanscope postmortem RUN_DIR --dump dump"));
    }

    #[test]
    fn a_traceback_names_a_missing_input_only_for_an_input() {
        let line = |text: &str| format!("run.log:14: {text}");
        for (text, path) in [
            ("FileNotFoundError: [Errno 2] No such file or directory: '../echomimic_v2/assets/halfbody_demo/pose/fight/'", Some("../echomimic_v2/assets/halfbody_demo/pose/fight/")),
            ("FileNotFoundError: [Errno 2] No such file or directory: './assets/refimag/0035.png'", Some("./assets/refimag/0035.png")),
            ("NotADirectoryError: [Errno 20] Not a directory: './assets/speech.mp3'", Some("./assets/speech.mp3")),
            ("FileNotFoundError: [Errno 2] No such file or directory: './configs/prompts/infer.yaml'", None),
            ("FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg'", None),
            ("ValueError: x: './pose/01'", None),
            ("OSError: MoviePy error: the file ./assets/audio/good.wav could not be found!", Some("./assets/audio/good.wav")),
        ] {
            assert_eq!(missing_input(&line(text)).as_deref(), path, "{text}");
        }
    }

    #[test]
    fn an_input_that_lies_elsewhere_in_the_run_folder_is_named_where_it_lies() {
        let inputs = ["/r/assets/halfbody_demo/pose/fight".to_string(), "/r/assets/halfbody_demo/pose/01".to_string()];
        let fight = "../echomimic_v2/assets/halfbody_demo/pose/fight/";
        assert_eq!(lying_at(fight, "/r/", &inputs).as_deref(), Some("./assets/halfbody_demo/pose/fight/"));
        // One shared name is no evidence, and an input outside the root is not one to name.
        assert_eq!(lying_at("../other/fight/", "/r/", &inputs), None);
        assert_eq!(lying_at(fight, "/elsewhere/", &inputs), None);
        assert_eq!(sed_pattern(fight), "\\.\\./echomimic_v2/assets/halfbody_demo/pose/fight/");
        assert_eq!(sed_pattern("a[1]*^$"), "a\\[1\\]\\*\\^\\$");
    }

    fn producer(id: &str, module: &str, stage: &str) -> Finding {
        with_id(
            Finding::new(&rules::trace::NONFINITE_PRODUCER, "x").with_subject(Subject {
                module: Some(module.into()),
                stage: Some(stage.into()),
                step: Some(3),
                ..Subject::default()
            }),
            id,
        )
    }

    fn black(id: &str) -> Finding {
        with_id(
            Finding::new(&rules::video::NAN_CAST_SIGNATURE, "x")
                .with_subject(Subject { frames: Some([12, 47]), ..Subject::default() }),
            id,
        )
    }

    fn quantized() -> Vec<Quantized> {
        vec![Quantized {
            file: "denoising_unet.pth".into(),
            component: Some(Component::DenoisingUnet),
            tensors: 4,
            scheme: "torchao int8".into(),
        }]
    }

    fn judge(findings: &[(usize, Finding)], quant: Vec<Quantized>) -> Verdict {
        let refs: Vec<(usize, &Finding)> = findings.iter().map(|(a, f)| (*a, f)).collect();
        verdict(&Evidence::gather(&refs, &artifacts(), quant, None, vec![], None, None))
    }

    #[test]
    fn quantized_unet_with_a_unet_producer_is_quantization_overflow() {
        let findings = vec![(1, producer("F1", "unet.up_blocks.1.attentions.0.proj_out", "unet")), (3, black("F2"))];
        let v = judge(&findings, quantized());
        assert_eq!(v.root_cause.code, "K101");
        assert_eq!(v.confidence, Confidence::High);
        let stages: Vec<&str> = v.chain.iter().map(|l| l.stage.as_str()).collect();
        assert_eq!(stages, ["quantization", "denoising UNet", "VAE decode", "uint8 cast", "video frames"]);
        assert!(v.chain[1].findings.contains(&"F1".to_string()));
        assert_eq!(v.chain[2].basis, Basis::Predicted);
        assert!(v.fix[0].paste.as_ref().unwrap().contains("\"up_blocks.1.attentions.0.proj_out\""));
        assert!(v.competing.iter().any(|c| c.cause.code == "K108"));
    }

    #[test]
    fn a_launch_command_is_given_again_with_its_flags_set() {
        let args = ["--image_path", "my img.jpg", "--sample_size", "768", "768", "--weight_dtype=float16", "--seed", "43"];
        let launch = Launch { script: "run_flash.sh".into(), line: 3, args: args.map(String::from).to_vec() };
        assert_eq!(
            launch_with("infer_flash.py", &launch, &[("--weight_dtype", &["bfloat16"]), ("--sample_size", &["576", "576"])]),
            "python infer_flash.py --image_path 'my img.jpg' --seed 43 --weight_dtype bfloat16 --sample_size 576 576"
        );
        assert_eq!(
            launch_with("infer_flash.py", &launch, &[("--video_length", &["49"])]),
            "python infer_flash.py --image_path 'my img.jpg' --sample_size 768 768 --weight_dtype=float16 --seed 43 \
             --video_length 49"
        );
    }

    #[test]
    fn echomimicv3_s_transformer_is_named_and_not_replayed() {
        let findings = [(1, producer("F1", "transformer.blocks.12.ffn.2", "transformer")), (3, black("F2"))];
        let refs: Vec<(usize, &Finding)> = findings.iter().map(|(a, f)| (*a, f)).collect();
        let mut e = Evidence::gather(&refs, &artifacts(), vec![], None, vec![], None, None);
        let v2 = verdict(&e);
        e.pipeline = Some(Recognised {
            pipeline: Pipeline::EchomimicV3,
            recognised_by: "run.log:1 names infer_flash.py".into(),
            entry_point: "infer_flash.py".into(),
            launched_by: None,
            checkout: None,
            transformer: None,
            either_web_ui: false,
            mmgp_profile: None,
            comfyui_version: None,
        });
        let v3 = verdict(&e);
        assert_eq!(v3.root_cause.code, v2.root_cause.code);
        let stages = |v: &Verdict| v.chain.iter().map(|l| l.stage.clone()).collect::<Vec<_>>();
        assert!(stages(&v2).contains(&"denoising UNet".to_string()), "{:?}", stages(&v2));
        assert!(stages(&v3).contains(&"denoising transformer".to_string()), "{:?}", stages(&v3));
        let said = |v: &Verdict| serde_json::to_string(&(&v.fix, &v.next)).unwrap();
        assert!(said(&v2).contains("nanscope replay"), "{}", said(&v2));
        assert!(!said(&v3).contains("nanscope replay") && !said(&v3).contains("weight_dtype: bf16"), "{}", said(&v3));
        // Its web UI is recorded per generation.
        let mut app = e.pipeline.clone().unwrap();
        app.entry_point = "app.py".into();
        app.either_web_ui = true;
        let paste = echomimic_v3_probe(Some(&app), "");
        assert!(paste.contains("run --out dump app.py   # or app_mm.py, the UI you ran"), "{paste}");
        assert!(paste.contains("inside app.py, once the pipeline is built:"), "{paste}");
        let ui = Evidence { pipeline: Some(app.clone()), ..Evidence::default() };
        assert_eq!(ui.echomimic_v3(), Some("app.py"));
        // A log that shows mmgp says which UI ran; the probe is attached after its quantization.
        app.entry_point = "app_mm.py".into();
        app.either_web_ui = false;
        let paste = echomimic_v3_probe(Some(&app), "");
        assert!(paste.contains("run --out dump app_mm.py\n"), "{paste}");
        assert!(paste.contains("inside app_mm.py, after offload.profile(...)"), "{paste}");
    }

    #[test]
    fn mmgp_s_quantized_transformer_gets_quanto_s_exclude_list_or_no_quantization() {
        let line = |id: &str, text: &str, model: &str| {
            let f = Finding::new(&rules::log::QUANTIZATION_APPLIED, text)
                .with_evidence("scheme", "int8-channel")
                .with_evidence("models", vec![model]);
            with_id(f, id)
        };
        let findings = [
            (5, line("F1", "Quantization of model 'text_encoder' started to format 'qint8'", "text_encoder")),
            (5, line("F2", "Quantization of model 'transformer' started to format 'qint8'", "transformer")),
            (3, black("F3")),
        ];
        assert_eq!(named_scheme(&findings[0].1), None);
        assert_eq!(named_scheme(&findings[1].1), Some(QuantScheme::Int8Channel));
        let refs: Vec<(usize, &Finding)> = findings.iter().map(|(a, f)| (*a, f)).collect();
        let simulated = Simulated {
            file: "models/transformer/diffusion_pytorch_model.safetensors".into(),
            scheme: "int8-channel".into(),
            exclude: vec!["blocks.29.ffn.2".into(), "blocks.0.self_attn.o".into()],
        };
        let mut e = Evidence::gather(&refs, &artifacts(), vec![], Some(simulated), vec![], None, None);
        e.pipeline = Some(Recognised {
            pipeline: Pipeline::EchomimicV3,
            recognised_by: "app_mm.log:1 shows mmgp".into(),
            entry_point: "app_mm.py".into(),
            launched_by: None,
            checkout: None,
            transformer: Some("models/transformer/diffusion_pytorch_model.safetensors".into()),
            either_web_ui: false,
            mmgp_profile: None,
            comfyui_version: None,
        });
        let v = verdict(&e);
        assert_eq!(v.root_cause.code, "K101");
        assert!(v.headline.starts_with("Weight quantization of the denoising transformer (qint8, by mmgp in app_mm.py)"), "{}", v.headline);
        // Only the transformer's line is the quantization's evidence.
        assert_eq!(v.chain[0].findings, ["F2"]);
        assert!(v.chain[0].says.contains("mmgp's offload profile in app_mm.py"), "{}", v.chain[0].says);
        assert!(v.chain.iter().all(|l| !l.says.contains("fp16")), "{:?}", v.chain);
        let exclude = v.fix[0].paste.as_deref().unwrap_or_default();
        assert!(exclude.contains("EXCLUDE = [\"blocks.29.ffn.2\", \"blocks.0.self_attn.o\"]"), "{exclude}");
        assert!(exclude.contains("quantize(pipeline.transformer, weights=qint8, exclude=EXCLUDE)"), "{exclude}");
        assert!(v.fix[1].paste.as_deref().unwrap_or_default().contains("quantizeTransformer=False"), "{:?}", v.fix[1]);
        let said = serde_json::to_string(&(&v.fix, &v.next)).unwrap();
        assert!(!said.contains("denoising UNet") && !said.contains("quantize_("), "{said}");
    }

    #[test]
    fn comfyui_echomimic_s_mmgp_profile_is_turned_off_in_the_workflow() {
        // The workflow's use_mmgp with lowvram on (C113) and mmgp's own line.
        let workflow = with_id(
            Finding::new(&rules::config::QUANTIZATION_CONFIGURED, "Echo_LoadModel.use_mmgp: LowRAM_LowVRAM")
                .with_evidence("scheme", "int8-channel")
                .with_evidence("models", vec!["transformer"]),
            "F2",
        );
        let findings = [(6, workflow), (3, black("F1"))];
        let refs: Vec<(usize, &Finding)> = findings.iter().map(|(a, f)| (*a, f)).collect();
        let simulated = Simulated {
            file: "models/echo_mimic/diffusion_pytorch_model.safetensors".into(),
            scheme: "int8-channel".into(),
            exclude: vec!["blocks.29.ffn.2".into()],
        };
        let mut e = Evidence::gather(&refs, &artifacts(), vec![], Some(simulated), vec![], None, None);
        e.pipeline = Some(Recognised {
            pipeline: Pipeline::EchomimicV3,
            recognised_by: "echomimic_v3.json:143: Echo_LoadModel.version V3".into(),
            entry_point: super::super::pipeline::COMFYUI_ENTRY.into(),
            launched_by: None,
            checkout: None,
            transformer: Some("models/echo_mimic/diffusion_pytorch_model.safetensors".into()),
            either_web_ui: false,
            mmgp_profile: None,
            comfyui_version: Some("V3".into()),
        });
        let v = verdict(&e);
        assert_eq!(v.root_cause.code, "K101");
        assert!(v.headline.contains("(qint8, by mmgp in ComfyUI_EchoMimic's Echo_LoadModel)"), "{}", v.headline);
        assert_eq!(v.chain[0].findings, ["F2"]);
        let exclude = &v.fix[0];
        assert!(exclude.what.contains("in custom_nodes/ComfyUI_EchoMimic/echomimic_v3/infer.py (load_v3_model)"), "{exclude:?}");
        assert!(exclude.paste.as_deref().unwrap_or_default().contains("EXCLUDE = [\"blocks.29.ffn.2\"]"));
        assert!(v.fix[1].what.starts_with("Or do not let mmgp quantize the denoising transformer: set lowvram to false"));
        // The flash loader does not pass lowvram to mmgp.
        e.pipeline.as_mut().unwrap().comfyui_version = Some("V3_flash".into());
        let flash = verdict(&e);
        assert!(flash.fix[1].what.contains("set use_mmgp to None on Echo_LoadModel and block_offload on"), "{:?}", flash.fix);
        let said = serde_json::to_string(&(&v.headline, &v.chain, &v.fix, &v.next)).unwrap();
        for other in ["UNet", "quantize_(", "app_mm.py", "app.py", "replay", "fp16"] {
            assert!(!said.contains(other), "{other} in {said}");
        }
    }

    #[test]
    fn a_pose_count_the_pipeline_means_is_no_length_mismatch() {
        let count = |severity| {
            with_id(Finding::new(&rules::pose::FRAME_COUNT_MISMATCH, "x").with_severity(severity), "F1")
        };
        assert_eq!(judge(&[(4, count(Severity::Warning))], vec![]).root_cause.code, "K110");
        assert_eq!(judge(&[(4, count(Severity::Info))], vec![]).root_cause.code, "K120");
        // Poses that outlast the audio are trimmed to it.
        let outlast = count(Severity::Warning).with_evidence("frames", 336).with_evidence("expected", 149);
        assert_eq!(judge(&[(4, outlast)], vec![]).root_cause.code, "K120");
        let short = count(Severity::Error).with_evidence("frames", 100).with_evidence("expected", 149);
        assert_eq!(judge(&[(4, short)], vec![]).root_cause.code, "K110");
    }

    #[test]
    fn a_vae_producer_outranks_a_quantized_unet() {
        let findings =
            vec![(1, producer("F1", "vae.decoder.up_blocks.3.resnets.2.conv2", "vae.decode")), (3, black("F2"))];
        let v = judge(&findings, quantized());
        assert_eq!(v.root_cause.code, "K107");
        assert!(v.fix.iter().any(|f| f.paste.as_deref().is_some_and(|p| p.contains("torch.float32"))));
    }

    #[test]
    fn black_frames_alone_name_the_mechanism_and_ask_for_a_dump() {
        let v = judge(&[(3, black("F1"))], vec![]);
        assert_eq!(v.root_cause.code, "K108");
        assert!(v.next.iter().any(|n| n.paste.as_deref().is_some_and(|p| p.contains("attach("))));
    }

    #[test]
    fn a_quantization_log_line_without_a_dump_predicts_the_unet_link() {
        let log = crate::log::check_reader(
            "loading\nquantize_(pipe.denoising_unet, int8_weight_only())\n".as_bytes(),
            "run.log",
            &crate::log::LogOptions::default(),
        );
        let quant = with_id(log.findings[0].clone(), "F2");
        assert_eq!(named_scheme(&quant), Some(QuantScheme::Int8Channel));
        let v = judge(&[(3, black("F1")), (5, quant)], vec![]);
        assert_eq!(v.root_cause.code, "K101");
        assert_eq!(v.chain[0].findings, vec!["F2"]);
        assert_eq!(v.chain[0].evidence, vec!["run.log:2: quantize_(pipe.denoising_unet, int8_weight_only())"]);
        assert_eq!(v.chain[1].basis, Basis::Predicted);
        // The deployment's denoising UNet is known: the replay spec is written
        // out, a valid spec that quantizes the UNet as the run did.
        let paste = v.next.iter().filter_map(|n| n.paste.as_deref()).find(|p| p.contains("replay.toml")).unwrap();
        assert!(paste.ends_with("nanscope replay replay.toml --bisect"), "{paste}");
        let toml_text = paste.split_once("<<'EOF'\n").unwrap().1.split_once("\nEOF").unwrap().0;
        let spec: crate::replay::Spec = toml::from_str(toml_text).unwrap();
        assert_eq!(spec.family, "echomimic-v2");
        assert!(spec.echomimic.unwrap().denoising_unet.is_some());
        assert!(spec.quantization.is_some());
    }

    #[test]
    fn broken_poses_alone_are_the_cause() {
        let f = with_id(Finding::new(&rules::pose::NONFINITE_KEYPOINT, "x"), "F1");
        let v = judge(&[(4, f)], vec![]);
        assert_eq!(v.root_cause.code, "K105");
        assert!(v.fix[0].paste.as_deref().unwrap().starts_with("nanscope pose repair run/poses"));
    }

    #[test]
    fn the_config_naming_a_missing_motion_module_is_cited() {
        let f = with_id(
            Finding::new(&rules::config::MOTION_MODULE_MISSING, "motion_module_path points to x").with_subject(
                Subject {
                    file: Some("run/configs/prompts/infer.yaml".into()),
                    line: Some(8),
                    key: Some("motion_module_path".into()),
                    ..Subject::default()
                },
            ),
            "F1",
        );
        let v = judge(&[(6, f)], vec![]);
        assert_eq!(v.root_cause.code, "K111");
        assert_eq!(v.chain[0].findings, vec!["F1"]);
        assert_eq!(v.chain[0].evidence, vec!["run/configs/prompts/infer.yaml:8: motion_module_path points to x"]);
    }

    #[test]
    fn git_lfs_pointers_are_weights_never_downloaded() {
        let pointer = |id: &str, file: &str| {
            with_id(
                Finding::new(&rules::format::GIT_LFS_POINTER, "pointer").with_subject(Subject::file(file)),
                id,
            )
        };
        let findings = vec![
            (0, pointer("F1", "run/pretrained_weights/denoising_unet.pth")),
            (0, pointer("F2", "run/pretrained_weights/sd-vae-ft-mse/diffusion_pytorch_model.safetensors")),
            (3, black("F3")),
        ];
        let v = judge(&findings, vec![]);
        assert_eq!(v.root_cause.code, "K111");
        assert_eq!(v.chain[0].findings, vec!["F1", "F2"]);
        assert!(v.chain[0].says.contains("2 checkpoint files are Git LFS pointers"), "{}", v.chain[0].says);
        assert_eq!(
            v.fix[0].paste.as_deref(),
            Some(
                "git lfs install\ngit -C run/pretrained_weights lfs pull\n\
                 git -C run/pretrained_weights/sd-vae-ft-mse lfs pull"
            )
        );
        // Not a malformed checkpoint: the pointer is what a clone without LFS writes.
        assert!(!v.competing.iter().any(|c| c.cause.code == "K104"));
    }

    #[test]
    fn a_log_that_loaded_a_pointer_is_enough() {
        let log = crate::log::check_reader(
            "Traceback (most recent call last):\n_pickle.UnpicklingError: invalid load key, 'v'.\n".as_bytes(),
            "run.log",
            &crate::log::LogOptions::default(),
        );
        let line = with_id(log.findings[0].clone(), "F1");
        let v = judge(&[(5, line)], vec![]);
        assert_eq!(v.root_cause.code, "K111");
        assert_eq!(v.chain[0].findings, vec!["F1"]);
        assert!(v.chain[0].evidence[0].starts_with("run.log:2:"), "{:?}", v.chain[0].evidence);
        assert_eq!(v.fix[0].paste.as_deref(), Some("git lfs install\ngit -C pretrained_weights lfs pull"));
    }

    #[test]
    fn nothing_found_is_a_healthy_run() {
        let v = judge(&[], vec![]);
        assert_eq!(v.root_cause.code, "K120");
        assert!(v.chain.is_empty());
    }

    #[test]
    fn only_a_line_that_may_quantize_the_denoising_unet_names_a_scheme_to_simulate() {
        let line = |models: &[&str]| {
            let f = Finding::new(&rules::log::QUANTIZATION_APPLIED, "line 5").with_evidence("scheme", "int8-channel");
            if models.is_empty() { f } else { f.with_evidence("models", models.to_vec()) }
        };
        assert_eq!(named_scheme(&line(&[])), Some(QuantScheme::Int8Channel));
        assert_eq!(named_scheme(&line(&["denoising_unet"])), Some(QuantScheme::Int8Channel));
        assert_eq!(named_scheme(&line(&["pipe.unet"])), Some(QuantScheme::Int8Channel));
        assert_eq!(named_scheme(&line(&["vae", "reference_unet"])), None);
        assert_eq!(named_scheme(&line(&["vae", "unet"])), Some(QuantScheme::Int8Channel));
    }

    proptest::proptest! {
        #[test]
        fn any_exception_line_is_read_for_an_import_without_a_panic(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "ModuleNotFoundError: ", "No module named ", "ImportError: cannot import name ", " from ", "'",
                "\"", "moviepy.editor", "量", "é", " (", ")", "a.b", "",
            ]), 0..12),
        ) {
            let text = parts.concat();
            if let Some(import) = failed_import(&text) {
                proptest::prop_assert!(!import.module.is_empty());
                proptest::prop_assert!(!import.statement().is_empty() && !import.check().is_empty());
            }
        }
    }

    #[test]
    fn a_notebook_s_probe_step_runs_the_script_it_ran_or_the_notebook() {
        let colab = ("run/EchoMimicV2.ipynb".to_string(), NotebookRun::Script("infer_acc.py --config x.yaml".into()));
        let step = notebook_probe(&colab, "");
        assert!(step.contains("\n!python -m nanscope.probe run --out dump infer_acc.py --config x.yaml\n"), "{step}");
        let demo = ("run/my demo.ipynb".to_string(), NotebookRun::Cells);
        let step = notebook_probe(&demo, "\n# the modules to watch: up_blocks.1");
        assert!(step.contains("jupyter nbconvert --to python 'my demo.ipynb'   # writes 'my demo.py'\n"), "{step}");
        assert!(step.contains("run --out dump 'my demo.py'\n# the modules to watch: up_blocks.1\n"), "{step}");
    }

    #[test]
    fn the_gpu_s_memory_is_read_from_an_out_of_memory_message() {
        let torch = "run.log:9: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.25 GiB. GPU 0 has a \
                     total capacity of 15.77 GiB of which 1.12 GiB is free. Of the allocated memory 13.1 GiB …";
        assert_eq!(gpu_capacity(torch), Some("15.77 GiB"));
        assert_eq!(gpu_capacity("RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB"), None);
        assert_eq!(gpu_capacity("total capacity of lots of which none"), None);
    }

    #[test]
    fn a_failed_import_names_its_module_and_the_pins_that_bring_it_back() {
        let module = failed_import("run.log:5: ModuleNotFoundError: No module named 'moviepy.editor'").unwrap();
        assert_eq!((module.module.as_str(), module.name.as_deref(), module.package()), ("moviepy.editor", None, "moviepy"));
        assert_eq!(module.check(), "import moviepy.editor");
        let name = failed_import(
            "ImportError: cannot import name 'cached_download' from 'huggingface_hub' (/x/huggingface_hub/__init__.py)",
        )
        .unwrap();
        assert_eq!((name.module.as_str(), name.name.as_deref()), ("huggingface_hub", Some("cached_download")));
        assert_eq!((name.statement(), name.check()), ("from huggingface_hub import cached_download".into(), "import diffusers".into()));
        assert!(failed_import("ImportError: cannot import name 'quantize_' from 'torchao.quantization' (unknown location)").is_some());
        assert!(failed_import("ModuleNotFoundError: No module named ''").is_none());
        assert!(failed_import("RuntimeError: CUDA error").is_none());
        assert!(failed_import("ModuleNotFoundError: No module named 'a; rm -rf'").is_none());

        let cited = |at: &str| Cited::of(&Finding::new(&rules::log::UNHANDLED_EXCEPTION, "line 5").with_evidence("text", at), "F1".into());
        let mut e = Evidence { import_lines: vec![cited("ModuleNotFoundError: No module named 'moviepy.editor'")], ..Evidence::default() };
        let fixes = import_fixes(&e);
        assert_eq!(fixes[0].paste.as_deref(), Some("pip install moviepy==1.0.3"));
        assert!(fixes[0].what.ends_with("moviepy 2 removed moviepy.editor, which EchoMimicV2 imports"));
        assert_eq!(fixes[1].paste.as_deref(), Some("pip install -r requirements.txt"));
        e.import_lines.push(cited("ModuleNotFoundError: No module named 'PIL'"));
        e.import_lines.push(cited("ModuleNotFoundError: No module named 'somenode_utils'"));
        e.comfyui_workflow = true;
        let fixes = import_fixes(&e);
        assert_eq!(fixes[0].paste.as_deref(), Some("python -m pip install moviepy==1.0.3 'Pillow>=10.2.0,<10.3.0'"));
        assert!(fixes[1].what.contains("somenode_utils") && fixes[1].paste.is_none());
        assert_eq!(fixes.len(), 2, "a ComfyUI node lists its own requirements");
    }

    #[test]
    fn paths_in_a_paste_are_shown_as_typed_from_here() {
        assert_eq!(shown_path("./run/./pretrained_weights/sd-vae-ft-mse"), "run/pretrained_weights/sd-vae-ft-mse");
        let here = std::env::current_dir().unwrap();
        assert_eq!(shown_path(&format!("{}/./pretrained_weights/x.pth", here.display())), "pretrained_weights/x.pth");
        assert_eq!(shown_path("/elsewhere/./x.pth"), "/elsewhere/x.pth");
        assert_eq!(shell_word("pretrained_weights/x.pth"), "pretrained_weights/x.pth");
        assert_eq!(shell_word("my run/it's"), "'my run/it'\\''s'");
    }
}
