//! The mutation fuzzer: for each target, replay its seeds (fixtures and the
//! committed corpus), then mutate them for a fixed time, holding every input
//! to the contract (no panic, bounded heap, bounded time). Inputs that give
//! a new set of findings join the pool; inputs that break the contract are
//! saved under `fuzz/out/<target>/` and make the run fail.
//!
//! ```text
//! cargo run --example fuzz -- [--seconds N] [--seed N] [--report FILE] [--keep-new] [TARGET…]
//! cargo run --example fuzz -- --input FILE… TARGET     # replay files only
//! ```
//!
//! Runs on stable Rust, in-process, with no instrumentation: readers are
//! cheap, so breadth (many executions over structure-aware mutations of
//! real files) stands in for coverage feedback.

// A command-line tool: its output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../../tests/fuzz/mod.rs"]
mod fuzz;
mod mutate;

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fuzz::contract::{self, Breach, Budget};
use fuzz::targets::{Scratch, TARGETS, Target, seeds};
use mutate::{Rng, mutate};

#[global_allocator]
static ALLOC: fuzz::alloc::Counting = fuzz::alloc::Counting;

/// An input still running after this long stops the process (it is saved
/// first): a hang cannot be interrupted in-process.
const HANG: Duration = Duration::from_secs(60);
/// Mutated inputs grow to at most this many bytes.
const MAX_LEN: usize = 4 << 20;
/// Inputs `--keep-new` adds to a target's corpus.
const KEEP_NEW: usize = 16;
/// Breaches reported per target; the rest are counted.
const MAX_REPORTED: usize = 10;

struct Options {
    seconds: f64,
    seed: u64,
    report: Option<PathBuf>,
    keep_new: bool,
    /// Files to replay instead of the seeds, with no mutation.
    inputs: Vec<PathBuf>,
    targets: Vec<&'static Target>,
}

#[derive(Default)]
struct Tally {
    seeds: usize,
    execs: u64,
    outcomes: usize,
    /// One line per kind of breach (the first input of each kind is saved).
    breaches: Vec<String>,
    /// Inputs that broke the contract, all kinds together.
    breach_inputs: usize,
    slowest: Duration,
    most_heap: usize,
    elapsed: Duration,
}

fn main() {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("fuzz: {message}");
            std::process::exit(2);
        }
    };
    contract::quiet_panics();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch_root = std::env::temp_dir().join(format!("nanscope-fuzz-{}", std::process::id()));
    watchdog();
    let mut tallies = Vec::new();
    for (i, target) in options.targets.iter().enumerate() {
        let seed = options.seed.wrapping_add(i as u64);
        let tally = fuzz_target(target, root, &scratch_root.join(target.name), seed, &options);
        println!(
            "{:<16} {:>8} execs {:>7.0}/s {:>4} outcomes {:>3} breaches  slowest {:>7.1} ms  heap {:>6.1} MiB",
            target.name,
            tally.execs,
            tally.execs as f64 / tally.elapsed.as_secs_f64().max(1e-9),
            tally.outcomes,
            tally.breach_inputs,
            tally.slowest.as_secs_f64() * 1e3,
            tally.most_heap as f64 / (1 << 20) as f64
        );
        for breach in tally.breaches.iter().take(MAX_REPORTED) {
            println!("    {breach}");
        }
        tallies.push((target.name, tally));
    }
    let _ = std::fs::remove_dir_all(&scratch_root);
    if let Some(path) = &options.report
        && let Err(err) = std::fs::write(path, table(&tallies, &options))
    {
        eprintln!("fuzz: cannot write {}: {err}", path.display());
        std::process::exit(2);
    }
    let breaches: usize = tallies.iter().map(|(_, t)| t.breach_inputs).sum();
    if breaches > 0 {
        eprintln!("fuzz: {breaches} inputs broke the contract; they are saved under fuzz/out/");
        std::process::exit(1);
    }
}

fn parse_args() -> Result<Options, String> {
    let mut options =
        Options { seconds: 10.0, seed: 1, report: None, keep_new: false, inputs: Vec::new(), targets: Vec::new() };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => options.seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--seed" => options.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--report" => options.report = Some(value("--report")?.into()),
            "--keep-new" => options.keep_new = true,
            "--input" => {
                options.inputs.push(value("--input")?.into());
                options.seconds = 0.0;
            }
            "--list" => {
                TARGETS.iter().for_each(|t| println!("{}", t.name));
                std::process::exit(0);
            }
            name => options.targets.push(
                TARGETS.iter().find(|t| t.name == name).ok_or(format!("unknown target {name} (--list shows them)"))?,
            ),
        }
    }
    if options.targets.is_empty() {
        options.targets = TARGETS.iter().collect();
    }
    Ok(options)
}

/// Milliseconds since the epoch when the running input started (0: idle).
static STARTED_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Stops the process when one input runs longer than `HANG`.
fn watchdog() {
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let started = STARTED_MS.load(Ordering::Relaxed);
            if started != 0 && now_ms().saturating_sub(started) > HANG.as_millis() as u64 {
                eprintln!("\nfuzz: an input has run for more than {HANG:?}");
                fuzz::alloc::stop();
            }
        }
    });
}

