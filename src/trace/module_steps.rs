//! The largest finite magnitude of each module's output at each step: the
//! table a gate's trace baseline records, so that headroom lost since the
//! accepted run is named by module and step.
//!
//! Modules are interned, and a cell is added only while the table holds fewer
//! than [`MAX_CELLS`] cells (checked before the cell is allocated), so memory
//! is bounded by modules × steps and by the cap, never by the dump's length.

use std::collections::HashMap;

use serde::Serialize;

use super::record::Record;

/// The most (module, step) cells one table keeps; records of further cells are counted, not kept.
pub const MAX_CELLS: usize = 1 << 20;

/// One module's largest finite magnitude at one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleStepAbsmax {
    pub module: String,
    pub step: Option<u64>,
    pub absmax: f64,
}

/// The (module, step) → absmax table, filled one record at a time.
#[derive(Debug, Default)]
pub struct ModuleSteps {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    cells: HashMap<(u32, Option<u64>), f64>,
    /// Records of a new cell that arrived once the table was full.
    dropped: u64,
}

impl ModuleSteps {
    /// Adds a record's absmax (records without one are skipped).
    pub fn push(&mut self, record: &Record, absmax: Option<f64>) {
        let Some(absmax) = absmax.filter(|a| a.is_finite()) else { return };
        let label;
        let name = match &record.output {
            Some(output) => {
                label = format!("{}:{output}", record.module);
                label.as_str()
            }
            None => record.module.as_str(),
        };
        let id = self.ids.get(name).copied();
        if let Some(id) = id
            && let Some(cell) = self.cells.get_mut(&(id, record.step))
        {
            *cell = cell.max(absmax);
            return;
        }
        if self.cells.len() >= MAX_CELLS {
            self.dropped += 1;
            return;
        }
        let id = match id {
            Some(id) => id,
            None => {
                let Ok(id) = u32::try_from(self.names.len()) else {
                    self.dropped += 1;
                    return;
                };
                self.names.push(name.to_string());
                self.ids.insert(name.to_string(), id);
                id
            }
        };
        self.cells.insert((id, record.step), absmax);
    }

    /// Records whose cell did not fit under [`MAX_CELLS`].
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The cells, by module (in first-seen order), then by step.
    pub fn into_rows(self) -> Vec<ModuleStepAbsmax> {
        let mut cells: Vec<((u32, Option<u64>), f64)> = self.cells.into_iter().collect();
        cells.sort_by_key(|&(key, _)| key);
        cells
            .into_iter()
            .map(|((id, step), absmax)| ModuleStepAbsmax { module: self.names[id as usize].clone(), step, absmax })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(module: &str, step: u64) -> Record {
        serde_json::from_value(serde_json::json!({
            "seq": 0, "module": module, "step": step, "dtype": "F16", "shape": [1]
        }))
        .unwrap()
    }

    #[test]
    fn keeps_the_largest_value_per_module_and_step() {
        let mut table = ModuleSteps::default();
        table.push(&record("unet.a", 0), Some(3.0));
        table.push(&record("unet.a", 0), Some(5.0));
        table.push(&record("unet.a", 0), Some(4.0));
        table.push(&record("unet.b", 0), Some(1.0));
        table.push(&record("unet.a", 1), Some(f64::INFINITY));
        table.push(&record("unet.a", 2), None);
        table.push(&record("unet.a", 1), Some(2.0));
        let rows = table.into_rows();
        let got: Vec<(&str, Option<u64>, f64)> = rows.iter().map(|r| (r.module.as_str(), r.step, r.absmax)).collect();
        assert_eq!(got, [("unet.a", Some(0), 5.0), ("unet.a", Some(1), 2.0), ("unet.b", Some(0), 1.0)]);
    }
}
