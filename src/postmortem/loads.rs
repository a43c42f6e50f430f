//! Which of a folder's checkpoints the run loaded. EchoMimicV2's entry
//! points load one file or folder per component, each named by a key of the
//! prompt config, and take only `unet/` from the base model's pipeline
//! folder (`sd-image-variations-diffusers`). A checkout often holds more: the
//! accelerated variant's checkpoints beside the normal ones, a whole clone of
//! the base pipeline with its own VAE and image encoder, an older download.
//! What the run did not load cannot have broken it: it is listed, not
//! checked.

use std::path::{Path, PathBuf};

use super::discover::{Artifact, ArtifactKind, Component};
use super::prompts::components;

/// The prompt config keys that name what the entry points load, with the
/// component each one is.
const LOADED_KEYS: [(&str, Component); 6] = [
    ("denoising_unet_path", Component::DenoisingUnet),
    ("reference_unet_path", Component::ReferenceUnet),
    ("motion_module_path", Component::MotionModule),
    ("pose_encoder_path", Component::PoseEncoder),
    ("pretrained_vae_path", Component::Vae),
    ("audio_model_path", Component::AudioProcessor),
];

/// The key naming the base model's pipeline folder, of which only `unet/`
/// is loaded.
const BASE_MODEL_KEY: &str = "pretrained_base_model_path";

/// The base pipeline's folder name in the layout EchoMimicV2's configs give.
const BASE_MODEL_FOLDER: &str = "sd-image-variations-diffusers";

/// A prompt config the run read: where its relative paths start, and its
/// settings.
pub(crate) struct RunConfig<'a> {
    /// The config's file name, for the reasons given.
    pub name: String,
    pub root: Option<&'a str>,
    pub settings: &'a [(String, String)],
}

impl RunConfig<'_> {
    /// The value of `key` as a path on this machine.
    fn path(&self, key: &str) -> Option<(PathBuf, &str)> {
        let value = self.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())?;
        let path = Path::new(value);
        let full = match self.root {
            Some(root) if path.is_relative() => Path::new(root).join(path),
            _ => path.to_path_buf(),
        };
        Some((canonical(&full)?, value))
    }
}

/// What a ComfyUI workflow's EchoMimic loader loads, each component with
/// its place below the ComfyUI folder.
/// - ComfyUI_EchoMimic's `Echo_LoadModel` loads the VAE its `vae` widget
///   names from `models/vae/`, and for `version` V2 the checkpoints of
///   `models/echo_mimic/v2/` (the `_acc` ones for `infer_mode` `pose_acc`),
///   the base UNet of `models/echo_mimic/unet/` and Whisper's
///   `models/echo_mimic/audio_processor/whisper_tiny.pt`.
/// - EchoMimicV2-ComfyUI's `EchoMimicV2Node` loads the normal checkpoints
///   of `models/AIFSH/EchoMimicV2/`, with `whisper_tiny.pt`, `sd-vae-ft-mse/`
///   and the base UNet beside them.
pub(crate) fn workflow_loads(settings: &[crate::config::Setting]) -> Vec<(Component, String)> {
    let value = |key: &str| settings.iter().find(|s| s.key == key).map(|s| s.value.as_str());
    let mut loads = Vec::new();
    if settings.iter().any(|s| s.key.starts_with("EchoMimicV2Node.")) {
        let at = |file: &str| format!("models/AIFSH/EchoMimicV2/{file}");
        loads.extend([
            (Component::DenoisingUnet, at("denoising_unet.pth")),
            (Component::MotionModule, at("motion_module.pth")),
            (Component::ReferenceUnet, at("reference_unet.pth")),
            (Component::PoseEncoder, at("pose_encoder.pth")),
            (Component::AudioProcessor, at("whisper_tiny.pt")),
            (Component::Vae, at("sd-vae-ft-mse")),
            (Component::BaseUnet, at("sd-image-variations-diffusers/unet")),
        ]);
    }
    if let Some(vae) = value("Echo_LoadModel.vae").filter(|v| !v.is_empty() && !v.contains(['/', '\\'])) {
        loads.push((Component::Vae, format!("models/vae/{vae}")));
    }
    if value("Echo_LoadModel.version") == Some("V2") {
        let acc = if value("Echo_LoadModel.infer_mode") == Some("pose_acc") { "_acc" } else { "" };
        loads.extend([
            (Component::DenoisingUnet, format!("models/echo_mimic/v2/denoising_unet{acc}.pth")),
            (Component::MotionModule, format!("models/echo_mimic/v2/motion_module{acc}.pth")),
            (Component::ReferenceUnet, "models/echo_mimic/v2/reference_unet.pth".into()),
            (Component::PoseEncoder, "models/echo_mimic/v2/pose_encoder.pth".into()),
            (Component::BaseUnet, "models/echo_mimic/unet".into()),
            (Component::AudioProcessor, "models/echo_mimic/audio_processor/whisper_tiny.pt".into()),
        ]);
    }
    loads
}

