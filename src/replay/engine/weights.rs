//! Model weights from a diffusers folder, checked against the configuration.
//!
//! Every missing tensor and every shape mismatch is collected while the
//! model is built (a zero tensor stands in), so one error lists them all
//! instead of stopping at the first.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use crate::formats::{Checkpoint, FileFormat};
use crate::numerics::fakequant::fake_quantize;
use crate::weights::values::logical_values;

use super::error::{EngineError, Result};
use super::precision::Precision;

/// One way the weights do not match what the configuration asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightProblem {
    Missing { tensor: String, expected: Vec<usize> },
    Shape { tensor: String, expected: Vec<usize>, found: Vec<usize> },
    Unreadable { tensor: String, why: String },
}

impl WeightProblem {
    pub fn list(problems: &[WeightProblem]) -> String {
        problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for WeightProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightProblem::Missing { tensor, expected } => write!(f, "missing {tensor} {expected:?}"),
            WeightProblem::Shape { tensor, expected, found } => {
                write!(f, "{tensor} has shape {found:?}, the configuration needs {expected:?}")
            }
            WeightProblem::Unreadable { tensor, why } => write!(f, "{tensor} unreadable: {why}"),
        }
    }
}

/// Tensors a model reads from outside the engine's own files (several state
/// dicts merged by a loader, for instance), by key.
pub(crate) trait TensorSource {
    /// The stored shape of `key`, or `None` when no tensor has that key.
    fn shape(&self, key: &str) -> Option<Vec<usize>>;
    /// The tensor of `key`, on the CPU, in any float dtype.
    fn load(&self, key: &str) -> std::result::Result<Tensor, String>;
}

/// Where a model's tensors come from.
enum WeightSource {
    /// Merged state dicts of the EchoMimicV2 loader.
    External(Box<dyn TensorSource>),
    Safetensors(MmapedSafetensors),
    /// A `torch.save` state dict (`diffusion_pytorch_model.bin`), read by
    /// nanscope's own pickle reader: nothing in the file is executed.
    Torch {
        checkpoint: Checkpoint,
        index: HashMap<String, usize>,
    },
}

/// The weight file of one model, handing out tensors by diffusers key.
pub struct WeightStore {
    file: PathBuf,
    tensors: WeightSource,
    device: Device,
    precision: Precision,
    /// Prefix of module names in probe records (`unet`, `vae`).
    scope: String,
    problems: RefCell<Vec<WeightProblem>>,
    /// Probe names of the Linear/Conv modules, in construction order.
    layers: RefCell<Vec<String>>,
    /// Every tensor key the model asked for, with the shape it needs.
    requested: RefCell<Vec<(String, Vec<usize>)>>,
}

/// The weight file a diffusers model folder (or a file path) names.
pub fn weight_file(path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    for name in ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"] {
        let candidate = path.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let why = if path.exists() {
        "no diffusion_pytorch_model.safetensors or diffusion_pytorch_model.bin in the folder"
    } else {
        "no such file or folder"
    };
    Err(EngineError::Read { path: path.display().to_string(), why: why.into() })
}

/// Opens a weight file by its content: safetensors, or a PyTorch zip/legacy
/// state dict. A PyTorch file that is malformed or references code outside
/// the pickle allowlist is refused with the reader's findings.
fn open_source(file: &Path) -> Result<WeightSource> {
    let read_error = |why: String| EngineError::Read { path: file.display().to_string(), why };
    let checkpoint = Checkpoint::open(file);
    match checkpoint.format {
        FileFormat::Safetensors => {
            drop(checkpoint);
            // SAFETY: the file is mapped read-only; the safetensors header is
            // validated against the file's length before any tensor is read.
            let tensors =
                unsafe { MmapedSafetensors::new(file) }.map_err(|e| read_error(EngineError::from(e).to_string()))?;
            Ok(WeightSource::Safetensors(tensors))
        }
        FileFormat::TorchZip | FileFormat::TorchLegacy => {
            let problems = checkpoint.error_lines();
            if !problems.is_empty() {
                return Err(read_error(format!("refusing a PyTorch file with problems: {}", problems.join("; "))));
            }
            let index = checkpoint.tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
            Ok(WeightSource::Torch { checkpoint, index })
        }
        other => Err(read_error(format!(
            "{} is not a weight file the engine reads (safetensors or a PyTorch state dict)",
            other.name()
        ))),
    }
}

