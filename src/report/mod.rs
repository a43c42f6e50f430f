//! Findings, reports, their renderers, and what a report means for the
//! exit code (`Report::outcome`). Nothing here exits or prints.

mod fail_on;
mod finding;
pub mod plot;
pub mod render;
#[allow(clippy::module_inception)]
mod report;

pub use fail_on::{FAIL_ON_EVIDENCE, FailOn, fails};
pub use finding::{Finding, Severity, Subject};
pub use render::{Format, RenderOptions, render};
pub use report::{
    Attachment, EXIT_CLEAN, EXIT_FAILURE, EXIT_FINDINGS, Outcome, Report, SCHEMA_VERSION, Section, SectionTable,
};

/// The first `keep` items joined with commas, then how many more.
pub(crate) fn list_some<S: AsRef<str>>(items: &[S], keep: usize) -> String {
    let shown: Vec<&str> = items.iter().take(keep).map(AsRef::as_ref).collect();
    match items.len().checked_sub(keep) {
        Some(rest) if rest > 0 => format!("{} and {rest} more", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// Compact number formatting for messages and tables: four significant
/// digits, scientific notation outside [1e-3, 1e5).
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    if (1e-3..1e5).contains(&x.abs()) {
        let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{x:.decimals$}");
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    } else {
        format!("{x:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_num;

    #[test]
    fn four_significant_digits() {
        assert_eq!(fmt_num(127.9957), "128");
        assert_eq!(fmt_num(3.90614), "3.906");
        assert_eq!(fmt_num(0.020104), "0.0201");
        assert_eq!(fmt_num(62377.8), "62378");
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1e6), "1.000e6");
        assert_eq!(fmt_num(-2.5), "-2.5");
    }
}
