//! `nanscope video check` on generated broken clips: each defect at the right frames.

mod video_support;

use video_support::*;

fn check(name: &str, extra: &[&str]) -> Option<Run> {
    if !ffmpeg_available(name) {
        return None;
    }
    let path = fixtures("check").join(name);
    let path = path.to_str().unwrap();
    let mut args = vec!["check", path];
    args.extend_from_slice(extra);
    Some(nanscope_json(&args))
}

#[test]
fn clean_clip_has_no_findings_and_lists_every_frame() {
    let Some(run) = check("clean.mp4", &[]) else { return };
    assert_eq!(run.code, 0, "{}", run.json);
    assert_eq!(codes(&run.json), Vec::<String>::new());
    let frames = run.json["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 72);
    let f = &frames[10];
    for key in ["index", "pts", "luma_mean", "luma_min", "luma_max", "luma_std", "luma_diff", "flags", "file"] {
        assert!(f.get(key).is_some(), "frame entry lacks {key}: {f}");
    }
    assert_eq!(f["index"], 10);
    assert!((f["pts"].as_f64().unwrap() - 10.0 / 24.0).abs() < 1e-3);
    let stream = &run.json["streams"][0];
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["frames_indexed"], 72);
    // Packets are only counted when fewer frames decode than the index lists.
    assert!(stream["packets_read"].is_null());
    assert_eq!(stream["frames_decoded"], 72);
}

#[test]
fn black_segment_is_black_and_nan_cast_at_frames_48_to_71() {
    let Some(run) = check("black_segment.mp4", &[]) else { return };
    assert_eq!(run.code, 1);
    let black = findings(&run.json, "V120");
    assert_eq!(black.len(), 1);
    assert_eq!(frame_range(black[0]), Some([48, 71]));
    assert_eq!(black[0]["subject"]["stream"], 0);
    let nan = findings(&run.json, "V124");
    assert_eq!(nan.len(), 1);
    assert_eq!(frame_range(nan[0]), Some([48, 71]));
    assert_eq!(flagged(&run.json, "black"), (48..72).collect::<Vec<u64>>());
    assert!(findings(&run.json, "V125").is_empty(), "the jump into black is not a brightness jump");
}

#[test]
fn all_black_clip_is_black_everywhere_without_the_nan_signature() {
    let Some(run) = check("all_black.mp4", &[]) else { return };
    let black = findings(&run.json, "V120");
    assert_eq!(black.len(), 1);
    assert_eq!(frame_range(black[0]), Some([0, 47]));
    assert!(black[0]["message"].as_str().unwrap().contains("every frame"));
    assert!(findings(&run.json, "V124").is_empty());
    assert!(findings(&run.json, "V123").is_empty(), "black frames are not reported again as frozen");
}

#[test]
fn wide_frames_are_sampled_and_still_find_black_frames() {
    let Some(run) = check("wide_black.mp4", &[]) else { return };
    let black = findings(&run.json, "V120");
    assert_eq!(black.len(), 1, "{}", run.json["findings"]);
    assert_eq!(frame_range(black[0]), Some([24, 35]));
    let full = check("wide_black.mp4", &["--full-resolution"]).unwrap();
    assert_eq!(frame_range(findings(&full.json, "V120")[0]), Some([24, 35]));
    let (sampled, all) = (&run.json["frames"][5], &full.json["frames"][5]);
    let (a, b) = (sampled["luma_mean"].as_f64().unwrap(), all["luma_mean"].as_f64().unwrap());
    assert!((a - b).abs() < 3.0, "sampled mean {a} vs full {b}");
}

#[test]
fn frozen_segment_spans_frames_24_to_60() {
    let Some(run) = check("frozen.mp4", &[]) else { return };
    let frozen = findings(&run.json, "V123");
    assert_eq!(frozen.len(), 1, "{}", run.json["findings"]);
    assert_eq!(frame_range(frozen[0]), Some([24, 60]));
    // A longer minimum duration hides the 1.5 s freeze.
    let run = check("frozen.mp4", &["--freeze-min", "2"]).unwrap();
    assert!(findings(&run.json, "V123").is_empty());
}

