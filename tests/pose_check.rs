//! `nanscope pose check` on the committed pose fixtures (made by fixtures/make_pose.py).

use common::cli::{nanscope, report};
use serde_json::Value;

mod common;

fn fixture(name: &str) -> String {
    common::cli::fixture(&format!("pose/{name}"))
}

/// Runs `pose check` with `--format json` and returns the exit code and report.
fn check(args: &[&str]) -> (i32, Value) {
    let (code, report) = report(&[&["pose", "check"], args].concat());
    (code.unwrap_or(-1), report)
}

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"].as_array().unwrap().iter().collect()
}

/// The one finding with `code` at `frame`.
fn finding<'a>(report: &'a Value, code: &str, frame: u64) -> &'a Value {
    let hits: Vec<&Value> =
        findings(report).into_iter().filter(|f| f["code"] == code && f["subject"]["frame"] == frame).collect();
    assert_eq!(hits.len(), 1, "{code} at frame {frame}: {:#?}", report["findings"]);
    hits[0]
}

#[test]
fn a_clean_echomimic_folder_checks_clean() {
    let (code, report) = check(&[&fixture("echomimic_clean")]);
    assert_eq!(code, 0);
    assert_eq!(findings(&report).len(), 0, "{:#?}", report["findings"]);
    assert_eq!(report["summary"]["frames"], 24);
    let frames = report["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 24);
    assert!(frames.iter().all(|f| f["status"] == "ok" && f["hand_points"] == 42));
}

#[test]
fn planted_faults_are_reported_at_their_frame_and_keypoint() {
    let (code, report) = check(&[&fixture("echomimic_faulty")]);
    assert_eq!(code, 1);
    let nan = finding(&report, "P106", 3);
    assert_eq!(nan["subject"]["keypoint"], "hands[1][5]");
    assert_eq!(nan["evidence"]["nan"], 2);
    assert!(nan["subject"]["file"].as_str().unwrap().ends_with("3.npy"));
    let missing = finding(&report, "P101", 7);
    assert!(missing["subject"]["file"].as_str().unwrap().ends_with("7.npy"));
    assert_eq!(finding(&report, "P105", 10)["evidence"]["num"], 11);
    let jump = finding(&report, "P113", 14);
    assert_eq!(jump["subject"]["keypoint"], "hands[1][8]");
    assert_eq!(jump["evidence"]["returns"], true);
    assert_eq!(finding(&report, "P111", 18)["severity"], "warning");
    assert_eq!(finding(&report, "P112", 20)["severity"], "error");
    assert_eq!(findings(&report).len(), 6, "{:#?}", report["findings"]);
    let frames = report["frames"].as_array().unwrap();
    assert_eq!(frames[7]["status"], "missing");
    assert_eq!(frames[18]["hand_points"], 0);
    assert_eq!(frames[3]["flags"], serde_json::json!(["P106"]));
}

#[test]
fn damaged_npy_files_are_findings_with_offsets_not_crashes() {
    let (code, report) = check(&[&fixture("echomimic_bad")]);
    assert_eq!(code, 1);
    let at = |frame: u64| -> Vec<String> {
        findings(&report)
            .into_iter()
            .filter(|f| f["subject"]["frame"] == frame)
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(at(0), vec!["F109"]);
    assert_eq!(at(1), vec!["F103"]);
    assert!(at(2).contains(&"S101".to_string()));
    assert_eq!(at(3), vec!["F109"]);
    assert_eq!(at(4), vec!["F109"]);
    for f in findings(&report) {
        if f["code"] != "P103" {
            assert!(f["evidence"]["offset"].is_u64(), "{f:#}");
        }
    }
    let evil = finding(&report, "S101", 2);
    assert_eq!(evil["evidence"]["global"], "os.system");
}

#[test]
fn openpose_json_with_python_nan_is_a_keypoint_finding() {
    let (_, report) = check(&[&fixture("openpose")]);
    let nan = finding(&report, "P106", 2);
    assert_eq!(nan["subject"]["keypoint"], "hands[0][7]");
    assert_eq!(nan["evidence"]["pos_inf"], 1);
    let invalid = finding(&report, "P103", 4);
    assert!(invalid["evidence"]["offset"].as_u64().unwrap() > 0);
    assert_eq!(report["format"], "controlnet");
    assert_eq!(findings(&report).len(), 2, "{:#?}", report["findings"]);
}

#[test]
fn frame_count_is_checked_against_expectations() {
    let (code, report) = check(&[&fixture("echomimic_clean"), "--expect-frames", "48"]);
    assert_eq!(code, 1);
    let short = &findings(&report)[0];
    assert_eq!(short["code"], "P114");
    assert_eq!(short["evidence"]["expected"], 48);
    let (code, report) = check(&[&fixture("echomimic_clean"), "--expect-frames", "12"]);
    assert_eq!(code, 0);
    assert_eq!(findings(&report)[0]["severity"], "info");
}

/// Whether ffmpeg is missing, which skips a test (and says so).
// A skipped test must say so in the test output.
#[allow(clippy::print_stderr)]
fn ffmpeg_missing() -> bool {
    let missing = std::process::Command::new("ffmpeg").arg("-version").output().is_err();
    if missing {
        eprintln!("skipped: ffmpeg is not installed");
    }
    missing
}

#[test]
fn audio_duration_sets_the_expected_frame_count() {
    if ffmpeg_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "2", "-y"])
        .arg(&wav)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, report) = check(&[&fixture("echomimic_clean"), "--audio", wav.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report)[0]["evidence"]["expected"], 48);
}

