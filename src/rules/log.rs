//! `L` rules: signatures of a failed generation in server and inference logs.
//!
//! Each rule is one family of log lines. The finding names the 1-based line,
//! the line's timestamp when it has one, and the pipeline stage the line
//! implicates; `nanscope log check` also orders them into a timeline.

use super::Rule;
use crate::report::Severity;

pub const NAN_CAST_WARNING: Rule = Rule {
    code: "L101",
    slug: "nan-cast-warning",
    severity: Severity::Error,
    summary: "numpy warned that NaN was cast to an integer (black frames were written)",
    detects: "numpy's `RuntimeWarning: invalid value encountered in cast`, printed when a float array \
              holding NaN or Inf is cast with `astype(np.uint8)`. In EchoMimicV2 the cast is in \
              `save_videos_grid` (`src/utils/util.py`, line ~98), where the decoded video becomes 8-bit frames.",
    why: "NaN cast to uint8 becomes 0 on x86, so every frame that held NaN is written black; the video \
          plays, with sound, and shows nothing. The warning is printed once per process, so one line can \
          stand for the whole video.",
    cause: "NaN produced upstream: fp16 overflow in the denoising UNet or the VAE, quantized weights, a \
            broken checkpoint, or a context-window configuration that divides 0 by 0.",
    fix: "Find where the first NaN appeared (`nanscope trace`/`replay`, or the probe), then run that \
          component in bf16/fp32 or restore its weights. Do not silence the warning with nan_to_num: the \
          frames stay black.",
    options: "",
};

pub const NUMPY_NUMERIC_WARNING: Rule = Rule {
    code: "L102",
    slug: "numpy-numeric-warning",
    severity: Severity::Warning,
    summary: "numpy warned about overflow, division by zero or an invalid value",
    detects: "numpy's `RuntimeWarning`s `overflow encountered in …`, `divide by zero encountered in …` and \
              `invalid value encountered in …` (other than `cast`, which is L101).",
    why: "Each warning means an array just gained Inf or NaN. In pre- or post-processing (audio features, \
          pose normalisation, frame statistics) that value reaches the model or the written frames.",
    cause: "fp16 arrays overflowing (values above 65504), normalising by a zero standard deviation or \
            length, or NaN already present in the input.",
    fix: "Locate the array named by the warning's source line and check it for non-finite values; compute \
          in float32 and guard divisions by zero.",
    options: "",
};

pub const PIPELINE_NAN_REPORTED: Rule = Rule {
    code: "L103",
    slug: "pipeline-nan-reported",
    severity: Severity::Error,
    summary: "the pipeline reported NaN or Inf in its own output",
    detects: "Lines in which the pipeline or its wrapper reports non-finite values: `Contains NaN: True`, \
              `NaN detected`, `has_nan=True`, or a printed value range with `nan`/`inf` in it (`Pipeline \
              output … range: [nan, nan]`).",
    why: "NaN in the pipeline output decodes to black frames (see L101); NaN in the latents means every later \
          denoising step is NaN too.",
    cause: "The same as L101: overflow in fp16, quantized or damaged weights, or a degenerate schedule or \
            context-window setting.",
    fix: "Trace the first stage that produced NaN (`nanscope replay`/`trace`) and fix it there.",
    options: "",
};

pub const NAN_REPLACED_WITH_ZEROS: Rule = Rule {
    code: "L104",
    slug: "nan-replaced-with-zeros",
    severity: Severity::Error,
    summary: "a patch replaced NaN with zeros: the cause is still there",
    detects: "Warnings printed by a NaN-to-zero patch, such as `NaN values detected … replacing with zeros`, \
              `replaced N NaN`, `Video tensor contains invalid values! Cleaning...`, or a `nan_to_num` notice.",
    why: "nan_to_num maps NaN to 0, which is black after the ×255 cast: the video is as black as before, only \
          the numpy warning is gone. The line proves that NaN reached the patched array.",
    cause: "A workaround added to the writer (for example in `save_videos_grid`) instead of a fix of the \
            component that produces NaN.",
    fix: "Keep the patch as a guard if you like, but find and fix the NaN source: the warning must not appear \
          on a healthy run.",
    options: "",
};

