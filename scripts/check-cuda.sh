#!/usr/bin/env bash
# Compiles the `cuda` feature on a machine without a GPU or CUDA toolkit:
# fetches CUDA 13.4's compiler pieces (nvcc, nvvm, headers) from PyPI into
# target/cuda-toolkit once, then runs clippy on the library and binary with the
# feature, which also builds candle's CUDA kernels to PTX. Linking a CUDA binary
# needs the driver's libraries and is left to machines that have them.
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

# cudarc 0.19 accepts toolkits up to 13.4; the wheels' versions must agree.
version=13.4.92
toolkit=$PWD/target/cuda-toolkit
cuda_home=$toolkit/nvidia/cu13
if [ ! -x "$cuda_home/bin/nvcc" ]; then
    wheels=$(mktemp -d)
    trap 'rm -rf "$wheels"' EXIT
    python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$wheels" \
        "nvidia-cuda-nvcc==$version" "nvidia-nvvm==$version" "nvidia-cuda-runtime==$version" \
        "nvidia-cuda-crt==$version" "nvidia-cuda-cccl"
    rm -rf "$toolkit"
    mkdir -p "$toolkit"
    for wheel in "$wheels"/*.whl; do
        python3 -m zipfile -e "$wheel" "$toolkit"
    done
    chmod +x "$cuda_home"/bin/* "$cuda_home"/nvvm/bin/*
fi
"$cuda_home/bin/nvcc" --version | tail -1

rustup component add clippy >/dev/null 2>&1 || true
# The compute capability of H100/H200; without it the kernels' build asks nvidia-smi.
PATH=$cuda_home/bin:$PATH CUDA_PATH=$cuda_home CUDA_ROOT=$cuda_home CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} \
    cargo clippy --lib --bins --locked --features cuda -- -D warnings
