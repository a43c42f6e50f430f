//! The report bindings: each turns its keyword arguments into the command's
//! typed options (an unknown keyword or a value of the wrong type is a
//! `TypeError` naming it), runs `nanscope::commands` without the GIL, and
//! returns the report as Python objects (dicts, lists, str, int, float,
//! bool, None), the document `nanscope COMMAND --format json` writes.
//! A command that cannot run raises `nanscope.NanscopeError`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nanscope::commands::{self, CommandError};
use nanscope::report::Report;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// The keyword arguments of one call, taken one by one; what is left at
/// the end was not expected.
struct Kwargs<'py> {
    function: &'static str,
    dict: Option<Bound<'py, PyDict>>,
}

impl<'py> Kwargs<'py> {
    fn new(function: &'static str, dict: Option<&Bound<'py, PyDict>>) -> PyResult<Self> {
        // A copy: the caller's dictionary is not emptied.
        Ok(Kwargs { function, dict: dict.map(|d| d.copy()).transpose()? })
    }

    /// The value of `key` as a `T` (`expected` names the type in errors);
    /// `None` when absent or given as `None`.
    fn take<T>(&mut self, key: &str, expected: &str) -> PyResult<Option<T>>
    where
        T: for<'a> FromPyObject<'a, 'py>,
    {
        let Some(dict) = &self.dict else { return Ok(None) };
        let Some(value) = dict.get_item(key)? else { return Ok(None) };
        dict.del_item(key)?;
        if value.is_none() {
            return Ok(None);
        }
        match value.extract::<T>() {
            Ok(v) => Ok(Some(v)),
            Err(_) => Err(PyTypeError::new_err(format!(
                "{}(): {key} must be {expected}, not {}",
                self.function,
                value.get_type().name()?
            ))),
        }
    }

    /// A string option that must be one of `choices`.
    fn choice(&mut self, key: &str, choices: &[&str]) -> PyResult<Option<String>> {
        let Some(value) = self.take::<String>(key, "str")? else { return Ok(None) };
        if choices.contains(&value.as_str()) {
            Ok(Some(value))
        } else {
            Err(PyValueError::new_err(format!(
                "{}(): {key} must be one of {}, not {value:?}",
                self.function,
                choices.join(", ")
            )))
        }
    }

    /// A shard `"I/N"` (`--shard I/N`).
    fn shard(&mut self) -> PyResult<Option<commands::Shard>> {
        let Some(text) = self.take::<String>("shard", "str \"I/N\"")? else { return Ok(None) };
        text.parse().map(Some).map_err(|err| PyValueError::new_err(format!("{}(): shard: {err}", self.function)))
    }

    /// Fails on the first keyword nobody took.
    fn finish(self) -> PyResult<()> {
        if let Some(dict) = self.dict
            && let Some((key, _)) = dict.iter().next()
        {
            return Err(PyTypeError::new_err(format!(
                "{}() got an unexpected keyword argument {}",
                self.function,
                key.repr()?
            )));
        }
        Ok(())
    }
}

/// One path or several: `str`, `os.PathLike`, or a sequence of them.
fn paths(function: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(path) = value.extract::<PathBuf>() {
        return Ok(vec![path]);
    }
    value.extract::<Vec<PathBuf>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{function}(): paths must be a str, an os.PathLike or a sequence of them, not {}",
            value.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))
    })
}

/// Runs `command` without the GIL and converts its report, or raises
/// `nanscope.NanscopeError` with the command's error (and its causes).
fn run<F>(py: Python<'_>, command: F) -> PyResult<Py<PyAny>>
where
    F: FnOnce() -> Result<Report, CommandError> + Send,
{
    let result = py.detach(move || command().map(|report| report.to_json(nanscope::VERSION)));
    match result {
        Ok(json) => Ok(to_python(py, &json)?.unbind()),
        Err(err) => Err(nanscope_error(py, &err)),
    }
}

/// `nanscope.NanscopeError(message)`, the class the Python package defines.
fn nanscope_error(py: Python<'_>, err: &CommandError) -> PyErr {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    match py.import("nanscope._api").and_then(|m| m.getattr("NanscopeError")).and_then(|cls| cls.call1((&message,))) {
        Ok(exception) => PyErr::from_value(exception),
        Err(err) => err,
    }
}

