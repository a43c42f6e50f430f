//! One fuzz target per reader. A target takes the bytes of one file, runs
//! them through the same path the command does (reader, checks, and the
//! analysis behind them), and returns a digest of the findings it produced.
//!
//! A new reader joins with one line in `TARGETS`: a name (its corpus is
//! `fuzz/corpus/<name>/`), where its seeds come from, the file name its
//! input is written under, and the function that runs it.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nanscope::formats::{FileFormat, detect};
use nanscope::pose::read::{Reading, read_bytes};
use nanscope::pose::render::{RenderOptions, render_frame};
use nanscope::pose::repair::{RepairOptions, repair};
use nanscope::pose::sequence::{FrameFile, NamePattern, PoseSequence};
use nanscope::pose::{CheckOptions, PoseFormat, check};
use nanscope::report::Finding;

/// Which files of the seed folders seed a target.
#[derive(Debug, Clone, Copy)]
pub enum Accept {
    /// Files whose content `detect` recognises as this format.
    Format(FileFormat),
    /// Files with this extension.
    Extension(&'static str),
}

pub struct Target {
    pub name: &'static str,
    /// Folders (relative to the repository) searched recursively for seeds.
    pub seeds: &'static [&'static str],
    pub accept: Accept,
    /// The name the input is written under in the target's scratch folder.
    pub file: &'static str,
    /// A fixture folder copied into the scratch folder first (the rest of a
    /// multi-file input, such as a dump's manifest around its records).
    pub beside: Option<&'static str>,
    pub run: fn(&[u8], &Scratch) -> u64,
}

const CHECKPOINTS: &[&str] = &["fixtures", "fuzz/corpus"];

#[rustfmt::skip]
pub const TARGETS: &[Target] = &[
    Target { name: "safetensors", seeds: CHECKPOINTS, accept: Accept::Format(FileFormat::Safetensors), file: "input.safetensors", beside: None, run: weights },
    Target { name: "torch-zip", seeds: CHECKPOINTS, accept: Accept::Format(FileFormat::TorchZip), file: "input.pt", beside: None, run: weights },
    Target { name: "torch-legacy", seeds: CHECKPOINTS, accept: Accept::Format(FileFormat::TorchLegacy), file: "input.pt", beside: None, run: weights },
    Target { name: "pickle", seeds: CHECKPOINTS, accept: Accept::Format(FileFormat::Pickle), file: "input.pkl", beside: None, run: weights },
    Target { name: "npy", seeds: CHECKPOINTS, accept: Accept::Format(FileFormat::Npy), file: "input.npy", beside: None, run: weights },
    Target { name: "npz", seeds: CHECKPOINTS, accept: Accept::Format(FileFormat::Npz), file: "input.npz", beside: None, run: weights },
    Target { name: "gguf", seeds: CHECKPOINTS, accept: Accept::Format(FileFormat::Gguf), file: "input.gguf", beside: None, run: weights },
    Target { name: "pose-npy", seeds: &["fixtures/pose"], accept: Accept::Extension("npy"), file: "0.npy", beside: None, run: pose },
    Target { name: "pose-render", seeds: &["fixtures/pose"], accept: Accept::Extension("npy"), file: "0.npy", beside: None, run: pose_render },
    Target { name: "openpose-json", seeds: &["fixtures/pose/openpose"], accept: Accept::Extension("json"), file: "0_keypoints.json", beside: None, run: pose },
    Target { name: "trace-manifest", seeds: &["fixtures/trace"], accept: Accept::Extension("json"), file: "manifest.json", beside: Some("fixtures/trace/planted-stages"), run: trace },
    Target { name: "trace-records", seeds: &["fixtures/trace"], accept: Accept::Extension("jsonl"), file: "records.jsonl", beside: Some("fixtures/trace/planted-stages"), run: trace },
    Target { name: "image-png", seeds: &["fixtures/image"], accept: Accept::Extension("png"), file: "input.png", beside: None, run: image },
    Target { name: "image-jpeg", seeds: &["fixtures/image"], accept: Accept::Extension("jpg"), file: "input.jpg", beside: None, run: image },
    Target { name: "image-tiff", seeds: &["fixtures/image"], accept: Accept::Extension("tiff"), file: "input.tiff", beside: None, run: image },
    Target { name: "log", seeds: &["fixtures/log"], accept: Accept::Extension("log"), file: "input.log", beside: None, run: log },
    Target { name: "config-yaml", seeds: &["fixtures/config"], accept: Accept::Extension("yaml"), file: "input.yaml", beside: None, run: config },
    Target { name: "mp4-boxes", seeds: &[], accept: Accept::Extension("mp4"), file: "input.mp4", beside: None, run: mp4 },
    Target { name: "matroska-tags", seeds: &[], accept: Accept::Extension("webm"), file: "input.webm", beside: None, run: matroska },
    Target { name: "report-json", seeds: &[], accept: Accept::Extension("json"), file: "report.json", beside: None, run: report_json },
    Target { name: "gate-config", seeds: &["fixtures/gate"], accept: Accept::Extension("toml"), file: "nanscope.toml", beside: None, run: gate_config },
    Target { name: "gate-baseline", seeds: &[], accept: Accept::Extension("json"), file: "baseline.json", beside: None, run: gate_baseline },
    Target { name: "y4m-frames", seeds: &[], accept: Accept::Extension("y4m"), file: "input.y4m", beside: None, run: y4m_frames },
    Target { name: "ffmpeg-showinfo", seeds: &[], accept: Accept::Extension("log"), file: "stderr.log", beside: None, run: showinfo },
    Target { name: "wav", seeds: &["fixtures/postmortem"], accept: Accept::Extension("wav"), file: "input.wav", beside: None, run: wav },
    Target { name: "postmortem-discover", seeds: &[], accept: Accept::Extension("bin"), file: "input.bin", beside: None, run: postmortem_discover },
];

pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// A folder of the target's own where its input is written.
pub struct Scratch {
    pub dir: PathBuf,
    pub input: PathBuf,
}

impl Scratch {
    /// Prepares `dir` for `target`: the `beside` fixture folder copied in.
    pub fn new(target: &Target, root: &Path, dir: PathBuf) -> std::io::Result<Scratch> {
        std::fs::create_dir_all(&dir)?;
        if let Some(beside) = target.beside {
            copy_tree(&root.join(beside), &dir)?;
        }
        Ok(Scratch { input: dir.join(target.file), dir })
    }

    /// Writes the input where the target reads it.
    fn write(&self, bytes: &[u8]) -> &Path {
        std::fs::write(&self.input, bytes).expect("the scratch folder is writable");
        &self.input
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&dest)?;
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// The seed files of a target: matching files under its seed folders and
/// every file of its own corpus folder, sorted by path.
pub fn seeds(target: &Target, root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for folder in target.seeds {
        for entry in walkdir::WalkDir::new(root.join(folder)).sort_by_file_name().into_iter().flatten() {
            let path = entry.path();
            if !entry.file_type().is_file() || path.starts_with(root.join("fuzz/corpus").join(target.name)) {
                continue;
            }
            let keep = match target.accept {
                Accept::Extension(ext) => path.extension().is_some_and(|e| e == ext),
                Accept::Format(format) => std::fs::read(path).is_ok_and(|bytes| detect(&bytes) == format),
            };
            if keep && let Ok(bytes) = std::fs::read(path) {
                found.push((path.to_path_buf(), bytes));
            }
        }
    }
    found.extend(corpus(target, root));
    found
}

/// The committed corpus of a target: `fuzz/corpus/<name>/`, regression
/// inputs included.
pub fn corpus(target: &Target, root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = root.join("fuzz/corpus").join(target.name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files.into_iter().filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes))).collect()
}

/// A digest of the finding codes an input produced.
fn digest<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> u64 {
    let codes: BTreeSet<&str> = findings.into_iter().map(|f| f.code()).collect();
    let mut hasher = std::hash::DefaultHasher::new();
    codes.hash(&mut hasher);
    hasher.finish()
}

/// `nanscope weights` on one file: reader, statistics, quantization schemes.
fn weights(bytes: &[u8], scratch: &Scratch) -> u64 {
    let path = scratch.write(bytes).to_path_buf();
    let result = nanscope::weights::scan(&[path], &Default::default(), &nanscope::weights::Silent);
    digest(&result.findings)
}

/// The clean frames a mutated pose frame is set among.
fn clean_frames(format: PoseFormat) -> &'static [Reading] {
    static ECHOMIMIC: OnceLock<Vec<Reading>> = OnceLock::new();
    static OPENPOSE: OnceLock<Vec<Reading>> = OnceLock::new();
    let (cell, folder) = match format {
        PoseFormat::EchoMimic => (&ECHOMIMIC, "fixtures/pose/echomimic_clean"),
        _ => (&OPENPOSE, "fixtures/pose/openpose"),
    };
    cell.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut paths: Vec<PathBuf> =
            std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        paths.sort_by_key(|p| NamePattern::parse(&p.file_name().unwrap_or_default().to_string_lossy()).map(|(i, _)| i));
        // Twelve frames give the motion checks enough moves to judge by.
        paths
            .iter()
            .take(12)
            .filter_map(|p| std::fs::read(p).ok())
            .map(|b| read_bytes(&b, "clean", Some([768, 768])))
            .collect()
    })
}

