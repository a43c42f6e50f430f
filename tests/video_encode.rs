//! `nanscope video encode` on tensors written by the test: NaN/Inf frames are
//! filled and reported, and the written video checks clean.

mod video_support;

use std::path::Path;

use video_support::*;

/// Writes a little-endian f32 `.npy` (format 1.0).
fn write_npy(path: &Path, shape: &[usize], values: &[f32]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}", dims.join(", "));
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// Writes a one-tensor F16 `.safetensors` file.
fn write_safetensors_f16(path: &Path, name: &str, shape: &[usize], values: &[f32]) {
    let data: Vec<u8> = values.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect();
    let header = format!(r#"{{"{name}":{{"dtype":"F16","shape":{shape:?},"data_offsets":[0,{}]}}}}"#, data.len());
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes).unwrap();
}

const F: usize = 24;
const H: usize = 48;
const W: usize = 64;

/// A moving colour pattern in [-1, 1], laid out `1 3 F H W`, with NaN in
/// frames 10-12 and +Inf in a corner of frame 20.
fn pattern_bcfhw() -> Vec<f32> {
    let mut v = vec![0f32; 3 * F * H * W];
    for c in 0..3 {
        for f in 0..F {
            for y in 0..H {
                for x in 0..W {
                    let t = f as f32 / F as f32;
                    let value = match c {
                        0 => (x as f32 / 9.0 + 3.0 * t).sin(),
                        1 => (y as f32 / 7.0 - 2.0 * t).cos(),
                        _ => (x * y) as f32 / (W * H) as f32 * 1.6 - 0.8,
                    };
                    let bad = (10..=12).contains(&f) || (f == 20 && x < 8 && y < 8);
                    v[((c * F + f) * H + y) * W + x] = match (bad, f) {
                        (true, 20) => f32::INFINITY,
                        (true, _) => f32::NAN,
                        _ => value * 0.9,
                    };
                }
            }
        }
    }
    v
}

