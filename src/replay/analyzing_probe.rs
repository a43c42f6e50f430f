//! A probe that feeds the shared trace analysis as the run goes and, when
//! asked, also writes the dump folder.

use crate::numerics::DType;
use crate::trace::{Analysis, AnalysisOptions, Analyzer, DumpWriter, Observation, Probe, ProbeError, Record, headroom};

pub struct AnalyzingProbe {
    writer: Option<DumpWriter>,
    analyzer: Analyzer,
    seq: u64,
}

impl AnalyzingProbe {
    pub fn new(writer: Option<DumpWriter>, options: AnalysisOptions) -> Self {
        AnalyzingProbe { writer, analyzer: Analyzer::new(options), seq: 0 }
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
        let absmax = observation.output.stats.as_ref().and_then(|s| s.absmax);
        let mut record = Record {
            seq: self.seq,
            module: observation.module.to_string(),
            output: observation.output_name.map(str::to_string),
            boundary: observation.boundary,
            headroom: DType::from_safetensors(&observation.output.dtype).and_then(|d| headroom(d, absmax)),
            dtype: observation.output.dtype.clone(),
            shape: observation.output.shape.clone(),
            stats: observation.output.stats.clone(),
            inputs: observation.inputs.clone(),
            ..Record::default()
        };
        record.set_context(observation.context);
        self.analyzer.push(&record);
        self.seq += 1;
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
