//! Reading a configuration, recognising what it is, and running its checks.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::yaml::{self, Node};
use super::{comfyui, diffusers, echomimic, findings};
use crate::report::Finding;

/// Which EchoMimicV2 pipeline a prompt config drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Normal,
    Acc,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Normal => "normal",
            Variant::Acc => "acc",
        }
    }
}

/// What the checks assume.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConfigOptions {
    /// Folder that relative weight paths are resolved against; by default the
    /// folder above the config's `configs/` folder, or the config's own folder.
    pub root: Option<PathBuf>,
    /// The pipeline variant; by default `acc` when the weight paths name the
    /// `_acc` weights (or the file name says `acc`), else `normal`.
    pub variant: Option<Variant>,
    /// Width and height the poses were drawn for.
    pub pose_size: [u32; 2],
    /// Run parameters as `infer.py` was given them (`steps`, `cfg`, `W`, …).
    pub set: Vec<(String, String)>,
    /// Whether the run is known to have run on Windows (ComfyUI's log or
    /// error report says so), where a workflow's low-VRAM option of
    /// EchoMimicV2-ComfyUI quantizes nothing.
    pub windows: bool,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        ConfigOptions { root: None, variant: None, pose_size: [768, 768], set: Vec::new(), windows: false }
    }
}

/// What kind of configuration a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigKind {
    EchomimicPrompt,
    EchomimicInference,
    ModelIndex,
    Scheduler,
    ComfyuiWorkflow,
    Unknown,
}

/// One key's value and what it means for the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub meaning: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl Setting {
    pub(crate) fn new(key: &str, value: String, meaning: String, line: Option<u64>) -> Self {
        Setting { key: key.to_string(), value, meaning, line }
    }

    /// A run parameter the run's pipeline variant sets because the file
    /// states none (meaning `normal default`, `acc default`).
    pub(crate) fn is_default(&self) -> bool {
        self.meaning.ends_with(" default")
    }
}

/// The result for one configuration file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ConfigFile {
    pub file: String,
    pub kind: ConfigKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    pub settings: Vec<Setting>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl ConfigFile {
    /// The result for `path` before anything is read from it.
    fn new(path: &Path) -> ConfigFile {
        ConfigFile {
            file: path.display().to_string(),
            kind: ConfigKind::Unknown,
            variant: None,
            root: None,
            settings: Vec::new(),
            findings: Vec::new(),
        }
    }
}

/// The result for every configuration given.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ConfigCheck {
    pub files: Vec<ConfigFile>,
}

/// Checks every file in `paths`.
pub fn check<P: AsRef<Path>>(paths: &[P], options: &ConfigOptions) -> ConfigCheck {
    ConfigCheck { files: paths.iter().map(|p| check_file(p.as_ref(), options)).collect() }
}

/// Checks one configuration file; what cannot be read is a `C101` finding.
pub fn check_file(path: &Path, options: &ConfigOptions) -> ConfigFile {
    let label = path.display().to_string();
    let mut result = ConfigFile::new(path);
    if let Some(embedded) = check_embedded(path, options) {
        return embedded;
    }
    let text = match read_text(path) {
        Ok(text) => text,
        Err(reason) => {
            result.findings.push(findings::unreadable(&label, None, &reason));
            return result;
        }
    };
    // ComfyUI's error report attaches the workflow that failed.
    if let Some((first, block)) = comfyui::attached_workflow(&text)
        && let Ok(doc) = yaml::parse(block)
        && comfyui::is_workflow(&doc)
    {
        // The report's system information: `nt` is Windows.
        let windows = options.windows || text.lines().any(|line| line.trim() == "- **OS:** nt");
        workflow(&mut result, &doc, windows, |line| Some(line + first - 1));
        return result;
    }
    let doc = match yaml::parse(&text) {
        Ok(doc @ Node::Map(_)) => doc,
        Ok(_) => {
            result.findings.push(findings::unreadable(&label, None, "the top level is not a mapping"));
            return result;
        }
        Err(err) => {
            result.findings.push(findings::unreadable(&label, Some(err.line), &err.to_string()));
            return result;
        }
    };
    result.kind = kind_of(&doc);
    match result.kind {
        ConfigKind::EchomimicPrompt => {
            let root = options.root.clone().unwrap_or_else(|| default_root(path));
            let variant = options.variant.unwrap_or_else(|| detect_variant(&doc, path));
            let (found, settings) = echomimic::check(&doc, &label, &root, variant, options);
            result.findings = found;
            result.settings = settings;
            result.variant = Some(variant);
            result.root = Some(root.display().to_string());
        }
        ConfigKind::EchomimicInference => {
            (result.findings, result.settings) = diffusers::inference(&doc, &label, options);
        }
        ConfigKind::ModelIndex => {
            let folder = path.parent().unwrap_or(Path::new("."));
            (result.findings, result.settings) = diffusers::model_index(&doc, &label, folder, options);
        }
        ConfigKind::Scheduler => {
            result.findings = diffusers::scheduler(&text, &label, None, options);
        }
        ConfigKind::ComfyuiWorkflow => workflow(&mut result, &doc, options.windows, Some),
        ConfigKind::Unknown => result.findings.push(findings::unrecognized(&label)),
    }
    result
}

