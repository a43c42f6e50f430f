//! `G` rules: a render compared with its accepted golden render (`video
//! compare`, the gate's video baselines).

use super::Rule;
use crate::report::Severity;

pub const FRAME_COUNT_MISMATCH: Rule = Rule {
    code: "G101",
    slug: "golden-frame-count-mismatch",
    severity: Severity::Error,
    summary: "the render and its golden render decode to different frame counts",
    detects: "A candidate whose decoded frame count differs from the golden render's. Frames are paired \
              by index; the frames past the shorter video are not compared. The evidence carries both counts.",
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
    detects: "Frame rates (the average rate ffprobe reports) that differ by more than 0.5%. The evidence \
              carries both rates; both durations are in the `videos` section.",
    why: "Frames are paired by index: at another rate the same index is another moment, and the video \
          drifts against its audio.",
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

pub const RULES: &[&Rule] = &[
    &FRAME_COUNT_MISMATCH,
    &FRAME_SIZE_MISMATCH,
    &FRAME_RATE_MISMATCH,
    &PSNR_BELOW_THRESHOLD,
    &SSIM_BELOW_THRESHOLD,
    &UNREADABLE_VIDEO,
];
