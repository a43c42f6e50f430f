//! The one diagnostic type every check produces.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rules::Rule;

/// How bad a finding is. Ordered so that `Error > Warning > Info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about. Only the keys that apply are set; the names are
/// fixed by the report contract and must not grow synonyms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Subject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestep: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<[u64; 2]>,
    /// 0-based context window of a video pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keypoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<u64>,
    /// 1-based line of a text file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// A config key path, e.g. `noise_scheduler_kwargs.prediction_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Subject {
    pub fn file(path: impl Into<String>) -> Self {
        Subject { file: Some(path.into()), ..Subject::default() }
    }

    pub fn tensor(file: impl Into<String>, tensor: impl Into<String>) -> Self {
        Subject { file: Some(file.into()), tensor: Some(tensor.into()), ..Subject::default() }
    }

    /// A short human label such as `model.safetensors: conv_in.weight [0, 77]`.
    pub fn label(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(file) = &self.file {
            parts.push(file.clone());
        }
        let mut what = String::new();
        if let Some(stage) = &self.stage {
            what.push_str(stage);
        }
        if let Some(step) = self.step {
            push_sep(&mut what, &format!("step {step}"));
        }
        if let Some(module) = &self.module {
            push_sep(&mut what, module);
        }
        if let Some(tensor) = &self.tensor {
            push_sep(&mut what, tensor);
        }
        if let Some(index) = &self.index {
            let coords: Vec<String> = index.iter().map(u64::to_string).collect();
            // The index follows its tensor directly: `conv.weight [0, 77]`.
            push_sep(&mut what, &format!("[{}]", coords.join(", ")));
        }
        if let Some(block) = &self.block {
            push_sep(&mut what, &format!("block {block}"));
        }
        if let Some(stream) = self.stream {
            push_sep(&mut what, &format!("stream {stream}"));
        }
        if let Some(line) = self.line {
            push_sep(&mut what, &format!("line {line}"));
        }
        if let Some(key) = &self.key {
            push_sep(&mut what, key);
        }
        if let Some(window) = self.window {
            push_sep(&mut what, &format!("window {window}"));
        }
        if let Some(frame) = self.frame {
            push_sep(&mut what, &format!("frame {frame}"));
        }
        if let Some([a, b]) = self.frames {
            push_sep(&mut what, &format!("frames {a}-{b}"));
        }
        if let Some(keypoint) = &self.keypoint {
            push_sep(&mut what, keypoint);
        }
        if !what.is_empty() {
            parts.push(what);
        }
        parts.join(": ")
    }
}

fn push_sep(out: &mut String, piece: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(piece);
}

/// One diagnostic: a rule that fired on a subject, with the numbers behind it.
///
/// The rule is held by identity, a reference to its catalogue entry; its code
/// and slug are read from there, so renaming a code cannot change which rule a
/// finding belongs to. In JSON the finding carries `code` and `rule` (the slug).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Finding {
    /// An id unique within its report (`F1`, …) so that a verdict can cite it; set by reports that need it.
    pub id: Option<String>,
    pub rule: &'static Rule,
    pub severity: Severity,
    pub message: String,
    pub subject: Subject,
    pub evidence: Map<String, Value>,
    pub help: String,
}

impl Finding {
    /// A finding of `rule` at its default severity.
    pub fn new(rule: &'static Rule, message: impl Into<String>) -> Self {
        Finding {
            id: None,
            rule,
            severity: rule.severity,
            message: message.into(),
            subject: Subject::default(),
            evidence: Map::new(),
            help: rule.fix.to_string(),
        }
    }

    /// The rule's stable code, e.g. `W101`.
    pub fn code(&self) -> &'static str {
        self.rule.code
    }

    /// Whether this finding is one of `rule`.
    pub fn is(&self, rule: &Rule) -> bool {
        self.rule.code == rule.code
    }

    pub fn with_subject(mut self, subject: Subject) -> Self {
        self.subject = subject;
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn with_evidence(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.evidence.insert(key.to_string(), value.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }
}

/// The JSON shape of a finding, borrowed for writing.
#[derive(Serialize)]
struct WireOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    code: &'a str,
    rule: &'a str,
    severity: Severity,
    message: &'a str,
    subject: &'a Subject,
    evidence: &'a Map<String, Value>,
    help: &'a str,
}

/// The JSON shape of a finding as read back (merging shard reports, baselines).
#[derive(Deserialize)]
struct WireIn {
    #[serde(default)]
    id: Option<String>,
    code: String,
    severity: Severity,
    message: String,
    #[serde(default)]
    subject: Subject,
    #[serde(default)]
    evidence: Map<String, Value>,
    #[serde(default)]
    help: String,
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireOut {
            id: self.id.as_deref(),
            code: self.rule.code,
            rule: self.rule.slug,
            severity: self.severity,
            message: &self.message,
            subject: &self.subject,
            evidence: &self.evidence,
            help: &self.help,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Finding {
    /// Reads a finding back, resolving its code in the catalogue: a code this
    /// version does not know is an error, not a finding of an unknown rule.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireIn::deserialize(deserializer)?;
        let rule = crate::rules::by_code(&wire.code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown rule code {:?}", wire.code)))?;
        Ok(Finding {
            id: wire.id,
            rule,
            severity: wire.severity,
            message: wire.message,
            subject: wire.subject,
            evidence: wire.evidence,
            help: wire.help,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    #[test]
    fn json_round_trip_keeps_the_rule() {
        let finding = Finding::new(&rules::weights::NONFINITE_VALUES, "x").with_evidence("nan", 3);
        let json = serde_json::to_value(&finding).unwrap();
        assert_eq!((json["code"].as_str(), json["rule"].as_str()), (Some("W101"), Some("nonfinite-values")));
        let back: Finding = serde_json::from_value(json).unwrap();
        assert!(back.is(&rules::weights::NONFINITE_VALUES));
        assert_eq!(back, finding);
    }

    #[test]
    fn unknown_code_is_an_error() {
        let json = serde_json::json!({"code": "X999", "rule": "x", "severity": "error", "message": "m"});
        assert!(serde_json::from_value::<Finding>(json).is_err());
    }
}
