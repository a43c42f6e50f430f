//! `nanscope pose check|repair|render|convert`: pose sequences.
//!
//! For `repair`, `render` and `convert`, the global `-o/--output` names what
//! is written (a folder or a PNG); their report goes to standard output, or
//! to `--report FILE`.

use std::path::PathBuf;

use crate::pose::convert::convert as convert_sequence;
use crate::pose::render::{RenderOptions, png, render_frame};
use crate::pose::repair::{RepairOptions, Repaired, repair as repair_sequence};
use crate::pose::sheet::{SheetTile, sheet, thumbnail};
use crate::pose::smooth::Smoothing;
use crate::pose::write::{check_destination, stage};
use crate::pose::{self, CheckOptions, CheckOutcome, PoseSequence, audio};
use crate::report::{Report, Section, SectionTable, fmt_num};
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use rayon::prelude::*;

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct PoseArgs {
    #[command(subcommand)]
    pub command: PoseCommand,
}

#[derive(Debug, Subcommand)]
pub enum PoseCommand {
    /// Check a pose sequence (a folder or frame files) for what breaks a pose-driven generation.
    Check(CheckArgs),
    /// Write a repaired copy of a pose sequence to -o OUTDIR (the input is never modified).
    Repair(RepairArgs),
    /// Draw a pose sequence as EchoMimicV2 draws it: a contact sheet PNG at -o OUT.png.
    Render(RenderArgs),
    /// Convert a pose sequence between EchoMimicV2 .npy and OpenPose JSON into -o OUTDIR.
    Convert(ConvertArgs),
}

/// Where the sequence is and how its coordinates map to pixels.
#[derive(Debug, Args)]
pub struct SequenceArgs {
    /// A pose folder (`0.npy … n-1.npy`, OpenPose `*_keypoints.json`) or frame files. Formats are recognised by content.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Generation width in pixels (EchoMimicV2's reference inference accepts only 768).
    #[arg(long, value_name = "PIXELS", default_value_t = 768)]
    pub width: u32,
    /// Generation height in pixels.
    #[arg(long, value_name = "PIXELS", default_value_t = 768)]
    pub height: u32,
    /// Image size of OpenPose JSON written in pixels without a canvas size, e.g. 1920x1080.
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    pub source_size: Option<[u32; 2]>,
}

/// Thresholds of the checks.
#[derive(Debug, Args)]
pub struct CheckTuning {
    /// How far outside [0, 1] a normalised coordinate may lie before it is reported (P107).
    #[arg(long, value_name = "FRACTION", default_value_t = CheckOptions::default().canvas_tolerance)]
    pub canvas_tolerance: f64,
    /// Largest plausible confidence score (P110); DWPose scores reach about 1.2.
    #[arg(long, value_name = "SCORE", default_value_t = CheckOptions::default().max_score,
          value_parser = super::values::positive)]
    pub max_score: f64,
    /// Robust standard deviations (1.4826 × MAD) above the median displacement that make a jump (P113).
    #[arg(long, value_name = "SIGMAS", default_value_t = CheckOptions::default().jump_threshold)]
    pub jump_threshold: f64,
    /// Smallest displacement, as a fraction of the canvas, that counts as a jump (P113).
    #[arg(long, value_name = "FRACTION", default_value_t = CheckOptions::default().min_jump)]
    pub min_jump: f64,
    /// Frames the sequence must cover (P114).
    #[arg(long, value_name = "N", conflicts_with = "audio", value_parser = super::values::count_u64)]
    pub expect_frames: Option<u64>,
    /// Audio the generation is driven by; frames needed = int(duration × --fps) (needs ffprobe).
    #[arg(long, value_name = "FILE")]
    pub audio: Option<PathBuf>,
    /// Frame rate of the generation (EchoMimicV2: 24).
    #[arg(long, value_name = "FPS", default_value_t = 24.0, value_parser = super::values::positive)]
    pub fps: f64,
    /// List every frame in the table output, not only frames with findings.
    #[arg(long)]
    pub all_frames: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub tuning: CheckTuning,
}