#[test]
fn white_frames_are_saturated_at_24_to_35() {
    let Some(run) = check("white.mp4", &[]) else { return };
    let white = findings(&run.json, "V122");
    assert_eq!(white.len(), 1);
    assert_eq!(frame_range(white[0]), Some([24, 35]));
    assert!(findings(&run.json, "V120").is_empty());
}

#[test]
fn partial_exact_black_region_is_the_nan_cast_signature() {
    let Some(run) = check("nan_region.mp4", &[]) else { return };
    let nan = findings(&run.json, "V124");
    assert_eq!(nan.len(), 1);
    assert_eq!(frame_range(nan[0]), Some([30, 35]));
    assert!(findings(&run.json, "V120").is_empty(), "a quarter of the frame is not a black frame");
    // Requiring more than the box's quarter of the frame hides it.
    let run = check("nan_region.mp4", &["--nan-share", "0.5"]).unwrap();
    assert!(findings(&run.json, "V124").is_empty());
}

#[test]
fn brightness_jump_at_frame_36() {
    let Some(run) = check("jump.mp4", &[]) else { return };
    let jump = findings(&run.json, "V125");
    assert_eq!(jump.len(), 1);
    assert_eq!(frame_range(jump[0]), Some([36, 36]));
}

#[test]
fn truncated_faststart_reports_missing_frames_from_the_index() {
    let Some(run) = check("truncated_faststart.mp4", &[]) else { return };
    assert_eq!(run.code, 1);
    let truncated = findings(&run.json, "V104");
    assert_eq!(truncated.len(), 1);
    let [first, last] = frame_range(truncated[0]).unwrap();
    assert_eq!(last, 71);
    let whole = truncated[0]["evidence"]["packets_whole"].as_u64().unwrap();
    assert_eq!(first, whole);
    assert!(whole > 10 && whole < 60, "{whole}");
}

/// Real-world-files issue: a two-second `fade=t=out` (and a fade in) is not
/// a NaN cast, although its last frames are black and reach the floor.
#[test]
fn fades_to_and_from_black_are_black_but_not_nan_casts() {
    for (name, black) in [("fade_out.mp4", [65, 71]), ("fade_in.mp4", [0, 8])] {
        let Some(run) = check(name, &[]) else { return };
        assert!(findings(&run.json, "V124").is_empty(), "{name}: {}", run.json["findings"]);
        assert!(flagged(&run.json, "nan-cast").is_empty(), "{name}");
        let frames = run.json["frames"].as_array().unwrap();
        assert!(frames.iter().all(|f| f["near_floor_share"].is_f64()), "{name}: near_floor_share listed");
        let found = findings(&run.json, "V120");
        assert_eq!(found.len(), 1, "{name}: {}", run.json["findings"]);
        let [first, last] = frame_range(found[0]).unwrap();
        assert!(first.abs_diff(black[0]) <= 3 && last == black[1], "{name}: black {first}-{last}");
    }
}

/// Real-world-files issue: a faststart file cut short is truncated (V104),
/// not corrupt: the decoder errors come from the packet the cut hit, so no
/// intact frame is blamed (V105), and the audio compared with the video is
/// the audio present, not the duration the index promises (V108).
#[test]
fn truncated_faststart_with_audio_is_truncation_not_corruption() {
    let Some(run) = check("truncated_av_faststart.mp4", &[]) else { return };
    assert_eq!(codes(&run.json), vec!["V104"], "{}", run.json["findings"]);
    let truncated = findings(&run.json, "V104")[0];
    let whole = truncated["evidence"]["packets_whole"].as_u64().unwrap();
    assert_eq!(run.json["frames"].as_array().unwrap().len() as u64, whole);
    assert_eq!(frame_range(truncated).unwrap(), [whole, 71]);
    assert!(truncated["message"].as_str().unwrap().contains("decode intact"), "{}", truncated["message"]);
    assert!(flagged(&run.json, "corrupt").is_empty() && flagged(&run.json, "propagated").is_empty());
}

