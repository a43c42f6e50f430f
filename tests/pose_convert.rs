//! `nanscope pose convert` between EchoMimicV2 .npy and OpenPose JSON.

use common::cli::run as nanscope;
use serde_json::Value;

mod common;

fn fixture(name: &str) -> String {
    common::cli::fixture(&format!("pose/{name}"))
}

fn numbers(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

#[test]
fn echomimic_to_openpose_and_back_keeps_the_keypoints() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("json");
    let back = dir.path().join("back");
    let (code, report, stderr) =
        nanscope(&["pose", "convert", &fixture("echomimic_clean"), "--to", "openpose", "-o", json.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["summary"]["converted"], 24);
    assert_eq!(report["format"], "controlnet");
    let first: Value =
        serde_json::from_slice(&std::fs::read(json.join("echomimic_clean_000000000000_keypoints.json")).unwrap())
            .unwrap();
    assert_eq!(first["canvas_width"], 768);
    let person = &first["people"][0];
    assert_eq!(numbers(&person["pose_keypoints_2d"]).len(), 54);
    assert_eq!(numbers(&person["face_keypoints_2d"]).len(), 210);
    let left = numbers(&person["hand_left_keypoints_2d"]);
    assert_eq!(left.len(), 63);
    assert!(left[0] > 100.0 && left[0] < 700.0, "pixels of the 768 canvas: {}", left[0]);

    let (code, _, stderr) =
        nanscope(&["pose", "convert", json.to_str().unwrap(), "--to", "echomimic", "-o", back.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, report, _) = nanscope(&["pose", "check", back.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);

    // The reader of both formats agrees on every hand keypoint.
    let original = nanscope_frames(&fixture("echomimic_clean"));
    let again = nanscope_frames(back.to_str().unwrap());
    assert_eq!(original, again);
}

/// Hand point counts per frame as `pose check` reports them (a cheap fingerprint).
fn nanscope_frames(path: &str) -> Vec<u64> {
    let (_, report, _) = nanscope(&["pose", "check", path]);
    report["frames"].as_array().unwrap().iter().map(|f| f["hand_points"].as_u64().unwrap()).collect()
}

#[test]
fn openpose_to_echomimic_keeps_gaps_visible() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("npy");
    let (code, report, stderr) =
        nanscope(&["pose", "convert", &fixture("openpose"), "--to", "echomimic", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["code"] == "P101" && f["subject"]["frame"] == 4), "{findings:#?}");
    assert!(findings.iter().any(|f| f["code"] == "P106" && f["subject"]["keypoint"] == "hands[0][7]"));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5);
}

#[test]
fn pixel_coordinates_without_a_size_cannot_be_converted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let text = std::fs::read_to_string(format!("{}/clip_000000000000_keypoints.json", fixture("openpose"))).unwrap();
    let text = text.replace(", \"canvas_width\": 640, \"canvas_height\": 480", "");
    std::fs::write(input.join("clip_000000000000_keypoints.json"), text).unwrap();
    let out = dir.path().join("out");
    let (code, _, stderr) =
        nanscope(&["pose", "convert", input.to_str().unwrap(), "--to", "echomimic", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--source-size"), "{stderr}");
    let (code, _, stderr) = nanscope(&[
        "pose",
        "convert",
        input.to_str().unwrap(),
        "--to",
        "echomimic",
        "--source-size",
        "640x480",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
}
