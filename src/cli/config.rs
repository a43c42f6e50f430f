//! `nanscope config check FILE…`: argument parsing and glue around `crate::config`.

use std::path::PathBuf;

use crate::config::{ConfigOptions, Variant};
use clap::{Args, Subcommand, ValueEnum};

use super::output::emit;
use super::{GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check EchoMimicV2 prompt/inference YAML, diffusers model_index.json and scheduler configs.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration files (YAML or JSON), or folders whose .yaml, .yml and .json files are checked.
    #[arg(value_name = "FILE", required = true)]
    pub paths: Vec<PathBuf>,
    /// Folder the weight paths are relative to (default: the folder above `configs/`, else the config's folder).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Pipeline variant (default: acc when the weights are the `_acc` ones).
    #[arg(long, value_enum)]
    pub variant: Option<VariantArg>,
    /// Size the poses were drawn for.
    #[arg(long, value_name = "WxH", default_value = "768x768", value_parser = parse_size)]
    pub pose_size: [u32; 2],
    /// A run parameter as infer.py was given it: steps, cfg, W, H, L, fps, sample_rate, context_frames, context_overlap.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VariantArg {
    Normal,
    Acc,
}

fn parse_size(text: &str) -> Result<[u32; 2], String> {
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(|| format!("{text:?} is not WxH"))?;
    match (w.parse(), h.parse()) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok([w, h]),
        _ => Err(format!("{text:?} is not WxH with positive integers")),
    }
}

fn parse_set(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("{text:?} is not KEY=VALUE"))?;
    value.trim().parse::<f64>().map_err(|_| format!("{value:?} is not a number"))?;
    Ok((key.trim().to_string(), value.trim().to_string()))
}

pub fn run(args: ConfigArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let ConfigCommand::Check(args) = args.command;
    let mut options = crate::commands::ConfigCheckOptions::new(args.paths);
    options.config = ConfigOptions {
        root: args.root,
        variant: args.variant.map(|v| match v {
            VariantArg::Normal => Variant::Normal,
            VariantArg::Acc => Variant::Acc,
        }),
        pose_size: args.pose_size,
        set: args.set,
        ..ConfigOptions::default()
    };
    emit(&crate::commands::config_check(&options)?, global)
}