pub const ZERO_BYTES_READ: Rule = Rule {
    code: "L105",
    slug: "zero-bytes-read",
    severity: Severity::Warning,
    summary: "a reader got 0 bytes where it expected data (truncated audio or video)",
    detects: "moviepy's `… bytes wanted but 0 bytes read` and similar reader messages.",
    why: "At the very end of a clip the message is harmless (the last frame's rounding); earlier in a run it \
          means the file being read was truncated or empty, so frames or audio are missing from the result.",
    cause: "A video written by a writer that crashed or was killed (no moov atom), an empty intermediate \
            file, or audio shorter than the requested length.",
    fix: "Check the file named next to the message with `nanscope video check`; regenerate it if truncated.",
    options: "",
};

pub const MOOV_ATOM_NOT_FOUND: Rule = Rule {
    code: "L106",
    slug: "moov-atom-not-found",
    severity: Severity::Error,
    summary: "ffmpeg found an MP4 without its index (moov atom)",
    detects: "ffmpeg's `moov atom not found`.",
    why: "An MP4's moov atom is written when the file is closed; without it no player or muxer can read the \
          frames, so the final video (or the silent one being muxed with audio) is unplayable.",
    cause: "The writer was interrupted (exception, out of memory, killed worker) before `container.close()`, \
            or the file was served while still being written.",
    fix: "Fix the error that interrupted the writer (earlier lines); `nanscope video repair` can recover \
          frames from some truncated files.",
    options: "",
};

pub const INVALID_MEDIA_DATA: Rule = Rule {
    code: "L107",
    slug: "invalid-media-data",
    severity: Severity::Error,
    summary: "ffmpeg could not read an input (Invalid data found when processing input)",
    detects: "ffmpeg's `Invalid data found when processing input`.",
    why: "The audio or video file handed to ffmpeg is not a media file ffmpeg understands, so audio features, \
          frames or the final mux are missing.",
    cause: "An empty or truncated upload, an HTML error page saved under a media name, or a file still being \
            written.",
    fix: "Check the input with `ffprobe` or `nanscope video check`; re-upload or regenerate it.",
    options: "",
};

pub const CUDA_OUT_OF_MEMORY: Rule = Rule {
    code: "L108",
    slug: "cuda-out-of-memory",
    severity: Severity::Error,
    summary: "the GPU ran out of memory",
    detects: "PyTorch's `CUDA out of memory` / `torch.OutOfMemoryError` and similar allocator failures.",
    why: "The generation stops part-way; a writer that was open leaves a truncated MP4 (L106), and a retry \
          with a smaller precision or quantization to fit memory is a common source of NaN.",
    cause: "Too many frames (memory grows with the length), a size above 768×768, CFG doubling the batch, or \
            a GPU below EchoMimicV2's ~13 GB.",
    fix: "Reduce the length or size, use the accelerated pipeline (no CFG), or a larger GPU. Prefer these \
          over quantizing the denoising UNet.",
    options: "",
};

pub const NANS_EXCEPTION: Rule = Rule {
    code: "L109",
    slug: "nans-exception",
    severity: Severity::Error,
    summary: "a NaN guard raised NansException",
    detects: "`NansException` (raised by web UIs when a tensor is all NaN, e.g. `A tensor with all NaNs was \
              produced in Unet/VAE`).",
    why: "The denoiser or VAE produced only NaN; the image or video would have been black.",
    cause: "fp16 overflow, usually in the VAE or in attention, or damaged/quantized weights.",
    fix: "Run the named component in fp32/bf16 (or use an fp16-fixed VAE) and check the weights with \
          `nanscope weights`.",
    options: "",
};

pub const QUANTIZATION_APPLIED: Rule = Rule {
    code: "L110",
    slug: "quantization-applied",
    severity: Severity::Warning,
    summary: "the run quantized a model (torchao, quantize_dynamic, bitsandbytes, mmgp)",
    detects: "Lines that show weights being quantized: torchao `quantize_` / `int8_weight_only`, \
              `quantize_dynamic`, bitsandbytes / `load_in_8bit` / `load_in_4bit`, EchoMimicV2's UI message \
              `使用int8量化` / `int8量化` (its int8 option quantizes the VAE and reference UNet), mmgp's \
              `Quantization of model 'transformer' started to format 'qint8'` (its offload profiles quantize with \
              optimum-quanto as they load; EchoMimicV3's `app_mm.py` uses one), and import errors for them \
              (`cannot import name 'quantize_'`). `evidence.models` names the models a line quantizes (the first \
              argument of `quantize_(…)`, the model mmgp names); `postmortem` blames the denoising UNet's quantization only \
              when a line names it, or names no model.",
    why: "Weight-only int8 on the denoising UNet lets activations overflow fp16, which turns the latents NaN \
          and the video black; it is the root of the incident nanscope was built for. EchoMimicV2's own UI \
          quantizes only the VAE and reference UNet.",
    cause: "Quantization enabled to fit a small GPU.",
    fix: "Run the denoising UNet unquantized (or quantize with activation scaling and check it with \
          `nanscope weights --simulate`); use the accelerated pipeline or a larger GPU to save memory.",
    options: "",
};

