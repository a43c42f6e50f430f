//! An in-house pickle interpreter that builds inert values and calls nothing.
//!
//! Torch checkpoints, pickled NumPy arrays and EchoMimicV2 pose files are
//! pickles. Loading one with Python's `pickle` runs whatever callables it
//! names; this interpreter only records them, classifies every global against
//! an allowlist and reports the rest. It must never import, call or execute
//! anything, and never allocate a size it read from the stream unchecked.

mod alerts;
mod allowlist;
mod containers;
mod machine;
pub mod numpy;
mod objects;
mod reader;
mod stream;
mod value;
pub mod writer;

#[cfg(test)]
mod tests;

pub use alerts::{Alert, ErrorKind, Location, PickleError, alert_findings, error_finding};
pub use allowlist::classify;
pub use machine::{Limits, unpickle};
pub use stream::{MAX_FOLLOWING, following, following_findings, is_pickle};
pub use value::{Bytes, Construction, Dict, Global, Node, NodeId, Object, Pickle, Trust, Value};
