//! `nanscope postmortem` on the incident run folders made by
//! fixtures/make_postmortem.py: the root cause, the chain and the findings
//! it cites, the input policy, the HTML report (and, where Chromium and
//! Playwright are installed, that page opened in a real headless browser).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn incident(name: &str) -> PathBuf {
    root().join("fixtures/postmortem").join(name)
}

fn run(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nanscope"))
        .current_dir(root())
        .arg("postmortem")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(incident(name).join("expected.json")).unwrap()).unwrap()
}

fn finding<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["findings"].as_array().unwrap().iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no finding {id}"))
}

/// The verdict names the expected cause, every expected stage is in the chain,
/// and every id a link cites is a finding of the report.
fn assert_verdict(name: &str) -> Value {
    let (code, report, stderr) = run(&[&format!("fixtures/postmortem/{name}")]);
    let want = expected(name);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], want["root_cause"], "{name}: {verdict:#}\n{stderr}");
    let stages: Vec<&str> = verdict["chain"].as_array().unwrap().iter().map(|l| l["stage"].as_str().unwrap()).collect();
    for stage in want["chain_stages"].as_array().unwrap() {
        assert!(stages.contains(&stage.as_str().unwrap()), "{name}: {stage} not in {stages:?}");
    }
    for link in verdict["chain"].as_array().unwrap() {
        for id in link["findings"].as_array().unwrap() {
            finding(&report, id.as_str().unwrap());
        }
        assert!(["observed", "predicted"].contains(&link["basis"].as_str().unwrap()));
    }
    let healthy = want["root_cause"] == "K120";
    assert_eq!(code, if healthy { 0 } else { 1 }, "{name}: {stderr}");
    report
}

#[test]
fn seed_cascade_is_quantization_overflow_with_the_whole_chain() {
    let report = assert_verdict("seed");
    let verdict = &report["verdict"];
    assert_eq!(verdict["confidence"], "high");
    let link = |stage: &str| verdict["chain"].as_array().unwrap().iter().find(|l| l["stage"] == stage).unwrap().clone();
    // The checkpoint and the log both show the quantization.
    let quant = link("quantization");
    assert_eq!(quant["basis"], "observed");
    let evidence = quant["evidence"].to_string();
    assert!(evidence.contains("denoising_unet.pth") && evidence.contains("torchao"), "{evidence}");
    assert!(evidence.contains("run.log:2"), "{evidence}");
    // The dump names the producer, observed.
    let unet = link("denoising UNet");
    assert_eq!(unet["basis"], "observed");
    let producer = finding(&report, unet["findings"][0].as_str().unwrap());
    assert_eq!(producer["code"], "R120");
    assert_eq!(producer["subject"]["module"], "denoising_unet.up_blocks.1.attentions.0.proj_out");
    assert_eq!(producer["subject"]["step"], 3);
    // NaN in the saved tensor, black frames 8-15, the failed mux.
    let vae = link("VAE decode");
    assert_eq!(finding(&report, vae["findings"][0].as_str().unwrap())["code"], "V130");
    assert!(link("uint8 cast")["evidence"].to_string().contains("invalid value encountered in cast"));
    let frames = link("video frames");
    assert_eq!(frames["says"], "frames 8-15 are black");
    let mux = link("encoder / mux");
    let mux_codes: Vec<&Value> =
        mux["findings"].as_array().unwrap().iter().map(|id| &finding(&report, id.as_str().unwrap())["code"]).collect();
    assert!(mux_codes.contains(&&json!("V107")), "{mux_codes:?}");
    assert!(mux["evidence"].to_string().contains("0 bytes read"));
    // The fix is ready to paste with the user's module name; the stopgap re-encodes with the audio.
    let fix = verdict["fix"].to_string();
    assert!(fix.contains(r#"\"up_blocks.1.attentions.0.proj_out\""#), "{fix}");
    assert!(
        fix.contains(
            "nanscope video encode fixtures/postmortem/seed/output/video.npy --audio fixtures/postmortem/seed/audio.wav"
        ),
        "{fix}"
    );
    // Competing explanations say why they rank lower.
    let competing = verdict["competing"].as_array().unwrap();
    assert!(
        competing.iter().any(|c| c["cause"]["code"] == "K108" && c["why_lower"].as_str().unwrap().contains("not why"))
    );
    // Every finding carries an id and its artifact.
    for f in report["findings"].as_array().unwrap() {
        assert!(f["id"].as_str().unwrap().starts_with('F'));
        assert!(f["evidence"]["artifact"].is_string());
    }
}

#[test]
fn artifacts_are_recognised_by_content() {
    let (_, report, _) = run(&["fixtures/postmortem/seed"]);
    let kinds: Vec<(String, String)> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let path = a["path"].as_str().unwrap().trim_start_matches("fixtures/postmortem/seed/").to_string();
            (path, a["kind"].as_str().unwrap().to_string())
        })
        .collect();
    let want = [
        ("audio.wav", "audio"),
        ("dump", "dump"),
        ("expected.json", "unknown"),
        ("infer.yaml", "config"),
        ("output/video.mp4", "video"),
        ("output/video.npy", "video-tensor"),
        ("poses", "poses"),
        ("pretrained_weights/denoising_unet.pth", "weights"),
        ("pretrained_weights/motion_module.pth", "weights"),
        ("pretrained_weights/pose_encoder.pth", "weights"),
        ("pretrained_weights/reference_unet.pth", "weights"),
        ("pretrained_weights/sd-vae-ft-mse", "weights"),
        ("ref.png", "image"),
        ("run.log", "log"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(p, k)| (p.to_string(), k.to_string())).collect();
    assert_eq!(kinds, want);
    let unknown = report["artifacts"].as_array().unwrap().iter().find(|a| a["kind"] == "unknown").unwrap();
    assert_eq!(unknown["checks"], json!([]));
    assert_eq!(unknown["summary"], "not judged");
}

#[test]
fn broken_poses_alone_are_the_cause() {
    let report = assert_verdict("broken_pose");
    assert!(
        report["verdict"]["fix"].to_string().contains("nanscope pose repair fixtures/postmortem/broken_pose/poses")
    );
}

#[test]
fn nan_in_the_vae_checkpoint_is_damaged_weights() {
    let report = assert_verdict("corrupt_vae");
    let link = &report["verdict"]["chain"][0];
    assert!(link["says"].as_str().unwrap().contains("VAE"), "{link}");
    let cited = finding(&report, link["findings"][0].as_str().unwrap());
    assert_eq!(cited["code"], "W101");
    assert!(cited["subject"]["file"].as_str().unwrap().contains("sd-vae-ft-mse"));
}

/// A whole clone of the base pipeline brings a VAE the run never loads:
/// NaN in it is listed, not the cause. NaN in the VAE the config loads is,
/// but when the run's video decodes clean, the chain says that the video
/// contradicts it, and the confidence is low.
#[test]
fn nan_in_a_vae_the_run_never_loaded_or_after_its_video_is_told_apart() {
    let broken = incident("corrupt_vae").join("pretrained_weights/sd-vae-ft-mse");
    let (_dir, run_dir) = copy_of("deploy_healthy");
    let base_vae = run_dir.join("pretrained_weights/sd-image-variations-diffusers/vae");
    copy_dir(&broken, &base_vae);
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["verdict"]);
    let listed = artifact(&report, "sd-image-variations-diffusers/vae");
    assert_eq!((&listed["unused"], &listed["checks"]), (&json!(true), &json!([])), "{listed}");
    assert!(listed["summary"].as_str().unwrap().contains("takes only unet/ from the base model"), "{listed}");
    assert_eq!(artifact(&report, "sd-image-variations-diffusers/unet")["component"], "base-unet");

    std::fs::remove_dir_all(&base_vae).unwrap();
    copy_dir(&broken, &run_dir.join("pretrained_weights/sd-vae-ft-mse"));
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K103", "{verdict:#}\n{stderr}");
    assert_eq!(verdict["confidence"], "low", "{verdict:#}");
    let decode = link(&report, "VAE decode");
    assert_eq!(decode["basis"], "predicted");
    assert!(decode["says"].as_str().unwrap().contains("i0_sig.mp4 decodes clean"), "{decode}");
    assert!(verdict["headline"].as_str().unwrap().contains("made before the damage"), "{verdict:#}");
}

#[test]
fn a_truncated_reference_image_is_the_cause() {
    let report = assert_verdict("bad_reference");
    let link = &report["verdict"]["chain"][0];
    let cited = finding(&report, link["findings"][0].as_str().unwrap());
    assert_eq!(cited["code"], "I103");
    assert!(cited["subject"]["file"].as_str().unwrap().ends_with("ref.png"));
}

#[test]
fn a_healthy_run_says_so() {
    let report = assert_verdict("healthy");
    assert_eq!(report["summary"]["error"], 0);
    assert_eq!(report["verdict"]["competing"], json!([]));
}

#[test]
fn explicit_artifacts_override_discovery() {
    let seed = "fixtures/postmortem/seed";
    let (code, report, stderr) = run(&[
        "--video",
        &format!("{seed}/output/video.mp4"),
        "--dump",
        &format!("{seed}/dump"),
        "--log",
        &format!("{seed}/run.log"),
    ]);
    assert_eq!(code, 1, "{stderr}");
    let recognised: Vec<&str> =
        report["artifacts"].as_array().unwrap().iter().map(|a| a["recognised_by"].as_str().unwrap()).collect();
    assert_eq!(recognised, ["--video", "--log", "--dump"]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K101");
}

#[test]
fn missing_and_empty_inputs_follow_the_policy() {
    let (code, _, stderr) = run(&["fixtures/postmortem/no-such-run"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no-such-run: no such file or directory"), "{stderr}");
    let empty = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&[empty.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nothing to check"), "{stderr}");
}

#[test]
fn json_snapshot_of_the_seed_verdict() {
    let (_, report, _) = run(&["fixtures/postmortem/seed"]);
    let findings: Vec<Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| json!({"id": f["id"], "code": f["code"], "severity": f["severity"], "artifact": f["evidence"]["artifact"]}))
        .collect();
    let artifacts: Vec<Value> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| json!({"path": a["path"], "kind": a["kind"], "recognised_by": a["recognised_by"], "checks": a["checks"], "findings": a["findings"]}))
        .collect();
    let shape = json!({
        "schema_version": report["schema_version"],
        "command": report["command"],
        "verdict": report["verdict"],
        "artifacts": artifacts,
        "findings": findings,
    });
    insta::assert_json_snapshot!(shape);
}

#[test]
fn html_report_is_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_nanscope"))
        .current_dir(root())
        .args(["postmortem", "fixtures/postmortem/seed", "--format", "html", "-o"])
        .arg(&page_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(&page_path).unwrap();
    let verdict_at = page.find("id=\"verdict\"").unwrap();
    assert!(verdict_at < page.find("id=\"findings\"").unwrap(), "the verdict comes first");
    assert!(page.contains("quantization-overflow"));
    assert!(page.contains("Content-Security-Policy"));
    assert!(!page.contains("<script"));
    for external in ["http://", "https://", "src=\"//", "@import", "url("] {
        assert!(!page.contains(external), "{external}");
    }
    // Plots: the video chart and contact sheet, the pose sheet, the trace timeline.
    let titles = ["Per-frame luma and flags", "Contact sheet", "Pose sheet", "Trace timeline", "Reference image"];
    for title in titles {
        assert!(page.contains(&format!("alt=\"{title}\" src=\"data:image/png;base64,")), "{title}");
    }
    assert!(page.contains("id=\"download-json\""));
    browser_check(&page_path, dir.path());
}

/// Opens the page in headless Chromium through scripts/browser_check.py.
/// Skipped when Chromium or Playwright is missing, unless
/// NANSCOPE_BROWSER_TEST=require (scripts/test.sh sets it after installing both).
#[allow(clippy::print_stderr)] // a skipped check says so in the test output
fn browser_check(page: &Path, dir: &Path) {
    let required = std::env::var("NANSCOPE_BROWSER_TEST").is_ok_and(|v| v == "require");
    let chromium = Path::new("/usr/bin/chromium").exists();
    let playwright = Command::new("python3").args(["-c", "import playwright"]).status().is_ok_and(|s| s.success());
    if !(chromium && playwright) {
        assert!(!required, "NANSCOPE_BROWSER_TEST=require but chromium={chromium} playwright={playwright}");
        eprintln!("skipping the browser check: chromium={chromium} playwright={playwright}");
        return;
    }
    let screenshot = dir.join("verdict.png");
    let out = Command::new("python3")
        .arg(root().join("scripts/browser_check.py"))
        .arg(page)
        .arg(&screenshot)
        .arg("quantization-overflow")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000, "{text}");
}

/// The code of the finding a link cites, for each id it cites.
fn cited_codes(report: &Value, link: &Value) -> Vec<String> {
    link["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| finding(report, id.as_str().unwrap())["code"].as_str().unwrap().to_string())
        .collect()
}

/// The artifact whose path ends with `suffix`.
fn artifact<'a>(report: &'a Value, suffix: &str) -> &'a Value {
    let artifacts = report["artifacts"].as_array().unwrap();
    artifacts.iter().find(|a| a["path"].as_str().unwrap().ends_with(suffix)).unwrap_or_else(|| panic!("no {suffix}"))
}

fn link<'a>(report: &'a Value, stage: &str) -> &'a Value {
    report["verdict"]["chain"].as_array().unwrap().iter().find(|l| l["stage"] == stage).unwrap()
}

#[test]
fn a_healthy_deployment_says_so() {
    let report = assert_verdict("deploy_healthy");
    assert_eq!(report["verdict"]["competing"], json!([]));
    let kinds: Vec<(&str, &str)> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let path = a["path"].as_str().unwrap().trim_start_matches("fixtures/postmortem/deploy_healthy/");
            (path, a["kind"].as_str().unwrap())
        })
        .collect();
    for want in [
        ("assets/halfbody_demo/pose/01", "poses"),
        ("assets/halfbody_demo/refimag/natural_bk_openhand/0014.png", "image"),
        ("assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav", "audio"),
        ("configs/inference/inference_v2.yaml", "config"),
        ("configs/prompts/infer.yaml", "config"),
        ("configs/prompts/infer_acc.yaml", "config"),
        ("pretrained_weights/audio_processor/tiny.pt", "weights"),
        ("pretrained_weights/denoising_unet_acc.pth", "weights"),
        ("pretrained_weights/sd-image-variations-diffusers/unet", "weights"),
        ("pretrained_weights/sd-vae-ft-mse", "weights"),
        (
            "outputs/pretrained_weights-itermotion_module-seed3407/natural_bk_openhand.0014.png/01/\
             0014-a-echomimicv2_woman-i0_sig.mp4",
            "video",
        ),
        ("server.log", "log"),
        // The checkout's own code and the benchmark's list are no log,
        // config or pickle (the CSV's first bytes reach a STOP as opcodes).
        ("infer.py", "unknown"),
        ("app.py", "unknown"),
        ("EMTD_dataset/echomimicv2_benchmark_url+start_timecode+end_timecode.txt", "unknown"),
        // A venv inside the checkout is one entry: its headers, path files
        // and NumPy test arrays are not the run's.
        ("venv", "unknown"),
    ] {
        assert!(kinds.contains(&want), "{want:?} not in {kinds:?}");
    }
    assert!(!kinds.iter().any(|(path, _)| path.starts_with("venv/")), "{kinds:?}");
    // The training config names checkpoints the deployment does not have: its
    // findings are listed, but infer.yaml resolves every file, so it is not the run's.
    let animation = artifact(&report, "configs/prompts/animation.yaml");
    assert_eq!(animation["unused"], true, "{animation}");
    assert!(!animation["findings"].as_array().unwrap().is_empty());
    assert_eq!(report["summary"]["warning"], 0);
}

