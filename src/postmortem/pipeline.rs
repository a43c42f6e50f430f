//! Which pipeline made a run. The checks and the catalogue know
//! EchoMimicV2 first; a run of EchoMimicV3 (a Wan2.1 transformer that keeps
//! the reference's aspect, with its own entry points and weights) is
//! recognised, so that what holds only for EchoMimicV2 is not said of it.

use std::path::Path;

use serde::Serialize;

use super::discover::{Artifact, ArtifactKind, Component};
use super::prompts::{LogText, file_name};

/// A pipeline the verdict speaks of, written by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pipeline {
    #[default]
    EchomimicV2,
    EchomimicV3,
}

impl Pipeline {
    pub fn name(self) -> &'static str {
        match self {
            Pipeline::EchomimicV2 => "EchoMimicV2",
            Pipeline::EchomimicV3 => "EchoMimicV3",
        }
    }
}

impl Serialize for Pipeline {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A pipeline other than EchoMimicV2, and what showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recognised {
    pub pipeline: Pipeline,
    pub recognised_by: String,
    /// The script that ran it, as the run starts it (`infer_flash.py`).
    pub entry_point: String,
    /// The command a shell script of the folder starts it with
    /// (`run_flash.sh`, EchoMimicV3's quick start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launched_by: Option<Launch>,
    /// The checkout's folder, when it is among the artifacts.
    #[serde(skip)]
    pub checkout: Option<String>,
    /// EchoMimicV3's own transformer weights (`…/transformer/…`), which
    /// replace its base model's: the denoiser a quantization acts on.
    #[serde(skip)]
    pub transformer: Option<String>,
    /// The entry point is one of the web UI's two scripts, both in the
    /// checkout, from its clip's name (app.py is taken).
    #[serde(skip)]
    pub either_web_ui: bool,
    /// Where the checkout's app_mm.py hands its pipeline to mmgp with the
    /// transformer quantized (`app_mm.py:222`): mmgp's `quantizeTransformer`
    /// is on unless the call turns it off.
    #[serde(skip)]
    pub mmgp_profile: Option<String>,
    /// ComfyUI_EchoMimic's loader `version` (`V3`, `V3_flash`), when the
    /// node ran EchoMimicV3 (the entry point is then [`COMFYUI_ENTRY`]).
    #[serde(skip)]
    pub comfyui_version: Option<String>,
}

/// A command line of a shell script that starts the entry point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Launch {
    /// The script's path.
    pub script: String,
    /// The line the command starts on (1-based).
    pub line: usize,
    /// The entry point's arguments, as the shell passes them.
    pub args: Vec<String>,
}

impl Recognised {
    /// Where the code that ran has mmgp quantize the transformer: app_mm.py's
    /// profile call (`app_mm.py:222`), or a ComfyUI_EchoMimic copy's call
    /// that passes no `quantizeTransformer` (`infer.py:249`).
    pub fn mmgp_quantizes(&self) -> Option<&str> {
        self.mmgp_profile.as_deref().filter(|_| self.entry_point == MMGP_ENTRY || self.in_comfyui())
    }

    /// Whether ComfyUI_EchoMimic's node ran EchoMimicV3.
    pub fn in_comfyui(&self) -> bool {
        self.entry_point == COMFYUI_ENTRY
    }

    /// The source file and function that load EchoMimicV3's models: the
    /// entry point itself, or ComfyUI_EchoMimic's loader for the mode the
    /// workflow ran.
    pub fn loader_source(&self) -> String {
        match self.comfyui_version.as_deref() {
            Some("V3_flash") => format!("custom_nodes/{COMFYUI_ENTRY}/echomimic_v3/infer_flash_pro.py (load_v3_flash)"),
            Some(_) => format!("custom_nodes/{COMFYUI_ENTRY}/echomimic_v3/infer.py (load_v3_model)"),
            None if self.in_comfyui() => format!("custom_nodes/{COMFYUI_ENTRY}/echomimic_v3/"),
            None => self.entry_point.clone(),
        }
    }
}

impl Launch {
    /// `script:line`, with the script's file name.
    pub fn at(&self) -> String {
        format!("{}:{}", file_name(&self.script), self.line)
    }

    /// The value the command gives `flag` (`--flag VALUE` or `--flag=VALUE`).
    pub fn value(&self, flag: &str) -> Option<&str> {
        self.args.iter().enumerate().find_map(|(i, arg)| match arg.strip_prefix(flag) {
            Some("") => self.args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        })
    }
}

/// EchoMimicV3's entry points, the quick start's first.
const V3_ENTRY_POINTS: [&str; 4] = ["infer_flash.py", "infer_preview.py", "app_mm.py", "app.py"];

/// Modules of EchoMimicV3's checkout that EchoMimicV2's does not have.
const V3_SOURCES: [&str; 3] =
    ["src/wan_transformer3d_audio.py", "src/wan_transformer3d_audio_2512.py", "src/pipeline_wan_fun_inpaint_audio.py"];

/// The first 64 KiB of a log, where a run prints its command and its loads.
const LOG_HEAD: usize = 64 << 10;

