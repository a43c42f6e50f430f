//! `image check --plot DIR`: one PNG per image with the image itself (flagged
//! regions tinted: transparent magenta, clipped red, NaN/Inf cyan) and its
//! luma histogram. Drawn with plotters into memory with the bundled font.

use std::collections::HashSet;
use std::path::Path;

use plotters::prelude::*;

use super::raster::Raster;
use super::{ImageError, ImageInfo, ImageStats};
use crate::report::plot::{register_font, save_rgb};
use crate::report::{Finding, fmt_num};

const CANVAS: (u32, u32) = (1100, 600);
/// The image is scaled (nearest neighbour) to fit this square.
const VIEW: u32 = 512;
const MARGIN: u32 = 24;
const TRANSPARENT_TINT: [u8; 3] = [255, 0, 255];
const CLIPPED_TINT: [u8; 3] = [230, 20, 20];
const NONFINITE_COLOUR: [u8; 3] = [0, 220, 230];

/// A file name for the image's plot, unique within `used`.
pub(crate) fn unique_name(info: &ImageInfo, used: &mut HashSet<String>) -> String {
    let stem = Path::new(&info.file).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let base = match &info.tensor {
        Some(tensor) => format!("{stem}.{}", tensor.replace(['/', '\\'], "_")),
        None => stem,
    };
    let mut name = format!("{base}.png");
    let mut n = 1;
    while !used.insert(name.clone()) {
        n += 1;
        name = format!("{base}-{n}.png");
    }
    name
}

fn draw_error(path: &Path, detail: impl std::fmt::Display) -> ImageError {
    ImageError::Draw { path: path.to_path_buf(), detail: detail.to_string() }
}

/// Writes the plot of one image to `path`.
pub(crate) fn draw(
    raster: &Raster,
    stats: &ImageStats,
    info: &ImageInfo,
    findings: &[Finding],
    path: &Path,
) -> Result<(), ImageError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ImageError::Io { path: dir.to_path_buf(), source })?;
    }
    register_font().map_err(|e| draw_error(path, e))?;
    let (w, h) = CANVAS;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let flagged = paint_image(raster, stats, &mut buf, w);
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let title = match &info.tensor {
            Some(tensor) => format!("{}: {tensor}", info.file),
            None => info.file.clone(),
        };
        let style = ("sans-serif", 15).into_font().color(&BLACK);
        root.draw(&Text::new(title, (MARGIN as i32, 4), style.clone())).map_err(|e| draw_error(path, e))?;
        let legend = format!(
            "{}x{} {} {}; tinted: {} transparent, {} clipped, {} NaN/Inf",
            info.width, info.height, info.format, info.mode, flagged.0, flagged.1, flagged.2
        );
        root.draw(&Text::new(legend, (MARGIN as i32, (MARGIN + VIEW + 6) as i32), ("sans-serif", 13).into_font()))
            .map_err(|e| draw_error(path, e))?;
        let codes: Vec<&str> = findings.iter().map(|f| f.code()).collect();
        if !codes.is_empty() {
            let line = format!("findings: {}", codes.join(", "));
            root.draw(&Text::new(line, (MARGIN as i32, (MARGIN + VIEW + 22) as i32), ("sans-serif", 13).into_font()))
                .map_err(|e| draw_error(path, e))?;
        }
        let (_, right) = root.split_horizontally(VIEW + 2 * MARGIN);
        let peak = stats.luma.histogram.iter().copied().max().unwrap_or(0).max(1) as f64;
        let mut chart = ChartBuilder::on(&right)
            .caption(
                format!("luma histogram (mean {}, std {})", fmt_num(stats.luma.mean), fmt_num(stats.luma.std)),
                ("sans-serif", 15),
            )
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..256f64, (0.8f64..peak * 1.5).log_scale())
            .map_err(|e| draw_error(path, e))?;
        chart
            .configure_mesh()
            .x_desc("luma (0-255)")
            .y_desc("pixels (log scale)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| fmt_num(*y))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| draw_error(path, e))?;
        let bars = stats.luma.histogram.iter().enumerate().filter(|(_, n)| **n > 0).map(|(bin, n)| {
            let colour = if bin <= 16 || bin >= 239 { RGBColor(200, 40, 40) } else { RGBColor(60, 90, 180) };
            Rectangle::new([(bin as f64, 0.8), (bin as f64 + 1.0, *n as f64)], colour.filled())
        });
        chart.draw_series(bars).map_err(|e| draw_error(path, e))?;
        root.present().map_err(|e| draw_error(path, e))?;
    }
    save_rgb(path, (w, h), buf).map_err(|e| draw_error(path, e))
}

/// Paints the image scaled into the left square and returns how many source
/// pixels were tinted as transparent, clipped and non-finite.
fn paint_image(raster: &Raster, stats: &ImageStats, buf: &mut [u8], stride: u32) -> (u64, u64, u64) {
    let (rw, rh) = (raster.width.max(1), raster.height.max(1));
    let scale = (f64::from(VIEW) / f64::from(rw)).min(f64::from(VIEW) / f64::from(rh));
    let (vw, vh) = (((f64::from(rw) * scale) as u32).max(1), ((f64::from(rh) * scale) as u32).max(1));
    let range = stats.range;
    let c = raster.channels;
    let color = raster.color_channels();
    let pixel_colour = |p: usize| -> ([u8; 3], u8) {
        let mut rgb = [0u8; 3];
        let mut flag = 0u8;
        for (k, out) in rgb.iter_mut().enumerate() {
            let v = f64::from(raster.samples.get(p * c + k.min(color - 1).min(2)));
            if !v.is_finite() {
                return (NONFINITE_COLOUR, 3);
            }
            if v <= range.low || v >= range.high {
                flag = 2;
            }
            *out = (((v - range.low) / range.span()).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
        if raster.alpha && f64::from(raster.samples.get(p * c + c - 1)) < range.high {
            return (blend(rgb, TRANSPARENT_TINT), 1);
        }
        if flag == 2 { (blend(rgb, CLIPPED_TINT), 2) } else { (rgb, 0) }
    };
    let mut counts = (0u64, 0u64, 0u64);
    for p in 0..raster.pixels() {
        match pixel_colour(p).1 {
            1 => counts.0 += 1,
            2 => counts.1 += 1,
            3 => counts.2 += 1,
            _ => {}
        }
    }
    for y in 0..vh {
        for x in 0..vw {
            let sx = ((f64::from(x) / scale) as u32).min(rw - 1) as usize;
            let sy = ((f64::from(y) / scale) as u32).min(rh - 1) as usize;
            let (rgb, _) = pixel_colour(sy * rw as usize + sx);
            let at = (((MARGIN + y) * stride + MARGIN + x) * 3) as usize;
            buf[at..at + 3].copy_from_slice(&rgb);
        }
    }
    counts
}

fn blend(a: [u8; 3], b: [u8; 3]) -> [u8; 3] {
    [0, 1, 2].map(|i| ((u16::from(a[i]) + u16::from(b[i])) / 2) as u8)
}
