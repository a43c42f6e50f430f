//! The log lines nanscope recognises: which rule each one is, and which
//! stage of the pipeline it implicates.
//!
//! `NEEDLES` are what the block search looks for; `classify` then reads the
//! (lower-cased) line that holds one and decides. A needle may match lines
//! that are not signatures ("Contains NaN: False"); `classify` says no.

use crate::numerics::QuantScheme;
use crate::rules::Rule;
use crate::rules::log as rules;

/// Strings whose presence makes a line worth classifying. Parameter
/// keywords are listed in `params::NEEDLES`.
pub(crate) const NEEDLES: &[&str] = &[
    "encountered in",
    "divide by zero",
    "nan",
    "inf values",
    "contains inf",
    "replac",
    "invalid values",
    "bytes read",
    "moov atom",
    "invalid data found",
    "out of memory",
    "outofmemory",
    "quantiz",
    "int8_weight_only",
    "int4_weight_only",
    "int8量化",
    "bitsandbytes",
    "load_in_8bit",
    "load_in_4bit",
    "motion module",
    "winerror 2",
    "failed to load audio",
    "ffmpeg",
    "broadcast",
    "must match the size",
    "invalid for input of size",
    "shapes cannot be multiplied",
    "arg 3 must not be zero",
    "invalid load key",
    "headertoolarge",
    "traceback (most recent call last)",
    "range",
    "min=",
    "min:",
];

/// Strings of the lines in which loading a model failed (`load_failure`).
pub(crate) const LOAD_NEEDLES: &[&str] = &[
    "no such file or directory",
    "no file named",
    "does not appear to have a file named",
    "is not the path to a directory",
    "is not a local folder",
    "repo id must be in the form",
    "does not exist",
    "no weights file found",
    "not found; available models",
    "failed reading zip archive",
    "ran out of input",
    "metadataincompletebuffer",
    "invalid header",
    "invalid load key",
    "loading state_dict",
    "keys are missing",
    "in the local cache",
    "error while deserializing header",
    "unsupported operand",
];

/// Strings that matter only inside a Python traceback or just after one:
/// its exception line, the config key a frame loads, and ComfyUI's line for
/// a custom node whose import raised it. Lines holding only these are
/// dropped unread while no traceback is open.
pub(crate) const TRACEBACK_NEEDLES: &[&str] =
    &["error", "exception", "keyboardinterrupt", "_path", "module for custom nodes"];

/// A recognised line: its rule, the stage it implicates and, for a
/// quantization line, the scheme it names (as `weights --simulate` takes it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Signature {
    pub rule: &'static Rule,
    pub stage: &'static str,
    pub scheme: Option<QuantScheme>,
}

fn sig(rule: &'static Rule, stage: &'static str) -> Option<Signature> {
    Some(Signature { rule, stage, scheme: None })
}

