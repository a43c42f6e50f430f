//! Command-line definitions and glue: the only code that prints.
//!
//! `main` is what the `nanscope` binary runs; `run_from` runs the same command
//! line on arguments given by the caller (the Python package's extension
//! module), returning the exit code instead of exiting.

mod config;
mod diff;
mod gate;
mod image;
mod inputs;
mod log;
mod merge;
mod output;
mod pose;
mod postmortem;
mod progress;
mod replay;
mod rules;
mod scheduler;
mod simulate;

mod trace;
mod values;

mod video;
mod weights;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use crate::report::{EXIT_FAILURE, FailOn};
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use output::Outcome;

#[derive(Debug, Parser)]
#[command(
    name = "nanscope",
    version,
    about = "Find where a video-generation pipeline's numbers went wrong",
    long_about = "Find where a video-generation pipeline's numbers went wrong: NaN/Inf and overflow in \
                  checkpoints, broken inputs, and the first place a run produced non-finite values.\n\n\
                  Exit codes: 0 no finding reached --fail-on; 1 at least one did; 2 nanscope could not do its job."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table, global = true)]
    pub format: FormatArg,
    /// Where to write. The report (instead of standard output) for weights, diff, video check, pose check,
    /// replay, trace, scheduler and rules; the repaired or encoded video for video repair and video encode;
    /// the output folder for pose repair and pose convert; the contact sheet PNG for pose render (those
    /// commands write their report to standard output or to --report FILE).
    #[arg(long, short = 'o', value_name = "OUT", global = true)]
    pub output: Option<PathBuf>,
    /// Exit with 1 when a finding of this severity or worse is reported.
    #[arg(long, value_enum, default_value_t = FailOn::Error, global = true)]
    pub fail_on: FailOn,
    /// Print findings only: no progress, sections or summary.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Never draw a progress bar.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Colour the table output (`auto` honours NO_COLOR and terminals).
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, global = true)]
    pub color: ColorArg,
    /// Also write the report in FORMAT to PATH (repeatable): `--output-format junit=junit.xml`.
    #[arg(long, value_name = "FORMAT=PATH", value_parser = output::extra_output, global = true)]
    pub output_format: Vec<output::ExtraOutput>,
    /// Check only shard I of N (1-based): inputs are split by a hash of their path.
    #[arg(long, value_name = "I/N", value_parser = output::shard, global = true)]
    pub shard: Option<crate::gate::Shard>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Markdown,
    Junit,
    Sarif,
    Github,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose a failed run folder in one go: every check, one verdict with its chain of evidence, HTML report.
    #[command(after_help = postmortem::HELP)]
    Postmortem(postmortem::PostmortemArgs),
    /// Scan checkpoints (safetensors, PyTorch, NumPy, GGUF, quantized schemes) for NaN/Inf, overflow and other hazards.
    Weights(weights::WeightsArgs),
    /// Compare two checkpoints key by key and value by value (B against the reference A).
    Diff(diff::DiffArgs),
    /// Diagnose, repair or encode videos (needs ffmpeg/ffprobe 5.1+).
    Video(video::VideoArgs),
    /// Check reference images (PNG, JPEG, WebP, BMP, TIFF, image tensors) before a generation reads them.
    Image(image::ImageArgs),
    /// Check, repair, render or convert pose sequences (EchoMimicV2 .npy, OpenPose/ControlNet JSON).
    Pose(pose::PoseArgs),
    /// Replay a generation from a spec and name the module and step where NaN/Inf first appeared.
    Replay(replay::ReplayArgs),
    /// Find the module and step that first produced NaN/Inf in a probe's dump folder.
    Trace(trace::TraceArgs),
    /// Check a diffusers scheduler_config.json for hazards and print its DDIM schedule.
    Scheduler(scheduler::SchedulerArgs),
    /// Check server and inference logs for the signatures of a failed generation.
    Log(log::LogArgs),
    /// Check EchoMimicV2 run configurations and diffusers model folders.
    Config(config::ConfigArgs),
    /// List the rule catalogue, or explain one rule.
    Rules(rules::RulesArgs),
    /// Run the CI gate of a nanscope.toml: named checks, suppressions, baselines.
    Gate(gate::GateArgs),
    /// Combine the JSON reports of `--shard I/N` runs into one report.
    Merge(merge::MergeArgs),
}

/// The `nanscope` binary: the process's own arguments, its exit code.
pub fn main() -> std::process::ExitCode {
    let code = run_from(std::env::args_os());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(EXIT_FAILURE))
}

/// Runs the command line on `args` as `std::env::args_os` gives them (the
/// program name first) and returns the exit code: 0 clean, 1 findings, 2 when
/// nanscope could not do its job. Usage errors, `--help` and `--version` are
/// printed as clap prints them, with clap's exit code.
pub fn run_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // `print` writes help and version to stdout, usage errors to stderr.
            let _ = err.print();
            return err.exit_code();
        }
    };
    // A panic is a bug, never an answer about the input: report it as an
    // internal error (exit 2) rather than Rust's default exit status 101.
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(outcome)) => i32::from(outcome.exit_code()),
        Ok(Err(err)) => {
            report_error(&err);
            i32::from(EXIT_FAILURE)
        }
        Err(_) => i32::from(EXIT_FAILURE),
    }
}

/// Parses a command line. Every (sub)command accepts negative numbers as
/// option values, `--opt -1` as well as `--opt=-1`, so that a negative value
/// reaches the check that explains why it is refused instead of reading as
/// an unknown flag.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let mut command = allow_negative_numbers(Cli::command());
    let matches = command.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|err| err.format(&mut command))
}

fn allow_negative_numbers(command: clap::Command) -> clap::Command {
    let names: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let mut command = command.allow_negative_numbers(true);
    for name in names {
        command = command.mut_subcommand(name, allow_negative_numbers);
    }
    command
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Postmortem(args) => postmortem::run(args, &cli.global),
        Command::Weights(args) => weights::run(args, &cli.global),
        Command::Diff(args) => diff::run(args, &cli.global),
        Command::Video(args) => video::run(args, &cli.global),
        Command::Image(args) => image::run(args, &cli.global),
        Command::Pose(args) => pose::run(args, &cli.global),
        Command::Replay(args) => replay::run(args, &cli.global),
        Command::Trace(args) => trace::run(args, &cli.global),
        Command::Scheduler(args) => scheduler::run(args, &cli.global),
        Command::Log(args) => log::run(args, &cli.global),
        Command::Config(args) => config::run(args, &cli.global),
        Command::Rules(args) => rules::run(args, &cli.global),
        Command::Gate(args) => gate::run(args, &cli.global),
        Command::Merge(args) => merge::run(args, &cli.global),
    }
}

/// Prints a fatal error on stderr as one lowercase line (plus its causes).
pub fn report_error(err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "nanscope: error: {}", inputs::error_line(err));
}
