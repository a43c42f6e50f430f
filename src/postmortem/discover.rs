//! Finding the artifacts of a run folder by their content.
//!
//! Every file is recognised from its first bytes (never its extension):
//! videos, saved video tensors, pose folders and files, reference images,
//! audio, checkpoints and diffusers folders, configs, logs and probe dumps.
//! A file nothing recognises is listed as `unknown` and not judged.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::formats::detect::{FileFormat, detect};

/// Bytes read from the start of a file to recognise it.
const HEAD_BYTES: u64 = 8192;

/// What an artifact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    Video,
    VideoTensor,
    Poses,
    Image,
    Audio,
    Weights,
    Config,
    Log,
    Dump,
    Unknown,
}

impl ArtifactKind {
    pub fn name(self) -> &'static str {
        match self {
            ArtifactKind::Video => "video",
            ArtifactKind::VideoTensor => "video-tensor",
            ArtifactKind::Poses => "poses",
            ArtifactKind::Image => "image",
            ArtifactKind::Audio => "audio",
            ArtifactKind::Weights => "weights",
            ArtifactKind::Config => "config",
            ArtifactKind::Log => "log",
            ArtifactKind::Dump => "dump",
            ArtifactKind::Unknown => "unknown",
        }
    }
}

/// The part of an EchoMimicV2 pipeline a checkpoint is, from its place in
/// `pretrained_weights/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    DenoisingUnet,
    ReferenceUnet,
    MotionModule,
    PoseEncoder,
    Vae,
    AudioProcessor,
    /// The base model's UNet (`sd-image-variations-diffusers/unet`), whose
    /// weights the reference and denoising UNets start from.
    BaseUnet,
    ImageEncoder,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Component::DenoisingUnet => "denoising UNet",
            Component::ReferenceUnet => "reference UNet",
            Component::MotionModule => "motion module",
            Component::PoseEncoder => "pose encoder",
            Component::Vae => "VAE",
            Component::AudioProcessor => "audio processor",
            Component::BaseUnet => "base UNet",
            Component::ImageEncoder => "image encoder",
        }
    }

    /// Where `infer.py`'s config puts the component in `pretrained_weights/`
    /// (the normal variant's file).
    pub(crate) fn layout_path(self) -> &'static str {
        match self {
            Component::DenoisingUnet => "denoising_unet.pth",
            Component::ReferenceUnet => "reference_unet.pth",
            Component::MotionModule => "motion_module.pth",
            Component::PoseEncoder => "pose_encoder.pth",
            Component::Vae => "sd-vae-ft-mse",
            Component::AudioProcessor => "audio_processor/tiny.pt",
            Component::BaseUnet => "sd-image-variations-diffusers/unet",
            Component::ImageEncoder => "sd-image-variations-diffusers/image_encoder",
        }
    }

    /// The components EchoMimicV2's inference loads, with the file or folder
    /// names its `pretrained_weights/` layout gives them.
    pub(crate) const REQUIRED: [(Component, &'static str); 5] = [
        (Component::DenoisingUnet, "denoising_unet*.pth"),
        (Component::ReferenceUnet, "reference_unet.pth"),
        (Component::MotionModule, "motion_module*.pth"),
        (Component::PoseEncoder, "pose_encoder.pth"),
        (Component::Vae, "sd-vae-ft-mse/"),
    ];

    fn from_path(path: &Path) -> Option<Component> {
        let lower = path.to_string_lossy().to_lowercase();
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        if name.starts_with("denoising_unet") {
            Some(Component::DenoisingUnet)
        } else if name.starts_with("reference_unet") {
            Some(Component::ReferenceUnet)
        } else if name.starts_with("motion_module") {
            Some(Component::MotionModule)
        } else if name.starts_with("pose_encoder") || name.starts_with("pose_guider") {
            Some(Component::PoseEncoder)
        } else if lower.contains("vae") {
            Some(Component::Vae)
        } else if lower.contains("audio_processor") || name == "tiny.pt" || name.starts_with("whisper") {
            Some(Component::AudioProcessor)
        } else if name == "unet" || (lower.contains("image-variations") && in_folder(path, "unet")) {
            Some(Component::BaseUnet)
        } else if lower.contains("image_encoder") {
            Some(Component::ImageEncoder)
        } else {
            None
        }
    }
}

/// Whether a folder of this name holds `path`.
fn in_folder(path: &Path, folder: &str) -> bool {
    path.parent().is_some_and(|parent| parent.components().any(|c| c.as_os_str() == folder))
}

/// One thing found in the run folder (or named explicitly).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Artifact {
    pub path: String,
    pub kind: ArtifactKind,
    /// How it was recognised: `--video`, `content: MP4 container`, …
    pub recognised_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    /// The checks that ran on it.
    pub checks: Vec<String>,
    /// One line: what the checks found.
    pub summary: String,
    /// Ids of the findings that came from it.
    pub findings: Vec<String>,
    /// A prompt config or workflow the run did not read (`--config` or a log
    /// names another, another is an entry point's, a node ships it as an
    /// example; see `prompts`), or an upload in ComfyUI's `input/` that the
    /// run's workflow does not load. Its findings are listed, but the verdict
    /// does not read them; an unused image or audio file is not checked.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unused: bool,
    /// An image a ComfyUI run wrote to `output/` or `temp/` (a saved frame,
    /// the first frame Video Combine keeps beside its clip, a preview): what
    /// came out, not the reference image that went in, so it is not checked
    /// as one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub output: bool,
    /// It holds, attaches or carries a ComfyUI workflow that runs an
    /// EchoMimic node, or is ComfyUI's log of running one: ComfyUI ran the
    /// generation.
    #[serde(skip)]
    pub(crate) comfyui_workflow: bool,
    /// A Jupyter notebook whose cells ran (a log), and how it ran the generation.
    #[serde(skip)]
    pub(crate) notebook: Option<super::prompts::NotebookRun>,
    /// A script of the folder that the logs show ran the generation (a
    /// wrapper's entry point), and what its source says.
    #[serde(skip)]
    pub(crate) script: Option<super::script::Script>,
}

