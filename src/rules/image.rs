//! `I` rules: reference images (PNG, JPEG, WebP, BMP, TIFF and image tensors)
//! that a generation would read wrong, or that would condition it on the
//! wrong picture.

use super::Rule;
use crate::report::Severity;

pub const EMPTY_IMAGE: Rule = Rule {
    code: "I101",
    slug: "empty-image-file",
    severity: Severity::Error,
    summary: "the image file is empty (0 bytes)",
    detects: "An image path whose file holds no bytes.",
    why: "`Image.open` raises `UnidentifiedImageError`; a server that catches it may go on with no reference \
          image, or with a placeholder.",
    cause: "An upload that failed half way, a full disk, or a writer that crashed before flushing.",
    fix: "Upload or save the reference image again and check its size before the run.",
    options: "",
};

pub const NOT_AN_IMAGE: Rule = Rule {
    code: "I102",
    slug: "not-an-image",
    severity: Severity::Error,
    summary: "the file holds no image nanscope can recognise",
    detects: "A file named explicitly whose content matches no image format (PNG, JPEG, WebP, BMP, TIFF) and \
              no tensor file (`.npy`, `.safetensors`); the evidence carries the first bytes. Folders are \
              walked for images by content and other files there are skipped silently.",
    why: "The pipeline fails to open it, or a loader that trusts the extension hands garbage to the VAE.",
    cause: "An HTML error page or JSON response saved under an image name, or a format the pipeline does \
            not read either (HEIC, AVIF, SVG).",
    fix: "Look at what the file really is (`file PATH`), then export the reference as PNG.",
    options: "",
};

pub const TRUNCATED_IMAGE: Rule = Rule {
    code: "I103",
    slug: "truncated-image",
    severity: Severity::Error,
    summary: "the image data stops before the image is complete",
    detects: "A JPEG without its end-of-image marker, or a PNG, WebP, BMP or TIFF whose pixel data ends early \
              (the decoder runs out of bytes). The evidence says how many bytes the file holds and how much \
              decoded: `rows_decoded` of `height` (for a JPEG, the rows that come out the same whatever \
              follows the cut; a progressive one adds its whole scans, `scans_complete`), and for a TIFF \
              `strips_decoded` of `strips` or `tiles_decoded` of `tiles`.",
    why: "Pillow either raises `OSError: image file is truncated` or, with `LOAD_TRUNCATED_IMAGES`, fills \
          the missing part with grey or black: the person loses the lower part of their body and the \
          reference no longer matches the poses.",
    cause: "An interrupted download or upload, a copy that ran out of disk space, or a file read while it \
            was still being written.",
    fix: "Fetch or export the image again and compare its size with the original.",
    options: "",
};

pub const UNDECODABLE_IMAGE: Rule = Rule {
    code: "I104",
    slug: "undecodable-image",
    severity: Severity::Error,
    summary: "the image is recognised but cannot be decoded",
    detects: "A file whose signature is an image format but whose decoder fails for another reason than \
              running out of bytes: a corrupt header or checksum, an unsupported variant (a 12-bit JPEG, a \
              planar CMYK TIFF). The evidence carries the format and the decoder's message.",
    why: "The pipeline cannot load it either, or a more lenient loader returns a damaged picture.",
    cause: "Bit rot, a broken converter, or an exotic encoder setting.",
    fix: "Re-export the image as an 8-bit RGB PNG.",
    options: "",
};

pub const IMAGE_TOO_LARGE: Rule = Rule {
    code: "I105",
    slug: "image-too-large",
    severity: Severity::Error,
    summary: "the image's dimensions or decoded size exceed what nanscope will allocate",
    detects: "A header claiming more pixels than `--max-pixels` (default 64 Mpx), or a decoded size larger than \
              the file can justify: at most 64 MiB, or 1,100 times the file size for larger images, and never \
              more than 1 GiB. The pixels are not decoded; the evidence carries the claimed width and height.",
    why: "A header that claims 100000x100000 pixels, or a tiny file that inflates to gigabytes (a \
          decompression bomb), exhausts the memory of the server that opens it; Pillow raises \
          `DecompressionBombError` above 179 Mpx.",
    cause: "A crafted or corrupt file, or a real scan or panorama far larger than a reference image needs.",
    fix: "Resize the image to the generation size (768x768 for EchoMimicV2) before uploading; treat a tiny \
          file with huge dimensions as hostile.",
    options: "--max-pixels (67108864)",
};

