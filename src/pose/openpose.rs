//! OpenPose `--write_json` and ControlNet-style JSON: reading into the pose
//! model and writing it back.
//!
//! Layout: `people[]`, each with flat `x, y, c` lists `pose_keypoints_2d`
//! (BODY_25: 75 numbers, COCO-18: 54), `face_keypoints_2d` (70 points; 68
//! accepted), `hand_left_keypoints_2d` and `hand_right_keypoints_2d` (21
//! points). A missing point is `0, 0, 0`. ControlNet files add
//! `canvas_width`/`canvas_height`.
//!
//! Coordinate normalisation: coordinates whose magnitude stays within 1.5
//! are taken as already normalised (`--keypoint_scale 3`, ControlNet).
//! Larger ones are pixels and are divided by the canvas size from the file,
//! else by `--source-size`; without either the frame keeps pixel units.

use super::model::{BODY_JOINTS, FACE_POINTS, HAND_POINTS, Part, PoseFormat, PoseFrame, Units};
use super::read::{Reading, unparsable_pose_file, wrong_array_shape};
use crate::formats::lenient_json::{self, Json};
use crate::report::Finding;

/// BODY_25 joints kept for the OpenPose-18 order (mid-hip and feet dropped).
const BODY25_TO_18: [usize; BODY_JOINTS] = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
/// People read per frame; each becomes 130 points, so a hostile file of
/// empty `{}` entries must not turn into gigabytes of keypoints.
const MAX_PEOPLE: usize = 64;
/// Coordinates up to this magnitude are read as normalised.
const NORMALISED_LIMIT: f64 = 1.5;

/// Reads one JSON pose file.
pub fn read(bytes: &[u8], label: &str, source_size: Option<[u32; 2]>) -> Reading {
    let mut reading = Reading::new(PoseFormat::OpenPose);
    let unparsable = |offset: u64, why: String| unparsable_pose_file(label, &why).with_evidence("offset", offset);
    let root = match lenient_json::parse(bytes) {
        Ok(root) => root,
        Err(err) => {
            reading.findings.push(unparsable(err.offset, format!("invalid JSON: {err}")));
            return reading;
        }
    };
    let Some(Json::Array(people)) = root.get("people") else {
        reading.findings.push(unparsable(0, "JSON has no `people` list, so it is not an OpenPose pose".into()));
        return reading;
    };
    let canvas = canvas_size(&root);
    if canvas.is_some() {
        reading.format = PoseFormat::ControlNet;
    }
    if people.len() > MAX_PEOPLE {
        reading.findings.push(shape_finding(
            label,
            format!("{} people in one frame; only the first {MAX_PEOPLE} are read", people.len()),
        ));
    }
    let mut persons = Vec::with_capacity(people.len().min(MAX_PEOPLE));
    for (p, person) in people.iter().take(MAX_PEOPLE).enumerate() {
        persons.push(Person::read(person, p, label, &mut reading.findings));
    }
    let mut frame = assemble(&persons);
    frame.canvas = canvas;
    normalise(&mut frame, canvas.or(source_size));
    reading.pose = Some(frame);
    reading
}

fn canvas_size(root: &Json) -> Option<[u32; 2]> {
    let dim = |key| root.get(key).and_then(Json::as_f64).filter(|v| *v >= 1.0 && *v < 1e6).map(|v| v as u32);
    Some([dim("canvas_width")?, dim("canvas_height")?])
}

/// One person's keypoint lists as `(x, y, c)` triples.
#[derive(Default)]
struct Person {
    body: Vec<[f64; 3]>,
    face: Vec<[f64; 3]>,
    left: Vec<[f64; 3]>,
    right: Vec<[f64; 3]>,
}

impl Person {
    fn read(person: &Json, p: usize, label: &str, findings: &mut Vec<Finding>) -> Person {
        let mut field = |key: &str, allowed: &[usize]| -> Vec<[f64; 3]> {
            let triples = match person.get(key) {
                None | Some(Json::Null) => return Vec::new(),
                Some(Json::Array(items)) => triples(items),
                Some(_) => None,
            };
            match triples {
                Some(t) if t.is_empty() || allowed.contains(&t.len()) => t,
                Some(t) => {
                    findings.push(shape_finding(label, format!("people[{p}].{key} holds {} points", t.len())));
                    Vec::new()
                }
                None => {
                    findings
                        .push(shape_finding(label, format!("people[{p}].{key} is not a flat list of x, y, c numbers")));
                    Vec::new()
                }
            }
        };
        let body = field("pose_keypoints_2d", &[25, 18]);
        let face = field("face_keypoints_2d", &[70, 68]);
        let left = field("hand_left_keypoints_2d", &[HAND_POINTS]);
        let right = field("hand_right_keypoints_2d", &[HAND_POINTS]);
        let body = if body.len() == 25 { BODY25_TO_18.iter().map(|&j| body[j]).collect() } else { body };
        Person { body, face, left, right }
    }
}

fn shape_finding(label: &str, what: String) -> Finding {
    wrong_array_shape(label, &what)
}

