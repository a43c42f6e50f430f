//! `nanscope postmortem RUN_DIR…`

use std::path::PathBuf;

use crate::postmortem::{ArtifactKind, PostmortemOptions};
use clap::Args;

use super::output::emit;
use super::{FormatArg, GlobalArgs, Outcome};

pub(super) const HELP: &str = "Discovers the run's files by content (videos, saved video tensors, pose folders, \
reference images, audio, checkpoints and EchoMimicV2's pretrained_weights/, configs, logs, probe dumps), runs every \
check that applies in parallel, and names one root cause from the K catalogue (`nanscope rules K`) with the chain of \
evidence from cause to symptom, each link observed or predicted, the fix and the next commands.\n\
Findings carry ids (F1, F2, …) that the verdict cites. --format html -o report.html writes one self-contained page.\n\
Exit 1 when a finding reaches --fail-on (default error); exit 2 when a path is missing or nothing could be checked.";

#[derive(Debug, Args)]
pub struct PostmortemArgs {
    /// Run folders (walked recursively) or files.
    #[arg(value_name = "RUN_DIR")]
    pub roots: Vec<PathBuf>,
    /// The generated video (repeatable; overrides discovery).
    #[arg(long, value_name = "FILE")]
    pub video: Vec<PathBuf>,
    /// A saved video tensor (.npy, .npz, .safetensors).
    #[arg(long, value_name = "FILE")]
    pub tensor: Vec<PathBuf>,
    /// A pose folder or pose file.
    #[arg(long, value_name = "PATH")]
    pub poses: Vec<PathBuf>,
    /// The reference image.
    #[arg(long, value_name = "FILE")]
    pub image: Vec<PathBuf>,
    /// The driving audio.
    #[arg(long, value_name = "FILE")]
    pub audio: Vec<PathBuf>,
    /// A checkpoint file or weights folder.
    #[arg(long, value_name = "PATH")]
    pub weights: Vec<PathBuf>,
    /// The run's configuration.
    #[arg(long, value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// The run's log.
    #[arg(long, value_name = "FILE")]
    pub log: Vec<PathBuf>,
    /// A probe dump folder.
    #[arg(long, value_name = "DIR")]
    pub dump: Vec<PathBuf>,
    /// Frame rate of the generation (audio length against pose frames); by
    /// default the one the run's config or workflow states, else 24.
    #[arg(long, value_parser = super::values::positive)]
    pub fps: Option<f64>,
}

pub fn run(args: PostmortemArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let explicit: Vec<(ArtifactKind, PathBuf)> = [
        (ArtifactKind::Video, &args.video),
        (ArtifactKind::VideoTensor, &args.tensor),
        (ArtifactKind::Poses, &args.poses),
        (ArtifactKind::Image, &args.image),
        (ArtifactKind::Audio, &args.audio),
        (ArtifactKind::Weights, &args.weights),
        (ArtifactKind::Config, &args.config),
        (ArtifactKind::Log, &args.log),
        (ArtifactKind::Dump, &args.dump),
    ]
    .into_iter()
    .flat_map(|(kind, paths)| paths.iter().map(move |p| (kind, p.clone())))
    .collect();
    let mut options = PostmortemOptions::new(args.roots.clone()).with_plots(global.format == FormatArg::Html);
    options.fps = args.fps;
    for (kind, path) in explicit {
        options = options.with_explicit(kind, path);
    }
    let progress = super::progress::Steps::new(global, "postmortem");
    let report = crate::commands::postmortem(&options, &progress);
    progress.finish();
    emit(&report?, global)
}
