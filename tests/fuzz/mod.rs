//! The fuzzing contract and its targets, shared by the corpus replay test
//! (`tests/fuzz_corpus.rs`) and the mutation fuzzer (`examples/fuzz`).

// Each of the two uses a part of this module (the replay test has no use for
// seed discovery, the fuzzer none for the corpus-only listing).
#![allow(dead_code)]

pub mod alloc;
pub mod contract;
pub mod targets;