impl Artifact {
    /// Adds a part to the one-line summary, after what it says already.
    pub(crate) fn add_summary(&mut self, part: &str) {
        if !self.summary.is_empty() {
            self.summary.push_str("; ");
        }
        self.summary.push_str(part);
    }

    pub(crate) fn new(path: &Path, kind: ArtifactKind, recognised_by: impl Into<String>) -> Artifact {
        Artifact {
            path: path.display().to_string(),
            kind,
            recognised_by: recognised_by.into(),
            component: if kind == ArtifactKind::Weights { Component::from_path(path) } else { None },
            checks: Vec::new(),
            summary: String::new(),
            findings: Vec::new(),
            unused: false,
            output: false,
            comfyui_workflow: false,
            notebook: None,
            script: None,
        }
    }
}

/// What discovery found: the artifacts, and the EchoMimicV2 weights folder
/// when the run has one (to tell which components are missing).
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Discovery {
    pub artifacts: Vec<Artifact>,
    /// `pretrained_weights/` folders found (EchoMimicV2's layout).
    pub weights_folders: Vec<String>,
    /// Components of that layout with no file.
    pub missing_components: Vec<Component>,
}

/// Walks `roots` and classifies every file; `explicit` artifacts (from
/// `--video` and friends) are taken as given and override what discovery
/// would say about the same path.
pub fn discover(roots: &[PathBuf], explicit: &[(ArtifactKind, PathBuf)]) -> Discovery {
    let mut found = Discovery::default();
    for (kind, path) in explicit {
        let flag = format!("--{}", flag_name(*kind));
        found.artifacts.push(Artifact::new(path, *kind, flag));
    }
    let taken: Vec<PathBuf> = explicit.iter().map(|(_, p)| p.clone()).collect();
    for root in roots {
        if root.is_file() {
            if !taken.contains(root) {
                found.artifacts.push(classify_file(root));
            }
            continue;
        }
        walk(root, &taken, &mut found);
    }
    let mut seen = std::collections::HashSet::new();
    found.artifacts.retain(|a| seen.insert(a.path.clone()));
    found
}

fn flag_name(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Video => "video",
        ArtifactKind::VideoTensor => "tensor",
        ArtifactKind::Poses => "poses",
        ArtifactKind::Image => "image",
        ArtifactKind::Audio => "audio",
        ArtifactKind::Weights => "weights",
        ArtifactKind::Config => "config",
        ArtifactKind::Log => "log",
        ArtifactKind::Dump => "dump",
        ArtifactKind::Unknown => "unknown",
    }
}

fn walk(root: &Path, taken: &[PathBuf], found: &mut Discovery) {
    // Links are followed: weights are often a link to a shared models
    // folder, or Hugging Face's cache (each file a link to its blob).
    let mut walker = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter();
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                if let Some(path) = error.path() {
                    let why = crate::formats::walk::walk_error_text(&error);
                    found.artifacts.push(Artifact::new(path, ArtifactKind::Unknown, why));
                }
                continue;
            }
        };
        let path = entry.path();
        let name = entry.file_name().to_string_lossy();
        if name.starts_with('.') && entry.depth() > 0 {
            if entry.file_type().is_dir() {
                walker.skip_current_dir();
            }
            continue;
        }
        if taken.iter().any(|t| t == path) {
            if entry.file_type().is_dir() {
                walker.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_dir() {
            let skipped = installed_software(path, &name).or_else(|| outside_echomimic_in_comfyui(path, &name));
            if let Some(what) = skipped.filter(|_| entry.depth() > 0) {
                found.artifacts.push(Artifact::new(path, ArtifactKind::Unknown, format!("{what}, not walked")));
                walker.skip_current_dir();
                continue;
            }
            if name == "pretrained_weights" {
                found.weights_folders.push(path.display().to_string());
                found.missing_components.extend(missing_components(path));
            }
            if let Some(artifact) = classify_dir(path) {
                found.artifacts.push(artifact);
                walker.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_file() {
            found.artifacts.push(classify_file(path));
        }
    }
}

/// A folder of installed software, not of the run: a Python environment
/// (a venv inside the checkout is common), an installed package tree, npm's
/// packages or a bytecode cache. Their files are libraries' own (headers
/// that print ERROR, NumPy's test arrays, PNG baselines), so they are listed
/// as one entry and not walked.
fn installed_software(dir: &Path, name: &str) -> Option<&'static str> {
    if dir.join("pyvenv.cfg").is_file() {
        return Some("Python virtual environment (pyvenv.cfg)");
    }
    if dir.join("conda-meta").is_dir() {
        return Some("conda environment (conda-meta/)");
    }
    match name {
        "site-packages" | "dist-packages" => Some("installed Python packages"),
        "node_modules" => Some("installed npm packages"),
        "__pycache__" => Some("Python bytecode cache"),
        _ => None,
    }
}

/// Whether `dir` is a ComfyUI install: `main.py` or `comfy/` beside
/// `custom_nodes/` and `models/`.
fn comfyui_root(dir: &Path) -> bool {
    dir.join("custom_nodes").is_dir()
        && dir.join("models").is_dir()
        && (dir.join("main.py").is_file() || dir.join("comfy").is_dir())
}

/// The folders ComfyUI reads EchoMimicV2's weights from: `models/echo_mimic/`
/// (ComfyUI_EchoMimic), `models/AIFSH/` (EchoMimicV2-ComfyUI) and the VAE
/// the workflow picks from `models/vae/`.
const COMFYUI_ECHOMIMIC_MODELS: [&str; 3] = ["echo_mimic", "AIFSH", "vae"];

/// Whether a ComfyUI custom node's folder name is an EchoMimic node's
/// (`ComfyUI_EchoMimic`, `EchoMimicV2-ComfyUI`).
pub(crate) fn echomimic_node(name: &str) -> bool {
    name.to_ascii_lowercase().contains("echomimic")
}

/// Where a folder of a ComfyUI install holds nothing of an EchoMimicV2
/// run, what it is: an install holds every node's code and assets and
/// every model the user keeps (tens of GB of checkpoints and LoRAs), whose
/// test images and checkpoints would be judged as the run's. Walked are
/// the EchoMimic nodes under `custom_nodes/`, EchoMimicV2's folders under
/// `models/`, and `input/`, `output/`, `temp/` and `user/` (the log).
fn outside_echomimic_in_comfyui(dir: &Path, name: &str) -> Option<&'static str> {
    let parent = dir.parent()?;
    if comfyui_root(parent) {
        return (!matches!(name, "custom_nodes" | "models" | "input" | "output" | "temp" | "user"))
            .then_some("ComfyUI's own files");
    }
    let in_root_folder = |folder: &str| {
        parent.file_name().is_some_and(|n| n == folder) && parent.parent().is_some_and(comfyui_root)
    };
    if in_root_folder("custom_nodes") && !echomimic_node(name) {
        return Some("another ComfyUI node than EchoMimic's");
    }
    if in_root_folder("models") && !COMFYUI_ECHOMIMIC_MODELS.contains(&name) {
        return Some("ComfyUI models that EchoMimic's nodes do not load");
    }
    None
}

