//! Which of the folder's files the run read: its prompt config, its
//! workflow, and its inputs among the demo assets, uploads and earlier
//! runs' files beside them.
//!
//! A checkout ships several prompt configs: `infer.yaml` and
//! `infer_acc.yaml`, which `infer.py` and `infer_acc.py` read by default,
//! and a training leftover (`animation.yaml`) that no entry point reads. Its
//! demo assets hold 30 reference images, 7 audio files and 8 pose folders,
//! of which a run reads one each; a ComfyUI install keeps every upload. The
//! workflow, the lines an entry point prints and the path it writes its clip
//! to say which. What the run did not read is listed but not judged, so the
//! verdict is not argued from a file nobody loaded.

use std::io::Read;
use std::path::Path;

use super::discover::{Artifact, ArtifactKind, Component};
use super::loads::Ui;
use super::script::Script;

/// The most of each log read as text (a notebook's console is read whole).
const LOG_HEAD: u64 = 16 << 20;

/// A prompt config of the folder: its artifact, and whether every weight
/// file it names exists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prompt<'a> {
    pub artifact: usize,
    pub resolved: bool,
    /// The config's `motion_module_path` value.
    pub motion_module: Option<&'a str>,
}

/// The prompt configs the run did not read, each with the reason, decided
/// by the strongest evidence there is: configs given with `--config`; else
/// none that a ComfyUI node ships (its nodes read their weights from
/// `ComfyUI/models/`, whatever the configs they carry say); among the rest,
/// configs a log names (`--config=./configs/prompts/infer_acc.yaml`,
/// `loading config …`); else the configs an output folder names (see
/// `output_names`); else none, when a web UI ran (`ui`), which reads none;
/// else, when one resolves every weight file, the others no entry point
/// reads; else, when an entry point's config (`infer*.yaml`) is there, the
/// others.
pub(crate) fn not_read(
    artifacts: &[Artifact],
    prompts: &[Prompt],
    ui: Option<&UiRun>,
    script: Option<&Script>,
    logs: &[LogText],
) -> Vec<(usize, String)> {
    let given: Vec<usize> =
        prompts.iter().map(|p| p.artifact).filter(|&i| artifacts[i].recognised_by == "--config").collect();
    if !given.is_empty() {
        return prompts
            .iter()
            .filter(|p| !given.contains(&p.artifact))
            .map(|p| (p.artifact, "not the run's config: --config names another".to_string()))
            .collect();
    }
    let (shipped, rest): (Vec<Prompt>, Vec<Prompt>) =
        prompts.iter().copied().partition(|p| inside_custom_node(&artifacts[p.artifact].path));
    let mut unread: Vec<(usize, String)> = shipped
        .iter()
        .map(|p| {
            let why = "not the run's config: a ComfyUI node ships it, and ComfyUI's EchoMimic nodes load \
                       their weights from ComfyUI/models, not from a prompt config";
            (p.artifact, why.to_string())
        })
        .collect();
    unread.extend(not_read_among(artifacts, &rest, ui, script, logs));
    unread
}

/// Workflows a ComfyUI node ships as examples (`custom_nodes/NODE/doc/…`,
/// `example_workflows/…`): the run's own is the one the UI saved under
/// `user/`, or the one an error report attaches.
pub(crate) fn example_workflows(artifacts: &[Artifact], workflows: &[usize]) -> Vec<(usize, String)> {
    let why = "not the run's workflow: a ComfyUI node ships it as an example";
    workflows.iter().filter(|&&i| inside_custom_node(&artifacts[i].path)).map(|&i| (i, why.to_string())).collect()
}

/// What a ComfyUI node ships beside its code: demo images, audio and clips,
/// pickled pose files, logos. ComfyUI loads a run's images and audio from
/// `input/`, writes its clips to `output/` and loads weights from `models/`,
/// so none of these is the run's; a checkpoint recognised as one of
/// EchoMimicV2's components is still checked.
pub(crate) fn node_assets(artifacts: &[Artifact]) -> Vec<(usize, String)> {
    let why = "not the run's: a ComfyUI node ships it, and ComfyUI reads a run's inputs from input/ and its \
               weights from models/";
    artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| inside_custom_node(&a.path))
        .filter(|(_, a)| match a.kind {
            ArtifactKind::Image | ArtifactKind::Audio | ArtifactKind::Video | ArtifactKind::VideoTensor => true,
            ArtifactKind::Weights => a.component.is_none(),
            _ => false,
        })
        .map(|(i, _)| (i, why.to_string()))
        .collect()
}

/// Saved workflows, once an error report or an image ComfyUI saved holds
/// the workflow that ran: a saved one may be older, or never queued.
pub(crate) fn saved_workflows_not_run(
    artifacts: &[Artifact],
    workflows: &[usize],
    ran: &[usize],
    unused: &[(usize, String)],
) -> Vec<(usize, String)> {
    let Some(&first) = ran.first() else { return Vec::new() };
    let why = format!("not the run's workflow: {} holds the one that ran", artifacts[first].path);
    workflows
        .iter()
        .filter(|&&i| !ran.contains(&i) && !unused.iter().any(|(u, _)| *u == i))
        .map(|&i| (i, why.clone()))
        .collect()
}

/// A file or folder the run read, as a workflow or a log says: the image
/// and audio `LoadImage` and `LoadAudio` load from ComfyUI's `input/`, the
/// pose folder the EchoMimic nodes read (`pose_folder`), and the inputs
/// EchoMimicV2's entry points print (`Pose: …`, `Reference: …`, `Audio: …`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Loaded {
    kind: ArtifactKind,
    /// For a workflow, where it lies below the ComfyUI folder, `/` between
    /// folders: `input/…`, `output/…` or `custom_nodes/PACK/…`, where any
    /// node folder stands for PACK; a last component `*` stands for any
    /// name. For a log, the path as printed; for a clip's path, the path
    /// of the artifact it names.
    place: String,
    /// How many of the last names of `place` were picked from a collection
    /// (`natural_bk_openhand/0035.png` from `…/refimag`): what lies in the
    /// rest of it is what this evidence can say was not read.
    named: usize,
    source: Source,
    /// Which generation of its source: a log numbers them by their `Pose:`
    /// lines, so a pose folder and the audio printed after it go together.
    case: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    Workflow,
    /// A log, by its file name.
    Log(String),
    /// The path of a clip an entry point wrote, by the clip's file name.
    Written(String),
    /// A prompt config's `test_cases`, which `infer_acc.py` runs in turn, by
    /// the config's file name.
    Cases(String),
}

/// The variables EchoMimicV2's demo notebook sets its inputs in, and the
/// line its generation cell prints each under.
const NOTEBOOK_INPUTS: [(&str, &str); 3] = [("pose_path", "Pose: "), ("refimg_path", "Reference: "), ("audio_path", "Audio: ")];

/// What a log shows besides the inputs it names.
#[derive(Debug, Default, Clone)]
pub(crate) struct LogShows {
    /// ComfyUI ran an EchoMimic node.
    pub comfyui: bool,
    /// The log is a notebook whose cells ran.
    pub notebook: Option<NotebookRun>,
}

/// How a notebook ran the generation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NotebookRun {
    /// In its own cells (EchoMimicV2's `demo.ipynb`).
    Cells,
    /// A cell ran an entry point from the shell: the script and its
    /// arguments (`infer.py --config …` of `!python infer.py --config …`).
    Script(String),
}

/// A log's text, read once for all that reads it: a notebook's console,
/// any other log's first 16 MiB.
#[derive(Debug, Clone)]
pub(crate) struct LogText {
    pub artifact: usize,
    /// Its file name.
    pub name: String,
    pub text: String,
    /// A notebook's: how it ran the generation, and the inputs its cells
    /// set, as lines like those its generation cell prints.
    notebook: Option<(NotebookRun, String)>,
}

impl LogText {
    /// The text of each log among `artifacts`.
    pub(crate) fn read_all(artifacts: &[Artifact]) -> Vec<LogText> {
        let logs = artifacts.iter().enumerate().filter(|(_, a)| a.kind == ArtifactKind::Log);
        logs.filter_map(|(i, a)| LogText::read(i, Path::new(&a.path))).collect()
    }

    fn read(artifact: usize, path: &Path) -> Option<LogText> {
        let name = file_name(&path.to_string_lossy());
        if let Ok(console) = crate::log::notebook::read(path) {
            let mut set = String::new();
            for (variable, label) in NOTEBOOK_INPUTS {
                if let Some(a) = console.assignments.iter().rev().find(|a| a.name == variable) {
                    set.push_str(&format!("{label}{}\n", a.value));
                }
            }
            let run = console.script().map_or(NotebookRun::Cells, NotebookRun::Script);
            return Some(LogText { artifact, name, text: console.text, notebook: Some((run, set)) });
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path).ok()?.take(LOG_HEAD).read_to_end(&mut bytes).ok()?;
        Some(LogText { artifact, name, text: String::from_utf8_lossy(&bytes).into_owned(), notebook: None })
    }

    /// A log of the given text, as `read` makes it of a file.
    #[cfg(test)]
    pub(crate) fn of_text(artifact: usize, name: &str, text: &str) -> LogText {
        LogText { artifact, name: name.into(), text: text.into(), notebook: None }
    }

    /// Its first `bytes` bytes (fewer, to end on a character).
    pub(crate) fn head(&self, bytes: usize) -> &str {
        let mut end = bytes.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        &self.text[..end]
    }
}

/// The lines EchoMimicV2's entry points (`infer*.py`, `app*.py`) and
/// EchoMimicV2-ComfyUI's node print for the inputs of a generation.
const PRINTED_INPUTS: [(&str, ArtifactKind); 3] =
    [("Pose: ", ArtifactKind::Poses), ("Reference: ", ArtifactKind::Image), ("Audio: ", ArtifactKind::Audio)];

