//! `G` rules: a render compared with its accepted golden render (`video
//! compare`, the gate's video baselines, G101–G119) and the CI gate with its
//! configuration and baselines (G120–G159).

use super::Rule;
use crate::report::Severity;

pub const FRAME_COUNT_MISMATCH: Rule = Rule {
    code: "G101",
    slug: "golden-frame-count-mismatch",
    severity: Severity::Error,
    summary: "the render and its golden render decode to different frame counts",
    detects: "A candidate whose decoded frame count differs from the golden render's, when neither video \
              has a frame rate and frames are paired by index; the frames past the shorter video are not \
              compared. The evidence carries both counts. With frame rates, frames are paired by time and \
              unpaired frames are G107 and G108.",
    why: "A render that lost or gained frames is out of step with its audio and its pose sequence; every \
          later comparison pairs the wrong frames.",
    cause: "A changed `length`/`video_length`, a context-window or stride setting that drops the tail \
            window, a writer killed before the last frames, or a changed frame rate.",
    fix: "Compare the generation settings (length, fps, context windows) with those of the golden run; \
          when the new count is intended, record the render as the new golden.",
    options: "",
};

pub const FRAME_SIZE_MISMATCH: Rule = Rule {
    code: "G102",
    slug: "golden-frame-size-mismatch",
    severity: Severity::Error,
    summary: "the render and its golden render have different frame sizes",
    detects: "A candidate whose decoded width and height differ from the golden render's. No frame is \
              compared: PSNR and SSIM are only defined on frames of one size.",
    why: "A different resolution means the pipeline ran with other settings; comparing scaled frames \
          would hide real damage behind resampling error.",
    cause: "A changed `width`/`height`, a crop or pad step added to the writer, or an encoder that rounds \
            sizes to a multiple of 2 or 16.",
    fix: "Render at the golden size, or record the new render as the golden when the size change is intended.",
    options: "",
};

pub const FRAME_RATE_MISMATCH: Rule = Rule {
    code: "G103",
    slug: "golden-frame-rate-mismatch",
    severity: Severity::Warning,
    summary: "the render and its golden render play at different frame rates",
    detects: "Frame rates (ffprobe's base rate `r_frame_rate`, or the average rate where the base rate is \
              missing or far from it, so a dropped frame is G107 and not a rate change) that differ by more \
              than 0.5%. The evidence \
              carries both rates; both durations are in the `videos` section.",
    why: "At another rate the same frame index is another moment: frames are paired by presentation \
          time, and the video drifts against its audio.",
    cause: "A changed `fps` in the writer or the generation config, or a container that lost its timing.",
    fix: "Write the render at the golden frame rate.",
    options: "",
};

pub const PSNR_BELOW_THRESHOLD: Rule = Rule {
    code: "G104",
    slug: "psnr-below-threshold",
    severity: Severity::Error,
    summary: "frames whose PSNR against the golden render is below the threshold",
    detects: "Runs of consecutive frames whose PSNR (all planes, weighted by their pixel counts, as \
              ffmpeg's `psnr` filter forms `psnr_avg`) is below `--min-psnr`. `subject.frames` is the run; \
              the evidence carries the lowest value and its frame.",
    why: "A low PSNR means the pixel values moved: a colour shift, a brightness change or heavy noise \
          that a black or blank check does not see.",
    cause: "Changed weights, precision (fp16/bf16) or sampler settings, a changed VAE, or a stronger \
            compression of the output.",
    fix: "Open the side-by-side plot (`--plot DIR`) of the worst frame to see what changed; bisect the \
          settings that differ from the golden run.",
    options: "--min-psnr DB (no threshold)",
};

