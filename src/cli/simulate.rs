//! `nanscope weights --simulate SCHEME PATH…`: the ranked damage table and
//! the exclude list.

use std::path::PathBuf;

use crate::commands::{SimulationOptions, simulate};
use crate::numerics::QuantScheme;
use clap::{Args, ValueEnum};

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
    let mut options = SimulationOptions::new(paths.to_vec(), scheme.scheme());
    if let Some(db) = args.min_sqnr {
        options.simulate.min_sqnr_db = db;
    }
    if let Some(share) = args.max_zeroed_share {
        options.simulate.max_zeroed_share = share;
    }
    if let Some(share) = args.max_clipped_share {
        options.simulate.max_clipped_share = share;
    }
    options.top = args.top;
    let bar = Bar::bytes(global);
    let report = simulate(&options, &bar);
    bar.finish();
    emit(&report?, global)
}
