//! `nanscope log check`: the signatures of a failed generation in server and
//! inference logs (plain text, JSON lines, gzip), streamed at disk speed.
//!
//! The check returns typed results; `report` turns them into a `Report`.
//! Nothing here prints or decides exit codes.

mod check;
pub mod notebook;
mod params;
mod prefetch;
mod report;
mod scan;
mod signature;
pub(crate) mod timestamp;

pub use check::{LogCheck, LogFile, LogOptions, TimelineEvent, check, check_file, check_reader};
pub use params::{RunParameters, Stated};
pub use report::report;
pub(crate) use signature::{exception_type, scheme_named};