pub const SSIM_BELOW_THRESHOLD: Rule = Rule {
    code: "G105",
    slug: "ssim-below-threshold",
    severity: Severity::Error,
    summary: "frames whose SSIM against the golden render is below the threshold",
    detects: "Runs of consecutive frames whose SSIM (ffmpeg's `ssim` filter's `All`: 8x8 windows on a \
              4-pixel grid, planes weighted by their pixel counts) is below `--min-ssim`. `subject.frames` \
              is the run; the evidence carries the lowest value and its frame.",
    why: "A low SSIM means the structure of the picture changed: washed-out or blurred frames, a shifted \
          or frozen sequence, or a different motion, none of which are black or blank.",
    cause: "A render that is not black but wrong: changed weights or precision, a broken reference \
            image or pose input, frames out of step, or a frozen second half.",
    fix: "Open the side-by-side plot (`--plot DIR`) of the worst frame pair; when the frames run in step \
          but are shifted, look for a dropped or repeated frame near the first reported frame.",
    options: "--min-ssim VALUE (no threshold)",
};

pub const UNREADABLE_VIDEO: Rule = Rule {
    code: "G106",
    slug: "compare-unreadable-video",
    severity: Severity::Error,
    summary: "a video of the comparison has no decodable video stream",
    detects: "A candidate or golden file that ffprobe cannot read, that has no video stream, or whose \
              decode stopped with an error or produced no frame. Nothing is compared.",
    why: "Without frames on both sides there is nothing to compare, and a gate must not pass on it.",
    cause: "A broken or truncated render, a wrong path to the golden file, or a file that is not a video.",
    fix: "Run `nanscope video check` on the file named in the finding to see what is wrong with it.",
    options: "",
};

pub const GOLDEN_FRAMES_MISSING: Rule = Rule {
    code: "G107",
    slug: "golden-frames-missing",
    severity: Severity::Error,
    summary: "frames of the golden render have no frame of the render near their time",
    detects: "Golden frames with no candidate frame within half a candidate frame period of their \
              presentation time (times from the start of each file, as ffmpeg's filters see them): a \
              dropped frame, a render that starts late or ends early. The evidence carries the count and \
              the first indices and times; the frames around them keep their true partners.",
    why: "A dropped frame puts the render out of step with its audio and pose sequence from that point; \
          pairing by index would hide it by comparing every later frame with the wrong golden frame.",
    cause: "A writer that dropped frames (a slow pipe, a variable frame rate), a changed `length` or \
            context-window setting that loses frames, or a trimmed start or end.",
    fix: "Look at the listed times; compare the generation and writer settings with those of the golden \
          run, and record the render as the new golden when the change is intended.",
    options: "",
};

pub const EXTRA_FRAMES: Rule = Rule {
    code: "G108",
    slug: "extra-frames",
    severity: Severity::Error,
    summary: "frames of the render have no golden frame near their time",
    detects: "Candidate frames with no golden frame within half a golden frame period of their \
              presentation time: an inserted or duplicated frame, a render that starts early or runs \
              longer than its golden render. The evidence carries the count and the first indices and times.",
    why: "Frames the golden render does not have cannot be judged against it, and an inserted frame \
          shifts the render against its audio.",
    cause: "A writer that duplicated frames, a changed `length`, frame rate or context-window stride, or \
            extra frames at the start or end.",
    fix: "Look at the listed times; render with the golden run's length and frame rate, or record the \
          render as the new golden when the change is intended.",
    options: "",
};

pub const CHECK_MATCHED_NOTHING: Rule = Rule {
    code: "G120",
    slug: "check-matched-nothing",
    severity: Severity::Error,
    summary: "a gate check whose path globs match no file",
    detects: "A named check of the gate configuration whose `paths` globs, resolved against the \
              configuration's folder, match no file or folder.",
    why: "A check that checks nothing passes whatever the renders, weights or poses hold: a renamed output \
          folder or a render step that wrote nowhere would turn the gate green without a single input \
          being looked at.",
    cause: "The render step failed or wrote elsewhere, the globs are wrong (relative to the configuration \
            file, not to the working directory), or the fixtures were not checked out.",
    fix: "Make the render step write where the check looks, or correct the check's `paths` globs.",
    options: "[[gate.check]] paths",
};

