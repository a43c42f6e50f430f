#!/usr/bin/env bash
# A bounded fuzzing run: every target of examples/fuzz for a few seconds,
# each input held to the contract (no panic, bounded heap, bounded time).
# CI runs it after the tests; a breach fails the run and the input that
# caused it is left under fuzz/out/<target>/ (add it to fuzz/corpus/<target>/
# with the fix, so that `cargo test` replays it).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# The seed comes from the commit (FUZZ_SEED overrides it), so a run can be
# repeated and each commit explores different mutations.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-12}
shift || true
seed=${FUZZ_SEED:-$((16#$(git rev-parse --short=8 HEAD 2>/dev/null || echo 1)))}
# The unoptimised build is the one `cargo test` already made, and the one
# whose overflow checks turn silent wrap-arounds into reported panics.
cargo build --locked --quiet --example fuzz
echo "fuzz: $seconds s per target, seed $seed (FUZZ_SEED=$seed repeats it)"
exec target/debug/examples/fuzz --seconds "$seconds" --seed "$seed" "$@"
