//! `Q` rules: quantized checkpoints whose scales, zero points, codes or
//! layout are broken. Dequantized values are judged by the `W` rules under
//! the logical tensor name (overflow of the target dtype is `W102`).

use super::Rule;
use crate::report::Severity;

const SCALE_WHY: &str = "Every weight of a quantized row, group or block is its code times the scale: a \
    broken scale breaks all of them at once, and the matrix product that uses the row spreads the damage \
    to every output of the layer.";

pub const SCALE_NONFINITE: Rule = Rule {
    code: "Q101",
    slug: "scale-nonfinite",
    severity: Severity::Error,
    summary: "a quantization scale is NaN or infinite",
    detects: "Scales (per tensor, channel, group or GGUF block `d`/`dmin`) that are NaN or +/-Inf. The \
              finding counts them and gives the first offending row, group or block in `subject.block`; \
              ggml checks this only with --check-tensors, gguf-py and most writers never do.",
    why: SCALE_WHY,
    cause: "Quantizing a layer whose calibration statistics were NaN (a diverged activation, an all-zero \
            importance-matrix column, llama.cpp#8661), or an fp16 scale that overflowed.",
    fix: "Re-quantize the layer from the floating-point source after fixing the source weights or \
          calibration data, or keep that layer unquantized.",
    options: "",
};

pub const SCALE_ZERO: Rule = Rule {
    code: "Q102",
    slug: "scale-zero",
    severity: Severity::Warning,
    summary: "a quantization scale is zero",
    detects: "Scales that are exactly zero: every weight of that row, group or block dequantizes to zero \
              (or to the bare offset). Counts and the first block are reported.",
    why: "A zero scale silently deletes part of a layer. In a U-Net or DiT a dead output channel shifts \
          the next normalization's statistics; a fully zero layer disables its branch.",
    cause: "A group that was all zeros (pruned weights), an fp16 scale that underflowed to zero, or a \
            writer that replaced NaN with zero.",
    fix: "Check the source weights of that block; re-quantize with float32 scales or keep the layer in \
          higher precision.",
    options: "",
};

pub const SCALE_NEGATIVE: Rule = Rule {
    code: "Q103",
    slug: "scale-negative",
    severity: Severity::Error,
    summary: "a scale is negative in a scheme that only writes positive scales",
    detects: "Negative scales where the scheme derives them from an absolute maximum or a range (Q8_0, \
              Q4_1, Q5_1, Q2_K/Q4_K/Q5_K `d` and `dmin`, bitsandbytes, FP8, GPTQ/AWQ, compressed-tensors). \
              Q4_0, Q5_0, Q3_K and Q6_K may legitimately store negative `d` and are not judged.",
    why: "A negative scale flips the sign of a whole row or block of weights, which the model cannot \
          compensate: outputs drift at every step and usually saturate to NaN downstream.",
    cause: "Corrupted bytes, a sign bug in a custom converter, or a scale written as a different dtype.",
    fix: "Re-convert the checkpoint with the scheme's reference tool.",
    options: "",
};

pub const SCALE_SUBNORMAL: Rule = Rule {
    code: "Q104",
    slug: "scale-subnormal",
    severity: Severity::Info,
    summary: "a scale is subnormal in its stored dtype",
    detects: "Non-zero scales below the smallest normal number of their stored dtype (fp16: 6.1e-5, which \
              is the case for GGUF blocks whose largest weight is below about 0.0078 in Q8_0).",
    why: "Subnormal scales carry only a few significant bits, and GPU kernels that flush subnormals to \
          zero turn the whole block into zeros.",
    cause: "Layers with very small weights quantized with fp16 scales.",
    fix: "Usually harmless for tiny layers; otherwise store scales in float32 or keep the layer unquantized.",
    options: "",
};

pub const ZERO_POINT_OUT_OF_RANGE: Rule = Rule {
    code: "Q105",
    slug: "zero-point-out-of-range",
    severity: Severity::Error,
    summary: "a zero point lies outside the code range",
    detects: "Zero points (compressed-tensors `weight_zero_point`, quanto integer `_shift`, GPTQ v1 \
              `qzeros` + 1) outside the range of codes the scheme can store, e.g. 9 for signed 4-bit \
              codes or 16 for unsigned 4-bit codes.",
    why: "With the zero point outside the code range no code dequantizes to zero and every weight of the \
          group is shifted, which biases every output of the layer.",
    cause: "Mixing signed and unsigned conventions (qint8 vs quint8, GPTQ v1 vs v2), or a converter that \
            wrapped a zero point of 0 to -1.",
    fix: "Re-quantize, or convert the zero points to the convention the loader expects.",
    options: "",
};