pub const MOTION_MODULE_EMPTY: Rule = Rule {
    code: "L111",
    slug: "motion-module-empty",
    severity: Severity::Error,
    summary: "the motion module loaded 0 parameters",
    detects: "`Loaded 0.0M-parameter motion module` (the healthy EchoMimicV2 line reads about 453M).",
    why: "Without temporal layers the UNet denoises each frame on its own: the video flickers or drifts, and \
          the accelerated pipeline gives no error at all.",
    cause: "`motion_module_path` pointing to a missing, empty or wrong file, or a checkpoint whose keys do \
            not contain `temporal`.",
    fix: "Point `motion_module_path` at `motion_module.pth` (or `motion_module_acc.pth`) and check it with \
          `nanscope config check --root`.",
    options: "",
};

pub const MOTION_MODULE_NOT_FOUND: Rule = Rule {
    code: "L112",
    slug: "motion-module-not-found",
    severity: Severity::Error,
    summary: "the pipeline could not find the motion module",
    detects: "`motion module not found` (EchoMimicV2's normal pipeline exits with it).",
    why: "The normal pipeline stops; the accelerated one silently builds a UNet without temporal layers.",
    cause: "A wrong `motion_module_path` or weights that were not downloaded.",
    fix: "Download the EchoMimicV2 weights into `pretrained_weights/` and check the prompt config with \
          `nanscope config check --root`.",
    options: "",
};

pub const FFMPEG_MISSING: Rule = Rule {
    code: "L113",
    slug: "ffmpeg-missing",
    severity: Severity::Error,
    summary: "ffmpeg could not be run (audio not loaded)",
    detects: "`[WinError 2]`, `Failed to load audio`, and `No such file or directory: 'ffmpeg'`.",
    why: "Whisper loads audio by running ffmpeg; without it there are no audio features and the sampler \
          fails, or the final mux has no sound.",
    cause: "ffmpeg not on PATH (ComfyUI on Windows), or `FFMPEG_PATH` not set.",
    fix: "Install ffmpeg and put it on PATH, or set `FFMPEG_PATH` to the folder holding it.",
    options: "",
};

pub const SHAPE_MISMATCH: Rule = Rule {
    code: "L114",
    slug: "shape-error-logged",
    severity: Severity::Error,
    summary: "a shape or broadcast error stopped the run",
    detects: "`could not broadcast input array from shape …`, `The size of tensor a (…) must match …`, \
              `shape '…' is invalid for input of size …`, `mat1 and mat2 shapes cannot be multiplied` and \
              `range() arg 3 must not be zero`.",
    why: "The run stops before a video is written. In EchoMimicV2 a broadcast from (768,768,3) means the poses \
          were drawn for 768×768 while another size was requested; `range() arg 3` means context_overlap \
          equals context_frames.",
    cause: "A size other than the poses' (use 768), context_overlap ≥ context_frames, or weights for another \
            architecture.",
    fix: "Use the size the poses were drawn for, keep context_overlap below context_frames, and check the \
          configuration with `nanscope config check`.",
    options: "",
};

pub const BLANK_OUTPUT_RANGE: Rule = Rule {
    code: "L115",
    slug: "blank-output-range",
    severity: Severity::Warning,
    summary: "the pipeline printed an output range with no spread (a blank video)",
    detects: "A printed range of the pipeline output or video (`range: [a, b]`, `min=… max=…`) whose minimum \
              equals its maximum.",
    why: "A video tensor with a single value everywhere is a blank video: usually all zeros after NaN was \
          replaced.",
    cause: "NaN patched to zero (L104), or a decoder fed constant latents.",
    fix: "Look for the NaN that preceded it; check the written video with `nanscope video check`.",
    options: "",
};

