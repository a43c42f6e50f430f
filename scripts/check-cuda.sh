#!/usr/bin/env bash
# Compiles the `cuda` feature on a machine without a GPU or CUDA toolkit:
# fetches CUDA 13.4's compiler pieces (nvcc, nvvm, headers) from PyPI into
# target/cuda-toolkit once (scripts/cuda-toolkit.sh), then runs clippy on the
# library and binary with the feature, which also builds candle's CUDA kernels
# to PTX. scripts/build-cuda.sh links binaries to carry to a GPU machine.
#
# Only the library holds code behind the feature (the replay engine's device
# choice); the test targets are the same with or without it and are linted by
# scripts/test.sh. The check shares target/ with the rest of the build: the
# crates whose features do not change are reused from the test build, and the
# CUDA builds of candle sit beside the CPU ones (cargo keys them by feature set).
#
#   bash scripts/check-cuda.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# cudarc 0.19 accepts toolkits up to 13.4.
source scripts/cuda-toolkit.sh
cuda_home=$(cuda_toolkit 13.4 "$PWD/target/cuda-toolkit")
"$cuda_home/bin/nvcc" --version | tail -1

rustup component add clippy >/dev/null 2>&1 || true
# The compute capability of H100/H200; without it the kernels' build asks nvidia-smi.
PATH=$cuda_home/bin:$PATH CUDA_PATH=$cuda_home CUDA_ROOT=$cuda_home CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} \
    cargo clippy --lib --bins --locked --features cuda -- -D warnings
