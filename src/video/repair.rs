//! `video repair`: rebuild a playable file from a damaged one without ever
//! touching the input. The strategy follows what `check` found (or the user's
//! choice); the result is written beside the output, re-checked, then renamed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use super::check::{CheckOptions, VideoCheck, check_file, list_frames};
use super::container::walk_boxes;
use super::decode::MAX_FRAME_PIXELS;
use super::encode::Fill;
use super::frame_checks::FrameFlag;
use super::output::{OutputError, PendingOutput, same_file};
use super::probe::probe;
use super::rebuild;
use super::tools::{ToolError, Tools, drain_stderr, path_arg, tail};
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::video as rules;

/// How a file is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Copy the streams into a new MP4 with the index in front.
    Remux,
    /// Re-encode to H.264 yuv420p with even dimensions.
    Reencode,
    /// Re-encode, dropping frames the decoder cannot decode cleanly and keeping the others' timestamps.
    Drop,
    /// Re-encode, replacing black, NaN-signature and corrupt frames from their good neighbours.
    Fill,
    /// Recover the H.264 units of an MP4 without a moov, using a reference file's SPS/PPS.
    Rebuild,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Remux => "remux",
            Strategy::Reencode => "reencode",
            Strategy::Drop => "drop",
            Strategy::Fill => "fill",
            Strategy::Rebuild => "rebuild",
        }
    }
}

#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepairOptions {
    pub strategy: Option<Strategy>,
    pub fill: Fill,
    pub force: bool,
    pub check: CheckOptions,
    pub crf: u8,
    /// A healthy file from the same encoder settings, for files without a moov.
    pub reference: Option<PathBuf>,
    /// The run's audio, muxed into the output in place of the input's (a
    /// failed mux left the video silent).
    pub audio: Option<PathBuf>,
}

impl Default for RepairOptions {
    /// The command line's defaults: the strategy the check's findings call
    /// for, damaged frames interpolated, CRF 18, an existing output kept.
    fn default() -> Self {
        RepairOptions {
            strategy: None,
            fill: Fill::Interpolate,
            force: false,
            check: CheckOptions::default(),
            crf: 18,
            reference: None,
            audio: None,
        }
    }
}

/// What a repair did and what is still wrong.
#[derive(Debug, Serialize)]
pub struct RepairResult {
    pub input: String,
    pub output: Option<String>,
    pub strategy: Option<Strategy>,
    /// Codes and messages `video check` found on the input.
    pub input_findings: Vec<String>,
    pub steps: Vec<String>,
    /// Frames replaced (fill) or dropped (drop).
    pub frames_changed: Vec<u64>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
    #[serde(skip)]
    pub input_check: Option<VideoCheck>,
    #[serde(skip)]
    pub output_check: Option<VideoCheck>,
}

/// Frames `fill` replaces.
const FILLED_FLAGS: [FrameFlag; 3] = [FrameFlag::Black, FrameFlag::NanCast, FrameFlag::Corrupt];

/// The strategy `check`'s findings call for.
pub fn choose(check: &VideoCheck) -> Strategy {
    let bad = check.frames_with(&FILLED_FLAGS);
    if !bad.is_empty() && bad.len() < check.frames.len() {
        Strategy::Fill
    } else if [&rules::DECODE_ERRORS, &rules::PLAYER_PIXEL_FORMAT, &rules::ODD_DIMENSIONS, &rules::PLAYER_CODEC]
        .iter()
        .any(|rule| check.has(rule))
        || (check.has(&rules::AV_DURATION_MISMATCH) && !check.has(&rules::TRUNCATED))
    {
        Strategy::Reencode
    } else {
        // A truncated file (V104) whose whole packets decode cleanly keeps
        // them as they are: re-encoding would only degrade intact frames.
        // Audio the cut left shorter than the video is padded by `remux`.
        Strategy::Remux
    }
}

