//! Replays every committed fuzz input (`fuzz/corpus/<target>/`, the crashes
//! fuzzing found included) through its target under the fuzzing contract:
//! no panic, bounded heap, bounded time.

mod fuzz;

use std::path::Path;
use std::sync::Mutex;

use fuzz::contract::{self, Breach, Budget};
use fuzz::targets::{Accept, Scratch, TARGETS, Target, corpus};

#[global_allocator]
static ALLOC: fuzz::alloc::Counting = fuzz::alloc::Counting;

/// Heap is measured process-wide: tests that measure it take turns.
static MEASURING: Mutex<()> = Mutex::new(());

#[test]
fn every_corpus_input_keeps_the_contract() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    contract::quiet_panics();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch_root = tempfile::tempdir().unwrap();
    let budget = Budget::default();
    let mut breaches = Vec::new();
    let mut replayed = 0;
    for target in TARGETS {
        let inputs = corpus(target, root);
        assert!(!inputs.is_empty(), "fuzz/corpus/{} holds no input", target.name);
        let scratch = Scratch::new(target, root, scratch_root.path().join(target.name)).unwrap();
        for (path, bytes) in inputs {
            replayed += 1;
            if let Err(breach) = contract::run(target, &bytes, &scratch, &budget, -1) {
                breaches.push(format!("{}: {breach}", path.strip_prefix(root).unwrap_or(&path).display()));
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "{} of {replayed} inputs broke the contract:\n{}",
        breaches.len(),
        breaches.join("\n")
    );
}

#[test]
fn the_contract_catches_panics_and_amplification() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    contract::quiet_panics();
    fn panics(_: &[u8], _: &Scratch) -> u64 {
        let dims = std::hint::black_box([u64::MAX, 2]);
        dims.iter().product()
    }
    fn amplifies(_: &[u8], _: &Scratch) -> u64 {
        // Zeroed pages are not touched, so this costs no real memory.
        std::hint::black_box(vec![0u8; 300 << 20]).len() as u64
    }
    let fake =
        |run| Target { name: "self-test", seeds: &[], accept: Accept::Extension("x"), file: "x", beside: None, run };
    let scratch = tempfile::tempdir().unwrap();
    let budget = Budget::default();
    let target = fake(panics);
    let scratch = Scratch::new(&target, scratch.path(), scratch.path().join("s")).unwrap();
    match contract::run(&target, b"input", &scratch, &budget, -1) {
        Err(Breach::Panic(message)) => assert!(message.contains("overflow"), "{message}"),
        other => panic!("{other:?}"),
    }
    match contract::run(&fake(amplifies), b"input", &scratch, &budget, -1) {
        Err(Breach::Memory { heap, .. }) => assert!(heap >= 300 << 20, "{heap}"),
        other => panic!("{other:?}"),
    }
}
