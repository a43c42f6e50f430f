//! `nanscope weights --simulate SCHEME PATH…`: the ranked damage table and
//! the exclude list.

use std::path::PathBuf;

use crate::numerics::QuantScheme;
use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::weights::simulate::{self, SimulateOptions, SimulationResult, python_list};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::output::emit;
use super::progress::Bar;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Instead of the hazard scan, quantize-dequantize every eligible tensor under SCHEME and rank the damage.
    #[arg(long = "simulate", value_enum, value_name = "SCHEME")]
    pub scheme: Option<SchemeArg>,
    /// Q201: worst-channel SQNR threshold in dB (default by scheme: int8 20, int4-g128 10, fp8-e4m3 15, fp16 40, bf16 30).
    #[arg(long, value_name = "DB", requires = "scheme")]
    pub min_sqnr: Option<f64>,
    /// Q202: share of non-zero weights rounded to zero above which a tensor is reported.
    #[arg(long, value_name = "FRACTION", requires = "scheme")]
    pub max_zeroed_share: Option<f64>,
    /// Q203: share of clipped weights above which a tensor is reported.
    #[arg(long, value_name = "FRACTION", requires = "scheme")]
    pub max_clipped_share: Option<f64>,
    /// Rows of the ranked table (the JSON report lists every tensor).
    #[arg(long, value_name = "N", default_value_t = 20, requires = "scheme")]
    pub top: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// Per-tensor symmetric int8, scale absmax/127.
    #[value(name = "int8")]
    Int8,
    /// Per-output-channel symmetric int8 as torchao int8_weight_only (absmax/127.5, codes -128..127).
    #[value(name = "int8-channel")]
    Int8Channel,
    /// Asymmetric min/max int4 in groups of 128 along the input dimension (AWQ/GPTQ round-to-nearest).
    #[value(name = "int4-g128")]
    Int4G128,
    /// float8 e4m3fn with a per-tensor scale absmax/448 (unsaturated cast).
    #[value(name = "fp8-e4m3")]
    Fp8E4M3,
    /// Round-to-nearest-even cast to fp16.
    #[value(name = "fp16")]
    Fp16,
    /// Round-to-nearest-even cast to bf16.
    #[value(name = "bf16")]
    Bf16,
}

impl SchemeArg {
    fn scheme(self) -> QuantScheme {
        match self {
            SchemeArg::Int8 => QuantScheme::Int8,
            SchemeArg::Int8Channel => QuantScheme::Int8Channel,
            SchemeArg::Int4G128 => QuantScheme::Int4G128,
            SchemeArg::Fp8E4M3 => QuantScheme::Fp8E4M3,
            SchemeArg::Fp16 => QuantScheme::Fp16,
            SchemeArg::Bf16 => QuantScheme::Bf16,
        }
    }
}

pub fn run(paths: &[PathBuf], scheme: SchemeArg, args: &SimulateArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let mut options = SimulateOptions::new(scheme.scheme());
    if let Some(db) = args.min_sqnr {
        anyhow::ensure!(db.is_finite(), "--min-sqnr must be a finite number of dB, got {db}");
        options.min_sqnr_db = db;
    }
    for (flag, value, slot) in [
        ("--max-zeroed-share", args.max_zeroed_share, &mut options.max_zeroed_share),
        ("--max-clipped-share", args.max_clipped_share, &mut options.max_clipped_share),
    ] {
        if let Some(value) = value {
            anyhow::ensure!((0.0..=1.0).contains(&value), "{flag} must be between 0 and 1, got {value}");
            *slot = value;
        }
    }
    let bar = Bar::bytes(global);
    let result = simulate::simulate(paths, &options, &bar);
    bar.finish();
    let inputs = paths.iter().map(|p| p.display().to_string()).collect();
    emit(&build_report(result, inputs, &options, args.top), global)
}