pub const BINARY_CONTENT: Rule = Rule {
    code: "L116",
    slug: "binary-content",
    severity: Severity::Info,
    summary: "the log holds binary data or overlong lines",
    detects: "Lines with NUL bytes or invalid UTF-8, and lines longer than the per-line cap (1 MiB), which \
              are matched in pieces.",
    why: "A log with binary content was usually concatenated with another file or written by two processes at \
          once; signatures inside it may be torn apart.",
    cause: "Progress bars written without newlines, a crashed writer, or a binary file passed by mistake.",
    fix: "Nothing to fix in the pipeline; check that the right log was given.",
    options: "",
};

pub const UNREADABLE_LOG: Rule = Rule {
    code: "L117",
    slug: "unreadable-log",
    severity: Severity::Error,
    summary: "the log could not be read to its end",
    detects: "Read errors, and gzip streams that are corrupt or end early. The finding says how many bytes and \
              lines were read before the failure.",
    why: "What the log says after the failure is unknown, so the timeline may miss the decisive line.",
    cause: "A log copied while still being written, a truncated download, or a file that is not gzip despite \
            its name.",
    fix: "Copy the log again once the run has finished.",
    options: "",
};

pub const LFS_POINTER_LOADED: Rule = Rule {
    code: "L118",
    slug: "lfs-pointer-loaded",
    severity: Severity::Error,
    summary: "a checkpoint load read a Git LFS pointer instead of weights",
    detects: "`invalid load key, 'v'` from `torch.load` (a pointer file starts with `version`), and \
              `HeaderTooLarge` from safetensors (the pointer's first eight bytes read as a header length of \
              more than 2 EB).",
    why: "The pipeline stops at model load: the weights were never downloaded, only their Git LFS pointers.",
    cause: "`git clone` of the Hugging Face weights without Git LFS installed, or with `GIT_LFS_SKIP_SMUDGE=1`.",
    fix: "Install Git LFS, then run `git lfs pull` inside each cloned weights folder; `nanscope weights \
          pretrained_weights/` lists the pointer files (F112).",
    options: "",
};

pub const WEIGHTS_NOT_FOUND: Rule = Rule {
    code: "L119",
    slug: "weights-not-found",
    severity: Severity::Error,
    summary: "a model load could not find its weight file or model folder",
    detects: "The messages of a load that found nothing where the config points: `No such file or directory: \
              '…/reference_unet.pth'` for a weight file (`.pth`, `.pt`, `.bin`, `.safetensors`, `.ckpt`, or a \
              path under `pretrained_weights/`); diffusers' `Error no file named diffusion_pytorch_model.bin found \
              in directory …`, `… does not appear to have a file named config.json`, `… is not the path to a \
              directory containing a config.json file` and `… is not a local folder and is not a valid model \
              identifier`; huggingface_hub's `Repo id must be in the form …` for a local path and, offline, \
              `… cannot find the requested files in the local cache`; EchoMimicV2's \
              own `… config.json does not exist or is not a file` and `no weights file found in …` (the base \
              model's UNet) and Whisper's `Model ….pt not found` (the audio processor). diffusers' `An error \
              occurred while trying to fetch …`, after which it falls back to the `.bin` file, is not one. \
              `evidence.path` is the file or folder the line names, `evidence.wanted` the file it looked for.",
    why: "The run stops at model load and writes no video. EchoMimicV2's weight repository holds only its own \
          checkpoints: the VAE (`sd-vae-ft-mse/`), the base model's UNet (`sd-image-variations-diffusers/unet/`) \
          and Whisper's `tiny.pt` are downloaded separately, and they are what most such runs lack.",
    cause: "A component never downloaded, a download into another folder, or a config whose path names another \
            file (an early config's `reference_unet-162000.pth`, a `_acc` file for the normal pipeline).",
    fix: "Download the file to the path the line names (`nanscope postmortem` prints the download command for \
          each source), or correct the path in the config.",
    options: "",
};