/// EchoMimicV3's entry points (`infer_flash.py`, `infer_preview.py`) print
/// `Processing: IMAGE` before `Audio: AUDIO`; the label is common, so only a
/// path with an image's extension counts.
const PROCESSING: &str = "Processing: ";

/// Whether a printed value ends in one of `extensions`.
fn has_extension(value: &str, extensions: &[&str]) -> bool {
    let extension = value.rsplit_once('.').filter(|(stem, _)| !stem.is_empty()).map(|(_, e)| e.to_ascii_lowercase());
    extension.is_some_and(|e| extensions.contains(&e.as_str()))
}

impl Loaded {
    /// What it is: an image, an audio file, a pose folder.
    pub(crate) fn kind(&self) -> ArtifactKind {
        self.kind
    }

    /// What a workflow's settings say its run read.
    pub(crate) fn of(settings: &[crate::config::Setting]) -> Vec<Loaded> {
        settings
            .iter()
            .filter_map(|s| {
                // The UI marks where an annotated name lives: `name.png [input]`.
                let name = s.value.trim().trim_end_matches(" [input]").replace('\\', "/");
                let (kind, place) = match s.key.as_str() {
                    "LoadImage.image" => (ArtifactKind::Image, format!("input/{name}")),
                    "LoadAudio.audio" => (ArtifactKind::Audio, format!("input/{name}")),
                    crate::config::POSE_FOLDER => (ArtifactKind::Poses, name.clone()),
                    _ => return None,
                };
                (!name.is_empty()).then_some(Loaded { kind, place, named: 0, source: Source::Workflow, case: 0 })
            })
            .collect()
    }

    /// The inputs a prompt config's `test_cases` name, as its settings list
    /// them (`test_cases[N].reference`, `.audio`, `.poses`), case by case.
    fn cases(settings: &[crate::config::Setting], config: &str) -> Vec<Loaded> {
        let mut cases = Vec::new();
        for s in settings {
            let Some((number, input)) = s.key.strip_prefix("test_cases[").and_then(|k| k.split_once("].")) else {
                continue;
            };
            let Ok(case) = number.parse::<usize>() else { continue };
            let kind = match input {
                "reference" => ArtifactKind::Image,
                "audio" => ArtifactKind::Audio,
                "poses" => ArtifactKind::Poses,
                _ => continue,
            };
            if s.value == "-" {
                continue;
            }
            let place = s.value.replace('\\', "/");
            // As printed: the collection is the folder above the pose folder,
            // or above the image's or the audio's own folder.
            let named = if kind != ArtifactKind::Poses && components(&place).len() >= 3 { 2 } else { 1 };
            cases.push(Loaded { kind, place, named, source: Source::Cases(config.to_string()), case });
        }
        cases
    }

    /// The inputs a log's lines print, each once for each generation.
    pub(crate) fn printed(text: &str, log: &str) -> Vec<Loaded> {
        let mut printed: Vec<Loaded> = Vec::new();
        let mut case = 0;
        for line in text.lines() {
            let unglued = crate::log::timestamp::unglue(line);
            let line = crate::log::timestamp::strip(unglued.as_deref().unwrap_or(line));
            let line = line.trim_start_matches([' ', '-']);
            let named_within = uploads_named(line);
            let at_start =
                PRINTED_INPUTS.iter().filter_map(|&(label, kind)| Some((line.strip_prefix(label)?.trim(), kind)));
            let processing = line
                .strip_prefix(PROCESSING)
                .map(str::trim)
                .filter(|path| has_extension(path, &IMAGE_EXTENSIONS))
                .map(|path| (path, ArtifactKind::Image));
            for (path, kind) in at_start.chain(processing).chain(named_within) {
                if path.is_empty() {
                    continue;
                }
                let place = path.replace('\\', "/");
                let names = components(&place).len();
                // A pose folder is one name; an image or audio file may sit in
                // a folder of the collection (`natural_bk_openhand/0035.png`).
                let named = if kind != ArtifactKind::Poses && names >= 3 { 2 } else { 1 };
                // Each generation prints its pose folder first.
                if kind == ArtifactKind::Poses {
                    case += 1;
                }
                if !printed.iter().any(|l| l.kind == kind && l.place == place && l.case == case) {
                    printed.push(Loaded { kind, place, named, source: Source::Log(log.to_string()), case });
                }
            }
        }
        printed
    }

    /// The inputs `infer.py` put in the path of a clip it wrote, as the
    /// artifacts they name: `{ref folder}.{ref file}/{pose}/{ref stem}-a-{audio}-i{N}_sig.mp4`
    /// (or `_woa_sig.mp4`), where the audio is its name below the audio
    /// folder (`chinese/echomimicv2_woman.wav`, which makes a folder of the
    /// path) or, in earlier versions, its stem.
    fn written(clip: &str, artifacts: &[Artifact]) -> Vec<Loaded> {
        let parts = components(clip);
        let Some(clip_name) = parts.last() else { return Vec::new() };
        if let Some(test) = super::pipeline::preview_test(clip) {
            return Loaded::written_by_preview(clip_name, test, artifacts);
        }
        // The component that starts `{ref stem}-a-`, after the reference and pose folders.
        let found = (2..parts.len()).rev().find_map(|k| {
            let (stem, _) = parts[k].split_once("-a-")?;
            let (folder, file) = parts[k - 2].split_once('.')?;
            (Path::new(file).file_stem()?.to_str()? == stem && !folder.is_empty()).then_some((k, folder, file))
        });
        let Some((k, folder, file)) = found else { return Vec::new() };
        let tail = parts[k..].join("/");
        let Some(rest) = tail.strip_suffix("_sig.mp4") else { return Vec::new() };
        let rest = rest.strip_suffix("_woa").unwrap_or(rest);
        let Some((named, index)) = rest.rsplit_once("-i") else { return Vec::new() };
        let Some((_, audio)) = named.split_once("-a-") else { return Vec::new() };
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) || audio.is_empty() {
            return Vec::new();
        }
        let source = || Source::Written(clip_name.to_string());
        let mut written = Vec::new();
        let mut add = |kind: ArtifactKind, names: &[&str], by_stem: bool| {
            for a in artifacts.iter().filter(|a| a.kind == kind) {
                let path = components(&a.path);
                let is = if by_stem {
                    Path::new(&a.path).file_stem().and_then(|s| s.to_str()) == names.first().copied()
                } else {
                    path.ends_with(names)
                };
                if is {
                    let named = names.len();
                    written.push(Loaded { kind, place: a.path.clone(), named, source: source(), case: 0 });
                }
            }
        };
        add(ArtifactKind::Image, &[folder, file], false);
        add(ArtifactKind::Poses, &[parts[k - 1]], false);
        let audio_names: Vec<&str> = audio.split('/').collect();
        let by_stem = !audio.contains('.');
        add(ArtifactKind::Audio, &audio_names, by_stem);
        written
    }

    /// The inputs of the test EchoMimicV3's `infer_preview.py` wrote a clip
    /// for: `imgs/{test}.png` (or `.jpeg`, `.jpg`) and `audios/{test}.WAV`
    /// (or `.wav`) of its dataset folder.
    fn written_by_preview(clip_name: &str, test: &str, artifacts: &[Artifact]) -> Vec<Loaded> {
        let images = ["png", "jpeg", "jpg"].map(|e| format!("{test}.{e}"));
        let audio = ["WAV", "wav"].map(|e| format!("{test}.{e}"));
        let input = |a: &Artifact| {
            let path = components(&a.path);
            let [.., folder, name] = path.as_slice() else { return false };
            match a.kind {
                ArtifactKind::Image => *folder == "imgs" && images.iter().any(|i| i == name),
                ArtifactKind::Audio => *folder == "audios" && audio.iter().any(|i| i == name),
                _ => false,
            }
        };
        artifacts
            .iter()
            .filter(|a| input(a))
            .map(|a| Loaded {
                kind: a.kind,
                place: a.path.clone(),
                named: 2,
                source: Source::Written(clip_name.to_string()),
                case: 0,
            })
            .collect()
    }

    /// The test case `infer_acc.py` ran to write a clip, as the path names
    /// it: `{ref stem}/{ref stem}-a-{audio stem}-i{N}_sig.mp4` (or
    /// `_woa_sig.mp4`), matched against the stems of each case's reference
    /// image and audio file; its inputs, the pose folder included.
    fn written_by_case(clip: &str, cases: &[&Loaded]) -> Vec<Loaded> {
        let parts = components(clip);
        let [.., folder, clip_name] = parts.as_slice() else { return Vec::new() };
        let Some(rest) = clip_name.strip_suffix("_sig.mp4") else { return Vec::new() };
        let rest = rest.strip_suffix("_woa").unwrap_or(rest);
        let Some((named, index)) = rest.rsplit_once("-i") else { return Vec::new() };
        let Some((reference, audio)) = named.split_once("-a-") else { return Vec::new() };
        if reference != *folder || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            return Vec::new();
        }
        let stem = |l: &Loaded| Path::new(l.place.trim_end_matches('/')).file_stem().and_then(|s| s.to_str()).map(str::to_owned);
        let is_case = |case: usize, kind: ArtifactKind, want: &str| {
            cases.iter().any(|l| l.case == case && l.kind == kind && stem(l).as_deref() == Some(want))
        };
        let mut written: Vec<Loaded> = Vec::new();
        for l in cases {
            let ran = is_case(l.case, ArtifactKind::Image, reference) && is_case(l.case, ArtifactKind::Audio, audio);
            if ran && !written.iter().any(|w| w.kind == l.kind && w.place == l.place) {
                let Source::Cases(config) = &l.source else { continue };
                let source = Source::Written(format!("{clip_name} (test case {} of {config})", l.case));
                written.push(Loaded { source, ..(*l).clone() });
            }
        }
        written
    }

    /// Whether `path` is this file or folder. A printed path is relative to
    /// where the entry point ran, or absolute on the machine that ran it: it
    /// ends the artifact's path, or shares its last three names with it.
    pub(crate) fn is(&self, path: &str) -> bool {
        let parts = components(path);
        if let Source::Log(_) | Source::Written(_) | Source::Cases(_) = self.source {
            // Gradio keeps an upload under its own name: a file of that name here is the one uploaded.
            if gradio_upload(&self.place) {
                return parts.last() == components(&self.place).last();
            }
            let printed = components(&self.place);
            let shared = shared_tail(path, &self.place);
            let relative = !self.place.starts_with('/') && !self.place.contains(":/");
            return shared > 0 && (shared == printed.len() && relative || shared >= 3 || shared == parts.len());
        }
        let place: Vec<&str> = self.place.split('/').collect();
        let node_folder = place.first() == Some(&"custom_nodes");
        let last = place.len() - 1;
        let from = |at: usize| {
            let rest = &parts[at..];
            rest.len() == place.len()
                && rest.iter().zip(&place).enumerate().all(|(k, (part, want))| {
                    part == want || (k == last && *want == "*") || (k == 1 && node_folder)
                })
        };
        (0..parts.len()).any(from)
    }

    /// Whether the artifact at `path` is one this evidence can say was not
    /// read. A workflow: any pose folder, and the uploads under `input/`. A
    /// log: what lies in the collection the printed path was picked from
    /// (`./assets/halfbody_demo/pose` for the pose folder `…/pose/01`,
    /// `./assets/halfbody_demo/refimag` for `…/refimag/natural_bk_openhand/0035.png`).
    fn judges(&self, path: &str) -> bool {
        match &self.source {
            Source::Workflow => self.kind == ArtifactKind::Poses || under_input(path),
            // Nothing here is the upload but a file of its name.
            Source::Log(_) if gradio_upload(&self.place) => true,
            Source::Log(_) | Source::Written(_) | Source::Cases(_) => {
                let printed = components(&self.place);
                let keep = printed.len().saturating_sub(self.named);
                let collection = &printed[..keep];
                !collection.is_empty() && components(path).windows(keep).any(|w| w == collection)
            }
        }
    }

    /// How a reason names it: an upload by its name in `input/`.
    fn shown(&self) -> String {
        let shown = self.shown_path();
        if gradio_upload(shown) { format!("{shown} (an upload Gradio keeps outside this folder)") } else { shown.to_string() }
    }

    fn shown_path(&self) -> &str {
        match (&self.source, self.kind) {
            (Source::Workflow, ArtifactKind::Image | ArtifactKind::Audio) => {
                self.place.strip_prefix("input/").unwrap_or(&self.place)
            }
            _ => &self.place,
        }
    }

    /// Who says it, and the verb: "the workflow loads", "server.log names".
    fn said(&self) -> String {
        match (&self.source, self.kind) {
            (Source::Workflow, ArtifactKind::Poses) => "the workflow reads".into(),
            (Source::Workflow, _) => "the workflow loads".into(),
            (Source::Log(log), _) => format!("{log} names"),
            (Source::Written(clip), _) => format!("the path of {clip} names"),
            (Source::Cases(config), _) => format!("the test_cases of {config} name"),
        }
    }
}