pub fn repair(
    tools: &Tools,
    input: &Path,
    output: &Path,
    options: &RepairOptions,
) -> Result<RepairResult, OutputError> {
    if same_file(input, output) {
        return Err(OutputError::SameAsInput(output.to_path_buf()));
    }
    let pending = PendingOutput::new(output, options.force)?;
    if let Some(audio) = &options.audio
        && probe(tools, audio)?.audio().is_none()
    {
        return Err(OutputError::Reference(format!("--audio {}: it holds no audio stream", audio.display())));
    }
    let check = check_file(tools, input, &options.check)?;
    let label = check.file.clone();
    let mut result = RepairResult {
        input: label.clone(),
        output: None,
        strategy: None,
        input_findings: check.findings.iter().map(|f| format!("{} {}", f.code(), f.message)).collect(),
        steps: vec![],
        frames_changed: vec![],
        findings: vec![],
        input_check: None,
        output_check: None,
    };
    let rebuild_from = options.reference.as_deref().filter(|_| check.has(&rules::MOOV_MISSING));
    if let Some(reason) = unrepairable(&check).filter(|_| rebuild_from.is_none()) {
        return Ok(refuse(result, check, reason));
    }
    let strategy =
        if rebuild_from.is_some() { Strategy::Rebuild } else { options.strategy.unwrap_or_else(|| choose(&check)) };
    result.strategy = Some(strategy);
    let out_label = output.display().to_string();
    let written = match (strategy, rebuild_from) {
        (Strategy::Rebuild, Some(reference)) => {
            rebuild(tools, input, &pending.temporary, reference, options).map(|(steps, errors)| {
                if let Some(errors) = errors {
                    result.findings.push(repair_incomplete(&out_label, errors));
                }
                steps
            })
        }
        (Strategy::Rebuild, None) => Err(OutputError::Reference("a rebuild needs --reference".into())),
        _ => match strategy {
            Strategy::Remux => remux(tools, input, &pending.temporary, &check),
            Strategy::Reencode => reencode(tools, input, &pending.temporary, &check, options, false),
            Strategy::Drop => reencode(tools, input, &pending.temporary, &check, options, true),
            Strategy::Fill => fill_frames(tools, input, &pending.temporary, &check, options),
            Strategy::Rebuild => unreachable!("handled above"),
        },
    };
    let written = match (written, &options.audio) {
        (Ok(mut steps), Some(audio)) => mux_audio(tools, &pending.temporary, audio).map(|step| {
            steps.push((step, vec![]));
            steps
        }),
        (written, _) => written,
    };
    let steps = match written {
        Ok(steps) => steps,
        Err(OutputError::Reference(reason) | OutputError::Unrepairable(reason)) => {
            pending.discard();
            return Ok(refuse(result, check, reason));
        }
        Err(OutputError::Ffmpeg { detail, .. }) if strategy == Strategy::Rebuild => {
            pending.discard();
            let reason =
                format!("ffmpeg could not decode the rebuilt stream with the reference's parameter sets ({detail})");
            return Ok(refuse(result, check, reason));
        }
        Err(err) => {
            pending.discard();
            return Err(pending.about_destination(err));
        }
    };
    let mut output_check = match check_file(tools, &pending.temporary, &options.check) {
        Ok(c) => c,
        Err(err) => {
            pending.discard();
            return Err(err.into());
        }
    };
    if output_check.frames.is_empty() {
        pending.discard();
        let reason = format!("the {} result holds no decodable frame; nothing was written", strategy.name());
        return Ok(refuse(result, check, reason));
    }
    // The report names the user's output, never the temporary file it was checked as.
    output_check.relabel(&out_label);
    pending.commit()?;
    result.output = Some(out_label.clone());
    for (message, frames) in &steps {
        let mut subject = Subject::file(&out_label);
        match (frames.first(), frames.last()) {
            (Some(&a), Some(&b)) if a == b => subject.frame = Some(a),
            (Some(&a), Some(&b)) => subject.frames = Some([a, b]),
            _ => {}
        }
        result.findings.push(Finding::new(&rules::REPAIR_APPLIED, message.clone()).with_subject(subject));
        result.steps.push(message.clone());
        result.frames_changed.extend(frames.iter().copied());
    }
    let remaining: Vec<Finding> = output_check
        .findings
        .iter()
        .filter(|f| !f.is(&rules::NOT_FASTSTART))
        .cloned()
        .map(|mut f| {
            f.subject.file = Some(out_label.clone());
            f
        })
        .collect();
    let serious: Vec<&str> =
        remaining.iter().filter(|f| f.severity > crate::report::Severity::Info).map(|f| f.code()).collect();
    if !serious.is_empty() {
        result.findings.push(repair_incomplete(
            &out_label,
            format!("the repaired file still has findings: {}", serious.join(", ")),
        ));
    }
    result.findings.extend(remaining);
    result.input_check = Some(check);
    result.output_check = Some(output_check);
    Ok(result)
}

