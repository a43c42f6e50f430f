//! `D` rules: differences between two checkpoints (`nanscope diff A B`).
//!
//! The key-set rules exist because loaders hide these differences. EchoMimicV2
//! loads its denoising UNet with `load_state_dict(..., strict=False)`: a key
//! missing from the file silently keeps its initialisation value, an extra
//! key is silently ignored, and its 2-D → 3-D conversion skips tensors whose
//! shape does not match. The pipeline then runs and produces noise or garbage
//! instead of an error.

use super::Rule;
use crate::report::Severity;

pub const MISSING_IN_B: Rule = Rule {
    code: "D101",
    slug: "missing-in-b",
    severity: Severity::Error,
    summary: "a tensor of the reference (A) is missing from the compared checkpoint (B)",
    detects: "Tensor names present in A and absent from B, after B's names are aligned with \
              `--strip-prefix`/`--add-prefix`.",
    why: "A loader with `strict=False` (EchoMimicV2's denoising UNet, many diffusion wrappers) raises no \
          error for a missing key: the parameter silently keeps its random or 2-D-inflated initial \
          value, and the model produces noise, garbage or NaN instead of failing loudly.",
    cause: "A conversion or quantization that dropped or renamed modules, a prefix that differs between \
            the two files (`model.diffusion_model.`), or the wrong checkpoint for the model.",
    fix: "Align prefixes with `--strip-prefix`/`--add-prefix`; if keys are truly missing, re-export B \
          from its source, or load with `strict=True` to see the loader's own report.",
    options: "--strip-prefix P, --add-prefix P",
};

pub const EXTRA_IN_B: Rule = Rule {
    code: "D102",
    slug: "extra-in-b",
    severity: Severity::Warning,
    summary: "the compared checkpoint (B) holds a tensor the reference (A) does not",
    detects: "Tensor names present in B (after prefix alignment) and absent from A.",
    why: "A `strict=False` load ignores unexpected keys without a word: weights meant for a module \
          never reach it, which usually means a renamed module is running with its initial values.",
    cause: "Renamed modules, a different prefix, quantization companions (scales, zero points) that the \
            reference does not have, or a checkpoint of a different model revision.",
    fix: "Check the names against the model's state dict; align prefixes; rename keys in a conversion \
          script.",
    options: "--strip-prefix P, --add-prefix P",
};

pub const SHAPE_MISMATCH: Rule = Rule {
    code: "D103",
    slug: "shape-mismatch",
    severity: Severity::Error,
    summary: "a tensor has a different shape in the two checkpoints",
    detects: "Tensors present on both sides whose shapes differ. Their values are not compared.",
    why: "A strict load fails on a shape mismatch, but EchoMimicV2's `from_pretrained_2d` copies only \
          tensors whose shape matches and skips the rest silently, so the module keeps its \
          initialisation. Cross-attention keys of the wrong width (768 vs 384) are the classic case.",
    cause: "The checkpoint belongs to another model variant (other cross-attention width, 2-D vs \
            inflated 3-D convolutions) or a conversion transposed or packed the tensor.",
    fix: "Use the checkpoint that matches the model configuration, or reshape or transpose it in the \
          conversion script.",
    options: "",
};

pub const DTYPE_MISMATCH: Rule = Rule {
    code: "D104",
    slug: "dtype-mismatch",
    severity: Severity::Info,
    summary: "a tensor is stored in a different dtype in the two checkpoints",
    detects: "Tensors present on both sides with different stored dtypes. Values are still compared as \
              their logical f32 values.",
    why: "A dtype change is expected in a conversion but decides the numeric range: an fp32 tensor \
          stored as fp16 can overflow, one stored as bf16 loses precision.",
    cause: "A deliberate precision conversion, or a mixed-precision export that converted only some \
            tensors.",
    fix: "Nothing when intended; otherwise check the value metrics of the pair and convert again.",
    options: "",
};

pub const BEYOND_TOLERANCE: Rule = Rule {
    code: "D105",
    slug: "values-beyond-tolerance",
    severity: Severity::Warning,
    summary: "a tensor's values differ beyond the tolerance",
    detects: "Common tensors with at least one element pair where both values are finite and \
              |b − a| > atol + rtol·|a| (numpy.allclose with A as the reference). The finding carries \
              the count, the first such element's coordinate, the max abs diff, relative L2 error, \
              cosine similarity and SQNR.",
    why: "A weight that drifted beyond what the dtype conversion explains changes what the layer \
          computes; after a faulty quantization the drift is what turns into overflow and NaN downstream.",
    cause: "Quantization or precision loss larger than expected, a fine-tune or merge applied to one \
            side, a wrong dequantization formula, or a bug in a conversion script.",
    fix: "Look at the SQNR and cosine: a low SQNR after quantization calls for keeping the module in \
          higher precision (`weights --simulate`); a cosine far from 1 means the tensors are unrelated.",
    options: "--rtol R (1e-3), --atol A (1e-5)",
};

