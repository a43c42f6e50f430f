//! Temporal smoothing of one keypoint coordinate track.
//!
//! Both filters work on runs of consecutive valid frames (they never smooth
//! across a gap) in pixel units of the generation canvas, so their
//! parameters mean the same for every sequence.

/// A smoothing filter and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// One-Euro filter (Casiez et al. 2012) with the frame index as time:
    /// cutoff = `min_cutoff + beta · |dx/dt|` (Hz, pixels per frame);
    /// `d_cutoff` filters the derivative. Defaults 0.004, 0.7, 1.0 (MMPose).
    OneEuro { min_cutoff: f64, beta: f64, d_cutoff: f64 },
    /// Savitzky–Golay: a least-squares polynomial of degree `polyorder`
    /// fitted over `window` frames (odd) centred on each frame; near the
    /// ends of a run the window is cut and the fit evaluated off-centre.
    /// Defaults 11 and 2.
    SavGol { window: usize, polyorder: usize },
}

impl Smoothing {
    pub const ONE_EURO: Smoothing = Smoothing::OneEuro { min_cutoff: 0.004, beta: 0.7, d_cutoff: 1.0 };
    pub const SAVGOL: Smoothing = Smoothing::SavGol { window: 11, polyorder: 2 };

    /// Smooths `values` in place.
    pub fn apply(self, values: &mut [f64]) {
        match self {
            Smoothing::OneEuro { min_cutoff, beta, d_cutoff } => one_euro(values, min_cutoff, beta, d_cutoff),
            Smoothing::SavGol { window, polyorder } => savgol(values, window, polyorder),
        }
    }
}

fn alpha(cutoff: f64) -> f64 {
    let tau = 1.0 / (2.0 * std::f64::consts::PI * cutoff.max(1e-9));
    1.0 / (1.0 + tau)
}

fn one_euro(values: &mut [f64], min_cutoff: f64, beta: f64, d_cutoff: f64) {
    let Some(&first) = values.first() else { return };
    let (mut previous, mut derivative) = (first, 0.0);
    for value in values.iter_mut().skip(1) {
        let raw_derivative = *value - previous;
        derivative += alpha(d_cutoff) * (raw_derivative - derivative);
        let cutoff = min_cutoff + beta * derivative.abs();
        previous += alpha(cutoff) * (*value - previous);
        *value = previous;
    }
}

fn savgol(values: &mut [f64], window: usize, polyorder: usize) {
    let n = values.len();
    let half = window / 2;
    if n < 3 || window < 3 {
        return;
    }
    let source = values.to_vec();
    for (t, out) in values.iter_mut().enumerate() {
        let start = t.saturating_sub(half).min(n.saturating_sub(window.min(n)));
        let end = (start + window).min(n);
        let degree = polyorder.min(end - start - 1);
        *out = poly_fit_at(&source[start..end], start, t, degree);
    }
}

/// Least-squares polynomial through `ys` at positions `offset..`, evaluated at `at`.
fn poly_fit_at(ys: &[f64], offset: usize, at: usize, degree: usize) -> f64 {
    let m = degree + 1;
    // Normal equations in a centred variable for conditioning.
    let centre = at as f64;
    let mut a = vec![vec![0.0; m + 1]; m];
    for (i, &y) in ys.iter().enumerate() {
        let x = (offset + i) as f64 - centre;
        let powers: Vec<f64> = (0..2 * m).map(|p| x.powi(p as i32)).collect();
        for r in 0..m {
            for c in 0..m {
                a[r][c] += powers[r + c];
            }
            a[r][m] += y * powers[r];
        }
    }
    // Gaussian elimination with partial pivoting; the value at x = 0 is the constant term.
    for col in 0..m {
        let pivot = (col..m).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap_or(col);
        a.swap(col, pivot);
        if a[col][col].abs() < 1e-12 {
            return ys[at - offset];
        }
        for row in 0..m {
            if row != col {
                let factor = a[row][col] / a[col][col];
                let pivot_row = a[col].clone();
                for (cell, p) in a[row].iter_mut().zip(pivot_row).skip(col) {
                    *cell -= factor * p;
                }
            }
        }
    }
    a[0][m] / a[0][0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savgol_keeps_quadratics_and_damps_noise() {
        let mut quad: Vec<f64> = (0..20).map(|t| 0.5 * (t as f64).powi(2) - 3.0 * t as f64 + 1.0).collect();
        let exact = quad.clone();
        Smoothing::SAVGOL.apply(&mut quad);
        for (a, b) in quad.iter().zip(&exact) {
            assert!((a - b).abs() < 1e-6, "{a} {b}");
        }
        let mut noisy: Vec<f64> = (0..40).map(|t| if t % 2 == 0 { 1.0 } else { -1.0 }).collect();
        Smoothing::SAVGOL.apply(&mut noisy);
        assert!(noisy[10..30].iter().all(|v| v.abs() < 0.3));
    }

    #[test]
    fn one_euro_follows_motion_and_damps_jitter() {
        let mut jitter: Vec<f64> = (0..60).map(|t| 100.0 + if t % 2 == 0 { 0.5 } else { -0.5 }).collect();
        Smoothing::ONE_EURO.apply(&mut jitter);
        assert!(jitter[30..].iter().all(|v| (v - 100.0).abs() < 0.5));
        let mut ramp: Vec<f64> = (0..60).map(|t| 10.0 * t as f64).collect();
        Smoothing::ONE_EURO.apply(&mut ramp);
        assert!((ramp[59] - 590.0).abs() < 20.0, "{}", ramp[59]);
    }
}