/// The result of a repair that cannot be done: a V141 finding (an error, so
/// the run exits 1 in every output format), and nothing written.
fn refuse(mut result: RepairResult, check: VideoCheck, reason: String) -> RepairResult {
    let label = check.file.clone();
    result.output = None;
    result.steps.clear();
    result.frames_changed.clear();
    result.findings.push(
        Finding::new(&rules::UNREPAIRABLE, format!("{label} cannot be repaired: {reason}"))
            .with_subject(Subject::file(&label)),
    );
    result.input_check = Some(check);
    result
}

fn unrepairable(check: &VideoCheck) -> Option<String> {
    if check.has(&rules::MOOV_MISSING) {
        return Some(
            "the MP4 has no moov atom (the writer never finalised it); its frames cannot be located without a healthy \
             reference file written with the same encoder settings: pass it as --reference to rebuild the H.264 video"
                .into(),
        );
    }
    if check.has(&rules::EMPTY_FILE) {
        return Some("the file is empty".into());
    }
    if check.unreadable {
        return Some("it is not a media file".into());
    }
    if check.has(&rules::NO_VIDEO_STREAM) {
        return Some("it has no video stream".into());
    }
    if check.frames.is_empty() {
        return Some("no frame of its video stream can be decoded".into());
    }
    None
}

type Steps = Vec<(String, Vec<u64>)>;

fn has_audio(check: &VideoCheck) -> bool {
    check.streams.iter().any(|s| s.codec_type.as_deref() == Some("audio"))
}

/// Seconds the decoded frames last: what the output and its audio are cut to.
fn video_seconds(check: &VideoCheck) -> f64 {
    check.frames.len() as f64 / check.fps.unwrap_or(25.0)
}

/// Runs an ffmpeg that writes `path`; its stderr on success.
fn run_ffmpeg(mut command: Command, path: &Path) -> Result<String, OutputError> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|source| OutputError::Tool(ToolError::Run { program: "ffmpeg".into(), error: source }))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() {
        Ok(stderr)
    } else {
        Err(OutputError::Ffmpeg { path: path.to_path_buf(), detail: tail(&stderr, 4) })
    }
}

fn audio_step(check: &VideoCheck) -> Option<(String, Vec<u64>)> {
    has_audio(check).then(|| {
        (
            format!(
                "audio re-muxed as AAC, padded with silence or trimmed to the video's {} s (-t, not -shortest)",
                fmt_num(video_seconds(check))
            ),
            vec![],
        )
    })
}

