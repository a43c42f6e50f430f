//! The per-step timeline: one row per (step, stage) in the order they first
//! ran, with the numbers that show a run going bad — the non-finite share and
//! the absolute maximum of the latents and of everything else.

use std::collections::HashMap;

use serde::Serialize;

use super::record::{Record, RecordStats};

/// One (step, stage) of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StageRow {
    pub step: Option<u64>,
    pub timestep: Option<f64>,
    pub stage: Option<String>,
    pub records: u64,
    pub nonfinite_records: u64,
    /// Elements over all records of the row.
    pub count: u64,
    pub nan: u64,
    pub nonfinite: u64,
    /// `nan / count`.
    pub nan_share: f64,
    /// `nonfinite / count`.
    pub nonfinite_share: f64,
    /// Largest finite magnitude over the row's records.
    pub absmax: Option<f64>,
    /// Largest finite magnitude of the latents recorded in this row.
    pub latents_absmax: Option<f64>,
    pub first_nonfinite_module: Option<String>,
}

/// Rows keyed by (step, stage); bounded by steps × stages, not by records.
#[derive(Debug, Default)]
pub struct Timeline {
    rows: Vec<StageRow>,
    index: HashMap<(Option<u64>, Option<String>), usize>,
}

impl Timeline {
    /// Adds one record. `bad` says whether the analysis counts it as
    /// non-finite; a mask's intentional -Inf is left out of the shares.
    pub fn push(&mut self, record: &Record, stats: Option<&RecordStats>, bad: bool, masked: bool, latents: bool) {
        let key = (record.step, record.stage.clone());
        let next = self.rows.len();
        let slot = *self.index.entry(key).or_insert(next);
        if slot == next {
            self.rows.push(StageRow {
                step: record.step,
                timestep: record.timestep,
                stage: record.stage.clone(),
                ..StageRow::default()
            });
        }
        let row = &mut self.rows[slot];
        row.records += 1;
        if let Some(stats) = stats {
            row.count = row.count.saturating_add(stats.count.unwrap_or(0));
            row.nan = row.nan.saturating_add(stats.nan.unwrap_or(0));
            if !masked {
                row.nonfinite = row.nonfinite.saturating_add(stats.nonfinite());
            }
            row.absmax = max_opt(row.absmax, stats.absmax);
            if latents {
                row.latents_absmax = max_opt(row.latents_absmax, stats.absmax);
            }
        }
        if bad {
            row.nonfinite_records += 1;
            if row.first_nonfinite_module.is_none() {
                row.first_nonfinite_module = Some(record.label());
            }
        }
        if row.count > 0 {
            row.nan_share = row.nan as f64 / row.count as f64;
            row.nonfinite_share = row.nonfinite as f64 / row.count as f64;
        }
    }

    pub fn into_rows(self) -> Vec<StageRow> {
        self.rows
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}
