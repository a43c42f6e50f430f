//! `video check --plot DIR`: a per-frame chart and a contact sheet per file.
//!
//! Drawing uses plotters on an in-memory RGB buffer with a bundled font (an
//! ASCII subset of DejaVu Sans, see assets/fonts), saved as PNG by `image`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use plotters::prelude::*;

use super::check::VideoCheck;
use super::frame_checks::{FrameFlag, flagged_segments};
use super::tools::{Tools, path_arg};
use crate::report::plot::{register_font, save_rgb};

const CHART_SIZE: (u32, u32) = (1200, 520);
const THUMB_WIDTH: u64 = 192;
const SHEET_COLUMNS: usize = 6;
const MAX_SAMPLES: usize = 30;
const LABEL_BAND: u32 = 20;
const FLAG_RED: RGBColor = RGBColor(220, 30, 30);

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot create {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("cannot draw {path}: {detail}")]
    Draw { path: PathBuf, detail: String },
    #[error(transparent)]
    Tool(#[from] super::ToolError),
}

/// Writes `<stem>.frames.png` and `<stem>.sheet.png` for every decoded file and
/// returns the paths written.
pub fn plot_checks(tools: &Tools, checks: &[VideoCheck], dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    std::fs::create_dir_all(dir).map_err(|source| PlotError::Io { path: dir.to_path_buf(), error: source })?;
    let mut written = Vec::new();
    let mut used = std::collections::HashSet::new();
    for check in checks.iter().filter(|c| !c.frames.is_empty()) {
        let stem = Path::new(&check.file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut name = stem.clone();
        let mut n = 1;
        while !used.insert(name.clone()) {
            n += 1;
            name = format!("{stem}-{n}");
        }
        let chart = dir.join(format!("{name}.frames.png"));
        frame_chart(check, &chart)?;
        written.push(chart);
        let sheet = dir.join(format!("{name}.sheet.png"));
        contact_sheet(tools, check, &sheet)?;
        written.push(sheet);
    }
    Ok(written)
}

fn draw_error(path: &Path, detail: impl std::fmt::Display) -> PlotError {
    PlotError::Draw { path: path.to_path_buf(), detail: detail.to_string() }
}

fn save(path: &Path, size: (u32, u32), buf: Vec<u8>) -> Result<(), PlotError> {
    save_rgb(path, size, buf).map_err(|e| draw_error(path, e))
}

/// Luma mean, spatial std and inter-frame difference per frame, flagged ranges shaded.
pub fn frame_chart(check: &VideoCheck, path: &Path) -> Result<(), PlotError> {
    register_font().map_err(|e| draw_error(path, e))?;
    let (w, h) = CHART_SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let frames = &check.frames;
    let last = frames.len().saturating_sub(1).max(1) as f64;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let title = format!("{} - {} frames", check.file, frames.len());
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..last + 0.5, 0f64..256f64)
            .map_err(|e| draw_error(path, e))?;
        chart
            .configure_mesh()
            .x_desc("frame")
            .y_desc("luma (0-255)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| draw_error(path, e))?;
        for flag in FrameFlag::ALL {
            for (a, b) in flagged_segments(frames, flag) {
                let color = flag_color(flag).mix(0.18).filled();
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(a as f64 - 0.5, 0.0), (b as f64 + 0.5, 256.0)],
                        color,
                    )))
                    .map_err(|e| draw_error(path, e))?;
            }
        }
        let series: [(&str, RGBColor, Statistic); 3] = [
            ("luma mean", RGBColor(30, 80, 200), |f| f.luma_mean),
            ("spatial std", RGBColor(30, 150, 60), |f| f.luma_std),
            ("difference to previous frame", RGBColor(230, 130, 0), |f| f.luma_diff.unwrap_or(0.0)),
        ];
        for (label, color, get) in series {
            chart
                .draw_series(LineSeries::new(frames.iter().map(|f| (f.index as f64, get(f))), color.stroke_width(2)))
                .map_err(|e| draw_error(path, e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        for flag in FrameFlag::ALL.into_iter().filter(|f| !flagged_segments(frames, *f).is_empty()) {
            let color = flag_color(flag);
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                .map_err(|e| draw_error(path, e))?
                .label(format!("{} frames", flag.name()))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.mix(0.4).filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| draw_error(path, e))?;
        root.present().map_err(|e| draw_error(path, e))?;
    }
    save(path, (w, h), buf)
}

/// Reads one plotted statistic of a frame.
type Statistic = fn(&super::FrameStats) -> f64;

fn flag_color(flag: FrameFlag) -> RGBColor {
    match flag {
        FrameFlag::Black | FrameFlag::NanCast | FrameFlag::Corrupt => FLAG_RED,
        FrameFlag::Blank | FrameFlag::Saturated => RGBColor(150, 60, 200),
        FrameFlag::Frozen => RGBColor(60, 160, 220),
        FrameFlag::BrightnessJump | FrameFlag::Propagated => RGBColor(240, 170, 0),
    }
}

/// Frames shown on the sheet: evenly spaced samples plus the first frame of
/// every flagged segment.
fn sample_frames(check: &VideoCheck) -> Vec<u64> {
    let n = check.frames.len() as u64;
    let mut picks: Vec<u64> = Vec::new();
    for flag in FrameFlag::ALL {
        picks.extend(flagged_segments(&check.frames, flag).into_iter().map(|(a, _)| a).take(4));
    }
    picks.truncate(MAX_SAMPLES / 2);
    let even = (MAX_SAMPLES - picks.len()).min(n as usize) as u64;
    picks.extend((0..even).map(|i| i * n / even.max(1)));
    picks.sort_unstable();
    picks.dedup();
    picks
}

/// Thumbnails of sampled frames in a grid; flagged frames get a red frame and their flags.
pub fn contact_sheet(tools: &Tools, check: &VideoCheck, path: &Path) -> Result<(), PlotError> {
    register_font().map_err(|e| draw_error(path, e))?;
    let (Some(width), Some(height)) = (check.width, check.height) else { return Ok(()) };
    let tw = THUMB_WIDTH.min(width.max(2)) / 2 * 2;
    let th = ((height * tw / width.max(1)).max(2)) / 2 * 2;
    let picks = sample_frames(check);
    let select: Vec<String> = picks.iter().map(|n| format!("eq(n,{n})")).collect();
    let filter = format!("select='{}',scale={tw}:{th}", select.join("+"));
    let output = tools
        .ffmpeg()
        .args(["-loglevel", "error", "-i"])
        .arg(path_arg(Path::new(&check.file)))
        .args([
            "-map",
            "0:v:0",
            "-vf",
            &filter,
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|source| super::ToolError::Run { program: tools.ffmpeg.display().to_string(), error: source })?;
    let thumb_len = (tw * th * 3) as usize;
    let thumbs: Vec<&[u8]> = output.stdout.chunks_exact(thumb_len).collect();
    let rows = thumbs.len().div_ceil(SHEET_COLUMNS).max(1) as u32;
    let (cell_w, cell_h) = (tw as u32 + 8, th as u32 + LABEL_BAND + 8);
    let (w, h) = (cell_w * SHEET_COLUMNS as u32, cell_h * rows + 28);
    let mut buf = vec![245u8; (w * h * 3) as usize];
    let mut labels = Vec::new();
    for (k, (thumb, &index)) in thumbs.iter().zip(&picks).enumerate() {
        let (x0, y0) = ((k % SHEET_COLUMNS) as u32 * cell_w + 4, (k / SHEET_COLUMNS) as u32 * cell_h + 32);
        let flags = check.frames.get(index as usize).map(|f| f.flags.clone()).unwrap_or_default();
        if !flags.is_empty() {
            fill_rect(&mut buf, w, (x0 - 3, y0 - 3), (tw as u32 + 6, th as u32 + 6), [220, 30, 30]);
        }
        for y in 0..th as u32 {
            let src = &thumb[(y as usize) * (tw as usize) * 3..(y as usize + 1) * (tw as usize) * 3];
            let at = (((y0 + y) * w + x0) * 3) as usize;
            buf[at..at + src.len()].copy_from_slice(src);
        }
        let names: Vec<&str> = flags.iter().map(|f| f.name()).collect();
        labels.push((x0, y0 + th as u32 + 4, format!("#{index} {}", names.join(" ")), !flags.is_empty()));
    }
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let title = format!(
            "{} - {} of {} frames; flagged frames outlined in red",
            check.file,
            thumbs.len(),
            check.frames.len()
        );
        root.draw_text(&title, &("sans-serif", 15).into_font().color(&BLACK), (6, 6))
            .map_err(|e| draw_error(path, e))?;
        for (x, y, text, flagged) in labels {
            let color = if flagged { FLAG_RED } else { BLACK };
            root.draw_text(&text, &("sans-serif", 12).into_font().color(&color), (x as i32, y as i32))
                .map_err(|e| draw_error(path, e))?;
        }
        root.present().map_err(|e| draw_error(path, e))?;
    }
    save(path, (w, h), buf)
}

fn fill_rect(buf: &mut [u8], width: u32, (x0, y0): (u32, u32), (w, h): (u32, u32), rgb: [u8; 3]) {
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let at = ((y * width + x) * 3) as usize;
            if let Some(px) = buf.get_mut(at..at + 3) {
                px.copy_from_slice(&rgb);
            }
        }
    }
}