/// EchoMimicV3, when the folder shows it: a log naming one of its entry
/// points or modules, else its checkout or its base model's weights folder
/// with nothing of EchoMimicV2's beside them (a folder holding both
/// checkouts is read as EchoMimicV2's).
pub(crate) fn recognise(artifacts: &[Artifact], logs: &[LogText]) -> Option<Recognised> {
    let checkout = v3_checkout(artifacts);
    let (mut found, named) = recognise_pipeline(artifacts, logs, checkout.as_ref())?;
    found.checkout = checkout.map(|(folder, _)| folder);
    found.transformer = transformer(artifacts);
    // mmgp's lines, when no log names the script: of EchoMimicV3's entry
    // points only app_mm.py offloads (and quantizes) through mmgp.
    let has = |script: &str| found.checkout.as_ref().is_some_and(|folder| Path::new(folder).join(script).is_file());
    let mmgp = logs.iter().find_map(mmgp_shown).filter(|_| named != Named::Entry && !found.in_comfyui());
    // A clip of the web UI's or of infer_preview.py's, when no log names what ran.
    let wrote = || {
        found.checkout.as_ref().filter(|_| named == Named::Nothing)?;
        artifacts.iter().filter(|a| a.kind == ArtifactKind::Video).find_map(|clip| {
            let (writer, scripts) = if web_ui_wrote(&clip.path) {
                ("its web UI's clip", &["app.py", MMGP_ENTRY][..])
            } else if preview_test(&clip.path).is_some() {
                ("infer_preview.py's clip", &["infer_preview.py"][..])
            } else {
                return None;
            };
            let present: Vec<&str> = scripts.iter().copied().filter(|s| has(s)).collect();
            let script = present.first()?;
            Some((script.to_string(), present.len() > 1, format!("; {} is {writer}", file_name(&clip.path))))
        })
    };
    if let Some(at) = mmgp.filter(|_| found.checkout.is_none() || has(MMGP_ENTRY)) {
        found.recognised_by.push_str(&format!("; {at} shows mmgp, which of its scripts only {MMGP_ENTRY} runs"));
        found.entry_point = MMGP_ENTRY.to_string();
    } else if let Some((script, either, how)) = wrote() {
        found.recognised_by.push_str(&how);
        found.either_web_ui = either;
        found.entry_point = script;
    }
    // Read where app_mm.py may be what ran.
    if found.entry_point == MMGP_ENTRY || found.either_web_ui {
        found.mmgp_profile =
            found.checkout.as_ref().and_then(|folder| mmgp_profile(&Path::new(folder).join(MMGP_ENTRY)));
    }
    found.launched_by = launched_by(artifacts, &found.entry_point);
    Some(found)
}

/// A clip EchoMimicV3 writes, as its folder and its name without `.mp4`
/// and without the `_audio` of the copy it muxes the audio into.
fn clip_name(path: &str) -> Option<(&str, &str)> {
    let parts = super::prompts::components(path);
    let [.., folder, name] = parts.as_slice() else { return None };
    let name = name.strip_suffix(".mp4")?;
    Some((folder, name.strip_suffix("_audio").unwrap_or(name)))
}

/// Whether `text` is a time as EchoMimicV3 names its outputs: `20250807_101530`.
fn timestamp(text: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    text.split_once('_').is_some_and(|(day, time)| digits(day, 8) && digits(time, 6))
}

/// Whether EchoMimicV3's web UI (`app.py`, `app_mm.py`) wrote the clip at
/// `path`: `outputs/20250807_101530.mp4`, or `…_audio.mp4` once muxed.
pub(crate) fn web_ui_wrote(path: &str) -> bool {
    clip_name(path).is_some_and(|(folder, stamp)| folder == "outputs" && timestamp(stamp))
}

/// The test EchoMimicV3's `infer_preview.py` wrote the clip at `path`
/// for: `outputs/20250807_101530_gs4.5_ags2.5/{test}.mp4`, or
/// `{test}_audio.mp4` once muxed.
pub(crate) fn preview_test(path: &str) -> Option<&str> {
    let (folder, test) = clip_name(path)?;
    let (stamp, scales) = folder.split_at_checked(15)?;
    let scaled = scales.strip_prefix("_gs").is_some_and(|rest| rest.contains("_ags"));
    (timestamp(stamp) && scaled && !test.is_empty()).then_some(test)
}

/// The images of EchoMimicV3's checkout that are its README's pictures
/// (`asset/`), never a run's input.
pub(crate) fn readme_pictures(artifacts: &[Artifact], checkout: &str) -> Vec<(usize, String)> {
    let asset = Path::new(checkout).join("asset");
    let why = "EchoMimicV3's README picture (asset/), not an input: not checked";
    artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == ArtifactKind::Image && Path::new(&a.path).parent() == Some(asset.as_path()))
        .map(|(i, _)| (i, why.to_string()))
        .collect()
}

/// What a log named of EchoMimicV3's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Nothing,
    /// One of its modules: what ran, not which script.
    Module,
    Entry,
}

/// The pipeline, and what a log named of it.
fn recognise_pipeline(
    artifacts: &[Artifact],
    logs: &[LogText],
    checkout: Option<&(String, String)>,
) -> Option<(Recognised, Named)> {
    let recognised = |recognised_by, entry_point| Recognised {
        pipeline: Pipeline::EchomimicV3,
        recognised_by,
        entry_point,
        launched_by: None,
        checkout: None,
        transformer: None,
        either_web_ui: false,
        mmgp_profile: None,
        comfyui_version: None,
    };
    if let Some((how, entry, named)) = logs.iter().find_map(|log| named_in_log(log, checkout)) {
        return Some((recognised(how, entry), named));
    }
    if has_echomimic_v2(artifacts) {
        return None;
    }
    if let Some((folder, entry_point)) = checkout {
        let how = format!("EchoMimicV3's checkout: {entry_point} beside {}", v3_source(Path::new(folder))?);
        return Some((recognised(how, entry_point.clone()), Named::Nothing));
    }
    let base = artifacts.iter().filter(|a| a.kind == ArtifactKind::Weights).find_map(|a| wan_folder(&a.path))?;
    let how = format!("weights under {base}, EchoMimicV3's base model");
    Some((recognised(how, V3_ENTRY_POINTS[0].to_string()), Named::Nothing))
}