/// Replaces the audio of the video written at `video` with `audio`, as AAC
/// padded with silence or cut to the video's length; the video is copied.
fn mux_audio(tools: &Tools, video: &Path, audio: &Path) -> Result<String, OutputError> {
    let written = probe(tools, video)?;
    let stream = written.video();
    let seconds = match (stream.and_then(|v| v.indexed_frames()), stream.and_then(|v| v.fps())) {
        (Some(frames), Some(fps)) if fps > 0.0 => frames as f64 / fps,
        _ => stream.and_then(|v| v.duration_seconds()).unwrap_or(0.0),
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(OutputError::Unrepairable("the repaired video's length is unknown, so no audio was muxed".into()));
    }
    let muxed = video.with_extension("audio.mp4");
    let mut command = tools.ffmpeg();
    command.args(["-loglevel", "error", "-y", "-i"]).arg(path_arg(video));
    command.arg("-i").arg(path_arg(audio));
    command.args(["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-af", "apad", "-c:a", "aac", "-b:a", "192k"]);
    command.args(["-t", &format!("{seconds:.6}"), "-movflags", "+faststart"]);
    command.arg(path_arg(&muxed));
    // Errors name the file being written (then the user's output), not this step's own.
    let ran = run_ffmpeg(command, &muxed).map_err(|err| match err {
        OutputError::Ffmpeg { detail, .. } => OutputError::Ffmpeg {
            path: video.to_path_buf(),
            detail: detail.replace(&muxed.display().to_string(), &video.display().to_string()),
        },
        other => other,
    });
    let ran = ran.and_then(|_| {
        std::fs::rename(&muxed, video).map_err(|source| OutputError::Io { path: video.to_path_buf(), error: source })
    });
    if ran.is_err() {
        let _ = std::fs::remove_file(&muxed);
    }
    ran?;
    Ok(format!(
        "audio of {} muxed in as AAC (in place of the input's), padded with silence or cut to the video's {} s \
         (-t, not -shortest)",
        audio.display(),
        fmt_num(seconds)
    ))
}