/// Where a command that writes files puts them and its report.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Replace an existing, non-empty output.
    #[arg(long)]
    pub force: bool,
    /// Write the report to FILE (with these commands, -o names what is written).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmoothArg {
    /// One-Euro filter (--min-cutoff, --beta, --d-cutoff).
    OneEuro,
    /// Savitzky-Golay filter (--window, --polyorder).
    Savgol,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(flatten)]
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub tuning: CheckTuning,
    #[command(flatten)]
    pub write: WriteArgs,
    /// Longest run of bad frames of a keypoint that is interpolated; longer runs hold the nearest value (P116).
    #[arg(long, value_name = "FRAMES", default_value_t = 12)]
    pub max_gap: usize,
    /// Smooth keypoint tracks after repairing them (in pixels of the --width x --height canvas).
    #[arg(long, value_enum)]
    pub smooth: Option<SmoothArg>,
    /// One-Euro: minimum cutoff frequency (per frame).
    #[arg(long, default_value_t = 0.004, value_parser = super::values::positive)]
    pub min_cutoff: f64,
    /// One-Euro: speed coefficient (per pixel per frame).
    #[arg(long, default_value_t = 0.7, value_parser = super::values::non_negative)]
    pub beta: f64,
    /// One-Euro: cutoff frequency of the derivative.
    #[arg(long, default_value_t = 1.0, value_parser = super::values::positive)]
    pub d_cutoff: f64,
    /// Savitzky-Golay: window length in frames (odd).
    #[arg(long, default_value_t = 11)]
    pub window: usize,
    /// Savitzky-Golay: polynomial order.
    #[arg(long, default_value_t = 2)]
    pub polyorder: usize,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub tuning: CheckTuning,
    #[command(flatten)]
    pub write: WriteArgs,
    /// Also write every frame as a full-size PNG (`<index>.png`) into DIR.
    #[arg(long, value_name = "DIR")]
    pub frames_dir: Option<PathBuf>,
    /// Draw the body too (EchoMimicV2 draws only hands).
    #[arg(long)]
    pub body: bool,
    /// Draw the face landmarks too.
    #[arg(long)]
    pub face: bool,
    /// Thumbnail width on the contact sheet, in pixels.
    #[arg(long, value_name = "PIXELS", default_value_t = 160)]
    pub thumb: u32,
    /// Thumbnails per row.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub columns: u32,
    /// Most thumbnails on the sheet; longer sequences show every k-th frame plus every flagged one.
    #[arg(long, value_name = "N", default_value_t = 480)]
    pub max_tiles: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetFormat {
    /// EchoMimicV2 `<index>.npy` files (coordinates normalised to the crop).
    Echomimic,
    /// OpenPose `<name>_<frame>_keypoints.json` in pixels of --width x --height, with canvas size.
    Openpose,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub write: WriteArgs,
    /// The format to write.
    #[arg(long, value_enum)]
    pub to: TargetFormat,
}

fn parse_size(text: &str) -> Result<[u32; 2], String> {
    let (w, h) = text.split_once(['x', 'X']).ok_or("expected WIDTHxHEIGHT, e.g. 1920x1080")?;
    let parse = |s: &str| s.trim().parse::<u32>().ok().filter(|v| *v > 0).ok_or("sizes must be positive integers");
    Ok([parse(w)?, parse(h)?])
}

pub fn run(args: PoseArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    // Missing inputs are named before any option or destination is judged.
    let paths = match &args.command {
        PoseCommand::Check(a) => &a.sequence.paths,
        PoseCommand::Repair(a) => &a.sequence.paths,
        PoseCommand::Render(a) => &a.sequence.paths,
        PoseCommand::Convert(a) => &a.sequence.paths,
    };
    super::inputs::require_existing(paths)?;
    match args.command {
        PoseCommand::Check(args) => check(args, global),
        PoseCommand::Repair(args) => repair(args, global),
        PoseCommand::Render(args) => render(args, global),
        PoseCommand::Convert(args) => convert(args, global),
    }
}

