//! EchoMimicV2 prompt configs (`configs/prompts/infer*.yaml`): the weight
//! paths, `weight_dtype`, and the run parameters (`infer.py`'s arguments,
//! taken from the YAML when it states them, from `--set`, or the variant's
//! defaults) checked against the pipeline variant and the poses.

use std::path::Path;

use super::check::{ConfigOptions, Setting, Variant};
use super::findings;
use super::yaml::Node;
use crate::report::Finding;

/// Path keys `infer.py` loads; other `*_path` keys of the shipped configs
/// (`audio_mapper_path`, `auido_guider_path`, `auto_flow_path`) are unused.
const LOADED_PATHS: &[&str] = &[
    "pretrained_base_model_path",
    "pretrained_vae_path",
    "denoising_unet_path",
    "reference_unet_path",
    "pose_encoder_path",
    "motion_module_path",
    "audio_model_path",
    "inference_config",
];

/// Largest `context_frames` the motion module's position encoding covers.
const TEMPORAL_MAX_LEN: f64 = 32.0;

/// The run parameters and the YAML keys (or aliases) that may state them.
const PARAMETERS: &[(&str, &[&str])] = &[
    ("width", &["W", "width"]),
    ("height", &["H", "height"]),
    ("length", &["L", "length", "video_length"]),
    ("steps", &["steps", "num_inference_steps"]),
    ("cfg", &["cfg", "guidance_scale"]),
    ("seed", &["seed"]),
    ("context_frames", &["context_frames"]),
    ("context_overlap", &["context_overlap"]),
    ("sample_rate", &["sample_rate"]),
    ("fps", &["fps"]),
];

/// `infer.py` / `infer_acc.py` defaults.
pub(crate) fn default_of(name: &str, variant: Variant) -> f64 {
    match (name, variant) {
        ("width" | "height", _) => 768.0,
        ("length", _) => 240.0,
        ("steps", Variant::Normal) => 30.0,
        ("steps", Variant::Acc) => 6.0,
        ("cfg", Variant::Normal) => 2.5,
        ("cfg", Variant::Acc) => 1.0,
        ("seed", Variant::Normal) => 3407.0,
        ("seed", Variant::Acc) => 420.0,
        ("context_frames", _) => 12.0,
        ("context_overlap", _) => 3.0,
        ("sample_rate", _) => 16000.0,
        ("fps", _) => 24.0,
        _ => 0.0,
    }
}

/// A run parameter's value and where it came from.
pub(crate) struct Param {
    pub value: f64,
    /// The YAML key (with its line) or `--set`; `None` for a default.
    pub key: Option<(String, Option<u64>)>,
}

pub(crate) fn check(
    doc: &Node,
    file: &str,
    root: &Path,
    variant: Variant,
    options: &ConfigOptions,
) -> (Vec<Finding>, Vec<Setting>) {
    let mut out = findings::Sink::new(file);
    let mut settings = Vec::new();
    paths(doc, root, &mut out, &mut settings);
    test_cases(doc, root, &mut out, &mut settings);
    weight_dtype(doc, &mut out, &mut settings);
    quantization(doc, &mut out);
    let param = |name: &str| parameter(doc, options, name, variant);
    for (name, _) in PARAMETERS {
        let p = param(name);
        let source = match &p.key {
            Some((key, Some(_))) => format!("{key} in the file"),
            Some((key, None)) => key.clone(),
            None => format!("{} default", variant.as_str()),
        };
        settings.push(Setting::new(name, crate::report::fmt_num(p.value), source, None));
    }
    guidance_and_steps(&param("cfg"), &param("steps"), variant, &mut out);
    size(&param("width"), &param("height"), Some(options.pose_size), &mut out);
    windows(Some(&param("length")), &param("context_frames"), &param("context_overlap"), &mut out, &mut settings);
    audio(&param("sample_rate"), &param("fps"), &mut out);
    (out.findings, settings)
}

