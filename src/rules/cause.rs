//! `K` rules: the catalogue of root causes a `postmortem` verdict names.
//!
//! A K rule is not emitted as a finding: it is the `root_cause` of the
//! verdict (and of each competing explanation). Its texts say what evidence
//! the correlation rules (src/postmortem/correlate.rs) look for, so that
//! `nanscope rules K101` explains a verdict.

use super::Rule;
use crate::report::Severity;

pub const QUANTIZATION_OVERFLOW: Rule = Rule {
    code: "K101",
    slug: "quantization-overflow",
    severity: Severity::Error,
    summary: "weight quantization of the denoising UNet made activations overflow into NaN",
    detects: "A quantized denoising UNet (int8/int4/fp8 tensors recognised in the checkpoint, or a config or log \
              line that applies `quantize_`, `int8_weight_only`, bitsandbytes or similar: C113, L110) together with the \
              cascade it causes: the first non-finite values produced inside the UNet (R120/R121), NaN in the \
              saved video tensor (V130), black frames (V120/V124). Simulating the named scheme on the float \
              weights (Q201–Q204) predicts which layers lose the most. For EchoMimicV3 the denoiser is its \
              transformer, which its `app_mm.py` has mmgp quantize to optimum-quanto qint8 as it loads (L110 \
              on mmgp's `Quantization of model 'transformer'` line), as does ComfyUI_EchoMimic's loader in its V3 \
              mode with a `use_mmgp` profile and `lowvram` on (C113 on the workflow's `Echo_LoadModel.use_mmgp`).",
    why: "Weight-only int8 rounds every weight of a layer to 255 levels; layers with outlier channels \
          (attention projections, the last up-block convolutions) lose precision, their outputs grow, and in \
          fp16 a value above 65504 becomes Inf. Inf minus Inf is NaN, and NaN reaches every later step.",
    cause: "A deployment quantized the UNet to fit a smaller GPU or to go faster (EchoMimicV2 wrappers have \
            applied torchao `int8_weight_only` to the denoising UNet); the upstream fix was to stop quantizing it. \
            EchoMimicV3's low-memory web UI (`app_mm.py`) quantizes its transformer through mmgp's offload \
            profile, whose `quantizeTransformer` is on by default; ComfyUI_EchoMimic passes its `lowvram` widget \
            (on by default) as that flag.",
    fix: "Keep the modules the verdict lists out of quantization (paste its exclude list into `filter_fn` or \
          `modules_to_not_convert`, or quanto's `exclude` for a transformer quantized before mmgp's profile), \
          or do not quantize the denoising UNet at all (`quantizeTransformer=False` for mmgp, `lowvram` false on \
          ComfyUI_EchoMimic's loader); a checkpoint saved after \
          quantization (its tensors stored int8) is replaced by the released float one. Re-render: patching NaN \
          to zero afterwards only hides the symptom.",
    options: "",
};

pub const ACTIVATION_OVERFLOW: Rule = Rule {
    code: "K102",
    slug: "fp16-activation-overflow",
    severity: Severity::Error,
    summary: "an fp16 activation overflowed in the UNet without any quantization",
    detects: "A module of the denoising UNet that produced Inf/NaN from finite inputs (R120) or came close to \
              the fp16 maximum (R122), in a run with no sign of quantization and with finite weights.",
    why: "fp16 holds values up to 65504. A large activation (attention logits, a group-norm over a nearly \
          constant input, a fine-tuned layer with larger weights) becomes Inf, and the next subtraction makes NaN.",
    cause: "Running the UNet in fp16 on inputs, resolutions or weights it was not tuned for; bf16 or fp32 \
            would keep the range.",
    fix: "Run the UNet (or at least the named module) in bf16 or fp32: `weight_dtype: bf16` in the config, or \
          upcast the named block. Check the weights with `nanscope weights` first.",
    options: "",
};

