//! The contract every input must keep: it ends in findings or an error,
//! never a panic; it never makes more heap live than a small multiple of its
//! size plus a fixed cap; it never takes more than a few seconds per MiB.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::alloc;
use super::targets::{Scratch, Target};

const MIB: usize = 1 << 20;

/// The bounds one input is held to.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Heap may grow by `memory_factor × input + memory_cap` bytes.
    pub memory_factor: usize,
    pub memory_cap: usize,
    /// Time allowed: `time_base + time_per_mib × MiB of input`.
    pub time_base: Duration,
    pub time_per_mib: Duration,
}

impl Default for Budget {
    /// Generous enough for an unoptimised build on a slow machine: breaking
    /// it takes an amplification, not a slow day.
    fn default() -> Self {
        Budget {
            memory_factor: 16,
            memory_cap: 256 * MIB,
            time_base: Duration::from_secs(5),
            time_per_mib: Duration::from_secs(5),
        }
    }
}

impl Budget {
    pub fn memory(&self, input_len: usize) -> usize {
        input_len.saturating_mul(self.memory_factor).saturating_add(self.memory_cap)
    }

    pub fn time(&self, input_len: usize) -> Duration {
        self.time_base + self.time_per_mib.mul_f64(input_len as f64 / MIB as f64)
    }

    /// Where the process is stopped outright: far past the contract, so
    /// that a contract breach is reported and fuzzing goes on, while a
    /// runaway allocation never reaches the machine's limit.
    pub fn ceiling(&self, input_len: usize) -> usize {
        self.memory(input_len).saturating_mul(4).max(2048 * MIB)
    }
}

/// How one run of one input went.
#[derive(Debug, Clone)]
pub struct Run {
    /// What the target made of the input (a digest of its findings), used
    /// to keep inputs that reach new outcomes.
    pub signature: u64,
    pub elapsed: Duration,
    /// Peak heap growth over the bytes live before the run.
    pub heap: usize,
}

/// A broken contract.
#[derive(Debug, Clone)]
pub enum Breach {
    Panic(String),
    Memory { heap: usize, allowed: usize },
    Time { elapsed: Duration, allowed: Duration },
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Breach::Panic(message) => write!(f, "panic: {message}"),
            Breach::Memory { heap, allowed } => {
                write!(f, "heap grew by {heap} bytes, more than the {allowed} allowed")
            }
            Breach::Time { elapsed, allowed } => write!(f, "took {elapsed:?}, more than the {allowed:?} allowed"),
        }
    }
}

/// Runs `target` on `input` under `budget`. `save_fd` receives the input if
/// the memory ceiling stops the process (-1: nowhere).
pub fn run(target: &Target, input: &[u8], scratch: &Scratch, budget: &Budget, save_fd: i32) -> Result<Run, Breach> {
    let before = alloc::live();
    alloc::reset_peak();
    alloc::arm(before.saturating_add(budget.ceiling(input.len())), input, save_fd);
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(input, scratch)));
    let elapsed = start.elapsed();
    alloc::disarm();
    let heap = alloc::peak().saturating_sub(before);
    let signature = outcome.map_err(|payload| Breach::Panic(panic_message(payload.as_ref())))?;
    let allowed = budget.memory(input.len());
    if heap > allowed {
        return Err(Breach::Memory { heap, allowed });
    }
    let allowed = budget.time(input.len());
    if elapsed > allowed {
        return Err(Breach::Time { elapsed, allowed });
    }
    Ok(Run { signature, elapsed, heap })
}

/// Where the last panic happened (any thread: rayon workers panic too).
static PANIC_AT: Mutex<Option<String>> = Mutex::new(None);

/// Replaces the panic hook with one that remembers where a panic happened
/// instead of printing it: a breach is reported once, with its location.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let mut at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        // A panic inside the standard library (an overflowing `product`)
        // is placed at the project's frame that called it.
        if at.as_deref().is_some_and(|at| !at.starts_with("src/")) {
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            let ours = trace.lines().map(str::trim).filter_map(|l| l.strip_prefix("at ")).find(|l| {
                let file = l.trim_start_matches("./");
                file.starts_with("src/")
                    || file.contains("/src/") && !file.contains("/rustc/") && !file.contains("/.cargo/")
            });
            at = ours.map(|l| l.trim_start_matches("./").to_string()).or(at);
        }
        if let Ok(mut slot) = PANIC_AT.lock() {
            *slot = at;
        }
    }));
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into());
    match PANIC_AT.lock().ok().and_then(|mut slot| slot.take()) {
        Some(at) => format!("{message} at {at}"),
        None => message,
    }
}
