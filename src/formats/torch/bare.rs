//! A bare pickle stream (e.g. a pickled dict of NumPy arrays): the arrays it
//! holds become tensors named by their dotted path, read in place from the
//! mapped file when the pickle stores their bytes directly.

use super::entries::{array_entries, pickle_findings, problem_findings, root};
use super::walk::walk;
use crate::formats::Parsed;
use crate::formats::pickle::{Limits, Location, unpickle};
use crate::report::{Finding, Subject};
use crate::rules::format as rules;

pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    let mut out = Parsed::default();
    let limits = Limits::default();
    let pickle = unpickle(bytes, 0, &limits);
    let at = Location { file: label, entry: None, base: 0 };
    pickle_findings(&pickle, at, &mut out);
    let Some(root) = root(&pickle) else { return out };
    let found = walk(&pickle, root, limits.max_depth);
    problem_findings(&found.problems, at, &mut out);
    // A torch tensor needs storages that only torch's file formats carry.
    for (name, spec) in &found.tensors {
        out.findings.push(
            Finding::new(
                &rules::BROKEN_ARCHIVE,
                format!("tensor {name} refers to storage {}, but a bare pickle carries no storages", spec.storage.key),
            )
            .with_subject(Subject::tensor(label, name)),
        );
    }
    array_entries(&pickle, &found, Some(0), at, &mut out);
    out
}
