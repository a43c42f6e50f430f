//! What a run wrote, told apart from what it read.
//! - Videos a pipeline writes without audio on the way to the one it muxes
//!   the audio into. Such a file is checked for its frames, but its silence
//!   is how the pipeline works, not a failed mux, once the muxed one is in
//!   the folder too (when it is not, the silence is the evidence that the
//!   mux failed).
//! - The images a ComfyUI install wrote (frames, first frames, previews),
//!   which are no reference image, and the videos uploaded to it, which are
//!   no clip of the run.

use std::path::{Path, PathBuf};

use super::discover::{Artifact, ArtifactKind};
use super::prompts::{LogText, Loaded, components};

/// The most clips taken from outside the folders given.
const MOST_NAMED_ELSEWHERE: usize = 4;

/// What a clip's file name ends with.
const CLIP_EXTENSIONS: [&str; 5] = [".mp4", ".mov", ".mkv", ".webm", ".avi"];

/// The clips the logs name by a full path outside the folders given, that
/// are files on this machine: a server that generates into a temporary
/// folder logs where it wrote (`Video generated successfully:
/// /tmp/tmpk3j9x2ab/output.mp4`), and the user points postmortem at the
/// checkout. Each with the log line that names it, in the order named.
pub(crate) fn named_elsewhere(clips: &[(String, String)], artifacts: &[Artifact]) -> Vec<(PathBuf, String)> {
    let known: Vec<PathBuf> = artifacts.iter().filter_map(|a| std::fs::canonicalize(&a.path).ok()).collect();
    let mut named: Vec<(PathBuf, String)> = Vec::new();
    for (word, line) in clips {
        let Ok(path) = std::fs::canonicalize(word) else { continue };
        if !path.is_file() || known.contains(&path) || named.iter().any(|(p, _)| *p == path) {
            continue;
        }
        named.push((path, line.clone()));
        if named.len() == MOST_NAMED_ELSEWHERE {
            break;
        }
    }
    named
}

/// The last clip the logs name by a full path or an address that is not on
/// this machine (the log was copied from the server, which cleaned its
/// temporary folder or uploaded the clip), with the line that names it.
pub(crate) fn named_not_here(clips: &[(String, String)]) -> Option<(String, String)> {
    let remote = |word: &str| word.starts_with("https://") || word.starts_with("http://");
    clips.iter().rfind(|(word, _)| remote(word) || !Path::new(word).exists()).cloned()
}

/// Every full path (`/…`, `C:\…`) or web address the logs name that ends
/// like a clip's file name, with `LOG:LINE`, in the order named.
pub(crate) fn clips_named(logs: &[LogText]) -> Vec<(String, String)> {
    let mut named = Vec::new();
    for log in logs {
        // Lower-cased once per log: the same lines, byte for byte.
        let lower = log.text.to_ascii_lowercase();
        for (number, (line, lower)) in log.text.lines().zip(lower.lines()).enumerate() {
            if !CLIP_EXTENSIONS.iter().any(|e| lower.contains(e)) {
                continue;
            }
            for word in line.split(|c: char| c.is_whitespace() || "'\"()[],;=<>`".contains(c)) {
                let word = word.trim_end_matches(['.', ':']);
                let lower = word.to_ascii_lowercase();
                let full = word.starts_with('/')
                    || word.get(1..3).is_some_and(|d| d == ":\\" || d == ":/")
                    || lower.starts_with("https://")
                    || lower.starts_with("http://");
                if full && CLIP_EXTENSIONS.iter().any(|e| lower.ends_with(e)) {
                    named.push((word.to_string(), format!("{}:{}", log.name, number + 1)));
                }
            }
        }
    }
    named
}

