//! `P` rules: pose sequences (EchoMimicV2 `.npy` folders, OpenPose and
//! ControlNet JSON) that make a pose-driven pipeline crash or draw garbage.

use super::Rule;
use crate::report::Severity;

pub const MISSING_FRAME_FILE: Rule = Rule {
    code: "P101",
    slug: "missing-frame-file",
    severity: Severity::Error,
    summary: "a frame file is missing from the sequence",
    detects: "Gaps in the frame numbering `0..n-1` of a pose folder: for EchoMimicV2, `k.npy` is absent \
              while a higher-numbered file exists. Consecutive missing frames are reported as one range.",
    why: "EchoMimicV2 counts the directory entries (L) and then opens `0.npy … L-1.npy` in order, so a gap \
          makes it open a file that does not exist and the run dies with FileNotFoundError at that frame. \
          Pipelines that sort and load whatever is there instead shift every later frame against the audio.",
    cause: "An interrupted extraction (the producer writes frames from an 8-thread pool), a frame that \
            failed pose detection and was skipped, or files deleted or renamed by hand.",
    fix: "Re-extract the poses, or run `nanscope pose repair` to recreate the missing frames by \
          interpolating their neighbours.",
    options: "",
};

pub const DUPLICATE_FRAME_INDEX: Rule = Rule {
    code: "P102",
    slug: "duplicate-frame-index",
    severity: Severity::Error,
    summary: "two files claim the same frame number",
    detects: "Two files whose names give the same frame index, such as `7.npy` and `07.npy`, or two \
              OpenPose `_keypoints.json` files with the same 12-digit frame number.",
    why: "Only one of them is loaded for that frame, and the extra directory entry raises EchoMimicV2's \
          frame count L past the last file, so it opens a file that does not exist.",
    cause: "Two extraction runs written into one folder with different name padding, or a copied file.",
    fix: "Keep one file per frame index and delete the other after checking which one is right.",
    options: "",
};

pub const UNPARSABLE_POSE_FILE: Rule = Rule {
    code: "P103",
    slug: "unparsable-pose-file",
    severity: Severity::Error,
    summary: "a pose file does not hold a readable pose",
    detects: "Files of a pose sequence that are invalid JSON, JSON without a `people` list, or an `.npy` \
              whose pickled object is not a pose dict. The evidence gives the byte offset where reading \
              stopped. Byte-level damage of `.npy` files (truncation, bad headers, malformed pickles) is \
              reported with the F rules and unsafe pickles with the S rules.",
    why: "The pipeline's loader raises on the file (JSONDecodeError, KeyError on `hands`), or reads an \
          object that is not a pose, so the run stops at that frame.",
    cause: "A truncated write, a file saved by another tool into the pose folder, or a JSON writer that \
            emitted something other than OpenPose's layout.",
    fix: "Re-extract that frame, or run `nanscope pose repair`, which rebuilds unreadable frames from \
          their neighbours like missing ones.",
    options: "",
};

pub const STRAY_FILE: Rule = Rule {
    code: "P104",
    slug: "stray-file-in-pose-folder",
    severity: Severity::Error,
    summary: "a file that is not a frame sits in an EchoMimicV2 pose folder",
    detects: "Entries of an EchoMimicV2 pose folder whose name is not `<index>.npy` (for example \
              `.DS_Store`, `notes.txt`, `poses.mp4` or a sub-folder), and frame files whose number is not \
              a frame of the sequence: 1,000,000 or more, or more than 10,000 frames past the frame before \
              it (`gap` in the evidence); those are ignored, with the frames after them.",
    why: "EchoMimicV2 sets the frame count L to the number of directory entries, not the number of \
          `.npy` files, and then opens `0.npy … L-1.npy`. One stray entry makes it open `L-1.npy`, which \
          does not exist, and the run crashes unless the audio is shorter than the pose sequence.",
    cause: "Files copied next to the poses (a visualisation video, a README), or hidden files created by \
            a file manager or an editor.",
    fix: "Move everything except the `<index>.npy` files out of the pose folder.",
    options: "",
};

