//! EchoMimicV2's weights as shipped, and what `strict=False` hides.
//!
//! The layout is a `pretrained_weights/` folder: `denoising_unet.pth`,
//! `reference_unet.pth`, `motion_module.pth`, `pose_encoder.pth` (the acc
//! variant uses `denoising_unet_acc.pth` and `motion_module_acc.pth`) and
//! the VAE folder `sd-vae-ft-mse/`. The `.pth` files are read by nanscope's
//! own pickle reader: nothing in them is executed.
//!
//! The reference loader builds the 3-D UNet, copies into it every tensor of
//! the 2-D weights merged with the motion module whose name and shape match
//! (the rest is skipped silently), then loads `denoising_unet*.pth` with
//! `strict=False`. [`MergedWeights`] reproduces that lookup; through
//! [`SharedWeights`] the engine's weight store hands those tensors to the
//! model and records every name and shape it asks for, so that
//! [`key_report`] can say which keys were expected and not given, and the
//! reverse.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use candle_core::{Device, Tensor};
use serde::Serialize;

use crate::config::Variant;
use crate::formats::{Checkpoint, FileFormat};
use crate::replay::engine::EngineError;
use crate::replay::engine::weights::TensorSource;
use crate::report::Finding;
use crate::weights::values::logical_values;

type Result<T> = std::result::Result<T, EngineError>;

/// The substring that marks a motion-module tensor in the UNet's names.
pub(crate) const MOTION_MODULE_MARK: &str = "motion_modules.";

/// The files of an EchoMimicV2 weights folder for one pipeline variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Layout {
    pub(crate) denoising_unet: PathBuf,
    pub(crate) reference_unet: PathBuf,
    pub(crate) motion_module: PathBuf,
    pub(crate) pose_encoder: PathBuf,
    pub(crate) vae: PathBuf,
}

impl Layout {
    /// The file names EchoMimicV2's configs use under `folder`.
    pub(crate) fn in_folder(folder: &Path, variant: Variant) -> Layout {
        let suffix = match variant {
            Variant::Normal => "",
            Variant::Acc => "_acc",
        };
        Layout {
            denoising_unet: folder.join(format!("denoising_unet{suffix}.pth")),
            reference_unet: folder.join("reference_unet.pth"),
            motion_module: folder.join(format!("motion_module{suffix}.pth")),
            pose_encoder: folder.join("pose_encoder.pth"),
            vae: folder.join("sd-vae-ft-mse"),
        }
    }
}

/// One state dict (`torch.save` of an `OrderedDict`, or safetensors).
pub(crate) struct StateDict {
    pub(crate) label: String,
    checkpoint: Checkpoint,
    index: HashMap<String, usize>,
}

impl StateDict {
    /// Opens a state dict by content. A file the reader finds broken, or
    /// whose pickle reaches outside the allowlist, is refused with the
    /// reader's findings.
    pub(crate) fn open(path: &Path) -> Result<StateDict> {
        let label = path.display().to_string();
        let checkpoint = Checkpoint::open(path);
        match checkpoint.format {
            FileFormat::TorchZip | FileFormat::TorchLegacy | FileFormat::Safetensors => {}
            other => {
                return Err(EngineError::Read {
                    path: label,
                    why: format!("{} is not a state dict (a PyTorch .pth or safetensors file)", other.name()),
                });
            }
        }
        let problems = checkpoint.error_lines();
        if !problems.is_empty() {
            return Err(EngineError::Read { path: label, why: format!("refusing it: {}", problems.join("; ")) });
        }
        let index = checkpoint.tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        Ok(StateDict { label, checkpoint, index })
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.checkpoint.tensors.iter().map(|t| t.name.as_str())
    }

    /// The stored shape of `name`, if the dict holds it.
    pub(crate) fn shape(&self, name: &str) -> Option<Vec<usize>> {
        let entry = &self.checkpoint.tensors[*self.index.get(name)?];
        entry.shape.iter().map(|&d| usize::try_from(d).ok()).collect()
    }

