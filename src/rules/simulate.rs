//! `Q2xx` rules: damage that `weights --simulate SCHEME` predicts for a
//! conversion before it is made.

use super::Rule;
use crate::report::Severity;

pub const LOW_SQNR: Rule = Rule {
    code: "Q201",
    slug: "simulated-low-sqnr",
    severity: Severity::Warning,
    summary: "the simulated scheme leaves an output channel with too little signal",
    detects: "Tensors whose worst output channel (row of dim 0), after quantize-dequantize under the \
              simulated scheme, has a signal-to-quantization-noise ratio below `--min-sqnr`. SQNR is \
              10·log10(Σx² / Σ(x − q)²). The worst channel is reported in `subject.block`. The whole-tensor \
              figure is in the evidence, but the rule judges the worst channel: one outlier holding most \
              of a tensor's energy keeps the whole-tensor SQNR high while every other channel is wiped out.",
    why: "Each output channel is a feature the next layer reads. A channel whose weights are mostly \
          rounding noise produces a wrong feature at every denoising step; in a UNet the error compounds \
          over the steps and can push fp16 activations into overflow, then NaN and black frames.",
    cause: "Outlier weights that set a per-tensor scale far above the typical weight, too few bits for the \
            layer's spread, or a group/channel whose values do not straddle zero (asymmetric clipping).",
    fix: "Keep the tensor's module in higher precision (the exclude list is ready to paste into \
          `modules_to_not_convert` or a torchao `filter_fn`), or use a finer granularity (per channel, \
          groups) for it.",
    options: "--min-sqnr DB (by scheme: int8 and int8-channel 20, int4-g128 10, fp8-e4m3 15, fp16 40, bf16 30)",
};

pub const ZEROED_WEIGHTS: Rule = Rule {
    code: "Q202",
    slug: "simulated-zeroed-weights",
    severity: Severity::Warning,
    summary: "the simulated scheme rounds a large share of non-zero weights to zero",
    detects: "Tensors in which more than `--max-zeroed-share` of the non-zero finite weights become exactly \
              zero after quantize-dequantize (their magnitude is below half a quantization step, or below \
              the cast dtype's smallest subnormal).",
    why: "A zeroed weight removes a connection. When most of a layer's weights vanish the layer computes \
          something else entirely, and the damage does not show in a whole-tensor error figure when a \
          few large weights dominate it.",
    cause: "A per-tensor scale set by a few outliers (the step becomes larger than most weights), or very \
            small weights cast to a dtype that flushes them.",
    fix: "Quantize this module per channel or per group, or keep it in higher precision (exclude list).",
    options: "--max-zeroed-share FRACTION (0.5)",
};

pub const CLIPPED_WEIGHTS: Rule = Rule {
    code: "Q203",
    slug: "simulated-clipping",
    severity: Severity::Warning,
    summary: "the simulated scheme clips weights outside its range",
    detects: "Tensors in which more than `--max-clipped-share` of the weights lay outside the representable \
              range, so clamping moved them by more than the half step that rounding can. Symmetric \
              absmax scales never clip (torchao's absmax/127.5 moves the largest positive weight by \
              exactly half a step, which is not counted); asymmetric int4 groups clip when a group does \
              not contain zero, because the zero point is clamped to [0, 15].",
    why: "A clipped weight is wrong by more than a rounding error, and clipping hits the largest weights, \
          which carry the most signal.",
    cause: "Groups whose values are all of one sign under min/max asymmetric quantization, or a range \
            computed from other data than the tensor (a stale or shared scale).",
    fix: "Use symmetric quantization for the module, a smaller group, or keep it in higher precision.",
    options: "--max-clipped-share FRACTION (0.001)",
};

pub const OVERFLOW: Rule = Rule {
    code: "Q204",
    slug: "simulated-overflow",
    severity: Severity::Error,
    summary: "finite weights become Inf or NaN under the simulated scheme",
    detects: "Finite values that the simulated conversion turns into ±Inf (fp16 above 65504, bf16 above \
              3.39e38) or NaN (float8 e4m3fn casts do not saturate: a scaled magnitude above 464 becomes \
              the NaN code). These elements are counted in `overflow` and left out of the error figures.",
    why: "A single Inf or NaN weight makes every output of its layer non-finite at the first step, and \
          NaN spreads through the remaining steps to the decoded video, which comes out black.",
    cause: "Weights beyond the target dtype's range, often VAE or normalization weights trained in \
            fp32/bf16, or an fp8 scale that underflowed to a subnormal.",
    fix: "Keep the module in fp32/bf16, clamp before casting (saturating cast), or rescale the layer and \
          its consumer.",
    options: "",
};