pub const FRAME_NUMBER_MISMATCH: Rule = Rule {
    code: "P105",
    slug: "frame-number-mismatch",
    severity: Severity::Warning,
    summary: "the `num` stored in a pose file differs from its file index",
    detects: "EchoMimicV2 pose dicts whose `num` field is not the index in the file name, or is not an \
              integer.",
    why: "Inference loads frames by file name and ignores `num`, so a mismatch means the files were \
          renamed, shuffled or copied between clips: the motion no longer follows the audio.",
    cause: "Frames renumbered by hand, two clips merged into one folder, or a file copied to fill a gap.",
    fix: "Check the frame order; `nanscope pose repair` rewrites `num` to the file index.",
    options: "",
};

pub const NONFINITE_KEYPOINT: Rule = Rule {
    code: "P106",
    slug: "nonfinite-keypoint",
    severity: Severity::Error,
    summary: "keypoint coordinates or scores are NaN or infinite",
    detects: "NaN, +Inf or -Inf in keypoint coordinates or confidence scores, including Python-style bare \
              `NaN`/`Infinity` tokens in JSON. One finding per frame and hand, face or body, naming the \
              first bad keypoint and counting the others.",
    why: "The renderer converts every coordinate with `int(x * W)`: NaN raises `cannot convert float NaN \
          to integer` and Inf raises OverflowError, so EchoMimicV2 crashes at that frame. Renderers that \
          survive drop the point, and NaN passes every `< 1` range check.",
    cause: "A pose detector that divided by a zero-sized box, smoothing or interpolation across a \
            missing detection, or a NaN propagated from a normalisation by the image size.",
    fix: "Run `nanscope pose repair`, which interpolates the keypoint from neighbouring frames (up to \
          `--max-gap` frames), or re-extract the frame.",
    options: "",
};

pub const KEYPOINT_OUTSIDE_CANVAS: Rule = Rule {
    code: "P107",
    slug: "keypoint-outside-canvas",
    severity: Severity::Warning,
    summary: "keypoints lie far outside the canvas",
    detects: "Valid keypoints whose normalised coordinates fall outside [-tolerance, 1 + tolerance]. \
              Points up to about 1.25 occur in real EchoMimicV2 poses (a hand below the crop), which is \
              why the default tolerance is generous.",
    why: "Points beyond the canvas are not drawn, so the hand or body part disappears from the \
          condition; values that are far out (pixels stored as normalised, 1e30) also overflow the \
          renderer's integer coordinates and crash it.",
    cause: "Pixel coordinates written where normalised ones are expected (or the reverse), a crop box \
            that does not contain the person, or a corrupted value.",
    fix: "Check the coordinate units and the crop; re-extract the frame if the values are garbage.",
    options: "--canvas-tolerance FRACTION (0.3)",
};

pub const WRONG_ARRAY_SHAPE: Rule = Rule {
    code: "P108",
    slug: "wrong-pose-array-shape",
    severity: Severity::Error,
    summary: "a pose field is missing or has the wrong shape or type",
    detects: "EchoMimicV2 dicts missing `bodies`, `hands`, `hands_score` or `draw_pose_params`, arrays \
              whose shape is not the DWPose layout (`hands` (2N, 21, 2), `hands_score` (2N, 21), \
              `faces` (N, 68, 2), `bodies.candidate` (18N, 2), `bodies.subset` (N, 18)), non-numeric \
              arrays; OpenPose keypoint lists whose length is not a multiple of 3 or not a known point count.",
    why: "The renderer indexes these arrays by position: a missing key raises KeyError, a short hand \
          raises IndexError, and a transposed array draws points in the wrong places.",
    cause: "A different pose extractor (MMPose, MediaPipe, 3-D keypoints), a converter bug, or a file \
            edited by hand.",
    fix: "Re-extract the poses with the pipeline's own DWPose preprocessing, or convert them with \
          `nanscope pose convert`.",
    options: "",
};

pub const SUBSET_INDEX_OUT_OF_RANGE: Rule = Rule {
    code: "P109",
    slug: "subset-index-out-of-range",
    severity: Severity::Warning,
    summary: "a body subset index points outside the candidate list",
    detects: "Entries of `bodies.subset` that are neither -1 (missing) nor an integer index into \
              `bodies.candidate`.",
    why: "Body renderers (MimicMotion, ControlNet, DWPose) look the point up with that index and raise \
          IndexError or draw a point of another person; EchoMimicV2 itself ignores the body.",
    cause: "Candidates and subsets taken from different frames, or a subset written as scores.",
    fix: "Re-extract the poses; the subset must be `18·person + joint` or -1.",
    options: "",
};