pub const NONFINITE_WEIGHTS: Rule = Rule {
    code: "K103",
    slug: "nonfinite-or-damaged-weights",
    severity: Severity::Error,
    summary: "a checkpoint of the pipeline already holds NaN/Inf or overflowing weights",
    detects: "Weight findings (W101, W102, Q101, Q110, Q111) in a checkpoint the run loads: the damage was \
              stored before the run started. A checkpoint the run's config (or its workflow, or the web UI \
              that ran it) does not load (another variant's, the base pipeline's own VAE) is listed, not judged. When NaN in the VAE is the cause but the \
              run's video decodes clean, the confidence is low: the video was made before the damage, or \
              with another VAE.",
    why: "A NaN weight makes every output it touches NaN on the first forward pass; an fp32 weight beyond \
          65504 becomes Inf when the pipeline casts it to fp16.",
    cause: "A failed conversion, merge or fine-tune, or a training run that diverged before the checkpoint \
            was saved.",
    fix: "Download a released checkpoint again (the postmortem's fix names the repository and the file) and \
          check the new copy; replace any other with a known-good copy (compare them with `nanscope diff GOOD \
          BAD`); for an overflowing weight, run that model in bf16 or fp32.",
    options: "",
};

pub const CORRUPT_CHECKPOINT: Rule = Rule {
    code: "K104",
    slug: "corrupt-checkpoint-file",
    severity: Severity::Error,
    summary: "a checkpoint file is truncated or malformed",
    detects: "File-format findings (F101–F122) on a checkpoint of the run: a truncated download, a broken \
              archive, an unreadable header; or a log line of a load that read such a file (L120: \
              `PytorchStreamReader failed reading zip archive`, `invalid load key, '<'`), with the file the \
              traceback loads when the run's prompt config names it.",
    why: "A loader that does not check sizes may read garbage or zeros into the model, or the pipeline falls \
          back to random or missing weights; the output is noise, black or NaN.",
    cause: "An interrupted download or copy, a full disk while saving, or a file replaced by an HTML error page.",
    fix: "Download or copy the file again and compare its size and hash with the source.",
    options: "",
};

pub const BROKEN_POSE_INPUT: Rule = Rule {
    code: "K105",
    slug: "broken-pose-input",
    severity: Severity::Error,
    summary: "the pose sequence driving the run is broken",
    detects: "Pose findings of error severity (P101–P114): missing or unreadable frames, NaN keypoints, wrong \
              array shapes, paste boxes outside the canvas, too few frames for the audio.",
    why: "EchoMimicV2 renders every pose frame into the pose encoder's input; a missing or NaN frame crashes \
          the loop or feeds NaN into the UNet through the pose features.",
    cause: "An interrupted pose extraction, a hand-edited folder, or poses made for another size or length.",
    fix: "Run `nanscope pose repair POSES -o FIXED` (the verdict gives the command) or re-extract the poses.",
    options: "",
};

pub const BAD_REFERENCE_IMAGE: Rule = Rule {
    code: "K106",
    slug: "bad-reference-image",
    severity: Severity::Error,
    summary: "the reference image is unusable",
    detects: "Image findings of error severity (I rules) on the run's reference image.",
    why: "The reference UNet encodes the reference image once; a blank, truncated or wrongly sized image \
          makes every frame follow a broken appearance.",
    cause: "A failed upload or conversion, an alpha-only PNG, or an image of the wrong size.",
    fix: "Use a clean RGB image of the generation size; `nanscope image check` says what is wrong.",
    options: "",
};

pub const VAE_OVERFLOW: Rule = Rule {
    code: "K107",
    slug: "vae-overflow",
    severity: Severity::Error,
    summary: "the VAE decoder overflowed fp16 while the latents were finite",
    detects: "A dump whose first non-finite values are produced in the VAE decode stage (R120/R121 with a \
              `vae` stage or module) after finite denoising steps, or NaN frames with a healthy UNet trace.",
    why: "The SD VAE decoder's last blocks exceed 65504 in fp16 on some inputs; the decoded frames are NaN and \
          the writer turns them black.",
    cause: "Running `sd-vae-ft-mse` in fp16 (a known limitation of that VAE); an fp16-fixed VAE does not overflow.",
    fix: "Run the VAE in fp32 (`vae.to(torch.float32)` and cast the latents before decoding), or use an \
          fp16-fix VAE.",
    options: "",
};