impl WeightStore {
    pub fn open(file: &Path, device: &Device, precision: Precision, scope: &str) -> Result<Self> {
        let tensors = open_source(file)?;
        Ok(WeightStore {
            file: file.to_path_buf(),
            tensors,
            device: device.clone(),
            precision,
            scope: scope.to_string(),
            problems: RefCell::new(Vec::new()),
            layers: RefCell::new(Vec::new()),
            requested: RefCell::new(Vec::new()),
        })
    }

    /// A store over tensors another loader provides; `label` names them in errors.
    pub(crate) fn from_source(
        label: &str,
        source: Box<dyn TensorSource>,
        device: &Device,
        precision: Precision,
        scope: &str,
    ) -> Self {
        WeightStore {
            file: PathBuf::from(label),
            tensors: WeightSource::External(source),
            device: device.clone(),
            precision,
            scope: scope.to_string(),
            problems: RefCell::new(Vec::new()),
            layers: RefCell::new(Vec::new()),
            requested: RefCell::new(Vec::new()),
        }
    }

    /// Every tensor key requested so far, with the shape the model needs
    /// (what `load_state_dict(strict=False)` compares against).
    pub(crate) fn requested(&self) -> Vec<(String, Vec<usize>)> {
        self.requested.borrow().clone()
    }