/// Check options from the command line (runs ffprobe for `--audio`).
fn check_options(sequence: &SequenceArgs, tuning: &CheckTuning) -> anyhow::Result<CheckOptions> {
    anyhow::ensure!(sequence.width > 0 && sequence.height > 0, "--width and --height must be positive");
    anyhow::ensure!(tuning.fps > 0.0 && tuning.fps.is_finite(), "--fps must be positive");
    anyhow::ensure!(tuning.canvas_tolerance >= 0.0, "--canvas-tolerance must not be negative");
    anyhow::ensure!(tuning.jump_threshold > 0.0 && tuning.min_jump >= 0.0, "jump thresholds must be positive");
    let expect_frames = tuning.expect_frames.map(|n| (n, "--expect-frames".to_string()));
    let audio_frames = match &tuning.audio {
        Some(path) => {
            let seconds = audio::duration(path)?;
            let frames = audio::frames_for(seconds, tuning.fps);
            Some((frames, format!("{} ({} s at {} fps)", path.display(), fmt_num(seconds), fmt_num(tuning.fps))))
        }
        None => None,
    };
    Ok(CheckOptions {
        width: sequence.width,
        height: sequence.height,
        canvas_tolerance: tuning.canvas_tolerance,
        max_score: tuning.max_score,
        jump_threshold: tuning.jump_threshold,
        min_jump: tuning.min_jump,
        expect_frames,
        audio_frames,
        ..CheckOptions::default()
    })
}

fn inputs(sequence: &SequenceArgs) -> Vec<String> {
    sequence.paths.iter().map(|p| p.display().to_string()).collect()
}

/// Loads the one sequence that `repair`, `render` and `convert` work on.
fn load(sequence: &SequenceArgs) -> anyhow::Result<PoseSequence> {
    super::inputs::require_existing(&sequence.paths)?;
    if sequence.paths.len() > 1 && sequence.paths.iter().any(|p| p.is_dir()) {
        bail!("give one pose folder or a list of frame files (only `pose check` takes several folders)");
    }
    load_one(&sequence.paths, sequence.source_size)
}

fn load_one(paths: &[PathBuf], source_size: Option<[u32; 2]>) -> anyhow::Result<PoseSequence> {
    let seq = pose::load(paths, source_size);
    if seq.frames.is_empty() && seq.findings.is_empty() {
        return Err(super::inputs::nothing_to_check(paths, "pose frames"));
    }
    Ok(seq)
}

/// The sequences of `pose check`: each folder is one, and the frame files
/// named outside any folder form one more.
fn sequences(paths: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    let (folders, files): (Vec<&PathBuf>, Vec<&PathBuf>) = paths.iter().partition(|p| p.is_dir());
    let mut groups: Vec<Vec<PathBuf>> = folders.into_iter().map(|f| vec![f.clone()]).collect();
    if !files.is_empty() {
        groups.push(files.into_iter().cloned().collect());
    }
    groups
}

fn check(args: CheckArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let options = check_options(&args.sequence, &args.tuning)?;
    super::inputs::require_existing(&args.sequence.paths)?;
    let mut merged: Option<Report> = None;
    for paths in sequences(&args.sequence.paths) {
        let seq = load_one(&paths, args.sequence.source_size)?;
        let outcome = pose::check(&seq, &options);
        let inputs = paths.iter().map(|p| p.display().to_string()).collect();
        let report = check_report("pose check", inputs, &seq, outcome, args.tuning.all_frames);
        merged = Some(match merged {
            None => report,
            Some(so_far) => merge_reports(so_far, report),
        });
    }
    let mut report = merged.ok_or_else(|| super::inputs::nothing_to_check(&args.sequence.paths, "pose frames"))?;
    report.inputs = inputs(&args.sequence);
    report.sort_findings();
    emit(&report, global)
}

