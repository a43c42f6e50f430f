//! `R` rules: replay, trace and scheduler hazards. R101–R119 cover the
//! scheduler configuration (`nanscope scheduler`); R140–R149 the EchoMimicV2
//! replay (weights as shipped, context windows).

use super::Rule;
use crate::report::Severity;

pub const SCHEDULER_CONFIG_INVALID: Rule = Rule {
    code: "R101",
    slug: "scheduler-config-invalid",
    severity: Severity::Error,
    summary: "the file is not a usable scheduler configuration",
    detects: "A `scheduler_config.json` that Python's `json.load` would refuse too (the bare `NaN`, \
              `Infinity` and `-Infinity` that diffusers' `save_config` writes are read, and a non-finite \
              value that matters is judged by the other rules, e.g. a NaN `beta_start` by R115), whose top \
              level is not an object, or whose options have the wrong type (a string where diffusers expects a number, a negative \
              `num_train_timesteps`). The message names the key and what was found. `num_train_timesteps` \
              must lie between 1 and 100000.",
    why: "`DDIMScheduler.from_config` fails on such a file, or (for a wrong type Python happens to accept) \
          builds a schedule nobody intended; the pipeline either stops before the first step or denoises \
          with the wrong noise levels.",
    cause: "A hand-edited configuration with a syntax error, a file cut short by an interrupted download, \
            or a value quoted as a string.",
    fix: "Restore the file from the model's repository, or correct the key named in the message.",
    options: "",
};

pub const STEP_DIVIDES_BY_ZERO: Rule = Rule {
    code: "R102",
    slug: "step-divides-by-zero",
    severity: Severity::Error,
    summary: "a scheduled step divides by zero: NaN by construction",
    detects: "A step whose timestep has ᾱ_t = 0 (zero terminal SNR, `rescale_betas_zero_snr`) while \
              `prediction_type` is `epsilon`: DDIM recovers x0 as (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t and divides by \
              zero. Also a step with ᾱ_t = 1 under `sample` prediction, which divides by √(1−ᾱ_t). The \
              finding names the step and timestep.",
    why: "The predicted x0 is ±Inf (or NaN where the numerator is 0) at that step, the next latents are \
          Inf, and Inf − Inf in the following step makes them NaN: every frame decodes to black, whatever \
          the model and the weights.",
    cause: "A configuration written for a v-prediction model (EchoMimicV2, SD 2.x zero-SNR fine-tunes) \
            reused with `prediction_type` epsilon, or zero-SNR rescaling switched on for an epsilon model.",
    fix: "Use the prediction type the model was trained with: zero terminal SNR needs `v_prediction` (or \
          `sample`). If the model really predicts epsilon, turn `rescale_betas_zero_snr` off.",
    options: "",
};

pub const EPSILON_AMPLIFICATION: Rule = Rule {
    code: "R103",
    slug: "epsilon-amplification",
    severity: Severity::Warning,
    summary: "an epsilon step multiplies the model's error by more than 100",
    detects: "Steps with `epsilon` prediction whose ᾱ_t is below 1e-4, so that x0 = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t \
              multiplies any error in the predicted noise by more than 100. Reported as info when \
              `clip_sample` bounds the predicted x0.",
    why: "A small error in ε becomes a huge error in x0, and in fp16 the intermediate values move towards \
          the overflow range; the first steps then produce washed-out or saturated latents, or Inf in a \
          half-precision pipeline.",
    cause: "Zero-SNR rescaling with an epsilon model and leading spacing (the first timestep is close to \
            the terminal one), or the cosine schedule, whose last timesteps have ᾱ near 1e-9.",
    fix: "Use v-prediction for schedules that reach (almost) zero SNR, enable `clip_sample` for pixel-space \
          models, or start from a less noisy timestep.",
    options: "",
};

pub const OPTION_IGNORED: Rule = Rule {
    code: "R104",
    slug: "scheduler-option-ignored",
    severity: Severity::Info,
    summary: "an option the file sets has no effect in this configuration",
    detects: "Options DDIMScheduler reads but ignores here: `steps_offset` with `trailing` or `linspace` \
              spacing; `clip_sample_range` without `clip_sample`; `clip_sample` under `thresholding`; \
              dynamic-thresholding settings without `thresholding`; `beta_start`, `beta_end` and \
              `beta_schedule` next to `trained_betas`; `set_alpha_to_one` when no step of this schedule \
              moves past timestep 0. Only options the file sets, to a non-default value where that \
              matters, are reported.",
    why: "Nothing breaks by itself, but whoever wrote the option expected it to change the schedule. When \
          a run misbehaves, an option that silently does nothing is a common false lead, or the sign \
          that the configuration was copied from another model.",
    cause: "Configurations assembled from several sources (EchoMimicV2 keeps `steps_offset: 1` from SD's \
            leading schedule while using trailing spacing).",
    fix: "Remove the option, or switch to the setting it was meant for.",
    options: "",
};

