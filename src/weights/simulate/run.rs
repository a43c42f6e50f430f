//! `weights --simulate`: open every input, simulate the scheme over each
//! eligible tensor in parallel, rank the damage and build the exclude list.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::advice::{SimulateOptions, module_name, simulation_findings};
use super::metrics::{SimulationMetrics, simulate_values};
use crate::formats::{Checkpoint, TensorEntry};
use crate::numerics::{DType, QuantScheme};
use crate::report::Finding;
use crate::weights::open::open_checkpoints;
use crate::weights::quant::{QuantConfig, recognise};
use crate::weights::scan::{FileRecord, Progress};
use crate::weights::values::logical_values;

/// One simulated tensor, as the report's `simulation` section lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TensorSimulation {
    pub file: String,
    pub tensor: String,
    pub module: String,
    pub dtype: DType,
    pub shape: Vec<u64>,
    #[serde(flatten)]
    pub metrics: SimulationMetrics,
    /// Rule slugs that put the module on the exclude list.
    pub exclude_reasons: Vec<&'static str>,
}

#[derive(Debug, Default)]
pub struct SimulationResult {
    pub files: Vec<FileRecord>,
    /// Ranked most damaged first (worst-channel SQNR ascending).
    pub tensors: Vec<TensorSimulation>,
    /// Tensors the scheme does not apply to.
    pub skipped: u64,
    /// Modules to keep in higher precision, in rank order, without repeats.
    pub exclude: Vec<String>,
    pub findings: Vec<Finding>,
}

/// Whether `scheme` applies to a tensor, or why not. Integer and fp8 schemes
/// apply to float weights of at least two dimensions (Linear and Conv
/// weights: what quantization tools convert); casts apply to every float
/// tensor not already in the target dtype. Tensors already stored in 8 bits
/// or fewer, and the pieces of recognised quantized weights, are never
/// simulated.
pub fn eligibility(scheme: QuantScheme, dtype: DType, shape: &[u64]) -> Result<(), &'static str> {
    if !matches!(dtype, DType::F16 | DType::BF16 | DType::F32 | DType::F64) {
        return Err("not a 16-bit or wider float");
    }
    if shape.contains(&0) {
        return Err("empty");
    }
    match scheme {
        QuantScheme::Fp16 if dtype == DType::F16 => Err("already fp16"),
        QuantScheme::Bf16 if dtype == DType::BF16 => Err("already bf16"),
        s if !s.is_cast() && shape.len() < 2 => Err("fewer than two dimensions"),
        _ => Ok(()),
    }
}

/// Runs the simulation over files and directories. Never fails: unreadable
/// inputs and tensors become findings and the run goes on.
pub fn simulate(paths: &[PathBuf], options: &SimulateOptions, progress: &dyn Progress) -> SimulationResult {
    let (checkpoints, mut findings) = open_checkpoints(paths);
    let mut result = SimulationResult::default();
    for checkpoint in &checkpoints {
        progress.file(&checkpoint.label, checkpoint.file_len());
        findings.extend(checkpoint.findings.iter().cloned());
        // Entries of an already quantized weight (codes, scales, zero points)
        // are not float weights to convert.
        let claimed = match checkpoint.tensors.is_empty() {
            true => HashSet::new(),
            false => recognise(checkpoint, &QuantConfig::beside(Path::new(&checkpoint.label))).claimed(),
        };
        let outcomes: Vec<Outcome> = checkpoint
            .tensors
            .par_iter()
            .enumerate()
            .map(|(i, entry)| match claimed.contains(&i) {
                true => Outcome::Skipped,
                false => simulate_entry(checkpoint, entry, options, progress),
            })
            .collect();
        let mut simulated = 0;
        for outcome in outcomes {
            match outcome {
                Outcome::Skipped => result.skipped += 1,
                Outcome::Failed(finding) => findings.push(*finding),
                Outcome::Simulated(record, tensor_findings) => {
                    simulated += 1;
                    result.tensors.push(*record);
                    findings.extend(tensor_findings);
                }
            }
        }
        result.files.push(FileRecord {
            file: checkpoint.label.clone(),
            format: checkpoint.format.name(),
            bytes: checkpoint.file_len(),
            tensors: simulated,
        });
    }
    rank(&mut result.tensors);
    for t in result.tensors.iter().filter(|t| !t.exclude_reasons.is_empty()) {
        if !result.exclude.contains(&t.module) {
            result.exclude.push(t.module.clone());
        }
    }
    result.findings = findings;
    result
}