/// `pose check` and `repair` on a sequence of clean frames in
/// which the input stands in for one frame in the middle and the last one
/// (the edges of the motion checks).
fn pose(bytes: &[u8], _scratch: &Scratch) -> u64 {
    let reading = read_bytes(bytes, "input", Some([768, 768]));
    let no_size = read_bytes(bytes, "input", None);
    let clean = clean_frames(reading.format);
    let mut frames: Vec<FrameFile> = clean
        .iter()
        .enumerate()
        .map(|(index, r)| FrameFile {
            index: index as u64,
            file: index.to_string(),
            path: PathBuf::new(),
            reading: r.clone(),
        })
        .collect();
    for slot in [frames.len() / 2, frames.len().saturating_sub(1)] {
        if let Some(frame) = frames.get_mut(slot) {
            frame.reading = reading.clone();
        }
    }
    let seq = PoseSequence {
        format: reading.format,
        folder: None,
        frames,
        first_index: 0,
        pattern: NamePattern::echomimic(),
        findings: Vec::new(),
    };
    let outcome = check(&seq, &CheckOptions::default());
    let repaired = repair(&seq, &RepairOptions::default());
    digest(outcome.findings.iter().chain(&reading.findings).chain(&no_size.findings).chain(&repaired.findings))
}

/// `pose render` of one frame, body and face included (a target of its
/// own: drawing is slow in an unoptimised build and would starve the checks).
fn pose_render(bytes: &[u8], _scratch: &Scratch) -> u64 {
    let reading = read_bytes(bytes, "input", Some([768, 768]));
    let Some(frame) = &reading.pose else { return digest(&reading.findings) };
    let mut drawing = RenderOptions::default();
    (drawing.body, drawing.face) = (true, true);
    let drawn = render_frame(frame, 768, 768, drawing);
    let mut hasher = std::hash::DefaultHasher::new();
    digest(&reading.findings).hash(&mut hasher);
    drawn.map(|image| image.non_black_share() > 0.0).ok().hash(&mut hasher);
    hasher.finish()
}

/// `trace` over a dump folder holding the input.
fn trace(bytes: &[u8], scratch: &Scratch) -> u64 {
    scratch.write(bytes);
    let result = nanscope::trace::trace_dump(&scratch.dir, &Default::default());
    digest(&result.findings)
}

/// `image check` on one file: content detection, decoding under the
/// allocation limits, and every check on the pixels.
fn image(bytes: &[u8], scratch: &Scratch) -> u64 {
    let options = nanscope::image::CheckOptions::default();
    match nanscope::image::check_file(scratch.write(bytes), &options) {
        Ok(file) => digest(file.findings.iter().chain(file.images.iter().flat_map(|i| i.findings.iter()))),
        Err(_) => 0,
    }
}

/// `nanscope merge`: a shard report read back and merged with itself.
fn report_json(bytes: &[u8], _scratch: &Scratch) -> u64 {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(bytes) else { return 0 };
    match nanscope::gate::merge(&[("a".into(), doc.clone()), ("b".into(), doc)]) {
        Ok(report) => digest(&report.findings) ^ report.counters.len() as u64,
        Err(_) => 1,
    }
}

/// A gate configuration: parsed and validated, never run.
fn gate_config(bytes: &[u8], scratch: &Scratch) -> u64 {
    match nanscope::gate::load(scratch.write(bytes)) {
        Ok(loaded) => loaded.gate.checks.len() as u64 + 2,
        Err(_) => 1,
    }
}

/// A recorded baseline, compared with itself.
fn gate_baseline(bytes: &[u8], scratch: &Scratch) -> u64 {
    use nanscope::gate::baseline;
    match baseline::read(scratch.write(bytes)) {
        Ok(Some(recorded)) => {
            let label = |f: &str| f.to_string();
            digest(&baseline::compare_prints(&recorded.tensors, &recorded.tensors, 1e-3, &label))
                ^ digest(&baseline::compare_modules(&recorded.modules, &recorded.modules))
                ^ digest(&baseline::compare_absmax(&recorded.absmax, &recorded.absmax))
                ^ recorded.findings.len() as u64
        }
        _ => 1,
    }
}