/// Decides what a line is. `line` must be lower-cased.
pub(crate) fn classify(line: &str) -> Option<Signature> {
    let has = |needle: &str| line.contains(needle);
    let any = |needles: &[&str]| needles.iter().any(|n| line.contains(n));
    if has("invalid value encountered in cast") {
        return sig(&rules::NAN_CAST_WARNING, "video write");
    }
    if has("nansexception") || has("all nans was produced") || has("all nans were produced") {
        return sig(&rules::NANS_EXCEPTION, nan_stage(line, "denoising"));
    }
    if any(&["replacing with zero", "replaced with zero", "replacing nan", "nan_to_num"])
        || (has("replac") && has("nan") && has("zero"))
        || (has("invalid values") && any(&["clean", "replac", "sanitiz"]))
    {
        return sig(&rules::NAN_REPLACED_WITH_ZEROS, nan_stage(line, "video write"));
    }
    if any(&["overflow encountered in", "divide by zero encountered", "invalid value encountered in"]) {
        return sig(&rules::NUMPY_NUMERIC_WARNING, "numerics");
    }
    if has("moov atom not found") {
        return sig(&rules::MOOV_ATOM_NOT_FOUND, "mux");
    }
    if has("invalid data found when processing input") {
        return sig(&rules::INVALID_MEDIA_DATA, "media input");
    }
    if zero_bytes_read(line) {
        return sig(&rules::ZERO_BYTES_READ, "media input");
    }
    if any(&["cuda out of memory", "outofmemoryerror", "cuda error: out of memory"]) {
        return sig(&rules::CUDA_OUT_OF_MEMORY, "memory");
    }
    if let Some(params) = motion_module_params(line) {
        return (params == 0.0).then_some(Signature {
            rule: &rules::MOTION_MODULE_EMPTY,
            stage: "model load",
            scheme: None,
        });
    }
    if has("invalid load key, 'v'") || has("headertoolarge") {
        return sig(&rules::LFS_POINTER_LOADED, "model load");
    }
    if let Some(rule) = load_failure(line) {
        return sig(rule, "model load");
    }
    if has("motion module not found") {
        return sig(&rules::MOTION_MODULE_NOT_FOUND, "model load");
    }
    if any(&["[winerror 2]", "failed to load audio", "no such file or directory: 'ffmpeg'", "ffmpeg: not found"]) {
        return sig(&rules::FFMPEG_MISSING, "audio");
    }
    if has("could not broadcast") {
        return sig(&rules::SHAPE_MISMATCH, "pose");
    }
    if has("arg 3 must not be zero") {
        return sig(&rules::SHAPE_MISMATCH, "context windows");
    }
    if any(&["must match the size of tensor", "invalid for input of size", "shapes cannot be multiplied"]) {
        return sig(&rules::SHAPE_MISMATCH, "model forward");
    }
    if quantization(line) {
        let scheme = if has("cannot import") { None } else { scheme_named(line) };
        return Some(Signature { rule: &rules::QUANTIZATION_APPLIED, stage: "model load", scheme });
    }
    if nan_reported(line) {
        return sig(&rules::PIPELINE_NAN_REPORTED, nan_stage(line, "pipeline output"));
    }
    if let Some((lo, hi)) = printed_range(line)
        && lo == hi
    {
        return sig(&rules::BLANK_OUTPUT_RANGE, "pipeline output");
    }
    None
}

/// The rule of a (lower-cased) line in which loading a model failed: its
/// weights or folder were not found (L119), the file is not a checkpoint
/// (L120), or it is another model's (L121).
fn load_failure(line: &str) -> Option<&'static Rule> {
    // One pass decides for most lines, which name no load at all.
    static PHRASES: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    if !PHRASES.get_or_init(|| super::scan::searcher(LOAD_NEEDLES)).is_match(line) {
        return None;
    }
    let has = |needle: &str| line.contains(needle);
    let any = |needles: &[&str]| needles.iter().any(|n| line.contains(n));
    // diffusers says so before it falls back to the `.bin` file.
    if has("an error occurred while trying to fetch") {
        return None;
    }
    let not_found = [
        "error no file named",
        "does not appear to have a file named",
        "is not the path to a directory containing",
        "is not a local folder and is not a valid model identifier",
        "does not exist or is not a file",
        "no weights file found in",
        // huggingface_hub offline, for a path that is not a folder on disk.
        "cannot find the requested files in the local cache",
    ];
    if any(&not_found)
        || (has("not found; available models") && has("model "))
        || (has("repo id must be in the form") && quoted_after(line, "': ").is_some_and(looks_local))
        || (has("no such file or directory") && quoted_after(line, "no such file or directory: ").is_some_and(is_weights_path))
    {
        return Some(&rules::WEIGHTS_NOT_FOUND);
    }
    let unreadable = [
        "failed reading zip archive",
        "eoferror: ran out of input",
        // Any but `HeaderTooLarge` (a Git LFS pointer, L118), which is read first.
        "error while deserializing header",
    ];
    if any(&unreadable) || (has("invalid load key, '") && !has("invalid load key, 'v'")) || not_an_opcode(line) {
        return Some(&rules::CHECKPOINT_UNREADABLE);
    }
    if has("error(s) in loading state_dict for")
        || (has("cannot load <class") && has("keys are missing"))
        || block_type_missing(line)
    {
        return Some(&rules::CHECKPOINT_MISMATCH);
    }
    None
}

