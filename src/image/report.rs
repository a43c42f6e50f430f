//! The `image check` report: findings, `files` and `images` counters, and an
//! `images` section listing every image with its per-channel statistics.

use super::ImageRun;
use crate::report::{Report, Section, SectionTable, fmt_num};

/// Builds the report of a run. `inputs` are the paths as the user gave them.
pub fn check_report(command: &str, inputs: Vec<String>, run: &ImageRun) -> Report {
    let mut report = Report::new(command, inputs);
    report.set_counter("files", run.files.len() as u64);
    report.set_counter("images", run.images().count() as u64);
    report.findings.extend(run.all_findings().cloned());
    report.sort_findings();
    let images: Vec<_> = run.images().collect();
    report.sections.push(Section::typed("images", &images).with_table(images_table(run)));
    report
}

fn images_table(run: &ImageRun) -> SectionTable {
    let mut rows = Vec::new();
    for image in run.images() {
        let name = match &image.info.tensor {
            Some(tensor) => format!("{}: {tensor}", image.info.file),
            None => image.info.file.clone(),
        };
        let what = format!("{} {} {}x{}", image.info.format, image.info.mode, image.info.width, image.info.height);
        let Some(stats) = &image.stats else {
            rows.push(vec![name, what, "-".into(), "not decoded".into(), String::new(), String::new(), String::new()]);
            continue;
        };
        for (k, ch) in stats.channels.iter().enumerate() {
            let (file, mode) = if k == 0 { (name.clone(), what.clone()) } else { (String::new(), String::new()) };
            rows.push(vec![
                file,
                mode,
                ch.channel.clone(),
                fmt_num(ch.min),
                fmt_num(ch.max),
                fmt_num(ch.mean),
                fmt_num(ch.std),
            ]);
        }
        rows.push(vec![
            String::new(),
            format!("range {} ({})", stats.range.label(), range_source(stats)),
            "luma".into(),
            String::new(),
            String::new(),
            fmt_num(stats.luma.mean),
            fmt_num(stats.luma.std),
        ]);
    }
    SectionTable {
        title: "Images".into(),
        header: ["image", "format", "channel", "min", "max", "mean", "std"].map(String::from).to_vec(),
        rows,
        note: Some("luma on a 0-255 scale; --format json adds NaN/Inf counts and clipped shares per channel".into()),
    }
}

fn range_source(stats: &super::ImageStats) -> &'static str {
    match stats.range_source {
        super::RangeSource::Declared => "declared",
        super::RangeSource::Dtype => "stored type",
        super::RangeSource::Inferred => "inferred",
        super::RangeSource::Unknown => "fits no range",
    }
}