fn parameter(doc: &Node, options: &ConfigOptions, name: &str, variant: Variant) -> Param {
    let keys = PARAMETERS.iter().find(|(n, _)| *n == name).map_or(&[][..], |(_, keys)| *keys);
    if let Some((key, value)) = options.set.iter().find(|(k, _)| keys.contains(&k.as_str()) || k == name)
        && let Ok(value) = value.parse()
    {
        return Param { value, key: Some((format!("--set {key}"), None)) };
    }
    for key in keys {
        if let Some(entry) = doc.entry(key)
            && let Some(value) = entry.value.as_f64()
        {
            return Param { value, key: Some((key.to_string(), Some(entry.line))) };
        }
    }
    Param { value: default_of(name, variant), key: None }
}

fn paths(doc: &Node, root: &Path, out: &mut findings::Sink, settings: &mut Vec<Setting>) {
    let motion = doc.entry("motion_module_path");
    match motion.map(|e| (e, e.value.as_str().unwrap_or("").trim())) {
        None => out.push(findings::motion_module_absent("motion_module_path", None, "is not set")),
        Some((entry, "")) => {
            out.push(findings::motion_module_absent("motion_module_path", Some(entry.line), "is empty"))
        }
        Some(_) => {}
    }
    let Node::Map(entries) = doc else { return };
    for entry in entries {
        let Some(value) = entry.value.as_str().filter(|v| !v.trim().is_empty()) else { continue };
        let loaded = LOADED_PATHS.contains(&entry.key.as_str());
        if !loaded && !entry.key.ends_with("_path") {
            continue;
        }
        let resolved = root.join(value);
        let exists = resolved.exists();
        let meaning = match (loaded, exists) {
            (false, _) => "not loaded by infer.py",
            (true, true) => "found",
            (true, false) => "missing",
        };
        settings.push(Setting::new(&entry.key, value.to_string(), meaning.to_string(), Some(entry.line)));
        if loaded && !exists {
            let shown = resolved.display().to_string();
            out.push(if entry.key == "motion_module_path" {
                findings::motion_module_file_missing(&entry.key, entry.line, &shown)
            } else {
                findings::weight_file_missing(&entry.key, entry.line, &shown)
            });
        }
    }
}

/// Most test cases read: `infer_acc.py` spends minutes on each.
const MAX_TEST_CASES: usize = 1000;

/// Audio files `infer_acc.py` does not take for audio: it reads an entry
/// as the audio file only when its name holds `.wav`.
const OTHER_AUDIO: &[&str] = &["mp3", "m4a", "aac", "flac", "ogg", "opus"];

/// One input of a test case, as `infer_acc.py` reads it.
#[derive(Clone, Copy, PartialEq)]
enum Input {
    Reference,
    Audio,
    Poses,
}

impl Input {
    fn key(self) -> &'static str {
        match self {
            Input::Reference => "reference",
            Input::Audio => "audio",
            Input::Poses => "poses",
        }
    }

    fn named(self) -> &'static str {
        match self {
            Input::Reference => "reference image",
            Input::Audio => "audio file",
            Input::Poses => "pose folder",
        }
    }
}