pub const NONFINITE_PIXELS: Rule = Rule {
    code: "I106",
    slug: "nonfinite-image-values",
    severity: Severity::Error,
    summary: "a float image or image tensor holds NaN or Inf",
    detects: "NaN, +Inf or -Inf samples in a float TIFF or an image tensor. The subject's index is the first \
              one as `[y, x, c]`; the evidence counts each kind.",
    why: "The reference goes through the VAE encoder: one NaN becomes a NaN latent, NaN reference features and \
          a black video. `(x*255).astype(uint8)` on the way to a PNG turns it into black pixels instead.",
    cause: "A preprocessing step that divided by a zero standard deviation, an fp16 overflow in an upstream \
            model, or an uninitialised buffer saved as the reference.",
    fix: "Find the step that produced it (`nanscope trace`), or replace the reference with the original \
          photo; never patch NaN to zero, that only hides the cause.",
    options: "",
};

pub const OUT_OF_RANGE: Rule = Rule {
    code: "I107",
    slug: "image-values-out-of-range",
    severity: Severity::Warning,
    summary: "sample values lie outside the image's value range",
    detects: "Values outside the range the image declares (`--range`) or, by default, the range nanscope \
              infers: an integer type's own range, or for floats the first of [0, 1], [-1, 1] and [0, 255] \
              that holds at least 99% of the samples. When no range holds them the finding is an error. The \
              subject's index is the first offending sample `[y, x, c]`.",
    why: "The pipeline normalises with a fixed formula (`x / 127.5 - 1`, or `x * 2 - 1` for tensors in \
          [0, 1]): values outside the range leave the VAE's training distribution and saturate colours or \
          blow activations up.",
    cause: "A tensor saved before its final clamp, a range convention mixed up ([-1, 1] saved where [0, 1] \
            is expected), or an overflowing filter.",
    fix: "Clamp the image to its range, or save it in the convention the loader expects (pass `--range` to \
          declare it).",
    options: "--range (auto)",
};

pub const BLANK_IMAGE: Rule = Rule {
    code: "I108",
    slug: "blank-image",
    severity: Severity::Error,
    summary: "the image is flat: one colour, no structure",
    detects: "An image whose spatial luma standard deviation is below `--blank-std` (default 2 on a 0-255 \
              scale) and that is not all black or all white (those are I109 and I110).",
    why: "The reference UNet has no person to copy: the generation produces a smudge or a flat video that \
          looks like a pipeline failure.",
    cause: "A placeholder image, a failed crop outside the picture, or a decoder that returned a blank \
            buffer.",
    fix: "Use the real photo of the person; check the crop or the upload step that produced this one.",
    options: "--blank-std (2)",
};

pub const BLACK_IMAGE: Rule = Rule {
    code: "I109",
    slug: "black-image",
    severity: Severity::Error,
    summary: "the image is black or almost black",
    detects: "An image in which at least `--black-share` (default 0.98) of the pixels have a luma at or below 16 \
              on a 0-255 scale.",
    why: "A black reference makes a black video: the symptom looks exactly like NaN propagation, and hides \
          the real cause of a failed run.",
    cause: "A NaN image cast to uint8 (NaN becomes 0), a transparent PNG whose hidden colour is black, an \
            exposure or decoding failure.",
    fix: "Check where the image came from; if it was produced by a model, run `nanscope trace` on it.",
    options: "--black-share (0.98)",
};

pub const WHITE_IMAGE: Rule = Rule {
    code: "I110",
    slug: "white-image",
    severity: Severity::Warning,
    summary: "the image is white or almost white",
    detects: "An image in which at least `--black-share` (default 0.98) of the pixels have a luma at or above \
              239 on a 0-255 scale.",
    why: "There is nobody to animate: the reference features are empty and the video is washed out.",
    cause: "An overexposed photo, a 16-bit or float image converted to 8 bits by clipping, or a transparent \
            PNG over white.",
    fix: "Use a correctly exposed photo; for 16-bit or float sources scale them to 8 bits instead of clipping.",
    options: "--black-share (0.98)",
};