/// Walks the H.264 units out of a moov-less file's media data into an Annex B
/// stream beside the output (with the reference's parameter sets), then lets
/// ffmpeg decode it in display order and re-encode it at the reference's rate.
fn rebuild(
    tools: &Tools,
    input: &Path,
    out: &Path,
    reference: &Path,
    options: &RepairOptions,
) -> Result<(Steps, Option<String>), OutputError> {
    let config = rebuild::reference_config(reference).map_err(|e| OutputError::Reference(e.to_string()))?;
    let fps = probe(tools, reference)?.video().and_then(|v| v.fps()).unwrap_or(25.0);
    let io = |source| OutputError::Io { path: input.to_path_buf(), error: source };
    let mut file = std::fs::File::open(input).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let layout = walk_boxes(&mut file, size).map_err(io)?;
    let mdat = layout.boxes.iter().find(|b| b.kind == "mdat").ok_or_else(|| {
        OutputError::Reference(format!("{} holds no media data (mdat) to rebuild from", input.display()))
    })?;
    // SAFETY: the map is read-only and dropped before this function returns;
    // a file changed underneath can only yield other bytes, which the walk
    // treats like any damaged data.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    let start = (mdat.offset.saturating_add(mdat.header) as usize).min(map.len());
    let end = (mdat.offset.saturating_add(mdat.size) as usize).min(map.len());
    let media = &map[start..end.max(start)];

    let annexb = out.with_extension("h264");
    let walk = {
        let written =
            std::fs::File::create(&annexb).map_err(|source| OutputError::Io { path: annexb.clone(), error: source })?;
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, written);
        let walk = rebuild::write_annexb(media, &config, &mut writer).and_then(|w| writer.flush().map(|_| w));
        walk.map_err(|source| OutputError::Io { path: annexb.clone(), error: source })
    };
    let walk = match walk {
        Ok(walk) if walk.pictures > 0 => walk,
        Ok(_) => {
            let _ = std::fs::remove_file(&annexb);
            return Err(OutputError::Unrepairable(format!(
                "no whole H.264 picture was found in its media data with the unit lengths of {} (the file ends \
                 before its first frame is complete, or the reference is from another encoder)",
                reference.display()
            )));
        }
        Err(err) => {
            let _ = std::fs::remove_file(&annexb);
            return Err(err);
        }
    };
    // The bytes between the video units are the other track's samples: AAC
    // audio when the reference has an AAC track.
    let flv = out.with_extension("flv");
    let audio = match super::aac::reference_aac(reference).filter(|_| !walk.gaps.is_empty()) {
        Some(aac) => {
            let written = std::fs::File::create(&flv).and_then(|file| {
                let mut writer = std::io::BufWriter::new(file);
                let bytes = super::aac::write_flv(media, &walk.gaps, &aac, &mut writer)?;
                writer.flush().map(|_| bytes)
            });
            written.ok().filter(|&bytes| bytes > 0)
        }
        None => None,
    };
    let seconds = walk.pictures as f64 / fps;
    let mut command = tools.ffmpeg();
    command.args(["-loglevel", "level+error", "-y", "-f", "h264", "-framerate", &format!("{fps}"), "-i"]);
    command.arg(path_arg(&annexb));
    if audio.is_some() {
        command.args(["-f", "flv", "-i"]).arg(path_arg(&flv));
    }
    command.args(["-map", "0:v:0"]);
    if audio.is_some() {
        command.args(["-map", "1:a:0"]);
        // Timestamps follow the samples decoded; short audio is padded, and -t cuts it to the video.
        command.args(["-af", "asetpts=N/SR/TB,apad", "-c:a", "aac", "-b:a", "192k", "-t", &format!("{seconds:.6}")]);
    }
    encoder_args(&mut command, options, false, None);
    command.arg(path_arg(out));
    let ran = run_ffmpeg(command, out);
    let _ = std::fs::remove_file(&annexb);
    let _ = std::fs::remove_file(&flv);
    let stderr = ran?;
    // A reference from other encoder settings decodes into garbage, with
    // errors; the audio decoder's complaints (about a cut last frame, or a
    // frame the gaps did not hold whole) are not the video's: ffmpeg names
    // them by the decoder, the demuxer or the audio input (#1).
    let audio_error = |l: &str| l.starts_with("[aac") || l.contains("flv") || l.contains("stream #1:");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("[error]") && !audio_error(l)).collect();
    let decode_errors = (!errors.is_empty()).then(|| {
        format!(
            "the rebuilt stream decoded with {} error lines for {} pictures (first: {}): the reference's encoder \
             settings or size probably differ from the broken file's, and the frames may be garbage",
            errors.len(),
            walk.pictures,
            errors[0].rsplit("] ").next().unwrap_or(errors[0])
        )
    });
    // More than one error for every four pictures is no damage here and
    // there: the parameter sets do not fit the units, and what decoded is
    // garbage. That is a rebuild that cannot be done, not a repaired file.
    if let Some(errors_found) = &decode_errors
        && errors.len() as u64 * 4 > walk.pictures
    {
        return Err(OutputError::Unrepairable(errors_found.clone()));
    }
    let mut steps: Steps = vec![(
        format!(
            "rebuilt {} whole frames from {} H.264 units found in the media data, decoded with the parameter sets \
             of {} and re-encoded at its {} fps to H.264 yuv420p with +faststart",
            walk.pictures,
            walk.units,
            reference.display(),
            fmt_num(fps)
        ),
        vec![],
    )];
    match audio {
        Some(bytes) => steps.push((
            format!(
                "audio rebuilt from the {bytes} bytes between the video units, decoded with the AAC configuration of \
                 {}, re-encoded as AAC and cut to the video's {} s",
                reference.display(),
                fmt_num(seconds)
            ),
            vec![],
        )),
        None if walk.skipped > 0 => steps.push((
            format!(
                "{} bytes of the media data did not parse as H.264 units and were stepped over (the reference has no \
                 AAC track, so no audio is recovered)",
                walk.skipped
            ),
            vec![],
        )),
        None => {}
    }
    if walk.cut > 0 {
        steps.push((
            format!("the last {} bytes hold a unit cut short by the end of the file; dropped", walk.cut),
            vec![],
        ));
    }
    Ok((steps, decode_errors))
}

