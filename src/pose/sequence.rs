//! Finding the frames of a pose sequence on disk and reading them.
//!
//! A sequence is a folder (`0.npy … n-1.npy`, or OpenPose
//! `<name>_<frame>_keypoints.json`) or an explicit list of files. The frame
//! index comes from the last run of digits in the file name.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::model::PoseFormat;
use super::read::{Reading, read_file};
use crate::report::{Finding, Severity, Subject};
use crate::rules::pose as rules;

/// Frame numbers at or beyond this (over 11 hours at 24 fps) are not frames.
pub const MAX_FRAMES: u64 = 1_000_000;

/// A frame further than this after the one before it (about 7 minutes at
/// 24 fps) is a misnumbered file, not the end of a run of missing frames:
/// the checks would otherwise hold a slot for every frame of the gap.
pub const MAX_GAP: u64 = 10_000;

/// How frame file names are spelled, so repair can name recreated frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    pub prefix: String,
    /// Zero-padded digit count; 0 when the number is not padded.
    pub width: usize,
    pub suffix: String,
}

impl NamePattern {
    pub fn echomimic() -> NamePattern {
        NamePattern { prefix: String::new(), width: 0, suffix: ".npy".into() }
    }

    pub fn name(&self, index: u64) -> String {
        format!("{}{:0width$}{}", self.prefix, index, self.suffix, width = self.width)
    }

    /// The index and spelling of a name such as `video_000000000012_keypoints.json`.
    pub fn parse(name: &str) -> Option<(u64, NamePattern)> {
        let bytes = name.as_bytes();
        let end = bytes.iter().rposition(u8::is_ascii_digit)? + 1;
        let start = bytes[..end].iter().rposition(|b| !b.is_ascii_digit()).map_or(0, |i| i + 1);
        let digits = &name[start..end];
        let index = digits.parse::<u64>().ok()?;
        let width = if digits.len() > 1 && digits.starts_with('0') { digits.len() } else { 0 };
        Some((index, NamePattern { prefix: name[..start].to_string(), width, suffix: name[end..].to_string() }))
    }
}

/// One frame file and what reading it produced.
#[derive(Debug, Clone)]
pub struct FrameFile {
    pub index: u64,
    pub file: String,
    pub path: PathBuf,
    pub reading: Reading,
}

/// The frames of one sequence, sorted by index (one file per index).
#[derive(Debug, Clone)]
pub struct PoseSequence {
    pub format: PoseFormat,
    /// The folder the frames came from, when a folder was given.
    pub folder: Option<PathBuf>,
    pub frames: Vec<FrameFile>,
    /// The first frame index the sequence must have: 0 for EchoMimicV2,
    /// the smallest index found for JSON sequences.
    pub first_index: u64,
    pub pattern: NamePattern,
    /// Stray entries, duplicate indices and unreadable inputs.
    pub findings: Vec<Finding>,
}