pub const UNKNOWN_CONFIG_KEYS: Rule = Rule {
    code: "R105",
    slug: "scheduler-unknown-keys",
    severity: Severity::Info,
    summary: "the configuration has keys DDIMScheduler does not take",
    detects: "Keys other than DDIMScheduler's options and diffusers' `_`-prefixed bookkeeping keys, such as \
              `skip_prk_steps` (PNDM) or `use_karras_sigmas` (other samplers).",
    why: "`from_config` drops them without an error, so a setting the author relied on (Karras sigmas, a \
          different solver order) does not happen with DDIM.",
    cause: "A configuration saved from another scheduler class and loaded into DDIM, or a misspelt key \
            (`timestep_spacings`), which then silently keeps the default.",
    fix: "Check the spelling; if the key belongs to another scheduler, make sure the pipeline really uses \
          DDIM or port the setting.",
    options: "",
};

pub const SCHEDULER_CLASS_DIFFERS: Rule = Rule {
    code: "R106",
    slug: "scheduler-class-differs",
    severity: Severity::Info,
    summary: "the file was saved from a scheduler other than DDIM",
    detects: "`_class_name` names a scheduler other than `DDIMScheduler` (SD 1.5 ships a `PNDMScheduler` \
              configuration). nanscope shows the schedule `DDIMScheduler.from_config` builds from it.",
    why: "Other schedulers choose timesteps and step differently; if the pipeline keeps the named \
          scheduler, the schedule shown here is not the one it runs.",
    cause: "Pipelines commonly build DDIM from another scheduler's configuration; this is expected when \
            they do.",
    fix: "Confirm which scheduler the pipeline instantiates.",
    options: "",
};

pub const UNSUPPORTED_OPTION_VALUE: Rule = Rule {
    code: "R107",
    slug: "scheduler-option-unsupported",
    severity: Severity::Error,
    summary: "an option has a value DDIMScheduler does not support",
    detects: "`beta_schedule` other than linear, scaled_linear or squaredcos_cap_v2; `prediction_type` other \
              than epsilon, v_prediction or sample; `timestep_spacing` other than leading, trailing or \
              linspace; a `clip_sample_range` that is not a positive number while `clip_sample` is on.",
    why: "diffusers raises when it reaches the option: at construction for the beta schedule, in \
          `set_timesteps` for the spacing, at the first `step` for the prediction type; a non-positive \
          clip range clamps every predicted x0 to a constant and produces flat frames.",
    cause: "A value meant for another scheduler (`karras`, `sigmoid`), a typo, or a newer diffusers \
            option used with an older scheduler.",
    fix: "Use one of the supported values listed in the message.",
    options: "",
};

pub const THRESHOLDING_ON_LATENTS: Rule = Rule {
    code: "R108",
    slug: "thresholding-on-latents",
    severity: Severity::Error,
    summary: "dynamic thresholding is on for a latent diffusion model",
    detects: "`thresholding: true`. For latent models (the default assumption; `--space pixel` lowers it to \
              a warning) this is an error; in either case nanscope's DDIM step does not implement dynamic \
              thresholding, so a replay cannot reproduce it.",
    why: "Dynamic thresholding clamps the predicted x0 to a percentile and rescales it into [−1, 1], which \
          suits pixel-space models (Imagen); latents are not bounded that way, and clamping them distorts \
          colours and structure. diffusers' documentation calls it unsuitable for latent-space models.",
    cause: "A configuration copied from a pixel-space model (DeepFloyd IF) or switched on to fight \
            saturation at high guidance.",
    fix: "Set `thresholding` to false for latent models; lower the guidance scale instead.",
    options: "--space latent|pixel (latent)",
};

