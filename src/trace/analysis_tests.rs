//! The analysis on synthetic records: producer versus propagator, masks,
//! headroom and multi-step runs.

use super::*;

fn stats(count: u64, nan: u64, pos_inf: u64, neg_inf: u64, absmax: f64) -> RecordStats {
    RecordStats {
        count: Some(count),
        nan: Some(nan),
        pos_inf: Some(pos_inf),
        neg_inf: Some(neg_inf),
        absmax: Some(absmax),
        first_nonfinite_flat: (nan + pos_inf + neg_inf > 0).then_some(0),
        ..RecordStats::default()
    }
}

fn input(nan: u64, pos_inf: u64, neg_inf: u64) -> TensorSummary {
    TensorSummary { dtype: "F16".into(), shape: vec![4], stats: Some(stats(4, nan, pos_inf, neg_inf, 1.0)) }
}

/// A record of `module` at `step` in stage `unet`, with finite inputs.
fn rec(seq: u64, step: u64, module: &str, out: RecordStats) -> Record {
    Record {
        seq,
        stage: Some("unet".into()),
        step: Some(step),
        timestep: Some(999.0 - step as f64 * 100.0),
        module: module.into(),
        dtype: "F16".into(),
        shape: vec![4],
        stats: Some(out),
        inputs: Some(vec![input(0, 0, 0)]),
        ..Record::default()
    }
}

fn finite(absmax: f64) -> RecordStats {
    stats(4, 0, 0, 0, absmax)
}

fn analyze(records: &[Record], options: AnalysisOptions) -> Analysis {
    let mut analyzer = Analyzer::new(options);
    for record in records {
        analyzer.push(record);
    }
    analyzer.finish()
}

fn codes(analysis: &Analysis) -> Vec<&str> {
    analysis.findings.iter().map(|f| f.code()).collect()
}

#[test]
fn the_producer_is_the_first_nonfinite_output_with_finite_inputs() {
    let mut propagator = rec(2, 0, "unet.b", stats(4, 4, 0, 0, 0.0));
    propagator.inputs = Some(vec![input(0, 2, 0)]);
    let records = [rec(0, 0, "unet.x", finite(1.0)), rec(1, 0, "unet.a", stats(4, 0, 2, 0, 3.0)), propagator];
    let analysis = analyze(&records, AnalysisOptions::default());
    assert_eq!(codes(&analysis), ["R120", "R123"]);
    let producer = &analysis.findings[0];
    assert_eq!(producer.subject.module.as_deref(), Some("unet.a"));
    assert_eq!(producer.subject.step, Some(0));
    assert_eq!(producer.subject.timestep, Some(999.0));
    assert_eq!(producer.subject.stage.as_deref(), Some("unet"));
    assert_eq!(analysis.records.nonfinite, 2);
    assert_eq!(analysis.records.first_nonfinite[1].role, "propagator");
    assert_eq!(analysis.records.first_entirely_nonfinite.as_ref().map(|r| r.module.as_str()), Some("unet.b"));
}

#[test]
fn unknown_inputs_make_the_first_nonfinite_record_a_suspect_not_a_producer() {
    let mut first = rec(0, 0, "unet.a", stats(4, 1, 0, 0, 1.0));
    first.inputs = None;
    let analysis = analyze(&[first], AnalysisOptions::default());
    assert_eq!(codes(&analysis)[0], "R121");
    assert!(analysis.findings[0].message.contains("may only propagate"), "{}", analysis.findings[0].message);
}

#[test]
fn nonfinite_inputs_on_the_first_record_point_outside_the_probe() {
    let mut first = rec(0, 1, "unet.conv_in", stats(4, 4, 0, 0, 0.0));
    first.inputs = Some(vec![input(4, 0, 0)]);
    let analysis = analyze(&[first], AnalysisOptions::default());
    assert_eq!(codes(&analysis)[0], "R121");
    assert!(analysis.findings[0].message.contains("entered from code"));
}

#[test]
fn neg_inf_masks_are_not_producers_but_other_neg_inf_is() {
    let mask = rec(0, 0, "unet.attn.attn_mask", stats(16, 0, 0, 6, 0.0));
    let table = rec(1, 0, "unet.rel_bias_table", stats(16, 0, 0, 2, 1.0));
    let analysis = analyze(&[mask.clone(), table.clone()], AnalysisOptions::default());
    assert_eq!(analysis.findings[0].code(), "R120");
    assert_eq!(analysis.findings[0].subject.module.as_deref(), Some("unet.rel_bias_table"));
    assert!(codes(&analysis).contains(&"R124"));

    let mut options = AnalysisOptions::default();
    options.allow_neg_inf.push("unet.rel_*".into());
    let analysis = analyze(&[mask, table], options);
    assert_eq!(codes(&analysis), ["R124"]);
    assert_eq!(analysis.records.masked, 2);
    assert_eq!(analysis.stages[0].nonfinite, 0);
}