pub const IMPLAUSIBLE_SCORE: Rule = Rule {
    code: "P110",
    slug: "implausible-keypoint-score",
    severity: Severity::Warning,
    summary: "keypoint confidence scores lie outside a plausible range",
    detects: "Finite scores below 0 or above `--max-score`. DWPose scores exceed 1 routinely (up to about \
              1.2), so the default upper bound is 2.",
    why: "Scores set the brightness of each drawn hand point and edge (`int(score · 255)`); negative \
          scores draw black, huge ones saturate, and either way the condition differs from training.",
    cause: "Logits or heatmap values stored instead of confidences, or scores from another tool's scale.",
    fix: "Re-extract the poses, or rescale the scores into [0, 1.2].",
    options: "--max-score SCORE (2.0)",
};

pub const NO_HANDS_DRAWN: Rule = Rule {
    code: "P111",
    slug: "no-hands-drawn",
    severity: Severity::Warning,
    summary: "the pipeline will draw nothing for this frame",
    detects: "Frames in which no hand keypoint passes EchoMimicV2's drawing rule: a point is drawn only \
              when its truncated pixel coordinates `int(x · W)` and `int(y · H)` are both greater than \
              0.01 (hands missing, all points at or left/above the canvas edge, or -1 sentinels).",
    why: "EchoMimicV2 draws only hands. A frame without drawable hand points is an all-black pose \
          image, so the model loses the motion condition there and the hands blur, vanish or jump.",
    cause: "Hands out of view or occluded in the driving video, a failed detection, or coordinates \
            written as sentinels.",
    fix: "If the hands really leave the frame this is expected; otherwise repair the keypoints \
          (`nanscope pose repair` interpolates frames whose hands are all sentinels) or re-extract.",
    options: "",
};

pub const INVALID_DRAW_PARAMS: Rule = Rule {
    code: "P112",
    slug: "invalid-draw-pose-params",
    severity: Severity::Error,
    summary: "`draw_pose_params` cannot paste the pose into the frame",
    detects: "`draw_pose_params = [imh_new, imw_new, rb, re, cb, ce]` that is not six integers, or where \
              rb ≥ re, cb ≥ ce, re − rb ≠ imh_new, ce − cb ≠ imw_new, a bound is negative, or re/ce \
              exceed `--height`/`--width` (default 768 × 768, the only size the reference inference \
              accepts), or a drawing so far from square that its canvas (shorter side 800 pixels) \
              would pass 64 Mpx (`pose render` leaves such frames undrawn rather than allocate it). \
              Frames whose parameters differ from the first frame's are reported too.",
    why: "The drawn pose (imh_new × imw_new) is pasted into the frame mask at rows [rb, re) and columns \
          [cb, ce); any mismatch raises `could not broadcast input array from shape (768,768,3)` and \
          the run stops, or shifts the pose against the reference image.",
    cause: "Poses extracted for another resolution, a crop box computed on a different video, or a \
            hand-edited parameter list.",
    fix: "Generate at the size the poses were made for (768 × 768), or run `nanscope pose repair \
          --width W --height H` to rewrite the parameters.",
    options: "--width PIXELS (768), --height PIXELS (768)",
};

pub const KEYPOINT_JUMP: Rule = Rule {
    code: "P113",
    slug: "keypoint-jump",
    severity: Severity::Warning,
    summary: "a keypoint moves implausibly far in one frame",
    detects: "A keypoint whose displacement from the previous frame exceeds both `--min-jump` (canvas \
              fraction) and the sequence's own motion: the median of all per-frame displacements of \
              that part (hands, body or face) plus `--jump-threshold` robust standard deviations \
              (1.4826 × MAD), and stands out against calm motion in the two frames around it (a \
              keypoint that keeps moving fast is a gesture, not a glitch). A jump that comes back \
              within 4 frames is reported once, as a spike.",
    why: "The pose encoder turns the jump into a flash of the hand or limb in another place; the video \
          model then draws a teleporting or smeared hand for that frame.",
    cause: "A detector swap of left and right hands, a false detection in the background for a frame, \
            or frames from another clip spliced in.",
    fix: "Run `nanscope pose repair`, which treats the keypoint as missing for frames that jump away \
          and back and interpolates it; a lasting jump (a cut) needs re-extraction.",
    options: "--jump-threshold SIGMAS (8), --min-jump FRACTION (0.15)",
};

