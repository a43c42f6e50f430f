//! A progress bar on stderr for work that takes longer than about a second.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::GlobalArgs;

/// Work shorter than this never shows a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

pub struct Bar {
    bar: ProgressBar,
    started: Instant,
    enabled: bool,
    shown: AtomicBool,
}

impl Bar {
    /// A byte-counting bar, drawn only when stderr is a terminal and neither
    /// `--quiet` nor `--no-progress` was given.
    pub fn bytes(global: &GlobalArgs) -> Bar {
        let enabled = !global.quiet && !global.no_progress && std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {wide_msg} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}")
        {
            bar.set_style(style);
        }
        Bar { bar, started: Instant::now(), enabled, shown: AtomicBool::new(false) }
    }

    fn reveal(&self) {
        if self.enabled && !self.shown.load(Ordering::Relaxed) && self.started.elapsed() >= SHOW_AFTER {
            self.shown.store(true, Ordering::Relaxed);
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl crate::weights::Progress for Bar {
    fn file(&self, label: &str, bytes: u64) {
        self.bar.set_message(label.to_string());
        self.bar.set_length(bytes);
        self.bar.set_position(0);
        self.reveal();
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        self.reveal();
    }
}

/// A bar counting finished checks, for commands that run several at once.
pub struct Steps {
    bar: ProgressBar,
    enabled: bool,
}

impl Steps {
    pub fn new(global: &GlobalArgs, what: &str) -> Steps {
        let enabled = !global.quiet && !global.no_progress && std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {pos}/{len} checks {wide_msg}") {
            bar.set_style(style);
        }
        bar.set_prefix(what.to_string());
        if enabled {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Steps { bar, enabled }
    }

    pub fn finish(&self) {
        if self.enabled {
            self.bar.finish_and_clear();
        }
    }
}

impl crate::postmortem::Progress for Steps {
    fn start(&self, total: usize) {
        self.bar.set_length(total as u64);
    }

    fn done(&self, what: &str) {
        self.bar.set_message(format!("done: {what}"));
        self.bar.inc(1);
    }
}