/// Appends a second sequence's report to the first: findings, counters,
/// rows and JSON arrays add up; `format` stays the first sequence's.
fn merge_reports(mut into: Report, from: Report) -> Report {
    into.findings.extend(from.findings);
    for (key, value) in from.counters {
        let sum = into.counters.iter().find(|(k, _)| *k == key).map_or(0, |(_, v)| *v) + value;
        into.set_counter(&key, sum);
    }
    for section in from.sections {
        match into.sections.iter_mut().find(|s| s.key == section.key) {
            Some(existing) => {
                if let (Some(a), serde_json::Value::Array(b)) = (existing.value.as_array_mut(), section.value) {
                    a.extend(b);
                }
                match (&mut existing.table, section.table) {
                    (Some(a), Some(b)) => {
                        a.rows.extend(b.rows);
                        a.note = match (a.note.take(), b.note) {
                            (Some(x), Some(y)) => Some(format!("{x}; {y}")),
                            (x, y) => x.or(y),
                        };
                    }
                    (slot @ None, Some(b)) => *slot = Some(b),
                    _ => {}
                }
            }
            None => into.sections.push(section),
        }
    }
    into
}

/// The report of a check: findings, the `frames` array and motion statistics.
fn check_report(command: &str, inputs: Vec<String>, seq: &PoseSequence, outcome: CheckOutcome, all: bool) -> Report {
    let mut report = Report::new(command, inputs);
    report.set_counter("frames", outcome.frames.len() as u64);
    report.set_counter("files", seq.frames.len() as u64);
    let listed: Vec<_> = outcome.frames.iter().filter(|f| all || !f.flags.is_empty()).collect();
    let hidden = outcome.frames.len() - listed.len();
    let rows = listed
        .iter()
        .map(|f| {
            vec![
                f.frame.to_string(),
                f.file.clone().unwrap_or_else(|| "-".into()),
                f.status.to_string(),
                f.hand_points.to_string(),
                f.non_black_share.map_or("-".into(), |s| format!("{:.2}%", s * 100.0)),
                f.flags.join(" "),
            ]
        })
        .collect();
    report.sections.push(Section { key: "format".into(), value: serde_json::json!(seq.format.name()), table: None });
    report.sections.push(Section {
        key: "frames".into(),
        value: serde_json::to_value(&outcome.frames).unwrap_or_default(),
        table: (!listed.is_empty() || all).then(|| SectionTable {
            title: if all { "Frames".into() } else { "Frames with findings".into() },
            header: ["frame", "file", "status", "hand points", "non-black", "findings"].map(String::from).to_vec(),
            rows,
            note: (hidden > 0).then(|| format!("{hidden} more frames without findings (--all-frames lists them)")),
        }),
    });
    report.sections.push(Section {
        key: "motion".into(),
        value: serde_json::to_value(&outcome.motion).unwrap_or_default(),
        table: None,
    });
    report.findings = outcome.findings;
    report.sort_findings();
    report
}

/// The destination named by `-o`, and the global options with the report
/// redirected to `--report`.
fn destination(global: &GlobalArgs, write: &WriteArgs, what: &str) -> anyhow::Result<(PathBuf, GlobalArgs)> {
    let Some(out) = global.output.clone() else { bail!("{what} needs -o/--output naming where to write") };
    let mut report_global = global.clone();
    report_global.output = write.report.clone();
    Ok((out, report_global))
}