/// A JSON value as Python objects; objects keep their key order.
fn to_python<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py)?,
            (None, Some(u)) => u.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?,
        },
        Value::String(s) => s.into_bound_py_any(py)?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_python(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// Scans checkpoints: `nanscope weights`.
#[pyfunction]
#[pyo3(signature = (paths, **options))]
fn scan_weights(py: Python<'_>, paths: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    const F: &str = "scan_weights";
    let mut kw = Kwargs::new(F, options)?;
    let mut opts = commands::WeightsOptions::new(self::paths(F, paths)?);
    if let Some(target) = kw.choice("target_dtype", &["fp16", "bf16", "none"])? {
        opts.scan.target = match target.as_str() {
            "fp16" => commands::TargetDType::F16,
            "bf16" => commands::TargetDType::BF16,
            _ => commands::TargetDType::None,
        };
    }
    if let Some(share) = kw.take("underflow_share", "float")? {
        opts.scan.underflow_share = share;
    }
    if let Some(ratio) = kw.take("range_ratio", "float")? {
        opts.scan.range_ratio = ratio;
    }
    opts.all_tensors = kw.take("all_tensors", "bool")?.unwrap_or(false);
    opts.shard = kw.shard()?;
    kw.finish()?;
    run(py, move || commands::weights(&opts, &commands::Silent))
}

/// Diagnoses videos: `nanscope video check`.
#[pyfunction]
#[pyo3(signature = (paths, **options))]
fn check_video(py: Python<'_>, paths: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    const F: &str = "check_video";
    let mut kw = Kwargs::new(F, options)?;
    let mut opts = commands::VideoCheckOptions::new(self::paths(F, paths)?);
    let t = &mut opts.check.thresholds;
    for (key, field) in [
        ("black_level", &mut t.black_level),
        ("black_share", &mut t.black_share),
        ("white_level", &mut t.white_level),
        ("blank_std", &mut t.blank_std),
        ("freeze_diff", &mut t.freeze_diff),
        ("freeze_min_seconds", &mut t.freeze_min_seconds),
        ("jump_luma", &mut t.jump_luma),
        ("nan_share", &mut t.nan_share),
    ] {
        if let Some(value) = kw.take(key, "float")? {
            *field = value;
        }
    }
    let expect = &mut opts.check.expect;
    expect.audio = kw.take("expect_audio", "bool")?.unwrap_or(false);
    expect.frames = kw.take("expect_frames", "int")?;
    expect.fps = kw.take("expect_fps", "float")?;
    if let Some(tolerance) = kw.take("av_tolerance", "float")? {
        expect.av_tolerance = tolerance;
    }
    opts.check.threads = kw.take("threads", "int")?;
    opts.check.full_resolution = kw.take("full_resolution", "bool")?.unwrap_or(false);
    opts.plot = kw.take("plot", "a path")?;
    opts.shard = kw.shard()?;
    kw.finish()?;
    run(py, move || commands::video_check(&opts))
}

/// Checks pose sequences: `nanscope pose check`.
#[pyfunction]
#[pyo3(signature = (paths, **options))]
fn check_poses(py: Python<'_>, paths: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    const F: &str = "check_poses";
    let mut kw = Kwargs::new(F, options)?;
    let mut opts = commands::PoseCheckOptions::new(self::paths(F, paths)?);
    if let Some(width) = kw.take("width", "int")? {
        opts.check.width = width;
    }
    if let Some(height) = kw.take("height", "int")? {
        opts.check.height = height;
    }
    opts.source_size = kw.take::<(u32, u32)>("source_size", "a (width, height) pair")?.map(|(w, h)| [w, h]);
    let c = &mut opts.check;
    for (key, field) in [
        ("canvas_tolerance", &mut c.canvas_tolerance),
        ("max_score", &mut c.max_score),
        ("jump_threshold", &mut c.jump_threshold),
        ("min_jump", &mut c.min_jump),
    ] {
        if let Some(value) = kw.take(key, "float")? {
            *field = value;
        }
    }
    opts.expect_frames = kw.take("expect_frames", "int")?;
    opts.audio = kw.take("audio", "a path")?;
    if let Some(fps) = kw.take("fps", "float")? {
        opts.fps = fps;
    }
    opts.all_frames = kw.take("all_frames", "bool")?.unwrap_or(false);
    opts.shard = kw.shard()?;
    kw.finish()?;
    run(py, move || commands::pose_check(&opts))
}

/// Checks reference images: `nanscope image check`.
#[pyfunction]
#[pyo3(signature = (paths, **options))]
fn check_image(py: Python<'_>, paths: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    const F: &str = "check_image";
    let mut kw = Kwargs::new(F, options)?;
    let mut opts = commands::ImageCheckOptions::new(self::paths(F, paths)?);
    let c = &mut opts.check;
    if let Some(size) = kw.take("size", "a (width, height) pair")? {
        c.size = size;
    }
    for (key, field) in [
        ("aspect_tolerance", &mut c.aspect_tolerance),
        ("blank_std", &mut c.blank_std),
        ("black_share", &mut c.black_share),
        ("clip_share", &mut c.clip_share),
    ] {
        if let Some(value) = kw.take(key, "float")? {
            *field = value;
        }
    }
    if let Some(range) = kw.choice("range", &["auto", "0-1", "-1-1", "0-255", "0-65535"])? {
        c.range = match commands::ImageRange::parse(&range) {
            Some(declared) => commands::RangeChoice::Declared(declared),
            None => commands::RangeChoice::Auto,
        };
    }
    if let Some(max) = kw.take("max_pixels", "int")? {
        c.max_pixels = max;
    }
    c.plot_dir = kw.take("plot", "a path")?;
    kw.finish()?;
    run(py, move || commands::image_check(&opts))
}

/// Finds the signatures of a failed generation in logs: `nanscope log check`.
#[pyfunction]
#[pyo3(signature = (paths, **options))]
fn check_log(py: Python<'_>, paths: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    const F: &str = "check_log";
    let mut kw = Kwargs::new(F, options)?;
    let mut opts = commands::LogCheckOptions::new(self::paths(F, paths)?);
    if let Some(max) = kw.take("max_findings", "int")? {
        opts.log.max_findings_per_rule = max;
    }
    kw.finish()?;
    run(py, move || commands::log_check(&opts))
}

/// Checks pipeline configurations: `nanscope config check`.
#[pyfunction]
#[pyo3(signature = (paths, **options))]
fn check_config(py: Python<'_>, paths: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    const F: &str = "check_config";
    let mut kw = Kwargs::new(F, options)?;
    let mut opts = commands::ConfigCheckOptions::new(self::paths(F, paths)?);
    opts.config.root = kw.take("root", "a path")?;
    opts.config.variant = kw.choice("variant", &["normal", "acc"])?.map(|v| match v.as_str() {
        "acc" => commands::Variant::Acc,
        _ => commands::Variant::Normal,
    });
    if let Some((w, h)) = kw.take::<(u32, u32)>("pose_size", "a (width, height) pair")? {
        opts.config.pose_size = [w, h];
    }
    if let Some(set) = kw.take::<BTreeMap<String, f64>>("set", "a dict of str to number")? {
        opts.config.set = set.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    }
    kw.finish()?;
    run(py, move || commands::config_check(&opts))
}

/// Names where NaN/Inf first appeared in a probe dump: `nanscope trace`.
#[pyfunction]
#[pyo3(signature = (dump, **options))]
fn trace(py: Python<'_>, dump: PathBuf, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    let mut kw = Kwargs::new("trace", options)?;
    let mut opts = commands::TraceOptions::new(dump);
    let analysis = &mut opts.trace.analysis;
    if let Some(headroom) = kw.take("headroom", "float")? {
        analysis.headroom = headroom;
    }
    if let Some(dtype) = kw.choice("headroom_dtype", &["auto", "fp16", "bf16"])? {
        analysis.headroom_dtype = match dtype.as_str() {
            "fp16" => Some(commands::DType::F16),
            "bf16" => Some(commands::DType::BF16),
            _ => None,
        };
    }
    if let Some(top) = kw.take("headroom_top", "int")? {
        analysis.headroom_top = top;
    }
    if let Some(patterns) = kw.take::<Vec<String>>("allow_neg_inf", "a list of str")? {
        analysis.allow_neg_inf.extend(patterns);
    }
    opts.trace.recompute_stats = kw.take("recompute_stats", "bool")?.unwrap_or(false);
    opts.plot = kw.take("plot", "a path")?;
    kw.finish()?;
    run(py, move || commands::trace(&opts))
}

/// Checks a diffusers scheduler configuration: `nanscope scheduler`.
#[pyfunction]
#[pyo3(signature = (config, **options))]
fn scheduler(py: Python<'_>, config: PathBuf, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    let mut kw = Kwargs::new("scheduler", options)?;
    let mut opts = commands::SchedulerOptions::new(config);
    if let Some(steps) = kw.take("steps", "int")? {
        opts.steps = steps;
    }
    if let Some(space) = kw.choice("space", &["latent", "pixel"])? {
        opts.latent = space == "latent";
    }
    opts.model_prediction =
        kw.choice("model_prediction", &["epsilon", "v_prediction", "sample"])?.map(|p| match p.as_str() {
            "epsilon" => commands::PredictionType::Epsilon,
            "v_prediction" => commands::PredictionType::VPrediction,
            _ => commands::PredictionType::Sample,
        });
    kw.finish()?;
    run(py, move || commands::scheduler(&opts))
}

/// The rule catalogue, or one rule: `nanscope rules`.
#[pyfunction]
#[pyo3(signature = (code=None, **options))]
fn rules(py: Python<'_>, code: Option<String>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    Kwargs::new("rules", options)?.finish()?;
    let opts = commands::RulesOptions::new(code);
    run(py, move || commands::rules(&opts))
}

/// Every check over a run folder and one verdict: `nanscope postmortem`.
#[pyfunction]
#[pyo3(signature = (paths, **options))]
fn postmortem(py: Python<'_>, paths: &Bound<'_, PyAny>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    const F: &str = "postmortem";
    let mut kw = Kwargs::new(F, options)?;
    let mut opts = commands::PostmortemOptions::new(self::paths(F, paths)?);
    opts.fps = kw.take("fps", "float")?;
    kw.finish()?;
    run(py, move || commands::postmortem(&opts, &commands::PostmortemSilent))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan_weights, m)?)?;
    m.add_function(wrap_pyfunction!(check_video, m)?)?;
    m.add_function(wrap_pyfunction!(check_poses, m)?)?;
    m.add_function(wrap_pyfunction!(check_image, m)?)?;
    m.add_function(wrap_pyfunction!(check_log, m)?)?;
    m.add_function(wrap_pyfunction!(check_config, m)?)?;
    m.add_function(wrap_pyfunction!(trace, m)?)?;
    m.add_function(wrap_pyfunction!(scheduler, m)?)?;
    m.add_function(wrap_pyfunction!(rules, m)?)?;
    m.add_function(wrap_pyfunction!(postmortem, m)?)?;
    Ok(())
}