fn fuzz_target(target: &Target, root: &Path, scratch_dir: &Path, seed: u64, options: &Options) -> Tally {
    let mut tally = Tally::default();
    let out_dir = root.join("fuzz/out").join(target.name);
    let scratch = match Scratch::new(target, root, scratch_dir.to_path_buf()) {
        Ok(scratch) => scratch,
        Err(err) => {
            tally.breaches.push(format!("cannot prepare the scratch folder: {err}"));
            tally.breach_inputs += 1;
            return tally;
        }
    };
    // The input that stops the process (memory ceiling, hang) lands here.
    let stopped_path = out_dir.join("stopped-input");
    let stopped = std::fs::create_dir_all(&out_dir).and_then(|_| std::fs::File::create(&stopped_path));
    let save_fd = stopped.as_ref().map_or(-1, |f| f.as_raw_fd());
    eprintln!("fuzz: {} (an input that stops the process is saved as {})", target.name, stopped_path.display());
    let budget = Budget::default();
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut outcomes = HashSet::new();
    let mut reported: HashMap<String, usize> = HashMap::new();
    let mut record = |tally: &mut Tally, input: &[u8], result: Result<contract::Run, Breach>, pool_entry: bool| {
        tally.execs += 1;
        match result {
            Ok(run) => {
                tally.slowest = tally.slowest.max(run.elapsed);
                tally.most_heap = tally.most_heap.max(run.heap);
                outcomes.insert(run.signature) && pool_entry
            }
            Err(breach) => {
                tally.breach_inputs += 1;
                let kind = breach_kind(&breach);
                let seen = reported.entry(kind).or_default();
                *seen += 1;
                if *seen == 1 {
                    let name = format!("crash-{:016x}", hash(input));
                    let _ = std::fs::write(out_dir.join(&name), input);
                    tally.breaches.push(format!("fuzz/out/{}/{name}: {breach}", target.name));
                }
                false
            }
        }
    };
    let start = Instant::now();
    let inputs = if options.inputs.is_empty() {
        seeds(target, root)
    } else {
        options.inputs.iter().filter_map(|p| std::fs::read(p).ok().map(|bytes| (p.clone(), bytes))).collect()
    };
    for (path, bytes) in inputs {
        let result = run_timed(target, &bytes, &scratch, &budget, save_fd);
        if let Err(breach) = &result {
            eprintln!("fuzz: seed {} breaks the contract: {breach}", path.display());
        }
        record(&mut tally, &bytes, result, false);
        tally.seeds += 1;
        pool.push(bytes);
    }
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let mut rng = Rng::new(seed);
    let deadline = Duration::from_secs_f64(options.seconds);
    while start.elapsed() < deadline {
        let parent = &pool[rng.below(pool.len())];
        let input = mutate(parent, &pool, &mut rng, MAX_LEN);
        let result = run_timed(target, &input, &scratch, &budget, save_fd);
        if record(&mut tally, &input, result, true) {
            pool.push(input);
        }
    }
    if options.keep_new {
        keep_smallest(&pool[tally.seeds.min(pool.len())..], &root.join("fuzz/corpus").join(target.name));
    }
    tally.elapsed = start.elapsed();
    tally.outcomes = outcomes.len();
    let mut repeated: Vec<String> = reported
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(kind, n)| format!("({n} inputs in all broke it as: {kind})"))
        .collect();
    repeated.sort();
    tally.breaches.extend(repeated);
    drop(stopped);
    if std::fs::metadata(&stopped_path).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&stopped_path);
    }
    tally
}

/// Writes the smallest of the inputs that reached new outcomes into the
/// corpus folder, so that `cargo test` replays them.
fn keep_smallest(found: &[Vec<u8>], dir: &Path) {
    let mut found: Vec<&Vec<u8>> = found.iter().collect();
    found.sort_by_key(|input| input.len());
    let _ = std::fs::create_dir_all(dir);
    for input in found.into_iter().take(KEEP_NEW) {
        let _ = std::fs::write(dir.join(format!("found-{:016x}", hash(input))), input);
    }
}

fn run_timed(
    target: &Target,
    input: &[u8],
    scratch: &Scratch,
    budget: &Budget,
    save_fd: i32,
) -> Result<contract::Run, Breach> {
    STARTED_MS.store(now_ms().max(1), Ordering::Relaxed);
    let result = contract::run(target, input, scratch, budget, save_fd);
    STARTED_MS.store(0, Ordering::Relaxed);
    result
}

/// Breaches of one kind and place count once: a panic at one line, an
/// excess of memory or of time.
fn breach_kind(breach: &Breach) -> String {
    match breach {
        Breach::Panic(message) => {
            let at = message.rsplit_once(" at ").map_or(message.as_str(), |(_, at)| at);
            format!("panic at {at}")
        }
        Breach::Memory { .. } => "memory".into(),
        Breach::Time { .. } => "time".into(),
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The per-target table written by `--report`.
fn table(tallies: &[(&str, Tally)], options: &Options) -> String {
    let mut out = String::from(
        "| target | seeds | executions | per second | distinct outcomes | breaches | slowest input | most heap |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, t) in tallies {
        out += &format!(
            "| {name} | {} | {} | {:.0} | {} | {} | {:.1} ms | {:.1} MiB |\n",
            t.seeds,
            t.execs,
            t.execs as f64 / t.elapsed.as_secs_f64().max(1e-9),
            t.outcomes,
            t.breach_inputs,
            t.slowest.as_secs_f64() * 1e3,
            t.most_heap as f64 / (1 << 20) as f64
        );
    }
    out += &format!("\n{} s per target, seed {}.\n", options.seconds, options.seed);
    out
}