/// Components of EchoMimicV2's `pretrained_weights/` with no file.
fn missing_components(dir: &Path) -> Vec<Component> {
    // A broken link names a component that is not there.
    let names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().exists())
                .map(|e| e.file_name().to_string_lossy().to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    Component::REQUIRED
        .iter()
        .filter(|(_, pattern)| {
            let present = |prefix: &str| names.iter().any(|n| n.starts_with(prefix));
            match pattern.find(['*', '.', '/']) {
                Some(at) if pattern.ends_with('/') => !present(&pattern[..at]),
                Some(at) => !present(&pattern[..at]),
                None => !present(pattern),
            }
        })
        .map(|(c, _)| *c)
        .collect()
}

/// A folder that is one artifact: a probe dump, a diffusers model folder or
/// a pose sequence.
fn classify_dir(dir: &Path) -> Option<Artifact> {
    let manifest = dir.join("manifest.json");
    if read_head(&manifest).is_some_and(|h| contains(&h, b"\"nanscope-dump\"")) {
        return Some(Artifact::new(dir, ArtifactKind::Dump, "content: nanscope dump manifest"));
    }
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    let config = dir.join("config.json");
    if read_head(&config).is_some_and(|h| contains(&h, b"\"_class_name\""))
        && files.iter().any(|f| read_head(f).is_some_and(|h| detect(&h) != FileFormat::Unknown))
    {
        return Some(Artifact::new(
            dir,
            ArtifactKind::Weights,
            "content: diffusers model folder (config.json + weights)",
        ));
    }
    let poses = files.iter().filter(|f| read_head(f).is_some_and(|h| is_pose(&h))).count();
    if poses >= 2 && poses * 2 >= files.len() {
        return Some(Artifact::new(dir, ArtifactKind::Poses, format!("content: {poses} pose frame files")));
    }
    None
}

/// A file classified from its first bytes.
pub(crate) fn classify_file(path: &Path) -> Artifact {
    let Some(head) = read_head(path) else {
        return Artifact::new(path, ArtifactKind::Unknown, "unreadable");
    };
    let (kind, how) = classify_head(path, &head);
    Artifact::new(path, kind, how)
}

fn classify_head(path: &Path, head: &[u8]) -> (ArtifactKind, String) {
    if head.is_empty() {
        return (ArtifactKind::Unknown, "empty file".into());
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" && (&head[8..12] == b"M4A " || &head[8..12] == b"M4B ") {
        return (ArtifactKind::Audio, "content: MPEG-4 audio".into());
    }
    if crate::video::discover::looks_like_video(head) {
        return (ArtifactKind::Video, "content: video container signature".into());
    }
    if let Some(what) = image_signature(head) {
        return (ArtifactKind::Image, format!("content: {what} signature"));
    }
    if let Some(what) = audio_signature(head) {
        return (ArtifactKind::Audio, format!("content: {what} signature"));
    }
    let format = detect(head);
    if format == FileFormat::LfsPointer {
        // A checkpoint that was never downloaded: the weights check says so (F112).
        if crate::weights::has_checkpoint_extension(path) {
            return (ArtifactKind::Weights, "content: Git LFS pointer".into());
        }
        return (ArtifactKind::Unknown, "content: Git LFS pointer (the file itself was not downloaded)".into());
    }
    if format != FileFormat::Unknown {
        if is_pose(head) {
            return (ArtifactKind::Poses, "content: EchoMimicV2 pose .npy (object dict)".into());
        }
        if format != FileFormat::ShardIndex && is_video_tensor(path) {
            return (ArtifactKind::VideoTensor, format!("content: {} holding a video-shaped tensor", format.name()));
        }
        return (ArtifactKind::Weights, format!("content: {} checkpoint", format.name()));
    }
    // Other image formats `image check` reads (TIFF …); tensor files were taken above.
    if crate::image::discover::looks_like_image(head) {
        return (ArtifactKind::Image, "content: image signature".into());
    }
    let Some(text) = crate::formats::detect::head_text(head) else {
        return (ArtifactKind::Unknown, "binary content no check reads".into());
    };
    if crate::log::notebook::looks_like(head) {
        return notebook(path);
    }
    // Before configs and logs: a pipeline's own code names their keys and
    // prints their messages.
    if let Some(language) = source_language(text) {
        return (ArtifactKind::Unknown, format!("content: {language} source"));
    }
    // A page or a manifest quotes warnings; a log never opens with a tag.
    if text.trim_start_matches('\u{feff}').trim_start().starts_with('<') {
        return (ArtifactKind::Unknown, "content: HTML or XML markup".into());
    }
    // Notes on an incident quote its log lines; they are no run's log.
    if is_markdown(text) {
        return (ArtifactKind::Unknown, "content: Markdown document".into());
    }
    if is_config(text) {
        return (ArtifactKind::Config, "content: EchoMimicV2 run configuration keys".into());
    }
    if is_comfyui_workflow(text) {
        return if workflow_runs_echomimic(path) {
            (ArtifactKind::Config, "content: ComfyUI workflow with EchoMimic nodes".into())
        } else {
            (ArtifactKind::Unknown, "content: ComfyUI workflow without an EchoMimic node".into())
        };
    }
    if is_inference_config(text) {
        return (ArtifactKind::Config, "content: EchoMimicV2 inference configuration keys".into());
    }
    if is_log(text) {
        return (ArtifactKind::Log, "content: log lines".into());
    }
    // A diffusers pipeline's model_index.json or scheduler_config.json:
    // EchoMimicV2 builds its scheduler from inference_v2.yaml and loads each
    // model by its own path, so these are listed, not judged.
    if text.contains("\"_class_name\"") && text.contains("\"_diffusers_version\"") {
        return (ArtifactKind::Unknown, "content: diffusers config, not judged here (`nanscope config check` reads it)".into());
    }
    (ArtifactKind::Unknown, "text no check reads".into())
}

