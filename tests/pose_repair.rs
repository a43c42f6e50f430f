//! `nanscope pose repair`: repaired folders re-check clean, load in NumPy,
//! and the input is never modified.

use std::collections::BTreeMap;
use std::path::Path;

use common::cli::run as nanscope;

mod common;

fn fixture(name: &str) -> String {
    common::cli::fixture(&format!("pose/{name}"))
}

fn snapshot(dir: &str) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn a_repaired_echomimic_folder_checks_clean_and_the_input_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repaired");
    let before = snapshot(&fixture("echomimic_faulty"));
    let (code, report, stderr) =
        nanscope(&["pose", "repair", &fixture("echomimic_faulty"), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr} {report:#}");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{:#}", report["findings"]);
    assert_eq!(report["summary"]["findings_before"], 6);
    let repairs = report["repairs"].as_array().unwrap();
    let did = |frame: u64, action: &str| repairs.iter().any(|r| r["frame"] == frame && r["action"] == action);
    assert!(did(3, "interpolated") && did(7, "recreated") && did(10, "num-fixed") && did(14, "interpolated"));
    assert!(did(18, "interpolated") && did(20, "params-rewritten"));
    assert_eq!(snapshot(&fixture("echomimic_faulty")), before);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 24);

    let (code, report, _) = nanscope(&["pose", "check", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{:#}", report["findings"]);
    numpy_loads(&out);
}

/// Loads every repaired file with NumPy and checks the structure EchoMimicV2's
/// inference expects from `np.load(path, allow_pickle=True).tolist()`.
// A skipped round trip must say so in the test output.
#[allow(clippy::print_stderr)]
fn numpy_loads(dir: &Path) {
    let probe = std::process::Command::new("python3").args(["-c", "import numpy"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped the NumPy round trip: python3 with numpy is not installed (scripts/test.sh installs it)");
        return;
    }
    let script = r#"
import os, sys, warnings
import numpy as np
warnings.simplefilter("error")
folder = sys.argv[1]
names = sorted(os.listdir(folder), key=lambda n: int(n[:-4]))
assert names == [f"{i}.npy" for i in range(len(names))], names
for i, name in enumerate(names):
    d = np.load(os.path.join(folder, name), allow_pickle=True).tolist()
    assert list(d) == ["bodies", "hands", "hands_score", "faces", "faces_score", "num", "draw_pose_params"], list(d)
    assert list(d["bodies"]) == ["candidate", "subset", "score"]
    for arr in [d["bodies"]["candidate"], d["bodies"]["subset"], d["bodies"]["score"], d["hands"],
                d["hands_score"], d["faces"], d["faces_score"]]:
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float64, arr.dtype
        assert np.isfinite(arr).all()
    assert d["hands"].shape == (2, 21, 2) and d["hands_score"].shape == (2, 21)
    assert d["bodies"]["candidate"].shape == (18, 2) and d["faces"].shape == (1, 68, 2)
    assert type(d["num"]) is int and d["num"] == i
    assert d["draw_pose_params"] == [768, 768, 0, 768, 0, 768]
    assert all(type(v) is int for v in d["draw_pose_params"])
print("numpy", np.__version__, "loaded", len(names))
"#;
    let output = std::process::Command::new("python3").args(["-c", script]).arg(dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("loaded 24"));
}

#[test]
fn repair_refuses_occupied_outputs_and_the_input_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), b"x").unwrap();
    let (code, _, stderr) =
        nanscope(&["pose", "repair", &fixture("echomimic_faulty"), "-o", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--force"), "{stderr}");
    let (code, _, stderr) =
        nanscope(&["pose", "repair", &fixture("echomimic_faulty"), "-o", &fixture("echomimic_faulty")]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = nanscope(&["pose", "repair", &fixture("echomimic_faulty")]);
    assert_eq!(code, 2);
}

#[test]
fn openpose_repairs_stay_json_and_smoothing_keeps_them_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixed");
    let (code, report, stderr) = nanscope(&[
        "pose",
        "repair",
        &fixture("openpose"),
        "-o",
        out.to_str().unwrap(),
        "--smooth",
        "savgol",
        "--window",
        "5",
    ]);
    assert_eq!(code, 0, "{stderr} {report:#}");
    let names: Vec<String> = snapshot(out.to_str().unwrap()).into_keys().collect();
    assert_eq!(names.len(), 6);
    assert!(names.contains(&"clip_000000000004_keypoints.json".to_string()));
    let (code, report, _) = nanscope(&["pose", "check", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{:#}", report["findings"]);
    assert_eq!(report["format"], "controlnet");
}
