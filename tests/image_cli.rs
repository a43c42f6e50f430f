//! `nanscope image check` on the committed image fixtures (made by
//! fixtures/make_images.py): each defect at its pixel, clean images clean,
//! hostile headers refused without decoding (issue #12).

use common::cli::{nanscope, report};
use serde_json::Value;

mod common;

fn fixture(name: &str) -> String {
    common::cli::fixture(&format!("image/{name}"))
}

/// Runs `image check --format json` and returns the exit code and report.
fn check(args: &[&str]) -> (i32, Value) {
    let (code, report) = report(&[&["image", "check"], args].concat());
    (code.unwrap_or(-1), report)
}

/// `image check --size 128x128 FILE`: the size the small fixtures are drawn at.
fn check_small(name: &str) -> (i32, Value) {
    check(&["--size", "128x128", &fixture(name)])
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

/// The one finding with `code`.
fn finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    let hits: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == code).collect();
    assert_eq!(hits.len(), 1, "{code}: {:#?}", report["findings"]);
    hits[0]
}

#[test]
fn clean_images_in_every_format_check_clean() {
    for name in ["clean.png", "clean.jpg", "clean.webp", "clean.bmp", "clean.tiff"] {
        let (code, report) = check_small(name);
        assert_eq!((code, codes(&report)), (0, vec![]), "{name}");
        let image = &report["images"][0];
        assert_eq!((image["width"].as_u64(), image["height"].as_u64()), (Some(128), Some(128)), "{name}");
        assert_eq!(image["stats"]["channels"].as_array().unwrap().len(), 3, "{name}");
    }
    for name in ["clean-hwc.npy", "clean-chw.safetensors"] {
        let (code, report) = check(&["--size", "64x64", &fixture(name)]);
        assert_eq!((code, codes(&report)), (0, vec![]), "{name}");
    }
    let (code, report) = check(&[&fixture("clean-768.jpg")]);
    assert_eq!((code, codes(&report)), (0, vec![]));
}

#[test]
fn tensor_layouts_and_ranges_are_detected() {
    let (_, report) = check(&["--size", "64x64", &fixture("clean-chw.safetensors")]);
    let image = &report["images"][0];
    assert_eq!(image["tensor"], "ref");
    assert_eq!(image["mode"], "tensor F32 c h w");
    assert_eq!(image["stats"]["range"]["low"], -1.0);
    assert_eq!(image["stats"]["range_source"], "inferred");
    let (_, report) = check(&["--size", "64x64", &fixture("clean-hwc.npy")]);
    assert_eq!(report["images"][0]["stats"]["range"]["high"], 255.0);
    assert_eq!(report["images"][0]["stats"]["range_source"], "dtype");
}

#[test]
fn per_channel_statistics_are_reported() {
    let (_, report) = check_small("clean.png");
    let red = &report["images"][0]["stats"]["channels"][0];
    assert_eq!(red["channel"], "R");
    for key in ["min", "max", "mean", "std", "nan", "pos_inf", "neg_inf"] {
        assert!(red[key].is_number(), "{key}: {red}");
    }
    assert!(red["min"].as_f64() < red["mean"].as_f64() && red["mean"].as_f64() < red["max"].as_f64());
}

#[test]
fn a_truncated_jpeg_has_no_end_marker() {
    let (code, report) = check_small("truncated.jpg");
    assert_eq!(code, 1);
    let f = finding(&report, "I103");
    assert!(f["message"].as_str().unwrap().contains("end-of-image"), "{f}");
    assert_eq!(f["evidence"]["format"], "jpeg");
}

#[test]
fn a_truncated_png_says_how_many_rows_decoded() {
    let (code, report) = check_small("truncated.png");
    assert_eq!(code, 1);
    let f = finding(&report, "I103");
    let rows = f["evidence"]["rows_decoded"].as_u64().unwrap();
    assert!(rows > 0 && rows < 128, "{f}");
    assert_eq!(f["evidence"]["height"], 128);
    assert_eq!(codes(&report), vec!["I103"]);
}

#[test]
fn a_truncated_tiff_is_a_finding() {
    let (code, report) = check_small("truncated.tiff");
    assert_eq!(code, 1);
    finding(&report, "I103");
}

#[test]
fn empty_files_and_non_images_are_findings() {
    let (code, report) = check_small("empty.png");
    assert_eq!((code, codes(&report)), (1, vec!["I101".to_string()]));
    let (code, report) = check_small("not-an-image.png");
    assert_eq!((code, codes(&report)), (1, vec!["I102".to_string()]));
    assert_eq!(finding(&report, "I102")["evidence"]["first_bytes"], "3c 21 44 4f 43 54 59 50");
}

#[test]
fn nonfinite_tensor_values_name_the_first_index() {
    let (code, report) = check(&["--size", "64x64", &fixture("nan.npy")]);
    assert_eq!(code, 1);
    let f = finding(&report, "I106");
    assert_eq!(f["subject"]["index"], serde_json::json!([10, 20, 1]));
    assert_eq!((f["evidence"]["nan"].as_u64(), f["evidence"]["pos_inf"].as_u64()), (Some(1), Some(1)));
    let green = &report["images"][0]["stats"]["channels"][1];
    assert_eq!(green["nan"], 1);
}

