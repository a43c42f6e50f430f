#!/usr/bin/env bash
# Builds, on a machine without a GPU driver, the `cuda` binaries to run on a
# machine with one: target/cuda/nanscope and target/cuda/nanscope-lib-tests
# (the library's unit tests, for the ignored benchmark `bench_denoising_step`).
#
#   bash scripts/build-cuda.sh [TOOLKIT_VERSION]
#
# The toolkit version (default 13.0) must not be newer than the CUDA version
# the GPU machine's driver reports (nvidia-smi's "CUDA Version"): candle's
# kernels are compiled to PTX, which the driver compiles at load and refuses
# when it comes from a newer toolkit. cudarc 0.19 accepts 11.4 to 13.4.
# The toolkit comes from PyPI (scripts/cuda-toolkit.sh) into
# target/cuda-toolkit-VERSION. On the GPU machine, put the folder holding its
# libcudart, libcublas, libcublasLt, libcurand and libnvrtc of the same major
# version in LD_LIBRARY_PATH (PyTorch's wheels carry them, under
# site-packages/nvidia/cu13/lib for CUDA 13); libcuda.so.1 is the driver's.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-13.0}
source scripts/cuda-toolkit.sh
cuda_home=$(cuda_toolkit "$version" "$PWD/target/cuda-toolkit-$version" --libraries)
"$cuda_home/bin/nvcc" --version | tail -1
export PATH=$cuda_home/bin:$PATH CUDA_PATH=$cuda_home CUDA_ROOT=$cuda_home LIBRARY_PATH=$cuda_home/lib
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
mkdir -p target/cuda
cargo build --release --locked --features cuda --bin nanscope
cp target/release/nanscope target/cuda/nanscope
tests=$(cargo test --release --locked --features cuda --lib --no-run --message-format=json \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["src_path"].endswith("src/lib.rs"):
        print(m["executable"])')
cp "$tests" target/cuda/nanscope-lib-tests
# The plain binary again, so that target/release/nanscope is the CPU build.
cargo build --release --locked --bin nanscope
ls -l target/cuda