/// EchoMimicV2's web UIs. Neither reads a prompt config: `app.py` loads the
/// normal pipeline's checkpoints and `app_acc.py` the accelerated one's,
/// each from a fixed path below `./pretrained_weights/`, and both write
/// `outputs/{YYYYmmdd_HHMMSS}_sig.mp4` (after `_woa_sig.mp4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ui {
    App,
    AppAcc,
    /// One of them, not saying which.
    Either,
}

/// The GPU header both UIs print as they start ("CUDA version", "precision").
const UI_HEADER: [&str; 2] = ["CUDA版本：", "精度："];

impl Ui {
    /// The UI a log shows running, with the line that shows it. Only
    /// `app_acc.py` prints `using motion module acc`; after their header,
    /// `app.py` prints `using motion module` (as `infer.py` does) and, for
    /// its int8 option, `使用int8量化`, where `app_acc.py` prints `int8量化`.
    pub(crate) fn of_log(text: &str) -> Option<(Ui, &'static str)> {
        let mut header = false;
        let (mut acc, mut normal): (Option<&'static str>, Option<&'static str>) = (None, None);
        for line in text.lines() {
            let line = crate::log::timestamp::strip(line).trim();
            if UI_HEADER.iter().any(|h| line.contains(h)) {
                header = true;
            } else if line.ends_with("using motion module acc") {
                acc = acc.or(Some("using motion module acc"));
            } else if line.ends_with("using motion module") {
                normal = normal.or(Some("using motion module"));
            } else if line.contains("使用int8量化") {
                normal = normal.or(Some("使用int8量化"));
            } else if line.ends_with("int8量化") {
                acc = acc.or(Some("int8量化"));
            }
        }
        // `using motion module acc` is app_acc.py's alone; the rest say which UI only below its header.
        let normal = normal.filter(|_| header);
        match (acc.filter(|l| header || *l == "using motion module acc"), normal) {
            (Some(line), None) => Some((Ui::AppAcc, line)),
            (None, Some(line)) => Some((Ui::App, line)),
            (Some(_), Some(_)) => Some((Ui::Either, "using motion module")),
            (None, None) => header.then_some((Ui::Either, UI_HEADER[0])),
        }
    }

    /// Whether a UI wrote the clip at `path`: `outputs/20251120_100215_sig.mp4`
    /// or `…_woa_sig.mp4`, directly below `outputs/`.
    pub(crate) fn wrote(path: &str) -> bool {
        let parts = components(path);
        let [.., folder, name] = parts.as_slice() else { return false };
        let Some(stamp) = name.strip_suffix("_sig.mp4") else { return false };
        let stamp = stamp.strip_suffix("_woa").unwrap_or(stamp);
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        *folder == "outputs" && stamp.split_once('_').is_some_and(|(date, time)| digits(date, 8) && digits(time, 6))
    }