#[test]
fn a_float_tiff_with_nan_is_found_and_its_clipping_conversion_explained() {
    let (code, report) = check(&["--size", "64x64", &fixture("float-nan.tiff")]);
    assert_eq!(code, 1);
    assert_eq!(finding(&report, "I106")["subject"]["index"], serde_json::json!([7, 5, 0]));
    let clip = finding(&report, "I114");
    assert_eq!(clip["evidence"]["black_share"], 1.0);
}

#[test]
fn values_outside_the_range_are_found_at_their_pixel() {
    let (code, report) = check(&["--size", "64x64", &fixture("out-of-range.npy")]);
    assert_eq!(code, 0, "a few outliers are a warning");
    let f = finding(&report, "I107");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["subject"]["index"], serde_json::json!([3, 4, 0]));
    assert_eq!(f["evidence"]["count"], 2);
    let (code, report) = check(&["--size", "64x64", &fixture("wild-range.npy")]);
    assert_eq!(code, 1);
    assert_eq!(finding(&report, "I107")["severity"], "error");
    let (_, report) = check(&["--size", "64x64", "--range", "-1-1", &fixture("out-of-range.npy")]);
    assert_eq!(finding(&report, "I107")["evidence"]["count"], 1, "declared [-1, 1] holds -0.25, not 1.5");
    assert_eq!(report["images"][0]["stats"]["range_source"], "declared");
}

#[test]
fn black_white_blank_and_clipped_images() {
    let (code, report) = check_small("black.png");
    assert_eq!((code, codes(&report)), (1, vec!["I109".to_string()]));
    let (_, report) = check_small("white.png");
    assert_eq!(codes(&report), vec!["I110"]);
    let (_, report) = check_small("blank.png");
    assert_eq!(codes(&report), vec!["I108"]);
    let (_, report) = check_small("clipped.png");
    let f = finding(&report, "I111");
    assert_eq!(f["evidence"]["channels"]["R"]["high_share"], 0.5);
}

#[test]
fn transparency_reports_what_lies_underneath() {
    let (code, report) = check_small("transparent.png");
    assert_eq!(code, 0);
    let f = finding(&report, "I112");
    assert_eq!(f["subject"]["index"], serde_json::json!([0, 0]));
    assert_eq!(f["evidence"]["under_mean"], serde_json::json!([0.0, 0.0, 0.0]));
    assert!(f["message"].as_str().unwrap().contains("RGB (0, 0, 0)"));
    assert_eq!(codes(&report), vec!["I112"]);
}

#[test]
fn colour_modes_and_their_rgb_conversion() {
    for (name, mode) in [("palette.png", "palette 8-bit"), ("gray.png", "grey 8-bit"), ("cmyk.jpg", "cmyk 8-bit")] {
        let (code, report) = check_small(name);
        assert_eq!(code, 0, "{name}");
        assert_eq!(finding(&report, "I113")["evidence"]["mode"], mode, "{name}");
    }
    let (_, report) = check_small("gray16.png");
    let f = finding(&report, "I114");
    assert_eq!(f["evidence"]["white_share"], 1.0);
}

#[test]
fn a_rotated_exif_photo_is_found() {
    let (code, report) = check(&["--size", "128x128", "--fail-on", "warning", &fixture("exif-rotated.jpg")]);
    assert_eq!(code, 1);
    assert_eq!(finding(&report, "I115")["evidence"]["orientation"], 6);
    assert_eq!(report["images"][0]["orientation"], 6);
}