/// `test_cases`, a reference image to the audio file and pose folder that
/// go with it, run in turn by `infer_acc.py`: of each case's entries, one
/// whose name holds `.wav` is the audio and any other the pose folder, and
/// a case without one keeps the previous case's. Each input is listed in
/// the settings (`test_cases[N].reference`, `.audio`, `.poses`), and one that
/// is not there, or is not what it is read as, is a finding.
fn test_cases(doc: &Node, root: &Path, out: &mut findings::Sink, settings: &mut Vec<Setting>) {
    let Some(Node::Map(cases)) = doc.get("test_cases") else { return };
    // The last audio file and pose folder given, with the case that gave each.
    let mut audio: Option<(&str, usize)> = None;
    let mut poses: Option<(&str, usize)> = None;
    for (n, case) in cases.iter().take(MAX_TEST_CASES).enumerate() {
        let number = n + 1;
        let entries: &[Node] = match &case.value {
            Node::Seq(items) => items,
            _ => &[],
        };
        // Audio files without `.wav` in their name, taken for the pose folder.
        let mut not_wav: Vec<&str> = Vec::new();
        for entry in entries.iter().filter_map(Node::as_str) {
            if entry.contains(".wav") {
                audio = Some((entry, number));
            } else {
                poses = Some((entry, number));
                let extension = Path::new(entry.trim_end_matches('/')).extension().and_then(|e| e.to_str());
                if extension.is_some_and(|e| OTHER_AUDIO.contains(&e.to_ascii_lowercase().as_str())) {
                    not_wav.push(entry);
                }
            }
        }
        let misread = not_wav.last().copied().filter(|entry| poses.is_some_and(|(p, _)| p == *entry));
        // One that a pose folder after it replaced leaves the case the previous case's audio.
        if let Some(&(heard, from)) = audio.as_ref().filter(|(_, from)| *from != number) {
            for entry in not_wav.iter().filter(|e| Some(**e) != misread) {
                let why = format!(
                    "holds no \".wav\" in its name, so the pose folder after it replaces it, and the case runs with \
                     case {from}'s audio, {heard}"
                );
                out.push(findings::test_case_input(number, case.line, "entry", Some(entry), &why, false));
            }
        }
        let inputs = [(Input::Reference, Some((case.key.as_str(), number))), (Input::Audio, audio), (Input::Poses, poses)];
        for (input, named) in inputs {
            let key = format!("test_cases[{number}].{}", input.key());
            let line = Some(case.line);
            let Some((path, from)) = named else {
                settings.push(Setting::new(&key, "-".into(), "none: infer_acc.py stops with NameError".into(), line));
                out.push(findings::test_case_input(number, case.line, input.named(), None, "is not given", true));
                continue;
            };
            let resolved = root.join(path);
            // An empty path is the current folder to Rust and no file to Python.
            let found = !path.trim().is_empty() && if input == Input::Poses { resolved.is_dir() } else { resolved.is_file() };
            let mut meaning = (if found { "found" } else { "missing" }).to_string();
            if from != number {
                meaning.push_str(&format!(" (case {from}'s: infer_acc.py keeps the last one given)"));
            }
            settings.push(Setting::new(&key, path.to_string(), meaning, line));
            if from != number {
                continue;
            }
            let shown = resolved.display().to_string();
            if input == Input::Poses && misread == Some(path) {
                let why = "holds no \".wav\" in its name, so it is read as the pose folder";
                let misread = findings::test_case_input(number, case.line, "entry", Some(path), why, true);
                out.push(misread.with_evidence("path", path).with_evidence("resolved", shown).with_evidence("read_as", "poses"));
            } else if !found {
                let why = if path.trim().is_empty() {
                    "is an empty path".to_string()
                } else if resolved.exists() {
                    format!("at {shown} is not a {}", if input == Input::Poses { "folder" } else { "file" })
                } else {
                    format!("does not exist at {shown}")
                };
                out.push(findings::test_case_input_missing(number, case.line, input.named(), path, &shown, &why));
            }
        }
    }
}

fn weight_dtype(doc: &Node, out: &mut findings::Sink, settings: &mut Vec<Setting>) {
    let entry = doc.entry("weight_dtype");
    let value = entry.map(|e| e.value.display());
    let meaning = match value.as_deref() {
        Some("fp16") => "torch.float16 for every model (fp16 overflow risk in UNet and VAE)",
        Some("fp32") => "torch.float32 (twice the memory of fp16)",
        Some(_) => "torch.float32: EchoMimicV2 treats every value but fp16 as float32",
        None => "not set: infer.py fails reading it",
    };
    settings.push(Setting::new(
        "weight_dtype",
        value.clone().unwrap_or_else(|| "-".into()),
        meaning.into(),
        entry.map(|e| e.line),
    ));
    if !matches!(value.as_deref(), Some("fp16" | "fp32")) {
        out.push(findings::weight_dtype(entry.map(|e| e.line), value.as_deref(), meaning));
    }
}