    /// The script, as a reason names it.
    pub(crate) fn script(self) -> &'static str {
        match self {
            Ui::App => "app.py",
            Ui::AppAcc => "app_acc.py",
            Ui::Either => "app.py or app_acc.py",
        }
    }

    /// What each script loads, by its place below the checkout.
    pub(crate) fn loads(self) -> Vec<(&'static str, Vec<(Component, String)>)> {
        let of = |acc: &str| {
            let at = |file: &str| format!("pretrained_weights/{file}");
            vec![
                (Component::DenoisingUnet, at(&format!("denoising_unet{acc}.pth"))),
                (Component::MotionModule, at(&format!("motion_module{acc}.pth"))),
                (Component::ReferenceUnet, at("reference_unet.pth")),
                (Component::PoseEncoder, at("pose_encoder.pth")),
                (Component::Vae, at("sd-vae-ft-mse")),
                (Component::BaseUnet, at("sd-image-variations-diffusers/unet")),
                (Component::AudioProcessor, at("audio_processor/tiny.pt")),
            ]
        };
        match self {
            Ui::App => vec![("app.py", of(""))],
            Ui::AppAcc => vec![("app_acc.py", of("_acc"))],
            Ui::Either => vec![("app.py", of("")), ("app_acc.py", of("_acc"))],
        }
    }
}

/// The weights the run did not load, each with why: by its component, once
/// the file or folder the run's config (or what loaded them without one:
/// its workflow, with places below the ComfyUI folder, or a web UI, with
/// places below the checkout) names for that component is among the
/// artifacts; and whatever lies in the base model's pipeline folder outside
/// its `unet/`. Without a config, the base pipeline is the folder the
/// layout names.
pub(crate) fn weights_not_loaded(
    artifacts: &[Artifact],
    configs: &[RunConfig],
    loaders: &[(&str, Vec<(Component, String)>)],
) -> Vec<(usize, String)> {
    let weights: Vec<(usize, &Artifact, PathBuf)> = artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == ArtifactKind::Weights && !a.unused && !a.recognised_by.starts_with("--"))
        .filter_map(|(i, a)| Some((i, a, canonical(Path::new(&a.path))?)))
        .collect();
    // The config's path for each component, where it is found.
    let mut loads: Vec<(Component, PathBuf, String)> = Vec::new();
    for config in configs {
        for (key, component) in LOADED_KEYS {
            if let Some((path, value)) = config.path(key) {
                loads.push((component, path, format!("{} loads {value}", config.name)));
            }
        }
    }
    // A place matches the artifact whose path ends with it.
    for (loader, places) in loaders {
        for (component, place) in places {
            let want = components(place);
            let ends = |path: &str| components(path).ends_with(&want);
            if let Some((_, _, path)) = weights.iter().find(|(_, a, _)| ends(&a.path)) {
                loads.push((*component, path.clone(), format!("{loader} loads {place}")));
            }
        }
    }
    let bases: Vec<(PathBuf, String)> = if configs.is_empty() {
        weights
            .iter()
            .filter_map(|(_, _, path)| {
                let at = path.components().position(|c| c.as_os_str() == BASE_MODEL_FOLDER)?;
                Some((path.components().take(at + 1).collect(), BASE_MODEL_FOLDER.to_string()))
            })
            .collect()
    } else {
        configs.iter().filter_map(|c| c.path(BASE_MODEL_KEY).map(|(path, value)| (path, value.to_string()))).collect()
    };
    let mut unread = Vec::new();
    for (i, artifact, path) in &weights {
        // What another key names is loaded, wherever it lies.
        let named_elsewhere = loads.iter().any(|(_, load, _)| overlaps(path, load));
        let in_base = |base: &PathBuf| path.starts_with(base) && !path.starts_with(base.join("unet"));
        if let Some((_, base)) = bases.iter().find(|(base, _)| in_base(base)).filter(|_| !named_elsewhere) {
            unread.push((*i, format!("not loaded: the pipeline takes only unet/ from the base model {base}")));
            continue;
        }
        let Some(component) = artifact.component else { continue };
        let named: Vec<&(Component, PathBuf, String)> = loads.iter().filter(|(c, _, _)| *c == component).collect();
        let found = |load: &PathBuf| weights.iter().any(|(_, _, w)| overlaps(w, load));
        if named.is_empty() || !named.iter().any(|(_, load, _)| found(load)) {
            continue;
        }
        if !named.iter().any(|(_, load, _)| overlaps(path, load)) {
            unread.push((*i, format!("not loaded: {}", named[0].2)));
        }
    }
    unread
}