#[test]
fn a_deployment_cloned_without_git_lfs_names_its_pointer_files() {
    let report = assert_verdict("deploy_lfs_pointers");
    let weights = link(&report, "weights");
    assert_eq!(weights["basis"], "observed");
    // The six pointers infer.yaml loads (not the accelerated variant's two),
    // and the server log's `invalid load key, 'v'`.
    let codes = cited_codes(&report, weights);
    assert_eq!(codes.iter().filter(|c| *c == "F112").count(), 6, "{codes:?}");
    assert_eq!(codes.last().map(String::as_str), Some("L118"), "{codes:?}");
    assert!(weights["evidence"].to_string().contains("server.log:7:"), "{weights}");
    assert!(weights["says"].as_str().unwrap().starts_with("6 checkpoint files are Git LFS pointers"), "{weights}");
    let acc = artifact(&report, "pretrained_weights/denoising_unet_acc.pth");
    assert_eq!((&acc["unused"], &acc["checks"]), (&json!(true), &json!([])), "{acc}");
    let paste = report["verdict"]["fix"][0]["paste"].as_str().unwrap();
    let root = "fixtures/postmortem/deploy_lfs_pointers/pretrained_weights";
    for pull in [
        format!("git -C {root} lfs pull"),
        format!("git -C {root}/sd-vae-ft-mse lfs pull"),
        format!("git -C {root}/sd-image-variations-diffusers/unet lfs pull"),
    ] {
        assert!(paste.lines().any(|l| l == pull), "{pull} not in {paste}");
    }
    let pointer = finding(&report, "F1");
    assert!(pointer["evidence"]["oid"].as_str().unwrap().starts_with("sha256:"), "{pointer}");
    assert_eq!(report["summary"]["error"], 7);
    // Whisper's tiny.pt arrived whole and is read as the checkpoint it is.
    let tiny = artifact(&report, "audio_processor/tiny.pt");
    assert!(tiny["summary"].as_str().unwrap().ends_with("clean"), "{tiny}");
}

#[test]
fn a_deployment_without_its_motion_module_cites_the_config_and_the_log() {
    let report = assert_verdict("deploy_no_motion_module");
    let weights = link(&report, "weights");
    assert_eq!(weights["basis"], "observed");
    assert_eq!(cited_codes(&report, weights), ["C103", "L111"]);
    let evidence = weights["evidence"].to_string();
    assert!(evidence.contains("configs/prompts/infer.yaml:7: motion_module_path"), "{evidence}");
    assert!(evidence.contains("server.log:4:"), "{evidence}");
    assert!(weights["says"].as_str().unwrap().contains("motion module"), "{weights}");
}

#[test]
fn a_deployment_with_the_seed_cascade_cites_the_log_findings_by_id() {
    let report = assert_verdict("deploy_seed");
    let quant = link(&report, "quantization");
    assert_eq!(cited_codes(&report, quant), ["L110"]);
    let evidence = quant["evidence"].to_string();
    assert!(evidence.contains("denoising_unet.pth: 13 tensors stored quantized (torchao int8)"), "{evidence}");
    assert!(evidence.contains("server.log:5:"), "{evidence}");
    // No dump: the UNet link is a prediction; the log's lines are observed.
    assert_eq!(link(&report, "denoising UNet")["basis"], "predicted");
    let cast = link(&report, "uint8 cast");
    assert_eq!(
        (cast["basis"].as_str(), cited_codes(&report, cast)),
        (Some("observed"), vec!["L101".into(), "L104".into()])
    );
    let mux = link(&report, "encoder / mux");
    assert!(cited_codes(&report, mux).contains(&"L105".to_string()));
    assert!(mux["evidence"].to_string().contains("server.log:16:"));
    // The log named int8_weight_only: that scheme was simulated on the UNet,
    // and the modules to exclude are Linear ones (conv_in and conv_out are not).
    let damage = link(&report, "quantization damage");
    assert!(damage["says"].as_str().unwrap().starts_with("simulating int8-channel"), "{damage}");
    let fix = report["verdict"]["fix"][0]["paste"].as_str().unwrap_or_default().to_string();
    assert!(!fix.contains("\"conv_in\"") && !fix.contains("\"conv_out\""), "{fix}");
}

/// A ComfyUI install running the ComfyUI_EchoMimic node: the node ships
/// EchoMimicV2's prompt configs, whose `./pretrained_weights` paths exist
/// nowhere, and never reads them. The verdict comes from the weights under
/// models/ and ComfyUI's log, and the next steps fit ComfyUI.
#[test]
fn a_comfyui_install_is_judged_by_its_models_not_by_the_node_s_configs() {
    let report = assert_verdict("deploy_comfyui");
    let root = "fixtures/postmortem/deploy_comfyui";
    let quant = link(&report, "quantization");
    let evidence = quant["evidence"].to_string();
    assert!(evidence.contains("models/echo_mimic/v2/denoising_unet.pth: 13 tensors stored quantized"), "{evidence}");
    let infer = artifact(&report, "custom_nodes/ComfyUI_EchoMimic/echomimic_v2/configs/prompts/infer.yaml");
    assert_eq!(infer["unused"], true, "{infer}");
    assert!(infer["summary"].as_str().unwrap().contains("a ComfyUI node ships it"), "{infer}");
    for f in report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "C102" || f["code"] == "C103") {
        assert_eq!(f["severity"], "info", "{f}");
    }
    // Another node's cut-off example image and another model's NaN checkpoint are the
    // install's, not the run's: listed, not walked.
    for other in ["custom_nodes/comfyui_controlnet_aux", "models/checkpoints"] {
        let listed = artifact(&report, other);
        assert!(listed["recognised_by"].as_str().unwrap().ends_with("not walked"), "{listed}");
    }
    let whisper = artifact(&report, "models/echo_mimic/audio_processor/whisper_tiny.pt");
    assert_eq!(whisper["component"], "audio-processor");
    // ComfyUI's write stamps do not hide the cast warning or the failed mux.
    assert_eq!(cited_codes(&report, link(&report, "uint8 cast")), ["L101"]);
    let mux = link(&report, "encoder / mux");
    assert!(cited_codes(&report, mux).contains(&"L105".to_string()), "{mux}");
    assert!(mux["evidence"].to_string().contains("comfyui.log:14:"), "{mux}");
    // The checkpoint itself is quantized: the fix puts the float one back.
    let pastes = |section: &str| -> Vec<String> {
        let actions = report["verdict"][section].as_array().unwrap();
        actions.iter().filter_map(|a| a["paste"].as_str().map(str::to_string)).collect()
    };
    let download = format!(
        "huggingface-cli download BadToBest/EchoMimicV2 denoising_unet.pth --local-dir {root}/models/echo_mimic/v2"
    );
    assert!(pastes("fix").contains(&download), "{:?}", pastes("fix"));
    // The probe starts ComfyUI; the replay names the base UNet where ComfyUI keeps it.
    let next = pastes("next").join("\n");
    assert!(next.contains(&format!("cd {root} && python -m nanscope.probe run --out dump main.py")), "{next}");
    assert!(next.contains(&format!("unet_config = \"{root}/models/echo_mimic/unet/config.json\"")), "{next}");
    assert!(next.contains(&format!("# {root}/models/vae/sd-vae-ft-mse.safetensors is one file")), "{next}");
    assert!(!next.contains("pretrained_weights/"), "{next}");
}

/// A ComfyUI install running EchoMimicV2-ComfyUI's node with its low-VRAM
/// option on: the node quantizes the VAE and the reference UNet when it
/// loads them and logs nothing of it; the saved workflow holds the option.
/// The verdict stays with what was observed, and the next step turns the
/// option off by its name. The node's example workflow is not the run's.
#[test]
fn a_comfyui_workflow_s_low_vram_option_is_read_from_the_saved_workflow() {
    let report = assert_verdict("deploy_comfyui_lowvram");
    let workflow = artifact(&report, "user/default/workflows/echomimic.json");
    assert_eq!(workflow["kind"], "config", "{workflow}");
    let option = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "C113").unwrap();
    assert_eq!(option["subject"]["key"], "EchoMimicV2Node.if_low_varm", "{option}");
    assert_eq!(option["evidence"]["models"], json!(["vae", "reference_unet"]), "{option}");
    let verdict = &report["verdict"];
    assert!(!verdict["chain"].to_string().contains("quantized weights"), "{verdict:#}");
    let next = verdict["next"][0]["what"].as_str().unwrap();
    assert!(next.starts_with("The run quantized vae and reference_unet"), "{next}");
    assert!(next.contains(option["id"].as_str().unwrap()), "{next}");
    assert!(next.contains("set EchoMimicV2Node.if_low_varm to false in the workflow"), "{next}");
    let example = artifact(&report, "custom_nodes/EchoMimicV2-ComfyUI/doc/base_workflow.json");
    assert_eq!(example["unused"], true, "{example}");
    assert!(example["summary"].as_str().unwrap().contains("ships it as an example"), "{example}");
    // The node's own example image is not an input ComfyUI reads: listed, not checked.
    let image = artifact(&report, "custom_nodes/EchoMimicV2-ComfyUI/doc/0035_768.png");
    assert_eq!((&image["unused"], &image["checks"]), (&json!(true), &json!([])), "{image}");
    assert!(image["summary"].as_str().unwrap().contains("a ComfyUI node ships it"), "{image}");
    // input/ keeps every upload; the workflow names the run's, and the rest
    // (a cut-off image among them) are listed, not checked.
    for (other, loaded) in [("input/upload_0413.png", "0035_768.png"), ("input/take_2.wav", "speech.wav")] {
        let listed = artifact(&report, other);
        assert_eq!(listed["unused"], true, "{listed}");
        assert_eq!(listed["checks"], json!([]), "{listed}");
        assert!(listed["summary"].as_str().unwrap().ends_with(&format!("the workflow loads {loaded}")), "{listed}");
    }
    assert_eq!(artifact(&report, "input/0035_768.png")["checks"], json!(["image check"]));
    assert_eq!(artifact(&report, "input/speech.wav")["checks"], json!(["audio"]));
    // The pose node reads the node's own poses; an earlier run's broken ones
    // in output/ are listed, not checked.
    assert_eq!(
        artifact(&report, "custom_nodes/EchoMimicV2-ComfyUI/echomimicv2/pose/01")["checks"],
        json!(["pose check"])
    );
    let earlier = artifact(&report, "output/EchoMimicV2/DWPose/pose/dance");
    assert_eq!((&earlier["unused"], &earlier["checks"]), (&json!(true), &json!([])), "{earlier}");
    let why = earlier["summary"].as_str().unwrap();
    assert!(why.ends_with("the workflow reads custom_nodes/EchoMimicV2-ComfyUI/echomimicv2/pose/01"), "{why}");
    // The node's current widgets: no false alarm from reading them in the old order.
    let codes: Vec<&str> = report["findings"].as_array().unwrap().iter().filter_map(|f| f["code"].as_str()).collect();
    assert!(!codes.contains(&"C109") && !codes.contains(&"C110"), "{codes:?}");
    // The weights under models/AIFSH/ are recognised by their layout.
    let vae = artifact(&report, "models/AIFSH/EchoMimicV2/sd-vae-ft-mse");
    assert_eq!(vae["component"], "vae", "{vae}");
}

/// ComfyUI's error report, saved beside the run, attaches the workflow that
/// failed as one line of JSON: its settings are read from there, cited at
/// the report's line, and the OS the report states counts.
#[test]
fn an_error_report_s_attached_workflow_is_read() {
    let (_dir, run_dir) = copy_of("deploy_comfyui_lowvram");
    let saved = run_dir.join("user/default/workflows/echomimic.json");
    let workflow: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    std::fs::remove_file(&saved).unwrap();
    let report_for = |os: &str| {
        format!(
            "\n# ComfyUI Error Report\n## Error Details\n- **Node ID:** 1\n- **Node Type:** EchoMimicV2Node\n\
             - **Exception Type:** OSError\n- **Exception Message:** MoviePy error: failed to read the first frame \
             of audio file /srv/ComfyUI/output/EchoMimicV2/tmp3n9vd0c4.wav: 1536 bytes wanted but 0 bytes read\n\
             ## Stack Trace\n```\n  File \"/srv/ComfyUI/execution.py\", line 323, in execute\n```\n\
             ## System Information\n- **ComfyUI Version:** 0.3.10\n- **OS:** {os}\n## Logs\n```\n\
             2024-12-16T18:55:00.195834 - got prompt\n```\n## Attached Workflow\nPlease make sure that workflow \
             does not contain any sensitive information such as API keys or passwords.\n```\n{workflow}\n```\n\n\
             ## Additional Context\n(Please add any additional context or steps to reproduce the error here)\n"
        )
    };
    let error_report = run_dir.join("comfyui_error_report.md");
    std::fs::write(&error_report, report_for("posix")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let attached = artifact(&report, "comfyui_error_report.md");
    assert_eq!(attached["checks"], json!(["log check", "config check (attached workflow)"]), "{attached}");
    let option = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "C113").unwrap();
    assert!(option["subject"]["file"].as_str().unwrap().ends_with("comfyui_error_report.md"), "{option}\n{stderr}");
    assert_eq!(option["subject"]["line"], 22, "{option}");
    let text = std::fs::read_to_string(&error_report).unwrap();
    assert!(text.lines().nth(21).unwrap().starts_with("{\"last_node_id\""), "{text}");
    let next = report["verdict"]["next"][0]["what"].as_str().unwrap();
    assert!(next.contains("set EchoMimicV2Node.if_low_varm to false in the workflow"), "{next}");
    // The same report from Windows: the node's fallback there quantizes nothing.
    std::fs::write(&error_report, report_for("nt")).unwrap();
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    assert!(!report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "C113"), "{:#}", report["findings"]);
}

/// The same install on Windows, as ComfyUI's log says at its start: there
/// EchoMimicV2-ComfyUI's low-VRAM option quantizes nothing, so it is not
/// offered as the thing to turn off.
#[test]
fn the_low_vram_option_on_windows_quantizes_nothing() {
    let (_dir, run_dir) = copy_of("deploy_comfyui_lowvram");
    replace_in(&run_dir.join("user/comfyui.log"), "** Platform: Linux", "** Platform: Windows");
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K108", "{stderr}");
    assert!(!report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "C113"), "{:#}", report["findings"]);
    assert!(!report["verdict"]["next"].to_string().contains("if_low_varm"), "{:#}", report["verdict"]["next"]);
}

/// The frame rate the workflow's pose node states is the one the poses are
/// held against the audio at, unless `--fps` says otherwise; and
/// EchoMimicV2-ComfyUI's node starts the poses again when the audio
/// outlasts them, so fewer poses than audio frames is no error there.
#[test]
fn poses_are_held_against_the_audio_at_the_workflow_s_frame_rate() {
    let (_dir, run_dir) = copy_of("deploy_comfyui_lowvram");
    let saved = run_dir.join("user/default/workflows/echomimic.json");
    replace_in(&saved, "\"default\",\n        24,", "\"default\",\n        48,");
    // The node saves a copy of the audio it loads; the loaded one is held against the poses.
    std::fs::copy(run_dir.join("input/speech.wav"), run_dir.join("output/EchoMimicV2/tmp3n9vd0c4.wav")).unwrap();
    let length = |report: &Value| {
        let findings = report["findings"].as_array().unwrap();
        findings.iter().find(|f| f["code"] == "P114").cloned()
    };
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let found = length(&report).unwrap_or_else(|| panic!("no P114: {stderr}"));
    let message = found["message"].as_str().unwrap();
    assert!(message.contains("input/speech.wav (0.6875 s at 48 fps)"), "{message}");
    assert!(message.ends_with("the poses start again from the first after frame 15"), "{message}");
    assert_eq!(found["severity"], "info", "{found}");
    let (_, report, _) = run(&[run_dir.to_str().unwrap(), "--fps", "24"]);
    assert_eq!(length(&report), None, "{:#}", report["findings"]);
}