/// Seconds of `path` as ffprobe reports them.
fn ffprobe_seconds(path: &std::path::Path) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

// WAV files as ffmpeg writes them, in every uncompressed sample format it
// has, plain and extensible: the duration read from the header is
// ffprobe's; a streamed file whose sizes were never filled in is left to
// ffprobe, and still gets its duration.
#[test]
fn wav_durations_from_the_header_are_ffprobes() {
    if ffmpeg_missing() {
        return;
    }
    use nanscope::pose::audio::{duration, wav_seconds};
    let dir = tempfile::tempdir().unwrap();
    let codecs = ["pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le", "pcm_alaw", "pcm_mulaw"];
    let layouts = [(8_000, "mono"), (22_050, "stereo"), (44_100, "5.1"), (48_000, "stereo"), (16_000, "mono")];
    for (i, codec) in codecs.iter().enumerate() {
        let (rate, layout) = layouts[i % layouts.len()];
        let seconds = 0.5 + 0.37 * i as f64;
        let wav = dir.path().join(format!("{codec}.wav"));
        let source = format!("sine=frequency=440:sample_rate={rate},aformat=channel_layouts={layout}");
        let made = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-f", "lavfi", "-i", &source, "-t", &seconds.to_string(), "-c:a", codec, "-y"])
            .arg(&wav)
            .status()
            .unwrap();
        assert!(made.success(), "{codec}");
        let bytes = std::fs::read(&wav).unwrap();
        let native = wav_seconds(&bytes, bytes.len() as u64).unwrap_or_else(|| panic!("{codec} not read"));
        let probed = ffprobe_seconds(&wav);
        assert!((native - probed).abs() < 1e-6, "{codec} {rate} {layout}: {native} vs ffprobe {probed}");
    }
    // Written to a pipe, ffmpeg cannot go back to fill in the sizes.
    let piped = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "sine=sample_rate=16000", "-t", "1.5", "-f", "wav", "-"])
        .output()
        .unwrap();
    let wav = dir.path().join("piped.wav");
    std::fs::write(&wav, &piped.stdout).unwrap();
    assert_eq!(wav_seconds(&piped.stdout, piped.stdout.len() as u64), None);
    let seconds = duration(&wav).unwrap();
    assert!((seconds - ffprobe_seconds(&wav)).abs() < 1e-6);
}