pub const NAN_CAST_BLACK_FRAMES: Rule = Rule {
    code: "K108",
    slug: "nan-cast-black-frames",
    severity: Severity::Error,
    summary: "NaN frames were cast to uint8 and written black; where the NaN came from is unknown",
    detects: "Black or exact-black frames (V120, V124), NaN in the saved video tensor (V130), or the log's cast \
              warning (L101) or NaN-to-zero patch (L104), with no \
              evidence upstream that names the producer (no dump, no quantization, finite weights).",
    why: "`(x * 255).astype(np.uint8)` turns NaN into 0: the encoder receives black frames and writes a valid, \
          black MP4. The cast is the mechanism, not the cause.",
    cause: "NaN arrived from the UNet or the VAE; the run left no evidence of which.",
    fix: "Do not patch NaN to zero. Record a probe dump of the run (the verdict's `next` commands) to find the \
          module that produced the NaN.",
    options: "",
};

pub const ENCODER_MUX_FAILURE: Rule = Rule {
    code: "K109",
    slug: "encoder-or-mux-failure",
    severity: Severity::Error,
    summary: "the video writer or the audio mux failed",
    detects: "Container findings (V101–V106: empty, not media, moov missing, truncated, decode errors) or log \
              lines of a failed mux (L105 `bytes wanted but 0 bytes read`, L106 `moov atom not found`, L113 \
              ffmpeg not found), \
              with clean frames where frames can be decoded.",
    why: "A writer that dies before finalizing leaves a file players refuse; a failed mux drops the audio.",
    cause: "ffmpeg missing from PATH, a full disk, a killed process, or an audio file moviepy cannot read.",
    fix: "Repair the file with `nanscope video repair` (the verdict gives the command) and fix the writer's \
          environment (ffmpeg on PATH, disk space). A file without its moov is rebuilt with `--reference`: the \
          verdict names a whole video of the same run folder, nearest to the broken one, or asks for one the same \
          pipeline wrote with the same settings and size. A video the audio mux left silent, with sound frames, gets the \
          run's audio back with `--audio`.",
    options: "",
};

pub const LENGTH_MISMATCH: Rule = Rule {
    code: "K110",
    slug: "audio-pose-video-length-mismatch",
    severity: Severity::Warning,
    summary: "audio, poses and video disagree on the length of the clip",
    detects: "Pose frame-count findings against the audio (P114), audio/video duration mismatch (V108) or \
              frame-count mismatches (V109).",
    why: "EchoMimicV2 generates min(audio, poses) frames; the rest is silence, a frozen tail or a cut.",
    cause: "Poses made for another clip, or an audio file longer than the pose sequence.",
    fix: "Trim or extend the poses to the audio's length (`nanscope pose check --audio` gives the count), or \
          trim the audio.",
    options: "",
};

pub const MISSING_WEIGHTS: Rule = Rule {
    code: "K111",
    slug: "missing-weights-or-motion-module",
    severity: Severity::Error,
    summary: "a component of the pipeline was not loaded (weights or motion module missing)",
    detects: "An EchoMimicV2 `pretrained_weights/` layout missing a required file (denoising UNet, reference \
              UNet, motion module, pose encoder, VAE), a weight file the run's prompt config names that does not \
              exist (C102), a prompt config whose `motion_module_path` is missing or names no file (C103), or log \
              lines such as `Loaded 0.0M-parameter motion module` (L111) and `motion module not found` (L112), or \
              Git LFS pointer files where checkpoints should be (F112) and log lines of a load that read one \
              (`invalid load key, 'v'`, L118), or log lines of a load that stopped the run: a weight file or \
              model folder not found (L119) or holding another model's files (L121). The run's prompt config is the one given with `--config`, else the \
              one a log names (or whose output folder it prints), else the one the output folder names (`infer.py` names it after the config's \
              motion module), else the entry points' (`infer*.yaml`) and any that resolves every file; the \
              others (`animation.yaml`, a training leftover) are not read, nor are the prompt configs a ComfyUI \
              node ships (under `custom_nodes/`: ComfyUI's EchoMimic nodes load their weights from \
              `ComfyUI/models/`), nor any when EchoMimicV2's web UI ran (`app.py`, `app_acc.py`), which loads \
              fixed paths below `./pretrained_weights/`: the files of those paths that are missing are the ones \
              to download. A log's `motion module not found` is an exit at load: it outranks damaged weights, \
              which the run never computed with.",
    why: "Without the motion module the frames are generated independently and flicker; without a UNet or \
          VAE checkpoint the pipeline runs on random or missing weights.",
    cause: "An incomplete download (the VAE and audio processor are fetched separately), a `git clone` of the \
            weights without Git LFS (pointer files instead of checkpoints) or a wrong path in the config.",
    fix: "Download the missing files where the config looks for them (`git lfs pull` in a clone of pointers): \
          EchoMimicV2's checkpoints with `huggingface-cli download BadToBest/EchoMimicV2 FILE --local-dir \
          pretrained_weights`, the VAE from `stabilityai/sd-vae-ft-mse`, the base model's UNet from \
          `lambdalabs/sd-image-variations-diffusers` and Whisper's `tiny.pt` from the link in EchoMimicV2's \
          README; or correct the paths in the config.",
    options: "",
};