pub const FRAME_COUNT_MISMATCH: Rule = Rule {
    code: "P114",
    slug: "pose-frame-count-mismatch",
    severity: Severity::Error,
    summary: "the sequence does not cover the expected number of frames",
    detects: "Fewer pose frames than `--expect-frames N`, or than the audio duration × `--fps` \
              (`--audio FILE`, duration from a WAV header, else ffprobe). More frames than \
              `--expect-frames` is info; audio shorter than the poses is a warning that says the \
              length the pipeline will use (evidence `used`). In `postmortem`, when the run's workflow \
              drives EchoMimicV2-ComfyUI's node, which repeats the poses to the audio's length, any \
              difference from the audio is info; so are poses shorter than the audio when the run's clip has \
              fewer frames than the poses (evidence `clip_frames`): its length setting (`-L`, the web UI's \
              length) cut it before the poses did.",
    why: "EchoMimicV2 generates L = min(-L, int(audio seconds × fps), pose frames) frames and trims the \
          audio to them, so a short pose sequence cuts the video short of its audio. Audio shorter than \
          the poses is not broken: the pipeline trims the length to the audio and the last poses go \
          unused, which matters only if they hold motion the clip was meant to end on. \
          EchoMimicV2-ComfyUI's node (since its pose node) takes the length from the audio alone and \
          starts the poses again from the first when they run out.",
    cause: "Poses extracted from a shorter driving video, a different frame rate (the producer \
            re-encodes to 24 fps), or lost frames; for the warning, a driving video longer than the audio.",
    fix: "Extract poses from a driving video at least as long as the audio at the generation's fps, or \
          trim the audio. For the warning, nothing is needed unless the clip must end on the last poses: \
          then lengthen the audio or drop poses from the start.",
    options: "--expect-frames N, --audio FILE, --fps FPS (24)",
};

pub const PIXEL_UNITS_WITHOUT_CANVAS: Rule = Rule {
    code: "P115",
    slug: "pixel-units-without-canvas",
    severity: Severity::Info,
    summary: "pixel coordinates without a known canvas size",
    detects: "OpenPose JSON whose coordinates are pixels (values above 1.5) while neither the file \
              (`canvas_width`/`canvas_height`) nor `--source-size WxH` gives the image size.",
    why: "Without the size the points cannot be normalised, so the out-of-canvas check is skipped and a \
          conversion to EchoMimicV2 would place every point off the canvas.",
    cause: "OpenPose `--write_json` output, which never records the image size or `--keypoint_scale`.",
    fix: "Pass `--source-size WIDTHxHEIGHT` with the driving video's size.",
    options: "--source-size WxH",
};

pub const UNREPAIRED_GAP: Rule = Rule {
    code: "P116",
    slug: "unrepaired-gap",
    severity: Severity::Warning,
    summary: "a repair held a keypoint instead of interpolating it",
    detects: "Runs of missing, non-finite or jumping keypoints (or whole frames) longer than `--max-gap` \
              frames, and runs at the start or end of the sequence with only one neighbour. `pose repair` \
              holds the nearest valid value there instead of inventing motion, and reports it.",
    why: "A held keypoint freezes that hand or limb for the run, which the generated video shows as a \
          stiff or frozen hand.",
    cause: "Long occlusions or detector failures in the driving video.",
    fix: "Re-extract that stretch of the video, or raise `--max-gap` if linear motion is acceptable.",
    options: "--max-gap FRAMES (12)",
};

pub const RULES: &[&Rule] = &[
    &MISSING_FRAME_FILE,
    &DUPLICATE_FRAME_INDEX,
    &UNPARSABLE_POSE_FILE,
    &STRAY_FILE,
    &FRAME_NUMBER_MISMATCH,
    &NONFINITE_KEYPOINT,
    &KEYPOINT_OUTSIDE_CANVAS,
    &WRONG_ARRAY_SHAPE,
    &SUBSET_INDEX_OUT_OF_RANGE,
    &IMPLAUSIBLE_SCORE,
    &NO_HANDS_DRAWN,
    &INVALID_DRAW_PARAMS,
    &KEYPOINT_JUMP,
    &FRAME_COUNT_MISMATCH,
    &PIXEL_UNITS_WITHOUT_CANVAS,
    &UNREPAIRED_GAP,
];
