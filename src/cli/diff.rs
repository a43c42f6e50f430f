//! `nanscope diff A B`

use std::path::PathBuf;

use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::weights::diff::{self, DamageThresholds, DiffOptions, DiffResult, NameAlignment, Tolerance};
use anyhow::Context;
use clap::Args;
use serde_json::json;

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
    for (flag, value) in [("--rtol", args.rtol), ("--atol", args.atol)] {
        anyhow::ensure!(value.is_finite() && value >= 0.0, "{flag} must be a non-negative number, got {value}");
    }
    anyhow::ensure!(args.error_sqnr.is_finite(), "--error-sqnr must be a finite number of dB, got {}", args.error_sqnr);
    anyhow::ensure!(
        (-1.0..=1.0).contains(&args.error_cosine),
        "--error-cosine must be between -1 and 1, got {}",
        args.error_cosine
    );
    let options = DiffOptions {
        alignment: NameAlignment { strip_prefix: args.strip_prefix.clone(), add_prefix: args.add_prefix.clone() },
        tolerance: Tolerance { rtol: args.rtol, atol: args.atol },
        damage: DamageThresholds { sqnr_db: args.error_sqnr, cosine: args.error_cosine },
    };
    let bar = Bar::bytes(global);
    let result = diff::diff(&args.a, &args.b, &options, &[], &bar);
    bar.finish();
    // A side without tensors is a finding when its files are broken; when
    // nothing but that finding came out, there was nothing to read at all.
    let only_empty_sides = result.findings.iter().all(|f| f.is(&crate::rules::diff::NO_TENSORS));
    if only_empty_sides && (result.tensors_a == 0 || result.tensors_b == 0) {
        let empty: Vec<&PathBuf> = [(&args.a, result.tensors_a), (&args.b, result.tensors_b)]
            .into_iter()
            .filter_map(|(path, n)| (n == 0).then_some(path))
            .collect();
        return Err(super::inputs::nothing_to_check(&empty, "checkpoint tensors"));
    }
    let inputs = vec![args.a.display().to_string(), args.b.display().to_string()];
    emit(&build_report(result, inputs, args.all_pairs), global)
}

fn build_report(result: DiffResult, inputs: Vec<String>, all_pairs: bool) -> Report {
    let mut report = Report::new("diff", inputs);
    report.set_counter("tensors_a", result.tensors_a as u64);
    report.set_counter("tensors_b", result.tensors_b as u64);
    report.set_counter("compared", result.pairs.len() as u64);
    report.set_counter("missing_in_b", result.missing_in_b.len() as u64);
    report.set_counter("extra_in_b", result.extra_in_b.len() as u64);
    report.set_counter("shape_mismatch", result.shape_mismatch.len() as u64);
    report.set_counter("dtype_mismatch", result.dtype_mismatch.len() as u64);
    let beyond = result.pairs.iter().filter(|p| !p.within_tolerance).count();
    report.set_counter("beyond_tolerance", beyond as u64);

    let num = |x: Option<f64>| x.map_or_else(|| "-".into(), fmt_num);
    let listed: Vec<_> = result.pairs.iter().filter(|p| all_pairs || !p.within_tolerance).collect();
    let rows = listed
        .iter()
        .map(|p| {
            let m = &p.metrics;
            vec![
                p.tensor.clone(),
                if p.dtype_a == p.dtype_b { p.dtype_a.to_string() } else { format!("{}→{}", p.dtype_a, p.dtype_b) },
                format!("{:?}", p.shape),
                fmt_num(m.max_abs_diff),
                num(m.rel_l2_error),
                m.cosine.map_or_else(|| "-".into(), |c| format!("{c:.6}")),
                m.sqnr_db.map_or_else(|| "exact".into(), fmt_num),
                m.beyond_tolerance.to_string(),
                m.nonfinite_mismatch().to_string(),
            ]
        })
        .collect();
    let hidden = result.pairs.len() - listed.len();
    let pairs_table = SectionTable {
        title: if all_pairs { "Compared tensors".into() } else { "Tensors beyond tolerance".into() },
        header: [
            "tensor",
            "dtype",
            "shape",
            "max abs diff",
            "rel L2",
            "cosine",
            "SQNR dB",
            "beyond tol",
            "NaN/Inf diff",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        note: (hidden > 0).then(|| format!("{hidden} more tensors within tolerance (--all-pairs lists them)")),
    };
    report.sections.push(Section {
        key: "files".into(),
        value: json!({"a": result.files_a, "b": result.files_b}),
        table: None,
    });
    report.sections.push(Section {
        key: "pairs".into(),
        value: serde_json::to_value(&result.pairs).unwrap_or_default(),
        table: Some(pairs_table),
    });
    for (key, value) in [
        ("missing_in_b", json!(result.missing_in_b)),
        ("extra_in_b", json!(result.extra_in_b)),
        ("shape_mismatch", json!(result.shape_mismatch)),
        ("dtype_mismatch", json!(result.dtype_mismatch)),
    ] {
        report.sections.push(Section { key: key.into(), value, table: None });
    }
    report.findings = result.findings;
    report.sort_findings();
    report
}