enum Outcome {
    Skipped,
    Failed(Box<Finding>),
    Simulated(Box<TensorSimulation>, Vec<Finding>),
}

fn simulate_entry(
    checkpoint: &Checkpoint,
    entry: &TensorEntry,
    options: &SimulateOptions,
    progress: &dyn Progress,
) -> Outcome {
    let bytes = entry.numel().and_then(|n| entry.dtype.byte_len(n)).unwrap_or(0);
    if eligibility(options.scheme, entry.dtype, &entry.shape).is_err() {
        progress.advance(bytes);
        return Outcome::Skipped;
    }
    let outcome = match logical_values(checkpoint, entry, &[]) {
        Err(finding) => Outcome::Failed(finding),
        Ok(values) => {
            let metrics = simulate_values(options.scheme, &values, &entry.shape);
            let (findings, reasons) = simulation_findings(&checkpoint.label, &entry.name, &metrics, options);
            let record = TensorSimulation {
                file: checkpoint.label.clone(),
                tensor: entry.name.clone(),
                module: module_name(&entry.name).to_string(),
                dtype: entry.dtype,
                shape: entry.shape.clone(),
                metrics,
                exclude_reasons: reasons,
            };
            Outcome::Simulated(Box::new(record), findings)
        }
    };
    checkpoint.release(entry);
    progress.advance(bytes);
    outcome
}

/// Most damaged first: non-finite inputs and overflow, then the
/// worst-channel SQNR ascending (an exact round trip ranks last), then the
/// whole-tensor SQNR.
fn rank(tensors: &mut [TensorSimulation]) {
    let key = |t: &TensorSimulation| {
        (
            t.metrics.overflow == 0 && t.metrics.nonfinite_input == 0,
            t.metrics.worst_channel_sqnr_db.unwrap_or(f64::INFINITY),
            t.metrics.sqnr_db.unwrap_or(f64::INFINITY),
        )
    };
    tensors.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(ka.2.total_cmp(&kb.2))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::Silent;

    #[test]
    fn eligibility_follows_the_scheme() {
        assert!(eligibility(QuantScheme::Int8, DType::F32, &[4, 4]).is_ok());
        assert!(eligibility(QuantScheme::Int8, DType::F32, &[4]).is_err());
        assert!(eligibility(QuantScheme::Fp16, DType::F32, &[4]).is_ok());
        assert!(eligibility(QuantScheme::Fp16, DType::F16, &[4, 4]).is_err());
        assert!(eligibility(QuantScheme::Bf16, DType::F16, &[4]).is_ok());
        assert!(eligibility(QuantScheme::Int8Channel, DType::I64, &[4, 4]).is_err());
        assert!(eligibility(QuantScheme::Int4G128, DType::F8E4M3, &[4, 4]).is_err());
        assert!(eligibility(QuantScheme::Int8, DType::F32, &[0, 4]).is_err());
    }

    #[test]
    fn outlier_checkpoint_without_the_cli() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/simulate/outlier_unet.safetensors");
        let result = simulate(&[path], &SimulateOptions::new(QuantScheme::Int8), &Silent);
        assert_eq!(result.tensors.len(), 5);
        assert_eq!(result.skipped, 2);
        assert_eq!(result.exclude[0], "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k");
        let fp16 = simulate(
            &[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/simulate/outlier_unet.safetensors")],
            &SimulateOptions::new(QuantScheme::Fp16),
            &Silent,
        );
        assert_eq!(fp16.tensors.len(), 7, "casts apply to 1-D tensors too");
        assert!(fp16.exclude.is_empty(), "{:?}", fp16.exclude);
    }
}
