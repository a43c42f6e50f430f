//! `C` rules: EchoMimicV2 run configurations and diffusers model folders that
//! cannot produce a healthy video. Findings name the key in `subject.key`.

use super::Rule;
use crate::report::Severity;

pub const UNREADABLE_CONFIG: Rule = Rule {
    code: "C101",
    slug: "unreadable-config",
    severity: Severity::Error,
    summary: "the configuration cannot be parsed",
    detects: "YAML or JSON that does not parse, a top level that is not a mapping, and documents beyond \
              nanscope's limits: more than 64 levels of nesting, more than 1,000,000 nodes, aliases that expand \
              to more than 100,000 nodes or copy more than 16 MiB of text (the \"billion laughs\" alias bomb, \
              or one long string aliased many times), or files above 4 MiB.",
    why: "OmegaConf and diffusers refuse the file, so the run stops before loading anything; a file that \
          only parses after expanding millions of aliases can exhaust the server's memory.",
    cause: "A hand edit that broke indentation or quoting, a file truncated by a copy, or a hostile upload.",
    fix: "Fix the syntax at the line given; start again from the shipped `configs/prompts/infer.yaml`.",
    options: "",
};

pub const WEIGHT_FILE_MISSING: Rule = Rule {
    code: "C102",
    slug: "weight-file-missing",
    severity: Severity::Error,
    summary: "a path in the configuration does not exist under the root",
    detects: "Keys ending in `_path` (and `inference_config`) whose value, resolved against `--root`, names no \
              file or folder. Without `--root` the root is the folder above the config's `configs/` folder, \
              or the config's own folder.",
    why: "EchoMimicV2 loads the denoising UNet with `strict=False` and copies only shape-matching tensors, so \
          a wrong file gives noise instead of an error; a missing file stops the run at load time.",
    cause: "Weights not downloaded (the VAE and Whisper `tiny.pt` are not in the EchoMimicV2 weight \
            repository), a different working directory, or a typo in the path.",
    fix: "Download the weights into `pretrained_weights/` as the EchoMimicV2 README lists them, or correct \
          the path; run from the repository root or pass `--root`.",
    options: "--root DIR",
};

pub const MOTION_MODULE_MISSING: Rule = Rule {
    code: "C103",
    slug: "motion-module-missing",
    severity: Severity::Error,
    summary: "the configuration builds a UNet without its motion module",
    detects: "A prompt config without `motion_module_path` (or with an empty one), one whose motion module \
              does not exist under the root, and an inference config with \
              `unet_additional_kwargs.use_motion_module: false`.",
    why: "The normal pipeline exits with \"motion module not found\"; the accelerated one silently builds a \
          UNet with no temporal layers and logs `Loaded 0.0M-parameter motion module`: the video flickers and \
          drifts frame to frame.",
    cause: "Weights not downloaded, or a config copied from another setup.",
    fix: "Set `motion_module_path` to `./pretrained_weights/motion_module.pth` (normal) or \
          `motion_module_acc.pth` (accelerated) and check it with `--root`.",
    options: "--root DIR",
};

pub const WEIGHT_DTYPE: Rule = Rule {
    code: "C104",
    slug: "weight-dtype",
    severity: Severity::Warning,
    summary: "weight_dtype is missing or not one EchoMimicV2 understands",
    detects: "`weight_dtype` missing, or set to anything but `fp16` or `fp32`. EchoMimicV2 maps `fp16` to \
              float16 and everything else to float32; `bf16` therefore silently runs in float32. The meaning \
              of the value found is in the report's `settings` section.",
    why: "A run meant to be bf16 (to avoid fp16 overflow) runs float32 and needs twice the memory; a typo in \
          `fp16` also doubles memory, which then invites quantization to fit the GPU.",
    cause: "A config written for another pipeline that accepts bf16.",
    fix: "Use `fp16` (the shipped value) or `fp32`; for bf16, change the script, not the YAML.",
    options: "",
};

pub const GUIDANCE_VS_VARIANT: Rule = Rule {
    code: "C105",
    slug: "guidance-vs-variant",
    severity: Severity::Warning,
    summary: "the guidance scale does not suit the pipeline variant",
    detects: "The accelerated pipeline with `cfg` > 1 (warning: it works at twice the cost and against its \
              distillation), and the normal pipeline with `cfg` ≤ 1 (error: it has no branch for it and \
              crashes on mismatched reference banks).",
    why: "The normal pipeline always builds CFG-sized reference banks; without CFG the batch sizes do not \
          match. The accelerated weights were distilled for cfg 1.",
    cause: "Parameters copied between `infer.py` (cfg 2.5) and `infer_acc.py` (cfg 1.0).",
    fix: "Normal: cfg 2.5, 30 steps. Accelerated: cfg 1.0, 6 steps.",
    options: "--variant normal|acc, --set cfg=VALUE",
};

