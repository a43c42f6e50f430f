//! What a run's config and log say about how it ran: the quantization it
//! applied, its dtype, and the incident's text signatures (with their line
//! numbers), read as observed evidence for the verdict.

use serde::Serialize;

use crate::numerics::QuantScheme;

/// One line of a config or log that the verdict can cite.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Signature {
    pub file: String,
    /// 1-based.
    pub line: u64,
    pub kind: SignatureKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureKind {
    /// A quantization call or setting (`quantize_`, `int8_weight_only`, `load_in_8bit`…).
    Quantization,
    /// numpy's `invalid value encountered in cast`: NaN frames cast to uint8.
    NanCast,
    /// moviepy's `bytes wanted but 0 bytes read`, `moov atom not found`, a missing ffmpeg.
    MuxFailure,
    /// `Loaded 0.0M-parameter motion module`, `motion module not found`.
    MotionModuleMissing,
    /// A shape mismatch of poses and the generation size.
    PoseShape,
    /// fp16 chosen for the whole pipeline (`weight_dtype: fp16`).
    Fp16,
}

/// Everything the text artifacts said.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Hints {
    pub signatures: Vec<Signature>,
    /// The quantization scheme the text names, as `weights --simulate` takes it.
    #[serde(skip)]
    pub scheme: Option<QuantScheme>,
}

impl Hints {
    pub fn of(&self, kind: SignatureKind) -> impl Iterator<Item = &Signature> {
        self.signatures.iter().filter(move |s| s.kind == kind)
    }
}

/// Reads one config or log (never fails: an unreadable file says nothing).
pub fn read(path: &std::path::Path, hints: &mut Hints) {
    let Ok(bytes) = std::fs::read(path) else { return };
    let text = String::from_utf8_lossy(&bytes);
    scan_text(&path.display().to_string(), &text, hints);
}

pub(crate) fn scan_text(file: &str, text: &str, hints: &mut Hints) {
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        let Some(kind) = classify(trimmed) else { continue };
        if kind == SignatureKind::Quantization && hints.scheme.is_none() {
            hints.scheme = scheme_of(trimmed);
        }
        let text: String = trimmed.chars().take(200).collect();
        hints.signatures.push(Signature { file: file.to_string(), line: i as u64 + 1, kind, text });
    }
}

fn classify(line: &str) -> Option<SignatureKind> {
    let lower = line.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&["invalid value encountered in cast"]) {
        Some(SignatureKind::NanCast)
    } else if has(&["bytes wanted but 0 bytes read", "moov atom not found", "failed to load audio", "winerror 2"])
        || (lower.contains("ffmpeg") && has(&["not found", "error", "failed"]))
        || (lower.contains("mux") && has(&["fail", "error"]))
    {
        Some(SignatureKind::MuxFailure)
    } else if has(&["0.0m-parameter motion module", "motion module not found"]) {
        Some(SignatureKind::MotionModuleMissing)
    } else if has(&["could not broadcast input array"]) {
        Some(SignatureKind::PoseShape)
    } else if has(&[
        "quantize_(",
        "int8_weight_only",
        "int8weightonlyconfig",
        "int4_weight_only",
        "float8_weight_only",
        "load_in_8bit",
        "load_in_4bit",
        "quantization:",
        "quantize:",
        "\"quantization\"",
    ]) && !has(&["false", "none", "null"])
    {
        Some(SignatureKind::Quantization)
    } else if lower.replace([' ', '"', '\''], "").contains("weight_dtype:fp16") {
        Some(SignatureKind::Fp16)
    } else {
        None
    }
}

/// The `--simulate` scheme a quantization line names (torchao's int8
/// weight-only is per output channel).
fn scheme_of(line: &str) -> Option<QuantScheme> {
    let lower = line.to_lowercase();
    if lower.contains("int4") || lower.contains("4bit") {
        Some(QuantScheme::Int4G128)
    } else if lower.contains("float8") || lower.contains("fp8") {
        Some(QuantScheme::Fp8E4M3)
    } else if lower.contains("int8") || lower.contains("8bit") || lower.contains("quantize") {
        Some(QuantScheme::Int8Channel)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_incident_lines_are_recognised_with_their_line_numbers() {
        let log = "loading\nquantize_(denoising_unet, int8_weight_only())\n\
                   util.py:98: RuntimeWarning: invalid value encountered in cast\n\
                   # quantize_(x)\nOSError: MoviePy error: 1536 bytes wanted but 0 bytes read\n";
        let mut hints = Hints::default();
        scan_text("run.log", log, &mut hints);
        let kinds: Vec<(u64, SignatureKind)> = hints.signatures.iter().map(|s| (s.line, s.kind)).collect();
        assert_eq!(
            kinds,
            vec![(2, SignatureKind::Quantization), (3, SignatureKind::NanCast), (5, SignatureKind::MuxFailure)]
        );
        assert_eq!(hints.scheme, Some(QuantScheme::Int8Channel));
    }

    #[test]
    fn a_disabled_quantization_setting_is_not_a_quantization() {
        let mut hints = Hints::default();
        scan_text("c.yaml", "quantization: none\nweight_dtype: 'fp16'\n", &mut hints);
        assert_eq!(hints.signatures.len(), 1);
        assert_eq!(hints.signatures[0].kind, SignatureKind::Fp16);
        assert_eq!(hints.scheme, None);
    }
}
