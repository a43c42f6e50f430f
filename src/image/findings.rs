//! One constructor per `I` rule: each builds its rule's message, subject and
//! evidence, so a rule's wording and evidence keys live in one place.

use serde_json::json;

use crate::report::{Finding, Subject, fmt_num};
use crate::rules::image as rules;

fn on_file(file: &str) -> Subject {
    Subject::file(file)
}

/// The subject of an image: its file, and its tensor for tensor files.
pub(crate) fn on_image(file: &str, tensor: Option<&str>) -> Subject {
    match tensor {
        Some(name) => Subject::tensor(file, name),
        None => Subject::file(file),
    }
}

fn percent(share: f64) -> String {
    format!("{}%", fmt_num(share * 100.0))
}

pub(crate) fn empty(file: &str) -> Finding {
    Finding::new(&rules::EMPTY_IMAGE, "image file is empty (0 bytes)").with_subject(on_file(file))
}

/// What a file that is no readable image turned out to be.
pub(crate) enum NotImage<'a> {
    /// Matches no format: its first bytes.
    Unknown(&'a [u8]),
    /// An image format that is not read (GIF, AVIF, …).
    Unsupported(&'a str),
}

pub(crate) fn not_an_image(file: &str, what: NotImage) -> Finding {
    let (message, key, value) = match what {
        NotImage::Unknown(head) => {
            let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
            let hex = hex.join(" ");
            (format!("content matches no image or tensor format (first bytes {hex})"), "first_bytes", hex)
        }
        NotImage::Unsupported(format) => (
            format!("{format} images are not read (PNG, JPEG, WebP, BMP, TIFF and image tensors are)"),
            "format",
            format.to_string(),
        ),
    };
    Finding::new(&rules::NOT_AN_IMAGE, message).with_subject(on_file(file)).with_evidence(key, value)
}

/// How much of a truncated image decoded: rows from the top that hold the
/// file's own pixels, and for a TIFF the strips or tiles that decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    pub rows: u32,
    pub height: u32,
    pub chunks: Option<Chunks>,
    /// A progressive JPEG: the scans that are whole. Every row lacks the
    /// detail of the scans after them; `rows` are those the cut scan reached.
    pub scans_complete: Option<u32>,
}

/// TIFF strips or tiles that decoded, of how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunks {
    /// "strips" or "tiles".
    pub kind: &'static str,
    pub decoded: u32,
    pub total: u32,
}

pub(crate) fn truncated(file: &str, format: &str, detail: &str, progress: Option<Progress>, len: usize) -> Finding {
    let how_much = match progress {
        Some(Progress { rows, height, chunks: Some(c), .. }) => {
            format!("; {} of {} {} decoded ({rows} of {height} rows)", c.decoded, c.total, c.kind)
        }
        Some(Progress { rows, height, scans_complete: Some(scans), .. }) => {
            format!("; progressive: {scans} whole scans, the cut scan reached {rows} of {height} rows")
        }
        Some(Progress { rows, height, .. }) => format!("; {rows} of {height} rows decoded"),
        None => String::new(),
    };
    let mut finding = Finding::new(
        &rules::TRUNCATED_IMAGE,
        format!("{format} data stops early after {len} bytes ({detail}){how_much}"),
    )
    .with_subject(on_file(file))
    .with_evidence("format", format)
    .with_evidence("file_bytes", len as u64)
    .with_evidence("decoder", detail);
    if let Some(p) = progress {
        finding = finding.with_evidence("rows_decoded", p.rows).with_evidence("height", p.height);
        if let Some(scans) = p.scans_complete {
            finding = finding.with_evidence("scans_complete", scans);
        }
        if let Some(c) = p.chunks {
            finding = finding.with_evidence(&format!("{}_decoded", c.kind), c.decoded).with_evidence(c.kind, c.total);
        }
    }
    finding
}

pub(crate) fn undecodable(file: &str, format: &str, detail: &str) -> Finding {
    Finding::new(&rules::UNDECODABLE_IMAGE, format!("{format} cannot be decoded: {detail}"))
        .with_subject(on_file(file))
        .with_evidence("format", format)
        .with_evidence("decoder", detail)
}

pub(crate) fn too_large(file: &str, width: u32, height: u32, why: String, len: usize) -> Finding {
    let claimed =
        if width > 0 { format!("{width}x{height} pixels claimed by a {len}-byte file: ") } else { String::new() };
    Finding::new(&rules::IMAGE_TOO_LARGE, format!("{claimed}{why}; pixels not decoded"))
        .with_subject(on_file(file))
        .with_evidence("width", width)
        .with_evidence("height", height)
        .with_evidence("file_bytes", len as u64)
}