/// At most this many bytes of a shell script are read, and this many scripts.
const SCRIPT_HEAD: u64 = 64 << 10;
const MOST_SCRIPTS: usize = 8;

/// The first command of the folder's shell scripts (`*.sh`) that starts
/// `entry` with Python (`python infer_flash.py \` and its arguments on the
/// lines below).
fn launched_by(artifacts: &[Artifact], entry: &str) -> Option<Launch> {
    let scripts = artifacts.iter().filter(|a| a.kind == ArtifactKind::Unknown && a.path.ends_with(".sh"));
    scripts.take(MOST_SCRIPTS).find_map(|a| {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(&a.path).ok()?.take(SCRIPT_HEAD).read_to_end(&mut bytes).ok()?;
        let (line, args) = command_of(&String::from_utf8_lossy(&bytes), entry)?;
        Some(Launch { script: a.path.clone(), line, args })
    })
}

/// The line and arguments of the first command in `script` that runs
/// `entry` with Python.
fn command_of(script: &str, entry: &str) -> Option<(usize, Vec<String>)> {
    let mut start = 1;
    let mut logical = String::new();
    for (number, line) in script.lines().enumerate() {
        if logical.is_empty() {
            start = number + 1;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                logical.push_str(head);
                logical.push(' ');
                continue;
            }
            None => logical.push_str(line),
        }
        let words = shell_words(&logical);
        logical.clear();
        let at = words.iter().position(|w| w == entry || w.ends_with(&format!("/{entry}")));
        let python = |w: &String| file_name(w).starts_with("python");
        if let Some(at) = at.filter(|&at| words[..at].iter().any(python)) {
            return Some((start, words[at + 1..].to_vec()));
        }
    }
    None
}

/// A command line's words as a POSIX shell splits them: quotes removed,
/// backslash escapes applied, a `#` comment dropped. Expansions are kept as
/// written (`$HOME`).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            ';' | '&' | '|' if word.is_none() => break,
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// The folder of an EchoMimicV3 checkout among the artifacts, and its
/// entry point (the first of `V3_ENTRY_POINTS` it has).
fn v3_checkout(artifacts: &[Artifact]) -> Option<(String, String)> {
    V3_ENTRY_POINTS.iter().find_map(|entry| {
        artifacts.iter().filter(|a| a.kind == ArtifactKind::Unknown && file_name(&a.path) == *entry).find_map(|a| {
            let folder = Path::new(&a.path).parent()?;
            v3_source(folder)?;
            Some((folder.display().to_string(), entry.to_string()))
        })
    })
}

/// The first of EchoMimicV3's own modules in `folder`.
fn v3_source(folder: &Path) -> Option<&'static str> {
    V3_SOURCES.iter().copied().find(|source| folder.join(source).is_file())
}

/// A log line naming one of EchoMimicV3's entry points as a command or a
/// traceback frame (`python infer_flash.py …`, `File "…/infer_flash.py"`),
/// or one of its own modules. `app.py` is EchoMimicV2's name too: it counts
/// only beside EchoMimicV3's checkout.
fn named_in_log(log: &LogText, checkout: Option<&(String, String)>) -> Option<(String, String, Named)> {
    let modules = ["wan_transformer3d_audio", "pipeline_wan_fun_inpaint_audio"];
    for (number, line) in log.head(LOG_HEAD).lines().enumerate() {
        let at = || format!("{}:{}", log.name, number + 1);
        if comfyui_node_v3_path(line) {
            let how = format!("{} names {COMFYUI_ENTRY}'s echomimic_v3/", at());
            return Some((how, COMFYUI_ENTRY.to_string(), Named::Module));
        }
        for entry in V3_ENTRY_POINTS.iter().filter(|e| **e != "app.py" || checkout.is_some()) {
            let command = line.split_whitespace().any(|w| w == *entry || w.ends_with(&format!("/{entry}")));
            let frame = line.trim_start().starts_with("File \"") && line.contains(&format!("{entry}\""));
            if command || frame {
                return Some((format!("{} names {entry}", at()), entry.to_string(), Named::Entry));
            }
        }
        if let Some(module) = modules.iter().find(|m| line.contains(**m)) {
            let entry = checkout.map_or(V3_ENTRY_POINTS[0], |(_, entry)| entry.as_str());
            return Some((format!("{} names EchoMimicV3's {module}", at()), entry.to_string(), Named::Module));
        }
    }
    None
}

/// The ComfyUI node that runs EchoMimicV3 from its `echomimic_v3/` folder
/// when its loader's `version` is V3 or V3_flash.
pub(crate) const COMFYUI_ENTRY: &str = "ComfyUI_EchoMimic";

/// Whether a log line names a file of an EchoMimic node's `echomimic_v3/`
/// folder under ComfyUI's `custom_nodes/` (a warning's or a traceback's).
fn comfyui_node_v3_path(line: &str) -> bool {
    let line = line.replace('\\', "/");
    line.find("custom_nodes/").is_some_and(|at| {
        let rest = &line[at + "custom_nodes/".len()..];
        rest.split_once('/').is_some_and(|(node, path)| {
            super::discover::echomimic_node(node) && path.starts_with("echomimic_v3/")
        })
    })
}