    /// `name` as an f32 tensor on the CPU.
    pub(crate) fn load(&self, name: &str) -> Result<Tensor> {
        let read = |why: String| EngineError::Read { path: format!("{}:{name}", self.label), why };
        let i = *self.index.get(name).ok_or_else(|| read("no such tensor".into()))?;
        let entry = &self.checkpoint.tensors[i];
        let shape = self.shape(name).ok_or_else(|| read("shape does not fit in memory".into()))?;
        let values = logical_values(&self.checkpoint, entry, &[]).map_err(|f| read(f.message.clone()))?;
        let mut floats = vec![0f32; values.numel()];
        values.decode(0, &mut floats);
        Ok(Tensor::from_vec(floats, shape, &Device::Cpu)?)
    }
}

/// Where the merged weights found a tensor, or why not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lookup {
    /// Index into the sources.
    Found(usize),
    /// The last source that names the tensor holds another shape.
    Mismatch {
        source: usize,
        found: Vec<usize>,
    },
    Missing,
}

/// The denoising UNet's sources in load order: the 2-D weights (optional),
/// the motion module (optional), `denoising_unet*.pth`. A later source wins
/// over an earlier one; a source whose shape differs does not count, as in
/// the reference's shape-filtered copy.
pub(crate) struct MergedWeights {
    pub(crate) sources: Vec<StateDict>,
}

impl MergedWeights {
    pub(crate) fn lookup(&self, name: &str, shape: &[usize]) -> Lookup {
        let mut mismatch = None;
        for (i, source) in self.sources.iter().enumerate().rev() {
            match source.shape(name) {
                Some(found) if found == shape => return Lookup::Found(i),
                Some(found) => {
                    mismatch.get_or_insert(Lookup::Mismatch { source: i, found });
                }
                None => {}
            }
        }
        mismatch.unwrap_or(Lookup::Missing)
    }

    /// The shape `load_state_dict` would see for `key`: the last file that
    /// holds it.
    pub(crate) fn shape(&self, key: &str) -> Option<Vec<usize>> {
        self.sources.iter().rev().find_map(|s| s.shape(key))
    }

    /// `key` from the last file that holds it, as f32 on the CPU.
    pub(crate) fn load(&self, key: &str) -> std::result::Result<Tensor, String> {
        let source = self.sources.iter().rev().find(|s| s.shape(key).is_some()).ok_or_else(|| format!("no {key}"))?;
        source.load(key).map_err(|e| e.to_string())
    }
}

impl From<(String, Vec<usize>)> for Requested {
    fn from((name, shape): (String, Vec<usize>)) -> Self {
        Requested { name, shape }
    }
}

/// A tensor the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Requested {
    pub(crate) name: String,
    pub(crate) shape: Vec<usize>,
}

/// Merged weights shared between the engine's weight store, which hands
/// them to the model and records every key and shape it requests, and the
/// key report.
pub(crate) struct SharedWeights(pub(crate) Rc<MergedWeights>);

impl TensorSource for SharedWeights {
    fn shape(&self, key: &str) -> Option<Vec<usize>> {
        self.0.shape(key)
    }

    fn load(&self, key: &str) -> std::result::Result<Tensor, String> {
        self.0.load(key)
    }
}

/// A tensor whose stored shape differs from the model's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ShapeMismatch {
    pub(crate) key: String,
    pub(crate) file: String,
    pub(crate) expected: Vec<usize>,
    pub(crate) found: Vec<usize>,
}

