//! `pose repair`, `pose render` and `pose convert`: the files they write,
//! and their reports (a re-check of what was written, plus what was done).

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::pose::{PoseCheckOptions, check_report, load_sequence, resolved_check};
use super::{CommandError, input_labels, require_existing};
use crate::pose::convert::convert as convert_sequence;
use crate::pose::render::{RenderOptions, png, render_frame};
use crate::pose::repair::{RepairOptions, Repaired, repair as repair_sequence};
use crate::pose::sheet::{SheetTile, sheet, thumbnail};
use crate::pose::smooth::Smoothing;
use crate::pose::write::{check_destination, stage};
use crate::pose::{self, CheckOptions, CheckOutcome, PoseFormat, PoseSequence};
use crate::report::{Report, Section, SectionTable};

/// What `pose repair` reads, writes and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoseRepairOptions {
    /// The sequence and the checks run before and after the repair.
    pub sequence: PoseCheckOptions,
    /// The folder the repaired sequence is written to.
    pub output: PathBuf,
    /// Replace an existing, non-empty output.
    pub force: bool,
    /// Longest run of bad frames of a keypoint that is interpolated.
    pub max_gap: usize,
    /// Smooth keypoint tracks after repairing them.
    pub smooth: Option<Smoothing>,
}

impl PoseRepairOptions {
    pub fn new(paths: Vec<PathBuf>, output: PathBuf) -> Self {
        PoseRepairOptions { sequence: PoseCheckOptions::new(paths), output, force: false, max_gap: 12, smooth: None }
    }
}

/// What `pose render` reads, writes and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoseRenderOptions {
    pub sequence: PoseCheckOptions,
    /// The contact sheet PNG.
    pub output: PathBuf,
    pub force: bool,
    /// Also write every frame as a full-size PNG (`<index>.png`) here.
    pub frames_dir: Option<PathBuf>,
    /// What is drawn besides the hands.
    pub draw: RenderOptions,
    /// Thumbnail width on the contact sheet, in pixels.
    pub thumb: u32,
    /// Thumbnails per row.
    pub columns: u32,
    /// Most thumbnails on the sheet.
    pub max_tiles: usize,
}

impl PoseRenderOptions {
    pub fn new(paths: Vec<PathBuf>, output: PathBuf) -> Self {
        PoseRenderOptions {
            sequence: PoseCheckOptions::new(paths),
            output,
            force: false,
            frames_dir: None,
            draw: RenderOptions::default(),
            thumb: 160,
            columns: 8,
            max_tiles: 480,
        }
    }
}

/// What `pose convert` reads and writes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoseConvertOptions {
    pub paths: Vec<PathBuf>,
    /// Image size of OpenPose JSON written in pixels without a canvas size.
    pub source_size: Option<[u32; 2]>,
    /// The canvas of the written sequence.
    pub width: u32,
    pub height: u32,
    /// The format to write.
    pub to: PoseFormat,
    /// The folder the converted sequence is written to.
    pub output: PathBuf,
    pub force: bool,
}

impl PoseConvertOptions {
    pub fn new(paths: Vec<PathBuf>, to: PoseFormat, output: PathBuf) -> Self {
        PoseConvertOptions { paths, source_size: None, width: 768, height: 768, to, output, force: false }
    }
}

/// The `render` section.
#[derive(Serialize)]
struct RenderSummary {
    tiles: usize,
    mean_non_black_share: f64,
}

/// The `output` section: what was written.
fn output_section(path: &Path) -> Section {
    Section::typed("output", &path.display().to_string())
}

/// Loads the one sequence that `repair`, `render` and `convert` work on.
fn load_single(paths: &[PathBuf], source_size: Option<[u32; 2]>) -> Result<PoseSequence, CommandError> {
    require_existing(paths)?;
    if paths.len() > 1 && paths.iter().any(|p| p.is_dir()) {
        return Err(CommandError::InvalidOption(
            "give one pose folder or a list of frame files (only `pose check` takes several folders)".into(),
        ));
    }
    load_sequence(paths, source_size)
}