/// A silent video the pipeline writes before it muxes the audio into
/// another is not a failed mux while that other is there too: `app.py`
/// keeps its `_woa_sig.mp4` beside the `_sig.mp4`, and EchoMimicV2-ComfyUI
/// keeps the clip and its segments in `output/EchoMimicV2/`.
#[test]
fn silent_videos_written_on_the_way_to_the_muxed_one_are_not_a_failed_mux() {
    let out = "outputs/pretrained_weights-itermotion_module-seed3407/natural_bk_openhand.0014.png/01";
    let silent = incident("deploy_mux_failed").join(out).join("0014-a-echomimicv2_woman-i0_woa_sig.mp4");
    let v107 = |report: &Value| report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "V107");

    let (_dir, run_dir) = copy_of("deploy_healthy");
    std::fs::copy(&silent, run_dir.join(out).join("0014-a-echomimicv2_woman-i0_woa_sig.mp4")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["verdict"]);
    assert!(!v107(&report), "{:#}", report["findings"]);
    let kept = artifact(&report, "0014-a-echomimicv2_woman-i0_woa_sig.mp4");
    assert_eq!(kept["checks"], json!(["video check"]), "{kept}");
    assert!(kept["summary"].as_str().unwrap().contains("written without audio, which went into"), "{kept}");

    let (_dir, run_dir) = copy_of("deploy_comfyui_lowvram");
    let own = run_dir.join("output/EchoMimicV2");
    for name in ["tmpa8x2kq1w.mp4", "0_16_tmpa8x2kq1w.mp4"] {
        std::fs::copy(&silent, own.join(name)).unwrap();
    }
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K108", "{stderr}");
    assert!(!v107(&report), "{:#}", report["findings"]);
    // Without the muxed clip, the silence is the failed mux's evidence again.
    std::fs::remove_file(run_dir.join("output/tmpa8x2kq1w_tmp3n9vd0c4.mp4")).unwrap();
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    assert!(v107(&report), "{:#}", report["findings"]);
}

/// A checkout's demo assets hold many reference images, audio files and
/// pose folders; the entry point prints the ones it read (`Pose: …`,
/// `Reference: …`, `Audio: …`). The others are listed, not checked, and
/// the poses are held against the printed audio.
#[test]
fn the_inputs_the_log_prints_are_the_run_s_among_the_demo_assets() {
    let (_dir, run_dir) = copy_of("deploy_healthy");
    let demo = run_dir.join("assets/halfbody_demo");
    // Another pose folder, a frame missing; a cut-off image; a short audio file.
    copy_dir(&demo.join("pose/01"), &demo.join("pose/02"));
    std::fs::remove_file(demo.join("pose/02/5.npy")).unwrap();
    std::fs::create_dir_all(demo.join("refimag/other")).unwrap();
    let image = std::fs::read(demo.join("refimag/natural_bk_openhand/0014.png")).unwrap();
    std::fs::write(demo.join("refimag/other/0001.png"), &image[..image.len() / 3]).unwrap();
    std::fs::create_dir_all(demo.join("audio/english")).unwrap();
    let wav = std::fs::read(demo.join("audio/chinese/echomimicv2_woman.wav")).unwrap();
    std::fs::write(demo.join("audio/english/short.wav"), shortened_wav(&wav, 1600)).unwrap();
    // Outside the collections: a picture the README shows, cut off.
    std::fs::write(demo.join("wechat_group.png"), &image[..image.len() / 2]).unwrap();

    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["findings"]);
    for (other, printed) in [
        ("pose/02", "./assets/halfbody_demo/pose/01"),
        ("refimag/other/0001.png", "./assets/halfbody_demo/refimag/natural_bk_openhand/0014.png"),
        ("halfbody_demo/wechat_group.png", "./assets/halfbody_demo/refimag/natural_bk_openhand/0014.png"),
        ("audio/english/short.wav", "./assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav"),
    ] {
        let listed = artifact(&report, other);
        assert_eq!((&listed["unused"], &listed["checks"]), (&json!(true), &json!([])), "{listed}");
        assert!(listed["summary"].as_str().unwrap().ends_with(&format!("server.log names {printed}")), "{listed}");
    }
    // Held against the printed audio, the poses cover it; against the short one they would not.
    assert!(!report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "P114"), "{:#}", report["findings"]);
    let (_, report, _) =
        run(&[run_dir.to_str().unwrap(), "--audio", demo.join("audio/english/short.wav").to_str().unwrap()]);
    assert!(report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "P114"), "{:#}", report["findings"]);
    // Without the log, the path infer.py wrote the clip to names the same inputs.
    std::fs::remove_file(run_dir.join("server.log")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["findings"]);
    let listed = artifact(&report, "pose/02");
    let why = listed["summary"].as_str().unwrap();
    assert!(why.contains("the path of 0014-a-echomimicv2_woman-i0_sig.mp4 names"), "{listed}");
    assert!(why.ends_with("assets/halfbody_demo/pose/01"), "{listed}");
    assert!(!report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "P114"), "{:#}", report["findings"]);
    assert_eq!(artifact(&report, "halfbody_demo/wechat_group.png")["unused"], true);
    // Without the named reference, nothing says the picture outside the
    // collection was not the one read: it is checked again.
    std::fs::remove_file(demo.join("refimag/natural_bk_openhand/0014.png")).unwrap();
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(artifact(&report, "halfbody_demo/wechat_group.png")["checks"], json!(["image check"]));
}

/// A log of several generations (`infer_acc.py` runs every test case of its
/// config) pairs each pose folder with the audio printed after it.
#[test]
fn each_pose_folder_is_held_against_the_audio_of_its_own_generation() {
    let (_dir, run_dir) = copy_of("deploy_healthy");
    let demo = run_dir.join("assets/halfbody_demo");
    copy_dir(&demo.join("pose/01"), &demo.join("pose/good"));
    let wav = std::fs::read(demo.join("audio/chinese/echomimicv2_woman.wav")).unwrap();
    std::fs::write(demo.join("audio/chinese/good.wav"), shortened_wav(&wav, 1600)).unwrap();
    let log = run_dir.join("server.log");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str(
        "Pose: ./assets/halfbody_demo/pose/good/\nReference: ./assets/halfbody_demo/refimag/natural_bk_openhand/0014.png\n\
         Audio: ./assets/halfbody_demo/audio/chinese/good.wav\n",
    );
    std::fs::write(&log, text).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let counts: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "P114").collect();
    assert_eq!(counts.len(), 1, "{counts:?}\n{stderr}");
    assert!(counts[0]["subject"]["file"].as_str().unwrap().ends_with("pose/good"), "{}", counts[0]);
    assert!(counts[0]["message"].as_str().unwrap().contains("good.wav"), "{}", counts[0]);
    // Poses that outlast their audio are trimmed to it: nothing broke.
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}", report["verdict"]);
}

/// `infer_acc.py` reads no log-worthy flags: it runs each test case of its
/// config and writes `output/{date}/{time}--step_…/{ref}/{ref}-a-{audio}-i0_sig.mp4`.
/// Without a log, the clip's case names the run's inputs; without the clip
/// either, the config's test cases do, each pose folder held against its
/// own case's audio.
#[test]
fn the_test_cases_infer_acc_py_ran_name_the_run_s_inputs() {
    let (_dir, run_dir) = copy_of("deploy_healthy");
    std::fs::remove_file(run_dir.join("server.log")).unwrap();
    let demo = run_dir.join("assets/halfbody_demo");
    copy_dir(&demo.join("pose/01"), &demo.join("pose/good"));
    let wav = std::fs::read(demo.join("audio/chinese/echomimicv2_woman.wav")).unwrap();
    std::fs::write(demo.join("audio/chinese/good.wav"), shortened_wav(&wav, 1600)).unwrap();
    let refimag = demo.join("refimag/natural_bk_openhand");
    let image = std::fs::read(refimag.join("0014.png")).unwrap();
    std::fs::write(refimag.join("0082.png"), &image).unwrap();
    std::fs::write(demo.join("refimag/test.png"), &image[..image.len() / 3]).unwrap();
    as_infer_acc_run(&run_dir, "natural_bk_openhand/0082.png", "chinese/good.wav", "./assets/halfbody_demo/pose/good/");

    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["findings"]);
    assert_eq!(artifact(&report, "prompts/infer.yaml")["unused"], true);
    for other in ["pose/good", "natural_bk_openhand/0082.png", "refimag/test.png", "chinese/good.wav"] {
        let listed = artifact(&report, other);
        assert_eq!((&listed["unused"], &listed["checks"]), (&json!(true), &json!([])), "{listed}");
        let why = listed["summary"].as_str().unwrap();
        assert!(
            why.contains("the path of 0014-a-echomimicv2_woman-i0_sig.mp4 (test case 1 of infer_acc.yaml) names"),
            "{why}"
        );
    }
    assert!(!report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "P114"), "{:#}", report["findings"]);

    // Without the clip, nothing says which entry point ran: infer.py reads
    // no test cases, and its config is there.
    std::fs::remove_dir_all(run_dir.join("output")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(artifact(&report, "refimag/test.png")["checks"], json!(["image check"]), "{stderr}");
    // With only infer_acc.py's config, every case is the run's, and the
    // second case's poses outlast its audio.
    std::fs::remove_file(run_dir.join("configs/prompts/infer.yaml")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let listed = artifact(&report, "refimag/test.png");
    assert_eq!(listed["unused"], true, "{listed}\n{stderr}");
    assert!(listed["summary"].as_str().unwrap().contains("the test_cases of infer_acc.yaml name"), "{listed}");
    assert_eq!(artifact(&report, "pose/good")["checks"], json!(["pose check"]));
    let counts: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "P114").collect();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!(counts[0]["subject"]["file"].as_str().unwrap().ends_with("pose/good"), "{}", counts[0]);
    assert!(counts[0]["message"].as_str().unwrap().contains("good.wav"), "{}", counts[0]);

    // A case whose pose folder is not there stops infer_acc.py: C114 on the run's config.
    std::fs::remove_dir_all(demo.join("pose/good")).unwrap();
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    let stopped: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "C114").collect();
    assert_eq!(stopped.len(), 1, "{:#}", report["findings"]);
    assert_eq!(stopped[0]["severity"], "error");
    assert!(
        stopped[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("test case 2: the pose folder ./assets/halfbody_demo/pose/good/")
    );
}