/// Lists and reads the frames of `paths` (one folder, or frame files).
/// `source_size` normalises OpenPose pixel coordinates (see `openpose`).
pub fn load(paths: &[PathBuf], source_size: Option<[u32; 2]>) -> PoseSequence {
    let mut findings = Vec::new();
    let folder = match paths {
        [one] if one.is_dir() => Some(one.clone()),
        _ => None,
    };
    let candidates = match &folder {
        Some(dir) => folder_frames(dir, &mut findings),
        None => explicit_frames(paths, &mut findings),
    };
    let format = candidates.format;
    let mut frames: Vec<FrameFile> = candidates
        .files
        .into_par_iter()
        .map(|(index, path)| {
            let file = path.display().to_string();
            let reading = read_file(&path, &file, source_size);
            FrameFile { index, file, path, reading }
        })
        .collect();
    frames.sort_by(|a, b| a.index.cmp(&b.index).then(a.file.cmp(&b.file)));
    // Frame numbers come from file names; one absurd number must not make
    // every later step allocate a slot per missing frame.
    let base = match format {
        PoseFormat::EchoMimic => 0,
        _ => frames.first().map_or(0, |f| f.index),
    };
    frames.retain(|frame| {
        let plausible = frame.index - base < MAX_FRAMES;
        if !plausible {
            let why = format!("{}: frame number {} is implausibly large; the file is ignored", frame.file, frame.index);
            findings.push(stray_file(&frame.file, why));
        }
        plausible
    });
    let mut last = None;
    frames.retain(|frame| {
        let gap = last.map_or(frame.index - base, |previous: u64| frame.index - previous);
        if gap > MAX_GAP {
            let after = last.map_or_else(|| "the start of the sequence".to_string(), |p| format!("frame {p}"));
            let why = format!(
                "{}: frame {} lies {gap} frames after {after}; a gap over {MAX_GAP} frames is a misnumbered \
                 file, which is ignored with the frames after it",
                frame.file, frame.index
            );
            findings.push(stray_file(&frame.file, why).with_evidence("gap", gap));
            return false;
        }
        last = Some(frame.index);
        true
    });
    let mut unique: Vec<FrameFile> = Vec::with_capacity(frames.len());
    for frame in frames {
        match unique.last() {
            Some(last) if last.index == frame.index => findings.push(
                Finding::new(
                    &rules::DUPLICATE_FRAME_INDEX,
                    format!("{} and {} are both frame {}", last.file, frame.file, frame.index),
                )
                .with_subject(Subject { frame: Some(frame.index), ..Subject::file(&frame.file) })
                .with_evidence("files", vec![last.file.clone(), frame.file.clone()]),
            ),
            _ => unique.push(frame),
        }
    }
    let first_index = match format {
        PoseFormat::EchoMimic => 0,
        _ => unique.first().map_or(0, |f| f.index),
    };
    let format = unique.iter().find(|f| f.reading.pose.is_some()).map_or(format, |f| f.reading.format);
    PoseSequence { format, folder, frames: unique, first_index, pattern: candidates.pattern, findings }
}

struct Candidates {
    format: PoseFormat,
    files: Vec<(u64, PathBuf)>,
    pattern: NamePattern,
}

/// A folder's frame files. In an EchoMimicV2 folder every other entry is a
/// stray (the pipeline counts them as frames); in a JSON folder files
/// without the `.json` extension are ignored.
fn folder_frames(dir: &Path, findings: &mut Vec<Finding>) -> Candidates {
    let mut entries: Vec<(String, PathBuf, bool)> = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(listing) => {
            for entry in listing.flatten() {
                let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
                entries.push((entry.file_name().to_string_lossy().into_owned(), entry.path(), is_dir));
            }
        }
        Err(err) => findings.push(crate::formats::unreadable_file(
            &dir.display().to_string(),
            format!("cannot list {}: {err}", dir.display()),
        )),
    }
    entries.sort();
    let npy = entries.iter().filter(|(n, _, d)| !d && n.ends_with(".npy")).count();
    let json = entries.iter().filter(|(n, _, d)| !d && n.ends_with(".json")).count();
    let echomimic = npy >= json && npy > 0;
    let mut files = Vec::new();
    let mut pattern = None;
    for (name, path, is_dir) in entries {
        let label = path.display().to_string();
        if echomimic {
            let plain = name.strip_suffix(".npy").filter(|stem| {
                !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()) && (stem == &"0" || !stem.starts_with('0'))
            });
            match plain.and_then(|stem| stem.parse::<u64>().ok()) {
                Some(index) if !is_dir => files.push((index, path)),
                _ => findings.push(stray(&label, &name, is_dir)),
            }
        } else if !is_dir && name.ends_with(".json") {
            match NamePattern::parse(&name) {
                Some((index, spelled)) => {
                    pattern.get_or_insert(spelled);
                    files.push((index, path));
                }
                None => findings.push(stray(&label, &name, false).with_severity(Severity::Warning)),
            }
        }
    }
    let format = if echomimic { PoseFormat::EchoMimic } else { PoseFormat::OpenPose };
    let pattern = if echomimic { NamePattern::echomimic() } else { pattern.unwrap_or_else(NamePattern::echomimic) };
    Candidates { format, files, pattern }
}