pub const CLIPPED_PIXELS: Rule = Rule {
    code: "I111",
    slug: "clipped-pixels",
    severity: Severity::Warning,
    summary: "a large share of the samples sit at the bottom or top of the range",
    detects: "A channel with more than `--clip-share` (default 0.25) of its samples at the minimum or the \
              maximum of the image's range, in an image that is not black or white as a whole. The \
              evidence gives the share at each end per channel.",
    why: "Clipped regions have no texture: the face or clothes lose their detail and the generated video \
          shows flat patches.",
    cause: "Over- or underexposure, aggressive contrast, or a float image clamped after leaving its range.",
    fix: "Use a better exposed photo, or fix the processing step that clamps.",
    options: "--clip-share (0.25)",
};

pub const TRANSPARENT_PIXELS: Rule = Rule {
    code: "I112",
    slug: "transparent-pixels",
    severity: Severity::Warning,
    summary: "the image has transparent pixels, and RGB conversion keeps what is under them",
    detects: "An alpha channel (RGBA, grey+alpha, or a palette with transparency) in which some pixels are \
              not fully opaque. The evidence gives the share of transparent pixels, the first one `[y, x]` \
              and the mean colour stored under the transparent pixels.",
    why: "EchoMimicV2 calls `convert(\"RGB\")`, which drops alpha without compositing: the colour stored \
          under transparent pixels (often black) becomes the background, or the body, of the reference.",
    cause: "A cut-out portrait exported with a transparent background.",
    fix: "Flatten the image onto the background you want (for example white) before uploading it.",
    options: "",
};

pub const COLOR_MODE: Rule = Rule {
    code: "I113",
    slug: "non-rgb-mode",
    severity: Severity::Info,
    summary: "the image is stored as palette, grey, CMYK or 16-bit and is converted to 8-bit RGB",
    detects: "A mode other than 8-bit RGB(A): a palette, greyscale, CMYK or 16 bits per sample. The message \
              says what Pillow's `convert(\"RGB\")` turns it into.",
    why: "The conversion is usually right but not always neutral: a grey reference gives a grey person, \
          CMYK colours shift without a colour profile, a palette loses gradients.",
    cause: "Scanner, print or screenshot workflows; images optimised for size.",
    fix: "Export the reference as 8-bit RGB if the colours look wrong in the generated video.",
    options: "",
};

pub const DEPTH_CLIPPED: Rule = Rule {
    code: "I114",
    slug: "rgb-conversion-clips",
    severity: Severity::Warning,
    summary: "a 16-bit or float single-channel image is clipped, not scaled, by RGB conversion",
    detects: "A 16-bit or float greyscale image: Pillow opens it as mode `I`/`I;16` or `F`, and \
              `convert(\"RGB\")` clamps each value to 0-255 instead of scaling. The evidence gives the share \
              of samples that end up at 255 (16-bit) or at 0 and 1 (float in [0, 1]).",
    why: "A 16-bit depth map or a float image in [0, 1] turns almost white or almost black: the reference \
          shows nothing of the person.",
    cause: "A 16-bit PNG or float TIFF written by a scientific or depth tool and used as a reference.",
    fix: "Scale to 8 bits explicitly before saving (`(x / x.max() * 255).astype(uint8)`).",
    options: "",
};

pub const EXIF_ORIENTATION: Rule = Rule {
    code: "I115",
    slug: "exif-orientation",
    severity: Severity::Warning,
    summary: "the EXIF orientation is not 1: the pixels are stored rotated or mirrored",
    detects: "An EXIF Orientation tag other than 1 (normal). The message says how the stored pixels differ \
              from what a photo viewer shows.",
    why: "Viewers rotate the photo for display, but `Image.open` ignores the tag: the person is fed to the \
          pipeline sideways or upside down and no longer matches the upright poses.",
    cause: "A phone photo taken in portrait or upside down and uploaded unchanged.",
    fix: "Apply the rotation before the pipeline (`ImageOps.exif_transpose`) or re-save the photo upright.",
    options: "",
};