fn build_report(result: SimulationResult, inputs: Vec<String>, options: &SimulateOptions, top: usize) -> Report {
    let scheme = options.scheme;
    let mut report = Report::new("weights", inputs);
    report.set_counter("files", result.files.len() as u64);
    report.set_counter("simulated", result.tensors.len() as u64);
    report.set_counter("skipped", result.skipped);
    report.set_counter("excluded", result.exclude.len() as u64);

    let multi_file = result.files.len() > 1;
    let pct = |x: f64| format!("{}%", fmt_num(x * 100.0));
    // A tensor with non-finite inputs has no figure for what it lost.
    let db = |x: Option<f64>, m: &crate::weights::simulate::SimulationMetrics| match x {
        Some(v) => fmt_num(v),
        None if m.nonfinite_input > 0 => "lost".to_string(),
        None => "exact".to_string(),
    };
    let mut header =
        vec!["#", "tensor", "shape", "worst ch dB", "row", "sqnr dB", "zeroed", "clipped", "rel err", "overflow"];
    if multi_file {
        header.insert(1, "file");
    }
    let rows = result
        .tensors
        .iter()
        .take(top)
        .enumerate()
        .map(|(i, t)| {
            let m = &t.metrics;
            let mut row = vec![
                (i + 1).to_string(),
                t.tensor.clone(),
                format!("{:?}", t.shape),
                db(m.worst_channel_sqnr_db, m),
                m.worst_channel.map_or_else(|| "-".into(), |r| r.to_string()),
                db(m.sqnr_db, m),
                pct(m.zeroed_share),
                pct(m.clipped_share),
                m.rel_error.map_or_else(|| "-".into(), fmt_num),
                m.overflow.to_string(),
            ];
            if multi_file {
                row.insert(1, t.file.clone());
            }
            row
        })
        .collect();
    let hidden = result.tensors.len().saturating_sub(top);
    let ranked = SectionTable {
        title: format!(
            "Simulated {scheme} ({} bits, per {}), most damaged first (worst-channel SQNR)",
            scheme.bits(),
            scheme.granularity().name()
        ),
        header: header.into_iter().map(String::from).collect(),
        rows,
        note: Some(format!(
            "{}{} tensors not eligible for {scheme}. Channel = row along dim 0; 'exact' = lossless; 'lost' = NaN/Inf in the input (Q207).",
            if hidden > 0 { format!("{hidden} more tensors (--top N shows more). ") } else { String::new() },
            result.skipped
        )),
    };
    let python = python_list(&result.exclude);
    let exclude_json = serde_json::to_string(&result.exclude).unwrap_or_else(|_| "[]".into());
    let exclude_table = SectionTable {
        title: format!("Keep in higher precision ({} modules)", result.exclude.len()),
        header: ["module", "why"].map(String::from).to_vec(),
        rows: result
            .tensors
            .iter()
            .filter(|t| !t.exclude_reasons.is_empty())
            .map(|t| vec![t.module.clone(), t.exclude_reasons.join(", ")])
            .collect(),
        note: Some(format!("JSON:   {exclude_json}\n\nPython: modules_to_not_convert = {python}")),
    };
    report.sections.push(Section {
        key: "files".into(),
        value: serde_json::to_value(&result.files).unwrap_or_default(),
        table: None,
    });
    report.sections.push(Section {
        key: "simulation".into(),
        value: json!({
            "scheme": scheme.name(),
            "bits": scheme.bits(),
            "granularity": scheme.granularity().name(),
            "min_sqnr_db": options.min_sqnr_db,
            "max_zeroed_share": options.max_zeroed_share,
            "max_clipped_share": options.max_clipped_share,
            "skipped": result.skipped,
            "tensors": result.tensors,
            "exclude_python": python,
        }),
        table: Some(ranked),
    });
    report.sections.push(Section { key: "exclude".into(), value: json!(result.exclude), table: Some(exclude_table) });
    report.findings = result.findings;
    report.sort_findings();
    report
}