fn remux(tools: &Tools, input: &Path, out: &Path, check: &VideoCheck) -> Result<Steps, OutputError> {
    let mut command = tools.ffmpeg();
    // A packet cut short by the end of a truncated file is marked corrupt by the demuxer and left out.
    command.args(["-loglevel", "error", "-y", "-fflags", "+discardcorrupt", "-i"]).arg(path_arg(input));
    command.args(["-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-movflags", "+faststart"]);
    // Audio shorter than the video is padded with silence, which needs it re-encoded; the video is still copied.
    let pad_audio = has_audio(check) && check.has(&rules::AV_DURATION_MISMATCH);
    if pad_audio {
        command.args(["-af", "apad", "-c:a", "aac", "-b:a", "192k"]);
    }
    if has_audio(check) {
        command.args(["-t", &format!("{:.6}", video_seconds(check))]);
    }
    command.arg(path_arg(out));
    run_ffmpeg(command, out)?;
    let mut steps: Steps = vec![("streams copied into a new MP4 with the index in front (+faststart)".into(), vec![])];
    if check.has(&rules::TRUNCATED) {
        steps[0].0 = format!(
            "the {} whole frames before the cut copied as they are (not re-encoded) into a new MP4 with the index \
             in front (+faststart); the packet cut short by the end of the file was left out",
            check.frames.len()
        );
    }
    let audio = if pad_audio { "audio re-encoded as AAC, padded with silence" } else { "audio copied" };
    steps.extend(has_audio(check).then(|| {
        (format!("{audio} and cut to the video's {} s (-t, not -shortest)", fmt_num(video_seconds(check))), vec![])
    }));
    Ok(steps)
}

/// H.264 yuv420p with even dimensions and +faststart; audio as AAC; cut to `seconds` when given.
fn encoder_args(command: &mut Command, options: &RepairOptions, audio: bool, seconds: Option<f64>) {
    command.args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]);
    command.args(["-c:v", "libx264", "-preset", "medium", "-crf", &options.crf.to_string(), "-pix_fmt", "yuv420p"]);
    if audio {
        // Pad short audio with silence; -t then cuts both streams to the video.
        command.args(["-af", "apad", "-c:a", "aac", "-b:a", "192k"]);
    }
    if let Some(seconds) = seconds {
        command.args(["-t", &format!("{seconds:.6}")]);
    }
    command.args(["-movflags", "+faststart"]);
}

fn reencode(
    tools: &Tools,
    input: &Path,
    out: &Path,
    check: &VideoCheck,
    options: &RepairOptions,
    drop_corrupt: bool,
) -> Result<Steps, OutputError> {
    let mut command = tools.ffmpeg();
    command.args(["-loglevel", "error", "-y", "-fflags", "+genpts+discardcorrupt"]);
    if drop_corrupt {
        command.args(["-err_detect", "explode"]);
    }
    command.arg("-i").arg(path_arg(input)).args(["-map", "0:v:0", "-map", "0:a:0?"]);
    if drop_corrupt {
        // Keep every surviving frame at its own timestamp: the gaps stay gaps.
        command.args(["-fps_mode", "passthrough"]);
    }
    encoder_args(&mut command, options, has_audio(check), Some(video_seconds(check)));
    command.arg(path_arg(out));
    run_ffmpeg(command, out)?;
    let mut steps: Steps = vec![(
        format!(
            "re-encoded {} decodable frames to H.264 yuv420p with even dimensions and +faststart",
            check.frames.len()
        ),
        vec![],
    )];
    if drop_corrupt && !check.corrupt_frames.is_empty() {
        steps.push((
            format!(
                "dropped {} frames the decoder could not decode cleanly ({}), keeping the timestamps of the others",
                check.corrupt_frames.len(),
                list_frames(&check.corrupt_frames)
            ),
            check.corrupt_frames.clone(),
        ));
    }
    steps.extend(audio_step(check));
    Ok(steps)
}

