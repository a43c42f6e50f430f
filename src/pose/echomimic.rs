//! EchoMimicV2 pose files: a 0-d object `.npy` holding a pickled dict
//!
//! ```text
//! {'bodies': {'candidate': (18N, 2), 'subset': (N, 18), 'score': (N, 18)},
//!  'hands': (2N, 21, 2), 'hands_score': (2N, 21), 'faces': (N, 68, 2),
//!  'faces_score': (N, 68), 'num': int, 'draw_pose_params': [imh, imw, rb, re, cb, ce]}
//! ```
//!
//! Converting between that dict and the pose model, and reading the file
//! through the in-house pickle interpreter (data only, never executed).

use super::model::{BODY_JOINTS, FACE_POINTS, HAND_POINTS, Part, PoseFormat, PoseFrame};
use super::read::{Reading, unparsable_pose_file, wrong_array_shape};
use crate::formats::pickle::writer::{self, PyValue};
use crate::report::{Finding, Severity, Subject};

/// Reads an EchoMimicV2 `.npy` pose file.
pub fn read(bytes: &[u8], label: &str) -> Reading {
    let mut reading = Reading::new(PoseFormat::EchoMimic);
    match super::npy_object::load(bytes, label) {
        Ok((value, findings)) => {
            reading.findings.extend(findings);
            if let Some(value) = value {
                let (frame, findings) = from_dict(&value, label);
                reading.findings.extend(findings);
                reading.pose = frame;
            }
        }
        Err(finding) => reading.findings.push(*finding),
    }
    reading
}

/// The pose model of a dict read from a pose file, with findings for missing
/// keys and wrong shapes. `None` when the value is not a dict at all.
pub fn from_dict(value: &PyValue, label: &str) -> (Option<PoseFrame>, Vec<Finding>) {
    let mut findings = Vec::new();
    let PyValue::Dict(entries) = value else {
        let why = format!("the pickled object is {}, not a pose dict", describe(value));
        findings.push(unparsable_pose_file(label, &why));
        return (None, findings);
    };
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let mut shape_error = |what: String, severity: Severity| {
        findings.push(wrong_array_shape(label, &what).with_severity(severity));
    };
    let mut frame = PoseFrame::empty();

    match get("bodies") {
        Some(PyValue::Dict(body)) => {
            let get = |key: &str| body.iter().find(|(k, _)| k == key).map(|(_, v)| v);
            match points(get("candidate")) {
                Ok(candidate) => {
                    let persons = candidate.len() / BODY_JOINTS;
                    if candidate.len() % BODY_JOINTS != 0 {
                        shape_error(
                            format!("bodies.candidate holds {} points, not 18 per person", candidate.len()),
                            Severity::Warning,
                        );
                    }
                    let subset = matrix(get("subset"), BODY_JOINTS);
                    let score = matrix(get("score"), BODY_JOINTS);
                    match &subset {
                        Ok(s) if s.len() == persons * BODY_JOINTS => {}
                        _ => shape_error(
                            format!("bodies.subset {} is not ({persons}, 18)", describe_opt(get("subset"))),
                            Severity::Warning,
                        ),
                    }
                    let score = match score {
                        Ok(s) if s.len() == candidate.len() => Some(s),
                        _ if get("score").is_none() => None,
                        _ => {
                            shape_error(
                                format!("bodies.score {} is not ({persons}, 18)", describe_opt(get("score"))),
                                Severity::Warning,
                            );
                            None
                        }
                    };
                    frame.body_subset = subset.ok();
                    frame.bodies = Some(Part::new(BODY_JOINTS, candidate, score));
                }
                Err(()) => shape_error(
                    format!("bodies.candidate {} is not an (18N, 2) array", describe_opt(get("candidate"))),
                    Severity::Warning,
                ),
            }
        }
        other => shape_error(
            format!("`bodies` is {}; the renderer reads pose['bodies']", describe_opt(other)),
            Severity::Error,
        ),
    }

    frame.hands =
        grouped(get("hands"), get("hands_score"), HAND_POINTS, "hands", Severity::Error, &mut findings, label);
    frame.faces =
        grouped(get("faces"), get("faces_score"), FACE_POINTS, "faces", Severity::Warning, &mut findings, label);

    frame.num = match get("num") {
        Some(PyValue::Int(n)) => Some(*n),
        _ => None,
    };
    frame.draw_params = match ints(get("draw_pose_params")) {
        Some(params) => Some(params),
        None => {
            let other = get("draw_pose_params");
            findings.push(crate::pose::checks::invalid_draw_params(
                Subject::file(label),
                format!("{label}: draw_pose_params is {}, not a list of six ints", describe_opt(other)),
            ));
            None
        }
    };
    (Some(frame), findings)
}