fn resolved(sequence: &PoseCheckOptions) -> Result<CheckOptions, CommandError> {
    resolved_check(&sequence.check, sequence.expect_frames, sequence.audio.as_deref(), sequence.fps)
}

/// Writes a repaired copy of the sequence and returns the `pose repair`
/// report: the re-check of the output, `output` and `repairs` sections.
pub fn pose_repair(options: &PoseRepairOptions) -> Result<Report, CommandError> {
    let sequence = &options.sequence;
    require_existing(&sequence.paths)?;
    let check = resolved(sequence)?;
    if let Some(Smoothing::SavGol { window, polyorder }) = options.smooth
        && !(window % 2 == 1 && window > polyorder)
    {
        return Err(CommandError::InvalidOption("--window must be odd and above --polyorder".into()));
    }
    let out = &options.output;
    check_destination(out, &sequence.paths, options.force)?;
    let seq = load_single(&sequence.paths, sequence.source_size)?;
    let before = pose::check(&seq, &check);
    let repair_options = RepairOptions { check: check.clone(), max_gap: options.max_gap, smooth: options.smooth };
    let repaired = repair_sequence(&seq, &repair_options);
    if repaired.frames.is_empty() {
        return Err(CommandError::Refused(
            "too few frames of the input could be read to rebuild the rest (or none at all); `pose check` says why"
                .into(),
        ));
    }
    let size = sequence.source_size.unwrap_or([check.width, check.height]);
    let staged = stage(&repaired.frames, seq.format, &seq.pattern, size, out)?;
    let written = staged.commit()?;
    let after_seq = pose::load(std::slice::from_ref(&written), sequence.source_size);
    let after = pose::check(&after_seq, &check);
    let inputs = input_labels(&sequence.paths);
    Ok(repair_report(inputs, &written, &before, repaired, after, &after_seq, sequence.all_frames))
}

