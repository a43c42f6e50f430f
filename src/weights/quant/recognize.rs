//! Recognising quantization schemes from a file's tensor entries (names,
//! dtypes, shapes) and the config beside it. Each family's recogniser claims
//! the entries it uses; a claimed entry is never scanned as a plain tensor.

use std::collections::{HashMap, HashSet};

use super::config::QuantConfig;
use super::scheme::{QuantInfo, QuantTensor, Role};
use super::{bnb, compressed, gguf, linear, quanto, torch};
use crate::formats::{Checkpoint, FileFormat, TensorEntry};
use crate::numerics::DType;
use crate::report::{Finding, Subject};
use crate::rules::quant as rules;

/// What recognition found in one file.
#[derive(Debug, Default)]
pub struct Recognised {
    pub tensors: Vec<QuantTensor>,
    /// Claimed entries that belong to no dequantizable tensor (the scheme was
    /// broken or is not decoded); listed with their role, never judged as floats.
    pub orphans: Vec<(usize, QuantInfo)>,
    /// Logical tensors of a recognised type that nanscope does not decode
    /// (GGUF IQ*/TQ*), with their logical shape; listed without statistics.
    pub undecoded: Vec<(usize, QuantInfo, Vec<u64>)>,
    /// Plain float entries a scheme presents under their logical name
    /// (`quantize_dynamic`'s packed bias as `<module>.bias`); scanned as floats.
    pub renamed: Vec<(usize, String)>,
    pub findings: Vec<Finding>,
}

impl Recognised {
    /// Entry indices that belong to a scheme.
    pub fn claimed(&self) -> HashSet<usize> {
        let mut out: HashSet<usize> = self.orphans.iter().map(|(i, _)| *i).collect();
        out.extend(self.undecoded.iter().map(|(i, _, _)| *i));
        out.extend(self.renamed.iter().map(|(i, _)| *i));
        for t in &self.tensors {
            out.insert(t.codes);
            out.extend(t.pieces.iter().map(|(i, _)| *i));
        }
        out
    }
}

/// Shared state of the recognisers for one file.
pub(super) struct Ctx<'a> {
    pub cp: &'a Checkpoint,
    pub config: &'a QuantConfig,
    names: HashMap<&'a str, usize>,
    pub out: Recognised,
    claimed: HashSet<usize>,
}

impl<'a> Ctx<'a> {
    pub fn label(&self) -> &'a str {
        &self.cp.label
    }

    pub fn get(&self, name: &str) -> Option<(usize, &'a TensorEntry)> {
        let cp: &'a Checkpoint = self.cp;
        self.names.get(name).map(|&i| (i, &cp.tensors[i]))
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    pub fn is_claimed(&self, index: usize) -> bool {
        self.claimed.contains(&index)
    }

    /// Records a finding about `tensor` (a logical or stored name).
    pub fn finding(&mut self, rule: &'static crate::rules::Rule, tensor: &str, message: String) -> &mut Finding {
        let finding = Finding::new(rule, message).with_subject(Subject::tensor(self.label(), tensor));
        self.out.findings.push(finding);
        let last = self.out.findings.len() - 1;
        &mut self.out.findings[last]
    }

    /// Claims entries of a scheme that could not be dequantized.
    pub fn orphans(&mut self, info: &QuantInfo, of: &str, pieces: &[(usize, Role)]) {
        for &(index, role) in pieces {
            if self.claimed.insert(index) {
                self.out.orphans.push((index, info.piece(role, of)));
            }
        }
    }

    pub fn undecoded(&mut self, index: usize, info: QuantInfo, shape: Vec<u64>) {
        if self.claimed.insert(index) {
            self.out.undecoded.push((index, info, shape));
        }
    }

    /// Presents a plain entry under another name.
    pub fn rename(&mut self, index: usize, name: String) {
        if self.claimed.insert(index) {
            self.out.renamed.push((index, name));
        }
    }

    /// Registers a recognised tensor; codes already claimed by another
    /// scheme (a weight with two kinds of scale) stay with the first.
    pub fn push(&mut self, tensor: QuantTensor) {
        if !self.claimed.insert(tensor.codes) {
            return;
        }
        self.claimed.extend(tensor.pieces.iter().map(|(i, _)| *i));
        self.out.tensors.push(tensor);
    }
}

