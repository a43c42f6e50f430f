//! Replays every committed fuzz input (`fuzz/corpus/<target>/`, the crashes
//! fuzzing found included) through its target under the fuzzing contract:
//! no panic, bounded heap, bounded time.

mod fuzz;

use std::path::Path;

use fuzz::contract::{self, Budget};
use fuzz::targets::{Scratch, TARGETS, corpus};

#[global_allocator]
static ALLOC: fuzz::alloc::Counting = fuzz::alloc::Counting;

#[test]
fn every_corpus_input_keeps_the_contract() {
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