/// Each silent-by-design video with the video its audio went into, as
/// artifact indices:
/// - `infer.py` and `app.py`: `NAME_woa_sig.mp4` into `NAME_sig.mp4`
///   (`app.py` keeps the silent one);
/// - ComfyUI_EchoMimic: `PREFIX_echo.mp4` into `PREFIX_audio.mp4`;
/// - Video Combine: `NAME.EXT` into `NAME-audio.EXT`;
/// - EchoMimicV2-ComfyUI: `output/EchoMimicV2/STEM.mp4` and its segments
///   `output/EchoMimicV2/I_J_STEM.mp4` into `output/STEM_AUDIO.mp4`.
pub(crate) fn muxed_later(artifacts: &[Artifact]) -> Vec<(usize, usize)> {
    let videos: Vec<(usize, &Path)> = artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == ArtifactKind::Video)
        .map(|(i, a)| (i, Path::new(a.path.as_str())))
        .collect();
    let mut pairs = Vec::new();
    for &(silent, from) in &videos {
        if let Some(&(muxed, _)) = videos.iter().find(|&&(other, to)| other != silent && feeds(from, to)) {
            pairs.push((silent, muxed));
        }
    }
    pairs
}

/// Whether the pipeline writes `silent` and then muxes audio into `muxed`.
fn feeds(silent: &Path, muxed: &Path) -> bool {
    let (Some(stem), Some(muxed_stem)) = (stem(silent), stem(muxed)) else { return false };
    let beside = silent.parent() == muxed.parent();
    let same_extension = silent.extension() == muxed.extension();
    if beside && same_extension {
        // EchoMimicV3's infer_flash.py writes `_tmp` and muxes into `_output`.
        let renamed = [("_woa_sig", "_sig"), ("_echo", "_audio"), ("_tmp", "_output")].iter().any(|(before, after)| {
            stem.strip_suffix(before).is_some_and(|name| muxed_stem.strip_suffix(after) == Some(name))
        });
        // `-audio` (EchoMimicV2's web UIs), `_audio` (EchoMimicV3's `app.py`, `infer_preview.py`).
        let suffixed = ["-audio", "_audio"].iter().any(|suffix| muxed_stem.strip_suffix(suffix) == Some(stem));
        if renamed || suffixed {
            return true;
        }
    }
    // EchoMimicV2-ComfyUI: the segments and the whole clip in
    // output/EchoMimicV2/, the muxed clip in output/.
    let folder = silent.parent();
    let in_own_folder = folder.and_then(Path::file_name).is_some_and(|n| n == "EchoMimicV2");
    if !in_own_folder || folder.and_then(Path::parent) != muxed.parent() {
        return false;
    }
    let clip = segment_of(stem).unwrap_or(stem);
    muxed_stem.strip_prefix(clip).is_some_and(|rest| rest.len() > 1 && rest.starts_with('_'))
}

fn stem(path: &Path) -> Option<&str> {
    path.file_stem()?.to_str()
}

/// The clip a segment `I_J_STEM` belongs to: `STEM`.
fn segment_of(stem: &str) -> Option<&str> {
    let mut parts = stem.splitn(3, '_');
    let (start, end, clip) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (number(start) && number(end) && !clip.is_empty()).then_some(clip)
}

/// The images a ComfyUI run wrote: below the install's `output/`, where its
/// savers put every run's frames, or `temp/`, where its previews go.
/// EchoMimicV2-ComfyUI's node keeps the reference it reads in
/// `output/EchoMimicV2/`, and a log may print an image it read from there:
/// those are inputs.
pub(crate) fn comfyui_outputs(artifacts: &[Artifact], loaded: &[Loaded]) -> Vec<usize> {
    let roots = comfyui_roots(artifacts);
    let mut outputs = Vec::new();
    for (i, a) in artifacts.iter().enumerate().filter(|(_, a)| a.kind == ArtifactKind::Image) {
        let Some(below) = roots.iter().find_map(|root| below(&a.path, root, &["output", "temp"])) else { continue };
        let node_reference = below.len() == 2 && below[0] == "EchoMimicV2";
        let named = loaded.iter().any(|l| l.kind() == ArtifactKind::Image && l.is(&a.path));
        if !node_reference && !named && !a.recognised_by.starts_with("--") {
            outputs.push(i);
        }
    }
    outputs
}