/// Recognises every quantized tensor of an opened checkpoint. GGUF files are
/// recognised by type id, everything else by entry names; torch pickles'
/// quantized tensors, `quantize_dynamic` packed params and torchao
/// subclasses come out of the reader as named entries too (see `torch.rs`).
pub fn recognise(checkpoint: &Checkpoint, config: &QuantConfig) -> Recognised {
    let names = checkpoint.tensors.iter().enumerate().map(|(i, e)| (e.name.as_str(), i)).collect();
    let mut ctx = Ctx { cp: checkpoint, config, names, out: Recognised::default(), claimed: HashSet::new() };
    if checkpoint.format == FileFormat::Gguf {
        gguf::recognise(&mut ctx);
        return ctx.out;
    }
    for (index, entry) in checkpoint.tensors.iter().enumerate() {
        if ctx.is_claimed(index) {
            continue;
        }
        let name = entry.name.as_str();
        if let Some(base) = name.strip_suffix(".qweight") {
            linear::gptq_awq(&mut ctx, base, index);
        } else if let Some(base) = name.strip_suffix(".SCB") {
            bnb::bnb_int8(&mut ctx, base, index);
        } else if let Some((weight, kind)) = name.split_once(".quant_state.bitsandbytes__") {
            bnb::bnb_4bit(&mut ctx, weight, kind, index);
        } else if let Some(base) = name.strip_suffix(".weight_packed") {
            compressed::packed_weight(&mut ctx, base, index);
        } else if let Some(base) = name.strip_suffix(".weight_scale_inv") {
            compressed::scaled_weight(&mut ctx, base, index, true);
        } else if let Some(base) = name.strip_suffix(".weight_scale") {
            if !ctx.has(&format!("{base}.weight_packed")) {
                compressed::scaled_weight(&mut ctx, base, index, false);
            }
        } else if let Some(base) = name.strip_suffix(".scale_weight") {
            // ComfyUI's scaled FP8 checkpoints: `X.weight` F8 with a 0-d `X.scale_weight`.
            compressed::scaled_weight(&mut ctx, base, index, false);
        } else if let Some(base) = name.strip_suffix(".weight._data._data") {
            quanto::quanto_4bit(&mut ctx, base, index);
        } else if let Some(base) = name.strip_suffix(".weight._data") {
            quanto::quanto_8bit(&mut ctx, base, index);
        } else if let Some(base) = name.strip_suffix(".q_scale") {
            torch::qtensor(&mut ctx, base, false);
        } else if let Some(base) = name.strip_suffix(".q_per_channel_scales") {
            torch::qtensor(&mut ctx, base, true);
        } else if let Some(module) = name.strip_suffix(&format!("{}.0", torch::PACKED)) {
            torch::dynamic_float(&mut ctx, module, index);
        } else if let Some(base) = name.strip_suffix(".qdata") {
            torch::torchao_int8(&mut ctx, base, index, "");
        } else if let Some(base) = name.strip_suffix(".tensor_impl.int_data") {
            torch::torchao_int8(&mut ctx, base, index, ".tensor_impl");
        }
    }
    missing_scales(&mut ctx);
    ctx.out
}

/// In a file that is quantized (a scheme was recognised or a config says
/// so), one-byte integer or FP8 weights that no scheme claimed have lost
/// their scale: a loader either refuses them or uses the raw codes.
fn missing_scales(ctx: &mut Ctx) {
    let quantized = !ctx.out.tensors.is_empty() || !ctx.out.orphans.is_empty() || ctx.config.method().is_some();
    if !quantized {
        return;
    }
    let cp = ctx.cp;
    for (index, entry) in cp.tensors.iter().enumerate() {
        let one_byte =
            matches!(entry.dtype, DType::I8 | DType::F8E4M3 | DType::F8E5M2 | DType::F8E4M3Fnuz | DType::F8E5M2Fnuz);
        let weight_like = entry.name.ends_with(".weight") || entry.name.ends_with("._data");
        if ctx.is_claimed(index) || !one_byte || !weight_like {
            continue;
        }
        let message = format!(
            "{} is stored as {} in a quantized checkpoint but has no scale (no {}_scale, .SCB or ._scale beside it)",
            entry.name, entry.dtype, entry.name
        );
        ctx.finding(&rules::MISSING_PIECE, &entry.name, message).evidence.insert("missing".into(), "scale".into());
        let info = QuantInfo {
            scheme: if entry.dtype == DType::I8 { "int8" } else { "fp8" },
            format: entry.dtype.name().to_ascii_lowercase(),
            role: Role::Codes,
            of: None,
            bits: Some(8),
            granularity: None,
            group_size: None,
            block_size: None,
            axis: None,
        };
        let name = entry.name.clone();
        ctx.orphans(&info, &name, &[(index, Role::Codes)]);
    }
}
