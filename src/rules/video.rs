//! `V` rules: broken containers, streams and frames of a rendered video, and
//! what `video encode` and `video repair` had to do about them.

use super::Rule;
use crate::report::Severity;

pub const EMPTY_FILE: Rule = Rule {
    code: "V101",
    slug: "empty-video-file",
    severity: Severity::Error,
    summary: "the video file is empty (0 bytes)",
    detects: "A video path whose file holds no bytes at all.",
    why: "There is nothing to play or decode; ffprobe reports it as a missing moov atom, which hides the \
          real problem.",
    cause: "The writer process crashed or was killed before writing anything, the disk was full, or an \
            exception in the frame loop left an opened but never written file.",
    fix: "Re-run the generation and look at its log for the exception that stopped the writer. nanscope \
          cannot repair an empty file.",
    options: "",
};

pub const NOT_MEDIA: Rule = Rule {
    code: "V102",
    slug: "not-a-media-file",
    severity: Severity::Error,
    summary: "the file is not a media file ffprobe can read",
    detects: "Files that ffprobe cannot open as any container (no ISO-BMFF `ftyp` box either), such as a \
              text file or an HTML error page saved under a video name. The evidence carries ffprobe's \
              error text and the first bytes.",
    why: "Players and ffmpeg refuse the file; a pipeline that only checks the extension passes it on.",
    cause: "A failed download saved as `.mp4`, a log or traceback written to the output path, or a \
            different format with the wrong extension.",
    fix: "Open the file in a text editor or `file` to see what it really is, then regenerate the video.",
    options: "",
};

pub const MOOV_MISSING: Rule = Rule {
    code: "V103",
    slug: "moov-missing",
    severity: Severity::Error,
    summary: "MP4 without a moov atom: the writer never finalised the file",
    detects: "ISO-BMFF files (an `ftyp` box is present) whose top-level boxes hold media data (`mdat`) \
              but no `moov` index, usually with the last box cut short.",
    why: "Without moov there are no sample tables, codec parameters or timing, so no player can decode \
          a single frame, although the compressed frames are in the file.",
    cause: "The process writing the video (imageio, OpenCV, ffmpeg) was killed, crashed or was never \
            closed; the default MP4 layout writes moov last.",
    fix: "Close the writer properly (context manager, `writer.close()`), or write with `+faststart` / \
          fragmented MP4. The data can only be recovered with a healthy reference file from the same \
          encoder settings (untrunc-style rebuild); `video repair` says so and stops.",
    options: "",
};

pub const TRUNCATED: Rule = Rule {
    code: "V104",
    slug: "truncated-stream",
    severity: Severity::Error,
    summary: "fewer packets in the file than its index lists",
    detects: "Streams whose packets read by demuxing are fewer than the frames the container index \
              declares (`nb_frames`). `subject.frames` is the range of frames listed in the index without a \
              whole packet in the file (the packet the cut hit counts as missing). When the decoder reports \
              errors and the whole packets before the cut decode without any, the errors came from the cut \
              packet: the file is truncated, not corrupt, and the message says the frames before the cut \
              decode intact (no V105).",
    why: "ffprobe and most tools report the indexed duration and frame count, so the file looks complete; \
          players stop, freeze or show garbage where the data ends.",
    cause: "A faststart MP4 (moov at the front) whose media data was cut short: an interrupted copy or \
            upload, a full disk, or a writer killed after the index was written.",
    fix: "Copy the file again from its source. `video repair` copies the whole frames that are present, \
          bit for bit, into a shorter but clean file (strategy `remux`; the cut packet is left out and the \
          audio cut to the video, or padded with silence when the cut left it shorter).",
    options: "",
};

pub const DECODE_ERRORS: Rule = Rule {
    code: "V105",
    slug: "decode-errors",
    severity: Severity::Error,
    summary: "the decoder reported errors while decoding the video",
    detects: "Error lines from the decoder (`error while decoding MB`, `Invalid NAL unit size`, ...) \
              while decoding every frame; ffmpeg still exits 0. The frames hit are those the decoder \
              drops when errors are fatal (`-err_detect explode`), found in a second pass only when \
              errors occurred. The frames after each of them up to the next keyframe (which that \
              pass also shows) are flagged `propagated` and listed in `evidence.propagated_frames`: \
              they decode without error but are predicted from the damaged picture. In a truncated file \
              (V104) the strict pass reads only the whole packets, so the cut cannot make it lose intact \
              frames, and errors that only the cut packet causes are not reported here.",
    why: "The decoder conceals damaged macroblocks by copying from other frames, so the picture smears \
          or freezes for a moment and the damage propagates until the next keyframe.",
    cause: "Bytes overwritten in the media data (storage or transfer corruption) or a truncated last \
            packet.",
    fix: "Get an intact copy. `video repair --strategy drop` drops the damaged frames and keeps the \
          timing; `--strategy fill` replaces them from their neighbours.",
    options: "",
};