/// EchoMimicV3 run by ComfyUI_EchoMimic, as the workflow that ran says
/// (`Echo_LoadModel.version` V3 or V3_flash). What a log showed of
/// EchoMimicV3 is kept; the entry point is the node. With an mmgp profile
/// and `lowvram` off, the node's own `offload.profile(` call is read: one
/// that passes no `quantizeTransformer` (the node before August 20, 2025)
/// leaves mmgp's default, which quantizes.
pub(crate) fn comfyui_v3(found: Option<Recognised>, artifacts: &[Artifact], node: &super::prompts::NodeV3) -> Recognised {
    let name = artifacts.get(node.artifact).map_or_else(|| "the workflow".to_string(), |a| file_name(&a.path));
    let at = node.line.map_or_else(|| name.clone(), |line| format!("{name}:{line}"));
    let version = node.version.as_str();
    let shown = format!("{at}: Echo_LoadModel.version {version} ({COMFYUI_ENTRY} runs EchoMimicV3)");
    let recognised_by = match found.filter(|f| f.pipeline == Pipeline::EchomimicV3) {
        Some(f) if f.in_comfyui() => format!("{shown}; {}", f.recognised_by),
        _ => shown,
    };
    Recognised {
        pipeline: Pipeline::EchomimicV3,
        recognised_by,
        entry_point: COMFYUI_ENTRY.to_string(),
        launched_by: None,
        checkout: None,
        transformer: comfyui_transformer(artifacts, version),
        either_web_ui: false,
        mmgp_profile: node_loader(artifacts)
            .filter(|_| node.mmgp_lowvram_off && version == "V3")
            .and_then(|infer| read_profile_call(Path::new(infer), flagless_profile_call)),
        comfyui_version: Some(version.to_string()),
    }
}

/// The node's V3 loader source among the artifacts:
/// `custom_nodes/<EchoMimic node>/echomimic_v3/infer.py`.
fn node_loader(artifacts: &[Artifact]) -> Option<&str> {
    artifacts.iter().map(|a| a.path.as_str()).find(|path| {
        let parts = super::prompts::components(path);
        matches!(parts.as_slice(), [.., "custom_nodes", node, "echomimic_v3", "infer.py"] if super::discover::echomimic_node(node))
    })
}

/// EchoMimicV2's checkpoints (its UNets, motion module, pose encoder,
/// Whisper, the base model's folders) in a ComfyUI install whose workflow
/// ran EchoMimicV3: the node's V3 loaders read none of them.
pub(crate) fn echomimic_v2_checkpoints(artifacts: &[Artifact], version: &str) -> Vec<(usize, String)> {
    let why = format!("not loaded: Echo_LoadModel.version {version} runs EchoMimicV3, which loads none of EchoMimicV2's checkpoints");
    artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == ArtifactKind::Weights && a.component.is_some_and(|c| c != Component::Vae))
        .map(|(i, _)| (i, why.clone()))
        .collect()
}

/// Pose folders and files, in an EchoMimicV3 run: it drives the clip from
/// the audio and reads no poses (ComfyUI_EchoMimic's inputs node keeps its
/// `pose_dir` widget for the other versions).
pub(crate) fn pose_folders(artifacts: &[Artifact]) -> Vec<(usize, String)> {
    let why = "not the run's input: EchoMimicV3 drives the clip from the audio and reads no poses";
    artifacts.iter().enumerate().filter(|(_, a)| a.kind == ArtifactKind::Poses).map(|(i, _)| (i, why.to_string())).collect()
}

/// The transformer weights ComfyUI_EchoMimic loads over the Wan2.1 base it
/// builds from `models/echo_mimic/transformer/`: EchoMimicV3's
/// (`models/echo_mimic/diffusion_pytorch_model.safetensors`), or the flash
/// model's in `echomimicv3-flash-pro/`; the base (a `transformer` folder,
/// as [`transformer`] finds it) when neither is here.
fn comfyui_transformer(artifacts: &[Artifact], version: &str) -> Option<String> {
    let own: &[&str] = if version == "V3_flash" {
        &["echo_mimic", "echomimicv3-flash-pro"]
    } else {
        &["models", "echo_mimic", "diffusion_pytorch_model.safetensors"]
    };
    let holds = |a: &&Artifact| super::prompts::components(&a.path).windows(own.len()).any(|w| w == own);
    let found = artifacts.iter().filter(|a| a.kind == ArtifactKind::Weights).find(holds);
    found.map(|a| a.path.clone()).or_else(|| transformer(artifacts))
}

/// EchoMimicV3's script that offloads its pipeline through mmgp, whose
/// profiles quantize the transformer to qint8 as they load it.
pub(crate) const MMGP_ENTRY: &str = "app_mm.py";

/// At most this much of app_mm.py is read.
const SOURCE_HEAD: u64 = 256 << 10;

/// `app_mm.py:LINE` of the script's `offload.profile(` call, when the call
/// leaves mmgp's `quantizeTransformer` on (its default).
fn mmgp_profile(script: &Path) -> Option<String> {
    read_profile_call(script, quantizing_profile_call)
}

/// `FILE:LINE` of the `offload.profile(` call in the source at `path`
/// that `quantizes` picks.
fn read_profile_call(path: &Path, quantizes: fn(&str) -> Option<usize>) -> Option<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path).ok()?.take(SOURCE_HEAD).read_to_end(&mut bytes).ok()?;
    let line = quantizes(&String::from_utf8_lossy(&bytes))?;
    Some(format!("{}:{line}", file_name(&path.display().to_string())))
}

/// The line of the first `offload.profile(` call in `source`, unless the
/// call passes `quantizeTransformer=False`.
fn quantizing_profile_call(source: &str) -> Option<usize> {
    let (line, call) = profile_call(source)?;
    (!call.contains("quantizeTransformer=False")).then_some(line)
}

/// The line of the first `offload.profile(` call in `source` when it
/// passes no `quantizeTransformer` at all: mmgp's default, on.
fn flagless_profile_call(source: &str) -> Option<usize> {
    let (line, call) = profile_call(source)?;
    (!call.contains("quantizeTransformer")).then_some(line)
}