/// A Jupyter notebook is the log of its run when its cells ran (it keeps
/// their outputs); one saved without outputs is code, like a script.
fn notebook(path: &Path) -> (ArtifactKind, String) {
    use crate::log::notebook::{self, Unread};
    match notebook::read(path) {
        Ok(console) if console.summary.cells_run > 0 => (ArtifactKind::Log, format!("content: {}", console.summary)),
        Ok(console) => (ArtifactKind::Unknown, format!("content: {} (never run, or saved without outputs)", console.summary)),
        Err(Unread::TooLarge) => {
            let why = format!("content: Jupyter notebook larger than {} MiB, read as text", notebook::MAX_BYTES >> 20);
            (ArtifactKind::Log, why)
        }
        // Cut off while saved: its outputs' text is still there.
        Err(Unread::Malformed(why)) => {
            (ArtifactKind::Log, format!("content: Jupyter notebook that does not parse ({why}), read as text"))
        }
        Err(Unread::NotANotebook) => (ArtifactKind::Unknown, "unreadable".into()),
    }
}

fn image_signature(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("PNG")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("JPEG")
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Some("WebP")
    } else if head.starts_with(b"BM") && head.len() > 14 && head[6..10] == [0, 0, 0, 0] {
        Some("BMP")
    } else {
        None
    }
}

fn audio_signature(head: &[u8]) -> Option<&'static str> {
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WAVE" {
        Some("WAV")
    } else if head.starts_with(b"ID3") || (head.len() >= 2 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0) {
        Some("MP3")
    } else if head.starts_with(b"fLaC") {
        Some("FLAC")
    } else {
        None
    }
}

/// An EchoMimicV2 pose frame (.npy of a pickled dict) or an OpenPose JSON.
fn is_pose(head: &[u8]) -> bool {
    if head.starts_with(b"\x93NUMPY") {
        let header = &head[..head.len().min(256)];
        return contains(header, b"'descr': '|O'");
    }
    let text = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && (contains(text, b"\"pose_keypoints_2d\"") || contains(text, b"\"people\""))
}

/// A tensor file whose few tensors include one a video encoder would read
/// (frames × height × width × channels, both sides at least 16 pixels).
fn is_video_tensor(path: &Path) -> bool {
    let checkpoint = crate::formats::Checkpoint::open(path);
    if checkpoint.tensors.is_empty() || checkpoint.tensors.len() > 4 {
        return false;
    }
    checkpoint.tensors.iter().any(|t| {
        matches!(t.shape.len(), 4 | 5)
            && crate::video::tensor_frames::geometry(&t.shape, None)
                .is_ok_and(|g| g.height >= 16 && g.out_width() >= 16 && g.frames >= 2)
    })
}

/// Keys of EchoMimicV2 inference configs (YAML or JSON).
const CONFIG_KEYS: [&str; 8] = [
    "pretrained_base_model_path",
    "pretrained_vae_path",
    "denoising_unet_path",
    "reference_unet_path",
    "motion_module_path",
    "pose_encoder_path",
    "inference_config",
    "weight_dtype",
];

fn is_config(text: &str) -> bool {
    CONFIG_KEYS.iter().filter(|k| text.contains(*k)).count() >= 2
}

/// A ComfyUI workflow's opening: the graph the UI saves, or the prompt its
/// API queues.
fn is_comfyui_workflow(text: &str) -> bool {
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.starts_with('{')
        && (text.contains("\"last_node_id\"")
            || text.contains("\"lastNodeId\"")
            || (text.contains("\"class_type\"") && text.contains("\"inputs\"")))
}

/// Whether the whole workflow names an EchoMimic node (its head may not).
fn workflow_runs_echomimic(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut bytes = Vec::new();
    if file.take(crate::config::yaml::MAX_BYTES).read_to_end(&mut bytes).is_err() {
        return false;
    }
    crate::config::names_echomimic_node(&String::from_utf8_lossy(&bytes))
}

