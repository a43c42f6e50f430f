//! `set_timesteps`: which training timesteps the inference steps visit.
//!
//! These reproduce diffusers' NumPy expressions exactly, quirks included: the
//! trailing spacing uses a float `np.arange`, which for some step counts
//! (61, 103, 121, … of 1000) yields one value too many and ends at timestep
//! −1; the leading spacing adds `steps_offset` and can pass the last training
//! timestep. The checks in `hazards` report those; nothing here hides them.

use super::{ScheduleError, TimestepSpacing};

/// Timesteps for `steps` inference steps, noisiest first.
pub fn spaced_timesteps(
    spacing: &TimestepSpacing,
    train: usize,
    steps: usize,
    steps_offset: i64,
) -> Result<Vec<i64>, ScheduleError> {
    if steps == 0 {
        return Err(ScheduleError::ZeroSteps);
    }
    if steps > train {
        return Err(ScheduleError::TooManySteps { steps, train });
    }
    Ok(match spacing {
        TimestepSpacing::Linspace => linspace(train, steps),
        TimestepSpacing::Leading => leading(train, steps, steps_offset)?,
        TimestepSpacing::Trailing => trailing(train, steps),
        TimestepSpacing::Other(name) => return Err(ScheduleError::UnknownTimestepSpacing(name.clone())),
    })
}

/// `np.linspace(0, train - 1, steps).round()[::-1]`.
fn linspace(train: usize, steps: usize) -> Vec<i64> {
    let stop = (train - 1) as f64;
    if steps == 1 {
        // NumPy's linspace with one point returns the start.
        return vec![0];
    }
    let step = stop / (steps - 1) as f64;
    let mut values: Vec<i64> = (0..steps)
        .map(|i| if i + 1 == steps { stop } else { i as f64 * step })
        .map(|v| v.round_ties_even() as i64)
        .collect();
    values.reverse();
    values
}

/// `(np.arange(0, steps) * (train // steps)).round()[::-1] + steps_offset`.
/// An offset that takes a timestep past the 64-bit range (where NumPy would
/// wrap around) is refused, naming the offset.
fn leading(train: usize, steps: usize, steps_offset: i64) -> Result<Vec<i64>, ScheduleError> {
    let ratio = i64::try_from(train / steps).unwrap_or(i64::MAX);
    let out_of_range = || ScheduleError::TimestepOutOfRange { timestep: steps_offset, train };
    (0..steps)
        .rev()
        .map(|i| {
            i64::try_from(i).ok().and_then(|i| i.checked_mul(ratio)).and_then(|t| t.checked_add(steps_offset))
        })
        .map(|t| t.ok_or_else(out_of_range))
        .collect()
}

/// `np.round(np.arange(train, 0, -train / steps)) - 1`, following NumPy's
/// float `arange`: its length is `ceil(-train / -ratio)`, and after the
/// first two values it steps by their rounded difference.
fn trailing(train: usize, steps: usize) -> Vec<i64> {
    let start = train as f64;
    let step = -(train as f64 / steps as f64);
    let length = ((0.0 - start) / step).ceil().max(0.0) as usize;
    let second = start + step;
    let delta = second - start;
    (0..length)
        .map(|i| match i {
            0 => start,
            1 => second,
            _ => start + i as f64 * delta,
        })
        .map(|v| v.round_ties_even() as i64 - 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_past_the_64_bit_range_is_refused() {
        let err = spaced_timesteps(&TimestepSpacing::Leading, 1000, 50, i64::MAX).unwrap_err();
        assert_eq!(err, ScheduleError::TimestepOutOfRange { timestep: i64::MAX, train: 1000 });
        assert_eq!(spaced_timesteps(&TimestepSpacing::Leading, 1000, 2, 1).unwrap(), vec![501, 1]);
    }

    #[test]
    fn echomimic_v2_six_trailing_steps() {
        let t = spaced_timesteps(&TimestepSpacing::Trailing, 1000, 6, 1).unwrap();
        assert_eq!(t, vec![999, 832, 666, 499, 332, 166]);
    }

    #[test]
    fn echomimic_v2_thirty_trailing_steps() {
        let t = spaced_timesteps(&TimestepSpacing::Trailing, 1000, 30, 1).unwrap();
        assert_eq!(&t[..4], &[999, 966, 932, 899]);
        assert_eq!(&t[27..], &[99, 66, 32]);
    }

    #[test]
    fn trailing_float_arange_can_overshoot() {
        let t = spaced_timesteps(&TimestepSpacing::Trailing, 1000, 61, 0).unwrap();
        assert_eq!(t.len(), 62);
        assert_eq!(t.last(), Some(&-1));
    }

    #[test]
    fn leading_adds_offset() {
        let t = spaced_timesteps(&TimestepSpacing::Leading, 1000, 50, 1).unwrap();
        assert_eq!((t[0], t[49], t.len()), (981, 1, 50));
    }

    #[test]
    fn linspace_ends_at_both_extremes() {
        let t = spaced_timesteps(&TimestepSpacing::Linspace, 1000, 25, 0).unwrap();
        assert_eq!((t[0], t[24]), (999, 0));
        assert_eq!(spaced_timesteps(&TimestepSpacing::Linspace, 1000, 1, 0).unwrap(), vec![0]);
    }

    #[test]
    fn rejects_zero_and_too_many_steps() {
        assert_eq!(spaced_timesteps(&TimestepSpacing::Leading, 1000, 0, 0), Err(ScheduleError::ZeroSteps));
        assert_eq!(
            spaced_timesteps(&TimestepSpacing::Trailing, 1000, 1001, 0),
            Err(ScheduleError::TooManySteps { steps: 1001, train: 1000 })
        );
    }
}
