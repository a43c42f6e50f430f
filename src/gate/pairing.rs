//! Frames of a render paired with its golden render's by presentation time.
//!
//! Each candidate frame is compared with the golden frame nearest to it in
//! time (the earlier one on a tie), when that frame lies within half a golden
//! frame period; a candidate frame without one is *extra*. A golden frame with
//! no candidate frame within half a candidate frame period is *missing* (a
//! dropped frame). So a dropped or inserted frame is reported where it
//! happened and the frames around it keep their true partners, and videos of
//! different frame rates pair each frame with the moment it shows.
//!
//! Both streams are read once, in presentation order, holding at most two
//! golden frames and one candidate frame at a time.

/// A decoded frame and its presentation time (seconds from the video's start).
#[derive(Debug)]
pub struct Timed<F> {
    /// 0-based decode order (presentation order, as ffmpeg outputs frames).
    pub index: u64,
    pub time: f64,
    pub frame: F,
}

/// Which of the two videos a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Candidate,
    Golden,
}

/// What the pairing hands back, in stream order.
pub enum Visit<'a, F> {
    /// A candidate frame and the golden frame it is compared with.
    Pair(&'a Timed<F>, &'a Timed<F>),
    /// A frame with no partner within half a frame period.
    Unpaired(Side, &'a Timed<F>),
    /// A frame no longer needed (every frame of both videos, once).
    Release(Side, Timed<F>),
}

/// Times within this many seconds are the same time (timestamps are exact to a microsecond at best).
const SAME_TIME: f64 = 1e-6;

/// A golden frame and the distance to the nearest candidate frame seen so far.
struct Held<F> {
    frame: Timed<F>,
    nearest: f64,
}