    pub fn precision(&self) -> &Precision {
        &self.precision
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The dotted probe name of a module key (`unet.conv_in`).
    pub fn module_name(&self, key: &str) -> String {
        if self.scope.is_empty() { key.to_string() } else { format!("{}.{key}", self.scope) }
    }

    /// The dtype a module computes in.
    pub fn dtype_for(&self, module: &str) -> DType {
        if self.precision.keeps_fp32(module) { DType::F32 } else { self.precision.dtype.candle() }
    }

    /// `module.param` with `shape`, in the module's dtype; `quantizable`
    /// weights are fake-quantized when the plan says so.
    pub fn get(&self, module_key: &str, param: &str, shape: &[usize], quantizable: bool) -> Tensor {
        let module = self.module_name(module_key);
        let key = if module_key.is_empty() { param.to_string() } else { format!("{module_key}.{param}") };
        let dtype = self.dtype_for(&module);
        if quantizable {
            self.layers.borrow_mut().push(module.clone());
        }
        self.requested.borrow_mut().push((key.clone(), shape.to_vec()));
        match self.load(&key, shape, quantizable && self.precision.quantizes(&module)) {
            Ok(t) => t.to_dtype(dtype).unwrap_or(t),
            Err(problem) => {
                self.problems.borrow_mut().push(problem);
                // A one-element stand-in: the model is never run once a
                // problem is recorded, and the configuration's shape may be
                // anything the file claims.
                Tensor::zeros(1, dtype, &self.device).unwrap_or_else(|_| Tensor::new(&[0f32], &Device::Cpu).unwrap())
            }
        }
    }

    fn load(&self, key: &str, shape: &[usize], quantize: bool) -> std::result::Result<Tensor, WeightProblem> {
        let missing = || WeightProblem::Missing { tensor: key.to_string(), expected: shape.to_vec() };
        let mismatch =
            |found: Vec<usize>| WeightProblem::Shape { tensor: key.to_string(), expected: shape.to_vec(), found };
        let unreadable = |e: candle_core::Error| WeightProblem::Unreadable {
            tensor: key.to_string(),
            why: EngineError::from(e).to_string(),
        };
        let tensor = match &self.tensors {
            WeightSource::Safetensors(tensors) => {
                let view = tensors.get(key).map_err(|_| missing())?;
                if view.shape() != shape {
                    return Err(mismatch(view.shape().to_vec()));
                }
                tensors.load(key, &Device::Cpu).map_err(unreadable)?
            }
            WeightSource::External(source) => {
                let found = source.shape(key).ok_or_else(missing)?;
                if found != shape {
                    return Err(mismatch(found));
                }
                source.load(key).map_err(|why| WeightProblem::Unreadable { tensor: key.to_string(), why })?
            }
            WeightSource::Torch { checkpoint, index } => {
                let entry = index.get(key).map(|&i| &checkpoint.tensors[i]).ok_or_else(missing)?;
                let found: Vec<usize> = entry.shape.iter().map(|&d| d as usize).collect();
                if found != shape {
                    return Err(mismatch(found));
                }
                let values = logical_values(checkpoint, entry, &[])
                    .map_err(|f| WeightProblem::Unreadable { tensor: key.to_string(), why: f.message.clone() })?;
                let mut floats = vec![0f32; values.numel()];
                values.decode(0, &mut floats);
                Tensor::from_vec(floats, shape, &Device::Cpu).map_err(unreadable)?
            }
        };
        let tensor = match self.precision.quantize.filter(|_| quantize) {
            Some(scheme) => {
                let values = tensor.to_dtype(DType::F32).and_then(|t| t.flatten_all()?.to_vec1::<f32>());
                let values = values.map_err(unreadable)?;
                let row = values.len() / shape.first().copied().unwrap_or(1).max(1);
                let (quantized, _) = fake_quantize(scheme, &values, row);
                Tensor::from_vec(quantized, shape, &Device::Cpu).map_err(unreadable)?
            }
            None => tensor.to_dtype(DType::F32).map_err(unreadable)?,
        };
        tensor.to_device(&self.device).map_err(unreadable)
    }

    /// The Linear/Conv modules built so far.
    pub fn layers(&self) -> Vec<String> {
        self.layers.borrow().clone()
    }

    /// Ends loading: an error listing every problem, if any.
    pub fn finish(&self) -> Result<()> {
        let problems = self.problems.take();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Weights { path: self.file.display().to_string(), problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_collected_before_failing() {
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay/tiny-vae/diffusion_pytorch_model.safetensors");
        let store = WeightStore::open(&file, &Device::Cpu, Precision::default(), "vae").unwrap();
        let ok = store.get("decoder.conv_in", "bias", &[16], false);
        assert_eq!(ok.dims(), &[16]);
        store.get("decoder.conv_in", "weight", &[16, 4, 1, 1], true);
        store.get("decoder.no_such_conv", "weight", &[8, 8, 3, 3], true);
        assert_eq!(store.layers(), vec!["vae.decoder.conv_in", "vae.decoder.no_such_conv"]);
        match store.finish() {
            Err(EngineError::Weights { problems, .. }) => {
                assert_eq!(problems.len(), 2);
                assert!(matches!(&problems[0], WeightProblem::Shape { found, .. } if found == &[16, 4, 3, 3]));
                assert!(
                    matches!(&problems[1], WeightProblem::Missing { tensor, .. } if tensor == "decoder.no_such_conv.weight")
                );
            }
            other => panic!("expected a weights error, got {:?}", other.err()),
        }
    }

    struct Map(HashMap<String, Tensor>);

    impl TensorSource for Map {
        fn shape(&self, key: &str) -> Option<Vec<usize>> {
            self.0.get(key).map(|t| t.dims().to_vec())
        }
        fn load(&self, key: &str) -> std::result::Result<Tensor, String> {
            self.0.get(key).cloned().ok_or_else(|| format!("no {key}"))
        }
    }

    #[test]
    fn an_external_source_records_every_request() {
        let tensors = [("a.weight".to_string(), Tensor::ones((2, 3), DType::F32, &Device::Cpu).unwrap())];
        let store = WeightStore::from_source(
            "merged",
            Box::new(Map(tensors.into_iter().collect())),
            &Device::Cpu,
            Precision::default(),
            "unet",
        );
        assert_eq!(store.get("a", "weight", &[2, 3], true).dims(), &[2, 3]);
        store.get("b", "bias", &[3], false);
        store.get("a", "weight", &[3, 2], true);
        assert_eq!(
            store.requested(),
            vec![("a.weight".into(), vec![2, 3]), ("b.bias".into(), vec![3]), ("a.weight".into(), vec![3, 2])]
        );
        match store.finish() {
            Err(EngineError::Weights { path, problems }) => {
                assert_eq!(path, "merged");
                assert!(matches!(&problems[0], WeightProblem::Missing { tensor, .. } if tensor == "b.bias"));
                assert!(matches!(&problems[1], WeightProblem::Shape { found, .. } if found == &[2, 3]));
            }
            other => panic!("expected a weights error, got {:?}", other.err()),
        }
    }
}
