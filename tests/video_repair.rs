//! `nanscope video repair`: outputs that re-check clean where the damage is
//! repairable, a clear refusal where it is not, and inputs left untouched.

mod video_support;

use std::path::PathBuf;

use video_support::*;

fn repair(name: &str, extra: &[&str]) -> Option<(Run, PathBuf, PathBuf)> {
    if !ffmpeg_available(name) {
        return None;
    }
    let input = fixtures("repair").join(name);
    let out = scratch(&format!("repair-{name}-{}", extra.join("-"))).join("repaired.mp4");
    let mut args = vec!["repair", input.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = nanscope_json(&args);
    Some((run, input, out))
}

fn recheck(out: &std::path::Path) -> Run {
    nanscope_json(&["check", out.to_str().unwrap()])
}

#[test]
fn damaged_payload_is_filled_and_rechecks_clean_without_touching_the_input() {
    let before = std::fs::read(fixtures("repair").join("damaged.mp4")).ok();
    let Some((run, input, out)) = repair("damaged.mp4", &[]) else { return };
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    assert_eq!(run.json["repair"]["strategy"], "fill");
    let changed: Vec<u64> =
        run.json["repair"]["frames_changed"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert!(!changed.is_empty());
    assert!(codes(&run.json).iter().all(|c| c == "V140"), "{}", run.json["findings"]);
    assert_eq!(std::fs::read(&input).ok(), before, "the input must never change");
    let check = recheck(&out);
    assert_eq!(check.code, 0);
    assert_eq!(codes(&check.json), Vec::<String>::new());
    assert_eq!(check.json["streams"][0]["pix_fmt"], "yuv420p");
}

#[test]
fn damaged_payload_drop_strategy_removes_the_corrupt_frames() {
    let Some((run, _, out)) = repair("damaged.mp4", &["--strategy", "drop"]) else { return };
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    let dropped = run.json["repair"]["frames_changed"].as_array().unwrap().len() as u64;
    assert!(dropped > 0);
    let check = recheck(&out);
    assert!(findings(&check.json, "V105").is_empty());
    let decoded = check.json["streams"][0]["frames_decoded"].as_u64().unwrap();
    assert!(decoded < 72, "{decoded}");
}

#[test]
fn truncated_faststart_is_remuxed_into_a_clean_shorter_file() {
    let Some((run, _, out)) = repair("truncated_faststart.mp4", &[]) else { return };
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    let check = recheck(&out);
    assert_eq!(codes(&check.json), Vec::<String>::new());
    let stream = &check.json["streams"][0];
    assert_eq!(stream["frames_indexed"], stream["frames_decoded"]);
}

#[test]
fn yuv444_odd_size_becomes_yuv420p_even_size() {
    let Some((run, _, out)) = repair("yuv444_odd.mp4", &[]) else { return };
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["repair"]["strategy"], "reencode");
    let check = recheck(&out);
    assert_eq!(codes(&check.json), Vec::<String>::new());
    let stream = &check.json["streams"][0];
    assert_eq!(stream["pix_fmt"], "yuv420p");
    assert_eq!((stream["width"].as_u64(), stream["height"].as_u64()), (Some(162), Some(122)));
}

#[test]
fn nan_region_frames_are_replaced_from_their_neighbours() {
    let Some((run, _, out)) = repair("nan_region.mp4", &[]) else { return };
    assert_eq!(run.code, 0, "{}", run.stderr);
    let changed: Vec<u64> =
        run.json["repair"]["frames_changed"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(changed, (30..=35).collect::<Vec<u64>>());
    let check = recheck(&out);
    assert_eq!(codes(&check.json), Vec::<String>::new());
}

/// Real-world-files issue: a truncated faststart file keeps every whole
/// frame as it is (copied, not filled or re-encoded), and its audio is cut
/// to the video.
#[test]
fn truncated_faststart_keeps_every_whole_frame_bit_for_bit() {
    let Some((run, _, out)) = repair("truncated_av_faststart.mp4", &[]) else { return };
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    assert_eq!(run.json["repair"]["strategy"], "remux");
    assert!(run.json["repair"]["frames_changed"].as_array().unwrap().is_empty());
    let check = recheck(&out);
    assert_eq!(codes(&check.json), Vec::<String>::new(), "{}", check.json["findings"]);
    let original = recheck(&fixtures("repair").join("whole_av_faststart.mp4"));
    let kept = check.json["frames"].as_array().unwrap();
    assert!(kept.len() > 30, "{} frames", kept.len());
    for (i, frame) in kept.iter().enumerate() {
        let before = &original.json["frames"][i];
        for key in ["luma_mean", "luma_std", "luma_min", "luma_max"] {
            assert_eq!(frame[key], before[key], "frame {i} {key} changed");
        }
    }
    assert_eq!(check.json["streams"].as_array().unwrap().len(), 2);
}

/// A cut that leaves the audio shorter than the video pads the audio and
/// still copies the video: no intact frame is re-encoded.
#[test]
fn truncated_faststart_with_short_audio_pads_the_audio_and_copies_the_video() {
    let Some((run, _, out)) = repair("truncated_av_faststart_45.mp4", &[]) else { return };
    assert!(run.json["repair"]["input_findings"].to_string().contains("V108"), "{}", run.json["repair"]);
    assert_eq!(run.json["repair"]["strategy"], "remux", "{}", run.json["repair"]);
    assert!(run.json["repair"]["steps"].to_string().contains("padded with silence"));
    let check = recheck(&out);
    assert_eq!(codes(&check.json), Vec::<String>::new(), "{}", check.json["findings"]);
    let original = recheck(&fixtures("repair").join("whole_av_faststart.mp4"));
    for (i, frame) in check.json["frames"].as_array().unwrap().iter().enumerate() {
        assert_eq!(frame["luma_std"], original.json["frames"][i]["luma_std"], "frame {i} changed");
    }
}

#[test]
fn black_tail_is_held_and_what_remains_is_reported() {
    let Some((run, _, out)) = repair("black_segment.mp4", &["--fill", "hold"]) else { return };
    // Correctness issue: the step says the tail was held, not interpolated between good neighbours.
    let steps = run.json["repair"]["steps"].to_string();
    assert!(steps.contains("held the last good frame, 47 (no good frame follows)"), "{steps}");
    assert!(!steps.contains("interpolated"), "{steps}");
    assert!(!run.json.to_string().contains("nanscope-tmp"), "a temporary file is named: {}", run.json);
    let check = recheck(&out);
    assert!(findings(&check.json, "V120").is_empty() && findings(&check.json, "V124").is_empty());
    // No good frame follows the black tail, so holding the last one leaves a frozen segment.
    assert_eq!(codes(&run.json).iter().filter(|c| *c == "V142").count(), 1, "{}", run.json["findings"]);
    assert!(!findings(&run.json, "V123").is_empty());
}

#[test]
fn short_audio_is_padded_to_the_video() {
    let Some((run, _, out)) = repair("short_audio.mp4", &[]) else { return };
    assert_eq!(run.code, 0, "{}", run.json["findings"]);
    let check = recheck(&out);
    assert!(findings(&check.json, "V108").is_empty(), "{}", check.json["findings"]);
    assert_eq!(check.json["streams"].as_array().unwrap().len(), 2);
}

#[test]
fn missing_moov_is_unrepairable_and_nothing_is_written() {
    let Some((run, _, out)) = repair("truncated_no_moov.mp4", &[]) else { return };
    assert_eq!(run.code, 1);
    let refused = findings(&run.json, "V141");
    assert_eq!(refused.len(), 1);
    assert!(refused[0]["message"].as_str().unwrap().contains("reference"));
    assert!(!out.exists());
}

/// Mean luma of every decoded frame of a checked file.
fn luma_means(check: &Run) -> Vec<f64> {
    check.json["frames"].as_array().unwrap().iter().map(|f| f["luma_mean"].as_f64().unwrap()).collect()
}

/// A rebuilt clip holds between 30 and 72 frames whose luma follows the
/// uncut clip frame by frame (the last one may be damaged by the cut).
fn assert_follows_the_clean_clip(check: &Run) {
    let rebuilt = luma_means(check);
    assert!((30..72).contains(&rebuilt.len()), "{} frames", rebuilt.len());
    let original = luma_means(&recheck(&fixtures("repair").join("clean.mp4")));
    for (i, (a, b)) in rebuilt.iter().zip(&original).enumerate().take(rebuilt.len() - 1) {
        assert!((a - b).abs() < 2.0, "frame {i}: {a} vs {b}");
    }
}

#[test]
fn missing_moov_is_rebuilt_from_a_reference_with_the_frames_in_order() {
    let reference = fixtures("repair").join("clean.mp4");
    let reference = reference.to_str().unwrap();
    let Some((run, input, out)) = repair("truncated_no_moov.mp4", &["--reference", reference]) else { return };
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    assert_eq!(run.json["repair"]["strategy"], "rebuild");
    assert!(codes(&run.json).iter().all(|c| c == "V140"), "{}", run.json["findings"]);
    assert!(run.json["repair"]["steps"][0].as_str().unwrap().contains("whole frames from"));
    assert!(input.exists());
    let check = recheck(&out);
    assert_eq!(codes(&check.json), Vec::<String>::new());
    // The file was cut at 60% of its bytes: most of the first 72 frames come back, in display order.
    assert_follows_the_clean_clip(&check);
}

#[test]
fn missing_moov_with_interleaved_audio_recovers_the_video_and_the_audio() {
    // A reference without audio describes no audio: the video alone comes back.
    let reference = fixtures("repair").join("clean.mp4");
    let Some((run, _, _)) = repair("truncated_av_no_moov.mp4", &["--reference", reference.to_str().unwrap()]) else {
        return;
    };
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    let steps = run.json["repair"]["steps"].to_string();
    assert!(steps.contains("stepped over") && steps.contains("no AAC track"), "{steps}");
    // One with AAC audio describes the samples between the video units.
    let reference = fixtures("repair").join("whole_av_moov_end.mp4");
    let Some((run, _, out)) = repair("truncated_av_no_moov.mp4", &["--reference", reference.to_str().unwrap()]) else {
        return;
    };
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    let steps = run.json["repair"]["steps"].to_string();
    assert!(steps.contains("audio rebuilt from"), "{steps}");
    let check = recheck(&out);
    assert_eq!(codes(&check.json), Vec::<String>::new(), "{}", check.json["findings"]);
    assert_follows_the_clean_clip(&check);
    // Real-world-files issue: the audio comes back too, as long as the video.
    let streams = check.json["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "{}", check.json["streams"]);
    let video = streams[0]["frames_decoded"].as_f64().unwrap() / 24.0;
    let audio = streams[1]["duration"].as_f64().unwrap();
    assert!((audio - video).abs() < 0.1, "audio {audio} s, video {video} s");
}

/// Real-world-files issue: a rebuild that cannot be done is a V141 finding
/// (exit 1, in every output format), not a bare exit-2 error.
#[test]
fn a_reference_from_other_settings_is_reported_not_trusted() {
    let reference = fixtures("repair").join("yuv444_odd.mp4");
    let Some((run, _, out)) = repair("truncated_no_moov.mp4", &["--reference", reference.to_str().unwrap()]) else {
        return;
    };
    assert_eq!(run.code, 1, "{} {}", run.stderr, run.json["findings"]);
    let refused: Vec<_> = findings(&run.json, "V141").into_iter().chain(findings(&run.json, "V142")).collect();
    assert_eq!(refused.len(), 1, "{}", run.json["findings"]);
    assert!(refused[0]["message"].as_str().unwrap().contains("reference"));
    if !findings(&run.json, "V141").is_empty() {
        assert!(!out.exists());
    }
    // A reference that is itself broken cannot serve: a finding, not a guess.
    let broken = fixtures("repair").join("truncated_no_moov.mp4");
    let Some((run, _, out)) = repair("truncated_no_moov.mp4", &["--reference", broken.to_str().unwrap()]) else {
        return;
    };
    assert_eq!(run.code, 1, "{}", run.stderr);
    let refused = findings(&run.json, "V141");
    assert_eq!(refused.len(), 1, "{}", run.json["findings"]);
    assert!(refused[0]["message"].as_str().unwrap().contains("no moov"), "{}", refused[0]["message"]);
    assert!(!out.exists());
    // The same in the table output: the finding, exit 1.
    let input = fixtures("repair").join("truncated_no_moov.mp4");
    let table = assert_cmd::Command::cargo_bin("nanscope")
        .unwrap()
        .args(["video", "repair", input.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .args(["--reference", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(table.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&table.stdout).contains("V141"));
}

/// The file ends before its first frame is whole: nothing to rebuild (V141, exit 1).
#[test]
fn a_cut_before_the_first_picture_is_unrepairable() {
    if !ffmpeg_available("cut_before_first_picture") {
        return;
    }
    let whole = std::fs::read(fixtures("repair").join("whole_av_moov_end.mp4")).unwrap();
    let dir = scratch("repair-cut-first");
    let input = dir.join("cut.mp4");
    let mdat = mdat_payload(&whole).0;
    std::fs::write(&input, &whole[..mdat + 200]).unwrap();
    let out = dir.join("out.mp4");
    let reference = fixtures("repair").join("whole_av_moov_end.mp4");
    let run = nanscope_json(&[
        "repair",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--reference",
        reference.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let refused = findings(&run.json, "V141");
    assert_eq!(refused.len(), 1, "{}", run.json["findings"]);
    assert!(refused[0]["message"].as_str().unwrap().contains("no whole H.264 picture"), "{}", refused[0]["message"]);
    assert!(!out.exists());
}

/// Offset and end of the first `mdat` payload of an MP4.
fn mdat_payload(bytes: &[u8]) -> (usize, usize) {
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if &bytes[at + 4..at + 8] == b"mdat" {
            return (at + 8, at + size);
        }
        at += size;
    }
    panic!("no mdat");
}

/// Video packets of a file as (position, size), from ffprobe.
fn video_packets(path: &std::path::Path) -> Vec<(usize, usize)> {
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pos,size", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (size, pos) = line.split_once(',')?;
            Some((pos.trim().parse().ok()?, size.trim().parse().ok()?))
        })
        .collect()
}

/// Real-world-files issue: a file without a moov, cut at any point, gives
/// back every frame whose data is complete, in order, at the reference
/// encode's quality; with all its media and only the moov missing, all of it.
#[test]
fn every_complete_frame_is_recovered_wherever_the_file_was_cut() {
    if !ffmpeg_available("rebuild_cut_sweep") {
        return;
    }
    for (name, frames) in
        [("whole_av_moov_end.mp4", 72), ("av6_moov_end.mp4", 125), ("av_gated_slices_moov_end.mp4", 72)]
    {
        cut_sweep(name, frames);
    }
}

fn cut_sweep(name: &str, frames: usize) {
    let source = fixtures("repair").join(name);
    let whole = std::fs::read(&source).unwrap();
    let (start, end) = mdat_payload(&whole);
    let packets = video_packets(&source);
    assert_eq!(packets.len(), frames);
    let original = luma_means(&recheck(&source));
    let dir = scratch(&format!("repair-cut-sweep-{name}"));
    for percent in [35usize, 55, 70, 85, 99, 100] {
        let cut = start + (end - start) * percent / 100;
        let complete = packets.iter().filter(|&&(pos, size)| pos + size <= cut).count();
        let input = dir.join(format!("cut{percent}.mp4"));
        std::fs::write(&input, &whole[..cut]).unwrap();
        let out = dir.join(format!("rebuilt{percent}.mp4"));
        let run = nanscope_json(&[
            "repair",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--reference",
            source.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 0, "{name} {percent}%: {} {}", run.stderr, run.json["findings"]);
        let check = recheck(&out);
        assert_eq!(codes(&check.json), Vec::<String>::new(), "{name} {percent}%: {}", check.json["findings"]);
        assert_eq!(check.json["streams"].as_array().unwrap().len(), 2, "{name} {percent}%: the audio comes back too");
        let rebuilt = luma_means(&check);
        assert_eq!(rebuilt.len(), complete, "{name} {percent}%: {} of {complete} complete frames", rebuilt.len());
        // In display order; the last few may skip a B-frame whose data was cut.
        for (i, (a, b)) in rebuilt.iter().zip(&original).enumerate().take(complete.saturating_sub(3)) {
            assert!((a - b).abs() < 1.0, "{name} {percent}%, frame {i}: {a} vs {b}");
        }
    }
}

#[test]
fn existing_output_and_in_place_repairs_are_refused() {
    if !ffmpeg_available("repair_refusals") {
        return;
    }
    let dir = scratch("repair-refusals");
    let input = dir.join("in.mp4");
    std::fs::copy(fixtures("repair").join("clean.mp4"), &input).unwrap();
    let out = dir.join("out.mp4");
    std::fs::write(&out, b"keep").unwrap();
    let run = nanscope_json(&["repair", input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert_eq!(std::fs::read(&out).unwrap(), b"keep");
    let run = nanscope_json(&["repair", input.to_str().unwrap(), "-o", input.to_str().unwrap(), "--force"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("never touch"), "{}", run.stderr);
    let run = nanscope_json(&["repair", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json["repair"]["strategy"], "remux");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("nanscope-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

/// A video whose audio mux failed gets the run's audio with `--audio`: the
/// frames are copied, the audio (1 s against 3 s of video) padded with
/// silence to the video's length; a missing audio file is a usage error.
#[test]
fn audio_given_with_audio_is_muxed_in_and_fitted_to_the_video() {
    let audio = fixtures("repair").join("audio_only.mp4");
    let Some((run, _, out)) = repair("clean.mp4", &["--audio", audio.to_str().unwrap()]) else { return };
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    assert_eq!(run.json["repair"]["strategy"], "remux");
    let steps = run.json["repair"]["steps"].to_string();
    assert!(steps.contains("audio_only.mp4 muxed in as AAC") && steps.contains("3 s"), "{steps}");
    let check = recheck(&out);
    assert_eq!(codes(&check.json), Vec::<String>::new(), "{}", check.json["findings"]);
    let streams = check.json["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "{}", check.json["streams"]);
    let audio_seconds = streams[1]["duration"].as_f64().unwrap();
    assert!((audio_seconds - 3.0).abs() < 0.05, "audio {audio_seconds} s");
    assert_eq!(streams[0]["frames_decoded"], 72);

    let Some((run, _, out)) = repair("clean.mp4", &["--audio", "no-such-audio.wav"]) else { return };
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no-such-audio.wav"), "{}", run.stderr);
    assert!(!out.exists());
    // A file without audio is said to be one, before anything is written.
    let silent = fixtures("repair").join("clean.mp4");
    let Some((run, _, out)) = repair("frozen.mp4", &["--audio", silent.to_str().unwrap()]) else { return };
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("clean.mp4: it holds no audio stream"), "{}", run.stderr);
    assert!(!out.exists() && !run.stderr.contains("nanscope-tmp"), "{}", run.stderr);
}