/// File name extensions of the reference images and audio files an entry
/// point reads.
pub(crate) const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "webp", "bmp"];
pub(crate) const AUDIO_EXTENSIONS: [&str; 5] = ["wav", "mp3", "m4a", "flac", "ogg"];

/// The uploads a server's request line names by their file names, within
/// the line: `Processing - Image: 0014.png, Audio: echomimicv2_woman.wav`.
/// A name counts only as one file name with an image's or an audio file's
/// extension (`Audio: 6.21s (149 frames)` is no upload).
fn uploads_named(line: &str) -> Vec<(&str, ArtifactKind)> {
    const LABELS: [(&str, ArtifactKind); 3] =
        [("Image: ", ArtifactKind::Image), ("Reference: ", ArtifactKind::Image), ("Audio: ", ArtifactKind::Audio)];
    let mut named = Vec::new();
    for (label, kind) in LABELS {
        for (at, _) in line.match_indices(label) {
            if !(line[..at].ends_with(", ") || line[..at].ends_with(" - ")) {
                continue;
            }
            let value = line[at + label.len()..].split(',').next().unwrap_or("").trim();
            let extensions = if kind == ArtifactKind::Image { &IMAGE_EXTENSIONS } else { &AUDIO_EXTENSIONS };
            let one_name = !value.contains(char::is_whitespace) && !value.contains(['/', '\\']);
            if one_name && has_extension(value, extensions) {
                named.push((value, kind));
            }
        }
    }
    named
}

/// Whether a log shows ComfyUI running an EchoMimic node: its queue's lines
/// (`got prompt`, `Prompt executed in …`, `!!! Exception during processing`)
/// and a path into an EchoMimic node's folder (`…\\custom_nodes\\ComfyUI_EchoMimic\\…`:
/// a warning or a traceback of its code).
fn comfyui_ran_echomimic(text: &str) -> bool {
    let queued = ["got prompt", "Prompt executed in ", "!!! Exception during processing"].iter().any(|l| text.contains(l));
    queued
        && text.match_indices("custom_nodes").any(|(at, name)| {
            let node = text[at + name.len()..].trim_start_matches(['/', '\\']);
            let node: String = node.chars().take_while(|c| !matches!(c, '/' | '\\' | ' ' | '\n')).collect();
            super::discover::echomimic_node(&node)
        })
}

/// Whether a printed path is a web UI's upload, which Gradio copies to
/// `{temp}/gradio/{hash}/{name}` (`/tmp/gradio/…`, `…\\Temp\\gradio\\…`).
fn gradio_upload(place: &str) -> bool {
    let absolute = place.starts_with('/') || place.get(1..3) == Some(":/");
    let parts = components(place);
    absolute && parts.len() >= 3 && parts[..parts.len() - 2].iter().any(|p| p.eq_ignore_ascii_case("gradio"))
}

/// How many last names two paths share.
pub(crate) fn shared_tail(a: &str, b: &str) -> usize {
    let (a, b) = (components(a), components(b));
    a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count()
}

/// A path's names, without empty ones and `.`.
pub(crate) fn components(path: &str) -> Vec<&str> {
    path.split(['/', '\\']).filter(|p| !p.is_empty() && *p != ".").collect()
}

/// What the folder's configs, workflows, logs and clips say their run
/// read, each with the artifact that says it.
#[derive(Debug, Default)]
pub(crate) struct Stated {
    loaded: Vec<(usize, Loaded)>,
    fps: Vec<(usize, f64)>,
    poses_repeat: Vec<usize>,
    weights: Vec<(usize, Vec<(Component, String)>)>,
    /// Clips whose path may name a test case.
    clips: Vec<(usize, String)>,
    /// The prompt configs.
    prompts: Vec<usize>,
    /// Logs and clips that show one of EchoMimicV2's web UIs ran, each
    /// with what shows it.
    uis: Vec<(Ui, String)>,
    /// Workflows that run EchoMimicV3 through ComfyUI_EchoMimic.
    echomimic_v3: Vec<NodeV3>,
}

/// A workflow that runs EchoMimicV3 through ComfyUI_EchoMimic's loader.
#[derive(Debug, Clone)]
pub(crate) struct NodeV3 {
    pub artifact: usize,
    /// The loader's `version` (`V3`, `V3_flash`) and the line that states it.
    pub version: String,
    pub line: Option<u64>,
    /// An mmgp profile with `lowvram` off: the node's versions since
    /// August 20, 2025 keep the transformer unquantized, older ones do not.
    pub mmgp_lowvram_off: bool,
}

/// One of EchoMimicV2's web UIs ran, as a log or a clip shows.
#[derive(Debug, Clone)]
pub(crate) struct UiRun {
    pub ui: Ui,
    /// What shows it: "app.log prints `using motion module acc`".
    pub shown: String,
}

/// What the run read, as the artifacts it did not leave unused say.
#[derive(Debug)]
pub(crate) struct RunRead {
    pub loaded: Vec<Loaded>,
    /// The frame rate the first of them states.
    pub fps: Option<f64>,
    /// One of them repeats the poses to the audio's length.
    pub poses_repeat: bool,
    /// The checkpoints the first of them loads, by their place below the
    /// ComfyUI folder.
    pub weights: Vec<(Component, String)>,
    /// The first of them that runs EchoMimicV3 through ComfyUI_EchoMimic.
    pub echomimic_v3: Option<NodeV3>,
}

