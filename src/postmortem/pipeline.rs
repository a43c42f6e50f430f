//! Which pipeline made a run. The checks and the catalogue know
//! EchoMimicV2 first; a run of EchoMimicV3 (a Wan2.1 transformer that keeps
//! the reference's aspect, with its own entry points and weights) is
//! recognised, so that what holds only for EchoMimicV2 is not said of it.

use std::path::Path;

use serde::Serialize;

use super::discover::{Artifact, ArtifactKind};
use super::prompts::{LogText, file_name};

/// A pipeline the verdict speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Pipeline {
    #[default]
    #[serde(rename = "EchoMimicV2")]
    EchomimicV2,
    #[serde(rename = "EchoMimicV3")]
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

/// A pipeline other than EchoMimicV2, and what showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recognised {
    pub pipeline: Pipeline,
    pub recognised_by: String,
    /// The script that ran it, as the run starts it (`infer_flash.py`).
    pub entry_point: String,
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
    if let Some((how, entry)) = logs.iter().find_map(|log| named_in_log(log, checkout.as_ref())) {
        return Some(Recognised { pipeline: Pipeline::EchomimicV3, recognised_by: how, entry_point: entry });
    }
    if has_echomimic_v2(artifacts) {
        return None;
    }
    if let Some((folder, entry_point)) = checkout {
        let how = format!("EchoMimicV3's checkout: {entry_point} beside {}", v3_source(Path::new(&folder))?);
        return Some(Recognised { pipeline: Pipeline::EchomimicV3, recognised_by: how, entry_point });
    }
    let base = artifacts.iter().filter(|a| a.kind == ArtifactKind::Weights).find_map(|a| wan_folder(&a.path))?;
    Some(Recognised {
        pipeline: Pipeline::EchomimicV3,
        recognised_by: format!("weights under {base}, EchoMimicV3's base model"),
        entry_point: V3_ENTRY_POINTS[0].to_string(),
    })
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
fn named_in_log(log: &LogText, checkout: Option<&(String, String)>) -> Option<(String, String)> {
    let modules = ["wan_transformer3d_audio", "pipeline_wan_fun_inpaint_audio"];
    for (number, line) in log.head(LOG_HEAD).lines().enumerate() {
        let at = || format!("{}:{}", log.name, number + 1);
        for entry in V3_ENTRY_POINTS.iter().filter(|e| **e != "app.py" || checkout.is_some()) {
            let command = line.split_whitespace().any(|w| w == *entry || w.ends_with(&format!("/{entry}")));
            let frame = line.trim_start().starts_with("File \"") && line.contains(&format!("{entry}\""));
            if command || frame {
                return Some((format!("{} names {entry}", at()), entry.to_string()));
            }
        }
        if let Some(module) = modules.iter().find(|m| line.contains(**m)) {
            let entry = checkout.map_or(V3_ENTRY_POINTS[0], |(_, entry)| entry.as_str());
            return Some((format!("{} names EchoMimicV3's {module}", at()), entry.to_string()));
        }
    }
    None
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

    proptest::proptest! {
        #[test]
        fn any_log_is_read_without_a_panic(text in "(File \"|python |[a-z_./ ]|infer_flash\\.py|\n|é){0,40}") {
            let found = recognise(&[], &[log(&text)]);
            if let Some(found) = found {
                proptest::prop_assert!(V3_ENTRY_POINTS.contains(&found.entry_point.as_str()));
            }
        }
    }
}
