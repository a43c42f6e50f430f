//! Betas and cumulative alphas, computed the way diffusers computes them.
//!
//! diffusers builds these tables as torch float32 tensors, so the values a
//! pipeline really uses are float32 roundings of the ideal schedule. To give
//! the same numbers this module performs each operation in float32 where
//! torch does, in the same order:
//! `torch.linspace` (which on CPU evaluates `start + step * i` as one fused
//! multiply-add from the nearer end), element-wise float32 arithmetic, and
//! `torch.cumprod`, which on CPU accumulates in float64 and rounds each output
//! to float32. The cosine schedule is evaluated in float64 like diffusers'
//! Python loop and rounded once. The results are bit-identical to diffusers'
//! except after the zero-SNR rescale, whose square roots torch's CPU kernels
//! round inexactly (and differently per CPU); there they agree within a few
//! millionths relative (see `golden_tests`). Derived quantities (SNR, sigma)
//! are computed from these values in float64 by the callers.

use super::{BetaSchedule, ScheduleError, SchedulerConfig};

/// The noise schedule over the training timesteps.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    pub betas: Vec<f32>,
    /// ᾱ_t, the share of signal variance left at training timestep t.
    pub alphas_cumprod: Vec<f32>,
    /// The ᾱ a step targets when it moves past timestep 0: 1 with
    /// `set_alpha_to_one`, else ᾱ_0.
    pub final_alpha_cumprod: f32,
}

impl NoiseSchedule {
    pub fn new(config: &SchedulerConfig) -> Result<Self, ScheduleError> {
        let train = config.num_train_timesteps;
        if train == 0 {
            return Err(ScheduleError::NoTrainTimesteps);
        }
        let mut betas = match &config.trained_betas {
            Some(trained) if trained.len() != train => {
                return Err(ScheduleError::TrainedBetasLength { expected: train, found: trained.len() });
            }
            Some(trained) => trained.iter().map(|&b| b as f32).collect(),
            None => match &config.beta_schedule {
                BetaSchedule::Linear => torch_linspace(config.beta_start as f32, config.beta_end as f32, train),
                BetaSchedule::ScaledLinear => {
                    let roots = torch_linspace(config.beta_start.sqrt() as f32, config.beta_end.sqrt() as f32, train);
                    roots.iter().map(|r| r * r).collect()
                }
                BetaSchedule::SquaredcosCapV2 => cosine_betas(train),
                BetaSchedule::Other(name) => return Err(ScheduleError::UnknownBetaSchedule(name.clone())),
            },
        };
        if config.rescale_betas_zero_snr {
            betas = rescale_zero_terminal_snr(&betas);
        }
        let alphas: Vec<f32> = betas.iter().map(|b| 1.0 - b).collect();
        let alphas_cumprod = cumprod(&alphas);
        let final_alpha_cumprod = if config.set_alpha_to_one { 1.0 } else { alphas_cumprod[0] };
        Ok(NoiseSchedule { betas, alphas_cumprod, final_alpha_cumprod })
    }
}

/// `torch.linspace(start, end, steps, dtype=float32)` as the CPU kernel
/// computes it: the first half from `start`, the second half from `end`,
/// each element one fused multiply-add.
pub fn torch_linspace(start: f32, end: f32, steps: usize) -> Vec<f32> {
    match steps {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (end - start) / (steps - 1) as f32;
            let halfway = steps / 2;
            (0..steps)
                .map(|i| {
                    if i < halfway {
                        step.mul_add(i as f32, start)
                    } else {
                        (-step).mul_add((steps - 1 - i) as f32, end)
                    }
                })
                .collect()
        }
    }
}

/// diffusers' `betas_for_alpha_bar` with the cosine ᾱ of Nichol & Dhariwal,
/// each beta capped at 0.999.
fn cosine_betas(train: usize) -> Vec<f32> {
    let alpha_bar = |t: f64| {
        let c = ((t + 0.008) / 1.008 * std::f64::consts::PI / 2.0).cos();
        c * c
    };
    (0..train)
        .map(|i| {
            let t1 = i as f64 / train as f64;
            let t2 = (i + 1) as f64 / train as f64;
            (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
        })
        .collect()
}

/// `torch.cumprod` on a CPU float32 tensor: a float64 running product,
/// rounded to float32 at every output.
fn cumprod(values: &[f32]) -> Vec<f32> {
    let mut product = 1.0f64;
    values
        .iter()
        .map(|&v| {
            product *= v as f64;
            product as f32
        })
        .collect()
}

/// Lin et al. 2023, "Common diffusion noise schedules and sample steps are
/// flawed", algorithm 1, as diffusers' `rescale_zero_terminal_snr` computes
/// it: shift √ᾱ so the last one is exactly 0, scale it so the first is
/// unchanged, and turn the result back into betas. The last beta becomes 1.
fn rescale_zero_terminal_snr(betas: &[f32]) -> Vec<f32> {
    let alphas: Vec<f32> = betas.iter().map(|b| 1.0 - b).collect();
    let mut roots: Vec<f32> = cumprod(&alphas).iter().map(|a| a.sqrt()).collect();
    let (first, last) = (roots[0], roots[roots.len() - 1]);
    let scale = first / (first - last);
    for root in &mut roots {
        *root -= last;
        *root *= scale;
    }
    let bars: Vec<f32> = roots.iter().map(|r| r * r).collect();
    let mut rescaled = Vec::with_capacity(bars.len());
    rescaled.push(1.0 - bars[0]);
    for pair in bars.windows(2) {
        rescaled.push(1.0 - pair[1] / pair[0]);
    }
    rescaled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_hits_both_ends() {
        let v = torch_linspace(0.00085, 0.012, 1000);
        assert_eq!(v.len(), 1000);
        assert_eq!(v[0], 0.00085f32);
        assert_eq!(v[999], 0.012f32);
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(torch_linspace(2.0, 3.0, 1), vec![2.0]);
    }

    #[test]
    fn zero_snr_ends_at_exactly_zero() {
        let config = SchedulerConfig {
            beta_start: 0.00085,
            beta_end: 0.012,
            rescale_betas_zero_snr: true,
            ..SchedulerConfig::default()
        };
        let schedule = NoiseSchedule::new(&config).unwrap();
        assert_eq!(schedule.alphas_cumprod[999], 0.0);
        assert_eq!(schedule.betas[999], 1.0);
        assert!(schedule.alphas_cumprod[998] > 0.0);
        assert_eq!(schedule.final_alpha_cumprod, 1.0);
    }

    #[test]
    fn trained_betas_must_cover_every_timestep() {
        let config = SchedulerConfig { trained_betas: Some(vec![0.1; 10]), ..SchedulerConfig::default() };
        assert_eq!(
            NoiseSchedule::new(&config).unwrap_err(),
            ScheduleError::TrainedBetasLength { expected: 1000, found: 10 }
        );
    }
}
