//! `--bisect`: delta debugging (ddmin) over the Linear/Conv modules for a
//! minimal set that, kept in fp32 and unquantized, makes the decoded frames
//! finite.

use std::collections::BTreeSet;

use candle_core::Device;
use serde::Serialize;

use super::engine::{AutoencoderKL, EngineError, Precision, Tracer, UNet2DConditionModel};
use super::pipeline::run;
use super::spec::Spec;

/// The most replays one bisection may run.
const MAX_TRIALS: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct BisectOutcome {
    /// Modules to keep in fp32/unquantized; empty when not needed or not found.
    pub keep: Vec<String>,
    /// Whether keeping `keep` made the run finite.
    pub fixed: bool,
    /// Whether the unmodified run was already finite.
    pub already_finite: bool,
    pub candidates: usize,
    pub trials: usize,
}

/// The candidate modules: every Linear/Conv the plan quantizes, or every
/// Linear/Conv when nothing is quantized (then only the dtype matters).
fn candidates(spec: &Spec, precision: &Precision) -> Result<Vec<String>, EngineError> {
    if spec.family == "echomimic-v2" {
        let all = super::echomimic::wire::layers(spec, &Precision::default())?;
        return Ok(if precision.quantize.is_some() {
            all.into_iter().filter(|m| precision.quantizes(m)).collect()
        } else {
            all
        });
    }
    let unet = UNet2DConditionModel::load(&spec.models.unet, &Device::Cpu, &Precision::default(), "unet")?;
    let vae = AutoencoderKL::load(&spec.models.vae, &Device::Cpu, &Precision::default(), "vae")?;
    let all = unet.layers.into_iter().chain(vae.layers);
    Ok(if precision.quantize.is_some() { all.filter(|m| precision.quantizes(m)).collect() } else { all.collect() })
}

pub fn bisect(spec: &Spec, base: &Precision) -> Result<BisectOutcome, EngineError> {
    let trials = std::cell::Cell::new(0usize);
    let finite_with = |keep: &[String]| -> Result<bool, EngineError> {
        trials.set(trials.get() + 1);
        let mut precision = base.clone();
        precision.keep = keep.iter().cloned().collect::<BTreeSet<_>>();
        Ok(run(spec, &precision, &mut Tracer::silent())?.nonfinite == 0)
    };
    let all = candidates(spec, base)?;
    let count = all.len();
    let outcome = |keep: Vec<String>, fixed, already_finite, trials| BisectOutcome {
        keep,
        fixed,
        already_finite,
        candidates: count,
        trials,
    };
    if finite_with(&[])? {
        return Ok(outcome(Vec::new(), true, true, 1));
    }
    if !finite_with(&all)? {
        return Ok(outcome(Vec::new(), false, false, 2));
    }
    let mut current = all;
    let mut n = 2usize;
    while current.len() > 1 && trials.get() < MAX_TRIALS {
        let chunks = split(&current, n);
        let mut reduced = false;
        for chunk in &chunks {
            if finite_with(chunk)? {
                current = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && n > 2 {
            for i in 0..chunks.len() {
                let complement: Vec<String> =
                    chunks.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, c)| c.iter().cloned()).collect();
                if finite_with(&complement)? {
                    current = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (n * 2).min(current.len());
        }
    }
    Ok(outcome(current, true, false, trials.get()))
}

/// `items` in `n` nearly equal consecutive chunks.
fn split(items: &[String], n: usize) -> Vec<Vec<String>> {
    let n = n.min(items.len()).max(1);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let end = start + (items.len() - start) / (n - i);
        out.push(items[start..end].to_vec());
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_covers_everything_in_order() {
        let items: Vec<String> = (0..7).map(|i| i.to_string()).collect();
        let chunks = split(&items, 3);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), items);
    }
}