impl RunRead {
    /// The audio file printed (or named by a clip's path) in the same
    /// generation as a pose folder, when one file is; none when `--audio`
    /// or a workflow names the run's audio, which then goes for every folder.
    pub(crate) fn audio_of<'a>(&self, poses: &Artifact, files: &[&'a Artifact]) -> Option<&'a Artifact> {
        let workflow = |f: &&&Artifact| {
            self.loaded.iter().any(|l| l.source == Source::Workflow && l.kind == ArtifactKind::Audio && l.is(&f.path))
        };
        if files.iter().any(|f| f.recognised_by == "--audio") || files.iter().any(|f| workflow(&f)) {
            return None;
        }
        let mut found: Vec<&'a Artifact> = Vec::new();
        let of_poses = self.loaded.iter().filter(|l| l.kind == ArtifactKind::Poses && l.source != Source::Workflow);
        for l in of_poses.filter(|l| l.is(&poses.path)) {
            let heard = self.loaded.iter().filter(|a| a.kind == ArtifactKind::Audio && a.source == l.source && a.case == l.case);
            for audio in heard {
                for file in files.iter().filter(|f| audio.is(&f.path)) {
                    if !found.iter().any(|f| f.path == file.path) {
                        found.push(file);
                    }
                }
            }
        }
        match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Whether the evidence names a pose folder the run read.
    pub(crate) fn names_poses(&self) -> bool {
        self.loaded.iter().any(|l| l.kind == ArtifactKind::Poses)
    }

    /// The audio file the poses are held against, among the run's: the one
    /// `--audio` names, else the one its workflow loads, else the one its
    /// log prints, else the one a clip's path names, else its only one. (A
    /// node may save a copy of what it loads; a log of several requests
    /// prints several.)
    pub(crate) fn audio<'a>(&self, files: &[&'a Artifact]) -> Option<&'a Artifact> {
        let one = |found: Vec<&'a Artifact>| match found.as_slice() {
            [one] => Some(Some(*one)),
            [] => None,
            _ => Some(None),
        };
        let given = files.iter().copied().filter(|a| a.recognised_by == "--audio").collect();
        let by = |source: fn(&Source) -> bool| {
            let said = |l: &&Loaded| source(&l.source) && l.kind == ArtifactKind::Audio;
            files.iter().copied().filter(|a| self.loaded.iter().filter(said).any(|l| l.is(&a.path))).collect()
        };
        // The first evidence that names any audio decides, naming one or too many.
        one(given)
            .or_else(|| one(by(|s| *s == Source::Workflow)))
            .or_else(|| one(by(|s| matches!(s, Source::Log(_)))))
            .or_else(|| one(by(|s| matches!(s, Source::Written(_)))))
            .or_else(|| one(by(|s| matches!(s, Source::Cases(_)))))
            .unwrap_or_else(|| one(files.to_vec()).flatten())
    }
}

impl Stated {
    pub(crate) fn record(&mut self, artifact: usize, settings: &[crate::config::Setting]) {
        self.loaded.extend(Loaded::of(settings).into_iter().map(|l| (artifact, l)));
        // A default is no evidence: a workflow beside the config may state another rate.
        let stated = settings.iter().find(|s| s.key == "fps" && !s.is_default());
        let fps = stated.and_then(|s| s.value.trim().parse::<f64>().ok());
        if let Some(fps) = fps.filter(|f| f.is_finite() && *f > 0.0) {
            self.fps.push((artifact, fps));
        }
        if settings.iter().any(|s| s.key == crate::config::POSES_REPEAT && s.value == "true") {
            self.poses_repeat.push(artifact);
        }
        let weights = super::loads::workflow_loads(settings);
        if !weights.is_empty() {
            self.weights.push((artifact, weights));
        }
        if let Some(v3) = settings.iter().find(|s| s.key == crate::config::ECHOMIMIC_V3) {
            let value = |key: &str| settings.iter().find(|s| s.key == key).map(|s| s.value.as_str());
            let profile = value("Echo_LoadModel.use_mmgp").is_some_and(|p| p != "None");
            self.echomimic_v3.push(NodeV3 {
                artifact,
                version: v3.value.clone(),
                line: v3.line,
                mmgp_lowvram_off: profile && value("Echo_LoadModel.lowvram") == Some("false"),
            });
        }
    }

    /// The inputs a prompt config's `test_cases` name.
    pub(crate) fn record_cases(&mut self, artifact: usize, config: &str, settings: &[crate::config::Setting]) {
        self.prompts.push(artifact);
        self.loaded.extend(Loaded::cases(settings, config).into_iter().map(|l| (artifact, l)));
    }

    /// The inputs the path of a clip names: those of the folders `infer.py`
    /// writes to, or (once the run's config is known) of the test case
    /// `infer_acc.py` ran.
    pub(crate) fn record_clip(&mut self, artifact: usize, artifacts: &[Artifact]) {
        let clip = &artifacts[artifact].path;
        if Ui::wrote(clip) {
            let name = components(clip).iter().rev().take(2).rev().copied().collect::<Vec<_>>().join("/");
            self.uis.push((Ui::Either, format!("they write {name}")));
        }
        let written = Loaded::written(clip, artifacts);
        if written.is_empty() {
            self.clips.push((artifact, clip.clone()));
        }
        self.loaded.extend(written.into_iter().map(|l| (artifact, l)));
    }

    /// The inputs a log prints (a notebook's cells print or set), and the
    /// web UI it shows running.
    pub(crate) fn record_log(&mut self, log: &LogText) -> LogShows {
        let (notebook, text): (_, std::borrow::Cow<str>) = match &log.notebook {
            // What its cells set comes before what they print, as one generation.
            Some((run, set)) => (Some(run.clone()), format!("{set}{}", log.text).into()),
            None => (None, log.text.as_str().into()),
        };
        if let Some((ui, line)) = Ui::of_log(&text) {
            self.uis.push((ui, format!("{} prints `{line}`", log.name)));
        }
        self.loaded.extend(Loaded::printed(&text, &log.name).into_iter().map(|l| (log.artifact, l)));
        LogShows { comfyui: comfyui_ran_echomimic(&text), notebook }
    }

    /// The web UI the logs and clips show running: the one the logs name,
    /// else either (a clip's name does not say which); none when nothing
    /// shows one.
    pub(crate) fn ui(&self) -> Option<UiRun> {
        let named: Vec<&(Ui, String)> = self.uis.iter().filter(|(ui, _)| *ui != Ui::Either).collect();
        let (first, shown) = named.first().copied().or(self.uis.first())?;
        let ui = if named.iter().all(|(ui, _)| ui == first) { *first } else { Ui::Either };
        Some(UiRun { ui, shown: shown.clone() })
    }

    /// What the artifacts not found unused say. A config's test cases are
    /// what `infer_acc.py` would read, and count only where nothing says
    /// what the run did read (a log prints each generation as it starts, and
    /// a run that stopped prints no more; a clip's path names what `infer.py`
    /// or `infer_acc.py` read), and only when every config the run may have
    /// read lists some: `infer.py` reads its inputs from its arguments.
    pub(crate) fn of_used(self, unused: &[(usize, String)]) -> RunRead {
        let used = |i: &usize| !unused.iter().any(|(u, _)| u == i);
        // `infer.py` may have run with a config that lists no test cases.
        let has_cases = |c: &usize| self.loaded.iter().any(|(i, l)| i == c && matches!(l.source, Source::Cases(_)));
        let cases_bound = self.prompts.iter().filter(|c| used(c)).all(has_cases);
        let mut loaded: Vec<Loaded> = self.loaded.into_iter().filter(|(i, _)| used(i)).map(|(_, l)| l).collect();
        let cases: Vec<&Loaded> = loaded.iter().filter(|l| matches!(l.source, Source::Cases(_))).collect();
        let written: Vec<Loaded> =
            self.clips.iter().filter(|(i, _)| used(i)).flat_map(|(_, clip)| Loaded::written_by_case(clip, &cases)).collect();
        loaded.extend(written);
        if !cases_bound || loaded.iter().any(|l| matches!(l.source, Source::Log(_) | Source::Written(_))) {
            loaded.retain(|l| !matches!(l.source, Source::Cases(_)));
        }
        RunRead {
            loaded,
            fps: self.fps.into_iter().find(|(i, _)| used(i)).map(|(_, f)| f),
            poses_repeat: self.poses_repeat.iter().any(used),
            weights: self.weights.into_iter().find(|(i, _)| used(i)).map(|(_, w)| w).unwrap_or_default(),
            echomimic_v3: self.echomimic_v3.into_iter().find(|n| used(&n.artifact)),
        }
    }
}

/// What the run did not read, once its workflows or its log say what it
/// did: uploads under ComfyUI's `input/` (the folder keeps every upload)
/// that no `LoadImage` or `LoadAudio` loads, pose folders other than the
/// one its EchoMimic node reads, and the demo inputs beside the ones an
/// entry point printed (and, once those are all found, any other of their
/// kind). What no evidence judges is left alone, and so is what a flag
/// names.
pub(crate) fn not_loaded(artifacts: &[Artifact], loaded: &[Loaded]) -> Vec<(usize, String)> {
    // An entry point reads one reference image, one audio file and one pose
    // folder per generation: once each of a kind that a log (or a clip's
    // path) names is found, nothing else of that kind was read, wherever it
    // lies.
    let found = |l: &Loaded| artifacts.iter().any(|a| a.kind == l.kind && l.is(&a.path));
    let all_found = |judge: &Loaded| {
        judge.source != Source::Workflow
            && loaded.iter().filter(|l| l.kind == judge.kind && l.source == judge.source).all(found)
    };
    let mut unread = Vec::new();
    for (i, a) in artifacts.iter().enumerate().filter(|(_, a)| !a.recognised_by.starts_with("--")) {
        let of_kind: Vec<&Loaded> = loaded.iter().filter(|l| l.kind == a.kind).collect();
        let judge = of_kind.iter().find(|l| l.judges(&a.path)).or_else(|| of_kind.iter().find(|l| all_found(l)));
        let Some(judge) = judge else { continue };
        if of_kind.iter().any(|l| l.is(&a.path)) {
            continue;
        }
        let mut names: Vec<String> = Vec::new();
        for l in of_kind.iter().filter(|l| l.source == judge.source) {
            if !names.contains(&l.shown()) {
                names.push(l.shown());
            }
        }
        let what = if a.kind == ArtifactKind::Poses { "poses" } else { "input" };
        let names = crate::report::list_some(&names, 3);
        unread.push((i, format!("not the run's {what}: {} {names}", judge.said())));
    }
    unread
}

/// Whether a path lies below an `input` folder.
pub(crate) fn under_input(path: &str) -> bool {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    parts.iter().rposition(|p| *p == "input").is_some_and(|at| at + 1 < parts.len())
}

/// Whether `path` lies inside a ComfyUI custom node's folder
/// (`ComfyUI/custom_nodes/ComfyUI_EchoMimic/echomimic_v2/configs/…`).
fn inside_custom_node(path: &str) -> bool {
    let mut parts = path.split(['/', '\\']);
    parts.any(|part| part == "custom_nodes") && parts.next().is_some_and(|node| !node.is_empty())
}

