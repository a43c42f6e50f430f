//! `nanscope scheduler CONFIG.json`: a diffusers scheduler configuration's
//! hazards and the DDIM schedule it produces.

use std::path::PathBuf;

use crate::commands::{SchedulerOptions, scheduler};
use crate::replay::scheduler::PredictionType;
use clap::{Args, ValueEnum};

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// A diffusers `scheduler_config.json`.
    #[arg(value_name = "CONFIG.json")]
    pub config: PathBuf,
    /// Inference steps to lay out (diffusers pipelines default to 50).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub steps: u32,
    /// Whether the scheduler drives a latent model (SD family, EchoMimicV2) or a pixel-space one.
    #[arg(long, value_enum, default_value_t = SpaceArg::Latent)]
    pub space: SpaceArg,
    /// What the denoiser was trained to predict; a different `prediction_type` is reported (R114).
    #[arg(long, value_enum, value_name = "TYPE")]
    pub model_prediction: Option<PredictionArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpaceArg {
    Latent,
    Pixel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PredictionArg {
    Epsilon,
    #[value(name = "v_prediction", alias = "v")]
    VPrediction,
    Sample,
}

pub fn run(args: SchedulerArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let mut options = SchedulerOptions::new(args.config);
    options.steps = args.steps;
    options.latent = args.space == SpaceArg::Latent;
    options.model_prediction = args.model_prediction.map(|p| match p {
        PredictionArg::Epsilon => PredictionType::Epsilon,
        PredictionArg::VPrediction => PredictionType::VPrediction,
        PredictionArg::Sample => PredictionType::Sample,
    });
    emit(&scheduler(&options)?, global)
}
