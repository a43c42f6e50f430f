//! Running the checks over files: reading each one by content, then the
//! mode, orientation, size and pixel checks of every image it holds.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::decode::{Decoded, decode, image_format};
use super::findings::{self, on_image};
use super::raster::Raster;
use super::stats::{ImageStats, Measures, measure};
use super::{CheckOptions, FileCheck, ImageCheck, ImageError, ImageInfo, ImageRun, Mode, ModeKind};
use crate::formats::{Checkpoint, FileFormat, detect};
use crate::report::{Finding, Subject};

/// Checks every file (folders walked for images by content).
pub fn check(paths: &[PathBuf], options: &CheckOptions) -> Result<ImageRun, ImageError> {
    let mut run = ImageRun::default();
    let (w, h) = options.size;
    if w % 8 != 0 || h % 8 != 0 {
        run.findings.push(findings::target_not_multiple_of_8(options.size));
    }
    let mut plot_names = std::collections::HashSet::new();
    for file in super::discover::image_files(paths) {
        run.files.push(check_one(&file, options, &mut plot_names)?);
    }
    Ok(run)
}

/// Checks one file, whatever it holds.
pub fn check_file(path: &Path, options: &CheckOptions) -> Result<FileCheck, ImageError> {
    check_one(path, options, &mut std::collections::HashSet::new())
}

fn check_one(
    path: &Path,
    options: &CheckOptions,
    plot_names: &mut std::collections::HashSet<String>,
) -> Result<FileCheck, ImageError> {
    let label = path.display().to_string();
    let mut result = FileCheck { images: Vec::new(), findings: Vec::new() };
    let decoded = read(path, &label, options.max_pixels, &mut result.findings);
    for image in decoded {
        let mut check = check_image(image, options);
        if let (Some(dir), Some(raster), Some(stats)) = (&options.plot_dir, &check.1, &check.0.stats) {
            let name = super::plot::unique_name(&check.0.info, plot_names);
            let out = dir.join(name);
            super::plot::draw(raster, stats, &check.0.info, &check.0.findings, &out)?;
            check.0.plot = Some(out.display().to_string());
        }
        result.images.push(check.0);
    }
    Ok(result)
}

/// Reads a file by content into its images; problems become findings.
fn read(path: &Path, label: &str, max_pixels: u64, out: &mut Vec<Finding>) -> Vec<Decoded> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) => {
            out.push(findings::undecodable(label, "file", &format!("cannot read file: {err}")));
            return Vec::new();
        }
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        out.push(findings::empty(label));
        return Vec::new();
    }
    // SAFETY: the map is read-only and private to this process; a file
    // truncated by another process while mapped can fault, the accepted cost
    // of reading without copying, as in the checkpoint readers.
    let map = match unsafe { memmap2::Mmap::map(&file) } {
        Ok(map) => map,
        Err(err) => {
            out.push(findings::undecodable(label, "file", &format!("cannot map file: {err}")));
            return Vec::new();
        }
    };
    let info = ImageInfo { file: label.to_string(), bytes: len, ..ImageInfo::default() };
    if let Some(format) = image_format(&map) {
        return decode(&map, format, info, max_pixels, out).into_iter().collect();
    }
    if matches!(detect(&map), FileFormat::Npy | FileFormat::Npz | FileFormat::Safetensors) {
        drop(map);
        let checkpoint = Checkpoint::open(path);
        return super::tensor::read_tensors(&checkpoint, max_pixels, out);
    }
    out.push(findings::not_an_image(label, findings::NotImage::Unknown(&map[..map.len().min(8)])));
    Vec::new()
}

/// All checks of one image; the raster is handed back for plotting.
fn check_image(image: Decoded, options: &CheckOptions) -> (ImageCheck, Option<Raster>) {
    let Decoded { info, mode, raster, tensor } = image;
    let subject = on_image(&info.file, info.tensor.as_deref());
    let mut found = Vec::new();
    if !tensor {
        mode_findings(&subject, &mode, raster.as_ref(), &mut found);
    }
    if let Some(value) = info.orientation.filter(|&v| v != 1) {
        found.push(findings::orientation(subject.clone(), value));
    }
    if info.width > 0 && info.height > 0 {
        size_findings(&subject, (info.width, info.height), options, &mut found);
    }
    let stats = raster.as_ref().map(|raster| {
        let (stats, measures) = measure(raster, &mode, options.range);
        pixel_findings(&subject, &stats, &measures, options, &mut found);
        stats
    });
    (ImageCheck { info, stats, plot: None, findings: found }, raster)
}

