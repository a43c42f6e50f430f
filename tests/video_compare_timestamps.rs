//! `video compare` pairs frames by presentation time (issue #14): a candidate
//! with one frame dropped reports that frame only, and every other frame is
//! compared with its true partner.

mod video_support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use video_support::*;

fn ffmpeg(dir: &Path, args: &[&str]) {
    let status = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg {args:?}");
}

fn compare(dir: &Path, candidate: &str, golden: &str) -> Run {
    let (c, g) = (dir.join(candidate), dir.join(golden));
    nanscope_json(&["compare", c.to_str().unwrap(), g.to_str().unwrap()])
}

fn codes(report: &Value) -> Vec<&str> {
    report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect()
}

#[test]
fn a_dropped_frame_is_reported_alone_and_the_others_pair_with_their_true_partners() {
    if !ffmpeg_available("a_dropped_frame_is_reported_alone") {
        return;
    }
    let dir = scratch("timestamps-dropped");
    // A 25 fps golden render of 25 frames, and the same render with frame 10 (0.40 s) dropped,
    // the other frames keeping their timestamps.
    let x264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-crf", "10"];
    let mut golden = vec!["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=1"];
    golden.extend(x264);
    golden.push("golden.mp4");
    ffmpeg(&dir, &golden);
    let mut dropped = vec!["-i", "golden.mp4", "-vf", "select='not(eq(n\\,10))'", "-fps_mode", "passthrough"];
    dropped.extend(x264);
    dropped.push("dropped.mp4");
    ffmpeg(&dir, &dropped);

    let run = compare(&dir, "dropped.mp4", "golden.mp4");
    assert_eq!(codes(&run.json), ["G107"], "{}", run.json["findings"]);
    assert_eq!(run.code, 1);
    let evidence = &run.json["findings"][0]["evidence"];
    assert_eq!(evidence["missing_frames"], 1);
    assert_eq!(evidence["golden_frames"], serde_json::json!([10]));
    assert_eq!(evidence["times"], serde_json::json!([0.4]));
    let comparison = &run.json["comparison"];
    assert_eq!(comparison["compared_frames"], 24);
    assert_eq!(comparison["extra_frames"]["count"], 0);
    // Every pair is the same moment, so the same picture: only encoding noise separates them.
    for frame in run.json["frames"].as_array().unwrap() {
        let (c, g) = (frame["frame"].as_u64().unwrap(), frame["golden_frame"].as_u64().unwrap());
        assert_eq!(g, if c < 10 { c } else { c + 1 }, "{frame}");
        assert_eq!(frame["time"], frame["golden_time"], "{frame}");
        assert!(frame["ssim"].as_f64().unwrap() > 0.97, "{frame}");
    }

    // The other way round, the golden render's frame 10 is in the candidate only: extra.
    let run = compare(&dir, "golden.mp4", "dropped.mp4");
    assert_eq!(codes(&run.json), ["G108"], "{}", run.json["findings"]);
    assert_eq!(run.json["findings"][0]["evidence"]["frames"], serde_json::json!([10]));
}