pub const OUT_OF_MEMORY: Rule = Rule {
    code: "K112",
    slug: "out-of-memory",
    severity: Severity::Error,
    summary: "the GPU ran out of memory and the generation stopped",
    detects: "A log line of PyTorch's allocator failing (`CUDA out of memory`, `torch.OutOfMemoryError`, L108), \
              with no NaN or black frames in the run; a truncated video or one without its index (V101–V106) is \
              the writer it cut off. Beside NaN symptoms the line ranks low: an earlier attempt ran out of memory, \
              and what made the frames black is another cause.",
    why: "EchoMimicV2's memory grows with the number of frames; the normal pipeline doubles the batch for \
          classifier-free guidance. A run that dies leaves no video, or a file players refuse.",
    cause: "Too many frames (`-L`), a size above 768×768, CFG (the normal pipeline) or a GPU below the ~13 GB \
            EchoMimicV2 needs.",
    fix: "Fewer frames (`-L`), 768×768, the accelerated pipeline (`infer_acc.py`: no CFG, 6 steps) or a larger \
          GPU. Not quantizing the denoising UNet to fit: its activations overflow fp16 and the video turns black \
          (K101).",
    options: "",
};

pub const SETTINGS_STOPPED_THE_RUN: Rule = Rule {
    code: "K113",
    slug: "settings-stopped-the-run",
    severity: Severity::Error,
    summary: "a setting the pipeline cannot run with stopped the generation",
    detects: "A shape error in the log (L114: `could not broadcast input array from shape (768,768,3)`, \
              `range() arg 3 must not be zero`, tensor sizes that do not match), with the config findings that \
              explain it where the run's config has them (C107 size not a multiple of 8, C108 size other than the \
              poses', C109 context windows that cannot tile the video), and no NaN or black frames in the run; \
              or a workflow's loader setting the node cannot load with (C115: ComfyUI_EchoMimic's V3_flash with an \
              mmgp profile), with the log's `Missing key quantize_transformer` where the log has it.",
    why: "EchoMimicV2 draws poses at 768×768 and copies them into a frame of the requested size; its context \
          windows step by context_frames − context_overlap. Another size, or an overlap as large as the \
          window, stops the run before a video is written.",
    cause: "A custom `-W`/`-H` (antgroup/echomimic_v2#66), `context_overlap` ≥ `context_frames`, or weights for \
            another architecture.",
    fix: "Generate at the size the poses were drawn for (`-W 768 -H 768`), keep `context_overlap` below \
          `context_frames` (12 and 3 by default), and check the config with `nanscope config check`; for C115, \
          the setting the workflow's loader can load with (use_mmgp None for V3_flash).",
    options: "",
};