pub const ASPECT_DISTORTED: Rule = Rule {
    code: "I116",
    slug: "aspect-distorted",
    severity: Severity::Warning,
    summary: "resizing to the generation size distorts the image's aspect ratio",
    detects: "An image whose width/height ratio differs from the target's (`--size`, default 768x768) by more \
              than `--aspect-tolerance` (default 0.05, relative). With `--keep-aspect` (EchoMimicV3, which \
              scales the image down to at most `--size`'s area and floors each side to a multiple of 16; \
              `postmortem` sets it for an EchoMimicV3 run), the target is that size, so only the flooring \
              can distort it.",
    why: "EchoMimicV2 resizes the reference straight to W x H: a 3:4 portrait squeezed into a square makes \
          a wide, short person that does not fit the poses.",
    cause: "A portrait or landscape photo used without cropping.",
    fix: "Crop the image to the target aspect ratio around the person before the run.",
    options: "--size (768x768), --aspect-tolerance (0.05), --keep-aspect",
};

pub const SIDE_NOT_MULTIPLE_OF_8: Rule = Rule {
    code: "I117",
    slug: "side-not-multiple-of-8",
    severity: Severity::Info,
    summary: "the image's width or height is not a multiple of 8",
    detects: "Image sides that are not multiples of 8.",
    why: "The VAE works on 8x8 pixel latents: a pipeline that keeps the image's own size crops it or fails \
          with a shape mismatch; one that resizes (EchoMimicV2) is unaffected.",
    cause: "An arbitrary crop.",
    fix: "Crop or pad to multiples of 8, ideally to the generation size itself.",
    options: "",
};

pub const TARGET_NOT_MULTIPLE_OF_8: Rule = Rule {
    code: "I118",
    slug: "target-size-not-multiple-of-8",
    severity: Severity::Error,
    summary: "the generation size is not a multiple of 8",
    detects: "A `--size WxH` whose width or height is not a multiple of 8.",
    why: "Latents are 1/8 of the image: the VAE and UNet shapes disagree and the run fails, or silently \
          crops.",
    cause: "A custom `-W`/`-H` chosen without regard to the VAE.",
    fix: "Use multiples of 8 (EchoMimicV2's poses are drawn for 768x768).",
    options: "--size (768x768)",
};

pub const UPSCALED_IMAGE: Rule = Rule {
    code: "I119",
    slug: "upscaled-image",
    severity: Severity::Warning,
    summary: "the image is much smaller than the generation size",
    detects: "An image whose width or height is below half the target's (`--size`): the resize upscales it \
              more than twice.",
    why: "An upscaled reference is blurry: the face and clothes the video copies lose their detail.",
    cause: "A thumbnail or a small crop used as the reference.",
    fix: "Use a reference at least as large as the generation size.",
    options: "--size (768x768)",
};

pub const TENSOR_NOT_IMAGE: Rule = Rule {
    code: "I120",
    slug: "tensor-not-an-image",
    severity: Severity::Error,
    summary: "a tensor file holds no tensor shaped like an image",
    detects: "A `.npy` or `.safetensors` tensor whose shape is not `h w`, `h w c` or `c h w` (with an optional \
              leading batch of 1) with 1, 3 or 4 channels, or whose dtype is not numeric.",
    why: "A loader that reshapes it anyway feeds a scrambled picture to the VAE.",
    cause: "A batch of several images, a latent (4 channels at 1/8 size) or a different tensor saved under \
            the reference's name.",
    fix: "Save the reference as one `h w 3` uint8 array or a PNG.",
    options: "",
};

pub const RULES: &[&Rule] = &[
    &EMPTY_IMAGE,
    &NOT_AN_IMAGE,
    &TRUNCATED_IMAGE,
    &UNDECODABLE_IMAGE,
    &IMAGE_TOO_LARGE,
    &NONFINITE_PIXELS,
    &OUT_OF_RANGE,
    &BLANK_IMAGE,
    &BLACK_IMAGE,
    &WHITE_IMAGE,
    &CLIPPED_PIXELS,
    &TRANSPARENT_PIXELS,
    &COLOR_MODE,
    &DEPTH_CLIPPED,
    &EXIF_ORIENTATION,
    &ASPECT_DISTORTED,
    &SIDE_NOT_MULTIPLE_OF_8,
    &TARGET_NOT_MULTIPLE_OF_8,
    &UPSCALED_IMAGE,
    &TENSOR_NOT_IMAGE,
];