/// The line of the first `offload.profile(` call in `source`, and the
/// call's text without whitespace.
fn profile_call(source: &str) -> Option<(usize, String)> {
    let at = source.find("offload.profile(")?;
    // The call's text: up to the parenthesis that closes it.
    let mut depth = 0usize;
    let call = source[at..]
        .char_indices()
        .find_map(|(i, c)| {
            match c {
                '(' => depth += 1,
                ')' if depth == 1 => return Some(&source[at..at + i]),
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            None
        })
        .unwrap_or(&source[at..]);
    let words: String = call.chars().filter(|c| !c.is_whitespace()).collect();
    Some((source[..at].matches('\n').count() + 1, words))
}

/// Where a log shows mmgp at work (`log:line`): its banner, its
/// quantization of a model, or app_mm.py's own line on the GPU memory it
/// gives mmgp ("自动调整最大显存占用为…MB").
fn mmgp_shown(log: &LogText) -> Option<String> {
    log.head(LOG_HEAD).lines().enumerate().find_map(|(number, line)| {
        let lower = line.to_lowercase();
        let banner = lower.contains("for the gpu poor (mmgp");
        let quantizing = lower.contains("quantization of model '") && lower.contains("' started to format '");
        let budget = line.contains("自动调整最大显存占用为");
        (banner || quantizing || budget).then(|| format!("{}:{}", log.name, number + 1))
    })
}

/// Whether EchoMimicV2's own files are here: its denoising UNet's
/// checkpoint, or its checkout's pipeline.
fn has_echomimic_v2(artifacts: &[Artifact]) -> bool {
    artifacts.iter().any(|a| {
        a.component == Some(super::discover::Component::DenoisingUnet)
            || (matches!(file_name(&a.path).as_str(), "infer.py" | "infer_acc.py")
                && Path::new(&a.path)
                    .parent()
                    .is_some_and(|folder| folder.join("src/pipelines/pipeline_echomimicv2.py").is_file()))
    })
}

/// EchoMimicV3's face masks (`masks/NAME.npy`, which `infer_preview.py`
/// reads beside the reference `NAME`): NumPy arrays, not weights.
pub(crate) fn face_masks(artifacts: &[Artifact]) -> Vec<(usize, String)> {
    let mask = |a: &Artifact| {
        let path = Path::new(&a.path);
        a.kind == ArtifactKind::Weights
            && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
            && path.parent().and_then(Path::file_name).is_some_and(|folder| folder == "masks")
    };
    let why = "EchoMimicV3's face mask for the reference of its name (masks/NAME.npy), not weights: not checked";
    artifacts.iter().enumerate().filter(|(_, a)| mask(a)).map(|(i, _)| (i, why.to_string())).collect()
}

/// EchoMimicV3's transformer among the weights: a file or folder in (or
/// named) `transformer`, outside the base model's `Wan2.1-…` folder, whose
/// own transformer it replaces.
fn transformer(artifacts: &[Artifact]) -> Option<String> {
    let found = artifacts.iter().find(|a| {
        let parts = super::prompts::components(&a.path);
        a.kind == ArtifactKind::Weights && wan_folder(&a.path).is_none() && parts.contains(&"transformer")
    });
    found.map(|a| a.path.clone())
}

/// The `Wan2.1-…` folder a weights file or folder lies in (or is).
fn wan_folder(path: &str) -> Option<String> {
    Path::new(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .find(|c| c.starts_with("Wan2.1-") || c.starts_with("Wan2.2-"))
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> LogText {
        LogText::of_text(0, "nohup.out", text)
    }

    #[test]
    fn a_log_names_echomimicv3_by_its_entry_point_or_its_modules() {
        let command = log("$ python infer_flash.py --image_path a.jpg\nProcessing: a.jpg\n");
        let found = recognise(&[], &[command]).unwrap();
        assert_eq!(found.pipeline, Pipeline::EchomimicV3);
        assert_eq!(found.recognised_by, "nohup.out:1 names infer_flash.py");
        assert_eq!(found.entry_point, "infer_flash.py");
        let frame = log("Traceback (most recent call last):\n  File \"/srv/echomimic_v3/infer_preview.py\", line 12, in <module>\n");
        assert_eq!(recognise(&[], &[frame]).unwrap().entry_point, "infer_preview.py");
        let module = log("  File \"/srv/v3/src/wan_transformer3d_audio.py\", line 800, in forward\n");
        assert_eq!(recognise(&[], &[module]).unwrap().recognised_by, "nohup.out:1 names EchoMimicV3's wan_transformer3d_audio");
        // EchoMimicV2's own logs say nothing of it.
        let v2 = log("python infer.py --config ./configs/prompts/infer.yaml\n  File \"app.py\", line 3\n");
        assert_eq!(recognise(&[], &[v2]), None);
    }

    #[test]
    fn comfyui_echomimic_s_v3_mode_is_the_node_s_run() {
        // A warning from the node's echomimic_v3/ folder, on Linux and Windows.
        let cast = log("2025-09-02T18:55:02.198574 - /srv/ComfyUI/custom_nodes/ComfyUI_EchoMimic/echomimic_v3/src/utils.py:62: \
                        RuntimeWarning: invalid value encountered in cast\n");
        let found = recognise(&[], &[cast]).unwrap();
        assert_eq!(found.entry_point, COMFYUI_ENTRY);
        assert_eq!(found.recognised_by, "nohup.out:1 names ComfyUI_EchoMimic's echomimic_v3/");
        assert!(found.in_comfyui());
        let windows = log("  File \"E:\\ComfyUI\\custom_nodes\\comfyui_echomimic\\echomimic_v3\\infer.py\", line 249\n");
        assert_eq!(recognise(&[], &[windows]).unwrap().entry_point, COMFYUI_ENTRY);
        // Its EchoMimicV2 mode, and other nodes, are not.
        assert!(!comfyui_node_v3_path("/srv/ComfyUI/custom_nodes/ComfyUI_EchoMimic/echomimic_v2/src/utils/util.py:98"));
        assert!(!comfyui_node_v3_path("/srv/ComfyUI/custom_nodes/ComfyUI-WanVideo/echomimic_v3/x.py"));
        assert!(!comfyui_node_v3_path("/srv/echomimic_v3/src/utils.py:62"));
        // mmgp's lines in the node's log do not make it app_mm.py's run.
        let both = log("/srv/ComfyUI/custom_nodes/ComfyUI_EchoMimic/echomimic_v3/infer.py:1: a warning\n\
                        Quantization of model 'transformer' started to format 'qint8'\n");
        assert_eq!(recognise(&[], &[both]).unwrap().entry_point, COMFYUI_ENTRY);

        // The workflow decides, and names what the node loads.
        let weights = |path: &str, component| {
            let mut a = Artifact::new(Path::new(path), ArtifactKind::Weights, "content: test");
            a.component = component;
            a
        };
        let artifacts = [
            weights("ComfyUI/models/echo_mimic/transformer", None),
            weights("ComfyUI/models/echo_mimic/diffusion_pytorch_model.safetensors", None),
            weights("ComfyUI/models/echo_mimic/echomimicv3-flash-pro/diffusion_pytorch_model.safetensors", None),
            weights("ComfyUI/models/echo_mimic/v2/denoising_unet.pth", Some(Component::DenoisingUnet)),
            weights("ComfyUI/models/vae/Wan2.1_VAE.pth", Some(Component::Vae)),
            Artifact::new(Path::new("ComfyUI/user/default/workflows/echomimic_v3.json"), ArtifactKind::Config, "t"),
        ];
        let node = |version: &str| super::super::prompts::NodeV3 {
            artifact: 5,
            version: version.into(),
            line: Some(143),
            mmgp_lowvram_off: false,
        };
        let v3 = comfyui_v3(None, &artifacts, &node("V3"));
        assert_eq!(v3.recognised_by, "echomimic_v3.json:143: Echo_LoadModel.version V3 (ComfyUI_EchoMimic runs EchoMimicV3)");
        assert_eq!(v3.transformer.as_deref(), Some("ComfyUI/models/echo_mimic/diffusion_pytorch_model.safetensors"));
        assert_eq!(v3.loader_source(), "custom_nodes/ComfyUI_EchoMimic/echomimic_v3/infer.py (load_v3_model)");
        let flash = comfyui_v3(None, &artifacts, &node("V3_flash"));
        assert_eq!(
            flash.transformer.as_deref(),
            Some("ComfyUI/models/echo_mimic/echomimicv3-flash-pro/diffusion_pytorch_model.safetensors")
        );
        assert!(flash.loader_source().ends_with("infer_flash_pro.py (load_v3_flash)"));
        let base_only = comfyui_v3(None, &artifacts[..1], &node("V3"));
        assert_eq!(base_only.transformer.as_deref(), Some("ComfyUI/models/echo_mimic/transformer"));
        let unread = echomimic_v2_checkpoints(&artifacts, "V3");
        assert_eq!(unread.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3]);
        // What a log showed of the node is kept; an app_mm.py run is not the node's.
        let shown = recognise(&[], &[log("/x/custom_nodes/ComfyUI_EchoMimic/echomimic_v3/infer.py:3: w\n")]);
        let kept = comfyui_v3(shown, &artifacts, &node("V3"));
        assert!(kept.recognised_by.ends_with("; nohup.out:1 names ComfyUI_EchoMimic's echomimic_v3/"), "{}", kept.recognised_by);
        // A node that passes mmgp no quantizeTransformer leaves mmgp's default, on.
        assert_eq!(flagless_profile_call("offload.profile(pipeline, profile_type.LowRAM_LowVRAM)\n"), Some(1));
        let passed = "x = 1\noffload.profile(pipeline, p,\n    quantizeTransformer=config.quantize_transformer)\n";
        assert_eq!(flagless_profile_call(passed), None);
        assert_eq!(quantizing_profile_call(passed), Some(2));
        let app_mm = recognise(&[], &[log("$ python app_mm.py\n")]);
        assert!(comfyui_v3(app_mm, &artifacts, &node("V3")).recognised_by.ends_with("(ComfyUI_EchoMimic runs EchoMimicV3)"));
    }

    #[test]
    fn weights_under_wan_s_base_model_show_echomimicv3_unless_echomimicv2_s_are_there() {
        let weights = Artifact::new(
            Path::new("run/flash/Wan2.1-Fun-V1.1-1.3B-InP"),
            ArtifactKind::Weights,
            "content: diffusers model folder",
        );
        let found = recognise(std::slice::from_ref(&weights), &[]).unwrap();
        assert_eq!(found.recognised_by, "weights under Wan2.1-Fun-V1.1-1.3B-InP, EchoMimicV3's base model");
        assert_eq!(found.entry_point, "infer_flash.py");
        let mut unet = Artifact::new(Path::new("run/pretrained_weights/denoising_unet.pth"), ArtifactKind::Weights, "");
        unet.component = Some(super::super::discover::Component::DenoisingUnet);
        assert_eq!(recognise(&[weights, unet], &[]), None);
    }

    #[test]
    fn the_web_ui_s_clips_are_named_by_their_time() {
        assert!(web_ui_wrote("run/outputs/20250807_101530.mp4"));
        assert!(web_ui_wrote("run/outputs/20250807_101530_audio.mp4"));
        assert!(!web_ui_wrote("run/outputs/01_output.mp4"));
        assert!(!web_ui_wrote("run/outputs/20250807_101530_gs6.0/01_audio.mp4"));
        assert!(!web_ui_wrote("run/outputs/20251120_100215_sig.mp4"));
        assert!(!web_ui_wrote("run/out/20250807_101530.mp4"));
        assert!(!web_ui_wrote("20250807_101530.mp4"));
    }

    #[test]
    fn a_web_ui_clip_makes_the_web_ui_the_entry_point_and_its_pictures_are_no_input() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in ["infer_flash.py", "app.py", "src/wan_transformer3d_audio.py"] {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::write(root.join(file), "import torch\n").unwrap();
        }
        let at = |name: &str, kind| Artifact::new(&root.join(name), kind, "");
        let mut artifacts = vec![
            at("infer_flash.py", ArtifactKind::Unknown),
            at("app.py", ArtifactKind::Unknown),
            at("asset/logo.png", ArtifactKind::Image),
            at("datasets/echomimicv3_demos/imgs/01.jpg", ArtifactKind::Image),
        ];
        let found = recognise(&artifacts, &[]).unwrap();
        assert_eq!(found.entry_point, "infer_flash.py");
        let checkout = found.checkout.unwrap();
        let pictures: Vec<usize> = readme_pictures(&artifacts, &checkout).into_iter().map(|(i, _)| i).collect();
        assert_eq!(pictures, [2]);
        artifacts.push(at("outputs/20250807_101530_audio.mp4", ArtifactKind::Video));
        let found = recognise(&artifacts, &[]).unwrap();
        assert_eq!(found.entry_point, "app.py");
        assert!(found.recognised_by.ends_with("; 20250807_101530_audio.mp4 is its web UI's clip"), "{}", found.recognised_by);
        // A log that names what ran decides.
        let named = recognise(&artifacts, &[log("python infer_flash.py --image_path a.jpg\n")]).unwrap();
        assert_eq!(named.entry_point, "infer_flash.py");
    }

    #[test]
    fn mmgp_s_lines_make_app_mm_py_the_entry_point() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in ["infer_flash.py", "app.py", "app_mm.py", "src/wan_transformer3d_audio.py"] {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::write(root.join(file), "import torch\n").unwrap();
        }
        let at = |name: &str, kind| Artifact::new(&root.join(name), kind, "");
        let artifacts = [
            at("infer_flash.py", ArtifactKind::Unknown),
            at("app.py", ArtifactKind::Unknown),
            at("app_mm.py", ArtifactKind::Unknown),
            at("outputs/20250807_101530_audio.mp4", ArtifactKind::Video),
        ];
        let console = "\x1b[1m\x1b[95m************ Memory Management for the GPU Poor (mmgp 3.5.6) by DeepBeepMeep                        ************\x1b[0m\x1b[0m\nQuantization of model 'transformer' started to format 'qint8'\n";
        let found = recognise(&artifacts, &[log(console)]).unwrap();
        assert_eq!(found.entry_point, "app_mm.py");
        assert!(found.recognised_by.ends_with("; nohup.out:1 shows mmgp, which of its scripts only app_mm.py runs"));
        // Without mmgp's lines the clip is the web UI's, app.py first.
        assert_eq!(recognise(&artifacts, &[log("* Running on local URL:  http://0.0.0.0:7891\n")]).unwrap().entry_point, "app.py");
        let budget = log("自动调整最大显存占用为72335MB\n");
        assert_eq!(recognise(&artifacts, &[budget]).unwrap().entry_point, "app_mm.py");
        // A log that names the script decides; mmgp alone shows no EchoMimicV3.
        let named = log("python infer_flash.py\nQuantization of model 'transformer' started to format 'qint8'\n");
        assert_eq!(recognise(&artifacts, &[named]).unwrap().entry_point, "infer_flash.py");
        assert_eq!(recognise(&[], &[log(console)]), None);
        // A checkout without app_mm.py did not run it.
        std::fs::remove_file(root.join("app_mm.py")).unwrap();
        assert_eq!(recognise(&artifacts[..2], &[log(console)]).unwrap().entry_point, "infer_flash.py");
    }

    #[test]
    fn app_mm_py_s_call_to_mmgp_says_whether_it_quantizes_the_transformer() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("app_mm.py");
        let call = |arguments: &str| {
            let source = format!(
                "from mmgp import offload, profile_type\n\nbudgets = 1000\noffload.profile(\n    pipeline,\n{arguments})\n"
            );
            std::fs::write(&script, source).unwrap();
            mmgp_profile(&script)
        };
        assert_eq!(call("    profile_type.LowRAM_HighVRAM,\n    budgets={'*': budgets},\n"), Some("app_mm.py:4".into()));
        assert_eq!(call("    profile_type.LowRAM_HighVRAM, quantizeTransformer = False\n"), None);
        // A later keyword of another call is not this call's.
        assert_eq!(call("    compile=bool(f(1)),\n)\nother(quantizeTransformer=False"), Some("app_mm.py:4".into()));
        std::fs::write(&script, "import torch\n").unwrap();
        assert_eq!(mmgp_profile(&script), None);
        assert_eq!(mmgp_profile(&dir.path().join("missing.py")), None);
        // Beside the web UI's clip with both UIs there, which ran is not known.
        for file in ["app.py", "src/wan_transformer3d_audio.py"] {
            std::fs::create_dir_all(dir.path().join(file).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(file), "import torch\n").unwrap();
        }
        call("    profile_type.LowRAM_HighVRAM,\n");
        let at = |name: &str, kind| Artifact::new(&dir.path().join(name), kind, "");
        let mut artifacts = vec![
            at("app.py", ArtifactKind::Unknown),
            at("app_mm.py", ArtifactKind::Unknown),
            at("outputs/20250807_101530.mp4", ArtifactKind::Video),
        ];
        let found = recognise(&artifacts, &[]).unwrap();
        assert_eq!((found.entry_point.as_str(), found.either_web_ui), ("app.py", true));
        assert_eq!(found.mmgp_profile.as_deref(), Some("app_mm.py:4"));
        artifacts.remove(0);
        std::fs::remove_file(dir.path().join("app.py")).unwrap();
        let found = recognise(&artifacts, &[]).unwrap();
        assert_eq!((found.entry_point.as_str(), found.either_web_ui), ("app_mm.py", false));
    }

    #[test]
    fn infer_preview_s_clips_are_named_by_their_test() {
        let folder = "run/outputs/20250807_101530_gs4.5_ags2.5";
        assert_eq!(preview_test(&format!("{folder}/guitar_man_01.mp4")), Some("guitar_man_01"));
        assert_eq!(preview_test(&format!("{folder}/2025-07-14-1036_audio.mp4")), Some("2025-07-14-1036"));
        assert_eq!(preview_test("run/outputs/20250807_101530/01.mp4"), None);
        assert_eq!(preview_test("run/outputs/2025080a_101530_gs4.5_ags2.5/01.mp4"), None);
        assert_eq!(preview_test(&format!("{folder}/_audio.mp4")), None);
        assert_eq!(preview_test("é"), None);
        assert_eq!(preview_test("run/outputs/2025080é_101530_gs/01.mp4"), None);
    }

    #[test]
    fn face_masks_are_not_weights() {
        let npy = |path: &str| Artifact::new(Path::new(path), ArtifactKind::Weights, "content: npy checkpoint");
        let artifacts = [
            npy("run/datasets/echomimicv3_demos/masks/01.npy"),
            npy("run/datasets/echomimicv3_demos/masks/02.NPY"),
            npy("run/weights/masks.npy"),
            npy("run/masks/model.safetensors"),
        ];
        let masks: Vec<usize> = face_masks(&artifacts).into_iter().map(|(i, _)| i).collect();
        assert_eq!(masks, [0, 1]);
    }

    #[test]
    fn a_checkout_shows_echomimicv3_by_its_own_modules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("infer_preview.py"), "import torch\n").unwrap();
        let script = Artifact::new(&dir.path().join("infer_preview.py"), ArtifactKind::Unknown, "content: Python source");
        // An entry point of that name alone is anyone's.
        assert_eq!(recognise(std::slice::from_ref(&script), &[]), None);
        std::fs::write(dir.path().join("src/pipeline_wan_fun_inpaint_audio.py"), "import torch\n").unwrap();
        let found = recognise(&[script], &[]).unwrap();
        assert_eq!(
            found.recognised_by,
            "EchoMimicV3's checkout: infer_preview.py beside src/pipeline_wan_fun_inpaint_audio.py"
        );
        // Its app.py is named in a log only beside the checkout.
        let app = log("python app.py --server_port 7891\n");
        assert_eq!(recognise(&[], std::slice::from_ref(&app)), None);
    }

    #[test]
    fn the_shell_script_that_starts_the_entry_point_gives_its_arguments() {
        let script = "#!/bin/bash\n# python infer_flash.py --old\nexport CUDA_VISIBLE_DEVICES=0\n\
            python infer_flash.py \\\n    --image_path \"datasets/my imgs/01.jpg\" \\\n    --prompt 'A man is speaking.' \\\n\
            \x20   --weight_dtype \"float16\" --sample_size 768 768 # as shipped\n";
        let (line, args) = command_of(script, "infer_flash.py").unwrap();
        assert_eq!(line, 4);
        assert_eq!(
            args,
            ["--image_path", "datasets/my imgs/01.jpg", "--prompt", "A man is speaking.", "--weight_dtype", "float16", "--sample_size", "768", "768"]
        );
        let launch = Launch { script: "run/run_flash.sh".into(), line, args };
        assert_eq!(launch.at(), "run_flash.sh:4");
        assert_eq!(launch.value("--weight_dtype"), Some("float16"));
        assert_eq!(launch.value("--sample_size"), Some("768"));
        assert_eq!(launch.value("--seed"), None);
        let equals = Launch { script: String::new(), line: 1, args: vec!["--weight_dtype=bfloat16".into()] };
        assert_eq!(equals.value("--weight_dtype"), Some("bfloat16"));
        // Named, not started by Python.
        assert_eq!(command_of("cat infer_flash.py\necho done\n", "infer_flash.py"), None);
        assert_eq!(command_of("/opt/venv/bin/python3 ./infer_flash.py --a 1 && echo ok\n", "infer_flash.py").unwrap().1, ["--a", "1"]);
    }

    proptest::proptest! {
        #[test]
        fn any_script_is_split_without_a_panic(script in "(python |infer_flash\\.py|[-a-z '\"\\\\#;\n])*") {
            if let Some((line, _)) = command_of(&script, "infer_flash.py") {
                proptest::prop_assert!(line >= 1 && line <= script.lines().count().max(1));
            }
        }

        #[test]
        fn any_source_is_read_for_mmgp_s_call_without_a_panic(
            source in "(offload\\.profile\\(|quantizeTransformer|=|False|[()\n ,]|é|x){0,40}",
        ) {
            for line in [quantizing_profile_call(&source), flagless_profile_call(&source)].into_iter().flatten() {
                proptest::prop_assert!(line >= 1 && line <= source.matches('\n').count() + 1);
            }
        }

        #[test]
        fn any_log_is_read_without_a_panic(text in "(File \"|python |[a-z_./ ]|infer_flash\\.py|\n|é){0,40}") {
            let found = recognise(&[], &[log(&text)]);
            if let Some(found) = found {
                let entry = found.entry_point.as_str();
                proptest::prop_assert!(V3_ENTRY_POINTS.contains(&entry) || entry == COMFYUI_ENTRY);
            }
        }
    }
}
