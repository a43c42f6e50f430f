//! `W` rules: numerical hazards in stored weights.

use super::Rule;
use crate::report::Severity;

pub const NONFINITE_VALUES: Rule = Rule {
    code: "W101",
    slug: "nonfinite-values",
    severity: Severity::Error,
    summary: "a tensor holds NaN or infinite values",
    detects: "NaN, +Inf or -Inf elements stored in a weight tensor. The finding names the tensor, the \
              counts of each kind and the N-d coordinate of the first non-finite element in row-major order.",
    why: "Every matrix product or convolution that touches a NaN weight yields NaN, and NaN survives \
          every later operation (clamp keeps it, softmax spreads it across the row). In a diffusion \
          pipeline the first denoising step turns the latents NaN and the VAE decodes them to a black or \
          blank video.",
    cause: "A diverged fine-tune or LoRA merge, an fp32 to fp16/fp8 conversion that overflowed, a \
            corrupted download or a bad quantization scale baked into the weights.",
    fix: "Restore the tensor from a known-good checkpoint or re-run the conversion from the fp32 \
          source. Do not patch NaN to zero: the surrounding weights are usually damaged too.",
    options: "",
};

pub const TARGET_OVERFLOW: Rule = Rule {
    code: "W102",
    slug: "target-overflow",
    severity: Severity::Error,
    summary: "finite values too large for the inference dtype",
    detects: "Finite values whose magnitude exceeds the largest finite value of the target dtype \
              (`--target-dtype`, default fp16: 65504; bf16: 3.39e38). The evidence counts them.",
    why: "Casting the checkpoint to the inference dtype turns these values into +/-Inf, and the first \
          layer that uses them produces Inf and then NaN (Inf - Inf, 0 x Inf), which spreads to every \
          later step and decodes to black frames.",
    cause: "A checkpoint trained or merged in fp32/bf16 and run in fp16, typically VAE or \
            normalization weights, or a dequantized tensor with a huge scale.",
    fix: "Run that component in fp32 or bf16 (for a VAE: force_upcast), use an fp16-fixed variant, or \
          rescale the layer and its consumer so the product is unchanged.",
    options: "--target-dtype fp16|bf16|none (fp16)",
};

pub const TARGET_UNDERFLOW: Rule = Rule {
    code: "W103",
    slug: "target-underflow",
    severity: Severity::Warning,
    summary: "a large share of non-zero values underflow in the inference dtype",
    detects: "Tensors in which the share of non-zero finite values that become zero or subnormal in the \
              target dtype (fp16: |x| < 6.10e-5) exceeds `--underflow-share`.",
    why: "Weights that flush to zero or lose most of their precision silently change the layer: \
          attention or normalization that relies on small values drifts, and LoRA deltas vanish.",
    cause: "Weights stored in fp32/bf16 with very small magnitudes, or a scale folded into the weights.",
    fix: "Keep the layer in bf16/fp32, or fold a scale out of the weights into the following layer.",
    options: "--underflow-share FRACTION (0.1)",
};

pub const ALL_ZERO_TENSOR: Rule = Rule {
    code: "W104",
    slug: "all-zero-tensor",
    severity: Severity::Warning,
    summary: "every element of a tensor is zero",
    detects: "Float tensors whose elements are all exactly zero. The finding is an error for \
              normalization scales (GroupNorm/LayerNorm/RMSNorm weights), which must never be zero, and \
              info for parameters that layers initialise to zero (biases of any layer, norm shifts \
              `beta`, `*_bias`, BatchNorm `running_mean`). Integer and boolean tensors (counters such as \
              `num_batches_tracked`, index buffers, masks) are not weights and are never judged.",
    why: "A zero normalization scale zeroes the whole activation; the next normalization then divides \
          by a zero variance and produces NaN. A zero weight matrix disables its layer. Zero-initialised \
          output projections (ControlNet-style zero convs) are legitimate before training.",
    cause: "A key that was never written (a loader filled it with zeros), a failed conversion or a \
            pruned/merged checkpoint.",
    fix: "Check that the checkpoint was saved after training and that every key was converted; restore \
          the tensor from the source checkpoint.",
    options: "",
};

pub const SUBNORMAL_VALUES: Rule = Rule {
    code: "W105",
    slug: "subnormal-values",
    severity: Severity::Info,
    summary: "a tensor holds subnormal values in its own dtype",
    detects: "Non-zero values below the smallest normal number of the tensor's own dtype.",
    why: "Subnormals carry few significant bits and are flushed to zero by many GPU kernels (FTZ), so the \
          layer computes with different weights than the file holds. They are often harmless.",
    cause: "Tiny weights after a precision conversion, or decayed weights of unused channels.",
    fix: "Usually nothing; if the layer matters, store it in a wider dtype.",
    options: "",
};

pub const EXTREME_DYNAMIC_RANGE: Rule = Rule {
    code: "W106",
    slug: "extreme-dynamic-range",
    severity: Severity::Warning,
    summary: "a few values lie far outside the tensor's spread",
    detects: "Float tensors whose most extreme value lies more than `--range-ratio` standard deviations \
              from the mean (the z-score of the extreme element; measuring from the mean keeps \
              normalization scales near 1.0 from firing). A Gaussian tensor of 100M elements stays \
              below 7; an outlier this far out dominates the tensor's absmax.",
    why: "A few huge outliers dominate the tensor's range: per-tensor quantization then rounds every \
          other weight to zero, and fp16 activations computed with these weights are close to overflow.",
    cause: "Outlier features learnt by the model, a diverging fine-tune, or a single corrupted element.",
    fix: "Inspect the outliers; keep the layer out of quantization (see `weights --simulate`), or use \
          per-channel or group quantization.",
    options: "--range-ratio RATIO (100)",
};

pub const RULES: &[&Rule] = &[
    &NONFINITE_VALUES,
    &TARGET_OVERFLOW,
    &TARGET_UNDERFLOW,
    &ALL_ZERO_TENSOR,
    &SUBNORMAL_VALUES,
    &EXTREME_DYNAMIC_RANGE,
];