/// Flat numbers as triples; `null` reads as NaN so it is reported as a
/// non-finite keypoint. `None` when the list is not numbers in threes.
fn triples(items: &[Json]) -> Option<Vec<[f64; 3]>> {
    if !items.len().is_multiple_of(3) {
        return None;
    }
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        values.push(match item {
            Json::Integer(_) | Json::Number(_) => item.as_f64().unwrap_or(f64::NAN),
            Json::Null => f64::NAN,
            _ => return None,
        });
    }
    Some(values.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
}

/// Builds the DWPose-shaped model: bodies (18 per person), hands (left
/// hands of all people, then right hands), faces.
fn assemble(persons: &[Person]) -> PoseFrame {
    let face_points = persons.iter().map(|p| p.face.len()).max().unwrap_or(0).max(FACE_POINTS);
    let mut bodies = Part::new(BODY_JOINTS, Vec::new(), Some(Vec::new()));
    let mut subset = Vec::new();
    let mut hands = Part::new(HAND_POINTS, Vec::new(), Some(Vec::new()));
    let mut faces = Part::new(face_points, Vec::new(), Some(Vec::new()));
    for (p, person) in persons.iter().enumerate() {
        for j in 0..BODY_JOINTS {
            let [x, y, c] = person.body.get(j).copied().unwrap_or([0.0; 3]);
            push(&mut bodies, [x, y, c]);
            subset.push(if c > 0.0 || c.is_nan() { (p * BODY_JOINTS + j) as f64 } else { -1.0 });
        }
        for k in 0..face_points {
            push(&mut faces, person.face.get(k).copied().unwrap_or([0.0; 3]));
        }
    }
    for side in [0, 1] {
        for person in persons {
            let hand = if side == 0 { &person.left } else { &person.right };
            for k in 0..HAND_POINTS {
                push(&mut hands, hand.get(k).copied().unwrap_or([0.0; 3]));
            }
        }
    }
    let mut frame = PoseFrame::empty();
    frame.bodies = Some(bodies);
    frame.body_subset = Some(subset);
    frame.hands = Some(hands);
    frame.faces = Some(faces);
    frame
}

fn push(part: &mut Part, [x, y, c]: [f64; 3]) {
    part.points.push([x, y]);
    if let Some(scores) = part.scores.as_mut() {
        scores.push(c);
    }
}

/// Divides pixel coordinates by the image size (see the module docs).
fn normalise(frame: &mut PoseFrame, size: Option<[u32; 2]>) {
    let largest = [&frame.bodies, &frame.hands, &frame.faces]
        .into_iter()
        .flatten()
        .flat_map(|part| part.points.iter().flatten())
        .filter(|v| v.is_finite())
        .fold(0.0f64, |acc, v| acc.max(v.abs()));
    if largest <= NORMALISED_LIMIT {
        return;
    }
    let Some([w, h]) = size else {
        frame.units = Units::Pixels;
        return;
    };
    for part in [&mut frame.bodies, &mut frame.hands, &mut frame.faces].into_iter().flatten() {
        for point in &mut part.points {
            point[0] /= w as f64;
            point[1] /= h as f64;
        }
    }
}

/// Writes a frame as OpenPose JSON in pixels of a `width × height` canvas,
/// with `canvas_width`/`canvas_height` so the size travels with the file
/// (frames still in unknown source pixels are written as they are, without
/// a canvas).
/// Faces get OpenPose's 70 points (pupils written as missing); missing
/// points are written `0, 0, 0`. Non-finite values are written as Python's
/// bare tokens rather than silently turned into numbers.
pub fn write(frame: &PoseFrame, width: u32, height: u32) -> String {
    let hands = frame.hands.as_ref();
    let persons = frame
        .bodies
        .as_ref()
        .map(Part::groups)
        .unwrap_or(0)
        .max(hands.map(|h| h.groups() / 2).unwrap_or(0))
        .max(frame.faces.as_ref().map(Part::groups).unwrap_or(0));
    // Frames that could not be normalised are still in source pixels.
    let pixels = frame.units == Units::Pixels;
    let scale = if pixels { [1.0, 1.0] } else { [width as f64, height as f64] };
    let mut people = Vec::new();
    for p in 0..persons {
        let body = (0..BODY_JOINTS).map(|j| body_triple(frame, p * BODY_JOINTS + j, scale)).collect::<Vec<_>>();
        let face = (0..70)
            .map(|k| {
                let per = frame.faces.as_ref().map_or(0, |f| f.per_group);
                if k < per { part_triple(frame.faces.as_ref(), p * per + k, scale) } else { [0.0; 3] }
            })
            .collect::<Vec<_>>();
        let groups = hands.map_or(0, |h| h.groups());
        let hand = |g: usize| {
            (0..HAND_POINTS)
                .map(|k| if g < groups { part_triple(hands, g * HAND_POINTS + k, scale) } else { [0.0; 3] })
                .collect::<Vec<_>>()
        };
        let half = groups / 2;
        people.push(format!(
            "{{\"person_id\": [-1], \"pose_keypoints_2d\": {}, \"face_keypoints_2d\": {}, \
             \"hand_left_keypoints_2d\": {}, \"hand_right_keypoints_2d\": {}, \"pose_keypoints_3d\": [], \
             \"face_keypoints_3d\": [], \"hand_left_keypoints_3d\": [], \"hand_right_keypoints_3d\": []}}",
            flat(&body),
            flat(&face),
            flat(&hand(p)),
            flat(&hand(half + p))
        ));
    }
    let canvas =
        if pixels { String::new() } else { format!(", \"canvas_width\": {width}, \"canvas_height\": {height}") };
    format!("{{\"version\": 1.3, \"people\": [{}]{canvas}}}\n", people.join(", "))
}

