//! nanscope finds where a video-generation pipeline's numbers went wrong.
//!
//! The library reads inputs (`formats`), computes statistics (`numerics`),
//! checks them (`weights`, …) and returns `Finding`s in a `Report`. It never
//! prints, never exits the process and never decides exit codes: that is the
//! job of the command line, `cli`, the one module that writes to the terminal.

/// The command line: argument parsing, rendering to the terminal, exit codes.
/// Public so that the binary and the Python package's extension module run the
/// same CLI; not part of the library's API.
#[doc(hidden)]
pub mod cli;
pub mod commands;
pub mod config;
pub mod formats;
pub mod gate;
pub mod image;
pub mod log;
pub mod numerics;
pub mod pose;
pub mod postmortem;
pub mod replay;
pub mod report;
pub mod rules;
pub mod trace;
pub mod video;
pub mod weights;

/// The version written into every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