/// torch's weights-only loader on a byte that is no pickle opcode
/// (`Unsupported operand 60`: a `<`, an HTML page), on a line of its own
/// below `Weights only load failed`. Python's `unsupported operand type(s)`
/// is another error.
fn not_an_opcode(line: &str) -> bool {
    let rest = line.trim_start().strip_prefix("unsupported operand ").unwrap_or("");
    rest.starts_with(|c: char| c.is_ascii_digit())
}

/// diffusers' `ValueError: DownEncoderBlock2D does not exist.`: a config
/// whose block types the model being built does not have.
fn block_type_missing(line: &str) -> bool {
    let Some(at) = line.find(" does not exist.") else { return false };
    let name = line[..at].rsplit([' ', ':']).next().unwrap_or("");
    name.ends_with("block2d") || name.ends_with("block3d") || name.ends_with("blockflat")
}

/// The text between single quotes right after `key`.
fn quoted_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    let rest = rest.strip_prefix('\'')?;
    Some(&rest[..rest.find('\'')?])
}

/// A path of model weights: a checkpoint's extension, or inside a weights folder.
fn is_weights_path(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    let extensions = [".pth", ".pt", ".bin", ".safetensors", ".ckpt", ".gguf", ".onnx"];
    extensions.iter().any(|e| path.ends_with(e)) || path.contains("pretrained_weights") || path.contains("checkpoints")
}

/// A path on disk, not a Hugging Face repository id.
fn looks_local(path: &str) -> bool {
    path.starts_with(['.', '/', '~', '\\']) || path.as_bytes().get(1) == Some(&b':') || path.contains("pretrained_weights")
}

/// What a load line names: the file or folder it did not find or could not
/// use, and the file it looked for in a folder. Offsets are those of the
/// lower-cased line, so `line` keeps its case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct LoadTarget {
    pub path: Option<String>,
    pub wanted: Option<String>,
}

pub(crate) fn load_target(line: &str) -> LoadTarget {
    // Offsets found in `lower` index `line`: both are trimmed alike.
    let line = line.trim_end();
    let lower = line.to_ascii_lowercase();
    let after = |key: &str| Some(line[lower.find(key)? + key.len()..].trim());
    let between = |start: &str, end: &str| {
        let rest = after(start)?;
        Some(rest[..rest.to_ascii_lowercase().find(end)?].trim())
    };
    let word_before = |end: &str| {
        let word = line[..lower.find(end)?].trim_end().rsplit([' ', '\t']).next()?;
        Some(word.trim_matches(['\'', '"']))
    };
    let quoted = |key: &str| {
        let rest = after(key)?.strip_prefix('\'')?;
        Some(&rest[..rest.find('\'')?])
    };
    // A folder as diffusers ends its sentence: `… in directory ./x.`
    let folder = |path: &str| Some(path.trim_end_matches('.').trim_end_matches(['/', '\\']).to_string());
    let (path, wanted) = if let Some(dir) = after("found in directory ") {
        (folder(dir), between("error no file named ", " found in").map(str::to_string))
    } else if let Some(path) = word_before(" does not appear to have a file named") {
        let wanted = after("does not appear to have a file named ").map(|w| w.trim_end_matches('.').to_string());
        (folder(path), wanted)
    } else if let Some(path) = between("it looks like ", " is not the path to a directory") {
        (folder(path), Some("config.json".to_string()))
    } else if let Some(path) = word_before(" is not a local folder") {
        (folder(path), None)
    } else if let Some(path) = word_before(" does not exist or is not a file") {
        (Some(path.to_string()), None)
    } else if let Some(path) = after("no weights file found in ") {
        (folder(path), None)
    } else if let Some(path) = between("model ", " not found; available models") {
        (path.rsplit(' ').next().map(str::to_string), None)
    } else if let Some(path) = quoted("no such file or directory: ") {
        (Some(path.to_string()), None)
    } else if lower.contains("repo id must be in the form")
        && let Some(path) = quoted("': ")
    {
        (folder(path), None)
    } else if let Some(path) = between("> from ", " because the following keys are missing") {
        (folder(path), None)
    } else {
        (None, None)
    };
    LoadTarget { path: path.filter(|p| !p.is_empty()), wanted: wanted.filter(|w| !w.is_empty()) }
}

