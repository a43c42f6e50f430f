//! Rules are identities, not strings: each rule constant is passed to
//! `Finding::new` at exactly one place in the library (a small function per
//! rule that builds its message and evidence), and no domain code compares
//! rule codes as strings. Scans `src/**.rs`, leaving out the catalogue
//! (`src/rules/`) and test code (`*_tests.rs`, `tests.rs`, everything after
//! a file's first `#[cfg(test)]`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Rules still built at several places. The list may only shrink: a rule
/// built at one place must leave it, and no rule may join it.
const SEVERAL_CONSTRUCTORS: &[&str] = &[
    "format::BROKEN_ARCHIVE",
    "format::INVALID_LAYOUT",
    "format::UNREADABLE_FILE",
    "format::UNSUPPORTED_DTYPE",
    "pose::INVALID_DRAW_PARAMS",
    "pose::UNPARSABLE_POSE_FILE",
    "pose::WRONG_ARRAY_SHAPE",
    "replay::INVALID_BETAS",
    "video::DECODE_ERRORS",
    "video::NOT_MEDIA",
];

fn library_sources() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("rules") {
                    stack.push(path);
                }
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".rs") || name.ends_with("_tests.rs") || name == "tests.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            out.push((path, code));
        }
    }
    out
}

fn families() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "mod")
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The family an alias stands for: `use crate::rules::format as format_rules`
/// or `use crate::rules::{format as format_rules, …}`.
fn alias_family(code: &str, alias: &str, families: &[String]) -> Option<String> {
    families.iter().find(|family| code.contains(&format!("{family} as {alias}"))).cloned()
}

/// The family a bare constant was imported from: `rules::pose::{A, B}` or `rules::pose::A`.
fn import_family(code: &str, constant: &str, families: &[String]) -> Option<String> {
    families
        .iter()
        .find(|family| {
            let prefix = format!("rules::{family}::");
            code.match_indices(&prefix).any(|(at, _)| {
                let rest = &code[at + prefix.len()..];
                let imported = if rest.starts_with('{') { &rest[..rest.find('}').unwrap_or(0)] } else { rest };
                imported.split(|c: char| !is_ident(c)).take_while(|_| true).any(|word| word == constant)
            })
        })
        .cloned()
}

/// Every `Finding::new(&PATH` of the library, as `family::CONSTANT` → places.
fn constructor_sites() -> BTreeMap<String, Vec<String>> {
    let families = families();
    let mut sites: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, code) in library_sources() {
        for (at, _) in code.match_indices("Finding::new(") {
            let rest = code[at + "Finding::new(".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('&') else { continue };
            let expr: String = rest.trim_start().chars().take_while(|&c| is_ident(c) || c == ':').collect();
            let segments: Vec<&str> = expr.split("::").filter(|s| !s.is_empty()).collect();
            let Some(&constant) = segments.last() else { continue };
            let family = match segments.len() {
                1 => import_family(&code, constant, &families),
                _ => {
                    let qualifier = segments[segments.len() - 2];
                    if families.iter().any(|f| f == qualifier) {
                        Some(qualifier.to_string())
                    } else {
                        alias_family(&code, qualifier, &families)
                    }
                }
            };
            let family = family.unwrap_or_else(|| panic!("cannot tell the family of {expr} in {}", path.display()));
            let line = code[..at].lines().count() + 1;
            sites.entry(format!("{family}::{constant}")).or_default().push(format!("{}:{line}", path.display()));
        }
    }
    sites
}

#[test]
fn each_rule_has_one_constructor() {
    let sites = constructor_sites();
    assert!(sites.len() > 50, "the scan found only {} rules: is it still reading src/?", sites.len());
    let several: Vec<String> =
        sites.iter().filter(|(_, places)| places.len() > 1).map(|(rule, _)| rule.clone()).collect();
    for rule in &several {
        assert!(
            SEVERAL_CONSTRUCTORS.contains(&rule.as_str()),
            "{rule} is built at several places; give it one function that builds its message and evidence: {:?}",
            sites[rule]
        );
    }
    for rule in SEVERAL_CONSTRUCTORS {
        assert!(
            several.iter().any(|r| r == rule),
            "{rule} now has one constructor: remove it from SEVERAL_CONSTRUCTORS"
        );
    }
}

/// A code of the catalogue as a whole string literal: `"V105"` (not `"C128"`,
/// a dtype name that is no rule's code).
fn code_literals(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    for (at, _) in code.match_indices('"') {
        let Some(candidate) = code.get(at + 1..at + 6) else { continue };
        let letters = "WQDRVPSFILCGK";
        let b = candidate.as_bytes();
        if letters.contains(b[0] as char)
            && b[1..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'"'
            && (at == 0 || !is_ident(bytes[at - 1] as char))
            && nanscope::rules::find(&candidate[..4]).is_some()
        {
            found.push(code[at..at + 6].to_string());
        }
    }
    found
}

#[test]
fn no_domain_code_matches_rule_codes_as_strings() {
    let mut offences = Vec::new();
    for (path, code) in library_sources() {
        // `Finding::is` itself compares catalogue entries.
        let identity = path.ends_with("src/report/finding.rs");
        for pattern in ["code() ==", "code() !=", ".code ==", ".code !="] {
            if code.contains(pattern) && !identity {
                offences.push(format!("{}: `{pattern}`", path.display()));
            }
        }
        // Dtype names such as "C128" look like codes; numerics builds no findings.
        let dtypes = path.components().any(|c| c.as_os_str() == "numerics");
        for literal in code_literals(&code).into_iter().filter(|_| !dtypes) {
            offences.push(format!("{}: {literal}", path.display()));
        }
    }
    assert!(offences.is_empty(), "compare rules by identity (`finding.is(&RULE)`), not by code: {offences:#?}");
}

#[test]
fn the_scan_sees_code_literals() {
    assert_eq!(code_literals(r#"if f.code() == "V105" { x("W1010", "C128") }"#), ["\"V105\""]);
}