pub const STEPS_VS_VARIANT: Rule = Rule {
    code: "C106",
    slug: "steps-vs-variant",
    severity: Severity::Warning,
    summary: "the step count does not suit the pipeline variant",
    detects: "The normal pipeline with fewer than 10 steps, and any run with fewer than 1 step.",
    why: "The normal weights were not distilled for few steps: with 6 trailing DDIM steps the result is \
          blurred and noisy. Zero steps leave pure noise.",
    cause: "The accelerated settings (6 steps) used with the normal weights.",
    fix: "Use 30 steps with the normal pipeline, or the accelerated weights and pipeline for 6 steps.",
    options: "--variant normal|acc, --set steps=N",
};

pub const SIZE_NOT_MULTIPLE_OF_8: Rule = Rule {
    code: "C107",
    slug: "size-not-multiple-of-8",
    severity: Severity::Error,
    summary: "width or height is not a multiple of 8",
    detects: "A width or height that is not a positive multiple of 8.",
    why: "The VAE works at 1/8 resolution: the latent size is rounded down and the pose features (three \
          stride-2 stages) no longer line up with the latents, which fails with a shape error or shifts the \
          pose.",
    cause: "A size taken from the reference image instead of the model's grid.",
    fix: "Use 768×768 (the poses' size) or another multiple of 8.",
    options: "--set width=W, --set height=H",
};

pub const SIZE_NOT_POSE_SIZE: Rule = Rule {
    code: "C108",
    slug: "size-not-pose-size",
    severity: Severity::Error,
    summary: "width/height differ from the size the poses were drawn for",
    detects: "A width or height that differs from `--pose-size` (default 768×768, the size of EchoMimicV2's \
              shipped poses).",
    why: "The pose renderer pastes a 768×768 drawing into an image of the requested size: numpy fails with \
          `could not broadcast input array from shape (768,768,3)` (antgroup/echomimic_v2#66), or a wrapper \
          that resizes it distorts the body.",
    cause: "A custom size requested with poses extracted at 768.",
    fix: "Generate at 768×768, or extract the poses again at the size you want.",
    options: "--pose-size WxH (768x768)",
};

pub const CONTEXT_WINDOWS: Rule = Rule {
    code: "C109",
    slug: "context-windows",
    severity: Severity::Error,
    summary: "the context frames and overlap cannot tile the video",
    detects: "`context_overlap` ≥ `context_frames` (equal: `range() arg 3 must not be zero`; greater: zero \
              windows), `context_frames` above the motion module's temporal position encoding length (32), \
              and non-positive frame counts. The windows the settings produce are in the `settings` section.",
    why: "With overlap above the window size the window list is empty, the accumulated sum and counter stay \
          0, and 0/0 turns every latent NaN: an all-black video with no exception.",
    cause: "Overlap and window size swapped, or a window size raised beyond 32 for longer context.",
    fix: "Keep the defaults (context_frames 12, context_overlap 3), or any overlap below the window size \
          with windows of at most 32 frames.",
    options: "--set context_frames=N, --set context_overlap=N, --set length=N",
};

pub const AUDIO_TIMING: Rule = Rule {
    code: "C110",
    slug: "audio-timing",
    severity: Severity::Warning,
    summary: "sample rate or fps differ from what the audio features assume",
    detects: "`sample_rate` other than 16000, and `fps` that is not positive or differs from 24.",
    why: "Whisper features come at 50 per second from 16 kHz audio and are sliced per frame at `int(i·50/fps)`: \
          another sample rate misplaces every feature, another fps changes the lip-sync the model was trained \
          with, and fps 0 divides by zero.",
    cause: "Settings copied from another audio model or a video's frame rate.",
    fix: "Use sample_rate 16000 and fps 24; resample the output afterwards if another rate is needed.",
    options: "--set sample_rate=HZ, --set fps=N",
};

pub const MODEL_COMPONENT_MISSING: Rule = Rule {
    code: "C111",
    slug: "model-component-missing",
    severity: Severity::Error,
    summary: "a diffusers component listed in model_index.json is missing",
    detects: "Entries of a diffusers `model_index.json` (`\"vae\": [\"diffusers\", \"AutoencoderKL\"]`) whose \
              folder does not exist beside the file, or holds no configuration.",
    why: "`from_pretrained` fails for the pipeline, or (for optional components) silently builds it without \
          the part, for example without the safety checker or with a default scheduler.",
    cause: "A partial download (only some sub-folders fetched), or a pipeline saved without a component.",
    fix: "Download the whole model folder again, or save it with `save_pretrained`.",
    options: "",
};

pub const UNRECOGNIZED_CONFIG: Rule = Rule {
    code: "C112",
    slug: "unrecognized-config",
    severity: Severity::Warning,
    summary: "the file is not a configuration nanscope knows",
    detects: "A YAML or JSON mapping that is neither an EchoMimicV2 prompt or inference config, nor a diffusers \
              `model_index.json` or scheduler configuration, nor a ComfyUI workflow.",
    why: "Nothing in it was checked, so a clean report says nothing about it.",
    cause: "The wrong file was given (a dataset or training config, another model's config).",
    fix: "Pass the prompt config (`configs/prompts/infer*.yaml`), the inference config, `model_index.json`, \
          `scheduler/scheduler_config.json` or the ComfyUI workflow that ran.",
    options: "",
};