/// Whether one path is the other or holds it (a folder artifact and a file
/// the config names in it, or the other way round).
fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// The absolute path with links resolved, when it exists.
fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(path: &Path, component: Option<Component>) -> Artifact {
        let mut a = Artifact::new(path, ArtifactKind::Weights, "content: test");
        a.component = component;
        a
    }

    #[test]
    fn a_web_ui_is_told_by_its_log_and_its_clip() {
        let header = "\x1b[32mCUDA版本：12.1\x1b[0m\n\x1b[32m精度：float16\x1b[0m\n";
        assert_eq!(Ui::of_log("using motion module acc\nPose: x"), Some((Ui::AppAcc, "using motion module acc")));
        assert_eq!(Ui::of_log(&format!("{header}using motion module\n")), Some((Ui::App, "using motion module")));
        assert_eq!(Ui::of_log(&format!("{header}使用int8量化\n")), Some((Ui::App, "使用int8量化")));
        assert_eq!(Ui::of_log(&format!("{header}int8量化\n")), Some((Ui::AppAcc, "int8量化")));
        assert_eq!(Ui::of_log(header), Some((Ui::Either, "CUDA版本：")));
        // infer.py prints `using motion module` too, without the header.
        assert_eq!(Ui::of_log("outputs/pretrained_weights-itermotion_module-seed420\nusing motion module\n"), None);
        assert_eq!(Ui::of_log("2025-11-20 10:00:00 INFO using motion module acc"), Some((Ui::AppAcc, "using motion module acc")));
        assert_eq!(Ui::of_log(&format!("{header}using motion module acc\nusing motion module\n")).map(|u| u.0), Some(Ui::Either));

        assert!(Ui::wrote("run/outputs/20251120_100215_sig.mp4"));
        assert!(Ui::wrote("outputs/20251120_100215_woa_sig.mp4"));
        assert!(!Ui::wrote("outputs/pretrained_weights-itermotion_module-seed3407/a/01/0014-a-x-i0_sig.mp4"));
        assert!(!Ui::wrote("outputs/2025112_100215_sig.mp4"));
        assert!(!Ui::wrote("output/20251120_100215_sig.mp4"));
        assert!(!Ui::wrote("_sig.mp4"));
        let loads = Ui::Either.loads();
        assert_eq!(loads.iter().map(|(s, _)| *s).collect::<Vec<_>>(), ["app.py", "app_acc.py"]);
        assert!(loads[1].1.contains(&(Component::MotionModule, "pretrained_weights/motion_module_acc.pth".into())));
    }

    #[test]
    fn only_what_the_config_names_is_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pretrained_weights");
        for folder in ["sd-vae-ft-mse", "sd-image-variations-diffusers/unet", "sd-image-variations-diffusers/vae"] {
            std::fs::create_dir_all(pw.join(folder)).unwrap();
        }
        std::fs::create_dir_all(pw.join("sd-image-variations-diffusers/image_encoder")).unwrap();
        for file in ["denoising_unet.pth", "denoising_unet_acc.pth", "motion_module.pth", "old/pose_encoder.pth"] {
            std::fs::create_dir_all(pw.join(file).parent().unwrap()).unwrap();
            std::fs::write(pw.join(file), b"").unwrap();
        }
        let artifacts = vec![
            weights(&pw.join("denoising_unet.pth"), Some(Component::DenoisingUnet)),
            weights(&pw.join("denoising_unet_acc.pth"), Some(Component::DenoisingUnet)),
            weights(&pw.join("sd-vae-ft-mse"), Some(Component::Vae)),
            weights(&pw.join("sd-image-variations-diffusers/vae"), Some(Component::Vae)),
            weights(&pw.join("sd-image-variations-diffusers/unet"), Some(Component::BaseUnet)),
            weights(&pw.join("sd-image-variations-diffusers/image_encoder"), Some(Component::ImageEncoder)),
            weights(&pw.join("motion_module.pth"), Some(Component::MotionModule)),
            weights(&pw.join("old/pose_encoder.pth"), Some(Component::PoseEncoder)),
        ];
        let settings: Vec<(String, String)> = [
            ("pretrained_base_model_path", "./pretrained_weights/sd-image-variations-diffusers"),
            ("pretrained_vae_path", "./pretrained_weights/sd-vae-ft-mse"),
            ("denoising_unet_path", "./pretrained_weights/denoising_unet.pth"),
            ("motion_module_path", "./pretrained_weights/motion_module_acc.pth"),
            ("pose_encoder_path", "./pretrained_weights/pose_encoder.pth"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec();
        let root = dir.path().display().to_string();
        let config = RunConfig { name: "infer.yaml".into(), root: Some(&root), settings: &settings };
        let unread = weights_not_loaded(&artifacts, &[config], &[]);
        let indices: Vec<usize> = unread.iter().map(|(i, _)| *i).collect();
        // The acc UNet, the base pipeline's VAE and image encoder. The motion
        // module and pose encoder the config names are missing: the ones
        // found elsewhere are left alone.
        assert_eq!(indices, [1, 3, 5], "{unread:?}");
        assert_eq!(unread[0].1, "not loaded: infer.yaml loads ./pretrained_weights/denoising_unet.pth");
        assert!(unread[1].1.ends_with("base model ./pretrained_weights/sd-image-variations-diffusers"), "{unread:?}");

        // A base model set to the whole weights folder: what the other keys
        // name there is still loaded.
        let mut wide = settings.clone();
        wide[0].1 = "./pretrained_weights".into();
        let config = RunConfig { name: "infer.yaml".into(), root: Some(&root), settings: &wide };
        let unread = weights_not_loaded(&artifacts, &[config], &[]);
        assert!(!unread.iter().any(|(i, _)| [0, 2].contains(i)), "{unread:?}");

        // A ComfyUI workflow's loader names the VAE and, for V2, the
        // checkpoints below models/echo_mimic/.
        let setting = |key: &str, value: &str| crate::config::Setting::new(key, value.into(), String::new(), None);
        let loader = [
            setting("Echo_LoadModel.vae", "sd-vae-ft-mse.safetensors"),
            setting("Echo_LoadModel.version", "V2"),
            setting("Echo_LoadModel.infer_mode", "pose_acc"),
        ];
        let places = workflow_loads(&loader);
        assert!(places.contains(&(Component::Vae, "models/vae/sd-vae-ft-mse.safetensors".into())));
        assert!(places.contains(&(Component::DenoisingUnet, "models/echo_mimic/v2/denoising_unet_acc.pth".into())));
        assert_eq!(workflow_loads(&loader[..1]).len(), 1, "no checkpoints without the version");
        let aifsh = workflow_loads(&[setting("EchoMimicV2Node.steps", "30")]);
        assert!(aifsh.contains(&(Component::DenoisingUnet, "models/AIFSH/EchoMimicV2/denoising_unet.pth".into())));
        let models = dir.path().join("ComfyUI/models");
        for file in ["vae/sd-vae-ft-mse.safetensors", "vae/sdxl_vae.safetensors", "echo_mimic/v2/denoising_unet.pth"] {
            std::fs::create_dir_all(models.join(file).parent().unwrap()).unwrap();
            std::fs::write(models.join(file), b"").unwrap();
        }
        let installed = vec![
            weights(&models.join("vae/sd-vae-ft-mse.safetensors"), Some(Component::Vae)),
            weights(&models.join("vae/sdxl_vae.safetensors"), Some(Component::Vae)),
            weights(&models.join("echo_mimic/v2/denoising_unet.pth"), Some(Component::DenoisingUnet)),
        ];
        // The acc UNet the loader names is missing: the normal one is left alone.
        let unread = weights_not_loaded(&installed, &[], &[("the workflow", places)]);
        assert_eq!(unread, [(1, "not loaded: the workflow loads models/vae/sd-vae-ft-mse.safetensors".to_string())]);

        // Without a config, only the base pipeline's layout is known.
        let unread = weights_not_loaded(&artifacts, &[], &[]);
        assert_eq!(unread.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 5], "{unread:?}");
        assert!(unread[0].1.ends_with("base model sd-image-variations-diffusers"), "{unread:?}");
    }
}