pub const CODES_SATURATED: Rule = Rule {
    code: "Q106",
    slug: "codes-saturated",
    severity: Severity::Warning,
    summary: "many codes sit at the ends of the code range",
    detects: "Int8, uint8, FP8 and GGUF Q8_0 codes in which the share of codes at qmin/qmax (or +/-448 for \
              e4m3) is above 2% and above four times what absmax scaling produces (one extreme code per \
              scale tile). Absmax codes of a uniformly distributed weight (PyTorch's default \
              initialisation) reach the ends about 1% of the time, so the threshold sits above that. \
              `subject.block` is the first tile with more than one extreme code.",
    why: "Saturated codes mean the values were clipped: the largest weights of the layer were cut to the \
          range edge, which distorts exactly the outlier features diffusion models rely on.",
    cause: "A scale computed from a percentile or from calibration data instead of the absolute maximum, \
            or an FP8 cast without a scale.",
    fix: "Re-quantize with absmax (or per-channel/group) scales, or keep the layer in higher precision.",
    options: "",
};

pub const SCALE_RATIO_OUTLIER: Rule = Rule {
    code: "Q107",
    slug: "scale-ratio-outlier",
    severity: Severity::Warning,
    summary: "some scales are far larger than the tensor's typical scale",
    detects: "Per-channel, group or block scales whose magnitude exceeds 1000 times the median scale of \
              the tensor. The evidence gives the largest ratio and the first offending block.",
    why: "A row or block with a huge scale holds outlier weights; after dequantization those weights are \
          near the fp16 limit and activations computed from them overflow first.",
    cause: "Outlier channels learnt by the model, or a corrupted scale.",
    fix: "Inspect that block; keep the layer in higher precision or use a scheme with smaller groups.",
    options: "",
};

pub const PACKED_SIZE_MISMATCH: Rule = Rule {
    code: "Q108",
    slug: "packed-size-mismatch",
    severity: Severity::Error,
    summary: "packed codes, scales or shapes disagree with the declared shape",
    detects: "Schemes whose pieces do not fit together: `weight_packed` columns that do not match \
              `weight_shape` at the configured bits, bitsandbytes quant-state shapes that do not match the \
              packed bytes or the absmax count, GPTQ/AWQ `qweight`, `qzeros`, `scales` and `g_idx` shapes \
              that disagree, scale grids that do not tile the weight, or torch per-channel quantized \
              tensors whose scales or zero points differ in length from the size along their axis, or \
              whose axis lies outside the tensor.",
    why: "A loader either refuses the layer or unpacks codes with the wrong stride, turning the layer \
          into noise that the rest of the model amplifies.",
    cause: "A checkpoint converted with a different bit width or group size than its config says, or \
            pieces from two conversions mixed in one file.",
    fix: "Re-export the checkpoint in one go with the reference tool, and check the config beside it.",
    options: "",
};

pub const MISSING_PIECE: Rule = Rule {
    code: "Q109",
    slug: "missing-piece",
    severity: Severity::Error,
    summary: "a quantized weight lacks its scale or another required piece",
    detects: "Quantized weights without the tensors their scheme needs: an int8/FP8 weight without \
              `weight_scale`/`SCB`/`_scale` in a quantized checkpoint, `qweight` without `scales`, \
              a pack-quantized weight without `weight_shape`, a scale without its weight.",
    why: "Loaders that load with `strict=False` (as EchoMimicV2 does) keep the raw codes as weights, or \
          the reference FP8 converter copies the bytes without scaling: values are off by the scale \
          factor, activations explode and the video comes out black.",
    cause: "A key renamed or dropped during conversion, or a partial export.",
    fix: "Re-export the checkpoint so every quantized weight has its scale, or restore the layer from \
          the unquantized source.",
    options: "",
};

pub const FP8_NAN_CODES: Rule = Rule {
    code: "Q110",
    slug: "fp8-nan-codes",
    severity: Severity::Error,
    summary: "FP8 codes encode NaN",
    detects: "FP8 weights holding NaN encodings: 0x7F/0xFF in e4m3fn, 0x7D-0x7F/0xFD-0xFF in e5m2, 0x80 \
              in the fnuz variants. The first offending element's index and block are reported.",
    why: "A NaN weight makes every output it touches NaN; one NaN code poisons the whole layer's output \
          row and, through attention and normalization, the whole latent.",
    cause: "An unclamped cast: fp32 to e4m3fn maps |x| >= 480 (and 464 < |x| < 480 by rounding) to the \
            NaN code instead of saturating at 448.",
    fix: "Re-quantize with a scale (amax/448) and clamp to +/-448 before the cast.",
    options: "",
};

