//! `nanscope weights PATH…`

use std::collections::HashMap;
use std::path::PathBuf;

use crate::numerics::TargetDType;
use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::weights::{self, ScanOptions, ScanResult, TensorRecord};
use anyhow::Context;
use clap::{Args, ValueEnum};

use super::output::emit;
use super::progress::Bar;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct WeightsArgs {
    /// Checkpoint files or directories (scanned recursively). Formats are recognised by content.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The dtype the pipeline runs the weights in; overflow and underflow are judged against it.
    #[arg(long, value_enum, default_value_t = TargetArg::Fp16)]
    pub target_dtype: TargetArg,
    /// Warn when more than this share of a tensor's non-zero values underflow in the target dtype (W103).
    #[arg(long, value_name = "FRACTION", default_value_t = ScanOptions::default().underflow_share)]
    pub underflow_share: f64,
    /// Warn when a value lies more than this many standard deviations from its tensor's mean (W106).
    #[arg(long, value_name = "RATIO", default_value_t = ScanOptions::default().range_ratio)]
    pub range_ratio: f64,
    /// List every tensor in the table output, not only those with findings.
    #[arg(long)]
    pub all_tensors: bool,
    /// Worker threads (default: one per core; also RAYON_NUM_THREADS).
    #[arg(long, short = 'j', value_name = "N", value_parser = super::values::count)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub simulate: super::simulate::SimulateArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    Fp16,
    Bf16,
    None,
}

pub fn run(args: WeightsArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    super::inputs::require_existing(&args.paths)?;
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().context("cannot start worker threads")?;
    }
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.underflow_share),
        "--underflow-share must be between 0 and 1, got {}",
        args.underflow_share
    );
    anyhow::ensure!(args.range_ratio > 0.0, "--range-ratio must be positive, got {}", args.range_ratio);
    let options = ScanOptions {
        target: match args.target_dtype {
            TargetArg::Fp16 => TargetDType::F16,
            TargetArg::Bf16 => TargetDType::BF16,
            TargetArg::None => TargetDType::None,
        },
        underflow_share: args.underflow_share,
        range_ratio: args.range_ratio,
    };
    if let Some(scheme) = args.simulate.scheme {
        return super::simulate::run(&args.paths, scheme, &args.simulate, global);
    }
    let bar = Bar::bytes(global);
    let result = weights::scan(&args.paths, &options, &bar);
    bar.finish();
    if result.tensors.is_empty() && result.findings.is_empty() {
        return Err(super::inputs::nothing_to_check(&args.paths, "checkpoint tensors"));
    }
    let inputs = args.paths.iter().map(|p| p.display().to_string()).collect();
    emit(&build_report(result, inputs, args.all_tensors), global)
}

fn build_report(result: ScanResult, inputs: Vec<String>, all_tensors: bool) -> Report {
    let mut report = Report::new("weights", inputs);
    report.set_counter("files", result.files.len() as u64);
    report.set_counter("tensors", result.tensors.len() as u64);

    let mut codes: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for f in &result.findings {
        if let (Some(file), Some(tensor)) = (&f.subject.file, &f.subject.tensor) {
            codes.entry((file.as_str(), tensor.as_str())).or_default().push(f.code());
        }
    }
    let multi_file = result.files.len() > 1;
    let listed: Vec<&TensorRecord> = result
        .tensors
        .iter()
        .filter(|t| all_tensors || codes.contains_key(&(t.file.as_str(), t.name.as_str())))
        .collect();
    let mut header = vec!["tensor", "dtype", "shape", "min", "max", "absmax", "std", "non-finite", "findings"];
    if multi_file {
        header.insert(0, "file");
    }
    let rows = listed
        .iter()
        .map(|t| {
            let num = |x: Option<f64>| x.map(fmt_num).unwrap_or_else(|| "-".into());
            let stats = t.stats.as_ref();
            let mut row = vec![
                t.name.clone(),
                t.quant
                    .as_ref()
                    .filter(|q| q.of.is_none())
                    .map_or(t.dtype.to_string(), |q| format!("{}→{}", q.format, t.dtype)),
                format!("{:?}", t.shape),
                num(stats.and_then(|s| s.min)),
                num(stats.and_then(|s| s.max)),
                num(stats.and_then(|s| s.absmax)),
                num(stats.and_then(|s| s.std)),
                stats.map_or("-".into(), |s| s.nonfinite().to_string()),
                codes.get(&(t.file.as_str(), t.name.as_str())).map(|c| c.join(" ")).unwrap_or_default(),
            ];
            if multi_file {
                row.insert(0, t.file.clone());
            }
            row
        })
        .collect();
    let hidden = result.tensors.len() - listed.len();
    let tensor_table = SectionTable {
        title: if all_tensors { "Tensors".into() } else { "Tensors with findings".into() },
        header: header.into_iter().map(String::from).collect(),
        rows,
        note: (hidden > 0).then(|| format!("{hidden} more tensors without findings (--all-tensors lists them)")),
    };
    let file_table = SectionTable {
        title: "Files".into(),
        header: ["file", "format", "bytes", "tensors"].map(String::from).to_vec(),
        rows: result
            .files
            .iter()
            .map(|f| vec![f.file.clone(), f.format.to_string(), f.bytes.to_string(), f.tensors.to_string()])
            .collect(),
        note: None,
    };
    report.sections.push(Section {
        key: "files".into(),
        value: serde_json::to_value(&result.files).unwrap_or_default(),
        table: Some(file_table),
    });
    report.sections.push(Section {
        key: "tensors".into(),
        value: serde_json::to_value(&result.tensors).unwrap_or_default(),
        table: Some(tensor_table),
    });
    report.findings = result.findings;
    report.sort_findings();
    report
}
