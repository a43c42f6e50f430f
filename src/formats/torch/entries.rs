//! Turning what the walk found into tensor entries and findings, shared by
//! the zip, legacy and bare-pickle readers.

use std::sync::Arc;

use super::rebuild::{QParam, TensorSpec};
use super::walk::{Problem, ProblemKind, Walk};
use crate::formats::pickle::{Location, Pickle, Value, alert_findings, error_finding, numpy};
use crate::formats::{Parsed, Storage, TensorEntry};
use crate::numerics::{ByteOrder, DType, StridedView};
use crate::report::{Finding, Severity, Subject};
use crate::rules::format as rules;

/// A storage's bytes as a reader located them, and the zip entry (if any)
/// they came from, for findings.
pub(super) struct StorageBytes {
    pub storage: Storage,
    pub len: u64,
    pub entry: Option<String>,
}

/// Findings for what the interpreter refused and for a stream that failed.
pub(super) fn pickle_findings(pickle: &Pickle, at: Location, out: &mut Parsed) {
    out.findings.extend(alert_findings(&pickle.alerts, at));
    if let Err(error) = &pickle.root {
        out.findings.push(error_finding(error, at));
    }
}

/// Findings for the walk's problems: malformed structures and nesting are
/// F109, tensors that are recognised but not read are F106.
pub(super) fn problem_findings(problems: &[Problem], at: Location, out: &mut Parsed) {
    for problem in problems {
        let subject = Subject::tensor(at.file, &problem.name);
        let finding = match problem.kind {
            ProblemKind::Malformed | ProblemKind::TooDeep => {
                Finding::new(&rules::MALFORMED_PICKLE, format!("{}: {}", problem.name, problem.why))
            }
            ProblemKind::Unsupported => {
                crate::formats::unsupported_dtype(at.file, &problem.name, format!("{}: {}", problem.name, problem.why))
                    .with_severity(Severity::Info)
            }
        };
        let mut finding = finding.with_subject(subject);
        if let Some(entry) = at.entry {
            finding = finding.with_evidence("entry", entry);
        }
        out.findings.push(finding);
    }
}

/// One torch tensor over its located storage, after checking that the
/// storage holds what the pickle declares and the view stays inside it.
pub(super) fn tensor_entry(
    label: &str,
    name: &str,
    spec: &TensorSpec,
    bytes: &StorageBytes,
    order: ByteOrder,
) -> Result<TensorEntry, Box<Finding>> {
    let layout = |message: String| {
        let mut finding = crate::formats::invalid_layout(label, name, format!("{name}: {message}"));
        if let Some(entry) = &bytes.entry {
            finding = finding.with_evidence("entry", entry.as_str());
        }
        Box::new(finding)
    };
    let Some(size) = spec.dtype.size() else {
        return Err(layout(format!("dtype {} is not byte-sized", spec.dtype)));
    };
    let declared =
        if spec.storage.is_untyped() { Some(spec.storage.numel) } else { spec.storage.numel.checked_mul(size) };
    match declared {
        Some(declared) if declared <= bytes.len => {}
        _ => {
            return Err(layout(format!(
                "storage {} holds {} bytes but the pickle declares {} {} elements",
                spec.storage.key, bytes.len, spec.storage.numel, spec.storage.class
            )));
        }
    }
    let view = StridedView { offset: spec.offset, strides: spec.strides.clone() };
    let available = bytes.len / size;
    let extent = view.extent(&spec.shape).map_err(|err| layout(err.to_string()))?;
    if extent > available {
        return Err(layout(format!(
            "view (offset {}, shape {:?}, strides {:?}) needs {extent} elements but storage {} holds {available}",
            spec.offset, spec.shape, spec.strides, spec.storage.key
        )));
    }
    let whole = spec.offset == 0 && view.is_contiguous(&spec.shape);
    Ok(TensorEntry {
        name: name.to_string(),
        dtype: spec.dtype,
        shape: spec.shape.clone(),
        view: (!whole).then_some(view),
        storage: bytes.storage.clone(),
        order,
    })
}

/// Numeric NumPy arrays found in a pickle. `mapped_at` is where the pickle's
/// input starts in the mapped file when it is read in place, so array bytes
/// can stay in the map; otherwise they are copied.
pub(super) fn array_entries(pickle: &Pickle, walk: &Walk, mapped_at: Option<usize>, at: Location, out: &mut Parsed) {
    for (name, value) in &walk.arrays {
        let Some(Ok(array)) = numpy::array(pickle, value) else { continue };
        let (Some(dtype), numpy::ArrayData::Raw { bytes, span }) = (array.dtype, &array.data) else {
            out.findings.push(
                crate::formats::unsupported_dtype(
                    at.file,
                    name,
                    format!("array {name} has dtype {}, which is not numeric", array.descr),
                )
                .with_severity(Severity::Info),
            );
            continue;
        };
        let storage = match (mapped_at, span) {
            (Some(base), Some((start, len))) => Storage::Mapped { start: base + start, len: *len },
            _ => Storage::Owned(Arc::new(bytes.to_vec())),
        };
        let view = array.fortran_order.then(|| {
            let mut strides = Vec::with_capacity(array.shape.len());
            let mut acc = 1u64;
            for &dim in &array.shape {
                strides.push(acc);
                acc = acc.saturating_mul(dim);
            }
            StridedView { offset: 0, strides }
        });
        out.tensors.push(TensorEntry {
            name: name.clone(),
            dtype,
            shape: array.shape.clone(),
            view,
            storage,
            order: array.order,
        });
    }
}

/// The root value of a pickle that interpreted cleanly.
pub(super) fn root(pickle: &Pickle) -> Option<Value> {
    pickle.root.as_ref().ok().copied()
}

/// The walk's scalars (quantizer parameters) as 0-d tensors of their own.
pub(super) fn scalar_entries(walk: &Walk, out: &mut Parsed) {
    for (name, scalar) in &walk.scalars {
        let (dtype, bytes) = match scalar {
            QParam::Float(f) => (DType::F64, f.to_le_bytes()),
            QParam::Int(i) => (DType::I64, i.to_le_bytes()),
            QParam::Tensor(_) => continue,
        };
        out.tensors.push(TensorEntry {
            name: name.clone(),
            dtype,
            shape: vec![],
            view: None,
            storage: Storage::Owned(Arc::new(bytes.to_vec())),
            order: ByteOrder::Little,
        });
    }
}