fn repair(args: RepairArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let (out, report_global) = destination(global, &args.write, "pose repair")?;
    let check = check_options(&args.sequence, &args.tuning)?;
    anyhow::ensure!(args.window % 2 == 1 && args.window > args.polyorder, "--window must be odd and above --polyorder");
    let smooth = args.smooth.map(|s| match s {
        SmoothArg::OneEuro => {
            Smoothing::OneEuro { min_cutoff: args.min_cutoff, beta: args.beta, d_cutoff: args.d_cutoff }
        }
        SmoothArg::Savgol => Smoothing::SavGol { window: args.window, polyorder: args.polyorder },
    });
    check_destination(&out, &args.sequence.paths, args.write.force)?;
    let seq = load(&args.sequence)?;
    let before = pose::check(&seq, &check);
    let options = RepairOptions { check: check.clone(), max_gap: args.max_gap, smooth };
    let repaired = repair_sequence(&seq, &options);
    if repaired.frames.is_empty() {
        bail!("too few frames of the input could be read to rebuild the rest (or none at all); `pose check` says why");
    }
    let size = args.sequence.source_size.unwrap_or([args.sequence.width, args.sequence.height]);
    let staged = stage(&repaired.frames, seq.format, &seq.pattern, size, &out)?;
    let written = staged.commit()?;
    let after_seq = pose::load(std::slice::from_ref(&written), args.sequence.source_size);
    let after = pose::check(&after_seq, &check);
    let report =
        repair_report(inputs(&args.sequence), &written, &before, repaired, after, &after_seq, args.tuning.all_frames);
    emit(&report, &report_global)
}

fn repair_report(
    inputs: Vec<String>,
    written: &std::path::Path,
    before: &CheckOutcome,
    repaired: Repaired,
    mut after: CheckOutcome,
    after_seq: &PoseSequence,
    all: bool,
) -> Report {
    after.findings.extend(repaired.findings);
    let mut report = check_report("pose repair", inputs, after_seq, after, all);
    report.set_counter("findings_before", before.findings.len() as u64);
    report.set_counter("repairs", repaired.actions.len() as u64);
    let rows = repaired
        .actions
        .iter()
        .map(|a| vec![a.frame.to_string(), a.action.to_string(), a.reason.to_string(), keypoint_list(&a.keypoints)])
        .collect();
    report.sections.insert(
        0,
        Section { key: "output".into(), value: serde_json::json!(written.display().to_string()), table: None },
    );
    report.sections.push(Section {
        key: "repairs".into(),
        value: serde_json::to_value(&repaired.actions).unwrap_or_default(),
        table: Some(SectionTable {
            title: format!("Repairs written to {}", written.display()),
            header: ["frame", "action", "reason", "keypoints"].map(String::from).to_vec(),
            rows,
            note: Some(format!(
                "{} findings before repair; the findings above are from re-checking the output",
                before.findings.len()
            )),
        }),
    });
    report
}

/// "hands[1][5], hands[1][6] +3 more"
fn keypoint_list(keypoints: &[String]) -> String {
    match keypoints.len() {
        0 => "-".into(),
        n if n <= 3 => keypoints.join(", "),
        n => format!("{} +{} more", keypoints[..2].join(", "), n - 2),
    }
}