/// Pairs the frames `candidate` and `golden` yield (each in increasing time).
/// `candidate_period` and `golden_period` are the videos' frame periods in seconds.
pub fn pair<F>(
    mut candidate: impl FnMut() -> Option<Timed<F>>,
    mut golden: impl FnMut() -> Option<Timed<F>>,
    candidate_period: f64,
    golden_period: f64,
    mut visit: impl FnMut(Visit<'_, F>),
) {
    let (reach_c, reach_g) = (candidate_period / 2.0 + SAME_TIME, golden_period / 2.0 + SAME_TIME);
    let mut last_c: Option<f64> = None;
    let read = |golden: &mut dyn FnMut() -> Option<Timed<F>>, last_c: Option<f64>| {
        golden().map(|frame| Held { nearest: last_c.map_or(f64::INFINITY, |t| (frame.time - t).abs()), frame })
    };
    let leave = |held: Held<F>, visit: &mut dyn FnMut(Visit<'_, F>)| {
        if held.nearest > reach_c {
            visit(Visit::Unpaired(Side::Golden, &held.frame));
        }
        visit(Visit::Release(Side::Golden, held.frame));
    };
    let mut prev: Option<Held<F>> = None;
    let mut next = read(&mut golden, None);
    while let Some(c) = candidate() {
        let t = c.time;
        while next.as_ref().is_some_and(|g| g.frame.time <= t + SAME_TIME) {
            let Some(mut passed) = next.take() else { break };
            passed.nearest = passed.nearest.min((t - passed.frame.time).abs());
            if let Some(old) = prev.replace(passed) {
                let mut old = old;
                old.nearest = old.nearest.min((t - old.frame.time).abs());
                leave(old, &mut visit);
            }
            next = read(&mut golden, last_c);
        }
        for held in [prev.as_mut(), next.as_mut()].into_iter().flatten() {
            held.nearest = held.nearest.min((held.frame.time - t).abs());
        }
        let distance = |h: &Option<Held<F>>| h.as_ref().map_or(f64::INFINITY, |h| (h.frame.time - t).abs());
        let (to_prev, to_next) = (distance(&prev), distance(&next));
        let partner = if to_prev <= to_next { prev.as_ref() } else { next.as_ref() };
        match partner.filter(|_| to_prev.min(to_next) <= reach_g) {
            Some(g) => visit(Visit::Pair(&c, &g.frame)),
            None => visit(Visit::Unpaired(Side::Candidate, &c)),
        }
        visit(Visit::Release(Side::Candidate, c));
        last_c = Some(t);
    }
    if let Some(held) = prev {
        leave(held, &mut visit);
    }
    while let Some(held) = next {
        leave(held, &mut visit);
        next = read(&mut golden, last_c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs frames at the given times: (candidate, golden) index pairs, unpaired candidates, unpaired goldens.
    fn run(candidate: &[f64], golden: &[f64], pc: f64, pg: f64) -> (Vec<(u64, u64)>, Vec<u64>, Vec<u64>) {
        let timed = |times: &[f64]| -> Vec<Timed<()>> {
            times.iter().enumerate().map(|(i, &time)| Timed { index: i as u64, time, frame: () }).collect()
        };
        let (mut c, mut g) = (timed(candidate).into_iter(), timed(golden).into_iter());
        let (mut pairs, mut extra, mut missing, mut released) = (Vec::new(), Vec::new(), Vec::new(), 0);
        pair(
            || c.next(),
            || g.next(),
            pc,
            pg,
            |visit| match visit {
                Visit::Pair(a, b) => pairs.push((a.index, b.index)),
                Visit::Unpaired(Side::Candidate, f) => extra.push(f.index),
                Visit::Unpaired(Side::Golden, f) => missing.push(f.index),
                Visit::Release(..) => released += 1,
            },
        );
        assert_eq!(released, candidate.len() + golden.len(), "every frame is released once");
        (pairs, extra, missing)
    }

    fn at(rate: f64, frames: impl IntoIterator<Item = u64>) -> Vec<f64> {
        frames.into_iter().map(|i| i as f64 / rate).collect()
    }

    #[test]
    fn equal_rates_pair_by_index() {
        let (pairs, extra, missing) = run(&at(25.0, 0..10), &at(25.0, 0..10), 0.04, 0.04);
        assert_eq!(pairs, (0..10).map(|i| (i, i)).collect::<Vec<_>>());
        assert!(extra.is_empty() && missing.is_empty());
    }

    #[test]
    fn a_dropped_frame_is_missing_and_the_others_keep_their_partners() {
        let candidate = at(25.0, (0..25).filter(|&i| i != 10));
        let (pairs, extra, missing) = run(&candidate, &at(25.0, 0..25), 0.04, 0.04);
        assert_eq!(missing, [10]);
        assert!(extra.is_empty());
        let expected: Vec<(u64, u64)> = (0..24).map(|i| (i, if i < 10 { i } else { i + 1 })).collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn an_inserted_frame_and_a_longer_tail_are_extra() {
        // 25 fps golden; the candidate has a frame at 0.42 s and runs 2 frames longer.
        let mut candidate = at(25.0, 0..12);
        candidate.insert(11, 0.42 + 0.005);
        let (pairs, extra, missing) = run(&candidate, &at(25.0, 0..10), 0.04, 0.04);
        assert_eq!(extra, [10, 11, 12]);
        assert!(missing.is_empty());
        assert_eq!(pairs.len(), 10);
    }

    #[test]
    fn other_frame_rates_and_start_offsets_pair_by_time() {
        // 50 fps against 25 fps: two candidate frames per golden frame, nothing unpaired.
        let (pairs, extra, missing) = run(&at(50.0, 0..20), &at(25.0, 0..10), 0.02, 0.04);
        assert!(extra.is_empty() && missing.is_empty(), "{extra:?} {missing:?}");
        assert_eq!(pairs[3], (3, 1));
        // 12.5 fps against 25 fps: every other golden frame is between two candidate frames, within reach.
        let (pairs, extra, missing) = run(&at(12.5, 0..5), &at(25.0, 0..10), 0.08, 0.04);
        assert!(extra.is_empty() && missing.is_empty(), "{extra:?} {missing:?}");
        assert_eq!(pairs, [(0, 0), (1, 2), (2, 4), (3, 6), (4, 8)]);
        // A candidate starting 3 frames late: the golden's first three frames are missing.
        let (pairs, _, missing) = run(&at(25.0, 3..10), &at(25.0, 0..10), 0.04, 0.04);
        assert_eq!(missing, [0, 1, 2]);
        assert_eq!(pairs[0], (0, 3));
    }
}