pub const CLIP_SAMPLE_ON_LATENTS: Rule = Rule {
    code: "R109",
    slug: "clip-sample-on-latents",
    severity: Severity::Warning,
    summary: "clip_sample clamps latents meant to be unbounded",
    detects: "`clip_sample: true` (DDIMScheduler's default when the key is missing) for a latent diffusion \
              model: every predicted x0 is clamped to ±`clip_sample_range`. Not reported with `--space \
              pixel`.",
    why: "Scaled SD latents regularly exceed ±1; clamping them at every step flattens contrast and \
          saturated regions, giving grey, washed-out or blotchy frames. It never produces NaN, so it is \
          easy to miss.",
    cause: "A configuration that omits `clip_sample`, so DDIM's pixel-space default applies, or one copied \
            from a DDPM pixel model.",
    fix: "Set `clip_sample: false` for latent models.",
    options: "--space latent|pixel (latent)",
};

pub const TOO_MANY_STEPS: Rule = Rule {
    code: "R110",
    slug: "too-many-steps",
    severity: Severity::Error,
    summary: "more inference steps than training timesteps",
    detects: "A step count larger than `num_train_timesteps`.",
    why: "diffusers' `set_timesteps` raises a ValueError, so the pipeline stops before the first step.",
    cause: "A step count meant for another model, or `num_train_timesteps` set too low.",
    fix: "Use at most `num_train_timesteps` steps.",
    options: "--steps N (50)",
};

pub const TIMESTEPS_INVALID: Rule = Rule {
    code: "R111",
    slug: "timesteps-invalid",
    severity: Severity::Error,
    summary: "the schedule has duplicate, extra or out-of-range timesteps",
    detects: "A timestep list that repeats a timestep, has a different length than the requested step \
              count, or contains a timestep outside 0..num_train_timesteps. diffusers' trailing spacing \
              builds its timesteps with a float `np.arange`, which for some step counts (61, 103, 121, 122, \
              … of 1000) yields one extra timestep, −1; leading spacing plus `steps_offset` can reach \
              `num_train_timesteps`.",
    why: "A timestep of −1 indexes ᾱ from the end of the table in Python (the noisiest value, 0 with zero \
          SNR) and runs one more step than asked, re-noising the nearly finished latents; an index past \
          the table raises IndexError; a repeated timestep runs a step that does not denoise.",
    cause: "An unlucky step count with trailing spacing, or a large `steps_offset`.",
    fix: "Choose another step count (the message says which ones around it are clean), or reduce \
          `steps_offset`.",
    options: "--steps N (50)",
};

pub const FINAL_STEP_NO_OP: Rule = Rule {
    code: "R112",
    slug: "final-step-no-op",
    severity: Severity::Warning,
    summary: "the last step does not reduce the noise",
    detects: "A last step whose target ᾱ is not above its own ᾱ_t: with `leading` spacing, `steps_offset` 0 \
              and `set_alpha_to_one: false`, the last step runs at t = 0 and targets ᾱ_0 again.",
    why: "The last step spends a full model evaluation and leaves the sample at the same noise level, so \
          the output keeps the residual noise of t = 0 and one step of the budget is wasted.",
    cause: "`set_alpha_to_one: false` (from SD's configuration) combined with `steps_offset: 0`.",
    fix: "Set `steps_offset: 1` (as SD does) or `set_alpha_to_one: true`.",
    options: "",
};

pub const RESIDUAL_FINAL_NOISE: Rule = Rule {
    code: "R113",
    slug: "residual-final-noise",
    severity: Severity::Info,
    summary: "the schedule ends short of a clean sample",
    detects: "A last step that targets ᾱ < 1 so that √(1−ᾱ) > 0.01 of predicted noise stays in the output: \
              `set_alpha_to_one: false` when the last step moves past timestep 0, or a last step that \
              lands on a timestep ≥ 0 (trailing spacing with 6 steps ends at t = 0, not at a clean sample). \
              A warning when more than 0.1 of noise remains (a small ᾱ_0 from a large `beta_start`, or a \
              schedule that stops early).",
    why: "The decoded frames keep a faint layer of the model's own noise estimate. SD 1.5 is configured \
          this way on purpose (about 0.03 of noise), so this is information, not a fault; it matters when \
          comparing outputs across schedulers or when a VAE is sensitive to it.",
    cause: "`set_alpha_to_one: false`, or a trailing/linspace schedule whose last step targets t = 0.",
    fix: "Nothing, unless clean outputs are required: then set `set_alpha_to_one: true`.",
    options: "",
};