/// Keys a deployment's config may use to turn quantization on.
const QUANTIZATION_KEYS: &[&str] =
    &["quantization", "quantize", "quantization_config", "quant", "load_in_8bit", "load_in_4bit", "int8"];

fn quantization(doc: &Node, out: &mut findings::Sink) {
    for key in QUANTIZATION_KEYS {
        let Some(entry) = doc.entry(key) else { continue };
        let value = entry.value.display();
        let lower = value.trim().to_ascii_lowercase();
        let off = matches!(entry.value, Node::Null | Node::Bool(false))
            || ["", "false", "none", "null", "no", "off", "0", "fp16", "fp32", "bf16"].contains(&lower.as_str());
        if off {
            continue;
        }
        // `load_in_4bit: true` names its scheme in the key; `quantization: int8` in the value.
        let named = if matches!(entry.value, Node::Bool(true)) { key.to_string() } else { format!("{key} {lower}") };
        let scheme = crate::log::scheme_named(&named.to_ascii_lowercase())
            .or_else(|| matches!(entry.value, Node::Bool(true)).then_some(crate::numerics::QuantScheme::Int8Channel));
        out.push(findings::quantization(key, entry.line, &value, scheme));
    }
}

pub(crate) fn guidance_and_steps(cfg: &Param, steps: &Param, variant: Variant, out: &mut findings::Sink) {
    let cfg_key = cfg.key.as_ref().map_or(("cfg".to_string(), None), |(k, l)| (k.clone(), *l));
    match variant {
        Variant::Acc if cfg.value > 1.0 => out.push(findings::acc_with_cfg(&cfg_key.0, cfg_key.1, cfg.value)),
        Variant::Normal if cfg.value <= 1.0 => out.push(findings::normal_without_cfg(&cfg_key.0, cfg_key.1, cfg.value)),
        _ => {}
    }
    let steps_key = steps.key.as_ref().map_or(("steps".to_string(), None), |(k, l)| (k.clone(), *l));
    if steps.value < 1.0 || (variant == Variant::Normal && steps.value < 10.0) {
        out.push(findings::few_steps(&steps_key.0, steps_key.1, steps.value, variant));
    }
}

/// Width and height: multiples of 8, and the size the poses were drawn for
/// when that is known.
pub(crate) fn size(width: &Param, height: &Param, pose: Option<[u32; 2]>, out: &mut findings::Sink) {
    for (i, (p, name)) in [(width, "width"), (height, "height")].into_iter().enumerate() {
        let (key, line) = p.key.as_ref().map_or((name.to_string(), None), |(k, l)| (k.clone(), *l));
        if p.value < 8.0 || p.value % 8.0 != 0.0 {
            out.push(findings::not_multiple_of_8(&key, line, p.value));
        } else if let Some(expected) = pose.map(|pose| pose[i])
            && p.value != f64::from(expected)
        {
            out.push(findings::not_pose_size(&key, line, p.value, expected));
        }
    }
}

