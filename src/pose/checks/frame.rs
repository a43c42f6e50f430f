//! Checks of one frame's content.

use super::CheckOptions;
use crate::pose::model::{PartKind, PoseFormat, PoseFrame, Units};
use crate::report::{Finding, Subject, fmt_num};
use crate::rules::pose as rules;

pub fn check(pose: &PoseFrame, subject: &Subject, format: PoseFormat, options: &CheckOptions) -> Vec<Finding> {
    let mut findings = Vec::new();
    nonfinite(pose, subject, &mut findings);
    if pose.units == Units::Normalized {
        outside_canvas(pose, subject, options, &mut findings);
    }
    scores(pose, subject, options, &mut findings);
    subset(pose, subject, &mut findings);
    if pose.units == Units::Normalized
        && pose.hands.is_some()
        && pose.visible_hand_points(options.width, options.height) == 0
    {
        let total = pose.hands.as_ref().map_or(0, |h| h.points.len());
        findings.push(
            Finding::new(
                &rules::NO_HANDS_DRAWN,
                format!("{}: none of the {total} hand points would be drawn", at(subject)),
            )
            .with_subject(subject.clone())
            .with_evidence("hand_points", total),
        );
    }
    if format == PoseFormat::EchoMimic
        && let Some(params) = &pose.draw_params
        && let Some(why) = draw_params_problem(params, options.width, options.height)
    {
        findings.push(
            invalid_draw_params(subject.clone(), format!("{}: draw_pose_params {params:?}: {why}", at(subject)))
                .with_evidence("draw_pose_params", params.clone()),
        );
    }
    findings
}

/// P: EchoMimicV2's `draw_pose_params` of `subject` are not what the
/// renderer can use; `message` says why.
pub(crate) fn invalid_draw_params(subject: Subject, message: String) -> Finding {
    Finding::new(&rules::INVALID_DRAW_PARAMS, message).with_subject(subject)
}

/// "frame 3", the start of every message about one frame.
fn at(subject: &Subject) -> String {
    subject.frame.map_or_else(|| subject.file.clone().unwrap_or_default(), |f| format!("frame {f}"))
}

/// Why `[imh_new, imw_new, rb, re, cb, ce]` cannot paste into `width × height`.
pub fn draw_params_problem(params: &[i64], width: u32, height: u32) -> Option<String> {
    let &[imh, imw, rb, re, cb, ce] = params else {
        return Some(format!("{} values instead of 6", params.len()));
    };
    if [imh, imw, rb, re, cb, ce].iter().any(|&v| v < 0) {
        return Some("a value is negative".into());
    }
    if rb >= re || cb >= ce {
        return Some(format!("empty paste box (rows {rb}..{re}, columns {cb}..{ce})"));
    }
    if re - rb != imh || ce - cb != imw {
        return Some(format!("paste box {}×{} differs from the drawn pose {imh}×{imw}", re - rb, ce - cb));
    }
    if re > height as i64 || ce > width as i64 {
        return Some(format!("paste box ends at row {re}, column {ce}, outside the {width}×{height} frame"));
    }
    let mut frame = crate::pose::PoseFrame::empty();
    frame.draw_params = Some(params.to_vec());
    crate::pose::render::canvas(&frame, width, height).err().map(|too_large| too_large.to_string())
}

pub fn nonfinite_count(pose: &PoseFrame) -> usize {
    PartKind::ALL
        .iter()
        .filter_map(|&kind| pose.part(kind))
        .map(|part| {
            let coords = part.points.iter().flatten().filter(|v| !v.is_finite()).count();
            coords + part.scores.iter().flatten().filter(|v| !v.is_finite()).count()
        })
        .sum()
}