/// A silent mono 8-bit PCM WAV of `seconds` at 8 kHz, written by hand so
/// the test needs no encoder.
fn silent_wav(path: &std::path::Path, seconds: f64) {
    let samples = (8000.0 * seconds) as u32;
    let mut bytes = Vec::new();
    bytes.extend(b"RIFF");
    bytes.extend((36 + samples).to_le_bytes());
    bytes.extend(b"WAVEfmt ");
    bytes.extend(16u32.to_le_bytes());
    bytes.extend(1u16.to_le_bytes()); // PCM
    bytes.extend(1u16.to_le_bytes()); // mono
    bytes.extend(8000u32.to_le_bytes());
    bytes.extend(8000u32.to_le_bytes()); // bytes per second
    bytes.extend(1u16.to_le_bytes()); // block align
    bytes.extend(8u16.to_le_bytes()); // bits per sample
    bytes.extend(b"data");
    bytes.extend(samples.to_le_bytes());
    bytes.extend(std::iter::repeat_n(128u8, samples as usize));
    std::fs::write(path, bytes).unwrap();
}

// Item 8 of the real-world-files issue: audio shorter than the poses is a
// warning naming the length the pipeline uses, not an error.
// The WAV's header is read without ffprobe.
#[test]
fn audio_shorter_than_the_poses_is_a_warning_with_the_length_used() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("short.wav");
    silent_wav(&wav, 0.5);
    let (code, report) = check(&[&fixture("echomimic_clean"), "--audio", wav.to_str().unwrap()]);
    assert_eq!(code, 0, "{:#?}", report["findings"]);
    let found = findings(&report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["code"], "P114");
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(found[0]["evidence"]["expected"], 12);
    assert_eq!(found[0]["evidence"]["used"], 12);
    let message = found[0]["message"].as_str().unwrap();
    assert!(message.contains("trims the length to the audio and generates 12 frames"), "{message}");
    // Audio longer than the poses stays an error: the video ends before the audio.
    silent_wav(&wav, 2.0);
    let (code, report) = check(&[&fixture("echomimic_clean"), "--audio", wav.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report)[0]["severity"], "error");
    assert_eq!(findings(&report)[0]["evidence"]["used"], 24);
}

// From the correctness issue: a zero-byte pose file is "empty".
#[test]
fn a_zero_byte_pose_file_is_reported_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("echomimic_clean")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.path().join("5.npy"), b"").unwrap();
    let (code, report) = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let empty: Vec<&Value> = findings(&report).into_iter().filter(|f| f["code"] == "F102").collect();
    assert_eq!(empty.len(), 1, "{:#?}", report["findings"]);
    let message = empty[0]["message"].as_str().unwrap();
    assert!(message.ends_with("5.npy is empty (0 bytes)"), "{message}");
}

#[test]
fn missing_ffprobe_is_exit_2_with_advice() {
    let output = nanscope()
        .env("NANSCOPE_FFPROBE", "/nonexistent/ffprobe")
        .args(["pose", "check", &fixture("echomimic_clean"), "--audio", "x.wav"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("install FFmpeg"));
}

#[test]
fn stray_files_in_an_echomimic_folder_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("echomimic_clean")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.path().join(".DS_Store"), b"junk").unwrap();
    let (code, report) = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report)[0]["code"], "P104");
}

#[test]
fn other_dtypes_byte_orders_and_npy_v2_headers_are_read() {
    let (code, report) = check(&[&fixture("echomimic_dtypes")]);
    assert_eq!(code, 0);
    assert_eq!(findings(&report).len(), 0, "{:#?}", report["findings"]);
    let frames = report["frames"].as_array().unwrap();
    assert!(frames.iter().all(|f| f["status"] == "ok" && f["hand_points"] == 42));
}
