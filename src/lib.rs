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

/// Declares the domain modules: crate-private, or public but hidden with
/// the `internals` feature, which only the integration tests in tests/ and
/// the fuzz targets of tests/fuzz/targets.rs turn on (they drive the readers
/// and checks directly, on bytes and on values no command line can produce).
/// `commands` re-exports the option types a library user needs.
macro_rules! domain_modules {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        // A module's `pub use` facade is what the tests reach; the
        // internals build (clippy's) still reports every other unused import.
        #[cfg(not(feature = "internals"))]
        #[allow(unused_imports)]
        pub(crate) mod $name;
    )*};
}

domain_modules!(config, formats, gate, image, log, numerics, pose, postmortem, replay, trace, video, weights);

/// The version written into every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