pub const PREDICTION_TYPE_MISMATCH: Rule = Rule {
    code: "R114",
    slug: "prediction-type-mismatch",
    severity: Severity::Error,
    summary: "the configuration's prediction type differs from the model's",
    detects: "`prediction_type` differs from the one given with `--model-prediction` (what the denoiser \
              was trained to output).",
    why: "DDIM interprets the model output with the wrong formula: a v-prediction model read as epsilon \
          gives saturated garbage (and NaN at zero SNR); an epsilon model read as v gives grey noise. No \
          error is raised anywhere.",
    cause: "A scheduler configuration from the base model reused for a v-prediction fine-tune (or the \
            other way round).",
    fix: "Set `prediction_type` to what the model was trained with (its model card or training config).",
    options: "--model-prediction epsilon|v_prediction|sample",
};

pub const INVALID_BETAS: Rule = Rule {
    code: "R115",
    slug: "invalid-betas",
    severity: Severity::Error,
    summary: "the betas do not form a valid noise schedule",
    detects: "Betas that are not finite or lie outside [0, 1], `trained_betas` whose length differs from \
              `num_train_timesteps`, ᾱ values that are negative, above 1 or not finite, or (as a warning) \
              `beta_end` below `beta_start`.",
    why: "A beta above 1 makes ᾱ negative and its square root NaN at the first step that uses it; a wrong \
          number of trained betas makes diffusers index past the table; a decreasing schedule adds less \
          noise at later timesteps than at early ones, which no model was trained on.",
    cause: "Swapped `beta_start`/`beta_end`, a beta range given in percent, or `trained_betas` exported \
            for another `num_train_timesteps`.",
    fix: "Restore the model's own betas (SD family: 0.00085 to 0.012, scaled_linear).",
    options: "",
};

pub const ZERO_SNR_MISSES_TERMINAL: Rule = Rule {
    code: "R116",
    slug: "zero-snr-skips-terminal-timestep",
    severity: Severity::Warning,
    summary: "zero terminal SNR, but sampling does not start at the last timestep",
    detects: "`rescale_betas_zero_snr: true` with a schedule whose first timestep is not \
              `num_train_timesteps − 1` (leading spacing starts at 981 for 50 steps).",
    why: "The pipeline starts from pure noise, but tells the model the sample is at a timestep where some \
          signal remains; the model was trained to see pure noise only at the last timestep. Lin et al. \
          (2023) show the result loses brightness range and follows prompts worse, which zero SNR was \
          meant to fix.",
    cause: "Zero-SNR rescaling switched on while keeping SD's leading spacing.",
    fix: "Use `timestep_spacing: trailing` (or linspace) with zero terminal SNR.",
    options: "",
};

pub const FIRST_STEP_NOT_NOISY: Rule = Rule {
    code: "R117",
    slug: "first-step-not-noisy",
    severity: Severity::Warning,
    summary: "the first step's timestep is mostly signal, but sampling starts from noise",
    detects: "A schedule whose first timestep has ᾱ above 0.5 (more signal than noise). NumPy's linspace \
              with one point gives timestep 0, so `linspace` spacing with 1 step runs the only step at \
              t = 0; `leading` spacing with 1 step does the same (t = `steps_offset`).",
    why: "Text-, audio- or pose-driven generation starts from pure Gaussian noise (`init_noise_sigma` 1). \
          Telling the denoiser that this noise is an almost clean sample makes it remove only a trace of \
          noise: the output is noise, or a grey or speckled frame. Image-to-image pipelines that start \
          from a noised input lower the first timestep themselves and are not meant here.",
    cause: "Very few steps (1, sometimes 2) with `leading` or `linspace` spacing, as in one-step \
            distilled models run with the base model's configuration.",
    fix: "Use `trailing` spacing for few-step sampling (1 step then runs at the last timestep), or more steps.",
    options: "--steps N (50)",
};

pub const MOTION_MODULE_MISSING: Rule = Rule {
    code: "R140",
    slug: "motion-module-not-loaded",
    severity: Severity::Error,
    summary: "the EchoMimicV2 denoising UNet would run without its temporal layers",
    detects: "An EchoMimicV2 replay whose motion-module weights are absent or incomplete: the \
              `motion_module*.pth` file is missing, or fewer of the UNet's `motion_modules` tensors are \
              present in the weights (motion module merged with `denoising_unet*.pth`) than the model \
              expects. Evidence: how many motion-module keys the model expects and how many the files hold.",
    why: "The reference loader merges the motion module into the 2-D weights and loads with \
          `strict=False`: whatever is missing keeps its initial values and nothing is reported. The acc \
          script even builds a UNet with no temporal layers when the file is absent. Frames are then \
          denoised with untrained (or no) attention across time: flicker, noise or garbage, never an error \
          (the log says `Loaded 0.0M-parameter motion module`).",
    cause: "A missing or partial download of `motion_module.pth` / `motion_module_acc.pth`, a wrong \
            `motion_module_path`, or a motion module of another architecture (names that do not match).",
    fix: "Download the motion module that belongs to the denoising UNet (same variant) into \
          `pretrained_weights/` and point the spec (or `motion_module_path`) at it.",
    options: "",
};

