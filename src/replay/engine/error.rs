//! Why the engine could not build or run a model.

use crate::trace::ProbeError;

use super::weights::WeightProblem;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Candle(String),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("cannot read {path}: {why}")]
    Read { path: String, why: String },
    #[error("{path}: unsupported model configuration: {why}")]
    Config { path: String, why: String },
    #[error("{path}: {} weight problem(s): {}", problems.len(), WeightProblem::list(problems))]
    Weights { path: String, problems: Vec<WeightProblem> },
    #[error("this nanscope was built without CUDA support (rebuild with `--features cuda`)")]
    NoCuda,
    #[error("{0}")]
    Input(String),
}

impl From<candle_core::Error> for EngineError {
    /// Keeps the message and drops the backtrace candle may embed.
    fn from(err: candle_core::Error) -> Self {
        let text = err.to_string();
        let first = text.split("\n   0:").next().unwrap_or(&text).trim_end().to_string();
        EngineError::Candle(first)
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
