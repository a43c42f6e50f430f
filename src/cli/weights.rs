//! `nanscope weights PATH…`

use std::path::PathBuf;

use crate::commands::{WeightsOptions, weights};
use crate::numerics::TargetDType;
use crate::weights::ScanOptions;
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
    let mut options = WeightsOptions::new(args.paths);
    options.scan = ScanOptions {
        target: match args.target_dtype {
            TargetArg::Fp16 => TargetDType::F16,
            TargetArg::Bf16 => TargetDType::BF16,
            TargetArg::None => TargetDType::None,
        },
        underflow_share: args.underflow_share,
        range_ratio: args.range_ratio,
    };
    options.all_tensors = args.all_tensors;
    if let Some(scheme) = args.simulate.scheme {
        // The scan options are judged first, whatever the run does.
        anyhow::ensure!(
            (0.0..=1.0).contains(&args.underflow_share),
            "--underflow-share must be between 0 and 1, got {}",
            args.underflow_share
        );
        anyhow::ensure!(args.range_ratio > 0.0, "--range-ratio must be positive, got {}", args.range_ratio);
        return super::simulate::run(&options.paths, scheme, &args.simulate, global);
    }
    let bar = Bar::bytes(global);
    let report = weights(&options, &bar);
    bar.finish();
    emit(&report?, global)
}