pub const NO_VIDEO_STREAM: Rule = Rule {
    code: "V106",
    slug: "no-video-stream",
    severity: Severity::Error,
    summary: "the file has no video stream",
    detects: "Media files that ffprobe opens but that contain no video stream (audio only, or nothing).",
    why: "A video pipeline expects frames; an audio-only file plays as silence with a blank picture or \
          is rejected.",
    cause: "Muxing that mapped only the audio (`-map 0:a`), a failed video encode whose audio was still \
            written, or `-shortest` against an empty video stream.",
    fix: "Check the muxing command and that the video encoder received frames.",
    options: "",
};

pub const AUDIO_MISSING: Rule = Rule {
    code: "V107",
    slug: "audio-missing",
    severity: Severity::Error,
    summary: "audio was expected but the file has no audio stream",
    detects: "With `--expect-audio`, files without an audio stream.",
    why: "A talking-head or music-driven generation without its audio track is unusable as delivered.",
    cause: "The audio mux step was skipped or failed, or the writer (OpenCV, imageio) never takes audio.",
    fix: "Mux the audio back with `nanscope video repair video.mp4 --audio audio.wav -o fixed.mp4` (AAC, padded \
          or cut to the video), or encode the saved tensor with `video encode --audio`.",
    options: "--expect-audio",
};

pub const AV_DURATION_MISMATCH: Rule = Rule {
    code: "V108",
    slug: "av-duration-mismatch",
    severity: Severity::Warning,
    summary: "audio and video durations differ",
    detects: "Files whose audio and video stream durations differ by more than `--av-tolerance` seconds. \
              In a truncated file (V104) the audio compared is the audio present (up to the end of its last \
              whole packet), not the duration its index promises.",
    why: "Players hold the last frame or cut the audio; lips drift out of sync in audio-driven \
          animation. `-shortest` in the mux can silently drop most of the video.",
    cause: "Audio of a different length than the generated frames, or a mux with `-shortest`.",
    fix: "Trim the audio to the video with `-t <video duration>` (never `-shortest`), or generate the \
          frame count the audio needs. `video repair --strategy reencode` re-muxes the audio trimmed.",
    options: "--av-tolerance SECONDS (0.1)",
};

pub const FRAME_COUNT_MISMATCH: Rule = Rule {
    code: "V109",
    slug: "frame-count-mismatch",
    severity: Severity::Error,
    summary: "the decoded frame count differs from the expected count",
    detects: "With `--expect-frames N`, videos whose number of decoded frames is not N.",
    why: "Frames were lost (shortest-stream muxing, truncation, dropped frames) or duplicated (constant \
          frame rate conversion), so the video no longer matches its audio or pose sequence.",
    cause: "`-shortest`, a crashed writer, or a frame-rate conversion in the encoder.",
    fix: "Find the step that lost or added frames; mux with `-t` and pass the generation's fps to the \
          encoder.",
    options: "--expect-frames N",
};

pub const FPS_MISMATCH: Rule = Rule {
    code: "V110",
    slug: "fps-mismatch",
    severity: Severity::Error,
    summary: "the video's frame rate differs from the expected rate",
    detects: "With `--expect-fps F`, videos whose average frame rate differs from F by more than 0.5%.",
    why: "Motion plays too fast or too slow and drifts away from the audio.",
    cause: "An encoder default (imageio writes 16 fps, diffusers' export_to_video 10 fps) instead of the \
            pipeline's fps.",
    fix: "Pass the generation's fps to the writer, or re-encode with the right `-r`.",
    options: "--expect-fps F",
};

