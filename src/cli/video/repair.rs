//! `nanscope video repair IN -o OUT`

use std::path::PathBuf;

use crate::commands::{VideoRepairOptions, video_repair};
use crate::video::CheckOptions;
use crate::video::encode::Fill;
use crate::video::repair::{RepairOptions, Strategy};
use clap::Args;

use super::{ThresholdArgs, video_destination};
use crate::cli::output::emit;
use crate::cli::{GlobalArgs, Outcome};

pub(super) const REPAIR_HELP: &str = "-o/--output names the repaired video (required); the report goes to standard output, or to \
--report FILE.\n\
Strategies (chosen from what `video check` finds unless --strategy is given):\n\
  remux     copy the streams into a new MP4 with the index in front (+faststart)\n\
  reencode  H.264 yuv420p, even dimensions, +faststart; audio as AAC trimmed with -t to the video\n\
  drop      reencode, dropping frames the decoder cannot decode cleanly and keeping the others' timestamps\n\
  fill      reencode, replacing black, NaN-signature and corrupt frames from their good neighbours (--fill)\n\
The result is written to a temporary file beside the output, checked with `video check`, and only then renamed; an \
existing output is only replaced with --force. An MP4 without a moov atom cannot be repaired without a reference. \
With --audio, the repaired video gets that audio in place of its own.";

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The broken video.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Repair strategy (default: chosen from the check's findings).
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// How `fill` replaces bad frames.
    #[arg(long, value_enum, default_value_t = RepairFillArg::Interpolate)]
    pub fill: RepairFillArg,
    /// x264 quality for re-encoding strategies (0 lossless .. 51 worst).
    #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u8).range(0..=51))]
    pub crf: u8,
    /// Replace an existing output.
    #[arg(long)]
    pub force: bool,
    /// A healthy MP4 written with the same encoder settings: rebuilds the H.264 video of a file without a moov
    /// atom from its SPS/PPS, and its AAC audio when the reference has an AAC track.
    #[arg(long, value_name = "OK.mp4")]
    pub reference: Option<PathBuf>,
    /// The run's audio (WAV, MP3, AAC…): muxed into the output as AAC in place of the input's audio, padded with
    /// silence or cut to the video, for a video whose audio mux failed.
    #[arg(long, value_name = "AUDIO")]
    pub audio: Option<PathBuf>,
    /// Write the report to FILE (the global -o names the video).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    Remux,
    Reencode,
    Drop,
    Fill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RepairFillArg {
    Interpolate,
    Hold,
}

pub(super) fn run(args: RepairArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    crate::cli::inputs::require_existing(&[&args.input])?;
    for extra in [&args.reference, &args.audio].into_iter().flatten() {
        crate::cli::inputs::require_existing(&[extra])?;
    }
    let (destination, report_global) = video_destination(global, args.report.clone(), "repair")?;
    let repair = RepairOptions {
        strategy: args.strategy.map(|s| match s {
            StrategyArg::Remux => Strategy::Remux,
            StrategyArg::Reencode => Strategy::Reencode,
            StrategyArg::Drop => Strategy::Drop,
            StrategyArg::Fill => Strategy::Fill,
        }),
        fill: match args.fill {
            RepairFillArg::Interpolate => Fill::Interpolate,
            RepairFillArg::Hold => Fill::Hold,
        },
        force: args.force,
        check: CheckOptions { thresholds: args.thresholds.thresholds()?, ..CheckOptions::default() },
        crf: args.crf,
        reference: args.reference,
        audio: args.audio,
    };
    let options = VideoRepairOptions::new(args.input, destination, repair);
    emit(&video_repair(&options)?, &report_global)
}