/// Decodes RGB frames, replaces the flagged ones from their good neighbours
/// and pipes everything into the encoder. Only the last good frame is kept
/// while a run of bad frames is skipped; the run is written once the next
/// good frame arrives.
fn fill_frames(
    tools: &Tools,
    input: &Path,
    out: &Path,
    check: &VideoCheck,
    options: &RepairOptions,
) -> Result<Steps, OutputError> {
    let (width, height) = (check.width.unwrap_or(0), check.height.unwrap_or(0));
    if width == 0 || height == 0 || width * height > MAX_FRAME_PIXELS {
        return Err(OutputError::Ffmpeg {
            path: out.to_path_buf(),
            detail: format!("unusable frame size {width}x{height}"),
        });
    }
    let bad = check.frames_with(&FILLED_FLAGS);
    if bad.len() >= check.frames.len() {
        return Err(OutputError::Unrepairable(format!(
            "every one of its {} frames is black, NaN-signature or corrupt: no good frame exists to fill from",
            check.frames.len()
        )));
    }
    let mut is_bad = vec![false; check.frames.len()];
    for &i in &bad {
        is_bad[i as usize] = true;
    }
    let fps = check.fps.unwrap_or(25.0);
    let audio = has_audio(check);

    let mut decoder = tools.ffmpeg();
    decoder.args(["-loglevel", "error", "-i"]).arg(path_arg(input));
    decoder.args(["-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
    let mut decoder = decoder
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| OutputError::Tool(ToolError::Run { program: "ffmpeg".into(), error: source }))?;
    let decoder_err = drain_stderr(&mut decoder, 64 * 1024);

    let mut encoder = tools.ffmpeg();
    encoder.args(["-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]);
    encoder.args(["-s", &format!("{width}x{height}"), "-r", &format!("{fps}"), "-i", "pipe:0"]);
    if audio {
        encoder.arg("-i").arg(path_arg(input)).args(["-map", "0:v:0", "-map", "1:a:0"]);
    }
    encoder_args(&mut encoder, options, audio, Some(video_seconds(check)));
    encoder.arg(path_arg(out));
    let mut encoder = encoder
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| OutputError::Tool(ToolError::Run { program: "ffmpeg".into(), error: source }))?;
    let encoder_err = drain_stderr(&mut encoder, 64 * 1024);

    let len = (width * height * 3) as usize;
    let mut frame = vec![0u8; len];
    let mut last_good: Option<(usize, Vec<u8>)> = None;
    let mut pending: Vec<usize> = Vec::new();
    let mut filled = Vec::new();
    let mut sink = encoder.stdin.take();
    let mut stdout = decoder.stdout.take();
    let mut index = 0usize;
    while let Some(reader) = stdout.as_mut() {
        if reader.read_exact(&mut frame).is_err() {
            break;
        }
        if is_bad.get(index).copied().unwrap_or(false) {
            pending.push(index);
        } else {
            for &p in &pending {
                send(&mut sink, &replacement(p, last_good.as_ref(), Some((index, &frame)), options.fill));
                filled.push(p as u64);
            }
            pending.clear();
            send(&mut sink, &frame);
            last_good = Some((index, frame.clone()));
        }
        index += 1;
    }
    for &p in &pending {
        send(&mut sink, &replacement(p, last_good.as_ref(), None, options.fill));
        filled.push(p as u64);
    }
    // Closing the encoder's stdin ends its input.
    drop(sink);
    drop(stdout);
    let _ = decoder.wait();
    let _ = decoder_err.join();
    let status = encoder.wait().map_err(|source| OutputError::Io { path: out.to_path_buf(), error: source })?;
    let text = encoder_err.join().unwrap_or_default();
    if !status.success() {
        return Err(OutputError::Ffmpeg { path: out.to_path_buf(), detail: tail(&text, 4) });
    }
    let mut steps: Steps =
        vec![(format!("re-encoded {index} frames to H.264 yuv420p with even dimensions and +faststart"), vec![])];
    filled.sort_unstable();
    steps.extend(fill_steps(&filled, index as u64, options.fill));
    steps.extend(audio_step(check));
    Ok(steps)
}

/// One step per run of replaced frames, saying what that run really got:
/// frames interpolated between the good frames on both sides, or one good
/// frame held (a run at the start or the end has a good frame on one side
/// only, and `--fill hold` always holds).
fn fill_steps(filled: &[u64], decoded: u64, fill: Fill) -> Steps {
    let mut steps = Vec::new();
    for (a, b) in contiguous(filled) {
        let before = a.checked_sub(1);
        let after = (b + 1 < decoded).then_some(b + 1);
        let count = b - a + 1;
        let place = if a == b { format!("frame {a}") } else { format!("frames {a}-{b} ({count} frames)") };
        let how = match (fill, before, after) {
            (Fill::Interpolate, Some(p), Some(n)) => format!("interpolated between the good frames {p} and {n}"),
            (_, Some(p), None) => format!("held the last good frame, {p} (no good frame follows)"),
            (_, Some(p), Some(_)) => format!("held the good frame {p} before them"),
            (_, None, Some(n)) => format!("held the first good frame, {n} (no good frame precedes)"),
            (_, None, None) => "no good frame exists".into(),
        };
        steps.push((format!("replaced {place}, black, NaN-signature or corrupt: {how}"), (a..=b).collect()));
    }
    steps
}

/// Runs of consecutive values `[first, last]` in a sorted list.
fn contiguous(values: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &v in values {
        match out.last_mut() {
            Some(run) if run.1 + 1 == v => run.1 = v,
            _ => out.push((v, v)),
        }
    }
    out
}

/// Writes a frame to the encoder; a closed pipe ends the writing (the
/// encoder's exit status says why).
fn send(sink: &mut Option<std::process::ChildStdin>, bytes: &[u8]) {
    if let Some(pipe) = sink.as_mut()
        && pipe.write_all(bytes).is_err()
    {
        *sink = None;
    }
}

/// The frame written in place of bad frame `index`.
fn replacement(
    index: usize,
    before: Option<&(usize, Vec<u8>)>,
    after: Option<(usize, &Vec<u8>)>,
    fill: Fill,
) -> Vec<u8> {
    match (fill, before, after) {
        (Fill::Interpolate, Some((b, prev)), Some((a, next))) => {
            let t = (index - b) as f32 / (a - b).max(1) as f32;
            prev.iter().zip(next.iter()).map(|(&p, &n)| (p as f32 + (n as f32 - p as f32) * t).round() as u8).collect()
        }
        (_, Some((_, prev)), _) => prev.clone(),
        (_, None, Some((_, next))) => next.clone(),
        (_, None, None) => Vec::new(),
    }
}

/// V: the repaired file is still damaged; `what` says how.
fn repair_incomplete(output: &str, what: String) -> Finding {
    Finding::new(&rules::REPAIR_INCOMPLETE, what).with_subject(Subject::file(output))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trailing black run has no good frame after it: it is held, and
    /// the step says so instead of claiming an interpolation.
    #[test]
    fn fill_steps_say_per_run_whether_frames_were_interpolated_or_held() {
        let steps = fill_steps(&[0, 1, 5, 6, 7, 20, 21], 22, Fill::Interpolate);
        let text: Vec<&str> = steps.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(text.len(), 3);
        assert!(text[0].contains("frames 0-1") && text[0].contains("held the first good frame, 2"), "{}", text[0]);
        assert!(text[1].contains("interpolated between the good frames 4 and 8"), "{}", text[1]);
        assert!(text[2].contains("held the last good frame, 19 (no good frame follows)"), "{}", text[2]);
        assert_eq!(steps[2].1, vec![20, 21]);
        let held = fill_steps(&[5], 10, Fill::Hold);
        assert!(held[0].0.contains("held the good frame 4"), "{}", held[0].0);
    }

    #[test]
    fn replacement_interpolates_or_holds() {
        let before = (2usize, vec![0u8, 100]);
        let after = vec![100u8, 200];
        assert_eq!(replacement(3, Some(&before), Some((4, &after)), Fill::Interpolate), vec![50, 150]);
        assert_eq!(replacement(3, Some(&before), Some((4, &after)), Fill::Hold), vec![0, 100]);
        assert_eq!(replacement(0, None, Some((4, &after)), Fill::Interpolate), vec![100, 200]);
    }
}