/// `not_read` among configs that no flag names and no ComfyUI node ships.
fn not_read_among(
    artifacts: &[Artifact],
    prompts: &[Prompt],
    ui: Option<&UiRun>,
    script: Option<&Script>,
    logs: &[LogText],
) -> Vec<(usize, String)> {
    if prompts.len() < 2 && ui.is_none() {
        return Vec::new();
    }
    let all: Vec<usize> = prompts.iter().map(|p| p.artifact).collect();
    let others = |read: &[usize], why: &str| -> Vec<(usize, String)> {
        all.iter().filter(|i| !read.contains(i)).map(|&i| (i, why.to_string())).collect()
    };
    // Every log and every output counts: a folder may hold runs of both entry points.
    let mut by_logs = Named::default();
    for log in logs {
        let text = &log.text;
        let named = |p: &&Prompt| {
            names(text, &file_name(&artifacts[p.artifact].path)) || prints_output_folder(text, p.motion_module)
        };
        by_logs.add(&artifacts[log.artifact].path, prompts.iter().filter(named).map(|p| p.artifact));
    }
    if let Some(read) = by_logs.subset_of(&all) {
        let why = format!("not the run's config: {} names {}", by_logs.sources(), by_logs.listed(artifacts));
        return others(read, &why);
    }
    if let Some(script) = script {
        let mut by_script = Named::default();
        let path = artifacts[script.artifact].path.as_str();
        by_script.add(path, prompts.iter().map(|p| p.artifact).filter(|&i| script.names_config(&artifacts[i].path)));
        if let Some(read) = by_script.subset_of(&all) {
            let why = format!(
                "not the run's config: {}, the entry point that ran ({}), loads {}",
                script.name,
                script.shown,
                by_script.listed(artifacts)
            );
            return others(read, &why);
        }
    }
    let mut by_outputs = Named::default();
    for video in artifacts.iter().filter(|a| a.kind == ArtifactKind::Video) {
        let wrote = |p: &&Prompt| output_names(&video.path, &file_name(&artifacts[p.artifact].path), p.motion_module);
        by_outputs.add(&video.path, prompts.iter().filter(wrote).map(|p| p.artifact));
    }
    if let Some(read) = by_outputs.subset_of(&all) {
        let why = format!(
            "not the run's config: the entry point that wrote {} reads {}",
            by_outputs.sources(),
            by_outputs.listed(artifacts)
        );
        return others(read, &why);
    }
    if let Some(run) = ui.filter(|_| by_logs.configs.is_empty() && by_outputs.configs.is_empty()) {
        let why = format!(
            "not the run's config: EchoMimicV2's web UI ran ({}: {}), which reads no config and loads its \
             checkpoints from fixed paths below ./pretrained_weights/",
            run.ui.script(),
            run.shown
        );
        return others(&[], &why);
    }
    if prompts.len() < 2 {
        return Vec::new();
    }
    let entry_point = |i: &usize| file_name(&artifacts[*i].path).to_ascii_lowercase().starts_with("infer");
    if prompts.iter().any(|p| p.resolved) {
        let read: Vec<usize> =
            prompts.iter().filter(|p| p.resolved || entry_point(&p.artifact)).map(|p| p.artifact).collect();
        return others(&read, "not the run's config: another prompt config resolves every weight file");
    }
    let read: Vec<usize> = all.iter().copied().filter(entry_point).collect();
    if read.is_empty() {
        return Vec::new();
    }
    others(&read, "not the run's config: no entry point reads it (infer.py and infer_acc.py read infer*.yaml)")
}

/// The configs some files name, and the files that name one.
#[derive(Default)]
struct Named<'a> {
    configs: Vec<usize>,
    sources: Vec<&'a str>,
}

impl<'a> Named<'a> {
    fn add(&mut self, source: &'a str, configs: impl Iterator<Item = usize>) {
        let before = self.configs.len();
        for config in configs {
            if !self.configs.contains(&config) {
                self.configs.push(config);
            }
        }
        if self.configs.len() > before {
            self.sources.push(source);
        }
    }

    /// The configs named, when they are some of `all` but not every one.
    fn subset_of(&self, all: &[usize]) -> Option<&[usize]> {
        (!self.configs.is_empty() && self.configs.len() < all.len()).then_some(self.configs.as_slice())
    }

    fn sources(&self) -> String {
        crate::report::list_some(&self.sources, 3)
    }

    fn listed(&self, artifacts: &[Artifact]) -> String {
        self.configs.iter().map(|&i| file_name(&artifacts[i].path)).collect::<Vec<_>>().join(", ")
    }
}

/// Whether the folder an entry point wrote `video` into names the config:
/// `infer.py` writes to `outputs/{folder}-iter{name}-seed{seed}/`, where
/// `folder` and `name` come from the config's `motion_module_path` (its
/// parent folder, and its file name after the last `-` without `.pth`);
/// `infer_acc.py` writes to `output/{date}/{time}--step_{steps}-{W}x{H}--cfg_{cfg}/`
/// and reads `infer_acc.yaml` unless told otherwise.
fn output_names(video: &str, config: &str, motion_module: Option<&str>) -> bool {
    let folders: Vec<&str> = video.split(['/', '\\']).collect();
    let by_infer = infer_folder(motion_module).is_some_and(|flag| {
        folders.windows(2).any(|w| {
            w[0] == "outputs" && w[1].strip_prefix(flag.as_str()).is_some_and(|seed| seed.parse::<u64>().is_ok())
        })
    });
    let by_infer_acc = config == "infer_acc.yaml"
        && folders.windows(3).any(|w| w[0] == "output" && w[2].contains("--step_") && w[2].contains("--cfg_"));
    by_infer || by_infer_acc
}

/// The start of the folder name `infer.py` writes into for a config whose
/// `motion_module_path` is `motion_module`: `{folder}-iter{name}-seed`.
fn infer_folder(motion_module: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = motion_module?.split('/').collect();
    let parent = parts.len().checked_sub(2).map(|i| parts[i])?;
    let last = parts.last()?.rsplit('-').next()?;
    let name = last.get(..last.len().checked_sub(4)?)?;
    Some(format!("{parent}-iter{name}-seed"))
}