fn ints(value: Option<&PyValue>) -> Option<Vec<i64>> {
    match value? {
        PyValue::List(items) => items
            .iter()
            .map(|item| match item {
                PyValue::Int(v) => Some(*v),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// `(G, per, 2)` points and `(G, per)` scores, or a finding.
fn grouped(
    points_value: Option<&PyValue>,
    scores_value: Option<&PyValue>,
    per: usize,
    key: &str,
    severity: Severity,
    findings: &mut Vec<Finding>,
    label: &str,
) -> Option<Part> {
    let shape_error = |what: String| wrong_array_shape(label, &what).with_severity(severity);
    let ok_shape = |shape: &[usize], dims: usize| shape.len() == dims && shape.get(1) == Some(&per);
    let points = match points_value {
        Some(PyValue::F64Array { shape, data }) if ok_shape(shape, 3) && shape[2] == 2 => {
            data.chunks_exact(2).map(|c| [c[0], c[1]]).collect::<Vec<_>>()
        }
        other => {
            findings.push(shape_error(format!("`{key}` {} is not a (G, {per}, 2) array", describe_opt(other))));
            return None;
        }
    };
    let scores = match scores_value {
        Some(PyValue::F64Array { shape, data }) if ok_shape(shape, 2) && data.len() == points.len() => {
            Some(data.clone())
        }
        other => {
            findings.push(shape_error(format!(
                "`{key}_score` {} does not match `{key}` ({} × {per})",
                describe_opt(other),
                points.len() / per
            )));
            None
        }
    };
    Some(Part::new(per, points, scores))
}

/// An `(n, 2)` array as points.
fn points(value: Option<&PyValue>) -> Result<Vec<[f64; 2]>, ()> {
    match value {
        Some(PyValue::F64Array { shape, data }) if shape.len() == 2 && shape[1] == 2 => {
            Ok(data.chunks_exact(2).map(|c| [c[0], c[1]]).collect())
        }
        _ => Err(()),
    }
}

/// An `(n, cols)` array, flattened.
fn matrix(value: Option<&PyValue>, cols: usize) -> Result<Vec<f64>, ()> {
    match value {
        Some(PyValue::F64Array { shape, data }) if shape.len() == 2 && shape[1] == cols => Ok(data.clone()),
        _ => Err(()),
    }
}

fn describe_opt(value: Option<&PyValue>) -> String {
    value.map_or_else(|| "missing".to_string(), describe)
}

fn describe(value: &PyValue) -> String {
    match value {
        PyValue::None => "None".into(),
        PyValue::Bool(_) => "a bool".into(),
        PyValue::Int(_) => "an int".into(),
        PyValue::Float(_) => "a float".into(),
        PyValue::Str(_) => "a string".into(),
        PyValue::List(items) => format!("a list of {}", items.len()),
        PyValue::Dict(_) => "a dict".into(),
        PyValue::F64Array { shape, .. } => format!("an array of shape {shape:?}"),
        PyValue::Other(what) => what.clone(),
    }
}

/// The dict EchoMimicV2's producer writes, in its key order.
pub fn to_dict(frame: &PoseFrame) -> PyValue {
    let persons = frame.bodies.as_ref().map_or(0, Part::groups);
    let array = |shape: Vec<usize>, data: Vec<f64>| PyValue::F64Array { shape, data };
    let flat = |part: Option<&Part>| part.map(|p| p.points.iter().flatten().copied().collect()).unwrap_or_default();
    let scores = |part: Option<&Part>, fill: f64| {
        part.map(|p| p.scores.clone().unwrap_or_else(|| vec![fill; p.points.len()])).unwrap_or_default()
    };
    let bodies = frame.bodies.as_ref();
    let subset = frame
        .body_subset
        .clone()
        .filter(|s| s.len() == persons * BODY_JOINTS)
        .unwrap_or_else(|| (0..persons * BODY_JOINTS).map(|i| i as f64).collect());
    let hands = frame.hands.as_ref();
    let faces = frame.faces.as_ref();
    let hand_groups = hands.map_or(0, Part::groups);
    let face_groups = faces.map_or(0, Part::groups);
    let face_per = faces.map_or(FACE_POINTS, |f| f.per_group);
    PyValue::Dict(vec![
        (
            "bodies".into(),
            PyValue::Dict(vec![
                ("candidate".into(), array(vec![persons * BODY_JOINTS, 2], flat(bodies))),
                ("subset".into(), array(vec![persons, BODY_JOINTS], subset)),
                ("score".into(), array(vec![persons, BODY_JOINTS], scores(bodies, 1.0))),
            ]),
        ),
        ("hands".into(), array(vec![hand_groups, HAND_POINTS, 2], flat(hands))),
        ("hands_score".into(), array(vec![hand_groups, HAND_POINTS], scores(hands, 1.0))),
        ("faces".into(), array(vec![face_groups, face_per, 2], flat(faces))),
        ("faces_score".into(), array(vec![face_groups, face_per], scores(faces, 1.0))),
        ("num".into(), PyValue::Int(frame.num.unwrap_or(0))),
        (
            "draw_pose_params".into(),
            PyValue::List(frame.draw_params.clone().unwrap_or_default().into_iter().map(PyValue::Int).collect()),
        ),
    ])
}

/// The bytes of an EchoMimicV2 pose file for `frame`.
pub fn write(frame: &PoseFrame) -> Vec<u8> {
    writer::object_npy(&to_dict(frame))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A plausible one-person frame: a hand around (0.4, 0.6).
    pub(crate) fn demo_frame(num: i64) -> PoseFrame {
        let mut frame = PoseFrame::empty();
        let candidate = (0..18).map(|j| [0.3 + 0.01 * j as f64, 0.2 + 0.02 * j as f64]).collect();
        frame.bodies = Some(Part::new(18, candidate, Some(vec![0.9; 18])));
        frame.body_subset = Some((0..18).map(|j| if [9, 10, 12, 13].contains(&j) { -1.0 } else { j as f64 }).collect());
        let hand = |cx: f64| (0..21).map(move |k| [cx + 0.005 * k as f64, 0.6 + 0.004 * k as f64]);
        frame.hands = Some(Part::new(21, hand(0.3).chain(hand(0.6)).collect(), Some(vec![0.8; 42])));
        frame.faces =
            Some(Part::new(68, (0..68).map(|k| [0.45 + 0.001 * k as f64, 0.2]).collect(), Some(vec![1.0; 68])));
        frame.num = Some(num);
        frame.draw_params = Some(vec![768, 768, 0, 768, 0, 768]);
        frame
    }

    #[test]
    fn dict_round_trips_through_the_model() {
        let frame = demo_frame(4);
        let (again, findings) = from_dict(&to_dict(&frame), "x.npy");
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(again.unwrap(), frame);
    }

    #[test]
    fn wrong_shapes_and_missing_keys_are_findings() {
        let PyValue::Dict(mut entries) = to_dict(&demo_frame(0)) else { unreachable!() };
        entries[1].1 = PyValue::F64Array { shape: vec![2, 20, 2], data: vec![0.5; 80] };
        entries.retain(|(k, _)| k != "draw_pose_params");
        let (frame, findings) = from_dict(&PyValue::Dict(entries), "x.npy");
        let codes: Vec<&str> = findings.iter().map(|f| f.code()).collect();
        assert!(codes.contains(&"P108") && codes.contains(&"P112"), "{codes:?}");
        assert!(frame.unwrap().hands.is_none());
        let (frame, findings) = from_dict(&PyValue::Int(3), "x.npy");
        assert!(frame.is_none());
        assert_eq!(findings[0].code(), "P103");
    }
}