#[test]
fn sizes_against_the_target() {
    let (_, report) = check_small("portrait.jpg");
    let f = finding(&report, "I116");
    assert!((f["evidence"]["distortion"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    let (_, report) = check_small("odd-size.png");
    assert_eq!(codes(&report), vec!["I117"]);
    let (_, report) = check(&[&fixture("small.png")]);
    assert_eq!(finding(&report, "I119")["evidence"]["upscale"], 12.0);
    let (code, report) = check(&["--size", "770x768", &fixture("clean-768.jpg")]);
    assert_eq!(code, 1);
    assert_eq!(finding(&report, "I118")["subject"]["key"], "size");
}

#[test]
fn hostile_headers_are_refused_before_decoding() {
    for name in ["huge-header.png", "bomb.png"] {
        let started = std::time::Instant::now();
        let (code, report) = check(&[&fixture(name)]);
        assert_eq!(code, 1, "{name}");
        let f = finding(&report, "I105");
        assert!(f["evidence"]["width"].as_u64().unwrap() >= 9000, "{f}");
        assert!(report["images"][0]["stats"].is_null(), "{name}: pixels must not be decoded");
        assert!(started.elapsed().as_secs() < 20, "{name} took {:?}", started.elapsed());
    }
    let (code, report) = check(&["--max-pixels", "100", &fixture("clean.png")]);
    assert_eq!(code, 1);
    finding(&report, "I105");
}

#[test]
fn a_tensor_that_is_no_image_is_named() {
    let (code, report) = check(&[&fixture("latent.npy")]);
    assert_eq!(code, 1);
    assert!(finding(&report, "I120")["message"].as_str().unwrap().contains("[4, 2, 12, 12]"));
}

#[test]
fn folders_are_walked_by_content_and_missing_paths_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("clean.png"), dir.path().join("reference")).unwrap();
    std::fs::write(dir.path().join("notes.png"), "not an image").unwrap();
    let (code, report) = check(&["--size", "128x128", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(report["summary"]["files"], 1, "only the file whose content is an image");
    let output = nanscope().args(["image", "check"]).arg(dir.path().join("absent.png")).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no such file or directory"));
    let empty = tempfile::tempdir().unwrap();
    let output = nanscope().args(["image", "check"]).arg(empty.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to check"));
}

#[test]
fn plot_writes_one_png_per_image() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plots");
    let (_, report) = check(&[
        "--size",
        "128x128",
        "--plot",
        out.to_str().unwrap(),
        &fixture("transparent.png"),
        &fixture("clipped.png"),
    ]);
    for image in report["images"].as_array().unwrap() {
        let path = image["plot"].as_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{path}");
    }
}

#[test]
fn json_snapshot_of_the_transparent_and_exif_fixtures() {
    let output = nanscope()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["image", "check", "--format", "json", "--size", "128x128"])
        .args(["fixtures/image/transparent.png", "fixtures/image/exif-rotated.jpg", "fixtures/image/nan.npy"])
        .output()
        .unwrap();
    let mut doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["tool"]["version"] = Value::from("[version]");
    insta::assert_json_snapshot!(doc, {
        ".images[].stats.channels[].mean" => insta::rounded_redaction(6),
        ".images[].stats.channels[].std" => insta::rounded_redaction(6),
        ".images[].stats.luma.mean" => insta::rounded_redaction(6),
        ".images[].stats.luma.std" => insta::rounded_redaction(6),
    });
}

/// Truncated JPEG and TIFF files cut at 30, 55 and 80% of their pixel data
/// say how much decoded (issue #12): the rows of a baseline JPEG agree with
/// Pillow's to within one (a row above the damage can blend chroma from it);
/// a progressive JPEG counts its whole scans; a TIFF counts the strips or
/// tiles whose bytes precede the cut, as `expected.json` lists them.
#[test]
fn truncated_jpeg_and_tiff_say_how_much_decoded() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("truncated/expected.json")).unwrap()).unwrap();
    let mut progressive_scans = Vec::new();
    for (name, want) in expected.as_object().unwrap() {
        let (code, report) = check(&["--size", "128x128", &fixture(&format!("truncated/{name}"))]);
        assert_eq!(code, 1, "{name}");
        let f = finding(&report, "I103");
        let evidence = &f["evidence"];
        assert_eq!(evidence["height"], 128, "{name}: {f}");
        let rows = evidence["rows_decoded"].as_u64().unwrap_or_else(|| panic!("{name}: {f}"));
        let message = f["message"].as_str().unwrap();
        if name.ends_with(".tiff") {
            let kind = want["kind"].as_str().unwrap();
            assert_eq!(evidence[kind], want["total"], "{name}: {f}");
            assert_eq!(evidence[format!("{kind}_decoded")], want["decoded"], "{name}: {f}");
            assert_eq!(rows, want["rows"].as_u64().unwrap(), "{name}: {f}");
            let said = format!("{} of {} {kind} decoded ({rows} of 128 rows)", want["decoded"], want["total"]);
            assert!(message.contains(&said), "{name}: {message}");
        } else if name.starts_with("progressive") {
            progressive_scans.push(evidence["scans_complete"].as_u64().unwrap());
            assert!(message.contains("whole scans"), "{name}: {message}");
        } else {
            let pillow = want["pillow_rows_intact"].as_u64().unwrap();
            assert!(rows.abs_diff(pillow) <= 1 && rows < 128, "{name}: {rows} rows, Pillow {pillow}");
            assert!(message.contains(&format!("{rows} of 128 rows decoded")), "{name}: {message}");
            assert!(evidence.get("scans_complete").is_none(), "{name}: {f}");
        }
    }
    // Cut later, more scans are whole.
    assert_eq!(progressive_scans.len(), 3);
    assert!(progressive_scans.windows(2).all(|w| w[0] < w[1]), "{progressive_scans:?}");
}

#[test]
fn keep_aspect_judges_the_size_a_pipeline_that_keeps_it_generates_at() {
    // A 144x256 portrait: a square resize stretches and upscales it;
    // EchoMimicV3 generates at its own aspect.
    let portrait = common::cli::fixture("postmortem/deploy_v3/datasets/echomimicv3_demos/imgs/01.jpg");
    let (_, square) = check(&[&portrait]);
    assert_eq!(codes(&square), ["I116", "I119"]);
    let (code, kept) = check(&["--keep-aspect", &portrait]);
    assert_eq!((code, codes(&kept)), (0, Vec::<String>::new()));
}