fn stray(label: &str, name: &str, is_dir: bool) -> Finding {
    let what = if is_dir { "a folder" } else { "not a frame file" };
    stray_file(label, format!("{name} in the pose folder is {what}; EchoMimicV2 still counts it as a frame"))
}

/// P: a file that is not a frame of the sequence; `why` says what it is.
fn stray_file(label: &str, why: String) -> Finding {
    Finding::new(&rules::STRAY_FILE, why).with_subject(Subject::file(label))
}

/// Files given one by one: the index comes from the name, else the position.
fn explicit_frames(paths: &[PathBuf], findings: &mut Vec<Finding>) -> Candidates {
    let mut files = Vec::new();
    let mut pattern = None;
    for (position, path) in paths.iter().enumerate() {
        if path.is_dir() {
            let why = format!("{} is a folder; give one folder or a list of frame files", path.display());
            findings.push(stray_file(&path.display().to_string(), why).with_severity(Severity::Warning));
            continue;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let index = match NamePattern::parse(&name) {
            Some((index, spelled)) => {
                pattern.get_or_insert(spelled);
                index
            }
            None => position as u64,
        };
        files.push((index, path.clone()));
    }
    let echomimic = paths.iter().any(|p| p.extension().is_some_and(|e| e == "npy"));
    let format = if echomimic { PoseFormat::EchoMimic } else { PoseFormat::OpenPose };
    Candidates { format, files, pattern: pattern.unwrap_or_else(NamePattern::echomimic) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_index_and_spelling() {
        let (index, pattern) = NamePattern::parse("video_000000000012_keypoints.json").unwrap();
        assert_eq!(index, 12);
        assert_eq!(pattern.name(3), "video_000000000003_keypoints.json");
        let (index, pattern) = NamePattern::parse("17.npy").unwrap();
        assert_eq!((index, pattern.name(5)), (17, "5.npy".to_string()));
        assert!(NamePattern::parse("notes.txt").is_none());
    }

    #[test]
    fn echomimic_folders_report_strays_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["0.npy", "1.npy", "01.npy", ".DS_Store", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let seq = load(&[dir.path().to_path_buf()], None);
        assert_eq!(seq.format, PoseFormat::EchoMimic);
        assert_eq!(seq.frames.len(), 2);
        let strays = seq.findings.iter().filter(|f| f.code() == "P104").count();
        assert_eq!(strays, 3);
    }

    #[test]
    fn a_frame_far_past_the_others_is_a_finding_not_a_gap_of_slots() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["0.npy", "1.npy", "999999.npy", "1000000.npy"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let seq = load(&[dir.path().to_path_buf()], None);
        assert_eq!(seq.frames.iter().map(|f| f.index).collect::<Vec<_>>(), vec![0, 1]);
        let strays: Vec<&Finding> = seq.findings.iter().filter(|f| f.code() == "P104").collect();
        assert_eq!(strays.len(), 2, "{strays:?}");
        assert!(
            strays.iter().any(|f| f.message.contains("frame 999999 lies 999998 frames after frame 1")),
            "{strays:?}"
        );
        assert_eq!(crate::pose::checks::slots(&seq).len(), 2);
    }

    #[test]
    fn absurd_frame_numbers_are_not_frames() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["0.npy", "99999999999.npy"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let seq = load(&[dir.path().to_path_buf()], None);
        assert_eq!(seq.frames.len(), 1);
        assert_eq!(seq.findings[0].code(), "P104");
    }
}