/// Checks the workflow a ComfyUI save node wrote into an image or a video
/// (see [`embedded_workflow`]); `None` when the file holds none.
pub fn check_embedded(path: &Path, options: &ConfigOptions) -> Option<ConfigFile> {
    let doc = embedded_workflow(path)?;
    let mut result = ConfigFile::new(path);
    // Lines of a text inside an image or a video mean nothing to a reader.
    workflow(&mut result, &doc, options.windows, |_| None);
    Some(result)
}

/// The workflow a ComfyUI save node wrote into its output, preferring the
/// prompt (the API form, every input resolved) to the UI's workflow.
/// - A PNG keeps the prompt in a text chunk.
/// - An MP4, MOV, WebM or MKV keeps it in its metadata. Video Combine wrote one
///   `comment` holding `{"prompt": …, "workflow": …}` until January 2026,
///   then `prompt` and `workflow` tags, as ComfyUI's own video saver does.
///   Between August 2024 and May 2026 its prompt was JSON text inside a JSON
///   string.
pub(crate) fn embedded_workflow(path: &Path) -> Option<Node> {
    if let Ok(Some(prompt)) = crate::image::png_text(path, "prompt") {
        return workflow_in(&prompt);
    }
    let mut tags = crate::video::container::metadata_tags(path).ok()?;
    if tags.is_empty() {
        tags = crate::video::matroska::matroska_tags(path).ok()?;
    }
    // Matroska's tag names are in capitals.
    let tag = |key: &str| tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str());
    if let Some(found) = ["prompt", "workflow"].into_iter().filter_map(tag).find_map(workflow_in) {
        return Some(found);
    }
    let comment = yaml::parse(tag("comment")?).ok()?;
    ["prompt", "workflow"].into_iter().filter_map(|key| comment.get(key)).find_map(|value| match value {
        Node::Str(text) => workflow_in(text),
        doc => comfyui::is_workflow(doc).then(|| doc.clone()),
    })
}

/// A workflow written as JSON, or as JSON text inside a JSON string.
fn workflow_in(text: &str) -> Option<Node> {
    let doc = match yaml::parse(text).ok()? {
        Node::Str(inner) => yaml::parse(&inner).ok()?,
        doc => doc,
    };
    comfyui::is_workflow(&doc).then_some(doc)
}

/// A ComfyUI workflow's checks into `result`, each line it states passed
/// through `line`: where the workflow sits in the file it was read from.
fn workflow(result: &mut ConfigFile, doc: &Node, windows: bool, line: impl Fn(u64) -> Option<u64>) {
    let checked = comfyui::check(doc, &result.file, windows);
    result.kind = ConfigKind::ComfyuiWorkflow;
    result.variant = checked.variant;
    result.findings = checked.findings;
    for f in &mut result.findings {
        f.subject.line = f.subject.line.and_then(&line);
    }
    result.settings = checked.settings;
    for s in &mut result.settings {
        s.line = s.line.and_then(&line);
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("it is a directory".into());
    }
    if meta.len() > yaml::MAX_BYTES {
        return Err(format!("{} bytes is more than the {} accepted", meta.len(), yaml::MAX_BYTES));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

fn kind_of(doc: &Node) -> ConfigKind {
    let has = |key: &str| doc.entry(key).is_some();
    let class = doc.get("_class_name").and_then(Node::as_str).unwrap_or("");
    if [
        "motion_module_path",
        "denoising_unet_path",
        "reference_unet_path",
        "pretrained_base_model_path",
        "weight_dtype",
    ]
    .iter()
    .any(|k| has(k))
    {
        ConfigKind::EchomimicPrompt
    } else if has("unet_additional_kwargs") || has("noise_scheduler_kwargs") {
        ConfigKind::EchomimicInference
    } else if class.ends_with("Scheduler") || (has("beta_start") && has("beta_end")) {
        ConfigKind::Scheduler
    } else if class.ends_with("Pipeline") || (has("_diffusers_version") && !class.is_empty()) {
        ConfigKind::ModelIndex
    } else if comfyui::is_workflow(doc) {
        ConfigKind::ComfyuiWorkflow
    } else {
        ConfigKind::Unknown
    }
}

/// The folder above the nearest `configs` folder holding the file, else the
/// file's own folder: EchoMimicV2 runs from its repository root.
fn default_root(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut folder = absolute.parent();
    while let Some(dir) = folder {
        if dir.file_name().is_some_and(|n| n == "configs") {
            return dir.parent().unwrap_or(dir).to_path_buf();
        }
        folder = dir.parent();
    }
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
}

fn detect_variant(doc: &Node, path: &Path) -> Variant {
    let acc_weights = ["denoising_unet_path", "motion_module_path"]
        .iter()
        .filter_map(|k| doc.get(k).and_then(Node::as_str))
        .any(|v| v.contains("_acc"));
    let acc_name = path.file_stem().is_some_and(|s| s.to_string_lossy().contains("acc"));
    if acc_weights || acc_name { Variant::Acc } else { Variant::Normal }
}
