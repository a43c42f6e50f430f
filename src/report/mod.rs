//! Findings, reports and their renderers. Nothing here decides exit codes.

mod finding;
pub mod render;
#[allow(clippy::module_inception)]
mod report;

pub use finding::{Finding, Severity, Subject};
pub use render::{Format, RenderOptions, render};
pub use report::{Report, SCHEMA_VERSION, Section, SectionTable};

/// Compact number formatting for messages and tables: about four
/// significant digits, scientific notation outside [1e-3, 1e5).
pub fn fmt_num(x: f64) -> String {
    if x == 0.0 || (1e-3..1e5).contains(&x.abs()) {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.3e}")
    }
}
