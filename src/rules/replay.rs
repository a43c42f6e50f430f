//! `R` rules: replay, trace and scheduler hazards.

use super::Rule;
use crate::report::Severity;

pub const SCHEDULER_CONFIG_INVALID: Rule = Rule {
    code: "R101",
    slug: "scheduler-config-invalid",
    severity: Severity::Error,
    summary: "x",
    detects: "x",
    why: "x",
    cause: "x",
    fix: "x",
    options: "",
};

pub const RULES: &[&Rule] = &[&SCHEDULER_CONFIG_INVALID];
