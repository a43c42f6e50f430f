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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keypoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<u64>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub subject: Subject,
    pub evidence: Map<String, Value>,
    pub help: String,
}

impl Finding {
    /// A finding of `rule` at its default severity.
    pub fn new(rule: &Rule, message: impl Into<String>) -> Self {
        Finding {
            code: rule.code.to_string(),
            rule: rule.slug.to_string(),
            severity: rule.severity,
            message: message.into(),
            subject: Subject::default(),
            evidence: Map::new(),
            help: rule.fix.to_string(),
        }
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