/// The language of a source file, from its first lines: a shebang, or at
/// least two lines that only source starts that way (imports and
/// definitions, preprocessor directives, CMake commands). Logs quote source
/// only indented, in tracebacks, so top-level lines tell them apart.
fn source_language(text: &str) -> Option<&'static str> {
    let first = text.lines().next().unwrap_or("");
    if let Some(interpreter) = first.strip_prefix("#!") {
        if interpreter.contains("python") {
            return Some("Python");
        }
        if ["/sh", "bash", "zsh", "env sh"].iter().any(|shell| interpreter.contains(shell)) {
            return Some("shell script");
        }
    }
    let two = |statement: fn(&str) -> bool| text.lines().filter(|l| statement(l)).take(2).count() >= 2;
    if two(python_statement) {
        return Some("Python");
    }
    if two(cython_statement) {
        return Some("Cython");
    }
    if two(c_statement) {
        return Some("C/C++");
    }
    if two(cmake_command) {
        return Some("CMake");
    }
    None
}

fn python_statement(line: &str) -> bool {
    let from_import = line.strip_prefix("from ").is_some_and(|rest| rest.contains(" import "));
    let defines = ["def ", "async def ", "class "]
        .iter()
        .any(|p| line.strip_prefix(p).is_some_and(|rest| rest.contains(['(', ':']) && !rest.starts_with(' ')));
    (line.starts_with("import ") && !line.contains(" = ")) || from_import || defines || line.starts_with("if __name__ ==")
}

fn cython_statement(line: &str) -> bool {
    ["cdef ", "cpdef ", "ctypedef ", "cimport "].iter().any(|p| line.starts_with(p))
        || line.strip_prefix("from ").is_some_and(|rest| rest.contains(" cimport "))
}

fn c_statement(line: &str) -> bool {
    let directive = line.strip_prefix('#').map(str::trim_start).is_some_and(|rest| {
        ["include", "define", "ifndef", "ifdef", "endif", "pragma", "if ", "undef"].iter().any(|d| rest.starts_with(d))
    });
    directive || line.starts_with("namespace ") || line.starts_with("template <") || line.starts_with("template<")
}

fn cmake_command(line: &str) -> bool {
    const COMMANDS: [&str; 12] = [
        "cmake_minimum_required",
        "project",
        "set",
        "if",
        "endif",
        "else",
        "include",
        "find_package",
        "add_library",
        "add_executable",
        "target_link_libraries",
        "function",
    ];
    let line = line.trim_start();
    COMMANDS.iter().any(|c| line.strip_prefix(c).is_some_and(|rest| rest.trim_start().starts_with('(')))
}

/// `configs/inference/inference_v*.yaml`: the UNet's and the scheduler's settings.
fn is_inference_config(text: &str) -> bool {
    ["unet_additional_kwargs:", "noise_scheduler_kwargs:"].iter().any(|k| text.contains(k))
}

/// The title the error report ComfyUI shows for a failed node opens with.
pub(crate) const COMFYUI_ERROR_REPORT: &str = "# ComfyUI Error Report";

/// A Markdown document: it opens with a heading (`# Fixes applied`) and
/// has another heading or a fenced code block below it. A log may hold a
/// line that starts with `#`, but not a document's structure. The error
/// report ComfyUI writes for a failed node is one too, but it is the run's
/// own: its exception, stack trace, log and workflow.
fn is_markdown(text: &str) -> bool {
    if text.trim_start().starts_with(COMFYUI_ERROR_REPORT) {
        return false;
    }
    let heading = |line: &str| {
        let marks = line.bytes().take_while(|&b| b == b'#').count();
        (1..=6).contains(&marks) && line[marks..].starts_with(' ') && !line[marks..].trim().is_empty()
    };
    let fence = |line: &str| line.starts_with("```") || line.starts_with("~~~");
    let mut lines = text.trim_start_matches('\u{feff}').lines().map(str::trim_end).filter(|l| !l.is_empty());
    lines.next().is_some_and(heading) && lines.any(|l| heading(l) || fence(l))
}

/// Log lines: a level word as loggers write it, a traceback, a progress
/// bar or one of the incident's messages. Comment lines (`//`, `*`, `#`) and
/// a level word inside an identifier (`CUDA_ERROR_NOT_FOUND`) or before an
/// assignment (`ERROR = 1`) are source, not log.
fn is_log(text: &str) -> bool {
    const MARKS: [&str; 14] = [
        "Traceback (most recent call last)",
        // What EchoMimicV2's entry points print first, with or without FFMPEG_PATH.
        "add ffmpeg to path",
        "please download ffmpeg-static",
        // A web UI's console: Gradio once it serves, mmgp as it loads the models.
        "Running on local URL:",
        "for the GPU Poor (mmgp",
        "Quantization of model '",
        "Warning:",
        "it/s]",
        "s/it]",
        "invalid value encountered",
        "bytes wanted but",
        "moov atom not found",
        "motion module",
        "latents shape",
    ];
    text.lines().any(|line| {
        let trimmed = line.trim_start();
        // Gradio marks its lines with `* ` too.
        let gradio = trimmed.starts_with("* Running on local URL:");
        let comment = !gradio && ["//", "/*", "*", "#"].iter().any(|c| trimmed.starts_with(c));
        // An exception line as Python prints it: a run's last words.
        let exception = crate::log::exception_type(line).is_some_and(|_| line.contains(':'));
        !comment && (MARKS.iter().any(|m| line.contains(m)) || has_level_word(line) || exception)
    })
}