#[test]
fn truncated_without_index_is_moov_missing() {
    let Some(run) = check("truncated_no_moov.mp4", &[]) else { return };
    assert_eq!(run.code, 1);
    assert_eq!(codes(&run.json), vec!["V103"]);
    assert!(run.json["frames"].as_array().unwrap().is_empty());
}

#[test]
fn damaged_payload_reports_decode_errors_at_frames() {
    let Some(run) = check("damaged.mp4", &[]) else { return };
    assert_eq!(run.code, 1);
    let errors = findings(&run.json, "V105");
    assert_eq!(errors.len(), 1, "{}", run.json["findings"]);
    let hit: Vec<u64> =
        errors[0]["evidence"]["frames_hit"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert!(!hit.is_empty());
    assert!(hit.iter().all(|&f| f < 72));
    let [first, last] = frame_range(errors[0]).unwrap();
    assert_eq!((first, last), (hit[0], *hit.last().unwrap()));
    assert_eq!(flagged(&run.json, "corrupt"), hit);
    // The damage lies past 40% of the file, so the first frames decode cleanly.
    assert!(first >= 10, "{first}");
    // Frames predicted from a damaged one, up to the next keyframe (every 24th frame here).
    let propagated = flagged(&run.json, "propagated");
    assert!(!propagated.is_empty());
    assert_eq!(errors[0]["evidence"]["propagated_frames"], serde_json::json!(propagated));
    for p in &propagated {
        assert!(!hit.contains(p));
        let source = hit.iter().rev().find(|&&h| h < *p).expect("after a damaged frame");
        assert!((source + 1..=*p).all(|f| f % 24 != 0), "frame {p} lies past a keyframe after {source}");
    }
    assert!(errors[0]["message"].as_str().unwrap().contains("next keyframe"));
}

/// A frame-threaded decoder conceals damage in an order that depends on
/// thread timing; the damaged clip's frames must still measure the same on
/// every run (a gate baseline compares them).
#[test]
fn a_damaged_clip_measures_the_same_on_every_run() {
    let Some(first) = check("damaged.mp4", &[]) else { return };
    for _ in 0..5 {
        let again = check("damaged.mp4", &[]).unwrap();
        assert_eq!(again.json["frames"], first.json["frames"]);
    }
}

#[test]
fn yuv444_and_odd_size_are_player_problems() {
    let Some(run) = check("yuv444_odd.mp4", &[]) else { return };
    assert_eq!(run.code, 0, "warnings only");
    assert_eq!(codes(&run.json), vec!["V111", "V112", "V113"]);
}

#[test]
fn ten_bit_video_decodes_every_frame_and_is_a_player_problem() {
    let Some(run) = check("ten_bit.mp4", &[]) else { return };
    assert_eq!(codes(&run.json), ["V111"], "{}", run.json["findings"]);
    let frames = run.json["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 24);
    let clean = check("clean.mp4", &[]).unwrap();
    let (a, b) = (frames[5]["luma_mean"].as_f64().unwrap(), clean.json["frames"][5]["luma_mean"].as_f64().unwrap());
    assert!((a - b).abs() < 3.0, "10-bit mean {a} vs 8-bit {b}");
}

#[test]
fn audio_only_has_no_video_stream_and_video_only_lacks_expected_audio() {
    let Some(run) = check("audio_only.mp4", &[]) else { return };
    assert_eq!(codes(&run.json), vec!["V106"]);
    let run = check("clean.mp4", &["--expect-audio"]).unwrap();
    assert_eq!(codes(&run.json), vec!["V107"]);
}

#[test]
fn short_audio_is_a_duration_mismatch() {
    let Some(run) = check("short_audio.mp4", &[]) else { return };
    let mismatch = findings(&run.json, "V108");
    assert_eq!(mismatch.len(), 1);
    assert_eq!(mismatch[0]["subject"]["stream"], 1);
}

#[test]
fn expected_frames_and_fps() {
    let Some(run) = check("clean.mp4", &["--expect-frames", "72", "--expect-fps", "24"]) else { return };
    assert_eq!(codes(&run.json), Vec::<String>::new());
    let run = check("clean.mp4", &["--expect-frames", "80", "--expect-fps", "25"]).unwrap();
    assert_eq!(codes(&run.json), vec!["V109", "V110"]);
}

#[test]
fn empty_and_text_files_are_findings_not_crashes() {
    let Some(run) = check("empty.mp4", &[]) else { return };
    assert_eq!(run.code, 1);
    assert_eq!(codes(&run.json), vec!["V101"]);
    let run = check("text.mp4", &[]).unwrap();
    assert_eq!(run.code, 1);
    assert_eq!(codes(&run.json), vec!["V102"]);
}

#[test]
fn several_files_in_one_report_and_a_readable_table() {
    if !ffmpeg_available("several_files") {
        return;
    }
    let dir = fixtures("check");
    let output = assert_cmd::Command::cargo_bin("nanscope")
        .unwrap()
        .args(["video", "check", "--color", "never"])
        .arg(dir.join("clean.mp4"))
        .arg(dir.join("black_segment.mp4"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Flagged frame segments"), "{text}");
    assert!(text.contains("48-71"), "{text}");
    assert!(text.contains("24 of 144 decoded frames flagged"), "{text}");
    assert!(!text.contains("\n│ 70 "), "frames are summarised, not dumped");
}

#[test]
fn missing_ffmpeg_exits_2_with_install_hint() {
    let output = assert_cmd::Command::cargo_bin("nanscope")
        .unwrap()
        .env("NANSCOPE_FFMPEG", "/nonexistent/ffmpeg")
        .args(["video", "check", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("apt-get install ffmpeg"), "{stderr}");
    assert!(stderr.contains("NANSCOPE_FFMPEG"), "{stderr}");
}

#[test]
fn plot_writes_a_chart_and_a_contact_sheet_per_file() {
    if !ffmpeg_available("plot") {
        return;
    }
    let dir = scratch("plots");
    let file = fixtures("check").join("black_segment.mp4");
    let run = nanscope_json(&["check", file.to_str().unwrap(), "--plot", dir.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    let plots: Vec<String> =
        run.json["plots"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    assert_eq!(plots.len(), 2);
    for (plot, suffix) in plots.iter().zip(["black_segment.frames.png", "black_segment.sheet.png"]) {
        assert!(plot.ends_with(suffix), "{plot}");
        let bytes = std::fs::read(plot).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 10_000, "{plot} is suspiciously small");
    }
}

/// Issue #5: `video check DIR` walks the folder and checks the files whose
/// content is a video, whatever their names; other files are skipped.
#[test]
fn a_folder_is_walked_and_videos_are_recognised_by_content() {
    if !ffmpeg_available("folder") {
        return;
    }
    let dir = scratch("walk");
    std::fs::create_dir(dir.join("renders")).unwrap();
    std::fs::copy(fixtures("check").join("clean.mp4"), dir.join("renders/take_01")).unwrap();
    std::fs::write(dir.join("notes.mp4"), "a text file named like a video\n").unwrap();
    std::fs::write(dir.join("prompt.txt"), "a dancing figure\n").unwrap();
    let run = nanscope_json(&["check", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.json, run.stderr);
    assert_eq!(run.json["summary"]["files"], 1);
    assert_eq!(run.json["inputs"], serde_json::json!([dir.to_str().unwrap()]));
    let file = run.json["streams"][0]["file"].as_str().unwrap_or_default().to_string();
    assert!(file.ends_with("renders/take_01"), "{}", run.json["streams"]);
}
