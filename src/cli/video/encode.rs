//! `nanscope video encode TENSOR -o OUT`

use std::path::PathBuf;

use crate::report::{Report, Section, SectionTable, fmt_num};
use crate::video::Tools;
use crate::video::encode::{EncodeOptions, EncodeResult, Fill, ValueRange, encode};
use crate::video::tensor_frames::Layout;
use clap::Args;
use serde_json::{Value, json};

use super::video_destination;
use crate::cli::output::emit;
use crate::cli::{GlobalArgs, Outcome};

pub(super) const ENCODE_HELP: &str = "-o/--output names the video to write (required); the report goes to standard output, or to \
--report FILE.\n\
The video is written to a temporary file beside the output, checked with `video check`, then renamed; an existing \
output is only replaced with --force.\n\
Layouts: `b c f h w` (batch items tiled side by side), `c f h w`, `f h w c`; 1, 3 or 4 channels (alpha dropped).\n\
Values are filled (non-finite), clamped to the range and rounded to 8 bits, never truncated.";

#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// The tensor file (.npy, .npz or .safetensors).
    #[arg(value_name = "TENSOR")]
    pub input: PathBuf,
    /// Which tensor of a file holding several.
    #[arg(long, value_name = "NAME")]
    pub tensor: Option<String>,
    /// Axis order (inferred from the shape when omitted).
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// Value range (inferred from the finite values when omitted).
    #[arg(long, value_enum)]
    pub range: Option<RangeArg>,
    /// Frames per second of the output.
    #[arg(long, default_value_t = 24.0)]
    pub fps: f64,
    /// Audio file muxed as AAC, trimmed to the video's duration.
    #[arg(long, value_name = "FILE")]
    pub audio: Option<PathBuf>,
    /// How non-finite pixels are replaced.
    #[arg(long, value_enum, default_value_t = FillArg::Interpolate)]
    pub fill: FillArg,
    /// x264 quality (0 lossless .. 51 worst).
    #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u8).range(0..=51))]
    pub crf: u8,
    /// Replace an existing output.
    #[arg(long)]
    pub force: bool,
    /// Write the report to FILE (the global -o names the video).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    #[value(name = "bcfhw", alias = "b c f h w")]
    Bcfhw,
    #[value(name = "cfhw", alias = "c f h w")]
    Cfhw,
    #[value(name = "fhwc", alias = "f h w c")]
    Fhwc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RangeArg {
    #[value(name = "0-1")]
    Unit,
    #[value(name = "-1-1")]
    Signed,
    #[value(name = "0-255")]
    Byte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FillArg {
    Zero,
    Hold,
    Interpolate,
}

impl FillArg {
    pub fn fill(self) -> Fill {
        match self {
            FillArg::Zero => Fill::Zero,
            FillArg::Hold => Fill::Hold,
            FillArg::Interpolate => Fill::Interpolate,
        }
    }
}

pub(super) fn run(args: EncodeArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    crate::cli::inputs::require_existing(&[&args.input])?;
    if let Some(audio) = &args.audio {
        crate::cli::inputs::require_existing(&[audio])?;
    }
    let (destination, report_global) = video_destination(global, args.report.clone(), "encode")?;
    anyhow::ensure!(
        args.fps.is_finite() && args.fps > 0.0 && args.fps <= 1000.0,
        "--fps must be in (0, 1000], got {}",
        args.fps
    );
    if let Some(audio) = &args.audio {
        anyhow::ensure!(audio.is_file(), "--audio {} is not a readable file", audio.display());
    }
    let options = EncodeOptions {
        tensor: args.tensor,
        layout: args.layout.map(|l| match l {
            LayoutArg::Bcfhw => Layout::Bcfhw,
            LayoutArg::Cfhw => Layout::Cfhw,
            LayoutArg::Fhwc => Layout::Fhwc,
        }),
        range: args.range.map(|r| match r {
            RangeArg::Unit => ValueRange::Unit,
            RangeArg::Signed => ValueRange::Signed,
            RangeArg::Byte => ValueRange::Byte,
        }),
        fps: args.fps,
        audio: args.audio,
        fill: args.fill.fill(),
        crf: args.crf,
        force: args.force,
        label: None,
    };
    let tools = Tools::locate()?;
    let result = encode(&tools, &args.input, &destination, &options)?;
    emit(&encode_report(&result), &report_global)
}

fn encode_report(result: &EncodeResult) -> Report {
    let mut report = Report::new("video encode", vec![result.input.clone()]);
    report.findings = result.findings.clone();
    report.sort_findings();
    report.set_counter("frames", result.frames.len() as u64);
    let filled = result.frames.iter().filter(|f| f.nan + f.pos_inf + f.neg_inf > 0).count() as u64;
    report.set_counter("filled", filled);
    report.sections.push(encode_section(result, "encode"));
    report.sections.push(Section {
        key: "frames".into(),
        value: serde_json::to_value(&result.frames).unwrap_or(Value::Null),
        table: None,
    });
    if let Some(check) = &result.check {
        report.sections.push(Section {
            key: "streams".into(),
            value: serde_json::to_value(&check.streams).unwrap_or(Value::Null),
            table: None,
        });
    }
    report
}

/// The summary of an encode: tensor, shape, layout, range, size and output.
pub(crate) fn encode_section(result: &EncodeResult, key: &str) -> Section {
    let summary = json!({
        "tensor": result.tensor,
        "shape": result.shape,
        "layout": result.layout,
        "range": result.range,
        "fill": result.fill,
        "width": result.width,
        "height": result.height,
        "fps": result.fps,
        "output": result.output,
    });
    let rows = vec![vec![
        result.tensor.clone(),
        format!("{:?}", result.shape),
        result.layout.to_string(),
        serde_json::to_value(result.range).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        format!("{}x{} @ {} fps", result.width, result.height, fmt_num(result.fps)),
        result.output.clone().unwrap_or_else(|| "(not written)".into()),
    ]];
    Section {
        key: key.into(),
        value: summary,
        table: Some(SectionTable {
            title: "Encode".into(),
            header: ["tensor", "shape", "layout", "range", "video", "output"].map(String::from).to_vec(),
            rows,
            note: None,
        }),
    }
}
