//! A bare pickle stream (e.g. a pickled dict of NumPy arrays): the arrays it
//! holds become tensors named by their dotted path, read in place from the
//! mapped file when the pickle stores their bytes directly. Every pickle of
//! the stream is read, not only the first: a loader may read them all.

use super::entries::{array_entries, pickle_findings, problem_findings, root};
use super::walk::{ROOT_NAME, walk};
use crate::formats::Parsed;
use crate::formats::pickle::{Limits, Location, Pickle, following, following_findings, unpickle};

pub fn parse(bytes: &[u8], label: &str) -> Parsed {
    read_stream(bytes, 0, Location { file: label, entry: None, base: 0 }, Some(0))
}

/// Every pickle from `start` to the end of `input`, with their alerts and
/// the arrays they hold. `mapped_at` is where `input` starts in the mapped
/// file when array bytes may stay in the map (`None` copies them). Tensors
/// of the first pickle are named by their path; those of later pickles get
/// a `pickle<N>.` prefix.
pub fn read_stream(input: &[u8], start: usize, at: Location, mapped_at: Option<usize>) -> Parsed {
    let mut out = Parsed::default();
    let limits = Limits::default();
    let first = unpickle(input, start, &limits);
    pickle_findings(&first, at, &mut out);
    let rest = if first.root.is_ok() { following(input, first.end, &limits) } else { Vec::new() };
    out.findings.extend(following_findings(&rest, input.len(), at));
    let all: Vec<&Pickle> = std::iter::once(&first).chain(&rest).collect();
    read_pickles(&all, at, mapped_at, &mut out);
    out
}

/// The tensors and arrays of pickles already interpreted (their alerts are
/// the caller's to report).
pub fn read_pickles(pickles: &[&Pickle], at: Location, mapped_at: Option<usize>, out: &mut Parsed) {
    let limits = Limits::default();
    for (index, pickle) in pickles.iter().enumerate() {
        let Some(root) = root(pickle) else { continue };
        let mut found = walk(pickle, root, limits.max_depth);
        if index > 0 {
            let prefix = |name: &mut String| {
                *name = if name == ROOT_NAME {
                    format!("pickle{}", index + 1)
                } else {
                    format!("pickle{}.{name}", index + 1)
                }
            };
            found.tensors.iter_mut().for_each(|(name, _)| prefix(name));
            found.arrays.iter_mut().for_each(|(name, _)| prefix(name));
            found.problems.iter_mut().for_each(|problem| prefix(&mut problem.name));
        }
        problem_findings(&found.problems, at, out);
        // A torch tensor needs storages that only torch's file formats carry.
        for (name, spec) in &found.tensors {
            out.findings.push(crate::formats::missing_storage(
                at.file,
                name,
                format!("tensor {name} refers to storage {}, but a bare pickle carries no storages", spec.storage.key),
            ));
        }
        array_entries(pickle, &found, mapped_at, at, out);
    }
}