/// The clips ComfyUI_EchoMimic's EchoMimicV3 mode writes to `output/`,
/// `NNNNNN_echo.mp4` (six digits of the run's audio name), without audio:
/// the workflow's video node adds it to the frames the sampler returns.
pub(crate) fn comfyui_v3_clips(artifacts: &[Artifact]) -> Vec<usize> {
    let roots = comfyui_roots(artifacts);
    let node_name = |name: &str| {
        name.strip_suffix("_echo.mp4").is_some_and(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let written = |a: &Artifact| {
        roots.iter().any(|root| matches!(below(&a.path, root, &["output"]), Some(parts) if parts.len() == 1 && node_name(parts[0])))
    };
    artifacts.iter().enumerate().filter(|(_, a)| a.kind == ArtifactKind::Video && written(a)).map(|(i, _)| i).collect()
}

/// The videos uploaded to a ComfyUI install's `input/`: driving videos
/// that a pose node reads, not the clip a run writes (to `output/`). They
/// are not expected to carry audio, and their frames are not the run's.
pub(crate) fn uploaded_videos(artifacts: &[Artifact]) -> Vec<(usize, String)> {
    let roots = comfyui_roots(artifacts);
    let why = "not the run's clip: a video uploaded to ComfyUI's input/ (a driving video); the run writes to output/";
    artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a.kind, ArtifactKind::Video | ArtifactKind::VideoTensor))
        .filter(|(_, a)| !a.recognised_by.starts_with("--"))
        .filter(|(_, a)| roots.iter().any(|root| below(&a.path, root, &["input"]).is_some()))
        .map(|(i, _)| (i, why.to_string()))
        .collect()
}

/// The ComfyUI folders the artifacts lie in.
fn comfyui_roots(artifacts: &[Artifact]) -> Vec<String> {
    let mut roots: Vec<String> = artifacts.iter().filter_map(|a| super::correlate::comfyui_folder(&a.path)).collect();
    roots.sort();
    roots.dedup();
    roots
}