#[test]
fn nan_frames_are_filled_reported_and_the_video_checks_clean() {
    if !ffmpeg_available("encode_nan_frames") {
        return;
    }
    let dir = scratch("encode-nan");
    let tensor = dir.join("video.npy");
    write_npy(&tensor, &[1, 3, F, H, W], &pattern_bcfhw());
    let out = dir.join("out.mp4");
    let run = nanscope_json(&["encode", tensor.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 1, "NaN in the tensor is an error finding: {}", run.stderr);
    let nonfinite = findings(&run.json, "V130");
    assert_eq!(nonfinite.len(), 2, "{}", run.json["findings"]);
    assert_eq!(frame_range(nonfinite[0]), Some([10, 12]));
    assert_eq!(nonfinite[0]["evidence"]["nan"], 3 * 3 * H * W);
    assert_eq!(frame_range(nonfinite[1]), Some([20, 20]));
    assert_eq!(nonfinite[1]["evidence"]["pos_inf"], 3 * 8 * 8);
    assert_eq!(run.json["encode"]["layout"], "b c f h w");
    assert_eq!(run.json["encode"]["range"], "-1-1");
    assert_eq!(run.json["frames"][11]["nan"], 3 * H * W);
    assert_eq!(run.json["streams"][0]["pix_fmt"], "yuv420p");
    // Only the tensor findings: the written video itself is clean.
    assert_eq!(codes(&run.json), vec!["V130", "V130"]);

    let check = nanscope_json(&["check", out.to_str().unwrap(), "--expect-frames", "24", "--expect-fps", "24"]);
    assert_eq!(check.code, 0, "{}", check.json["findings"]);
    assert_eq!(codes(&check.json), Vec::<String>::new());
    assert_eq!(check.json["streams"][0]["codec_name"], "h264");
    // Interpolated frames lie between their neighbours, not at black.
    let means: Vec<f64> =
        check.json["frames"].as_array().unwrap().iter().map(|f| f["luma_mean"].as_f64().unwrap()).collect();
    for f in 10..=12 {
        let (lo, hi) = (means[9].min(means[13]) - 3.0, means[9].max(means[13]) + 3.0);
        assert!(means[f] >= lo && means[f] <= hi, "frame {f}: {} not within {lo}..{hi}", means[f]);
    }
}

#[test]
fn zero_fill_reproduces_the_black_frames_check_detects() {
    if !ffmpeg_available("encode_zero_fill") {
        return;
    }
    let dir = scratch("encode-zero");
    let tensor = dir.join("video.npy");
    write_npy(&tensor, &[1, 3, F, H, W], &pattern_bcfhw());
    let out = dir.join("zero.mp4");
    let run = nanscope_json(&["encode", tensor.to_str().unwrap(), "-o", out.to_str().unwrap(), "--fill", "zero"]);
    assert_eq!(run.code, 1);
    let black = findings(&run.json, "V120");
    assert_eq!(black.len(), 1, "{}", run.json["findings"]);
    assert_eq!(frame_range(black[0]), Some([10, 12]));
    assert_eq!(black[0]["subject"]["file"], out.to_str().unwrap());
    assert!(!findings(&run.json, "V124").is_empty(), "zero-filled NaN is the NaN-cast signature");
}

#[test]
fn safetensors_f16_fhwc_with_audio_is_trimmed_to_the_video() {
    if !ffmpeg_available("encode_safetensors_audio") {
        return;
    }
    let dir = scratch("encode-audio");
    let (f, h, w) = (12usize, 33usize, 41usize);
    let values: Vec<f32> =
        (0..f * h * w * 3).map(|i| ((i % 251) as f32 / 250.0 + (i / (h * w * 3)) as f32 * 0.01).min(1.0)).collect();
    let tensor = dir.join("frames.safetensors");
    write_safetensors_f16(&tensor, "frames", &[f, h, w, 3], &values);
    let audio = dir.join("tone.wav");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=3"])
        .arg(&audio)
        .status()
        .unwrap();
    assert!(status.success());
    let out = dir.join("with_audio.mp4");
    let run = nanscope_json(&[
        "encode",
        tensor.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--fps",
        "12",
        "--audio",
        audio.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{} {}", run.stderr, run.json["findings"]);
    assert_eq!(run.json["encode"]["layout"], "f h w c");
    assert_eq!(run.json["encode"]["range"], "0-1");
    let streams = run.json["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    // Odd sizes are padded to even ones.
    assert_eq!((streams[0]["width"].as_u64(), streams[0]["height"].as_u64()), (Some(42), Some(34)));
    let audio_seconds = streams[1]["duration"].as_f64().unwrap();
    assert!((audio_seconds - 1.0).abs() < 0.1, "audio trimmed to the 1 s video, got {audio_seconds}");
}

#[test]
fn existing_output_needs_force_and_ambiguous_layouts_need_a_flag() {
    if !ffmpeg_available("encode_refusals") {
        return;
    }
    let dir = scratch("encode-refusals");
    let tensor = dir.join("video.npy");
    write_npy(&tensor, &[1, 3, F, H, W], &pattern_bcfhw());
    let out = dir.join("exists.mp4");
    std::fs::write(&out, b"keep me").unwrap();
    let run = nanscope_json(&["encode", tensor.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");

    let square = dir.join("square.npy");
    write_npy(&square, &[3, 8, 8, 3], &vec![0.5; 3 * 8 * 8 * 3]);
    let run = nanscope_json(&["encode", square.to_str().unwrap(), "-o", dir.join("sq.mp4").to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--layout"), "{}", run.stderr);
    let run = nanscope_json(&[
        "encode",
        square.to_str().unwrap(),
        "-o",
        dir.join("sq.mp4").to_str().unwrap(),
        "--layout",
        "fhwc",
    ]);
    assert_eq!(run.json["encode"]["layout"], "f h w c", "{}", run.stderr);
    assert!(dir.join("sq.mp4").exists());
    // A constant grey tensor encodes to blank frames, and the report says so.
    assert!(!findings(&run.json, "V121").is_empty(), "{}", run.json["findings"]);
}

/// Correctness issue: an all-NaN tensor says that no good frame existed to
/// fill from, a NaN run at the end says it was held, not interpolated, and
/// the report names the user's output, never the temporary file.
#[test]
fn fill_messages_say_what_each_run_really_got() {
    if !ffmpeg_available("encode_fill_messages") {
        return;
    }
    let dir = scratch("encode-fill-messages");
    let tensor = dir.join("nan.npy");
    write_npy(&tensor, &[1, 3, 4, H, W], &vec![f32::NAN; 3 * 4 * H * W]);
    let out = dir.join("nan.mp4");
    let run = nanscope_json(&["encode", tensor.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let nonfinite = findings(&run.json, "V130");
    assert_eq!(nonfinite.len(), 1, "{}", run.json["findings"]);
    let message = nonfinite[0]["message"].as_str().unwrap();
    assert!(message.contains("no good frame existed") && !message.contains("interpolat"), "{message}");
    assert!(!run.json.to_string().contains("nanscope-tmp"), "a temporary file is named: {}", run.json);

    let mut values = pattern_bcfhw();
    for c in 0..3 {
        for f in F - 4..F {
            let plane = (c * F + f) * H * W;
            values[plane..plane + H * W].fill(f32::NAN);
        }
    }
    let tensor = dir.join("tail.npy");
    write_npy(&tensor, &[1, 3, F, H, W], &values);
    let out = dir.join("tail.mp4");
    let run = nanscope_json(&["encode", tensor.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let tail = findings(&run.json, "V130").into_iter().find(|f| frame_range(f) == Some([20, 23])).unwrap();
    let message = tail["message"].as_str().unwrap();
    assert!(message.contains("holding the pixels of frame 19") && message.contains("none follows"), "{message}");
}