/// What `load_state_dict(strict=False)` returns and nobody reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct KeyReport {
    /// Tensors the model asked for.
    pub(crate) expected: usize,
    /// Expected tensors found, with the right shape, in some file.
    pub(crate) loaded: usize,
    /// Expected keys no file holds (sorted).
    pub(crate) missing: Vec<String>,
    /// Keys of the files no module asked for (sorted).
    pub(crate) unexpected: Vec<String>,
    pub(crate) shape_mismatches: Vec<ShapeMismatch>,
    /// Motion-module tensors expected, and found with the right shape.
    pub(crate) motion_expected: usize,
    pub(crate) motion_present: usize,
}

/// Compares what the model asked for with what the files hold.
pub(crate) fn key_report(requested: &[Requested], weights: &MergedWeights) -> KeyReport {
    let mut report = KeyReport::default();
    let mut asked = BTreeSet::new();
    let mut missing = BTreeSet::new();
    for r in requested {
        if !asked.insert(r.name.as_str()) {
            continue;
        }
        report.expected += 1;
        let motion = r.name.contains(MOTION_MODULE_MARK);
        report.motion_expected += usize::from(motion);
        match weights.lookup(&r.name, &r.shape) {
            Lookup::Found(_) => {
                report.loaded += 1;
                report.motion_present += usize::from(motion);
            }
            Lookup::Mismatch { source, found } => report.shape_mismatches.push(ShapeMismatch {
                key: r.name.clone(),
                file: weights.sources[source].label.clone(),
                expected: r.shape.clone(),
                found,
            }),
            Lookup::Missing => {
                missing.insert(r.name.clone());
            }
        }
    }
    let given: BTreeSet<&str> = weights.sources.iter().flat_map(|s| s.names()).collect();
    report.unexpected = given.into_iter().filter(|name| !asked.contains(name)).map(str::to_string).collect();
    report.missing = missing.into_iter().collect();
    report
}

