//! `nanscope replay` on the demo fixture (planted int8 + fp16 overflow, its
//! module and step measured by diffusers in `fixtures/make_replay_demo.py`)
//! and on bad specs and weights.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay")
}

fn nanscope(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nanscope")).args(args).arg("--format").arg("json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn expected() -> (String, u64) {
    let v: Value = serde_json::from_slice(&fs::read(fixtures().join("demo-expected.json")).unwrap()).unwrap();
    (v["module"].as_str().unwrap().to_string(), v["step"].as_u64().unwrap())
}

fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == code).collect()
}

/// The demo spec with absolute model paths and `edit` applied, in a temp folder.
fn demo_spec_with(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let text = fs::read_to_string(fixtures().join("demo.toml")).unwrap();
    let text = text.replace("\"demo-", &format!("\"{}/demo-", fixtures().display()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.toml");
    fs::write(&path, edit(text)).unwrap();
    (dir, path)
}

#[test]
fn demo_replay_names_the_planted_module_and_step() {
    let (module, step) = expected();
    let (code, report, stderr) = nanscope(&["replay", fixtures().join("demo.toml").to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let producer = findings(&report, "R120");
    assert_eq!(producer.len(), 1, "{report}");
    assert_eq!(producer[0]["subject"]["module"], module.as_str());
    assert_eq!(producer[0]["subject"]["step"], step);
    assert_eq!(producer[0]["subject"]["stage"], "vae.decode");
    assert!(report["run"]["nonfinite_frame_values"].as_u64().unwrap() > 0);
}

#[test]
fn bisect_names_the_module_and_excluding_it_is_finite() {
    let (module, _) = expected();
    let (_, report, stderr) = nanscope(&["replay", fixtures().join("demo.toml").to_str().unwrap(), "--bisect"]);
    let keep = findings(&report, "R160");
    assert_eq!(keep.len(), 1, "{stderr} {report}");
    assert_eq!(report["bisect"]["exclude"], serde_json::json!([module]));
    assert_eq!(report["bisect"]["exclude_python"], format!("['{module}']"));

    let (dir, spec) = demo_spec_with(|t| {
        let t = t.replace("exclude = []", &format!("exclude = [\"{module}\"]"));
        t.replace("decode_every_step = true", "decode_every_step = true\noutput = \"frames.safetensors\"")
    });
    let (code, report, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr} {report}");
    let frames = fs::read(dir.path().join("frames.safetensors")).unwrap();
    assert!(frames.len() > 2 * 3 * 16 * 16 * 4, "decoded frames (1, 3, 2, 16, 16) f32 were not written");
    let header_len = u64::from_le_bytes(frames[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&frames[8..8 + header_len]).unwrap();
    assert_eq!(header["videos"]["shape"], serde_json::json!([1, 3, 2, 16, 16]), "b c f h w, as video encode reads");
    assert_eq!(report["run"]["nonfinite_frame_values"], 0);
    assert!(findings(&report, "R120").is_empty());
}

#[allow(clippy::print_stderr)]
fn ffmpeg_on_path() -> bool {
    let found = Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("ffmpeg not found: skipping");
    }
    found
}

#[test]
fn video_option_encodes_the_decoded_frames_and_reports_the_filled_ones() {
    if !ffmpeg_on_path() {
        return;
    }
    let (module, _) = expected();
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("demo.mp4");
    let spec = fixtures().join("demo.toml");
    let (code, report, stderr) =
        nanscope(&["replay", spec.to_str().unwrap(), "--video", video.to_str().unwrap(), "--fps", "8"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(video.is_file(), "{stderr}");
    assert_eq!(report["video"]["shape"], serde_json::json!([1, 3, 2, 16, 16]));
    assert_eq!(report["video"]["fps"], 8.0);
    let filled = findings(&report, "V130");
    assert_eq!(filled.len(), 1, "the non-finite frames are filled and reported: {report}");
    assert_eq!(filled[0]["subject"]["frames"], serde_json::json!([0, 1]));
    assert_eq!(findings(&report, "R120")[0]["subject"]["module"], module.as_str());
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "the temporary frames file is removed: {left:?}");

    // With the module bisect names kept in fp32 the video has content.
    let (_dir, fixed) = demo_spec_with(|t| t.replace("exclude = []", &format!("exclude = [\"{module}\"]")));
    let video = dir.path().join("fixed.mp4");
    let (code, report, stderr) = nanscope(&["replay", fixed.to_str().unwrap(), "--video", video.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr} {report}");
    assert!(findings(&report, "V130").is_empty() && findings(&report, "V120").is_empty(), "{report}");
    let (code, _, stderr) = nanscope(&["replay", fixed.to_str().unwrap(), "--video", video.to_str().unwrap()]);
    assert_eq!(code, 2, "an existing video is kept without --force");
    assert!(stderr.contains("--force"), "{stderr}");
}

#[test]
fn fp32_bf16_and_unquantized_fp16_replays_are_finite() {
    let spec = fixtures().join("demo.toml");
    for extra in [&["--dtype", "fp32"][..], &["--dtype", "bf16"][..], &["--quantize", "none"][..]] {
        let mut args = vec!["replay", spec.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (code, report, stderr) = nanscope(&args);
        assert_eq!(code, 0, "{extra:?}: {stderr}");
        assert_eq!(report["run"]["nonfinite_frame_values"], 0, "{extra:?}");
    }
}

#[test]
fn dump_folder_is_readable_by_trace() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let (_, _, stderr) = nanscope(&[
        "replay",
        fixtures().join("demo.toml").to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
        "--dump-level",
        "stages",
    ]);
    assert!(dump.join("manifest.json").is_file(), "{stderr}");
    let (module, step) = expected();
    let (_, report, stderr) = nanscope(&["trace", dump.to_str().unwrap()]);
    let producer = findings(&report, "R120");
    assert_eq!(producer.len(), 1, "{stderr}");
    assert_eq!(producer[0]["subject"]["module"], module.as_str());
    assert_eq!(producer[0]["subject"]["step"], step);
}

#[test]
fn missing_model_folder_is_a_clear_error() {
    let (_dir, spec) = demo_spec_with(|t| t.replace("demo-vae", "no-such-vae"));
    let (code, _, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no-such-vae") && stderr.contains("no such file"), "{stderr}");
}

#[test]
fn mismatched_weights_are_listed_together() {
    let dir = tempfile::tempdir().unwrap();
    let unet = dir.path().join("unet");
    fs::create_dir(&unet).unwrap();
    // The linear-projection weights under the conv-projection configuration:
    // every proj_in/proj_out has the wrong shape.
    fs::copy(fixtures().join("tiny-unet/config.json"), unet.join("config.json")).unwrap();
    fs::copy(
        fixtures().join("tiny-unet-linear/diffusion_pytorch_model.safetensors"),
        unet.join("diffusion_pytorch_model.safetensors"),
    )
    .unwrap();
    let unet_path = unet.display().to_string();
    let (_d, spec) = demo_spec_with(|t| t.replace(&format!("{}/demo-unet", fixtures().display()), &unet_path));
    let (code, _, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
    assert_eq!(code, 2);
    for key in ["down_blocks.0.attentions.0.proj_in.weight", "up_blocks.1.attentions.1.proj_out.weight"] {
        assert!(stderr.contains(key), "{key} not listed: {stderr}");
    }
    assert!(stderr.contains("weight problem"), "{stderr}");
}

#[test]
fn bad_spec_is_a_clear_error() {
    let (_dir, spec) = demo_spec_with(|t| t.replace("steps = 5", "steps = \"five\""));
    let (code, _, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("steps"), "{stderr}");
}

#[test]
fn plot_draws_the_timeline_with_the_bad_steps_shaded() {
    let out = tempfile::tempdir().unwrap();
    let plots = out.path().join("plots");
    let spec = fixtures().join("demo.toml");
    let (code, report, stderr) = nanscope(&["replay", spec.to_str().unwrap(), "--plot", plots.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let png = plots.join("timeline.png");
    assert_eq!(report["plots"][0].as_str(), Some(png.to_str().unwrap()));
    assert!(fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn a_pytorch_bin_vae_replays_like_its_safetensors_twin() {
    let (_keep, spec) = demo_spec_with(|text| text.replace("demo-vae\"", "demo-vae-bin\""));
    let (code, from_bin, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let (_, from_safetensors, _) = nanscope(&["replay", fixtures().join("demo.toml").to_str().unwrap()]);
    let producer = |r: &Value| findings(r, "R120")[0]["subject"].clone();
    assert_eq!(producer(&from_bin), producer(&from_safetensors));
    assert_eq!(from_bin["run"]["nonfinite_frame_values"], from_safetensors["run"]["nonfinite_frame_values"]);
    assert_eq!(from_bin["stages"], from_safetensors["stages"]);
}

/// The demo spec without its `[inputs]` table: everything is drawn from the seed.
fn without_inputs_table(text: String) -> String {
    let start = text.find("\n[inputs]").unwrap();
    let end = start + text[start..].find("\n[quantization]").unwrap();
    format!("{}{}", &text[..start], &text[end..])
}

/// Issue #4: a spec without `[inputs]` replays on the seeded defaults
/// instead of panicking in the softmax over zero tokens.
#[test]
fn a_spec_without_inputs_replays_on_seeded_defaults() {
    let (_dir, spec) = demo_spec_with(without_inputs_table);
    let (code, report, stderr) = nanscope(&["replay", spec.to_str().unwrap(), "--dtype", "fp32", "--quantize", "none"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(report["command"], "replay");
    assert!(report["summary"]["records"].as_u64().unwrap() > 0, "{report}");
}

/// Issue #4: impossible values are a usage error naming the key, never a panic.
#[test]
fn impossible_spec_values_name_their_key() {
    for (edit, key) in [
        (("\n[inputs]\n", "\n[inputs]\ntokens = 0\n"), "inputs.tokens"),
        (("frames = 2", "frames = 0"), "frames"),
        (("height = 16", "height = 15"), "height = 15"),
        (("height = 16", "height = 14"), "height = 14"),
        (("width = 16", "width = 0"), "width"),
    ] {
        let (_dir, spec) = demo_spec_with(|t| t.replacen(edit.0, edit.1, 1));
        let (code, _, stderr) = nanscope(&["replay", spec.to_str().unwrap()]);
        assert_eq!(code, 2, "{key}: {stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