pub const CHECKPOINT_UNREADABLE: Rule = Rule {
    code: "L120",
    slug: "checkpoint-unreadable",
    severity: Severity::Error,
    summary: "a model load read a checkpoint file that is truncated or is not a checkpoint",
    detects: "`PytorchStreamReader failed reading zip archive` (a torch file cut short), `EOFError: Ran out of \
              input` (an empty pickle), `invalid load key` with any first byte but `v` (`<` is an HTML page saved \
              in place of the weights; `v` is a Git LFS pointer, L118), the weights-only loader's \
              `Unsupported operand 60` (torch 2.6 and later: the same page), and safetensors' header errors \
              other than `HeaderTooLarge` (`MetadataIncompleteBuffer`, `incomplete metadata, file not fully \
              covered`).",
    why: "The run stops at model load; the file on disk is not the checkpoint it is named after.",
    cause: "A download that stopped early or saved an error page, a copy to a full disk, or a file overwritten \
            while the run read it.",
    fix: "Download the file again and compare its size with the source's; `nanscope weights FILE` says what \
          is wrong with the copy on disk.",
    options: "",
};

pub const CHECKPOINT_MISMATCH: Rule = Rule {
    code: "L121",
    slug: "checkpoint-mismatch",
    severity: Severity::Error,
    summary: "a model load read weights or a config that belong to another model",
    detects: "torch's `Error(s) in loading state_dict for …` (missing or unexpected keys, `size mismatch`), \
              diffusers' `Cannot load <class …> from … because the following keys are missing`, and a block \
              type a UNet does not have (`DownEncoderBlock2D does not exist.`: a VAE's config read as the UNet's). \
              `evidence.path` is the folder the line names, when it names one.",
    why: "The run stops at model load. EchoMimicV2 loads the denoising UNet with `strict=False`, so a \
          mismatch there passes silently and gives noise instead; this rule sees the loads that do check.",
    cause: "A file of another model or version in the expected place (EchoMimic V1's weights for V2, the VAE's \
            files in the UNet's folder), a partial download of a sharded model, or a config pointing at the \
            wrong folder.",
    fix: "Check that the folder the line names holds the model the config expects, and download that model \
          again into it.",
    options: "",
};

pub const UNHANDLED_EXCEPTION: Rule = Rule {
    code: "L122",
    slug: "unhandled-exception",
    severity: Severity::Warning,
    summary: "a Python traceback ends in an exception no other rule names",
    detects: "A `Traceback (most recent call last):` block and the exception line that ends it \
              (`ValueError: …`), when no other L rule recognises that line. Tracebacks of optional imports \
              that libraries catch and only report (`No module named 'triton'` from xformers) are not findings. \
              ComfyUI's error report states the exception in two lines of its own (`- **Exception Type:** …`, \
              `- **Exception Message:** …`); they are read as that exception line, and the other L rules read \
              its message too. `evidence.exception` is the exception's type. When ComfyUI says next that the \
              exception came from importing a custom node (`Cannot import …/custom_nodes/X module for custom \
              nodes: …`), `evidence.custom_node` names the node: ComfyUI started without it, and `postmortem` \
              blames it only when it is an EchoMimic node.",
    why: "An exception at the end of a traceback usually stopped the run, or the request that ran the \
          generation, before a video was written; it is the first thing to read when nothing else explains \
          the failure.",
    cause: "Anything the pipeline did not expect: the exception's own message says what.",
    fix: "Read the traceback at the line the finding names; search the project's issues for the exception's \
          message.",
    options: "",
};

/// The rules of a model load that failed, whose findings name the file.
pub const FAILED_LOADS: &[&Rule] = &[&WEIGHTS_NOT_FOUND, &CHECKPOINT_UNREADABLE, &CHECKPOINT_MISMATCH];

pub const RULES: &[&Rule] = &[
    &NAN_CAST_WARNING,
    &NUMPY_NUMERIC_WARNING,
    &PIPELINE_NAN_REPORTED,
    &NAN_REPLACED_WITH_ZEROS,
    &ZERO_BYTES_READ,
    &MOOV_ATOM_NOT_FOUND,
    &INVALID_MEDIA_DATA,
    &CUDA_OUT_OF_MEMORY,
    &NANS_EXCEPTION,
    &QUANTIZATION_APPLIED,
    &MOTION_MODULE_EMPTY,
    &MOTION_MODULE_NOT_FOUND,
    &FFMPEG_MISSING,
    &SHAPE_MISMATCH,
    &BLANK_OUTPUT_RANGE,
    &BINARY_CONTENT,
    &UNREADABLE_LOG,
    &LFS_POINTER_LOADED,
    &WEIGHTS_NOT_FOUND,
    &CHECKPOINT_UNREADABLE,
    &CHECKPOINT_MISMATCH,
    &UNHANDLED_EXCEPTION,
];