fn part_triple(part: Option<&Part>, flat: usize, [w, h]: [f64; 2]) -> [f64; 3] {
    let Some(part) = part else { return [0.0; 3] };
    let Some(&[x, y]) = part.points.get(flat) else { return [0.0; 3] };
    let c = part.score(flat).unwrap_or(1.0);
    if super::model::is_missing_marker(x, y, Some(c)) { [0.0; 3] } else { [x * w, y * h, c] }
}

fn body_triple(frame: &PoseFrame, flat: usize, scale: [f64; 2]) -> [f64; 3] {
    let used = frame.body_subset.as_ref().is_none_or(|s| s.get(flat).is_some_and(|&v| v >= 0.0));
    if used { part_triple(frame.bodies.as_ref(), flat, scale) } else { [0.0; 3] }
}

fn flat(triples: &[[f64; 3]]) -> String {
    let numbers: Vec<String> = triples.iter().flatten().map(|&v| number(v)).collect();
    format!("[{}]", numbers.join(", "))
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        let text = format!("{v}");
        if text.contains('.') || text.contains('e') { text } else { format!("{text}.0") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person_json(body: usize, hand_value: &str) -> String {
        let body: Vec<String> = (0..body).map(|i| format!("{}, {}, 0.9", 100 + i, 200 + i)).collect();
        let hand: Vec<String> = (0..21).map(|_| format!("{hand_value}, 300, 0.8")).collect();
        format!(
            "{{\"people\": [{{\"pose_keypoints_2d\": [{}], \"hand_left_keypoints_2d\": [{}], \
             \"hand_right_keypoints_2d\": []}}], \"canvas_width\": 512, \"canvas_height\": 1024}}",
            body.join(", "),
            hand.join(", ")
        )
    }

    #[test]
    fn reads_body25_and_normalises_by_canvas() {
        let reading = read(person_json(25, "256").as_bytes(), "f.json", None);
        assert!(reading.findings.is_empty(), "{:?}", reading.findings);
        assert_eq!(reading.format, PoseFormat::ControlNet);
        let frame = reading.pose.unwrap();
        let bodies = frame.bodies.unwrap();
        assert_eq!(bodies.points.len(), 18);
        // Joint 8 of the 18-point order is BODY_25's joint 9 (right hip).
        assert_eq!(bodies.points[8], [109.0 / 512.0, 209.0 / 1024.0]);
        let hands = frame.hands.unwrap();
        assert_eq!(hands.groups(), 2);
        assert_eq!(hands.points[0], [0.5, 300.0 / 1024.0]);
        assert_eq!(hands.points[21], [0.0, 0.0]);
    }

    #[test]
    fn python_nan_is_a_value_and_garbage_is_a_finding() {
        let reading = read(person_json(18, "NaN").as_bytes(), "f.json", None);
        assert!(reading.findings.is_empty());
        assert!(reading.pose.unwrap().hands.unwrap().points[3][0].is_nan());
        let reading = read(b"{\"people\": [", "f.json", None);
        assert_eq!(reading.findings[0].code(), "P103");
        assert_eq!(reading.findings[0].evidence["offset"], 12);
        let reading = read(b"{\"people\": [{\"pose_keypoints_2d\": [1, 2]}]}", "f.json", None);
        assert_eq!(reading.findings[0].code(), "P108");
    }

    #[test]
    fn pixels_without_size_keep_pixel_units() {
        let text = person_json(18, "256").replace(", \"canvas_width\": 512, \"canvas_height\": 1024", "");
        let frame = read(text.as_bytes(), "f.json", None).pose.unwrap();
        assert_eq!(frame.units, Units::Pixels);
        let frame = read(text.as_bytes(), "f.json", Some([512, 512])).pose.unwrap();
        assert_eq!(frame.units, Units::Normalized);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_damaged_json(cut in 0usize..2000, flip in 0usize..2000, byte in 0u8..128) {
            let mut bytes = person_json(25, "NaN").into_bytes();
            if flip < bytes.len() {
                bytes[flip] = byte;
            }
            bytes.truncate(cut);
            let _ = read(&bytes, "fuzz.json", Some([640, 480]));
        }
    }

    #[test]
    fn write_then_read_round_trips() {
        let frame = read(person_json(18, "256").as_bytes(), "f.json", None).pose.unwrap();
        let text = write(&frame, 512, 1024);
        let again = read(text.as_bytes(), "g.json", None).pose.unwrap();
        assert_eq!(again.hands, frame.hands);
        assert_eq!(again.bodies.as_ref().unwrap().points, frame.bodies.as_ref().unwrap().points);
    }
}
