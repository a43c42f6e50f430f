//! The gate configuration: `nanscope.toml` (a `[gate]` table) or
//! `pyproject.toml` (`[tool.nanscope.gate]`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::{FailOn, Severity};

/// The kinds of check a gate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Weights,
    Video,
    Poses,
    Image,
    Scheduler,
    Trace,
    /// A run folder through `postmortem`: every check on what it holds.
    Postmortem,
}

/// One named check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Check {
    pub name: String,
    pub kind: Kind,
    /// Globs relative to the configuration's folder.
    pub paths: Vec<String>,
    #[serde(default)]
    pub fail_on: Option<FailOn>,
    /// Codes or code prefixes to keep (`["W", "F1"]`); empty keeps all.
    #[serde(default)]
    pub select: Vec<String>,
    /// Codes or code prefixes to drop.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Severity per code: `{ V121 = "error" }`.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    /// Compare with the recorded baseline (accepted findings, weights fingerprint); default true.
    #[serde(default = "yes")]
    pub baseline: bool,
    /// Relative tolerance of the weights fingerprint's statistics.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Video checks: the folder of golden renders (relative to the configuration); each render is
    /// compared with the golden of the same file name (`--update-baselines` writes them).
    #[serde(default)]
    pub goldens: Option<String>,
    /// Video checks: frames whose PSNR (dB) against the golden is below this are findings (G104).
    #[serde(default)]
    pub min_psnr: Option<f64>,
    /// Video checks: frames whose SSIM against the golden is below this are findings (G105).
    #[serde(default)]
    pub min_ssim: Option<f64>,
    /// Video checks: a folder for the side-by-side PNG of each render's worst frame pair.
    #[serde(default)]
    pub plots: Option<String>,
    /// Video checks: seconds the render's duration may differ from its golden's (G126).
    #[serde(default = "default_duration_tolerance")]
    pub duration_tolerance: f64,
    /// Video checks: 8-bit levels the render's mean luma, or its mean spatial standard deviation,
    /// may differ from its golden's (G126).
    #[serde(default = "default_luma_tolerance")]
    pub luma_tolerance: f64,
}

fn yes() -> bool {
    true
}

fn default_tolerance() -> f64 {
    1e-3
}

fn default_duration_tolerance() -> f64 {
    0.05
}

fn default_luma_tolerance() -> f64 {
    2.0
}

/// A suppression: findings of `code` whose file matches `path`, for `reason`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Allow {
    pub code: String,
    #[serde(default = "any_path")]
    pub path: String,
    pub reason: String,
}

fn any_path() -> String {
    "**".into()
}

/// The `[gate]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct GateConfig {
    /// The folder baselines are recorded in, relative to the configuration.
    #[serde(default = "default_baselines")]
    pub baselines: String,
    /// The default `fail-on` of every check.
    #[serde(default)]
    pub fail_on: FailOn,
    #[serde(rename = "check")]
    pub checks: Vec<Check>,
    #[serde(default, rename = "allow")]
    pub allows: Vec<Allow>,
}

fn default_baselines() -> String {
    "nanscope-baselines".into()
}

/// A loaded configuration and the folder its paths are relative to.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub root: PathBuf,
    pub gate: GateConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Deserialize)]
struct NanscopeToml {
    gate: Option<GateConfig>,
}

#[derive(Deserialize)]
struct PyProject {
    tool: Option<PyTool>,
}

#[derive(Deserialize)]
struct PyTool {
    nanscope: Option<NanscopeToml>,
}

/// Reads a configuration file: `pyproject.toml` by its name, any other file
/// as `nanscope.toml`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: name.clone(), source })?;
    let parse = |err: toml::de::Error| ConfigError::Parse { path: name.clone(), message: err.message().to_string() };
    let gate = if path.file_name().is_some_and(|n| n == "pyproject.toml") {
        toml::from_str::<PyProject>(&text).map_err(parse)?.tool.and_then(|t| t.nanscope).and_then(|n| n.gate)
    } else {
        toml::from_str::<NanscopeToml>(&text).map_err(parse)?.gate
    };
    let what = if path.file_name().is_some_and(|n| n == "pyproject.toml") { "[tool.nanscope.gate]" } else { "[gate]" };
    let gate = gate.ok_or_else(|| ConfigError::Invalid { path: name.clone(), message: format!("no {what} table") })?;
    validate(&gate).map_err(|message| ConfigError::Invalid { path: name.clone(), message })?;
    // A configuration in the working folder keeps the paths it names relative.
    let root = path.parent().filter(|p| *p != Path::new(".")).unwrap_or(Path::new("")).to_path_buf();
    Ok(Loaded { path: path.to_path_buf(), root, gate })
}