pub const PLAYER_PIXEL_FORMAT: Rule = Rule {
    code: "V111",
    slug: "unplayable-pixel-format",
    severity: Severity::Warning,
    summary: "pixel format that common players show black or refuse",
    detects: "Video streams in yuv444p (H.264 High 4:4:4 Predictive), full-range yuvj420p/yuvj422p/yuvj444p, \
              or more than 8 bits per sample.",
    why: "QuickTime, Safari/iOS, most browsers and Android only play 8-bit 4:2:0 H.264; other formats \
          show a black picture or refuse the file, although ffmpeg decodes it fine.",
    cause: "ffmpeg picks yuv444p by itself for RGB input to libx264 unless `-pix_fmt yuv420p` is given; \
            JPEG-derived input gives full range.",
    fix: "Re-encode with `-pix_fmt yuv420p` (`video repair --strategy reencode`).",
    options: "",
};

pub const ODD_DIMENSIONS: Rule = Rule {
    code: "V112",
    slug: "odd-dimensions",
    severity: Severity::Warning,
    summary: "odd width or height",
    detects: "Video streams whose width or height is odd.",
    why: "4:2:0 subsampling needs even sizes: libx264 refuses to encode (`width not divisible by 2`) and \
          some players crop or reject the file.",
    cause: "Frames cropped or resized without rounding to even sizes.",
    fix: "Pad to even sizes (`-vf pad=ceil(iw/2)*2:ceil(ih/2)*2`); `video repair --strategy reencode` \
          does this.",
    options: "",
};

pub const NOT_FASTSTART: Rule = Rule {
    code: "V113",
    slug: "moov-at-end",
    severity: Severity::Info,
    summary: "MP4 index at the end of the file (no faststart)",
    detects: "MP4/MOV files whose `moov` box follows the `mdat` media data.",
    why: "Browsers and streaming players must download the whole file before playing; a writer killed \
          before the end loses the index and with it the whole video.",
    cause: "The MP4 muxer's default layout.",
    fix: "Remux with `-c copy -movflags +faststart` (`video repair --strategy remux`).",
    options: "",
};

pub const PLAYER_CODEC: Rule = Rule {
    code: "V114",
    slug: "unplayable-codec",
    severity: Severity::Warning,
    summary: "codec that browsers and many players refuse",
    detects: "Video streams coded as MPEG-4 Part 2 (`mpeg4`, OpenCV's `mp4v` FourCC) or other codecs \
              outside H.264/HEVC/VP9/AV1.",
    why: "Browsers, Discord and web UIs (Gradio, Streamlit) show a black square or refuse the file.",
    cause: "OpenCV's VideoWriter with `mp4v` (PyPI opencv-python has no H.264 encoder); older diffusers \
            `export_to_video`.",
    fix: "Re-encode to H.264 yuv420p (`video repair --strategy reencode`) or write with imageio/PyAV.",
    options: "",
};

pub const BLACK_FRAMES: Rule = Rule {
    code: "V120",
    slug: "black-frames",
    severity: Severity::Error,
    summary: "black frames",
    detects: "Frames in which at least `--black-share` of the pixels have luma at or below \
              `--black-level` (on a 0-255 full-range scale; limited-range video is rescaled, so its \
              black at code 16 reads 0). Consecutive frames are reported as one range.",
    why: "A generation that should show a person shows nothing. In latent diffusion pipelines this is \
          the classic end of a NaN cascade: NaN latents decode to NaN pixels and `(x*255).astype(uint8)` \
          turns them into 0.",
    cause: "NaN or Inf in the UNet or VAE (fp16 overflow, int8 quantization, broken weights), a VAE run \
            in fp16 without upcast, or a writer fed zeros.",
    fix: "Do not patch NaN to zero: run `nanscope weights` on the checkpoints and `nanscope trace` on a \
          dump of the run to find the first non-finite value. Real fades to black are legitimate.",
    options: "--black-level LUMA (32), --black-share FRACTION (0.98)",
};

pub const BLANK_FRAMES: Rule = Rule {
    code: "V121",
    slug: "blank-frames",
    severity: Severity::Error,
    summary: "blank frames: one flat level, no picture",
    detects: "Frames that are neither black nor white but whose spatial luma standard deviation is below \
              `--blank-std` (0-255 scale): a flat grey or coloured picture.",
    why: "A flat frame carries no content; generated frames are never uniform.",
    cause: "Latents collapsed to a constant (NaN replaced by a constant, a saturated sampler, a zeroed \
            normalization), or a writer given an uninitialised buffer.",
    fix: "Trace the run (`nanscope trace`) to find where activations collapsed; check for patched NaN.",
    options: "--blank-std LUMA (2)",
};

