//! `nanscope diff A B`

use std::path::PathBuf;

use crate::commands::{DiffOptions, diff};
use crate::weights::diff::{DamageThresholds, DiffOptions as CompareOptions, NameAlignment, Tolerance};
use anyhow::Context;
use clap::Args;

use super::output::emit;
use super::progress::Bar;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The reference checkpoint: a file, or a directory (the union of its checkpoints' tensors).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The checkpoint compared against A: a file or a directory.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Remove this prefix from B's tensor names before matching (e.g. `model.diffusion_model.`).
    #[arg(long, value_name = "P")]
    pub strip_prefix: Option<String>,
    /// Prepend this prefix to B's tensor names (after --strip-prefix) before matching.
    #[arg(long, value_name = "P")]
    pub add_prefix: Option<String>,
    /// Relative tolerance: a pair is close when |b - a| <= atol + rtol * |a| (numpy.allclose, A the reference).
    #[arg(long, value_name = "R", default_value_t = Tolerance::default().rtol)]
    pub rtol: f64,
    /// Absolute tolerance (see --rtol).
    #[arg(long, value_name = "A", default_value_t = Tolerance::default().atol)]
    pub atol: f64,
    /// D110: a pair beyond tolerance whose SQNR is below this many dB is an error (damage), not a D105 warning.
    #[arg(long, value_name = "DB", default_value_t = DamageThresholds::default().sqnr_db)]
    pub error_sqnr: f64,
    /// D110: a pair beyond tolerance whose cosine similarity is below this is an error (damage).
    #[arg(long, value_name = "C", default_value_t = DamageThresholds::default().cosine)]
    pub error_cosine: f64,
    /// List every compared pair in the table output, not only those beyond tolerance.
    #[arg(long)]
    pub all_pairs: bool,
    /// Worker threads (default: one per core; also RAYON_NUM_THREADS).
    #[arg(long, short = 'j', value_name = "N", value_parser = super::values::count)]
    pub threads: Option<usize>,
}

pub fn run(args: DiffArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    super::inputs::require_existing(&[&args.a, &args.b])?;
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().context("cannot start worker threads")?;
    }
    let mut options = DiffOptions::new(args.a, args.b);
    options.compare = CompareOptions {
        alignment: NameAlignment { strip_prefix: args.strip_prefix, add_prefix: args.add_prefix },
        tolerance: Tolerance { rtol: args.rtol, atol: args.atol },
        damage: DamageThresholds { sqnr_db: args.error_sqnr, cosine: args.error_cosine },
    };
    options.all_pairs = args.all_pairs;
    let bar = Bar::bytes(global);
    let report = diff(&options, &bar);
    bar.finish();
    emit(&report?, global)
}