/// Writes bytes to `path` through a temporary file renamed into place.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.nanscope-tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn render(args: RenderArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let (out, report_global) = destination(global, &args.write, "pose render")?;
    let check = check_options(&args.sequence, &args.tuning)?;
    anyhow::ensure!(
        args.thumb >= 16 && args.columns >= 1 && args.max_tiles >= 1,
        "--thumb, --columns and --max-tiles are too small"
    );
    check_destination(&out, &args.sequence.paths, args.write.force)?;
    if let Some(dir) = &args.frames_dir {
        check_destination(dir, &args.sequence.paths, args.write.force)?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let seq = load(&args.sequence)?;
    if let Some(file) =
        seq.frames.iter().find(|f| f.reading.pose.as_ref().is_some_and(|p| p.units == pose::Units::Pixels))
    {
        bail!(
            "{} holds pixel coordinates of an unknown image size; pass --source-size WIDTHxHEIGHT to draw it",
            file.file
        );
    }
    let mut outcome = pose::check(&seq, &check);
    let slots = pose::checks::slots(&seq);
    let options = RenderOptions { body: args.body, face: args.face };
    let (width, height) = (args.sequence.width, args.sequence.height);
    let thumb_w = args.thumb.min(width);
    let thumb_h = ((height as u64 * thumb_w as u64) / width as u64).max(1) as u32;
    let stride = slots.len().div_ceil(args.max_tiles).max(1);
    let rendered: Vec<(Option<f64>, Option<SheetTile>)> = slots
        .par_iter()
        .enumerate()
        .map(|(slot, frame)| -> anyhow::Result<_> {
            let index = seq.first_index + slot as u64;
            let flagged = !outcome.frames[slot].flags.is_empty();
            let shown = slot % stride == 0 || flagged;
            let Some(frame) = frame else {
                return Ok((None, shown.then_some(SheetTile { frame: index, thumb: None, flagged })));
            };
            // A canvas too large to allocate is not drawn; `check` reports
            // its parameters (P112).
            let Ok(image) = render_frame(frame, width, height, options) else {
                return Ok((None, shown.then_some(SheetTile { frame: index, thumb: None, flagged })));
            };
            if let Some(dir) = &args.frames_dir {
                write_file(&dir.join(format!("{index}.png")), &png(&image)?)?;
            }
            let tile = shown.then(|| SheetTile { frame: index, thumb: Some(thumbnail(&image, thumb_w)), flagged });
            Ok((Some(image.non_black_share()), tile))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut tiles = Vec::new();
    for (row, (share, tile)) in outcome.frames.iter_mut().zip(rendered) {
        row.non_black_share = share;
        tiles.extend(tile);
    }
    write_file(&out, &png(&sheet(&tiles, args.columns, thumb_w, thumb_h))?)?;
    let shares: Vec<f64> = outcome.frames.iter().filter_map(|f| f.non_black_share).collect();
    let mut report = check_report("pose render", inputs(&args.sequence), &seq, outcome, args.tuning.all_frames);
    report
        .sections
        .insert(0, Section { key: "output".into(), value: serde_json::json!(out.display().to_string()), table: None });
    if !shares.is_empty() {
        let mean = shares.iter().sum::<f64>() / shares.len() as f64;
        report.sections.push(Section {
            key: "render".into(),
            value: serde_json::json!({"tiles": tiles.len(), "mean_non_black_share": mean}),
            table: Some(SectionTable {
                title: format!("Rendered to {}", out.display()),
                header: vec!["tiles".into(), "mean non-black share".into()],
                rows: vec![vec![
                    tiles.len().to_string(),
                    format!("{:.2}% (EchoMimicV2 poses are about 1%)", mean * 100.0),
                ]],
                note: None,
            }),
        });
    }
    emit(&report, &report_global)
}

fn convert(args: ConvertArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let (out, report_global) = destination(global, &args.write, "pose convert")?;
    let (width, height) = (args.sequence.width, args.sequence.height);
    anyhow::ensure!(width > 0 && height > 0, "--width and --height must be positive");
    check_destination(&out, &args.sequence.paths, args.write.force)?;
    let seq = load(&args.sequence)?;
    let to = match args.to {
        TargetFormat::Echomimic => pose::PoseFormat::EchoMimic,
        TargetFormat::Openpose => pose::PoseFormat::OpenPose,
    };
    let converted = convert_sequence(&seq, to, width, height)?;
    let staged = stage(&converted.frames, converted.format, &converted.pattern, [width, height], &out)?;
    let written = staged.commit()?;
    let options = CheckOptions { width, height, ..CheckOptions::default() };
    let after_seq = pose::load(std::slice::from_ref(&written), None);
    let after = pose::check(&after_seq, &options);
    let mut report = check_report("pose convert", inputs(&args.sequence), &after_seq, after, false);
    report.sections.insert(
        0,
        Section { key: "output".into(), value: serde_json::json!(written.display().to_string()), table: None },
    );
    report.set_counter("converted", converted.frames.len() as u64);
    emit(&report, &report_global)
}