/// Whether a log holds `infer.py`'s first line, the folder it writes into
/// (`outputs/pretrained_weights-itermotion_module-seed3407`, with a
/// backslash on Windows), for this config's motion module.
fn prints_output_folder(text: &str, motion_module: Option<&str>) -> bool {
    infer_folder(motion_module).is_some_and(|flag| {
        let printed = [format!("outputs/{flag}"), format!("outputs\\{flag}")];
        printed.iter().flat_map(|printed| text.match_indices(printed.as_str())).any(|(at, printed)| {
            let seed: String = text[at + printed.len()..].chars().take_while(char::is_ascii_digit).collect();
            let before = text[..at].chars().next_back();
            !seed.is_empty() && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

pub(crate) fn file_name(path: &str) -> String {
    Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Whether `text` names the file `name` as a word of a path: `infer.yaml`
/// in `./configs/prompts/infer.yaml`, not in `my_infer.yaml`.
fn names(text: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let part_of_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        // A full stop ends a sentence; `.bak` goes on the name.
        let mut after = text[at + name.len()..].chars();
        let continues = match after.next() {
            Some('.') => after.next().is_some_and(char::is_alphanumeric),
            next => next.is_some_and(part_of_name),
        };
        !before.is_some_and(part_of_name) && !continues
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &str, by: &str) -> Artifact {
        Artifact::new(Path::new(path), ArtifactKind::Config, by)
    }

    fn prompts(resolved: &[bool]) -> Vec<Prompt<'static>> {
        resolved.iter().enumerate().map(|(artifact, &resolved)| Prompt { artifact, resolved, motion_module: None }).collect()
    }

    #[test]
    fn uploads_the_workflow_does_not_load_are_not_the_run_s() {
        let setting = |key: &str, value: &str| crate::config::Setting::new(key, value.into(), String::new(), None);
        let loaded = Loaded::of(&[
            setting("LoadImage.image", "people\\0035.png [input]"),
            setting("EchoMimicV2Node.steps", "30"),
        ]);
        let image =
            Loaded { kind: ArtifactKind::Image, place: "input/people/0035.png".into(), named: 0, source: Source::Workflow, case: 0 };
        assert_eq!(loaded, [image]);
        let artifacts = [
            Artifact::new(Path::new("ComfyUI/input/people/0035.png"), ArtifactKind::Image, ""),
            Artifact::new(Path::new("ComfyUI/input/old.png"), ArtifactKind::Image, ""),
            Artifact::new(Path::new("ComfyUI/output/EchoMimicV2/tmp1.png"), ArtifactKind::Image, ""),
            // No workflow loads audio: the audio files are left alone.
            Artifact::new(Path::new("ComfyUI/input/take.wav"), ArtifactKind::Audio, ""),
        ];
        let unread = not_loaded(&artifacts, &loaded);
        assert_eq!(unread.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1]);
        assert!(unread[0].1.ends_with("the workflow loads people/0035.png"));
        assert!(not_loaded(&artifacts, &[]).is_empty());
        assert!(!under_input("input") && under_input("/srv/ComfyUI/input/a.png"));
    }

    #[test]
    fn pose_folders_other_than_the_one_the_workflow_reads_are_not_the_run_s() {
        let setting = |value: &str| crate::config::Setting::new("pose_folder", value.into(), String::new(), None);
        let poses = |path: &str| Artifact::new(Path::new(path), ArtifactKind::Poses, "");
        let artifacts = [
            poses("/srv/ComfyUI/custom_nodes/echomimicv2-comfyui/echomimicv2/pose/01"),
            poses("/srv/ComfyUI/output/EchoMimicV2/DWPose/pose/dance/"),
            poses("/srv/ComfyUI/input/tensorrt_lite/audio_1734375300"),
            Artifact::new(Path::new("/tmp/mine"), ArtifactKind::Poses, "--poses"),
        ];
        let unread = |value: &str| -> Vec<usize> {
            not_loaded(&artifacts, &Loaded::of(&[setting(value)])).into_iter().map(|(i, _)| i).collect()
        };
        // A node's folder is found under whatever name it was cloned as.
        assert_eq!(unread("custom_nodes/EchoMimicV2-ComfyUI/echomimicv2/pose/01"), [1, 2]);
        assert_eq!(unread("output/EchoMimicV2/DWPose/pose/dance"), [0, 2]);
        assert_eq!(unread("input/tensorrt_lite/*"), [0, 1]);
        assert_eq!(unread("input/tensorrt_lite/walk"), [0, 1, 2]);
        let why = &not_loaded(&artifacts, &Loaded::of(&[setting("input/tensorrt_lite/*")]))[0].1;
        assert_eq!(why, "not the run's poses: the workflow reads input/tensorrt_lite/*");
    }

    #[test]
    fn the_inputs_an_entry_point_printed_are_the_run_s() {
        let log = "2025-11-20 10:02:15,002 INFO POST /generate-video job 7f3c\n\
            Pose: ./assets/halfbody_demo/pose/01\n\
            Reference: ./assets/halfbody_demo/refimag/natural_bk_openhand/0014.png\n\
            Audio: ./assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav\n\
            Pose: ./assets/halfbody_demo/pose/01\n\
            2024-12-16T18:55:49.195834 - Pose: /srv/ComfyUI/custom_nodes/EchoMimicV2-ComfyUI/echomimicv2/pose/01\n";
        let loaded = Loaded::printed(log, "server.log");
        // Three generations, the first with all three inputs.
        assert_eq!(loaded.iter().map(|l| l.case).collect::<Vec<_>>(), [1, 1, 1, 2, 3], "{loaded:?}");
        let of = |kind, path: &str| Artifact::new(Path::new(path), kind, "");
        let demo = "run/assets/halfbody_demo";
        let artifacts = [
            of(ArtifactKind::Poses, &format!("{demo}/pose/01")),
            of(ArtifactKind::Poses, &format!("{demo}/pose/02")),
            of(ArtifactKind::Image, &format!("{demo}/refimag/natural_bk_openhand/0014.png")),
            of(ArtifactKind::Image, &format!("{demo}/refimag/natural_bk_openhand/0035.png")),
            of(ArtifactKind::Image, &format!("{demo}/refimag/other/0001.png")),
            // Outside the collections the printed paths were picked from:
            // the printed image is found, so this one was not read either.
            of(ArtifactKind::Image, "run/outputs/frame.png"),
            of(ArtifactKind::Audio, &format!("{demo}/audio/chinese/echomimicv2_woman.wav")),
            of(ArtifactKind::Audio, &format!("{demo}/audio/english/echomimicv2_man.wav")),
            // The same name printed on another machine.
            of(ArtifactKind::Poses, "/tmp/x/ComfyUI/custom_nodes/EchoMimicV2-ComfyUI/echomimicv2/pose/01"),
        ];
        let unread = not_loaded(&artifacts, &loaded);
        assert_eq!(unread.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 3, 4, 5, 7], "{unread:?}");
        assert_eq!(
            unread[2].1,
            "not the run's input: server.log names ./assets/halfbody_demo/refimag/natural_bk_openhand/0014.png"
        );
        let read = Stated { loaded: loaded.into_iter().map(|l| (0, l)).collect(), ..Stated::default() }.of_used(&[]);
        let audio: Vec<&Artifact> = artifacts[6..8].iter().collect();
        assert_eq!(read.audio(&audio).map(|a| a.path.as_str()), Some(artifacts[6].path.as_str()));
        assert_eq!(read.audio_of(&artifacts[0], &audio).map(|a| a.path.as_str()), Some(artifacts[6].path.as_str()));
        // A bare name says nothing of where the others were picked from.
        let bare = Loaded::printed("Audio: speech.wav\n", "run.log");
        assert!(not_loaded(&artifacts, &bare).is_empty());
    }

    #[test]
    fn echomimicv3_prints_its_reference_as_the_image_it_processes() {
        let log = "Processing: datasets/echomimicv3_demos/imgs/01.jpg\n\
            Audio: datasets/echomimicv3_demos/audios/01.WAV\n\
            Prompt: A woman is speaking.\n\
            Processing: request 7f3c\n\
            Processing: 3 files\n";
        let loaded = Loaded::printed(log, "nohup.out");
        let printed: Vec<(ArtifactKind, &str)> = loaded.iter().map(|l| (l.kind, l.place.as_str())).collect();
        assert_eq!(
            printed,
            [
                (ArtifactKind::Image, "datasets/echomimicv3_demos/imgs/01.jpg"),
                (ArtifactKind::Audio, "datasets/echomimicv3_demos/audios/01.WAV"),
            ]
        );
        let of = |kind, path: &str| Artifact::new(Path::new(path), kind, "");
        let demo = "run/datasets/echomimicv3_demos";
        let artifacts = [
            of(ArtifactKind::Image, &format!("{demo}/imgs/01.jpg")),
            of(ArtifactKind::Image, &format!("{demo}/imgs/02.jpg")),
            // The checkout keeps some reference images among the audio.
            of(ArtifactKind::Image, &format!("{demo}/audios/guitar_man_01.png")),
            of(ArtifactKind::Image, "run/asset/echomimicv3.jpg"),
            of(ArtifactKind::Audio, &format!("{demo}/audios/01.WAV")),
            of(ArtifactKind::Audio, &format!("{demo}/audios/02.WAV")),
        ];
        let unread: Vec<usize> = not_loaded(&artifacts, &loaded).into_iter().map(|(i, _)| i).collect();
        assert_eq!(unread, [1, 2, 3, 5]);
    }

    /// What `config check` lists for a config's test cases.
    fn case_settings(cases: &[[&str; 3]]) -> Vec<crate::config::Setting> {
        let mut settings = Vec::new();
        for (n, inputs) in cases.iter().enumerate() {
            for (key, value) in ["reference", "audio", "poses"].iter().zip(inputs) {
                let key = format!("test_cases[{}].{key}", n + 1);
                settings.push(crate::config::Setting::new(&key, value.to_string(), "found".into(), Some(1)));
            }
        }
        settings
    }

    #[test]
    fn the_test_cases_name_the_inputs_and_the_clip_its_case() {
        let demo = "./assets/halfbody_demo";
        let settings = case_settings(&[
            [&format!("{demo}/refimag/natural_bk_openhand/0014.png"), &format!("{demo}/audio/chinese/echomimicv2_woman.wav"), &format!("{demo}/pose/01/")],
            [&format!("{demo}/refimag/natural_bk_openhand/0082.png"), &format!("{demo}/audio/chinese/good.wav"), &format!("{demo}/pose/good/")],
            // A first case with no audio: infer_acc.py stops there, and lists it as "-".
            ["./other.png", "-", "./poses/"],
        ]);
        let cases = Loaded::cases(&settings, "infer_acc.yaml");
        assert_eq!(cases.len(), 8, "{cases:?}");
        let of = |kind, path: &str| Artifact::new(Path::new(path), kind, "");
        let artifacts = [
            of(ArtifactKind::Poses, "run/assets/halfbody_demo/pose/01"),
            of(ArtifactKind::Poses, "run/assets/halfbody_demo/pose/good"),
            of(ArtifactKind::Poses, "run/assets/halfbody_demo/pose/04"),
            of(ArtifactKind::Audio, "run/assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav"),
            of(ArtifactKind::Audio, "run/assets/halfbody_demo/audio/chinese/good.wav"),
            of(ArtifactKind::Image, "run/assets/halfbody_demo/refimag/natural_bk_openhand/0014.png"),
            of(ArtifactKind::Image, "run/assets/halfbody_demo/refimag/natural_bk_openhand/0082.png"),
            of(ArtifactKind::Image, "run/assets/halfbody_demo/refimag/test.png"),
        ];
        // Each pose folder goes with its own case's audio.
        let mut stated = Stated::default();
        stated.record_cases(0, "infer_acc.yaml", &settings);
        let read = stated.of_used(&[]);
        let audio: Vec<&Artifact> = artifacts[3..5].iter().collect();
        let heard: Vec<Option<&str>> = artifacts[..3].iter().map(|p| read.audio_of(p, &audio).map(|a| a.path.as_str())).collect();
        assert_eq!(heard, [Some(artifacts[3].path.as_str()), Some(artifacts[4].path.as_str()), None]);
        let unread = not_loaded(&artifacts, &read.loaded);
        assert_eq!(unread.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [2, 7]);
        assert!(unread[1].1.starts_with("not the run's input: the test_cases of infer_acc.yaml name "), "{}", unread[1].1);

        // The clip infer_acc.py wrote names its case.
        let clip = "run/output/20261207/0712--step_6-768x768--cfg_1.0/0082/0082-a-good-i0_sig.mp4";
        let all: Vec<&Loaded> = cases.iter().collect();
        let written = Loaded::written_by_case(clip, &all);
        assert_eq!(written.len(), 3, "{written:?}");
        assert!(written.iter().all(|l| l.case == 2));
        let unread: Vec<usize> = not_loaded(&artifacts, &written).into_iter().map(|(i, _)| i).collect();
        assert_eq!(unread, [0, 2, 3, 5, 7]);
        assert_eq!(
            not_loaded(&artifacts, &written)[0].1,
            format!("not the run's poses: the path of 0082-a-good-i0_sig.mp4 (test case 2 of infer_acc.yaml) names {demo}/pose/good/")
        );
        for other in [
            "run/output/x/0082/0082-a-other-i0_sig.mp4",
            "run/output/x/0014/0082-a-good-i0_sig.mp4",
            "run/output/x/0082/0082-a-good_sig.mp4",
            "0082-a-good-i0_sig.mp4",
        ] {
            assert!(Loaded::written_by_case(other, &all).is_empty(), "{other}");
        }

        // Another config the run may have read lists none: infer.py may have run.
        let mut stated = Stated::default();
        stated.record_cases(0, "infer_acc.yaml", &settings);
        stated.record_cases(1, "infer.yaml", &[]);
        assert!(stated.of_used(&[]).loaded.is_empty());
        let mut stated = Stated::default();
        stated.record_cases(0, "infer_acc.yaml", &settings);
        stated.record_cases(1, "infer.yaml", &[]);
        assert_eq!(stated.of_used(&[(1, "not read".into())]).loaded.len(), 8);

        // A log, or a clip's path, says what the run read: the cases then add nothing.
        let mut stated = Stated::default();
        stated.record_cases(0, "infer_acc.yaml", &settings);
        let printed = format!("Pose: {demo}/pose/01/\nReference: {demo}/refimag/natural_bk_openhand/0014.png\n");
        stated.loaded.extend(Loaded::printed(&printed, "run.log").into_iter().map(|l| (1, l)));
        let read = stated.of_used(&[]);
        assert!(read.loaded.iter().all(|l| matches!(l.source, Source::Log(_))), "{:?}", read.loaded);
    }

    #[test]
    fn each_pose_folder_goes_with_the_audio_printed_in_its_generation() {
        // infer_acc.py runs every test case of its config in turn.
        let demo = "./assets/halfbody_demo";
        let log = format!(
            "Pose: {demo}/pose/01/\nReference: {demo}/refimag/natural_bk_openhand/0014.png\n\
             Audio: {demo}/audio/chinese/echomimicv2_woman.wav\n100%|##########| 6/6\n\
             Pose: {demo}/pose/good/\nReference: {demo}/refimag/natural_bk_openhand/0082.png\n\
             Audio: {demo}/audio/chinese/good.wav\n\
             Pose: {demo}/pose/04/\nReference: {demo}/refimag/natural_bk_openhand/0205.png\n\
             Audio: {demo}/audio/chinese/echomimicv2_woman.wav\n"
        );
        let of = |kind, path: &str| Artifact::new(Path::new(path), kind, "");
        let artifacts = [
            of(ArtifactKind::Poses, "run/assets/halfbody_demo/pose/01"),
            of(ArtifactKind::Poses, "run/assets/halfbody_demo/pose/good"),
            of(ArtifactKind::Poses, "run/assets/halfbody_demo/pose/04"),
            of(ArtifactKind::Poses, "run/assets/halfbody_demo/pose/fight"),
            of(ArtifactKind::Audio, "run/assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav"),
            of(ArtifactKind::Audio, "run/assets/halfbody_demo/audio/chinese/good.wav"),
        ];
        let loaded = Loaded::printed(&log, "run.log");
        let read = Stated { loaded: loaded.iter().cloned().map(|l| (0, l)).collect(), ..Stated::default() }.of_used(&[]);
        let audio: Vec<&Artifact> = artifacts[4..].iter().collect();
        let heard: Vec<Option<&str>> =
            artifacts[..4].iter().map(|p| read.audio_of(p, &audio).map(|a| a.path.as_str())).collect();
        assert_eq!(heard, [Some(artifacts[4].path.as_str()), Some(artifacts[5].path.as_str()), Some(artifacts[4].path.as_str()), None]);
        // Two audio files printed: none is the one for every folder.
        assert!(read.audio(&audio).is_none());
        let unread: Vec<usize> = not_loaded(&artifacts, &loaded).into_iter().map(|(i, _)| i).collect();
        assert_eq!(unread, [3]);
    }

    #[test]
    fn the_path_of_a_clip_infer_py_wrote_names_its_inputs() {
        let of = |kind, path: &str| Artifact::new(Path::new(path), kind, "");
        let demo = "run/assets/halfbody_demo";
        let artifacts = [
            of(ArtifactKind::Poses, &format!("{demo}/pose/01")),
            of(ArtifactKind::Poses, &format!("{demo}/pose/fight")),
            of(ArtifactKind::Image, &format!("{demo}/refimag/natural_bk_openhand/0035.png")),
            of(ArtifactKind::Image, &format!("{demo}/refimag/natural_bk_openhand/0014.png")),
            of(ArtifactKind::Audio, &format!("{demo}/audio/chinese/echomimicv2_woman.wav")),
            of(ArtifactKind::Audio, &format!("{demo}/audio/chinese/fighting.wav")),
        ];
        let outputs = "run/outputs/pretrained_weights-itermotion_module-seed3407/natural_bk_openhand.0035.png/01";
        // The audio's name below the audio folder makes a folder of the path.
        for clip in [
            format!("{outputs}/0035-a-chinese/echomimicv2_woman.wav-i0_sig.mp4"),
            format!("{outputs}/0035-a-echomimicv2_woman-i0_woa_sig.mp4"),
        ] {
            let written = Loaded::written(&clip, &artifacts);
            assert_eq!(written.len(), 3, "{clip}: {written:?}");
            let unread: Vec<usize> = not_loaded(&artifacts, &written).into_iter().map(|(i, _)| i).collect();
            assert_eq!(unread, [1, 3, 5], "{clip}");
        }
        let why = &not_loaded(&artifacts, &Loaded::written(&format!("{outputs}/0035-a-chinese/echomimicv2_woman.wav-i0_sig.mp4"), &artifacts))[0].1;
        assert_eq!(why, &format!("not the run's poses: the path of echomimicv2_woman.wav-i0_sig.mp4 names {demo}/pose/01"));
        for other in ["run/outputs/20241205_103000_sig.mp4", "run/outputs/x.y/01/z-a-w-i0_sig.mp4", "a-i0_sig.mp4"] {
            assert!(Loaded::written(other, &artifacts).is_empty(), "{other}");
        }
    }

    #[test]
    fn a_default_frame_rate_is_no_evidence_of_the_run_s() {
        let setting = |value: &str, meaning: &str| crate::config::Setting::new("fps", value.into(), meaning.into(), None);
        let mut stated = Stated::default();
        stated.record(0, &[setting("24", "normal default")]);
        stated.record(1, &[setting("25", "frames per second, from Echo_Predata.fps")]);
        assert_eq!(stated.of_used(&[]).fps, Some(25.0));
    }

    proptest::proptest! {
        #[test]
        fn any_printed_path_is_matched_and_judged_without_a_panic(
            label in proptest::sample::select(vec!["Pose: ", "Reference: ", "Audio: "]),
            printed in "[./\\\\a-z:0 -]{0,24}",
            path in "[./\\\\a-z0-9]{0,24}",
        ) {
            let loaded = Loaded::printed(&format!("{label}{printed}\n"), "run.log");
            let artifacts: Vec<Artifact> = [ArtifactKind::Poses, ArtifactKind::Image, ArtifactKind::Audio]
                .into_iter()
                .map(|kind| Artifact::new(Path::new(&path), kind, ""))
                .collect();
            let unread = not_loaded(&artifacts, &loaded);
            proptest::prop_assert!(unread.len() <= artifacts.len());
        }

        #[test]
        fn any_log_is_read_for_a_ui_comfyui_or_upload_without_a_panic(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "using motion module", " acc", "CUDA版本：", "精度：", "int8量化", "使用", "got prompt",
                "Prompt executed in ", "custom_nodes", "EchoMimic", "/tmp/gradio/", "Reference: ", "C:", "/",
                "\\", "\n", "\r", "量", "é", " ", "a", "_sig.mp4", "outputs/", "20251120_100215",
            ]), 0..24),
        ) {
            let text = parts.concat();
            let ui = Ui::of_log(&text);
            proptest::prop_assert!(ui.is_none() || !text.is_empty());
            let _ = (comfyui_ran_echomimic(&text), gradio_upload(&text), Ui::wrote(&text));
            let loaded = Loaded::printed(&text, "run.log");
            let artifacts = [Artifact::new(Path::new(&text), ArtifactKind::Image, "")];
            proptest::prop_assert!(not_loaded(&artifacts, &loaded).len() <= 1);
        }
    }

    #[test]
    fn a_log_with_infer_py_s_output_folder_names_the_config() {
        let log = "please download ffmpeg-static\noutputs/pretrained_weights-itermotion_module-seed3407\nusing motion module";
        assert!(prints_output_folder(log, Some("./pretrained_weights/motion_module.pth")));
        assert!(!prints_output_folder(log, Some("./pretrained_weights/motion_module_acc.pth")));
        assert!(!prints_output_folder("outputs/pretrained_weights-itermotion_module-seed", Some("./x/motion_module.pth")));
        assert!(!prints_output_folder(log, None));
        // Python prints a Path with backslashes on Windows.
        let windows = "outputs\\pretrained_weights-itermotion_module-seed420\r\nusing motion module";
        assert!(prints_output_folder(windows, Some("./pretrained_weights/motion_module.pth")));
    }

    #[test]
    fn an_output_folder_names_the_config_that_wrote_it() {
        let normal = Some("./pretrained_weights/motion_module.pth");
        let acc = Some("./pretrained_weights/motion_module_acc.pth");
        let video = "run/outputs/pretrained_weights-itermotion_module-seed3407/a.png/01/a-i0_sig.mp4";
        assert!(output_names(video, "infer.yaml", normal));
        assert!(!output_names(video, "infer_acc.yaml", acc));
        let video = "outputs/pretrained_weights-itermotion_module_acc-seed420/x_sig.mp4";
        assert!(output_names(video, "mine.yaml", acc) && !output_names(video, "infer.yaml", normal));
        // A training checkpoint's name: the part after its last `-`.
        let trained = Some("/data/stage2/motion_module-30000.pth");
        assert!(output_names("outputs/stage2-iter30000-seed1/v.mp4", "animation.yaml", trained));
        let video = "output/2026-12-01/10-11-12--step_6-768x768--cfg_1.0/0014/v_sig.mp4";
        assert!(output_names(video, "infer_acc.yaml", acc) && !output_names(video, "infer.yaml", normal));
        assert!(!output_names("outputs/1700000000_sig.mp4", "infer.yaml", normal));
        assert!(!output_names("outputs/x.mp4", "infer.yaml", Some("a.pth")));
    }

    #[test]
    fn a_name_counts_only_as_a_whole_file_name() {
        assert!(names("loading config ./configs/prompts/infer.yaml\n", "infer.yaml"));
        assert!(names("--config='./configs/prompts/infer.yaml'", "infer.yaml"));
        assert!(names("infer.yaml.", "infer.yaml"));
        assert!(!names("--config configs/prompts/my_infer.yaml", "infer.yaml"));
        assert!(!names("configs/prompts/infer.yaml.bak", "infer.yaml"));
        assert!(!names("infer_acc.yaml", "infer.yaml"));
    }

    #[test]
    fn a_log_of_comfyui_running_an_echomimic_node_says_so() {
        let aki = "got prompt\n***** infer length is 336\n\
                   E:\\ComfyUI-aki-v1.4\\custom_nodes\\ComfyUI_EchoMimic\\src\\utils\\util.py:98: RuntimeWarning: invalid value\n\
                   Prompt executed in 30.76 seconds\n";
        assert!(comfyui_ran_echomimic(aki));
        let other_node = "got prompt\n/srv/ComfyUI/custom_nodes/comfyui_controlnet_aux/x.py:3: Warning\n";
        assert!(!comfyui_ran_echomimic(other_node));
        let no_queue = "/app/custom_nodes/ComfyUI_EchoMimic/echomimic_v2/src/utils/util.py:98: RuntimeWarning\n";
        assert!(!comfyui_ran_echomimic(no_queue), "a path alone is not ComfyUI's queue");
        assert!(!comfyui_ran_echomimic("got prompt\ncustom_nodes"));
    }

    #[test]
    fn a_gradio_upload_is_the_file_of_its_name_or_none_here() {
        let log = "Pose: assets/halfbody_demo/pose/fight\n\
                   Reference: /tmp/gradio/2f8a1c04d9/0077.png\n\
                   Audio: C:\\Users\\me\\AppData\\Local\\Temp\\gradio\\93bd0e\\good.wav\n";
        let printed = Loaded::printed(log, "app.log");
        let at = |path: &str, kind| Artifact::new(Path::new(path), kind, "content");
        let artifacts = vec![
            at("em/EMTD_dataset/ref_imgs_by_FLUX/woman/0077.png", ArtifactKind::Image),
            at("em/EMTD_dataset/ref_imgs_by_FLUX/woman/0033.png", ArtifactKind::Image),
            at("em/assets/halfbody_demo/audio/chinese/good.wav", ArtifactKind::Audio),
            at("em/assets/halfbody_demo/audio/chinese/news.wav", ArtifactKind::Audio),
        ];
        let unread = not_loaded(&artifacts, &printed);
        assert_eq!(unread.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 3], "{unread:?}");
        assert_eq!(
            unread[0].1,
            "not the run's input: app.log names /tmp/gradio/2f8a1c04d9/0077.png (an upload Gradio keeps outside this folder)"
        );
        // No file of the upload's name: none here is the run's.
        let unread = not_loaded(&artifacts[1..2], &printed);
        assert_eq!(unread.len(), 1);
        assert!(!gradio_upload("gradio/2f8a/0077.png") && !gradio_upload("/tmp/gradio/0077.png"));
        assert!(gradio_upload("/home/me/.cache/Gradio/2f8a/0077.png"));
    }

    #[test]
    fn the_strongest_evidence_decides() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("run.log");
        std::fs::write(&log, "python infer_acc.py --config=./configs/prompts/infer_acc.yaml\n").unwrap();
        let log = Artifact::new(&log, ArtifactKind::Log, "content: log");
        let checkout = |by: &str| {
            vec![
                config("configs/prompts/animation.yaml", "content: EchoMimicV2 prompt config"),
                config("configs/prompts/infer.yaml", by),
                config("configs/prompts/infer_acc.yaml", "content: EchoMimicV2 prompt config"),
            ]
        };
        let unread = |artifacts: &[Artifact], resolved: &[bool]| -> Vec<usize> {
            not_read(artifacts, &prompts(resolved), None, None, &LogText::read_all(artifacts)).into_iter().map(|(i, _)| i).collect()
        };
        // --config wins over everything.
        let mut given = checkout("--config");
        given.push(log.clone());
        assert_eq!(unread(&given, &[true, false, true]), [0, 2]);
        // Two logs naming the two entry points' configs: only the training leftover is not read.
        let second = dir.path().join("acc.log");
        std::fs::write(&second, "loading config ./configs/prompts/infer.yaml\n").unwrap();
        let mut both = checkout("content: EchoMimicV2 prompt config");
        both.push(log.clone());
        both.push(Artifact::new(&second, ArtifactKind::Log, "content: log"));
        let unused = not_read(&both, &prompts(&[false, false, false]), None, None, &LogText::read_all(&both));
        assert_eq!(unused.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0]);
        assert!(unused[0].1.contains("run.log, ") && unused[0].1.ends_with("names infer_acc.yaml, infer.yaml"));
        // A log that names one.
        let mut logged = checkout("content: EchoMimicV2 prompt config");
        logged.push(log);
        assert_eq!(unread(&logged, &[false, true, false]), [0, 1]);
        let plain = checkout("content: EchoMimicV2 prompt config");
        // One resolves every file: the training leftover is not read, the entry points are.
        assert_eq!(unread(&plain, &[false, true, false]), [0]);
        // None resolves: the entry points' configs are still the candidates.
        assert_eq!(unread(&plain, &[false, false, false]), [0]);
        // No entry point's config: nothing to tell them apart.
        let own = [config("a.yaml", "content"), config("b.yaml", "content")];
        assert!(unread(&own, &[false, false]).is_empty());
        assert!(unread(&plain[..1], &[false]).is_empty());

        // A web UI ran and no log or clip names a config: it read none, even the only one.
        let mut stated = Stated::default();
        let clip = Artifact::new(Path::new("outputs/20251120_100215_sig.mp4"), ArtifactKind::Video, "content");
        stated.record_clip(0, &[clip]);
        let ui = stated.ui().unwrap();
        assert_eq!((ui.ui, ui.shown.as_str()), (Ui::Either, "they write outputs/20251120_100215_sig.mp4"));
        let unused = not_read(&plain, &prompts(&[false, true, false]), Some(&ui), None, &LogText::read_all(&plain));
        assert_eq!(unused.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(unused[1].1.contains("(app.py or app_acc.py: they write outputs/20251120_100215_sig.mp4)"), "{unused:?}");
        assert_eq!(not_read(&plain[..1], &prompts(&[true]), Some(&ui), None, &LogText::read_all(&plain[..1])).len(), 1);
        // A log that names a config still decides.
        let log = dir.path().join("app.log");
        std::fs::write(&log, "\u{1b}[32m精度：float16\u{1b}[0m\nusing motion module acc\n").unwrap();
        stated.record_log(&LogText::read(1, &log).unwrap());
        assert_eq!(stated.ui().map(|u| u.ui), Some(Ui::AppAcc), "the log says which UI the clip's is");
        let ui = stated.ui().unwrap();
        let unused = not_read(&logged, &prompts(&[false, true, false]), Some(&ui), None, &LogText::read_all(&logged));
        assert_eq!(unused.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1]);
    }

    #[test]
    fn a_server_s_request_line_names_its_uploads() {
        let line = "INFO:api:[Job 3c1d] Created - Image: 0014.png, Audio: echomimicv2_woman.wav";
        assert_eq!(uploads_named(line), [("0014.png", ArtifactKind::Image), ("echomimicv2_woman.wav", ArtifactKind::Audio)]);
        assert!(uploads_named("INFO:api:Audio: 6.21s (149 frames)").is_empty());
        assert!(uploads_named("x - Image: my photo.png, Audio: .wav").is_empty());
        assert!(uploads_named("x - Image: /tmp/a/0014.png").is_empty());
        let printed = Loaded::printed(&format!("{line}\n"), "server.log");
        assert_eq!(printed.len(), 2);
        assert!(printed[0].is("assets/halfbody_demo/refimag/natural_bk_openhand/0014.png"));
        assert!(!printed[0].is("assets/halfbody_demo/refimag/natural_bk_openhand/0035.png"));
    }

    #[test]
    fn a_comfyui_node_s_configs_are_not_read() {
        let node = "ComfyUI/custom_nodes/ComfyUI_EchoMimic/echomimic_v2/configs/prompts";
        let artifacts = [
            config(&format!("{node}/infer.yaml"), "content"),
            config(&format!("{node}/infer_acc.yaml"), "content"),
            config(r"E:\ComfyUI\custom_nodes\EchoMimicV2-ComfyUI\infer.yaml", "content"),
        ];
        let unused = not_read(&artifacts, &prompts(&[false, false, false]), None, None, &LogText::read_all(&artifacts));
        assert_eq!(unused.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(unused[0].1.contains("ComfyUI node"));
        // Even one alone; but not one given with --config.
        assert_eq!(not_read(&artifacts[..1], &prompts(&[false]), None, None, &LogText::read_all(&artifacts[..1])).len(), 1);
        let given = [config(&format!("{node}/infer.yaml"), "--config"), config(&format!("{node}/infer_acc.yaml"), "c")];
        assert_eq!(not_read(&given, &prompts(&[false, false]), None, None, &LogText::read_all(&given)).iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1]);
        assert!(!inside_custom_node("custom_nodes") && !inside_custom_node("run/custom_nodes_old/infer.yaml"));
    }
}