pub const FP8_UNSCALED_NAN: Rule = Rule {
    code: "Q205",
    slug: "fp8-unscaled-cast-nan",
    severity: Severity::Warning,
    summary: "an unscaled float8 e4m3fn cast would store NaN for some weights",
    detects: "With `--simulate fp8-e4m3`: weights whose magnitude exceeds 464, which a plain \
              `weight.to(torch.float8_e4m3fn)` without a scale (layerwise casting, fp8 weight dtypes in UIs) \
              turns into the NaN code, since the cast does not saturate. The simulated scheme itself \
              scales by absmax/448 and is not affected.",
    why: "NaN codes in a stored weight make the layer output NaN whenever it runs, which propagates to \
          the latents and decodes to black frames.",
    cause: "Storing weights in fp8 by direct cast instead of scaled quantization.",
    fix: "Use a scaled fp8 scheme (per-tensor or per-channel scale), clamp to ±448 before casting, or keep \
          the module in bf16.",
    options: "",
};

pub const KEEP_HIGH_PRECISION: Rule = Rule {
    code: "Q206",
    slug: "diffusion-layer-kept-high-precision",
    severity: Severity::Info,
    summary: "the scheme would quantize a layer that diffusion tools keep in high precision",
    detects: "Tensors of modules that diffusion quantization tools leave unquantized by default, when the \
              simulated scheme (int8, int8-channel, int4-g128, fp8-e4m3) would quantize them: input and \
              output convolutions (`conv_in`, `conv_out`, `conv_shortcut`), time and condition embeddings \
              (`time_embedding`, `time_emb_proj`, `time_embed`, `add_embedding`, `time_text_embed`, \
              `context_embedder`, `t_embedder`, `time_in`, `txt_in`, `vector_in`, `guidance_in`, \
              `caption_projection`, `condition_embedder`), patch and position embeddings (`pos_embed`, \
              `patch_embed`, `patch_embedding`, `x_embedder`, `img_in`, `cap_embedder`), projections \
              (`proj_in`, `proj_out`), final layers (`norm_out`, `final_layer`) and normalization layers. \
              The list follows TensorRT Model Optimizer's default filter, ComfyUI-GGUF and SDNQ.",
    why: "These layers see every denoising step's timestep signal or map between latent and feature \
          space; small errors there shift the whole trajectory. They hold few parameters, so \
          quantizing them saves little memory for much risk.",
    cause: "A quantization call without a filter, applied to every Linear/Conv of the UNet or \
            transformer (EchoMimicV2's torchao `quantize_` on the whole denoising UNet).",
    fix: "Add the module to the exclude list (`modules_to_not_convert`, a torchao `filter_fn`, a \
          ModelOpt filter).",
    options: "",
};

pub const NONFINITE_INPUT: Rule = Rule {
    code: "Q207",
    slug: "simulated-nonfinite-input",
    severity: Severity::Error,
    summary: "a tensor given to the simulation already holds NaN or Inf",
    detects: "Tensors that hold NaN or ±Inf before any conversion. Scaled schemes compute their scale from \
              the absmax of a scope, and PyTorch's `amax` propagates NaN and Inf: the per-tensor scale of \
              `int8` and `fp8-e4m3`, the row's scale of `int8-channel` or the group's of `int4-g128` \
              becomes NaN or Inf, and every weight under it dequantizes to NaN (`0 · Inf` is NaN too). \
              The finding counts the non-finite inputs and the finite weights lost with them (`lost`); \
              lost weights are left out of the SQNR, so a tensor lost whole has no SQNR at all. Casts \
              (`fp16`, `bf16`) keep a NaN where it is and lose nothing else, but the tensor is still \
              reported.",
    why: "A NaN weight makes every output of its layer NaN at the first denoising step, and the NaN \
          reaches the decoded video, which comes out black. Under a per-tensor scheme one NaN takes \
          the whole tensor with it.",
    cause: "A checkpoint that is already damaged (a diverged fine-tune, a bad merge, an overflowing \
            conversion); `nanscope weights` without `--simulate` reports it as W101 with its coordinate.",
    fix: "Repair or restore the tensor from a good checkpoint before converting it; keeping the module in \
          high precision does not help, so it is not put on the exclude list.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &LOW_SQNR,
    &ZEROED_WEIGHTS,
    &CLIPPED_WEIGHTS,
    &OVERFLOW,
    &FP8_UNSCALED_NAN,
    &KEEP_HIGH_PRECISION,
    &NONFINITE_INPUT,
];