/// The findings of a key report: a missing motion module (R140), every
/// shape mismatch (R142), and the unmatched keys (R141).
pub(crate) fn findings(report: &KeyReport, denoising_unet: &Path, motion_module: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    let motion_file = motion_module.is_file();
    if !motion_file || report.motion_present < report.motion_expected {
        out.push(super::findings::motion_module_missing(
            &motion_module.display().to_string(),
            motion_file,
            report.motion_expected,
            report.motion_present,
        ));
    }
    out.extend(report.shape_mismatches.iter().map(super::findings::shape_mismatch));
    if !report.missing.is_empty() || !report.unexpected.is_empty() {
        out.push(super::findings::keys_unmatched(&denoising_unet.display().to_string(), report));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::engine::layers::{Conv2d, Linear};
    use crate::replay::engine::{Precision, WeightStore};

    /// Writes a state dict with `torch.save`'s zip layout through the
    /// fixture writer, as safetensors (the reader sniffs content).
    fn write(dir: &Path, file: &str, tensors: &[(&str, Vec<usize>)]) -> PathBuf {
        let map: HashMap<String, Tensor> = tensors
            .iter()
            .map(|(name, shape)| {
                let n: usize = shape.iter().product();
                let values: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
                (name.to_string(), Tensor::from_vec(values, shape.as_slice(), &Device::Cpu).unwrap())
            })
            .collect();
        let path = dir.join(file);
        candle_core::safetensors::save(&map, &path).unwrap();
        path
    }

    /// A Linear, a conv and one motion-module Linear, built by the
    /// engine's layers from a store over the merged weights.
    fn record(sources: Vec<StateDict>) -> (KeyReport, Vec<Requested>) {
        let weights = Rc::new(MergedWeights { sources });
        let source = Box::new(SharedWeights(Rc::clone(&weights)));
        let ws = WeightStore::from_source("test", source, &Device::Cpu, Precision::default(), "");
        Linear::new(&ws, "down_blocks.0.attentions.0.proj_in", 4, 3, true);
        Conv2d::new(&ws, "conv_in", 2, 4, 3, 1, 1);
        Linear::new(&ws, "down_blocks.0.motion_modules.0.temporal_transformer.proj_in", 4, 4, false);
        let requested: Vec<Requested> = ws.requested().into_iter().map(Requested::from).collect();
        (key_report(&requested, &weights), requested)
    }

    #[test]
    fn the_store_records_every_request_and_the_report_lists_both_directions() {
        let dir = tempfile::tempdir().unwrap();
        let unet = write(
            dir.path(),
            "denoising_unet.pth",
            &[
                ("down_blocks.0.attentions.0.proj_in.weight", vec![3, 4]),
                ("down_blocks.0.attentions.0.proj_in.bias", vec![3]),
                ("conv_in.weight", vec![4, 2, 3, 3]),
                ("module.conv_in.bias", vec![4]),
            ],
        );
        let motion = write(
            dir.path(),
            "motion_module.pth",
            &[("down_blocks.0.motion_modules.0.temporal_transformer.proj_in.weight", vec![4, 4])],
        );
        let (report, requested) = record(vec![StateDict::open(&motion).unwrap(), StateDict::open(&unet).unwrap()]);
        assert_eq!(requested.len(), 5);
        assert_eq!(report.expected, 5);
        assert_eq!(report.loaded, 4);
        assert_eq!(report.missing, vec!["conv_in.bias"]);
        assert_eq!(report.unexpected, vec!["module.conv_in.bias"]);
        assert!(report.shape_mismatches.is_empty());
        assert_eq!((report.motion_expected, report.motion_present), (1, 1));
    }

    /// Issue #16: without the motion module the report counts its tensors as
    /// expected and absent; a tensor of another shape is a mismatch naming
    /// the file, not a silent skip.
    #[test]
    fn an_absent_motion_module_and_a_wrong_shape_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let unet = write(
            dir.path(),
            "denoising_unet.pth",
            &[
                ("down_blocks.0.attentions.0.proj_in.weight", vec![3, 8]),
                ("down_blocks.0.attentions.0.proj_in.bias", vec![3]),
                ("conv_in.weight", vec![4, 2, 3, 3]),
                ("conv_in.bias", vec![4]),
            ],
        );
        let (report, _) = record(vec![StateDict::open(&unet).unwrap()]);
        assert_eq!((report.motion_expected, report.motion_present), (1, 0));
        assert_eq!(report.missing, vec!["down_blocks.0.motion_modules.0.temporal_transformer.proj_in.weight"]);
        assert_eq!(report.shape_mismatches.len(), 1);
        let m = &report.shape_mismatches[0];
        assert_eq!((m.expected.as_slice(), m.found.as_slice()), (&[3usize, 4][..], &[3usize, 8][..]));
        assert!(m.file.ends_with("denoising_unet.pth"));
        let found = findings(&report, &unet, &dir.path().join("motion_module.pth"));
        let codes: Vec<&str> = found.iter().map(|f| f.code()).collect();
        assert_eq!(codes, vec!["R140", "R142", "R141"]);
        assert!(found[0].message.contains("does not exist"), "{}", found[0].message);
        assert_eq!(found[0].evidence["motion_module_keys_expected"], 1);
        assert!(found[2].message.contains("1 expected key(s) in no file"), "{}", found[2].message);
    }

    #[test]
    fn a_later_source_wins_and_a_shape_filtered_one_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let early = write(dir.path(), "a.pth", &[("x", vec![2]), ("y", vec![5])]);
        let late = write(dir.path(), "b.pth", &[("x", vec![2]), ("y", vec![6])]);
        let merged = MergedWeights { sources: vec![StateDict::open(&early).unwrap(), StateDict::open(&late).unwrap()] };
        assert_eq!(merged.lookup("x", &[2]), Lookup::Found(1));
        assert_eq!(merged.lookup("y", &[5]), Lookup::Found(0));
        assert_eq!(merged.lookup("y", &[7]), Lookup::Mismatch { source: 1, found: vec![6] });
        assert_eq!(merged.lookup("z", &[1]), Lookup::Missing);
        assert_eq!(merged.shape("y"), Some(vec![6]));
        assert_eq!(merged.load("x").unwrap().dims(), &[2]);
        assert!(merged.load("z").is_err());
        let r: Requested = ("x".to_string(), vec![2]).into();
        assert_eq!(r, Requested { name: "x".into(), shape: vec![2] });
    }

    const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/replay/echomimic/demo");

    /// The keys and shapes the reference 3-D UNet holds (make_demo.py).
    fn demo_expected() -> Vec<Requested> {
        #[derive(serde::Deserialize)]
        struct Key {
            name: String,
            shape: Vec<usize>,
        }
        let text = std::fs::read_to_string(Path::new(DEMO).join("expected_keys.json")).unwrap();
        let keys: Vec<Key> = serde_json::from_str(&text).unwrap();
        keys.into_iter().map(|k| Requested { name: k.name, shape: k.shape }).collect()
    }

    /// The shipped layout read by the pickle reader (zip and legacy
    /// containers): the motion module merged with denoising_unet.pth gives
    /// every key the reference UNet holds, and nothing more.
    #[test]
    fn the_demo_layout_loads_every_key_the_reference_unet_holds() {
        let layout = Layout::in_folder(&Path::new(DEMO).join("pretrained_weights"), Variant::Normal);
        let merged = MergedWeights {
            sources: vec![
                StateDict::open(&layout.motion_module).unwrap(),
                StateDict::open(&layout.denoising_unet).unwrap(),
            ],
        };
        let report = key_report(&demo_expected(), &merged);
        assert_eq!((report.expected, report.loaded), (402, 402));
        assert!(report.missing.is_empty() && report.unexpected.is_empty() && report.shape_mismatches.is_empty());
        assert_eq!((report.motion_expected, report.motion_present), (196, 196));
        assert!(findings(&report, &layout.denoising_unet, &layout.motion_module).is_empty());
        let t = merged.sources[1].load("conv_in.weight").unwrap();
        assert_eq!(t.dims(), &[32, 4, 3, 3]);
        let pose = StateDict::open(&layout.pose_encoder).unwrap();
        assert!(pose.shape("conv_out.weight").is_some(), "legacy torch.save container");
    }

    /// Issue #16: the acc script's silent fallback. Without the motion
    /// module the UNet's 196 temporal tensors are counted as expected and
    /// absent, and the finding says so instead of building a UNet without
    /// temporal layers.
    #[test]
    fn the_demo_without_its_motion_module_is_r140() {
        let layout = Layout::in_folder(&Path::new(DEMO).join("pretrained_weights"), Variant::Acc);
        assert!(!layout.motion_module.exists());
        let normal = Layout::in_folder(&Path::new(DEMO).join("pretrained_weights"), Variant::Normal);
        let merged = MergedWeights { sources: vec![StateDict::open(&normal.denoising_unet).unwrap()] };
        let report = key_report(&demo_expected(), &merged);
        assert_eq!((report.motion_expected, report.motion_present), (196, 0));
        let found = findings(&report, &normal.denoising_unet, &layout.motion_module);
        let codes: Vec<&str> = found.iter().map(|f| f.code()).collect();
        assert_eq!(codes, vec!["R140", "R141"]);
        assert!(found[0].message.contains("motion_module_acc.pth does not exist"), "{}", found[0].message);
        assert!(found[1].message.contains("196 expected key(s) in no file"), "{}", found[1].message);
    }

    #[test]
    fn the_layout_names_the_variant_files() {
        let acc = Layout::in_folder(Path::new("w"), Variant::Acc);
        assert_eq!(acc.denoising_unet, Path::new("w/denoising_unet_acc.pth"));
        assert_eq!(acc.motion_module, Path::new("w/motion_module_acc.pth"));
        assert_eq!(Layout::in_folder(Path::new("w"), Variant::Normal).vae, Path::new("w/sd-vae-ft-mse"));
    }
}