/// The context windows over `length` frames; a length not known (a ComfyUI
/// node takes it from the audio) is taken as more than one window.
pub(crate) fn windows(
    length: Option<&Param>,
    frames: &Param,
    overlap: &Param,
    out: &mut findings::Sink,
    settings: &mut Vec<Setting>,
) {
    let key = |p: &Param, name: &str| p.key.as_ref().map_or((name.to_string(), None), |(k, l)| (k.clone(), *l));
    let (fk, fl) = key(frames, "context_frames");
    let (ok, ol) = key(overlap, "context_overlap");
    let (l, f, o) = (length.map_or(f64::INFINITY, |l| l.value), frames.value, overlap.value);
    if f < 1.0 || l < 1.0 || o < 0.0 {
        out.push(findings::windows(
            &fk,
            fl,
            format!("context_frames {f}, context_overlap {o}, length {l}: counts must be positive"),
        ));
        return;
    }
    if f > TEMPORAL_MAX_LEN {
        out.push(findings::windows(
            &fk,
            fl,
            format!(
                "context_frames {f} is longer than the motion module's temporal position encoding ({TEMPORAL_MAX_LEN})"
            ),
        ));
    }
    if l <= f {
        settings.push(Setting::new("windows", "1".into(), format!("{l} frames fit in one window"), None));
        return;
    }
    if o == f {
        out.push(findings::windows(
            &ok,
            ol,
            format!("context_overlap {o} equals context_frames {f}: range() arg 3 must not be zero"),
        ));
    } else if o > f {
        out.push(findings::windows(
            &ok,
            ol,
            format!(
                "context_overlap {o} exceeds context_frames {f}: zero windows, 0/0 = NaN latents, an all-black video"
            ),
        ));
    } else if l.is_finite() {
        let windows = (l / (f - o)).ceil();
        settings.push(Setting::new(
            "windows",
            crate::report::fmt_num(windows),
            format!("of {f} frames, every {} frames", f - o),
            None,
        ));
    }
}