pub const SATURATED_FRAMES: Rule = Rule {
    code: "V122",
    slug: "saturated-frames",
    severity: Severity::Warning,
    summary: "white or saturated frames",
    detects: "Frames in which at least `--black-share` of the pixels have luma at or above \
              `--white-level` (0-255 scale).",
    why: "Values far above the valid range were clipped to white: the picture is gone.",
    cause: "Decoded values outside [-1, 1] or [0, 1] (Inf, overflow, a wrong range assumption when \
            converting to uint8, uint8 input multiplied by 255 again).",
    fix: "Check the value range of the decoded tensor (`video encode` reports it) and the conversion to \
          uint8.",
    options: "--white-level LUMA (235)",
};

pub const FROZEN_SEGMENT: Rule = Rule {
    code: "V123",
    slug: "frozen-segment",
    severity: Severity::Warning,
    summary: "frozen segment: consecutive identical frames",
    detects: "Runs of frames whose mean absolute luma difference to the previous frame stays below \
              `--freeze-diff` (0-255 scale) for at least `--freeze-min` seconds. Black, white and blank \
              frames are reported by their own rules and not again here.",
    why: "The animation stops: motion modules or temporal attention produced the same frame, or frames \
          were duplicated to fill gaps.",
    cause: "Too few generated frames stretched to a constant frame rate, duplicated frames after decode \
            errors, or a collapsed temporal module.",
    fix: "Check the frame count and fps passed to the writer and whether frames were dropped upstream.",
    options: "--freeze-diff LUMA (0.5), --freeze-min SECONDS (1)",
};

pub const NAN_CAST_SIGNATURE: Rule = Rule {
    code: "V124",
    slug: "nan-cast-signature",
    severity: Severity::Error,
    summary: "exact-black frames or regions appear abruptly amid normal content",
    detects: "Frames in which at least `--nan-share` of the pixels sit exactly at the black floor (luma \
              code 16 in limited range, 0 in full range, within one code), where the neighbouring frame \
              before or after is normal content with few such pixels (under the share, and ten times fewer \
              than the flagged frame next to it), and the pixels new at the floor outnumber those in the \
              near-black band just above it (up to level 10 on the 0-255 scale, `near_floor_share` in the \
              JSON frames) in both frames: they jumped from content to the floor. A fade to black or from \
              black passes every pixel through that band and does not match, however fast its first floor \
              pixels appear. Luma only: chroma is not decoded, which keeps the check at decode speed.",
    why: "This is what NaN looks like after `(x*255).astype(uint8)`: NaN becomes 0 and RGB 0 encodes \
          to the exact black floor, in whole frames or in the regions where NaN appeared, while the \
          frames around them are normal.",
    cause: "Non-finite values in some denoising steps or VAE tiles: fp16 overflow, int8 weight-only \
            quantization, broken weights or attention overflow on some frames.",
    fix: "Find the first non-finite value (`nanscope trace`, `nanscope weights`); do not patch NaN to \
          zero. For a deliverable, `video repair --strategy fill` interpolates the frames from their \
          neighbours.",
    options: "--nan-share FRACTION (0.01)",
};

pub const BRIGHTNESS_JUMP: Rule = Rule {
    code: "V125",
    slug: "brightness-jump",
    severity: Severity::Warning,
    summary: "sudden brightness jump between consecutive frames",
    detects: "Consecutive content frames whose mean luma differs by more than `--jump-luma` (0-255 scale). \
              Jumps into or out of black, white, blank or NaN-signature frames are left to those rules.",
    why: "Flicker between frames: the denoising of one frame or chunk drifted (context overlap, \
          temporal attention with a broken window), or frames from different runs were mixed.",
    cause: "Context-window stitching, a VAE decoding frames in separate chunks with different \
            statistics, or exposure changes in the source video.",
    fix: "Check chunk boundaries of the pipeline (context overlap, VAE tiling/slicing); a real scene cut \
          is legitimate.",
    options: "--jump-luma LUMA (40)",
};

pub const ENCODE_NONFINITE: Rule = Rule {
    code: "V130",
    slug: "nonfinite-pixels",
    severity: Severity::Error,
    summary: "the video tensor holds NaN or Inf pixels",
    detects: "Non-finite values in a video tensor passed to `video encode`, counted per frame; they were \
              filled according to `--fill` before encoding.",
    why: "A plain `astype(uint8)` turns NaN into 0 (black) and Inf into garbage; the encoded video hides \
          where the numbers went wrong.",
    cause: "NaN or Inf produced upstream in the UNet or VAE (fp16 overflow, quantization, broken weights).",
    fix: "The encoded file is watchable, but the frames listed were invented: find the first non-finite \
          value with `nanscope trace`.",
    options: "--fill zero|hold|interpolate (interpolate)",
};

