//! `R` rules of the replay engine's precision experiments (R160–R179).

use super::Rule;
use crate::report::Severity;

pub const BISECT_KEEP: Rule = Rule {
    code: "R160",
    slug: "bisect-keep-modules",
    severity: Severity::Warning,
    summary: "modules that must stay in higher precision for a finite output",
    detects: "A minimal set of Linear/Conv modules, found by delta debugging over the model's modules, that \
              makes the replayed frames finite when those modules alone are kept in fp32 and unquantized \
              while everything else keeps the spec's dtype and quantization.",
    why: "The run with the spec's precision decodes NaN/Inf frames; these modules are where the reduced \
          precision or the quantized weights break the numbers, so converting them is what ruins the video.",
    cause: "Quantization rounding or the fp16 range pushes an activation of these modules past the largest \
            finite value (65504 in fp16); everything after them only propagates the overflow.",
    fix: "Exclude the listed modules from quantization (the finding prints them as a JSON and a Python list, \
          ready for torchao's or quanto's exclude options) or run them in fp32/bf16; then replay again with \
          `--quantize-modules` or the spec's `exclude` to confirm the output is finite.",
    options: "--bisect",
};

pub const BISECT_NO_FIX: Rule = Rule {
    code: "R161",
    slug: "bisect-no-fix",
    severity: Severity::Warning,
    summary: "keeping every module in fp32 and unquantized does not make the output finite",
    detects: "Bisection's first check: the replay with every candidate module in fp32 and unquantized still \
              decodes non-finite frames, so no subset of them can be the fix.",
    why: "The damage does not come from the precision plan: it is in the weights, the inputs, the scheduler \
          configuration or a module the engine runs outside the candidates (norms, attention softmax).",
    cause: "NaN/Inf stored in the weights, non-finite conditioning or latents, or a scheduler hazard such as \
            epsilon prediction with zero terminal SNR.",
    fix: "Read the producer finding (R120) of the same report, scan the weights with `nanscope weights` and \
          check the scheduler with `nanscope scheduler`.",
    options: "--bisect",
};

pub const BISECT_NOT_NEEDED: Rule = Rule {
    code: "R162",
    slug: "bisect-not-needed",
    severity: Severity::Info,
    summary: "the replay is already finite, so there is nothing to bisect",
    detects: "`--bisect` was asked for, but the replay with the spec's precision decodes finite frames.",
    why: "Bisection searches for modules whose precision breaks the output; a finite output has none.",
    cause: "The precision plan is safe for this spec, or the overflow needs inputs, steps or a size the spec \
            does not reproduce.",
    fix: "Nothing to fix for this spec; watch the near-overflow warnings (R122), which show the modules \
          closest to the edge of their dtype.",
    options: "--bisect",
};

pub const RULES: &[&Rule] = &[&BISECT_KEEP, &BISECT_NO_FIX, &BISECT_NOT_NEEDED];