/// `INFO`, `WARNING` or `ERROR` as a word of its own that is not assigned,
/// called or quoted.
fn has_level_word(line: &str) -> bool {
    let word_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    ["INFO", "WARNING", "ERROR"].iter().any(|level| {
        line.match_indices(level).any(|(at, _)| {
            let before = line[..at].bytes().next_back();
            let rest = &line[at + level.len()..];
            let next = rest.trim_start().bytes().next();
            !before.is_some_and(|b| word_byte(b) || b == b'\'' || b == b'"')
                && !rest.bytes().next().is_some_and(word_byte)
                && !next.is_some_and(|b| b"=(,'\"".contains(&b))
        })
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn read_head(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let mut head = Vec::new();
    file.take(HEAD_BYTES).read_to_end(&mut head).ok()?;
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(head: &[u8]) -> ArtifactKind {
        classify_head(Path::new("x"), head).0
    }

    #[test]
    fn a_short_console_paste_that_ends_in_an_exception_is_a_log() {
        let paste = b"$ python infer.py\nadd ffmpeg to path\nOSError: Error no file named config.json found in directory x.\n";
        assert_eq!(kind(paste), ArtifactKind::Log);
        assert_eq!(kind(b"OSError: x\n"), ArtifactKind::Log);
        // Source code that raises or catches one is not.
        assert_ne!(kind(b"try:\n    f()\nexcept ValueError:\n    raise OSError(\"x\")\n"), ArtifactKind::Log);
    }

    #[test]
    fn files_are_recognised_by_content_not_name() {
        assert_eq!(kind(b"\0\0\0\x20ftypisom\0\0\x02\0"), ArtifactKind::Video);
        assert_eq!(kind(b"\0\0\0\x20ftypM4A \0\0\x02\0"), ArtifactKind::Audio);
        assert_eq!(kind(b"RIFF\x10\0\0\0WAVEfmt "), ArtifactKind::Audio);
        assert_eq!(kind(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), ArtifactKind::Image);
        assert_eq!(kind(b"weight_dtype: fp16\ndenoising_unet_path: x.pth\n"), ArtifactKind::Config);
        assert_eq!(kind(b"2025-01-01 INFO loading\n"), ArtifactKind::Log);
        assert_eq!(kind(b"Quantization of model 'transformer' started to format 'qint8'\n"), ArtifactKind::Log);
        assert_eq!(kind(b"* Running on local URL:  http://0.0.0.0:7891\n"), ArtifactKind::Log);
        assert_eq!(kind(b"just some notes\n"), ArtifactKind::Unknown);
        assert_eq!(
            kind(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (), }"),
            ArtifactKind::Poses
        );
        assert_eq!(kind(&[0u8, 1, 2, 3, 255, 254]), ArtifactKind::Unknown);
    }

    #[test]
    fn notes_that_quote_a_log_are_no_log() {
        let notes = b"# Blank Video Output - Fixes Applied\n\n## Problem Summary\n- The warning \"invalid value \
                      encountered in cast\" meant NaN\n```bash\nuvicorn api:app\n```\nWARNING: Video tensor contains NaN\n";
        assert_eq!(classify_head(Path::new("x"), notes), (ArtifactKind::Unknown, "content: Markdown document".into()));
        // A log with a line that starts like a heading is still a log.
        assert_eq!(kind(b"# run 3\n2025-01-01 INFO loading\nERROR: failed\n"), ArtifactKind::Log);
        assert_eq!(kind(b"2025-01-01 INFO loading\n# Heading\n## More\n"), ArtifactKind::Log);
        let comfyui = b"# ComfyUI Error Report\n## Error Details\n- **Exception Type:** OSError\n## Logs\n```\nERROR x\n```\n";
        assert_eq!(kind(comfyui), ArtifactKind::Log);
    }

    #[test]
    fn a_notebook_is_a_log_once_its_cells_ran() {
        let dir = tempfile::tempdir().unwrap();
        let cell = |count: &str, outputs: &str| {
            format!(
                "{{\n \"cells\": [\n  {{\n   \"cell_type\": \"code\",\n   \"execution_count\": {count},\n   \"metadata\": {{}},\n   \"outputs\": [{outputs}],\n   \"source\": [\"print(1)\"]\n  }}\n ],\n \"metadata\": {{}},\n \"nbformat\": 4,\n \"nbformat_minor\": 5\n}}\n"
            )
        };
        let ran = dir.path().join("ran.ipynb");
        std::fs::write(&ran, cell("1", "{\"name\": \"stdout\", \"output_type\": \"stream\", \"text\": [\"1\\n\"]}")).unwrap();
        let a = classify_file(&ran);
        assert_eq!((a.kind, a.recognised_by.as_str()), (ArtifactKind::Log, "content: Jupyter notebook (nbformat 4), 1 of 1 code cells ran"));
        let shipped = dir.path().join("demo.ipynb");
        std::fs::write(&shipped, cell("null", "")).unwrap();
        let a = classify_file(&shipped);
        assert_eq!(a.kind, ArtifactKind::Unknown);
        assert!(a.recognised_by.ends_with("0 of 1 code cells ran (never run, or saved without outputs)"), "{}", a.recognised_by);
        let broken = dir.path().join("cut.ipynb");
        std::fs::write(&broken, &cell("1", "")[..40]).unwrap();
        let a = classify_file(&broken);
        assert_eq!(a.kind, ArtifactKind::Log);
        assert!(a.recognised_by.starts_with("content: Jupyter notebook that does not parse"), "{}", a.recognised_by);
        assert!(a.recognised_by.ends_with(", read as text"), "{}", a.recognised_by);
    }

    #[test]
    fn a_comfyui_workflow_is_a_config_when_it_runs_an_echomimic_node() {
        let dir = tempfile::tempdir().unwrap();
        // The node may come after the head that is read first.
        let padding = format!("{{\"id\": 9, \"type\": \"Note\", \"widgets_values\": [\"{}\"]}}", "x".repeat(9000));
        let echomimic = format!(
            "{{\"last_node_id\": 2, \"nodes\": [{padding}, {{\"id\": 1, \"type\": \"EchoMimicV2Node\"}}], \"links\": []}}"
        );
        let other = "{\"3\": {\"inputs\": {\"seed\": 5}, \"class_type\": \"KSampler\"}}";
        for (name, text, expected) in
            [("ui.json", echomimic.as_str(), ArtifactKind::Config), ("api.json", other, ArtifactKind::Unknown)]
        {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let found = classify_file(&path);
            assert_eq!(found.kind, expected, "{name}: {}", found.recognised_by);
            assert!(found.recognised_by.contains("ComfyUI workflow"));
        }
    }

    #[test]
    fn a_git_lfs_pointer_is_a_checkpoint_only_under_a_checkpoints_name() {
        let pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1700000000\n";
        assert_eq!(classify_head(Path::new("pretrained_weights/denoising_unet.pth"), pointer).0, ArtifactKind::Weights);
        let (kind, how) = classify_head(Path::new("assets/refimag/0014.png"), pointer);
        assert_eq!(kind, ArtifactKind::Unknown);
        assert!(how.contains("Git LFS pointer"), "{how}");
    }

    #[test]
    fn a_pipelines_own_code_is_not_its_log_or_config() {
        // EchoMimicV2's app.py prints the incident's messages and infer.py
        // reads the config's keys; both are listed, not judged.
        let app = b"import os\nimport torch\nfrom torchao.quantization import quantize_, int8_weight_only\n\
                    if not os.path.exists(motion_module_path):\n    exit(\"motion module not found\")\n";
        let infer = b"import argparse\nfrom omegaconf import OmegaConf\n\ndef main():\n\
                      config = OmegaConf.load(args.config)\n    config.denoising_unet_path\n\
                      config.motion_module_path\n";
        for source in [&app[..], infer, b"#!/usr/bin/env python3\nprint('ERROR')\n"] {
            assert_eq!(classify_head(Path::new("x"), source), (ArtifactKind::Unknown, "content: Python source".into()));
        }
        let log: &[u8] = concat!(
            "Traceback (most recent call last):\n",
            "  File \"infer.py\", line 3, in <module>\n",
            "    import torch\n",
            "    from diffusers import AutoencoderKL\n",
            "ModuleNotFoundError: No module named 'torch'\n"
        )
        .as_bytes();
        assert_eq!(kind(log), ArtifactKind::Log);
        let scheduler = b"{\n  \"_class_name\": \"DDIMScheduler\",\n  \"_diffusers_version\": \"0.31.0\"\n}\n";
        let (kind, how) = classify_head(Path::new("x"), scheduler);
        assert_eq!(kind, ArtifactKind::Unknown);
        assert!(how.contains("config check"), "{how}");
    }

    #[test]
    fn installed_libraries_source_is_not_a_log() {
        // Lines from the headers, CMake files and Cython declarations of
        // torch, CUDA and NumPy wheels: level words in identifiers and
        // comments.
        let cases: [(&[u8], &str); 5] = [
            (b"#pragma once\n#include <c10/macros/Macros.h>\n// Warning: parallel_for does NOT copy\n", "C/C++"),
            (b"#ifndef _CG_INFO_H_\n#define _CG_INFO_H_\n  CUSOLVER_STATUS_IRS_INFOS_NOT_INITIALIZED = 25,\n", "C/C++"),
            (b"cmake_minimum_required(VERSION 3.18)\nif(NOT LLVM)\n  message(FATAL_ERROR \"needs LLVM\")\n", "CMake"),
            (b"from libc.stdint cimport int64_t\ncdef CUresult _cuGetErrorString() except ?CUDA_ERROR_NOT_FOUND\n", "Cython"),
            (b"#!/usr/bin/env bash\necho \"ERROR: no GPU\"\n", "shell script"),
        ];
        for (source, language) in cases {
            assert_eq!(classify_head(Path::new("x"), source), (ArtifactKind::Unknown, format!("content: {language} source")));
        }
        let page = b"<!DOCTYPE html>\n<p><strong>Warning:</strong> Never use qemu-img on images in use</p>\n";
        assert_eq!(classify_head(Path::new("x"), page).1, "content: HTML or XML markup");
        for not_log in [&b"ERROR = 1\nCONV_ERROR = 17\n"[..], b"  // WARNING: generated file\n", b"USER_ERROR = [\n"] {
            assert_eq!(kind(not_log), ArtifactKind::Unknown, "{}", String::from_utf8_lossy(not_log));
        }
        for log in [
            &b"WARNING:root:fp16 overflow\n"[..],
            b"2026-12-05 10:00:01,123 - ERROR - decode failed\n",
            b"2026-12-05 10:00:01.123 | INFO     | infer:main:88 - start\n",
            b"[INFO] loading denoising_unet.pth\n",
            b"/x/attention.py:12: UserWarning: upcast\n",
        ] {
            assert_eq!(kind(log), ArtifactKind::Log, "{}", String::from_utf8_lossy(log));
        }
    }

    #[test]
    fn installed_software_is_listed_not_walked() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let header = venv.join("include/torch/csrc/api.h");
        std::fs::create_dir_all(header.parent().unwrap()).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        std::fs::write(&header, "ERROR: never read\n").unwrap();
        let packages = dir.path().join("lib/site-packages/numpy");
        std::fs::create_dir_all(&packages).unwrap();
        std::fs::write(packages.join("objarr.npy"), b"\x93NUMPY").unwrap();
        std::fs::write(dir.path().join("run.log"), "ERROR: decode failed\n").unwrap();
        let found = discover(&[dir.path().to_path_buf()], &[]);
        let listed: Vec<(String, ArtifactKind)> = found
            .artifacts
            .iter()
            .map(|a| (Path::new(&a.path).strip_prefix(dir.path()).unwrap().display().to_string(), a.kind))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("lib/site-packages".to_string(), ArtifactKind::Unknown),
                ("run.log".to_string(), ArtifactKind::Log),
                ("venv".to_string(), ArtifactKind::Unknown),
            ]
        );
        assert!(found.artifacts[2].recognised_by.contains("pyvenv.cfg"));
        // Pointed at directly, an environment is walked.
        assert!(discover(&[venv], &[]).artifacts.iter().any(|a| Path::new(&a.path) == header));
    }

    #[test]
    fn a_comfyui_install_is_walked_where_echomimic_s_files_are() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ComfyUI");
        for folder in [
            "comfy",
            "web/assets",
            "custom_nodes/ComfyUI_EchoMimic/echomimic_v2",
            "custom_nodes/comfyui_controlnet_aux/examples",
            "models/echo_mimic/v2",
            "models/checkpoints",
            "output",
            "user",
        ] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        let write = |path: &str, text: &str| std::fs::write(root.join(path), text).unwrap();
        write("main.py", "import comfy\n");
        write("web/assets/logo.png", "not walked");
        write("custom_nodes/ComfyUI_EchoMimic/echomimic_v2/run.log", "ERROR: decode failed\n");
        write("custom_nodes/comfyui_controlnet_aux/examples/ref.png", "not walked");
        // An empty safetensors file: an 8-byte header length, then `{}`.
        let weights = [&2u64.to_le_bytes()[..], b"{}"].concat();
        std::fs::write(root.join("models/echo_mimic/v2/denoising_unet.safetensors"), weights).unwrap();
        write("models/checkpoints/sd_xl_base_1.0.safetensors", "not walked");
        write("user/comfyui.log", "ERROR: decode failed\n");
        let found = discover(std::slice::from_ref(&root), &[]);
        let listed: Vec<(String, ArtifactKind)> = found
            .artifacts
            .iter()
            .map(|a| (Path::new(&a.path).strip_prefix(&root).unwrap().display().to_string(), a.kind))
            .collect();
        let unknown = |p: &str| (p.to_string(), ArtifactKind::Unknown);
        assert_eq!(
            listed,
            vec![
                unknown("comfy"),
                ("custom_nodes/ComfyUI_EchoMimic/echomimic_v2/run.log".to_string(), ArtifactKind::Log),
                unknown("custom_nodes/comfyui_controlnet_aux"),
                unknown("main.py"),
                unknown("models/checkpoints"),
                ("models/echo_mimic/v2/denoising_unet.safetensors".to_string(), ArtifactKind::Weights),
                ("user/comfyui.log".to_string(), ArtifactKind::Log),
                unknown("web"),
            ]
        );
        // Pointed at directly, any of them is walked.
        let checkpoints = discover(&[root.join("models/checkpoints")], &[]);
        assert_eq!(checkpoints.artifacts.len(), 1);
        assert!(!checkpoints.artifacts[0].recognised_by.contains("not walked"));
    }

    #[cfg(unix)]
    #[test]
    fn linked_weights_are_followed_and_broken_links_are_missing() {
        // pretrained_weights/ as a link to a shared models folder, one
        // checkpoint a link to nothing, and a link back up the tree.
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("models");
        std::fs::create_dir(&shared).unwrap();
        for name in ["denoising_unet.pth", "reference_unet.pth", "pose_encoder.pth"] {
            std::fs::write(shared.join(name), b"\x02\0\0\0\0\0\0\0{}").unwrap();
        }
        symlink("/nonexistent/motion_module.pth", shared.join("motion_module.pth")).unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        symlink(&shared, run.join("pretrained_weights")).unwrap();
        symlink("..", run.join("up")).unwrap();
        let found = discover(std::slice::from_ref(&run), &[]);
        let by_path = |name: &str| {
            found.artifacts.iter().find(|a| Path::new(&a.path) == run.join(name)).unwrap_or_else(|| panic!("{name}"))
        };
        assert_eq!(by_path("pretrained_weights/denoising_unet.pth").kind, ArtifactKind::Weights);
        let broken = by_path("pretrained_weights/motion_module.pth");
        assert_eq!(
            (broken.kind, broken.recognised_by.as_str()),
            (ArtifactKind::Unknown, "a broken link: its target /nonexistent/motion_module.pth does not exist")
        );
        assert_eq!(found.missing_components, vec![Component::MotionModule, Component::Vae]);
        assert!(by_path("up").recognised_by.starts_with("a link back to"), "{:?}", by_path("up"));
    }

    #[test]
    fn echomimic_layout_names_components_and_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let weights = dir.path().join("pretrained_weights");
        std::fs::create_dir(&weights).unwrap();
        std::fs::write(weights.join("denoising_unet.pth"), b"x").unwrap();
        std::fs::write(weights.join("reference_unet.pth"), b"x").unwrap();
        let missing = missing_components(&weights);
        assert_eq!(missing, vec![Component::MotionModule, Component::PoseEncoder, Component::Vae]);
        assert_eq!(Component::from_path(&weights.join("denoising_unet_acc.pth")), Some(Component::DenoisingUnet));
        assert_eq!(Component::from_path(Path::new("pretrained_weights/sd-vae-ft-mse")), Some(Component::Vae));
        // ComfyUI's nodes: models/vae/ holds the VAE as one file, Whisper sits beside the UNets.
        assert_eq!(Component::from_path(Path::new("models/vae/sd-vae-ft-mse.safetensors")), Some(Component::Vae));
        let whisper = Path::new("models/AIFSH/EchoMimicV2/whisper_tiny.pt");
        assert_eq!(Component::from_path(whisper), Some(Component::AudioProcessor));
    }
}