pub const NONFINITE_ONE_SIDE: Rule = Rule {
    code: "D106",
    slug: "nonfinite-one-side",
    severity: Severity::Error,
    summary: "NaN or Inf appears on one side only",
    detects: "Element positions that are NaN or ±Inf in exactly one of the two checkpoints, or \
              non-finite of a different kind on each side.",
    why: "The conversion produced values that were finite in the reference; one NaN weight makes its \
          layer's output NaN, which spreads through the denoising steps to black frames.",
    cause: "Overflow during a precision cast (fp32 → fp16 above 65504, an unsaturated fp8 cast), a NaN \
            quantization scale, or corrupted storage.",
    fix: "Convert the tensor again with clamping or in a wider dtype, or keep its module unconverted.",
    options: "",
};

pub const NO_TENSORS: Rule = Rule {
    code: "D107",
    slug: "side-without-tensors",
    severity: Severity::Error,
    summary: "one side of the comparison yields no readable tensors",
    detects: "A side (file or directory) in which no tensor could be read; the key-by-key comparison is \
              skipped instead of listing every key as missing. The format findings say why.",
    why: "Comparing against nothing would hide the real cause (an unreadable or unsupported file) \
          under a flood of missing-key findings.",
    cause: "A wrong path, an unsupported or corrupt file, or a directory without checkpoints.",
    fix: "Point the side at a readable checkpoint file or folder.",
    options: "",
};

pub const DUPLICATE_ACROSS_FILES: Rule = Rule {
    code: "D108",
    slug: "duplicate-across-files",
    severity: Severity::Warning,
    summary: "a tensor name appears in two files of the same side",
    detects: "A directory side whose files hold the same tensor name more than once. The first file in \
              sorted order is compared; the others are ignored.",
    why: "Loaders that merge several files keep whichever comes last or first, so which values the model \
          runs with depends on load order.",
    cause: "Stale shards or copies left beside a checkpoint (`model.safetensors` next to `model.fp16.safetensors`).",
    fix: "Compare a single file, or remove the stale copies from the directory.",
    options: "",
};

pub const PREFIX_NOT_FOUND: Rule = Rule {
    code: "D109",
    slug: "prefix-not-found",
    severity: Severity::Warning,
    summary: "no tensor of B starts with the prefix to strip",
    detects: "`--strip-prefix P` was given but none of B's tensor names starts with P.",
    why: "The alignment did nothing, so the key sets are compared unaligned and every key may show as \
          missing and extra.",
    cause: "A misspelt prefix, or the prefix is on A's side (swap A and B).",
    fix: "Check the prefix against B's names (`nanscope weights B --all-tensors`), or swap the arguments.",
    options: "--strip-prefix P",
};

pub const VALUES_DAMAGED: Rule = Rule {
    code: "D110",
    slug: "values-damaged",
    severity: Severity::Error,
    summary: "a tensor's values differ so much that B computes something else",
    detects: "Tensor pairs beyond the tolerance whose SQNR (10·log10(‖a‖² / ‖b − a‖²), A the reference) \
              is below `--error-sqnr` or whose cosine similarity is below `--error-cosine`. Such a pair is \
              reported here instead of as D105: rounding by any healthy conversion keeps the SQNR far above \
              the threshold (fp16 about 70 dB, int8 about 40 dB, int4 groups and NF4 about 20 dB), so a \
              pair below it is not drift but a different tensor. Quantized tensors are compared through \
              their dequantized values.",
    why: "A layer whose weights no longer resemble the reference's produces wrong features at every \
          denoising step; the error compounds over the steps into noise, or into fp16 overflow, NaN and \
          black frames.",
    cause: "A quantization with a broken scale or an outlier-set per-tensor scale, codes and scales from \
            different tensors (a mis-keyed conversion), a merge or LoRA applied with the wrong factor, or \
            a tensor overwritten by another of the same shape.",
    fix: "Re-run the conversion for the tensor from the reference; check its scale with \
          `nanscope weights B`, and keep the module out of quantization if its weights carry outliers.",
    options: "--error-sqnr DB (10), --error-cosine C (0.95)",
};

pub const RULES: &[&Rule] = &[
    &MISSING_IN_B,
    &EXTRA_IN_B,
    &SHAPE_MISMATCH,
    &DTYPE_MISMATCH,
    &BEYOND_TOLERANCE,
    &NONFINITE_ONE_SIDE,
    &NO_TENSORS,
    &DUPLICATE_ACROSS_FILES,
    &PREFIX_NOT_FOUND,
    &VALUES_DAMAGED,
];