pub const UNUSED_SUPPRESSION: Rule = Rule {
    code: "G121",
    slug: "unused-suppression",
    severity: Severity::Warning,
    summary: "a `[[gate.allow]]` entry that suppressed no finding",
    detects: "A suppression (code, path glob and reason) of the gate configuration that matched no finding \
              of the run, as a linter reports an unused `noqa` comment.",
    why: "A stale suppression hides the next finding that happens to match it: the problem it was written \
          for is gone, but it stays a blind spot.",
    cause: "The finding it suppressed was fixed, its code or path changed, or the entry has a typo.",
    fix: "Delete the entry, or correct its `code` and `path` so that it matches the finding it is meant for.",
    options: "[[gate.allow]] code, path, reason",
};

pub const WEIGHTS_LAYOUT_CHANGED: Rule = Rule {
    code: "G122",
    slug: "weights-layout-changed",
    severity: Severity::Error,
    summary: "a checkpoint's tensors differ in name, shape or dtype from its recorded fingerprint",
    detects: "A tensor of a checked checkpoint that is missing from, added to, or of another shape or dtype \
              than the fingerprint recorded by `gate --update-baselines` (the baseline keeps names, shapes, \
              dtypes and per-tensor statistics, not the values).",
    why: "A pipeline loads weights by name and shape: a renamed, missing or reshaped tensor fails to load or \
          is silently left at its initial values, and a dtype change (fp16 where bf16 was accepted) \
          changes where overflow starts.",
    cause: "A different export or conversion script, a partial download, or a checkpoint of another model \
            version placed where the accepted one was.",
    fix: "Restore the accepted checkpoint, or, when the change is intended, review it and accept it with \
          `nanscope gate --update-baselines`.",
    options: "[[gate.check]] baseline = true",
};

pub const WEIGHTS_STATISTICS_DRIFTED: Rule = Rule {
    code: "G123",
    slug: "weights-statistics-drifted",
    severity: Severity::Warning,
    summary: "a tensor's statistics moved beyond the tolerance from its recorded fingerprint",
    detects: "A tensor whose minimum, maximum, mean, standard deviation or absolute maximum differs from the \
              recorded fingerprint by more than the check's relative tolerance (default 1e-3 of the larger \
              magnitude), or whose count of non-finite values changed.",
    why: "The same names and shapes with other values are another checkpoint: a re-quantization, a merge or \
          a corrupted copy. A grown absolute maximum moves the layer towards fp16's limit.",
    cause: "A re-export with other quantization settings, a fine-tune or merge, or damaged bytes.",
    fix: "Compare with the accepted checkpoint (`nanscope diff`) when it is at hand; accept an intended \
          change with `nanscope gate --update-baselines`.",
    options: "[[gate.check]] tolerance (default 1e-3)",
};

pub const NO_BASELINE: Rule = Rule {
    code: "G124",
    slug: "no-baseline",
    severity: Severity::Info,
    summary: "a gate check has no recorded baseline yet",
    detects: "A check that compares with a baseline (accepted findings, weights fingerprint) while the \
              baselines folder holds none for it.",
    why: "Without a baseline every finding counts as new and no drift can be measured.",
    cause: "The baselines were never recorded, or the check was renamed.",
    fix: "Run `nanscope gate --update-baselines` on an accepted state and commit the baselines folder.",
    options: "[gate] baselines (folder, default `nanscope-baselines`)",
};