/// `deploy_healthy` as `infer_acc.py` leaves it: a second test case in
/// `infer_acc.yaml` (the fixture's holds the first: 0014.png,
/// echomimicv2_woman.wav, pose/01/), and the first case's clip where
/// `infer_acc.py` writes it.
fn as_infer_acc_run(run_dir: &Path, reference: &str, audio: &str, poses: &str) {
    let config = run_dir.join("configs/prompts/infer_acc.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    let demo = "./assets/halfbody_demo";
    text.push_str(&format!("  \"{demo}/refimag/{reference}\":\n    - \"{demo}/audio/{audio}\"\n    - \"{poses}\"\n"));
    std::fs::write(&config, text).unwrap();
    let written = run_dir.join("output/20261207/0712--step_6-768x768--cfg_1.0/0014");
    std::fs::create_dir_all(&written).unwrap();
    let clip = "outputs/pretrained_weights-itermotion_module-seed3407/natural_bk_openhand.0014.png/01/0014-a-echomimicv2_woman-i0_sig.mp4";
    std::fs::rename(run_dir.join(clip), written.join("0014-a-echomimicv2_woman-i0_sig.mp4")).unwrap();
    std::fs::remove_dir_all(run_dir.join("outputs")).unwrap();
}

/// EchoMimicV2's `infer_acc.yaml` names two pose folders as
/// `../echomimic_v2/assets/…`, there only when the checkout's folder has that
/// name. In a checkout called otherwise, `infer_acc.py` writes the earlier
/// cases' clips and stops at the first of them.
#[test]
fn a_test_case_input_outside_the_checkout_stops_infer_acc_py() {
    let (dir, copied) = copy_of("deploy_healthy");
    let run_dir = dir.path().join("em");
    std::fs::rename(&copied, &run_dir).unwrap();
    std::fs::remove_file(run_dir.join("server.log")).unwrap();
    let demo = run_dir.join("assets/halfbody_demo");
    copy_dir(&demo.join("pose/01"), &demo.join("pose/fight"));
    let refimag = demo.join("refimag/natural_bk_openhand");
    std::fs::copy(refimag.join("0014.png"), refimag.join("0222.png")).unwrap();
    let pose = "../echomimic_v2/assets/halfbody_demo/pose/fight/";
    as_infer_acc_run(&run_dir, "natural_bk_openhand/0222.png", "chinese/echomimicv2_woman.wav", pose);
    let config = run_dir.join("configs/prompts/infer_acc.yaml");
    let stages = |report: &Value| -> Vec<(String, String)> {
        let chain = report["verdict"]["chain"].as_array().unwrap();
        chain
            .iter()
            .map(|l| (l["stage"].as_str().unwrap().to_string(), l["basis"].as_str().unwrap().to_string()))
            .collect()
    };
    let pair = |stage: &str, basis: &str| (stage.to_string(), basis.to_string());

    // The config alone: that the run stops there is predicted.
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K114", "{:#}\n{stderr}", report["verdict"]);
    assert_eq!(stages(&report), [pair("config", "observed"), pair("inputs", "predicted")]);
    assert_eq!(cited_codes(&report, &report["verdict"]["chain"][0]), ["C114"]);
    assert!(
        report["verdict"]["headline"].as_str().unwrap().contains("../echomimic_v2/assets/halfbody_demo/pose/fight/")
    );

    // infer_acc.py's log observes it.
    std::fs::write(
        run_dir.join("infer_acc.log"),
        "Pose: ./assets/halfbody_demo/pose/01/\nReference: ./assets/halfbody_demo/refimag/natural_bk_openhand/0014.png\n\
         Audio: ./assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav\n\
         Pose: ../echomimic_v2/assets/halfbody_demo/pose/fight/\n\
         Reference: ./assets/halfbody_demo/refimag/natural_bk_openhand/0222.png\n\
         Audio: ./assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav\n\
         Traceback (most recent call last):\n  File \"/home/u/em/infer_acc.py\", line 194, in main\n\
         \x20   args.L = min(args.L, int(audio_clip.duration * final_fps), len(os.listdir(inputs_dict['pose'])))\n\
         FileNotFoundError: [Errno 2] No such file or directory: '../echomimic_v2/assets/halfbody_demo/pose/fight/'\n",
    )
    .unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K114", "{:#}\n{stderr}", report["verdict"]);
    assert_eq!(stages(&report), [pair("config", "observed"), pair("inputs", "observed")]);
    assert_eq!(cited_codes(&report, &report["verdict"]["chain"][1]), ["L122"]);
    // The fix names the folder where it lies, as a line to paste; pasted, the config is whole again.
    let fix = &report["verdict"]["fix"][0];
    let paste = fix["paste"].as_str().unwrap();
    assert!(
        paste.starts_with(
            "sed -i -e 's#\\.\\./echomimic_v2/assets/halfbody_demo/pose/fight/#./assets/halfbody_demo/pose/fight/#' "
        ),
        "{fix}"
    );
    assert_eq!(report["verdict"]["next"][0]["paste"], format!("nanscope config check {}", config.display()));
    let status = std::process::Command::new("sh").arg("-c").arg(paste).status().unwrap();
    assert!(status.success());
    std::fs::remove_file(run_dir.join("infer_acc.log")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["findings"]);

    // An MP3 as a case's last entry is listed as its pose folder: the fix
    // makes a WAV of it and names that.
    let chinese = run_dir.join("assets/halfbody_demo/audio/chinese");
    let encoded = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(chinese.join("echomimicv2_woman.wav"))
        .arg(chinese.join("speech.mp3"))
        .status()
        .unwrap();
    assert!(encoded.success());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("  \"./assets/halfbody_demo/refimag/natural_bk_openhand/0014.png\":\n    - \"./assets/halfbody_demo/pose/01/\"\n    - \"./assets/halfbody_demo/audio/chinese/speech.mp3\"\n");
    std::fs::write(&config, text).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K114", "{:#}\n{stderr}", report["verdict"]);
    assert!(
        report["verdict"]["headline"].as_str().unwrap().contains("speech.mp3 as the pose folder"),
        "{:#}",
        report["verdict"]
    );
    let paste = report["verdict"]["fix"][0]["paste"].as_str().unwrap();
    assert!(paste.contains("-ar 16000 ./assets/halfbody_demo/audio/chinese/speech.wav"), "{paste}");
    assert!(std::process::Command::new("sh").arg("-c").arg(paste).status().unwrap().success());
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["findings"]);
}

/// `wav` with its sample data cut to `bytes`, the sizes in its header to match.
fn shortened_wav(wav: &[u8], bytes: u32) -> Vec<u8> {
    let data = wav.windows(4).position(|w| w == b"data").unwrap();
    let mut out = wav[..data + 8 + bytes as usize].to_vec();
    out[data + 4..data + 8].copy_from_slice(&bytes.to_le_bytes());
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

/// CRC-32 as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// `png` with a `tEXt` chunk put after its header, as ComfyUI's savers do.
fn with_text(png: &[u8], keyword: &str, text: &str) -> Vec<u8> {
    let data = [keyword.as_bytes(), b"\0", text.as_bytes()].concat();
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let typed = [&b"tEXt"[..], &data].concat();
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32(&typed).to_be_bytes());
    // The signature (8) and the IHDR chunk (25).
    [&png[..33], &chunk, &png[33..]].concat()
}

/// ComfyUI_EchoMimic's frames saved by Video Combine: the PNG of the first
/// frame carries the prompt that ran. Its settings are read from there, and
/// a workflow saved under user/ is then not the run's.
#[test]
fn the_prompt_an_output_image_carries_is_the_run_s_workflow() {
    let (_dir, run_dir) = copy_of("deploy_comfyui");
    let prompt = json!({
        "11": {"class_type": "Echo_LoadModel", "inputs": {"vae": "sd-vae-ft-mse.safetensors", "denoising": true,
            "infer_mode": "pose_acc", "lowvram": true, "version": "V2"}},
        "8": {"class_type": "LoadImage", "inputs": {"image": "0014.png"}},
        "12": {"class_type": "Echo_Predata", "inputs": {"info": ["11", 1], "image": ["8", 0], "pose_dir": "pose_01",
            "width": 768, "height": 768, "fps": 24, "length": 120}},
        "13": {"class_type": "Echo_Sampler", "inputs": {"model": ["11", 0], "emb": ["12", 0], "seed": 7, "cfg": 2.5,
            "steps": 6, "sample_rate": 16000, "context_frames": 12, "context_overlap": 3, "save_video": false}}
    });
    let png = std::fs::read(run_dir.join("input/0014.png")).unwrap();
    // output/ keeps every run's images: an earlier run's, with another prompt, is older.
    let mut earlier = prompt.clone();
    earlier["13"]["inputs"]["context_overlap"] = json!(12);
    let earlier_frame = run_dir.join("output/AnimateDiff_00000.png");
    std::fs::write(&earlier_frame, with_text(&png, "prompt", &earlier.to_string())).unwrap();
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&earlier_frame).unwrap().set_modified(an_hour_ago).unwrap();
    let first_frame = run_dir.join("output/AnimateDiff_00001.png");
    std::fs::write(&first_frame, with_text(&png, "prompt", &prompt.to_string())).unwrap();
    let saved = json!({"last_node_id": 1, "links": [], "nodes": [{"id": 13, "type": "Echo_Sampler", "mode": 0,
        "widgets_values": [7, "fixed", 1.0, 30, 16000, 12, 12, false]}]});
    std::fs::create_dir_all(run_dir.join("user/default/workflows")).unwrap();
    std::fs::write(run_dir.join("user/default/workflows/older.json"), saved.to_string()).unwrap();

    // A frame the run saved black, as the black clip's frames are: an
    // output, not a bad reference image.
    let black = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=black:size=384x384"])
        .args(["-frames:v", "1"])
        .arg(run_dir.join("output/AnimateDiff_00002_.png"))
        .status()
        .unwrap();
    assert!(black.success());

    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K101", "{:#}\n{stderr}", report["verdict"]);
    let image = artifact(&report, "output/AnimateDiff_00001.png");
    assert_eq!(image["checks"], json!(["config check (embedded workflow)"]), "{image}");
    for frame in ["output/AnimateDiff_00000.png", "output/AnimateDiff_00002_.png"] {
        let frame = artifact(&report, frame);
        assert_eq!((&frame["output"], &frame["checks"]), (&json!(true), &json!([])), "{frame}");
    }
    assert_eq!(artifact(&report, "input/0014.png")["checks"], json!(["image check"]));
    let guidance = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "C105").unwrap();
    assert!(guidance["subject"]["file"].as_str().unwrap().ends_with("AnimateDiff_00001.png"), "{guidance}");
    assert_eq!(guidance["subject"]["key"], "Echo_Sampler.cfg", "{guidance}");
    assert!(guidance["subject"]["line"].is_null(), "{guidance}");
    assert_eq!(guidance["severity"], "warning", "{guidance}");
    // The saved workflow (guidance 1, overlap 12) is older than the run: listed, not judged;
    // the earlier run's overlap of 12 is not read at all.
    let older = artifact(&report, "user/default/workflows/older.json");
    assert_eq!(older["unused"], true, "{older}");
    assert!(older["summary"].as_str().unwrap().contains("AnimateDiff_00001.png holds the one that ran"), "{older}");
    for f in report["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "C109") {
        assert_eq!(f["severity"], "info", "{f}");
    }
}

/// ComfyUI's own video saver, and Video Combine without its first-frame PNG,
/// keep the prompt only in the MP4's metadata: the run's settings are read
/// from there, cited at the video, and the inputs it loads decide which of
/// input/'s files are the run's.
#[test]
fn the_prompt_an_output_video_carries_is_the_run_s_workflow() {
    let (_dir, run_dir) = copy_of("deploy_comfyui");
    let prompt = json!({
        "11": {"class_type": "Echo_LoadModel", "inputs": {"vae": "sd-vae-ft-mse.safetensors", "denoising": true,
            "infer_mode": "pose_acc", "lowvram": true, "version": "V2"}},
        "8": {"class_type": "LoadImage", "inputs": {"image": "0014.png"}},
        "9": {"class_type": "LoadAudio", "inputs": {"audio": "audio_1734375300_temp.wav"}},
        "12": {"class_type": "Echo_Predata", "inputs": {"info": ["11", 1], "image": ["8", 0], "audio": ["9", 0],
            "pose_dir": "pose_01", "width": 768, "height": 768, "fps": 24, "length": 120}},
        "13": {"class_type": "Echo_Sampler", "inputs": {"model": ["11", 0], "emb": ["12", 0], "seed": 7, "cfg": 2.5,
            "steps": 6, "sample_rate": 16000, "context_frames": 12, "context_overlap": 3, "save_video": false}},
        "14": {"class_type": "SaveVideo", "inputs": {"video": ["13", 0], "filename_prefix": "video/ComfyUI"}}
    });
    let clip = run_dir.join("output/audio_1734375300_echo.mp4");
    let saved = run_dir.join("output/video/ComfyUI_00001_.mp4");
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    let remuxed = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&clip)
        .args(["-c", "copy", "-movflags", "use_metadata_tags+faststart", "-metadata"])
        .arg(format!("prompt={prompt}"))
        .arg(&saved)
        .status()
        .unwrap();
    assert!(remuxed.success());
    // A clip of an earlier run, uploaded since as a driving video, with
    // that run's prompt: newer, but not this run's workflow, nor its clip.
    let mut earlier = prompt.clone();
    earlier["13"]["inputs"]["cfg"] = json!(1.0);
    let uploaded = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&clip)
        .args(["-an", "-c", "copy", "-movflags", "use_metadata_tags", "-metadata"])
        .arg(format!("prompt={earlier}"))
        .arg(run_dir.join("input/dance.mp4"))
        .status()
        .unwrap();
    assert!(uploaded.success());
    std::fs::remove_file(&clip).unwrap();
    // input/ keeps another upload the prompt does not load.
    std::fs::copy(run_dir.join("input/0014.png"), run_dir.join("input/0013.png")).unwrap();
    // models/vae/ keeps other models' VAEs: one with NaN, which this run never loads.
    let broken_vae =
        incident("corrupt_vae").join("pretrained_weights/sd-vae-ft-mse/diffusion_pytorch_model.safetensors");
    std::fs::copy(broken_vae, run_dir.join("models/vae/sdxl_vae.safetensors")).unwrap();
    // output/ keeps the clips of other workflows too: black, and newer.
    let other = json!({"3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 8.0,
        "model": ["4", 0]}}, "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5.safetensors"}}});
    let other_clip = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=black:size=64x64:rate=8:d=1"])
        .args(["-pix_fmt", "yuv420p", "-movflags", "use_metadata_tags", "-metadata"])
        .arg(format!("prompt={other}"))
        .arg(run_dir.join("output/video/ComfyUI_00002_.mp4"))
        .status()
        .unwrap();
    assert!(other_clip.success());

    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K101", "{:#}\n{stderr}", report["verdict"]);
    let video = artifact(&report, "output/video/ComfyUI_00001_.mp4");
    assert_eq!(video["checks"], json!(["config check (embedded workflow)", "video check"]), "{video}");
    let guidance = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "C105").unwrap();
    assert!(guidance["subject"]["file"].as_str().unwrap().ends_with("ComfyUI_00001_.mp4"), "{guidance}");
    assert_eq!(guidance["subject"]["key"], "Echo_Sampler.cfg", "{guidance}");
    let other = artifact(&report, "input/0013.png");
    assert_eq!(other["unused"], true, "{other}");
    assert!(other["summary"].as_str().unwrap().ends_with("the workflow loads 0014.png"), "{other}");
    assert_eq!(artifact(&report, "input/0014.png")["checks"], json!(["image check"]));
    let vae = artifact(&report, "models/vae/sdxl_vae.safetensors");
    assert_eq!((&vae["unused"], &vae["checks"]), (&json!(true), &json!([])), "{vae}");
    assert!(vae["summary"].as_str().unwrap().ends_with("the workflow loads models/vae/sd-vae-ft-mse.safetensors"));
    let other = artifact(&report, "output/video/ComfyUI_00002_.mp4");
    assert_eq!((&other["unused"], &other["checks"]), (&json!(true), &json!([])), "{other}");
    assert!(other["summary"].as_str().unwrap().contains("runs no EchoMimic node"), "{other}");
    assert!(!report["verdict"]["headline"].as_str().unwrap().contains("Frames 0-"), "{:#}", report["verdict"]);
    let driving = artifact(&report, "input/dance.mp4");
    assert_eq!((&driving["unused"], &driving["checks"]), (&json!(true), &json!([])), "{driving}");
    assert!(driving["summary"].as_str().unwrap().contains("a video uploaded to ComfyUI's input/"), "{driving}");

    // The clip alone, sent on from the machine that made it: its prompt
    // still says ComfyUI ran it, so the probe is started as ComfyUI is.
    let alone = tempfile::tempdir().unwrap();
    std::fs::copy(&saved, alone.path().join("ComfyUI_00001_.mp4")).unwrap();
    let (_, report, stderr) = run(&[alone.path().to_str().unwrap()]);
    let next = report["verdict"]["next"].to_string();
    assert!(next.contains("cd ComfyUI && python -m nanscope.probe run --out dump main.py"), "{next}\n{stderr}");
}

/// A workflow given with `--config` beside a black clip that carries none:
/// ComfyUI ran it, so the probe is started as ComfyUI is.
#[test]
fn a_workflow_given_with_config_says_comfyui_made_the_clip() {
    let clip = incident("deploy_comfyui").join("output/audio_1734375300_echo.mp4");
    let workflow = incident("deploy_comfyui_lowvram").join("user/default/workflows/echomimic.json");
    let (_, report, stderr) = run(&["--video", clip.to_str().unwrap(), "--config", workflow.to_str().unwrap()]);
    let next = report["verdict"]["next"].to_string();
    assert!(next.contains("cd ComfyUI && python -m nanscope.probe run --out dump main.py"), "{next}\n{stderr}");
}

/// The top-level boxes of an MP4: (kind, offset, size).
fn boxes(bytes: &[u8]) -> Vec<(String, usize, usize)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push((String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned(), at, size));
        at += size.max(8);
    }
    out
}