/// The type of the exception a Python traceback ends with (`ValueError`,
/// `torch.OutOfMemoryError`), when `line` is that line: it starts, after a
/// timestamp and separators, with a dotted name whose last part ends in
/// `Error`, `Exception` or `Interrupt`, followed by `:` or nothing.
pub(crate) fn exception_type(line: &str) -> Option<&str> {
    let body = super::timestamp::strip(line).trim_start_matches([' ', '\t', '-', '|', ']']);
    let name = match body.find(':') {
        Some(at) => &body[..at],
        None => body.trim_end(),
    };
    let plain = name.split('.').all(|part| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    let last = name.rsplit('.').next().unwrap_or("");
    let exception = ["Error", "Exception", "Interrupt"].iter().any(|s| last.ends_with(s));
    (plain && exception && last.chars().next().is_some_and(|c| c.is_ascii_uppercase())).then_some(name)
}

/// The key of a prompt config's weight path that a traceback's source line
/// reads: `denoising_unet_path` in `torch.load(config.denoising_unet_path, …)`.
pub(crate) fn config_path_key(line: &str) -> Option<&str> {
    line.match_indices("config.").find_map(|(at, key)| {
        let rest = &line[at + key.len()..];
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let name = &rest[..end];
        name.ends_with("_path").then_some(name)
    })
}

/// Exceptions that libraries catch and only report: a traceback ending in
/// one did not stop the run (xformers probes for the optional `triton`).
pub(crate) fn benign_exception(line: &str) -> bool {
    line.to_ascii_lowercase().contains("no module named 'triton'")
}

/// The stage a NaN line names, or `default`.
fn nan_stage(line: &str, default: &'static str) -> &'static str {
    if line.contains("latent") || line.contains("unet") || line.contains("denois") {
        "denoising"
    } else if line.contains("vae") || line.contains("decod") {
        "vae decode"
    } else if line.contains("pose") {
        "pose"
    } else if line.contains("ref") && line.contains("image") {
        "reference image"
    } else {
        default
    }
}

/// moviepy's "… bytes wanted but 0 bytes read" and the like.
fn zero_bytes_read(line: &str) -> bool {
    line.match_indices("0 bytes read").any(|(at, _)| at == 0 || !line.as_bytes()[at - 1].is_ascii_digit())
}

/// The parameter count of `Loaded {X}M-parameter motion module`.
fn motion_module_params(line: &str) -> Option<f64> {
    let at = line.find("m-parameter motion module")?;
    let digits = line[..at].trim_end();
    let start = digits
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(0, |(p, c)| p + c.len_utf8());
    digits[start..].parse().ok()
}

fn quantization(line: &str) -> bool {
    let applied = [
        "quantize_(",
        "quantize_dynamic",
        "int8_weight_only",
        "int4_weight_only",
        "int8_dynamic_activation",
        "load_in_8bit=true",
        "load_in_4bit=true",
        "bitsandbytes",
        "cannot import name 'quantize_'",
        UI_INT8,
    ];
    applied.iter().any(|n| line.contains(n))
        || (line.contains("quantiz") && ["appl", "int8", "int4", "fp8", "float8", "torchao"].iter().any(|n| line.contains(n)))
}

/// What EchoMimicV2's UIs (`app.py`, `app_acc.py`) print once their int8
/// option has quantized the VAE (and then the reference UNet) with torchao's
/// `int8_weight_only`: "使用int8量化" or "int8量化" ("int8 quantization").
const UI_INT8: &str = "int8量化";

/// The models a (lower-cased) quantization line names: the first argument
/// of `quantize_(…)`, the model mmgp names (`quantization of model
/// 'transformer' started to format 'qint8'`, `model 'transformer' is
/// already quantized…`), or the VAE and reference UNet for the message of
/// EchoMimicV2's UIs, which quantize only those. Empty when the line does
/// not say.
pub(crate) fn quantized_models(line: &str) -> Vec<String> {
    if line.contains(UI_INT8) {
        return vec!["vae".into(), "reference_unet".into()];
    }
    if let Some(model) = mmgp_model(line) {
        return vec![model.to_string()];
    }
    line.match_indices("quantize_(")
        .filter_map(|(at, call)| {
            let argument = line[at + call.len()..].split([',', ')']).next()?.trim();
            let name = argument.strip_prefix("model=").unwrap_or(argument).trim();
            let plain = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.');
            plain.then(|| name.to_string())
        })
        .collect()
}

/// The model a (lower-cased) line of mmgp's quantization names, quoted
/// after `model `: mmgp's offload profiles quantize a pipeline's
/// transformer (and T5-like text encoders) with optimum-quanto as they load.
fn mmgp_model(line: &str) -> Option<&str> {
    let quoted = |rest: &str| -> Option<usize> {
        let name = rest.strip_prefix('\'')?;
        let end = name.find('\'')?;
        let plain = end > 0 && name[..end].chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.');
        plain.then_some(end)
    };
    let at = if let Some(at) = line.find("quantization of model ") {
        at + "quantization of model ".len()
    } else {
        let at = line.find("model '")? + "model ".len();
        line[at..].contains("' is already quantized").then_some(at)?
    };
    let end = quoted(&line[at..])?;
    Some(&line[at + 1..at + 1 + end])
}

/// The quantization scheme a (lower-cased) line or setting names, as
/// `weights --simulate` takes it: torchao's and bitsandbytes' int8 are per
/// output channel, int4 is grouped by 128, float8 is e4m3.
pub(crate) fn scheme_named(text: &str) -> Option<QuantScheme> {
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&["int4", "4bit", "nf4", "fp4"]) {
        Some(QuantScheme::Int4G128)
    } else if has(&["float8", "fp8", "e4m3"]) {
        Some(QuantScheme::Fp8E4M3)
    } else if has(&["int8", "8bit", "qint8", "quantize_", "quantize_dynamic", "bitsandbytes"]) {
        Some(QuantScheme::Int8Channel)
    } else {
        None
    }
}

/// Lines in which the pipeline says it found NaN or Inf.
fn nan_reported(line: &str) -> bool {
    let said = [
        "contains nan: true",
        "contains nan=true",
        "contains_nan: true",
        "contains_nan=true",
        "has_nan: true",
        "has_nan=true",
        "has nan: true",
        "nan detected",
        "nans detected",
        "nan values detected",
        "contains inf: true",
        "inf values detected",
    ];
    if said.iter().any(|n| line.contains(n)) {
        return true;
    }
    let Some(at) = line.find("range") else { return false };
    let rest = &line[at..];
    let mut cut = rest.len().min(80);
    while !rest.is_char_boundary(cut) {
        cut -= 1;
    }
    let window = &rest[..cut];
    window.split(|c: char| !c.is_ascii_alphanumeric()).any(|token| token == "nan" || token == "inf")
}

/// A printed `range: [lo, hi]` / `range (lo, hi)` or `min=lo max=hi`.
fn printed_range(line: &str) -> Option<(f64, f64)> {
    if let Some(at) = line.find("range") {
        let rest = &line[at + 5..];
        let open = rest.find(['[', '('])?;
        if open > 4 {
            return None;
        }
        let close = rest[open..].find([']', ')'])? + open;
        let mut numbers = rest[open + 1..close].split(',').map(|s| s.trim().parse::<f64>());
        return match (numbers.next(), numbers.next(), numbers.next()) {
            (Some(Ok(lo)), Some(Ok(hi)), None) => Some((lo, hi)),
            _ => None,
        };
    }
    let lo = number_after(line, &["min=", "min:"])?;
    let hi = number_after(line, &["max=", "max:"])?;
    Some((lo, hi))
}

fn number_after(line: &str, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|key| {
        let at = line.find(key)? + key.len();
        let rest = line[at..].trim_start();
        let end =
            rest.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e'))).unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> Option<&'static str> {
        classify(&line.to_lowercase()).map(|s| s.rule.code)
    }

    #[test]
    fn the_incident_lines_are_recognised() {
        let cast = "/app/src/utils/util.py:98: RuntimeWarning: invalid value encountered in cast";
        assert_eq!(code(cast), Some("L101"));
        assert_eq!(code("MoviePy warning: 6220800 bytes wanted but 0 bytes read at frame 12/120"), Some("L105"));
        assert_eq!(code("WARNING: NaN values detected in video tensor, replacing with zeros"), Some("L104"));
        assert_eq!(code("WARNING:api:[Job 7f3c] Video tensor contains invalid values! Cleaning..."), Some("L104"));
        assert_eq!(code("WARNING:api:[Job 7f3c] Reference image contains invalid values, cleaning"), Some("L104"));
        assert_eq!(code("ERROR: invalid values in config"), None);
        // The block search finds them first.
        let cleaning = "warning:api:[job 7f3c] video tensor contains invalid values! cleaning...";
        assert!(NEEDLES.iter().any(|n| cleaning.contains(n)));
        assert_eq!(code("Pipeline output shape: (1, 3, 120, 768, 768), range: [nan, nan]"), Some("L103"));
        assert_eq!(code("Contains NaN: True"), Some("L103"));
        assert_eq!(code("Loaded 0.0M-parameter motion module"), Some("L111"));
    }

    #[test]
    fn loads_of_git_lfs_pointers_are_recognised() {
        assert_eq!(code("_pickle.UnpicklingError: invalid load key, 'v'."), Some("L118"));
        let header = "safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge";
        assert_eq!(code(header), Some("L118"));
        // Another first byte is another damage (`<`: an HTML page), not a pointer.
        assert_eq!(code("_pickle.UnpicklingError: invalid load key, '<'."), Some("L120"));
    }

    #[test]
    fn failed_loads_are_recognised_with_what_they_looked_for() {
        let cases = [
            (
                "FileNotFoundError: [Errno 2] No such file or directory: './pretrained_weights/reference_unet-162000.pth'",
                "L119",
                Some("./pretrained_weights/reference_unet-162000.pth"),
                None,
            ),
            (
                "OSError: Error no file named diffusion_pytorch_model.bin found in directory ./pretrained_weights/sd-image-variations-diffusers.",
                "L119",
                Some("./pretrained_weights/sd-image-variations-diffusers"),
                Some("diffusion_pytorch_model.bin"),
            ),
            (
                "OSError: We couldn't connect to 'https://huggingface.co' to load this model, couldn't find it in the \
                 cached files and it looks like ./pretrained_weights/sd-vae-ft-mse is not the path to a directory \
                 containing a config.json file.",
                "L119",
                Some("./pretrained_weights/sd-vae-ft-mse"),
                Some("config.json"),
            ),
            (
                "OSError: pretrained_weights/sd-vae-ft-mse does not appear to have a file named config.json.",
                "L119",
                Some("pretrained_weights/sd-vae-ft-mse"),
                Some("config.json"),
            ),
            (
                "OSError: pretrained_weights/vae is not a local folder and is not a valid model identifier listed on \
                 'https://huggingface.co/models'",
                "L119",
                Some("pretrained_weights/vae"),
                None,
            ),
            (
                "HFValidationError: Repo id must be in the form 'repo_name' or 'namespace/repo_name': \
                 './pretrained_weights/sd-vae-ft-mse'. Use `repo_type` argument if needed.",
                "L119",
                Some("./pretrained_weights/sd-vae-ft-mse"),
                None,
            ),
            (
                "RuntimeError: ./pretrained_weights/sd-image-variations-diffusers/unet/config.json does not exist or is not a file",
                "L119",
                Some("./pretrained_weights/sd-image-variations-diffusers/unet/config.json"),
                None,
            ),
            (
                "FileNotFoundError: no weights file found in ./pretrained_weights/sd-image-variations-diffusers/unet",
                "L119",
                Some("./pretrained_weights/sd-image-variations-diffusers/unet"),
                None,
            ),
            (
                "RuntimeError: Model ./pretrained_weights/audio_processor/tiny.pt not found; available models = ['tiny']",
                "L119",
                Some("./pretrained_weights/audio_processor/tiny.pt"),
                None,
            ),
            (
                "ValueError: Cannot load <class 'src.models.unet_2d_condition.UNet2DConditionModel'> from \
                 ./pretrained_weights/sd-image-variations-diffusers because the following keys are missing:",
                "L121",
                Some("./pretrained_weights/sd-image-variations-diffusers"),
                None,
            ),
            ("ValueError: DownEncoderBlock2D does not exist.", "L121", None, None),
            ("RuntimeError: Error(s) in loading state_dict for PoseEncoder:", "L121", None, None),
            (
                "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory",
                "L120",
                None,
                None,
            ),
            ("EOFError: Ran out of input", "L120", None, None),
            ("Unsupported operand 60", "L120", None, None),
            (
                "safetensors._safetensors_rust.SafetensorError: Error while deserializing header: incomplete \
                 metadata, file not fully covered",
                "L120",
                None,
                None,
            ),
            (
                "huggingface_hub.errors.LocalEntryNotFoundError: An error happened while trying to locate the file \
                 on the Hub and we cannot find the requested files in the local cache.",
                "L119",
                None,
                None,
            ),
            (
                "safetensors_rust.SafetensorError: Error while deserializing header: MetadataIncompleteBuffer",
                "L120",
                None,
                None,
            ),
        ];
        // A message cut after its key (the key's own space then trimmed) names nothing.
        let cut = "OSError: Error no file named x found in directory ";
        assert_eq!((code(cut), load_target(cut).path), (Some("L119"), None));
        for (line, rule, path, wanted) in cases {
            assert_eq!(code(line), Some(rule), "{line}");
            let target = load_target(line);
            assert_eq!((target.path.as_deref(), target.wanted.as_deref()), (path, wanted), "{line}");
        }
    }

    #[test]
    fn loads_that_recover_or_miss_no_weights_are_not_failed_loads() {
        for line in [
            // diffusers falls back to the `.bin` file after this line.
            "An error occurred while trying to fetch ./pretrained_weights/sd-vae-ft-mse: Error no file named \
             diffusion_pytorch_model.safetensors found in directory ./pretrained_weights/sd-vae-ft-mse.",
            "FileNotFoundError: [Errno 2] No such file or directory: './assets/halfbody_demo/refimag/0035.png'",
            "HFValidationError: Repo id must be in the form 'repo_name' or 'namespace/repo_name': 'a/b/c'.",
            "ValueError: the file does not exist.",
            "TypeError: unsupported operand type(s) for +: 'int' and 'str'",
            "Some weights of the model checkpoint were not used when initializing UNet2DConditionModel:",
        ] {
            assert_eq!(code(line), None, "{line}");
        }
    }

    #[test]
    fn exception_lines_are_told_from_frames_and_prose() {
        assert_eq!(exception_type("ValueError: x"), Some("ValueError"));
        assert_eq!(exception_type("torch.OutOfMemoryError: CUDA out of memory."), Some("torch.OutOfMemoryError"));
        assert_eq!(exception_type("KeyboardInterrupt"), Some("KeyboardInterrupt"));
        assert_eq!(exception_type("2024-11-29T14:23:20.507003 - AttributeError: 'x'"), Some("AttributeError"));
        assert_eq!(exception_type("[12:00:01] RuntimeError: y"), Some("RuntimeError"));
        for line in [
            "  File \"/app/errors.py\", line 3, in f",
            "    raise ValueError(",
            "Some error happened: nothing",
            "error: x",
            "ERROR: x",
            "E:\\ComfyUI\\util.py:98: RuntimeWarning: invalid value encountered in cast",
        ] {
            assert_eq!(exception_type(line), None, "{line}");
        }
        assert_eq!(config_path_key("    torch.load(config.denoising_unet_path, map_location=\"cpu\"),"), Some("denoising_unet_path"));
        assert_eq!(config_path_key("    model = cls(**config.kwargs)"), None);
    }

    #[test]
    fn quantization_lines_name_their_models() {
        assert_eq!(quantized_models("quantize_(denoising_unet, int8_weight_only())"), ["denoising_unet"]);
        assert_eq!(quantized_models("quantize_(pipe.unet, int8_weight_only())"), ["pipe.unet"]);
        assert_eq!(quantized_models("2025-11-20 09:58:24,530 使用int8量化"), ["vae", "reference_unet"]);
        assert!(quantized_models("quantization applied: int8 (torchao)").is_empty());
        assert!(quantized_models("quantize_(*args)").is_empty());
        // mmgp, as EchoMimicV3's app_mm.py loads its pipeline.
        assert_eq!(quantized_models("quantization of model 'transformer' started to format 'qint8'"), ["transformer"]);
        assert_eq!(quantized_models("quantization of model 'text_encoder' done"), ["text_encoder"]);
        assert_eq!(quantized_models("model 'transformer' is already quantized to format 'qint8'"), ["transformer"]);
        assert!(quantized_models("quantization of model '' started").is_empty());
        assert!(quantized_models("the model 'x' was not quantized").is_empty());
        assert_eq!(
            classify("quantization of model 'transformer' started to format 'qint8'").map(|s| s.scheme),
            Some(Some(QuantScheme::Int8Channel))
        );
        assert_eq!(
            classify("quantization of model 'transformer' started to format 'qfloat8'").map(|s| s.scheme),
            Some(Some(QuantScheme::Fp8E4M3))
        );
        assert_eq!(classify("使用int8量化").map(|s| s.scheme), Some(Some(QuantScheme::Int8Channel)));
        assert!(classify("int8量化").is_some_and(|s| s.rule == &rules::QUANTIZATION_APPLIED));
    }

    #[test]
    fn quantization_lines_name_their_scheme() {
        let scheme = |line: &str| classify(&line.to_lowercase()).and_then(|s| s.scheme);
        assert_eq!(scheme("quantize_(denoising_unet, int8_weight_only())"), Some(QuantScheme::Int8Channel));
        assert_eq!(scheme("quantize_(unet, int4_weight_only(group_size=128))"), Some(QuantScheme::Int4G128));
        assert_eq!(scheme("model = load(..., load_in_4bit=True)"), Some(QuantScheme::Int4G128));
        assert_eq!(scheme("quantization applied: float8 weight-only (torchao)"), Some(QuantScheme::Fp8E4M3));
        assert_eq!(scheme("ImportError: cannot import name 'quantize_' from 'torchao'"), None);
    }

    #[test]
    fn healthy_lines_are_not_findings() {
        for line in [
            "Contains NaN: False",
            "Loaded 453.20928M-parameter motion module",
            "Pipeline output range: [0.0, 1.0]",
            "for i in range(10):",
            "Wrote 100 bytes read-only",
            "financial nanoseconds",
        ] {
            assert_eq!(code(line), None, "{line}");
        }
        assert_eq!(code("video range: [0.0, 0.0]"), Some("L115"));
        assert_eq!(code("frame stats min=0 max=0"), Some("L115"));
        assert_eq!(code("10 bytes read"), None);
        // Multi-byte text next to the parsed parts must not split a character.
        assert_eq!(code("é0.0M-parameter motion module"), Some("L111"));
        assert_eq!(code(&format!("range {}", "é".repeat(60))), None);
    }
}