/// One finding per hand, face or body holding NaN/Inf.
fn nonfinite(pose: &PoseFrame, subject: &Subject, findings: &mut Vec<Finding>) {
    for kind in PartKind::ALL {
        let Some(part) = pose.part(kind) else { continue };
        for group in 0..part.groups() {
            let (mut nan, mut pos_inf, mut neg_inf) = (0u64, 0u64, 0u64);
            let mut keypoints = Vec::new();
            for k in 0..part.per_group {
                let flat = group * part.per_group + k;
                let [x, y] = part.points[flat];
                let values = [x, y, part.score(flat).unwrap_or(0.0)];
                if values.iter().all(|v| v.is_finite()) {
                    continue;
                }
                for v in values {
                    nan += v.is_nan() as u64;
                    pos_inf += (v == f64::INFINITY) as u64;
                    neg_inf += (v == f64::NEG_INFINITY) as u64;
                }
                keypoints.push(kind.keypoint(group, k));
            }
            let Some(first) = keypoints.first().cloned() else { continue };
            findings.push(
                Finding::new(
                    &rules::NONFINITE_KEYPOINT,
                    format!(
                        "{}: {} of {} {} points are non-finite ({nan} NaN, {pos_inf} +Inf, {neg_inf} -Inf), first {first}",
                        at(subject),
                        keypoints.len(),
                        part.per_group,
                        kind.name()
                    ),
                )
                .with_subject(Subject { keypoint: Some(first), ..subject.clone() })
                .with_evidence("nan", nan)
                .with_evidence("pos_inf", pos_inf)
                .with_evidence("neg_inf", neg_inf)
                .with_evidence("keypoints", keypoints),
            );
        }
    }
}

fn outside_canvas(pose: &PoseFrame, subject: &Subject, options: &CheckOptions, findings: &mut Vec<Finding>) {
    let (lo, hi) = (-options.canvas_tolerance, 1.0 + options.canvas_tolerance);
    for kind in PartKind::ALL {
        let Some(part) = pose.part(kind) else { continue };
        let mut first = None;
        let mut count = 0u64;
        let mut worst = 0.5f64;
        for (flat, &[x, y]) in part.points.iter().enumerate() {
            if !x.is_finite() || !y.is_finite() || !pose.is_present(kind, flat) {
                continue;
            }
            for v in [x, y] {
                if v < lo || v > hi {
                    if (v - 0.5).abs() > (worst - 0.5).abs() {
                        worst = v;
                    }
                    if first.is_none() {
                        first = Some(flat);
                    }
                    count += 1;
                }
            }
        }
        let Some(flat) = first else { continue };
        let keypoint = kind.keypoint(flat / part.per_group.max(1), flat % part.per_group.max(1));
        findings.push(
            Finding::new(
                &rules::KEYPOINT_OUTSIDE_CANVAS,
                format!(
                    "{}: {count} {} coordinates outside [{}, {}], first {keypoint}, furthest {}",
                    at(subject),
                    kind.name(),
                    fmt_num(lo),
                    fmt_num(hi),
                    fmt_num(worst)
                ),
            )
            .with_subject(Subject { keypoint: Some(keypoint), ..subject.clone() })
            .with_evidence("count", count)
            .with_evidence("furthest", worst),
        );
    }
}

fn scores(pose: &PoseFrame, subject: &Subject, options: &CheckOptions, findings: &mut Vec<Finding>) {
    for kind in PartKind::ALL {
        let Some(part) = pose.part(kind) else { continue };
        let Some(scores) = &part.scores else { continue };
        let bad: Vec<usize> = (0..scores.len())
            .filter(|&i| scores[i].is_finite() && (scores[i] < 0.0 || scores[i] > options.max_score))
            .collect();
        let Some(&flat) = bad.first() else { continue };
        let keypoint = kind.keypoint(flat / part.per_group.max(1), flat % part.per_group.max(1));
        findings.push(
            Finding::new(
                &rules::IMPLAUSIBLE_SCORE,
                format!(
                    "{}: {} {} scores outside [0, {}], first {keypoint} = {}",
                    at(subject),
                    bad.len(),
                    kind.name(),
                    fmt_num(options.max_score),
                    fmt_num(scores[flat])
                ),
            )
            .with_subject(Subject { keypoint: Some(keypoint), ..subject.clone() })
            .with_evidence("count", bad.len())
            .with_evidence("first_score", scores[flat]),
        );
    }
}