pub const QUANTIZATION_CONFIGURED: Rule = Rule {
    code: "C113",
    slug: "quantization-configured",
    severity: Severity::Warning,
    summary: "the config asks for quantized weights",
    detects: "A prompt config key that turns quantization on (`quantization`, `quantize`, `quantization_config`, \
              `load_in_8bit`, `load_in_4bit`, `int8`) with a value other than false, none, null or empty; the \
              scheme it names (int8 per channel, int4 grouped by 128, float8 e4m3) is the one `postmortem` \
              simulates. In a ComfyUI workflow, EchoMimicV2-ComfyUI's `EchoMimicV2Node.if_low_varm: true`, \
              which quantizes the VAE and the reference UNet when they load (`evidence.models`), and \
              ComfyUI_EchoMimic's `Echo_LoadModel.use_mmgp` profile in its V3 mode with `lowvram` on, which has \
              mmgp quantize EchoMimicV3's transformer to qint8 as it loads (`evidence.models`: transformer).",
    why: "Weight-only int8 on the denoising UNet lets activations overflow fp16, which turns the latents NaN \
          and the video black. EchoMimicV2's own UI quantizes only the VAE and the reference UNet.",
    cause: "Quantization enabled in a deployment's config or a workflow's low-VRAM option to fit a small GPU.",
    fix: "Turn a low-VRAM option off for one run to see whether the failure goes with it. Keep the denoising \
          UNet unquantized, or check the scheme first with `nanscope weights --simulate SCHEME \
          pretrained_weights/denoising_unet.pth` and exclude the modules it names.",
    options: "",
};

pub const TEST_CASE_INPUT: Rule = Rule {
    code: "C114",
    slug: "test-case-input",
    severity: Severity::Error,
    summary: "a test case names an input that is missing or that infer_acc.py reads as the wrong kind",
    detects: "Entries of a prompt config's `test_cases` (reference image → audio file and pose folder, which \
              `infer_acc.py` runs one after the other) whose reference image, audio file or pose folder does not \
              exist below the folder the entry point runs in; entries whose name holds no `.wav` but is an audio \
              file (`infer_acc.py` takes every other entry for the pose folder: as a case's last such entry it is \
              the pose folder, before a pose folder it is dropped and the case keeps the previous case's audio); \
              and a first case without an audio file or pose folder (later cases reuse the previous one). \
              `evidence.stops` says whether `infer_acc.py` stops at the case. Each case's inputs are listed in the \
              report's `settings` (`test_cases[N].reference`, `.audio`, `.poses`).",
    why: "`infer_acc.py` opens each case's inputs as it reaches it: a missing one stops the run there with \
          `FileNotFoundError` (or `NotADirectoryError` for an audio file taken as the pose folder), after the \
          earlier cases' videos were written and before the later ones. A dropped audio file stops nothing: \
          the case's video speaks the previous case's audio.",
    cause: "A path relative to another folder: the shipped `infer_acc.yaml` names \
            `../echomimic_v2/assets/halfbody_demo/pose/fight/`, found only when the checkout's folder is called \
            `echomimic_v2`; an input renamed or not copied; an MP3 in place of a WAV.",
    fix: "Make each path relative to the folder `infer_acc.py` runs in (the checkout), and convert audio to WAV: \
          `ffmpeg -i speech.mp3 -ar 16000 speech.wav`.",
    options: "",
};

pub const LOADER_SETTING_STOPS: Rule = Rule {
    code: "C115",
    slug: "loader-setting-stops-the-load",
    severity: Severity::Error,
    summary: "the workflow gives an EchoMimic loader a setting it cannot load with",
    detects: "ComfyUI_EchoMimic's `Echo_LoadModel` with `version` V3_flash and a `use_mmgp` profile other than \
              None: its flash loader passes mmgp `quantizeTransformer` from config.yaml's `quantize_transformer`, \
              a key that config.yaml does not hold.",
    why: "omegaconf (2.1 and later) raises `ConfigAttributeError: Missing key quantize_transformer` on a key a \
          config does not hold: the load stops before a frame is generated.",
    cause: "A workflow made for the node's V3 mode (where use_mmgp and lowvram set up mmgp) switched to \
            V3_flash, which the node means to run with block_offload instead.",
    fix: "Set use_mmgp to None and block_offload on in `Echo_LoadModel`, and queue the workflow again.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &UNREADABLE_CONFIG,
    &WEIGHT_FILE_MISSING,
    &MOTION_MODULE_MISSING,
    &WEIGHT_DTYPE,
    &GUIDANCE_VS_VARIANT,
    &STEPS_VS_VARIANT,
    &SIZE_NOT_MULTIPLE_OF_8,
    &SIZE_NOT_POSE_SIZE,
    &CONTEXT_WINDOWS,
    &AUDIO_TIMING,
    &MODEL_COMPONENT_MISSING,
    &UNRECOGNIZED_CONFIG,
    &QUANTIZATION_CONFIGURED,
    &TEST_CASE_INPUT,
    &LOADER_SETTING_STOPS,
];
