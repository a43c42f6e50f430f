//! nanscope finds where a video-generation pipeline's numbers went wrong.
//!
//! The library's API is three modules:
//! - `commands`: one function per command (`weights`, `video_check`,
//!   `image_check`, …) taking a `#[non_exhaustive]` options struct and
//!   returning the command's `Report`, and the option types they hold;
//! - `report`: `Report`, `Finding`, `Section`, `Outcome` and the renderers;
//! - `rules`: the catalogue of findings.
//!
//! The library never prints, never exits the process and never decides exit
//! codes: that is the job of the command line, `cli`, the one module that
//! writes to the terminal.

/// The command line: argument parsing, rendering to the terminal, exit codes.
/// Public so that the binary and the Python package's extension module run the
/// same CLI; not part of the library's API.
#[doc(hidden)]
pub mod cli;
pub mod commands;
pub mod report;
pub mod rules;

// The domain modules below are not API: `commands` is. They stay reachable
// (hidden) only because the integration tests in tests/ and the fuzz targets
// of tests/fuzz/targets.rs drive their readers and checks directly, on bytes
// and on values no command line can produce.
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod formats;
#[doc(hidden)]
pub mod gate;
#[doc(hidden)]
pub mod image;
#[doc(hidden)]
pub mod log;
#[doc(hidden)]
pub mod numerics;
#[doc(hidden)]
pub mod pose;
#[doc(hidden)]
pub mod postmortem;
#[doc(hidden)]
pub mod replay;
#[doc(hidden)]
pub mod trace;
#[doc(hidden)]
pub mod video;
#[doc(hidden)]
pub mod weights;

/// The version written into every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