fn mode_findings(subject: &Subject, mode: &Mode, raster: Option<&Raster>, out: &mut Vec<Finding>) {
    let name = mode.name();
    let conversion = match (mode.kind, mode.bits, mode.float) {
        (ModeKind::Gray, 16, _) | (ModeKind::Gray, _, true) => {
            if let Some(raster) = raster {
                let (white, black) = pillow_clip_shares(raster);
                out.push(findings::depth_clipped(subject.clone(), &name, white, black));
            }
            return;
        }
        (ModeKind::Palette, _, _) => "convert(\"RGB\") looks every index up in the palette: at most 256 colours",
        (ModeKind::Gray, 1, _) => "1-bit black and white; convert(\"RGB\") gives pure black and pure white pixels",
        (ModeKind::Gray, _, _) => "convert(\"RGB\") repeats the grey level in R, G and B: the person stays grey",
        (ModeKind::Cmyk, _, _) => {
            "convert(\"RGB\") computes R = 255 - C - K without a colour profile: colours shift, often darker"
        }
        (ModeKind::Rgb, 16, _) => "Pillow reads 16-bit RGB as 8-bit RGB: the low byte of every sample is dropped",
        (ModeKind::Rgb, _, true) => "Pillow does not open float RGB TIFF files; convert the image to 8 bits first",
        _ => return,
    };
    out.push(findings::color_mode(subject.clone(), &name, conversion));
}

/// Shares of pixels that Pillow's clamp to 0-255 makes white (255) and
/// black (0 or 1), for a 16-bit or float grey image.
fn pillow_clip_shares(raster: &Raster) -> (f64, f64) {
    let (mut white, mut black, mut n) = (0u64, 0u64, 0u64);
    for p in 0..raster.pixels() {
        let v = f64::from(raster.samples.get(p * raster.channels));
        let clipped = if v.is_nan() { 0.0 } else { v.round().clamp(0.0, 255.0) };
        n += 1;
        white += u64::from(clipped >= 255.0);
        black += u64::from(clipped <= 1.0);
    }
    let n = n.max(1) as f64;
    (white as f64 / n, black as f64 / n)
}

fn size_findings(subject: &Subject, (w, h): (u32, u32), options: &CheckOptions, out: &mut Vec<Finding>) {
    if options.keep_aspect {
        // A side under 16 pixels leaves the pipeline nothing to generate.
        if let Some(kept) = kept_aspect_size((w, h), options.size).filter(|&(kw, kh)| kw > 0 && kh > 0) {
            push_aspect(subject, (w, h), kept, options, out);
        }
        return;
    }
    let (tw, th) = options.size;
    push_aspect(subject, (w, h), (tw, th), options, out);
    if w % 8 != 0 || h % 8 != 0 {
        out.push(findings::side_not_multiple_of_8(subject.clone(), (w, h)));
    }
    if u64::from(w) * 2 < u64::from(tw) || u64::from(h) * 2 < u64::from(th) {
        let factor = (f64::from(tw) / f64::from(w)).max(f64::from(th) / f64::from(h));
        out.push(findings::upscaled(subject.clone(), (w, h), (tw, th), factor));
    }
}

fn push_aspect(subject: &Subject, (w, h): (u32, u32), (tw, th): (u32, u32), options: &CheckOptions, out: &mut Vec<Finding>) {
    let aspect = f64::from(w) / f64::from(h);
    let target = f64::from(tw) / f64::from(th);
    let distortion = (aspect / target - 1.0).abs().max((target / aspect - 1.0).abs());
    if distortion > options.aspect_tolerance {
        out.push(findings::aspect(subject.clone(), (w, h), (tw, th), distortion));
    }
}