pub const INPUT_NOT_FOUND: Rule = Rule {
    code: "K114",
    slug: "input-not-found",
    severity: Severity::Error,
    summary: "an input the run reads is not where the run looks for it, and the run stopped there",
    detects: "A test case of the run's prompt config whose reference image, audio file or pose folder does not \
              exist below the folder the entry point runs in (C114), a log's traceback ending in \
              `FileNotFoundError` or `NotADirectoryError` for an image, an audio file or a pose folder, or in \
              moviepy's `OSError: MoviePy error: the file … could not be found!` for the audio (L122), or both; and no NaN or black frames in the run. With the config alone, that the run stops there is \
              predicted; the traceback observes it.",
    why: "`infer_acc.py` reads each test case's inputs when it reaches the case, and every entry point reads its \
          reference image, audio and poses before generating: a missing one stops the run, with no video for \
          that case or the ones after it.",
    cause: "A path relative to another folder (the shipped `infer_acc.yaml` names `../echomimic_v2/…`, found \
            only when the checkout's folder has that name), an input renamed or not copied, an MP3 in place of a \
            WAV.",
    fix: "Name each input where it lies, relative to the folder the entry point runs in; when the input lies in \
          the run folder under the same names, the fix gives the `sed` line that renames it in the config. \
          `nanscope config check` lists every test case's inputs.",
    options: "",
};

pub const IMPORT_FAILED: Rule = Rule {
    code: "K115",
    slug: "import-failed",
    severity: Severity::Error,
    summary: "the run stopped importing a Python module: a package is missing, or of a version without it",
    detects: "A log's traceback ending in `ModuleNotFoundError: No module named 'X'` or `ImportError: cannot \
              import name 'A' from 'B'` (L122), and no NaN or black frames in the run.",
    why: "An entry point imports its libraries before it loads a weight: a missing module stops it with no \
          video at all.",
    cause: "A package not installed in the environment the run used, or installed at a version that dropped \
            what EchoMimicV2 imports: moviepy 2 removed `moviepy.editor`; a newer `huggingface_hub` dropped \
            `cached_download`, which older diffusers import.",
    fix: "Install the version EchoMimicV2's `requirements.txt` pins for that package (`pip install \
          moviepy==1.0.3`), or the whole file from the checkout (`pip install -r requirements.txt`), into the \
          environment that runs the entry point.",
    options: "",
};

pub const HEALTHY_RUN: Rule = Rule {
    code: "K120",
    slug: "healthy-run",
    severity: Severity::Info,
    summary: "every check passed: nothing in the run folder explains a failure",
    detects: "No finding of error or warning severity in any artifact of the run.",
    why: "A healthy verdict means the artifacts given are consistent; a problem the user sees may lie in an \
          artifact that was not given (the video, a dump, the log).",
    cause: "-",
    fix: "Nothing to fix in what was checked; add the missing artifacts (`--video`, `--dump`, `--log`) if the \
          output still looks wrong.",
    options: "",
};

pub const UNKNOWN_CAUSE: Rule = Rule {
    code: "K121",
    slug: "unknown-cause",
    severity: Severity::Warning,
    summary: "findings exist, but no catalogued cause explains them",
    detects: "Findings that match none of the correlation rules strongly enough to name a cause. When a log's \
              traceback ends in an exception no rule names (L122), the headline quotes it.",
    why: "The verdict does not guess: the findings are listed for a person to read.",
    cause: "A failure outside the catalogue, or evidence missing from the run folder.",
    fix: "Read the findings; record a probe dump of the run to localize the first non-finite value.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &QUANTIZATION_OVERFLOW,
    &ACTIVATION_OVERFLOW,
    &NONFINITE_WEIGHTS,
    &CORRUPT_CHECKPOINT,
    &BROKEN_POSE_INPUT,
    &BAD_REFERENCE_IMAGE,
    &VAE_OVERFLOW,
    &NAN_CAST_BLACK_FRAMES,
    &ENCODER_MUX_FAILURE,
    &LENGTH_MISMATCH,
    &MISSING_WEIGHTS,
    &OUT_OF_MEMORY,
    &SETTINGS_STOPPED_THE_RUN,
    &INPUT_NOT_FOUND,
    &IMPORT_FAILED,
    &HEALTHY_RUN,
    &UNKNOWN_CAUSE,
];