pub const ENCODE_OUT_OF_RANGE: Rule = Rule {
    code: "V131",
    slug: "pixels-out-of-range",
    severity: Severity::Warning,
    summary: "finite values outside the tensor's value range were clamped",
    detects: "Finite values of a video tensor outside its range (`[0,1]`, `[-1,1]` or `[0,255]`), \
              counted; they were clamped before rounding.",
    why: "Values far outside the range mean the decoder output is off scale; a cast without clamping \
          wraps them around to the wrong colour.",
    cause: "A VAE output not clamped, a wrong range assumption ([-1,1] treated as [0,1]), or values \
            drifting in fp16.",
    fix: "Check the range given to `--range`; a few percent of slightly out-of-range values is normal \
          for VAE output.",
    options: "--range 0-1|-1-1|0-255",
};

pub const REPAIR_APPLIED: Rule = Rule {
    code: "V140",
    slug: "repair-applied",
    severity: Severity::Info,
    summary: "what `video repair` did",
    detects: "One finding per repair step applied to the output file (remux, re-encode, dropped or \
              filled frames, audio trim), with the frames concerned. `fill` reports each run of replaced \
              frames on its own, saying whether it was interpolated between the good frames on both sides \
              or held from the one good frame it has (a run at the start or end of the video).",
    why: "A repaired file hides what was lost; the report keeps the record.",
    cause: "A defect found by `video check` on the input.",
    fix: "Nothing to do; the original file is left untouched.",
    options: "--strategy remux|reencode|drop|fill, --fill interpolate|hold",
};

pub const UNREPAIRABLE: Rule = Rule {
    code: "V141",
    slug: "unrepairable",
    severity: Severity::Error,
    summary: "the file cannot be repaired by `video repair`",
    detects: "Inputs that no strategy can turn into a playable file: an empty file, a file that is not \
              media, an MP4 without a moov atom when no `--reference` is given, no video stream, every \
              frame bad for `fill`, and rebuilds that cannot be done: a reference that is unreadable, has no \
              moov or no H.264 track, a file that ends before its first frame is whole, or units that decode \
              with more than one error per four pictures (a reference from other encoder settings). Nothing \
              is written; the run exits 1 in every output format.",
    why: "Without an index or any decodable frames there is nothing to re-encode.",
    cause: "See the `video check` finding on the input.",
    fix: "Regenerate the video. For a lost moov, pass a healthy MP4 written with the same encoder \
          settings and size as `--reference`: the H.264 units are walked out of the media data and decoded \
          with its parameter sets (strategy `rebuild`; AAC audio too when the reference has an AAC track). For a rebuild refused \
          because of the reference, find a file from the same encoder settings.",
    options: "--reference",
};

pub const REPAIR_INCOMPLETE: Rule = Rule {
    code: "V142",
    slug: "repair-incomplete",
    severity: Severity::Warning,
    summary: "the repaired output still has findings",
    detects: "Repairs whose output, re-checked with `video check`, still has warnings or errors (listed \
              with the output as `subject.file`), and rebuilds whose Annex B stream decoded with a few \
              errors (at most one per four pictures; more is V141).",
    why: "Some defects (black frames with no good neighbours, lost data) cannot be fixed from the file \
          alone.",
    cause: "Defects that span the whole video or that no strategy addresses.",
    fix: "Regenerate the affected frames, or accept the listed remaining defects.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &EMPTY_FILE,
    &NOT_MEDIA,
    &MOOV_MISSING,
    &TRUNCATED,
    &DECODE_ERRORS,
    &NO_VIDEO_STREAM,
    &AUDIO_MISSING,
    &AV_DURATION_MISMATCH,
    &FRAME_COUNT_MISMATCH,
    &FPS_MISMATCH,
    &PLAYER_PIXEL_FORMAT,
    &ODD_DIMENSIONS,
    &NOT_FASTSTART,
    &PLAYER_CODEC,
    &BLACK_FRAMES,
    &BLANK_FRAMES,
    &SATURATED_FRAMES,
    &FROZEN_SEGMENT,
    &NAN_CAST_SIGNATURE,
    &BRIGHTNESS_JUMP,
    &ENCODE_NONFINITE,
    &ENCODE_OUT_OF_RANGE,
    &REPAIR_APPLIED,
    &UNREPAIRABLE,
    &REPAIR_INCOMPLETE,
];