pub const FP8_INF_CODES: Rule = Rule {
    code: "Q111",
    slug: "fp8-inf-codes",
    severity: Severity::Error,
    summary: "e5m2 codes encode infinity",
    detects: "FP8 e5m2 weights holding 0x7C or 0xFC (+/-Inf).",
    why: "An infinite weight produces Inf and then NaN (Inf - Inf, 0 x Inf) in the first matrix product.",
    cause: "An unclamped fp32 to e5m2 cast of values at or above 61440.",
    fix: "Re-quantize with a scale and clamp to +/-57344 before the cast.",
    options: "",
};

pub const CODE_BOOK_MISMATCH: Rule = Rule {
    code: "Q112",
    slug: "code-book-mismatch",
    severity: Severity::Warning,
    summary: "a stored 4-bit code book differs from the NF4/FP4 table",
    detects: "bitsandbytes `quant_map` tensors whose 16 values differ from the NF4 or FP4 table the quant \
              state names. `subject.block` is the first differing code.",
    why: "bitsandbytes dequantizes with the stored map; a different map changes every weight of the layer, \
          and other loaders that use the built-in table disagree with it.",
    cause: "A corrupted or hand-edited checkpoint, or a quant state that names the wrong type.",
    fix: "Re-quantize the layer, or fix the quant type in the quant state.",
    options: "",
};

pub const GROUP_INDEX_OUT_OF_RANGE: Rule = Rule {
    code: "Q113",
    slug: "group-index-out-of-range",
    severity: Severity::Error,
    summary: "a GPTQ g_idx entry names a group that does not exist",
    detects: "`g_idx` values that are negative or not below the number of scale groups. `subject.block` is \
              the first offending input column.",
    why: "Kernels index scales with g_idx without bounds checks: the column reads another tensor's memory \
          or crashes the kernel.",
    cause: "A g_idx from a different group size or an act-order permutation saved without its scales.",
    fix: "Re-export the layer with the GPTQ tool that produced it.",
    options: "",
};

pub const AMBIGUOUS_FORMAT: Rule = Rule {
    code: "Q114",
    slug: "ambiguous-format",
    severity: Severity::Info,
    summary: "the scheme's variant cannot be told from the file alone",
    detects: "GPTQ checkpoints without a config that says `checkpoint_format` (v1 stores zero points minus \
              one, v2 does not). nanscope reads them as v1, the common case.",
    why: "Loading v2 weights as v1 (or the reverse) shifts every weight by one scale step and produces \
          gibberish (vllm#26343).",
    cause: "A checkpoint copied without its `quantize_config.json` or `config.json`.",
    fix: "Keep the config beside the weights, with `checkpoint_format` set.",
    options: "",
};

pub const INVALID_QUANT_STATE: Rule = Rule {
    code: "Q115",
    slug: "invalid-quant-state",
    severity: Severity::Error,
    summary: "a bitsandbytes quant state is not readable",
    detects: "`weight.quant_state.bitsandbytes__nf4/__fp4` tensors that are not JSON or lack `shape` and \
              `blocksize`.",
    why: "bitsandbytes cannot rebuild the layer: loading fails, or the weight keeps its random init when \
          loading is not strict.",
    cause: "A truncated or hand-edited checkpoint.",
    fix: "Re-save the quantized model with bitsandbytes.",
    options: "",
};

pub const UNDECODED_SCHEME: Rule = Rule {
    code: "Q116",
    slug: "undecoded-scheme",
    severity: Severity::Info,
    summary: "a quantized tensor is recognised but not dequantized",
    detects: "Quantized tensors whose variant nanscope recognises but does not decode (3-bit GPTQ, packed \
              zero points). They are listed without statistics.",
    why: "Their values are not checked, so NaN or overflow in them would go unnoticed.",
    cause: "A scheme variant outside what nanscope decodes.",
    fix: "Check these layers with the scheme's own tools, or convert them to a decoded variant.",
    options: "",
};

pub const CODES_ZEROED: Rule = Rule {
    code: "Q117",
    slug: "quant-zeroed-weights",
    severity: Severity::Warning,
    summary: "most weights of a quantized tensor or tile dequantize to exactly zero",
    detects: "Quantized tensors (every recognised scheme) in which more than half of the weights (`zeroed \
              share`, 0.5) dequantize to exactly zero, over the whole tensor or within a tile that shares \
              one scale (row, channel, group, block). Judged from the stored codes alone, without the \
              float reference. The finding is an error when 90% of the whole tensor is zero, and names the \
              share, the zero count and, for a per-tensor scale, the distinct codes in use (effective \
              bits). Tiles entirely zero are counted apart (`zero_tiles`) and an all-zero tensor is left \
              to W104. Healthy tensors sit far below the threshold: about 1% zeros for int8 absmax scales, \
              6-13% for 4-bit groups and NF4.",
    why: "A weight rounded to zero is a connection removed. When one outlier sets a per-tensor scale \
          (scale = absmax/127), every weight below half a step becomes code 0: the layer keeps its outlier \
          and loses everything else, computes a different function, and the error compounds over the \
          denoising steps.",
    cause: "A per-tensor scale set by an outlier (see Q119), a scale computed from the wrong data or too \
            large by a factor, or codes overwritten with zeros.",
    fix: "Re-quantize the tensor per channel or per group, or keep its module in higher precision \
          (`weights --simulate` on the float checkpoint lists the modules to exclude).",
    options: "",
};