pub(crate) struct NonFinite {
    pub nan: u64,
    pub pos_inf: u64,
    pub neg_inf: u64,
    pub first: Vec<u64>,
    pub first_flat: u64,
}

pub(crate) fn nonfinite(subject: Subject, n: &NonFinite) -> Finding {
    let first = n.first.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    Finding::new(
        &rules::NONFINITE_PIXELS,
        format!("{} NaN, {} +Inf, {} -Inf samples (first at [y, x, c] = [{first}])", n.nan, n.pos_inf, n.neg_inf),
    )
    .with_subject(Subject { index: Some(n.first.clone()), ..subject })
    .with_evidence("nan", n.nan)
    .with_evidence("pos_inf", n.pos_inf)
    .with_evidence("neg_inf", n.neg_inf)
    .with_evidence("first_nonfinite_flat", n.first_flat)
}

pub(crate) struct OutOfRange {
    pub count: u64,
    pub share: f64,
    pub min: f64,
    pub max: f64,
    pub first: Vec<u64>,
    pub range: crate::image::ValueRange,
    /// No conventional range holds the values.
    pub unknown: bool,
}

pub(crate) fn out_of_range(subject: Subject, o: &OutOfRange) -> Finding {
    let message = if o.unknown {
        format!(
            "values span [{}, {}], which fits none of [0, 1], [-1, 1] and [0, 255] ({} samples outside {})",
            fmt_num(o.min),
            fmt_num(o.max),
            o.count,
            o.range.label()
        )
    } else {
        format!(
            "{} samples ({}) outside {} (min {}, max {})",
            o.count,
            percent(o.share),
            o.range.label(),
            fmt_num(o.min),
            fmt_num(o.max)
        )
    };
    let finding = Finding::new(&rules::OUT_OF_RANGE, message)
        .with_subject(Subject { index: Some(o.first.clone()), ..subject })
        .with_evidence("count", o.count)
        .with_evidence("share", o.share)
        .with_evidence("min", o.min)
        .with_evidence("max", o.max)
        .with_evidence("range", json!([o.range.low, o.range.high]));
    if o.unknown { finding.with_severity(crate::report::Severity::Error) } else { finding }
}

pub(crate) fn blank(subject: Subject, luma_mean: f64, luma_std: f64, threshold: f64) -> Finding {
    Finding::new(
        &rules::BLANK_IMAGE,
        format!(
            "flat image: luma std {} (below {}), mean {}",
            fmt_num(luma_std),
            fmt_num(threshold),
            fmt_num(luma_mean)
        ),
    )
    .with_subject(subject)
    .with_evidence("std", luma_std)
    .with_evidence("mean", luma_mean)
}

pub(crate) fn black(subject: Subject, share: f64, luma_mean: f64) -> Finding {
    Finding::new(
        &rules::BLACK_IMAGE,
        format!("{} of the pixels are black (luma <= 16), mean luma {}", percent(share), fmt_num(luma_mean)),
    )
    .with_subject(subject)
    .with_evidence("dark_share", share)
    .with_evidence("mean", luma_mean)
}

pub(crate) fn white(subject: Subject, share: f64, luma_mean: f64) -> Finding {
    Finding::new(
        &rules::WHITE_IMAGE,
        format!("{} of the pixels are white (luma >= 239), mean luma {}", percent(share), fmt_num(luma_mean)),
    )
    .with_subject(subject)
    .with_evidence("bright_share", share)
    .with_evidence("mean", luma_mean)
}

/// A channel's clipped shares: its name, the share at the low end and at the high end.
pub(crate) type ClippedChannel = (String, f64, f64);

pub(crate) fn clipped(subject: Subject, channels: &[ClippedChannel]) -> Finding {
    let parts: Vec<String> = channels
        .iter()
        .map(|(name, low, high)| format!("{name} {} at the bottom, {} at the top", percent(*low), percent(*high)))
        .collect();
    let evidence: serde_json::Map<String, serde_json::Value> = channels
        .iter()
        .map(|(name, low, high)| (name.clone(), json!({"low_share": low, "high_share": high})))
        .collect();
    Finding::new(&rules::CLIPPED_PIXELS, format!("clipped samples: {}", parts.join("; ")))
        .with_subject(subject)
        .with_evidence("channels", serde_json::Value::Object(evidence))
}

pub(crate) struct Transparency {
    pub transparent: u64,
    pub share: f64,
    pub fully_transparent: u64,
    pub first: [u64; 2],
    /// Mean colour (0-255) stored under the transparent pixels.
    pub under: Vec<f64>,
}

