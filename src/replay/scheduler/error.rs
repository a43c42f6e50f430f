//! Why a schedule could not be built or a step could not be taken.

/// Errors of the scheduler API. The messages are lowercase fragments that
/// name the option or number at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    #[error("beta_schedule {0:?} is not one of linear, scaled_linear, squaredcos_cap_v2")]
    UnknownBetaSchedule(String),
    #[error("timestep_spacing {0:?} is not one of leading, trailing, linspace")]
    UnknownTimestepSpacing(String),
    #[error("prediction_type {0:?} is not one of epsilon, v_prediction, sample")]
    UnknownPredictionType(String),
    #[error("trained_betas holds {found} values but num_train_timesteps is {expected}")]
    TrainedBetasLength { expected: usize, found: usize },
    #[error("num_train_timesteps must be at least 1")]
    NoTrainTimesteps,
    #[error("the number of inference steps must be at least 1")]
    ZeroSteps,
    #[error("{steps} inference steps exceed num_train_timesteps ({train})")]
    TooManySteps { steps: usize, train: usize },
    #[error("set_timesteps has not been called")]
    NoTimesteps,
    #[error("timestep {timestep} is outside 0..{train}")]
    TimestepOutOfRange { timestep: i64, train: usize },
    #[error("{what} holds {found} values, expected {expected}")]
    LengthMismatch { what: &'static str, expected: usize, found: usize },
    #[error("eta > 0 needs variance noise: the scheduler draws no random numbers")]
    MissingVarianceNoise,
    #[error("{0} is not supported by nanscope's DDIM step")]
    Unsupported(&'static str),
}