/// Draws the sequence as EchoMimicV2 draws it (a contact sheet PNG) and
/// returns the `pose render` report: the check with each frame's non-black
/// share, `output` and `render` sections.
pub fn pose_render(options: &PoseRenderOptions) -> Result<Report, CommandError> {
    let sequence = &options.sequence;
    require_existing(&sequence.paths)?;
    let check = resolved(sequence)?;
    if !(options.thumb >= 16 && options.columns >= 1 && options.max_tiles >= 1) {
        return Err(CommandError::InvalidOption("--thumb, --columns and --max-tiles are too small".into()));
    }
    let out = &options.output;
    check_destination(out, &sequence.paths, options.force)?;
    if let Some(dir) = &options.frames_dir {
        check_destination(dir, &sequence.paths, options.force)?;
        std::fs::create_dir_all(dir)
            .map_err(|source| CommandError::Write { message: format!("cannot create {}", dir.display()), source })?;
    }
    let seq = load_single(&sequence.paths, sequence.source_size)?;
    if let Some(file) =
        seq.frames.iter().find(|f| f.reading.pose.as_ref().is_some_and(|p| p.units == pose::Units::Pixels))
    {
        return Err(CommandError::Refused(format!(
            "{} holds pixel coordinates of an unknown image size; pass --source-size WIDTHxHEIGHT to draw it",
            file.file
        )));
    }
    let mut outcome = pose::check(&seq, &check);
    let slots = pose::checks::slots(&seq);
    let draw = options.draw;
    let (width, height) = (check.width, check.height);
    let thumb_w = options.thumb.min(width);
    let thumb_h = ((height as u64 * thumb_w as u64) / width as u64).max(1) as u32;
    let stride = slots.len().div_ceil(options.max_tiles).max(1);
    let rendered: Vec<(Option<f64>, Option<SheetTile>)> = slots
        .par_iter()
        .enumerate()
        .map(|(slot, frame)| -> Result<_, CommandError> {
            let index = seq.first_index + slot as u64;
            let flagged = !outcome.frames[slot].flags.is_empty();
            let shown = slot % stride == 0 || flagged;
            let Some(frame) = frame else {
                return Ok((None, shown.then_some(SheetTile { frame: index, thumb: None, flagged })));
            };
            // A canvas too large to allocate is not drawn; `check` reports
            // its parameters (P112).
            let Ok(image) = render_frame(frame, width, height, draw) else {
                return Ok((None, shown.then_some(SheetTile { frame: index, thumb: None, flagged })));
            };
            if let Some(dir) = &options.frames_dir {
                write_file(&dir.join(format!("{index}.png")), &png(&image)?)?;
            }
            let tile = shown.then(|| SheetTile { frame: index, thumb: Some(thumbnail(&image, thumb_w)), flagged });
            Ok((Some(image.non_black_share()), tile))
        })
        .collect::<Result<_, _>>()?;
    let mut tiles = Vec::new();
    for (row, (share, tile)) in outcome.frames.iter_mut().zip(rendered) {
        row.non_black_share = share;
        tiles.extend(tile);
    }
    write_file(out, &png(&sheet(&tiles, options.columns, thumb_w, thumb_h))?)?;
    let shares: Vec<f64> = outcome.frames.iter().filter_map(|f| f.non_black_share).collect();
    let inputs = input_labels(&sequence.paths);
    let mut report = check_report("pose render", inputs, &seq, outcome, sequence.all_frames);
    report.sections.insert(0, output_section(out));
    if !shares.is_empty() {
        let mean = shares.iter().sum::<f64>() / shares.len() as f64;
        let summary = RenderSummary { tiles: tiles.len(), mean_non_black_share: mean };
        report.sections.push(Section::typed("render", &summary).with_table(SectionTable {
            title: format!("Rendered to {}", out.display()),
            header: vec!["tiles".into(), "mean non-black share".into()],
            rows: vec![vec![tiles.len().to_string(), format!("{:.2}% (EchoMimicV2 poses are about 1%)", mean * 100.0)]],
            note: None,
        }));
    }
    Ok(report)
}

/// Converts the sequence and returns the `pose convert` report: the check
/// of what was written and an `output` section.
pub fn pose_convert(options: &PoseConvertOptions) -> Result<Report, CommandError> {
    require_existing(&options.paths)?;
    let (width, height) = (options.width, options.height);
    if width == 0 || height == 0 {
        return Err(CommandError::InvalidOption("--width and --height must be positive".into()));
    }
    let out = &options.output;
    check_destination(out, &options.paths, options.force)?;
    let seq = load_single(&options.paths, options.source_size)?;
    let converted = convert_sequence(&seq, options.to, width, height)?;
    let staged = stage(&converted.frames, converted.format, &converted.pattern, [width, height], out)?;
    let written = staged.commit()?;
    let check = CheckOptions { width, height, ..CheckOptions::default() };
    let after_seq = pose::load(std::slice::from_ref(&written), None);
    let after = pose::check(&after_seq, &check);
    let mut report = check_report("pose convert", input_labels(&options.paths), &after_seq, after, false);
    report.sections.insert(0, output_section(&written));
    report.set_counter("converted", converted.frames.len() as u64);
    Ok(report)
}

fn repair_report(
    inputs: Vec<String>,
    written: &Path,
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
    report.sections.insert(0, output_section(written));
    report.sections.push(Section::typed("repairs", &repaired.actions).with_table(SectionTable {
        title: format!("Repairs written to {}", written.display()),
        header: ["frame", "action", "reason", "keypoints"].map(String::from).to_vec(),
        rows,
        note: Some(format!(
            "{} findings before repair; the findings above are from re-checking the output",
            before.findings.len()
        )),
    }));
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
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CommandError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.nanscope-tmp"));
    let failed = |source| CommandError::Write { message: format!("cannot write {}", path.display()), source };
    std::fs::write(&tmp, bytes).map_err(failed)?;
    std::fs::rename(&tmp, path).map_err(failed)
}