pub(crate) fn transparent(subject: Subject, t: &Transparency) -> Finding {
    let colour: Vec<String> = t.under.iter().map(|v| format!("{}", v.round())).collect();
    let under = match t.under.len() {
        1 => format!("grey {}", colour[0]),
        _ => format!("RGB ({})", colour.join(", ")),
    };
    Finding::new(
        &rules::TRANSPARENT_PIXELS,
        format!(
            "{} of the pixels are transparent ({} fully, first at [y, x] = [{}, {}]); convert(\"RGB\") keeps the \
             colour under them, on average {under}",
            percent(t.share),
            t.fully_transparent,
            t.first[0],
            t.first[1]
        ),
    )
    .with_subject(Subject { index: Some(t.first.to_vec()), ..subject })
    .with_evidence("transparent", t.transparent)
    .with_evidence("fully_transparent", t.fully_transparent)
    .with_evidence("share", t.share)
    .with_evidence("under_mean", json!(t.under))
}

pub(crate) fn color_mode(subject: Subject, mode: &str, conversion: &str) -> Finding {
    Finding::new(&rules::COLOR_MODE, format!("{mode} image: {conversion}"))
        .with_subject(subject)
        .with_evidence("mode", mode)
}

pub(crate) fn depth_clipped(subject: Subject, mode: &str, white: f64, black: f64) -> Finding {
    Finding::new(
        &rules::DEPTH_CLIPPED,
        format!(
            "{mode} image: convert(\"RGB\") clips to 0-255 instead of scaling; {} of the pixels become white (255), \
             {} black (0 or 1)",
            percent(white),
            percent(black)
        ),
    )
    .with_subject(subject)
    .with_evidence("mode", mode)
    .with_evidence("white_share", white)
    .with_evidence("black_share", black)
}

pub(crate) fn orientation(subject: Subject, value: u16) -> Finding {
    let stored = match value {
        2 => "mirrored left-right",
        3 => "rotated 180 degrees",
        4 => "mirrored top-bottom",
        5 => "transposed (mirrored and rotated 90 degrees)",
        6 => "rotated 90 degrees counter-clockwise (viewers turn it clockwise)",
        7 => "transversed (mirrored and rotated 90 degrees)",
        8 => "rotated 90 degrees clockwise (viewers turn it counter-clockwise)",
        _ => "tagged with an unknown orientation",
    };
    Finding::new(
        &rules::EXIF_ORIENTATION,
        format!("EXIF orientation {value}: the stored pixels are {stored}; Image.open does not apply it"),
    )
    .with_subject(subject)
    .with_evidence("orientation", value)
}

pub(crate) fn aspect(subject: Subject, (w, h): (u32, u32), (tw, th): (u32, u32), distortion: f64) -> Finding {
    Finding::new(
        &rules::ASPECT_DISTORTED,
        format!(
            "{w}x{h} (aspect {}) resized to {tw}x{th} (aspect {}) is stretched by {}",
            fmt_num(f64::from(w) / f64::from(h)),
            fmt_num(f64::from(tw) / f64::from(th)),
            percent(distortion)
        ),
    )
    .with_subject(subject)
    .with_evidence("aspect", f64::from(w) / f64::from(h))
    .with_evidence("target_aspect", f64::from(tw) / f64::from(th))
    .with_evidence("distortion", distortion)
}

pub(crate) fn side_not_multiple_of_8(subject: Subject, (w, h): (u32, u32)) -> Finding {
    Finding::new(&rules::SIDE_NOT_MULTIPLE_OF_8, format!("{w}x{h}: a side is not a multiple of 8"))
        .with_subject(subject)
        .with_evidence("width", w)
        .with_evidence("height", h)
}

pub(crate) fn target_not_multiple_of_8((w, h): (u32, u32)) -> Finding {
    Finding::new(&rules::TARGET_NOT_MULTIPLE_OF_8, format!("generation size {w}x{h} is not a multiple of 8"))
        .with_subject(Subject { key: Some("size".into()), ..Subject::default() })
        .with_evidence("width", w)
        .with_evidence("height", h)
}

pub(crate) fn upscaled(subject: Subject, (w, h): (u32, u32), (tw, th): (u32, u32), factor: f64) -> Finding {
    Finding::new(&rules::UPSCALED_IMAGE, format!("{w}x{h} is upscaled {}x to reach {tw}x{th}", fmt_num(factor)))
        .with_subject(subject)
        .with_evidence("upscale", factor)
}

pub(crate) fn tensor_not_image(file: &str, tensor: Option<&str>, why: &str) -> Finding {
    Finding::new(&rules::TENSOR_NOT_IMAGE, format!("tensor is not an image: {why}"))
        .with_subject(on_image(file, tensor))
}