pub const FEW_CODES: Rule = Rule {
    code: "Q118",
    slug: "quant-few-codes",
    severity: Severity::Warning,
    summary: "a quantized tile uses far fewer distinct codes than its format offers",
    detects: "Tiles (the values sharing one scale) whose distinct dequantized values, log2 of which are the \
              tile's effective bits, fall below half the bits the tile could use: the format's bits, or \
              log2 of the tile's size when the tile is smaller than the code range. Tiles of fewer than 16 \
              values and formats wider than 8 bits are not judged. Not reported when Q117 already is for \
              the tensor.",
    why: "A tile that uses three of 256 codes carries under 2 bits per weight: its weights are a few \
          levels apart and the layer's output is coarse even when few weights are exactly zero.",
    cause: "A scale far larger than the weights need (an outlier, a scale from other data), or weights \
            that were already quantized to few levels before this conversion.",
    fix: "Re-quantize with a scale from the tile's own absmax, a finer granularity, or keep the module in \
          higher precision.",
    options: "",
};

pub const SCALE_SET_BY_OUTLIER: Rule = Rule {
    code: "Q119",
    slug: "quant-scale-set-by-outlier",
    severity: Severity::Warning,
    summary: "a quantization scale is set by a few outliers far above the bulk of its weights",
    detects: "Tiles whose largest dequantized magnitude (which an absmax scale is made from) exceeds 50 \
              times the 90th percentile of |w| in the tile. The finding gives the absmax, that bulk value, \
              the ratio (`inf` when the bulk itself rounded to zero) and how many values lie above the \
              limit. Healthy tiles stay under about 4 (Gaussian weights) to 10 (heavy-tailed ones).",
    why: "The scale spends the code range on the outliers: the bulk of the weights gets a handful of codes \
          or rounds to zero (Q117, Q118), so the layer keeps its outliers and loses its signal.",
    cause: "Outlier weights learnt by the model or left by a diverging fine-tune, or one corrupted \
            element, quantized with a per-tensor (or too coarse) scale.",
    fix: "Quantize the tensor per channel or in groups, clip the outliers before quantizing, or keep the \
          module in higher precision.",
    options: "",
};

pub const DEAD_SCALE: Rule = Rule {
    code: "Q120",
    slug: "dead-channel-scale",
    severity: Severity::Warning,
    summary: "a scale is orders of magnitude below its siblings' median: a dead channel",
    detects: "Per-channel, group or block scales (every recognised scheme, GGUF block scales included) \
              that are non-zero but more than 1000 times smaller than the median scale of the tensor \
              (needs 8 or more non-zero scales). An fp16 scale of 1e-7 among scales near 1e-2 is one. \
              Zero scales are Q102; subnormal scales are also Q104 (info), which this rule does not replace.",
    why: "The channel's weights dequantize to values 1000 times smaller than their neighbours', so the \
          channel contributes nothing: its output feature is dead, and a later normalization divides by \
          its near-zero variance.",
    cause: "A scale that underflowed when it was cast to fp16 or fp8, a scale from an unused (zero) \
            channel during calibration, or a corrupted scale.",
    fix: "Recompute the channel's scale from its weights (or store scales in fp32/bf16); if the channel \
          is genuinely unused, check that the float checkpoint has it near zero too.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &SCALE_NONFINITE,
    &SCALE_ZERO,
    &SCALE_NEGATIVE,
    &SCALE_SUBNORMAL,
    &ZERO_POINT_OUT_OF_RANGE,
    &CODES_SATURATED,
    &SCALE_RATIO_OUTLIER,
    &PACKED_SIZE_MISMATCH,
    &MISSING_PIECE,
    &FP8_NAN_CODES,
    &FP8_INF_CODES,
    &CODE_BOOK_MISMATCH,
    &GROUP_INDEX_OUT_OF_RANGE,
    &AMBIGUOUS_FORMAT,
    &INVALID_QUANT_STATE,
    &UNDECODED_SCHEME,
    &CODES_ZEROED,
    &FEW_CODES,
    &SCALE_SET_BY_OUTLIER,
    &DEAD_SCALE,
];
