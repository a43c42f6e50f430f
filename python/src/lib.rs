//! `nanscope._nanscope`: the compiled half of the Python package.
//!
//! It holds the whole command line (`run_cli`, which the `nanscope` console
//! script calls), one binding per command that calls `nanscope::commands`
//! with options built from keyword arguments and returns the report as
//! Python objects, and the NaN-aware video encoder that
//! `nanscope.guard.save_video` writes through. Every call releases the GIL
//! while nanscope works; nothing here prints except what the command line
//! itself prints.

mod bindings;

use std::ffi::OsString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use nanscope::commands::{EncodeOptions, EncodeRange as ValueRange, Fill, Layout, VideoEncodeOptions, video_encode};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// Exit code of a run that could not do its job (as the binary's).
const EXIT_FAILURE: i32 = 2;

/// Runs the command line on `args` (program name first) in this process and
/// returns the exit code: 0 clean, 1 findings, 2 failure.
#[pyfunction]
fn run_cli(py: Python<'_>, args: Vec<OsString>) -> i32 {
    py.detach(move || catch_unwind(AssertUnwindSafe(|| nanscope::cli::run_from(args))).unwrap_or(EXIT_FAILURE))
}

fn layout(name: Option<&str>) -> PyResult<Option<Layout>> {
    Ok(match name {
        None => None,
        Some("bcfhw") => Some(Layout::Bcfhw),
        Some("cfhw") => Some(Layout::Cfhw),
        Some("fhwc") => Some(Layout::Fhwc),
        Some(other) => return Err(PyValueError::new_err(format!("layout must be bcfhw, cfhw or fhwc, got {other:?}"))),
    })
}

fn value_range(name: Option<&str>) -> PyResult<Option<ValueRange>> {
    Ok(match name {
        None => None,
        Some("0-1") => Some(ValueRange::Unit),
        Some("-1-1") => Some(ValueRange::Signed),
        Some("0-255") => Some(ValueRange::Byte),
        Some(other) => return Err(PyValueError::new_err(format!("range must be 0-1, -1-1 or 0-255, got {other:?}"))),
    })
}

fn fill(name: &str) -> PyResult<Fill> {
    match name {
        "interpolate" => Ok(Fill::Interpolate),
        "hold" => Ok(Fill::Hold),
        "zero" => Ok(Fill::Zero),
        other => Err(PyValueError::new_err(format!("fill must be interpolate, hold or zero, got {other:?}"))),
    }
}

/// Encodes the video tensor saved in `input` (.npy/.npz/.safetensors) to
/// H.264 at `output` as `nanscope video encode` does (non-finite pixels
/// filled, values clamped and rounded; an existing output is replaced) and
/// returns that command's JSON report: findings, and the `encode`, `frames`
/// (each frame's NaN/Inf counts) and `streams` sections.
#[pyfunction]
#[pyo3(signature = (input, output, fps, *, audio=None, layout_name=None, range=None, fill_name="interpolate", crf=18, label=None))]
#[allow(clippy::too_many_arguments)]
fn encode_video(
    py: Python<'_>,
    input: PathBuf,
    output: PathBuf,
    fps: f64,
    audio: Option<PathBuf>,
    layout_name: Option<&str>,
    range: Option<&str>,
    fill_name: &str,
    crf: u8,
    label: Option<String>,
) -> PyResult<String> {
    if crf > 51 {
        return Err(PyValueError::new_err(format!("crf must be in 0..=51, got {crf}")));
    }
    let mut encode = EncodeOptions::default();
    encode.layout = layout(layout_name)?;
    encode.range = value_range(range)?;
    encode.fps = fps;
    encode.audio = audio;
    encode.fill = fill(fill_name)?;
    encode.crf = crf;
    encode.force = true;
    encode.label = label;
    let options = VideoEncodeOptions::new(input, output, encode);
    let report = py.detach(move || video_encode(&options).map(|report| report.to_json(nanscope::VERSION).to_string()));
    report.map_err(|err| PyRuntimeError::new_err(err.to_string()))
}

#[pymodule]
fn _nanscope(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", nanscope::VERSION)?;
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(encode_video, m)?)?;
    bindings::register(m)
}