#[test]
fn a_mask_input_does_not_hide_a_softmax_that_produces_nan() {
    let mut softmax = rec(1, 0, "unet.attn.softmax", stats(4, 4, 0, 0, 0.0));
    softmax.inputs = Some(vec![input(0, 0, 0), input(0, 0, 4)]);
    let analysis =
        analyze(&[rec(0, 0, "unet.attn.attn_mask", stats(4, 0, 0, 4, 0.0)), softmax], AnalysisOptions::default());
    assert_eq!(analysis.findings[0].code(), "R120");
    assert_eq!(analysis.findings[0].subject.module.as_deref(), Some("unet.attn.softmax"));
}

#[test]
fn near_overflow_counts_only_before_the_first_nonfinite_record_and_names_the_worst() {
    let records = [
        rec(0, 0, "unet.small", finite(20000.0)),
        rec(1, 0, "unet.big", finite(40000.0)),
        rec(2, 1, "unet.big", finite(60000.0)),
        rec(3, 1, "unet.mid", finite(33000.0)),
        rec(4, 2, "unet.big", stats(4, 0, 1, 0, 60000.0)),
        rec(5, 2, "unet.late", finite(65000.0)),
    ];
    let mut options = AnalysisOptions { headroom_top: 1, ..AnalysisOptions::default() };
    let analysis = analyze(&records, options.clone());
    let near: Vec<_> = analysis.findings.iter().filter(|f| f.code() == "R122").collect();
    assert_eq!(near.len(), 1);
    assert_eq!(near[0].subject.module.as_deref(), Some("unet.big"));
    assert_eq!(near[0].subject.step, Some(1));
    assert_eq!(near[0].evidence["modules_over_threshold"], 2);
    options.headroom = 0.95;
    assert!(!codes(&analyze(&records, options)).contains(&"R122"));
}

#[test]
fn headroom_can_be_judged_against_fp16_for_an_fp32_run() {
    let mut record = rec(0, 0, "unet.big", finite(50000.0));
    record.dtype = "F32".into();
    assert!(!codes(&analyze(std::slice::from_ref(&record), AnalysisOptions::default())).contains(&"R122"));
    let options = AnalysisOptions { headroom_dtype: Some(DType::F16), ..AnalysisOptions::default() };
    assert!(codes(&analyze(&[record], options)).contains(&"R122"));
}

#[test]
fn multi_step_runs_give_a_timeline_and_the_latents_step() {
    let latents = |seq, step, out| Record {
        stage: Some("scheduler".into()),
        boundary: true,
        inputs: None,
        ..rec(seq, step, "latents", out)
    };
    let records = [
        rec(0, 0, "unet.a", finite(2.0)),
        latents(1, 0, finite(5.0)),
        rec(2, 1, "unet.a", stats(4, 1, 0, 0, 2.0)),
        latents(3, 1, stats(4, 2, 0, 0, 7.0)),
        rec(4, 2, "unet.a", stats(4, 4, 0, 0, 0.0)),
        latents(5, 2, stats(4, 4, 0, 0, 0.0)),
    ];
    let analysis = analyze(&records, AnalysisOptions::default());
    assert_eq!(analysis.records.latents_nonfinite_step, Some(1));
    assert_eq!(analysis.records.steps, 3);
    let rows = &analysis.stages;
    assert_eq!(rows.len(), 6);
    assert_eq!((rows[1].stage.as_deref(), rows[1].latents_absmax), (Some("scheduler"), Some(5.0)));
    assert_eq!(rows[2].nan_share, 0.25);
    assert_eq!(rows[3].nan_share, 0.5);
    assert_eq!(rows[4].first_nonfinite_module.as_deref(), Some("unet.a"));
    let propagation = analysis.findings.iter().find(|f| f.code() == "R123").unwrap();
    assert_eq!(propagation.subject.step, Some(1));
    assert_eq!(propagation.evidence["first_entirely_nonfinite_step"], 2);
}

#[test]
fn parents_of_the_producer_are_containers_but_a_later_source_is_independent() {
    let mut vae = rec(3, 0, "vae.decoder.conv_out", stats(4, 0, 3, 0, 1.0));
    vae.step = None;
    vae.stage = Some("vae.decode".into());
    let records = [
        rec(0, 0, "unet.mid.conv1", stats(4, 0, 1, 0, 1.0)),
        rec(1, 0, "unet.mid", stats(4, 4, 0, 0, 0.0)),
        rec(2, 0, "unet", stats(4, 4, 0, 0, 0.0)),
        vae,
    ];
    let analysis = analyze(&records, AnalysisOptions::default());
    let roles: Vec<_> = analysis.records.first_nonfinite.iter().map(|r| r.role).collect();
    assert_eq!(roles, ["producer", "propagator", "propagator", "independent-producer"]);
    let independent: Vec<_> = analysis.findings.iter().filter(|f| f.code() == "R125").collect();
    assert_eq!(independent.len(), 1);
    assert_eq!(independent[0].subject.module.as_deref(), Some("vae.decoder.conv_out"));
}

#[test]
fn records_without_statistics_are_counted_not_judged() {
    let mut record = rec(0, 0, "unet.a", finite(1.0));
    record.stats = None;
    let analysis = analyze(&[record], AnalysisOptions::default());
    assert_eq!(analysis.records.without_stats, 1);
    assert!(analysis.findings.is_empty());
    assert_eq!(codes(&analyze(&[], AnalysisOptions::default())), ["R127"]);
}
