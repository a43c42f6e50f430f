//! The rule catalogue: every finding nanscope can emit, with its stable code,
//! slug, default severity and documentation. Codes are never reused; a retired
//! rule stays in its family file with its summary marked retired.

pub mod cause;
pub mod config;
pub mod diff;
pub mod format;
pub mod gate;
pub mod image;
pub mod log;
pub mod pose;
pub mod quant;
pub mod replay;
pub mod replay_engine;
pub mod security;
pub mod simulate;
pub mod trace;
pub mod video;
pub mod weights;

use serde::Serialize;

use crate::report::Severity;

/// A documented check. The long texts feed `nanscope rules CODE` and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rule {
    /// Stable code: family letter and number, e.g. `W101`.
    pub code: &'static str,
    /// Stable kebab-case name, e.g. `nonfinite-values`.
    pub slug: &'static str,
    pub severity: Severity,
    /// One line.
    pub summary: &'static str,
    /// What the rule detects.
    pub detects: &'static str,
    /// Why it breaks a generation.
    pub why: &'static str,
    /// The usual cause.
    pub cause: &'static str,
    /// How to fix it; also the `help` of each finding.
    pub fix: &'static str,
    /// Options that tune the rule, as `--flag (default)`.
    pub options: &'static str,
}

/// Each family file's rules, one family per line.
const FAMILIES: &[&[&Rule]] = &[
    weights::RULES,
    quant::RULES,
    simulate::RULES,
    diff::RULES,
    replay::RULES,
    replay_engine::RULES,
    trace::RULES,
    video::RULES,
    pose::RULES,
    security::RULES,
    format::RULES,
    image::RULES,
    gate::RULES,
    log::RULES,
    config::RULES,
    cause::RULES,
];

/// Every rule, ordered by code.
pub fn catalogue() -> Vec<&'static Rule> {
    let mut all: Vec<&'static Rule> = FAMILIES.iter().flat_map(|family| family.iter().copied()).collect();
    all.sort_by(|a, b| family_order(a.code).cmp(&family_order(b.code)).then(a.code.cmp(b.code)));
    all
}

/// Family letters in the order the design lists them: weights, quantization,
/// diff, replay/trace, video, pose, security, format, image, log, config,
/// gate, postmortem causes.
const FAMILY_LETTERS: &str = "WQDRVPSFILCGK";

/// Families in the order the design lists them.
fn family_order(code: &str) -> usize {
    FAMILY_LETTERS.find(code.chars().next().unwrap_or('Z')).unwrap_or(usize::MAX)
}

/// Looks a rule up by code (`W101`) or slug (`nonfinite-values`), case-insensitively.
pub fn find(key: &str) -> Option<&'static Rule> {
    catalogue().into_iter().find(|r| r.code.eq_ignore_ascii_case(key) || r.slug.eq_ignore_ascii_case(key))
}

/// Looks a rule up by its exact code (`W101`), as reports carry it.
pub fn by_code(code: &str) -> Option<&'static Rule> {
    FAMILIES.iter().flat_map(|family| family.iter().copied()).find(|r| r.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_slugs_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut slugs = HashSet::new();
        for rule in catalogue() {
            assert!(codes.insert(rule.code), "duplicate code {}", rule.code);
            assert!(slugs.insert(rule.slug), "duplicate slug {}", rule.slug);
            assert!(FAMILY_LETTERS.contains(&rule.code[..1]), "bad family in {}", rule.code);
            assert!(rule.code[1..].chars().all(|c| c.is_ascii_digit()), "{}", rule.code);
            assert!(rule.slug.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()));
            for text in [rule.summary, rule.detects, rule.why, rule.cause, rule.fix] {
                assert!(!text.trim().is_empty(), "{} has an empty section", rule.code);
            }
        }
    }

    #[test]
    fn find_accepts_code_or_slug() {
        assert_eq!(find("w101").map(|r| r.slug), Some("nonfinite-values"));
        assert_eq!(find("nonfinite-values").map(|r| r.code), Some("W101"));
        assert!(find("X999").is_none());
    }
}