/// The MP4 box walk: top-level boxes, the moov's video track, its avcC, its
/// metadata tags, and the H.264 units of the mdat written out as Annex B.
fn mp4(bytes: &[u8], scratch: &Scratch) -> u64 {
    use nanscope::video::container::{metadata_tags, sniff};
    use nanscope::video::rebuild::{avc_config, write_annexb};
    let path = scratch.write(bytes);
    let Ok(found) = sniff(path) else { return 0 };
    let mut hasher = std::hash::DefaultHasher::new();
    found.video_size.is_some().hash(&mut hasher);
    if let Ok(tags) = metadata_tags(path) {
        tags.iter().map(|(key, _)| key).collect::<Vec<_>>().hash(&mut hasher);
    }
    let Some(layout) = found.iso else { return hasher.finish() };
    let body = |kind: &str| {
        let b = layout.boxes.iter().find(|b| b.kind == kind)?;
        let start = usize::try_from(b.offset.checked_add(b.header)?).ok()?;
        bytes.get(start..usize::try_from(b.offset.checked_add(b.size)?).ok()?)
    };
    layout.cut_box.is_some().hash(&mut hasher);
    if let Some(moov) = body("moov") {
        let config = avc_config(moov);
        config.is_ok().hash(&mut hasher);
        if let (Ok(config), Some(mdat)) = (config, body("mdat")) {
            let _ = write_annexb(mdat, &config, &mut std::io::sink());
        }
    }
    hasher.finish()
}

/// The Matroska tag reader behind the workflow a WebM or MKV carries: the
/// tags' names are the outcome.
fn matroska(bytes: &[u8], scratch: &Scratch) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    if let Ok(tags) = nanscope::video::matroska::matroska_tags(scratch.write(bytes)) {
        tags.iter().map(|(name, _)| name).collect::<Vec<_>>().hash(&mut hasher);
    }
    hasher.finish()
}

/// `video compare`'s reader of ffmpeg's stderr: frame times from `showinfo` lines.
fn showinfo(bytes: &[u8], _scratch: &Scratch) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    let mut input = bytes;
    let kept = nanscope::gate::frames::read_stderr(&mut input, |time| {
        time.map(f64::to_bits).hash(&mut hasher);
        true
    });
    kept.len().hash(&mut hasher);
    hasher.finish()
}

/// `video compare`'s frame stream reader, each frame scored against the one before.
fn y4m_frames(bytes: &[u8], _scratch: &Scratch) -> u64 {
    use nanscope::gate::frames::read_stream;
    use nanscope::gate::metrics::score_frame;
    let hasher = std::cell::RefCell::new(std::hash::DefaultHasher::new());
    let layout = std::cell::Cell::new(None);
    let (mut previous, mut frames) = (None::<Vec<u8>>, 0u64);
    let mut input = bytes;
    let end = read_stream(
        &mut input,
        |found| {
            layout.set(Some(found));
            true
        },
        Vec::new,
        |frame| {
            if let (Some(layout), Some(before)) = (layout.get(), &previous) {
                let scores = score_frame(&layout, &frame, before);
                scores.ssim.map(|s| (s * 1e6) as i64).hash(&mut *hasher.borrow_mut());
            }
            previous = Some(frame);
            true
        },
        &mut frames,
    );
    let mut hasher = hasher.into_inner();
    (end.is_ok(), frames).hash(&mut hasher);
    hasher.finish()
}

/// `log check` on the input as a log (gzip recognised by content).
fn log(bytes: &[u8], _scratch: &Scratch) -> u64 {
    let result = nanscope::log::check_reader(bytes, "input.log", &Default::default());
    digest(&result.findings)
}

/// `config check` on the input as a configuration file.
fn config(bytes: &[u8], scratch: &Scratch) -> u64 {
    let path = scratch.write(bytes).to_path_buf();
    let result = nanscope::config::check_file(&path, &Default::default());
    digest(&result.findings)
}

/// `postmortem`'s discovery: the input classified by content (checkpoint,
/// pose file, video tensor, image, audio, config, log, dump, unknown) as the
/// one file of a run folder.
fn postmortem_discover(bytes: &[u8], scratch: &Scratch) -> u64 {
    scratch.write(bytes);
    let found = nanscope::postmortem::discover(std::slice::from_ref(&scratch.dir), &[]);
    let mut hasher = std::hash::DefaultHasher::new();
    for artifact in &found.artifacts {
        (artifact.kind.name(), &artifact.recognised_by, artifact.component.map(|c| c.name())).hash(&mut hasher);
    }
    found.missing_components.len().hash(&mut hasher);
    hasher.finish()
}

/// The WAV header reader behind `--audio`: whether it read a duration
/// (left to ffprobe, none, some), not its value, is the outcome.
fn wav(bytes: &[u8], _scratch: &Scratch) -> u64 {
    match nanscope::pose::audio::wav_seconds(bytes, bytes.len() as u64) {
        None => 0,
        Some(seconds) if seconds > 0.0 => 2,
        Some(_) => 1,
    }
}