pub const WEIGHT_KEYS_UNMATCHED: Rule = Rule {
    code: "R141",
    slug: "weight-keys-unmatched",
    severity: Severity::Warning,
    summary: "weights the model expected and did not get, or weights given and not used",
    detects: "What `load_state_dict(strict=False)` would return as `missing_keys` and `unexpected_keys` \
              for the EchoMimicV2 denoising UNet, computed by building the model and recording every \
              tensor it asks for: expected keys found in none of the files, and keys of the files that \
              no module asks for. The message gives both counts and the first names.",
    why: "PyTorch does not complain about either list with `strict=False`: a missing tensor keeps its random \
          initial value, an unused one is dropped. Partial checkpoints therefore produce noise instead of \
          an error.",
    cause: "Weights of another model version or architecture, keys renamed by a conversion script \
            (a `module.` or `unet.` prefix), or a file cut short.",
    fix: "Use the checkpoint that matches the inference configuration; strip or rename prefixes so that \
          the names match the model's.",
    options: "",
};

pub const WEIGHT_SHAPE_MISMATCH: Rule = Rule {
    code: "R142",
    slug: "weight-shape-mismatch",
    severity: Severity::Error,
    summary: "a weight's shape differs from the one the model expects",
    detects: "A tensor of `denoising_unet*.pth` or the motion module whose name the model expects but whose \
              shape differs, e.g. `attn2.to_k.weight` of (320, 768) where the audio cross-attention needs \
              (320, 384). The finding names the tensor, both shapes and the file.",
    why: "`load_state_dict` refuses a shape mismatch even with `strict=False`, and the 2-D to 3-D merge \
          silently skips it, leaving the initial value in place.",
    cause: "SD image-variation weights (cross-attention width 768) where EchoMimicV2's audio width 384 is \
            expected, or an inference YAML whose `unet_additional_kwargs` do not match the checkpoint.",
    fix: "Use the checkpoint and the inference YAML that belong together (`cross_attention_dim: 384` for \
          EchoMimicV2's `denoising_unet.pth`).",
    options: "",
};

pub const CONTEXT_WINDOW_GAP: Rule = Rule {
    code: "R143",
    slug: "context-window-gap",
    severity: Severity::Error,
    summary: "frames no context window covers: their average is 0/0 = NaN",
    detects: "An EchoMimicV2 window plan (context_frames, context_overlap, frames) in which some frames \
              belong to no window, found before the run (`context_overlap` larger than `context_frames` \
              on a video longer than one window plans no window at all), or observed during the run as \
              a per-frame counter of 0 at a step. The finding lists the frames and the step.",
    why: "The pipelines add each window's prediction into a sum and divide by how many windows covered \
          each frame. A frame no window covers divides 0 by 0: its latents become NaN at the first step \
          and it decodes to a black frame, with no exception.",
    cause: "`context_overlap` set larger than `context_frames` (the start range of the windows then has a \
            negative step and is empty).",
    fix: "Keep `context_overlap` below `context_frames` (EchoMimicV2 ships 12 and 3).",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &SCHEDULER_CONFIG_INVALID,
    &STEP_DIVIDES_BY_ZERO,
    &EPSILON_AMPLIFICATION,
    &OPTION_IGNORED,
    &UNKNOWN_CONFIG_KEYS,
    &SCHEDULER_CLASS_DIFFERS,
    &UNSUPPORTED_OPTION_VALUE,
    &THRESHOLDING_ON_LATENTS,
    &CLIP_SAMPLE_ON_LATENTS,
    &TOO_MANY_STEPS,
    &TIMESTEPS_INVALID,
    &FINAL_STEP_NO_OP,
    &RESIDUAL_FINAL_NOISE,
    &PREDICTION_TYPE_MISMATCH,
    &INVALID_BETAS,
    &ZERO_SNR_MISSES_TERMINAL,
    &FIRST_STEP_NOT_NOISY,
    &MOTION_MODULE_MISSING,
    &WEIGHT_KEYS_UNMATCHED,
    &WEIGHT_SHAPE_MISMATCH,
    &CONTEXT_WINDOW_GAP,
];