/// A clip whose writer died before writing the index: the fix rebuilds it
/// with a whole clip of the same run as the reference, and that command,
/// pasted, works; with no whole clip in the run, it says what to pass.
#[test]
fn a_video_without_its_index_is_rebuilt_with_a_reference_from_the_run() {
    let whole = incident("deploy_healthy")
        .join("outputs/pretrained_weights-itermotion_module-seed3407/natural_bk_openhand.0014.png/01")
        .join("0014-a-echomimicv2_woman-i0_sig.mp4");
    let bytes = std::fs::read(&whole).unwrap();
    // The same file as its writer leaves it when killed: no moov, the media data cut at 70%.
    let mut crashed = Vec::new();
    for (kind, at, size) in boxes(&bytes) {
        match kind.as_str() {
            "moov" => {}
            "mdat" => crashed.extend(&bytes[at..at + size * 7 / 10]),
            _ => crashed.extend(&bytes[at..at + size]),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("outputs");
    std::fs::create_dir_all(&out).unwrap();
    let (broken, earlier) = (out.join("clip.mp4"), out.join("earlier.mp4"));
    std::fs::write(&broken, &crashed).unwrap();
    std::fs::copy(&whole, &earlier).unwrap();
    let (broken, earlier) = (broken.to_str().unwrap(), earlier.to_str().unwrap());

    let (code, report, stderr) = run(&["--video", broken, "--video", earlier]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["verdict"]["root_cause"]["code"], "K109", "{:#}", report["verdict"]);
    let fixes = report["verdict"]["fix"].as_array().unwrap();
    let pastes: Vec<&str> = fixes.iter().filter_map(|f| f["paste"].as_str()).collect();
    let repaired = out.join("clip.repaired.mp4");
    let want = format!("nanscope video repair {broken} --reference {earlier} -o {}", repaired.display());
    assert_eq!(pastes, [want.as_str()], "{fixes:#?}");
    let pasted = Command::new(env!("CARGO_BIN_EXE_nanscope")).args(want.split(' ').skip(1)).output().unwrap();
    assert!(pasted.status.success(), "{}", String::from_utf8_lossy(&pasted.stdout));
    assert!(repaired.is_file());

    let (_, report, _) = run(&["--video", broken]);
    let paste = report["verdict"]["fix"][0]["paste"].as_str().unwrap();
    assert!(paste.contains("--reference OK.mp4"), "{paste}");
    assert!(report["verdict"]["fix"][0]["what"].as_str().unwrap().contains("same settings and size"));
}

/// A video whose audio mux failed, with sound frames: the fix muxes the
/// run's audio back in, and that command, pasted, works.
#[test]
fn a_video_that_lost_its_audio_gets_the_run_audio_back() {
    let deploy = incident("deploy_healthy");
    let whole = deploy
        .join("outputs/pretrained_weights-itermotion_module-seed3407/natural_bk_openhand.0014.png/01")
        .join("0014-a-echomimicv2_woman-i0_sig.mp4");
    let wav = deploy.join("assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav");
    let dir = tempfile::tempdir().unwrap();
    let silent = dir.path().join("clip.mp4");
    let stripped = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&whole)
        .args(["-an", "-c", "copy"])
        .arg(&silent)
        .status()
        .unwrap();
    assert!(stripped.success());
    let (silent, wav) = (silent.to_str().unwrap(), wav.to_str().unwrap());
    let (code, report, stderr) = run(&["--video", silent, "--audio", wav]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["verdict"]["root_cause"]["code"], "K109", "{:#}", report["verdict"]);
    let repaired = dir.path().join("clip.repaired.mp4");
    let want = format!("nanscope video repair {silent} --audio {wav} -o {}", repaired.display());
    let pastes: Vec<&str> =
        report["verdict"]["fix"].as_array().unwrap().iter().filter_map(|f| f["paste"].as_str()).collect();
    assert_eq!(pastes, [want.as_str()], "{:#}", report["verdict"]["fix"]);
    let pasted = Command::new(env!("CARGO_BIN_EXE_nanscope")).args(want.split(' ').skip(1)).output().unwrap();
    assert!(pasted.status.success(), "{}", String::from_utf8_lossy(&pasted.stdout));
    let (code, report, stderr) = run(&["--video", repaired.to_str().unwrap(), "--audio", wav]);
    assert_eq!(code, 0, "{stderr} {:#}", report["findings"]);
}

/// infer.py's failed mux as a deployment leaves it: the silent `_woa_sig.mp4`
/// and moviepy's error in the server log; the fix muxes the run's audio
/// into the frames that were written.
#[test]
fn a_deployment_whose_mux_failed_gets_its_audio_back() {
    let report = assert_verdict("deploy_mux_failed");
    let mux = link(&report, "encoder / mux");
    assert_eq!(mux["basis"], "observed");
    assert_eq!(cited_codes(&report, mux), ["V107", "L105"], "{mux}");
    assert!(mux["evidence"].to_string().contains("server.log:12:"), "{mux}");
    let root = "fixtures/postmortem/deploy_mux_failed";
    let clip = format!(
        "{root}/outputs/pretrained_weights-itermotion_module-seed3407/natural_bk_openhand.0014.png/01/\
         0014-a-echomimicv2_woman-i0_woa_sig"
    );
    let want = format!(
        "nanscope video repair {clip}.mp4 --audio {root}/assets/halfbody_demo/audio/chinese/echomimicv2_woman.wav \
         -o {clip}.repaired.mp4"
    );
    assert_eq!(report["verdict"]["fix"][0]["paste"], want.as_str(), "{:#}", report["verdict"]["fix"]);
}

/// Rewrites a copied file with `from` replaced by `to`, which must occur.
/// EchoMimicV2's web UIs read no prompt config: `app_acc.py` loads the
/// `_acc` checkpoints from fixed paths. A damaged checkpoint it never
/// loaded is listed, not blamed; the one it loaded is, with its download.
#[test]
fn a_web_ui_run_is_judged_by_the_checkpoints_it_loads() {
    let report = assert_verdict("deploy_app_acc");
    let normal = artifact(&report, "pretrained_weights/denoising_unet.pth");
    assert_eq!(normal["unused"], true, "{normal}");
    assert!(
        normal["summary"]
            .as_str()
            .unwrap()
            .ends_with("not loaded: app_acc.py loads pretrained_weights/denoising_unet_acc.pth"),
        "{normal}"
    );
    let config = artifact(&report, "configs/prompts/infer_acc.yaml");
    assert!(
        config["summary"]
            .as_str()
            .unwrap()
            .contains("web UI ran (app_acc.py: app.log prints `using motion module acc`)"),
        "{config}"
    );
    assert_ne!(artifact(&report, "pretrained_weights/denoising_unet_acc.pth")["unused"], true);

    // The damaged copy is the one app_acc.py loads.
    let (_dir, run_dir) = copy_of("deploy_app_acc");
    let weights = run_dir.join("pretrained_weights");
    std::fs::copy(weights.join("denoising_unet.pth"), weights.join("denoising_unet_acc.pth")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K103", "{verdict:#}\n{stderr}");
    let cited = link(&report, "weights")["findings"][0].as_str().unwrap().to_string();
    assert!(finding(&report, &cited)["evidence"]["artifact"].as_str().unwrap().ends_with("denoising_unet_acc.pth"));
    let fixes: Vec<&str> = verdict["fix"].as_array().unwrap().iter().filter_map(|f| f["paste"].as_str()).collect();
    let download = format!(
        "huggingface-cli download BadToBest/EchoMimicV2 denoising_unet_acc.pth --local-dir {}",
        weights.display()
    );
    assert!(fixes.contains(&download.as_str()), "{fixes:#?}");

    // app.py loads the normal checkpoints, which are sound here.
    std::fs::copy(
        incident("deploy_healthy").join("pretrained_weights/denoising_unet.pth"),
        weights.join("denoising_unet.pth"),
    )
    .unwrap();
    replace_in(&run_dir.join("app.log"), "using motion module acc", "using motion module");
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["verdict"]);
    let acc = artifact(&report, "pretrained_weights/denoising_unet_acc.pth");
    assert!(
        acc["summary"].as_str().unwrap().ends_with("not loaded: app.py loads pretrained_weights/denoising_unet.pth"),
        "{acc}"
    );

    // Without the log, the clip's name says a UI ran, not which: both are checked.
    std::fs::remove_file(run_dir.join("app.log")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K103", "{:#}\n{stderr}", report["verdict"]);
    let config = artifact(&report, "configs/prompts/infer.yaml");
    assert!(
        config["summary"]
            .as_str()
            .unwrap()
            .contains("(app.py or app_acc.py: they write outputs/20251120_100215_sig.mp4)")
    );
}

/// A wrapper of the checkout (a FastAPI server, `api.py`) that its log names
/// by the logger it writes under: its source says which config it loads
/// and which of its keys it reads, and the probe step starts it.
#[test]
fn an_echomimicv3_run_is_judged_as_echomimicv3() {
    let report = assert_verdict("deploy_v3");
    let pipeline = &report["evidence"]["pipeline"];
    assert_eq!(pipeline["pipeline"], "EchoMimicV3", "{:#}", report["evidence"]);
    assert_eq!(pipeline["entry_point"], "infer_flash.py");
    assert_eq!(
        pipeline["recognised_by"],
        "EchoMimicV3's checkout: infer_flash.py beside src/wan_transformer3d_audio.py"
    );
    // The reference it printed is checked at its own aspect: a portrait is
    // no finding, where a square resize would stretch it.
    let summary = |suffix: &str| artifact(&report, suffix)["summary"].as_str().unwrap().to_string();
    assert_eq!(summary("imgs/01.jpg"), "144x256 rgb 8-bit: clean");
    for (unread, named) in
        [("imgs/02.jpg", "imgs/01.jpg"), ("asset/logo.png", "imgs/01.jpg"), ("audios/02.WAV", "audios/01.WAV")]
    {
        let why = summary(unread);
        assert!(why.ends_with(&format!("nohup.out names datasets/echomimicv3_demos/{named}")), "{unread}: {why}");
    }
    assert!(summary("masks/01.npy").starts_with("EchoMimicV3's face mask"));
    assert_eq!(artifact(&report, "masks/01.npy")["checks"], serde_json::json!([]));
    // Its fix and next step are EchoMimicV3's: no UNet, no 0.18215, no infer.py.
    let verdict = report["verdict"].to_string();
    for v2 in ["0.18215", "infer.py", "denoising_unet", "UNet"] {
        assert!(!verdict.contains(v2), "{v2} in {verdict}");
    }
    // run_flash.sh's command: its arguments, float16 among them.
    assert_eq!(pipeline["launched_by"]["line"], 1);
    assert!(pipeline["launched_by"]["script"].as_str().unwrap().ends_with("run_flash.sh"));
    let next = report["verdict"]["next"][0]["paste"].as_str().unwrap();
    assert!(
        next.contains(
            "# run_flash.sh:1's command under the probe, its arguments unchanged:\npython -m nanscope.probe run \
             --out dump infer_flash.py --image_path datasets/echomimicv3_demos/imgs/01.jpg --audio_path \
             datasets/echomimicv3_demos/audios/01.WAV --prompt 'A woman is speaking.' --weight_dtype float16\n"
        ),
        "{next}"
    );
    assert!(next.contains("attach(pipeline.transformer"), "{next}");
    let fix = &report["verdict"]["fix"];
    assert!(fix[0]["what"].as_str().unwrap().contains("run_flash.sh:1 sets --weight_dtype float16"), "{fix}");
    assert!(fix[0]["paste"].as_str().unwrap().ends_with("--prompt 'A woman is speaking.' --weight_dtype bfloat16"));
    assert_eq!(fix[1]["paste"], "vae = vae.to(torch.float32)");

    // Out of GPU memory: the flags infer_flash.py has, not infer_acc.py's -L.
    let (_dir, run_dir) = copy_of("deploy_v3");
    std::fs::remove_dir_all(run_dir.join("outputs")).unwrap();
    let log = std::fs::read_to_string(run_dir.join("nohup.out")).unwrap();
    let stopped: String = log.lines().take(8).map(|l| format!("{l}\n")).collect();
    std::fs::write(run_dir.join("nohup.out"), stopped + OOM).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K112", "{stderr}");
    let fix = report["verdict"]["fix"].to_string();
    assert!(fix.contains("--video_length") && fix.contains("this one has 11.72 GiB"), "{fix}");
    assert!(fix.contains("--weight_dtype float16 --video_length 49 --sample_size 576 576"), "{fix}");
    assert!(!fix.contains("infer_acc.py") && !fix.contains("-L 120"), "{fix}");

    // Its web UI, run with no log kept: the clip it wrote, then the one
    // with the audio muxed in; its README's pictures are no input.
    let (_dir, run_dir) = copy_of("deploy_v3");
    std::fs::remove_file(run_dir.join("nohup.out")).unwrap();
    std::fs::remove_file(run_dir.join("run_flash.sh")).unwrap();
    std::fs::write(run_dir.join("app.py"), "import gradio\n").unwrap();
    let outputs = run_dir.join("outputs");
    std::fs::copy(outputs.join("01_output.mp4"), outputs.join("20250807_101530_audio.mp4")).unwrap();
    let silent = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(outputs.join("01_output.mp4"))
        .args(["-an", "-c", "copy"])
        .arg(outputs.join("20250807_101530.mp4"))
        .status()
        .unwrap();
    assert!(silent.success());
    std::fs::remove_file(outputs.join("01_output.mp4")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K108", "{stderr}");
    assert_eq!(report["evidence"]["pipeline"]["entry_point"], "app.py");
    let codes = report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect::<Vec<_>>();
    assert!(!codes.contains(&"V107"), "the silent clip is muxed later: {codes:?}");
    let summary = |suffix: &str| artifact(&report, suffix)["summary"].as_str().unwrap().to_string();
    assert!(summary("asset/logo.png").starts_with("EchoMimicV3's README picture"), "{}", summary("asset/logo.png"));
    let next = report["verdict"]["next"][0]["paste"].as_str().unwrap();
    // Only app.py is there: it ran.
    assert!(next.contains("python -m nanscope.probe run --out dump app.py\n"), "{next}");

    // infer_preview.py, with no log kept: the clip of its test `02` names
    // that test's image and audio.
    let (_dir, run_dir) = copy_of("deploy_v3");
    std::fs::remove_file(run_dir.join("nohup.out")).unwrap();
    std::fs::write(run_dir.join("infer_preview.py"), "import torch\n").unwrap();
    let written = run_dir.join("outputs/20250807_101530_gs4.5_ags2.5");
    std::fs::create_dir(&written).unwrap();
    std::fs::rename(run_dir.join("outputs/01_output.mp4"), written.join("02_audio.mp4")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K108", "{stderr}");
    assert_eq!(report["evidence"]["pipeline"]["entry_point"], "infer_preview.py");
    let summary = |suffix: &str| artifact(&report, suffix)["summary"].as_str().unwrap().to_string();
    assert_eq!(summary("imgs/02.jpg"), "144x256 rgb 8-bit: clean");
    assert!(
        summary("imgs/01.jpg").starts_with("not the run's input: the path of 02_audio.mp4 names"),
        "{}",
        summary("imgs/01.jpg")
    );
    assert!(summary("audios/01.WAV").starts_with("not the run's input"), "{}", summary("audios/01.WAV"));
    let next = report["verdict"]["next"][0]["paste"].as_str().unwrap();
    assert!(next.contains("\npython -m nanscope.probe run --out dump infer_preview.py\n"), "{next}");

    // EchoMimicV2's own runs say nothing of a pipeline.
    let (_, v2, _) = run(&["fixtures/postmortem/deploy_seed"]);
    assert!(v2["evidence"].get("pipeline").is_none(), "{:#}", v2["evidence"]);
}

#[test]
fn echomimicv3_s_low_memory_web_ui_is_judged_by_mmgp_s_quantization() {
    // app_mm.py's console: mmgp quantizes the T5 text encoder and the
    // transformer to qint8 as it loads them, then the web UI generates.
    let (_dir, run_dir) = copy_of("deploy_v3");
    std::fs::remove_file(run_dir.join("nohup.out")).unwrap();
    std::fs::remove_file(run_dir.join("run_flash.sh")).unwrap();
    std::fs::write(run_dir.join("app.py"), "import gradio\n").unwrap();
    std::fs::write(
        run_dir.join("app_mm.py"),
        "from mmgp import offload, profile_type\n\noffload.profile(\n    pipeline,\n    profile_type.LowRAM_HighVRAM,\n)\n",
    )
    .unwrap();
    let outputs = run_dir.join("outputs");
    std::fs::rename(outputs.join("01_output.mp4"), outputs.join("20250815_103045_audio.mp4")).unwrap();
    std::fs::write(
        run_dir.join("app_mm.log"),
        "\x1b[1m\x1b[95m************ Memory Management for the GPU Poor (mmgp 3.5.6) by DeepBeepMeep \
         ************\x1b[0m\x1b[0m\n\
         自动调整最大显存占用为72335MB\n\
         Quantization of model 'text_encoder' started to format 'qint8'\n\
         Quantization of model 'text_encoder' done\n\
         Quantization of model 'transformer' started to format 'qint8'\n\
         Quantization of model 'transformer' done\n\
         * Running on local URL:  http://0.0.0.0:7891\n\
         final sample shape: torch.Size([1, 3, 13, 48, 48])\n\
         final length: 13\n",
    )
    .unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K101", "{stderr}");
    let pipeline = &report["evidence"]["pipeline"];
    assert_eq!(pipeline["entry_point"], "app_mm.py", "{pipeline}");
    assert!(
        pipeline["recognised_by"]
            .as_str()
            .unwrap()
            .ends_with("; app_mm.log:1 shows mmgp, which of its scripts only app_mm.py runs")
    );
    // The transformer's line is the evidence, not the text encoder's.
    let link = &verdict["chain"][0];
    assert_eq!(link["stage"], "quantization");
    let evidence = link["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    assert!(
        evidence[0]
            .as_str()
            .unwrap()
            .ends_with("app_mm.log:5: Quantization of model 'transformer' started to format 'qint8'")
    );
    // The scheme is simulated on EchoMimicV3's transformer, not on the base model it replaces.
    assert_eq!(
        artifact(&report, "flash/transformer/diffusion_pytorch_model.safetensors")["checks"],
        serde_json::json!(["weights", "weights --simulate"])
    );
    assert_eq!(artifact(&report, "flash/Wan2.1-Fun-V1.1-1.3B-InP")["checks"], serde_json::json!(["weights"]));
    let fix = verdict["fix"].to_string();
    assert!(fix.contains("quantizeTransformer=False") && fix.contains("generate with app.py"), "{fix}");
    let next = verdict["next"][0]["paste"].as_str().unwrap();
    assert!(next.contains("python -m nanscope.probe run --out dump app_mm.py\n"), "{next}");
    // What the verdict says of this run (the cause's catalogue summary is the catalogue's).
    let said =
        serde_json::json!([&verdict["headline"], &verdict["chain"], &verdict["fix"], &verdict["next"]]).to_string();
    for v2 in ["UNet", "quantize_(", "fp16", "infer.py"] {
        assert!(!said.contains(v2), "{v2} in {said}");
    }

    // No log kept: either web UI may have made the clip, and only app_mm.py quantizes.
    std::fs::remove_file(run_dir.join("app_mm.log")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K108", "{stderr}");
    assert_eq!(report["evidence"]["pipeline"]["entry_point"], "app.py");
    let tell_apart = verdict["next"].as_array().unwrap().iter().find(|a| a["paste"] == "python app.py");
    let what = tell_apart.map(|a| a["what"].as_str().unwrap()).unwrap_or_default();
    assert!(
        what.starts_with(
            "If the clip came from app_mm.py, not app.py: it has mmgp quantize the transformer to qint8 (app_mm.py:3)"
        ),
        "{verdict}"
    );

    // A log that names app_mm.py and shows none of mmgp's lines: its code says it quantizes.
    std::fs::write(run_dir.join("console.log"), "$ python app_mm.py\n* Running on local URL:  http://0.0.0.0:7891\n")
        .unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K101", "{stderr}");
    assert_eq!(
        verdict["chain"][0]["evidence"],
        serde_json::json!(["app_mm.py:3: offload.profile(…) leaves mmgp's quantizeTransformer on, its default"])
    );
    assert_eq!(
        artifact(&report, "flash/transformer/diffusion_pytorch_model.safetensors")["checks"],
        serde_json::json!(["weights", "weights --simulate"])
    );
}

#[test]
fn comfyui_echomimic_s_v3_mode_is_judged_as_echomimicv3() {
    // ComfyUI_EchoMimic's loader runs EchoMimicV3 with mmgp's LowRAM_LowVRAM
    // profile and lowvram on: mmgp quantizes the transformer to qint8.
    let report = assert_verdict("deploy_comfyui_v3");
    let verdict = &report["verdict"];
    let pipeline = &report["evidence"]["pipeline"];
    assert_eq!(pipeline["pipeline"], "EchoMimicV3");
    assert_eq!(pipeline["entry_point"], "ComfyUI_EchoMimic", "{pipeline}");
    assert!(
        pipeline["recognised_by"]
            .as_str()
            .unwrap()
            .starts_with("echomimic_v3.json:143: Echo_LoadModel.version V3 (ComfyUI_EchoMimic runs EchoMimicV3)"),
        "{pipeline}"
    );
    assert_eq!(
        verdict["headline"].as_str().unwrap(),
        "Weight quantization of the denoising transformer (qint8, by mmgp in ComfyUI_EchoMimic's Echo_LoadModel) \
         turned its output NaN. Frames 0-15 of the video are black."
    );
    // The workflow's use_mmgp and mmgp's own line are the evidence.
    let quantization = &verdict["chain"][0];
    let mut cited = cited_codes(&report, quantization);
    cited.sort();
    assert_eq!(cited, ["C113", "L110"], "{quantization}");
    let workflow = artifact(&report, "user/default/workflows/echomimic_v3.json");
    let c113 = workflow["findings"].as_array().unwrap().iter().map(|id| finding(&report, id.as_str().unwrap()));
    let c113: Vec<&Value> = c113.filter(|f| f["code"] == "C113").collect();
    assert_eq!(c113[0]["evidence"]["models"], serde_json::json!(["transformer"]));
    assert_eq!(c113[0]["subject"]["key"], "Echo_LoadModel.use_mmgp");
    // int8 is simulated on EchoMimicV3's weights, not the Wan2.1 base or EchoMimicV2's UNet.
    assert_eq!(
        artifact(&report, "models/echo_mimic/diffusion_pytorch_model.safetensors")["checks"],
        serde_json::json!(["weights", "weights --simulate"])
    );
    assert_eq!(artifact(&report, "models/echo_mimic/transformer")["checks"], serde_json::json!(["weights"]));
    let v2 = artifact(&report, "models/echo_mimic/v2/denoising_unet.pth");
    assert_eq!(v2["unused"], true);
    assert!(v2["summary"].as_str().unwrap().contains("runs EchoMimicV3, which loads none of EchoMimicV2's"));
    // The node's clip is silent by design: no failed mux.
    let clip = artifact(&report, "output/482913_echo.mp4");
    assert!(clip["summary"].as_str().unwrap().ends_with("leaves the audio to the workflow's video node"), "{clip}");
    assert!(!verdict["chain"].as_array().unwrap().iter().any(|l| l["stage"] == "encoder / mux"), "{verdict}");
    // The node resizes the portrait to the workflow's size by a centre crop: no stretch.
    let image = artifact(&report, "input/portrait.png");
    assert!(image["findings"].as_array().unwrap().is_empty(), "{image}");
    // The fix is the workflow's: lowvram off, or no mmgp; no replay of EchoMimicV2's UNets.
    let fix = verdict["fix"].to_string();
    assert!(fix.contains("set lowvram to false on Echo_LoadModel"), "{fix}");
    let said =
        serde_json::json!([&verdict["headline"], &verdict["chain"], &verdict["fix"], &verdict["next"]]).to_string();
    for v2 in ["UNet", "quantize_(", "fp16", "app_mm.py", "replay"] {
        assert!(!said.contains(v2), "{v2} in {said}");
    }

    // lowvram off and no mmgp line: nothing quantized the transformer.
    let (_dir, run_dir) = copy_of("deploy_comfyui_v3");
    let workflow = run_dir.join("user/default/workflows/echomimic_v3.json");
    replace_in(
        &workflow,
        "\"audio_drived\",\n        true,\n        true,",
        "\"audio_drived\",\n        false,\n        true,",
    );
    let log = run_dir.join("user/comfyui.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("Quantization of model")).collect();
    std::fs::write(&log, kept.join("\n") + "\n").unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K108", "{stderr}");
    assert_eq!(report["evidence"]["pipeline"]["entry_point"], "ComfyUI_EchoMimic");
    // A copy of the node older than August 20, 2025 passes mmgp no
    // quantizeTransformer: mmgp quantizes whatever lowvram says.
    let loader = run_dir.join("custom_nodes/ComfyUI_EchoMimic/echomimic_v3/infer.py");
    replace_in(&loader, ",\n                        quantizeTransformer=config.quantize_transformer)", ")");
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K101", "{stderr}");
    assert_eq!(
        verdict["chain"][0]["evidence"],
        json!(["infer.py:4: offload.profile(…) leaves mmgp's quantizeTransformer on, its default"])
    );
    assert_eq!(verdict["fix"][0]["paste"], "cd custom_nodes/ComfyUI_EchoMimic && git pull");
    assert_eq!(
        artifact(&report, "models/echo_mimic/diffusion_pytorch_model.safetensors")["checks"],
        json!(["weights", "weights --simulate"])
    );

    // No workflow kept: the log's path into the node's echomimic_v3/ and mmgp's line tell it.
    let (_dir, run_dir) = copy_of("deploy_comfyui_v3");
    std::fs::remove_dir_all(run_dir.join("user/default")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K101", "{stderr}");
    assert_eq!(report["evidence"]["pipeline"]["entry_point"], "ComfyUI_EchoMimic");
    assert!(verdict["headline"].as_str().unwrap().contains("by mmgp in ComfyUI_EchoMimic's Echo_LoadModel"));
    assert_eq!(cited_codes(&report, &verdict["chain"][0]), ["L110"]);

    // The workflow only in the prompt the video node's clip carries (ComfyUI's API form).
    let (_dir, run_dir) = copy_of("deploy_comfyui_v3");
    std::fs::remove_dir_all(run_dir.join("user/default")).unwrap();
    let prompt = json!({
        "4": {"class_type": "Echo_LoadModel", "inputs": {"vae": "Wan2.1_VAE.pth", "lora": "None", "denoising": true,
            "infer_mode": "audio_drived", "lowvram": true, "teacache_offload": true, "block_offload": true,
            "use_mmgp": "VerylowRAM_LowVRAM", "version": "V3"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "portrait.png"}},
        "3": {"class_type": "LoadAudio", "inputs": {"audio": "speech.wav"}},
        "5": {"class_type": "Echo_Predata", "inputs": {"info": ["4", 1], "image": ["2", 0], "audio": ["3", 0],
            "width": 512, "height": 768, "fps": 25, "length": 100, "partial_video_length": 65}},
        "6": {"class_type": "Echo_Sampler", "inputs": {"model": ["4", 0], "emb": ["5", 0], "seed": 7, "cfg": 3.5,
            "steps": 25, "sample_rate": 16000, "context_frames": 12, "context_overlap": 3, "save_video": false}},
        "7": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["6", 0], "audio": ["3", 0], "frame_rate": ["6", 1]}}
    });
    let combined = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(run_dir.join("output/482913_echo.mp4"))
        .arg("-i")
        .arg(run_dir.join("input/speech.wav"))
        .args(["-c:v", "copy", "-c:a", "aac", "-shortest", "-movflags", "use_metadata_tags", "-metadata"])
        .arg(format!("comment={}", json!({ "prompt": prompt.to_string() })))
        .arg(run_dir.join("output/EchoMimic_00001-audio.mp4"))
        .status()
        .unwrap();
    assert!(combined.success());
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K101", "{stderr}");
    let recognised = report["evidence"]["pipeline"]["recognised_by"].as_str().unwrap();
    assert!(recognised.starts_with("EchoMimic_00001-audio.mp4: Echo_LoadModel.version V3"), "{recognised}");
    let mut cited = cited_codes(&report, &verdict["chain"][0]);
    cited.sort();
    assert_eq!(cited, ["C113", "L110"]);

    // V3_flash with an mmgp profile: its loader stops at a key config.yaml does not hold.
    let (_dir, run_dir) = copy_of("deploy_comfyui_v3");
    std::fs::remove_file(run_dir.join("output/482913_echo.mp4")).unwrap();
    replace_in(&run_dir.join("user/default/workflows/echomimic_v3.json"), "\"V3\"\n", "\"V3_flash\"\n");
    let log = run_dir.join("user/comfyui.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let started: Vec<&str> = text.lines().take(5).collect();
    let stopped = format!(
        "{}\n2025-09-02T18:56:00.100000 - !!! Exception during processing !!! Missing key quantize_transformer\n\
         2025-09-02T18:56:00.100100 - Traceback (most recent call last):\n\
         \x20 File \"/srv/ComfyUI/custom_nodes/ComfyUI_EchoMimic/echomimic_v3/infer_flash_pro.py\", line 291, in load_v3_flash\n\
         \x20   offload.profile(pipeline, profile_type.LowRAM_LowVRAM,quantizeTransformer=config.quantize_transformer)\n\
         omegaconf.errors.ConfigAttributeError: Missing key quantize_transformer\n\
         \x20   full_key: quantize_transformer\n\n",
        started.join("\n")
    );
    std::fs::write(&log, stopped).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K113", "{stderr}");
    assert_eq!(cited_codes(&report, link(&report, "workflow")), ["C115"]);
    assert_eq!(link(&report, "model load")["basis"], "observed");
    assert!(verdict["fix"][0]["what"].as_str().unwrap().starts_with("Set use_mmgp to None and block_offload on"));

    // Out of GPU memory in the sampler: the node's chunk length is the fix.
    let (_dir, run_dir) = copy_of("deploy_comfyui_v3");
    std::fs::remove_file(run_dir.join("output/482913_echo.mp4")).unwrap();
    let log = run_dir.join("user/comfyui.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let started: Vec<&str> = text.lines().take_while(|l| !l.contains("infer video_length")).collect();
    let oom = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.53 GiB. GPU 0 has a total capacity of \
               11.99 GiB of which 1.02 GiB is free.";
    let stopped = format!(
        "{}\n2025-09-02T18:56:00.100000 - !!! Exception during processing !!! {oom}\n\
         2025-09-02T18:56:00.100100 - Traceback (most recent call last):\n\
         \x20 File \"/srv/ComfyUI/custom_nodes/ComfyUI_EchoMimic/echomimic_v3/infer.py\", line 300, in infer_v3\n\
         \x20   sample = pipeline(\n{oom}\n\n",
        started.join("\n")
    );
    std::fs::write(&log, stopped).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K112", "{stderr}");
    let fix = verdict["fix"][0]["what"].as_str().unwrap();
    assert!(fix.contains("a shorter chunk on Echo_Predata (partial_video_length"), "{fix}");
    assert!(fix.ends_with("this one has 11.99 GiB"), "{fix}");
}

#[test]
fn a_wrapper_s_own_entry_point_is_read_from_its_source() {
    let report = assert_verdict("deploy_api");
    assert_eq!(report["verdict"]["confidence"], "high");
    let summary = |suffix: &str| artifact(&report, suffix)["summary"].as_str().unwrap().to_string();
    assert_eq!(
        summary("/api.py"),
        "the run's entry point (nohup.out:3 logs as `api`): names ./configs/prompts/infer_acc.yaml, builds the \
         accelerated pipeline; not judged"
    );
    assert!(
        summary("configs/prompts/infer.yaml").ends_with(
            "not the run's config: api.py, the entry point that ran (nohup.out:3 logs as `api`), loads infer_acc.yaml"
        ),
        "{}",
        summary("configs/prompts/infer.yaml")
    );
    assert_eq!(artifact(&report, "pretrained_weights/denoising_unet.pth")["unused"], true);
    // The size and test cases infer_acc.py would read are listed, not judged.
    let unread: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["subject"]["file"].as_str().is_some_and(|p| p.ends_with("infer_acc.yaml")))
        .filter(|f| ["C108", "C114"].contains(&f["code"].as_str().unwrap()))
        .collect();
    assert_eq!(unread.len(), 3, "{unread:?}");
    for f in unread {
        assert_eq!(f["severity"], "info", "{f}");
        assert_eq!(f["evidence"]["not_read_by"], "api.py", "{f}");
    }
    assert!(!report["verdict"]["competing"].to_string().contains("K114"));
    let next = report["verdict"]["next"].to_string();
    assert!(next.contains("python -m nanscope.probe run --out dump api.py"), "{next}");
    assert!(next.contains("variant = \\\"acc\\\""), "{next}");

    // Beside more demo inputs: the request line names the uploads, and the
    // poses (a request parameter) are held against no audio.
    let (_dir, run_dir) = copy_of("deploy_api");
    let demo = run_dir.join("assets/halfbody_demo");
    std::fs::copy(demo.join("audio/chinese/echomimicv2_woman.wav"), demo.join("audio/chinese/good.wav")).unwrap();
    std::fs::copy(demo.join("refimag/natural_bk_openhand/0014.png"), demo.join("refimag/natural_bk_openhand/0035.png"))
        .unwrap();
    std::fs::create_dir(demo.join("pose/good")).unwrap();
    for frame in 0..4 {
        let name = format!("{frame}.npy");
        std::fs::copy(demo.join("pose/01").join(&name), demo.join("pose/good").join(&name)).unwrap();
    }
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K101", "{stderr}");
    let reason = |suffix: &str| artifact(&report, suffix)["summary"].as_str().unwrap().to_string();
    assert!(reason("natural_bk_openhand/0035.png").ends_with("not the run's input: nohup.out names 0014.png"));
    assert!(reason("chinese/good.wav").ends_with("not the run's input: nohup.out names echomimicv2_woman.wav"));
    assert!(!report["findings"].to_string().contains("P114"), "{}", report["findings"]);

    // The clip left where the server wrote it, in a temporary folder outside
    // the checkout: the log names it.
    let (dir, run_dir) = copy_of("deploy_api");
    let served = dir.path().join("tmp").join("tmpk3j9x2ab");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::rename(run_dir.join("generated_0014_echomimicv2_woman.mp4"), served.join("output.mp4")).unwrap();
    let log = std::fs::read_to_string(run_dir.join("nohup.out")).unwrap();
    let at = served.join("output.mp4").display().to_string();
    std::fs::write(run_dir.join("nohup.out"), log.replace("/tmp/tmpk3j9x2ab/output.mp4", &at)).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K101", "{stderr}");
    assert_eq!(link(&report, "video frames")["basis"], "observed");
    let clip = artifact(&report, "tmpk3j9x2ab/output.mp4");
    assert!(
        clip["recognised_by"].as_str().unwrap().starts_with("nohup.out:16 names it; content: video container"),
        "{clip}"
    );

    // The clip not here at all: the next step fetches it.
    let (_dir, run_dir) = copy_of("deploy_api");
    std::fs::remove_file(run_dir.join("generated_0014_echomimicv2_woman.mp4")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K101", "{stderr}");
    let fetch =
        report["verdict"]["next"].as_array().unwrap().iter().find(|a| a["what"].as_str().unwrap().contains("clip"));
    let fetch = fetch.unwrap_or_else(|| panic!("{}", report["verdict"]["next"]));
    assert_eq!(
        fetch["what"],
        "Check the clip the run wrote, which nohup.out:16 names (/tmp/tmpk3j9x2ab/output.mp4): this machine does not have it"
    );
    assert!(fetch["paste"].as_str().unwrap().ends_with("nanscope postmortem RUN_DIR --video output.mp4"));

    // Stopped out of GPU memory: the request, not `-L`, sets the length.
    let (_dir, run_dir) = copy_of("deploy_api");
    std::fs::remove_file(run_dir.join("generated_0014_echomimicv2_woman.mp4")).unwrap();
    let log = std::fs::read_to_string(run_dir.join("nohup.out")).unwrap();
    let stopped = &log[..log.find("/home/ubuntu").unwrap()];
    let oom = "ERROR:api:Error generating video: CUDA out of memory. Tried to allocate 2.25 GiB. GPU 0 has a total \
               capacity of 14.58 GiB of which 1.02 GiB is free.\n";
    std::fs::write(run_dir.join("nohup.out"), format!("{stopped}{oom}")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K112", "{stderr}");
    let fix = report["verdict"]["fix"][0]["paste"].as_str().unwrap();
    assert!(fix.starts_with("# api.py takes the length and size from each request"), "{fix}");
    let competing = report["verdict"]["competing"].to_string();
    assert!(competing.contains("no NaN and no black frame shows that it did harm"), "{competing}");

    // Started by `uvicorn api:app` (no main guard), and named only by a
    // traceback through it: the probe starts the server.
    let (_dir, run_dir) = copy_of("deploy_api");
    let source = std::fs::read_to_string(run_dir.join("api.py")).unwrap();
    let imported = &source[..source.find("if __name__").unwrap()];
    std::fs::write(run_dir.join("api.py"), imported).unwrap();
    let log = std::fs::read_to_string(run_dir.join("nohup.out")).unwrap();
    let plain = log.replace("INFO:api:", "INFO: ").replace(
        "INFO: Models loaded successfully!",
        "Traceback (most recent call last):\n  File \"/home/ubuntu/echomimic_v2/api.py\", line 31, in load_models\n\
         RuntimeWarning: retrying",
    );
    std::fs::write(run_dir.join("nohup.out"), plain).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K101", "{stderr}");
    assert!(artifact(&report, "/api.py")["summary"].as_str().unwrap().contains("has a traceback through api.py"));
    let next = report["verdict"]["next"].to_string();
    assert!(next.contains("python -m nanscope.probe run --out dump -m uvicorn api:app"), "{next}");
}

/// A notebook saved after it ran is the run's log: its cells' outputs
/// (what they printed, the traceback that stopped one) and the inputs its
/// cells set say what the run read and where it stopped.
#[test]
fn a_notebook_run_is_read_from_its_cells_outputs() {
    let report = assert_verdict("deploy_notebook");
    let cited = link(&report, "memory")["findings"][0].as_str().unwrap().to_string();
    let oom = finding(&report, &cited);
    assert_eq!(oom["evidence"]["cell"], 4, "{oom}");
    // The line of the notebook file that holds the traceback's last line.
    let notebook = std::fs::read_to_string(incident("deploy_notebook").join("demo.ipynb")).unwrap();
    let line = notebook.lines().collect::<Vec<_>>().iter().rposition(|l| l.contains("CUDA out of memory")).unwrap() + 1;
    assert_eq!(oom["subject"]["line"], line, "{oom}");
    let notebook_artifact = artifact(&report, "demo.ipynb");
    assert_eq!(notebook_artifact["recognised_by"], "content: Jupyter notebook (nbformat 4), 4 of 4 code cells ran");
    let unused = |suffix: &str| artifact(&report, suffix)["summary"].as_str().unwrap().to_string();
    assert!(unused("pose/01").ends_with("not the run's poses: demo.ipynb names ./assets/halfbody_demo/pose/good"));
    assert!(
        unused("natural_bk_openhand/0014.png").contains("demo.ipynb names ./assets/halfbody_demo/refimag/test.png")
    );
    assert_ne!(artifact(&report, "refimg_aligned/aligned.png")["unused"], true);
    assert!(unused("configs/prompts/infer_acc.yaml").ends_with("names infer.yaml"));
    // Jupyter's autosave copy is not the run.
    assert!(!report["artifacts"].to_string().contains(".ipynb_checkpoints"));
    let fix = &report["verdict"]["fix"][0];
    assert!(fix["paste"].as_str().unwrap().contains("args.L = min(args.L, 120)"), "{fix}");
    assert!(
        fix["what"].as_str().unwrap().contains("about 13 GB at its default length; this one has 15.77 GiB)"),
        "{fix}"
    );

    // Had the generation ended in a black clip, the probe runs the notebook as a script.
    let (_dir, run_dir) = copy_of("deploy_notebook");
    let path = run_dir.join("demo.ipynb");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let clip = "outputs/aligned-a-echomimicv2_woman-i0";
    saved["cells"][4]["outputs"] = json!([
        {"name": "stdout", "output_type": "stream", "text": ["Pose: ./assets/halfbody_demo/pose/good\n"]},
        {"name": "stdout", "output_type": "stream", "text": [format!("Moviepy - video ready {clip}_sig.mp4\n"), format!("{clip}\n")]}
    ]);
    std::fs::write(&path, serde_json::to_string_pretty(&saved).unwrap()).unwrap();
    std::fs::create_dir(run_dir.join("outputs")).unwrap();
    std::fs::copy(incident("corrupt_vae").join("output/video.mp4"), run_dir.join(format!("{clip}_sig.mp4"))).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K108", "{verdict:#}\n{stderr}");
    let next = verdict["next"].to_string();
    assert!(next.contains("jupyter nbconvert --to python demo.ipynb"), "{next}");
    assert!(next.contains("python -m nanscope.probe run --out dump demo.py"), "{next}");

    // Stopped at an import: installed into the kernel's environment, from a cell.
    saved["cells"][3]["outputs"] = json!([{
        "ename": "ModuleNotFoundError", "evalue": "No module named 'moviepy.editor'", "output_type": "error",
        "traceback": [
            "\u{1b}[0;31mModuleNotFoundError\u{1b}[0m                       Traceback (most recent call last)",
            "Cell \u{1b}[0;32mIn[3], line 1\u{1b}[0m\n\u{1b}[0;32m----> 1\u{1b}[0m from moviepy.editor import VideoFileClip\n",
            "\u{1b}[0;31mModuleNotFoundError\u{1b}[0m: No module named 'moviepy.editor'"
        ]
    }]);
    saved["cells"][4]["outputs"] = json!([]);
    saved["cells"][4]["execution_count"] = Value::Null;
    std::fs::write(&path, serde_json::to_string_pretty(&saved).unwrap()).unwrap();
    std::fs::remove_dir_all(run_dir.join("outputs")).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K115", "{verdict:#}\n{stderr}");
    let pastes: Vec<&str> = verdict["fix"].as_array().unwrap().iter().filter_map(|f| f["paste"].as_str()).collect();
    assert_eq!(pastes, ["%pip install moviepy==1.0.3", "%pip install -r requirements.txt"]);
    assert_eq!(verdict["next"][0]["paste"], "import moviepy.editor");

    // A notebook that runs an entry point from the shell (as Colab notebooks do) is its log.
    let oom = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.12 GiB.";
    let colab = json!({"nbformat": 4, "nbformat_minor": 0, "metadata": {}, "cells": [
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
         "source": ["!pip install -r requirements.txt"]},
        {"cell_type": "code", "execution_count": 2, "metadata": {},
         "source": ["!python infer_acc.py --config ./configs/prompts/infer_acc.yaml"],
         "outputs": [{"name": "stdout", "output_type": "stream",
                      "text": format!("Traceback (most recent call last):\n  File \"infer_acc.py\", line 230\n{oom}\n")}]}
    ]});
    std::fs::remove_file(&path).unwrap();
    std::fs::write(run_dir.join("EchoMimicV2.ipynb"), colab.to_string()).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K112", "{verdict:#}\n{stderr}");
    assert_eq!(
        verdict["fix"][0]["paste"],
        "!python infer_acc.py --config ./configs/prompts/infer_acc.yaml -L 120   # in a cell"
    );
    assert!(
        artifact(&report, "configs/prompts/infer.yaml")["summary"].as_str().unwrap().ends_with("names infer_acc.yaml")
    );
}

/// The web UI exits at load without its motion module: the file it looks
/// for is the one to download, and a damaged checkpoint beside it is not
/// what stopped it.
#[test]
fn a_web_ui_that_exits_without_its_motion_module_gets_that_file() {
    let (_dir, run_dir) = copy_of("deploy_app_acc");
    std::fs::remove_file(run_dir.join("pretrained_weights/motion_module_acc.pth")).unwrap();
    std::fs::remove_dir_all(run_dir.join("outputs")).unwrap();
    let log = std::fs::read_to_string(run_dir.join("app.log")).unwrap();
    let header: Vec<&str> = log.lines().take_while(|l| !l.starts_with("using motion module")).collect();
    std::fs::write(run_dir.join("app.log"), format!("{}\nmotion module not found\n", header.join("\n"))).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K111", "{verdict:#}\n{stderr}");
    let pastes: Vec<&str> = verdict["fix"].as_array().unwrap().iter().filter_map(|f| f["paste"].as_str()).collect();
    let weights = run_dir.join("pretrained_weights");
    let download = format!(
        "huggingface-cli download BadToBest/EchoMimicV2 motion_module_acc.pth --local-dir {}",
        weights.display()
    );
    assert_eq!(pastes, [download.as_str()]);
    let lower = verdict["competing"].as_array().unwrap();
    assert!(
        lower
            .iter()
            .any(|c| c["cause"]["code"] == "K103" && c["why_lower"].as_str().unwrap().contains("stopped loading")),
        "{lower:#?}"
    );
}

/// Poses shorter than the audio cut the clip, unless the run's length
/// setting cut it shorter still.
#[test]
fn poses_shorter_than_the_audio_are_no_cause_when_the_clip_is_shorter_still() {
    let (_dir, run_dir) = copy_of("deploy_app_acc");
    let run_path = run_dir.to_str().unwrap();
    // At 96 fps the 0.69 s of audio are 66 frames: the 16 poses are short, and cut the 16-frame clip.
    let (_, report, stderr) = run(&[run_path, "--fps", "96"]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K110", "{:#}\n{stderr}", report["verdict"]);
    // A clip of its first 8 frames was cut by something else (the run's -L), not by the 16 poses.
    let clip = run_dir.join("outputs/20251120_100215_sig.mp4");
    let cut = run_dir.join("cut.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&clip)
        .args(["-frames:v", "8", "-c", "copy"])
        .arg(&cut)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::rename(&cut, &clip).unwrap();
    let (_, report, stderr) = run(&[run_path, "--fps", "96"]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}\n{stderr}", report["verdict"]);
    let p114 = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "P114").unwrap();
    assert_eq!((&p114["severity"], &p114["evidence"]["clip_frames"]), (&json!("info"), &json!(8)), "{p114:#}");
    assert!(p114["message"].as_str().unwrap().ends_with("cut it before the poses did"), "{p114:#}");
}

/// A run that stopped at an import names the module and the version that
/// brings it back, and no weight, input or frame is blamed for it.
#[test]
fn a_run_that_stopped_at_an_import_gets_the_pinned_version() {
    let (_dir, run_dir) = copy_of("deploy_healthy");
    std::fs::write(
        run_dir.join("server.log"),
        "$ python infer.py --config=./configs/prompts/infer.yaml\n\
         Traceback (most recent call last):\n\
         \x20 File \"/home/me/echomimic_v2/infer.py\", line 22, in <module>\n\
         \x20   from moviepy.editor import VideoFileClip, AudioFileClip\n\
         ModuleNotFoundError: No module named 'moviepy.editor'\n",
    )
    .unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K115", "{verdict:#}\n{stderr}");
    assert_eq!(link(&report, "environment")["basis"], "observed");
    assert!(
        verdict["headline"].as_str().unwrap().starts_with("The run stopped importing moviepy.editor"),
        "{verdict:#}"
    );
    let pastes: Vec<&str> = verdict["fix"].as_array().unwrap().iter().filter_map(|f| f["paste"].as_str()).collect();
    assert_eq!(pastes, ["pip install moviepy==1.0.3", "pip install -r requirements.txt"]);
    assert_eq!(verdict["next"][0]["paste"], "python -c 'import moviepy.editor'");
}

/// ComfyUI starts without a custom node it cannot import: another node's
/// failed import is no cause, the EchoMimic node's is.
#[test]
fn a_custom_node_comfyui_could_not_import_is_a_cause_only_when_it_is_echomimic_s() {
    let (_dir, run_dir) = copy_of("deploy_comfyui");
    let log = run_dir.join("user/comfyui.log");
    let node_failed = |node: &str, module: &str| {
        format!(
            "2024-12-16T18:54:59.100000 - Traceback (most recent call last):\n\
             \x20 File \"/srv/ComfyUI/nodes.py\", line 2106, in load_custom_node\n\
             \x20   module_spec.loader.exec_module(module)\n\
             ModuleNotFoundError: No module named '{module}'\n\
             2024-12-16T18:54:59.100100 - \n\
             2024-12-16T18:54:59.100200 - Cannot import /srv/ComfyUI/custom_nodes/{node} module for custom nodes: No module named '{module}'\n"
        )
    };
    let original = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, node_failed("comfyui_controlnet_aux", "cv2") + &original).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K101", "{verdict:#}\n{stderr}");
    assert!(!verdict.to_string().contains("K115") && !verdict.to_string().contains("cv2"), "{verdict:#}");

    std::fs::remove_dir_all(run_dir.join("output")).unwrap();
    let invalid = "2024-12-16T18:55:10.000100 - invalid prompt: {'type': 'invalid_prompt', 'message': 'Cannot execute \
                   because node Echo_LoadModel does not exist.'}\n";
    std::fs::write(&log, node_failed("ComfyUI_EchoMimic", "moviepy.editor") + invalid).unwrap();
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K115", "{verdict:#}\n{stderr}");
    assert!(
        verdict["headline"].as_str().unwrap().starts_with("ComfyUI started without ComfyUI_EchoMimic"),
        "{verdict:#}"
    );
    let pastes: Vec<&str> = verdict["fix"].as_array().unwrap().iter().filter_map(|f| f["paste"].as_str()).collect();
    assert_eq!(
        pastes,
        [
            "python -m pip install moviepy==1.0.3",
            "python -m pip install -r custom_nodes/ComfyUI_EchoMimic/requirements.txt"
        ]
    );
}

/// ComfyUI's console log alone, as a user of a Windows launcher copies it:
/// the probe step starts ComfyUI, not infer.py.
#[test]
fn a_comfyui_console_log_alone_gets_comfyui_s_probe_step() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("console.log"),
        "got prompt\n\
         ***** infer length is 336\n\
         latents shape:torch.Size([1, 4, 336, 64, 64]), video_length:336\n\
         E:\\ComfyUI-aki-v1.4\\custom_nodes\\ComfyUI_EchoMimic\\src\\utils\\util.py:98: RuntimeWarning: invalid value encountered in cast\n\
         \x20 x = (x * 255).numpy().astype(np.uint8)\n\
         Prompt executed in 30.76 seconds\n",
    )
    .unwrap();
    let (_, report, stderr) = run(&[dir.path().to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K108", "{verdict:#}\n{stderr}");
    let probe = verdict["next"][0]["paste"].as_str().unwrap();
    assert!(
        probe.contains("python -m nanscope.probe run --out dump main.py") && !probe.contains("infer.py"),
        "{probe}"
    );
}

/// The fix repairs the pose folder the run read, not the demo's others.
#[test]
fn only_the_run_s_pose_folder_is_repaired() {
    let (_dir, run_dir) = copy_of("deploy_app_acc");
    let demo = run_dir.join("assets/halfbody_demo/pose");
    std::fs::rename(demo.join("01"), demo.join("02")).unwrap();
    copy_dir(&incident("broken_pose").join("poses"), &demo.join("01"));
    copy_dir(&incident("broken_pose").join("poses"), &demo.join("03"));
    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K105", "{verdict:#}\n{stderr}");
    let repairs: Vec<&str> = verdict["fix"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["paste"].as_str())
        .filter(|p| p.starts_with("nanscope pose repair"))
        .collect();
    assert_eq!(repairs.len(), 1, "{repairs:#?}");
    assert!(repairs[0].contains("pose/01 --audio"), "{repairs:#?}");
    assert_eq!(artifact(&report, "pose/03")["unused"], true);
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} holds no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// A copy of a fixture's run folder, to damage: the folder and where it is.
fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("echomimic_v2");
    copy_dir(&incident(name), &run_dir);
    (dir, run_dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// A deployment without the weights EchoMimicV2's repository does not hold
/// (the VAE and Whisper's tiny.pt, downloaded separately): the verdict cites
/// the lines of the config the server log says it loaded, not those of the
/// other prompt configs, and the fix downloads each file where that config
/// looks for it.
#[test]
fn a_deployment_without_the_separately_downloaded_weights_gets_their_downloads() {
    let (_dir, run_dir) = copy_of("deploy_healthy");
    let weights = run_dir.join("pretrained_weights");
    std::fs::remove_dir_all(weights.join("sd-vae-ft-mse")).unwrap();
    std::fs::remove_dir_all(weights.join("audio_processor")).unwrap();

    let (code, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K111", "{verdict:#}");
    let link = link(&report, "weights");
    assert_eq!(link["says"], "missing from pretrained_weights/: VAE", "{link}");
    assert_eq!(cited_codes(&report, link), ["C102", "C102"], "{link}");
    for line in link["evidence"].as_array().unwrap() {
        assert!(line.as_str().unwrap().contains("configs/prompts/infer.yaml:"), "{link}");
    }
    let pastes: Vec<&str> = verdict["fix"].as_array().unwrap().iter().filter_map(|f| f["paste"].as_str()).collect();
    let weights = weights.display();
    assert_eq!(
        pastes,
        [
            format!("huggingface-cli download stabilityai/sd-vae-ft-mse --local-dir {weights}/sd-vae-ft-mse"),
            format!(
                "curl -L --create-dirs -o {weights}/audio_processor/tiny.pt https://openaipublic.azureedge.net/main/\
                 whisper/models/65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9/tiny.pt"
            ),
        ],
        "{:#}",
        verdict["fix"]
    );
    // The configs the log does not name are listed, not judged.
    for name in ["animation.yaml", "infer_acc.yaml"] {
        let config = artifact(&report, name);
        assert_eq!(config["unused"], true, "{config}");
        assert!(config["summary"].as_str().unwrap().contains("server.log names infer.yaml"), "{config}");
    }
}

/// The accelerated UNet missing where the server log, or the output folder,
/// says the run read infer.yaml: infer_acc.yaml is not the run's config, and
/// the run is healthy.
#[test]
fn a_missing_file_of_a_config_the_run_did_not_read_is_not_the_cause() {
    let (_dir, run_dir) = copy_of("deploy_healthy");
    std::fs::remove_file(run_dir.join("pretrained_weights/denoising_unet_acc.pth")).unwrap();
    let (code, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}", report["verdict"]);
    assert_eq!(code, 0, "{stderr}");
    // Without the log, the output folder infer.py named after infer.yaml's motion module says it.
    std::fs::remove_file(run_dir.join("server.log")).unwrap();
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}", report["verdict"]);
    let acc = artifact(&report, "infer_acc.yaml");
    assert!(acc["summary"].as_str().unwrap().contains("pretrained_weights-itermotion_module-seed3407"), "{acc}");
    // With neither, infer_acc.yaml may be the run's: its missing file is the cause.
    std::fs::remove_dir_all(run_dir.join("outputs")).unwrap();
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K111", "{verdict:#}");
    assert_eq!(
        verdict["fix"][0]["paste"],
        format!(
            "huggingface-cli download BadToBest/EchoMimicV2 denoising_unet_acc.pth --local-dir {}",
            run_dir.join("pretrained_weights").display()
        )
    );
}

/// EchoMimicV2's UI with its int8 option on: it quantizes the VAE and the
/// reference UNet and prints "使用int8量化". Black frames then are not blamed on a
/// quantized denoising UNet, and the next step is the run without the option.
#[test]
fn the_ui_int8_option_is_not_a_quantized_denoising_unet() {
    let (_dir, run_dir) = copy_of("deploy_seed");
    let healthy = incident("deploy_healthy").join("pretrained_weights/denoising_unet.pth");
    std::fs::copy(healthy, run_dir.join("pretrained_weights/denoising_unet.pth")).unwrap();
    replace_in(&run_dir.join("server.log"), "INFO quantize_(denoising_unet, int8_weight_only())", "使用int8量化");

    let (_, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K108", "{verdict:#}\n{stderr}");
    let line = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "L110").unwrap();
    assert_eq!(line["evidence"]["models"], json!(["vae", "reference_unet"]), "{line}");
    assert!(!verdict["chain"].to_string().contains("quantized weights"), "{verdict:#}");
    let next = verdict["next"][0]["what"].as_str().unwrap();
    assert!(next.starts_with("The run quantized vae and reference_unet"), "{next}");
    assert!(next.contains(line["id"].as_str().unwrap()), "{next}");
    // Nothing simulates int8 on a denoising UNet the run did not quantize.
    assert!(report["evidence"]["simulated"].is_null(), "{:#}", report["evidence"]);
}

const OOM: &str = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.25 GiB. GPU 0 has a total \
                   capacity of 11.72 GiB of which 1.02 GiB is free.\n";

/// The healthy deployment as a run that stopped before it wrote a video:
/// no outputs, and the server log's first nine lines followed by `tail`.
fn stopped_run(tail: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, run_dir) = copy_of("deploy_healthy");
    std::fs::remove_dir_all(run_dir.join("outputs")).unwrap();
    let log = run_dir.join("server.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let head: Vec<&str> = text.lines().take(9).collect();
    std::fs::write(&log, format!("{}\nTraceback (most recent call last):\n{tail}", head.join("\n"))).unwrap();
    (dir, run_dir)
}

/// A run the GPU's memory stopped before it wrote a video: the verdict is
/// the memory, with the log line, and the fix generates with less of it.
#[test]
fn a_run_that_ran_out_of_gpu_memory_says_so() {
    let (_dir, run_dir) = stopped_run(OOM);
    let (code, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K112", "{verdict:#}");
    let memory = link(&report, "memory");
    assert_eq!(cited_codes(&report, memory), ["L108"]);
    let line = format!("{}:11: torch.OutOfMemoryError", run_dir.join("server.log").display());
    assert!(memory["evidence"][0].as_str().unwrap().starts_with(&line), "{memory}");
    assert!(verdict["fix"][0]["paste"].as_str().unwrap().starts_with("python infer_acc.py"), "{verdict:#}");
    // No NaN to look for: no probe dump to record.
    assert_eq!(verdict["next"], json!([]), "{verdict:#}");
}

/// Runs that stopped on a setting EchoMimicV2 cannot run with, and on a
/// missing ffmpeg: each names its cause and its fix, and none asks for a
/// probe dump, since there is no NaN to trace.
#[test]
fn runs_stopped_by_a_setting_or_a_missing_ffmpeg_name_their_fix() {
    for (tail, cause, paste) in [
        (
            "ValueError: could not broadcast input array from shape (768,768,3) into shape (512,512,3)\n",
            "K113",
            "python infer.py --config ./configs/prompts/infer.yaml -W 768 -H 768",
        ),
        (
            "ValueError: range() arg 3 must not be zero\n",
            "K113",
            "python infer.py --config ./configs/prompts/infer.yaml --context_frames 12 --context_overlap 3",
        ),
        (
            "FileNotFoundError: [WinError 2] The system cannot find the file specified\n",
            "K109",
            "export FFMPEG_PATH=/path/to/ffmpeg-static   # the folder holding the ffmpeg binary",
        ),
    ] {
        let (_dir, run_dir) = stopped_run(tail);
        let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
        let verdict = &report["verdict"];
        assert_eq!(verdict["root_cause"]["code"], cause, "{tail}{verdict:#}");
        assert_eq!(verdict["fix"][0]["paste"], paste, "{verdict:#}");
        assert_eq!(verdict["next"], json!([]), "{verdict:#}");
        let cited: Vec<String> =
            verdict["chain"].as_array().unwrap().iter().flat_map(|l| cited_codes(&report, l)).collect();
        assert_eq!(cited, [if cause == "K113" { "L114" } else { "L113" }], "{verdict:#}");
    }
}

/// The incident's own story: the GPU ran out of memory, the denoising UNet
/// was quantized to fit, and the video came out black. The quantization is
/// the cause; running out of memory ranks below it.
#[test]
fn running_out_of_memory_before_the_quantization_is_not_the_cause_of_black_frames() {
    let (_dir, run_dir) = copy_of("deploy_seed");
    let log = run_dir.join("server.log");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, format!("{OOM}{text}")).unwrap();
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K101", "{verdict:#}");
    let competing: Vec<&str> =
        verdict["competing"].as_array().unwrap().iter().map(|c| c["cause"]["code"].as_str().unwrap()).collect();
    assert!(competing.contains(&"K112"), "{competing:?}");
}

/// Runs that stopped at model load, with the messages diffusers, torch,
/// Whisper and EchoMimicV2 print (as users posted them in EchoMimicV2's
/// issues): the verdict cites the log line, names the file or folder as the
/// run read it (from the checkout the prompt config lies in), and downloads
/// it from where it comes from.
#[test]
fn runs_stopped_at_model_load_name_the_file_and_its_download() {
    let vae = "OSError: We couldn't connect to 'https://huggingface.co' to load this model, couldn't find it in the \
               cached files and it looks like ./pretrained_weights/sd-vae-ft-mse is not the path to a directory \
               containing a config.json file.\n";
    let base = "OSError: Error no file named diffusion_pytorch_model.bin found in directory \
                ./pretrained_weights/sd-image-variations-diffusers.\n";
    let whisper = "RuntimeError: Model ./pretrained_weights/audio_processor/tiny.pt not found; available models = \
                   ['tiny.en', 'tiny']\n";
    let early =
        "FileNotFoundError: [Errno 2] No such file or directory: './pretrained_weights/reference_unet-162000.pth'\n";
    let truncated = "  File \"infer.py\", line 112, in main\n    torch.load(config.denoising_unet_path, map_location=\"cpu\"),\n\
                     RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory\n";
    for (tail, cause, rule, paste) in [
        (vae, "K111", "L119", "huggingface-cli download stabilityai/sd-vae-ft-mse --local-dir {w}/sd-vae-ft-mse"),
        (
            base,
            "K111",
            "L119",
            "huggingface-cli download lambdalabs/sd-image-variations-diffusers --include 'unet/*' --local-dir \
             {w}/sd-image-variations-diffusers",
        ),
        (whisper, "K111", "L119", "curl -L --create-dirs -o {w}/audio_processor/tiny.pt https://"),
        (early, "K111", "L119", "huggingface-cli download BadToBest/EchoMimicV2 reference_unet.pth --local-dir {w}"),
        (
            truncated,
            "K104",
            "L120",
            "huggingface-cli download BadToBest/EchoMimicV2 denoising_unet.pth --local-dir {w}",
        ),
    ] {
        let (_dir, run_dir) = stopped_run(tail);
        let (code, report, stderr) = run(&[run_dir.to_str().unwrap()]);
        assert_eq!(code, 1, "{stderr}");
        let verdict = &report["verdict"];
        assert_eq!(verdict["root_cause"]["code"], cause, "{tail}{verdict:#}");
        let load = link(&report, "model load");
        assert_eq!(cited_codes(&report, load), [rule], "{load}");
        let paste = paste.replace("{w}", &run_dir.join("pretrained_weights").display().to_string());
        let fix = verdict["fix"][0]["paste"].as_str().unwrap();
        assert!(fix.starts_with(&paste), "{tail}{fix}\n{paste}");
        assert_eq!(verdict["next"], json!([]), "{verdict:#}");
    }
    // An early config's name for the reference UNet is corrected, not only downloaded.
    let (_dir, run_dir) = stopped_run(early);
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    let fixes = report["verdict"]["fix"].to_string();
    assert!(fixes.contains("reference_unet-162000.pth is reference_unet.pth in EchoMimicV2's release"), "{fixes}");
}

/// A run whose log ends in an exception no rule names is not a healthy run:
/// the verdict says it does not know the cause and quotes the exception. A
/// traceback of an optional import that failed (xformers' triton) is not one.
#[test]
fn an_exception_no_rule_names_is_not_a_healthy_run() {
    let (_dir, run_dir) = stopped_run("AttributeError: 'NoneType' object has no attribute 'shape'\n");
    let (_, report, _) = run(&[run_dir.to_str().unwrap()]);
    let verdict = &report["verdict"];
    assert_eq!(verdict["root_cause"]["code"], "K121", "{verdict:#}");
    let headline = verdict["headline"].as_str().unwrap();
    assert!(
        headline.ends_with("server.log:11: AttributeError: 'NoneType' object has no attribute 'shape'"),
        "{headline}"
    );
    assert_eq!(cited_codes(&report, &verdict["chain"][0]), ["L122"], "{verdict:#}");

    let triton = "  File \"xformers/__init__.py\", line 57, in _is_triton_available\n    import triton  # noqa\n\
                  ModuleNotFoundError: No module named 'triton'\n";
    let (_dir, run_dir) = stopped_run(triton);
    let (code, report, stderr) = run(&[run_dir.to_str().unwrap()]);
    assert_eq!(report["verdict"]["root_cause"]["code"], "K120", "{:#}", report["verdict"]);
    assert_eq!(code, 0, "{stderr}");
    // Without the run's video, a healthy verdict is only as sure as its log.
    assert_eq!(report["verdict"]["confidence"], "medium");
}
