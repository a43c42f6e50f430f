//! `fail-on`: the severity from which a finding fails a run. The command
//! line's `--fail-on` and the gate's per-check `fail-on` are this one type.

use serde::{Deserialize, Serialize};

use super::{Finding, Severity};

/// The evidence key under which a finding carries the `fail-on` of the
/// check that reported it (gate reports), so that a report read back
/// (`merge`) is judged as the run that wrote it judged it.
pub const FAIL_ON_EVIDENCE: &str = "fail_on";

/// From which severity a finding fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    #[default]
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    /// The lowest severity that fails; `None` for `never`.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Error => "error",
            FailOn::Warning => "warning",
            FailOn::Info => "info",
            FailOn::Never => "never",
        }
    }

    /// The `fail-on` a finding carries in its evidence, if any.
    pub fn carried_by(finding: &Finding) -> Option<FailOn> {
        finding.evidence.get(FAIL_ON_EVIDENCE).and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

/// Whether `finding` fails a run: under the `fail-on` it carries when it
/// carries one, else under `threshold`.
pub fn fails(finding: &Finding, threshold: Option<Severity>) -> bool {
    let threshold = FailOn::carried_by(finding).map_or(threshold, FailOn::threshold);
    threshold.is_some_and(|t| finding.severity >= t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    #[test]
    fn a_carried_fail_on_wins_over_the_run_threshold() {
        let warning = Finding::new(&rules::gate::TRACE_HEADROOM_LOST, "x");
        assert!(!fails(&warning, FailOn::Error.threshold()));
        assert!(fails(&warning, FailOn::Warning.threshold()));
        let carried = warning.with_evidence(FAIL_ON_EVIDENCE, FailOn::Warning.as_str());
        assert_eq!(FailOn::carried_by(&carried), Some(FailOn::Warning));
        assert!(fails(&carried, FailOn::Error.threshold()));
        assert!(fails(&carried, None));
        let never = carried.with_evidence(FAIL_ON_EVIDENCE, "never");
        assert!(!fails(&never, FailOn::Info.threshold()));
    }
}