pub(crate) fn audio(rate: &Param, fps: &Param, out: &mut findings::Sink) {
    let key = |p: &Param, name: &str| p.key.as_ref().map_or((name.to_string(), None), |(k, l)| (k.clone(), *l));
    if rate.value != 16000.0 {
        let (k, l) = key(rate, "sample_rate");
        out.push(findings::audio_timing(
            &k,
            l,
            format!("sample_rate {} is not the 16000 Hz Whisper expects", rate.value),
        ));
    }
    if fps.value <= 0.0 {
        let (k, l) = key(fps, "fps");
        out.push(findings::audio_timing(
            &k,
            l,
            format!("fps {} is not positive: audio slicing divides by it", fps.value),
        ));
    } else if fps.value != 24.0 {
        let (k, l) = key(fps, "fps");
        out.push(findings::audio_timing(
            &k,
            l,
            format!("fps {} differs from the 24 the model was trained with", fps.value),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::QuantScheme;

    fn quantization_findings(text: &str) -> Vec<Finding> {
        let doc = super::super::yaml::parse(text).unwrap();
        let mut out = findings::Sink::new("infer.yaml");
        quantization(&doc, &mut out);
        out.findings
    }

    fn scheme(f: &Finding) -> Option<QuantScheme> {
        f.evidence.get("scheme").and_then(|v| v.as_str()).and_then(QuantScheme::from_name)
    }

    fn test_case_report(text: &str, root: &Path) -> (Vec<Finding>, Vec<(String, String, String)>) {
        let doc = super::super::yaml::parse(text).unwrap();
        let mut out = findings::Sink::new("infer_acc.yaml");
        let mut settings = Vec::new();
        test_cases(&doc, root, &mut out, &mut settings);
        (out.findings, settings.into_iter().map(|s| (s.key, s.value, s.meaning)).collect())
    }

    #[test]
    fn each_test_case_s_inputs_are_listed_and_a_missing_or_misread_one_found() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pose/01")).unwrap();
        for file in ["a.png", "b.png", "a.wav", "b.mp3"] {
            std::fs::write(dir.path().join(file), b"x").unwrap();
        }
        let text = "test_cases:\n  \"./a.png\":\n    - \"./a.wav\"\n    - \"./pose/01/\"\n  \"./b.png\":\n    - \"./b.mp3\"\n\
                    \x20 \"./c.png\":\n    - \"../elsewhere/pose/02/\"\n";
        let (found, settings) = test_case_report(text, dir.path());
        let listed: Vec<(&str, &str, &str)> = settings.iter().map(|(k, v, m)| (k.as_str(), v.as_str(), m.as_str())).collect();
        assert_eq!(
            listed,
            [
                ("test_cases[1].reference", "./a.png", "found"),
                ("test_cases[1].audio", "./a.wav", "found"),
                ("test_cases[1].poses", "./pose/01/", "found"),
                ("test_cases[2].reference", "./b.png", "found"),
                ("test_cases[2].audio", "./a.wav", "found (case 1's: infer_acc.py keeps the last one given)"),
                ("test_cases[2].poses", "./b.mp3", "missing"),
                ("test_cases[3].reference", "./c.png", "missing"),
                ("test_cases[3].audio", "./a.wav", "found (case 1's: infer_acc.py keeps the last one given)"),
                ("test_cases[3].poses", "../elsewhere/pose/02/", "missing"),
            ]
        );
        let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(found.iter().all(|f| f.is(&crate::rules::config::TEST_CASE_INPUT)));
        assert!(messages[0].starts_with("test case 2: the entry ./b.mp3 holds no \".wav\""), "{}", messages[0]);
        assert!(messages[1].starts_with("test case 3: the reference image ./c.png does not exist at "), "{}", messages[1]);
        assert!(messages[2].starts_with("test case 3: the pose folder ../elsewhere/pose/02/ does not exist"), "{}", messages[2]);
        assert_eq!((found[1].subject.key.as_deref(), found[1].subject.line), (Some("test_cases"), Some(7)));

        // A first case without an audio file stops infer_acc.py before it reads anything.
        let (found, settings) = test_case_report("test_cases:\n  ./a.png: [./pose/01/]\n", dir.path());
        assert_eq!(settings[1], ("test_cases[1].audio".into(), "-".into(), "none: infer_acc.py stops with NameError".into()));
        assert_eq!(found.len(), 1);
        assert!(found[0].message.starts_with("test case 1: the audio file is not given"), "{}", found[0].message);
        // A config without test cases, or with something else under the key, lists none.
        // An MP3 before the pose folder is replaced by it: the case runs with the previous case's audio.
        let (found, settings) = test_case_report("test_cases:\n  ./a.png: [./a.wav, ./pose/01/]\n  ./b.png: [./b.mp3, ./pose/01/]\n", dir.path());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].message, "test case 2: the entry ./b.mp3 holds no \".wav\" in its name, so the pose folder after it replaces it, and the case runs with case 1's audio, ./a.wav");
        assert_eq!(found[0].evidence.get("stops"), Some(&false.into()));
        assert_eq!(settings[4].1, "./a.wav");
        let (found, _) = test_case_report("test_cases:\n  ./a.png: [./a.wav, '']\n", dir.path());
        assert_eq!(found.len(), 1);
        assert!(found[0].message.starts_with("test case 1: the pose folder is an empty path"), "{}", found[0].message);
        for text in ["weight_dtype: fp16\n", "test_cases: []\n", "test_cases: x\n"] {
            assert_eq!(test_case_report(text, dir.path()), (vec![], vec![]), "{text}");
        }
    }

    #[test]
    fn quantization_keys_name_their_scheme() {
        let found = quantization_findings("quantization: int8_weight_only\nweight_dtype: fp16\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].is(&crate::rules::config::QUANTIZATION_CONFIGURED));
        assert_eq!((found[0].subject.key.as_deref(), found[0].subject.line), (Some("quantization"), Some(1)));
        assert_eq!(scheme(&found[0]), Some(QuantScheme::Int8Channel));
        let found = quantization_findings("load_in_4bit: true\n");
        assert_eq!(scheme(&found[0]), Some(QuantScheme::Int4G128));
    }

    #[test]
    fn quantization_turned_off_is_not_a_finding() {
        for text in ["quantization: none\n", "quantization: false\n", "load_in_8bit: false\n", "quantize: ''\n"] {
            assert!(quantization_findings(text).is_empty(), "{text}");
        }
    }
}
