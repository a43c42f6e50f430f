//! `--plot DIR` for `trace` and `replay`: the per-step timeline as a PNG.
//!
//! The upper panel shows the largest finite magnitude per (step, stage) row on
//! a log scale against the fp16 limit; the lower panel shows the non-finite
//! share. Rows that hold non-finite values are shaded, so the step where a run
//! went bad stands out.

use std::path::Path;

use plotters::prelude::*;

use super::timeline::StageRow;
use crate::report::plot::{register_font, save_rgb};

const SIZE: (u32, u32) = (1200, 640);
const BAD: RGBColor = RGBColor(220, 30, 30);
/// log10 of fp16's largest finite value.
const FP16_LIMIT_LOG10: f64 = 4.816_241;

/// Draws the timeline of `rows` into a PNG at `path`.
pub fn timeline_chart(rows: &[StageRow], title: &str, path: &Path) -> Result<(), String> {
    register_font()?;
    let (w, h) = SIZE;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let draw = |e: &dyn std::fmt::Display| e.to_string();
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let (upper, lower) = root.split_vertically(h * 2 / 3);
        let n = rows.len().max(1) as f64;
        let logs: Vec<Option<f64>> = rows.iter().map(|r| r.absmax.filter(|a| *a > 0.0).map(f64::log10)).collect();
        let latents: Vec<Option<f64>> =
            rows.iter().map(|r| r.latents_absmax.filter(|a| *a > 0.0).map(f64::log10)).collect();
        let known = logs.iter().chain(&latents).flatten().copied();
        let (lo, hi) = known.fold((FP16_LIMIT_LOG10, FP16_LIMIT_LOG10), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let label = |x: &f64| {
            let i = x.round();
            let row = match rows.get(i as usize) {
                Some(row) if i >= 0.0 && (x - i).abs() <= 0.01 => row,
                _ => return String::new(),
            };
            match (row.step, &row.stage) {
                (Some(step), Some(stage)) => format!("{step}:{stage}"),
                (Some(step), None) => format!("step {step}"),
                (None, Some(stage)) => stage.clone(),
                (None, None) => String::new(),
            }
        };

        // As many labels as fit side by side (about 7 px a character at
        // 12 px): a long run labels every few rows rather than overprinting.
        let widest = (0..rows.len()).map(|i| label(&(i as f64)).chars().count()).max().unwrap_or(1);
        let fit = (w as usize).saturating_sub(80) / (widest * 7 + 12).max(1);
        let x_labels = fit.clamp(2, rows.len().clamp(2, 24));

        let mut chart = ChartBuilder::on(&upper)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..n - 0.5, (lo - 1.0).floor()..(hi + 1.0).ceil())
            .map_err(|e| draw(&e))?;
        chart
            .configure_mesh()
            .y_desc("log10 |x| max")
            .x_label_formatter(&label)
            .x_labels(x_labels)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| draw(&e))?;
        let (y0, y1) = ((lo - 1.0).floor(), (hi + 1.0).ceil());
        chart
            .draw_series(
                rows.iter()
                    .enumerate()
                    .filter(|(_, r)| r.nonfinite_records > 0)
                    .map(|(i, _)| Rectangle::new([(i as f64 - 0.5, y0), (i as f64 + 0.5, y1)], BAD.mix(0.15).filled())),
            )
            .map_err(|e| draw(&e))?;
        chart
            .draw_series(LineSeries::new([(-0.5, FP16_LIMIT_LOG10), (n - 0.5, FP16_LIMIT_LOG10)], BAD.stroke_width(1)))
            .map_err(|e| draw(&e))?
            .label("fp16 limit 65504")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BAD.stroke_width(1)));
        let series = [
            ("absmax of every record", RGBColor(30, 80, 200), &logs),
            ("latents absmax", RGBColor(230, 130, 0), &latents),
        ];
        for (name, color, values) in series {
            let points: Vec<(f64, f64)> =
                values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i as f64, v))).collect();
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| draw(&e))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(|e| draw(&e))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| draw(&e))?;

        let mut shares = ChartBuilder::on(&lower)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..1f64)
            .map_err(|e| draw(&e))?;
        shares
            .configure_mesh()
            .y_desc("non-finite share")
            .x_label_formatter(&label)
            .x_labels(x_labels)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| draw(&e))?;
        shares
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let share = r.nonfinite_share.clamp(0.0, 1.0);
                Rectangle::new([(i as f64 - 0.35, 0.0), (i as f64 + 0.35, share)], BAD.filled())
            }))
            .map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    save_rgb(path, SIZE, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_for_a_run_that_goes_bad_and_for_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<StageRow> = (0..4)
            .map(|step| StageRow {
                step: Some(step),
                stage: Some("unet".into()),
                records: 10,
                nonfinite_records: if step >= 2 { 5 } else { 0 },
                nonfinite_share: if step >= 2 { 0.5 } else { 0.0 },
                absmax: Some(10f64.powi(step as i32 + 2)),
                latents_absmax: Some(3.0),
                ..StageRow::default()
            })
            .collect();
        let path = dir.path().join("timeline.png");
        timeline_chart(&rows, "run", &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000);
        let empty = dir.path().join("empty.png");
        timeline_chart(&[], "empty", &empty).unwrap();
        assert!(std::fs::read(&empty).unwrap().starts_with(b"\x89PNG"));
    }
}
