//! `nanscope trace DIR`

use std::path::PathBuf;

use crate::commands::{TraceOptions, trace};
use crate::numerics::DType;
use crate::trace::AnalysisOptions;
use clap::{Args, ValueEnum};

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Dump folder written by a probe (or its manifest.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Warn when a module's |x| reaches this share of its dtype's largest finite value (R122).
    #[arg(long, value_name = "FRACTION", default_value_t = AnalysisOptions::default().headroom)]
    pub headroom: f64,
    /// Judge headroom against this dtype instead of each record's own (e.g. fp16 for an fp32 run).
    #[arg(long, value_enum, default_value_t = HeadroomDType::Auto)]
    pub headroom_dtype: HeadroomDType,
    /// How many near-overflow modules to name.
    #[arg(long, value_name = "N", default_value_t = AnalysisOptions::default().headroom_top)]
    pub headroom_top: usize,
    /// Modules whose -Inf-only outputs are intentional masks (repeatable; `*mask*` always applies).
    #[arg(long, value_name = "GLOB")]
    pub allow_neg_inf: Vec<String>,
    /// Recompute statistics from every payload tensor, not only for records that lack them.
    #[arg(long)]
    pub recompute_stats: bool,
    /// Draw the per-step timeline (absmax against the fp16 limit, non-finite share) as DIR/timeline.png.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeadroomDType {
    Auto,
    Fp16,
    Bf16,
}

pub fn run(args: TraceArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let mut analysis = AnalysisOptions {
        headroom: args.headroom,
        headroom_dtype: match args.headroom_dtype {
            HeadroomDType::Auto => None,
            HeadroomDType::Fp16 => Some(DType::F16),
            HeadroomDType::Bf16 => Some(DType::BF16),
        },
        headroom_top: args.headroom_top,
        ..AnalysisOptions::default()
    };
    analysis.allow_neg_inf.extend(args.allow_neg_inf);
    let mut options = TraceOptions::new(args.dir);
    options.trace = crate::trace::TraceOptions { analysis, recompute_stats: args.recompute_stats };
    options.plot = args.plot;
    emit(&trace(&options)?, global)
}
