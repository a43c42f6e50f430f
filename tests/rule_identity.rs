//! Rules are identities, not strings: each rule constant is passed to
//! `Finding::new` at exactly one place in the library (a small function per
//! rule that builds its message and evidence), and no domain code compares
//! rule codes as strings. Scans `src/**.rs`, leaving out the catalogue
//! (`src/rules/`) and test code (`*_tests.rs`, `tests.rs`, everything after
//! a file's first `#[cfg(test)]`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Rules handed to one constructor through a table: the constructor in
/// `constructor` calls `Finding::new(argument, …)`, and every rule of the
/// table (each `entry&RULE` in file `table`, from the text `within` to the
/// text `until` that follows it) is built there and nowhere else.
struct Table {
    constructor: &'static str,
    argument: &'static str,
    table: &'static str,
    within: &'static str,
    until: &'static str,
    entry: &'static str,
}

const TABLES: &[Table] = &[
    // L101–L115: `classify` names the rule of a log line, `signature_finding` builds it.
    Table {
        constructor: "src/log/check.rs",
        argument: "sig.rule",
        table: "src/log/signature.rs",
        within: "pub(crate) fn classify",
        until: "#[cfg(test)]",
        entry: "sig(",
    },
    // The per-frame flags of `video check`: `FrameFlag::rule` names the rule.
    Table {
        constructor: "src/video/frame_checks.rs",
        argument: "rule",
        table: "src/video/frame_checks.rs",
        within: "fn rule(self)",
        until: "\n    }\n",
        entry: "=> Some(",
    },
    // FP8 codes that encode NaN or infinity: one loop over both rules.
    Table {
        constructor: "src/weights/quant/validate.rs",
        argument: "rule",
        table: "src/weights/quant/validate.rs",
        within: "for (count, rule, test, what) in",
        until: "{\n",
        entry: ", ",
    },
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

/// The family of constant `expr` (`rules::pose::X`, `format_rules::X`, an
/// imported `X`) as the file `code` names it.
fn family_of(code: &str, expr: &str, families: &[String]) -> Option<String> {
    let segments: Vec<&str> = expr.split("::").filter(|s| !s.is_empty()).collect();
    let &constant = segments.last()?;
    match segments.len() {
        1 => import_family(code, constant, families),
        _ => {
            let qualifier = segments[segments.len() - 2];
            if families.iter().any(|f| f == qualifier) {
                Some(qualifier.to_string())
            } else {
                alias_family(code, qualifier, families)
            }
        }
    }
}

/// The first argument of the call whose arguments start at `rest`.
fn first_argument(rest: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in rest.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => break,
            _ => {}
        }
        out.push(c);
    }
    out.split_whitespace().collect()
}

/// Whether `argument` is a `&'static Rule` parameter of the function the
/// call at `at` is in: a helper that builds findings of the rule it is given
/// (`formats::at_offset`), whose callers choose the rule.
fn is_rule_parameter(code: &str, at: usize, argument: &str) -> bool {
    let Some(start) = code[..at].rfind("fn ") else { return false };
    let signature = &code[start..code[start..].find('{').map_or(at, |end| start + end)];
    argument.chars().all(is_ident) && signature.contains(&format!("{argument}: &'static"))
}

/// The rules of a table, by family.
fn table_rules(table: &Table, families: &[String]) -> Vec<String> {
    let (_, code) = library_sources()
        .into_iter()
        .find(|(path, _)| path.ends_with(table.table))
        .unwrap_or_else(|| panic!("the table {} is gone: update TABLES", table.table));
    let start = code.find(table.within).unwrap_or_else(|| panic!("{} holds no {:?}", table.table, table.within));
    let body = &code[start..];
    let body = &body[..body.find(table.until).unwrap_or(body.len())];
    let mut found = Vec::new();
    for (at, _) in body.match_indices(&format!("{}&", table.entry)) {
        let rest = &body[at + table.entry.len() + 1..];
        let expr: String = rest.chars().take_while(|&c| is_ident(c) || c == ':').collect();
        let family = family_of(&code, &expr, families)
            .unwrap_or_else(|| panic!("cannot tell the family of {expr} in {}", table.table));
        let rule = format!("{family}::{}", expr.rsplit("::").next().unwrap_or_default());
        if !found.contains(&rule) {
            found.push(rule);
        }
    }
    assert!(!found.is_empty(), "the table {} lists no rules: is {:?} still its entry?", table.table, table.entry);
    found
}

/// Every place that builds a finding of a given rule, as `family::CONSTANT`
/// → places: each `Finding::new(&PATH` of the library, and each table
/// (one place for all its rules). A `Finding::new` whose rule is neither a
/// constant, a table's argument nor a helper's rule parameter fails the scan.
fn constructor_sites() -> BTreeMap<String, Vec<String>> {
    let families = families();
    let mut sites: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, code) in library_sources() {
        for (at, _) in code.match_indices("Finding::new(") {
            let line = code[..at].lines().count() + 1;
            let rest = code[at + "Finding::new(".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('&') else {
                let argument = first_argument(rest);
                let table = TABLES.iter().find(|t| path.ends_with(t.constructor) && t.argument == argument);
                assert!(
                    table.is_some() || is_rule_parameter(&code, at, &argument),
                    "{}:{line}: Finding::new({argument}, …) builds a rule the scan cannot name: pass a rule \
                     constant, or list the table the rule comes from in TABLES",
                    path.display()
                );
                continue;
            };
            let expr: String = rest.trim_start().chars().take_while(|&c| is_ident(c) || c == ':').collect();
            let constant = expr.rsplit("::").next().unwrap_or_default();
            let family = family_of(&code, &expr, &families)
                .unwrap_or_else(|| panic!("cannot tell the family of {expr} in {}", path.display()));
            sites.entry(format!("{family}::{constant}")).or_default().push(format!("{}:{line}", path.display()));
        }
    }
    for table in TABLES {
        for rule in table_rules(table, &families) {
            sites.entry(rule).or_default().push(format!("the table in {}", table.table));
        }
    }
    sites
}

#[test]
fn each_rule_has_one_constructor() {
    let sites = constructor_sites();
    assert!(sites.len() > 50, "the scan found only {} rules: is it still reading src/?", sites.len());
    let several: Vec<String> = sites
        .iter()
        .filter(|(_, places)| places.len() > 1)
        .map(|(rule, places)| format!("{rule}: {places:?}"))
        .collect();
    assert!(
        several.is_empty(),
        "rules built at several places; give each one function that builds its message and evidence: {several:#?}"
    );
}

#[test]
fn the_tables_are_seen() {
    let sites = constructor_sites();
    for rule in ["log::NAN_CAST_WARNING", "log::SHAPE_MISMATCH", "video::BLACK_FRAMES"] {
        assert!(sites[rule].iter().any(|place| place.starts_with("the table in")), "{rule}: {:?}", sites[rule]);
    }
}

#[test]
fn the_scan_reads_a_calls_first_argument() {
    assert_eq!(first_argument("sig.rule, format!(\"a, b\"))"), "sig.rule");
    assert_eq!(first_argument("flag.rule(), x)"), "flag.rule()");
    assert_eq!(first_argument("&rules::A, x)"), "&rules::A");
    let helper = "fn at_offset(rule: &'static Rule, label: &str) -> Finding {\n    Finding::new(rule, label)";
    assert!(is_rule_parameter(helper, helper.len() - 20, "rule"));
    assert!(!is_rule_parameter(helper, helper.len() - 20, "label"));
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