/// The size a pipeline that keeps the image's aspect generates at
/// (EchoMimicV3): an image larger than the target's area is scaled down to
/// it, and each side is floored to a multiple of 16. `None` when the area
/// does not fit in the arithmetic.
pub(crate) fn kept_aspect_size((w, h): (u32, u32), (tw, th): (u32, u32)) -> Option<(u32, u32)> {
    let area = u64::from(w).checked_mul(u64::from(h))?;
    let target = u64::from(tw).checked_mul(u64::from(th))?;
    let scale = if target < area { (area as f64 / target as f64).sqrt() } else { 1.0 };
    let side = |n: u32| ((f64::from(n) / scale / 16.0).floor() * 16.0) as u32;
    Some((side(w), side(h)))
}

fn pixel_findings(
    subject: &Subject,
    stats: &ImageStats,
    measures: &Measures,
    options: &CheckOptions,
    out: &mut Vec<Finding>,
) {
    if let Some(nonfinite) = &measures.nonfinite {
        out.push(findings::nonfinite(subject.clone(), nonfinite));
    }
    if let Some(range) = &measures.out_of_range {
        out.push(findings::out_of_range(subject.clone(), range));
    }
    if let Some(transparency) = &measures.transparency {
        out.push(findings::transparent(subject.clone(), transparency));
    }
    let luma = &stats.luma;
    let lit = luma.histogram.iter().sum::<u64>() > 0;
    if !lit {
        return;
    }
    if luma.dark_share >= options.black_share {
        out.push(findings::black(subject.clone(), luma.dark_share, luma.mean));
        return;
    }
    if luma.bright_share >= options.black_share {
        out.push(findings::white(subject.clone(), luma.bright_share, luma.mean));
        return;
    }
    if luma.std < options.blank_std {
        out.push(findings::blank(subject.clone(), luma.mean, luma.std, options.blank_std));
        return;
    }
    let color = stats.channels.len() - usize::from(stats.transparent_share.is_some());
    let clipped: Vec<findings::ClippedChannel> = stats.channels[..color]
        .iter()
        .filter(|ch| ch.low_share > options.clip_share || ch.high_share > options.clip_share)
        .map(|ch| (ch.channel.clone(), ch.low_share, ch.high_share))
        .collect();
    // Transparent pixels are reported with what lies under them; counting
    // that colour again as clipping would say the same thing twice.
    if !clipped.is_empty() && measures.transparency.is_none() {
        out.push(findings::clipped(subject.clone(), &clipped));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_aspect_is_the_size_echomimicv3_generates_at() {
        // As EchoMimicV3's get_sample_size computes them for 768x768.
        let cases = [
            ((640, 1138), (560, 1024)),
            ((1882, 246), (1872, 240)),
            ((100, 40), (96, 32)),
            ((512, 512), (512, 512)),
            ((1080, 1920), (576, 1024)),
            ((2090, 3135), (624, 928)),
            ((15, 400), (0, 400)),
        ];
        for (image, generated) in cases {
            assert_eq!(kept_aspect_size(image, (768, 768)), Some(generated), "{image:?}");
        }
        assert_eq!(kept_aspect_size((u32::MAX, u32::MAX), (u32::MAX, u32::MAX)).map(|(w, _)| w > 0), Some(true));
    }

    #[test]
    fn a_pipeline_that_keeps_the_aspect_judges_only_its_own_rounding() {
        let subject = Subject::default();
        let keep = CheckOptions { keep_aspect: true, ..CheckOptions::default() };
        let codes = |size, options: &CheckOptions| {
            let mut out = Vec::new();
            size_findings(&subject, size, options, &mut out);
            out.iter().map(|f| f.code().to_string()).collect::<Vec<_>>()
        };
        // A portrait photo: stretched to a square by a square resize, kept by EchoMimicV3.
        assert_eq!(codes((640, 1138), &CheckOptions::default()), ["I116", "I117"]);
        assert!(codes((640, 1138), &keep).is_empty());
        // A small image is not upscaled; flooring its sides to 16 stretches it.
        assert_eq!(codes((100, 40), &CheckOptions::default()), ["I116", "I117", "I119"]);
        assert_eq!(codes((100, 40), &keep), ["I116"]);
        // Too narrow to generate from: nothing to judge the aspect against.
        assert!(codes((15, 400), &keep).is_empty());
    }
}
