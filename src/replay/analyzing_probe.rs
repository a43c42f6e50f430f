//! A probe that feeds the shared trace analysis as the run goes and, when
//! asked, also writes the dump folder: one pass, the same findings as
//! `nanscope trace` on that dump.

use crate::trace::{Analysis, AnalysisOptions, Analyzer, DumpWriter, Observation, Probe, ProbeError};

pub struct AnalyzingProbe {
    writer: Option<DumpWriter>,
    analyzer: Analyzer,
}

impl AnalyzingProbe {
    pub fn new(writer: Option<DumpWriter>, options: AnalysisOptions) -> Self {
        AnalyzingProbe { writer, analyzer: Analyzer::new(options) }
    }

    pub fn into_analysis(self) -> Analysis {
        self.analyzer.finish()
    }
}

impl Probe for AnalyzingProbe {
    fn wants_payload(&self, boundary: bool) -> bool {
        self.writer.as_ref().is_some_and(|w| w.wants_payload(boundary))
    }

    fn observe(&mut self, observation: Observation<'_>) -> Result<(), ProbeError> {
        self.analyzer.observe(observation.clone())?;
        match self.writer.as_mut() {
            Some(writer) => writer.observe(observation),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), ProbeError> {
        match self.writer.as_mut() {
            Some(writer) => writer.finish(),
            None => Ok(()),
        }
    }
}