/// The names of `path` below `ROOT/FOLDER/`, for one of `folders`.
fn below<'a>(path: &'a str, root: &str, folders: &[&str]) -> Option<Vec<&'a str>> {
    let parts = components(path);
    let root = components(root);
    (parts.len() > root.len() + 1 && parts[..root.len()] == root[..] && folders.contains(&parts[root.len()]))
        .then(|| parts[root.len() + 1..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_names_its_clip_here_or_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let here = dir.path().join("output.mp4");
        std::fs::write(&here, b"\0\0\0\x20ftypisom").unwrap();
        let text = format!(
            "INFO:api:Video generated successfully: {}\nsaved ./outputs/x.mp4 and /srv/gone/y.MP4.\n\
             INFO:api:Video available at: https://bucket.example/generated/z.mp4\n",
            here.display()
        );
        let clips = clips_named(&[LogText::of_text(0, "server.log", &text)]);
        let found = named_elsewhere(&clips, &[]);
        assert_eq!(found, [(std::fs::canonicalize(&here).unwrap(), "server.log:1".to_string())]);
        // Already found in the folder: not again.
        let known = [Artifact::new(&here, ArtifactKind::Video, "")];
        assert!(named_elsewhere(&clips, &known).is_empty());
        assert_eq!(
            named_not_here(&clips),
            Some(("https://bucket.example/generated/z.mp4".to_string(), "server.log:3".to_string()))
        );
        let gone = clips_named(&[LogText::of_text(0, "a.log", "wrote /srv/gone/y.mp4\n")]);
        assert_eq!(named_not_here(&gone), Some(("/srv/gone/y.mp4".to_string(), "a.log:1".to_string())));
    }

    fn videos(paths: &[&str]) -> Vec<Artifact> {
        paths.iter().map(|p| Artifact::new(Path::new(p), ArtifactKind::Video, "")).collect()
    }

    #[test]
    fn silent_videos_are_paired_with_the_one_their_audio_went_into() {
        let artifacts = videos(&[
            "out/01/0014-a-woman-i0_woa_sig.mp4",
            "out/01/0014-a-woman-i0_sig.mp4",
            "ComfyUI/output/audio_1734375300_echo.mp4",
            "ComfyUI/output/audio_1734375300_audio.mp4",
            "ComfyUI/output/AnimateDiff_00001.mp4",
            "ComfyUI/output/AnimateDiff_00001-audio.mp4",
            "ComfyUI/output/EchoMimicV2/0_120_tmpa8x2kq1w.mp4",
            "ComfyUI/output/EchoMimicV2/tmpa8x2kq1w.mp4",
            "ComfyUI/output/tmpa8x2kq1w_tmp3n9vd0c4.mp4",
            // EchoMimicV3: app.py and infer_preview.py, then infer_flash.py.
            "outputs/20250807_101530.mp4",
            "outputs/20250807_101530_audio.mp4",
            "outputs/01_tmp.mp4",
            "outputs/01_output.mp4",
        ]);
        assert_eq!(muxed_later(&artifacts), [(0, 1), (2, 3), (4, 5), (6, 8), (7, 8), (9, 10), (11, 12)]);
    }

    #[test]
    fn a_silent_video_without_its_muxed_one_is_not_paired() {
        let artifacts = videos(&[
            "out/01/0014-a-woman-i0_woa_sig.mp4",
            "out/02/0014-a-woman-i0_sig.mp4",
            "ComfyUI/output/EchoMimicV2/tmpa8x2kq1w.mp4",
            "ComfyUI/output/other_tmp3n9vd0c4.mp4",
            "ComfyUI/output/AnimateDiff_00001.mp4",
            "ComfyUI/output/AnimateDiff_00001-audio.webm",
            "ComfyUI/output/EchoMimicV2/tmpa8x2kq1w_.mp4",
            "outputs/20250807_101530.mp4",
            "outputs/20250807_101531_audio.mp4",
            "outputs/02_tmp.mp4",
            "outputs/01_output.mp4",
        ]);
        assert!(muxed_later(&artifacts).is_empty(), "{:?}", muxed_later(&artifacts));
        assert_eq!(segment_of("0_120_tmpa"), Some("tmpa"));
        assert_eq!(segment_of("x_120_tmpa"), None);
        assert_eq!(segment_of("0_120_"), None);
    }

    #[test]
    fn images_comfyui_wrote_are_outputs() {
        let of = |kind, path: &str| Artifact::new(Path::new(path), kind, "");
        let artifacts = [
            of(ArtifactKind::Config, "srv/ComfyUI/custom_nodes/ComfyUI_EchoMimic/configs/infer.yaml"),
            of(ArtifactKind::Image, "srv/ComfyUI/input/ref.png"),
            of(ArtifactKind::Image, "srv/ComfyUI/output/AnimateDiff_00001.png"),
            of(ArtifactKind::Image, "srv/ComfyUI/temp/ComfyUI_temp_abcde_00001_.png"),
            // EchoMimicV2-ComfyUI's copy of the reference it reads.
            of(ArtifactKind::Image, "srv/ComfyUI/output/EchoMimicV2/tmpa8x2kq1w.png"),
            of(ArtifactKind::Image, "srv/ComfyUI/output/later/named.png"),
            // No ComfyUI install around it.
            of(ArtifactKind::Image, "elsewhere/output/ref.png"),
        ];
        let printed = Loaded::printed("Reference: /srv/ComfyUI/output/later/named.png\n", "comfyui.log");
        assert_eq!(comfyui_outputs(&artifacts, &printed), [2, 3]);
        assert_eq!(comfyui_outputs(&artifacts, &[]), [2, 3, 5]);
    }

    #[test]
    fn the_clip_comfyui_echomimic_s_v3_mode_writes_is_told_by_its_name() {
        let of = |kind, path: &str| Artifact::new(Path::new(path), kind, "");
        let artifacts = [
            of(ArtifactKind::Weights, "srv/ComfyUI/models/echo_mimic/diffusion_pytorch_model.safetensors"),
            of(ArtifactKind::Video, "srv/ComfyUI/output/482913_echo.mp4"),
            // Its EchoMimicV2 mode's clip, a video node's, one in a subfolder, one uploaded.
            of(ArtifactKind::Video, "srv/ComfyUI/output/audio_1734375300_echo.mp4"),
            of(ArtifactKind::Video, "srv/ComfyUI/output/EchoMimic_00001-audio.mp4"),
            of(ArtifactKind::Video, "srv/ComfyUI/output/runs/482913_echo.mp4"),
            of(ArtifactKind::Video, "srv/ComfyUI/input/482913_echo.mp4"),
            of(ArtifactKind::Video, "srv/ComfyUI/output/48291_echo.mp4"),
            // No ComfyUI install around it.
            of(ArtifactKind::Video, "elsewhere/output/482913_echo.mp4"),
        ];
        assert_eq!(comfyui_v3_clips(&artifacts), [1]);
    }
}