fn validate(gate: &GateConfig) -> Result<(), String> {
    if gate.checks.is_empty() {
        return Err("no [[gate.check]]".into());
    }
    let mut names = std::collections::HashSet::new();
    for check in &gate.checks {
        if check.name.is_empty() || !check.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(format!("check name {:?}: use letters, digits, '-', '_' or '.'", check.name));
        }
        if !names.insert(check.name.as_str()) {
            return Err(format!("two checks are named {:?}", check.name));
        }
        if check.paths.is_empty() {
            return Err(format!("check {:?} has no paths", check.name));
        }
        if check.kind != Kind::Video
            && (check.goldens.is_some()
                || check.min_psnr.is_some()
                || check.min_ssim.is_some()
                || check.plots.is_some())
        {
            return Err(format!("check {:?}: goldens, min-psnr, min-ssim and plots are for video checks", check.name));
        }
        if check.min_ssim.is_some_and(|s| !(s.is_finite() && s <= 1.0))
            || check.min_psnr.is_some_and(|p| p.is_nan() || p < 0.0)
        {
            return Err(format!("check {:?}: min-ssim must be at most 1 and min-psnr non-negative", check.name));
        }
        if ![check.duration_tolerance, check.luma_tolerance].iter().all(|t| t.is_finite() && *t >= 0.0) {
            return Err(format!("check {:?}: duration-tolerance and luma-tolerance must not be negative", check.name));
        }
        if !(check.tolerance.is_finite() && check.tolerance >= 0.0) {
            return Err(format!("check {:?}: tolerance must be a non-negative number", check.name));
        }
        for code in check.severity.keys() {
            if crate::rules::by_code(code).is_none() {
                return Err(format!("check {:?}: severity of unknown rule {code:?}", check.name));
            }
        }
    }
    for allow in &gate.allows {
        if allow.reason.trim().is_empty() {
            return Err(format!("[[gate.allow]] {} at {:?} needs a reason", allow.code, allow.path));
        }
        if crate::rules::by_code(&allow.code).is_none() {
            return Err(format!("[[gate.allow]]: unknown rule {:?}", allow.code));
        }
    }
    Ok(())
}

/// The configuration a bare `nanscope gate` reads: `nanscope.toml`, else a
/// `pyproject.toml` that has a `[tool.nanscope.gate]` table.
pub fn default_path(dir: &Path) -> PathBuf {
    let nanscope = dir.join("nanscope.toml");
    if nanscope.exists() {
        return nanscope;
    }
    let pyproject = dir.join("pyproject.toml");
    if std::fs::read_to_string(&pyproject).is_ok_and(|t| t.contains("[tool.nanscope")) {
        return pyproject;
    }
    nanscope
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_nanscope_toml_and_pyproject() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[gate.check]]\nname = \"w\"\nkind = \"weights\"\npaths = [\"w/*.safetensors\"]\nseverity = { W104 = \"error\" }\n";
        let loaded = load(&write(dir.path(), "nanscope.toml", text)).unwrap();
        assert_eq!(loaded.gate.checks[0].kind, Kind::Weights);
        assert_eq!(loaded.gate.checks[0].severity["W104"], Severity::Error);
        let py = text.replace("[[gate.check]]", "[[tool.nanscope.gate.check]]");
        let loaded = load(&write(dir.path(), "pyproject.toml", &format!("[project]\nname = \"x\"\n{py}"))).unwrap();
        assert_eq!(loaded.gate.checks[0].name, "w");
    }

    #[test]
    fn a_suppression_needs_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[gate.check]]\nname = \"w\"\nkind = \"weights\"\npaths = [\"*\"]\n[[gate.allow]]\ncode = \"W104\"\nreason = \" \"\n";
        let err = load(&write(dir.path(), "nanscope.toml", text)).unwrap_err();
        assert!(err.to_string().contains("needs a reason"), "{err}");
        let text = text.replace("reason = \" \"\n", "");
        assert!(load(&write(dir.path(), "nanscope.toml", &text)).is_err());
    }
}