pub const TRACE_HEADROOM_LOST: Rule = Rule {
    code: "G125",
    slug: "trace-headroom-lost",
    severity: Severity::Warning,
    summary: "a module's largest activation grew towards fp16's limit since the accepted trace",
    detects: "A module of a trace dump whose largest finite magnitude (absmax) at some denoising step at \
              least doubled since the baseline recorded by `gate --update-baselines`, or crossed half of \
              fp16's largest finite value (32752) where the baseline stayed below it. One finding per module, \
              at the step that lost the most headroom; `subject.module` and `subject.step` name it, and the \
              evidence holds both absmax values, the margin to 65504 of both (as a factor and in doublings) \
              and how many of the module's steps lost headroom. A baseline from before per-module records \
              is compared per stage and step, with a G124 asking to re-record it.",
    why: "fp16 overflows above 65504: each doubling of an activation's absmax spends one of the few \
          doublings left before Inf, and the next normalisation turns Inf into NaN. Headroom lost between \
          two accepted runs is the warning that comes before black frames.",
    cause: "A changed checkpoint (a merge, a re-quantization), a higher guidance scale, another scheduler, \
            or inputs (reference image, poses) outside what the model saw.",
    fix: "Keep the named module in fp32 or bf16, or restore the accepted weights and settings; \
          `nanscope trace` on the new dump shows the whole run. Accept an intended change with \
          `nanscope gate --update-baselines`.",
    options: "[[gate.check]] kind = \"trace\"",
};

pub const TRACE_LAYOUT_CHANGED: Rule = Rule {
    code: "G127",
    slug: "trace-layout-changed",
    severity: Severity::Warning,
    summary: "a trace dump's modules or steps differ from its accepted trace baseline",
    detects: "A trace dump checked by a gate whose (module, step) table differs from the one \
              `gate --update-baselines` recorded: modules or steps present in only one of the two, or a dump \
              the baseline does not hold at all, or a dump with more (module, step) pairs than the table \
              keeps (2^20). One finding per dump, with the counts and the first few names; the pairs \
              present in both are still compared (G125).",
    why: "Headroom can only be compared where both runs recorded the module at the step: a renamed module, \
          a changed step count or a probe that records other modules leaves those places unguarded.",
    cause: "A changed model structure or module names, another number of inference steps, other probe \
            filters, or a new dump folder matched by the check's paths.",
    fix: "When the change is intended, record it with `nanscope gate --update-baselines`; otherwise \
          restore the steps and probe settings of the accepted run.",
    options: "[[gate.check]] kind = \"trace\"",
};

pub const RENDER_STATISTICS_DRIFT: Rule = Rule {
    code: "G126",
    slug: "render-statistics-drift",
    severity: Severity::Warning,
    summary: "a render's duration or luma statistics moved away from its golden render's",
    detects: "A render compared with its golden render (a gate video check with `goldens`) whose duration \
              differs by more than `duration-tolerance` seconds (default 0.05), or whose mean luma or mean \
              spatial standard deviation of luma (8-bit levels, averaged over frames) differs by more than \
              `luma-tolerance` (default 2). The evidence holds both sides' values.",
    why: "A render that is darker, brighter, flatter or shorter than the accepted one can keep PSNR and SSIM \
          above loose thresholds frame by frame while the whole clip has drifted: a washed-out VAE, a \
          changed colour range, frames dropped at the end.",
    cause: "A changed VAE or its dtype, another colour range or pixel format at encode time, a changed frame \
            count or frame rate, or a scheduler change that shifts the overall brightness.",
    fix: "Compare the two with `nanscope video compare RENDER GOLDEN --plot DIR` and look at the worst frames; \
          accept an intended change with `nanscope gate --update-baselines`.",
    options: "[[gate.check]] duration-tolerance (0.05 s), luma-tolerance (2 levels)",
};

pub const RULES: &[&Rule] = &[
    &FRAME_COUNT_MISMATCH,
    &FRAME_SIZE_MISMATCH,
    &FRAME_RATE_MISMATCH,
    &PSNR_BELOW_THRESHOLD,
    &SSIM_BELOW_THRESHOLD,
    &UNREADABLE_VIDEO,
    &GOLDEN_FRAMES_MISSING,
    &EXTRA_FRAMES,
    &CHECK_MATCHED_NOTHING,
    &UNUSED_SUPPRESSION,
    &WEIGHTS_LAYOUT_CHANGED,
    &WEIGHTS_STATISTICS_DRIFTED,
    &NO_BASELINE,
    &TRACE_HEADROOM_LOST,
    &RENDER_STATISTICS_DRIFT,
    &TRACE_LAYOUT_CHANGED,
];