fn subset(pose: &PoseFrame, subject: &Subject, findings: &mut Vec<Finding>) {
    let (Some(subset), Some(bodies)) = (&pose.body_subset, &pose.bodies) else { return };
    let candidates = bodies.points.len() as f64;
    let bad: Vec<usize> = (0..subset.len())
        .filter(|&i| {
            let s = subset[i];
            s != -1.0 && !(s >= 0.0 && s < candidates && s.fract() == 0.0)
        })
        .collect();
    let Some(&flat) = bad.first() else { return };
    let keypoint = PartKind::Bodies.keypoint(flat / 18, flat % 18);
    findings.push(
        Finding::new(
            &rules::SUBSET_INDEX_OUT_OF_RANGE,
            format!(
                "{}: {} subset entries are not -1 or a candidate index below {candidates}, first {keypoint} = {}",
                at(subject),
                bad.len(),
                fmt_num(subset[flat])
            ),
        )
        .with_subject(Subject { keypoint: Some(keypoint), ..subject.clone() })
        .with_evidence("count", bad.len()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::echomimic::tests::demo_frame;

    fn codes(pose: &PoseFrame) -> Vec<String> {
        let subject = Subject { frame: Some(3), ..Subject::file("3.npy") };
        check(pose, &subject, PoseFormat::EchoMimic, &CheckOptions::default())
            .into_iter()
            .map(|f| f.code().to_string())
            .collect()
    }

    #[test]
    fn a_demo_frame_is_clean() {
        assert!(codes(&demo_frame(3)).is_empty());
    }

    #[test]
    fn nan_hand_is_reported_at_its_keypoint() {
        let mut pose = demo_frame(3);
        pose.hands.as_mut().unwrap().points[21 + 5] = [f64::NAN, 0.5];
        let subject = Subject { frame: Some(3), ..Subject::file("3.npy") };
        let findings = check(&pose, &subject, PoseFormat::EchoMimic, &CheckOptions::default());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code(), "P106");
        assert_eq!(findings[0].subject.keypoint.as_deref(), Some("hands[1][5]"));
    }

    #[test]
    fn sentinel_hands_draw_nothing_and_bad_params_are_errors() {
        let mut pose = demo_frame(3);
        pose.hands.as_mut().unwrap().points.iter_mut().for_each(|p| *p = [-1.0, -1.0]);
        assert_eq!(codes(&pose), vec!["P111"]);
        let mut pose = demo_frame(3);
        pose.draw_params = Some(vec![768, 768, 0, 768, 0, 512]);
        assert_eq!(codes(&pose), vec!["P112"]);
        assert!(draw_params_problem(&[512, 512, 0, 512, 0, 512], 768, 768).is_none());
        assert!(draw_params_problem(&[768, 768, 0, 768, 0, 768], 512, 512).is_some());
        assert!(draw_params_problem(&[768, 768, 10, 5, 0, 768], 768, 768).is_some());
        let thin = draw_params_problem(&[1, 16384, 0, 1, 0, 16384], 16384, 768).unwrap();
        assert!(thin.contains("13107200×800 canvas"), "{thin}");
    }

    #[test]
    fn far_points_scores_and_subsets() {
        let mut pose = demo_frame(3);
        pose.hands.as_mut().unwrap().points[2] = [384.0, 200.0];
        pose.faces.as_mut().unwrap().scores.as_mut().unwrap()[0] = -3.0;
        pose.body_subset.as_mut().unwrap()[0] = 40.0;
        let mut found = codes(&pose);
        found.sort();
        assert_eq!(found, vec!["P107", "P109", "P110"]);
    }
}
